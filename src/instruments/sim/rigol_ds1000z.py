"""Simulated Rigol DS1054Z scope: the ``rigol_ds1000z`` dialect.

Facts from docs/reference/scpi.md §4.2 (QCoDeS ``Rigol_DS1074Z.py``; MSO1000Z/DS1000Z Programming Guide; a
DS1054Z bench log) unless marked otherwise:

* ``*IDN?`` -> ``RIGOL TECHNOLOGIES,DS1054Z,DS1ZA000000000,00.04.04.SP4``; errors ``0,"No error"``,
  ``-113,"Undefined header; keyword cannot be found"``.
* 8-bit ADC, 8 vertical and 12 horizontal divisions (1200-point screen record), 1 MOhm inputs only.
  yreference 127, yincrement = (V/div)/25 (25 codes/div; the 256 codes leave about 1.1 divisions of
  over-range above and below the screen); ``volts = (code - yorigin - yreference) x yincrement`` with
  yorigin a whole number of codes; offset is *added* to the trace, so the screen-centre voltage is
  ``-offset``.
* Preamble ``format,type,points,count,xincrement,xorigin,xreference,yincrement,yorigin,yreference``
  (format 0 BYTE / 1 WORD / 2 ASC, type 0 NORMal / 1 MAXimum / 2 RAW; count = averages); data ``#9``
  block + LF. WORD carries the same 8-bit value in the low byte (LSB first); ASCii is CSV volts.
* ``:WAVeform:MODE``: NORMal = 1200 screen points; RAW = memory, needs ``:STOP`` (while running a RAW
  read returns the 1200 screen points, as one user saw, §4.2); MAXimum = screen while running, memory
  when stopped. ``:WAVeform:STARt``/``:STOP`` (1-based) select the window; one read returns at most
  250 000 points in BYTE, 125 000 in WORD, 15 625 in ASCii, starting at STARt.
* ``:ACQuire:MDEPth {AUTO|<points>}``: 12k/120k/1.2M/12M/24M points with one channel on, half that with
  two, a quarter with three or four; any other value is ignored without an error (old value kept).
* ``:SINGle`` = ``:TRIGger:SWEep SINGle`` and the sweep stays SINGle; ``:TRIGger:STATus?`` answers
  ``TD|WAIT|RUN|AUTO|STOP``. A pending single answers ``WAIT`` to the first status query after
  ``:SINGle`` (so the documented "wait until it leaves STOP, then until it returns to STOP" poll works
  however slowly the client polls). There is no ``:DIGitize`` (it is an undefined header, -113).
* Out-of-range vertical/horizontal values are clamped silently (Rigol, §2.3 and §1.2).

Model figures not in docs/reference/scpi.md (DS1054Z data sheet): 1 mV/div ... 10 V/div at probe 1; offset +-2 V below
500 mV/div, +-100 V from 500 mV/div; 5 ns/div ... 50 s/div; 1 GSa/s with one channel, 500 MSa/s with two,
250 MSa/s with three or four; BW limit 20 MHz (§4.2 ``BWLimit {20M|OFF}``); AC coupling corner 10 Hz.
The simulated leads are 1:1 and ``*RST`` sets the probe ratio to 1.

Served commands (``<n>`` = 1..4)::

    *IDN? *RST *CLS *OPC *OPC? *WAI *ESR? *ESE(?) *SRE(?) *STB? *TST?  :SYSTem:ERRor[:NEXT]?
    :AUToscale  :SYSTem:AUToscale(?)  :SYSTem:SETup(?)
    :CHANnel<n>:DISPlay(?) :SCALe(?) :OFFSet(?) :COUPling(?) :PROBe(?) :BWLimit(?) :INVert(?)
    :TIMebase[:MAIN]:SCALe(?) :TIMebase[:MAIN]:OFFSet(?) :TIMebase:MODE(?)
    :ACQuire:TYPE(?) :AVERages(?) :MDEPth(?) :SRATe?
    :TRIGger:MODE(?) :TRIGger:EDGE:SOURce(?) :SLOPe(?) :LEVel(?) :TRIGger:COUPling(?) :TRIGger:SWEep(?)
    :TRIGger:STATus?
    :RUN :STOP :SINGle :TFORce :CLEar
    :WAVeform:SOURce(?) :MODE(?) :FORMat(?) :STARt(?) :STOP(?) :PREamble? :DATA?
        :XINCrement? :XORigin? :XREFerence? :YINCrement? :YORigin? :YREFerence?

Autoscale (DS guide p. 2-2: the scope "adjusts the vertical scale, horizontal timebase and trigger mode according
to the input signal"): the simulated one looks at all four inputs, turns on those with activity and off the
others, and chooses the scales from the signals it sees (:meth:`SimScope.autoscale`: 1-2-5 V/div with the
signal over at most six divisions, centred inside the offset range; 1-2-5 s/div showing two periods of the
trigger channel, offset 0; rising edge trigger on the first active channel at its mid level, AUTO sweep;
running). The acquisition type is left as it was (the guide names only vertical, horizontal and trigger).
``:SYSTem:AUToscale OFF`` disables the AUTO function; ``:AUToscale`` is then ignored (the guide calls it
invalid; no error is queued, permissive). ``:SYSTem:AUToscale?`` answers 1/0.

Setups: ``:SYSTem:SETup?`` answers a ``#9`` block (the DS2000 guide's ``:SYSTem:SETup`` entry, p. 2-408, shows the
``#9`` header; a public DS1054Z bench log reports a block of about 2 kB, written back whole) whose data a client
treats as opaque and sends back with ``:SYSTem:SETup <block>``. It holds the channel, timebase, acquisition and
trigger settings, the memory depth and the waveform transfer settings; not the run state or the acquired data. A
block that is not one of this model's setups is -161 "Invalid block data" (nothing changes); a parameter that is
no block is -104. Stored setup files (``:STORage``, ``*SAV``/``*RCL`` where a firmware has them) are not simulated
(-113).
The data is printable ASCII (base64 of JSON) because the simulator's transport is line-based and its parser
refuses bytes outside printable ASCII (-101) before a command sees them: a real scope's binary setup cannot be
loaded into the simulator.
"""

