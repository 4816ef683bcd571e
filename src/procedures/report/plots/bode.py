"""Figures of a run report: Bode plots, gain and THD versus drive, the DC transfer curve.

Every function takes plain numbers (numpy arrays, the small dataclasses below) and returns a
:class:`matplotlib.figure.Figure` drawn on the Agg canvas; :func:`save` writes it as a PNG. Nothing here
reads archives or knows about fits: :mod:`procedures.report.report` prepares the data. matplotlib is imported here
and only here (plus the report), so ``import procedures`` stays light; the module never touches pyplot's
global state, so it is safe in a library, a test or a headless CI job.

Conventions on every figure (docs/conventions.md): magnitudes in dB (``20 log10 |x|``), phases in degrees, frequency
on a log axis in Hz, and measured uncertainty drawn expanded with coverage factor ``k`` (default 2, about
95 %) as a shaded band around the measured points and as error bars; the legend says so. Models: the
prediction from the board's nominal components is dashed, a fit is solid. Residual panels show
``measured - model`` with the same expanded uncertainty.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg  # the Agg backend, used directly: no pyplot state
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import EngFormatter, FuncFormatter, LogLocator, NullFormatter, NullLocator

DPI = 110
COLORS = {"Add": "C0", "Acc": "C1", "Acd": "C2", "Adc": "C3",
          "CMRR_se1": "C0", "CMRR_se2": "C1", "CMRR_diff": "C2", "Add_over_Acc": "C4",
          "vod": "C0", "vo1": "C1", "vo2": "C2"}
MODEL_STYLES = {"prediction": dict(ls="--", lw=2.0, alpha=0.95), "fit": dict(ls="-", lw=1.3, alpha=0.95)}
RESIDUAL_MARKERS = {"prediction": dict(marker="o", mfc="white", ms=5, ls=":"),
                    "fit": dict(marker="s", ms=4, ls="-")}


# --------------------------------------------------------------------------------------------------------
# Data handed to the plotting functions

@dataclass
class ModelCurve:
    """A model's curve (dense ``x``) and its values at the measured points (for the residual panels).

    ``kind`` is ``"prediction"`` (nominal components) or ``"fit"``; ``y`` is what the panel shows (complex
    gain for Bode plots: magnitude and phase are taken from it; real numbers elsewhere). ``y_at`` are the
    model's values at the measured ``x`` (same kind), or ``None`` if unavailable.
    """

    label: str
    kind: str
    x: np.ndarray
    y: np.ndarray
    y_at: np.ndarray | None = None


@dataclass
class BodeSeries:
    """One measured quantity versus frequency: magnitude in dB and phase in degrees, with standard uncertainties.

    ``mag_u_db`` is the standard uncertainty (k = 1) of the magnitude in dB; ``phase_u_deg`` that of the
    phase. The plot draws ``k`` times them. ``ideal_db`` is an optional comparison figure (the same quantity
    under an ideal-generator assumption), drawn as hollow grey markers.
    """

    name: str
    label: str
    freq_hz: np.ndarray
    mag_db: np.ndarray
    mag_u_db: np.ndarray
    phase_deg: np.ndarray | None = None
    phase_u_deg: np.ndarray | None = None
    models: list[ModelCurve] = field(default_factory=list)
    ideal_db: np.ndarray | None = None
    color: str | None = None

    @property
    def c(self) -> str:
        return self.color or COLORS.get(self.name, "C0")


# --------------------------------------------------------------------------------------------------------
# Helpers

def db(x: np.ndarray) -> np.ndarray:
    """``20 log10 |x|`` (NaN for 0)."""
    a = np.abs(np.asarray(x))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a > 0, 20.0 * np.log10(np.where(a > 0, a, 1.0)), np.nan)


def wrap_deg(d: np.ndarray) -> np.ndarray:
    """Angles to (-180, 180]."""
    return 180.0 - np.mod(180.0 - np.asarray(d, float), 360.0)


def unwrap_deg(d: np.ndarray) -> np.ndarray:
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
    return c + 360.0 * np.round((ref_deg[ok][j] - c[i]) / 360.0)


def _eng_hz(ax) -> None:
    ax.set_xscale("log")
    lo, hi = ax.get_xlim()
    subs = (1.0, 2.0, 5.0) if 0 < lo < hi and hi / lo < 300 else (1.0,)  # narrow sweeps: label 1-2-5
    ax.xaxis.set_major_locator(LogLocator(base=10.0, subs=subs, numticks=15))
    ax.xaxis.set_major_formatter(EngFormatter(unit="Hz", sep=" "))
    _minor_log_grid(ax)


def _minor_log_grid(ax) -> None:
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


def _grid(ax) -> None:
    ax.grid(True, which="major", alpha=0.45)


def _finite_limits(values: Sequence[np.ndarray], pad_frac: float = 0.08, min_span: float = 0.0) -> tuple[float, float] | None:
    v = np.concatenate([np.ravel(np.asarray(a, float)) for a in values if a is not None and np.size(a)] or [np.array([])])
    v = v[np.isfinite(v)]
    if not v.size:
        return None
    lo, hi = float(v.min()), float(v.max())
    span = max(hi - lo, min_span)
    mid = 0.5 * (lo + hi)
    lo, hi = mid - span / 2, mid + span / 2
    return lo - pad_frac * span, hi + pad_frac * span


def _fit_ylim(ax: Axes, values: Sequence[np.ndarray], min_span: float) -> None:
    """Y-limits around the finite ``values`` (at least ``min_span`` tall); left alone when there are none."""
    lim = _finite_limits(values, min_span=min_span)
    if lim:
        ax.set_ylim(*lim)


def _residual_axis(ax: Axes, label: str, values: Sequence[np.ndarray], min_span: float) -> None:
    """A measured-minus-model panel: frequency axis, label, zero line, limits around the residuals."""
    ax.set_xlabel("frequency")
    ax.set_ylabel(label)
    ax.axhline(0.0, color="0.3", lw=0.8)
    _fit_ylim(ax, values, min_span)


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _title(fig: Figure, title: str, subtitle: str) -> None:
    fig.suptitle(f"{title}\n{subtitle}" if subtitle else title, fontsize=11.5, fontweight="bold")


def _band_note(k: float) -> Patch:
    return Patch(facecolor="0.6", alpha=0.3, label=f"shaded / bars: measured ± {k:g}u (k = {k:g}, ≈95 %)"
                 if k == 2 else f"shaded / bars: measured ± {k:g}u (k = {k:g})")


def band(ax, x: np.ndarray, lo: np.ndarray, hi: np.ndarray, color: str, *, log: bool = True,
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
    from matplotlib.colors import to_rgb

    r = np.array(to_rgb(color))
    return tuple((r * (1 - amount)) if amount >= 0 else (r + (1 - r) * (-amount)))  # type: ignore[return-value]


def model_color(color: str, kind: str) -> tuple[float, float, float]:
    return shade(color, 0.45) if kind == "fit" else shade(color, -0.25)


def _footnote(fig: Figure, note: str | None) -> None:
    """A small grey line under the axes (the constrained layout leaves room for it)."""
    if not note:
        return
    fig.get_layout_engine().set(rect=(0.0, 0.025, 1.0, 0.975))
    fig.text(0.005, 0.004, note, fontsize=7.5, color="0.35", ha="left", va="bottom")


def _no_data(ax, text: str = "no data") -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.4", fontsize=11)


def save(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as a PNG at :data:`DPI` and return the path."""
    p = Path(path)
    fig.savefig(p, dpi=DPI, format="png", facecolor="white")
    return p


