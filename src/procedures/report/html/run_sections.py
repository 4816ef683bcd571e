"""The page's sections about the run itself: status, verdicts, run identity, instruments, board, procedure."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import numpy as np

from instruments.board_config import BoardConfig
from procedures.analysis.verdict_text import measured_text, threshold_text
from procedures.predict.si_format import eng
from procedures.report.context import Context
from procedures.report.html.formatting import esc, fmt, kv, table


def status_banner(ctx: Context) -> str:
    """A coloured banner with the run's status and reason; a note when results were recomputed."""
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
        extra = ("<div class='note'>Results recomputed by the report from the committed points: "
                 f"{esc(', '.join(ctx.recomputed))}.</div>")
    return f'<div class="banner {esc(s)}">{esc(text)}</div>{extra}'


def verdicts(ctx: Context) -> str:
    """The overall verdict as a banner and one row per judged limit."""
    v = ctx.verdicts
    if not v:
        return '<div class="banner nolimits">Verdict: no limits checked</div>'
    a = v.arrays
    overall = str(v.attrs.get("overall", "")).lower()
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
    units = col("unit", v.units.get("measured", ""))
    rows, classes = [], []
    for i in range(n):
        passed = bool(ok[i])
        unit, limit = str(units[i]), names[i]
        shown = measured_text(limit, float(meas[i]), float(unc[i]), float(thr[i]), unit)  # the limit's unit
        rows.append([esc(limit), esc(desc[i]), esc(shown), esc(threshold_text(limit, float(thr[i]), unit)),
                     f"<b>{'PASS' if passed else 'FAIL'}</b>"])
        classes.append("pass" if passed else "fail")
    banner = (f'<div class="banner {"complete" if overall == "pass" else "failed"}">Verdict: '
              f'{"PASS" if overall == "pass" else "FAIL"} ({sum(bool(x) for x in ok)} of {n} limits passed)</div>')
    return banner + table(["limit", "description", "measured (± u, k = 1)", "required", "result"], rows,
                          cls="num", raw=True, row_classes=classes)


