"""``diffbench lot refit`` and ``lot report --archives``: which archives are re-analysed, and where the answers go.

:func:`refit_lot` takes a lot's folder: every unit whose current state in the lot index is measured is refitted
from the archive its run wrote (never from an earlier refit's copy), into ``refits/<UTC time>/<serial>.h5``, and
each refitted unit gets a ``refitted`` row in the index (its ``archive`` the copy) with the copy's figures,
verdicts and fitted components; the lot's yield and capability then follow the new rows. A unit whose refit
fails keeps its current row (a line says why), so a failed refit never makes ``lot run`` measure it again.

:func:`index_archives` takes any set of run archives (serial: the file's stem) and a folder: refitted copies
under ``refits/<UTC time>/`` with ``refitted`` rows (``refit=True``), or the archives summarised as they are
with ``done`` rows (``refit=False``, what ``lot report --archives`` does), in the folder's ``index.h5``
(created by the first archive, appended to after).

The work itself, one Dask task per archive, is :mod:`procedures.lot.lot_refit`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from instruments.errors import ConfigError
from procedures.lot.index import MEASURED_STATUSES, LotIndex, LotRow
from procedures.lot.lot_refit import RefitOutcome, RefitSpec, refit_all
from procedures.lot.lot_run import INDEX_NAME, unit_archive

#: sub-folder of a lot (or archives) folder that holds every refit, one folder per refit named by its UTC time
REFITS = "refits"


@dataclass
class ReanalysisOutcome:
    """What a refit (or a summary) of many archives did: the serials indexed, those that failed (serial ->
    one line why) and those left out (serial -> why), the folder of the copies, and the CPU the tasks took, s."""

    index: Path
    folder: Path | None
    indexed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)
    cpu_s: float = 0.0


def refit_folder(out: Path) -> Path:
    """A new folder for one refit's copies: ``<out>/refits/<UTC time, to the microsecond>``."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    return out / REFITS / stamp


def measured_sources(index: Mapping[str, Any], out: Path) -> tuple[dict[str, str], dict[str, str]]:
    """From a lot index's rows (columns), each measured unit's run archive ``{serial: path}`` (the archive of
    its last ``done`` row: a refit's copy is never refitted again) and the units left out ``{serial: why}``."""
    from procedures.lot.index import current_rows

    current = {str(index["serial"][i]): str(index["status"][i]) for i in current_rows(index)}
    measured_archive: dict[str, str] = {}
    for serial, status, archive in zip(index["serial"], index["status"], index["archive"], strict=True):
        if str(status) == "done":
            measured_archive[str(serial)] = str(archive)
    sources, left_out = {}, {}
    for serial, status in current.items():
        if status not in MEASURED_STATUSES or serial not in measured_archive:
            left_out[serial] = f"not measured (its state is {status})"
            continue
        path = Path(measured_archive[serial])
        if not path.exists():  # the lot folder was moved since: its own units/ folder
            path = unit_archive(out, serial)
        sources[serial] = str(path)
    return sources, left_out


def refit_lot(out: Path, client: Any, *, options: Mapping[str, Any] | None = None, judge_board: str | None = None,
              say: Callable[[str], None] = print) -> ReanalysisOutcome:
    """Refit every measured unit of the lot in folder ``out`` on ``client`` (``None``: one after another here)
    and append a ``refitted`` row per unit to its index (module docstring). ``options``: a validated ``[fit]``
    table (default: each run's own); ``judge_board``: the board config file the verdicts are judged against
    again (the lot's design). The index is held for writing throughout, so a lot run cannot write it at the
    same time. Raises :class:`~instruments.errors.ConfigError` when the folder holds no lot index."""
    path = out / INDEX_NAME
    if not path.exists():
        raise ConfigError(str(out), None, "no lot index here: run the lot first (diffbench lot run)")
    with LotIndex.open(path) as index:
        rows = index.rows()
        sources, left_out = measured_sources(rows, out)
        # the bench and attempt of the row that measured it (a summary names the bench config, not the lot's bench)
        measured = {str(s): (str(b), int(a)) for s, b, a, st in zip(rows["serial"], rows["bench"], rows["attempt"],
                                                                   rows["status"], strict=True) if str(st) == "done"}
        folder = refit_folder(out)
        specs = [RefitSpec(serial, source, str(folder / f"{serial}.h5"), options, judge_board)
                 for serial, source in sources.items()]
        result = ReanalysisOutcome(path, folder, left_out=left_out)
        for serial, why in left_out.items():
            say(f"{serial}: left out, {why}")

        def record(outcome: RefitOutcome) -> None:
            index.append(_row(outcome, "refitted", *measured[outcome.serial]))

        _run(client, specs, result, say, record, verb="refitted")
    return result


