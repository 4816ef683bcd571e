"""The frequency sweep on the two active-load variants (the telescopic stage and the fig. 5-12 two-stage amplifier)
through the whole simulated bench, against the simulated board's own small-signal truth.

Both boards have gains of 200-370, so their limits allow the shipped procedure's drive (2 mV, and 3.4 mV for
its extrapolation point, 0.85 of their linear limit) and little more; the measured Add, CMRR_se2 (the
amplifier output's) and CMRR_diff must lie within three of their reported standard uncertainties of the
truth, and the board's pass/fail limits must pass.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from instruments.board_config import load_board
from instruments.sim.board import SimBoard
from procedures.run.runner import run_procedure

ROOT = Path(__file__).resolve().parents[3]
BOARDS = ROOT / "configs" / "boards"
BENCH = ROOT / "configs" / "benches" / "sim-keysight.toml"
SHIPPED = ROOT / "configs" / "procedures" / "frequency-sweep.toml"


def _db(x: complex) -> float:
    return float(20 * np.log10(abs(x)))


@pytest.mark.parametrize("board", ["bjt-two-stage", "mos-telescopic"])
def test_gains_and_cmrrs_at_1khz_match_truth(tmp_path: Path, board: str) -> None:
    body = SHIPPED.read_text(encoding="utf-8")
    start, stop = body.index("[frequency]"), body.index("[acquisition]")
    proc = tmp_path / "procedure.toml"
    proc.write_text(body[:start] + "[frequency]\nlist_hz = [1000.0]\n\n" + body[stop:], encoding="utf-8")
    path = BOARDS / f"{board}.toml"
    out = run_procedure(proc, BENCH, path, tmp_path / "run.h5")
    assert out.status == "complete"
    (row,) = out.results["gains"]
    T = SimBoard.from_config(load_board(path)).small_signal_s(1000.0)
    S, S_u = row["S"], np.real(row["S_u"])
    assert abs(S[0, 0] - T[0, 0]) < 3 * S_u[0, 0], f"Add {S[0, 0]:.6g} vs {T[0, 0]:.6g} (u {S_u[0, 0]:.2g})"
    se2 = _db((-T[0, 0] / 2 + T[1, 0]) / (T[1, 1] - T[0, 1] / 2))
    diff = _db(T[0, 0] / T[0, 1])
    assert abs(row["CMRR_se2_db"] - se2) < 3 * row["CMRR_se2_db_u"], (row["CMRR_se2_db"], se2)
    assert abs(row["CMRR_diff_db"] - diff) < 3 * row["CMRR_diff_db_u"], (row["CMRR_diff_db"], diff)
    assert all(v.passed for v in out.verdicts), [v.description for v in out.verdicts if not v.passed]
