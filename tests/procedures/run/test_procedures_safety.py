"""Whatever ends a procedure, the generator's outputs are off afterwards (checked on the simulator's state),
the archive keeps what was measured, and the user gets one clear message."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from instruments.bench_config import load_bench
from instruments.board_config import load_board
from instruments.errors import DiffbenchError, InstrumentConnectionError, InstrumentError, SafetyError
from instruments.sim.bench import SimBench
from instruments.sim.board import SimBoard
from procedures.archive.reader import open_run
from procedures.run.runner import run_procedure
from procedures.run.safety import outputs_off_guard
from procedures.run.session import FinishedPoint

ROOT = Path(__file__).resolve().parents[3]
BOARD = ROOT / "configs" / "boards" / "bjt-source-text.toml"
BENCH = ROOT / "configs" / "benches" / "sim-keysight.toml"
DIFFBENCH = Path(sys.executable).with_name("diffbench")


def _procedure(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "procedure.toml"
    p.write_text('[procedure]\nname = "test"\nkind = "frequency_sweep"\n' + body)
    return p


SWEEP = "[frequency]\nlist_hz = [300.0, 1000.0, 3000.0]\n"


@pytest.fixture
def sim():
    with SimBench(load_bench(BENCH), board=SimBoard.from_config(load_board(BOARD))) as bench:
        yield bench


def test_out_of_limit_amplitude_is_refused_before_anything_switches_on(tmp_path: Path, sim: SimBench) -> None:
    proc = _procedure(tmp_path, SWEEP + "[drive]\nvid_vpk = 0.8\n")
    with pytest.raises(SafetyError, match=r"differential drive 800 mV peak exceeds vid_max_vpk = 500 mV") as e:
        run_procedure(proc, BENCH, BOARD, tmp_path / "run.h5", sim_bench=sim)
    assert "\n" not in str(e.value) and "nothing was switched on" in str(e.value)
    assert sim.generator.switch_on_count == 0 and sim.generator.outputs_on() == (False, False)
    assert not list(tmp_path.glob("run.h5*")), "a refused run must not leave an archive"


def test_out_of_limit_amplitude_from_the_command_line(tmp_path: Path) -> None:
    proc = _procedure(tmp_path, SWEEP + "[drive]\nvic_vpk = 2.0\n")
    r = subprocess.run([str(DIFFBENCH), "run", str(proc), "--bench", str(BENCH), "--board", str(BOARD),
                        "-o", str(tmp_path / "run.h5"), "--no-progress"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "common-mode drive 2000 mV peak exceeds vic_max_vpk" in lines[0], r.stderr


def test_ctrl_c_mid_run_leaves_outputs_off_and_an_aborted_archive(tmp_path: Path, sim: SimBench) -> None:
    proc = _procedure(tmp_path, SWEEP)
    done = []

    def progress(point: FinishedPoint) -> None:
        done.append(point.done)
        if point.done == 3:  # a real SIGINT, delivered while the next point is being measured
            threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()

    with pytest.raises(KeyboardInterrupt):
        run_procedure(proc, BENCH, BOARD, tmp_path / "run.h5", sim_bench=sim, on_point=progress)
    assert sim.generator.outputs_on() == (False, False)
    with open_run(tmp_path / "run.h5") as run:
        assert run.status == "aborted" and "Ctrl-C" in run.reason
        assert len(run.tables["points"]["key"]) >= 3


def test_dropped_scope_connection_leaves_outputs_off_and_says_which_instrument(tmp_path: Path, sim: SimBench) -> None:
    proc = _procedure(tmp_path, SWEEP)

    def progress(point: FinishedPoint) -> None:
        if point.done == 2:
            sim._servers[1].close()  # the scope goes away (cable pulled, instrument rebooted)

    with pytest.raises(InstrumentError) as e:
        run_procedure(proc, BENCH, BOARD, tmp_path / "run.h5", sim_bench=sim, on_point=progress)
    assert isinstance(e.value, (InstrumentConnectionError, InstrumentError)) and "scope" in str(e.value)
    assert "\n" not in str(e.value)
    assert sim.generator.outputs_on() == (False, False)
    with open_run(tmp_path / "run.h5") as run:
        assert run.status == "failed" and "scope" in run.reason
        # every point measured before the drop is kept (the one acquired while the scope went away too)
        assert len(run.tables["points"]["key"]) >= 2
        assert len(set(run.records.point)) == len(run.tables["points"]["key"])


def test_instrument_error_leaves_outputs_off(tmp_path: Path, sim: SimBench) -> None:
    """50 MHz is beyond a 33522B's 30 MHz sine: the generator reports -222 and the run stops there."""
    proc = _procedure(tmp_path, "[frequency]\nlist_hz = [1000.0, 5e7]\n")
    with pytest.raises(InstrumentError, match=r'-222,"Data out of range"') as e:
        run_procedure(proc, BENCH, BOARD, tmp_path / "run.h5", sim_bench=sim)
    assert "generator" in str(e.value)
    assert sim.generator.outputs_on() == (False, False)
    with open_run(tmp_path / "run.h5") as run:
        assert run.status == "failed" and "-222" in run.reason


