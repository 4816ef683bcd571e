"""DC transfer: vod versus vid at the pins, the input-referred offset, the slope through it and the
incremental gain along the sweep."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DcTransfer:
    """DC transfer: vod versus vid at the pins, the input-referred offset, the slope through it and the
incremental gain along the sweep."""

    vid_v: np.ndarray
    vod_v: np.ndarray
    offset_v: float
    slope: float


def dc_transfer(vid_v: np.ndarray, vod_v: np.ndarray) -> DcTransfer:
    """Input offset = vid where vod crosses zero; slope = derivative there of a cubic through the 5 nearest points.

    The cubic follows the transfer's curvature (a tanh compresses by a few % within +-20 mV), so coarse
    steps do not pull the slope down as a straight-line fit over the same points would.

    A DC transfer that never crosses zero (offset beyond the sweep) gives NaN for both.
    """
    order = np.argsort(vid_v)
    x, y = np.asarray(vid_v, float)[order], np.asarray(vod_v, float)[order]
    sign = np.sign(y)
    idx = np.nonzero(sign[:-1] * sign[1:] <= 0)[0]
    if not idx.size:
        return DcTransfer(x, y, float("nan"), float("nan"))
    i = int(idx[np.argmin(np.abs(y[idx]))])
    x0 = float(x[i] - y[i] * (x[i + 1] - x[i]) / (y[i + 1] - y[i])) if y[i + 1] != y[i] else float(x[i])
    near = np.sort(np.argsort(np.abs(x - x0))[:5])
    if near.size >= 4:
        poly = np.polynomial.Polynomial.fit(x[near], y[near], 3)
        roots = [float(r.real) for r in poly.roots() if abs(r.imag) < 1e-12 and x[near][0] <= r.real <= x[near][-1]]
        if roots:
            x0 = float(min(roots, key=lambda r: abs(r - x0)))
        slope = float(poly.deriv()(x0))
    else:
        slope = float(np.polyfit(x[near], y[near], 1)[0])
    return DcTransfer(x, y, x0, slope)


def incremental_gain(vid_v: np.ndarray, vod_v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``dvod/dvid`` by finite differences between neighbouring points (sorted by vid): ``(midpoints, slopes)``
    in (V, V/V); empty for fewer than three points."""
    o = np.argsort(np.asarray(vid_v, float))
    vid, vod = np.asarray(vid_v, float)[o], np.asarray(vod_v, float)[o]
    if vid.size <= 2:
        return np.zeros(0), np.zeros(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 0.5 * (vid[1:] + vid[:-1]), np.diff(vod) / np.diff(vid)


def curve_slope(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``dy/dx`` along a dense model curve (second-order central differences, ``numpy.gradient``)."""
    return np.gradient(np.asarray(y, float), np.asarray(x, float))
