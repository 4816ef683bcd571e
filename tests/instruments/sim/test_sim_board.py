"""The simulated board (instruments.sim.board) against hand computations from the textbook device
equations and half-circuit formulas (docs/reference/measurement-methods.md sections 5 and 6), never against
the engine's own numbers."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import brentq

from instruments.board_config import BoardConfig, load_board
from instruments.sim.board import Drive, SimBoard
from instruments.sim.steady_state import SteadyState

BOARDS = Path(__file__).resolve().parents[3] / "configs" / "boards"


def _cfg(name: str) -> BoardConfig:
    return load_board(BOARDS / f"{name}.toml")


_BOARDS: dict[str, SimBoard] = {}


def _board(name: str) -> SimBoard:
    if name not in _BOARDS:
        _BOARDS[name] = SimBoard.from_config(_cfg(name))
    return _BOARDS[name]


def _matched(cfg: BoardConfig) -> BoardConfig:
    return dataclasses.replace(cfg, mismatch_load_r=0.0, mismatch_device=0.0, mismatch_load_c=0.0,
                               mismatch_vth_v=0.0, mismatch_beta=0.0)


def _split(x: float, d: float) -> tuple[float, float]:
    return x * (1 - d / 2), x * (1 + d / 2)


def _parallel(*r: float) -> float:
    return 1.0 / sum(1.0 / x for x in r)


def _hand_bjt_pair(cfg: BoardConfig, vc_fixed: tuple[float, float] | None = None
                   ) -> tuple[float, list[tuple[float, float, float]]]:
    """Both bases held at bias_v. Forward-active Ebers-Moll with Early effect, per side:
    I_C = I_S exp(V_BE/V_T)(1 + V_CB/V_A), I_B = (I_S/beta) exp(V_BE/V_T), V_BE = V_B - V_tail - R_E I_E,
    V_C = V_ret - R_C I_C (or fixed); tail KCL I_E1 + I_E2 = I_EE + (V_tail - V_EE)/R_EE.
    Returns (V_tail, [(I_C, I_E, V_C) per side])."""
    vt, dev, vb, re = cfg.vt_v, cfg.device, cfg.bias_v, cfg.degeneration_r_ohm
    i_s = _split(dev.is_a, cfg.mismatch_device)
    beta = _split(dev.beta, cfg.mismatch_beta)
    rc = _split(cfg.load_r_ohm, cfg.mismatch_load_r)

    def side(k: int, vtail: float) -> tuple[float, float, float]:
        def vc(ic: float) -> float:
            return vc_fixed[k] if vc_fixed else cfg.load_return_v - rc[k] * ic

        def resid(ic: float) -> float:
            q = 1 + (vc(ic) - vb) / dev.early_v
            return ic - i_s[k] * q * math.exp((vb - vtail - re * ic * (1 + 1 / (beta[k] * q))) / vt)

        ic = brentq(resid, 1e-20, 10.0, xtol=1e-20, rtol=1e-14)
        q = 1 + (vc(ic) - vb) / dev.early_v
        return ic, ic * (1 + 1 / (beta[k] * q)), vc(ic)

    def kcl(vtail: float) -> float:
        return side(0, vtail)[1] + side(1, vtail)[1] - cfg.tail_current_a - (vtail - cfg.vee_v) / cfg.tail_r_ohm

    vtail = brentq(kcl, vb - 0.8, vb - 0.4, xtol=1e-15)
    return vtail, [side(0, vtail), side(1, vtail)]


def _hand_mos_pair(cfg: BoardConfig) -> tuple[float, list[tuple[float, float]]]:
    """Square law with lambda (Razavi ch. 2): I_D = kp/2 (V_GS - V_th)^2 (1 + lambda V_DS), gates at bias_v,
    V_D = V_ret - R_D I_D; tail KCL. Returns (V_tail, [(I_D, V_D) per side])."""
    dev, vg = cfg.device, cfg.bias_v
    kp = _split(dev.kp_a_per_v2, cfg.mismatch_device)
    vth = (dev.vth_v - cfg.mismatch_vth_v / 2, dev.vth_v + cfg.mismatch_vth_v / 2)
    rd = _split(cfg.load_r_ohm, cfg.mismatch_load_r)

    def side(k: int, vtail: float) -> tuple[float, float]:
        def resid(i: float) -> float:
            vd = cfg.load_return_v - rd[k] * i
            return i - kp[k] / 2 * (vg - vtail - vth[k]) ** 2 * (1 + dev.lambda_per_v * (vd - vtail))

        i = brentq(resid, 0.0, 1e-3, xtol=1e-20, rtol=1e-14)
        return i, cfg.load_return_v - rd[k] * i

    def kcl(vtail: float) -> float:
        return side(0, vtail)[0] + side(1, vtail)[0] - cfg.tail_current_a - (vtail - cfg.vee_v) / cfg.tail_r_ohm

    vtail = brentq(kcl, cfg.vee_v + 0.01, vg - dev.vth_v - 1e-6, xtol=1e-15)
    return vtail, [side(0, vtail), side(1, vtail)]


def _mixed(S: np.ndarray) -> dict[str, complex]:
    add, acd, adc, acc = S[..., 0, 0], S[..., 0, 1], S[..., 1, 0], S[..., 1, 1]
    return {"Add": add, "Acd": acd, "Adc": adc, "Acc": acc, "Ad_se1": add / 2 + adc, "Acm_se1": acc + acd / 2,
            "Ad_se2": -add / 2 + adc, "Acm_se2": acc - acd / 2}


def _dm(cfg: BoardConfig, vpk: float, r: float = 50.0) -> list[Drive]:
    return [Drive(cfg.bias_v, vpk / 2, r), Drive(cfg.bias_v, -vpk / 2, r)]


def _thd(c: np.ndarray) -> float:
    return float(np.sqrt(np.sum(np.abs(c[2:]) ** 2)) / np.abs(c[1]))


# ---------------------------------------------------------------------------------------------------
# DC operating point


def test_operating_point_bjt_source_text_kcl_and_hand_solution() -> None:
    cfg = _cfg("bjt-source-text")
    op = _board("bjt-source-text").operating_point(pins_driven=False)  # generator off: pins on the bias network
    i_s1, i_s2 = _split(cfg.device.is_a, cfg.mismatch_device)
    r1, r2 = _split(cfg.load_r_ohm, cfg.mismatch_load_r)
    # KCL by hand at the pins, the collectors and the tail
    assert (cfg.bias_v - op["in1"]) / cfg.bias_r_ohm == pytest.approx(op["Q1.ib"], rel=1e-5)
    assert (cfg.bias_v - op["in2"]) / cfg.bias_r_ohm == pytest.approx(op["Q2.ib"], rel=1e-5)
    assert (cfg.vcc_v - op["out1"]) / r1 == pytest.approx(op["Q1.ic"], rel=1e-6)
    assert (cfg.vcc_v - op["out2"]) / r2 == pytest.approx(op["Q2.ic"], rel=1e-6)
    i_tail = cfg.tail_current_a + (op["tail"] - cfg.vee_v) / cfg.tail_r_ohm
    assert op["Q1.ie"] + op["Q2.ie"] == pytest.approx(i_tail, rel=1e-6)
    # the device law: V_BE = V_T ln(I_C / (I_S (1 - V_BC/V_A)))
    for q, i_s in (("Q1", i_s1), ("Q2", i_s2)):
        q_early = 1 - op[f"{q}.vbc"] / cfg.device.early_v
        assert op[f"{q}.vbe"] == pytest.approx(cfg.vt_v * math.log(op[f"{q}.ic"] / (i_s * q_early)), abs=1e-6)
    # each collector ~ alpha * I_tail/2, split by the I_S mismatch; collectors near 5 - 40k * 50 uA = 3 V
    alpha = cfg.device.beta / (cfg.device.beta + 1)
    assert op["Q1.ic"] + op["Q2.ic"] == pytest.approx(alpha * i_tail, rel=2e-3)
    assert op["Q2.ic"] / op["Q1.ic"] == pytest.approx(i_s2 / i_s1, rel=2e-3)
    assert 50e-6 < op["Q1.ic"] < 51e-6 and op["tail.i_a"] == pytest.approx(101.36e-6, rel=1e-3)
    assert op["out1"] == pytest.approx(3.0, abs=0.05) and op["out2"] == pytest.approx(3.0, abs=0.05)


@pytest.mark.parametrize("name", ["bjt-source-text", "bjt-degenerated"])
def test_operating_point_matches_hand_solution_with_pins_held(name: str) -> None:
    cfg = _cfg(name)
    op = _board(name).operating_point()
    vtail, sides = _hand_bjt_pair(cfg)
    assert op["in1"] == pytest.approx(cfg.bias_v, abs=1e-12)
    assert op["tail"] == pytest.approx(vtail, abs=1e-6)
    for k, (ic, _ie, vc) in enumerate(sides, start=1):
        assert op[f"Q{k}.ic"] == pytest.approx(ic, rel=1e-5)
        assert op[f"out{k}"] == pytest.approx(vc, abs=1e-5)


# ---------------------------------------------------------------------------------------------------
# Small-signal truth


def test_truth_differential_gain_bjt_source_text() -> None:
    """Add = -g_m (R_C || r_o) per side (methods section 6; g_m = I_C/V_T = alpha/r_e, r_o = (V_A + V_CB)/I_C),
    near the textbook 77 (which ignores r_o and alpha)."""
    cfg = _cfg("bjt-source-text")
    _, sides = _hand_bjt_pair(cfg)
    rc = _split(cfg.load_r_ohm, cfg.mismatch_load_r)
    gz = [ic / cfg.vt_v * _parallel(rc[k], (cfg.device.early_v + vc - cfg.bias_v) / ic)
          for k, (ic, _, vc) in enumerate(sides)]
    add = _mixed(_board("bjt-source-text").small_signal_s(100.0))["Add"]
    assert add.real == pytest.approx(-(gz[0] + gz[1]) / 2, rel=2e-3)
    assert abs(add.imag) < 1e-3 * abs(add)
    assert 70 < abs(add) < 78  # textbook (40k + 40k)/(520 + 520) = 77 without r_o and alpha


def test_truth_differential_gain_bjt_degenerated() -> None:
    """Add = -alpha R_C / (r_e + R_E) (methods section 6), r_o boosted by degeneration to r_o (1 + g_m R_E)."""
    cfg = _cfg("bjt-degenerated")
    _, sides = _hand_bjt_pair(cfg)
    rc = _split(cfg.load_r_ohm, cfg.mismatch_load_r)
    beta = _split(cfg.device.beta, cfg.mismatch_beta)
    re = cfg.degeneration_r_ohm
    terms = []
    for k, (ic, ie, vc) in enumerate(sides):
        q = 1 + (vc - cfg.bias_v) / cfg.device.early_v
        alpha = beta[k] * q / (beta[k] * q + 1)
        gm = ic / cfg.vt_v
        r_out = (cfg.device.early_v + vc - cfg.bias_v) / ic * (1 + gm * re)
        terms.append(alpha / (cfg.vt_v / ie + re) * _parallel(rc[k], r_out))
    add = _mixed(_board("bjt-degenerated").small_signal_s(100.0))["Add"]
    assert add.real == pytest.approx(-(terms[0] + terms[1]) / 2, rel=2e-3)
    assert 15.0 < abs(add) < 16.0  # source text: "less than 16"


def test_truth_cmrr_and_tail_zero_bjt_source_text() -> None:
    """CMRR_se = g_m (2 R_EE + r_e) / (2 alpha) ~ g_m R_EE (methods section 6); with the tail capacitor
    1/CMRR_se ~ (1 + s R_EE C_T)(1 + 2 g_m R_EE)/(1 + 2 g_m R_EE + s R_EE C_T): a zero at
    f_z = 1/(2 pi R_EE C_T) = 32 kHz, then +20 dB/decade. The load pole (398 kHz) cancels in the ratio."""
    cfg = _cfg("bjt-source-text")
    _, sides = _hand_bjt_pair(cfg)
    ic, ie = sides[0][0], sides[0][1]
    gm, re = ic / cfg.vt_v, cfg.vt_v / ie
    alpha = ic / ie
    r, c = cfg.tail_r_ohm, cfg.tail_c_f
    cmrr_hand = gm * (2 * r + re) / (2 * alpha)
    f_z = 1 / (2 * np.pi * r * c)
    f = np.array([100.0, f_z, 3 * f_z, 10 * f_z, 30 * f_z])
    m = _mixed(_board("bjt-source-text").small_signal_s(f))
    inv_cmrr = np.abs(m["Acm_se1"] / m["Ad_se1"])
    assert 1 / inv_cmrr[0] == pytest.approx(cmrr_hand, rel=0.02)
    assert 20 * np.log10(1 / inv_cmrr[0]) == pytest.approx(65.8, abs=0.3)
    s = 2j * np.pi * f * r * c
    shape = np.abs((1 + s) * (1 + 2 * gm * r) / (1 + 2 * gm * r + s))
    np.testing.assert_allclose(inv_cmrr / inv_cmrr[0], shape / shape[0], rtol=0.02)
    slope = 20 * np.log10(inv_cmrr[4] / inv_cmrr[2]) / np.log10(30 / 3)
    assert 18.5 < slope < 20.5
    # |Acc| itself rises through f_z too (the load pole 1/(2 pi R_C C_L) divided out)
    rc_eff = _parallel(cfg.load_r_ohm, (cfg.device.early_v + 1.0) / ic)
    acc = np.abs(m["Acc"] * (1 + 2j * np.pi * f * rc_eff * cfg.load_c_f))
    assert acc[3] / acc[0] == pytest.approx(shape[3] / shape[0], rel=0.03)


def test_truth_mode_conversion_comes_from_mismatch() -> None:
    cfg = _cfg("bjt-source-text")
    m = _mixed(SimBoard(_matched(cfg)).small_signal_s(1e3))
    assert abs(m["Acd"]) < 1e-10 * abs(m["Add"]) and abs(m["Adc"]) < 1e-10 * abs(m["Add"])
    m2 = _mixed(_board("bjt-source-text").small_signal_s(1e3))
    assert 100 < 20 * np.log10(abs(m2["Add"] / m2["Acd"])) < 115


@pytest.mark.parametrize("name, knob, value, freq_hz", [
    ("bjt-source-text", "mismatch_load_r", 0.01, 100.0),
    ("bjt-source-text", "mismatch_device", 0.01, 100.0),
    ("bjt-source-text", "mismatch_load_c", 0.1, 1e3),
    ("bjt-source-text", "mismatch_load_c", 0.1, 1e5),
    ("mos-resistive", "mismatch_vth_v", 0.005, 100.0),
])
def test_truth_mode_conversion_matches_half_circuit(name: str, knob: str, value: float, freq_hz: float) -> None:
    """One mismatch at a time, CM in -> DM out, against a hand-built hybrid-pi half-circuit pair (g_m, r_o and
    base current per side from the hand operating point, loads R_k || C_k, tail R_SS || C_T) solved for
    (vo1, vo2, v_tail) with both inputs at 1 V. The textbook form (methods section 6, with the config's
    sign Delta X = X2 - X1) is Acd ~ (g_2 Z_2 - g_1 Z_1)/(1 + 2 g_m Z_SS); here r_o matters: for the MOS
    pair the r_o currents nearly cancel the Vth-mismatch term (for a BJT pair they cancel exactly)."""
    cfg = dataclasses.replace(_matched(_cfg(name)), **{knob: value})
    s = 2j * np.pi * freq_hz
    rl = _split(cfg.load_r_ohm, cfg.mismatch_load_r)
    cl = _split(cfg.load_c_f, cfg.mismatch_load_c)
    if cfg.is_bjt:
        vtail, sides = _hand_bjt_pair(cfg)
        g = [ic / cfg.vt_v for ic, _, _ in sides]
        ro = [(cfg.device.early_v + vc - cfg.bias_v) / ic for ic, _, vc in sides]
        ib_frac = [(ie - ic) / ic for ic, ie, _ in sides]  # 1/beta_eff
    else:
        vtail, mos = _hand_mos_pair(cfg)
        kp, lam = cfg.device.kp_a_per_v2, cfg.device.lambda_per_v
        g = [math.sqrt(2 * kp * i * (1 + lam * (vd - vtail))) for i, vd in mos]
        ro = [(1 + lam * (vd - vtail)) / (lam * i) for i, vd in mos]
        ib_frac = [0.0, 0.0]
    # unknowns (vo1, vo2, vt); channel current i_k = g_k (v_in - vt) + (vo_k - vt)/r_ok
    A = np.zeros((3, 3), dtype=complex)
    rhs = np.zeros(3, dtype=complex)
    for k in (0, 1):
        A[k, k] = 1 / rl[k] + s * cl[k] + 1 / ro[k]
        A[k, 2] = -(g[k] + 1 / ro[k])
        rhs[k] = -g[k]
        A[2, k] = 1 / ro[k]
        A[2, 2] -= g[k] * (1 + ib_frac[k]) + 1 / ro[k]
        rhs[2] -= g[k] * (1 + ib_frac[k])
    A[2, 2] -= 1 / cfg.tail_r_ohm + s * cfg.tail_c_f
    vo = np.linalg.solve(A, rhs)
    acd_hand = vo[0] - vo[1]
    acd = _mixed(SimBoard(cfg).small_signal_s(freq_hz))["Acd"]
    assert abs(acd - acd_hand) < 0.02 * abs(acd_hand)
    if knob != "mismatch_vth_v":
        z = [_parallel(rl[k], ro[k]) / (1 + s * _parallel(rl[k], ro[k]) * cl[k]) for k in (0, 1)]
        z_ss = cfg.tail_r_ohm / (1 + s * cfg.tail_r_ohm * cfg.tail_c_f)
        textbook = (g[1] * z[1] - g[0] * z[0]) / (1 + (g[0] + g[1]) * z_ss)
        assert abs(acd - textbook) < 0.03 * abs(textbook)


def test_truth_h_and_s_follow_the_mixed_mode_conventions() -> None:
    """vid = v1 - v2, vic = (v1 + v2)/2, vod = vo1 - vo2, voc = (vo1 + vo2)/2: a pure DM input
    (v1, v2) = (1/2, -1/2) gives vod = Add and voc = Adc; a pure CM input (1, 1) gives vod = Acd, voc = Acc."""
    b = _board("bjt-source-text")
    f = np.array([[10.0, 1e3], [1e5, 1e7]])
    H, S = b.small_signal_h(f), b.small_signal_s(f)
    assert H.shape == S.shape == (2, 2, 2, 2)
    for v_in, col in (((0.5, -0.5), 0), ((1.0, 1.0), 1)):
        vo = H @ np.array(v_in)
        np.testing.assert_allclose(vo[..., 0] - vo[..., 1], S[..., 0, col], rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose((vo[..., 0] + vo[..., 1]) / 2, S[..., 1, col], rtol=1e-9, atol=1e-15)
    assert b.small_signal_s(1e3).shape == (2, 2)


def test_truth_mos_resistive() -> None:
    """Add = -g_m (R_D || r_o), g_m = sqrt(2 kp I_D (1 + lambda V_DS)), r_o = (1 + lambda V_DS)/(lambda I_D)."""
    cfg = _cfg("mos-resistive")
    b = _board("mos-resistive")
    vtail, sides = _hand_mos_pair(cfg)
    op = b.operating_point()
    assert op["tail"] == pytest.approx(vtail, abs=1e-6)
    kp = _split(cfg.device.kp_a_per_v2, cfg.mismatch_device)
    rd = _split(cfg.load_r_ohm, cfg.mismatch_load_r)
    lam = cfg.device.lambda_per_v
    gz = []
    for k, (i_d, vd) in enumerate(sides):
        clm = 1 + lam * (vd - vtail)
        gz.append(math.sqrt(2 * kp[k] * i_d * clm) * _parallel(rd[k], clm / (lam * i_d)))
        assert op[f"M{k + 1}.id"] == pytest.approx(i_d, rel=1e-6)
    m = _mixed(b.small_signal_s(100.0))
    assert m["Add"].real == pytest.approx(-(gz[0] + gz[1]) / 2, rel=2e-3)
    # the header's numbers: g_m ~ 0.32 mS at 50 uA, so |Add| ~ 0.32 mS * 20k
    assert 6.0 < abs(m["Add"]) < 6.7
    # CMRR_se ~ (1 + 2 g_m R_SS)/2 (methods section 6), within r_o effects
    gm = math.sqrt(2 * kp[0] * sides[0][0] * (1 + lam * (sides[0][1] - vtail)))
    assert abs(m["Ad_se1"] / m["Acm_se1"]) == pytest.approx((1 + 2 * gm * cfg.tail_r_ohm) / 2, rel=0.05)


def test_truth_active_load() -> None:
    """5-transistor OTA, single-ended output vo2: |Ad_se2| ~ G_m (r_o2 || r_o4 || R1) with
    G_m = g_m (1 + m)/2, m = 1/(1 + 2/beta_p) the mirror ratio (methods section 6, Gray-Meyer ch. 4)."""
    cfg = _cfg("bjt-active-load")
    b = _board("bjt-active-load")
    mirror = cfg.mirror
    assert mirror is not None
    v_out2 = cfg.load_return_v  # the mirror and Q2 currents nearly cancel, so R1 sets out2
    v_mirror = cfg.vcc_v - 0.64
    for _ in range(3):
        _, sides = _hand_bjt_pair(cfg, vc_fixed=(v_mirror, v_out2))
        i_c3 = sides[0][0] / (1 + 2 / mirror.beta)
        v_mirror = cfg.vcc_v - cfg.vt_v * math.log(i_c3 / mirror.is_a)
    op = b.operating_point()
    assert op["out1"] == pytest.approx(v_mirror, abs=2e-3)
    assert abs(op["out2"] - v_out2) < 0.3
    ic = (sides[0][0] + sides[1][0]) / 2
    gm = ic / cfg.vt_v
    ro2 = (cfg.device.early_v + v_out2 - cfg.bias_v) / sides[1][0]
    ro4 = (mirror.early_v + v_mirror - v_out2) / i_c3
    gain = gm * (1 + 1 / (1 + 2 / mirror.beta)) / 2 * _parallel(ro2, ro4, cfg.load_r_ohm)
    m = _mixed(b.small_signal_s(10.0))
    assert m["Ad_se2"].real == pytest.approx(gain, rel=0.02)
    assert abs(m["Ad_se1"]) < 0.01 * abs(m["Ad_se2"])  # vo1 is the low-impedance diode node


def test_truth_cascode_removes_r_o_loading() -> None:
    """With a cascode the pair's r_o no longer loads R_C: Add = -alpha_cascode g_m R_C."""
    cfg = dataclasses.replace(_cfg("bjt-source-text"), cascode=True, cascode_bias_v=2.8)
    b = SimBoard(cfg)
    op = b.operating_point()
    v_c = cfg.cascode_bias_v - op["Q5.vbe"]
    _, sides = _hand_bjt_pair(cfg, vc_fixed=(v_c, v_c))
    rc = _split(cfg.load_r_ohm, cfg.mismatch_load_r)
    beta = cfg.device.beta
    terms = []
    for k, (ic, _, _) in enumerate(sides):
        q = 1 - op[f"Q{k + 5}.vbc"] / cfg.device.early_v
        terms.append(beta * q / (beta * q + 1) * ic / cfg.vt_v * rc[k])
    add = _mixed(b.small_signal_s(100.0))["Add"]
    assert add.real == pytest.approx(-(terms[0] + terms[1]) / 2, rel=2e-3)
    plain = _mixed(_board("bjt-source-text").small_signal_s(100.0))["Add"]
    assert abs(add) > abs(plain)


