"""Device instances in a circuit: terminal node indices, polarity, and the Newton-step limiting.

An instance maps its terminal voltages to the currents flowing *into* its terminals and their
conductance matrix, and (when it stores charge) to its terminal charges and their capacitance matrix,
using the device-frame equations of :mod:`.device_equations`, :mod:`.gummel_poon`,
:mod:`.diode_equations` and :mod:`.mos_level1`.
"""

from __future__ import annotations

import abc

import numpy as np

from ..arrays import FloatArray
from .device_equations import BJTModel, MOSModel, pnjlim
from .diode_equations import DiodeModel
from .gummel_poon import GummelPoonModel
from .mos_level1 import bulk_charges, drain_current, meyer_capacitances
from .mos_level1 import threshold as mos_threshold


class Device(abc.ABC):
    """A semiconductor device instance: a name, terminal node indices (-1 = ground) and its model.

    Devices have 2, 3 or 4 terminals. Besides currents, a device may store charge: :attr:`has_charge` says
    whether :meth:`charges` is nonzero (a device without charge costs the analyses nothing), and
    :meth:`bias_capacitance` gives capacitances defined only as derivatives (Meyer's), which the analyses
    take at the operating point.
    """

    has_charge: bool = False
    has_bias_capacitance: bool = False

    def __init__(self, name: str, terminals: tuple[int, ...]) -> None:
        self.name = name
        self.terminals = terminals

    def charges(self, v: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Terminal charges ``(nt, N)`` (C, on each terminal) and ``dq_a/dV_b`` ``(nt, nt, N)`` (F) at
        terminal voltages ``v`` ``(nt, N)`` (V); zero unless :attr:`has_charge`."""
        nt, n = v.shape
        return np.zeros((nt, n)), np.zeros((nt, nt, n))

    def bias_capacitance(self, v: FloatArray) -> FloatArray:
        """``(nt, nt)`` capacitance matrix (F) of the charges defined only by their capacitances, at
        terminal voltages ``v`` ``(nt,)`` (V); zero unless :attr:`has_bias_capacitance`."""
        return np.zeros((len(v), len(v)))

    def branches(self) -> tuple[tuple[int, ...], FloatArray]:
        """The device's independent terminal currents: ``(rows, P)`` such that the terminal currents, charges
        and their derivatives are ``P @ x[rows]`` at every bias (P of shape (nt, len(rows)), rows of zeros for
        terminals that never carry current). Default: every terminal carries current and, by Kirchhoff's
        current law, the last one returns the sum of the others."""
        nt = len(self.terminals)
        return tuple(range(nt - 1)), np.vstack([np.eye(nt - 1), -np.ones((1, nt - 1))])

    @abc.abstractmethod
    def evaluate(self, v: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Terminal currents ``(nt, N)`` (A, into each terminal) and ``dI_a/dV_b`` ``(nt, nt, N)`` (S) at
        terminal voltages ``v`` ``(nt, N)`` (V)."""

    @abc.abstractmethod
    def limit(self, v_new: FloatArray, v_old: FloatArray) -> FloatArray:
        """Terminal voltages with the controlling voltages limited against the previous iterate; returns
        ``v_new`` itself (the same object) when nothing was limited."""

    @abc.abstractmethod
    def report(self, v: FloatArray) -> dict[str, float]:
        """Named operating-point quantities at terminal voltages ``v`` (shape ``(nt,)``)."""


def _bjt_rows(d_be: FloatArray, d_bc: FloatArray) -> FloatArray:
    """Derivatives w.r.t. the (collector, base, emitter) node voltages of a quantity with partials ``d_be``
    and ``d_bc`` w.r.t. V_BE = p(V_B - V_E) and V_BC = p(V_B - V_C), times p (p^2 = 1)."""
    return np.stack([-d_bc, d_be + d_bc, -d_be])


class BJT(Device):
    """Bipolar transistor instance, terminals (collector, base, emitter): Ebers-Moll (:class:`BJTModel`) or
    Gummel-Poon (:class:`GummelPoonModel`, with its junction charges)."""

    def __init__(self, name: str, terminals: tuple[int, ...], model: BJTModel | GummelPoonModel) -> None:
        super().__init__(name, terminals)
        self.model = model
        self.has_charge = isinstance(model, GummelPoonModel) and model.has_charge

    def _junctions(self, v: FloatArray) -> tuple[FloatArray, FloatArray]:
        p = self.model.polarity
        return p * (v[1] - v[2]), p * (v[1] - v[0])

    def evaluate(self, v: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Terminal currents (A) and conductances (S); see :meth:`Device.evaluate` and
        :meth:`BJTModel.currents`."""
        p = self.model.polarity
        vbe, vbc = self._junctions(v)
        ic, ib, ic_be, ic_bc, ib_be, ib_bc = self.model.currents(vbe, vbc)
        i = np.stack([p * ic, p * ib, -p * (ic + ib)])
        # dI/dV_node: V_BE = p(V_B - V_E), V_BC = p(V_B - V_C); p^2 = 1 so polarity drops out.
        gc = np.stack([-ic_bc, ic_be + ic_bc, -ic_be])
        gb = np.stack([-ib_bc, ib_be + ib_bc, -ib_be])
        g = np.stack([gc, gb, -(gc + gb)])
        return i, g

    def charges(self, v: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Terminal charges (C) and capacitances (F) of a Gummel-Poon model; see :meth:`Device.charges` and
        :meth:`GummelPoonModel.charges`. The B-E charge sits between base and emitter, the B-C charge
        between base and collector."""
        if not isinstance(self.model, GummelPoonModel):
            return super().charges(v)
        p = self.model.polarity
        vbe, vbc = self._junctions(v)
        q_be, q_bc, be_be, be_bc, bc_be, bc_bc = self.model.charges(vbe, vbc)
        q = np.stack([-p * q_bc, p * (q_be + q_bc), -p * q_be])
        r_be, r_bc = _bjt_rows(be_be, be_bc), _bjt_rows(bc_be, bc_bc)
        return q, np.stack([-r_bc, r_be + r_bc, -r_be])

    def limit(self, v_new: FloatArray, v_old: FloatArray) -> FloatArray:
        """Both junction voltages limited by :func:`pnjlim` (V)."""
        m = self.model
        vbe, vbc = self._junctions(v_new)
        vbe_o, vbc_o = self._junctions(v_old)
        vbe_l = pnjlim(vbe, vbe_o, m.vt_v, m.vcrit_v)
        vbc_l = pnjlim(vbc, vbc_o, m.vt_v, m.vcrit_v)
        if vbe_l is vbe and vbc_l is vbc:
            return v_new
        vb = v_new[1]
        return np.stack([vb - m.polarity * vbc_l, vb, vb - m.polarity * vbe_l])

    def report(self, v: FloatArray) -> dict[str, float]:
        """``ic``, ``ib``, ``ie`` (A, device frame) and ``vbe``, ``vce``, ``vbc`` (V)."""
        p = self.model.polarity
        vbe, vbc = self._junctions(v[:, None])
        ic, ib, *_ = self.model.currents(vbe, vbc)
        return {
            "ic": float(ic[0]), "ib": float(ib[0]), "ie": float(ic[0] + ib[0]),
            "vbe": float(vbe[0]), "vce": float(p * (v[0] - v[2])), "vbc": float(vbc[0]),
        }


class MOSFET(Device):
    """MOS transistor instance, terminals (drain, gate, source)."""

    _max_step_v = 1.0  # largest change of V_GS or V_DS per Newton step

    def __init__(self, name: str, terminals: tuple[int, ...], model: MOSModel) -> None:
        super().__init__(name, terminals)
        self.model = model

    def evaluate(self, v: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Terminal currents (A) and conductances (S); see :meth:`Device.evaluate` and
        :meth:`MOSModel.drain_current`. The gate draws no current."""
        p = self.model.polarity
        vgs, vds = p * (v[1] - v[2]), p * (v[0] - v[2])
        i_d, g_gs, g_ds = self.model.drain_current(vgs, vds)
        zero = np.zeros_like(i_d)
        i = np.stack([p * i_d, zero, -p * i_d])
        gd = np.stack([g_ds, g_gs, -(g_gs + g_ds)])
        g = np.stack([gd, np.zeros_like(gd), -gd])
        return i, g

    def limit(self, v_new: FloatArray, v_old: FloatArray) -> FloatArray:
        """V_GS and V_DS may change by at most ``_max_step_v`` (V) per Newton step."""
        s = self._max_step_v
        d_gs = (v_new[1] - v_new[2]) - (v_old[1] - v_old[2])
        d_ds = (v_new[0] - v_new[2]) - (v_old[0] - v_old[2])
        if np.all(np.abs(d_gs) <= s) and np.all(np.abs(d_ds) <= s):
            return v_new
        vs = v_new[2]
        vgs = (v_old[1] - v_old[2]) + np.clip(d_gs, -s, s)
        vds = (v_old[0] - v_old[2]) + np.clip(d_ds, -s, s)
        return np.stack([vs + vds, vs + vgs, vs])

    def branches(self) -> tuple[tuple[int, ...], FloatArray]:
        """The drain current alone: it leaves by the source, the gate draws none; see :meth:`Device.branches`."""
        return (0,), np.array([[1.0], [0.0], [-1.0]])

    def report(self, v: FloatArray) -> dict[str, float]:
        """``id`` (A), ``vgs``, ``vds`` (V), ``gm``, ``gds`` (S), device frame."""
        p = self.model.polarity
        vgs, vds = p * (v[1] - v[2]), p * (v[0] - v[2])
        i_d, gm, gds = self.model.drain_current(np.array([vgs]), np.array([vds]))
        return {"id": float(i_d[0]), "vgs": float(vgs), "vds": float(vds), "gm": float(gm[0]), "gds": float(gds[0])}


def _pair(x: FloatArray) -> FloatArray:
    """``[x, -x]``: a quantity entering the first of two terminals and leaving the second."""
    return np.stack([x, -x])


class Diode(Device):
    """Junction diode instance, terminals (anode, cathode) of the intrinsic junction (the series
    resistance is a netlist resistor in front of the anode)."""

    def __init__(self, name: str, terminals: tuple[int, ...], model: DiodeModel) -> None:
        super().__init__(name, terminals)
        self.model = model
        self.has_charge = model.has_charge

    def evaluate(self, v: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Terminal currents (A) and conductances (S); see :meth:`DiodeModel.current`."""
        i, g = self.model.current(v[0] - v[1])
        return _pair(i), np.stack([_pair(g), _pair(-g)])

    def charges(self, v: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Terminal charges (C) and capacitances (F); see :meth:`DiodeModel.charge`."""
        q, c = self.model.charge(v[0] - v[1])
        return _pair(q), np.stack([_pair(c), _pair(-c)])

    def limit(self, v_new: FloatArray, v_old: FloatArray) -> FloatArray:
        """The junction voltage limited by :func:`pnjlim` with ``N V_T`` (V)."""
        m = self.model
        vd = v_new[0] - v_new[1]
        vd_l = pnjlim(vd, v_old[0] - v_old[1], m.nvt_v, m.vcrit_v)
        if vd_l is vd:
            return v_new
        return np.stack([v_new[1] + vd_l, v_new[1]])

    def report(self, v: FloatArray) -> dict[str, float]:
        """``id`` (A, anode to cathode), ``vd`` (V), ``gd`` (S)."""
        i, g = self.model.current(np.array([v[0] - v[1]]))
        return {"id": float(i[0]), "vd": float(v[0] - v[1]), "gd": float(g[0])}


class MOSFET4(Device):
    """MOS transistor instance with its bulk, terminals (drain, gate, source, bulk): SPICE level 1 with body
    effect (:mod:`.mos_level1`), bulk-junction depletion charges and Meyer's gate capacitances."""

    _max_step_v = 1.0  # largest change of V_GS, V_DS or V_BS per Newton step

    def __init__(self, name: str, terminals: tuple[int, ...], model: MOSModel) -> None:
        super().__init__(name, terminals)
        self.model = model
        self.has_charge = model.cbd_f > 0.0 or model.cbs_f > 0.0
        self.has_bias_capacitance = model.cox_f > 0.0

    def _frame(self, v: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        p = self.model.polarity
        return p * (v[1] - v[2]), p * (v[0] - v[2]), p * (v[3] - v[2])

    def evaluate(self, v: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Terminal currents (A) and conductances (S); see :func:`.mos_level1.drain_current`. Gate and bulk
        draw no current."""
        p = self.model.polarity
        i_d, g_gs, g_ds, g_bs = drain_current(self.model, *self._frame(v))
        zero = np.zeros_like(i_d)
        i = np.stack([p * i_d, zero, -p * i_d, zero])
        gd = np.stack([g_ds, g_gs, -(g_gs + g_ds + g_bs), g_bs])
        return i, np.stack([gd, np.zeros_like(gd), -gd, np.zeros_like(gd)])

    def charges(self, v: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Bulk-junction charges (C) and capacitances (F); see :func:`.mos_level1.bulk_charges`."""
        p = self.model.polarity
        q_bd, c_bd, q_bs, c_bs = bulk_charges(self.model, p * (v[3] - v[0]), p * (v[3] - v[2]))
        zero = np.zeros_like(q_bd)
        q = np.stack([-p * q_bd, zero, -p * q_bs, p * (q_bd + q_bs)])
        row_d = np.stack([c_bd, zero, zero, -c_bd])
        row_s = np.stack([zero, zero, c_bs, -c_bs])
        return q, np.stack([row_d, np.zeros_like(row_d), row_s, -(row_d + row_s)])

    def bias_capacitance(self, v: FloatArray) -> FloatArray:
        """Meyer's gate capacitances (F) as a (4, 4) matrix at ``v`` (4,); see
        :func:`.mos_level1.meyer_capacitances`."""
        cgs, cgd, cgb = (float(c[0]) for c in meyer_capacitances(self.model, *self._frame(v[:, None])))
        out = np.zeros((4, 4))
        for t, c in ((2, cgs), (0, cgd), (3, cgb)):
            out[1, 1] += c
            out[t, t] += c
            out[1, t] -= c
            out[t, 1] -= c
        return out

    def limit(self, v_new: FloatArray, v_old: FloatArray) -> FloatArray:
        """V_GS, V_DS and V_BS may change by at most ``_max_step_v`` (V) per Newton step."""
        s = self._max_step_v
        new = [v_new[t] - v_new[2] for t in (1, 0, 3)]
        old = [v_old[t] - v_old[2] for t in (1, 0, 3)]
        if all(np.all(np.abs(a - b) <= s) for a, b in zip(new, old)):
            return v_new
        vgs, vds, vbs = (b + np.clip(a - b, -s, s) for a, b in zip(new, old))
        vs = v_new[2]
        return np.stack([vs + vds, vs + vgs, vs, vs + vbs])

    def branches(self) -> tuple[tuple[int, ...], FloatArray]:
        """The gate draws no current; without bulk charges neither does the bulk, so the drain current is the
        only one, else drain and source currents with the bulk returning both; see :meth:`Device.branches`."""
        if self.has_charge:
            return (0, 2), np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
        return (0,), np.array([[1.0], [0.0], [-1.0], [0.0]])

    def report(self, v: FloatArray) -> dict[str, float]:
        """``id`` (A), ``vgs``, ``vds``, ``vbs``, ``von`` (V), ``gm``, ``gds``, ``gmb`` (S), device frame."""
        vgs, vds, vbs = (np.array([x]) for x in self._frame(v))
        i_d, gm, gds, gmb = drain_current(self.model, vgs, vds, vbs)
        rev = vds[0] < 0.0
        von = mos_threshold(self.model, vbs - vds if rev else vbs)[0]
        return {"id": float(i_d[0]), "vgs": float(vgs[0]), "vds": float(vds[0]), "vbs": float(vbs[0]),
                "von": float(von[0]), "gm": float(gm[0]), "gds": float(gds[0]), "gmb": float(gmb[0])}


DeviceModel = BJTModel | GummelPoonModel | MOSModel | DiodeModel


def instance(name: str, terminals: tuple[int, ...], model: DeviceModel) -> Device:
    """The device instance of a model: a :class:`BJT` for a BJT model, a :class:`Diode` for a
    :class:`DiodeModel`, a :class:`MOSFET` for a MOS model on three terminals and a :class:`MOSFET4` on
    four (drain, gate, source, bulk)."""
    if isinstance(model, (BJTModel, GummelPoonModel)):
        return BJT(name, terminals, model)
    if isinstance(model, DiodeModel):
        return Diode(name, terminals, model)
    if len(terminals) == 4:
        return MOSFET4(name, terminals, model)
    return MOSFET(name, terminals, model)
