"""A verdict in words a reader takes in at once: the measured value and the limit in the same unit, scaled.

A verdict (:class:`procedures.analysis.verdicts.Verdict`, or the archive's ``verdicts`` result) holds SI
numbers: ratios (an |Add| deviation, a THD) as plain fractions with unit ``"1"``, an offset in volts, a CMRR
in dB. Printed as they are, ``0.0004037 V`` against "at most 5 mV" or ``0.00015`` against ``0.05`` asks the
reader to convert. Here a ratio reads in percent, a voltage in the SI prefix of its limit (mV for a 5 mV
limit), and dB stays dB; the value is rounded to its uncertainty's second significant digit (the rule of
the report's tables, :mod:`procedures.report.html.formatting`), and the comparison is named: "at least",
"at most" or "within ±".
"""

from __future__ import annotations

import math
from typing import NamedTuple

#: SI prefixes a limit in volts may be read in (exponent of ten -> prefix)
_PREFIXES = {0: "", -3: "m", -6: "µ", -9: "n"}


class Reading(NamedTuple):
    """How a limit's numbers read: multiply by ``scale`` and write ``unit``."""

    scale: float
    unit: str


def reading_of(unit: str, threshold: float) -> Reading:
    """The scale and unit a verdict of SI unit ``unit`` reads in: ``"1"`` (a ratio) in percent, ``"V"`` (or any
    unit but dB and ratios) in the SI prefix of ``threshold`` (5e-3 V: mV), ``"dB"`` as it is."""
    if unit in ("1", ""):
        return Reading(100.0, "%")
    if unit == "dB" or not (math.isfinite(threshold) and threshold != 0):
        return Reading(1.0, unit)
    exponent = 3 * math.floor(math.log10(abs(threshold)) / 3)
    exponent = max(min(exponent, 0), -9)
    return Reading(10.0 ** -exponent, f"{_PREFIXES[exponent]}{unit}")


def comparison(limit: str) -> str:
    """The words that relate a measured value to its limit, from the ``[pass_fail]`` key's own name: a
    ``*_min*`` key is a floor, a ``*_rel_tol`` a symmetric tolerance, any other (``*_max*``) a ceiling."""
    if "_min" in limit:
        return "at least"
    if limit.endswith("_rel_tol"):
        return "within ±"
    return "at most"


def _number(x: float, u: float, signed: bool) -> str:
    """``x`` to the second significant digit of ``u`` (4 significant digits without a usable ``u``)."""
    sign = "+" if signed else ""
    if not math.isfinite(x):
        return "n/a" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if math.isfinite(u) and u > 0:
        decimals = int(min(max(1 - math.floor(math.log10(u)), 0), 9))
        return f"{x:{sign}.{decimals}f} ± {u:.{decimals}f}"
    return f"{x:{sign}.4g}"


def measured_text(limit: str, measured: float, uncertainty: float, threshold: float, unit: str) -> str:
    """The measured value (± its standard uncertainty) in the limit's reading: ``"65.2700 ± 0.0030 dB"``,
    ``"0.2974 %"``, ``"0.3528 mV"``; a tolerance's deviation carries its sign (``"-0.014 ± 0.011 %"``)."""
    r = reading_of(unit, threshold)
    return f"{_number(r.scale * measured, r.scale * uncertainty, limit.endswith('_rel_tol'))} {r.unit}"


def threshold_text(limit: str, threshold: float, unit: str) -> str:
    """The limit in words and in its reading: ``"at least 57 dB"``, ``"at most 5 mV"``, ``"within ±5 %"``."""
    r = reading_of(unit, threshold)
    words = comparison(limit)
    value = f"{r.scale * threshold:.4g} {r.unit}"
    return f"{words}{value}" if words.endswith("±") else f"{words} {value}"


def verdict_reading(limit: str, measured: float, uncertainty: float, threshold: float, unit: str) -> str:
    """``"0.3528 mV (at most 5 mV)"``: the measured value beside its limit, in one unit."""
    return (f"{measured_text(limit, measured, uncertainty, threshold, unit)} "
            f"({threshold_text(limit, threshold, unit)})")