# ---------------------------------------------------------------------------------------------------
# Large signal: harmonic balance


@pytest.mark.parametrize("freq_hz", [1.0, 1e3, 1e8])
def test_hb_fundamental_matches_ac_truth(freq_hz: float) -> None:
    """Two small excitations (10 uV, both pins driven at the bias through 50 Ohm) -> H = Y X^-1 from the
    HB phasors at the pins and outputs; equals the AC linearisation to ~1e-7 (third-order terms)."""
    cfg = _cfg("bjt-source-text")
    b = SimBoard(cfg)
    e = 1e-5
    X, Y = [], []
    for drives in (_dm(cfg, e), [Drive(cfg.bias_v, 0.7j * e), Drive(cfg.bias_v, 0.0)]):
        ss = b.steady_state(freq_hz, drives, (0, 1), n_harmonics=8)
        X.append([ss.harmonics("in1")[1], ss.harmonics("in2")[1]])
        Y.append([ss.harmonics("out1")[1], ss.harmonics("out2")[1]])
    H = np.array(Y).T @ np.linalg.inv(np.array(X).T)
    truth = b.small_signal_h(freq_hz, source_r_ohm=50.0)
    np.testing.assert_allclose(H, truth, atol=1e-6 * np.abs(truth).max())
    # the DM drive loses 50 Ohm against R_B || r_pi per pin (the emitters are an AC ground)
    _, sides = _hand_bjt_pair(cfg)
    z = _parallel(cfg.bias_r_ohm, (cfg.device.beta + 1) * cfg.vt_v / sides[0][1])
    assert abs(X[0][0] - X[0][1]) == pytest.approx(e * z / (z + 50.0), rel=1e-3)


