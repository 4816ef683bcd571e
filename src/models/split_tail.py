"""The split tail of source text fig. 5-9: a current sink at each emitter and one resistor ``R_B`` between the emitters,
instead of one tail source with ``R_B/2`` in each emitter (fig. 5-8).

The circuit (npn/nmos pair, SI units): sink k pulls ``I_k`` in parallel with ``Z_s = R_s || 1/(s C_s)`` from emitter
node k to the negative supply ``v_ee``; ``R_B`` joins the two emitter nodes. Those three impedances form a delta
between node 1, node 2 and the sinks' common end; its star equivalent (A. E. Kennelly, "Equivalence of triangles and
three-pointed stars in conducting networks", Electrical World and Engineer 34, 1899; any circuits text, e.g. Hayt,
Kemmerly & Durbin, *Engineering Circuit Analysis*, ch. 5) has an arm ``Z_1`` from each node to a centre and
``Z_3`` from the centre to the common end:

    Z_1 = R_B Z_s/(R_B + 2 Z_s) = 1/(Y_s + 2/R_B),      1/Z_3 = Y_s (2 + R_B Y_s),      Y_s = 1/Z_s

(check by halves: a differential drive sees ``Z_1`` at each node, ``1/(Y_s + 2/R_B)``; a common one sees
``Z_1 + 2 Z_3 = Z_s``). So the pair with a split tail is exactly a pair with ``Z_1`` in each emitter and a tail of
impedance ``Z_3`` at the centre: with ideal sinks (``Y_s = 0``) ``Z_1 = R_B/2`` and ``Z_3`` is infinite, fig. 5-8
with ``R_E = R_B/2``, which is the source text's "identical in performance". With finite sinks both differ:
``Z_1`` is ``R_B/2`` shunted by the sinks, ``Z_3 = Z_s/2 - Z_1/2`` is less than fig. 5-8's ``Z_s/2``, and ``Z_3``
carries a second-order term in ``s`` (the sinks' capacitance sits at the emitters, not at one tail node).

DC: each sink is a Thevenin source ``v_ee - I_k R_s`` behind ``R_s``. Equal sinks (``I_k = I``) make the centre a
Norton tail ``I (2 + R_B/R_s)`` in parallel with ``Z_3`` to ``v_ee``. Unequal sinks add a source in series with each
arm: ``+-(I_1 - I_2) Z_1/2`` (node 1 sits higher when sink 2 pulls more), so the mismatch of the sinks is an
input-referred offset ``(I_2 - I_1) Z_1`` (about ``Delta I R_B/2``) that a single tail source cannot have; the tail
solve of :func:`split_tail_operating_point` puts it in exactly.

Large signal: the sinks and the bridge are linear, so the star is exact at every instant of a swing, not only for
small signals. :func:`star_pair` gives the pair on one Norton tail that the DC-transfer solvers take
(:func:`models.dc_transfer.resistive_pair_dc`): the arm ``Z_1`` as each side's degeneration, the centre's Norton
tail, and each arm's source folded into its device. Using ``R_B/2`` for the arm instead, as a single-tail pair
with the same resistor, leaves out the sinks' shunt of the bridge: ``R_E/Z_s`` (1e-3 with 2 kOhm and 2 MOhm) of
the degeneration, ``R_E/(R_E + r_e)`` of that (0.8e-3 at 50 uA a side) of the gain at every drive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import brentq

from .devices import BjtParams
from .operating_point.budget import evaluation_budget
from .operating_point.errors import OperatingPointError
from .operating_point.results import PairOperatingPoint, region_warnings
from .operating_point.side import SideSpec, SideState, Top, side_point, side_specs, solve_side
from .pair_circuit import DiffPair, NortonTail, ResistorLoads
from .small_signal import Side, Tail


def _admittance(r: ArrayLike, c: ArrayLike, s: ArrayLike) -> np.ndarray:
    """``1/r + s c`` (S), ``1/inf = 0``."""
    with np.errstate(divide="ignore"):
        out: np.ndarray = np.true_divide(1.0, np.asarray(r, dtype=float)) + np.asarray(s) * np.asarray(c)
    return out


def star_arm(y_sink: ArrayLike, r_bridge: float) -> np.ndarray:
    """Arm ``Z_1 = R_B/(2 + R_B Y_s)`` (Ohm) of the star equivalent of two sinks of admittance ``y_sink`` (S) and the
    bridge ``r_bridge`` (Ohm) between them (module docstring; Kennelly's delta-star transform)."""
    out: np.ndarray = r_bridge / (2.0 + r_bridge * np.asarray(y_sink))
    return out


def star_centre_admittance(y_sink: ArrayLike, r_bridge: float) -> np.ndarray:
    """Admittance ``1/Z_3 = Y_s (2 + R_B Y_s)`` (S) from the star's centre to the sinks' common end."""
    y = np.asarray(y_sink)
    out: np.ndarray = y * (2.0 + r_bridge * y)
    return out


def arm_excess(y_sink: ArrayLike, r_bridge: float) -> np.ndarray:
    """``Z_1 - R_B/2 = -R_B^2 Y_s/(2 (2 + R_B Y_s))`` (Ohm): how far the sinks shunt each half of the bridge, written
    without the cancellation of the difference."""
    y = np.asarray(y_sink)
    out: np.ndarray = -(r_bridge**2) * y / (2.0 * (2.0 + r_bridge * y))
    return out


@dataclass(frozen=True)
class SplitTail(Tail):
    """Small-signal split tail for :func:`models.small_signal.pair_response`: ``r`` and ``c`` are the Norton tail's it
    replaces (each sink has ``2 r`` and ``c/2``, so the two together are that tail), ``bridge_r`` (Ohm) joins the
    emitters. Each side's ``r_degen`` must hold half the bridge (plus anything in series with the emitter before
    the sink's node); :meth:`reduced` turns that into the star arm ``Z_1(s)`` and the centre into ``1/Z_3(s)``."""

    bridge_r: float = 0.0

    def sink_admittance(self, s: ArrayLike) -> np.ndarray:
        """Each sink's admittance ``1/(2 r) + s c/2`` (S) at complex frequency ``s`` (rad/s)."""
        return _admittance(2.0 * np.asarray(self.r, dtype=float), np.asarray(self.c) / 2.0, s)

    def reduced(self, s: np.ndarray, side1: Side, side2: Side) -> tuple[Side, Side, np.ndarray]:
        """Sides with ``r_degen + Z_1 - R_B/2`` and the centre's admittance ``1/Z_3`` (module docstring)."""
        y_s = self.sink_admittance(s)
        dz = arm_excess(y_s, self.bridge_r)
        sides = tuple(replace(sd, r_degen=np.asarray(sd.r_degen) + dz) for sd in (side1, side2))
        return sides[0], sides[1], star_centre_admittance(y_s, self.bridge_r)


@dataclass(frozen=True)
class SplitSinks:
    """The split tail at DC: sink currents ``currents`` (A; sink 1 at side 1's emitter), each in parallel with
    ``r_sink`` (Ohm) to ``v_ee`` (V), and ``bridge_r`` (Ohm) between the emitters."""

    currents: tuple[float, float]
    r_sink: float
    bridge_r: float
    v_ee: float = 0.0

    def star(self) -> tuple[float, NortonTail, tuple[float, float]]:
        """The DC star equivalent: ``Z_1 - R_B/2`` (Ohm, to add to each side's half bridge), the Norton tail at the
        centre, and the source in series with each arm (V) from the sinks' mismatch (module docstring)."""
        y = 0.0 if math.isinf(self.r_sink) else 1.0 / self.r_sink
        z1 = float(star_arm(y, self.bridge_r))
        y3 = float(star_centre_admittance(y, self.bridge_r))
        i_mean = sum(self.currents) / 2.0
        o1 = (self.currents[1] - self.currents[0]) * z1 / 2.0
        tail = NortonTail(i_mean * (2.0 + self.bridge_r * y), math.inf if y3 == 0.0 else 1.0 / y3, self.v_ee)
        return float(arm_excess(y, self.bridge_r)), tail, (o1, -o1)


def fold_arm_sources(pair: DiffPair, offsets: tuple[float, float]) -> DiffPair:
    """``pair`` with a voltage source ``offsets[k]`` (V) in series with side k's emitter/source arm (positive: it
    raises the emitter/source node by ``o_k``) folded into its device: a BJT's ``I_S e^{-o_k/V_T}`` (``V_T =
    pair.vt``), a MOS device's ``V_th + o_k``. Exact for the input loop (Kirchhoff's voltage law: ``V_BE = V_B -
    V_E`` is lower by ``o_k``, the same as ``I_S e^{V_BE/V_T}`` with I_S scaled, the base current with it) and for
    a BJT's Early factor, which depends on ``V_BC`` (neither node moves); a MOS device's ``lambda V_DS`` is then
    taken ``o_k`` off (``lambda o_k``: 2e-5 relative for 0.02/V and 1 mV)."""
    devices = tuple(
        d if o == 0.0 else replace(d, i_s=d.i_s * math.exp(-o / pair.vt)) if isinstance(d, BjtParams)
        else replace(d, vth=d.vth + o)
        for d, o in zip(pair.devices, offsets))
    return replace(pair, devices=(devices[0], devices[1]))


def star_pair(pair: DiffPair, sinks: SplitSinks) -> tuple[DiffPair, NortonTail]:
    """The pair on the split tail ``sinks`` as a pair on one Norton tail, for the large-signal DC solvers (module
    docstring; ``R_s = sinks.r_sink``, each sink's resistor): ``pair.r_degen`` (half the bridge, plus anything in
    series before the sink's node) with the bridge's half moved to the star arm ``Z_1 = R_B/(2 + R_B/R_s) =
    (R_B/2) || R_s``, the Norton tail ``I (2 + R_B/R_s)`` in parallel with ``Z_3 = 1/(Y_s (2 + R_B Y_s))`` at the
    centre (``I`` the sinks' mean source current), and the sinks' mismatch as the source ``+-(I_1 - I_2) Z_1/2``
    in each arm, folded into the devices (:func:`fold_arm_sources`). Kennelly's delta-star transform of the
    linear sinks and bridge: exact at every input level."""
    dz, tail, offsets = sinks.star()
    return fold_arm_sources(replace(pair, r_degen=pair.r_degen + dz), offsets), tail


def _resistor(r: float, v_return: float) -> Top:
    def top(i: float) -> float:
        return v_return - r * i
    return top


def _solve_centre(specs: tuple[SideSpec, SideSpec], tops: tuple[Top, Top], tail: NortonTail,
                  offsets: tuple[float, float]) -> tuple[float, tuple[SideState, SideState]]:
    """Star centre voltage (V) where both sides, each at ``centre + offset``, carry the centre's tail current: the
    monotone equation of :func:`models.operating_point.tail.solve_tail` with a source in each arm."""
    def g(v_c: float) -> float:
        i = tail.dc_current(v_c)
        return sum(solve_side(sp, v_c + o, t, i).i_e for sp, t, o in zip(specs, tops, offsets)) - i

    spread = max(abs(o) for o in offsets)
    lo = min(sp.v_in for sp in specs) - 100.0 - spread
    hi = max(sp.v_in for sp in specs) + 2.0 + spread
    if not g(lo) > 0 > g(hi):
        raise OperatingPointError("no star-centre voltage carries the split tail's current (check the sinks and "
                                  "the bridge resistor)")
    v_c = float(brentq(g, lo, hi, xtol=1e-13, rtol=1e-15, maxiter=200))
    i = tail.dc_current(v_c)
    states = tuple(solve_side(sp, v_c + o, t, i) for sp, t, o in zip(specs, tops, offsets))
    return v_c, (states[0], states[1])


def split_tail_operating_point(pair: DiffPair, sinks: SplitSinks, load: ResistorLoads, *,
                               v_in: tuple[float, float]) -> PairOperatingPoint:
    """Operating point of ``pair`` (its ``r_degen`` half the bridge) on the split tail ``sinks`` with resistive
    loads, input pins at ``v_in`` (V). Exact through the star equivalent with the mismatch sources (module
    docstring); ``i_tail`` is the sinks' total current and ``v_tail`` the bridge's midpoint, the mean of the two
    emitter nodes (where the simulated board's ``tail`` node sits)."""
    dz, tail, offsets = sinks.star()
    specs = side_specs(replace(pair, r_degen=pair.r_degen + dz), v_in)
    tops = (_resistor(load.r[0], load.v_return), _resistor(load.r[1], load.v_return))
    with evaluation_budget():
        v_c, states = _solve_centre(specs, tops, tail, offsets)
    sides = (side_point(specs[0], states[0], 1), side_point(specs[1], states[1], 2))
    z1 = sinks.bridge_r / 2.0 + dz
    nodes = [v_c + o + z1 * st.i_e for o, st in zip(offsets, states)]
    kind = "bjt" if specs[0].law.is_bjt else "mos"
    warnings = region_warnings(sides, None, min(nodes), sinks.v_ee)
    return PairOperatingPoint(kind, "resistive", pair.vt, tail.dc_current(v_c), sum(nodes) / 2.0, sides, None,
                              tuple(warnings))
