"""A waveform as transferred from a scope: raw integer codes, their scaling, and the time axis."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Waveform:
    """One channel's record. Volts are ``(codes - y_reference) * y_increment + y_origin``.

    Every family's preamble maps onto these affine fields (docs/reference/scpi.md §5): Keysight
    ``(code - yref)*yinc + yorig``; Rigol DS1000Z ``(code - yorigin - yref)*yinc``; Siglent
    ``code*vdiv/25 - offset``. ``code_min``/``code_max`` are the ADC's limits as read out, so a sample
    at either is clipped (off screen).
    """

    channel: int
    codes: np.ndarray
    y_increment_v: float
    y_origin_v: float
    y_reference: float
    x_increment_s: float
    x_origin_s: float
    code_min: int
    code_max: int

    @property
    def volts(self) -> np.ndarray:
        """Samples in volts (float64)."""
        return (self.codes.astype(np.float64) - self.y_reference) * self.y_increment_v + self.y_origin_v

    @property
    def time_s(self) -> np.ndarray:
        """Sample times in seconds relative to the trigger."""
        return self.x_origin_s + self.x_increment_s * np.arange(self.codes.size)

    @property
    def clipped(self) -> bool:
        """True if any sample sits at the ADC's lowest or highest code."""
        return bool(self.codes.size) and bool((self.codes.min() <= self.code_min)
                                              or (self.codes.max() >= self.code_max))

    @property
    def clipped_fraction(self) -> float:
        """Fraction of samples at either ADC limit."""
        if not self.codes.size:
            return 0.0
        return float(np.count_nonzero((self.codes <= self.code_min) | (self.codes >= self.code_max)) / self.codes.size)

    @property
    def lsb_v(self) -> float:
        """One code step, V."""
        return abs(self.y_increment_v)
