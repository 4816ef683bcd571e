"""What every figure of the report shares: canvas, titles, axes, bands, colours, phase display, saving.

Conventions on every figure (docs/conventions.md): magnitudes in dB (``20 log10 |x|``), phases in degrees,
frequency on a log axis in Hz, and measured uncertainty drawn expanded with coverage factor ``k`` (default
2, about 95 %) as a shaded band around the measured points and as error bars; the legend says so. Models:
the prediction from the board's nominal components is dashed, a fit is solid. Residual panels show
``measured - model`` with the same expanded uncertainty. The module never touches pyplot's global state,
so it is safe in a library, a test or a headless CI job.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg  # the Agg backend, used directly: no pyplot state
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.patches import Patch
from matplotlib.ticker import EngFormatter, LogLocator, NullLocator
from numpy.typing import ArrayLike

from models.mixed_mode import db

DPI = 110
MODEL_STYLES: dict[str, dict[str, Any]] = {"prediction": dict(ls="--", lw=2.0, alpha=0.95),
                                           "fit": dict(ls="-", lw=1.3, alpha=0.95)}
RESIDUAL_MARKERS: dict[str, dict[str, Any]] = {"prediction": dict(marker="o", mfc="white", ms=5, ls=":"),
                                               "fit": dict(marker="s", ms=4, ls="-")}


def plot_db(x: ArrayLike) -> np.ndarray:
    """``20 log10 |x|`` (:func:`models.mixed_mode.db`) with a zero magnitude as NaN: a gap on the plot."""
    d = db(x)
    out: np.ndarray = np.where(d == -np.inf, np.nan, d)
    return out


def wrap_deg(d: ArrayLike) -> np.ndarray:
    """Angles to (-180, 180]."""
    out: np.ndarray = 180.0 - np.mod(180.0 - np.asarray(d, float), 360.0)
    return out


def unwrap_deg(d: ArrayLike) -> np.ndarray:
    """Unwrap a phase sequence (degrees), then shift by 360 so the first finite value lies in (-180, 180]."""
    d = np.asarray(d, float)
    ok = np.isfinite(d)
    if not ok.any():
        return d
    out = d.copy()
    out[ok] = np.degrees(np.unwrap(np.radians(d[ok])))
    first = out[ok][0]
    out[ok] -= 360.0 * np.round((first - wrap_deg(first)) / 360.0)
    return out


def align_phase(curve_x: np.ndarray, curve_deg: np.ndarray, ref_x: np.ndarray, ref_deg: np.ndarray) -> np.ndarray:
    """Unwrap a model's phase curve and shift it by a multiple of 360 degrees to sit on the measured phase."""
    c = unwrap_deg(curve_deg)
    ok = np.isfinite(ref_deg)
    if not ok.any() or not np.isfinite(c).any():
        return c
    i = int(np.argmin(np.abs(np.log10(curve_x[:, None]) - np.log10(ref_x[ok][None, :])).min(axis=1)))
    j = int(np.argmin(np.abs(np.log10(ref_x[ok]) - np.log10(curve_x[i]))))
    out: np.ndarray = c + 360.0 * np.round((ref_deg[ok][j] - c[i]) / 360.0)
    return out


def eng_hz(ax: Axes) -> None:
    """A log frequency axis labelled in Hz with SI prefixes (1-2-5 ticks over a narrow span)."""
    ax.set_xscale("log")
    lo, hi = ax.get_xlim()
    subs = (1.0, 2.0, 5.0) if 0 < lo < hi and hi / lo < 300 else (1.0,)  # narrow sweeps: label 1-2-5
    ax.xaxis.set_major_locator(LogLocator(base=10.0, subs=subs, numticks=15))
    ax.xaxis.set_major_formatter(EngFormatter(unit="Hz", sep=" "))
    minor_log_grid(ax)


def volts_axis(ax: Axes, log: bool) -> None:
    """A volts axis, log (1-2-5 ticks up to three decades) or linear, with SI prefixes."""
    if log:
        ax.set_xscale("log")
        lo, hi = ax.get_xlim()
        if hi / lo < 1e3:  # up to three decades: label 1-2-5
            ax.xaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(EngFormatter(unit="V", sep=" "))
    if log:
        minor_log_grid(ax)


def minor_log_grid(ax: Axes) -> None:
    """Faint vertical lines at 2..9 x 10^n: the minor grid of a log axis, drawn as one collection (minor tick
    objects, one per line per axis, were half the time of a figure)."""
    ax.xaxis.set_minor_locator(NullLocator())
    lo, hi = ax.get_xlim()
    if not (0 < lo < hi):
        return
    locs = [m * 10.0 ** e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
            for m in range(2, 10) if lo <= m * 10.0 ** e <= hi]
    ax.vlines(locs, 0, 1, transform=ax.get_xaxis_transform(), colors="#b0b0b0", alpha=0.3, lw=0.6, zorder=0.5)
    ax.set_xlim(lo, hi)


def grid(ax: Axes) -> None:
    ax.grid(True, which="major", alpha=0.45)


def finite_limits(values: Sequence[np.ndarray | None], pad_frac: float = 0.08,
                  min_span: float = 0.0) -> tuple[float, float] | None:
    """Padded limits around the finite ``values`` (at least ``min_span`` wide); ``None`` if there are none."""
    parts = [np.ravel(np.asarray(a, float)) for a in values if a is not None and np.size(a)]
    v = np.concatenate(parts or [np.array([])])
    v = v[np.isfinite(v)]
    if not v.size:
        return None
    lo, hi = float(v.min()), float(v.max())
    span = max(hi - lo, min_span)
    mid = 0.5 * (lo + hi)
    lo, hi = mid - span / 2, mid + span / 2
    return lo - pad_frac * span, hi + pad_frac * span


