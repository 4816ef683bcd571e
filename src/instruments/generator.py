"""The function-generator interface the procedures see (close in spirit to IVI-4.3 IviFgen).

A driver for one vendor family subclasses :class:`FunctionGenerator` and implements the abstract methods
with that family's SCPI (reference/scpi.md §3). Amplitudes are peak-to-peak volts *at the load setting*
(``load_ohm``: 50.0 or ``math.inf`` for High-Z), as the instrument itself reports them; the load setting
changes numbers, not hardware (reference/scpi.md §2.1). Every setter checks the error queue (or reads
back, where the family clamps silently) and raises :class:`~instruments.errors.InstrumentError`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

from .scpi_instrument import ScpiInstrument

Tracking = Literal["off", "on", "inverted"]
HIGH_Z = math.inf


@dataclass(frozen=True)
class GeneratorLimits:
    """What the instrument says it can do for a sine on one channel *at its current settings*.

    These are the instrument's own MIN/MAX answers: the largest amplitude at the present offset and the
    largest offset at the present amplitude (``|offset| + Vpp/2 <= V_max``, reference/scpi.md §2.3), both at
    the present load setting.
    """

    amplitude_min_vpp: float
    amplitude_max_vpp: float
    offset_max_v: float
    frequency_max_hz: float


@dataclass(frozen=True)
class ChannelState:
    """A channel's settings as read back from the instrument."""

    function: str          # "sine" or "dc"
    frequency_hz: float
    amplitude_vpp: float
    offset_v: float
    phase_deg: float
    load_ohm: float
    output: bool


class FunctionGenerator(ScpiInstrument, ABC):
    """A two-channel function generator. Channels are numbered from 1."""

    channels: tuple[int, ...] = (1, 2)
    #: the family's ways to make a differential pair: "tracking-inverted" and/or "phase-180"
    differential_methods: tuple[str, ...] = ("phase-180",)

    def configure_model(self, model: str) -> None:
        """Adapt to the model named by ``*IDN?`` (channel count, quirks); called by ``open_bench``."""

    # -- per channel ---------------------------------------------------------------------------------
    @abstractmethod
    def set_sine(self, channel: int, frequency_hz: float, amplitude_vpp: float, offset_v: float,
                 phase_deg: float = 0.0) -> None:
        """Configure a sine: frequency (Hz), amplitude (Vpp at the load setting), offset (V), phase (deg)."""

    @abstractmethod
    def set_dc(self, channel: int, level_v: float) -> None:
        """Configure a DC output at ``level_v`` volts (at the load setting)."""

    @abstractmethod
    def set_frequency(self, channel: int, frequency_hz: float) -> None:
        """Set the frequency, Hz."""

    @abstractmethod
    def set_amplitude(self, channel: int, amplitude_vpp: float) -> None:
        """Set the amplitude, Vpp at the load setting."""

    @abstractmethod
    def set_offset(self, channel: int, offset_v: float) -> None:
        """Set the DC offset, V at the load setting."""

    @abstractmethod
    def set_phase(self, channel: int, phase_deg: float) -> None:
        """Set the phase, degrees."""

    @abstractmethod
    def set_load(self, channel: int, load_ohm: float) -> None:
        """Set the load the amplitude refers to: ohms, or ``math.inf`` for High-Z."""

    @abstractmethod
    def set_output(self, channel: int, on: bool) -> None:
        """Switch the channel's output on or off."""

    @abstractmethod
    def channel_state(self, channel: int) -> ChannelState:
        """Read back every setting of one channel."""

    @abstractmethod
    def limits(self, channel: int) -> GeneratorLimits:
        """Sine limits at the current load setting, queried from the instrument where it can tell them."""

    # -- across channels -------------------------------------------------------------------------------
    @abstractmethod
    def sync_phase(self) -> None:
        """Re-align the two channels' phase (run after every frequency change and after outputs go on)."""

    def set_tracking(self, mode: Tracking) -> None:
        """Channel 2 follows channel 1 ("on") or follows it inverted ("inverted"); "off" to release.

        Families without tracking raise :class:`NotImplementedError`; use two channels 180 degrees apart.
        """
        raise NotImplementedError(f"{self.label}: this family has no channel tracking")

    def outputs_off(self) -> None:
        """Switch every output off. Tries every channel even if one fails, then re-raises the first error."""
        first: Exception | None = None
        for ch in self.channels:
            try:
                self.set_output(ch, False)
            except Exception as exc:  # keep going: the other channel must still go off
                first = first or exc
        if first is not None:
            raise first

    def safe_state(self) -> None:
        """Generator safe state: all outputs off."""
        self.outputs_off()
