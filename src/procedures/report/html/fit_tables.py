"""The page's section on the fits: parameters against nominal, derived quantities, notes, correlations, and
the point-by-point comparison of measurement, prediction and fit (``procedures.fitting.run_fits``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from procedures.analysis.propagation import db_u
from procedures.fitting.core import FitResult
from procedures.predict.si_format import eng
from procedures.report.context import Context
from procedures.report.html.formatting import esc, fmt, fmt_param, fmt_sig, table, unit_symbol

COMPARISON_COLUMNS = (  # key, header, decimals (None: significant digits)
    ("measured_db", "measured (dB)", 3), ("measured_deg", "measured (deg)", 2),
    ("measured", "measured", None), ("u", "u (k = 1)", None),
    ("predicted_db", "predicted (dB)", 3), ("fitted_db", "fitted (dB)", 3),
    ("predicted", "predicted", None), ("fitted", "fitted", None),
    ("pred_diff_db", "meas − pred (dB)", 3), ("pred_diff_deg", "meas − pred (deg)", 2),
    ("fit_diff_db", "meas − fit (dB)", 3), ("fit_diff_deg", "meas − fit (deg)", 2),
    ("pred_diff", "meas − pred", None), ("fit_diff", "meas − fit", None), ("z_fit", "|meas − fit|/u", 2),
)
Comparison = Callable[[FitResult], Sequence[dict[str, Any]]]


def fits(ctx: Context) -> str:
    """Every fit of the report: its parameters and what follows from them; or why there is none."""
    if not ctx.fits:
        return f"<p>No model fit: {esc(ctx.fit_note or 'none available')}.</p>"
    parts = [f"<p class='note'>Fits {esc(ctx.fit_source)}. Value ± standard error; deviation = (value − nominal)"
             "/nominal.</p>"]
    try:
        from procedures.fitting import run_fits as fitmod  # at call time: tests stand a fake fitter in for it

        comparison: Comparison | None = getattr(fitmod, "comparison_table", None)
    except ImportError:
        comparison = None
    comparisons: list[str] = []
    for fit in ctx.fits:
        parts += _fit(fit)
        if comparison is not None:
            try:
                ct = comparison(fit)
            except Exception:  # noqa: BLE001 - an optional table
                ct = None
            if ct:
                comparisons.append(_comparison(ct, getattr(fit, "x_name", "x"), fit.name))
    if comparisons:
        parts.append("<details><summary>Measured, predicted and fitted, point by point (every fit)</summary>"
                     + "".join(comparisons) + "</details>")
    return "".join(parts)


def _fit(fit: FitResult) -> list[str]:
    """One fit: heading, parameter table, derived quantities, notes, fixed parameters, correlations."""
    chi = getattr(fit, "chi2_red", math.nan)
    failed = " — FIT FAILED" if getattr(fit, "failed", False) else ""
    parts = [f"<h3>{esc(fit.name)} — model {esc(getattr(fit, 'model', '?'))}; χ²_red = {fmt_sig(chi, 4)}, "
             f"dof = {esc(getattr(fit, 'dof', '?'))}, p = {fmt_sig(getattr(fit, 'p_value', math.nan), 2)}, "
             f"fitted against {esc(getattr(fit, 'x_name', '?'))}{failed}</h3>"]
    params = list(getattr(fit, "params", []))
    parts.append(table(["parameter", "value ± stderr", "nominal", "unit", "deviation from nominal"],
                       _param_rows(fit, params), cls="num"))
    derived = getattr(fit, "derived", {}) or {}
    if derived:
        drows = []
        for dname, val in derived.items():
            try:
                dv, de, du = val
            except (TypeError, ValueError):
                dv, de, du = val, math.nan, ""
            drows.append([dname, fmt_param(float(dv), float(de), str(du)), str(du) or "1"])
        parts.append(table(["derived from the fit", "value ± stderr", "unit"], drows, cls="num"))
    notes = _fit_notes(fit)
    if notes:
        parts.append("<p class='note'>" + esc("; ".join(notes)) + "</p>")
    fixed = getattr(fit, "fixed", {}) or {}
    if fixed:
        parts.append("<p class='note'>fixed: " + esc(", ".join(f"{k} = {v:.6g}" for k, v in fixed.items())) + "</p>")
    corr = getattr(fit, "correlation", None)
    if corr is not None and np.size(corr) > 1 and len(params) > 1:
        c = np.asarray(corr, float)
        crow = [[p] + [fmt(c[i, j], 3) for j in range(len(params))] for i, p in enumerate(params)]
        parts.append("<details><summary>parameter correlation</summary>" + table([""] + params, crow, cls="num")
                     + "</details>")
    return parts


def _param_rows(fit: FitResult, params: list[str]) -> list[list[str]]:
    """Value ± stderr, nominal, unit and relative deviation of each free parameter."""
    values = np.atleast_1d(getattr(fit, "values", []))
    stderr = np.atleast_1d(getattr(fit, "stderr", np.full(len(params), np.nan)))
    units = list(getattr(fit, "units", [""] * len(params)))
    nominal = np.atleast_1d(getattr(fit, "nominal", np.full(len(params), np.nan)))
    rows = []
    for i, p in enumerate(params):
        v, e = float(values[i]), float(stderr[i]) if i < stderr.size else math.nan
        nom = float(nominal[i]) if i < nominal.size else math.nan
        unit = units[i] if i < len(units) else ""
        dev = f"{100 * (v - nom) / nom:+.3g} %" if math.isfinite(nom) and nom != 0 else "—"
        if not math.isfinite(nom):
            nom_s = "—"
        else:
            nom_s = eng(nom, unit_symbol(unit)) if unit not in ("", "1") else f"{nom:.6g}"
        rows.append([p, fmt_param(v, e, unit), nom_s, unit_symbol(unit) or "1", dev])
    return rows


def _fit_notes(fit: FitResult) -> list[str]:
    """What a reader should know about a fit: a failed fit first (chi-square rejected or no convergence), scaled
    errors (archives from before), points left out."""
    notes = []
    if getattr(fit, "status", "consistent") == "inconsistent":
        notes.append(str(fit.verdict))
    scale = getattr(fit, "stderr_scale", 1.0)
    if scale and math.isfinite(scale) and abs(scale - 1.0) > 1e-9:
        notes.append(f"standard errors scaled by √χ²_red = {scale:.3g}")
    used = np.asarray(getattr(fit, "used", np.zeros(0, bool)), bool)
    if used.size and not used.all():
        notes.append(f"{int(used.sum())} of {used.size} points used (the others lie outside the model's region)")
    if not getattr(fit, "success", True):
        notes.append("the minimiser did not converge: " + str(getattr(fit, "message", "")))
    return notes


def _comparison(rows: Sequence[dict[str, Any]], x_name: str, fit_name: str) -> str:
    """procedures.fitting.run_fits.comparison_table of one fit, one table per quantity."""
    x_unit = {"frequency_hz": "Hz", "vid_vpk": "V", "vid_v": "V"}.get(x_name, "")
    out = []
    for q in dict.fromkeys(str(r.get("quantity", "")) for r in rows):
        qr = [r for r in rows if str(r.get("quantity", "")) == q]
        ratio = any(isinstance(r.get("measured_db"), float) and math.isfinite(r["measured_db"]) for r in qr)
        phase = any(isinstance(r.get("measured_deg"), float) and math.isfinite(r["measured_deg"]) for r in qr)
        cols = _comparison_columns(qr[0], ratio, phase)
        head = [f"{x_name} ({x_unit})" if x_unit else x_name] + [h for _, h, _ in cols] + ["used"]
        body = [[(eng(float(r["x"]), x_unit) if x_unit else fmt_sig(r["x"])) if "x" in r else "—"]
                + [_comparison_cell(r, k, d, ratio) for k, _, d in cols]
                + ["yes" if r.get("used", True) else "no"] for r in qr]
        out.append(f"<p class='note'><b>{esc(fit_name)}: {esc(q)}</b></p>" + table(head, body, cls="num"))
    return "".join(out)


def _comparison_columns(first: dict[str, Any], ratio: bool, phase: bool) -> list[tuple[str, str, int | None]]:
    """The columns of one quantity's comparison: dB and degrees for a ratio, plain values otherwise."""
    cols = []
    for key, head, dec in COMPARISON_COLUMNS:
        if key not in first:
            continue
        if ratio and key in ("measured", "predicted", "fitted", "pred_diff", "fit_diff"):
            continue  # the dB / degree columns say it
        if not ratio and key.endswith("_db"):
            continue
        if not phase and key.endswith("_deg"):
            continue
        cols.append((key, "u (dB, k = 1)" if ratio and key == "u" else head, dec))
    return cols


def _comparison_cell(r: dict[str, Any], key: str, dec: int | None, ratio: bool) -> str:
    v = r.get(key)
    if key == "u" and ratio:
        m = abs(complex(r.get("measured", math.nan)))
        return fmt(db_u(float(v if v is not None else math.nan), m), 4) if m > 0 else "n/a"
    if isinstance(v, (complex, np.complexfloating)):
        return f"{abs(v):.5g} ∠ {math.degrees(np.angle(v)):.2f}°"
    return fmt(v, dec) if dec is not None else fmt_sig(v, 5)
