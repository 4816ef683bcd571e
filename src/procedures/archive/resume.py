"""Resuming an interrupted run archive: a new archive with the same schema and exactly the committed data.

:func:`resume_run` does the file work of :meth:`procedures.archive.writer.RunArchive.resume`: it reads the
interrupted file with :func:`procedures.archive.reader.open_run` (never modifying it), builds a fresh
schema, copies the committed rows and records (codes chunk by chunk, byte for byte), commits them and
puts the copy in place as ``<final>.partial``, closed, for the writer to reopen. The file names and
renames are in ``docs/archive.md`` ("Resume records"). :func:`check_resumable` says beforehand, without
touching the file, whether a resume with a given procedure config will work.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from procedures.archive.appending import OpenArchive, close_unfinished, failed_write, open_for_append, write_commit
from procedures.archive.buffers import RecordWriters
from procedures.archive.declaration import RunDeclaration
from procedures.archive.files import creating_path_of, final_path_of, fsync_dir, partial_path_of, remove_quietly
from procedures.archive.io_errors import io_cause, one_line
from procedures.archive.layout import RunStamp, build_schema
from procedures.archive.reader import open_run
from procedures.archive.record_reading import Records
from procedures.archive.run_data import RunData
from procedures.archive.spec import PARTIAL_SUFFIX, RECORD_VARS, RESUMABLE_STATUSES, ArchiveError, coerce, split_parts
from procedures.archive.stamps import software_version, utc_now

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@dataclass(frozen=True)
class Committed:
    """What :meth:`~procedures.archive.writer.RunArchive.resume` carried over from the interrupted archive.

    ``tables[name]`` is a dict of numpy arrays (as :func:`procedures.archive.reader.open_run` returns them)
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


@dataclass(frozen=True)
class _Target:
    """Where a resume writes: the run's ``final`` name, its ``partial`` file, where the interrupted file moves
    (``moved``, None when it stays), and the time of the resume (``at``, ISO 8601 UTC)."""

    final: Path
    partial: Path
    moved: Path | None
    at: str


def resume_run(path: str | os.PathLike[str], *,
               out_path: str | os.PathLike[str] | None = None) -> tuple[Path, Committed]:
    """The file work of :meth:`~procedures.archive.writer.RunArchive.resume` (see there for ``path`` and
    ``out_path``): afterwards ``<final>.partial`` holds the committed data, closed. Returns the run's final
    path and what was carried over."""
    src = Path(path)
    if out_path is not None and final_path_of(Path(out_path)).resolve() == final_path_of(src).resolve():
        out_path = None  # "continue under the run's own name" is the default
    target = _target(src, out_path)
    with open_run(src) as run:
        _check_target(run, src, target, keep_name=out_path is None)
        creating = creating_path_of(target.partial)
        stamp = RunStamp(run_id=run.run_id, start_time=run.start_time, resumed=_history(run, src, target))
        declaration = RunDeclaration(metadata=run.metadata, configs=run.configs, instruments=run.instruments,
                                     tables=run.table_specs,
                                     waveform_spec=run.records.spec if run.records is not None else None)
        try:
            build_schema(creating, declaration, stamp)
        except (OSError, RuntimeError) as exc:
            raise ArchiveError(f"{creating}: cannot create the resumed archive: {io_cause(exc)}") from exc
        try:
            _copy_committed(run, src, creating, target.partial)
        except (OSError, RuntimeError) as exc:
            remove_quietly(creating)
            raise ArchiveError(f"{creating}: cannot write the resumed archive: {io_cause(exc)}") from exc
        except BaseException:
            remove_quietly(creating)
            raise
        committed = Committed(
            tables={t: dict(cols) for t, cols in run.tables.items()},
            record_points=run.records.point.copy() if run.records is not None else np.zeros(0, dtype=np.int64),
            source=str(target.moved if target.moved is not None else src),
        )
    _move_into_place(src, creating, target)
    return target.final, committed


