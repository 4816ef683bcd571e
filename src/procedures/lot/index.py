"""The lot index: one crash-safe HDF5 file per lot with one row per event of a unit, and the lot's figures from it.

The index is a run archive (``docs/archive.md``) with one table, ``/entry/unit_events``, so h5py, xarray (engine
h5netcdf), netCDF-C and :func:`procedures.archive.reader.open_run` all read it. One row per event of a unit
(:data:`STATUSES`: ``started``, ``done``, ``failed``, ``bench-failed``, ``requeued``, ``refitted``), appended and
never changed; the current state of a unit is its last row. ``refitted`` is the row ``diffbench lot refit`` appends
when it refits a unit's archive into a new copy: its ``archive`` is the copy and its figures, verdicts, components
and suspect are the copy's. A unit is *measured* when its current state is one of :data:`MEASURED_STATUSES`
(``done`` or ``refitted``): :meth:`LotIndex.done`, :func:`procedures.lot.lot_figures.lot_figures` (the lot's
figures, yields and failing units), the lot run's running yield and summary and the lot report count those units,
each once, with its current row's numbers. Columns (:func:`index_spec`):
``serial``, ``bench``, ``status``, ``attempt``, ``archive`` (the unit's run archive), ``start_time``/``end_time``
(ISO 8601 UTC text, ``""`` unknown) and ``start_s``/``end_s`` (the same as seconds since 1970-01-01 UTC, NaN
unknown), ``logged_time`` (when the row was appended), ``reason``, ``run_status`` (the run archive's status),
``passed`` (1 every verdict passed, 0 one failed, -1 none judged), ``suspect`` (the fitted component
``<fit>.<parameter>`` that departs most from the design, ``""`` none:
:func:`procedures.fitting.departures.suspect`), ``suspect_rel`` (its fitted/nominal - 1) and ``suspect_z`` (its
(fitted - nominal)/u), then per figure ``<figure>`` and ``<figure>_u``, per limit ``verdict_<limit>`` (1, 0, -1 as
``passed``) and per fitted component ``<fit>__<parameter>`` and its ``_u``. An index created before the suspect
columns existed is appended to without them (and read as having no suspects). The file's ``/entry@metadata_json``
names the figures, limits and components (``kind = "lot_index"``).

Why the archive's parts and not :class:`procedures.archive.writer.RunArchive` itself: a run archive takes its
final name only when the run finishes, and a finished archive is never appended to again. A lot index keeps
one name and is appended to for days, across sessions, so it is made of the writer's own parts: the schema
(:func:`procedures.archive.layout.build_schema`, built aside and renamed into place), the SWMR append after
the committed rows (:func:`procedures.archive.appending.open_for_append`), the row checks
(:func:`procedures.archive.spec.row_parts`) and the commit protocol (write, flush, counter, flush, fsync:
:func:`procedures.archive.appending.write_commit`). Every append is committed at once, fsynced by default:
readers trust ``/entry/n_committed``, so a row written but not committed when the writer was killed is never
read. A killed writer leaves the file marked open for SWMR writing, which HDF5 will not open for writing
again; :meth:`LotIndex.open` then does what a resumed run does (:func:`procedures.archive.resume.resume_run`):
it copies the committed rows into a new file under the index's name and moves the killed file aside,
unchanged, as ``<stem>.interrupted-<UTC time><suffix>``.

One writer at a time: a lot's index is written by one process (the lot's driver), which holds an advisory
lock on ``<index>.lock`` while it is open (POSIX; elsewhere the rule is the caller's).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from procedures.archive.appending import OpenArchive, close_unfinished, failed_write, open_for_append, write_commit
from procedures.archive.declaration import RunDeclaration
from procedures.archive.files import creating_path_of, fsync_dir, move_into_place, partial_path_of
from procedures.archive.io_errors import io_cause
from procedures.archive.layout import RunStamp, build_schema
from procedures.archive.reader import open_run
from procedures.archive.resume import resume_run
from procedures.archive.spec import ArchiveError, Column, TableSpec, row_parts
from procedures.archive.stamps import utc_now
from procedures.archive.table_reading import read_table
from procedures.lot.unit_summary import FIGURE_NAMES, FIGURES, UnitSummary

KIND = "lot_index"
TABLE = "unit_events"
STATUSES = ("started", "done", "failed", "bench-failed", "requeued", "refitted")
MEASURED_STATUSES = ("done", "refitted")
"""Current states of a unit that was measured and whose row holds its current numbers (module docstring)."""
SUSPECT_COLUMNS = ("suspect", "suspect_rel", "suspect_z")
VERDICT_PREFIX = "verdict_"
EPOCH_UNITS = "seconds since 1970-01-01 00:00:00 UTC"
_FLAG = "1 pass, 0 fail, -1 not judged"

_BASE_COLUMNS: dict[str, Column] = {
    "serial": Column("str", "", "serial number of the unit"),
    "bench": Column("str", "", "bench that measured the unit"),
    "status": Column("str", "", "event: " + ", ".join(STATUSES)),
    "attempt": Column("int64", "1", "attempt at the unit (1, then 2 ... when it was re-queued)"),
    "archive": Column("str", "", "path of the unit's run archive"),
    "start_time": Column("str", "", "start of the unit's run, ISO 8601 UTC ('' not known)"),
    "end_time": Column("str", "", "end of the unit's run, ISO 8601 UTC ('' not known)"),
    "start_s": Column("float64", EPOCH_UNITS, "start of the unit's run"),
    "end_s": Column("float64", EPOCH_UNITS, "end of the unit's run"),
    "logged_time": Column("str", "", "when this row was appended, ISO 8601 UTC"),
    "reason": Column("str", "", "why the unit failed or was re-queued ('' otherwise)"),
    "run_status": Column("str", "", "status of the unit's run archive ('' not read)"),
    "passed": Column("int64", "1", f"every verdict of the run: {_FLAG}"),
    "suspect": Column("str", "", "fitted component <fit>.<parameter> that departs most from the design, more "
                                 "than 3 standard uncertainties ('' none)"),
    "suspect_rel": Column("float64", "1", "relative departure of the suspect component from the design: "
                                          "fitted/nominal - 1 (NaN no suspect)"),
    "suspect_z": Column("float64", "1", "departure of the suspect component from the design in standard "
                                        "uncertainties of its fit: (fitted - nominal)/u (NaN no suspect)"),
}


def component_column(name: str) -> str:
    """The index column of fitted component ``<fit>.<parameter>``: ``<fit>__<parameter>``."""
    return name.replace(".", "__")


def index_spec(figures: Mapping[str, str], verdicts: Sequence[str], components: Mapping[str, str]) -> TableSpec:
    """The table of a lot index: the base columns (module docstring), then ``figures`` (name -> units) with
    uncertainties, a ``verdict_<limit>`` flag per limit in ``verdicts``, and ``components`` (``<fit>.<parameter>``
    -> units) with uncertainties. Names that are not netCDF-safe or collide raise
    :class:`~procedures.archive.spec.ArchiveError` when the index is created."""
    cols = dict(_BASE_COLUMNS)
    for name, units in figures.items():
        cols[name] = Column("float64", units, FIGURES[name][1] if name in FIGURES else name, uncertainty=True)
    for limit in verdicts:
        cols[VERDICT_PREFIX + limit] = Column("int64", "1", f"verdict on the limit {limit}: {_FLAG}")
    for name, units in components.items():
        cols[component_column(name)] = Column("float64", units, f"fitted {name}", uncertainty=True)
    return TableSpec(cols, long_name="events of the lot's units: one row per event, the last row of a serial is "
                                     "its current state")


@dataclass(frozen=True)
class LotRow:
    """One event of a unit, as :meth:`LotIndex.append` takes it.

    ``status``: one of :data:`STATUSES`; ``start_s``, ``end_s``: epoch seconds (NaN: not known; with a
    ``summary``, the run archive's own times stand in); ``archive``: the run archive's path (default: the
    summary's); ``summary``: the unit's :class:`~procedures.lot.unit_summary.UnitSummary` for a measured unit.
    """

    serial: str
    status: str
    bench: str = ""
    attempt: int = 1
    archive: str = ""
    start_s: float = math.nan
    end_s: float = math.nan
    reason: str = ""
    summary: UnitSummary | None = None


def iso_utc(epoch_s: float) -> str:
    """Epoch seconds as ISO 8601 UTC text with a ``Z`` (the archive's form), ``""`` for NaN."""
    if not math.isfinite(epoch_s):
        return ""
    t = _dt.datetime.fromtimestamp(epoch_s, _dt.timezone.utc)
    return t.isoformat(timespec="microseconds").replace("+00:00", "Z")


def epoch_s(iso: str) -> float:
    """ISO 8601 text (``Z`` or an offset; naive means UTC) as epoch seconds, NaN for ``""`` or unreadable text."""
    try:
        t = _dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return math.nan
    return (t if t.tzinfo else t.replace(tzinfo=_dt.timezone.utc)).timestamp()


def _flag(passed: bool | None) -> int:
    return -1 if passed is None else int(bool(passed))


def _summary_values(s: UnitSummary | None, figures: Sequence[str], verdicts: Sequence[str],
                    components: Sequence[str]) -> dict[str, Any]:
    """The columns a summary fills (NaN, -1 where it has nothing; components it has beyond the index are dropped)."""
    out: dict[str, Any] = {"run_status": s.run_status if s else "", "passed": _flag(s.passed if s else None)}
    sus = s.suspect if s else None
    out["suspect"], out["suspect_rel"], out["suspect_z"] = (sus.name, sus.rel, sus.z) if sus else ("", math.nan,
                                                                                                   math.nan)
    for name in figures:
        f = s.figures.get(name) if s else None
        out[name], out[f"{name}_u"] = (f.value, f.u) if f else (math.nan, math.nan)
    for limit in verdicts:
        v = s.verdict(limit) if s else None
        out[VERDICT_PREFIX + limit] = _flag(v.passed if v else None)
    for name in components:
        c = s.components.get(name) if s else None
        out[component_column(name)], out[component_column(name) + "_u"] = (c.value, c.u) if c else (math.nan,
                                                                                                    math.nan)
    return out


def _python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def current_rows(columns: Mapping[str, np.ndarray]) -> list[int]:
    """Indices of the last row of every serial in an index's columns, in the order the serials first appear."""
    last: dict[str, int] = {}
    for i, serial in enumerate(columns["serial"]):
        last[str(serial)] = i
    return list(last.values())


def _lock(path: Path) -> IO[str] | None:
    """Hold an advisory lock on ``<path>.lock`` (POSIX), so a second writer is refused instead of splitting the log."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: one writer is the caller's rule
        return None
    lock_path = path.with_name(path.name + ".lock")
    try:
        fh = open(lock_path, "a", encoding="utf-8")  # noqa: SIM115 - held while the index is open
    except OSError as exc:
        raise ArchiveError(f"{lock_path}: cannot open the lot index's lock file: {io_cause(exc)}") from None
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        raise ArchiveError(f"{path}: the lot index is open for writing in another process") from None
    return fh


def _unlock(lock: IO[str] | None) -> None:
    if lock is not None:
        lock.close()  # closing the file releases the flock


def _check_kind(path: Path, metadata: Mapping[str, Any]) -> None:
    if metadata.get("kind") != KIND:
        raise ArchiveError(f"{path}: a run archive, but not a lot index (metadata kind is {metadata.get('kind')!r})")


def _recover(path: Path) -> None:
    """Put the committed rows of an index whose writer was killed into a new file under its name; the killed file
    moves aside unchanged (:func:`procedures.archive.resume.resume_run`, then its ``.partial`` takes the name)."""
    final, _ = resume_run(path)
    try:
        move_into_place(partial_path_of(final), final)
    except OSError as exc:
        raise ArchiveError(f"{partial_path_of(final)}: the recovered lot index cannot take its name {final.name}: "
                           f"{io_cause(exc)}; rename it by hand") from exc


class LotIndex:
    """The writer of a lot index (module docstring). Make one with :meth:`create` or :meth:`open`; close it (or use
    it as a context manager) to let go of the file and its lock."""

    def __init__(self, path: Path, archive: OpenArchive, lock: IO[str] | None, *, fsync: bool) -> None:
        self._path = path
        self._archive = archive
        self._lock = lock
        self._fsync = fsync
        self._committed = archive.committed
        self._table = archive.tables[TABLE]
        self._closed = False
        self._broken: str | None = None
        meta = json.loads(archive.file["entry"].attrs["metadata_json"])  # what create() declared
        self.figure_names: tuple[str, ...] = tuple(meta["figures"])
        self.verdict_names: tuple[str, ...] = tuple(meta["verdicts"])
        self.component_names: tuple[str, ...] = tuple(meta["components"])
        self._has_suspect = "suspect" in self._table.spec.columns

    @classmethod
    def create(cls, path: str | os.PathLike[str], figure_names: Sequence[str] = FIGURE_NAMES,
               verdict_names: Sequence[str] = (), component_names: Mapping[str, str] | None = None, *,
               lot: str = "", configs: Mapping[str, str] | None = None, fsync: bool = True,
               overwrite: bool = False) -> LotIndex:
        """Create the lot index at ``path`` and return its writer.

        ``figure_names``: which of :data:`~procedures.lot.unit_summary.FIGURES` it holds (default all);
        ``verdict_names``: the limits it holds a verdict of (a board's ``[pass_fail]`` names, such as
        ``thd_max``); ``component_names``: ``{<fit>.<parameter>: units}`` of the fitted components it holds
        (:attr:`UnitSummary.component_units` of a unit gives them). ``lot`` names the lot; ``configs`` are TOML
        texts to keep in ``/entry/configs`` (the lot config). ``fsync`` (default on): every append is on the
        disk before :meth:`append` returns, so a power loss keeps it too. Refuses an existing index unless
        ``overwrite``. A bad name raises :class:`~procedures.archive.spec.ArchiveError` before any file is made.
        """
        p = Path(path)
        unknown = [n for n in figure_names if n not in FIGURES]
        if unknown:
            raise ArchiveError(f"{p}: unknown figure(s) {', '.join(unknown)} (known: {', '.join(FIGURE_NAMES)})")
        figures = {n: FIGURES[n][0] for n in figure_names}
        components = dict(component_names or {})
        metadata = {"kind": KIND, "lot": lot, "figures": figures, "verdicts": list(verdict_names),
                    "components": components}
        declaration = RunDeclaration(metadata=metadata, configs=dict(configs or {}), instruments={},
                                     tables={TABLE: index_spec(figures, verdict_names, components)})
        lock = _lock(p)
        try:
            if not overwrite:
                for q in (p, partial_path_of(p)):
                    if q.exists():
                        raise ArchiveError(f"{q}: already exists; open it to append, or choose another name")
            creating = creating_path_of(p)
            try:
                build_schema(creating, declaration, RunStamp(run_id=uuid.uuid4().hex, start_time=utc_now()))
                os.replace(creating, p)
            except (OSError, RuntimeError) as exc:
                with contextlib.suppress(OSError):
                    creating.unlink(missing_ok=True)
                raise ArchiveError(f"{creating}: cannot create the lot index: {io_cause(exc)}") from exc
            fsync_dir(p)
            return cls(p, open_for_append(p), lock, fsync=fsync)
        except BaseException:
            _unlock(lock)
            raise

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, fsync: bool = True) -> LotIndex:
        """Reopen the lot index at ``path`` to append after its committed rows.

        An index whose writer was killed is recovered first (module docstring): its committed rows are copied
        to a new file under its name and the killed file is moved aside unchanged. Raises
        :class:`~procedures.archive.spec.ArchiveError` (one line) for a missing or damaged file, a run archive
        that is not a lot index, or an index another process has open for writing.
        """
        p = Path(path)
        lock = _lock(p)
        try:
            partial = partial_path_of(p)
            if not p.exists() and partial.exists():  # a recovery was killed after its copy was complete
                move_into_place(partial, p)
            with open_run(p) as run:
                _check_kind(p, run.metadata)
                killed = run.opened_with_swmr
            if killed:
                _recover(p)
            return cls(p, open_for_append(p), lock, fsync=fsync)
        except BaseException:
            _unlock(lock)
            raise

    @property
    def path(self) -> Path:
        """Where the index is."""
        return self._path

    @property
    def n_rows(self) -> int:
        """Rows appended so far (all committed, unless :meth:`append` was told not to commit)."""
        return self._table.n

    def _check_open(self) -> None:
        if self._broken is not None:
            raise ArchiveError(self._broken)
        if self._closed:
            raise ArchiveError(f"{self._path}: the lot index is closed")

    def _values(self, row: LotRow) -> dict[str, Any]:
        """The row keys of ``row`` (module docstring), times filled from its summary where it has none."""
        if row.status not in STATUSES:
            raise ArchiveError(f"{self._path}: status {row.status!r} is not one of {', '.join(STATUSES)}")
        if not isinstance(row.serial, str) or not row.serial:
            raise ArchiveError(f"{self._path}: a row needs a serial (non-empty text), got {row.serial!r}")
        s = row.summary
        start = row.start_s if math.isfinite(row.start_s) or s is None else epoch_s(s.start_time)
        end = row.end_s if math.isfinite(row.end_s) or s is None else epoch_s(s.end_time)
        base = {"serial": row.serial, "bench": row.bench, "status": row.status, "attempt": row.attempt,
                "archive": row.archive or (str(s.path) if s is not None else ""), "start_time": iso_utc(start),
                "end_time": iso_utc(end), "start_s": float(start), "end_s": float(end), "logged_time": utc_now(),
                "reason": row.reason}
        values = {**base, **_summary_values(s, self.figure_names, self.verdict_names, self.component_names)}
        if not self._has_suspect:  # an index made before the suspect columns
            for key in SUSPECT_COLUMNS:
                values.pop(key)
        return values

    def append(self, row: LotRow | Mapping[str, Any], *, commit: bool = True) -> int:
        """Append one event (a :class:`LotRow`, or a dict of its fields) and return its row index.

        Committed at once (and fsynced, if the index was opened so) unless ``commit`` is false, in which case
        it waits for :meth:`commit` or :meth:`close`; until then no reader sees it. A bad row raises
        :class:`~procedures.archive.spec.ArchiveError` and nothing is written.
        """
        self._check_open()
        if not isinstance(row, LotRow):
            try:
                row = LotRow(**row)
            except TypeError as exc:
                raise ArchiveError(f"{self._path}: not a lot index row ({exc})") from None
        stored = row_parts(TABLE, self._table.vars, self._values(row))
        index = self._table.n
        for h5name, arr in stored.items():
            self._table.writers[h5name].append(arr.reshape((1,) + arr.shape))
        if commit:
            self.commit()
        return index

    def commit(self) -> None:
        """Make every appended row durable and visible (:func:`procedures.archive.appending.write_commit`)."""
        self._check_open()
        try:
            self._committed = write_commit(self._archive, self._committed, fsync=self._fsync)
        except (OSError, RuntimeError) as exc:
            self._broken = failed_write(self._archive.file, self._path, "commit to the lot index", exc)
            self._closed = True
            _unlock(self._lock)
            raise ArchiveError(self._broken) from exc

    def rows(self) -> dict[str, np.ndarray]:
        """Every committed row, by column (as :func:`read_index` returns them)."""
        self._check_open()
        group = self._archive.file["entry"][TABLE]
        return read_table(group, self._table.spec, int(self._committed[0]))

    def current(self) -> dict[str, dict[str, Any]]:
        """The current state of every unit: ``{serial: its last committed row as {column: value}}``."""
        cols = self.rows()
        return {str(cols["serial"][i]): {k: _python(v[i]) for k, v in cols.items()} for i in current_rows(cols)}

    def done(self) -> set[str]:
        """The serials that were measured: current state one of :data:`MEASURED_STATUSES` (``done``, ``refitted``)."""
        return {serial for serial, row in self.current().items() if row["status"] in MEASURED_STATUSES}

    def close(self) -> None:
        """Commit what is pending, give the ``row`` dimension its length (for strict netCDF readers), close the
        file and release the lock. The index stays open for appending by a later :meth:`open`."""
        if self._closed:
            return
        try:
            self.commit()
            f = self._archive.file
            f["entry"][TABLE]["row"].resize((self._table.n,))
            f.flush()
            self._closed = True
            close_unfinished(f)
        except (OSError, RuntimeError) as exc:
            raise ArchiveError(f"{self._path}: cannot close the lot index: {io_cause(exc)}") from exc
        finally:
            self._closed = True
            _unlock(self._lock)

    def __enter__(self) -> LotIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_index(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Every committed row of the lot index at ``path``, by column (numpy arrays; text as str objects).

    ``pandas.DataFrame(read_index(path))`` is the index as a table. Reads an index being written, or left by a
    killed writer, as well as a closed one (:func:`procedures.archive.reader.open_run`), and raises its one-line
    :class:`~procedures.archive.spec.ArchiveError` for a missing or damaged file or one that is not a lot index.
    """
    p = Path(path)
    with open_run(p) as run:
        _check_kind(p, run.metadata)
        return dict(run.tables[TABLE])


def measured_rows(columns: Mapping[str, np.ndarray]) -> list[int]:
    """Indices of the current row of every measured unit (:data:`MEASURED_STATUSES`), in the order the serials
    first appear."""
    return [i for i in current_rows(columns) if str(columns["status"][i]) in MEASURED_STATUSES]
