"""Bode plots of measured quantities with their models and residuals, and the one-glance overview."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from models.mixed_mode import phase_deg
from procedures.report.plots.data import BodeSeries, LimitMark, ModelCurve
from procedures.report.plots.marks import draw_marks, mark_values
from procedures.report.plots.style import (
    LIMIT_MARKERS,
    MODEL_STYLES,
    RESIDUAL_MARKERS,
    align_phase,
    band,
    band_note,
    draw_limits,
    eng_hz,
    figure_title,
    fit_ylim,
    footnote,
    grid,
    model_color,
    new_figure,
    no_data,
    plot_db,
    residual_axis,
    unwrap_deg,
    value_mask,
    wrap_deg,
)


@dataclass
class _Panels:
    """The axes of one Bode figure and what has been drawn on them (for limits and legends)."""

    fig: Figure
    mag: Axes
    phase: Axes | None
    res_mag: Axes | None
    res_phase: Axes | None
    k: float
    n_res: int  # residual series in all: they are drawn side by side
    x_window: tuple[float, float]  # the frequencies shown: the measured ones and a little beyond
    res_i: int = 0
    mag_vals: list[np.ndarray] = field(default_factory=list)
    ph_vals: list[np.ndarray] = field(default_factory=list)
    rm_vals: list[np.ndarray] = field(default_factory=list)
    rp_vals: list[np.ndarray] = field(default_factory=list)
    handles: list[Any] = field(default_factory=list)
    model_kinds: set[str] = field(default_factory=set)


class _Measured(NamedTuple):
    """One series' measured points sorted by frequency: magnitude, its k-expanded uncertainty, phase."""

    f: np.ndarray
    order: np.ndarray
    mag: np.ndarray
    mag_uk: np.ndarray
    phase: np.ndarray | None


def bode(series: Sequence[BodeSeries], *, title: str, subtitle: str = "", mag_label: str = "magnitude (dB)",
         phase_label: str = "phase (deg)", k: float = 2.0, residuals: bool = True,
         note: str | None = None, marks: Sequence[LimitMark] = ()) -> Figure:
    """Bode plot of one or more measured quantities with their models and the board's limits on them.

    Top row: magnitude (dB) and phase (degrees) against frequency on a log axis: measured points with
    ``k``-expanded error bars and shaded band, prediction dashed, fit solid, each ``marks`` limit as a red
    line with its fail side shaded (magnitude panel). Bottom row (if any model has values at the measured
    frequencies and ``residuals``): ``measured - model`` in dB and in degrees, with the measured
    ``k``-expanded uncertainty as error bars. The axes hold every curve they draw: models are drawn over the
    measured span widened by :data:`MODEL_MARGIN` either way, and the y-limits cover all of it.
    """
    has_phase = any(s.phase_deg is not None and np.isfinite(s.phase_deg).any() for s in series)
    has_res = residuals and any(m.y_at is not None for s in series for m in s.models)
    pn = _panels(has_phase, has_res, k, sum(1 for s in series for mc in s.models if mc.y_at is not None),
                 frequency_window(series))
    figure_title(pn.fig, title, subtitle)
    for s in series:
        meas = _draw_measured(pn, s)
        for mc in s.models:
            _draw_model(pn, s, mc, meas)
    pn.mag_vals += mark_values(marks, *pn.x_window)
    _finish(pn, mag_label, phase_label, empty=not series)
    if marks:
        pn.handles[-1:-1] = draw_marks(pn.mag, marks)  # before the band note
        pn.mag.legend(handles=pn.handles, fontsize=8, loc="best", framealpha=0.85)
    footnote(pn.fig, note)
    return pn.fig


MODEL_MARGIN = 1.5
"""Models are drawn (and the frequency axis spans) from the lowest measured frequency / 1.5 to the highest x 1.5."""


def frequency_window(series: Sequence[BodeSeries]) -> tuple[float, float]:
    """The frequency span a Bode panel shows: the measured frequencies widened by :data:`MODEL_MARGIN` (Hz)."""
    f = np.concatenate([np.asarray(s.freq_hz, float) for s in series] or [np.array([])])
    f = f[np.isfinite(f) & (f > 0)]
    if not f.size:
        return (1.0, 10.0)
    return float(f.min()) / MODEL_MARGIN, float(f.max()) * MODEL_MARGIN


