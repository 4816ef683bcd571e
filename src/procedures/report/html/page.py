"""The whole report page: title, status and verdicts, the run, the measured results, the models, the figures
and the archived configs.

Plain HTML + a little CSS, no JavaScript and no network: it opens from disk. Figures are linked by
relative file name (the PNGs sit beside ``report.html``) or embedded as base64 data URIs
(``embed=True``) when one self-contained file is wanted.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence

import numpy as np

from procedures.predict.si_format import eng
from procedures.report.context import Context, FigureFile
from procedures.report.html import run_sections as run
from procedures.report.html.fit_tables import fits
from procedures.report.html.formatting import esc
from procedures.report.html.result_tables import dc_section, diff_rows, gain_rows, level_cmrr_table, sweep_table

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 1.2em auto; max-width: 1320px;
       padding: 0 1em; color: #222; font-size: 14px; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } \
h2 { font-size: 1.2em; border-bottom: 2px solid #ddd; margin-top: 1.6em; }
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


def render(ctx: Context, figures: Sequence[FigureFile], *, embed: bool = False) -> str:
    """The whole page."""
    title = f"diffbench report — {ctx.board_name} — run {ctx.run_id[:8]}"
    sec: list[str] = [f"<h1>{esc(title)}</h1>",
                      f"<p class='sub'>{esc(ctx.procedure_name)} ({esc(ctx.kind)}) · started {esc(ctx.start_time)} · "
                      f"diffbench {esc(ctx.software_version)} · {esc(ctx.path.name)}</p>",
                      run.status_banner(ctx), run.verdicts(ctx)]
    toc = ["<a href='#run'>run</a>", "<a href='#results'>results</a>", "<a href='#models'>models</a>",
           "<a href='#figures'>figures</a>"]
    sec.append("<p class='toc'>" + " ".join(toc) + "</p>")
    if ctx.warnings:
        sec.append("".join(f"<div class='warn'>⚠ {esc(w)}</div>" for w in ctx.warnings))
    sec.append("<h2 id='run'>Run, instruments, board, procedure</h2><div class='grid'><div><h3>Run</h3>"
               + run.run_info(ctx) + "<h3>Procedure</h3>" + run.procedure(ctx) + "<h3>Instruments</h3>"
               + run.instruments(ctx) + "</div><div><h3>Board</h3>" + run.board(ctx) + "</div></div>")
    sec += _results(ctx)
    sec += _models(ctx)
    sec.append("<h2 id='figures'>Figures</h2><p class='note'>Shaded bands and error bars: measured ± 2u "
               "(k = 2, ≈95 %); "
               "dashed: prediction from the nominal components; solid: fit. Click a figure for the full-size PNG.</p>")
    sec.append(_figures(figures, embed))
    cfg = "".join(f"<details><summary>{esc(name)} config (as archived)</summary><pre>{esc(text)}</pre></details>"
                  for name, text in ctx.configs.items())
    sec.append("<h2>Configs</h2>" + (cfg or "<p>none archived</p>"))
    body = "\n".join(sec)
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>"
            f"<style>{CSS}</style></head><body>\n{body}\n</body></html>\n")


def _results(ctx: Context) -> list[str]:
    """The measured results: gains and CMRRs, gain and THD sweeps, the DC transfer."""
    res = ["<h2 id='results'>Measured results</h2>"]
    any_result = False
    if ctx.freq is not None and ctx.freq.f.size:
        any_result = True
        res.append("<h3>Mixed-mode gains and CMRR versus frequency"
                   + (" (recomputed from the committed points)" if ctx.freq.recomputed else "") + "</h3>")
        res.append(gain_rows(ctx.freq))
    if ctx.amplitude is not None and len(ctx.amplitude["vid_vpk"]):
        any_result = True
        f0 = float(np.median(ctx.amplitude["frequency_hz"]))
        res.append(f"<h3>Gain and THD versus drive amplitude at {eng(f0, 'Hz')}</h3>"
                   + sweep_table(ctx.amplitude, ctx.pred_amplitude, "amplitude"))
    if ctx.cm_range is not None and len(ctx.cm_range["bias_v"]):
        any_result = True
        f0 = float(np.median(ctx.cm_range["frequency_hz"]))
        res.append(f"<h3>Common-mode input range at {eng(f0, 'Hz')}</h3>"
                   + sweep_table(ctx.cm_range, ctx.pred_cm, "cm"))
    if ctx.cm_gains is not None and len(ctx.cm_gains["bias_v"]):
        any_result = True
        res.append("<h3>Common-mode rejection versus input DC level</h3>" + level_cmrr_table(ctx.cm_gains))
    if ctx.dc is not None and len(ctx.dc["vid_v"]):
        any_result = True
        res.append("<h3>DC transfer</h3>" + dc_section(ctx, ctx.dc))
    if not any_result:
        res.append("<p>The archive holds no result rows (no gains, amplitude, common-mode range or DC table).</p>")
    return res


def _models(ctx: Context) -> list[str]:
    """Measured against the prediction and the fit, and the fitted parameters."""
    mod = ["<h2 id='models'>Models: prediction and fits</h2>"]
    if ctx.freq is not None and ctx.freq.f.size:
        d = diff_rows(ctx, ctx.freq, "prediction")
        if d:
            mod.append("<h3>Measured − prediction (board's nominal components)</h3>" + d)
        d = diff_rows(ctx, ctx.freq, "fit")
        if d:
            mod.append("<h3>Measured − fit</h3>" + d)
    if ctx.board is None:
        mod.append("<p>No prediction: the board config is unavailable.</p>")
    mod.append("<h3>Fitted parameters</h3>" + fits(ctx))
    return mod


def _figures(figures: Sequence[FigureFile], embed: bool) -> str:
    parts = []
    for f in figures:
        if embed:
            data = base64.b64encode(f.path.read_bytes()).decode("ascii")
            src = f"data:image/png;base64,{data}"
        else:
            src = html.escape(f.path.name)
        parts.append(f'<figure id="fig-{esc(f.key)}"><a href="{html.escape(f.path.name)}"><img src="{src}" '
                     f'alt="{esc(f.title)}"></a><figcaption><b>{esc(f.title)}</b> ({esc(f.path.name)}). '
                     f'{esc(f.caption)}</figcaption></figure>')
    return "".join(parts) or "<p>No figures: the archive holds no result table to plot.</p>"
