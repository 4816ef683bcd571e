"""Small-signal nodal gains of a differential pair versus frequency, exact for its linear circuit.

The circuit (every element per side may differ, which is how mismatch enters):

- side k: input pin v_k -> series ``r_source`` -> base/gate; hybrid-pi device (``r_pi`` base-emitter, ``gm``
  controlled source and ``r_o`` collector-emitter; MOS: ``r_pi = inf`` and a body source ``gmb`` with the bulk
  at AC ground); emitter/source -> ``r_degen`` -> tail node; collector/drain -> optional cascode device (base
  or gate at AC ground) -> output node k;
- tail node -> ``Z_T = R_T || 1/(s C_T)`` to AC ground;
- load: resistive, ``Z_Lk = R_Lk || 1/(s C_Lk)`` from output k to AC ground; or a current mirror (source text
  fig. 5-10; Razavi ch. 5): output 1 is the diode-connected device's node (admittance
  ``g_m3 + 1/r_o3 + 1/r_pi3 + 1/r_pi4 + s C_L1``), the mirror output device injects ``-g_m4 v_o1`` into
  output 2, which also sees ``1/r_o4 + 1/R1 + s C_L2``; optionally followed by a second stage (source text
  fig. 5-12, :mod:`models.gain_stage`), whose output is then output 2.

Method. Each side is reduced in closed form to linear relations between its terminal currents (top node,
tail node, input pin) and the voltages v_k, v_ok, v_t, by eliminating its internal emitter node and the
cascode's source node (Kirchhoff's current law on the hybrid-pi; the cascode step is the classical
``1/r_pi2 + (1 + g_m2 r_o2)/(Z_L + r_o2)`` reduction of Gray-Meyer / Razavi §3.5). The load then gives
v_o1 (and v_o2 via the mirror) in terms of v_k and v_t, and the tail node's KCL gives v_t. The result is
the nodal matrix ``[vo1; vo2] = H [v1; v2]`` and the input admittance ``[i1; i2] = Y_in [v1; v2]``. No
approximation is made beyond the linear circuit itself (no device capacitances other than C_T and C_L).
``models.mixed_mode`` turns H into ``S = T H T^-1`` (docs/reference/measurement-methods.md §3.2).

The textbook half-circuit results are limits of this solution and are checked against it and against an
independent nodal solver in the tests: ``Ad = -g_m(R_D||r_o)``, ``Acm = -g_m R_D/(1 + 2 g_m R_SS)``, the tail
zero ``1/(2 pi R_SS C_T)``, ``CMRR_se = (1 + 2 g_m Z_SS)/2`` (docs/reference/measurement-methods.md §6; source 001/002).

Every element accepts floats or numpy arrays that broadcast against ``freq_hz``; ``inf`` means an ideal
element (``r_o = inf``, ``r_pi = inf`` for MOS, ``R_T = inf`` for an ideal tail).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .gain_stage import GainStage
from .mixed_mode import MixedModeGains

INF = float("inf")


def _inv(x: ArrayLike) -> np.ndarray:
    """1/x with 1/inf = 0 and 1/0 = inf, without warnings (ideal elements)."""
    with np.errstate(divide="ignore"):
        return np.true_divide(1.0, x)


@dataclass(frozen=True)
class CascodeDevice:
    """Common-base / common-gate device stacked on a pair device: ``gm`` (S), ``r_o`` (Ohm), ``r_pi`` (Ohm,
    inf for MOS), ``gmb`` (S, MOS body transconductance; 0 for BJT)."""

    gm: ArrayLike
    r_o: ArrayLike = INF
    r_pi: ArrayLike = INF
    gmb: ArrayLike = 0.0


@dataclass(frozen=True)
class Side:
    """One half of the pair: the input device and what sits in series with it (SI units).

    ``gm`` transconductance, ``r_o`` output resistance, ``r_pi`` base-emitter resistance (inf for MOS),
    ``gmb`` MOS body transconductance, ``r_degen`` emitter/source resistor to the tail node, ``r_source``
    series resistance from the input pin to the base/gate, ``cascode`` an optional cascode device.
    """

    gm: ArrayLike
    r_o: ArrayLike = INF
    r_pi: ArrayLike = INF
    gmb: ArrayLike = 0.0
    r_degen: ArrayLike = 0.0
    r_source: ArrayLike = 0.0
    cascode: CascodeDevice | None = None


@dataclass(frozen=True)
class ResistiveLoad:
    """A load resistor and capacitor from each output to AC ground: ``r1, r2`` (Ohm), ``c1, c2`` (F)."""

    r1: ArrayLike
    r2: ArrayLike
    c1: ArrayLike = 0.0
    c2: ArrayLike = 0.0


@dataclass(frozen=True)
class MirrorLoad:
    """Current-mirror load with single-ended output 2 (source text fig. 5-10).

    ``gm_diode, r_o_diode, r_pi_diode``: the diode-connected device on side 1 (Q3/M3); ``gm_out, r_o_out,
    r_pi_out``: the mirror output device on side 2 (Q4/M4); ``r_out``: R1 from output 2 to AC ground (inf for
    none); ``c1, c2``: capacitance at the mirror node and at the output (F).

    ``stage2``: a second stage after the mirror (source text fig. 5-12, :mod:`models.gain_stage`). Side 2 and the
    mirror output then meet at the stage's input node, which it loads with its input admittance, and output 2 is
    the stage's output: ``r_out`` and ``c2`` belong to that node and ``vo2 = A_2(s) v_x``, ``A_2`` the stage's
    :meth:`~models.gain_stage.GainStage.voltage_gain` under ``1/r_out + s c2``.
    """

    gm_diode: ArrayLike
    gm_out: ArrayLike
    r_o_diode: ArrayLike = INF
    r_o_out: ArrayLike = INF
    r_pi_diode: ArrayLike = INF
    r_pi_out: ArrayLike = INF
    r_out: ArrayLike = INF
    c1: ArrayLike = 0.0
    c2: ArrayLike = 0.0
    stage2: GainStage | None = None


@dataclass(frozen=True)
class Tail:
    """Tail source output impedance ``R_T || 1/(s C_T)``: ``r`` (Ohm; inf for an ideal source), ``c`` (F)."""

    r: ArrayLike
    c: ArrayLike = 0.0

    def reduced(self, s: np.ndarray, side1: Side, side2: Side) -> tuple[Side, Side, np.ndarray]:
        """The sides and the tail node's admittance (S) at complex frequency ``s`` (rad/s): the sides as they are
        and ``1/R_T + s C_T``. A tail network of more than one node (:class:`models.split_tail.SplitTail`) returns
        its star equivalent instead: sides with a frequency-dependent ``r_degen`` and the star centre's admittance."""
        return side1, side2, _inv(self.r) + s * np.asarray(self.c)


