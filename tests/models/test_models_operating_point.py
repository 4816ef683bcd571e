"""DC operating point: Kirchhoff's laws and the device laws hold at the solution, hand limits, and the flags.

The device laws are written out here (not imported) so a slip in ``models.devices`` cannot hide itself:
BJT ``I_C = I_S e^{V_BE/V_T} (1 - V_BC/V_A)`` (SPICE Gummel-Poon's Early form, as the simulated board's
``BJTModel``), ``I_B = (I_S/beta_F) e^{V_BE/V_T}``;
MOS ``I_D = (kp/2) (V_GS - V_th)^2 (1 + lambda V_DS)``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from models import (
    BjtParams,
    Cascode,
    CurrentMirror,
    DiffPair,
    MosParams,
    NortonTail,
    OperatingPointError,
    ResistorLoads,
    active_load_operating_point,
    bjt_small_signal,
    mos_small_signal,
    resistive_pair_operating_point,
    thermal_voltage,
)

VT = thermal_voltage(300.15)
NPN = BjtParams(beta=200.0, early_v=100.0, i_s=1e-15)
TAIL = NortonTail(100e-6)


def _ic(dev: BjtParams, vbe: float, vce: float) -> float:
    return dev.i_s * math.exp(vbe / VT) * (1 - (vbe - vce) / dev.early_v)


def _ib(dev: BjtParams, vbe: float) -> float:
    return dev.i_s / dev.beta * math.exp(vbe / VT)


def test_thermal_voltage():
    assert thermal_voltage(300.0) == pytest.approx(0.025852, abs=5e-7)  # k T / q, CODATA


def test_bjt_pair_satisfies_kirchhoff_and_device_laws():
    devs = (BjtParams(180.0, 80.0, 0.99e-15), BjtParams(220.0, 120.0, 1.01e-15))
    r_l, r_s, r_e = (39.8e3, 40.2e3), 5e3, 1e3
    op = resistive_pair_operating_point(DiffPair(devs, VT, r_source=r_s, r_degen=r_e), TAIL,
                                        ResistorLoads(r_l, v_return=5.0), v_in=(2.0, 2.01))
    assert sum(s.i_emitter for s in op.sides) == pytest.approx(100e-6, rel=1e-12)
    for k, s in enumerate(op.sides):
        d, dev = s.device, devs[k]
        vbe, vce = s.v_base - s.v_emitter, s.v_collector - s.v_emitter
        assert d.v_ctrl == pytest.approx(vbe, abs=1e-12)
        assert d.i_out == pytest.approx(_ic(dev, vbe, vce), rel=1e-10)
        assert d.i_in == pytest.approx(_ib(dev, vbe), rel=1e-10)
        assert s.i_emitter == pytest.approx(d.i_out + d.i_in, rel=1e-12)
        assert s.v_base == pytest.approx(s.v_in - r_s * d.i_in, abs=1e-12)
        assert s.v_emitter == pytest.approx(op.v_tail + r_e * s.i_emitter, abs=1e-12)
        assert s.v_output == pytest.approx(5.0 - r_l[k] * d.i_out, abs=1e-12)
        # small-signal parameters are the exact slopes of those laws
        r_o = (dev.early_v - (vbe - vce)) / d.i_out  # 1/(dI_C/dV_CE) at fixed V_BE
        assert d.r_o == pytest.approx(r_o, rel=1e-12)
        assert d.gm == pytest.approx(d.i_out / VT - 1 / r_o, rel=1e-12)  # dI_C/dV_BE at fixed V_CE
        assert d.r_pi == pytest.approx(VT / d.i_in, rel=1e-12)
        assert d.beta == pytest.approx(dev.beta * (1 - (vbe - vce) / dev.early_v), rel=1e-12)
        assert d.r_e == pytest.approx(VT / s.i_emitter, rel=1e-12)
        assert d.region == "active"


def test_norton_tail_carries_its_current_plus_the_voltage_over_its_resistance():
    """A Norton tail (I_EE parallel R_EE to v_ee) carries I_EE + (V_tail - v_ee)/R_EE, and the two emitters share
    exactly that; with R_EE = inf it is I_EE."""
    for r_tail, v_ee in ((1e6, 0.0), (510e3, -1.0), (math.inf, 0.0)):
        op = resistive_pair_operating_point(DiffPair((NPN, NPN), VT), NortonTail(100e-6, r_out=r_tail, v_ee=v_ee),
                                            ResistorLoads((40e3, 40e3), v_return=5.0), v_in=(2.0, 2.0))
        expect = 100e-6 + ((op.v_tail - v_ee) / r_tail if math.isfinite(r_tail) else 0.0)
        assert op.i_tail == pytest.approx(expect, rel=1e-12)
        assert sum(s.i_emitter for s in op.sides) == pytest.approx(expect, rel=1e-12)
    assert op.i_tail == 100e-6


def test_is_mismatch_splits_the_current_in_the_is_ratio():
    """Ideal devices (beta, V_A infinite), no degeneration: equal V_BE, so I_C1/I_C2 = I_S1/I_S2 exactly; with
    degeneration the split obeys V_T ln(I_1 I_S2/(I_2 I_S1)) + R_E (I_1 - I_2) = 0
    (docs/reference/measurement-methods.md §5)."""
    d1, d2 = BjtParams(math.inf, math.inf, 0.98e-15), BjtParams(math.inf, math.inf, 1.02e-15)
    op = resistive_pair_operating_point(DiffPair((d1, d2), VT), TAIL, ResistorLoads((40e3, 40e3), v_return=5.0),
                                        v_in=(2.0, 2.0))
    i1, i2 = (s.device.i_out for s in op.sides)
    assert i1 / i2 == pytest.approx(0.98 / 1.02, rel=1e-12)
    op = resistive_pair_operating_point(DiffPair((d1, d2), VT, r_degen=2e3), TAIL,
                                        ResistorLoads((40e3, 40e3), v_return=5.0), v_in=(2.0, 2.0))
    i1, i2 = (s.device.i_out for s in op.sides)
    assert VT * math.log(i1 * 1.02 / (i2 * 0.98)) + 2e3 * (i1 - i2) == pytest.approx(0.0, abs=1e-13)


def test_small_signal_helpers():
    ss = bjt_small_signal(0.5e-3, 0.02585, beta=100.0, early_v=50.0)
    assert float(ss.r_o) == pytest.approx(100e3)  # V_A / I_C at V_CE = 0 (§6 check values)
    assert float(ss.r_pi) == pytest.approx(100 / (0.5e-3 / 0.02585))
    assert float(ss.alpha) == pytest.approx(100 / 101)
    ms = mos_small_signal(50e-6, 1e-3, lambda_per_v=0.02)
    assert float(ms.v_ov) == pytest.approx(math.sqrt(100e-6 / 1e-3))  # V_ov^2 = I_SS / kp (§5)
    assert float(ms.gm) == pytest.approx(2 * 50e-6 / math.sqrt(0.1))
    assert float(ms.r_o) == pytest.approx(1 / (0.02 * 50e-6))


def test_mos_pair_operating_point_and_triode_flag():
    dev = MosParams(kp=1e-3, vth=0.7, lambda_per_v=0.0)
    op = resistive_pair_operating_point(DiffPair((dev, dev), VT), TAIL, ResistorLoads((20e3, 20e3), v_return=5.0),
                                        v_in=(2.0, 2.0))
    vov = math.sqrt(100e-6 / 1e-3)
    for s in op.sides:
        assert s.device.v_ov == pytest.approx(vov, rel=1e-10)
        assert s.v_output == pytest.approx(4.0, abs=1e-9)
        assert s.device.headroom_v == pytest.approx(4.0 - (2.0 - 0.7 - vov) - vov, abs=1e-9)
    assert op.v_tail == pytest.approx(2.0 - 0.7 - vov, abs=1e-10)
    # V_th and kp mismatch with lambda: both devices obey the square law at the solved voltages
    d1, d2 = MosParams(0.99e-3, 0.699, 0.05), MosParams(1.01e-3, 0.701, 0.05)
    op = resistive_pair_operating_point(DiffPair((d1, d2), VT, r_degen=1e3), TAIL,
                                        ResistorLoads((20e3, 20e3), v_return=5.0), v_in=(2.0, 2.0))
    for s, d in zip(op.sides, (d1, d2)):
        vgs, vds = s.v_base - s.v_emitter, s.v_collector - s.v_emitter
        assert s.device.i_out == pytest.approx(0.5 * d.kp * (vgs - d.vth) ** 2 * (1 + d.lambda_per_v * vds), rel=1e-10)
    assert sum(s.i_emitter for s in op.sides) == pytest.approx(100e-6, rel=1e-12)
    # 80 kOhm loads drop 4 V: the drains (1 V) fall below V_G - V_th = 1.3 V
    op = resistive_pair_operating_point(DiffPair((dev, dev), VT), TAIL, ResistorLoads((80e3, 80e3), v_return=5.0),
                                        v_in=(2.0, 2.0))
    assert all(s.device.region == "triode" for s in op.sides)
    assert any("triode" in w for w in op.warnings)


def test_active_load_balances_at_the_return_voltage_with_ideal_devices():
    """Ideal pair and mirror (beta, V_A infinite): I_C4 = I_C3 = I_C1 = I_C2, no current in R1: the output
    sits exactly at the return voltage."""
    ideal_n, ideal_p = BjtParams(math.inf, math.inf, 1e-15), BjtParams(math.inf, math.inf, 1e-15)
    op = active_load_operating_point(DiffPair((ideal_n, ideal_n), VT), TAIL,
                                     CurrentMirror(ideal_p, v_cc=5.0, r_out=250e3, v_return=3.0), v_in=(2.0, 2.0))
    assert op.vo2 == pytest.approx(3.0, abs=1e-9)
    assert op.mirror.v_node == pytest.approx(5.0 - VT * math.log(50e-6 / 1e-15), abs=1e-10)


def test_active_load_base_current_offset():
    """Source text: "the collector current of Q1 has to supply the base current for Q3" (and Q4). With only the
    mirror's beta finite, I_C3 = I_C4 = I_C1/(1 + 2/beta), so the output sits below the return voltage by
    R1 I_C1 (2/beta)/(1 + 2/beta) = 0.4808 V for beta = 50, 50 uA, 250 kOhm."""
    ideal_n = BjtParams(math.inf, math.inf, 1e-15)
    pnp = BjtParams(50.0, math.inf, 1e-15)
    op = active_load_operating_point(DiffPair((ideal_n, ideal_n), VT), TAIL,
                                     CurrentMirror(pnp, v_cc=5.0, r_out=250e3, v_return=3.0), v_in=(2.0, 2.0))
    assert op.vo2 == pytest.approx(3.0 - 250e3 * 50e-6 * (2 / 50) / (1 + 2 / 50), abs=1e-9)
    assert op.mirror.i_r_out == pytest.approx((op.vo2 - 3.0) / 250e3, rel=1e-12)


def test_active_load_kirchhoff_with_early_effect():
    """Full devices (the bjt-active-load board's): KCL at the mirror node and at the output, mirror laws."""
    pnp = BjtParams(50.0, 50.0, 1e-15)
    op = active_load_operating_point(DiffPair((NPN, NPN), VT), TAIL,
                                     CurrentMirror(pnp, v_cc=5.0, r_out=250e3, v_return=3.0), v_in=(2.0, 2.0))
    m = op.mirror
    veb = 5.0 - m.v_node
    assert m.diode.i_out == pytest.approx(_ic(pnp, veb, veb), rel=1e-10)
    assert m.output.i_out == pytest.approx(_ic(pnp, veb, 5.0 - op.vo2), rel=1e-10)
    assert op.sides[0].device.i_out == pytest.approx(m.diode.i_out + 2 * _ib(pnp, veb), rel=1e-10)
    assert (op.vo2 - 3.0) / 250e3 == pytest.approx(m.output.i_out - op.sides[1].device.i_out, rel=1e-6, abs=1e-15)
    assert op.all_active and op.warnings == ()


@pytest.mark.parametrize("is2, saturated", [(1.1e-15, "Q2"), (0.9e-15, "Q4")])
def test_active_load_without_r1_runs_into_saturation(is2, saturated):
    """Source text: without R1 "the smallest difference between the two would cause the output potential to
    move up so much that Q3 would saturate or down so much that Q2 would saturate" (the mirror output device is
    Q4 here). A 10 % I_S mismatch either way drives one of them out of the active region, and it is flagged."""
    pnp = BjtParams(50.0, 50.0, 1e-15)
    n1, n2 = BjtParams(200.0, 100.0, 1.0e-15), BjtParams(200.0, 100.0, is2)
    op = active_load_operating_point(DiffPair((n1, n2), VT), TAIL,
                                     CurrentMirror(pnp, v_cc=5.0, r_out=math.inf, v_return=3.0), v_in=(2.0, 2.0))
    assert not op.all_active
    assert {d.name for d in op.devices() if d.region != "active"} == {saturated}
    assert any(w.startswith(saturated) for w in op.warnings)


def test_cascode_operating_point():
    """Cascode base at 3 V: its emitter (the pair's collector) sits one V_BE below, the pair's collector current
    is the cascode's emitter current, and the output is 5 V - R I_C(cascode). At 3.5 V the cascode is driven
    into saturation by the 40 kOhm load (V_C ~ 3 V) and is flagged."""
    op = resistive_pair_operating_point(DiffPair((NPN, NPN), VT, cascode=Cascode((NPN, NPN), 3.0)), TAIL,
                                        ResistorLoads((40e3, 40e3), v_return=5.0), v_in=(2.0, 2.0))
    for s in op.sides:
        c = s.cascode
        assert s.v_collector == pytest.approx(3.0 - c.v_ctrl, abs=1e-12)
        assert c.i_out + c.i_in == pytest.approx(s.device.i_out, rel=1e-10)
        assert c.i_out == pytest.approx(_ic(NPN, c.v_ctrl, s.v_output - s.v_collector), rel=1e-10)
        assert s.v_output == pytest.approx(5.0 - 40e3 * c.i_out, abs=1e-12)
        assert c.region == "active" and s.device.region == "active"
    high = resistive_pair_operating_point(DiffPair((NPN, NPN), VT, cascode=Cascode((NPN, NPN), 3.5)), TAIL,
                                          ResistorLoads((40e3, 40e3), v_return=5.0), v_in=(2.0, 2.0))
    assert all(s.cascode.region == "saturated" for s in high.sides)


def test_tail_compliance_warning_and_bad_arguments():
    op = resistive_pair_operating_point(DiffPair((NPN, NPN), VT), TAIL, ResistorLoads((10e3, 10e3), v_return=5.0),
                                        v_in=(0.8, 0.8))
    assert any("tail node" in w for w in op.warnings)
    with pytest.raises(TypeError):
        Cascode((NPN, NPN))  # a cascode needs its base/gate bias voltage
    with pytest.raises(OperatingPointError):
        resistive_pair_operating_point(DiffPair((NPN, MosParams(1e-3, 0.7)), VT), TAIL,
                                       ResistorLoads((1e3, 1e3), v_return=5.0), v_in=(2.0, 2.0))


def _circuit_at(op, r_loads=None, r_out=None, r_source=0.0, r_degen=0.0):
    """The linear circuit at an operating point, from the solved devices (ideal tail: the DC solve holds the
    tail current fixed, which is R_T = inf in small signal)."""
    from models import CascodeDevice, MirrorLoad, ResistiveLoad, Side, Tail

    sides = [Side(gm=s.device.gm, r_o=s.device.r_o, r_pi=s.device.r_pi, r_source=r_source, r_degen=r_degen,
                  cascode=None if s.cascode is None else CascodeDevice(s.cascode.gm, s.cascode.r_o, s.cascode.r_pi))
             for s in op.sides]
    if op.mirror is None:
        load = ResistiveLoad(*r_loads)
    else:
        m = op.mirror
        load = MirrorLoad(m.diode.gm, m.output.gm, m.diode.r_o, m.output.r_o, m.diode.r_pi, m.output.r_pi, r_out)
    return sides[0], sides[1], load, Tail(math.inf)


@pytest.mark.parametrize("case", ["bjt", "bjt-degenerated-rs", "bjt-cascode", "mos", "bjt-active", "mos-active",
                                  "bjt-active-cascode"])
def test_small_signal_gains_are_the_derivatives_of_the_operating_point(case):
    """H(0) from the closed-form small-signal model equals d(vo1, vo2)/d(v1, v2) of the nonlinear DC solution
    (central differences, 1 uV steps): the device laws, base currents, Early effect, mirror and cascode are
    treated consistently by the two independent solutions. Agreement within 1e-5 relative (finite-difference
    truncation and the DC solver's 1e-13 V tolerance)."""
    from models import pair_response

    pnp, pmos = BjtParams(50.0, 50.0, 1e-15), MosParams(0.5e-3, 0.7, 0.05)
    nmos = (MosParams(0.99e-3, 0.699, 0.02), MosParams(1.01e-3, 0.701, 0.02))
    npn = (BjtParams(190.0, 90.0, 0.99e-15), BjtParams(210.0, 110.0, 1.01e-15))
    tail = NortonTail(100e-6, v_ee=0.0)
    if case.startswith("mos"):
        devs, mirror = nmos, pmos
    else:
        devs, mirror = npn, pnp
    extra = {}
    if case == "bjt-degenerated-rs":
        extra = dict(r_source=5e3, r_degen=1e3)
    if case.endswith("cascode"):
        extra = dict(cascode=Cascode(npn, 3.0 if case == "bjt-cascode" else 2.8))
    pair = DiffPair(devs, VT, **extra)
    r_loads = (39.9e3, 40.1e3) if "bjt" in case else (19.9e3, 20.1e3)

    def solve(v1, v2):
        if "active" in case:
            return active_load_operating_point(pair, tail, CurrentMirror(mirror, v_cc=5.0, r_out=250e3, v_return=3.0),
                                               v_in=(v1, v2))
        return resistive_pair_operating_point(pair, tail, ResistorLoads(r_loads, v_return=5.0), v_in=(v1, v2))

    op = solve(2.0, 2.0)
    assert op.all_active
    h = pair_response(0.0, *_circuit_at(op, r_loads=r_loads, r_out=250e3, r_source=extra.get("r_source", 0.0),
                                        r_degen=extra.get("r_degen", 0.0))).h.real
    step = 1e-6
    for j in range(2):
        dv = [0.0, 0.0]
        dv[j] = step
        up, dn = solve(2.0 + dv[0], 2.0 + dv[1]), solve(2.0 - dv[0], 2.0 - dv[1])
        num = [(up.vo1 - dn.vo1) / (2 * step), (up.vo2 - dn.vo2) / (2 * step)]
        for i in range(2):
            assert num[i] == pytest.approx(h[i, j], rel=1e-5, abs=1e-6 * np.max(np.abs(h))), (i, j)


def test_mos_cascode_driven_into_triode_is_solved_and_flagged():
    """60 kOhm loads under a cascode gated at 3.5 V: the cascode's drain falls below its gate minus V_th. The
    joint pair/cascode iteration does not settle at some trial currents here, so this also exercises the
    bracketed fallback; the square law (with lambda) and KCL still hold at the solution, and it is flagged."""
    m = MosParams(1e-3, 0.7, 0.02)
    op = resistive_pair_operating_point(DiffPair((m, m), VT, cascode=Cascode((m, m), 3.5)), TAIL,
                                        ResistorLoads((60e3, 60e3), v_return=5.0), v_in=(2.0, 2.0))
    for s in op.sides:
        c = s.cascode
        vgs_c, vds_c = 3.5 - s.v_collector, s.v_output - s.v_collector
        assert c.i_out == pytest.approx(0.5 * m.kp * (vgs_c - m.vth) ** 2 * (1 + m.lambda_per_v * vds_c), rel=1e-9)
        assert c.i_out == pytest.approx(s.device.i_out, rel=1e-12)
        assert s.v_output == pytest.approx(5.0 - 60e3 * c.i_out, abs=1e-9)
        assert c.region == "triode"
    assert sum(s.i_emitter for s in op.sides) == pytest.approx(100e-6, rel=1e-12)
    assert any("M1c is in triode" in w for w in op.warnings)
