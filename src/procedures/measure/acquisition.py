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
from dataclasses import dataclass, field

import numpy as np

from instruments.errors import InstrumentError
from instruments.scope import Oscilloscope
from instruments.waveform import Waveform

log = logging.getLogger(__name__)

NODES = ("v1", "v2", "vo1", "vo2")
DC_SPAN_S = 1e-3  # record span for DC points: long enough to average hum-free noise, short to transfer
#: the coarse state's scale per unit probe factor, V/div: the coarsest 1 MOhm scale of the drivers' families
#: (docs/reference/scpi.md §4); a scope that refuses it is asked for half, and so on (:func:`coarse_range`)
COARSE_V_PER_DIV = 10.0
COARSE_HALVINGS = 5  # down to 1/32 of it: a 50 Ohm input's coarsest (1 V/div) is within reach
#: the least zoom-out after a clipped record (more when few samples are on screen, :func:`_next_range`)
ZOOM_OUT = 4.0


class RangingError(InstrumentError):
    """No range brings a channel's trace on screen: the point stops here, in one line, and nothing clipped is
    archived (a run fails; ``--resume`` takes the point again once the cause is found)."""


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


@dataclass
class RangeMemory:
    """Last good ranges per node, so the next point starts close (a sweep moves smoothly), with the coupling
    each was found at (a range found under the other coupling is no start), each channel's probe factor and
    the coarse state it accepted (:func:`coarse_range`)."""

    ranges: dict[str, ChannelRange] = field(default_factory=dict)
    couplings: dict[str, str] = field(default_factory=dict)
    probes: dict[str, float] = field(default_factory=dict)
    coarse: dict[str, ChannelRange] = field(default_factory=dict)


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


def _next_range(wf: Waveform, current: ChannelRange, fill: float, divisions: int,
                coarsest_v_per_div: float) -> ChannelRange | None:
    """The range that puts this record's min..max on ``fill`` of the screen, centred; None for the coarse state.

    A clipped record says only that the signal is larger than the screen or beside it. With no sample on
    screen it says nothing of where: None. With a fraction ``q`` of the samples on screen, zoom out about
    their median by ``max(ZOOM_OUT, 1/q)``: a sine of amplitude A about the centre of a screen of half-height
    h < A is on it ``q = (2/pi) asin(h/A) <= h/A`` of the time (``asin x <= (pi/2) x`` on [0, 1]), so the new
    half-height ``h/q`` holds A (a triangle wave, ``q = h/A``, just fits; a trace off the centre may need one
    more step). A zoom-out that would pass the coarsest scale is the coarse state.
    """
    v = wf.volts
    if wf.clipped:
        on_screen = (wf.codes > wf.code_min) & (wf.codes < wf.code_max)
        q = float(np.count_nonzero(on_screen)) / max(wf.codes.size, 1)
        scale = current.scale_v_per_div * max(ZOOM_OUT, 1.0 / q) if q > 0 else math.inf
        if scale >= coarsest_v_per_div:
            return None
        return ChannelRange(scale, float(np.median(v[on_screen])))
    lo, hi = float(v.min()), float(v.max())
    span = max(hi - lo, 4 * wf.lsb_v)
    return ChannelRange(min(span / (fill * divisions), coarsest_v_per_div), 0.5 * (hi + lo))


def _close(a: ChannelRange, b: ChannelRange) -> bool:
    return (abs(math.log(a.scale_v_per_div / b.scale_v_per_div)) < math.log(1.6)
            and abs(a.offset_v - b.offset_v) < 0.5 * a.scale_v_per_div)


def _set_range(scope: Oscilloscope, channel: int, scale: float,
               offset: float) -> tuple[ChannelRange | None, float, InstrumentError | None]:
    """Ask for ``scale`` and ``offset``: (the range kept, or None when the scope refused it or clamped the offset
    by more than a quarter division; the scale it reads back, or ``scale`` after a refusal; the refusal)."""
    try:
        scope.set_channel(channel, scale_v_per_div=scale, offset_v=offset)
    except InstrumentError as exc:
        return None, scale, exc
    st = scope.channel_state(channel)
    if abs(st.offset_v - offset) <= 0.25 * st.scale_v_per_div:
        return ChannelRange(st.scale_v_per_div, st.offset_v), st.scale_v_per_div, None
    return None, st.scale_v_per_div, None