Load = ResistiveLoad | MirrorLoad


@dataclass(frozen=True)
class PairResponse:
    """Nodal small-signal response at ``freq_hz``.

    ``h[i, j]``: output i per unit input j (``[vo1; vo2] = h [v1; v2]``), shape (2, 2, *freq shape);
    ``y_in[i, j]``: current into input pin i per unit voltage at pin j (S); ``v_tail[j]``: tail-node voltage
    per unit input j.
    """

    freq_hz: np.ndarray
    h: np.ndarray
    y_in: np.ndarray
    v_tail: np.ndarray

    def gains(self) -> MixedModeGains:
        """The mixed-mode gains ``S = T H T^-1`` (docs/reference/measurement-methods.md §3.2)."""
        return MixedModeGains.from_nodal(self.h)


# A linear form in the three node voltages (v_k, v_top, v_t), held as a tuple of coefficient arrays.
_Form = tuple[np.ndarray, np.ndarray, np.ndarray]


def _side_forms(side: Side) -> tuple[_Form, _Form, _Form]:
    """Currents of one side as linear forms in (v_k, v_top, v_t): into the top node's device, out of the side
    into the tail node, and into the input pin.

    Pair device alone (top = collector x), with ``g_b = 1/(R_s + r_pi)``, ``g_m' = g_m r_pi/(R_s + r_pi)``
    (the source resistance divides the base drive), ``g_me = g_m' + g_mb`` and ``g_o = 1/r_o``:
    controlled current ``g_m' v - g_me v_e``; KCL at the internal emitter with ``v_e = v_t + R_E i_e`` gives
    ``i_e = ((g_b + g_m') v + g_o v_x - K v_t)/N``, ``K = g_b + g_me + g_o``, ``N = 1 + R_E K``.
    """
    g_b = _inv(np.asarray(side.r_source) + np.asarray(side.r_pi))
    gm_eff = np.asarray(side.gm) / (1.0 + np.asarray(side.r_source) * _inv(side.r_pi))
    gme = gm_eff + np.asarray(side.gmb)
    g_o = _inv(side.r_o)
    r_e = np.asarray(side.r_degen)
    K = g_b + gme + g_o
    N = 1.0 + r_e * K
    zero = np.zeros_like(N)
    # i_e (out of the side into the tail node) and v_e (internal emitter)
    ie: _Form = ((g_b + gm_eff) / N, g_o / N, -K / N)
    ve: _Form = (r_e * ie[0], r_e * ie[1], 1.0 + r_e * ie[2])
    # i_x: current from the collector node down into the device = g_m' v + g_o v_x - (g_me + g_o) v_e
    ix: _Form = (gm_eff - (gme + g_o) * ve[0], g_o - (gme + g_o) * ve[1], -(gme + g_o) * ve[2])
    iin: _Form = (g_b * (1.0 - ve[0]), -g_b * ve[1], -g_b * ve[2])
    if side.cascode is None:
        return ix, ie, iin
    c = side.cascode
    gmc = np.asarray(c.gm) + np.asarray(c.gmb)
    g_oc = _inv(c.r_o)
    g_pic = _inv(c.r_pi)
    # KCL at the cascode's emitter/source x: -(g_mc + g_oc + g_pic) v_x + g_oc v_top = i_x(v, v_x, v_t)
    den = gmc + g_oc + g_pic + ix[1]
    vx: _Form = (-ix[0] / den, g_oc / den + zero, -ix[2] / den)

    def sub(f: _Form) -> _Form:
        """Replace v_x (the middle variable of a form in (v, v_x, v_t)) by its expression in (v, v_top, v_t)."""
        return (f[0] + f[1] * vx[0], f[1] * vx[1], f[2] + f[1] * vx[2])

    # current from the top node into the cascode: -(g_mc + g_oc) v_x + g_oc v_top
    itop: _Form = (-(gmc + g_oc) * vx[0], g_oc - (gmc + g_oc) * vx[1], -(gmc + g_oc) * vx[2])
    return itop, sub(ie), sub(iin)


