"""What the simulated scope families share: the SCPI device over a :class:`~.scope_state.ScopeState`, built
from the family's command table, and the command rules the Keysight InfiniiVision and Rigol DS1000Z
dialects have in common (docs/reference/scpi.md §4.1, §4.2).

A family module (:mod:`.keysight_infiniivision`, :mod:`.rigol_ds1000z`) gives its hardware figures, its
memory plan, its ``*RST`` state and its command table as rows ``(pattern, command handler, query handler)``;
this module builds the rows that look alike (per-channel settings, the preamble's single-field queries) and
holds the read-side rules both follow (which acquisition a read returns, the points/format keywords).
"""

from __future__ import annotations

import abc
import base64
import binascii
import json
import math
from collections.abc import Callable, Mapping, Sequence

from .acquisition import Acquisition, Geometry
from .scope_state import (
    ChannelSettings,
    Imperfections,
    ScopeHardware,
    ScopeState,
    Screen,
    SignalSource,
    SignalSummary,
)
from .scpi_device import (
    CommandRow,
    Dialect,
    Handler,
    ScpiDevice,
    parse_block,
    query_of,
    suffixed_command,
    suffixed_query,
)
from .scpi_parser import Params, ScpiError, parse_bool, parse_choice, parse_number

#: (index in the preamble, header node) of the fields both families also serve as single queries
PREAMBLE_FIELD_QUERIES = ((4, "XINCrement"), (5, "XORigin"), (6, "XREFerence"), (7, "YINCrement"), (8, "YORigin"),
                          (9, "YREFerence"))


