"""The exit-status contract of ``diffbench run``, for every way a run ends, and the preflight behind exit 2.

0 complete and every limit met; 3 complete, a limit failed; 2 bad input, refused before anything was
opened (one line, at once); 1 the run failed after it started (archive ``failed``, outputs off); 128 + n
stopped by signal n (archive ``aborted``, ``--resume`` finishes it). The codes are the same in
``cli_run.EXIT_CODES``, ``diffbench run --help`` and README.md's table.

Where the exit status is the point the command runs as a subprocess with no terminal
(``stdin=subprocess.DEVNULL``); where what was (not) opened is the point it also runs in-process through
:func:`procedures.cli.main.main` with the simulator and ``open_bench`` replaced by traps.
"""

from __future__ import annotations

import io
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest

import instruments
import instruments.bench
import procedures.run.runner
from instruments.board_config import load_board
from instruments.sim.bench import SimBench
from procedures.archive.files import partial_path_of
from procedures.archive.reader import open_run
from procedures.cli import main as cli
from procedures.cli.run import EXIT_CODES
from procedures.config.procedure import load_procedure
from procedures.measure.plan import plan

ROOT = Path(__file__).resolve().parents[3]
DIFFBENCH = Path(sys.executable).with_name("diffbench")
SIM_BENCH = ROOT / "configs" / "benches" / "sim-keysight.toml"
REAL_BENCH = ROOT / "configs" / "benches" / "keysight-33522b-dsox1204g.toml"
BOARD = ROOT / "configs" / "boards" / "bjt-source-text.toml"
TAIL_R_LOW = ROOT / "configs" / "faults" / "bjt-source-text-tail-r-low.toml"
README = ROOT / "README.md"

REFUSAL_WALL_S = 2.0  # a refused run answers at once
RUN_TIMEOUT_S = 180.0  # a whole (small) run, generous for a shared 2-core machine

# One frequency the board's [pass_fail] judges (|Add| at 1 kHz, CMRR_se up to 10 kHz). The channel-match
# calibration is on: the simulator's relay makes it (no operator), and without it the simulated scope's
# 0.4 % channel gain error caps the measured CMRR_se near 47 dB, under the 57 dB limit.
JUDGED = """\
    [procedure]
    name = "exit-codes-judged"
    kind = "frequency_sweep"
    [drive]
    cm_drive = "two-channel"
    [frequency]
    list_hz = [1000.0]
    [acquisition]
    record_points = 50000
    [calibration]
    channel_match = true
    """

# No operator step anywhere: two-channel common mode, no channel match.
NO_OPERATOR = """\
    [procedure]
    name = "exit-codes-{name}"
    kind = "frequency_sweep"
    [drive]
    cm_drive = "two-channel"
    [frequency]
    list_hz = {list_hz}
    [acquisition]
    record_points = 20000
    [calibration]
    channel_match = false
    """

# Operator steps: a tied common-mode drive (one channel teed into both inputs) or the channel match (all
# four probes on input 1); either needs a person at a real bench.
NEEDS_OPERATOR = {
    "tied-cm-drive": """\
        [procedure]
        name = "exit-codes-tied"
        kind = "frequency_sweep"
        [drive]
        cm_drive = "tied"
        compare_ideal = false
        [frequency]
        list_hz = [1000.0]
        [calibration]
        channel_match = false
        """,
    "channel-match": """\
        [procedure]
        name = "exit-codes-match"
        kind = "frequency_sweep"
        [drive]
        cm_drive = "two-channel"
        [frequency]
        list_hz = [1000.0]
        [calibration]
        channel_match = true
        """,
}


# ---- helpers --------------------------------------------------------------------------------------------

def write_procedure(folder: Path, text: str, name: str = "procedure.toml") -> Path:
    """Write a procedure config (dedented) into ``folder``; returns its path."""
    p = folder / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def no_operator_procedure(folder: Path, name: str, list_hz: list[float]) -> Path:
    """A frequency sweep with no operator step at ``list_hz``."""
    return write_procedure(folder, NO_OPERATOR.format(name=name, list_hz=list_hz), f"{name}.toml")


