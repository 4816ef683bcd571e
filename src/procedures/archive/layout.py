"""The HDF5 schema of a run archive, created whole before any data, and read back when it is reopened.

:func:`build_schema` writes the groups, the netCDF-4 dimension scales (:mod:`procedures.archive.dimensions`),
the NeXus/CF attributes and the empty chunked datasets of every table and of the raw records, into a file
that it closes again; the writer (:mod:`procedures.archive.writer`) renames it and only ever appends to it
(§2.1). The layout itself is documented in ``docs/archive.md``; ``§n`` refers to
``docs/reference/hdf5-archive.md``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from procedures.archive.config_groups import parse_configs, write_config_group
from procedures.archive.declaration import RunDeclaration, check_declarations
from procedures.archive.dimensions import DimMaker, set_var_attrs
from procedures.archive.io_errors import close_after_io_error
from procedures.archive.spec import (
    COMPLEX_TYPE_NAME,
    FILE_FORMAT,
    FORMAT_VERSION,
    LIBVER,
    RECORD_VARS,
    RESULTS_GROUP,
    STATUS_RUNNING,
    WAVEFORMS_GROUP,
    TableSpec,
    WaveformSpec,
    json_text,
    part_long_name,
    storage_dtype,
    stored_vars,
    stored_vars_u,
    uncertainty_long_name,
)
from procedures.archive.stamps import software_version

# About one 4 KiB page per chunk for per-row columns: a commit rewrites the chunk holding the newest
# row, so small chunks keep that cost low, and reads of long tables stay fast enough.
ROW_CHUNK_BYTES = 4096


@dataclass(frozen=True)
class RunStamp:
    """Who the run is, as its schema records it: ``run_id``, ``start_time`` (ISO 8601 UTC) and the history of
    the interruptions it was resumed from (``resumed``, empty for a new run; ``docs/archive.md``, "Resume
    records")."""

    run_id: str
    start_time: str
    resumed: list[dict[str, Any]] = field(default_factory=list)


def build_schema(path: Path, declaration: RunDeclaration, stamp: RunStamp) -> None:
    """Validate the declarations, then write the whole schema (no data) to ``path`` and close it.

    A bad declaration raises :class:`~procedures.archive.spec.ArchiveError` before any file is made; a
    failure while writing removes the half-built file.
    """
    metadata_json, inst_attrs = check_declarations(declaration)
    documents = parse_configs(declaration.configs)
    f = h5py.File(path, "w", libver=LIBVER, track_order=True)
    try:
        # Complex values are stored with one committed compound type {r, i} (decision 0017).
        f[COMPLEX_TYPE_NAME] = np.dtype(np.complex128)
        entry = _root_and_entry(f, declaration, stamp, metadata_json)
        _configs_and_instruments(entry, declaration.configs, inst_attrs)
        for name, document in documents.items():
            write_config_group(entry["configs"], name, document)
        dims = DimMaker()
        for tname, spec in declaration.tables.items():
            build_table(entry, tname, spec, dims)
        if declaration.waveform_spec is not None:
            build_records(entry, declaration.waveform_spec, dims)
        res = entry.create_group(RESULTS_GROUP, track_order=True)
        res.attrs["NX_class"] = "NXcollection"
        parts = list(declaration.tables) + ([WAVEFORMS_GROUP] if declaration.waveform_spec is not None else [])
        _counters(entry, parts, dims)
        f.close()
    except BaseException:
        close_after_io_error(f)  # a full disk fails the close too; nothing more is written
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass
        raise


def _root_and_entry(f: h5py.File, declaration: RunDeclaration, stamp: RunStamp, metadata_json: str) -> h5py.Group:
    """The file's attributes and the ``/entry`` group with the run's own attributes."""
    version = software_version()
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
    default = next((t for t, s in declaration.tables.items() if s.signal is not None), None)
    if default is not None:
        entry.attrs["default"] = default
    entry.attrs["run_id"] = stamp.run_id
    entry.attrs["start_time"] = stamp.start_time
    entry.attrs["end_time"] = ""
    entry.attrs["software_version"] = version
    entry.attrs["metadata_json"] = metadata_json
    entry.attrs["resumed_json"] = json_text("resume history", stamp.resumed)
    return entry


def _configs_and_instruments(entry: h5py.Group, configs: Mapping[str, str],
                             inst_attrs: Mapping[str, Mapping[str, str]]) -> None:
    """``/entry/configs`` (one text attribute per config) and ``/entry/instrument/<name>``."""
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


def _counters(entry: h5py.Group, parts: list[str], dims: DimMaker) -> None:
    """``/entry/part`` and ``/entry/n_committed``: the committed rows (records) of each table, all zero."""
    part = dims.coordinate(entry, "part", parts, "table (or 'waveforms') that each n_committed entry counts")
    # One chunk holding every counter: commit() rewrites it with one direct chunk write (one
    # pwrite), so the counts of one commit reach the file together or not at all.
    counter = entry.create_dataset(
        "n_committed", data=np.zeros(len(parts), dtype=np.int64), chunks=(len(parts),), maxshape=(len(parts),)
    )
    set_var_attrs(counter, "1", "rows (records) committed: readers trust these counts, not the extents")
    dims.attach(counter, [part])


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
    # The rows' dimension: the axis column is its coordinate variable (created first, below); a table without an
    # axis has a pure dimension `row`, left at length 0 while appending (finish() sizes it).
    row = dims.pure(g, "row", 0, unlimited=True) if spec.axis is None else None
    scales: dict[str, h5py.Dataset] = {}
    for cname, col in spec.columns.items():
        for dim, size in zip(col.dim_names(cname), col.shape):
            if dim not in scales:
                labels = spec.labels.get(dim)
                scales[dim] = (
                    dims.coordinate(g, dim, labels, f"labels of {dim}") if labels is not None
                    else dims.pure(g, dim, size)
                )
    complex_type = complex_type_of(g.file)
    for sv in sorted(stored_vars(spec), key=lambda v: v.key != spec.axis):
        col = spec.columns[sv.column]
        dtype = complex_type if sv.dtype == "complex128" else storage_dtype(sv.dtype)
        row_bytes = (16 if sv.dtype in ("str", "complex128") else np.dtype(dtype).itemsize) * int(
            np.prod(sv.shape, dtype=np.int64))
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
            if sv.key == spec.axis:
                row = dims.axis_coordinate(ds)
            else:
                assert row is not None  # the axis variable comes first
                dims.attach(ds, [row] + [scales[d] for d in sv.dims])
        if not sv.is_uncertainty and col.uncertainty:
            for (h5name, _), (uname, _) in zip(sv.datasets, stored_vars_u(spec, sv.column)):
                g[h5name].attrs["ancillary_variables"] = uname


def complex_type_of(f: h5py.File) -> Any:
    """The committed complex type of file ``f`` (:data:`~procedures.archive.spec.COMPLEX_TYPE_NAME`), or plain
    complex128 (an unnamed compound) in a file made before it had one."""
    obj = f.get(COMPLEX_TYPE_NAME)
    return obj if isinstance(obj, h5py.Datatype) else np.complex128


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
    sample = dims.sample_index(g, "sample", spec.n_samples, "index of the sample in its record (time = x_origin "
                               "+ x_increment * sample)")
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