def test_hb_dc_only_equals_operating_point() -> None:
    cfg = _cfg("bjt-source-text")
    b = _board("bjt-source-text")
    ss = b.steady_state(0.0, _dm(cfg, 0.1), (0, 1), n_harmonics=4)
    op = b.operating_point(source_r_ohm=50.0)
    for node in ("in1", "in2", "out1", "out2", "tail"):
        c = ss.harmonics(node)
        assert c[0] == pytest.approx(op[node], abs=1e-12)
        assert np.all(c[1:] == 0)
    np.testing.assert_array_equal(ss.evaluate("out1", np.array([0.0, 1e-3])), op["out1"])


def test_hb_thd_undegenerated_pair_at_50mv() -> None:
    """Ideal pair: Delta I = I_EE tanh(v_id / 2 V_T) gives THD 6.35 % at 50 mV peak and V_T = 25.86 mV
    (methods section 5). The board is not ideal, and each difference was measured by removing it:
    the 1 MOhm tail (its current follows the tail node at 2f, +0.14 %), the Early effect (-0.28 %), base
    current through the 50 Ohm / 10 kOhm source (-0.12 %), mismatch (+0.01 %), and the onset of saturation
    of the on transistor at the peak (collector 40k * 87 uA below 5 V, V_BC = +0.5 V: +0.13 %): 6.23 %."""
    cfg = _cfg("bjt-source-text")
    ss = _board("bjt-source-text").steady_state(1e3, _dm(cfg, 0.05), (0, 1), n_harmonics=32)
    thd = _thd(ss.harmonics("out1") - ss.harmonics("out2"))
    assert thd == pytest.approx(0.0633, abs=0.005)
    # the tanh is odd: even harmonics of vod come from mismatch only
    vod = ss.harmonics("out1") - ss.harmonics("out2")
    assert abs(vod[2]) > 0.01 * abs(vod[3])
    ss_m = SimBoard(_matched(cfg)).steady_state(1e3, _dm(cfg, 0.05), (0, 1), n_harmonics=32)
    vod_m = ss_m.harmonics("out1") - ss_m.harmonics("out2")
    assert abs(vod_m[2]) < 1e-9 * abs(vod_m[3])


