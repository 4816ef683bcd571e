"""Acquisition: timebase and record length for a test frequency, auto-ranging, and one four-channel record.

The scope is driven only through the :class:`~instruments.scope.Oscilloscope` interface. Per point:
:func:`setup_timebase` chooses the horizontal scale for enough periods (and a trigger on the input channel),
:func:`autorange` sets each channel's scale and offset so the signal spans about ``fill`` of the screen
without clipping (re-acquiring until it does, and stopping the point with :class:`RangingError` when it
cannot), and :func:`acquire_record` takes one acquisition of all four nodes together and transfers them as
binary blocks.

Where ranging starts, and where it goes when it is lost: a point starts from the range each channel holds
(read back from the scope), unless that range was found under the other coupling (AC removes the node's DC
level, DC brings it back: volts apart on millivolt screens) or is AC-coupled with 0 V off screen. An
AC-coupled trace has no mean, so it starts with 0 V at the screen centre; a DC-coupled one whose level is
unknown starts from the coarse state: 0 V at the centre of the coarsest scale (:data:`COARSE_V_PER_DIV`),
where any signal a board can make is on screen. A record with no sample on screen says nothing of where the
trace is, so ranging goes to the coarse state at once rather than zooming out about a stale centre (from a
millivolt scale, 4x steps need six acquisitions to find volts).

How long an acquisition may take is the driver's to work out from the record it set up (timebase, memory
depth, averages: :meth:`instruments.scope.Oscilloscope.acquisition_wait_s`, :mod:`instruments.timing`);
the ``timeout_s`` these functions pass on is the operator's extra allowance on top of that (the procedure's
``[acquisition] timeout_s``), not the whole wait.

Why fill and not "as large as possible": 8-bit quantisation noise is LSB/sqrt(12) and the fit's
uncertainty scales with it (docs/reference/measurement-methods.md §2.1, §2.3), so the signal should use most of the ADC;
the margin keeps noise peaks and the next frequency's slightly larger swing off the rails.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from instruments.errors import InstrumentError
from instruments.scope import Oscilloscope
from instruments.waveform import Waveform
from procedures.measure.excitation import Excitation
from procedures.measure.ranges import (
    ChannelRange,
    RangeMemory,
    Settled,
    close,
    drive_of,
    excitation_key,
    fits_screen,
    floored,
    holds,
    next_range,
    predicted_ranges,
    same_range,
    settles,
)

log = logging.getLogger(__name__)

NODES = ("v1", "v2", "vo1", "vo2")
DC_SPAN_S = 1e-3  # record span for DC points: long enough to average hum-free noise, short to transfer
#: the coarse state's scale per unit probe factor, V/div: the coarsest 1 MOhm scale of the drivers' families
#: (docs/reference/scpi.md §4); a scope that refuses it is asked for half, and so on (:func:`coarse_range`)
COARSE_V_PER_DIV = 10.0
COARSE_HALVINGS = 5  # down to 1/32 of it: a 50 Ohm input's coarsest (1 V/div) is within reach
#: points per channel of a ranging record where the scope makes short ones cheaply: the min and max of the
#: shipped procedures' >= 10 periods at >= 200 points per period
SHORT_POINTS = 2000
class RangingError(InstrumentError):
    """No range brings a channel's trace on screen: the point stops here, in one line, and nothing clipped is
    archived (a run fails; ``--resume`` takes the point again once the cause is found)."""


@dataclass
class Record:
    """One acquisition of the four nodes together, with the settings it was taken at."""

    waveforms: dict[str, Waveform]
    ranges: dict[str, ChannelRange]
    ranging_attempts: int = 1
    #: acquisitions made for this record: full-length ones (this record included) and short ranging ones,
    #: with the short ones' points per channel (0 when none was short)
    full_acquisitions: int = 1
    short_acquisitions: int = 0
    short_points: int = 0

    @property
    def clipped(self) -> tuple[str, ...]:
        """The nodes whose waveform clipped (none in a record :func:`autorange` returns)."""
        return tuple(n for n, wf in self.waveforms.items() if wf.clipped)

    def time_s(self) -> np.ndarray:
        """The common time axis (every channel shares the sample clock)."""
        return next(iter(self.waveforms.values())).time_s

    def volts(self) -> np.ndarray:
        """``(4, samples)`` volts in NODES order."""
        return np.vstack([self.waveforms[n].volts for n in NODES])


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


def _set_range(scope: Oscilloscope, channel: int, scale: float,
               offset: float) -> tuple[ChannelRange | None, float, InstrumentError | None]:
    """Ask for ``scale`` and ``offset``: (the range kept, or None when the scope refused it or clamped the offset
    by more than a quarter division; the scale it reads back, or ``scale`` after a refusal; the refusal)."""
    try:
        with scope.checked_step():
            scope.set_channel(channel, scale_v_per_div=scale, offset_v=offset)
    except InstrumentError as exc:
        return None, scale, exc
    kept_scale, kept_offset = scope.vertical_range(channel)
    if abs(kept_offset - offset) <= 0.25 * kept_scale:
        return ChannelRange(kept_scale, kept_offset), kept_scale, None
    return None, kept_scale, None


def apply_range(scope: Oscilloscope, channel: int, want: ChannelRange, *, memory: RangeMemory | None = None,
                node: str | None = None) -> ChannelRange:
    """Set scale and offset and return what the scope kept.

    Scopes limit the offset more tightly at sensitive scales (e.g. InfiniiVision ±2 V below 200 mV/div);
    when the offset is refused or clamped, the scale is coarsened by 2x until both fit, so the trace stays
    on screen rather than the procedure failing, then narrowed by three halvings of the last step (in
    log scale) towards the finest scale that holds the offset: a DC level's reading is only as fine as the
    LSB it is taken at, and the doubling alone can land up to 2x coarser than the offset rule needs.
    """
    scale = want.scale_v_per_div
    if memory is not None and node is not None:
        scale = _starting(scope, want, node, memory).scale_v_per_div
    refused = 0.0  # the coarsest scale refused so far, V/div
    last_error: InstrumentError | None = None
    for _ in range(24):  # 2^24: from the most sensitive scale to the coarsest on any scope
        kept, seen, error = _set_range(scope, channel, scale, want.offset_v)
        if kept is not None:
            break
        last_error = error or last_error
        refused = max(refused, scale)
        scale = max(scale, seen) * 2.0
    else:
        raise InstrumentError(scope.label, f"channel {channel}: no vertical range holds {want.offset_v:.4g} V "
                                           f"at the screen centre ({last_error or 'offset clamped'})")
    best, holding = kept, True
    for _ in range(3 if refused > 0 else 0):
        trial, _, _ = _set_range(scope, channel, math.sqrt(refused * best.scale_v_per_div), want.offset_v)
        if trial is None:
            refused, holding = math.sqrt(refused * best.scale_v_per_div), False
        elif trial.scale_v_per_div < best.scale_v_per_div:
            best, holding = trial, True
        else:  # the scope rounds to its own steps: nothing finer between
            holding = trial == best
            break
    if not holding:
        again, _, error = _set_range(scope, channel, best.scale_v_per_div, best.offset_v)
        if again is None:
            raise InstrumentError(scope.label, f"channel {channel}: {best.scale_v_per_div:.4g} V/div about "
                                               f"{best.offset_v:.4g} V, kept a moment ago, is refused now ({error})")
        best = again
    if memory is not None and node is not None and best.scale_v_per_div > want.scale_v_per_div * 1.01:
        memory.note_floor(node, best.scale_v_per_div, want.offset_v)
    return best


def apply_ranges(scope: Oscilloscope, channels: Mapping[str, int], wants: Mapping[str, ChannelRange],
                 memory: RangeMemory) -> dict[str, ChannelRange]:
    """Set several nodes' ranges and return what the scope kept, per node: every scale and offset in one checked
    step and read back together (two round trips where the family answers compound queries); a node whose
    setting the scope refuses or clamps then goes through :func:`apply_range` on its own."""
    if not wants:
        return {}
    start = {node: _starting(scope, want, node, memory) for node, want in wants.items()}
    try:
        with scope.checked_step(locate=False):  # a refusal sends the nodes one at a time below
            for node, want in start.items():
                scope.set_channel(channels[node], scale_v_per_div=want.scale_v_per_div, offset_v=want.offset_v)
    except InstrumentError:
        return {node: apply_range(scope, channels[node], want, memory=memory, node=node)
                for node, want in wants.items()}
    read = scope.vertical_ranges(sorted({channels[node] for node in start}))
    kept = {}
    for node, want in wants.items():
        scale, offset = read[channels[node]]
        if abs(offset - start[node].offset_v) <= 0.25 * scale and scale <= start[node].scale_v_per_div * 1.01:
            kept[node] = ChannelRange(scale, offset)
            if scale > want.scale_v_per_div * 1.01:
                memory.note_floor(node, scale, want.offset_v)
        else:
            kept[node] = apply_range(scope, channels[node], want, memory=memory, node=node)
    return kept


def _starting(scope: Oscilloscope, want: ChannelRange, node: str, memory: RangeMemory) -> ChannelRange:
    """``want`` no finer than the channel is known to keep about its offset: the floors found so far
    (:func:`~procedures.measure.ranges.floored`) and the model's own figures
    (:meth:`~instruments.scope.Oscilloscope.finest_scale_for`)."""
    start = floored(want, node, memory)
    finest = scope.finest_scale_for(want.offset_v, memory.probes.get(node, 1.0))
    return ChannelRange(max(start.scale_v_per_div, finest), start.offset_v)


def acquire_record(scope: Oscilloscope, channels: Mapping[str, int], timeout_s: float | None) -> dict[str, Waveform]:
    """One acquisition of all four nodes together; waveforms by node name. ``timeout_s`` is the operator's
    extra allowance on top of the wait the record needs (module docstring)."""
    by_channel = scope.acquire([channels[n] for n in NODES], timeout_s)
    return {n: by_channel[channels[n]] for n in NODES}


def coarse_range(scope: Oscilloscope, channel: int, node: str, memory: RangeMemory) -> ChannelRange:
    """Put a channel in the coarse state and return it: 0 V at the screen centre on :data:`COARSE_V_PER_DIV`
    times the probe factor, halved (:data:`COARSE_HALVINGS` times at most) while the scope refuses the scale;
    remembered per node."""
    known = memory.coarse.get(node)
    if known is not None:
        memory.coarse[node] = apply_range(scope, channel, known)
        return memory.coarse[node]
    scale = _coarsest(node, memory)
    refused: InstrumentError | None = None
    for _ in range(COARSE_HALVINGS + 1):
        kept, _, error = _set_range(scope, channel, scale, 0.0)
        if kept is not None:
            memory.coarse[node] = kept
            return kept
        refused, scale = error or refused, scale / 2.0
    raise RangingError(scope.label, f"{node} (channel {channel}): no coarse range is accepted ({refused})")


def _coarsest(node: str, memory: RangeMemory) -> float:
    """The coarse state's scale, V/div: the one the channel accepted, else the one it will be asked for."""
    known = memory.coarse.get(node)
    return known.scale_v_per_div if known is not None else COARSE_V_PER_DIV * memory.probes.get(node, 1.0)


