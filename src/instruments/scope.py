"""The oscilloscope interface the procedures see (close in spirit to IVI-4.1 IviScope).

A driver for one vendor family subclasses :class:`Oscilloscope` (reference/scpi.md §4). Waveforms always
travel as binary IEEE 488.2 blocks (never ASCII) and come back as :class:`~instruments.waveform.Waveform`
with raw codes, scaling and time axis. Every setter checks the error queue, or reads back where the family
silently keeps the old value, and raises :class:`~instruments.errors.InstrumentError`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal, Sequence

from .scpi_instrument import ScpiInstrument
from .waveform import Waveform

Coupling = Literal["DC", "AC"]
AcquisitionMode = Literal["normal", "average", "highres", "peak"]


@dataclass(frozen=True)
class ScopeChannelState:
    """A channel's vertical settings as read back; ``offset_v`` is the voltage at the screen centre."""

    enabled: bool
    scale_v_per_div: float
    offset_v: float
    coupling: str
    impedance_ohm: float
    probe: float
    bandwidth_limit: bool


class Oscilloscope(ScpiInstrument, ABC):
    """A four-channel oscilloscope. Channels are numbered from 1."""

    channels: tuple[int, ...] = (1, 2, 3, 4)
    vertical_divisions: int = 8
    horizontal_divisions: int = 10
    #: a numpy integer dtype that holds every code this family transfers in normal acquisition
    #: (8-bit families and signed 16-bit families fit int16; unsigned 16-bit ones override)
    code_dtype: str = "int16"

    @abstractmethod
    def set_channel(self, channel: int, *, enabled: bool | None = None, scale_v_per_div: float | None = None,
                    offset_v: float | None = None, coupling: Coupling | None = None,
                    impedance_ohm: float | None = None, probe: float | None = None,
                    bandwidth_limit: bool | None = None) -> None:
        """Set any of a channel's vertical settings (None leaves one as it is).

        ``offset_v`` is the IVI meaning on every family: the voltage at the centre of the screen (drivers
        whose instrument counts the other way, such as Rigol and Siglent, negate it on the wire).
        """

    @abstractmethod
    def channel_state(self, channel: int) -> ScopeChannelState:
        """Read back a channel's vertical settings."""

    @abstractmethod
    def set_timebase(self, scale_s_per_div: float, position_s: float = 0.0) -> None:
        """Horizontal scale (s/div) and trigger position (s)."""

    @abstractmethod
    def timebase(self) -> tuple[float, float]:
        """Read back (scale_s_per_div, position_s)."""

    @abstractmethod
    def set_record_length(self, points: int) -> int:
        """Request a record length (points per channel); returns what the instrument will deliver."""

    def record_length_for(self, points: int, n_channels: int) -> int:
        """The record length to request so that at least ``points`` arrive with ``n_channels`` on.

        Families with a fixed menu of memory depths override this; the default asks for ``points``.
        """
        return points

    @abstractmethod
    def set_trigger_edge(self, source_channel: int, level_v: float, slope: Literal["rising", "falling"] = "rising") -> None:
        """Edge trigger on a channel at a level (V)."""

    @abstractmethod
    def set_acquisition(self, mode: AcquisitionMode = "normal", average_count: int = 1) -> None:
        """Acquisition mode and, for "average", the number of records averaged."""

    @abstractmethod
    def single(self, timeout_s: float = 10.0) -> None:
        """Take one acquisition of all enabled channels together and wait until it is complete."""

    @abstractmethod
    def read_waveform(self, channel: int) -> Waveform:
        """Transfer the last acquisition of one channel as a binary block."""

    def acquire(self, channels: Sequence[int], timeout_s: float = 10.0) -> dict[int, Waveform]:
        """One acquisition of all ``channels`` together, then each channel's transfer."""
        self.single(timeout_s)
        return {ch: self.read_waveform(ch) for ch in channels}

    @abstractmethod
    def run(self) -> None:
        """Leave the scope running (its safe state)."""

    def safe_state(self) -> None:
        """Scope safe state: running, so the front panel is live for the user."""
        self.run()
