"""Fit of the DC transfer sweep vod(vid) of a netlist board to ngspice: its ``.param``s and the input offset.

The model is the board's own netlist solved by ngspice (:mod:`procedures.predict.ngspice_dc`): one ``.dc``
sweep per parameter set, over a uniform grid of vid that spans the measured vid with half the span to spare on
either side, at the measured common mode (the mean of the table's ``vic_v``: over a sweep it moves by ~1e-4 V,
and dvod/dvic <= 2e-3 on 2n3904-pair, so <= 2e-7 V of vod), with the ``[netlist] fit_params`` changed by
``alterparam``. Between the grid's points the transfer is a cubic spline (de Boor, "A Practical Guide to
Splines", ch. IV, not-a-knot ends; error ``O(h^4 max|f''''|)``). At :data:`GRID_PER_POINT` grid steps per
measured step it matches a 4001-point ngspice sweep of 2n3904-pair within 2.7e-7 V of vod (4.7e-8 of the swing)
and 5e-8 relative in the slope: the scatter ngspice's own Newton tolerance leaves (2 or 8 steps per measured step
give the same), against measured uncertainties of ~1e-4 V.

Offset, as the closed-form DC fit (:mod:`procedures.fitting.dc`) has it: the transfer is shifted along vid so
that its zero is the free ``v_os``: ``vod = F(vid - (v_os - z(theta)); theta)`` with ``z(theta)`` the zero of
the netlist's own transfer. ``v_os`` moves no ngspice run: only the ``.param``s do, so each evaluation of the
fit costs at most one ngspice run (the runs are cached per parameter set).

Weights, as the closed-form DC fit's (:class:`procedures.fitting.dc.ResidualCovariance`): each point's own errors
by the effective variance ``u_vod^2 + (F'(vid) u_vid)^2`` of both measured axes (Orear, Am. J. Phys. 50, 912
(1982)), F' the spline's derivative at the current parameters, and the link calibration's error, shared by every
point, once (the residuals whitened by their whole covariance: it moves the offset, and is not averaged down by
the number of points). ngspice models the whole circuit, so every finite point is used (the closed-form fit
leaves out points where its device laws stop holding).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.interpolate import CubicSpline

from instruments.board_config import BoardConfig
from procedures.analysis.dc_rows import DcErrors, dc_errors
from procedures.fitting.core import FitError, FitResult, ParamSpec, least_squares, make_result, propagate
from procedures.fitting.dc import ResidualCovariance
from procedures.fitting.identifiable import free_params, held_note
from procedures.fitting.netlist_fit import netlist_specs
from procedures.predict.ngspice_dc import dc_deck, run_dc, with_params
from procedures.predict.ngspice_run import NgspiceFailed

NAME = "dc_transfer"
GRID_PER_POINT = 4
"""Grid steps of the ``.dc`` sweep per step of the measured sweep (module docstring)."""
MARGIN = 0.5
"""Span of the grid beyond the measured vid on either side, as a share of the measured span."""


class NetlistDcModel:
    """vod(vid) of a netlist board at one common mode from ngspice, shifted to a free offset (module docstring)."""

    def __init__(self, board: BoardConfig, vid_lo_v: float, vid_hi_v: float, n_measured: int, vic_v: float) -> None:
        nb = board.netlist
        params = netlist_specs(board)
        assert nb is not None  # netlist_specs raised otherwise
        span = vid_hi_v - vid_lo_v
        if not span > 0:
            raise FitError("DC-transfer fit: the measured vid does not span an interval")
        self.points = round(GRID_PER_POINT * max(n_measured - 1, 1) * (1 + 2 * MARGIN)) + 1
        self.lo, self.hi = vid_lo_v - MARGIN * span, vid_hi_v + MARGIN * span
        self.deck = dc_deck(nb.text, nb.pins, vic_v, self.lo, self.hi, self.points, board.temperature_k)
        self.board, self.vic_v = board, vic_v
        self.names = [s.name for s in params]
        self._cache: dict[tuple[float, ...], tuple[CubicSpline, float]] = {}
        nominal = {s.name: s.nominal for s in params}
        v_os = self.zero(nominal)
        if not np.isfinite(v_os):
            raise FitError(f"DC-transfer fit: the netlist's vod does not cross zero within vid = {self.lo:.4g} .. "
                           f"{self.hi:.4g} V at its nominal .params")
        self.specs = [ParamSpec("v_os", "V", v_os, vid_lo_v, vid_hi_v, 1e-3,
                                "input-referred offset (vid at vod = 0)")] + params
        self.nominal = {s.name: s.nominal for s in self.specs}

    def _transfer(self, p: Mapping[str, float]) -> tuple[CubicSpline, float]:
        """The unshifted transfer at the ``.param``s of ``p`` (a spline of vid in V) and its zero (V)."""
        key = tuple(float(p[n]) for n in self.names)
        hit = self._cache.get(key)
        if hit is None:
            nb = self.board.netlist
            assert nb is not None
            res = run_dc(with_params(self.deck, dict(zip(self.names, key))), self.points, cwd=nb.folder,
                         what=f"{self.board.source}: the ngspice DC-transfer fit")
            spline = CubicSpline(res.vid_v, res.vod_v)
            hit = self._cache[key] = (spline, _zero(spline))
        return hit

    def zero(self, p: Mapping[str, float]) -> float:
        """vid (V) at which the netlist's own transfer crosses zero at the ``.param``s of ``p``."""
        return self._transfer(p)[1]

    def _arg(self, vid: np.ndarray, p: Mapping[str, float]) -> tuple[CubicSpline, np.ndarray]:
        spline, z = self._transfer(p)
        x = np.asarray(vid, float) - (float(p["v_os"]) - z)
        return spline, np.where((x >= self.lo) & (x <= self.hi), x, np.nan)

    def vod(self, vid: np.ndarray, p: Mapping[str, float]) -> np.ndarray:
        """The shifted transfer (V) at ``vid`` (V); NaN where the shift takes it off the grid."""
        spline, x = self._arg(vid, p)
        return np.asarray(spline(x))

    def slope(self, vid: np.ndarray, p: Mapping[str, float]) -> np.ndarray:
        """dvod/dvid of the shifted transfer at ``vid`` (V)."""
        spline, x = self._arg(vid, p)
        return np.asarray(spline(x, 1))