def _at_coarse(node: str, here: ChannelRange, memory: RangeMemory) -> bool:
    """Whether ``here`` is the coarse state (0 V at the centre of the coarsest scale)."""
    return (here.scale_v_per_div >= _coarsest(node, memory) * (1 - 1e-6)
            and abs(here.offset_v) <= 1e-3 * here.scale_v_per_div)


def _start(scope: Oscilloscope, channels: Mapping[str, int], memory: RangeMemory) -> None:
    """Each channel on, and its range for the point's first acquisition in ``memory.ranges`` (module docstring).

    The scope's own setting is read back unless the memory set it and nothing has moved it since
    (``memory.trusted``): a new configuration (an operator at the front panel during a rewiring) starts a new
    memory, and the first record is then taken at what the scope holds. A coupling the run set since
    (``memory.coupling_set``) moves the remembered ranges as a read one would.
    """
    if memory.trusted and all(node in memory.ranges for node in NODES):
        # this memory set the ranges the scope holds, and nothing else has touched them since
        coupling, memory.coupling_set = memory.coupling_set, None
        if coupling is not None:
            for node in NODES:
                memory.ranges[node] = _recoupled(scope, channels[node], node, memory.ranges[node], coupling, memory)
        return
    on = scope.displayed_channels()
    for node in NODES:
        if channels[node] not in on:
            scope.set_channel(channels[node], enabled=True)
    states = scope.channel_states(sorted(set(channels[n] for n in NODES)))
    memory.coupling_set = None
    for node in NODES:
        st = states[channels[node]]
        memory.probes[node] = st.probe
        memory.ranges[node] = _recoupled(scope, channels[node], node, ChannelRange(st.scale_v_per_div, st.offset_v),
                                         st.coupling, memory)


