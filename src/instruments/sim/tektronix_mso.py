"""Simulated Tektronix MSO44 (4 Series MSO): the ``tektronix_mso`` dialect.

Facts, and where they come from: docs/reference/scpi.md §4.4 and §1.2; the *MSO54, MSO56, MSO58, MSO58LP
Programmer Manual* (the 5 Series edition of the 4/5/6 Series MSO manual; pages as printed); the command
entries of the *4/5/6 Series MSO Programmer Manual* as Tektronix's ``tm_devices`` package restates them
("entry"):

* ``*IDN?`` -> ``TEKTRONIX,MSO44,C000000,CF:91.1CT FV:1.30.6.1169`` (§4.4 format).
* Headers (``HEADer`` entry; p. 2-4/2-5): with ``HEADer ON`` a reply carries its header (``:CH1:SCALE 100.0000E-3``;
  concatenated replies ``:CH1:SCALE ...;:CH1:OFFSET ...``), with OFF the value only; IEEE 488.2 common queries
  never carry one. ``VERBose ON`` gives long header keywords and enumerations (``SAMPLE``), OFF the short ones
  (``:CH1:SCA``, ``SAM``). ``*RST`` changes neither (``*RST`` entry); headers are on after ``FACtory`` (its entry),
  so the simulator starts with both on. ``SET?``/``*LRN?`` always carry headers (``SET?`` entry): sending the reply
  back restores the settings (the summary doubles as setup save/restore).
* Errors (p. 3-5, p. 3-14): events wait in the queue until an ``*ESR?`` read summarises them; ``EVMsg?`` then
  answers ``<code>,"<message>"`` one at a time, and ``0,"No events to report; queue empty"`` or
  ``1,"No events to report; new events pending *ESR?"`` when none is available; ``EVENT?`` the code only;
  ``ALLEv?`` all of them. A new ``*ESR?`` drops events summarised before and not read. The queue holds 32 events;
  more replace the 32nd with 350 "Queue overflow" (p. 3-5). ``*CLS`` empties it (``*CLS`` entry); ``DESE`` masks
  which events are recorded (``DESE`` entry). Codes are the positive Tektronix ones: command errors 1xx (texts of
  p. 3-14, CME bit), execution errors 2xx (EXE bit; the SCPI-99 texts: the page after p. 3-14 was not seen), 2244
  when ``CURVe?`` names a channel that is not displayed (§4.4; its message is ours). There is no
  ``SYSTem:ERRor?`` (the event queue is read with ``EVMsg?``): an undefined header, 113.
* Out-of-range numbers are forced to the nearest valid setting without an event (p. 2-8, "Most numeric
  arguments will be automatically forced to a valid setting"); an unknown enumeration is 224, a header the
  MSO lacks 113, a missing parameter 109, a parameter too many 108.
* Vertical: 10 divisions; 12-bit ADC, 400 levels/div; ``CURVe?`` data with 2 bytes/point are the 12-bit samples
  zero-padded in the lower 4 bits (``ACQuire:MODe`` entry), 6400 codes/div; 1 byte/point 25 codes/div (§4.4);
  averaged and Hi Res data keep up to 16 bits. A clipped sample reads as the int16 (int8) extreme (model).
  ``YOFf`` is 0 for signed data, the offset and position being combined into ``YZEro`` (``WFMOutpre:YOFf``
  entry); ``YZEro`` is the voltage at code 0 = ``OFFSet - POSition * SCAle``. For the unsigned encodings
  (RP, SRP) ``YOFf`` is the code of zero (32768 or 128), which the conversion needs. ``PT_Off`` is 0 and
  ``XZEro`` the time of the first point sent (§4.4).
* ``DATa:STARt``/``STOP`` are order independent and limited to the record (their entries); ``DATa:ENCdg`` RIBinary,
  RPBinary, SRIbinary, SRPbinary (signed/unsigned, MSB/LSB first) and ASCIi (comma-separated integers); FPBinary
  and SFPbinary are not modelled (221). ``WFMOutpre:BYT_Nr`` = ``DATa:WIDth`` 1 or 2 (8 is Fast Acq pixmap data).
* Horizontal: 10 divisions; ``HORizontal:POSition`` (0-100 %) places the trigger when delay mode is off and is
  forced to 50 % when it is on (entry); ``HORizontal:RECOrdlength`` can be set in MANual mode only (entry; in AUTO
  it is 221). The record spans the screen at ``record / (10 x scale)``; where that exceeds 6.25 GS/s the record
  is shortened, keeping the scale (the entry says the values interact without saying how: a model choice).
* Acquisition: ``ACQuire:STOPAfter SEQuence`` + ``ACQuire:STATE RUN`` takes one sequence (a full average in
  AVErage mode); ``ACQuire:STATE?`` reads 1 until it is done; ``*OPC?`` waits for it (§4.4). ``TRIGger:A:MODe
  AUTO`` auto-triggers, NORMal waits. PEAKdetect and ENVelope are not modelled (221).
* Model figures (MSO44 data sheet): 500 uV/div ... 10 V/div at 1 MOhm; offset +-1 V below 64 mV/div, +-10 V
  below 1 V/div, +-100 V above; position +-5 div; 200 ps/div ... 1000 s/div; 6.25 GS/s on every channel; record
  1000 ... 31.25 Mpts; BW limit 20 MHz (``CH<x>:BANdwidth`` rounds geometrically to 20 MHz or full, the query
  answers the realised bandwidth: the bench's ``[sim] scope_bandwidth_hz``); AC coupling corner 10 Hz. Inputs are
  1 MOhm only here (the simulated board is not loaded by a 50 Ohm termination: 221); the leads are 1:1, so
  ``CH<x>:PRObe:GAIN?`` is 1 and ``PROBEFunc:EXTAtten`` scales the displayed volts. ``*RST`` (model choices):
  CH1 on at 100 mV/div, others off; 100 us/div, trigger at 50 %; record 10 000, AUTO mode; SAMple, 16 averages;
  running; AUTO edge trigger on CH1 rising at 0 V; DATa CH1, RIBinary, width 1, points 1 to 10 000.

Served commands (``<x>`` = 1..4; H = the reply may carry a header)::

    *IDN? *RST *CLS *OPC *OPC? *WAI *ESR? *ESE(?) *SRE(?) *STB? *TST?  DESE(?)  EVMsg? EVENT? ALLEv?
    HEADer(?) VERBose(?) SET? *LRN? RECAll:SETUp FACtory FACtory BUSY?
    DISplay:GLObal:CH<x>:STATE(?) CH<x>:SCAle(?) :OFFSet(?) :POSition(?) :COUPling(?) :TERmination(?)
        :BANdwidth(?) :PROBEFunc:EXTAtten(?) :PRObe:GAIN?
    HORizontal:SCAle(?) :POSition(?) :MODe(?) :RECOrdlength(?) :SAMPLERate(?) :DELay:MODe(?) :DELay:TIMe(?)
    ACQuire:MODe(?) :NUMAVg(?) :STOPAfter(?) :STATE(?)
    TRIGger:A:TYPe(?) :A:EDGE:SOUrce(?) :A:EDGE:SLOpe(?) :A:EDGE:COUPling(?) :A:LEVel:CH<x>(?) :A:MODe(?)
    TRIGger FORCe  TRIGger:STATE?
    DATa:SOUrce(?) :ENCdg(?) :STARt(?) :STOP(?) :WIDth(?)  WFMOutpre:BYT_Nr(?) :NR_Pt? :XINcr? :XZEro? :PT_Off?
        :YMUlt? :YOFf? :YZEro?  CURVe?
"""

