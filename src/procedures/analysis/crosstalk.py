"""Scope channel-to-channel crosstalk: measured with one probe at a time, and removed from the phasors.

Phasor arrays are in node order ``(v1, v2, vo1, vo2)`` (:data:`procedures.measure.acquisition.NODES`), in V
peak, each with its per-quadrature standard uncertainty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RESOLVED = 3.0  # a measured coupling is subtracted when it stands this many of its u above zero


@dataclass(frozen=True)
class Crosstalk:
    """Channel-to-channel crosstalk of the scope at one frequency, measured and subtracted.

    Model: the displayed phasors are ``m = G (I + X) v``, G the channels' complex gains (diagonal) and
    ``X[i, j]`` the fraction of node j's signal that channel i picks up. With node j's probe alone on a driven
    node and the other three tips grounded (docs/reference/measurement-methods.md §3.4 step 3, one probe at a time),
    channel i reads ``g_i X[i, j] s`` and channel j reads ``g_j s``; their ratio ``K[i, j]`` is
    ``g_i X[i, j] / g_j``, and ``m = (I + K) (G v)`` exactly, so ``(I + K)^-1 m`` removes the crosstalk
    without knowing G (the channel-match calibration takes care of G afterwards).

    Why it matters: an active load's mirror node (vo1) moves ~800x less than its output (vo2); -70 dB of
    vo2 in vo1's channel is then a quarter of vo1's signal, while between two channels of similar swing it
    cancels in the ratios. Whether a board needs the correction is decided before the run from its
    prediction, with the same model run forward (:mod:`procedures.measure.crosstalk_bias`,
    :mod:`procedures.measure.calibration_plan`).
    """

    K: np.ndarray       # (4, 4) complex, zero diagonal
    K_u: np.ndarray     # (4, 4) per-quadrature standard uncertainty of K

    @staticmethod
    def none() -> Crosstalk:
        return Crosstalk(np.zeros((4, 4), complex), np.zeros((4, 4)))

    @staticmethod
    def from_points(points: dict[int, tuple[np.ndarray, np.ndarray]]) -> Crosstalk:
        """From the four crosstalk points ``{j: (phasors, u)}``, j the node index whose probe was driven.

        A coupling below :data:`RESOLVED` of its own u is not subtracted (its u still is propagated by
        :meth:`apply`): it is the noise of a grounded tip, and subtracting it times a large neighbour (an
        active load's 0.7 V output against 1 mV inputs) would add that noise as an error of the small one's
        own size, where the truth is no coupling at all."""
        K, K_u = np.zeros((4, 4), complex), np.zeros((4, 4))
        for j, (ph, u) in points.items():
            ref = ph[j]
            for i in range(4):
                if i != j:
                    K[i, j] = ph[i] / ref
                    K_u[i, j] = np.hypot(u[i], abs(K[i, j]) * u[j]) / abs(ref)
        return Crosstalk(np.where(np.abs(K) > RESOLVED * K_u, K, 0.0), K_u)

    def apply(self, phasors: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Phasors with the crosstalk removed; the uncertainty of K times each neighbour's swing added in
        quadrature (first order: K is ~1e-3 or less, so ``(I + K)^-1 ~ I - K`` for the propagation)."""
        v = np.linalg.solve(np.eye(4) + self.K, phasors)
        extra = (self.K_u ** 2) @ (np.abs(phasors) ** 2) + (np.abs(self.K) ** 2) @ (u ** 2)
        return v, np.sqrt(u ** 2 + extra)


def uneven_outputs(phasors: np.ndarray, ratio: float = 0.02) -> bool:
    """True when one output's swing is below ``ratio`` of the other's: crosstalk between their channels
    (-40 to -70 dB on bench scopes, docs/reference/measurement-methods.md §2) is then a visible part of the
    small one."""
    a, b = abs(phasors[2]), abs(phasors[3])
    return min(a, b) < ratio * max(a, b)