def _zero(spline: CubicSpline) -> float:
    """The zero of the transfer nearest the middle of the grid (a pair's transfer is monotone; NaN if none)."""
    roots = np.asarray(spline.solve(0.0, extrapolate=False), float)
    roots = roots[np.isfinite(roots)]
    if roots.size == 0:
        return float("nan")
    mid = 0.5 * (spline.x[0] + spline.x[-1])
    return float(roots[np.argmin(np.abs(roots - mid))])


def _table(table: Mapping[str, np.ndarray]) -> tuple[dict[str, np.ndarray], DcErrors]:
    """The table's columns and its errors' split (:func:`procedures.analysis.dc_rows.dc_errors`), sorted by vid."""
    cols = {"vid": "vid_v", "vod": "vod_v", "vic": "vic_v", "u_x": "vid_v_u", "u_y": "vod_v_u"}
    out = {k: np.asarray(table[c], float) for k, c in cols.items()}
    order = np.argsort(out["vid"])
    return {k: v[order] for k, v in out.items()}, dc_errors(table).take(order)


def fit_netlist_dc(table: Mapping[str, np.ndarray], board: BoardConfig, options: Mapping[str, Any]) -> FitResult:
    """Fit a ``dc`` table (vid_v, vid_v_u, vic_v, vod_v, vod_v_u, vo1_v, vo2_v) of a netlist board to ngspice
    (module docstring). Free parameters (default): ``v_os`` and the ``[netlist] fit_params`` the sweep tells apart
    (:mod:`procedures.fitting.identifiable`); ``[fit] dc_transfer_free`` chooses them instead. Derived: the
    slope dvod/dvid at the offset and the offset (V)."""
    t, errors = _table(table)
    vid, vod, u_x, u_y = t["vid"], t["vod"], t["u_x"], t["u_y"]
    used = np.isfinite(vid) & np.isfinite(vod) & np.isfinite(t["vic"]) & (u_y > 0) & (u_x >= 0)
    if used.sum() < 3:
        raise FitError(f"DC-transfer fit: only {int(used.sum())} finite points")
    model = NetlistDcModel(board, float(vid[used].min()), float(vid[used].max()), int(used.sum()),
                           float(np.mean(t["vic"][used])))
    cov = ResidualCovariance(errors.take(used))

    def residual(p: Mapping[str, float]) -> np.ndarray:
        try:
            return cov.whiten((vod - model.vod(vid, p))[used], model.slope(vid, p)[used])
        except NgspiceFailed:  # ngspice gave up at a trial step: the minimiser sees it as far off and steps back
            return np.full(int(used.sum()), np.nan)

    free, held = free_params(model.specs, options.get("dc_transfer_free"), residual, model.nominal, NAME, ["v_os"])
    sol = least_squares(model.specs, free, residual, bounds=options.get("bounds") or {}, fit_name=NAME,
                        max_nfev=200)
    fitted, pred = model.vod(vid, sol.values), model.vod(vid, model.nominal)
    u_all = ResidualCovariance(errors).total_u(model.slope(vid, sol.values))
    curve = np.linspace(vid[used].min(), vid[used].max(), 201)
    slope = propagate(lambda p: float(model.slope(np.array([p["v_os"]]), p)[0]), sol, model.specs)
    v_os_u = float(sol.stderr[sol.free.index("v_os")]) if "v_os" in sol.free else 0.0
    text = (f"the board's netlist solved by ngspice (.dc at vic = {model.vic_v:.4g} V), its .params adjusted, "
            "shifted to the fitted offset; weighted by the effective variance of both axes, the link calibration's "
            "error shared by every point" + ("" if errors.exact else " (bounded: the table does not split it)")
            + held_note(held, "DC transfer"))
    return make_result(
        NAME, text, model.specs, sol, x_name="vid_v", x=vid, measured={"vod_v": vod},
        measured_u={"vod_v": u_all}, fitted={"vod_v": fitted}, predicted={"vod_v": pred}, curve_x=curve,
        curve_fitted={"vod_v": model.vod(curve, sol.values)},
        curve_predicted={"vod_v": model.vod(curve, model.nominal)},
        residuals={"vod_v": np.where(used, (vod - fitted) / u_all, np.nan)}, used=used,
        derived={"slope": (slope[0], slope[1], "1"), "offset_v": (sol.values["v_os"], v_os_u, "V")},
    )
