"""SPICE level-1 MOSFET with the bulk as a fourth terminal: body effect, bulk-junction charges and Meyer's
gate capacitances.

Works elementwise on arrays of ``V_GS``, ``V_DS``, ``V_BS`` in the device frame (NMOS signs; the instance
applies the polarity). The square-law core is :meth:`.device_equations.MOSModel.drain_current`'s.
"""

from __future__ import annotations

import math

import numpy as np

from ..arrays import FloatArray
from .device_equations import MOSModel, square_law
from .junction import depletion_charge

MEYER_MIN_VDSAT_V = 0.025
"""Floor on V_DSAT in Meyer's capacitances (ngspice's DEVqmeyer), V: keeps the triode formulas finite at
the edge of cutoff."""


def threshold(m: MOSModel, vbs: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Threshold ``V_on`` (V, device frame) and ``dV_on/dV_BS`` at bulk-source voltage ``vbs`` (V).

    ``V_on = VTO + GAMMA (sarg - sqrt(PHI))`` with ``sarg = sqrt(PHI - V_BS)`` for ``V_BS <= 0`` (Shichman and
    Hodges, IEEE JSSC 3(3), 1968; ngspice manual, MOSFET level 1). For a forward-biased bulk SPICE continues
    ``sarg`` linearly, ``sqrt(PHI) - V_BS/(2 sqrt(PHI))``, floored at 0, which keeps it and its slope
    continuous at ``V_BS = 0`` and finite for any ``V_BS``.
    """
    sphi = math.sqrt(m.phi_v)
    rev = vbs <= 0.0
    sq = np.sqrt(np.maximum(m.phi_v - vbs, m.phi_v))  # only used where vbs <= 0, where it is >= PHI
    lin = np.maximum(sphi - vbs / (2.0 * sphi), 0.0)
    sarg = np.where(rev, sq, lin)
    dsarg = np.where(rev, -0.5 / sq, np.where(lin > 0.0, -0.5 / sphi, 0.0))
    return m.vth_v + m.gamma_sqrt_v * (sarg - sphi), m.gamma_sqrt_v * dsarg


def drain_current(m: MOSModel, vgs: FloatArray, vds: FloatArray, vbs: FloatArray
                  ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Drain current (device frame, A) and ``dI/dV_GS``, ``dI/dV_DS``, ``dI/dV_BS`` (S).

    The square law of :meth:`MOSModel.drain_current` with the threshold of :func:`threshold`; for
    ``V_DS < 0`` drain and source swap (the bulk voltage is then taken from the drain), as in SPICE level 1.
    """
    rev = vds < 0.0
    vgs_e = np.where(rev, vgs - vds, vgs)
    vbs_e = np.where(rev, vbs - vds, vbs)
    vds_e = np.abs(vds)
    von, dvon = threshold(m, vbs_e)
    i_e, gm_e, gds_e = square_law(vgs_e, vds_e, von, m.kp_a_per_v2, m.lambda_per_v)
    gmb_e = -gm_e * dvon
    i_d = np.where(rev, -i_e, i_e)
    di_dvgs = np.where(rev, -gm_e, gm_e)
    di_dvds = np.where(rev, gm_e + gds_e + gmb_e, gds_e)
    di_dvbs = np.where(rev, -gmb_e, gmb_e)
    return i_d, di_dvgs, di_dvds, di_dvbs


def bulk_charges(m: MOSModel, vbd: FloatArray, vbs: FloatArray
                 ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Bulk-drain and bulk-source depletion charges (C) and capacitances (F) at ``vbd``, ``vbs`` (V, device
    frame): :func:`.junction.depletion_charge` with CBD/CBS, PB, MJ, FC (ngspice manual, MOSFET level 1).
    Returns ``(q_bd, c_bd, q_bs, c_bs)``."""
    q_bd, c_bd = depletion_charge(vbd, m.cbd_f, m.pb_v, m.mj, m.fc)
    q_bs, c_bs = depletion_charge(vbs, m.cbs_f, m.pb_v, m.mj, m.fc)
    return q_bd, c_bd, q_bs, c_bs


def meyer_capacitances(m: MOSModel, vgs: FloatArray, vds: FloatArray, vbs: FloatArray
                       ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Meyer's intrinsic gate capacitances ``C_GS``, ``C_GD``, ``C_GB`` (F) at the device-frame voltages.

    Meyer, "MOS models and circuit simulation", RCA Review 32, 1971, as SPICE level 1 uses them
    (Massobrio and Antognetti, ch. 4; ngspice manual), with ``V_GST = V_GS - V_on``, ``V_DSAT = max(V_GST,
    0)`` floored at 25 mV, ``C_ox`` = ``cox_f`` and, for ``V_DS < V_DSAT`` (triode), the factors
    ``a_s = 1 - ((V_DSAT - V_DS)/(2 V_DSAT - V_DS))^2`` and ``a_d = 1 - (V_DSAT/(2 V_DSAT - V_DS))^2``:

        V_GST <= -PHI:           C_GB = C_ox
        -PHI < V_GST <= -PHI/2:  C_GB = -V_GST C_ox / PHI
        -PHI/2 < V_GST <= 0:     C_GB = -V_GST C_ox / PHI, C_G = 2/3 C_ox + 4/3 C_ox V_GST / PHI
        V_GST > 0:               C_G = 2/3 C_ox
        (C_GS, C_GD) = (C_G, 0) in saturation, (a_s C_G, a_d C_G) in triode

    For ``V_DS < 0`` drain and source swap roles, as in :func:`drain_current`.
    """
    rev = vds < 0.0
    vgs_e = np.where(rev, vgs - vds, vgs)
    vds_e = np.abs(vds)
    von, _ = threshold(m, np.where(rev, vbs - vds, vbs))
    vgst = vgs_e - von
    cox, phi = m.cox_f, m.phi_v
    vdsat = np.maximum(vgst, MEYER_MIN_VDSAT_V)
    cgb = np.where(vgst <= -phi, cox, np.where(vgst <= 0.0, -vgst * cox / phi, 0.0))
    cg = np.where(vgst <= -0.5 * phi, 0.0,
                  np.where(vgst <= 0.0, 2.0 / 3.0 * cox + 4.0 / 3.0 * cox * vgst / phi, 2.0 / 3.0 * cox))
    triode = vds_e < vdsat
    den = np.where(triode, 2.0 * vdsat - vds_e, 1.0)  # > V_DSAT in triode
    a_s = np.where(triode, 1.0 - ((vdsat - vds_e) / den) ** 2, 1.0)
    a_d = np.where(triode, 1.0 - (vdsat / den) ** 2, 0.0)
    cgs_e, cgd_e = cg * a_s, cg * a_d
    return np.where(rev, cgd_e, cgs_e), np.where(rev, cgs_e, cgd_e), cgb
