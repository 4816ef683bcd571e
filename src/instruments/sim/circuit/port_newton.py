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
from .branch_newton import BranchStep
from .errors import ConvergenceError
from .fourier import FourierGrid, apply_impedance, conversion_matrix
from .mna import MNAEquations

_ABSTOL_V = 1e-12
_RELTOL = 1e-12
_VNTOL_V = 1e-6
_STALL_STEPS = 3
_CHORD_RATE = 0.125  # a kept Jacobian's step must shrink at least this much (<= 1/2, see newton)

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

    With harmonics the step is solved through the devices' independent currents (:mod:`.branch_newton`)
    and the factored Jacobian is kept while the steps it gives shrink by :data:`_CHORD_RATE` or faster (the
    chord method, Ortega and Rheinboldt, "Iterative Solution of Nonlinear Equations in Several Variables",
    1970, section 7.1), else rebuilt at the current point (at DC, every step). A chord step that meets the
    test above leaves an error of up to ~1/7 of itself where an exact step leaves ~its square, so chord
    steps go on to the rounding floor (until a step no longer halves) before the iteration stops. At the
    rounding floor of :func:`_stalled` a Jacobian rebuilt there (within VNTOL of the solution) is kept for
    steps below VNTOL: rebuilding it again would change the step by far less than its rounding noise.
    """
    V = V0.copy()
    step: BranchStep | _DCStep = (BranchStep(eqs, lin.Zc, lin.omega_rad_s, grid) if grid.K >= 1
                                  else _DCStep(eqs, lin, grid))
    recent: list[float] = []
    polish = floor_jacobian = False
    with np.errstate(all="ignore"), one_blas_thread():
        for it in range(1, max_iter + 1):
            F, limited = step.evaluate(V, W, v_old)
            last = recent[-1] if recent else math.inf
            if polish and not limited:
                chord = step.solve(F)
                size = float(np.max(np.abs(chord)))
                if not size <= 0.5 * last:  # the rounding floor (or a non-finite step): V is as good as it gets
                    return V, it, True
                V = V + chord
                recent.append(size)
                continue
            dV, exact = _update(step, F, last, floor_jacobian)
            if dV is None:
                return V, it, False
            if exact:
                floor_jacobian = eqs.refine_dc and last <= _VNTOL_V
            V = V + dV
            step_v = float(np.max(np.abs(dV)))
            if not limited and step_v <= _ABSTOL_V + _RELTOL * float(np.max(np.abs(V))):
                if exact:
                    return V, it, True
                polish = True
            elif eqs.refine_dc and not limited and _stalled(recent, step_v):
                return V, it, True
            recent.append(step_v)
    return V, max_iter, polish


def _update(step: BranchStep | _DCStep, F: FloatArray, last_step_v: float, floor_jacobian: bool
            ) -> tuple[FloatArray | None, bool]:
    """The Newton update for residual F and whether it is exact: a chord step with the factored Jacobian if
    it shrinks the step by :data:`_CHORD_RATE` or more (or is below VNTOL with ``floor_jacobian``, a
    Jacobian built at the rounding floor), else an exact step with the Jacobian rebuilt; None if that
    fails."""
    if isinstance(step, BranchStep) and step.factored:
        dV = step.solve(F)
        size = float(np.max(np.abs(dV)))
        if math.isfinite(size) and (size <= _CHORD_RATE * last_step_v or (floor_jacobian and size <= _VNTOL_V)):
            return dV, False
    if not step.refresh():
        return None, True
    dV = step.solve(F)
    return (dV if np.all(np.isfinite(dV)) else None), True


class _DCStep:
    """Newton steps of the port equations without harmonics (DC), on the port Jacobian itself; the
    interface of :class:`.branch_newton.BranchStep`."""

    def __init__(self, eqs: MNAEquations, lin: LinearPart, grid: FourierGrid) -> None:
        self.eqs, self.lin, self.grid = eqs, lin, grid
        self.eye = np.eye(len(eqs.ports) * (2 * grid.K + 1))
        self._g_t: FloatArray | None = None
        self._J: FloatArray | None = None

    def evaluate(self, V: FloatArray, W: FloatArray, v_old: list[FloatArray]) -> tuple[FloatArray, bool]:
        """``(F, limited)`` as :meth:`.branch_newton.BranchStep.evaluate`."""
        grid = self.grid
        i_t, self._g_t, limited = self.eqs.sampled_currents(V @ grid.S.T, v_old)
        F: FloatArray = V + apply_impedance(self.lin.Zc, i_t @ grid.A.T, grid.K) - W
        return F, limited

    def refresh(self) -> bool:
        """The port Jacobian ``1 + Z Gamma`` at the last evaluated point (factored by :meth:`solve`)."""
        assert self._g_t is not None
        m, K = len(self.eqs.ports), self.grid.K
        M = m * (2 * K + 1)
        gam = conversion_matrix(self._g_t, self.grid).reshape(m, 2 * K + 1, M)
        self._J = apply_impedance(self.lin.Zc, gam, K).reshape(M, M) + self.eye
        return True

    def solve(self, F: FloatArray) -> FloatArray:
        """``-J^-1 F`` (V), or NaN when J is singular."""
        assert self._J is not None
        try:
            dV = cast(FloatArray, np.linalg.solve(self._J, -F.ravel())).reshape(F.shape)
        except np.linalg.LinAlgError:
            dV = np.full_like(F, np.nan)
        return dV


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
