"""``.param`` scopes and the values of fields: numbers, ``{expressions}`` and ``'expressions'``.

Parameters (ngspice User's Manual sec. 2.8 ".param"; sec. 2.4.3 subcircuit parameters) are case-insensitive
and are kept by lower-case name. A scope holds the parameters of one level (the top level, or one subcircuit
instance: its ``params:`` and its body's ``.param`` cards) and falls back on its parent. Definitions are
evaluated on first use, so a ``.param`` may use one defined further down the file; a circular definition is
an error. A later definition of the same name in the same scope replaces the earlier one, as in SPICE.

An element's field must be a number, ``{expr}`` or ``'expr'``: ngspice reads a bare name in a value's place
as a model name, so a bare parameter name is refused with a hint rather than read differently from ngspice.
``.param`` values and subcircuit parameters may also be written without braces.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import NetlistError
from .circuit import Where
from .expressions import ExpressionError, UndefinedParam, evaluate
from .numbers import parse_number


class Scope:
    """The parameters visible at one level of the netlist, evaluated lazily."""

    def __init__(self, parent: Scope | None = None) -> None:
        self.parent = parent
        self.values: dict[str, float] = {}
        self._pending: dict[str, tuple[str, Where]] = {}
        self._busy: list[str] = []

    def define(self, name: str, text: str, where: Where) -> None:
        """Define parameter ``name`` as the expression ``text`` (evaluated when first used)."""
        key = name.lower()
        self.values.pop(key, None)
        self._pending[key] = (text, where)

    def set(self, name: str, value: float) -> None:
        """Give parameter ``name`` a value directly (an instance parameter, an override)."""
        self._pending.pop(name.lower(), None)
        self.values[name.lower()] = value

    def lookup(self, name: str) -> float | None:
        """The value of parameter ``name`` (lower case) here or in a parent scope, or None."""
        if name in self.values:
            return self.values[name]
        if name in self._pending:
            text, where = self._pending[name]
            if name in self._busy:
                chain = " -> ".join([*self._busy[self._busy.index(name):], name])
                raise NetlistError(where.file, where.line, f".param {name}: circular definition ({chain})")
            self._busy.append(name)
            try:
                value = self.expression(text, where, f".param {name}")
            finally:
                self._busy.pop()
            del self._pending[name]
            self.values[name] = value
            return value
        return self.parent.lookup(name) if self.parent is not None else None

    def names(self) -> list[str]:
        """Every parameter name visible here, sorted."""
        here = set(self.values) | set(self._pending)
        return sorted(here | set(self.parent.names() if self.parent else ()))

    def evaluate_all(self) -> dict[str, float]:
        """Every parameter of this level (not the parents'), evaluated."""
        for name in list(self._pending):
            self.lookup(name)
        return dict(self.values)

    def expression(self, text: str, where: Where, what: str) -> float:
        """The value of ``text``: a number, or an expression with or without ``{}`` / ``''``."""
        inner = text.strip()
        if len(inner) >= 2 and (inner[0], inner[-1]) in (("{", "}"), ("'", "'")):
            inner = inner[1:-1]
        number = parse_number(inner)
        if number is not None:
            return number
        try:
            return evaluate(inner, self.lookup)
        except UndefinedParam as exc:
            known = ", ".join(self.names()) or "none"
            raise NetlistError(where.file, where.line,
                               f"{what}: undefined .param {exc.name!r} in {text!r} (defined: {known})") from None
        except ExpressionError as exc:
            raise NetlistError(where.file, where.line, f"{what}: {exc} in {text!r}") from None

    def value(self, text: str, where: Where, what: str) -> float:
        """The value of an element's field: a number, ``{expr}`` or ``'expr'`` (see the module docstring)."""
        number = parse_number(text)
        if number is not None:
            return number
        if text[:1] in ("{", "'"):
            return self.expression(text, where, what)
        hint = f" (a .param is written {{{text}}})" if _is_name(text) and text.replace("_", "a").isalnum() else ""
        raise NetlistError(where.file, where.line, f"{what}: {text!r} is not a number{hint}")


def split_pairs(tokens: Sequence[str], where: Where, what: str) -> list[tuple[str, str]]:
    """``name = value`` pairs from tokens (``R=2k W = {2*l} IC=0.6,5``): each value is the tokens up to the
    next ``name =``, joined by blanks; names as spelled."""
    pairs: list[tuple[str, str]] = []
    k = 0
    while k < len(tokens):
        if k + 1 >= len(tokens) or tokens[k + 1] != "=" or not _is_name(tokens[k]):
            raise NetlistError(where.file, where.line, f"{what}: expected name=value, found {tokens[k]!r}")
        end = k + 2
        while end < len(tokens) and not (end + 1 < len(tokens) and tokens[end + 1] == "="):
            end += 1
        if end == k + 2:
            raise NetlistError(where.file, where.line, f"{what}: {tokens[k]}= has no value")
        pairs.append((tokens[k], " ".join(tokens[k + 2:end])))
        k = end
    return pairs


def _is_name(token: str) -> bool:
    return token[:1].isalpha() or token[:1] == "_"


def split_positional(tokens: Sequence[str]) -> tuple[list[str], list[str]]:
    """The tokens before the first ``name =`` pair, and the rest."""
    for k in range(len(tokens) - 1):
        if tokens[k + 1] == "=":
            return list(tokens[:k]), list(tokens[k:])
    return list(tokens), []