def _recoupled(scope: Oscilloscope, ch: int, node: str, here: ChannelRange, coupling: str,
               memory: RangeMemory) -> ChannelRange:
    """The range to start from on a channel at ``here`` with ``coupling`` (module docstring: AC with a range found
    under DC, or without 0 V on screen, gets 0 V at the centre; DC with a range found under AC, the coarse
    state); the coupling remembered."""
    foreign = memory.couplings.get(node, coupling) != coupling
    memory.couplings[node] = coupling
    if coupling == "AC" and (foreign or abs(here.offset_v) > 0.5 * scope.vertical_divisions * here.scale_v_per_div):
        return apply_range(scope, ch, ChannelRange(here.scale_v_per_div, 0.0))
    if foreign:
        return coarse_range(scope, ch, node, memory)
    return here


def _range_pass(scope: Oscilloscope, channels: Mapping[str, int], memory: RangeMemory, *, fill: float,
                max_attempts: int, timeout_s: float | None, count: _Count,
                short: int | None) -> tuple[dict[str, Waveform], int]:
    """Acquire and adjust until every channel settles or ``max_attempts`` acquisitions have been taken; returns
    the last record (taken at ``memory.ranges``) and the acquisitions taken. A record clipped at the coarse
    state raises :class:`RangingError`: no other range can hold it."""
    record: dict[str, Waveform] = {}
    for attempt in range(1, max_attempts + 1):
        record = acquire_record(scope, channels, timeout_s)
        count.add(short)
        settled = True
        wants: dict[str, ChannelRange] = {}
        for node in NODES:
            ch, wf, current = channels[node], record[node], memory.ranges[node]
            coarsest = _coarsest(node, memory)
            if wf.clipped and _at_coarse(node, current, memory):
                raise RangingError(scope.label, f"{node} (channel {ch}) clips at the coarsest range, "
                                                f"{current.scale_v_per_div:.4g} V/div about 0 V: the signal is "
                                                "beyond the scope's input range (check the probe and its factor)")
            want = next_range(wf, current, fill, scope.vertical_divisions, coarsest)
            if want is None:
                memory.ranges[node] = coarse_range(scope, ch, node, memory)
                settled = False
            elif wf.clipped or not settles(want, current):
                wants[node] = want
        back: dict[str, ChannelRange] = {}
        for node, kept in apply_ranges(scope, channels, wants, memory).items():
            if record[node].clipped or not same_range(kept, memory.ranges[node]):
                settled = False
                memory.ranges[node] = kept
            else:  # the scope cannot come closer to what is wanted: keep the range the record was taken at
                back[node] = memory.ranges[node]
        memory.ranges.update(apply_ranges(scope, channels, back, memory))
        if settled:
            return record, attempt
    if not any(record[n].clipped for n in NODES):
        # ranges still moving (e.g. a noise-dominated trace) but nothing clipped: take the record at the
        # ranges the last one asked for, so that the record and the ranges returned with it agree
        count.add(short)
        return acquire_record(scope, channels, timeout_s), max_attempts + 1
    return record, max_attempts


