"""``diffbench lot refit`` and ``lot report --archives``: a small drawn lot measured once, then refitted on a local
Dask cluster of two workers. The refitted rows are checked against fits made here one after another with the
single-run refit (:func:`procedures.fitting.refit.fit_archived`), the verdicts against the ones each run archived
when it was measured, and the source archives byte for byte against what they were before."""

from __future__ import annotations

import hashlib
import math
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from test_lot_run import BOARD, PROCEDURE, lot_text

from instruments.board_config import load_board
from procedures.cli.main import main
from procedures.fitting.refit import fit_archived, fit_options_file
from procedures.lot.index import LotIndex, current_rows, read_index
from procedures.lot.lot_figures import lot_figures
from procedures.lot.lot_index_writer import figure_limits

LOT = lot_text(units="units = 3").replace('name = "quick-lot"', 'name = "refit-lot"')


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-unit drawn lot measured over two simulated benches (its folder; tests copy it before changing it)."""
    tmp = tmp_path_factory.mktemp("refit-lot")
    (tmp / "proc.toml").write_text(PROCEDURE, encoding="utf-8")
    (tmp / "lot.toml").write_text(LOT, encoding="utf-8")
    assert main(["lot", "run", str(tmp / "lot.toml"), "-o", str(tmp / "out")]) in (0, 3)
    return tmp


@pytest.fixture
def lot(measured: Path, tmp_path: Path) -> Path:
    """A copy of the measured lot's folder (its index and archives) that a test may refit."""
    shutil.copytree(measured, tmp_path / "lot")
    return tmp_path / "lot"


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.h5"))}


def _archived_verdicts(path: str) -> dict[str, tuple[float, bool]]:
    """The verdicts a run archived when it was measured, read with h5py alone: limit -> (measured, passed)."""
    with h5py.File(path) as f:
        g = f["entry/results/verdicts"]
        return {str(k): (float(m), bool(p)) for k, m, p in zip(g["limit"].asstr()[()], g["measured"][()],
                                                              g["passed"][()])}


def _current(index: dict[str, np.ndarray]) -> dict[str, dict[str, object]]:
    return {str(index["serial"][i]): {k: v[i] for k, v in index.items()} for i in current_rows(index)}


