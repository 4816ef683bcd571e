"""The lot's progress display: one line per bench and the running yield, redrawn in place on a terminal with the
lot's messages above it, throttled plain lines off one; and a small lot over two simulated benches whose every
point reaches the display through Dask's event log."""

from __future__ import annotations

import io
import logging
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_lot_run import lot_text, write_lot

from procedures.lot import progress as progress_module
from procedures.lot.config import load_lot
from procedures.lot.lot_index_writer import open_lot_index
from procedures.lot.lot_run import run_lot
from procedures.lot.progress import (
    NO_YIELD_YET,
    PLAIN_INTERVAL_S,
    LotProgress,
    ProgressEvent,
    dashboard_line,
    point_label,
)
from procedures.lot.runner import _publish
from procedures.measure.excitation import common_mode, differential

BENCHES = ["bench-a", "bench-b"]
#: a bench's line as the display writes it (the unit's part is optional: idle, out of the pool)
BENCH_LINE = re.compile(r"^bench-[ab]  (idle|out of the pool|unit \S+ \(attempt \d\)  "
                        r"(starting|point \d+(/\d+)?( \w+ [\d.]+ [kM]?Hz| dc [+-][\d.]+ mV)?)  \d+ s)$")


class FakeClock:
    """Monotonic seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeTerminal(io.StringIO):
    """A stream that says it is a terminal, and keeps what was written to it."""

    def isatty(self) -> bool:
        return True


def screen(raw: str) -> list[str]:
    """What a terminal shows after ``raw`` (carriage return, line feed, cursor up, erase to the end of the line):
    enough of one for tqdm's output. Trailing blank lines are left out."""
    rows: list[list[str]] = [[]]
    row = col = 0
    for token in re.findall(r"\x1b\[\d*[A-Za-z]|[\r\n]|[^\x1b\r\n]+", raw):
        if token == "\r":
            col = 0
        elif token == "\n":
            row, col = row + 1, 0
            while len(rows) <= row:
                rows.append([])
        elif token.startswith("\x1b"):
            n = int(token[2:-1] or 1)
            if token[-1] == "A":
                row = max(0, row - n)
            elif token[-1] == "K":
                del rows[row][col:]
        else:
            line = rows[row]
            line.extend(" " * (col - len(line)))
            line[col:col + len(token)] = list(token)
            col += len(token)
    text = ["".join(r).rstrip() for r in rows]
    while text and not text[-1]:
        text.pop()
    return text


def start(bench: str, serial: str, elapsed: float = 0.0, attempt: int = 1) -> ProgressEvent:
    return ProgressEvent(bench, serial, attempt, elapsed)


def point(bench: str, serial: str, done: int, elapsed: float, label: str = "dm 1 kHz",
          total: int | None = 12) -> ProgressEvent:
    return ProgressEvent(bench, serial, 1, elapsed, done, total, label)


# the lines themselves


def test_a_bench_line_says_its_unit_point_and_elapsed_time_and_ignores_a_finished_units_late_events() -> None:
    clock = FakeClock()
    lines: list[str] = []
    with LotProgress(BENCHES, lines.append, live=False, clock=clock, interval_s=0) as display:
        assert display.lines() == ["bench-a  idle", "bench-b  idle", NO_YIELD_YET]
        display.update(start("bench-a", "lot-0007", 0.4))
        assert display.line("bench-a") == "bench-a  unit lot-0007 (attempt 1)  starting  0 s"
        display.update(point("bench-a", "lot-0007", 5, 42.6))
        clock.now += 3.0  # the elapsed time moves on between points
        assert display.line("bench-a") == "bench-a  unit lot-0007 (attempt 1)  point 5/12 dm 1 kHz  46 s"
        display.update(point("bench-a", "lot-0007", 6, 50.0, label="", total=None))
        assert display.line("bench-a") == "bench-a  unit lot-0007 (attempt 1)  point 6  50 s"
        display.unit_finished("bench-a", "lot-0007", 1)
        display.update(point("bench-a", "lot-0007", 7, 51.0))  # came after the unit's outcome: dropped
        assert display.line("bench-a") == "bench-a  idle"
        display.unit_finished("bench-b", "lot-0003", 1)  # a unit the display never saw start: nothing moves
        display.bench_out("bench-b")
        display.update(point("bench-c", "lot-0009", 1, 1.0))  # not a bench of the lot
        display.set_yield("yield so far: 1/1 measured units passed")
        assert display.lines() == ["bench-a  idle", "bench-b  out of the pool",
                                   "yield so far: 1/1 measured units passed"]
    assert lines[-1] == "bench-a  unit lot-0007 (attempt 1)  point 6  50 s"  # the yield: the writer says it
    display.update(start("bench-a", "lot-0008"))  # closed: ignored
    assert display.line("bench-a") == "bench-a  idle"


