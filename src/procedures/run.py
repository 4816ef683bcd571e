"""Run a procedure end to end: configs in, an archive out, the generator's outputs off at the end.

:func:`run_procedure` reads and checks the three configs and plans every point (a bad config or an unsafe
amplitude stops it here, before any instrument is touched), starts the simulator when the bench is a
simulated one, opens the bench, creates (or resumes) the archive, measures point by point with each point
committed to the archive as soon as it is measured, then computes the results (gains per frequency,
compression, DC transfer) from the archived points and writes them too. Whatever ends the run, the
generator's outputs are switched off (:func:`procedures.safety.outputs_off_guard`) and the archive is closed
with its status: complete, aborted (Ctrl-C) or failed (and why).
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from instruments.bench_config import BenchConfig, load_bench
from instruments.board_config import BoardConfig, load_board
from instruments.errors import ConfigError, DiffbenchError

from . import plan as planning
from . import verdicts
from .acquisition import NODES, RangeMemory, setup_timebase
from .archive import RunArchive
from .control import BenchControl, OperatorControl, SimulatedControl
from .measure import PointResult, acquire_point, analyse_point
from .plan import PlannedPoint
from .procedure_config import ProcedureConfig, load_procedure
from .results import compute_results, crosstalk_advice, result_tables, store_results
from .run_tables import POINTS, point_row, points_table, record_spec
from .safety import outputs_off_guard

log = logging.getLogger(__name__)


@dataclass
class RunOutcome:
    """What a run produced: the archive path, its status, and the results for the summary table."""

    path: Path
    status: str
    reason: str = ""
    results: dict[str, Any] = field(default_factory=dict)
    verdicts: list[Any] = field(default_factory=list)
    fits: list[Any] = field(default_factory=list)
    n_points: int = 0
    n_skipped: int = 0

    @property
    def passed(self) -> bool:
        """Every checked limit passed (True when none was checked)."""
        return all(v.passed for v in self.verdicts)


@dataclass
class LoadedConfigs:
    """The three configs of a run, validated."""

    procedure: ProcedureConfig
    bench: BenchConfig
    board: BoardConfig
    sim_board: BoardConfig | None = None  # a different board on the simulated bench (a deliberate fault)


def load_configs(procedure: str | Path, bench: str | Path, board: str | Path,
                 sim_board: str | Path | None = None) -> LoadedConfigs:
    """Load and validate the procedure, bench and board configs (one-line ConfigError on any problem).

    ``sim_board``: the board config the simulated bench carries instead of ``board``; refused for a real bench.
    """
    cfg = LoadedConfigs(load_procedure(procedure), load_bench(bench), load_board(board))
    if sim_board is not None:
        if not cfg.bench.simulated:
            raise ConfigError(str(sim_board), "--sim-board", f"applies only to a simulated bench, and "
                                                             f"{cfg.bench.source} is a real one")
        cfg.sim_board = load_board(sim_board)
    return cfg


class _SimulatorHandle:
    """Start the simulated bench of a simulated bench config, with the board under test on it."""

    def __init__(self, bench: BenchConfig, board: BoardConfig) -> None:
        from instruments.sim.bench import SimBench
        from instruments.sim.board import SimBoard

        self.sim = SimBench(bench, board=SimBoard.from_config(board))

    def close(self) -> None:
        self.sim.close()


def _scope_coupling(proc: ProcedureConfig, frequency_hz: float) -> str:
    mode = proc.acquisition["coupling"]
    if mode == "auto":
        return "DC" if frequency_hz <= 0 else "AC"
    return mode


def _prepare_scope(scope: Any, channels: dict[str, int], coupling: str) -> None:
    for node in NODES:
        scope.set_channel(channels[node], enabled=True, coupling=coupling)
    scope.set_acquisition("normal")


def _timebase(scope: Any, proc: ProcedureConfig, frequency_hz: float, n_samples: int, trigger_channel: int,
              level_v: float) -> int:
    """Set the timebase for ``min_periods`` periods; widen it when the sample rate, not the memory, keeps
    the scope from delivering ``n_samples`` points. Returns the points the scope will deliver."""
    periods = proc.acquisition["min_periods"]
    got = setup_timebase(scope, frequency_hz, n_samples, periods, trigger_channel, level_v)
    if got >= n_samples or frequency_hz <= 0:
        return got
    wider = setup_timebase(scope, frequency_hz, n_samples, periods * 1.1 * n_samples / max(got, 1),
                           trigger_channel, level_v)
    if wider > got:
        return wider
    return setup_timebase(scope, frequency_hz, n_samples, periods, trigger_channel, level_v)  # memory-bound


def run_procedure(procedure: str | Path, bench: str | Path, board: str | Path, out: str | Path, *,
                  resume: str | Path | None = None, progress: Callable[[int, int, str], None] | None = None,
                  control: BenchControl | None = None, sim_bench: Any = None,
                  sim_board: str | Path | None = None) -> RunOutcome:
    """Measure a procedure on a bench and archive it; see the module docstring for the sequence.

    ``progress(done, total, label)`` is called after every point. ``control`` overrides how the bench is
    rewired between groups of points (default: the simulator's relay, or the operator at a real bench).
    ``sim_bench`` runs on an already running :class:`~instruments.sim.bench.SimBench` (a test or a bench
    script that wants to watch the simulator's state) instead of starting one for a simulated bench config.
    ``sim_board`` puts that board config on the simulated bench instead of ``board``, which the run is still
    judged and fitted against: a deliberately faulty board (archived as the ``sim_board`` config).
    """
    cfg = load_configs(procedure, bench, board, sim_board)
    proc, bench_cfg, board_cfg = cfg.procedure, cfg.bench, cfg.board
    points = planning.plan(proc, board_cfg)  # SafetyError here: nothing has been switched on
    if cfg.sim_board is not None:
        planning.plan(proc, cfg.sim_board)  # the board actually driven must be safe too
    owned = (_SimulatorHandle(bench_cfg, cfg.sim_board or board_cfg)
             if bench_cfg.simulated and sim_bench is None else None)
    sim = owned.sim if owned is not None else sim_bench
    try:
        from instruments.bench import open_bench

        resources = sim.resources if sim is not None else None
        with open_bench(bench_cfg, resources=resources) as b:
            if control is None:
                control = SimulatedControl(sim, bench_cfg.wiring) if sim is not None else OperatorControl(bench_cfg.wiring)
            return _run_on_bench(b, control, cfg, points, Path(out), resume, progress)
    finally:
        if owned is not None:
            owned.close()


def _run_on_bench(b: Any, control: BenchControl, cfg: LoadedConfigs, points: list[planning.PlannedPoint],
                  out: Path, resume: str | Path | None,
                  progress: Callable[[int, int, str], None] | None) -> RunOutcome:
    proc, bench_cfg, board_cfg = cfg.procedure, cfg.bench, cfg.board
    gen, scope = b.generator, b.scope
    channels = bench_cfg.wiring.scope_channels()
    n_samples = scope.record_length_for(proc.acquisition["record_points"], 4)
    n_harm = proc.acquisition["harmonics"]
    instruments = {kind: {"idn": b.identities.get(kind, ""), "resource": getattr(getattr(b, kind).resource, "resource_name", ""),
                          "driver": b.drivers.get(kind, type(getattr(b, kind)).__name__), "settings": {}}
                   for kind in ("generator", "scope")}
    rows: list[dict[str, Any]] = []
    if resume is not None:
        archive, committed = RunArchive.resume(resume, out_path=out if Path(out) != Path(resume) else None)
        rows = _row_dicts(committed.tables.get(POINTS, {}))
        done = {str(r["key"]) for r in rows}
        next_point = len(rows)
    else:
        tables = {POINTS: points_table(n_harm), **result_tables(proc.kind)}
        metadata = {"procedure": proc.name, "kind": proc.kind, "board": board_cfg.name, "bench": bench_cfg.name,
                    "planned_points": len(points)}
        configs = {"procedure": proc.raw, "bench": bench_cfg.raw, "board": board_cfg.raw}
        if cfg.sim_board is not None:
            metadata["sim_board"] = cfg.sim_board.name
            configs["sim_board"] = cfg.sim_board.raw
        archive = RunArchive.create(out, metadata=metadata, configs=configs,
                                    instruments=instruments, tables=tables,
                                    waveform_spec=record_spec(n_samples, scope))
        done, next_point = set(), 0
    todo = [p for p in points if p.key not in done]
    outcome = RunOutcome(path=archive.path, status="running", n_points=len(points), n_skipped=len(points) - len(todo))
    memory = RangeMemory()
    state: tuple[bool, str] | None = None
    coupling: str | None = None
    # The fits of point i run in a worker thread while point i+1 is acquired (numpy and the sockets
    # release the GIL); the archive is written only from this thread, point by point, in order, so a
    # killed run never holds records of a point without its row.
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="diffbench-fit")
    pending: tuple[int, PlannedPoint, Future[PointResult]] | None = None

    def finish_point() -> None:
        nonlocal pending
        if pending is None:
            return
        i, p, future = pending
        pending = None
        result = future.result()
        if result.clipped:
            log.warning("%s: %s clipped even after auto-ranging; archived and marked", p.key, ", ".join(result.clipped))
        index = next_point + i
        for rec in result.records:
            archive.append_waveforms(index, [_trim(rec.waveforms[n], n_samples) for n in NODES])
        row = point_row(index, p, result, n_harm)
        archive.append(POINTS, row)
        archive.commit()
        rows.append(row)
        if progress:
            progress(outcome.n_skipped + i + 1, len(points), p.excitation.label)

    def salvage() -> None:
        """On the way out of a failed or interrupted run: archive the last measured point if its fit is fine."""
        try:
            finish_point()
        except BaseException as exc:  # its own failure must not hide the run's
            log.warning("the last measured point could not be archived: %s", exc)
        worker.shutdown(wait=False, cancel_futures=True)

    try:
        with outputs_off_guard(gen.outputs_off):
            for i, p in enumerate(todo):
                if p.configuration != state:
                    gen.outputs_off()  # never move cables (or relays) with the drive on
                    finish_point()     # (and an operator's pause is no time to leave a fit unarchived)
                    control.configure(*p.configuration)
                    state = p.configuration
                    memory = RangeMemory()
                want = _scope_coupling(proc, p.excitation.frequency_hz)
                if want != coupling:
                    _prepare_scope(scope, channels, want)
                    coupling = want
                level = 0.0 if want == "AC" else p.excitation.channels[0].offset_v
                _timebase(scope, proc, p.excitation.frequency_hz, n_samples, channels[p.trigger_node], level)
                acq = proc.acquisition
                acquired = acquire_point(gen, scope, channels, p.excitation, memory=memory, repeats=acq["repeats"],
                                         fill=acq["fill"], max_ranging=acq["max_ranging"], timeout_s=acq["timeout_s"])
                finish_point()
                pending = (i, p, worker.submit(analyse_point, acquired, n_harm))
            gen.outputs_off()
            finish_point()
        results = compute_results(proc, rows, points)
        advice = crosstalk_advice(rows, points)
        if advice:
            log.warning(advice)
        store_results(archive, proc.kind, results)
        archive.commit()
        outcome.results = results
        outcome.fits = _fit(proc, board_cfg, results, rows)
        if outcome.fits:
            from .fits import store_fits

            store_fits(archive, outcome.fits)
        outcome.verdicts = verdicts.evaluate(board_cfg, verdicts.stack_rows(results))
        if outcome.verdicts:
            arrays, attrs = verdicts.as_result(outcome.verdicts)
            archive.write_result("verdicts", arrays, attrs=attrs, dims={k: ("limit_index",) for k in arrays})
        outcome.status = "complete"
        archive.finish("complete")
    except KeyboardInterrupt:
        salvage()
        outcome.status, outcome.reason = "aborted", "interrupted (Ctrl-C)"
        archive.finish("aborted", outcome.reason)
        raise
    except DiffbenchError as exc:
        salvage()
        outcome.status, outcome.reason = "failed", str(exc)
        archive.finish("failed", str(exc))
        raise
    except BaseException as exc:
        salvage()
        outcome.status, outcome.reason = "failed", f"{type(exc).__name__}: {exc}"
        archive.finish("failed", outcome.reason)
        raise
    finally:
        worker.shutdown(wait=False)
    return outcome


def _fit(proc: ProcedureConfig, board: BoardConfig, results: dict[str, Any], rows: list[dict[str, Any]]) -> list[Any]:
    """The model fits the run's results allow (procedures.fits); a fit that cannot be made is logged, not fatal:
    the measurement stands on its own."""
    from .fits import FitError, fit_options_from_text, fit_tables, tables_from_rows

    tables = {name: tables_from_rows(r) for name, r in results.items()}
    tables[POINTS] = tables_from_rows(rows)
    try:
        return fit_tables(tables, board, fit_options_from_text(proc.raw, proc.source))
    except FitError as exc:
        log.warning("no model fit: %s", exc)
        return []


def _trim(wf: Any, n: int) -> Any:
    """At most ``n`` samples (a family may deliver a deeper record than asked; shorter ones are kept whole)."""
    if wf.codes.size <= n:
        return wf
    from dataclasses import replace

    return replace(wf, codes=wf.codes[:n])


def _row_dicts(table: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Columns of committed rows (as the archive returns them) -> one dict per row."""
    if not table:
        return []
    n = len(next(iter(table.values())))
    return [{k: v[i] for k, v in table.items()} for i in range(n)]
