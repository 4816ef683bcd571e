"""Simulated Siglent SDS824X HD scope: the ``siglent_sds`` dialect (new SCPI set of the SDS2000X Plus / SDS800X HD).

Sources: Siglent *SDS Series Digital Oscilloscope Programming Guide* (EN11 editions; "SDS guide"), cited by
command entry (its pages were not seen, as docs/reference/scpi.md §8.7 records), and the project's digest of it
with pymeasure's ``siglent_sds1000xhd.py`` (which follows Siglent's own example), docs/reference/scpi.md §4.3
("§4.3").

* ``*IDN?`` -> ``Siglent Technologies,SDS824X HD,<serial>,<firmware>`` (§4.3 models). No error queue is
  confirmed for this set (§4.3, §6 item 5): the simulator does not answer ``SYSTem:ERRor?``; what goes wrong sets
  the IEEE 488.2 standard event status register (``*ESR?``, read clears; ``*CLS``, ``*ESE``, ``*SRE``,
  ``*STB?``, the SDS guide's common commands): an unknown header or malformed command sets bit 5 (32), a value
  the simulator refuses bit 4 (16). ``*STB?`` has no error-available bit.
* Out-of-range numbers: the guide gives the ranges and says nothing of a value outside them; the simulator clamps
  silently (permissive), the driver's read-back sees it (docs: "scale kept silently", tests of the driver).
* 12-bit ADC, 8 vertical and 10 horizontal divisions (§4.3, §5). WAVEDESC ``code_per_div`` is 400 (the 8-division
  screen spans 3200 of the 4096 codes, as 25 codes/div span 200 of 256 on the 8-bit models, §4.3 legacy; the
  guide takes the value from the WAVEDESC, [L]). ``:WAVeform:WIDTh WORD`` sends the 12-bit code right-justified
  in a signed 16-bit word, ``BYTE`` its top 8 bits (25 codes/div); the WAVEDESC always names the ADC's own
  ``code_per_div`` and bits, so a client that reads the preamble first and then picks WORD (Siglent's example
  in §4.3) scales right.
* ``:CHANnel<n>:OFFSet`` is added to the trace (screen centre = -offset, §5); ``:SCALe`` and ``:OFFSet`` are
  probe-referred and follow a probe change. Replies are NR3 (``5.00E-01``, the guide's examples); a setting with
  more significant digits than three is answered with as many as it has (up to 7), so a fine setting reads back as
  set (the guide gives no digit count).
* ``:TIMebase:SCALe`` takes any value from 1 ns/div to 1000 s/div. The WAVEDESC timebase field is an index into
  the guide's 1-2-5 table (200 ps ... 1000 s, §4.3); for a scale between two entries the simulator names the
  nearest and puts the difference into the delay field (0xB4), so that the guide's time formula
  ``-tdiv x 10/2 + i x interval + delay`` gives each point's true time. ``:TIMebase:DELay`` moves the screen's
  centre from the trigger (positive: the trigger moves left).
* Memory (``:ACQuire:MMANagement``, ``:ACQuire:MDEPth``): AUTO keeps the top sample rate and fills the screen (at
  most the memory); FMDepth keeps the depth and samples at ``depth / screen time``, at most the top rate (then
  the record holds fewer points). ``:ACQuire:MDEPth`` outside FMDepth "has no effect, while reporting success"
  (qolab's SDS800X HD driver, cited in ``instruments.siglent_sds``); a depth not in the model's list is ignored
  and the old one kept (the driver's tests). Depths 10k, 100k, 1M, 10M, 25M with any channels, 50M with one
  (SDS800X HD data sheet class, [L]); top rate 2 GSa/s with one channel, 1 GSa/s with more. FSRate is not
  simulated (refused).
* Acquisition types: NORMal and ``AVERage,<n>`` (n in 4, 16, 32, ..., 1024; another count takes the next one
  up, [L]); PEAK and ERES are not simulated (refused).
* Trigger: ``:TRIGger:TYPE EDGE`` only; ``:TRIGger:EDGE:SOURce C<n>|EX|EX5|LINE`` (nothing is wired to EX);
  ``:TRIGger:MODE AUTO|NORMal|SINGle|FTRIG``: SINGle arms one acquisition that waits for a trigger and stays
  SINGle when done, FTRIG forces one; ``:TRIGger:RUN``/``:STOP``. ``:TRIGger:STATus?`` answers ``Arm`` (the first
  poll after arming), ``Ready`` (armed, no trigger yet), ``Trig'd``, ``Auto``, ``Stop`` (§4.3, and Siglent's
  note on the trigger status messages).
* Transfer (§4.3): ``:WAVeform:SOURce C<n>``, ``:WIDTh BYTE|WORD``, ``:BYTeorder LSB|MSB`` (WORD only),
  ``:STARt <0-based>``, ``:POINt <n>`` (0 = all), ``:INTerval <k>``, ``:MAXPoint?`` (5 000 000 points per read, the
  SDS804X HD's, Scaxlibur/wavebench SDS800X HD hardware record); ``:WAVeform:PREamble?`` is a ``#9`` block holding
  a 346-byte little-endian WAVEDESC (fields at the §4.3 offsets: 0x74 points, 0x9C V/div and 0xA0 offset before
  the probe, 0xA4 code_per_div, 0xAC ADC bits, 0xB0 interval, 0xB4 delay, 0x144 timebase index, 0x148 probe;
  and, as in the LeCroy template the WAVEDESC follows, ``WAVEDESC`` at 0, COMM_TYPE at 0x20, COMM_ORDER at
  0x22, the descriptor's length at 0x24); ``:WAVeform:DATA?`` a ``#9`` block of int8 or int16 codes + LF.

Served commands (``<n>`` = 1..4)::

    *IDN? *RST *CLS *OPC *OPC? *WAI *ESR? *ESE(?) *SRE(?) *STB? *TST?
    :CHANnel<n>:SWITch(?) :SCALe(?) :OFFSet(?) :COUPling(?) :IMPedance(?) :PROBe(?) :BWLimit(?) :INVert(?)
    :TIMebase:SCALe(?) :TIMebase:DELay(?)
    :ACQuire:TYPE(?) :MMANagement(?) :MDEPth(?) :SRATe? :POINts? :MODE(?)
    :TRIGger:TYPE(?) :TRIGger:EDGE:SOURce(?) :SLOPe(?) :LEVel(?) :COUPling(?) :TRIGger:MODE(?) :TRIGger:RUN
    :TRIGger:STOP :TRIGger:STATus?
    :WAVeform:SOURce(?) :WIDTh(?) :BYTeorder(?) :STARt(?) :POINt(?) :INTerval(?) :MAXPoint? :PREamble? :DATA?
"""

