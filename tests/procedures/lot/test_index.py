"""The lot index: rows in and out, the current state of each unit, kill -9 safety, reopening, plain readers
(xarray with h5netcdf, h5py alone, pandas) and the lot's figures and yields."""

from __future__ import annotations

import dataclasses
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from procedures.analysis.verdicts import Verdict
from procedures.archive.spec import ArchiveError
from procedures.archive.writer import Column, RunArchive, RunDeclaration, TableSpec
from procedures.fitting.departures import Suspect
from procedures.lot.index import MEASURED_STATUSES, STATUSES, TABLE, LotIndex, LotRow, read_index
from procedures.lot.lot_figures import failing_diagnoses, lot_figures
from procedures.lot.unit_summary import FIGURE_NAMES, FIGURES, Figure, UnitSummary

LIMITS = ("thd_max", "offset_max_v")
COMPONENTS = {"small_signal.R_L": "Ohm", "large_signal.i_tail": "A"}
T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def _summary(serial: str, add: float, thd_passed: bool | None, offset_passed: bool = True) -> UnitSummary:
    """A unit's summary as summarise_run would give it: |Add| = ``add``, the other figures fixed."""
    figures = {name: Figure(1.0, 0.01, unit) for name, (unit, _) in FIGURES.items()}
    figures["Add"] = Figure(add, 0.02, "1")
    verdicts = [Verdict("offset_max_v", "offset", 1e-4, math.nan, 5e-3, "V", offset_passed)]
    if thd_passed is not None:
        verdicts.insert(0, Verdict("thd_max", "THD", 0.003, math.nan, 0.01, "1", thd_passed))
    return UnitSummary(path=Path(f"units/{serial}.h5"), run_status="complete", reason="", run_id=serial,
                       start_time="2027-01-15T08:00:00.000000Z", end_time="2027-01-15T08:00:30.000000Z",
                       board="bjt-source-text", bench="sim-keysight", figures=figures, verdicts=tuple(verdicts),
                       components={"small_signal.R_L": Figure(40e3 + add, 2.0, "Ohm")})


def _create(path: Path) -> LotIndex:
    return LotIndex.create(path, verdict_names=LIMITS, component_names=COMPONENTS, lot="L-001")


def _fill(ix: LotIndex) -> None:
    """A1 done first time; A2 failed on bench b2, re-queued and done on b1; A3 only started."""
    ix.append(LotRow("A1", "started", bench="b1", start_s=T0))
    ix.append(LotRow("A2", "started", bench="b2", start_s=T0))
    ix.append(LotRow("A1", "done", bench="b1", start_s=T0, end_s=T0 + 30, summary=_summary("A1", 76.0, True)))
    ix.append(LotRow("A2", "bench-failed", bench="b2", start_s=T0, end_s=T0 + 5, reason="scope lost"))
    ix.append(LotRow("A2", "requeued", bench="b2", reason="scope lost"))
    ix.append(LotRow("A2", "started", bench="b1", attempt=2, start_s=T0 + 40))
    ix.append({"serial": "A3", "status": "started", "bench": "b2", "start_s": T0 + 41})
    ix.append(LotRow("A2", "done", bench="b1", attempt=2, start_s=T0 + 40, end_s=T0 + 70,
                     summary=_summary("A2", 75.0, None)))


def test_rows_round_trip_and_current_is_the_last_row_of_each_serial(tmp_path: Path) -> None:
    path = tmp_path / "index.h5"
    with _create(path) as ix:
        _fill(ix)
        assert ix.n_rows == 8
        current = ix.current()
        assert ix.done() == {"A1", "A2"}
    assert list(current) == ["A1", "A2", "A3"]
    assert [current[s]["status"] for s in current] == ["done", "done", "started"]
    a2 = current["A2"]
    assert (a2["bench"], a2["attempt"], a2["archive"], a2["run_status"]) == ("b1", 2, "units/A2.h5", "complete")
    assert a2["start_time"] == "2027-01-15T08:00:40.000000Z" and a2["end_s"] == T0 + 70
    assert a2["Add"] == 75.0 and a2["Add_u"] == 0.02 and a2["small_signal__R_L"] == 40075.0
    assert math.isnan(a2["large_signal__i_tail"]) and math.isnan(a2["large_signal__i_tail_u"])
    assert (a2["verdict_thd_max"], a2["verdict_offset_max_v"], a2["passed"]) == (-1, 1, 1)
    assert current["A3"]["passed"] == -1 and math.isnan(current["A3"]["Add"])
    rows = read_index(path)
    assert list(rows["status"]) == ["started", "started", "done", "bench-failed", "requeued", "started", "started",
                                    "done"]
    assert rows["reason"][3] == "scope lost" and rows["start_time"][2] == "2027-01-15T08:00:00.000000Z"


