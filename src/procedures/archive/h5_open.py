"""Opening an archive's HDF5 file read-only: plainly, or as a SWMR reader when a writer left it marked open.

A SWMR writer that did not close cleanly leaves the file marked "open for SWMR write"; a plain open is
then refused and a SWMR read is the way in (§1.3 "A crashed SWMR file", §2.1). It never writes. ``§n``
refers to sections of ``docs/reference/hdf5-archive.md``.
"""

from __future__ import annotations

import ctypes
import functools
import os
import re
from pathlib import Path
from typing import Any

import h5py

from procedures.archive.damage_scan import global_heap_problem, is_hdf5
from procedures.archive.spec import ArchiveError


def first_line(e: BaseException) -> str:
    """The first line of an exception's text (HDF5's are whole error stacks), or its type's name."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def open_h5(path: str | os.PathLike[str]) -> tuple[h5py.File, bool]:
    """Open an archive's HDF5 file read-only; returns ``(file, opened_with_swmr)``.

    Tries a plain open first, then, if HDF5 says the file is still marked open for writing (a SWMR
    writer that was killed, or one still writing), a SWMR read (§2.1) with at most
    :data:`SWMR_READ_ATTEMPTS` attempts per metadata read. Raises :class:`ArchiveError` (one line) for a
    missing or unreadable file, a non-HDF5 file or one HDF5 refuses.
    """
    p = Path(path)
    if not p.exists():
        raise ArchiveError(f"{p}: no such file")
    if not p.is_file():
        raise ArchiveError(f"{p}: not a file")
    try:
        signature = is_hdf5(p)
    except OSError as e:
        raise ArchiveError(f"{p}: cannot read it ({e.strerror or first_line(e)})") from None
    if not signature:
        raise ArchiveError(f"{p}: not an HDF5 file (no HDF5 signature); a diffbench archive is an HDF5 file")
    try:
        problem = global_heap_problem(p)
    except (OSError, ValueError) as e:
        raise ArchiveError(f"{p}: cannot read it ({first_line(e)})") from None
    if problem:
        raise ArchiveError(f"{p}: damaged or incomplete archive: {problem}")
    try:
        return h5py.File(p, "r"), False
    except OSError as e:
        if "already open for write" not in str(e):  # truncated, a damaged superblock, ...: damaged
            raise ArchiveError(f"{p}: HDF5 refuses to open it ({first_line(e)}); the file is damaged or "
                               "truncated") from None
    try:
        fid = h5py.h5f.open(os.fsencode(p), h5py.h5f.ACC_RDONLY | h5py.h5f.ACC_SWMR_READ, fapl=_swmr_read_fapl())
        return h5py.File(fid), True
    except OSError as e:
        raise ArchiveError(
            f"{p}: HDF5 refuses to open it ({first_line(e)}); if its writer was killed outside SWMR mode, "
            "run 'h5clear -s' on a copy and open the copy"
        ) from None


#: Metadata read attempts of a SWMR read. A checksum mismatch is retried (a live writer may have been caught
#: mid-write), with a wait that doubles each time: HDF5's default of 100 attempts makes a damaged file
#: hang for hours, while 20 give up after a few milliseconds, still plenty for a torn read.
SWMR_READ_ATTEMPTS = 20


def _swmr_read_fapl() -> h5py.h5p.PropFAID:
    """A file access property list for a SWMR read with :data:`SWMR_READ_ATTEMPTS` (when it can be set)."""
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    setter = _read_attempts_setter()
    if setter is not None:
        setter(ctypes.c_int64(fapl.id), ctypes.c_uint(SWMR_READ_ATTEMPTS))
    return fapl


@functools.lru_cache(maxsize=1)
def _read_attempts_setter() -> Any:
    """``H5Pset_metadata_read_attempts`` of the HDF5 library h5py loaded, or None where it cannot be found.

    h5py does not wrap it. The library is located among the process's mapped files (Linux), so this is the
    very instance h5py uses (another copy would not know h5py's property list ids); elsewhere HDF5's
    default stays.
    """
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            paths = {line.split(None, 5)[-1].strip() for line in fh if "libhdf5" in line}
        lib = next(p for p in sorted(paths) if re.search(r"/libhdf5(?:[-_.][0-9a-z]+)*\.so", p) and "_hl" not in p)
        fn = ctypes.CDLL(lib).H5Pset_metadata_read_attempts
        fn.argtypes = (ctypes.c_int64, ctypes.c_uint)
        fn.restype = ctypes.c_int
        return fn
    except (OSError, StopIteration, AttributeError):
        return None

