"""Large-signal transfer of the two-stage amplifier of source text fig. 5-12 (:mod:`models.two_stage`): the
second stage's collector current and the output level as functions of the pair's collector currents.

Given the pair's collector currents ``I_C1, I_C2`` at each drive (from :func:`models.large_signal.bjt_pair_currents`
with the pair's Early factors held at the operating point), the rest of the circuit is solved point by point with
the device laws of :mod:`models.devices` (Gummel-Poon Early form, base currents):

- mirror: its diode sits at ``V_CB = 0`` and supplies both bases, ``I_C1 = I_S e^{u/V_T} (1 + 2/beta_F)``
  (u = V_EB3); the output device carries ``I_C4 = I_S e^{u/V_T} (1 + (V_EC4 - u)/V_A)`` with
  ``V_EC4 = v_cc - v_mid``;
- node mid: device 9's base delivers what side 2 takes beyond the mirror, ``I_B9 = I_C2' - I_C4``, where
  ``I_C2' = I_C2 + (v_mid - v_mid0)/R_out2`` follows side 2's collector as mid moves (``R_out2``: side 2's
  output resistance at the operating point, ``r_o (1 + g_m (R_E || r_pi)) + (R_E || r_pi)`` with its emitter
  resistor, Gray-Meyer §3.4: the degenerated device's emitter current barely moves with its collector);
  ``V_EB9 = V_T ln(beta_F I_B9 / I_S9)`` and ``v_mid = v_cc - V_EB9``, a fixed point that contracts by
  ~``r_pi9 / (r_o2 || r_o4)`` (~2 %);
- output: ``I_C9 = beta_F I_B9 (1 + (V_EC9 - V_EB9)/V_A9)`` with ``V_EC9 = v_cc - v_out`` and the load
  ``I_C9 = I2 + (v_out - v_ee)/r_sink + (v_out - v_return)/r_load``: two linear equations in (I_C9, v_out),
  solved in closed form.

Device 9 is cut off (``I_C9 = 0``) where side 2 takes less than the mirror delivers; the model does not cover
device 9's saturation near ``v_cc`` nor the sink's collapse near ``v_ee`` (the operating point and the prediction
report those margins). All functions are vectorised over the drive and take SI units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .devices import BjtParams
from .two_stage import OutputStage

_I_MIN = 1e-30  # least base current of device 9 (A): below it the device is off
_ITERATIONS = 60  # fixed-point steps for node mid; at a contraction of ~0.02 per step, far more than needed


@dataclass(frozen=True)
class TwoStageTransfer:
    """The second stage at each drive: device 9's collector current ``i_out`` (A), node ``v_mid`` and the output
    ``v_out`` (V), arrays of the drive's shape."""

    i_out: np.ndarray
    v_mid: np.ndarray
    v_out: np.ndarray


def two_stage_transfer(i_c1: ArrayLike, i_c2: ArrayLike, mirror: BjtParams, stage: OutputStage, vt: float, *,
                       v_mid0: float, r_out2: float) -> TwoStageTransfer:
    """The second stage driven by the pair's collector currents ``i_c1, i_c2`` (A) (module docstring).

    ``mirror``: one mirror device; ``stage``: the second stage (its device bipolar); ``vt``: thermal voltage (V);
    ``v_mid0``: node mid at the operating point (V), where ``i_c2`` was evaluated; ``r_out2``: side 2's output
    resistance there (Ohm; inf: none)."""
    d9 = stage.device
    if not isinstance(d9, BjtParams):
        raise ValueError("the two-stage transfer is modelled for a bipolar second stage")
    c1, c2 = np.broadcast_arrays(np.asarray(i_c1, dtype=float), np.asarray(i_c2, dtype=float))
    drive = c1 / (1.0 + 2.0 / mirror.beta)  # I_S e^{u/V_T} of the mirror
    u = vt * np.log(np.maximum(drive, _I_MIN) / mirror.i_s)
    inv_va4 = 0.0 if math.isinf(mirror.early_v) else 1.0 / mirror.early_v
    g_out2 = 0.0 if math.isinf(r_out2) else 1.0 / r_out2
    mid = np.full_like(c1, v_mid0)
    for _ in range(_ITERATIONS):
        i4 = drive * (1.0 + (stage.v_cc - mid - u) * inv_va4)
        i_b9 = np.maximum(c2 + (mid - v_mid0) * g_out2 - i4, _I_MIN)
        new = np.minimum(stage.v_cc - vt * np.log(d9.beta * i_b9 / d9.i_s), stage.v_cc)
        done = np.all(np.abs(new - mid) <= 1e-13)
        mid = new
        if done:
            break
    v_eb9 = stage.v_cc - mid
    # I_C9 = k0 - k1 v_out (device 9) and I_C9 = a + g v_out (load)
    inv_va9 = 0.0 if math.isinf(d9.early_v) else 1.0 / d9.early_v
    k1 = d9.beta * i_b9 * inv_va9
    k0 = d9.beta * i_b9 * (1.0 + (stage.v_cc - v_eb9) * inv_va9)
    g = (0.0 if math.isinf(stage.sink_r) else 1.0 / stage.sink_r) + (
        0.0 if math.isinf(stage.r_load) else 1.0 / stage.r_load)
    a = stage.load_current(0.0)
    v_out = (k0 - a) / (g + k1)
    i_out = np.where(i_b9 > _I_MIN, a + g * v_out, 0.0)
    v_out = np.where(i_b9 > _I_MIN, v_out, -a / g)
    return TwoStageTransfer(i_out=i_out, v_mid=mid, v_out=v_out)
