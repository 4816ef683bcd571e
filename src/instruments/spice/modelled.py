"""Which ``.model`` parameters the simulated board's engine uses, and which a card sets that it does not.

The parameter names and their defaults are those of the SPICE3 / ngspice device models (ngspice User's
Manual, ch. 7 "Diodes", ch. 8 "BJTs" (Gummel-Poon, the SPICE2 model of Nagel, UCB/ERL M520, 1975), ch. 11
"MOSFETs" (level 1, Shichman-Hodges)). A parameter is *modelled* when the engine's device equations use it
(:mod:`instruments.sim.spice_models` translates them). Every other parameter a card gives is named in one
warning when the board loads, never silently dropped, unless it is given at its SPICE default (then it
changes nothing in SPICE either). Temperature coefficients (``XTI``, ``XTB``, ``EG``, ...) only act when the
board's temperature differs from the card's ``TNOM``; they are named only then. Manufacturer annotations that
are not simulation parameters in any SPICE (``VCEO``, ``ICRATING``, ``MFG``, ...) are named as such.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

TNOM_C = 27.0
"""SPICE's default nominal temperature of a model card, degrees Celsius."""

MODELLED: dict[str, frozenset[str]] = {
    "npn": frozenset({"IS", "BF", "NF", "VAF", "VA", "IKF", "IK", "ISE", "NE", "BR", "NR", "VAR", "VB", "IKR",
                      "ISC", "NC", "RB", "RE", "RC", "CJE", "VJE", "PE", "MJE", "ME", "TF", "CJC", "VJC", "PC",
                      "MJC", "MC", "TR", "FC", "TNOM", "LEVEL"}),
    "d": frozenset({"IS", "N", "RS", "CJO", "CJ0", "CJ", "VJ", "M", "TT", "FC", "TNOM", "LEVEL"}),
    "nmos": frozenset({"LEVEL", "VTO", "KP", "GAMMA", "PHI", "LAMBDA", "RD", "RS", "CBD", "CBS", "PB", "CGSO",
                       "CGDO", "CGBO", "CJ", "MJ", "CJSW", "MJSW", "TOX", "UO", "LD", "FC", "TNOM"}),
}
MODELLED["pnp"] = MODELLED["npn"]
MODELLED["pmos"] = MODELLED["nmos"]

SPICE_DEFAULTS: dict[str, dict[str, float]] = {
    "npn": {"XTF": 0.0, "VTF": math.inf, "ITF": 0.0, "PTF": 0.0, "XCJC": 1.0, "CJS": 0.0, "CCS": 0.0,
            "VJS": 0.75, "PS": 0.75, "MJS": 0.0, "MS": 0.0, "KF": 0.0, "AF": 1.0, "XTB": 0.0, "EG": 1.11,
            "XTI": 3.0, "IRB": math.inf},
    "d": {"BV": math.inf, "IBV": 1e-3, "KF": 0.0, "AF": 1.0, "EG": 1.11, "XTI": 3.0},
    "nmos": {"IS": 1e-14, "JS": 0.0, "RSH": 0.0, "NSUB": 0.0, "NSS": 0.0, "NFS": 0.0, "TPG": 1.0, "XJ": 0.0,
             "KF": 0.0, "AF": 1.0, "WD": 0.0},
}
SPICE_DEFAULTS["pnp"] = SPICE_DEFAULTS["npn"]
SPICE_DEFAULTS["pmos"] = SPICE_DEFAULTS["nmos"]

TEMPERATURE_PARAMETERS = frozenset({"XTB", "XTI", "EG", "TRE1", "TRE2", "TRB1", "TRB2", "TRC1", "TRC2", "TRM1",
                                    "TRM2", "TBF1", "TBF2", "TBR1", "TBR2", "TIKF1", "TIKF2", "TIKR1", "TIKR2",
                                    "TIS1", "TIS2", "TISE1", "TISE2", "TISC1", "TISC2", "TVAF1", "TVAF2",
                                    "TVAR1", "TVAR2", "TVJE", "TVJC", "TVJS", "CTC", "CTE", "CTS", "TPB",
                                    "TPHP", "TCV", "BEX"})
ANNOTATIONS = frozenset({"VCEO", "ICRATING", "MFG", "TYPE", "IAVE", "VPK", "VCBO", "VEBO", "IC", "PD"})
"""Vendor annotations seen on discrete-part cards (PSpice style), which no SPICE simulates."""

_KELVIN_AT_0_C = 273.15


def unmodelled(card_type: str, params: Mapping[str, object], t_k: float) -> list[str]:
    """Names of the parameters of a ``.model`` card of ``card_type`` (npn, pnp, d, nmos, pmos) that the engine
    does not model and that can change the result, in the card's order (upper-case).

    ``t_k`` is the board temperature (K): temperature coefficients count only when it differs from the card's
    ``TNOM`` (default 27 degC) by more than a millikelvin. Parameters given at their SPICE default, and
    :data:`ANNOTATIONS`, are left out (annotations are reported separately by :func:`vendor_annotations`)."""
    modelled = MODELLED[card_type]
    defaults = SPICE_DEFAULTS[card_type]
    tnom_k = _as_float(params.get("TNOM"), TNOM_C) + _KELVIN_AT_0_C
    at_tnom = abs(t_k - tnom_k) < 1e-3
    out = []
    for name, value in params.items():
        if name in modelled or name in ANNOTATIONS:
            continue
        if name in TEMPERATURE_PARAMETERS and at_tnom:
            continue
        if name in defaults and _as_float(value, math.nan) == defaults[name]:
            continue
        out.append(name)
    return out


def vendor_annotations(params: Mapping[str, object]) -> list[str]:
    """The vendor annotations (:data:`ANNOTATIONS`) a card carries, upper-case, in the card's order."""
    return [name for name in params if name in ANNOTATIONS]


def _as_float(value: object, default: float) -> float:
    if value is None:
        return default
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