# layout: file -- one dialect's command table, its header/verbose replies and its event queue belong together

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain
from typing import Literal

import numpy as np

from .acquisition import Acquisition, Geometry
from .arrays import AnyArray, FloatArray
from .scope_device import SimScope, seconds, volts
from .scope_state import ChannelSettings, Imperfections, ScopeHardware, ScopeState, Screen, SignalSource
from .scpi_device import CommandRow, Context, Dialect, Handler, definite_block, suffixed_query
from .scpi_parser import (
    Command,
    CommandTable,
    Node,
    Params,
    ScpiError,
    Suffixes,
    expect_params,
    match_nodes,
    parse_bool,
    parse_channel_name,
    parse_choice,
    parse_number,
)

IDN = "TEKTRONIX,MSO44,C000000,CF:91.1CT FV:1.30.6.1169"
HARDWARE = ScopeHardware(h_divs=10, v_divs=10, codes_per_div=400.0, centre_code=0.0, code_lo=-2048, code_hi=2047,
                         scale_min_v=500e-6, scale_max_v=10.0, timebase_min_s=200e-12, timebase_max_s=1000.0,
                         srate_by_nch=(6.25e9,) * 4, mem_by_nch=(31_250_000,) * 4, ac_corner_hz=10.0,
                         bw_limit_hz=20e6)
RECORD_RANGE = (1000, 31_250_000)
PAD = 16  # 12-bit samples zero-padded to 16 bits
#: (code, message) of the events the simulator raises (module docstring for the sources)
EVENTS = {0: "No events to report; queue empty", 1: "No events to report; new events pending *ESR?",
          100: "Command error", 101: "Invalid character", 102: "Syntax error", 103: "Invalid separator",
          104: "Data type error", 108: "Parameter not allowed", 109: "Missing parameter", 110: "Command header error",
          112: "Program mnemonic too long", 113: "Undefined header", 120: "Numeric data error",
          121: "Invalid character in numeric", 123: "Exponent too large", 124: "Too many digits", 130: "Suffix error",
          131: "Invalid suffix", 140: "Character data error", 141: "Invalid character data", 150: "String data error",
          200: "Execution error", 221: "Settings conflict", 222: "Data out of range", 224: "Illegal parameter value",
          350: "Queue overflow", 2244: "Source waveform is not active"}
QUEUE_SIZE = 32
ESR_QYE, ESR_DDE, ESR_EXE, ESR_CME = 4, 8, 16, 32
#: encoding -> (byte order, signed)
ENCODINGS: dict[str, tuple[Literal["<", ">"], bool]] = {
    "ASCII": ("<", True), "RIBINARY": (">", True), "RPBINARY": (">", False), "SRIBINARY": ("<", True),
    "SRPBINARY": ("<", False)}
_TOKEN = re.compile(r"(\[)?:?(\*?[A-Za-z][A-Za-z_]*)(#)?:?(\])?")


def tek_nodes(pattern: str) -> tuple[Node, ...]:
    """Pattern nodes as :func:`~.scpi_parser.compile_pattern` makes them, but mnemonics may hold an underscore
    (``WFMOutpre:BYT_Nr``, short form ``BYT_N``)."""
    return tuple(Node(short="".join(c for c in m.group(2) if c.isupper() or c in "*_"), long=m.group(2).upper(),
                      optional=bool(m.group(1)), suffix=bool(m.group(3))) for m in _TOKEN.finditer(pattern))


