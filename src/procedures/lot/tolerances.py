"""Units of a simulated production lot, drawn from the component tolerances of a ``[tolerances]`` table.

A lot on the simulated bench is many boards built from one design whose parts each lie somewhere in their
tolerance band. Unit ``k`` carries the design's board config with drawn component values (its ``board_text``,
a complete board TOML that :func:`instruments.board_config.parse_board` accepts); the run is still judged against
the design (``procedures.run.runner.run_procedure`` with ``sim_board``).

The table (every key optional, 0 when left out; a tolerance of 0 is an exact part):

- ``resistor_pct``, ``capacitor_pct``: a resistor's and a capacitor's tolerance, % of the value;
- ``beta_pct``, ``is_pct``: a BJT's beta and I_S spread, %; ``vth_mv``: a MOSFET's threshold spread, mV;
- ``matching_pct``: how well paired parts match, % (the pair's relative difference, see "Matching");
- ``matching_vth_mv``: how well a MOS pair's thresholds match, mV (the difference Vth2 - Vth1);
- ``seed``: the lot's seed, a whole number 0 to 2**32 - 1 (32-bit, as ``[sim] seed``).

Percentages lie in 0 <= x < 50 and millivolts in 0 <= x < 500 (a wider band is a different part, not a spread).

Distribution. A tolerance is the band a part is guaranteed within: the marked value +-t, as the tolerance codes of
IEC 60062 define it for resistors and capacitors (F = +-1 %, J = +-5 %), the bands the E series of IEC 60063 are
spaced for. What lies inside the band is assumed, not given: a centred process whose spread just meets the band
at 3 sigma (capability index C_p = 1, Montgomery, *Introduction to Statistical Quality Control*, ch. 8, process
capability), with the parts outside it screened out by the maker's final test. So each deviation is Gaussian with
sigma = t/3, truncated at +-t. It is drawn by inverting the truncated distribution's CDF at one uniform u,
``z = Phi^-1(Phi(-3) + u (Phi(3) - Phi(-3)))``, deviation ``t z / 3``; its standard deviation is
``(t/3) sqrt(1 - 6 phi(3) / (2 Phi(3) - 1)) = 0.987 t/3`` (Johnson, Kotz & Balakrishnan, *Continuous Univariate
Distributions*, vol. 1, ch. 13, the doubly truncated normal).

What is drawn (dotted names are ``[section] key`` of the board TOML, the keys of :attr:`DrawnUnit.components`,
values in SI units; a part whose design value is 0, "none", is not drawn):

- resistors, ``R (1 + e)`` with e at ``resistor_pct``: ``inputs.source_r_ohm``, ``inputs.bias_r_ohm``,
  ``degeneration.r_ohm`` (split tail: ``degeneration.bridge_r_ohm``), ``load.r_ohm``, ``tail.r_ohm`` (the Norton
  tail's resistance: a resistor on a long-tailed pair; for a current source's output resistance the table has no
  better figure), ``tail.r_e_ohm`` (transistor tail), ``second_stage.sink_r_ohm``;
- currents a source sets with a resistor, ``I / (1 + e)`` with e at ``resistor_pct`` (I = V/R of its setting
  resistor): ``tail.current_a`` (Norton and split tails), ``second_stage.sink_current_a``;
- capacitances, ``C (1 + e)`` at ``capacitor_pct``: ``tail.c_f``, ``second_stage.c_f``, and the two output
  capacitances each on its own (capacitors are not matched parts here), which the board holds as their mean
  ``load.c_f`` and relative difference ``mismatch.load_c``;
- devices: a BJT's ``beta`` and ``is_a`` at ``beta_pct`` and ``is_pct`` (relative), a MOSFET's ``vth_v`` at
  ``vth_mv`` (added, V), for the pair (``device.*``) and the mirror (``mirror.*``). The cascode devices are the
  pair's device, so they move with its draw. A BJT transistor tail and a BJT second stage are parts of their own:
  their I_S is drawn at ``is_pct`` about the design's and the board carries it as ``tail.size_ratio`` or
  ``second_stage.size_ratio`` (relative to the drawn pair or mirror device); their beta, and a MOS tail's or second
  stage's threshold, are the pair's or the mirror's (the board has no field for them). Early voltage, kp and
  lambda have no key in the table and keep the design's values, as do supplies and bias voltages.

Matching. ``[mismatch]`` fields follow the board config's convention (:mod:`instruments.board_config`): a relative
``d`` puts side 1 at ``X (1 - d/2)`` and side 2 at ``X (1 + d/2)``, ``vth_v`` is ``Vth2 - Vth1``. A matched pair's
spec bounds that difference, so a unit's mismatch is ``d_design + delta``, delta drawn as above with the band
``matching_pct`` (relative) or ``matching_vth_mv`` (V): ``mismatch.device`` (I_S or kp, the current factor),
``mismatch.beta`` (BJT: one matching figure covers a pair's devices), ``mismatch.vth_v`` (MOS), ``mismatch.load_r``
(resistive loads) and ``mismatch.tail`` (a split tail's two sinks, set by paired resistors). The design's own
mismatch is kept as the nominal about which the unit's is drawn, not replaced: it is the systematic part of the
mismatch (a gradient, a layout asymmetry), the drawn delta the random part (the decomposition of Pelgrom,
Duinmaijer & Welbers, "Matching properties of MOS transistors", IEEE JSSC 24(5), 1989), and with zero tolerances
unit k is then the design itself. The common value of a pair (``load.r_ohm``, ``device.is_a``) is drawn at the
part's tolerance. The simulated board holds the mirror's two devices identical: their matching is not drawn.

Seeding. Each value comes from its own stream, numpy's ``SeedSequence`` over (seed, k, a 64-bit hash of its dotted
name), so unit k is the same board whether drawn alone or in a lot, in whatever order, and a part's draw does not
depend on which other parts the board has. Netlist boards (``[netlist]``) are refused: their parts are not drawn yet.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import re
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import tomli_w

from instruments.board_config import SEED_MAX, BoardConfig, DeviceParams, parse_board
from instruments.config_schema import Field, Section, optional, show, validate_section
from instruments.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["DrawnUnit", "Tolerances", "draw_lot", "draw_unit"]

PCT_MAX = 50.0  # a tolerance of 50 % or more is a different part, not a spread of one
MV_MAX = 500.0  # a threshold spread of 0.5 V or more likewise
BAND_SIGMAS = 3.0  # a tolerance band is +-3 sigma (module docstring "Distribution")
NAME_MAX = 64  # longest board name (instruments.config_schema.NAME_PATTERN)

_PCT = {"lo": 0.0, "hi": PCT_MAX, "hi_open": True}
_MV = {"lo": 0.0, "hi": MV_MAX, "hi_open": True}
FIELDS: dict[str, Field] = {
    "resistor_pct": optional(float, 0.0, **_PCT, doc="a resistor's tolerance, %"),
    "capacitor_pct": optional(float, 0.0, **_PCT, doc="a capacitor's tolerance, %"),
    "beta_pct": optional(float, 0.0, **_PCT, doc="a BJT's beta spread, %"),
    "is_pct": optional(float, 0.0, **_PCT, doc="a BJT's I_S spread, %"),
    "vth_mv": optional(float, 0.0, **_MV, doc="a MOSFET's threshold spread, mV"),
    "matching_pct": optional(float, 0.0, **_PCT, doc="paired resistors' and devices' relative difference, %"),
    "matching_vth_mv": optional(float, 0.0, **_MV, doc="a MOS pair's threshold difference, mV"),
    "seed": optional(int, 0, lo=0, hi=SEED_MAX, doc="the lot's seed"),
}
"""The keys of a ``[tolerances]`` table (module docstring)."""

_SECTION = Section(FIELDS)
_NORMAL = NormalDist()
_P_LO = _NORMAL.cdf(-BAND_SIGMAS)
_P_SPAN = _NORMAL.cdf(BAND_SIGMAS) - _P_LO


def _check_table(table: object, source: str) -> dict[str, Any]:
    """The table's values with defaults filled in; one-line :class:`ConfigError` naming ``source`` and the key."""
    if not isinstance(table, Mapping):
        raise ConfigError(source, "[tolerances]", f"expected a table, got {show(table)}")
    for key in table:
        if key not in FIELDS:
            name = key if isinstance(key, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", key) else show(key)
            close = difflib.get_close_matches(str(key), list(FIELDS), n=1, cutoff=0.5)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(source, f"[tolerances] {name}",
                              f"unknown key ({hint}known keys: {', '.join(sorted(FIELDS))})")
    return validate_section(source, "tolerances", _SECTION, dict(table))


@dataclass(frozen=True)
class Tolerances:
    """A ``[tolerances]`` table (module docstring): bands in % of the value or in mV, and the lot's seed."""

    resistor_pct: float = 0.0
    capacitor_pct: float = 0.0
    beta_pct: float = 0.0
    is_pct: float = 0.0
    vth_mv: float = 0.0
    matching_pct: float = 0.0
    matching_vth_mv: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        _check_table(asdict(self), "<Tolerances>")

    @classmethod
    def from_table(cls, table: Mapping[str, object], source: str) -> Tolerances:
        """The tolerances of a parsed ``[tolerances]`` table from the file ``source``: every key known, numbers
        finite, percentages 0 <= x < 50, millivolts 0 <= x < 500, seed a whole number 0 to 2**32 - 1; anything
        else is one-line :class:`ConfigError` (``<source>: [tolerances] <key>: <what is wrong>``)."""
        return cls(**_check_table(table, source))


@dataclass(frozen=True)
class DrawnUnit:
    """Unit ``index`` of a lot: its board TOML (``board_text``) and its drawn values (``components``, SI units,
    by the dotted ``section.key`` names of the module docstring)."""

    index: int
    board_text: str
    components: dict[str, float]


def _stream(name: str) -> int:
    """A stable 64-bit number for a component's dotted name (SHA-256; Python's ``hash`` changes per process)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")


@dataclass(frozen=True)
class _Draw:
    """The draws of unit ``k`` under ``tol``."""

    tol: Tolerances
    k: int

    def e(self, name: str, band: float) -> float:
        """Component ``name``'s deviation within +-``band`` (band's unit: a fraction, or V): Gaussian, sigma =
        band/3, truncated at the band, by the inverse CDF of one uniform from the stream (seed, k, name)."""
        if band == 0.0:
            return 0.0
        u = float(np.random.default_rng([self.tol.seed, self.k, _stream(name)]).random())
        z = _NORMAL.inv_cdf(_P_LO + u * _P_SPAN)
        return min(band, max(-band, band * z / BAND_SIGMAS))  # rounding in inv_cdf may pass the band by an ulp

    def relative(self, parts: Mapping[str, float], band: float) -> dict[str, float]:
        """Each non-zero part ``x (1 + e)``, e within +-``band`` (a fraction)."""
        return {name: x * (1.0 + self.e(name, band)) for name, x in parts.items() if x > 0.0}


def _resistors(cfg: BoardConfig, d: _Draw) -> dict[str, float]:
    """Every resistor of the board, Ohm, drawn at ``resistor_pct`` (module docstring)."""
    parts = {"inputs.source_r_ohm": cfg.source_r_ohm, "inputs.bias_r_ohm": cfg.bias_r_ohm,
             "load.r_ohm": cfg.load_r_ohm}
    if cfg.tail_kind == "split":  # the board holds half the bridge (instruments.board_tail)
        parts["degeneration.bridge_r_ohm"] = 2.0 * cfg.degeneration_r_ohm
    else:
        parts["degeneration.r_ohm"] = cfg.degeneration_r_ohm
    if cfg.tail_transistor is not None:
        parts["tail.r_e_ohm"] = cfg.tail_transistor.r_e_ohm
    else:
        parts["tail.r_ohm"] = cfg.tail_r_ohm
    if cfg.second_stage is not None:
        parts["second_stage.sink_r_ohm"] = cfg.second_stage.sink_r_ohm
    return d.relative(parts, d.tol.resistor_pct / 100.0)


def _currents(cfg: BoardConfig, d: _Draw) -> dict[str, float]:
    """The current sources, A: each set by a resistor, so ``I / (1 + e)`` with e at ``resistor_pct`` (I = V/R)."""
    parts: dict[str, float] = {}
    if cfg.tail_transistor is None:
        parts["tail.current_a"] = cfg.tail_current_a
    if cfg.second_stage is not None:
        parts["second_stage.sink_current_a"] = cfg.second_stage.sink_current_a
    band = d.tol.resistor_pct / 100.0
    return {name: i / (1.0 + d.e(name, band)) for name, i in parts.items() if i > 0.0}


def _capacitors(cfg: BoardConfig, d: _Draw) -> dict[str, float]:
    """The capacitances, F, drawn at ``capacitor_pct``; the two output capacitances each on its own about its
    design value ``C (1 -+ m/2)``, returned as their mean ``load.c_f`` and ``mismatch.load_c = (C2 - C1)/mean``."""
    band = d.tol.capacitor_pct / 100.0
    parts = {"tail.c_f": cfg.tail_c_f}
    if cfg.second_stage is not None:
        parts["second_stage.c_f"] = cfg.second_stage.c_f
    out = d.relative(parts, band)
    if cfg.load_c_f > 0.0:
        m = cfg.mismatch_load_c
        # C1 = C(1 - m/2)(1 + e1), C2 = C(1 + m/2)(1 + e2); written so that e = 0 gives C and m to the bit
        e1 = d.e("load.c1_f", band) * (1.0 - m / 2.0)
        e2 = d.e("load.c2_f", band) * (1.0 + m / 2.0)
        mean = 1.0 + (e1 + e2) / 2.0
        out["load.c_f"] = cfg.load_c_f * mean
        out["mismatch.load_c"] = (m + e2 - e1) / mean
    return out


def _device(section: str, dev: DeviceParams, d: _Draw) -> dict[str, float]:
    """One device type's drawn parameters: a BJT's beta and I_S (relative), a MOSFET's threshold (added, V)."""
    tol = d.tol
    if dev.is_bjt:
        assert dev.beta is not None and dev.is_a is not None
        return {f"{section}.beta": dev.beta * (1.0 + d.e(f"{section}.beta", tol.beta_pct / 100.0)),
                f"{section}.is_a": dev.is_a * (1.0 + d.e(f"{section}.is_a", tol.is_pct / 100.0))}
    assert dev.vth_v is not None
    return {f"{section}.vth_v": dev.vth_v + d.e(f"{section}.vth_v", tol.vth_mv / 1000.0)}


