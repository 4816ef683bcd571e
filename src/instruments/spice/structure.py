"""The cards of a netlist sorted into levels: the top level and each ``.subckt`` definition (which may nest).

Each level keeps its element lines in order, its ``.model`` and ``.param`` cards and the subcircuits defined
in it. ``.global`` names nodes shared by every level. Analysis and output cards (``.op .ac .dc .tran .noise
.options .temp .print ...``) describe what to simulate, not the circuit, and are skipped. ``.lib`` and
``.func`` are refused with a one-line reason rather than ignored, since what they define would be missing.
Card syntax: ngspice User's Manual ch. 2 (2.4 ".subckt", 2.8 ".param", 2.10 ".global") and ch. 15.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..errors import NetlistError
from .circuit import Where
from .lexer import Card
from .models import model_name
from .params import split_pairs, split_positional

IGNORED = frozenset({".op", ".ac", ".dc", ".tran", ".noise", ".tf", ".sens", ".disto", ".pz", ".four", ".fourier",
                     ".print", ".plot", ".probe", ".save", ".meas", ".measure", ".width", ".options", ".option",
                     ".opt", ".temp", ".ic", ".nodeset", ".endc", ".title"})
REFUSED = {".lib": ".lib is not supported: put the models in a file and .include it",
           ".func": ".func (user-defined functions) is not supported: write the expression out or use .param",
           ".endl": ".endl without .lib (.lib is not supported)"}


@dataclass
class Subckt:
    """A ``.subckt`` definition: its name as spelled, its ports (lower case), its parameters' default
    expressions (lower-case names, in order) and its body."""

    name: str
    ports: list[str]
    defaults: list[tuple[str, str]]
    body: Body
    where: Where


@dataclass
class Body:
    """The cards of one level."""

    elements: list[Card] = field(default_factory=list)
    models: dict[str, Card] = field(default_factory=dict)
    params: list[Card] = field(default_factory=list)
    subckts: dict[str, Subckt] = field(default_factory=dict)


def _error(card: Card, message: str) -> NetlistError:
    return NetlistError(card.where.file, card.where.line, message)


def _subckt_header(card: Card, body: Body) -> Subckt:
    if len(card.tokens) < 2:
        raise _error(card, ".subckt needs a name: .subckt NAME port ... [params: name=value ...]")
    name = card.tokens[1]
    pos, pairs = split_positional(card.tokens[2:])
    pos = [p for p in pos if p.lower() != "params:"]
    ports = [p.lower() for p in pos]
    dup = next((p for k, p in enumerate(ports) if p in ports[:k]), None)
    if dup is not None:
        raise _error(card, f"subckt {name!r}: port {dup!r} is listed twice")
    defaults = [(k.lower(), v) for k, v in split_pairs(pairs, card.where, f"subckt {name!r}")]
    return Subckt(name=name, ports=ports, defaults=defaults, body=body, where=card.where)


def _closing(cards: Sequence[Card], start: int) -> int:
    """The index of the ``.ends`` that closes the ``.subckt`` at ``start``."""
    depth = 0
    for k in range(start, len(cards)):
        if cards[k].keyword == ".subckt":
            depth += 1
        elif cards[k].keyword == ".ends":
            depth -= 1
            if depth == 0:
                return k
    name = cards[start].tokens[1] if len(cards[start].tokens) > 1 else ""
    raise _error(cards[start], f".subckt {name} has no .ends")


def _add_subckt(cards: Sequence[Card], k: int, body: Body, globals_: list[str]) -> int:
    end = _closing(cards, k)
    sub = _subckt_header(cards[k], parse_body(cards[k + 1:end], globals_))
    ends = cards[end].tokens
    if len(ends) > 1 and ends[1].lower() != sub.name.lower():
        raise _error(cards[end], f".ends {ends[1]} closes .subckt {sub.name}")
    if sub.name.lower() in body.subckts:
        first = body.subckts[sub.name.lower()].where
        raise _error(cards[k], f"subckt {sub.name!r} is defined twice (first at {first})")
    body.subckts[sub.name.lower()] = sub
    return end + 1


def _add_model(card: Card, body: Body) -> None:
    key = model_name(card).lower()
    if key in body.models:
        raise _error(card, f"model {model_name(card)!r} is defined twice (first at {body.models[key].where})")
    body.models[key] = card


def parse_body(cards: Sequence[Card], globals_: list[str]) -> Body:
    """The :class:`Body` of a level's cards; ``.global`` node names are appended to ``globals_``."""
    body = Body()
    k = 0
    while k < len(cards):
        card = cards[k]
        word = card.keyword
        if word == ".subckt":
            k = _add_subckt(cards, k, body, globals_)
            continue
        if word == ".ends":
            raise _error(card, ".ends without .subckt")
        if word == ".model":
            _add_model(card, body)
        elif word == ".param":
            body.params.append(card)
        elif word == ".global":
            globals_.extend(t.lower() for t in card.tokens[1:])
        elif word in REFUSED:
            raise _error(card, REFUSED[word])
        elif word.startswith("."):
            if word not in IGNORED:
                raise _error(card, f"unknown card {card.tokens[0]!r}")
        elif word[0].isalpha():
            body.elements.append(card)
        else:
            raise _error(card, f"{card.tokens[0]!r} is neither an element nor a card")
        k += 1
    return body
