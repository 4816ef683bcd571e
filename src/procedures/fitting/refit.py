"""Refitting an archived run: every fit its tables allow, optionally written back into the archive.

What ``diffbench fit RUN.h5`` does, for a script or a notebook: the run's archived tables and board config,
the ``[fit]`` options given (or the archived procedure config's), and the fits written as ``fit_<name>``
results by :func:`procedures.fitting.archive_update.add_results` (a copy completed and renamed over the
archive, never an edit in place).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from instruments.board_config import BoardConfig
from procedures.archive.reader import open_run
from procedures.fitting.archive_update import add_results
from procedures.fitting.core import FitError, FitResult
from procedures.fitting.run_fits import board_of, fit_run


class NoFitPossible(FitError):
    """The run's tables and ``[fit]`` options allow no fit at all (the reasons joined in the message)."""


@dataclass
class Refit:
    """The fits of an archived run, and where they were written (``None``: not written)."""

    fits: list[FitResult]
    board: BoardConfig                               # the board config archived with the run
    procedure: str                                   # the run's procedure name
    status: str                                      # the run's status (complete, aborted, failed, running)
    notes: list[str] = field(default_factory=list)   # fits that could not be made, and why
    written: Path | None = None


def fit_options_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The validated ``[fit]`` options of a TOML file: a whole procedure config (checked whole) or a file with
    only a ``[fit]`` table. Any problem is one :class:`~instruments.errors.ConfigError` line naming the file."""
    from instruments.config_schema import load_toml
    from procedures.config.procedure import parse_procedure
    from procedures.fitting.run_fits import fit_options

    doc = load_toml(Path(path))
    if set(doc) - {"fit"}:
        parse_procedure(doc, source=str(path))  # a whole procedure config: check all of it
    return fit_options(doc, str(path))


def fit_archived(archive: str | os.PathLike[str], options: Mapping[str, Any] | None = None) -> Refit:
    """Every fit the run archived at ``archive`` allows (nothing written).

    ``options``: a validated ``[fit]`` table (:func:`procedures.fitting.run_fits.fit_options`); default: the
    archived procedure config's. Raises :class:`NoFitPossible` when no fit can be made (the reasons
    joined), another :class:`~procedures.fitting.core.FitError` for bad options, and
    :class:`~procedures.archive.spec.ArchiveError` for a file that is not a readable archive.
    """
    notes: list[str] = []
    with open_run(archive) as run:
        board = board_of(run)
        fits = fit_run(run, board, options, notes)
        procedure, status = str(run.metadata.get("procedure", "?")), run.status
    if not fits:
        raise NoFitPossible(f"no fit could be made: {'; '.join(notes) or 'every fit is off in [fit]'}")
    return Refit(fits, board, procedure, status, notes)


def refit(archive: str | os.PathLike[str], options: Mapping[str, Any] | None = None, *, write: bool = True,
          out: str | os.PathLike[str] | None = None) -> Refit:
    """:func:`fit_archived`, then the fits written into the archive (or into a copy ``out``) unless ``write``
    is false. The archive must be finished; it is unchanged by any error."""
    done = fit_archived(archive, options)
    if write:
        done.written = add_results(archive, done.fits, out)
    return done
