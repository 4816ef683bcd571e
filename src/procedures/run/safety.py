"""Safe endings: how a run reacts to SIGINT, SIGTERM and SIGHUP, and the outputs-off guard.

A run is interruptible only where that is harmless: while it talks to instruments or waits for them
(:meth:`StopSignals.armed`). Anywhere else (opening the bench, writing the archive, cleaning up) a signal
is *held*: it is logged, remembered, and raised as :class:`RunInterrupted` at the next point where the
run may stop, so an archive commit is never cut in half and the outputs-off command is never skipped.
This is QCoDeS's delayed-keyboard-interrupt idea extended to every signal that ends a bench session:
SIGINT (Ctrl-C), SIGTERM (``kill``, ``timeout``, systemd, a CI cancel) and SIGHUP (the terminal or the
ssh link went away).

A user must always be able to leave: a third signal while a signal is held is raised at once, provided
nothing can be on (the board has not been driven yet, or the outputs-off command has been sent).

The exit status of an interrupted command follows the shell's convention, 128 + the signal number
(130 Ctrl-C, 129 SIGHUP, 143 SIGTERM): :attr:`RunInterrupted.exit_code`.

Only a process's main thread receives signals. A run in another thread (a lot's bench worker runs its unit in a
Dask task thread) registers its :class:`StopSignals` instead, and whatever receives the stop in that process
(a signal handler of the main thread, a worker closing) calls :func:`stop_runs` with the signal: each run takes
it by the same rules, held or due at once. A stop that is due is raised by the run's own thread, before its next
instrument exchange (:mod:`instruments.stop_point`) or at the end of the armed block, never injected into the
thread at an arbitrary bytecode; :func:`wait_for_runs` waits until their outputs are off.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from instruments import stop_point

log = logging.getLogger(__name__)

#: the signals a run turns into a safe stop (SIGHUP does not exist on Windows)
STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    s for s in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGHUP")) if s is not None)


def signal_name(signum: int) -> str:
    """``2`` -> ``"SIGINT"``; an unknown number -> ``"signal 99"``."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by a signal. A ``KeyboardInterrupt``, so ``except Exception`` never swallows it.

    ``exit_code`` is 128 + the signal number; ``str()`` reads ``interrupted by SIGTERM`` (or
    ``interrupted by SIGINT (Ctrl-C)``).
    """

    def __init__(self, signum: int = signal.SIGINT) -> None:
        self.signum = int(signum)
        what = signal_name(self.signum) + (" (Ctrl-C)" if self.signum == signal.SIGINT else "")
        super().__init__(f"interrupted by {what}")

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by a signal: 128 + its number."""
        return 128 + self.signum

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "interrupted"


def exit_code_of(exc: BaseException) -> int:
    """The exit status for an interruption: 128 + n for :class:`RunInterrupted`, 130 for a bare Ctrl-C."""
    return exc.exit_code if isinstance(exc, RunInterrupted) else 128 + signal.SIGINT


