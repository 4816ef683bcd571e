"""Measure a lot's units on many benches at once, on Dask distributed.

Each bench is one Dask worker that owns its instruments: one thread, and one unit of the worker resource
``bench`` (https://distributed.dask.org/en/stable/resources.html), which every unit's task asks for, so a
bench runs one unit at a time and a unit runs on one bench at a time. Units go to benches as they free up.

Locally (:func:`local_cluster`) a cluster with one worker process per bench of the lot config starts by itself,
each worker named after its bench. On a production line the benches' PCs run workers attached to one
scheduler, started with the documented command (docs/lots.md)::

    dask worker tcp://<scheduler>:8786 --name <bench name> --nthreads 1 --resources bench=1

and ``diffbench lot run --scheduler tcp://<scheduler>:8786`` attaches to it. A worker's name says which
``[benches]`` entry of the lot config it is.

A unit's task publishes its progress (it started, and each point archived) as Dask events under
:data:`procedures.lot.progress.PROGRESS_TOPIC`, which the lot's driver shows one line per bench
(:mod:`procedures.lot.progress`); a failure to publish never fails the unit.

A unit's task (:func:`measure_unit`) never raises: it returns a :class:`UnitOutcome` saying whether the unit
was measured, the unit failed (its archive says why), or the bench failed (an instrument lost or not
answering); the lot's driver decides what follows (:mod:`procedures.lot.lot_run`).
"""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from instruments.errors import DiffbenchError, InstrumentConnectionError, InstrumentTimeout
from procedures.lot.dask_settings import LOOPBACK, WORKER_CONFIG, WORKER_ENV, worker_settings
from procedures.lot.progress import PROGRESS_TOPIC, ProgressEvent, point_label
from procedures.run.safety import RunInterrupted

if TYPE_CHECKING:
    from procedures.run.session import FinishedPoint

log = logging.getLogger(__name__)

#: the worker resource one unit's run takes: each bench worker has one
BENCH_RESOURCE = "bench"


@dataclass(frozen=True)
class UnitSpec:
    """One unit to measure: its serial, its archive's path, the attempt (1, or 2 when re-queued) and, for a
    drawn (simulated) unit, the board TOML the simulator carries (None: the bench's own unit)."""

    serial: str
    archive: str
    attempt: int = 1
    board_text: str | None = None


@dataclass(frozen=True)
class UnitOutcome:
    """What became of one unit on one bench: ``status`` is ``done`` (the run completed; its verdicts may still
    fail), ``failed`` (the unit could not be measured: its run ended with an error) or ``bench-failed`` (the
    bench could not run it: an instrument lost, not answering, or the worker's set-up failed). ``start_s`` and
    ``end_s`` are epoch seconds."""

    serial: str
    bench: str
    status: str
    attempt: int
    start_s: float
    end_s: float
    archive: str
    error: str = ""


def measure_unit(spec: UnitSpec, lot_source: str) -> UnitOutcome:
    """Measure one unit on the bench this worker owns (a Dask task; never raises).

    The worker's name is the bench's name in the lot config at ``lot_source``. The run is
    :func:`procedures.run.runner.run_procedure` of the lot's procedure on that bench, judged against the lot's
    design board, with the drawn board on the simulator when the unit is a drawn one; a partial archive left by
    an interrupted attempt is resumed.
    """
    from distributed import get_worker

    start = time.time()
    bench = "?"
    try:
        bench = str(get_worker().name)
        return _measure(spec, lot_source, bench, start)
    except (InstrumentConnectionError, InstrumentTimeout) as exc:
        return UnitOutcome(spec.serial, bench, "bench-failed", spec.attempt, start, time.time(), spec.archive,
                           str(exc))
    except RunInterrupted as exc:  # the worker is being stopped (procedures.lot.worker_guard): outputs are off
        return UnitOutcome(spec.serial, bench, "bench-failed", spec.attempt, start, time.time(), spec.archive,
                           f"the bench's worker was stopped ({exc}); the unit's outputs were switched off")
    except DiffbenchError as exc:
        return UnitOutcome(spec.serial, bench, "failed", spec.attempt, start, time.time(), spec.archive, str(exc))
    except Exception as exc:  # a bug must not take the lot down: the unit is failed and the trace kept
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return UnitOutcome(spec.serial, bench, "failed", spec.attempt, start, time.time(), spec.archive,
                           f"unexpected {detail}")


