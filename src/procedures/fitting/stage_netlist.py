"""A board's whole stage as a netlist for the nodal DC solve of :mod:`procedures.fitting.nodal_dc`.

The circuit is the board config's (instruments.board_config; the same circuit the simulated board builds), from the
model arguments :mod:`procedures.predict.mapping` maps it to: the pair with its mismatch, series and degeneration
resistors and the Norton tail (:func:`~procedures.predict.mapping.dc_pair`), the cascode devices
(:func:`~procedures.predict.mapping.board_cascode`), the mirror device
(:func:`~procedures.predict.mapping.mirror_device`) and the second stage's device
(:func:`~procedures.predict.stage_mapping.output_stage`). Nodes: pins ``in1``/``in2``, bases ``b1``/``b2`` (the pins
without a source resistor), emitters ``e1``/``e2`` (the tail node without degeneration), ``tail``, the pair's
collectors ``c1``/``c2`` (the outputs without a cascode), outputs ``out1``/``out2``, ``mid`` (side 2's output
with a second stage), the cascoded mirror's ``xm1``/``xm2``; held: ``in1``, ``in2``, ``vcc``, ``vee``, ``ret`` (the
load return), ``casc`` and ``mcasc`` (the cascode biases).

- resistive load: ``R_L (1 -+ d_R/2)`` from each output to ``ret``;
- simple mirror (source text fig. 5-10): the diode device from vcc to out1, the output device from vcc to out2
  (side 2's output), bases/gates on out1, ``R_L`` (R1) from out2 to ``ret``;
- cascoded mirror (Razavi, *Design of Analog CMOS Integrated Circuits*, ch. 9, the telescopic stage): mirror
  devices from vcc to ``xm1``/``xm2`` with their gates on out1, cascodes from ``xm1`` to out1 and ``xm2`` to out2
  with their gates at ``mcasc``, R1 from out2 to ``ret``;
- second stage (source text fig. 5-12): the simple mirror into ``mid``, the stage device from vcc to out2 with its
  base/gate on ``mid``, the sink I2 in parallel with its resistance from out2 to vee, ``R_L`` from out2 to ``ret``.

The guess at rest (for the first solve's homotopy) puts each side at half the tail current: control voltages
from the device laws in forward activity (Early factor 1), the high-impedance outputs at ``ret``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from instruments.board_config import BoardConfig
from models import BjtParams, DiffPair, MosParams, NortonTail, split
from procedures.fitting.nodal_dc import Netlist, Transistor
from procedures.predict.mapping import mirror_device
from procedures.predict.stage_mapping import output_stage


@dataclass(frozen=True)
class StageParts:
    """What the fit parameters change: the pair (devices, thermal voltage, series and degeneration resistors,
    cascode), the tail, and the load resistor ``r_load`` (Ohm: each resistive load, or R1 of an active load)."""

    pair: DiffPair
    tail: NortonTail
    r_load: float


def held_nodes(board: BoardConfig) -> list[str]:
    """The held nodes of the board's netlist, in the order of :func:`held_levels`."""
    out = ["in1", "in2", "vcc", "vee", "ret"]
    if board.cascode:
        out.append("casc")
    if board.mirror_cascode_bias_v is not None:
        out.append("mcasc")
    return out


def held_levels(board: BoardConfig) -> list[float]:
    """The held nodes' voltages at rest (V): the pins at the input bias."""
    out = [board.bias_v, board.bias_v, board.vcc_v, board.vee_v, board.load_return_v]
    if board.cascode:
        assert board.cascode_bias_v is not None
        out.append(board.cascode_bias_v)
    if board.mirror_cascode_bias_v is not None:
        out.append(board.mirror_cascode_bias_v)
    return out


def _control_v(dev: BjtParams | MosParams, vt: float, i: float) -> float:
    """V_BE (V_GS) of ``dev`` carrying ``i`` (A) in forward activity, Early factor 1 (the guess's levels)."""
    if isinstance(dev, BjtParams):
        return vt * math.log(max(i, 1e-15) / dev.i_s)
    return dev.vth + math.sqrt(2.0 * max(i, 0.0) / dev.kp)


