"""Large-signal transistor equations: Ebers-Moll BJT, square-law MOSFET, SPICE junction limiting.

Each function works elementwise on arrays (one value per time sample or per Newton candidate), in the
device frame (NPN/NMOS signs; the instances in :mod:`.devices` apply the polarity).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..arrays import FloatArray
from .junction import check_junction

_EXP_ARG_MAX = 80.0  # exp() is continued linearly beyond this argument so no iterate can overflow
_EXP_ARG_MIN = -200.0


def _exp_lin(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``exp(x)`` and its derivative, continued linearly (C1) above ``_EXP_ARG_MAX`` so no iterate can
    overflow, and held constant below ``_EXP_ARG_MIN`` (where it is ~1e-87) so no subnormal numbers,
    which are very slow in floating-point hardware, reach the linear algebra."""
    xc = np.clip(x, _EXP_ARG_MIN, _EXP_ARG_MAX)
    e = np.exp(xc)
    val = e * (1.0 + np.maximum(x - _EXP_ARG_MAX, 0.0))
    return val, np.where(x < _EXP_ARG_MIN, 0.0, e)


def pnjlim(v_new: FloatArray, v_old: FloatArray, vt: float, vcrit: float) -> FloatArray:
    """SPICE junction-voltage limiting (SPICE3 ``DEVpnjlim``), elementwise.

    A forward junction voltage above ``vcrit = V_T ln(V_T / (sqrt 2 I_S))`` may not rise by more than
    about ``V_T ln(1 + dV/V_T)`` in one Newton step, which keeps the exponential from overshooting
    (Nagel, SPICE2, 1975; the SPICE3 source). Volts in, volts out.
    """
    v_new = np.asarray(v_new, dtype=float)
    v_old = np.broadcast_to(np.asarray(v_old, dtype=float), v_new.shape)
    hit = (v_new > vcrit) & (np.abs(v_new - v_old) > 2.0 * vt)
    if not hit.any():
        return v_new
    out = v_new.copy()
    vn = v_new[hit]
    vo = v_old[hit]
    arg = 1.0 + (vn - vo) / vt
    from_pos = np.where(arg > 0.0, vo + vt * np.log(np.maximum(arg, 1e-300)), vcrit)
    from_neg = vt * np.log(vn / vt)
    out[hit] = np.where(vo > 0.0, from_pos, from_neg)
    return out


@dataclass(frozen=True)
class BJTModel:
    """Ebers-Moll transport model of a bipolar transistor with Early effect on the transport current.

    ``polarity`` is +1 for NPN, -1 for PNP; ``is_a`` the saturation current I_S (A); ``beta_f`` and
    ``beta_r`` the forward and reverse current gains; ``early_v`` the forward Early voltage V_A (V,
    ``math.inf`` for none); ``vt_v`` the thermal voltage kT/q (V).
    """

    polarity: int
    is_a: float
    beta_f: float
    beta_r: float
    early_v: float
    vt_v: float

    @property
    def vcrit_v(self) -> float:
        """SPICE's critical junction voltage ``V_T ln(V_T/(sqrt 2 I_S))``, V."""
        return self.vt_v * math.log(self.vt_v / (math.sqrt(2.0) * self.is_a))

    def currents(self, vbe: FloatArray, vbc: FloatArray) -> tuple[FloatArray, ...]:
        """Collector and base currents (device frame, A) and their derivatives (S).

        Transport form of Ebers-Moll (Gray, Hurst, Lewis, Meyer, "Analysis and Design of Analog
        Integrated Circuits", 5th ed., ch. 1, section 1.3; Getreu, "Modeling the Bipolar Transistor",
        1976), with the Early effect applied to the transport current as in the Gummel-Poon base charge
        ``q_b = 1/(1 - V_BC/V_A)`` with no high-injection term (Massobrio, Antognetti, "Semiconductor
        Device Modeling with SPICE", 2nd ed., ch. 2):

            I_T = I_S (exp(V_BE/V_T) - exp(V_BC/V_T)) (1 - V_BC/V_A)
            I_C = I_T - (I_S/beta_R)(exp(V_BC/V_T) - 1)
            I_B = (I_S/beta_F)(exp(V_BE/V_T) - 1) + (I_S/beta_R)(exp(V_BC/V_T) - 1)

        In forward activity ``I_C = I_S exp(V_BE/V_T)(1 + V_CE'/V_A)`` with ``V_CE' = V_CE - V_BE``, so
        ``r_o = (V_A - V_BC)/I_C``; with ``V_BC > 0`` the reverse transport and the reverse base current
        pull the device into saturation. Returns ``(ic, ib, dic_dvbe, dic_dvbc, dib_dvbe, dib_dvbc)``.
        """
        vt, isat = self.vt_v, self.is_a
        ef, def_ = _exp_lin(vbe / vt)
        er, der = _exp_lin(vbc / vt)
        q = 1.0 - vbc / self.early_v
        it = isat * (ef - er) * q
        ibr = isat / self.beta_r * (er - 1.0)
        ibf = isat / self.beta_f * (ef - 1.0)
        git_be = isat * def_ / vt * q
        git_bc = -isat * der / vt * q - isat * (ef - er) / self.early_v
        gbr = isat / self.beta_r * der / vt
        gbf = isat / self.beta_f * def_ / vt
        return it - ibr, ibf + ibr, git_be, git_bc - gbr, gbf, gbr


