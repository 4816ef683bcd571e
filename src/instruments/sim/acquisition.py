"""The simulated scope's signal path: front end in the harmonic domain, edge trigger, sampling, noise, ADC.

The board's periodic response arrives as Fourier coefficients (``v(t) = Re(sum_k c_k e^{j k w t})``), so
every *linear* imperfection of a scope channel is applied exactly, per harmonic, before a single sample is
made (docs/conventions.md "instruments/sim"; docs/reference/measurement-methods.md §2, §3.3):

* gain error ``(1 + g)`` (``[sim] scope_gain_error``, per channel);
* first-order bandwidth ``1/(1 + j f/f_bw)`` (``[sim] scope_bandwidth_hz``), and the BW-limit filter when
  it is switched on;
* skew ``e^{-j 2 pi f tau}`` (``[sim] scope_skew_s``, per channel);
* AC coupling, a first-order high-pass ``j f/(j f + f_c)``;
* crosstalk: ``10^(dB/20)`` of the neighbouring channel's input, AC components only (the coupling is
  capacitive) (``[sim] scope_crosstalk_db``). Neighbours are the two channels of a front-end/ADC pair,
  1-2 and 3-4 (:func:`neighbour`);
* the probe factor setting scales the displayed volts (the simulated leads are 1:1, so the displayed
  value is ``probe x`` the node voltage); channel invert negates; GND coupling shows 0 V.

Then samples are synthesised at the record's times, white Gaussian noise is added (the scope's own input
noise ``[sim] scope_noise_lsb`` in LSB rms at the set scale, plus the board's output noise density over the
noise bandwidth ``min(fs/2, pi/2 f_3dB)`` on the nodes that carry it), and the 8-bit ADC quantises and
clips (docs/reference/measurement-methods.md §2.1: ``LSB = (V/div)/(codes per div)``).

Averaging M records (docs/reference/measurement-methods.md §2.3): each record is quantised and clipped, then averaged,
so noise falls as 1/sqrt(M) and a dithered quantiser gains resolution. For large ``M x N`` the average is
drawn from its limiting distribution instead (noise variance ``(sigma^2 + 1/12)/M`` LSB^2 when the noise
dithers, sigma >= 0.5 LSB, §2.2; otherwise the quantised signal plus ``sigma^2/M``).

Noise is generated in fixed blocks of record indices from seeds derived from the acquisition, so reading
the same points twice -- or in different chunks, as the DS1000Z's windowed reads do -- returns the same
samples.
"""

from __future__ import annotations

import math
import threading
import zlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .arrays import ComplexArray, FloatArray, RealArray
from .steady_state import SteadyState

NOISE_BLOCK = 1 << 15
LITERAL_AVERAGE_SAMPLES = 2_000_000  # M x N up to which averaging is simulated record by record


@dataclass(frozen=True)
class Tone:
    """A periodic signal: ``v(t) = Re(sum_k coeffs[k] e^{j 2 pi k freq_hz t})``, V."""

    freq_hz: float
    coeffs: ComplexArray


@dataclass(frozen=True)
class ChannelInput:
    """What one scope input is connected to: periodic components and a white noise density (V/rtHz).

    Only the first tone carries the DC level (``coeffs[0]``); further tones (a second generator frequency)
    have ``coeffs[0] = 0``.
    """

    tones: tuple[Tone, ...]
    noise_v_per_rthz: float = 0.0


