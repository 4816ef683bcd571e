"""Tektronix MSO 4 / 5 / 6 Series oscilloscopes (MSO44/46, MSO54/56/58, MSO64/66 and "B" variants).

Commands and conversions come from docs/reference/scpi.md §4.4 (Tektronix MSO5 Programmer Manual, QCoDeS
``DPO7200xx.py``, public MSO 4/5/6 scripts) unless a docstring names another source. What shapes the driver:

* errors: ``*ESR?`` (the usual way to learn whether a command executed without error), then ``EVMsg?`` until
  event code 0/1 ("No events to report"); codes 100-399 are command, execution and device errors, 400 and up
  system events and warnings (MSO54/56/58 Programmer Manual, Status and Events tables, easymanua.ls p. 3-14);
* replies are parsed with or without headers (``HEADer ON`` puts ``:CH1:SCALE`` before values), so the driver
  leaves ``HEADer`` as the user set it;
* ``CH<n>:OFFSet`` is the voltage at screen centre when ``CH<n>:POSition`` is 0, which the driver sets, so it
  matches this interface's ``offset_v``;
* waveforms travel as ``CURVe?`` blocks in SRIbinary (signed, LSB first) with 2 bytes per point, keeping the
  12-bit resolution; 10 vertical and 10 horizontal divisions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ._scpi_format import NUMBER
from .errors import InstrumentError
from .scope import AcquisitionState, Oscilloscope, ScopeChannelState
from .scope_table import (
    COUPLINGS,
    IMPEDANCES,
    SCALE_ABOVE_ZERO,
    AcquisitionRows,
    ChannelRows,
    EdgeTrigger,
    ScopeTable,
    TimebaseRows,
    mode_words,
    scope_numbers,
    tokens,
)
from .scpi_instrument import MAX_ERROR_READS
from .setting_table import Allowed, Encoding, Setting, integer_text, on_off, one_of, read
from .waveform import Waveform

_ESR_ERROR_BITS = 32 | 16 | 8 | 4  # CME, EXE, DDE, QYE
_EVENT = re.compile(r'^\s*([+-]?\d+)\s*,\s*"?(.*?)"?\s*$', re.S)
_ACQUIRE_MODE = {"normal": "SAMple", "average": "AVErage", "highres": "HIRes", "peak": "PEAKdetect"}
_ACQUIRE_MODE_REPLY = {"SAM": "normal", "AVE": "average", "HIR": "highres", "PEAK": "peak"}
_TERMINATION = {50.0: "50", 1e6: "1.0E+6"}
_BANDWIDTH_LIMIT_HZ = 20e6
_MODE = mode_words(_ACQUIRE_MODE_REPLY)


def strip_header(reply: str) -> str:
    """The value of a reply with or without a header: ``:CH1:SCALE 1.0E-1`` -> ``1.0E-1``."""
    reply = reply.strip()
    if reply.startswith((":", "*")) and " " in reply:
        return reply.split(" ", 1)[1].strip()
    return reply


def tek_number(reply: str) -> float:
    """A number reply with or without a header; ValueError if the value is not one number."""
    m = NUMBER.fullmatch(strip_header(reply))
    if not m:
        raise ValueError(f"not a number: {reply!r}")
    return float(m.group())


def tek_bool(reply: str) -> bool:
    """A boolean reply (``1``/``0``/``ON``/``OFF``) with or without a header."""
    value = strip_header(reply).upper()
    if value not in ("1", "0", "ON", "OFF"):
        raise ValueError(f"expected 0 or 1, got {value!r}")
    return value in ("1", "ON")


NUMBERS = scope_numbers(tek_number)
FLAG = Encoding(on_off, tek_bool, "{why}")

#: every step is checked by *ESR? and the event queue (:meth:`TektronixMSO.drain_errors`); nothing is read back
TABLE = ScopeTable(
    channel=ChannelRows(
        enabled=Setting("display", "", "DISplay:GLObal:{ch}:STATE {}", "DISplay:GLObal:{ch}:STATE?", FLAG),
        # external attenuation for non-TekVPI probes [L]; the ratio read back is EXTAtten / PRObe:GAIN
        probe=Setting("probe ratio", "", "{ch}:PROBEFunc:EXTAtten {}", "{ch}:PROBEFunc:EXTAtten?", NUMBERS),
        scale=Setting("vertical scale", "V/div", "{ch}:SCAle {}", "{ch}:SCAle?", NUMBERS),
        # the voltage at screen centre once the position is 0
        offset=Setting("offset", "V", "{ch}:OFFSet {}", "{ch}:OFFSet?", NUMBERS, before=("{ch}:POSition 0",)),
        coupling=Setting("coupling", "", "{ch}:COUPling {}", "{ch}:COUPling?",
                         Encoding(str, lambda reply: strip_header(reply).upper()), COUPLINGS),
        impedance=Setting("termination", "Ohm", "{ch}:TERmination {}", "{ch}:TERmination?",
                          Encoding(lambda ohm: _TERMINATION[ohm], tek_number),
                          one_of(IMPEDANCES, "termination must be 50 or 1e6 Ohm, got {value:g}")),
        bandwidth_limit=Setting("bandwidth limit", "", "{ch}:BANdwidth {}", "{ch}:BANdwidth?",
                                Encoding(lambda on: "20E6" if on else "FULl",
                                         lambda reply: tek_number(reply) <= 1.25 * _BANDWIDTH_LIMIT_HZ))),
    # the reference point at screen centre and position_s from the trigger to it as horizontal delay
    timebase=TimebaseRows(
        scale=Setting("timebase scale", "s/div", "HORizontal:SCAle {}", "HORizontal:SCAle?", NUMBERS,
                      SCALE_ABOVE_ZERO),
        position=Setting("horizontal delay", "s", "HORizontal:DELay:TIMe {}", "HORizontal:DELay:TIMe?", NUMBERS,
                         before=("HORizontal:POSition 50", "HORizontal:DELay:MODe ON")),
        one_step=True),
    trigger=EdgeTrigger(("TRIGger:A:TYPe EDGE", "TRIGger:A:EDGE:SOUrce {ch}", "TRIGger:A:EDGE:SLOpe {slope}",
                         "TRIGger:A:LEVel:{ch} {level}"), {"rising": "RISe", "falling": "FALL"}),
    acquisition=AcquisitionRows(
        mode=Setting("acquisition mode", "", "ACQuire:MODe {}", "ACQuire:MODe?",
                     Encoding(tokens(_ACQUIRE_MODE), lambda reply: _MODE(strip_header(reply))),
                     one_of(_ACQUIRE_MODE, "unknown acquisition mode {value!r}", names_command=False)),
        average=Setting("average count", "", "ACQuire:NUMAVg {}", "ACQuire:NUMAVg?", Encoding(integer_text, tek_number),
                        Allowed(lambda n: not n < 2, "average count must be at least 2, got {value}"))),
)


@dataclass(frozen=True)
class TekPreamble:
    """The ``WFMOutpre`` fields the conversion needs, each queried by name (the positional ``WFMOutpre?``
    layout differs between Tektronix families: the MSO5 manual lists a PT_ORDER field the TDS5000B lacks)."""

    points: int         # NR_Pt
    x_increment: float  # XINcr, s
    x_zero: float       # XZEro, s, time of point PT_Off
    pt_off: float       # PT_Off (always 0 on MSO 4/5/6)
    y_mult: float       # YMUlt, V per code
    y_off: float        # YOFf, codes
    y_zero: float       # YZEro, V


class TektronixMSO(Oscilloscope):
    """Tektronix MSO 4/5/6 Series oscilloscope, four analog channels used. Settings: :data:`TABLE`."""

    table = TABLE
    vertical_divisions = 10
    horizontal_divisions = 10
    error_query = None  # *ESR? + EVMsg?: see drain_errors
    #: points per ``CURVe?`` block; deeper records are read in DATa:STARt/STOP windows of this size
    max_points_per_read = 1_000_000
    channel_node = "CH{}"

    # -- error checking --------------------------------------------------------------------------------
    def drain_errors(self) -> list[tuple[int, str]]:
        """``*ESR?``; if an error bit is set, ``EVMsg?`` until the queue is empty (code 0 or 1). Returns the
        command/execution/device errors (codes 100-399); events and warnings (400 and up) are dropped."""
        esr = int(self._number("*ESR?"))
        if not esr & _ESR_ERROR_BITS:
            return []
        errors, events = [], 0
        for _ in range(MAX_ERROR_READS):
            reply = strip_header(self.query("EVMsg?"))
            m = _EVENT.match(reply)
            if not m:
                raise InstrumentError(self.label, f"unreadable event reply {reply!r}", "EVMsg?")
            code, text = int(m.group(1)), m.group(2).strip()
            if code in (0, 1):
                break
            events += 1
            if 100 <= code < 400:
                errors.append((code, text))
        if not errors and not events:
            errors.append((esr, f"*ESR? {esr} flags an error but the event queue is empty"))
        return errors

    # -- helpers ---------------------------------------------------------------------------------------
    def _number(self, query: str) -> float:
        return self.query_as(query, tek_number, "a number")

    def _bool(self, query: str) -> bool:
        reply = self.query(query)
        try:
            return tek_bool(reply)
        except ValueError as exc:
            raise InstrumentError(self.label, str(exc), query) from None

    # -- vertical, horizontal (the table but for what is read back as a sum or a ratio) --------------------
    def channel_state(self, channel: int) -> ScopeChannelState:
        """Read back display, scale (V/div), the voltage at screen centre (``OFFSet - POSition * SCAle``),
        coupling, termination (Ohm), probe ratio (external attenuation / probe gain) and whether the bandwidth
        is limited to 20 MHz (reported bandwidth at most 25 MHz)."""
        c = self._channel(channel)
        rows = self.table.channel
        enabled = read(self, rows.enabled, ch=c)
        scale = read(self, rows.scale, ch=c)
        centre = read(self, rows.offset, ch=c) - self._number(f"{c}:POSition?") * scale
        coupling = read(self, rows.coupling, ch=c)
        termination = read(self, rows.impedance, ch=c)
        probe = read(self, rows.probe, ch=c) / self._number(f"{c}:PRObe:GAIN?")
        bwl = read(self, rows.bandwidth_limit, ch=c)
        return ScopeChannelState(enabled, scale, centre, coupling, termination, probe, bwl)

    # -- horizontal ------------------------------------------------------------------------------------
    def timebase(self) -> tuple[float, float]:
        """(s/div, s from the trigger to screen centre): the delay time when delay mode is on, plus the
        reference point's distance from centre, ``(50 - HORizontal:POSition) / 100 * 10`` divisions."""
        scale = self._number("HORizontal:SCAle?")
        delay = self._number("HORizontal:DELay:TIMe?") if self._bool("HORizontal:DELay:MODe?") else 0.0
        position_pct = self._number("HORizontal:POSition?")
        return scale, delay + (50.0 - position_pct) / 100.0 * self.horizontal_divisions * scale

    def set_record_length(self, points: int) -> int:
        """``HORizontal:MODE MANual``, ``HORizontal:RECOrdlength <points>``; returns the record length read
        back, which the scope may have moved to the nearest length it supports."""
        self.set("HORizontal:MODE MANual", f"HORizontal:RECOrdlength {self._check_record_length(points)}")
        kept = int(self._number("HORizontal:RECOrdlength?"))
        self._note_memory_depth(kept)
        return kept

    # -- acquisition -----------------------------------------------------------------------------------
    def acquisition_state(self) -> AcquisitionState:
        """``ACQuire:MODe?`` (``SAMPLE|AVERAGE|HIRES|PEAKDETECT|ENVELOPE``), ``ACQuire:NUMAVg?`` in AVErage
        mode only, ``HORizontal:SAMPLERate?`` (Sa/s) and ``HORizontal:RECOrdlength?`` (points), replies with or
        without headers (docs/reference/scpi.md §4.4, MSO 4/5/6 Programmer Manual)."""
        rows = self.table.acquisition
        mode = read(self, rows.mode)
        averages = int(read(self, rows.average)) if mode == "average" else 1
        return AcquisitionState(mode=mode, averages=averages, sample_rate_sa_s=self._number("HORizontal:SAMPLERate?"),
                                record_length=int(self._number("HORizontal:RECOrdlength?")))

    def single(self, timeout_s: float | None = None) -> None:
        """One acquisition sequence of all displayed channels: ``ACQuire:STATE STOP``,
        ``ACQuire:STOPAfter SEQuence``, ``ACQuire:STATE RUN``, then poll ``ACQuire:STATE?`` until 0 (in
        AVErage mode the sequence is a full average). Commands run in order, so the state reads 1 from the
        first poll until the sequence is done. Raises :class:`InstrumentTimeout` after
        :meth:`acquisition_wait_s` (the record's time with margins, plus ``timeout_s``)."""
        limit = self.acquisition_wait_s(timeout_s)
        command = "ACQuire:STATE RUN"
        self.set("ACQuire:STATE STOP", "ACQuire:STOPAfter SEQuence", command)
        self._poll_until(lambda: self._bool("ACQuire:STATE?"), lambda running, _: not running, limit, command)

    def run(self) -> None:
        """``ACQuire:STOPAfter RUNSTop``, ``ACQuire:STATE RUN``: continuous acquisition."""
        self.set("ACQuire:STOPAfter RUNSTop", "ACQuire:STATE RUN")

    # -- transfer --------------------------------------------------------------------------------------
    def read_waveform(self, channel: int) -> Waveform:
        """Transfer ``channel``'s record: ``DATa:SOUrce``, ``DATa:ENCdg SRIbinary``, ``WFMOutpre:BYT_Nr 2``,
        ``DATa:STARt 1``/``DATa:STOP <record length>``, the preamble fields, then ``CURVe?`` blocks of
        int16 little-endian codes, in windows of :attr:`max_points_per_read`. Volts
        ``(code - YOFf) * YMUlt + YZEro``, times ``XZEro + XINcr * (i - PT_Off)``. The encoding and width are
        put back afterwards."""
        c = self._channel(channel)
        saved_encoding = strip_header(self.query("DATa:ENCdg?"))
        saved_width = strip_header(self.query("WFMOutpre:BYT_Nr?"))

        def changes() -> list[str]:
            restore = []
            if not saved_encoding.upper().startswith("SRIB"):
                restore.append(f"DATa:ENCdg {saved_encoding}")
            if saved_width != "2":
                restore.append(f"WFMOutpre:BYT_Nr {saved_width}")
            return restore

        with self._restoring(changes):
            return self._transfer(channel, c)

    def _preamble(self) -> TekPreamble:
        q = self._number
        return TekPreamble(points=int(q("WFMOutpre:NR_Pt?")), x_increment=q("WFMOutpre:XINcr?"),
                           x_zero=q("WFMOutpre:XZEro?"), pt_off=q("WFMOutpre:PT_Off?"), y_mult=q("WFMOutpre:YMUlt?"),
                           y_off=q("WFMOutpre:YOFf?"), y_zero=q("WFMOutpre:YZEro?"))

    def _transfer(self, channel: int, c: str) -> Waveform:
        self.set(f"DATa:SOUrce {c}", "DATa:ENCdg SRIbinary", "WFMOutpre:BYT_Nr 2")
        record = int(self._number("HORizontal:RECOrdlength?"))
        self.set("DATa:STARt 1", f"DATa:STOP {record}")
        pre = self._preamble()
        if pre.points < 1:
            raise InstrumentError(self.label, "no waveform points to read", "WFMOutpre:NR_Pt?")
        windowed = pre.points > self.max_points_per_read  # else DATa:STARt/STOP above already hold the record

        def read_window(first: int, last: int) -> np.ndarray:
            if windowed:
                self.set(f"DATa:STARt {first}", f"DATa:STOP {last}")
            return self.query_binary("CURVe?", "h", is_big_endian=False, chunk_size=self.transfer_chunk_bytes)

        codes = self._read_in_windows(pre.points, self.max_points_per_read, read_window, "CURVe?", bytes_per_point=2)
        self.check_errors("CURVe?")
        return Waveform(channel=channel, codes=codes, y_increment_v=pre.y_mult, y_origin_v=pre.y_zero,
                        y_reference=pre.y_off, x_increment_s=pre.x_increment,
                        x_origin_s=pre.x_zero - pre.pt_off * pre.x_increment, code_min=-32768, code_max=32767)