def _target(src: Path, out_path: str | os.PathLike[str] | None) -> _Target:
    """Where the resumed run goes: under its own name (the interrupted file moves aside) or to ``out_path``."""
    final = final_path_of(src) if out_path is None else Path(out_path)
    if final.name.endswith(PARTIAL_SUFFIX):
        raise ArchiveError(f"{final}: out_path must be a final name, without {PARTIAL_SUFFIX!r}")
    now = utc_now()
    stamp = now.replace("-", "").replace(":", "").split(".")[0] + "Z"
    moved = None
    if out_path is None:
        moved = final.with_name(f"{final.stem}.interrupted-{stamp}{final.suffix}")
        k = 1
        while moved.exists():
            moved = final.with_name(f"{final.stem}.interrupted-{stamp}-{k}{final.suffix}")
            k += 1
    return _Target(final=final, partial=partial_path_of(final), moved=moved, at=now)


def _check_target(run: RunData, src: Path, target: _Target, *, keep_name: bool) -> None:
    """The run must be resumable, and the files the resume makes must not exist yet."""
    if run.status not in RESUMABLE_STATUSES:
        hint = f"; rename it to {final_path_of(src)}" if src.name.endswith(PARTIAL_SUFFIX) else ""
        raise ArchiveError(f"{src}: status is {run.status!r}; only {', '.join(RESUMABLE_STATUSES)} runs can be "
                           f"resumed{hint}")
    for p in (target.partial,) if keep_name else (target.final, target.partial):
        if p.exists() and p.resolve() != src.resolve():
            raise ArchiveError(f"{p}: already exists; move it away before resuming {src}")
    if keep_name and target.final.exists() and target.final.resolve() != src.resolve():
        raise ArchiveError(f"{target.final}: a finished archive already has this run's final name; pass out_path")


def _history(run: RunData, src: Path, target: _Target) -> list[dict[str, Any]]:
    """The run's resume history with this resume added (``docs/archive.md``, "Resume records")."""
    return list(run.resumed) + [
        {
            "from": str(src),
            "moved_to": str(target.moved) if target.moved is not None else None,
            "at": target.at,
            "status": run.status,
            "reason": run.reason,
            "rows": {t: run.n_rows(t) for t in run.table_specs},
            "records": len(run.records) if run.records is not None else 0,
            "opened_with_swmr": run.opened_with_swmr,
            "software_version": software_version(),
        }
    ]


def _copy_committed(run: RunData, src: Path, creating: Path, partial: Path) -> None:
    """Copy the committed rows and records of ``run`` into the fresh schema at ``creating``, commit, close.

    A failed commit is reported as the writer reports one, naming ``partial`` (the name the file is for).
    """
    tmp = open_for_append(creating)
    closed = False
    try:
        _copy_rows(run, tmp)
        if tmp.records is not None and run.records is not None:
            try:
                copy_records(run.records, tmp.records)
            except (OSError, RuntimeError) as exc:  # a truncated source, or no room for the copy
                raise ArchiveError(f"{src}: cannot copy its records into {creating.name}: "
                                   f"{io_cause(exc)}") from exc
        try:
            write_commit(tmp, tmp.committed, fsync=True)
        except (OSError, RuntimeError) as exc:
            closed = True
            raise ArchiveError(failed_write(tmp.file, partial, "commit to the archive", exc)) from exc
    finally:
        if not closed:
            close_unfinished(tmp.file)


def _copy_rows(run: RunData, dst: OpenArchive) -> None:
    """Queue every committed row of every table of ``run`` on the writers of ``dst``."""
    for tname, t in dst.tables.items():
        cols = run.tables[tname]
        n = run.n_rows(tname)
        for sv in t.vars:
            arr = coerce(sv.dtype, cols[sv.key], (n,) + sv.shape, f"table {tname!r} column {sv.key!r}")
            for h5name, data in split_parts(sv, arr).items():
                t.writers[h5name].append(data)


def _move_into_place(src: Path, creating: Path, target: _Target) -> None:
    """Move the interrupted file aside (if it keeps its name) and the copy to ``<final>.partial``.

    Both files are closed now: only closed files are renamed (this also works on Windows). The interrupted
    file moves aside unchanged. A kill between the two renames leaves both intact under their names.
    """
    try:
        if target.moved is not None:
            os.rename(src, target.moved)
        os.replace(creating, target.partial)
    except OSError as exc:
        raise ArchiveError(f"{src}: cannot move the interrupted file aside or the resumed one into place: "
                           f"{io_cause(exc)}") from exc
    fsync_dir(target.partial)


# --------------------------------------------------------------------------------------------------
# Can this archive be resumed with this procedure config?


