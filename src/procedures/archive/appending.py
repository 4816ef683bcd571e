"""An archive file open for appending in SWMR-write mode, and the commit protocol that makes its rows count.

:func:`open_for_append` opens a closed archive whose schema :func:`~procedures.archive.layout.build_schema`
made, with a writer per dataset continuing after the committed rows (:mod:`procedures.archive.buffers`).
:func:`write_commit` is the protocol of §0.3 and §2.3: write the queued rows, flush, move the counters
(one direct chunk write), flush. The writer :class:`procedures.archive.writer.RunArchive` and the resume
(:mod:`procedures.archive.resume`) both append through these. ``§n`` refers to sections of
``docs/reference/hdf5-archive.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from procedures.archive.buffers import RecordWriters, TableWriters, open_writers
from procedures.archive.io_errors import close_after_io_error, io_cause
from procedures.archive.layout import committed_counts
from procedures.archive.spec import ArchiveError


@dataclass(frozen=True)
class OpenArchive:
    """An archive open for appending: the file, a writer per table and for the records, the counter dataset
    ``/entry/n_committed``, the counts it held when opened (tables first, then the records) and the run id."""

    file: h5py.File
    tables: dict[str, TableWriters]
    records: RecordWriters | None
    counter: h5py.Dataset
    committed: np.ndarray
    run_id: str


def open_for_append(path: Path) -> OpenArchive:
    """Open an archive built by :func:`~procedures.archive.layout.build_schema` (and closed) for appending, in
    SWMR mode.

    The file is opened with ``H5F_ACC_SWMR_WRITE``, so from its first byte written it is marked as a
    SWMR file that a reader can open after a crash (§2.1); there is no moment in which it is open
    for writing without SWMR. Appending continues after the committed rows.
    """
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_V110, h5py.h5f.LIBVER_V110)
    try:
        fid = h5py.h5f.open(os.fsencode(path), h5py.h5f.ACC_RDWR | h5py.h5f.ACC_SWMR_WRITE, fapl=fapl)
    except (OSError, RuntimeError) as exc:
        raise ArchiveError(f"{path}: cannot open the archive for writing: {io_cause(exc)}") from exc
    f = h5py.File(fid)
    try:
        entry = f["entry"]
        counts = committed_counts(entry)
        if any(n < 0 for n in counts.values()):
            raise ArchiveError(f"{path}: negative committed counts {counts}; the file is damaged")
        tables, records = open_writers(entry, counts)
        return OpenArchive(
            file=f,
            tables=tables,
            records=records,
            counter=entry["n_committed"],
            committed=np.array(list(counts.values()), dtype=np.int64),
            run_id=str(entry.attrs["run_id"]),
        )
    except BaseException:
        try:
            f.close()  # nothing was written: a plain close (it also clears the SWMR-write mark)
        except (OSError, RuntimeError):
            close_after_io_error(f)
        raise


def write_counters(archive: OpenArchive, counts: np.ndarray) -> None:
    """Rewrite every counter at once and flush: one chunk, one write, so they reach the file together or not at all."""
    archive.counter.id.write_direct_chunk((0,), counts)
    archive.file.flush()


def write_commit(archive: OpenArchive, committed: np.ndarray, *, fsync: bool) -> np.ndarray:
    """Write every queued row and record, flush, move the counters (if they changed), flush; return the new counts.

    ``committed`` holds the counts on disk before. ``flush`` is HDF5's own ``H5Fflush``; ``fsync`` also asks
    the OS to put the bytes on the disk, which a killed process does not need but a power loss does (§2.1).
    Raises what h5py raises on a failed write (``OSError``, ``RuntimeError``).
    """
    for t in archive.tables.values():
        for w in t.writers.values():
            w.write_out()
    if archive.records is not None:
        for w in archive.records.small():
            w.write_out()
    counts = np.array([t.n for t in archive.tables.values()] + ([archive.records.n] if archive.records else []),
                      dtype=np.int64)
    archive.file.flush()
    if not np.array_equal(counts, committed):
        write_counters(archive, counts)
        committed = counts
    if fsync:
        os.fsync(archive.file.id.get_vfd_handle())
    return committed


def close_unfinished(file: h5py.File) -> None:
    """Close an archive without finishing it; it stays on disk as it is (status ``running``).

    A failed close (a full disk) leaves the file to :func:`~procedures.archive.io_errors.close_after_io_error`
    and raises.
    """
    try:
        file.close()
    except (OSError, RuntimeError):
        close_after_io_error(file)
        raise


def failed_write(file: h5py.File, where: Path, action: str, exc: BaseException) -> str:
    """Close ``file`` after a failed write without writing more, and return the one-line error for it.

    The file keeps what was committed before (as a killed writer's would).
    """
    message = (f"{where}: cannot {action}: {io_cause(exc)}; the file keeps what was "
               "committed before it (resume the run once the cause is fixed)")
    close_after_io_error(file)
    return message
