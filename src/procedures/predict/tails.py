"""Where a board's split or transistor tail (``[tail] kind``, :mod:`instruments.board_tail`) becomes model arguments;
:mod:`procedures.predict.mapping` calls these, and for the Norton tail they give what it always gave. Assumptions
besides mapping's own:

- Split tail (source text fig. 5-9): sink k carries ``(I/2)(1 -+ d/2)`` (``d = [mismatch] tail``) in parallel with
  ``2 R`` and ``C/2`` (``I, R, C`` = ``[tail] current_a, r_ohm, c_f``); the bridge is ``2 degeneration_r_ohm``.
  The operating point is :func:`models.split_tail.split_tail_operating_point` (resistive loads: the board config
  refuses a split tail with an active load); the small-signal tail is a :class:`models.split_tail.SplitTail`. For
  the consumers that take a pair and one Norton tail (:func:`~procedures.predict.mapping.dc_pair`: the DC
  transfer and distortion solves) it is the star equivalent, the sinks' mismatch folded into the devices as the
  source ``o_k`` in series with each emitter (I_S e^{-o_k/V_T} or V_th + o_k: exact in the input loop's KVL, the
  Early factor then off by ``o_k/V_A`` ~ 5e-6); the large-signal transfer and the closed-form offset take it the
  same way, all of ``o_1 - o_2`` on side 1.
- Transistor tail: a device of the pair's kind with the ``[device]`` parameters (I_S or kp times ``size_ratio``, no
  mismatch), reverse current gain :data:`TAIL_BETA_R`; :class:`models.transistor_tail.TransistorTail`. Its DC law
  enters the operating-point solve; the small-signal tail is its output resistance at the solved tail node with
  ``[tail] c_f``; the consumers of one Norton tail get its linearisation at the operating point (exact for
  small signals about it).
"""

from __future__ import annotations

import math
from dataclasses import replace

from instruments.board_config import BoardConfig
from models import (
    BjtParams,
    DiffPair,
    MosParams,
    NortonTail,
    PairOperatingPoint,
    ResistorLoads,
    SplitSinks,
    SplitTail,
    Tail,
    TransistorTail,
    split,
    split_tail_operating_point,
)

TAIL_BETA_R = 1.0
"""Reverse current gain beta_R of a bipolar tail transistor: it sets how much base current the device draws, and how
fast its current falls, once saturated. Not in a board config; SPICE's default BR (Massobrio & Antognetti,
*Semiconductor Device Modeling with SPICE*, ch. 2), the simulated board's value."""


def split_sinks(board: BoardConfig) -> SplitSinks:
    """The split tail's sinks at DC (module docstring)."""
    i1, i2 = split(board.tail_current_a / 2.0, board.mismatch_tail)
    return SplitSinks((float(i1), float(i2)), 2.0 * board.tail_r_ohm, 2.0 * board.degeneration_r_ohm, board.vee_v)


def transistor_tail(board: BoardConfig, device: BjtParams | MosParams) -> TransistorTail:
    """The transistor tail of ``board``: ``device`` (the pair's, unmismatched) scaled by ``size_ratio``."""
    tr = board.tail_transistor
    if tr is None:
        raise ValueError(f"{board.source}: the board has no transistor tail")
    scaled: BjtParams | MosParams = (replace(device, i_s=device.i_s * tr.size_ratio) if isinstance(device, BjtParams)
                                     else replace(device, kp=device.kp * tr.size_ratio))
    return TransistorTail(current=0.0, r_out=math.inf, v_ee=board.vee_v, device=scaled, vt=board.vt_v,
                          bias_v=tr.bias_v, r_e=tr.r_e_ohm, beta_r=TAIL_BETA_R)


def solver_tail(board: BoardConfig, device: BjtParams | MosParams) -> NortonTail:
    """The tail the operating-point solve takes: the Norton source, or the transistor tail's DC law."""
    if board.tail_kind == "transistor":
        return transistor_tail(board, device)
    return NortonTail(board.tail_current_a, r_out=board.tail_r_ohm, v_ee=board.vee_v)


def split_operating_point(board: BoardConfig, pair: DiffPair, v_in: tuple[float, float]) -> PairOperatingPoint:
    """Operating point of a split-tail board (resistive loads; ``pair.r_degen`` is half the bridge)."""
    r1, r2 = split(board.load_r_ohm, board.mismatch_load_r)
    loads = ResistorLoads((float(r1), float(r2)), v_return=board.load_return_v)
    return split_tail_operating_point(pair, split_sinks(board), loads, v_in=v_in)