def pair_response(freq_hz: ArrayLike, side1: Side, side2: Side, load: Load, tail: Tail) -> PairResponse:
    """Exact small-signal nodal response of the pair (see the module docstring for the circuit).

    ``freq_hz``: frequencies (Hz, any shape; 0 is allowed); sides, load and tail as their dataclasses.
    Sequential elimination (all closed form): output 1 from its node equation, output 2 from its node
    equation (which for a mirror load contains ``g_m4 v_o1``), then the tail node from
    ``i_e1 + i_e2 = v_t / Z_T``.
    """
    f = np.asarray(freq_hz, dtype=float)
    s = 2j * np.pi * f
    side1, side2, y_t = tail.reduced(s, side1, side2)
    top1, ie1, in1 = _side_forms(side1)
    top2, ie2, in2 = _side_forms(side2)
    g_x: float | np.ndarray  # the mirror output device's g_m4 (none for resistive loads)
    if isinstance(load, ResistiveLoad):
        y1 = _inv(load.r1) + s * np.asarray(load.c1)
        y2 = _inv(load.r2) + s * np.asarray(load.c2)
        g_x = 0.0
    elif isinstance(load, MirrorLoad):
        y1 = (np.asarray(load.gm_diode) + _inv(load.r_o_diode) + _inv(load.r_pi_diode) + _inv(load.r_pi_out)
              + s * np.asarray(load.c1))
        if load.stage2 is None:
            y2 = _inv(load.r_o_out) + _inv(load.r_out) + s * np.asarray(load.c2)
        else:  # side 2 meets the mirror at the second stage's input (MirrorLoad docstring)
            y2 = _inv(load.r_o_out) + load.stage2.input_admittance(s)
        g_x = np.asarray(load.gm_out)
    else:
        raise TypeError(f"unknown load {type(load).__name__}")

    # Forms over the basis (v1, v2, v_t).
    d1 = y1 + top1[1]
    vo1 = (-top1[0] / d1, 0.0 * d1, -top1[2] / d1)
    d2 = y2 + top2[1]
    vo2 = (-(g_x * vo1[0]) / d2, -top2[0] / d2, -(g_x * vo1[2] + top2[2]) / d2)
    # tail KCL: y_t v_t = i_e1 + i_e2, each i_ek = P v_k + Q v_ok + R v_t
    c1 = ie1[0] + ie1[1] * vo1[0] + ie2[1] * vo2[0]
    c2 = ie2[0] + ie2[1] * vo2[1]
    ct = ie1[1] * vo1[2] + ie1[2] + ie2[1] * vo2[2] + ie2[2]
    den = y_t - ct
    t1, t2 = c1 / den, c2 / den

    h = np.array(np.broadcast_arrays(
        vo1[0] + vo1[2] * t1, vo1[1] + vo1[2] * t2,
        vo2[0] + vo2[2] * t1, vo2[1] + vo2[2] * t2,
    ), dtype=complex)
    h = h.reshape((2, 2) + h.shape[1:])
    if isinstance(load, MirrorLoad) and load.stage2 is not None:  # unilateral: output 2 follows node x
        h[1] = h[1] * load.stage2.voltage_gain(_inv(load.r_out) + s * np.asarray(load.c2))
    # input currents: i_ink = a v_k + b v_ok + c v_t
    y11 = in1[0] + in1[1] * (vo1[0] + vo1[2] * t1) + in1[2] * t1
    y12 = in1[1] * (vo1[1] + vo1[2] * t2) + in1[2] * t2
    y21 = in2[1] * (vo2[0] + vo2[2] * t1) + in2[2] * t1
    y22 = in2[0] + in2[1] * (vo2[1] + vo2[2] * t2) + in2[2] * t2
    y_in = np.array(np.broadcast_arrays(y11, y12, y21, y22), dtype=complex)
    y_in = y_in.reshape((2, 2) + y_in.shape[1:])
    v_tail = np.array(np.broadcast_arrays(t1, t2), dtype=complex)
    return PairResponse(freq_hz=f, h=h, y_in=y_in, v_tail=v_tail)


