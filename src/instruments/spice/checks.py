"""Checks of a flattened circuit that a simulator would otherwise trip over, each one :class:`NetlistError`
line naming the file, the line and the problem.

- element names are unique (case-insensitive, after flattening);
- every D/Q/M names a defined ``.model`` of a fitting type (D: ``d``; Q: ``npn``/``pnp``; M: ``nmos``/``pmos``);
- every F/H is controlled by an existing voltage source;
- no floating node: every node has at least two element terminals on it, and every node has a DC path to
  ground (ngspice refuses both: "singular matrix" / "has no DC path to ground"). The DC paths are R, L, V,
  the outputs of E and H, D, the c-b-e terminals of Q, and the channel and bulk junctions of M (d, s, b); C,
  I, the outputs of G and F, the control inputs of E and G and the gate of M carry none. The line named is
  the first element touching the node;
- no loop of voltage sources, inductors and E/H outputs (at DC its current is undetermined; MNA, e.g.
  Vlach & Singhal, "Computer Methods for Circuit Analysis and Design", 2nd ed., ch. 4, is then singular).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping

from ..errors import NetlistError
from .circuit import GROUND, Element, FlatCircuit

MODEL_KINDS = {"D": ("d",), "Q": ("npn", "pnp"), "M": ("nmos", "pmos")}
_LISTED = 12


def _fail(el: Element, message: str) -> NetlistError:
    return NetlistError(el.where.file, el.where.line, message)


def _names(items: Iterable[str]) -> str:
    items = list(items)
    more = f", ... ({len(items) - _LISTED} more)" if len(items) > _LISTED else ""
    return ", ".join(items[:_LISTED]) + more if items else "none"


def check_unique(elements: Iterable[Element]) -> None:
    """No two elements share a name (compared case-insensitively)."""
    seen: dict[str, Element] = {}
    for el in elements:
        first = seen.setdefault(el.name.lower(), el)
        if first is not el:
            raise _fail(el, f"element {el.name!r} is defined twice (first at {first.where})")


def check_models(circuit: FlatCircuit) -> None:
    """Every D/Q/M has a defined model of a type that fits it."""
    for el in circuit.elements:
        if el.kind not in MODEL_KINDS:
            continue
        card = circuit.models.get(el.model or "")
        if card is None:
            raise _fail(el, f"element {el.name!r}: model {el.model!r} is not defined "
                        f"(.model cards: {_names(sorted(circuit.models))})")
        if card.type not in MODEL_KINDS[el.kind]:
            need = " or ".join(MODEL_KINDS[el.kind])
            raise _fail(el, f"element {el.name!r}: model {card.name!r} is of type {card.type!r}, "
                        f"a {el.kind} element needs {need}")


def check_controls(circuit: FlatCircuit) -> None:
    """Every F/H names an existing voltage source."""
    by_name = {e.name.lower(): e for e in circuit.elements}
    for el in circuit.elements:
        if el.control is None:
            continue
        source = by_name.get(el.control.lower())
        if source is None:
            vs = [e.name for e in circuit.elements if e.kind == "V"]
            raise _fail(el, f"element {el.name!r}: control source {el.control!r} does not exist "
                        f"(voltage sources: {_names(vs)})")
        if source.kind != "V":
            raise _fail(el, f"element {el.name!r}: control {source.name!r} is not a voltage source")


def dc_groups(el: Element) -> list[tuple[str, ...]]:
    """The sets of an element's nodes it joins by a DC path (see the module docstring)."""
    n = el.nodes
    if el.kind in "RLVEHD":
        return [n[:2]]
    if el.kind == "Q":
        return [n[:3]]
    if el.kind == "M":
        return [(n[0], n[2], n[3])]
    return []


class _Union:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, a: str) -> str:
        self.parent.setdefault(a, a)
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def join(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)


def _gnd_hint(node: str) -> str:
    return " ('gnd' is an ordinary node here: only node 0 is ground)" if node.rsplit(".", 1)[-1] == "gnd" else ""


