"""A run outside the main thread (a lot's bench worker runs its unit in a Dask task thread) stops as safely as a run
in its own process: a stop delivered by :func:`procedures.run.safety.stop_runs` leaves the generator's outputs off
(the simulator's own state), the archive aborted and readable, and :func:`wait_for_runs` returns once it has."""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from instruments import stop_point
from instruments.bench_config import load_bench
from instruments.board_config import load_board
from instruments.sim.bench import SimBench
from instruments.sim.board import SimBoard
from procedures.archive.reader import open_run
from procedures.run.runner import run_procedure
from procedures.run.safety import RunInterrupted, StopSignals, outputs_off_guard, stop_runs, wait_for_runs
from procedures.run.session import FinishedPoint

ROOT = Path(__file__).resolve().parents[3]
BOARD = ROOT / "configs" / "boards" / "bjt-source-text.toml"
BENCH = ROOT / "configs" / "benches" / "sim-keysight.toml"


def _procedure(tmp_path: Path) -> Path:
    p = tmp_path / "procedure.toml"
    p.write_text('[procedure]\nname = "thread"\nkind = "frequency_sweep"\n[frequency]\n'
                 "list_hz = [300.0, 1000.0, 3000.0, 10000.0]\n[acquisition]\nrecord_points = 20000\n")
    return p


@pytest.fixture
def sim():
    with SimBench(load_bench(BENCH), board=SimBoard.from_config(load_board(BOARD))) as bench:
        yield bench


class _Catching(threading.Thread):
    """Runs ``work`` and keeps what ended it (the test's to judge)."""

    def __init__(self, work: Callable[[], object]) -> None:
        super().__init__(name="unit-run")
        self.work = work
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.work()
        except BaseException as exc:
            self.error = exc


def _start_run(proc: Path, out: Path, sim: SimBench, started: threading.Event) -> _Catching:
    """The procedure run in a thread of its own, ``started`` set at each committed point."""
    def progress(point: FinishedPoint) -> None:
        started.set()

    run = _Catching(lambda: run_procedure(proc, BENCH, BOARD, out, sim_bench=sim, on_point=progress,
                                          interactive=False))
    run.start()
    return run


def test_a_stop_mid_run_switches_the_outputs_off_and_aborts_the_archive(tmp_path: Path, sim: SimBench) -> None:
    started = threading.Event()
    run = _start_run(_procedure(tmp_path), tmp_path / "run.h5", sim, started)
    assert started.wait(60), "no point was committed"
    assert stop_runs(signal.SIGTERM) == 1
    assert wait_for_runs(60)
    run.join(60)
    assert isinstance(run.error, RunInterrupted) and run.error.exit_code == 128 + signal.SIGTERM
    assert sim.generator.outputs_on() == (False, False)
    with open_run(tmp_path / "run.h5") as archive:
        assert archive.status == "aborted" and "SIGTERM" in archive.reason


def test_stops_at_random_moments_always_leave_the_outputs_off(tmp_path: Path, sim: SimBench) -> None:
    rng = random.Random(11)
    for trial in range(5):
        out = tmp_path / f"run{trial}.h5"
        run = _start_run(_procedure(tmp_path), out, sim, threading.Event())
        time.sleep(rng.uniform(0.0, 2.0))  # anywhere: opening the bench, a commit, a transfer, the clean-up
        stop_runs(rng.choice([signal.SIGTERM, signal.SIGINT, signal.SIGHUP]))
        assert wait_for_runs(60)
        run.join(60)
        assert not run.is_alive()
        assert run.error is None or isinstance(run.error, RunInterrupted), repr(run.error)
        assert sim.generator.outputs_on() == (False, False), f"trial {trial}"
        if out.exists():
            with open_run(out) as archive:
                assert archive.status in ("aborted", "complete")


def _in_thread(work: Callable[[], object]) -> BaseException | None:
    thread = _Catching(work)
    thread.start()
    thread.join(10)
    return thread.error


def test_a_stop_in_a_held_block_is_raised_when_it_ends_not_inside_it() -> None:
    steps: list[str] = []

    def work() -> None:
        with StopSignals() as signals, signals.armed():
            with signals.held():
                stop_runs(signal.SIGTERM)  # from this thread for the test; any thread delivers the same way
                time.sleep(0.05)
                steps.append("commit finished")
            steps.append("not reached")

    error = _in_thread(work)
    assert isinstance(error, RunInterrupted) and error.signum == signal.SIGTERM
    assert steps == ["commit finished"]


def test_a_second_stop_during_clean_up_does_not_stop_the_outputs_going_off() -> None:
    steps: list[str] = []

    def outputs_off() -> None:
        steps.append("start")
        stop_runs(signal.SIGINT)  # the impatient second stop, mid clean-up
        time.sleep(0.05)
        steps.append("off")

    def work() -> None:
        with StopSignals(), outputs_off_guard(outputs_off):
            raise RunInterrupted(signal.SIGTERM)

    assert isinstance(_in_thread(work), RunInterrupted)
    assert steps == ["start", "off"]
    assert wait_for_runs(1)


def test_a_stop_from_another_thread_lands_at_the_next_exchange_not_in_between() -> None:
    """Work between exchanges (a logging handler holding its lock, a fit) is never cut: the stop is raised by the
    run's thread at its next stop point, the one every SCPI exchange passes (instruments.stop_point)."""
    steps: list[str] = []
    stopped = threading.Event()

    def work() -> None:
        with StopSignals() as signals, signals.armed():
            steps.append("exchange")
            stop_point.stop_point()
            stop_runs(signal.SIGTERM)  # delivered while the thread is between exchanges
            stopped.set()
            deadline = time.monotonic() + 0.3
            while time.monotonic() < deadline:  # pure Python work: an injected exception would land in here
                sum(range(100))
            steps.append("work between exchanges finished")
            stop_point.stop_point()
            steps.append("not reached")

    error = _in_thread(work)
    assert stopped.is_set()
    assert isinstance(error, RunInterrupted) and error.signum == signal.SIGTERM
    assert steps == ["exchange", "work between exchanges finished"]
    assert wait_for_runs(1)


def test_a_stop_during_an_armed_block_without_exchanges_is_raised_when_it_ends() -> None:
    steps: list[str] = []

    def work() -> None:
        with StopSignals() as signals:
            with signals.armed():  # a computation (results, fits): nothing to interrupt it at
                stop_runs(signal.SIGHUP)
                steps.append("computed")
            steps.append("not reached")

    error = _in_thread(work)
    assert isinstance(error, RunInterrupted) and error.signum == signal.SIGHUP
    assert steps == ["computed"]


def test_the_stop_point_is_the_threads_own() -> None:
    """A run's stop point is installed in its thread only, and the one before it comes back when the run ends."""
    seen: list[str] = []

    def work() -> None:
        stop_point.install(lambda: seen.append("outer"))
        with StopSignals():
            stop_point.stop_point()  # the run's own: nothing is due
            seen.append("run")
        stop_point.stop_point()  # the outer one is back
        stop_point.install(None)

    assert _in_thread(work) is None
    assert seen == ["run", "outer"]
    assert stop_point.install(None) is None, "the main thread got a stop point"
