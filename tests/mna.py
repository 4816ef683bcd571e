"""A small modified-nodal-analysis (MNA) solver for linear AC circuits, used only by the tests.

It knows nothing of ``models``: circuits are netlists of resistors, capacitors, voltage-controlled current
sources and independent sources, stamped into ``(G + j w C) x = b`` and solved per frequency with a dense
complex solve (Vlach & Singhal, *Computer Methods for Circuit Analysis and Design*, ch. 4). Transistors are
built from those elements by :meth:`Circuit.bjt` (hybrid-pi: r_pi, g_m, r_o) and :meth:`Circuit.mos`
(g_m, g_mb, r_o), so a model's closed form can be compared with a solve that shares no algebra with it.

Node ``"0"`` is ground. Element values of ``inf`` (resistors) or ``0`` (capacitors, transconductances) are
simply left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Circuit:
    """A netlist. Build it with the element methods, then :meth:`solve`."""

    nodes: dict[str, int] = field(default_factory=dict)
    resistors: list[tuple[str, str, float]] = field(default_factory=list)
    capacitors: list[tuple[str, str, float]] = field(default_factory=list)
    vccs: list[tuple[str, str, str, str, float]] = field(default_factory=list)
    vsources: list[tuple[str, str, str]] = field(default_factory=list)
    isources: list[tuple[str, str, str]] = field(default_factory=list)

    def _node(self, name: str) -> int:
        if name == "0":
            return -1
        if name not in self.nodes:
            self.nodes[name] = len(self.nodes)
        return self.nodes[name]

    def R(self, a: str, b: str, r: float) -> None:
        """Resistor ``r`` (Ohm) between nodes a and b; ``inf`` is an open circuit."""
        self._node(a), self._node(b)
        if not math.isinf(r):
            if r <= 0:
                raise ValueError("a resistor must be positive (use a voltage source for a short)")
            self.resistors.append((a, b, r))

    def C(self, a: str, b: str, c: float) -> None:
        """Capacitor ``c`` (F) between nodes a and b."""
        self._node(a), self._node(b)
        if c:
            self.capacitors.append((a, b, c))

    def G(self, out_p: str, out_n: str, ctl_p: str, ctl_n: str, gm: float) -> None:
        """Current ``gm (v(ctl_p) - v(ctl_n))`` flowing out of node ``out_p``, through the source, into ``out_n``."""
        for n in (out_p, out_n, ctl_p, ctl_n):
            self._node(n)
        if gm:
            self.vccs.append((out_p, out_n, ctl_p, ctl_n, gm))

    def V(self, name: str, p: str, n: str) -> None:
        """Independent voltage source ``v(p) - v(n) = sources[name]`` (value given at solve time)."""
        self._node(p), self._node(n)
        self.vsources.append((name, p, n))

    def I(self, name: str, p: str, n: str) -> None:  # noqa: E743 - the SPICE letter, like R, C, G, V
        """Independent current source of value ``sources[name]`` flowing out of ``p`` into ``n`` through the source."""
        self._node(p), self._node(n)
        self.isources.append((name, p, n))

    def bjt(self, c: str, b: str, e: str, gm: float, r_pi: float = math.inf, r_o: float = math.inf) -> None:
        """Hybrid-pi BJT (npn or pnp alike in small signal): r_pi b-e, g_m v_be from c to e, r_o c-e."""
        self.R(b, e, r_pi)
        self.G(c, e, b, e, gm)
        self.R(c, e, r_o)

    def mos(self, d: str, g: str, s: str, gm: float, r_o: float = math.inf, gmb: float = 0.0,
            bulk: str = "0") -> None:
        """MOS transistor: g_m v_gs + g_mb v_bs from d to s, r_o d-s."""
        self.G(d, s, g, s, gm)
        self.G(d, s, bulk, s, gmb)
        self.R(d, s, r_o)

    def transfer(self, freq_hz: np.ndarray, sources: tuple[str, ...], nodes: tuple[str, ...]) -> np.ndarray:
        """The matrix ``H[i, j] = v(nodes[i]) / source j`` (shape (len(nodes), len(sources), F)): one solve per
        source with a unit value on it and the others at zero."""
        f = np.atleast_1d(np.asarray(freq_hz, dtype=float))
        H = np.zeros((len(nodes), len(sources), len(f)), dtype=complex)
        for j, src in enumerate(sources):
            sol = self.solve(f, {src: 1.0})
            for i, node in enumerate(nodes):
                H[i, j] = sol[node]
        return H

    def solve(self, freq_hz: np.ndarray, sources: dict[str, complex]) -> dict[str, np.ndarray]:
        """Node voltages (complex, one array over ``freq_hz`` per node name) for the given source values;
        also the current through each voltage source (key ``"I(name)"``, flowing from p through the source to n)."""
        f = np.atleast_1d(np.asarray(freq_hz, dtype=float))
        n = len(self.nodes)
        m = n + len(self.vsources)
        Gm = np.zeros((m, m))
        Cm = np.zeros((m, m))
        b = np.zeros(m, dtype=complex)
        idx = self.nodes.get

        def stamp2(M: np.ndarray, a: str, bb: str, y: float) -> None:
            i, j = idx(a, -1), idx(bb, -1)
            if i >= 0:
                M[i, i] += y
            if j >= 0:
                M[j, j] += y
            if i >= 0 and j >= 0:
                M[i, j] -= y
                M[j, i] -= y

        for a, bb, r in self.resistors:
            stamp2(Gm, a, bb, 1.0 / r)
        for a, bb, c in self.capacitors:
            stamp2(Cm, a, bb, c)
        for op, on, cp, cn, gm in self.vccs:
            for row, sr in ((idx(op, -1), 1.0), (idx(on, -1), -1.0)):
                if row < 0:
                    continue
                for col, sc in ((idx(cp, -1), 1.0), (idx(cn, -1), -1.0)):
                    if col >= 0:
                        Gm[row, col] += sr * sc * gm
        for k, (name, p, nn) in enumerate(self.vsources):
            row = n + k
            for node, sgn in ((idx(p, -1), 1.0), (idx(nn, -1), -1.0)):
                if node >= 0:
                    Gm[node, row] += sgn
                    Gm[row, node] += sgn
            b[row] = sources.get(name, 0.0)
        for name, p, nn in self.isources:
            val = sources.get(name, 0.0)
            if idx(p, -1) >= 0:
                b[idx(p)] -= val
            if idx(nn, -1) >= 0:
                b[idx(nn)] += val
        A = Gm[None, :, :] + 2j * np.pi * f[:, None, None] * Cm[None, :, :]
        x = np.linalg.solve(A, np.broadcast_to(b, (len(f), m))[..., None])[..., 0]
        out = {name: x[:, i] for name, i in self.nodes.items()}
        out["0"] = np.zeros(len(f), dtype=complex)
        for k, (name, _, _) in enumerate(self.vsources):
            out[f"I({name})"] = x[:, n + k]
        return out
