"""Simulated Keysight InfiniiVision DSOX1204G scope: the ``keysight_infiniivision`` dialect.

Facts from docs/reference/scpi.md §4.1 (pymeasure ``keysightDSOX1102G.py``; InfiniiVision 1000X/2000X/3000T/
4000X Programmer's Guides) unless marked otherwise:

* ``*IDN?`` -> ``KEYSIGHT TECHNOLOGIES,DSO-X 1204G,CN00000000,02.12.2021071625``; errors ``+0,"No error"``.
* 8 vertical, 10 horizontal divisions; 8-bit ADC. BYTE data: 32 codes/div (the full 256 codes span the 8
  divisions, docs/reference/measurement-methods.md §2.1 "Keysight's example"), yreference 128; code 0 is a hole, 1 is
  "clipped low" and 255 "clipped high" (4000X guide, :WAVeform:DATA). WORD data are the same values
  left-justified in 16 bits with at most 12 meaningful bits (yincrement/256, yreference 32768), clipped
  low 0x0001 and high 0xFFFF; BYTE truncates averaged data to 8 bits. ``:WAVeform:UNSigned 0`` shifts
  the codes to two's complement and yreference to 0; ``:WAVeform:BYTeorder`` applies to WORD.
* Preamble: ``format,type,points,count,xincrement,xorigin,xreference,yincrement,yorigin,yreference``
  (format 0 BYTE, 1 WORD, 4 ASCii; type 0 NORMal, 2 AVERage, 3 HRESolution); data ``#8`` block + LF.
* ``:CHANnel<n>:OFFSet`` is the voltage at screen centre; ``:RANGe`` = 8 x ``:SCALe``;
  ``:TIMebase:RANGe`` = 10 x ``:SCALe``; ``:TIMebase:POSition`` is the time from the trigger to the
  reference point (LEFT, CENTer, RIGHt).
* ``:DIGitize [src,...]`` blocks until one complete acquisition (a full ``:ACQuire:COUNt`` average) and
  leaves the scope stopped; in NORMal sweep without a trigger it waits (the client times out);
  ``:SINGle`` + ``:AER?``/``:TER?``/``:OPERegister:CONDition?`` (Run bit 3 = 8, wait-trig bit 5 = 32);
  ``:RSTate?`` -> ``RUN|STOP|SING``. The listed channels are switched on; the others keep their display state,
  and those displayed are acquired with them (one acquisition, one trigger). The guide's ``:DIGitize`` entry
  says what is acquired (without arguments, the displayed channels), and no page was found saying that the
  unlisted channels go off -- unlike ``:AUToscale <source>``, whose entry says the others are blanked
  (1000 X guide p. 137) -- so the simulator does the permissive thing and a read of channel 2 after
  ``:DIGitize CHANnel1`` works.
* Points modes: NORMal = measurement record, one of 100, 250, 500, 1000, 2000, 5000, 10000, 20000,
  50000, 62500 points over the screen; RAW = the acquisition record (when stopped), decimated to the
  requested count; MAXimum = RAW when stopped, NORMal while running; ``:WAVeform:POINts MAX`` also sets
  the mode to MAXimum. In AVERage mode with ``:ACQuire:COUNt`` > 1 at most 1000 points are returned
  (the 2000X guide's rule, docs/reference/scpi.md §4.1 [H/M]; assumed for the 1000X too).
* Making a channel the waveform source turns it on.

Model figures not in docs/reference/scpi.md (DSOX1204G data sheet): 500 uV/div ... 10 V/div at probe 1; offset +-2 V up
to 200 mV/div, +-50 V above; 5 ns/div ... 50 s/div; 2 GSa/s and 2 Mpts with one or two channels on,
1 GSa/s and 1 Mpts with three or four; BW limit 25 MHz (§4.1 table: "~25 MHz on 1000X/2000X"); AC
coupling corner 10 Hz. Out-of-range numbers are clamped and queue -222. The simulated leads are 1:1
and ``*RST`` sets the probe factor to 1 (the auto-sensed value for a plain cable).

Served commands (``<n>`` = 1..4)::

    *IDN? *RST *CLS *OPC *OPC? *WAI *ESR? *ESE(?) *SRE(?) *STB? *TST? *SAV *RCL  :SYSTem:ERRor[:NEXT]?
    :SYSTem:PRESet  :SYSTem:SETup(?)
    :CHANnel<n>? :CHANnel<n>:DISPlay(?) :SCALe(?) :RANGe(?) :OFFSet(?) :COUPling(?) :IMPedance(?) :PROBe(?)
        :BWLimit(?) :INVert(?) :LABel(?) :UNITs(?) :PROBe:SKEW(?) :PROBe:STYPe(?)
    :TIMebase? :TIMebase[:MAIN]:SCALe(?) [:MAIN]:RANGe(?) [:MAIN]:POSition(?) :REFerence(?) :MODE(?)
    :ACQuire:TYPE(?) :COUNt(?) :MODE(?) :POINts? :SRATe?
    :TRIGger:MODE(?) :TRIGger[:EDGE]:SOURce(?) :LEVel(?) :SLOPe(?) :COUPling(?)  :TRIGger:SWEep(?)
    :TRIGger:FORCe
    :RUN :STOP :SINGle :DIGitize [CHANnel<n>,...] :RSTate? :AER? :TER?
    :AUToscale [CHANnel<n>,...]  :AUToscale:CHANnels(?)  :AUToscale:AMODE(?)
    :OPERegister:CONDition? :OPERegister[:EVENt]? :OPEE(?) :OVLRegister? :STATus? CHANnel<n>
    :WAVeform? :WAVeform:SOURce(?) :FORMat(?) :UNSigned(?) :BYTeorder(?) :POINts:MODE(?) :POINts(?) :PREamble?
        :DATA? :TYPE? :COUNt? :XINCrement? :XORigin? :XREFerence? :YINCrement? :YORigin? :YREFerence?
        :VIEW(?) :SOURce:SUBSource(?)

Autoscale (1000 X guide pp. 137-140, the ``:AUToscale`` entries): without sources it considers all four inputs
(``:AUToscale:CHANnels ALL``, the default) or the displayed ones (``DISPlayed``); channels with activity are
turned on and the others off, as the entry says; with sources, exactly those are on and the channels mode
becomes DISPlayed. The simulated autoscale then chooses the scales from the signals it sees
(:meth:`SimScope.autoscale`: 1-2-5 V/div with the signal over at most six divisions, centred inside the offset
range; 1-2-5 s/div showing two periods of the trigger channel; delay 0; rising edge trigger on the first active
channel at its mid level, AUTO sweep; running). What counts as activity is the simulator's rule (10 mV
peak-to-peak at probe 1; the guide names no threshold). ``:AUToscale:AMODE NORMal`` (the default) sets the
acquisition type to NORMal, ``CURRent`` keeps it.

Setups: ``:SYSTem:SETup?`` answers a ``#8`` block whose data a client treats as opaque (as a real scope's
binary setup) and sends back with ``:SYSTem:SETup <block>``; it holds the channel, timebase, acquisition and
trigger settings, the per-source trigger levels, the waveform transfer settings and the options above. A block
that is not one of this model's setups is -161 "Invalid block data" (nothing changes); a parameter that is no
block is -104. ``*SAV {0..9}`` / ``*RCL {0..9}`` keep and restore the same setup in the scope (another location:
-222; recalling an empty one changes nothing, permissive). The run state and acquired data are not part of a
setup.
The data is printable ASCII (base64 of JSON) because the simulator's transport is line-based and its parser
refuses bytes outside printable ASCII (-101) before a command sees them: a real scope's binary setup cannot be
loaded into the simulator.

Summary queries (the "Reporting the Setup" samples of the guides): ``:CHANnel<n>?`` answers
``:CHAN1:RANG <r>;OFFS <o>;COUP DC;IMP ONEM;DISP 1;BWL 0;INV 0;LAB "1";UNIT VOLT;PROB <p>;PROB:SKEW <s>;STYP
SING``, ``:TIMebase?`` ``:TIM:MODE MAIN;REF CENT;MAIN:RANG <r>;POS <p>`` and ``:WAVeform?`` ``:WAV:UNS 1;VIEW
MAIN;BYT MSBF;FORM BYTE;POIN +<n>;SOUR CHAN1;SOUR:SUBS NONE`` (4000 X guide p. 1400); numbers in the same NR3
form as the single queries. Each reply is also a valid program message: sent back, it restores what it reports.
Label, units, probe skew and signal type are kept and answered; they change nothing in the simulated signal.

Status: the Operation Status event register latches the condition bits until read; ``:OPEE`` keeps its mask
(0 ... 32767); ``:OVLRegister?`` reads 0 (1 MOhm inputs, no overload); ``:STATus? CHANnel<n>`` answers 1 for a
displayed channel, else 0.
"""

