"""A board config's ``[netlist]`` section: the board given as a SPICE netlist file, and its pins.

A board config may describe its board as a netlist (docs/netlist-boards.md): ``[netlist] file`` (a path
relative to the config), and ``in1``, ``in2``, ``out1``, ``out2``, the netlist nodes that are the board's pins
(supplies and bias live inside the netlist). The simulated bench then builds its board from the netlist. What
predicts and fits it:

- when the config also has the closed-form sections (``[device]``, ``[tail]``, ``[load]``), the config names a
  known family and those values are the models' (the netlist is the simulator's truth; ``predict`` compares
  nothing with it, the measurements do);
- without them, the prediction comes from ngspice (:mod:`procedures.predict.ngspice_board`), and a missing
  ngspice is one line saying so.

The file is read and checked (every element known, every model defined and of the right type, no floating
node, every pin a node of the netlist) when the config loads, so a bad netlist is one line naming the file and
the line before anything is switched on. Unmodelled ``.model`` parameters are named in one warning
(:mod:`instruments.spice.modelled`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config_schema import Field, Section, optional, required
from .errors import ConfigError
from .spice import FlatCircuit, parse_netlist, read_netlist
from .spice.checks import check_pins
from .spice.modelled import TNOM_C, unmodelled, vendor_annotations

PINS = ("in1", "in2", "out1", "out2")
FAMILY_SECTIONS = ("device", "tail", "load")
KELVIN_AT_0_C = 273.15

_NODE = required(str, max_len=128, doc="the netlist node that is this pin")
NETLIST_SECTION = Section({
    "file": required(str, doc="the board's SPICE netlist, relative to this config"),
    **{pin: _NODE for pin in PINS},
    "fit_params": Field(list, default=[], item_kind=str, max_items=32,
                        doc=".param names (or element names) the fits may adjust"),
    "prediction": optional(str, "auto", choices=("auto", "closed-form", "ngspice"),
                           doc="what predicts the board: its closed-form family, ngspice, or auto"),
}, optional=True, doc="the board as a SPICE netlist (docs/netlist-boards.md)")

FAMILY_PLACEHOLDER: dict[str, dict[str, Any]] = {
    "device": {"type": "npn", "beta": 100.0, "early_v": 100.0, "is_a": 1e-15},
    "tail": {"current_a": 1e-4, "r_ohm": 1e6},
    "load": {"r_ohm": 1e4},
}
"""The closed-form sections a netlist board without a family is validated with: never used for a number
(:attr:`NetlistBoard.family` is False and every model entry point refuses the board)."""


@dataclass(frozen=True)
class NetlistBoard:
    """A board's netlist: the file and its text as read (archived with every run), its parsed circuit, the pin
    nodes, whether the config names a closed-form family, what predicts it, the fit parameters, and the
    warnings of its loading (unmodelled parameters)."""

    path: Path
    text: str
    circuit: FlatCircuit
    pins: dict[str, str]
    family: bool
    prediction: str
    fit_params: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def folder(self) -> Path | None:
        """The netlist's folder (where its ``.include`` files are), or None when it does not exist (a netlist
        read back from an archive on another machine)."""
        return self.path.parent if self.path.parent.is_dir() else None


def fill_family(source: str, doc: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The document with placeholder closed-form sections when a ``[netlist]`` board has none, and whether it
    has them (all three, or none: a partial family is an error naming the missing section)."""
    if "netlist" not in doc:
        return doc, True
    present = [s for s in FAMILY_SECTIONS if s in doc]
    if len(present) == len(FAMILY_SECTIONS):
        return doc, True
    if present:
        missing = next(s for s in FAMILY_SECTIONS if s not in doc)
        raise ConfigError(source, f"[{missing}]", "a netlist board names its closed-form family with all of "
                          f"[device], [tail] and [load], or none of them (found [{present[0]}])")
    return {**doc, **FAMILY_PLACEHOLDER}, False


def load_netlist(source: str, section: dict[str, Any], family: bool, t_k: float,
                 text: str | None = None) -> NetlistBoard:
    """Read and check the netlist a validated ``[netlist]`` section points at (relative to the config
    ``source``), or, given ``text`` (an archived netlist), parse that instead of the file; any problem is one
    :class:`ConfigError` line naming the file and line or the key."""
    base = Path(source).parent if source and not source.startswith("<") else Path.cwd()
    path = (base / section["file"]).resolve()
    if text is None:
        if not path.is_file():
            raise ConfigError(source, "[netlist] file", f"{section['file']!r}: no such file ({path})")
        text = path.read_text(encoding="utf-8")
        circuit = read_netlist(path)
    else:
        circuit = parse_netlist(text, source=f"{source} (netlist {section['file']})")
    pins = {p: str(section[p]).lower() for p in PINS}
    check_pins(circuit, pins, f"{source}: [netlist]")
    for pin in PINS:
        if pin in circuit.nodes and pins[pin] != pin:
            raise ConfigError(source, f"[netlist] {pin}", f"the netlist has a node named {pin!r} that is not this "
                              f"pin (the pin is {pins[pin]!r}): rename that node")
    if len(set(pins[p] for p in ("in1", "in2"))) < 2:
        raise ConfigError(source, "[netlist] in2", "in1 and in2 must be different nodes")
    for name in section["fit_params"]:
        if name.lower() not in circuit.params:
            known = ", ".join(sorted(circuit.params)) or "none"
            raise ConfigError(source, "[netlist] fit_params", f"{name!r} is not a .param of {path.name} "
                              f"(its .params: {known})")
    prediction = section["prediction"]
    if prediction == "closed-form" and not family:
        raise ConfigError(source, "[netlist] prediction", "'closed-form' needs the family sections [device], "
                          "[tail] and [load]")
    if prediction == "auto":
        prediction = "closed-form" if family else "ngspice"
    return NetlistBoard(path=path, text=text, circuit=circuit, pins=pins, family=family, prediction=prediction,
                        fit_params=tuple(section["fit_params"]), warnings=_warnings(circuit, t_k))


def _warnings(circuit: FlatCircuit, t_k: float) -> tuple[str, ...]:
    """One warning naming every unmodelled parameter, card by card, and one naming vendor annotations."""
    ignored, notes = [], []
    for card in circuit.models.values():
        names = unmodelled(card.type, card.params, t_k)
        if names:
            ignored.append(f"{card.name} ({', '.join(names)})")
        ann = vendor_annotations(card.params)
        if ann:
            notes.append(f"{card.name} ({', '.join(ann)})")
    out = []
    hot = [card.name for card in circuit.models.values()
           if abs(t_k - (float(card.params.get("TNOM", TNOM_C)) + KELVIN_AT_0_C)) >= 1e-3]
    if hot:
        out.append(f"{circuit.source}: the board's {t_k - KELVIN_AT_0_C:g} degC differs from TNOM of "
                   f"{', '.join(hot)}: the simulated board does not scale model parameters with temperature")
    if ignored:
        out.append(f"{circuit.source}: .model parameters the simulated board does not model: {'; '.join(ignored)}")
    if notes:
        out.append(f"{circuit.source}: vendor annotations, not simulation parameters: {'; '.join(notes)}")
    return tuple(out)
