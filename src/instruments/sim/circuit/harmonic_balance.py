"""Periodic steady state under sinusoidal sources of one frequency: harmonic balance (HB).

The linear part is reduced to the transistor ports harmonic by harmonic (:mod:`.port_newton`, after Nakhla
and Vlach, IEEE Trans. CAS 23(2), 1976); the nonlinear currents are evaluated in the time domain on an
oversampled grid and Newton iterates on the Fourier coefficients of the port voltages with the exact
Jacobian (conversion matrices built from the FFT of the device conductances), as in Kundert and
Sangiovanni-Vincentelli, "Simulation of nonlinear circuits in the frequency domain", IEEE Trans. CAD 5(4),
1986, and Kundert, White and Sangiovanni-Vincentelli, "Steady-State Methods for Simulating Analog and
Microwave Circuits", Kluwer 1990 (the harmonic-balance chapters). Linear capacitors and inductors are solved
exactly per harmonic, so HB converges the same way at 1 Hz as at 100 MHz whatever the time constants are
relative to the period. The devices' nonlinear charges enter exactly, as ``Omega Q(V)`` next to the
currents; capacitances defined only as derivatives (Meyer's MOS gate capacitances) are held at their
values at the DC operating point and solved with the linear part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..arrays import ComplexArray, FloatArray
from .errors import ConvergenceError
from .fourier import FourierGrid, real_to_complex
from .mna import MNAEquations
from .port_newton import LinearPart, continuation, newton, port_residual, reduce_to_ports
from .small_signal import solve_ac

HB_STARTS = ("auto", "linear", "quasi-static", "continuation")


@dataclass
class HBSolution:
    """Periodic steady state: ``X[i, k]`` complex coefficient of MNA variable i at harmonic k (c_0 real)."""

    freq_hz: float
    X: ComplexArray
    iterations: int
    continuation_steps: int


@dataclass
class _PortProblem:
    """The HB equations at the ports at one frequency, as real coefficient arrays (m, 2K+1): the ports'
    open-circuit response to the sources (``W_dc`` + ``W_ac`` = ``W``, V), the DC operating point ``V_dc``
    and the linear (AC) response about it ``lin_ac`` (V)."""

    eqs: MNAEquations
    grid: FourierGrid
    lin: LinearPart
    W_dc: FloatArray
    W_ac: FloatArray
    W: FloatArray
    V_dc: FloatArray
    lin_ac: FloatArray


def solve_hb(eqs: MNAEquations, freq_hz: float, n_harmonics: int, x_dc: FloatArray, oversample: int = 2,
             max_iter: int = 60, start: str = "auto") -> HBSolution:
    """Periodic steady state with the sources' AC phasors ``b_ac`` at ``freq_hz`` (Hz).

    ``x_dc`` is the DC operating point (:func:`.dc.solve_dc`); harmonics 0..``n_harmonics`` are kept and
    the device currents are sampled at ``N = 2^ceil(log2(oversample (2K+1)))`` points per period.
    ``start="auto"`` starts Newton from whichever of the linear (AC) response about ``x_dc`` and the
    quasi-static waveform has the smaller residual, and falls back to continuation (the AC amplitude
    stepped up from 0) if Newton fails; ``"linear"``, ``"quasi-static"`` force the starting point and
    ``"continuation"`` goes straight to continuation. Raises :class:`ConvergenceError` on failure.
    """
    if start not in HB_STARTS:
        raise ValueError(f"unknown start {start!r}")
    K = int(n_harmonics)
    if K < 1:
        raise ValueError("n_harmonics must be >= 1")
    N = 1 << int(math.ceil(math.log2(oversample * (2 * K + 1))))
    grid = FourierGrid.make(K, N)
    lin = reduce_to_ports(eqs, freq_hz, K, c_extra=eqs.bias_capacitance(x_dc))
    X = np.zeros((eqs.size, K + 1), dtype=complex)
    X[:, 0] = lin.U_dc
    X[:, 1] += lin.U_ac
    if len(eqs.ports) == 0:
        return HBSolution(float(freq_hz), X, 0, 0)
    prob = _port_problem(eqs, grid, lin, freq_hz, x_dc)
    V, iters, ok = (prob.V_dc, 0, False) if start == "continuation" else _newton_from_start(prob, start, max_iter)
    steps = 0
    if not ok:
        if start in ("linear", "quasi-static"):
            raise ConvergenceError(f"harmonic balance at {freq_hz:g} Hz: Newton from the {start} start failed")
        V, its, steps = _amplitude_continuation(prob, freq_hz)
        iters += its
    I_port = real_to_complex(eqs.port_currents(V, grid, lin.omega_rad_s), K)  # (m, K+1)
    X -= np.einsum("knm,mk->nk", lin.R, I_port)
    X[:, 0] = X[:, 0].real
    return HBSolution(float(freq_hz), X, iters, steps)


def _port_problem(eqs: MNAEquations, grid: FourierGrid, lin: LinearPart, freq_hz: float,
                  x_dc: FloatArray) -> _PortProblem:
    """The port equations' right-hand sides and reference points at ``freq_hz``."""
    m, K = len(eqs.ports), grid.K
    W_dc = np.zeros((m, 2 * K + 1))
    W_dc[:, 0] = lin.U_dc[eqs.ports]
    W_ac = np.zeros((m, 2 * K + 1))
    w1 = lin.U_ac[eqs.ports]
    W_ac[:, 1], W_ac[:, K + 1] = w1.real, -w1.imag
    V_dc = np.zeros((m, 2 * K + 1))
    V_dc[:, 0] = x_dc[eqs.ports]
    # linear response about the DC point: port part of (J + jwC)^-1 b_ac
    x1 = solve_ac(eqs, x_dc, np.array([freq_hz]), eqs.b_ac[:, None])[0, :, 0]
    lin_ac = np.zeros((m, 2 * K + 1))
    lin_ac[:, 1], lin_ac[:, K + 1] = x1[eqs.ports].real, -x1[eqs.ports].imag
    return _PortProblem(eqs, grid, lin, W_dc, W_ac, W_dc + W_ac, V_dc, lin_ac)


