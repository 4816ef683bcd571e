"""One run on an open bench: the archive, the point loop and the results, with every ending in one place.

:class:`RunSession` is a context manager. Entering it makes the bench safe (a generator found with its
outputs on, left so by a killed process, is switched off first, and the run says so) and opens the
archive (created, or resumed from an interrupted one). :meth:`RunSession.measure` measures the points
that are not archived yet, each committed as soon as it is measured; :meth:`RunSession.conclude`
computes, fits, judges and archives the results and finishes the archive ``complete``. Leaving the
block by any other path (an instrument error, a lost connection, a signal) switches the generator's
outputs off, archives the last measured point if it can, and finishes the archive ``aborted`` (a signal)
or ``failed`` with a one-line reason; the file stays resumable.

Signals are handled by :class:`procedures.run.safety.StopSignals`: the loop is interruptible while it talks to
instruments (``armed``), never while it writes the archive (``held``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

from instruments.bench import Bench
from instruments.board_config import BoardConfig
from instruments.waveform import Waveform
from procedures.analysis import verdicts as verdicts
from procedures.analysis.results import compute_results, crosstalk_advice, result_tables, store_results
from procedures.analysis.verdicts import Verdict
from procedures.archive.io_errors import one_line
from procedures.archive.writer import RunArchive, RunDeclaration
from procedures.config.procedure import ProcedureConfig
from procedures.measure.acquisition import NODES, RangeMemory
from procedures.measure.control import BenchControl
from procedures.measure.plan import PlannedPoint
from procedures.measure.point import PointResult, acquire_point, analyse_point
from procedures.measure.point_table import POINTS, point_row, points_table, record_spec
from procedures.measure.scope_setup import prepare_scope, scope_coupling, timebase_for
from procedures.measure.snapshot import SNAPSHOT, snapshot_spec, take_snapshot
from procedures.run.preflight import RunPlan
from procedures.run.safety import RunInterrupted, StopSignals

if TYPE_CHECKING:  # the fits import lmfit: loaded only when a run gets to them
    from procedures.fitting.core import FitResult

log = logging.getLogger(__name__)

#: the archive tables that grow point by point (a resume keeps their rows); every other table is a
#: whole-run result, recomputed by a resumed run
PER_POINT_TABLES = (POINTS, SNAPSHOT)



@dataclass(frozen=True)
class FinishedPoint:
    """One point measured and archived: what a run's per-point callback receives."""

    done: int                 # points of the plan archived so far (a resumed run counts those it skipped)
    total: int                # points in the plan
    index: int                # the point's row in the archive's ``points`` table
    point: PlannedPoint       # what was asked: excitation, bench configuration, role in the sweep
    row: dict[str, Any]       # the archived row: phasors (V peak) with uncertainties, DC levels, ... (docs/archive.md)

    @property
    def label(self) -> str:
        """The point in a few words, a calibration named as one (:attr:`PlannedPoint.label`)."""
        return self.point.label


#: called after every point is archived (the run's progress, a live view, a notebook's own table)
PointCallback = Callable[[FinishedPoint], None]


@dataclass
class RunOutcome:
    """What a run produced: the archive path, its status, and the results for the summary table."""

    path: Path
    status: str
    reason: str = ""
    results: dict[str, Any] = field(default_factory=dict)
    verdicts: list[Verdict] = field(default_factory=list)
    fits: list[FitResult] = field(default_factory=list)
    n_points: int = 0
    n_skipped: int = 0

    @property
    def passed(self) -> bool:
        """Every checked limit passed (True when none was checked)."""
        return all(v.passed for v in self.verdicts)


