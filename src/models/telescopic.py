"""Operating point of a pair with a cascoded current-mirror load; with cascodes on the pair too, the telescopic
stage (Razavi, *Design of Analog CMOS Integrated Circuits*, ch. 9, its single-ended form).

The pair side of the circuit is that of :mod:`models.operating_point` (series resistors, degeneration, Norton
tail, the pair's own cascode); the load is the cascoded mirror of :mod:`models.cascoded_mirror`, and output 2 is
tied by ``r_out`` (R1) to ``v_return`` as in the simple active load. The output level follows from the current
balance at out2, ``I_C8 - I_top2 = (V_o2 - v_return)/R1``, which falls as the output rises (the mirror's
output current falls and the pair's rises with it, each through its output resistance, and R1's grows): a
bracketed root over the supplies +- 1 V, each trial level a full tail solve in which side 1's load is the
mirror's input node (:func:`models.cascoded_mirror.mirror_input`).

The output resistance seen at out2 is the two cascodes' in parallel, each ``~ g_m r_o^2`` (Razavi §9.2;
Gray-Meyer §3.4), so without R1 the output level would be set by the devices' mismatch and Early effects alone:
R1 fixes it, as in source text fig. 5-10.
"""

from __future__ import annotations

from dataclasses import dataclass

from scipy.optimize import brentq

from .cascoded_mirror import (
    CascodedMirror,
    CascodedMirrorDevices,
    MirrorInput,
    MirrorOutput,
    mirror_input,
    mirror_output,
)
from .operating_point.budget import evaluation_budget
from .operating_point.device_law import DeviceLaw, device_law
from .operating_point.results import (
    DeviceOperatingPoint,
    MirrorOperatingPoint,
    PairOperatingPoint,
    region_warnings,
)
from .operating_point.side import SideSpec, SideState, side_point, side_specs
from .operating_point.tail import solve_tail
from .pair_circuit import DiffPair, NortonTail


@dataclass(frozen=True)
class CascodedMirrorOperatingPoint(MirrorOperatingPoint):
    """The cascoded mirror at DC: :class:`~models.operating_point.MirrorOperatingPoint` (``v_node`` is out1,
    ``diode`` device 3, ``output`` device 4, ``i_r_out`` the current in R1) with the cascode devices 7 and 8 and
    the nodes between them and the mirror devices, ``v_x3`` and ``v_x4`` (V)."""

    diode_cascode: DeviceOperatingPoint
    output_cascode: DeviceOperatingPoint
    v_x3: float
    v_x4: float

    @property
    def devices(self) -> CascodedMirrorDevices:
        """The four devices, as :func:`models.cascoded_mirror.cascoded_mirror_load` takes them."""
        return CascodedMirrorDevices(self.diode, self.diode_cascode, self.output, self.output_cascode)


@dataclass(frozen=True)
class TelescopicOperatingPoint(PairOperatingPoint):
    """A :class:`~models.operating_point.PairOperatingPoint` whose mirror is a
    :class:`CascodedMirrorOperatingPoint`: :meth:`devices` lists the mirror's cascodes too."""

    def devices(self) -> list[DeviceOperatingPoint]:
        out = super().devices()
        if isinstance(self.mirror, CascodedMirrorOperatingPoint):
            out += [self.mirror.diode_cascode, self.mirror.output_cascode]
        return out


def device_warnings(devs: list[DeviceOperatingPoint]) -> list[str]:
    """One sentence per device outside its active region (the wording of
    :func:`models.operating_point.results.region_warnings`)."""
    out = []
    for d in devs:
        if d.region == "saturated":
            out.append(f"{d.name} is saturated: V_CE = {d.v_out:.3f} V, V_BE = {d.v_ctrl:.3f} V")
        elif d.region == "triode":
            out.append(f"{d.name} is in triode: V_DS = {d.v_out:.3f} V < V_ov = {d.v_ov:.3f} V")
        elif d.region == "cutoff":
            out.append(f"{d.name} is cut off")
    return out