@dataclass(frozen=True)
class FrontEnd:
    """One channel's analog path: fixed imperfections from the bench's ``[sim]`` and the user settings."""

    gain_error: float = 0.0
    skew_s: float = 0.0
    bandwidth_hz: float = 100e6
    probe: float = 1.0
    coupling: str = "DC"  # DC | AC | GND
    ac_corner_hz: float = 10.0
    bw_limit_hz: float | None = None
    inverted: bool = False

    def response(self, f_hz: RealArray) -> ComplexArray:
        """Complex transfer from node volts to displayed volts at frequencies ``f_hz``."""
        jf = 1j * f_hz
        h = (1.0 + self.gain_error) * self.probe / (1.0 + jf / self.bandwidth_hz)
        h = h * np.exp(-2j * np.pi * f_hz * self.skew_s)
        if self.bw_limit_hz:
            h = h / (1.0 + jf / self.bw_limit_hz)
        if self.coupling == "AC":
            h = h * jf / (jf + self.ac_corner_hz)
        elif self.coupling == "GND":
            h = h * 0.0
        out: ComplexArray = -h if self.inverted else h
        return out

    @property
    def noise_bandwidth_hz(self) -> float:
        """Equivalent noise bandwidth of the first-order analog path (pi/2 f_3dB), Hz."""
        f3 = self.bandwidth_hz if not self.bw_limit_hz else min(self.bandwidth_hz, self.bw_limit_hz)
        return math.pi / 2.0 * f3


def neighbour(channel: int) -> int:
    """The other channel of ``channel``'s front-end pair (1-2, 3-4): the one it picks up crosstalk from."""
    return channel + 1 if channel % 2 else channel - 1


def displayed_tones(inputs: Mapping[int, ChannelInput], channel: int, fe: FrontEnd,
                    crosstalk_db: float) -> tuple[Tone, ...]:
    """The tones a channel displays: its input plus its neighbour's crosstalk, through its front end."""
    x: float = 10.0 ** (crosstalk_db / 20.0) if crosstalk_db > -300 else 0.0
    tones: dict[float, ComplexArray] = {}
    for tone in inputs[channel].tones:
        tones[tone.freq_hz] = tones.get(tone.freq_hz, 0) + np.asarray(tone.coeffs, dtype=complex)
    for nb in (neighbour(channel),):
        if nb in inputs and x:
            for tone in inputs[nb].tones:
                c = np.asarray(tone.coeffs, dtype=np.complex128).copy()
                c[0] = 0.0
                prev = tones.get(tone.freq_hz)
                if prev is None:
                    tones[tone.freq_hz] = x * c
                else:
                    n = max(len(prev), len(c))
                    acc = np.zeros(n, dtype=complex)
                    acc[: len(prev)] += prev
                    acc[: len(c)] += x * c
                    tones[tone.freq_hz] = acc
    out = []
    for f, c in tones.items():
        k = np.arange(len(c))
        out.append(Tone(f, c * fe.response(k * f)))
    return tuple(out)


class Evaluator:
    """Samples a channel's tones at arbitrary times, V.

    Harmonics not above ``floor_v`` (a small fraction of an LSB) are dropped first: they cannot change a
    code. Each tone is evaluated with the board's bounded-error interpolation table
    (:meth:`.steady_state.SteadyState.evaluate`, error below 1e-9 of the tone's amplitude). Building a table
    costs far more than using it, so evaluators are shared through :func:`evaluator` while the signal repeats.
    """

    def __init__(self, tones: Sequence[Tone], floor_v: float = 0.0) -> None:
        self.dc, kept = _kept_harmonics(tones, floor_v)
        self._parts = [SteadyState(f, ac[np.newaxis, :], {"v": 0}) for f, ac in kept]

    def __call__(self, t: RealArray) -> FloatArray:
        """The channel's voltage at times ``t`` (s), V."""
        v = np.full(np.shape(t), self.dc)
        for part in self._parts:
            v += part.evaluate("v", t)
        return v


def _kept_harmonics(tones: Sequence[Tone], floor_v: float) -> tuple[float, list[tuple[float, ComplexArray]]]:
    """(the DC level of ``tones``, per tone with harmonics above ``floor_v``: its frequency and its
    coefficients c_0..c_kmax with c_0 = 0, kmax the highest harmonic above the floor), what an
    :class:`Evaluator` of these tones holds."""
    dc = 0.0
    kept: list[tuple[float, ComplexArray]] = []
    for tone in tones:
        c = np.asarray(tone.coeffs, dtype=complex)
        dc += float(c[0].real)
        big = np.flatnonzero(np.abs(c[1:]) > floor_v)
        if tone.freq_hz == 0.0 or big.size == 0:
            continue
        k_max = int(big[-1]) + 1
        ac = c[: k_max + 1].copy()
        ac[0] = 0.0
        kept.append((float(tone.freq_hz), ac))
    return dc, kept


