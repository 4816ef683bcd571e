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
    """The median sample step of the axis ``t`` (s), as ``np.median(np.diff(t))`` (one partial sort, no copy)."""
    d = np.diff(t)
    k = d.size // 2
    if d.size % 2:
        return float(np.partition(d, k)[k])
    part = np.partition(d, (k - 1, k))
    return float((part[k - 1] + part[k]) / 2)


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
    var_quad = np.array([0.5 * (Ginv[2 * k - 1, 2 * k - 1] + Ginv[2 * k, 2 * k]) for k in range(1, K + 1)])
    fits = []
    for ch in range(coef.shape[1]):
        c = coef[:, ch]
        amps = np.array([c[2 * k - 1] - 1j * c[2 * k] for k in range(1, K + 1)]) * rot
        u = np.sqrt(sigma2[ch] * var_quad)
        fits.append(SineFit(frequency_hz=frequency_hz, phasor=complex(amps[0]), phasor_u=float(u[0]),
                            dc_v=float(c[0]), harmonics=amps[1:], harmonics_u=u[1:],
                            residual_rms_v=float(np.sqrt(sigma2[ch])), n_samples=n))
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
    return _ipdft(np.asarray(y_v, dtype=np.float64), _median_step(np.asarray(t_s, dtype=np.float64)))


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
    blocks = _Blocks.of(t, Y) if Y.shape[1] == t.size else None
    if blocks is not None:
        fits = _fit_channels_uniform(t, Y, blocks, _median_step(t - 0.5 * (t[0] + t[-1])), hint_hz, reference,
                                     n_harmonics)
        if fits is not None:
            return fits
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


# --- Uniform time axes: the same least-squares problems without an N x (2K+1) design ---------------------------------
#
# On a uniform axis t_n = t_mid + u_n dt, u_n = n - (N-1)/2, the design's columns are cos(k theta u), sin(k theta u)
# with theta = w dt. Their Gram matrix is a sum of Dirichlet kernels (closed form: no pass over the record), and the
# products with the data are DTFTs at the harmonics, summed block by block: for u = U_b + m in block b,
# e^{i k theta u} = e^{i k theta U_b} e^{i k theta m}, so every block multiplies one small (L x 2K+1) table and only
# the blocks' phases e^{i k theta U_b} differ. Same sums as the design's in another order: the numbers agree with the
# design path to rounding (tests/procedures/measure/test_phasors.py checks 1e-9).

_UNIFORM_PHASE_RAD = 1e-10  # an axis is uniform when its departure from t0 + n dt moves no harmonic by more than this


@dataclass(frozen=True)
class _Blocks:
    """A record on a uniform time axis cut into blocks of ``offsets.size`` samples and a tail (possibly empty).

    ``dt`` is the step (s); ``starts[b]`` the ``u`` of block b's first sample (the tail's last); ``body`` is
    ``(channels, blocks, size)`` and ``tail`` ``(channels, n - blocks * size)``, views of the record.
    """

    n: int
    dt: float
    deviation_s: float
    offsets: np.ndarray
    starts: np.ndarray
    body: np.ndarray
    tail: np.ndarray

    @staticmethod
    def of(t: np.ndarray, Y: np.ndarray) -> _Blocks | None:
        """The blocks of the record ``Y`` (channels x samples) on the increasing axis ``t`` (s), with the axis's largest
        departure from ``t0 + n dt`` (s); ``None`` for records of under 256 samples (the design is as cheap there)."""
        n = t.size
        if n < 256 or not t[-1] > t[0]:
            return None
        dt = float(t[-1] - t[0]) / (n - 1)
        lin = np.arange(n, dtype=np.float64)
        lin *= dt
        lin += t[0]
        lin -= t
        deviation = max(float(lin.max()), -float(lin.min()))
        size = int(round(np.sqrt(n)))
        nb = n // size
        Yc = np.ascontiguousarray(Y)
        return _Blocks(n, dt, deviation, np.arange(size, dtype=np.float64),
                       np.arange(nb + 1) * float(size) - 0.5 * (n - 1),
                       Yc[:, : nb * size].reshape(Yc.shape[0], nb, size), Yc[:, nb * size:])


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
    """:func:`_design`'s columns on a :class:`_Blocks` record at ``theta = w dt`` with K harmonics, in block form:
    ``table`` holds ``[1, cos(theta m), sin(theta m), ..., cos(K theta m), sin(K theta m)]`` over a block's offsets
    (2K+1 x block size), ``cos``/``sin`` the blocks' turns ``cos(k theta U_b)``, ``sin(k theta U_b)``
    (K x blocks+1)."""

    table: np.ndarray
    cos: np.ndarray
    sin: np.ndarray

    @staticmethod
    def at(bl: _Blocks, theta: float, K: int) -> _Basis:
        """The basis of ``bl`` at ``theta`` (rad per sample) with ``K`` harmonics."""
        p = 2 * K + 1
        T = np.empty((p, bl.offsets.size))
        E = _cis(theta * bl.offsets, K)
        T[0] = 1.0
        T[1:p:2] = E.real
        T[2:p:2] = E.imag
        turn = _cis(theta * bl.starts, K)
        return _Basis(T, turn.real, turn.imag)

    def products(self, body: np.ndarray | list[np.ndarray], tail: np.ndarray) -> np.ndarray:
        """Each block's products with the table (channels x 2K+1 x blocks+1, the tail last) of the channels
        ``body`` (each blocks x size) and ``tail`` (channels x tail size)."""
        T = self.table
        Z = np.empty((len(body), T.shape[0], self.cos.shape[1]))
        for x, yb in enumerate(body):  # table on the left: the blocks make the long side of the product
            np.matmul(T, yb.T, out=Z[x, :, :-1])
        Z[:, :, -1] = (T[:, : tail.shape[1]] @ tail.T).T
        return Z

    def total(self, Z: np.ndarray) -> np.ndarray:
        """Sum over blocks of the block products ``Z`` (:meth:`products`, against each block's own ``m``) referred to
        ``u``: ``cos(a+b) = cos a cos b - sin a sin b``, ``sin(a+b) = sin a cos b + cos a sin b`` on each pair
        (channels x 2K+1)."""
        zc, zs = Z[:, 1::2], Z[:, 2::2]
        out = np.empty(Z.shape[:2])
        out[:, 0] = Z[:, 0].sum(axis=1)
        out[:, 1::2] = np.einsum("xkb,kb->xk", zc, self.cos) - np.einsum("xkb,kb->xk", zs, self.sin)
        out[:, 2::2] = np.einsum("xkb,kb->xk", zc, self.sin) + np.einsum("xkb,kb->xk", zs, self.cos)
        return out


