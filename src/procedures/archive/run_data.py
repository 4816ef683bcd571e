"""What :func:`procedures.archive.reader.open_run` returns: :class:`RunData`, a run's identity and its data.

:class:`RunIdentity` is the part without data (status, times, versions, metadata, configs, instruments),
which a report keeps after the file is closed. ``§n`` refers to sections of ``docs/reference/hdf5-archive.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import h5py
import numpy as np

from procedures.archive.record_reading import Records
from procedures.archive.result_reading import Result
from procedures.archive.spec import ArchiveError, TableSpec

if TYPE_CHECKING:  # pragma: no cover - typing only
    import xarray


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

    def __enter__(self) -> RunData:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @overload
    def to_xarray(self) -> xarray.DataTree: ...

    @overload
    def to_xarray(self, table: str) -> xarray.Dataset: ...

    def to_xarray(self, table: str | None = None) -> xarray.Dataset | xarray.DataTree:
        """The whole run as an ``xarray.DataTree`` whose groups are the file's (``docs/archive.md``, "Layout"),
        or table ``table`` alone as an ``xarray.Dataset``. Needs xarray, and the run still open.

        Committed rows only; a table's rows are indexed by its axis column when it declares one (for example
        ``frequency_hz``: ``ds.sel(frequency_hz=1e3)``), otherwise by ``row``; complex columns are complex
        variables; variables carry ``units``/``long_name``, uncertainties are ``<column>_u`` variables linked
        by ``ancillary_variables`` (CF, §0.2); the raw records have a ``time`` coordinate in seconds
        (:mod:`procedures.archive.xarray_view`).
        """
        from procedures.archive import xarray_view

        if table is not None:
            return xarray_view.table_dataset(self, table)
        if self._file is None:
            raise ArchiveError(f"{self.path}: the run is closed; call to_xarray() before closing it")
        return xarray_view.run_tree(self, xarray_view.stored_attrs(self._file),
                                    xarray_view.stored_attrs(self._file["entry"]))
