"""A lot run's progress a person can follow: one line per bench (its unit, point and time) and the running yield.

Each unit's task publishes a :class:`ProgressEvent` when it starts and after every archived point, through
Dask's own event log (``Worker.log_event`` on the bench's worker, ``Client.subscribe_topic`` on the lot's
client: https://distributed.dask.org/en/stable/api.html#distributed.Client.subscribe_topic). A
:class:`LotProgress` turns them into one line per bench::

    bench-a  unit sim-bjt-lot-0007 (attempt 1)  point 5/12 dm 1 kHz  43 s
    bench-b  idle
    yield so far: 9/10 measured units passed

On a terminal that block is redrawn in place and the lot's messages (a unit done, a bench out) are printed above
it. Off a terminal (a log file, CI) the same bench lines are printed as plain lines, at most one per bench every
:data:`PLAIN_INTERVAL_S` seconds, and every message is printed.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from procedures.predict.si_format import eng

if TYPE_CHECKING:
    from procedures.measure.excitation import Excitation

log = logging.getLogger(__name__)

#: the Dask event topic the units' tasks publish their progress under
PROGRESS_TOPIC = "diffbench-lot-progress"
#: off a terminal, at most one progress line per bench this often, s (a 30-unit lot's log stays readable)
PLAIN_INTERVAL_S = 10.0
#: on a terminal, the bench lines are redrawn this often so that a unit's elapsed time moves between points, s
LIVE_REFRESH_S = 1.0
#: the last line before any unit has been measured
NO_YIELD_YET = "yield so far: no unit measured yet"


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a unit on a bench: it started (``done`` None), or its ``done``-th point of ``total`` was
    archived (``label``: the point in a few words, ``"dm 1 kHz"``). ``elapsed_s``: since the unit started."""

    bench: str
    serial: str
    attempt: int
    elapsed_s: float
    done: int | None = None
    total: int | None = None
    label: str = ""

    def as_message(self) -> dict[str, Any]:
        """The event as Dask's event log carries it (msgpack: plain values only)."""
        return asdict(self)

    @classmethod
    def from_message(cls, msg: Mapping[str, Any]) -> ProgressEvent:
        """The event :meth:`as_message` made (``KeyError``/``TypeError``/``ValueError`` for anything else)."""
        done, total = msg.get("done"), msg.get("total")
        return cls(str(msg["bench"]), str(msg["serial"]), int(msg["attempt"]), float(msg["elapsed_s"]),
                   None if done is None else int(done), None if total is None else int(total),
                   str(msg.get("label", "")))


def point_label(excitation: Excitation) -> str:
    """A point's excitation in a few words for a progress line: ``"dm 1 kHz"``, ``"cm 20 Hz"``,
    ``"dc +1 mV"``."""
    if excitation.mode == "dc":
        return f"dc {excitation.vid_dc_v * 1e3:+.3g} mV"
    return f"{excitation.mode} {eng(excitation.frequency_hz, 'Hz')}"


def dashboard_line(client: Any, *, local: bool) -> str | None:
    """The line that says where the Dask dashboard is, or None when there is nothing to say.

    ``local``: the scheduler runs in this process (a local cluster). Its dashboard needs bokeh here: without it
    the scheduler still answers on the dashboard's port but serves no page, so the line says to install bokeh
    instead of giving a dead link. A remote scheduler's link is given as it reports it (bokeh is its own
    business)."""
    try:
        link = client.dashboard_link
    except Exception:  # a scheduler without a dashboard service: the client's own lookup raises KeyError
        link = None
    if local and importlib.util.find_spec("bokeh") is None:
        return "Dask dashboard: not served, it needs bokeh (pip install bokeh)"
    return f"Dask dashboard: {link}" if link else None


@dataclass
class _Bench:
    """What the display knows of one bench."""

    unit: ProgressEvent | None = None   # the last event of the unit it runs; None: idle
    seen_at: float = 0.0                # the display's clock when that event came
    out: bool = False                   # taken out of the pool
    printed_at: float = -math.inf       # off a terminal: when its last progress line was printed
    finished: set[tuple[str, int]] = field(default_factory=set)  # (serial, attempt) ended here: late events ignored