def test_a_summary_fills_the_times_the_row_does_not_give(tmp_path: Path) -> None:
    with _create(tmp_path / "index.h5") as ix:
        ix.append(LotRow("A1", "done", bench="b1", summary=_summary("A1", 76.0, True)))
        row = ix.current()["A1"]
    assert row["start_time"] == "2027-01-15T08:00:00.000000Z" and row["end_s"] == T0 + 30


def test_xarray_h5py_and_pandas_read_it(tmp_path: Path) -> None:
    xr = pytest.importorskip("xarray")
    pd = pytest.importorskip("pandas")
    path = tmp_path / "index.h5"
    with _create(path) as ix:
        _fill(ix)
    ours = read_index(path)
    with xr.open_dataset(path, group=f"entry/{TABLE}", engine="h5netcdf") as ds:
        assert ds.sizes["row"] == 8
        assert list(ds["serial"].values) == list(ours["serial"])
        np.testing.assert_array_equal(ds["Add"].values, ours["Add"])
        assert ds["Add"].attrs["ancillary_variables"] == "Add_u"
        assert ds["start_s"].values[0] == np.datetime64("2027-01-15T08:00:00")  # CF time, decoded
        frame = ds.to_dataframe()
    assert list(frame["status"]) == list(ours["status"])
    # h5py alone: trust /entry/n_committed, as docs/archive.md says
    with h5py.File(path, "r") as f:
        entry = f["entry"]
        n = int(dict(zip(entry["part"].asstr()[()], entry["n_committed"][()]))[TABLE])
        events = entry[TABLE]
        assert list(events["serial"].asstr()[:n]) == list(ours["serial"])
        np.testing.assert_array_equal(events["verdict_thd_max"][:n], ours["verdict_thd_max"])
        assert events["small_signal__R_L"].attrs["units"] == "Ohm"
    table = pd.DataFrame(ours)
    assert table.groupby("serial").tail(1)["status"].tolist() == ["done", "started", "done"]


KILLED_WRITER = r'''
import sys, time
from procedures.lot.index import LotIndex, LotRow
ix = LotIndex.create(sys.argv[1], verdict_names=["thd_max"])
ix.append(LotRow("A1", "started", bench="b1"))
ix.append(LotRow("A2", "started", bench="b2"))
ix.append(LotRow("A1", "failed", bench="b1", reason="never committed"), commit=False)
# the row reaches the file, flushed, but its commit (the counter) never comes
for w in ix._table.writers.values():
    w.write_out()
ix._archive.file.flush()
print("ready", flush=True)
time.sleep(120)
'''


def test_killed_writer_keeps_committed_rows_only_and_reopening_appends_after_them(tmp_path: Path) -> None:
    path = tmp_path / "index.h5"
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        assert list(read_index(path)["status"]) == ["started", "started"]  # read while the writer lives
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    with h5py.File(path, "r", swmr=True) as f:  # the uncommitted row is in the file, past the counter
        assert f[f"entry/{TABLE}/serial"].shape == (3,) and list(f["entry/n_committed"][()]) == [2]
    assert list(read_index(path)["serial"]) == ["A1", "A2"]
    with LotIndex.open(path) as ix:
        ix.append(LotRow("A1", "requeued", bench="b1"))
        assert {s: r["status"] for s, r in ix.current().items()} == {"A1": "requeued", "A2": "started"}
    rows = read_index(path)
    assert list(rows["serial"]) == ["A1", "A2", "A1"] and "never committed" not in list(rows["reason"])
    (moved,) = tmp_path.glob("index.interrupted-*.h5")  # the killed file, moved aside unchanged
    assert list(read_index(moved)["serial"]) == ["A1", "A2"]
    with h5py.File(path, "r") as f:  # the recovered file closes cleanly: any reader opens it
        assert f.attrs["status"] == "running"


