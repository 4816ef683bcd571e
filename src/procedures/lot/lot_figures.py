"""The lot's figures from its index: per figure the distribution, capability and outliers, the yields, and the
failing units with their suspect component.

Every function here takes a lot index (an open :class:`procedures.lot.index.LotIndex`, its path, or the columns
:func:`procedures.lot.index.read_index` returns) and counts the measured units only: those whose current row (the
last of their serial) is ``done`` or ``refitted`` (:data:`procedures.lot.index.MEASURED_STATUSES`), with that
row's numbers. The statistics themselves are :mod:`procedures.lot.statistics`'s.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from procedures.lot.index import VERDICT_PREFIX, LotIndex, component_column, measured_rows, read_index
from procedures.lot.statistics import Capability, Outliers, capability, lot_yield, outliers
from procedures.lot.unit_summary import FIGURE_NAMES


@dataclass(frozen=True)
class FigureStats:
    """One figure over the units counted by :func:`lot_figures`: its values and uncertainties per unit (NaN: not
    measured), their :class:`~procedures.lot.statistics.Capability` against its limits, ``inside``, the
    fraction of the measured values within the limits (NaN without limits or values), and ``outliers``, the
    units far from the lot (:func:`procedures.lot.statistics.outliers`, one flag per unit)."""

    name: str
    values: np.ndarray
    u: np.ndarray
    capability: Capability
    inside: float
    outliers: Outliers


@dataclass(frozen=True)
class OutlierUnit:
    """A unit whose value of ``figure`` lies outside ``[lower, upper]`` = ``median -+ 3 x 1.4826 x MAD`` of the
    lot (:func:`procedures.lot.statistics.outliers`), every number in the figure's units."""

    figure: str
    serial: str
    value: float
    median: float
    lower: float
    upper: float


@dataclass(frozen=True)
class LotFigures:
    """The lot's statistics: the units counted (``serials``), per figure :class:`FigureStats`, the yield per limit of
    the archived verdicts and overall (:func:`procedures.lot.statistics.lot_yield`)."""

    serials: tuple[str, ...]
    figures: dict[str, FigureStats]
    yields: dict[str, float]
    overall_yield: float

    def outlier_units(self) -> list[OutlierUnit]:
        """Every unit far from the lot on a figure (:class:`OutlierUnit`), by figure then in unit order; none for
        a figure with fewer than 5 measured values."""
        return [OutlierUnit(name, self.serials[i], float(fs.values[i]), fs.outliers.median, fs.outliers.lower,
                            fs.outliers.upper)
                for name, fs in self.figures.items() for i in fs.outliers.indices]


def _inside(x: np.ndarray, lower: float | None, upper: float | None) -> float:
    x = x[np.isfinite(x)]
    if x.size == 0 or (lower is None and upper is None):
        return math.nan
    ok = np.ones(x.shape, bool)
    if lower is not None:
        ok &= x >= lower
    if upper is not None:
        ok &= x <= upper
    return float(np.mean(ok))


def _columns(index: LotIndex | Mapping[str, np.ndarray] | str | os.PathLike[str]) -> dict[str, np.ndarray]:
    if isinstance(index, LotIndex):
        return index.rows()
    if isinstance(index, (str, os.PathLike)):
        return read_index(index)
    return dict(index)