def norton_equivalent(board: BoardConfig, pair: DiffPair, device: BjtParams | MosParams,
                      op: PairOperatingPoint) -> tuple[DiffPair, NortonTail]:
    """A split or transistor tail as one Norton tail (module docstring): the star equivalent of matched sinks with
    its arm in ``r_degen``, or the transistor's linearisation at the operating point ``op``."""
    if board.tail_kind == "split":
        dz, tail, offsets = split_sinks(board).star()
        devices = tuple(_offset_device(d, o, board.vt_v) for d, o in zip(pair.devices, offsets))
        return replace(pair, devices=(devices[0], devices[1]), r_degen=pair.r_degen + dz), tail
    r_out = transistor_tail(board, device).output_resistance(op.v_tail)
    i0 = op.i_tail - ((op.v_tail - board.vee_v) / r_out if math.isfinite(r_out) else 0.0)
    return pair, NortonTail(i0, r_out=r_out, v_ee=board.vee_v)


def _offset_device(dev: BjtParams | MosParams, offset_v: float, vt: float) -> BjtParams | MosParams:
    """``dev`` with a source ``offset_v`` (V) in series with its emitter/source folded in: I_S e^{-o/V_T} (BJT) or
    V_th + o (MOS), exact in the input loop's KVL."""
    if offset_v == 0.0:
        return dev
    if isinstance(dev, BjtParams):
        return replace(dev, i_s=dev.i_s * math.exp(-offset_v / vt))
    return replace(dev, vth=dev.vth + offset_v)


def small_signal_tail(board: BoardConfig, device: BjtParams | MosParams, op: PairOperatingPoint) -> Tail:
    """The tail of the linear circuit at ``op``: ``R_T || C_T``, the split tail, or the transistor's output
    resistance at the tail node with ``[tail] c_f``."""
    if board.tail_kind == "split":
        return SplitTail(board.tail_r_ohm, board.tail_c_f, bridge_r=2.0 * board.degeneration_r_ohm)
    if board.tail_kind == "transistor":
        return Tail(transistor_tail(board, device).output_resistance(op.v_tail), board.tail_c_f)
    return Tail(board.tail_r_ohm, board.tail_c_f)


def transfer_degeneration(board: BoardConfig) -> float:
    """Emitter/source resistance per side (Ohm) of the large-signal transfer: the split tail's star arm ``Z_1``."""
    if board.tail_kind != "split":
        return board.degeneration_r_ohm
    return board.degeneration_r_ohm + split_sinks(board).star()[0]


def with_sink_offset(board: BoardConfig, i_s_or_kp: tuple[float, float], vth: tuple[float, float]
                     ) -> tuple[tuple[float, float], tuple[float, float]]:
    """Side 1's I_S (BJT) or threshold (MOS) with the split sinks' mismatch folded in as the equivalent input offset
    ``o_1 - o_2`` of :class:`models.split_tail.SplitSinks`: ``I_S1 e^{-(o_1 - o_2)/V_T}`` or ``V_th1 + o_1 - o_2``
    (exact in the input loop's KVL); unchanged for any other board."""
    if board.tail_kind != "split" or board.mismatch_tail == 0.0:
        return i_s_or_kp, vth
    o1, o2 = split_sinks(board).star()[2]
    if board.is_bjt:
        return (i_s_or_kp[0] * math.exp(-(o1 - o2) / board.vt_v), i_s_or_kp[1]), vth
    return i_s_or_kp, (vth[0] + o1 - o2, vth[1])


def with_tail_warning(board: BoardConfig, device: BjtParams | MosParams, op: PairOperatingPoint) -> PairOperatingPoint:
    """``op`` with a warning when a transistor tail has left its active region (its compliance: the tail node fell
    too far), naming its output resistance there."""
    if board.tail_kind != "transistor":
        return op
    st = transistor_tail(board, device).state(op.v_tail)
    if st.region == "active":
        return op
    name = ("Q" if board.is_bjt else "M") + "10"
    what = "V_CE" if board.is_bjt else "V_DS"
    note = (f"the tail transistor {name} is {st.region}: {what} = {st.v_out:.3f} V with the tail node at "
            f"{op.v_tail:.3f} V; its output resistance falls to {st.r_out:.4g} Ohm (below its compliance the "
            "common-mode rejection collapses)")
    return replace(op, warnings=op.warnings + (note,))
