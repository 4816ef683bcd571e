"""Where a :class:`~instruments.board_config.BoardConfig` becomes model arguments (``models`` itself knows nothing
of configs; the fits start from this mapping too). The mapping, and the assumptions it makes:

- Mismatch follows the board-config convention, each side moving half: ``X1 = X(1 - d/2)``,
  ``X2 = X(1 + d/2)`` for the load resistors and capacitors, I_S or kp (``mismatch.device``) and beta_F;
  ``V_th1 = V_th - dV/2``, ``V_th2 = V_th + dV/2`` (so ``V_th2 - V_th1 = mismatch.vth_v``).
- The input pins sit at ``inputs.bias_v`` (the generator's offset drives them), so ``inputs.bias_r_ohm``, which
  ties each pin to the bias rail, carries no current from the drive and enters neither the DC nor the
  small-signal prediction; gains are referred to the pin phasors, as measured. ``inputs.source_r_ohm`` is in
  series between pin and base/gate and enters both.
- The tail is a Norton source: ``tail.current_a`` in parallel with ``tail.r_ohm`` to ``supply.vee_v``, so its
  DC current is ``I_EE + (V_tail - V_EE)/R_EE`` (as the simulated board builds it); ``tail.r_ohm`` and
  ``tail.c_f`` are its small-signal output impedance. A split tail (source text fig. 5-9) or a transistor tail
  (``[tail] kind``) is :mod:`procedures.predict.tails`'s, with the assumptions listed there.
- Cascode devices are copies of the pair device (no mismatch), bases/gates at ``cascode.bias_v``. The mirror
  devices of an active load are the ``[mirror]`` section's, matched.
- No device capacitances besides ``tail.c_f`` and ``load.c_f``; no MOS body effect (bulk tied to source).
- Large signal: the differential collector/drain current of the pair from the exact large-signal transfer
  (tanh, degenerated BJT, square law, with the device mismatch; :func:`differential_current_transfer`),
  with the Early / channel-length factor held at its operating-point value (the DC transfer's prediction, and
  the distortion's for boards the full-circuit solve of :mod:`procedures.predict.distortion` does not model).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from instruments.board_config import BoardConfig
from instruments.board_config import DeviceParams as ConfigDevice
from instruments.errors import ConfigError
from models import (
    BjtParams,
    Cascode,
    CascodeDevice,
    CurrentMirror,
    DeviceOperatingPoint,
    DiffPair,
    MirrorLoad,
    MosParams,
    NortonTail,
    OperatingPointError,
    PairOperatingPoint,
    ResistiveLoad,
    ResistorLoads,
    Side,
    SideOperatingPoint,
    Tail,
    active_load_operating_point,
    bjt_pair_currents,
    mos_pair_currents,
    resistive_pair_operating_point,
    split,
)

from .stage_mapping import sampled_stage_transfer, second_stage_transfer, variant_load, variant_operating_point
from .tails import (
    norton_equivalent,
    small_signal_tail,
    solver_tail,
    split_operating_point,
    transfer_degeneration,
    with_sink_offset,
    with_tail_warning,
)

_T = TypeVar("_T")


def _given(value: _T | None, board: BoardConfig, key: str) -> _T:
    """A value that :func:`~instruments.board_config.parse_board` guarantees for this board (the config types
    cannot say so); a :class:`ConfigError` naming ``key`` if it is missing all the same."""
    if value is None:
        raise ConfigError(board.source, key, "missing required key")
    return value


def _model_device(board: BoardConfig, d: ConfigDevice, section: str) -> BjtParams | MosParams:
    """The model's parameters of the config device ``d`` (of ``section``, e.g. ``"[device]"``)."""
    if board.netlist is not None and not board.netlist.family:
        raise ConfigError(board.source, "[netlist]", "the board names no closed-form family ([device], [tail], "
                          "[load]): its models come from ngspice")
    if d.is_bjt:
        return BjtParams(beta=_given(d.beta, board, f"{section} beta"),
                         early_v=_given(d.early_v, board, f"{section} early_v"),
                         i_s=_given(d.is_a, board, f"{section} is_a"))
    return MosParams(kp=_given(d.kp_a_per_v2, board, f"{section} kp_a_per_v2"),
                     vth=_given(d.vth_v, board, f"{section} vth_v"),
                     lambda_per_v=_given(d.lambda_per_v, board, f"{section} lambda_per_v"))


