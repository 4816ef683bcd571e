"""The run archive writer: one self-describing HDF5 file per run, safe against a killed process.

A procedure declares what it will measure (:class:`TableSpec` per table, :class:`WaveformSpec` for raw
scope records), creates the archive, appends rows and records point by point, calls :meth:`RunArchive.commit`
after each finished point, and finally :meth:`RunArchive.finish`::

    spec = TableSpec({"freq_hz": Column("float64", "Hz", "test frequency"),
                      "Add": Column("complex128", "1", "differential gain", uncertainty=True)})
    with RunArchive.create("run.h5", metadata={...}, configs={"board": toml_text}, instruments={...},
                           tables={"gains": spec}, waveform_spec=WaveformSpec(("v1", "v2", "vo1", "vo2"), 100_000, "int8")) as ar:
        for point, f in enumerate(freqs):
            ar.append_record(point, codes, y_increment=..., y_origin=..., y_reference=..., x_increment=..., x_origin=...)
            ar.append("gains", {"freq_hz": f, "Add": add, "Add_u": add_u})
            ar.commit()
    # leaving the block finishes the run: "complete", or "failed"/"aborted" if an exception escaped

Where each design choice comes from (``shared/reference/hdf5-archive.md``, cited as §n):

* Layout: netCDF-4 dimension scales plus NeXus group attributes, so h5py, h5dump, netCDF-C and xarray
  (engine h5netcdf) all open the file (§1.1, §1.3). The dimension-scale plumbing is written with h5py's
  own dims API rather than through h5netcdf: no extra run-time dependency, no h5netcdf ``flush()``
  pitfall (§1.3), and h5netcdf appends measured ~11 % slower than plain h5py (§3).
* Crash safety (§0.3, §2.1, §2.3): the whole schema is created first, then SWMR is switched on
  (``libver=("v110", "v110")``); afterwards the writer only appends along unlimited dimensions of chunked
  datasets. ``commit()`` writes the queued rows, then ``flush()`` -> counters -> ``flush()``; readers
  trust the counters, never the extents. The schema is built in ``<path>.partial.creating``, closed, renamed to ``<path>.partial`` and
  reopened directly in SWMR-write mode (``H5F_ACC_SWMR_WRITE``), so a ``.partial`` never holds half a
  schema, is never open for writing without SWMR, and only closed files are ever renamed (Windows cannot
  rename an open file); ``finish()`` closes, fsyncs and ``os.replace``-s it to ``<path>``.
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
  direct chunk writes; uncompressed codes are direct chunk writes too (see :class:`_RowBuffer`).
* Complex values are stored as ``_re``/``_im`` float pairs (§1.3), uncertainties as ``<var>_u`` linked
  by ``ancillary_variables`` (§0.2), configuration and identities as UTF-8 string attributes with JSON for
  nested data (§0.2).
* Whole-run results (fits) are written once, in :meth:`finish`: SWMR forbids new objects while points are
  being appended (§2.1), and creating them only at the end keeps that window as short as possible.

The layout is documented in ``docs/archive.md``; the reader is :mod:`procedures.archive_reader`.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import h5py
import numpy as np

from instruments.errors import DiffbenchError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from instruments.waveform import Waveform

FILE_FORMAT = "diffbench-archive"
FORMAT_VERSION = "1.0"
# v110 is the oldest format SWMR accepts; pinning both bounds keeps files readable by any HDF5 >= 1.10 (§2.1).
LIBVER = ("v110", "v110")
PARTIAL_SUFFIX = ".partial"
CREATING_SUFFIX = ".creating"
STATUS_RUNNING = "running"
FINAL_STATUSES = ("complete", "aborted", "failed")
RESUMABLE_STATUSES = ("running", "aborted", "failed")
COLUMN_DTYPES = ("float64", "int64", "bool", "str", "complex128")
CODE_DTYPES = ("int8", "uint8", "int16", "uint16")
WAVEFORMS_GROUP = "waveforms"
RESULTS_GROUP = "results"
# Names under /entry that tables may not take.
RESERVED_GROUPS = frozenset({"instrument", "configs", WAVEFORMS_GROUP, RESULTS_GROUP, "n_committed", "part"})
# netCDF-C's marker for a dimension that has no coordinate variable (h5netcdf writes the same).
NOT_A_VARIABLE = "This is a netCDF dimension but not a netCDF variable."
# About one 4 KiB page per chunk for per-row columns: a commit rewrites the chunk holding the newest
# row, so small chunks keep that cost low, and reads of long tables stay fast enough.
_ROW_CHUNK_BYTES = 4096
_VLEN_STR = h5py.string_dtype("utf-8")
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class ArchiveError(DiffbenchError):
    """The archive was given something it cannot store, or a file is not a readable diffbench archive.

    ``str()`` is one line naming the file or table and what is wrong.
    """


# --------------------------------------------------------------------------------------------------
# Declarations


@dataclass(frozen=True)
class Column:
    """One column of a table.

    ``dtype`` is one of ``float64``, ``int64``, ``bool``, ``str``, ``complex128``. ``shape`` is an optional
    fixed trailing shape per row (for example ``(2, 2)`` for a mixed-mode matrix) whose axes are named by
    ``dims`` (default ``<column>_dim0``, ...); columns that name the same dimension must agree on its size.
    ``units`` is a CF/UDUNITS string (``"V"``, ``"Hz"``, ``"1"`` for dimensionless; required for numeric
    columns, empty for ``str``/``bool``). ``uncertainty=True`` adds a row key ``<column>_u``: the standard
    uncertainty (k=1) in the same units, stored as ``<var>_u`` and linked by ``ancillary_variables`` (§0.2);
    for a complex column it is complex too, ``u(re) + 1j*u(im)``.
    """

    dtype: str
    units: str
    long_name: str
    shape: tuple[int, ...] = ()
    dims: tuple[str, ...] | None = None
    uncertainty: bool = False

    def dim_names(self, name: str) -> tuple[str, ...]:
        """Names of the trailing dimensions of column ``name`` (after the table's ``row`` dimension)."""
        if self.dims is not None:
            return tuple(self.dims)
        return tuple(f"{name}_dim{k}" for k in range(len(self.shape)))

    def to_json(self) -> dict[str, Any]:
        """The column as a JSON-able dict (stored in the table group's ``diffbench_spec``)."""
        return {
            "dtype": self.dtype,
            "units": self.units,
            "long_name": self.long_name,
            "shape": list(self.shape),
            "dims": None if self.dims is None else list(self.dims),
            "uncertainty": self.uncertainty,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Column":
        """Inverse of :meth:`to_json`."""
        return cls(
            dtype=d["dtype"],
            units=d["units"],
            long_name=d["long_name"],
            shape=tuple(int(n) for n in d["shape"]),
            dims=None if d.get("dims") is None else tuple(d["dims"]),
            uncertainty=bool(d["uncertainty"]),
        )


@dataclass(frozen=True)
class TableSpec:
    """A table: named columns sharing one unlimited ``row`` dimension (one row per append).

    ``signal``/``axis`` optionally name a scalar numeric column and its abscissa; the table group then
    becomes a NeXus ``NXdata`` group that NeXus tools plot by default (§1.1). ``labels`` gives string
    coordinate values for trailing dimensions (for example ``{"mode_out": ("d", "c")}``).
    """

    columns: Mapping[str, Column]
    long_name: str = ""
    signal: str | None = None
    axis: str | None = None
    labels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def row_keys(self) -> list[str]:
        """The keys a row dict must have: every column, plus ``<column>_u`` for columns with uncertainty."""
        keys: list[str] = []
        for name, col in self.columns.items():
            keys.append(name)
            if col.uncertainty:
                keys.append(f"{name}_u")
        return keys

    def to_json(self) -> dict[str, Any]:
        """The table declaration as a JSON-able dict."""
        return {
            "long_name": self.long_name,
            "signal": self.signal,
            "axis": self.axis,
            "labels": {k: list(v) for k, v in self.labels.items()},
            "columns": {k: c.to_json() for k, c in self.columns.items()},
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "TableSpec":
        """Inverse of :meth:`to_json`."""
        return cls(
            columns={k: Column.from_json(c) for k, c in d["columns"].items()},
            long_name=d.get("long_name", ""),
            signal=d.get("signal"),
            axis=d.get("axis"),
            labels={k: tuple(v) for k, v in d.get("labels", {}).items()},
        )


@dataclass(frozen=True)
class WaveformSpec:
    """Raw scope records: every record holds all ``channels`` with ``n_samples`` integer codes each.

    ``dtype`` is the scope's transfer format (``int8``/``uint8`` for BYTE, ``int16``/``uint16`` for WORD;
    reference/scpi.md §5). ``compress=True`` stores the codes with shuffle + gzip level 1 (43 % of raw
    size at ~67 MB/s, readable everywhere); the default is uncompressed, the reference's recommendation
    for speed (§0.4, §3).
    """

    channels: tuple[str, ...]
    n_samples: int
    dtype: str = "int16"
    compress: bool = False

    def to_json(self) -> dict[str, Any]:
        """The declaration as a JSON-able dict."""
        return {"channels": list(self.channels), "n_samples": self.n_samples, "dtype": self.dtype, "compress": self.compress}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "WaveformSpec":
        """Inverse of :meth:`to_json`."""
        return cls(tuple(d["channels"]), int(d["n_samples"]), d["dtype"], bool(d["compress"]))


@dataclass(frozen=True)
class StoredVar:
    """How one row key maps to HDF5 datasets: ``(dataset name, part)`` with part ``value``, ``re`` or ``im``."""

    key: str
    column: str
    dtype: str
    shape: tuple[int, ...]
    dims: tuple[str, ...]
    datasets: tuple[tuple[str, str], ...]
    is_uncertainty: bool


def stored_vars(spec: TableSpec) -> list[StoredVar]:
    """Every row key of ``spec`` with the dataset(s) it is stored in (complex -> ``_re``/``_im``, §1.3)."""
    out: list[StoredVar] = []
    for name, col in spec.columns.items():
        dims = col.dim_names(name)
        for key, is_u in ((name, False), (f"{name}_u", True)):
            if is_u and not col.uncertainty:
                continue
            ds: tuple[tuple[str, str], ...]
            if col.dtype == "complex128":
                sfx = "_u" if is_u else ""
                ds = ((f"{name}_re{sfx}", "re"), (f"{name}_im{sfx}", "im"))
            else:
                ds = ((key, "value"),)
            out.append(StoredVar(key, name, col.dtype, tuple(col.shape), dims, ds, is_u))
    return out


def _check_name(kind: str, name: Any) -> None:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ArchiveError(f"{kind} name {name!r} must start with a letter and contain only letters, digits and '_'")


def validate_table_spec(table: str, spec: TableSpec) -> None:
    """Raise :class:`ArchiveError` (one line) unless ``spec`` is a storable declaration of table ``table``."""
    _check_name("table", table)
    if table in RESERVED_GROUPS:
        raise ArchiveError(f"table name {table!r} is reserved (reserved: {', '.join(sorted(RESERVED_GROUPS))})")
    if not isinstance(spec, TableSpec):
        raise ArchiveError(f"table {table!r}: expected a TableSpec, got {type(spec).__name__}")
    if not spec.columns:
        raise ArchiveError(f"table {table!r}: no columns")
    dim_sizes: dict[str, int] = {}
    for name, col in spec.columns.items():
        where = f"table {table!r} column {name!r}"
        _check_name("column", name)
        if not isinstance(col, Column):
            raise ArchiveError(f"{where}: expected a Column, got {type(col).__name__}")
        if col.dtype not in COLUMN_DTYPES:
            raise ArchiveError(f"{where}: dtype {col.dtype!r} is not one of {', '.join(COLUMN_DTYPES)}")
        if not isinstance(col.units, str) or not isinstance(col.long_name, str) or not col.long_name:
            raise ArchiveError(f"{where}: units must be a string and long_name a non-empty string")
        if col.dtype in ("float64", "int64", "complex128") and not col.units:
            raise ArchiveError(f"{where}: numeric columns need units (use '1' for dimensionless)")
        if not all(isinstance(n, int) and n >= 1 for n in col.shape):
            raise ArchiveError(f"{where}: shape {col.shape!r} must be a tuple of positive integers")
        if col.dims is not None and len(col.dims) != len(col.shape):
            raise ArchiveError(f"{where}: dims {col.dims!r} do not match shape {col.shape!r}")
        if col.uncertainty and col.dtype not in ("float64", "complex128"):
            raise ArchiveError(f"{where}: only float64 and complex128 columns can carry an uncertainty")
        for dim, size in zip(col.dim_names(name), col.shape):
            _check_name("dimension", dim)
            if dim == "row":
                raise ArchiveError(f"{where}: 'row' is the table's own dimension")
            if dim_sizes.setdefault(dim, size) != size:
                raise ArchiveError(f"table {table!r}: dimension {dim!r} has size {dim_sizes[dim]} and {size}")
    h5names: set[str] = set()
    for sv in stored_vars(spec):
        for h5name, _ in sv.datasets:
            if h5name in h5names or h5name in dim_sizes or h5name == "row":
                raise ArchiveError(f"table {table!r}: column {sv.column!r} would be stored as {h5name!r}, which is taken")
            h5names.add(h5name)
    for dim, labels in spec.labels.items():
        if dim not in dim_sizes:
            raise ArchiveError(f"table {table!r}: labels for {dim!r}, which no column uses")
        if len(labels) != dim_sizes[dim] or not all(isinstance(s, str) for s in labels):
            raise ArchiveError(f"table {table!r}: labels for {dim!r} must be {dim_sizes[dim]} strings")
    for role, col_name in (("signal", spec.signal), ("axis", spec.axis)):
        if col_name is None:
            continue
        target = spec.columns.get(col_name)
        if target is None or target.shape != () or target.dtype not in ("float64", "int64"):
            raise ArchiveError(f"table {table!r}: {role} {col_name!r} must name a scalar float64 or int64 column")
    if spec.axis is not None and spec.signal is None:
        raise ArchiveError(f"table {table!r}: an axis needs a signal")


def validate_waveform_spec(spec: WaveformSpec) -> None:
    """Raise :class:`ArchiveError` unless ``spec`` is a storable record declaration."""
    if not isinstance(spec, WaveformSpec):
        raise ArchiveError(f"waveform_spec: expected a WaveformSpec, got {type(spec).__name__}")
    ch = spec.channels
    if not ch or not all(isinstance(c, str) and c for c in ch) or len(set(ch)) != len(ch):
        raise ArchiveError(f"waveform_spec: channels {ch!r} must be distinct non-empty strings")
    if not isinstance(spec.n_samples, int) or spec.n_samples < 1:
        raise ArchiveError(f"waveform_spec: n_samples {spec.n_samples!r} must be a positive integer")
    if spec.dtype not in CODE_DTYPES:
        raise ArchiveError(f"waveform_spec: dtype {spec.dtype!r} is not one of {', '.join(CODE_DTYPES)}")


# --------------------------------------------------------------------------------------------------
# Value conversion (row values -> stored arrays). Everything is converted before anything is written, so
# a bad row raises and leaves the file untouched.


def _coerce(kind: str, value: Any, shape: tuple[int, ...], where: str) -> np.ndarray:
    """``value`` as an array of exactly ``shape`` in the storage type of ``kind`` (complex stays complex)."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as e:  # ragged nested sequences
        raise ArchiveError(f"{where}: cannot make an array of {value!r}: {e}") from None
    if arr.shape != shape:
        raise ArchiveError(f"{where}: expected shape {shape}, got {arr.shape}")
    k = arr.dtype.kind
    if kind == "float64":
        if k not in "biuf":
            raise ArchiveError(f"{where}: expected a real number, got {arr.dtype} {value!r}")
        return arr.astype(np.float64)
    if kind == "complex128":
        if k not in "biufc":
            raise ArchiveError(f"{where}: expected a number, got {arr.dtype} {value!r}")
        return arr.astype(np.complex128)
    if kind == "int64":
        if k not in "iu" or (k == "u" and arr.size and int(arr.max()) > np.iinfo(np.int64).max):
            raise ArchiveError(f"{where}: expected an integer (int64), got {arr.dtype} {value!r}")
        return arr.astype(np.int64)
    if kind == "bool":
        if k != "b":
            raise ArchiveError(f"{where}: expected a bool, got {arr.dtype} {value!r}")
        return arr.astype(np.int8)  # netCDF has no boolean; int8 with flag_values (CF)
    if kind == "str":
        if k == "U" or (k == "O" and all(isinstance(s, str) for s in arr.flat)):
            return np.array(arr.tolist() if arr.shape else arr.item(), dtype=_VLEN_STR).reshape(shape)
        raise ArchiveError(f"{where}: expected text (str), got {arr.dtype} {value!r}")
    raise ArchiveError(f"{where}: unknown dtype {kind!r}")  # excluded by validate_table_spec


def _storage_dtype(kind: str) -> Any:
    return {"float64": np.float64, "complex128": np.float64, "int64": np.int64, "bool": np.int8, "str": _VLEN_STR}[kind]


def _split(sv: StoredVar, arr: np.ndarray) -> dict[str, np.ndarray]:
    """Stored arrays for one converted value: ``{dataset name: array}``."""
    if sv.dtype == "complex128":
        (re_name, _), (im_name, _) = sv.datasets
        return {re_name: np.ascontiguousarray(arr.real), im_name: np.ascontiguousarray(arr.imag)}
    return {sv.datasets[0][0]: np.ascontiguousarray(arr)}


# --------------------------------------------------------------------------------------------------
# HDF5 plumbing


def utc_now() -> str:
    """The current UTC time as ISO 8601 with microseconds and a ``Z`` suffix."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


@functools.lru_cache(maxsize=1)
def software_version() -> str:
    """diffbench's installed version (importlib.metadata), or ``"unknown"`` in an uninstalled tree.

    Cached: the lookup scans every installed distribution (~20-30 ms here), once per process is enough.
    """
    try:
        from importlib.metadata import version

        return version("diffbench")
    except Exception:
        return "unknown"


def final_path_of(path: str | os.PathLike[str]) -> Path:
    """The final archive path for ``path``: ``x.h5.partial`` -> ``x.h5``; ``x.h5`` -> ``x.h5``."""
    p = Path(path)
    return p.with_name(p.name[: -len(PARTIAL_SUFFIX)]) if p.name.endswith(PARTIAL_SUFFIX) else p


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        _fsync_path(path.parent if str(path.parent) else Path("."))
    except OSError:  # some filesystems refuse fsync on directories; the rename is still atomic
        pass


class _RowBuffer:
    """Rows for one chunked dataset of a fixed-size type, written as whole chunks at commit time.

    Rows collect in a one-chunk buffer; :meth:`write_out` sets the extent and writes every touched chunk
    with HDF5's direct chunk write (``H5Dwrite_chunk``), which skips the selection, conversion and
    chunk-cache machinery. Measured on this project's VM: ~12 us per dataset and commit against ~30 us
    for an ``H5Dwrite`` of one row (and ~270 us for h5py's ``resize`` + ``ds[i] = x``), plus the chunk
    cache's write-back at every flush. A point writes about a dozen small variables, so this is most of
    the archive's overhead against a plain write of the codes (§2.3 "the time goes into the
    resize-and-write calls"). The tables have no filters, so a chunk's bytes are the rows themselves.
    """

    __slots__ = ("ds", "row_shape", "chunk_rows", "n", "n_written", "_buf", "_buf_start", "_full", "_zeros")

    def __init__(self, ds: h5py.Dataset, n: int = 0) -> None:
        self.ds = ds
        self.row_shape = tuple(ds.shape[1:])
        self.chunk_rows = ds.chunks[0]
        self.n = n
        self.n_written = n
        self._buf = np.zeros((self.chunk_rows,) + self.row_shape, dtype=ds.dtype)
        self._buf_start = n - n % self.chunk_rows
        if n > self._buf_start:  # reopened mid-chunk: the next write rewrites that chunk whole
            self._buf[: n - self._buf_start] = ds[self._buf_start : n]
        self._full: list[tuple[int, bytes]] = []
        self._zeros = (0,) * len(self.row_shape)

    def append(self, rows: np.ndarray) -> None:
        """Queue ``rows`` (shape ``(k, *row_shape)``); they reach the file in :meth:`write_out`."""
        k = rows.shape[0]
        i = 0
        while i < k:
            pos = self.n - self._buf_start
            take = min(k - i, self.chunk_rows - pos)
            self._buf[pos : pos + take] = rows[i : i + take]
            self.n += take
            i += take
            if self.n - self._buf_start == self.chunk_rows:
                self._full.append((self._buf_start, self._buf.tobytes()))
                self._buf_start += self.chunk_rows
                self._buf[...] = 0

    def write_out(self) -> None:
        """Grow the dataset to the queued rows and write the chunks that hold them."""
        if self.n == self.n_written:
            return
        dsid = self.ds.id
        dsid.set_extent((self.n,) + self.row_shape)
        for start, data in self._full:
            dsid.write_direct_chunk((start,) + self._zeros, data)
        self._full.clear()
        if self.n > self._buf_start:
            dsid.write_direct_chunk((self._buf_start,) + self._zeros, self._buf)
        self.n_written = self.n


class _StrRows:
    """Rows of a variable-length string dataset, queued and written with one ``H5Dwrite`` at commit.

    Variable-length data live in HDF5's global heap, so they cannot be written as raw chunks.
    """

    __slots__ = ("ds", "row_shape", "n", "n_written", "_pending")

    def __init__(self, ds: h5py.Dataset, n: int = 0) -> None:
        self.ds = ds
        self.row_shape = tuple(ds.shape[1:])
        self.n = n
        self.n_written = n
        self._pending: list[np.ndarray] = []

    def append(self, rows: np.ndarray) -> None:
        """Queue ``rows`` (shape ``(k, *row_shape)``, str objects)."""
        self._pending.append(rows)
        self.n += rows.shape[0]

    def write_out(self) -> None:
        """Grow the dataset and write the queued rows."""
        if self.n == self.n_written:
            return
        rows = np.empty((self.n - self.n_written,) + self.row_shape, dtype=_VLEN_STR)
        pos = 0
        for block in self._pending:
            rows[pos : pos + block.shape[0]] = block
            pos += block.shape[0]
        dsid = self.ds.id
        dsid.set_extent((self.n,) + self.row_shape)
        fspace = dsid.get_space()
        fspace.select_hyperslab((self.n_written,) + (0,) * len(self.row_shape), rows.shape)
        dsid.write(h5py.h5s.create_simple(rows.shape), fspace, rows)
        self._pending.clear()
        self.n_written = self.n


def _row_writer(ds: h5py.Dataset, n: int) -> _RowBuffer | _StrRows:
    return _StrRows(ds, n) if h5py.check_string_dtype(ds.dtype) is not None else _RowBuffer(ds, n)


class _CodeWriter:
    """Writes each record's codes at once (they are large): one chunk per channel per record (§0.4, §3).

    Uncompressed codes go out as direct chunk writes (a channel's samples are exactly one chunk);
    compressed ones through HDF5's filter pipeline (shuffle + deflate).
    """

    __slots__ = ("ds", "n", "_direct", "_C", "_N")

    def __init__(self, ds: h5py.Dataset, n: int = 0) -> None:
        self.ds = ds
        self.n = n
        self._direct = ds.compression is None and not ds.shuffle
        _, self._C, self._N = ds.shape

    def append(self, codes: np.ndarray) -> None:
        """Write one record, ``codes`` of shape ``(channels, samples)`` in the dataset's dtype."""
        n = self.n
        dsid = self.ds.id
        dsid.set_extent((n + 1, self._C, self._N))
        if self._direct:
            for c in range(self._C):
                dsid.write_direct_chunk((n, c, 0), codes[c])
        else:
            fspace = dsid.get_space()
            fspace.select_hyperslab((n, 0, 0), (1, self._C, self._N))
            dsid.write(h5py.h5s.create_simple((1, self._C, self._N)), fspace, codes.reshape(1, self._C, self._N))
        self.n = n + 1


class _DimMaker:
    """Creates netCDF-4 dimensions (HDF5 dimension scales) and attaches them (§1.1)."""

    def __init__(self, first_id: int = 0) -> None:
        self.next_id = first_id

    def _ids(self, ds: h5py.Dataset, coordinate: bool) -> None:
        ds.attrs["_Netcdf4Dimid"] = np.int32(self.next_id)
        if coordinate:
            ds.attrs["_Netcdf4Coordinates"] = np.array([self.next_id], dtype=np.int32)
        self.next_id += 1

    def pure(self, group: h5py.Group, name: str, size: int, unlimited: bool = False) -> h5py.Dataset:
        """A dimension without coordinate values (netCDF-C's "not a variable" scale)."""
        if unlimited:
            ds = group.create_dataset(name, shape=(0,), maxshape=(None,), chunks=(1024,), dtype="f4")
        else:
            ds = group.create_dataset(name, shape=(size,), dtype="f4")
        ds.make_scale(f"{NOT_A_VARIABLE}{0 if unlimited else size:10d}")
        self._ids(ds, coordinate=False)
        return ds

    def coordinate(self, group: h5py.Group, name: str, labels: Sequence[str], long_name: str) -> h5py.Dataset:
        """A dimension whose coordinate variable holds string labels."""
        ds = group.create_dataset(name, data=np.array(list(labels), dtype=_VLEN_STR))
        ds.attrs["long_name"] = long_name
        ds.make_scale(name)
        self._ids(ds, coordinate=True)
        return ds

    @staticmethod
    def attach(ds: h5py.Dataset, scales: Sequence[h5py.Dataset]) -> None:
        """Attach ``scales`` to the axes of ``ds`` in order."""
        for axis, scale in enumerate(scales):
            ds.dims[axis].attach_scale(scale)


def _set_var_attrs(ds: h5py.Dataset, units: str, long_name: str, **extra: Any) -> None:
    if units:
        ds.attrs["units"] = units
    ds.attrs["long_name"] = long_name
    for k, v in extra.items():
        ds.attrs[k] = v


def _json_text(what: str, value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=False)
    except (TypeError, ValueError) as e:
        raise ArchiveError(f"{what} is not JSON-serialisable: {e}") from None


# --------------------------------------------------------------------------------------------------
# Whole-run results (buffered, written in finish())


_ATTR_SCALARS = (str, bool, int, float, np.integer, np.floating, np.bool_)


@dataclass
class _PendingResult:
    arrays: dict[str, np.ndarray]
    kinds: dict[str, str]
    dims: dict[str, tuple[str, ...]]
    units: dict[str, str]
    long_names: dict[str, str]
    attrs: dict[str, Any]


def _result_kind(name: str, what: str, arr: np.ndarray) -> str:
    k = arr.dtype.kind
    if k == "b":
        return "bool"
    if k in "iu":
        return "int64"
    if k == "f":
        return "float64"
    if k == "c":
        return "complex128"
    if k == "U" or (k == "O" and all(isinstance(s, str) for s in arr.flat)):
        return "str"
    raise ArchiveError(f"result {name!r} array {what!r}: unsupported dtype {arr.dtype}")


def _check_attr(where: str, key: str, value: Any) -> Any:
    _check_name("attribute", key)
    if isinstance(value, _ATTR_SCALARS):
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, (list, tuple, np.ndarray)):
        items = list(np.asarray(value).tolist()) if isinstance(value, np.ndarray) else list(value)
        if items and all(isinstance(x, str) for x in items):
            return items
        if all(isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_)) for x in items):
            return items
    raise ArchiveError(f"{where}: attribute {key!r} must be str, int, float, bool or a flat list of numbers or of strings")


