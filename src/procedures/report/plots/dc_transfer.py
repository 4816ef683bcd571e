"""The DC transfer figure: vod(vid) with offset and slope, the outputs, the residuals, the incremental gain."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import EngFormatter, FuncFormatter

from procedures.report.plots.data import COLORS, DcData
from procedures.report.plots.marks import draw_marks
from procedures.report.plots.style import (
    MODEL_STYLES,
    RESIDUAL_MARKERS,
    band_note,
    figure_title,
    fit_ylim,
    grid,
    model_line_color,
    new_figure,
    no_data,
)


def dc_transfer(d: DcData, *, title: str, subtitle: str = "", k: float = 2.0) -> Figure:
    """Four panels: vod(vid) with models, offset and slope, and the board's offset limit (``d.marks``: where vod
    may cross zero, in red); vo1 and vo2 (vid); ``vod - model`` (mV); and the incremental gain dvod/dvid of the
    measured points against the models'."""
    fig = new_figure(13.0, 8.6)
    (ax_t, ax_o), (ax_r, ax_s) = fig.subplots(2, 2, sharex=True)
    figure_title(fig, title, subtitle)
    o = np.argsort(np.asarray(d.vid, float))
    vid = np.asarray(d.vid, float)[o]
    handles = _transfer_panel(ax_t, d, o, k)
    for lo, hi in d.saturation:
        for ax in (ax_t, ax_o, ax_r, ax_s):
            ax.axvspan(lo, hi, color="orange", alpha=0.10, lw=0)
    handles += draw_marks(ax_t, d.marks)
    _transfer_legend(ax_t, d, k, handles)
    _outputs_panel(ax_o, d, o)
    _residual_panel(ax_r, d, o, k)
    _incremental_panel(ax_s, d)
    for ax in (ax_t, ax_o, ax_r, ax_s):
        grid(ax)
        ax.xaxis.set_major_formatter(EngFormatter(unit="V", sep=" "))
    if not vid.size:
        no_data(ax_t)
    return fig


def _transfer_panel(ax: Axes, d: DcData, o: np.ndarray, k: float) -> list[object]:
    """vod(vid) measured with k-expanded error bars, the models, the offset and the slope through it;
    returns the legend handles."""
    vid, vid_u = np.asarray(d.vid, float)[o], np.asarray(d.vid_u, float)[o]
    vod, vod_u = np.asarray(d.vod, float)[o], np.asarray(d.vod_u, float)[o]
    h: list[object] = []
    if vid.size:
        h.append(ax.errorbar(vid, vod, xerr=k * vid_u, yerr=k * vod_u, fmt="o", ms=4, color="C0", capsize=2,
                             label="vod measured"))
    for mc in d.vod_models:
        h.append(ax.plot(mc.x, mc.y, color=model_line_color(mc.kind), label=f"vod {mc.label}",
                         **MODEL_STYLES.get(mc.kind, MODEL_STYLES["fit"]))[0])
    if d.offset_v is not None and math.isfinite(d.offset_v):
        h.append(ax.plot([d.offset_v], [0.0], "kx", ms=10, mew=2,
                         label=f"input offset {d.offset_v * 1e3:.3f} mV (vod = 0)")[0])
        if d.slope is not None and math.isfinite(d.slope) and vid.size:
            span = 0.25 * (vid.max() - vid.min())
            xs = np.array([d.offset_v - span / 2, d.offset_v + span / 2])
            h.append(ax.plot(xs, d.slope * (xs - d.offset_v), "k-", lw=2.2, alpha=0.6,
                             label=f"slope at the offset {d.slope:.4g} V/V")[0])
    return h


def _transfer_legend(ax: Axes, d: DcData, k: float, h: list[object]) -> None:
    """The transfer panel's axes, legend (what it drew, the saturation shading, the band) and title."""
    if d.saturation:
        h.append(Patch(facecolor="orange", alpha=0.25, label="model: a device leaves its active region"))
    h.append(band_note(k))
    ax.set_ylabel("vod = vo1 − vo2 (V)")
    ax.axhline(0, color="0.3", lw=0.7)
    ax.axvline(0, color="0.3", lw=0.7)
    ax.legend(handles=h, fontsize=8, loc="lower left", framealpha=0.85)
    ax.set_title("differential DC transfer", fontsize=10)


