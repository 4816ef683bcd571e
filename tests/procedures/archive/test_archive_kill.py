"""kill -9 tests of the run archive: a writer subprocess is SIGKILLed at random moments (and at fixed
steps: while the schema is built, before the writer reopens it, inside finish()); every point it reported
committed must be in the file, intact, and a resume must complete the run identically.

Trials: ``DIFFBENCH_KILL_TRIALS`` (default 40); seed: ``DIFFBENCH_KILL_SEED`` (default: random, printed in
every failure message). A soak by hand:
``DIFFBENCH_KILL_TRIALS=1000 pytest -q tests/procedures/archive/test_archive_kill.py``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from procedures.archive.reader import RunData, open_run
from procedures.archive.writer import ArchiveError, RunArchive

TRIALS = int(os.environ.get("DIFFBENCH_KILL_TRIALS", "40"))
SEED = int(os.environ.get("DIFFBENCH_KILL_SEED", str(random.SystemRandom().randrange(2**32))))

# The writer, run as a subprocess. Every value it writes is a function of the point index, so the test
# checks contents, not only counts. It prints "ready" once imported and waits for a line on stdin (so the
# test can start the next writer while it checks the last one), then "start" before creating the
# archive, "created" after, each point index once commit() has returned, and "finished" after finish().
WRITER_SRC = r'''
import os
import signal
import sys

import numpy as np

from procedures.archive.writer import Column, RunArchive, RunDeclaration, TableSpec, WaveformSpec

N_POINTS = 80
N_SAMPLES = 4096
CHANNELS = ("v1", "v2", "vo1", "vo2")
TABLES = {
    "points": TableSpec(
        {
            "index": Column("int64", "1", "point index"),
            "freq_hz": Column("float64", "Hz", "test frequency"),
            "mode": Column("str", "", "excitation mode"),
            "clipped": Column("bool", "", "any channel clipped"),
            "S": Column("complex128", "1", "mixed-mode gain matrix", shape=(2, 2), dims=("out", "in"),
                        uncertainty=True),
            "vpp_v": Column("float64", "V", "peak-to-peak per channel", shape=(4,), dims=("channel",)),
        },
        signal="freq_hz",
        labels={"out": ("d", "c"), "in": ("d", "c"), "channel": CHANNELS},
    ),
    # one row every third point: the counters of two tables must move together
    "summary": TableSpec({"index": Column("int64", "1", "point index"),
                          "cmrr_db": Column("float64", "dB", "CMRR", uncertainty=True)}),
}
WAVEFORMS = WaveformSpec(CHANNELS, N_SAMPLES, "int16")


def row(i):
    S = np.array([[1 + 2j, 3 - 1j], [0.5j, -2.0]]) * (i + 1)
    return {
        "index": i,
        "freq_hz": 10.0 ** (1 + i / 40),
        "mode": ("diff", "common", "single")[i % 3] + "é" * (i % 4),
        "clipped": i % 5 == 0,
        "S": S,
        "S_u": S * 1e-3 + 1e-6,
        "vpp_v": np.arange(4) * 0.25 + i,
    }


def summary_row(i):
    return {"index": i, "cmrr_db": 60.0 + i / 7, "cmrr_db_u": 0.1 + i / 1000}


def n_records(i):
    return 2 if i % 4 == 0 else 1


def record(i, k):
    c = np.arange(len(CHANNELS))[:, None]
    codes = ((np.arange(N_SAMPLES)[None, :] * (k + 1) + 7 * i + 1000 * c) % 4000 - 2000).astype(np.int16)
    return codes, dict(
        y_increment=1e-3 * (1 + np.arange(4)) + i * 1e-6,
        y_origin=0.01 * np.arange(4) - i * 1e-4,
        y_reference=2.0 * np.arange(4),
        x_increment=1e-6 * (1 + i % 5),
        x_origin=-i * 1e-5 - k * 1e-3,
    )


def create(path):
    return RunArchive.create(
        path,
        RunDeclaration(
            metadata={"procedure": "kill-test", "board": {"name": "sim", "rev": 3}},
            configs={"bench": "[scope]\nresource = 'TCPIP0::127.0.0.1::5025::SOCKET'\n", "board": "name = 'sim'\n"},
            instruments={"scope": {"idn": "KEYSIGHT,DSOX1204G,SIM,1.0", "resource": "TCPIP0::127.0.0.1::5025::SOCKET",
                                   "driver": "keysight_infiniivision", "settings": {"timebase_s": 1e-3}}},
            tables=TABLES,
            waveform_spec=WAVEFORMS,
        ),
        run_id="kill-test-run",
    )


def write_points(ar, start, stop, report=False):
    for i in range(start, stop):
        for k in range(n_records(i)):
            codes, scaling = record(i, k)
            ar.append_record(i, codes, **scaling)
        ar.append("points", row(i))
        if i % 3 == 0:
            ar.append("summary", summary_row(i))
        ar.commit()
        if report:
            print(i, flush=True)


def write_results(ar):
    ar.write_result("fit", {"names": ["gm", "rss"], "value": [1e-3, 5e4], "covariance": [[1e-10, 0.0], [0.0, 4.0]]},
                    dims={"names": ("param",), "value": ("param",), "covariance": ("param", "param2")},
                    attrs={"chi2_red": 1.05, "converged": True})


def main():
    path = sys.argv[1]
    die_at = sys.argv[2] if len(sys.argv) > 2 else ""
    if die_at == "build":  # killed while the schema is being written (before it is named .partial)
        import procedures.archive.layout as archive_layout  # where the schema is built
        archive_layout.build_records = lambda *a: os.kill(os.getpid(), signal.SIGKILL)
    if die_at == "open":  # killed after the schema took the .partial name, before the writer reopened it
        RunArchive._open_for_append = classmethod(lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL))
    if die_at == "results":  # killed in finish(), after the results groups were created
        orig = RunArchive._write_results
        def write_then_die(self):
            orig(self)
            self._file.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        RunArchive._write_results = write_then_die
    if die_at == "rename":  # killed in finish(), after close and fsync, before the rename
        import procedures.archive.writer as archive_module
        real_replace = archive_module.os.replace
        def replace_or_die(src, dst):
            if str(src).endswith(".partial"):
                os.kill(os.getpid(), signal.SIGKILL)
            real_replace(src, dst)
        archive_module.os.replace = replace_or_die
    print("ready", flush=True)
    sys.stdin.readline()
    print("start", flush=True)
    ar = create(path)
    print("created", flush=True)
    write_points(ar, 0, N_POINTS, report=True)
    write_results(ar)
    ar.finish("complete")
    print("finished", flush=True)


if __name__ == "__main__":
    main()
'''


@pytest.fixture(scope="module")
def writer(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModuleType, Path]:
    """The writer script on disk, and the same code imported here to compute expected contents."""
    path = tmp_path_factory.mktemp("killwriter") / "kill_writer.py"
    path.write_text(WRITER_SRC)
    spec = importlib.util.spec_from_file_location("kill_writer", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, path


@pytest.fixture(scope="module")
def reference(writer: tuple[ModuleType, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """An uninterrupted run by the same script (the comparison for resumed runs), and how long it took."""
    _, script = writer
    out = tmp_path_factory.mktemp("killref") / "run.h5"
    proc = _spawn(script, out)
    t0 = _go(proc)
    stdout, _ = proc.communicate(timeout=120)
    duration = time.perf_counter() - t0
    assert proc.returncode == 0 and stdout.split()[-1] == "finished"
    return out, duration


def _spawn(script: Path, path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(script), str(path), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def _go(proc: subprocess.Popen[str]) -> float:
    """Wait until the writer is imported, let it start, and return the time it printed "start"."""
    assert proc.stdout is not None and proc.stdin is not None
    assert proc.stdout.readline().strip() == "ready"
    proc.stdin.write("go\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "start"
    return time.perf_counter()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_content(w: ModuleType, run: RunData, n: int, ctx: str) -> None:
    """Every committed row and record of ``run`` equals what the writer computed for its point index."""
    pts = run.tables["points"]
    assert run.n_rows("points") == n, ctx
    for i in range(n):
        expected = w.row(i)
        for key, value in expected.items():
            assert np.array_equal(pts[key][i], np.asarray(value)), f"{ctx}: points[{i}][{key!r}]"
    summary_points = [i for i in range(n) if i % 3 == 0]
    assert run.n_rows("summary") == len(summary_points), \
        f"{ctx}: summary rows do not match the points committed with them"
    for j, i in enumerate(summary_points):
        for key, value in w.summary_row(i).items():
            assert run.tables["summary"][key][j] == value, f"{ctx}: summary[{j}][{key!r}]"
    recs = run.records
    assert recs is not None
    expected_points = [i for i in range(n) for _ in range(w.n_records(i))]
    assert list(recs.point) == expected_points, f"{ctx}: records do not match the points committed with them"
    seen: dict[int, int] = {}
    for r, i in enumerate(expected_points):
        k = seen[i] = seen.get(i, -1) + 1
        codes, scaling = w.record(i, k)
        assert np.array_equal(recs.codes(r), codes), f"{ctx}: record {r} codes"
        for name in ("y_increment", "y_origin", "y_reference"):
            assert np.array_equal(getattr(recs, name)[r], scaling[name]), f"{ctx}: record {r} {name}"
        assert recs.x_increment[r] == scaling["x_increment"] and recs.x_origin[r] == scaling["x_origin"], \
            f"{ctx}: record {r} time axis"
        volts, t = recs.volts(r)
        expected_v = ((codes - scaling["y_reference"][:, None]) * scaling["y_increment"][:, None]
                      + scaling["y_origin"][:, None])
        assert np.array_equal(volts, expected_v), f"{ctx}: record {r} volts"
        assert t[1] - t[0] == pytest.approx(scaling["x_increment"])


def _assert_same_run(a: RunData, b: RunData, ctx: str) -> None:
    """Row for row, record for record, identical content (run-level times and resume history excepted)."""
    assert a.metadata == b.metadata and a.configs == b.configs and a.instruments == b.instruments, ctx
    assert a.run_id == b.run_id and a.status == b.status, ctx
    assert a.tables.keys() == b.tables.keys(), ctx
    for t in a.tables:
        assert a.tables[t].keys() == b.tables[t].keys(), ctx
        for key in a.tables[t]:
            x, y = a.tables[t][key], b.tables[t][key]
            assert x.dtype == y.dtype and np.array_equal(x, y), f"{ctx}: table {t!r} column {key!r}"
    ra, rb = a.records, b.records
    assert ra is not None and rb is not None and len(ra) == len(rb), ctx
    for name in ("point", "y_increment", "y_origin", "y_reference", "x_increment", "x_origin"):
        assert np.array_equal(getattr(ra, name), getattr(rb, name)), f"{ctx}: records {name}"
    for i in range(len(ra)):
        assert np.array_equal(ra.codes(i), rb.codes(i)), f"{ctx}: record {i} codes"
    assert a.results.keys() == b.results.keys(), ctx
    for name in a.results:
        for key in a.results[name].arrays:
            assert np.array_equal(a.results[name].arrays[key], b.results[name].arrays[key]), \
                f"{ctx}: result {name}.{key}"
        assert a.results[name].attrs == b.results[name].attrs, ctx


def _resume_and_complete(w: ModuleType, path: Path, reference: Path, n: int, ctx: str) -> None:
    digest = _sha256(path)
    ar, committed = RunArchive.resume(path)
    moved = Path(committed.source)
    assert moved != path and moved.name.startswith("run.interrupted-"), ctx
    assert _sha256(moved) == digest, f"{ctx}: resume changed the interrupted file"
    assert committed.n_rows("points") == n and list(committed.tables["points"]["index"]) == list(range(n)), ctx
    assert ar.n_rows("points") == n, ctx
    w.write_points(ar, n, w.N_POINTS)
    w.write_results(ar)
    final = ar.finish("complete")
    assert final == path.parent / "run.h5" and not (path.parent / "run.h5.partial").exists(), ctx
    with open_run(final) as resumed, open_run(reference) as ref, open_run(moved) as original:
        _assert_same_run(resumed, ref, ctx)
        assert len(resumed.resumed) == 1 and resumed.resumed[0]["from"] == str(path), ctx
        assert resumed.resumed[0]["moved_to"] == str(moved) and resumed.resumed[0]["rows"]["points"] == n, ctx
        assert resumed.start_time == original.start_time, ctx  # its content: the sha256 above


def test_kill9_random_moments(writer: tuple[ModuleType, Path], reference: tuple[Path, float], tmp_path: Path) -> None:
    w, script = writer
    ref_path, duration = reference
    rng = random.Random(SEED)
    outcomes = {"before_create": 0, "mid_run": 0, "after_finish": 0}
    dirs = [tmp_path / f"t{trial}" for trial in range(TRIALS)]
    nxt = _spawn(script, dirs[0] / "run.h5") if TRIALS else None
    for trial, d in enumerate(dirs):
        d.mkdir()
        final, partial = d / "run.h5", d / "run.h5.partial"
        # 0 .. 1.15 x the whole run (creation, points, finish), so every phase gets hit
        delay = rng.uniform(0.0, 1.15 * duration)
        ctx = f"trial {trial}, delay {delay * 1e3:.1f} ms, seed {SEED}"
        assert nxt is not None
        proc = nxt
        t0 = _go(proc)
        time.sleep(max(0.0, delay - (time.perf_counter() - t0)))
        proc.send_signal(signal.SIGKILL)
        stdout, _ = proc.communicate(timeout=60)
        # the next writer imports on the other core while this trial is checked
        nxt = _spawn(script, dirs[trial + 1] / "run.h5") if trial + 1 < TRIALS else None
        lines = stdout.split()
        reported = [int(x) for x in lines if x.isdigit()]
        last = reported[-1] if reported else -1
        if final.exists():
            path = final
        elif partial.exists():
            path = partial
        else:
            assert "created" not in lines and last == -1, f"{ctx}: the writer reported progress but left no file"
            outcomes["before_create"] += 1
            continue
        with open_run(path) as run:
            n = run.n_rows("points")
            assert n >= last + 1, f"{ctx}: writer reported point {last} committed, file has {n} rows"
            _check_content(w, run, n, ctx)
            status = run.status
            if path == final:
                assert status == "complete" and n == w.N_POINTS, ctx
            else:
                assert status in ("running", "complete"), ctx
        if status == "complete":
            outcomes["after_finish"] += 1
            if path == partial:  # killed between close and rename: complete, not resumable
                with pytest.raises(ArchiveError, match="rename it"):
                    RunArchive.resume(path)
            continue
        outcomes["mid_run"] += 1
        _resume_and_complete(w, path, ref_path, n, ctx)
    if TRIALS >= 10:  # P(no mid-run kill in 10 trials) is far below 1e-6 with these delays
        assert outcomes["mid_run"] > 0, f"no kill landed mid-run in {TRIALS} trials: {outcomes}"


@pytest.mark.parametrize("die_at", ["build", "open", "results", "rename"])
def test_kill9_at_fixed_steps(die_at: str, writer: tuple[ModuleType, Path], reference: tuple[Path, float],
                              tmp_path: Path) -> None:
    """Deterministic kills at the steps a random delay rarely hits: around creation, inside finish()."""
    w, script = writer
    ref_path, _ = reference
    final, partial = tmp_path / "run.h5", tmp_path / "run.h5.partial"
    proc = subprocess.run(
        [sys.executable, str(script), str(final), die_at], input="go\n", capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert "created" not in proc.stdout.split() if die_at in ("build", "open") else "created" in proc.stdout.split()
    if die_at == "build":  # a half-built schema never takes the .partial name
        assert not partial.exists() and not final.exists()
        assert (tmp_path / "run.h5.partial.creating").exists()
        return
    assert partial.exists() and not final.exists()
    n = 0 if die_at == "open" else w.N_POINTS
    with open_run(partial) as run:
        _check_content(w, run, n, die_at)
        if die_at == "open":  # closed cleanly, never reopened: opens plainly, empty
            assert run.status == "running" and not run.opened_with_swmr
        elif die_at == "results":
            assert run.status == "running" and run.opened_with_swmr and run.results == {}
        else:
            assert run.status == "complete" and not run.opened_with_swmr and "fit" in run.results
    if die_at == "rename":
        with pytest.raises(ArchiveError, match="rename it"):
            RunArchive.resume(partial)
    else:
        _resume_and_complete(w, partial, ref_path, n, die_at)