def trimmed(mc: ModelCurve, window: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """A model curve sorted by x and cut to ``window``: what a panel of that span draws of it."""
    cx = np.asarray(mc.x, float)
    co = np.argsort(cx)
    cx, cy = cx[co], np.asarray(mc.y)[co]
    keep = (cx >= window[0] * (1 - 1e-9)) & (cx <= window[1] * (1 + 1e-9))
    return cx[keep], cy[keep]


def _panels(has_phase: bool, has_res: bool, k: float, n_res: int, window: tuple[float, float]) -> _Panels:
    ncols = 2 if has_phase else 1
    nrows = 2 if has_res else 1
    fig = new_figure(13.0 if has_phase else 8.5, 7.4 if has_res else 5.2)
    gs = fig.add_gridspec(nrows, ncols, height_ratios=[3.0, 1.5][:nrows])
    ax_m = fig.add_subplot(gs[0, 0])
    ax_p = fig.add_subplot(gs[0, 1], sharex=ax_m) if has_phase else None
    ax_rm = fig.add_subplot(gs[1, 0], sharex=ax_m) if has_res else None
    ax_rp = fig.add_subplot(gs[1, 1], sharex=ax_m) if (has_res and has_phase) else None
    return _Panels(fig, ax_m, ax_p, ax_rm, ax_rp, k, n_res, window)


def _draw_measured(pn: _Panels, s: BodeSeries) -> _Measured:
    """The measured magnitude (band, error bars, ideal-generator markers, limits as triangles) and phase of one
    series. The returned magnitude is NaN at a limit: it has no residual against a model."""
    f = np.asarray(s.freq_hz, float)
    order = np.argsort(f)
    f = f[order]
    limit = ~value_mask(s.kind, order.size)[order]
    m_all = np.asarray(s.mag_db, float)[order]
    m = np.where(limit, np.nan, m_all)
    um = np.where(limit, np.nan, pn.k * np.asarray(s.mag_u_db, float)[order])
    c = s.c
    band(pn.mag, f, m - um, m + um, c)
    pn.handles.append(pn.mag.errorbar(f, m, yerr=um, fmt="o", ms=4.5, color=c, ecolor=c, elinewidth=1.0,
                                      capsize=2.5, label=f"{s.label} measured"))
    pn.mag_vals += [m - um, m + um]
    if limit.any():
        kind = None if s.kind is None else np.asarray(s.kind)[order]
        pn.handles += draw_limits(pn.mag, f, m_all, kind, c, s.label)
        pn.mag_vals.append(m_all[limit])
    if s.ideal_db is not None:
        pn.handles.append(pn.mag.plot(f, np.asarray(s.ideal_db, float)[order], "D", mfc="none", mec=c, ms=5,
                                      alpha=0.7, label=f"{s.label} ideal-generator assumption")[0])
        pn.mag_vals.append(np.asarray(s.ideal_db, float))
    ph = None
    if pn.phase is not None and s.phase_deg is not None:
        ph = unwrap_deg(np.asarray(s.phase_deg, float)[order])
        up = np.minimum(_phase_uk(pn, s, ph, order), 180.0)
        band(pn.phase, f, ph - up, ph + up, c)
        pn.phase.errorbar(f, ph, yerr=up, fmt="o", ms=4.5, color=c, ecolor=c, elinewidth=1.0, capsize=2.5)
        pn.ph_vals += [ph - up, ph + up]
    return _Measured(f, order, m, um, ph)


def _phase_uk(pn: _Panels, s: BodeSeries, ph: np.ndarray, order: np.ndarray) -> np.ndarray:
    """The k-expanded phase uncertainty of a series, sorted like its points (zero when it has none)."""
    out: np.ndarray = pn.k * np.asarray(s.phase_u_deg if s.phase_u_deg is not None else np.zeros_like(ph),
                                        float)[order]
    return out


def _draw_model(pn: _Panels, s: BodeSeries, mc: ModelCurve, meas: _Measured) -> None:
    """One model's magnitude and phase curves, and its residuals when it has values at the measured points."""
    pn.model_kinds.add(mc.kind)
    style = MODEL_STYLES.get(mc.kind, MODEL_STYLES["fit"])
    cx, cy = trimmed(mc, pn.x_window)
    cm = plot_db(cy)
    mcol = model_color(s.c, mc.kind)
    z = 2.5 if mc.kind == "fit" else 2.2
    pn.handles.append(pn.mag.plot(cx, cm, color=mcol, label=f"{s.label} {mc.label}", zorder=z, **style)[0])
    f = meas.f
    pn.mag_vals.append(cm)
    if pn.phase is not None and np.iscomplexobj(cy) and meas.phase is not None and cx.size:
        cp = align_phase(cx, phase_deg(cy), f, meas.phase)
        pn.phase.plot(cx, cp, color=mcol, zorder=z, **style)
        pn.ph_vals.append(cp)
    if pn.res_mag is not None and mc.y_at is not None:
        _draw_residuals(pn, pn.res_mag, s, mc.y_at, meas, mcol, RESIDUAL_MARKERS.get(mc.kind, RESIDUAL_MARKERS["fit"]))


def _draw_residuals(pn: _Panels, ax: Axes, s: BodeSeries, y_at: np.ndarray, meas: _Measured,
                    color: tuple[float, float, float], marker: dict[str, Any]) -> None:
    """``measured - model`` in dB (and in degrees), offset a little in frequency from the other models'."""
    ya = np.asarray(y_at)[meas.order]
    rm = meas.mag - plot_db(ya)
    fr = meas.f * 10 ** (0.04 * (pn.res_i - (pn.n_res - 1) / 2))  # side by side, not on top of each other
    pn.res_i += 1
    ax.errorbar(fr, rm, yerr=meas.mag_uk, color=color, ecolor=color, elinewidth=0.9, capsize=2, lw=0.9, **marker)
    pn.rm_vals += [rm - meas.mag_uk, rm + meas.mag_uk]
    ph = meas.phase
    if pn.res_phase is not None and ph is not None and np.iscomplexobj(ya):
        rp = wrap_deg(ph - phase_deg(ya))
        up = np.minimum(_phase_uk(pn, s, ph, meas.order), 180.0)
        pn.res_phase.errorbar(fr, rp, yerr=up, color=color, ecolor=color, elinewidth=0.9, capsize=2, lw=0.9,
                              **marker)
        pn.rp_vals += [rp - up, rp + up]


def _finish(pn: _Panels, mag_label: str, phase_label: str, empty: bool) -> None:
    """Axes, labels, limits and legends once everything is drawn."""
    for ax in (a for a in (pn.mag, pn.phase, pn.res_mag, pn.res_phase) if a is not None):
        ax.set_xlim(*pn.x_window)
        eng_hz(ax)
        grid(ax)
    pn.mag.set_ylabel(mag_label)
    fit_ylim(pn.mag, pn.mag_vals, 2.0)
    if pn.phase is not None:
        pn.phase.set_ylabel(phase_label)
        fit_ylim(pn.phase, pn.ph_vals, 2.0)
    if pn.res_mag is None:
        pn.mag.set_xlabel("frequency")
        if pn.phase is not None:
            pn.phase.set_xlabel("frequency")
    else:
        residual_axis(pn.res_mag, "measured − model (dB)", pn.rm_vals, 0.02)
        if pn.res_phase is not None:
            residual_axis(pn.res_phase, "measured − model (deg)", pn.rp_vals, 0.2)
        rh = []  # legend for the residual markers
        if "prediction" in pn.model_kinds:
            rh.append(Line2D([], [], color="0.3", **RESIDUAL_MARKERS["prediction"], label="− prediction"))
        if "fit" in pn.model_kinds:
            rh.append(Line2D([], [], color="0.3", **RESIDUAL_MARKERS["fit"], label="− fit"))
        if rh:
            pn.res_mag.legend(handles=rh, fontsize=8, loc="best", framealpha=0.85)
    pn.handles.append(band_note(pn.k))
    if empty:
        no_data(pn.mag)
    pn.mag.legend(handles=pn.handles, fontsize=8, loc="best", framealpha=0.85)


def overview(gains: Sequence[BodeSeries], cmrrs: Sequence[BodeSeries], *, title: str, subtitle: str = "",
             k: float = 2.0, gain_marks: Sequence[LimitMark] = (), cmrr_marks: Sequence[LimitMark] = ()) -> Figure:
    """One-glance summary: the four mixed-mode gains' magnitudes (left) and the CMRRs (right), all in dB,
    measured (markers, k-expanded band) over the prediction (dashed) and any fit (solid), with the board's
    limits on them (``gain_marks``, ``cmrr_marks``: red lines, fail side shaded)."""
    fig = new_figure(13.0, 6.0)
    ax_g, ax_c = fig.subplots(1, 2)
    figure_title(fig, title, subtitle)
    for ax, group, ylabel, marks in ((ax_g, gains, "|gain| (dB)", gain_marks), (ax_c, cmrrs, "CMRR (dB)", cmrr_marks)):
        _overview_panel(ax, group, ylabel, k, marks)
    ax_g.set_title("mixed-mode gains S = [[Add, Acd], [Adc, Acc]]", fontsize=10)
    ax_c.set_title("CMRR_se,k = |Ad_se,k / Acm_se,k|,  CMRR_diff = |Add / Acd|", fontsize=10)
    return fig


def _overview_panel(ax: Axes, group: Sequence[BodeSeries], ylabel: str, k: float,
                    marks: Sequence[LimitMark]) -> None:
    vals: list[np.ndarray] = []
    window = frequency_window(group)
    kinds_drawn: set[str] = set()
    for s in group:
        f = np.asarray(s.freq_hz, float)
        o = np.argsort(f)
        f, m_all, um = f[o], np.asarray(s.mag_db, float)[o], k * np.asarray(s.mag_u_db, float)[o]
        limit = ~value_mask(s.kind, o.size)[o]
        m, um = np.where(limit, np.nan, m_all), np.where(limit, np.nan, um)
        band(ax, f, m - um, m + um, s.c)
        ax.errorbar(f, m, yerr=um, fmt="o" if s.models else "o-", ms=4, lw=1.0, color=s.c, capsize=2)
        draw_limits(ax, f, m_all, None if s.kind is None else np.asarray(s.kind)[o], s.c, s.label)
        vals += [m_all]
        for mc in s.models:
            cx, cy = trimmed(mc, window)
            ax.plot(cx, plot_db(cy), color=model_color(s.c, mc.kind), zorder=2.5 if mc.kind == "fit" else 2.2,
                    **MODEL_STYLES.get(mc.kind, MODEL_STYLES["fit"]))
            vals.append(plot_db(cy))
            kinds_drawn.add(mc.kind)
    ax.set_xlim(*window)
    eng_hz(ax)
    grid(ax)
    ax.set_xlabel("frequency")
    ax.set_ylabel(ylabel)
    fit_ylim(ax, vals + mark_values(marks, *window), 6.0)
    if group:
        hs = [Line2D([], [], color=s.c, marker="o", ms=4, lw=1.0, label=s.label) for s in group]
        kinds = {str(x) for s in group if s.kind is not None for x in np.asarray(s.kind).reshape(-1)}
        hs += [Line2D([], [], color="0.3", ls="none", marker=marker, mfc="none", ms=6,
                      label=f"{name.replace('_', ' ')} (not resolved)")
               for name, marker in LIMIT_MARKERS.items() if name in kinds]
        hs.append(Line2D([], [], color="0.3", marker="o", ms=4, lw=1.0, label="measured (± 2u shaded)"))
        if "prediction" in kinds_drawn:
            hs.append(Line2D([], [], color="0.3", label="prediction (nominal components)",
                             **MODEL_STYLES["prediction"]))
        if "fit" in kinds_drawn:
            hs.append(Line2D([], [], color="0.3", label="fit", **MODEL_STYLES["fit"]))
        hs += draw_marks(ax, marks, say_shaded=False)  # the caption says it: the legend stays narrow
        ax.legend(handles=hs, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2,
                  framealpha=0.85)
    else:
        no_data(ax)