def _outputs_panel(ax: Axes, d: DcData, o: np.ndarray) -> None:
    """vo1 and vo2 versus vid, measured and predicted."""
    vid = np.asarray(d.vid, float)[o]
    vo1, vo2 = np.asarray(d.vo1, float)[o], np.asarray(d.vo2, float)[o]
    ho = []
    if vid.size:
        ho.append(ax.plot(vid, vo1, "o", ms=4, color=COLORS["vo1"], label="vo1 measured")[0])
        ho.append(ax.plot(vid, vo2, "s", ms=4, color=COLORS["vo2"], label="vo2 measured")[0])
    for name, mc in d.vo_models.items():
        ho.append(ax.plot(mc.x, mc.y, color=COLORS.get(name, "C5"), label=f"{name} {mc.label}",
                          **MODEL_STYLES.get(mc.kind, MODEL_STYLES["fit"]))[0])
    ax.set_ylabel("output DC level (V)")
    ax.set_title("single-ended outputs", fontsize=10)
    if ho:
        ax.legend(handles=ho, fontsize=8, loc="best", framealpha=0.85)


def _residual_panel(ax: Axes, d: DcData, o: np.ndarray, k: float) -> None:
    """``vod - model`` in mV, on a symmetric log axis when the saturated region dwarfs the linear one."""
    vid = np.asarray(d.vid, float)[o]
    vod, vod_u = np.asarray(d.vod, float)[o], np.asarray(d.vod_u, float)[o]
    hr = []
    rv = []
    for mc in d.vod_models:
        if mc.y_at is None:
            continue
        r = (vod - np.asarray(mc.y_at, float)[o]) * 1e3
        st = RESIDUAL_MARKERS.get(mc.kind, RESIDUAL_MARKERS["fit"])
        hr.append(ax.errorbar(vid, r, yerr=k * vod_u * 1e3, color=model_line_color(mc.kind), capsize=2, lw=0.9,
                              label=f"vod − {mc.label}", **st))
        rv += [r]
    ax.axhline(0, color="0.3", lw=0.7)
    ax.set_ylabel("measured − model (mV)")
    ax.set_xlabel("differential DC input vid (V)")
    if hr:
        ax.legend(handles=hr, fontsize=8, loc="best", framealpha=0.85)
        _residual_scale(ax, d, vid, rv)
    else:
        no_data(ax, "no model to compare with")
    ax.set_title("residual of vod", fontsize=10)


def _residual_scale(ax: Axes, d: DcData, vid: np.ndarray, rv: list[np.ndarray]) -> None:
    allr = np.abs(np.concatenate(rv)) if rv else np.array([])
    allr = allr[np.isfinite(allr)]
    inside = np.ones(vid.shape, bool)
    for lo, hi in d.saturation:
        inside &= ~((vid >= lo) & (vid <= hi))
    linear = np.abs(np.concatenate([r[inside] for r in rv])) if rv else np.array([])
    linear = linear[np.isfinite(linear)]
    if allr.size and linear.size and allr.max() > 8 * max(linear.max(), 1e-3):
        # the saturated region dwarfs the residuals where the model applies: a symmetric log axis shows both
        ax.set_yscale("symlog", linthresh=max(2 * float(linear.max()), 0.5), linscale=1.5)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_ylabel("measured − model (mV, symmetric log)")
        ax.margins(y=0.08)
    else:
        fit_ylim(ax, rv, 1.0)


def _incremental_panel(ax: Axes, d: DcData) -> None:
    """The incremental gain dvod/dvid of the measurement and of each model (prepared by the report)."""
    hs = []
    mid, slope = d.incremental
    if mid.size:
        hs.append(ax.plot(mid, slope, "o-", ms=4, lw=0.9, color="C0",
                          label="dvod/dvid measured (finite differences)")[0])
    for mc in d.slope_models:
        hs.append(ax.plot(mc.x, mc.y, color=model_line_color(mc.kind), label=f"dvod/dvid {mc.label}",
                          **MODEL_STYLES.get(mc.kind, MODEL_STYLES["fit"]))[0])
    ax.axhline(0, color="0.3", lw=0.7)
    ax.set_ylabel("incremental gain dvod/dvid (V/V)")
    ax.set_xlabel("differential DC input vid (V)")
    ax.set_title("incremental gain (linear range)", fontsize=10)
    if hs:
        ax.legend(handles=hs, fontsize=8, loc="best", framealpha=0.85)
