"""Phasors from sampled waveforms: IEEE 1057 / IEEE 1241 sine fits with honest uncertainties.

The bench recipe of docs/reference/measurement-methods.md §1.2: a 4-parameter fit (frequency free) on the
cleanest channel finds the common frequency, then one linear 3-parameter fit per channel at that frequency,
with harmonics 2..K in the same linear solve so the fundamental is not biased by distortion and THD comes
out of the same numbers (§1.1). All channels share one sample clock, so the frequency error is common and
cancels in gain ratios (§1.4).

Phasor convention: ``v(t) = dc + Re(P e^{j w t}) + sum_k Re(H_k e^{j k w t})`` with ``P = a - j b`` for the
fit ``a cos(wt) + b sin(wt)`` (§1.1: R = |P|, theta = atan2(-b, a)). Amplitudes are peak volts.

Uncertainties: the fit's covariance ``sigma^2 (D^T D)^-1`` with sigma^2 from the residual, which for white
noise reaches the Cramér-Rao bound ``var(a) = var(b) = 2 sigma^2 / N`` (§1.3, §1.5: efficiency 0.95-1.03
when the fit-domain SNR is 5 or more).

This module is the public API; the work is done in: procedures/measure/sine_design.py (the design matrix, its
least-squares solve and the Gauss-Newton frequency fit, on any time axis), procedures/measure/frequency_start.py
(the IpDFT start of the frequency fit) and procedures/measure/uniform_sine_fit.py (the same fits on an evenly
spaced axis, a scope's, without a design matrix).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from procedures.measure.frequency_start import _ipdft, _start_frequency
from procedures.measure.sine_design import _cleanest, _design, _fit_omega, _harmonic_count, _median_step, _solve
from procedures.measure.uniform_sine_fit import _fit_channels_uniform, _Folded

DEFAULT_HARMONICS = 5


@dataclass(frozen=True)
class SineFit:
    """The fit of one channel at a known frequency.

    ``phasor`` is the fundamental's complex peak amplitude (V); ``phasor_u`` the standard uncertainty of
    each of its quadratures (V, the errors of Re and Im are nearly equal and uncorrelated for records of
    several periods); ``harmonics[k-2]`` the complex amplitude of harmonic k; ``thd`` the ratio of the
    harmonics' rss to the fundamental (IEEE 1241 definition over the fitted harmonics).
    """

    frequency_hz: float
    phasor: complex
    phasor_u: float
    dc_v: float
    harmonics: np.ndarray
    harmonics_u: np.ndarray
    residual_rms_v: float
    n_samples: int

    @property
    def amplitude_v(self) -> float:
        """Fundamental peak amplitude, V."""
        return abs(self.phasor)

    @property
    def phase_rad(self) -> float:
        """Fundamental phase, rad (``v = A cos(wt + phase)``)."""
        return float(np.angle(self.phasor))

    @property
    def thd(self) -> float:
        """Total harmonic distortion (ratio, not %) over the fitted harmonics."""
        if self.amplitude_v == 0.0:
            return float("nan")
        return float(np.sqrt(np.sum(np.abs(self.harmonics) ** 2)) / self.amplitude_v)

    @property
    def snr_fit(self) -> float:
        """Fit-domain amplitude SNR ``rho = A / sigma_A`` (docs/reference/measurement-methods.md §1.5)."""
        return self.amplitude_v / self.phasor_u if self.phasor_u > 0 else float("inf")


def _sine_fits(D: np.ndarray, Y: np.ndarray, frequency_hz: float, t_mid: float, K: int,
               G: np.ndarray | None = None, R: np.ndarray | None = None) -> list[SineFit]:
    """The 3-parameter fits of every column of ``Y`` on the design ``D`` (times centred on ``t_mid``), at
    ``frequency_hz``, phasors rotated back to ``t = 0``."""
    coef, sigma2, Ginv = _solve(D, Y, G, R)
    return _package(coef, sigma2, Ginv, frequency_hz, t_mid, K, int(D.shape[0]))


def _package(coef: np.ndarray, sigma2: np.ndarray, Ginv: np.ndarray, frequency_hz: float, t_mid: float, K: int,
             n: int) -> list[SineFit]:
    """:class:`SineFit` of every column of ``coef`` (design order, times centred on ``t_mid``) with residual variances
    ``sigma2`` and ``Ginv = (D^T D)^-1``, phasors rotated back to ``t = 0``."""
    omega = 2.0 * np.pi * frequency_hz
    rot = np.exp(-1j * np.arange(1, K + 1) * omega * t_mid)
    diag = np.diagonal(Ginv)
    var_quad = 0.5 * (diag[1:2 * K + 1:2] + diag[2:2 * K + 2:2])
    amps = (coef[1:2 * K + 1:2] - 1j * coef[2:2 * K + 2:2]).T * rot  # channels x K
    u = np.sqrt(sigma2[:, None] * var_quad)
    return [SineFit(frequency_hz=frequency_hz, phasor=complex(amps[ch, 0]), phasor_u=float(u[ch, 0]),
                    dc_v=float(coef[0, ch]), harmonics=amps[ch, 1:], harmonics_u=u[ch, 1:],
                    residual_rms_v=float(np.sqrt(sigma2[ch])), n_samples=n) for ch in range(coef.shape[1])]


def fit_sines(t_s: np.ndarray, y_v: np.ndarray, frequency_hz: float,
              n_harmonics: int = DEFAULT_HARMONICS) -> list[SineFit]:
    """3-parameter (known-frequency) fits of one or several channels sharing the time axis ``t_s`` (s).

    ``y_v`` is ``(samples,)`` or ``(channels, samples)`` in volts. The fundamental and harmonics 2..K are
    fitted in one linear solve (docs/reference/measurement-methods.md §1.1). Times are centred on the record so that the
    phase uncertainty is the known-frequency bound (§1.3); phasors are then rotated back to ``t = 0``.
    """
    t = np.asarray(t_s, dtype=np.float64)
    Y = np.atleast_2d(np.asarray(y_v, dtype=np.float64))
    if Y.shape[1] != t.size:
        raise ValueError(f"time axis has {t.size} samples but the waveform has {Y.shape[1]}")
    K = _harmonic_count(frequency_hz, t, n_harmonics)
    t_mid = 0.5 * (t[0] + t[-1])
    omega = 2.0 * np.pi * frequency_hz
    return _sine_fits(_design(t - t_mid, omega, K), Y.T, frequency_hz, t_mid, K)


def estimate_frequency_ipdft(t_s: np.ndarray, y_v: np.ndarray) -> float:
    """Coarse frequency (Hz) from the FFT peak with interpolation of a Hann-windowed spectrum.

    Starting point for the 4-parameter fit (docs/reference/measurement-methods.md §1.2 step 1: IpDFT, within a small
    fraction of a bin). Interpolation: the Hann-window two-point ratio formula
    ``delta = (2 r - 1)/(r + 1)`` with ``r = |X[k+1]|/|X[k]|`` (Grandke 1983, IEEE Trans. IM 32(2)).
    """
    return _ipdft(np.asarray(y_v, dtype=np.float64), _median_step(np.asarray(t_s)))


def fit_frequency(t_s: np.ndarray, y_v: np.ndarray, frequency_hint_hz: float | None = None,
                  n_harmonics: int = DEFAULT_HARMONICS, max_iterations: int = 20, phase_tol_rad: float = 1e-9) -> float:
    """4-parameter IEEE 1057 sine fit (sfit4): the frequency in Hz of the periodic signal in ``y_v``.

    Iterates ``D_i = [1, cos w t, sin w t, ..., t sum_k k(-a_k sin k w t + b_k cos k w t)]`` solving for
    the linear coefficients and ``dw`` (docs/reference/measurement-methods.md §1.2, after IEEE 1241 and
    Händel 2000). The harmonics 2..K sit in the same solve (as §1.1 does for the 3-parameter fit) so
    distortion does not bias the frequency. Starts from the IpDFT estimate, or from ``frequency_hint_hz`` (the
    generator's setting) when the two agree within one bin. The frequency column is scaled by the record span
    so the normal equations stay well conditioned at any frequency; iteration stops when the update moves the
    phase at the record's ends by less than ``phase_tol_rad``.
    """
    t = np.asarray(t_s, dtype=np.float64)
    y = np.asarray(y_v, dtype=np.float64)
    tc = t - 0.5 * (t[0] + t[-1])
    f0 = _start_frequency(tc, y, frequency_hint_hz)
    K = _harmonic_count(f0, tc, n_harmonics)
    return _fit_omega(tc, y, 2.0 * np.pi * f0, K, max_iterations, phase_tol_rad).omega / (2.0 * np.pi)


def fit_channels(t_s: np.ndarray, y_v: np.ndarray, frequency_hint_hz: float,
                 reference: int | None = None, n_harmonics: int = DEFAULT_HARMONICS) -> list[SineFit]:
    """The bench recipe: 4-parameter fit on the cleanest channel, then 3-parameter fits of all channels.

    ``y_v`` is ``(channels, samples)``. ``reference`` picks the channel for the frequency fit; by default the
    one with the largest fundamental relative to its residual (measured by a first 3-parameter pass at the
    hint). Returns one :class:`SineFit` per channel, all at the fitted common frequency (§1.2, §1.4).

    The numbers are those of :func:`fit_sines` at :func:`fit_frequency`'s frequency (to 1e-9 relative): the same
    reference, start, Gauss-Newton updates and stopping rule, computed more cheaply. On a uniform time axis (a
    scope's) no design matrix is formed: the Gram matrices come in closed form (Dirichlet kernels) and the products
    with the data from a small table of cosines and sines shared by all blocks of the record, each block folded about
    its centre (even part against the cosines, odd part against the sines); the cost then grows with the number of
    harmonics only through those products (procedures/measure/uniform_sine_fit.py). Other axes, records under
    256 samples and ill-conditioned fits take the design path: one design at the hint serves the first pass of
    every channel and the frequency fit's first step, the frequency fit's last design every channel's final fit.
    BLAS runs on one thread (the products are too small to gain from more; on a busy machine extra threads only
    wait). Units as :func:`fit_sines`: ``t_s`` in s, ``y_v`` in V, ``frequency_hint_hz`` in Hz.
    """
    with _one_blas_thread():
        return _fit_channels(t_s, y_v, frequency_hint_hz, reference, n_harmonics)


_controller: ThreadpoolController | None = None


def _one_blas_thread() -> Any:
    """A context in which BLAS runs on one thread (the controller, which inspects the loaded libraries, is
    made once: that inspection costs about a millisecond)."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


def _fit_channels(t_s: np.ndarray, y_v: np.ndarray, hint_hz: float, reference: int | None,
                  n_harmonics: int) -> list[SineFit]:
    """:func:`fit_channels` with BLAS already on one thread: the uniform path when it applies, else the design
    path."""
    t = np.asarray(t_s, dtype=np.float64)
    Y = np.atleast_2d(np.asarray(y_v, dtype=np.float64))
    t_mid = 0.5 * (t[0] + t[-1])
    tc = t - t_mid
    folded = _Folded.of(t, Y) if Y.shape[1] == t.size else None
    if folded is not None:
        solved = _fit_channels_uniform(tc, Y, folded, hint_hz, reference, n_harmonics)
        if solved is not None:
            coef, sigma2, Ginv, freq, K = solved
            return _package(coef, sigma2, Ginv, freq, t_mid, K, folded.n)
    K = _harmonic_count(hint_hz, tc, n_harmonics)
    omega = 2.0 * np.pi * hint_hz
    D = _design(tc, omega, K, extra_rows=1)
    B = D[:, :-1]
    if reference is None:
        B3 = B[:, :3]
        reference = _cleanest(Y, B3, B3.T @ B3, B3.T @ Y.T)
    y = Y[reference]
    f0 = _start_frequency(tc, y, hint_hz)
    if f0 == hint_hz:  # fit_frequency's start is the hint: its first design is the one built above
        ff = _fit_omega(tc, y, omega, K, 20, 1e-9, (D, B.T @ B, B.T @ y))
    else:
        K = _harmonic_count(f0, tc, n_harmonics)
        ff = _fit_omega(tc, y, 2.0 * np.pi * f0, K, 20, 1e-9)
    freq = ff.omega / (2.0 * np.pi)
    if _harmonic_count(freq, tc, n_harmonics) != K:
        return fit_sines(t, Y, freq, n_harmonics=n_harmonics)
    return _sine_fits(ff.design[:, :-1], Y.T, freq, t_mid, K, ff.gram[:-1, :-1])


def vpp_amplitude(y_v: np.ndarray) -> float:
    """Half the peak-to-peak value (V): the naive amplitude the benchmarks compare the fit against.

    Not used in the measurement chain; biased upward by about ``sigma sqrt(2 ln N)`` (§1.5).
    """
    y = np.asarray(y_v)
    return 0.5 * float(y.max() - y.min())
