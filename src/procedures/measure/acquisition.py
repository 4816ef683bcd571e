"""Acquisition: timebase and record length for a test frequency, auto-ranging, and one four-channel record.

The scope is driven only through the :class:`~instruments.scope.Oscilloscope` interface. Per point:
:func:`setup_timebase` chooses the horizontal scale for enough periods (and a trigger on the input channel),
:func:`autorange` sets each channel's scale and offset so the signal spans about ``fill`` of the screen
without clipping (re-acquiring until it does, and saying so when it cannot), and :func:`acquire_record` takes
one acquisition of all four nodes together and transfers them as binary blocks.

How long an acquisition may take is the driver's to work out from the record it set up (timebase, memory
depth, averages: :meth:`instruments.scope.Oscilloscope.acquisition_wait_s`, :mod:`instruments.timing`);
the ``timeout_s`` these functions pass on is the operator's extra allowance on top of that (the procedure's
``[acquisition] timeout_s``), not the whole wait.

Why fill and not "as large as possible": 8-bit quantisation noise is LSB/sqrt(12) and the fit's
uncertainty scales with it (docs/reference/measurement-methods.md §2.1, §2.3), so the signal should use most of the ADC;
the margin keeps noise peaks and the next frequency's slightly larger swing off the rails.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from instruments.errors import InstrumentError
from instruments.scope import Oscilloscope
from instruments.waveform import Waveform

NODES = ("v1", "v2", "vo1", "vo2")
DC_SPAN_S = 1e-3  # record span for DC points: long enough to average hum-free noise, short to transfer


@dataclass
class ChannelRange:
    """Vertical setting of one channel: V/div and the voltage at the screen centre."""

    scale_v_per_div: float
    offset_v: float


@dataclass
class Record:
    """One acquisition of the four nodes together, with the settings it was taken at."""

    waveforms: dict[str, Waveform]
    ranges: dict[str, ChannelRange]
    ranging_attempts: int = 1
    clipped: tuple[str, ...] = ()

    def time_s(self) -> np.ndarray:
        """The common time axis (every channel shares the sample clock)."""
        return next(iter(self.waveforms.values())).time_s

    def volts(self) -> np.ndarray:
        """``(4, samples)`` volts in NODES order."""
        return np.vstack([self.waveforms[n].volts for n in NODES])


@dataclass
class RangeMemory:
    """Last good ranges per node, so the next point starts close (a sweep moves smoothly)."""

    ranges: dict[str, ChannelRange] = field(default_factory=dict)


def setup_timebase(scope: Oscilloscope, frequency_hz: float, record_points: int, min_periods: float,
                   trigger_channel: int, trigger_level_v: float) -> int:
    """Horizontal scale for ``min_periods`` periods in the record, the record length, and the trigger.

    Returns the points per channel the scope will deliver. DC points (``frequency_hz == 0``) use a fixed
    span of :data:`DC_SPAN_S`. When the delivered points span less than the screen (a scope that reads
    the middle of a deeper memory, :meth:`~instruments.scope.Oscilloscope.transfer_span_s`), the screen is
    widened until they hold the ``min_periods`` periods.
    """
    span = DC_SPAN_S if frequency_hz <= 0 else min_periods / frequency_hz
    scale = span / scope.horizontal_divisions
    scope.set_timebase(scale, 0.0)
    points = scope.set_record_length(record_points)
    for _ in range(4):  # each step scales the screen by what is missing; two reach it when the rate tops out
        covered = scope.transfer_span_s()
        if covered is None or covered <= 0 or covered >= span * (1 - 1e-9):
            break
        scale *= span / covered * (1 + 1e-6)
        scope.set_timebase(scale, 0.0)
    scope.set_trigger_edge(trigger_channel, trigger_level_v, "rising")
    return points


def _next_range(wf: Waveform, current: ChannelRange, fill: float, divisions: int) -> ChannelRange:
    """The range that puts this record's min..max on ``fill`` of the screen, centred.

    A clipped record says only that the signal is larger than the screen: zoom out by 4x about the
    unclipped part's centre (or the old centre) and look again.
    """
    v = wf.volts
    if wf.clipped:
        inside = v[(wf.codes > wf.code_min) & (wf.codes < wf.code_max)]
        centre = float(np.median(inside)) if inside.size else current.offset_v
        return ChannelRange(current.scale_v_per_div * 4.0, centre)
    lo, hi = float(v.min()), float(v.max())
    span = max(hi - lo, 4 * wf.lsb_v)
    return ChannelRange(span / (fill * divisions), 0.5 * (hi + lo))


def _close(a: ChannelRange, b: ChannelRange) -> bool:
    return (abs(math.log(a.scale_v_per_div / b.scale_v_per_div)) < math.log(1.6)
            and abs(a.offset_v - b.offset_v) < 0.5 * a.scale_v_per_div)


def apply_range(scope: Oscilloscope, channel: int, want: ChannelRange) -> ChannelRange:
    """Set scale and offset and return what the scope kept.

    Scopes limit the offset more tightly at sensitive scales (e.g. InfiniiVision ±2 V below 200 mV/div);
    when the offset is refused or clamped, the scale is coarsened by 2x until both fit, so the trace stays
    on screen rather than the procedure failing.
    """
    scale = want.scale_v_per_div
    last_error: InstrumentError | None = None
    for _ in range(24):  # 2^24: from the most sensitive scale to the coarsest on any scope
        try:
            scope.set_channel(channel, scale_v_per_div=scale, offset_v=want.offset_v)
        except InstrumentError as exc:
            last_error = exc
            scale *= 2.0
            continue
        st = scope.channel_state(channel)
        if abs(st.offset_v - want.offset_v) <= 0.25 * st.scale_v_per_div:
            return ChannelRange(st.scale_v_per_div, st.offset_v)
        scale = max(scale, st.scale_v_per_div) * 2.0
    raise InstrumentError(scope.label, f"channel {channel}: no vertical range holds {want.offset_v:.4g} V "
                                       f"at the screen centre ({last_error or 'offset clamped'})")


def acquire_record(scope: Oscilloscope, channels: Mapping[str, int], timeout_s: float | None) -> dict[str, Waveform]:
    """One acquisition of all four nodes together; waveforms by node name. ``timeout_s`` is the operator's
    extra allowance on top of the wait the record needs (module docstring)."""
    by_channel = scope.acquire([channels[n] for n in NODES], timeout_s)
    return {n: by_channel[channels[n]] for n in NODES}


def autorange(scope: Oscilloscope, channels: Mapping[str, int], memory: RangeMemory, *, fill: float,
              max_attempts: int, timeout_s: float | None) -> Record:
    """Acquire, adjust every channel's range, and repeat until no channel clips and each fills the screen.

    Starts from the ranges that worked for the previous point. Returns the final record (taken at the
    final ranges). If ``max_attempts`` acquisitions do not settle, the last record is returned with
    ``clipped`` naming the nodes that still clip, so the caller can say so and archive it marked.

    A channel whose wanted range the scope cannot give counts as settled when what the scope kept is close
    to the range the record was taken at (a signal smaller than ``fill`` of the screen at the most sensitive
    scale): another acquisition there cannot do better. Its channel is then put back to that range, so the
    record, the ranges returned with it and the scope agree.
    """
    for node in NODES:
        if node not in memory.ranges:
            st = scope.channel_state(channels[node])
            memory.ranges[node] = ChannelRange(st.scale_v_per_div, st.offset_v)
        scope.set_channel(channels[node], enabled=True)
    record: dict[str, Waveform] = {}
    for attempt in range(1, max_attempts + 1):
        record = acquire_record(scope, channels, timeout_s)
        settled = True
        for node in NODES:
            current = memory.ranges[node]
            want = _next_range(record[node], current, fill, scope.vertical_divisions)
            if record[node].clipped or not _close(want, current):
                kept = apply_range(scope, channels[node], want)
                if record[node].clipped or not _close(kept, current):
                    settled = False
                    memory.ranges[node] = kept
                else:  # the scope cannot come closer to what is wanted: keep the range the record was taken at
                    memory.ranges[node] = apply_range(scope, channels[node], current)
        if settled:
            return Record(record, dict(memory.ranges), attempt)
    clipped = tuple(n for n in NODES if record[n].clipped)
    if not clipped:
        # ranges still moving (e.g. noise-dominated trace) but nothing clips: the last record is usable
        record = acquire_record(scope, channels, timeout_s)
        clipped = tuple(n for n in NODES if record[n].clipped)
    return Record(record, dict(memory.ranges), max_attempts, clipped)