def test_an_event_off_the_wire_is_read_back_and_garbage_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    event = point("bench-b", "lot-0002", 3, 7.5, "cm 10 kHz", 10)
    assert ProgressEvent.from_message(event.as_message()) == event
    with LotProgress(BENCHES, lambda _: None, live=False, interval_s=0) as display:
        with caplog.at_level(logging.DEBUG, logger="procedures.lot.progress"):
            display.handle((0.0, {"bench": "bench-b"}))
            display.handle((0.0, "not a message"))
        display.flush()
        assert display.line("bench-b") == "bench-b  idle"
        assert sum("progress event dropped" in r.message for r in caplog.records) == 2
        display.handle((0.0, event.as_message()))
        display.flush()
        assert "point 3/10 cm 10 kHz" in display.line("bench-b")


def test_dasks_event_loop_never_waits_for_the_display_and_a_units_last_points_are_shown_before_it_ends() -> None:
    lines: list[str] = []
    with LotProgress(BENCHES, lines.append, live=False, interval_s=0) as display:
        with display.external():  # the lot's driver holds the display (the index writer printing)
            handler = threading.Thread(target=display.handle,
                                       args=((0.0, point("bench-a", "u1", 12, 30.0).as_message()),))
            handler.start()
            handler.join(5.0)
            assert not handler.is_alive()  # it queued the event and returned
            assert lines == []
        display.unit_finished("bench-a", "u1", 1)  # shows what was queued before ending the unit
        assert lines == ["bench-a  unit u1 (attempt 1)  point 12/12 dm 1 kHz  30 s"]
        assert display.line("bench-a") == "bench-a  idle"


def test_a_points_label_is_its_mode_and_frequency() -> None:
    assert point_label(differential(1000.0, 0.002, 2.5)) == "dm 1 kHz"
    assert point_label(differential(12500.0, 0.002, 2.5)) == "dm 12.5 kHz"
    assert point_label(common_mode(20.0, 0.3, 2.5, tied=True)) == "cm 20 Hz"
    assert point_label(differential(2e6, 0.002, 2.5)) == "dm 2 MHz"


def test_publishing_outside_a_worker_is_logged_and_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="procedures.lot.runner"):
        _publish(start("bench-a", "lot-0001"))  # no Dask worker here: get_worker() raises
    assert any("progress event not published" in r.message for r in caplog.records)


class _Client:
    def __init__(self, link: str | None) -> None:
        self.link = link

    @property
    def dashboard_link(self) -> str:
        if self.link is None:
            raise KeyError("dashboard")  # what Client does when the scheduler serves none
        return self.link


@pytest.mark.parametrize(("link", "local", "bokeh", "says"), [
    ("http://127.0.0.1:8787/status", True, True, "Dask dashboard: http://127.0.0.1:8787/status"),
    ("http://127.0.0.1:8787/status", True, False, "Dask dashboard: not served, it needs bokeh (pip install bokeh)"),
    (None, True, False, "Dask dashboard: not served, it needs bokeh (pip install bokeh)"),
    ("http://line:8787/status", False, False, "Dask dashboard: http://line:8787/status"),
    (None, False, True, None),
], ids=["local-bokeh", "local-no-bokeh", "no-link-no-bokeh", "remote", "remote-none"])
def test_the_dashboard_line(monkeypatch: pytest.MonkeyPatch, link: str | None, local: bool, bokeh: bool,
                            says: str | None) -> None:
    real = progress_module.importlib.util.find_spec
    monkeypatch.setattr(progress_module.importlib.util, "find_spec",
                        lambda name, *a: (object() if bokeh else None) if name == "bokeh" else real(name, *a))
    assert dashboard_line(_Client(link), local=local) == says


# off a terminal


def test_off_a_terminal_a_bench_prints_at_most_one_progress_line_per_interval_and_every_message() -> None:
    clock = FakeClock()
    lines: list[str] = []
    with LotProgress(BENCHES, lines.append, stream=io.StringIO(), clock=clock) as display:
        assert not display.live  # a StringIO is no terminal
        for t, event in [(0.0, start("bench-a", "u1")), (1.0, point("bench-a", "u1", 1, 1.0)),
                         (2.0, start("bench-b", "u2")), (PLAIN_INTERVAL_S - 0.1, point("bench-a", "u1", 2, 9.9)),
                         (PLAIN_INTERVAL_S, point("bench-a", "u1", 3, 10.0)),
                         (PLAIN_INTERVAL_S + 1, point("bench-b", "u2", 1, 9.0))]:
            clock.now = 100.0 + t
            display.update(event)
        display.message("bench-a: u1 done in 11 s (attempt 1)")
        display.message("bench-b: u2 done in 11 s (attempt 1)")
    assert lines == ["bench-a  unit u1 (attempt 1)  starting  0 s",
                     "bench-b  unit u2 (attempt 1)  starting  0 s",
                     "bench-a  unit u1 (attempt 1)  point 3/12 dm 1 kHz  10 s",
                     "bench-a: u1 done in 11 s (attempt 1)",
                     "bench-b: u2 done in 11 s (attempt 1)"]  # bench-b's point came 9 s after its start: held


