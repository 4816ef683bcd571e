"""The simulated four-channel scope's settings and run control, independent of its SCPI dialect.

The dialect modules (:mod:`.keysight_infiniivision`, :mod:`.rigol_ds1000z`) translate their commands to
this state; the state turns the bench's node signals into :class:`~.acquisition.Acquisition` objects.

Run control (docs/reference/scpi.md §4.1, §4.2):

* ``RUN``: the scope acquires continuously; data read while running come from a fresh acquisition each
  time (channels read one after the other are *not* from the same trigger, as on a real scope).
* ``SINGLE``: armed; the acquisition completes once the acquisition time (record length x averages) has
  passed *and* the trigger condition is met. AUTO sweep (Keysight) auto-triggers at a random phase when the
  level is never crossed; NORMal/SINGle sweep waits for as long as it takes.
* ``STOP``: the last acquisition stays frozen; RAW/MAXimum reads use it.

Signal times: the signal is periodic, so the instant the scope arms is drawn at random within the period
(seeded) and the trigger is the first crossing after it; a free-running (AUTO, untriggered) record starts
at a random phase.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from .acquisition import (
    Acquisition,
    Adc,
    ChannelInput,
    FrontEnd,
    Geometry,
    displayed_tones,
    evaluate,
    find_trigger,
)
from .sim_settings import sim_number, sim_numbers
from .timing_model import InstrumentTiming


@dataclass(frozen=True)
class ScopeHardware:
    """Fixed properties of a scope model (the dialect module cites where each figure comes from).

    ``srate_by_nch``/``mem_by_nch``: maximum sample rate (Sa/s) and record length (points) with 1..4
    channels on. Scales are volts/div at the BNC (probe 1); the probe factor multiplies them.
    """

    h_divs: int
    codes_per_div: float
    centre_code: float
    code_lo: int
    code_hi: int
    scale_min_v: float
    scale_max_v: float
    timebase_min_s: float
    timebase_max_s: float
    srate_by_nch: tuple[float, float, float, float]
    mem_by_nch: tuple[int, int, int, int]
    ac_corner_hz: float
    bw_limit_hz: float
    v_divs: int = 8
    n_channels: int = 4
    integer_centre_codes: bool = False  # Rigol: the preamble's yorigin is a whole number of codes


@dataclass(frozen=True)
class Imperfections:
    """The bench's ``[sim]`` scope imperfections (bench_config.py)."""

    noise_lsb: float = 1.0
    gain_error: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)
    skew_s: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)
    crosstalk_db: float = -70.0
    bandwidth_hz: float = 100e6

    @classmethod
    def from_sim(cls, sim: Mapping[str, object]) -> Imperfections:
        """From a bench config's ``[sim]`` dict."""
        return cls(noise_lsb=sim_number(sim, "scope_noise_lsb", 1.0),
                   gain_error=sim_numbers(sim, "scope_gain_error", (0.0,) * 4),
                   skew_s=sim_numbers(sim, "scope_skew_s", (0.0,) * 4),
                   crosstalk_db=sim_number(sim, "scope_crosstalk_db", -70.0),
                   bandwidth_hz=sim_number(sim, "scope_bandwidth_hz", 100e6))


@dataclass
class ChannelSettings:
    """A channel's vertical settings. ``centre_v`` is the displayed voltage at screen centre (Keysight's
    offset; Rigol's offset is its negative, docs/reference/scpi.md §5)."""

    display: bool = True
    scale_v: float = 1.0
    centre_v: float = 0.0
    coupling: str = "DC"
    probe: float = 1.0
    bw_limit: bool = False
    inverted: bool = False


@dataclass
class Screen:
    """The horizontal window of an acquisition: left edge relative to the trigger and width, s."""

    left_s: float
    window_s: float


@dataclass(frozen=True)
class SignalSummary:
    """What a channel displays, as an autoscale sees it: extremes and mean (displayed volts, probe included)
    and the lowest frequency it carries (0 for DC only)."""

    v_min: float
    v_max: float
    mean: float
    freq_hz: float

    @property
    def span(self) -> float:
        """Peak-to-peak, V."""
        return self.v_max - self.v_min


