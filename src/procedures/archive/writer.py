"""The run archive writer: one self-describing HDF5 file per run, safe against a killed process.

A procedure declares what it will measure (:class:`TableSpec` per table, :class:`WaveformSpec` for raw
scope records), creates the archive, appends rows and records point by point, calls :meth:`RunArchive.commit`
after each finished point, and finally :meth:`RunArchive.finish`::

    spec = TableSpec({"freq_hz": Column("float64", "Hz", "test frequency"),
                      "Add": Column("complex128", "1", "differential gain", uncertainty=True)})
    declaration = RunDeclaration(metadata={...}, configs={"board": toml_text}, instruments={...},
                                 tables={"gains": spec},
                                 waveform_spec=WaveformSpec(("v1", "v2", "vo1", "vo2"), 100_000, "int8"))
    with RunArchive.create("run.h5", declaration) as ar:
        for point, f in enumerate(freqs):
            ar.append_record(point, codes, y_increment=..., y_origin=..., y_reference=..., x_increment=...,
                             x_origin=...)
            ar.append("gains", {"freq_hz": f, "Add": add, "Add_u": add_u})
            ar.commit()
    # leaving the block finishes the run: "complete", or "failed"/"aborted" if an exception escaped

Where each design choice comes from (``docs/reference/hdf5-archive.md``, cited as §n):

* Layout: netCDF-4 dimension scales plus NeXus group attributes, so h5py, h5dump, netCDF-C and xarray
  (engine h5netcdf) all open the file (§1.1, §1.3). The dimension-scale plumbing is written with h5py's
  own dims API rather than through h5netcdf: no extra run-time dependency, no h5netcdf ``flush()``
  pitfall (§1.3), and h5netcdf appends measured ~11 % slower than plain h5py (§3).
* Crash safety (§0.3, §2.1, §2.3): the whole schema is created first, then SWMR is switched on
  (``libver=("v110", "v110")``); afterwards the writer only appends along unlimited dimensions of chunked
  datasets. ``commit()`` writes the queued rows, then ``flush()`` -> counters -> ``flush()``; readers
  trust the counters, never the extents. The schema is built in ``<path>.partial.creating``, closed, renamed
  to ``<path>.partial`` and reopened directly in SWMR-write mode (``H5F_ACC_SWMR_WRITE``), so a ``.partial``
  never holds half a schema, is never open for writing without SWMR, and only closed files are ever renamed
  (Windows cannot rename an open file); ``finish()`` closes, fsyncs and ``os.replace``-s it to ``<path>``.
* All counters (one per table, one for the records) live in one single-chunk dataset,
  ``/entry/n_committed``, rewritten by one direct chunk write: a kill cannot leave the table counts of one
  commit beside the record counts of another, so a resumed run always restarts on a commit boundary. (The
  reference's single-table prototype had one scalar counter; with several tables one vector keeps that
  guarantee.)
* Raw waveforms are integer codes plus per-record, per-channel scaling *variables* (CF ``scale_factor``
  cannot vary per point, §0.2), chunked one channel-record per chunk, uncompressed by default, optional
  shuffle+gzip level 1, never LZF (§0.4, §3).
* Speed: a point's cost is its per-variable calls, not its flushes (§2.3 "Cost of the protocol"). Table
  rows and per-record scaling wait in a one-chunk buffer per variable and go out at commit as HDF5
  direct chunk writes; uncompressed codes are direct chunk writes too (see
  :class:`procedures.archive.buffers.RowBuffer`).
* Complex values are one dataset of a committed compound type {r, i} (format 1.1; 1.0 stored ``_re``/``_im``
  float pairs, §1.3; decision 0017), a table's axis column is its rows' coordinate, uncertainties ``<var>_u`` linked
  by ``ancillary_variables`` (§0.2), configuration and identities as UTF-8 string attributes with JSON for
  nested data (§0.2).
* Whole-run results (fits) are written once, in :meth:`finish`: SWMR forbids new objects while points are
  being appended (§2.1), and creating them only at the end keeps that window as short as possible.

The layout is documented in ``docs/archive.md``; the reader is :mod:`procedures.archive.reader`. This module
is the writer, :class:`RunArchive`; its parts live beside it, and their public names are re-exported here:
:mod:`procedures.archive.spec` (format names, table and record declarations, validation, value conversion),
:mod:`procedures.archive.declaration` (:class:`RunDeclaration`), :mod:`procedures.archive.files` (file
names), :mod:`procedures.archive.layout` (the schema), :mod:`procedures.archive.appending` (the open file
and the commit protocol), :mod:`procedures.archive.buffers` (the buffered writers),
:mod:`procedures.archive.result_groups` (whole-run results) and :mod:`procedures.archive.resume`.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from procedures.archive.appending import (
    OpenArchive,
    close_unfinished,
    failed_write,
    open_for_append,
    write_commit,
    write_counters,
)
from procedures.archive.buffers import TableWriters, row_writer
from procedures.archive.declaration import RunDeclaration
from procedures.archive.dimensions import NOT_A_VARIABLE
from procedures.archive.files import (
    creating_path_of,
    final_path_of,
    fsync_dir,
    move_into_place,
    partial_path_of,
)
from procedures.archive.io_errors import io_cause, one_line
from procedures.archive.layout import RunStamp, build_schema
from procedures.archive.result_groups import PendingResult, prepare_result, write_results
from procedures.archive.resume import Committed, resume_run
from procedures.archive.spec import (  # the format names and declarations are re-exported (see __all__)
    CODE_DTYPES,
    COLUMN_DTYPES,
    CREATING_SUFFIX,
    FILE_FORMAT,
    FINAL_STATUSES,
    FORMAT_VERSION,
    LIBVER,
    PARTIAL_SUFFIX,
    RECORD_VAR_NAMES,
    RESERVED_GROUPS,
    RESULTS_GROUP,
    RESUMABLE_STATUSES,
    STATUS_RUNNING,
    WAVEFORMS_GROUP,
    ArchiveError,
    Column,
    StoredVar,
    TableSpec,
    WaveformSpec,
    check_name,
    record_values,
    row_parts,
    stored_vars,
    stored_vars_u,
    validate_table_spec,
    validate_waveform_spec,
)
from procedures.archive.stamps import software_version, utc_now

if TYPE_CHECKING:  # pragma: no cover - typing only
    from instruments.waveform import Waveform

# The writer's public names: RunArchive and the names of its parts that callers import from here.
__all__ = [
    "ArchiveError", "Column", "Committed", "RunArchive", "RunDeclaration", "StoredVar", "TableSpec", "WaveformSpec",
    "final_path_of", "software_version", "stored_vars", "stored_vars_u", "utc_now", "validate_table_spec",
    "validate_waveform_spec", "CODE_DTYPES", "COLUMN_DTYPES", "CREATING_SUFFIX", "FILE_FORMAT", "FINAL_STATUSES",
    "FORMAT_VERSION", "LIBVER", "NOT_A_VARIABLE", "PARTIAL_SUFFIX", "RESERVED_GROUPS", "RESULTS_GROUP",
    "RESUMABLE_STATUSES", "STATUS_RUNNING", "WAVEFORMS_GROUP",
]


class RunArchive:
    """Writer of one run archive. Make one with :meth:`create` or :meth:`resume`, never directly."""

    def __init__(self, archive: OpenArchive, *, final_path: Path, fsync: bool) -> None:
        self._archive = archive
        self._file = archive.file
        self._tables = archive.tables
        self._records = archive.records
        self._committed = archive.committed
        self._final = final_path
        self._fsync = fsync
        self._finished = False
        self._broken: str | None = None  # the one-line error of a failed write; nothing more is written then
        self._results: dict[str, PendingResult] = {}

    # ---- construction --------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        declaration: RunDeclaration,
        *,
        run_id: str | None = None,
        fsync: bool = False,
        overwrite: bool = False,
    ) -> RunArchive:
        """Create ``<path>.partial`` holding the whole schema, status ``running``, and return its writer.

        ``path`` is the final name (``run.h5``); the file only takes it in :meth:`finish`. ``declaration``
        holds the metadata, configs, instruments, tables and records of the run (:class:`RunDeclaration`
        says what each holds); ``run_id`` defaults to a new UUID. ``fsync=True`` fsyncs after every commit
        (survives power loss, not only a killed process; §2.1 "flush is not fsync"). Refuses to overwrite
        an existing archive or ``.partial`` unless ``overwrite`` is true. Raises :class:`ArchiveError` on any
        bad declaration, before any file is made.
        """
        final = Path(path)
        if final.name.endswith(PARTIAL_SUFFIX):
            raise ArchiveError(f"{final}: give the final name; the writer adds {PARTIAL_SUFFIX!r} itself")
        partial = partial_path_of(final)
        if not overwrite:
            for p in (final, partial):
                if p.exists():
                    raise ArchiveError(f"{p}: already exists; choose another name or resume it")
        creating = creating_path_of(partial)
        try:
            build_schema(creating, declaration, RunStamp(run_id=run_id or uuid.uuid4().hex, start_time=utc_now()))
            # Only a closed, complete schema takes the .partial name (renaming a closed file also works on
            # Windows); the writer then reopens it directly in SWMR-write mode.
            os.replace(creating, partial)
        except (OSError, RuntimeError) as exc:  # a read-only or full file system, a vanished directory
            with contextlib.suppress(OSError):
                creating.unlink(missing_ok=True)
            raise ArchiveError(f"{creating}: cannot create the archive: {io_cause(exc)}") from exc
        if fsync:
            # Only the power-loss mode needs the new name on disk now; on ext4 a directory fsync waits
            # for a journal commit (tens of ms while other files are being written), and a killed
            # process does not need it (§2.1 "flush is not fsync").
            fsync_dir(partial)
        return cls._open_for_append(partial, final=final, fsync=fsync)

    @classmethod
    def _open_for_append(cls, path: Path, *, final: Path, fsync: bool) -> RunArchive:
        """The writer of the closed archive at ``path``, reopened in SWMR-write mode after its committed rows
        (:func:`~procedures.archive.appending.open_for_append`)."""
        return cls(open_for_append(path), final_path=final, fsync=fsync)

    # ---- properties ----------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The final path the archive gets in :meth:`finish`."""
        return self._final

    @property
    def partial_path(self) -> Path:
        """Where the archive lives while it is written: ``<path>.partial``."""
        return partial_path_of(self._final)

    @property
    def run_id(self) -> str:
        """The run's identifier (kept across resumes)."""
        return self._archive.run_id

    @property
    def finished(self) -> bool:
        """True once :meth:`finish` has run."""
        return self._finished

    @property
    def n_records(self) -> int:
        """Records appended so far (committed or not)."""
        return self._records.n if self._records is not None else 0

    def n_rows(self, table: str) -> int:
        """Rows appended to ``table`` so far (committed or not)."""
        return self._table(table).n

    @property
    def table_names(self) -> tuple[str, ...]:
        """The archive's tables, in the order they were declared."""
        return tuple(self._tables)

    # ---- appending -----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._broken is not None:
            raise ArchiveError(self._broken)
        if self._finished:
            raise ArchiveError(f"{self._final}: the archive is finished; nothing more can be written")

    @contextlib.contextmanager
    def _writing(self, action: str) -> Iterator[None]:
        """Turn a failed write (a full disk, an I/O error) into one :class:`ArchiveError` naming the file
        and the OS's cause. The file is then closed without another write (so it keeps what was committed,
        as a killed writer's would) and every later call raises the same error."""
        try:
            yield
        except (OSError, RuntimeError) as exc:
            self._broken = failed_write(self._file, self.partial_path, action, exc)
            self._finished = True
            raise ArchiveError(self._broken) from exc

    def _table(self, table: str) -> TableWriters:
        t = self._tables.get(table)
        if t is None:
            known = ", ".join(self._tables) or "none"
            raise ArchiveError(f"{self.partial_path}: no table {table!r} (declared: {known})")
        return t

    def append(self, table: str, row: Mapping[str, Any]) -> int:
        """Append one row to ``table`` and return its index; it is visible to readers after :meth:`commit`.

        ``row`` maps every column name (and ``<column>_u`` for columns with uncertainty) to a value of the
        column's dtype and shape, in the column's units. A missing or unknown key, a wrong shape or a
        wrong type raises :class:`ArchiveError` naming the table and column, and nothing is written.
        """
        self._check_open()
        t = self._table(table)
        stored = row_parts(table, t.vars, row)
        index = t.n
        for h5name, arr in stored.items():
            t.writers[h5name].append(arr.reshape((1,) + arr.shape))
        return index

    def append_record(
        self,
        point: int,
        codes: np.ndarray,
        *,
        y_increment: float | Sequence[float] | np.ndarray,
        y_origin: float | Sequence[float] | np.ndarray,
        y_reference: float | Sequence[float] | np.ndarray,
        x_increment: float,
        x_origin: float,
    ) -> int:
        """Append one raw scope record (all channels of one acquisition) and return its record index.

        ``codes`` has shape ``(channels, samples)`` as declared by the :class:`WaveformSpec`, in its integer
        dtype (other integer arrays are accepted if every code fits). Volts are
        ``(code - y_reference) * y_increment + y_origin`` per channel (``y_increment``, ``y_origin`` in V,
        ``y_reference`` in codes; a scalar applies to every channel); sample ``i`` is at
        ``x_origin + i * x_increment`` seconds. ``point`` is the index of the measurement point the record
        belongs to; a point may have any number of records. Visible to readers after :meth:`commit`.
        """
        self._check_open()
        r = self._records
        if r is None:
            raise ArchiveError(f"{self.partial_path}: this archive was created without a waveform_spec")
        scaling = {"y_increment": y_increment, "y_origin": y_origin, "y_reference": y_reference,
                   "x_increment": x_increment, "x_origin": x_origin}
        codes, rows = record_values(r.spec, point, codes, scaling)
        index = r.n
        with self._writing("write a record"):
            r.code.append(codes)
        for name in RECORD_VAR_NAMES:
            r.rows[name].append(rows[name])
        return index

    def append_waveforms(self, point: int, waveforms: Sequence[Waveform]) -> int:
        """Append one record from :class:`instruments.waveform.Waveform` objects, one per declared channel, in order.

        All waveforms must share ``x_increment_s`` and ``x_origin_s`` (they come from one acquisition).
        """
        self._check_open()
        if self._records is None:
            raise ArchiveError(f"{self.partial_path}: this archive was created without a waveform_spec")
        C = len(self._records.spec.channels)
        if len(waveforms) != C:
            raise ArchiveError(f"record: expected {C} waveforms ({', '.join(self._records.spec.channels)}), "
                               f"got {len(waveforms)}")
        x_inc = {w.x_increment_s for w in waveforms}
        x_org = {w.x_origin_s for w in waveforms}
        if len(x_inc) != 1 or len(x_org) != 1:
            raise ArchiveError(f"record: the waveforms have different time axes (x_increment {sorted(x_inc)}, "
                               f"x_origin {sorted(x_org)})")
        lengths = {np.asarray(w.codes).shape for w in waveforms}
        if len(lengths) != 1:
            raise ArchiveError(f"record: the waveforms have different lengths {sorted(lengths)}")
        return self.append_record(
            point,
            np.stack([np.asarray(w.codes) for w in waveforms]),
            y_increment=[w.y_increment_v for w in waveforms],
            y_origin=[w.y_origin_v for w in waveforms],
            y_reference=[w.y_reference for w in waveforms],
            x_increment=x_inc.pop(),
            x_origin=x_org.pop(),
        )

    def commit(self, *, fsync: bool | None = None) -> None:
        """Make every row and record appended so far durable and visible: write, flush, counters, flush (§0.3).

        ``flush`` is HDF5's own ``H5Fflush`` (through h5py, not a wrapper that only rewrites attributes;
        §1.3). ``fsync`` (default: the archive's ``fsync`` setting) also asks the OS to put the bytes on
        the disk, which a process kill does not need but a power loss does (§2.1).
        """
        self._check_open()
        with self._writing("commit to the archive"):
            self._committed = write_commit(self._archive, self._committed,
                                           fsync=self._fsync if fsync is None else fsync)

    def reset_table(self, table: str) -> None:
        """Drop every row of ``table`` (committed, written or queued): the next :meth:`append` is its row 0.

        For whole-run tables that a resumed run rewrites (results computed from all the points): the
        rows a killed run committed there are carried over by :meth:`resume`, and appending the recomputed
        rows after them would count each result twice. Call it right after :meth:`resume`, for every table
        that is not filled point by point.

        The table's counter goes to 0 at once, written and flushed like a commit (the other counters keep
        their committed values), so a reader, or a resume after another kill, sees the table empty; then its
        datasets shrink to 0 rows. Readers trust the counter, so they never see a half-dropped table. The
        other tables and the records keep all their rows, committed or queued.
        """
        self._check_open()
        t = self._table(table)
        index = list(self._tables).index(table)
        with self._writing(f"reset table {table!r}"):
            if self._committed[index] != 0:
                counts = self._committed.copy()
                counts[index] = 0
                write_counters(self._archive, counts)
                self._committed = counts
            for name, w in reversed(list(t.writers.items())):  # the axis coordinate first: never the longest
                if w.ds.shape[0]:
                    w.ds.id.set_extent((0,) + tuple(w.ds.shape[1:]))
                t.writers[name] = row_writer(w.ds, 0)
            self._file.flush()

    # ---- results and finishing -----------------------------------------------------------------

    def write_result(
        self,
        name: str,
        arrays: Mapping[str, Any],
        *,
        attrs: Mapping[str, Any] | None = None,
        units: Mapping[str, str] | None = None,
        long_names: Mapping[str, str] | None = None,
        dims: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """Store a small whole-run result (a fit: parameter names, values, stderr, covariance, chi2_red ...).

        ``arrays`` maps names to array-likes (numbers, bools, complex or strings); ``dims`` names their
        axes (default ``<array>_dim0`` ...; arrays sharing a dimension name must agree on its size, e.g.
        ``{"names": ("param",), "value": ("param",), "covariance": ("param", "param2")}``); ``units`` and
        ``long_names`` describe arrays; ``attrs`` holds scalars or flat lists (``chi2_red``, ``dof``,
        ``model``). Validated now, written in :meth:`finish` (SWMR allows no new objects while points are
        appended, §2.1), so a run killed before finishing has no results; they are derived data that the
        committed tables reproduce. Each name can be written once.
        """
        self._check_open()
        check_name("result", name)
        if name in self._results:
            raise ArchiveError(f"result {name!r} was already written")
        self._results[name] = prepare_result(name, arrays, attrs, units, long_names, dims)

    def _write_results(self) -> None:
        write_results(self._file["entry"], self._results)

    def finish(self, status: str = "complete", reason: str = "") -> Path:
        """End the run: commit, write results, set status/reason/end_time, close, fsync, rename to the final path.

        ``status`` is ``complete``, ``aborted`` (stopped on purpose, e.g. Ctrl-C) or ``failed`` (an error
        ended it; ``reason`` says which, one line). The file is renamed from ``.partial`` only after it is
        closed and fsynced (§0.3 "write to *.h5.partial ... os.replace"). Returns the final path.
        """
        self._check_open()
        if status not in FINAL_STATUSES:
            raise ArchiveError(f"finish: status must be one of {', '.join(FINAL_STATUSES)}, got {status!r}")
        if not isinstance(reason, str):
            raise ArchiveError("finish: reason must be a string")
        self.commit(fsync=False)
        f = self._file
        with self._writing("finish the archive"):
            self._write_results()
            # Pure unlimited dimension scales were left at length 0 while appending (readers size unlimited
            # dimensions from the variables); give them their final length for strict netCDF readers. A
            # table's axis coordinate is data: it already has it.
            for t in self._tables.values():
                if t.spec.axis is None:
                    f["entry"][t.name]["row"].resize((t.n,))
            if self._records is not None:
                f["entry"][WAVEFORMS_GROUP]["record"].resize((self._records.n,))
            # modify() rewrites the existing attributes in place (they were created with the schema).
            f["entry"].attrs.modify("end_time", utc_now())
            # One line (its lines joined, whitespace collapsed), cut to a few hundred characters.
            f.attrs.modify("reason", one_line(" ".join(reason.split())))
            f.attrs.modify("status", status)
            f.flush()
            f.close()
        self._finished = True
        try:
            move_into_place(self.partial_path, self._final)
        except OSError as exc:
            raise ArchiveError(f"{self.partial_path}: the run is finished ({status}) but the file cannot be renamed "
                               f"to {self._final.name}: {io_cause(exc)}; rename it by hand") from exc
        return self._final

    def _abandon(self) -> None:
        """Close without finishing; the file stays on disk as it is (status ``running``). Used by resume."""
        if not self._finished:
            self._finished = True
            close_unfinished(self._file)

    def __enter__(self) -> RunArchive:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if self._finished:
            return
        if exc is None:
            self.finish("complete")
        elif isinstance(exc, KeyboardInterrupt):
            self.finish("aborted", "interrupted (KeyboardInterrupt)")
        else:
            self.finish("failed", f"{type(exc).__name__}: {exc}")

    # ---- resume --------------------------------------------------------------------------------

    @classmethod
    def resume(
        cls, path: str | os.PathLike[str], *, out_path: str | os.PathLike[str] | None = None, fsync: bool = False
    ) -> tuple[RunArchive, Committed]:
        """Continue an interrupted run: a new archive with the same schema and exactly the committed data.

        ``path`` is the interrupted archive: a ``.partial`` left by a killed writer, or a finished file
        whose status is ``running``, ``aborted`` or ``failed``. It is opened read-only (SWMR read when it
        was not closed cleanly, §1.3 "A crashed SWMR file") and never modified. The new archive holds the
        same metadata, configs, instruments, run_id, start_time and tables, every committed row and record
        (records copied chunk by chunk, byte for byte), no results (a resumed run writes its own), and a
        resume entry (from where, when, what was carried over) in ``/entry@resumed_json``.

        Without ``out_path`` the run keeps its final name: the interrupted file is moved aside, unchanged,
        to ``<stem>.interrupted-<UTC time><suffix>`` and the new ``<final>.partial`` takes its place. With
        another ``out_path`` the interrupted file stays where it is and the new run finishes at ``out_path``
        (an ``out_path`` equal to the run's own final name means the default).
        Returns the writer (committed, ready for the next point) and the :class:`Committed` data, so the
        procedure can skip finished points.
        """
        final, committed = resume_run(path, out_path=out_path)
        return cls._open_for_append(partial_path_of(final), final=final, fsync=fsync), committed
