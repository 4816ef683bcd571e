"""The tail node: the voltage at which the two sides together carry what the tail source delivers.

``I_E1 + I_E2 = i_tail + (v_t - v_ee)/r_tail``: the left side falls and the right side rises as the tail node
rises, so the root is unique and bracketed.
"""

from __future__ import annotations

from scipy.optimize import brentq

from ..pair_circuit import NortonTail
from .errors import OperatingPointError
from .roots import secant_root
from .side import SideSpec, SideState, Top, solve_side


def solve_tail(specs: tuple[SideSpec, SideSpec], tops: tuple[Top, Top], tail: NortonTail,
               guess: float | None = None) -> tuple[float, tuple[SideState, SideState]]:
    """Tail-node voltage (V) and both sides there, for the loads ``tops`` above the sides (module docstring).

    ``guess``: a nearby tail voltage (an outer solve's previous step) from which secant steps usually converge
    in a handful of evaluations instead of the ~20 of the bracketed search over the whole range (the inputs
    from 100 V below to 2 V above)."""
    def g(v_t: float) -> float:
        i = tail.dc_current(v_t)
        return sum(solve_side(s, v_t, t, i).i_e for s, t in zip(specs, tops)) - i

    v_in = [s.v_in for s in specs]
    lo, hi = min(v_in) - 100.0, max(v_in) + 2.0
    v_t = secant_root(g, guess, lo, hi, 1e-13) if guess is not None else None
    if v_t is None:
        if not (g(lo) > 0 > g(hi)):
            raise OperatingPointError("no tail-node voltage carries the tail current (check the tail current "
                                      "and the degeneration resistance)")
        v_t = float(brentq(g, lo, hi, xtol=1e-13, rtol=1e-15, maxiter=200))
    i = tail.dc_current(v_t)
    return v_t, (solve_side(specs[0], v_t, tops[0], i), solve_side(specs[1], v_t, tops[1], i))
