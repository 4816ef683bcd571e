"""The page's tables of measured results: the gains and CMRRs at a few frequencies, their differences from
the prediction and from a fit, gain and THD versus drive or input level, and the DC transfer.

Values are printed with their standard uncertainty (k = 1), propagated from S's covariance
(:mod:`procedures.analysis.propagation`); the CMRRs are the archive's own columns when it has them, and a
CMRR whose denominator the run did not resolve is printed as the lower limit it is (``≥ 92.07``,
:func:`procedures.analysis.gain_figures.db_figure_rows`).
"""

from __future__ import annotations

import numpy as np

from models.mixed_mode import GAIN_NAMES, db, phase_deg
from procedures.analysis.differential_gain import p1db
from procedures.analysis.gain_figures import (
    CMRR_NAMES,
    VALUE,
    db_figure_rows,
    db_figure_series,
    gain_db_rows,
    limits_explanation,
    named_cmrr_ratios,
)
from procedures.analysis.propagation import db_u, linear_u, mag_u
from procedures.predict.si_format import eng
from procedures.report.context import Context, FreqData, SweepPrediction, Table
from procedures.report.fits import fit_at, fits_for
from procedures.report.html.formatting import esc, fmt, fmt_db_figure, fmt_pm, fmt_sig, pick_rows, table

RATIO_LABELS = (("CMRR_se1", "CMRR_se,1 = |Ad_se,1/Acm_se,1| (dB)"),
                ("CMRR_se2", "CMRR_se,2 = |Ad_se,2/Acm_se,2| (dB)"),
                ("CMRR_diff", "CMRR_diff = |Add/Acd| (dB)"), ("Add_over_Acc", "|Add/Acc| (dB)"))
DIFF_LABELS = {"CMRR_se1": "ΔCMRR_se,1 (dB)", "CMRR_se2": "ΔCMRR_se,2 (dB)", "CMRR_diff": "ΔCMRR_diff (dB)"}


def gain_rows(fd: FreqData) -> str:
    """The gains (magnitude in dB and phase) and the CMRRs at up to six frequencies, with uncertainties."""
    with np.errstate(all="ignore"):
        idx = pick_rows(fd.f.size)
        head = ["quantity"] + [eng(float(x), "Hz") for x in fd.f[idx]]
        rows: list[list[str]] = []
        kinds: set[str] = set()
        for name in ("Add", "Acc", "Acd", "Adc"):
            z, mdb, udb, udeg, kind = gain_db_rows(fd.S[idx], fd.cov[idx], name)
            kinds.update(str(k) for k in kind)
            rows.append([f"|{name}| (dB)"] + [fmt_db_figure(float(m), float(u), str(k))
                                               for m, u, k in zip(mdb, udb, kind)])
            rows.append([f"phase of {name} (deg)"] + [fmt_pm(float(phase_deg(v)), float(u)) if k == VALUE else "n/a"
                                                       for v, u, k in zip(z, udeg, kind)])
            if name == "Add":
                ulin = linear_u(udb, np.abs(z))
                rows.insert(0, ["Add (V/V, magnitude)"] + [fmt_pm(float(abs(v)), float(u)) for v, u in zip(z, ulin)])
        ratios, ratio_kinds = _ratio_rows(fd, idx)
        rows += ratios
        kinds |= ratio_kinds
    note = (f"<p class='note'>{len(idx)} of {fd.f.size} frequencies; value ± standard uncertainty (k = 1). "
            "Every frequency is in the figures and in the archive's <code>gains</code> table."
            f"{esc(limits_note(kinds))}</p>")
    return table(head, rows, cls="num") + note


def limits_note(kinds: set[str]) -> str:
    """What a ``≥``/``≤`` figure means, when one of ``kinds`` is a limit (else nothing)."""
    text = limits_explanation(kinds, "≥", "≤")
    return f" {text}" if text else ""


