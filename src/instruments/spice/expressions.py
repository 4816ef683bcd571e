"""A safe evaluator for the arithmetic of SPICE ``{...}`` / ``'...'`` expressions and ``.param`` values.

The subset is ngspice's (ngspice User's Manual sec. 2.8.5 "Syntax of expressions"): numbers with scale
factors (:mod:`.numbers`), ``.param`` names (case-insensitive), ``+ - * /``, powers ``**`` or ``^``
(right-associative, binding tighter than unary minus: ``-2**2`` is -4), parentheses, the constant ``pi``, and
the functions ``sqrt exp log ln log10 abs min max pow`` (``log`` and ``ln`` are the natural logarithm, as in
ngspice). It is a recursive-descent parser over a token list; nothing is passed to Python's ``eval``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from .numbers import parse_number


class ExpressionError(ValueError):
    """An expression that cannot be evaluated; the message says why (no file or line: the caller adds them)."""


class UndefinedParam(ExpressionError):
    """An expression names a ``.param`` that is not defined where it is used."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"undefined .param {name!r}")


Lookup = Callable[[str], float | None]
"""A parameter's value by lower-case name, or None when it is not defined."""

_TOKEN = re.compile(r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[A-Za-z0-9_]*)"
                    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>\*\*|[-+*/^(),]))")

_FUNCTIONS: dict[str, tuple[int, Callable[..., float]]] = {
    "sqrt": (1, math.sqrt), "exp": (1, math.exp), "log": (1, math.log), "ln": (1, math.log),
    "log10": (1, math.log10), "abs": (1, abs), "min": (2, min), "max": (2, max), "pow": (2, math.pow),
}
_CONSTANTS = {"pi": math.pi}


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ExpressionError(f"unexpected {text[pos:].strip()[:12]!r}")
        out.append(m.group(m.lastgroup or "op"))
        pos = m.end()
    return out


class _Parser:
    """One pass over the tokens, computing as it parses (grammar in the module docstring)."""

    def __init__(self, tokens: list[str], lookup: Lookup) -> None:
        self.tokens = tokens
        self.pos = 0
        self.lookup = lookup

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None:
            raise ExpressionError("unexpected end" + (f", expected {expected!r}" if expected else ""))
        if expected is not None and tok != expected:
            raise ExpressionError(f"expected {expected!r}, found {tok!r}")
        self.pos += 1
        return tok

    def sum(self) -> float:
        value = self.product()
        while self.peek() in ("+", "-"):
            if self.take() == "+":
                value += self.product()
            else:
                value -= self.product()
        return value

    def product(self) -> float:
        value = self.unary()
        while self.peek() in ("*", "/"):
            op = self.take()
            rhs = self.unary()
            if op == "*":
                value *= rhs
            elif rhs == 0.0:
                raise ExpressionError("division by zero")
            else:
                value /= rhs
        return value

    def unary(self) -> float:
        if self.peek() in ("-", "+"):
            sign = -1.0 if self.take() == "-" else 1.0
            return sign * self.unary()
        return self.power()

    def power(self) -> float:
        base = self.primary()
        if self.peek() in ("**", "^"):
            self.take()
            return _call("power", math.pow, [base, self.unary()])
        return base

    def primary(self) -> float:
        tok = self.take()
        if tok == "(":
            value = self.sum()
            self.take(")")
            return value
        if tok[0].isdigit() or tok[0] == ".":
            number = parse_number(tok)
            if number is None:
                raise ExpressionError(f"{tok!r} is not a number")
            return number
        if tok[0].isalpha() or tok[0] == "_":
            return self.name(tok.lower())
        raise ExpressionError(f"unexpected {tok!r}")

    def name(self, name: str) -> float:
        if self.peek() == "(":
            return self.function(name)
        value = self.lookup(name)
        if value is not None:
            return value
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        raise UndefinedParam(name)

    def function(self, name: str) -> float:
        if name not in _FUNCTIONS:
            raise ExpressionError(f"unknown function {name!r} (known: {', '.join(_FUNCTIONS)})")
        arity, fn = _FUNCTIONS[name]
        self.take("(")
        args = [self.sum()]
        while self.peek() == ",":
            self.take()
            args.append(self.sum())
        self.take(")")
        if len(args) != arity:
            raise ExpressionError(f"{name}() takes {arity} argument{'s' if arity > 1 else ''}, got {len(args)}")
        return _call(name, fn, args)


def _call(name: str, fn: Callable[..., float], args: list[float]) -> float:
    try:
        return float(fn(*args))
    except (ValueError, OverflowError) as exc:
        shown = ", ".join(f"{a:g}" for a in args)
        raise ExpressionError(f"{name}({shown}) is not defined ({exc})") from None


def evaluate(text: str, lookup: Lookup) -> float:
    """The value of the expression ``text`` (without its braces or quotes), names resolved by ``lookup``.

    Raises :class:`ExpressionError` (or :class:`UndefinedParam`) for a syntax error, an undefined name,
    a division by zero, a function outside its domain, or a result that is not finite."""
    tokens = _tokens(text)
    if not tokens:
        raise ExpressionError("empty expression")
    parser = _Parser(tokens, lookup)
    value = parser.sum()
    if parser.peek() is not None:
        raise ExpressionError(f"unexpected {parser.peek()!r}")
    if not math.isfinite(value):
        raise ExpressionError(f"the result is not finite ({value})")
    return value