def _kernels(theta: float, m_max: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``sum cos(x u)``, ``sum u sin(x u)``, ``sum u^2 cos(x u)`` over ``u_n = n - (N-1)/2`` at ``x = m theta``,
    ``m = 0..m_max``: the Dirichlet kernel ``D(x) = sin(N x/2) / sin(x/2)`` (Lagrange's identity) and ``-D'``,
    ``-D''``, with ``D' = (N/2 cos(N x/2) - D cos(x/2)/2) / sin(x/2)`` and ``D'' = (1/4 - N^2/4) D - cos(x/2) D' /
    sin(x/2)``. The other sums (``u cos``, ``sin``, ``u^2 sin``) vanish on the symmetric axis."""
    x = theta * np.arange(1, m_max + 1)
    A = 0.5 * n
    g, gc = np.sin(0.5 * x), np.cos(0.5 * x)
    d0 = np.sin(A * x) / g
    d1 = (A * np.cos(A * x) - 0.5 * gc * d0) / g
    d2 = (0.25 - A * A) * d0 - gc * d1 / g
    return (np.concatenate([[float(n)], d0]), np.concatenate([[0.0], -d1]),
            np.concatenate([[n * (n * n - 1.0) / 12.0], -d2]))


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
    off = np.abs(G).sum(axis=1) - np.abs(np.diagonal(G))
    low, high = float(np.min(np.diagonal(G) - off)), float(np.max(np.diagonal(G) + off))
    if low > 0.0 and high < 1e8 * low:
        return True
    return bool(np.linalg.cond(G) < 1e8)


def _frequency_uniform(bl: _Blocks, ref: int, omega: float, K: int, span: float, max_iterations: int,
                       phase_tol_rad: float) -> tuple[float, np.ndarray, np.ndarray, float] | None:
    """:func:`_fit_omega`'s iterations on channel ``ref`` of a uniform record, the same updates from the same start:
    the angular frequency (rad/s), or ``None`` where a Gram matrix is too ill-conditioned for Cholesky (the design
    path then solves by SVD). With it: the last iterate's products ``D^T y`` and ``sum u y (cos, sin)`` of the
    channel and that iterate's ``theta`` (:func:`_fit_channels_uniform` moves them to the result)."""
    m = bl.offsets
    body = [bl.body[ref], bl.body[ref] * m]  # u y = U_b y + m y in block b
    tail = np.stack([bl.tail[ref], bl.tail[ref] * m[: bl.tail.shape[1]]])
    j = np.arange(1, K + 1)
    coef = np.empty(0)
    R = Ru = np.empty(0)
    theta = omega * bl.dt
    for i in range(max_iterations):
        theta = omega * bl.dt
        basis = _Basis.at(bl, theta, K)
        Z = basis.products(body, tail)
        R = basis.total(Z[:1])[0]
        Ru = basis.total(Z[1:] + bl.starts * Z[:1])[0]
        C0, S1, C2 = _kernels(theta, 2 * K, bl.n)
        G = _gram_uniform(C0, K)
        if i == 0:
            if not _well_conditioned(G):
                return None
            coef = np.linalg.solve(G, R)
        g, jj = _frequency_column(S1, C2, coef, bl.n)
        Ga = np.empty((2 * K + 2, 2 * K + 2))
        Ga[:-1, :-1], Ga[-1, :-1], Ga[:-1, -1], Ga[-1, -1] = G, g, g, jj
        if not _well_conditioned(Ga):
            return None
        Jy = ((j * coef[2::2]) @ Ru[1::2] - (j * coef[1::2]) @ Ru[2::2]) / (bl.n - 1)
        sol = np.linalg.solve(Ga, np.append(R, Jy))
        coef, d_omega = sol[:-1], sol[-1] / span
        omega += d_omega
        if abs(d_omega) * span <= phase_tol_rad:
            break
    return omega, R, Ru, theta


def _residual_energy(bl: _Blocks, basis: _Basis, coef: np.ndarray) -> np.ndarray:
    """``|y - D coef|^2`` of every channel (``coef``: 2K+1 x channels), the fit evaluated block by block from the
    table with each block's coefficients turned to its own ``m`` (the angle addition of :meth:`_Basis.total`)."""
    c, s = basis.cos.T[None], basis.sin.T[None]
    a, b = coef[1::2].T[:, None, :], coef[2::2].T[:, None, :]
    Q = np.empty((coef.shape[1], c.shape[1], coef.shape[0]))
    Q[..., 0] = coef[0][:, None]
    Q[..., 1::2] = a * c + b * s
    Q[..., 2::2] = b * c - a * s
    T = basis.table
    r = np.empty(bl.body.shape[1:])
    flat = r.reshape(-1)
    energy = np.empty(coef.shape[1])
    for x in range(energy.size):  # one channel at a time: the block stays in cache between the three passes
        np.matmul(Q[x, :-1], T, out=r)
        np.subtract(bl.body[x], r, out=r)
        rt = bl.tail[x] - Q[x, -1] @ T[:, : bl.tail.shape[1]]
        energy[x] = flat @ flat + rt @ rt
    return energy


def _fit_channels_uniform(t: np.ndarray, Y: np.ndarray, bl: _Blocks, step: float, hint_hz: float,
                          reference: int | None, n_harmonics: int) -> list[SineFit] | None:
    """:func:`_fit_channels` on a uniform axis (``step``: the median sample step, s); ``None`` where the axis is not
    uniform enough at the frequencies met or a Gram matrix is ill-conditioned (the design path takes over)."""
    n = bl.n
    t_mid = 0.5 * (t[0] + t[-1])
    tc = t - t_mid
    if reference is None:
        theta = 2.0 * np.pi * hint_hz * bl.dt
        basis = _Basis.at(bl, theta, 1)
        R1 = basis.total(basis.products(list(bl.body), bl.tail))
        G1 = _gram_uniform(_kernels(theta, 2, n)[0], 1)
        if not _well_conditioned(G1):
            return None
        reference = _snr_rank(Y, np.linalg.solve(G1, R1.T), G1, R1.T)
    f0 = _start_frequency(tc, Y[reference], hint_hz, step)
    K = _harmonic_count_step(f0, step, n, n_harmonics)
    if 4.0 * np.pi * f0 * n_harmonics * bl.deviation_s > _UNIFORM_PHASE_RAD:
        return None
    found = _frequency_uniform(bl, reference, 2.0 * np.pi * f0, K, tc[-1] - tc[0], 20, 1e-9)
    if found is None:
        return None
    freq = found[0] / (2.0 * np.pi)
    K = _harmonic_count_step(freq, step, n, n_harmonics)
    theta = 2.0 * np.pi * freq * bl.dt
    basis = _Basis.at(bl, theta, K)
    R = basis.total(basis.products(list(bl.body), bl.tail))
    G = _gram_uniform(_kernels(theta, 2 * K, n)[0], K)
    if not _well_conditioned(G):
        return None
    coef = np.linalg.solve(G, R.T)
    sigma2 = _residual_energy(bl, basis, coef) / max(n - (2 * K + 1), 1)
    return _package(coef, sigma2, np.linalg.inv(G), freq, t_mid, K, n)


def vpp_amplitude(y_v: np.ndarray) -> float:
    """Half the peak-to-peak value (V): the naive amplitude the benchmarks compare the fit against.

    Not used in the measurement chain; biased upward by about ``sigma sqrt(2 ln N)`` (§1.5).
    """
    y = np.asarray(y_v)
    return 0.5 * float(y.max() - y.min())
