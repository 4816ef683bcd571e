"""Checked access to an archive that may be damaged: every object and attribute read through these is what
``docs/archive.md`` describes, or a one-line :class:`~procedures.archive.spec.ArchiveError` says what is not.

The reading modules (:mod:`procedures.archive.table_reading`, :mod:`procedures.archive.record_reading`,
:mod:`procedures.archive.result_reading` and :mod:`procedures.archive.reader`) read the file only through
these, so what they return is safe to use.
"""

from __future__ import annotations

import json
from typing import Any

import h5py
import numpy as np

from procedures.archive.h5_open import first_line
from procedures.archive.spec import ArchiveError


def py_value(value: Any) -> Any:
    """An HDF5 attribute value as plain Python (str, int, float, list)."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        return [py_value(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def damaged(obj: h5py.HLObject, what: str) -> ArchiveError:
    """The one-line error for a damaged part of an archive:
    ``<file>: damaged or incomplete archive: <object>: <what>``."""
    return ArchiveError(f"{obj.file.filename}: damaged or incomplete archive: {obj.name}: {what}")


def dataset_in(group: h5py.Group, name: str) -> h5py.Dataset:
    """``group[name]``, which must be a dataset."""
    obj = group.get(name)
    if not isinstance(obj, h5py.Dataset):
        raise damaged(group, f"{name!r} is missing or not a dataset")
    return obj


def group_in(parent: h5py.Group, name: str) -> h5py.Group:
    """``parent[name]``, which must be a group."""
    obj = parent.get(name)
    if not isinstance(obj, h5py.Group):
        raise damaged(parent, f"{name!r} is missing or not a group")
    return obj


_KINDS = {"float64": "f", "int64": "iu", "bool": "iub", "complex128": "c"}


def check_var(ds: h5py.Dataset, kind: str, shape: tuple[int, ...], leading: bool = True) -> None:
    """``ds`` must store values of column dtype ``kind`` (:data:`~procedures.archive.spec.COLUMN_DTYPES`) with
    trailing shape ``shape`` (after one leading row/record axis if ``leading``)."""
    if kind == "str" or kind not in _KINDS:
        ok = h5py.check_string_dtype(ds.dtype) is not None
    else:
        ok = ds.dtype.kind in _KINDS[kind] and ds.dtype.fields is None
    if not ok:
        raise damaged(ds, f"holds {ds.dtype}, not {kind} values")
    got = ds.shape[1:] if leading else ds.shape
    if (leading and ds.ndim != 1 + len(shape)) or tuple(got) != tuple(shape):
        want = ("(row, " + ", ".join(map(str, shape)) + ")") if leading else str(tuple(shape))
        raise damaged(ds, f"has shape {ds.shape}, not {want}")


def check_extent(group: h5py.Group, ds: h5py.Dataset, n: int) -> None:
    """``ds`` (of ``group``) must hold at least the ``n`` committed rows; a SWMR reader refreshes it first."""
    if ds.shape[0] < n and group.file.swmr_mode:
        ds.id.refresh()  # a live SWMR writer may have grown it since this reader cached its metadata
    if ds.shape[0] < n:
        raise ArchiveError(f"{group.file.filename}: {ds.name} holds {ds.shape[0]} rows but {n} are committed; the "
                           "file is damaged")


def read_rows(group: h5py.Group, name: str | h5py.Dataset, n: int) -> np.ndarray:
    """The first ``n`` rows of dataset ``name`` of ``group`` (or of the dataset itself), text as str."""
    ds = name if isinstance(name, h5py.Dataset) else dataset_in(group, name)
    check_extent(group, ds, n)
    if h5py.check_string_dtype(ds.dtype) is not None:
        return ds.asstr()[:n]
    return ds[:n]


def text_attr(obj: h5py.HLObject, key: str) -> str:
    """Text attribute ``key`` of ``obj``: present and a string, or the file is damaged."""
    if key not in obj.attrs:
        raise damaged(obj, f"attribute {key!r} is missing")
    try:
        value = py_value(obj.attrs[key])
    except UnicodeDecodeError:
        raise damaged(obj, f"attribute {key!r} is not UTF-8 text") from None
    if not isinstance(value, str):
        raise damaged(obj, f"attribute {key!r} is {type(value).__name__}, not text")
    return value


def json_attr(obj: h5py.HLObject, key: str, kind: type) -> Any:
    """JSON attribute ``key`` of ``obj``, which must decode to a ``kind`` (dict or list)."""
    try:
        value = json.loads(text_attr(obj, key))
    except (ValueError, RecursionError) as e:
        raise damaged(obj, f"attribute {key!r} is not valid JSON ({first_line(e)})") from None
    if not isinstance(value, kind):
        want = "an object" if kind is dict else "a list"
        raise damaged(obj, f"attribute {key!r} is JSON {type(value).__name__}, not {want}")
    return value


def spec_json(group: h5py.Group) -> dict[str, Any]:
    """The ``@diffbench_spec`` declaration of a table, records or result group (a JSON object)."""
    spec: dict[str, Any] = json_attr(group, "diffbench_spec", dict)
    return spec