def test_reopening_a_closed_index_appends_after_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "index.h5"
    with _create(path) as ix:
        _fill(ix)
    with LotIndex.open(path) as ix:
        assert ix.n_rows == 8 and ix.verdict_names == LIMITS and ix.figure_names == FIGURE_NAMES
        assert ix.component_names == tuple(COMPONENTS)
        ix.append(LotRow("A3", "done", bench="b2", summary=_summary("A3", 77.0, False)))
    rows = read_index(path)
    assert rows["serial"].tolist()[-3:] == ["A3", "A2", "A3"] and rows["status"].tolist()[-2:] == ["done", "done"]
    assert not list(tmp_path.glob("index.interrupted-*"))


def test_a_row_not_committed_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "index.h5"
    with _create(path) as ix:
        ix.append(LotRow("A1", "started"))
        ix.append(LotRow("A1", "done"), commit=False)
        assert len(read_index(path)["serial"]) == 1 and ix.current()["A1"]["status"] == "started"
        ix.commit()
        assert ix.current()["A1"]["status"] == "done"


def test_bad_rows_write_nothing(tmp_path: Path) -> None:
    with _create(tmp_path / "index.h5") as ix:
        ix.append(LotRow("A1", "started"))
        with pytest.raises(ArchiveError, match="status 'finished'"):
            ix.append(LotRow("A1", "finished"))
        with pytest.raises(ArchiveError, match="serial"):
            ix.append(LotRow("", "started"))
        with pytest.raises(ArchiveError, match="not a lot index row"):
            ix.append({"serial": "A1", "status": "done", "colour": "red"})
        with pytest.raises(ArchiveError, match="attempt"):
            ix.append(LotRow("A1", "done", attempt="two"))  # type: ignore[arg-type]
        assert ix.n_rows == 1 and len(ix.rows()["serial"]) == 1


def test_one_writer_at_a_time_and_no_overwriting(tmp_path: Path) -> None:
    path = tmp_path / "index.h5"
    with _create(path):
        with pytest.raises(ArchiveError, match="open for writing in another process"):
            LotIndex.open(path)
    with pytest.raises(ArchiveError, match="already exists"):
        _create(path)
    with pytest.raises(ArchiveError, match="unknown figure"):
        LotIndex.create(tmp_path / "other.h5", figure_names=["Add", "gain"])
    with pytest.raises(ArchiveError, match="must start with a letter"):
        LotIndex.create(tmp_path / "other.h5", verdict_names=["thd max"])
    assert not (tmp_path / "other.h5").exists()


def test_a_run_archive_is_not_a_lot_index(tmp_path: Path) -> None:
    run = tmp_path / "run.h5"
    spec = TableSpec({"x": Column("float64", "V", "a value")})
    with RunArchive.create(run, RunDeclaration(metadata={}, configs={}, instruments={}, tables={"t": spec})):
        pass
    with pytest.raises(ArchiveError, match="not a lot index"):
        LotIndex.open(run)
    with pytest.raises(ArchiveError, match="not a lot index"):
        read_index(run)
    with pytest.raises(ArchiveError, match="no such file"):
        LotIndex.open(tmp_path / "missing.h5")


def test_lot_figures_counts_each_done_unit_once(tmp_path: Path) -> None:
    """|Add| 1..5 over five done units (hand numbers of test_statistics: Cp = Cpk = 0.63246 against 0 and 6)."""
    path = tmp_path / "index.h5"
    with _create(path) as ix:
        for k, add in enumerate([1.0, 2.0, 3.0, 4.0, 5.0], start=1):
            serial = f"B{k}"
            ix.append(LotRow(serial, "started", bench="b1", start_s=time.time()))
            thd = None if k == 5 else k != 3  # B3 fails THD, B5 has no THD verdict
            ix.append(LotRow(serial, "done", bench="b1", summary=_summary(serial, add, thd)))
        ix.append(LotRow("B6", "failed", bench="b2", reason="unit shorted"))
        ix.append(LotRow("B7", "done", bench="b2", summary=_summary("B7", 99.0, False)))
        ix.append(LotRow("B7", "requeued", bench="b2", reason="re-measure"))  # no longer done
        stats = lot_figures(ix, {"Add": (0.0, 6.0), "small_signal.R_L": (None, 40004.0)})
    assert stats.serials == ("B1", "B2", "B3", "B4", "B5")
    gain = stats.figures["Add"]
    np.testing.assert_array_equal(gain.values, [1.0, 2.0, 3.0, 4.0, 5.0])
    assert gain.capability.n == 5 and gain.capability.mean == pytest.approx(3.0)
    assert gain.capability.cp == pytest.approx(0.63246, abs=1e-5)
    assert gain.capability.cpk == pytest.approx(0.63246, abs=1e-5)
    assert gain.inside == 1.0
    r_l = stats.figures["small_signal.R_L"]  # 40001 .. 40005 against an upper limit only
    assert math.isnan(r_l.capability.cp) and r_l.capability.cpk == pytest.approx(1 / (3 * math.sqrt(2.5)))
    assert r_l.inside == pytest.approx(4 / 5)
    assert set(stats.figures) == {*FIGURE_NAMES, "small_signal.R_L"}
    assert math.isnan(stats.figures["THD"].capability.cpk)  # no limits given
    assert stats.yields == {"thd_max": pytest.approx(3 / 4), "offset_max_v": 1.0}
    assert stats.overall_yield == pytest.approx(4 / 5)  # B3 failed THD; B5 passed the only verdict it has
    assert lot_figures(path).serials == stats.serials  # from the file as well
    with pytest.raises(ValueError, match="no figure or component 'gain'"):
        lot_figures(path, {"gain": (0.0, 1.0)})