# --------------------------------------------------------------------------------------------------
# The writer


@dataclass
class _Table:
    name: str
    spec: TableSpec
    vars: list[StoredVar]
    writers: dict[str, _RowBuffer | _StrRows]

    @property
    def n(self) -> int:
        return next(iter(self.writers.values())).n


@dataclass
class _Records:
    spec: WaveformSpec
    code: _CodeWriter
    point: _RowBuffer
    y_increment: _RowBuffer
    y_origin: _RowBuffer
    y_reference: _RowBuffer
    x_increment: _RowBuffer
    x_origin: _RowBuffer
    n_valid: _RowBuffer

    def small(self) -> tuple[_RowBuffer, ...]:
        return (self.point, self.y_increment, self.y_origin, self.y_reference, self.x_increment, self.x_origin,
                self.n_valid)

    @property
    def n(self) -> int:
        return self.code.n


@dataclass(frozen=True)
class Committed:
    """What :meth:`RunArchive.resume` carried over from the interrupted archive.

    ``tables[name]`` is a dict of numpy arrays (as :func:`procedures.archive_reader.open_run` returns them)
    holding exactly the committed rows; ``record_points`` is the point index of every committed record;
    ``source`` is where the interrupted file now lives (it is never modified).
    """

    tables: dict[str, dict[str, np.ndarray]]
    record_points: np.ndarray
    source: str

    def n_rows(self, table: str) -> int:
        """Committed rows of ``table``."""
        cols = self.tables[table]
        return len(next(iter(cols.values())))