def _slow_say(sink: list[str] | io.StringIO) -> Any:
    """A ``say`` that writes a character at a time, so that a line cut by another thread's shows."""
    def say(text: str) -> None:
        for ch in text + "\n":
            if isinstance(sink, list):
                sink.append(ch)
            else:
                sink.write(ch)
    return say


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Threads switch as often as CPython lets them, so that an interleaving has every chance to happen."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def _hammer(display: LotProgress, messages: list[str]) -> int:
    """Events from a second thread (Dask's event loop) for as long as this one prints messages; how many."""
    running, stop = threading.Event(), threading.Event()
    sent = 0

    def feed() -> None:
        nonlocal sent
        while not stop.is_set() or sent < 50:
            display.update(point(BENCHES[sent % 2], f"u{sent % 2}", sent, float(sent)))
            sent += 1
            running.set()

    thread = threading.Thread(target=feed)
    thread.start()
    assert running.wait(60), "the events' thread sent nothing"
    for text in messages:
        display.message(text)
    stop.set()
    thread.join(60)
    assert not thread.is_alive(), "the events' thread did not stop"
    return sent


@pytest.mark.usefixtures("busy_switching")
def test_off_a_terminal_messages_and_progress_lines_never_share_a_line() -> None:
    chars: list[str] = []
    messages = [f"bench-a: unit-{k:03d} done in {k} s (attempt 1)" for k in range(100)]
    with LotProgress(BENCHES, _slow_say(chars), live=False, interval_s=0) as display:
        sent = _hammer(display, messages)
    lines = "".join(chars).splitlines()
    assert [line for line in lines if line in messages] == messages
    assert all(BENCH_LINE.match(line) for line in lines if line not in messages), lines
    assert len(lines) == len(messages) + sent


# on a terminal


def test_on_a_terminal_the_block_is_redrawn_in_place_with_the_messages_above_it() -> None:
    term = FakeTerminal()
    clock = FakeClock()
    display = LotProgress(BENCHES, _slow_say(term), stream=term, clock=clock, refresh_s=None)
    assert display.live
    with display:
        assert screen(term.getvalue()) == ["bench-a  idle", "bench-b  idle", NO_YIELD_YET]
        display.update(start("bench-a", "lot-0001"))
        display.update(start("bench-b", "lot-0002"))
        for k in range(1, 6):
            clock.now += 1.0
            display.update(point("bench-a", "lot-0001", k, float(k)))
        display.message("Dask says hello")
        display.update(point("bench-b", "lot-0002", 1, 6.0, "cm 10 kHz"))
        display.unit_finished("bench-a", "lot-0001", 1)
        display.message("bench-a: lot-0001 done in 6 s (attempt 1)")
        with display.external():
            print("yield so far: 1/1 measured units passed", file=term)  # the index writer's own line
        display.set_yield("yield so far: 1/1 measured units passed")
        assert screen(term.getvalue()) == [
            "Dask says hello",
            "bench-a: lot-0001 done in 6 s (attempt 1)",
            "yield so far: 1/1 measured units passed",
            "bench-a  idle",
            "bench-b  unit lot-0002 (attempt 1)  point 1/12 cm 10 kHz  6 s",
            "yield so far: 1/1 measured units passed"]
    # the block is gone, every message is still there, none overwritten
    assert screen(term.getvalue()) == ["Dask says hello", "bench-a: lot-0001 done in 6 s (attempt 1)",
                                       "yield so far: 1/1 measured units passed"]


def test_on_a_terminal_the_elapsed_time_moves_between_points() -> None:
    term = FakeTerminal()
    clock = FakeClock()
    ticked = threading.Event()

    class Watched(LotProgress):
        def _refresh(self, bench: str) -> None:
            super()._refresh(bench)
            if "  7 s" in self.line("bench-a"):
                ticked.set()

    with Watched(BENCHES, _slow_say(term), stream=term, clock=clock, refresh_s=0.01) as display:
        display.update(point("bench-a", "lot-0001", 1, 2.0))
        clock.now += 5.0  # no event for 5 s: the ticker redraws on its own
        assert ticked.wait(10.0)
    assert "bench-a  unit lot-0001 (attempt 1)  point 1/12 dm 1 kHz  7 s" in term.getvalue()


