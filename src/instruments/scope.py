"""The oscilloscope interface the procedures see (close in spirit to IVI-4.1 IviScope).

A driver for one vendor family subclasses :class:`Oscilloscope` (reference/scpi.md §4). Waveforms always
travel as binary IEEE 488.2 blocks (never ASCII) and come back as :class:`~instruments.waveform.Waveform`
with raw codes, scaling and time axis. Every setter checks the error queue, or reads back where the family
silently keeps the old value, and raises :class:`~instruments.errors.InstrumentError`.

What every family does alike lives in :class:`Oscilloscope` too, for the drivers (not the procedures):
argument checks that raise before any I/O, the polling loop of ``single()`` with its time limit
(:meth:`Oscilloscope._poll_until`, :meth:`Oscilloscope._wait_for_stop`), putting transfer settings back
(:meth:`Oscilloscope._restoring`) and reading a deep record in windows (:meth:`Oscilloscope._read_in_windows`).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Literal, Mapping, Sequence, TypeVar

from .errors import InstrumentConnectionError, InstrumentError, InstrumentTimeout
from .scpi_instrument import ScpiInstrument
from .waveform import Waveform

Coupling = Literal["DC", "AC"]
AcquisitionMode = Literal["normal", "average", "highres", "peak"]
#: the input impedances the interface knows (Ohm); a family may offer fewer
IMPEDANCES = (50.0, 1e6)

S = TypeVar("S")


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
    #: how the family's commands name a channel, ``{}`` standing for its number (``:CHANnel{}``)
    channel_node: str = ":CHANnel{}"
    #: seconds between two status polls in ``single()`` (families that poll)
    poll_interval_s: float = 0.02
    #: how long :meth:`_wait_for_stop` waits to see the scope leave STOP before taking STOP as "already done"
    arm_window_s: float = 1.0
    #: clock and sleep of the polling loop (replaceable in tests)
    _clock: Callable[[], float] = staticmethod(time.monotonic)
    _sleep: Callable[[float], None] = staticmethod(time.sleep)
    #: bytes pyvisa asks the transport for per read during a block transfer (bigger is faster)
    transfer_chunk_bytes: int = 1 << 20

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

    # -- checks shared by the drivers (no I/O) -----------------------------------------------------------
    def _channel(self, channel: int) -> str:
        """The channel's node in the family's spelling (:attr:`channel_node`); a channel this scope does not
        have raises :class:`InstrumentError`."""
        if channel not in self.channels:
            raise InstrumentError(self.label, f"no channel {channel} (channels are {self.channels})")
        return self.channel_node.format(channel)

    def _check_coupling(self, coupling: str | None, command: str) -> None:
        """Raise unless ``coupling`` is None, "DC" or "AC" (``command`` names the setting in the error)."""
        if coupling is not None and coupling not in ("DC", "AC"):
            raise InstrumentError(self.label, f"coupling must be 'DC' or 'AC', got {coupling!r}", command)

    def _check_impedance(self, impedance_ohm: float | None, command: str, what: str = "input impedance") -> None:
        """Raise unless ``impedance_ohm`` is None or one of :data:`IMPEDANCES`."""
        if impedance_ohm is not None and impedance_ohm not in IMPEDANCES:
            raise InstrumentError(self.label, f"{what} must be 50 or 1e6 Ohm, got {impedance_ohm:g}", command)

    def _check_timebase_scale(self, scale_s_per_div: float) -> None:
        """Raise unless the horizontal scale is > 0 s/div."""
        if not scale_s_per_div > 0:
            raise InstrumentError(self.label, f"timebase scale must be > 0 s/div, got {scale_s_per_div!r}")

    def _check_record_length(self, points: int) -> int:
        """``points`` as an int; raise unless it is a positive integer."""
        if int(points) != points or points < 1:
            raise InstrumentError(self.label, f"record length must be a positive integer, got {points!r}")
        return int(points)

    def _slope_token(self, slope: str, tokens: Mapping[str, str]) -> str:
        """The family's word for "rising"/"falling" (``tokens``); any other slope raises."""
        if slope not in tokens:
            raise InstrumentError(self.label, f"slope must be 'rising' or 'falling', got {slope!r}")
        return tokens[slope]

    # -- single(): polling with a time limit ---------------------------------------------------------------
    def _poll_until(self, probe: Callable[[], S], done: Callable[[S, float], bool], timeout_s: float,
                    command: str, describe: Callable[[S], str] = lambda state: "") -> None:
        """Call ``probe()`` every :attr:`poll_interval_s` until ``done(state, seconds since the first poll)``.

        Raises :class:`InstrumentTimeout` naming the instrument and ``command`` (what started the
        acquisition) once ``timeout_s`` have passed; ``describe(state)`` adds the last state to the message.
        """
        start = self._clock()
        while True:
            state = probe()
            elapsed = self._clock() - start
            if done(state, elapsed):
                return
            if elapsed >= timeout_s:
                raise InstrumentTimeout(self.label, f"acquisition not complete within {timeout_s:g} s"
                                                    f"{describe(state)}", command)
            self._sleep(self.poll_interval_s)

    def _wait_for_stop(self, probe: Callable[[], str], timeout_s: float, command: str) -> None:
        """Poll a trigger status (``probe``) until it reads ``STOP`` after the scope armed.

        Just after a single acquisition starts the status may still read ``STOP`` from before; the record is
        complete when the status has left ``STOP`` (armed) and come back to it. If it never leaves ``STOP``
        within :attr:`arm_window_s`, the acquisition finished between two polls (Rigol DS1000Z §4.2, Siglent
        SDS §4.3). The timeout message names the last status.
        """
        armed = False

        def done(status: str, elapsed: float) -> bool:
            nonlocal armed
            if status.upper() != "STOP":
                armed = True
                return False
            return armed or elapsed >= self.arm_window_s

        self._poll_until(probe, done, timeout_s, command, lambda status: f" (trigger status {status})")

    # -- transfers -----------------------------------------------------------------------------------------
    @contextmanager
    def _restoring(self, changes: Callable[[], list[str]]) -> Iterator[None]:
        """Around a transfer that changes the user's transfer settings: on leaving, send the commands
        ``changes()`` returns (one checked step; nothing if it returns none), however the block ends --
        except after a timeout or a lost connection, when restoring over a dead or desynchronised link
        would only hide that error."""
        link_ok = True
        try:
            yield
        except (InstrumentTimeout, InstrumentConnectionError):
            link_ok = False
            raise
        finally:
            if link_ok:
                restore = changes()
                if restore:
                    self.set(*restore)

    def _read_in_windows(self, total: int, per_read: int, read_window: Callable[[int, int], Any],
                         command: str) -> Any:
        """Points 1 to ``total`` read as windows of at most ``per_read`` points (1-based, inclusive):
        ``read_window(first, last)`` returns each window's codes; a window of the wrong size raises. Returns
        the concatenated numpy array."""
        import numpy as np

        pieces = []
        for first in range(1, total + 1, per_read):
            last = min(first + per_read - 1, total)
            block = read_window(first, last)
            if block.size != last - first + 1:
                raise InstrumentError(self.label, f"block for points {first}-{last} holds {block.size} points",
                                      command)
            pieces.append(block)
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
