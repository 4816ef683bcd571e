"""The circuit engine of the simulated board (instruments.sim.circuit), checked against independent
solutions: finite differences for the device derivatives, the Lambert-W closed form of a diode-resistor
circuit, the analytic RC transfer, and a stiff time-domain ODE integration (scipy) for harmonic balance
with a capacitor."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.special import lambertw

from instruments.sim.circuit import GROUND, BJTModel, MOSModel, Netlist, pnjlim
from instruments.sim.circuit.fourier import FourierGrid, conversion_matrix

VT = 0.025864925786328753  # k T / q at 300.15 K
NPN = BJTModel(polarity=1, is_a=1e-15, beta_f=200.0, beta_r=1.0, early_v=100.0, vt_v=VT)
PNP = BJTModel(polarity=-1, is_a=2e-15, beta_f=50.0, beta_r=2.0, early_v=50.0, vt_v=VT)
NMOS = MOSModel(polarity=1, kp_a_per_v2=1e-3, vth_v=0.7, lambda_per_v=0.02)


@pytest.mark.parametrize("model", [NPN, PNP], ids=["npn", "pnp"])
def test_bjt_derivatives_match_finite_differences(model: BJTModel) -> None:
    vbe, vbc = np.meshgrid(np.linspace(-0.5, 0.8, 14), np.linspace(-3.0, 0.75, 16))
    vbe, vbc = vbe.ravel(), vbc.ravel()
    ic, ib, ic_be, ic_bc, ib_be, ib_bc = model.currents(vbe, vbc)
    h = 1e-7
    for ana, fn, arg in ((ic_be, 0, 0), (ic_bc, 0, 1), (ib_be, 1, 0), (ib_bc, 1, 1)):
        dp = [vbe + h * (arg == 0), vbc + h * (arg == 1)]
        dm = [vbe - h * (arg == 0), vbc - h * (arg == 1)]
        num = (model.currents(*dp)[fn] - model.currents(*dm)[fn]) / (2 * h)
        # atol: central differences of mA-level currents lose ~1e-11 S to rounding
        np.testing.assert_allclose(ana, num, rtol=1e-5, atol=1e-10)


def test_bjt_forward_active_and_saturation() -> None:
    # forward active: I_C = I_S exp(V_BE/V_T)(1 - V_BC/V_A), beta = I_C/I_B = beta_F (1 - V_BC/V_A)
    ic, ib, *_ = NPN.currents(np.array([0.65]), np.array([-2.0]))
    assert ic[0] == pytest.approx(1e-15 * math.exp(0.65 / VT) * 1.02, rel=1e-12)
    assert ic[0] / ib[0] == pytest.approx(200.0 * 1.02, rel=1e-6)
    # saturation (V_CE = 0.1 V): the reverse transport collapses the collector current
    ic_sat, ib_sat, *_ = NPN.currents(np.array([0.65]), np.array([0.55]))
    assert ic_sat[0] / ib_sat[0] < 0.5 * 200.0


def test_mos_regions_derivatives_and_continuity() -> None:
    vgs, vds = np.meshgrid(np.linspace(0.2, 2.0, 19), np.linspace(-1.5, 3.0, 46))
    vgs, vds = vgs.ravel(), vds.ravel()
    i, gm, gds = NMOS.drain_current(vgs, vds)
    h = 1e-7
    num_gm = (NMOS.drain_current(vgs + h, vds)[0] - NMOS.drain_current(vgs - h, vds)[0]) / (2 * h)
    num_gds = (NMOS.drain_current(vgs, vds + h)[0] - NMOS.drain_current(vgs, vds - h)[0]) / (2 * h)
    np.testing.assert_allclose(gm, num_gm, rtol=1e-5, atol=1e-9)  # kink at V_ov = 0
    np.testing.assert_allclose(gds, num_gds, rtol=1e-5, atol=1e-9)
    # saturation value, Razavi: I = kp/2 Vov^2 (1 + lambda V_DS)
    i_sat = NMOS.drain_current(np.array([1.0]), np.array([2.0]))[0][0]
    assert i_sat == pytest.approx(0.5e-3 * 0.3**2 * 1.04, rel=1e-12)
    # cutoff, and continuity of current and slope at the triode/saturation edge V_DS = V_ov
    assert NMOS.drain_current(np.array([0.6]), np.array([2.0]))[0][0] == 0.0
    edge = np.array([0.3 - 1e-9, 0.3 + 1e-9])
    i_e, _, g_e = NMOS.drain_current(np.full(2, 1.0), edge)
    assert abs(i_e[1] - i_e[0]) < 1e-14 and abs(g_e[1] - g_e[0]) < 1e-9
    # symmetry: swapping drain and source reverses the current
    i_f = NMOS.drain_current(np.array([1.2]), np.array([0.4]))[0][0]
    i_r = NMOS.drain_current(np.array([1.2 - 0.4]), np.array([-0.4]))[0][0]
    assert i_r == pytest.approx(-i_f, rel=1e-12)


def test_pnjlim_limits_only_large_forward_steps() -> None:
    vcrit = NPN.vcrit_v
    assert vcrit == pytest.approx(VT * math.log(VT / (math.sqrt(2) * 1e-15)))  # 0.79 V
    # SPICE3 DEVpnjlim: from 0.6 V a step to 2 V is cut to 0.6 + V_T ln(1 + 1.4/V_T)
    assert pnjlim(np.array([2.0]), np.array([0.6]), VT, vcrit)[0] == pytest.approx(0.6 + VT * math.log(1 + 1.4 / VT))
    v = np.array([0.5, -3.0, 0.78])
    assert pnjlim(v, np.zeros(3), VT, vcrit) is v


def test_conversion_matrix_equals_direct_product() -> None:
    rng = np.random.default_rng(1)
    grid = FourierGrid.make(7, 32)
    g = rng.normal(size=(2, 2, grid.N))
    gam = conversion_matrix(g, grid)  # (2, 15, 2, 15)
    for p in range(2):
        for q in range(2):
            direct = grid.A @ np.diag(g[p, q]) @ grid.S
            np.testing.assert_allclose(gam[p, :, q, :], direct, atol=1e-13)
    np.testing.assert_allclose(grid.A @ grid.S, np.eye(15), atol=1e-13)


def _diode_circuit(v_dc: float, v_ac: complex = 0j, r: float = 10e3, c: float = 0.0) -> Netlist:
    """Source -- R -- node d, diode-connected NPN from d to ground, optional C from d to ground."""
    nl = Netlist()
    nl.vsource("V", "s", GROUND, v_dc, v_ac)
    nl.resistor("s", "d", r)
    nl.bjt("Q", "d", "d", GROUND, NPN)
    nl.capacitor("d", GROUND, c)
    return nl


def _diode_current_lambertw(v: np.ndarray, r: float) -> np.ndarray:
    """Exact I of V = R I + V_T ln(1 + I/I_s') with I_s' = I_S (1 + 1/beta_F) (diode-connected BJT)."""
    isp = NPN.is_a * (1 + 1 / NPN.beta_f)
    arg = r * isp / VT * np.exp((v + r * isp) / VT)
    return VT / r * lambertw(arg).real - isp


def test_dc_diode_resistor_matches_lambert_w() -> None:
    system = _diode_circuit(5.0).compile()
    x = system.solve_dc()
    i_exact = _diode_current_lambertw(np.array(5.0), 10e3)
    i_sim = (5.0 - x[system.index["d"]]) / 10e3
    # gmin (1e-12 S per junction) is the only difference: ~1e-12 A
    assert i_sim == pytest.approx(float(i_exact), rel=1e-8)
    np.testing.assert_allclose(system.residual(x), 0.0, atol=1e-15)


@pytest.mark.parametrize("method", ["newton", "source", "gmin"])
def test_dc_strategies_agree(method: str) -> None:
    system = _diode_circuit(5.0).compile()
    x = system.solve_dc(method=method)
    i_exact = float(_diode_current_lambertw(np.array(5.0), 10e3))
    assert (5.0 - x[system.index["d"]]) / 10e3 == pytest.approx(i_exact, rel=1e-8)


def test_hb_memoryless_diode_matches_lambert_w_waveform() -> None:
    """No capacitor: the steady state is the DC solution at each instant (Lambert W), at any frequency."""
    v0, v1, K = 3.0, 2.0, 32
    system = _diode_circuit(v0, v1).compile()
    sol = system.solve_hb(1e3, K, system.solve_dc())
    theta = 2 * np.pi * np.arange(4096) / 4096
    v_src = v0 + v1 * np.cos(theta)
    vd = v_src - 10e3 * _diode_current_lambertw(v_src, 10e3)
    c_exact = np.fft.rfft(vd) / 4096 * 2
    c_exact[0] /= 2
    c_hb = sol.X[system.index["d"]]
    np.testing.assert_allclose(c_hb[:12], c_exact[:12], atol=1e-9)
    assert abs(c_hb[1]) > 0.01  # the diode voltage really swings (ln of a 5:1 current ratio)


def test_hb_and_ac_of_linear_rc_match_analytic() -> None:
    nl = Netlist()
    nl.vsource("V", "s", GROUND, 1.0, 0.3 - 0.1j)
    nl.resistor("s", "o", 1e3)
    nl.capacitor("o", GROUND, 1e-9)
    system = nl.compile()
    f = 200e3
    h = 1 / (1 + 2j * np.pi * f * 1e3 * 1e-9)
    sol = system.solve_hb(f, 4, system.solve_dc())
    assert sol.X[system.index["o"], 0] == pytest.approx(1.0, abs=1e-12)
    assert sol.X[system.index["o"], 1] == pytest.approx((0.3 - 0.1j) * h, abs=1e-12)
    ac = system.solve_ac(system.solve_dc(), np.array([f]), system.source_rhs(["V"]))
    assert ac[0, system.index["o"], 0] == pytest.approx(h, abs=1e-12)


def test_hb_diode_with_capacitor_matches_time_domain_integration() -> None:
    """R = 10k into C = 10 nF || diode at 2 kHz: RC = 100 us against a 500 us period, so the waveform is
    neither quasi-static nor filtered. Reference: a stiff ODE solve (Radau, tight tolerances) run to
    periodic steady state."""
    freq_hz, r, c, v0, v1 = 2e3, 10e3, 10e-9, 3.0, 2.0
    system = _diode_circuit(v0, v1, r, c).compile()
    sol = system.solve_hb(freq_hz, 48, system.solve_dc())
    w = 2 * np.pi * freq_hz
    isp = NPN.is_a * (1 + 1 / NPN.beta_f)
    g_min = 2e-12  # the engine's GMIN across b-e and c-e of the diode-connected device

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        vs = v0 + v1 * np.cos(w * t)
        return ((vs - y) / r - isp * np.expm1(y / VT) - g_min * y) / c

    def jac(t: float, y: np.ndarray) -> np.ndarray:
        return np.array([[(-1 / r - isp / VT * np.exp(y[0] / VT) - g_min) / c]])

    period = 1 / freq_hz
    n_settle = 6  # the start-up transient decays at least as exp(-T/RC) = exp(-5) per period
    ode = solve_ivp(rhs, (0, n_settle * period), [0.6], method="Radau", jac=jac, rtol=1e-10, atol=1e-12,
                    dense_output=True)
    t = (n_settle - 1) * period + period * np.arange(2048) / 2048
    v = ode.sol(t)[0]
    c_ref = np.fft.rfft(v) / 2048 * 2
    c_ref[0] /= 2
    c_ref *= np.exp(-1j * np.arange(len(c_ref)) * w * (n_settle - 1) * period)
    c_hb = sol.X[system.index["d"]]
    np.testing.assert_allclose(c_hb[:8], c_ref[:8], atol=1e-10)  # measured: 6e-14 V
    assert abs(c_hb[1]) > 1e-3