class SimScope(ScpiDevice, abc.ABC):
    """A simulated four-channel scope: a :class:`ScopeState` fed by the bench and the family's command table.

    Subclasses give :meth:`memory_plan`, :meth:`commands` and :meth:`preamble_fields`, and extend
    :meth:`reset` with their own ``*RST`` state.
    """

    #: the family's spelling of the averaging acquisition type (``:ACQuire:TYPE``)
    average_spelling = "AVERage"

    def __init__(self, dialect: Dialect, hardware: ScopeHardware, source: SignalSource,
                 imperfections: Imperfections, seed: int) -> None:
        super().__init__(dialect)
        self.state = ScopeState(hardware, imperfections, source, self.memory_plan, ChannelSettings(), seed=seed)
        self.register(self.commands())
        self.reset()

    @abc.abstractmethod
    def memory_plan(self, state: ScopeState) -> tuple[Geometry, Screen]:
        """The raw record (geometry) and the screen the present settings acquire: the family's memory rule."""

    @abc.abstractmethod
    def commands(self) -> list[CommandRow]:
        """The family's command table, in lookup order."""

    @abc.abstractmethod
    def preamble_fields(self) -> list[str]:
        """The ten ``:WAVeform:PREamble?`` fields, formatted as the family sends them."""

    def reset(self) -> None:
        """``*RST`` as both families do it: the state's factory settings with channel 1 on, the others off."""
        self.state.reset()
        for n in (2, 3, 4):
            self.state.channel(n).display = False

    # -- channels -------------------------------------------------------------------------------------
    def ch(self, suffix: int | None) -> int:
        """Channel from a header suffix; a channel the scope lacks is an undefined header (-113)."""
        n = 1 if suffix is None else suffix
        if not 1 <= n <= 4:
            raise ScpiError(-113, f"channel {n}")
        return n

    def channel_command(self, fn: Callable[[ChannelSettings, str], None]) -> Handler:
        """A one-parameter command on ``CHANnel<n>``: ``fn(settings of channel n, param)``."""
        return suffixed_command(self.ch, lambda n, v: fn(self.state.channel(n), v))

    def channel_query(self, fn: Callable[[ChannelSettings], str]) -> Handler:
        """A query on ``CHANnel<n>``: ``fn(settings of channel n)``."""
        return suffixed_query(self.ch, lambda n: fn(self.state.channel(n)))

    def channel_flag(self, pattern: str, attr: str) -> CommandRow:
        """A boolean channel setting: ``ON|OFF|1|0`` sets ``attr`` of the channel, the query answers 1 or 0."""
        return CommandRow(pattern, self.channel_command(lambda c, v: setattr(c, attr, parse_bool(v))),
                          self.channel_query(lambda c: "1" if getattr(c, attr) else "0"))

    # -- acquisition and reading ----------------------------------------------------------------------
    def set_acq_type(self, value: str) -> None:
        """``:ACQuire:TYPE``: NORMal, the family's AVERage spelling or HRESolution; PEAK is not modelled (-221)."""
        average = self.average_spelling
        v = parse_choice(value, ("NORMal", average, "HRESolution", "PEAK"))
        if v == "PEAK":
            raise ScpiError(-221, "the simulator does not model PEAK detect")
        self.state.acq_type = {"NORMAL": "NORM", average.upper(): "AVER", "HRESOLUTION": "HRES"}[v]

    def acquisition_for_read(self, fresh: bool) -> Acquisition | None:
        """The acquisition a waveform read uses: while running a new one when ``fresh`` (a data read) or when
        none exists yet, else the last one; a pending single completes first if it can."""
        st = self.state
        if st.run_state == "RUN":
            return st.current() if fresh or st.last is None else st.last
        if st.run_state == "SINGLE":
            st.poll_single()
        return st.last

    # -- autoscale (the families' :AUToscale) ------------------------------------------------------------
    #: a channel "has activity" when its displayed peak-to-peak reaches this, V per unit of probe factor (the
    #: simulator's own threshold: the guides name none)
    autoscale_activity_v = 10e-3
    #: the autoscaled signal spans at most this many vertical divisions
    autoscale_span_divs = 6.0
    #: the autoscaled screen shows at least this many periods of the trigger channel's lowest frequency
    autoscale_periods = 2.0

    def offset_limit(self, c: ChannelSettings) -> float:
        """Largest |screen-centre voltage| the family allows at the channel's present scale (no limit here;
        the families give theirs)."""
        return math.inf

    def autoscale(self, candidates: Sequence[int], forced: bool) -> tuple[int, float] | None:
        """Choose scales from the signals the channels display (the families' ``:AUToscale``).

        ``forced``: exactly ``candidates`` end up on (the others blanked), each scaled even without activity.
        Otherwise the candidates with activity are switched on and scaled and the others off; when none has
        activity the display states stay and the displayed channels (channel 1 if none) are centred on their
        level. Each channel with activity gets the smallest 1-2-5 V/div at which its signal spans at most
        :attr:`autoscale_span_divs` and fits on the screen inside the family's offset range (one without keeps
        its V/div unless its level cannot be centred); the timebase the
        smallest 1-2-5 s/div that shows :attr:`autoscale_periods` periods of the trigger channel, with the
        delay at 0; the edge trigger goes to the lowest-numbered active channel at its mid level, rising, with
        AUTO sweep, and the scope runs. Returns (trigger channel, level), or None if the trigger was left.
        """
        st = self.state
        seen = {n: st.displayed_signal(n) for n in candidates}
        active = [n for n in candidates
                  if seen[n].span >= self.autoscale_activity_v * st.channel(n).probe]
        if forced:
            on = list(candidates)
        elif active:
            on = active
        else:
            on = [n for n in candidates if st.channel(n).display] or [1]
            seen.setdefault(1, st.displayed_signal(1))
        if forced or active:
            for n in range(1, st.hw.n_channels + 1):
                st.channel(n).display = n in on
        for n in on:
            self._fit_vertical(n, seen[n])
        trigger = (active or on)[0] if (active or forced) else None
        st.h_position_s = 0.0
        if trigger is None:
            st.run()
            return None
        sig = seen[trigger]
        if sig.freq_hz > 0:
            window = self.autoscale_periods / (sig.freq_hz * st.hw.h_divs)
            st.h_scale_s = min(max(one_two_five_at_least(window), st.hw.timebase_min_s), st.hw.timebase_max_s)
        level = (sig.v_max + sig.v_min) / 2.0 - (sig.mean if st.trig_coupling in ("AC", "LFR") else 0.0)
        st.trig_source = trigger
        st.trig_level_v = level
        st.trig_slope = "POS"
        st.sweep = "AUTO"
        st.run()
        return trigger, level

    def _fit_vertical(self, n: int, sig: SignalSummary) -> None:
        """Scale and centre one channel on its signal (:meth:`autoscale`)."""
        c = self.state.channel(n)
        hw = self.state.hw
        lo, hi = hw.scale_min_v * c.probe, hw.scale_max_v * c.probe
        half_screen = hw.v_divs / 2.0
        mid = (sig.v_max + sig.v_min) / 2.0
        if sig.span >= self.autoscale_activity_v * c.probe:
            scale = min(max(one_two_five_at_least(sig.span / self.autoscale_span_divs), lo), hi)
        else:
            scale = min(max(c.scale_v, lo), hi)  # no activity: keep the scale, only centre the level
        while True:
            c.scale_v = scale
            limit = self.offset_limit(c)
            c.centre_v = min(max(mid, -limit), limit)
            fits = max(sig.v_max - c.centre_v, c.centre_v - sig.v_min) <= half_screen * scale
            if fits or scale >= hi:
                return
            scale = min(one_two_five_at_least(scale * 1.5), hi)

    def preamble_field_rows(self) -> list[CommandRow]:
        """``:WAVeform:XINCrement?`` ... ``:YREFerence?``: one field of the preamble each."""
        return [CommandRow(f"WAVeform:{name}", query=query_field(self.preamble_fields, i))
                for i, name in PREAMBLE_FIELD_QUERIES]


