"""A netlist's elements stamped into the MNA matrices (Ho, Ruehli, Brennan, IEEE Trans. CAS 22(6), 1975;
Vlach and Singhal, "Computer Methods for Circuit Analysis and Design", 2nd ed., ch. 4, the stamps of the
controlled sources and the inductor).

Unknowns: the node voltages (V), then one branch current per voltage source, inductor, VCVS and CCVS (A),
in the order they were added; each KCL row sums the currents *leaving* its node; each branch row states
its element's voltage law.
"""

from __future__ import annotations

import numpy as np

from ..arrays import ComplexArray, FloatArray
from .device_equations import MOSModel
from .devices import Device, instance
from .diode_equations import DiodeModel
from .elements import DeviceCard, Parts
from .gummel_poon import GummelPoonModel
from .system import MNASystem

GMIN_S = 1e-12  # conductance across device junctions, as SPICE's GMIN


def _stamp(M: FloatArray, a: int, b: int, val: float) -> None:
    """Add a two-terminal admittance ``val`` between rows/columns a and b (-1 = ground)."""
    if a >= 0:
        M[a, a] += val
    if b >= 0:
        M[b, b] += val
    if a >= 0 and b >= 0:
        M[a, b] -= val
        M[b, a] -= val


def _stamp_transfer(M: FloatArray, rows: tuple[int, int], cols: tuple[int, int], val: float) -> None:
    """Add ``val (x_cp - x_cn)`` to row p and subtract it from row n (``rows = (p, n)``, ``cols = (cp, cn)``,
    -1 = ground)."""
    for r, sr in zip(rows, (1.0, -1.0)):
        if r < 0:
            continue
        for c, sc in zip(cols, (1.0, -1.0)):
            if c >= 0:
                M[r, c] += sr * sc * val


def compile_parts(nodes: list[str], aliases: dict[str, str], parts: Parts, refine_dc: bool = False) -> MNASystem:
    """The MNA system of a netlist's nodes (in order), aliases and elements; ``refine_dc`` as
    :class:`.mna.MNAEquations` takes it."""
    idx = {name: k for k, name in enumerate(nodes)}
    idx["0"] = -1
    rows = {b.name: len(nodes) + k for k, b in enumerate(parts.branches)}
    n = len(nodes) + len(parts.branches)
    G = np.zeros((n, n))
    C = np.zeros((n, n))
    b_dc = np.zeros(n)
    b_ac = np.zeros(n, dtype=complex)
    _stamp_passives(parts, idx, G, C, b_dc, b_ac)
    _stamp_branches(parts, idx, rows, G, C, b_dc, b_ac)
    _stamp_controlled(parts, idx, rows, G)
    devices = _stamp_devices(parts, idx, G, C)
    index = {**{k: v for k, v in idx.items() if k != "0"}, **{a: idx[t] for a, t in aliases.items()}}
    return MNASystem(nodes, index, G, C, b_dc, b_ac, rows, devices, refine_dc)


def _stamp_passives(parts: Parts, idx: dict[str, int], G: FloatArray, C: FloatArray, b_dc: FloatArray,
                    b_ac: ComplexArray) -> None:
    """Resistors into G (S), capacitors into C (F), current sources into b_dc and b_ac (A)."""
    for r in parts.resistors:
        _stamp(G, idx[r.a], idx[r.b], 1.0 / r.value)
    for c in parts.capacitors:
        _stamp(C, idx[c.a], idx[c.b], c.value)
    for s in parts.isources:
        p, m = idx[s.p], idx[s.n]
        if p >= 0:
            b_dc[p] -= s.dc_a
        if m >= 0:
            b_dc[m] += s.dc_a
        if s.ac_a != 0:
            if p >= 0:
                b_ac[p] -= s.ac_a
            if m >= 0:
                b_ac[m] += s.ac_a