def test_a_refitted_unit_counts_once_with_the_numbers_of_its_refitted_copy(tmp_path: Path) -> None:
    """B1 measured, then refitted into a copy (whose |Add| and suspect differ); B2 done; B3 refitted then
    re-queued (no longer measured). done(), lot_figures and failing_diagnoses read the current rows only."""
    assert MEASURED_STATUSES == ("done", "refitted") and set(MEASURED_STATUSES) <= set(STATUSES)
    path = tmp_path / "index.h5"
    copy = dataclasses.replace(_summary("B1", 7.0, False), path=Path("refit/B1.h5"),
                               suspect=Suspect("small_signal.R_L", 43200.0, 7.0, 40000.0, "Ohm", 0.08, 457.1))
    with _create(path) as ix:
        ix.append(LotRow("B1", "done", bench="b1", summary=_summary("B1", 1.0, True)))
        ix.append(LotRow("B2", "done", bench="b2", summary=_summary("B2", 3.0, True)))
        ix.append(LotRow("B1", "refitted", bench="b1", summary=copy))
        ix.append(LotRow("B3", "refitted", bench="b1", summary=_summary("B3", 50.0, False)))
        ix.append(LotRow("B3", "requeued", bench="b1", reason="re-measure"))
        assert ix.done() == {"B1", "B2"}
        current = ix.current()
    b1 = current["B1"]
    assert (b1["status"], b1["archive"], b1["Add"]) == ("refitted", "refit/B1.h5", 7.0)
    assert (b1["suspect"], b1["suspect_rel"], b1["suspect_z"]) == ("small_signal.R_L", 0.08, 457.1)
    assert current["B2"]["suspect"] == "" and math.isnan(current["B2"]["suspect_z"])
    stats = lot_figures(path)
    assert stats.serials == ("B1", "B2")
    np.testing.assert_array_equal(stats.figures["Add"].values, [7.0, 3.0])  # the copy's |Add|, counted once
    assert stats.yields["thd_max"] == 0.5 and stats.overall_yield == 0.5
    (failing,) = failing_diagnoses(path)
    assert (failing.serial, failing.failed, failing.suspect) == ("B1", ("thd_max",), "small_signal.R_L")
    assert failing.diagnosis() == "suspect small_signal.R_L +8.0 % (+457 u)"


def test_lot_figures_flags_outliers_from_five_units(tmp_path: Path) -> None:
    """|Add| 10, 11, 9, 10.5, 9.5, 30 (worked in test_statistics: band [6.914, 13.586], 30 is out)."""
    path = tmp_path / "index.h5"
    adds = [10.0, 11.0, 9.0, 10.5, 9.5, 30.0]
    with _create(path) as ix:
        for k, add in enumerate(adds[:4], start=1):
            ix.append(LotRow(f"C{k}", "done", summary=_summary(f"C{k}", add, True)))
        assert lot_figures(ix).outlier_units() == []  # four units: not judged
        assert not lot_figures(ix).figures["Add"].outliers.judged
        for k, add in enumerate(adds[4:], start=5):
            ix.append(LotRow(f"C{k}", "done", summary=_summary(f"C{k}", add, True)))
    (o,) = lot_figures(path).outlier_units()
    assert (o.figure, o.serial, o.value) == ("Add", "C6", 30.0)
    assert o.median == pytest.approx(10.25) and (o.lower, o.upper) == (pytest.approx(6.91415, abs=1e-5),
                                                                       pytest.approx(13.58585, abs=1e-5))
