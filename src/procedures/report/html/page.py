"""The one-page HTML summary of a run report (see :mod:`procedures.report.report`).

Plain HTML + a little CSS, no JavaScript and no network: it opens from disk. Figures are linked by
relative file name (the PNGs sit beside ``report.html``) or embedded as base64 data URIs
(``embed=True``) when one self-contained file is wanted.

Number formats: a value with an uncertainty is printed to the uncertainty's second significant digit,
``65.7563 ± 0.0017 dB`` (:func:`fmt_pm`); uncertainties are standard uncertainties (k = 1) in every table,
while the figures draw them expanded (k = 2). Magnitudes are in dB, phases in degrees.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from procedures.predict.prediction import eng

# --------------------------------------------------------------------------------------------------------
# Formatting


def _decimals(u: float, min_dec: int = 0, max_dec: int = 9) -> int:
    """Decimals that show ``u`` to two significant digits."""
    if not (math.isfinite(u) and u > 0):
        return min_dec
    return int(min(max(1 - math.floor(math.log10(u)), min_dec), max_dec))


def fmt_pm(value: float, u: float | None, unit: str = "", *, min_dec: int = 0, default_dec: int = 3) -> str:
    """``value ± u unit`` with ``value`` rounded to the second significant digit of ``u``.

    ``fmt_pm(65.75634, 0.00171, "dB") == "65.7563 ± 0.0017 dB"``. Without a usable ``u`` the value is printed
    with ``default_dec`` decimals and no ``±``. Non-finite values print as ``inf``/``-inf``/``n/a``.
    """
    suffix = f" {unit}" if unit else ""
    if value is None or not math.isfinite(value):
        if value is not None and math.isinf(value):
            return ("inf" if value > 0 else "-inf") + suffix
        return "n/a"
    if u is None or not (math.isfinite(u) and u > 0):
        return f"{value:.{default_dec}f}{suffix}"
    d = _decimals(u, min_dec)
    return f"{value:.{d}f} ± {u:.{d}f}{suffix}"


def _number(value: Any, spec: str, unit: str) -> str:
    """``value`` formatted with ``spec`` (and the unit), "inf"/"n/a" for non-finite, escaped text otherwise."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return html.escape(str(value))
    if not math.isfinite(v):
        return ("inf" if v > 0 else "-inf") if math.isinf(v) else "n/a"
    return f"{v:{spec}}" + (f" {unit}" if unit else "")


def fmt(value: Any, dec: int = 3, unit: str = "") -> str:
    """Fixed-point with ``dec`` decimals."""
    return _number(value, f".{dec}f", unit)


def fmt_sig(value: Any, sig: int = 4, unit: str = "") -> str:
    """``sig`` significant digits."""
    return _number(value, f".{sig}g", unit)


def _e(x: Any) -> str:
    return html.escape(str(x))


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "", raw: bool = False,
           row_classes: Sequence[str] | None = None) -> str:
    """An HTML table; cells are escaped unless ``raw``."""
    h = "".join(f"<th>{c if raw else _e(c)}</th>" for c in head)
    body = []
    for i, r in enumerate(rows):
        rc = f' class="{row_classes[i]}"' if row_classes and row_classes[i] else ""
        body.append(f"<tr{rc}>" + "".join(f"<td>{c if raw else _e(c)}</td>" for c in r) + "</tr>")
    return f'<table class="{cls}"><thead><tr>{h}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _kv(rows: Sequence[tuple[str, str]], raw: bool = False) -> str:
    return '<table class="kv"><tbody>' + "".join(
        f"<tr><th>{_e(k)}</th><td>{v if raw else _e(v)}</td></tr>" for k, v in rows) + "</tbody></table>"


def pick_rows(n: int, count: int = 6) -> list[int]:
    """Up to ``count`` row indices spread evenly over ``n`` rows (first and last included)."""
    if n <= 0:
        return []
    return sorted({int(round(i)) for i in np.linspace(0, n - 1, min(n, count))})


CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 1.2em auto; max-width: 1320px;
       padding: 0 1em; color: #222; font-size: 14px; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; border-bottom: 2px solid #ddd; margin-top: 1.6em; }
