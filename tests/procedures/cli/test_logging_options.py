"""The command line's logging options (docs/logging.md): ``--scpi-log``, ``-v/--verbose``, ``--log-file``.

The SCPI transcript of a simulated run is checked against the simulator's own record of every program message it
received (``"instruments.sim.messages"``, kept by the server, not by the drivers): per instrument, the commands the
transcript says were sent are exactly the messages the simulator took in, in order, for every simulated family.
Runs go through :func:`procedures.cli.main.main` in this process (a one-frequency sweep, a few seconds each).
"""

from __future__ import annotations

import logging
import os
import re
import textwrap
import warnings
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import instruments.bench
import procedures.run.runner
from instruments.sim.bench import SimBench
from instruments.sim.scpi_server import RECEIVED
from logger_handlers import listening
from procedures.cli import main as cli
from procedures.cli.logging_options import command_logging

ROOT = Path(__file__).resolve().parents[3]
BENCHES = ROOT / "configs" / "benches"
BOARD = ROOT / "configs" / "boards" / "bjt-source-text.toml"
LOT = ROOT / "configs" / "lots" / "sim-bjt-lot.toml"
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"
SENT = ("write", "query")

# one frequency, no operator step (two-channel common mode, no channel match): a few seconds on the simulator
PROCEDURE = """\
    [procedure]
    name = "logging-options"
    kind = "frequency_sweep"
    [drive]
    cm_drive = "two-channel"
    [frequency]
    list_hz = [1000.0]
    [acquisition]
    record_points = 20000
    [calibration]
    channel_match = false
    """


class Received(logging.Handler):
    """The simulator's record: every message it received, per instrument resource, in order."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.by_resource: dict[str, list[str]] = defaultdict(list)

    def emit(self, record: logging.LogRecord) -> None:
        self.by_resource[_resource(record.instrument)].append(record.scpi)  # type: ignore[attr-defined]


@pytest.fixture
def received() -> Iterator[Received]:
    handler = Received()
    with listening(RECEIVED, handler):
        yield handler


def _resource(instrument: str) -> str:
    """The VISA resource at the end of an instrument label (``scope KEYSIGHT DSO-X 1204G at TCPIP0::...``)."""
    m = re.search(r" at (\S+)$", instrument)
    assert m, instrument
    return m.group(1)


def _procedure(folder: Path) -> Path:
    path = folder / "procedure.toml"
    path.write_text(textwrap.dedent(PROCEDURE), encoding="utf-8")
    return path


def _run(folder: Path, capsys: pytest.CaptureFixture[str], bench: str, *extra: str) -> tuple[int, str, str]:
    """``diffbench run`` of the one-frequency sweep on a simulated bench, in this process."""
    capsys.readouterr()
    code = cli.main(["run", str(_procedure(folder)), "--bench", str(BENCHES / f"{bench}.toml"), "--board",
                     str(BOARD), "-o", str(folder / "run.h5"), *extra])
    out, err = capsys.readouterr()
    assert code in (0, 3), f"exit {code}\n{out}\n{err}"
    return code, out, err


def _transcript(path: Path) -> list[tuple[str, str, str]]:
    """``(resource, direction, text)`` of every line of a transcript file, checking each line's form."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        stamp, instrument, direction, text = line.split("\t")
        assert re.fullmatch(STAMP, stamp), line
        rows.append((_resource(instrument), direction, text))
    return rows


@pytest.mark.parametrize("bench", ["sim-keysight", "sim-rigol", "sim-siglent", "sim-tektronix"])
def test_the_scpi_log_holds_every_message_the_simulator_received_in_order(
        bench: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], received: Received) -> None:
    log = tmp_path / "scpi.log"
    _, _, err = _run(tmp_path, capsys, bench, "--scpi-log", str(log), "--no-progress")
    rows = _transcript(log)
    sent: dict[str, list[str]] = defaultdict(list)
    for resource, direction, text in rows:
        if direction in SENT:
            sent[resource].append(text)
    assert len(sent) == 2, sorted(sent)  # the generator and the scope
    assert set(sent) == set(received.by_resource), (sorted(sent), sorted(received.by_resource))
    for resource, commands in sent.items():
        assert commands == received.by_resource[resource], resource
    # every query is answered by one read (a block by its length), in order, and no error on a clean run
    directions = [d for _, d, _ in rows]
    assert "error" not in directions
    for i, (resource, direction, _) in enumerate(rows):
        if direction == "query":
            assert rows[i + 1][:2] == (resource, "read"), rows[i:i + 2]
    blocks = [t for _, d, t in rows if d == "read" and t.startswith("<binary block")]
    assert blocks and all(re.fullmatch(r"<binary block: \d+ bytes(, \d+ values of \S+)?>", t) for t in blocks)
    assert "instruments.scpi" not in err and "\tquery\t" not in err  # the transcript never reaches the terminal