def _ratio_rows(fd: FreqData, idx: list[int]) -> tuple[list[list[str]], set[str]]:
    """The CMRRs and |Add/Acc| in dB (computed from S when the table lacks them) and their ideal-generator
    counterparts; with the kinds of the figures shown."""
    t = fd.table
    rows: list[list[str]] = []
    kinds: set[str] = set()
    for name, label in RATIO_LABELS:
        col = f"{name}_db"
        if col in t or name in CMRR_NAMES:
            v, u, k = db_figure_series(fd.table, fd.S, fd.cov, col)
            rows.append([label] + [fmt_db_figure(float(v[i]), float(u[i]), str(k[i])) for i in idx])
            kinds.update(str(k[i]) for i in idx)
        ideal = f"{name}_ideal_db"
        if ideal in t:
            friendly = label.split(" = ")[0].split(" (")[0]
            rows.append([f"  {friendly}, ideal-generator assumption (dB)"] + [fmt(t[ideal][i], 2) for i in idx])
    return rows, kinds


def diff_rows(ctx: Context, fd: FreqData, model: str) -> str | None:
    """``measured - model`` at the table's frequencies, for the prediction or the first frequency fit."""
    idx = pick_rows(fd.f.size)
    at = _model_at(ctx, fd, model, idx)
    if at is None:
        return None
    head = (["measured − " + ("prediction" if model == "prediction" else "fit")]
            + [eng(float(x), "Hz") for x in fd.f[idx]])
    rows = []
    for name in ("Add", "Acc", "Acd", "Adc"):
        if name not in at:
            continue
        z, mdb, _, _, kind = gain_db_rows(fd.S[idx], fd.cov[idx], name)
        m = at[name]
        with np.errstate(divide="ignore", invalid="ignore"):
            ddb = mdb - db(np.abs(m))
            dph = phase_deg(z / m)
        rows.append([f"Δ|{name}| (dB)"] + [_diff_cell(float(x), str(k)) for x, k in zip(ddb, kind)])
        rows.append([f"Δ phase {name} (deg)"] + [fmt(x, 2) if k == VALUE else "n/a" for x, k in zip(dph, kind)])
    t = fd.table
    for name in CMRR_NAMES:
        col = f"{name}_db"
        if name not in at or col not in t:
            continue
        v, _, kind = db_figure_rows(t, col)
        rows.append([DIFF_LABELS[name]] + [_diff_cell(float(d), str(k)) for d, k in zip(v[idx] - db(at[name]),
                                                                                        kind[idx])])
    return table(head, rows, cls="num")


def _diff_cell(d: float, kind: str) -> str:
    """``measured - model`` of a dB figure; for a limit, the limit minus the model with its sign (a lower limit:
    measured - model is at least that)."""
    if kind == VALUE:
        return fmt(d, 3)
    return fmt_db_figure(d, float("nan"), kind)


def _model_at(ctx: Context, fd: FreqData, model: str, idx: list[int]) -> dict[str, np.ndarray] | None:
    """The prediction's or the first frequency fit's gains (and CMRR ratios) at the rows ``idx``."""
    if model == "prediction":
        if ctx.pred_freq is None:
            return None
        return {k: np.asarray(v)[idx] for k, v in ctx.pred_freq.at_measured.items()}
    fits = fits_for(ctx, "frequency_hz")
    if not fits:
        return None
    found = {k: fit_at(fits[0], k, fd.f) for k in GAIN_NAMES}
    at = {k: v for k, v in found.items() if v is not None}
    if len(at) == len(GAIN_NAMES):
        at.update(named_cmrr_ratios(at))
    return {k: np.asarray(v)[idx] for k, v in at.items()}


