"""Fit of the DC transfer sweep vod(vid) to the pair's exact DC transfer: input offset and slope.

Model: :class:`procedures.fitting.transfer.PairTransferModel` at the measured pins, ``v1, v2 = vic ± vid/2``
(vic measured per point), shifted along vid so that its zero is the free offset ``v_os``:
``vod = F(vid - (v_os - z(theta)); theta)`` with ``z(theta)`` the zero of the unshifted transfer. Free
parameters (default): ``v_os``, ``i_tail`` (with the load resistors held at the config's values, the scale
``I_tail R_L`` of the transfer) and ``vt`` (BJT) or ``v_ov`` (MOS), the input scale of the steering.
Derived: the slope ``dvod/dvid`` at the offset, with its uncertainty propagated from the covariance.

Weights. Both axes are measured (vid and vod come from the scope's DC levels), and near the offset the
transfer is steep (gain ~76 for the source-text stage), so vid's uncertainty dominates there. A point's own errors
are weighted by the effective variance ``u_vod^2 + (F'(vid) u_vid)^2`` (Orear, "Least squares when both
variables have uncertainties", Am. J. Phys. 50, 912 (1982)), with F' from the model at the current
parameters. Most of vid's uncertainty, though, is the link calibration's error, one error shared by every point
(:func:`procedures.analysis.dc_rows.dc_errors`): a common shift of vid, which the offset takes up whole. So the
residuals ``r = vod - F(vid)`` are whitened by their whole covariance ``V = diag(u_vod^2 + (F' u_vid)^2) + S S^T``,
``S = s_vod - F' s_vid`` the residuals' change per standard deviation of each shared error (generalised least
squares: ``chi^2 = r^T V^-1 r``, computed as the norm of ``L^-1 r`` with ``V = L L^T`` Cholesky; Cowan,
"Statistical Data Analysis", 1998, section 7.6). The shared error then enters the offset's uncertainty once;
weighting each point by its whole u as if independent (as this fit did) averaged it down by the number of points
(offsets 3.5-5.6 of their stated u from the simulator's truth, chi2_red 0.2-0.6) and stated the other parameters'
uncertainties 1.3-2 times too large. A table with the link's uncertainty per channel
(:data:`procedures.analysis.dc_rows.LINK_U_COLUMN`) splits each point's u exactly into its own part and the shared
one; a table without it gives only a bound on the shared part, with each point's whole u kept as its own: every
uncertainty is then on the large side (the offset's by 1.1-1.5 times, the others' as before). Points outside the
modelled region (a saturated BJT at the ends of a wide sweep) are left out.

Every other board (active loads, the two-stage amplifier, the telescopic stage, a cascoded pair): the whole stage
(:class:`procedures.fitting.circuit_transfer.CircuitTransferModel`, valid in every region, so every point is used),
its zero found by secant steps from the last one with a bracketed Brent search behind them (:func:`stage_zero`; the
zero of such a stage's vod = vo1 - vo2 can lie past the sweep's end). Its sweep spans only the stage's linear range
(a few mV), which fixes the offset and the slope but not I_tail besides V_T (V_ov): the default frees ``v_os`` and
``vt`` or ``v_ov``. Weighted as above.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from instruments.board_config import BoardConfig
from models import DcTransferError
from procedures.analysis.dc_rows import DcErrors, dc_errors
from procedures.fitting.core import (
    FitError,
    FitResult,
    ParamSpec,
    choose_free,
    least_squares,
    make_result,
    propagate,
)
from procedures.fitting.transfer import BJT_EDGE_V, PairTransferModel, transfer_model

NAME = "dc_transfer"
_DV = 1e-6  # V, step of the numerical slope


ZERO_SEARCH_V = 1.0
"""Widest vid (V) searched for the zero of a stage's transfer."""


def stage_zero(f: Callable[[float], float], start: float | None = None) -> float:
    """The zero (V) of a monotone transfer ``f(vid)``: secant steps from ``start`` (e.g. the zero at nearby
    parameters), else from the linear estimate ``-f(0)/f'(0)``; when they leave +-:data:`ZERO_SEARCH_V` or stall,
    the zero bracketed by steps doubled outwards from 0 and found by Brent's method (scipy.optimize.brentq; Press et
    al., "Numerical Recipes", 3rd ed., sections 9.2 and 9.3)."""
    if start is None:
        f0 = f(0.0)
        slope = (f(_DV) - f(-_DV)) / (2 * _DV)
        start = -f0 / slope if slope != 0 and math.isfinite(slope) and f0 != 0 else 0.0
    x0, x1 = start, start + 1e-6
    f0, f1 = f(x0), f(x1)
    for _ in range(30):
        if f1 == f0 or abs(x1) > ZERO_SEARCH_V:
            break
        x0, x1, f0 = x1, x1 - f1 * (x1 - x0) / (f1 - f0), f1
        if abs(x1) > ZERO_SEARCH_V:
            break
        f1 = f(x1)
        if abs(x1 - x0) < 1e-13:
            return x1
    return _brent_zero(f)