#: the settings a saved setup carries (besides the channels), with their types
_SETUP_FIELDS: dict[str, tuple[type, ...]] = {
    "h_scale_s": (float,), "h_position_s": (float,), "h_reference": (float,), "acq_type": (str,),
    "avg_count": (int,), "trig_source": (int, str), "trig_level_v": (float,), "trig_slope": (str,),
    "trig_coupling": (str,), "sweep": (str,)}


#: longest sleep of a blocking acquisition before it checks that its client is still there, s
LIVENESS_S = 0.1
#: sleep between two looks for a trigger once a blocking acquisition's time is up, s
TRIGGER_POLL_S = 0.01

#: ``plan(state) -> (raw record geometry, screen)``, the family's memory/sample-rate rule
MemoryPlan = Callable[["ScopeState"], tuple[Geometry, Screen]]
SignalSource = Callable[[], Mapping[int, ChannelInput]]


class ScopeState:
    """Settings, trigger and run state of the simulated scope; builds acquisitions from the bench signals."""

    def __init__(self, hw: ScopeHardware, imperfections: Imperfections, source: SignalSource,
                 plan: MemoryPlan, defaults: ChannelSettings, *, seed: int = 0) -> None:
        self.hw = hw
        self.imp = imperfections
        self.source = source
        self.plan = plan
        self.defaults = defaults
        self.seed = seed & 0xFFFFFFFF
        self._rng = np.random.default_rng([self.seed, 4])
        self._acq_counter = 0
        #: the real scope's timing (instruments.sim.timing_model), set by the bench; None: none accounted
        self.timing: InstrumentTiming | None = None
        self.reset()

    def reset(self) -> None:
        """Factory state: all four channels on at the family default, running, AUTO edge trigger on CH1."""
        self.channels = [replace(self.defaults) for _ in range(self.hw.n_channels)]
        self.h_scale_s = 100e-6
        self.h_position_s = 0.0
        self.h_reference = 0.5
        self.acq_type = "NORM"
        self.avg_count = 8
        self.trig_source: int | str = 1
        self.trig_level_v = 0.0
        self.trig_slope = "POS"
        self.trig_coupling = "DC"
        self.sweep = "AUTO"
        self.run_state = "RUN"
        self.single_ready_s = 0.0
        self.single_auto = True
        self.triggered_event = False
        self.last: Acquisition | None = None

    # -- derived settings ---------------------------------------------------------------------------
    def channel(self, n: int) -> ChannelSettings:
        """Channel ``n`` (1-based)."""
        return self.channels[n - 1]

    def n_on(self) -> int:
        """Number of channels displayed (at least 1 for the memory rules)."""
        return max(1, sum(c.display for c in self.channels))

    def screen(self) -> Screen:
        """Present horizontal window: ``left = position - reference x divisions x scale``."""
        window = self.hw.h_divs * self.h_scale_s
        return Screen(self.h_position_s - self.h_reference * window, window)

    def frontend(self, n: int) -> FrontEnd:
        """Channel ``n``'s analog path with the present settings."""
        c = self.channel(n)
        return FrontEnd(gain_error=self.imp.gain_error[n - 1], skew_s=self.imp.skew_s[n - 1],
                        bandwidth_hz=self.imp.bandwidth_hz, probe=c.probe, coupling=c.coupling,
                        ac_corner_hz=self.hw.ac_corner_hz,
                        bw_limit_hz=self.hw.bw_limit_hz if c.bw_limit else None, inverted=c.inverted)

    def adc(self, n: int) -> Adc:
        """Channel ``n``'s ADC mapping: LSB = (V/div)/(codes per div) (docs/reference/measurement-methods.md §2.1)."""
        c = self.channel(n)
        lsb = c.scale_v / self.hw.codes_per_div
        centre = round(c.centre_v / lsb) * lsb if self.hw.integer_centre_codes else c.centre_v
        return Adc(centre_v=centre, lsb_v=lsb, centre_code=self.hw.centre_code, code_lo=self.hw.code_lo,
                   code_hi=self.hw.code_hi)

    def averages(self) -> int:
        """Records averaged into one acquisition: the average count in AVER mode, else 1."""
        return self.avg_count if self.acq_type == "AVER" else 1

    def sample_rate_sa_s(self) -> float:
        """Sample rate of the record the present settings acquire (the family's memory plan), Sa/s."""
        return 1.0 / self.plan(self)[0].dt_s

    def record_length(self) -> int:
        """Points per channel of the record the present settings acquire (the family's memory plan)."""
        return self.plan(self)[0].n

    def acquisition_time_s(self) -> float:
        """How long one (possibly averaged) acquisition takes on the instrument, s."""
        return self.screen().window_s * (self.avg_count if self.acq_type == "AVER" else 1) + 2e-3

    # -- acquiring ---------------------------------------------------------------------------------
    def try_acquire(self, allow_auto: bool) -> Acquisition | None:
        """One acquisition with the present settings and signals, or None if the trigger condition is not
        met and the sweep may not auto-trigger."""
        inputs = self.source()
        tones = {n: displayed_tones(inputs, n, self.frontend(n), self.imp.crosstalk_db)
                 for n in range(1, self.hw.n_channels + 1)}
        periods = [1.0 / t.freq_hz for ts in tones.values() for t in ts if t.freq_hz > 0]
        period = max(periods) if periods else 1.0
        arm = float(self._rng.uniform(0.0, period))
        t_trig: float | None = None
        triggered = False
        src = self.trig_source
        if isinstance(src, int):
            t_trig = find_trigger(tones[src], self.trig_level_v, self.trig_slope, arm,
                                  dc_blocked=self.trig_coupling in ("AC", "LFR"))
            triggered = t_trig is not None
        elif src == "LINE":  # mains is unrelated to the generator: a trigger at a random phase
            t_trig, triggered = arm, True
        if t_trig is None:
            if not allow_auto:
                return None
            t_trig = arm
        raw, screen = self.plan(self)
        fs = 1.0 / raw.dt_s
        noise = {}
        for n in range(1, self.hw.n_channels + 1):
            fe = self.frontend(n)
            lsb = self.adc(n).lsb_v
            enbw = min(fs / 2.0, fe.noise_bandwidth_hz)
            board_v = inputs[n].noise_v_per_rthz * abs((1.0 + fe.gain_error) * fe.probe) * math.sqrt(enbw)
            if fe.coupling == "GND":
                board_v = 0.0
            noise[n] = math.hypot(self.imp.noise_lsb, board_v / lsb)
        self._acq_counter += 1
        acq = Acquisition(tones=tones, adc={n: self.adc(n) for n in tones}, noise_lsb=noise, t_trigger_s=t_trig,
                          triggered=triggered, averages=self.averages(),
                          high_res=self.acq_type == "HRES", raw=raw, screen_left_s=screen.left_s,
                          screen_window_s=screen.window_s, seed=(self.seed, self._acq_counter),
                          channels=tuple(n for n in tones if self.channel(n).display))
        if triggered:
            self.triggered_event = True
        return acq

    def current(self) -> Acquisition | None:
        """The acquisition a data read returns now: a fresh one while running, else the frozen one."""
        if self.run_state == "RUN":
            acq = self.try_acquire(allow_auto=self.sweep == "AUTO")
            if acq is not None:
                self.last = acq
        elif self.run_state == "SINGLE":
            self.poll_single()
        return self.last

    def run(self) -> None:
        """``:RUN``."""
        self.run_state = "RUN"

    def stop(self) -> None:
        """``:STOP``: freeze the last acquisition (taking one if the scope was running)."""
        if self.run_state == "RUN":
            acq = self.try_acquire(allow_auto=self.sweep == "AUTO")
            if acq is not None:
                self.last = acq
        self.run_state = "STOP"

    def arm_single(self, auto: bool) -> None:
        """``:SINGle``: arm one acquisition; ``auto`` lets it auto-trigger (Keysight AUTO sweep)."""
        self.run_state = "SINGLE"
        self.single_auto = auto
        self.single_ready_s = time.monotonic() + self._accounted_acquisition_s()

    def _accounted_acquisition_s(self) -> float:
        """The time a single acquisition takes here: the simulator's own, or the real scope's model when timing is
        on; both accounted in the timing ledger."""
        sim_s = self.acquisition_time_s()
        if self.timing is None:
            return sim_s
        src, inputs = self.trig_source, self.source()
        tones = inputs[src].tones if isinstance(src, int) and src in inputs else ()
        period = max((1.0 / t.freq_hz for t in tones if t.freq_hz > 0), default=None)
        model_s = self.timing.model.acquisition_s(self.screen().window_s, self.averages(), period)
        self.timing.ledger.acquisition(model_s, sim_s)
        return model_s if self.timing.on else sim_s

    def force_trigger(self) -> None:
        """A forced trigger (Rigol ``:TFORce``, Siglent ``FTRIG``): a pending single completes at once, untriggered
        if need be; a running scope takes one acquisition; a stopped one ignores it."""
        if self.run_state == "SINGLE":
            self.last = self.try_acquire(allow_auto=True)
            self.run_state = "STOP"
        elif self.run_state == "RUN":
            self.last = self.try_acquire(allow_auto=True)

    def single_wait_s(self) -> float:
        """How long a command that blocks until the pending single acquisition completes sleeps before it looks
        again: until the record's time is up (nothing can complete before), at most :data:`LIVENESS_S` so that
        a client that has gone is noticed; then :data:`TRIGGER_POLL_S` between looks for a trigger."""
        left = self.single_ready_s - time.monotonic()
        return min(LIVENESS_S, max(1e-4, left)) if left > 0 else TRIGGER_POLL_S

    def poll_single(self) -> bool:
        """Complete a pending single acquisition if its time has come and it can trigger; True when done."""
        if self.run_state != "SINGLE":
            return True
        if time.monotonic() < self.single_ready_s:
            return False
        acq = self.try_acquire(allow_auto=self.single_auto)
        if acq is None:
            return False
        self.last = acq
        self.run_state = "STOP"
        return True

    # -- saved setups and autoscale ------------------------------------------------------------------
    def settings_snapshot(self) -> dict[str, object]:
        """The user settings a saved setup holds (channels, timebase, acquisition, trigger), JSON-friendly;
        the run state and the acquired data are not part of a setup."""
        saved: dict[str, object] = {name: getattr(self, name) for name in _SETUP_FIELDS}
        saved["channels"] = [asdict(c) for c in self.channels]
        return saved

    def restore_settings(self, saved: Mapping[str, object]) -> bool:
        """Apply a :meth:`settings_snapshot`; False (and nothing changed) if it is not one of this model's."""
        channels = saved.get("channels")
        if not isinstance(channels, list) or len(channels) != self.hw.n_channels:
            return False
        kinds = {f.name: {"bool": (bool,), "float": (float,), "str": (str,)}[str(f.type)]
                 for f in fields(ChannelSettings)}
        restored = []
        for c in channels:
            if not isinstance(c, dict) or set(c) != set(kinds):
                return False
            typed = {name: _typed(c[name], kinds[name]) for name in kinds}
            if any(v is None for v in typed.values()) or not _positive(typed["scale_v"], typed["probe"]):
                return False
            restored.append(ChannelSettings(**typed))  # type: ignore[arg-type]
        values = {name: _typed(saved.get(name), types) for name, types in _SETUP_FIELDS.items()}
        if any(v is None for v in values.values()) or not _positive(values["h_scale_s"], values["avg_count"]):
            return False
        self.channels = restored
        for name, value in values.items():
            setattr(self, name, value)
        return True

    def displayed_signal(self, n: int) -> SignalSummary:
        """Channel ``n``'s displayed signal with the present front-end settings (no noise): extremes, mean and
        lowest frequency, evaluated over four periods of the lowest frequency (the channels' tones may beat)."""
        tones = displayed_tones(self.source(), n, self.frontend(n), self.imp.crosstalk_db)
        mean = float(sum(np.real(np.asarray(t.coeffs, dtype=complex)[0]) for t in tones if len(t.coeffs)))
        freqs = [t.freq_hz for t in tones if t.freq_hz > 0 and np.any(np.abs(np.asarray(t.coeffs)[1:]) > 1e-12)]
        if not freqs:
            return SignalSummary(mean, mean, mean, 0.0)
        f0 = min(freqs)
        t = np.linspace(0.0, 4.0 / f0, 8192, endpoint=False)
        v = evaluate(tones, t)
        return SignalSummary(float(np.min(v)), float(np.max(v)), mean, f0)


def _typed(value: object, types: tuple[type, ...]) -> object | None:
    """``value`` if it is one of ``types`` (an int also passes as a finite float; a bool only as a bool), else
    None: the check a restored setup's fields go through."""
    if isinstance(value, bool):
        return value if bool in types else None
    if isinstance(value, int) and float in types and int not in types:
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if isinstance(value, types) else None


def _positive(*values: object) -> bool:
    """True if every value is a number above zero."""
    return all(isinstance(v, int | float) and v > 0 for v in values)