def test_hb_thd_degenerated_pair_at_50mv() -> None:
    """2 kOhm emitter resistors: THD = 0.069 % at 50 mV (methods section 5; the text's "< 0.1 %")."""
    cfg = _cfg("bjt-degenerated")
    ss = _board("bjt-degenerated").steady_state(1e3, _dm(cfg, 0.05), (0, 1), n_harmonics=32)
    thd = _thd(ss.harmonics("out1") - ss.harmonics("out2"))
    assert 0.0004 < thd < 0.001


def test_hb_thd_mos_pair_matches_square_law() -> None:
    """Square law: HD3 of the differential current ~ (v/V_ov)^2/32 (methods section 5) at small v/V_ov."""
    cfg = _cfg("mos-resistive")
    vtail, sides = _hand_mos_pair(cfg)
    v_ov = cfg.bias_v - vtail - cfg.device.vth_v
    vpk = 0.2 * v_ov
    ss = _board("mos-resistive").steady_state(1e3, _dm(cfg, vpk), (0, 1), n_harmonics=16)
    vod = ss.harmonics("out1") - ss.harmonics("out2")
    assert abs(vod[3] / vod[1]) == pytest.approx(0.2**2 / 32, rel=0.1)


def test_hb_hard_clipping_saturates_the_on_transistor() -> None:
    """1 V peak differential: all 100 uA through one 40k load would pull its collector to ~1 V, below its
    base (up to 2.5 V); the transistor saturates instead, so the low side of the output is clamped to
    V_E + V_CE(sat) (it follows the emitter) and the high side sits at V_CC: a flattened, clipped wave."""
    cfg = _cfg("bjt-source-text")
    ss = _board("bjt-source-text").steady_state(1e3, _dm(cfg, 1.0), (0, 1), n_harmonics=64)
    t = np.arange(4000) / 4000 * 1e-3
    out1, b1, tail = ss.evaluate_nodes(["out1", "b1", "tail"], t)
    k = np.argmax(ss.evaluate("in1", t))
    assert b1[k] - out1[k] > 0.5  # base-collector junction forward biased at the peak
    assert out1.min() > 1.3  # an unsaturated transistor would reach V_CC - R_C I_tail = 0.95 V
    v_ce = out1 - tail
    assert v_ce.min() > 0.02 and np.mean(v_ce < 0.1) > 0.4  # V_CE(sat) ~ 50 mV for 40 % of the period
    assert np.mean(np.abs(out1 - cfg.vcc_v) < 0.02) > 0.4  # the off half rests at V_CC
    assert _thd(ss.harmonics("out1") - ss.harmonics("out2")) > 0.3