def _measure(spec: UnitSpec, lot_source: str, bench: str, start: float) -> UnitOutcome:
    from procedures.lot.config import load_lot
    from procedures.run.runner import run_procedure

    lot = load_lot(lot_source)
    if bench not in lot.bench_paths:
        raise InstrumentConnectionError(bench, f"this worker's name is not a bench of {lot_source} "
                                               f"({', '.join(lot.bench_paths)})")
    archive = Path(spec.archive)
    archive.parent.mkdir(parents=True, exist_ok=True)
    sim_board = None
    if spec.board_text is not None:
        sim_board = archive.with_suffix(".board.toml")
        sim_board.write_text(spec.board_text, encoding="utf-8")
    if complete_archive(archive):
        return UnitOutcome(spec.serial, bench, "done", spec.attempt, start, time.time(), str(archive))
    partial = archive.with_name(archive.name + ".partial")
    resume = partial if partial.exists() else None
    if resume is None and archive.exists():
        resume = archive  # a run that failed on a bench that failed: taken up where it stopped
    _publish(ProgressEvent(bench, spec.serial, spec.attempt, time.time() - start))

    def on_point(point: FinishedPoint) -> None:
        try:
            label = point_label(point.point.excitation)
        except Exception:  # a point without an excitation label: the count alone still says where the run is
            label = ""
        _publish(ProgressEvent(bench, spec.serial, spec.attempt, time.time() - start, point.done, point.total,
                               label))

    run_procedure(lot.procedure_path, lot.bench_paths[bench], lot.board_path, archive, resume=resume,
                  sim_board=sim_board, interactive=False, on_point=on_point)
    return UnitOutcome(spec.serial, bench, "done", spec.attempt, start, time.time(), str(archive))


def _publish(event: ProgressEvent) -> None:
    """Send ``event`` to the lot's client through the scheduler's event log; never raises (progress is not
    worth a unit)."""
    try:
        from distributed import get_worker

        get_worker().log_event(PROGRESS_TOPIC, event.as_message())
    except Exception:
        log.debug("progress event not published: %s", event, exc_info=True)


def finished_complete(archive: Path) -> bool:
    """Whether the run archive at ``archive`` finished ``complete`` (not failed or aborted)."""
    from procedures.archive.reader import open_run

    with open_run(archive) as run:
        return str(run.status) == "complete"


def complete_archive(archive: Path) -> bool:
    """Whether the unit's run finished ``complete`` at ``archive``. A run killed in the instant between finishing
    its archive and renaming it left a complete ``.partial`` and no ``archive``: the rename is finished here (the
    file is whole, and resuming it is refused), as the run would have."""
    from procedures.archive.files import move_into_place, partial_path_of

    if archive.exists():
        return finished_complete(archive)
    partial = partial_path_of(archive)
    if not (partial.exists() and finished_complete(partial)):
        return False
    move_into_place(partial, archive)
    log.warning("%s: the run had finished its archive when it was stopped; renamed to %s", partial.name, archive.name)
    return True


def local_cluster(benches: list[str]) -> object:
    """A cluster on this machine with one worker process per bench, named after it (one thread, one
    ``bench`` resource each, :mod:`procedures.lot.dask_settings`); the dashboard is served on a free port when
    bokeh is installed."""
    from distributed import Nanny, Scheduler, SpecCluster

    workers = {name: {"cls": Nanny, "options": {"nthreads": 1, "resources": {BENCH_RESOURCE: 1}, "name": name,
                                                "host": LOOPBACK, "env": WORKER_ENV, "config": WORKER_CONFIG,
                                                "silence_logs": logging.ERROR}}
               for name in benches}
    scheduler = {"cls": Scheduler, "options": {"host": LOOPBACK, "dashboard_address": f"{LOOPBACK}:0"}}
    with worker_settings():  # the scheduler and the nannies live in this process
        return SpecCluster(workers=workers, scheduler=scheduler, silence_logs=logging.ERROR)
