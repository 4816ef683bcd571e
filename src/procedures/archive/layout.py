"""How a run archive sits on disk: its file names and the HDF5 schema, created whole before any data.

:func:`build_schema` writes the groups, the netCDF-4 dimension scales (h5py's dims API, §1.1, §1.3), the
NeXus/CF attributes and the empty chunked datasets of every table and of the raw records, into a file
that it closes again; the writer (:mod:`procedures.archive.writer`) renames it and only ever appends to it
(§2.1). :class:`DimMaker` is the dimension-scale plumbing, also used for the results written at the end.
The names of the files (``x.h5.partial`` ...) and their fsyncs live here too. The layout itself is
documented in ``docs/archive.md``; ``§n`` refers to ``docs/reference/hdf5-archive.md``.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from procedures.archive.spec import (
    CREATING_SUFFIX,
    FILE_FORMAT,
    FORMAT_VERSION,
    LIBVER,
    PARTIAL_SUFFIX,
    RECORD_VARS,
    RESULTS_GROUP,
    STATUS_RUNNING,
    VLEN_STR,
    WAVEFORMS_GROUP,
    TableSpec,
    WaveformSpec,
    check_declarations,
    json_text,
    part_long_name,
    storage_dtype,
    stored_vars,
    stored_vars_u,
    uncertainty_long_name,
)

# netCDF-C's marker for a dimension that has no coordinate variable (h5netcdf writes the same).
NOT_A_VARIABLE = "This is a netCDF dimension but not a netCDF variable."
# About one 4 KiB page per chunk for per-row columns: a commit rewrites the chunk holding the newest
# row, so small chunks keep that cost low, and reads of long tables stay fast enough.
ROW_CHUNK_BYTES = 4096


# --------------------------------------------------------------------------------------------------
# Files: names, times, durability


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


def partial_path_of(final: Path) -> Path:
    """Where the run finishing at ``final`` is written: ``x.h5`` -> ``x.h5.partial``."""
    return final.with_name(final.name + PARTIAL_SUFFIX)


def creating_path_of(partial: Path) -> Path:
    """Where the schema of ``partial`` is built before it takes that name: ``x.h5.partial.creating``."""
    return partial.with_name(partial.name + CREATING_SUFFIX)


def fsync_path(path: Path) -> None:
    """Ask the OS to put ``path`` (a file or a directory) on the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """fsync the directory holding ``path``, so that a rename to ``path`` survives a power loss."""
    try:
        fsync_path(path.parent if str(path.parent) else Path("."))
    except OSError:  # some filesystems refuse fsync on directories; the rename is still atomic
        pass


# HDF5 puts the OS's own text into its messages: "..., errno = 28, error message = 'No space left on device', ..."
_HDF5_OS_MESSAGE = re.compile(r"error message = '([^']*)'")
_HDF5_ERRNO = re.compile(r"errno = (\d+)")
# A reason or cause longer than this is cut (it goes into one line of a message or an attribute).
MAX_LINE_CHARS = 300


def one_line(text: str, limit: int = MAX_LINE_CHARS) -> str:
    """The first non-empty line of ``text``, whitespace collapsed, cut to ``limit`` characters (with "...")."""
    line = next((ln for ln in str(text).splitlines() if ln.strip()), "")
    line = " ".join(line.split())
    return line if len(line) <= limit else line[: max(limit - 3, 0)] + "..."


def io_cause(exc: BaseException) -> str:
    """What the OS said about a failed file operation, in a few words ("No space left on device").

    h5py raises ``OSError``/``RuntimeError`` whose text is HDF5's multi-line error stack; the OS's own
    message (and errno) sits inside it. A plain ``OSError`` carries ``strerror``.
    """
    text = str(exc)
    found = _HDF5_OS_MESSAGE.search(text)
    if found and found.group(1).strip():
        return one_line(found.group(1))
    errno = exc.errno if isinstance(exc, OSError) and exc.errno else None
    if errno is None:
        in_text = _HDF5_ERRNO.search(text)
        errno = int(in_text.group(1)) if in_text and int(in_text.group(1)) else None
    if errno is not None:
        return one_line(os.strerror(errno))
    return one_line(text) or type(exc).__name__


