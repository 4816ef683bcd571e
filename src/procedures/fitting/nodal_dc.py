"""DC solution of a small transistor circuit at many levels of its driven nodes at once: nodal analysis, Newton's
method, device laws valid in every region.

The large-signal and DC-transfer fits use it for the stages :func:`models.full_region_dc.pair_full_dc` does not
solve (a cascoded pair, the telescopic stage's cascoded mirror, the second stage of source text fig. 5-12); the
netlist is :mod:`procedures.fitting.stage_netlist`'s. The circuit holds resistors, ideal current sources and
transistors between nodes that are either unknown or held at given voltages (supplies, bias points, the input
pins; a held node may take a different voltage at each level).

Equations: Kirchhoff's current law at every unknown node, the currents leaving the node through its elements
summing to zero (the nodal formulation: Vlach & Singhal, *Computer Methods for Circuit Analysis and Design*,
2nd ed., ch. 2 and, for Newton's method on it, ch. 10). Transistors: :func:`models.full_region_laws.device_law`
(Gummel-Poon without high injection, SPICE level-1 MOS) in the device frame: ``x = p (v_b - v_e)``, ``y = p (v_b
- v_c)`` with ``p = +1`` for npn/nmos and ``-1`` for pnp/pmos; the current ``p I_out`` flows into the
collector/drain, ``p I_in`` into the base/gate, ``-p (I_out + I_in)`` into the emitter/source.

Newton's method with the analytic Jacobian, all levels together, each iterated until its own steps fall below
:data:`STEP_TOL_V`. Each step is shortened, keeping its direction, so that a BJT junction above SPICE's critical
voltage rises only as SPICE's junction limiting allows (Nagel, "SPICE2", UCB/ERL M520, 1975), no node moves more
than 1 V (0.2 V in a MOS circuit). A level that does not converge from its start is reached by continuation:
solved at the midpoint of its driven voltages between the start's and its own first (halving up to
:data:`MAX_HALVINGS` times). A first solution with no start (the circuit at rest) comes from a guess through a
homotopy: every unknown node tied to its guess by a conductance stepped from 1 mS down to nothing (SPICE's gmin
stepping, Nagel 1975, with the guess as the anchor).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from models import BjtParams, DcTransferError, MosParams
from models.full_region_laws import device_law

STEP_TOL_V = 1e-12
"""A level has converged when every node's step is below this (V; times the node voltage above 1 V)."""
MAX_ITER = 60
"""Newton steps per attempt."""
MAX_HALVINGS = 10
"""Most halvings of the driven voltages' change in the continuation."""
WARM_STARTS = 16
"""Solutions kept for warm starts."""
ANCHOR_S = tuple(10.0 ** -k for k in range(3, 13)) + (0.0,)
"""Conductances (S) tying each unknown node to its guess in the homotopy to the first solution."""


@dataclass(frozen=True)
class Transistor:
    """One transistor: its law's parameters, polarity ``p`` (+1 npn/nmos, -1 pnp/pmos) and node names."""

    name: str
    device: BjtParams | MosParams
    polarity: int
    collector: str
    base: str
    emitter: str


@dataclass
class Netlist:
    """Elements between named nodes: ``held`` nodes (given voltages) and every other node an unknown."""

    held: list[str]
    resistors: list[tuple[str, str, float]] = field(default_factory=list)
    sources: list[tuple[str, str, float]] = field(default_factory=list)
    transistors: list[Transistor] = field(default_factory=list)

    def resistor(self, a: str, b: str, r_ohm: float) -> None:
        """A resistor between ``a`` and ``b`` (none when ``r_ohm`` is infinite)."""
        if math.isfinite(r_ohm):
            self.resistors.append((a, b, r_ohm))

    def isource(self, a: str, b: str, current_a: float) -> None:
        """An ideal current source carrying ``current_a`` (A) from node ``a`` through itself to node ``b``."""
        self.sources.append((a, b, current_a))

    def transistor(self, t: Transistor) -> None:
        self.transistors.append(t)

    def unknowns(self) -> list[str]:
        """The unknown nodes, in order of first appearance."""
        seen: list[str] = []
        terms = [n for a, b, _ in self.resistors + self.sources for n in (a, b)]
        terms += [n for t in self.transistors for n in (t.collector, t.base, t.emitter)]
        for n in terms:
            if n not in self.held and n not in seen:
                seen.append(n)
        return seen