def apply_range(scope: Oscilloscope, channel: int, want: ChannelRange) -> ChannelRange:
    """Set scale and offset and return what the scope kept.

    Scopes limit the offset more tightly at sensitive scales (e.g. InfiniiVision ±2 V below 200 mV/div);
    when the offset is refused or clamped, the scale is coarsened by 2x until both fit, so the trace stays
    on screen rather than the procedure failing, then narrowed by three halvings of the last step (in
    log scale) towards the finest scale that holds the offset: a DC level's reading is only as fine as the
    LSB it is taken at, and the doubling alone can land up to 2x coarser than the offset rule needs.
    """
    scale = want.scale_v_per_div
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
    return best


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

    The scope's own setting is read back rather than the memory trusted: a fixed-range point, or an operator
    at the front panel during a rewiring, may have moved it, and the first record is taken at what it holds.
    """
    for node in NODES:
        ch = channels[node]
        scope.set_channel(ch, enabled=True)
        st = scope.channel_state(ch)
        memory.probes[node] = st.probe
        here = ChannelRange(st.scale_v_per_div, st.offset_v)
        foreign = memory.couplings.get(node, st.coupling) != st.coupling
        if st.coupling == "AC" and (foreign or abs(st.offset_v) > 0.5 * scope.vertical_divisions * st.scale_v_per_div):
            here = apply_range(scope, ch, ChannelRange(st.scale_v_per_div, 0.0))
        elif foreign:
            here = coarse_range(scope, ch, node, memory)
        memory.ranges[node] = here
        memory.couplings[node] = st.coupling


def _range_pass(scope: Oscilloscope, channels: Mapping[str, int], memory: RangeMemory, *, fill: float,
                max_attempts: int, timeout_s: float | None) -> tuple[dict[str, Waveform], int]:
    """Acquire and adjust until every channel settles or ``max_attempts`` acquisitions have been taken; returns
    the last record (taken at ``memory.ranges``) and the acquisitions taken. A record clipped at the coarse
    state raises :class:`RangingError`: no other range can hold it."""
    record: dict[str, Waveform] = {}
    for attempt in range(1, max_attempts + 1):
        record = acquire_record(scope, channels, timeout_s)
        settled = True
        for node in NODES:
            ch, wf, current = channels[node], record[node], memory.ranges[node]
            coarsest = _coarsest(node, memory)
            if wf.clipped and _at_coarse(node, current, memory):
                raise RangingError(scope.label, f"{node} (channel {ch}) clips at the coarsest range, "
                                                f"{current.scale_v_per_div:.4g} V/div about 0 V: the signal is "
                                                "beyond the scope's input range (check the probe and its factor)")
            want = _next_range(wf, current, fill, scope.vertical_divisions, coarsest)
            if want is None:
                memory.ranges[node] = coarse_range(scope, ch, node, memory)
                settled = False
            elif wf.clipped or not _close(want, current):
                kept = apply_range(scope, ch, want)
                if wf.clipped or not _close(kept, current):
                    settled = False
                    memory.ranges[node] = kept
                else:  # the scope cannot come closer to what is wanted: keep the range the record was taken at
                    memory.ranges[node] = apply_range(scope, ch, current)
        if settled:
            return record, attempt
    if not any(record[n].clipped for n in NODES):
        # ranges still moving (e.g. a noise-dominated trace) but nothing clipped: take the record at the
        # ranges the last one asked for, so that the record and the ranges returned with it agree
        return acquire_record(scope, channels, timeout_s), max_attempts + 1
    return record, max_attempts


def autorange(scope: Oscilloscope, channels: Mapping[str, int], memory: RangeMemory, *, fill: float,
              max_attempts: int, timeout_s: float | None) -> Record:
    """Acquire, adjust every channel's range, and repeat until no channel clips and each fills the screen.

    Starts from the ranges the channels hold (module docstring: an AC-coupled channel whose range was found
    under DC coupling, or without 0 V on screen, starts with 0 V at the centre; a DC-coupled one whose range
    was found under AC coupling starts from the coarse state). Returns the final record, taken at the ranges
    returned with it, and the number of acquisitions ranging took.

    A channel whose wanted range the scope cannot give counts as settled when what the scope kept is close
    to the range the record was taken at (a signal smaller than ``fill`` of the screen at the most sensitive
    scale): another acquisition there cannot do better. Its channel is then put back to that range, so the
    record, the ranges returned with it and the scope agree.

    If after ``max_attempts`` acquisitions a channel still clips, its ranging starts again from the coarse
    state with ``max_attempts`` more; if it clips then, or clips at the coarse state itself,
    :class:`RangingError` stops the point: a clipped record never leaves this function.
    """
    _start(scope, channels, memory)
    record, attempts = _range_pass(scope, channels, memory, fill=fill, max_attempts=max_attempts,
                                   timeout_s=timeout_s)
    clipped = [n for n in NODES if record[n].clipped]
    if clipped:
        log.info("%s clipped after %d acquisitions; ranging again from the coarse state", ", ".join(clipped),
                 attempts)
        for node in clipped:
            memory.ranges[node] = coarse_range(scope, channels[node], node, memory)
        record, more = _range_pass(scope, channels, memory, fill=fill, max_attempts=max_attempts,
                                   timeout_s=timeout_s)
        attempts += more
        clipped = [n for n in NODES if record[n].clipped]
        if clipped:
            raise RangingError(scope.label, f"{', '.join(clipped)} still clipped after {attempts} acquisitions, "
                                            f"the last {more} from the coarse state: the signal does not hold "
                                            f"still (ranges now {_ranges_text(memory, clipped, channels)})")
    return Record(record, dict(memory.ranges), attempts)


def _ranges_text(memory: RangeMemory, nodes: list[str], channels: Mapping[str, int]) -> str:
    """``vo1 (channel 3) 0.5 V/div about 4.3 V, ...`` for an error message."""
    return ", ".join(f"{n} (channel {channels[n]}) {memory.ranges[n].scale_v_per_div:.4g} V/div about "
                     f"{memory.ranges[n].offset_v:.4g} V" for n in nodes)
