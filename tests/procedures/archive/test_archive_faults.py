"""The archive when things go wrong: a run killed between its results and ``finish()`` resumed without
counting a result twice (``RunArchive.reset_table``), a full disk and a read-only folder reported in one line
naming the file and the cause (never a traceback, never a crash at exit), and a one-line ``reason``.

The full-disk and read-only tests mount small tmpfs file systems, which needs root (they are skipped
otherwise); a monkeypatched failure at the h5py boundary checks the same messages everywhere.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from procedures.archive.reader import open_run
from procedures.archive.resume import check_resumable
from procedures.archive.writer import ArchiveError, Column, RunArchive, RunDeclaration, TableSpec, WaveformSpec

FREQS = (300.0, 1000.0, 3000.0)
PROCEDURE = '[procedure]\nname = "sweep"\nkind = "frequency_sweep"\n'
TABLES = {
    "points": TableSpec({"index": Column("int64", "1", "point index"), "key": Column("str", "", "point key")}),
    "gains": TableSpec({"frequency_hz": Column("float64", "Hz", "test frequency"),
                        "Add": Column("complex128", "1", "differential gain", uncertainty=True),
                        "mode": Column("str", "", "mode")}),
    "summary": TableSpec({"n": Column("int64", "1", "frequencies")}),
}
RESULT_TABLES = ("gains", "summary")  # what the run loop resets after a resume: every table but the per-point ones
N_SAMPLES = 32


def _create(path: Path) -> RunArchive:
    return RunArchive.create(path, RunDeclaration(metadata={"procedure": "sweep"}, configs={"procedure": PROCEDURE},
                                                  instruments={}, tables=TABLES,
                                                  waveform_spec=WaveformSpec(("v1", "v2"), N_SAMPLES, "int16")))


def _point(ar: RunArchive, i: int) -> None:
    ar.append_record(i, np.full((2, N_SAMPLES), i, np.int16), y_increment=1e-3, y_origin=0.0, y_reference=0.0,
                     x_increment=1e-6, x_origin=0.0)
    ar.append("points", {"index": i, "key": f"p{i}"})
    ar.commit()


def _results(ar: RunArchive) -> None:
    for f in FREQS:
        ar.append("gains", {"frequency_hz": f, "Add": -50 + 1j * f / 1000, "Add_u": 0.01 + 0.01j, "mode": "dm"})
    ar.append("summary", {"n": len(FREQS)})
    ar.commit()


def _killed_after_results(tmp_path: Path, how: str) -> Path:
    """An archive whose writer committed 3 points and every result, then died before finish()."""
    ar = _create(tmp_path / "run.h5")
    for i in range(3):
        _point(ar, i)
    _results(ar)
    if how == "copy":  # a SIGKILL: the file as it is while the writer still has it open
        shutil.copyfile(ar.partial_path, tmp_path / "killed.h5.partial")
        ar._abandon()
        ar.partial_path.unlink()
        (tmp_path / "killed.h5.partial").rename(ar.partial_path)
    else:  # closed without finish()
        ar._abandon()
    return ar.partial_path


@pytest.mark.parametrize("how", ["copy", "abandon"])
def test_a_resume_after_the_results_were_committed_counts_each_result_once(tmp_path: Path, how: str) -> None:
    partial = _killed_after_results(tmp_path, how)
    check_resumable(partial, PROCEDURE)
    ar, committed = RunArchive.resume(partial)
    assert committed.n_rows("gains") == 3 and ar.n_rows("gains") == 3  # carried over: appending would double them
    for table in ar.table_names:
        if table != "points":
            ar.reset_table(table)
    assert ar.n_rows("gains") == 0 and ar.n_rows("summary") == 0 and ar.n_rows("points") == 3
    _point(ar, 3)  # the rest of the run, then its results again
    _results(ar)
    final = ar.finish()
    with open_run(final) as run:
        assert run.status == "complete"
        assert list(run.tables["gains"]["frequency_hz"]) == list(FREQS)
        assert list(run.tables["summary"]["n"]) == [3]
        assert list(run.tables["gains"]["mode"]) == ["dm"] * 3
        assert list(run.tables["points"]["index"]) == [0, 1, 2, 3]
        assert [int(run.records.codes(i)[0, 0]) for i in range(len(run.records))] == [0, 1, 2, 3]
    with h5py.File(final, "r") as f:  # a finished file's extents are its counts (plain netCDF readers)
        assert f["entry/gains/frequency_hz"].shape == (3,) and f["entry/gains/row"].shape == (3,)
        assert f["entry/gains/mode"].shape == (3,) and f["entry/summary/n"].shape == (1,)


def test_reset_is_committed_at_once_and_survives_another_kill(tmp_path: Path) -> None:
    partial = _killed_after_results(tmp_path, "copy")
    ar, _ = RunArchive.resume(partial)
    ar.append("points", {"index": 3, "key": "p3"})  # queued, not committed: a reset of another table keeps it
    ar.reset_table("gains")
    with open_run(ar.partial_path) as live:  # a reader of the live file sees the table empty, the rest as before
        assert live.n_rows("gains") == 0 and live.n_rows("summary") == 1 and live.n_rows("points") == 3
    shutil.copyfile(ar.partial_path, tmp_path / "again.h5.partial")  # killed again, right after the reset
    ar.commit()
    assert ar.n_rows("points") == 4
    ar.finish("aborted", "test")
    again, committed = RunArchive.resume(tmp_path / "again.h5.partial")
    assert committed.n_rows("gains") == 0 and committed.n_rows("points") == 3
    again.reset_table("gains")  # resetting an empty table is harmless
    again.reset_table("summary")
    _results(again)
    with open_run(again.finish()) as run:
        assert list(run.tables["gains"]["frequency_hz"]) == list(FREQS)
        assert run.n_rows("summary") == 1


def test_reset_table_refuses_unknown_tables_and_finished_archives(tmp_path: Path) -> None:
    ar = _create(tmp_path / "run.h5")
    with pytest.raises(ArchiveError, match="no table 'nope'"):
        ar.reset_table("nope")
    ar.finish()
    with pytest.raises(ArchiveError, match="finished"):
        ar.reset_table("gains")


def test_the_reason_is_one_line_and_capped(tmp_path: Path) -> None:
    ar = _create(tmp_path / "run.h5")
    long = ("Can't write data (file write failed: time = Fri Dec  4 15:22:48 2026\n, filename = 'run.h5.partial', "
            "errno = 28, error message = 'No space left on device', " + "buf = 0x55 " * 200 + ")")
    ar.finish("failed", long)
    with open_run(tmp_path / "run.h5") as run:
        assert "\n" not in run.reason and len(run.reason) <= 300
        assert run.reason.startswith("Can't write data") and "No space left on device" in run.reason


# ----------------------------------------------------------------------------------------------------------
# A failed write at the h5py boundary (always runs)


def _enospc(*_: Any, **__: Any) -> None:
    raise OSError(errno.ENOSPC, "Can't write data (file write failed: time = now\n, filename = 'x', errno = 28, "
                                "error message = 'No space left on device', buf = 0x1, total write size = 4096)")


def test_a_failed_write_is_one_line_and_the_file_keeps_its_commits(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from procedures.archive import buffers as archive_buffers

    ar = _create(tmp_path / "run.h5")
    for i in range(2):
        _point(ar, i)
    ar.append("points", {"index": 2, "key": "p2"})
    monkeypatch.setattr(archive_buffers.StrRows, "write_out", _enospc)
    with pytest.raises(ArchiveError) as e:
        ar.commit()
    msg = str(e.value)
    assert "\n" not in msg and "run.h5.partial: cannot commit to the archive: No space left on device" in msg
    monkeypatch.undo()
    for call in (ar.commit, lambda: ar.append("points", {"index": 3, "key": "p3"}), lambda: ar.finish("failed", "x")):
        with pytest.raises(ArchiveError) as again:
            call()
        assert str(again.value) == msg  # the same one line, nothing more written
    assert ar.finished
    check_resumable(ar.partial_path, PROCEDURE)
    with open_run(ar.partial_path) as run:
        assert run.status == "running" and run.n_rows("points") == 2 and len(run.records) == 2


# ----------------------------------------------------------------------------------------------------------
# Real file systems: a full tmpfs, a read-only tmpfs (root only)


@contextlib.contextmanager
def _tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root (the full-disk and read-only folder tests use one)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _fill(directory: Path) -> Path:
    """Use up the free space of ``directory``'s file system with one file; returns it."""
    filler = directory / f"filler-{uuid.uuid4().hex}"
    with open(filler, "wb", buffering=0) as fh:  # unbuffered: nothing left to fail at close
        for size in (1 << 16, 4096, 512, 1):
            try:
                while True:
                    fh.write(b"\xff" * size)
            except OSError as e:
                assert e.errno == errno.ENOSPC
    return filler


