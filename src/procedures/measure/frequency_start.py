"""Where the 4-parameter sine fit starts: the interpolated-DFT (IpDFT) estimate, or the generator's hint.

docs/reference/measurement-methods.md §1.2 step 1: the FFT peak of the Hann-windowed record, interpolated with the
Hann window's two-point ratio formula ``delta = (2 r - 1)/(r + 1)``, ``r = |X[k+1]|/|X[k]|`` (Grandke 1983, IEEE
Trans. IM 32(2)), lands within a small fraction of a bin; the IEEE Std 1057 4-parameter fit then starts from it, or
from the hint (Hz) when the two agree within one bin. Used by both paths of ``procedures.measure.phasors``: the
design path (procedures/measure/sine_design.py) and the uniform one (procedures/measure/uniform_sine_fit.py).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from procedures.measure.sine_design import _median_step


@lru_cache(maxsize=8)
def _hann(n: int) -> np.ndarray:
    """``np.hanning(n)``, kept for the next record of the same length (read-only)."""
    w = np.hanning(n)
    w.flags.writeable = False
    return w


def _ipdft(y: np.ndarray, dt: float) -> float:
    """:func:`procedures.measure.phasors.estimate_frequency_ipdft` of ``y`` sampled every ``dt`` seconds (the
    axis's median step): the frequency in Hz."""
    y = y - y.mean()
    n = y.size
    y *= _hann(n)
    spec = np.abs(np.fft.rfft(y))
    spec[0] = 0.0
    k = int(np.argmax(spec[1:]) + 1)
    if k + 1 < spec.size and (k == 1 or spec[k + 1] >= spec[k - 1]):
        r = spec[k + 1] / spec[k] if spec[k] > 0 else 0.0
        delta = (2 * r - 1) / (r + 1)
    else:
        r = spec[k - 1] / spec[k] if spec[k] > 0 else 0.0
        delta = -(2 * r - 1) / (r + 1)
    return (k + delta) / (n * dt)


def _start_frequency(tc: np.ndarray, y: np.ndarray, hint_hz: float | None, step_s: float | None = None) -> float:
    """The 4-parameter fit's start: the hint when it lies within one bin of the IpDFT estimate, else that
    (``step_s``: the axis's median step when the caller has it)."""
    f0 = _ipdft(y, _median_step(tc) if step_s is None else step_s)
    return hint_hz if hint_hz is not None and abs(hint_hz - f0) * (tc[-1] - tc[0]) < 1.0 else f0