def run_info(ctx: Context) -> str:
    """Archive, run id, status, times, software and archive versions, tables, resumptions, bench, operator."""
    dur = ""
    try:
        t0 = datetime.fromisoformat(ctx.start_time.replace("Z", "+00:00"))
        t1 = datetime.fromisoformat(ctx.end_time.replace("Z", "+00:00"))
        dur = f"{(t1 - t0).total_seconds():.1f} s"
    except (ValueError, AttributeError):
        pass
    rows = [("archive", str(ctx.path)), ("run id", ctx.run_id),
            ("status", ctx.status + (f" — {ctx.reason}" if ctx.reason else "")),
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
    return kv(rows)


def instruments(ctx: Context) -> str:
    if not ctx.instruments:
        return "<p>No instruments recorded.</p>"
    rows = [[name, i.get("idn", ""), i.get("driver", ""), i.get("resource", "")] for name, i in ctx.instruments.items()]
    return table(["instrument", "*IDN?", "driver", "VISA resource"], rows)


def board(ctx: Context) -> str:
    """The board's components and limits, and what the prediction says of it at low frequency."""
    b = ctx.board
    if b is None:
        return kv([("name", ctx.board_name), ("note", "board config unavailable or invalid; see warnings")])
    rows = [("name", b.name), ("description", b.description or "—")]
    nb = b.netlist
    if nb is not None and not nb.family:  # the config's closed-form sections are placeholders: show the netlist
        rows += [("netlist", f"{nb.path.name} (archived with the run); predicted by ngspice"),
                 ("pins", ", ".join(f"{p} = {n}" for p, n in nb.pins.items())),
                 ("supply / input bias", f"V_CC = {b.vcc_v:g} V, V_EE = {b.vee_v:g} V; inputs at {b.bias_v:g} V")]
    else:
        rows += _component_rows(b)
    rows.append(("safe limits", f"vid ≤ {b.vid_max_vpk:g} V pk, vic ≤ {b.vic_max_vpk:g} V pk, "
                                f"bias {b.bias_min_v:g} … {b.bias_max_v:g} V"))
    ps = ctx.pred_summary
    if "Add_dc" in ps:
        corners = (f"; bandwidth {eng(ps['bandwidth_hz'], 'Hz')}, tail zero {eng(ps['tail_zero_hz'], 'Hz')}"
                   if "bandwidth_hz" in ps and "tail_zero_hz" in ps else "")
        rows.append((f"predicted (low frequency{', ngspice' if ps.get('source') == 'ngspice' else ''})",
                     f"Add = {ps['Add_dc'].real:.4g}, CMRR_se,1 = {ps['CMRR_se1_dc_db']:.2f} dB, CMRR_se,2 = "
                     f"{ps['CMRR_se2_dc_db']:.2f} dB, CMRR_diff = {fmt(ps['CMRR_diff_dc_db'], 2)} dB{corners}"))
    return kv(rows)


def _component_rows(b: BoardConfig) -> list[tuple[str, str]]:
    """The closed-form family's components: devices, load, tail (a split tail's bridge as such), degeneration,
    cascode, supplies and bias, mismatch."""
    d = b.device
    if d.is_bjt:
        dev = f"{d.type}: β_F = {d.beta:g}, V_A = {_eng(d.early_v, 'V')}, I_S = {_eng(d.is_a, 'A')}"
    else:
        dev = f"{d.type}: kp = {_eng(d.kp_a_per_v2, 'A/V²')}, V_th = {d.vth_v:g} V, λ = {d.lambda_per_v:g} /V"
    load = f"{b.load_type}, R = {eng(b.load_r_ohm, 'Ω')} to {b.load_return_v:g} V, C = {eng(b.load_c_f, 'F')}"
    if b.mirror is not None:
        load += f"; mirror {b.mirror.type}"
    tail = f"I = {eng(b.tail_current_a, 'A')}, R_T = {eng(b.tail_r_ohm, 'Ω')}, C_T = {eng(b.tail_c_f, 'F')}"
    degen = eng(b.degeneration_r_ohm, "Ω") if b.degeneration_r_ohm else "none"
    if b.tail_kind == "split":  # the board holds half the bridge as its degeneration (instruments.board_tail)
        tail = (f"split (fig. 5-9): a sink of {eng(b.tail_current_a / 2, 'A')} ∥ {eng(2 * b.tail_r_ohm, 'Ω')} ∥ "
                f"{eng(b.tail_c_f / 2, 'F')} at each emitter")
        degen = (f"bridge R = {eng(2 * b.degeneration_r_ohm, 'Ω')} between the emitters (equivalent per side: "
                 f"R/2 = {eng(b.degeneration_r_ohm, 'Ω')})")
    return [("pair device", dev), ("load", load), ("tail", tail), ("degeneration", degen),
            ("cascode", f"at {b.cascode_bias_v:g} V" if b.cascode else "none"),
            ("supply / input bias", f"V_CC = {b.vcc_v:g} V, V_EE = {b.vee_v:g} V; inputs at {b.bias_v:g} V "
                                    f"(source R {eng(b.source_r_ohm, 'Ω')}, bias R {eng(b.bias_r_ohm, 'Ω')})"),
            ("mismatch", f"load R {b.mismatch_load_r:+.3%}, device {b.mismatch_device:+.3%}, load C "
                         f"{b.mismatch_load_c:+.3%}, β {b.mismatch_beta:+.3%}"
                         + (f", ΔV_th {eng(b.mismatch_vth_v, 'V')}" if not d.is_bjt else ""))]


def _eng(x: float | None, unit: str) -> str:
    """:func:`~procedures.predict.si_format.eng`, or "n/a" for a device parameter the config leaves out
    (the config checks that a device has the ones its type needs)."""
    return eng(x, unit) if x is not None else "n/a"


def procedure(ctx: Context) -> str:
    p = ctx.procedure
    rows = [("name", ctx.procedure_name), ("kind", ctx.kind or "?"),
            ("description", str(p.get("description", "")) or "—")]
    return kv(rows)
