"""The scalar root finders of the operating-point solve: fixed points of strong contractions, with bracketed
fallbacks (Brent's method, scipy's ``brentq``) wherever the contraction fails, and secant steps from a close guess.

Every root the solve needs is of a monotone scalar equation; a bracket keeps it on the physical branch.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from scipy.optimize import brentq

from .budget import BudgetExceeded
from .errors import OperatingPointError


def fixed_point(step: Callable[[float], float], x0: float, scale: float, what: str) -> float:
    """Iterate ``x = step(x)``; used where the map is a strong contraction (factors ~ V_T/V_A).

    Far from the usual operating points (a saturated device with a small V_A, so the Early factor nears its
    floor) the map contracts slowly or not at all; as soon as a step is more than half the one before (or
    after 200 steps) :func:`bracketed_fixed_point` solves the same equation as a bracketed root instead.
    ``scale`` sets the tolerance (``1e-13 scale``, in the units of ``x``); ``what`` names the unknown in the error."""
    x = x0
    last = math.inf
    for _ in range(200):
        x_new = step(x)
        dx = abs(x_new - x)
        if dx <= 1e-13 * scale:
            return x_new
        if dx > 0.5 * last:
            break
        x, last = x_new, dx
    return bracketed_fixed_point(step, x0, scale, what)


def _secant_bracket(r: Callable[[float], float], x0: float, scale: float, tol: float,
                    bracketed: Callable[[float, float], float]) -> float | None:
    """Secant steps on ``r`` from ``x0`` and ``x0 - r(x0)``, handing over to ``bracketed`` as soon as two points
    bracket a root; ``None`` when the steps stall or leave ``x0 +- 1e4 scale``."""
    a, ra = x0, r(x0)
    if ra == 0.0:
        return a
    b = a - ra
    rb = r(b)
    for _ in range(60):
        if rb == 0.0:
            return b
        if (ra > 0.0) != (rb > 0.0):
            return bracketed(a, b)
        if rb == ra:
            break
        c = b - rb * (b - a) / (rb - ra)
        if not (math.isfinite(c) and abs(c - x0) <= 1e4 * scale):
            break
        if abs(c - b) <= tol:
            return c
        a, ra, b, rb = b, rb, c, r(c)
    return None


def _widening_bracket(r: Callable[[float], float], x0: float, scale: float,
                      bracketed: Callable[[float, float], float]) -> float | None:
    """A sign change of ``r`` in ``[x0 - h, x0]`` or ``[x0, x0 + h]``, ``h`` doubling from ``1e-3 scale`` to
    ``1e4 scale``, solved by ``bracketed``; ``None`` when there is none."""
    r0 = r(x0)
    h = 1e-3 * scale
    while h <= 1e4 * scale:
        for x1 in (x0 - h, x0 + h):
            r1 = r(x1)
            if r1 == 0.0:
                return x1
            if (r1 > 0.0) != (r0 > 0.0):
                return bracketed(x0, x1)
        h *= 2.0
    return None


def bracketed_fixed_point(step: Callable[[float], float], x0: float, scale: float, what: str) -> float:
    """A root of ``r(x) = x - step(x)`` near ``x0``: secant steps from ``x0`` and ``step(x0)``, switching to Brent's
    method as soon as two points bracket a root; when the secant stalls, intervals ``[x0 - h, x0]`` and
    ``[x0, x0 + h]`` with ``h`` doubling from ``1e-3 scale`` to ``1e4 scale`` (V for the voltages solved here) are
    searched for a sign change. Raises :class:`OperatingPointError` when none is found (or the step fails)."""
    def r(x: float) -> float:
        return x - step(x)

    tol = 1e-13 * scale

    def bracketed(a: float, b: float) -> float:
        lo, hi = (a, b) if a < b else (b, a)
        return float(brentq(r, lo, hi, xtol=tol, rtol=1e-15, maxiter=200))

    try:
        found = _secant_bracket(r, x0, scale, tol, bracketed)
        if found is None:
            found = _widening_bracket(r, x0, scale, bracketed)
        if found is not None:
            return found
    except BudgetExceeded:
        raise
    except (ValueError, OverflowError, ZeroDivisionError):
        pass
    raise OperatingPointError(f"the {what} did not converge")


def split_current(i_e: float, rhs: Callable[[float], float]) -> float:
    """Solve ``i = rhs(i)`` for the part of ``i_e`` (A) that leaves by the collector (``0 <= rhs <= i_e``).

    Near the operating point the map contracts by about ``I R/(beta V_A)``, so plain iteration converges
    in a few steps; far outside it (trial currents the outer solve tries) fall back to a bracketed root of
    ``i - rhs(i)``, which is negative at 0 and non-negative at ``i_e``.
    """
    if i_e <= 0:
        return 0.0
    i = rhs(i_e)
    for _ in range(30):
        i_new = rhs(i)
        if abs(i_new - i) <= 1e-14 * i_e:
            return i_new
        i = i_new
    return float(brentq(lambda x: x - rhs(x), 0.0, i_e, xtol=1e-15 * i_e, rtol=1e-15, maxiter=200))


def secant_root(g: Callable[[float], float], x0: float, lo: float, hi: float, tol: float) -> float | None:
    """Root of a smooth monotonic ``g`` by secant steps from ``x0`` (a close guess); ``None`` when the steps
    leave ``[lo, hi]`` or do not settle, so the caller can fall back to a bracketed search."""
    x1 = x0 + 1e-3
    g0, g1 = g(x0), g(x1)
    for _ in range(30):
        if g1 == g0:
            return x1 if g1 == 0 else None
        x2 = x1 - g1 * (x1 - x0) / (g1 - g0)
        if not lo <= x2 <= hi:
            return None
        if abs(x2 - x1) <= tol:
            return x2
        x0, g0, x1, g1 = x1, g1, x2, g(x2)
    return None