def _stamp_branches(parts: Parts, idx: dict[str, int], rows: dict[str, int], G: FloatArray, C: FloatArray,
                    b_dc: FloatArray, b_ac: ComplexArray) -> None:
    """One row per branch element: its current into the KCL rows of p (+) and n (-), and its voltage law."""
    for br in parts.branches:
        row, p, m = rows[br.name], idx[br.p], idx[br.n]
        if p >= 0:
            G[p, row] += 1.0
            G[row, p] += 1.0
        if m >= 0:
            G[m, row] -= 1.0
            G[row, m] -= 1.0
        if br.kind == "V":
            G[row, row] -= br.r_series_ohm
            b_dc[row] = br.value
            b_ac[row] = br.ac
        elif br.kind == "L":
            C[row, row] -= br.value  # V_p - V_n - L dI/dt = 0
        elif br.kind == "E":
            cp, cn = idx[br.ctrl[0]], idx[br.ctrl[1]]
            if cp >= 0:
                G[row, cp] -= br.value
            if cn >= 0:
                G[row, cn] += br.value
        else:  # "H"
            G[row, _control_row(rows, br.ctrl[0], f"CCVS {br.name!r}")] -= br.value


def _control_row(rows: dict[str, int], control: str, what: str) -> int:
    if control not in rows:
        raise ValueError(f"{what}: controlling element {control!r} is not a voltage source, inductor or "
                         "voltage-output controlled source of this netlist")
    return rows[control]


def _stamp_controlled(parts: Parts, idx: dict[str, int], rows: dict[str, int], G: FloatArray) -> None:
    """VCCS (G) and CCCS (F) currents into the KCL rows of p (+) and n (-)."""
    for s in parts.controlled:
        out = (idx[s.p], idx[s.n])
        if s.kind == "G":
            _stamp_transfer(G, out, (idx[s.ctrl[0]], idx[s.ctrl[1]]), s.value)
        else:
            ctrl = _control_row(rows, s.ctrl[0], f"CCCS {s.name or s.p + '-' + s.n!r}")
            _stamp_transfer(G, out, (ctrl, -1), s.value)


def _gmin_pairs(card: DeviceCard) -> list[tuple[int, int]]:
    """The terminal pairs that get GMIN_S: SPICE's junctions for the SPICE models (Gummel-Poon B'-E' and
    B'-C', the diode junction, a 4-terminal MOSFET's bulk-drain and bulk-source), every pair for the
    Ebers-Moll and 3-terminal square-law devices (as the engine always did)."""
    if isinstance(card.model, GummelPoonModel):
        return [(1, 2), (1, 0)]
    if isinstance(card.model, DiodeModel):
        return [(0, 1)]
    nt = len(card.terminals)
    if isinstance(card.model, MOSModel) and nt == 4:
        return [(3, 0), (3, 2)]
    return [(i1, i2) for i1 in range(nt) for i2 in range(i1 + 1, nt)]


def _stamp_devices(parts: Parts, idx: dict[str, int], G: FloatArray, C: FloatArray) -> list[Device]:
    """Device instances, with their series resistances, GMIN_S across their junctions
    (:func:`_gmin_pairs`) and a MOSFET's overlap capacitances (linear) into C."""
    devices: list[Device] = []
    for card in parts.devices:
        for ext, internal, r in card.series:
            _stamp(G, idx[ext], idx[internal], 1.0 / r)
        t = tuple(idx[x] for x in card.terminals)
        for i1, i2 in _gmin_pairs(card):
            _stamp(G, t[i1], t[i2], GMIN_S)
        if isinstance(card.model, MOSModel):
            m = card.model
            bulk = t[3] if len(t) == 4 else t[2]
            for other, c in ((t[2], m.cgso_f), (t[0], m.cgdo_f), (bulk, m.cgbo_f)):
                if c > 0.0:
                    _stamp(C, t[1], other, c)
        devices.append(instance(card.name, t, card.model))
    return devices
