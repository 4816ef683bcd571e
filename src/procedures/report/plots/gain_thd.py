"""Differential gain and THD versus a sweep variable: the drive amplitude or the inputs' DC level."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter, FuncFormatter, NullFormatter

from procedures.analysis.propagation import db_u
from procedures.report.plots.data import SweepData
from procedures.report.plots.marks import draw_marks, mark_values
from procedures.report.plots.style import (
    MODEL_STYLES,
    band,
    band_note,
    figure_title,
    finite_limits,
    fit_ylim,
    grid,
    model_line_color,
    new_figure,
    no_data,
    plot_db,
    volts_axis,
)

LEGEND_BELOW: dict[str, Any] = dict(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), framealpha=0.85)
"""The legends go under their panels: the model names are long, and inside they would hide the points."""


def gain_thd(d: SweepData, *, title: str, subtitle: str = "", k: float = 2.0,
             frequency_hz: float | None = None) -> Figure:
    """Left: |Add| in dB versus the sweep variable (measured with k-expanded band, models, the -1 dB
    compression line and the measured 1 dB compression point); right: THD of vod in percent on a log axis
    (with a dB scale on the right) and the board's THD limit (``d.thd_marks``: a red line at the limit over
    its drive, the fail side above shaded)."""
    fig = new_figure(13.0, 7.0)
    ax_g, ax_t = fig.subplots(1, 2)
    figure_title(fig, title, subtitle)
    x = np.asarray(d.x, float)
    o = np.argsort(x)
    x = x[o]
    handles = _gain_panel(ax_g, d, x, o, k)
    th = _thd_panel(ax_t, d, x, o)
    for ax in (ax_g, ax_t):
        volts_axis(ax, d.x_log)
        grid(ax)
        ax.set_xlabel(d.x_label)
        _limit_lines(ax, d, x)
    th += draw_marks(ax_t, d.thd_marks)
    if not x.size:
        no_data(ax_g)
        no_data(ax_t)
    if th:
        ax_t.legend(handles=th, **LEGEND_BELOW)
    ax_g.legend(handles=handles, **LEGEND_BELOW)
    ax_g.set_title("differential gain at the fundamental" + (f", {frequency_hz:g} Hz" if frequency_hz else ""),
                   fontsize=10)
    ax_t.set_title("total harmonic distortion of vod = vo1 − vo2", fontsize=10)
    return fig


def _gain_panel(ax: Axes, d: SweepData, x: np.ndarray, o: np.ndarray, k: float) -> list[object]:
    """|Add| in dB: measured with band, the models, the -1 dB line; returns the legend handles."""
    g = np.abs(np.asarray(d.gain))[o]
    gdb = plot_db(g)
    with np.errstate(divide="ignore", invalid="ignore"):
        udb = db_u(np.asarray(d.gain_u, float)[o], g)
    handles: list[object] = []
    if x.size:
        band(ax, x, gdb - k * udb, gdb + k * udb, "C0", log=d.x_log, max_gap=0.5 if d.x_log else 0.2)
        handles.append(ax.errorbar(x, gdb, yerr=k * udb, fmt="o", ms=5, color="C0", capsize=2.5,
                                   label="|Add| measured"))
    vals = [gdb]
    for mc in d.gain_models:
        style = MODEL_STYLES.get(mc.kind, MODEL_STYLES["fit"])
        cx = np.asarray(mc.x, float)
        handles.append(ax.plot(cx, plot_db(mc.y), color=model_line_color(mc.kind), label=f"|Add| {mc.label}",
                               **style)[0])
        vals.append(plot_db(mc.y))
    if d.reference_gain:
        ref = plot_db(np.array([d.reference_gain]))[0]
        p1 = d.p1db_v
        where = ", not reached" if p1 is None else f", reached at {EngFormatter(unit='V', sep=' ', places=1)(p1)} peak"
        handles.append(ax.axhline(ref - 1.0, color="0.35", ls="-.", lw=1.0,
                                  label=f"1 dB compression ({ref - 1:.2f} dB){where}"))
        if p1 is not None:
            ax.plot([p1], [ref - 1.0], marker="v", ms=9, color="0.2", zorder=3)
        vals.append(np.array([ref - 1.5]))
    handles.append(band_note(k))
    ax.set_ylabel("|Add| (dB)")
    fit_ylim(ax, vals, 1.0)
    return handles


def _thd_panel(ax: Axes, d: SweepData, x: np.ndarray, o: np.ndarray) -> list[object]:
    """THD of vod in percent (log axis over more than a decade) with a dBc twin axis; returns the handles."""
    pct = 100.0 * np.asarray(d.thd, float)[o]
    th: list[object] = []
    okt = np.isfinite(pct) & (pct > 0)
    if okt.any():
        th.append(ax.plot(x[okt], pct[okt], "o", ms=5, color="C0", label="THD of vod measured")[0])
    tv = [pct[okt]]
    if x.size:  # a limit near the sweep is inside the axis
        tv += mark_values(d.thd_marks, float(x.min()) / 2.5, float(x.max()) * 2.5)
    for mc in d.thd_models:
        style = MODEL_STYLES.get(mc.kind, MODEL_STYLES["fit"])
        y = 100.0 * np.asarray(mc.y, float)
        ok = np.isfinite(y) & (y > 0)
        th.append(ax.plot(np.asarray(mc.x, float)[ok], y[ok], color=model_line_color(mc.kind),
                          label=f"THD {mc.label}", **style)[0])
        tv.append(y[ok])
    ax.set_ylabel("THD of vod (%)")
    lim = finite_limits([np.log10(a) for a in tv if np.size(a)], pad_frac=0.1, min_span=0.3)
    if lim and lim[1] - lim[0] > 1.0:  # more than a decade: log axis
        ax.set_yscale("log")
        ax.set_ylim(10 ** lim[0], 10 ** lim[1])
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    else:
        lin = finite_limits(tv, pad_frac=0.15, min_span=0.0)
        if lin:  # less than a decade: a linear axis from 0, so that noise on a flat THD does not look like a trend
            ax.set_ylim(0.0, lin[1] * 1.15)
    _dbc_twin(ax)
    return th


def _dbc_twin(ax: Axes) -> None:
    """A dBc scale on the right: a twin axis with the same limits in 20 log10(THD)."""
    lo_p, hi_p = ax.get_ylim()
    if not (lo_p >= 0 and hi_p > lo_p and (lo_p > 0 or ax.get_yscale() == "linear")):
        return
    tw = ax.twinx()
    if ax.get_yscale() == "log":
        tw.set_ylim(20 * np.log10(lo_p / 100.0), 20 * np.log10(hi_p / 100.0))
    else:  # dB is not linear in %: label the twin at the % ticks instead
        ticks = [t for t in ax.get_yticks() if lo_p < t < hi_p]
        tw.set_ylim(lo_p, hi_p)
        tw.set_yticks(ticks)
        tw.set_yticklabels([f"{20 * np.log10(t / 100.0):.1f}" for t in ticks])
    tw.set_ylabel("THD (dBc)")


def _limit_lines(ax: Axes, d: SweepData, x: np.ndarray) -> None:
    """Dotted vertical lines at the board's limits that lie near the sweep (the page's table says the rest)."""
    for xv, lab in d.limits:
        if x.size and not (x.min() - 0.6 * np.ptp(x) - 1e-12 <= xv <= x.max() + 0.6 * np.ptp(x) + 1e-12 if not d.x_log
                           else x.min() / 2.5 <= xv <= x.max() * 2.5):
            continue  # far beyond the sweep: the page's table says it
        ax.axvline(xv, color="0.5", ls=":", lw=1.2)
        ax.text(xv, 0.02, f" {lab}", rotation=90, transform=ax.get_xaxis_transform(), fontsize=7.5,
                color="0.35", va="bottom", ha="right")
