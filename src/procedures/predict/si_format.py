"""Numbers with SI prefixes, as the text report, the HTML report and the command line print them."""

from __future__ import annotations

import math

_PREFIXES = ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p"),
             (1e-15, "f"))


def eng(x: float, unit: str, digits: int = 4) -> str:
    """``x`` with an SI prefix and ``digits`` significant digits: ``eng(5.2e-4, "A") == "520 uA"``."""
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return f"{'inf' if x > 0 else '-inf'} {unit}"
    if x == 0:
        return f"0 {unit}"
    for scale, p in _PREFIXES:
        if abs(x) >= scale * (1 - 5e-13):
            return f"{x / scale:.{digits}g} {p}{unit}"
    scale, p = _PREFIXES[-1]  # below the smallest prefix: "0.579 fF" reads better than "5.79e-16 F"
    return f"{x / scale:.{digits}g} {p}{unit}"
