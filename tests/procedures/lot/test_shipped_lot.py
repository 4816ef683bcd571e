"""The shipped simulated lot, as a user runs it: ``diffbench lot run configs/lots/sim-bjt-lot.toml`` on its three
simulated benches measures 30 units drawn from tolerances and writes 30 archives, the index and the report.

Checked against what does not come from the lot's code: the yield and Cpk recomputed here from the 30 archives
read with h5py alone (Montgomery's Cpk written out), the failing units against the simulator's own small-signal
solve of each drawn board, and the failing units' suspect against the departure of the unit's true |Add|."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import h5py
import numpy as np
import pytest
import tomllib

from instruments.board_config import load_board, parse_board
from instruments.sim.board import SimBoard
from procedures.cli.main import main
from procedures.lot.index import current_rows, read_index
from procedures.lot.lot_figures import lot_figures
from procedures.lot.lot_index_writer import figure_limits

REPO = Path(__file__).resolve().parents[3]
LOT = REPO / "configs" / "lots" / "sim-bjt-lot.toml"
DESIGN = REPO / "configs" / "boards" / "bjt-source-text.toml"
UNITS = 30


@pytest.fixture(scope="module")
def lot(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The shipped lot measured into a fresh folder, and what the command printed."""
    out = tmp_path_factory.mktemp("shipped") / "lot"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main(["lot", "run", str(LOT), "-o", str(out)])
    assert status == 3, printed.getvalue()[-2000:]  # the tolerances are set so that a few units fail
    return out, printed.getvalue()


def _add_at_1khz(archive: Path) -> float:
    """|Add| at the frequency nearest 1 kHz, from the archive's committed gains rows (h5py alone)."""
    with h5py.File(archive) as f:
        n = int(dict(zip(f["entry/part"].asstr()[()], f["entry/n_committed"][()]))["gains"])
        g = f["entry/gains"]
        i = int(np.argmin(np.abs(np.log(g["frequency_hz"][:n] / 1e3))))
        return abs(complex(g["S"][i, 0, 0]))  # complex in the file (archive format 1.1)


def test_the_lot_writes_every_archive_the_index_and_the_report(lot: tuple[Path, str]) -> None:
    out, printed = lot
    archives = sorted((out / "units").glob("*.h5"))
    assert [a.stem for a in archives] == [f"sim-bjt-lot-{k:04d}" for k in range(1, UNITS + 1)]
    index = read_index(out / "index.h5")
    current = [int(i) for i in current_rows(index)]
    assert len(current) == UNITS and all(str(index["status"][i]) == "done" for i in current)
    assert {str(index["bench"][i]) for i in current} == {"bench-a", "bench-b", "bench-c"}
    assert (out / "report" / "lot-report.html").is_file() and (out / "report" / "hist_Add.png").is_file()
    assert f"lot sim-bjt-lot: {UNITS} measured, 0 failed" in printed


def test_yield_and_cpk_equal_those_recomputed_from_the_archives(lot: tuple[Path, str]) -> None:
    out, _ = lot
    lo, hi = figure_limits(load_board(DESIGN))["Add"]
    assert lo is not None and hi is not None
    add = np.array([_add_at_1khz(a) for a in sorted((out / "units").glob("*.h5"))])
    mean, sigma = float(np.mean(add)), float(np.std(add, ddof=1))
    cpk = min(hi - mean, mean - lo) / (3 * sigma)  # Montgomery, Introduction to Statistical Quality Control
    with_verdicts = []
    for archive in sorted((out / "units").glob("*.h5")):
        with h5py.File(archive) as f:
            with_verdicts.append(bool(np.all(f["entry/results/verdicts/passed"][()])))
    stats = lot_figures(out / "index.h5", {"Add": (lo, hi)})
    assert stats.figures["Add"].capability.cpk == pytest.approx(cpk, rel=1e-9)
    assert stats.overall_yield == pytest.approx(np.mean(with_verdicts), abs=1e-12)
    assert stats.yields["add_rel_tol"] == pytest.approx(np.mean((add >= lo) & (add <= hi)), abs=1e-12)
    assert 0 < sum(not p for p in with_verdicts) <= 5  # a few fail


def test_the_failing_units_are_those_the_simulator_puts_outside_the_limits(lot: tuple[Path, str]) -> None:
    out, printed = lot
    lo, hi = figure_limits(load_board(DESIGN))["Add"]
    assert lo is not None and hi is not None
    index = read_index(out / "index.h5")
    row = {str(index["serial"][i]): int(i) for i in current_rows(index)}
    design_add = abs(SimBoard.from_config(load_board(DESIGN)).small_signal_s(1e3)[0, 0])
    decided = 0
    for board_file in sorted((out / "units").glob("*.board.toml")):
        serial = board_file.name.removesuffix(".board.toml")
        unit = parse_board(tomllib.loads(board_file.read_text(encoding="utf-8")), source=str(board_file))
        true_add = abs(SimBoard.from_config(unit).small_signal_s(1e3)[0, 0])
        margin = 0.005 * true_add  # the measurement's scatter is far below this: decide away from the edges
        i = row[serial]
        if lo + margin < true_add < hi - margin:
            assert int(index["verdict_add_rel_tol"][i]) == 1, serial
            decided += 1
        elif true_add < lo - margin or true_add > hi + margin:
            assert int(index["verdict_add_rel_tol"][i]) == 0, serial
            decided += 1
            # the fault diagnosis: the small-signal fit holds gm at its bias value, so the unit's whole gain
            # departure (tail current and load together) shows in the fitted load R_L
            assert str(index["suspect"][i]) == "small_signal.R_L", serial
            assert float(index["suspect_rel"][i]) == pytest.approx(true_add / design_add - 1, abs=0.003), serial
            assert f"unit {serial}: add_rel_tol fails; suspect small_signal.R_L" in printed
    assert decided >= UNITS - 2
