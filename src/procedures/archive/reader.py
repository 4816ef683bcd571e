"""Reading run archives written by :mod:`procedures.archive.writer`: plain numpy/dict objects, xarray on request.

``open_run(path)`` works on finished archives, on the ``.partial`` file a killed writer left behind and
on resumed runs. It opens the file plainly, and with ``swmr=True`` when the plain open is refused (a SWMR
writer that did not close cleanly leaves the file marked "open for SWMR write"; §1.3 "A crashed SWMR
file", §2.1). It never writes. Tables are trimmed to ``/entry/n_committed``: a reader trusts the commit
counters, never the dataset extents (§0.3, §2.3). Records stay on disk until asked for.

The reading is done by the modules beside this one, whose public names are re-exported here: the damage
scan before HDF5 opens the file (:mod:`procedures.archive.damage_scan`), the open itself
(:mod:`procedures.archive.h5_open`), checked access to objects and attributes
(:mod:`procedures.archive.checked_access`), the tables (:mod:`procedures.archive.table_reading`), the
records (:mod:`procedures.archive.record_reading`), the results (:mod:`procedures.archive.result_reading`)
and what comes back (:mod:`procedures.archive.run_data`).

``§n`` refers to sections of ``docs/reference/hdf5-archive.md``; the layout is in ``docs/archive.md``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from procedures.archive.checked_access import damaged, group_in, json_attr, py_value, text_attr
from procedures.archive.h5_open import SWMR_READ_ATTEMPTS, first_line, open_h5
from procedures.archive.record_reading import Records, waveform_spec
from procedures.archive.result_reading import Result, read_result
from procedures.archive.run_data import RunData, RunIdentity
from procedures.archive.spec import (
    FILE_FORMAT,
    FINAL_STATUSES,
    FORMAT_VERSION,
    INSTRUMENT_TEXT_KEYS,
    RESULTS_GROUP,
    STATUS_RUNNING,
    WAVEFORMS_GROUP,
    ArchiveError,
    TableSpec,
)
from procedures.archive.table_reading import read_counts, read_table, table_spec

# The reader's public names; the types live in the modules named in the docstring.
__all__ = ["SWMR_READ_ATTEMPTS", "Records", "Result", "RunData", "RunIdentity", "open_h5", "open_run"]

_STATUSES = (STATUS_RUNNING, *FINAL_STATUSES)


def open_run(path: str | os.PathLike[str]) -> RunData:
    """Open a run archive (finished, ``.partial`` of a killed writer, or resumed) and read what was committed.

    Raises :class:`ArchiveError` with one line if the file is missing, is not HDF5, is HDF5 but not a
    diffbench archive, or is damaged beyond its committed data.
    """
    p = Path(path)
    f, swmr = open_h5(p)
    try:
        if py_value(f.attrs.get("file_format")) != FILE_FORMAT:
            raise ArchiveError(f"{p}: an HDF5 file, but not a diffbench archive (no file_format={FILE_FORMAT!r} "
                               "attribute)")
        version = py_value(f.attrs.get("format_version", ""))
        if not isinstance(version, str) or version.split(".")[0] != FORMAT_VERSION.split(".")[0]:
            raise ArchiveError(f"{p}: archive format {version!r} is not readable by this diffbench (reads "
                               f"{FORMAT_VERSION})")
        return _load(p, f, swmr)
    except ArchiveError as e:
        f.close()
        raise ArchiveError(first_line(e)) from None
    except Exception as e:  # noqa: BLE001 - whatever a damaged file makes h5py, numpy or json raise is one line
        f.close()
        raise ArchiveError(f"{p}: damaged or incomplete archive: {first_line(e)}") from None


def _load(p: Path, f: h5py.File, swmr: bool) -> RunData:
    """Read and check everything but the codes. Anything that is not as ``docs/archive.md`` describes it (a
    missing group, a non-text attribute, JSON of the wrong shape, a dataset of the wrong type or shape,
    counters beyond the data) raises :class:`ArchiveError`, so what is returned is safe to use."""
    status = text_attr(f, "status")
    if status not in _STATUSES:
        raise damaged(f, f"status {status[:40]!r} is not one of {', '.join(_STATUSES)}")
    entry = group_in(f, "entry")
    tables, specs, records = _load_parts(entry)
    instruments = _load_instruments(entry)
    configs_group = group_in(entry, "configs")
    configs = {k: text_attr(configs_group, k) for k in configs_group.attrs if k != "NX_class"}
    results = _load_results(entry, status)
    resumed = json_attr(entry, "resumed_json", list)
    if not all(isinstance(r, dict) for r in resumed):
        raise damaged(entry, "attribute 'resumed_json' is not a list of objects")
    return RunData(
        path=p,
        status=status,
        reason=text_attr(f, "reason"),
        run_id=text_attr(entry, "run_id"),
        start_time=text_attr(entry, "start_time"),
        end_time=text_attr(entry, "end_time"),
        software_version=text_attr(entry, "software_version"),
        format_version=text_attr(f, "format_version"),
        metadata=json_attr(entry, "metadata_json", dict),
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


def _load_parts(entry: h5py.Group) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, TableSpec], Records | None]:
    """Every part ``/entry/part`` counts: the tables' committed rows and declarations, and the records."""
    counts = read_counts(entry)
    tables: dict[str, dict[str, np.ndarray]] = {}
    specs: dict[str, TableSpec] = {}
    records: Records | None = None
    for name, n in counts.items():
        group = group_in(entry, name)
        role = py_value(group.attrs.get("diffbench_role"))
        if role == "table" and name != WAVEFORMS_GROUP:
            specs[name] = table_spec(group, name)
            tables[name] = read_table(group, specs[name], n)
        elif role == "waveforms" and name == WAVEFORMS_GROUP:
            records = Records(group, waveform_spec(group), n)
        else:
            raise damaged(group, f"is counted in /entry/part but its diffbench_role is {role!r}")
    for name, obj in entry.items():
        if (isinstance(obj, h5py.Group) and name not in counts
                and py_value(obj.attrs.get("diffbench_role")) in ("table", "waveforms")):
            raise damaged(obj, "is a table that /entry/part does not count")
    return tables, specs, records


def _load_instruments(entry: h5py.Group) -> dict[str, dict[str, Any]]:
    """``/entry/instrument/<name>``: the text attributes and the settings of every instrument."""
    instruments: dict[str, dict[str, Any]] = {}
    for name, g in group_in(entry, "instrument").items():
        if not isinstance(g, h5py.Group):
            raise damaged(g, "is not an instrument group")
        instruments[name] = {k: text_attr(g, k) for k in INSTRUMENT_TEXT_KEYS}
        instruments[name]["settings"] = json_attr(g, "settings_json", dict)
    return instruments


def _load_results(entry: h5py.Group, status: str) -> dict[str, Result]:
    """The whole-run results, of a run that is no longer ``running``.

    Results are written in finish() before the status changes; a run still "running" may have been killed
    while writing them, so its results group is not trusted.
    """
    results: dict[str, Result] = {}
    if status != STATUS_RUNNING:
        for name, g in group_in(entry, RESULTS_GROUP).items():
            if not isinstance(g, h5py.Group):
                raise damaged(g, "is not a result group")
            results[name] = read_result(g)
    return results
