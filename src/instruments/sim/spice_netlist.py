"""The simulated board of a netlist board: the user's SPICE circuit in the engine, with the generator attached.

Each element of the parsed circuit (:class:`~instruments.spice.FlatCircuit`) becomes the engine element of the
same meaning (SPICE3 conventions: a ``V`` source's value is ``V(n+) - V(n-)``, an ``I`` source's current flows
from ``n+`` through the source to ``n-``, a ``G`` source's current likewise, controlled by ``V(nc+) - V(nc-)``).
Devices take their models from :mod:`.spice_models`. The board's pins are the netlist nodes the config names:
they get the engine names ``in1``, ``in2``, ``out1``, ``out2`` as aliases, so the rest of the simulated bench
(drives, scope probes, truth) is the same for a netlist board as for a TOML one. One generator channel feeding
both pins ties them with a 0 V source (``Vtie``), as the cable would.
"""

from __future__ import annotations

import cmath
import math
from collections.abc import Callable, Sequence

from ..errors import NetlistError
from ..netlist_board import NetlistBoard
from ..spice import Element, FlatCircuit
from .board_netlist import Attachment
from .circuit import GROUND, Netlist
from .spice_models import bjt_model, diode_model, mos_model


def _node(n: str) -> str:
    return GROUND if n == "0" else n


def _value(el: Element) -> float:
    if el.value is None:
        raise NetlistError(el.where.file, el.where.line, f"element {el.name!r}: no value")
    return float(el.value)


def _ac(el: Element) -> complex:
    return el.ac_mag * cmath.exp(1j * math.radians(el.ac_phase_deg)) if el.ac_mag else 0j


def _add_passive(nl: Netlist, el: Element, n: list[str]) -> None:
    if el.kind == "R":
        nl.resistor(n[0], n[1], _value(el), name=el.name)
    elif el.kind == "C":
        nl.capacitor(n[0], n[1], _value(el), name=el.name)
    else:
        nl.inductor(el.name, n[0], n[1], _value(el))


def _add_source(nl: Netlist, el: Element, n: list[str]) -> None:
    if el.kind == "V":
        nl.vsource(el.name, n[0], n[1], el.value or 0.0, _ac(el))
    elif el.kind == "I":
        nl.isource(n[0], n[1], el.value or 0.0, _ac(el), name=el.name)
    elif el.kind == "E":
        nl.vcvs(el.name, n[0], n[1], n[2], n[3], _value(el))
    elif el.kind == "G":
        nl.vccs(n[0], n[1], n[2], n[3], _value(el), name=el.name)
    elif el.kind == "F":
        assert el.control is not None
        nl.cccs(n[0], n[1], el.control, _value(el), name=el.name)
    else:
        assert el.control is not None
        nl.ccvs(el.name, n[0], n[1], el.control, _value(el))


def _add_device(nl: Netlist, el: Element, n: list[str], circuit: FlatCircuit, vt_v: float) -> None:
    assert el.model is not None
    card = circuit.models[el.model]
    if el.kind == "D":
        nl.diode(el.name, n[0], n[1], diode_model(el, card, vt_v))
    elif el.kind == "Q":
        nl.bjt(el.name, n[0], n[1], n[2], bjt_model(el, card, vt_v))
    else:
        model, rd, rs = mos_model(el, card)
        d, s = n[0], n[2]
        if rd > 0.0:
            d = f"{el.name}#d"
            nl.resistor(n[0], d, rd)
        if rs > 0.0:
            s = f"{el.name}#s"
            nl.resistor(n[2], s, rs)
        nl.mos(el.name, d, n[1], s, model, b=n[3])


_BUILDERS: dict[str, Callable[..., None]] = {
    **{k: _add_passive for k in "RCL"}, **{k: _add_source for k in "VIEGFH"},
}


def build_spice_netlist(board: NetlistBoard, vt_v: float, attachments: Sequence[Attachment] = ()) -> Netlist:
    """The engine netlist of a netlist board at thermal voltage ``vt_v`` (V), with generator channels
    (Thevenin sources) attached to its pins. An element the engine refuses (e.g. a resistor of 0 Ohm) is a
    :class:`NetlistError` naming its file and line."""
    nl = Netlist()
    circuit = board.circuit
    for pin, node in board.pins.items():
        if node != pin:
            nl.alias(pin, node)
    for el in circuit.elements:
        n = [_node(x) for x in el.nodes]
        try:
            if el.kind in _BUILDERS:
                _BUILDERS[el.kind](nl, el, n)
            else:
                _add_device(nl, el, n, circuit, vt_v)
        except ValueError as exc:
            raise NetlistError(el.where.file, el.where.line, f"element {el.name!r}: {exc}") from None
    for att in attachments:
        if len(att.pins) == 2:
            nl.vsource("Vtie", "in2", "in1", 0.0)
        nl.vsource(att.name, att.pins[0], GROUND, att.dc_v, att.ac_v, att.r_ohm)
    return nl