def _model_label(m: ModelCurve) -> str:
    return m.label


# --------------------------------------------------------------------------------------------------------
# Bode plots

def bode(series: Sequence[BodeSeries], *, title: str, subtitle: str = "", mag_label: str = "magnitude (dB)",
         phase_label: str = "phase (deg)", k: float = 2.0, residuals: bool = True,
         note: str | None = None) -> Figure:
    """Bode plot of one or more measured quantities with their models.

    Top row: magnitude (dB) and phase (degrees) against frequency on a log axis: measured points with
    ``k``-expanded error bars and shaded band, prediction dashed, fit solid. Bottom row (if any model has
    values at the measured frequencies and ``residuals``): ``measured - model`` in dB and in degrees, with
    the measured ``k``-expanded uncertainty as error bars.
    """
    has_phase = any(s.phase_deg is not None and np.isfinite(s.phase_deg).any() for s in series)
    has_res = residuals and any(m.y_at is not None for s in series for m in s.models)
    ncols = 2 if has_phase else 1
    nrows = 2 if has_res else 1
    fig = _new_figure(13.0 if has_phase else 8.5, 7.4 if has_res else 5.2)
    gs = fig.add_gridspec(nrows, ncols, height_ratios=[3.0, 1.5][:nrows])
    ax_m = fig.add_subplot(gs[0, 0])
    ax_p = fig.add_subplot(gs[0, 1], sharex=ax_m) if has_phase else None
    ax_rm = fig.add_subplot(gs[1, 0], sharex=ax_m) if has_res else None
    ax_rp = fig.add_subplot(gs[1, 1], sharex=ax_m) if (has_res and has_phase) else None
    _title(fig, title, subtitle)

    mag_vals, ph_vals, rm_vals, rp_vals = [], [], [], []
    handles: list = []
    any_model_kinds: set[str] = set()
    n_res = sum(1 for s in series for mc in s.models if mc.y_at is not None)
    res_i = 0
    for s in series:
        f = np.asarray(s.freq_hz, float)
        order = np.argsort(f)
        f = f[order]
        m = np.asarray(s.mag_db, float)[order]
        um = k * np.asarray(s.mag_u_db, float)[order]
        c = s.c
        band(ax_m, f, m - um, m + um, c)
        h = ax_m.errorbar(f, m, yerr=um, fmt="o", ms=4.5, color=c, ecolor=c, elinewidth=1.0, capsize=2.5,
                          label=f"{s.label} measured")
        handles.append(h)
        mag_vals += [m - um, m + um]
        if s.ideal_db is not None:
            hi = ax_m.plot(f, np.asarray(s.ideal_db, float)[order], "D", mfc="none", mec=c, ms=5, alpha=0.7,
                           label=f"{s.label} ideal-generator assumption")[0]
            handles.append(hi)
            mag_vals.append(np.asarray(s.ideal_db, float))
        ph = None
        if ax_p is not None and s.phase_deg is not None:
            ph = unwrap_deg(np.asarray(s.phase_deg, float)[order])
            up = k * np.asarray(s.phase_u_deg if s.phase_u_deg is not None else np.zeros_like(ph), float)[order]
            up = np.minimum(up, 180.0)
            band(ax_p, f, ph - up, ph + up, c)
            ax_p.errorbar(f, ph, yerr=up, fmt="o", ms=4.5, color=c, ecolor=c, elinewidth=1.0, capsize=2.5)
            ph_vals += [ph - up, ph + up]
        for mc in s.models:
            any_model_kinds.add(mc.kind)
            style = MODEL_STYLES.get(mc.kind, MODEL_STYLES["fit"])
            cx = np.asarray(mc.x, float)
            co = np.argsort(cx)
            cx = cx[co]
            cy = np.asarray(mc.y)[co]
            cm = db(cy)
            mcol = model_color(c, mc.kind)
            hm = ax_m.plot(cx, cm, color=mcol, label=f"{s.label} {_model_label(mc)}", zorder=2.5 if mc.kind == "fit" else 2.2,
                           **style)[0]
            handles.append(hm)
            in_range = (cx >= f.min() / 1.5) & (cx <= f.max() * 1.5) if f.size else np.ones_like(cx, bool)
            mag_vals.append(cm[in_range])
            cp = None
            if ax_p is not None and np.iscomplexobj(cy) and ph is not None:
                cp = align_phase(cx, np.degrees(np.angle(cy)), f, ph)
                ax_p.plot(cx, cp, color=mcol, zorder=2.5 if mc.kind == "fit" else 2.2, **style)
                ph_vals.append(cp[in_range])
            if has_res and mc.y_at is not None:
                ya = np.asarray(mc.y_at)[order]
                rm = m - db(ya)
                rstyle = RESIDUAL_MARKERS.get(mc.kind, RESIDUAL_MARKERS["fit"])
                fr = f * 10 ** (0.04 * (res_i - (n_res - 1) / 2))  # side by side, not on top of each other
                res_i += 1
                ax_rm.errorbar(fr, rm, yerr=um, color=mcol, ecolor=mcol, elinewidth=0.9, capsize=2, lw=0.9, **rstyle)
                rm_vals += [rm - um, rm + um]
                if ax_rp is not None and ph is not None and np.iscomplexobj(ya):
                    rp = wrap_deg(ph - np.degrees(np.angle(ya)))
                    up = k * np.asarray(s.phase_u_deg if s.phase_u_deg is not None else np.zeros_like(ph), float)[order]
                    ax_rp.errorbar(fr, rp, yerr=np.minimum(up, 180.0), color=mcol, ecolor=mcol, elinewidth=0.9,
                                   capsize=2, lw=0.9, **rstyle)
                    rp_vals += [rp - np.minimum(up, 180), rp + np.minimum(up, 180)]

    # axes cosmetics
    for ax in (a for a in (ax_m, ax_p, ax_rm, ax_rp) if a is not None):
        _eng_hz(ax)
        _grid(ax)
    ax_m.set_ylabel(mag_label)
    _fit_ylim(ax_m, mag_vals, 2.0)
    if ax_p is not None:
        ax_p.set_ylabel(phase_label)
        _fit_ylim(ax_p, ph_vals, 2.0)
    if ax_rm is None:
        ax_m.set_xlabel("frequency")
        if ax_p is not None:
            ax_p.set_xlabel("frequency")
    else:
        _residual_axis(ax_rm, "measured − model (dB)", rm_vals, 0.02)
        if ax_rp is not None:
            _residual_axis(ax_rp, "measured − model (deg)", rp_vals, 0.2)
        # legend for the residual markers
        rh = []
        if "prediction" in any_model_kinds:
            rh.append(Line2D([], [], color="0.3", **RESIDUAL_MARKERS["prediction"], label="− prediction"))
        if "fit" in any_model_kinds:
            rh.append(Line2D([], [], color="0.3", **RESIDUAL_MARKERS["fit"], label="− fit"))
        if rh:
            ax_rm.legend(handles=rh, fontsize=8, loc="best", framealpha=0.85)
    handles.append(_band_note(k))
    if not series:
        _no_data(ax_m)
    ax_m.legend(handles=handles, fontsize=8, loc="best", framealpha=0.85)
    _footnote(fig, note)
    return fig