@dataclass(frozen=True)
class _Balance:
    """The circuit at one trial output level: the balance at out2 (A), the tail node (V), both sides and both
    halves of the mirror."""

    residual: float
    v_t: float
    states: tuple[SideState, SideState]
    inp: MirrorInput
    out: MirrorOutput


class _OutputNode:
    """The current balance at out2 as a function of its level (each tail solve starts from the last one's)."""

    def __init__(self, specs: tuple[SideSpec, SideSpec], tail: NortonTail, load: CascodedMirror,
                 law: DeviceLaw) -> None:
        self.specs, self.tail, self.load, self.law = specs, tail, load, law
        self._last_v_t: float | None = None

    def _diode_node(self, i: float) -> float:
        return mirror_input(self.law, self.load, i).v_node

    def balance(self, v_o2: float) -> _Balance:
        def held(i: float) -> float:
            return v_o2

        v_t, states = solve_tail(self.specs, (self._diode_node, held), self.tail, guess=self._last_v_t)
        self._last_v_t = v_t
        inp = mirror_input(self.law, self.load, states[0].i_top)
        out = mirror_output(self.law, self.load, inp.u3, v_o2)
        return _Balance(out.i8 - states[1].i_top - self.load.r_out_current(v_o2), v_t, states, inp, out)


def _output_level(node: _OutputNode, lo: float, hi: float) -> tuple[float, list[str]]:
    """Output level (V) in ``[lo, hi]`` where the currents balance, or the end of the range it is pinned at
    (with a note) when no level in between balances them."""
    if node.balance(lo).residual <= 0:
        return lo, [f"the output has no active DC level: it is pulled below {lo:g} V"]
    if node.balance(hi).residual >= 0:
        return hi, [f"the output has no active DC level: it is pulled above {hi:g} V"]
    return float(brentq(lambda v: node.balance(v).residual, lo, hi, xtol=1e-13, rtol=1e-15, maxiter=200)), []


def _mirror_point(law: DeviceLaw, load: CascodedMirror, b: _Balance, v_o2: float) -> CascodedMirrorOperatingPoint:
    """The four mirror devices at the solution (names 3, 7, 4, 8 after the simulated board's)."""
    p, inp, out = law.prefix, b.inp, b.out
    return CascodedMirrorOperatingPoint(
        v_node=inp.v_node,
        diode=law.point(f"{p}3", inp.i3, inp.u3, load.v_cc - inp.v_x),
        output=law.point(f"{p}4", out.i4, inp.u3, load.v_cc - out.v_x),
        i_r_out=load.r_out_current(v_o2),
        diode_cascode=law.point(f"{p}7", inp.i7, inp.u7, inp.v_x - inp.v_node),
        output_cascode=law.point(f"{p}8", out.i8, out.u8, out.v_x - v_o2),
        v_x3=inp.v_x, v_x4=out.v_x,
    )


def cascoded_mirror_operating_point(pair: DiffPair, tail: NortonTail, load: CascodedMirror, *,
                                    v_in: tuple[float, float]) -> TelescopicOperatingPoint:
    """Operating point of ``pair`` fed by ``tail`` with the cascoded-mirror load ``load``, input pins at ``v_in``
    (V); the output level from the balance at out2 (module docstring), pinned at a supply +- 1 V with a note
    when no active level exists. Raises :class:`~models.operating_point.OperatingPointError` where a solve fails."""
    specs = side_specs(pair, v_in)
    node = _OutputNode(specs, tail, load, device_law(load.device, pair.vt))
    with evaluation_budget():
        v_o2, notes = _output_level(node, tail.v_ee - 1.0, load.v_cc + 1.0)
        b = node.balance(v_o2)
    sides = (side_point(specs[0], b.states[0], 1), side_point(specs[1], b.states[1], 2))
    mop = _mirror_point(node.law, load, b, v_o2)
    kind = "bjt" if specs[0].law.is_bjt else "mos"
    warnings = notes + region_warnings(sides, mop, b.v_t, tail.v_ee)
    warnings += device_warnings([mop.diode_cascode, mop.output_cascode])
    return TelescopicOperatingPoint(kind, "active", pair.vt, tail.dc_current(b.v_t), b.v_t, sides, mop,
                                    tuple(warnings))