@pytest.mark.usefixtures("busy_switching")
def test_on_a_terminal_a_message_is_never_cut_by_a_redraw() -> None:
    term = FakeTerminal()
    messages = [f"bench-a: unit-{k:03d} done in {k} s (attempt 1)" for k in range(100)]
    with LotProgress(BENCHES, _slow_say(term), stream=term, refresh_s=None) as display:
        _hammer(display, messages)
    pieces = [p.strip() for p in re.split(r"\x1b\[\d*[A-Za-z]|[\r\n]", term.getvalue()) if p.strip()]
    assert [p for p in pieces if p in messages] == messages
    assert all(BENCH_LINE.match(p) or p == NO_YIELD_YET for p in pieces if p not in messages), pieces
    assert screen(term.getvalue()) == messages


# a lot over two simulated benches


class Recording(LotProgress):
    """The display, keeping every event it showed and its block right after."""

    events: list[ProgressEvent]
    blocks: list[list[str]]

    def update(self, event: ProgressEvent) -> None:
        with self._lock:
            super().update(event)
            if self.benches[event.bench].unit is not event:  # dropped (closed, or the unit already ended)
                return
            self.events.append(event)
            self.blocks.append(self.lines())


def _recording(*args: Any, **kwargs: Any) -> Recording:
    display = Recording(*args, **kwargs)
    display.events, display.blocks = [], []
    return display


def _check_events(display: Recording, serials: list[str]) -> None:
    """Every unit started and then showed each of its points in order, on one bench whose line named it."""
    by_unit: dict[str, list[ProgressEvent]] = {}
    for event, block in zip(display.events, display.blocks):
        by_unit.setdefault(event.serial, []).append(event)
        line = block[BENCHES.index(event.bench)]
        assert f"unit {event.serial} (attempt 1)" in line, (event, line)
    assert sorted(by_unit) == serials
    for serial, events in by_unit.items():
        assert len({e.bench for e in events}) == 1, serial
        assert events[0].done is None, serial  # started
        total = events[-1].total
        assert total and [e.done for e in events[1:]] == list(range(1, total + 1)), serial
        assert all(e.label for e in events[1:]) and events[1].label.startswith("dm ")
        assert [e.elapsed_s for e in events] == sorted(e.elapsed_s for e in events)
    assert {e.bench for e in display.events} == set(BENCHES)  # both benches had work


def test_a_lot_on_a_terminal_shows_each_bench_its_units_points_and_the_running_yield(tmp_path: Path) -> None:
    lot = load_lot(str(write_lot(tmp_path, lot_text(units="units = 3"))))
    out = tmp_path / "out"
    out.mkdir()
    term = FakeTerminal()
    say = _slow_say(term)
    display = _recording(list(lot.benches), say, stream=term)
    with open_lot_index(lot, out, say=say) as writer:
        outcome = run_lot(lot, out, writer.record, writer.done(), say=say, progress=display,
                          running_yield=writer.running_yield)
        final_yield = writer.running_yield()
    serials = [f"quick-lot-{k:04d}" for k in (1, 2, 3)]
    assert sorted(outcome.measured) == serials
    _check_events(display, serials)
    assert display.yield_text == final_yield and final_yield.startswith("yield so far: ")  # the block's last line
    shown = screen(term.getvalue())  # the block gone, the lot's messages left in order, none overwritten
    done = [line for line in shown if " done in " in line]
    assert sorted(line.split()[1] for line in done) == serials
    assert shown[-1].startswith("lot quick-lot: 3 measured, 0 failed")
    assert not any(BENCH_LINE.match(line) for line in shown)
    print("\n".join(shown))  # the sample in the report


def test_a_lot_off_a_terminal_prints_plain_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    made: list[Recording] = []

    def recording(*args: Any, **kwargs: Any) -> Recording:
        made.append(_recording(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr("procedures.lot.lot_run.LotProgress", recording)  # run_lot's own display, as the CLI's
    lot = load_lot(str(write_lot(tmp_path, lot_text(units="units = 3"))))
    out = tmp_path / "out"
    out.mkdir()
    with open_lot_index(lot, out) as writer:
        run_lot(lot, out, writer.record, writer.done(), running_yield=writer.running_yield)
    printed = capsys.readouterr().out.splitlines()
    (display,) = made
    assert not display.live
    _check_events(display, [f"quick-lot-{k:04d}" for k in (1, 2, 3)])
    assert sum(line.startswith("Dask dashboard: ") for line in printed) == 1
    progress = [line for line in printed if BENCH_LINE.match(line)]
    assert {line.split()[0] for line in progress} == set(BENCHES)
    # the lot takes less than an interval: a bench's first unit's start, and maybe one line more
    assert all(sum(line.startswith(b) for line in progress) <= 3 for b in BENCHES), progress
    assert sum(" done in " in line for line in printed) == 3
    assert sum(line.startswith("yield so far: ") for line in printed) == 3  # the index writer's, after each unit
    print("\n".join(printed))  # the sample in the report
