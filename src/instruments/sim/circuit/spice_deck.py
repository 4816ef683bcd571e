"""A netlist written as an ngspice deck, so that ngspice can solve exactly the circuit the engine solves.

Syntax and parameter names are the ngspice User's Manual's (ch. 3 "Circuit elements", ch. 7 diodes, ch. 8
BJTs, ch. 11 MOSFET level 1). The engine's device models become one ``.model`` card per device (named
``m<device>``) carrying every parameter the engine uses: BJTs as SPICE Gummel-Poon cards (an Ebers-Moll
:class:`BJTModel` is the Gummel-Poon card with IS, BF, BR, VAF), MOSFETs as LEVEL=1 cards with ``W = L = 1 m``
(so KP is the engine's ``kp``, CGSO/CGBO the absolute overlap capacitances and TOX gives Cox W L) and
``IS = 0`` (the engine has no bulk-junction currents). The devices' series resistances are model
parameters (RB, RE, RC, RS), so the engine's internal ``#`` nodes have no deck name.

Names: every node is written as its name with characters other than letters, digits and ``_`` replaced by
``_``, made unique ignoring case (ngspice is case-insensitive; ``gnd`` is ngspice's ground, so a node of
that name is renamed). Elements keep their netlist names, prefixed with the SPICE letter of their kind
when they do not start with it; unnamed resistors, capacitors and sources are named from their nodes
(``R_<a>_<b>``). The names do not depend on MNA row order. :class:`SpiceDeck` carries the maps.
"""

from __future__ import annotations

import cmath
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .device_equations import BJTModel, MOSModel
from .diode_equations import DiodeModel
from .elements import Branch, DeviceCard, Parts
from .gummel_poon import GummelPoonModel

NGSPICE_K_OVER_Q = 1.38064852e-23 / 1.6021766208e-19
"""Boltzmann constant over the electron charge as ngspice (since version 27) computes V_T = k T / q, V/K."""
NGSPICE_EPS_OX = 3.9 * 8.854214871e-12
"""The SiO2 permittivity ngspice's MOSFET level 1 derives Cox from (Cox = EPS_OX / TOX), F/m."""
KELVIN_0C = 273.15


@dataclass
class SpiceDeck:
    """An ngspice deck (``text``) and its name maps: ``nodes`` engine node or alias -> deck node,
    ``elements`` engine element name -> deck element name, ``currents`` engine branch element (voltage
    source, inductor, E or H source) -> the deck voltage source whose current ``i(...)`` is its current."""

    text: str
    nodes: dict[str, str] = field(default_factory=dict)
    elements: dict[str, str] = field(default_factory=dict)
    currents: dict[str, str] = field(default_factory=dict)


def _num(x: float) -> str:
    """A value as ngspice reads it back exactly (shortest round-trip decimal)."""
    if not math.isfinite(x):
        raise ValueError(f"SPICE deck: value {x!r} is not finite")
    return repr(float(x))


def _ac(phasor: complex) -> str:
    """`` AC mag phase_deg`` for a nonzero complex peak phasor, else empty."""
    if phasor == 0:
        return ""
    return f" AC {_num(abs(phasor))} {_num(math.degrees(cmath.phase(phasor)))}"


class _Names:
    """Unique (case-insensitive) SPICE names."""

    def __init__(self, reserved: Iterable[str] = ()) -> None:
        self.taken = {r.lower() for r in reserved}

    def make(self, name: str, letter: str = "") -> str:
        base = re.sub(r"[^A-Za-z0-9_]", "_", name) or "_"
        if letter and base[0].upper() != letter:
            base = letter + base
        out, k = base, 1
        while out.lower() in self.taken:
            k += 1
            out = f"{base}_{k}"
        self.taken.add(out.lower())
        return out


