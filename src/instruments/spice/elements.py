"""Element lines (SPICE3 / ngspice syntax, ngspice User's Manual ch. 3-4, 7, 8, 11) into :class:`Element`.

Supported, with ``[...]`` optional and ``k=v`` instance parameters anywhere after the positional fields:

- ``Rxxx n+ n- value`` (or ``r=value``), ``Cxxx ... value`` (``c=``), ``Lxxx ... value`` (``l=``); ``m=``
  (parallel multiplicity) is folded into the value; ``ic=``, ``tc1=``, ... are kept as parameters;
- ``Vxxx n+ n- [[DC] value] [AC [mag [phase_deg]]] [transient]`` and ``Ixxx`` alike; a transient function
  (``SIN PULSE EXP PWL SFFM AM TRNOISE TRRANDOM``, with or without parentheses) is accepted and ignored,
  except that without a DC value the DC value is the function's value at time zero, as ngspice takes it
  (sec. 4.1 "Independent Sources"); with neither, it is 0;
- ``Dxxx anode cathode model [area]``, ``Qxxx c b e [substrate] model [area]`` (the fourth node is the
  substrate when it is not a model name, as in ngspice), ``Mxxx d g s b model [W= L= M= ...]``;
- ``Exxx n+ n- nc+ nc- gain``, ``Gxxx`` (transconductance), ``Fxxx n+ n- vcontrol gain``, ``Hxxx`` (transresistance);
  only the linear forms (no ``POLY``, ``VALUE=``, ``TABLE``, ``LAPLACE``).

``IC=`` lists (transient initial conditions) and the ``OFF`` flag are accepted and dropped: they only set
where a transient or a Newton iteration starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..errors import NetlistError
from .circuit import Element
from .lexer import Card
from .numbers import parse_number
from .params import Scope, split_pairs, split_positional
from .sources import parse_source

KINDS = "RCLVIDQMEGFHX"
SYNTAX = {
    "R": "n+ n- value", "C": "n+ n- value", "L": "n+ n- value", "D": "anode cathode model [area]",
    "Q": "c b e [substrate] model [area]", "M": "d g s b model [W=.. L=.. M=..]", "E": "n+ n- nc+ nc- gain",
    "G": "n+ n- nc+ nc- transconductance", "F": "n+ n- vcontrol gain", "H": "n+ n- vcontrol transresistance",
    "V": "n+ n- [DC] value [AC mag [phase]]", "I": "n+ n- [DC] value [AC mag [phase]]",
}
_NONLINEAR = {"poly", "value", "table", "laplace", "vol", "cur", "freq"}


class Context(Protocol):
    """What an element line needs from the level (top, or a subcircuit instance) it sits at."""

    scope: Scope

    def node(self, name: str) -> str:
        """The flattened name of a node written ``name`` at this level."""

    def element_name(self, name: str) -> str:
        """The flattened name of an element named ``name`` at this level."""

    def model(self, name: str) -> str | None:
        """The key of the model card ``name`` resolves to at this level, or None if none does."""


def fail(card: Card, what: str, message: str) -> NetlistError:
    """The :class:`NetlistError` of a problem on ``card``."""
    return NetlistError(card.where.file, card.where.line, f"{what}: {message}")


def _fields_error(card: Card, kind: str, what: str, pos: list[str]) -> NetlistError:
    found = " ".join(pos) or "nothing"
    return fail(card, what, f"wrong number of nodes/fields: expected {card.tokens[0]} {SYNTAX[kind]}, "
                f"found {len(pos)} field{'s' if len(pos) != 1 else ''} ({found})")


def _nodes(card: Card, ctx: Context, what: str, names: list[str]) -> tuple[str, ...]:
    for n in names:
        if n[:1] in "{'\"()=,":
            raise fail(card, what, f"{n!r} is not a node name")
    return tuple(ctx.node(n.lower()) for n in names)


def instance_params(card: Card, ctx: Context, what: str, pairs: list[str]) -> dict[str, float]:
    """The ``k=v`` instance parameters, names upper case, values evaluated (``IC=`` lists dropped)."""
    out: dict[str, float] = {}
    for key, text in split_pairs(pairs, card.where, what):
        if key.upper() == "IC":
            continue
        if "," in text:
            raise fail(card, what, f"{key}={text}: one value expected")
        out[key.upper()] = ctx.scope.value(text, card.where, what)
    return out


def _without_off(tokens: list[str]) -> list[str]:
    """The tokens without the ``OFF`` flag (one not preceded by ``=``)."""
    return [t for k, t in enumerate(tokens) if t.lower() != "off" or (k > 0 and tokens[k - 1] == "=")]


def _passive(card: Card, ctx: Context, kind: str, what: str) -> Element:
    pos, pairs = split_positional(card.tokens[1:])
    params = instance_params(card, ctx, what, pairs)
    keyword = params.pop(kind, None)
    if len(pos) < 2 or len(pos) > 3 or (len(pos) == 3 and keyword is not None):
        raise _fields_error(card, kind, what, pos)
    if len(pos) == 2 and keyword is None:
        raise fail(card, what, f"missing value ({card.tokens[0]} {SYNTAX[kind]})")
    value = keyword if keyword is not None else ctx.scope.value(pos[2], card.where, what)
    mult = params.pop("M", 1.0)
    if mult <= 0.0:
        raise fail(card, what, f"m={mult:g}: the multiplicity must be > 0")
    value = value * mult if kind == "C" else value / mult
    return Element(name=ctx.element_name(card.tokens[0]), kind=kind, nodes=_nodes(card, ctx, what, pos[:2]),
                   value=value, params=params, where=card.where)


def _source(card: Card, ctx: Context, kind: str, what: str) -> Element:
    pos, pairs = split_positional(card.tokens[1:])
    if len(pos) < 2:
        raise _fields_error(card, kind, what, pos)
    spec = parse_source(pos[2:], lambda text: ctx.scope.value(text, card.where, what),
                        lambda message: fail(card, what, message))
    return Element(name=ctx.element_name(card.tokens[0]), kind=kind, nodes=_nodes(card, ctx, what, pos[:2]),
                   value=spec.dc, ac_mag=spec.ac_mag, ac_phase_deg=spec.ac_phase_deg,
                   params=instance_params(card, ctx, what, pairs), where=card.where)


def _split_bjt(ctx: Context, pos: list[str]) -> tuple[list[str], str, list[str]] | None:
    """(nodes, model, rest) of a Q line's positional fields: the fourth is the substrate when it is not a
    model name and a non-number follows it (ngspice's rule)."""
    if len(pos) < 4:
        return None
    if ctx.model(pos[3].lower()) is None and len(pos) >= 5 and parse_number(pos[4]) is None:
        return pos[:4], pos[4], pos[5:]
    return pos[:3], pos[3], pos[4:]


def _device(card: Card, ctx: Context, kind: str, what: str) -> Element:
    pos, pairs = split_positional(card.tokens[1:])
    pos = _without_off(pos)
    params = instance_params(card, ctx, what, _without_off(pairs))
    split: tuple[list[str], str, list[str]] | None
    if kind == "Q":
        split = _split_bjt(ctx, pos)
    else:
        n = 2 if kind == "D" else 4
        split = (pos[:n], pos[n], pos[n + 1:]) if len(pos) > n else None
    if split is None or len(split[2]) > (0 if kind == "M" else 1):
        raise _fields_error(card, kind, what, pos)
    nodes, model, rest = split
    if rest:
        params["AREA"] = ctx.scope.value(rest[0], card.where, what)
    resolved = ctx.model(model.lower())
    return Element(name=ctx.element_name(card.tokens[0]), kind=kind, nodes=_nodes(card, ctx, what, nodes),
                   value=None, model=resolved if resolved is not None else model.lower(), params=params,
                   where=card.where)


def _controlled(card: Card, ctx: Context, kind: str, what: str) -> Element:
    pos, pairs = split_positional(card.tokens[1:])
    keys = {pairs[k].lower() for k in range(len(pairs) - 1) if pairs[k + 1] == "="}
    if any(p.lower() in _NONLINEAR for p in pos) or keys & _NONLINEAR:
        raise fail(card, what, f"only the linear form is supported ({card.tokens[0]} {SYNTAX[kind]})")
    n = 4 if kind in "EG" else 3
    if len(pos) == n:
        raise fail(card, what, f"missing value ({card.tokens[0]} {SYNTAX[kind]})")
    if len(pos) != n + 1:
        raise _fields_error(card, kind, what, pos)
    control = ctx.element_name(pos[2]) if kind in "FH" else None
    nodes = pos[:4] if kind in "EG" else pos[:2]
    return Element(name=ctx.element_name(card.tokens[0]), kind=kind, nodes=_nodes(card, ctx, what, nodes),
                   value=ctx.scope.value(pos[n], card.where, what), control=control,
                   params=instance_params(card, ctx, what, pairs), where=card.where)


_BUILDERS: dict[str, Callable[[Card, Context, str, str], Element]] = {
    **dict.fromkeys("RCL", _passive), **dict.fromkeys("VI", _source), **dict.fromkeys("DQM", _device),
    **dict.fromkeys("EGFH", _controlled),
}


def build_element(card: Card, ctx: Context) -> Element:
    """The :class:`Element` of an element line (not ``X``: subcircuit calls are expanded by the flattener)."""
    kind = card.tokens[0][0].upper()
    what = f"element {ctx.element_name(card.tokens[0])!r}"
    if kind not in _BUILDERS:
        raise fail(card, what, f"unknown element {kind!r} (supported: {' '.join(KINDS)})")
    return _BUILDERS[kind](card, ctx, kind, what)