class StopSignals:
    """Turn SIGINT/SIGTERM/SIGHUP into :class:`RunInterrupted`, but only inside :meth:`armed` blocks.

    Use as a context manager around a whole run. Outside an armed block a signal is held; it is raised
    when the next armed block starts, when an armed block that held it (through a nested
    :meth:`held` block) ends, or when the whole context ends without another exception. Only the main
    thread can own signal handlers; in any other thread the object registers itself for :func:`stop_runs`,
    which delivers a stop by the same rules.
    """

    def __init__(self, signals: tuple[signal.Signals, ...] = STOP_SIGNALS) -> None:
        self.signals = signals
        self.received: int | None = None   # the first signal, the one that decides the exit status
        self.count = 0
        #: nothing can be on: the run has not driven the board yet, or clean-up has sent the outputs-off
        #: command. Only then does a third held signal stop the process at once.
        self.outputs_safe = True
        #: the work is done (its archive complete): a signal held until the end no longer interrupts it
        self.completed = False
        self._armed = False
        self._previous: dict[int, Any] = {}
        self._installed = False
        self._registered = False
        self._thread_id = 0
        self._due = False  # a stop delivered from another thread, to be raised at the run's next stop point
        self._outer_stop_point: Callable[[], None] | None = None
        # re-entrant: the main thread's handler may run while that thread is inside armed() or held()
        self._lock = threading.RLock()

    # -- handler -------------------------------------------------------------------------------
    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self._take(signum):
            raise RunInterrupted(self.received or signum)

    def deliver(self, signum: int) -> None:
        """What the signal ``signum`` does to this run, from another thread: held, or due at once (by
        :meth:`_take`'s rules, the same as the run's own handler), when the run's thread raises it at its next
        stop point (:meth:`_stop_point`)."""
        if self._take(signum):
            with self._lock:
                self._due = True

    def _stop_point(self) -> None:
        """The run's own thread, before an instrument exchange or at the end of an armed block: raise
        :class:`RunInterrupted` if a stop delivered from another thread is due."""
        with self._lock:
            due, self._due = self._due, False
        if due:
            raise RunInterrupted(self.received or signal.SIGINT)

    def _take(self, signum: int) -> bool:
        """Account one stop signal; True when it must interrupt the run now."""
        with self._lock:
            self.count += 1
            if self.received is None:
                self.received = signum
            if self._armed:
                self._armed = False  # from here the run is cleaning up: further signals are held
                return True
            if self.count >= 3 and self.outputs_safe:
                return True
        if self.count == 1:
            log.warning("%s received: stopping safely (generator outputs off, archive closed) ...",
                        signal_name(signum))
        else:
            log.warning("%s received again: still switching the generator outputs off and closing the archive; "
                        "once the outputs command has been sent, a third signal stops at once",
                        signal_name(signum))
        return False

    # -- context ---------------------------------------------------------------------------------
    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for s in self.signals:
                self._previous[s] = signal.signal(s, self._handler)
            self._installed = True
        else:
            self._thread_id = threading.get_ident()
            with _RUNS_CHANGED:
                _RUNS.setdefault(self._thread_id, []).append(self)
            self._outer_stop_point = stop_point.install(self._stop_point)
            self._registered = True
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        with self._lock:
            self._armed = False
        if self._installed:
            for s, handler in self._previous.items():
                signal.signal(s, handler)
            self._installed = False
        if self._registered:
            stop_point.install(self._outer_stop_point)
            with _RUNS_CHANGED:
                stack = _RUNS.get(self._thread_id, [])
                if self in stack:
                    stack.remove(self)
                if not stack:
                    _RUNS.pop(self._thread_id, None)
                _RUNS_CHANGED.notify_all()
            self._registered = False
        if exc is None and self.received is not None:
            if self.completed:
                log.warning("%s came after the run had completed; its archive is complete",
                            signal_name(self.received))
            else:
                raise RunInterrupted(self.received)

    @property
    def pending(self) -> bool:
        """A signal has been received."""
        return self.received is not None

    def raise_if_pending(self) -> None:
        """Raise :class:`RunInterrupted` now if a signal was held."""
        if self.received is not None:
            raise RunInterrupted(self.received)

    @contextmanager
    def armed(self) -> Iterator[None]:
        """A block a signal may interrupt at once (instrument I/O and waits). A held signal is raised on entry."""
        self.raise_if_pending()
        with self._lock:
            self._armed = self._installed or self._registered
        try:
            yield
        finally:
            with self._lock:
                self._armed = False
        self._stop_point()  # a stop that came during work with no instrument exchange in it

    @contextmanager
    def held(self) -> Iterator[None]:
        """A block no signal may cut in half (an archive commit); a signal received in it is raised after it."""
        with self._lock:
            was = self._armed
            self._armed = False
        try:
            yield
        finally:
            with self._lock:
                self._armed = was and self.received is None
        if was:
            self.raise_if_pending()


#: thread id -> the StopSignals open in that thread (innermost last), for runs outside the main thread
_RUNS: dict[int, list[StopSignals]] = {}
_RUNS_CHANGED = threading.Condition()


def stop_runs(signum: int) -> int:
    """Deliver the stop signal ``signum`` to every run open in a thread other than the main one (its innermost
    :class:`StopSignals`); returns how many runs got it."""
    with _RUNS_CHANGED:
        targets = [stack[-1] for stack in _RUNS.values() if stack]
    for target in targets:
        target.deliver(signum)
    return len(targets)


def wait_for_runs(timeout_s: float | None = None) -> bool:
    """Wait until no run is open outside the main thread (each has switched its outputs off and closed its
    archive, or failed trying); False if ``timeout_s`` passed first. A run's own clean-up is bounded by its
    instruments' I/O timeouts, so no timeout is needed to end the wait."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    with _RUNS_CHANGED:
        while _RUNS:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            _RUNS_CHANGED.wait(left)
    return True


@contextmanager
def outputs_off_guard(outputs_off: Callable[[], None]) -> Iterator[None]:
    """Run the block; afterwards call ``outputs_off`` with every stop signal held, whatever happened.

    An error from ``outputs_off`` is raised if the block succeeded, or attached as a note to the block's
    own error otherwise. A signal received while switching off is raised once the outputs are off.
    """
    try:
        yield
    except BaseException as exc:
        with StopSignals() as signals:
            try:
                outputs_off()
            except Exception as cleanup:
                note = f"and switching the generator outputs off failed: {cleanup}"
                log.error(note)
                if hasattr(exc, "add_note"):
                    exc.add_note(note)
            signals.received = None  # the block's own exception is the one that ends it
        raise
    else:
        with StopSignals():
            outputs_off()
