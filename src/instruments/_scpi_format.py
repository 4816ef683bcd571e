"""Numbers as command text, and numbers out of replies: the formatting every driver shares.

IEEE 488.2 (docs/reference/scpi.md §1) accepts a decimal number in any of the NR1/NR2/NR3 forms, so one
formatter serves every family; only the precision differs (generators send a float's full 15 digits,
because frequencies such as 12345.678 Hz are set exactly; scopes send 10, more than any vertical or
horizontal setting resolves). Pure text handling: no I/O, no imports beyond ``re``.
"""

from __future__ import annotations

import re

#: a decimal number with optional sign, fraction and exponent (``-1.5``, ``.5``, ``2.0E-01``); replies of
#: several families carry units or headers around it (``1000HZ``, ``:CH1:SCALE 1.0E-1``, ``50Ω``)
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")

GENERATOR_DIGITS = 15
SCOPE_DIGITS = 10


def leading_number(text: str) -> float:
    """The number ``text`` starts with (``1000HZ`` -> 1000.0, ``50Ω`` -> 50.0); ValueError if none."""
    m = NUMBER.match(text)
    if not m:
        raise ValueError(f"not a number: {text!r}")
    return float(m.group())


def first_number(text: str) -> float:
    """The first number anywhere in ``text`` (``+32`` -> 32.0, ``Arm 1`` -> 1.0); ValueError if none. Digits
    in a header would come first, so this is for replies without one."""
    m = NUMBER.search(text)
    if not m:
        raise ValueError(f"no number in {text!r}")
    return float(m.group())


def scpi_number(value: float, digits: int = GENERATOR_DIGITS) -> str:
    """``value`` as command text: at most ``digits`` significant digits, no padding, no sign on zero
    (1000 -> ``1000``, 2e-05 -> ``2e-05``, -0.0 -> ``0``)."""
    return format(float(value) + 0.0, f".{digits}g")


def scope_number(value: float) -> str:
    """``value`` as a scope's command text: :func:`scpi_number` with :data:`SCOPE_DIGITS` digits."""
    return scpi_number(value, SCOPE_DIGITS)
