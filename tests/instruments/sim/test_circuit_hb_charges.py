"""Harmonic balance with the devices' nonlinear charges (Kundert, White and Sangiovanni-Vincentelli,
"Steady-State Methods for Simulating Analog and Microwave Circuits", 1990): against a brute-force stiff
time-domain integration (scipy Radau) run to periodic steady state, and, at small drive, against the
small-signal AC solution that linearises the same charges."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from instruments.sim.circuit import GMIN_S, GROUND, DiodeModel, GummelPoonModel, MOSModel, Netlist

VT = 0.025864917007157463


def test_hb_diode_with_depletion_and_diffusion_charge_matches_time_domain() -> None:
    """V = 1 + 2 cos(w t) through 10 kOhm into a diode with CJO = 2 nF and TT = 5 us at 10 kHz: reverse
    bias RC ~ 15 us and forward storage 5 us against a 100 us period, so both charges shape the wave."""
    d = DiodeModel(is_a=1e-14, n=1.0, cjo_f=2e-9, vj_v=0.7, m=0.4, fc=0.5, tt_s=5e-6, vt_v=VT)
    freq, r, v0, v1 = 10e3, 10e3, 1.0, 2.0
    nl = Netlist()
    nl.vsource("V", "s", GROUND, v0, v1)
    nl.resistor("s", "d", r)
    nl.diode("D1", "d", GROUND, d)
    system = nl.compile()
    x = system.solve_dc()
    sol = system.solve_hb(freq, 64, x)
    assert sol.continuation_steps == 0 and sol.iterations < 30
    w = 2 * np.pi * freq

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        # C(v) dv/dt = (v_s - v)/R - I_D(v) - GMIN v
        i, _ = d.current(y)
        _, c = d.charge(y)
        out: np.ndarray = ((v0 + v1 * np.cos(w * t) - y) / r - i - GMIN_S * y) / c
        return out

    def jac(t: float, y: np.ndarray) -> np.ndarray:
        _, g = d.current(y)
        _, c = d.charge(y)
        return np.array([[(-1 / r - g[0] - GMIN_S) / c[0]]])  # approximate (dC/dv left out): Radau needs no more

    period, n_settle = 1 / freq, 6
    ode = solve_ivp(rhs, (0, n_settle * period), [x[system.index["d"]]], method="Radau", jac=jac, rtol=1e-8,
                    atol=1e-12, dense_output=True)
    t = (n_settle - 1) * period + period * np.arange(4096) / 4096
    c_ref = np.fft.rfft(ode.sol(t)[0]) / 4096 * 2
    c_ref[0] /= 2
    c_ref *= np.exp(-1j * np.arange(len(c_ref)) * w * (n_settle - 1) * period)
    c_hb = sol.X[system.index["d"]]
    np.testing.assert_allclose(c_hb[:3], c_ref[:3], atol=1e-9)  # measured: 2e-11 V
    assert abs(c_hb[2]) > 0.1  # strongly nonlinear
    # without the charges the waveform is a different one
    plain = Netlist()
    plain.vsource("V", "s", GROUND, v0, v1)
    plain.resistor("s", "d", r)
    plain.diode("D1", "d", GROUND, DiodeModel(is_a=1e-14, vt_v=VT))
    ps = plain.compile()
    assert abs(ps.solve_hb(freq, 64, ps.solve_dc()).X[ps.index["d"], 1] - c_hb[1]) > 0.1


def _small_drive_agreement(nl: Netlist, node: str, freq: float, amp: float) -> None:
    system = nl.compile()
    x = system.solve_dc()
    hb = system.solve_hb(freq, 4, x).X[system.index[node], 1]
    ac = system.solve_ac(x, [freq], system.b_ac[:, None])[0, system.index[node], 0]
    assert hb == pytest.approx(ac, rel=1e-5)
    assert abs(ac) > amp


def test_hb_of_a_gummel_poon_stage_at_small_drive_is_its_ac_response() -> None:
    m = GummelPoonModel(polarity=1, vt_v=VT, is_a=6.734e-15, bf=416.4, br=0.7371, vaf=74.03, ikf=66.78e-3,
                        ise=6.734e-15, ne=1.259, rb_ohm=10.0, rc_ohm=1.0, cje_f=4.493e-12, mje=0.2593,
                        cjc_f=3.638e-12, mjc=0.3085, tf_s=301.2e-12, tr_s=239.5e-9)
    amp = 1e-6
    nl = Netlist()
    nl.vsource("Vcc", "vcc", GROUND, 9.0)
    nl.vsource("Vb", "in", GROUND, 0.66, amp)
    nl.resistor("in", "b", 5e3)
    nl.resistor("vcc", "c", 2.2e3)
    nl.bjt("Q1", "c", "b", GROUND, m)
    _small_drive_agreement(nl, "c", 3e6, amp)  # above the input pole: the capacitances set the gain


def test_hb_of_a_mos_stage_with_meyer_and_junction_capacitance_at_small_drive() -> None:
    m = MOSModel(polarity=1, kp_a_per_v2=4e-3, vth_v=0.8, lambda_per_v=0.02, gamma_sqrt_v=0.4, phi_v=0.65,
                 cgso_f=1e-12, cgdo_f=0.5e-12, cgbo_f=0.1e-12, cbd_f=2e-12, cbs_f=2e-12, cox_f=10e-12)
    amp = 1e-6
    nl = Netlist()
    nl.vsource("Vdd", "vdd", GROUND, 5.0)
    nl.vsource("Vg", "in", GROUND, 1.6, amp)
    nl.resistor("in", "g", 20e3)
    nl.resistor("vdd", "d", 5e3)
    nl.resistor("s", GROUND, 200.0)
    nl.mos("M1", "d", "g", "s", m, b=GROUND)
    _small_drive_agreement(nl, "d", 2e6, amp)