def test_second_ctrl_c_during_clean_up_does_not_stop_outputs_going_off() -> None:
    steps = []

    def outputs_off() -> None:
        steps.append("start")
        os.kill(os.getpid(), signal.SIGINT)  # the impatient second Ctrl-C, mid clean-up
        time.sleep(0.05)
        steps.append("off")

    with pytest.raises(KeyboardInterrupt):
        with outputs_off_guard(outputs_off):
            raise KeyboardInterrupt  # the first Ctrl-C
    assert steps == ["start", "off"]


def test_clean_up_failure_is_reported_beside_the_original_error() -> None:
    def outputs_off() -> None:
        raise InstrumentConnectionError("generator X", "connection lost")

    with pytest.raises(DiffbenchError, match="the real problem") as e:
        with outputs_off_guard(outputs_off):
            raise DiffbenchError("the real problem")
    assert any("switching the generator outputs off failed" in n for n in getattr(e.value, "__notes__", []))


def _refit_matches(run, i: int) -> bool:
    """Recompute point i's phasors from its archived raw codes: a corrupt record would not reproduce them."""
    from procedures.measure.phasors import fit_channels

    rec = run.records.of_point(i)
    if not len(rec):
        return False
    f = float(run.tables["points"]["frequency_hz"][i])
    v, t = run.records.volts(int(rec[0]))
    fits = fit_channels(t, v, f, n_harmonics=5)
    ph = np.array([x.phasor for x in fits])
    stored = run.tables["points"]["phasor"][i]
    # stored phasors are referenced to v1's phase: compare magnitudes and the phase differences to v1
    return bool(np.allclose(np.abs(ph), np.abs(stored), rtol=1e-6) and
                np.allclose(np.angle(ph / ph[0]), np.angle(stored / stored[0]), atol=1e-6))


def test_sigkill_at_random_moments_then_resume(tmp_path: Path) -> None:
    """Killed with SIGKILL at random moments: every file opens, no finished point is lost or corrupt, and
    --resume completes the run to gains that agree with the simulator's truth as an uninterrupted run does."""
    trials = int(os.environ.get("DIFFBENCH_RUN_KILL_TRIALS", "4"))
    rng = np.random.default_rng(int(os.environ.get("DIFFBENCH_RUN_KILL_SEED", "2026")))
    proc = _procedure(tmp_path, SWEEP)
    truth = SimBoard.from_config(load_board(BOARD)).small_signal_s(np.array([300.0, 1000.0, 3000.0]))
    resumed = []
    for trial in range(trials):
        out = tmp_path / f"run{trial}.h5"
        cmd = [str(DIFFBENCH), "run", str(proc), "--bench", str(BENCH), "--board", str(BOARD), "-o", str(out),
               "--no-progress"]
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        partial = Path(str(out) + ".partial")
        t0 = time.monotonic()
        while not partial.exists() and time.monotonic() - t0 < 60 and p.poll() is None:
            time.sleep(0.02)
        time.sleep(float(rng.uniform(0.0, 4.0)))
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
        if out.exists():  # it finished before the kill: nothing to resume on this trial
            continue
        assert partial.exists(), f"trial {trial}: no archive left behind"
        with open_run(partial) as run:
            n = len(run.tables["points"]["key"])
            status = run.status
            for i in range(n):
                assert _refit_matches(run, i), f"trial {trial}: point {i} does not match its raw records"
        r = subprocess.run(cmd + ["--resume", str(partial)], capture_output=True, text=True, timeout=300)
        if status == "complete":  # killed after the archive was finished, before its rename: nothing to resume
            assert r.returncode == 2 and f"rename it to {out.name}" in r.stderr, r.stderr
            partial.rename(out)
        else:
            resumed.append(n)
            assert r.returncode == 0, r.stderr
        with open_run(out) as run:
            assert run.status == "complete"
            keys = list(run.tables["points"]["key"])
            assert len(keys) == len(set(keys)) == 15, f"trial {trial}: {keys}"
            g = run.tables["gains"]
            for k in range(3):
                S, U = g["S"][k], np.real(g["S_u"][k])
                assert np.all(np.abs(S - truth[k]) < 4 * U), f"trial {trial}, f={g['frequency_hz'][k]}"
    assert resumed, "every run finished before its kill: the test exercised nothing"
