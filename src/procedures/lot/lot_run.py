"""Run a lot: every unit not yet measured, over the lot's benches, with a line per event a person can follow.

:func:`run_lot` reads top to bottom: plan the units (:mod:`procedures.lot.units`), open the lot index (units
already ``done`` there are not measured again, a unit whose archive was left ``.partial`` resumes from it), attach
to a scheduler or start a local cluster with one worker per bench (:mod:`procedures.lot.runner`), submit every
unit, and record each outcome in the index as it comes (a unit whose archive is complete but not in the index,
because the lot was stopped in between, is recorded from its archive without being measured again). A unit
whose bench failed is re-queued once on another bench, and that bench is taken out of the pool; the lot goes on
while any bench is left. While units run, :class:`~procedures.lot.progress.LotProgress` shows one line per
bench (its unit, point and elapsed time) and the running yield, fed by the units' own progress events.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from instruments.errors import DiffbenchError
from procedures.lot.config import LotConfig
from procedures.lot.dask_client import dask_client
from procedures.lot.progress import PROGRESS_TOPIC, LotProgress, dashboard_line
from procedures.lot.runner import (
    BENCH_RESOURCE,
    UnitOutcome,
    UnitSpec,
    complete_archive,
    local_cluster,
    measure_unit,
)
from procedures.lot.units import PlannedUnit, plan_units

log = logging.getLogger(__name__)

#: the lot index's name in the lot folder
INDEX_NAME = "index.h5"

#: attempts a unit gets when its bench fails: the first, and one re-queue on another bench
MAX_ATTEMPTS = 2


class LotError(DiffbenchError):
    """The lot cannot go on (no bench left, a scheduler that does not answer): one line."""


@dataclass
class LotOutcome:
    """What a lot run did: the units measured now, those already done before, the failed ones (serial ->
    reason), the benches taken out of the pool, and where the index is."""

    index: Path
    measured: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    benches_out: list[str] = field(default_factory=list)


def unit_archive(out_dir: Path, serial: str) -> Path:
    """Where unit ``serial``'s run archive lives in the lot folder."""
    return out_dir / "units" / f"{serial}.h5"


def preflight_lot(lot: LotConfig) -> None:
    """Every check a unit's run makes before opening anything, once per bench before the lot starts
    (:func:`procedures.run.preflight.preflight`, non-interactive): a procedure no bench can run is one line,
    exit status 2, with no worker started rather than a failed unit per unit."""
    import tempfile

    from procedures.run.preflight import preflight

    with tempfile.TemporaryDirectory() as folder:  # nothing is made in the lot's folder for a lot refused here
        for bench_path in lot.bench_paths.values():
            preflight(lot.procedure_path, bench_path, lot.board_path, Path(folder) / "probe.h5", interactive=False)


def run_lot(lot: LotConfig, out_dir: Path, record: Callable[[PlannedUnit, UnitOutcome], None],
            done: set[str], *, scheduler: str | None = None, ask: Callable[[str], str] = input,
            say: Callable[[str], None] = print, running_yield: Callable[[], str] | None = None,
            progress: LotProgress | None = None, scpi_log: Path | None = None) -> LotOutcome:
    """Measure every unit of ``lot`` not in ``done`` (serials finished before), calling ``record(unit, outcome)``
    for every outcome as it comes (the index's writer). ``scheduler``: a running scheduler's address; None
    starts a local cluster with one worker per bench. Raises :class:`LotError` when no bench is left.

    ``running_yield()``: the progress display's last line, asked after each measured unit (the index writer's
    :meth:`~procedures.lot.lot_index_writer.LotIndexWriter.running_yield`; None: no such line).
    ``progress``: the display of the benches' progress (default: one on standard output, through ``say``).
    ``scpi_log``: each bench worker writes its SCPI transcript beside it (:mod:`procedures.lot.worker_transcripts`).
    """
    units = plan_units(lot, ask, say)
    outcome = LotOutcome(out_dir / INDEX_NAME)
    for unit in units:  # measured, but the lot was stopped before it could say so in the index
        archive = unit_archive(out_dir, unit.serial)
        if unit.serial not in done and complete_archive(archive):
            say(f"{unit.serial}: its archive is complete, recorded without measuring it again")
            record(unit, UnitOutcome(unit.serial, "", "done", 1, math.nan, math.nan, str(archive)))
            done = done | {unit.serial}
    outcome.skipped = [u.serial for u in units if u.serial in done]
    todo = [u for u in units if u.serial not in done]
    if outcome.skipped:
        say(f"{len(outcome.skipped)} of {len(units)} units already measured: not measured again")
    if not todo:
        return outcome
    with _client(lot, scheduler) as client:
        from procedures.lot.worker_guard import StopUnitsSafely
        from procedures.lot.worker_warmup import WarmUp

        client.register_plugin(StopUnitsSafely())  # a worker stopped mid-unit switches the unit's outputs off first
        client.register_plugin(WarmUp())  # each bench imports its stack now, not in its first unit
        if scpi_log is not None:
            from procedures.lot.worker_transcripts import write_transcripts_per_bench

            write_transcripts_per_bench(client, scpi_log)
        line = dashboard_line(client, local=scheduler is None)
        if line:
            say(line)
        display = progress if progress is not None else LotProgress(list(lot.benches), say)
        started = time.monotonic()
        _measure_all(client, lot, out_dir, todo, record, outcome, display, running_yield)
        say(f"lot {lot.name}: {len(outcome.measured)} measured, {len(outcome.failed)} failed, "
            f"{len(outcome.skipped)} done before, in {time.monotonic() - started:.0f} s")
    return outcome


