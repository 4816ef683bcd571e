"""The netlist reader's entry points: a SPICE file (or text) to a checked :class:`FlatCircuit`.

Steps: the text as cards (:mod:`.lexer`), ``.include`` files spliced in where they are named (paths relative
to the including file, quotes optional; an included file has no title line; a file that includes itself,
directly or not, is an error), the cards sorted into levels (:mod:`.structure`), the top-level ``.param``
scope and ``.model`` cards, the subcircuits flattened (:mod:`.subcircuits`), and the circuit checked
(:mod:`.checks`). A ``.title`` card replaces the title line. Everything is ngspice's SPICE3 dialect (ngspice
User's Manual ch. 2).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from os import PathLike
from pathlib import Path

from ..errors import NetlistError
from .checks import check_circuit
from .circuit import GROUND, FlatCircuit
from .lexer import Card, read_cards
from .params import Scope
from .structure import parse_body
from .subcircuits import Flattener, Level, define_params

INCLUDE = (".include", ".inc")


def _read(path: Path, name: str, line: int, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise NetlistError(name, line, f"cannot read {what} {str(path)!r}: {exc.strerror or exc}") from None


def _expand(cards: list[Card], base: Path, stack: tuple[Path, ...]) -> list[Card]:
    """The cards with every ``.include`` replaced by the included file's cards."""
    out: list[Card] = []
    for card in cards:
        if card.keyword not in INCLUDE:
            out.append(card)
            continue
        parts = card.text.split(None, 1)
        if len(parts) < 2:
            raise NetlistError(card.where.file, card.where.line, f"{card.tokens[0]} needs a file name")
        target = base / parts[1].strip().strip("\"'")
        resolved = target.resolve()
        if resolved in stack:
            chain = " -> ".join(p.name for p in (*stack[stack.index(resolved):], resolved))
            raise NetlistError(card.where.file, card.where.line, f"{card.tokens[0]} cycle: {chain}")
        if not target.is_file():
            raise NetlistError(card.where.file, card.where.line, f"included file {str(target)!r} does not exist")
        _, inner = read_cards(_read(target, card.where.file, card.where.line, "included file"), str(target), False)
        out.extend(_expand(inner, target.parent, (*stack, resolved)))
    return out


def _title(title: str, cards: list[Card]) -> str:
    for card in cards:
        if card.keyword == ".title":
            parts = card.text.split(None, 1)
            title = parts[1].strip() if len(parts) > 1 else ""
    return title


def _nodes(flat: Flattener) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for el in flat.elements:
        for n in el.nodes:
            if n != GROUND:
                seen.setdefault(n, None)
    return tuple(seen)


def _with_exact_controls(circuit: FlatCircuit) -> FlatCircuit:
    """F/H control names spelled exactly as their (checked, existing) source is."""
    names = {e.name.lower(): e.name for e in circuit.elements}
    elements = tuple(dataclasses.replace(e, control=names[e.control.lower()]) if e.control else e
                     for e in circuit.elements)
    return dataclasses.replace(circuit, elements=elements)


def _build(text: str, source: str, base: Path, stack: tuple[Path, ...],
           overrides: Mapping[str, float] | None) -> FlatCircuit:
    title, cards = read_cards(text, source, True)
    cards = _expand(cards, base, stack)
    globals_: list[str] = []
    body = parse_body(cards, globals_)
    scope = Scope()
    define_params(scope, body)
    for name, value in (overrides or {}).items():
        if name.lower() not in scope.names():
            raise NetlistError(source, 0, f"no .param {name!r} to set (defined: {', '.join(scope.names()) or 'none'})")
        scope.set(name, float(value))
    top = Level("", body, scope, {}, frozenset(globals_))
    flat = Flattener()
    flat.add_models(top)
    flat.flatten(top)
    circuit = FlatCircuit(source=source, title=_title(title, cards), elements=tuple(flat.elements),
                          models=flat.models, params=scope.evaluate_all(), nodes=_nodes(flat))
    check_circuit(circuit)
    return _with_exact_controls(circuit)


def read_netlist(path: str | PathLike[str], overrides: Mapping[str, float] | None = None) -> FlatCircuit:
    """Read, flatten and check the SPICE netlist file ``path``.

    ``overrides`` replaces top-level ``.param`` values by name (e.g. a fit's trial values; an unknown name
    is an error). Every problem is one :class:`NetlistError` line naming the file and line."""
    p = Path(path)
    text = _read(p, str(path), 0, "the netlist")
    return _build(text, str(path), p.parent, (p.resolve(),), overrides)


def parse_netlist(text: str, source: str = "<netlist>",
                  overrides: Mapping[str, float] | None = None) -> FlatCircuit:
    """Flatten and check a netlist given as text; ``source`` names it in messages, and ``.include`` paths
    are relative to its folder (the working folder when ``source`` is a ``<name>``)."""
    base = Path.cwd() if source.startswith("<") else Path(source).parent
    return _build(text, source, base, (), overrides)
