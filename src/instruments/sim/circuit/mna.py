"""The equations of a compiled circuit, ``G x + i(x) + d/dt (C x + q(x)) = b(t)``, and their evaluation.

``x`` holds the node voltages (V) and then one branch current per branch element (A) (modified nodal
analysis, :mod:`.netlist`); ``i(x)`` are the currents flowing into the devices' terminals. Devices may
also store charge ``q(x)``, so the full equations are ``G x + i(x) + d/dt (C x + q(x)) = b(t)``. The
device terminals that are not ground are the *ports*: the nonlinear part of the circuit sees the rest
only through them, which is what the port formulation of :mod:`.port_newton` builds on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..arrays import ComplexArray, FloatArray, IndexArray
from .device_groups import DeviceGroup, group_devices, scatter_add
from .devices import Device
from .fourier import FourierGrid, time_derivative


class MNAEquations:
    """A compiled circuit: MNA matrices (``G`` S, ``C`` F, ``b_dc`` and ``b_ac`` in A or V per row), node and
    branch-row indices (``sources``: every voltage source, inductor, E and H source by name), device
    instances and the port map. The analyses are on :class:`.system.MNASystem`."""

    def __init__(self, nodes: list[str], index: dict[str, int], G: FloatArray, C: FloatArray,
                 b_dc: FloatArray, b_ac: ComplexArray, sources: dict[str, int], devices: list[Device],
                 refine_dc: bool = False) -> None:
        self.nodes = nodes
        #: whether :func:`.dc.solve_dc` finishes with full-MNA Newton steps (:func:`.dc.refine`)
        self.refine_dc = refine_dc
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
        self._branch_structure()
        #: the devices as evaluated together (:mod:`.device_groups`)
        self.device_groups = group_devices(devices, self.device_ports, self.branch_rows, self.branch_offsets,
                                           len(ports))
        #: whether any device stores charge (:meth:`.devices.Device.charges`) or has bias capacitances
        self.has_charges = any(d.has_charge for d in devices)
        self.has_bias_capacitance = any(d.has_bias_capacitance for d in devices)

    def _branch_structure(self) -> None:
        """The devices' independent currents (:meth:`.devices.Device.branches`) numbered across the circuit:
        per device its terminal rows and first branch number, and the (m, n_branches) map from branch
        currents to port currents."""
        maps = [d.branches() for d in self.devices]
        #: per device, the terminals whose currents are its branch currents
        self.branch_rows: list[tuple[int, ...]] = [rows for rows, _ in maps]
        sizes = [len(rows) for rows in self.branch_rows]
        #: per device, the number of its first branch
        self.branch_offsets: list[int] = [int(o) for o in np.cumsum([0] + sizes[:-1])]
        P = np.zeros((len(self.ports), sum(sizes)))
        for (_, Pd), pt, o in zip(maps, self.device_ports, self.branch_offsets):
            for t, pa in enumerate(pt):
                if pa >= 0:
                    P[pa, o: o + Pd.shape[1]] += Pd[t]
        #: port currents = branch_incidence @ branch currents
        self.branch_incidence: FloatArray = P

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

    def device_capacitance(self, x: FloatArray, charges: bool = True, bias: bool = True) -> FloatArray:
        """(n, n) capacitance (F) of the devices at ``x``: ``dq/dx`` of their charges (with ``charges``) plus
        their bias capacitances (with ``bias``)."""
        n = self.size
        Cd = np.zeros((n, n))
        xv = np.append(x[: len(self.nodes)], 0.0)
        for dev in self.devices:
            t = np.array(dev.terminals)
            c = np.zeros((len(t), len(t)))
            if charges and dev.has_charge:
                c = c + dev.charges(xv[t][:, None])[1][:, :, 0]
            if bias and dev.has_bias_capacitance:
                c = c + dev.bias_capacitance(xv[t])
            for a, ta in enumerate(t):
                for b, tb in enumerate(t):
                    if ta >= 0 and tb >= 0:
                        Cd[ta, tb] += c[a, b]
        return Cd

    def capacitance(self, x: FloatArray) -> FloatArray:
        """Small-signal capacitance matrix ``C + dq/dx`` at the operating point x (F); ``C`` itself when no
        device stores charge."""
        if not (self.has_charges or self.has_bias_capacitance):
            return self.C
        return self.C + self.device_capacitance(x)

    def bias_capacitance(self, x: FloatArray) -> FloatArray | None:
        """(n, n) bias capacitances of the devices at ``x`` (F), None if no device has any: the part of the
        devices' capacitance harmonic balance holds at its value at the DC point."""
        if not self.has_bias_capacitance:
            return None
        return self.device_capacitance(x, charges=False)

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
        i_t, g_t, _, _, limited = self.sampled_state(vt, v_old, False)
        return i_t, g_t, limited

    def sampled_state(self, vt: FloatArray, v_old: list[FloatArray] | None, charges: bool, branches: bool = False
                      ) -> tuple[FloatArray, FloatArray, FloatArray | None, FloatArray | None, bool]:
        """As :meth:`sampled_currents`, and with ``charges`` also the devices' port charges ``q_t`` (m, N)
        (C) and capacitances ``c_t`` (m, m, N) (F), companion-linearised like the currents (None without
        ``charges`` or when no device stores charge). Returns ``(i_t, g_t, q_t, c_t, limited)``. With
        ``branches`` the derivatives are those of the branch currents and charges instead (rows numbered as
        :attr:`branch_incidence`'s columns): ``g_t`` and ``c_t`` are (n_branches, m, N)."""
        m, N = vt.shape
        vt_g = np.vstack([vt, np.zeros((1, N))])  # row -1 = ground
        rows = self.branch_incidence.shape[1] if branches else m
        i_t = np.zeros((m, N))
        g_t = np.zeros((rows, m, N))
        with_q = charges and self.has_charges
        q_t = np.zeros((m, N)) if with_q else None
        c_t = np.zeros((rows, m, N)) if with_q else None
        limited = False
        for k, grp in enumerate(self.device_groups):
            dev = grp.proto
            vd = vt_g[grp.ports]  # (nt, n_devices, N)
            vl = vd
            if v_old is not None:
                vl = dev.limit(vd, v_old[k])
                if vl is not vd:
                    limited = limited or bool(np.any(vl != vd))
                v_old[k] = vl
            i, g = dev.evaluate(vl)
            if vl is not vd:
                i = i + np.einsum("abdn,bdn->adn", g, vd - vl)
            _scatter(grp, branches, i_t, g_t, i, g)
            if q_t is not None and c_t is not None and dev.has_charge:
                q, c = dev.charges(vl)
                if vl is not vd:
                    q = q + np.einsum("abdn,bdn->adn", c, vd - vl)
                _scatter(grp, branches, q_t, c_t, q, c)
        return i_t, g_t, q_t, c_t, limited

    def port_currents(self, V: FloatArray, grid: FourierGrid, omega_rad_s: float = 0.0) -> FloatArray:
        """Real Fourier coefficients (m, 2K+1) of the device currents (A) at port coefficients V (V),
        including the charging currents ``dq/dt`` when ``omega_rad_s`` (the fundamental, rad/s) is nonzero."""
        charges = omega_rad_s != 0.0 and self.has_charges
        i_t, _, q_t, _, _ = self.sampled_state(V @ grid.S.T, None, charges)
        out: FloatArray = i_t @ grid.A.T
        if q_t is not None:
            out = out + time_derivative(q_t @ grid.A.T, omega_rad_s, grid.K)
        return out

    def terminal_voltages(self, V: FloatArray, grid: FourierGrid) -> list[FloatArray]:
        """Per device group (:attr:`device_groups`), its terminal voltages (nt, n_devices, N) sampled from
        port coefficients V: the limiting reference."""
        vt = V @ grid.S.T
        vt_g = np.vstack([vt, np.zeros((1, grid.N))])
        return [vt_g[grp.ports] for grp in self.device_groups]


def _scatter(grp: DeviceGroup, branches: bool, v_t: FloatArray, m_t: FloatArray, v: FloatArray, m: FloatArray
             ) -> None:
    """A device group's terminal samples ``v`` (nt, n, N) into the port array ``v_t`` (m, N) and their
    derivatives ``m`` (nt, nt, n, N) into the port (or, with ``branches``, branch) rows of ``m_t``."""
    N = v.shape[-1]
    scatter_add(v_t, v.reshape(-1, N), grp.to_vector)
    scatter_add(m_t.reshape(-1, N), m.reshape(-1, N), grp.to_branches if branches else grp.to_matrix)
