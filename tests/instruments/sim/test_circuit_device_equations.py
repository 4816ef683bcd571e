"""The SPICE device equations of the circuit engine (Gummel-Poon BJT, junction diode, level-1 MOSFET with
bulk, depletion charge) checked against finite differences of themselves, the Ebers-Moll model they
reduce to, and closed forms (Massobrio and Antognetti, "Semiconductor Device Modeling with SPICE", 2nd
ed., ch. 1, 2, 4)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from instruments.sim.circuit import BJTModel, DiodeModel, GummelPoonModel, MOSModel
from instruments.sim.circuit.devices import BJT, MOSFET4, Diode
from instruments.sim.circuit.junction import depletion_charge
from instruments.sim.circuit.mos_level1 import drain_current, meyer_capacitances, threshold

VT = 0.025864917007157463  # ngspice's k T / q at 27 C
H = 1e-7

GP_FULL = GummelPoonModel(
    polarity=1, vt_v=VT, is_a=6.734e-15, bf=416.4, br=0.7371, nf=1.02, nr=1.05, vaf=74.03, var=20.0,
    ikf=66.78e-3, ikr=5e-3, ise=6.734e-15, ne=1.259, isc=1e-14, nc=1.8, cje_f=4.493e-12, vje_v=0.75,
    mje=0.2593, cjc_f=3.638e-12, vjc_v=0.75, mjc=0.3085, tf_s=301.2e-12, tr_s=239.5e-9, fc=0.5)


def _grid(lo1: float, hi1: float, lo2: float, hi2: float) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.meshgrid(np.linspace(lo1, hi1, 23), np.linspace(lo2, hi2, 19))
    return a.ravel(), b.ravel()


def _check_partials(fn: Callable[..., tuple[np.ndarray, ...]], args: list[np.ndarray], n_out: int,
                    rtol: float = 1e-5, atol: float = 1e-12) -> None:
    """``fn(*args)`` returns n_out values then their partials, value-major: (v0, v1.., dv0/da0, dv0/da1, ...)."""
    out = fn(*args)
    for k in range(n_out):
        for j in range(len(args)):
            up = [a + H * (i == j) for i, a in enumerate(args)]
            dn = [a - H * (i == j) for i, a in enumerate(args)]
            num = (fn(*up)[k] - fn(*dn)[k]) / (2 * H)
            np.testing.assert_allclose(out[n_out + k * len(args) + j], num, rtol=rtol, atol=atol,
                                       err_msg=f"output {k}, argument {j}")


def test_gummel_poon_current_derivatives_match_finite_differences() -> None:
    vbe, vbc = _grid(-0.6, 0.85, -4.0, 0.7)
    _check_partials(GP_FULL.currents, [vbe, vbc], 2, atol=1e-11)


def test_gummel_poon_charge_derivatives_match_finite_differences() -> None:
    # include both sides of FC*VJ = 0.375 V and the V_BE = 0 switch of the diffusion charge's 1/q_b
    vbe, vbc = _grid(-2.0, 0.85, -6.0, 0.7)
    vbe = vbe[np.abs(vbe) > 2 * H]
    vbc = vbc[: len(vbe)]
    _check_partials(GP_FULL.charges, [vbe, vbc], 2, atol=1e-20)


def test_gummel_poon_with_neutral_extras_is_ebers_moll() -> None:
    for pol in (1, -1):
        em = BJTModel(polarity=pol, is_a=2e-15, beta_f=180.0, beta_r=0.8, early_v=60.0, vt_v=VT)
        gp = GummelPoonModel(polarity=pol, vt_v=VT, is_a=2e-15, bf=180.0, br=0.8, vaf=60.0)
        vbe, vbc = _grid(-1.0, 0.9, -8.0, 0.8)
        for a, b in zip(em.currents(vbe, vbc), gp.currents(vbe, vbc)):
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-300)


def test_gummel_poon_high_injection_and_early_effect() -> None:
    """Forward active, V_BC = 0: I_C = I_F/q_b with q_b = q_1 (1 + sqrt(1 + 4 I_F/IKF))/2, q_1 = 1/(1 - V_BE/VAR)."""
    gp = GummelPoonModel(polarity=1, vt_v=VT, is_a=1e-14, bf=100.0, ikf=10e-3, var=10.0)
    vbe = np.array([0.6, 0.75, 0.85])
    ic, ib, *_ = gp.currents(vbe, np.zeros(3))
    i_f = 1e-14 * np.expm1(vbe / VT)
    qb = (1 + np.sqrt(1 + 4 * i_f / 10e-3)) / 2 / (1 - vbe / 10.0)
    np.testing.assert_allclose(ic, i_f / qb, rtol=1e-13)
    np.testing.assert_allclose(ib, i_f / 100.0, rtol=1e-13)
    assert ic[2] < 0.3 * i_f[2]  # deep in high injection the gain has collapsed


@pytest.mark.parametrize("m", [0.0, 0.33, 0.5, 1.0])
def test_depletion_charge_is_the_integral_of_its_capacitance(m: float) -> None:
    cj, vj, fc = 2e-12, 0.7, 0.6
    v = np.linspace(-5.0, 1.2, 2001)
    q, c = depletion_charge(v, cj, vj, m, fc)
    num = (depletion_charge(v + H, cj, vj, m, fc)[0] - depletion_charge(v - H, cj, vj, m, fc)[0]) / (2 * H)
    np.testing.assert_allclose(c, num, rtol=1e-6, atol=1e-20)
    # closed forms below FC VJ, Q(0) = 0, and continuity of Q and C across FC VJ
    lo = v < fc * vj
    np.testing.assert_allclose(c[lo], cj * (1 - v[lo] / vj) ** -m, rtol=1e-13)
    assert depletion_charge(np.array([0.0]), cj, vj, m, fc)[0][0] == 0.0
    edge = np.array([fc * vj * (1 - 1e-12), fc * vj])
    q_e, c_e = depletion_charge(edge, cj, vj, m, fc)
    assert abs(q_e[1] - q_e[0]) < 1e-22 and c_e[1] == pytest.approx(c_e[0], rel=1e-9)


def test_diode_current_and_charge_derivatives() -> None:
    d = DiodeModel(is_a=2.52e-9, n=1.752, cjo_f=4e-12, vj_v=0.6, m=0.4, tt_s=20e-9, fc=0.5, vt_v=VT)
    v = np.linspace(-3.0, 0.9, 400)
    _check_partials(lambda x: d.current(x), [v], 1, atol=1e-12)
    _check_partials(lambda x: d.charge(x), [v], 1, atol=1e-20)
    i, _ = d.current(np.array([0.6]))
    assert i[0] == pytest.approx(2.52e-9 * math.expm1(0.6 / (1.752 * VT)), rel=1e-13)
    q, _ = d.charge(np.array([0.2]))
    q_dep = 4e-12 * 0.6 * (1 - (1 - 0.2 / 0.6) ** 0.6) / 0.6
    assert q[0] == pytest.approx(q_dep + 20e-9 * 2.52e-9 * math.expm1(0.2 / (1.752 * VT)), rel=1e-12)


NMOS_BODY = MOSModel(polarity=1, kp_a_per_v2=2e-3, vth_v=0.8, lambda_per_v=0.03, gamma_sqrt_v=0.45, phi_v=0.7)


def test_level1_body_effect_derivatives_in_every_region() -> None:
    vgs, vds = _grid(0.0, 3.0, -2.5, 3.0)
    for vbs_val in (-2.0, -0.3, 0.0, 0.2):
        vbs = np.full_like(vgs, vbs_val)
        _check_partials(lambda a, b, c: drain_current(NMOS_BODY, a, b, c), [vgs, vds, vbs], 1, atol=2e-9)


def test_level1_threshold_and_square_law() -> None:
    """V_th = VTO + GAMMA (sqrt(PHI - V_BS) - sqrt(PHI)); saturation I = kp/2 (V_GS - V_th)^2 (1 + lambda V_DS)."""
    vbs = np.array([-2.0, 0.0])
    vth, _ = threshold(NMOS_BODY, vbs)
    np.testing.assert_allclose(vth, 0.8 + 0.45 * (np.sqrt(0.7 - vbs) - math.sqrt(0.7)), rtol=1e-14)
    i, *_ = drain_current(NMOS_BODY, np.array([2.5]), np.array([3.0]), np.array([-2.0]))
    assert i[0] == pytest.approx(1e-3 * (2.5 - vth[0]) ** 2 * 1.09, rel=1e-13)
    # with GAMMA = 0 it is the three-terminal square law whatever the bulk does
    plain = MOSModel(polarity=1, kp_a_per_v2=2e-3, vth_v=0.8, lambda_per_v=0.03)
    vgs, vds = _grid(0.0, 3.0, -2.5, 3.0)
    ref = plain.drain_current(vgs, vds)
    got = drain_current(plain, vgs, vds, np.full_like(vgs, -1.0))
    for a, b in zip(ref, got[:3]):
        np.testing.assert_allclose(b, a, rtol=1e-15, atol=0)


def test_meyer_capacitances_by_region() -> None:
    """Meyer (RCA Review 32, 1971) as SPICE level 1: saturation C_GS = 2/3 Cox, C_GD = 0; triode at V_DS = 0
    C_GS = C_GD = Cox/2; accumulation C_GB = Cox."""
    m = MOSModel(polarity=1, kp_a_per_v2=1e-3, vth_v=1.0, lambda_per_v=0.0, phi_v=0.6, cox_f=3e-12)
    cgs, cgd, cgb = meyer_capacitances(m, np.array([2.0, 2.0, -1.0]), np.array([3.0, 0.0, 1.0]), np.zeros(3))
    np.testing.assert_allclose(cgs, [2e-12, 1.5e-12, 0.0], rtol=1e-14)
    np.testing.assert_allclose(cgd, [0.0, 1.5e-12, 0.0], rtol=1e-14)
    np.testing.assert_allclose(cgb, [0.0, 0.0, 3e-12], rtol=1e-14)
    # continuous in V_GS through depletion and weak inversion, symmetric under drain-source swap
    vgs = np.linspace(-0.5, 2.0, 2501)
    c = np.array(meyer_capacitances(m, vgs, np.full_like(vgs, 2.0), np.zeros_like(vgs)))
    assert np.max(np.abs(np.diff(c, axis=1))) < 1e-14
    fwd = meyer_capacitances(m, np.array([1.7]), np.array([0.3]), np.array([-0.5]))
    rev = meyer_capacitances(m, np.array([1.7 - 0.3]), np.array([-0.3]), np.array([-0.5 - 0.3]))
    np.testing.assert_allclose([rev[1], rev[0], rev[2]], fwd, rtol=1e-14)


def _terminal_jacobian_check(evaluate: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], v: np.ndarray,
                             atol: float) -> None:
    """The (nt, nt, N) matrix returned by ``evaluate`` is d(first output)/dV by central differences."""
    val, jac = evaluate(v)
    for b in range(v.shape[0]):
        dv = np.zeros_like(v)
        dv[b] = H
        num = (evaluate(v + dv)[0] - evaluate(v - dv)[0]) / (2 * H)
        np.testing.assert_allclose(jac[:, b], num, rtol=1e-5, atol=atol, err_msg=f"column {b}")
    np.testing.assert_allclose(val.sum(axis=0), 0.0, atol=1e-14 * np.max(np.abs(val)) + 1e-30)


def test_instances_terminal_jacobians_and_conservation() -> None:
    rng = np.random.default_rng(3)
    pnp = GummelPoonModel(**{**GP_FULL.__dict__, "polarity": -1})
    bjt = BJT("Q", (0, 1, 2), pnp)
    v = np.stack([rng.uniform(-3, 0, 40), rng.uniform(-0.8, 0, 40), np.zeros(40)])  # PNP: base below emitter
    _terminal_jacobian_check(bjt.evaluate, v, 1e-11)
    _terminal_jacobian_check(bjt.charges, v, 1e-20)
    dio = Diode("D", (0, 1), DiodeModel(is_a=1e-14, cjo_f=1e-12, tt_s=5e-9, vt_v=VT))
    vd = np.stack([rng.uniform(-2, 0.8, 40), rng.uniform(-0.2, 0.2, 40)])
    _terminal_jacobian_check(dio.evaluate, vd, 1e-11)
    _terminal_jacobian_check(dio.charges, vd, 1e-20)
    pmos = MOSModel(polarity=-1, kp_a_per_v2=1e-3, vth_v=0.7, lambda_per_v=0.05, gamma_sqrt_v=0.5, phi_v=0.65,
                    cbd_f=1e-12, cbs_f=2e-12, pb_v=0.8, mj=0.45)
    mos = MOSFET4("M", (0, 1, 2, 3), pmos)
    vm = np.stack([rng.uniform(-3, 3, 60), rng.uniform(-3, 1, 60), np.zeros(60), rng.uniform(0, 2, 60)])
    _terminal_jacobian_check(mos.evaluate, vm, 1e-9)
    _terminal_jacobian_check(mos.charges, vm, 1e-20)