def fit_ylim(ax: Axes, values: Sequence[np.ndarray], min_span: float) -> None:
    """Y-limits around the finite ``values`` (at least ``min_span`` tall); left alone when there are none."""
    lim = finite_limits(values, min_span=min_span)
    if lim:
        ax.set_ylim(*lim)


def residual_axis(ax: Axes, label: str, values: Sequence[np.ndarray], min_span: float) -> None:
    """A measured-minus-model panel: frequency axis, label, zero line, limits around the residuals."""
    ax.set_xlabel("frequency")
    ax.set_ylabel(label)
    ax.axhline(0.0, color="0.3", lw=0.8)
    fit_ylim(ax, values, min_span)


def new_figure(width: float, height: float) -> Figure:
    """A figure of ``width`` x ``height`` inches on its own Agg canvas, constrained layout."""
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_title(fig: Figure, text: str, subtitle: str) -> None:
    fig.suptitle(f"{text}\n{subtitle}" if subtitle else text, fontsize=11.5, fontweight="bold")


def band_note(k: float) -> Patch:
    """The legend entry that says what the shading and the error bars are."""
    return Patch(facecolor="0.6", alpha=0.3, label=f"shaded / bars: measured ± {k:g}u (k = {k:g}, ≈95 %)"
                 if k == 2 else f"shaded / bars: measured ± {k:g}u (k = {k:g})")


LIMIT_MARKERS = {"lower_limit": "^", "upper_limit": "v"}
"""A limit point (a dB figure the run could only bound) is a triangle pointing the way it is open."""


def value_mask(kind: np.ndarray | None, n: int) -> np.ndarray:
    """Which of ``n`` points are values (not limits) by their ``kind`` (``None``: all of them)."""
    if kind is None:
        return np.ones(n, bool)
    return np.asarray([str(k) == "value" for k in np.asarray(kind).reshape(-1)], bool)


def draw_limits(ax: Axes, x: np.ndarray, y: np.ndarray, kind: np.ndarray | None, color: Any,
                label: str) -> list[Any]:
    """The limits among the points: a hollow triangle at each (``^`` a lower limit, ``v`` an upper one), no
    error bar; returns the legend handles of those drawn."""
    handles: list[Any] = []
    if kind is None:
        return handles
    k = np.asarray([str(v) for v in np.asarray(kind).reshape(-1)])
    for name, marker in LIMIT_MARKERS.items():
        sel = (k == name) & np.isfinite(y)
        if sel.any():
            what = "lower" if name == "lower_limit" else "upper"
            handles.append(ax.plot(x[sel], y[sel], ls="none", marker=marker, ms=7, mfc="none", mec=color, mew=1.4,
                                   label=f"{label}: {what} limit (not resolved)")[0])
    return handles


def band(ax: Axes, x: np.ndarray, lo: np.ndarray, hi: np.ndarray, color: str, *, log: bool = True,
         max_gap: float = 0.5, alpha: float = 0.22) -> None:
    """Shade ``lo..hi`` along sorted ``x``, only across neighbours closer than ``max_gap`` (decades if ``log``,
    else a fraction of the span): a band across a wide gap would pretend to know the curve in between."""
    x, lo, hi = (np.asarray(a, float) for a in (x, lo, hi))
    if x.size < 2:
        return
    pos = np.log10(np.where(x > 0, x, np.nan)) if log else x
    gap = max_gap if log else max_gap * (np.nanmax(pos) - np.nanmin(pos) or 1.0)
    breaks = np.flatnonzero(~(np.diff(pos) <= gap)) + 1
    for seg in np.split(np.arange(x.size), breaks):
        if seg.size >= 2:
            ax.fill_between(x[seg], lo[seg], hi[seg], color=color, alpha=alpha, lw=0)


def shade(color: str, amount: float) -> tuple[float, float, float]:
    """``color`` mixed with black (``amount`` > 0) or white (< 0): a fit darker, a prediction lighter than the
    measured points of the same quantity."""
    r = np.array(to_rgb(color))
    mixed = (r * (1 - amount)) if amount >= 0 else (r + (1 - r) * (-amount))
    return float(mixed[0]), float(mixed[1]), float(mixed[2])


def model_color(color: str, kind: str) -> tuple[float, float, float]:
    return shade(color, 0.45) if kind == "fit" else shade(color, -0.25)


def footnote(fig: Figure, note: str | None) -> None:
    """A small grey line under the axes (the constrained layout leaves room for it)."""
    if not note:
        return
    engine = fig.get_layout_engine()
    if isinstance(engine, ConstrainedLayoutEngine):  # always: new_figure makes constrained layouts
        engine.set(rect=(0.0, 0.025, 1.0, 0.975))
    fig.text(0.005, 0.004, note, fontsize=7.5, color="0.35", ha="left", va="bottom")


def no_data(ax: Axes, text: str = "no data") -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.4", fontsize=11)


def model_line_color(kind: str) -> str:
    """The colour of a model's line in the panels that draw one quantity: prediction red, fit green."""
    return "C3" if kind == "prediction" else "C2"


def save(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as a PNG at :data:`DPI` and return the path."""
    p = Path(path)
    fig.savefig(p, dpi=DPI, format="png", facecolor="white")
    return p
