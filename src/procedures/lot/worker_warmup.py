"""A Dask worker plugin that imports a unit's measurement stack when a bench worker starts, before its first unit.

A unit's run imports much of what it needs lazily (the simulated bench, the instrument drivers, lmfit with scipy's
statistics behind it for the fits: about a second of CPU). Without this plugin each bench pays that in its first
unit, every bench at once when the lot starts; with it the first unit of a bench takes as long as the others and
the lot's own times say what the instruments do. The plugin only imports: it opens no instrument.
"""

from __future__ import annotations

import importlib
import logging
import os

from distributed import Worker
from distributed.diagnostics.plugin import WorkerPlugin

log = logging.getLogger(__name__)

#: what a unit's run imports lazily (module names) besides the run's own list of them
#: (:data:`procedures.run.runner.LAZY_MODULES`): the simulated bench, the VISA layer, the archive's reader
UNIT_MODULES = ("instruments.sim.bench", "instruments.sim.board", "pyvisa", "pyvisa_py", "procedures.archive.reader",
                "procedures.archive.resume", "scipy.stats")


def import_unit_modules() -> list[str]:
    """Import the run's lazy modules and :data:`UNIT_MODULES`; returns the names that could not be imported
    (logged, not raised: a unit that needs one fails on its own with the reason)."""
    from procedures.run.runner import LAZY_MODULES

    missing = []
    for name in (*LAZY_MODULES, *UNIT_MODULES):
        try:
            importlib.import_module(name)
        except ImportError as exc:
            log.warning("bench worker warm-up: %s not imported (%s)", name, exc)
            missing.append(name)
    return missing


class WarmUp(WorkerPlugin):
    """Imports a unit's lazy modules in each bench worker as it joins the lot."""

    name = "diffbench-warm-up"

    def setup(self, worker: Worker) -> None:
        """Import the unit's stack in the worker's process; warn when the worker runs with the C library's memory
        returns that cost a unit several seconds of CPU (:mod:`procedures.lot.dask_settings`)."""
        if "MALLOC_TRIM_THRESHOLD_" in os.environ:
            log.warning("bench %s: MALLOC_TRIM_THRESHOLD_ is set, which costs each unit seconds of CPU; start the "
                        "worker with DASK_CONFIG=configs/dask (docs/lots.md)", worker.name)
        import_unit_modules()
