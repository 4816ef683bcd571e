"""The SPICE junction diode: Shockley current, depletion and diffusion charge.

Works elementwise on arrays of the junction voltage (anode minus cathode, behind the series resistance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..arrays import FloatArray
from .device_equations import _exp_lin
from .junction import check_junction, depletion_charge

VT_300K_V = 1.380649e-23 * 300.15 / 1.602176634e-19
"""Thermal voltage kT/q at 300.15 K (27 C), V (CODATA 2018 exact k and q)."""


@dataclass(frozen=True)
class DiodeModel:
    """SPICE junction diode (ngspice User's Manual, "Junction Diodes"; Massobrio and Antognetti,
    "Semiconductor Device Modeling with SPICE", 2nd ed., ch. 1), area already applied.

    ``is_a`` saturation current I_S (A), ``n`` emission coefficient, ``rs_ohm`` series resistance (Ohm; a
    nonzero value puts an internal node between it and the junction), ``cjo_f`` zero-bias depletion
    capacitance (F), ``vj_v`` junction potential (V), ``m`` grading coefficient, ``tt_s`` transit time
    (s), ``fc`` forward-bias depletion coefficient, ``vt_v`` thermal voltage kT/q (V). No reverse
    breakdown.
    """

    is_a: float
    n: float = 1.0
    rs_ohm: float = 0.0
    cjo_f: float = 0.0
    vj_v: float = 1.0
    m: float = 0.5
    tt_s: float = 0.0
    fc: float = 0.5
    vt_v: float = VT_300K_V

    def __post_init__(self) -> None:
        if not (self.is_a > 0.0 and self.n > 0.0 and self.vt_v > 0.0):
            raise ValueError("diode: IS, N and V_T must be > 0")
        if not (self.rs_ohm >= 0.0 and self.tt_s >= 0.0):
            raise ValueError("diode: RS and TT must be >= 0")
        check_junction("diode", self.cjo_f, self.vj_v, self.m, self.fc)

    @property
    def nvt_v(self) -> float:
        """``N V_T``, V."""
        return self.n * self.vt_v

    @property
    def vcrit_v(self) -> float:
        """SPICE's critical voltage ``N V_T ln(N V_T / (sqrt 2 I_S))`` for junction limiting, V."""
        return self.nvt_v * math.log(self.nvt_v / (math.sqrt(2.0) * self.is_a))

    @property
    def has_charge(self) -> bool:
        """True when the junction stores charge (CJO or TT nonzero)."""
        return self.cjo_f > 0.0 or self.tt_s > 0.0

    def current(self, vd: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Junction current ``I = I_S (exp(V/(N V_T)) - 1)`` (A) and its conductance (S) (Shockley; ngspice
        manual, diode DC current)."""
        e, de = _exp_lin(vd / self.nvt_v)
        return self.is_a * (e - 1.0), self.is_a * de / self.nvt_v

    def charge(self, vd: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Stored charge ``Q = TT I + Q_dep(V)`` (C) and its capacitance ``dQ/dV`` (F) (diffusion plus
        depletion charge; Massobrio and Antognetti, ch. 1; :func:`.junction.depletion_charge`)."""
        q, c = depletion_charge(vd, self.cjo_f, self.vj_v, self.m, self.fc)
        if self.tt_s > 0.0:
            i, g = self.current(vd)
            q = q + self.tt_s * i
            c = c + self.tt_s * g
        return q, c