class RunSession:
    """The lifecycle of one run on an open bench; see the module docstring."""

    def __init__(self, plan: RunPlan, bench: Bench, control: BenchControl, signals: StopSignals,
                 on_point: PointCallback | None = None) -> None:
        self.plan = plan
        self.bench = bench
        self.control = control
        self.signals = signals
        self.on_point = on_point
        self.channels = plan.bench.wiring.scope_channels()
        self.settings = plan.procedure.acquisition_settings
        self.n_harm = self.settings.harmonics
        self.n_samples = bench.scope.record_length_for(self.settings.record_points, 4)
        self.rows: list[dict[str, Any]] = []
        self.todo: list[PlannedPoint] = []
        self.first_index = 0
        self.archive: RunArchive | None = None
        self.outcome = RunOutcome(path=plan.out, status="running", n_points=len(plan.points))
        # The fits of point i run in a worker thread while point i+1 is acquired (numpy and the sockets
        # release the GIL); the archive is written only from this thread, point by point, in order, so a
        # killed run never holds records of a point without its row.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="diffbench-fit")
        self._pending: tuple[int, PlannedPoint, Future[PointResult], dict[str, Any] | None] | None = None

    # ---- entering: a safe bench, an open archive ------------------------------------------------

    def __enter__(self) -> RunSession:
        try:
            self._outputs_off_at_start()
            self._open_archive()
        except BaseException as exc:
            self._end(exc)
            raise
        return self

    def _outputs_off_at_start(self) -> None:
        """Switch off whatever a previous process (killed with -9) left on, before anything else changes."""
        gen = self.bench.generator
        with self.signals.armed():
            left_on = [ch for ch in gen.channels if gen.channel_state(ch).output]
        gen.outputs_off()
        if left_on:
            log.warning("generator output(s) %s were on when the run started (left by an earlier run that was "
                        "killed?); switched off before anything else", ", ".join(map(str, left_on)))

    def _open_archive(self) -> None:
        plan, b = self.plan, self.bench
        cfg = plan.configs
        if plan.resume is not None:
            archive, committed = RunArchive.resume(plan.resume, out_path=plan.out if plan.out != plan.resume else None)
            self.archive = archive
            for name in committed.tables:
                if name not in PER_POINT_TABLES:
                    archive.reset_table(name)  # whole-run results are recomputed, never appended twice
            self.rows = _row_dicts(committed.tables.get(POINTS, {}))
        else:
            instruments = {kind: {"idn": b.identities.get(kind, ""),
                                  "resource": getattr(getattr(b, kind).resource, "resource_name", ""),
                                  "driver": b.drivers.get(kind, type(getattr(b, kind)).__name__),
                                  "settings": {"per_point": f"/entry/{SNAPSHOT}"}}
                           for kind in ("generator", "scope")}
            tables = {POINTS: points_table(self.n_harm), SNAPSHOT: snapshot_spec(self.channels, b.generator.channels),
                      **result_tables(plan.procedure.kind)}
            metadata = {"procedure": plan.procedure.name, "kind": plan.procedure.kind, "board": plan.board.name,
                        "bench": plan.bench.name, "planned_points": len(plan.points)}
            if plan.calibration is not None:
                metadata["calibration"] = plan.calibration.as_metadata()
            configs = {"procedure": plan.procedure.raw, "bench": plan.bench.raw, "board": plan.board.raw}
            if plan.board.netlist is not None:
                configs["netlist"] = plan.board.netlist.text
            if cfg.sim_board is not None:
                metadata["sim_board"] = cfg.sim_board.name
                configs["sim_board"] = cfg.sim_board.raw
            self.archive = RunArchive.create(plan.out, RunDeclaration(
                metadata=metadata, configs=configs, instruments=instruments, tables=tables,
                waveform_spec=record_spec(self.n_samples, b.scope)))
        done = {str(r["key"]) for r in self.rows}
        self.first_index = len(self.rows)
        self.todo = [p for p in plan.points if p.key not in done]
        self.outcome.path = self.archive.path
        self.outcome.n_skipped = len(plan.points) - len(self.todo)

    # ---- the point loop ---------------------------------------------------------------------------

    def measure(self) -> None:
        """Measure every point not archived yet; each is committed as soon as its analysis is done."""
        gen, scope, proc = self.bench.generator, self.bench.scope, self.plan.procedure
        memory = RangeMemory()
        state: tuple[bool, str] | None = None
        coupling: str | None = None
        timebase: tuple[object, ...] | None = None  # (frequency, trigger level and node, configuration) set up
        with self.signals.armed():
            for i, p in enumerate(self.todo):
                if p.configuration != state:
                    gen.outputs_off()  # never move cables (or relays) with the drive on
                    self._archive_pending()  # (and an operator's pause is no time to leave a fit unarchived)
                    self.control.configure(*p.configuration)
                    by_hand = getattr(self.control, "touches_instruments", True)
                    if by_hand:  # a person may have used the front panels meanwhile
                        for instrument in (gen, scope):
                            instrument.forget_settings()
                    state = p.configuration
                    memory = memory.for_new_configuration(scope_untouched=not by_hand)
                want = scope_coupling(proc, p.excitation.frequency_hz)
                level = 0.0 if want == "AC" else p.excitation.channels[0].offset_v
                horizontal = (p.excitation.frequency_hz, level, p.trigger_node, state)
                if want != coupling or horizontal != timebase:
                    with scope.checked_step():  # one error-queue read for the point's scope set-up
                        if want != coupling:
                            prepare_scope(scope, self.channels, want)
                            coupling = want
                            memory.set_coupling(want)
                        timebase_for(scope, proc, p.excitation.frequency_hz, self.n_samples,
                                     self.channels[p.trigger_node], level)
                    timebase = horizontal
                self.signals.outputs_safe = False  # from here until clean-up, an output may be on
                acquired = acquire_point(gen, scope, self.channels, p.excitation, memory=memory,
                                         settings=self.settings)
                settings = take_snapshot(gen, scope, self.channels, self.first_index + i, gen.channels)
                self._archive_pending()
                self._pending = (i, p, self._worker.submit(analyse_point, acquired, self.n_harm), settings)
            gen.outputs_off()
            self.signals.outputs_safe = True
            self._archive_pending()

    def _archive_pending(self) -> None:
        """Archive the point whose analysis is running (waits for it); no signal can cut the commit in half."""
        if self._pending is None:
            return
        i, p, future, settings = self._pending
        result = future.result()
        assert self.archive is not None
        with self.signals.held():
            self._pending = None
            index = self.first_index + i
            for rec in result.records:
                self.archive.append_waveforms(index, [_trim(rec.waveforms[n], self.n_samples) for n in NODES])
            row = point_row(index, p, result, self.n_harm)
            self.archive.append(POINTS, row)
            if settings is not None:
                self.archive.append(SNAPSHOT, settings)
            self.archive.commit()
            self.rows.append(row)
        if self.on_point:
            self.on_point(FinishedPoint(done=self.outcome.n_skipped + i + 1, total=len(self.plan.points),
                                        index=index, point=p, row=row))

    # ---- the results ------------------------------------------------------------------------------

    def conclude(self) -> RunOutcome:
        """Results, fits and verdicts from the archived points; archived, and the archive finished complete."""
        proc, board, archive = self.plan.procedure, self.plan.board, self.archive
        assert archive is not None
        with self.signals.armed():  # pure computation: a signal here costs nothing but this step
            results = compute_results(proc, self.rows, self.plan.points)
        advice = crosstalk_advice(self.rows, self.plan.points)
        if advice:
            log.warning(advice)
        with self.signals.held():
            store_results(archive, proc.kind, results)
            archive.commit()
        with self.signals.armed():
            fits = _fit(proc, board, results, self.rows)
        judged = verdicts.evaluate(board, verdicts.stack_rows(results))
        with self.signals.held():
            if fits:
                from procedures.fitting.run_fits import store_fits

                store_fits(archive, fits)
            if judged:
                arrays, attrs = verdicts.as_result(judged)
                archive.write_result("verdicts", arrays, attrs=attrs, dims={k: ("limit_index",) for k in arrays})
            archive.finish("complete")
            self.outcome.results, self.outcome.fits, self.outcome.verdicts = results, fits, judged
            self.outcome.status = "complete"
        return self.outcome

    # ---- leaving ----------------------------------------------------------------------------------

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is not None:
            self._end(exc)
        elif self.archive is not None and not self.archive.finished:
            self._end(None)
        else:
            self._worker.shutdown(wait=False)

    def _end(self, exc: BaseException | None) -> None:
        """Every ending but a complete one: outputs off, last point archived, archive finished with its reason.

        Runs with every signal held (the loop's ``armed`` block has ended); each step is tried even if an
        earlier one failed, and a step's failure rides along with the run's own error as a note.
        """
        notes: list[str] = []
        try:
            self.bench.generator.outputs_off()
        except Exception as cleanup:
            notes.append(f"switching the generator outputs off failed: {cleanup}")
        self.signals.outputs_safe = True
        if self._pending is not None:
            try:
                self._archive_pending()
            except BaseException as cleanup:  # its own failure must not hide the run's
                notes.append(f"the last measured point could not be archived: {one_line(str(cleanup))}")
                self._pending = None
        self._worker.shutdown(wait=False, cancel_futures=True)
        if isinstance(exc, RunInterrupted):
            status, reason = "aborted", str(exc)
        elif isinstance(exc, KeyboardInterrupt):
            status, reason = "aborted", "interrupted by SIGINT (Ctrl-C)"
        elif exc is None:
            status, reason = "aborted", "the run ended before its results were computed"
        else:
            status, reason = "failed", one_line(str(exc)) or type(exc).__name__
        self.outcome.status, self.outcome.reason = status, reason
        if self.archive is not None and not self.archive.finished:
            try:
                self.archive.finish(status, reason)
            except Exception as cleanup:
                notes.append(f"closing the archive failed: {one_line(str(cleanup))}")
        for note in notes:
            log.error(note)
            if exc is not None and hasattr(exc, "add_note"):
                exc.add_note(note)


def _fit(proc: ProcedureConfig, board: BoardConfig, results: dict[str, Any],
         rows: list[dict[str, Any]]) -> list[FitResult]:
    """The model fits the run's results allow (:mod:`procedures.fitting.run_fits`); a fit that cannot be made is
    logged, not fatal: the measurement stands on its own."""
    from procedures.fitting.run_fits import FitError, fit_options_from_text, fit_tables, tables_from_rows

    tables = {name: tables_from_rows(r) for name, r in results.items()}
    tables[POINTS] = tables_from_rows(rows)
    try:
        return fit_tables(tables, board, fit_options_from_text(proc.raw, proc.source))
    except FitError as exc:
        log.warning("no model fit: %s", exc)
        return []


def _trim(wf: Waveform, n: int) -> Waveform:
    """At most ``n`` samples (a family may deliver a deeper record than asked; shorter ones are kept whole)."""
    if wf.codes.size <= n:
        return wf
    return replace(wf, codes=wf.codes[:n])


def _row_dicts(table: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Columns of committed rows (as the archive returns them) -> one dict per row."""
    if not table:
        return []
    n = len(next(iter(table.values())))
    return [{k: v[i] for k, v in table.items()} for i in range(n)]