def overview(gains: Sequence[BodeSeries], cmrrs: Sequence[BodeSeries], *, title: str, subtitle: str = "",
             k: float = 2.0) -> Figure:
    """One-glance summary: the four mixed-mode gains' magnitudes (left) and the CMRRs (right), all in dB,
    measured (markers, k-expanded band) over the prediction (dashed)."""
    fig = _new_figure(13.0, 6.0)
    ax_g, ax_c = fig.subplots(1, 2)
    _title(fig, title, subtitle)
    for ax, group, ylabel in ((ax_g, gains, "|gain| (dB)"), (ax_c, cmrrs, "CMRR (dB)")):
        vals = []
        for s in group:
            f = np.asarray(s.freq_hz, float)
            o = np.argsort(f)
            f, m, um = f[o], np.asarray(s.mag_db, float)[o], k * np.asarray(s.mag_u_db, float)[o]
            band(ax, f, m - um, m + um, s.c)
            ax.errorbar(f, m, yerr=um, fmt="o-", ms=4, lw=1.0, color=s.c, capsize=2)
            vals += [m]
            for mc in s.models:
                if mc.kind != "prediction":
                    continue
                cx = np.asarray(mc.x, float)
                ax.plot(cx, db(mc.y), color=s.c, **MODEL_STYLES["prediction"])
                vals.append(db(mc.y)[(cx >= f.min() / 1.5) & (cx <= f.max() * 1.5)] if f.size else db(mc.y))
        _eng_hz(ax)
        _grid(ax)
        ax.set_xlabel("frequency")
        ax.set_ylabel(ylabel)
        _fit_ylim(ax, vals, 6.0)
        if group:
            hs = [Line2D([], [], color=s.c, marker="o", ms=4, lw=1.0, label=s.label) for s in group]
            hs += [Line2D([], [], color="0.3", marker="o", ms=4, lw=1.0, label="measured (± 2u shaded)"),
                   Line2D([], [], color="0.3", label="prediction (nominal components)", **MODEL_STYLES["prediction"])]
            ax.legend(handles=hs, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3,
                      framealpha=0.85)
        else:
            _no_data(ax)
    ax_g.set_title("mixed-mode gains S = [[Add, Acd], [Adc, Acc]]", fontsize=10)
    ax_c.set_title("CMRR_se,k = |Ad_se,k / Acm_se,k|,  CMRR_diff = |Add / Acd|", fontsize=10)
    return fig


