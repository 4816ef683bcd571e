"""What the netlist reader hands out: a flat, fully resolved circuit (no subcircuits, no expressions left).

Naming (SPICE3 conventions, ngspice User's Manual ch. 2 "Circuit Description"): node names are
case-insensitive and are folded to lower case; only node ``0`` is ground (``gnd`` is an ordinary node). Inside
a subcircuit instance, element names are prefixed with the instance path as spelled in the netlist
(``X1.Q3``, ``X1.X2.R5``) and local nodes with it in lower case (``x1.n5``); a subcircuit's ports take the
caller's nodes, and ``0`` and the ``.global`` nodes are shared by every level. ``.model`` names are global
unless the card is inside a ``.subckt`` body, where it is local to each instance (``x1.qloc``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

GROUND = "0"


@dataclass(frozen=True)
class Where:
    """A place in a netlist file: the file as it was named, and the line number (1-based)."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Element:
    """One element of the flat circuit.

    ``kind`` is the SPICE element letter, upper case. ``nodes`` are flattened node names in SPICE order
    (R/C/L/V/I: n+ n-; D: anode cathode; Q: c b e [substrate]; M: d g s b; E/G: n+ n- nc+ nc-; F/H: n+ n-).
    ``value``: R in Ohm, C in F, L in H (each with its ``M=`` multiplicity applied, SPICE3 parallel devices),
    the DC value of V (V) and I (A), the gain of E (V/V), G (A/V), F (A/A), H (V/A); None for D/Q/M.
    ``ac_mag`` / ``ac_phase_deg``: the AC phasor of V and I (0 elsewhere). ``model``: the key of
    :attr:`FlatCircuit.models` a D/Q/M uses. ``control``: the name of the V source whose current controls an
    F/H. ``params``: the other instance parameters, upper case (``W L M AREA AD AS PD PS ...``), in SI units.
    """

    name: str
    kind: str
    nodes: tuple[str, ...]
    value: float | None
    where: Where
    ac_mag: float = 0.0
    ac_phase_deg: float = 0.0
    model: str | None = None
    control: str | None = None
    params: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelCard:
    """A ``.model`` card: its name as spelled (instance path prefixed when local to a subcircuit), its type
    in lower case (npn, pnp, d, nmos, pmos), and its parameters, names upper case, values in SPICE's units."""

    name: str
    type: str
    params: dict[str, float]
    where: Where


@dataclass(frozen=True)
class FlatCircuit:
    """A whole netlist, flattened: the title, every element in file order (subcircuit instances expanded in
    place), the model cards by lower-case name, the top-level ``.param`` values (lower-case names), and every
    non-ground node in the order of first use."""

    source: str
    title: str
    elements: tuple[Element, ...]
    models: dict[str, ModelCard]
    params: dict[str, float]
    nodes: tuple[str, ...]

    def element(self, name: str) -> Element | None:
        """The element of that (flattened) name, compared case-insensitively, or None."""
        low = name.lower()
        return next((e for e in self.elements if e.name.lower() == low), None)