def _devices(cfg: BoardConfig, d: _Draw) -> dict[str, float]:
    """The pair's and the mirror's devices, and the size ratios that carry a BJT tail transistor's and second
    stage's own I_S: ``ratio (1 + e_own) / (1 + e_shared)`` of the drawn pair or mirror device (module docstring)."""
    out = _device("device", cfg.device, d)
    if cfg.mirror is not None:
        out.update(_device("mirror", cfg.mirror, d))
    band = d.tol.is_pct / 100.0
    tail = cfg.tail_transistor
    if tail is not None and cfg.device.is_bjt:
        out["tail.size_ratio"] = tail.size_ratio * (1.0 + d.e("tail.is_a", band)) / (1.0 + d.e("device.is_a", band))
    stage = cfg.second_stage
    if stage is not None and cfg.mirror is not None and cfg.mirror.is_bjt:
        out["second_stage.size_ratio"] = (stage.size_ratio * (1.0 + d.e("second_stage.is_a", band))
                                          / (1.0 + d.e("mirror.is_a", band)))
    return out


def _matching(cfg: BoardConfig, d: _Draw) -> dict[str, float]:
    """The pair mismatches the board holds, each the design's plus a draw within the matching band (relative, or
    V for the threshold difference), in the board config's convention (module docstring "Matching")."""
    band = d.tol.matching_pct / 100.0
    parts = {"mismatch.device": cfg.mismatch_device}
    if cfg.is_bjt:
        parts["mismatch.beta"] = cfg.mismatch_beta
    if cfg.load_type == "resistive":  # an active load's one resistor has no partner
        parts["mismatch.load_r"] = cfg.mismatch_load_r
    if cfg.tail_kind == "split":
        parts["mismatch.tail"] = cfg.mismatch_tail
    out = {name: x + d.e(name, band) for name, x in parts.items()}
    if not cfg.is_bjt:
        out["mismatch.vth_v"] = cfg.mismatch_vth_v + d.e("mismatch.vth_v", d.tol.matching_vth_mv / 1000.0)
    return out