def _brent_zero(f: Callable[[float], float]) -> float:
    """The zero of a monotone ``f`` bracketed outwards from 0 (:func:`stage_zero`)."""
    from scipy.optimize import brentq

    f0 = f(0.0)
    if f0 == 0.0:
        return 0.0
    step = 1e-4 if f(1e-4) * f0 < 0 or abs(f(1e-4)) < abs(f0) else -1e-4
    a, b = 0.0, step
    while (f(b) > 0) == (f0 > 0):
        if abs(b) > ZERO_SEARCH_V:
            raise FitError(f"DC-transfer fit: the model's vod does not cross zero within +-{ZERO_SEARCH_V:g} V of vid")
        a, b = b, 2.0 * b
    return float(brentq(f, a, b, xtol=1e-16, rtol=4 * np.finfo(float).eps))


class DcModel:
    """vod(vid) at the measured common-mode levels for the parameters of :mod:`procedures.fitting.transfer`."""

    def __init__(self, board: BoardConfig) -> None:
        self.pair = transfer_model(board)
        self.bias = board.bias_v
        self._zero_hint: float | None = None
        self._offset_nominal = 0.0
        self._offset_nominal = self.zero(self.pair.nominal, self.bias)
        self.specs = [ParamSpec("v_os", "V", self._offset_nominal, -1.0, 1.0, 1e-3,
                                "input-referred offset (vid at vod = 0)")] + self.pair.specs
        self.nominal = {s.name: s.nominal for s in self.specs}

    def raw(self, vid: np.ndarray, vic: np.ndarray | float, p: Mapping[str, float]) -> np.ndarray:
        """The unshifted transfer (V)."""
        return self.pair.solve(vic + vid / 2.0, vic - vid / 2.0, p).vod

    def zero(self, p: Mapping[str, float], vic: float) -> float:
        """vid at which the unshifted transfer crosses zero (secant steps from 0; the transfer is monotone; the
        whole stage's, whose zero may lie where it has clipped: bracketed, :func:`stage_zero`)."""
        if not isinstance(self.pair, PairTransferModel):
            z = stage_zero(lambda x: float(self.raw(np.array([x]), vic, p)[0]), self._zero_hint)
            self._zero_hint = z
            return z
        x0, x1 = 0.0, 1e-4
        f0, f1 = (float(self.raw(np.array([x]), vic, p)[0]) for x in (x0, x1))
        for _ in range(50):
            if f1 == f0:
                break
            x0, x1, f0 = x1, x1 - f1 * (x1 - x0) / (f1 - f0), f1
            f1 = float(self.raw(np.array([x1]), vic, p)[0])
            if abs(x1 - x0) < 1e-13:
                break
        return x1

    def shift(self, p: Mapping[str, float]) -> float:
        return float(p["v_os"]) - self.zero(p, self.bias)

    def vod(self, vid: np.ndarray, vic: np.ndarray | float, p: Mapping[str, float]) -> np.ndarray:
        return self.raw(np.asarray(vid, float) - self.shift(p), vic, p)

    def slope(self, vid: np.ndarray, vic: np.ndarray | float, p: Mapping[str, float]) -> np.ndarray:
        s = self.shift(p)
        v = np.asarray(vid, float) - s
        return (self.raw(v + _DV, vic, p) - self.raw(v - _DV, vic, p)) / (2 * _DV)

    def inside(self, vid: np.ndarray, vic: np.ndarray | float, p: Mapping[str, float]) -> np.ndarray:
        v = np.asarray(vid, float) - self.shift(p)
        pair = self.pair
        if isinstance(pair, PairTransferModel):
            return pair.in_region(pair.solve(vic + v / 2.0, vic - v / 2.0, p))
        return pair.in_region(pair.solve(vic + v / 2.0, vic - v / 2.0, p))


class ResidualCovariance:
    """The covariance (V^2) of the residuals ``vod - F(vid)`` of dc rows with errors ``errors`` (module docstring:
    each row's own errors through the effective variance, the shared ones through ``S = s_vod - F' s_vid``), and
    the residuals whitened by it."""

    def __init__(self, errors: DcErrors) -> None:
        self.own_x, self.own_y = errors.vid_u, errors.vod_u
        self.shared_x, self.shared_y = errors.vid_shared, errors.vod_shared

    def matrix(self, slope: np.ndarray) -> np.ndarray:
        """``V`` at the model's slopes ``slope`` (dvod/dvid at each row)."""
        s = self.shared_y - slope[:, None] * self.shared_x
        shared = s @ s.T
        own = self.own_y**2 + (slope * self.own_x) ** 2
        # a row whose whole u is shared would make V singular: keep a sliver of its own
        own = np.maximum(own, 1e-12 * np.diag(shared))
        out: np.ndarray = shared + np.diag(own)
        return out

    def total_u(self, slope: np.ndarray) -> np.ndarray:
        """Each row's whole effective uncertainty (V): ``sqrt(V_ii)``, for plots and per-point residuals."""
        return np.sqrt(np.diag(self.matrix(slope)))

    def whiten(self, r: np.ndarray, slope: np.ndarray) -> np.ndarray:
        """``L^-1 r`` with ``V = L L^T`` (``sum`` of its squares is ``r^T V^-1 r``); NaN where ``V`` is not positive
        definite (a trial step where the model's slope is not finite)."""
        from scipy.linalg import solve_triangular

        try:
            L = np.linalg.cholesky(self.matrix(slope))
        except np.linalg.LinAlgError:
            return np.full(r.shape, np.nan)
        out: np.ndarray = solve_triangular(L, r, lower=True, check_finite=False)
        return out