def _side2_output(board: BoardConfig) -> str:
    return "mid" if board.second_stage is not None else "out2"


def _add_pair(net: Netlist, board: BoardConfig, parts: StageParts, guess: dict[str, float]) -> None:
    """The pair, its series and degeneration resistors, the cascodes and the tail."""
    pair, i_half = parts.pair, 0.5 * parts.tail.current
    outputs = ("out1", _side2_output(board))
    for k, dev in enumerate(pair.devices, start=1):
        base, emitter = (f"b{k}" if pair.r_source > 0 else f"in{k}"), (f"e{k}" if pair.r_degen > 0 else "tail")
        collector = f"c{k}" if pair.cascode is not None else outputs[k - 1]
        if pair.r_source > 0:
            net.resistor(f"in{k}", base, pair.r_source)
            guess[base] = board.bias_v
        if pair.r_degen > 0:
            net.resistor(emitter, "tail", pair.r_degen)
        net.transistor(Transistor(f"pair{k}", dev, 1, collector, base, emitter))
        guess[emitter] = board.bias_v - _control_v(dev, pair.vt, i_half)
        guess["tail"] = guess[emitter] - pair.r_degen * i_half
        if pair.cascode is not None:
            casc = pair.cascode.devices[k - 1]
            net.transistor(Transistor(f"cascode{k}", casc, 1, outputs[k - 1], "casc", collector))
            guess[collector] = pair.cascode.bias_v - _control_v(casc, pair.vt, i_half)
    net.isource("tail", "vee", parts.tail.current)
    net.resistor("tail", "vee", parts.tail.r_out)


def _add_load(net: Netlist, board: BoardConfig, parts: StageParts, guess: dict[str, float]) -> None:
    """The resistive load, or the mirror (simple, cascoded, or with the second stage) and R1 (module docstring)."""
    i_half = 0.5 * parts.tail.current
    if board.load_type == "resistive":
        r1, r2 = split(parts.r_load, board.mismatch_load_r)
        for k, r in ((1, float(r1)), (2, float(r2))):
            net.resistor(f"out{k}", "ret", r)
            guess[f"out{k}"] = board.load_return_v - r * i_half
        return
    m, vt = mirror_device(board), parts.pair.vt
    v_m = _control_v(m, vt, i_half)
    guess["out1"], guess["out2"] = board.vcc_v - v_m, board.load_return_v
    if board.mirror_cascode_bias_v is not None:
        for k in (1, 2):
            net.transistor(Transistor(f"mirror{k}", m, -1, f"xm{k}", "out1", "vcc"))
            net.transistor(Transistor(f"mirror_cascode{k}", m, -1, f"out{k}", "mcasc", f"xm{k}"))
            guess[f"xm{k}"] = board.mirror_cascode_bias_v + v_m
    else:
        side2 = _side2_output(board)
        net.transistor(Transistor("mirror1", m, -1, "out1", "out1", "vcc"))
        net.transistor(Transistor("mirror2", m, -1, side2, "out1", "vcc"))
        if board.second_stage is not None:
            st = output_stage(board, m)
            net.transistor(Transistor("stage2", st.device, -1, "out2", "mid", "vcc"))
            net.isource("out2", "vee", st.sink_current)
            net.resistor("out2", "vee", st.sink_r)
            guess["mid"] = guess["out1"]
    net.resistor("out2", "ret", parts.r_load)


def stage_netlist(board: BoardConfig, parts: StageParts) -> tuple[Netlist, dict[str, float]]:
    """The board's stage with ``parts`` (module docstring), and a guess of its unknown nodes at rest (V)."""
    net = Netlist(held=held_nodes(board))
    guess: dict[str, float] = {}
    _add_pair(net, board, parts, guess)
    _add_load(net, board, parts, guess)
    return net, guess
