"""Lot statistics: process capability of a figure against its limits, and yields of pass/fail verdicts.

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
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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
