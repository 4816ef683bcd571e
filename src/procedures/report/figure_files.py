"""The report's figures as PNG files: which are made (those whose tables the run holds), their titles and
captions. The drawing is :mod:`procedures.report.plots`', imported here only when a figure is made so that
``import procedures`` never loads matplotlib.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from procedures.report.context import Context, FigureFile
from procedures.report.figure_data import amplitude_data, cm_range_data, dc_data, freq_series, level_figures
from procedures.report.limit_marks import frequency_marks, level_marks

if TYPE_CHECKING:  # pragma: no cover - typing only: matplotlib loads when a figure is drawn
    from matplotlib.figure import Figure

    Emit = Callable[[str, Figure, str, str], None]

K_COVERAGE = 2.0
"""Coverage factor of the uncertainty the figures draw (about 95 %)."""

FIGURE_KEYS = ("bode_overview", "bode_add", "bode_acc", "bode_acd", "bode_adc", "bode_cmrr_se", "bode_cmrr_diff",
               "gain_thd_vs_amplitude", "gain_thd_vs_bias", "cmrr_vs_bias", "dc_transfer")
"""Every figure a report can have (file ``<key>.png``)."""

GAIN_TITLES = {
    "Add": "Add: differential gain vod/vid",
    "Acc": "Acc: common-mode gain voc/vic",
    "Acd": "Acd: mode conversion, common mode in → differential out (vod/vic)",
    "Adc": "Adc: mode conversion, differential in → common mode out (voc/vid)",
}


def make_figures(ctx: Context, out: Path) -> list[FigureFile]:
    """Draw and write into ``out`` every figure the context has data for; their files, in page order."""
    from procedures.report.plots.style import save

    figs: list[FigureFile] = []

    def emit(key: str, fig: Figure, title: str, caption: str) -> None:
        p = save(fig, out / f"{key}.png")
        figs.append(FigureFile(key, p, title, caption))

    draw_figures(ctx, emit)
    return figs


def draw_figures(ctx: Context, emit: Emit) -> None:
    """Draw every figure the context has data for, in page order, handing each to ``emit(key, figure, title,
    caption)`` (:func:`make_figures` saves them; a test or a notebook may keep the figure objects)."""
    if ctx.freq is not None and ctx.freq.f.size:
        _frequency_figures(ctx, emit)
    _sweep_figures(ctx, emit)
    if ctx.dc is not None and len(ctx.dc["vid_v"]):
        from procedures.report.plots.dc_transfer import dc_transfer

        emit("dc_transfer", dc_transfer(dc_data(ctx), title="DC transfer: vod versus vid", subtitle=ctx.subtitle,
                                        k=K_COVERAGE),
             "DC transfer",
             "vod versus the DC differential input with the input offset and slope (red: the board's offset "
             "limit, where vod may cross zero); vo1 and vo2; the residual against the models; the incremental "
             "gain.")


def _frequency_figures(ctx: Context, emit: Emit) -> None:
    """The overview, one Bode plot per gain, and the two CMRR Bode plots."""
    from procedures.report.plots.bode import bode, overview

    k = K_COVERAGE
    pf = ctx.pred_freq
    pred = ("none." if pf is None else "ngspice on the archived netlist." if pf.source == "ngspice"
            else "procedures.predict.prediction on the archived board config.")
    note = (f"Uncertainty: measured ± {k:g}u (k = {k:g}). Prediction: {pred} "
            f"{('Fit: ' + ctx.fit_source + '.') if ctx.fits else 'No fit.'}  Archive: {ctx.path.name}")
    gains, cmrrs = freq_series(ctx)
    marks = frequency_marks(ctx.board, ctx.freq.f if ctx.freq is not None else np.zeros(0))
    emit("bode_overview", overview(list(gains.values()), list(cmrrs.values()),
                                   title="Mixed-mode gains and CMRR versus frequency", subtitle=ctx.subtitle, k=k,
                                   gain_marks=marks["Add"], cmrr_marks=marks["CMRR_se"] + marks["CMRR_diff"]),
         "Overview", "Magnitudes of Add, Acc, Acd, Adc (left) and CMRR_se,1, CMRR_se,2, CMRR_diff (right), in dB; "
         "measured (markers, shaded ±2u), predicted from the board's nominal components (dashed) and fitted "
         "(solid); red: the board's limits, their fail side shaded.")
    for name in ("Add", "Acc", "Acd", "Adc"):
        emit(f"bode_{name.lower()}", bode([gains[name]], title=f"Bode plot of {GAIN_TITLES[name]}",
                                          subtitle=ctx.subtitle, mag_label=f"|{name}| (dB)",
                                          phase_label=f"phase of {name} (deg)", k=k, note=note,
                                          marks=marks.get(name, [])),
             GAIN_TITLES[name], f"|{name}| in dB and its phase in degrees versus frequency; bottom: measured − "
             "prediction (hollow) and − fit (filled).")
    emit("bode_cmrr_se", bode([cmrrs["CMRR_se1"], cmrrs["CMRR_se2"]],
                              title="Single-ended CMRR: CMRR_se,k = |Ad_se,k / Acm_se,k| per output k",
                              subtitle=ctx.subtitle, mag_label="CMRR_se,k (dB)",
                              phase_label="phase of Ad_se,k / Acm_se,k (deg)", k=k, note=note,
                              marks=marks["CMRR_se"]),
         "CMRR_se (single-ended, per output)",
         "CMRR_se,1 and CMRR_se,2 in dB (the textbook g_m·R_SS figure), with the phase of the complex ratio; "
         "hollow diamonds: the same figure under an ideal-generator assumption.")
    emit("bode_cmrr_diff", bode([cmrrs["CMRR_diff"]], title="Differential CMRR: CMRR_diff = |Add / Acd|",
                                subtitle=ctx.subtitle, mag_label="CMRR_diff (dB)",
                                phase_label="phase of Add / Acd (deg)", k=k, note=note,
                                marks=marks["CMRR_diff"]),
         "CMRR_diff (differential output)",
         "CMRR_diff in dB (set by mismatch), with the phase of Add/Acd; hollow diamonds: ideal-generator assumption.")


def _sweep_figures(ctx: Context, emit: Emit) -> None:
    """Gain and THD versus the drive amplitude, and versus the inputs' DC level."""
    from procedures.report.plots.gain_thd import gain_thd

    if ctx.amplitude is not None and len(ctx.amplitude["vid_vpk"]):
        emit("gain_thd_vs_amplitude", gain_thd(amplitude_data(ctx, ctx.amplitude),
                                               title="Differential gain and THD versus drive amplitude",
                                               subtitle=ctx.subtitle, k=K_COVERAGE,
                                               frequency_hz=float(np.median(ctx.amplitude["frequency_hz"]))),
             "Gain and THD versus amplitude",
             "|Add| in dB at the fundamental (left, with the 1 dB compression line) and THD of vod in % (right, "
             "red: the board's THD limit at its drive, fail side shaded) versus the measured differential input "
             "amplitude.")
    if ctx.cm_range is not None and len(ctx.cm_range["bias_v"]):
        emit("gain_thd_vs_bias", gain_thd(cm_range_data(ctx, ctx.cm_range),
                                          title="Common-mode input range: differential gain and THD versus input "
                                                "DC level",
                                          subtitle=ctx.subtitle, k=K_COVERAGE,
                                          frequency_hz=float(np.median(ctx.cm_range["frequency_hz"]))),
             "Common-mode input range",
             "|Add| in dB and THD of vod versus the DC level of both inputs; dotted lines: the board's safe bias "
             "limits.")
    if ctx.cm_gains is not None and len(ctx.cm_gains["bias_v"]):
        from procedures.report.plots.cmrr_levels import cmrr_levels

        lims = ([] if ctx.board is None else [(ctx.board.bias_min_v, f"bias_min = {ctx.board.bias_min_v:g} V"),
                                              (ctx.board.bias_max_v, f"bias_max = {ctx.board.bias_max_v:g} V")])
        f_cm = np.asarray(ctx.cm_gains.get("frequency_hz", [np.nan]), float)
        marks = level_marks(ctx.board, float(np.nanmax(f_cm)) if np.isfinite(f_cm).any() else math.nan)
        emit("cmrr_vs_bias", cmrr_levels(level_figures(ctx.cm_gains),
                                         title="Common-mode rejection versus input DC level",
                                         subtitle=ctx.subtitle, k=K_COVERAGE, limits=lims, marks=marks),
             "CMRR versus input common-mode level",
             "CMRR_se,1, CMRR_se,2 and CMRR_diff in dB at each DC level of both inputs (DM and CM drives "
             "extrapolated to zero), with k = 2 error bars: a tail source leaving its active region at the "
             "bottom of the range shows as CMRR_se falling.")