def split(mean: ArrayLike, rel_mismatch: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Per-side values from a mean and a relative mismatch with the board-config convention (each side moves half):
    ``X1 = X (1 - d/2)``, ``X2 = X (1 + d/2)``, so ``X2 - X1 = d X``."""
    m, d = np.asarray(mean, dtype=float), np.asarray(rel_mismatch, dtype=float)
    return m * (1.0 - d / 2.0), m * (1.0 + d / 2.0)


def cascode_output_resistance(gm2: ArrayLike, r_o1: ArrayLike, r_o2: ArrayLike, r_pi2: ArrayLike = INF) -> np.ndarray:
    """Output resistance (Ohm) looking into a cascode's top, the lower device's ``r_o1`` at its source:
    ``R_out = r_o2 + (1 + g_m2 r_o2)(r_o1 || r_pi2)``; for MOS (``r_pi2 = inf``)
    ``r_o1 + r_o2 + g_m2 r_o1 r_o2 ~ g_m r_o^2`` (Razavi §3.5, Gray-Meyer §3.4;
    docs/reference/measurement-methods.md §6)."""
    r_low = _inv(_inv(r_o1) + _inv(r_pi2))
    out: np.ndarray = np.asarray(r_o2) + (1.0 + np.asarray(gm2) * np.asarray(r_o2)) * r_low
    return out


def corner_hz(r: ArrayLike, c: ArrayLike) -> np.ndarray:
    """RC corner ``1/(2 pi R C)`` in Hz (inf when R or C is 0): the tail zero ``f_z = 1/(2 pi R_SS C_T)``
    (docs/reference/measurement-methods.md §4, §6) and the load pole ``1/(2 pi (R_D||r_o) C_L)`` (§6)."""
    return _inv(2.0 * np.pi * np.asarray(r) * np.asarray(c))