@pytest.mark.parametrize("start", ["linear", "quasi-static", "continuation"])
def test_hb_start_strategies_agree(start: str) -> None:
    cfg = _cfg("bjt-source-text")
    b = SimBoard(cfg)
    atts = b._attachments(_dm(cfg, 0.3), (0, 1), with_ac=True)
    system, x = b._system(atts)
    ref = system.solve_hb(1e4, 16, x)
    sol = system.solve_hb(1e4, 16, x, start=start)
    np.testing.assert_allclose(sol.X, ref.X, atol=1e-10)
    if start == "continuation":
        assert sol.continuation_steps >= 2


# ---------------------------------------------------------------------------------------------------
# Wiring and generator source resistance


def test_tied_pins_on_a_matched_board_give_no_differential_output() -> None:
    cfg = _matched(_cfg("bjt-source-text"))
    ss = SimBoard(cfg).steady_state(1e4, [Drive(cfg.bias_v, 0.3)], (0, 0), n_harmonics=16)
    np.testing.assert_array_equal(ss.harmonics("in1"), ss.harmonics("in2"))
    vod = ss.harmonics("out1") - ss.harmonics("out2")
    voc = (ss.harmonics("out1") + ss.harmonics("out2")) / 2
    assert np.max(np.abs(vod)) < 1e-12 * np.max(np.abs(voc))


