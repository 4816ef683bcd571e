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
from functools import lru_cache
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


@lru_cache(maxsize=8)
def _hann(n: int) -> np.ndarray:
    """``np.hanning(n)``, kept for the next record of the same length (read-only)."""
    w = np.hanning(n)
    w.flags.writeable = False
    return w


def _ipdft(y: np.ndarray, dt: float) -> float:
    """:func:`estimate_frequency_ipdft` of ``y`` sampled every ``dt`` seconds (the axis's median step)."""
    y = y - y.mean()
    n = y.size
    y *= _hann(n)
    spec = np.abs(np.fft.rfft(y))
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


def _start_frequency(tc: np.ndarray, y: np.ndarray, hint_hz: float | None, step_s: float | None = None) -> float:
    """The 4-parameter fit's start: the hint when it lies within one bin of the IpDFT estimate, else that
    (``step_s``: the axis's median step when the caller has it)."""
    f0 = estimate_frequency_ipdft(tc, y) if step_s is None else _ipdft(y, step_s)
    return hint_hz if hint_hz is not None and abs(hint_hz - f0) * (tc[-1] - tc[0]) < 1.0 else f0


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
    harmonics only through those products (see the section "Uniform time axes" below). Other axes, records under
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


def _fit_channels(t_s: np.ndarray, y_v: np.ndarray, hint_hz: float, reference: int | None,
                  n_harmonics: int) -> list[SineFit]:
    t = np.asarray(t_s, dtype=np.float64)
    Y = np.atleast_2d(np.asarray(y_v, dtype=np.float64))
    t_mid = 0.5 * (t[0] + t[-1])
    tc = t - t_mid
    folded = _Folded.of(t, Y) if Y.shape[1] == t.size else None
    if folded is not None:
        fits = _fit_channels_uniform(tc, Y, folded, t_mid, hint_hz, reference, n_harmonics)
        if fits is not None:
            return fits
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


# --- Uniform time axes: the same least-squares problems without an N x (2K+1) design ---------------------------------
#
# On a uniform axis t_n = t_mid + u_n dt, u_n = n - (N-1)/2, the design's columns are cos(k theta u), sin(k theta u)
# with theta = w dt. Their Gram matrix is a sum of Dirichlet kernels (closed form: no pass over the record). Their
# products with the data are DTFTs at the harmonics, summed block by block: with u = U_b + m around block b's centre
# U_b, e^{i k theta u} = e^{i k theta U_b} e^{i k theta m}, so every block meets one small table of
# cos(k theta m), sin(k theta m) and only the blocks' turns e^{i k theta U_b} differ. Each block is folded about its
# centre first: cos(k theta m) is even in m and sin(k theta m) odd, so the cosines need only y(m) + y(-m) and the sines
# y(m) - y(-m), over the half block: half the multiply-adds. Same sums as the design's in another order: the numbers
# agree with the design path to rounding (tests/procedures/measure/test_phasors.py checks 1e-9).

_UNIFORM_PHASE_RAD = 1e-10  # an axis is uniform when its departure from t0 + n dt moves no harmonic by more than this


@dataclass(frozen=True)
class _Folded:
    """A record on a uniform time axis in blocks folded about their centres, and a tail.

    ``dt`` is the step (s) and ``deviation_s`` the axis's largest departure from ``t0 + n dt`` (s). Block b (of
    ``2 half.size`` samples) is centred on ``u = centres[b]``; ``half`` holds the offsets ``m = j + 1/2`` of its upper
    half; ``even[x, b, j]`` and ``odd[x, b, j]`` are ``y(U_b + m) + y(U_b - m)`` and ``y(U_b + m) - y(U_b - m)`` of
    channel x. The samples after the last whole block are ``tail`` (channels x tail size) at ``u = tail_u``.
    """

    n: int
    dt: float
    deviation_s: float
    half: np.ndarray
    centres: np.ndarray
    even: np.ndarray
    odd: np.ndarray
    tail_u: np.ndarray
    tail: np.ndarray

    @staticmethod
    def of(t: np.ndarray, Y: np.ndarray) -> _Folded | None:
        """The folded record ``Y`` (channels x samples) on the increasing axis ``t`` (s); ``None`` for records of
        under 256 samples (the design is as cheap there)."""
        n = t.size
        if n < 256 or not t[-1] > t[0]:
            return None
        dt = float(t[-1] - t[0]) / (n - 1)
        lin = np.arange(n, dtype=np.float64)
        lin *= dt
        lin += t[0]
        lin -= t
        deviation = max(float(lin.max()), -float(lin.min()))
        h = max(1, int(round(0.5 * np.sqrt(n))))  # blocks of about sqrt(n): table and turns cost alike
        size = 2 * h
        nb = n // size
        body = Y[:, : nb * size].reshape(Y.shape[0], nb, size)
        up, down = body[:, :, h:], body[:, :, h - 1::-1]
        return _Folded(n, dt, deviation, np.arange(h) + 0.5, np.arange(nb) * float(size) + 0.5 * (size - n),
                       up + down, up - down, np.arange(nb * size, n) - 0.5 * (n - 1), Y[:, nb * size:])


