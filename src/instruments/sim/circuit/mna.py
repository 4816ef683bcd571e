"""The equations of a compiled circuit, ``G x + i(x) + C dx/dt = b(t)``, and their evaluation.

``x`` holds the node voltages (V) and then one branch current per voltage source (A) (modified nodal
analysis, :mod:`.netlist`); ``i(x)`` are the currents flowing into the transistors' terminals. The
transistor terminals that are not ground are the *ports*: the nonlinear part of the circuit sees the rest
only through them, which is what the port formulation of :mod:`.port_newton` builds on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..arrays import ComplexArray, FloatArray, IndexArray
from .devices import Device
from .fourier import FourierGrid


class MNAEquations:
    """A compiled circuit: MNA matrices (``G`` S, ``C`` F, ``b_dc`` and ``b_ac`` in A or V per row), node and
    source-row indices, device instances and the port map. The analyses are on :class:`.system.MNASystem`."""

    def __init__(self, nodes: list[str], index: dict[str, int], G: FloatArray, C: FloatArray,
                 b_dc: FloatArray, b_ac: ComplexArray, sources: dict[str, int], devices: list[Device]) -> None:
        self.nodes = nodes
        self.index = index
        self.G, self.C, self.b_dc, self.b_ac = G, C, b_dc, b_ac
        self.sources = sources
        self.devices = devices
        self.size: int = G.shape[0]
        ports = sorted({t for d in devices for t in d.terminals if t >= 0})
        self.ports: IndexArray = np.array(ports, dtype=int)
        where = {node: k for k, node in enumerate(ports)}
        #: per device, the port index of each terminal (-1 = ground)
        self.device_ports: list[IndexArray] = [np.array([where.get(t, -1) for t in d.terminals])
                                               for d in devices]

    # ---- single-point device evaluation (DC residual, linearisation)

    def device_currents(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Device terminal currents summed into a length-n vector (A) and their Jacobian (n, n) (S) at ``x``."""
        n = self.size
        i_vec = np.zeros(n)
        J = np.zeros((n, n))
        xv = np.append(x[: len(self.nodes)], 0.0)  # index -1 -> ground
        for dev in self.devices:
            t = np.array(dev.terminals)
            i, g = dev.evaluate(xv[t][:, None])
            for a, ta in enumerate(t):
                if ta < 0:
                    continue
                i_vec[ta] += i[a, 0]
                for b, tb in enumerate(t):
                    if tb >= 0:
                        J[ta, tb] += g[a, b, 0]
        return i_vec, J

    def residual(self, x: FloatArray, b: FloatArray | None = None) -> FloatArray:
        """DC MNA residual ``G x + i(x) - b`` (A on KCL rows, V on source rows)."""
        i_vec, _ = self.device_currents(x)
        r: FloatArray = self.G @ x + i_vec - (self.b_dc if b is None else b)
        return r

    def jacobian(self, x: FloatArray) -> FloatArray:
        """Small-signal conductance matrix ``G + di/dx`` at the operating point x (S)."""
        _, Jd = self.device_currents(x)
        return self.G + Jd

    def report(self, x: FloatArray) -> dict[str, dict[str, float]]:
        """Per-device operating-point quantities (currents A, voltages V, conductances S) at ``x``."""
        xv = np.append(x[: len(self.nodes)], 0.0)
        return {d.name: d.report(xv[np.array(d.terminals)]) for d in self.devices}

    def source_rhs(self, names: Sequence[str]) -> FloatArray:
        """(n, len(names)) excitation matrix: a unit EMF phasor on each named voltage source."""
        rhs = np.zeros((self.size, len(names)))
        for j, name in enumerate(names):
            rhs[self.sources[name], j] = 1.0
        return rhs

    # ---- sampled device evaluation (harmonic balance, vectorised DC)

    def sampled_currents(self, vt: FloatArray, v_old: list[FloatArray] | None
                         ) -> tuple[FloatArray, FloatArray, bool]:
        """Device currents and conductances at port-voltage samples ``vt`` (m, N).

        With ``v_old`` (previous limited terminal voltages per device, updated in place) the controlling
        voltages are limited per sample and the current returned is the companion-model current
        ``i(v_lim) + g(v_lim)(v - v_lim)`` (SPICE's linearisation, applied sample by sample). Returns
        ``(i_t (m, N) A, g_t (m, m, N) S, limited)``.
        """
        m, N = vt.shape
        vt_g = np.vstack([vt, np.zeros((1, N))])  # row -1 = ground
        i_t = np.zeros((m, N))
        g_t = np.zeros((m, m, N))
        limited = False
        for d, dev in enumerate(self.devices):
            pt = self.device_ports[d]
            vd = vt_g[pt]
            if v_old is None:
                i, g = dev.evaluate(vd)
            else:
                vl = dev.limit(vd, v_old[d])
                if vl is not vd:
                    limited = limited or bool(np.any(vl != vd))
                i, g = dev.evaluate(vl)
                i = i + np.einsum("abn,bn->an", g, vd - vl)
                v_old[d] = vl
            for a, pa in enumerate(pt):
                if pa < 0:
                    continue
                i_t[pa] += i[a]
                for b, pb in enumerate(pt):
                    if pb >= 0:
                        g_t[pa, pb] += g[a, b]
        return i_t, g_t, limited

    def port_currents(self, V: FloatArray, grid: FourierGrid) -> FloatArray:
        """Real Fourier coefficients (m, 2K+1) of the device currents (A) at port coefficients V (V)."""
        i_t, _, _ = self.sampled_currents(V @ grid.S.T, None)
        out: FloatArray = i_t @ grid.A.T
        return out

    def terminal_voltages(self, V: FloatArray, grid: FourierGrid) -> list[FloatArray]:
        """Per device, its terminal voltages (nt, N) sampled from port coefficients V: the limiting reference."""
        vt = V @ grid.S.T
        vt_g = np.vstack([vt, np.zeros((1, grid.N))])
        return [vt_g[pt].copy() for pt in self.device_ports]