from __future__ import annotations

import math

import numpy as np

from .acquisition import Acquisition, Geometry
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
)
from .scpi_parser import Params, ScpiError, Suffixes, expect_params, parse_channel_name, parse_choice, parse_number

IDN = "RIGOL TECHNOLOGIES,DS1054Z,DS1ZA000000000,00.04.04.SP4"
HARDWARE = ScopeHardware(h_divs=12, codes_per_div=25.0, centre_code=127.0, code_lo=0, code_hi=255,
                         scale_min_v=1e-3, scale_max_v=10.0, timebase_min_s=5e-9, timebase_max_s=50.0,
                         srate_by_nch=(1e9, 500e6, 250e6, 250e6),
                         mem_by_nch=(24_000_000, 12_000_000, 6_000_000, 6_000_000),
                         ac_corner_hz=10.0, bw_limit_hz=20e6, integer_centre_codes=True)
MDEPTHS_1CH = (12_000, 120_000, 1_200_000, 12_000_000, 24_000_000)
SCREEN_POINTS = 1200
READ_CAP = {"BYTE": 250_000, "WORD": 125_000, "ASC": 15_625}
PROBE_RATIOS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
ERROR_TEXTS = {-113: "Undefined header; keyword cannot be found", -161: "Invalid block data"}
MODEL = "DS1054Z"  # the model a saved setup belongs to
_FORMAT_CODE = {"BYTE": 0, "WORD": 1, "ASC": 2}
_MODE_CODE = {"NORM": 0, "MAX": 1, "RAW": 2}