def run_argv(procedure: Path, out: str | Path, *, bench: Path = SIM_BENCH, extra: tuple[str, ...] = ()) -> list[str]:
    """The arguments after ``diffbench`` for a run on ``bench`` with the source-text board."""
    return ["run", str(procedure), "--bench", str(bench), "--board", str(BOARD), "-o", str(out), "--no-progress",
            *extra]


def diffbench(args: list[str], *, cwd: Path | None = None, timeout: float = RUN_TIMEOUT_S
              ) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``diffbench ARGS`` with no terminal on standard input; returns the result and its wall time."""
    t0 = time.monotonic()
    r = subprocess.run([str(DIFFBENCH), *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       cwd=cwd, timeout=timeout)
    return r, time.monotonic() - t0


def one_line(stderr: str) -> str:
    """The single line a refusal or failure prints on stderr (fails the test if there are more or none)."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{stderr}"
    return lines[0]


def verdict_lines(stdout: str) -> list[str]:
    """The PASS/FAIL lines of a run's summary."""
    return [ln.strip() for ln in stdout.splitlines() if re.match(r"\s+(PASS|FAIL)\s", ln)]


def planned_keys(procedure: Path) -> list[str]:
    """Every point key the procedure plans on the source-text board."""
    return [p.key for p in plan(load_procedure(procedure), load_board(BOARD))]


def committed_keys(path: Path) -> list[str]:
    """Point keys a reader sees committed in an archive (empty while it cannot be read)."""
    try:
        with open_run(path) as run:
            return [str(k) for k in run.tables["points"]["key"]]
    except Exception:
        return []


def files_in(folder: Path) -> set[str]:
    """Names of the files in ``folder`` (recursively, relative)."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


@dataclass
class Listener:
    """A TCP socket listening on a loopback port, counting every connection that reaches it."""

    port: int
    connections: list[tuple[str, int]] = field(default_factory=list)


@pytest.fixture
def listener() -> Iterator[Listener]:
    """A loopback port where a test socket listens (a stand-in instrument that must never be contacted)."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.05)
    lst = Listener(port=srv.getsockname()[1])
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, addr = srv.accept()
            except (TimeoutError, OSError):
                continue
            lst.connections.append(addr)
            conn.close()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    with socket.create_connection(("127.0.0.1", lst.port), timeout=2):  # the listener does see connections
        pass
    deadline = time.monotonic() + 2
    while not lst.connections and time.monotonic() < deadline:
        time.sleep(0.01)
    assert lst.connections, "the test listener does not register connections"
    lst.connections.clear()
    yield lst
    stop.set()
    t.join(timeout=2)
    srv.close()


def real_bench_on(folder: Path, port: int) -> Path:
    """A copy of the real Keysight bench config whose generator and scope both point at loopback ``port``."""
    text = REAL_BENCH.read_text(encoding="utf-8")
    text, n = re.subn(r'(?m)^resource\s*=\s*"[^"]*"', f'resource = "TCPIP0::127.0.0.1::{port}::SOCKET"', text)
    assert n == 2, "the real bench config should name two resources"
    p = folder / "real-bench.toml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.fixture
def nothing_opens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make starting a simulator or opening a bench fail the test; returns the list of such calls.

    Standard input becomes a non-terminal, as in the subprocess runs.
    """
    calls: list[str] = []

    def trap(what: str) -> Callable[..., NoReturn]:
        def opened(*args: Any, **kwargs: Any) -> NoReturn:
            calls.append(what)
            pytest.fail(f"{what} was called: a refused run must open nothing")
        return opened

    monkeypatch.setattr(SimBench, "__init__", trap("SimBench.__init__"))
    monkeypatch.setattr(instruments.bench, "open_bench", trap("instruments.bench.open_bench"))
    monkeypatch.setattr(procedures.run.runner, "open_bench", trap("procedures.run.runner.open_bench"))
    if hasattr(instruments, "open_bench"):
        monkeypatch.setattr(instruments, "open_bench", trap("instruments.open_bench"))
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    return calls


def main_in_process(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``procedures.cli.main.main(args)`` in this process; returns (exit status, stdout, stderr)."""
    capsys.readouterr()
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


