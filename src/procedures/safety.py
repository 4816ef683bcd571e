"""Safe endings: the generator's outputs are off whenever a procedure ends, however it ends.

:func:`outputs_off_guard` wraps a procedure body. On the way out (success, exception, Ctrl-C, a dropped
connection) it switches every generator output off inside :class:`DeferredInterrupt`, so a second Ctrl-C
during clean-up is held until the outputs are off, as QCoDeS's ``DelayedKeyboardInterrupt`` does; a third
Ctrl-C is still honoured once the outputs command has been tried (a user must always be able to leave).
If switching off fails (the link is gone), the failure is reported beside the original error, never
instead of it.
"""

from __future__ import annotations

import logging
import signal
import threading
from contextlib import contextmanager
from types import FrameType
from typing import Any, Callable, Iterator

log = logging.getLogger(__name__)


class DeferredInterrupt:
    """Hold SIGINT (Ctrl-C) while the block runs; re-raise ``KeyboardInterrupt`` after it, once.

    Only the main thread can own signal handlers; elsewhere the block simply runs unprotected.
    """

    def __init__(self, message: str = "stopping safely: switching the generator outputs off ...") -> None:
        self.message = message
        self.received: tuple[int, FrameType | None] | None = None
        self._old: Any = None
        self._active = False

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = (signum, frame)
            log.warning(self.message)
        else:
            log.warning("second Ctrl-C received; still switching the outputs off first")

    def __enter__(self) -> "DeferredInterrupt":
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handler)
            self._active = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._active:
            signal.signal(signal.SIGINT, self._old)
            self._active = False
        if self.received is not None and exc[0] is None:
            raise KeyboardInterrupt


@contextmanager
def outputs_off_guard(outputs_off: Callable[[], None]) -> Iterator[None]:
    """Run the block; afterwards call ``outputs_off`` protected from Ctrl-C, whatever happened.

    An error from ``outputs_off`` is raised if the block succeeded, or attached as a note to the block's
    own error otherwise.
    """
    try:
        yield
    except BaseException as exc:
        with DeferredInterrupt():
            try:
                outputs_off()
            except Exception as cleanup:
                note = f"and switching the generator outputs off failed: {cleanup}"
                log.error(note)
                if hasattr(exc, "add_note"):
                    exc.add_note(note)
        raise
    else:
        with DeferredInterrupt():
            outputs_off()
