"""Flattening: every ``X`` instance replaced by its subcircuit's elements, named by the instance path.

Semantics of ngspice (User's Manual sec. 2.4 "Subcircuits", 2.4.3 "Subcircuit parameters"): an instance
``Xname n1 n2 ... subname [params:] [p=value ...]`` connects the subcircuit's ports, in order, to the caller's
nodes; parameters given on the ``X`` line (evaluated where the ``X`` line is) replace the ``.subckt`` line's
defaults, and ``.param`` cards in the body are local to each instance. Inside an instance, an element's name
is the instance path plus its own (``X1.Q3``), a node that is not a port, ``0`` or a ``.global`` node becomes
``x1.n5``, a ``.model`` card of the body is local to the instance (``X1.qloc``, key ``x1.qloc``), and a
subcircuit or model name is looked up in the instance, then in its callers, then at the top level.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import NetlistError
from .circuit import GROUND, Element, ModelCard
from .elements import build_element
from .lexer import Card
from .models import build_model
from .params import Scope, split_pairs, split_positional
from .structure import Body, Subckt


class Level:
    """The top level or one subcircuit instance: how names resolve there (an elements ``Context``)."""

    def __init__(self, prefix: str, body: Body, scope: Scope, node_map: Mapping[str, str],
                 globals_: frozenset[str], parent: Level | None = None) -> None:
        self.prefix = prefix
        self.body = body
        self.scope = scope
        self.node_map = dict(node_map)
        self.globals = globals_
        self.parent = parent
        self.local_models: dict[str, str] = {}

    def node(self, name: str) -> str:
        """The flattened name of node ``name`` (lower case) written at this level."""
        if name == GROUND or name in self.globals:
            return name
        if name in self.node_map:
            return self.node_map[name]
        return self.prefix.lower() + name

    def element_name(self, name: str) -> str:
        """The flattened name of element ``name`` written at this level."""
        return self.prefix + name

    def model(self, name: str) -> str | None:
        """The key of the model card ``name`` (lower case) resolves to here, or None."""
        if name in self.local_models:
            return self.local_models[name]
        return self.parent.model(name) if self.parent is not None else None

    def subckt(self, name: str) -> Subckt | None:
        """The ``.subckt`` definition ``name`` (lower case) visible here, or None."""
        if name in self.body.subckts:
            return self.body.subckts[name]
        return self.parent.subckt(name) if self.parent is not None else None

    def subckt_names(self) -> list[str]:
        """Every subcircuit name visible here, as spelled, sorted."""
        here = [s.name for s in self.body.subckts.values()]
        return sorted(set(here) | set(self.parent.subckt_names() if self.parent else ()), key=str.lower)


class Flattener:
    """Collects the flat elements and model cards of a netlist, one level after another."""

    def __init__(self) -> None:
        self.elements: list[Element] = []
        self.models: dict[str, ModelCard] = {}
        self._instances: dict[str, Card] = {}

    def add_models(self, level: Level) -> None:
        """Build the level's ``.model`` cards in its scope and make them visible there."""
        for key, card in level.body.models.items():
            model = build_model(card, level.scope, level.prefix)
            level.local_models[key] = model.name.lower()
            self.models[model.name.lower()] = model

    def flatten(self, level: Level, stack: tuple[str, ...] = ()) -> None:
        """Append the level's elements (instances expanded, depth first, in file order)."""
        for card in level.body.elements:
            if card.keyword.startswith("x"):
                self._instance(level, card, stack)
            else:
                self.elements.append(build_element(card, level))

    def _instance(self, level: Level, card: Card, stack: tuple[str, ...]) -> None:
        name = level.element_name(card.tokens[0])
        what = f"element {name!r}"
        if name.lower() in self._instances:
            first = self._instances[name.lower()].where
            raise _fail(card, f"{what} is defined twice (first at {first})")
        self._instances[name.lower()] = card
        pos, pairs = split_positional(card.tokens[1:])
        pos = [p for p in pos if p.lower() != "params:"]
        if not pos:
            raise _fail(card, f"{what}: no subcircuit name ({card.tokens[0]} node ... subckt [name=value ...])")
        sub = level.subckt(pos[-1].lower())
        if sub is None:
            known = ", ".join(level.subckt_names()) or "none"
            raise _fail(card, f"{what}: subckt {pos[-1]!r} is not defined (.subckt: {known})")
        nodes = pos[:-1]
        if len(nodes) != len(sub.ports):
            raise _fail(card, f"{what}: subckt {sub.name!r} has {len(sub.ports)} ports ({' '.join(sub.ports)}), "
                        f"{card.tokens[0]} connects {len(nodes)} ({' '.join(nodes) or 'none'})")
        if sub.name.lower() in stack:
            chain = " -> ".join([*stack[stack.index(sub.name.lower()):], sub.name.lower()])
            raise _fail(card, f"{what}: subckt {sub.name!r} instantiates itself ({chain})")
        scope = _instance_scope(level, card, sub, pairs, what)
        node_map = {port: level.node(n.lower()) for port, n in zip(sub.ports, nodes)}
        inner = Level(name + ".", sub.body, scope, node_map, level.globals, parent=level)
        self.add_models(inner)
        self.flatten(inner, (*stack, sub.name.lower()))


def _fail(card: Card, message: str) -> NetlistError:
    return NetlistError(card.where.file, card.where.line, message)


def _instance_scope(level: Level, card: Card, sub: Subckt, pairs: list[str], what: str) -> Scope:
    """An instance's parameters: the ``X`` line's values (evaluated in the caller's scope) over the
    ``.subckt`` line's defaults, then the body's ``.param`` cards, all local to the instance."""
    scope = Scope(parent=level.scope)
    declared = dict(sub.defaults)
    given = {k.lower(): v for k, v in split_pairs(pairs, card.where, what)}
    for key in given:
        if key not in declared:
            names = ", ".join(declared) or "none"
            raise _fail(card, f"{what}: subckt {sub.name!r} has no parameter {key!r} (its parameters: {names})")
    for key, text in sub.defaults:
        if key in given:
            scope.set(key, level.scope.expression(given[key], card.where, f"{what}: {key}"))
        else:
            scope.define(key, text, sub.where)
    define_params(scope, sub.body)
    return scope


def define_params(scope: Scope, body: Body) -> None:
    """Define every ``.param`` of a level's body in ``scope`` (evaluated when first used)."""
    for card in body.params:
        for key, text in split_pairs(card.tokens[1:], card.where, ".param"):
            scope.define(key, text, card.where)