def _newton_from_start(prob: _PortProblem, start: str, max_iter: int) -> tuple[FloatArray, int, bool]:
    """Newton from the best of the requested starting points; ``(V, iterations, converged)``.

    The linear response is a good start for small drive or when capacitors filter the harmonics, the
    quasi-static waveform for large drive at low frequency.
    """
    eqs, lin, grid = prob.eqs, prob.lin, prob.grid
    candidates: list[FloatArray] = []
    if start in ("auto", "linear"):
        candidates.append(prob.V_dc + prob.lin_ac)
    if start in ("auto", "quasi-static"):
        qs = _quasi_static_start(prob)
        if qs is not None:
            candidates.append(qs)
    if not candidates:
        return prob.V_dc, 0, False
    V0 = min(candidates, key=lambda c: port_residual(eqs, lin, prob.W, c, grid))
    # limiting reference: the DC point for the (possibly wild) linear guess, else the guess
    ref = prob.V_dc if start != "quasi-static" and V0 is candidates[0] else V0
    return newton(eqs, lin, prob.W, V0, eqs.terminal_voltages(ref, grid), grid, max_iter)


def _quasi_static_start(prob: _PortProblem) -> FloatArray | None:
    """The quasi-static waveform under the sources' open-circuit port drive (capacitors ignored)."""
    eqs, lin, grid = prob.eqs, prob.lin, prob.grid
    u0 = np.linalg.solve(eqs.G, eqs.b_ac)[eqs.ports]
    theta = 2.0 * np.pi * np.arange(grid.N) / grid.N
    w_t = lin.U_dc[eqs.ports].real[:, None] + (u0[:, None] * np.exp(1j * theta)[None, :]).real
    return quasi_static(eqs, lin.Zc[0].real, w_t, prob.V_dc, grid)


def quasi_static(eqs: MNAEquations, Z0: FloatArray, w_t: FloatArray, V_dc: FloatArray, grid: FourierGrid,
                 max_iter: int = 100) -> FloatArray | None:
    """Quasi-static waveform: the DC solution at each sample instant, as coefficients (m, 2K+1), V.

    Solves ``v_n + Z_0 i(v_n) = w_n`` independently for each sample n (capacitors ignored), a
    vectorised DC Newton with junction limiting. Exact at frequencies well below the circuit's poles,
    so it is a good starting point for harmonic balance under large drive. None if it fails.
    """
    m, N = w_t.shape
    vt = np.repeat(V_dc[:, :1], N, axis=1)
    v_old = eqs.terminal_voltages(V_dc, grid)
    eye = np.eye(m)
    # only a starting point: ports that see ground only through GMIN (a cascode's inner node, a transistor
    # tail) leave ~1e-8 V of rounding the iteration cannot remove, so it also stops once the step is below
    # SPICE's node tolerance VNTOL = 1 uV and no longer shrinking (harmonic balance's Newton finishes the job)
    steps: list[float] = []
    with np.errstate(all="ignore"):
        for _ in range(max_iter):
            i_t, g_t, limited = eqs.sampled_currents(vt, v_old)
            F = vt + Z0 @ i_t - w_t
            J = eye[None] + np.einsum("pq,qrn->npr", Z0, g_t)
            try:
                dv = np.linalg.solve(J, -F.T[:, :, None])[:, :, 0].T
            except np.linalg.LinAlgError:
                return None
            if not np.all(np.isfinite(dv)):
                return None
            vt = vt + dv
            step = float(np.max(np.abs(dv)))
            stalled = step <= 1e-6 and len(steps) >= 3 and step >= 0.5 * min(steps[-3:])
            if not limited and (step <= 1e-9 or stalled):
                coeffs: FloatArray = vt @ grid.A.T
                return coeffs
            steps.append(step)
    return None


def _amplitude_continuation(prob: _PortProblem, freq_hz: float) -> tuple[FloatArray, int, int]:
    """The AC drive stepped up from 0 (the DC point) to full amplitude; ``(V, iterations, steps)``."""
    eqs, lin, grid = prob.eqs, prob.lin, prob.grid

    def guess(Vp: FloatArray, a0: float, a1: float) -> FloatArray:
        """From 0: the linear response scaled to ``a1``; else ``Vp``'s harmonics scaled by ``a1/a0``."""
        if a0 == 0.0:
            return prob.V_dc + a1 * prob.lin_ac
        Vg = Vp.copy()
        Vg[:, 1:] *= a1 / a0
        return Vg

    return continuation(eqs, lambda a, V0, vo: newton(eqs, lin, prob.W_dc + a * prob.W_ac, V0, vo, grid, 30),
                        prob.V_dc, guess, grid, f"harmonic balance at {freq_hz:g} Hz")