def test_verbose_and_log_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """-v shows INFO on the terminal (not DEBUG); --log-file holds DEBUG and up with UTC times and logger names, the
    transcript included, and is appended to: a later command's refusal is added below, with its reason."""
    log = tmp_path / "diffbench.log"
    (tmp_path / "quiet").mkdir()
    _, _, quiet = _run(tmp_path / "quiet", capsys, "sim-keysight", "--no-progress")
    assert "info" not in quiet and "answered" not in quiet
    _, _, err = _run(tmp_path, capsys, "sim-keysight", "-v", "--log-file", str(log), "--no-progress")
    info = [ln for ln in err.splitlines() if " info " in ln]
    assert any(re.search(r"instruments\.bench: generator .* \*IDN\? .*; driver keysight_33500", ln) for ln in info), err
    assert any("bench closed: generator outputs off" in ln for ln in info), err
    assert " debug " not in err and "opening TCPIP0" not in err
    text = log.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert all(re.match(rf"{STAMP} (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: ", ln) for ln in lines), lines[:3]
    assert any(re.search(r" DEBUG instruments\.bench: opening TCPIP0::127\.0\.0\.1::\d+::SOCKET", ln) for ln in lines)
    assert any(" INFO instruments.bench: " in ln and "driver keysight_33500" in ln for ln in lines)
    assert sum(" DEBUG instruments.scpi: " in ln for ln in lines) > 50
    assert not any("instruments.sim.messages" in ln for ln in lines)  # the client's side of each exchange is enough

    capsys.readouterr()
    code = cli.main(["run", str(tmp_path / "missing.toml"), "--bench", str(BENCHES / "sim-keysight.toml"),
                     "--board", str(BOARD), "-o", str(tmp_path / "r2.h5"), "--log-file", str(log)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and "missing.toml" in err  # the reason once on the terminal
    after = log.read_text(encoding="utf-8")
    assert after.startswith(text)
    assert re.search(rf"{STAMP} ERROR procedures\.cli\.main: diffbench run: .*missing\.toml", after[len(text):])


def test_vv_shows_debug_records_before_or_after_the_subcommand(sim_bench, capsys: pytest.CaptureFixture[str]) -> None:
    resource = sim_bench("keysight").resources["generator"]
    for argv in (["-vv", "identify", resource], ["identify", resource, "-v", "-v"], ["-v", "identify", resource, "-v"]):
        capsys.readouterr()
        assert cli.main(argv) == 0
        err = capsys.readouterr().err
        assert re.search(rf"debug +instruments\.bench: opening {re.escape(resource)}", err), (argv, err)
    assert cli.main(["-v", "identify", resource]) == 0
    assert "debug" not in capsys.readouterr().err


@pytest.fixture
def nothing_opens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record any start of a simulator, opening of a bench or VISA resource manager (a refusal must come first)."""
    calls: list[str] = []

    def trap(what: str) -> Any:
        def called(*args: Any, **kwargs: Any) -> None:
            calls.append(what)
            raise AssertionError(f"{what} was called before the refusal")
        return called

    monkeypatch.setattr(SimBench, "__init__", trap("SimBench"))
    monkeypatch.setattr(instruments.bench, "open_bench", trap("open_bench"))
    monkeypatch.setattr(procedures.run.runner, "open_bench", trap("open_bench"))
    monkeypatch.setattr("procedures.cli.instruments._resource_manager", trap("pyvisa"))
    return calls


def _commands(tmp_path: Path) -> dict[str, list[str]]:
    """One command line per subcommand that talks to instruments."""
    proc = _procedure(tmp_path)
    return {
        "run": ["run", str(proc), "--bench", str(BENCHES / "sim-keysight.toml"), "--board", str(BOARD),
                "-o", str(tmp_path / "run.h5")],
        "sim serve": ["sim", "serve", str(BENCHES / "sim-keysight.toml")],
        "identify": ["identify", "TCPIP0::127.0.0.1::1::SOCKET"],
        "lot run": ["lot", "run", str(LOT), "-o", str(tmp_path / "lot")],
    }


@pytest.mark.parametrize(("command", "case"), [
    *[(command, case) for command in ("run", "sim serve", "identify", "lot run")
      for case in ("no-folder", "a-folder", "same-file")],
    ("run", "read-only"),  # root may write anywhere: skipped there
])
def test_a_log_path_that_cannot_be_written_is_one_line_and_nothing_happens(
        command: str, case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], nothing_opens: list[str]) -> None:
    argv = _commands(tmp_path)[command]
    good = tmp_path / "good.log"
    options, says = {
        "no-folder": (["--scpi-log", str(tmp_path / "no" / "such" / "scpi.log")], "does not exist"),
        "a-folder": (["--log-file", str(tmp_path)], "is a folder"),
        "same-file": (["--log-file", str(good), "--scpi-log", str(good)], "is the --log-file too"),
        "read-only": (["--log-file", str(good), "--scpi-log", str(tmp_path / "ro" / "scpi.log")], "not writable"),
    }[case]
    if case == "read-only":
        if os.geteuid() == 0:
            pytest.skip("root may write into a read-only folder")
        (tmp_path / "ro").mkdir(mode=0o500)
    before = {p.name for p in tmp_path.iterdir()}
    capsys.readouterr()
    code = cli.main([*argv, *options])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"diffbench {command.split()[0]}: error: --") and says in err, err
    assert nothing_opens == []
    assert {p.name for p in tmp_path.iterdir()} == before  # no log file, no archive, no lot folder


def test_records_and_warnings_never_land_inside_a_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    """While a tqdm bar is on stderr, a log record and a Python warning each come out as a line of their own (the
    bar cleared first and drawn again after), and they are one line each: ``diffbench run: warning: ...``."""
    from argparse import Namespace

    from tqdm import tqdm

    capsys.readouterr()
    with command_logging(Namespace(verbose=0, log_file=None, scpi_log=None), "run"):
        bar = tqdm(total=3, file=__import__("sys").stderr, ncols=60, mininterval=0)
        bar.update(1)
        logging.getLogger("procedures.fitting.run_fits").warning("dc_transfer fit skipped: 3 points")
        bar.update(1)
        warnings.warn("a late warning", UserWarning, stacklevel=1)
        bar.update(1)
        bar.close()
    err = capsys.readouterr().err
    segments = [s.strip() for s in re.split(r"[\r\n]", err) if s.strip()]
    assert "diffbench run: warning: dc_transfer fit skipped: 3 points" in segments, segments
    warned = [s for s in segments if "a late warning" in s]
    assert len(warned) == 1 and re.fullmatch(r"diffbench run: warning: UserWarning: a late warning \(\S+:\d+\)",
                                             warned[0]), segments
    assert sum("3/3" in line for line in err.split("\n")) == 1  # the finished bar is left once


def test_a_lot_writes_one_transcript_per_bench(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``lot run --scpi-log scpi.log``: each bench worker writes ``scpi.<bench>.log``; the units a bench measured
    (the lot index's record) are the units its file shows being opened (each unit's run identifies both
    instruments once), and the lot's own process writes no ``scpi.log``."""
    from procedures.lot.index import read_index

    bench = BENCHES / "sim-keysight.toml"
    _procedure(tmp_path)
    lot = tmp_path / "lot.toml"
    lot.write_text(f'[lot]\nname = "log-lot"\nboard = "{BOARD.as_posix()}"\nprocedure = "procedure.toml"\n'
                   f'units = 3\n\n[benches]\nbench-a = "{bench.as_posix()}"\nbench-b = "{bench.as_posix()}"\n\n'
                   "[tolerances]\nseed = 3\nresistor_pct = 1.0\nmatching_pct = 1.0\n", encoding="utf-8")
    out = tmp_path / "out"
    log = tmp_path / "scpi.log"
    assert cli.main(["lot", "run", str(lot), "-o", str(out), "--scpi-log", str(log)]) in (0, 3)
    capsys.readouterr()
    index = read_index(out / "index.h5")
    measured: dict[str, int] = defaultdict(int)
    for bench_name, status in zip(index["bench"], index["status"]):
        if str(status) == "done":
            measured[str(bench_name)] += 1
    assert sum(measured.values()) == 3
    assert not log.exists()
    files = {p.name for p in tmp_path.glob("scpi*.log")}
    assert files == {f"scpi.{b}.log" for b in measured}, files
    for bench_name, units in measured.items():
        rows = _transcript(tmp_path / f"scpi.{bench_name}.log")
        first_identities = [r for r in rows if r[1:] == ("query", "*IDN?")]
        assert len(first_identities) == 2 * units, (bench_name, units, len(first_identities))
        assert any(d == "read" and t.startswith("<binary block") for _, d, t in rows)


def test_a_run_that_fails_says_so_once_on_the_terminal_and_in_the_log_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The line that ends a failed or interrupted run (and a clean-up note on its error) is printed once on stderr,
    not again by the terminal's log handler, and is in the log file with its level and logger."""
    from argparse import Namespace

    from instruments.errors import InstrumentConnectionError
    from procedures.cli.run import _say

    log = tmp_path / "run.log"
    exc = InstrumentConnectionError("scope X at TCPIP0::h::1::SOCKET", "connection lost", ":WAV:DATA?")
    exc.__notes__ = ["switching the generator outputs off also failed: timeout"]  # add_note, also on 3.10
    capsys.readouterr()
    with command_logging(Namespace(verbose=2, log_file=str(log), scpi_log=None), "run"):
        _say(f"diffbench run: error: {exc}", exc)
    err = capsys.readouterr().err
    assert err.splitlines() == [f"diffbench run: error: {exc}",
                                "  also: switching the generator outputs off also failed: timeout"]
    text = log.read_text(encoding="utf-8")
    assert re.match(rf"{STAMP} ERROR procedures\.cli\.run: diffbench run: error: scope X .*connection lost.*; also: "
                    "switching the generator outputs off also failed: timeout", text), text