def test_a_refit_writes_copies_indexes_them_and_leaves_the_archives_alone(
        lot: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = lot / "out"
    before = _digests(out / "units")
    figures_before = lot_figures(out / "index.h5", figure_limits(load_board(BOARD)))
    status = main(["lot", "refit", str(lot / "lot.toml"), "-o", str(out), "--workers", "2"])
    printed = capsys.readouterr().out
    assert status in (0, 3)
    assert _digests(out / "units") == before  # the measured archives, byte for byte
    assert "refitted 3 units into" in printed and "report:" in printed

    index = read_index(out / "index.h5")
    assert list(index["status"]).count("refitted") == 3
    current = _current(index)
    (folder,) = (out / "refits").iterdir()
    assert sorted(p.name for p in folder.glob("*.h5")) == sorted(f"{s}.h5" for s in current)
    for serial, row in current.items():
        assert row["status"] == "refitted" and Path(str(row["archive"])) == folder / f"{serial}.h5"
        source = out / "units" / f"{serial}.h5"
        # the same fits made here, one after another, from the measured archive; the copy holds those alone
        fits = fit_archived(source).fits
        with h5py.File(folder / f"{serial}.h5") as f:
            assert {n for n in f["entry/results"] if n.startswith("fit_")} == {f"fit_{fit.name}" for fit in fits}
        for fit in fits:
            for name, value, stderr in zip(fit.params, fit.values, fit.stderr, strict=True):
                column = f"{fit.name}__{name}"
                assert float(row[column]) == pytest.approx(value, rel=1e-9), column
                assert float(row[column + "_u"]) == pytest.approx(stderr, rel=1e-6), column
        # judged again against the same design: the verdicts the run gave when it was measured
        for limit, (_, passed) in _archived_verdicts(str(source)).items():
            assert int(row[f"verdict_{limit}"]) == int(passed), (serial, limit)
        assert str(row["bench"]) in ("bench-a", "bench-b")
    after = lot_figures(out / "index.h5", figure_limits(load_board(BOARD)))
    assert after.overall_yield == figures_before.overall_yield
    np.testing.assert_allclose(sorted(after.figures["Add"].values), sorted(figures_before.figures["Add"].values),
                               rtol=1e-12)

    # refitted units are measured units: the lot is not measured again
    assert main(["lot", "run", str(lot / "lot.toml"), "-o", str(out)]) in (0, 3)
    assert "3 of 3 units already measured" in capsys.readouterr().out

    # a second refit starts again from the measured archives, not from the first refit's copies
    assert main(["lot", "refit", str(lot / "lot.toml"), "-o", str(out), "--workers", "1"]) in (0, 3)
    capsys.readouterr()
    assert len(list((out / "refits").iterdir())) == 2
    again = read_index(out / "index.h5")
    sources = [str(r) for r, s in zip(again["reason"], again["status"]) if str(s) == "refitted"]
    assert len(sources) == 6 and all("/units/" in r for r in sources)


def test_a_limit_changed_since_the_lot_was_measured_takes_effect(lot: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = lot / "out"
    deviations = {p.stem: _archived_verdicts(str(p))["add_rel_tol"][0] for p in (out / "units").glob("*.h5")}
    tight = float(np.median(np.abs(list(deviations.values()))))  # some units inside, some outside
    board = lot / "tight-board.toml"
    text = BOARD.read_text(encoding="utf-8")
    assert "add_rel_tol" in text
    lines = [f"add_rel_tol = {tight!r}" if line.strip().startswith("add_rel_tol") else line
             for line in text.splitlines()]
    board.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (lot / "tight.toml").write_text(LOT.replace(BOARD.as_posix(), board.as_posix()), encoding="utf-8")
    assert main(["lot", "refit", str(lot / "tight.toml"), "-o", str(out), "--workers", "2"]) == 3
    capsys.readouterr()
    current = _current(read_index(out / "index.h5"))
    for serial, dev in deviations.items():
        assert int(current[serial]["verdict_add_rel_tol"]) == int(abs(dev) <= tight), serial
    assert any(abs(d) > tight for d in deviations.values())


def test_fit_options_given_are_the_ones_used(lot: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = lot / "out"
    fit = lot / "fit.toml"
    fit.write_text('[fit]\nsmall_signal_free = ["R_L", "d_R"]\n', encoding="utf-8")
    assert main(["lot", "refit", str(lot / "lot.toml"), "-o", str(out), "--fit", str(fit)]) in (0, 3)
    capsys.readouterr()
    for serial, row in _current(read_index(out / "index.h5")).items():
        (small,) = [f for f in fit_archived(out / "units" / f"{serial}.h5", fit_options_file(fit)).fits
                    if f.name == "small_signal"]
        assert list(small.params) == ["R_L", "d_R"]
        assert float(row["small_signal__R_L"]) == pytest.approx(small.values[0], rel=1e-9)
        assert math.isnan(float(row["small_signal__C_T"]))  # held, not fitted: no value in the row


def test_a_report_of_any_archives_summarises_them_in_parallel(lot: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    units = sorted((lot / "out" / "units").glob("*.h5"))
    before = _digests(lot / "out" / "units")
    out = tmp_path / "any"
    assert main(["lot", "report", "--archives", *map(str, units), "-o", str(out), "--workers", "2"]) in (0, 3)
    printed = capsys.readouterr().out
    assert "summarised 3 archives" in printed and (out / "report" / "lot-report.html").is_file()
    assert not (out / "refits").exists() and _digests(lot / "out" / "units") == before
    mine = _current(read_index(out / "index.h5"))
    lots = _current(read_index(lot / "out" / "index.h5"))
    assert set(mine) == set(lots)
    for serial, row in mine.items():
        assert row["status"] == "done"
        for column in ("Add", "CMRR_se_db", "passed", "small_signal__R_L"):
            assert float(row[column]) == pytest.approx(float(lots[serial][column]), rel=1e-12), column

    # refitting the same archives elsewhere: copies beside the index, the sources untouched
    refit = ["lot", "refit", "--archives", *map(str, units), "-o", str(tmp_path / "re"), "--workers", "1"]
    assert main(refit) in (0, 3)
    capsys.readouterr()
    (folder,) = (tmp_path / "re" / "refits").iterdir()
    assert sorted(p.name for p in folder.iterdir()) == [u.name for u in units]
    assert _digests(lot / "out" / "units") == before


def test_an_archive_that_cannot_be_refitted_fails_alone(lot: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    units = sorted((lot / "out" / "units").glob("*.h5"))
    broken = tmp_path / "broken.h5"
    broken.write_bytes(units[0].read_bytes()[:4096])  # a copy cut short
    out = tmp_path / "re"
    assert main(["lot", "refit", "--archives", str(broken), *map(str, units[1:]), "-o", str(out)]) == 3
    printed = capsys.readouterr().out
    assert "broken: NOT refitted" in printed
    assert sorted(str(s) for s in read_index(out / "index.h5")["serial"]) == sorted(u.stem for u in units[1:])


@pytest.mark.parametrize(("args", "says"), [
    (["lot", "refit", "--archives", "no-such.h5", "-o", "{tmp}/x"], "no such archive"),
    (["lot", "report", "--archives", "{unit}", "{unit}", "-o", "{tmp}/x"], "same file name"),
    (["lot", "refit", "--archives", "{unit}"], "-o"),
    (["lot", "refit", "{lot}/lot.toml", "-o", "{tmp}/empty"], "no lot index here"),
    (["lot", "refit", "{lot}/lot.toml", "-o", "{lot}/out", "--workers", "0"], "--workers"),
    (["lot", "refit", "{lot}/lot.toml", "-o", "{lot}/out", "--scheduler", "tcp://127.0.0.1:9"], "does not answer"),
], ids=["missing-archive", "duplicate-name", "no-out", "no-index", "zero-workers", "dead-scheduler"])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(lot: Path, tmp_path: Path, args: list[str], says: str,
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # nothing listens on port 9: Dask retries until the timeout, which need not be the 10 s a real network gets
    monkeypatch.setattr("procedures.lot.dask_client.CONNECT_TIMEOUT_S", 2.0)
    unit = sorted((lot / "out" / "units").glob("*.h5"))[0]
    (tmp_path / "empty").mkdir()
    before = _digests(lot / "out")
    rows = len(read_index(lot / "out" / "index.h5")["serial"])
    filled = [a.format(tmp=tmp_path, unit=unit, lot=lot) for a in args]
    assert main(filled) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and says in err, err
    assert not (tmp_path / "x").exists() and not (lot / "out" / "refits").exists()
    assert _digests(lot / "out") == before and len(read_index(lot / "out" / "index.h5")["serial"]) == rows


def test_a_lot_being_written_is_not_refitted(lot: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with LotIndex.open(lot / "out" / "index.h5"):  # as a lot run holds it
        assert main(["lot", "refit", str(lot / "lot.toml"), "-o", str(lot / "out"), "--workers", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "open for writing in another process" in err
    assert not (lot / "out" / "refits").exists()
