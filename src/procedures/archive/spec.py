"""What a run archive can hold: the format's names, the declarations, their validation and value conversion.

A procedure declares its tables (:class:`TableSpec` of :class:`Column`) and its raw scope records
(:class:`WaveformSpec`); :func:`stored_vars` maps a table's row keys to the HDF5 datasets that hold them.
The checks raise :class:`ArchiveError` (one line) before anything is written, and the conversions turn row
values into the arrays that are stored, so a bad row leaves the file untouched. Nothing here opens a
file: the schema is made by :mod:`procedures.archive.layout`, the rows are written by
:mod:`procedures.archive.writer`, and :mod:`procedures.archive.reader` reads them back with the same definitions.

``§n`` refers to sections of ``docs/reference/hdf5-archive.md``; the layout is in ``docs/archive.md``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from instruments.errors import DiffbenchError

FILE_FORMAT = "diffbench-archive"
FORMAT_VERSION = "1.1"
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
# The text attributes of /entry/instrument/<name>; its settings dict is stored as JSON in settings_json.
INSTRUMENT_TEXT_KEYS = ("idn", "resource", "driver")
# The per-record variables stored beside the codes of each record: (name, units, long_name, one value per
# channel, dtype). Volts are (code - y_reference) * y_increment + y_origin; times x_origin + i * x_increment.
RECORD_VARS: tuple[tuple[str, str, str, bool, str], ...] = (
    ("point", "1", "index of the measurement point this record belongs to", False, "int64"),
    ("y_increment", "V", "volts per code step", True, "float64"),
    ("y_origin", "V", "volts at code y_reference", True, "float64"),
    ("y_reference", "1", "code at which the voltage is y_origin", True, "float64"),
    ("x_increment", "s", "sample interval", False, "float64"),
    ("x_origin", "s", "time of sample 0 relative to the trigger", False, "float64"),
    ("n_valid", "1", "samples of this record that were acquired (the rest of `code` is padding)", False, "int64"),
)
RECORD_VAR_NAMES = tuple(v[0] for v in RECORD_VARS)
VLEN_STR = h5py.string_dtype("utf-8")
# The committed HDF5 type of complex values, named as the nc-complex convention names it: h5netcdf (so xarray) and
# netCDF4-python (auto_complex) read it as complex, netCDF-C and h5dump as a compound {r, i} (decision 0017).
COMPLEX_TYPE_NAME = "_PFNC_DOUBLE_COMPLEX_TYPE"
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
    def from_json(cls, d: Mapping[str, Any]) -> Column:
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
    """A table: named columns sharing one unlimited dimension (one row per append).

    ``signal``/``axis`` optionally name a scalar numeric column and its abscissa; the table group then
    becomes a NeXus ``NXdata`` group that NeXus tools plot by default (§1.1), and the axis column is the
    coordinate variable of the rows' dimension, which takes its name (format 1.1; a table without an axis
    keeps a dimension ``row`` without coordinate values). ``labels`` gives string coordinate values for
    trailing dimensions (for example ``{"mode_out": ("d", "c")}``).
    """

    columns: Mapping[str, Column]
    long_name: str = ""
    signal: str | None = None
    axis: str | None = None
    labels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def row_dim(self) -> str:
        """The name of the rows' dimension: the axis column's name, or ``row`` for a table without one."""
        return self.axis if self.axis is not None else "row"

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
    def from_json(cls, d: Mapping[str, Any]) -> TableSpec:
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
    docs/reference/scpi.md §5). ``compress=True`` stores the codes with shuffle + gzip level 1 (43 % of raw
    size at ~67 MB/s, readable everywhere); the default is uncompressed, the reference's recommendation
    for speed (§0.4, §3).
    """

    channels: tuple[str, ...]
    n_samples: int
    dtype: str = "int16"
    compress: bool = False

    def to_json(self) -> dict[str, Any]:
        """The declaration as a JSON-able dict."""
        return {"channels": list(self.channels), "n_samples": self.n_samples, "dtype": self.dtype,
                "compress": self.compress}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> WaveformSpec:
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


