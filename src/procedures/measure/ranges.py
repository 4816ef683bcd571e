"""What ranging remembers and predicts, without I/O: a channel's range, the memory of a run's configuration, the
ranges a point should start at, and whether a record can be kept.

:class:`RangeMemory` keeps, per node, the range the scope holds, the coarse state each channel accepted, the
finest scales each channel kept about an offset (a scope's offset range grows with its scale: InfiniiVision
allows +-2 V below 200 mV/div, more above), and per kind of excitation the last settled points, from which
:func:`predicted_ranges` extrapolates the next point's. :func:`fits_screen` decides whether a record is kept.
The I/O that sets and reads ranges is :mod:`procedures.measure.acquisition`'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from instruments.waveform import Waveform
from procedures.measure.excitation import Excitation

#: the least zoom-out after a clipped record (more when few samples are on screen, :func:`next_range`)
ZOOM_OUT = 4.0
#: a record under-fills its screen when the range it asks for is this many times finer than its own (the trace
#: spans less than fill / 1.25 of the screen: quantisation noise 25 % above what the fill gives): it is not
#: kept (:func:`fits_screen`), and ranging does not settle on it (:func:`settles`)
UNDER_FILL = 1.25
#: the same for the first record at predicted ranges: kept up to this many times too coarse (fill / 1.6 of the
#: screen), the tolerance ranging settled at before predictions (an acquisition saved is worth a little
#: resolution; the record's u says what it cost)
UNDER_FILL_PREDICTED = 1.6
#: how many scale floors a node keeps (:meth:`RangeMemory.note_floor`)
FLOORS_KEPT = 8


@dataclass
class ChannelRange:
    """Vertical setting of one channel: V/div and the voltage at the screen centre."""

    scale_v_per_div: float
    offset_v: float


@dataclass
class RangeMemory:
    """Last good ranges per node, so the next point starts close (a sweep moves smoothly), with the coupling
    each was found at (a range found under the other coupling is no start), each channel's probe factor and
    the coarse state it accepted (:func:`procedures.measure.acquisition.coarse_range`)."""

    ranges: dict[str, ChannelRange] = field(default_factory=dict)
    couplings: dict[str, str] = field(default_factory=dict)
    probes: dict[str, float] = field(default_factory=dict)
    coarse: dict[str, ChannelRange] = field(default_factory=dict)
    #: per kind of excitation (:func:`excitation_key`), the settled points so far: what the next one of the
    #: same kind predicts its ranges from (:func:`predicted_ranges`)
    settled: dict[tuple[object, ...], list[Settled]] = field(default_factory=dict)
    #: per node, the finest scales the channel kept when asked for finer ones, each about its offset (V/div, V):
    #: a finer one about as large an offset is not asked again (:func:`floor_scale`)
    floors: dict[str, list[ChannelRange]] = field(default_factory=dict)
    #: whether ``ranges`` are what the scope holds: true once a point of this memory has settled, false again
    #: when anything else may have moved them (:meth:`distrust`)
    trusted: bool = False

    def for_new_configuration(self, *, scope_untouched: bool = False) -> RangeMemory:
        """A memory for the next wiring of the same bench: what belongs to the scope's channels themselves (the
        scale floors) carries over, and with ``scope_untouched`` (nobody was at the scope: a relay rewired)
        the ranges, couplings, probe factors and coarse states it holds too; the predictions start again."""
        fresh = RangeMemory(floors={node: list(floors) for node, floors in self.floors.items()})
        if scope_untouched:
            fresh.ranges, fresh.couplings = dict(self.ranges), dict(self.couplings)
            fresh.probes, fresh.coarse = dict(self.probes), dict(self.coarse)
            fresh.trusted, fresh.coupling_set = self.trusted, self.coupling_set
        return fresh

    #: the coupling the run set on every channel since the last point (None: unchanged)
    coupling_set: str | None = None

    def distrust(self) -> None:
        """The scope's ranges must be read back before the next point (something else may have moved them)."""
        self.trusted = False

    def set_coupling(self, coupling: str) -> None:
        """The run set every channel to ``coupling`` ("AC"/"DC"): the next point starts from the remembered
        ranges moved for it (no read-back needed)."""
        self.coupling_set = coupling

    def note_floor(self, node: str, kept_scale: float, offset_v: float) -> None:
        """Remember that ``node``'s channel kept no finer than ``kept_scale`` about ``offset_v`` (the last
        :data:`FLOORS_KEPT` such findings)."""
        floors = self.floors.setdefault(node, [])
        floors[:] = [f for f in floors if abs(abs(f.offset_v) - abs(offset_v)) > f.scale_v_per_div]
        floors.append(ChannelRange(kept_scale, offset_v))
        del floors[:-FLOORS_KEPT]


@dataclass(frozen=True)
class Settled:
    """A point whose ranges settled: its drive (peak, V), frequency (Hz) and DC input (V), and per node the
    span (peak to peak, V) and the centre (V) of its record."""

    drive_vpk: float
    frequency_hz: float
    dc_input_v: float
    spans: dict[str, tuple[float, float]]


