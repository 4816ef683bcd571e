"""Re-analysis at scale: refit a lot's unit archives (or any run archives) in parallel on Dask, into new copies.

One task per archive (:func:`refit_archive`), on any worker of a Dask client: a local cluster of worker
processes (:func:`refit_cluster`, loopback only) or a running scheduler's workers. A task:

1. makes every fit the run's archived tables allow again (:func:`procedures.fitting.refit.fit_archived`) with
   the ``[fit]`` options given, or else the run's own archived ones;
2. judges the run's verdicts again (:func:`procedures.analysis.verdicts.evaluate`) against ``judge_board``, the
   design's board config as it is now (a lot's ``board``), so a limit changed since the lot was measured takes
   effect; without one, against the board config archived with the run (the verdicts then come out as the
   run's own);
3. writes both into a new copy of the archive (:func:`procedures.fitting.archive_update.add_results` with
   ``out``: a temporary file completed, read back and renamed into place): the source archive is never
   modified, not even atomically replaced;
4. summarises the copy (:func:`procedures.lot.unit_summary.summarise_run`), which is the row the lot index gets.

A task never raises; an archive it cannot refit comes back with its reason, and nothing is written for it.
:func:`summarise_archive` is the same task without the refit (``diffbench lot report --archives``: a report of
any set of archives, summarised in parallel).
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from instruments.errors import DiffbenchError
from procedures.lot.dask_client import dask_client
from procedures.lot.dask_settings import LOOPBACK, WORKER_CONFIG, WORKER_ENV, worker_settings
from procedures.lot.unit_summary import UnitSummary

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefitSpec:
    """One archive to refit: its serial (the lot's, or the file's stem), the source archive, where the copy
    goes (``None``: summarise only, write nothing), the ``[fit]`` options (``None``: the run's own), and the board
    config file the verdicts are judged against again (``None``: the run's archived one)."""

    serial: str
    source: str
    dest: str | None = None
    options: Mapping[str, Any] | None = None
    judge_board: str | None = None


@dataclass(frozen=True)
class RefitOutcome:
    """What became of one archive: its summary (``None`` when it failed, ``error`` says why), the copy written
    (``""``: none), the fits made and the notes on fits that could not be, and the task's CPU and wall time, s."""

    serial: str
    source: str
    written: str
    summary: UnitSummary | None
    error: str = ""
    fits: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    cpu_s: float = 0.0
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the archive was refitted (or summarised) and its summary read back."""
        return self.summary is not None


def refit_archive(spec: RefitSpec) -> RefitOutcome:
    """Refit one archive into a copy and summarise the copy (module docstring); never raises."""
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        written, fits, notes = _refit(spec) if spec.dest is not None else ("", (), ())
        from procedures.lot.unit_summary import summarise_run

        summary = summarise_run(written or spec.source)
        return RefitOutcome(spec.serial, spec.source, written, summary, "", fits, notes,
                            time.process_time() - c0, time.perf_counter() - t0)
    except DiffbenchError as exc:
        error = str(exc)
    except OSError as exc:
        error = f"{spec.source}: {exc.strerror or exc}"
    except Exception as exc:  # a bug must not take the others down: this archive fails with its one line
        error = "unexpected " + "".join(traceback.format_exception_only(type(exc), exc)).strip()
        log.debug("refit of %s failed", spec.source, exc_info=True)
    return RefitOutcome(spec.serial, spec.source, "", None, error, (), (), time.process_time() - c0,
                        time.perf_counter() - t0)


def summarise_archive(spec: RefitSpec) -> RefitOutcome:
    """:func:`refit_archive` without the refit: the archive's summary as it is (``spec.dest`` ignored)."""
    return refit_archive(RefitSpec(spec.serial, spec.source))


def _refit(spec: RefitSpec) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    from instruments.board_config import load_board
    from procedures.analysis.verdicts import as_result, evaluate
    from procedures.archive.reader import open_run
    from procedures.fitting.archive_update import add_results
    from procedures.fitting.refit import fit_archived
    from procedures.fitting.run_fits import board_of

    assert spec.dest is not None
    done = fit_archived(spec.source, spec.options)
    with open_run(spec.source) as run:
        board = load_board(spec.judge_board) if spec.judge_board else board_of(run)
        judged = evaluate(board, run.tables)
    arrays, attrs = as_result(judged)
    attrs = {**attrs, "judged_against": spec.judge_board or "the board config archived with the run",
             "board_toml": board.raw}
    dest = Path(spec.dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    extra = {"verdicts": {"arrays": arrays, "attrs": attrs, "dims": {k: ("limit_index",) for k in arrays}}}
    written = add_results(spec.source, done.fits, dest, extra=extra, only_these_fits=True)
    return str(written), tuple(f.name for f in done.fits), tuple(done.notes)


def refit_all(client: Any, specs: Sequence[RefitSpec], on_outcome: Callable[[RefitOutcome], None], *,
              summarise_only: bool = False) -> list[RefitOutcome]:
    """Submit one task per spec to ``client`` and call ``on_outcome`` for each as it finishes (in the order they
    finish); returns the outcomes in the order of ``specs``. ``client=None`` runs them one after another here
    (the plain loop a benchmark compares the cluster with)."""
    task = summarise_archive if summarise_only else refit_archive
    if client is None:
        outcomes = []
        for spec in specs:
            outcomes.append(task(spec))
            on_outcome(outcomes[-1])
        return outcomes
    from distributed import as_completed

    futures = client.map(task, list(specs), pure=False, key=[f"{task.__name__}-{s.serial}-{time.time_ns()}"
                                                             for s in specs])
    by_key = {f.key: i for i, f in enumerate(futures)}
    out: list[RefitOutcome | None] = [None] * len(specs)
    for future in as_completed(futures):
        result: RefitOutcome = future.result()
        out[by_key[future.key]] = result
        on_outcome(result)
    return [o for o in out if o is not None]


def refit_client(workers: int, scheduler: str | None = None) -> AbstractContextManager[Any]:
    """A Dask client: attached to ``scheduler`` (its workers, wherever they are, must see the archives' paths),
    or to a local cluster of ``workers`` single-threaded worker processes on loopback (closed after; the
    workers die with this process). A scheduler that does not answer raises :class:`DiffbenchError`."""
    return dask_client(scheduler, lambda: refit_cluster(workers))


def refit_cluster(workers: int) -> object:
    """A cluster of ``workers`` worker processes on this machine, one thread each (the fits are numpy and
    lmfit: one process per core is what parallelises them), loopback only; the dashboard on a free port."""
    from distributed import LocalCluster

    with worker_settings():  # the scheduler and the nannies live in this process
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host=LOOPBACK,
                            dashboard_address=f"{LOOPBACK}:0", silence_logs=logging.ERROR, env=WORKER_ENV,
                            config=WORKER_CONFIG)


def default_workers(n_archives: int) -> int:
    """Local workers for ``n_archives`` archives: one per core this process may use, no more than archives."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, n_archives))