def autorange(scope: Oscilloscope, channels: Mapping[str, int], memory: RangeMemory, *, fill: float,
              max_attempts: int, timeout_s: float | None, excitation: Excitation | None = None,
              short_points: int = SHORT_POINTS) -> Record:
    """Range every channel so that no channel clips and each fills the screen, and return one full record.

    Starts from the ranges the channels hold (module docstring: an AC-coupled channel whose range was found
    under DC coupling, or without 0 V on screen, starts with 0 V at the centre; a DC-coupled one whose range
    was found under AC coupling starts from the coarse state). With ``excitation``, a point of a kind that has
    settled before in this configuration (:func:`excitation_key`) starts at the ranges
    :func:`predicted_ranges` gives, and its first acquisition is the full record: it is kept when nothing
    clips and nothing under-fills (:func:`~procedures.measure.ranges.fits_screen`), so a sweep takes one
    acquisition per point. A DC point starts at its predicted ranges but ranges on short records first: its
    level, on the fine scales a DC reading wants, moves more between points than a prediction places it.

    Otherwise ranging takes records of ``short_points`` points where the scope makes them at the cost of their
    bytes alone (:meth:`~instruments.scope.Oscilloscope.short_records`), full ones elsewhere, until every
    channel settles, then one full record at the settled ranges. The returned record says how many
    acquisitions of which length were made.

    A channel whose wanted range the scope cannot give counts as settled when what the scope kept is close
    to the range the record was taken at (a signal smaller than ``fill`` of the screen at the most sensitive
    scale): another acquisition there cannot do better. Its channel is then put back to that range, so the
    record, the ranges returned with it and the scope agree.

    If after ``max_attempts`` acquisitions a channel still clips, its ranging starts again from the coarse
    state with ``max_attempts`` more; if it clips then, or clips at the coarse state itself,
    :class:`RangingError` stops the point: a clipped record never leaves this function.
    """
    _start(scope, channels, memory)
    count = _Count()
    predicted = predicted_ranges(memory, excitation, fill, scope.vertical_divisions) if excitation else None
    if predicted is not None:
        moved = {node: want for node, want in predicted.items()
                 if not holds(memory.ranges[node], want, fill, scope.vertical_divisions)}
        memory.ranges.update(apply_ranges(scope, channels, moved, memory))
    if predicted is not None and excitation is not None and excitation.frequency_hz > 0:
        record = acquire_record(scope, channels, timeout_s)
        count.full += 1
        if all(fits_screen(record[n], memory.ranges[n], n, memory, fill, scope.vertical_divisions,
                           _coarsest(n, memory)) for n in NODES):
            return _settled(memory, excitation, record, count)
        _adjust(scope, channels, memory, record, fill)
    with scope.short_records(short_points) as short:
        record = _range_until_settled(scope, channels, memory, fill=fill, max_attempts=max_attempts,
                                      timeout_s=timeout_s, count=count, short=short)
    if short is not None:  # the settled ranges, now on a full record
        count.short_points = short
        for _ in range(max_attempts):
            record = acquire_record(scope, channels, timeout_s)
            count.full += 1
            if not any(record[n].clipped for n in NODES):
                break
            _adjust(scope, channels, memory, record, fill)
        else:
            record = _range_until_settled(scope, channels, memory, fill=fill, max_attempts=max_attempts,
                                          timeout_s=timeout_s, count=count, short=None)
    return _settled(memory, excitation, record, count)


