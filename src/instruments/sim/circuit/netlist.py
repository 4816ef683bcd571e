"""A circuit as a netlist: named nodes, linear elements, sources and semiconductor devices, compiled to MNA
matrices.

Modified nodal analysis (Ho, Ruehli, Brennan, IEEE Trans. CAS 22(6), 1975): the unknowns are the node
voltages (V) and then one branch current per voltage source, inductor, VCVS and CCVS (A); every KCL row
sums the currents *leaving* its node. :meth:`Netlist.compile` stamps the conductance matrix ``G``, the
capacitance matrix ``C`` and the DC and AC excitation vectors (:mod:`.stamps`), and instantiates the
devices. Sign conventions are SPICE's: a source's or controlled source's current flows from its first
node through it to its second.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .device_equations import BJTModel, MOSModel
from .diode_equations import DiodeModel
from .elements import Branch, ControlledCurrent, CurrentSource, DeviceCard, Parts, Passive
from .gummel_poon import GummelPoonModel
from .spice_deck import SpiceDeck, write_deck
from .stamps import GMIN_S, compile_parts
from .system import MNASystem

GROUND = "0"
__all__ = ["GMIN_S", "GROUND", "Netlist"]


@dataclass
class Netlist:
    """A circuit under construction. Node ``"0"`` is ground; nodes are created on first use.

    Element values are SI (Ohm, F, H, V, A, S). :meth:`alias` makes a second name for an existing node (a
    wire). Devices with series resistances get internal nodes named ``"<device>#<terminal>"``.
    :meth:`compile` freezes the netlist into an :class:`MNASystem`; :meth:`to_spice` writes it as an
    ngspice deck. ``refine_dc`` sets whether the DC solution is refined by full-MNA Newton steps
    (:func:`.dc.refine`); None (default) refines unless the netlist uses only the elements of the engine's
    first version, whose numbers are kept as they were.
    """

    refine_dc: bool | None = None
    _nodes: list[str] = field(default_factory=list)
    _alias: dict[str, str] = field(default_factory=dict)
    _parts: Parts = field(default_factory=Parts)

    def _use(self, node: str) -> str:
        node = self._alias.get(node, node)
        if node != GROUND and node not in self._nodes:
            self._nodes.append(node)
        return node

    def _internal(self, node: str) -> str:
        if node in self._nodes or node in self._alias:
            raise ValueError(f"internal node {node!r} already exists as a node")
        return self._use(node)

    def alias(self, name: str, node: str) -> None:
        """Make ``name`` another name of ``node`` (they are one electrical node)."""
        if name in self._nodes or name in self._alias:
            raise ValueError(f"node {name!r} already exists")
        self._alias[name] = self._use(node)

    def resistor(self, a: str, b: str, r_ohm: float, name: str | None = None) -> None:
        """Resistor of ``r_ohm`` (> 0) between nodes a and b."""
        if not r_ohm > 0.0:
            raise ValueError(f"resistor {a}-{b}: resistance must be > 0, got {r_ohm!r}")
        self._parts.resistors.append(Passive(self._use(a), self._use(b), float(r_ohm), name))

    def capacitor(self, a: str, b: str, c_f: float, name: str | None = None) -> None:
        """Linear capacitor of ``c_f`` (>= 0; 0 is skipped) between nodes a and b."""
        if c_f < 0.0:
            raise ValueError(f"capacitor {a}-{b}: capacitance must be >= 0, got {c_f!r}")
        if c_f > 0.0:
            self._parts.capacitors.append(Passive(self._use(a), self._use(b), float(c_f), name))

    def inductor(self, name: str, a: str, b: str, l_h: float) -> None:
        """Inductor of ``l_h`` (> 0) between nodes a and b, with a branch row (a short at DC); its current
        flows from a through it to b and can control a CCCS or CCVS."""
        if not l_h > 0.0:
            raise ValueError(f"inductor {name}: inductance must be > 0, got {l_h!r}")
        self._branch(Branch("L", name, self._use(a), self._use(b), float(l_h)))

    def isource(self, p: str, n: str, i_a: float, ac_a: complex = 0j, name: str | None = None) -> None:
        """Current source: ``i_a + Re(ac_a e^{j w t})`` (A, ``ac_a`` a complex peak phasor) flows from node p
        through the source into node n."""
        self._parts.isources.append(CurrentSource(self._use(p), self._use(n), float(i_a), complex(ac_a), name))

    def vsource(self, name: str, p: str, n: str, dc_v: float, ac_v: complex = 0j, r_series_ohm: float = 0.0) -> None:
        """Voltage source with EMF ``dc_v + Re(ac_v e^{j w t})`` from n to p and series resistance (Ohm).

        ``ac_v`` is a complex peak phasor at the analysis frequency. Its MNA branch current flows from p
        through the source to n, so ``V_p - V_n = EMF + r_series_ohm * I``.
        """
        if r_series_ohm < 0.0:
            raise ValueError(f"source {name}: series resistance must be >= 0")
        self._branch(Branch("V", name, self._use(p), self._use(n), float(dc_v), complex(ac_v), float(r_series_ohm)))

    def vcvs(self, name: str, p: str, n: str, cp: str, cn: str, gain: float) -> None:
        """Voltage-controlled voltage source (SPICE E): ``V_p - V_n = gain (V_cp - V_cn)``."""
        self._branch(Branch("E", name, self._use(p), self._use(n), float(gain),
                            ctrl=(self._use(cp), self._use(cn))))

    def ccvs(self, name: str, p: str, n: str, control: str, r_ohm: float) -> None:
        """Current-controlled voltage source (SPICE H): ``V_p - V_n = r_ohm I(control)``, ``control`` the name
        of a voltage source, inductor, VCVS or CCVS (may be added later; resolved by :meth:`compile`)."""
        self._branch(Branch("H", name, self._use(p), self._use(n), float(r_ohm), ctrl=(control,)))

    def vccs(self, p: str, n: str, cp: str, cn: str, gm_s: float, name: str | None = None) -> None:
        """Voltage-controlled current source (SPICE G): ``gm_s (V_cp - V_cn)`` (A) flows from p through the
        source into n."""
        self._parts.controlled.append(ControlledCurrent("G", self._use(p), self._use(n), float(gm_s),
                                                        (self._use(cp), self._use(cn)), name))

    def cccs(self, p: str, n: str, control: str, gain: float, name: str | None = None) -> None:
        """Current-controlled current source (SPICE F): ``gain I(control)`` flows from p through the source
        into n; ``control`` as for :meth:`ccvs`."""
        self._parts.controlled.append(ControlledCurrent("F", self._use(p), self._use(n), float(gain),
                                                        (control,), name))

    def _branch(self, br: Branch) -> None:
        if any(b.name == br.name for b in self._parts.branches):
            raise ValueError(f"source {br.name!r} already exists")
        self._parts.branches.append(br)

    def bjt(self, name: str, c: str, b: str, e: str, model: BJTModel | GummelPoonModel) -> None:
        """Bipolar transistor (collector, base, emitter). A Gummel-Poon model's nonzero RC, RB, RE become
        resistors to internal nodes ``<name>#c``, ``#b``, ``#e``."""
        nodes = (self._use(c), self._use(b), self._use(e))
        series: list[tuple[str, str, float]] = []
        terms = list(nodes)
        if isinstance(model, GummelPoonModel):
            for k, (tag, r) in enumerate((("c", model.rc_ohm), ("b", model.rb_ohm), ("e", model.re_ohm))):
                if r > 0.0:
                    terms[k] = self._internal(f"{name}#{tag}")
                    series.append((nodes[k], terms[k], r))
        self._add_device(DeviceCard(name, "Q", nodes, tuple(terms), model, tuple(series)))

    def diode(self, name: str, anode: str, cathode: str, model: DiodeModel) -> None:
        """Junction diode; a nonzero RS is a resistor from the anode to the internal node ``<name>#a``."""
        nodes = (self._use(anode), self._use(cathode))
        if model.rs_ohm > 0.0:
            inner = self._internal(f"{name}#a")
            card = DeviceCard(name, "D", nodes, (inner, nodes[1]), model, ((nodes[0], inner, model.rs_ohm),))
        else:
            card = DeviceCard(name, "D", nodes, nodes, model)
        self._add_device(card)

    def mos(self, name: str, d: str, g: str, s: str, model: MOSModel, b: str | None = None) -> None:
        """MOS transistor (drain, gate, source[, bulk]); ``b=None`` ties the bulk to the source."""
        nodes: tuple[str, ...] = (self._use(d), self._use(g), self._use(s))
        if b is not None:
            nodes = nodes + (self._use(b),)
            terms = nodes
        else:
            terms = nodes if model.is_square_law else nodes + (nodes[2],)
        self._add_device(DeviceCard(name, "M", nodes, terms, model))

    def _add_device(self, card: DeviceCard) -> None:
        if any(d.name == card.name for d in self._parts.devices):
            raise ValueError(f"device {card.name!r} already exists")
        self._parts.devices.append(card)

    def compile(self) -> MNASystem:
        """Build the MNA matrices and device instances. Raises ValueError if a CCCS or CCVS names a control
        that is not a branch element of this netlist."""
        refine = not self._parts.uses_only_original_elements() if self.refine_dc is None else self.refine_dc
        return compile_parts(list(self._nodes), dict(self._alias), self._parts, refine)

    def spice_deck(self, title: str, control: str = "") -> SpiceDeck:
        """The netlist as an ngspice deck with its node and element name maps; see :func:`.spice_deck.write_deck`."""
        return write_deck(title, list(self._nodes), dict(self._alias), self._parts, control)

    def to_spice(self, title: str, control: str = "") -> str:
        """The netlist as an ngspice deck (text), ``control`` (e.g. a ``.control`` block) placed before
        ``.end``; node and element names as :meth:`spice_deck` maps them."""
        return self.spice_deck(title, control).text