def pair_devices(board: BoardConfig) -> tuple[BjtParams, BjtParams] | tuple[MosParams, MosParams]:
    """The two pair devices with the board's mismatch applied (module docstring)."""
    d = _model_device(board, board.device, "[device]")
    if isinstance(d, BjtParams):
        is1, is2 = split(d.i_s, board.mismatch_device)
        b1, b2 = split(d.beta, board.mismatch_beta)
        return (BjtParams(float(b1), d.early_v, float(is1)), BjtParams(float(b2), d.early_v, float(is2)))
    kp1, kp2 = split(d.kp, board.mismatch_device)
    dv = board.mismatch_vth_v
    return (MosParams(float(kp1), d.vth - dv / 2.0, d.lambda_per_v),
            MosParams(float(kp2), d.vth + dv / 2.0, d.lambda_per_v))


def board_cascode(board: BoardConfig) -> Cascode | None:
    """The cascode devices (copies of the pair device, no mismatch) at ``cascode.bias_v``; ``None`` without."""
    if not board.cascode:
        return None
    casc = _model_device(board, board.device, "[device]")
    return Cascode((casc, casc), _given(board.cascode_bias_v, board, "[cascode] bias_v"))


def mirror_device(board: BoardConfig) -> BjtParams | MosParams:
    """The mirror device of an active load (both mirror devices alike)."""
    return _model_device(board, _given(board.mirror, board, "[mirror]"), "[mirror]")


def pair_circuit(board: BoardConfig) -> DiffPair:
    """The pair of the board: devices with mismatch, series and degeneration resistors, cascode."""
    return DiffPair(pair_devices(board), board.vt_v, r_source=board.source_r_ohm,
                    r_degen=board.degeneration_r_ohm, cascode=board_cascode(board))


def dc_pair(board: BoardConfig) -> tuple[DiffPair, NortonTail]:
    """The pair (devices with mismatch, series and degeneration resistors, cascode) and the tail of the board; a
    split or transistor tail as one Norton tail (:func:`procedures.predict.tails.norton_equivalent`)."""
    pair = pair_circuit(board)
    if board.tail_kind != "norton":
        return norton_equivalent(board, pair, _model_device(board, board.device, "[device]"), operating_point(board))
    return pair, NortonTail(board.tail_current_a, r_out=board.tail_r_ohm, v_ee=board.vee_v)


def operating_point(board: BoardConfig) -> PairOperatingPoint:
    """DC operating point of the board; a config without a DC solution is a :class:`ConfigError`. A split or
    transistor tail is solved as such (:mod:`procedures.predict.tails`).

    Solved once per board object (a config is frozen): a run's plan, predictions and verdicts ask for it at
    every frequency, and each solve is a nonlinear one (tens of ms)."""
    hit = _OPERATING_POINTS.get(id(board))
    if hit is not None and hit[0]() is board:
        return hit[1]
    device = _model_device(board, board.device, "[device]")
    op = with_tail_warning(board, device, _operating_point(board, pair_circuit(board), solver_tail(board, device)))
    key = id(board)
    _OPERATING_POINTS[key] = (weakref.ref(board, lambda _: _OPERATING_POINTS.pop(key, None)), op)
    return op


#: id(board) -> (a weak reference to that board, its operating point): forgotten when the board is
_OPERATING_POINTS: dict[int, tuple[weakref.ref[BoardConfig], PairOperatingPoint]] = {}


def _operating_point(board: BoardConfig, pair: DiffPair, tail: NortonTail) -> PairOperatingPoint:
    v_in = (board.bias_v, board.bias_v)
    try:
        if board.tail_kind == "split":
            return split_operating_point(board, pair, v_in)
        if board.load_type == "active":
            load = CurrentMirror(mirror_device(board), v_cc=board.vcc_v, r_out=board.load_r_ohm,
                                 v_return=board.load_return_v)
            variant = variant_operating_point(board, pair, tail, load, v_in)  # cascoded mirror, second stage
            if variant is not None:
                return variant
            return active_load_operating_point(pair, tail, load, v_in=v_in)
        r1, r2 = split(board.load_r_ohm, board.mismatch_load_r)
        loads = ResistorLoads((float(r1), float(r2)), v_return=board.load_return_v)
        return resistive_pair_operating_point(pair, tail, loads, v_in=v_in)
    except OperatingPointError as exc:
        raise ConfigError(board.source, None, f"no DC operating point: {exc}") from None


def _side(dev: DeviceOperatingPoint, casc: DeviceOperatingPoint | None, board: BoardConfig) -> Side:
    return Side(
        gm=dev.gm, r_o=dev.r_o, r_pi=dev.r_pi, r_degen=board.degeneration_r_ohm, r_source=board.source_r_ohm,
        cascode=None if casc is None else CascodeDevice(gm=casc.gm, r_o=casc.r_o, r_pi=casc.r_pi),
    )


