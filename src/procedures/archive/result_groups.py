"""Whole-run results of a run archive (fits): checked when given, written as NXprocess groups at the end.

``RunArchive.write_result`` hands its arguments to :func:`prepare_result`, which checks and converts them
into a :class:`PendingResult`; ``RunArchive.finish`` writes them all with :func:`write_results` (SWMR allows
no new objects while points are appended, §2.1 of ``docs/reference/hdf5-archive.md``). The layout is
``/entry/results/<name>`` in ``docs/archive.md``; :mod:`procedures.archive.reader` reads it back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from procedures.archive.dimensions import DimMaker, set_var_attrs
from procedures.archive.layout import complex_type_of
from procedures.archive.spec import (
    RESULTS_GROUP,
    ArchiveError,
    check_name,
    coerce,
    json_text,
    storage_dtype,
)
from procedures.archive.stamps import software_version

# Attributes of a result group that the archive sets itself; a result's own attributes cannot take them.
RESULT_RESERVED_ATTRS = frozenset({"NX_class", "program", "version", "diffbench_spec"})
_ATTR_SCALARS = (str, bool, int, float, np.integer, np.floating, np.bool_)


@dataclass
class PendingResult:
    """A checked result waiting for ``finish``: converted arrays, their kinds, dims, units, long names; attrs."""

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
    check_name("attribute", key)
    if isinstance(value, _ATTR_SCALARS):
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, (list, tuple, np.ndarray)):
        items = list(np.asarray(value).tolist()) if isinstance(value, np.ndarray) else list(value)
        if items and all(isinstance(x, str) for x in items):
            return items
        if all(isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))
               for x in items):
            return items
    raise ArchiveError(f"{where}: attribute {key!r} must be str, int, float, bool or a flat list of numbers or of "
                       "strings")


def prepare_result(
    name: str, arrays: Mapping[str, Any], attrs: Mapping[str, Any] | None = None,
    units: Mapping[str, str] | None = None,
    long_names: Mapping[str, str] | None = None, dims: Mapping[str, Sequence[str]] | None = None,
) -> PendingResult:
    """Check and convert one result (the arguments of ``RunArchive.write_result``, which says what they hold).

    Raises :class:`ArchiveError` (one line) naming the result and what is wrong.
    """
    check_name("result", name)
    if not isinstance(arrays, Mapping) or not arrays:
        raise ArchiveError(f"result {name!r}: arrays must be a non-empty dict of name -> array")
    unit_of = dict(units or {})
    long_name_of = dict(long_names or {})
    dims_of = {k: tuple(v) for k, v in (dims or {}).items()}
    for what, m in (("units", unit_of), ("long_names", long_name_of), ("dims", dims_of)):
        extra = set(m) - set(arrays)
        if extra:
            raise ArchiveError(f"result {name!r}: {what} for unknown array(s) {sorted(extra)}")
    out = PendingResult({}, {}, {}, {}, {}, {})
    sizes: dict[str, int] = {}
    names_taken: set[str] = set()
    for aname, value in arrays.items():
        check_name("array", aname)
        try:
            arr = np.array(value)
        except (ValueError, TypeError) as e:
            raise ArchiveError(f"result {name!r} array {aname!r}: {e}") from None
        kind = _result_kind(name, aname, arr)
        adims = dims_of.get(aname, tuple(f"{aname}_dim{k}" for k in range(arr.ndim)))
        if len(adims) != arr.ndim:
            raise ArchiveError(f"result {name!r} array {aname!r}: dims {adims} do not match shape {arr.shape}")
        for d, n in zip(adims, arr.shape):
            check_name("dimension", d)
            if sizes.setdefault(d, n) != n:
                raise ArchiveError(f"result {name!r}: dimension {d!r} has size {sizes[d]} and {n}")
        for u in (unit_of.get(aname, ""), long_name_of.get(aname, "")):
            if not isinstance(u, str):
                raise ArchiveError(f"result {name!r} array {aname!r}: units and long_names must be strings")
        stored = [aname]
        if names_taken & set(stored):
            raise ArchiveError(f"result {name!r}: array {aname!r} collides with another array's stored name")
        names_taken.update(stored)
        out.arrays[aname] = coerce(kind, arr, arr.shape, f"result {name!r} array {aname!r}")
        out.kinds[aname] = kind
        out.dims[aname] = adims
        out.units[aname] = unit_of.get(aname, "")
        out.long_names[aname] = long_name_of.get(aname, aname)
    clash = names_taken & set(sizes)
    if clash:
        raise ArchiveError(f"result {name!r}: {sorted(clash)} used both as array and dimension name")
    for k, v in (attrs or {}).items():
        if k in RESULT_RESERVED_ATTRS:
            raise ArchiveError(f"result {name!r}: attribute {k!r} is reserved")
        out.attrs[k] = _check_attr(f"result {name!r}", k, v)
    return out


def write_results(entry: h5py.Group, results: Mapping[str, PendingResult]) -> None:
    """Create ``/entry/results/<name>`` for every result (an NXprocess group of netCDF variables)."""
    if not results:
        return
    parent = entry[RESULTS_GROUP]
    version = software_version()
    dims = DimMaker.after(entry)  # netCDF dimension ids are unique in the file: continue after the schema's
    for name, r in results.items():
        g = parent.create_group(name, track_order=True)
        g.attrs["NX_class"] = "NXprocess"
        g.attrs["program"] = "diffbench"
        g.attrs["version"] = version
        spec = {
            "arrays": {a: {"dtype": r.kinds[a], "dims": list(r.dims[a])} for a in r.arrays},
            "bool_attrs": [k for k, v in r.attrs.items() if isinstance(v, bool)],
        }
        g.attrs["diffbench_spec"] = json_text(f"result {name!r}", spec)
        for k, v in r.attrs.items():
            g.attrs[k] = np.int8(v) if isinstance(v, bool) else v
        scales: dict[str, h5py.Dataset] = {}
        for a, arr in r.arrays.items():
            for d, n in zip(r.dims[a], arr.shape):
                if d not in scales:
                    scales[d] = dims.pure(g, d, n)
            kind = r.kinds[a]
            dtype = complex_type_of(entry.file) if kind == "complex128" else storage_dtype(kind)
            ds = g.create_dataset(a, data=np.ascontiguousarray(arr), dtype=dtype)
            set_var_attrs(ds, r.units[a], r.long_names[a], kind)
            dims.attach(ds, [scales[d] for d in r.dims[a]])
