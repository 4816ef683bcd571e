"""The SPICE devices of the circuit engine in small circuits, DC and small-signal AC, against closed forms
and hand-built linear solves: a diode with series resistance (Lambert W), a Gummel-Poon common-emitter
stage with junction and diffusion capacitances (hybrid-pi, Gray, Hurst, Lewis, Meyer, "Analysis and
Design of Analog Integrated Circuits", 5th ed., ch. 1), a level-1 source follower with body effect
(Razavi, "Design of Analog CMOS Integrated Circuits", ch. 3)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import lambertw

from instruments.sim.circuit import GMIN_S, GROUND, BJTModel, DiodeModel, GummelPoonModel, MOSModel, Netlist

VT = 0.025864917007157463


def test_diode_with_series_resistance_matches_lambert_w() -> None:
    """V = (R + RS) I + N V_T ln(1 + I/I_S): I = (N V_T/R') W(R' I_S/(N V_T) e^{(V + R' I_S)/(N V_T)}) - I_S."""
    d = DiodeModel(is_a=2.52e-9, n=1.752, rs_ohm=0.568, vt_v=VT)
    for v_src, r in ((5.0, 1e3), (0.9, 10.0), (-3.0, 1e3)):
        nl = Netlist()
        nl.vsource("V", "s", GROUND, v_src)
        nl.resistor("s", "a", r)
        nl.diode("D1", "a", GROUND, d)
        system = nl.compile()
        x = system.solve_dc()
        nvt, rt = d.n * VT, r + d.rs_ohm
        i_exact = nvt / rt * lambertw(rt * d.is_a / nvt * math.exp((v_src + rt * d.is_a) / nvt)).real - d.is_a
        i_sim = (v_src - x[system.index["a"]]) / r
        # GMIN (1e-12 S across the junction) is the only difference
        assert i_sim == pytest.approx(i_exact, rel=1e-8, abs=2e-12 * abs(v_src))
        inner = x[system.index["D1#a"]]
        assert x[system.index["a"]] - inner == pytest.approx(d.rs_ohm * i_sim, rel=1e-9, abs=1e-15)


def test_gummel_poon_terminal_resistances_are_internal_nodes() -> None:
    """RB, RE, RC in the model give the same circuit as explicit resistors around a model without them."""
    base = dict(polarity=1, vt_v=VT, is_a=1e-15, bf=150.0, vaf=80.0, ikf=0.05, ise=1e-14, cje_f=2e-12,
                cjc_f=1e-12, tf_s=4e-10)
    inner = GummelPoonModel(**base)  # type: ignore[arg-type]
    outer = GummelPoonModel(**base, rb_ohm=200.0, re_ohm=5.0, rc_ohm=20.0)  # type: ignore[arg-type]

    def stage(explicit: bool) -> Netlist:
        nl = Netlist()
        nl.vsource("Vcc", "vcc", GROUND, 10.0)
        nl.vsource("Vb", "in", GROUND, 0.9, 1e-3)
        nl.resistor("in", "b", 1e3)
        nl.resistor("vcc", "c", 4.7e3)
        if explicit:
            nl.resistor("c", "ci", 20.0)
            nl.resistor("b", "bi", 200.0)
            nl.resistor(GROUND, "ei", 5.0)
            nl.bjt("Q1", "ci", "bi", "ei", inner)
        else:
            nl.bjt("Q1", "c", "b", GROUND, outer)
        return nl

    a, b = stage(True).compile(), stage(False).compile()
    xa, xb = a.solve_dc(), b.solve_dc()
    for node in ("c", "b"):
        assert xb[b.index[node]] == pytest.approx(xa[a.index[node]], rel=1e-12)
    assert xb[b.index["Q1#b"]] == pytest.approx(xa[a.index["bi"]], rel=1e-12)
    f = np.logspace(2, 8, 7)
    ha = a.solve_ac(xa, f, a.b_ac[:, None])[:, a.index["c"], 0]
    hb = b.solve_ac(xb, f, b.b_ac[:, None])[:, b.index["c"], 0]
    np.testing.assert_allclose(hb, ha, rtol=1e-10)


def test_gummel_poon_defaults_solve_like_ebers_moll() -> None:
    def pair(model: BJTModel | GummelPoonModel) -> np.ndarray:
        nl = Netlist()
        nl.vsource("Vcc", "vcc", GROUND, 5.0)
        nl.vsource("Vb", "b", GROUND, 0.68)
        nl.resistor("vcc", "c", 3e3)
        nl.bjt("Q1", "c", "b", GROUND, model)
        if isinstance(model, GummelPoonModel):  # the engine puts GMIN on C-E of Ebers-Moll devices only
            nl.resistor("c", GROUND, 1 / GMIN_S)
        return nl.compile().solve_dc()

    em = pair(BJTModel(polarity=1, is_a=1e-15, beta_f=120.0, beta_r=1.0, early_v=50.0, vt_v=VT))
    gp = pair(GummelPoonModel(polarity=1, vt_v=VT, is_a=1e-15, bf=120.0, br=1.0, vaf=50.0))
    np.testing.assert_allclose(gp, em, rtol=1e-12)


def _hybrid_pi(m: GummelPoonModel, vbe: float, vbc: float) -> dict[str, float]:
    """Small-signal elements at (vbe, vbc) for IKF = VAR = inf, ISE = ISC = 0, NF = NR = 1, written out:
    I_C = I_S (e^{vbe/V_T} - e^{vbc/V_T})(1 - vbc/VAF) - I_S/BR (e^{vbc/V_T} - 1),
    C_pi = CJE (1 - vbe/VJE)^-MJE + TF g_m, C_mu = CJC (1 - vbc/VJC)^-MJC + TR I_S e^{vbc/V_T}/V_T, and the
    trans-capacitance dQ_BE/dV_BC = -TF I_F / VAF of the base-charge-modulated diffusion charge."""
    ef, er = math.exp(vbe / VT), math.exp(vbc / VT)
    q = 1 - vbc / m.vaf
    gm = m.is_a * ef / VT * q
    return {
        "gm": gm,
        "gmr": -m.is_a * er / VT * q - m.is_a * (ef - er) / m.vaf - m.is_a * er / (m.br * VT),  # dIc/dvbc
        "gpi": m.is_a * ef / (m.bf * VT),
        "gmu": m.is_a * er / (m.br * VT),
        "cpi": m.cje_f * (1 - vbe / m.vje_v) ** -m.mje + m.tf_s * gm,
        "cx": -m.tf_s * m.is_a * (ef - 1) / m.vaf,
        "cmu": m.cjc_f * (1 - vbc / m.vjc_v) ** -m.mjc + m.tr_s * m.is_a * er / VT,
    }


def test_common_emitter_ac_with_junction_and_diffusion_capacitance_matches_hybrid_pi() -> None:
    m = GummelPoonModel(polarity=1, vt_v=VT, is_a=6.734e-15, bf=416.4, br=0.7371, vaf=74.03, rb_ohm=10.0,
                        cje_f=4.493e-12, vje_v=0.75, mje=0.2593, cjc_f=3.638e-12, vjc_v=0.75, mjc=0.3085,
                        tf_s=301.2e-12, tr_s=239.5e-9, fc=0.95)  # FC V_JE > V_BE: the power law holds
    rc = 2.2e3
    nl = Netlist()
    nl.vsource("Vcc", "vcc", GROUND, 9.0)
    nl.vsource("Vb", "b", GROUND, 0.66, 1.0)
    nl.resistor("vcc", "c", rc)
    nl.bjt("Q1", "c", "b", GROUND, m)
    system = nl.compile()
    x = system.solve_dc()
    vbp, vc = x[system.index["Q1#b"]], x[system.index["c"]]
    assert 1e-4 < (9.0 - vc) / rc < 3e-3 and vc > 1.0 and vbp < 0.95 * m.vje_v  # forward active
    p = _hybrid_pi(m, vbp, vbp - vc)
    f = np.logspace(2, 9, 15)
    got = system.solve_ac(x, f, system.b_ac[:, None])[:, system.index["c"], 0]
    g = GMIN_S
    for k, fk in enumerate(f):
        jw = 2j * np.pi * fk
        # unknowns (v_b', v_c); v_b = 1; v_be = v_b', v_bc = v_b' - v_c; GMIN across b'e and b'c.
        # KCL b': (v_b' - 1)/rb + i_b + jw (dQ_BE + dQ_BC) = 0;  KCL c: v_c/rc + i_c - jw dQ_BC = 0
        ypi, ymu = p["gpi"] + jw * p["cpi"], p["gmu"] + jw * p["cmu"]
        yx = jw * p["cx"]
        Y = np.array([
            [1 / m.rb_ohm + ypi + yx + ymu + 2 * g, -(yx + ymu + g)],
            [p["gm"] + p["gmr"] - jw * p["cmu"] - g, 1 / rc - p["gmr"] + jw * p["cmu"] + g],
        ])
        rhs = np.array([1 / m.rb_ohm, 0.0])
        v_c = np.linalg.solve(Y, rhs)[1]
        assert got[k] == pytest.approx(v_c, rel=1e-9), f"{fk:g} Hz"
    assert abs(got[-1]) < 0.2 * abs(got[0])  # the capacitances really matter at the top


def test_source_follower_with_body_effect() -> None:
    """NMOS follower, bulk at ground, ideal current-sink load (lambda = 0):
    V_G - V_S - V_th(V_SB) = sqrt(2 I / kp), V_th = VTO + GAMMA (sqrt(PHI + V_SB) - sqrt(PHI)); the gain is
    g_m / (g_m + g_mb) = 1 / (1 + GAMMA / (2 sqrt(PHI + V_SB)))."""
    kp, vto, gam, phi, i0, vg = 2e-3, 0.7, 0.5, 0.7, 0.5e-3, 3.0
    model = MOSModel(polarity=1, kp_a_per_v2=kp, vth_v=vto, lambda_per_v=0.0, gamma_sqrt_v=gam, phi_v=phi)
    nl = Netlist()
    nl.vsource("Vdd", "vdd", GROUND, 5.0)
    nl.vsource("Vg", "g", GROUND, vg, 1.0)
    nl.mos("M1", "vdd", "g", "s", model, b=GROUND)
    nl.isource("s", GROUND, i0)
    system = nl.compile()
    x = system.solve_dc()

    def source_voltage(i_d: float) -> tuple[float, float]:
        vov = math.sqrt(2 * i_d / kp)
        c = vg + phi - vto + gam * math.sqrt(phi) - vov
        u = (-gam + math.sqrt(gam * gam + 4 * c)) / 2  # u = sqrt(PHI + V_S)
        return u * u - phi, u

    vs, u = source_voltage(i0)
    # GMIN across the bulk-source junction (bulk at ground) also drains node s: I_D = i0 + GMIN V_S
    vs, u = source_voltage(i0 + GMIN_S * vs)
    assert x[system.index["s"]] == pytest.approx(vs, abs=1e-13)
    gain = system.solve_ac(x, [1e3], system.b_ac[:, None])[0, system.index["s"], 0]
    assert gain.real == pytest.approx(1 / (1 + gam / (2 * u)), rel=1e-8)
    # the same device with its bulk tied to its source has no body effect
    nl2 = Netlist()
    nl2.vsource("Vdd", "vdd", GROUND, 5.0)
    nl2.vsource("Vg", "g", GROUND, vg)
    nl2.mos("M1", "vdd", "g", "s", model)
    nl2.isource("s", GROUND, i0)
    s2 = nl2.compile()
    assert s2.solve_dc()[s2.index["s"]] == pytest.approx(vg - vto - math.sqrt(2 * i0 / kp), abs=1e-8)
