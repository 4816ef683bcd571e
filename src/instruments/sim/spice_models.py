"""``.model`` cards and instance parameters translated into the engine's device models.

Parameter names, defaults and the area / multiplier scaling are SPICE3's (ngspice User's Manual, ch. 7
"Diodes", ch. 8 "BJTs", ch. 11 "MOSFETs" level 1): an area factor (``AREA``, or ``M`` parallel devices)
multiplies saturation and knee currents and junction capacitances and divides the terminal resistances; a
zero ``VAF``, ``VAR``, ``IKF`` or ``IKR`` means infinite. A MOSFET's transconductance parameter is
``KP W / (L - 2 LD)`` times ``M``; ``KP`` defaults to ``UO Cox`` when ``UO`` and ``TOX`` are given
(``Cox = eps_ox / TOX``, eps_ox = 3.9 eps_0). Which parameters are used at all is
:mod:`instruments.spice.modelled`'s table; the rest are named in a warning when the board loads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ..errors import NetlistError
from ..spice import Element, ModelCard
from .circuit import DiodeModel, GummelPoonModel, MOSModel

EPS_OX_F_PER_M = 3.9 * 8.8541878128e-12
"""Permittivity of SiO2, F/m (relative permittivity 3.9; eps_0 CODATA 2018)."""
DEFAULT_W_M = 1e-4
DEFAULT_L_M = 1e-4
"""ngspice's default MOSFET width and length when an instance gives none (DEFW, DEFL), m."""


def _get(p: Mapping[str, float], *names: str, default: float) -> float:
    """The first of ``names`` the card gives, else ``default``."""
    for n in names:
        if n in p:
            return float(p[n])
    return default


def _inf_if_zero(x: float) -> float:
    return math.inf if x == 0.0 else x


def _scale(el: Element) -> float:
    """An instance's area factor times its multiplier (both default 1)."""
    return float(el.params.get("AREA", 1.0)) * float(el.params.get("M", 1.0))


def _level(card: ModelCard, allowed: tuple[float, ...]) -> None:
    level = float(card.params.get("LEVEL", allowed[0]))
    if level not in allowed:
        raise NetlistError(card.where.file, card.where.line,
                           f".model {card.name}: LEVEL={level:g} is not simulated (only LEVEL="
                           f"{'/'.join(f'{a:g}' for a in allowed)})")


def bjt_model(el: Element, card: ModelCard, vt_v: float) -> GummelPoonModel:
    """The Gummel-Poon model of a ``Q`` instance (area and multiplier applied) at thermal voltage ``vt_v`` (V)."""
    _level(card, (1.0,))
    p, a = card.params, _scale(el)
    return GummelPoonModel(
        polarity=1 if card.type == "npn" else -1, vt_v=vt_v, is_a=_get(p, "IS", default=1e-16) * a,
        bf=_get(p, "BF", default=100.0), br=_get(p, "BR", default=1.0), nf=_get(p, "NF", default=1.0),
        nr=_get(p, "NR", default=1.0), vaf=_inf_if_zero(_get(p, "VAF", "VA", default=0.0)),
        var=_inf_if_zero(_get(p, "VAR", "VB", default=0.0)), ikf=_inf_if_zero(_get(p, "IKF", "IK", default=0.0)) * a,
        ikr=_inf_if_zero(_get(p, "IKR", default=0.0)) * a, ise=_get(p, "ISE", default=0.0) * a,
        ne=_get(p, "NE", default=1.5), isc=_get(p, "ISC", default=0.0) * a, nc=_get(p, "NC", default=2.0),
        rb_ohm=_get(p, "RB", default=0.0) / a, re_ohm=_get(p, "RE", default=0.0) / a,
        rc_ohm=_get(p, "RC", default=0.0) / a, cje_f=_get(p, "CJE", default=0.0) * a,
        vje_v=_get(p, "VJE", "PE", default=0.75), mje=_get(p, "MJE", "ME", default=0.33),
        cjc_f=_get(p, "CJC", default=0.0) * a, vjc_v=_get(p, "VJC", "PC", default=0.75),
        mjc=_get(p, "MJC", "MC", default=0.33), tf_s=_get(p, "TF", default=0.0), tr_s=_get(p, "TR", default=0.0),
        fc=_get(p, "FC", default=0.5))


def diode_model(el: Element, card: ModelCard, vt_v: float) -> DiodeModel:
    """The junction-diode model of a ``D`` instance (area and multiplier applied) at ``vt_v`` (V)."""
    _level(card, (1.0,))
    p, a = card.params, _scale(el)
    return DiodeModel(is_a=_get(p, "IS", default=1e-14) * a, n=_get(p, "N", default=1.0),
                      rs_ohm=_get(p, "RS", default=0.0) / a, cjo_f=_get(p, "CJO", "CJ0", "CJ", default=0.0) * a,
                      vj_v=_get(p, "VJ", default=1.0), m=_get(p, "M", default=0.5), tt_s=_get(p, "TT", default=0.0),
                      fc=_get(p, "FC", default=0.5), vt_v=vt_v)


def mos_model(el: Element, card: ModelCard) -> tuple[MOSModel, float, float]:
    """The level-1 model of an ``M`` instance, and its drain and source series resistances (Ohm)."""
    _level(card, (1.0,))
    p, ip = card.params, el.params
    mult = float(ip.get("M", 1.0))
    w = float(ip.get("W", DEFAULT_W_M))
    leff = float(ip.get("L", DEFAULT_L_M)) - 2.0 * _get(p, "LD", default=0.0)
    if not (w > 0.0 and leff > 0.0):
        raise NetlistError(el.where.file, el.where.line,
                           f"element {el.name!r}: W and L - 2 LD must be > 0 (W = {w:g} m, L_eff = {leff:g} m)")
    tox = _get(p, "TOX", default=0.0)
    cox_per_m2 = EPS_OX_F_PER_M / tox if tox > 0.0 else 0.0
    kp = _get(p, "KP", default=_get(p, "UO", default=600.0) * 1e-4 * cox_per_m2 if tox > 0.0 else 2e-5)
    pol = 1 if card.type == "nmos" else -1
    cj, cjsw = _get(p, "CJ", default=0.0), _get(p, "CJSW", default=0.0)
    cbd = _get(p, "CBD", default=cj * float(ip.get("AD", 0.0)) + cjsw * float(ip.get("PD", 0.0)))
    cbs = _get(p, "CBS", default=cj * float(ip.get("AS", 0.0)) + cjsw * float(ip.get("PS", 0.0)))
    model = MOSModel(
        polarity=pol, kp_a_per_v2=kp * w / leff * mult, vth_v=pol * _get(p, "VTO", default=0.0),
        lambda_per_v=_get(p, "LAMBDA", default=0.0), gamma_sqrt_v=_get(p, "GAMMA", default=0.0),
        phi_v=_get(p, "PHI", default=0.6), cgso_f=_get(p, "CGSO", default=0.0) * w * mult,
        cgdo_f=_get(p, "CGDO", default=0.0) * w * mult, cgbo_f=_get(p, "CGBO", default=0.0) * leff * mult,
        cbd_f=cbd * mult, cbs_f=cbs * mult, pb_v=_get(p, "PB", default=0.8), mj=_get(p, "MJ", default=0.5),
        fc=_get(p, "FC", default=0.5), cox_f=cox_per_m2 * w * leff * mult)
    return model, _get(p, "RD", default=0.0) / mult, _get(p, "RS", default=0.0) / mult
