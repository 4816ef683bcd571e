"""Operating point of the balanced two-stage amplifier of source text fig. 5-12: the active-load pair of fig. 5-10
followed by a common-emitter stage (Gray, Hurst, Lewis & Meyer, *Analysis and Design of Analog Integrated
Circuits*: the two-stage op amp's gain stages, Gray-Meyer §6.2).

The circuit: the pair and its pnp mirror as in :mod:`models.operating_point.active_load`, except that side 2 and
the mirror output meet at node ``mid``, the base of the second-stage device (the text's Q4, here device 9: the
mirror's device with its I_S times ``size_ratio``), whose emitter is at ``v_cc`` and whose collector is the
output. The output is pulled down by the sink I2 (Norton: ``sink_current`` in parallel with ``sink_r`` to
``v_ee``) and tied by ``r_load`` to ``v_return``.

Balance (the text's point): the mirror node supplies the bases of both mirror devices, ``I_C1 = I_C3 + I_B3 +
I_B4``; node mid gets the mirror output's collector current and device 9's base current (pnp base currents flow
out of the base), ``I_C2 = I_C4 + I_B9``. With device 9 twice a mirror device (the size of the split-collector
Q3's two halves together) at the same V_EB, ``I_B9 = I_B3 + I_B4``, so ``mid = out1`` and the pair's collectors
sit at the same voltage: no built-in offset, whatever the output level. Device 9 then carries twice a mirror
device's current, which the sink and the output resistor take: ``I_C9 = I2 + (V_o - v_ee)/r_sink +
(V_o - v_return)/r_load``.

Solve: the first stage is the active-load solve with device 9's base as the load of node mid (the current it
delivers into mid, ``(I_S9/beta_F) e^{V_EB9/V_T}``, falls as mid rises, so the balance at mid stays monotone);
then the output level from the balance at the output, a bracketed root (device 9's current falls and the load's
rises as the output rises). The level is well defined because the sink has a finite output resistance and the
output a resistor to a bias point: with an ideal sink and no resistor only the Early effect of device 9 would
set it (the text's remark that the ideal sink "keeps right on working down to a very large negative voltage").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from scipy.optimize import brentq

from .devices import BjtParams, DeviceParams
from .operating_point.active_load import active_load_operating_point
from .operating_point.budget import evaluation_budget
from .operating_point.device_law import device_law
from .operating_point.results import TAIL_COMPLIANCE_V, DeviceOperatingPoint, PairOperatingPoint
from .pair_circuit import CurrentMirror, DiffPair, NortonTail
from .telescopic import device_warnings

_EXP_MAX = 600.0  # cap on V/V_T in a base current: far outside any operating point, keeps it finite


@dataclass(frozen=True)
class OutputStage:
    """The second stage (module docstring): ``device`` (its own parameters, i.e. the mirror's with I_S or kp
    scaled), emitter/source at ``v_cc`` (V); sink ``sink_current`` (A) in parallel with ``sink_r`` (Ohm) to
    ``v_ee`` (V); ``r_load`` (Ohm) from the output to ``v_return`` (V)."""

    device: DeviceParams
    v_cc: float
    sink_current: float
    sink_r: float
    v_ee: float
    r_load: float
    v_return: float

    def load_current(self, v_out: float) -> float:
        """Current (A) the sink and the output resistor draw from the output at ``v_out`` (V) (Ohm's law and
        the Norton sink)."""
        g_sink = 0.0 if math.isinf(self.sink_r) else 1.0 / self.sink_r
        g_load = 0.0 if math.isinf(self.r_load) else 1.0 / self.r_load
        return self.sink_current + (v_out - self.v_ee) * g_sink + (v_out - self.v_return) * g_load

    def input_current(self, v_mid: float, vt: float) -> float:
        """Current (A) the stage's input delivers into node mid at ``v_mid`` (V): a pnp's base current
        ``(I_S/beta_F) e^{(v_cc - v_mid)/V_T}`` (Gummel-Poon without high injection, :mod:`models.devices`);
        0 for a MOS gate."""
        d = self.device
        if isinstance(d, BjtParams):
            return d.i_s / d.beta * math.exp(min((self.v_cc - v_mid) / vt, _EXP_MAX))
        return 0.0


@dataclass(frozen=True)
class _StageInput(CurrentMirror):
    """The first stage's mirror with the second stage's input as the load of node mid: ``r_out_current`` is the
    current *out of* mid into that load, i.e. minus the base current device 9 delivers (module docstring)."""

    stage: OutputStage | None = None
    vt: float = 0.0

    def r_out_current(self, v_out: float) -> float:
        assert self.stage is not None
        return -self.stage.input_current(v_out, self.vt)


@dataclass(frozen=True)
class TwoStageOperatingPoint(PairOperatingPoint):
    """A :class:`~models.operating_point.PairOperatingPoint` of the first stage (side 2's output is node mid;
    ``mirror.i_r_out`` is the current in the output's resistor ``r_load``) with the second stage: ``stage2``
    (device 9), ``v_out`` (V), ``i_sink`` (A, what the sink carries). Output 2 is the second stage's output."""

    stage2: DeviceOperatingPoint
    v_out: float
    i_sink: float

    @property
    def v_mid(self) -> float:
        """The first stage's output, node mid (V)."""
        return self.sides[1].v_output

    @property
    def vo2(self) -> float:
        """DC level of output 2, the second stage's output (V)."""
        return self.v_out

    def devices(self) -> list[DeviceOperatingPoint]:
        return super().devices() + [self.stage2]


def _output_level(stage: OutputStage, device_current: Callable[[float], float]) -> tuple[float, list[str]]:
    """The output level (V) where device 9's current ``device_current(v_out)`` (A) equals what the sink and the
    output resistor draw, bracketed between the level at which the load draws nothing, less 1 V, and
    ``v_cc + 1`` V; the end of that range with a note when the currents do not balance inside it."""
    g = (0.0 if math.isinf(stage.sink_r) else 1.0 / stage.sink_r) + (
        0.0 if math.isinf(stage.r_load) else 1.0 / stage.r_load)
    lo = -stage.load_current(0.0) / g - 1.0 if g > 0 else stage.v_ee - 1.0  # the load draws nothing at lo + 1
    hi = stage.v_cc + 1.0

    def residual(v: float) -> float:
        return device_current(v) - stage.load_current(v)

    if residual(lo) <= 0:
        return lo, [f"the output has no DC level: the sink pulls it below {lo:g} V"]
    if residual(hi) >= 0:
        return hi, [f"the output has no DC level: the second stage pulls it above {hi:g} V"]
    return float(brentq(residual, lo, hi, xtol=1e-13, rtol=1e-15, maxiter=200)), []


def two_stage_operating_point(pair: DiffPair, tail: NortonTail, mirror: CurrentMirror, stage: OutputStage, *,
                              v_in: tuple[float, float]) -> TwoStageOperatingPoint:
    """Operating point of the two-stage amplifier (module docstring): ``pair`` fed by ``tail`` with the simple
    mirror ``mirror`` (its ``r_out`` is not used: node mid is loaded by the second stage alone) and the second
    stage ``stage``, input pins at ``v_in`` (V). Raises :class:`~models.operating_point.OperatingPointError` where
    a solve fails; a level pinned at the end of its range, a device outside its active region and a sink with
    less than :data:`~models.operating_point.TAIL_COMPLIANCE_V` across it are warnings."""
    first_load = _StageInput(mirror.device, mirror.v_cc, math.inf, mirror.v_cc, stage=stage, vt=pair.vt)
    law = device_law(stage.device, pair.vt)
    with evaluation_budget():
        first = active_load_operating_point(pair, tail, first_load, v_in=v_in)
        u9 = stage.v_cc - first.vo2
        v_out, notes = _output_level(stage, lambda v: law.current(u9, stage.v_cc - v))
    dev9 = law.point(f"{law.prefix}9", law.current(u9, stage.v_cc - v_out), u9, stage.v_cc - v_out)
    i_sink = stage.load_current(v_out) - (0.0 if math.isinf(stage.r_load) else
                                          (v_out - stage.v_return) / stage.r_load)
    warnings = list(first.warnings) + notes + device_warnings([dev9])
    if v_out - stage.v_ee < TAIL_COMPLIANCE_V:
        warnings.append(f"the output sits {v_out - stage.v_ee:.3f} V above the negative supply: a transistor sink "
                        f"I2 needs about {TAIL_COMPLIANCE_V:g} V (it collapses near the rail, source text fig. 5-12)")
    assert first.mirror is not None
    mop = replace(first.mirror, i_r_out=0.0 if math.isinf(stage.r_load) else (v_out - stage.v_return) / stage.r_load)
    return TwoStageOperatingPoint(first.kind, "active", first.vt, first.i_tail, first.v_tail, first.sides, mop,
                                  tuple(warnings), stage2=dev9, v_out=v_out, i_sink=i_sink)