def sweep_table(t: Table, pred: SweepPrediction | None, which: str) -> str:
    """Gain and THD per drive (``which = "amplitude"``) or per input DC level (``"cm"``), against the
    prediction; for a drive sweep, the measured 1 dB compression point."""
    gain = np.asarray(t["Add"], complex)
    gu = mag_u(gain, t["Add_u"]) if "Add_u" in t else np.full(gain.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        udb = db_u(gu, np.abs(gain))
    head = (["vid measured (V pk)", "vid nominal (V pk)"] if which == "amplitude"
            else ["input DC level (V)", "vid measured (V pk)"])
    head += ["|Add| (V/V)", "|Add| (dB)", "phase (deg)", "compression (dB)", "THD of vod (%)"]
    if pred is not None:
        head += ["Δ|Add| vs prediction (dB)", "predicted THD (%)"]
    rows = []
    for i in range(gain.size):
        first = ([fmt_sig(t["vid_vpk"][i], 4), fmt_sig(t.get("vid_vpk_nominal", t["vid_vpk"])[i], 4)]
                 if which == "amplitude" else [fmt(t["bias_v"][i], 3), fmt_sig(t["vid_vpk"][i], 4)])
        comp = t.get("compression")
        r = first + [fmt_pm(float(abs(gain[i])), float(gu[i])), fmt_pm(float(db(abs(gain[i]))), float(udb[i])),
                     fmt(phase_deg(gain[i]), 2), fmt(db(comp[i]), 3) if comp is not None and comp[i] > 0 else "n/a",
                     fmt_sig(100 * t["thd_out"][i], 4)]
        if pred is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                r += [fmt(db(abs(gain[i]) / abs(pred.gain_at[i])), 3), fmt_sig(100 * pred.thd_at[i], 4)]
        rows.append(r)
    note = "value ± standard uncertainty (k = 1); compression relative to the smallest drive."
    if which == "amplitude" and gain.size:
        p1 = p1db(np.asarray(t["vid_vpk"], float), gain)
        note = (f"1 dB compression point (measured, interpolated): "
                f"{eng(p1, 'V') + ' peak' if p1 is not None else 'not reached in this sweep'}. " + note)
    return table(head, rows, cls="num") + f"<p class='note'>{esc(note)}</p>"


def level_cmrr_table(t: Table) -> str:
    """|Add|, |Acc| and the three CMRRs per input DC level (a cm-range's ``cm_gains``), with uncertainties."""
    S = np.asarray(t["S"], complex)
    Su = mag_u(S, np.asarray(t["S_u"], complex)) if "S_u" in t else np.full(S.shape, np.nan)
    head = ["input DC level (V)", "|Add| (V/V)", "|Acc| (V/V)", "CMRR_se,1 (dB)", "CMRR_se,2 (dB)",
            "CMRR_diff (dB)"]
    figs = [db_figure_rows(t, c) for c in ("CMRR_se1_db", "CMRR_se2_db", "CMRR_diff_db")]
    rows = []
    for i in range(S.shape[0]):
        rows.append([fmt(t["bias_v"][i], 3), fmt_pm(float(abs(S[i, 0, 0])), float(Su[i, 0, 0])),
                     fmt_pm(float(abs(S[i, 1, 1])), float(Su[i, 1, 1]))]
                    + [fmt_db_figure(float(v[i]), float(u[i]), str(k[i])) for v, u, k in figs])
    note = ("value ± standard uncertainty (k = 1); DM and CM drives extrapolated to zero at each level."
            + limits_note({str(x) for _, _, k in figs for x in k}))
    return table(head, rows, cls="num") + f"<p class='note'>{esc(note)}</p>"


def dc_section(ctx: Context, d: Table) -> str:
    """Offset and slope of the DC transfer, measured and predicted, and the ranges swept."""
    s = ctx.dc_summary or {}
    ps = ctx.pred_summary
    rows = []
    off = s.get("offset_v")
    offset_transfer = ps.get("offset_transfer_v")
    rows.append(["input-referred offset (vid at vod = 0)", eng(off, "V") if off is not None else "n/a",
                 eng(offset_transfer, "V") if offset_transfer is not None
                 else (eng(ps["offset_v"], "V") if "offset_v" in ps else "—")])
    sl = s.get("slope")
    dc_slope = ps.get("dc_slope")
    rows.append(["slope dvod/dvid at the offset (V/V)", fmt_sig(sl, 5) if sl is not None else "n/a",
                 fmt_sig(dc_slope, 5) if dc_slope is not None else "—"])
    vod = np.asarray(d["vod_v"], float)
    if vod.size:
        rows.append(["vod range over the sweep (V)", f"{vod.min():.4f} … {vod.max():.4f}", "—"])
        rows.append(["vid range over the sweep (V)", f"{np.min(d['vid_v']):.4f} … {np.max(d['vid_v']):.4f}", "—"])
    return table(["DC transfer", "measured", "predicted"], rows, cls="num")
