"""Exact DC transfer of a resistive-load differential pair, vectorised over the input levels.

Where :mod:`models.large_signal` gives the textbook current steering (tanh, square law) with everything
else held at the operating point, this module solves the whole DC circuit of
:func:`models.operating_point.resistive_pair_operating_point` at many input pairs ``(v1, v2)`` at once, so the
output levels include what moves with the signal: the Early effect / channel-length modulation as the
collectors swing (about 3.5 % of I_C across a full swing of the source-text stage), the base currents, the
Norton tail's current rising with the tail node, degeneration and the series input resistance. The DC
sweep and the amplitude sweep are fitted against it (:mod:`procedures.fitting.run_fits`); the tests check it against
the scalar, bracketed operating-point solver.

Circuit and device laws (:mod:`models.devices`): side k has input pin ``v_k``, series ``r_source`` to the
base/gate, ``r_degen`` from emitter/source to the tail node ``v_t``, and load ``R_k`` from the collector/drain
(the output ``vo_k``) to ``v_return``; the tail is ``i_tail`` in parallel with ``r_tail`` to ``v_ee``.

- BJT, forward active (SPICE Gummel-Poon Early form): ``a = I_S e^{x/V_T}`` with ``x = V_BE``,
  ``I_B = a/beta_F``, ``I_C = a (1 - V_BC/V_A)``. With ``V_C = v_return - R_k I_C`` and
  ``V_E = v_t + R_E (I_C + I_B)`` this is linear in I_C:
  ``I_C (1 + a (R_k + R_E)/V_A) = a (1 + (v_return - v_t - R_E I_B - x)/V_A)``.
- MOS, saturation (square law with lambda): ``b = (kp/2) max(x - V_th, 0)^2`` with ``x = V_GS``;
  ``I_D = b (1 + lambda V_DS)``, i.e. ``I_D (1 + b lambda (R_k + R_S)) = b (1 + lambda (v_return - v_t))``.

Unknowns per input pair: ``x_1, x_2, v_t``. Equations: Kirchhoff's voltage law around each input,
``v_k - r_source I_B,k - v_t - r_degen I_E,k - x_k = 0``, and the tail node's current law,
``I_E,1 + I_E,2 = i_tail + (v_t - v_ee)/r_tail``. Newton's method with the analytic Jacobian, the steps in
``x`` limited to 2 V_T (BJT; SPICE-style junction limiting, Nagel 1975) or 0.1 V (MOS), all points solved
together. Devices outside the region the laws describe (a saturated BJT, a MOS device in triode) are not
modelled; :class:`PairDc` reports the margins so callers can leave such points out (or use
:mod:`models.full_region_dc`, which carries the device laws past those edges and also takes a current-mirror
load and pins behind a generator's source resistance; it starts from this solution).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .devices import BjtParams, DeviceParams, MosParams
from .pair_circuit import DiffPair, NortonTail, ResistorLoads


class DcTransferError(ValueError):
    """The Newton iteration did not converge (inputs far outside anything the pair can carry)."""


@dataclass(frozen=True)
class PairDc:
    """DC solution at each input pair (arrays of the inputs' broadcast shape, SI units).

    ``vo1, vo2``: output levels (V); ``i_out1, i_out2``: collector/drain currents (A); ``v_ctrl1, v_ctrl2``:
    V_BE / V_GS (V); ``v_tail``: tail node (V); ``v_base1, v_base2``: base/gate nodes (V); ``headroom1,
    headroom2``: distance from the edge of the modelled region (V): ``BJT_EDGE_V - V_BC`` for a BJT (the
    caller's choice of edge), ``V_DS - V_ov`` for a MOS device (negative: outside).
    """

    vo1: np.ndarray
    vo2: np.ndarray
    i_out1: np.ndarray
    i_out2: np.ndarray
    v_ctrl1: np.ndarray
    v_ctrl2: np.ndarray
    v_tail: np.ndarray
    v_base1: np.ndarray
    v_base2: np.ndarray
    headroom1: np.ndarray
    headroom2: np.ndarray

    @property
    def vod(self) -> np.ndarray:
        """``vo1 - vo2`` (V)."""
        out: np.ndarray = self.vo1 - self.vo2
        return out


_SideCurrents = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""``(i_out, i_in, di_out/dx, di_in/dx, di_out/dv_t)`` of one side."""


def _side(dev: DeviceParams, x: np.ndarray, v_t: np.ndarray, vt: float, r_load: float, v_return: float,
          r_degen: float) -> _SideCurrents:
    """Currents of one side and their derivatives: ``(i_out, i_in, di_out/dx, di_in/dx, di_out/dv_t)``
    (module docstring: the collector current is solved from its linear equation)."""
    if isinstance(dev, BjtParams):
        a = dev.i_s * np.exp(np.minimum(x / vt, 200.0))
        da = a / vt
        i_b = a / dev.beta
        di_b = da / dev.beta
        if math.isinf(dev.early_v):
            return a, i_b, da, di_b, np.zeros_like(a)
        va = dev.early_v
        num = 1.0 + (v_return - v_t - r_degen * i_b - x) / va
        den = 1.0 + a * (r_load + r_degen) / va
        i_c = a * num / den
        dnum = (-r_degen * di_b - 1.0) / va
        dden = da * (r_load + r_degen) / va
        di_c = (da * num + a * dnum) / den - i_c * dden / den
        return i_c, i_b, di_c, di_b, -a / (va * den)
    vov = np.maximum(x - dev.vth, 0.0)
    b = 0.5 * dev.kp * vov**2
    db = dev.kp * vov
    lam = dev.lambda_per_v
    num = 1.0 + lam * (v_return - v_t)
    den = 1.0 + b * lam * (r_load + r_degen)
    zero = np.zeros_like(b)
    return b * num / den, zero, db * num / den**2, zero, -b * lam / den


def _start(devices: tuple[DeviceParams, DeviceParams], vt: float, i_tail: float) -> tuple[float, float]:
    """Starting control voltage (V, both devices at half the tail current, mean device) and the Newton step
    limit on it (V): 2 V_T for a BJT (junction limiting, Nagel 1975), 0.1 V for a MOS device."""
    d1, d2 = devices
    # a tail whose source has run out of compliance may give no current at rest (a start only: Newton goes on)
    i_tail = max(i_tail, 1e-15)
    if isinstance(d1, BjtParams) and isinstance(d2, BjtParams):
        i_s = 0.5 * (d1.i_s + d2.i_s)
        return vt * math.log(i_tail / (2.0 * i_s)), 2.0 * vt
    if isinstance(d1, MosParams) and isinstance(d2, MosParams):
        return 0.5 * (d1.vth + d2.vth) + math.sqrt(i_tail / (0.5 * (d1.kp + d2.kp))), 0.1
    raise ValueError("both devices of a pair must be of one kind")


def _newton_system(pair: DiffPair, tail: NortonTail, load: ResistorLoads, v: np.ndarray, x: np.ndarray,
                   v_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Residuals ``F`` (n, 3) and Jacobian ``J`` (n, 3, 3) of the two input loops and the tail node's current
    law in the unknowns ``(x_1, x_2, v_t)`` (module docstring)."""
    r_source, r_degen = pair.r_source, pair.r_degen
    g_tail = 0.0 if math.isinf(tail.r_out) else 1.0 / tail.r_out
    n = v.shape[1]
    J = np.zeros((n, 3, 3))
    F = np.zeros((n, 3))
    for k in range(2):
        i_o, i_i, di_o, di_i, di_ot = _side(pair.devices[k], x[k], v_t, pair.vt, load.r[k], load.v_return, r_degen)
        i_e, di_e = i_o + i_i, di_o + di_i
        F[:, k] = v[k] - r_source * i_i - v_t - r_degen * i_e - x[k]
        J[:, k, k] = -r_source * di_i - r_degen * di_e - 1.0
        J[:, k, 2] = -1.0 - r_degen * di_ot
        J[:, 2, k] = di_e
        F[:, 2] += i_e
        J[:, 2, 2] += di_ot
    F[:, 2] -= tail.current + (v_t - tail.v_ee) * g_tail
    J[:, 2, 2] -= g_tail
    return F, J


def _solve(pair: DiffPair, tail: NortonTail, load: ResistorLoads, v: np.ndarray,
           max_iter: int) -> tuple[np.ndarray, np.ndarray]:
    """Newton's method for ``(x, v_t)`` at the input levels ``v`` (2, n), all points together, steps limited
    (module docstring); :class:`DcTransferError` when the steps are not all below 1e-13 V within ``max_iter``."""
    x0, max_step = _start(pair.devices, pair.vt, tail.current)
    x = np.full((2, v.shape[1]), x0)
    v_t = v.mean(axis=0) - x0 - pair.r_degen * tail.current / 2.0
    for _ in range(max_iter):
        F, J = _newton_system(pair, tail, load, v, x, v_t)
        step = np.linalg.solve(J, -F[..., None])[..., 0]
        dx = np.clip(step[:, :2].T, -max_step, max_step)
        dvt = np.clip(step[:, 2], -10 * max_step, 10 * max_step)
        x = x + dx
        v_t = v_t + dvt
        if np.all(np.abs(dx) <= 1e-13) and np.all(np.abs(dvt) <= 1e-13):
            return x, v_t
    raise DcTransferError(f"the DC transfer did not converge in {max_iter} Newton steps")


def _side_nodes(pair: DiffPair, load: ResistorLoads, k: int, v_k: np.ndarray, x_k: np.ndarray, v_t: np.ndarray,
                bjt_edge_v: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Side ``k`` (0 or 1) at the solution: output level, output current, base/gate node and headroom."""
    dev = pair.devices[k]
    i_o, i_i, *_ = _side(dev, x_k, v_t, pair.vt, load.r[k], load.v_return, pair.r_degen)
    vo = load.v_return - load.r[k] * i_o
    v_b = v_k - pair.r_source * i_i
    v_e = v_t + pair.r_degen * (i_o + i_i)
    if isinstance(dev, BjtParams):
        head = bjt_edge_v - (v_b - vo)
    else:
        head = (vo - v_e) - np.maximum(x_k - dev.vth, 0.0)
    return vo, i_o, v_b, head


def resistive_pair_dc(v1: ArrayLike, v2: ArrayLike, pair: DiffPair, tail: NortonTail, load: ResistorLoads, *,
                      bjt_edge_v: float = 0.4, max_iter: int = 200) -> PairDc:
    """Solve ``pair`` fed by ``tail`` with resistive loads ``load`` at input pin levels ``v1, v2`` (V, arrays
    broadcast together); see the module docstring.

    The circuit is that of :func:`models.operating_point.resistive_pair_operating_point` without a cascode
    (``pair.cascode`` must be ``None``). ``bjt_edge_v`` is the forward V_BC taken as the edge of forward
    activity for ``headroom`` (V). Converged when every step is below 1e-13 V; raises :class:`DcTransferError`
    otherwise, ``ValueError`` for a pair of mixed kinds or with a cascode.
    """
    if pair.cascode is not None:
        raise ValueError("the DC transfer does not model a cascode")
    v1a, v2a = np.broadcast_arrays(np.asarray(v1, dtype=float), np.asarray(v2, dtype=float))
    shape = v1a.shape
    v = np.stack([v1a.ravel(), v2a.ravel()])  # (2, n)
    x, v_t = _solve(pair, tail, load, v, max_iter)
    (vo1, i1, b1, h1), (vo2, i2, b2, h2) = (_side_nodes(pair, load, k, v[k], x[k], v_t, bjt_edge_v) for k in range(2))

    def r(a: np.ndarray) -> np.ndarray:
        return np.reshape(a, shape)

    return PairDc(vo1=r(vo1), vo2=r(vo2), i_out1=r(i1), i_out2=r(i2), v_ctrl1=r(x[0]), v_ctrl2=r(x[1]),
                  v_tail=r(v_t), v_base1=r(b1), v_base2=r(b2), headroom1=r(h1), headroom2=r(h2))
