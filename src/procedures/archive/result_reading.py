"""Reading a run archive's whole-run results (fits): ``/entry/results/<name>`` as a :class:`Result`.

The groups are written by :mod:`procedures.archive.result_groups`; the layout is in ``docs/archive.md``
("Results").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from procedures.archive.checked_access import check_var, damaged, dataset_in, py_value, spec_json
from procedures.archive.result_groups import RESULT_RESERVED_ATTRS
from procedures.archive.spec import COLUMN_DTYPES


@dataclass(frozen=True)
class Result:
    """A whole-run result as written by ``RunArchive.write_result``: arrays, their dims/units/long names, attrs."""

    arrays: dict[str, np.ndarray]
    dims: dict[str, tuple[str, ...]]
    units: dict[str, str]
    long_names: dict[str, str]
    attrs: dict[str, Any]


def read_result(group: h5py.Group) -> Result:
    """The result stored in ``group``, every array checked against the declaration in its ``@diffbench_spec``
    (dtype, dims and their sizes), complex arrays reassembled, boolean attributes restored."""
    spec = spec_json(group)
    infos = spec.get("arrays")
    bool_attrs = spec.get("bool_attrs", [])
    if not isinstance(infos, dict) or not isinstance(bool_attrs, list):
        raise damaged(group, "diffbench_spec does not declare the result's arrays")
    arrays: dict[str, np.ndarray] = {}
    dims: dict[str, tuple[str, ...]] = {}
    units: dict[str, str] = {}
    long_names: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for name, info in infos.items():
        kind = info.get("dtype") if isinstance(info, dict) else None
        adims = info.get("dims") if isinstance(info, dict) else None
        if kind not in COLUMN_DTYPES or not isinstance(adims, list) or not all(isinstance(d, str) for d in adims):
            raise damaged(group, f"diffbench_spec declares array {name!r} wrongly")
        pairs = kind == "complex128" and name not in group  # format 1.0: a float pair per complex array
        stored = [dataset_in(group, f"{name}_re"), dataset_in(group, f"{name}_im")] if pairs \
            else [dataset_in(group, name)]
        for ds in stored:
            check_var(ds, "float64" if pairs else kind, ds.shape, leading=False)
            if ds.ndim != len(adims) or ds.shape != stored[0].shape:
                raise damaged(ds, f"has shape {ds.shape}, but its dims are {adims}")
            for d, size in zip(adims, ds.shape):
                if sizes.setdefault(d, size) != size:
                    raise damaged(ds, f"dimension {d!r} has size {sizes[d]} and {size}")
        ds = stored[0]
        if pairs:
            arrays[name] = stored[0][()] + 1j * stored[1][()]
        else:
            data = ds.asstr()[()] if kind == "str" else ds[()]
            arrays[name] = data.astype(bool) if kind == "bool" else data
        if kind == "str" and isinstance(arrays[name], (str, bytes)):
            arrays[name] = np.array(arrays[name], dtype=object)
        dims[name] = tuple(adims)
        units[name] = py_value(ds.attrs.get("units", ""))
        ln = py_value(ds.attrs.get("long_name", name))
        if not isinstance(units[name], str) or not isinstance(ln, str):
            raise damaged(ds, "units and long_name must be text")
        long_names[name] = ln.partition(" part of ")[2] or ln if pairs else ln
    attrs = {k: py_value(v) for k, v in group.attrs.items() if k not in RESULT_RESERVED_ATTRS}
    for k in bool_attrs:
        if not isinstance(k, str) or k not in attrs or isinstance(attrs[k], (list, str)):
            raise damaged(group, f"boolean attribute {k!r} is missing or not a number")
        attrs[k] = bool(attrs[k])
    return Result(arrays, dims, units, long_names, attrs)


