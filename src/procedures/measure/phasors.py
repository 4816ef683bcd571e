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
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

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


def _harmonic_count(frequency_hz: float, t: np.ndarray, n_harmonics: int) -> int:
    """Harmonics fitted: ``n_harmonics``, fewer where they would pass the Nyquist frequency, at least 1."""
    nyq_harmonics = int(np.floor(0.5 / (frequency_hz * np.median(np.diff(t))))) if t.size > 1 else 1
    return max(1, min(n_harmonics, nyq_harmonics))


def _sine_fits(D: np.ndarray, Y: np.ndarray, frequency_hz: float, t_mid: float, K: int,
               G: np.ndarray | None = None, R: np.ndarray | None = None) -> list[SineFit]:
    """The 3-parameter fits of every column of ``Y`` on the design ``D`` (times centred on ``t_mid``), at
    ``frequency_hz``, phasors rotated back to ``t = 0``."""
    omega = 2.0 * np.pi * frequency_hz
    coef, sigma2, Ginv = _solve(D, Y, G, R)
    rot = np.exp(-1j * np.arange(1, K + 1) * omega * t_mid)
    var_quad = np.array([0.5 * (Ginv[2 * k - 1, 2 * k - 1] + Ginv[2 * k, 2 * k]) for k in range(1, K + 1)])
    fits = []
    for ch in range(Y.shape[1]):
        c = coef[:, ch]
        amps = np.array([c[2 * k - 1] - 1j * c[2 * k] for k in range(1, K + 1)]) * rot
        u = np.sqrt(sigma2[ch] * var_quad)
        fits.append(SineFit(frequency_hz=frequency_hz, phasor=complex(amps[0]), phasor_u=float(u[0]),
                            dc_v=float(c[0]), harmonics=amps[1:], harmonics_u=u[1:],
                            residual_rms_v=float(np.sqrt(sigma2[ch])), n_samples=int(D.shape[0])))
    return fits


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
    """Gauss-Newton iterations of the 4-parameter fit (:func:`fit_frequency`) on centred times ``tc`` from
    ``omega``; ``start`` = (design at ``omega`` with a spare last column, its linear columns' Gram matrix, their
    products with ``y``) when the caller built it already."""
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


def _start_frequency(tc: np.ndarray, y: np.ndarray, hint_hz: float | None) -> float:
    """The 4-parameter fit's start: the hint when it lies within one bin of the IpDFT estimate, else that."""
    f0 = estimate_frequency_ipdft(tc, y)
    return hint_hz if hint_hz is not None and abs(hint_hz - f0) * (tc[-1] - tc[0]) < 1.0 else f0


def fit_channels(t_s: np.ndarray, y_v: np.ndarray, frequency_hint_hz: float,
                 reference: int | None = None, n_harmonics: int = DEFAULT_HARMONICS) -> list[SineFit]:
    """The bench recipe: 4-parameter fit on the cleanest channel, then 3-parameter fits of all channels.

    ``y_v`` is ``(channels, samples)``. ``reference`` picks the channel for the frequency fit; by default the
    one with the largest fundamental relative to its residual (measured by a first 3-parameter pass at the
    hint). Returns one :class:`SineFit` per channel, all at the fitted common frequency (§1.2, §1.4).

    The numbers are those of :func:`fit_sines` at :func:`fit_frequency`'s frequency (to 1e-9 relative); the work
    is shared: one design at the hint serves the first pass of every channel and the frequency fit's first step,
    the frequency fit's last design serves every channel's final fit, and BLAS runs on one thread (a 4 x 1e5
    record's 12-column products are too small to gain from more; on a busy machine extra threads only wait).
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


def _cleanest(Y: np.ndarray, B: np.ndarray, G: np.ndarray, R: np.ndarray) -> int:
    """The channel whose fundamental stands highest above its residual (fit-domain SNR ``|P|/u``), from the
    3-parameter fit at the hint (its design ``B``, Gram matrix ``G`` and products ``R``); the residual's square from
    ``y.y - coef.R``, exact at the least-squares solution (a ranking needs no more)."""
    coef = _gram_solve(G, R, B, Y.T)
    dof = max(Y.shape[1] - 3, 1)
    sigma2 = (np.einsum("ij,ij->i", Y, Y) - np.einsum("ij,ij->j", coef, R)) / dof
    Ginv = np.linalg.inv(G)
    u = np.sqrt(np.maximum(sigma2, 0.0) * 0.5 * (Ginv[1, 1] + Ginv[2, 2]))
    amp = np.hypot(coef[1], coef[2])
    snr = np.where(u > 0, amp / np.where(u > 0, u, 1.0), np.inf)
    return int(np.argmax(snr))


def _fit_channels(t_s: np.ndarray, y_v: np.ndarray, hint_hz: float, reference: int | None,
                  n_harmonics: int) -> list[SineFit]:
    t = np.asarray(t_s, dtype=np.float64)
    Y = np.atleast_2d(np.asarray(y_v, dtype=np.float64))
    t_mid = 0.5 * (t[0] + t[-1])
    tc = t - t_mid
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