def lot_figures(index: LotIndex | Mapping[str, np.ndarray] | str | os.PathLike[str],
                limits: Mapping[str, tuple[float | None, float | None]] | None = None) -> LotFigures:
    """Distribution, mean, sigma, ``Cp``, ``Cpk``, outliers per figure and the yields of a lot
    (:mod:`procedures.lot.statistics`).

    ``index``: a lot index (open, its path, or :func:`read_index`'s columns). The units counted are the measured
    ones: current state (last row) ``done`` or ``refitted`` (:data:`MEASURED_STATUSES`), with that row's numbers.
    ``limits`` maps a figure (``"Add"``) or a fitted component (``"small_signal.R_L"``) to ``(lower, upper)`` in
    its units, None for a side without a limit; every figure of the index is reported, with NaN ratios where it
    has no limits, and every limited component too. Outliers are those of
    :func:`procedures.lot.statistics.outliers` (beyond median -+ 3 x 1.4826 x MAD, judged from 5 units on;
    :meth:`LotFigures.outlier_units` lists them). Yields are those of the ``verdict_<limit>`` columns; a unit
    passes overall when it passed every verdict it has. Raises ValueError for a limit on a name the index does
    not hold.
    """
    cols = _columns(index)
    rows = measured_rows(cols)
    limits = dict(limits or {})
    names = [n for n in FIGURE_NAMES if n in cols] + [n for n in limits if n not in FIGURE_NAMES]
    figures: dict[str, FigureStats] = {}
    for name in names:
        column = name if name in cols else component_column(name)
        if column not in cols:
            raise ValueError(f"lot_figures: the index holds no figure or component {name!r}")
        lower, upper = limits.get(name, (None, None))
        x = np.asarray(cols[column], dtype=float)[rows]
        u = np.asarray(cols.get(f"{column}_u", np.full(len(cols[column]), math.nan)), dtype=float)[rows]
        figures[name] = FigureStats(name, x, u, capability(x, lower, upper), _inside(x, lower, upper), outliers(x))
    verdicts = {c[len(VERDICT_PREFIX):]: [None if f < 0 else bool(f) for f in np.asarray(cols[c])[rows]]
                for c in cols if c.startswith(VERDICT_PREFIX)}
    per_limit, overall = lot_yield(verdicts)
    return LotFigures(tuple(str(cols["serial"][i]) for i in rows), figures, per_limit, overall)


@dataclass(frozen=True)
class FailingUnit:
    """A measured unit that failed a verdict, and what its fits say about why.

    ``failed``: the limits it failed (``verdict_<limit>`` 0), in the index's order; ``suspect``: the fitted
    component ``<fit>.<parameter>`` that departs most from the design (``""``: none beyond 3 u, or an index
    without the column); ``suspect_rel``: fitted/nominal - 1 (dimensionless); ``suspect_z``: (fitted -
    nominal)/u (dimensionless); NaN without a suspect."""

    serial: str
    bench: str
    failed: tuple[str, ...]
    suspect: str
    suspect_rel: float
    suspect_z: float

    def diagnosis(self) -> str:
        """``suspect small_signal.R_L +8.0 % (+466 u)``, or that no fitted component departs."""
        return suspect_text(self.suspect, self.suspect_rel, self.suspect_z)


def suspect_text(name: str, rel: float, z: float) -> str:
    """A suspect in words: ``suspect small_signal.R_L +8.0 % (+466 u)`` (the relative departure in percent, the
    departure in standard uncertainties; the percent is left out when the design value is 0), or
    ``no fitted component departs by more than 3 u`` for ``name`` ``""``."""
    if not name:
        return "no fitted component departs by more than 3 u"
    pct = f" {100 * rel:+.1f} %" if math.isfinite(rel) else ""
    return f"suspect {name}{pct} ({z:+.0f} u)"


def failing_diagnoses(index: LotIndex | Mapping[str, np.ndarray] | str | os.PathLike[str]) -> list[FailingUnit]:
    """Every measured unit (:data:`MEASURED_STATUSES`) whose current row failed a verdict, with its suspect, in
    the order the serials first appear (units that could not be measured are not here: they have no verdicts)."""
    cols = _columns(index)
    verdicts = [c for c in cols if c.startswith(VERDICT_PREFIX)]
    out = []
    for i in measured_rows(cols):
        failed = tuple(c[len(VERDICT_PREFIX):] for c in verdicts if int(cols[c][i]) == 0)
        if not failed:
            continue
        has = "suspect" in cols
        out.append(FailingUnit(str(cols["serial"][i]), str(cols["bench"][i]), failed,
                               str(cols["suspect"][i]) if has else "",
                               float(cols["suspect_rel"][i]) if has else math.nan,
                               float(cols["suspect_z"][i]) if has else math.nan))
    return out