class LotProgress:
    """The lot's progress display: one line per bench of ``benches`` and the running yield, fed by
    :meth:`handle` (Dask's event handler, called on the client's event-loop thread) and by the lot's driver
    (:meth:`message`, :meth:`unit_finished`, :meth:`bench_out`, :meth:`set_yield`); safe from any thread.

    :meth:`handle` only queues the event: the display's own thread shows it, so that Dask's event loop never
    waits for the terminal or for the lot's driver (which holds the display while the index writer prints).

    ``say`` prints a line (messages, and off a terminal the progress lines too). ``live``: redraw the bench
    lines in place on ``stream`` (default: whether ``stream``, standard output by default, is a terminal).
    ``clock`` (monotonic seconds) and ``interval_s`` set the throttle off a terminal; ``refresh_s`` how often the
    block is redrawn on one (None: only when something changes). Use it as a context manager: the block is
    drawn on entering and removed on leaving.
    """

    def __init__(self, benches: Sequence[str], say: Callable[[str], None] = print, *, live: bool | None = None,
                 stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic,
                 interval_s: float = PLAIN_INTERVAL_S, refresh_s: float | None = LIVE_REFRESH_S) -> None:
        self.say, self.clock, self.interval_s, self.refresh_s = say, clock, interval_s, refresh_s
        self.stream: TextIO = stream if stream is not None else sys.stdout
        self.live = _isatty(self.stream) if live is None else live
        self.benches = {name: _Bench() for name in benches}
        self.width = max((len(name) for name in benches), default=0)
        self.yield_text = NO_YIELD_YET
        self._lock = threading.RLock()
        self._bars: list[Any] = []  # live: one tqdm per bench line, then the yield's
        self._open = False
        self._inbox: deque[ProgressEvent] = deque()  # from handle(), shown by the pump thread or by flush()
        self._inbox_lock = threading.Lock()  # held only to append or pop: handle() never waits on the display
        self._wake = threading.Event()
        self._stopping = False
        self._pump: threading.Thread | None = None

    # the block's life

    def __enter__(self) -> LotProgress:
        with self._lock:
            self._open = True
            if self.live:
                self._draw()
        self._stopping = False
        self._pump = threading.Thread(target=self._run_pump, name="lot-progress", daemon=True)
        self._pump.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Remove the block (on a terminal) and stop listening: later events are ignored."""
        self._stopping = True
        self._wake.set()
        if self._pump is not None:
            self._pump.join()
            self._pump = None
        with self._lock:
            self._open = False
            for bar in reversed(self._bars):  # bottom first, so each clears its own line
                bar.close()
            self._bars.clear()

    # what feeds it

    def handle(self, event: tuple[float, Any]) -> None:
        """Dask's event handler (``client.subscribe_topic(PROGRESS_TOPIC, display.handle)``): ``event`` is
        ``(scheduler time, message)``, queued to be shown. Never raises nor waits: an event it cannot read is
        logged at debug and dropped."""
        try:
            parsed = ProgressEvent.from_message(event[1])
        except Exception:
            log.debug("progress event dropped: %r", event, exc_info=True)
            return
        with self._inbox_lock:
            self._inbox.append(parsed)
        self._wake.set()

    def flush(self) -> None:
        """Show every event :meth:`handle` has queued so far, in order."""
        with self._lock:
            while True:
                with self._inbox_lock:
                    if not self._inbox:
                        return
                    event = self._inbox.popleft()
                self.update(event)

    def update(self, event: ProgressEvent) -> None:
        """A unit started or archived a point on its bench: that bench's line says so."""
        with self._lock:
            bench = self.benches.get(event.bench)
            if (not self._open or bench is None or bench.out
                    or (event.serial, event.attempt) in bench.finished):
                return
            bench.unit, bench.seen_at = event, self.clock()
            if self.live:
                self._refresh(event.bench)
            elif bench.seen_at - bench.printed_at >= self.interval_s:
                bench.printed_at = bench.seen_at
                self.say(self.line(event.bench))

    def unit_finished(self, bench: str, serial: str, attempt: int) -> None:
        """Unit ``serial``'s ``attempt`` has ended on ``bench`` (its outcome came): the bench is idle. Its events
        already received are shown first (Dask delivers them before the outcome); any later one is dropped."""
        with self._lock:
            self.flush()
            state = self.benches.get(bench)
            if state is None:
                return
            state.finished.add((serial, attempt))
            if state.unit is not None and (state.unit.serial, state.unit.attempt) == (serial, attempt):
                state.unit = None
                self._refresh(bench)

    def bench_out(self, bench: str) -> None:
        """``bench`` was taken out of the pool."""
        with self._lock:
            if bench in self.benches:
                self.benches[bench].out, self.benches[bench].unit = True, None
                self._refresh(bench)

    def set_yield(self, text: str) -> None:
        """The running yield's line (the index writer's ``running_yield()``), the block's last line on a
        terminal; off a terminal the index writer's own line after each unit says it, so nothing is printed."""
        with self._lock:
            self.yield_text = text
            if self.live and self._bars:
                self._bars[-1].set_description_str(text, refresh=True)

    def message(self, text: str) -> None:
        """Print a line of the lot's (a unit done, a bench out): above the block on a terminal, never inside a
        progress line."""
        with self.external():
            self.say(text)

    @contextmanager
    def external(self) -> Iterator[None]:
        """Anything printed inside this block (the index writer's own lines) lands above the progress block
        on a terminal, and off it between whole progress lines."""
        with self._lock:
            if not (self.live and self._bars):
                yield
                return
            from tqdm import tqdm

            with tqdm.external_write_mode(file=self.stream):
                yield
            self.stream.flush()

    # what it shows

    def line(self, bench: str) -> str:
        """Bench ``bench``'s line: its unit, attempt, point and elapsed time, ``idle`` or ``out of the pool``."""
        with self._lock:
            state = self.benches[bench]
            name = bench.ljust(self.width)
            if state.out:
                return f"{name}  out of the pool"
            event = state.unit
            if event is None:
                return f"{name}  idle"
            if event.done is None:
                where = "starting"
            else:
                total = f"/{event.total}" if event.total else ""
                where = f"point {event.done}{total}{' ' + event.label if event.label else ''}"
            elapsed = event.elapsed_s + max(0.0, self.clock() - state.seen_at)
            return f"{name}  unit {event.serial} (attempt {event.attempt})  {where}  {elapsed:.0f} s"

    def lines(self) -> list[str]:
        """Every bench's line, then the running yield's: the block as a terminal shows it."""
        with self._lock:
            return [self.line(name) for name in self.benches] + [self.yield_text]

    # drawing on a terminal

    def _draw(self) -> None:
        # tqdm rather than our own ANSI codes: it already keeps bars at fixed rows, fits them to the terminal's
        # width, clears and redraws them around tqdm.write/external_write_mode, and under one lock, which is
        # what `diffbench run` uses too, so a message is never printed into a half-drawn line.
        from tqdm import tqdm

        for position, text in enumerate(self.lines()):
            self._bars.append(tqdm(total=None, bar_format="{desc}", desc=text, position=position, leave=False,
                                   file=self.stream, dynamic_ncols=True, mininterval=0))

    def _refresh(self, bench: str) -> None:
        if self.live and self._bars:
            self._bars[list(self.benches).index(bench)].set_description_str(self.line(bench), refresh=True)

    def _run_pump(self) -> None:
        """The display's thread: shows the queued events as they come and, on a terminal, redraws the busy
        benches every :attr:`refresh_s` so that their elapsed time moves between points."""
        tick = self.refresh_s if self.live and self.refresh_s else None
        while not self._stopping:
            woken = self._wake.wait(tick)
            self._wake.clear()  # before emptying the queue: an event queued from here on wakes the next wait
            try:
                with self._lock:
                    self.flush()
                    if not woken and self._open:
                        for name, state in self.benches.items():
                            if state.unit is not None:
                                self._refresh(name)
            except Exception:  # a display that failed to draw must not end the display, let alone the lot
                log.debug("progress display: drawing failed", exc_info=True)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or stand-in stream
        return False
