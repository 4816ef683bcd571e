"""The point before each instrument exchange where a run outside the main thread may be stopped.

A signal reaches only a process's main thread, and there Python raises the handler's exception between two
bytecodes. A run in another thread (a lot's bench worker runs its unit in a Dask task thread) is told to stop
by its owner setting a flag, and looks at that flag here: before every SCPI exchange, which is where a run
spends its time (a wait for an acquisition is a series of status queries). Raising into a thread from outside
(CPython's ``PyThreadState_SetAsyncExc``) would be quicker, but it lands at any bytecode, including the one just
after a lock was taken and before the ``try`` that releases it (``logging.Handler.handle`` has such a gap), and
a lock left held by a thread that has ended blocks every other thread that wants it, for good.

The check belongs to the thread that installs it (:func:`install`); instruments call :func:`stop_point`, and
whatever the check raises goes up through the exchange like any other interruption.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

_thread = threading.local()


def install(check: Callable[[], None] | None) -> Callable[[], None] | None:
    """Make ``check`` the calling thread's stop point (None removes it); returns the check it replaces."""
    previous: Callable[[], None] | None = getattr(_thread, "check", None)
    _thread.check = check
    return previous


def stop_point() -> None:
    """Run the calling thread's check, if it has one; what the check raises stops the caller's work."""
    check: Callable[[], None] | None = getattr(_thread, "check", None)
    if check is not None:
        check()