@dataclass
class _Count:
    """Acquisitions made for one record: full-length and short, and the short ones' points per channel."""

    full: int = 0
    short: int = 0
    short_points: int = 0

    def add(self, short: int | None) -> None:
        if short is None:
            self.full += 1
        else:
            self.short += 1


def _range_until_settled(scope: Oscilloscope, channels: Mapping[str, int], memory: RangeMemory, *, fill: float,
                         max_attempts: int, timeout_s: float | None, count: _Count,
                         short: int | None) -> dict[str, Waveform]:
    """:func:`_range_pass`, and once more from the coarse state for the channels that still clip (the
    :func:`autorange` docstring); returns the last record, taken at ``memory.ranges``."""
    record, attempts = _range_pass(scope, channels, memory, fill=fill, max_attempts=max_attempts,
                                   timeout_s=timeout_s, count=count, short=short)
    clipped = [n for n in NODES if record[n].clipped]
    if clipped:
        log.info("%s clipped after %d acquisitions; ranging again from the coarse state", ", ".join(clipped),
                 attempts)
        for node in clipped:
            memory.ranges[node] = coarse_range(scope, channels[node], node, memory)
        record, more = _range_pass(scope, channels, memory, fill=fill, max_attempts=max_attempts,
                                   timeout_s=timeout_s, count=count, short=short)
        attempts += more
        clipped = [n for n in NODES if record[n].clipped]
        if clipped:
            raise RangingError(scope.label, f"{', '.join(clipped)} still clipped after {attempts} acquisitions, "
                                            f"the last {more} from the coarse state: the signal does not hold "
                                            f"still (ranges now {_ranges_text(memory, clipped, channels)})")
    return record


def _adjust(scope: Oscilloscope, channels: Mapping[str, int], memory: RangeMemory, record: Mapping[str, Waveform],
            fill: float) -> None:
    """Set each channel to the range its trace in ``record`` asks for (the coarse state when it says nothing)."""
    for node in NODES:
        want = next_range(record[node], memory.ranges[node], fill, scope.vertical_divisions,
                           _coarsest(node, memory))
        if want is None:
            memory.ranges[node] = coarse_range(scope, channels[node], node, memory)
        elif record[node].clipped or not close(want, memory.ranges[node]):
            memory.ranges[node] = apply_range(scope, channels[node], want, memory=memory, node=node)


def _settled(memory: RangeMemory, excitation: Excitation | None, record: dict[str, Waveform],
             count: _Count) -> Record:
    """The record with its ranges and acquisition counts; its spans remembered for the next point of its kind."""
    memory.trusted = True
    if excitation is not None:
        spans = {n: (float(np.ptp(record[n].volts)), float(0.5 * (record[n].volts.max() + record[n].volts.min())))
                 for n in NODES}
        history = memory.settled.setdefault(excitation_key(excitation), [])
        history.append(Settled(drive_of(excitation), excitation.frequency_hz, excitation.vid_dc_v, spans))
        del history[:-2]
    return Record(record, dict(memory.ranges), count.full + count.short, count.full, count.short,
                  count.short_points)


def _ranges_text(memory: RangeMemory, nodes: list[str], channels: Mapping[str, int]) -> str:
    """``vo1 (channel 3) 0.5 V/div about 4.3 V, ...`` for an error message."""
    return ", ".join(f"{n} (channel {channels[n]}) {memory.ranges[n].scale_v_per_div:.4g} V/div about "
                     f"{memory.ranges[n].offset_v:.4g} V" for n in nodes)
