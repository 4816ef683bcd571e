"""The large-signal law of one transistor in the form the operating-point solve needs: the control voltage that
carries a current, the split of an emitter current into collector and base, and the device at its solution
with the exact slopes of its law as small-signal parameters.

The laws are those of :mod:`models.devices`, written for scalars with the Early factor floored (so they stay
finite and monotone far outside their range) and every evaluation counted against the solve's budget
(:mod:`models.operating_point.budget`).

BJT: the SPICE Gummel-Poon form of the Early effect, ``I_C = I_S e^{V_BE/V_T} (1 - V_BC/V_A)`` with
``V_BC = V_BE - V_CE``, and ``I_B = (I_S/beta_F) e^{V_BE/V_T}``; since the factor holds V_BE itself, V_BE is
found by a fixed point that contracts by ``V_T/(V_A - V_BC)`` (~3e-4) per step. MOS: the square law with
channel-length modulation, ``I_D = (kp/2)(V_GS - V_th)^2 (1 + lambda V_DS)`` (Razavi ch. 2).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable

from ..devices import BjtParams, DeviceParams, MosParams
from .budget import spend
from .results import BJT_SATURATION_VBC_V, DeviceOperatingPoint
from .roots import bracketed_fixed_point, fixed_point

MIN_FACTOR = 1e-9
"""Floor of the Early / channel-length factor ``1 + V/V_A``: keeps the device laws finite (and monotone) far
outside their range."""


class DeviceLaw(ABC):
    """One device type's law at thermal voltage ``vt`` (V); :func:`device_law` picks the kind."""

    is_bjt: bool
    prefix: str
    """First letter of the device names in the results: ``Q`` (BJT) or ``M`` (MOS)."""

    def __init__(self, vt: float) -> None:
        self.vt = vt

    @abstractmethod
    def factor(self, v_out: float, v_ctrl: float = 0.0) -> float:
        """Early factor ``1 - V_BC/V_A = 1 + (V_CE - V_BE)/V_A`` (BJT) or ``1 + lambda V_DS`` (MOS), floored."""

    @abstractmethod
    def split(self, i_e: float, v_out: float) -> float:
        """Output (collector/drain) current (A) for emitter/source current ``i_e`` (A) at ``v_out`` (V)."""

    @abstractmethod
    def ctrl(self, i_out: float, v_out: float) -> float:
        """V_BE (or V_GS) that carries ``i_out`` (A) at ``v_out`` (V)."""

    @abstractmethod
    def ctrl_or_threshold(self, i_out: float, v_out: float) -> float:
        """:meth:`ctrl` at ``max(i_out, 1e-300)``; for a MOS device that carries nothing, its threshold (V)."""

    @abstractmethod
    def current(self, v_ctrl: float, v_out: float) -> float:
        """Output current (A) at control voltage ``v_ctrl`` and output voltage ``v_out`` (V): the law itself."""

    @abstractmethod
    def mirror_ctrl(self, i_in: float) -> float:
        """V_EB (V_SG) of a diode-connected mirror device fed ``i_in`` (A), which also supplies both bases."""

    @abstractmethod
    def point(self, name: str, i_out: float, v_ctrl: float, v_out: float) -> DeviceOperatingPoint:
        """Device at its operating point with the exact slopes of its law as small-signal parameters."""