def write_deck(title: str, nodes: list[str], aliases: dict[str, str], parts: Parts, control: str = "") -> SpiceDeck:
    """The ngspice deck of a netlist: title line, elements, ``.model`` cards, ``.options temp tnom`` set to
    the devices' thermal voltage (``T = V_T q/k``, ngspice's constants), then ``control`` and ``.end``.
    Raises ValueError if the devices' thermal voltages differ (ngspice has one temperature)."""
    internal = {inner for d in parts.devices for _, inner, _ in d.series}
    node_names = _Names(["0", "gnd"])
    nmap = {"0": "0", **{nd: node_names.make(nd) for nd in nodes if nd not in internal}}
    deck = SpiceDeck("", {**nmap, **{a: nmap[t] for a, t in aliases.items()}})
    names = _Names()
    lines = ["* " + " ".join(title.split()) if title.strip() else "* diffbench netlist"]
    lines += _branch_lines(parts, nmap, node_names, names, deck)
    lines += _linear_lines(parts, nmap, names, deck)
    model_lines: list[str] = []
    for d in parts.devices:
        lines.append(_device_line(d, nmap, names, deck, model_lines))
    lines += model_lines
    lines += _temperature_lines(parts)
    if control:
        lines.append(control.rstrip("\n"))
    lines.append(".end")
    deck.text = "\n".join(lines) + "\n"
    return deck


def _sensed(parts: Parts) -> set[str]:
    """Branch elements other than voltage sources whose current controls an F or H source."""
    ctrl = {s.ctrl[0] for s in parts.controlled if s.kind == "F"}
    ctrl |= {b.ctrl[0] for b in parts.branches if b.kind == "H"}
    return {b.name for b in parts.branches if b.kind != "V" and b.name in ctrl}


def _branch_lines(parts: Parts, nmap: dict[str, str], node_names: _Names, names: _Names, deck: SpiceDeck) -> list[str]:
    """Voltage sources (a series resistance through an internal node), inductors, E and H sources; a
    0 V sense source after each non-source branch whose current controls something."""
    sensed = _sensed(parts)
    lines: list[str] = []
    for b in parts.branches:
        deck.elements[b.name] = names.make(b.name, b.kind)
    for b in parts.branches:
        me, p, n = deck.elements[b.name], nmap[b.p], nmap[b.n]
        deck.currents[b.name] = me
        if b.kind == "V" and b.r_series_ohm > 0.0:
            inner = node_names.make(f"{me}_rs")
            lines.append(f"{names.make(me + '_rs', 'R')} {p} {inner} {_num(b.r_series_ohm)}")
            p = inner
        if b.name in sensed:
            inner = node_names.make(f"{me}_sense")
            sense = names.make(me + "_sense", "V")
            lines.append(f"{sense} {inner} {n} DC 0")
            deck.currents[b.name] = sense
            n = inner
        lines.append(f"{me} {p} {n} {_branch_value(b, nmap)}")
    return [_resolve_controls(ln, deck) for ln in lines]


def _branch_value(b: Branch, nmap: dict[str, str]) -> str:
    if b.kind == "V":
        return f"DC {_num(b.value)}{_ac(b.ac)}"
    if b.kind == "L":
        return _num(b.value)
    if b.kind == "E":
        return f"{nmap[b.ctrl[0]]} {nmap[b.ctrl[1]]} {_num(b.value)}"
    return f"\x00{b.ctrl[0]}\x00 {_num(b.value)}"


def _resolve_controls(line: str, deck: SpiceDeck) -> str:
    """Replace a ``\\x00name\\x00`` control placeholder by the deck source carrying that branch's current."""
    m = re.search("\x00(.*?)\x00", line)
    if m is None:
        return line
    if m.group(1) not in deck.currents:
        raise ValueError(f"SPICE deck: controlling element {m.group(1)!r} is not a branch element of this netlist")
    return line[: m.start()] + deck.currents[m.group(1)] + line[m.end():]


def _linear_lines(parts: Parts, nmap: dict[str, str], names: _Names, deck: SpiceDeck) -> list[str]:
    """Resistors, capacitors, current sources and G, F sources."""
    lines: list[str] = []
    for kind, items in (("R", parts.resistors), ("C", parts.capacitors)):
        for r in items:
            me = names.make(r.name or f"{nmap[r.a]}_{nmap[r.b]}", kind if r.name else kind + "_")
            if r.name:
                deck.elements[r.name] = me
            lines.append(f"{me} {nmap[r.a]} {nmap[r.b]} {_num(r.value)}")
    for s in parts.isources:
        me = names.make(s.name or f"{nmap[s.p]}_{nmap[s.n]}", "I" if s.name else "I_")
        if s.name:
            deck.elements[s.name] = me
        lines.append(f"{me} {nmap[s.p]} {nmap[s.n]} DC {_num(s.dc_a)}{_ac(s.ac_a)}")
    for c in parts.controlled:
        me = names.make(c.name or f"{nmap[c.p]}_{nmap[c.n]}", c.kind if c.name else c.kind + "_")
        if c.name:
            deck.elements[c.name] = me
        ctrl = f"{nmap[c.ctrl[0]]} {nmap[c.ctrl[1]]}" if c.kind == "G" else f"\x00{c.ctrl[0]}\x00"
        lines.append(_resolve_controls(f"{me} {nmap[c.p]} {nmap[c.n]} {ctrl} {_num(c.value)}", deck))
    return lines


