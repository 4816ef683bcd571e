"""The Newton kernel DC and harmonic balance share: the linear part reduced to the transistor ports, and
Newton on the Fourier coefficients of the port voltages, with continuation when it fails.

The linear part is reduced, harmonic by harmonic, to its impedance matrix seen from the ports (the
piecewise harmonic balance of Nakhla and Vlach, IEEE Trans. CAS 23(2), 1976). The port equations are
``F(V) = V + Z I(V) - W = 0``: V the real Fourier coefficients of the port voltages, I(V) those of the
device currents (evaluated in the time domain on the grid's samples), W the ports' open-circuit response
to the sources. DC is the same problem with K = 0 harmonics.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np

from ..arrays import ComplexArray, FloatArray
from .blas import one_blas_thread
from .errors import ConvergenceError
from .fourier import FourierGrid, apply_impedance, conversion_matrix
from .mna import MNAEquations

_ABSTOL_V = 1e-12
_RELTOL = 1e-12

#: ``solve(alpha, V0, v_old) -> (V, iterations, converged)`` at one value of a continuation parameter
StepSolver = Callable[[float, FloatArray, list[FloatArray]], tuple[FloatArray, int, bool]]
#: ``guess(V, alpha_from, alpha_to) -> V0``, the first continuation step's starting point
FirstGuess = Callable[[FloatArray, float, float], FloatArray]


@dataclass
class LinearPart:
    """The linear part reduced to the ports for harmonics 0..K at one fundamental frequency.

    ``Zc[k]`` (m, m) = P Y_k^-1 P^T, ``R[k]`` (n, m) = Y_k^-1 P^T, ``U[k]`` (n,) = Y_k^-1 B_k per unit
    of the DC and of the AC excitation, with ``Y_k = G + j k w C``.
    """

    Zc: ComplexArray
    R: ComplexArray
    U_dc: FloatArray
    U_ac: ComplexArray


def reduce_to_ports(eqs: MNAEquations, freq_hz: float, K: int, g_extra: FloatArray | None = None) -> LinearPart:
    """The linear part at harmonics 0..K of ``freq_hz`` (Hz), with ``g_extra`` (S) added to G if given."""
    n, m = eqs.size, len(eqs.ports)
    k = np.arange(K + 1)
    G = eqs.G if g_extra is None else eqs.G + g_extra
    Y = G[None, :, :] + 1j * (2.0 * np.pi * freq_hz * k)[:, None, None] * eqs.C[None, :, :]
    rhs = np.zeros((K + 1, n, m + 2), dtype=complex)
    rhs[:, eqs.ports, np.arange(m)] = 1.0
    rhs[0, :, m] = eqs.b_dc
    if K >= 1:
        rhs[1, :, m + 1] = eqs.b_ac
    # numpy's stubs widen solve() of complex input to complexfloating[Any, Any]
    sol = cast(ComplexArray, np.linalg.solve(Y, rhs))
    u_ac = sol[1, :, m + 1] if K else np.zeros(n, complex)
    return LinearPart(sol[:, eqs.ports, :m], sol[:, :, :m], sol[0, :, m].real, u_ac)


def newton(eqs: MNAEquations, lin: LinearPart, W: FloatArray, V0: FloatArray, v_old: list[FloatArray],
           grid: FourierGrid, max_iter: int) -> tuple[FloatArray, int, bool]:
    """Newton iteration on port Fourier coefficients; returns ``(V, iterations, converged)``.

    Solves ``F(V) = V + Z I(V) - W = 0`` (V and W real coefficient arrays (m, 2K+1), Z per harmonic)
    with the exact Jacobian ``1 + Z Gamma``, Gamma the conversion matrix of the sampled device
    conductances (Kundert and Sangiovanni-Vincentelli, IEEE Trans. CAD 5(4), 1986). Converged when the
    update is below 1e-12 V (+1e-12 relative) with no limiting. ``v_old`` is the limiting reference
    (:meth:`MNAEquations.sampled_currents`), updated in place.
    """
    m, K = len(eqs.ports), grid.K
    M = m * (2 * K + 1)
    V = V0.copy()
    eye = np.eye(M)
    with np.errstate(all="ignore"), one_blas_thread():
        for it in range(1, max_iter + 1):
            i_t, g_t, limited = eqs.sampled_currents(V @ grid.S.T, v_old)
            F = V + apply_impedance(lin.Zc, i_t @ grid.A.T, K) - W
            gam = conversion_matrix(g_t, grid).reshape(m, 2 * K + 1, M)
            J = apply_impedance(lin.Zc, gam, K).reshape(M, M)
            J += eye
            try:
                dV = np.linalg.solve(J, -F.ravel()).reshape(m, 2 * K + 1)
            except np.linalg.LinAlgError:
                return V, it, False
            if not np.all(np.isfinite(dV)):
                return V, it, False
            V = V + dV
            step = float(np.max(np.abs(dV)))
            if not limited and step <= _ABSTOL_V + _RELTOL * float(np.max(np.abs(V))):
                return V, it, True
    return V, max_iter, False


def port_residual(eqs: MNAEquations, lin: LinearPart, W: FloatArray, V: FloatArray, grid: FourierGrid) -> float:
    """max |F(V)| of the port equations (V), devices evaluated without limiting; inf if not finite."""
    with np.errstate(all="ignore"):
        i_t, _, _ = eqs.sampled_currents(V @ grid.S.T, None)
        F = V + apply_impedance(lin.Zc, i_t @ grid.A.T, grid.K) - W
        r = float(np.max(np.abs(F)))
    return r if math.isfinite(r) else math.inf


def continuation(eqs: MNAEquations, solve: StepSolver, V_start: FloatArray, guess: FirstGuess,
                 grid: FourierGrid, what: str) -> tuple[FloatArray, int, int]:
    """Step a parameter alpha from 0 (solution V_start) to 1, adapting the step; returns (V, iters, steps).

    The first step starts from ``guess``; later ones from the secant through the last two solutions. Each
    step's limiting reference is the last solution's terminal voltages. Raises :class:`ConvergenceError`
    (naming ``what``) when the step falls below 1e-5 or after 400 steps.
    """
    alpha, step, V, total, steps = 0.0, 0.25, V_start, 0, 0
    prev: tuple[float, FloatArray] | None = None
    while alpha < 1.0:
        a_next = min(1.0, alpha + step)
        if prev is None:
            V0 = guess(V, alpha, a_next)
        else:
            V0 = V + (V - prev[1]) * ((a_next - alpha) / (alpha - prev[0]))
        V_try, its, ok = solve(a_next, V0, eqs.terminal_voltages(V, grid))
        total += its
        steps += 1
        if ok:
            prev = (alpha, V)
            alpha, V = a_next, V_try
            step = min(2.0 * step, 0.5)
        else:
            step *= 0.25
            if step < 1e-5 or steps > 400:
                raise ConvergenceError(f"{what}: continuation stalled at alpha = {alpha:.6g}")
    return V, total, steps
