"""The real Fourier basis of harmonic balance: synthesis and analysis on a sampled period, conversion
matrices of sampled conductances, and per-harmonic impedances applied to real coefficients.

Coefficients of a periodic waveform are kept real, in the order ``[a_0, a_1..a_K, b_1..b_K]`` with
``v(theta) = a_0 + sum_k (a_k cos k theta + b_k sin k theta)``; the complex (peak phasor) coefficient is
``c_k = a_k - j b_k``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arrays import AnyArray, ComplexArray, FloatArray, IndexArray


@dataclass
class FourierGrid:
    """Real Fourier basis with K harmonics sampled at N points per period (coefficient order above)."""

    K: int
    N: int
    S: FloatArray  # (N, 2K+1) synthesis
    A: FloatArray  # (2K+1, N) analysis, A @ S = I
    i_minus: IndexArray  # (K+1, K+1) index (k - l) mod N
    i_plus: IndexArray  # (K+1, K+1) index k + l

    @classmethod
    def make(cls, K: int, N: int) -> FourierGrid:
        """The basis of harmonics 0..K on N equally spaced samples of one period (N > 2K); one shared,
        read-only instance per (K, N)."""
        if N <= 2 * K:
            raise ValueError("need N > 2K samples per period")
        hit = _GRIDS.get((K, N))
        if hit is not None:
            return hit
        theta = 2.0 * np.pi * np.arange(N) / N
        k = np.arange(1, K + 1)
        ck, sk = np.cos(np.outer(theta, k)), np.sin(np.outer(theta, k))
        S = np.hstack([np.ones((N, 1)), ck, sk])
        A = np.vstack([np.full((1, N), 1.0 / N), 2.0 / N * ck.T, 2.0 / N * sk.T])
        kk = np.arange(K + 1)
        grid = cls(K, N, S, A, (kk[:, None] - kk[None, :]) % N, kk[:, None] + kk[None, :])
        for arr in (grid.S, grid.A, grid.i_minus, grid.i_plus):
            arr.flags.writeable = False
        return _GRIDS.setdefault((K, N), grid)


_GRIDS: dict[tuple[int, int], FourierGrid] = {}


def conversion_matrix(g_t: FloatArray, grid: FourierGrid) -> FloatArray:
    """Real conversion matrices of sampled conductances ``g_t`` (m, m, N) -> (m, 2K+1, m, 2K+1).

    Block (p, q) maps the real Fourier coefficients of v_q to those of the current ``g_pq(t) v_q(t)``,
    exactly equal to ``A diag(g) S`` on the grid but built from the FFT of g (the Toeplitz + Hankel form
    of the harmonic-balance Jacobian, Kundert, White and Sangiovanni-Vincentelli 1990).
    """
    K, N = grid.K, grid.N
    gh = np.fft.fft(g_t, axis=-1) / N
    gm = gh[..., grid.i_minus]
    gp = gh[..., grid.i_plus]
    P, Mn = gm + gp, gm - gp
    m = g_t.shape[0]
    out = np.empty((m, 2 * K + 1, m, 2 * K + 1))
    aa = P.real.copy()
    aa[:, :, 0, :] *= 0.5
    out[:, : K + 1, :, : K + 1] = aa.transpose(0, 2, 1, 3)
    if K:
        ab = Mn.imag[:, :, :, 1:].copy()
        ab[:, :, 0, :] *= 0.5
        out[:, : K + 1, :, K + 1:] = ab.transpose(0, 2, 1, 3)
        out[:, K + 1:, :, : K + 1] = -P.imag[:, :, 1:, :].transpose(0, 2, 1, 3)
        out[:, K + 1:, :, K + 1:] = Mn.real[:, :, 1:, 1:].transpose(0, 2, 1, 3)
    return out


def apply_impedance(Zc: ComplexArray, X: FloatArray, K: int) -> FloatArray:
    """Multiply real coefficient arrays ``X`` (m, 2K+1[, c]) by the per-harmonic ``Zc`` (K+1, m, m)."""
    extra = X.ndim == 2
    if extra:
        X = X[:, :, None]
    c = X[:, : K + 1].astype(complex)
    c[:, 1:] -= 1j * X[:, K + 1:]
    out = np.matmul(Zc, c.transpose(1, 0, 2))  # (K+1, m, c)
    res = np.empty(X.shape)
    res[:, : K + 1] = out.real.transpose(1, 0, 2)
    res[:, K + 1:] = -out.imag[1:].transpose(1, 0, 2)
    return res[:, :, 0] if extra else res


def real_to_complex(X: AnyArray, K: int) -> ComplexArray:
    """Real coefficients ``[a_0, a_k, b_k]`` (last axis) -> complex ``c_0..c_K`` with ``c_k = a_k - j b_k``."""
    c: ComplexArray = X[..., : K + 1].astype(complex)
    c[..., 1:] -= 1j * X[..., K + 1:]
    return c


def time_derivative(X: FloatArray, omega_rad_s: float, K: int) -> FloatArray:
    """Real coefficients (axis 1, ``[a_0, a_k, b_k]``) of the time derivative of the waveforms ``X``.

    ``d/dt (a_k cos k w t + b_k sin k w t) = k w b_k cos k w t - k w a_k sin k w t``: the real-basis
    derivative operator Omega of harmonic balance (Kundert, White and Sangiovanni-Vincentelli,
    "Steady-State Methods for Simulating Analog and Microwave Circuits", Kluwer 1990). Applied to the
    rows of a conversion matrix it gives the Jacobian block of the charging currents.
    """
    kw = omega_rad_s * np.arange(1, K + 1)
    shape = (1, K) + (1,) * (X.ndim - 2)
    out = np.zeros_like(X)
    out[:, 1: K + 1] = kw.reshape(shape) * X[:, K + 1:]
    out[:, K + 1:] = -kw.reshape(shape) * X[:, 1: K + 1]
    return out
