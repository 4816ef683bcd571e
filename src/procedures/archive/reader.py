"""Reading run archives written by :mod:`procedures.archive.writer`: plain numpy/dict objects, xarray on request.

``open_run(path)`` works on finished archives, on the ``.partial`` file a killed writer left behind and
on resumed runs. It opens the file plainly, and with ``swmr=True`` when the plain open is refused (a SWMR
writer that did not close cleanly leaves the file marked "open for SWMR write"; §1.3 "A crashed SWMR
file", §2.1). It never writes. Tables are trimmed to ``/entry/n_committed``: a reader trusts the commit
counters, never the dataset extents (§0.3, §2.3). Records stay on disk until asked for.

``§n`` refers to sections of ``docs/reference/hdf5-archive.md``; the layout is in ``docs/archive.md``.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import h5py
import numpy as np

from procedures.archive.result_groups import RESULT_RESERVED_ATTRS
from procedures.archive.spec import (
    COLUMN_DTYPES,
    FILE_FORMAT,
    FINAL_STATUSES,
    FORMAT_VERSION,
    INSTRUMENT_TEXT_KEYS,
    RECORD_VARS,
    RESULTS_GROUP,
    STATUS_RUNNING,
    WAVEFORMS_GROUP,
    ArchiveError,
    TableSpec,
    WaveformSpec,
    stored_vars,
    uncertainty_long_name,
    validate_table_spec,
    validate_waveform_spec,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    import xarray

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _is_hdf5(path: Path) -> bool:
    """True if ``path`` carries the HDF5 signature at offset 0, 512, 1024, 2048, ... (the superblock search).

    Checked by hand rather than with ``h5py.is_hdf5`` because that one opens the file through the library,
    which a crashed SWMR file refuses.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        offset = 0
        while offset + len(_HDF5_SIGNATURE) <= size:
            fh.seek(offset)
            if fh.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE:
                return True
            offset = 512 if offset == 0 else offset * 2
    return False


_GCOL = b"GCOL"


def _global_heap_problem(path: Path) -> str:
    """What is wrong with a global heap collection of ``path`` that HDF5 would not survive, or "".

    Variable-length strings live in global heap collections ("GCOL"), the one HDF5 structure of this
    format without a checksum. HDF5 2.0 walks a collection's objects by their sizes, and an object header
    of zeros (a zeroed block after a power loss) makes that walk stand still: reading any string of the
    collection then never returns. So every collection is walked here first, from the file's bytes (plain
    reads: a memory map would die of SIGBUS on a hole in a file of a full tmpfs): a header that does not
    advance, or an object running past its collection, is reported. A "GCOL" that is not followed by a
    version-1 collection header that fits in the file is not a collection and is skipped.
    """
    size = path.stat().st_size
    block = 1 << 22
    with open(path, "rb") as fh:
        start = 0
        while start < size:
            fh.seek(start)
            data = fh.read(block + len(_GCOL) - 1)
            at = data.find(_GCOL)
            while 0 <= at < block:
                problem = _collection_problem(fh, start + at, size)
                if problem:
                    return problem
                at = data.find(_GCOL, at + 1)
            start += block
    return ""


def _read_at(fh: BinaryIO, offset: int, n: int) -> bytes:
    fh.seek(offset)
    return fh.read(n)


