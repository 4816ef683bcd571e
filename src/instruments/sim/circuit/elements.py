"""The element records of a netlist under construction, shared by the netlist builder, the MNA stamping and
the SPICE deck writer. Node names are the netlist's (aliases already resolved); values are SI."""

from __future__ import annotations

from dataclasses import dataclass, field

from .device_equations import BJTModel, MOSModel
from .devices import DeviceModel


@dataclass(frozen=True)
class Passive:
    """A resistor (``value`` Ohm) or capacitor (``value`` F) between nodes a and b; ``name`` optional."""

    a: str
    b: str
    value: float
    name: str | None = None


@dataclass(frozen=True)
class CurrentSource:
    """Independent current source: ``dc_a + Re(ac_a e^{j w t})`` (A) flows from p through it into n."""

    p: str
    n: str
    dc_a: float
    ac_a: complex
    name: str | None = None


@dataclass(frozen=True)
class Branch:
    """An element with an MNA branch-current row; its current flows from p through it to n.

    ``kind`` ``"V"``: ``V_p - V_n = value + Re(ac e^{j w t}) + r_series_ohm I`` (value V); ``"L"``: an
    inductor of ``value`` H; ``"E"``: ``V_p - V_n = value (V_cp - V_cn)`` with ``ctrl = (cp, cn)``;
    ``"H"``: ``V_p - V_n = value I_ctrl`` (value Ohm) with ``ctrl = (control branch name,)``.
    """

    kind: str
    name: str
    p: str
    n: str
    value: float
    ac: complex = 0j
    r_series_ohm: float = 0.0
    ctrl: tuple[str, ...] = ()


@dataclass(frozen=True)
class ControlledCurrent:
    """A controlled current source from p through it into n: ``kind`` ``"G"``, current ``value (V_cp - V_cn)``
    (value S, ``ctrl = (cp, cn)``), or ``"F"``, current ``value I_ctrl`` (``ctrl = (branch name,)``)."""

    kind: str
    p: str
    n: str
    value: float
    ctrl: tuple[str, ...]
    name: str | None = None


@dataclass(frozen=True)
class DeviceCard:
    """A semiconductor device: ``nodes`` its external nodes in SPICE order (C B E; A K; D G S [B]),
    ``terminals`` the nodes its instance sees (internal nodes behind the series resistances ``series``,
    each ``(external node, internal node, Ohm)``; a MOSFET's bulk is its source when ``nodes`` has none)."""

    name: str
    kind: str  # "Q", "D" or "M"
    nodes: tuple[str, ...]
    terminals: tuple[str, ...]
    model: DeviceModel
    series: tuple[tuple[str, str, float], ...] = ()


@dataclass
class Parts:
    """Every element of a netlist, each list in the order the elements were added."""

    resistors: list[Passive] = field(default_factory=list)
    capacitors: list[Passive] = field(default_factory=list)
    isources: list[CurrentSource] = field(default_factory=list)
    branches: list[Branch] = field(default_factory=list)
    controlled: list[ControlledCurrent] = field(default_factory=list)
    devices: list[DeviceCard] = field(default_factory=list)

    def uses_only_original_elements(self) -> bool:
        """True when every element is one the engine's first version had (R, C, DC current sources, voltage
        sources, Ebers-Moll BJTs, square-law MOSFETs with the bulk on the source and no capacitance)."""
        plain_mos = all(d.model.is_square_law and len(d.nodes) == 3 and d.model.cgso_f == d.model.cgdo_f
                        == d.model.cgbo_f == 0.0 for d in self.devices if isinstance(d.model, MOSModel))
        return (plain_mos and not self.controlled and all(b.kind == "V" for b in self.branches)
                and all(s.ac_a == 0 for s in self.isources)
                and all(isinstance(d.model, (BJTModel, MOSModel)) for d in self.devices))