def stored_vars(spec: TableSpec, complex_pairs: bool = False) -> list[StoredVar]:
    """Every row key of ``spec`` with the dataset(s) it is stored in.

    A complex column is one complex dataset (format 1.1); ``complex_pairs`` gives the ``_re``/``_im`` float
    pairs that format 1.0 stored instead (§1.3), for reading such files.
    """
    out: list[StoredVar] = []
    for name, col in spec.columns.items():
        dims = col.dim_names(name)
        for key, is_u in ((name, False), (f"{name}_u", True)):
            if is_u and not col.uncertainty:
                continue
            ds: tuple[tuple[str, str], ...]
            if col.dtype == "complex128" and complex_pairs:
                sfx = "_u" if is_u else ""
                ds = ((f"{name}_re{sfx}", "re"), (f"{name}_im{sfx}", "im"))
            else:
                ds = ((key, "value"),)
            out.append(StoredVar(key, name, col.dtype, tuple(col.shape), dims, ds, is_u))
    return out


def stored_vars_u(spec: TableSpec, column: str) -> tuple[tuple[str, str], ...]:
    """The dataset(s) holding ``column``'s uncertainty (``<var>_u`` for each stored part)."""
    for sv in stored_vars(spec):
        if sv.column == column and sv.is_uncertainty:
            return sv.datasets
    return ()


def part_long_name(part: str, long_name: str) -> str:
    """The long name of one stored part of a value: ``real part of ...``/``imaginary part of ...`` (format 1.0's
    float pairs, §1.3), or ``long_name`` itself for a whole value."""
    return long_name if part == "value" else f"{'real' if part == 're' else 'imaginary'} part of {long_name}"


def uncertainty_long_name(long_name: str) -> str:
    """The long name of the standard uncertainty of a variable called ``long_name`` (§0.2)."""
    return f"standard uncertainty (k=1) of {long_name}"


# --------------------------------------------------------------------------------------------------
# Validation: every declaration is checked before the disk is touched.


def check_name(kind: str, name: Any) -> None:
    """Raise :class:`ArchiveError` unless ``name`` is a netCDF-safe name (a letter, then letters, digits, '_')."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ArchiveError(f"{kind} name {name!r} must start with a letter and contain only letters, digits and '_'")


def validate_table_spec(table: str, spec: TableSpec) -> None:
    """Raise :class:`ArchiveError` (one line) unless ``spec`` is a storable declaration of table ``table``."""
    check_name("table", table)
    if table in RESERVED_GROUPS:
        raise ArchiveError(f"table name {table!r} is reserved (reserved: {', '.join(sorted(RESERVED_GROUPS))})")
    if not isinstance(spec, TableSpec):
        raise ArchiveError(f"table {table!r}: expected a TableSpec, got {type(spec).__name__}")
    if not spec.columns:
        raise ArchiveError(f"table {table!r}: no columns")
    dim_sizes: dict[str, int] = {}
    for name, col in spec.columns.items():
        where = f"table {table!r} column {name!r}"
        check_name("column", name)
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
            check_name("dimension", dim)
            if dim == "row":
                raise ArchiveError(f"{where}: 'row' is the table's own dimension")
            if dim_sizes.setdefault(dim, size) != size:
                raise ArchiveError(f"table {table!r}: dimension {dim!r} has size {dim_sizes[dim]} and {size}")
    h5names: set[str] = set()
    for sv in stored_vars(spec):
        for h5name, _ in sv.datasets:
            if h5name in h5names or h5name in dim_sizes or h5name == "row":
                raise ArchiveError(f"table {table!r}: column {sv.column!r} would be stored as {h5name!r}, which is "
                                   "taken")
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


def json_text(what: str, value: Any) -> str:
    """``value`` as JSON text for a string attribute; :class:`ArchiveError` names ``what`` if it cannot be."""
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=False)
    except (TypeError, ValueError) as e:
        raise ArchiveError(f"{what} is not JSON-serialisable: {e}") from None


# --------------------------------------------------------------------------------------------------
# Value conversion (row values -> stored arrays). Everything is converted before anything is written, so
# a bad row raises and leaves the file untouched.


def coerce(kind: str, value: Any, shape: tuple[int, ...], where: str) -> np.ndarray:
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
            return np.array(arr.tolist() if arr.shape else arr.item(), dtype=VLEN_STR).reshape(shape)
        raise ArchiveError(f"{where}: expected text (str), got {arr.dtype} {value!r}")
    raise ArchiveError(f"{where}: unknown dtype {kind!r}")  # excluded by validate_table_spec


def storage_dtype(kind: str) -> Any:
    """The numpy dtype that stores values of ``kind`` (bool as int8; complex as complex128, which the schema
    stores with the committed type :data:`COMPLEX_TYPE_NAME`)."""
    return {"float64": np.float64, "complex128": np.complex128, "int64": np.int64, "bool": np.int8,
            "str": VLEN_STR}[kind]


def split_parts(sv: StoredVar, arr: np.ndarray) -> dict[str, np.ndarray]:
    """Stored arrays for one converted value: ``{dataset name: array}`` (two for format 1.0's complex pairs)."""
    if len(sv.datasets) == 2:
        (re_name, _), (im_name, _) = sv.datasets
        return {re_name: np.ascontiguousarray(arr.real), im_name: np.ascontiguousarray(arr.imag)}
    return {sv.datasets[0][0]: np.ascontiguousarray(arr)}


def row_parts(table: str, stored: Sequence[StoredVar], row: Any) -> dict[str, np.ndarray]:
    """One row of ``table`` as stored: ``{dataset name: array}``, converted from ``row`` (column -> value).

    ``stored`` are the table's :func:`stored_vars`. A row that is not a dict, a missing or unknown key, a
    wrong shape or type, or a negative uncertainty raises :class:`ArchiveError` naming the table and column.
    """
    if not isinstance(row, Mapping):
        raise ArchiveError(f"table {table!r}: a row must be a dict, got {type(row).__name__}")
    keys = [sv.key for sv in stored]
    missing = [k for k in keys if k not in row]
    unknown = [k for k in row if k not in set(keys)]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(map(repr, missing))}")
        if unknown:
            parts.append(f"unknown column(s) {', '.join(map(repr, unknown))}")
        raise ArchiveError(f"table {table!r}: {'; '.join(parts)}; nothing was written")
    out: dict[str, np.ndarray] = {}
    for sv in stored:
        arr = coerce(sv.dtype, row[sv.key], sv.shape, f"table {table!r} column {sv.key!r}")
        if sv.is_uncertainty and sv.dtype == "float64" and np.any(arr < 0):
            raise ArchiveError(f"table {table!r} column {sv.key!r}: an uncertainty cannot be negative")
        out.update(split_parts(sv, arr))
    return out


