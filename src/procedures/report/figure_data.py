"""What each figure of the report shows, taken from the report context: measured series with their
uncertainties (:mod:`procedures.analysis.propagation`), the prediction and the fits beside them.

Builds the plain data of :mod:`procedures.report.plots.data`; draws nothing (no matplotlib here).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from models.mixed_mode import GAIN_NAMES, phase_deg
from procedures.analysis.dc_transfer import curve_slope, incremental_gain
from procedures.analysis.differential_gain import p1db
from procedures.analysis.gain_figures import (
    CMRR_NAMES,
    DB_FIGURES,
    VALUE,
    db_figure_rows,
    db_figure_series,
    gain_db_rows,
    named_cmrr_ratios,
    ratio_functions,
)
from procedures.analysis.propagation import mag_u, ratio_u_rows
from procedures.fitting.core import FitResult
from procedures.report.context import Context, FreqData, Table
from procedures.report.fits import fit_at, fit_label, fits_for
from procedures.report.limit_marks import offset_marks, thd_marks
from procedures.report.plots.data import BodeSeries, DcData, ModelCurve, SweepData

CMRR_LABELS = {"CMRR_se1": "CMRR_se,1", "CMRR_se2": "CMRR_se,2", "CMRR_diff": "CMRR_diff"}


def freq_series(ctx: Context) -> tuple[dict[str, BodeSeries], dict[str, BodeSeries]]:
    """Bode series of the four gains and of the three CMRRs, each with the prediction and the fits."""
    fd = ctx.freq
    assert fd is not None
    models: dict[str, list[ModelCurve]] = {k: [] for k in (*GAIN_NAMES, *CMRR_NAMES)}
    if ctx.pred_freq is not None:
        pf = ctx.pred_freq
        for k in models:
            models[k].append(ModelCurve(pf.label, "prediction", pf.dense_hz, pf.curves[k],
                                        pf.at_measured[k]))
    for fit in fits_for(ctx, "frequency_hz"):
        for k, mc in _fit_curves(ctx, fit, list(models), fd.f).items():
            models[k].append(mc)
    gains = {}
    for name in ("Add", "Acc", "Acd", "Adc"):
        z, mdb, udb, udeg, kind = gain_db_rows(fd.S, fd.cov, name)  # a gain in its noise: an upper limit
        gains[name] = BodeSeries(name, name, fd.f, mdb, udb, np.where(kind == VALUE, phase_deg(z), np.nan), udeg,
                                 models=models[name], kind=kind)
    return gains, _cmrr_series(fd, models)


def _cmrr_series(fd: FreqData, models: dict[str, list[ModelCurve]]) -> dict[str, BodeSeries]:
    """The CMRRs in dB as archived (computed from S for an older archive without them), their phase; a CMRR
    the run could only bound is its limit, with no uncertainty and no phase (the phase of ``Add/Acd`` with
    ``Acd`` in the noise is noise)."""
    t = fd.table
    cmrrs = {}
    for name, fn in ratio_functions().items():
        w, _, udeg = ratio_u_rows(fd.S, fd.cov, fn)
        col = f"{name}_db"
        mag, umag, kind = db_figure_series(t, fd.S, fd.cov, col)
        ideal = np.asarray(t[f"{name}_ideal_db"], float) if f"{name}_ideal_db" in t else None
        value = kind == VALUE
        phase = np.where(np.isfinite(w) & value, phase_deg(w), np.nan)  # none for an infinite ratio or a limit
        cmrrs[name] = BodeSeries(name, CMRR_LABELS[name], fd.f, mag, umag, phase, np.where(value, udeg, np.nan),
                                 models=models[name], ideal_db=ideal, kind=kind)
    return cmrrs


def level_figures(t: Table) -> dict[str, np.ndarray]:
    """A cm-range's ``cm_gains`` table for the CMRR-versus-level figure: ``bias_v`` and each dB figure's value,
    ``_u`` and ``_kind`` as archived, or decided from S and its covariance for an archive without the kinds
    (:func:`procedures.analysis.gain_figures.db_figure_rows`)."""
    out: dict[str, np.ndarray] = {"bias_v": np.asarray(t.get("bias_v", []), float)}
    for col in DB_FIGURES:
        if col in t:
            out[col], out[f"{col}_u"], out[f"{col}_kind"] = db_figure_rows(t, col)
    return out


def _fit_curves(ctx: Context, fit: FitResult, keys: Sequence[str], x: np.ndarray) -> dict[str, ModelCurve]:
    """``key -> ModelCurve`` for the keys a fit provides (CMRR ratios derived when all four gains are there)."""
    cf = dict(getattr(fit, "curve_fitted", {}) or {})
    cx = np.asarray(getattr(fit, "curve_x", []), float)
    at = {k: fit_at(fit, k, x) for k in GAIN_NAMES if k in cf}
    if all(k in cf for k in GAIN_NAMES):
        cf.update(named_cmrr_ratios(cf))
        complete = {k: v for k, v in at.items() if v is not None}
        if len(complete) == len(GAIN_NAMES):
            at.update(named_cmrr_ratios(complete))
    out = {}
    for k in keys:
        if k in cf and cx.size:
            out[k] = ModelCurve(fit_label(fit, ctx), "fit", cx, np.asarray(cf[k]), at.get(k, fit_at(fit, k, x)))
    return out


def amplitude_data(ctx: Context, t: Table) -> SweepData:
    """Gain and THD versus the drive amplitude, with the board's vid limit, the 1 dB compression point,
    the prediction and the fits."""
    gain = np.asarray(t["Add"], complex)
    x = np.asarray(t["vid_vpk"], float)
    d = SweepData(x, gain, _gain_u(t, gain), np.asarray(t["thd_out"], float))
    if x.size:
        d.reference_gain = float(np.abs(gain[int(np.argmin(x))]))
        d.p1db_v = p1db(x, gain)
    if ctx.board is not None:
        d.limits.append((ctx.board.vid_max_vpk, f"board limit vid_max = {ctx.board.vid_max_vpk:g} V"))
    d.thd_marks = thd_marks(ctx.board)
    if ctx.pred_amplitude is not None:
        pa = ctx.pred_amplitude
        d.gain_models.append(ModelCurve(pa.label, "prediction", pa.x, pa.gain, pa.gain_at))
        d.thd_models.append(ModelCurve(pa.label, "prediction", pa.x, pa.thd, pa.thd_at))
    for fit in fits_for(ctx, "vid_vpk"):
        cx = np.asarray(fit.curve_x, float)
        for key, target in (("gain", d.gain_models), ("Add", d.gain_models), ("thd", d.thd_models)):
            y = (fit.curve_fitted or {}).get(key)
            if y is not None:
                target.append(ModelCurve(fit_label(fit, ctx), "fit", cx, np.asarray(y), fit_at(fit, key, x)))
    return d


def cm_range_data(ctx: Context, t: Table) -> SweepData:
    """Gain and THD versus the inputs' DC level, with the board's safe bias limits and the prediction."""
    gain = np.asarray(t["Add"], complex)
    x = np.asarray(t["bias_v"], float)
    d = SweepData(x, gain, _gain_u(t, gain), np.asarray(t["thd_out"], float),
                  x_label="input DC level, both inputs (V)", x_log=False)
    if ctx.board is not None:
        d.limits += [(ctx.board.bias_min_v, f"bias_min = {ctx.board.bias_min_v:g} V"),
                     (ctx.board.bias_max_v, f"bias_max = {ctx.board.bias_max_v:g} V")]
    if ctx.pred_cm is not None:
        pc = ctx.pred_cm
        d.gain_models.append(ModelCurve(pc.label, "prediction", pc.x, pc.gain, pc.gain_at))
        d.thd_models.append(ModelCurve(pc.label, "prediction", pc.x, pc.thd, pc.thd_at))
    return d


def _gain_u(t: Table, gain: np.ndarray) -> np.ndarray:
    """The standard uncertainty of |Add| (zero when the table has none)."""
    return mag_u(gain, t["Add_u"]) if "Add_u" in t else np.zeros(gain.shape)


def dc_data(ctx: Context) -> DcData:
    """The DC transfer with its summary, the incremental gain, the prediction and the fits."""
    t = ctx.dc
    assert t is not None
    vid = np.asarray(t["vid_v"], float)
    d = DcData(vid, np.asarray(t.get("vid_v_u", np.zeros_like(vid)), float), np.asarray(t["vod_v"], float),
               np.asarray(t.get("vod_v_u", np.zeros_like(vid)), float), np.asarray(t["vo1_v"], float),
               np.asarray(t["vo2_v"], float))
    d.incremental = incremental_gain(d.vid, d.vod)
    d.marks = offset_marks(ctx.board)
    if ctx.dc_summary:
        d.offset_v = ctx.dc_summary.get("offset_v")
        d.slope = ctx.dc_summary.get("slope")
    if ctx.pred_dc is not None:
        pd = ctx.pred_dc
        lab = f"prediction ({pd.transfer})"
        d.vod_models.append(ModelCurve(lab, "prediction", pd.vid, pd.vod, pd.vod_at))
        d.vo_models = {"vo1": ModelCurve(lab, "prediction", pd.vid, pd.vo1),
                       "vo2": ModelCurve(lab, "prediction", pd.vid, pd.vo2)}
        d.saturation = pd.saturation
    for fit in fits_for(ctx, "vid_v"):
        y = (fit.curve_fitted or {}).get("vod_v")
        if y is not None:
            d.vod_models.append(ModelCurve(fit_label(fit, ctx), "fit", np.asarray(fit.curve_x, float), np.asarray(y),
                                           fit_at(fit, "vod_v", vid)))
    d.slope_models = [ModelCurve(mc.label, mc.kind, np.asarray(mc.x, float), curve_slope(mc.x, mc.y))
                      for mc in d.vod_models if np.asarray(mc.x).size > 2]
    return d
