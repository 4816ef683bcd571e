"""Every device and node a prediction's operating point lists, named as on the simulated board, and the split
tail's bridge as what it is; :mod:`procedures.predict.text` and :mod:`procedures.predict.json_report` print these.

Names (those of the simulated board's netlist, :mod:`instruments.sim.board_netlist` and the config comments):
the pair ``Q1``/``Q2`` (``M``: MOS), its cascodes ``Q5``/``Q6``, the mirror ``Q3`` (diode) and ``Q4`` (output),
the cascoded mirror's cascodes ``Q7`` (diode side) and ``Q8`` (output side), the second stage ``Q9``, a transistor
tail ``Q10``. Nodes: ``e1``/``e2`` the pair's emitters/sources (above any degeneration resistor), ``tail`` the
tail node (a split tail's bridge midpoint), ``c1``/``c2`` the pair's collectors/drains under its cascodes,
``xm1``/``xm2`` the cascoded mirror's nodes between its devices and their cascodes, ``mid`` the first stage's
output of a two-stage board, ``out1``/``out2`` the outputs.

The device values are the models' own (:mod:`models.operating_point`, :mod:`models.telescopic`,
:mod:`models.two_stage`, :mod:`models.transistor_tail`); nothing is recomputed here except the tail transistor's
hybrid-pi parameters (its device law at the voltages the tail model gives) and the split tail's branch currents
(Ohm's law and KCL on source text fig. 5-9: Camenzind, *Designing Analog Chips*, ch. 5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from instruments.board_config import BoardConfig
from models import (
    BjtParams,
    CascodedMirrorOperatingPoint,
    DeviceOperatingPoint,
    MosParams,
    PairOperatingPoint,
    TwoStageOperatingPoint,
    split,
)
from models.operating_point.device_law import device_law

from .tails import split_sinks, transistor_tail


@dataclass(frozen=True)
class ListedDevice:
    """One device of the operating-point table: its role (``"side 1"``, ``"mirror out"``, ...), its group
    (``"pair"``: the pair, its cascodes and tail; ``"load"``: the mirror, its cascodes and the second stage) and
    its operating point, named as on the simulated board (module docstring)."""

    role: str
    group: str
    device: DeviceOperatingPoint


def _named(d: DeviceOperatingPoint, number: int) -> DeviceOperatingPoint:
    """``d`` named ``Q<number>`` or ``M<number>`` by its kind."""
    return replace(d, name=("Q" if d.kind == "bjt" else "M") + str(number))


def pair_cascode(d: DeviceOperatingPoint | None, side: int) -> DeviceOperatingPoint | None:
    """The pair's cascode on ``side`` (1 or 2) under the simulated board's name (5 or 6; the models call it
    ``Q1c``/``Q2c``)."""
    return None if d is None else _named(d, 4 + side)


def _nominal_device(board: BoardConfig) -> BjtParams | MosParams:
    """The ``[device]`` parameters without mismatch (a transistor tail's device before its size ratio)."""
    d = board.device
    if d.is_bjt:
        assert d.beta is not None and d.early_v is not None and d.is_a is not None  # the config requires them
        return BjtParams(beta=d.beta, early_v=d.early_v, i_s=d.is_a)
    assert d.kp_a_per_v2 is not None and d.vth_v is not None and d.lambda_per_v is not None
    return MosParams(kp=d.kp_a_per_v2, vth=d.vth_v, lambda_per_v=d.lambda_per_v)


def _tail_device(board: BoardConfig, op: PairOperatingPoint) -> DeviceOperatingPoint | None:
    """A transistor tail at the solved tail node: :meth:`models.transistor_tail.TransistorTail.state`'s voltages
    and current, with the hybrid-pi parameters of its device law (:mod:`models.operating_point.device_law`)."""
    if board.tail_kind != "transistor":
        return None
    tt = transistor_tail(board, _nominal_device(board))
    st = tt.state(op.v_tail)
    name = "Q10" if board.is_bjt else "M10"
    if st.i_out <= 0.0:  # cut off: no slopes (the law's r_o = V_A/I_C has no value at zero current)
        return DeviceOperatingPoint(name, "bjt" if board.is_bjt else "mos", 0.0, 0.0, st.v_ctrl, st.v_out, 0.0,
                                    math.inf, math.inf, math.nan, math.nan, math.inf, math.nan, st.region,
                                    st.headroom_v)
    return device_law(tt.device, board.vt_v).point(name, st.i_out, st.v_ctrl, st.v_out)


def listed_devices(board: BoardConfig, op: PairOperatingPoint) -> list[ListedDevice]:
    """Every device the models solve for ``board`` at ``op``, in table order: pair, its cascodes, tail
    transistor, mirror, the mirror's cascodes, second stage."""
    out = [ListedDevice(f"side {k}", "pair", s.device) for k, s in enumerate(op.sides, 1)]
    out += [ListedDevice(f"cascode {k}", "pair", c) for k, s in enumerate(op.sides, 1)
            if (c := pair_cascode(s.cascode, k)) is not None]
    tail = _tail_device(board, op)
    if tail is not None:
        out.append(ListedDevice("tail", "pair", tail))
    m = op.mirror
    if m is not None:
        out += [ListedDevice("mirror diode", "load", m.diode), ListedDevice("mirror out", "load", m.output)]
    if isinstance(m, CascodedMirrorOperatingPoint):
        out += [ListedDevice("diode cascode", "load", m.diode_cascode),
                ListedDevice("out cascode", "load", m.output_cascode)]
    if isinstance(op, TwoStageOperatingPoint):
        out.append(ListedDevice("second stage", "load", op.stage2))
    return out


def listed_nodes(op: PairOperatingPoint) -> dict[str, float]:
    """Node voltages (V) of the operating point by the simulated board's node names (module docstring)."""
    s1, s2 = op.sides
    nodes = {"e1": s1.v_emitter, "e2": s2.v_emitter, "tail": op.v_tail}
    if s1.cascode is not None:
        nodes.update(c1=s1.v_collector, c2=s2.v_collector)
    m = op.mirror
    if isinstance(m, CascodedMirrorOperatingPoint):
        nodes.update(xm1=m.v_x3, xm2=m.v_x4)
    if isinstance(op, TwoStageOperatingPoint):
        nodes["mid"] = op.v_mid
    nodes.update(out1=op.vo1, out2=op.vo2)
    return nodes


@dataclass(frozen=True)
class SplitTailBridge:
    """The split tail of source text fig. 5-9 at the operating point: the bridge resistor R between the emitters,
    the equivalent per-side degeneration R/2 (exact with ideal sinks) and the star arm ``Z_1 = (R/2) || 2 R_s``
    the models use at DC (Ohm; :mod:`models.split_tail`), each sink's current (A: its source and its resistor
    together, sink 1 at e1) and the bridge's current (A, from e1 to e2)."""

    bridge_r_ohm: float
    equivalent_degeneration_ohm: float
    star_arm_ohm: float
    sink_a: tuple[float, float]
    bridge_a: float


def split_tail_bridge(board: BoardConfig, op: PairOperatingPoint) -> SplitTailBridge | None:
    """The split tail's bridge and currents (``None`` for any other tail): sink k carries
    ``I_k + (V_ek - V_EE)/(2 R_T)`` (``I_k = (I/2)(1 -+ d/2)``, the mapping's split) and the bridge
    ``(V_e1 - V_e2)/R`` (Ohm's law)."""
    if board.tail_kind != "split":
        return None
    r_b = 2.0 * board.degeneration_r_ohm  # the board holds half the bridge (instruments.board_tail)
    i_src = split(board.tail_current_a / 2.0, board.mismatch_tail)
    e = (op.sides[0].v_emitter, op.sides[1].v_emitter)
    sinks = tuple(float(i) + (v - board.vee_v) / (2.0 * board.tail_r_ohm) for i, v in zip(i_src, e))
    arm = board.degeneration_r_ohm + split_sinks(board).star()[0]
    return SplitTailBridge(r_b, board.degeneration_r_ohm, arm, (sinks[0], sinks[1]), (e[0] - e[1]) / r_b)