from __future__ import annotations

import bisect
import math
import re
import struct
from collections.abc import Iterable

import numpy as np

from .acquisition import Geometry
from .arrays import FloatArray
from .scope_device import SimScope, seconds, volts
from .scope_state import ChannelSettings, Imperfections, ScopeHardware, ScopeState, Screen, SignalSource
from .scpi_device import CommandRow, Context, Dialect, action_of, command_of, definite_block, query_of
from .scpi_parser import Params, ScpiError, Suffixes, expect_params, parse_bool, parse_choice, parse_number
from .siglent_sdg import SiglentTable, status_byte_without_queue, without_error_queue

# layout: file -- one dialect's command table and the WAVEDESC preamble it serves belong together
IDN = "Siglent Technologies,SDS824X HD,SDS08A0000000,1.1.3.8"
HARDWARE = ScopeHardware(h_divs=10, codes_per_div=400.0, centre_code=0.0, code_lo=-2048, code_hi=2047,
                         scale_min_v=500e-6, scale_max_v=10.0, timebase_min_s=1e-9, timebase_max_s=1000.0,
                         srate_by_nch=(2e9, 1e9, 1e9, 1e9),
                         mem_by_nch=(50_000_000, 25_000_000, 25_000_000, 25_000_000),
                         ac_corner_hz=10.0, bw_limit_hz=20e6)