def test_tied_pins_on_a_mismatched_board_show_mode_conversion() -> None:
    cfg = _cfg("bjt-source-text")
    b = _board("bjt-source-text")
    ss = b.steady_state(1e3, [Drive(cfg.bias_v, 1e-3)], (0, 0), n_harmonics=8)
    np.testing.assert_array_equal(ss.harmonics("in1"), ss.harmonics("in2"))  # one node: vid = 0 exactly
    vic = ss.harmonics("in1")[1]
    vod = (ss.harmonics("out1") - ss.harmonics("out2"))[1]
    assert vod / vic == pytest.approx(_mixed(b.small_signal_s(1e3))["Acd"], rel=1e-3)


def test_generator_source_resistance_divides_against_input_impedance() -> None:
    """in1 driven through 10 kOhm, in2 left on its 10 kOhm bias resistor: Z_in1 = R_B || Z_base with
    Z_base = (beta+1)(r_e1 + r_e2 + R_B/(beta+1)) (the emitter of Q2 looks like r_e2 + R_B/(beta+1))."""
    cfg = _cfg("bjt-source-text")
    _, sides = _hand_bjt_pair(cfg)
    beta = cfg.device.beta
    re = [cfg.vt_v / ie for _, ie, _ in sides]
    z_base = (beta + 1) * (re[0] + re[1] + cfg.bias_r_ohm / (beta + 1))
    z_in = _parallel(cfg.bias_r_ohm, z_base)
    rs, emf = 10e3, 2e-3
    ss = _board("bjt-source-text").steady_state(1e3, [Drive(cfg.bias_v, emf, rs)], (0, None), n_harmonics=8)
    assert abs(ss.harmonics("in1")[1] / emf) == pytest.approx(z_in / (z_in + rs), rel=0.01)
    # the channel's branch current is the drop across its source resistance (KCL at the pin)
    assert ss.harmonics("I(G0)")[1] == pytest.approx((ss.harmonics("in1")[1] - emf) / rs, rel=1e-9)
    # the undriven pin moves only through the base-emitter coupling: v2/v1 ~ R_B/(beta+1) / (2 r_e + ...)
    assert abs(ss.harmonics("in2")[1]) < 0.1 * abs(ss.harmonics("in1")[1])
    # a disabled channel is an open relay: same as None
    ss2 = _board("bjt-source-text").steady_state(
        1e3, [Drive(cfg.bias_v, emf, rs), Drive(cfg.bias_v, 1.0, enabled=False)], (0, 1), n_harmonics=8)
    np.testing.assert_allclose(ss2.harmonics("out2"), ss.harmonics("out2"), atol=1e-12)


