"""Board limits drawn on a panel (:class:`procedures.report.plots.data.LimitMark`): the boundary as a red mask
line and the fail side shaded, each artist tagged with the gid ``limit:<pass_fail key>`` so that a test (or
a reader of the figure object) can find what was drawn for which limit."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from procedures.report.plots.data import LimitMark

COLOR = "#c0392b"
"""The colour of a limit: the same red on every figure."""
FAIL_ALPHA = 0.13


def gid(mark: LimitMark) -> str:
    """The gid of every artist drawn for ``mark``."""
    return f"limit:{mark.limit}"


def mark_values(marks: Sequence[LimitMark], x_lo: float, x_hi: float) -> list[np.ndarray]:
    """The finite boundaries of the y-axis marks whose abscissae meet ``x_lo..x_hi``: what a panel's y-limits
    must hold for its limits to show."""
    out = []
    for m in marks:
        if m.axis != "y":
            continue
        a = -math.inf if m.x_lo is None else m.x_lo
        b = math.inf if m.x_hi is None else m.x_hi
        if a <= x_hi and b >= x_lo:
            out.append(np.array([v for v in (m.pass_lo, m.pass_hi) if math.isfinite(v)], float))
    return out


def draw_marks(ax: Axes, marks: Sequence[LimitMark], *, say_shaded: bool = True) -> list[Any]:
    """Draw ``marks`` inside the axes' present limits (which they leave unchanged) and return one legend handle
    per mark drawn (its label says the fail side is shaded when ``say_shaded``). Call it once the panel's
    limits are final."""
    handles: list[Any] = []
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    for m in marks:
        drawn = _draw_y(ax, m, x0, x1, y0, y1) if m.axis == "y" else _draw_x(ax, m, x0, x1, y0, y1)
        if drawn:
            handles.append(Patch(facecolor=COLOR, alpha=0.35, edgecolor=COLOR,
                                 label=m.label + (" (fail side shaded)" if m.axis == "y" and say_shaded else "")))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    return handles


def _draw_y(ax: Axes, m: LimitMark, x0: float, x1: float, y0: float, y1: float) -> bool:
    """A limit on the plotted value over an abscissa span: the boundary line(s), the fail side shaded."""
    a = x0 if m.x_lo is None else max(m.x_lo, x0)
    b = x1 if m.x_hi is None else min(m.x_hi, x1)
    if not a < b:
        return False
    lo_y, hi_y = min(y0, y1), max(y0, y1)
    for bound, edge in ((m.pass_lo, lo_y), (m.pass_hi, hi_y)):
        if not math.isfinite(bound):
            continue
        ax.fill_between([a, b], [edge, edge], [bound, bound], color=COLOR, alpha=FAIL_ALPHA, lw=0, zorder=1.0,
                        gid=gid(m))
        ax.plot([a, b], [bound, bound], color=COLOR, lw=1.8, zorder=2.8, gid=gid(m))
    return True


def _draw_x(ax: Axes, m: LimitMark, x0: float, x1: float, y0: float, y1: float) -> bool:
    """A limit on where the curve crosses zero: dashed lines at both ends of the allowed span and the span
    itself as a thick mask on the zero line."""
    if not (m.pass_lo < x1 and m.pass_hi > x0):
        return False
    for x in (m.pass_lo, m.pass_hi):
        if x0 <= x <= x1:
            ax.plot([x, x], [y0, y1], color=COLOR, lw=1.2, ls="--", zorder=2.8, gid=gid(m))
    ax.plot([max(m.pass_lo, x0), min(m.pass_hi, x1)], [0.0, 0.0], color=COLOR, lw=4.0, alpha=0.6,
            solid_capstyle="butt", zorder=2.6, gid=gid(m))
    return True
