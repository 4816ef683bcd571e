"""The function-generator interface the procedures see (close in spirit to IVI-4.3 IviFgen).

A driver for one vendor family subclasses :class:`FunctionGenerator` and implements the abstract methods
with that family's SCPI (docs/reference/scpi.md §3). Amplitudes are peak-to-peak volts *at the load setting*
(``load_ohm``: 50.0 or ``math.inf`` for High-Z), as the instrument itself reports them; the load setting
changes numbers, not hardware (docs/reference/scpi.md §2.1). Every setter checks the error queue (or reads
back, where the family clamps silently) and raises :class:`~instruments.errors.InstrumentError`.

What every family does alike lives here too, for the drivers (not the procedures): the channel check, the
load setting as a table row's values (:func:`load_encoding`, :data:`LOAD_ABOVE_ZERO`), the amplitude/offset order
of a sine (:func:`amplitude_offset_order`), the High-Z reply (:func:`load_from_reply`) and the single-channel
models (:meth:`FunctionGenerator.configure_model`). The three families with the SCPI-99 SOURce/OUTPut tree
(Keysight, Rigol, Tektronix) share their table and the code that sends it too, through
:class:`~instruments._scpi_source.ScpiSourceGenerator`; every family's settings are rows of
:mod:`instruments.setting_table`.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from ._scpi_format import scpi_number
from .scpi_instrument import ScpiInstrument
from .setting_table import Allowed, Encoding

Tracking = Literal["off", "on", "inverted"]
HIGH_Z = math.inf
#: a load query answers 9.9E+37 for INFinity (Keysight §3.1, Rigol DG §3.2, Tektronix AFG §3.4)
HIGH_Z_REPLY = 1e30

T = TypeVar("T")


def load_from_reply(value: float) -> float:
    """A load setting as read back: ``math.inf`` for the INFinity reply (:data:`HIGH_Z_REPLY` or more)."""
    return math.inf if value >= HIGH_Z_REPLY else value


def load_encoding(high_z: str, number: Callable[[str], float] = float) -> Encoding[float]:
    """A load setting as it travels (docs/reference/scpi.md §2.1): ``high_z`` for ``math.inf``, else ohms; the
    reply read with ``number`` and :func:`load_from_reply`."""
    return Encoding(lambda ohm: high_z if math.isinf(ohm) else scpi_number(ohm),
                    lambda reply: load_from_reply(number(reply)))


#: a load must be > 0 ohm (or ``math.inf``); anything else is an argument error, raised before any I/O
LOAD_ABOVE_ZERO: Allowed[float] = Allowed(lambda ohm: ohm > 0, "load must be > 0 ohm or math.inf, got {value!r}",
                                          names_command=False, error=ValueError)


def tracking_from_reply(reply: str) -> Tracking:
    """A ``TRACk?`` reply as a tracking mode: ``ON`` -> "on", ``OFF`` -> "off", ``INV``/``INVERTED`` ->
    "inverted" (Keysight §3.1, Rigol DG §3.2); any other reply raises :class:`ValueError`."""
    word = reply.strip().upper()
    if word in ("ON", "1"):
        return "on"
    if word in ("OFF", "0"):
        return "off"
    if word.startswith("INV"):
        return "inverted"
    raise ValueError(f"not a tracking mode: {reply!r}")


def amplitude_offset_order(amplitude_vpp: float, current_vpp: float, amplitude: T, offset: T) -> tuple[T, T]:
    """``(amplitude, offset)`` when the amplitude shrinks (or stays), ``(offset, amplitude)`` when it grows.

    docs/reference/scpi.md §2.3: ``|offset| + Vpp/2 <= Vmax``. Shrinking the amplitude before the new offset, or
    growing it after, never passes through a state outside that rule, so no family adjusts one of them on
    the way (the 33500 with a ``-221 Settings conflict``, Rigol DG and Siglent SDG silently). ``amplitude``
    and ``offset`` are whatever the family sends for each: commands, steps or fields.
    """
    return (amplitude, offset) if amplitude_vpp <= current_vpp else (offset, amplitude)


@dataclass(frozen=True)
class GeneratorLimits:
    """What the instrument says it can do for a sine on one channel *at its current settings*.

    These are the instrument's own MIN/MAX answers: the largest amplitude at the present offset and the
    largest offset at the present amplitude (``|offset| + Vpp/2 <= V_max``, docs/reference/scpi.md §2.3), both at
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
    #: models (whole ``*IDN?`` model field, case-insensitive) that have one output; ``None``: none
    single_channel_models: re.Pattern[str] | None = None
    #: the ``*IDN?`` model, once :meth:`configure_model` has been told it
    model: str | None = None

    def configure_model(self, model: str) -> None:
        """Adapt to the model named by ``*IDN?`` (channel count, quirks; no I/O); called by ``open_bench``.

        Remembers the model; one matching :attr:`single_channel_models` has channel 1 only. Families with
        other model quirks extend this.
        """
        self.model = model
        if self.single_channel_models is not None and self.single_channel_models.fullmatch(model.strip()):
            self.channels = (1,)

    # -- checks shared by the drivers (no I/O) -----------------------------------------------------------
    def _check_channel(self, channel: int) -> int:
        """``channel`` if this instrument has it, else :class:`ValueError` naming the instrument."""
        if channel not in self.channels:
            raise ValueError(f"{self.label}: no channel {channel} (channels {self.channels})")
        return channel

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

    def tracking(self) -> Tracking:
        """Read back the tracking mode ("off", "on" or "inverted").

        Families without tracking (and single-channel models) answer "off" without any I/O.
        """
        return "off"

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
