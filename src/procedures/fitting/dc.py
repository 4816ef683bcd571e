"""Fit of the DC transfer sweep vod(vid) to the pair's exact DC transfer: input offset and slope.

Model: :class:`procedures.fitting.transfer.PairTransferModel` at the measured pins, ``v1, v2 = vic ± vid/2``
(vic measured per point), shifted along vid so that its zero is the free offset ``v_os``:
``vod = F(vid - (v_os - z(theta)); theta)`` with ``z(theta)`` the zero of the unshifted transfer. Free
parameters (default): ``v_os``, ``i_tail`` (with the load resistors held at the config's values, the scale
``I_tail R_L`` of the transfer) and ``vt`` (BJT) or ``v_ov`` (MOS), the input scale of the steering.
Derived: the slope ``dvod/dvid`` at the offset, with its uncertainty propagated from the covariance.

Weights. Both axes are measured (vid and vod come from the scope's DC levels), and near the offset the
transfer is steep (gain ~76 for the source-text stage), so vid's uncertainty dominates there. The residuals
are weighted by the effective variance ``u_vod^2 + (F'(vid) u_vid)^2`` (Orear, "Least squares when both
variables have uncertainties", Am. J. Phys. 50, 912 (1982)), with F' from the model at the current
parameters. Points outside the modelled region (a saturated BJT at the ends of a wide sweep) are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from instruments.board_config import BoardConfig
from procedures.fitting.core import FitError, FitResult, ParamSpec, choose_free, least_squares, make_result, propagate
from procedures.fitting.transfer import PairTransferModel

NAME = "dc_transfer"
_DV = 1e-6  # V, step of the numerical slope


class DcModel:
    """vod(vid) at the measured common-mode levels for the parameters of :mod:`procedures.fitting.transfer`."""

    def __init__(self, board: BoardConfig) -> None:
        self.pair = PairTransferModel(board)
        self.bias = board.bias_v
        self._offset_nominal = 0.0
        self._offset_nominal = self.zero(self.pair.nominal, self.bias)
        self.specs = [ParamSpec("v_os", "V", self._offset_nominal, -1.0, 1.0, 1e-3,
                                "input-referred offset (vid at vod = 0)")] + self.pair.specs
        self.nominal = {s.name: s.nominal for s in self.specs}

    def raw(self, vid: np.ndarray, vic: np.ndarray | float, p: Mapping[str, float]) -> np.ndarray:
        """The unshifted transfer (V)."""
        return self.pair.solve(vic + vid / 2.0, vic - vid / 2.0, p).vod

    def zero(self, p: Mapping[str, float], vic: float) -> float:
        """vid at which the unshifted transfer crosses zero (secant steps from 0; the transfer is monotone)."""
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
        return self.pair.in_region(self.pair.solve(vic + v / 2.0, vic - v / 2.0, p))


def fit_dc_transfer(table: Mapping[str, np.ndarray], board: BoardConfig, options: Mapping[str, Any]) -> FitResult:
    """Fit a ``dc`` table (vid_v, vid_v_u, vic_v, vod_v, vod_v_u, vo1_v, vo2_v)."""
    vid = np.asarray(table["vid_v"], float)
    vod = np.asarray(table["vod_v"], float)
    vic = np.asarray(table["vic_v"], float)
    u_x = np.asarray(table["vid_v_u"], float)
    u_y = np.asarray(table["vod_v_u"], float)
    order = np.argsort(vid)
    vid, vod, vic, u_x, u_y = vid[order], vod[order], vic[order], u_x[order], u_y[order]
    model = DcModel(board)
    default = ["v_os", "i_tail"] + [n for n in ("vt", "v_ov") if n in model.nominal]
    free = choose_free(model.specs, options.get("dc_transfer_free"), default, NAME)
    finite = np.isfinite(vid) & np.isfinite(vod) & np.isfinite(vic) & (u_y > 0) & (u_x >= 0)
    # the modelled region from the measurement where it can be read (BJT: V_BC = v_k - vo_k), else the model
    if board.is_bjt and board.source_r_ohm == 0:
        v1, v2 = vic + vid / 2.0, vic - vid / 2.0
        vo1, vo2 = np.asarray(table["vo1_v"], float)[order], np.asarray(table["vo2_v"], float)[order]
        from procedures.fitting.transfer import BJT_EDGE_V

        inside = (v1 - vo1 < BJT_EDGE_V) & (v2 - vo2 < BJT_EDGE_V)
    else:
        inside = model.inside(vid, vic, model.nominal)
    used = finite & inside
    if used.sum() < len(free) + 1:
        raise FitError(f"DC-transfer fit: only {int(used.sum())} points keep the devices in the modelled region; "
                       "narrow the vid sweep around the offset")

    def u_eff(p: Mapping[str, float], rows: np.ndarray) -> np.ndarray:
        return np.hypot(u_y[rows], model.slope(vid[rows], vic[rows], p) * u_x[rows])

    def residual(p: Mapping[str, float]) -> np.ndarray:
        return (vod[used] - model.vod(vid[used], vic[used], p)) / u_eff(p, used)

    sol = least_squares(model.specs, free, residual, bounds=options.get("bounds") or {}, fit_name=NAME)
    fitted = model.vod(vid, vic, sol.values)
    pred = model.vod(vid, vic, model.nominal)
    u_all = u_eff(sol.values, np.ones_like(used))
    lo, hi = vid[used].min(), vid[used].max()
    curve = np.linspace(lo, hi, 201)
    cf = model.vod(curve, model.bias, sol.values)
    cp = model.vod(curve, model.bias, model.nominal)
    slope = propagate(lambda p: float(model.slope(np.array([p["v_os"]]), model.bias, p)[0]), sol, model.specs)
    text = (f"exact DC transfer of the pair, {model.pair.kind}, shifted to the fitted offset; weighted by the "
            f"effective variance of both axes")
    return make_result(
        NAME, text, model.specs, sol, x_name="vid_v", x=vid, measured={"vod_v": vod},
        measured_u={"vod_v": u_all}, fitted={"vod_v": fitted}, predicted={"vod_v": pred}, curve_x=curve,
        curve_fitted={"vod_v": cf}, curve_predicted={"vod_v": cp},
        residuals={"vod_v": np.where(used, (vod - fitted) / u_all, np.nan)}, used=used,
        derived={"slope": (slope[0], slope[1], "1"),
                 "offset_v": (sol.values["v_os"], float(sol.stderr[sol.free.index("v_os")])
                              if "v_os" in sol.free else 0.0, "V")},
    )
