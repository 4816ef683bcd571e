"""Every shipped board's simulated truth against ngspice, an independent circuit simulator.

A TOML board's engine netlist is written out as an ngspice deck (``Netlist.to_spice``); a netlist board's own
file goes to ngspice as the user wrote it. Both are driven at the pins by ideal sources at the bias level, as
the simulator's truth is (``SimBoard.small_signal_s``). Targets (issue 12): every mixed-mode gain within
0.05 % and every CMRR within 0.01 dB from 100 Hz to 1 MHz. Without ngspice the tests report themselves skipped.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from instruments.board_config import load_board
from instruments.sim.board import SimBoard
from models import MixedModeGains, db
from procedures.predict.ngspice_board import PINS, small_signal

BOARDS = sorted((Path(__file__).resolve().parents[3] / "configs" / "boards").glob("*.toml"))
FREQ = np.logspace(2, 6, 9)
GAIN_REL = 5e-4
CMRR_DB = 0.01

needs_ngspice = pytest.mark.skipif(shutil.which("ngspice") is None,
                                   reason="ngspice is not installed (Debian: apt-get install ngspice)")


def _ngspice_s(path: Path) -> np.ndarray:
    board = load_board(path)
    if board.netlist is not None:
        nb = board.netlist
        res = small_signal(nb.text, nb.pins, board.bias_v, list(FREQ), board.temperature_k, cwd=nb.folder)
    else:
        deck = SimBoard(board)._build(()).spice_deck(f"{board.name} (diffbench engine netlist)")
        pins = {p: deck.nodes[p] for p in PINS}
        res = small_signal(deck.text, pins, board.bias_v, list(FREQ), board.temperature_k)
    return res.s


@needs_ngspice
@pytest.mark.parametrize("path", BOARDS, ids=[p.stem for p in BOARDS])
def test_simulated_truth_equals_ngspice(path: Path) -> None:
    truth = SimBoard(load_board(path)).small_signal_s(FREQ)
    ref = _ngspice_s(path)
    t, r = (MixedModeGains.from_matrix(np.moveaxis(x, 0, -1)) for x in (truth, ref))
    for name, a, b in (("Add", t.add, r.add), ("Acc", t.acc, r.acc), ("Acd", t.acd, r.acd), ("Adc", t.adc, r.adc)):
        finite = np.abs(b) > 0
        rel = np.abs(a[finite] - b[finite]) / np.abs(b[finite])
        assert rel.max(initial=0.0) < GAIN_REL, f"{name}: {rel.max():.2e} at {FREQ[finite][rel.argmax()]:.3g} Hz"
    for name, a, b in (("CMRR_se1", t.cmrr_se(1), r.cmrr_se(1)), ("CMRR_se2", t.cmrr_se(2), r.cmrr_se(2)),
                       ("CMRR_diff", t.cmrr_diff, r.cmrr_diff)):
        da, dbb = db(a), db(b)
        finite = np.isfinite(da) & np.isfinite(dbb)
        assert np.array_equal(np.isfinite(da), np.isfinite(dbb)), name
        err = np.abs(da[finite] - dbb[finite])
        assert err.max(initial=0.0) < CMRR_DB, f"{name}: {err.max():.4f} dB at {FREQ[finite][err.argmax()]:.3g} Hz"
