"""Reading run archives written by :mod:`procedures.archive`: plain numpy/dict objects, xarray on request.

``open_run(path)`` works on finished archives, on the ``.partial`` file a killed writer left behind and
on resumed runs. It opens the file plainly, and with ``swmr=True`` when the plain open is refused (a SWMR
writer that did not close cleanly leaves the file marked "open for SWMR write"; §1.3 "A crashed SWMR
file", §2.1). It never writes. Tables are trimmed to ``/entry/n_committed``: a reader trusts the commit
counters, never the dataset extents (§0.3, §2.3). Records stay on disk until asked for.

``§n`` refers to sections of ``shared/reference/hdf5-archive.md``; the layout is in ``docs/archive.md``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from .archive_layout import committed_counts, group_spec
from .archive_results import RESULT_RESERVED_ATTRS
from .archive_spec import (
    FILE_FORMAT,
    FORMAT_VERSION,
    INSTRUMENT_TEXT_KEYS,
    RECORD_VAR_NAMES,
    RESULTS_GROUP,
    WAVEFORMS_GROUP,
    ArchiveError,
    TableSpec,
    WaveformSpec,
    stored_vars,
    uncertainty_long_name,
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


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def open_h5(path: str | os.PathLike[str]) -> tuple[h5py.File, bool]:
    """Open an archive's HDF5 file read-only; returns ``(file, opened_with_swmr)``.

    Tries a plain open first, then ``swmr=True`` (which a crashed SWMR writer's file needs, §2.1).
    Raises :class:`ArchiveError` (one line) for a missing file, a non-HDF5 file or one HDF5 refuses.
    """
    p = Path(path)
    if not p.exists():
        raise ArchiveError(f"{p}: no such file")
    if not p.is_file():
        raise ArchiveError(f"{p}: not a file")
    if not _is_hdf5(p):
        raise ArchiveError(f"{p}: not an HDF5 file (no HDF5 signature); a diffbench archive is an HDF5 file")
    try:
        return h5py.File(p, "r"), False
    except OSError:
        pass
    try:
        return h5py.File(p, "r", swmr=True), True
    except OSError as e:
        raise ArchiveError(
            f"{p}: HDF5 refuses to open it ({_first_line(e)}); if its writer was killed outside SWMR mode, "
            "run 'h5clear -s' on a copy and open the copy"
        ) from None


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
    variables, ``procedures.archive_spec.RECORD_VARS``); codes are read per record.
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
        self.dataset: h5py.Dataset = group["code"]
        self._n = n
        _check_extent(group, self.dataset, n)
        for name in RECORD_VAR_NAMES:
            setattr(self, name, _read(group, name, n))

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
        reference/scpi.md §5).
        """
        j = self._index(i)
        codes = self.codes(j).astype(np.float64)
        v = (codes - self.y_reference[j][:, None]) * self.y_increment[j][:, None] + self.y_origin[j][:, None]
        return v, self.time_s(j)

    def of_point(self, point: int) -> np.ndarray:
        """Indices of the records that belong to measurement point ``point``."""
        return np.flatnonzero(self.point == point)


def _check_extent(group: h5py.Group, ds: h5py.Dataset, n: int) -> None:
    if ds.shape[0] < n and group.file.swmr_mode:
        ds.id.refresh()  # a live SWMR writer may have grown it since this reader cached its metadata
    if ds.shape[0] < n:
        raise ArchiveError(f"{group.file.filename}: {ds.name} holds {ds.shape[0]} rows but {n} are committed; the file is damaged")


def _read(group: h5py.Group, name: str, n: int) -> np.ndarray:
    ds = group[name]
    _check_extent(group, ds, n)
    if h5py.check_string_dtype(ds.dtype) is not None:
        return ds.asstr()[:n]
    return ds[:n]


def _read_table(group: h5py.Group, spec: TableSpec, n: int) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for sv in stored_vars(spec):
        parts = {part: _read(group, h5name, n) for h5name, part in sv.datasets}
        if sv.dtype == "complex128":
            out[sv.key] = parts["re"] + 1j * parts["im"]
        elif sv.dtype == "bool":
            out[sv.key] = parts["value"].astype(bool)
        else:
            out[sv.key] = parts["value"]
    return out


def _read_result(group: h5py.Group) -> Result:
    spec = group_spec(group)
    arrays: dict[str, np.ndarray] = {}
    dims: dict[str, tuple[str, ...]] = {}
    units: dict[str, str] = {}
    long_names: dict[str, str] = {}
    for name, info in spec["arrays"].items():
        kind = info["dtype"]
        if kind == "complex128":
            re, im = group[f"{name}_re"], group[f"{name}_im"]
            arrays[name] = re[()] + 1j * im[()]
            ds = re
        else:
            ds = group[name]
            data = ds.asstr()[()] if kind == "str" else ds[()]
            arrays[name] = data.astype(bool) if kind == "bool" else data
        if kind == "str" and isinstance(arrays[name], (str, bytes)):
            arrays[name] = np.array(arrays[name], dtype=object)
        dims[name] = tuple(info["dims"])
        units[name] = _py(ds.attrs.get("units", ""))
        ln = _py(ds.attrs.get("long_name", name))
        long_names[name] = ln.split(" part of ", 1)[1] if kind == "complex128" else ln
    attrs = {k: _py(v) for k, v in group.attrs.items() if k not in RESULT_RESERVED_ATTRS}
    for k in spec.get("bool_attrs", []):
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

    def __enter__(self) -> "RunData":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def to_xarray(self, table: str) -> "xarray.Dataset":
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
        version = str(_py(f.attrs.get("format_version", "")))
        if version.split(".")[0] != FORMAT_VERSION.split(".")[0]:
            raise ArchiveError(f"{p}: archive format {version!r} is not readable by this diffbench (reads {FORMAT_VERSION})")
        return _load(p, f, swmr)
    except ArchiveError:
        f.close()
        raise
    except (KeyError, ValueError, TypeError, OSError, RuntimeError) as e:  # JSONDecodeError is a ValueError
        f.close()
        raise ArchiveError(f"{p}: damaged or incomplete archive: {_first_line(e)}") from None


def _load(p: Path, f: h5py.File, swmr: bool) -> RunData:
    entry = f["entry"]
    counts = committed_counts(entry)
    tables: dict[str, dict[str, np.ndarray]] = {}
    specs: dict[str, TableSpec] = {}
    records: Records | None = None
    for name, obj in entry.items():
        if not isinstance(obj, h5py.Group):
            continue
        role = _py(obj.attrs.get("diffbench_role"))
        if role == "table":
            specs[name] = TableSpec.from_json(group_spec(obj))
            tables[name] = _read_table(obj, specs[name], counts[name])
        elif role == "waveforms" and name == WAVEFORMS_GROUP:
            spec = WaveformSpec.from_json(group_spec(obj))
            records = Records(obj, spec, counts[WAVEFORMS_GROUP])
    instruments: dict[str, dict[str, Any]] = {}
    for name, g in entry["instrument"].items():
        instruments[name] = {k: _py(g.attrs[k]) for k in INSTRUMENT_TEXT_KEYS}
        instruments[name]["settings"] = json.loads(g.attrs["settings_json"])
    status = _py(f.attrs["status"])
    # Results are written in finish() before the status changes; a run still "running" may have been
    # killed while writing them, so its results group is not trusted.
    results = {} if status == "running" else {name: _read_result(g) for name, g in entry[RESULTS_GROUP].items()}
    return RunData(
        path=p,
        status=status,
        reason=_py(f.attrs["reason"]),
        run_id=_py(entry.attrs["run_id"]),
        start_time=_py(entry.attrs["start_time"]),
        end_time=_py(entry.attrs["end_time"]),
        software_version=_py(entry.attrs["software_version"]),
        format_version=_py(f.attrs["format_version"]),
        metadata=json.loads(entry.attrs["metadata_json"]),
        configs={k: _py(v) for k, v in entry["configs"].attrs.items() if k != "NX_class"},
        instruments=instruments,
        tables=tables,
        table_specs=specs,
        records=records,
        results=results,
        resumed=json.loads(entry.attrs["resumed_json"]),
        opened_with_swmr=swmr,
        _file=f,
    )
