"""A Dask worker plugin for a local cluster's workers: the worker process ends when the process that started it
(the lot's) is gone, even when that one was killed outright, so that no orphaned worker goes on writing a unit's
archive while a rerun of the lot resumes it. A line's workers run on their own PCs and do not load it."""

from __future__ import annotations

import os
import threading
import time

from distributed import Worker
from distributed.diagnostics.plugin import WorkerPlugin

#: the exit status of a worker whose lot process is gone (EX_SOFTWARE)
ORPHANED_EXIT = 70


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