class TekTable(CommandTable[Context]):
    """The MSO's own commands, looked up before the IEEE 488.2 common commands of ``base`` (so ``*ESR?``, ``*CLS``
    and ``*OPC?`` get the MSO's event-queue meaning), with Tektronix mnemonics (:func:`tek_nodes`)."""

    def __init__(self, base: CommandTable[Context]) -> None:
        super().__init__()
        self.base = base
        self.own: list[Command[Context]] = []

    def add(self, pattern: str, command: Handler | None = None, query: Handler | None = None) -> None:
        """Register the command and/or query form of ``pattern`` (looked up before the base table)."""
        nodes = tek_nodes(pattern)
        self.own += [Command(pattern + "?" * q, nodes, q, h) for q, h in ((False, command), (True, query))
                     if h is not None]

    def lookup(self, tokens: Sequence[str], is_query: bool) -> tuple[Command[Context], Suffixes] | None:
        """The MSO's own command for the header if there is one, else the base table's."""
        for cmd in self.own:
            if cmd.query == is_query and (suffixes := match_nodes(cmd.nodes, tokens)) is not None:
                return cmd, suffixes
        return self.base.lookup(tokens, is_query)

    def __iter__(self) -> Iterator[Command[Context]]:
        return chain(self.own, self.base)


class TekEvents:
    """The event queue of p. 3-5: events wait until an ``*ESR?`` read makes them available to ``EVMsg?``."""

    def __init__(self) -> None:
        self.pending: list[tuple[int, str]] = []
        self.available: deque[tuple[int, str]] = deque()

    def add(self, code: int) -> None:
        """Record an event; a full queue replaces its last event with 350."""
        if len(self.pending) >= QUEUE_SIZE:
            self.pending[-1] = (350, EVENTS[350])
        else:
            self.pending.append((code, EVENTS[code]))

    def summarise(self) -> None:
        """An ``*ESR?`` read: the pending events become available, those available before are dropped."""
        self.available, self.pending = deque(self.pending), []

    def next(self) -> tuple[int, str]:
        """The next available event, else the no-event message (code 1 if events wait for ``*ESR?``, else 0)."""
        if self.available:
            return self.available.popleft()
        code = 1 if self.pending else 0
        return code, EVENTS[code]