# ---- 0 and 3: complete runs -------------------------------------------------------------------------------

@dataclass(frozen=True)
class CompleteRun:
    """The healthy board's complete run, shared by the tests that need a finished archive."""

    result: subprocess.CompletedProcess[str]
    archive: Path
    procedure: Path


@pytest.fixture(scope="module")
def complete_run(tmp_path_factory: pytest.TempPathFactory) -> CompleteRun:
    """One complete run of the healthy board on the simulated Keysight bench (exit 0 expected)."""
    folder = tmp_path_factory.mktemp("complete")
    proc = write_procedure(folder, JUDGED)
    out = folder / "run.h5"
    r, _ = diffbench(run_argv(proc, out))
    return CompleteRun(r, out, proc)


def test_exit_0_complete_and_every_limit_met(complete_run: CompleteRun) -> None:
    """A healthy board at 1 kHz: |Add| and CMRR_se both judged and both pass -> 0, archive complete."""
    r = complete_run.result
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    verdicts = verdict_lines(r.stdout)
    assert any(v.startswith("PASS  |Add|") for v in verdicts), r.stdout
    assert any(v.startswith("PASS  CMRR_se") for v in verdicts), r.stdout
    assert not any(v.startswith("FAIL") for v in verdicts), r.stdout
    with open_run(complete_run.archive) as run:
        assert run.status == "complete" and run.reason == ""


def test_exit_3_complete_but_a_cmrr_limit_fails(tmp_path: Path) -> None:
    """The tail source's output resistance a tenth of the board config's: CMRR_se fails its limit -> 3."""
    proc = write_procedure(tmp_path, JUDGED)
    out = tmp_path / "tail.h5"
    r, _ = diffbench(run_argv(proc, out, extra=("--sim-board", str(TAIL_R_LOW))))
    assert r.returncode == 3, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert any(v.startswith("FAIL  CMRR_se") for v in verdict_lines(r.stdout)), r.stdout
    with open_run(out) as run:
        assert run.status == "complete"


# ---- 2: refused by preflight, nothing opened --------------------------------------------------------------

@dataclass(frozen=True)
class Refusal:
    """A command line preflight must refuse (run from ``cwd``), and what its one line must say."""

    args: list[str]
    says: tuple[str, ...]


def _missing_output_folder(tmp: Path, done: CompleteRun) -> Refusal:
    proc = no_operator_procedure(tmp, "p", [1000.0])
    return Refusal(run_argv(proc, "missing-folder/run.h5"), ("missing-folder", "does not exist"))


def _bench_board_missing(tmp: Path, done: CompleteRun) -> Refusal:
    proc = no_operator_procedure(tmp, "p", [1000.0])
    text = SIM_BENCH.read_text(encoding="utf-8")
    text, n = re.subn(r'(?m)^board\s*=\s*"[^"]*"', 'board = "no-such-board.toml"', text)
    assert n == 1
    bench = tmp / "sim-bench-copy.toml"
    bench.write_text(text, encoding="utf-8")
    return Refusal(run_argv(proc, tmp / "run.h5", bench=bench), ("[bench] board", "no-such-board.toml", "no such file"))


def _output_is_an_archive(tmp: Path, done: CompleteRun) -> Refusal:
    shutil.copy(done.archive, tmp / "run.h5")
    return Refusal(run_argv(done.procedure, tmp / "run.h5"), ("run.h5 already exists",))


def _output_has_a_partial(tmp: Path, done: CompleteRun) -> Refusal:
    shutil.copy(done.archive, partial_path_of(tmp / "run.h5"))
    return Refusal(run_argv(done.procedure, tmp / "run.h5"), ("run.h5.partial already exists", "--resume"))


