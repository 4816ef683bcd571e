"""Every ending of a run is safe: signals on a served bench, a kill between the results and the finish, a
transfer cut in half, and a generator found with its outputs on.

The signal trials are the reliability benchmark's own (``benchmarks/run_endings.py``), a few of them: the
benchmark runs hundreds and prints the figures; here one trial per kind must show none of its failures.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from instruments.bench import open_bench
from instruments.bench_config import load_bench
from instruments.board_config import load_board
from instruments.sim.bench import SimBench
from instruments.sim.board import SimBoard
from procedures.archive.reader import open_run
from procedures.run.runner import run_procedure

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks"))

import run_endings  # noqa: E402  (the benchmark's trial code, reused)

BOARD = ROOT / "configs" / "boards" / "bjt-source-text.toml"
BENCH = ROOT / "configs" / "benches" / "sim-keysight.toml"
DIFFBENCH = Path(sys.executable).with_name("diffbench")


def test_signals_and_kill_at_random_moments_on_a_served_bench(tmp_path: Path) -> None:
    """SIGINT, SIGTERM, SIGHUP, a second SIGINT in the clean-up and SIGKILL, each at a random moment: the
    outputs are off afterwards, the archive opens, no committed point is lost, --resume completes it once."""
    n = int(os.environ.get("DIFFBENCH_ENDING_TRIALS", "1"))
    tallies = run_endings.run_trials(n, run_endings.KINDS, seed=int(os.environ.get("DIFFBENCH_ENDING_SEED", "7")),
                                     folder=tmp_path)
    for kind, t in tallies.items():
        assert t.trials == n
        bad = (t.outputs_left_on, t.unreadable, t.points_lost, t.resume_failed, t.wrong_exit)
        assert bad == (0, 0, 0, 0, 0), f"{kind}: {t.notes}"


def _procedure(tmp_path: Path) -> Path:
    p = tmp_path / "procedure.toml"
    p.write_text(textwrap.dedent("""\
        [procedure]
        name = "kill-before-finish"
        kind = "frequency_sweep"
        [drive]
        cm_drive = "two-channel"
        [frequency]
        list_hz = [1000.0, 3000.0]
        [acquisition]
        record_points = 20000
        [calibration]
        channel_match = false
        """))
    return p


def test_kill_between_the_results_commit_and_finish_then_resume_counts_nothing_twice(tmp_path: Path) -> None:
    """The results rows are committed, then SIGKILL lands before ``finish()``: the resumed archive holds
    every frequency once (the results are recomputed, not appended to the carried-over ones)."""
    proc, out = _procedure(tmp_path), tmp_path / "run.h5"
    script = tmp_path / "killed.py"
    script.write_text(textwrap.dedent(f"""\
        import os, signal
        from procedures.run import session as session
        original = session.RunArchive.finish
        def finish(self, status="complete", reason=""):
            if status == "complete":
                os.kill(os.getpid(), signal.SIGKILL)
            return original(self, status, reason)
        session.RunArchive.finish = finish
        from procedures.run.runner import run_procedure
        run_procedure({str(proc)!r}, {str(BENCH)!r}, {str(BOARD)!r}, {str(out)!r})
        """))
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert r.returncode == -9, r.stderr
    partial = Path(str(out) + ".partial")
    with open_run(partial) as run:
        assert sorted(run.tables["gains"]["frequency_hz"]) == [1000.0, 3000.0]  # committed before the kill
    r = subprocess.run([str(DIFFBENCH), "run", str(proc), "--bench", str(BENCH), "--board", str(BOARD), "-o", str(out),
                        "--resume", str(partial), "--no-progress"], capture_output=True, text=True, timeout=300,
                       stdin=subprocess.DEVNULL)
    assert r.returncode in (0, 3), r.stderr
    with open_run(out) as run:
        assert run.status == "complete"
        for name, table in run.tables.items():
            if "frequency_hz" in table and name != "points" and name != "snapshot":
                f = list(np.asarray(table["frequency_hz"]))
                assert len(f) == len(set(f)), f"{name}: {f}"
        assert sorted(run.tables["gains"]["frequency_hz"]) == [1000.0, 3000.0]
        keys = list(run.tables["points"]["key"])
        assert len(keys) == len(set(keys))


@pytest.fixture
def sim() -> SimBench:
    with SimBench(load_bench(BENCH), board=SimBoard.from_config(load_board(BOARD))) as bench:
        yield bench


def test_a_transfer_cut_by_ctrl_c_is_cleared_before_the_next_query(sim: SimBench) -> None:
    """Ctrl-C lands in the middle of a binary block: the next query (the clean-up's error check) gets its own
    answer, not the rest of the block."""
    with open_bench(load_bench(BENCH), resources=sim.resources) as b:
        scope = b.scope
        for ch in (1, 2):
            scope.set_channel(ch, enabled=True)
        scope.set_record_length(100_000)
        scope.single(timeout_s=30)
        res = scope.resource
        original = res.read_bytes

        def cut(count: int, *args: object, **kwargs: object) -> object:
            if count < 1000:  # the block's header
                return original(count, *args, **kwargs)
            original(1000)  # the first samples; the rest is still coming
            raise KeyboardInterrupt

        res.read_bytes = cut
        with pytest.raises(KeyboardInterrupt):
            scope.read_waveform(1)
        res.read_bytes = original
        assert scope.read_error() == (0, "No error")
        assert scope.idn() == b.identities["scope"]
        wf = scope.read_waveform(2)  # and a whole transfer works again
        assert wf.codes.size >= 1000


def test_outputs_found_on_are_switched_off_before_anything_else(tmp_path: Path, sim: SimBench,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    """A generator left on by a killed run: the next run switches it off first, and says so."""
    import pyvisa

    rm = pyvisa.ResourceManager("@py")
    gen = rm.open_resource(sim.resources["generator"], read_termination="\n", write_termination="\n")
    gen.write("OUTP1 ON")
    gen.write("OUTP2 ON")
    assert gen.query("OUTP1?").strip() == "1"
    gen.close()
    assert sim.generator.outputs_on() == (True, True)
    with caplog.at_level(logging.WARNING, logger="procedures.run.session"):
        run_procedure(_procedure(tmp_path), BENCH, BOARD, tmp_path / "run.h5", sim_bench=sim)
    assert any("were on when the run started" in r.getMessage() for r in caplog.records)
    assert sim.generator.outputs_on() == (False, False)
