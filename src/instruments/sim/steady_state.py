"""A solved periodic steady state: Fourier coefficients of node voltages, evaluated in time with a bounded error.

``v(t) = Re(sum_k c_k e^{j k w t})``; :class:`SteadyState` holds the coefficients of every node of the
simulated board at one frequency (or of any periodic waveform another part of the bench wraps in it) and
evaluates them at arbitrary times from an interpolation table whose error bound is stated in
:meth:`SteadyState._table`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from .arrays import ComplexArray, FloatArray


class SteadyState:
    """A solved periodic steady state: Fourier coefficients of every node voltage at one frequency.

    ``v(t) = Re(sum_k c_k e^{j k w t})``, k = 0..K, c_0 real (V), ``w = 2 pi freq_hz``, t in s with the
    generator phasors referenced to t = 0. Diagnostics: ``iterations`` (Newton iterations),
    ``continuation_steps`` (0 unless amplitude stepping was needed), ``solve_time_s``.
    """

    _REL_TOL = 1e-9  # interpolation error bound, relative to sum_k>=1 |c_k|
    _LINEAR_L = 1 << 17
    _CHUNK = 32768  # samples per evaluation chunk

    def __init__(self, freq_hz: float, coeffs: ComplexArray, index: Mapping[str, int], iterations: int = 0,
                 continuation_steps: int = 0, solve_time_s: float = 0.0) -> None:
        """``coeffs`` (rows, K+1) complex: row ``index[name]`` holds c_0..c_K of that node at ``freq_hz``.

        Public so that other parts of the simulated bench can wrap any periodic waveform (e.g. a scope
        channel's filtered tone) and reuse the bounded-error evaluation.
        """
        self.freq_hz = float(freq_hz)
        self._c = coeffs
        self._index = dict(index)
        self.iterations = iterations
        self.continuation_steps = continuation_steps
        self.solve_time_s = solve_time_s
        self._tables: dict[int, tuple[int, FloatArray]] = {}
        self._lock = threading.Lock()

    @property
    def n_harmonics(self) -> int:
        """Highest harmonic K held."""
        return int(self._c.shape[1]) - 1

    @property
    def nodes(self) -> list[str]:
        """Names accepted by :meth:`harmonics` and :meth:`evaluate`."""
        return sorted(self._index)

    def _row(self, node: str) -> int:
        try:
            return self._index[node]
        except KeyError:
            raise KeyError(f"no node {node!r} in the simulated board (known: {', '.join(self.nodes)})") from None

    def harmonics(self, node: str) -> ComplexArray:
        """Complex coefficients c_0..c_K (peak phasors) of ``node``; c_0 is the DC level.

        Node voltages are in V. ``"I(G<j>)"`` is the current (A) flowing from the pin(s) into generator
        channel j, i.e. minus the current the channel delivers; ``"I(Vcc)"`` likewise for the supply.
        """
        c: ComplexArray = self._c[self._row(node)].copy()
        return c

    def thd(self, node: str) -> float:
        """Total harmonic distortion ``sqrt(sum_{k>=2} |c_k|^2) / |c_1|`` of a node (ratio, not %)."""
        c = self._c[self._row(node)]
        return float(np.sqrt(np.sum(np.abs(c[2:]) ** 2)) / np.abs(c[1]))

    def _table(self, row: int) -> tuple[int, FloatArray]:
        """Interpolation table of one period of a node: ``(L, tab)``, tab (L+1, ncol) holding per interval
        the Horner coefficients in the local coordinate s in [0, 1).

        Error bounds in the phase variable theta (spacing h = 2 pi / L), with ``max|v^(n)| <= sum_k k^n
        |c_k|``: linear interpolation errs by at most ``h^2/8 max|v''|``, cubic Hermite interpolation
        (values and slopes) by at most ``h^4/384 max|v''''|`` (Burden and Faires, "Numerical Analysis",
        sections 3.1 and 3.4). Linear interpolation on ``_LINEAR_L`` points (2 coefficients gathered per
        sample) is used when its bound is below ``_REL_TOL * sum_k>=1 |c_k|``, otherwise cubic Hermite on
        the smallest power-of-two L that meets the same bound (4 coefficients).
        """
        with self._lock:
            hit = self._tables.get(row)
            if hit is not None:
                return hit
            c = self._c[row]
            K = len(c) - 1
            k = np.arange(K + 1)
            kf = k.astype(float)
            tol = self._REL_TOL * float(np.sum(np.abs(c[1:])))
            d2 = float(np.sum(np.abs(c) * kf**2))
            d4 = float(np.sum(np.abs(c) * kf**4))
            linear = (2 * np.pi / self._LINEAR_L) ** 2 / 8.0 * d2 <= tol
            if linear:
                L = self._LINEAR_L
            else:
                L = 64
                while L < 2 * K + 2 or (2 * np.pi / L) ** 4 / 384.0 * d4 > tol:
                    L *= 2
            spec = np.zeros(L // 2 + 1, dtype=complex)
            spec[: K + 1] = c * (L / 2.0)
            spec[0] = c[0].real * L
            f = np.fft.irfft(spec, L)
            f1 = np.roll(f, -1)
            if linear:
                tab = np.empty((L + 1, 2))
                tab[:L, 0] = f
                tab[:L, 1] = f1 - f
            else:
                dspec = np.zeros_like(spec)
                dspec[: K + 1] = 1j * k * c * (L / 2.0)
                df = np.fft.irfft(dspec, L) * (2 * np.pi / L)  # h * dv/dtheta
                df1 = np.roll(df, -1)
                tab = np.empty((L + 1, 4))
                tab[:L, 0] = f
                tab[:L, 1] = df
                tab[:L, 2] = 3.0 * (f1 - f) - 2.0 * df - df1
                tab[:L, 3] = 2.0 * (f - f1) + df + df1
            tab[L] = tab[0]  # u*L may round up to L
            self._tables[row] = (L, tab)
            return L, tab

    def evaluate(self, node: str, t: ArrayLike) -> FloatArray:
        """Voltage of ``node`` at times ``t`` (s, any shape), V.

        Interpolated from a table of one period whose error is bounded (see :meth:`_table`) by 1e-9 of the
        sum of the node's harmonic amplitudes; cost is a few vector operations per sample.
        """
        v: FloatArray = self.evaluate_nodes([node], t)[0]
        return v

    def evaluate_nodes(self, nodes: Sequence[str], t: ArrayLike) -> FloatArray:
        """Voltages of several nodes at the same times: array (len(nodes), *t.shape), V.

        Shares the phase computation between nodes, so it is the fast path for a 4-channel record.
        """
        t = np.asarray(t, dtype=float)
        rows = [self._row(nd) for nd in nodes]
        out = np.empty((len(rows),) + t.shape)
        if self.freq_hz == 0.0 or self.n_harmonics == 0:
            for j, r in enumerate(rows):
                out[j] = self._c[r, 0].real
            return out
        tables = []
        for r in rows:
            tables.append(self._table(r) if np.any(self._c[r, 1:]) else (0, None))
        flat_t = t.reshape(-1)
        flat_out = out.reshape(len(rows), -1)
        ch = self._CHUNK
        buf_u = np.empty(min(ch, flat_t.size))
        buf_g = {n: np.empty((buf_u.size, n)) for n in (2, 4)}
        buf_w = np.empty_like(buf_u)
        idx = {L: np.empty(buf_u.shape, dtype=np.intp) for L, _ in tables if L}
        frac = {L: np.empty_like(buf_u) for L in idx}
        # Work in cache-sized chunks: the temporaries stay in L2 and no large arrays are allocated.
        for a in range(0, flat_t.size, ch):
            b = min(a + ch, flat_t.size)
            u, w = buf_u[: b - a], buf_w[: b - a]
            np.multiply(flat_t[a:b], self.freq_hz, out=u)  # phase in cycles
            np.floor(u, out=w)
            u -= w
            for L in idx:
                x, i = frac[L][: b - a], idx[L][: b - a]
                np.multiply(u, L, out=x)
                np.floor(x, out=w)
                x -= w
                i[...] = w
            for j, (L, tab) in enumerate(tables):
                v = flat_out[j, a:b]
                if tab is None:
                    v[...] = self._c[rows[j], 0].real
                    continue
                ncol = tab.shape[1]
                i, sx, g = idx[L][: b - a], frac[L][: b - a], buf_g[ncol][: b - a]
                np.take(tab, i, axis=0, out=g)  # one gather of each sample's coefficients
                np.multiply(g[:, ncol - 1], sx, out=v)
                for col in range(ncol - 2, 0, -1):
                    v += g[:, col]
                    v *= sx
                v += g[:, 0]
        return out
