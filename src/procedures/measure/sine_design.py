"""Sine fits through the design matrix, on any time axis: the linear least squares and the Gauss-Newton frequency fit.

The machinery behind ``procedures.measure.phasors`` (docs/reference/measurement-methods.md §1.1, §1.2, after IEEE
Std 1057 and IEEE 1241): the 3-parameter design ``[1, cos wt, sin wt, cos 2wt, sin 2wt, ...]`` with harmonics 2..K
(§1.1), its least-squares solve with the covariance ``sigma^2 (D^T D)^-1`` (§1.3), the axis's median step and the
harmonic count it allows below the Nyquist frequency, the ranking of channels by fit-domain SNR (§1.5) and the
Gauss-Newton iterations of the 4-parameter fit (sfit4, §1.2) on centred times. Times in s, frequencies in Hz
(``omega`` in rad/s), samples in V. Evenly spaced axes have a cheaper path to the same numbers:
procedures/measure/uniform_sine_fit.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _design(t: np.ndarray, omega: float, n_harmonics: int, extra_rows: int = 0) -> np.ndarray:
    """Columns ``[1, cos wt, sin wt, cos 2wt, sin 2wt, ...]`` (IEEE 1057 3-parameter form, §1.1).

    Harmonics come from the angle-addition recurrence on the fundamental (two transcendental calls per
    sample instead of 2K); its rounding error grows like k * 1e-16, far below any ADC's resolution. The
    matrix is built column by column in contiguous memory (returned as a transposed view, which BLAS
    takes as it is); ``extra_rows`` leaves that many columns at the end for the caller to fill.
    """
    rows = np.empty((1 + 2 * n_harmonics + extra_rows, t.size))
    rows[0] = 1.0
    np.multiply(omega, t, out=rows[1])
    np.sin(rows[1], out=rows[2])
    np.cos(rows[1], out=rows[1])
    c1, s1 = rows[1], rows[2]
    tmp = np.empty(t.size) if n_harmonics > 1 else None
    for k in range(2, n_harmonics + 1):
        cp, sp, ck, sk = rows[2 * k - 3], rows[2 * k - 2], rows[2 * k - 1], rows[2 * k]
        np.multiply(cp, c1, out=ck)
        np.subtract(ck, np.multiply(sp, s1, out=tmp), out=ck)
        np.multiply(sp, c1, out=sk)
        np.add(sk, np.multiply(cp, s1, out=tmp), out=sk)
    return rows.T


def _gram_solve(G: np.ndarray, R: np.ndarray, D: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Least-squares coefficients of ``Y ~ D coef`` from the Gram matrix ``G = D^T D`` and ``R = D^T Y``
    (Cholesky) when it is well conditioned, else SVD-based ``lstsq`` on ``D`` itself (§1.1 advises against bare
    normal equations on ill-conditioned problems; records of a few periods or more have near-orthogonal
    columns, so the Cholesky path is the usual one)."""
    if np.linalg.cond(G) < 1e8:
        L = np.linalg.cholesky(G)
        return np.asarray(np.linalg.solve(L.T, np.linalg.solve(L, R)))
    return np.asarray(np.linalg.lstsq(D, Y, rcond=None)[0])


