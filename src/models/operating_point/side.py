"""One side of the pair at a given tail-node voltage: its emitter current, and the collector (and cascode) node
that follows from the load above it.

Each side is solved for its emitter current at a given tail-node voltage: the residual ``V_B - V_E - V_BE`` of
Kirchhoff's voltage law around the input falls monotonically as the emitter current rises, so its root is
bracketed. For a trial emitter current the split into collector and base current is a fixed point
(:func:`~models.operating_point.roots.split_current`); a cascode is iterated together with the pair device,
falling back to nested bracketed solves where that joint iteration does not settle.

The load above a side is a function ``top(i)``: the voltage of the side's top node (its output) when the side
draws ``i`` from it (a resistor to the return voltage, a mirror's diode node, or a fixed trial voltage).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from scipy.optimize import brentq

from ..pair_circuit import DiffPair
from .device_law import DeviceLaw, device_law
from .errors import OperatingPointError
from .results import SideOperatingPoint
from .roots import fixed_point, split_current

Top = Callable[[float], float]
"""Voltage (V) of a side's top node as a function of the current (A) the side draws from it."""

MIN_CURRENT = 1e-30
"""Least tail current a side is searched up to, A: a Norton tail at a trial voltage far below v_ee would deliver
a negative current."""


@dataclass(frozen=True)
class CascodeLaw:
    """A side's cascode device and its base/gate bias (V)."""

    law: DeviceLaw
    bias_v: float


@dataclass(frozen=True)
class SideSpec:
    """What is fixed about one side during the solve: its device, input pin level (V), series and degeneration
    resistances (Ohm) and cascode."""

    law: DeviceLaw
    v_in: float
    r_source: float
    r_degen: float
    cascode: CascodeLaw | None


@dataclass(frozen=True)
class SideState:
    """One side at a trial emitter current: the KVL residual (V), currents (A) and node voltages (V).

    ``i_top`` is the current the side draws from its top node (the cascode's collector current, or ``i_c``),
    ``v_x`` the pair device's collector, ``v_top`` the top node, ``casc_ctrl`` the cascode's V_BE (nan without)."""

    residual: float
    i_e: float
    i_c: float
    i_top: float
    v_b: float
    v_e: float
    v_x: float
    v_top: float
    v_ctrl: float
    casc_ctrl: float


def side_specs(pair: DiffPair, v_in: tuple[float, float]) -> tuple[SideSpec, SideSpec]:
    """Both sides of ``pair`` with their input pins at ``v_in`` (V); :class:`OperatingPointError` for a pair of
    mixed kinds."""
    if pair.mixed_kinds:
        raise OperatingPointError("both devices of a pair must be of one kind")

    def spec(k: int) -> SideSpec:
        casc = None
        if pair.cascode is not None:
            casc = CascodeLaw(device_law(pair.cascode.devices[k], pair.vt), pair.cascode.bias_v)
        return SideSpec(device_law(pair.devices[k], pair.vt), v_in[k], pair.r_source, pair.r_degen, casc)

    return spec(0), spec(1)


def _cascode_state(law: DeviceLaw, v_bias: float, i_e: float, top: Top) -> tuple[float, float, float, float]:
    """Cascode device carrying emitter current ``i_e``: returns (i_top, v_x, v_top, v_ctrl).

    For a trial collector current its V_BE follows by a contraction (it sees V_CE only through the Early
    factor, slope V_T/V_A); the collector current then from :func:`~models.operating_point.roots.split_current`.
    """
    i_e = max(i_e, 1e-300)

    def ctrl_at(i_top: float) -> float:
        i_top = max(i_top, 1e-300)
        v_top = top(i_top)
        return fixed_point(lambda vc: law.ctrl(i_top, v_top - v_bias + vc), law.ctrl(i_top, 1.0), 1.0,
                           "cascode control voltage")

    i_top = split_current(i_e, lambda i: law.split(i_e, top(i) - (v_bias - ctrl_at(i))))
    v_ctrl = ctrl_at(i_top)
    return i_top, v_bias - v_ctrl, top(i_top), v_ctrl