def next_range(wf: Waveform, current: ChannelRange, fill: float, divisions: int,
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


def holds(current: ChannelRange, want: ChannelRange, fill: float, divisions: int) -> bool:
    """Whether ``current`` holds the trace ``want`` was made for (its extremes ``want.offset_v +- fill x half the
    screen`` inside 95 % of ``current``'s screen) without being more than 1.6 times coarser."""
    half_trace = 0.5 * fill * divisions * want.scale_v_per_div
    half_screen = 0.95 * 0.5 * divisions * current.scale_v_per_div
    return (abs(want.offset_v - current.offset_v) + half_trace <= half_screen
            and current.scale_v_per_div <= 1.6 * want.scale_v_per_div)


def settles(want: ChannelRange, current: ChannelRange) -> bool:
    """Whether a record taken at ``current`` needs no other range: the one it asks for (``want``) is at most
    :data:`UNDER_FILL` times finer and at most 1.6 times coarser, about a centre within half a division."""
    ratio = current.scale_v_per_div / want.scale_v_per_div
    return (1 / 1.6 < ratio <= UNDER_FILL
            and abs(want.offset_v - current.offset_v) < 0.5 * want.scale_v_per_div)


def same_range(a: ChannelRange, b: ChannelRange) -> bool:
    """Whether two ranges are the same to the scope's own steps: scales within 5 %, centres within a tenth of a
    division (what a scope keeps when it cannot come closer to what was asked)."""
    return (abs(math.log(a.scale_v_per_div / b.scale_v_per_div)) < math.log(1.05)
            and abs(a.offset_v - b.offset_v) < 0.1 * a.scale_v_per_div)


def close(a: ChannelRange, b: ChannelRange) -> bool:
    return (abs(math.log(a.scale_v_per_div / b.scale_v_per_div)) < math.log(1.6)
            and abs(a.offset_v - b.offset_v) < 0.5 * a.scale_v_per_div)


def floor_scale(node: str, offset_v: float, memory: RangeMemory) -> float:
    """The finest scale ``node``'s channel is known to keep about ``offset_v``, V/div (0 when none is known): the
    coarsest of the floors found about an offset no larger (within a division of it) -- a scope's offset range
    grows with its scale, so a larger offset needs at least as coarse a scale."""
    return max((f.scale_v_per_div for f in memory.floors.get(node, ())
                if abs(f.offset_v) <= abs(offset_v) + f.scale_v_per_div), default=0.0)


def floored(want: ChannelRange, node: str, memory: RangeMemory) -> ChannelRange:
    """``want`` no finer than :func:`floor_scale` about its offset."""
    return ChannelRange(max(want.scale_v_per_div, floor_scale(node, want.offset_v, memory)), want.offset_v)


def excitation_key(exc: Excitation) -> tuple[object, ...]:
    """What makes two points' traces alike enough for one to predict the other's ranges: the mode, whether
    one channel drives both inputs, and whether the point is DC."""
    return (exc.mode, exc.tied, exc.frequency_hz <= 0)


def drive_of(exc: Excitation) -> float:
    """The excitation's drive amplitude, V peak (differential for DM and single-ended, common for CM)."""
    return exc.vic_vpk if exc.mode == "cm" else exc.vid_vpk


def predicted_ranges(memory: RangeMemory, exc: Excitation | None, fill: float,
                     divisions: int) -> dict[str, ChannelRange] | None:
    """The ranges a point should start at, from the last settled points of its kind; None when none has.

    A sine's span scales with the drive and, between two frequencies, as a power of the frequency: the power is
    the log-log slope of the last two settled frequencies (held to +-2, a two-pole roll-off), so a sweep past
    a pole is followed. A DC point's centre moves linearly with its DC input (the last two points'
    slope), its span stays the last one's.
    """
    if exc is None:
        return None
    history = memory.settled.get(excitation_key(exc))
    if not history:
        return None
    last = history[-1]
    prev = history[0] if len(history) > 1 else None
    out = {}
    for node in last.spans:
        span, centre = last.spans[node]
        if exc.frequency_hz > 0:
            drive = drive_of(exc)
            if last.drive_vpk > 0 and drive > 0:
                span *= drive / last.drive_vpk
            if prev is not None and prev.frequency_hz > 0 and prev.frequency_hz != last.frequency_hz \
                    and prev.spans[node][0] > 0 and last.spans[node][0] > 0 and prev.drive_vpk > 0:
                per_drive = (last.spans[node][0] / last.drive_vpk) / (prev.spans[node][0] / prev.drive_vpk)
                slope = max(-2.0, min(2.0, math.log(per_drive) / math.log(last.frequency_hz / prev.frequency_hz)))
                span *= (exc.frequency_hz / last.frequency_hz) ** slope
        elif prev is not None and prev.dc_input_v != last.dc_input_v:
            centre += (centre - prev.spans[node][1]) / (last.dc_input_v - prev.dc_input_v) \
                * (exc.vid_dc_v - last.dc_input_v)
        out[node] = ChannelRange(span / (fill * divisions), centre)
    return out


def fits_screen(wf: Waveform, current: ChannelRange, node: str, memory: RangeMemory, fill: float,
                divisions: int, coarsest_v_per_div: float) -> bool:
    """Whether a record taken at predicted ranges can be kept: nothing clipped, and the trace does not under-fill
    the screen -- the range it asks for is no more than :data:`UNDER_FILL_PREDICTED` times finer than ``current``, or
    ``current`` is already as fine as the channel goes about that offset (:func:`floor_scale`)."""
    if wf.clipped:
        return False
    want = next_range(wf, current, fill, divisions, coarsest_v_per_div)
    if want is None:
        return False
    if want.scale_v_per_div * UNDER_FILL_PREDICTED >= current.scale_v_per_div:
        return True
    return current.scale_v_per_div <= floor_scale(node, current.offset_v, memory) * 1.01
