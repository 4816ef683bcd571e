"""Where the two active-load variants of a board config become model arguments: the cascoded mirror (the telescopic
stage) and the second stage of source text fig. 5-12. :mod:`procedures.predict.mapping` calls these for the
boards that have them; the assumptions are its own, plus:

- Cascoded mirror: the four mirror devices are the ``[mirror]`` section's (matched), the cascodes' bases/gates at
  ``[mirror] cascode_bias_v``; R1 (``[load] r_ohm``) ties out2 to ``[load] return_v``.
- Second stage: device 9 is the ``[mirror]`` device with its I_S (kp) times ``[second_stage] size_ratio``; the sink
  is ``sink_current_a`` in parallel with ``sink_r_ohm`` to ``[supply] vee_v``; ``[load] r_ohm`` ties the output to
  ``[load] return_v`` and ``[load] c_f`` sits at out1 and at the output; ``[second_stage] c_f`` at node mid.
- Large signal of the second stage: the pair's collector currents (mapping's transfer) feed
  :func:`models.two_stage_transfer.two_stage_transfer`, whose result is device 9's collector current; the output
  follows it linearly (the load is linear), so THD and compression are those of that current.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from instruments.board_config import BoardConfig
from models import (
    BjtParams,
    CascodedMirror,
    CascodedMirrorOperatingPoint,
    CurrentMirror,
    DiffPair,
    GainStage,
    MirrorLoad,
    MosParams,
    NortonTail,
    OperatingPointError,
    OutputStage,
    PairOperatingPoint,
    TwoStageOperatingPoint,
    cascode_output_resistance,
    cascoded_mirror_load,
    cascoded_mirror_operating_point,
    two_stage_operating_point,
    two_stage_transfer,
)

PairCurrents = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
"""``v_id -> (I_C1, I_C2)`` (A): the pair's collector currents at a differential drive (V)."""


def output_stage(board: BoardConfig, mirror: BjtParams | MosParams) -> OutputStage:
    """The second stage of ``board`` (module docstring); ``mirror`` is its mirror device."""
    st = board.second_stage
    assert st is not None
    dev: BjtParams | MosParams = (replace(mirror, i_s=mirror.i_s * st.size_ratio) if isinstance(mirror, BjtParams)
                                  else replace(mirror, kp=mirror.kp * st.size_ratio))
    return OutputStage(dev, v_cc=board.vcc_v, sink_current=st.sink_current_a, sink_r=st.sink_r_ohm,
                       v_ee=board.vee_v, r_load=board.load_r_ohm, v_return=board.load_return_v)


def variant_operating_point(board: BoardConfig, pair: DiffPair, tail: NortonTail, mirror: CurrentMirror,
                            v_in: tuple[float, float]) -> PairOperatingPoint | None:
    """The operating point of a board with a cascoded mirror or a second stage; ``None`` for a simple mirror.
    ``mirror`` is the simple mirror the board's ``[mirror]`` and ``[load]`` describe."""
    if board.mirror_cascode_bias_v is not None:
        load = CascodedMirror(mirror.device, mirror.v_cc, mirror.r_out, mirror.v_return,
                              cascode_bias_v=board.mirror_cascode_bias_v)
        return cascoded_mirror_operating_point(pair, tail, load, v_in=v_in)
    if board.second_stage is not None:
        return two_stage_operating_point(pair, tail, mirror, output_stage(board, mirror.device), v_in=v_in)
    return None


def variant_load(board: BoardConfig, op: PairOperatingPoint, c1: float, c2: float) -> MirrorLoad | None:
    """The linear load of a cascoded mirror or of a mirror with a second stage at ``op`` (``c1, c2``: the output
    nodes' capacitances, F); ``None`` for a simple mirror."""
    m = op.mirror
    if isinstance(m, CascodedMirrorOperatingPoint):
        return cascoded_mirror_load(m.devices, board.load_r_ohm, c1, c2)
    if isinstance(op, TwoStageOperatingPoint) and m is not None and board.second_stage is not None:
        d9 = op.stage2
        stage = GainStage(gm=d9.gm, r_o=d9.r_o, r_pi=d9.r_pi, r_sink=board.second_stage.sink_r_ohm,
                          c_in=board.second_stage.c_f)
        return MirrorLoad(gm_diode=m.diode.gm, gm_out=m.output.gm, r_o_diode=m.diode.r_o, r_o_out=m.output.r_o,
                          r_pi_diode=m.diode.r_pi, r_pi_out=m.output.r_pi, r_out=board.load_r_ohm, c1=c1, c2=c2,
                          stage2=stage)
    return None


