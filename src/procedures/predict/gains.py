"""The predicted small-signal gains of any board, from whatever predicts it: the closed-form models of its
family (:mod:`.prediction`) or, for a netlist board without one, ngspice (:mod:`.netlist_prediction`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from instruments.board_config import BoardConfig
from models import MixedModeGains


@dataclass(frozen=True)
class GainsPrediction:
    """The small-signal prediction of a board, whichever predicts it: ``source`` (``"closed-form models"`` or
    ``"ngspice"``), the gains at ``freq_hz`` (Hz) and at DC (the closed form at 0 Hz; ngspice at
    :data:`~procedures.predict.netlist_prediction.DC_PROBE_HZ`), the -3 dB bandwidth and the tail zero (Hz; only
    the closed form gives them, else ``None``) and the prediction's warnings."""

    source: str
    freq_hz: np.ndarray
    gains: MixedModeGains
    dc_gains: MixedModeGains
    bandwidth_hz: float | None
    tail_zero_hz: float | None
    warnings: tuple[str, ...]


def predicted_by_ngspice(board: BoardConfig) -> bool:
    """Whether ngspice predicts ``board`` (a netlist board with no closed-form family, or one that asks for it)."""
    return board.netlist is not None and board.netlist.prediction == "ngspice"


def predicted_small_signal(board: BoardConfig, freq_hz: np.ndarray) -> GainsPrediction:
    """The small-signal prediction of ``board`` at ``freq_hz`` (Hz) at its nominal values (class docstring).
    Without ngspice, an ngspice board raises :class:`~procedures.predict.ngspice_run.NgspiceMissing` (one line)."""
    if predicted_by_ngspice(board):
        from .netlist_prediction import predict_netlist

        n = predict_netlist(board, freq_hz)
        return GainsPrediction("ngspice", n.freq_hz, n.gains, n.dc_gains, None, None, n.warnings)
    from .prediction import predict

    p = predict(board, freq_hz)
    return GainsPrediction("closed-form models", p.freq_hz, p.gains, p.dc_gains, p.bandwidth_hz, p.tail_zero_hz,
                           p.warnings)


def predicted_gains(board: BoardConfig, freq_hz: np.ndarray) -> MixedModeGains:
    """Mixed-mode gains of ``board`` at ``freq_hz`` (Hz) at its nominal values."""
    return predicted_small_signal(board, freq_hz).gains