# --------------------------------------------------------------------------------------------------------
# Gain and THD versus a sweep variable (drive amplitude or input DC level)

@dataclass
class SweepData:
    """Differential gain and THD versus a sweep variable.

    ``x`` in volts; ``gain`` complex Add; ``gain_u`` its magnitude's standard uncertainty (linear);
    ``thd`` as a ratio (NaN where unknown); ``gain_models`` / ``thd_models``: model curves (``y`` is |Add|
    linear or complex for gain, a ratio for THD).
    """

    x: np.ndarray
    gain: np.ndarray
    gain_u: np.ndarray
    thd: np.ndarray
    gain_models: list[ModelCurve] = field(default_factory=list)
    thd_models: list[ModelCurve] = field(default_factory=list)
    x_label: str = "differential input amplitude v_id (V peak)"
    x_log: bool = True
    limits: list[tuple[float, str]] = field(default_factory=list)  # vertical lines (x, label)
    reference_gain: float | None = None  # |Add| the compression is relative to (draws the -1 dB line)


def _volts_axis(ax, log: bool) -> None:
    if log:
        ax.set_xscale("log")
        lo, hi = ax.get_xlim()
        if hi / lo < 1e3:  # up to three decades: label 1-2-5
            ax.xaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(EngFormatter(unit="V", sep=" "))
    if log:
        _minor_log_grid(ax)