h3 { font-size: 1.05em; margin-bottom: 0.3em; }
.sub { color: #555; margin-top: 0; }
.banner { padding: 0.7em 1em; border-radius: 6px; font-size: 1.15em; font-weight: bold; margin: 0.6em 0; }
.complete { background: #e3f4e3; border: 2px solid #3a9a3a; color: #1d5e1d; }
.aborted { background: #fff3d6; border: 2px solid #d69a00; color: #7a5200; }
.failed, .running { background: #fde2e2; border: 2px solid #c62828; color: #8e1b1b; }
.pass { background: #e3f4e3; color: #1d5e1d; } .fail { background: #fde2e2; color: #8e1b1b; }
.nolimits { background: #f1f1f1; border: 2px solid #aaa; color: #444; }
table { border-collapse: collapse; margin: 0.4em 0 0.8em 0; font-size: 0.93em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
thead th { background: #f3f3f3; }
table.num td { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.num td:first-child { text-align: left; }
table.kv th { background: #f7f7f7; font-weight: 600; white-space: nowrap; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(400px, 1fr)); gap: 0 2em; }
.warn { background: #fff8e1; border-left: 4px solid #f0b400; padding: 0.4em 0.8em; margin: 0.3em 0; }
figure { margin: 1em 0 2em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { color: #444; font-size: 0.92em; margin-top: 0.3em; }
.note { color: #555; font-size: 0.9em; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
code { font-size: 0.95em; }
.toc a { margin-right: 1em; }
"""


# --------------------------------------------------------------------------------------------------------
# Sections


def _status_banner(ctx: Any) -> str:
    s = ctx.status
    if s == "complete":
        text = "Run status: COMPLETE"
    elif s == "aborted":
        text = f"Run status: ABORTED — {ctx.reason or 'no reason recorded'}"
    elif s == "failed":
        text = f"Run status: FAILED — {ctx.reason or 'no reason recorded'}"
    elif s == "running":
        text = ("Run status: INCOMPLETE (still 'running': the writer did not finish — killed, or still measuring); "
                "only committed rows are shown")
    else:
        text = f"Run status: {s}" + (f" — {ctx.reason}" if ctx.reason else "")
    extra = ""
    if s != "complete" and ctx.recomputed:
        extra = f"<div class='note'>Results recomputed by the report from the committed points: {_e(', '.join(ctx.recomputed))}.</div>"
    return f'<div class="banner {_e(s)}">{_e(text)}</div>{extra}'


def _verdicts(ctx: Any) -> str:
    v = ctx.verdicts
    if not v:
        return '<div class="banner nolimits">Verdict: no limits checked</div>'
    a = v["arrays"]
    overall = str(v["attrs"].get("overall", "")).lower()
    names = [str(x) for x in np.atleast_1d(a.get("limit", []))]
    n = len(names)
    if n == 0:
        return '<div class="banner nolimits">Verdict: no limits checked</div>'

    def col(key: str, default: Any) -> list[Any]:
        x = a.get(key)
        return list(np.atleast_1d(x)) if x is not None else [default] * n

    desc, meas, unc, thr, ok = (col("description", ""), col("measured", math.nan), col("uncertainty", math.nan),
                                col("threshold", math.nan), col("passed", False))
    if overall not in ("pass", "fail"):
        overall = "pass" if all(bool(x) for x in ok) and n else "fail"
    units = col("unit", v.get("units", {}).get("measured", ""))
    rows, classes = [], []
    for i in range(n):
        passed = bool(ok[i])
        unit = "" if str(units[i]) in ("1", "") else str(units[i])
        m, u = float(meas[i]), float(unc[i])
        shown = fmt_pm(m, u, unit) if math.isfinite(u) and u > 0 else fmt_sig(m, 5, unit)
        rows.append([_e(names[i]), _e(desc[i]), _e(shown), _e(fmt_sig(thr[i], 6, unit)),
                     f"<b>{'PASS' if passed else 'FAIL'}</b>"])
        classes.append("pass" if passed else "fail")
    banner = (f'<div class="banner {"complete" if overall == "pass" else "failed"}">Verdict: '
              f'{"PASS" if overall == "pass" else "FAIL"} ({sum(bool(x) for x in ok)} of {n} limits passed)</div>')
    return banner + _table(["limit", "description", "measured (± u, k = 1)", "threshold", "result"], rows,
                           cls="num", raw=True, row_classes=classes)


def _run_info(ctx: Any) -> str:
    dur = ""
    try:
        from datetime import datetime

        t0 = datetime.fromisoformat(ctx.start_time.replace("Z", "+00:00"))
        t1 = datetime.fromisoformat(ctx.end_time.replace("Z", "+00:00"))
        dur = f"{(t1 - t0).total_seconds():.1f} s"
    except (ValueError, AttributeError):
        pass
    rows = [("archive", str(ctx.path)), ("run id", ctx.run_id), ("status", ctx.status + (f" — {ctx.reason}" if ctx.reason else "")),
            ("start (UTC)", ctx.start_time), ("end (UTC)", ctx.end_time or "(not finished)")]
    if dur:
        rows.append(("duration", dur))
    rows += [("software", f"diffbench {ctx.software_version}"), ("archive format", ctx.format_version),
             ("tables (committed rows)", ", ".join(f"{k}: {v}" for k, v in ctx.table_rows.items()) or "none")]
    if ctx.resumed:
        rows.append(("resumed", f"{len(ctx.resumed)} time(s), last at {ctx.resumed[-1].get('at', '?')}"))
    if ctx.opened_with_swmr:
        rows.append(("file state", "left open by a writer that did not finish (read with SWMR)"))
    for k in ("bench", "operator"):
        if k in ctx.metadata:
            rows.append((k, str(ctx.metadata[k])))
    return _kv(rows)


def _instruments(ctx: Any) -> str:
    if not ctx.instruments:
        return "<p>No instruments recorded.</p>"
    rows = [[name, i.get("idn", ""), i.get("driver", ""), i.get("resource", "")] for name, i in ctx.instruments.items()]
    return _table(["instrument", "*IDN?", "driver", "VISA resource"], rows)


def _board(ctx: Any) -> str:
    b = ctx.board
    if b is None:
        return _kv([("name", ctx.board_name), ("note", "board config unavailable or invalid; see warnings")])
    rows = [("name", b.name), ("description", b.description or "—")]
    d = b.device
    if d.is_bjt:
        dev = f"{d.type}: β_F = {d.beta:g}, V_A = {eng(d.early_v, 'V')}, I_S = {eng(d.is_a, 'A')}"
    else:
        dev = f"{d.type}: kp = {eng(d.kp_a_per_v2, 'A/V²')}, V_th = {d.vth_v:g} V, λ = {d.lambda_per_v:g} /V"
    rows.append(("pair device", dev))
    load = f"{b.load_type}, R = {eng(b.load_r_ohm, 'Ω')} to {b.load_return_v:g} V, C = {eng(b.load_c_f, 'F')}"
    if b.mirror is not None:
        load += f"; mirror {b.mirror.type}"
    rows += [("load", load),
             ("tail", f"I = {eng(b.tail_current_a, 'A')}, R_T = {eng(b.tail_r_ohm, 'Ω')}, C_T = {eng(b.tail_c_f, 'F')}"),
             ("degeneration", eng(b.degeneration_r_ohm, "Ω") if b.degeneration_r_ohm else "none"),
             ("cascode", f"at {b.cascode_bias_v:g} V" if b.cascode else "none"),
             ("supply / input bias", f"V_CC = {b.vcc_v:g} V, V_EE = {b.vee_v:g} V; inputs at {b.bias_v:g} V "
                                     f"(source R {eng(b.source_r_ohm, 'Ω')}, bias R {eng(b.bias_r_ohm, 'Ω')})"),
             ("mismatch", f"load R {b.mismatch_load_r:+.3%}, device {b.mismatch_device:+.3%}, load C "
                          f"{b.mismatch_load_c:+.3%}, β {b.mismatch_beta:+.3%}"
                          + (f", ΔV_th {eng(b.mismatch_vth_v, 'V')}" if not d.is_bjt else "")),
             ("safe limits", f"vid ≤ {b.vid_max_vpk:g} V pk, vic ≤ {b.vic_max_vpk:g} V pk, "
                             f"bias {b.bias_min_v:g} … {b.bias_max_v:g} V")]
    ps = ctx.pred_summary
    if "Add_dc" in ps:
        rows.append(("predicted (low frequency)",
                     f"Add = {ps['Add_dc'].real:.4g}, CMRR_se,1 = {ps['CMRR_se1_dc_db']:.2f} dB, CMRR_se,2 = "
                     f"{ps['CMRR_se2_dc_db']:.2f} dB, CMRR_diff = {fmt(ps['CMRR_diff_dc_db'], 2)} dB; "
                     f"bandwidth {eng(ps['bandwidth_hz'], 'Hz')}, tail zero {eng(ps['tail_zero_hz'], 'Hz')}"))
    return _kv(rows)


def _procedure(ctx: Any) -> str:
    p = ctx.procedure
    rows = [("name", ctx.procedure_name), ("kind", ctx.kind or "?"), ("description", str(p.get("description", "")) or "—")]
    return _kv(rows)


def _gain_rows(ctx: Any) -> str:
    with np.errstate(all="ignore"):
        return _gain_rows_(ctx)


def _gain_rows_(ctx: Any) -> str:
    from procedures.report.report import derived, element_u, se_functions

    fd = ctx.freq
    idx = pick_rows(fd.f.size)
    f = fd.f[idx]
    head = ["quantity"] + [eng(float(x), "Hz") for x in f]
    rows: list[list[str]] = []
    for name in ("Add", "Acc", "Acd", "Adc"):
        z, udb, udeg = element_u(fd.S[idx], fd.cov[idx], name)
        mag = 20 * np.log10(np.abs(z))
        rows.append([f"|{name}| (dB)"] + [fmt_pm(float(m), float(u)) for m, u in zip(mag, udb)])
        rows.append([f"phase of {name} (deg)"] + [fmt_pm(float(np.degrees(np.angle(v))), float(u)) for v, u in zip(z, udeg)])
        if name == "Add":
            ulin = np.abs(z) * udb * math.log(10) / 20
            rows.insert(0, ["Add (V/V, magnitude)"] + [fmt_pm(float(abs(v)), float(u)) for v, u in zip(z, ulin)])
    t = fd.table
    for name, label in (("CMRR_se1", "CMRR_se,1 = |Ad_se,1/Acm_se,1| (dB)"), ("CMRR_se2", "CMRR_se,2 = |Ad_se,2/Acm_se,2| (dB)"),
                        ("CMRR_diff", "CMRR_diff = |Add/Acd| (dB)"), ("Add_over_Acc", "|Add/Acc| (dB)")):
        col = f"{name}_db"
        if col in t:
            u = t.get(f"{col}_u", np.full(fd.f.size, np.nan))
            rows.append([label] + [fmt_pm(float(t[col][i]), float(u[i])) for i in idx])
        elif name in se_functions():
            w, udb, _ = derived(fd.S[idx], fd.cov[idx], se_functions()[name])
            rows.append([label] + [fmt_pm(float(20 * np.log10(abs(x))), float(uu)) for x, uu in zip(w, udb)])
        ideal = f"{name}_ideal_db"
        if ideal in t:
            friendly = label.split(" = ")[0].split(" (")[0]
            rows.append([f"  {friendly}, ideal-generator assumption (dB)"] + [fmt(t[ideal][i], 2) for i in idx])
    note = (f"<p class='note'>{len(idx)} of {fd.f.size} frequencies; value ± standard uncertainty (k = 1). "
            "Every frequency is in the figures and in the archive's <code>gains</code> table.</p>")
    return _table(head, rows, cls="num") + note


def _diff_rows(ctx: Any, model: str) -> str | None:
    """``measured - model`` at the table's frequencies, for the prediction or the first frequency fit."""
    from procedures.report.report import _fit_at, _ratios, fits_for

    fd = ctx.freq
    idx = pick_rows(fd.f.size)
    if model == "prediction":
        if ctx.pred_freq is None:
            return None
        at = {k: np.asarray(v)[idx] for k, v in ctx.pred_freq[2].items()}
    else:
        fits = fits_for(ctx, "frequency_hz")
        if not fits:
            return None
        fit = fits[0]
        at = {k: _fit_at(fit, k, fd.f) for k in ("Add", "Acd", "Adc", "Acc")}
        if any(v is None for v in at.values()):
            at = {k: v for k, v in at.items() if v is not None}
        else:
            at.update(_ratios(at))
        at = {k: np.asarray(v)[idx] for k, v in at.items()}
    from procedures.report.report import se_functions

    head = ["measured − " + ("prediction" if model == "prediction" else "fit")] + [eng(float(x), "Hz") for x in fd.f[idx]]
    rows = []
    for name in ("Add", "Acc", "Acd", "Adc"):
        if name not in at:
            continue
        i, j = {"Add": (0, 0), "Acd": (0, 1), "Adc": (1, 0), "Acc": (1, 1)}[name]
        z = fd.S[idx, i, j]
        m = at[name]
        with np.errstate(divide="ignore", invalid="ignore"):
            ddb = 20 * np.log10(np.abs(z) / np.abs(m))
            dph = (np.degrees(np.angle(z / m)))
        rows.append([f"Δ|{name}| (dB)"] + [fmt(x, 3) for x in ddb])
        rows.append([f"Δ phase {name} (deg)"] + [fmt(x, 2) for x in dph])
    t = fd.table
    for name in se_functions():
        if name not in at:
            continue
        col = f"{name}_db"
        meas = np.asarray(t[col], float)[idx] if col in t else None
        if meas is None:
            continue
        with np.errstate(divide="ignore"):
            mdb = 20 * np.log10(np.abs(at[name]))
        label = {"CMRR_se1": "ΔCMRR_se,1 (dB)", "CMRR_se2": "ΔCMRR_se,2 (dB)", "CMRR_diff": "ΔCMRR_diff (dB)"}[name]
        rows.append([label] + [fmt(x, 3) for x in meas - mdb])
    return _table(head, rows, cls="num")


def _sweep_table(ctx: Any, t: dict[str, np.ndarray], which: str) -> str:
    from procedures.report.report import mag_u

    gain = np.asarray(t["Add"], complex)
    gu = mag_u(gain, t["Add_u"]) if "Add_u" in t else np.full(gain.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        udb = 20 / math.log(10) * gu / np.abs(gain)
    pred = ctx.pred_amplitude if which == "amplitude" else ctx.pred_cm
    at_g = at_t = None
    if pred is not None:
        at_g, at_t = (pred[3], pred[4])
    head = (["vid measured (V pk)", "vid nominal (V pk)"] if which == "amplitude" else ["input DC level (V)", "vid measured (V pk)"])
    head += ["|Add| (V/V)", "|Add| (dB)", "phase (deg)", "compression (dB)", "THD of vod (%)"]
    if at_g is not None:
        head += ["Δ|Add| vs prediction (dB)", "predicted THD (%)"]
    rows = []
    for i in range(gain.size):
        first = ([fmt_sig(t["vid_vpk"][i], 4), fmt_sig(t.get("vid_vpk_nominal", t["vid_vpk"])[i], 4)] if which == "amplitude"
                 else [fmt(t["bias_v"][i], 3), fmt_sig(t["vid_vpk"][i], 4)])
        comp = t.get("compression")
        r = first + [fmt_pm(float(abs(gain[i])), float(gu[i])), fmt_pm(float(20 * np.log10(abs(gain[i]))), float(udb[i])),
                     fmt(np.degrees(np.angle(gain[i])), 2),
                     fmt(20 * np.log10(comp[i]), 3) if comp is not None and comp[i] > 0 else "n/a",
                     fmt_sig(100 * t["thd_out"][i], 4)]
        if at_g is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                r += [fmt(20 * np.log10(abs(gain[i]) / abs(at_g[i])), 3), fmt_sig(100 * at_t[i], 4)]
        rows.append(r)
    note = "value ± standard uncertainty (k = 1); compression relative to the smallest drive."
    if which == "amplitude" and gain.size:
        from procedures.report.figures import compression_point

        o = np.argsort(np.asarray(t["vid_vpk"], float))
        g_db = 20 * np.log10(np.abs(gain[o]))
        p1 = compression_point(np.asarray(t["vid_vpk"], float)[o], g_db, float(g_db[0]) - 1.0)
        note = (f"1 dB compression point (measured, interpolated): "
                f"{eng(p1, 'V') + ' peak' if p1 is not None else 'not reached in this sweep'}. " + note)
    return _table(head, rows, cls="num") + f"<p class='note'>{_e(note)}</p>"


def _dc_section(ctx: Any) -> str:
    s = ctx.dc_summary or {}
    ps = ctx.pred_summary
    rows = []
    off = s.get("offset_v")
    rows.append(["input-referred offset (vid at vod = 0)", eng(off, "V") if off is not None else "n/a",
                 eng(ps["offset_transfer_v"], "V") if ps.get("offset_transfer_v") is not None
                 else (eng(ps["offset_v"], "V") if "offset_v" in ps else "—")])
    sl = s.get("slope")
    rows.append(["slope dvod/dvid at the offset (V/V)", fmt_sig(sl, 5) if sl is not None else "n/a",
                 fmt_sig(ps["dc_slope"], 5) if ps.get("dc_slope") is not None else "—"])
    d = ctx.dc
    vod = np.asarray(d["vod_v"], float)
    if vod.size:
        rows.append(["vod range over the sweep (V)", f"{vod.min():.4f} … {vod.max():.4f}", "—"])
        rows.append(["vid range over the sweep (V)", f"{np.min(d['vid_v']):.4f} … {np.max(d['vid_v']):.4f}", "—"])
    return _table(["DC transfer", "measured", "predicted"], rows, cls="num")


def _fits(ctx: Any) -> str:
    if not ctx.fits:
        return f"<p>No model fit: {_e(ctx.fit_note or 'none available')}.</p>"
    parts = [f"<p class='note'>Fits {_e(ctx.fit_source)}. Value ± standard error; deviation = (value − nominal)/nominal.</p>"]
    try:
        from procedures.fitting import run_fits as fitmod  # type: ignore[attr-defined]
        comparison = getattr(fitmod, "comparison_table", None)
    except ImportError:
        comparison = None
    comparisons: list[str] = []
    for fit in ctx.fits:
        chi = getattr(fit, "chi2_red", math.nan)
        parts.append(f"<h3>{_e(fit.name)} — model {_e(getattr(fit, 'model', '?'))}; χ²_red = {fmt_sig(chi, 4)}, "
                     f"dof = {_e(getattr(fit, 'dof', '?'))}, fitted against {_e(getattr(fit, 'x_name', '?'))}</h3>")
        rows = []
        params = list(getattr(fit, "params", []))
        values = np.atleast_1d(getattr(fit, "values", []))
        stderr = np.atleast_1d(getattr(fit, "stderr", np.full(len(params), np.nan)))
        units = list(getattr(fit, "units", [""] * len(params)))
        nominal = np.atleast_1d(getattr(fit, "nominal", np.full(len(params), np.nan)))
        for i, p in enumerate(params):
            v, e = float(values[i]), float(stderr[i]) if i < stderr.size else math.nan
            nom = float(nominal[i]) if i < nominal.size else math.nan
            unit = units[i] if i < len(units) else ""
            dev = f"{100 * (v - nom) / nom:+.3g} %" if math.isfinite(nom) and nom != 0 else "—"
            nom_s = "—" if not math.isfinite(nom) else (eng(nom, _unit(unit)) if unit not in ("", "1") else f"{nom:.6g}")
            rows.append([p, _fmt_param(v, e, unit), nom_s, _unit(unit) or "1", dev])
        parts.append(_table(["parameter", "value ± stderr", "nominal", "unit", "deviation from nominal"], rows, cls="num"))
        derived = getattr(fit, "derived", {}) or {}
        if derived:
            drows = []
            for dname, val in derived.items():
                try:
                    dv, de, du = val
                except (TypeError, ValueError):
                    dv, de, du = val, math.nan, ""
                drows.append([dname, _fmt_param(float(dv), float(de), str(du)), str(du) or "1"])
            parts.append(_table(["derived from the fit", "value ± stderr", "unit"], drows, cls="num"))
        notes = []
        scale = getattr(fit, "stderr_scale", 1.0)
        if scale and math.isfinite(scale) and abs(scale - 1.0) > 1e-9:
            notes.append(f"standard errors scaled by √χ²_red = {scale:.3g}")
        used = np.asarray(getattr(fit, "used", np.zeros(0, bool)), bool)
        if used.size and not used.all():
            notes.append(f"{int(used.sum())} of {used.size} points used (the others lie outside the model's region)")
        if not getattr(fit, "success", True):
            notes.append("the minimiser did not converge: " + str(getattr(fit, "message", "")))
        if notes:
            parts.append("<p class='note'>" + _e("; ".join(notes)) + "</p>")
        fixed = getattr(fit, "fixed", {}) or {}
        if fixed:
            parts.append("<p class='note'>fixed: " + _e(", ".join(f"{k} = {v:.6g}" for k, v in fixed.items())) + "</p>")
        corr = getattr(fit, "correlation", None)
        if corr is not None and np.size(corr) > 1 and len(params) > 1:
            c = np.asarray(corr, float)
            crow = [[p] + [fmt(c[i, j], 3) for j in range(len(params))] for i, p in enumerate(params)]
            parts.append("<details><summary>parameter correlation</summary>" + _table([""] + params, crow, cls="num")
                         + "</details>")
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


COMPARISON_COLUMNS = (  # key, header, decimals (None: significant digits)
    ("measured_db", "measured (dB)", 3), ("measured_deg", "measured (deg)", 2),
    ("measured", "measured", None), ("u", "u (k = 1)", None),
    ("predicted_db", "predicted (dB)", 3), ("fitted_db", "fitted (dB)", 3),
    ("predicted", "predicted", None), ("fitted", "fitted", None),
    ("pred_diff_db", "meas − pred (dB)", 3), ("pred_diff_deg", "meas − pred (deg)", 2),
    ("fit_diff_db", "meas − fit (dB)", 3), ("fit_diff_deg", "meas − fit (deg)", 2),
    ("pred_diff", "meas − pred", None), ("fit_diff", "meas − fit", None), ("z_fit", "|meas − fit|/u", 2),
)


def _comparison(rows: Sequence[dict[str, Any]], x_name: str, fit_name: str) -> str:
    """procedures.fitting.run_fits.comparison_table of one fit, one table per quantity."""
    x_unit = {"frequency_hz": "Hz", "vid_vpk": "V", "vid_v": "V"}.get(x_name, "")
    out = []
    for q in dict.fromkeys(str(r.get("quantity", "")) for r in rows):
        qr = [r for r in rows if str(r.get("quantity", "")) == q]
        ratio = any(isinstance(r.get("measured_db"), float) and math.isfinite(r["measured_db"]) for r in qr)
        phase = any(isinstance(r.get("measured_deg"), float) and math.isfinite(r["measured_deg"]) for r in qr)
        cols = []
        for key, head, dec in COMPARISON_COLUMNS:
            if key not in qr[0]:
                continue
            if ratio and key in ("measured", "predicted", "fitted", "pred_diff", "fit_diff"):
                continue  # the dB / degree columns say it
            if not ratio and key.endswith("_db"):
                continue
            if not phase and key.endswith("_deg"):
                continue
            cols.append((key, "u (dB, k = 1)" if ratio and key == "u" else head, dec))

        def cell(r: dict[str, Any], key: str, dec: int | None) -> str:
            v = r.get(key)
            if key == "u" and ratio:
                m = abs(complex(r.get("measured", math.nan)))
                return fmt(20 / math.log(10) * float(v) / m, 4) if m > 0 else "n/a"
            if isinstance(v, (complex, np.complexfloating)):
                return f"{abs(v):.5g} ∠ {math.degrees(np.angle(v)):.2f}°"
            return fmt(v, dec) if dec is not None else fmt_sig(v, 5)

        head = [f"{x_name} ({x_unit})" if x_unit else x_name] + [h for _, h, _ in cols] + ["used"]
        body = [[(eng(float(r["x"]), x_unit) if x_unit else fmt_sig(r["x"])) if "x" in r else "—"] + [cell(r, k, d) for k, _, d in cols]
                + ["yes" if r.get("used", True) else "no"] for r in qr]
        out.append(f"<p class='note'><b>{_e(fit_name)}: {_e(q)}</b></p>" + _table(head, body, cls="num"))
    return "".join(out)


def _fmt_param(v: float, e: float, unit: str) -> str:
    """A parameter with its standard error, in engineering notation when it has a unit."""
    if not math.isfinite(v):
        return "n/a"
    if unit in ("1", ""):
        unit = ""
    if not (math.isfinite(e) and e > 0):
        return eng(v, _unit(unit), 6) if unit else f"{v:.6g}"
    scale = 1.0
    prefix = ""
    if unit:
        for s, p in ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p"),
                     (1e-15, "f")):
            if abs(v) >= s * (1 - 5e-13) or s == 1e-15:
                scale, prefix = s, p
                break
    return fmt_pm(v / scale, e / scale, f"{prefix}{_unit(unit)}" if unit else "")


def _unit(u: str) -> str:
    return {"Ohm": "Ω", "ohm": "Ω"}.get(u, u)


def _figures(figures: Sequence[Any], embed: bool) -> str:
    parts = []
    for f in figures:
        if embed:
            data = base64.b64encode(f.path.read_bytes()).decode("ascii")
            src = f"data:image/png;base64,{data}"
        else:
            src = html.escape(f.path.name)
        parts.append(f'<figure id="fig-{_e(f.key)}"><a href="{html.escape(f.path.name)}"><img src="{src}" '
                     f'alt="{_e(f.title)}"></a><figcaption><b>{_e(f.title)}</b> ({_e(f.path.name)}). '
                     f'{_e(f.caption)}</figcaption></figure>')
    return "".join(parts) or "<p>No figures: the archive holds no result table to plot.</p>"


def render(ctx: Any, figures: Sequence[Any], *, embed: bool = False) -> str:
    """The whole page."""
    title = f"diffbench report — {ctx.board_name} — run {ctx.run_id[:8]}"
    sec: list[str] = [f"<h1>{_e(title)}</h1>",
                      f"<p class='sub'>{_e(ctx.procedure_name)} ({_e(ctx.kind)}) · started {_e(ctx.start_time)} · "
                      f"diffbench {_e(ctx.software_version)} · {_e(ctx.path.name)}</p>",
                      _status_banner(ctx), _verdicts(ctx)]
    toc = ["<a href='#run'>run</a>", "<a href='#results'>results</a>", "<a href='#models'>models</a>",
           "<a href='#figures'>figures</a>"]
    sec.append("<p class='toc'>" + " ".join(toc) + "</p>")
    if ctx.warnings:
        sec.append("".join(f"<div class='warn'>⚠ {_e(w)}</div>" for w in ctx.warnings))
    sec.append("<h2 id='run'>Run, instruments, board, procedure</h2><div class='grid'><div><h3>Run</h3>"
               + _run_info(ctx) + "<h3>Procedure</h3>" + _procedure(ctx) + "<h3>Instruments</h3>" + _instruments(ctx)
               + "</div><div><h3>Board</h3>" + _board(ctx) + "</div></div>")
    # measured results
    res = ["<h2 id='results'>Measured results</h2>"]
    any_result = False
    if ctx.freq is not None and ctx.freq.f.size:
        any_result = True
        res.append("<h3>Mixed-mode gains and CMRR versus frequency"
                   + (" (recomputed from the committed points)" if ctx.freq.recomputed else "") + "</h3>")
        res.append(_gain_rows(ctx))
    if ctx.amplitude is not None and len(ctx.amplitude["vid_vpk"]):
        any_result = True
        f0 = float(np.median(ctx.amplitude["frequency_hz"]))
        res.append(f"<h3>Gain and THD versus drive amplitude at {eng(f0, 'Hz')}</h3>" + _sweep_table(ctx, ctx.amplitude, "amplitude"))
    if ctx.cm_range is not None and len(ctx.cm_range["bias_v"]):
        any_result = True
        f0 = float(np.median(ctx.cm_range["frequency_hz"]))
        res.append(f"<h3>Common-mode input range at {eng(f0, 'Hz')}</h3>" + _sweep_table(ctx, ctx.cm_range, "cm"))
    if ctx.dc is not None and len(ctx.dc["vid_v"]):
        any_result = True
        res.append("<h3>DC transfer</h3>" + _dc_section(ctx))
    if not any_result:
        res.append("<p>The archive holds no result rows (no gains, amplitude, common-mode range or DC table).</p>")
    sec += res
    # models
    mod = ["<h2 id='models'>Models: prediction and fits</h2>"]
    if ctx.freq is not None and ctx.freq.f.size:
        d = _diff_rows(ctx, "prediction")
        if d:
            mod.append("<h3>Measured − prediction (board's nominal components)</h3>" + d)
        d = _diff_rows(ctx, "fit")
        if d:
            mod.append("<h3>Measured − fit</h3>" + d)
    if ctx.board is None:
        mod.append("<p>No prediction: the board config is unavailable.</p>")
    mod.append("<h3>Fitted parameters</h3>" + _fits(ctx))
    sec += mod
    sec.append("<h2 id='figures'>Figures</h2><p class='note'>Shaded bands and error bars: measured ± 2u (k = 2, ≈95 %); "
               "dashed: prediction from the nominal components; solid: fit. Click a figure for the full-size PNG.</p>")
    sec.append(_figures(figures, embed))
    cfg = "".join(f"<details><summary>{_e(name)} config (as archived)</summary><pre>{_e(text)}</pre></details>"
                  for name, text in ctx.configs.items())
    sec.append("<h2>Configs</h2>" + (cfg or "<p>none archived</p>"))
    body = "\n".join(sec)
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>"
            f"<style>{CSS}</style></head><body>\n{body}\n</body></html>\n")