def test_undriven_board_sits_on_its_bias_network() -> None:
    cfg = _cfg("bjt-source-text")
    ss = _board("bjt-source-text").steady_state(1e3, [], (None, None))
    op = _board("bjt-source-text").operating_point(pins_driven=False)
    assert ss.harmonics("in1")[0] == pytest.approx(op["in1"], abs=1e-12)
    assert cfg.bias_v - 3e-3 < op["in1"] < cfg.bias_v


# ---------------------------------------------------------------------------------------------------
# API behaviour: evaluation, cache, errors, imports


def test_evaluate_matches_direct_fourier_sum() -> None:
    cfg = _cfg("bjt-source-text")
    ss = _board("bjt-source-text").steady_state(2.5e3, _dm(cfg, 1.0), (0, 1), n_harmonics=32)
    rng = np.random.default_rng(7)
    t = rng.uniform(0, 0.4, size=(50, 40))  # up to 1000 periods, a 2-D array
    for node in ("in1", "out1", "out2", "tail"):
        c = ss.harmonics(node)
        direct = np.real(np.exp(2j * np.pi * 2.5e3 * t[..., None] * np.arange(33)) @ c)
        v = ss.evaluate(node, t)
        assert v.shape == t.shape
        # bound 1e-9 sum|c_k| (interpolation) + phase rounding of t*f ~ 1e-13 cycles * 2 pi sum k|c_k|
        tol = 1e-9 * np.sum(np.abs(c[1:])) + 1e-12 * np.sum(np.arange(33) * np.abs(c))
        assert np.max(np.abs(v - direct)) < tol
    many = ss.evaluate_nodes(["out1", "out2"], t[0])
    np.testing.assert_array_equal(many[1], ss.evaluate("out2", t[0]))


