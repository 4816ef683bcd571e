"""``diffbench lot run`` on simulated benches: bad configs refused in one line, a small drawn lot measured over
two benches (one worker process each), its index against the units' own archives and the simulator's truth,
and a second run that measures nothing again."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import tomllib

from instruments.board_config import load_board, parse_board
from instruments.sim.board import SimBoard
from procedures.cli.main import main
from procedures.lot.index import read_index
from procedures.lot.lot_figures import lot_figures
from procedures.lot.lot_index_writer import figure_limits
from procedures.lot.statistics import capability

REPO = Path(__file__).resolve().parents[3]
BOARD = REPO / "configs" / "boards" / "bjt-source-text.toml"
BENCH = REPO / "configs" / "benches" / "sim-keysight.toml"

PROCEDURE = """
[procedure]
name = "lot-quick"
kind = "frequency_sweep"
description = "two frequencies, short records"

[drive]
vid_vpk = 0.002
vic_vpk = 0.3

[frequency]
start_hz = 1000.0
stop_hz = 10000.0
points = 2

[acquisition]
record_points = 20000
"""


def lot_text(units: str = "units = 4", tolerances: str = "[tolerances]\nseed = 5\nresistor_pct = 6.0\n"
             "matching_pct = 3.0\n", board: Path = BOARD) -> str:
    return (f'[lot]\nname = "quick-lot"\nboard = "{board.as_posix()}"\nprocedure = "proc.toml"\n{units}\n\n'
            f'[benches]\nbench-a = "{BENCH.as_posix()}"\nbench-b = "{BENCH.as_posix()}"\n\n{tolerances}')


def write_lot(tmp_path: Path, text: str) -> Path:
    (tmp_path / "proc.toml").write_text(PROCEDURE, encoding="utf-8")
    path = tmp_path / "lot.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "says"), [
    (lot_text(board=REPO / "configs" / "boards" / "no-such-board.toml"), "no such file"),
    (lot_text(tolerances="[tolerances]\nresistor_pct = 80.0\n"), "resistor_pct"),
    (lot_text(units='serials = ["A1", "A2", "A1"]', tolerances=""), "listed twice"),
    (lot_text(units='units = 3\nserials = ["A1"]'), "exactly one of"),
    (lot_text(tolerances="[tolerances]\nresistance_pct = 1.0\n"), "resistance_pct"),
], ids=["unknown-board", "tolerance-out-of-range", "duplicate-serial", "two-ways", "unknown-tolerance"])
def test_a_bad_lot_config_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                                                 says: str) -> None:
    lot = write_lot(tmp_path, text)
    assert main(["lot", "run", str(lot), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and says in err and err.startswith("diffbench lot: error:")
    assert not (tmp_path / "out").exists()  # nothing made, nothing started


def test_a_procedure_no_bench_can_run_is_one_line_and_exit_2(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    lot = write_lot(tmp_path, lot_text())
    (tmp_path / "proc.toml").write_text(PROCEDURE.replace("vid_vpk = 0.002", "vid_vpk = 0.9"), encoding="utf-8")
    assert main(["lot", "run", str(lot), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "vid_max_vpk" in err
    assert not (tmp_path / "out").exists()  # refused before any worker, nothing made


def test_a_scheduler_that_does_not_answer_is_one_line_and_exit_2(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # nothing listens on port 9: Dask retries until the timeout, which need not be the 10 s a real network gets
    monkeypatch.setattr("procedures.lot.dask_client.CONNECT_TIMEOUT_S", 2.0)
    lot = write_lot(tmp_path, lot_text())
    assert main(["lot", "run", str(lot), "-o", str(tmp_path / "out"), "--scheduler", "tcp://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "does not answer" in err
    assert not (tmp_path / "out").exists()  # the folder made for the lot is taken back
    (tmp_path / "kept").mkdir()  # one that was there before stays
    assert main(["lot", "run", str(lot), "-o", str(tmp_path / "kept"), "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert (tmp_path / "kept").is_dir()


def test_a_drawn_lot_is_measured_indexed_and_not_measured_twice(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    lot = write_lot(tmp_path, lot_text())
    out = tmp_path / "out"
    status = main(["lot", "run", str(lot), "-o", str(out)])
    printed = capsys.readouterr().out
    assert status in (0, 3)
    archives = sorted((out / "units").glob("*.h5"))
    assert [a.stem for a in archives] == [f"quick-lot-{k:04d}" for k in (1, 2, 3, 4)]
    assert {"bench-a", "bench-b"} <= {line.split(":")[0] for line in printed.splitlines() if " done in " in line}

    # the index's figures against the archives read with h5py alone, and the simulator's truth
    design = load_board(BOARD)
    limits = figure_limits(design)
    add, cmrr_se, verdict_add = [], [], []
    for archive in archives:
        with h5py.File(archive) as f:
            gains = f["entry/gains"]
            n = int(dict(zip(f["entry/part"].asstr()[()], f["entry/n_committed"][()]))["gains"])
            freq = gains["frequency_hz"][:n]
            i = int(np.argmin(np.abs(np.log(freq / 1e3))))
            add.append(abs(complex(gains["S"][i, 0, 0])))  # complex in the file (archive format 1.1)
            cmrr_se.append(min(float(gains[c][j]) for c in ("CMRR_se1_db", "CMRR_se2_db") for j in range(n)
                               if freq[j] <= 10e3 * (1 + 1e-9)))
        unit = parse_board(tomllib.loads(archive.with_suffix(".board.toml").read_text()), source=str(archive))
        true_add = abs(SimBoard.from_config(unit).small_signal_s(1e3)[0, 0])
        lo, hi = limits["Add"]
        assert lo is not None and hi is not None
        verdict_add.append((true_add, lo, hi))
    stats = lot_figures(out / "index.h5", {"Add": limits["Add"], "CMRR_se_db": limits["CMRR_se_db"]})
    assert sorted(stats.serials) == [a.stem for a in archives]
    order = [list(stats.serials).index(a.stem) for a in archives]
    np.testing.assert_allclose(stats.figures["Add"].values[order], add, rtol=1e-12)
    expected = capability(np.array(add), *limits["Add"])
    assert stats.figures["Add"].capability.cpk == pytest.approx(expected.cpk, rel=1e-12)
    np.testing.assert_allclose(stats.figures["CMRR_se_db"].values[order], cmrr_se, rtol=1e-12)
    index = read_index(out / "index.h5")
    passed = {str(s): int(v) for s, v, st in zip(index["serial"], index["verdict_add_rel_tol"], index["status"])
              if str(st) == "done"}
    for archive, (true_add, lo, hi), measured in zip(archives, verdict_add, add):
        margin = 0.01 * true_add  # the measurement's own scatter is far below 1 %: decide away from the edge
        if lo + margin < true_add < hi - margin:
            assert passed[archive.stem] == 1, archive.stem
        elif true_add < lo - margin or true_add > hi + margin:
            assert passed[archive.stem] == 0, archive.stem
        assert measured == pytest.approx(true_add, rel=0.01)
    yields = stats.yields["add_rel_tol"]
    assert yields == pytest.approx(np.mean([lo <= a <= hi for a, (_, lo, hi) in zip(add, verdict_add)]))

    rows = len(read_index(out / "index.h5")["serial"])
    assert main(["lot", "run", str(lot), "-o", str(out)]) in (0, 3)
    assert "4 of 4 units already measured" in capsys.readouterr().out
    assert len(read_index(out / "index.h5")["serial"]) == rows  # nothing measured twice

    # archives complete but the index lost (a lot stopped between a unit's end and its row): recorded, not
    # re-measured; one of them killed in the instant between finishing its archive and renaming it
    mtimes = {a: a.stat().st_mtime_ns for a in archives}
    (out / "index.h5").unlink()
    unrenamed = archives[1].with_name(archives[1].name + ".partial")
    archives[1].rename(unrenamed)
    assert main(["lot", "run", str(lot), "-o", str(out)]) in (0, 3)
    assert capsys.readouterr().out.count("recorded without measuring it again") == 4
    assert {a: a.stat().st_mtime_ns for a in archives} == mtimes and not unrenamed.exists()
    again = lot_figures(out / "index.h5", {"Add": limits["Add"]})
    np.testing.assert_allclose(sorted(again.figures["Add"].values), sorted(add), rtol=1e-12)
