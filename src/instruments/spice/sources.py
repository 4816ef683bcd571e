"""The value fields of an independent source (``V``, ``I``): DC value, AC phasor, transient function.

Syntax per the ngspice User's Manual sec. 4.1 "Independent Sources for Voltage or Current":
``[[DC] value] [AC [mag [phase]]] [DISTOF1 ...] [DISTOF2 ...] [transient function]``. A missing AC magnitude
is 1 and a missing phase 0 (degrees). The transient function is not simulated; when no DC value is given,
ngspice's operating point uses the function's value at time zero, which is the first argument of ``SIN``
(VO), ``PULSE`` (V1), ``EXP`` (V1) and ``SFFM`` (VO), the first value of ``PWL`` (V1, held before T1), and 0
for ``AM`` (its carrier is sin(0)), ``TRNOISE`` and ``TRRANDOM``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import NetlistError
from .numbers import parse_number

TRANSIENT = ("sin", "pulse", "exp", "pwl", "sffm", "am", "trnoise", "trrandom")
_FIRST_ARG = ("sin", "pulse", "exp", "sffm")


@dataclass(frozen=True)
class SourceSpec:
    """A source's DC value (V or A), AC magnitude (V or A) and AC phase (degrees)."""

    dc: float
    ac_mag: float
    ac_phase_deg: float


def _is_value(token: str) -> bool:
    return parse_number(token) is not None or token[:1] in ("{", "'")


def _values(tokens: Sequence[str], k: int, most: int) -> tuple[list[str], int]:
    """Up to ``most`` value tokens from ``k`` on, and the index after them."""
    out: list[str] = []
    while k < len(tokens) and len(out) < most and _is_value(tokens[k]):
        out.append(tokens[k])
        k += 1
    return out, k


def _function_args(tokens: Sequence[str], k: int, error: Callable[[str], NetlistError]) -> tuple[list[str], int]:
    """A transient function's arguments, in parentheses or not (commas between them are accepted)."""
    if k < len(tokens) and tokens[k] == "(":
        try:
            end = tokens.index(")", k)
        except ValueError:
            raise error("'(' without ')' in the source's transient function") from None
        return [t for t in tokens[k + 1:end] if t != ","], end + 1
    return _values(tokens, k, len(tokens))


def _time_zero(function: str, args: list[float]) -> float:
    if function in _FIRST_ARG:
        return args[0] if args else 0.0
    if function == "pwl":
        return args[1] if len(args) >= 2 else 0.0
    return 0.0


def parse_source(tokens: Sequence[str], value: Callable[[str], float],
                 error: Callable[[str], NetlistError]) -> SourceSpec:
    """The :class:`SourceSpec` of a source's fields after its two nodes; ``value`` evaluates a field,
    ``error`` makes the error of a problem."""
    dc: float | None = None
    t0 = 0.0
    ac_mag, ac_phase = 0.0, 0.0
    k = 0
    while k < len(tokens):
        low = tokens[k].lower()
        if low == "dc":
            if k + 1 >= len(tokens) or not _is_value(tokens[k + 1]):
                raise error("DC needs a value")
            dc, k = value(tokens[k + 1]), k + 2
        elif low == "ac":
            args, k = _values(tokens, k + 1, 2)
            ac_mag = value(args[0]) if args else 1.0
            ac_phase = value(args[1]) if len(args) > 1 else 0.0
        elif low in TRANSIENT:
            args, k = _function_args(tokens, k + 1, error)
            t0 = _time_zero(low, [value(a) for a in args])
        elif low in ("distof1", "distof2"):
            k = _values(tokens, k + 1, 2)[1]
        elif dc is None and _is_value(tokens[k]):
            dc, k = value(tokens[k]), k + 1
        else:
            raise error(f"unexpected {tokens[k]!r} in the source's value (expected [DC] value [AC mag [phase]])")
    return SourceSpec(dc=dc if dc is not None else t0, ac_mag=ac_mag, ac_phase_deg=ac_phase)