def _unit_name(name: str, k: int) -> str:
    """The design's name with ``-unit<k + 1>`` on four digits (units are numbered from 1, as their serials are),
    the name cut to keep it within :data:`NAME_MAX` characters."""
    suffix = f"-unit{k + 1:04d}"
    return name[: NAME_MAX - len(suffix)] + suffix


def _design_doc(design: BoardConfig) -> dict[str, Any]:
    """The design's TOML document, from its text; one-line :class:`ConfigError` for a netlist board or a config
    that carries no text."""
    if design.netlist is not None:
        raise ConfigError(design.source, "[netlist]", f"tolerances are not yet drawn for netlist boards (board "
                                                      f"{design.name!r})")
    if not design.raw.strip():
        raise ConfigError(design.source, None, f"board {design.name!r} carries no TOML text (raw) to draw units from")
    try:
        return tomllib.loads(design.raw)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(design.source, None, f"the board's TOML text (raw) is not valid TOML: {exc}") from None


def _draw(design: BoardConfig, doc: Mapping[str, Any], tol: Tolerances, k: int) -> DrawnUnit:
    """Unit ``k`` of the design whose TOML document is ``doc``; its text is checked by parsing it back, so a drawn
    value outside the board's ranges is one-line :class:`ConfigError` naming the unit."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"a unit index is a whole number >= 0, got {k!r}")
    d = _Draw(tol, int(k))
    drawn = {**_resistors(design, d), **_currents(design, d), **_capacitors(design, d), **_devices(design, d),
             **_matching(design, d)}
    components = dict(sorted(drawn.items()))
    unit = copy.deepcopy(dict(doc))
    for name, value in components.items():
        section, key = name.split(".")
        unit.setdefault(section, {})[key] = value
    unit["board"]["name"] = _unit_name(design.name, d.k)
    # each unit its own board noise: a lot whose units shared one noise sequence would scatter too little
    unit.setdefault("sim", {})["seed"] = int(np.random.SeedSequence([tol.seed, d.k]).generate_state(1)[0])
    bands = ", ".join(f"{key} = {value}" for key, value in asdict(tol).items())
    text = (f"# Unit {d.k} of a lot drawn from board {design.name!r} (procedures.lot.tolerances) with\n"
            f"# [tolerances] {bands}.\n\n" + tomli_w.dumps(unit))
    parse_board(tomllib.loads(text), source=f"{design.source} (lot unit {d.k})", raw=text)
    return DrawnUnit(d.k, text, components)


def draw_unit(design: BoardConfig, tol: Tolerances, k: int) -> DrawnUnit:
    """Unit ``k`` (0, 1, ...) of a lot of ``design`` under ``tol``: every part drawn in its band (Gaussian, sigma
    a third of the band, truncated at it; module docstring "Distribution", after Montgomery and IEC 60062), the
    mismatches the design's plus a draw in the matching band. Depends only on (``tol``, ``k``) and the design.

    Returns the unit's board TOML (the design's keys with the drawn values, its name ``<design>-unit<k + 1>``,
    its own ``[sim] seed``; the
    design's comments are not kept) and its drawn values in SI units (Ohm, A, F, V; beta, I_S in A, relative
    mismatches as fractions). One-line :class:`ConfigError` for a netlist board, or a drawn value the board's
    ranges refuse (a design at the edge of a range)."""
    return _draw(design, _design_doc(design), tol, k)


def draw_lot(design: BoardConfig, tol: Tolerances, n: int) -> list[DrawnUnit]:
    """Units 0 to ``n - 1`` of a lot of ``design`` under ``tol`` (:func:`draw_unit` for each: unit k is the same
    whether drawn here or alone)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"a lot's size is a whole number >= 0, got {n!r}")
    doc = _design_doc(design)
    return [_draw(design, doc, tol, k) for k in range(int(n))]