ADC_BITS = 12
DEPTHS = (10_000, 100_000, 1_000_000, 10_000_000, 25_000_000, 50_000_000)
AVERAGES = (4, 16, 32, 64, 128, 256, 512, 1024)
MAX_POINTS_PER_READ = 5_000_000
#: the WAVEDESC timebase table (§4.3): 200 ps, 500 ps, then 1-2-5 from 1 ns to 500 s, then 1000 s
TDIV_TABLE = [200e-12, 500e-12] + [m * 10.0 ** e for e in range(-9, 3) for m in (1, 2, 5)] + [1000.0]
WAVEDESC_BYTES = 346
PROBE_RANGE = (1e-6, 1e6)
_DEPTH = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([kKmMgG]?)\s*$")
_DEPTH_UNIT = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9}
_SLOPES = {"RISING": "POS", "FALLING": "NEG", "ALTERNATE": "EITH"}
_SLOPE_REPLIES = {"POS": "RISing", "NEG": "FALLing", "EITH": "ALTernate"}
_TRIG_COUPLINGS = {"DC": "DC", "AC": "AC", "LFREJECT": "LFR", "HFREJECT": "HFR"}
_TRIG_COUPLING_REPLIES = {"DC": "DC", "AC": "AC", "LFR": "LFREJect", "HFR": "HFREJect"}
_MODE_REPLIES = {"AUTO": "AUTO", "NORM": "NORMal", "SING": "SINGle"}


def nr3(value: float) -> str:
    """NR3 as the guide's examples print it (``5.00E-01``), with more digits where the value has them (up to 7
    significant), so that what was set reads back as set."""
    v = float(value) + 0.0
    for decimals in range(2, 7):
        text = f"{v:.{decimals}E}"
        if math.isclose(float(text), v, rel_tol=1e-9, abs_tol=1e-300):
            return text
    return f"{v:.6E}"


def depth_reply(points: int) -> str:
    """A memory depth as the scope writes it: ``10k``, ``100k``, ``1M``, ``10M``, ``25M`` (§4.3)."""
    for factor, suffix in ((10**9, "G"), (10**6, "M"), (10**3, "k")):
        if points >= factor:
            return f"{points / factor:g}{suffix}"
    return str(points)


def parse_depth(text: str) -> int:
    """``10k``, ``12.5M``, ``1e4`` -> points (``M`` is mega here, as in the guide's depth list); -224 otherwise."""
    m = _DEPTH.match(text)
    if not m:
        raise ScpiError(-224, f"memory depth {text.strip()[:20]!r}")
    return round(float(m.group(1)) * _DEPTH_UNIT[m.group(2).upper()])


def tdiv_index(scale_s: float) -> int:
    """The WAVEDESC timebase index of the table entry nearest ``scale_s`` (in log scale)."""
    logs = [abs(math.log(scale_s / t)) for t in TDIV_TABLE]
    return logs.index(min(logs))


def wavedesc(*, points: int, vdiv_v: float, offset_v: float, probe: float, interval_s: float, first_s: float,
             scale_s: float, word: bool) -> bytes:
    """The 346-byte WAVEDESC (module docstring): ``vdiv_v`` and ``offset_v`` at the probe tip (they are written
    divided by the probe factor), ``first_s`` the first point's time from the trigger, ``scale_s`` the timebase."""
    d = bytearray(WAVEDESC_BYTES)
    d[0:8] = b"WAVEDESC"
    struct.pack_into("<hh", d, 0x20, 1 if word else 0, 1)       # COMM_TYPE (0 byte, 1 word), COMM_ORDER LOFIRST
    struct.pack_into("<i", d, 0x24, WAVEDESC_BYTES)
    struct.pack_into("<i", d, 0x74, points)
    struct.pack_into("<fff", d, 0x9C, vdiv_v / probe, offset_v / probe, HARDWARE.codes_per_div)
    struct.pack_into("<h", d, 0xAC, ADC_BITS)
    index = tdiv_index(scale_s)
    tdiv = TDIV_TABLE[index]
    struct.pack_into("<f", d, 0xB0, interval_s)
    struct.pack_into("<d", d, 0xB4, first_s + tdiv * HARDWARE.h_divs / 2)
    struct.pack_into("<h", d, 0x144, index)
    struct.pack_into("<f", d, 0x148, probe)
    return bytes(d)


