"""Operating point of a pair with resistive loads: each output ``V_Ck = v_return - R_k I_Ck``."""

from __future__ import annotations

from ..pair_circuit import DiffPair, NortonTail, ResistorLoads
from .budget import evaluation_budget
from .results import PairOperatingPoint, region_warnings
from .side import Top, side_point, side_specs
from .tail import solve_tail


def _resistor(r: float, v_return: float) -> Top:
    """The top node of a side under a resistor ``r`` (Ohm) to ``v_return`` (V)."""
    def top(i: float) -> float:
        return v_return - r * i
    return top


def resistive_pair_operating_point(pair: DiffPair, tail: NortonTail, load: ResistorLoads, *,
                                   v_in: tuple[float, float]) -> PairOperatingPoint:
    """Operating point of ``pair`` fed by ``tail``, with resistive loads ``load`` and the input pins at ``v_in`` (V).

    Node equations: Kirchhoff with the device laws of :mod:`models.devices` (the circuit is drawn in
    :mod:`models.operating_point`); output ``V_Ck = v_return - R_k I_Ck``. Raises
    :class:`~models.operating_point.errors.OperatingPointError` where no DC solution exists in the bracketed
    ranges.
    """
    specs = side_specs(pair, v_in)
    tops = (_resistor(load.r[0], load.v_return), _resistor(load.r[1], load.v_return))
    with evaluation_budget():
        v_t, states = solve_tail(specs, tops, tail)
    sides = (side_point(specs[0], states[0], 1), side_point(specs[1], states[1], 2))
    kind = "bjt" if specs[0].law.is_bjt else "mos"
    return PairOperatingPoint(kind, "resistive", pair.vt, tail.dc_current(v_t), v_t, sides, None,
                              tuple(region_warnings(sides, None, v_t, tail.v_ee)))
