"""From measured points to results: calibrated phasors, mixed-mode gains, compression, DC transfer.

Phasor arrays are in node order ``(v1, v2, vo1, vo2)`` (:data:`procedures.measure.acquisition.NODES`), referenced to
input v1's phase, in V peak, each with its per-quadrature standard uncertainty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from procedures.analysis.gain_solve import GainSolve, solve_mixed_mode


@dataclass(frozen=True)
class Calibration:
    """Complex gain of each scope channel relative to the v1 channel, from the same-signal (link) point.

    ``ratios[k] = V_k / V_v1`` with all four probes on input 1 (docs/reference/measurement-methods.md §3.4 step 1); the
    measurement is corrected by ``V_k <- V_k / ratios[k]``. The ratios are per frequency and assumed the same
    on every V/div range (true of the simulated scope; a real scope's range-to-range differences of about
    0.1 % remain, see the README's limitations).
    """

    ratios: np.ndarray
    ratios_u: np.ndarray

    @staticmethod
    def identity() -> Calibration:
        return Calibration(np.ones(4, complex), np.zeros(4))

    @staticmethod
    def from_link(phasors: np.ndarray, u: np.ndarray) -> Calibration:
        """Ratios and their standard uncertainties (first order, relative errors in quadrature)."""
        ref = phasors[0]
        r = phasors / ref
        rel = np.sqrt((u / np.abs(phasors)) ** 2 + (u[0] / abs(ref)) ** 2)
        rel[0] = 0.0
        return Calibration(r, np.abs(r) * rel)

    def apply(self, phasors: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Corrected phasors and uncertainties (the ratio's uncertainty added in quadrature)."""
        v = phasors / self.ratios
        rel = np.sqrt((u / np.maximum(np.abs(phasors), 1e-300)) ** 2 + (self.ratios_u / np.abs(self.ratios)) ** 2)
        return v, np.abs(v) * rel + np.where(np.abs(phasors) > 0, 0.0, u)


@dataclass(frozen=True)
class Crosstalk:
    """Channel-to-channel crosstalk of the scope at one frequency, measured and subtracted.

    Model: the displayed phasors are ``m = G (I + X) v``, G the channels' complex gains (diagonal) and
    ``X[i, j]`` the fraction of node j's signal that channel i picks up. With node j's probe alone on a driven
    node and the other three tips grounded (docs/reference/measurement-methods.md §3.4 step 3, one probe at a time),
    channel i reads ``g_i X[i, j] s`` and channel j reads ``g_j s``; their ratio ``K[i, j]`` is
    ``g_i X[i, j] / g_j``, and ``m = (I + K) (G v)`` exactly, so ``(I + K)^-1 m`` removes the crosstalk
    without knowing G (the channel-match calibration takes care of G afterwards).

    Why it matters: an active load's mirror node (vo1) moves ~800x less than its output (vo2); -70 dB of
    vo2 in vo1's channel is then a quarter of vo1's signal, while between two channels of similar swing it
    cancels in the ratios.
    """

    K: np.ndarray       # (4, 4) complex, zero diagonal
    K_u: np.ndarray     # (4, 4) per-quadrature standard uncertainty of K

    @staticmethod
    def none() -> Crosstalk:
        return Crosstalk(np.zeros((4, 4), complex), np.zeros((4, 4)))

    @staticmethod
    def from_points(points: dict[int, tuple[np.ndarray, np.ndarray]]) -> Crosstalk:
        """From the four crosstalk points ``{j: (phasors, u)}``, j the node index whose probe was driven."""
        K, K_u = np.zeros((4, 4), complex), np.zeros((4, 4))
        for j, (ph, u) in points.items():
            ref = ph[j]
            for i in range(4):
                if i != j:
                    K[i, j] = ph[i] / ref
                    K_u[i, j] = np.hypot(u[i], abs(K[i, j]) * u[j]) / abs(ref)
        return Crosstalk(K, K_u)

    def apply(self, phasors: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Phasors with the crosstalk removed; the uncertainty of K times each neighbour's swing added in
        quadrature (first order: K is ~1e-3 or less, so ``(I + K)^-1 ~ I - K`` for the propagation)."""
        v = np.linalg.solve(np.eye(4) + self.K, phasors)
        extra = (self.K_u ** 2) @ (np.abs(phasors) ** 2) + (np.abs(self.K) ** 2) @ (u ** 2)
        return v, np.sqrt(u ** 2 + extra)


def uneven_outputs(phasors: np.ndarray, ratio: float = 0.02) -> bool:
    """True when one output's swing is below ``ratio`` of the other's: crosstalk between their channels
    (-40 to -70 dB on bench scopes, docs/reference/measurement-methods.md §2) is then a visible part of the small one."""
    a, b = abs(phasors[2]), abs(phasors[3])
    return min(a, b) < ratio * max(a, b)


def extrapolate_to_zero_drive(p1: tuple[np.ndarray, np.ndarray], p2: tuple[np.ndarray, np.ndarray]
                              ) -> tuple[np.ndarray, np.ndarray]:
    """Zero-drive DM phasors from DM points at drive A and 2A (Richardson extrapolation).

    A differential pair's fundamental gain falls as ``G(A) = G0 (1 - c A^2 + ...)`` (odd-order transfer;
    tanh: c = 1/(16 V_T^2), docs/reference/measurement-methods.md §5). Per unit of measured vid, ``(4 G(A) - G(2A))/3``
    cancels the A^2 term, leaving O(A^4). Returned at the scale of the A point (phasors x vid_A), with the
    uncertainty ``sqrt(16 u_A^2 + u_2A^2)/3`` in those units.
    """
    (a, ua), (b, ub) = p1, p2
    vid_a, vid_b = a[0] - a[1], b[0] - b[1]
    na, nb = a / vid_a, b / vid_b
    zero = (4 * na - nb) / 3 * vid_a
    u = np.sqrt(16 * (ua / abs(vid_a)) ** 2 + (ub / abs(vid_b)) ** 2) / 3 * abs(vid_a)
    return zero, u


@dataclass(frozen=True)
class FrequencyGains:
    """Gains at one frequency: the solve on measured pin phasors, and the ideal-generator figure beside it."""

    frequency_hz: float
    solve: GainSolve
    ideal: GainSolve


def gains_at_frequency(frequency_hz: float, dm: tuple[np.ndarray, np.ndarray], cm: tuple[np.ndarray, np.ndarray],
                       cm_tied: bool, cal: Calibration, nominal_dm: tuple[complex, complex],
                       nominal_cm: tuple[complex, complex],
                       naive_cm: tuple[np.ndarray, np.ndarray] | None = None) -> FrequencyGains:
    """Mixed-mode solve from one DM and one CM point (docs/reference/measurement-methods.md §3.2).

    ``dm``/``cm`` are (phasors, u) of the four nodes. With tied inputs the common-mode column takes
    ``vid = 0`` exactly, the pins being one node, and ``vic`` as the mean of the two calibrated input
    channels (§3.3: "one-channel CM drive, taking vid = 0"; §3.4 step 4: v1 and v2 serve only as a check).
    ``nominal_*`` are the (vid, vic) an ideal generator would give; the "ideal" solve uses them instead of
    the measured inputs, with the outputs of ``naive_cm`` (a two-channel CM drive, default: ``cm``) and no
    channel calibration: what a user would report assuming a perfect generator (§3.3 table).
    """
    pd, ud = cal.apply(*dm)
    pc, uc = cal.apply(*cm)
    if cm_tied:
        vic = 0.5 * (pc[0] + pc[1])
        vic_u = 0.5 * np.hypot(uc[0], uc[1])
        pc = pc.copy()
        uc = uc.copy()
        pc[0] = pc[1] = vic
        uc[0] = uc[1] = vic_u  # one error common to both pins: it moves vic, never vid
    X = np.array([[pd[0], pc[0]], [pd[1], pc[1]]])
    Y = np.array([[pd[2], pc[2]], [pd[3], pc[3]]])
    X_u = np.array([[ud[0], uc[0]], [ud[1], uc[1]]])
    Y_u = np.array([[ud[2], uc[2]], [ud[3], uc[3]]])
    solve = solve_mixed_mode(X, Y, X_u, Y_u, tied_columns=(1,) if cm_tied else ())
    (vid_d, vic_d), (vid_c, vic_c) = nominal_dm, nominal_cm
    Xn = np.linalg.solve(np.array([[1.0, -1.0], [0.5, 0.5]]), np.array([[vid_d, vid_c], [vic_d, vic_c]]))
    nd, nd_u = dm
    nc, nc_u = naive_cm if naive_cm is not None else cm
    Yn = np.array([[nd[2], nc[2]], [nd[3], nc[3]]])
    Yn_u = np.array([[nd_u[2], nc_u[2]], [nd_u[3], nc_u[3]]])
    ideal = solve_mixed_mode(Xn, Yn, np.zeros_like(X_u), Yn_u)
    return FrequencyGains(frequency_hz, solve, ideal)


def differential_gain(phasors: np.ndarray, u: np.ndarray) -> tuple[complex, float]:
    """``vod/vid`` from one DM point (the CM leak of a DM drive is second order: vic ~ eps vid/2, §3.3)."""
    vid = phasors[0] - phasors[1]
    vod = phasors[2] - phasors[3]
    g = vod / vid
    rel = np.hypot(np.hypot(u[2], u[3]) / abs(vod), np.hypot(u[0], u[1]) / abs(vid))
    return complex(g), float(abs(g) * rel)


def output_thd(harmonics: np.ndarray, phasors: np.ndarray) -> float:
    """THD of the differential output ``vod = vo1 - vo2`` from the fitted harmonics (ratio)."""
    h = harmonics[2] - harmonics[3]
    fund = phasors[2] - phasors[3]
    return float(np.sqrt(np.sum(np.abs(h) ** 2)) / abs(fund)) if fund != 0 else float("nan")


@dataclass(frozen=True)
class DcTransfer:
    """DC transfer: vod versus vid at the pins, the input-referred offset and the slope through it."""

    vid_v: np.ndarray
    vod_v: np.ndarray
    offset_v: float
    slope: float


def dc_transfer(vid_v: np.ndarray, vod_v: np.ndarray) -> DcTransfer:
    """Input offset = vid where vod crosses zero; slope = derivative there of a cubic through the 5 nearest points.

    The cubic follows the transfer's curvature (a tanh compresses by a few % within +-20 mV), so coarse
    steps do not pull the slope down as a straight-line fit over the same points would.

    A DC transfer that never crosses zero (offset beyond the sweep) gives NaN for both.
    """
    order = np.argsort(vid_v)
    x, y = np.asarray(vid_v)[order], np.asarray(vod_v)[order]
    sign = np.sign(y)
    idx = np.nonzero(sign[:-1] * sign[1:] <= 0)[0]
    if not idx.size:
        return DcTransfer(x, y, float("nan"), float("nan"))
    i = int(idx[np.argmin(np.abs(y[idx]))])
    x0 = float(x[i] - y[i] * (x[i + 1] - x[i]) / (y[i + 1] - y[i])) if y[i + 1] != y[i] else float(x[i])
    near = np.sort(np.argsort(np.abs(x - x0))[:5])
    if near.size >= 4:
        poly = np.polynomial.Polynomial.fit(x[near], y[near], 3)
        roots = [r.real for r in poly.roots() if abs(r.imag) < 1e-12 and x[near][0] <= r.real <= x[near][-1]]
        if roots:
            x0 = float(min(roots, key=lambda r: abs(r - x0)))
        slope = float(poly.deriv()(x0))
    else:
        slope = float(np.polyfit(x[near], y[near], 1)[0])
    return DcTransfer(x, y, x0, slope)
