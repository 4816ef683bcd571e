"""The fits a report shows: those stored in the archive, or made by the report, and their values where
the measurement was taken.

Fits come from :mod:`procedures.fitting.run_fits`: those stored in the archive (``load_fits``); if there are
none and the mode is ``"auto"``, the report fits the run itself (``fit_run``) and labels them "made by the
report (not stored in the archive)"; ``"archived"`` only shows stored fits, ``"none"`` none. A fit that
fails is a warning on the page, not an error.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator
from types import ModuleType

import numpy as np

from procedures.archive.reader import RunData
from procedures.fitting.core import FitResult
from procedures.report.context import Context, first_line

FIT_MODES = ("auto", "archived", "none")


def read_fits(run: RunData, ctx: Context, fit_mode: str) -> None:
    """Fill ``ctx.fits`` and ``ctx.fit_source`` (or ``ctx.fit_note``: why there is none) for ``fit_mode``."""
    if fit_mode == "none":
        ctx.fit_note = "fits not requested (--fit none)"
        return
    try:
        from procedures.fitting import run_fits as fitmod  # at call time: tests stand a fake fitter in for it
    except ImportError:
        ctx.fit_note = "this diffbench has no model fitting (procedures.fitting.run_fits is not installed)"
        if ctx.other_results:
            ctx.warnings.append("the archive holds results (" + ", ".join(ctx.other_results) + ") but this "
                                "diffbench has no procedures.fitting.run_fits to read them")
        return
    try:
        ctx.fits = list(fitmod.load_fits(run))
        ctx.fit_source = "stored in the archive" if ctx.fits else ""
    except Exception as e:  # noqa: BLE001
        ctx.warnings.append(f"could not read the archived fits ({type(e).__name__}: {first_line(e)})")
    if ctx.fits:
        return
    if fit_mode != "auto":
        ctx.fit_note = "the archive holds no fit (and --fit archived does not fit the run)"
    elif ctx.board is None:
        ctx.fit_note = "the archive holds no usable board config to start a fit from"
    elif ctx.freq is None and ctx.amplitude is None and ctx.dc is None:
        ctx.fit_note = "no table to fit"
    else:
        _fit_now(run, ctx, fitmod)


def _fit_now(run: RunData, ctx: Context, fitmod: ModuleType) -> None:
    """Fit the run (``fitmod.fit_run``); its notes become warnings, a failure the page's note."""
    try:
        notes: list[str] = []
        with _quiet_logger(getattr(fitmod, "__name__", "procedures.fitting.run_fits")):  # notes come back in ``notes``
            try:
                ctx.fits = list(fitmod.fit_run(run, ctx.board, notes=notes))
            except TypeError:  # a fit_run without the notes argument
                ctx.fits = list(fitmod.fit_run(run, ctx.board))
        ctx.warnings += [f"model fit: {n}" for n in notes]
        ctx.fit_source = "made by the report (not stored in the archive)" if ctx.fits else ""
        if not ctx.fits:
            ctx.fit_note = "the fitter found nothing to fit in this run"
    except Exception as e:  # noqa: BLE001 - a failing fit must not cost the user the report
        ctx.fit_note = f"fitting the run failed ({type(e).__name__}: {first_line(e)})"
        ctx.warnings.append(ctx.fit_note + "; no fit shown")


@contextlib.contextmanager
def _quiet_logger(name: str) -> Iterator[None]:
    """Keep one logger's records off stderr for a while (the report shows them on the page and as warnings)."""
    lg = logging.getLogger(name)
    null = logging.NullHandler()
    propagate = lg.propagate
    lg.addHandler(null)
    lg.propagate = False
    try:
        yield
    finally:
        lg.removeHandler(null)
        lg.propagate = propagate


def fits_for(ctx: Context, x_name: str) -> list[FitResult]:
    """The fits whose independent variable is ``x_name``."""
    return [f for f in ctx.fits if getattr(f, "x_name", None) == x_name]


def fit_label(fit: FitResult, ctx: Context) -> str:
    """A fit's legend label: its name, reduced chi-square, and whether the report made it."""
    chi = getattr(fit, "chi2_red", float("nan"))
    tag = ("" if "archive" in ctx.fit_source else ", report") + (", FAILED" if getattr(fit, "failed", False) else "")
    return f"fit {fit.name} (χ²_red = {chi:.3g}{tag})" if math.isfinite(chi) else f"fit {fit.name}{tag}"


def fit_at(fit: FitResult, key: str, x: np.ndarray) -> np.ndarray | None:
    """A fit's values of ``key`` at ``x``: its own ``fitted`` if its x are these, else the curve interpolated
    (linearly, in log x for frequency and drive amplitude); NaN where the fit did not use a point."""
    fx = np.asarray(getattr(fit, "x", []), float)
    fitted = getattr(fit, "fitted", {}) or {}
    if key in fitted and fx.shape == x.shape and np.allclose(fx, x, rtol=1e-9, atol=0):
        out = np.array(fitted[key])
        used = np.asarray(getattr(fit, "used", np.zeros(0, bool)), bool)
        if used.shape == out.shape and not used.all():  # points outside the fitted region: no residual
            out = out.astype(complex if np.iscomplexobj(out) else float)
            out[~used] = np.nan
        return out
    cx = np.asarray(getattr(fit, "curve_x", []), float)
    cy = (getattr(fit, "curve_fitted", {}) or {}).get(key)
    if cy is None or cx.size < 2:
        return None
    cy = np.asarray(cy)
    o = np.argsort(cx)
    logx = getattr(fit, "x_name", "") in ("frequency_hz", "vid_vpk")
    xs = np.log10(cx[o]) if logx else cx[o]
    xt = np.log10(x) if logx else x
    if np.iscomplexobj(cy):
        re = np.interp(xt, xs, cy[o].real, left=np.nan, right=np.nan)
        return re + 1j * np.interp(xt, xs, cy[o].imag, left=np.nan, right=np.nan)
    return np.interp(xt, xs, cy[o], left=np.nan, right=np.nan)