CHILD = textwrap.dedent('''
    import os, sys, uuid, errno
    import numpy as np
    from pathlib import Path
    sys.path.insert(0, sys.argv[3])
    from test_archive_faults import _create, _point, _fill
    from procedures.archive.writer import ArchiveError
    path, phase = Path(sys.argv[1]), sys.argv[2]
    if phase == "create":
        _fill(path.parent)
        try:
            _create(path)
        except ArchiveError as e:
            print("ERROR", e)
        sys.exit(0)
    ar = _create(path)
    n = 0
    try:
        if phase == "commit":
            while True:
                _point(ar, n)
                n += 1
        else:  # finish: points committed, then the disk fills up before the results are written
            for n in range(3):
                _point(ar, n)
            n = 3
            _fill(path.parent)
            ar.write_result("big", {"x": np.arange(200_000.0)})
            ar.finish("complete")
            print("FINISHED")
    except ArchiveError as e:
        print("ERROR", e)
    print("COMMITTED", n)
    try:
        ar.finish("failed", "disk full")
    except ArchiveError as e:
        print("FINISH", e)
''')


def _child(path: Path, phase: str) -> tuple[dict[str, str], str]:
    done = subprocess.run([sys.executable, "-c", CHILD, str(path), phase, str(Path(__file__).parent)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"the writer crashed (exit {done.returncode}):\n{done.stderr}"
    for bad in ("Traceback", "Exception ignored", "HDF5-DIAG", "Segmentation"):
        assert bad not in done.stderr, done.stderr
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    return lines, done.stderr


@pytest.mark.parametrize("phase", ["commit", "finish"])
def test_a_full_disk_is_one_line_and_leaves_a_resumable_partial(tmp_path: Path, phase: str) -> None:
    with _tmpfs(tmp_path / "disk", "1m") as disk:
        lines, _ = _child(disk / "run.h5", phase)
        assert "FINISHED" not in lines
        msg = lines["ERROR"]
        assert f"{disk / 'run.h5.partial'}: cannot" in msg and "No space left on device" in msg, msg
        assert lines["FINISH"] == msg  # finish() after the failure: the same line, nothing written
        for filler in disk.glob("filler-*"):
            filler.unlink()
        n = int(lines["COMMITTED"])
        with open_run(disk / "run.h5.partial") as run:
            assert run.status == "running"
            assert n <= run.n_rows("points") <= n + 1 and run.n_rows("points") >= (3 if phase == "finish" else 1)
            assert list(run.tables["points"]["index"]) == list(range(run.n_rows("points")))
            assert [int(run.records.codes(i)[1, -1]) for i in range(len(run.records))] == list(range(len(run.records)))
        check_resumable(disk / "run.h5.partial", PROCEDURE)


def test_a_full_disk_while_creating_leaves_nothing(tmp_path: Path) -> None:
    with _tmpfs(tmp_path / "disk", "256k") as disk:
        lines, _ = _child(disk / "run.h5", "create")
        msg = lines["ERROR"]
        assert f"{disk / 'run.h5.partial.creating'}: cannot create the archive: No space left on device" == msg
        assert [p.name for p in disk.iterdir() if not p.name.startswith("filler-")] == []


def test_a_read_only_folder_is_one_line_everywhere(tmp_path: Path) -> None:
    from procedures.fitting import archive_update as fit_archive

    with _tmpfs(tmp_path / "ro", "4m") as ro:
        ar = _create(ro / "run.h5")
        _point(ar, 0)
        _results(ar)
        ar.finish("complete")
        (ro / "k").mkdir()
        partial = _killed_after_results(ro / "k", "abandon")
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
        read_only = r"run2\.h5\.partial\.creating: cannot create the archive: Read-only file system"
        with pytest.raises(ArchiveError, match=read_only):
            _create(ro / "run2.h5")
        with pytest.raises(ArchiveError, match="cannot create the resumed archive: Read-only file system"):
            RunArchive.resume(partial)
        check_resumable(partial, PROCEDURE)  # reading is fine
        with open_run(ro / "run.h5") as run:
            assert run.n_rows("gains") == 3
        with pytest.raises(ArchiveError, match="cannot write the fits .*: Read-only file system; run.h5 is unchanged"):
            fit_archive.add_results(ro / "run.h5", [])


def test_the_cli_reports_a_read_only_folder_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from test_archive_fuzz import make_bases

    from procedures.cli.main import main

    with _tmpfs(tmp_path / "ro", "4m") as ro:
        bases = make_bases(ro / "b")
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
        for argv in (["fit", str(bases.complete)], ["report", str(bases.complete), "--fit", "none"]):
            assert main(argv) == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and "Read-only file system" in err and "Traceback" not in err, err
