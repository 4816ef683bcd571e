"""Differential gain versus drive: the gain and the THD of one differential point, and the 1 dB
compression point of a sweep.

Phasor arrays are in node order ``(v1, v2, vo1, vo2)`` (:data:`procedures.measure.acquisition.NODES`), in V
peak, each with its per-quadrature standard uncertainty.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from models.mixed_mode import db


def differential_gain(phasors: np.ndarray, u: np.ndarray) -> tuple[complex, float]:
    """``vod/vid`` from one DM point, with the standard uncertainty of its magnitude (relative errors of vod
    and vid in quadrature). The CM leak of a DM drive is second order: vic ~ eps vid/2
    (docs/reference/measurement-methods.md §3.3)."""
    vid = phasors[0] - phasors[1]
    vod = phasors[2] - phasors[3]
    g = vod / vid
    rel = np.hypot(np.hypot(u[2], u[3]) / abs(vod), np.hypot(u[0], u[1]) / abs(vid))
    return complex(g), float(abs(g) * rel)


def output_thd(harmonics: np.ndarray, phasors: np.ndarray) -> float:
    """THD of the differential output ``vod = vo1 - vo2`` from the fitted harmonics (ratio)."""
    h = harmonics[2] - harmonics[3]
    fund = phasors[2] - phasors[3]
    return float(np.sqrt(np.sum(np.abs(h) ** 2)) / abs(fund)) if fund != 0 else float("nan")


def compression_point(x: ArrayLike, gain_db: ArrayLike, level_db: float) -> float | None:
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


def p1db(drive_vpk: ArrayLike, gain: ArrayLike) -> float | None:
    """The 1 dB compression point of a gain-versus-drive sweep (V peak of drive): where ``|gain|`` has fallen
    1 dB below its value at the smallest drive (:func:`compression_point`); ``None`` if it never does."""
    x = np.asarray(drive_vpk, float)
    o = np.argsort(x)
    g_db = db(np.asarray(gain)[o])
    return compression_point(x[o], g_db, float(g_db[0]) - 1.0)