def _cis(x: np.ndarray, K: int) -> np.ndarray:
    """``e^{i k x}`` for ``k = 1..K`` (K x x.size): ``e^{i x}`` once, then products of powers already made (doubling:
    ``e^{i (j + h) x} = e^{i j x} e^{i h x}``), ``log2 K`` vector products for the K rows; each power carries at most
    about ``k`` roundings of the first, as :func:`_design`'s recurrence does."""
    E = np.empty((K, x.size), dtype=np.complex128)
    np.cos(x, out=E[0].real)
    np.sin(x, out=E[0].imag)
    h = 1
    while h < K:
        m = min(h, K - h)
        np.multiply(E[:m], E[h - 1], out=E[h:h + m])
        h += m
    return E


@dataclass(frozen=True)
class _Basis:
    """:func:`_design`'s columns on a :class:`_Folded` record at ``theta = w dt`` with K harmonics: ``cos_table``
    ``[1, cos(theta m), ..., cos(K theta m)]`` and ``sin_table`` ``[sin(theta m), ..., sin(K theta m)]`` over the half
    block's offsets, the blocks' turns ``cos(k theta U_b)``, ``sin(k theta U_b)`` (K x blocks), and the design's
    rows at the tail's samples (2K+1 x tail size)."""

    cos_table: np.ndarray
    sin_table: np.ndarray
    cos_turn: np.ndarray
    sin_turn: np.ndarray
    tail: np.ndarray

    @staticmethod
    def at(fd: _Folded, theta: float, K: int) -> _Basis:
        """The basis of ``fd`` at ``theta`` (rad per sample) with ``K`` harmonics."""
        half = _cis(theta * fd.half, K)
        cos_table = np.empty((K + 1, fd.half.size))
        cos_table[0] = 1.0
        cos_table[1:] = half.real
        turn = _cis(theta * fd.centres, K)
        tail = np.empty((2 * K + 1, fd.tail_u.size))
        at_tail = _cis(theta * fd.tail_u, K)
        tail[0] = 1.0
        tail[1::2] = at_tail.real
        tail[2::2] = at_tail.imag
        return _Basis(cos_table, np.ascontiguousarray(half.imag), turn.real, turn.imag, tail)

    def block_sums(self, cos_side: np.ndarray, sin_side: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each block's products, about its own centre, of ``cos_side`` with the cosines and of ``sin_side`` with the
        sines (both channels x blocks x half size; the folded ``even`` and ``odd`` give ``sum y cos(k theta m)`` and
        ``sum y sin(k theta m)``): (K+1 x channels x blocks) and (K x channels x blocks). Tables on the left: the
        blocks make the long side of the product."""
        X, B, h = cos_side.shape
        zc = self.cos_table @ cos_side.reshape(X * B, h).T
        zs = self.sin_table @ sin_side.reshape(X * B, h).T
        return zc.reshape(-1, X, B), zs.reshape(-1, X, B)

    def total(self, zc: np.ndarray, zs: np.ndarray, tail: np.ndarray) -> np.ndarray:
        """``D^T y`` (channels x 2K+1) from the block sums (:meth:`block_sums`) turned to the record's ``u``
        (``cos(a+b) = cos a cos b - sin a sin b``, ``sin(a+b) = sin a cos b + cos a sin b``) and the tail's samples
        ``tail`` (channels x tail size)."""
        out = (self.tail @ tail.T).T
        out[:, 0] += zc[0].sum(axis=1)
        c, s = self.cos_turn, self.sin_turn
        out[:, 1::2] += np.einsum("kxb,kb->xk", zc[1:], c) - np.einsum("kxb,kb->xk", zs, s)
        out[:, 2::2] += np.einsum("kxb,kb->xk", zc[1:], s) + np.einsum("kxb,kb->xk", zs, c)
        return out

    def products(self, fd: _Folded) -> np.ndarray:
        """``D^T y`` of every channel of ``fd`` (channels x 2K+1)."""
        return self.total(*self.block_sums(fd.even, fd.odd), fd.tail)


_TWO_PI_HIGH, _TWO_PI_LOW = 6.28125, 1.9353071795864769253e-3  # 2 pi in two parts: j * _TWO_PI_HIGH is exact


def _kernels(theta: float, m_max: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``sum cos(x u)``, ``sum u sin(x u)``, ``sum u^2 cos(x u)`` over ``u_n = n - (N-1)/2`` at ``x = m theta``,
    ``m = 0..m_max``: the Dirichlet kernel ``D(x) = sin(N x/2) / sin(x/2)`` (Lagrange's identity) and ``-D'``,
    ``-D''``, with ``D' = (N/2 cos(N x/2) - D cos(x/2)/2) / sin(x/2)`` and ``D'' = (1/4 - N^2/4) D - cos(x/2) D' /
    sin(x/2)``; at ``x = 0``: ``N``, 0 and ``N (N^2 - 1) / 12``. The other sums (``u cos``, ``sin``, ``u^2 sin``)
    vanish on the symmetric axis. ``x`` is first brought within ``pi`` of 0 (``D(x + 2 pi j) = (-1)^((N+1) j) D(x)``,
    ``2 pi`` subtracted in two parts, Cody and Waite's reduction, so that ``sin(x/2)`` keeps its relative accuracy);
    ``None`` where some ``x`` with ``m >= 1`` lands within ``0.2 / N`` of a multiple of ``2 pi`` (harmonics aliased onto
    each other or onto DC: the closed forms cancel there and the Gram matrix is nearly singular anyway)."""
    x = theta * np.arange(1, m_max + 1)
    j = np.round(x / (2.0 * np.pi))
    x = (x - j * _TWO_PI_HIGH) - j * _TWO_PI_LOW
    A = 0.5 * n
    if np.any(np.abs(x) * A < 0.1):
        return None
    sign = np.where(((n + 1) * j.astype(np.int64)) % 2 == 1, -1.0, 1.0)
    g, gc = np.sin(0.5 * x), np.cos(0.5 * x)
    d0 = np.sin(A * x) / g
    d1 = (A * np.cos(A * x) - 0.5 * gc * d0) / g
    d2 = (0.25 - A * A) * d0 - gc * d1 / g
    return (np.concatenate([[float(n)], sign * d0]), np.concatenate([[0.0], -sign * d1]),
            np.concatenate([[n * (n * n - 1.0) / 12.0], -sign * d2]))


def _gram_uniform(C0: np.ndarray, K: int) -> np.ndarray:
    """``D^T D`` of :func:`_design`'s columns from the kernel sums ``C0`` (:func:`_kernels`), by ``2 cos a cos b =
    cos(a-b) + cos(a+b)`` and ``2 sin a sin b = cos(a-b) - cos(a+b)``; cos-sin products sum to zero."""
    j = np.arange(1, K + 1)
    dif, tot = np.abs(j[:, None] - j[None, :]), j[:, None] + j[None, :]
    G = np.zeros((2 * K + 1, 2 * K + 1))
    G[0, 0] = C0[0]
    G[0, 1::2] = G[1::2, 0] = C0[j]
    G[1::2, 1::2] = 0.5 * (C0[dif] + C0[tot])
    G[2::2, 2::2] = 0.5 * (C0[dif] - C0[tot])
    return G


def _frequency_column(S1: np.ndarray, C2: np.ndarray, coef: np.ndarray, n: int) -> tuple[np.ndarray, float]:
    """``D^T J`` and ``J^T J`` of :func:`_fit_omega`'s frequency column ``J = tau sum_k k (-a_k sin + b_k cos)``
    (``tau = u / (N-1)``) at the coefficients ``coef``, from the kernel sums (:func:`_kernels`), by
    ``2 cos a sin b = sin(a+b) - sin(a-b)`` and the products above."""
    K = coef.size // 2
    j = np.arange(1, K + 1)
    alpha, beta = -j * coef[1::2], j * coef[2::2]  # J = tau sum_k (beta_k cos_k + alpha_k sin_k)
    d, tot = j[:, None] - j[None, :], j[:, None] + j[None, :]
    s1d = np.sign(d) * S1[np.abs(d)]  # S1 is odd in x
    g = np.empty(2 * K + 1)
    g[0] = alpha @ S1[j]
    g[1::2] = (0.5 * (S1[tot] - s1d)) @ alpha  # sum u cos_j sin_k
    g[2::2] = (0.5 * (S1[tot] + s1d)) @ beta  # sum u sin_j cos_k
    dif = np.abs(d)
    jj = beta @ (0.5 * (C2[dif] + C2[tot])) @ beta + alpha @ (0.5 * (C2[dif] - C2[tot])) @ alpha
    return g / (n - 1), float(jj) / (n - 1) ** 2


def _well_conditioned(G: np.ndarray) -> bool:
    """``cond(G) < 1e8``, :func:`_gram_solve`'s test, for a symmetric ``G``: settled by Gershgorin's discs (every
    eigenvalue lies within ``G_ii +- sum_j |G_ij|``) when they suffice, else by the SVD."""
    if not np.all(np.isfinite(G)):
        return False
    off = np.abs(G).sum(axis=1) - np.abs(np.diagonal(G))
    low, high = float(np.min(np.diagonal(G) - off)), float(np.max(np.diagonal(G) + off))
    if low > 0.0 and high < 1e8 * low:
        return True
    return bool(np.linalg.cond(G) < 1e8)


def _frequency_uniform(fd: _Folded, ref: int, omega: float, K: int, span: float, max_iterations: int,
                       phase_tol_rad: float) -> float | None:
    """:func:`_fit_omega`'s iterations on channel ``ref`` of a uniform record, the same updates from the same start:
    the angular frequency (rad/s), or ``None`` where a Gram matrix is too ill-conditioned for Cholesky (the design
    path then solves by SVD). The frequency column's products ``sum u y cos``, ``sum u y sin`` come with the plain
    ones: ``u y = U_b y + m y`` in block b, and ``m y`` folds to ``m (y(m) - y(-m))`` against the cosines and
    ``m (y(m) + y(-m))`` against the sines."""
    even, odd = fd.even[ref], fd.odd[ref]
    cos_side = np.stack([even, fd.half * odd])
    sin_side = np.stack([odd, fd.half * even])
    tail = np.stack([fd.tail[ref], fd.tail_u * fd.tail[ref]])
    j = np.arange(1, K + 1)
    coef = np.empty(0)
    for i in range(max_iterations):
        theta = omega * fd.dt
        basis = _Basis.at(fd, theta, K)
        zc, zs = basis.block_sums(cos_side, sin_side)
        zc[:, 1] += fd.centres * zc[:, 0]
        zs[:, 1] += fd.centres * zs[:, 0]
        R, Ru = basis.total(zc, zs, tail)
        kernels = _kernels(theta, 2 * K, fd.n)
        if kernels is None:
            return None
        C0, S1, C2 = kernels
        G = _gram_uniform(C0, K)
        if i == 0:
            if not _well_conditioned(G):
                return None
            coef = np.linalg.solve(G, R)
        g, jj = _frequency_column(S1, C2, coef, fd.n)
        Ga = np.empty((2 * K + 2, 2 * K + 2))
        Ga[:-1, :-1], Ga[-1, :-1], Ga[:-1, -1], Ga[-1, -1] = G, g, g, jj
        if not _well_conditioned(Ga):
            return None
        Jy = ((j * coef[2::2]) @ Ru[1::2] - (j * coef[1::2]) @ Ru[2::2]) / (fd.n - 1)
        sol = np.linalg.solve(Ga, np.append(R, Jy))
        coef, d_omega = sol[:-1], sol[-1] / span
        omega += d_omega
        if abs(d_omega) * span <= phase_tol_rad:
            break
    return omega


def _residual_energy(fd: _Folded, basis: _Basis, coef: np.ndarray) -> np.ndarray:
    """``|y - D coef|^2`` of every channel (``coef``: 2K+1 x channels), folded like the data: with the fit's even
    and odd parts ``e(m)``, ``o(m)`` about a block's centre (its cosine and sine terms, the coefficients turned to the
    block by angle addition), ``r(m)^2 + r(-m)^2 = ((y(m) + y(-m) - 2 e)^2 + (y(m) - y(-m) - 2 o)^2) / 2``."""
    c, s = basis.cos_turn.T, basis.sin_turn.T
    a, b = 2.0 * coef[1::2].T[:, None, :], 2.0 * coef[2::2].T[:, None, :]  # twice the fit: e and o come doubled
    Ce = np.empty((coef.shape[1], c.shape[0], c.shape[1] + 1))
    Ce[..., 0] = 2.0 * coef[0][:, None]
    Ce[..., 1:] = a * c + b * s
    Co = b * c - a * s
    re = np.empty(fd.even.shape[1:])
    ro = np.empty(fd.even.shape[1:])
    fe, fo = re.reshape(-1), ro.reshape(-1)
    rt = fd.tail - (basis.tail.T @ coef).T
    energy = np.einsum("xi,xi->x", rt, rt)
    for x in range(energy.size):  # one channel at a time: the block stays in cache between the passes
        np.matmul(Ce[x], basis.cos_table, out=re)
        np.subtract(fd.even[x], re, out=re)
        np.matmul(Co[x], basis.sin_table, out=ro)
        np.subtract(fd.odd[x], ro, out=ro)
        energy[x] += 0.5 * (fe @ fe + fo @ fo)
    return energy


def _fit_channels_uniform(tc: np.ndarray, Y: np.ndarray, fd: _Folded, t_mid: float, hint_hz: float,
                          reference: int | None, n_harmonics: int) -> list[SineFit] | None:
    """:func:`_fit_channels` on the uniform axis ``tc + t_mid`` (s), with :func:`fit_frequency`'s start, harmonic
    counts and stopping rule; ``None`` where the axis departs from uniform by a phase over ``_UNIFORM_PHASE_RAD``
    at the frequencies met or a Gram matrix is ill-conditioned (the design path takes over)."""
    n = fd.n
    step = _median_step(tc)  # fit_frequency's, for the same harmonic counts and IpDFT
    if 2.0 * np.pi * hint_hz * fd.deviation_s > _UNIFORM_PHASE_RAD:  # the first pass: the fundamental at the hint
        return None
    if reference is None:
        theta = 2.0 * np.pi * hint_hz * fd.dt
        kernels = _kernels(theta, 2, n)
        if kernels is None:
            return None
        G1 = _gram_uniform(kernels[0], 1)
        if not _well_conditioned(G1):
            return None
        R1 = _Basis.at(fd, theta, 1).products(fd)
        reference = _snr_rank(Y, np.linalg.solve(G1, R1.T), G1, R1.T)
    f0 = _start_frequency(tc, Y[reference], hint_hz, step)
    K = _harmonic_count_step(f0, step, n, n_harmonics)
    if 4.0 * np.pi * f0 * K * fd.deviation_s > _UNIFORM_PHASE_RAD:  # twice f0: room for the fit to move
        return None
    omega = _frequency_uniform(fd, reference, 2.0 * np.pi * f0, K, tc[-1] - tc[0], 20, 1e-9)
    if omega is None:
        return None
    freq = omega / (2.0 * np.pi)
    K = _harmonic_count_step(freq, step, n, n_harmonics)
    theta = 2.0 * np.pi * freq * fd.dt
    kernels = _kernels(theta, 2 * K, n)
    if kernels is None:
        return None
    G = _gram_uniform(kernels[0], K)
    if not _well_conditioned(G):
        return None
    basis = _Basis.at(fd, theta, K)
    coef = np.linalg.solve(G, basis.products(fd).T)
    sigma2 = _residual_energy(fd, basis, coef) / max(n - (2 * K + 1), 1)
    return _package(coef, sigma2, np.linalg.inv(G), freq, t_mid, K, n)


def vpp_amplitude(y_v: np.ndarray) -> float:
    """Half the peak-to-peak value (V): the naive amplitude the benchmarks compare the fit against.

    Not used in the measurement chain; biased upward by about ``sigma sqrt(2 ln N)`` (§1.5).
    """
    y = np.asarray(y_v)
    return 0.5 * float(y.max() - y.min())
