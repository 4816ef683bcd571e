"""Distortion of the pair driven differentially by a slow sine: the whole DC circuit solved at each instant of the
cycle, then the outputs' Fourier series.

Quasi-static: at the drive frequency the circuit's capacitances (load, tail) are open, so each instant is a DC
solution (:func:`models.full_region_dc.pair_full_dc`) at the instantaneous inputs. Everything that moves with
the signal is then carried through the cycle: the Early factor / channel-length modulation at the instantaneous
collector/drain voltage (which depends on the output itself through the load), the base currents, the Norton
tail's current, degeneration, source resistance, the mismatch, a BJT saturating or a MOS device entering triode
at the peaks, the mirror load's devices, and the distortion of the pins themselves when the drive has a source
resistance (the base current through it). What is neglected: the load pole and the tail zero at the drive
frequency, which change harmonic k by a fraction ``~ (k f / f_pole)^2``.

Drive (docs/conventions.md: ``vid = v1 - v2``): EMFs ``v1, v2 = bias +- (A/2) cos theta`` behind the
:class:`~models.full_region_dc.InputNetwork`, sampled on :func:`models.distortion.cycle_phases` and projected by
:func:`models.distortion.fourier_series` (exact up to aliasing of harmonics above ``n_samples/2``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .distortion import cycle_phases, fourier_series, thd_of
from .full_region_dc import FullPairDc, InputNetwork, Load, pair_full_dc
from .pair_circuit import CurrentMirror, DiffPair, NortonTail


@dataclass(frozen=True)
class CycleHarmonics:
    """Harmonics of one differential drive per amplitude (rows): complex ``Y_0..Y_K`` of ``y = sum_k Re(Y_k
    e^{j k theta})`` for the outputs ``vo1``, ``vo2`` and the pins' ``vid`` (V), with ``emf_amplitude`` the EMF's
    differential peak (V), ``headroom`` the least margin over the cycle before a device leaves its active region
    (V; :class:`~models.full_region_dc.FullPairDc`), ``samples`` the solution at each instant (shape (amplitudes,
    n_samples)) and ``rest`` the solution at zero drive."""

    emf_amplitude: np.ndarray
    vo1: np.ndarray
    vo2: np.ndarray
    vid: np.ndarray
    headroom: np.ndarray
    samples: FullPairDc
    rest: FullPairDc

    def output(self, name: str) -> np.ndarray:
        """Harmonics of ``"vod"`` (``vo1 - vo2``), ``"vo1"`` or ``"vo2"`` (V)."""
        if name == "vod":
            out: np.ndarray = self.vo1 - self.vo2
            return out
        if name in ("vo1", "vo2"):
            out = self.vo1 if name == "vo1" else self.vo2
            return out
        raise ValueError(f"unknown output {name!r} (vod, vo1 or vo2)")

    def thd(self, name: str = "vod") -> np.ndarray:
        """``sqrt(sum_{k=2..K} |Y_k|^2)/|Y_1|`` of an output (ratio), per amplitude."""
        return thd_of(self.output(name))

    def output_peak(self, name: str = "vod") -> np.ndarray:
        """Peak deviation (V) over the cycle of an output (``"vod"``, ``"vo1"``, ``"vo2"``) from its level at rest."""
        def level(d: FullPairDc) -> np.ndarray:
            out: np.ndarray = d.vod if name == "vod" else (d.vo1 if name == "vo1" else d.vo2)
            return out

        self.output(name)  # checks the name
        out: np.ndarray = np.max(np.abs(level(self.samples) - level(self.rest)), axis=1)
        return out

    def select(self, idx: np.ndarray) -> CycleHarmonics:
        """The amplitudes ``idx`` alone."""
        return CycleHarmonics(emf_amplitude=self.emf_amplitude[idx], vo1=self.vo1[idx], vo2=self.vo2[idx],
                              vid=self.vid[idx], headroom=self.headroom[idx], samples=self.samples.rows(idx),
                              rest=self.rest)

    def replaced(self, idx: np.ndarray, other: CycleHarmonics) -> CycleHarmonics:
        """A copy with the amplitudes ``idx`` taken from ``other`` (a cycle of as many amplitudes)."""
        def put(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            out = a.copy()
            out[idx] = b
            return out

        return CycleHarmonics(emf_amplitude=put(self.emf_amplitude, other.emf_amplitude),
                              vo1=put(self.vo1, other.vo1), vo2=put(self.vo2, other.vo2), vid=put(self.vid, other.vid),
                              headroom=put(self.headroom, other.headroom),
                              samples=self.samples.with_rows(idx, other.samples), rest=self.rest)

    @property
    def vid_amplitude(self) -> np.ndarray:
        """Fundamental amplitude of the pins' ``vid`` (V peak): the measured drive."""
        out: np.ndarray = np.abs(self.vid[:, 1])
        return out