class _Compiled:
    """A netlist as node indices: unknowns ``0..m-1``, held nodes ``m..``."""

    def __init__(self, net: Netlist, vt: float, beta_r: float) -> None:
        self.names = net.unknowns()
        self.m = len(self.names)
        index = {n: i for i, n in enumerate(self.names + net.held)}
        self.resistors = [(index[a], index[b], 1.0 / r) for a, b, r in net.resistors]
        self.sources = [(index[a], index[b], i) for a, b, i in net.sources]
        self.transistors = [(t, index[t.collector], index[t.base], index[t.emitter]) for t in net.transistors]
        self.vt, self.beta_r = vt, beta_r
        self.mos = any(isinstance(t.device, MosParams) for t in net.transistors)

    def stamp(self, F: np.ndarray, J: np.ndarray, rows: tuple[int, ...], currents: tuple[np.ndarray, ...],
              slopes: tuple[tuple[tuple[int, float | np.ndarray], ...], ...]) -> None:
        """Add ``currents`` leaving the nodes ``rows`` and their slopes ``(column, d current/d v_column)``."""
        for r, i, row in zip(rows, currents, slopes):
            if r >= self.m:
                continue
            F[:, r] += i
            for col, g in row:
                if col < self.m:
                    J[:, r, col] += g

    def kcl(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Currents (A) leaving each unknown node, (n, m), and their Jacobian in the unknowns, (n, m, m), S, at
        the node voltages ``v`` (n, all nodes)."""
        n = v.shape[0]
        F, J = np.zeros((n, self.m)), np.zeros((n, self.m, self.m))
        for a, b, g in self.resistors:
            i = g * (v[:, a] - v[:, b])
            self.stamp(F, J, (a, b), (i, -i), (((a, g), (b, -g)), ((a, -g), (b, g))))
        for a, b, i_s in self.sources:
            self.stamp(F, J, (a, b), (np.full(n, i_s), np.full(n, -i_s)), ((), ()))
        for t, c, b, e in self.transistors:
            p = t.polarity
            law = device_law(t.device, self.vt, p * (v[:, b] - v[:, e]), p * (v[:, b] - v[:, c]), self.beta_r)
            # d(p I)/dv_b = p^2 (dI/dx + dI/dy) = dI/dx + dI/dy, d/dv_e = -dI/dx, d/dv_c = -dI/dy
            out = ((b, law.dout_dx + law.dout_dy), (e, -law.dout_dx), (c, -law.dout_dy))
            inp = ((b, law.din_dx + law.din_dy), (e, -law.din_dx), (c, -law.din_dy))
            emi = tuple((k, -(g1 + g2)) for (k, g1), (_, g2) in zip(out, inp))
            self.stamp(F, J, (c, b, e), (p * law.i_out, p * law.i_in, -p * (law.i_out + law.i_in)), (out, inp, emi))
        return F, J

    def limit(self, v: np.ndarray, step: np.ndarray) -> np.ndarray:
        """The Newton ``step`` (n, m) from ``v`` (n, all nodes) shortened as the module docstring says."""
        big = np.max(np.abs(step), axis=1)
        cap = 0.2 if self.mos else 1.0
        alpha = np.minimum(1.0, cap / np.maximum(big, 1e-300))
        full = np.zeros_like(v)
        full[:, : self.m] = step
        for t, c, b, e in self.transistors:
            if not isinstance(t.device, BjtParams):
                continue
            vt, p = self.vt, t.polarity
            crit = vt * math.log(vt / (math.sqrt(2.0) * t.device.i_s))
            for j in (e, c):
                u, d = p * (v[:, b] - v[:, j]), p * (full[:, b] - full[:, j])
                hit = (u + d > crit) & (d > 2.0 * vt)
                dh = np.where(hit, d, 1.0)
                allowed = np.where(u > 0, vt * np.log1p(dh / vt), vt * np.log(np.maximum(u + dh, vt) / vt) - u)
                alpha = np.where(hit, np.minimum(alpha, np.maximum(allowed, 0.0) / dh), alpha)
        out: np.ndarray = step * alpha[:, None]
        return out


def _iterate(c: _Compiled, held: np.ndarray, u0: np.ndarray, anchor: tuple[float, np.ndarray] | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """Newton's method from ``u0`` (n, m) with the held nodes at ``held`` (n, h); ``anchor``: a conductance (S)
    tying each unknown to a voltage (m,). Returns the unknowns and which levels converged."""
    u = u0.copy()
    done = np.zeros(u.shape[0], bool)
    live = np.arange(u.shape[0])
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for _ in range(MAX_ITER):
            v = np.concatenate([u[live], held[live]], axis=1)
            F, J = c.kcl(v)
            if anchor is not None and anchor[0] > 0:
                F += anchor[0] * (u[live] - anchor[1])
                J += anchor[0] * np.eye(c.m)
            good = np.all(np.isfinite(J), axis=(1, 2)) & np.all(np.isfinite(F), axis=1)
            good &= np.abs(np.linalg.det(J / np.max(np.abs(J), axis=(1, 2), keepdims=True))) > 1e-300
            live, v, F, J = live[good], v[good], F[good], J[good]
            if live.size == 0:
                break
            step = c.limit(v, np.linalg.solve(J, -F[..., None])[..., 0])
            u[live] += step
            still = ~np.all(np.abs(step) <= STEP_TOL_V * (1.0 + np.abs(u[live])), axis=1)
            done[live[~still]] = True
            live = live[still]
            if live.size == 0:
                break
    return u, done


def solve_levels(c: _Compiled, held: np.ndarray, start: np.ndarray, start_held: np.ndarray,
                 halvings: int = 0) -> np.ndarray:
    """The unknowns (n, m) at the held voltages ``held`` (n, h) from the solutions ``start`` (n, m) at
    ``start_held`` (n, h), by continuation where Newton's method alone does not converge (module docstring);
    :class:`~models.DcTransferError` when a level is not reached."""
    u, ok = _iterate(c, held, start)
    if np.all(ok):
        return u
    if halvings >= MAX_HALVINGS:
        raise DcTransferError(f"the circuit's DC solve did not converge (halved the input step {halvings} times)")
    bad = np.nonzero(~ok)[0]
    mid = 0.5 * (start_held[bad] + held[bad])
    u_mid = solve_levels(c, mid, start[bad], start_held[bad], halvings + 1)
    u[bad] = solve_levels(c, held[bad], u_mid, mid, halvings + 1)
    return u


def solve_from_guess(c: _Compiled, held: np.ndarray, guess: np.ndarray) -> np.ndarray:
    """The unknowns (m,) at one level of the held voltages ``held`` (h,) from a rough ``guess`` (m,): Newton's
    method, else the homotopy of the module docstring."""
    h = held[None, :]
    u, ok = _iterate(c, h, guess[None, :])
    if ok[0]:
        out: np.ndarray = u[0]
        return out
    u = guess[None, :].copy()
    for g in ANCHOR_S:
        u, ok = _iterate(c, h, u, (g, guess))
        if not ok[0]:
            raise DcTransferError(f"the circuit's DC solve found no solution (homotopy stalled at {g:g} S)")
    out = u[0]
    return out


class WarmStarts:
    """The last :data:`WARM_STARTS` solutions by the inputs they solve (a fit asks for the same levels again and
    again with parameters that move a little: each starts from the last solution at those levels)."""

    def __init__(self) -> None:
        self._store: OrderedDict[bytes, object] = OrderedDict()

    @staticmethod
    def key(*arrays: np.ndarray) -> bytes:
        return b"|".join(str(a.shape).encode() + np.ascontiguousarray(a, float).tobytes() for a in arrays)

    def get(self, key: bytes) -> object | None:
        out = self._store.get(key)
        if out is not None:
            self._store.move_to_end(key)
        return out

    def put(self, key: bytes, value: object) -> None:
        self._store[key] = value
        self._store.move_to_end(key)
        while len(self._store) > WARM_STARTS:
            self._store.popitem(last=False)


class NodalSolver:
    """A compiled netlist with its solution at rest; :meth:`solve` gives the unknown node voltages at many levels
    of the held nodes, started from the last solution at the same levels (:class:`WarmStarts`, handed over from
    the solver of a nearby circuit by ``previous``), else from the rest solution."""

    def __init__(self, net: Netlist, vt: float, beta_r: float, rest_held: np.ndarray, guess: dict[str, float],
                 previous: NodalSolver | None = None) -> None:
        self.c = _Compiled(net, vt, beta_r)
        self.rest_held = np.asarray(rest_held, float)
        h = self.rest_held[None, :]
        self.warm = WarmStarts()
        rest = None
        if previous is not None and previous.c.names == self.c.names:
            self.warm = previous.warm
            try:
                rest = solve_levels(self.c, h, previous.rest[None, :], h, MAX_HALVINGS)[0]
            except DcTransferError:
                rest = None
        if rest is None:
            rest = solve_from_guess(self.c, self.rest_held, np.array([guess.get(n, 0.0) for n in self.c.names]))
        self.rest: np.ndarray = rest

    @property
    def names(self) -> list[str]:
        """The unknown nodes, in the order of :meth:`solve`'s columns."""
        return self.c.names

    def solve(self, held: np.ndarray) -> np.ndarray:
        """Unknown node voltages (n, m) at the held voltages ``held`` (n, h), V."""
        held = np.asarray(held, float)
        key = self.warm.key(held)
        last = self.warm.get(key)
        u = None
        if isinstance(last, np.ndarray):
            try:
                u = solve_levels(self.c, held, last, held, MAX_HALVINGS)
            except DcTransferError:
                u = None
        if u is None:
            n = held.shape[0]
            u = solve_levels(self.c, held, np.tile(self.rest, (n, 1)), np.tile(self.rest_held, (n, 1)))
        self.warm.put(key, u)
        return u