def compression_point(x: np.ndarray, gain_db: np.ndarray, level_db: float) -> float | None:
    """First ``x`` (sorted ascending) where ``gain_db`` falls to ``level_db``, interpolated linearly in
    log x between the two points around the crossing; ``None`` if it never does."""
    x, g = np.asarray(x, float), np.asarray(gain_db, float)
    below = np.flatnonzero(g <= level_db)
    if not below.size or below[0] == 0:
        return None
    i = int(below[0])
    x0, x1, g0, g1 = x[i - 1], x[i], g[i - 1], g[i]
    if not (x0 > 0 and x1 > 0) or g0 == g1:
        return float(x1)
    t = (g0 - level_db) / (g0 - g1)
    return float(10 ** (np.log10(x0) + t * (np.log10(x1) - np.log10(x0))))


def gain_thd(d: SweepData, *, title: str, subtitle: str = "", k: float = 2.0, frequency_hz: float | None = None) -> Figure:
    """Left: |Add| in dB versus the sweep variable (measured with k-expanded band, models, the -1 dB
    compression line); right: THD of vod in percent on a log axis (with a dB scale on the right)."""
    fig = _new_figure(13.0, 5.6)
    ax_g, ax_t = fig.subplots(1, 2)
    _title(fig, title, subtitle)
    x = np.asarray(d.x, float)
    o = np.argsort(x)
    x = x[o]
    g = np.abs(np.asarray(d.gain))[o]
    gu = np.asarray(d.gain_u, float)[o]
    gdb = db(g)
    with np.errstate(divide="ignore", invalid="ignore"):
        udb = 20.0 / math.log(10) * gu / g
    handles = []
    if x.size:
        band(ax_g, x, gdb - k * udb, gdb + k * udb, "C0", log=d.x_log, max_gap=0.5 if d.x_log else 0.2)
        handles.append(ax_g.errorbar(x, gdb, yerr=k * udb, fmt="o", ms=5, color="C0", capsize=2.5,
                                     label="|Add| measured"))
    vals = [gdb]
    for mc in d.gain_models:
        style = MODEL_STYLES.get(mc.kind, MODEL_STYLES["fit"])
        cx = np.asarray(mc.x, float)
        handles.append(ax_g.plot(cx, db(mc.y), color="C3" if mc.kind == "prediction" else "C2",
                                 label=f"|Add| {mc.label}", **style)[0])
        vals.append(db(mc.y))
    if d.reference_gain:
        ref = db(np.array([d.reference_gain]))[0]
        p1 = compression_point(x, gdb, ref - 1.0)
        where = f", reached at {EngFormatter(unit='V', sep=' ', places=1)(p1)} peak" if p1 is not None else ", not reached"
        handles.append(ax_g.axhline(ref - 1.0, color="0.35", ls="-.", lw=1.0,
                                    label=f"1 dB compression ({ref - 1:.2f} dB){where}"))
        if p1 is not None:
            ax_g.plot([p1], [ref - 1.0], marker="v", ms=9, color="0.2", zorder=3)
        vals.append(np.array([ref - 1.5]))
    handles.append(_band_note(k))
    ax_g.set_ylabel("|Add| (dB)")
    _fit_ylim(ax_g, vals, 1.0)
    # THD
    t = np.asarray(d.thd, float)[o]
    pct = 100.0 * t
    th = []
    okt = np.isfinite(pct) & (pct > 0)
    if okt.any():
        th.append(ax_t.plot(x[okt], pct[okt], "o", ms=5, color="C0", label="THD of vod measured")[0])
    tv = [pct[okt]]
    for mc in d.thd_models:
        style = MODEL_STYLES.get(mc.kind, MODEL_STYLES["fit"])
        y = 100.0 * np.asarray(mc.y, float)
        ok = np.isfinite(y) & (y > 0)
        th.append(ax_t.plot(np.asarray(mc.x, float)[ok], y[ok], color="C3" if mc.kind == "prediction" else "C2",
                            label=f"THD {mc.label}", **style)[0])
        tv.append(y[ok])
    ax_t.set_ylabel("THD of vod (%)")
    lim = _finite_limits([np.log10(a) for a in tv if np.size(a)], pad_frac=0.1, min_span=0.3)
    if lim and lim[1] - lim[0] > 1.0:  # more than a decade: log axis
        ax_t.set_yscale("log")
        ax_t.set_ylim(10 ** lim[0], 10 ** lim[1])
        pct_fmt = FuncFormatter(lambda v, _: f"{v:g}")
        ax_t.yaxis.set_major_formatter(pct_fmt)
        ax_t.yaxis.set_minor_formatter(NullFormatter())
    else:
        lin = _finite_limits(tv, pad_frac=0.15, min_span=0.0)
        if lin:  # less than a decade: a linear axis from 0, so that noise on a flat THD does not look like a trend
            ax_t.set_ylim(0.0, lin[1] * 1.15)
    # a dBc scale on the right: a twin axis with the same limits in 20 log10(THD)
    lo_p, hi_p = ax_t.get_ylim()
    if lo_p >= 0 and hi_p > lo_p and (lo_p > 0 or ax_t.get_yscale() == "linear"):
        tw = ax_t.twinx()
        if ax_t.get_yscale() == "log":
            tw.set_ylim(20 * np.log10(lo_p / 100.0), 20 * np.log10(hi_p / 100.0))
        else:  # dB is not linear in %: label the twin at the % ticks instead
            ticks = [t for t in ax_t.get_yticks() if lo_p < t < hi_p]
            tw.set_ylim(lo_p, hi_p)
            tw.set_yticks(ticks)
            tw.set_yticklabels([f"{20 * np.log10(t / 100.0):.1f}" for t in ticks])
        tw.set_ylabel("THD (dBc)")
    for ax in (ax_g, ax_t):
        _volts_axis(ax, d.x_log)
        _grid(ax)
        ax.set_xlabel(d.x_label)
        for xv, lab in d.limits:
            if x.size and not (x.min() - 0.6 * np.ptp(x) - 1e-12 <= xv <= x.max() + 0.6 * np.ptp(x) + 1e-12 if not d.x_log
                               else x.min() / 2.5 <= xv <= x.max() * 2.5):
                continue  # far beyond the sweep: the page's table says it
            ax.axvline(xv, color="0.5", ls=":", lw=1.2)
            ax.text(xv, 0.02, f" {lab}", rotation=90, transform=ax.get_xaxis_transform(), fontsize=7.5,
                    color="0.35", va="bottom", ha="right")
    if not x.size:
        _no_data(ax_g)
        _no_data(ax_t)
    if th:
        ax_t.legend(handles=th, fontsize=8, loc="best", framealpha=0.85)
    ax_g.legend(handles=handles, fontsize=8, loc="best", framealpha=0.85)
    ax_g.set_title("differential gain at the fundamental" + (f", {frequency_hz:g} Hz" if frequency_hz else ""),
                   fontsize=10)
    ax_t.set_title("total harmonic distortion of vod = vo1 − vo2", fontsize=10)
    return fig


