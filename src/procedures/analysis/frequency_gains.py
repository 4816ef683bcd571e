"""The mixed-mode gains at one frequency, from its calibrated differential and common-mode points.

Phasor arrays are in node order ``(v1, v2, vo1, vo2)`` (:data:`procedures.measure.acquisition.NODES`), referenced to
input v1's phase, in V peak, each with its per-quadrature standard uncertainty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.mixed_mode import T_MODE
from procedures.analysis.calibration import Calibration
from procedures.analysis.gain_solve import GainSolve, solve_mixed_mode


def extrapolate_to_zero_drive(p1: tuple[np.ndarray, np.ndarray], p2: tuple[np.ndarray, np.ndarray],
                              mode: str = "dm") -> tuple[np.ndarray, np.ndarray]:
    """Zero-drive phasors from points at drive A and rA, r > 1 (Richardson extrapolation), DM (``mode="dm"``,
    per unit of the measured vid) or CM (``"cm"``, per unit of the measured vic).

    A differential pair's fundamental gain falls as ``G(A) = G0 (1 - c A^2 + ...)`` (odd-order transfer;
    tanh: c = 1/(16 V_T^2), docs/reference/measurement-methods.md §5); the fundamental of any memoryless
    nonlinearity driven by a sine has no A^1 term (the even orders reach it only at A^2), so the CM gain of a
    tail near its compliance edge falls the same way. Per unit of the measured drive, ``(r^2 G(A) - G(rA))/
    (r^2 - 1)`` with ``r = |drive_rA/drive_A|`` as measured (2 when the plan doubles the drive) cancels the A^2
    term, leaving ``-r^2 c4 A^4``. Returned at the scale of the A point (phasors x drive_A), with the
    uncertainty ``sqrt(r^4 u_A^2 + u_rA^2)/(r^2 - 1)`` in those units.
    """
    (a, ua), (b, ub) = p1, p2
    if mode == "dm":
        vid_a, vid_b = a[0] - a[1], b[0] - b[1]
    else:
        vid_a, vid_b = (a[0] + a[1]) / 2, (b[0] + b[1]) / 2
    na, nb = a / vid_a, b / vid_b
    w = abs(vid_b / vid_a) ** 2
    zero = (w * na - nb) / (w - 1) * vid_a
    u = np.sqrt(w**2 * (ua / abs(vid_a)) ** 2 + (ub / abs(vid_b)) ** 2) / (w - 1) * abs(vid_a)
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
    Xn = np.linalg.solve(T_MODE, np.array([[vid_d, vid_c], [vic_d, vic_c]]))
    nd, nd_u = dm
    nc, nc_u = naive_cm if naive_cm is not None else cm
    Yn = np.array([[nd[2], nc[2]], [nd[3], nc[3]]])
    Yn_u = np.array([[nd_u[2], nc_u[2]], [nd_u[3], nc_u[3]]])
    ideal = solve_mixed_mode(Xn, Yn, np.zeros_like(X_u), Yn_u)
    return FrequencyGains(frequency_hz, solve, ideal)