def small_signal_circuit(board: BoardConfig, op: PairOperatingPoint
                         ) -> tuple[Side, Side, ResistiveLoad | MirrorLoad, Tail]:
    """The linear circuit at the operating point: both sides, the load and the tail (``models.small_signal``)."""
    s1, s2 = (_side(s.device, s.cascode, board) for s in op.sides)
    c1, c2 = split(board.load_c_f, board.mismatch_load_c)
    variant = variant_load(board, op, float(c1), float(c2))  # cascoded mirror, second stage
    if variant is not None:
        load: ResistiveLoad | MirrorLoad = variant
    elif op.mirror is not None:
        m = op.mirror
        load = MirrorLoad(
            gm_diode=m.diode.gm, gm_out=m.output.gm, r_o_diode=m.diode.r_o, r_o_out=m.output.r_o,
            r_pi_diode=m.diode.r_pi, r_pi_out=m.output.r_pi, r_out=board.load_r_ohm, c1=float(c1), c2=float(c2))
    else:
        r1, r2 = split(board.load_r_ohm, board.mismatch_load_r)
        load = ResistiveLoad(float(r1), float(r2), float(c1), float(c2))
    return s1, s2, load, small_signal_tail(board, _model_device(board, board.device, "[device]"), op)


def _effective_device(d: BjtParams | MosParams, side: SideOperatingPoint) -> tuple[float, float]:
    """I_S (BJT) or kp (MOS) of one side with its Early / channel-length factor at the operating point, and its
    threshold (MOS; 0 for BJT)."""
    dev = side.device
    if isinstance(d, BjtParams):
        f = 1.0 + (dev.v_out - dev.v_ctrl) / d.early_v if math.isfinite(d.early_v) else 1.0
        return d.i_s * f, 0.0
    return d.kp * (1.0 + d.lambda_per_v * dev.v_out), d.vth


def effective_devices(board: BoardConfig, op: PairOperatingPoint) -> tuple[tuple[float, float], tuple[float, float]]:
    """Per-side I_S (BJT) or kp (MOS) with the Early / channel-length factor at the operating point's V_BC / V_DS
    folded in, and the thresholds (MOS; zeros for BJT). The large-signal transfer then carries the same DC
    currents as the operating point; the factor's variation over the signal cycle is not modelled."""
    devs = pair_devices(board)
    (p1, t1), (p2, t2) = (_effective_device(devs[k], op.sides[k]) for k in range(2))
    return with_sink_offset(board, (p1, p2), (t1, t2))  # a split tail's sink mismatch (procedures.predict.tails)


def differential_current_transfer(board: BoardConfig, op: PairOperatingPoint
                                  ) -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    """``v_id -> I_C1 - I_C2`` (A) from the large-signal model at the board's operating point, and its name; for a
    board with a second stage, the second stage's collector current (A), which its output follows linearly."""
    (p1, p2), (vth1, vth2) = effective_devices(board, op)
    i_tail, r_e = op.i_tail, transfer_degeneration(board)
    stage = sampled_stage_transfer(board, *dc_pair(board), mirror_device(board)) if board.mirror else None
    if stage is not None:  # cascoded mirror, MOS 2nd stage: the output resistor's current, sampled (stage_mapping)
        return stage, "whole stage, operating points at Chebyshev nodes"
    if board.is_bjt:
        a1, a2 = op.sides[0].device.alpha, op.sides[1].device.alpha
        name = "BJT, exact with emitter degeneration" if r_e > 0 else "BJT, tanh"
        if board.second_stage is not None:  # the second stage's collector current (procedures.predict.stage_mapping)
            def currents(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                ie1, ie2 = bjt_pair_currents(v, i_tail, board.vt_v, r_degen=r_e, i_s1=p1, i_s2=p2)
                return a1 * ie1, a2 * ie2
            return second_stage_transfer(board, op, mirror_device(board), currents), name + ", second stage"

        def transfer(v: np.ndarray) -> np.ndarray:
            ie1, ie2 = bjt_pair_currents(v, i_tail, board.vt_v, r_degen=r_e, i_s1=p1, i_s2=p2)
            out: np.ndarray = a1 * ie1 - a2 * ie2
            return out
        return transfer, name

    def transfer_mos(v: np.ndarray) -> np.ndarray:
        i1, i2 = mos_pair_currents(v, i_tail, p1, p2, vth1=vth1, vth2=vth2, r_degen=r_e)
        out: np.ndarray = i1 - i2
        return out
    return transfer_mos, "MOS, square law" + (" with source degeneration" if r_e > 0 else "")