def index_archives(archives: Sequence[str | Path], out: Path, client: Any, *, refit: bool,
                   options: Mapping[str, Any] | None = None, judge_board: str | None = None,
                   say: Callable[[str], None] = print) -> ReanalysisOutcome:
    """Refit (``refit``) or summarise any run archives on ``client`` into the index ``<out>/index.h5`` (module
    docstring). Two archives with the same file name are refused (their serials would collide), as is a
    missing file: one :class:`~instruments.errors.ConfigError` line, before anything is made."""
    paths = [Path(a) for a in archives]
    seen: dict[str, Path] = {}
    for p in paths:
        if not p.is_file():
            raise ConfigError(str(p), None, "no such archive")
        if p.stem in seen:
            raise ConfigError(str(p), None, f"the same file name as {seen[p.stem]}: serials are file names, "
                                            "give each archive once")
        seen[p.stem] = p
    out.mkdir(parents=True, exist_ok=True)
    folder = refit_folder(out) if refit else None
    specs = [RefitSpec(p.stem, str(p), str(folder / p.name) if folder else None, options, judge_board)
             for p in paths]
    path = out / INDEX_NAME
    result = ReanalysisOutcome(path, folder)
    holder: list[LotIndex] = [LotIndex.open(path)] if path.exists() else []
    status = "refitted" if refit else "done"

    def record(outcome: RefitOutcome) -> None:
        if not holder:  # the first summary names the verdicts and components the index holds
            assert outcome.summary is not None
            holder.append(LotIndex.create(path, verdict_names=outcome.summary.verdict_names,
                                          component_names=outcome.summary.component_units,
                                          lot=out.name))
        assert outcome.summary is not None
        holder[0].append(_row(outcome, status, outcome.summary.bench, 1))

    try:
        _run(client, specs, result, say, record, verb="refitted" if refit else "summarised")
    finally:
        if holder:
            holder[0].close()
    return result


def _row(outcome: RefitOutcome, status: str, bench: str, attempt: int) -> LotRow:
    reason = f"refit of {outcome.source}" if outcome.written else ""
    return LotRow(outcome.serial, status, bench, attempt,
                  outcome.written or outcome.source, reason=reason, summary=outcome.summary)


def _run(client: Any, specs: list[RefitSpec], result: ReanalysisOutcome, say: Callable[[str], None],
         record: Callable[[RefitOutcome], None], *, verb: str) -> None:
    """Run the specs' tasks, recording each success as it comes and saying one line per archive."""
    total = len(specs)

    def each(outcome: RefitOutcome) -> None:
        result.cpu_s += outcome.cpu_s
        if outcome.ok:
            record(outcome)
            result.indexed.append(outcome.serial)
            verdict = {True: "pass", False: "FAIL", None: "not judged"}[outcome.summary.passed if outcome.summary
                                                                        else None]
            fits = f", fits {', '.join(outcome.fits)}" if outcome.fits else ""
            say(f"{len(result.indexed) + len(result.failed)}/{total} {outcome.serial}: {verb}, {verdict}{fits}")
        else:
            result.failed[outcome.serial] = outcome.error
            say(f"{len(result.indexed) + len(result.failed)}/{total} {outcome.serial}: NOT {verb}: {outcome.error}")

    refit_all(client, specs, each, summarise_only=verb == "summarised")