_EVALUATORS: OrderedDict[tuple[object, ...], Evaluator] = OrderedDict()
_EVALUATORS_LOCK = threading.Lock()


def evaluator(tones: Sequence[Tone], floor_v: float = 0.0) -> Evaluator:
    """A shared :class:`Evaluator` for these tones (LRU of 64): repeated acquisitions of an unchanged
    signal reuse its interpolation tables.

    The key is what the evaluator holds -- the DC level and the harmonics kept above ``floor_v`` -- not the
    floor itself: the floor follows the channel's scale (a fraction of an LSB), so autoranging an unchanged
    signal would otherwise rebuild the same tables at every new scale."""
    dc, kept = _kept_harmonics(tones, floor_v)
    key: tuple[object, ...] = (dc,) + tuple((f, ac.tobytes()) for f, ac in kept)
    with _EVALUATORS_LOCK:
        ev = _EVALUATORS.get(key)
        if ev is not None:
            _EVALUATORS.move_to_end(key)
            return ev
    ev = Evaluator(tones, floor_v)
    with _EVALUATORS_LOCK:
        _EVALUATORS[key] = ev
        while len(_EVALUATORS) > 64:
            _EVALUATORS.popitem(last=False)
    return ev


def evaluate(tones: Sequence[Tone], t: RealArray) -> FloatArray:
    """Sum of tones at times ``t`` (s), V."""
    return evaluator(tones)(t)


def find_trigger(tones: Sequence[Tone], level_v: float, slope: str, arm_s: float,
                 dc_blocked: bool = False, grid: int = 4096) -> float | None:
    """First time at or after ``arm_s`` where the signal crosses ``level_v`` on ``slope``.

    ``slope`` is ``POS``, ``NEG`` or ``EITH``; ``dc_blocked`` applies trigger AC coupling (removes the DC
    level). Searches one period of the lowest frequency (four when two frequencies beat) on a grid fine
    enough for the highest harmonic, then narrows the bracketing interval on finer grids (to 1e-9 of the
    search span). Returns None if the level is never crossed (no trigger).
    """
    if dc_blocked:
        tones = tuple(Tone(t.freq_hz, np.concatenate([[0.0], t.coeffs[1:]])) for t in tones)
    freqs = [t.freq_hz for t in tones if t.freq_hz > 0 and np.any(t.coeffs[1:])]
    if not freqs:
        return None
    amplitude = max(float(np.sum(np.abs(t.coeffs[1:]))) for t in tones)
    ev = evaluator(tones, floor_v=1e-9 * amplitude)
    span = (1.0 if len(set(freqs)) == 1 else 4.0) / min(freqs)
    kmax = max(len(t.coeffs) for t in tones)
    n = int(min(1 << 16, max(grid, 8 * kmax * max(freqs) * span)))
    t = arm_s + span * np.arange(n + 1) / n
    above = (ev(t) - level_v) >= 0
    rising = ~above[:-1] & above[1:]
    falling = above[:-1] & ~above[1:]
    hits = rising if slope == "POS" else falling if slope == "NEG" else rising | falling
    idx = np.flatnonzero(hits)
    if idx.size == 0:
        return None
    lo, hi = float(t[idx[0]]), float(t[idx[0] + 1])
    was_above = bool(above[idx[0]])
    while hi - lo > 1e-9 * span:
        sub = np.linspace(lo, hi, 65)
        changed = np.flatnonzero(((ev(sub) - level_v) >= 0) != was_above)
        j = int(changed[0]) if changed.size else 64
        lo, hi = float(sub[j - 1]), float(sub[j])
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class Adc:
    """8-bit ADC mapping of one channel: ``code = (v - centre_v)/lsb_v + centre_code``, clipped to
    ``[code_lo, code_hi]`` (the screen edges plus the family's over-range margin)."""

    centre_v: float
    lsb_v: float
    centre_code: float
    code_lo: int
    code_hi: int