from __future__ import annotations

import math

import numpy as np

from .acquisition import Acquisition, Geometry
from .arrays import FloatArray
from .scope_device import SimScope, data_format, decode_setup, encode_setup, only, read_mode, seconds, volts
from .scope_state import ChannelSettings, Imperfections, ScopeHardware, ScopeState, Screen, SignalSource
from .scpi_device import (
    CommandRow,
    Context,
    Dialect,
    OptionStore,
    action_of,
    command_of,
    definite_block,
    query_of,
    suffixed_command,
    suffixed_query,
)
from .scpi_parser import (
    Params,
    ScpiError,
    Suffixes,
    expect_params,
    parse_bool,
    parse_channel_name,
    parse_choice,
    parse_integer,
    parse_number,
)

# layout: file -- one dialect's command table with its autoscale, setup and summary replies belongs together
IDN = "KEYSIGHT TECHNOLOGIES,DSO-X 1204G,CN00000000,02.12.2021071625"
HARDWARE = ScopeHardware(h_divs=10, codes_per_div=32.0, centre_code=128.0, code_lo=1, code_hi=255,
                         scale_min_v=500e-6, scale_max_v=10.0, timebase_min_s=5e-9, timebase_max_s=50.0,
                         srate_by_nch=(2e9, 2e9, 1e9, 1e9), mem_by_nch=(2_000_000, 2_000_000, 1_000_000, 1_000_000),
                         ac_corner_hz=10.0, bw_limit_hz=25e6)