def _measure_all(client: Any, lot: LotConfig, out_dir: Path, todo: list[PlannedUnit],
                 record: Callable[[PlannedUnit, UnitOutcome], None], outcome: LotOutcome,
                 display: LotProgress, running_yield: Callable[[], str] | None) -> None:
    """Submit every unit and follow them to their end, with ``display`` showing the benches meanwhile."""
    from distributed import as_completed

    by_key: dict[str, PlannedUnit] = {}

    order = {unit.serial: i for i, unit in enumerate(todo)}

    def submit(unit: PlannedUnit, attempt: int) -> Any:
        spec = UnitSpec(unit.serial, str(unit_archive(out_dir, unit.serial)), attempt, unit.board_text)
        future = client.submit(measure_unit, spec, lot.source, resources={BENCH_RESOURCE: 1}, pure=False,
                               key=f"unit-{unit.serial}-{attempt}-{time.time_ns()}",
                               priority=len(todo) - order[unit.serial] + (len(todo) if attempt > 1 else 0))
        by_key[future.key] = unit
        return future

    say = display.message
    client.subscribe_topic(PROGRESS_TOPIC, display.handle)  # before the first unit, whose start it shows
    try:
        with display:
            queue = as_completed([submit(u, 1) for u in todo])
            for future in queue:
                unit = by_key[future.key]
                result: UnitOutcome = future.result()
                display.unit_finished(result.bench, unit.serial, result.attempt)
                say(f"{result.bench}: {unit.serial} {result.status} in {result.end_s - result.start_s:.0f} s "
                    f"(attempt {result.attempt}){': ' + result.error if result.error else ''}")
                with display.external():  # the index writer says the running yield itself
                    record(unit, result)
                if result.status == "done":
                    outcome.measured.append(unit.serial)
                    outcome.failed.pop(unit.serial, None)
                    _show_yield(display, running_yield)
                    continue
                outcome.failed[unit.serial] = result.error
                if result.status == "bench-failed":
                    display.bench_out(result.bench)
                    _take_out(client, result.bench, outcome, say)
                    if result.attempt < MAX_ATTEMPTS:
                        say(f"{unit.serial}: re-queued on another bench")
                        queue.add(submit(unit, result.attempt + 1))
    finally:
        try:
            client.unsubscribe_topic(PROGRESS_TOPIC)
        except Exception:  # the client already closing: nothing left to listen to
            pass


def _show_yield(display: LotProgress, running_yield: Callable[[], str] | None) -> None:
    """Put the running yield on the display's last line; a yield that cannot be had yet (no index: the first
    units' archives could not be read) leaves the line as it was."""
    if running_yield is None:
        return
    try:
        display.set_yield(running_yield())
    except Exception:
        log.debug("no running yield yet", exc_info=True)


def _take_out(client: Any, bench: str, outcome: LotOutcome, say: Callable[[str], None]) -> None:
    """Retire a failed bench's worker so no unit goes to it again; :class:`LotError` when none is left."""
    if bench not in outcome.benches_out:
        outcome.benches_out.append(bench)
        client.retire_workers(names=[bench], close_workers=True)
        say(f"{bench}: taken out of the pool (its instruments failed)")
    left = [w for w in client.scheduler_info()["workers"].values() if w.get("name") not in outcome.benches_out]
    if not left:
        raise LotError(f"every bench has failed ({', '.join(outcome.benches_out)}): the lot stops here")


def _client(lot: LotConfig, scheduler: str | None) -> AbstractContextManager[Any]:
    """A Dask client: attached to ``scheduler``, or to a local cluster of the lot's benches (closed after)."""
    return dask_client(scheduler, lambda: local_cluster(list(lot.benches)), LotError)