def _collection_problem(fh: BinaryIO, at: int, size: int) -> str:
    """Walk the global heap collection that may start at byte ``at`` as HDF5 does (see :func:`_global_heap_problem`)."""
    head = _read_at(fh, at, 16)
    if len(head) < 16 or head[4] != 1 or head[5:8] != b"\0\0\0":
        return ""
    end = at + int.from_bytes(head[8:16], "little")
    if not at + 16 < end <= size:
        return ""
    whole = _read_at(fh, at, end - at) if end - at <= (1 << 20) else None
    p = at + 16
    while p + 16 <= end:
        header = whole[p - at:p - at + 16] if whole is not None else _read_at(fh, p, 16)
        index = int.from_bytes(header[0:2], "little")
        length = int.from_bytes(header[8:16], "little")
        need = 16 + (length + 7) // 8 * 8 if index else length
        if need == 0:
            return f"the global heap (text storage) at byte {at} holds a zeroed object header at byte {p}"
        if p + need > end:
            return f"the global heap (text storage) at byte {at} has an object running past its end"
        p += need
    return ""


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def open_h5(path: str | os.PathLike[str]) -> tuple[h5py.File, bool]:
    """Open an archive's HDF5 file read-only; returns ``(file, opened_with_swmr)``.

    Tries a plain open first, then, if HDF5 says the file is still marked open for writing (a SWMR
    writer that was killed, or one still writing), a SWMR read (§2.1) with at most
    :data:`SWMR_READ_ATTEMPTS` attempts per metadata read. Raises :class:`ArchiveError` (one line) for a
    missing or unreadable file, a non-HDF5 file or one HDF5 refuses.
    """
    p = Path(path)
    if not p.exists():
        raise ArchiveError(f"{p}: no such file")
    if not p.is_file():
        raise ArchiveError(f"{p}: not a file")
    try:
        is_hdf5 = _is_hdf5(p)
    except OSError as e:
        raise ArchiveError(f"{p}: cannot read it ({e.strerror or _first_line(e)})") from None
    if not is_hdf5:
        raise ArchiveError(f"{p}: not an HDF5 file (no HDF5 signature); a diffbench archive is an HDF5 file")
    try:
        problem = _global_heap_problem(p)
    except (OSError, ValueError) as e:
        raise ArchiveError(f"{p}: cannot read it ({_first_line(e)})") from None
    if problem:
        raise ArchiveError(f"{p}: damaged or incomplete archive: {problem}")
    try:
        return h5py.File(p, "r"), False
    except OSError as e:
        if "already open for write" not in str(e):  # truncated, a damaged superblock, ...: damaged
            raise ArchiveError(f"{p}: HDF5 refuses to open it ({_first_line(e)}); the file is damaged or "
                               "truncated") from None
    try:
        fid = h5py.h5f.open(os.fsencode(p), h5py.h5f.ACC_RDONLY | h5py.h5f.ACC_SWMR_READ, fapl=_swmr_read_fapl())
        return h5py.File(fid), True
    except OSError as e:
        raise ArchiveError(
            f"{p}: HDF5 refuses to open it ({_first_line(e)}); if its writer was killed outside SWMR mode, "
            "run 'h5clear -s' on a copy and open the copy"
        ) from None


#: Metadata read attempts of a SWMR read. A checksum mismatch is retried (a live writer may have been caught
#: mid-write), with a wait that doubles each time: HDF5's default of 100 attempts makes a damaged file
#: hang for hours, while 20 give up after a few milliseconds, still plenty for a torn read.
SWMR_READ_ATTEMPTS = 20


def _swmr_read_fapl() -> h5py.h5p.PropFAID:
    """A file access property list for a SWMR read with :data:`SWMR_READ_ATTEMPTS` (when it can be set)."""
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    setter = _read_attempts_setter()
    if setter is not None:
        setter(ctypes.c_int64(fapl.id), ctypes.c_uint(SWMR_READ_ATTEMPTS))
    return fapl


@functools.lru_cache(maxsize=1)
def _read_attempts_setter() -> Any:
    """``H5Pset_metadata_read_attempts`` of the HDF5 library h5py loaded, or None where it cannot be found.

    h5py does not wrap it. The library is located among the process's mapped files (Linux), so this is the
    very instance h5py uses (another copy would not know h5py's property list ids); elsewhere HDF5's
    default stays.
    """
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            paths = {line.split(None, 5)[-1].strip() for line in fh if "libhdf5" in line}
        lib = next(p for p in sorted(paths) if re.search(r"/libhdf5(?:[-_.][0-9a-z]+)*\.so", p) and "_hl" not in p)
        fn = ctypes.CDLL(lib).H5Pset_metadata_read_attempts
        fn.argtypes = (ctypes.c_int64, ctypes.c_uint)
        fn.restype = ctypes.c_int
        return fn
    except (OSError, StopIteration, AttributeError):
        return None


