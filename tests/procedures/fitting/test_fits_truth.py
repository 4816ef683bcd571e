"""The small-signal fit against the simulator's exact S(f), no measurement chain: for every board config the
fit, started from deliberately wrong nominal values, lands on the simulated board's component values.

The "measurement" here is SimBoard.small_signal_s (the transistor-level board's own linearisation) with a
synthetic 1e-4 relative uncertainty; the nominal board handed to the fit has its tail, load and capacitances
off by 10-50 %, so the fit has to move every free parameter to the truth. Fast (no bench), so it runs for
all boards, including the active load and the 100 dB CMRR board.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from fits_truth import closed_form_boards
from instruments.board_config import BoardConfig, load_board
from instruments.sim.board import SimBoard
from procedures.fitting.core import FitError
from procedures.fitting.small_signal import fit_small_signal
from procedures.predict.mapping import operating_point, small_signal_circuit

BOARDS = closed_form_boards()
F = np.geomspace(100.0, 2e6, 12)


def _table(board: BoardConfig, rel_u: float = 1e-4) -> dict[str, np.ndarray]:
    S = SimBoard.from_config(board).small_signal_s(F)
    u = rel_u * np.abs(S).reshape(len(F), 4)
    cov = np.zeros((len(F), 8, 8))
    for k in range(4):
        cov[:, 2 * k, 2 * k] = cov[:, 2 * k + 1, 2 * k + 1] = u[:, k] ** 2
    return {"frequency_hz": F, "S": S, "S_cov": cov}


def _wrong(board: BoardConfig) -> BoardConfig:
    return dataclasses.replace(board, tail_r_ohm=board.tail_r_ohm * 1.5, tail_c_f=board.tail_c_f * 0.7,
                               load_r_ohm=board.load_r_ohm * 1.1, load_c_f=board.load_c_f * 1.3,
                               mismatch_load_r=0.0, mismatch_load_c=0.02)


def _tail_r(board: BoardConfig) -> float:
    """The tail's output resistance: the config's, or a transistor tail's at its operating point (the models'; the
    simulator reports none; the models agree with its S to ~3e-5 in R_EE, test_models_vs_simulator)."""
    if board.tail_kind != "transistor":
        return board.tail_r_ohm
    return float(np.asarray(small_signal_circuit(board, operating_point(board))[3].r))


@pytest.mark.parametrize("path", BOARDS, ids=[p.stem for p in BOARDS])
def test_fit_of_the_exact_response_recovers_the_components(path: Path) -> None:
    truth = load_board(path)
    fit = fit_small_signal(_table(truth), _wrong(truth), {})
    expect = {"R_L": truth.load_r_ohm, "C_L": truth.load_c_f, "R_EE": _tail_r(truth), "C_T": truth.tail_c_f}
    for name, value in expect.items():
        assert fit.value(name) == pytest.approx(value, rel=1e-4), name
    if "d_R" in fit.params:
        assert fit.value("d_R") == pytest.approx(truth.mismatch_load_r, abs=1e-6)
    assert fit.value("d_C") == pytest.approx(truth.mismatch_load_c, abs=1e-5)
    # the nominal (wrong) board's prediction is far off, the fit is not
    add_fit = np.abs(fit.fitted["Acc"] / fit.measured["Acc"] - 1).max()
    add_pred = np.abs(fit.predicted["Acc"] / fit.measured["Acc"] - 1).max()
    assert add_fit < 1e-3 < 0.1 < add_pred


def test_gm_and_load_cannot_both_be_free() -> None:
    board = load_board(BOARDS[0])
    with pytest.raises(FitError, match="gm and R_L"):
        fit_small_signal(_table(board), board, {"small_signal_free": ["gm", "R_L", "C_L"]})
    with pytest.raises(FitError, match="unknown parameter"):
        fit_small_signal(_table(board), board, {"small_signal_free": ["R_load"]})