def second_stage_transfer(board: BoardConfig, op: PairOperatingPoint, mirror: BjtParams | MosParams,
                          currents: PairCurrents) -> Callable[[np.ndarray], np.ndarray]:
    """``v_id -> I_C9`` (A): device 9's collector current driven by the pair's ``currents`` (module docstring)."""
    if not (isinstance(op, TwoStageOperatingPoint) and isinstance(mirror, BjtParams)):
        raise ValueError("the second stage's transfer needs a bipolar two-stage operating point")
    stage = output_stage(board, mirror)
    side2 = op.sides[1].device
    r_out2 = float(cascode_output_resistance(side2.gm, board.degeneration_r_ohm, side2.r_o, side2.r_pi))
    v_mid0 = op.v_mid

    def transfer(v: np.ndarray) -> np.ndarray:
        i_c1, i_c2 = currents(v)
        return two_stage_transfer(i_c1, i_c2, mirror, stage, board.vt_v, v_mid0=v_mid0, r_out2=r_out2).i_out

    return transfer


SAMPLED_DEGREE = 8
"""Degree of the Chebyshev interpolant of a sampled stage transfer (9 operating-point solves, ~0.8 s):
on mos-telescopic over +-1.5 vid_max_vpk the THD it gives agrees with degree 12's to 1e-6 relative, HD3 to 1e-5."""


def sampled_output_transfer(board: BoardConfig, solve: Callable[[tuple[float, float]], PairOperatingPoint],
                            span_v: float, degree: int = SAMPLED_DEGREE) -> Callable[[np.ndarray], np.ndarray]:
    """``v_id -> (vo2 - return_v)/R1`` (A): the current the stage delivers into R1 at a DC differential input
    ``v_id`` (V), from the full operating-point solve ``solve(v_in)`` (every Early / channel-length factor at its
    own level: the output stage's nonlinearity, which dominates a cascoded stage's distortion) at the Chebyshev
    points of ``[-span_v, span_v]``, interpolated (Trefethen, *Approximation Theory and Approximation Practice*,
    ch. 4 and 8: for a function analytic around the interval the error falls geometrically with the degree).
    Drives beyond the span are clipped to it."""
    cheb = np.polynomial.chebyshev
    nodes = cheb.chebpts1(degree + 1)
    values = [(solve((board.bias_v + v / 2.0, board.bias_v - v / 2.0)).vo2 - board.load_return_v) / board.load_r_ohm
              for v in span_v * nodes]
    coef = cheb.chebfit(nodes, np.array(values), degree)  # degree + 1 points: the interpolant itself

    def transfer(v: np.ndarray) -> np.ndarray:
        out: np.ndarray = cheb.chebval(np.clip(np.asarray(v, dtype=float) / span_v, -1.0, 1.0), coef)
        return out

    return transfer


def sampled_stage_transfer(board: BoardConfig, pair: DiffPair, tail: NortonTail,
                           mirror: BjtParams | MosParams) -> Callable[[np.ndarray], np.ndarray] | None:
    """:func:`sampled_output_transfer` over +-1.5 ``vid_max_vpk`` of a board with a cascoded mirror, or with a MOS
    second stage (node mid is then held by r_o alone, which the bipolar closed form of
    :mod:`models.two_stage_transfer` does not cover); ``None`` for any other board, or when an operating point
    over that span has no solution (the caller falls back to the pair's current)."""
    if board.mirror_cascode_bias_v is None and (board.second_stage is None or board.is_bjt):
        return None
    load = CurrentMirror(mirror, v_cc=board.vcc_v, r_out=board.load_r_ohm, v_return=board.load_return_v)

    def solve(v_in: tuple[float, float]) -> PairOperatingPoint:
        op = variant_operating_point(board, pair, tail, load, v_in)
        assert op is not None
        return op

    try:
        return sampled_output_transfer(board, solve, 1.5 * board.vid_max_vpk)
    except OperatingPointError:
        return None