def query_field(fields: Callable[[], list[str]], i: int) -> Handler:
    """A query answering field ``i`` of ``fields()``."""
    return query_of(lambda: fields()[i])


def read_mode(value: str) -> str:
    """Points/waveform mode keyword: ``NORMal``, ``MAXimum`` or ``RAW`` -> ``NORM``, ``MAX``, ``RAW``."""
    v = parse_choice(value, ("NORMal", "MAXimum", "RAW"))
    return {"NORMAL": "NORM", "MAXIMUM": "MAX"}.get(v, v)


def data_format(value: str) -> str:
    """Waveform format keyword: ``BYTE``, ``WORD`` or ``ASCii`` -> ``BYTE``, ``WORD``, ``ASC``."""
    v = parse_choice(value, ("BYTE", "WORD", "ASCii"))
    return "ASC" if v == "ASCII" else v


def volts(text: str) -> float:
    """A voltage parameter (``V`` with any SI prefix), V."""
    return float(parse_number(text, units=("V",)))


def seconds(text: str) -> float:
    """A time parameter (``S`` with any SI prefix), s."""
    return float(parse_number(text, units=("S",)))


def only(value: str, choices: tuple[str, ...], modelled: str) -> None:
    """Accept a documented choice only if the simulator models it; the others are -221."""
    if parse_choice(value, choices) != modelled:
        raise ScpiError(-221, f"the simulator models {modelled} only")


def one_two_five_at_least(x: float) -> float:
    """The smallest value of the 1-2-5 sequence (..., 0.1, 0.2, 0.5, 1, 2, 5, 10, ...) at or above ``x``."""
    if not x > 0 or not math.isfinite(x):
        return 1e-12
    decade = 10.0 ** math.floor(math.log10(x))
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * decade >= x * (1 - 1e-9):
            return m * decade
    return 10.0 * decade


def encode_setup(model: str, settings: Mapping[str, object]) -> bytes:
    """A saved setup as the data of a ``:SYSTem:SETup?`` block: opaque to a client (as a real scope's binary
    setup is), printable (base64 of JSON, so it survives the line-based transport) and tagged with the model so
    another model's setup is refused."""
    text = json.dumps({"model": model, "settings": settings}, sort_keys=True, separators=(",", ":"))
    return base64.b64encode(text.encode())


def decode_setup(params: Params, model: str) -> dict[str, object]:
    """The settings of a ``:SYSTem:SETup <block>`` made by :func:`encode_setup` for ``model``; anything else in
    a well-formed block is -161 (Invalid block data), a parameter that is no block -104 (:func:`parse_block`)."""
    data = parse_block(params)
    try:
        decoded = json.loads(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ScpiError(-161, "not a setup of this instrument") from None
    if not isinstance(decoded, dict) or decoded.get("model") != model or not isinstance(decoded.get("settings"), dict):
        raise ScpiError(-161, "not a setup of this instrument")
    settings: dict[str, object] = decoded["settings"]
    return settings
