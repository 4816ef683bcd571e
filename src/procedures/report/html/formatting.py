"""Numbers and tables on the report page.

A value with an uncertainty is printed to the uncertainty's second significant digit,
``65.7563 ± 0.0017 dB`` (:func:`fmt_pm`); uncertainties are standard uncertainties (k = 1) in every table,
while the figures draw them expanded (k = 2). Magnitudes are in dB, phases in degrees. A dB figure that the
run could only bound is printed as the limit, ``≥ 92.07`` (:func:`fmt_db_figure`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from procedures.analysis.gain_figures import LOWER_LIMIT, UPPER_LIMIT, VALUE
from procedures.predict.si_format import eng


def _decimals(u: float, min_dec: int = 0, max_dec: int = 9) -> int:
    """Decimals that show ``u`` to two significant digits."""
    if not (math.isfinite(u) and u > 0):
        return min_dec
    return int(min(max(1 - math.floor(math.log10(u)), min_dec), max_dec))


def fmt_pm(value: float, u: float | None, unit: str = "", *, min_dec: int = 0, default_dec: int = 3) -> str:
    """``value ± u unit`` with ``value`` rounded to the second significant digit of ``u``.

    ``fmt_pm(65.75634, 0.00171, "dB") == "65.7563 ± 0.0017 dB"``. Without a usable ``u`` the value is printed
    with ``default_dec`` decimals and no ``±``. Non-finite values print as ``inf``/``-inf``/``n/a``.
    """
    suffix = f" {unit}" if unit else ""
    if value is None or not math.isfinite(value):
        if value is not None and math.isinf(value):
            return ("inf" if value > 0 else "-inf") + suffix
        return "n/a"
    if u is None or not (math.isfinite(u) and u > 0):
        return f"{value:.{default_dec}f}{suffix}"
    d = _decimals(u, min_dec)
    return f"{value:.{d}f} ± {u:.{d}f}{suffix}"


def fmt_db_figure(value: float, u: float, kind: str, unit: str = "") -> str:
    """A dB figure of a gains table by its kind (procedures.analysis.gain_figures): a value as :func:`fmt_pm`,
    a lower limit ``≥ 92.07``, an upper limit ``≤ 12.50``, nothing measurable ``n/a``."""
    if kind == VALUE:
        return fmt_pm(value, u, unit)
    if kind in (LOWER_LIMIT, UPPER_LIMIT) and value is not None and not math.isnan(value):
        return ("≥ " if kind == LOWER_LIMIT else "≤ ") + fmt_pm(value, None, unit, default_dec=2)
    return "n/a"


def _number(value: Any, spec: str, unit: str) -> str:
    """``value`` formatted with ``spec`` (and the unit), "inf"/"n/a" for non-finite, escaped text otherwise."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return html.escape(str(value))
    if not math.isfinite(v):
        return ("inf" if v > 0 else "-inf") if math.isinf(v) else "n/a"
    return f"{v:{spec}}" + (f" {unit}" if unit else "")


def fmt(value: Any, dec: int = 3, unit: str = "") -> str:
    """Fixed-point with ``dec`` decimals."""
    return _number(value, f".{dec}f", unit)


def fmt_sig(value: Any, sig: int = 4, unit: str = "") -> str:
    """``sig`` significant digits."""
    return _number(value, f".{sig}g", unit)


def unit_symbol(u: str) -> str:
    """A unit as printed (``Ohm`` as ``Ω``)."""
    return {"Ohm": "Ω", "ohm": "Ω"}.get(u, u)


def fmt_param(v: float, e: float, unit: str) -> str:
    """A parameter with its standard error, in engineering notation when it has a unit."""
    if not math.isfinite(v):
        return "n/a"
    if unit in ("1", ""):
        unit = ""
    if not (math.isfinite(e) and e > 0):
        return eng(v, unit_symbol(unit), 6) if unit else f"{v:.6g}"
    scale = 1.0
    prefix = ""
    if unit:
        for s, p in ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"),
                     (1e-12, "p"), (1e-15, "f")):
            if abs(v) >= s * (1 - 5e-13) or s == 1e-15:
                scale, prefix = s, p
                break
    return fmt_pm(v / scale, e / scale, f"{prefix}{unit_symbol(unit)}" if unit else "")


def esc(x: Any) -> str:
    """``x`` as HTML text."""
    return html.escape(str(x))


def table(head: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "", raw: bool = False,
          row_classes: Sequence[str] | None = None) -> str:
    """An HTML table; cells are escaped unless ``raw``."""
    h = "".join(f"<th>{c if raw else esc(c)}</th>" for c in head)
    body = []
    for i, r in enumerate(rows):
        rc = f' class="{row_classes[i]}"' if row_classes and row_classes[i] else ""
        body.append(f"<tr{rc}>" + "".join(f"<td>{c if raw else esc(c)}</td>" for c in r) + "</tr>")
    return f'<table class="{cls}"><thead><tr>{h}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def kv(rows: Sequence[tuple[str, str]], raw: bool = False) -> str:
    """A two-column key / value table."""
    return '<table class="kv"><tbody>' + "".join(
        f"<tr><th>{esc(k)}</th><td>{v if raw else esc(v)}</td></tr>" for k, v in rows) + "</tbody></table>"


def pick_rows(n: int, count: int = 6) -> list[int]:
    """Up to ``count`` row indices spread evenly over ``n`` rows (first and last included)."""
    if n <= 0:
        return []
    return sorted({int(round(i)) for i in np.linspace(0, n - 1, min(n, count))})
