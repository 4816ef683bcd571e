"""Resuming an interrupted run archive: a new archive with the same schema and exactly the committed data.

:func:`resume_run` is :meth:`procedures.archive.RunArchive.resume`: it reads the interrupted file with
:func:`procedures.archive_reader.open_run` (never modifying it), builds a fresh schema, copies the
committed rows and records (codes chunk by chunk, byte for byte) and hands back a writer ready for the
next point. The file names and renames are in ``docs/archive.md`` ("Resume").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np

from .archive_buffers import RecordWriters
from .archive_layout import (
    build_schema,
    creating_path_of,
    final_path_of,
    fsync_dir,
    partial_path_of,
    software_version,
    utc_now,
)
from .archive_reader import Records, open_run
from .archive_spec import PARTIAL_SUFFIX, RECORD_VARS, RESUMABLE_STATUSES, ArchiveError, coerce, split_parts

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .archive import RunArchive


@dataclass(frozen=True)
class Committed:
    """What :meth:`RunArchive.resume` carried over from the interrupted archive.

    ``tables[name]`` is a dict of numpy arrays (as :func:`procedures.archive_reader.open_run` returns them)
    holding exactly the committed rows; ``record_points`` is the point index of every committed record;
    ``source`` is where the interrupted file now lives (it is never modified).
    """

    tables: dict[str, dict[str, np.ndarray]]
    record_points: np.ndarray
    source: str

    def n_rows(self, table: str) -> int:
        """Committed rows of ``table``."""
        cols = self.tables[table]
        return len(next(iter(cols.values())))


def resume_run(
    writer: type["RunArchive"],
    path: str | os.PathLike[str],
    *,
    out_path: str | os.PathLike[str] | None = None,
    fsync: bool = False,
) -> tuple["RunArchive", Committed]:
    """:meth:`RunArchive.resume` (see there), with ``writer`` the class whose writers it opens."""
    src = Path(path)
    if out_path is not None and final_path_of(Path(out_path)).resolve() == final_path_of(src).resolve():
        out_path = None  # "continue under the run's own name" is the default
    final = final_path_of(src) if out_path is None else Path(out_path)
    if final.name.endswith(PARTIAL_SUFFIX):
        raise ArchiveError(f"{final}: out_path must be a final name, without {PARTIAL_SUFFIX!r}")
    partial = partial_path_of(final)
    now = utc_now()
    stamp = now.replace("-", "").replace(":", "").split(".")[0] + "Z"
    moved = None
    if out_path is None:
        moved = final.with_name(f"{final.stem}.interrupted-{stamp}{final.suffix}")
        k = 1
        while moved.exists():
            moved = final.with_name(f"{final.stem}.interrupted-{stamp}-{k}{final.suffix}")
            k += 1

    with open_run(src) as run:
        if run.status not in RESUMABLE_STATUSES:
            hint = f"; rename it to {final_path_of(src)}" if src.name.endswith(PARTIAL_SUFFIX) else ""
            raise ArchiveError(f"{src}: status is {run.status!r}; only {', '.join(RESUMABLE_STATUSES)} runs can be resumed{hint}")
        for p in (final, partial) if out_path is not None else (partial,):
            if p.exists() and p.resolve() != src.resolve():
                raise ArchiveError(f"{p}: already exists; move it away before resuming {src}")
        if out_path is None and final.exists() and final.resolve() != src.resolve():
            raise ArchiveError(f"{final}: a finished archive already has this run's final name; pass out_path")
        specs = run.table_specs
        wspec = run.records.spec if run.records is not None else None
        resumed = list(run.resumed) + [
            {
                "from": str(src),
                "moved_to": str(moved) if moved is not None else None,
                "at": now,
                "status": run.status,
                "reason": run.reason,
                "rows": {t: run.n_rows(t) for t in specs},
                "records": len(run.records) if run.records is not None else 0,
                "opened_with_swmr": run.opened_with_swmr,
                "software_version": software_version(),
            }
        ]
        creating = creating_path_of(partial)
        build_schema(
            creating,
            metadata=run.metadata,
            configs=run.configs,
            instruments=run.instruments,
            tables=specs,
            waveform_spec=wspec,
            run_id=run.run_id,
            start_time=run.start_time,
            resumed=resumed,
        )
        try:
            tmp = writer._open_for_append(creating, final=final, fsync=True)
            try:
                for tname, t in tmp._tables.items():
                    cols = run.tables[tname]
                    n = run.n_rows(tname)
                    for sv in t.vars:
                        arr = coerce(sv.dtype, cols[sv.key], (n,) + sv.shape, f"table {tname!r} column {sv.key!r}")
                        for h5name, data in split_parts(sv, arr).items():
                            t.writers[h5name].append(data)
                if tmp._records is not None and run.records is not None:
                    copy_records(run.records, tmp._records)
                tmp.commit(fsync=True)
            finally:
                tmp._abandon()
        except BaseException:
            creating.unlink(missing_ok=True)
            raise
        committed = Committed(
            tables={t: dict(cols) for t, cols in run.tables.items()},
            record_points=run.records.point.copy() if run.records is not None else np.zeros(0, dtype=np.int64),
            source=str(moved if moved is not None else src),
        )
    # Both files are closed now: only closed files are renamed (this also works on Windows). The
    # interrupted file moves aside unchanged; the copy takes the .partial name and is reopened in
    # SWMR-write mode. A kill between the two renames leaves both intact under their names.
    if moved is not None:
        os.rename(src, moved)
    os.replace(creating, partial)
    fsync_dir(partial)
    ar = writer._open_for_append(partial, final=final, fsync=fsync)
    return ar, committed


def copy_records(src: Records, dst: RecordWriters) -> None:
    """Copy the committed records of a reader's :class:`~procedures.archive_reader.Records` into ``dst``.

    Codes go chunk by chunk with HDF5's direct chunk read/write: byte-identical, no recompression.
    """
    n = len(src)
    if n == 0:
        return
    C, N = len(dst.spec.channels), dst.spec.n_samples
    for name, _, _, _, dtype in RECORD_VARS:
        dst.rows[name].append(np.ascontiguousarray(getattr(src, name), dtype=dtype))
    sds: h5py.Dataset = src.dataset
    dds = dst.code.ds
    same_layout = sds.chunks == dds.chunks and sds.compression == dds.compression and sds.shuffle == dds.shuffle
    if same_layout:
        dds.id.set_extent((n, C, N))
        for i in range(n):
            for c in range(C):
                mask, data = sds.id.read_direct_chunk((i, c, 0))
                dds.id.write_direct_chunk((i, c, 0), data, mask)
        dst.code.n = n
    else:
        for i in range(n):
            dst.code.append(np.ascontiguousarray(sds[i], dtype=dds.dtype))