def _solve(D: np.ndarray, Y: np.ndarray, G: np.ndarray | None = None, R: np.ndarray | None = None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least squares for several channels (columns of ``Y``) at once: coefficients, residual variance,
    ``(D^T D)^-1``; ``G``/``R`` are ``D^T D`` and ``D^T Y`` when the caller has them already."""
    G = D.T @ D if G is None else G
    R = D.T @ Y if R is None else R
    n, p = D.shape
    coef = _gram_solve(G, R, D, Y)
    Ginv = np.linalg.inv(G) if np.linalg.cond(G) < 1e8 else np.linalg.pinv(G)
    resid = Y - D @ coef
    dof = max(n - p, 1)
    sigma2 = np.einsum("ij,ij->j", resid, resid) / dof
    return coef, sigma2, Ginv


def _median_step(t: np.ndarray) -> float:
    """The median sample step of the axis ``t`` (s), as ``np.median(np.diff(t))`` (the steps partly sorted in
    place)."""
    d = np.diff(t)
    k = d.size // 2
    if d.size % 2:
        d.partition(k)
        return float(d[k])
    d.partition((k - 1, k))
    return float((d[k - 1] + d[k]) / 2)


def _harmonic_count(frequency_hz: float, t: np.ndarray, n_harmonics: int) -> int:
    """Harmonics fitted: ``n_harmonics``, fewer where they would pass the Nyquist frequency, at least 1."""
    return _harmonic_count_step(frequency_hz, _median_step(t) if t.size > 1 else 0.0, t.size, n_harmonics)


def _harmonic_count_step(frequency_hz: float, step_s: float, n: int, n_harmonics: int) -> int:
    """:func:`_harmonic_count` from the axis's median step ``step_s`` (s) and its length ``n``."""
    nyq_harmonics = int(np.floor(0.5 / (frequency_hz * step_s))) if n > 1 else 1
    return max(1, min(n_harmonics, nyq_harmonics))


def _cleanest(Y: np.ndarray, B: np.ndarray, G: np.ndarray, R: np.ndarray) -> int:
    """The channel whose fundamental stands highest above its residual (fit-domain SNR ``|P|/u``), from the
    3-parameter fit at the hint (its design ``B``, Gram matrix ``G`` and products ``R``)."""
    return _snr_rank(Y, _gram_solve(G, R, B, Y.T), G, R)


def _snr_rank(Y: np.ndarray, coef: np.ndarray, G: np.ndarray, R: np.ndarray) -> int:
    """:func:`_cleanest` from the fit's coefficients ``coef`` (3 x channels); the residual's square from
    ``y.y - coef.R``, exact at the least-squares solution (a ranking needs no more)."""
    dof = max(Y.shape[1] - 3, 1)
    sigma2 = (np.einsum("ij,ij->i", Y, Y) - np.einsum("ij,ij->j", coef, R)) / dof
    Ginv = np.linalg.inv(G)
    u = np.sqrt(np.maximum(sigma2, 0.0) * 0.5 * (Ginv[1, 1] + Ginv[2, 2]))
    amp = np.hypot(coef[1], coef[2])
    snr = np.where(u > 0, amp / np.where(u > 0, u, 1.0), np.inf)
    return int(np.argmax(snr))


@dataclass(frozen=True)
class _FrequencyFit:
    """A converged 4-parameter fit: ``omega`` (rad/s), and the last design (its derivative column last) with its
    Gram matrix. That design was built at the iterate before ``omega``, which moves the phase at the record's
    ends by at most the fit's tolerance (1e-9 rad): the 3-parameter fits reuse it."""

    omega: float
    design: np.ndarray
    gram: np.ndarray


def _fit_omega(tc: np.ndarray, y: np.ndarray, omega: float, K: int, max_iterations: int, phase_tol_rad: float,
               start: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> _FrequencyFit:
    """Gauss-Newton iterations of the 4-parameter fit (:func:`procedures.measure.phasors.fit_frequency`) on centred
    times ``tc`` (s) from ``omega`` (rad/s); ``start`` = (design at ``omega`` with a spare last column, its linear
    columns' Gram matrix, their products with ``y``) when the caller built it already."""
    span = tc[-1] - tc[0]
    if start is None:
        D = _design(tc, omega, K, extra_rows=1)
        B = D[:, :-1]
        G_lin, r_lin = B.T @ B, B.T @ y
    else:
        D, G_lin, r_lin = start
        B = D[:, :-1]
    coef = _gram_solve(G_lin, r_lin, B, y)
    k = np.arange(1, K + 1)
    tau = tc / span  # dimensionless, -1/2..1/2
    G = G_lin
    for i in range(max_iterations):
        if i:
            D = _design(tc, omega, K, extra_rows=1)
        a, b = coef[1::2], coef[2::2]
        rows = D.T
        np.multiply(tau, rows[2:-1:2].T @ (-k * a) + rows[1:-1:2].T @ (k * b), out=rows[-1])
        if i == 0:  # the linear columns' Gram matrix is known: only the new column's products are missing
            last = D.T @ rows[-1]
            G = np.empty((last.size, last.size))
            G[:-1, :-1], G[-1, :], G[:, -1] = G_lin, last, last
            r = np.append(r_lin, rows[-1] @ y)
        else:
            G, r = D.T @ D, D.T @ y
        sol = _gram_solve(G, r, D, y)
        coef, d_omega = sol[:-1], sol[-1] / span
        omega += d_omega
        if abs(d_omega) * span <= phase_tol_rad:
            break
    return _FrequencyFit(omega, D, G)

