"""One unit of a lot in a few numbers: the headline figures, the verdicts and the fitted components of its run.

:func:`summarise_run` reads a finished run archive (``docs/archive.md``) with the project's own readers and
takes each number where the run put it, computing nothing the run did not:

- the figures (:data:`FIGURES`), each with its standard uncertainty (k = 1):

  - ``Add``: ``|Add|`` (V/V) in the ``gains`` table at the frequency nearest the board's ``[pass_fail]
    add_check_hz`` (the rule of :func:`procedures.analysis.verdicts.evaluate`), its uncertainty from the row's
    8 x 8 covariance (:func:`procedures.analysis.propagation.element_u`);
  - ``CMRR_se_db``, ``CMRR_diff_db``, ``THD``, ``offset_v``: what :func:`procedures.analysis.verdicts.evaluate`
    measures for the limits ``cmrr_se_min_db`` (the lowest single-ended CMRR of the amplifier outputs up to
    ``cmrr_se_max_hz``), ``cmrr_diff_min_db`` (the lowest CMRR_diff over the same band), ``thd_max`` (THD of
    vod at the drive nearest ``thd_drive_vpk``) and ``offset_max_v`` (the input-referred offset of the
    ``dc_summary`` table). They are taken for every unit, whether or not its board sets the limit: the
    verdict code is run on a copy of the board whose thresholds nothing fails, and only the measured values
    are kept. The run archives no uncertainty for THD and the offset, so theirs are NaN; a CMRR that is
    only a limit at its worst frequency (``docs/archive.md``, the ``_kind`` columns) has ``u`` NaN too;

- the verdicts the run archived (result ``verdicts``), as :class:`procedures.analysis.verdicts.Verdict`;
- the fitted component values of every fit the run archived (results ``fit_*``, read with
  :func:`procedures.fitting.run_fits.load_fits`), named ``<fit>.<parameter>`` (``small_signal.R_L``), with
  their standard errors as ``u``;
- the suspect: over every archived fit that did not fail, the fitted component that departs most from the
  design, the largest ``|z| = |fitted - nominal| / u`` among those beyond 3 u
  (:func:`procedures.fitting.departures.suspect`), with its relative departure ``fitted/nominal - 1``; None
  when no component departs (or the run archived no fit).

A figure the archive cannot give (another procedure kind, a run cut short, a board without
``thd_drive_vpk``) is NaN with ``u`` NaN.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from instruments.board_config import BoardConfig
from instruments.errors import DiffbenchError
from procedures.analysis.propagation import element_u, mag_u
from procedures.analysis.verdicts import Verdict, evaluate
from procedures.archive.h5_open import first_line
from procedures.archive.reader import RunData, open_run
from procedures.archive.spec import ArchiveError
from procedures.fitting.core import FitResult
from procedures.fitting.departures import Suspect, suspect
from procedures.fitting.run_fits import board_of, load_fits

#: the headline figures: name -> (units, what it is)
FIGURES: dict[str, tuple[str, str]] = {
    "Add": ("1", "|Add| at the frequency nearest the board's [pass_fail] add_check_hz"),
    "CMRR_se_db": ("dB", "lowest single-ended CMRR of the amplifier outputs up to cmrr_se_max_hz"),
    "CMRR_diff_db": ("dB", "lowest differential CMRR up to cmrr_se_max_hz"),
    "THD": ("1", "THD of vod at the drive nearest the board's thd_drive_vpk"),
    "offset_v": ("V", "input-referred offset (vid at vod = 0)"),
}
FIGURE_NAMES = tuple(FIGURES)

#: the limits of a board's [pass_fail] that procedures.analysis.verdicts.evaluate judges
JUDGED_LIMITS = ("add_rel_tol", "cmrr_se_min_db", "cmrr_diff_min_db", "thd_max", "offset_max_v")

# Thresholds nothing fails, so that evaluate() reports the measured value of every limit it can answer; the
# figure each limit's measured value is. add_rel_tol is left out: its value is a deviation, not |Add|.
_PROBE_THRESHOLDS = {"cmrr_se_min_db": -math.inf, "cmrr_diff_min_db": -math.inf, "thd_max": math.inf,
                     "offset_max_v": math.inf}
_FIGURE_OF_LIMIT = {"cmrr_se_min_db": "CMRR_se_db", "cmrr_diff_min_db": "CMRR_diff_db", "thd_max": "THD",
                    "offset_max_v": "offset_v"}


@dataclass(frozen=True)
class Figure:
    """A value with its standard uncertainty (k = 1) in ``unit`` (CF/UDUNITS; ``"1"``: a ratio). NaN: not known."""

    value: float
    u: float
    unit: str


def missing(unit: str) -> Figure:
    """A figure the archive cannot give: NaN with ``u`` NaN."""
    return Figure(math.nan, math.nan, unit)


@dataclass(frozen=True)
class UnitSummary:
    """What one unit's run archive says about it (module docstring).

    ``path``: the archive; ``run_status``, ``reason``, ``run_id``, ``start_time``, ``end_time`` (ISO 8601 UTC):
    the archive's own; ``board``, ``bench``: the names in its metadata; ``figures``: every one of
    :data:`FIGURES` by name; ``verdicts``: the archived verdicts, in the run's order; ``components``: the
    fitted values by ``<fit>.<parameter>``; ``suspect``: the fitted component that departs most from the design
    (:class:`~procedures.fitting.departures.Suspect`: ``name`` ``<fit>.<parameter>``, ``rel`` =
    ``fitted/nominal - 1``, ``z`` in standard uncertainties), None when none departs by more than 3 u.
    """

    path: Path
    run_status: str
    reason: str
    run_id: str
    start_time: str
    end_time: str
    board: str
    bench: str
    figures: dict[str, Figure]
    verdicts: tuple[Verdict, ...] = ()
    components: dict[str, Figure] = field(default_factory=dict)
    suspect: Suspect | None = None

    @property
    def passed(self) -> bool | None:
        """True if every archived verdict passed, False if one failed, None if the run judged none."""
        return all(v.passed for v in self.verdicts) if self.verdicts else None

    def verdict(self, limit: str) -> Verdict | None:
        """The verdict on ``limit`` (``"thd_max"`` ...), None if the run did not judge it."""
        return next((v for v in self.verdicts if v.limit == limit), None)

    @property
    def verdict_names(self) -> tuple[str, ...]:
        """The limits the run judged, in its order."""
        return tuple(v.limit for v in self.verdicts)

    @property
    def component_units(self) -> dict[str, str]:
        """``{<fit>.<parameter>: units}`` of the fitted components (what a lot index declares its columns with)."""
        return {name: c.unit for name, c in self.components.items()}


def summarise_run(path: str | os.PathLike[str]) -> UnitSummary:
    """Read the run archive at ``path`` (finished, or a ``.partial`` left by a killed run) into a :class:`UnitSummary`.

    Raises :class:`~procedures.archive.spec.ArchiveError` (one line) for a missing, non-HDF5, damaged or
    incomplete archive (the reader's own errors, :func:`procedures.archive.reader.open_run`), and the one-line
    :class:`~instruments.errors.DiffbenchError` of :func:`procedures.fitting.run_fits.board_of` when the archive
    holds no valid board config.
    """
    p = Path(path)
    with open_run(p) as run:
        try:
            return _summary(p, run)
        except DiffbenchError:
            raise
        except (KeyError, IndexError, TypeError, ValueError) as exc:  # a result group of the wrong shape
            raise ArchiveError(f"{p}: damaged or incomplete archive: {first_line(exc)}") from None


def _summary(p: Path, run: RunData) -> UnitSummary:
    board = board_of(run)
    fits = load_fits(run)
    return UnitSummary(
        path=p, run_status=run.status, reason=run.reason, run_id=run.run_id, start_time=run.start_time,
        end_time=run.end_time, board=str(run.metadata.get("board", board.name)),
        bench=str(run.metadata.get("bench", "")), figures=headline_figures(board, run.tables),
        verdicts=archived_verdicts(run), components=fitted_components(run, fits), suspect=suspect(fits),
    )


def headline_figures(board: BoardConfig, tables: Mapping[str, Mapping[str, Any]]) -> dict[str, Figure]:
    """Every one of :data:`FIGURES` from a run's result tables (as ``RunData.tables``) judged against ``board``.

    See the module docstring for where each comes from; what the tables cannot give is NaN with ``u`` NaN.
    """
    out = {name: missing(unit) for name, (unit, _) in FIGURES.items()}
    out["Add"] = _add_at_check(board, tables)
    limits = {k: v for k, v in board.pass_fail.items() if k != "add_rel_tol"}
    probe = replace(board, pass_fail={**limits, **_PROBE_THRESHOLDS})
    for v in evaluate(probe, tables):
        name = _FIGURE_OF_LIMIT.get(v.limit)
        if name is not None:
            out[name] = Figure(float(v.measured), float(v.uncertainty), FIGURES[name][0])
    return out


def _add_at_check(board: BoardConfig, tables: Mapping[str, Mapping[str, Any]]) -> Figure:
    """``|Add|`` and its standard uncertainty at the frequency nearest ``add_check_hz``."""
    gains = tables.get("gains") or {}
    f = np.asarray(gains.get("frequency_hz", ()), dtype=float)
    f0 = board.pass_fail.get("add_check_hz")
    if f.size == 0 or f0 is None or "S" not in gains:
        return missing(FIGURES["Add"][0])
    i = int(np.argmin(np.abs(np.log(f / float(f0)))))  # the row verdicts.evaluate judges |Add| at
    S = np.asarray(gains["S"])[i]
    if "S_cov" in gains:
        u = element_u(S, np.asarray(gains["S_cov"])[i], "Add")
    else:
        u = float(mag_u(S[0, 0], np.asarray(gains["S_u"])[i][0, 0]))
    return Figure(float(abs(S[0, 0])), float(u), FIGURES["Add"][0])


def archived_verdicts(run: RunData) -> tuple[Verdict, ...]:
    """The verdicts the run archived (result ``verdicts``, written by
    :func:`procedures.analysis.verdicts.as_result`); empty when it has none (a run that did not finish)."""
    result = run.results.get("verdicts")
    if result is None:
        return ()
    a = result.arrays
    return tuple(
        Verdict(limit=str(limit), description=str(description), measured=float(measured), uncertainty=float(u),
                threshold=float(threshold), unit=str(unit), passed=bool(passed))
        for limit, description, measured, u, threshold, unit, passed in zip(
            a["limit"], a["description"], a["measured"], a["uncertainty"], a["threshold"], a["unit"], a["passed"],
            strict=True)
    )


def fitted_components(run: RunData, fits: Sequence[FitResult] | None = None) -> dict[str, Figure]:
    """``{<fit>.<parameter>: Figure(value, stderr, unit)}`` of every fit the run archived, in the order written
    (``fits``: the run's :func:`~procedures.fitting.run_fits.load_fits`, when already read)."""
    out: dict[str, Figure] = {}
    for fit in load_fits(run) if fits is None else fits:
        for name, value, stderr, unit in zip(fit.params, fit.values, fit.stderr, fit.units, strict=True):
            out[f"{fit.name}.{name}"] = Figure(float(value), float(stderr), str(unit))
    return out