def square_law(vgs: FloatArray, vds: FloatArray, vth: FloatArray | float, kp: float, lam: float
               ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Drain current (A) and its derivatives ``dI/dV_GS``, ``dI/dV_DS`` (S) of the square law with channel-length
    modulation at ``V_DS >= 0`` (the caller swaps drain and source for ``V_DS < 0``), threshold ``vth`` (V),
    ``kp`` (A/V^2), ``lam`` (1/V); the equations are :meth:`MOSModel.drain_current`'s."""
    vov = np.maximum(vgs - vth, 0.0)
    clm = 1.0 + lam * vds
    sat = vds >= vov
    core = np.where(sat, 0.5 * vov * vov, vov * vds - 0.5 * vds * vds)
    dcore_dvov = np.where(sat, vov, vds)
    dcore_dvds = np.where(sat, 0.0, vov - vds)
    return kp * core * clm, kp * dcore_dvov * clm, kp * (dcore_dvds * clm + core * lam)


@dataclass(frozen=True)
class MOSModel:
    """Square-law (Shichman-Hodges, SPICE level 1) MOSFET with channel-length modulation.

    ``polarity`` is +1 for NMOS, -1 for PMOS; ``kp_a_per_v2`` is mu Cox W/L (A/V^2); ``vth_v`` the
    zero-bias threshold in the device frame (V; SPICE's ``TYPE * VTO``); ``lambda_per_v`` the
    channel-length modulation (1/V). The optional SPICE level-1 extras (ngspice User's Manual, "MOSFET
    level 1"; Massobrio and Antognetti, "Semiconductor Device Modeling with SPICE", 2nd ed., ch. 4), all
    neutral by default: ``gamma_sqrt_v`` body-effect coefficient GAMMA (V^0.5) and ``phi_v`` surface
    potential PHI (V), used when the bulk is a separate terminal (:mod:`.mos_level1`); the overlap
    capacitances ``cgso_f``, ``cgdo_f``, ``cgbo_f`` (F, already times W or L) and the bulk-junction
    capacitances ``cbd_f``, ``cbs_f`` (F) with ``pb_v``, ``mj``, ``fc``; ``cox_f`` the total gate-oxide
    capacitance Cox W L (F) for Meyer's gate capacitances (0 = none).
    """

    polarity: int
    kp_a_per_v2: float
    vth_v: float
    lambda_per_v: float
    gamma_sqrt_v: float = 0.0
    phi_v: float = 0.6
    cgso_f: float = 0.0
    cgdo_f: float = 0.0
    cgbo_f: float = 0.0
    cbd_f: float = 0.0
    cbs_f: float = 0.0
    pb_v: float = 0.8
    mj: float = 0.5
    fc: float = 0.5
    cox_f: float = 0.0

    def __post_init__(self) -> None:
        if not (self.gamma_sqrt_v >= 0.0 and self.phi_v > 0.0):
            raise ValueError("MOSFET: GAMMA must be >= 0 and PHI > 0")
        for key, val in (("CGSO", self.cgso_f), ("CGDO", self.cgdo_f), ("CGBO", self.cgbo_f),
                         ("COX", self.cox_f)):
            if not val >= 0.0:
                raise ValueError(f"MOSFET: {key} must be >= 0, got {val!r}")
        check_junction("MOSFET bulk-drain junction", self.cbd_f, self.pb_v, self.mj, self.fc)
        check_junction("MOSFET bulk-source junction", self.cbs_f, self.pb_v, self.mj, self.fc)

    @property
    def is_square_law(self) -> bool:
        """True when only the four square-law parameters matter: no body effect, no capacitance."""
        return self.gamma_sqrt_v == 0.0 and self.cbd_f == 0.0 and self.cbs_f == 0.0 and self.cox_f == 0.0

    def drain_current(self, vgs: FloatArray, vds: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Drain current (device frame, A) and its derivatives ``dI/dV_GS``, ``dI/dV_DS`` (S).

        Razavi, "Design of Analog CMOS Integrated Circuits", ch. 2 (eqs. for triode and saturation with
        lambda); Sedra and Smith, "Microelectronic Circuits", the MOSFET chapter:

            cutoff     V_ov = V_GS - V_th <= 0:   I_D = 0
            saturation V_DS >= V_ov:             I_D = (kp/2) V_ov^2 (1 + lambda V_DS)
            triode     V_DS <  V_ov:             I_D = kp (V_ov V_DS - V_DS^2/2)(1 + lambda V_DS)

        The (1 + lambda V_DS) factor multiplies the triode branch too, as in SPICE level 1, so the current
        and its first derivatives are continuous at V_DS = V_ov and at V_ov = 0. For V_DS < 0 drain and
        source swap roles (the device is symmetric).
        """
        rev = vds < 0.0
        vgs_e = np.where(rev, vgs - vds, vgs)
        vds_e = np.abs(vds)
        i_e, gm_e, gds_e = square_law(vgs_e, vds_e, self.vth_v, self.kp_a_per_v2, self.lambda_per_v)
        i_d = np.where(rev, -i_e, i_e)
        di_dvgs = np.where(rev, -gm_e, gm_e)
        di_dvds = np.where(rev, gm_e + gds_e, gds_e)
        return i_d, di_dvgs, di_dvds