def check_connections(circuit: FlatCircuit) -> None:
    """No node with a single element terminal on it."""
    count: dict[str, int] = {}
    first: dict[str, Element] = {}
    for el in circuit.elements:
        for node in el.nodes:
            count[node] = count.get(node, 0) + 1
            first.setdefault(node, el)
    for node in circuit.nodes:
        if count.get(node, 0) < 2:
            el = first[node]
            raise _fail(el, f"node {node!r} is floating: only element {el.name!r} connects to it{_gnd_hint(node)}")


def check_dc_paths(circuit: FlatCircuit) -> None:
    """Every node has a DC path to ground."""
    union = _Union()
    union.find(GROUND)
    for el in circuit.elements:
        for group in dc_groups(el):
            for node in group[1:]:
                union.join(group[0], node)
    grounded = union.find(GROUND)
    cut = [n for n in circuit.nodes if union.find(n) != grounded]
    if not cut:
        return
    node = cut[0]
    island = {n for n in cut if union.find(n) == union.find(node)}
    el = next(e for e in circuit.elements if node in e.nodes)
    across = [e.name for e in circuit.elements if set(e.nodes) & island and not set(e.nodes) <= island]
    others = sorted(island - {node}, key=circuit.nodes.index)
    nor = f" (nor have {_names(others)})" if others else ""
    how = (f"it reaches the rest of the circuit only through {_names(across)} (C, I, G/F outputs, E/G "
           "control inputs and MOS gates carry no DC)" if across else "it is connected to nothing else")
    raise _fail(el, f"node {node!r} has no DC path to ground{nor}: {how}{_gnd_hint(node)}")


def _path(edges: list[tuple[str, str, str]], a: str, b: str) -> list[str]:
    """The element names on a path from node ``a`` to ``b`` over ``edges`` (node, node, name)."""
    back: dict[str, tuple[str, str] | None] = {a: None}
    queue = deque([a])
    while queue:
        here = queue.popleft()
        for x, y, name in edges:
            for p, q in ((x, y), (y, x)):
                if p == here and q not in back:
                    back[q] = (here, name)
                    queue.append(q)
    names: list[str] = []
    step = back.get(b)
    while step is not None:
        names.append(step[1])
        step = back[step[0]]
    return names[::-1]


def check_source_loops(circuit: FlatCircuit) -> None:
    """No loop made only of V sources, inductors and E/H outputs."""
    union = _Union()
    edges: list[tuple[str, str, str]] = []
    for el in circuit.elements:
        if el.kind not in "VLEH":
            continue
        a, b = el.nodes[0], el.nodes[1]
        if union.find(a) == union.find(b):
            members = [*_path(edges, a, b), el.name]
            raise _fail(el, f"element {el.name!r} closes a loop of voltage sources/inductors ({', '.join(members)}): "
                        "its DC current is undetermined")
        union.join(a, b)
        edges.append((a, b, el.name))


def check_circuit(circuit: FlatCircuit) -> None:
    """Every check of the module docstring, in that order; the first problem found is raised."""
    if not circuit.elements:
        raise NetlistError(circuit.source, 0, "the netlist has no elements")
    check_unique(circuit.elements)
    check_models(circuit)
    check_controls(circuit)
    check_connections(circuit)
    check_dc_paths(circuit)
    check_source_loops(circuit)


def check_pins(circuit: FlatCircuit, pins: Mapping[str, str], where: str) -> None:
    """Every pin (name -> node) is a non-ground node of the circuit; ``where`` names the config and key for
    the message (``"board.toml: [netlist]"``)."""
    for pin, node in pins.items():
        low = node.lower()
        if low == GROUND:
            raise NetlistError(where, 0, f"{pin}: node '0' is ground, it cannot be a pin")
        if low not in circuit.nodes:
            raise NetlistError(where, 0, f"{pin}: {node!r} is not a node of {circuit.source} "
                               f"(nodes: {_names(circuit.nodes)})")