def tek_code(scpi_code: int) -> int:
    """The Tektronix event for an SCPI-99 error: its positive code if the MSO lists it, else the listed code of its
    decade or class (-138 -> 130, -151 -> 150)."""
    code = abs(scpi_code)
    return next((c for c in (code, code // 10 * 10, code // 100 * 100) if c in EVENTS), 200)


def esr_bit(code: int) -> int:
    """The SESR bit an event sets: CME for 1xx, DDE for 3xx, QYE for 4xx, EXE otherwise (2xx, 5xx, 2xxx)."""
    return {1: ESR_CME, 3: ESR_DDE, 4: ESR_QYE}.get(code // 100, ESR_EXE)


def tek_number(value: float) -> str:
    """NR3 in engineering notation with at least four decimals: ``100.0000E-3``, ``6.2500E+9``, ``0.0000E+0``."""
    if value == 0 or not math.isfinite(value):
        return "0.0000E+0"
    exp = 3 * math.floor(math.log10(abs(value)) / 3)
    mantissa = f"{value / 10.0 ** exp:.10f}".rstrip("0")
    if mantissa.startswith(("1000.", "-1000.")):
        exp, mantissa = exp + 3, f"{value / 10.0 ** (exp + 3):.10f}".rstrip("0")
    whole, _, frac = mantissa.partition(".")
    return f"{whole}.{frac.ljust(4, '0')}E{exp:+d}"


def word(spec: str, verbose: bool) -> str:
    """An enumeration as a reply: the long form upper-cased when verbose, else the short form (``SAMple``)."""
    return spec.upper() if verbose else "".join(c for c in spec if c.isupper() or c.isdigit())


class TektronixMSO(SimScope):
    """The MSO44 dialect over a :class:`ScopeState` fed by the bench."""

    def __init__(self, source: SignalSource, imperfections: Imperfections, *, seed: int = 0, idn: str = IDN) -> None:
        self.header = True
        self.verbose = True
        self.dese = 255
        self.events = TekEvents()
        self.bandwidth_hz = imperfections.bandwidth_hz
        self._queries: dict[str, Handler] = {}
        super().__init__(Dialect(idn=idn, signed_integers=False), HARDWARE, source, imperfections, seed)

    def register(self, rows: Iterable[CommandRow]) -> None:
        """Add rows to the MSO's own table (:class:`TekTable`), installed over the common commands first."""
        if not isinstance(self.table, TekTable):
            self.table = TekTable(self.table)
        super().register(rows)

    # -- state ------------------------------------------------------------------------------------------
    def reset(self) -> None:
        """``*RST`` (module docstring); ``HEADer``, ``VERBose``, ``*ESE``, ``*SRE`` and ``DESE`` are kept."""
        super().reset()
        st = self.state
        for c in st.channels:
            c.scale_v = 0.1
        self.offsets, self.positions = [0.0] * 4, [0.0] * 4
        self.trig_levels = [0.0] * 4
        st.h_scale_s, st.avg_count = 100e-6, 16
        self.h_percent, self.delay_on, self.delay_s = 50.0, False, 0.0
        self.manual, self.record = False, 10_000
        self.stop_after_sequence = False
        self.data_source, self.encoding, self.width = 1, "RIBINARY", 1
        self.data_start, self.data_stop = 1, 10_000
        self._place()

    def _place(self) -> None:
        """Screen centres and the horizontal reference from the Tek settings (module docstring)."""
        for n, c in enumerate(self.state.channels):
            c.centre_v = self.offsets[n] - self.positions[n] * c.scale_v
        self.state.h_reference = 0.5 if self.delay_on else self.h_percent / 100.0
        self.state.h_position_s = self.delay_s if self.delay_on else 0.0

    def memory_plan(self, state: ScopeState) -> tuple[Geometry, Screen]:
        """The record spans the screen: ``record`` points at ``record / window``, shortened at 6.25 GS/s."""
        screen = state.screen()
        fmax = state.hw.srate_by_nch[0]
        n = max(RECORD_RANGE[0], min(self.record, math.floor(fmax * screen.window_s * (1 + 1e-9))))
        dt = screen.window_s / n
        return Geometry(t0_s=screen.left_s, dt_s=dt, n=n, decimation=max(1, int(fmax * dt + 1e-9))), screen

    # -- replies: headers, events ---------------------------------------------------------------------------
    def row(self, pattern: str, command: Handler | None = None, query: Handler | None = None) -> CommandRow:
        """A row whose query reply carries its header while ``HEADer`` is on (module docstring)."""
        if query is None:
            return CommandRow(pattern, command)
        nodes, inner = tek_nodes(pattern), query
        self._queries[pattern] = query

        def headed(ctx: Context, s: Suffixes, p: Params) -> str | bytes | None:
            reply = inner(ctx, s, p)
            if not self.header or reply is None:
                return reply
            head = self.header_of(nodes, s) + " "
            return head.encode() + reply if isinstance(reply, bytes) else head + reply

        return CommandRow(pattern, command, headed)

    def header_of(self, nodes: Sequence[Node], s: Suffixes) -> str:
        """``:CH1:SCALE`` (verbose) or ``:CH1:SCA``: the pattern's required nodes with their suffixes."""
        parts, i = [], 0
        for node in nodes:
            suffix = ""
            if node.suffix:
                suffix, i = str(s[i] if s[i] is not None else 1), i + 1
            if not node.optional:
                parts.append((node.long if self.verbose else node.short) + suffix)
        return ":" + ":".join(parts)

    def word(self, spec: str) -> str:
        """An enumeration reply in the present ``VERBose`` form."""
        return word(spec, self.verbose)

    def push_error(self, code: int, detail: str = "", *, logged: bool = False) -> None:
        """Record the Tektronix event for an SCPI-99 error code (or a Tektronix code, positive)."""
        self.push_event(tek_code(code) if code < 0 else code)

    def push_event(self, code: int) -> None:
        """Set the event's SESR bit and queue it, unless ``DESE`` masks it."""
        bit = esr_bit(code)
        if self.dese & bit:
            self.esr |= bit
            self.events.add(code)

    def _read_esr(self) -> str:
        value, self.esr = self.esr, 0
        self.events.summarise()
        return str(value)

    def _clear(self) -> None:
        self.esr = 0
        self.events = TekEvents()

    def _event_message(self) -> str:
        code, text = self.events.next()
        return f'{code},"{text}"'

    def _all_events(self) -> str:
        out = [self._event_message()]
        while self.events.available:
            out.append(self._event_message())
        return ",".join(out)

    def _wait_complete(self, ctx: Context, s: Suffixes, p: Params) -> str:
        """``*OPC?``: answers 1 once a pending single sequence is complete (§4.4)."""
        expect_params(p, 0)
        st = self.state
        while not st.poll_single():
            ctx.sleep_unlocked(st.single_wait_s())
        return "1"

    def _learn(self, ctx: Context, s: Suffixes, p: Params) -> str:
        """``SET?``/``*LRN?``: the settings as commands, always with headers, in an order that restores them."""
        expect_params(p, 0)
        chans = [(f"CH#:{k}", n) for n in range(1, 5) for k in
                 ("PROBEFunc:EXTAtten", "SCAle", "OFFSet", "POSition", "COUPling", "BANdwidth")]
        items = [("DISplay:GLObal:CH#:STATE", n) for n in range(1, 5)] + chans + [
            (k, None) for k in ("HORizontal:MODe", "HORizontal:SCAle", "HORizontal:DELay:MODe",
                                "HORizontal:POSition", "HORizontal:DELay:TIMe")]
        items += [("HORizontal:RECOrdlength", None)] * self.manual
        items += [(k, None) for k in ("ACQuire:MODe", "ACQuire:NUMAVg", "ACQuire:STOPAfter", "TRIGger:A:TYPe",
                                      "TRIGger:A:EDGE:SOUrce", "TRIGger:A:EDGE:SLOpe", "TRIGger:A:EDGE:COUPling",
                                      "TRIGger:A:MODe", "DATa:SOUrce", "DATa:ENCdg", "DATa:STARt", "DATa:STOP",
                                      "WFMOutpre:BYT_Nr")]
        items += [("TRIGger:A:LEVel:CH#", n) for n in range(1, 5)]
        return ";".join(f"{self.header_of(tek_nodes(k), [n])} {self._queries[k](ctx, [n], ())!s}" for k, n in items)

    # -- the command table ------------------------------------------------------------------------------
    def commands(self) -> list[CommandRow]:
        """The served commands (module docstring), subsystem by subsystem."""
        return [*self._status_rows(), *self._channel_rows(), *self._horizontal_rows(), *self._acquire_rows(),
                *self._trigger_rows(), *self._data_rows()]

    def _status_rows(self) -> list[CommandRow]:
        r = self.row
        return [
            CommandRow("*ESR", query=plain(self._read_esr)),
            CommandRow("*CLS", act(self._clear)),
            CommandRow("*OPC", query=self._wait_complete),
            CommandRow("*LRN", query=self._learn),
            CommandRow("SYSTem:ERRor[:NEXT]", query=undefined),
            CommandRow("SET", query=self._learn),
            r("EVMsg", query=plain(self._event_message)),
            r("EVENT", query=plain(lambda: str(self.events.next()[0]))),
            r("ALLEv", query=plain(self._all_events)),
            r("DESE", one(lambda v: setattr(self, "dese", round(_clip(number(v), 0, 255)))),
              plain(lambda: str(self.dese))),
            r("HEADer", one(lambda v: setattr(self, "header", parse_bool(v))), plain(lambda: _flag(self.header))),
            r("VERBose", one(lambda v: setattr(self, "verbose", parse_bool(v))), plain(lambda: _flag(self.verbose))),
            r("FACtory", act(self._factory)),
            r("RECAll:SETUp", one(self._recall_setup)),
            r("BUSY", query=plain(lambda: _flag(self.state.run_state == "SINGLE" and not self.state.poll_single()))),
        ]

    def _factory(self) -> None:
        """``FACtory``: ``*RST`` plus headers on and the enable registers at their factory values (entry)."""
        self.reset()
        self.header, self.ese, self.sre, self.dese = True, 0, 0, 255

    def _recall_setup(self, value: str) -> None:
        """``RECAll:SETUp FACtory`` (setup files are not modelled: a quoted path is 224)."""
        if parse_choice(value, ("FACtory",)) == "FACTORY":
            self.reset()

    def _channel_rows(self) -> list[CommandRow]:
        r, chs = self.row, self._ch_set

        def chq(fn: Callable[[int], str]) -> Handler:
            return suffixed_query(self.ch, fn)
        return [
            r("DISplay:GLObal:CH#:STATE", chs(lambda n, v: setattr(self.state.channel(n), "display", parse_bool(v))),
              chq(lambda n: _flag(self.state.channel(n).display))),
            r("CH#:SCAle", chs(self._set_scale), chq(lambda n: tek_number(self.state.channel(n).scale_v))),
            r("CH#:OFFSet", chs(self._set_offset), chq(lambda n: tek_number(self.offsets[n - 1]))),
            r("CH#:POSition", chs(self._set_position), chq(lambda n: tek_number(self.positions[n - 1]))),
            r("CH#:COUPling", chs(self._set_coupling), chq(lambda n: self.state.channel(n).coupling)),
            r("CH#:TERmination", chs(_set_termination), chq(lambda n: tek_number(1e6))),
            r("CH#:BANdwidth", chs(self._set_bandwidth), chq(self._bandwidth)),
            r("CH#:PROBEFunc:EXTAtten", chs(self._set_probe), chq(lambda n: tek_number(self.state.channel(n).probe))),
            r("CH#:PRObe:GAIN", query=chq(lambda n: tek_number(1.0))),
        ]

    def _horizontal_rows(self) -> list[CommandRow]:
        r, st = self.row, self.state
        return [
            r("HORizontal:SCAle", one(self._set_h_scale), plain(lambda: tek_number(st.h_scale_s))),
            r("HORizontal:POSition", one(self._set_h_position), plain(lambda: tek_number(self.h_percent))),
            r("HORizontal:MODe", one(self._set_h_mode), plain(lambda: self.word("MANual" if self.manual else "AUTO"))),
            r("HORizontal:RECOrdlength", one(self._set_record), plain(lambda: str(st.record_length()))),
            r("HORizontal:SAMPLERate", one(self._set_rate), plain(lambda: tek_number(st.sample_rate_sa_s()))),
            r("HORizontal:DELay:MODe", one(self._set_delay_mode), plain(lambda: _flag(self.delay_on))),
            r("HORizontal:DELay:TIMe", one(self._set_delay), plain(lambda: tek_number(self.delay_s))),
        ]

    def _acquire_rows(self) -> list[CommandRow]:
        r, st = self.row, self.state
        return [
            r("ACQuire:MODe", one(self._set_acq_mode), plain(self._acq_mode)),
            r("ACQuire:NUMAVg", one(lambda v: setattr(st, "avg_count", round(_clip(number(v), 2, 10240)))),
              plain(lambda: str(st.avg_count))),
            r("ACQuire:STOPAfter", one(self._set_stop_after),
              plain(lambda: self.word("SEQuence" if self.stop_after_sequence else "RUNSTop"))),
            r("ACQuire:STATE", one(self._set_acq_state), plain(lambda: _flag(self._acquiring()))),
        ]

    def _trigger_rows(self) -> list[CommandRow]:
        r, st = self.row, self.state
        slopes = {"POS": "RISe", "NEG": "FALL", "EITH": "EITher"}
        couplings = {"DC": "DC", "HFR": "HFRej", "LFR": "LFRej", "NOISE": "NOISErej"}
        return [
            r("TRIGger:A:TYPe", one(_set_trigger_type), plain(lambda: "EDGE")),
            r("TRIGger:A:EDGE:SOUrce", one(self._set_trig_source), plain(self._trig_source)),
            r("TRIGger:A:EDGE:SLOpe", one(self._set_slope), plain(lambda: self.word(slopes[st.trig_slope]))),
            r("TRIGger:A:EDGE:COUPling", one(self._set_trig_coupling),
              plain(lambda: self.word(couplings[st.trig_coupling]))),
            r("TRIGger:A:LEVel:CH#", self._ch_set(self._set_trig_level),
              suffixed_query(self.ch, lambda n: tek_number(self.trig_levels[n - 1]))),
            r("TRIGger:A:MODe", one(self._set_sweep),
              plain(lambda: self.word("AUTO" if st.sweep == "AUTO" else "NORMal"))),
            r("TRIGger", one(self._force)),
            r("TRIGger:STATE", query=plain(self._trigger_state)),
        ]

    def _data_rows(self) -> list[CommandRow]:
        r = self.row
        width = (one(self._set_width), plain(lambda: str(self.width)))
        return [
            r("DATa:SOUrce", one(self._set_data_source), plain(lambda: f"CH{self.data_source}")),
            r("DATa:ENCdg", one(self._set_encoding), plain(lambda: self.word(_encoding_spec(self.encoding)))),
            r("DATa:STARt", one(lambda v: setattr(self, "data_start", _index(v))), plain(lambda: str(self.data_start))),
            r("DATa:STOP", one(lambda v: setattr(self, "data_stop", _index(v))), plain(lambda: str(self.data_stop))),
            r("DATa:WIDth", *width),
            r("WFMOutpre:BYT_Nr", *width),
            *(r(f"WFMOutpre:{name}", query=self._preamble_field(i))
              for i, name in enumerate(("NR_Pt", "XINcr", "XZEro", "PT_Off", "YMUlt", "YOFf", "YZEro"))),
            r("CURVe", query=self._curve),
        ]

    # -- handler builders ---------------------------------------------------------------------------------
    def _preamble_field(self, i: int) -> Handler:
        return plain(lambda: self.preamble_fields()[i])

    def _ch_set(self, fn: Callable[[int, str], None]) -> Handler:
        def handler(ctx: Context, s: Suffixes, p: Params) -> None:
            n = self.ch(s[0])
            expect_params(p, 1)
            fn(n, p[0])
            self._place()
        return handler

    # -- vertical -----------------------------------------------------------------------------------------
    def _offset_limit(self, c: ChannelSettings) -> float:
        """+-1 V below 64 mV/div, +-10 V below 1 V/div, +-100 V above (at probe 1; scaled by the probe)."""
        per_div = c.scale_v / c.probe
        return (1.0 if per_div < 0.064 else 10.0 if per_div < 1.0 else 100.0) * c.probe

    def _set_scale(self, n: int, value: str) -> None:
        c, hw = self.state.channel(n), self.state.hw
        c.scale_v = _clip(volts(value), hw.scale_min_v * c.probe, hw.scale_max_v * c.probe)
        lim = self._offset_limit(c)
        self.offsets[n - 1] = _clip(self.offsets[n - 1], -lim, lim)

    def _set_offset(self, n: int, value: str) -> None:
        lim = self._offset_limit(self.state.channel(n))
        self.offsets[n - 1] = _clip(volts(value), -lim, lim)

    def _set_position(self, n: int, value: str) -> None:
        self.positions[n - 1] = _clip(number(value), -5.0, 5.0)

    def _set_coupling(self, n: int, value: str) -> None:
        v = parse_choice(value, ("AC", "DC", "DCReject"))
        if v == "DCREJECT":
            raise ScpiError(-221, "DC reject needs a probe that supports it")
        self.state.channel(n).coupling = v

    def _set_bandwidth(self, n: int, value: str) -> None:
        full = value.strip().upper() in ("FUL", "FULL")
        v = math.inf if full else float(parse_number(value, units=("HZ",)))
        limit = self.state.hw.bw_limit_hz
        self.state.channel(n).bw_limit = v < math.sqrt(limit * self.bandwidth_hz)

    def _bandwidth(self, n: int) -> str:
        return tek_number(self.state.hw.bw_limit_hz if self.state.channel(n).bw_limit else self.bandwidth_hz)

    def _set_probe(self, n: int, value: str) -> None:
        c = self.state.channel(n)
        k = _clip(number(value), 1e-10, 1e10) / c.probe  # scale and offset are probe-referred
        c.scale_v *= k
        self.offsets[n - 1] *= k
        c.probe *= k

    # -- horizontal -----------------------------------------------------------------------------------------
    def _set_h_scale(self, value: str) -> None:
        hw = self.state.hw
        self.state.h_scale_s = _clip(seconds(value), hw.timebase_min_s, hw.timebase_max_s)

    def _set_h_position(self, value: str) -> None:
        if not self.delay_on:  # forced to 50 % while delay mode is on (entry)
            self.h_percent = _clip(number(value), 0.0, 100.0)
        self._place()

    def _set_h_mode(self, value: str) -> None:
        mode = parse_choice(value, ("AUTO", "MANual", "CONStant"))
        if mode == "CONSTANT":
            raise ScpiError(-221, "constant sample rate mode is not modelled")
        self.manual = mode == "MANUAL"

    def _set_record(self, value: str) -> None:
        if not self.manual:
            raise ScpiError(-221, "the record length is set in MANual mode only")
        self.record = round(_clip(number(value), *RECORD_RANGE))

    def _set_rate(self, value: str) -> None:
        """In MANual mode the sample rate sets the record length over the screen (the scale is kept)."""
        rate = float(parse_number(value, units=("HZ",)))
        self._set_record(str(rate * self.state.screen().window_s))

    def _set_delay_mode(self, value: str) -> None:
        self.delay_on = parse_bool(value)
        if self.delay_on:
            self.h_percent = 50.0
        self._place()

    def _set_delay(self, value: str) -> None:
        self.delay_s = _clip(seconds(value), -1000.0, 1000.0)
        self._place()

    # -- acquisition ------------------------------------------------------------------------------------------
    def _set_acq_mode(self, value: str) -> None:
        v = parse_choice(value, ("SAMple", "PEAKdetect", "HIRes", "AVErage", "ENVelope"))
        if v in ("PEAKDETECT", "ENVELOPE"):
            raise ScpiError(-221, f"the simulator does not model {v}")
        self.state.acq_type = {"SAMPLE": "NORM", "HIRES": "HRES", "AVERAGE": "AVER"}[v]

    def _acq_mode(self) -> str:
        return self.word({"NORM": "SAMple", "HRES": "HIRes", "AVER": "AVErage"}[self.state.acq_type])

    def _set_stop_after(self, value: str) -> None:
        self.stop_after_sequence = parse_choice(value, ("RUNSTop", "SEQuence")) == "SEQUENCE"

    def _set_acq_state(self, value: str) -> None:
        """``ACQuire:STATE RUN|ON|1`` starts a sequence (STOPAfter SEQuence) or runs; ``STOP|OFF|0`` stops."""
        word_ = value.strip().upper()
        on = word_ in ("RUN", "ON") or (word_ not in ("STOP", "OFF") and parse_bool(value))
        st = self.state
        if not on:
            st.stop()
        elif self.stop_after_sequence:
            st.arm_single(auto=st.sweep == "AUTO")
        else:
            st.run()

    def _acquiring(self) -> bool:
        st = self.state
        return st.run_state == "RUN" or (st.run_state == "SINGLE" and not st.poll_single())

    # -- trigger ---------------------------------------------------------------------------------------------
    def _set_trig_source(self, value: str) -> None:
        text = value.strip().upper()
        if text in ("LINE", "AUX", "AUXILIARY"):
            self.state.trig_source = text[:4]
            return
        n = parse_channel_name(text, ("CH",), 4)
        self.state.trig_source, self.state.trig_level_v = n, self.trig_levels[n - 1]

    def _trig_source(self) -> str:
        src = self.state.trig_source
        return f"CH{src}" if isinstance(src, int) else src if src == "LINE" else self.word("AUXiliary")

    def _set_slope(self, value: str) -> None:
        v = parse_choice(value, ("RISe", "FALL", "EITher"))
        self.state.trig_slope = {"RISE": "POS", "FALL": "NEG", "EITHER": "EITH"}[v]

    def _set_trig_coupling(self, value: str) -> None:
        v = parse_choice(value, ("DC", "HFRej", "LFRej", "NOISErej"))
        self.state.trig_coupling = {"HFREJ": "HFR", "LFREJ": "LFR", "NOISEREJ": "NOISE"}.get(v, v)

    def _set_trig_level(self, n: int, value: str) -> None:
        self.trig_levels[n - 1] = volts(value)
        if self.state.trig_source == n:
            self.state.trig_level_v = self.trig_levels[n - 1]

    def _set_sweep(self, value: str) -> None:
        self.state.sweep = "AUTO" if parse_choice(value, ("AUTO", "NORMal")) == "AUTO" else "NORM"

    def _force(self, value: str) -> None:
        """``TRIGger FORCe``: a pending sequence completes now, triggered or not."""
        parse_choice(value, ("FORCe",))
        st = self.state
        if st.run_state in ("SINGLE", "RUN"):
            st.last = st.try_acquire(allow_auto=True)
            st.run_state = "STOP" if st.run_state == "SINGLE" else "RUN"

    def _trigger_state(self) -> str:
        """``TRIGger:STATE?``: READY while a sequence waits, SAVE when stopped, TRIGGER or AUTO while running."""
        st = self.state
        if st.run_state == "SINGLE" and not st.poll_single():
            return "READY"
        if st.run_state != "RUN":
            return "SAVE"
        acq = st.current()
        return "TRIGGER" if acq is not None and acq.triggered else "AUTO"

    # -- transfer --------------------------------------------------------------------------------------------
    def _set_data_source(self, value: str) -> None:
        self.data_source = parse_channel_name(value, ("CH",), 4)

    def _set_encoding(self, value: str) -> None:
        v = parse_choice(value, ("ASCIi", "RIBinary", "RPBinary", "FPBinary", "SRIbinary", "SRPbinary", "SFPbinary"))
        if v not in ENCODINGS:
            raise ScpiError(-221, "floating-point waveform data are not modelled")
        self.encoding = v

    def _set_width(self, value: str) -> None:
        self.width = 1 if number(value) < 1.5 else 2  # constrained to the channel data's widths (entry)

    def _window(self, n: int) -> tuple[int, int]:
        """First and last point (1-based) ``CURVe?`` sends: start/stop in either order, within the record."""
        first, last = sorted((self.data_start, self.data_stop))
        return min(first, n), min(last, n)

    def _code_lsb(self, adc_lsb: float) -> float:
        """Volts per transferred code: the 12-bit LSB / 16 at 2 bytes, x 16 at 1 byte."""
        return adc_lsb / PAD if self.width == 2 else adc_lsb * PAD

    def preamble_fields(self) -> list[str]:
        """``NR_Pt, XINcr, XZEro, PT_Off, YMUlt, YOFf, YZEro`` of the ``DATa:SOUrce`` waveform (module docstring)."""
        acq = self.acquisition_for_read(fresh=False)
        ch = self.data_source
        raw, adc = (acq.raw, acq.adc[ch]) if acq is not None else (self.state.plan(self.state)[0], self.state.adc(ch))
        first, last = self._window(raw.n)
        unsigned = not ENCODINGS[self.encoding][1]
        zero = (1 << (8 * self.width - 1)) if unsigned else 0
        return [str(last - first + 1), tek_number(raw.dt_s), tek_number(raw.t0_s + (first - 1) * raw.dt_s), "0",
                tek_number(self._code_lsb(adc.lsb_v)), tek_number(zero), tek_number(adc.centre_v)]

    def _curve(self, ctx: Context, s: Suffixes, p: Params) -> str | bytes | None:
        """``CURVe?``: the window of the source's record, encoded; event 2244 if the source is not displayed."""
        expect_params(p, 0)
        acq = self.acquisition_for_read(fresh=True)
        ch = self.data_source
        if acq is None or ch not in acq.channels:
            self.push_event(2244)
            return None
        first, last = self._window(acq.raw.n)
        codes = self._encode(acq.codes(ch, acq.raw, first - 1, last - first + 1), acq)
        if self.encoding == "ASCII":
            return ",".join(str(int(c)) for c in codes)
        data = codes.tobytes()
        return definite_block(data, len(str(len(data))))

    def _encode(self, codes: FloatArray, acq: Acquisition) -> AnyArray:
        """12-bit codes (float, averaged ones fractional) as the transfer's integers in its byte order."""
        adc = acq.adc[self.data_source]
        bits = 8 * self.width
        top, bottom = (1 << (bits - 1)) - 1, -(1 << (bits - 1))
        scaled = codes * PAD if self.width == 2 else codes / PAD
        w = np.clip(np.floor(scaled + 0.5), bottom, top)
        w = np.where(codes >= adc.code_hi, top, np.where(codes <= adc.code_lo, bottom, w))
        order, signed = ENCODINGS[self.encoding]
        if not signed:
            w = w - bottom
        kind = ("i" if signed else "u") + str(self.width)
        return w.astype(np.dtype(kind).newbyteorder(order))


# -- helpers ----------------------------------------------------------------------------------------------
def plain(fn: Callable[[], str]) -> Handler:
    """A query without parameters answering ``fn()``."""
    def handler(ctx: Context, s: Suffixes, p: Params) -> str:
        expect_params(p, 0)
        return fn()
    return handler


def one(fn: Callable[[str], None]) -> Handler:
    """A command with one parameter, ``fn(param)``."""
    def handler(ctx: Context, s: Suffixes, p: Params) -> None:
        expect_params(p, 1)
        fn(p[0])
    return handler


def act(fn: Callable[[], None]) -> Handler:
    """A command without parameters, ``fn()``."""
    def handler(ctx: Context, s: Suffixes, p: Params) -> None:
        expect_params(p, 0)
        fn()
    return handler


def undefined(ctx: Context, s: Suffixes, p: Params) -> None:
    """A header the MSO does not have: 113."""
    raise ScpiError(-113, "the MSO reports errors through *ESR? and EVMsg?")


def number(text: str) -> float:
    """A plain number parameter."""
    return float(parse_number(text))


def _clip(v: float, lo: float, hi: float) -> float:
    """Forced to a valid setting (p. 2-8)."""
    return min(max(v, lo), hi)


def _flag(on: bool) -> str:
    return "1" if on else "0"


def _index(text: str) -> int:
    """A 1-based point index, at least 1."""
    return round(_clip(number(text), 1, 1e12))


def _encoding_spec(encoding: str) -> str:
    return {"ASCII": "ASCIi", "RIBINARY": "RIBinary", "RPBINARY": "RPBinary", "SRIBINARY": "SRIbinary",
            "SRPBINARY": "SRPbinary"}[encoding]


def _set_termination(n: int, value: str) -> None:
    """1 MOhm only: the simulated board is not loaded by a 50 Ohm termination."""
    if number(value) < math.sqrt(50.0 * 1e6):
        raise ScpiError(-221, "a 50 Ohm termination is not modelled")


def _set_trigger_type(value: str) -> None:
    types = ("EDGE", "WIDth", "TIMEOut", "RUNt", "WINdow", "LOGIc", "SETHold", "TRANsition", "BUS")
    if parse_choice(value, types) != "EDGE":
        raise ScpiError(-221, "the simulator models the edge trigger only")


def make_scope(source: SignalSource, imperfections: Imperfections, seed: int = 0) -> TektronixMSO:
    """The simulated scope of a bench, fed by ``source`` (:mod:`instruments.sim.bench`)."""
    return TektronixMSO(source, imperfections, seed=seed)
