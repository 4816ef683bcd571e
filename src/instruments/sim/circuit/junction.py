"""The charge of a pn-junction depletion layer, shared by the diode, the Gummel-Poon BJT and the MOSFET's
bulk junctions.

SPICE's form (Massobrio and Antognetti, "Semiconductor Device Modeling with SPICE", 2nd ed., ch. 1, the
diode's depletion capacitance; ngspice User's Manual, "Junction Diodes" and "BJTs"): the abrupt/graded
junction law below ``FC * VJ`` and its linear extrapolation (in capacitance) above, so the charge and the
capacitance stay finite and continuous when the junction is forward biased.
"""

from __future__ import annotations

import math

import numpy as np

from ..arrays import FloatArray


def check_junction(what: str, cj_f: float, vj_v: float, m: float, fc: float) -> None:
    """Raise ValueError (naming ``what``) unless ``cj_f >= 0`` (F), ``vj_v > 0`` (V), ``0 <= m <= 1`` and
    ``0 <= fc < 1`` (the ranges over which :func:`depletion_charge` is defined)."""
    if not cj_f >= 0.0:
        raise ValueError(f"{what}: junction capacitance must be >= 0, got {cj_f!r}")
    if not vj_v > 0.0:
        raise ValueError(f"{what}: junction potential must be > 0, got {vj_v!r}")
    if not 0.0 <= m <= 1.0:
        raise ValueError(f"{what}: grading coefficient must be in [0, 1], got {m!r}")
    if not 0.0 <= fc < 1.0:
        raise ValueError(f"{what}: forward-bias coefficient FC must be in [0, 1), got {fc!r}")


def depletion_charge(v: FloatArray, cj_f: float, vj_v: float, m: float, fc: float) -> tuple[FloatArray, FloatArray]:
    """Depletion charge (C) and capacitance (F) of a junction at forward voltage ``v`` (V), elementwise.

    With zero-bias capacitance ``CJ`` (F), built-in potential ``VJ`` (V), grading coefficient ``M`` and
    forward-bias coefficient ``FC`` (Massobrio and Antognetti, ch. 1; ngspice manual, diode model):

        v <  FC VJ:  C = CJ (1 - v/VJ)^-M,          Q = CJ VJ (1 - (1 - v/VJ)^(1-M)) / (1 - M)
        v >= FC VJ:  C = (CJ/F2) (F3 + M v/VJ),     Q = CJ F1 + (CJ/F2) (F3 (v - FC VJ) + M (v^2 - (FC VJ)^2)/(2 VJ))

    with ``F1 = VJ (1 - (1-FC)^(1-M))/(1-M)``, ``F2 = (1-FC)^(1+M)``, ``F3 = 1 - FC (1+M)``; for ``M = 1``
    the ``(1 - x^(1-M))/(1-M)`` terms are their limit ``-ln x``. Q(0) = 0.
    """
    v = np.asarray(v, dtype=float)
    if cj_f == 0.0:
        z = np.zeros_like(v)
        return z, z.copy()
    vfc = fc * vj_v
    below = v < vfc
    arg = 1.0 - np.minimum(v, vfc) / vj_v  # >= 1 - FC > 0
    if m == 1.0:
        q_lo = -cj_f * vj_v * np.log(arg)
        f1 = -vj_v * math.log(1.0 - fc)
    else:
        q_lo = cj_f * vj_v * (1.0 - arg ** (1.0 - m)) / (1.0 - m)
        f1 = vj_v * (1.0 - (1.0 - fc) ** (1.0 - m)) / (1.0 - m)
    c_lo = cj_f * arg ** (-m)
    f2 = (1.0 - fc) ** (1.0 + m)
    f3 = 1.0 - fc * (1.0 + m)
    q_hi = cj_f * f1 + cj_f / f2 * (f3 * (v - vfc) + m / (2.0 * vj_v) * (v * v - vfc * vfc))
    c_hi = cj_f / f2 * (f3 + m * v / vj_v)
    return np.where(below, q_lo, q_hi), np.where(below, c_lo, c_hi)