def _py(value: Any) -> Any:
    """An HDF5 attribute value as plain Python (str, int, float, list)."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        return [_py(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass(frozen=True)
class Result:
    """A whole-run result as written by ``RunArchive.write_result``: arrays, their dims/units/long names, attrs."""

    arrays: dict[str, np.ndarray]
    dims: dict[str, tuple[str, ...]]
    units: dict[str, str]
    long_names: dict[str, str]
    attrs: dict[str, Any]


class Records:
    """The committed raw scope records of a run, read lazily from the open file.

    ``point``, ``y_increment``, ``y_origin``, ``y_reference`` (shape ``(records, channels)``),
    ``x_increment``, ``x_origin`` and ``n_valid`` (shape ``(records,)``) are in memory (the per-record
    variables, ``procedures.archive.spec.RECORD_VARS``); codes are read per record.
    """

    point: np.ndarray
    y_increment: np.ndarray
    y_origin: np.ndarray
    y_reference: np.ndarray
    x_increment: np.ndarray
    x_origin: np.ndarray
    n_valid: np.ndarray

    def __init__(self, group: h5py.Group, spec: WaveformSpec, n: int) -> None:
        self.spec = spec
        C, N = len(spec.channels), spec.n_samples
        self.dataset: h5py.Dataset = _dataset(group, "code")
        if self.dataset.ndim != 3 or self.dataset.shape[1:] != (C, N) or self.dataset.dtype != np.dtype(spec.dtype):
            raise ArchiveError(f"{group.file.filename}: {self.dataset.name} is {self.dataset.dtype} "
                               f"{self.dataset.shape}, not {spec.dtype} (record, {C}, {N}) as declared; the file is damaged")
        self._n = n
        _check_extent(group, self.dataset, n)
        for name, _, _, per_channel, dtype in RECORD_VARS:
            ds = _dataset(group, name)
            _check_var(ds, "int64" if dtype == "int64" else "float64", (C,) if per_channel else ())
            setattr(self, name, _read(group, ds, n))

    @property
    def channels(self) -> tuple[str, ...]:
        """Channel names, in the order of the codes' first axis."""
        return self.spec.channels

    def __len__(self) -> int:
        return self._n

    def _index(self, i: int) -> int:
        j = i + self._n if i < 0 else i
        if not 0 <= j < self._n:
            raise IndexError(f"record {i} out of range ({self._n} committed records)")
        return j

    def codes(self, i: int) -> np.ndarray:
        """Record ``i``'s integer codes, shape ``(channels, n_valid)`` (the padding left out)."""
        j = self._index(i)
        return self.dataset[j, :, :int(self.n_valid[j])]

    def time_s(self, i: int) -> np.ndarray:
        """Record ``i``'s sample times in seconds relative to the trigger, shape ``(n_valid,)``."""
        j = self._index(i)
        return self.x_origin[j] + self.x_increment[j] * np.arange(int(self.n_valid[j]))

    def volts(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Record ``i`` in volts, shape ``(channels, samples)``, and its time axis in seconds.

        ``volts = (code - y_reference) * y_increment + y_origin`` per channel (the scopes' affine scaling,
        docs/reference/scpi.md §5).
        """
        j = self._index(i)
        codes = self.codes(j).astype(np.float64)
        v = (codes - self.y_reference[j][:, None]) * self.y_increment[j][:, None] + self.y_origin[j][:, None]
        return v, self.time_s(j)

    def of_point(self, point: int) -> np.ndarray:
        """Indices of the records that belong to measurement point ``point``."""
        return np.flatnonzero(self.point == point)


def _damaged(obj: h5py.HLObject, what: str) -> ArchiveError:
    """The one-line error for a damaged part of an archive: ``<file>: damaged or incomplete archive: <object>: <what>``."""
    return ArchiveError(f"{obj.file.filename}: damaged or incomplete archive: {obj.name}: {what}")


def _dataset(group: h5py.Group, name: str) -> h5py.Dataset:
    """``group[name]``, which must be a dataset."""
    obj = group.get(name)
    if not isinstance(obj, h5py.Dataset):
        raise _damaged(group, f"{name!r} is missing or not a dataset")
    return obj


def _group(parent: h5py.Group, name: str) -> h5py.Group:
    """``parent[name]``, which must be a group."""
    obj = parent.get(name)
    if not isinstance(obj, h5py.Group):
        raise _damaged(parent, f"{name!r} is missing or not a group")
    return obj


_KINDS = {"float64": "f", "int64": "iu", "bool": "iub"}


def _check_var(ds: h5py.Dataset, kind: str, shape: tuple[int, ...], leading: bool = True) -> None:
    """``ds`` must store values of column dtype ``kind`` (:data:`COLUMN_DTYPES`) with trailing shape ``shape``
    (after one leading row/record axis if ``leading``)."""
    if kind == "str" or kind not in _KINDS:
        ok = h5py.check_string_dtype(ds.dtype) is not None
    else:
        ok = ds.dtype.kind in _KINDS[kind] and ds.dtype.fields is None
    if not ok:
        raise _damaged(ds, f"holds {ds.dtype}, not {kind} values")
    got = ds.shape[1:] if leading else ds.shape
    if (leading and ds.ndim != 1 + len(shape)) or tuple(got) != tuple(shape):
        want = ("(row, " + ", ".join(map(str, shape)) + ")") if leading else str(tuple(shape))
        raise _damaged(ds, f"has shape {ds.shape}, not {want}")


def _check_extent(group: h5py.Group, ds: h5py.Dataset, n: int) -> None:
    if ds.shape[0] < n and group.file.swmr_mode:
        ds.id.refresh()  # a live SWMR writer may have grown it since this reader cached its metadata
    if ds.shape[0] < n:
        raise ArchiveError(f"{group.file.filename}: {ds.name} holds {ds.shape[0]} rows but {n} are committed; the file is damaged")


def _read(group: h5py.Group, name: str | h5py.Dataset, n: int) -> np.ndarray:
    """The first ``n`` rows of dataset ``name`` of ``group`` (or of the dataset itself), text as str."""
    ds = name if isinstance(name, h5py.Dataset) else _dataset(group, name)
    _check_extent(group, ds, n)
    if h5py.check_string_dtype(ds.dtype) is not None:
        return ds.asstr()[:n]
    return ds[:n]


def _read_table(group: h5py.Group, spec: TableSpec, n: int) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for sv in stored_vars(spec):
        parts: dict[str, np.ndarray] = {}
        for h5name, part in sv.datasets:
            ds = _dataset(group, h5name)
            _check_var(ds, "float64" if sv.dtype == "complex128" else sv.dtype, sv.shape)
            parts[part] = _read(group, ds, n)
            if sv.is_uncertainty and sv.dtype == "float64" and np.any(parts[part] < 0):
                raise _damaged(ds, "holds a negative uncertainty (the writer refuses them)")
        if sv.dtype == "complex128":
            out[sv.key] = parts["re"] + 1j * parts["im"]
        elif sv.dtype == "bool":
            out[sv.key] = parts["value"].astype(bool)
        else:
            out[sv.key] = parts["value"]
    return out


def _read_result(group: h5py.Group) -> Result:
    spec = _spec_json(group)
    infos = spec.get("arrays")
    bool_attrs = spec.get("bool_attrs", [])
    if not isinstance(infos, dict) or not isinstance(bool_attrs, list):
        raise _damaged(group, "diffbench_spec does not declare the result's arrays")
    arrays: dict[str, np.ndarray] = {}
    dims: dict[str, tuple[str, ...]] = {}
    units: dict[str, str] = {}
    long_names: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for name, info in infos.items():
        kind = info.get("dtype") if isinstance(info, dict) else None
        adims = info.get("dims") if isinstance(info, dict) else None
        if kind not in COLUMN_DTYPES or not isinstance(adims, list) or not all(isinstance(d, str) for d in adims):
            raise _damaged(group, f"diffbench_spec declares array {name!r} wrongly")
        stored = [_dataset(group, f"{name}_re"), _dataset(group, f"{name}_im")] if kind == "complex128" \
            else [_dataset(group, name)]
        for ds in stored:
            _check_var(ds, "float64" if kind == "complex128" else kind, ds.shape, leading=False)
            if ds.ndim != len(adims) or ds.shape != stored[0].shape:
                raise _damaged(ds, f"has shape {ds.shape}, but its dims are {adims}")
            for d, size in zip(adims, ds.shape):
                if sizes.setdefault(d, size) != size:
                    raise _damaged(ds, f"dimension {d!r} has size {sizes[d]} and {size}")
        ds = stored[0]
        if kind == "complex128":
            arrays[name] = stored[0][()] + 1j * stored[1][()]
        else:
            data = ds.asstr()[()] if kind == "str" else ds[()]
            arrays[name] = data.astype(bool) if kind == "bool" else data
        if kind == "str" and isinstance(arrays[name], (str, bytes)):
            arrays[name] = np.array(arrays[name], dtype=object)
        dims[name] = tuple(adims)
        units[name] = _py(ds.attrs.get("units", ""))
        ln = _py(ds.attrs.get("long_name", name))
        if not isinstance(units[name], str) or not isinstance(ln, str):
            raise _damaged(ds, "units and long_name must be text")
        long_names[name] = ln.partition(" part of ")[2] or ln if kind == "complex128" else ln
    attrs = {k: _py(v) for k, v in group.attrs.items() if k not in RESULT_RESERVED_ATTRS}
    for k in bool_attrs:
        if not isinstance(k, str) or k not in attrs or isinstance(attrs[k], (list, str)):
            raise _damaged(group, f"boolean attribute {k!r} is missing or not a number")
        attrs[k] = bool(attrs[k])
    return Result(arrays, dims, units, long_names, attrs)


@dataclass
class RunIdentity:
    """What a run was, without its data: the archive's status, times, versions, metadata, configs (TOML
    text by name) and instruments. Shared by :class:`RunData` and by whatever keeps it after the file is
    closed (the report)."""

    path: Path
    status: str
    reason: str
    run_id: str
    start_time: str
    end_time: str
    software_version: str
    format_version: str
    metadata: dict[str, Any]
    configs: dict[str, str]
    instruments: dict[str, dict[str, Any]]

    def identity(self) -> dict[str, Any]:
        """These fields as keyword arguments, the dicts copied (for another RunIdentity subclass)."""
        return {f.name: dict(v) if isinstance(v := getattr(self, f.name), dict) else v
                for f in fields(RunIdentity)}


@dataclass
class RunData(RunIdentity):
    """Everything a run archive holds. Use as a context manager (or call :meth:`close`) to release the file.

    ``tables[name]`` maps each row key (columns, ``<column>_u`` uncertainties) to a numpy array of the
    committed rows (complex columns reassembled as complex, booleans as bool, text as str objects);
    ``table_specs`` holds the declarations (units, long names, shapes). ``records`` gives lazy access to
    the raw scope records (``None`` if the run declared none). ``results`` are the whole-run results
    (present once the run was finished). ``resumed`` lists earlier interruptions this run was resumed
    from. ``opened_with_swmr`` says the file was left open by a writer that did not finish.
    """

    tables: dict[str, dict[str, np.ndarray]]
    table_specs: dict[str, TableSpec]
    records: Records | None
    results: dict[str, Result]
    resumed: list[dict[str, Any]]
    opened_with_swmr: bool
    _file: h5py.File | None = field(default=None, repr=False)

    def n_rows(self, table: str) -> int:
        """Committed rows of ``table``."""
        if table not in self.tables:
            raise ArchiveError(f"{self.path}: no table {table!r} (tables: {', '.join(self.tables) or 'none'})")
        cols = self.tables[table]
        return len(next(iter(cols.values())))

    def close(self) -> None:
        """Close the file; records can no longer be read afterwards."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> RunData:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def to_xarray(self, table: str) -> xarray.Dataset:
        """Table ``table`` as an ``xarray.Dataset`` (dimension ``row`` plus the columns' trailing dimensions).

        Variables carry ``units``/``long_name``; uncertainties are ``<column>_u`` variables linked by
        ``ancillary_variables`` (CF, §0.2); complex columns are complex variables. Needs xarray.
        """
        try:
            import xarray as xr
        except ImportError:
            raise ArchiveError("to_xarray needs xarray, which is not installed (pip install xarray)") from None
        spec = self.table_specs.get(table)
        if spec is None:
            raise ArchiveError(f"{self.path}: no table {table!r} (tables: {', '.join(self.tables) or 'none'})")
        cols = self.tables[table]
        data_vars: dict[str, Any] = {}
        for sv in stored_vars(spec):
            col = spec.columns[sv.column]
            attrs: dict[str, Any] = {"long_name": col.long_name}
            if sv.is_uncertainty:
                attrs["long_name"] = uncertainty_long_name(col.long_name)
            elif col.uncertainty:
                attrs["ancillary_variables"] = f"{sv.column}_u"
            if col.units:
                attrs["units"] = col.units
            data_vars[sv.key] = (("row",) + sv.dims, cols[sv.key], attrs)
        coords: dict[str, Any] = {"row": np.arange(self.n_rows(table))}
        coords.update({dim: list(labels) for dim, labels in spec.labels.items()})
        ds_attrs = {"run_id": self.run_id, "status": self.status, "table": table, "source": str(self.path)}
        if spec.long_name:
            ds_attrs["long_name"] = spec.long_name
        return xr.Dataset(data_vars, coords=coords, attrs=ds_attrs)


