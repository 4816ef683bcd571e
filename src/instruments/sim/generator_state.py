"""The physical state of the simulated two-channel function generator, independent of its SCPI dialect.

Physics kept honest (docs/reference/scpi.md §2):

* Each channel is an EMF behind a fixed source resistance (``[sim] gen_source_r_ohm``, nominally 50 Ohm).
  The *load setting* only tells the firmware how to convert a requested value into that EMF,
  ``EMF = V_set (R_set + 50)/R_set`` (``R_set = inf``: ``EMF = V_set``), §2.1. The state therefore
  stores EMFs; the dialects convert on every set and query, so changing the load setting rescales the
  queried value and leaves the output alone (§2.1, 33500 manual).
* Limits are stated in EMF terms: ``|offset| + Vpp/2 <= 10 V`` (5 V into 50 Ohm, 10 V High-Z) and
  2 mVpp ... 20 Vpp (1 mVpp ... 10 Vpp into 50 Ohm), §2.3, §3.1, §3.2.
* Channel 2's analog path differs from channel 1's by ``[sim] gen_amplitude_mismatch_db`` and
  ``gen_phase_mismatch_deg`` (docs/reference/measurement-methods.md §3.3: this is what limits a two-channel CM drive).
* The two channels are separate DDS engines: changing a channel's frequency leaves its phase accumulator
  at an arbitrary phase relative to the other channel until the phase-align action
  (``PHASe:SYNChronize`` / ``PHASe:INITiate``) resets both (docs/reference/scpi.md §2.4 "re-run the phase-align action
  after any frequency change"). Tracking keeps the channels locked.
* ``TRACk ON|INVerted`` makes channel 2 copy every channel-1 setting; INVerted inverts its waveform about
  the (shared, not inverted) offset (§2.4, §3.1; the Rigol excerpt does not say, §6 item 1, so the
  Keysight behaviour is used for both).
* Output polarity INVerted inverts about the offset level (§3.1, §3.2).

The simulator models the SINusoid and DC functions; the dialects accept the other shapes' names but refuse
to select them with a settings conflict, so a test can never silently measure the wrong waveform.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from .board import Drive
from .sim_settings import sim_number

NOMINAL_SOURCE_R_OHM = 50.0  # what the firmware assumes when converting (docs/reference/scpi.md §2.1)
HIGH_Z = math.inf

MODELLED_FUNCTIONS = ("SIN", "DC")


@dataclass(frozen=True)
class GeneratorLimits:
    """Model limits in EMF terms (V open circuit) and Hz."""

    freq_min_hz: float
    freq_max_hz: float
    vpp_min_emf: float = 2e-3
    vpp_max_emf: float = 20.0
    vpeak_max_emf: float = 10.0
    load_min_ohm: float = 1.0
    load_max_ohm: float = 10e3


@dataclass
class ChannelState:
    """One channel's settings; amplitudes and offsets are EMFs (V), the load is the *setting* (Ohm)."""

    function: str = "SIN"
    freq_hz: float = 1e3
    vpp_emf: float = 0.2
    offset_emf: float = 0.0
    phase_deg: float = 0.0
    load_ohm: float = 50.0
    unit: str = "VPP"
    output_on: bool = False
    inverted: bool = False
    accumulator_rad: float = 0.0  # DDS phase relative to the last phase-align

    def amplitude_vpp(self) -> float:
        """The amplitude as the instrument reports it: Vpp at the load setting (docs/reference/scpi.md §2.1)."""
        return self.vpp_emf / self.emf_scale()

    def offset_v(self) -> float:
        """The offset as the instrument reports it: V at the load setting (docs/reference/scpi.md §2.1)."""
        return self.offset_emf / self.emf_scale()

    def emf_scale(self) -> float:
        """EMF per volt of the value requested at this channel's load setting (docs/reference/scpi.md §2.1)."""
        if math.isinf(self.load_ohm):
            return 1.0
        return (self.load_ohm + NOMINAL_SOURCE_R_OHM) / self.load_ohm


@dataclass(frozen=True)
class GeneratorSnapshot:
    """A saved generator setup: copies of both channels' settings and the tracking mode."""

    channels: tuple[ChannelState, ...]
    track: str