def differential_cycle(amplitudes: ArrayLike, bias: float, pair: DiffPair, tail: NortonTail, load: Load, *,
                       inputs: InputNetwork | None = None, beta_r: float = 1.0, n_harmonics: int = 15,
                       n_samples: int = 512, start: CycleHarmonics | None = None) -> CycleHarmonics:
    """Harmonics 0..``n_harmonics`` of the outputs and the pins' vid for the EMFs ``bias +- (A/2) cos theta``
    (V), A in ``amplitudes`` (V peak, positive), the circuit solved at ``n_samples`` instants per period
    (module docstring; arguments as :func:`models.full_region_dc.pair_full_dc`). Newton's method starts from
    the pair at rest, or from ``start``, a cycle of the same circuit at as many amplitudes and samples (e.g. at
    slightly different amplitudes)."""
    a = np.atleast_1d(np.asarray(amplitudes, dtype=float))
    if np.any(a <= 0):
        raise ValueError("amplitudes must be positive")
    if not 1 <= n_harmonics < n_samples // 2:
        raise ValueError("need 1 <= n_harmonics < n_samples/2")
    half = 0.5 * a[:, None] * np.cos(cycle_phases(n_samples))[None, :]
    rest = pair_full_dc(bias, bias, pair, tail, load, inputs=inputs, beta_r=beta_r,
                        start=None if start is None else start.rest)
    dc = pair_full_dc(bias + half, bias - half, pair, tail, load, inputs=inputs, beta_r=beta_r,
                      start=start.samples if start is not None else (rest if isinstance(load, CurrentMirror) else None))
    return CycleHarmonics(emf_amplitude=a, vo1=fourier_series(dc.vo1, n_harmonics),
                          vo2=fourier_series(dc.vo2, n_harmonics), vid=fourier_series(dc.vid, n_harmonics),
                          headroom=np.min(dc.headroom, axis=1), samples=dc, rest=rest)


class Slopes(NamedTuple):
    """Low-frequency small-signal slopes at rest: ``vod``, ``vo1``, ``vo2`` per volt of the pins' vid (V/V), and
    ``pin``, the pins' vid per volt of the EMFs' (V/V; 1 when the pins are the EMFs)."""

    vod: float
    vo1: float
    vo2: float
    pin: float


def small_signal_slopes(bias: float, pair: DiffPair, tail: NortonTail, load: Load, *,
                        inputs: InputNetwork | None = None, beta_r: float = 1.0,
                        step: float = 1e-6, rest: FullPairDc | None = None) -> Slopes:
    """:class:`Slopes` from central differences of the DC solution at EMF differences ``vid = +-step/2`` about
    ``bias`` (V; truncation ~(step/V_T)^2, ~1e-9), started from ``rest`` (the solution at ``bias``) when given."""
    s = np.array([0.25 * step, -0.25 * step])
    dc = pair_full_dc(bias + s, bias - s, pair, tail, load, inputs=inputs, beta_r=beta_r, start=rest)
    dvid = float(dc.vid[0] - dc.vid[1])
    return Slopes(float(dc.vod[0] - dc.vod[1]) / dvid, float(dc.vo1[0] - dc.vo1[1]) / dvid,
                  float(dc.vo2[0] - dc.vo2[1]) / dvid, dvid / step)
