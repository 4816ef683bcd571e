"""Adding fit results to a finished run archive without ever editing it in place.

A finished archive is closed for good (``RunArchive.finish`` wrote its results and renamed it). To add or
replace fits (``diffbench fit RUN.h5``), :func:`add_results` copies it to a temporary file beside the
destination, writes the result groups there in the archive's own result format
(:func:`procedures.archive.result_groups.prepare_result` / :func:`~procedures.archive.result_groups.write_results`, the
code ``RunArchive.write_result`` and ``finish`` use), replacing groups of the same name, flushes, reads the copy
back with :func:`procedures.archive.reader.open_run`, and only then moves it over the destination
(:func:`procedures.archive.files.move_into_place`: fsync, ``os.replace``, atomic on POSIX and Windows, and fsync of
the folder; docs/reference/hdf5-archive.md §0.3). A kill at any moment leaves either the old file or the new one,
never a half-written archive; the run's status, tables and records are untouched.

HDF5 does not reclaim the space of deleted groups, so refitting many times grows the file by the size of
the old fit groups (a few tens of kB each); ``h5repack`` compacts it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py

from procedures.archive.files import move_into_place
from procedures.archive.io_errors import close_after_io_error, io_cause
from procedures.archive.reader import open_run
from procedures.archive.result_groups import prepare_result, write_results
from procedures.archive.writer import FINAL_STATUSES, LIBVER, RESULTS_GROUP, ArchiveError
from procedures.fitting.run_fits import RESULT_PREFIX, fit_payload

if TYPE_CHECKING:  # pragma: no cover - typing only
    from procedures.fitting.core import FitResult



def add_results(path: str | os.PathLike[str], fits: list[FitResult],
                out: str | os.PathLike[str] | None = None,
                extra: Mapping[str, Mapping[str, Any]] | None = None, *, only_these_fits: bool = False) -> Path:
    """Write ``fits`` (as ``fit_<name>`` results) into the finished archive ``path``, or into a copy ``out``.

    ``extra``: further results to write beside the fits, name -> the keyword arguments of
    :func:`procedures.archive.result_groups.prepare_result` (``arrays``, ``attrs``, ``dims`` ...): a lot refit's
    verdicts judged again (:mod:`procedures.lot.lot_refit`). Results of the same name are replaced;
    ``only_these_fits`` also removes every other ``fit_<name>`` result (a fit the refit did not make is not left
    beside the ones it did, as if it had). Returns the path written. Raises :class:`ArchiveError` (one line)
    for a file that is not a finished diffbench archive (a ``.partial`` or a run still marked running) or an
    ``out`` that already exists; the source is never modified in either case.
    """
    src = Path(path)
    dest = Path(out) if out is not None else src
    with open_run(src) as run:
        status = run.status
    if status not in FINAL_STATUSES:
        raise ArchiveError(f"{src}: the run is not finished (status {status!r}); fits are added to finished "
                           "archives only (resume the run first)")
    if out is not None and dest.exists() and not (src.exists() and dest.resolve() == src.resolve()):
        raise ArchiveError(f"{dest}: already exists; give a new file for -o")
    payloads = [fit_payload(f) for f in fits] + list((extra or {}).items())
    pending = {name: prepare_result(name, **kw) for name, kw in payloads}
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.fit-tmp")
    try:
        shutil.copyfile(src, tmp)
        _write_copy(tmp, pending, drop_other_fits=only_these_fits)
        with open_run(tmp) as check:
            missing = [n for n in pending if n not in check.results]
            if check.status != status or missing:
                raise ArchiveError(f"{tmp}: the copy does not read back as written ({', '.join(missing) or 'status'})")
        move_into_place(tmp, dest)
    except (OSError, RuntimeError) as exc:  # a read-only folder, a full disk: nothing was changed
        _remove(tmp)
        raise ArchiveError(f"{dest}: cannot write the fits (through {tmp.name}): {io_cause(exc)}; "
                           f"{src.name} is unchanged") from exc
    except BaseException:
        _remove(tmp)
        raise
    return dest


def _write_copy(tmp: Path, pending: dict[str, Any], *, drop_other_fits: bool = False) -> None:
    """Replace the result groups of ``pending`` in the copy ``tmp`` (and, with ``drop_other_fits``, remove the
    ``fit_`` groups not among them) and close it (without another write if a write failed: a full disk would fail
    the close too)."""
    f = h5py.File(tmp, "r+", libver=LIBVER)
    try:
        results = f["entry"][RESULTS_GROUP]
        stale = [n for n in results if n.startswith(RESULT_PREFIX)] if drop_other_fits else []
        for name in {*pending, *stale}:
            if name in results:
                del results[name]
        write_results(f["entry"], pending)
        f.flush()
        f.close()
    except BaseException:
        close_after_io_error(f)
        raise


def _remove(path: Path) -> None:
    """Delete the temporary copy; failing to is not the error worth reporting."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass
