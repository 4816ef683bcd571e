"""What a large-signal fit reads from an amplitude sweep: the rows of one sweep, and how its THD is weighted.

Shared by the closed-form large-signal fit (:mod:`procedures.fitting.large_signal`) and the ngspice one of a
netlist board (:mod:`procedures.fitting.netlist_large_signal`).

THD uncertainties (docs/reference/measurement-methods.md §1). The harmonics come out of the same least-squares
sine fit as the fundamental (IEEE 1057), so each has the per-quadrature uncertainty ``s_h = hypot(u_vo1,
u_vo2)`` of the outputs' fundamental, read from the points table; then ``u(THD) = hypot(s_h, THD s_h)/|F|``
with ``|F|`` the fundamental of vod. Noise adds ``2 (K - 1) s_h^2`` to the expected sum of squared harmonics
(K - 1 fitted harmonics), so a model's THD is compared as ``sqrt(THD^2 + 2 (K - 1) s_h^2/|F|^2)``; points whose
THD is below :data:`THD_MIN_SIGMAS` of its uncertainty (where the THD's distribution is far from Gaussian) do
not enter the THD residuals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from procedures.fitting.core import FitError

THD_MIN_SIGMAS = 5.0
"""A THD below this many of its standard uncertainties is not fitted (module docstring)."""


def select_sweep(table: Mapping[str, np.ndarray]) -> np.ndarray:
    """Indices of the rows of one amplitude sweep in a ``dm_gain`` table, by rising amplitude: the most common
    input bias (a common-mode range sweep, one amplitude at many biases, has no amplitude dependence to fit).
    A FitError when fewer than 3 amplitudes remain."""
    bias = np.asarray(table["bias_v"], float)
    levels, counts = np.unique(np.round(bias, 9), return_counts=True)
    idx = np.nonzero(np.isclose(bias, levels[np.argmax(counts)], atol=1e-9))[0]
    amps = np.asarray(table["vid_vpk"], float)[idx]
    if len(np.unique(np.round(amps, 9))) < 3:
        raise FitError("large-signal fit: the dm_gain table has fewer than 3 drive amplitudes at one input bias")
    return idx[np.argsort(amps)]


def harmonic_sigma(points: Mapping[str, np.ndarray] | None, n_rows: int) -> tuple[np.ndarray, int] | None:
    """Per-quadrature uncertainty (V) of vod's harmonics per ``dm_gain`` row, and the number of harmonics fitted
    (2..K: K - 1 of them), from the amplitude sweep's DM points (same order as the ``n_rows`` dm_gain rows: by
    group); None when the points have no harmonics (only the fundamental was fitted: no THD to fit) or do not
    match the rows."""
    if points is None or "role" not in points or "harmonics" not in points:
        return None
    role = np.asarray(points["role"]).astype(str)
    sweep = np.asarray(points.get("sweep", np.full(role.shape, ""))).astype(str)
    sel = role == "dm"
    if np.any(sweep[sel] == "amplitude_sweep"):
        sel &= sweep == "amplitude_sweep"
    idx = np.nonzero(sel)[0]
    idx = idx[np.argsort(np.asarray(points["group"])[idx], kind="stable")]
    if len(idx) != n_rows:
        return None
    u = np.real(np.asarray(points["phasor_u"])[idx])
    n_h = int(np.asarray(points["harmonics"]).shape[-1])
    return np.hypot(u[:, 2], u[:, 3]), n_h


@dataclass(frozen=True)
class ThdWeights:
    """How the THD enters a fit: its standard uncertainty ``u``, the squared noise floor ``floor2`` that the
    fitted harmonics add to it (both relative to the fundamental), the points whose THD is fitted (``used``)
    and the number of noise quadratures in the floor (module docstring)."""

    u: np.ndarray
    floor2: np.ndarray
    used: np.ndarray
    quadratures: int

    def expected(self, thd: np.ndarray, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        """What the measurement should read for a model's THD ``thd`` at ``rows``: the noise floor added."""
        return np.asarray(np.sqrt(np.asarray(thd) ** 2 + self.floor2[rows]))


def thd_weights(sig: tuple[np.ndarray, int] | None, fund_v: np.ndarray, thd: np.ndarray,
                used: np.ndarray) -> ThdWeights:
    """The THD's weights from the per-quadrature harmonic uncertainty ``sig`` (of these rows, with the number of
    harmonics; None: no THD fit), the fundamental ``fund_v`` of vod (V), the measured ``thd`` and the rows the
    fit uses (module docstring)."""
    if sig is None:
        return ThdWeights(np.full_like(thd, np.nan), np.zeros_like(thd), np.zeros_like(used), 0)
    s_h, n_h = sig
    thd_u = np.hypot(s_h, thd * s_h) / fund_v
    floor2 = 2.0 * n_h * (s_h / fund_v) ** 2
    return ThdWeights(thd_u, floor2, used & (thd > THD_MIN_SIGMAS * thd_u), 2 * n_h)