class GeneratorState:
    """Two channels, tracking, phase alignment and the analog imperfections of the simulated generator.

    ``defaults`` is the family's ``*RST`` channel state. Settings go through :meth:`update` so tracking
    can mirror them; every method is called with the owning device's lock held.
    """

    def __init__(self, limits: GeneratorLimits, defaults: ChannelState, *, source_r_ohm: float = 50.0,
                 ch2_gain_db: float = 0.0, ch2_phase_deg: float = 0.0, seed: int = 0) -> None:
        self.limits = limits
        self.defaults = defaults
        self.source_r_ohm = float(source_r_ohm)
        self.ch2_gain = 10.0 ** (ch2_gain_db / 20.0) * np.exp(1j * math.radians(ch2_phase_deg))
        self._rng = np.random.default_rng([seed, 33])
        self.track = "OFF"
        self.channels: list[ChannelState] = []
        self.version = 0  # bumped on every change, so a scope can tell when to re-solve the board
        self.switch_on_count = 0  # outputs switched from off to on since the bench started (for tests)
        self.listeners: list[Callable[[], None]] = []
        self.reset()

    @classmethod
    def from_sim(cls, limits: GeneratorLimits, defaults: ChannelState, sim: Mapping[str, object],
                 seed: int = 0) -> GeneratorState:
        """A family's state with the imperfections of a bench config's ``[sim]`` section."""
        return cls(limits, defaults, source_r_ohm=sim_number(sim, "gen_source_r_ohm", 50.0),
                   ch2_gain_db=sim_number(sim, "gen_amplitude_mismatch_db", 0.0),
                   ch2_phase_deg=sim_number(sim, "gen_phase_mismatch_deg", 0.0), seed=seed)

    def reset(self) -> None:
        """``*RST``: both channels at the family defaults, outputs off, tracking off, phases aligned."""
        self.channels = [replace(self.defaults), replace(self.defaults)]
        self.track = "OFF"
        self._changed()

    def _changed(self) -> None:
        self.version += 1
        for fn in self.listeners:
            fn()

    def channel(self, n: int) -> ChannelState:
        """Channel ``n`` (1-based)."""
        return self.channels[n - 1]

    # -- settings --------------------------------------------------------------------------------
    def update(self, n: int, **changes: object) -> None:
        """Apply settings to channel ``n``; with tracking on they apply to both channels (docs/reference/scpi.md §3.1:
        "afterwards a change on either channel appears on both"). Output state never tracks."""
        targets = [1, 2] if self.track != "OFF" and set(changes) - {"output_on"} else [n]
        for m in targets:
            ch = self.channel(m)
            for key, value in changes.items():
                if key == "output_on" and m != n:
                    continue
                if key == "output_on" and value and not ch.output_on:
                    self.switch_on_count += 1
                setattr(ch, key, value)
            if "freq_hz" in changes and self.track == "OFF":
                # separate DDS engines: the relative phase is lost until the next phase-align (§2.4)
                ch.accumulator_rad = float(self._rng.uniform(0.0, 2.0 * math.pi))
        self._changed()

    def set_track(self, mode: str) -> None:
        """``OFF``, ``ON`` or ``INV``: ON/INV copy every channel-1 setting (except the output state) to
        channel 2 and lock the phases; OFF leaves both channels at their current values (§3.1, §3.2)."""
        self.track = mode
        if mode != "OFF":
            src, dst = self.channels
            keep_on = dst.output_on
            self.channels[1] = replace(src, output_on=keep_on, accumulator_rad=src.accumulator_rad)
        self._changed()

    def phase_align(self) -> None:
        """``PHASe:SYNChronize`` / ``PHASe:INITiate``: reset both phase accumulators to a common zero."""
        for ch in self.channels:
            ch.accumulator_rad = 0.0
        self._changed()

    def notify(self) -> None:
        """Record a change made directly on a :class:`ChannelState` (bumps :attr:`version`)."""
        self._changed()

    # -- saved setups and channel copy -------------------------------------------------------------
    def snapshot(self) -> GeneratorSnapshot:
        """Both channels' settings and the tracking mode, as a saved setup keeps them (``*SAV``)."""
        return GeneratorSnapshot(tuple(replace(c) for c in self.channels), self.track)

    def restore(self, snap: GeneratorSnapshot) -> None:
        """``*RCL``: the saved settings of both channels and the tracking mode. The output relays stay as they
        are (a recall must not switch a bench's outputs on), and a channel whose frequency changes loses its
        phase relation to the other until the next phase-align, as any frequency change does (§2.4)."""
        for m, saved in enumerate(snap.channels[:len(self.channels)], 1):
            ch = self.channel(m)
            new = replace(saved, output_on=ch.output_on, accumulator_rad=ch.accumulator_rad)
            if new.freq_hz != ch.freq_hz and snap.track == "OFF":
                new.accumulator_rad = float(self._rng.uniform(0.0, 2.0 * math.pi))
            self.channels[m - 1] = new
        self.track = snap.track
        if self.track != "OFF":
            self.channels[1].accumulator_rad = self.channels[0].accumulator_rad  # tracking keeps them locked
        self._changed()

    def copy_channel(self, src: int, dst: int) -> None:
        """Copy every setting of channel ``src`` to channel ``dst`` except the output relay; the copy runs at the
        source's phase accumulator only if the frequencies already agreed (else its phase is arbitrary, §2.4)."""
        if src == dst:
            return
        a, b = self.channel(src), self.channel(dst)
        acc = a.accumulator_rad if a.freq_hz == b.freq_hz else float(self._rng.uniform(0.0, 2.0 * math.pi))
        self.channels[dst - 1] = replace(a, output_on=b.output_on, accumulator_rad=acc)
        self._changed()

    # -- limits (EMF) ----------------------------------------------------------------------------
    def max_vpp_emf(self, ch: ChannelState, offset_emf: float | None = None) -> float:
        """Largest EMF Vpp allowed with the given (or present) offset: ``2 (Vmax - |offset|)`` (§2.3)."""
        off = ch.offset_emf if offset_emf is None else offset_emf
        return max(0.0, min(self.limits.vpp_max_emf, 2.0 * (self.limits.vpeak_max_emf - abs(off))))

    def max_offset_emf(self, ch: ChannelState, vpp_emf: float | None = None) -> float:
        """Largest |offset| EMF allowed with the given (or present) amplitude (§2.3)."""
        vpp = ch.vpp_emf if vpp_emf is None else vpp_emf
        if ch.function == "DC":
            vpp = 0.0
        return max(0.0, self.limits.vpeak_max_emf - vpp / 2.0)

    # -- what the board sees ----------------------------------------------------------------------
    def drive(self, n: int) -> Drive:
        """Channel ``n`` as the board sees it: open-circuit EMF (dc + complex peak phasor) behind the source
        resistance, enabled when the output relay is closed.

        A sine ``A sin(w t + phi)`` is the phasor ``A e^{j(phi - pi/2)}`` in ``Re(ac e^{j w t})``.
        """
        ch = self.channel(n)
        if ch.function == "DC":
            return Drive(dc_v=ch.offset_emf, ac_v=0j, source_r_ohm=self.source_r_ohm, enabled=ch.output_on)
        sign = -1.0 if ch.inverted else 1.0
        if n == 2 and self.track == "INV":
            sign = -sign
        phase = math.radians(ch.phase_deg) + ch.accumulator_rad - math.pi / 2.0
        ac = sign * ch.vpp_emf / 2.0 * complex(math.cos(phase), math.sin(phase))
        if n == 2:
            ac *= complex(self.ch2_gain)
        return Drive(dc_v=ch.offset_emf, ac_v=ac, source_r_ohm=self.source_r_ohm, enabled=ch.output_on)

    def drives(self) -> tuple[Drive, Drive]:
        """Both channels' :class:`Drive`."""
        return self.drive(1), self.drive(2)

    def outputs_on(self) -> tuple[bool, bool]:
        """Output relay state of channel 1 and 2."""
        return self.channels[0].output_on, self.channels[1].output_on

    def frequencies(self) -> tuple[float, float]:
        """Frequency of channel 1 and 2, Hz (0 for the DC function)."""
        f1, f2 = (0.0 if c.function == "DC" else c.freq_hz for c in self.channels)
        return f1, f2


def vpp_to_unit(vpp: float, unit: str, load_ohm: float) -> float:
    """Express a sine's Vpp (at the load) in ``VPP``, ``VRMS`` or ``DBM`` (docs/reference/scpi.md §2.2)."""
    if unit == "VPP":
        return vpp
    vrms = vpp / (2.0 * math.sqrt(2.0))
    if unit == "VRMS":
        return vrms
    return 10.0 * math.log10(max(vrms, 1e-30) ** 2 / (load_ohm * 1e-3))


def unit_to_vpp(value: float, unit: str, load_ohm: float) -> float:
    """Inverse of :func:`vpp_to_unit`: a value in ``unit`` at the load -> Vpp at the load (§2.2)."""
    if unit == "VPP":
        return value
    if unit == "VRMS":
        return value * 2.0 * math.sqrt(2.0)
    vrms = math.sqrt(10.0 ** (value / 10.0) * load_ohm * 1e-3)
    return vrms * 2.0 * math.sqrt(2.0)


