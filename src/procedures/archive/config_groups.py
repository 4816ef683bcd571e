"""The run's configs as structured groups: ``/entry/configs/<name>``, one group per TOML table, one attribute per value.

The TOML text stays in ``/entry/configs@<name>`` exactly as given (it is what the run was given, and what the
diffbench reader returns); these groups hold the same document parsed, so that h5py, xarray's DataTree or
HDFView show ``board/pass_fail@cmrr_se_min_db`` without a TOML parser. The mapping, and why, is in
``docs/archive.md`` ("Configs") and ``docs/explanations/decisions/0017-xarray-first-archive.md``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Mapping
from typing import Any

import h5py
import numpy as np

from procedures.archive.spec import VLEN_STR

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def parse_configs(configs: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """The configs whose text is TOML, parsed; one that is not (the SPICE netlist of a netlist board) is left
    out: its text attribute is all it has."""
    parsed: dict[str, dict[str, Any]] = {}
    for name, text in configs.items():
        try:
            parsed[name] = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            continue
    return parsed


def h5_name(key: str) -> str:
    """A TOML key as an HDF5 group or attribute name: ``/`` (the path separator) and a name of only dots
    (``.``, ``..``, which HDF5 reserves) are written as ``%2F`` and ``%2E``; anything else is kept."""
    name = key.replace("%", "%25").replace("/", "%2F")
    return name.replace(".", "%2E") if not name.strip(".") else name


def config_nodes(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """One parsed TOML document as groups: ``{path relative to the config's group ("" for itself): attributes}``,
    parents before their children, in the document's order.

    A table is a subgroup; an array of tables a subgroup holding ``0``, ``1``, ... in order; text, a number,
    or a flat array of numbers or of text an attribute of that type; a boolean int8 0/1 (netCDF has no
    boolean); a date or time its ISO 8601 text; any other array (mixed, nested, empty) its JSON text.
    """
    nodes: dict[str, dict[str, Any]] = {}
    _table(nodes, "", document)
    return nodes


def write_config_group(parent: h5py.Group, name: str, document: Mapping[str, Any]) -> None:
    """Write one parsed TOML document below ``parent`` as group ``name`` (:func:`config_nodes` gives the mapping)."""
    root = parent.create_group(h5_name(name), track_order=True)
    for path, attrs in config_nodes(document).items():
        group = root.create_group(path, track_order=True) if path else root
        group.attrs["NX_class"] = "NXcollection"
        for key, value in attrs.items():
            group.attrs[key] = value


def _table(nodes: dict[str, dict[str, Any]], path: str, table: Mapping[str, Any]) -> None:
    attrs: dict[str, Any] = {}
    nodes[path] = attrs
    for key, value in table.items():
        sub = f"{path}/{h5_name(key)}" if path else h5_name(key)
        if isinstance(value, Mapping):
            _table(nodes, sub, value)
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            nodes[sub] = {}
            for i, item in enumerate(value):
                _table(nodes, f"{sub}/{i}", item)
        else:
            attrs[h5_name(key)] = _attribute(value)


def _attribute(value: Any) -> Any:
    """A TOML scalar or flat array as an attribute value netCDF-C reads (no HDF5 enum for booleans)."""
    if isinstance(value, bool):
        return np.int8(value)
    if isinstance(value, int):
        return np.int64(value)
    if isinstance(value, float):
        return np.float64(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if value and all(isinstance(v, str) for v in value):
        return np.array(value, dtype=VLEN_STR)
    if value and all(isinstance(v, bool) for v in value):
        return np.array(value, dtype=np.int8)
    if value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return np.array(value, dtype=np.int64)
    if value and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return np.array(value, dtype=np.float64)
    return json.dumps(value, default=str, ensure_ascii=False)
