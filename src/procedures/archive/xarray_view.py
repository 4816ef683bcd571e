"""A run archive as xarray objects: one table as a ``Dataset``, the whole run as a ``DataTree``.

What :meth:`procedures.archive.run_data.RunData.to_xarray` returns. The tree has the groups of the file
(``docs/archive.md``, "Layout"), built from what the diffbench reader read, so it holds the committed rows
only, complex columns as complex whichever format stored them, and it also works on a ``.partial`` that
plain xarray cannot open. Each table's rows are indexed by its axis column when it declares one
(``frequency_hz``, ``vid_vpk`` ...), the raw records carry a ``time`` coordinate ``(record, sample)`` in
seconds, and each config is a subtree of its parsed TOML (:mod:`procedures.archive.config_groups`).
xarray is imported here only, when called.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from procedures.archive.checked_access import py_value
from procedures.archive.config_groups import config_nodes, h5_name, parse_configs
from procedures.archive.record_reading import Records
from procedures.archive.result_reading import Result
from procedures.archive.spec import RECORD_VARS, RESULTS_GROUP, WAVEFORMS_GROUP, ArchiveError, TableSpec, stored_vars
from procedures.archive.spec import uncertainty_long_name as u_long_name

if TYPE_CHECKING:  # pragma: no cover - typing only
    import xarray


class RunData(Protocol):
    """What these functions read of :class:`procedures.archive.run_data.RunData` (which calls them)."""

    path: Path
    status: str
    run_id: str
    configs: dict[str, str]
    instruments: dict[str, dict[str, Any]]
    tables: dict[str, dict[str, np.ndarray]]
    table_specs: dict[str, TableSpec]
    records: Records | None
    results: dict[str, Result]

    def n_rows(self, table: str) -> int: ...


def _xarray() -> Any:
    try:
        import xarray as xr
    except ImportError:
        raise ArchiveError("to_xarray needs xarray, which is not installed (pip install xarray)") from None
    return xr


def table_dataset(run: RunData, table: str) -> xarray.Dataset:
    """Table ``table`` of ``run`` as a Dataset: its rows' dimension is the axis column (a dimension coordinate
    with the column's units) or ``row`` (integer positions) for a table without one; trailing dimensions with
    their labels as coordinates; uncertainties as ``<column>_u`` linked by ``ancillary_variables``."""
    xr = _xarray()
    spec = run.table_specs.get(table)
    if spec is None:
        raise ArchiveError(f"{run.path}: no table {table!r} (tables: {', '.join(run.tables) or 'none'})")
    cols = run.tables[table]
    rows = spec.row_dim
    variables: dict[str, Any] = {}
    for sv in stored_vars(spec):
        col = spec.columns[sv.column]
        attrs: dict[str, Any] = {"long_name": u_long_name(col.long_name) if sv.is_uncertainty else col.long_name}
        if col.uncertainty and not sv.is_uncertainty:
            attrs["ancillary_variables"] = f"{sv.column}_u"
        if col.units:
            attrs["units"] = col.units
        variables[sv.key] = xr.Variable((rows,) + sv.dims, cols[sv.key], attrs)
    coords: dict[str, Any] = {dim: list(labels) for dim, labels in spec.labels.items()}
    if spec.axis is None:
        coords["row"] = np.arange(run.n_rows(table))
    else:
        coords[rows] = variables.pop(rows)
    attrs = {"run_id": run.run_id, "status": run.status, "table": table, "source": str(run.path)}
    if spec.long_name:
        attrs["long_name"] = spec.long_name
    return xr.Dataset(variables, coords=coords, attrs=attrs)


def records_dataset(records: Records) -> xarray.Dataset:
    """The committed raw records: ``code (record, channel, sample)`` with the per-record scaling variables, and
    ``time (record, sample)`` in seconds, ``x_origin + x_increment * sample``: a float64 per sample of each
    record (twice the codes' size for int8 codes of four channels), made in memory here and never stored."""
    xr = _xarray()
    n = len(records)
    sample = np.arange(records.spec.n_samples, dtype=np.int32)
    variables: dict[str, Any] = {"code": (("record", "channel", "sample"), records.dataset[:n],
                                          {"units": "1", "long_name": "raw ADC codes as transferred from the scope"})}
    for name, units, long_name, per_channel, _ in RECORD_VARS:
        variables[name] = (("record", "channel") if per_channel else ("record",), getattr(records, name),
                           {"units": units, "long_name": long_name})
    time = records.x_origin[:, None] + records.x_increment[:, None] * sample[None, :]
    coords = {"channel": list(records.channels), "sample": sample,
              "time": (("record", "sample"), time, {"units": "s", "long_name": "time of the sample relative to "
                                                    "the trigger (samples from n_valid on are padding)"})}
    attrs = {"volts": "(code - y_reference) * y_increment + y_origin", "time": "x_origin + x_increment * sample"}
    return xr.Dataset(variables, coords=coords, attrs=attrs)


def result_dataset(result: Result) -> xarray.Dataset:
    """One whole-run result (a fit) as a Dataset, its attributes as the Dataset's."""
    xr = _xarray()
    variables = {name: (result.dims[name], arr, {"units": result.units[name], "long_name": result.long_names[name]}
                        if result.units[name] else {"long_name": result.long_names[name]})
                 for name, arr in result.arrays.items()}
    attrs = {k: np.int8(v) if isinstance(v, bool) else v for k, v in result.attrs.items()}
    return xr.Dataset(variables, attrs=attrs)


def run_tree(run: RunData, file_attrs: dict[str, Any], entry_attrs: dict[str, Any]) -> xarray.DataTree:
    """The whole run as a DataTree whose groups are the file's (``docs/archive.md``, "Layout"); ``file_attrs``
    and ``entry_attrs`` are the attributes of ``/`` and ``/entry`` as stored."""
    xr = _xarray()
    nodes: dict[str, Any] = {"/": xr.Dataset(attrs=file_attrs)}
    counts = {name: run.n_rows(name) for name in run.tables}
    if run.records is not None:
        counts[WAVEFORMS_GROUP] = len(run.records)
    nodes["/entry"] = xr.Dataset(
        {"n_committed": ("part", np.array(list(counts.values()), dtype=np.int64),
                         {"units": "1", "long_name": "rows (records) committed"})},
        coords={"part": list(counts)}, attrs=entry_attrs)
    nodes["/entry/configs"] = xr.Dataset(attrs={"NX_class": "NXcollection", **run.configs})
    for name, document in parse_configs(run.configs).items():
        for path, attrs in config_nodes(document).items():
            where = f"/entry/configs/{h5_name(name)}" + (f"/{path}" if path else "")
            nodes[where] = xr.Dataset(attrs={"NX_class": "NXcollection", **attrs})
    nodes["/entry/instrument"] = xr.Dataset(attrs={"NX_class": "NXinstrument"})
    for name, info in run.instruments.items():
        attrs = {k: v for k, v in info.items() if k != "settings"}
        nodes[f"/entry/instrument/{name}"] = xr.Dataset(attrs={"NX_class": "NXcollection", **attrs,
                                                               "settings_json": json.dumps(info["settings"])})
    for table in run.tables:
        nodes[f"/entry/{table}"] = table_dataset(run, table)
    if run.records is not None:
        nodes[f"/entry/{WAVEFORMS_GROUP}"] = records_dataset(run.records)
    nodes[f"/entry/{RESULTS_GROUP}"] = xr.Dataset(attrs={"NX_class": "NXcollection"})
    for name, result in run.results.items():
        nodes[f"/entry/{RESULTS_GROUP}/{name}"] = result_dataset(result)
    return xr.DataTree.from_dict(nodes)


def stored_attrs(obj: Any) -> dict[str, Any]:
    """The attributes of an open HDF5 group as Python values (text as str)."""
    return {k: py_value(v) for k, v in obj.attrs.items()}