NORMAL_POINTS = (100, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000, 62500)
AVERAGE_POINTS_CAP = 1000
_TYPE_CODE = {"NORM": 0, "AVER": 2, "HRES": 3}
_FORMAT_CODE = {"BYTE": 0, "WORD": 1, "ASC": 4}
_REFERENCES = {"LEFT": 0.0, "CENTER": 0.5, "RIGHT": 1.0}
_REFERENCE_REPLIES = {0.0: "LEFT", 0.5: "CENT", 1.0: "RIGH"}
MODEL = "DSO-X 1204G"  # the model a saved setup belongs to
ERROR_TEXTS = {-161: "Invalid block data"}  # SCPI-99's text; the parser's table stops at -151


def memory_plan(state: ScopeState) -> tuple[Geometry, Screen]:
    """InfiniiVision memory depth is automatic: the record spans the screen at the highest sample rate
    the memory allows (docs/reference/scpi.md §4.1 "memory depth is automatic on InfiniiVision")."""
    screen = state.screen()
    nch = state.n_on()
    n = int(max(1, min(state.hw.mem_by_nch[nch - 1], math.floor(state.hw.srate_by_nch[nch - 1] * screen.window_s))))
    return Geometry(t0_s=screen.left_s, dt_s=screen.window_s / n, n=n), screen


