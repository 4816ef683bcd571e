"""DC operating point: Newton with junction limiting, then source stepping, then gmin stepping.

The strategies are those of SPICE (Nagel, "SPICE2: a computer program to simulate semiconductor circuits",
UCB/ERL M520, 1975), run on the port equations of :mod:`.port_newton` with no harmonics.
"""

from __future__ import annotations

import numpy as np

from ..arrays import FloatArray
from .errors import ConvergenceError
from .fourier import FourierGrid
from .mna import MNAEquations
from .port_newton import continuation, newton, reduce_to_ports

DC_METHODS = ("auto", "newton", "source", "gmin")
_WARM_ITER = 25  # Newton iterations allowed from a given starting point before the cold strategies


def solve_dc(eqs: MNAEquations, max_iter: int = 200, method: str = "auto", refine_steps: int | None = None,
             x_start: FloatArray | None = None) -> FloatArray:
    """DC operating point: the MNA vector x (node voltages V, then branch currents A).

    ``method="auto"``: Newton with junction limiting from x = 0; if it fails, source stepping (all
    independent sources ramped from 0 with an adaptive step), then gmin stepping (1 mS across every
    device terminal pair, a decade at a time down to 0 extra). ``"newton"``, ``"source"`` or
    ``"gmin"`` runs only that strategy. ``x_start`` (with ``"auto"`` or ``"newton"``), a nearby
    operating point (of a circuit that differs a little, say), is tried first as Newton's starting point;
    if Newton fails from there the strategies above follow. Then, when ``eqs.refine_dc`` (or
    ``refine_steps`` > 0), up to ``refine_steps`` (default 3) Newton steps on the full MNA equations
    (:func:`refine`). Raises :class:`ConvergenceError` if no strategy converges.
    """
    if method not in DC_METHODS:
        raise ValueError(f"unknown DC method {method!r}")
    grid = FourierGrid.make(0, 1)
    m = len(eqs.ports)
    lin = reduce_to_ports(eqs, 0.0, 0)
    W1 = lin.U_dc[eqs.ports][:, None]
    zero = np.zeros((m, 1))
    V, ok = zero, m == 0
    if not ok and x_start is not None and method in ("auto", "newton"):
        V0 = x_start[eqs.ports][:, None]
        V, _, ok = newton(eqs, lin, W1, V0, eqs.terminal_voltages(V0, grid), grid, min(max_iter, _WARM_ITER))
    if not ok and method in ("auto", "newton"):
        V, _, ok = newton(eqs, lin, W1, zero, eqs.terminal_voltages(zero, grid), grid, max_iter)
    if not ok and method in ("auto", "source"):
        try:
            V, _, _ = continuation(
                eqs, lambda a, V0, vo: newton(eqs, lin, a * W1, V0, vo, grid, 60),
                zero, lambda V, a0, a1: V, grid, "DC source stepping")
            ok = True
        except ConvergenceError:
            ok = False
    if not ok and method in ("auto", "gmin"):
        V = _gmin_stepping(eqs, grid, max_iter)
        ok = True
    if not ok:
        raise ConvergenceError(f"DC operating point: {method} did not converge")
    if m == 0:
        return lin.U_dc.copy()
    I_port = eqs.port_currents(V, grid)
    x: FloatArray = lin.U_dc - (lin.R[0].real @ I_port[:, 0])
    steps = (3 if eqs.refine_dc else 0) if refine_steps is None else refine_steps
    return refine(eqs, x, steps) if steps > 0 else x


def refine(eqs: MNAEquations, x: FloatArray, max_steps: int = 3) -> FloatArray:
    """Newton steps on the full MNA equations ``G x + i(x) = b`` from a converged port solution x, kept
    while they reduce the largest residual.

    The port equations are solved in volts at the ports; a node whose only DC path to ground is GMIN (an
    ideal current source into a device) sees an open-circuit response of ~I/GMIN, so rebuilding x from
    the port solution cancels numbers of 1e8 V and leaves errors of ~1e-8 V. A few full Newton steps at
    the solution (no limiting needed) remove them (the residual drops to rounding level).
    """
    r = eqs.residual(x)
    best = float(np.max(np.abs(r)))
    for _ in range(max_steps):
        try:
            x_new = x + np.linalg.solve(eqs.jacobian(x), -r)
        except np.linalg.LinAlgError:
            break
        r_new = eqs.residual(x_new)
        worst = float(np.max(np.abs(r_new)))
        if not worst < best:
            break
        x, r, best = x_new, r_new, worst
    return x


def _terminal_laplacian(eqs: MNAEquations) -> FloatArray:
    """(n, n) stamp of a unit conductance across every pair of device terminals."""
    lap = np.zeros((eqs.size, eqs.size))
    for dev in eqs.devices:
        t = dev.terminals
        for i1 in range(len(t)):
            for i2 in range(i1 + 1, len(t)):
                a, b = t[i1], t[i2]
                for u, w in ((a, a), (b, b)):
                    if u >= 0:
                        lap[u, w] += 1.0
                if a >= 0 and b >= 0:
                    lap[a, b] -= 1.0
                    lap[b, a] -= 1.0
    return lap


def _gmin_stepping(eqs: MNAEquations, grid: FourierGrid, max_iter: int) -> FloatArray:
    """Port coefficients (m, 1) of the DC point, reached by stepping an extra conductance across every
    transistor terminal pair from 1 mS down to 0 a decade at a time, each solve starting from the last."""
    m = len(eqs.ports)
    V = np.zeros((m, 1))
    lap = _terminal_laplacian(eqs)
    for g in [10.0 ** -e for e in range(3, 13)] + [0.0]:
        lin = reduce_to_ports(eqs, 0.0, 0, g * lap)
        V, _, ok = newton(eqs, lin, lin.U_dc[eqs.ports][:, None], V, eqs.terminal_voltages(V, grid), grid,
                          max_iter)
        if not ok:
            raise ConvergenceError(f"DC operating point: gmin stepping failed at gmin = {g:g} S")
    return V