def _output_named_partial(tmp: Path, done: CompleteRun) -> Refusal:
    return Refusal(run_argv(done.procedure, tmp / "run.h5.partial"), ("-o", "give the final name"))


def _resume_missing(tmp: Path, done: CompleteRun) -> Refusal:
    return Refusal(run_argv(done.procedure, tmp / "run.h5", extra=("--resume", str(tmp / "gone.h5"))),
                   ("--resume", "gone.h5", "no such file"))


def _resume_complete(tmp: Path, done: CompleteRun) -> Refusal:
    shutil.copy(done.archive, tmp / "done.h5")
    return Refusal(run_argv(done.procedure, tmp / "done.h5", extra=("--resume", str(tmp / "done.h5"))),
                   ("done.h5", "complete"))


def _resume_not_an_archive(tmp: Path, done: CompleteRun) -> Refusal:
    (tmp / "junk.h5").write_bytes(b"not an archive\n")
    return Refusal(run_argv(done.procedure, tmp / "run.h5", extra=("--resume", str(tmp / "junk.h5"))),
                   ("junk.h5", "not an HDF5 file"))


REFUSALS: dict[str, Callable[[Path, CompleteRun], Refusal]] = {
    "missing-output-folder": _missing_output_folder,
    "bench-board-file-missing": _bench_board_missing,
    "output-is-an-existing-archive": _output_is_an_archive,
    "output-partial-exists": _output_has_a_partial,
    "output-named-partial": _output_named_partial,
    "resume-missing-file": _resume_missing,
    "resume-not-an-archive": _resume_not_an_archive,
    "resume-complete-archive": _resume_complete,
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_exit_2_refused_at_once_with_one_line(case: str, tmp_path: Path, complete_run: CompleteRun) -> None:
    """Bad input on the simulated bench: exit 2, one line naming the problem, within 2 s, no file written."""
    refusal = REFUSALS[case](tmp_path, complete_run)
    before = files_in(tmp_path)
    r, wall = diffbench(refusal.args, cwd=tmp_path)
    assert r.returncode == 2, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    line = one_line(r.stderr)
    assert line.startswith("diffbench run: error: "), line
    for words in refusal.says:
        assert words in line, f"{words!r} not in {line!r}"
    assert wall < REFUSAL_WALL_S, f"refused after {wall:.2f} s"
    assert files_in(tmp_path) == before, "a refused run must write nothing"


@pytest.mark.parametrize("case", list(REFUSALS))
def test_exit_2_in_process_opens_nothing(case: str, tmp_path: Path, complete_run: CompleteRun,
                                         nothing_opens: list[str], monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """The same refusals through ``cli.main``: no simulator started, no bench opened, one line on stderr."""
    refusal = REFUSALS[case](tmp_path, complete_run)
    monkeypatch.chdir(tmp_path)
    before = files_in(tmp_path)
    code, out, err = main_in_process(refusal.args, capsys)
    assert code == 2, f"exit {code}\n{out}\n{err}"
    line = one_line(err)
    for words in refusal.says:
        assert words in line, f"{words!r} not in {line!r}"
    assert nothing_opens == []
    assert files_in(tmp_path) == before


@pytest.mark.parametrize("step", list(NEEDS_OPERATOR))
def test_exit_2_operator_step_without_a_terminal_on_a_real_bench(step: str, tmp_path: Path, listener: Listener) -> None:
    """A real bench, a plan that needs the bench rewired by hand, no terminal: refused, no instrument contacted."""
    proc = write_procedure(tmp_path, NEEDS_OPERATOR[step])
    bench = real_bench_on(tmp_path, listener.port)
    r, wall = diffbench(run_argv(proc, tmp_path / "run.h5", bench=bench), cwd=tmp_path)
    assert r.returncode == 2, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    line = one_line(r.stderr)
    assert "rewired by hand" in line and "no terminal" in line, line
    assert wall < REFUSAL_WALL_S, f"refused after {wall:.2f} s"
    time.sleep(0.1)  # a connection attempt in flight would have been accepted by now
    assert listener.connections == [], "the refused run contacted an instrument"
    assert not (tmp_path / "run.h5").exists() and not partial_path_of(tmp_path / "run.h5").exists()


@pytest.mark.parametrize("step", list(NEEDS_OPERATOR))
def test_exit_2_operator_step_in_process_opens_nothing(step: str, tmp_path: Path, listener: Listener,
                                                       nothing_opens: list[str],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """The same through ``cli.main`` with standard input not a terminal: nothing opened, one line."""
    proc = write_procedure(tmp_path, NEEDS_OPERATOR[step])
    bench = real_bench_on(tmp_path, listener.port)
    code, out, err = main_in_process(run_argv(proc, tmp_path / "run.h5", bench=bench), capsys)
    assert code == 2, f"exit {code}\n{out}\n{err}"
    assert "rewired by hand" in one_line(err)
    assert nothing_opens == [] and listener.connections == []


# ---- 1: failed after the start ----------------------------------------------------------------------------

def test_exit_1_instrument_error_after_the_start(tmp_path: Path) -> None:
    """50 MHz is beyond the simulated 33522B's sine range: -222 from the generator -> 1, archive failed."""
    proc = no_operator_procedure(tmp_path, "too-fast", [1000.0, 5e7])
    out = tmp_path / "run.h5"
    r, _ = diffbench(run_argv(proc, out))
    assert r.returncode == 1, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    line = one_line(r.stderr)
    assert line.startswith("diffbench run: error: generator") and "-222" in line, line
    assert "'failed'" in line and f"--resume {out}" in line, line
    with open_run(out) as run:
        assert run.status == "failed" and "-222" in run.reason and "generator" in run.reason
        assert len(run.tables["points"]["key"]) >= 1  # the 1 kHz points before the error are kept


def test_exit_1_in_process_leaves_the_outputs_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The same failure through ``cli.main``, watching the simulator the run starts: outputs off at the end."""
    started: list[SimBench] = []
    original = SimBench.__init__

    def recording(self: SimBench, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        started.append(self)

    monkeypatch.setattr(SimBench, "__init__", recording)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    proc = no_operator_procedure(tmp_path, "too-fast", [1000.0, 5e7])
    code, out, err = main_in_process(run_argv(proc, tmp_path / "run.h5"), capsys)
    assert code == 1, f"exit {code}\n{out}\n{err}"
    assert "generator" in one_line(err)
    assert len(started) == 1
    gen = started[0].generator
    assert gen.switch_on_count >= 1, "the run never switched the generator on"
    assert gen.outputs_on() == (False, False)


# ---- 128 + n: stopped by a signal, then resumed -----------------------------------------------------------

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
SIGNAL_WORDS = {signal.SIGINT: ("SIGINT", "Ctrl-C"), signal.SIGTERM: ("SIGTERM",), signal.SIGHUP: ("SIGHUP",)}


def start_and_signal(args: list[str], partial: Path, sig: signal.Signals) -> tuple[int, str, list[str]]:
    """Start ``diffbench ARGS``, wait until its archive holds a committed point, send ``sig``.

    Returns the exit status, stderr and the point keys seen committed just before the signal.
    """
    p = subprocess.Popen([str(DIFFBENCH), *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        seen: list[str] = []
        while p.poll() is None and time.monotonic() < deadline:
            if partial.exists() and (seen := committed_keys(partial)):
                break
            time.sleep(0.05)
        if p.poll() is not None:
            _, err = p.communicate()
            pytest.fail(f"the run ended (exit {p.returncode}) before it could be signalled: {err}")
        assert seen, f"no point committed to {partial} within {RUN_TIMEOUT_S} s"
        p.send_signal(sig)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    return p.returncode, err, seen


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_signal_exit_128_plus_n_then_resume_completes(sig: signal.Signals, tmp_path: Path) -> None:
    """SIGINT / SIGTERM / SIGHUP mid-run: exit 128 + n, archive aborted naming the signal; --resume
    completes it (0 or 3) with every planned point exactly once."""
    proc = no_operator_procedure(tmp_path, "signalled", [1000.0, 2000.0, 3000.0])
    out = tmp_path / "run.h5"
    code, err, seen = start_and_signal(run_argv(proc, out), partial_path_of(out), sig)
    assert code == 128 + sig, f"exit {code}, expected {128 + sig}\n{err}"
    last = err.strip().splitlines()[-1]
    assert "interrupted" in last and "'aborted'" in last, err
    with open_run(out) as run:
        assert run.status == "aborted"
        assert any(w in run.reason for w in SIGNAL_WORDS[sig]), f"reason {run.reason!r} names no {sig.name}"
        aborted_keys = [str(k) for k in run.tables["points"]["key"]]
    assert set(seen) <= set(aborted_keys), "a point committed before the signal was lost"

    r, _ = diffbench(run_argv(proc, out, extra=("--resume", str(out))))
    assert r.returncode in (0, 3), f"resume exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    planned = planned_keys(proc)
    assert f"({len(aborted_keys)} of {len(planned)} points carried over" in r.stdout, r.stdout
    with open_run(out) as run:
        keys = [str(k) for k in run.tables["points"]["key"]]
        assert run.status == "complete"
    assert sorted(keys) == sorted(planned), "every planned point exactly once"


# ---- the contract's text: --help and README agree with EXIT_CODES -----------------------------------------

SIGNAL_CODES = (130, 143, 129)


def help_codes(text: str) -> dict[int, str]:
    """The ``exit status:`` block of ``diffbench run --help``: code -> meaning."""
    _, sep, block = text.partition("exit status:")
    assert sep, "diffbench run --help has no 'exit status:' block"
    codes: dict[int, str] = {}
    for ln in block.splitlines():
        m = re.match(r"\s+(\d+)\s+(\S.*)$", ln)
        if m:
            codes[int(m.group(1))] = m.group(2)
        elif ln.strip() and codes and not ln.startswith(" "):
            break
    return codes


def readme_codes(text: str) -> dict[str, str]:
    """README.md's exit-status table of ``diffbench run``: status cell -> meaning."""
    start = text.index("Exit status of `diffbench run`")
    rows: dict[str, str] = {}
    for ln in text[start:].splitlines()[1:]:
        if not ln.strip():
            if rows:
                break
            continue
        cells = [c.strip() for c in ln.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0] not in ("status",) and not set(cells[0]) <= set("-: "):
            rows[cells[0]] = cells[1]
    return rows


def signal_family(code: int) -> bool:
    """An exit status that means 'stopped by a signal' (128 + n)."""
    return code > 128


def test_help_and_readme_list_the_same_exit_codes() -> None:
    """``diffbench run --help`` shows every code of EXIT_CODES; README's table lists the same codes."""
    r, _ = diffbench(["run", "--help"])
    assert r.returncode == 0, r.stderr
    shown = help_codes(r.stdout)
    contract = [code for code, _ in EXIT_CODES]
    assert sorted(shown) == sorted(contract), f"--help shows {sorted(shown)}, EXIT_CODES has {sorted(contract)}"
    plain = sorted(c for c in contract if not signal_family(c))
    assert plain == [0, 1, 2, 3]
    signal_meaning = " ".join(text for code, text in EXIT_CODES if signal_family(code))
    for code in SIGNAL_CODES:
        assert str(code) in signal_meaning and str(code) in r.stdout, f"{code} is not explained"

    table = readme_codes(README.read_text(encoding="utf-8"))
    readme_plain = sorted(int(k) for k in table if k.isdigit())
    readme_signal = [k for k in table if not k.isdigit()]
    assert readme_plain == plain, f"README lists {readme_plain}, EXIT_CODES {plain}"
    assert readme_signal == ["128 + n"], f"README's signal row(s): {readme_signal}"
    for code in SIGNAL_CODES:
        assert str(code) in table["128 + n"], f"README's signal row does not name {code}"
    assert any(signal_family(c) for c in contract), "EXIT_CODES has no signal row"
