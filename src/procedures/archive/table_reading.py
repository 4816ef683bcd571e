"""Reading a run archive's tables: each table's declaration, its committed rows, and the commit counters.

A table's rows are trimmed to its count in ``/entry/n_committed``: a reader trusts the commit counters, never
the dataset extents (§0.3, §2.3). ``§n`` refers to sections of ``docs/reference/hdf5-archive.md``; the
layout is in ``docs/archive.md``.
"""

from __future__ import annotations

import h5py
import numpy as np

from procedures.archive.checked_access import check_var, damaged, dataset_in, read_rows, spec_json
from procedures.archive.h5_open import first_line
from procedures.archive.spec import ArchiveError, TableSpec, stored_vars, validate_table_spec


def read_table(group: h5py.Group, spec: TableSpec, n: int) -> dict[str, np.ndarray]:
    """The first ``n`` rows of the table in ``group`` declared by ``spec``, by row key (complex columns as
    complex, from one complex dataset or from format 1.0's ``_re``/``_im`` pair; booleans as bool, text as str)."""
    out: dict[str, np.ndarray] = {}
    for sv in stored_vars(spec, complex_pairs=stores_complex_pairs(group, spec)):
        parts: dict[str, np.ndarray] = {}
        for h5name, part in sv.datasets:
            ds = dataset_in(group, h5name)
            check_var(ds, "float64" if part in ("re", "im") else sv.dtype, sv.shape)
            parts[part] = read_rows(group, ds, n)
            if sv.is_uncertainty and sv.dtype == "float64" and np.any(parts[part] < 0):
                raise damaged(ds, "holds a negative uncertainty (the writer refuses them)")
        if len(parts) == 2:
            out[sv.key] = parts["re"] + 1j * parts["im"]
        elif sv.dtype == "bool":
            out[sv.key] = parts["value"].astype(bool)
        else:
            out[sv.key] = parts["value"]
    return out


def stores_complex_pairs(group: h5py.Group, spec: TableSpec) -> bool:
    """Whether the table in ``group`` stores its complex columns as format 1.0's ``_re``/``_im`` float pairs
    (the first complex column's ``<name>_re`` is there and ``<name>`` is not)."""
    first = next((name for name, col in spec.columns.items() if col.dtype == "complex128"), None)
    return first is not None and first not in group and f"{first}_re" in group


def table_spec(group: h5py.Group, name: str) -> TableSpec:
    """A table's declaration, decoded and checked like a new one (:func:`validate_table_spec`)."""
    d = spec_json(group)
    try:
        spec = TableSpec.from_json(d)
        validate_table_spec(name, spec)
        if not isinstance(spec.long_name, str):
            raise ArchiveError("long_name is not text")
    except (ArchiveError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise damaged(group, f"diffbench_spec is not a valid table declaration ({first_line(e)})") from None
    return spec


def read_counts(entry: h5py.Group) -> dict[str, int]:
    """``{part: committed rows}`` from ``/entry/part`` and ``/entry/n_committed``, checked."""
    part, counter = dataset_in(entry, "part"), dataset_in(entry, "n_committed")
    if h5py.check_string_dtype(part.dtype) is None or part.ndim != 1:
        raise damaged(part, "is not a list of names")
    if counter.dtype.kind not in "iu" or counter.shape != part.shape:
        raise damaged(counter, f"is {counter.dtype} {counter.shape}, not one integer per part {part.shape}")
    names = [str(s) for s in part.asstr()[()]]
    values = [int(n) for n in counter[()]]
    if len(set(names)) != len(names):
        raise damaged(part, "names a table twice")
    if any(n < 0 for n in values):
        raise damaged(counter, f"holds a negative count {values}")
    return dict(zip(names, values))