def _device_line(d: DeviceCard, nmap: dict[str, str], names: _Names, deck: SpiceDeck, models: list[str]) -> str:
    """The element line of a device, its ``.model`` card appended to ``models``."""
    me = names.make(d.name, d.kind)
    deck.elements[d.name] = me
    mname = names.make("m" + me)
    nodes = [nmap[x] for x in d.nodes]
    m = d.model
    if isinstance(m, MOSModel):
        if len(nodes) == 3:
            nodes.append(nodes[2])
        models.append(f".model {mname} {'NMOS' if m.polarity > 0 else 'PMOS'}({_params(_mos_params(m))})")
        return f"{me} {' '.join(nodes)} {mname} W=1 L=1"
    if isinstance(m, DiodeModel):
        models.append(f".model {mname} D({_params(_diode_params(m))})")
    else:
        models.append(f".model {mname} {'NPN' if m.polarity > 0 else 'PNP'}({_params(_bjt_params(m))})")
    return f"{me} {' '.join(nodes)} {mname}"


def _params(p: dict[str, float]) -> str:
    return " ".join(f"{k}={_num(v)}" for k, v in p.items() if math.isfinite(v))


def _bjt_params(m: BJTModel | GummelPoonModel) -> dict[str, float]:
    """A BJT model's SPICE Gummel-Poon parameters (infinite ones are left out: SPICE's default)."""
    if isinstance(m, BJTModel):
        return {"IS": m.is_a, "BF": m.beta_f, "BR": m.beta_r, "VAF": m.early_v}
    return {"IS": m.is_a, "BF": m.bf, "BR": m.br, "NF": m.nf, "NR": m.nr, "VAF": m.vaf, "VAR": m.var,
            "IKF": m.ikf, "IKR": m.ikr, "ISE": m.ise, "NE": m.ne, "ISC": m.isc, "NC": m.nc, "RB": m.rb_ohm,
            "RE": m.re_ohm, "RC": m.rc_ohm, "CJE": m.cje_f, "VJE": m.vje_v, "MJE": m.mje, "CJC": m.cjc_f,
            "VJC": m.vjc_v, "MJC": m.mjc, "TF": m.tf_s, "TR": m.tr_s, "FC": m.fc}


def _diode_params(m: DiodeModel) -> dict[str, float]:
    return {"IS": m.is_a, "N": m.n, "RS": m.rs_ohm, "CJO": m.cjo_f, "VJ": m.vj_v, "M": m.m, "TT": m.tt_s,
            "FC": m.fc}


def _mos_params(m: MOSModel) -> dict[str, float]:
    """Level-1 parameters for an instance with W = L = 1 m."""
    p = {"LEVEL": 1.0, "KP": m.kp_a_per_v2, "VTO": m.polarity * m.vth_v, "LAMBDA": m.lambda_per_v,
         "GAMMA": m.gamma_sqrt_v, "PHI": m.phi_v, "CGSO": m.cgso_f, "CGDO": m.cgdo_f, "CGBO": m.cgbo_f,
         "CBD": m.cbd_f, "CBS": m.cbs_f, "PB": m.pb_v, "MJ": m.mj, "FC": m.fc, "IS": 0.0}
    if m.cox_f > 0.0:
        p["TOX"] = NGSPICE_EPS_OX / m.cox_f
    return p


def _temperature_lines(parts: Parts) -> list[str]:
    """``.options temp=T tnom=T`` (C) with ``T`` from the devices' common thermal voltage."""
    vts = [d.model.vt_v for d in parts.devices if not isinstance(d.model, MOSModel)]
    if not vts:
        return []
    if max(vts) - min(vts) > 1e-12 * max(vts):
        raise ValueError("SPICE deck: the devices have different thermal voltages; ngspice has one temperature")
    t_c = vts[0] / NGSPICE_K_OVER_Q - KELVIN_0C
    return [f".options temp={_num(t_c)} tnom={_num(t_c)}"]