def open_run(path: str | os.PathLike[str]) -> RunData:
    """Open a run archive (finished, ``.partial`` of a killed writer, or resumed) and read what was committed.

    Raises :class:`ArchiveError` with one line if the file is missing, is not HDF5, is HDF5 but not a
    diffbench archive, or is damaged beyond its committed data.
    """
    p = Path(path)
    f, swmr = open_h5(p)
    try:
        if _py(f.attrs.get("file_format")) != FILE_FORMAT:
            raise ArchiveError(f"{p}: an HDF5 file, but not a diffbench archive (no file_format={FILE_FORMAT!r} attribute)")
        version = _py(f.attrs.get("format_version", ""))
        if not isinstance(version, str) or version.split(".")[0] != FORMAT_VERSION.split(".")[0]:
            raise ArchiveError(f"{p}: archive format {version!r} is not readable by this diffbench (reads {FORMAT_VERSION})")
        return _load(p, f, swmr)
    except ArchiveError as e:
        f.close()
        raise ArchiveError(_first_line(e)) from None
    except Exception as e:  # noqa: BLE001 - whatever a damaged file makes h5py, numpy or json raise is one line
        f.close()
        raise ArchiveError(f"{p}: damaged or incomplete archive: {_first_line(e)}") from None


_STATUSES = (STATUS_RUNNING, *FINAL_STATUSES)