class KeysightInfiniiVision(SimScope):
    """The DSOX1204G dialect over a :class:`ScopeState` fed by the bench."""

    average_spelling = "AVERage"

    def __init__(self, source: SignalSource, imperfections: Imperfections, *, seed: int = 0, idn: str = IDN) -> None:
        self.options = OptionStore()
        self.saved: dict[int, dict[str, object]] = {}
        self.oper_enable = 0
        super().__init__(Dialect(idn=idn, signed_integers=True, queue_size=30, error_texts=ERROR_TEXTS), HARDWARE,
                         source, imperfections, seed)

    def memory_plan(self, state: ScopeState) -> tuple[Geometry, Screen]:
        """Automatic memory depth (:func:`memory_plan`)."""
        return memory_plan(state)

    # -- state --------------------------------------------------------------------------------------
    def reset(self) -> None:
        """``*RST``: channel 1 on at 1 V/div, others off; 100 us/div centred; AUTO edge trigger on CH1 at 0 V;
        waveform CHAN1, BYTE, unsigned, MSB first, NORMal 1000 points (4000X guide's post-*RST ``:WAV?``)."""
        super().reset()
        self.trig_levels = {n: 0.0 for n in range(1, 5)}
        self.wav_source = 1
        self.wav_format = "BYTE"
        self.wav_unsigned = True
        self.wav_msb_first = True
        self.points_mode = "NORM"
        self.points = 1000
        self.armed_event = False
        self.oper_event = 0
        self.options.reset()

    def _clamp(self, value: float, lo: float, hi: float) -> float:
        if lo <= value <= hi:
            return value
        self.push_error(-222, f"{value:g} outside [{lo:g}, {hi:g}]")
        return min(max(value, lo), hi)

    def offset_limit(self, c: ChannelSettings) -> float:
        """The offset range at the channel's scale (:meth:`_offset_limit`), for the autoscale."""
        return self._offset_limit(c)

    def _offset_limit(self, c: ChannelSettings) -> float:
        """Offset range: +-2 V up to 200 mV/div, +-50 V above (at probe 1; both scale with the probe)."""
        return (2.0 if c.scale_v / c.probe <= 0.2 else 50.0) * c.probe

    # -- the command table --------------------------------------------------------------------------
    def commands(self) -> list[CommandRow]:
        """The served commands (module docstring), subsystem by subsystem."""
        return [*self._channel_rows(), *self._timebase_rows(), *self._acquire_rows(), *self._trigger_rows(),
                *self._run_rows(), *self._waveform_rows(), *self.preamble_field_rows(), *self._setup_rows(),
                *self._status_rows()]

    def _channel_rows(self) -> list[CommandRow]:
        set_, get = self.channel_command, self.channel_query
        self.options.declare("LABEL", "")  # "" answers the channel number, the *RST label
        return [
            CommandRow("CHANnel#:SCALe", set_(lambda c, v: self._set_scale(c, volts(v))),
                       get(lambda c: _num(c.scale_v))),
            CommandRow("CHANnel#:RANGe", set_(lambda c, v: self._set_scale(c, volts(v) / 8)),
                       get(lambda c: _num(8.0 * c.scale_v))),
            CommandRow("CHANnel#:OFFSet", set_(lambda c, v: self._set_offset(c, volts(v))),
                       get(lambda c: _num(c.centre_v))),
            self.channel_flag("CHANnel#:DISPlay", "display"),
            self.channel_flag("CHANnel#:BWLimit", "bw_limit"),
            self.channel_flag("CHANnel#:INVert", "inverted"),
            CommandRow("CHANnel#:COUPling", set_(lambda c, v: setattr(c, "coupling", parse_choice(v, ("AC", "DC")))),
                       get(lambda c: c.coupling)),
            CommandRow("CHANnel#:IMPedance", set_(_set_impedance), get(lambda c: "ONEM")),
            CommandRow("CHANnel#:PROBe", set_(self._set_probe), get(lambda c: _num(c.probe))),
            CommandRow("CHANnel#:LABel", suffixed_command(self.ch, self._set_label),
                       suffixed_query(self.ch, lambda n: f'"{self.options.get(n, "LABEL") or n}"')),
            self.options.choice_row("CHANnel#:UNITs", "UNITS", {"VOLT": "VOLT", "AMPere": "AMP"}, "VOLT",
                                    channel=self.ch),
            self.options.number_row("CHANnel#:PROBe:SKEW", "PROBE:SKEW", 0.0, (-100e-9, 100e-9), self._clamp, _num,
                                    channel=self.ch, units=("S",)),
            self.options.choice_row("CHANnel#:PROBe:STYPe", "PROBE:STYPE",
                                    {"SINGle": "SING", "DIFFerential": "DIFF"}, "SING", channel=self.ch),
            CommandRow("CHANnel#", query=suffixed_query(self.ch, self._channel_summary)),
        ]

    def _timebase_rows(self) -> list[CommandRow]:
        st = self.state
        return [
            CommandRow("TIMebase[:MAIN]:SCALe", command_of(lambda v: self._set_timebase(seconds(v))),
                       query_of(lambda: _num(st.h_scale_s))),
            CommandRow("TIMebase[:MAIN]:RANGe", command_of(lambda v: self._set_timebase(seconds(v) / 10)),
                       query_of(lambda: _num(10.0 * st.h_scale_s))),
            CommandRow("TIMebase[:MAIN]:POSition", command_of(self._set_position),
                       query_of(lambda: _num(st.h_position_s))),
            CommandRow("TIMebase:REFerence", command_of(self._set_reference),
                       query_of(lambda: _REFERENCE_REPLIES[st.h_reference])),
            CommandRow("TIMebase:MODE", command_of(lambda v: only(v, ("MAIN", "WINDow", "XY", "ROLL"), "MAIN")),
                       query_of(lambda: "MAIN")),
            CommandRow("TIMebase", query=query_of(self._timebase_summary)),
        ]

    def _acquire_rows(self) -> list[CommandRow]:
        st = self.state
        return [
            CommandRow("ACQuire:TYPE", command_of(self.set_acq_type), query_of(lambda: st.acq_type)),
            CommandRow("ACQuire:COUNt", command_of(self._set_count), query_of(lambda: f"{st.avg_count:+d}")),
            CommandRow("ACQuire:MODE", command_of(lambda v: only(v, ("RTIMe", "SEGMented"), "RTIME")),
                       query_of(lambda: "RTIM")),
            CommandRow("ACQuire:POINts", query=query_of(lambda: f"{st.record_length():+d}")),
            CommandRow("ACQuire:SRATe", query=query_of(lambda: _num(st.sample_rate_sa_s()))),
        ]

    def _trigger_rows(self) -> list[CommandRow]:
        st = self.state
        modes = ("EDGE", "GLITch", "PATTern", "TV", "SHOLd", "TRANsition")
        return [
            CommandRow("TRIGger:MODE", command_of(lambda v: only(v, modes, "EDGE")), query_of(lambda: "EDGE")),
            CommandRow("TRIGger[:EDGE]:SOURce", command_of(self._set_trig_source), query_of(self._trig_source)),
            CommandRow("TRIGger[:EDGE]:LEVel", self._set_trig_level, self._trig_level),
            CommandRow("TRIGger[:EDGE]:SLOPe", command_of(self._set_slope), query_of(lambda: st.trig_slope)),
            CommandRow("TRIGger[:EDGE]:COUPling", command_of(self._set_trig_coupling),
                       query_of(lambda: st.trig_coupling)),
            CommandRow("TRIGger:SWEep", command_of(self._set_sweep), query_of(lambda: st.sweep)),
            CommandRow("TRIGger:FORCe", action_of(self._force)),
        ]

    def _run_rows(self) -> list[CommandRow]:
        return [
            CommandRow("RUN", action_of(self._run)),
            CommandRow("STOP", action_of(self.state.stop)),
            CommandRow("SINGle", action_of(self._single)),
            CommandRow("DIGitize", self._digitize),
            CommandRow("RSTate", query=query_of(self._rstate)),
            CommandRow("AER", query=query_of(self._aer)),
            CommandRow("TER", query=query_of(self._ter)),
            CommandRow("OPERegister:CONDition", query=query_of(self._oper)),
            CommandRow("SYSTem:PRESet", action_of(self.reset)),
            CommandRow("AUToscale", self._autoscale),
            self.options.choice_row("AUToscale:CHANnels", "AUTOSCALE:CHANNELS", {"ALL": "ALL", "DISPlayed": "DISP"},
                                    "ALL"),
            self.options.choice_row("AUToscale:AMODE", "AUTOSCALE:AMODE", {"NORMal": "NORM", "CURRent": "CURR"},
                                    "NORM"),
        ]

    def _waveform_rows(self) -> list[CommandRow]:
        return [
            CommandRow("WAVeform:SOURce", command_of(self._set_wav_source), query_of(lambda: f"CHAN{self.wav_source}")),
            CommandRow("WAVeform:FORMat", command_of(self._set_format), query_of(lambda: self.wav_format)),
            CommandRow("WAVeform:UNSigned", command_of(self._set_unsigned),
                       query_of(lambda: "1" if self.wav_unsigned else "0")),
            CommandRow("WAVeform:BYTeorder", command_of(self._set_byte_order),
                       query_of(lambda: "MSBF" if self.wav_msb_first else "LSBF")),
            CommandRow("WAVeform:POINts:MODE", command_of(self._set_points_mode), query_of(lambda: self.points_mode)),
            CommandRow("WAVeform:POINts", command_of(self._set_points), query_of(self._points_available)),
            CommandRow("WAVeform:PREamble", query=query_of(lambda: ",".join(self.preamble_fields()))),
            CommandRow("WAVeform:DATA", query=self._data),
            CommandRow("WAVeform:TYPE", query=query_of(self._wave_type)),
            CommandRow("WAVeform:COUNt", query=query_of(lambda: self.preamble_fields()[3])),
            CommandRow("WAVeform:VIEW", command_of(lambda v: only(v, ("MAIN",), "MAIN")), query_of(lambda: "MAIN")),
            CommandRow("WAVeform:SOURce:SUBSource", command_of(lambda v: only(v, ("NONE", "SUB0", "SUB1"), "NONE")),
                       query_of(lambda: "NONE")),
            CommandRow("WAVeform", query=query_of(self._waveform_summary)),
        ]

    # -- vertical helpers ---------------------------------------------------------------------------
    def _set_scale(self, c: ChannelSettings, v: float) -> None:
        c.scale_v = self._clamp(v, self.state.hw.scale_min_v * c.probe, self.state.hw.scale_max_v * c.probe)

    def _set_offset(self, c: ChannelSettings, v: float) -> None:
        lim = self._offset_limit(c)
        c.centre_v = self._clamp(v, -lim, lim)

    def _set_probe(self, c: ChannelSettings, value: str) -> None:
        ratio = self._clamp(_plain(value), 0.1, 10000.0)
        k = ratio / c.probe  # V/div and offset are probe-referred, so they scale with the factor
        c.scale_v *= k
        c.centre_v *= k
        c.probe = ratio

    # -- horizontal and acquisition helpers ------------------------------------------------------------
    def _set_timebase(self, v: float) -> None:
        self.state.h_scale_s = self._clamp(v, self.state.hw.timebase_min_s, self.state.hw.timebase_max_s)

    def _set_position(self, value: str) -> None:
        self.state.h_position_s = self._clamp(seconds(value), -500.0, 500.0)

    def _set_reference(self, value: str) -> None:
        self.state.h_reference = _REFERENCES[parse_choice(value, ("LEFT", "CENTer", "RIGHt"))]

    def _set_count(self, value: str) -> None:
        self.state.avg_count = int(round(self._clamp(_plain(value), 2, 65536)))

    # -- trigger helpers -----------------------------------------------------------------------------
    def _set_trig_source(self, value: str) -> None:
        text = value.strip().upper()
        if text in ("EXT", "EXTERNAL", "LINE", "WGEN"):
            self.state.trig_source = text[:4]
            return
        n = parse_channel_name(text, ("CHANnel",), 4)
        self.state.trig_source = n
        self.state.trig_level_v = self.trig_levels[n]

    def _trig_source(self) -> str:
        src = self.state.trig_source
        return f"CHAN{src}" if isinstance(src, int) else src

    def _set_trig_level(self, ctx: Context, s: Suffixes, p: Params) -> None:
        """``:TRIGger:LEVel <V>[,<source>]``: the level is kept per source channel."""
        expect_params(p, 1, 2)
        v = volts(p[0])
        n = parse_channel_name(p[1], ("CHANnel",), 4) if len(p) == 2 else self.state.trig_source
        if isinstance(n, int):
            self.trig_levels[n] = v
            if n == self.state.trig_source:
                self.state.trig_level_v = v

    def _trig_level(self, ctx: Context, s: Suffixes, p: Params) -> str:
        expect_params(p, 0, 1)
        if p:
            return _num(self.trig_levels[parse_channel_name(p[0], ("CHANnel",), 4)])
        return _num(self.state.trig_level_v)

    def _set_slope(self, value: str) -> None:
        v = parse_choice(value, ("POSitive", "NEGative", "EITHer", "ALTernate"))
        self.state.trig_slope = {"POSITIVE": "POS", "NEGATIVE": "NEG"}.get(v, "EITH")

    def _set_trig_coupling(self, value: str) -> None:
        v = parse_choice(value, ("AC", "DC", "LFReject"))
        self.state.trig_coupling = {"LFREJECT": "LFR"}.get(v, v)

    def _set_sweep(self, value: str) -> None:
        self.state.sweep = {"AUTO": "AUTO", "NORMAL": "NORM"}[parse_choice(value, ("AUTO", "NORMal"))]

    # -- run control ---------------------------------------------------------------------------------
    def _single(self) -> None:
        self.state.arm_single(auto=self.state.sweep == "AUTO")
        self.armed_event = True

    def _force(self) -> None:
        st = self.state
        if st.run_state == "SINGLE":
            st.last = st.try_acquire(allow_auto=True)
            st.run_state = "STOP"

    def _digitize(self, ctx: Context, s: Suffixes, p: Params) -> None:
        """``:DIGitize [CHANnel<n>,...]``: listed channels on; block until acquired. The programmer's guide
        (``:DIGitize``) says which channels are acquired, not that the unlisted ones are switched off: they keep
        their display state and are acquired too when displayed (permissive; a read of one of them works)."""
        st = self.state
        for n in (parse_channel_name(x, ("CHANnel",), 4) for x in p):
            st.channel(n).display = True
        self._single()
        while not st.poll_single():
            ctx.sleep_unlocked(st.single_wait_s())

    def _rstate(self) -> str:
        self.state.poll_single()
        return {"RUN": "RUN", "STOP": "STOP", "SINGLE": "SING"}[self.state.run_state]

    def _aer(self) -> str:
        armed = self.armed_event or self.state.run_state == "RUN"
        self.armed_event = False
        return "1" if armed else "0"

    def _ter(self) -> str:
        st = self.state
        if st.run_state == "SINGLE":
            st.poll_single()
        elif st.run_state == "RUN":
            st.current()
        hit = st.triggered_event
        st.triggered_event = False
        return "+1" if hit else "+0"

    def _oper(self) -> str:
        """``:OPERegister:CONDition?``: Run bit 3 (8) while running or armed, wait-trig bit 5 (32) while armed."""
        return f"{self._oper_condition():+d}"

    def _oper_condition(self) -> int:
        st = self.state
        done = st.poll_single()
        value = 8 if st.run_state in ("RUN", "SINGLE") else 0
        if st.run_state == "SINGLE" and not done:
            value |= 32
        self.oper_event |= value
        return value

    def _oper_event_read(self) -> str:
        """``:OPERegister[:EVENt]?``: the condition bits that were set since the last read (read clears)."""
        value = self.oper_event | self._oper_condition()
        self.oper_event = 0
        return f"{value:+d}"

    def _run(self) -> None:
        """``:RUN``."""
        self.state.run()
        self.oper_event |= 8

    # -- autoscale, setups and status --------------------------------------------------------------
    def _autoscale(self, ctx: Context, s: Suffixes, p: Params) -> None:
        """``:AUToscale [<source>[,..,<source>]]`` (module docstring; 1000 X guide p. 137)."""
        expect_params(p, 0, 5)
        named = sorted({parse_channel_name(x, ("CHANnel",), 4) for x in p})
        if named:
            self.options.set(0, "AUTOSCALE:CHANNELS", "DISP")  # p. 137: the channels mode becomes DISPlayed
            candidates = named
        elif self.options.get(0, "AUTOSCALE:CHANNELS") == "DISP":
            candidates = [n for n in range(1, 5) if self.state.channel(n).display]
        else:
            candidates = [1, 2, 3, 4]
        result = self.autoscale(candidates, forced=bool(named))
        if result is not None:
            n, level = result
            self.trig_levels[n] = level
        if self.options.get(0, "AUTOSCALE:AMODE") == "NORM":
            self.state.acq_type = "NORM"
        self.oper_event |= 8

    def _setup_rows(self) -> list[CommandRow]:
        """``:SYSTem:SETup``, ``*SAV``, ``*RCL`` (module docstring)."""
        return [
            CommandRow("SYSTem:SETup", self._set_setup, self._setup_block),
            CommandRow("*SAV", command_of(lambda v: self.saved.__setitem__(parse_integer(v, 0, 9), self.setup()))),
            CommandRow("*RCL", command_of(self._recall)),
        ]

    def _status_rows(self) -> list[CommandRow]:
        """The Operation Status event and enable registers, the overload register, ``:STATus?``."""
        return [
            CommandRow("OPERegister[:EVENt]", query=query_of(self._oper_event_read)),
            CommandRow("OPEE", command_of(lambda v: setattr(self, "oper_enable", parse_integer(v, 0, 32767))),
                       query_of(lambda: f"{self.oper_enable:+d}")),
            CommandRow("OVLRegister", query=query_of(lambda: "+0")),
            CommandRow("STATus", query=self._status),
        ]

    def setup(self) -> dict[str, object]:
        """The present setup (what ``*SAV`` keeps and ``:SYSTem:SETup?`` sends): the scope settings, the options,
        the per-source trigger levels and the waveform transfer settings."""
        return {"state": self.state.settings_snapshot(), "options": self.options.snapshot(),
                "trig_levels": {str(n): v for n, v in self.trig_levels.items()},
                "waveform": {"source": self.wav_source, "format": self.wav_format, "unsigned": self.wav_unsigned,
                             "msb_first": self.wav_msb_first, "points_mode": self.points_mode, "points": self.points}}

    def apply_setup(self, setup: dict[str, object]) -> bool:
        """Restore a :meth:`setup`; False (nothing changed) if it is not a setup of this model."""
        state, options, levels, wav = (setup.get(k) for k in ("state", "options", "trig_levels", "waveform"))
        if not (isinstance(state, dict) and isinstance(options, list) and isinstance(levels, dict)
                and isinstance(wav, dict)):
            return False
        try:
            trig_levels = {int(n): float(v) for n, v in levels.items()}
            source, points = int(wav["source"]), int(wav["points"])
            fmt, mode = str(wav["format"]), str(wav["points_mode"])
        except (KeyError, TypeError, ValueError):
            return False
        if (set(trig_levels) != {1, 2, 3, 4} or not 1 <= source <= 4 or fmt not in _FORMAT_CODE
                or mode not in ("NORM", "MAX", "RAW") or not self.state.restore_settings(state)):
            return False
        self.options.restore(o for o in options if isinstance(o, list) and len(o) == 3)
        self.trig_levels = trig_levels
        self.wav_source, self.wav_format, self.points_mode, self.points = source, fmt, mode, max(100, points)
        self.wav_unsigned, self.wav_msb_first = bool(wav.get("unsigned", True)), bool(wav.get("msb_first", True))
        return True

    def _setup_block(self, ctx: Context, s: Suffixes, p: Params) -> bytes:
        """``:SYSTem:SETup?``: the setup as a ``#8`` block (opaque data, module docstring)."""
        expect_params(p, 0)
        return definite_block(encode_setup(MODEL, self.setup()), 8)

    def _set_setup(self, ctx: Context, s: Suffixes, p: Params) -> None:
        """``:SYSTem:SETup <block>``: restore a setup read with ``:SYSTem:SETup?`` (-161 for another block)."""
        expect_params(p, 1, 10_000)
        if not self.apply_setup(decode_setup(p, MODEL)):
            raise ScpiError(-161, "not a setup of this instrument")

    def _recall(self, value: str) -> None:
        """``*RCL <0..9>``: a setup kept by ``*SAV``; an empty location changes nothing (module docstring)."""
        setup = self.saved.get(parse_integer(value, 0, 9))
        if setup is not None:
            self.apply_setup(setup)

    def _status(self, ctx: Context, s: Suffixes, p: Params) -> str:
        """``:STATus? CHANnel<n>``: 1 if the channel is displayed, else 0."""
        expect_params(p, 1)
        return "1" if self.state.channel(parse_channel_name(p[0], ("CHANnel",), 4)).display else "0"

    # -- summary queries ---------------------------------------------------------------------------
    def _set_label(self, n: int, value: str) -> None:
        """``:CHANnel<n>:LABel <string>``: kept and answered (quoted); the quotes are optional here."""
        text = value.strip()
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
            text = text[1:-1]
        if len(text) > 32:
            raise ScpiError(-222, "label longer than 32 characters")
        self.options.set(n, "LABEL", text)

    def _channel_summary(self, n: int) -> str:
        """``:CHANnel<n>?``: the channel's settings in the guide's "Reporting the Setup" form."""
        c, o = self.state.channel(n), self.options
        return (f":CHAN{n}:RANG {_num(8.0 * c.scale_v)};OFFS {_num(c.centre_v)};COUP {c.coupling};IMP ONEM;"
                f"DISP {int(c.display)};BWL {int(c.bw_limit)};INV {int(c.inverted)};"
                f'LAB "{o.get(n, "LABEL") or n}";UNIT {o.get(n, "UNITS")};PROB {_num(c.probe)};'
                f"PROB:SKEW {_num(float(o.get(n, 'PROBE:SKEW')))};STYP {o.get(n, 'PROBE:STYPE')}")

    def _timebase_summary(self) -> str:
        """``:TIMebase?``: mode, reference, range and position in the guide's "Reporting the Setup" form."""
        st = self.state
        return (f":TIM:MODE MAIN;REF {_REFERENCE_REPLIES[st.h_reference]};MAIN:RANG {_num(10.0 * st.h_scale_s)};"
                f"POS {_num(st.h_position_s)}")

    def _waveform_summary(self) -> str:
        """``:WAVeform?``: the transfer settings in the form of the 4000 X guide's sample (p. 1400)."""
        return (f":WAV:UNS {int(self.wav_unsigned)};VIEW MAIN;BYT {'MSBF' if self.wav_msb_first else 'LSBF'};"
                f"FORM {self.wav_format};POIN {self._points_available()};SOUR CHAN{self.wav_source};"
                "SOUR:SUBS NONE")

    # -- waveform helpers ----------------------------------------------------------------------------
    def _set_wav_source(self, value: str) -> None:
        n = parse_channel_name(value, ("CHANnel",), 4)
        self.wav_source = n
        self.state.channel(n).display = True

    def _set_format(self, value: str) -> None:
        self.wav_format = data_format(value)

    def _set_unsigned(self, value: str) -> None:
        self.wav_unsigned = parse_bool(value)

    def _set_byte_order(self, value: str) -> None:
        self.wav_msb_first = parse_choice(value, ("MSBFirst", "LSBFirst")) == "MSBFIRST"

    def _set_points_mode(self, value: str) -> None:
        self.points_mode = read_mode(value)

    def _set_points(self, value: str) -> None:
        v = parse_number(value, keywords=("MAX",))
        if v == "MAX":
            self.points = 10 ** 9
            self.points_mode = "MAX"
            return
        self.points = int(self._clamp(float(v), 100, 8_000_000))

    def _points_available(self) -> str:
        """``:WAVeform:POINts?``: points the next transfer holds (0 = no data)."""
        acq = self.acquisition_for_read(fresh=False)
        return f"{self._geometry(acq).n:+d}" if acq is not None else "+0"

    def _mode_is_raw(self) -> bool:
        return self.points_mode == "RAW" or (self.points_mode == "MAX" and self.state.run_state == "STOP")

    def _geometry(self, acq: Acquisition) -> Geometry:
        """The record a ``:WAVeform:DATA?`` returns for the present points mode and count."""
        if self._mode_is_raw() and self.state.run_state == "STOP":
            raw = acq.raw
            want = min(self.points, raw.n)
            if acq.averages > 1:
                want = min(want, AVERAGE_POINTS_CAP)
            d = max(1, math.ceil(raw.n / want))
            return Geometry(t0_s=raw.t0_s, dt_s=raw.dt_s * d, n=raw.n // d, decimation=d)
        allowed = [q for q in NORMAL_POINTS if q <= self.points] or [NORMAL_POINTS[0]]
        n = min(allowed[-1], acq.raw.n)
        if acq.averages > 1:
            n = min(n, AVERAGE_POINTS_CAP)
        dt = acq.screen_window_s / n
        return Geometry(t0_s=acq.screen_left_s, dt_s=dt, n=n,
                        decimation=max(1, int(round(acq.raw.n / n))))

    def _wave_type(self) -> str:
        acq = self.state.last
        return acq_type_name(acq) if acq is not None else self.state.acq_type

    def preamble_fields(self) -> list[str]:
        """``format,type,points,count,xincrement,xorigin,xreference,yincrement,yorigin,yreference`` (§4.1)."""
        acq = self.acquisition_for_read(fresh=False)
        ch = self.wav_source
        fmt = self.wav_format
        if acq is None:
            geom, adc, count, ty = Geometry(0.0, 0.0, 0), self.state.adc(ch), 1, self.state.acq_type
        else:
            geom, adc, count, ty = self._geometry(acq), acq.adc[ch], acq.averages, acq_type_name(acq)
        yinc, yref = adc.lsb_v, adc.centre_code
        if fmt == "WORD":
            yinc, yref = yinc / 256.0, yref * 256.0
        if not self.wav_unsigned and fmt != "ASC":
            yref = 0.0
        return [f"{_FORMAT_CODE[fmt]:+d}", f"{_TYPE_CODE[ty]:+d}", f"{geom.n:+d}", f"{count:+d}", _num(geom.dt_s),
                _num(geom.t0_s), "+0", _num(yinc), _num(adc.centre_v), f"{int(yref):+d}"]

    def _data(self, ctx: Context, s: Suffixes, p: Params) -> bytes:
        expect_params(p, 0)
        acq = self.acquisition_for_read(fresh=True)
        ch = self.wav_source
        if acq is None or ch not in acq.channels:
            self.push_error(-222, f"no data for channel {ch}")
            return definite_block(b"", 8)
        codes = acq.codes(ch, self._geometry(acq))
        return definite_block(self._encode(codes, acq, ch), 8)

    def _encode(self, codes: FloatArray, acq: Acquisition, ch: int) -> bytes:
        fmt = self.wav_format
        if fmt == "BYTE":
            q = np.floor(codes)  # averaged data are truncated to 8 bits (2000X guide, BYTE format)
            if self.wav_unsigned:
                return q.astype(np.uint8).tobytes()
            return (q - 128.0).astype(np.int8).tobytes()
        if fmt == "WORD":
            w = np.round(codes * 16.0) * 16.0
            w = np.where(codes <= acq.adc[ch].code_lo, 1.0, np.where(codes >= acq.adc[ch].code_hi, 65535.0, w))
            u = w.astype(np.uint16)
            if not self.wav_unsigned:
                u = (u.astype(np.int32) - 32768).astype(np.int16)
            return u.astype(u.dtype.newbyteorder(">" if self.wav_msb_first else "<")).tobytes()
        adc = acq.adc[ch]
        values_v = (codes - adc.centre_code) * adc.lsb_v + adc.centre_v
        return ",".join(f"{v:+.6E}" for v in values_v).encode()


def acq_type_name(acq: Acquisition) -> str:
    """``NORM``, ``AVER`` or ``HRES`` for an acquisition."""
    return "AVER" if acq.averages > 1 else "HRES" if acq.high_res else "NORM"


def _num(v: float) -> str:
    return f"{v:+.8E}"


def _plain(text: str) -> float:
    return float(parse_number(text))


def _set_impedance(c: ChannelSettings, value: str) -> None:
    if parse_choice(value, ("ONEMeg", "FIFTy")) == "FIFTY":
        raise ScpiError(-221, "the DSOX1204G has 1 MOhm inputs only")


def make_scope(source: SignalSource, imperfections: Imperfections, seed: int = 0) -> KeysightInfiniiVision:
    """The simulated scope of a bench, fed by ``source`` (:mod:`instruments.sim.bench`)."""
    return KeysightInfiniiVision(source, imperfections, seed=seed)
