"""The oscilloscope interface the procedures see (close in spirit to IVI-4.1 IviScope).

A driver for one vendor family subclasses :class:`Oscilloscope` (docs/reference/scpi.md §4). Waveforms always
travel as binary IEEE 488.2 blocks (never ASCII) and come back as :class:`~instruments.waveform.Waveform`
with raw codes, scaling and time axis. Every setter checks the error queue, or reads back where the family
silently keeps the old value, and raises :class:`~instruments.errors.InstrumentError`.

What every family does alike lives in :class:`Oscilloscope` too, for the drivers (not the procedures): the
settings, sent through the family's table (its ``table``, :mod:`instruments.scope_table`) by the shared engine
(:mod:`instruments.setting_table`), which refuses a value before any I/O and checks each write; the trigger
sweep a single acquisition replaces (:meth:`Oscilloscope._remember_sweep`); the polling loop of ``single()`` with a
time limit that follows the record (:meth:`Oscilloscope.acquisition_wait_s`, :mod:`instruments.timing`;
:meth:`Oscilloscope._poll_until`, :meth:`Oscilloscope._wait_for_stop`), putting transfer settings back
(:meth:`Oscilloscope._restoring`) and reading a deep record in windows (:meth:`Oscilloscope._read_in_windows`).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar, Unpack

from .errors import InstrumentConnectionError, InstrumentError, InstrumentTimeout
from .scope_table import IMPEDANCES, ChannelChanges, ChannelSetting, Coupling, ScopeTable, TriggerSweep
from .scpi_instrument import ScpiInstrument
from .setting_table import Change, Setting, apply, apply_each, bound, read, read_all
from .timing import (
    CONSERVATIVE_LINK_RATE_BYTES_S,
    RecordTiming,
    acquisition_wait_s,
    auto_trigger_after_s,
    poll_interval_s,
    transfer_timeout_s,
)
from .waveform import Waveform

AcquisitionMode = Literal["normal", "average", "highres", "peak"]
__all__ = ["IMPEDANCES", "AcquisitionMode", "AcquisitionState", "ChannelSetting", "Coupling", "Oscilloscope",
           "ScopeChannelState"]

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


@dataclass(frozen=True)
class AcquisitionState:
    """The acquisition settings as read back.

    ``mode`` is one of :data:`AcquisitionMode` (``normal``, ``average``, ``highres``, ``peak``), or the
    family's own word in lower case for a mode the interface does not name (Rigol DHO ``ultra``, Tektronix
    ``envelope``). ``averages`` is the number of records averaged into one acquisition: the instrument's
    average count in ``average`` mode, 1 in every other mode. ``sample_rate_sa_s`` is in samples per
    second; ``record_length`` is the acquisition memory depth, points per channel.
    """

    mode: str
    averages: int
    sample_rate_sa_s: float
    record_length: int


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
    #: longest interval between two status polls in ``single()`` (families that poll), s; shorter records are
    #: polled more often (:func:`instruments.timing.poll_interval_s`)
    poll_interval_s: float = 0.02
    #: how long :meth:`_wait_for_stop` waits to see the scope leave STOP before taking STOP as "already done"
    arm_window_s: float = 1.0
    #: clock and sleep of the polling loop (replaceable in tests)
    _clock: Callable[[], float] = staticmethod(time.monotonic)
    _sleep: Callable[[float], None] = staticmethod(time.sleep)
    #: bytes pyvisa asks the transport for per read during a block transfer (bigger is faster)
    transfer_chunk_bytes: int = 1 << 20
    #: the link rate a block transfer's VISA timeout assumes, bytes/s (instruments.timing)
    link_rate_bytes_s: float = CONSERVATIVE_LINK_RATE_BYTES_S
    #: the family's top sample rate with every channel on, Sa/s: a fixed memory depth at that rate is the
    #: longest record (None: the family's memory spans the screen)
    lowest_top_sample_rate_sa_s: float | None = None
    #: trigger holdoff the drivers leave in place (the instrument's minimum, negligible), s
    trigger_holdoff_s: float = 0.0
    # what the setters last asked for, so that single() knows what it waits for without asking
    _noted_scale_s_per_div: float | None = None
    _noted_position_s: float = 0.0
    _noted_depth: int | None = None
    _noted_averages: int = 1

    #: every row of the family (:mod:`instruments.scope_table`); the settings below are sent through it
    table: ClassVar[ScopeTable]
    #: where the family keeps the trigger sweep a single acquisition replaces (None: it keeps none)
    sweep: ClassVar[TriggerSweep | None] = None
    _sweep_before_single: str | None = None

    def __init__(self, resource: Any, label: str | None = None) -> None:
        super().__init__(resource, label)
        self._displayed: dict[int, bool] = {}  # channel -> on, as this driver last set or read it

    # -- vertical (the table's channel rows) ---------------------------------------------------------------
    def set_channel(self, channel: int, **changes: Unpack[ChannelChanges]) -> None:
        """Set any of a channel's vertical settings by keyword (:class:`ChannelSetting`'s fields; None or left
        out leaves one as it is): :meth:`configure_channel` of ``ChannelSetting(**changes)``."""
        self.configure_channel(channel, ChannelSetting(**changes))

    def configure_channel(self, channel: int, setting: ChannelSetting) -> None:
        """Send every setting of ``setting`` that is not None, one checked step each, in the channel rows'
        order (:class:`~instruments.scope_table.ChannelRows`); a value a row does not allow is refused first,
        before any byte is sent."""
        if setting.enabled is not None:
            self._displayed.pop(channel, None)  # known again once the step below has gone through
        apply_each(self, self._channel_changes(self._channel(channel), setting))
        if setting.enabled is not None:
            self._displayed[channel] = bool(setting.enabled)

    def _channel_changes(self, ch: str, s: ChannelSetting) -> list[Change]:
        """The changes ``s`` makes to the channel with node ``ch``, in the rows' order."""
        rows = self.table.channel
        return [*bound(rows.enabled, s.enabled, ch=ch), *bound(rows.probe, s.probe, ch=ch),
                *bound(rows.scale, s.scale_v_per_div, ch=ch),
                *bound(rows.offset, s.offset_v, ch=ch, reference=lambda: self._scale_now(ch, s)),
                *bound(rows.coupling, s.coupling, ch=ch), *bound(rows.impedance, s.impedance_ohm, ch=ch),
                *bound(rows.bandwidth_limit, s.bandwidth_limit, ch=ch)]

    def _scale_now(self, ch: str, s: ChannelSetting) -> float:
        """The channel's V/div for a read-back tolerance: the one ``s`` asks for, else the one read back."""
        return s.scale_v_per_div if s.scale_v_per_div is not None else read(self, self.table.channel.scale, ch=ch)

    def channel_state(self, channel: int) -> ScopeChannelState:
        """Read back a channel's vertical settings through its rows' queries."""
        return self.channel_states([channel])[channel]

    def channel_states(self, channels: Sequence[int]) -> dict[int, ScopeChannelState]:
        """Read back the vertical settings of several channels, their queries sent together where the family
        answers compound queries (:func:`~instruments.setting_table.read_all`)."""
        rows = self.table.channel
        order = (rows.enabled, rows.scale, rows.offset, rows.coupling, rows.impedance, rows.probe,
                 rows.bandwidth_limit)
        nodes: dict[int, Mapping[str, object]] = {channel: {"ch": self._channel(channel)} for channel in channels}
        asked: list[tuple[Setting[Any], Mapping[str, object]]] = [(row, nodes[channel]) for channel in channels
                                                                  for row in order]
        values = read_all(self, asked)
        states = {}
        for i, channel in enumerate(channels):
            v = values[i * len(order):(i + 1) * len(order)]
            states[channel] = ScopeChannelState(enabled=v[0], scale_v_per_div=v[1], offset_v=v[2], coupling=v[3],
                                                impedance_ohm=v[4], probe=v[5], bandwidth_limit=v[6])
            self._displayed[channel] = bool(v[0])
        return states

    def vertical_range(self, channel: int) -> tuple[float, float]:
        """Read back a channel's (V/div, V at the screen centre): the two queries, together where the family
        answers compound queries."""
        return self.vertical_ranges([channel])[channel]

    def vertical_ranges(self, channels: Sequence[int]) -> dict[int, tuple[float, float]]:
        """:meth:`vertical_range` of several channels, every query together where the family answers compound
        queries."""
        rows = self.table.channel
        asked: list[tuple[Setting[Any], Mapping[str, object]]] = []
        for channel in channels:
            nodes = {"ch": self._channel(channel)}
            asked += [(rows.scale, nodes), (rows.offset, nodes)]
        values = read_all(self, asked)
        return {channel: (float(values[2 * i]), float(values[2 * i + 1])) for i, channel in enumerate(channels)}

    def displayed_channels(self) -> list[int]:
        """The channels that are on: each read from the instrument once, then remembered from what this driver
        set (:meth:`forget_displayed` after anyone else may have changed them, such as an operator)."""
        unknown = [ch for ch in self.channels if ch not in self._displayed]
        if unknown:
            rows = self.table.channel
            shown = read_all(self, [(rows.enabled, {"ch": self._channel(ch)}) for ch in unknown])
            self._displayed.update((ch, bool(on)) for ch, on in zip(unknown, shown, strict=True))
        return [ch for ch in self.channels if self._displayed[ch]]

    def forget_displayed(self) -> None:
        """Forget which channels are on (the next :meth:`displayed_channels` reads them again)."""
        self._displayed.clear()

    def _forget_settings(self) -> None:
        """After a failed step: which channels are on is read again."""
        self.forget_displayed()

    # -- horizontal, trigger and acquisition mode (the table's other rows) ------------------------------------
    def set_timebase(self, scale_s_per_div: float, position_s: float = 0.0) -> None:
        """Horizontal scale (s/div, > 0) and trigger position (s), through the timebase rows."""
        rows = self.table.timebase
        changes = [rows.scale.to(scale_s_per_div), rows.position.to(position_s)]
        if rows.one_step:
            apply(self, *changes)
        else:
            apply_each(self, changes)
        self._note_timebase(scale_s_per_div, position_s)

    def timebase(self) -> tuple[float, float]:
        """Read back (scale_s_per_div, position_s)."""
        rows = self.table.timebase
        scale, position = read_all(self, [(rows.scale, {}), (rows.position, {})])
        return float(scale), float(position)

    @abstractmethod
    def set_record_length(self, points: int) -> int:
        """Request a record length (points per channel); returns what the instrument will deliver."""

    def finest_scale_for(self, offset_v: float, probe: float) -> float:
        """The finest vertical scale the model is documented to accept with ``offset_v`` at the screen centre
        and probe factor ``probe``, V/div; 0 when the driver knows no figure (the caller then finds it by the
        scope's refusals). A model's data sheet gives it (its finest scale and its offset range per scale)."""
        return 0.0

    @contextmanager
    def short_records(self, points: int) -> Iterator[int | None]:
        """Within the block, transfers deliver about ``points`` points per channel over the same span, where the
        family makes such a record at the cost of its bytes alone (yields the points asked for); elsewhere
        nothing changes (yields None). Ranging uses them: a trace's extremes need no full record."""
        yield None

    def record_length_for(self, points: int, n_channels: int) -> int:
        """The record length to request so that at least ``points`` arrive with ``n_channels`` on.

        Families with a fixed menu of memory depths override this; the default asks for ``points``.
        """
        return points

    def set_trigger_edge(self, source_channel: int, level_v: float,
                         slope: Literal["rising", "falling"] = "rising") -> None:
        """Edge trigger on a channel at a level (V), rising or falling: the table's trigger commands, one
        checked step."""
        ch = self._channel(source_channel)
        trigger = self.table.trigger
        self.set(*trigger.sent(source_channel, ch, self._slope_token(slope, trigger.slopes), level_v))

    def set_acquisition(self, mode: AcquisitionMode = "normal", average_count: int = 1) -> None:
        """Acquisition mode and, for "average", the number of records averaged: the mode's row, then the count's
        (or the count's alone where it travels in the mode's command), one checked step each."""
        rows = self.table.acquisition
        averaging = mode == "average"
        changes = [] if averaging and rows.average_sets_mode else [rows.mode.to(mode)]
        if averaging:
            changes.append(rows.average.to(average_count))
        apply_each(self, changes)
        self._note_averages(average_count if averaging else 1)

    @abstractmethod
    def acquisition_state(self) -> AcquisitionState:
        """Read back the acquisition mode, the averages, the sample rate (Sa/s) and the record length
        (points per channel): one query per setting, the average count only in ``average`` mode."""

    @abstractmethod
    def single(self, timeout_s: float | None = None) -> None:
        """Take one acquisition of all enabled channels together and wait until it is complete.

        The wait follows the record (:meth:`acquisition_wait_s`); ``timeout_s`` is the caller's extra
        allowance on top of it (the whole allowance if the driver knows nothing of the record).
        """

    @abstractmethod
    def read_waveform(self, channel: int) -> Waveform:
        """Transfer the last acquisition of one channel as a binary block."""

    def acquire(self, channels: Sequence[int], timeout_s: float | None = None) -> dict[int, Waveform]:
        """One acquisition of all ``channels`` together, then each channel's transfer (``timeout_s``: the
        caller's extra allowance, as for :meth:`single`), with one read of the error queue for all of it
        (:meth:`~instruments.scpi_instrument.ScpiInstrument.checked_step`)."""
        with self.checked_step():
            self.single(timeout_s)
            return {ch: self.read_waveform(ch) for ch in channels}

    @abstractmethod
    def run(self) -> None:
        """Leave the scope running (its safe state)."""

    def safe_state(self) -> None:
        """Scope safe state: running, so the front panel is live for the user."""
        self.run()

    # -- what single() waits for, and how long a transfer may take (instruments.timing) -------------------
    def _note_timebase(self, scale_s_per_div: float, position_s: float) -> None:
        """Remember the timebase a setter sent (s/div, s), for :meth:`record_timing`."""
        self._noted_scale_s_per_div = float(scale_s_per_div)
        self._noted_position_s = float(position_s)

    def _note_memory_depth(self, points: int | None) -> None:
        """Remember the acquisition memory depth a setter sent (points per channel; None: automatic)."""
        self._noted_depth = None if points is None else int(points)

    def _note_averages(self, averages: int) -> None:
        """Remember how many records one acquisition averages (1 outside average mode)."""
        self._noted_averages = max(1, int(averages))

    def record_timing(self) -> RecordTiming | None:
        """What one acquisition waits for, from what this driver last set (no I/O); None until a timebase
        has been set or read through it."""
        if self._noted_scale_s_per_div is None:
            return None
        return RecordTiming(scale_s_per_div=self._noted_scale_s_per_div, divisions=self.horizontal_divisions,
                            position_s=self._noted_position_s, holdoff_s=self.trigger_holdoff_s,
                            averages=self._noted_averages, points=self._noted_depth,
                            sample_rate_sa_s=self.lowest_top_sample_rate_sa_s)

    def acquisition_wait_s(self, extra_s: float | None = None) -> float:
        """The longest wait for one acquisition, s: :func:`instruments.timing.acquisition_wait_s` of the
        record plus the caller's ``extra_s``.

        When no timebase has been set through this driver, the caller's ``extra_s`` is the whole wait if it
        gave one; otherwise the timebase is read from the instrument (:meth:`timebase`) and remembered.
        """
        timing = self.record_timing()
        if timing is None:
            if extra_s is not None:
                return float(extra_s)
            self._note_timebase(*self.timebase())
            timing = self.record_timing()
            assert timing is not None
        return acquisition_wait_s(timing, extra_s or 0.0)

    def transfer_span_s(self) -> float | None:
        """How long the points a transfer delivers last with the present settings, s (None: not known).

        The default is the screen, ``horizontal_divisions`` x the scale last set: families that transfer the
        record over the whole screen, or the whole memory, which spans at least the screen. A family that
        reads part of a deeper memory overrides it.
        """
        if self._noted_scale_s_per_div is None:
            return None
        return self._noted_scale_s_per_div * self.horizontal_divisions

    def transfer_timeout_s(self, n_bytes: float) -> float:
        """VISA timeout for a block of ``n_bytes`` at :attr:`link_rate_bytes_s`, s
        (:func:`instruments.timing.transfer_timeout_s`)."""
        return transfer_timeout_s(n_bytes, self.link_rate_bytes_s)

    # -- checks shared by the drivers (no I/O) -----------------------------------------------------------
    def _channel(self, channel: int) -> str:
        """The channel's node in the family's spelling (:attr:`channel_node`); a channel this scope does not
        have raises :class:`InstrumentError`."""
        if channel not in self.channels:
            raise InstrumentError(self.label, f"no channel {channel} (channels are {self.channels})")
        return self.channel_node.format(channel)

    def _check_record_length(self, points: int) -> int:
        """``points`` as an int; raise unless it is a positive integer."""
        if int(points) != points or points < 1:
            raise InstrumentError(self.label, f"record length must be a positive integer, got {points!r}")
        return int(points)

    def _slope_token(self, slope: str, words: Mapping[str, str]) -> str:
        """The family's word for "rising"/"falling" (``tokens``); any other slope raises."""
        if slope not in words:
            raise InstrumentError(self.label, f"slope must be 'rising' or 'falling', got {slope!r}")
        return words[slope]

    # -- single(): the sweep it replaces, and polling with a time limit ----------------------------------------
    def _remember_sweep(self) -> str:
        """Before a single acquisition: read the trigger sweep (:attr:`sweep`) and remember it unless it is
        already the single shot; returns it as read."""
        sweep = self._sweep()
        now = sweep.reading(self.query(sweep.query))
        if not sweep.single(now):
            self._sweep_before_single = now
        return now

    def _put_sweep_back(self) -> None:
        """If the sweep reads as the single shot, put back the one :meth:`_remember_sweep` saw (AUTO if none)."""
        sweep = self._sweep()
        if sweep.single(sweep.reading(self.query(sweep.query))):
            self.set(sweep.command.format(self._sweep_before_single or "AUTO"))

    def _sweep(self) -> TriggerSweep:
        if self.sweep is None:
            raise NotImplementedError(f"{self.label}: this family keeps no trigger sweep")
        return self.sweep

    # -- polling with a time limit ---------------------------------------------------------------
    def _poll_until(self, probe: Callable[[], S], done: Callable[[S, float], bool], timeout_s: float,
                    command: str, describe: Callable[[S], str] = lambda state: "") -> None:
        """Call ``probe()`` until ``done(state, seconds since the first poll)``, sleeping between polls the
        interval :func:`instruments.timing.poll_interval_s` gives for the record (at most
        :attr:`poll_interval_s`).

        Raises :class:`InstrumentTimeout` naming the instrument and ``command`` (what started the
        acquisition) once ``timeout_s`` have passed; ``describe(state)`` adds the last state to the message.
        """
        interval = poll_interval_s(self.record_timing(), self.poll_interval_s)
        start = self._clock()
        while True:
            state = probe()
            elapsed = self._clock() - start
            if done(state, elapsed):
                return
            if elapsed >= timeout_s:
                raise InstrumentTimeout(self.label, f"acquisition not complete within {timeout_s:g} s"
                                                    f"{describe(state)}", command)
            self._sleep(interval)

    def _wait_for_stop(self, probe: Callable[[], str], timeout_s: float, command: str, *,
                       force: Callable[[], None] | None = None, waiting: str = "WAIT") -> None:
        """Poll a trigger status (``probe``) until it reads ``STOP`` after the scope armed.

        Just after a single acquisition starts the status may still read ``STOP`` from before; the record is
        complete when the status has left ``STOP`` (armed) and come back to it. If it never leaves ``STOP``
        within :attr:`arm_window_s`, the acquisition finished between two polls (Rigol DS1000Z §4.2, Siglent
        SDS §4.3). The timeout message names the last status.

        ``force`` (AUTO sweep emulation): called once if the status still reads ``waiting`` (armed, no
        trigger yet) after :func:`instruments.timing.auto_trigger_after_s` of the record -- the time by which
        any periodic trigger signal would have fired.
        """
        armed = False
        timing = self.record_timing() if force is not None else None
        force_after = auto_trigger_after_s(timing) if timing is not None else None

        def done(status: str, elapsed: float) -> bool:
            nonlocal armed, force_after
            if status.upper() != "STOP":
                armed = True
                if force is not None and force_after is not None and elapsed >= force_after \
                        and status.upper().startswith(waiting):
                    force_after = None
                    force()
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
                         command: str, bytes_per_point: int = 1, start: int = 1) -> Any:
        """Points ``start`` to ``start + total - 1`` read as windows of at most ``per_read`` points (1-based,
        inclusive): ``read_window(first, last)`` returns each window's codes; a window of the wrong size raises.
        Each window is read with the VISA timeout its ``bytes_per_point`` x points need
        (:meth:`transfer_timeout_s`). Returns the concatenated numpy array."""
        import numpy as np

        pieces = []
        end = start + total - 1
        for first in range(start, end + 1, per_read):
            last = min(first + per_read - 1, end)
            with self.visa_timeout_at_least(self.transfer_timeout_s((last - first + 1) * bytes_per_point)):
                block = read_window(first, last)
            if block.size != last - first + 1:
                raise InstrumentError(self.label, f"block for points {first}-{last} holds {block.size} points",
                                      command)
            pieces.append(block)
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
