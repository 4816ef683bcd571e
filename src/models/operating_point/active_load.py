"""Operating point of a pair with a current-mirror load (source text fig. 5-10).

Side 1 feeds the diode-connected mirror device (Q3/M3, node "mirror"), side 2 the output; the mirror output
device (Q4/M4) sources into the output and R1 ties the output to ``v_return``. The output level follows from the
current balance at the output node, ``I_C4 - I_C2 = (V_o2 - v_return)/R1``, which falls monotonically as the
output rises: a bracketed root over the supplies +/- 1 V, each trial level a full tail solve.
"""

from __future__ import annotations

from dataclasses import dataclass

from scipy.optimize import brentq

from ..pair_circuit import CurrentMirror, DiffPair, NortonTail
from .budget import evaluation_budget
from .device_law import DeviceLaw, device_law
from .results import MirrorOperatingPoint, PairOperatingPoint, region_warnings
from .side import SideSpec, SideState, Top, side_point, side_specs
from .tail import solve_tail


@dataclass(frozen=True)
class _Balance:
    """The circuit at one trial output level: the current balance at the output (A, ``I_C4 - I_C2 - I_R1``),
    the tail node (V), both sides, the mirror's V_EB (V) and its output device's current (A)."""

    residual: float
    v_t: float
    states: tuple[SideState, SideState]
    v_m: float
    i4: float


def _held_at(v: float) -> Top:
    """A top node held at ``v`` (V) whatever the side draws: output 2 at a trial level."""
    def top(i: float) -> float:
        return v
    return top


class _OutputNode:
    """The current balance at output 2 as a function of its level. The tail node barely moves with the output,
    so each tail solve starts from the last one's result."""

    def __init__(self, specs: tuple[SideSpec, SideSpec], tail: NortonTail, load: CurrentMirror,
                 mirror: DeviceLaw) -> None:
        self.specs, self.tail, self.load, self.mirror = specs, tail, load, mirror
        self._last_v_t: float | None = None

    def _diode_node(self, i: float) -> float:
        """Mirror node (V) when side 1 draws ``i`` (A) from it."""
        return self.load.v_cc - self.mirror.mirror_ctrl(i)

    def balance(self, v_o2: float) -> _Balance:
        """The circuit with output 2 at ``v_o2`` (V)."""
        v_t, states = solve_tail(self.specs, (self._diode_node, _held_at(v_o2)), self.tail, guess=self._last_v_t)
        self._last_v_t = v_t
        v_m = self.mirror.mirror_ctrl(states[0].i_top)
        i4 = self.mirror.current(v_m, self.load.v_cc - v_o2)
        return _Balance(i4 - states[1].i_top - self.load.r_out_current(v_o2), v_t, states, v_m, i4)


def _output_level(node: _OutputNode, lo: float, hi: float) -> tuple[float, list[str]]:
    """Output level (V) in ``[lo, hi]`` where the currents balance, and a note when it is pinned at an end of the
    range because no forward-active level exists."""
    r_lo, r_hi = node.balance(lo).residual, node.balance(hi).residual
    if r_lo <= 0:
        return lo, [f"the output has no forward-active DC level: it is pulled below {lo:g} V (the pair device on "
                    "side 2 saturates)"]
    if r_hi >= 0:
        return hi, [f"the output has no forward-active DC level: it is pulled above {hi:g} V (the mirror output "
                    "device saturates)"]
    return float(brentq(lambda v: node.balance(v).residual, lo, hi, xtol=1e-13, rtol=1e-15, maxiter=200)), []


def _mirror_point(law: DeviceLaw, load: CurrentMirror, v_m: float, i4: float, v_o2: float) -> MirrorOperatingPoint:
    """The mirror at the solution: diode device at ``V_EC = V_EB = v_m``, output device at ``V_EC = v_cc - v_o2``."""
    p = law.prefix
    i3 = law.current(v_m, v_m)
    return MirrorOperatingPoint(
        v_node=load.v_cc - v_m,
        diode=law.point(f"{p}3", i3, v_m, v_m),
        output=law.point(f"{p}4", i4, v_m, load.v_cc - v_o2),
        i_r_out=load.r_out_current(v_o2),
    )


def active_load_operating_point(pair: DiffPair, tail: NortonTail, load: CurrentMirror, *,
                                v_in: tuple[float, float]) -> PairOperatingPoint:
    """Operating point of ``pair`` fed by ``tail`` with the current-mirror load ``load``, input pins at ``v_in`` (V).

    The output level follows from the current balance ``I_C4 - I_C2 = (V_o2 - v_return)/R1`` (module
    docstring); when it has no forward-active solution the output is pinned at the end of the searched range
    (a supply +/- 1 V) and the saturated device is flagged.
    """
    specs = side_specs(pair, v_in)
    node = _OutputNode(specs, tail, load, device_law(load.device, pair.vt))
    with evaluation_budget():
        v_o2, notes = _output_level(node, tail.v_ee - 1.0, load.v_cc + 1.0)
        b = node.balance(v_o2)
    sides = (side_point(specs[0], b.states[0], 1), side_point(specs[1], b.states[1], 2))
    mop = _mirror_point(node.mirror, load, b.v_m, b.i4, v_o2)
    kind = "bjt" if specs[0].law.is_bjt else "mos"
    return PairOperatingPoint(kind, "active", pair.vt, tail.dc_current(b.v_t), b.v_t, sides, mop,
                              tuple(notes + region_warnings(sides, mop, b.v_t, tail.v_ee)))
