"""What an operating-point solve returns: every device at its operating point, the node voltages of each side,
the mirror, and one warning per device outside the region the small-signal model assumes.

Active-region tests: a BJT is forward-active while ``V_BC < 0.4 V`` (Sedra & Smith put the edge of saturation
at a forward base-collector voltage of about 0.4 to 0.5 V); a MOS transistor is in saturation while
``V_DS >= V_ov``. ``headroom_v`` is how far each device is from that edge.
"""

from __future__ import annotations

from dataclasses import dataclass

BJT_SATURATION_VBC_V = 0.4
"""Forward base-collector voltage at which a BJT is taken to leave the forward-active region, V."""

TAIL_COMPLIANCE_V = 0.3
"""Least voltage across a transistor tail current source for it to stay a current source, V."""


@dataclass(frozen=True)
class DeviceOperatingPoint:
    """One transistor at its operating point. Voltages and currents are magnitudes (V_EB, V_EC for pnp).

    ``region`` is ``"active"`` (forward-active BJT or saturated-channel MOS: the region the small-signal model
    assumes), ``"saturated"`` (BJT), ``"triode"`` (MOS) or ``"cutoff"``; ``headroom_v`` is ``V_CB + 0.4 V``
    (BJT) or ``V_DS - V_ov`` (MOS), negative outside the active region.
    """

    name: str
    kind: str
    i_out: float
    i_in: float
    v_ctrl: float
    v_out: float
    gm: float
    r_o: float
    r_pi: float
    beta: float
    alpha: float
    r_e: float
    v_ov: float
    region: str
    headroom_v: float


@dataclass(frozen=True)
class SideOperatingPoint:
    """One half of the pair: node voltages (V) and its devices."""

    v_in: float
    v_base: float
    v_emitter: float
    v_collector: float
    v_output: float
    i_emitter: float
    device: DeviceOperatingPoint
    cascode: DeviceOperatingPoint | None


@dataclass(frozen=True)
class MirrorOperatingPoint:
    """The current-mirror load: the diode node voltage (V), both devices, and the current in R1 (A, out of
    the output node towards ``v_return``)."""

    v_node: float
    diode: DeviceOperatingPoint
    output: DeviceOperatingPoint
    i_r_out: float


@dataclass(frozen=True)
class PairOperatingPoint:
    """The whole pair at DC. ``i_tail`` is the DC tail current at the solution (the Norton source's
    ``i_tail + (v_tail - v_ee)/r_tail``, A), ``v_tail`` the tail node (V). ``warnings`` lists every device outside
    its active region and a tail source without compliance, one sentence each."""

    kind: str
    load: str
    vt: float
    i_tail: float
    v_tail: float
    sides: tuple[SideOperatingPoint, SideOperatingPoint]
    mirror: MirrorOperatingPoint | None
    warnings: tuple[str, ...]

    @property
    def vo1(self) -> float:
        """DC level of output 1 (collector/drain node of side 1, the mirror node for an active load), V."""
        return self.sides[0].v_output

    @property
    def vo2(self) -> float:
        """DC level of output 2, V."""
        return self.sides[1].v_output

    @property
    def vod(self) -> float:
        """DC differential output ``vo1 - vo2`` at zero differential input (the output offset), V."""
        return self.vo1 - self.vo2

    def devices(self) -> list[DeviceOperatingPoint]:
        """Every transistor: the pair, the cascodes, the mirror."""
        out = []
        for s in self.sides:
            out.append(s.device)
            if s.cascode is not None:
                out.append(s.cascode)
        if self.mirror is not None:
            out += [self.mirror.diode, self.mirror.output]
        return out

    @property
    def all_active(self) -> bool:
        """True when every device is in the region the small-signal model assumes."""
        return all(d.region == "active" for d in self.devices())


def region_warnings(sides: tuple[SideOperatingPoint, SideOperatingPoint], mirror: MirrorOperatingPoint | None,
                    v_tail: float, v_ee: float) -> list[str]:
    """One sentence per device outside its active region (module docstring), and one when the tail node sits
    less than :data:`TAIL_COMPLIANCE_V` above the negative supply ``v_ee`` (V)."""
    out = []
    devs = [d for s in sides for d in (s.device, s.cascode) if d is not None]
    if mirror is not None:
        devs += [mirror.diode, mirror.output]
    for d in devs:
        if d.region == "saturated":
            out.append(f"{d.name} is saturated: V_CE = {d.v_out:.3f} V, V_BE = {d.v_ctrl:.3f} V "
                       f"(forward-active needs V_BC < {BJT_SATURATION_VBC_V:g} V); the load drops too much")
        elif d.region == "triode":
            out.append(f"{d.name} is in triode: V_DS = {d.v_out:.3f} V < V_ov = {d.v_ov:.3f} V; "
                       "the load drops too much")
        elif d.region == "cutoff":
            out.append(f"{d.name} is cut off")
    if v_tail - v_ee < TAIL_COMPLIANCE_V:
        out.append(f"the tail node sits {v_tail - v_ee:.3f} V above the negative supply; a transistor current "
                   f"source needs about {TAIL_COMPLIANCE_V:g} V")
    return out
