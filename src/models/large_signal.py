"""Large-signal DC transfer of a differential pair: current steering, output levels, input-referred offset.

BJT pair (Gray, Hurst, Lewis & Meyer §3.5; docs/reference/measurement-methods.md §5): with ``I_C = I_S exp(V_BE/V_T)``,
``I_E1 + I_E2 = I_EE`` and emitter resistors ``R_E`` per side,

    v_id = V_T ln(I_C1/I_C2) - V_T ln(I_S1/I_S2) + R_E (I_E1 - I_E2)

which without degeneration and with matched devices is ``I_C1 - I_C2 = alpha I_EE tanh(v_id/(2 V_T))``.
With degeneration it is solved exactly (no series approximation): in ``w = atanh((I_E1 - I_E2)/I_EE)`` the
equation reads ``2 V_T w + R_E I_EE tanh(w) = v_id + V_T ln(I_S1/I_S2)``, whose left side is odd, increasing and
concave for ``w > 0``, so Newton's method from ``w = 0`` on ``|rhs|`` converges monotonically.

MOS pair, square law (Razavi §4.2; docs/reference/measurement-methods.md §5): ``I_D = (kp/2)(V_GS - V_th)^2``
per device, ``I_D1 + I_D2 = I_SS``. Matched and undegenerated,

    I_D1 - I_D2 = (I_SS/V_ov) v_id sqrt(1 - (v_id/(2 V_ov))^2),   |v_id| <= sqrt(2) V_ov,  V_ov^2 = I_SS/kp

and one device carries all of I_SS beyond. With kp and V_th mismatch the split is the root of a quadratic
(closed form); with source degeneration it is found by bisection on the monotone ``v_id(I_D1)``.

Outputs: ``vo_k = v_return - R_k I_Ck`` (resistive loads). The input-referred offset is the ``v_id`` that
makes ``vod = 0``; it has a closed form for both device kinds (below).

All functions are vectorised over ``v_id`` (V) and take SI units.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def tanh_differential_current(v_id: ArrayLike, i_tail: float, vt: float) -> np.ndarray:
    """``I_EE tanh(v_id / (2 V_T))`` (A): the differential emitter current of a matched, undegenerated BJT pair
    (Gray-Meyer eq. 3.153; docs/reference/measurement-methods.md §5)."""
    return i_tail * np.tanh(np.asarray(v_id, dtype=float) / (2.0 * vt))


def bjt_pair_currents(v_id: ArrayLike, i_tail: float, vt: float, *, r_degen: float = 0.0, i_s1: float = 1.0,
                      i_s2: float = 1.0, alpha: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Collector currents ``(I_C1, I_C2)`` (A) of a BJT pair at differential input ``v_id`` (V).

    ``i_tail``: tail current (A); ``vt``: thermal voltage (V); ``r_degen``: emitter resistor per side (Ohm);
    ``i_s1, i_s2``: saturation currents (only their ratio matters); ``alpha``: I_C/I_E. Solves
    ``v_id = V_T ln(I_C1 I_S2 / (I_C2 I_S1)) + R_E (I_E1 - I_E2)`` exactly (module docstring).
    """
    v = np.asarray(v_id, dtype=float) + vt * np.log(i_s1 / i_s2)
    x = r_degen * i_tail
    if x == 0:
        w = v / (2.0 * vt)
    else:
        a = np.abs(v)
        w = np.zeros_like(a)
        for _ in range(100):
            t = np.tanh(w)
            g = 2.0 * vt * w + x * t - a
            step = g / (2.0 * vt + x * (1.0 - t * t))
            w = w - step
            if np.all(np.abs(step) <= 1e-15 * (1.0 + np.abs(w))):
                break
        w = np.sign(v) * w
    d = i_tail * np.tanh(w)  # I_E1 - I_E2
    return alpha * (i_tail + d) / 2.0, alpha * (i_tail - d) / 2.0


def mos_square_law_differential_current(v_id: ArrayLike, i_tail: float, v_ov: float) -> np.ndarray:
    """``(I_SS/V_ov) v_id sqrt(1 - (v_id/(2 V_ov))^2)`` (A) for ``|v_id| <= sqrt(2) V_ov``, ``±I_SS`` beyond:
    the matched square-law pair (Razavi eq. 4.18 with ``V_ov^2 = I_SS/kp``;
    docs/reference/measurement-methods.md §5)."""
    v = np.asarray(v_id, dtype=float)
    edge = np.sqrt(2.0) * v_ov
    inside = np.abs(v) <= edge
    vc = np.where(inside, v, 0.0)
    d = (i_tail / v_ov) * vc * np.sqrt(np.maximum(1.0 - (vc / (2.0 * v_ov)) ** 2, 0.0))
    return np.where(inside, d, np.sign(v) * i_tail)


def _mos_vid_of_i1(i1: np.ndarray, i_tail: float, kp1: float, kp2: float, dvth: float, r_degen: float) -> np.ndarray:
    return (np.sqrt(2.0 * i1 / kp1) - np.sqrt(2.0 * (i_tail - i1) / kp2) + dvth
            + r_degen * (2.0 * i1 - i_tail))


