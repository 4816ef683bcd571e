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

#: what a unit's run imports lazily (module names), in the order it first needs them
UNIT_MODULES = (
    "procedures.run.runner",
    "procedures.run.preflight",
    "procedures.lot.config",
    "instruments.sim.bench",
    "instruments.sim.board",
    "pyvisa",
    "pyvisa_py",
    "procedures.archive.reader",
    "procedures.archive.resume",
    "procedures.fitting.run_fits",
    "procedures.fitting.small_signal",
    "procedures.fitting.large_signal",
    "procedures.fitting.dc",
    "lmfit",
    "scipy.stats",
)


def import_unit_modules() -> list[str]:
    """Import :data:`UNIT_MODULES`; returns the names that could not be imported (logged, not raised: a unit
    that needs one fails on its own with the reason)."""
    missing = []
    for name in UNIT_MODULES:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            log.warning("bench worker warm-up: %s not imported (%s)", name, exc)
            missing.append(name)
    return missing


class WarmUp(WorkerPlugin):
    """Imports :data:`UNIT_MODULES` in each bench worker as it joins the lot."""

    name = "diffbench-warm-up"

    def setup(self, worker: Worker) -> None:
        """Import the unit's stack in the worker's process; warn when the worker runs with the C library's memory
        returns that cost a unit several seconds of CPU (:mod:`procedures.lot.dask_settings`)."""
        if "MALLOC_TRIM_THRESHOLD_" in os.environ:
            log.warning("bench %s: MALLOC_TRIM_THRESHOLD_ is set, which costs each unit seconds of CPU; start the "
                        "worker with DASK_CONFIG=configs/dask (docs/lots.md)", worker.name)
        import_unit_modules()
