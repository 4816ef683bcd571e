"""The files of a run archive: their names while a run is written, and making a name or a file durable.

A run finishing at ``x.h5`` is written as ``x.h5.partial``, whose schema is built first as
``x.h5.partial.creating`` (``docs/archive.md``, "The file's life cycle"). A process kill needs no fsync; a
power loss does (§2.1, "flush is not fsync"). ``§n`` refers to sections of ``docs/reference/hdf5-archive.md``.
"""

from __future__ import annotations

import os
from pathlib import Path

from procedures.archive.spec import CREATING_SUFFIX, PARTIAL_SUFFIX


def final_path_of(path: str | os.PathLike[str]) -> Path:
    """The final archive path for ``path``: ``x.h5.partial`` -> ``x.h5``; ``x.h5`` -> ``x.h5``."""
    p = Path(path)
    return p.with_name(p.name[: -len(PARTIAL_SUFFIX)]) if p.name.endswith(PARTIAL_SUFFIX) else p


def partial_path_of(final: Path) -> Path:
    """Where the run finishing at ``final`` is written: ``x.h5`` -> ``x.h5.partial``."""
    return final.with_name(final.name + PARTIAL_SUFFIX)


def creating_path_of(partial: Path) -> Path:
    """Where the schema of ``partial`` is built before it takes that name: ``x.h5.partial.creating``."""
    return partial.with_name(partial.name + CREATING_SUFFIX)


def fsync_path(path: Path) -> None:
    """Ask the OS to put ``path`` (a file or a directory) on the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """fsync the directory holding ``path``, so that a rename to ``path`` survives a power loss."""
    try:
        fsync_path(path.parent if str(path.parent) else Path("."))
    except OSError:  # some filesystems refuse fsync on directories; the rename is still atomic
        pass


def move_into_place(src: Path, dest: Path) -> None:
    """Give the closed file ``src`` the name ``dest`` so that a crash at any moment leaves one name or the other on
    the whole file: its data on the disk first (fsync), then the atomic rename (``os.replace``), then the folder's
    entry (:func:`fsync_dir`) (§0.3 "write to *.partial ... os.replace"). Raises the OS's error if the file cannot
    be fsynced or renamed; nothing has moved then."""
    fsync_path(src)
    os.replace(src, dest)
    fsync_dir(dest)


def remove_quietly(path: Path) -> None:
    """Delete a half-built file; a failure to delete it is not the error worth reporting."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass
