"""The common-mode rejection versus the inputs' DC level (a cm-range run's ``cm_gains`` table)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from procedures.report.plots.data import LimitMark
from procedures.report.plots.marks import draw_marks, mark_values
from procedures.report.plots.style import (
    band_note,
    draw_limits,
    figure_title,
    grid,
    new_figure,
    no_data,
    value_mask,
    volts_axis,
)

SERIES = (("CMRR_se1_db", "CMRR_se,1 = |Ad_se,1/Acm_se,1|", "C0", "o"),
          ("CMRR_se2_db", "CMRR_se,2 = |Ad_se,2/Acm_se,2|", "C1", "s"),
          ("CMRR_diff_db", "CMRR_diff = |Add/Acd|", "C2", "D"))


def cmrr_levels(t: Mapping[str, np.ndarray], *, title: str, subtitle: str = "", k: float = 2.0,
                limits: list[tuple[float, str]] | None = None, marks: Sequence[LimitMark] = ()) -> Figure:
    """CMRR_se1, CMRR_se2 and CMRR_diff (dB) versus the input DC level (V), each with k-expanded error bars
    (the archive's standard uncertainties of the dB figures); a figure whose ``<col>_kind`` says it is a limit
    is a hollow triangle (``^`` lower limit) without an error bar; dotted lines at the board's input range; the
    board's CMRR floors (``marks``) as red lines, the fail side shaded."""
    fig = new_figure(9.0, 5.6)
    ax = fig.subplots(1, 1)
    figure_title(fig, title, subtitle)
    x = np.asarray(t.get("bias_v", []), float)
    handles: list[object] = []
    for col, label, color, marker in SERIES:
        if col not in t or not x.size:
            continue
        y_all = np.asarray(t[col], float)
        kind = np.asarray(t[f"{col}_kind"]) if f"{col}_kind" in t else None
        limit = ~value_mask(kind, y_all.size)
        y = np.where(limit, np.nan, y_all)
        u = np.where(limit, np.nan, np.asarray(t.get(f"{col}_u", np.zeros_like(y)), float))
        bars = ax.errorbar(x, y, yerr=k * u, color=color, marker=marker, ms=5, lw=1.2, capsize=3, label=label)
        handles += [bars] if (~limit).any() else []
        handles += draw_limits(ax, x, y_all, kind, color, label.split(" = ")[0])
    if not handles:
        no_data(ax)
    for xv, lab in limits or []:
        ax.axvline(xv, color="0.5", ls=":", lw=1.2)
        ax.text(xv, 0.02, f" {lab}", rotation=90, transform=ax.get_xaxis_transform(), fontsize=7.5, color="0.35",
                va="bottom", ha="right")
    volts_axis(ax, False)
    grid(ax)
    ax.set_xlabel("input common-mode DC level (V)")
    ax.set_ylabel("CMRR (dB)")
    if marks:  # the axis holds the floors, then they are drawn inside it
        y0, y1 = ax.get_ylim()
        v = np.concatenate([np.array([y0, y1]), *mark_values(marks, -np.inf, np.inf)])
        pad = 0.05 * (v.max() - v.min())
        ax.set_ylim(v.min() - pad, v.max() + pad)
        handles += draw_marks(ax, marks)
    ax.legend(handles=[*handles, band_note(k)], fontsize=8, loc="best", framealpha=0.85)
    return fig
