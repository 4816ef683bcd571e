"""Harmonic distortion of a static transfer driven by a sine: harmonic amplitudes, THD, gain compression.

The transfer ``y = F(v)`` is sampled over exactly one period of ``v = bias + A cos(theta)`` on a uniform grid
of ``n_samples`` points and projected onto ``cos/sin(k theta)`` by an FFT (the discrete Fourier series of a
periodic signal is exact up to aliasing of harmonics above ``n_samples/2``, negligible for the smooth
transfers here at the default 4096 points). Nothing is taken from closed-form series:
docs/reference/measurement-methods.md §5's small-signal estimates (``HD3 ~ (v/V_T)^2/48``,
``(v/V_ov)^2/32``) are only used by the tests as cross-checks at small amplitude.

THD is ``sqrt(sum_{k=2..K} |Y_k|^2) / |Y_1|`` (amplitude ratio, IEC-style "THD_F"); ``HD_k = |Y_k|/|Y_1|``.
The gain ratio ``|Y_1| / (A F'(bias))`` is the fundamental's gain over the small-signal slope
(§5's "fundamental gain / small-signal" column).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import brentq

Transfer = Callable[[np.ndarray], np.ndarray]


def _ratio(num: ArrayLike, den: ArrayLike) -> np.ndarray:
    """``num/den`` elementwise without floating-point warnings: nan for 0/0, inf for x/0 (a transfer without
    gain, e.g. a pair whose devices are cut off, has no meaningful distortion ratios)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out: np.ndarray = np.asarray(num, dtype=float) / np.asarray(den, dtype=float)
    return out


@dataclass(frozen=True)
class Distortion:
    """Harmonic analysis at several amplitudes.

    ``amplitude``: input peak amplitudes (shape (n,)); ``harmonics``: complex amplitudes ``Y_k`` of
    ``y = sum_k Re(Y_k e^{j k theta})`` (shape (n, K + 1), k = 0 is the DC level); ``slope``: ``F'(bias)``.
    """

    amplitude: np.ndarray
    harmonics: np.ndarray
    slope: float

    @property
    def fundamental(self) -> np.ndarray:
        """|Y_1|, in the transfer's output units."""
        out: np.ndarray = np.abs(self.harmonics[:, 1])
        return out

    def hd(self, k: int) -> np.ndarray:
        """k-th harmonic relative to the fundamental, ``|Y_k|/|Y_1|`` (ratio, not %; nan when ``Y_1 = 0``)."""
        return _ratio(np.abs(self.harmonics[:, k]), self.fundamental)

    @property
    def thd(self) -> np.ndarray:
        """``sqrt(sum_{k>=2} |Y_k|^2)/|Y_1|`` (ratio)."""
        return thd_of(self.harmonics)

    @property
    def fundamental_gain(self) -> np.ndarray:
        """``|Y_1| / A``: the large-signal gain at the fundamental (output units per input volt)."""
        out: np.ndarray = self.fundamental / self.amplitude
        return out

    @property
    def gain_ratio(self) -> np.ndarray:
        """Fundamental gain over the small-signal slope (1 for a linear transfer; < 1 as it compresses)."""
        return _ratio(self.fundamental_gain, abs(self.slope))


def cycle_phases(n_samples: int) -> np.ndarray:
    """``theta_i = 2 pi i / n_samples``, i = 0..n_samples-1: one period on a uniform grid (rad)."""
    out: np.ndarray = 2.0 * np.pi * np.arange(n_samples) / n_samples
    return out


def fourier_series(y: ArrayLike, n_harmonics: int) -> np.ndarray:
    """Complex amplitudes ``Y_0..Y_K`` (K = ``n_harmonics``) of ``y = sum_k Re(Y_k e^{j k theta})`` from samples on
    :func:`cycle_phases` along the last axis (shape (..., K + 1); ``Y_0`` is the mean). The discrete Fourier
    series of one period (module docstring), by ``numpy.fft.rfft``, whose ``e^{-j k theta}`` kernel gives the
    conjugates of ``Y_k``; the caller keeps ``K < n_samples/2``."""
    y = np.asarray(y, dtype=float)
    n = y.shape[-1]
    if not 1 <= n_harmonics < n // 2:
        raise ValueError("need 1 <= n_harmonics < n_samples/2")
    spec = np.fft.rfft(y, axis=-1) / n
    spec[..., 1:] *= 2.0
    out: np.ndarray = np.conj(spec[..., : n_harmonics + 1])
    return out


def thd_of(harmonics: ArrayLike) -> np.ndarray:
    """``sqrt(sum_{k>=2} |Y_k|^2)/|Y_1|`` (ratio) of harmonic amplitudes along the last axis (``Y_0..Y_K``)."""
    h = np.abs(np.asarray(harmonics))
    return _ratio(np.sqrt(np.sum(h[..., 2:] ** 2, axis=-1)), h[..., 1])


def harmonic_analysis(transfer: Transfer, amplitudes: ArrayLike, *, bias: float = 0.0, n_harmonics: int = 15,
                      n_samples: int = 4096) -> Distortion:
    """Harmonics of ``transfer(bias + A cos theta)`` for each peak amplitude ``A`` in ``amplitudes``.

    ``transfer`` must be vectorised (it gets an array of shape (n_amplitudes, n_samples)). The slope at
    ``bias`` is a central difference with step ``1e-4 min(A)``, whose truncation error is ~1e-9 of the
    slope for these transfers.
    """
    a = np.atleast_1d(np.asarray(amplitudes, dtype=float))
    if np.any(a <= 0):
        raise ValueError("amplitudes must be positive")
    if not 1 <= n_harmonics < n_samples // 2:
        raise ValueError("need 1 <= n_harmonics < n_samples/2")
    y = np.asarray(transfer(bias + a[:, None] * np.cos(cycle_phases(n_samples))[None, :]), dtype=float)
    harmonics = fourier_series(y, n_harmonics)
    h = 1e-4 * float(a.min())
    slope = float((transfer(np.array([bias + h]))[0] - transfer(np.array([bias - h]))[0]) / (2.0 * h))
    return Distortion(amplitude=a, harmonics=harmonics, slope=slope)


def amplitude_for_thd(transfer: Transfer, thd: float, a_lo: float, a_hi: float, *, bias: float = 0.0,
                      **kw: int) -> float:
    """Input peak amplitude (V) at which the THD (ratio) of ``transfer`` reaches ``thd``, searched in
    ``[a_lo, a_hi]`` (THD must cross ``thd`` there)."""
    def f(a: float) -> float:
        return float(harmonic_analysis(transfer, [a], bias=bias, **kw).thd[0]) - thd

    return float(brentq(f, a_lo, a_hi, xtol=1e-12, rtol=1e-12))
