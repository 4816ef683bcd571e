"""The cascoded current mirror of a telescopic stage: its DC laws and its small-signal equivalent.

The circuit (pnp/pmos devices, magnitudes V_EB/V_SG, V_EC/V_SD): the mirror devices 3 (diode side) and 4 (output
side) have their emitters/sources at ``v_cc`` and their bases/gates on out1; each carries a cascode device of the
same type on its collector/drain (7 on side 1 from node x3 to out1, 8 on side 2 from node x4 to out2) whose
base/gate sits at ``cascode_bias_v``. Out1 is both the mirror's input (side 1 of the pair draws its current
there) and its control node: the low-voltage (wide-swing) cascode mirror of Razavi, *Design of Analog CMOS
Integrated Circuits*, ch. 5, as the load of the telescopic stage of ch. 9; for bipolar devices, Gray, Hurst,
Lewis & Meyer, *Analysis and Design of Analog Integrated Circuits* (Gray-Meyer §4.2).

DC (device laws of :mod:`models.devices`, through :mod:`models.operating_point.device_law`): side 1 draws ``i``
from out1, where it meets the cascode 7's collector current and the base currents of 3 and 4 (pnp base currents
flow out of the bases into out1): ``i = I_C7 + I_B3 + I_B4``. Device 7 carries device 3's collector current as
its emitter current and sits at ``x3 = cascode_bias_v + V_EB7``. On side 2, device 4 (control voltage that of 3)
feeds device 8, ``x4 = cascode_bias_v + V_EB8``, and 8's collector current is what the mirror delivers to out2.

Small signal (hybrid-pi of every device, emitters of 3 and 4 and the bases of 7 and 8 at AC ground; node
voltages v1 = out1, v2 = out2). KCL at x3 gives ``x3 = v1 (g_o7 - g_m3)/D7``, ``D7 = g_m7 + g_o7 + g_pi7 + g_o3``,
so the current leaving out1 into the mirror is ``Y1 v1`` with

    Y1 = g_o7 + g_pi3 + g_pi4 - (g_m7 + g_o7)(g_o7 - g_m3)/D7

(for MOS ``(g_m3 (g_m7 + g_o7) + g_o3 g_o7)/D7 ~ g_m3``). KCL at x4, ``x4 = (g_o8 v2 - g_m4 v1)/D8`` with
``D8 = g_m8 + g_o8 + g_pi8 + g_o4``, gives the current leaving out2 into the mirror,
``g_m4 (g_m8 + g_o8)/D8 v1 + g_o8 (g_pi8 + g_o4)/D8 v2``: a controlled source ``g_m,eff v1`` and an output
resistance ``D8/(g_o8 (g_pi8 + g_o4))`` (MOS: ``r_o4 + r_o8 + g_m8 r_o8 r_o4 ~ g_m r_o^2``, Razavi §3.5; BJT:
at most ``beta r_o``, Gray-Meyer §3.4). Both are exact, so the mirror enters
:func:`models.small_signal.pair_response` as a :class:`~models.small_signal.MirrorLoad` with these values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .operating_point.device_law import BjtLaw, DeviceLaw
from .operating_point.errors import OperatingPointError
from .operating_point.results import DeviceOperatingPoint
from .operating_point.roots import fixed_point
from .pair_circuit import CurrentMirror
from .small_signal import MirrorLoad

_TINY = 1e-300  # least current a law is asked about, A (the laws take logarithms / square roots)
_EXP_MAX = 600.0  # cap on V/V_T in a base current: far outside any operating point, keeps it finite


@dataclass(frozen=True)
class CascodedMirror(CurrentMirror):
    """A :class:`~models.pair_circuit.CurrentMirror` whose devices each carry a cascode device of the same type,
    bases/gates at ``cascode_bias_v`` (V) (module docstring)."""

    cascode_bias_v: float


def base_current(law: DeviceLaw, v_ctrl: float) -> float:
    """Base current (A) of a BJT at ``V_BE = v_ctrl`` (V): ``(I_S/beta_F) e^{V_BE/V_T}`` (:mod:`models.devices`);
    0 for a MOS device."""
    if isinstance(law, BjtLaw):
        return law.dev.i_s / law.dev.beta * math.exp(min(v_ctrl / law.vt, _EXP_MAX))
    return 0.0


@dataclass(frozen=True)
class MirrorInput:
    """The diode side at one input current: out1 (V), node x3 (V), the control voltages of 3 and 7 (V) and
    the collector currents of 3 and 7 (A)."""

    v_node: float
    v_x: float
    u3: float
    u7: float
    i3: float
    i7: float


def mirror_input(law: DeviceLaw, load: CascodedMirror, i: float) -> MirrorInput:
    """The diode side when side 1 draws ``i`` (A) from out1 (module docstring).

    A joint fixed point in (V_EB3, x3): 7's collector current ``i - I_B3 - I_B4`` sets its V_EB, hence x3; 7's
    emitter current sets 3's V_EB at ``V_EC3 = v_cc - x3``. Each variable sees the other only through an Early
    factor or a base current (contraction ~ V_T/V_A, lambda V_ov, 2/beta), so it settles in a few steps."""
    i = max(i, _TINY)
    u = law.ctrl(i, 1.0)
    x = load.cascode_bias_v + law.ctrl(i, 1.0)
    for _ in range(200):
        v1 = load.v_cc - u
        i7 = max(i - 2.0 * base_current(law, u), _TINY)
        u7 = law.ctrl(i7, x - v1)
        x_new = load.cascode_bias_v + u7
        i3 = i7 + base_current(law, u7)
        u_new = law.ctrl(i3, load.v_cc - x_new)
        done = abs(u_new - u) <= 1e-13 and abs(x_new - x) <= 1e-13
        u, x = u_new, x_new
        if done:
            return MirrorInput(load.v_cc - u, x, u, u7, i3, i7)
    raise OperatingPointError("the cascoded mirror's input node did not converge")


@dataclass(frozen=True)
class MirrorOutput:
    """The output side at one control voltage and output level: node x4 (V), 8's control voltage (V), the
    collector currents of 4 and 8 (A)."""

    v_x: float
    u8: float
    i4: float
    i8: float


def mirror_output(law: DeviceLaw, load: CascodedMirror, u: float, v_out: float) -> MirrorOutput:
    """The output side with 4's control voltage ``u`` (V) and out2 at ``v_out`` (V): x4 is the fixed point of
    ``x4 = cascode_bias_v + V_EB8(I_C8, x4 - v_out)``, 8 carrying 4's collector current as its emitter current
    (contraction ~ 1/(g_m r_o))."""
    def currents(x4: float) -> tuple[float, float]:
        i4 = law.current(u, load.v_cc - x4)
        return i4, law.split(i4, x4 - v_out)

    def step(x4: float) -> float:
        return load.cascode_bias_v + law.ctrl_or_threshold(currents(x4)[1], x4 - v_out)

    guess = load.cascode_bias_v + law.ctrl(max(law.current(u, 1.0), _TINY), 1.0)
    x4 = fixed_point(step, guess, 1.0, "mirror cascode node")
    i4, i8 = currents(x4)
    return MirrorOutput(x4, law.ctrl_or_threshold(i8, x4 - v_out), i4, i8)


@dataclass(frozen=True)
class CascodedMirrorDevices:
    """The four mirror devices at the operating point: ``diode`` (3), ``diode_cascode`` (7), ``output`` (4),
    ``output_cascode`` (8)."""

    diode: DeviceOperatingPoint
    diode_cascode: DeviceOperatingPoint
    output: DeviceOperatingPoint
    output_cascode: DeviceOperatingPoint


def _g(r: float) -> float:
    """1/r with 1/inf = 0 (an ideal element)."""
    return 0.0 if math.isinf(r) else 1.0 / r


def cascoded_mirror_load(devs: CascodedMirrorDevices, r_out: float, c1: float, c2: float) -> MirrorLoad:
    """The cascoded mirror as the :class:`~models.small_signal.MirrorLoad` with the same node equations at out1 and
    out2 (module docstring; exact): ``gm_diode = Y1`` (the out1 admittance, base conductances included),
    ``gm_out = g_m4 (g_m8 + g_o8)/D8``, ``r_o_out = D8/(g_o8 (g_pi8 + g_o4))``; ``r_out`` (Ohm, R1 from out2 to its
    return) and ``c1, c2`` (F, the output nodes' capacitances) as for a simple mirror."""
    d3, d7, d4, d8 = devs.diode, devs.diode_cascode, devs.output, devs.output_cascode
    go3, go7, go4, go8 = _g(d3.r_o), _g(d7.r_o), _g(d4.r_o), _g(d8.r_o)
    d7_sum = d7.gm + go7 + _g(d7.r_pi) + go3
    d8_sum = d8.gm + go8 + _g(d8.r_pi) + go4
    dead = [d.name for d, total in ((d7, d7_sum), (d8, d8_sum)) if not total > 0]
    if dead:  # a cascode with no current and ideal neighbours: its node has no conductance to anything
        raise OperatingPointError(f"cascoded mirror: {', '.join(dead)} and its neighbours conduct nothing at the "
                                  "operating point (cut off): no small-signal load")
    y1 = go7 + _g(d3.r_pi) + _g(d4.r_pi) - (d7.gm + go7) * (go7 - d3.gm) / d7_sum
    g_out = go8 * (_g(d8.r_pi) + go4) / d8_sum
    return MirrorLoad(gm_diode=y1, gm_out=d4.gm * (d8.gm + go8) / d8_sum,
                      r_o_out=math.inf if g_out == 0 else 1.0 / g_out, r_out=r_out, c1=c1, c2=c2)
