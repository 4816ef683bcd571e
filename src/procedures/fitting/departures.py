"""Where a board differs from its config: fitted parameters that depart from their nominal values.

A fit (:class:`procedures.fitting.core.FitResult`) gives each free parameter a fitted value ``v`` with its
standard uncertainty ``u`` (k = 1) and its value at the board config's nominal components, ``nominal``. Its
departure is the standard score

    z = (v - nominal) / u,

the distance of the fitted value from the design's in standard uncertainties of the fit. A healthy board's
parameters scatter about their nominal values by about 1 u (plus the spread of its real parts), so ``|z| > 3``
is where a component is read as different from what the design says (a 3 u coverage, GUM JCGM 100:2008, section 6.3:
about 99.7 % of a normal distribution lies within it). The parameters of a fit that failed
(:attr:`~procedures.fitting.core.FitResult.failed`) are not measurements of the board and are not compared.

:func:`departures` is what ``diffbench fit`` prints for one fit; :func:`suspect` picks, over every fit of a run,
the one component that departs most (what the lot index records for each unit).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from procedures.fitting.core import FitResult

THRESHOLD = 3.0
"""Standard uncertainties a fitted parameter must be from its nominal value to depart (module docstring)."""


def departures(fit: FitResult, threshold: float = THRESHOLD) -> list[tuple[str, float]]:
    """Fitted parameters more than ``threshold`` standard uncertainties from the board config's value,
    ``[(name, z)]`` with ``z = (fitted - nominal)/u`` (module docstring; dimensionless), furthest first: where the
    board differs from what it should be. Parameters without a positive uncertainty are not judged."""
    out = [(n, (v - nom) / e) for n, v, e, nom in zip(fit.params, fit.values, fit.stderr, fit.nominal) if e > 0]
    return sorted(((n, z) for n, z in out if abs(z) > threshold), key=lambda t: -abs(t[1]))


@dataclass(frozen=True)
class Suspect:
    """The fitted component that departs most from the design.

    ``name``: ``<fit>.<parameter>`` (``small_signal.R_EE``); ``fitted``, ``u``, ``nominal``: its fitted value,
    standard uncertainty and design value, in ``unit``; ``rel``: the relative departure ``fitted/nominal - 1``
    (dimensionless, NaN for a zero nominal); ``z``: ``(fitted - nominal)/u`` (dimensionless)."""

    name: str
    fitted: float
    u: float
    nominal: float
    unit: str
    rel: float
    z: float


def suspect(fits: Iterable[FitResult], threshold: float = THRESHOLD) -> Suspect | None:
    """Over every fit in ``fits`` that did not fail, the parameter with the largest ``|z|`` among those beyond
    ``threshold`` (:func:`departures`); None when no parameter departs. Ties go to the fit and parameter met
    first."""
    best: Suspect | None = None
    for fit in fits:
        if fit.failed:
            continue
        for name, z in departures(fit, threshold)[:1]:
            if best is not None and abs(z) <= abs(best.z):
                continue
            k = fit.params.index(name)
            v, nom = float(fit.values[k]), float(fit.nominal[k])
            rel = v / nom - 1.0 if nom != 0 else math.nan
            best = Suspect(f"{fit.name}.{name}", v, float(fit.stderr[k]), nom, str(fit.units[k]), rel, float(z))
    return best