def mdepths(n_on: int) -> tuple[int, ...]:
    """Allowed memory depths with ``n_on`` channels on: the single-channel list divided by 1, 2 or 4."""
    div = 1 if n_on <= 1 else 2 if n_on == 2 else 4
    return tuple(d // div for d in MDEPTHS_1CH)


_TRIGGER_MODES = ("EDGE", "PULSe", "RUNT", "WIND", "SLOPe", "NEDGe", "PATTern", "DELay", "TIMeout", "DURation",
                  "SHOLd", "RS232", "IIC", "SPI", "VIDeo")
_SLOPE_REPLIES = {"POS": "POS", "NEG": "NEG", "EITH": "RFAL"}


class RigolDS1000Z(SimScope):
    """The DS1054Z dialect over a :class:`ScopeState` fed by the bench."""

    average_spelling = "AVERages"

    def __init__(self, source: SignalSource, imperfections: Imperfections, *, seed: int = 0, idn: str = IDN) -> None:
        self.mdepth_index: int | None = None  # None = AUTO; else an index into mdepths(n_on)
        self.options = OptionStore()
        super().__init__(Dialect(idn=idn, signed_integers=False, error_texts=ERROR_TEXTS), HARDWARE, source,
                         imperfections, seed)

    # -- state --------------------------------------------------------------------------------------
    def reset(self) -> None:
        """``*RST``: channel 1 on at 1 V/div, others off, 1 us/div, AUTO edge trigger on CH1 at 0 V,
        memory AUTO, averages 2; waveform CHAN1, NORMal, BYTE, points 1..1200 (DS1000Z guide defaults)."""
        super().reset()
        self.state.h_scale_s = 1e-6
        self.state.avg_count = 2
        self.mdepth_index = None
        self.wav_source = 1
        self.wav_mode = "NORM"
        self.wav_format = "BYTE"
        self.wav_start = 1
        self.wav_stop = SCREEN_POINTS
        self.wait_reported = True
        self.options.reset()

    def memory_plan(self, state: ScopeState) -> tuple[Geometry, Screen]:
        """Record length and rate: AUTO fills the screen at the highest rate the memory allows; a set depth
        keeps its length and samples at ``min(max rate, depth / screen time)``, centred on the screen."""
        screen = state.screen()
        nch = state.n_on()
        fmax = state.hw.srate_by_nch[nch - 1]
        if self.mdepth_index is None:
            n = int(max(SCREEN_POINTS, min(state.hw.mem_by_nch[nch - 1], math.floor(fmax * screen.window_s))))
            return Geometry(t0_s=screen.left_s, dt_s=screen.window_s / n, n=n), screen
        n = mdepths(nch)[self.mdepth_index]
        fs = min(fmax, n / screen.window_s)
        centre = screen.left_s + screen.window_s / 2
        return Geometry(t0_s=centre - n / (2 * fs), dt_s=1.0 / fs, n=n), screen

    # -- the command table --------------------------------------------------------------------------
    def commands(self) -> list[CommandRow]:
        """The served commands (module docstring), subsystem by subsystem."""
        return [*self._channel_rows(), *self._timebase_rows(), *self._acquire_rows(), *self._trigger_rows(),
                *self._run_rows(), *self._waveform_rows(), *self.preamble_field_rows(), *self._system_rows()]

    def _system_rows(self) -> list[CommandRow]:
        """``:AUToscale``, ``:SYSTem:AUToscale`` and ``:SYSTem:SETup`` (module docstring)."""
        return [
            CommandRow("AUToscale", action_of(self._autoscale)),
            self.options.choice_row("SYSTem:AUToscale", "SYSTEM:AUTOSCALE",
                                    {"ON": "1", "1": "1", "OFF": "0", "0": "0"}, "1"),
            CommandRow("SYSTem:SETup", self._set_setup, self._setup_block),
        ]

    def _channel_rows(self) -> list[CommandRow]:
        set_, get = self.channel_command, self.channel_query
        return [
            self.channel_flag("CHANnel#:DISPlay", "display"),
            self.channel_flag("CHANnel#:INVert", "inverted"),
            CommandRow("CHANnel#:SCALe", set_(self._set_scale), get(lambda c: _num(c.scale_v))),
            CommandRow("CHANnel#:OFFSet", set_(self._set_offset), get(lambda c: _num(-c.centre_v + 0.0))),
            CommandRow("CHANnel#:COUPling",
                       set_(lambda c, v: setattr(c, "coupling", parse_choice(v, ("AC", "DC", "GND")))),
                       get(lambda c: c.coupling)),
            CommandRow("CHANnel#:BWLimit",
                       set_(lambda c, v: setattr(c, "bw_limit", parse_choice(v, ("20M", "OFF")) == "20M")),
                       get(lambda c: "20M" if c.bw_limit else "OFF")),
            CommandRow("CHANnel#:PROBe", set_(self._set_probe), get(lambda c: _num(c.probe))),
        ]

    def _timebase_rows(self) -> list[CommandRow]:
        st = self.state
        return [
            CommandRow("TIMebase[:MAIN]:SCALe", command_of(self._set_timebase), query_of(lambda: _num(st.h_scale_s))),
            CommandRow("TIMebase[:MAIN]:OFFSet", command_of(self._set_position),
                       query_of(lambda: _num(st.h_position_s))),
            CommandRow("TIMebase:MODE", command_of(lambda v: only(v, ("MAIN", "XY", "ROLL"), "MAIN")),
                       query_of(lambda: "MAIN")),
        ]

    def _acquire_rows(self) -> list[CommandRow]:
        st = self.state
        return [
            CommandRow("ACQuire:TYPE", command_of(self.set_acq_type), query_of(lambda: st.acq_type)),
            CommandRow("ACQuire:AVERages", command_of(self._set_averages), query_of(lambda: str(st.avg_count))),
            CommandRow("ACQuire:MDEPth", command_of(self._set_mdepth), query_of(self._mdepth)),
            CommandRow("ACQuire:SRATe", query=query_of(lambda: _num(st.sample_rate_sa_s()))),
        ]

    def _trigger_rows(self) -> list[CommandRow]:
        st = self.state
        return [
            CommandRow("TRIGger:MODE", command_of(lambda v: only(v, _TRIGGER_MODES, "EDGE")), query_of(lambda: "EDGE")),
            CommandRow("TRIGger:EDGE:SOURce", command_of(self._set_trig_source), query_of(self._trig_source)),
            CommandRow("TRIGger:EDGE:SLOPe", command_of(self._set_slope),
                       query_of(lambda: _SLOPE_REPLIES[st.trig_slope])),
            CommandRow("TRIGger:EDGE:LEVel", command_of(self._set_trig_level), query_of(lambda: _num(st.trig_level_v))),
            CommandRow("TRIGger:COUPling", command_of(self._set_trig_coupling), query_of(lambda: st.trig_coupling)),
            CommandRow("TRIGger:SWEep", command_of(self._set_sweep), query_of(lambda: st.sweep)),
            CommandRow("TRIGger:STATus", query=query_of(self._trigger_status)),
        ]

    def _run_rows(self) -> list[CommandRow]:
        return [
            CommandRow("RUN", action_of(self._run)),
            CommandRow("STOP", action_of(self.state.stop)),
            CommandRow("SINGle", action_of(self._single)),
            CommandRow("TFORce", action_of(self._force)),
            CommandRow("CLEar", action_of(self._clear)),
        ]

    def _waveform_rows(self) -> list[CommandRow]:
        return [
            CommandRow("WAVeform:SOURce", command_of(self._set_wav_source), query_of(lambda: f"CHAN{self.wav_source}")),
            CommandRow("WAVeform:MODE", command_of(self._set_wav_mode), query_of(lambda: self.wav_mode)),
            CommandRow("WAVeform:FORMat", command_of(self._set_format), query_of(lambda: self.wav_format)),
            CommandRow("WAVeform:STARt", command_of(self._set_start), query_of(lambda: str(self.wav_start))),
            CommandRow("WAVeform:STOP", command_of(self._set_stop), query_of(lambda: str(self.wav_stop))),
            CommandRow("WAVeform:PREamble", query=query_of(lambda: ",".join(self.preamble_fields()))),
            CommandRow("WAVeform:DATA", query=self._data),
        ]

    # -- vertical and horizontal ---------------------------------------------------------------------
    def _set_scale(self, c: ChannelSettings, value: str) -> None:
        hw = self.state.hw
        c.scale_v = _clip(volts(value), hw.scale_min_v * c.probe, hw.scale_max_v * c.probe)
        lim = self._offset_limit(c)
        c.centre_v = _clip(c.centre_v, -lim, lim)

    def offset_limit(self, c: ChannelSettings) -> float:
        """The offset range at the channel's scale (:meth:`_offset_limit`), for the autoscale."""
        return self._offset_limit(c)

    def _offset_limit(self, c: ChannelSettings) -> float:
        """Offset range: +-2 V below 500 mV/div, +-100 V from 500 mV/div (at probe 1; scaled by the probe)."""
        return (2.0 if c.scale_v / c.probe < 0.5 else 100.0) * c.probe

    def _set_offset(self, c: ChannelSettings, value: str) -> None:
        lim = self._offset_limit(c)
        c.centre_v = -_clip(volts(value), -lim, lim)

    def _set_probe(self, c: ChannelSettings, value: str) -> None:
        ratio = float(parse_number(value))
        match = [r for r in PROBE_RATIOS if math.isclose(r, ratio, rel_tol=1e-6)]
        if not match:
            return  # not one of the discrete ratios: ignored like other invalid values (§1.2)
        k = match[0] / c.probe
        c.scale_v *= k
        c.centre_v *= k
        c.probe = match[0]

    def _set_timebase(self, value: str) -> None:
        hw = self.state.hw
        self.state.h_scale_s = _clip(seconds(value), hw.timebase_min_s, hw.timebase_max_s)

    def _set_position(self, value: str) -> None:
        self.state.h_position_s = _clip(seconds(value), -500, 500)

    # -- acquisition --------------------------------------------------------------------------------
    def _set_averages(self, value: str) -> None:
        n = int(round(float(parse_number(value))))
        if 2 <= n <= 1024 and n & (n - 1) == 0:
            self.state.avg_count = n  # other values are ignored (a power of two 2..1024, §4.2)

    def _set_mdepth(self, value: str) -> None:
        if value.strip().upper() == "AUTO":
            self.mdepth_index = None
            return
        try:
            depth = float(parse_number(value))
        except ScpiError:
            return
        allowed = mdepths(self.state.n_on())
        if depth in allowed:
            self.mdepth_index = allowed.index(int(depth))
        # anything else: ignored without an error, the old value stays (§4.2, hardware log)

    def _mdepth(self) -> str:
        if self.mdepth_index is None:
            return "AUTO"
        return str(mdepths(self.state.n_on())[self.mdepth_index])

    # -- trigger and run control ---------------------------------------------------------------------
    def _set_trig_source(self, value: str) -> None:
        if value.strip().upper() == "AC":
            self.state.trig_source = "LINE"
            return
        self.state.trig_source = parse_channel_name(value, ("CHANnel",), 4)

    def _trig_source(self) -> str:
        src = self.state.trig_source
        return f"CHAN{src}" if isinstance(src, int) else "AC"

    def _set_slope(self, value: str) -> None:
        v = parse_choice(value, ("POSitive", "NEGative", "RFALl"))
        self.state.trig_slope = {"POSITIVE": "POS", "NEGATIVE": "NEG", "RFALL": "EITH"}[v]

    def _set_trig_coupling(self, value: str) -> None:
        v = parse_choice(value, ("AC", "DC", "LFReject", "HFReject"))
        self.state.trig_coupling = {"LFREJECT": "LFR", "HFREJECT": "HFR"}.get(v, v)

    def _set_sweep(self, value: str) -> None:
        v = parse_choice(value, ("AUTO", "NORMal", "SINGle"))
        if v == "SINGLE":
            self._single()
        else:
            self.state.sweep = {"AUTO": "AUTO", "NORMAL": "NORM"}[v]

    def _set_trig_level(self, value: str) -> None:
        self.state.trig_level_v = volts(value)

    def _single(self) -> None:
        self.state.sweep = "SING"
        self.state.arm_single(auto=False)
        self.wait_reported = False

    def _run(self) -> None:
        if self.state.sweep == "SING":
            self._single()
        else:
            self.state.run()

    def _force(self) -> None:
        self.state.force_trigger()

    def _clear(self) -> None:
        self.state.last = None

    def _trigger_status(self) -> str:
        st = self.state
        if st.run_state == "SINGLE":
            done = st.poll_single()
            if not done or not self.wait_reported:
                self.wait_reported = True
                return "WAIT"
            return "STOP"
        if st.run_state == "STOP":
            return "STOP"
        acq = st.current()
        if acq is None:
            return "WAIT"
        return "TD" if acq.triggered else "AUTO"

    # -- autoscale and setups -----------------------------------------------------------------------
    def _autoscale(self) -> None:
        """``:AUToscale`` (DS guide p. 2-2): vertical scales, timebase and trigger from the four inputs' signals
        (:meth:`SimScope.autoscale`); ignored while ``:SYSTem:AUToscale`` is OFF (module docstring)."""
        if self.options.get(0, "SYSTEM:AUTOSCALE") == "0":
            return
        self.autoscale([1, 2, 3, 4], forced=False)

    def setup(self) -> dict[str, object]:
        """The present setup (``:SYSTem:SETup?``): the scope settings, the memory depth and the waveform
        transfer settings."""
        return {"state": self.state.settings_snapshot(), "options": self.options.snapshot(),
                "mdepth_index": self.mdepth_index,
                "waveform": {"source": self.wav_source, "mode": self.wav_mode, "format": self.wav_format,
                             "start": self.wav_start, "stop": self.wav_stop}}

    def apply_setup(self, setup: dict[str, object]) -> bool:
        """Restore a :meth:`setup`; False (nothing changed) if it is not a setup of this model."""
        state, options, wav, depth = (setup.get(k) for k in ("state", "options", "waveform", "mdepth_index"))
        if not (isinstance(state, dict) and isinstance(options, list) and isinstance(wav, dict)):
            return False
        if depth is not None and not (isinstance(depth, int) and 0 <= depth < len(MDEPTHS_1CH)):
            return False
        try:
            source, start, stop = int(wav["source"]), int(wav["start"]), int(wav["stop"])
            mode, fmt = str(wav["mode"]), str(wav["format"])
        except (KeyError, TypeError, ValueError):
            return False
        limit = HARDWARE.mem_by_nch[0]
        if (not 1 <= source <= 4 or mode not in _MODE_CODE or fmt not in _FORMAT_CODE or not 1 <= start <= limit
                or not 1 <= stop <= limit or not self.state.restore_settings(state)):
            return False
        self.options.restore(o for o in options if isinstance(o, list) and len(o) == 3)
        self.mdepth_index = depth
        self.wav_source, self.wav_mode, self.wav_format, self.wav_start, self.wav_stop = source, mode, fmt, start, stop
        return True

    def _setup_block(self, ctx: Context, s: Suffixes, p: Params) -> bytes:
        """``:SYSTem:SETup?``: the setup as a ``#9`` block (opaque data, module docstring)."""
        expect_params(p, 0)
        return definite_block(encode_setup(MODEL, self.setup()), 9)

    def _set_setup(self, ctx: Context, s: Suffixes, p: Params) -> None:
        """``:SYSTem:SETup <block>``: restore a setup read with ``:SYSTem:SETup?`` (-161 for another block)."""
        expect_params(p, 1, 10_000)
        if not self.apply_setup(decode_setup(p, MODEL)):
            raise ScpiError(-161, "not a setup of this instrument")

    # -- waveform ----------------------------------------------------------------------------------
    def _set_wav_source(self, value: str) -> None:
        self.wav_source = parse_channel_name(value, ("CHANnel",), 4)

    def _set_wav_mode(self, value: str) -> None:
        self.wav_mode = read_mode(value)

    def _set_format(self, value: str) -> None:
        self.wav_format = data_format(value)

    def _set_start(self, value: str) -> None:
        self.wav_start = self._index(value)

    def _set_stop(self, value: str) -> None:
        self.wav_stop = self._index(value)

    def _index(self, value: str) -> int:
        """A 1-based point index; the record length bounds it when the data are read."""
        v = float(parse_number(value))
        return int(_clip(round(v), 1, HARDWARE.mem_by_nch[0]))

    def _reads_memory(self) -> bool:
        """RAW, or MAXimum while stopped, read the acquisition memory (needs :STOP, §4.2)."""
        return self.state.run_state == "STOP" and self.wav_mode in ("RAW", "MAX")

    def _geometry(self, acq: Acquisition) -> Geometry:
        if self._reads_memory():
            return acq.raw
        n = SCREEN_POINTS
        return Geometry(t0_s=acq.screen_left_s, dt_s=acq.screen_window_s / n, n=n,
                        decimation=max(1, int(round(acq.raw.n / n))))

    def preamble_fields(self) -> list[str]:
        """``format,type,points,count,xincrement,xorigin,xreference,yincrement,yorigin,yreference`` (§4.2)."""
        acq = self.acquisition_for_read(fresh=False)
        ch = self.wav_source
        if acq is None:
            geom, adc, count = Geometry(0.0, 0.0, 0), self.state.adc(ch), 1
        else:
            geom, adc, count = self._geometry(acq), acq.adc[ch], acq.averages
        mode = self.wav_mode
        yorigin = int(round(-adc.centre_v / adc.lsb_v))
        return [str(_FORMAT_CODE[self.wav_format]), str(_MODE_CODE[mode]), str(geom.n), str(count),
                _num(geom.dt_s), _num(geom.t0_s), "0", _num(adc.lsb_v), str(yorigin), str(int(adc.centre_code))]

    def _data(self, ctx: Context, s: Suffixes, p: Params) -> bytes:
        expect_params(p, 0)
        acq = self.acquisition_for_read(fresh=True)
        ch = self.wav_source
        if acq is None or ch not in acq.channels:
            return definite_block(b"", 9)
        geom = self._geometry(acq)
        start = min(self.wav_start, geom.n) - 1
        stop = min(self.wav_stop, geom.n)
        count = max(0, min(stop - start, READ_CAP[self.wav_format]))
        codes = np.rint(acq.codes(ch, geom, start, count))  # averages are read out as 8-bit values
        if self.wav_format == "BYTE":
            payload = codes.astype(np.uint8).tobytes()
        elif self.wav_format == "WORD":
            payload = codes.astype("<u2").tobytes()  # the 8-bit value in the low byte (§4.2)
        else:
            adc = acq.adc[ch]
            volts = (codes - adc.centre_code) * adc.lsb_v + adc.centre_v
            payload = ",".join(f"{v:.6e}" for v in volts).encode()
        return definite_block(payload, 9)


def _num(v: float) -> str:
    return f"{v:.6e}"


def _clip(v: float, lo: float, hi: float) -> float:
    return min(max(v, lo), hi)


def make_scope(source: SignalSource, imperfections: Imperfections, seed: int = 0) -> RigolDS1000Z:
    """The simulated scope of a bench, fed by ``source`` (:mod:`instruments.sim.bench`)."""
    return RigolDS1000Z(source, imperfections, seed=seed)