# --------------------------------------------------------------------------------------------------------
# DC transfer

@dataclass
class DcData:
    """DC transfer: measured vid, vod (with standard uncertainties), vo1, vo2; model curves for vod (and
    vo1/vo2 under the prediction); the offset and slope from the archive's summary."""

    vid: np.ndarray
    vid_u: np.ndarray
    vod: np.ndarray
    vod_u: np.ndarray
    vo1: np.ndarray
    vo2: np.ndarray
    vod_models: list[ModelCurve] = field(default_factory=list)
    vo_models: dict[str, ModelCurve] = field(default_factory=dict)  # "vo1", "vo2": predictions
    offset_v: float | None = None
    slope: float | None = None
    saturation: list[tuple[float, float]] = field(default_factory=list)  # vid spans where the model says a device saturates


def dc_transfer(d: DcData, *, title: str, subtitle: str = "", k: float = 2.0) -> Figure:
    """Four panels: vod(vid) with models, offset and slope; vo1 and vo2 (vid); ``vod - model`` (mV); and the
    incremental gain dvod/dvid (finite differences of the measured points) against the model's."""
    fig = _new_figure(13.0, 8.6)
    (ax_t, ax_o), (ax_r, ax_s) = fig.subplots(2, 2, sharex=True)
    _title(fig, title, subtitle)
    o = np.argsort(np.asarray(d.vid, float))
    vid, vid_u = np.asarray(d.vid, float)[o], np.asarray(d.vid_u, float)[o]
    vod, vod_u = np.asarray(d.vod, float)[o], np.asarray(d.vod_u, float)[o]
    vo1, vo2 = np.asarray(d.vo1, float)[o], np.asarray(d.vo2, float)[o]
    h = []
    if vid.size:
        h.append(ax_t.errorbar(vid, vod, xerr=k * vid_u, yerr=k * vod_u, fmt="o", ms=4, color="C0", capsize=2,
                               label="vod measured"))
    for mc in d.vod_models:
        h.append(ax_t.plot(mc.x, mc.y, color="C3" if mc.kind == "prediction" else "C2",
                           label=f"vod {mc.label}", **MODEL_STYLES.get(mc.kind, MODEL_STYLES["fit"]))[0])
    if d.offset_v is not None and math.isfinite(d.offset_v):
        h.append(ax_t.plot([d.offset_v], [0.0], "kx", ms=10, mew=2,
                           label=f"input offset {d.offset_v * 1e3:.3f} mV (vod = 0)")[0])
        if d.slope is not None and math.isfinite(d.slope) and vid.size:
            span = 0.25 * (vid.max() - vid.min())
            xs = np.array([d.offset_v - span / 2, d.offset_v + span / 2])
            h.append(ax_t.plot(xs, d.slope * (xs - d.offset_v), "k-", lw=2.2, alpha=0.6,
                               label=f"slope at the offset {d.slope:.4g} V/V")[0])
    for lo, hi in d.saturation:
        for ax in (ax_t, ax_o, ax_r, ax_s):
            ax.axvspan(lo, hi, color="orange", alpha=0.10, lw=0)
    if d.saturation:
        h.append(Patch(facecolor="orange", alpha=0.25, label="model: a device leaves its active region"))
    h.append(_band_note(k))
    ax_t.set_ylabel("vod = vo1 − vo2 (V)")
    ax_t.axhline(0, color="0.3", lw=0.7)
    ax_t.axvline(0, color="0.3", lw=0.7)
    ax_t.legend(handles=h, fontsize=8, loc="lower left", framealpha=0.85)
    ax_t.set_title("differential DC transfer", fontsize=10)
    # single-ended outputs
    ho = []
    if vid.size:
        ho.append(ax_o.plot(vid, vo1, "o", ms=4, color=COLORS["vo1"], label="vo1 measured")[0])
        ho.append(ax_o.plot(vid, vo2, "s", ms=4, color=COLORS["vo2"], label="vo2 measured")[0])
    for name, mc in d.vo_models.items():
        ho.append(ax_o.plot(mc.x, mc.y, color=COLORS.get(name, "C5"), label=f"{name} {mc.label}",
                            **MODEL_STYLES.get(mc.kind, MODEL_STYLES["fit"]))[0])
    ax_o.set_ylabel("output DC level (V)")
    ax_o.set_title("single-ended outputs", fontsize=10)
    if ho:
        ax_o.legend(handles=ho, fontsize=8, loc="best", framealpha=0.85)
    # residuals
    hr = []
    rv = []
    for mc in d.vod_models:
        if mc.y_at is None:
            continue
        r = (vod - np.asarray(mc.y_at, float)[o]) * 1e3
        st = RESIDUAL_MARKERS.get(mc.kind, RESIDUAL_MARKERS["fit"])
        hr.append(ax_r.errorbar(vid, r, yerr=k * vod_u * 1e3, color="C3" if mc.kind == "prediction" else "C2",
                                capsize=2, lw=0.9, label=f"vod − {mc.label}", **st))
        rv += [r]
    ax_r.axhline(0, color="0.3", lw=0.7)
    ax_r.set_ylabel("measured − model (mV)")
    ax_r.set_xlabel("differential DC input vid (V)")
    if hr:
        ax_r.legend(handles=hr, fontsize=8, loc="best", framealpha=0.85)
        allr = np.abs(np.concatenate(rv)) if rv else np.array([])
        allr = allr[np.isfinite(allr)]
        inside = np.ones(vid.shape, bool)
        for lo, hi in d.saturation:
            inside &= ~((vid >= lo) & (vid <= hi))
        linear = np.abs(np.concatenate([r[inside] for r in rv])) if rv else np.array([])
        linear = linear[np.isfinite(linear)]
        if allr.size and linear.size and allr.max() > 8 * max(linear.max(), 1e-3):
            # the saturated region dwarfs the residuals where the model applies: a symmetric log axis shows both
            ax_r.set_yscale("symlog", linthresh=max(2 * float(linear.max()), 0.5), linscale=1.5)
            ax_r.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax_r.set_ylabel("measured − model (mV, symmetric log)")
            ax_r.margins(y=0.08)
        else:
            _fit_ylim(ax_r, rv, 1.0)
    else:
        _no_data(ax_r, "no model to compare with")
    ax_r.set_title("residual of vod", fontsize=10)
    # incremental gain
    hs = []
    if vid.size > 2:
        mid = 0.5 * (vid[1:] + vid[:-1])
        with np.errstate(divide="ignore", invalid="ignore"):
            sl = np.diff(vod) / np.diff(vid)
        hs.append(ax_s.plot(mid, sl, "o-", ms=4, lw=0.9, color="C0", label="dvod/dvid measured (finite differences)")[0])
    for mc in d.vod_models:
        x = np.asarray(mc.x, float)
        y = np.asarray(mc.y, float)
        if x.size > 2:
            hs.append(ax_s.plot(x, np.gradient(y, x), color="C3" if mc.kind == "prediction" else "C2",
                                label=f"dvod/dvid {mc.label}", **MODEL_STYLES.get(mc.kind, MODEL_STYLES["fit"]))[0])
    ax_s.axhline(0, color="0.3", lw=0.7)
    ax_s.set_ylabel("incremental gain dvod/dvid (V/V)")
    ax_s.set_xlabel("differential DC input vid (V)")
    ax_s.set_title("incremental gain (linear range)", fontsize=10)
    if hs:
        ax_s.legend(handles=hs, fontsize=8, loc="best", framealpha=0.85)
    for ax in (ax_t, ax_o, ax_r, ax_s):
        _grid(ax)
        ax.xaxis.set_major_formatter(EngFormatter(unit="V", sep=" "))
    if not vid.size:
        _no_data(ax_t)
    return fig
