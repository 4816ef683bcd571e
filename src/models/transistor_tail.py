"""A tail current source built from one transistor: its current and output resistance at any tail-node voltage,
through its compliance into saturation (BJT) or triode (MOS).

The circuit (npn or nmos, SI units): collector/drain at the tail node ``v_tail``, base/gate held at ``bias_v`` by an
ideal source, emitter/source through ``r_e`` (0: none) to ``v_ee``. Device laws over every region are
:mod:`models.full_region_laws` (Gummel-Poon without high injection, reverse gain ``beta_r``; SPICE level-1 MOS).

DC: with ``x`` = V_BE (V_GS) and ``y = bias_v - v_tail`` (V_BC, V_GD), the emitter's current law
``I_E(x, y) = (bias_v - x - v_ee)/r_e`` has one root in ``x`` (``I_E`` rises with ``x``, the right side falls),
found by bracketed search. In the active region the current is about ``(bias_v - V_BE)/r_e``.

Small signal, base/gate at AC ground: with the law's slopes ``a = dI_C/dx``, ``b = dI_C/dy``, ``c = dI_B/dx``,
``d = dI_B/dy``, the emitter's current law gives ``v_e = -(b + d) v_c/(1/r_e + a + c)`` and the admittance
into the collector

    y_out = -b + a (b + d)/(1/r_e + a + c)

exact for the linearised device in every region. In the forward-active region ``a = g_m + 1/r_o``,
``b = -1/r_o``, ``c = 1/r_pi`` and ``d ~ 0``, so ``1/y_out = r_o (1 + g_m R_E') + R_E'`` with
``R_E' = r_e || r_pi`` (the output resistance of a current source with emitter degeneration: Gray, Hurst, Lewis
and Meyer, *Analysis and Design of Analog Integrated Circuits*, 5th ed., Gray-Meyer §4.2); for MOS
``1/y_out = r_o + r_e + g_m r_o r_e`` (Razavi, *Design of Analog CMOS Integrated Circuits*, ch. 5). When the tail
node falls far enough that the base-collector junction conducts (V_BC above ~0.5 V) or the drain drops below
``V_G - V_th``, ``b`` grows by orders of magnitude and ``1/y_out`` collapses towards a few kOhm: the compliance limit
(the common-mode input range's bottom) where the pair's common-mode rejection goes with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from .devices import BjtParams, MosParams
from .full_region_laws import Law, device_law
from .operating_point.errors import OperatingPointError
from .operating_point.results import BJT_SATURATION_VBC_V
from .pair_circuit import NortonTail

MAX_VBC_FRACTION = 0.9
"""Largest forward V_BC of a bipolar tail transistor the law is evaluated at, as a fraction of V_A (see
:meth:`TransistorTail._law`)."""


@dataclass(frozen=True)
class TailState:
    """The tail transistor at one tail-node voltage: ``v_ctrl`` = V_BE/V_GS and ``v_out`` = V_CE/V_DS (V), currents
    ``i_out`` (collector/drain) and ``i_in`` (base) in A, ``r_out`` the output resistance (Ohm) and ``region``
    (``"active"``, ``"saturated"``, ``"triode"`` or ``"cutoff"``, the tests of :mod:`models.operating_point.results`)
    with ``headroom_v`` = ``V_CB + 0.4 V`` (BJT) or ``V_DS - V_ov`` (MOS)."""

    v_ctrl: float
    v_out: float
    i_out: float
    i_in: float
    r_out: float
    region: str
    headroom_v: float


@dataclass(frozen=True, kw_only=True)
class TransistorTail(NortonTail):
    """A transistor tail source (module docstring) for the operating-point solvers, which ask only for
    :meth:`dc_current`; ``current`` and ``r_out`` of the Norton form stay 0 and inf (there is no Norton part).

    ``device``: the tail transistor (npn/nmos parameters), ``vt`` (V), ``bias_v`` (V), ``r_e`` (Ohm), ``beta_r``."""

    device: BjtParams | MosParams
    vt: float
    bias_v: float
    r_e: float
    beta_r: float = 1.0

    def _law(self, x: float, v_tail: float) -> Law:
        """The device's law at V_BE (V_GS) ``x`` with the collector/drain at ``v_tail``. A BJT's V_BC is capped at
        ``MAX_VBC_FRACTION V_A``: beyond V_A the Early factor changes sign and the law stops being monotone, which
        only the tail-node search of the operating-point solve (100 V below the inputs) ever visits."""
        y = self.bias_v - v_tail
        if isinstance(self.device, BjtParams):
            y = min(y, MAX_VBC_FRACTION * self.device.early_v)
        return device_law(self.device, self.vt, np.array(x), np.array(y), self.beta_r)

    def _emitter_residual(self, x: float, v_tail: float) -> float:
        law = self._law(x, v_tail)
        return float(law.i_out + law.i_in) - (self.bias_v - x - self.v_ee) / self.r_e

    def control_voltage(self, v_tail: float) -> float:
        """V_BE (V_GS) of the tail transistor with its collector/drain at ``v_tail`` (V): the root of the emitter's
        current law (module docstring); :class:`OperatingPointError` if none is bracketed."""
        drop = self.bias_v - self.v_ee
        if self.r_e == 0.0:
            return drop
        lo = min(drop, 0.0) - 1.0
        hi = max(drop, self.bias_v - v_tail, 0.0) + 0.5
        for _ in range(60):
            if self._emitter_residual(hi, v_tail) > 0.0:
                break
            hi += 2.0 * (hi - lo)
        else:
            raise OperatingPointError("the tail transistor's emitter current law has no root")
        if not self._emitter_residual(lo, v_tail) < 0.0:
            raise OperatingPointError("the tail transistor's emitter current law has no root")
        return float(brentq(self._emitter_residual, lo, hi, args=(v_tail,), xtol=1e-14, rtol=1e-15, maxiter=200))

    def dc_current(self, v_tail: float) -> float:
        """Collector/drain current (A) the tail carries with its node at ``v_tail`` (V)."""
        x = self.control_voltage(v_tail)
        return float(self._law(x, v_tail).i_out)

    def output_resistance(self, v_tail: float) -> float:
        """``1/y_out`` (Ohm) at ``v_tail`` (V), exact for the linearised device (module docstring)."""
        law = self._law(self.control_voltage(v_tail), v_tail)
        a, b, c, d = (float(v) for v in (law.dout_dx, law.dout_dy, law.din_dx, law.din_dy))
        y = -b if self.r_e == 0.0 else -b + a * (b + d) / (1.0 / self.r_e + a + c)
        return math.inf if y == 0.0 else 1.0 / y

    def state(self, v_tail: float) -> TailState:
        """The tail transistor at ``v_tail`` (V): its voltages, currents, output resistance and region."""
        x = self.control_voltage(v_tail)
        law = self._law(x, v_tail)
        v_out = x - (self.bias_v - v_tail)
        i_out = float(law.i_out)
        if isinstance(self.device, BjtParams):
            headroom = v_out - x + BJT_SATURATION_VBC_V
            region = "cutoff" if i_out <= 0 else ("active" if headroom >= 0 else "saturated")
        else:
            headroom = v_out - (x - self.device.vth)
            region = "cutoff" if i_out <= 0 else ("active" if headroom >= 0 else "triode")
        return TailState(x, v_out, i_out, float(law.i_in), self.output_resistance(v_tail), region, headroom)


def degenerated_output_resistance(gm: float, r_o: float, r_pi: float, r_e: float) -> float:
    """The textbook ``r_o (1 + g_m R_E') + R_E'``, ``R_E' = r_e || r_pi`` (Ohm; Gray-Meyer §4.2), from the hybrid-pi
    ``gm`` (S), ``r_o``, ``r_pi`` and ``r_e`` (Ohm; ``r_pi = inf`` for MOS): what
    :meth:`TransistorTail.output_resistance` reduces to in the active region."""
    r_ep = 0.0 if r_e == 0.0 else 1.0 / (1.0 / r_e + (0.0 if math.isinf(r_pi) else 1.0 / r_pi))
    return r_o * (1.0 + gm * r_ep) + r_ep