def _text(obj: h5py.HLObject, key: str) -> str:
    """Text attribute ``key`` of ``obj``: present and a string, or the file is damaged."""
    if key not in obj.attrs:
        raise _damaged(obj, f"attribute {key!r} is missing")
    try:
        value = _py(obj.attrs[key])
    except UnicodeDecodeError:
        raise _damaged(obj, f"attribute {key!r} is not UTF-8 text") from None
    if not isinstance(value, str):
        raise _damaged(obj, f"attribute {key!r} is {type(value).__name__}, not text")
    return value


def _json_attr(obj: h5py.HLObject, key: str, kind: type) -> Any:
    """JSON attribute ``key`` of ``obj``, which must decode to a ``kind`` (dict or list)."""
    try:
        value = json.loads(_text(obj, key))
    except (ValueError, RecursionError) as e:
        raise _damaged(obj, f"attribute {key!r} is not valid JSON ({_first_line(e)})") from None
    if not isinstance(value, kind):
        raise _damaged(obj, f"attribute {key!r} is JSON {type(value).__name__}, not {'an object' if kind is dict else 'a list'}")
    return value


def _spec_json(group: h5py.Group) -> dict[str, Any]:
    """The ``@diffbench_spec`` declaration of a table, records or result group (a JSON object)."""
    spec: dict[str, Any] = _json_attr(group, "diffbench_spec", dict)
    return spec


