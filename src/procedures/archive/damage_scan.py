"""The damage scan: checks of an archive file's bytes that must pass before HDF5 is let near it.

A file that is not HDF5 at all, or whose text storage a power loss zeroed, would make HDF5 fail obscurely or
never return; :func:`is_hdf5` and :func:`global_heap_problem` find those from the bytes alone, with plain
reads. :func:`procedures.archive.h5_open.open_h5` runs them before it opens a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def is_hdf5(path: Path) -> bool:
    """True if ``path`` carries the HDF5 signature at offset 0, 512, 1024, 2048, ... (the superblock search).

    Checked by hand rather than with ``h5py.is_hdf5`` because that one opens the file through the library,
    which a crashed SWMR file refuses.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        offset = 0
        while offset + len(_HDF5_SIGNATURE) <= size:
            fh.seek(offset)
            if fh.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE:
                return True
            offset = 512 if offset == 0 else offset * 2
    return False


_GCOL = b"GCOL"


def global_heap_problem(path: Path) -> str:
    """What is wrong with a global heap collection of ``path`` that HDF5 would not survive, or "".

    Variable-length strings live in global heap collections ("GCOL"), the one HDF5 structure of this
    format without a checksum. HDF5 2.0 walks a collection's objects by their sizes, and an object header
    of zeros (a zeroed block after a power loss) makes that walk stand still: reading any string of the
    collection then never returns. So every collection is walked here first, from the file's bytes (plain
    reads: a memory map would die of SIGBUS on a hole in a file of a full tmpfs): a header that does not
    advance, or an object running past its collection, is reported. A "GCOL" that is not followed by a
    version-1 collection header that fits in the file is not a collection and is skipped.
    """
    size = path.stat().st_size
    block = 1 << 22
    with open(path, "rb") as fh:
        start = 0
        while start < size:
            fh.seek(start)
            data = fh.read(block + len(_GCOL) - 1)
            at = data.find(_GCOL)
            while 0 <= at < block:
                problem = _collection_problem(fh, start + at, size)
                if problem:
                    return problem
                at = data.find(_GCOL, at + 1)
            start += block
    return ""


def _read_at(fh: BinaryIO, offset: int, n: int) -> bytes:
    fh.seek(offset)
    return fh.read(n)


def _collection_problem(fh: BinaryIO, at: int, size: int) -> str:
    """Walk the global heap collection that may start at byte ``at`` as HDF5 does (see :func:`global_heap_problem`)."""
    head = _read_at(fh, at, 16)
    if len(head) < 16 or head[4] != 1 or head[5:8] != b"\0\0\0":
        return ""
    end = at + int.from_bytes(head[8:16], "little")
    if not at + 16 < end <= size:
        return ""
    whole = _read_at(fh, at, end - at) if end - at <= (1 << 20) else None
    p = at + 16
    while p + 16 <= end:
        header = whole[p - at:p - at + 16] if whole is not None else _read_at(fh, p, 16)
        index = int.from_bytes(header[0:2], "little")
        length = int.from_bytes(header[8:16], "little")
        need = 16 + (length + 7) // 8 * 8 if index else length
        if need == 0:
            return f"the global heap (text storage) at byte {at} holds a zeroed object header at byte {p}"
        if p + need > end:
            return f"the global heap (text storage) at byte {at} has an object running past its end"
        p += need
    return ""

