"""The prediction of a netlist board with no closed-form family: ngspice's operating point and gains.

ngspice (:mod:`.ngspice_board`) solves the user's own netlist, so this prediction shares no code with the
simulated board's engine nor with the closed-form models. What it gives: the node voltages at rest (both pins
at the bias level), the mixed-mode gains ``S = T H T^-1`` over frequency (``models.mixed_mode``), the DC
(lowest-frequency) gains, and the -3 dB frequency of the output's gain found on the frequency grid asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from instruments.board_config import BoardConfig
from models import MixedModeGains, db

from .ngspice_board import small_signal

DC_PROBE_HZ = 1e-3
"""The frequency that stands for DC in the AC analysis, Hz: the generators' lowest frequency, so the "DC"
gains are those a bench can measure."""


@dataclass(frozen=True)
class NetlistPrediction:
    """ngspice's prediction of a netlist board: node voltages (V), gains at ``freq_hz`` and at DC, warnings."""

    board: BoardConfig
    node_v: dict[str, float]
    freq_hz: np.ndarray
    gains: MixedModeGains
    dc_gains: MixedModeGains
    warnings: tuple[str, ...]

    @property
    def source(self) -> str:
        return "ngspice"


def predict_netlist(board: BoardConfig, freq_hz: np.ndarray) -> NetlistPrediction:
    """ngspice's operating point and mixed-mode gains of a netlist board at ``freq_hz`` (Hz)."""
    nb = board.netlist
    if nb is None:
        raise ValueError(f"{board.source}: not a netlist board")
    f = np.atleast_1d(np.asarray(freq_hz, dtype=float))
    nodes = [n for n in nb.circuit.nodes]
    res = small_signal(nb.text, nb.pins, board.bias_v, [DC_PROBE_HZ, *map(float, f)], board.temperature_k,
                       op_nodes=nodes, cwd=nb.folder, what=f"{board.source}: the prediction")
    s = np.moveaxis(res.s, 0, -1)  # (2, 2, F)
    gains = MixedModeGains.from_matrix(s[:, :, 1:])
    dc = MixedModeGains.from_matrix(s[:, :, 0])
    return NetlistPrediction(board=board, node_v=res.op, freq_hz=f, gains=gains, dc_gains=dc,
                             warnings=nb.warnings)


def _row(f: float, g: MixedModeGains, i: int) -> str:
    def cell(x: np.ndarray) -> str:
        v = float(db(np.asarray(x)[i]))
        return f"{v:>11.2f}" if math.isfinite(v) else f"{'inf' if v > 0 else 'n/a':>11}"
    return (f"  {f:>10.4g}" + "".join(cell(x) for x in (g.add, g.acc, g.acd, g.adc))
            + "".join(cell(x) for x in (g.cmrr_se(1), g.cmrr_se(2), g.cmrr_diff)))


def format_netlist_report(pred: NetlistPrediction) -> str:
    """The human-readable ngspice prediction: header, warnings, node voltages, gain table."""
    b = pred.board
    nb = b.netlist
    assert nb is not None
    lines = [f"Board {b.name}: {b.description}", f"  netlist {nb.path}; predicted by ngspice (no closed-form family)",
             "  pins: " + ", ".join(f"{p} = {n}" for p, n in nb.pins.items()), f"  inputs at {b.bias_v:g} V"]
    lines += [f"  warning: {w}" for w in pred.warnings]
    lines += ["", "Operating point (node voltages, V)"]
    lines += [f"  {n:<16} {v:>12.6g}" for n, v in pred.node_v.items()]
    lines += ["", "Small-signal gains: |A| in dB; CMRRs in dB",
              f"  {'f (Hz)':>10}" + "".join(f" {n:>10}" for n in ("Add", "Acc", "Acd", "Adc", "CMRR_se1",
                                                                   "CMRR_se2", "CMRR_diff"))]
    lines += [_row(float(f), pred.gains, i) for i, f in enumerate(pred.freq_hz)]
    return "\n".join(lines)


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def netlist_json(pred: NetlistPrediction) -> dict[str, object]:
    """The ngspice prediction as JSON-ready data: ``board``, ``source`` ("ngspice"), ``warnings``, ``node_v``
    (V), ``freq_hz`` and, per gain and CMRR, ``db`` lists (null where infinite) and, per gain, ``deg``."""
    g = pred.gains
    gains = {name: {"db": [_finite(float(v)) for v in db(x)], "deg": [float(v) for v in np.degrees(np.angle(x))]}
             for name, x in (("Add", g.add), ("Acc", g.acc), ("Acd", g.acd), ("Adc", g.adc))}
    cmrrs = {name: {"db": [_finite(float(v)) for v in db(x)]}
             for name, x in (("CMRR_se1", g.cmrr_se(1)), ("CMRR_se2", g.cmrr_se(2)), ("CMRR_diff", g.cmrr_diff))}
    return {"board": pred.board.name, "source": pred.source, "warnings": list(pred.warnings),
            "node_v": pred.node_v, "freq_hz": [float(f) for f in pred.freq_hz], "gains": gains, "cmrr": cmrrs}