def test_steady_state_cache_is_an_lru() -> None:
    cfg = _cfg("bjt-source-text")
    b = SimBoard(cfg, cache_size=2)
    a = b.steady_state(1e3, _dm(cfg, 0.01), (0, 1), n_harmonics=4)
    assert b.steady_state(1e3, _dm(cfg, 0.01), (0, 1), n_harmonics=4) is a
    b.steady_state(2e3, _dm(cfg, 0.01), (0, 1), n_harmonics=4)
    b.steady_state(1e3, _dm(cfg, 0.01), (0, 1), n_harmonics=4)  # touch a
    b.steady_state(3e3, _dm(cfg, 0.01), (0, 1), n_harmonics=4)  # evicts 2 kHz
    assert b.steady_state(1e3, _dm(cfg, 0.01), (0, 1), n_harmonics=4) is a
    assert isinstance(a, SteadyState) and a.n_harmonics == 4


def test_bad_requests_raise_clear_errors() -> None:
    cfg = _cfg("bjt-source-text")
    b = _board("bjt-source-text")
    with pytest.raises(ValueError, match="out of range"):
        b.steady_state(1e3, _dm(cfg, 0.01), (0, 2))
    with pytest.raises(ValueError, match="freq_hz"):
        b.steady_state(-1.0, _dm(cfg, 0.01), (0, 1))
    with pytest.raises(ValueError, match="n_harmonics"):
        b.steady_state(1e3, _dm(cfg, 0.01), (0, 1), n_harmonics=0)
    ss = b.steady_state(1e3, _dm(cfg, 0.01), (0, 1), n_harmonics=4)
    with pytest.raises(KeyError, match="no node 'vo3'"):
        ss.harmonics("vo3")
    assert b.output_noise_v_per_rthz == cfg.noise_v_per_rthz == 40e-9


def test_simulated_board_does_not_import_models_or_procedures() -> None:
    code = ("import sys, instruments.sim.board, instruments.sim.circuit; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('models', 'procedures')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
