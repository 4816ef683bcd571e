"""Generator settings as SCPI operations, shared by the 33500 and DG1000Z dialects.

The dialect modules (:mod:`.keysight_33500`, :mod:`.rigol_dg1000z`) map their spellings onto the
operations here; this module converts between the front-panel value (unit, load setting) and the EMF the
:class:`~.generator_state.GeneratorState` stores, and applies the family's out-of-range policy:

* ``strict=True`` (Keysight 33500): a value outside its absolute range is clamped and queues -222
  "Data out of range"; a value inside its range that conflicts with another setting (``|offset| + Vpp/2``
  above the limit) is clamped to fit and queues -221 "Settings conflict" (docs/reference/scpi.md §2.3 "clamped
  with an error in the queue (Keysight -222)"; §3.1; the 33500 guide's "the instrument adjusts ... and
  reports a settings conflict").
* ``strict=False`` (Rigol DG1000Z): both are clamped silently (§2.3, §3.2 quirks "silently clamped").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from .generator_state import (
    MODELLED_FUNCTIONS,
    ChannelState,
    GeneratorSnapshot,
    GeneratorState,
    unit_to_vpp,
    vpp_to_unit,
)
from .scpi_device import CommandRow, Context, Dialect, Handler, ScpiDevice, suffixed_command, suffixed_query
from .scpi_parser import Params, ScpiError, Suffixes, expect_params, parse_bool, parse_choice, parse_number

FUNCTIONS = ("SINusoid", "SQUare", "TRIangle", "RAMP", "PULSe", "PRBS", "NOISe", "ARBitrary", "DC", "USER",
             "HARMonic")
_FUNCTION_SHORT = {"SINUSOID": "SIN", "SQUARE": "SQU", "TRIANGLE": "TRI", "RAMP": "RAMP", "PULSE": "PULS",
                   "PRBS": "PRBS", "NOISE": "NOIS", "ARBITRARY": "ARB", "DC": "DC", "USER": "USER",
                   "HARMONIC": "HARM"}


#: ``ON|OFF|1|0`` parameters -> the stored reply, for families that answer booleans ``1``/``0`` or ``ON``/``OFF``
ON_OFF_AS_DIGITS = {"ON": "1", "1": "1", "OFF": "0", "0": "0"}
ON_OFF_AS_WORDS = {"ON": "ON", "1": "ON", "OFF": "OFF", "0": "OFF"}
#: why a burst, sweep, modulation or gated mode is refused (-221): the simulated output cannot show it
CONTINUOUS_ONLY = "the simulated output is a continuous sine or DC level (burst, sweep, modulation not modelled)"


@dataclass(frozen=True)
class SavedGeneratorSetup:
    """One stored setup (``*SAV``): the channels and tracking, the family's option values and its extra
    settings (angle unit, ...)."""

    state: GeneratorSnapshot
    options: list[list[object]]
    extra: dict[str, object]


@dataclass(frozen=True)
class GeneratorFamily:
    """How one family formats and polices values.

    ``number``: NR3 reply format; ``strict``: -222/-221 policy (module docstring); ``phase_range_deg``:
    accepted phase; ``functions``: the function names the family's parser knows.
    """

    number: Callable[[float], str]
    strict: bool
    phase_range_deg: tuple[float, float]
    functions: tuple[str, ...]
    high_z_reply: str


class GeneratorDevice(ScpiDevice):
    """An SCPI generator over a :class:`GeneratorState`; dialect modules add the command spellings."""

    def __init__(self, dialect: Dialect, family: GeneratorFamily, state: GeneratorState) -> None:
        super().__init__(dialect)
        self.family = family
        self.state = state

    def reset(self) -> None:
        """``*RST``: outputs off, family defaults (docs/reference/scpi.md §1.1, §3.1, §3.2)."""
        self.state.reset()

    def level_rows(self) -> list[CommandRow]:
        """The SCPI-99 ``SOURce`` rows both generator dialects spell alike (function, frequency, amplitude,
        offset, high/low level, amplitude unit), in lookup order (docs/reference/scpi.md §2)."""
        s = "[SOURce#:]"
        vlev = s + "VOLTage[:LEVel][:IMMediate]"
        set_ = partial(suffixed_command, self.ch)
        get = partial(suffixed_query, self.ch)
        return [
            CommandRow(s + "FUNCtion[:SHAPe]", set_(self.set_function), get(self.function)),
            CommandRow(s + "FREQuency[:FIXed]", set_(self.set_frequency), channel_query(self, self.frequency)),
            CommandRow(vlev + "[:AMPLitude]", set_(self.set_amplitude), channel_query(self, self.amplitude)),
            CommandRow(vlev + ":OFFSet", set_(self.set_offset), channel_query(self, self.offset)),
            CommandRow(vlev + ":HIGH", set_(lambda n, p: self.set_high_low(n, p, True)),
                       get(lambda n: self.high_low(n, True))),
            CommandRow(vlev + ":LOW", set_(lambda n, p: self.set_high_low(n, p, False)),
                       get(lambda n: self.high_low(n, False))),
            CommandRow(s + "VOLTage:UNIT", set_(self.set_unit), get(lambda n: self.state.channel(n).unit)),
        ]

    # -- helpers ---------------------------------------------------------------------------------
    def ch(self, suffix: int | None) -> int:
        """Channel from a numeric suffix (none = 1); a channel the model lacks is an undefined header."""
        n = 1 if suffix is None else suffix
        if n not in (1, 2):
            raise ScpiError(-113, f"channel {n}")
        return n

    def fmt(self, value: float) -> str:
        """A number in the family's NR3 format."""
        return self.family.number(value)

    def _limit(self, value: float, lo: float, hi: float, conflict: bool = False) -> float:
        """Clamp to [lo, hi]; in strict families queue -222 (or -221 when the bound comes from another
        setting) if clamping was needed."""
        if lo <= value <= hi:
            return value
        if self.family.strict:
            self.push_error(-221 if conflict else -222, f"{value:g} outside [{lo:g}, {hi:g}]")
        return min(max(value, lo), hi)

    @staticmethod
    def _query_kw(params: Sequence[str]) -> str | None:
        """The optional ``MIN``/``MAX``/``DEF`` argument of a numeric query."""
        expect_params(params, 0, 1)
        if not params:
            return None
        kw = parse_number(params[0], keywords=("MIN", "MAX", "DEF"))
        if not isinstance(kw, str):
            raise ScpiError(-224)
        return kw

    # -- function and frequency ------------------------------------------------------------------
    def set_function(self, n: int, name: str) -> None:
        """Select a waveform; only SIN and DC are modelled (others: -221, see generator_state)."""
        long = parse_choice(name, self.family.functions)
        short = _FUNCTION_SHORT[long]
        if short not in MODELLED_FUNCTIONS:
            raise ScpiError(-221, f"the simulated generator models {', '.join(MODELLED_FUNCTIONS)} only")
        self.state.update(n, function=short)
        ch = self.state.channel(n)
        if short == "SIN" and abs(ch.offset_emf) + ch.vpp_emf / 2 > self.state.limits.vpeak_max_emf:
            self.state.update(n, offset_emf=math.copysign(self.state.max_offset_emf(ch), ch.offset_emf))
            if self.family.strict:
                self.push_error(-221, "offset changed due to function")

    def function(self, n: int) -> str:
        """Function query reply (``SIN``, ``DC``)."""
        return self.state.channel(n).function

    def set_frequency(self, n: int, param: str) -> None:
        """Frequency in Hz (or MIN/MAX/DEF)."""
        lim = self.state.limits
        v = parse_number(param, units=("HZ",), keywords=("MIN", "MAX", "DEF"))
        if isinstance(v, str):
            v = {"MIN": lim.freq_min_hz, "MAX": lim.freq_max_hz, "DEF": 1e3}[v]
        self.state.update(n, freq_hz=self._limit(v, lim.freq_min_hz, lim.freq_max_hz))

    def frequency(self, n: int, params: Sequence[str]) -> str:
        """Frequency query, Hz."""
        lim = self.state.limits
        kw = self._query_kw(params)
        if kw is not None:
            return self.fmt({"MIN": lim.freq_min_hz, "MAX": lim.freq_max_hz, "DEF": 1e3}[kw])
        return self.fmt(self.state.channel(n).freq_hz)

    # -- amplitude, offset, high/low ---------------------------------------------------------------
    def _amp_unit_value(self, ch: ChannelState, vpp_emf: float) -> float:
        load_vpp = vpp_emf / ch.emf_scale()
        return vpp_to_unit(load_vpp, ch.unit, ch.load_ohm)

    def _parse_amplitude(self, ch: ChannelState, text: str) -> float | str:
        """Amplitude parameter -> EMF Vpp, or a keyword. A ``VPP``/``VRMS``/``DBM`` suffix overrides the
        unit for this value; a plain ``V`` suffix means the present unit."""
        for unit in ("VPP", "VRMS", "DBM"):
            try:
                v = parse_number(text, units=(unit,))
            except ScpiError:
                continue
            if text.strip().upper().endswith(unit):
                return unit_to_vpp(float(v), unit, ch.load_ohm) * ch.emf_scale()
        v = parse_number(text, units=("V",), keywords=("MIN", "MAX", "DEF"))
        if isinstance(v, str):
            return v
        return unit_to_vpp(v, ch.unit, ch.load_ohm) * ch.emf_scale()

    def set_amplitude(self, n: int, param: str) -> None:
        """Amplitude in the present unit at the load setting (docs/reference/scpi.md §2.1, §2.2)."""
        st, lim = self.state, self.state.limits
        ch = st.channel(n)
        v = self._parse_amplitude(ch, param)
        if isinstance(v, str):
            v = {"MIN": lim.vpp_min_emf, "MAX": st.max_vpp_emf(ch), "DEF": self.state.defaults.vpp_emf}[v]
        v = self._limit(v, lim.vpp_min_emf, lim.vpp_max_emf)
        v = self._limit(v, lim.vpp_min_emf, max(lim.vpp_min_emf, st.max_vpp_emf(ch)), conflict=True)
        st.update(n, vpp_emf=v)

    def amplitude(self, n: int, params: Sequence[str]) -> str:
        """Amplitude query in the present unit at the load setting."""
        st = self.state
        ch = st.channel(n)
        kw = self._query_kw(params)
        emf = {None: ch.vpp_emf, "MIN": st.limits.vpp_min_emf, "MAX": st.max_vpp_emf(ch),
               "DEF": st.defaults.vpp_emf}[kw]
        return self.fmt(self._amp_unit_value(ch, emf))

    def set_offset(self, n: int, param: str) -> None:
        """DC offset in V at the load setting; limited by ``|offset| + Vpp/2`` (docs/reference/scpi.md §2.3)."""
        st = self.state
        ch = st.channel(n)
        v = parse_number(param, units=("V",), keywords=("MIN", "MAX", "DEF"))
        m = st.max_offset_emf(ch)
        if isinstance(v, str):
            emf = {"MIN": -m, "MAX": m, "DEF": 0.0}[v]
        else:
            emf = v * ch.emf_scale()
            vmax = st.limits.vpeak_max_emf
            emf = self._limit(emf, -vmax, vmax)
            emf = self._limit(emf, -m, m, conflict=True)
        st.update(n, offset_emf=emf)

    def offset(self, n: int, params: Sequence[str]) -> str:
        """Offset query, V at the load setting."""
        st = self.state
        ch = st.channel(n)
        kw = self._query_kw(params)
        m = st.max_offset_emf(ch)
        emf = {None: ch.offset_emf, "MIN": -m, "MAX": m, "DEF": 0.0}[kw]
        return self.fmt(emf / ch.emf_scale())

    def set_high_low(self, n: int, param: str, high: bool) -> None:
        """``VOLTage:HIGH``/``:LOW``: move one level, keep the other (High = Off + A/2, docs/reference/scpi.md §3.2)."""
        st = self.state
        ch = st.channel(n)
        v = parse_number(param, units=("V",))
        if isinstance(v, str):
            raise ScpiError(-224)
        scale = ch.emf_scale()
        hi = ch.offset_emf + ch.vpp_emf / 2
        lo = ch.offset_emf - ch.vpp_emf / 2
        vmax = st.limits.vpeak_max_emf
        new = self._limit(v * scale, -vmax, vmax)
        hi, lo = (new, lo) if high else (hi, new)
        if hi - lo < st.limits.vpp_min_emf:
            raise ScpiError(-221, "high level must be above low level")
        st.update(n, vpp_emf=min(hi - lo, st.limits.vpp_max_emf), offset_emf=(hi + lo) / 2)

    def high_low(self, n: int, high: bool) -> str:
        """``VOLTage:HIGH?``/``:LOW?``, V at the load setting."""
        ch = self.state.channel(n)
        level = ch.offset_emf + (ch.vpp_emf / 2 if high else -ch.vpp_emf / 2)
        return self.fmt(level / ch.emf_scale())

    def set_unit(self, n: int, param: str) -> None:
        """``VOLTage:UNIT {VPP|VRMS|DBM}``; dBm needs a finite load setting (docs/reference/scpi.md §2.1, §3.1,
        §3.2)."""
        unit = parse_choice(param, ("VPP", "VRMS", "DBM"))
        ch = self.state.channel(n)
        if unit == "DBM" and math.isinf(ch.load_ohm):
            if self.family.strict:
                raise ScpiError(-221, "dBm needs a finite load setting")
            return
        self.state.update(n, unit=unit)

    # -- phase ---------------------------------------------------------------------------------
    def set_phase(self, n: int, param: str, radians: bool = False) -> None:
        """Phase in degrees (or radians when the family's angle unit says so)."""
        lo, hi = self.family.phase_range_deg
        v = parse_number(param, units=("DEG", "RAD"), keywords=("MIN", "MAX", "DEF"))
        if isinstance(v, str):
            deg = {"MIN": lo, "MAX": hi, "DEF": 0.0}[v]
        else:
            if param.strip().upper().endswith("RAD") or (radians and not param.strip().upper().endswith("DEG")):
                v = math.degrees(v)
            deg = self._limit(v, lo, hi)
        self.state.update(n, phase_deg=deg)

    def phase(self, n: int, params: Sequence[str], radians: bool = False) -> str:
        """Phase query."""
        lo, hi = self.family.phase_range_deg
        kw = self._query_kw(params)
        deg = {None: self.state.channel(n).phase_deg, "MIN": lo, "MAX": hi, "DEF": 0.0}[kw]
        return self.fmt(math.radians(deg) if radians else deg)

    # -- output ---------------------------------------------------------------------------------
    def set_output(self, n: int, param: str) -> None:
        """Output relay on/off."""
        self.state.update(n, output_on=parse_bool(param))

    def set_load(self, n: int, param: str) -> None:
        """Load *setting* in Ohm or INFinity/MIN/MAX: changes the conversion, not the output (§2.1)."""
        lim = self.state.limits
        v = parse_number(param, units=("OHM",), keywords=("MIN", "MAX", "INF", "DEF"))
        if isinstance(v, str):
            v = {"MIN": lim.load_min_ohm, "MAX": lim.load_max_ohm, "INF": math.inf, "DEF": 50.0}[v]
        elif v > lim.load_max_ohm and not self.family.strict:
            v = math.inf  # Rigol reports settings above 10 kOhm as High-Z (docs/reference/scpi.md §3.2 quirks)
        else:
            v = self._limit(v, lim.load_min_ohm, lim.load_max_ohm)
        ch = self.state.channel(n)
        changes: dict[str, object] = {"load_ohm": v}
        if math.isinf(v) and ch.unit == "DBM":
            changes["unit"] = "VPP"  # with High-Z the unit is forced to Vpp (§3.1)
        self.state.update(n, **changes)

    def load(self, n: int, params: Sequence[str]) -> str:
        """Load setting query; High-Z answers ``9.9E+37`` in the family's format (§3.1, §3.2)."""
        lim = self.state.limits
        kw = self._query_kw(params) if params else None
        v = {None: self.state.channel(n).load_ohm, "MIN": lim.load_min_ohm, "MAX": lim.load_max_ohm,
             "DEF": 50.0}[kw]
        return self.family.high_z_reply if math.isinf(v) else self.fmt(v)

    def set_polarity(self, n: int, param: str) -> None:
        """``OUTPut<n>:POLarity {NORMal|INVerted}``: inverts about the offset."""
        self.state.update(n, inverted=parse_choice(param, ("NORMal", "INVerted")) == "INVERTED")

    def set_track(self, param: str) -> None:
        """``TRACk {ON|OFF|INVerted}`` (channel 1 only)."""
        mode = parse_choice(param, ("ON", "OFF", "INVerted", "1", "0"))
        self.state.set_track({"1": "ON", "0": "OFF", "INVERTED": "INV"}.get(mode, mode))

    #: how the dialect spells TRACk in its error text, and how it answers ``TRACk?`` (state -> reply)
    track_mnemonic = "TRACk"
    track_replies: dict[str, str] = {}

    def _track(self, ctx: Context, s: Suffixes, p: Params) -> None:
        """``SOURce1:TRACk <mode>`` handler; another channel's TRACk is an undefined header (-113)."""
        if self.ch(s[0]) != 1:
            raise ScpiError(-113, f"{self.track_mnemonic} is a channel-1 command")
        expect_params(p, 1)
        self.set_track(p[0])

    def _track_query(self, ctx: Context, s: Suffixes, p: Params) -> str:
        """``SOURce1:TRACk?`` handler."""
        if self.ch(s[0]) != 1:
            raise ScpiError(-113, f"{self.track_mnemonic} is a channel-1 command")
        expect_params(p, 0)
        return self.track_replies.get(self.state.track, self.state.track)

    def apply(self, n: int, function: str, values: Sequence[float | str | None], *,
              phase: float | str | None = None) -> None:
        """``APPLy:<function> freq, amp, offset[, phase]``: None keeps the present value. Amplitude is in
        Vpp at the load setting for Rigol and in the present unit for Keysight; the caller converts."""
        self.set_function(n, function)
        freq, amp, off = (list(values) + [None, None, None])[:3]
        if freq is not None and self.state.channel(n).function != "DC":
            self.set_frequency(n, str(freq))
        if amp is not None and self.state.channel(n).function != "DC":
            # set the offset to 0 first when both are given, so a large amplitude is not refused
            # because of the old offset (the instrument applies the set atomically)
            if off is not None:
                self.state.update(n, offset_emf=0.0)
            self.set_amplitude(n, str(amp))
        if off is not None:
            self.set_offset(n, str(off))
        if phase is not None:
            self.set_phase(n, str(phase))


def channel_query(device: GeneratorDevice, fn: Callable[[int, Sequence[str]], str]
                  ) -> Handler:
    """A query on a ``SOURce#``/``OUTPut#`` node taking an optional MIN/MAX/DEF: ``fn(channel, params)``."""

    def handler(ctx: Context, s: Suffixes, p: Params) -> str:
        """Answer for the channel named by the header's suffix."""
        return fn(device.ch(s[0] if s else None), p)

    return handler

