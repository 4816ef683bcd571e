"""The lot report's figures (:mod:`procedures.lot.lot_report`): histograms, run charts, the Bode overlay, the
Pareto of failure causes and the per-bench comparison, drawn on their own Agg canvases
(:func:`procedures.report.plots.style.new_figure`).

matplotlib is imported at the top of this module, so only :mod:`procedures.lot.lot_report` imports it, inside
the function that draws, and ``import procedures`` stays light. Every axis is labelled with its units; a limit
is a dashed red line and the region it fails is shaded red; an outlier (far from the lot) is ringed in black.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from procedures.report.plots.style import eng_hz, figure_title, grid, new_figure, plot_db

Limits = tuple[float | None, float | None]
FAIL_SHADE: dict[str, Any] = dict(color="C3", alpha=0.12, lw=0)
LIMIT_LINE: dict[str, Any] = dict(color="C3", ls="--", lw=1.3)


def _shade_fail(ax: Axes, limits: Limits, *, vertical: bool) -> None:
    """Dashed lines at the limits and the fail side of each shaded, out to the axes' edge."""
    lower, upper = limits
    span = ax.axvspan if vertical else ax.axhspan
    line = ax.axvline if vertical else ax.axhline
    lim = ax.get_xlim() if vertical else ax.get_ylim()
    pts = [v for v in (lower, upper) if v is not None]
    lo = min([lim[0]] + pts)
    hi = max([lim[1]] + pts)
    pad = 0.05 * (hi - lo or 1.0)
    lo, hi = lo - pad, hi + pad
    if lower is not None:
        span(lo, lower, **FAIL_SHADE)
        line(lower, label=f"lower limit {lower:.4g}", **LIMIT_LINE)
    if upper is not None:
        span(upper, hi, **FAIL_SHADE)
        line(upper, label=f"upper limit {upper:.4g}", **LIMIT_LINE)
    (ax.set_xlim if vertical else ax.set_ylim)(lo, hi)


def histogram(values: np.ndarray, limits: Limits, label: str, title: str, subtitle: str) -> Figure:
    """Histogram of a figure's unit values, each value a tick under it, the limits and the fail regions."""
    x = values[np.isfinite(values)]
    fig = new_figure(6.4, 4.0)
    ax = fig.add_subplot()
    bins = int(min(30, max(5, math.ceil(math.sqrt(x.size)) + 2)))
    ax.hist(x, bins=bins, color="C0", alpha=0.75, edgecolor="white", label=f"units (n = {x.size})")
    ax.plot(x, np.zeros_like(x), "|", color="k", ms=14, mew=1.2, label="each unit")
    _shade_fail(ax, limits, vertical=True)
    ax.set_xlabel(label)
    ax.set_ylabel("units per bin (count)")
    grid(ax)
    ax.legend(fontsize=8)
    figure_title(fig, title, subtitle)
    return fig


def run_chart(order: np.ndarray, values: np.ndarray, benches: Sequence[str], limits: Limits, label: str,
              title: str, subtitle: str, outliers: np.ndarray | None = None,
              outlier_band: tuple[float, float] | None = None, serials: Sequence[str] | None = None) -> Figure:
    """A figure's value per unit in test order (``order``: 1 the first unit started), coloured by bench.

    ``outliers``: one bool per unit, the units far from the lot (:func:`procedures.lot.statistics.outliers`),
    ringed in black and labelled with their ``serials`` when given; ``outlier_band``: ``(lower, upper)`` of the
    outlier rule (median -+ 3 x 1.4826 MAD, the figure's units), drawn as thin dash-dot lines."""
    fig = new_figure(7.2, 4.0)
    ax = fig.add_subplot()
    names = sorted(set(benches))
    bench_arr = np.asarray(benches, dtype=object)
    ax.plot(order, values, color="0.6", lw=0.8, zorder=1)
    for k, bench in enumerate(names):
        sel = bench_arr == bench
        ax.plot(order[sel], values[sel], "o", color=f"C{k % 10}", ms=6, label=bench, zorder=2)
    finite = values[np.isfinite(values)]
    if finite.size:
        ax.axhline(float(np.mean(finite)), color="0.3", lw=1.0, ls=":", label=f"lot mean {np.mean(finite):.4g}")
    if outlier_band is not None and all(math.isfinite(b) for b in outlier_band):
        for k, b in enumerate(outlier_band):
            ax.axhline(b, color="0.45", lw=0.8, ls="-.",
                       label="outlier band: median ± 3·1.4826·MAD" if k == 0 else None)
    if outliers is not None and np.any(outliers):
        sel = np.asarray(outliers, bool)
        ax.plot(order[sel], values[sel], "o", ms=13, mfc="none", mec="k", mew=1.6, zorder=3, label="outlier")
        for i in np.flatnonzero(sel):
            if serials is not None:
                ax.annotate(str(serials[int(i)]), (float(order[i]), float(values[i])), textcoords="offset points",
                            xytext=(8, 6), fontsize=8)
    _shade_fail(ax, limits, vertical=False)
    ax.set_xlabel("test order (n-th unit started, by start time; count)")
    ax.set_ylabel(label)
    grid(ax)
    ax.legend(fontsize=8, ncols=2)
    figure_title(fig, title, subtitle)
    return fig