def close_after_io_error(f: h5py.File) -> None:
    """Close an HDF5 file whose writes failed (a full disk, a vanished or read-only file system) without
    writing anything more to it.

    Closing flushes HDF5's metadata cache; on a full disk that flush fails again, the file stays open in
    the library, h5py reports errors while freeing its objects and the library can crash at interpreter
    exit. So on POSIX the file's descriptor is first pointed at ``/dev/null``: the close then succeeds,
    its writes go nowhere, and the file on disk keeps what it held before the failure (like a killed
    writer's, §2.3). Never raises.
    """
    try:
        if not f.id.valid:
            return
        if os.name == "posix":
            fd = f.id.get_vfd_handle()
            if isinstance(fd, int) and fd >= 0:
                sink = os.open(os.devnull, os.O_RDWR)
                try:
                    os.dup2(sink, fd)
                finally:
                    os.close(sink)
    except Exception:  # noqa: BLE001 - best effort; the close below is what matters
        pass
    try:
        f.close()
    except Exception:  # noqa: BLE001 - nothing more can be done for this file
        pass


# --------------------------------------------------------------------------------------------------
# Dimension scales and variable attributes


class DimMaker:
    """Creates netCDF-4 dimensions (HDF5 dimension scales) and attaches them (§1.1)."""

    def __init__(self, first_id: int = 0) -> None:
        self.next_id = first_id

    @classmethod
    def after(cls, group: h5py.Group) -> DimMaker:
        """A maker whose ids continue after every dimension already below ``group`` (ids are unique in a file)."""
        dimids: list[int] = []
        group.visititems(
            lambda _, obj: dimids.append(int(obj.attrs.get("_Netcdf4Dimid", -1))) if isinstance(obj, h5py.Dataset) else None
        )
        return cls(max(dimids, default=-1) + 1)

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
        ds = group.create_dataset(name, data=np.array(list(labels), dtype=VLEN_STR))
        ds.attrs["long_name"] = long_name
        ds.make_scale(name)
        self._ids(ds, coordinate=True)
        return ds

    @staticmethod
    def attach(ds: h5py.Dataset, scales: Sequence[h5py.Dataset]) -> None:
        """Attach ``scales`` to the axes of ``ds`` in order."""
        for axis, scale in enumerate(scales):
            ds.dims[axis].attach_scale(scale)


def set_var_attrs(ds: h5py.Dataset, units: str, long_name: str, kind: str = "") -> None:
    """CF attributes of a variable: ``units`` (if any), ``long_name``, and the flags of a ``bool`` one."""
    if units:
        ds.attrs["units"] = units
    ds.attrs["long_name"] = long_name
    if kind == "bool":
        ds.attrs["flag_values"] = np.array([0, 1], dtype=np.int8)
        ds.attrs["flag_meanings"] = "false true"


# --------------------------------------------------------------------------------------------------
# The schema


