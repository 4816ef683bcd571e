"""Large-signal transfers and distortion against docs/reference/measurement-methods.md §5 and hand results.

The THD and HD figures are computed here from the transfer (sampled over a period, FFT), never copied:
the expected numbers are the reference's, which it computed independently with its own solver.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from models import (
    amplitude_for_thd,
    bjt_input_offset,
    bjt_pair_currents,
    harmonic_analysis,
    mos_input_offset,
    mos_pair_currents,
    mos_square_law_differential_current,
    resistive_outputs,
    tanh_differential_current,
)

I_EE = 100e-6


def _tanh(vt):
    return lambda v: tanh_differential_current(v, I_EE, vt)


def _half_digit(printed: str) -> float:
    """Half a unit in the last digit of a number as printed ("0.31" -> 0.005)."""
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    return 0.5 * 10.0 ** -decimals


@pytest.mark.parametrize("vt, a, hd3, hd5, thd, ratio", [
    (0.02585, 0.010, "0.31", "0.001", "0.31", "0.991"),
    (0.02585, 0.026, "1.98", "0.05", "1.98", "0.942"),
    (0.02585, 0.050, "6.33", "0.50", "6.35", "0.821"),
    (0.02600, 0.050, "6.27", "0.49", "6.29", "0.823"),
    (0.02600, 0.100, "16.2", "3.5", "16.6", "0.575"),
])
def test_bjt_tanh_distortion_table(vt, a, hd3, hd5, thd, ratio):
    """§5 table (percent, compared to half a unit in the last printed digit): HD3, HD5, THD and fundamental
    gain / small-signal of I_EE tanh(v/(2 V_T))."""
    d = harmonic_analysis(_tanh(vt), [a])
    for value, printed in ((100 * d.hd(3)[0], hd3), (100 * d.hd(5)[0], hd5), (100 * d.thd[0], thd),
                           (d.gain_ratio[0], ratio)):
        assert value == pytest.approx(float(printed), abs=_half_digit(printed)), printed
    assert np.max(np.abs(d.harmonics[0, 2::2])) < 1e-15 * I_EE  # odd harmonics only


def test_bjt_thd_at_50_mv_and_the_five_percent_point():
    """§5: THD = 6.33 % (HD3) / 6.35 % at 50 mV with V_T = 25.85 mV, so the source text's "about 5 %" is low;
    5 % is reached at 43.4 mV (43.6 mV at V_T = 26 mV); 1.8 % at 25 mV; 10.8 % at 50 mV rms."""
    tr = _tanh(0.02585)
    d = harmonic_analysis(tr, [0.025, 0.05, 0.05 * math.sqrt(2)])
    assert 100 * d.hd(3)[1] == pytest.approx(6.33, abs=0.005)
    assert 100 * d.thd[1] == pytest.approx(6.35, abs=0.005)
    assert 100 * d.thd[0] == pytest.approx(1.8, abs=0.05)
    assert 100 * d.thd[2] == pytest.approx(10.8, abs=0.05)
    assert amplitude_for_thd(tr, 0.05, 0.02, 0.08) == pytest.approx(0.0434, abs=5e-5)
    assert amplitude_for_thd(_tanh(0.026), 0.05, 0.02, 0.08) == pytest.approx(0.0436, abs=5e-5)


def test_bjt_small_amplitude_hd3_series():
    """§5: HD3 ~ (v/V_T)^2/48 is accurate below about 20 mV (within 2 % of itself at 5 mV) and
    overestimates at 50 mV (7.8 % against 6.33 %)."""
    vt = 0.02585
    d = harmonic_analysis(_tanh(vt), [0.005, 0.05])
    series = (np.array([0.005, 0.05]) / vt) ** 2 / 48
    assert d.hd(3)[0] == pytest.approx(series[0], rel=0.02)
    assert 100 * series[1] == pytest.approx(7.8, abs=0.05)
    assert d.hd(3)[1] < series[1]


def test_degenerated_bjt_distortion():
    """§5, R_E = 2 k per side, 50 uA per side (r_e = 520 Ohm at 26 mV), R_C = 40 k, solved exactly:
    THD = HD3 = 0.069 % at 50 mV (the text's "< 0.1 %"), large-signal fundamental gain 15.84; THD 0.0027 % at
    10 mV, 0.30 % at 100 mV, 1.6 % at 200 mV (gain 15.22); feedback estimate (v/V_T)^2/48/(1 + g_m R_E)^3 =
    0.068 % (1 + g_m R_E = 4.85)."""
    vt = 0.026

    def vod(v):
        i1, i2 = bjt_pair_currents(v, I_EE, vt, r_degen=2e3)
        o1, o2 = resistive_outputs(i1, i2, 40e3, 40e3, 5.0)
        return o1 - o2

    d = harmonic_analysis(vod, [0.01, 0.05, 0.1, 0.2])
    np.testing.assert_allclose(100 * d.thd, [0.0027, 0.069, 0.30, 1.6], rtol=0.02, atol=0)
    assert 100 * d.hd(3)[1] == pytest.approx(0.069, abs=5e-4)
    assert d.fundamental_gain[1] == pytest.approx(15.84, abs=0.005)
    assert d.fundamental_gain[3] == pytest.approx(15.22, abs=0.005)
    assert 100 * d.thd[1] < 0.1
    assert abs(d.slope) == pytest.approx(40e3 / (vt / 50e-6 + 2e3), rel=1e-8)  # R_C/(r_e + R_E) = 15.87
    feedback = 100 * (0.05 / vt) ** 2 / 48 / (1 + 2e3 * 50e-6 / vt) ** 3
    assert feedback == pytest.approx(0.068, abs=0.0005)


def test_degenerated_transfer_satisfies_its_equation():
    """The Newton solve satisfies v_id = V_T ln(I_1/I_2) + R_E (I_1 - I_2) to rounding, out to where the
    smaller current is 1e-7 of the larger (beyond, I_2 = (I_EE - Delta I)/2 itself loses digits), and
    steers the whole tail current far beyond."""
    v = np.linspace(-0.5, 0.5, 41)
    i1, i2 = bjt_pair_currents(v, I_EE, 0.026, r_degen=2e3)
    resid = 0.026 * np.log(i1 / i2) + 2e3 * (i1 - i2) - v
    assert np.max(np.abs(resid)) < 1e-10
    np.testing.assert_allclose(i1 + i2, I_EE, rtol=1e-15)
    i1, i2 = bjt_pair_currents(np.array([-5.0, 5.0]), I_EE, 0.026, r_degen=2e3)
    np.testing.assert_allclose(i1, [0.0, I_EE], atol=1e-12 * I_EE)


def test_mos_square_law_hd3_table():
    """§5: HD3 of the square-law pair at v/V_ov = 0.1, 0.2, 0.3, 0.5, 1.0 is 0.031, 0.126, 0.286, 0.82, 3.8 %;
    the series (v/V_ov)^2/32 gives 0.031, 0.125, 0.281, 0.78, 3.1 %."""
    vov = math.sqrt(I_EE / 1e-3)
    x = np.array([0.1, 0.2, 0.3, 0.5, 1.0])
    d = harmonic_analysis(lambda v: mos_square_law_differential_current(v, I_EE, vov), x * vov)
    for value, printed in zip(100 * d.hd(3), ("0.031", "0.126", "0.286", "0.82", "3.8")):
        assert value == pytest.approx(float(printed), abs=_half_digit(printed)), printed
    for value, printed in zip(100 * x**2 / 32, ("0.031", "0.125", "0.281", "0.78", "3.1")):
        assert value == pytest.approx(float(printed), abs=_half_digit(printed)), printed


def test_mos_square_law_forms_agree_and_clamp():
    """The §5 sqrt form, the kp form ``(kp/2) v sqrt(4 I/kp - v^2)`` and the general solver are one transfer;
    beyond sqrt(2) V_ov one device carries all of I_SS."""
    kp, vov = 1e-3, math.sqrt(I_EE / 1e-3)
    v = np.linspace(-0.9 * math.sqrt(2) * vov, 0.9 * math.sqrt(2) * vov, 51)
    d_sqrt = mos_square_law_differential_current(v, I_EE, vov)
    d_kp = 0.5 * kp * v * np.sqrt(4 * I_EE / kp - v**2)
    i1, i2 = mos_pair_currents(v, I_EE, kp)
    np.testing.assert_allclose(d_sqrt, d_kp, rtol=1e-12, atol=1e-20)
    np.testing.assert_allclose(i1 - i2, d_kp, rtol=1e-10, atol=1e-18)
    i1, i2 = mos_pair_currents(np.array([-1.0, 1.0]), I_EE, kp)
    np.testing.assert_array_equal(i1, [0.0, I_EE])
    assert float(mos_square_law_differential_current(1.0, I_EE, vov)) == I_EE
    # the degenerated solver (bisection) tends to the closed form as R_S -> 0
    j1, _ = mos_pair_currents(v, I_EE, kp, r_degen=1e-9)
    np.testing.assert_allclose(j1, 0.5 * (I_EE + d_kp), rtol=1e-9)


def test_mos_degenerated_small_signal_slope():
    """Source degeneration: the pair's transconductance becomes g_m/(1 + g_m R_S) (Razavi §4.3)."""
    kp, r_s = 1e-3, 2e3
    gm = math.sqrt(2 * kp * I_EE / 2)
    d = harmonic_analysis(lambda v: np.subtract(*mos_pair_currents(v, I_EE, kp, r_degen=r_s)), [1e-3])
    assert d.slope == pytest.approx(gm / (1 + gm * r_s), rel=1e-6)


def test_bjt_offset_from_mismatch():
    """Gray-Meyer §3.5.6: V_os ~ V_T (Delta R/R + Delta I_S/I_S) to first order; the closed form is exact:
    the DC transfer's vod vanishes there."""
    vt, d_r, d_is = 0.026, 0.01, 0.02
    r1, r2 = 40e3 * (1 - d_r / 2), 40e3 * (1 + d_r / 2)
    is1, is2 = 1 - d_is / 2, 1 + d_is / 2
    vos = bjt_input_offset(vt, r1, r2, i_s1=is1, i_s2=is2)
    assert vos == pytest.approx(vt * (d_r + d_is), rel=1e-3)  # second-order terms ~ d^2/12
    i1, i2 = bjt_pair_currents(np.array([vos]), I_EE, vt, i_s1=is1, i_s2=is2)
    o1, o2 = resistive_outputs(i1, i2, r1, r2, 5.0)
    assert abs(float(o1[0] - o2[0])) < 1e-12
    # with degeneration the resistor drop adds R_E I (R2 - R1)/(R1 + R2)
    vos_d = bjt_input_offset(vt, r1, r2, i_s1=is1, i_s2=is2, r_degen=2e3, i_tail=I_EE)
    i1, i2 = bjt_pair_currents(np.array([vos_d]), I_EE, vt, r_degen=2e3, i_s1=is1, i_s2=is2)
    o1, o2 = resistive_outputs(i1, i2, r1, r2, 5.0)
    assert abs(float(o1[0] - o2[0])) < 1e-11
    assert vos_d - vos == pytest.approx(2e3 * I_EE * d_r / 2, rel=1e-12)


def test_mos_offset_from_mismatch():
    """Razavi §14.2: V_os ~ -Delta V_th + (V_ov/2)(Delta R/R + Delta kp/kp) to first order (Delta X = X2 - X1);
    exactly, the DC transfer's vod vanishes at the closed-form offset."""
    kp, d_r, d_kp, d_vth = 1e-3, 0.01, 0.02, 0.003
    r1, r2 = 20e3 * (1 - d_r / 2), 20e3 * (1 + d_r / 2)
    kp1, kp2 = kp * (1 - d_kp / 2), kp * (1 + d_kp / 2)
    vth1, vth2 = 0.7 - d_vth / 2, 0.7 + d_vth / 2
    vov = math.sqrt(I_EE / kp)
    vos = mos_input_offset(I_EE, kp1, kp2, r1, r2, vth1=vth1, vth2=vth2)
    assert vos == pytest.approx(-d_vth + vov / 2 * (d_r + d_kp), abs=2e-6)
    i1, i2 = mos_pair_currents(np.array([vos]), I_EE, kp1, kp2, vth1=vth1, vth2=vth2)
    o1, o2 = resistive_outputs(i1, i2, r1, r2, 5.0)
    assert abs(float(o1[0] - o2[0])) < 1e-12


def test_device_mismatch_adds_even_harmonics():
    """An offset makes the transfer asymmetric about v_id = 0: HD2 appears (and vanishes when matched)."""
    vt = 0.026
    matched = harmonic_analysis(lambda v: np.subtract(*bjt_pair_currents(v, I_EE, vt)), [0.02])
    skewed = harmonic_analysis(lambda v: np.subtract(*bjt_pair_currents(v, I_EE, vt, i_s1=0.99, i_s2=1.01)), [0.02])
    assert matched.hd(2)[0] < 1e-12
    assert skewed.hd(2)[0] > 1e-4


def test_harmonic_analysis_of_a_known_polynomial():
    """y = v + 0.1 v^3 with v = A cos: Y1 = A + 0.075 A^3, Y3 = 0.025 A^3 (cos^3 = (3 cos + cos 3)/4)."""
    d = harmonic_analysis(lambda v: v + 0.1 * v**3, [1.0, 2.0], n_samples=64, n_harmonics=5)
    a = np.array([1.0, 2.0])
    np.testing.assert_allclose(d.fundamental, a + 0.075 * a**3, rtol=1e-13)
    np.testing.assert_allclose(d.hd(3), 0.025 * a**3 / (a + 0.075 * a**3), rtol=1e-12)
    assert d.slope == pytest.approx(1.0, rel=1e-8)  # central difference, step 1e-4 A: error 0.1 h^2
    with pytest.raises(ValueError):
        harmonic_analysis(lambda v: v, [0.0])
