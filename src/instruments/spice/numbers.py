"""SPICE numbers: a decimal number, an optional scale factor, and any trailing unit letters.

The scale factors are SPICE3's (ngspice User's Manual sec. 2.3 "Syntax of the numbers"): ``t`` 1e12,
``g`` 1e9, ``meg`` 1e6, ``k`` 1e3, ``mil`` 25.4e-6, ``m`` 1e-3, ``u`` 1e-6, ``n`` 1e-9, ``p`` 1e-12,
``f`` 1e-15, in any case. Letters after the number that are not a scale factor are a unit and are ignored
(``10kOhm`` is 1e4, ``1uF`` is 1e-6, ``5V`` is 5); as in every SPICE, ``1F`` is one femto, and ``1M`` one
milli (mega is ``meg``).
"""

from __future__ import annotations

import re

SCALE = {"t": 1e12, "g": 1e9, "meg": 1e6, "k": 1e3, "mil": 25.4e-6, "m": 1e-3, "u": 1e-6, "n": 1e-9,
         "p": 1e-12, "f": 1e-15}

_NUMBER = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)([a-zA-Z]*)")


def scale_of(letters: str) -> float:
    """The multiplier of the letters after a number: its scale factor (longest match first: ``meg`` and
    ``mil`` before ``m``), or 1 when the letters are a bare unit."""
    low = letters.lower()
    for prefix in ("meg", "mil"):
        if low.startswith(prefix):
            return SCALE[prefix]
    return SCALE.get(low[:1], 1.0)


def parse_number(text: str) -> float | None:
    """The value of a SPICE number (``4.7k``, ``1meg``, ``.7371``, ``6.734f``, ``10kOhm``, ``-1e-3``), or None
    when ``text`` is not one (``1k5``, ``abc``, ``{x}``)."""
    m = _NUMBER.fullmatch(text.strip())
    if m is None:
        return None
    return float(m.group(1)) * scale_of(m.group(2))
