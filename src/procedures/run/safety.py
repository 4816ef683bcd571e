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
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

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
    thread can own signal handlers; in any other thread this object does nothing (a run there is
    interruptible only by its caller).
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

    # -- handler -------------------------------------------------------------------------------
    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.received is None:
            self.received = signum
        if self._armed:
            self._armed = False  # from here the run is cleaning up: further signals are held
            raise RunInterrupted(self.received)
        if self.count == 1:
            log.warning("%s received: stopping safely (generator outputs off, archive closed) ...",
                        signal_name(signum))
        elif self.count >= 3 and self.outputs_safe:
            raise RunInterrupted(self.received)
        else:
            log.warning("%s received again: still switching the generator outputs off and closing the archive; "
                        "once the outputs command has been sent, a third signal stops at once",
                        signal_name(signum))

    # -- context ---------------------------------------------------------------------------------
    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for s in self.signals:
                self._previous[s] = signal.signal(s, self._handler)
            self._installed = True
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        self._armed = False
        if self._installed:
            for s, handler in self._previous.items():
                signal.signal(s, handler)
            self._installed = False
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
        self._armed = self._installed
        try:
            yield
        finally:
            self._armed = False

    @contextmanager
    def held(self) -> Iterator[None]:
        """A block no signal may cut in half (an archive commit); a signal received in it is raised after it."""
        was = self._armed
        self._armed = False
        try:
            yield
        finally:
            self._armed = was
        if was:
            self.raise_if_pending()


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