def _table_spec(group: h5py.Group, name: str) -> TableSpec:
    """A table's declaration, decoded and checked like a new one (:func:`validate_table_spec`)."""
    d = _spec_json(group)
    try:
        spec = TableSpec.from_json(d)
        validate_table_spec(name, spec)
        if not isinstance(spec.long_name, str):
            raise ArchiveError("long_name is not text")
    except (ArchiveError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise _damaged(group, f"diffbench_spec is not a valid table declaration ({_first_line(e)})") from None
    return spec


def _waveform_spec(group: h5py.Group) -> WaveformSpec:
    """The records' declaration, decoded and checked like a new one."""
    d = _spec_json(group)
    try:
        spec = WaveformSpec.from_json(d)
        validate_waveform_spec(spec)
    except (ArchiveError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise _damaged(group, f"diffbench_spec is not a valid records declaration ({_first_line(e)})") from None
    return spec


def _counts(entry: h5py.Group) -> dict[str, int]:
    """``{part: committed rows}`` from ``/entry/part`` and ``/entry/n_committed``, checked."""
    part, counter = _dataset(entry, "part"), _dataset(entry, "n_committed")
    if h5py.check_string_dtype(part.dtype) is None or part.ndim != 1:
        raise _damaged(part, "is not a list of names")
    if counter.dtype.kind not in "iu" or counter.shape != part.shape:
        raise _damaged(counter, f"is {counter.dtype} {counter.shape}, not one integer per part {part.shape}")
    names = [str(s) for s in part.asstr()[()]]
    values = [int(n) for n in counter[()]]
    if len(set(names)) != len(names):
        raise _damaged(part, "names a table twice")
    if any(n < 0 for n in values):
        raise _damaged(counter, f"holds a negative count {values}")
    return dict(zip(names, values))


def _load(p: Path, f: h5py.File, swmr: bool) -> RunData:
    """Read and check everything but the codes. Anything that is not as ``docs/archive.md`` describes it (a
    missing group, a non-text attribute, JSON of the wrong shape, a dataset of the wrong type or shape,
    counters beyond the data) raises :class:`ArchiveError`, so what is returned is safe to use."""
    status = _text(f, "status")
    if status not in _STATUSES:
        raise _damaged(f, f"status {status[:40]!r} is not one of {', '.join(_STATUSES)}")
    entry = _group(f, "entry")
    counts = _counts(entry)
    tables: dict[str, dict[str, np.ndarray]] = {}
    specs: dict[str, TableSpec] = {}
    records: Records | None = None
    for name, n in counts.items():
        group = _group(entry, name)
        role = _py(group.attrs.get("diffbench_role"))
        if role == "table" and name != WAVEFORMS_GROUP:
            specs[name] = _table_spec(group, name)
            tables[name] = _read_table(group, specs[name], n)
        elif role == "waveforms" and name == WAVEFORMS_GROUP:
            records = Records(group, _waveform_spec(group), n)
        else:
            raise _damaged(group, f"is counted in /entry/part but its diffbench_role is {role!r}")
    for name, obj in entry.items():
        if isinstance(obj, h5py.Group) and name not in counts and _py(obj.attrs.get("diffbench_role")) in ("table", "waveforms"):
            raise _damaged(obj, "is a table that /entry/part does not count")
    instruments: dict[str, dict[str, Any]] = {}
    for name, g in _group(entry, "instrument").items():
        if not isinstance(g, h5py.Group):
            raise _damaged(g, "is not an instrument group")
        instruments[name] = {k: _text(g, k) for k in INSTRUMENT_TEXT_KEYS}
        instruments[name]["settings"] = _json_attr(g, "settings_json", dict)
    configs_group = _group(entry, "configs")
    configs = {k: _text(configs_group, k) for k in configs_group.attrs if k != "NX_class"}
    # Results are written in finish() before the status changes; a run still "running" may have been
    # killed while writing them, so its results group is not trusted.
    results: dict[str, Result] = {}
    if status != STATUS_RUNNING:
        for name, g in _group(entry, RESULTS_GROUP).items():
            if not isinstance(g, h5py.Group):
                raise _damaged(g, "is not a result group")
            results[name] = _read_result(g)
    resumed = _json_attr(entry, "resumed_json", list)
    if not all(isinstance(r, dict) for r in resumed):
        raise _damaged(entry, "attribute 'resumed_json' is not a list of objects")
    return RunData(
        path=p,
        status=status,
        reason=_text(f, "reason"),
        run_id=_text(entry, "run_id"),
        start_time=_text(entry, "start_time"),
        end_time=_text(entry, "end_time"),
        software_version=_text(entry, "software_version"),
        format_version=_text(f, "format_version"),
        metadata=_json_attr(entry, "metadata_json", dict),
        configs=configs,
        instruments=instruments,
        tables=tables,
        table_specs=specs,
        records=records,
        results=results,
        resumed=resumed,
        opened_with_swmr=swmr,
        _file=f,
    )
