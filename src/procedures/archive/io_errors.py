"""A failed file operation in one line: what the OS said, and how to close an HDF5 file whose writes failed.

Every archive error is one line (``docs/archive.md``), so HDF5's multi-line error stacks are reduced to the
OS's own words here; :func:`close_after_io_error` is the one safe way to let go of a file on a full or
vanished disk (the file keeps what a killed writer's would, §2.3). ``§n`` refers to sections of
``docs/reference/hdf5-archive.md``.
"""

from __future__ import annotations

import os
import re

import h5py

# HDF5 puts the OS's own text into its messages: "..., errno = 28, error message = 'No space left on device', ..."
_HDF5_OS_MESSAGE = re.compile(r"error message = '([^']*)'")
_HDF5_ERRNO = re.compile(r"errno = (\d+)")
# A reason or cause longer than this is cut (it goes into one line of a message or an attribute).
MAX_LINE_CHARS = 300


def one_line(text: str, limit: int = MAX_LINE_CHARS) -> str:
    """The first non-empty line of ``text``, whitespace collapsed, cut to ``limit`` characters (with "...")."""
    line = next((ln for ln in str(text).splitlines() if ln.strip()), "")
    line = " ".join(line.split())
    return line if len(line) <= limit else line[: max(limit - 3, 0)] + "..."


def io_cause(exc: BaseException) -> str:
    """What the OS said about a failed file operation, in a few words ("No space left on device").

    h5py raises ``OSError``/``RuntimeError`` whose text is HDF5's multi-line error stack; the OS's own
    message (and errno) sits inside it. A plain ``OSError`` carries ``strerror``.
    """
    text = str(exc)
    found = _HDF5_OS_MESSAGE.search(text)
    if found and found.group(1).strip():
        return one_line(found.group(1))
    errno = exc.errno if isinstance(exc, OSError) and exc.errno else None
    if errno is None:
        in_text = _HDF5_ERRNO.search(text)
        errno = int(in_text.group(1)) if in_text and int(in_text.group(1)) else None
    if errno is not None:
        return one_line(os.strerror(errno))
    return one_line(text) or type(exc).__name__


def close_after_io_error(f: h5py.File) -> None:
    """Close an HDF5 file whose writes failed (a full disk, a vanished or read-only file system) without
    writing anything more to it.

    Closing flushes HDF5's metadata cache; on a full disk that flush fails again, the file stays open in
    the library, h5py reports errors while freeing its objects and the library can crash at interpreter
    exit. So on POSIX the file's descriptor is first pointed at ``/dev/null``: the close then succeeds,
    its writes go nowhere, and the file on disk keeps what it held before the failure (like a killed
    writer's, §2.3). Never raises.
    """
    try:
        if not f.id.valid:
            return
        if os.name == "posix":
            fd = f.id.get_vfd_handle()
            if isinstance(fd, int) and fd >= 0:
                sink = os.open(os.devnull, os.O_RDWR)
                try:
                    os.dup2(sink, fd)
                finally:
                    os.close(sink)
    except Exception:  # noqa: BLE001 - best effort; the close below is what matters
        pass
    try:
        f.close()
    except Exception:  # noqa: BLE001 - nothing more can be done for this file
        pass