def build_schema(
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
    """Validate the declarations, then write the whole schema (no data) to ``path`` and close it.

    A bad declaration raises :class:`~procedures.archive.spec.ArchiveError` before any file is made; a
    failure while writing removes the half-built file.
    """
    metadata_json, inst_attrs = check_declarations(metadata, configs, instruments, tables, waveform_spec)
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
        entry.attrs["resumed_json"] = json_text("resume history", resumed)

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

        dims = DimMaker()
        for tname, spec in tables.items():
            build_table(entry, tname, spec, dims)
        if waveform_spec is not None:
            build_records(entry, waveform_spec, dims)
        res = entry.create_group(RESULTS_GROUP, track_order=True)
        res.attrs["NX_class"] = "NXcollection"

        parts = list(tables) + ([WAVEFORMS_GROUP] if waveform_spec is not None else [])
        part = dims.coordinate(entry, "part", parts, "table (or 'waveforms') that each n_committed entry counts")
        # One chunk holding every counter: commit() rewrites it with one direct chunk write (one
        # pwrite), so the counts of one commit reach the file together or not at all.
        counter = entry.create_dataset(
            "n_committed", data=np.zeros(len(parts), dtype=np.int64), chunks=(len(parts),), maxshape=(len(parts),)
        )
        set_var_attrs(counter, "1", "rows (records) committed: readers trust these counts, not the extents")
        dims.attach(counter, [part])
        f.close()
    except BaseException:
        close_after_io_error(f)  # a full disk fails the close too; nothing more is written
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass
        raise


def build_table(entry: h5py.Group, name: str, spec: TableSpec, dims: DimMaker) -> None:
    """The group of table ``name``: its dimensions and one empty, chunked, unlimited dataset per stored part."""
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
    g.attrs["diffbench_spec"] = json_text(f"table {name!r}", spec.to_json())
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
        dtype = storage_dtype(sv.dtype)
        row_bytes = (16 if sv.dtype == "str" else np.dtype(dtype).itemsize) * int(np.prod(sv.shape, dtype=np.int64))
        chunk_rows = max(1, ROW_CHUNK_BYTES // row_bytes)
        for h5name, part in sv.datasets:
            ds = g.create_dataset(
                h5name,
                shape=(0,) + sv.shape,
                maxshape=(None,) + sv.shape,
                chunks=(chunk_rows,) + sv.shape,
                dtype=dtype,
            )
            long_name = part_long_name(part, col.long_name)
            if sv.is_uncertainty:
                long_name = uncertainty_long_name(long_name)
            set_var_attrs(ds, col.units, long_name, sv.dtype)
            dims.attach(ds, [row] + [scales[d] for d in sv.dims])
        if not sv.is_uncertainty and col.uncertainty:
            for (h5name, _), (uname, _) in zip(sv.datasets, stored_vars_u(spec, sv.column)):
                g[h5name].attrs["ancillary_variables"] = uname


def build_records(entry: h5py.Group, spec: WaveformSpec, dims: DimMaker) -> None:
    """The group of the raw records: the codes (one chunk per channel and record) and :data:`RECORD_VARS`."""
    g = entry.create_group(WAVEFORMS_GROUP, track_order=True)
    g.attrs["NX_class"] = "NXcollection"
    g.attrs["diffbench_role"] = "waveforms"
    g.attrs["diffbench_spec"] = json_text("waveform_spec", spec.to_json())
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
    set_var_attrs(code, "1", "raw ADC codes as transferred from the scope")
    dims.attach(code, [record, channel, sample])
    for name, units, long_name, per_channel, dtype in RECORD_VARS:
        shape = (C,) if per_channel else ()
        rows = max(1, ROW_CHUNK_BYTES // (8 * (C if per_channel else 1)))
        ds = g.create_dataset(name, shape=(0,) + shape, maxshape=(None,) + shape, chunks=(rows,) + shape, dtype=dtype)
        set_var_attrs(ds, units, long_name)
        dims.attach(ds, [record, channel] if per_channel else [record])


# --------------------------------------------------------------------------------------------------
# Reading the schema back (writer on reopen, reader)


def committed_counts(entry: h5py.Group) -> dict[str, int]:
    """``{part: committed rows}`` from ``/entry/part`` and ``/entry/n_committed``, tables first, in file order."""
    parts = [str(s) for s in entry["part"].asstr()[()]]
    return {name: int(n) for name, n in zip(parts, entry["n_committed"][()])}


def group_spec(group: h5py.Group) -> dict[str, Any]:
    """The JSON declaration a table, records or result group carries in ``@diffbench_spec``."""
    return json.loads(group.attrs["diffbench_spec"])
