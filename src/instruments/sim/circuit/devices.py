"""Transistor instances in a circuit: terminal node indices, polarity, and the Newton-step limiting.

An instance maps its terminal voltages to the currents flowing *into* its terminals and their
conductance matrix, using the device-frame equations of :mod:`.device_equations`.
"""

from __future__ import annotations

import abc

import numpy as np

from ..arrays import FloatArray
from .device_equations import BJTModel, MOSModel, pnjlim


class Device(abc.ABC):
    """A transistor instance: a name, terminal node indices (-1 = ground) and its large-signal model."""

    def __init__(self, name: str, terminals: tuple[int, ...]) -> None:
        self.name = name
        self.terminals = terminals

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


class BJT(Device):
    """Bipolar transistor instance, terminals (collector, base, emitter)."""

    def __init__(self, name: str, terminals: tuple[int, ...], model: BJTModel) -> None:
        super().__init__(name, terminals)
        self.model = model

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

    def report(self, v: FloatArray) -> dict[str, float]:
        """``id`` (A), ``vgs``, ``vds`` (V), ``gm``, ``gds`` (S), device frame."""
        p = self.model.polarity
        vgs, vds = p * (v[1] - v[2]), p * (v[0] - v[2])
        i_d, gm, gds = self.model.drain_current(np.array([vgs]), np.array([vds]))
        return {"id": float(i_d[0]), "vgs": float(vgs), "vds": float(vds), "gm": float(gm[0]), "gds": float(gds[0])}


def instance(name: str, terminals: tuple[int, ...], model: BJTModel | MOSModel) -> Device:
    """The device instance of a model: a :class:`BJT` for a :class:`BJTModel`, else a :class:`MOSFET`."""
    if isinstance(model, BJTModel):
        return BJT(name, terminals, model)
    return MOSFET(name, terminals, model)
