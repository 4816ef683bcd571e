"""Sine fits on an evenly spaced time axis (a scope's): the same least-squares problems without an N x (2K+1) design.

The fast path of ``procedures.measure.phasors.fit_channels``: the reference channel, the 4-parameter frequency fit
and every channel's 3-parameter fit with harmonics (docs/reference/measurement-methods.md §1.1, §1.2, after IEEE Std
1057 and IEEE 1241), the numbers of the design path (procedures/measure/sine_design.py) computed more cheaply.

On a uniform axis t_n = t_mid + u_n dt, u_n = n - (N-1)/2, the design's columns are cos(k theta u), sin(k theta u)
with theta = w dt. Their Gram matrix is a sum of Dirichlet kernels (closed form: no pass over the record). Their
products with the data are DTFTs at the harmonics, summed block by block: with u = U_b + m around block b's centre
U_b, e^{i k theta u} = e^{i k theta U_b} e^{i k theta m}, so every block meets one small table of
cos(k theta m), sin(k theta m) and only the blocks' turns e^{i k theta U_b} differ. Each block is folded about its
centre first: cos(k theta m) is even in m and sin(k theta m) odd, so the cosines need only y(m) + y(-m) and the sines
y(m) - y(-m), over the half block: half the multiply-adds. Same sums as the design's in another order: the numbers
agree with the design path to rounding (tests/procedures/measure/test_phasors.py checks 1e-9).

Units: times in s (``dt``, ``deviation_s``), ``theta`` in rad per sample, ``omega`` in rad/s, frequencies in Hz,
samples in V. Where the axis is not uniform enough, a Gram matrix is ill-conditioned or harmonics alias, the
functions return ``None`` and the design path takes over.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from procedures.measure.frequency_start import _start_frequency
from procedures.measure.sine_design import _harmonic_count_step, _median_step, _snr_rank

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
    about ``k`` roundings of the first, as :func:`~procedures.measure.sine_design._design`'s recurrence does."""
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
    """:func:`~procedures.measure.sine_design._design`'s columns on a :class:`_Folded` record at ``theta = w dt``
    with K harmonics: ``cos_table`` ``[1, cos(theta m), ..., cos(K theta m)]`` and ``sin_table``
    ``[sin(theta m), ..., sin(K theta m)]`` over the half block's offsets, the blocks' turns ``cos(k theta U_b)``,
    ``sin(k theta U_b)`` (K x blocks), and the design's rows at the tail's samples (2K+1 x tail size)."""

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
    """``D^T D`` of :func:`~procedures.measure.sine_design._design`'s columns from the kernel sums ``C0``
    (:func:`_kernels`), by ``2 cos a cos b = cos(a-b) + cos(a+b)`` and ``2 sin a sin b = cos(a-b) - cos(a+b)``;
    cos-sin products sum to zero."""
    j = np.arange(1, K + 1)
    dif, tot = np.abs(j[:, None] - j[None, :]), j[:, None] + j[None, :]
    G = np.zeros((2 * K + 1, 2 * K + 1))
    G[0, 0] = C0[0]
    G[0, 1::2] = G[1::2, 0] = C0[j]
    G[1::2, 1::2] = 0.5 * (C0[dif] + C0[tot])
    G[2::2, 2::2] = 0.5 * (C0[dif] - C0[tot])
    return G


def _frequency_column(S1: np.ndarray, C2: np.ndarray, coef: np.ndarray, n: int) -> tuple[np.ndarray, float]:
    """``D^T J`` and ``J^T J`` of :func:`~procedures.measure.sine_design._fit_omega`'s frequency column
    ``J = tau sum_k k (-a_k sin + b_k cos)`` (``tau = u / (N-1)``) at the coefficients ``coef``, from the kernel sums
    (:func:`_kernels`), by ``2 cos a sin b = sin(a+b) - sin(a-b)`` and the products above."""
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
    """``cond(G) < 1e8``, :func:`~procedures.measure.sine_design._gram_solve`'s test, for a symmetric ``G``: settled
    by Gershgorin's discs (every eigenvalue lies within ``G_ii +- sum_j |G_ij|``) when they suffice, else by the
    SVD."""
    if not np.all(np.isfinite(G)):
        return False
    off = np.abs(G).sum(axis=1) - np.abs(np.diagonal(G))
    low, high = float(np.min(np.diagonal(G) - off)), float(np.max(np.diagonal(G) + off))
    if low > 0.0 and high < 1e8 * low:
        return True
    return bool(np.linalg.cond(G) < 1e8)


def _frequency_uniform(fd: _Folded, ref: int, omega: float, K: int, span: float, max_iterations: int,
                       phase_tol_rad: float) -> float | None:
    """:func:`~procedures.measure.sine_design._fit_omega`'s iterations on channel ``ref`` of a uniform record, the
    same updates from the same start: the angular frequency (rad/s), or ``None`` where a Gram matrix is too
    ill-conditioned for Cholesky (the design path then solves by SVD). The frequency column's products
    ``sum u y cos``, ``sum u y sin`` come with the plain ones: ``u y = U_b y + m y`` in block b, and ``m y`` folds to
    ``m (y(m) - y(-m))`` against the cosines and ``m (y(m) + y(-m))`` against the sines."""
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


def _fit_channels_uniform(tc: np.ndarray, Y: np.ndarray, fd: _Folded, hint_hz: float, reference: int | None,
                          n_harmonics: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, int] | None:
    """``procedures.measure.phasors.fit_channels`` on the uniform axis ``tc`` (s, centred on the record) of the
    record ``Y`` (V, channels x samples, folded in ``fd``), with ``fit_frequency``'s start, harmonic counts and
    stopping rule from the hint ``hint_hz`` (Hz): the least-squares solution ``(coef, sigma2, Ginv, frequency_hz,
    K)`` (coefficients 2K+1 x channels in the design's order, residual variances V^2, ``(D^T D)^-1``, the fitted
    frequency in Hz, the harmonics fitted); ``None`` where the axis departs from uniform by a phase over
    ``_UNIFORM_PHASE_RAD`` at the frequencies met or a Gram matrix is ill-conditioned (the design path takes over)."""
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
    return coef, sigma2, np.linalg.inv(G), freq, K
