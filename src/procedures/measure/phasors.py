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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
    for k in range(2, n_harmonics + 1):
        cp, sp = rows[2 * k - 3], rows[2 * k - 2]
        np.subtract(cp * c1, sp * s1, out=rows[2 * k - 1])
        np.add(sp * c1, cp * s1, out=rows[2 * k])
    return rows.T


def _lsq(D: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares coefficients through the Gram matrix (Cholesky), SVD fallback if ill-conditioned."""
    G = D.T @ D
    if np.linalg.cond(G) < 1e8:
        L = np.linalg.cholesky(G)
        return np.linalg.solve(L.T, np.linalg.solve(L, D.T @ y))
    return np.linalg.lstsq(D, y, rcond=None)[0]


def _solve(D: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least squares for several channels at once: coefficients, residual variance, (D^T D)^-1.

    Uses the Gram matrix with Cholesky when it is well conditioned (always, for records of a few periods
    or more, where the columns are near-orthogonal) and falls back to SVD-based ``lstsq`` otherwise, as
    §1.1 advises against bare normal equations on ill-conditioned problems.
    """
    G = D.T @ D
    n, p = D.shape
    if np.linalg.cond(G) < 1e8:
        L = np.linalg.cholesky(G)
        rhs = D.T @ Y
        coef = np.linalg.solve(L.T, np.linalg.solve(L, rhs))
        Ginv = np.linalg.inv(G)
    else:
        coef, *_ = np.linalg.lstsq(D, Y, rcond=None)
        Ginv = np.linalg.pinv(G)
    resid = Y - D @ coef
    dof = max(n - p, 1)
    sigma2 = np.einsum("ij,ij->j", resid, resid) / dof
    return coef, sigma2, Ginv


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
    nyq_harmonics = int(np.floor(0.5 / (frequency_hz * np.median(np.diff(t))))) if t.size > 1 else 1
    K = max(1, min(n_harmonics, nyq_harmonics))
    t_mid = 0.5 * (t[0] + t[-1])
    omega = 2.0 * np.pi * frequency_hz
    D = _design(t - t_mid, omega, K)
    coef, sigma2, Ginv = _solve(D, Y.T)
    fits = []
    for ch in range(Y.shape[0]):
        c = coef[:, ch]
        amps = np.array([c[2 * k - 1] - 1j * c[2 * k] for k in range(1, K + 1)])
        # rotate each harmonic from the record's centre back to t = 0
        amps = amps * np.exp(-1j * np.arange(1, K + 1) * omega * t_mid)
        var_quad = np.array([0.5 * (Ginv[2 * k - 1, 2 * k - 1] + Ginv[2 * k, 2 * k]) for k in range(1, K + 1)])
        u = np.sqrt(sigma2[ch] * var_quad)
        fits.append(SineFit(
            frequency_hz=frequency_hz,
            phasor=complex(amps[0]),
            phasor_u=float(u[0]),
            dc_v=float(c[0]),
            harmonics=amps[1:],
            harmonics_u=u[1:],
            residual_rms_v=float(np.sqrt(sigma2[ch])),
            n_samples=int(t.size),
        ))
    return fits


def estimate_frequency_ipdft(t_s: np.ndarray, y_v: np.ndarray) -> float:
    """Coarse frequency (Hz) from the FFT peak with interpolation of a Hann-windowed spectrum.

    Starting point for the 4-parameter fit (docs/reference/measurement-methods.md §1.2 step 1: IpDFT, within a small
    fraction of a bin). Interpolation: the Hann-window two-point ratio formula
    ``delta = (2 r - 1)/(r + 1)`` with ``r = |X[k+1]|/|X[k]|`` (Grandke 1983, IEEE Trans. IM 32(2)).
    """
    y = np.asarray(y_v, dtype=np.float64)
    y = y - y.mean()
    n = y.size
    dt = float(np.median(np.diff(t_s)))
    spec = np.abs(np.fft.rfft(y * np.hanning(n)))
    spec[0] = 0.0
    k = int(np.argmax(spec[1:]) + 1)
    if k + 1 < spec.size and (k == 1 or spec[k + 1] >= spec[k - 1]):
        r = spec[k + 1] / spec[k] if spec[k] > 0 else 0.0
        delta = (2 * r - 1) / (r + 1)
    else:
        r = spec[k - 1] / spec[k] if spec[k] > 0 else 0.0
        delta = -(2 * r - 1) / (r + 1)
    return (k + delta) / (n * dt)


def fit_frequency(t_s: np.ndarray, y_v: np.ndarray, frequency_hint_hz: float | None = None,
                  n_harmonics: int = DEFAULT_HARMONICS, max_iterations: int = 20, phase_tol_rad: float = 1e-9) -> float:
    """4-parameter IEEE 1057 sine fit (sfit4): the frequency in Hz of the periodic signal in ``y_v``.

    Iterates ``D_i = [1, cos w t, sin w t, ..., t sum_k k(-a_k sin k w t + b_k cos k w t)]`` solving for
    the linear coefficients and ``dw`` (docs/reference/measurement-methods.md §1.2, after IEEE 1241 and
    Händel 2000). The
    harmonics 2..K sit in the same solve (as §1.1 does for the 3-parameter fit) so distortion does not bias
    the frequency. Starts from the IpDFT estimate, or from ``frequency_hint_hz`` (the generator's setting)
    when the two agree within one bin. The frequency column is scaled by the record span so the normal
    equations stay well conditioned at any frequency; iteration stops when the update moves the phase at
    the record's ends by less than ``phase_tol_rad``.
    """
    t = np.asarray(t_s, dtype=np.float64)
    y = np.asarray(y_v, dtype=np.float64)
    t = t - 0.5 * (t[0] + t[-1])
    span = t[-1] - t[0]
    f0 = estimate_frequency_ipdft(t, y)
    if frequency_hint_hz is not None and abs(frequency_hint_hz - f0) * span < 1.0:
        f0 = frequency_hint_hz
    dt = float(np.median(np.diff(t)))
    K = max(1, min(n_harmonics, int(np.floor(0.5 / (f0 * dt)))))
    omega = 2.0 * np.pi * f0
    coef = _lsq(_design(t, omega, K), y)
    k = np.arange(1, K + 1)
    tau = t / span  # dimensionless, -1/2..1/2
    for _ in range(max_iterations):
        D = _design(t, omega, K, extra_rows=1)
        a, b = coef[1::2], coef[2::2]
        rows = D.T
        np.multiply(tau, rows[2:-1:2].T @ (-k * a) + rows[1:-1:2].T @ (k * b), out=rows[-1])
        sol = _lsq(D, y)
        coef, d_omega = sol[:-1], sol[-1] / span
        omega += d_omega
        if abs(d_omega) * span <= phase_tol_rad:
            break
    return omega / (2.0 * np.pi)


def fit_channels(t_s: np.ndarray, y_v: np.ndarray, frequency_hint_hz: float,
                 reference: int | None = None, n_harmonics: int = DEFAULT_HARMONICS) -> list[SineFit]:
    """The bench recipe: 4-parameter fit on the cleanest channel, then 3-parameter fits of all channels.

    ``y_v`` is ``(channels, samples)``. ``reference`` picks the channel for the frequency fit; by default the
    one with the largest fundamental relative to its residual (measured by a first 3-parameter pass at the
    hint). Returns one :class:`SineFit` per channel, all at the fitted common frequency (§1.2, §1.4).
    """
    Y = np.atleast_2d(np.asarray(y_v, dtype=np.float64))
    if reference is None:
        first = fit_sines(t_s, Y, frequency_hint_hz, n_harmonics=1)
        reference = int(np.argmax([f.snr_fit for f in first]))
    freq = fit_frequency(t_s, Y[reference], frequency_hint_hz, n_harmonics=n_harmonics)
    return fit_sines(t_s, Y, freq, n_harmonics=n_harmonics)


def vpp_amplitude(y_v: np.ndarray) -> float:
    """Half the peak-to-peak value (V): the naive amplitude the benchmarks compare the fit against.

    Not used in the measurement chain; biased upward by about ``sigma sqrt(2 ln N)`` (§1.5).
    """
    y = np.asarray(y_v)
    return 0.5 * float(y.max() - y.min())