def fit_dc_transfer(table: Mapping[str, np.ndarray], board: BoardConfig, options: Mapping[str, Any]) -> FitResult:
    """Fit a ``dc`` table (vid_v, vid_v_u, vic_v, vod_v, vod_v_u, vo1_v, vo2_v; with
    :data:`procedures.analysis.dc_rows.LINK_U_COLUMN` its errors' split is exact, else bounded: module docstring)."""
    vid = np.asarray(table["vid_v"], float)
    vod = np.asarray(table["vod_v"], float)
    vic = np.asarray(table["vic_v"], float)
    u_x = np.asarray(table["vid_v_u"], float)
    u_y = np.asarray(table["vod_v_u"], float)
    order = np.argsort(vid)
    vid, vod, vic, u_x, u_y = vid[order], vod[order], vic[order], u_x[order], u_y[order]
    errors = dc_errors(table).take(order)
    model = DcModel(board)
    scale: list[str] = [n for n in ("vt", "v_ov") if n in model.nominal]
    # a whole stage's short sweep (its linear range) fixes the offset and the slope, not I_tail besides
    default = ["v_os", "i_tail"] + scale if isinstance(model.pair, PairTransferModel) else ["v_os"] + scale
    free = choose_free(model.specs, options.get("dc_transfer_free"), default, NAME)
    finite = np.isfinite(vid) & np.isfinite(vod) & np.isfinite(vic) & (u_y > 0) & (u_x >= 0)
    # the modelled region from the measurement where it can be read (BJT: V_BC = v_k - vo_k), else the model
    if isinstance(model.pair, PairTransferModel) and board.is_bjt and board.source_r_ohm == 0:
        v1, v2 = vic + vid / 2.0, vic - vid / 2.0
        vo1, vo2 = np.asarray(table["vo1_v"], float)[order], np.asarray(table["vo2_v"], float)[order]
        inside = (v1 - vo1 < BJT_EDGE_V) & (v2 - vo2 < BJT_EDGE_V)
    else:
        inside = model.inside(vid, vic, model.nominal)
    used = finite & inside
    if used.sum() < len(free) + 1:
        raise FitError(f"DC-transfer fit: only {int(used.sum())} points keep the devices in the modelled region; "
                       "narrow the vid sweep around the offset")
    cov = ResidualCovariance(errors.take(used))

    def residual(p: Mapping[str, float]) -> np.ndarray:
        try:
            r = vod[used] - model.vod(vid[used], vic[used], p)
            return cov.whiten(r, model.slope(vid[used], vic[used], p))
        except (DcTransferError, FitError):  # no solution at these trial values: the minimiser steps back
            return np.full(int(used.sum()), np.nan)

    sol = least_squares(model.specs, free, residual, bounds=options.get("bounds") or {}, fit_name=NAME)
    fitted = model.vod(vid, vic, sol.values)
    pred = model.vod(vid, vic, model.nominal)
    u_all = ResidualCovariance(errors).total_u(model.slope(vid, vic, sol.values))
    lo, hi = vid[used].min(), vid[used].max()
    curve = np.linspace(lo, hi, 201)
    cf = model.vod(curve, model.bias, sol.values)
    cp = model.vod(curve, model.bias, model.nominal)
    slope = propagate(lambda p: float(model.slope(np.array([p["v_os"]]), model.bias, p)[0]), sol, model.specs)
    what = "the pair" if isinstance(model.pair, PairTransferModel) else "the whole stage"
    text = (f"exact DC transfer of {what}, {model.pair.kind}, shifted to the fitted offset; weighted by the "
            f"effective variance of both axes, the link calibration's error shared by every point"
            + ("" if errors.exact else " (bounded: the table does not split it)"))
    return make_result(
        NAME, text, model.specs, sol, x_name="vid_v", x=vid, measured={"vod_v": vod},
        measured_u={"vod_v": u_all}, fitted={"vod_v": fitted}, predicted={"vod_v": pred}, curve_x=curve,
        curve_fitted={"vod_v": cf}, curve_predicted={"vod_v": cp},
        residuals={"vod_v": np.where(used, (vod - fitted) / u_all, np.nan)}, used=used,
        derived={"slope": (slope[0], slope[1], "1"),
                 "offset_v": (sol.values["v_os"], float(sol.stderr[sol.free.index("v_os")])
                              if "v_os" in sol.free else 0.0, "V")},
    )
