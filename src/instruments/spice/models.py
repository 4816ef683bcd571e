"""``.model`` cards: ``.model NAME TYPE(PARAM=value ...)``, or the same without parentheses.

Syntax per the ngspice User's Manual sec. 2.3 ".model"; the types read are the ones the simulated board
has devices for: ``npn pnp`` (ch. 8 BJTs), ``d`` (ch. 7 diodes), ``nmos pmos`` (ch. 11 MOSFETs, any
``LEVEL``; which levels are simulated is the engine's business). Parameter names are kept upper case, values
are floats (numbers with scale factors, or ``{expressions}``); a parameter given twice takes its last value,
as in SPICE. Commas between parameters are accepted (some vendor cards have them).
"""

from __future__ import annotations

from ..errors import NetlistError
from .circuit import ModelCard, Where
from .lexer import Card
from .numbers import parse_number
from .params import Scope, split_pairs

MODEL_TYPES = ("npn", "pnp", "d", "nmos", "pmos")


def model_name(card: Card) -> str:
    """The name a ``.model`` card defines, as spelled (an error when it has none)."""
    if len(card.tokens) < 3 or card.tokens[1] in ("(", ")", "=", ","):
        raise NetlistError(card.where.file, card.where.line, ".model needs a name and a type: .model NAME TYPE(...)")
    return card.tokens[1]


def _param_tokens(card: Card, name: str) -> list[str]:
    rest = [t for t in card.tokens[3:] if t != ","]
    if rest[:1] == ["("]:
        if rest[-1:] != [")"]:
            raise NetlistError(card.where.file, card.where.line, f"model {name!r}: '(' without ')'")
        rest = rest[1:-1]
    return rest


def _value(scope: Scope, key: str, text: str, where: Where, name: str) -> float:
    if parse_number(text) is None and text[:1] not in ("{", "'"):
        raise NetlistError(where.file, where.line,
                           f"model {name!r}: {key}={text} is not a number (a text annotation such as MFG=... "
                           "is no SPICE parameter, and ngspice refuses it too: delete it)")
    return scope.value(text, where, f"model {name!r}")


def build_model(card: Card, scope: Scope, prefix: str = "") -> ModelCard:
    """The :class:`ModelCard` of a ``.model`` card, its values evaluated in ``scope``; ``prefix`` is the
    subcircuit instance path for a card inside a ``.subckt`` (``"X1."``)."""
    name = model_name(card)
    kind = card.tokens[2].lower()
    if kind not in MODEL_TYPES:
        raise NetlistError(card.where.file, card.where.line,
                           f"model {name!r}: type {card.tokens[2]!r} is not supported ({', '.join(MODEL_TYPES)})")
    params: dict[str, float] = {}
    for key, text in split_pairs(_param_tokens(card, name), card.where, f"model {name!r}"):
        params[key.upper()] = _value(scope, key.upper(), text, card.where, name)
    return ModelCard(name=prefix + name, type=kind, params=params, where=card.where)
