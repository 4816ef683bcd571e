"""Channel-match calibration: each scope channel's complex gain relative to the v1 channel, and its correction.

Phasor arrays are in node order ``(v1, v2, vo1, vo2)`` (:data:`procedures.measure.acquisition.NODES`), referenced to
input v1's phase, in V peak, each with its per-quadrature standard uncertainty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Calibration:
    """Complex gain of each scope channel relative to the v1 channel, from the same-signal (link) point.

    ``ratios[k] = V_k / V_v1`` with all four probes on input 1 (docs/reference/measurement-methods.md §3.4 step 1); the
    measurement is corrected by ``V_k <- V_k / ratios[k]``. The ratios are per frequency and assumed the same
    on every V/div range (true of the simulated scope; a real scope's range-to-range differences of about
    0.1 % remain, see the README's limitations).
    """

    ratios: np.ndarray
    ratios_u: np.ndarray

    @staticmethod
    def identity() -> Calibration:
        return Calibration(np.ones(4, complex), np.zeros(4))

    @staticmethod
    def from_link(phasors: np.ndarray, u: np.ndarray) -> Calibration:
        """Ratios and their standard uncertainties (first order, relative errors in quadrature)."""
        ref = phasors[0]
        r = phasors / ref
        rel = np.sqrt((u / np.abs(phasors)) ** 2 + (u[0] / abs(ref)) ** 2)
        rel[0] = 0.0
        return Calibration(r, np.abs(r) * rel)

    def apply(self, phasors: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Corrected phasors and uncertainties (the ratio's uncertainty added in quadrature)."""
        v = phasors / self.ratios
        rel = np.sqrt((u / np.maximum(np.abs(phasors), 1e-300)) ** 2 + (self.ratios_u / np.abs(self.ratios)) ** 2)
        return v, np.abs(v) * rel + np.where(np.abs(phasors) > 0, 0.0, u)
