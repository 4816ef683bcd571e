"""A reader of SPICE netlists (ngspice / SPICE3 syntax): a board given as a netlist file, as a flat, fully
resolved circuit description. It does not simulate.

``read_netlist(path)`` / ``parse_netlist(text)`` give a :class:`FlatCircuit` (subcircuits expanded, every
``.param`` and expression evaluated, model cards parsed) that has passed the checks of :mod:`.checks`; any
problem is one :class:`~instruments.errors.NetlistError` line ``<file>:<line>: <problem>``. Node names are
folded to lower case; only node ``0`` is ground (``gnd`` is an ordinary node). See docs/netlist-boards.md
for the supported subset.
"""

from __future__ import annotations

from .checks import check_circuit, check_pins
from .circuit import GROUND, Element, FlatCircuit, ModelCard, Where
from .reader import parse_netlist, read_netlist

__all__ = ["GROUND", "Element", "FlatCircuit", "ModelCard", "Where", "check_circuit", "check_pins",
           "parse_netlist", "read_netlist"]
