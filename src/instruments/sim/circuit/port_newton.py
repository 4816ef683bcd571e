"""The Newton kernel DC and harmonic balance share: the linear part reduced to the transistor ports, and
Newton on the Fourier coefficients of the port voltages, with continuation when it fails.

The linear part is reduced, harmonic by harmonic, to its impedance matrix seen from the ports (the
piecewise harmonic balance of Nakhla and Vlach, IEEE Trans. CAS 23(2), 1976). The port equations are
``F(V) = V + Z (I(V) + Omega Q(V)) - W = 0``: V the real Fourier coefficients of the port voltages, I(V)
and Q(V) those of the device currents and charges (evaluated in the time domain on the grid's samples),
Omega the derivative operator, W the ports' open-circuit response to the sources (Kundert, White and
Sangiovanni-Vincentelli, "Steady-State Methods for Simulating Analog and Microwave Circuits", Kluwer
1990). DC is the same problem with K = 0 harmonics, where the charges drop out.
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
from .fourier import FourierGrid, apply_impedance, conversion_matrix, time_derivative
from .mna import MNAEquations

_ABSTOL_V = 1e-12
_RELTOL = 1e-12
_VNTOL_V = 1e-6
_STALL_STEPS = 3

#: ``solve(alpha, V0, v_old) -> (V, iterations, converged)`` at one value of a continuation parameter
StepSolver = Callable[[float, FloatArray, list[FloatArray]], tuple[FloatArray, int, bool]]
#: ``guess(V, alpha_from, alpha_to) -> V0``, the first continuation step's starting point
FirstGuess = Callable[[FloatArray, float, float], FloatArray]


@dataclass
class LinearPart:
    """The linear part reduced to the ports for harmonics 0..K at one fundamental frequency.

    ``Zc[k]`` (m, m) = P Y_k^-1 P^T, ``R[k]`` (n, m) = Y_k^-1 P^T, ``U[k]`` (n,) = Y_k^-1 B_k per unit
    of the DC and of the AC excitation, with ``Y_k = G + j k w C``; ``omega_rad_s`` = w.
    """

    Zc: ComplexArray
    R: ComplexArray
    U_dc: FloatArray
    U_ac: ComplexArray
    omega_rad_s: float = 0.0


def reduce_to_ports(eqs: MNAEquations, freq_hz: float, K: int, g_extra: FloatArray | None = None,
                    c_extra: FloatArray | None = None) -> LinearPart:
    """The linear part at harmonics 0..K of ``freq_hz`` (Hz), with ``g_extra`` (S) added to G and
    ``c_extra`` (F) to C if given."""
    n, m = eqs.size, len(eqs.ports)
    k = np.arange(K + 1)
    G = eqs.G if g_extra is None else eqs.G + g_extra
    C = eqs.C if c_extra is None else eqs.C + c_extra
    Y = G[None, :, :] + 1j * (2.0 * np.pi * freq_hz * k)[:, None, None] * C[None, :, :]
    rhs = np.zeros((K + 1, n, m + 2), dtype=complex)
    rhs[:, eqs.ports, np.arange(m)] = 1.0
    rhs[0, :, m] = eqs.b_dc
    if K >= 1:
        rhs[1, :, m + 1] = eqs.b_ac
    # numpy's stubs widen solve() of complex input to complexfloating[Any, Any]
    sol = cast(ComplexArray, np.linalg.solve(Y, rhs))
    u_ac = sol[1, :, m + 1] if K else np.zeros(n, complex)
    return LinearPart(sol[:, eqs.ports, :m], sol[:, :, :m], sol[0, :, m].real, u_ac, 2.0 * np.pi * freq_hz)


def newton(eqs: MNAEquations, lin: LinearPart, W: FloatArray, V0: FloatArray, v_old: list[FloatArray],
           grid: FourierGrid, max_iter: int) -> tuple[FloatArray, int, bool]:
    """Newton iteration on port Fourier coefficients; returns ``(V, iterations, converged)``.

    Solves ``F(V) = V + Z (I(V) + Omega Q(V)) - W = 0`` (V and W real coefficient arrays (m, 2K+1), Z per
    harmonic) with the exact Jacobian ``1 + Z (Gamma_g + Omega Gamma_c)``, Gamma the conversion matrices
    of the sampled device conductances and capacitances (Kundert and Sangiovanni-Vincentelli, IEEE Trans.
    CAD 5(4), 1986; Kundert, White and Sangiovanni-Vincentelli 1990). Converged when the update is below
    1e-12 V (+1e-12 relative) with no limiting. ``v_old`` is the limiting reference
    (:meth:`MNAEquations.sampled_currents`), updated in place.
    """
    m, K = len(eqs.ports), grid.K
    M = m * (2 * K + 1)
    V = V0.copy()
    eye = np.eye(M)
    charges = lin.omega_rad_s != 0.0 and eqs.has_charges
    recent: list[float] = []
    with np.errstate(all="ignore"), one_blas_thread():
        for it in range(1, max_iter + 1):
            if charges:
                i_port, gam4, limited = _charged_port_terms(eqs, lin.omega_rad_s, V, v_old, grid)
                F = V + apply_impedance(lin.Zc, i_port, K) - W
                gam = gam4.reshape(m, 2 * K + 1, M)
            else:
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
            if eqs.refine_dc and not limited and _stalled(recent, step):
                return V, it, True
            recent.append(step)
    return V, max_iter, False


def _stalled(recent: list[float], step: float) -> bool:
    """Newton has reached its rounding floor: the step is below SPICE's node-voltage tolerance VNTOL = 1 uV
    (Nagel 1975) and has not shrunk over the last :data:`_STALL_STEPS` steps.

    A node whose only DC path to ground is GMIN (a tail node fed by a transistor, say) gives the port
    impedance entries of ~1/GMIN = 1e12 Ohm, so rounding of the device currents (~1e-20 A) reappears as
    ~1e-8 V at the ports and the strict test above can never pass. Only circuits marked ``refine_dc`` (every
    netlist that uses more than the original elements) accept this; their DC point is then refined on the full
    MNA equations (:func:`.dc.refine`), which are not ill-conditioned that way."""
    if step > _VNTOL_V or len(recent) < _STALL_STEPS:
        return False
    return step >= 0.5 * min(recent[-_STALL_STEPS:])


def _charged_port_terms(eqs: MNAEquations, omega_rad_s: float, V: FloatArray, v_old: list[FloatArray],
                        grid: FourierGrid) -> tuple[FloatArray, FloatArray, bool]:
    """``I(V) + Omega Q(V)`` (m, 2K+1) and its conversion matrix ``Gamma_g + Omega Gamma_c``
    (m, 2K+1, m, 2K+1) at port coefficients V, with limiting; and whether anything was limited."""
    i_t, g_t, q_t, c_t, limited = eqs.sampled_state(V @ grid.S.T, v_old, True)
    assert q_t is not None and c_t is not None
    i_port = i_t @ grid.A.T + time_derivative(q_t @ grid.A.T, omega_rad_s, grid.K)
    gam = conversion_matrix(g_t, grid) + time_derivative(conversion_matrix(c_t, grid), omega_rad_s, grid.K)
    return i_port, gam, limited


def port_residual(eqs: MNAEquations, lin: LinearPart, W: FloatArray, V: FloatArray, grid: FourierGrid) -> float:
    """max |F(V)| of the port equations (V), devices evaluated without limiting; inf if not finite."""
    with np.errstate(all="ignore"):
        i_port = eqs.port_currents(V, grid, lin.omega_rad_s)
        F = V + apply_impedance(lin.Zc, i_port, grid.K) - W
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
