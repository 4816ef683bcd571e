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
  ``:RSTate?`` -> ``RUN|STOP|SING``.
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

    *IDN? *RST *CLS *OPC *OPC? *WAI *ESR? *ESE(?) *SRE(?) *STB? *TST?  :SYSTem:ERRor[:NEXT]?  :SYSTem:PRESet
    :CHANnel<n>:DISPlay(?) :SCALe(?) :RANGe(?) :OFFSet(?) :COUPling(?) :IMPedance(?) :PROBe(?) :BWLimit(?)
        :INVert(?)
    :TIMebase:SCALe(?) :RANGe(?) :POSition(?) :REFerence(?) :MODE(?)
    :ACQuire:TYPE(?) :COUNt(?) :MODE(?) :POINts? :SRATe?
    :TRIGger:MODE(?) :TRIGger[:EDGE]:SOURce(?) :LEVel(?) :SLOPe(?) :COUPling(?)  :TRIGger:SWEep(?)
    :TRIGger:FORCe
    :RUN :STOP :SINGle :DIGitize [CHANnel<n>,...] :RSTate? :AER? :TER? :OPERegister:CONDition?
    :WAVeform:SOURce(?) :FORMat(?) :UNSigned(?) :BYTeorder(?) :POINts:MODE(?) :POINts(?) :PREamble?
        :DATA? :TYPE? :COUNt? :XINCrement? :XORigin? :XREFerence? :YINCrement? :YORigin? :YREFerence?
"""

from __future__ import annotations

import math
import time

import numpy as np

from .acquisition import Acquisition, Geometry
from .arrays import FloatArray
from .scope_device import SimScope, data_format, only, read_mode, seconds, volts
from .scope_state import ChannelSettings, Imperfections, ScopeHardware, ScopeState, Screen, SignalSource
from .scpi_device import (
    CommandRow,
    Context,
    Dialect,
    action_of,
    command_of,
    definite_block,
    query_of,
)
from .scpi_parser import (
    Params,
    ScpiError,
    Suffixes,
    expect_params,
    parse_bool,
    parse_channel_name,
    parse_choice,
    parse_number,
)

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
        super().__init__(Dialect(idn=idn, signed_integers=True, queue_size=30), HARDWARE, source, imperfections,
                         seed)

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

    def _clamp(self, value: float, lo: float, hi: float) -> float:
        if lo <= value <= hi:
            return value
        self.push_error(-222, f"{value:g} outside [{lo:g}, {hi:g}]")
        return min(max(value, lo), hi)

    def _offset_limit(self, c: ChannelSettings) -> float:
        """Offset range: +-2 V up to 200 mV/div, +-50 V above (at probe 1; both scale with the probe)."""
        return (2.0 if c.scale_v / c.probe <= 0.2 else 50.0) * c.probe

    # -- the command table --------------------------------------------------------------------------
    def commands(self) -> list[CommandRow]:
        """The served commands (module docstring), subsystem by subsystem."""
        return [*self._channel_rows(), *self._timebase_rows(), *self._acquire_rows(), *self._trigger_rows(),
                *self._run_rows(), *self._waveform_rows(), *self.preamble_field_rows()]

    def _channel_rows(self) -> list[CommandRow]:
        set_, get = self.channel_command, self.channel_query
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
        ]

    def _timebase_rows(self) -> list[CommandRow]:
        st = self.state
        return [
            CommandRow("TIMebase:SCALe", command_of(lambda v: self._set_timebase(seconds(v))),
                       query_of(lambda: _num(st.h_scale_s))),
            CommandRow("TIMebase:RANGe", command_of(lambda v: self._set_timebase(seconds(v) / 10)),
                       query_of(lambda: _num(10.0 * st.h_scale_s))),
            CommandRow("TIMebase:POSition", command_of(self._set_position), query_of(lambda: _num(st.h_position_s))),
            CommandRow("TIMebase:REFerence", command_of(self._set_reference),
                       query_of(lambda: _REFERENCE_REPLIES[st.h_reference])),
            CommandRow("TIMebase:MODE", command_of(lambda v: only(v, ("MAIN", "WINDow", "XY", "ROLL"), "MAIN")),
                       query_of(lambda: "MAIN")),
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
            CommandRow("RUN", action_of(self.state.run)),
            CommandRow("STOP", action_of(self.state.stop)),
            CommandRow("SINGle", action_of(self._single)),
            CommandRow("DIGitize", self._digitize),
            CommandRow("RSTate", query=query_of(self._rstate)),
            CommandRow("AER", query=query_of(self._aer)),
            CommandRow("TER", query=query_of(self._ter)),
            CommandRow("OPERegister[:CONDition]", query=query_of(self._oper)),
            CommandRow("SYSTem:PRESet", action_of(self.reset)),
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
            ctx.sleep_unlocked(min(0.01, max(1e-4, st.single_ready_s - time.monotonic())))

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
        st = self.state
        done = st.poll_single()
        value = 8 if st.run_state in ("RUN", "SINGLE") else 0
        if st.run_state == "SINGLE" and not done:
            value |= 32
        return f"{value:+d}"

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
