"""Lot statistics: process capability of a figure against its limits, yields of pass/fail verdicts, and units
that lie far from the rest of the lot.

Pure numpy. The capability ratios are those of D. C. Montgomery, *Introduction to Statistical Quality
Control* (Wiley, 7th ed. 2013), chapter 8 "Process and Measurement System Capability Analysis", section 8.3
"Process Capability Ratios":

- ``Cp = (USL - LSL) / (6 sigma)``: the spread the limits allow against the spread of the process;
- ``Cpu = (USL - mean) / (3 sigma)`` and ``Cpl = (mean - LSL) / (3 sigma)``: the one-sided ratios, for a
  figure with one limit only;
- ``Cpk = min(Cpu, Cpl)``: the ratio of an off-centre process.

``sigma`` is estimated by the sample standard deviation (``ddof = 1``) of the units measured, so these are the
estimates Montgomery writes with a hat (``Cp^``); with a few tens of units they are uncertain by 10-20 %
(the same chapter gives their confidence intervals).

Outliers (:func:`outliers`) are judged with the median and the median absolute deviation (MAD), which one far-off
unit cannot drag the way it drags the mean and the standard deviation: a value is an outlier when it lies beyond
``median +- 3 x 1.4826 x MAD``. ``1.4826 = 1/Phi^-1(3/4)`` makes ``1.4826 MAD`` estimate sigma for normally
distributed values, so this is "more than 3 sigma from the centre" made robust; it is the rule recommended by
C. Leys et al., "Detecting outliers: Do not use standard deviation around the mean, use absolute deviation
around the median", J. Exp. Soc. Psychol. 49 (2013) 764-766, and the same test as the modified z-score of
B. Iglewicz and D. C. Hoaglin, *How to Detect and Handle Outliers* (ASQC, 1993), ``M = 0.6745 (x - median)/MAD``
(NIST/SEMATECH e-Handbook of Statistical Methods, section 1.3.5.17 "Detection of Outliers"), with ``|M| > 3``
instead of the 3.5 they suggest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class Capability:
    """Capability of one figure over a lot, in the figure's own units.

    ``n``: the finite values counted; ``mean``; ``sigma``: their sample standard deviation (``ddof = 1``);
    ``cp``, ``cpk``: the capability ratios (module docstring), NaN when they cannot be formed (no limit,
    one limit only for ``cp``, fewer than two values); ``lower``, ``upper``: the limits used (None: no such
    limit).
    """

    n: int
    mean: float
    sigma: float
    cp: float
    cpk: float
    lower: float | None
    upper: float | None


def _ratio(num: float, den: float) -> float:
    """``num / den`` with IEEE meaning for a zero ``den`` (a lot whose values are all equal): +-inf, or NaN for 0/0."""
    if den != 0:
        return num / den
    if num == 0 or math.isnan(num):
        return math.nan
    return math.copysign(math.inf, num)


def capability(values: ArrayLike, lower: float | None = None, upper: float | None = None) -> Capability:
    """Mean, sample sigma, ``Cp`` and ``Cpk`` of ``values`` against ``lower`` (LSL) and ``upper`` (USL).

    Source: Montgomery, section 8.3 (module docstring). NaN (and infinite) values are ignored, so ``n`` counts
    the finite ones. With both limits, ``Cp = (USL - LSL)/(6 sigma)`` and ``Cpk = min(USL - mean,
    mean - LSL)/(3 sigma)``; with one limit only, ``Cp`` is NaN and ``Cpk`` is the one-sided ratio of that
    limit (``Cpu`` or ``Cpl``); with none, both are NaN. Fewer than two finite values give NaN ``sigma``,
    ``Cp`` and ``Cpk``. All-equal values (``sigma = 0``) give infinite ratios (NaN for a mean on a limit).
    Raises ValueError if ``lower > upper`` or a limit is NaN.
    """
    for name, limit in (("lower", lower), ("upper", upper)):
        if limit is not None and math.isnan(limit):
            raise ValueError(f"capability: the {name} limit is NaN; give None for no limit")
    if lower is not None and upper is not None and lower > upper:
        raise ValueError(f"capability: lower limit {lower} is above upper limit {upper}")
    x = np.asarray(values, dtype=float).reshape(-1)
    x = x[np.isfinite(x)]
    n = int(x.size)
    mean = float(np.mean(x)) if n else math.nan
    if n < 2:
        return Capability(n, mean, math.nan, math.nan, math.nan, lower, upper)
    sigma = float(np.std(x, ddof=1))
    cp = _ratio(upper - lower, 6 * sigma) if lower is not None and upper is not None else math.nan
    sides = []
    if upper is not None:
        sides.append(_ratio(upper - mean, 3 * sigma))
    if lower is not None:
        sides.append(_ratio(mean - lower, 3 * sigma))
    cpk = min(sides) if sides else math.nan
    return Capability(n, mean, sigma, cp, cpk, lower, upper)


def yield_of(passed: Sequence[bool | None]) -> float:
    """Fraction of units that passed, among the units with a verdict (``None``: not judged, not counted).

    NaN when no unit has a verdict. A ratio in [0, 1].
    """
    judged = [bool(p) for p in passed if p is not None]
    return sum(judged) / len(judged) if judged else math.nan


def overall_verdicts(verdicts: Mapping[str, Sequence[bool | None]]) -> list[bool | None]:
    """Per unit, whether it passed every verdict it has (``None`` for a unit with no verdict at all).

    ``verdicts`` maps each limit to one entry per unit, every sequence in the same unit order and of the same
    length. Raises ValueError if the lengths differ.
    """
    lengths = {len(v) for v in verdicts.values()}
    if len(lengths) > 1:
        raise ValueError(f"overall_verdicts: the limits have different numbers of units {sorted(lengths)}")
    n = lengths.pop() if lengths else 0
    out: list[bool | None] = []
    for i in range(n):
        judged = [bool(v[i]) for v in verdicts.values() if v[i] is not None]
        out.append(all(judged) if judged else None)
    return out


def lot_yield(verdicts: Mapping[str, Sequence[bool | None]]) -> tuple[dict[str, float], float]:
    """Yield per limit (:func:`yield_of`) and overall: a unit passes overall when it passed every verdict it has.

    ``verdicts`` maps each limit to one entry per unit (True passed, False failed, None not judged), every
    sequence in the same unit order. Units without any verdict do not count overall; NaN when none has one.
    """
    per_limit = {name: yield_of(v) for name, v in verdicts.items()}
    return per_limit, yield_of(overall_verdicts(verdicts))


MAD_SCALE = 1.4826
"""``1/Phi^-1(3/4)``: ``MAD_SCALE x MAD`` estimates the standard deviation of normally distributed values."""
OUTLIER_K = 3.0
"""An outlier is more than this many robust sigmas (``MAD_SCALE x MAD``) from the median."""
MIN_OUTLIER_UNITS = 5
"""Fewer finite values than this and no value is judged an outlier (the median and MAD of four say little)."""


@dataclass(frozen=True)
class Outliers:
    """The outlier rule applied to one figure's values (module docstring), in the figure's own units.

    ``n``: the finite values; ``median``; ``scale``: ``MAD_SCALE x MAD`` (the robust sigma); ``lower``, ``upper``:
    ``median -+ k x scale``, the band outside which a value is an outlier (NaN when the rule was not applied:
    fewer than ``min_n`` values); ``flagged``: one bool per value given, in its order (NaN values are never
    flagged); ``judged``: whether the rule was applied."""

    n: int
    median: float
    scale: float
    lower: float
    upper: float
    flagged: np.ndarray = field(repr=False)
    judged: bool

    @property
    def indices(self) -> list[int]:
        """Positions of the flagged values, in order."""
        return [int(i) for i in np.flatnonzero(self.flagged)]


def outliers(values: ArrayLike, k: float = OUTLIER_K, min_n: int = MIN_OUTLIER_UNITS) -> Outliers:
    """Flag the values beyond ``median +- k x 1.4826 x MAD`` (module docstring: Leys et al. 2013; the modified
    z-score of Iglewicz and Hoaglin, NIST/SEMATECH e-Handbook section 1.3.5.17).

    The median and ``MAD = median(|x - median|)`` are of the finite values only; NaN and infinite values are
    not counted and never flagged. With fewer than ``min_n`` finite values nothing is flagged and the band is
    NaN (``judged`` false). A MAD of 0 (more than half the values equal) gives a band of zero width: every value
    that differs from the median is flagged, the literal rule (the median's half of the lot is identical, any
    other value is far from it on the lot's own scale). Raises ValueError for ``k <= 0``.
    """
    if not k > 0:
        raise ValueError(f"outliers: k must be positive, got {k}")
    x = np.asarray(values, dtype=float).reshape(-1)
    finite = np.isfinite(x)
    n = int(finite.sum())
    if n < max(min_n, 1):
        med = float(np.median(x[finite])) if n else math.nan
        return Outliers(n, med, math.nan, math.nan, math.nan, np.zeros(x.shape, bool), False)
    med = float(np.median(x[finite]))
    scale = MAD_SCALE * float(np.median(np.abs(x[finite] - med)))
    lower, upper = med - k * scale, med + k * scale
    flagged = finite & ((x < lower) | (x > upper))
    return Outliers(n, med, scale, lower, upper, flagged, True)