def check_resumable(path: str | os.PathLike[str], procedure_text: str) -> None:
    """Raise :class:`ArchiveError` (one line) unless :meth:`RunArchive.resume` can continue the archive at
    ``path`` with the procedure config ``procedure_text`` (its TOML text); never modifies the file.

    Refused: a path that is missing, unreadable, not HDF5 (zeroed, truncated, a signature followed by
    zeros) or not a diffbench archive; any damage :func:`~procedures.archive.reader.open_run` finds
    (attributes of the wrong type, JSON of the wrong shape, missing groups or datasets, wrong dtypes or
    shapes, counters beyond the data); committed records whose bytes lie beyond the end of the file; a
    status other than ``running``, ``aborted`` or ``failed``; an archive without a procedure config; and a
    procedure config that differs from the archived one. The configs are compared as parsed TOML (so
    comments, layout, key order, quoting and ``1e3`` against ``1000.0`` do not matter; a ``true`` is not a
    ``1``); the message names the first keys that differ.
    """
    src = Path(path)
    with open_run(src) as run:
        if run.status not in RESUMABLE_STATUSES:
            hint = f"; rename it to {final_path_of(src).name}" if src.name.endswith(PARTIAL_SUFFIX) else ""
            raise ArchiveError(f"{src}: status is {run.status!r}; only {', '.join(RESUMABLE_STATUSES)} runs can be "
                               f"resumed{hint}")
        _check_record_bytes(src, run)
        archived = run.configs.get("procedure")
    if archived is None:
        raise ArchiveError(f"{src}: the archive holds no procedure config (configs/procedure), so it was not "
                           "written by 'diffbench run' and cannot be resumed")
    try:
        was = tomllib.loads(archived)
    except tomllib.TOMLDecodeError as e:
        raise ArchiveError(f"{src}: the archived procedure config is not valid TOML ({one_line(str(e))})") from None
    try:
        given = tomllib.loads(procedure_text)
    except tomllib.TOMLDecodeError as e:
        raise ArchiveError(f"the procedure config given for resuming {src} is not valid TOML "
                           f"({one_line(str(e))})") from None
    diff = list(_differences(was, given))
    if diff:
        shown = "; ".join(diff[:3]) + (f"; and {len(diff) - 3} more" if len(diff) > 3 else "")
        raise ArchiveError(one_line(
            f"{src}: was made with another procedure config ({shown}); resume it with the procedure config it "
            "was made with (archived as /entry/configs@procedure)", limit=600))


def _check_record_bytes(src: Path, run: RunData) -> None:
    """Every committed record's chunks must lie inside the file (a truncated copy fails only when copied)."""
    if run.records is None or len(run.records) == 0:
        return
    size = src.stat().st_size
    ds = run.records.dataset
    n, C = len(run.records), len(run.records.channels)
    try:
        for i in range(n):
            for c in range(C):
                info = ds.id.get_chunk_info_by_coord((i, c, 0))
                if info.byte_offset is None or info.byte_offset + info.size > size:
                    raise ArchiveError(f"{src}: committed record {i} (channel {run.records.channels[c]}) lies beyond "
                                       f"the end of the file ({size} bytes); the file is truncated or damaged")
    except (OSError, RuntimeError, ValueError) as e:
        raise ArchiveError(f"{src}: damaged or incomplete archive: the records cannot be located "
                           f"({io_cause(e)})") from None


def _differences(a: Any, b: Any, where: str = "") -> Iterator[str]:
    """``"<key>: <archived> in the archive, <given> given"`` for every place two parsed TOML documents differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            at = f"{where}.{key}" if where else str(key)
            if key not in b:
                yield f"{at}: only in the archive"
            elif key not in a:
                yield f"{at}: not in the archive"
            else:
                yield from _differences(a[key], b[key], at)
        return
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for k, (x, y) in enumerate(zip(a, b)):
            yield from _differences(x, y, f"{where}[{k}]")
        return
    if not _same_value(a, b):
        yield f"{where}: {_short(a)} in the archive, {_short(b)} given"


def _same_value(a: Any, b: Any) -> bool:
    """Two TOML scalars mean the same: equal, both NaN, or an integer and a float of the same value (not a
    bool against a number, nor a string against anything else)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
    return type(a) is type(b) and a == b


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def copy_records(src: Records, dst: RecordWriters) -> None:
    """Copy the committed records of a reader's :class:`~procedures.archive.record_reading.Records` into ``dst``.

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