def bode_overlay(curves: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray, bool]],
                 add_band: tuple[float, float, float] | None, cmrr_min: tuple[float, float] | None,
                 title: str, subtitle: str) -> Figure:
    """|Add| and CMRR_se (the lower of the two outputs) in dB versus frequency for every unit, with the mask.

    ``curves``: ``(serial, frequency_hz, Add (complex), CMRR_se in dB, passed)``; ``add_band``: ``(frequency,
    lower, upper)`` of the |Add| limit (V/V); ``cmrr_min``: ``(minimum in dB, up to this frequency)``."""
    fig = new_figure(7.2, 6.4)
    ax_add, ax_cm = fig.subplots(2, 1, sharex=True)
    for _serial, f, add, cmrr, passed in curves:
        style = dict(color="C0" if passed else "C3", lw=1.0 if passed else 1.6, alpha=0.6 if passed else 0.95,
                     marker=".", ms=4)
        ax_add.plot(f, plot_db(add), **style)
        ax_cm.plot(f, cmrr, **style)
    ax_add.plot([], [], color="C0", label="unit that passed")
    ax_add.plot([], [], color="C3", label="unit that failed")
    if add_band is not None:
        f0, lo, hi = add_band
        ax_add.errorbar([f0], [0.5 * (plot_db(lo) + plot_db(hi))], yerr=[0.5 * (plot_db(hi) - plot_db(lo))],
                        color="C3", capsize=8, lw=2.0, ls="none", label=f"|Add| limits at {f0:g} Hz")
    if cmrr_min is not None:
        level, f_max = cmrr_min
        ax_cm.hlines(level, 0, f_max, **LIMIT_LINE, label=f"CMRR_se minimum {level:g} dB up to {f_max:g} Hz")
        lo_y = min(ax_cm.get_ylim()[0], level - 3.0)
        ax_cm.fill_between([0.0, f_max], lo_y, level, **FAIL_SHADE)
        ax_cm.set_ylim(bottom=lo_y)
    freqs = np.concatenate([c[1] for c in curves]) if curves else np.array([1.0, 10.0])
    freqs = freqs[np.isfinite(freqs) & (freqs > 0)]
    ax_cm.set_xlim(float(freqs.min()) / 1.5, float(freqs.max()) * 1.5)
    eng_hz(ax_cm)
    ax_cm.set_xlabel("frequency (Hz)")
    ax_add.set_ylabel("|Add| (dB re 1 V/V)")
    ax_cm.set_ylabel("CMRR_se, lower output (dB)")
    for ax in (ax_add, ax_cm):
        grid(ax)
        ax.legend(fontsize=8)
    figure_title(fig, title, subtitle)
    return fig


def pareto(counts: Mapping[str, int], title: str, subtitle: str,
           xlabel: str = "cause (limit failed, or unit not measured)") -> Figure:
    """Bars of failed units per cause (in the order given: largest first), and the cumulative percentage on the
    right axis; ``xlabel`` says what the causes are."""
    names = list(counts)
    n = np.array([counts[k] for k in names], float)
    fig = new_figure(7.2, 4.2)
    ax = fig.add_subplot()
    pos = np.arange(len(names))
    ax.bar(pos, n, color="C3", alpha=0.8)
    ax.set_xticks(pos, names, rotation=20, ha="right", fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("units (count)")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    cum = ax.twinx()
    total = float(n.sum()) or 1.0
    cum.plot(pos, 100.0 * np.cumsum(n) / total, "o-", color="0.2")
    cum.set_ylim(0, 105)
    cum.set_ylabel("cumulative share of failures (%)")
    grid(ax)
    figure_title(fig, title, subtitle)
    return fig


def bench_comparison(values: np.ndarray, benches: Sequence[str], limits: Limits, label: str, title: str,
                     subtitle: str) -> Figure:
    """A box per bench with its units as points, its mean (diamond) and mean ± 1 sigma (bar), and the limits."""
    names = sorted(set(benches))
    bench_arr = np.asarray(benches, dtype=object)
    groups = [values[(bench_arr == b) & np.isfinite(values)] for b in names]
    fig = new_figure(6.4, 4.0)
    ax = fig.add_subplot()
    pos = np.arange(1, len(names) + 1)
    ax.boxplot(groups, positions=pos, widths=0.5, showfliers=False)
    rng = np.random.default_rng(0)  # jitter only: fixed, so the same lot draws the same figure
    for k, g in enumerate(groups):
        ax.plot(pos[k] + rng.uniform(-0.12, 0.12, g.size), g, "o", color=f"C{k % 10}", ms=5, alpha=0.8)
        if g.size:
            sd = float(np.std(g, ddof=1)) if g.size > 1 else 0.0
            ax.errorbar([pos[k] + 0.32], [float(np.mean(g))], yerr=[sd], fmt="D", color="k", capsize=4, ms=6)
    ax.errorbar([], [], yerr=[], fmt="D", color="k", capsize=4, label="bench mean ± 1 sigma")
    _shade_fail(ax, limits, vertical=False)
    ax.set_xticks(pos, [f"{b}\n(n = {g.size})" for b, g in zip(names, groups)])
    ax.set_xlabel("bench")
    ax.set_ylabel(label)
    grid(ax)
    ax.legend(fontsize=8)
    figure_title(fig, title, subtitle)
    return fig