@dataclass(frozen=True)
class Geometry:
    """A record's time axis: point i is at ``t0_s + i dt_s`` relative to the trigger; ``decimation`` raw
    samples per point (HRES averages them)."""

    t0_s: float
    dt_s: float
    n: int
    decimation: int = 1

    def key(self) -> int:
        """A stable integer naming this geometry (seeds its noise)."""
        return zlib.crc32(repr((self.t0_s, self.dt_s, self.n, self.decimation)).encode())


@dataclass
class Acquisition:
    """One frozen acquisition: what each channel displayed, where the trigger was, and how to digitise.

    ``t_trigger_s`` is the signal time of the trigger event; a record's point at ``t`` relative to the
    trigger samples the signal at ``t_trigger_s + t``. ``raw`` is the acquisition memory's time axis;
    ``screen_left_s``/``screen_window_s`` the horizontal window that was on screen (s, from the trigger). Records
    are synthesised on demand by :meth:`codes`, deterministically.
    """

    tones: dict[int, tuple[Tone, ...]]
    adc: dict[int, Adc]
    noise_lsb: dict[int, float]
    t_trigger_s: float
    triggered: bool
    averages: int
    high_res: bool
    raw: Geometry
    screen_left_s: float
    screen_window_s: float
    seed: tuple[int, ...]
    channels: tuple[int, ...]
    cache: dict[tuple[int, Geometry, int, int], FloatArray] = field(default_factory=dict)
    evaluators: dict[int, Evaluator] = field(default_factory=dict)

    def codes(self, channel: int, geom: Geometry, start: int = 0, count: int | None = None) -> FloatArray:
        """Points ``start .. start+count-1`` of a record, in ADC code units (float64; integers unless
        averaged or high-resolution), clipped to the ADC range."""
        count = geom.n - start if count is None else count
        key = (channel, geom, start, count)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        adc = self.adc[channel]
        ev = self.evaluators.get(channel)
        if ev is None:
            ev = self.evaluators[channel] = evaluator(self.tones[channel], floor_v=1e-4 * adc.lsb_v)
        t = self.t_trigger_s + geom.t0_s + (start + np.arange(count)) * geom.dt_s
        x = (ev(t) - adc.centre_v) * (1.0 / adc.lsb_v) + adc.centre_code
        sigma = self.noise_lsb[channel]
        m = self.averages * (geom.decimation if self.high_res else 1)
        seed = self.seed + (channel, geom.key())
        if m == 1:
            out = _quantise(x + sigma * _noise(seed + (0,), start, count), adc)
        elif m * count <= LITERAL_AVERAGE_SAMPLES and m <= 4096:
            acc = np.zeros(count)
            for r in range(m):
                acc += _quantise(x + sigma * _noise(seed + (r,), start, count), adc)
            out = acc / m
        elif sigma >= 0.5:
            out = np.clip(x + math.sqrt((sigma ** 2 + 1.0 / 12.0) / m) * _noise(seed + (0,), start, count),
                          adc.code_lo, adc.code_hi)
        else:
            out = np.clip(_quantise(x, adc) + sigma / math.sqrt(m) * _noise(seed + (0,), start, count),
                          adc.code_lo, adc.code_hi)
        if len(self.cache) > 16:
            self.cache.clear()
        self.cache[key] = out
        return out


def _quantise(x: FloatArray, adc: Adc) -> FloatArray:
    q = np.floor(x + 0.5)
    np.clip(q, adc.code_lo, adc.code_hi, out=q)
    return q


def _noise(seed: tuple[int, ...], start: int, count: int) -> FloatArray:
    """Unit Gaussian noise for record indices ``start .. start+count-1``, stable per index."""
    if count <= 0:
        return np.zeros(0)
    b0, b1 = start // NOISE_BLOCK, (start + count - 1) // NOISE_BLOCK
    parts = [np.random.default_rng(list(seed) + [b]).standard_normal(NOISE_BLOCK, dtype=np.float32)
             for b in range(b0, b1 + 1)]
    block = parts[0] if len(parts) == 1 else np.concatenate(parts)
    off = start - b0 * NOISE_BLOCK
    return block[off: off + count].astype(np.float64)