def record_values(
    spec: WaveformSpec, point: int, codes: np.ndarray, scaling: Mapping[str, Any]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One record as stored: its codes ``(channels, n_samples)`` padded and in the declared dtype, and one row
    of each of :data:`RECORD_VARS` (shape ``(1,)`` or ``(1, channels)``).

    ``scaling`` holds the keyword arguments ``y_increment``, ``y_origin``, ``y_reference``, ``x_increment``
    and ``x_origin`` of ``RunArchive.append_record``, which says what they mean.
    """
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
        if codes.dtype.kind not in "iu" or (codes.size and (int(codes.min()) < info.min
                                                            or int(codes.max()) > info.max)):
            raise ArchiveError(f"record: codes ({codes.dtype}) do not fit the archive's {want} codes")
        codes = codes.astype(want)
    rows: dict[str, np.ndarray] = {"point": np.array([point], dtype=np.int64)}
    for name in ("y_increment", "y_origin", "y_reference"):
        value = scaling[name]
        arr = np.asarray(value)
        if arr.dtype.kind not in "iuf":
            raise ArchiveError(f"record: {name} must be a real number per channel, got {value!r}")
        if arr.shape == ():
            arr = np.full(C, arr)
        if arr.shape != (C,):
            raise ArchiveError(f"record: {name} must be a scalar or have {C} values, got shape {arr.shape}")
        rows[name] = arr.astype(np.float64).reshape(1, C)
    for name in ("x_increment", "x_origin"):
        value = scaling[name]
        arr = np.asarray(value)
        if arr.shape != () or arr.dtype.kind not in "iuf":
            raise ArchiveError(f"record: {name} must be one real number, got {value!r}")
        rows[name] = arr.astype(np.float64).reshape(1)
    rows["n_valid"] = np.array([n_valid], dtype=np.int64)
    return np.ascontiguousarray(codes), rows
