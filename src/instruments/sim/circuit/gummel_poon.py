"""The SPICE Gummel-Poon bipolar transistor: DC currents with base charge, depletion and diffusion charges.

Works elementwise on arrays of the intrinsic junction voltages ``V_B'E'`` and ``V_B'C'`` in the device
frame (NPN signs; the instance applies the polarity). The terminal resistances RB, RE, RC are linear and
live in the netlist (internal nodes), not here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..arrays import FloatArray
from .device_equations import _exp_lin
from .junction import check_junction, depletion_charge


class _Transport(NamedTuple):
    """Intermediate quantities shared by the currents and the charges (device frame)."""

    ef: FloatArray  # exp(V_BE/(NF V_T))
    er: FloatArray  # exp(V_BC/(NR V_T))
    g_f: FloatArray  # dI_F/dV_BE, S
    g_r: FloatArray  # dI_R/dV_BC, S
    u: FloatArray  # 1/q_b
    u_be: FloatArray  # d(1/q_b)/dV_BE, 1/V
    u_bc: FloatArray  # d(1/q_b)/dV_BC, 1/V


@dataclass(frozen=True)
class GummelPoonModel:
    """SPICE2/3 Gummel-Poon BJT (Massobrio and Antognetti, "Semiconductor Device Modeling with SPICE", 2nd
    ed., ch. 2; ngspice User's Manual, "BJTs"), area already applied. Names are SPICE's in SI units.

    ``polarity`` +1 NPN, -1 PNP; ``vt_v`` kT/q (V); ``is_a`` I_S (A); ``bf``/``br`` ideal forward/reverse
    beta; ``nf``/``nr`` emission coefficients; ``vaf``/``var`` forward/reverse Early voltages (V, inf =
    none); ``ikf``/``ikr`` high-injection knee currents (A, inf = none); ``ise``/``ne`` and ``isc``/``nc``
    the B-E and B-C leakage saturation currents (A) and emission coefficients; ``rb_ohm``/``re_ohm``/
    ``rc_ohm`` terminal resistances (Ohm, constant: no RBM/IRB); ``cje_f``/``vje_v``/``mje`` and
    ``cjc_f``/``vjc_v``/``mjc`` the junctions' depletion capacitance (F), potential (V) and grading
    (XCJC = 1: all of CJC at the internal base); ``tf_s``/``tr_s`` transit times (s; no XTF/VTF/ITF);
    ``fc`` the forward-bias depletion coefficient. No substrate junction, no excess phase.
    """

    polarity: int
    vt_v: float
    is_a: float
    bf: float = 100.0
    br: float = 1.0
    nf: float = 1.0
    nr: float = 1.0
    vaf: float = math.inf
    var: float = math.inf
    ikf: float = math.inf
    ikr: float = math.inf
    ise: float = 0.0
    ne: float = 1.5
    isc: float = 0.0
    nc: float = 2.0
    rb_ohm: float = 0.0
    re_ohm: float = 0.0
    rc_ohm: float = 0.0
    cje_f: float = 0.0
    vje_v: float = 0.75
    mje: float = 0.33
    cjc_f: float = 0.0
    vjc_v: float = 0.75
    mjc: float = 0.33
    tf_s: float = 0.0
    tr_s: float = 0.0
    fc: float = 0.5

    def __post_init__(self) -> None:
        if self.polarity not in (1, -1):
            raise ValueError(f"BJT: polarity must be +1 or -1, got {self.polarity!r}")
        positive = {"V_T": self.vt_v, "IS": self.is_a, "BF": self.bf, "BR": self.br, "NF": self.nf,
                    "NR": self.nr, "VAF": self.vaf, "VAR": self.var, "IKF": self.ikf, "IKR": self.ikr,
                    "NE": self.ne, "NC": self.nc}
        for key, val in positive.items():
            if not val > 0.0:
                raise ValueError(f"BJT: {key} must be > 0, got {val!r}")
        non_negative = {"ISE": self.ise, "ISC": self.isc, "RB": self.rb_ohm, "RE": self.re_ohm,
                        "RC": self.rc_ohm, "TF": self.tf_s, "TR": self.tr_s}
        for key, val in non_negative.items():
            if not val >= 0.0:
                raise ValueError(f"BJT: {key} must be >= 0, got {val!r}")
        check_junction("BJT B-E junction", self.cje_f, self.vje_v, self.mje, self.fc)
        check_junction("BJT B-C junction", self.cjc_f, self.vjc_v, self.mjc, self.fc)

    @property
    def vcrit_v(self) -> float:
        """SPICE's critical junction voltage ``V_T ln(V_T/(sqrt 2 I_S))`` for junction limiting, V."""
        return self.vt_v * math.log(self.vt_v / (math.sqrt(2.0) * self.is_a))

    @property
    def has_charge(self) -> bool:
        """True when the junctions store charge (any of CJE, CJC, TF, TR nonzero)."""
        return self.cje_f > 0.0 or self.cjc_f > 0.0 or self.tf_s > 0.0 or self.tr_s > 0.0

    def _transport(self, vbe: FloatArray, vbc: FloatArray) -> _Transport:
        """The junction exponentials and the inverse base charge ``1/q_b`` with its derivatives.

        ``q_1 = 1/(1 - V_BC/VAF - V_BE/VAR)``, ``q_2 = I_F/IKF + I_R/IKR``, ``q_b = q_1 (1 + sqrt(1 + 4 q_2))/2``
        (Massobrio and Antognetti, ch. 2, the Gummel-Poon base charge as SPICE2 writes it).
        """
        nfvt, nrvt = self.nf * self.vt_v, self.nr * self.vt_v
        ef, def_ = _exp_lin(vbe / nfvt)
        er, der = _exp_lin(vbc / nrvt)
        g_f = self.is_a * def_ / nfvt
        g_r = self.is_a * der / nrvt
        q1inv = 1.0 - vbc / self.vaf - vbe / self.var
        if self.ikf == math.inf and self.ikr == math.inf:
            return _Transport(ef, er, g_f, g_r, q1inv, np.full_like(q1inv, -1.0 / self.var),
                              np.full_like(q1inv, -1.0 / self.vaf))
        q2 = self.is_a * (ef - 1.0) / self.ikf + self.is_a * (er - 1.0) / self.ikr
        s = np.sqrt(np.maximum(1.0 + 4.0 * q2, 1e-30))
        h = 2.0 / (1.0 + s)  # q_1 / q_b
        dh_dq2 = -h * h / s
        u = q1inv * h
        u_be = -h / self.var + q1inv * dh_dq2 * g_f / self.ikf
        u_bc = -h / self.vaf + q1inv * dh_dq2 * g_r / self.ikr
        return _Transport(ef, er, g_f, g_r, u, u_be, u_bc)

    def currents(self, vbe: FloatArray, vbc: FloatArray) -> tuple[FloatArray, ...]:
        """Collector and base currents (device frame, A) and their derivatives (S), as
        :meth:`.device_equations.BJTModel.currents` returns them.

        Massobrio and Antognetti, ch. 2 (SPICE2 Gummel-Poon); ngspice manual, "BJTs":

            I_F = IS (exp(V_BE/(NF V_T)) - 1),  I_R = IS (exp(V_BC/(NR V_T)) - 1),  I_T = (I_F - I_R)/q_b
            I_C = I_T - I_R/BR - ISC (exp(V_BC/(NC V_T)) - 1)
            I_B = I_F/BF + ISE (exp(V_BE/(NE V_T)) - 1) + I_R/BR + ISC (exp(V_BC/(NC V_T)) - 1)

        With IKF = IKR = VAR = inf, ISE = ISC = 0 and NF = NR = 1 this is the Ebers-Moll model of
        :class:`.device_equations.BJTModel` with ``early_v = VAF`` (the currents bit for bit, the
        derivatives to rounding).
        Returns ``(ic, ib, dic_dvbe, dic_dvbc, dib_dvbe, dib_dvbc)``.
        """
        t = self._transport(vbe, vbc)
        isat = self.is_a
        it = isat * (t.ef - t.er) * t.u
        git_be = t.g_f * t.u + isat * (t.ef - t.er) * t.u_be
        git_bc = -t.g_r * t.u + isat * (t.ef - t.er) * t.u_bc
        ibr = isat / self.br * (t.er - 1.0)
        ibf = isat / self.bf * (t.ef - 1.0)
        gbr = t.g_r / self.br
        gbf = t.g_f / self.bf
        ic, ib = it - ibr, ibf + ibr
        ic_be, ic_bc, ib_be, ib_bc = git_be, git_bc - gbr, gbf, gbr
        if self.ise > 0.0:
            e, de = _exp_lin(vbe / (self.ne * self.vt_v))
            ib = ib + self.ise * (e - 1.0)
            ib_be = ib_be + self.ise * de / (self.ne * self.vt_v)
        if self.isc > 0.0:
            e, de = _exp_lin(vbc / (self.nc * self.vt_v))
            ilc, glc = self.isc * (e - 1.0), self.isc * de / (self.nc * self.vt_v)
            ic, ib = ic - ilc, ib + ilc
            ic_bc, ib_bc = ic_bc - glc, ib_bc + glc
        return ic, ib, ic_be, ic_bc, ib_be, ib_bc

    def charges(self, vbe: FloatArray, vbc: FloatArray) -> tuple[FloatArray, ...]:
        """B-E and B-C junction charges (device frame, C) and their derivatives (F).

        Massobrio and Antognetti, ch. 2; ngspice manual, "BJTs" (with XTF = 0, XCJC = 1):

            Q_BE = TF I_F / q_b + Q_dep(V_BE; CJE, VJE, MJE)     (I_F / q_b replaced by I_F for V_BE <= 0,
            Q_BC = TR I_R + Q_dep(V_BC; CJC, VJC, MJC)            as SPICE3 does)

        with the depletion charge of :func:`.junction.depletion_charge`. Returns
        ``(q_be, q_bc, dqbe_dvbe, dqbe_dvbc, dqbc_dvbe, dqbc_dvbc)``.
        """
        q_be, c_be = depletion_charge(vbe, self.cje_f, self.vje_v, self.mje, self.fc)
        q_bc, c_bc = depletion_charge(vbc, self.cjc_f, self.vjc_v, self.mjc, self.fc)
        c_be_bc = np.zeros_like(q_be)
        if self.tf_s > 0.0 or self.tr_s > 0.0:
            t = self._transport(vbe, vbc)
            i_f = self.is_a * (t.ef - 1.0)
            fwd = vbe > 0.0
            tf = self.tf_s
            q_be = q_be + tf * np.where(fwd, i_f * t.u, i_f)
            c_be = c_be + tf * np.where(fwd, t.g_f * t.u + i_f * t.u_be, t.g_f)
            c_be_bc = tf * np.where(fwd, i_f * t.u_bc, 0.0)
            q_bc = q_bc + self.tr_s * self.is_a * (t.er - 1.0)
            c_bc = c_bc + self.tr_s * t.g_r
        return q_be, q_bc, c_be, c_be_bc, np.zeros_like(q_bc), c_bc