class SiglentSDS(SimScope):
    """The SDS824X HD dialect (new SCPI set) over a :class:`ScopeState` fed by the bench."""

    average_spelling = "AVERage"

    def __init__(self, source: SignalSource, imperfections: Imperfections, *, seed: int = 0, idn: str = IDN) -> None:
        self.mmanagement = "AUTO"
        self.depth = 10_000_000
        super().__init__(Dialect(idn=idn, signed_integers=False), HARDWARE, source, imperfections, seed)

    def register(self, rows: Iterable[CommandRow]) -> None:
        """The family's table, without the SCPI error queue the common commands bring (module docstring)."""
        table = SiglentTable()
        table.keep(without_error_queue(self.table))
        self.table = table
        super().register(rows)

    def status_byte(self) -> int:
        """``*STB?`` without an error-available bit (no error queue)."""
        return status_byte_without_queue(self)

    # -- state --------------------------------------------------------------------------------------
    def reset(self) -> None:
        """``*RST``: channel 1 on at 1 V/div, the others off; 1 us/div, delay 0; AUTO edge trigger on C1 at 0 V;
        memory AUTO; NORMal acquisition (average count 16 kept for AVERage); transfer C1, BYTE, LSB first, from
        point 0, all points, every point (the guide's defaults as far as it gives them, [L] otherwise)."""
        super().reset()
        self.state.h_scale_s = 1e-6
        self.state.avg_count = 16
        self.mmanagement = "AUTO"
        self.depth = 10_000_000
        self.mode = "AUTO"
        self.wav_source = 1
        self.wav_word = False
        self.wav_msb_first = False
        self.wav_start = 0
        self.wav_points = 0
        self.wav_interval = 1
        self.arm_reported = True
        self.ext_name = "EX"

    def memory_plan(self, state: ScopeState) -> tuple[Geometry, Screen]:
        """The record the present settings acquire (module docstring): it spans the screen from its left edge."""
        screen = state.screen()
        nch = state.n_on()
        fmax = state.hw.srate_by_nch[nch - 1]
        memory = state.hw.mem_by_nch[nch - 1]
        if self.mmanagement == "FMDEPTH":
            n = min(self.depth, memory, max(1, math.floor(fmax * screen.window_s)))
        else:
            n = int(max(1000, min(memory, math.floor(fmax * screen.window_s))))
        return Geometry(t0_s=screen.left_s, dt_s=screen.window_s / n, n=n), screen

    # -- the command table --------------------------------------------------------------------------
    def commands(self) -> list[CommandRow]:
        """The served commands (module docstring), subsystem by subsystem."""
        return [*self._channel_rows(), *self._timebase_rows(), *self._acquire_rows(), *self._trigger_rows(),
                *self._waveform_rows()]

    def _channel_rows(self) -> list[CommandRow]:
        set_, get = self.channel_command, self.channel_query
        return [
            CommandRow("CHANnel#:SWITch", set_(lambda c, v: setattr(c, "display", parse_bool(v))),
                       get(lambda c: "ON" if c.display else "OFF")),
            CommandRow("CHANnel#:SCALe", set_(self._set_scale), get(lambda c: nr3(c.scale_v))),
            CommandRow("CHANnel#:OFFSet", set_(self._set_offset), get(lambda c: nr3(-c.centre_v))),
            CommandRow("CHANnel#:COUPling",
                       set_(lambda c, v: setattr(c, "coupling", parse_choice(v, ("DC", "AC", "GND")))),
                       get(lambda c: c.coupling)),
            CommandRow("CHANnel#:IMPedance", set_(_set_impedance), get(lambda c: "ONEMeg")),
            CommandRow("CHANnel#:PROBe", self._set_probe, get(lambda c: nr3(c.probe))),
            CommandRow("CHANnel#:BWLimit",
                       set_(lambda c, v: setattr(c, "bw_limit", parse_choice(v, ("FULL", "20M")) == "20M")),
                       get(lambda c: "20M" if c.bw_limit else "FULL")),
            CommandRow("CHANnel#:INVert", set_(lambda c, v: setattr(c, "inverted", parse_bool(v))),
                       get(lambda c: "ON" if c.inverted else "OFF")),
        ]

    def _timebase_rows(self) -> list[CommandRow]:
        st = self.state
        return [
            CommandRow("TIMebase:SCALe", command_of(self._set_timebase), query_of(lambda: nr3(st.h_scale_s))),
            CommandRow("TIMebase:DELay", command_of(self._set_delay), query_of(lambda: nr3(st.h_position_s))),
        ]

    def _acquire_rows(self) -> list[CommandRow]:
        st = self.state
        return [
            CommandRow("ACQuire:TYPE", self._set_type, query_of(self._type)),
            CommandRow("ACQuire:MMANagement", command_of(self._set_mmanagement),
                       query_of(lambda: {"AUTO": "AUTO", "FMDEPTH": "FMDepth"}[self.mmanagement])),
            CommandRow("ACQuire:MDEPth", command_of(self._set_depth), query_of(self._depth)),
            CommandRow("ACQuire:SRATe", query=query_of(lambda: nr3(st.sample_rate_sa_s()))),
            CommandRow("ACQuire:POINts", query=query_of(lambda: nr3(st.record_length()))),
            CommandRow("ACQuire:MODE", command_of(self._set_acq_mode), query_of(lambda: "YT")),
        ]

    def _trigger_rows(self) -> list[CommandRow]:
        st = self.state
        return [
            CommandRow("TRIGger:TYPE", command_of(self._set_trigger_type), query_of(lambda: "EDGE")),
            CommandRow("TRIGger:EDGE:SOURce", command_of(self._set_trig_source), query_of(self._trig_source)),
            CommandRow("TRIGger:EDGE:SLOPe", command_of(self._set_slope),
                       query_of(lambda: _SLOPE_REPLIES[st.trig_slope])),
            CommandRow("TRIGger:EDGE:LEVel", command_of(lambda v: setattr(st, "trig_level_v", volts(v))),
                       query_of(lambda: nr3(st.trig_level_v))),
            CommandRow("TRIGger:EDGE:COUPling", command_of(self._set_trig_coupling),
                       query_of(lambda: _TRIG_COUPLING_REPLIES[st.trig_coupling])),
            CommandRow("TRIGger:MODE", command_of(self._set_mode), query_of(lambda: _MODE_REPLIES[self.mode])),
            CommandRow("TRIGger:RUN", action_of(self._run)),
            CommandRow("TRIGger:STOP", action_of(st.stop)),
            CommandRow("TRIGger:STATus", query=query_of(self._trigger_status)),
        ]

    def _waveform_rows(self) -> list[CommandRow]:
        return [
            CommandRow("WAVeform:SOURce", command_of(self._set_wav_source), query_of(lambda: f"C{self.wav_source}")),
            CommandRow("WAVeform:WIDTh", command_of(self._set_width),
                       query_of(lambda: "WORD" if self.wav_word else "BYTE")),
            CommandRow("WAVeform:BYTeorder", command_of(self._set_byte_order),
                       query_of(lambda: "MSB" if self.wav_msb_first else "LSB")),
            CommandRow("WAVeform:STARt", command_of(lambda v: setattr(self, "wav_start", _count(v, 0))),
                       query_of(lambda: str(self.wav_start))),
            CommandRow("WAVeform:POINt", command_of(lambda v: setattr(self, "wav_points", _count(v, 0))),
                       query_of(lambda: str(self.wav_points))),
            CommandRow("WAVeform:INTerval", command_of(lambda v: setattr(self, "wav_interval", _count(v, 1))),
                       query_of(lambda: str(self.wav_interval))),
            CommandRow("WAVeform:MAXPoint", query=query_of(lambda: str(MAX_POINTS_PER_READ))),
            CommandRow("WAVeform:PREamble", query=self._preamble),
            CommandRow("WAVeform:DATA", query=self._data),
        ]

    # -- vertical -------------------------------------------------------------------------------------
    def _offset_limit(self, c: ChannelSettings) -> float:
        """Offset range at the probe tip: +-2 V up to 200 mV/div, +-100 V above (at probe 1, [L])."""
        return (2.0 if c.scale_v / c.probe <= 0.2 else 100.0) * c.probe

    def _set_scale(self, c: ChannelSettings, value: str) -> None:
        hw = self.state.hw
        c.scale_v = _clip(volts(value), hw.scale_min_v * c.probe, hw.scale_max_v * c.probe)
        lim = self._offset_limit(c)
        c.centre_v = _clip(c.centre_v, -lim, lim)

    def _set_offset(self, c: ChannelSettings, value: str) -> None:
        lim = self._offset_limit(c)
        c.centre_v = -_clip(volts(value), -lim, lim)

    def _set_probe(self, ctx: Context, s: Suffixes, p: Params) -> None:
        """``:CHANnel<n>:PROBe DEFault|VALue,<ratio>`` (§4.3, SDS2000X Plus form): scale and offset follow."""
        c = self.state.channel(self.ch(s[0]))
        expect_params(p, 1, 2)
        word = parse_choice(p[0], ("DEFault", "VALue"))
        if word == "DEFAULT":
            expect_params(p, 1)
            ratio = 1.0
        else:
            expect_params(p, 2)
            ratio = _clip(float(parse_number(p[1], units=("X",))), *PROBE_RANGE)
        k = ratio / c.probe
        c.scale_v *= k
        c.centre_v *= k
        c.probe = ratio

    # -- horizontal and acquisition ------------------------------------------------------------------------
    def _set_timebase(self, value: str) -> None:
        hw = self.state.hw
        self.state.h_scale_s = _clip(seconds(value), hw.timebase_min_s, hw.timebase_max_s)

    def _set_delay(self, value: str) -> None:
        window = self.state.hw.h_divs * self.state.h_scale_s
        self.state.h_position_s = _clip(seconds(value), -1000.0, 1000.0 + window)

    def _set_type(self, ctx: Context, s: Suffixes, p: Params) -> None:
        """``:ACQuire:TYPE NORMal|AVERage[,<n>]``; PEAK and ERES are not simulated (-221)."""
        expect_params(p, 1, 2)
        kind = parse_choice(p[0], ("NORMal", "AVERage", "PEAK", "ERES"))
        if kind in ("PEAK", "ERES"):
            raise ScpiError(-221, f"the simulator does not model {kind}")
        if kind == "NORMAL":
            expect_params(p, 1)
            self.state.acq_type = "NORM"
            return
        if len(p) == 2:
            n = int(round(float(parse_number(p[1]))))
            self.state.avg_count = AVERAGES[min(bisect.bisect_left(AVERAGES, n), len(AVERAGES) - 1)]
        self.state.acq_type = "AVER"

    def _type(self) -> str:
        st = self.state
        return f"AVERage,{st.avg_count}" if st.acq_type == "AVER" else "NORMal"

    def _set_mmanagement(self, value: str) -> None:
        mode = parse_choice(value, ("AUTO", "FSRate", "FMDepth"))
        if mode == "FSRATE":
            raise ScpiError(-221, "the simulator does not model a fixed sample rate")
        self.mmanagement = mode

    def _set_depth(self, value: str) -> None:
        """A listed depth in FMDepth mode; anything else has no effect (module docstring)."""
        points = parse_depth(value)
        allowed = [d for d in DEPTHS if d <= self.state.hw.mem_by_nch[self.state.n_on() - 1]]
        if self.mmanagement == "FMDEPTH" and points in allowed:
            self.depth = points

    def _depth(self) -> str:
        """``:ACQuire:MDEPth?``: the fixed depth in FMDepth mode (the record may hold fewer points when the top
        sample rate cannot fill it, ``:ACQuire:POINts?``), else the automatic one."""
        st = self.state
        if self.mmanagement == "FMDEPTH":
            return depth_reply(min(self.depth, st.hw.mem_by_nch[st.n_on() - 1]))
        return depth_reply(st.record_length())

    @staticmethod
    def _set_acq_mode(value: str) -> None:
        if parse_choice(value, ("YT", "XY", "ROLL")) != "YT":
            raise ScpiError(-221, "the simulator models YT only")

    # -- trigger and run control -------------------------------------------------------------------------
    @staticmethod
    def _set_trigger_type(value: str) -> None:
        types = ("EDGE", "SLEW", "GLITch", "INTerval", "RUNT", "WINDow", "DROPout", "VIDeo", "QUALified", "NEDGe",
                 "DELay", "SETHold", "IIC", "SPI", "UART", "LIN", "CAN", "FLEXray", "CANFd", "IIS", "M1553")
        if parse_choice(value, types) != "EDGE":
            raise ScpiError(-221, "the simulator models the EDGE trigger only")

    def _set_trig_source(self, value: str) -> None:
        text = value.strip().upper()
        if text in ("EX", "EX5", "LINE"):
            self.state.trig_source = "EXT" if text.startswith("EX") else "LINE"
            self.ext_name = text
            return
        m = re.fullmatch(r"C([1-4])", text)
        if not m:
            raise ScpiError(-224, f"trigger source {value.strip()[:20]!r}")
        self.state.trig_source = int(m.group(1))

    def _trig_source(self) -> str:
        src = self.state.trig_source
        return f"C{src}" if isinstance(src, int) else self.ext_name

    def _set_slope(self, value: str) -> None:
        self.state.trig_slope = _SLOPES[parse_choice(value, ("RISing", "FALLing", "ALTernate"))]

    def _set_trig_coupling(self, value: str) -> None:
        self.state.trig_coupling = _TRIG_COUPLINGS[parse_choice(value, ("DC", "AC", "LFREJect", "HFREJect"))]

    def _set_mode(self, value: str) -> None:
        """``:TRIGger:MODE AUTO|NORMal|SINGle|FTRIG`` (module docstring)."""
        mode = parse_choice(value, ("AUTO", "NORMal", "SINGle", "FTRIG"))
        if mode == "FTRIG":
            self._force()
            return
        self.mode = {"AUTO": "AUTO", "NORMAL": "NORM", "SINGLE": "SING"}[mode]
        if self.mode == "SING":
            self._single()
        else:
            self.state.sweep = self.mode
            self.state.run()

    def _single(self) -> None:
        self.state.arm_single(auto=False)
        self.arm_reported = False

    def _run(self) -> None:
        """``:TRIGger:RUN``: acquire again in the present mode (a single shot re-arms)."""
        if self.mode == "SING":
            self._single()
        else:
            self.state.run()

    def _force(self) -> None:
        self.state.force_trigger()

    def _trigger_status(self) -> str:
        """``Arm`` once after arming, ``Ready`` while a single waits, ``Stop`` when done or stopped; running:
        ``Trig'd`` or ``Auto`` (``Ready`` in NORMal without a trigger)."""
        st = self.state
        if st.run_state == "SINGLE":
            done = st.poll_single()
            if not self.arm_reported:
                self.arm_reported = True
                return "Arm"
            return "Stop" if done else "Ready"
        if st.run_state == "STOP":
            return "Stop"
        acq = st.current()
        if acq is None:
            return "Ready"
        return "Trig'd" if acq.triggered else "Auto"

    # -- waveform transfer --------------------------------------------------------------------------------
    def _set_wav_source(self, value: str) -> None:
        m = re.fullmatch(r"C([1-4])", value.strip().upper())
        if not m:
            raise ScpiError(-224, f"waveform source {value.strip()[:20]!r}")
        self.wav_source = int(m.group(1))

    def _set_width(self, value: str) -> None:
        self.wav_word = parse_choice(value, ("BYTE", "WORD")) == "WORD"

    def _set_byte_order(self, value: str) -> None:
        self.wav_msb_first = parse_choice(value, ("LSB", "MSB")) == "MSB"

    def preamble_fields(self) -> list[str]:
        """Not a ten-field family: the preamble is the binary WAVEDESC (:meth:`_preamble`)."""
        raise ScpiError(-113, "the SDS preamble is a binary WAVEDESC")

    def _preamble(self, ctx: Context, s: Suffixes, p: Params) -> bytes:
        """``:WAVeform:PREamble?``: the WAVEDESC of the source's last acquisition (module docstring)."""
        expect_params(p, 0)
        acq = self.acquisition_for_read(fresh=False)
        ch = self.wav_source
        c = self.state.channel(ch)
        if acq is None:
            raw, adc, scale = Geometry(0.0, 0.0, 0), self.state.adc(ch), self.state.h_scale_s
        else:  # the acquisition's own settings, which the present ones may have left since
            raw, adc, scale = acq.raw, acq.adc[ch], acq.screen_window_s / HARDWARE.h_divs
        desc = wavedesc(points=raw.n, vdiv_v=adc.lsb_v * HARDWARE.codes_per_div, offset_v=-adc.centre_v,
                        probe=c.probe, interval_s=raw.dt_s, first_s=raw.t0_s, scale_s=scale, word=self.wav_word)
        return definite_block(desc, 9)

    def _data(self, ctx: Context, s: Suffixes, p: Params) -> bytes:
        """``:WAVeform:DATA?``: points STARt, STARt + INTerval, ... (POINt of them, 0 = to the end), at most
        :data:`MAX_POINTS_PER_READ`; an empty block and an execution error for a channel that is off."""
        expect_params(p, 0)
        acq = self.acquisition_for_read(fresh=True)
        ch = self.wav_source
        if acq is None or ch not in acq.channels:
            self.push_error(-222, f"no data for C{ch}")
            return definite_block(b"", 9)
        raw = acq.raw
        k = self.wav_interval
        start = min(self.wav_start, raw.n)
        available = (raw.n - start + k - 1) // k
        count = min(available, self.wav_points or available, MAX_POINTS_PER_READ)
        geom = raw if k == 1 else Geometry(t0_s=raw.t0_s, dt_s=raw.dt_s * k, n=raw.n // k)
        codes = acq.codes(ch, geom, start if k == 1 else start // k, count)
        return definite_block(self._encode(codes), 9)

    def _encode(self, codes: FloatArray) -> bytes:
        """WORD: the 12-bit code in a signed 16-bit word; BYTE: its top 8 bits (module docstring)."""
        if self.wav_word:
            words = np.rint(codes).astype(np.int16)
            return words.astype(">i2" if self.wav_msb_first else "<i2").tobytes()
        return np.clip(np.floor(codes / 16.0), -128, 127).astype(np.int8).tobytes()


def _set_impedance(c: ChannelSettings, value: str) -> None:
    if parse_choice(value, ("ONEMeg", "FIFTy")) == "FIFTY":
        raise ScpiError(-221, "the SDS824X HD has 1 MOhm inputs only")


def _count(text: str, lo: int) -> int:
    """A point index or count (NR1, ``lo`` or more); more than the record is limited when the data are read."""
    v = float(parse_number(text))
    if v < lo:
        raise ScpiError(-222, f"{v:g} is below {lo}")
    return int(min(round(v), 2**31 - 1))


def _clip(v: float, lo: float, hi: float) -> float:
    return min(max(v, lo), hi)


def make_scope(source: SignalSource, imperfections: Imperfections, seed: int = 0) -> SiglentSDS:
    """The simulated scope of a bench, fed by ``source`` (:mod:`instruments.sim.bench`)."""
    return SiglentSDS(source, imperfections, seed=seed)