class BjtLaw(DeviceLaw):
    """The BJT law (module docstring)."""

    is_bjt = True
    prefix = "Q"

    def __init__(self, dev: BjtParams, vt: float) -> None:
        super().__init__(vt)
        self.dev = dev

    def factor(self, v_out: float, v_ctrl: float = 0.0) -> float:
        spend()
        d = self.dev
        f = 1.0 + ((v_out - v_ctrl) / d.early_v if math.isfinite(d.early_v) else 0.0)
        return max(f, MIN_FACTOR)

    def _vbe(self, i: float, v_out: float, extra: float) -> float:
        """V_BE at which ``I_S e^{V_BE/V_T} (f(V_BE) + extra) = i`` (``extra = 0``: collector current ``i``;
        ``extra = 1/beta_F``: emitter current ``i``), at ``V_CE = v_out``."""
        d = self.dev
        i = max(i, 1e-300)

        def step(u: float) -> float:
            return self.vt * math.log(i / (d.i_s * (self.factor(v_out, u) + extra)))

        x0 = self.vt * math.log(i / (d.i_s * (1.0 + extra)))
        f0 = self.factor(v_out, x0)
        if not math.isfinite(d.early_v) or f0 <= MIN_FACTOR or self.vt / (d.early_v * (f0 + extra)) < 0.01:
            return fixed_point(step, x0, 1.0, "base-emitter voltage")
        return self._vbe_newton(step, x0, v_out, extra)

    def _vbe_newton(self, step: Callable[[float], float], x0: float, v_out: float, extra: float) -> float:
        """:meth:`_vbe` where the fixed point contracts slowly (the Early factor is small: a saturated device or
        a small V_A): Newton's method on ``u - step(u)`` with ``step' = V_T/(V_A (f + extra))``, handing over
        to the bracketed solve when that slope nears 1 (the equation then has no well-separated root)."""
        d = self.dev
        u = x0
        for _ in range(50):
            f = self.factor(v_out, u)
            slope = 0.0 if f <= MIN_FACTOR else self.vt / (d.early_v * (f + extra))
            if slope > 0.9:
                break
            du = (u - step(u)) / (1.0 - slope)
            u -= du
            if abs(du) <= 1e-13:
                return u
        return bracketed_fixed_point(step, x0, 1.0, "base-emitter voltage")

    def split(self, i_e: float, v_out: float) -> float:
        """Collector current for emitter current ``i_e`` at ``v_out``: ``I_E f/(f + 1/beta_F)``."""
        f = self.factor(v_out, self._vbe(i_e, v_out, 1.0 / self.dev.beta))
        return i_e * f / (f + 1.0 / self.dev.beta)

    def ctrl(self, i_out: float, v_out: float) -> float:
        return self._vbe(i_out, v_out, 0.0)

    def ctrl_or_threshold(self, i_out: float, v_out: float) -> float:
        return self.ctrl(max(i_out, 1e-300), v_out)

    def current(self, v_ctrl: float, v_out: float) -> float:
        return self.dev.i_s * math.exp(v_ctrl / self.vt) * self.factor(v_out, v_ctrl)

    def mirror_ctrl(self, i_in: float) -> float:
        """``i_in = I_S e^{u/V_T} (1 + 2/beta)``: collector of Q3 (V_CB3 = 0, so its Early factor is 1) plus the
        bases of Q3 and Q4."""
        d = self.dev
        i_in = max(i_in, 1e-300)
        return self.vt * math.log(i_in / (d.i_s * (1.0 + 2.0 / d.beta)))

    def point(self, name: str, i_out: float, v_ctrl: float, v_out: float) -> DeviceOperatingPoint:
        """``r_o = (V_A - V_BC)/I_C`` (``1/r_o = dI_C/dV_CE`` at fixed V_BE) and the hybrid-pi
        ``g_m = dI_C/dV_BE`` at fixed V_CE ``= I_C/V_T - 1/r_o`` (the Early factor holds V_BE too);
        ``r_pi = V_T/I_B``, ``beta = I_C/I_B = beta_F (1 - V_BC/V_A)``, ``r_e = V_T/I_E`` (:mod:`models.devices`)."""
        f = self.factor(v_out, v_ctrl)
        d = self.dev
        i_in = d.i_s / d.beta * math.exp(v_ctrl / self.vt)
        r_o = d.early_v * f / i_out if math.isfinite(d.early_v) else math.inf
        gm = i_out / self.vt - 1.0 / r_o
        beta = i_out / i_in if i_in > 0 else math.inf
        alpha = i_out / (i_out + i_in)
        headroom = v_out - v_ctrl + BJT_SATURATION_VBC_V
        region = "cutoff" if i_out <= 0 else ("active" if headroom >= 0 else "saturated")
        return DeviceOperatingPoint(name, "bjt", i_out, i_in, v_ctrl, v_out, gm, r_o,
                                    self.vt / i_in if i_in > 0 else math.inf, beta, alpha,
                                    self.vt / (i_out + i_in), math.nan, region, headroom)


class MosLaw(DeviceLaw):
    """The MOS square law (module docstring); no gate current, so the drain carries the source current."""

    is_bjt = False
    prefix = "M"

    def __init__(self, dev: MosParams, vt: float) -> None:
        super().__init__(vt)
        self.dev = dev

    def factor(self, v_out: float, v_ctrl: float = 0.0) -> float:
        spend()
        return max(1.0 + self.dev.lambda_per_v * v_out, MIN_FACTOR)

    def split(self, i_e: float, v_out: float) -> float:
        return i_e

    def ctrl(self, i_out: float, v_out: float) -> float:
        f = self.factor(v_out)
        return self.dev.vth + math.sqrt(2.0 * max(i_out, 0.0) / (self.dev.kp * f))

    def ctrl_or_threshold(self, i_out: float, v_out: float) -> float:
        return self.ctrl(max(i_out, 1e-300), v_out) if i_out > 0 else self.dev.vth

    def current(self, v_ctrl: float, v_out: float) -> float:
        return 0.5 * self.dev.kp * max(v_ctrl - self.dev.vth, 0.0) ** 2 * self.factor(v_out)

    def mirror_ctrl(self, i_in: float) -> float:
        """The fixed point of ``V_SG = V_th + sqrt(2 i_in/(kp (1 + lambda V_SG)))`` (the diode's V_SD is its V_SG)."""
        d = self.dev
        i_in = max(i_in, 1e-300)
        return fixed_point(lambda v: d.vth + math.sqrt(2.0 * i_in / (d.kp * self.factor(v))), d.vth, 1.0,
                           "mirror node")

    def point(self, name: str, i_out: float, v_ctrl: float, v_out: float) -> DeviceOperatingPoint:
        """``V_ov = V_GS - V_th``, ``g_m = 2 I_D/V_ov``, ``r_o = (1 + lambda V_DS)/(lambda I_D)``
        (:mod:`models.devices`); cut off (zero current, no slopes) when ``I_D <= 0`` or ``V_ov <= 0``."""
        f = self.factor(v_out, v_ctrl)
        m = self.dev
        v_ov = v_ctrl - m.vth
        if i_out <= 0 or v_ov <= 0:
            return DeviceOperatingPoint(name, "mos", 0.0, 0.0, v_ctrl, v_out, 0.0, math.inf, math.inf,
                                        math.inf, 1.0, math.inf, v_ov, "cutoff", v_out - max(v_ov, 0.0))
        gm = 2.0 * i_out / v_ov
        r_o = f / (m.lambda_per_v * i_out) if m.lambda_per_v * i_out > 0 else math.inf
        headroom = v_out - v_ov
        return DeviceOperatingPoint(name, "mos", i_out, 0.0, v_ctrl, v_out, gm, r_o, math.inf, math.inf,
                                    1.0, 1.0 / gm, v_ov, "active" if headroom >= 0 else "triode", headroom)


def device_law(dev: DeviceParams, vt: float) -> DeviceLaw:
    """The law of ``dev`` at thermal voltage ``vt`` (V)."""
    if isinstance(dev, BjtParams):
        return BjtLaw(dev, vt)
    return MosLaw(dev, vt)