def _joint_cascode(law: DeviceLaw, cascode: CascodeLaw, i_e: float, v_e: float, top: Top
                   ) -> tuple[float, tuple[float, float, float, float]] | None:
    """Pair device and cascode iterated together (each sees the other only through Early factors, so near
    the operating point this contracts fast); ``None`` when it does not settle, and the caller falls back
    to the nested bracketed solve."""
    if i_e <= 0:
        return None
    casc, v_bias = cascode.law, cascode.bias_v
    i_c = law.split(i_e, 1.0)
    i_top = casc.split(i_c, 1.0)
    v_ctrl = casc.ctrl(i_top, 1.0)
    for _ in range(50):
        v_x = v_bias - v_ctrl
        v_top = top(i_top)
        i_c_new = law.split(i_e, v_x - v_e)
        i_top_new = casc.split(i_c_new, v_top - v_x)
        v_ctrl_new = casc.ctrl(max(i_top_new, 1e-300), v_top - v_x)
        done = (abs(i_c_new - i_c) <= 1e-14 * i_e and abs(i_top_new - i_top) <= 1e-14 * i_e
                and abs(v_ctrl_new - v_ctrl) <= 1e-13)
        i_c, i_top, v_ctrl = i_c_new, i_top_new, v_ctrl_new
        if done:
            return i_c, (i_top, v_bias - v_ctrl, top(i_top), v_ctrl)
    return None


def side_at(spec: SideSpec, i_e: float, v_t: float, top: Top) -> SideState:
    """The side carrying emitter current ``i_e`` (A) with the tail node at ``v_t`` (V) under the load ``top``."""
    law, cascode = spec.law, spec.cascode
    v_e = v_t + spec.r_degen * i_e

    def collector(i_c: float) -> tuple[float, float, float, float]:
        if cascode is None:
            v = top(i_c)
            return i_c, v, v, math.nan
        return _cascode_state(cascode.law, cascode.bias_v, i_c, top)

    joint = None if cascode is None else _joint_cascode(law, cascode, i_e, v_e, top)
    if joint is not None:
        i_c, (i_top, v_x, v_top, casc_ctrl) = joint
    else:
        i_c = split_current(i_e, lambda i: law.split(i_e, collector(i)[1] - v_e))
        i_top, v_x, v_top, casc_ctrl = collector(i_c)
    v_ctrl = law.ctrl_or_threshold(i_c, v_x - v_e)
    v_b = spec.v_in - spec.r_source * (i_e - i_c)
    return SideState(v_b - v_e - v_ctrl, i_e, i_c, i_top, v_b, v_e, v_x, v_top, v_ctrl, casc_ctrl)


def solve_side(spec: SideSpec, v_t: float, top: Top, i_tail: float) -> SideState:
    """Emitter current at tail-node voltage ``v_t``; the residual ``V_B - V_E - V_BE`` falls as I_E rises.

    One side never carries more than the whole tail current ``i_tail`` (at this ``v_t``), so the search stops
    there: a side that would take more returns ``i_tail``, which is all the tail solve needs to know. The search
    runs in ``ln I_E`` for a BJT (exponential law) and in ``sqrt(I_D)`` for a MOS device (square law).
    """
    i_tail = max(i_tail, MIN_CURRENT)
    to_i: Callable[[float], float]
    if spec.law.is_bjt:
        lo, hi = math.log(i_tail) - 80.0, math.log(i_tail)
        to_i = math.exp
    else:
        if side_at(spec, 0.0, v_t, top).residual <= 0:
            return side_at(spec, 0.0, v_t, top)
        lo, hi = 0.0, math.sqrt(i_tail)

        def to_i(x: float) -> float:
            return x * x

    def f(x: float) -> float:
        return side_at(spec, to_i(x), v_t, top).residual

    f_lo, f_hi = f(lo), f(hi)
    if f_hi >= 0:
        x = hi
    elif f_lo <= 0:
        x = lo
    else:
        x = float(brentq(f, lo, hi, xtol=1e-15, rtol=1e-14, maxiter=200))
    return side_at(spec, to_i(x), v_t, top)


def side_point(spec: SideSpec, st: SideState, k: int) -> SideOperatingPoint:
    """Side ``k`` (1 or 2) of the solution as a result: its node voltages and devices (``Q1``, ``Q1c``, ...)."""
    p = spec.law.prefix
    dev = spec.law.point(f"{p}{k}", st.i_c, st.v_ctrl, st.v_x - st.v_e)
    casc = None
    if spec.cascode is not None:
        casc = spec.cascode.law.point(f"{p}{k}c", st.i_top, st.casc_ctrl, st.v_top - st.v_x)
    return SideOperatingPoint(spec.v_in, st.v_b, st.v_e, st.v_x, st.v_top, st.i_e, dev, casc)
