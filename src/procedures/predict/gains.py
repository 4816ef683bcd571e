"""The predicted small-signal gains of any board, from whatever predicts it: the closed-form models of its
family (:mod:`.prediction`) or, for a netlist board without one, ngspice (:mod:`.netlist_prediction`)."""

from __future__ import annotations

import numpy as np

from instruments.board_config import BoardConfig
from models import MixedModeGains


def predicted_gains(board: BoardConfig, freq_hz: np.ndarray) -> MixedModeGains:
    """Mixed-mode gains of ``board`` at ``freq_hz`` (Hz) at its nominal values."""
    if board.netlist is not None and board.netlist.prediction == "ngspice":
        from .netlist_prediction import predict_netlist

        return predict_netlist(board, freq_hz).gains
    from .prediction import predict

    return predict(board, freq_hz).gains