def mos_pair_currents(v_id: ArrayLike, i_tail: float, kp1: float, kp2: float | None = None, *, vth1: float = 0.0,
                      vth2: float = 0.0, r_degen: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Drain currents ``(I_D1, I_D2)`` (A) of a square-law MOS pair at ``v_id`` (V).

    ``kp1, kp2``: mu C_ox W/L of each device (A/V^2; ``kp2`` defaults to ``kp1``); ``vth1, vth2``: thresholds
    (V; only the difference matters); ``r_degen``: source resistor per side (Ohm). Solves
    ``v_id = V_th1 + sqrt(2 I_D1/kp1) - V_th2 - sqrt(2 I_D2/kp2) + R_S (I_D1 - I_D2)`` with one device cut off
    beyond the ends. Without degeneration, with ``a = sqrt(2 I_D1/kp1)`` and ``b = sqrt(2 I_D2/kp2)``,
    ``a - b = v_id - V_th1 + V_th2`` and ``kp1 a^2 + kp2 b^2 = 2 I_SS`` give
    ``b = (-kp1 u + sqrt(2 I_SS (kp1 + kp2) - kp1 kp2 u^2))/(kp1 + kp2)``, ``u = v_id - V_th1 + V_th2``.
    """
    kp2 = kp1 if kp2 is None else kp2
    v = np.asarray(v_id, dtype=float)
    dvth = vth1 - vth2
    hi_edge = _mos_vid_of_i1(np.asarray(i_tail), i_tail, kp1, kp2, dvth, r_degen)
    lo_edge = _mos_vid_of_i1(np.asarray(0.0), i_tail, kp1, kp2, dvth, r_degen)
    if r_degen == 0:
        u = np.clip(v, lo_edge, hi_edge) - dvth
        b = (-kp1 * u + np.sqrt(np.maximum(2.0 * i_tail * (kp1 + kp2) - kp1 * kp2 * u * u, 0.0))) / (kp1 + kp2)
        i2 = 0.5 * kp2 * b * b
        i1 = i_tail - i2
    else:
        lo = np.zeros_like(v)
        hi = np.full_like(v, i_tail)
        vc = np.clip(v, lo_edge, hi_edge)
        for _ in range(64):  # bisection: 2^-64 of I_SS is below double precision
            mid = 0.5 * (lo + hi)
            above = _mos_vid_of_i1(mid, i_tail, kp1, kp2, dvth, r_degen) > vc
            hi = np.where(above, mid, hi)
            lo = np.where(above, lo, mid)
        i1 = 0.5 * (lo + hi)
        i2 = i_tail - i1
    i1 = np.where(v >= hi_edge, i_tail, np.where(v <= lo_edge, 0.0, i1))
    i2 = i_tail - i1
    return i1, i2


def resistive_outputs(i_c1: ArrayLike, i_c2: ArrayLike, r_load1: float, r_load2: float,
                      v_return: float) -> tuple[np.ndarray, np.ndarray]:
    """Output levels ``vo_k = v_return - R_k I_Ck`` (V) of resistive loads (Ohm) carrying ``I_Ck`` (A)."""
    return v_return - r_load1 * np.asarray(i_c1), v_return - r_load2 * np.asarray(i_c2)


def bjt_input_offset(vt: float, r_load1: float, r_load2: float, *, i_s1: float = 1.0, i_s2: float = 1.0,
                     r_degen: float = 0.0, i_tail: float = 0.0) -> float:
    """Input-referred offset (V): the ``v_id`` at which ``vod = 0`` for resistive loads.

    ``vod = 0`` needs ``I_C1 R1 = I_C2 R2``, i.e. ``I_E1/I_E2 = R2/R1`` and ``I_E1 - I_E2 = I_EE (R2 - R1)/(R1 + R2)``,
    so exactly ``V_os = V_T ln(R2 I_S2 / (R1 I_S1)) + R_E I_EE (R2 - R1)/(R1 + R2)``; to first order
    ``V_T (Delta R/R + Delta I_S/I_S)`` with ``Delta X = X2 - X1`` (Gray-Meyer §3.5.6).
    """
    return float(vt * np.log(r_load2 * i_s2 / (r_load1 * i_s1)) + r_degen * i_tail * (r_load2 - r_load1)
                 / (r_load1 + r_load2))


def mos_input_offset(i_tail: float, kp1: float, kp2: float, r_load1: float, r_load2: float, *, vth1: float = 0.0,
                     vth2: float = 0.0, r_degen: float = 0.0) -> float:
    """Input-referred offset (V) of a square-law pair with resistive loads: the ``v_id`` with ``vod = 0``.

    Exactly: ``I_D1 = I_SS R2/(R1 + R2)``, ``I_D2 = I_SS R1/(R1 + R2)`` and
    ``V_os = V_th1 - V_th2 + sqrt(2 I_D1/kp1) - sqrt(2 I_D2/kp2) + R_S (I_D1 - I_D2)``; to first order
    ``-Delta V_th + (V_ov/2)(Delta R/R + Delta kp/kp)`` with ``Delta X = X2 - X1`` (Razavi §14.2).
    """
    i1 = i_tail * r_load2 / (r_load1 + r_load2)
    return float(_mos_vid_of_i1(np.asarray(i1), i_tail, kp1, kp2, vth1 - vth2, r_degen))
