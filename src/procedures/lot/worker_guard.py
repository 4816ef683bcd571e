"""Dask worker plugins that keep a bench worker safe when it stops.

:class:`StopUnitsSafely` (every bench worker, local or on a line's PC): a unit runs in a Dask task thread, which
receives no signal, so without it a worker stopped by SIGINT, SIGTERM or SIGHUP, or closed by its nanny, would end
with the unit's generator outputs still on. With it the stop reaches the unit's run as a signal reaches a run in
its own process (:func:`procedures.run.safety.stop_runs`): the run switches its outputs off, closes its archive
``aborted``, and only then does the worker go on stopping.

:class:`DieWithParent` (a local cluster's workers): the worker process ends when the process that started it (the
lot's) is gone, even when that one was killed outright, so that no orphaned worker goes on writing a unit's archive
while a rerun of the lot resumes it. A line's workers run on their own PCs and do not load it. A lot process
killed outright (SIGKILL) gives nobody the chance to switch outputs off, as for a single run: its local workers
end at once (Dask's own watch of their parent does the same).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from types import FrameType
from typing import Any

from distributed import Worker
from distributed.diagnostics.plugin import WorkerPlugin

from procedures.run.safety import STOP_SIGNALS, signal_name, stop_runs, wait_for_runs

log = logging.getLogger(__name__)

#: the exit status of a worker whose lot process is gone (EX_SOFTWARE)
ORPHANED_EXIT = 70


class StopUnitsSafely(WorkerPlugin):
    """Passes a stop of the worker (a signal, the worker closing) to the unit it is running, and lets the stop go
    on only once the unit's outputs are off."""

    name = "diffbench-stop-units-safely"

    def setup(self, worker: Worker) -> None:
        """Install the stop signals' handlers (the worker's event loop runs in its process's main thread)."""
        if threading.current_thread() is not threading.main_thread():
            log.warning("bench %s: its plugins run outside the main thread; a signal to the worker will not stop "
                        "its unit safely", worker.name)
            return
        for signum in STOP_SIGNALS:
            _SignalRelay(signum).install()

    async def teardown(self, worker: Worker) -> None:
        """The worker is closing: stop its unit safely and wait for it."""
        if stop_runs(signal.SIGTERM):
            log.warning("bench %s: closing; its unit is being stopped safely first", worker.name)
            await asyncio.to_thread(wait_for_runs)


class _SignalRelay:
    """One stop signal's handler in a bench worker: while a unit runs, the signal goes to the unit's run, and
    once every run has ended it is sent again to the handler that was there before (Dask's, or the default)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.previous: Any = signal.SIG_DFL
        self.waiting = False

    def install(self) -> None:
        previous = signal.signal(self.signum, self.handle)
        self.previous = signal.SIG_DFL if previous is None else previous  # None: a handler set outside Python

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if stop_runs(signum):
            if not self.waiting:
                self.waiting = True
                log.warning("%s received: the unit is being stopped safely (outputs off, archive closed), then "
                            "the worker stops", signal_name(signum))
                threading.Thread(target=self._resend_when_done, name="stop-unit-then-worker", daemon=True).start()
            return
        # no unit running (an idle worker, or the relay's own resend once its unit ended): the stop goes on
        signal.signal(signum, self.previous)
        if callable(self.previous):
            self.previous(signum, frame)
        elif self.previous == signal.SIG_DFL:
            os.kill(os.getpid(), signum)

    def _resend_when_done(self) -> None:
        wait_for_runs()
        os.kill(os.getpid(), self.signum)


class DieWithParent(WorkerPlugin):
    """Ends the worker's process once its parent process is gone (polled every :attr:`poll_s` s)."""

    name = "diffbench-die-with-parent"
    poll_s = 0.5

    def setup(self, worker: Worker) -> None:
        """Start the watch in the worker's process."""
        parent = os.getppid()

        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(self.poll_s)
            os._exit(ORPHANED_EXIT)  # nothing to clean: the rerun resumes the unit from its archive

        threading.Thread(target=watch, name="die-with-parent", daemon=True).start()
