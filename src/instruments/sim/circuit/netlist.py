"""A circuit as a netlist: named nodes, linear elements, sources and transistors, compiled to MNA matrices.

Modified nodal analysis (Ho, Ruehli, Brennan, IEEE Trans. CAS 22(6), 1975): the unknowns are the node
voltages (V) and then one branch current per voltage source (A); every KCL row sums the currents *leaving*
its node. :meth:`Netlist.compile` stamps the conductance matrix ``G``, the capacitance matrix ``C`` and the
DC and AC excitation vectors, and instantiates the transistors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..arrays import ComplexArray, FloatArray
from .device_equations import BJTModel, MOSModel
from .devices import Device, instance
from .system import MNASystem

GROUND = "0"
GMIN_S = 1e-12  # conductance across every transistor junction / channel, as SPICE's GMIN


@dataclass
class _VSource:
    name: str
    p: str
    n: str
    dc_v: float
    ac_v: complex
    r_series_ohm: float


def _stamp(M: FloatArray, a: int, b: int, val: float) -> None:
    """Add a two-terminal admittance ``val`` between rows/columns a and b (-1 = ground)."""
    if a >= 0:
        M[a, a] += val
    if b >= 0:
        M[b, b] += val
    if a >= 0 and b >= 0:
        M[a, b] -= val
        M[b, a] -= val


@dataclass
class Netlist:
    """A circuit under construction. Node ``"0"`` is ground; nodes are created on first use.

    Element values are SI (Ohm, F, V, A). :meth:`alias` makes a second name for an existing node (a
    wire). :meth:`compile` freezes the netlist into an :class:`MNASystem`.
    """

    _nodes: list[str] = field(default_factory=list)
    _alias: dict[str, str] = field(default_factory=dict)
    _resistors: list[tuple[str, str, float]] = field(default_factory=list)
    _capacitors: list[tuple[str, str, float]] = field(default_factory=list)
    _isources: list[tuple[str, str, float]] = field(default_factory=list)
    _vsources: list[_VSource] = field(default_factory=list)
    _devices: list[tuple[str, tuple[str, str, str], BJTModel | MOSModel]] = field(default_factory=list)

    def _use(self, node: str) -> str:
        node = self._alias.get(node, node)
        if node != GROUND and node not in self._nodes:
            self._nodes.append(node)
        return node

    def alias(self, name: str, node: str) -> None:
        """Make ``name`` another name of ``node`` (they are one electrical node)."""
        if name in self._nodes or name in self._alias:
            raise ValueError(f"node {name!r} already exists")
        self._alias[name] = self._use(node)

    def resistor(self, a: str, b: str, r_ohm: float) -> None:
        """Resistor of ``r_ohm`` (> 0) between nodes a and b."""
        if not r_ohm > 0.0:
            raise ValueError(f"resistor {a}-{b}: resistance must be > 0, got {r_ohm!r}")
        self._resistors.append((self._use(a), self._use(b), float(r_ohm)))

    def capacitor(self, a: str, b: str, c_f: float) -> None:
        """Linear capacitor of ``c_f`` (>= 0; 0 is skipped) between nodes a and b."""
        if c_f < 0.0:
            raise ValueError(f"capacitor {a}-{b}: capacitance must be >= 0, got {c_f!r}")
        if c_f > 0.0:
            self._capacitors.append((self._use(a), self._use(b), float(c_f)))

    def isource(self, p: str, n: str, i_a: float) -> None:
        """DC current source: ``i_a`` flows from node p through the source into node n."""
        self._isources.append((self._use(p), self._use(n), float(i_a)))

    def vsource(self, name: str, p: str, n: str, dc_v: float, ac_v: complex = 0j, r_series_ohm: float = 0.0) -> None:
        """Voltage source with EMF ``dc_v + Re(ac_v e^{j w t})`` from n to p and series resistance (Ohm).

        ``ac_v`` is a complex peak phasor at the analysis frequency. Its MNA branch current flows from p
        through the source to n, so ``V_p - V_n = EMF + r_series_ohm * I``.
        """
        if r_series_ohm < 0.0:
            raise ValueError(f"source {name}: series resistance must be >= 0")
        if any(s.name == name for s in self._vsources):
            raise ValueError(f"source {name!r} already exists")
        self._vsources.append(_VSource(name, self._use(p), self._use(n), float(dc_v), complex(ac_v),
                                       float(r_series_ohm)))

    def bjt(self, name: str, c: str, b: str, e: str, model: BJTModel) -> None:
        """Bipolar transistor (collector, base, emitter)."""
        self._add_device(name, (c, b, e), model)

    def mos(self, name: str, d: str, g: str, s: str, model: MOSModel) -> None:
        """MOS transistor (drain, gate, source), body tied to source."""
        self._add_device(name, (d, g, s), model)

    def _add_device(self, name: str, terms: tuple[str, str, str], model: BJTModel | MOSModel) -> None:
        if any(d[0] == name for d in self._devices):
            raise ValueError(f"device {name!r} already exists")
        self._devices.append((name, (self._use(terms[0]), self._use(terms[1]), self._use(terms[2])), model))

    def compile(self) -> MNASystem:
        """Build the MNA matrices and device instances."""
        nodes = list(self._nodes)
        idx = {name: k for k, name in enumerate(nodes)}
        idx[GROUND] = -1
        n = len(nodes) + len(self._vsources)
        G = np.zeros((n, n))
        C = np.zeros((n, n))
        b_dc = np.zeros(n)
        b_ac = np.zeros(n, dtype=complex)
        self._stamp_passives(idx, G, C, b_dc)
        sources = self._stamp_vsources(idx, len(nodes), G, b_dc, b_ac)
        devices = self._stamp_devices(idx, G)
        aliases = {a: idx[t] for a, t in self._alias.items()}
        return MNASystem(nodes, {**{k: v for k, v in idx.items() if k != GROUND}, **aliases},
                         G, C, b_dc, b_ac, sources, devices)

    def _stamp_passives(self, idx: dict[str, int], G: FloatArray, C: FloatArray, b_dc: FloatArray) -> None:
        """Resistors into G (S), capacitors into C (F), current sources into b_dc (A)."""
        for a, b, r in self._resistors:
            _stamp(G, idx[a], idx[b], 1.0 / r)
        for a, b, c in self._capacitors:
            _stamp(C, idx[a], idx[b], c)
        for a, b, i in self._isources:
            if idx[a] >= 0:
                b_dc[idx[a]] -= i
            if idx[b] >= 0:
                b_dc[idx[b]] += i

    def _stamp_vsources(self, idx: dict[str, int], n_nodes: int, G: FloatArray, b_dc: FloatArray,
                        b_ac: ComplexArray) -> dict[str, int]:
        """One branch row per voltage source (its series resistance on the diagonal); returns name -> row."""
        sources: dict[str, int] = {}
        for k, s in enumerate(self._vsources):
            row, p, m = n_nodes + k, idx[s.p], idx[s.n]
            if p >= 0:
                G[p, row] += 1.0
                G[row, p] += 1.0
            if m >= 0:
                G[m, row] -= 1.0
                G[row, m] -= 1.0
            G[row, row] -= s.r_series_ohm
            b_dc[row] = s.dc_v
            b_ac[row] = s.ac_v
            sources[s.name] = row
        return sources

    def _stamp_devices(self, idx: dict[str, int], G: FloatArray) -> list[Device]:
        """Transistor instances, with GMIN_S across every pair of their terminals."""
        devices: list[Device] = []
        for name, terms, model in self._devices:
            t = tuple(idx[x] for x in terms)
            for i1 in range(3):
                for i2 in range(i1 + 1, 3):
                    _stamp(G, t[i1], t[i2], GMIN_S)
            devices.append(instance(name, t, model))
        return devices