class RunArchive:
    """Writer of one run archive. Make one with :meth:`create` or :meth:`resume`, never directly."""

    def __init__(
        self,
        file: h5py.File,
        *,
        final_path: Path,
        tables: dict[str, _Table],
        records: _Records | None,
        counter: h5py.Dataset,
        committed: np.ndarray,
        fsync: bool,
        run_id: str,
    ) -> None:
        self._file = file
        self._final = final_path
        self._tables = tables
        self._records = records
        self._counter = counter
        self._committed = committed
        self._fsync = fsync
        self._run_id = run_id
        self._finished = False
        self._results: dict[str, _PendingResult] = {}

    # ---- construction --------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        *,
        metadata: Mapping[str, Any],
        configs: Mapping[str, str],
        instruments: Mapping[str, Mapping[str, Any]],
        tables: Mapping[str, TableSpec],
        waveform_spec: WaveformSpec | None = None,
        run_id: str | None = None,
        fsync: bool = False,
        overwrite: bool = False,
    ) -> "RunArchive":
        """Create ``<path>.partial`` holding the whole schema, status ``running``, and return its writer.

        ``path`` is the final name (``run.h5``); the file only takes it in :meth:`finish`. ``metadata`` is
        any JSON-able dict (operator, board, procedure name, ...); ``configs`` maps a name (``bench``,
        ``board``, ``procedure``) to the TOML text as given; ``instruments`` maps a name to
        ``{"idn": *IDN? reply, "resource": VISA resource, "driver": module or class, "settings": JSON-able
        dict}``. ``fsync=True`` fsyncs after every commit (survives power loss, not only a killed
        process; §2.1 "flush is not fsync"). Refuses to overwrite an existing archive or ``.partial``
        unless ``overwrite`` is true. Raises :class:`ArchiveError` on any bad declaration, before any file
        is made.
        """
        final = Path(path)
        if final.name.endswith(PARTIAL_SUFFIX):
            raise ArchiveError(f"{final}: give the final name; the writer adds {PARTIAL_SUFFIX!r} itself")
        partial = final.with_name(final.name + PARTIAL_SUFFIX)
        if not overwrite:
            for p in (final, partial):
                if p.exists():
                    raise ArchiveError(f"{p}: already exists; choose another name or resume it")
        creating = partial.with_name(partial.name + CREATING_SUFFIX)
        cls._build(
            creating,
            metadata=metadata,
            configs=configs,
            instruments=instruments,
            tables=tables,
            waveform_spec=waveform_spec,
            run_id=run_id or uuid.uuid4().hex,
            start_time=utc_now(),
            resumed=[],
        )
        # Only a closed, complete schema takes the .partial name (renaming a closed file also works on
        # Windows); the writer then reopens it directly in SWMR-write mode.
        os.replace(creating, partial)
        if fsync:
            # Only the power-loss mode needs the new name on disk now; on ext4 a directory fsync waits
            # for a journal commit (tens of ms while other files are being written), and a killed
            # process does not need it (§2.1 "flush is not fsync").
            _fsync_dir(partial)
        return cls._open_for_append(partial, final=final, fsync=fsync)

    @staticmethod
    def _build(
        path: Path,
        *,
        metadata: Mapping[str, Any],
        configs: Mapping[str, str],
        instruments: Mapping[str, Mapping[str, Any]],
        tables: Mapping[str, TableSpec],
        waveform_spec: WaveformSpec | None,
        run_id: str,
        start_time: str,
        resumed: list[dict[str, Any]],
    ) -> None:
        """Validate the declarations, then write the whole schema (no data) to ``path`` and close it."""
        # Validate everything before touching the disk.
        if not isinstance(metadata, Mapping) or not all(isinstance(k, str) for k in metadata):
            raise ArchiveError("metadata must be a dict with string keys")
        metadata_json = _json_text("metadata", dict(metadata))
        if not isinstance(configs, Mapping):
            raise ArchiveError("configs must be a dict of name -> TOML text")
        for name, text in configs.items():
            _check_name("config", name)
            if name == "NX_class":
                raise ArchiveError("config name 'NX_class' is reserved")
            if not isinstance(text, str):
                raise ArchiveError(f"config {name!r} must be text (str), got {type(text).__name__}")
        if not isinstance(instruments, Mapping):
            raise ArchiveError("instruments must be a dict of name -> {idn, resource, driver, settings}")
        inst_attrs: dict[str, dict[str, str]] = {}
        for name, info in instruments.items():
            _check_name("instrument", name)
            if not isinstance(info, Mapping):
                raise ArchiveError(f"instrument {name!r}: expected a dict, got {type(info).__name__}")
            unknown = set(info) - {"idn", "resource", "driver", "settings"}
            missing = {"idn", "resource", "driver"} - set(info)
            if unknown or missing:
                raise ArchiveError(
                    f"instrument {name!r}: keys are idn, resource, driver, settings"
                    + (f"; missing {sorted(missing)}" if missing else "")
                    + (f"; unknown {sorted(unknown)}" if unknown else "")
                )
            for k in ("idn", "resource", "driver"):
                if not isinstance(info[k], str):
                    raise ArchiveError(f"instrument {name!r}: {k} must be a string")
            settings = info.get("settings", {})
            if not isinstance(settings, Mapping):
                raise ArchiveError(f"instrument {name!r}: settings must be a dict")
            inst_attrs[name] = {
                "idn": info["idn"],
                "resource": info["resource"],
                "driver": info["driver"],
                "settings_json": _json_text(f"instrument {name!r} settings", dict(settings)),
            }
        if not isinstance(tables, Mapping):
            raise ArchiveError("tables must be a dict of name -> TableSpec")
        for tname, spec in tables.items():
            validate_table_spec(tname, spec)
        if waveform_spec is not None:
            validate_waveform_spec(waveform_spec)
        if not tables and waveform_spec is None:
            raise ArchiveError("an archive needs at least one table or a waveform_spec")

        version = software_version()
        f = h5py.File(path, "w", libver=LIBVER, track_order=True)
        try:
            f.attrs["NX_class"] = "NXroot"
            f.attrs["default"] = "entry"
            f.attrs["Conventions"] = "CF-1.10"
            f.attrs["file_format"] = FILE_FORMAT
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["creator"] = f"diffbench {version}"
            f.attrs["status"] = STATUS_RUNNING
            f.attrs["reason"] = ""
            entry = f.create_group("entry", track_order=True)
            entry.attrs["NX_class"] = "NXentry"
            default = next((t for t, s in tables.items() if s.signal is not None), None)
            if default is not None:
                entry.attrs["default"] = default
            entry.attrs["run_id"] = run_id
            entry.attrs["start_time"] = start_time
            entry.attrs["end_time"] = ""
            entry.attrs["software_version"] = version
            entry.attrs["metadata_json"] = metadata_json
            entry.attrs["resumed_json"] = _json_text("resume history", resumed)

            cfg = entry.create_group("configs", track_order=True)
            cfg.attrs["NX_class"] = "NXcollection"
            for name, text in configs.items():
                cfg.attrs[name] = text
            inst = entry.create_group("instrument", track_order=True)
            inst.attrs["NX_class"] = "NXinstrument"
            for name, attrs in inst_attrs.items():
                g = inst.create_group(name, track_order=True)
                g.attrs["NX_class"] = "NXcollection"
                for k, v in attrs.items():
                    g.attrs[k] = v

            dims = _DimMaker()
            for tname, spec in tables.items():
                RunArchive._build_table(entry, tname, spec, dims)
            if waveform_spec is not None:
                RunArchive._build_records(entry, waveform_spec, dims)
            res = entry.create_group(RESULTS_GROUP, track_order=True)
            res.attrs["NX_class"] = "NXcollection"

            parts = list(tables) + ([WAVEFORMS_GROUP] if waveform_spec is not None else [])
            part = dims.coordinate(entry, "part", parts, "table (or 'waveforms') that each n_committed entry counts")
            # One chunk holding every counter: commit() rewrites it with one direct chunk write (one
            # pwrite), so the counts of one commit reach the file together or not at all.
            counter = entry.create_dataset(
                "n_committed", data=np.zeros(len(parts), dtype=np.int64), chunks=(len(parts),), maxshape=(len(parts),)
            )
            _set_var_attrs(counter, "1", "rows (records) committed: readers trust these counts, not the extents")
            dims.attach(counter, [part])
        except BaseException:
            f.close()
            path.unlink(missing_ok=True)
            raise
        f.close()

    @staticmethod
    def _build_table(entry: h5py.Group, name: str, spec: TableSpec, dims: _DimMaker) -> None:
        g = entry.create_group(name, track_order=True)
        g.attrs["NX_class"] = "NXdata" if spec.signal is not None else "NXcollection"
        if spec.signal is not None:
            g.attrs["signal"] = spec.signal
            g.attrs["axes"] = [spec.axis] if spec.axis is not None else ["."]
            if spec.axis is not None:
                g.attrs[f"{spec.axis}_indices"] = np.int32(0)
        if spec.long_name:
            g.attrs["long_name"] = spec.long_name
        g.attrs["diffbench_role"] = "table"
        g.attrs["diffbench_spec"] = _json_text(f"table {name!r}", spec.to_json())
        row = dims.pure(g, "row", 0, unlimited=True)
        scales: dict[str, h5py.Dataset] = {}
        for cname, col in spec.columns.items():
            for dim, size in zip(col.dim_names(cname), col.shape):
                if dim not in scales:
                    labels = spec.labels.get(dim)
                    scales[dim] = (
                        dims.coordinate(g, dim, labels, f"labels of {dim}") if labels is not None else dims.pure(g, dim, size)
                    )
        for sv in stored_vars(spec):
            col = spec.columns[sv.column]
            dtype = _storage_dtype(sv.dtype)
            row_bytes = (16 if sv.dtype == "str" else np.dtype(dtype).itemsize) * int(np.prod(sv.shape, dtype=np.int64))
            chunk_rows = max(1, _ROW_CHUNK_BYTES // row_bytes)
            for h5name, part in sv.datasets:
                ds = g.create_dataset(
                    h5name,
                    shape=(0,) + sv.shape,
                    maxshape=(None,) + sv.shape,
                    chunks=(chunk_rows,) + sv.shape,
                    dtype=dtype,
                )
                long_name = col.long_name
                if part != "value":
                    long_name = f"{'real' if part == 're' else 'imaginary'} part of {long_name}"
                if sv.is_uncertainty:
                    long_name = f"standard uncertainty (k=1) of {long_name}"
                _set_var_attrs(ds, col.units, long_name)
                if sv.dtype == "bool":
                    ds.attrs["flag_values"] = np.array([0, 1], dtype=np.int8)
                    ds.attrs["flag_meanings"] = "false true"
                dims.attach(ds, [row] + [scales[d] for d in sv.dims])
            if not sv.is_uncertainty and col.uncertainty:
                for (h5name, _), (uname, _) in zip(sv.datasets, stored_vars_u(spec, sv.column)):
                    g[h5name].attrs["ancillary_variables"] = uname

    @staticmethod
    def _build_records(entry: h5py.Group, spec: WaveformSpec, dims: _DimMaker) -> None:
        g = entry.create_group(WAVEFORMS_GROUP, track_order=True)
        g.attrs["NX_class"] = "NXcollection"
        g.attrs["diffbench_role"] = "waveforms"
        g.attrs["diffbench_spec"] = _json_text("waveform_spec", spec.to_json())
        g.attrs["volts"] = "(code - y_reference) * y_increment + y_origin"
        g.attrs["time"] = "x_origin + x_increment * sample_index"
        record = dims.pure(g, "record", 0, unlimited=True)
        channel = dims.coordinate(g, "channel", spec.channels, "scope channel (board pin) of each code row")
        sample = dims.pure(g, "sample", spec.n_samples)
        C, N = len(spec.channels), spec.n_samples
        filters: dict[str, Any] = {"shuffle": True, "compression": "gzip", "compression_opts": 1} if spec.compress else {}
        code = g.create_dataset(
            "code", shape=(0, C, N), maxshape=(None, C, N), chunks=(1, 1, N), dtype=spec.dtype, **filters
        )
        _set_var_attrs(code, "1", "raw ADC codes as transferred from the scope")
        dims.attach(code, [record, channel, sample])

        def per_record(name: str, units: str, long_name: str, per_channel: bool, dtype: Any = np.float64) -> None:
            shape = (C,) if per_channel else ()
            rows = max(1, _ROW_CHUNK_BYTES // (8 * (C if per_channel else 1)))
            ds = g.create_dataset(name, shape=(0,) + shape, maxshape=(None,) + shape, chunks=(rows,) + shape, dtype=dtype)
            _set_var_attrs(ds, units, long_name)
            dims.attach(ds, [record, channel] if per_channel else [record])

        per_record("point", "1", "index of the measurement point this record belongs to", False, np.int64)
        per_record("y_increment", "V", "volts per code step", True)
        per_record("y_origin", "V", "volts at code y_reference", True)
        per_record("y_reference", "1", "code at which the voltage is y_origin", True)
        per_record("x_increment", "s", "sample interval", False)
        per_record("x_origin", "s", "time of sample 0 relative to the trigger", False)
        per_record("n_valid", "1", "samples of this record that were acquired (the rest of `code` is padding)",
                   False, np.int64)

    @classmethod
    def _open_for_append(cls, path: Path, *, final: Path, fsync: bool) -> "RunArchive":
        """Open an archive file built by :meth:`_build` (and closed cleanly) for appending, in SWMR mode.

        The file is opened with ``H5F_ACC_SWMR_WRITE``, so from its first byte written it is marked as a
        SWMR file that a reader can open after a crash (§2.1); there is no moment in which it is open
        for writing without SWMR. Appending continues after the committed rows.
        """
        fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
        fapl.set_libver_bounds(h5py.h5f.LIBVER_V110, h5py.h5f.LIBVER_V110)
        fid = h5py.h5f.open(os.fsencode(path), h5py.h5f.ACC_RDWR | h5py.h5f.ACC_SWMR_WRITE, fapl=fapl)
        f = h5py.File(fid)
        try:
            entry = f["entry"]
            parts = [str(x) for x in entry["part"].asstr()[()]]
            counter = entry["n_committed"]
            committed = np.asarray(counter[()], dtype=np.int64)
            n_of = dict(zip(parts, committed.tolist()))
            tables: dict[str, _Table] = {}
            records: _Records | None = None
            for name in parts:
                g = entry[name]
                spec_json = json.loads(g.attrs["diffbench_spec"])
                n = n_of[name]
                if name == WAVEFORMS_GROUP:
                    records = _Records(
                        spec=WaveformSpec.from_json(spec_json),
                        code=_CodeWriter(g["code"], n),
                        point=_RowBuffer(g["point"], n),
                        y_increment=_RowBuffer(g["y_increment"], n),
                        y_origin=_RowBuffer(g["y_origin"], n),
                        y_reference=_RowBuffer(g["y_reference"], n),
                        x_increment=_RowBuffer(g["x_increment"], n),
                        x_origin=_RowBuffer(g["x_origin"], n),
                        n_valid=_RowBuffer(g["n_valid"], n),
                    )
                else:
                    spec = TableSpec.from_json(spec_json)
                    vars_ = stored_vars(spec)
                    writers = {h5name: _row_writer(g[h5name], n) for sv in vars_ for h5name, _ in sv.datasets}
                    tables[name] = _Table(name, spec, vars_, writers)
            return cls(
                f,
                final_path=final,
                tables=tables,
                records=records,
                counter=counter,
                committed=committed,
                fsync=fsync,
                run_id=str(entry.attrs["run_id"]),
            )
        except BaseException:
            f.close()
            raise

    # ---- properties ----------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The final path the archive gets in :meth:`finish`."""
        return self._final

    @property
    def partial_path(self) -> Path:
        """Where the archive lives while it is written: ``<path>.partial``."""
        return self._final.with_name(self._final.name + PARTIAL_SUFFIX)

    @property
    def run_id(self) -> str:
        """The run's identifier (kept across resumes)."""
        return self._run_id

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

    # ---- appending -----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._finished:
            raise ArchiveError(f"{self._final}: the archive is finished; nothing more can be written")

    def _table(self, table: str) -> _Table:
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
        if not isinstance(row, Mapping):
            raise ArchiveError(f"table {table!r}: a row must be a dict, got {type(row).__name__}")
        keys = [sv.key for sv in t.vars]
        missing = [k for k in keys if k not in row]
        unknown = [k for k in row if k not in set(keys)]
        if missing or unknown:
            parts = []
            if missing:
                parts.append(f"missing column(s) {', '.join(map(repr, missing))}")
            if unknown:
                parts.append(f"unknown column(s) {', '.join(map(repr, unknown))}")
            raise ArchiveError(f"table {table!r}: {'; '.join(parts)}; nothing was written")
        stored: dict[str, np.ndarray] = {}
        for sv in t.vars:
            arr = _coerce(sv.dtype, row[sv.key], sv.shape, f"table {table!r} column {sv.key!r}")
            if sv.is_uncertainty and sv.dtype == "float64" and np.any(arr < 0):
                raise ArchiveError(f"table {table!r} column {sv.key!r}: an uncertainty cannot be negative")
            stored.update(_split(sv, arr))
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
        spec = r.spec
        C, N = len(spec.channels), spec.n_samples
        if isinstance(point, (bool, np.bool_)) or not isinstance(point, (int, np.integer)) or point < 0:
            raise ArchiveError(f"record: point must be a non-negative integer, got {point!r}")
        codes = np.asarray(codes)
        if codes.ndim != 2 or codes.shape[0] != C or not 1 <= codes.shape[1] <= N:
            raise ArchiveError(f"record: codes must have shape (channels, samples) = ({C}, 1..{N}), got {codes.shape}")
        n_valid = codes.shape[1]
        if n_valid < N:  # a shorter record (the scope's memory or sample rate allowed fewer points): pad
            padded = np.zeros((C, N), dtype=codes.dtype)
            padded[:, :n_valid] = codes
            codes = padded
        want = np.dtype(spec.dtype)
        if codes.dtype != want:
            info = np.iinfo(want)
            if codes.dtype.kind not in "iu" or (codes.size and (int(codes.min()) < info.min or int(codes.max()) > info.max)):
                raise ArchiveError(f"record: codes ({codes.dtype}) do not fit the archive's {want} codes")
            codes = codes.astype(want)
        scal = {}
        for name, value in (("y_increment", y_increment), ("y_origin", y_origin), ("y_reference", y_reference)):
            arr = np.asarray(value)
            if arr.dtype.kind not in "iuf":
                raise ArchiveError(f"record: {name} must be a real number per channel, got {value!r}")
            if arr.shape == ():
                arr = np.full(C, arr)
            if arr.shape != (C,):
                raise ArchiveError(f"record: {name} must be a scalar or have {C} values, got shape {arr.shape}")
            scal[name] = arr.astype(np.float64).reshape(1, C)
        xs = {}
        for name, value in (("x_increment", x_increment), ("x_origin", x_origin)):
            arr = np.asarray(value)
            if arr.shape != () or arr.dtype.kind not in "iuf":
                raise ArchiveError(f"record: {name} must be one real number, got {value!r}")
            xs[name] = arr.astype(np.float64).reshape(1)
        index = r.n
        r.code.append(np.ascontiguousarray(codes))
        r.point.append(np.array([point], dtype=np.int64))
        r.y_increment.append(scal["y_increment"])
        r.y_origin.append(scal["y_origin"])
        r.y_reference.append(scal["y_reference"])
        r.x_increment.append(xs["x_increment"])
        r.x_origin.append(xs["x_origin"])
        r.n_valid.append(np.array([n_valid], dtype=np.int64))
        return index

    def append_waveforms(self, point: int, waveforms: Sequence["Waveform"]) -> int:
        """Append one record from :class:`instruments.waveform.Waveform` objects, one per declared channel, in order.

        All waveforms must share ``x_increment_s`` and ``x_origin_s`` (they come from one acquisition).
        """
        self._check_open()
        if self._records is None:
            raise ArchiveError(f"{self.partial_path}: this archive was created without a waveform_spec")
        C = len(self._records.spec.channels)
        if len(waveforms) != C:
            raise ArchiveError(f"record: expected {C} waveforms ({', '.join(self._records.spec.channels)}), got {len(waveforms)}")
        x_inc = {w.x_increment_s for w in waveforms}
        x_org = {w.x_origin_s for w in waveforms}
        if len(x_inc) != 1 or len(x_org) != 1:
            raise ArchiveError(f"record: the waveforms have different time axes (x_increment {sorted(x_inc)}, x_origin {sorted(x_org)})")
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
        for t in self._tables.values():
            for w in t.writers.values():
                w.write_out()
        if self._records is not None:
            for w in self._records.small():
                w.write_out()
        counts = np.array([t.n for t in self._tables.values()] + ([self._records.n] if self._records else []), dtype=np.int64)
        self._file.flush()
        if not np.array_equal(counts, self._committed):
            # All counters in one chunk, one write: they reach the file together or not at all.
            self._counter.id.write_direct_chunk((0,), counts)
            self._file.flush()
            self._committed = counts
        if self._fsync if fsync is None else fsync:
            os.fsync(self._file.id.get_vfd_handle())

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
        _check_name("result", name)
        if name in self._results:
            raise ArchiveError(f"result {name!r} was already written")
        if not isinstance(arrays, Mapping) or not arrays:
            raise ArchiveError(f"result {name!r}: arrays must be a non-empty dict of name -> array")
        units = dict(units or {})
        long_names = dict(long_names or {})
        dims_in = {k: tuple(v) for k, v in (dims or {}).items()}
        for what, m in (("units", units), ("long_names", long_names), ("dims", dims_in)):
            extra = set(m) - set(arrays)
            if extra:
                raise ArchiveError(f"result {name!r}: {what} for unknown array(s) {sorted(extra)}")
        out = _PendingResult({}, {}, {}, {}, {}, {})
        sizes: dict[str, int] = {}
        names_taken: set[str] = set()
        for aname, value in arrays.items():
            _check_name("array", aname)
            try:
                arr = np.array(value)
            except (ValueError, TypeError) as e:
                raise ArchiveError(f"result {name!r} array {aname!r}: {e}") from None
            kind = _result_kind(name, aname, arr)
            adims = dims_in.get(aname, tuple(f"{aname}_dim{k}" for k in range(arr.ndim)))
            if len(adims) != arr.ndim:
                raise ArchiveError(f"result {name!r} array {aname!r}: dims {adims} do not match shape {arr.shape}")
            for d, n in zip(adims, arr.shape):
                _check_name("dimension", d)
                if sizes.setdefault(d, n) != n:
                    raise ArchiveError(f"result {name!r}: dimension {d!r} has size {sizes[d]} and {n}")
            for u in (units.get(aname, ""), long_names.get(aname, "")):
                if not isinstance(u, str):
                    raise ArchiveError(f"result {name!r} array {aname!r}: units and long_names must be strings")
            stored = [f"{aname}_re", f"{aname}_im"] if kind == "complex128" else [aname]
            if names_taken & set(stored):
                raise ArchiveError(f"result {name!r}: array {aname!r} collides with another array's stored name")
            names_taken.update(stored)
            out.arrays[aname] = _coerce(kind, arr, arr.shape, f"result {name!r} array {aname!r}")
            out.kinds[aname] = kind
            out.dims[aname] = adims
            out.units[aname] = units.get(aname, "")
            out.long_names[aname] = long_names.get(aname, aname)
        clash = names_taken & set(sizes)
        if clash:
            raise ArchiveError(f"result {name!r}: {sorted(clash)} used both as array and dimension name")
        for k, v in (attrs or {}).items():
            if k in ("NX_class", "program", "version", "diffbench_spec"):
                raise ArchiveError(f"result {name!r}: attribute {k!r} is reserved")
            out.attrs[k] = _check_attr(f"result {name!r}", k, v)
        self._results[name] = out

    def _write_results(self) -> None:
        if not self._results:
            return
        parent = self._file["entry"][RESULTS_GROUP]
        version = software_version()
        # netCDF dimension ids are unique in the file: continue after the schema's.
        dimids: list[int] = []
        self._file["entry"].visititems(
            lambda _, obj: dimids.append(int(obj.attrs.get("_Netcdf4Dimid", -1))) if isinstance(obj, h5py.Dataset) else None
        )
        dims = _DimMaker(max(dimids, default=-1) + 1)
        for name, r in self._results.items():
            g = parent.create_group(name, track_order=True)
            g.attrs["NX_class"] = "NXprocess"
            g.attrs["program"] = "diffbench"
            g.attrs["version"] = version
            spec = {
                "arrays": {a: {"dtype": r.kinds[a], "dims": list(r.dims[a])} for a in r.arrays},
                "bool_attrs": [k for k, v in r.attrs.items() if isinstance(v, bool)],
            }
            g.attrs["diffbench_spec"] = _json_text(f"result {name!r}", spec)
            for k, v in r.attrs.items():
                g.attrs[k] = np.int8(v) if isinstance(v, bool) else v
            scales: dict[str, h5py.Dataset] = {}
            for a, arr in r.arrays.items():
                for d, n in zip(r.dims[a], arr.shape):
                    if d not in scales:
                        scales[d] = dims.pure(g, d, n)
                kind = r.kinds[a]
                parts = [(f"{a}_re", arr.real, "real part of "), (f"{a}_im", arr.imag, "imaginary part of ")] if kind == "complex128" else [(a, arr, "")]
                for h5name, data, prefix in parts:
                    ds = g.create_dataset(h5name, data=np.ascontiguousarray(data), dtype=_storage_dtype(kind))
                    _set_var_attrs(ds, r.units[a], prefix + r.long_names[a])
                    if kind == "bool":
                        ds.attrs["flag_values"] = np.array([0, 1], dtype=np.int8)
                        ds.attrs["flag_meanings"] = "false true"
                    dims.attach(ds, [scales[d] for d in r.dims[a]])

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
        self._write_results()
        # Pure unlimited dimension scales were left at length 0 while appending (readers size unlimited
        # dimensions from the variables); give them their final length for strict netCDF readers.
        for t in self._tables.values():
            f["entry"][t.name]["row"].resize((t.n,))
        if self._records is not None:
            f["entry"][WAVEFORMS_GROUP]["record"].resize((self._records.n,))
        # modify() rewrites the existing attributes in place (they were created with the schema).
        f["entry"].attrs.modify("end_time", utc_now())
        f.attrs.modify("reason", " ".join(reason.split()))
        f.attrs.modify("status", status)
        f.flush()
        f.close()
        self._finished = True
        _fsync_path(self.partial_path)
        os.replace(self.partial_path, self._final)
        _fsync_dir(self._final)
        return self._final

    def _abandon(self) -> None:
        """Close without finishing; the file stays on disk as it is (status ``running``). Used by resume."""
        if not self._finished:
            self._finished = True
            self._file.close()

    def __enter__(self) -> "RunArchive":
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
    ) -> tuple["RunArchive", Committed]:
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
        from procedures.archive_reader import open_run  # the reader imports this module's format definitions

        src = Path(path)
        if out_path is not None and final_path_of(Path(out_path)).resolve() == final_path_of(src).resolve():
            out_path = None  # "continue under the run's own name" is the default
        final = final_path_of(src) if out_path is None else Path(out_path)
        if final.name.endswith(PARTIAL_SUFFIX):
            raise ArchiveError(f"{final}: out_path must be a final name, without {PARTIAL_SUFFIX!r}")
        partial = final.with_name(final.name + PARTIAL_SUFFIX)
        now = utc_now()
        stamp = now.replace("-", "").replace(":", "").split(".")[0] + "Z"
        moved = None
        if out_path is None:
            moved = final.with_name(f"{final.stem}.interrupted-{stamp}{final.suffix}")
            k = 1
            while moved.exists():
                moved = final.with_name(f"{final.stem}.interrupted-{stamp}-{k}{final.suffix}")
                k += 1

        with open_run(src) as run:
            if run.status not in RESUMABLE_STATUSES:
                hint = f"; rename it to {final_path_of(src)}" if src.name.endswith(PARTIAL_SUFFIX) else ""
                raise ArchiveError(f"{src}: status is {run.status!r}; only {', '.join(RESUMABLE_STATUSES)} runs can be resumed{hint}")
            for p in (final, partial) if out_path is not None else (partial,):
                if p.exists() and p.resolve() != src.resolve():
                    raise ArchiveError(f"{p}: already exists; move it away before resuming {src}")
            if out_path is None and final.exists() and final.resolve() != src.resolve():
                raise ArchiveError(f"{final}: a finished archive already has this run's final name; pass out_path")
            specs = run.table_specs
            wspec = run.records.spec if run.records is not None else None
            resumed = list(run.resumed) + [
                {
                    "from": str(src),
                    "moved_to": str(moved) if moved is not None else None,
                    "at": now,
                    "status": run.status,
                    "reason": run.reason,
                    "rows": {t: run.n_rows(t) for t in specs},
                    "records": len(run.records) if run.records is not None else 0,
                    "opened_with_swmr": run.opened_with_swmr,
                    "software_version": software_version(),
                }
            ]
            creating = partial.with_name(partial.name + CREATING_SUFFIX)
            cls._build(
                creating,
                metadata=run.metadata,
                configs=run.configs,
                instruments=run.instruments,
                tables=specs,
                waveform_spec=wspec,
                run_id=run.run_id,
                start_time=run.start_time,
                resumed=resumed,
            )
            try:
                tmp = cls._open_for_append(creating, final=final, fsync=True)
                try:
                    for tname, t in tmp._tables.items():
                        cols = run.tables[tname]
                        n = run.n_rows(tname)
                        for sv in t.vars:
                            arr = _coerce(sv.dtype, cols[sv.key], (n,) + sv.shape, f"table {tname!r} column {sv.key!r}")
                            for h5name, data in _split(sv, arr).items():
                                t.writers[h5name].append(data)
                    if tmp._records is not None and run.records is not None:
                        _copy_records(run.records, tmp._records)
                    tmp.commit(fsync=True)
                finally:
                    tmp._abandon()
            except BaseException:
                creating.unlink(missing_ok=True)
                raise
            committed = Committed(
                tables={t: dict(cols) for t, cols in run.tables.items()},
                record_points=run.records.point.copy() if run.records is not None else np.zeros(0, dtype=np.int64),
                source=str(moved if moved is not None else src),
            )
        # Both files are closed now: only closed files are renamed (this also works on Windows). The
        # interrupted file moves aside unchanged; the copy takes the .partial name and is reopened in
        # SWMR-write mode. A kill between the two renames leaves both intact under their names.
        if moved is not None:
            os.rename(src, moved)
        os.replace(creating, partial)
        _fsync_dir(partial)
        ar = cls._open_for_append(partial, final=final, fsync=fsync)
        return ar, committed


def stored_vars_u(spec: TableSpec, column: str) -> tuple[tuple[str, str], ...]:
    """The dataset(s) holding ``column``'s uncertainty (``<var>_u`` for each stored part)."""
    for sv in stored_vars(spec):
        if sv.column == column and sv.is_uncertainty:
            return sv.datasets
    return ()


def _copy_records(src: Any, dst: _Records) -> None:
    """Copy the committed records of a reader's :class:`~procedures.archive_reader.Records` into ``dst``.

    Codes go chunk by chunk with HDF5's direct chunk read/write: byte-identical, no recompression.
    """
    n = len(src)
    if n == 0:
        return
    C, N = len(dst.spec.channels), dst.spec.n_samples
    dst.point.append(src.point.astype(np.int64))
    dst.y_increment.append(np.ascontiguousarray(src.y_increment, dtype=np.float64))
    dst.y_origin.append(np.ascontiguousarray(src.y_origin, dtype=np.float64))
    dst.y_reference.append(np.ascontiguousarray(src.y_reference, dtype=np.float64))
    dst.x_increment.append(np.ascontiguousarray(src.x_increment, dtype=np.float64))
    dst.x_origin.append(np.ascontiguousarray(src.x_origin, dtype=np.float64))
    dst.n_valid.append(np.ascontiguousarray(src.n_valid, dtype=np.int64))
    sds: h5py.Dataset = src.dataset
    dds = dst.code.ds
    same_layout = sds.chunks == dds.chunks and sds.compression == dds.compression and sds.shuffle == dds.shuffle
    if same_layout:
        dds.id.set_extent((n, C, N))
        for i in range(n):
            for c in range(C):
                mask, data = sds.id.read_direct_chunk((i, c, 0))
                dds.id.write_direct_chunk((i, c, 0), data, mask)
        dst.code.n = n
    else:
        for i in range(n):
            dst.code.append(np.ascontiguousarray(sds[i], dtype=dds.dtype))
