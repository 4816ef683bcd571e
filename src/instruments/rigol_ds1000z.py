"""Rigol DS1000Z / MSO1000Z oscilloscopes (DS1054Z, DS1104Z, MSO1104Z, ...); base of the DHO800/900 driver.

Every command and conversion comes from docs/reference/scpi.md §4.2 (MSO1000Z/DS1000Z Programming Guide, a
DS1054Z hardware log, QCoDeS ``Rigol_DS1074Z.py``, pymeasure ``rigol_dho_base.py``) unless a docstring names
another source. The DS1000Z is an 8-bit scope with 1 MOhm inputs only, 8 vertical and 12 horizontal
divisions. Its quirks shape this driver:

* there is no ``:DIGitize``; ``:SINGle`` arms, and ``:TRIGger:STATus?`` returns to ``STOP`` when the record is
  complete (``*OPC?`` does not wait for the trigger);
* ``:SINGle`` leaves the trigger sweep in SINGle, so :meth:`run` puts the previous sweep back;
* it keeps the old memory depth, probe ratio, scale or average count *without* an error when a value is not
  allowed, so those settings are read back;
* ``:CHANnel<n>:OFFSet`` is added to the trace position (screen centre = -offset); this interface's
  ``offset_v`` is the voltage at screen centre, so the driver negates it;
* RAW reads (the memory, scope stopped) come in ``:WAVeform:STARt``/``:STOP`` windows of at most
  250 000 BYTE points, each its own ``#9`` block;
* memory depths come from a short menu (with four channels on: 3k, 30k, 300k, 3M, 6M), so a record of, say,
  100 000 points lives in a 300 000-point memory: the driver then reads the 100 000 points in the middle of
  it (:meth:`RigolDS1000Z.set_record_length`) rather than three times the transfer the caller asked for,
  and :meth:`RigolDS1000Z.transfer_span_s` says how long they last so the caller can widen the screen.
"""

from __future__ import annotations

import struct

import numpy as np

from ._preamble import WaveformPreamble, query_preamble
from .errors import InstrumentError
from .scope import AcquisitionState, Oscilloscope
from .scope_table import (
    COUPLINGS,
    SCALE_ABOVE_ZERO,
    AcquisitionRows,
    ChannelRows,
    EdgeTrigger,
    ScopeTable,
    TimebaseRows,
    TriggerSweep,
    centre_numbers,
    mode_words,
    scope_numbers,
    tokens,
)
from .scpi_instrument import parse_bool
from .setting_table import (
    WORD,
    Allowed,
    Encoding,
    ReadBack,
    Setting,
    Tolerance,
    apply,
    integer_text,
    on_off,
    one_of,
    read,
)
from .waveform import Waveform

#: ``:ACQuire:TYPE?`` replies (DS1000Z: NORM, AVER, PEAK, HRES; DHO800/900: NORM, PEAK, AVER, ULTR)
_TYPE_REPLY = {"NORM": "normal", "AVER": "average", "HRES": "highres", "PEAK": "peak", "ULTR": "ultra"}
#: ``:ACQuire:TYPE`` word per interface mode on the DS1000Z; a mode missing is not available
DS1000Z_TYPES = {"normal": "NORMal", "average": "AVERages", "highres": "HRESolution", "peak": "PEAK"}

NUMBER = scope_numbers(float)
#: read back: a ratio or count the scope rounds (1e-6), a scale it keeps in 1-2-5 steps (1e-3 of it)
EXACTLY: ReadBack[float] = ReadBack(Tolerance(rel=1e-6))
STEPS: ReadBack[float] = ReadBack(Tolerance(rel=1e-3))
FLAG = Encoding(on_off, parse_bool, "expected 0 or 1, got {reply!r}")
#: the offset's range depends on the scale and an offset beyond it is clamped: read back, allowing one ADC code
#: (1/25 division) for the instrument's offset resolution
ONE_CODE: ReadBack[float] = ReadBack(Tolerance(reference_codes=25),
                    says="{name} set to {asked} {unit} at screen centre but the instrument kept {kept} {unit}")


def _power_of_two(n: float) -> bool:
    return float(n).is_integer() and not int(n) & (int(n) - 1)


def acquisition_rows(types: dict[str, str], max_average_count: int) -> AcquisitionRows:
    """``:ACQuire:TYPE`` with the model's ``types``; ``:ACQuire:AVERages`` a power of two from 2 to
    ``max_average_count``, read back because the scope rounds other values down silently."""
    return AcquisitionRows(
        mode=Setting("acquisition mode", "", ":ACQuire:TYPE {}", ":ACQuire:TYPE?",
                     Encoding(tokens(types), mode_words(_TYPE_REPLY)),
                     one_of(types, "acquisition mode {value!r} is not available on this scope (available: "
                            + ", ".join(types) + ")", names_command=False)),
        average=Setting("average count", "", ":ACQuire:AVERages {}", ":ACQuire:AVERages?",
                        Encoding(integer_text, float),
                        Allowed(lambda n: 2 <= n <= max_average_count and _power_of_two(n),
                                f"average count must be a power of two from 2 to {max_average_count}, got {{value}}"),
                        EXACTLY))


#: the scope keeps its old probe ratio, scale, offset or average count *without* an error when a value is not
#: allowed, so those rows are read back; inputs are 1 MOhm only (the impedance row sends nothing)
TABLE = ScopeTable(
    channel=ChannelRows(
        enabled=Setting("display", "", "{ch}:DISPlay {}", "{ch}:DISPlay?", FLAG),
        probe=Setting("probe ratio", "", "{ch}:PROBe {}", "{ch}:PROBe?", NUMBER, check=EXACTLY),  # 1-2-5 values
        scale=Setting("vertical scale", "V/div", "{ch}:SCALe {}", "{ch}:SCALe?", NUMBER, check=STEPS),
        offset=Setting("offset", "V", "{ch}:OFFSet {}", "{ch}:OFFSet?", centre_numbers(float), check=ONE_CODE),
        coupling=Setting("coupling", "", "{ch}:COUPling {}", "{ch}:COUPling?", WORD, COUPLINGS),
        impedance=Setting("input impedance", "Ohm", None, None, NUMBER,
                          Allowed(lambda ohm: ohm == 1e6, "inputs are 1 MOhm only, cannot set {value:g} Ohm",
                                  names_command=False), only=1e6),
        bandwidth_limit=Setting("bandwidth limit", "", "{ch}:BWLimit {}", "{ch}:BWLimit?",
                                Encoding(lambda on: "20M" if on else "OFF", lambda reply: reply.upper() != "OFF"))),
    timebase=TimebaseRows(
        scale=Setting("timebase scale", "s/div", ":TIMebase:MAIN:SCALe {}", ":TIMebase:MAIN:SCALe?", NUMBER,
                      SCALE_ABOVE_ZERO, STEPS),
        position=Setting("trigger position", "s", ":TIMebase:MAIN:OFFSet {}", ":TIMebase:MAIN:OFFSet?",
                         NUMBER)),  # trigger to screen centre
    trigger=EdgeTrigger((":TRIGger:MODE EDGE", ":TRIGger:EDGE:SOURce CHANnel{n}", ":TRIGger:EDGE:SLOPe {slope}",
                         ":TRIGger:EDGE:LEVel {level}"), {"rising": "POSitive", "falling": "NEGative"}),
    acquisition=acquisition_rows(DS1000Z_TYPES, 1024),
)

#: ``:ACQuire:MDEPth``: a depth the enabled channels do not allow is ignored with an empty error queue
#: (DS1054Z hardware log), so it is read back (``AUTO`` reads as None)
DEPTH: Setting[int | None] = Setting(
    "memory depth", "points", ":ACQuire:MDEPth {}", ":ACQuire:MDEPth?",
    Encoding(str, lambda reply: int(float(reply)) if reply.upper() != "AUTO" else None),
    check=ReadBack(says="{name} set to {asked} points but the instrument kept {reply} (allowed depths depend on "
                        "the enabled channels)"))


class RigolDS1000Z(Oscilloscope):
    """Rigol DS1000Z / MSO1000Z four-channel oscilloscope. Settings: :data:`TABLE`."""

    table = TABLE
    sweep = TriggerSweep(":TRIGger:SWEep?", ":TRIGger:SWEep {}", reading=str.upper)
    vertical_divisions = 8
    horizontal_divisions = 12
    #: most points one ``:WAVeform:DATA?`` may return in the transfer format (250 000 in BYTE)
    max_points_per_read = 250_000
    #: ``:WAVeform:FORMat`` used for transfers, pyvisa datatype of its samples
    waveform_format = "BYTE"
    datatype = "B"
    #: top sample rate with three or four channels on (DS1054Z data sheet: 1 GSa/s with one channel, 500 MSa/s
    #: with two, 250 MSa/s with three or four): a fixed memory depth is longest in time at this rate
    lowest_top_sample_rate_sa_s = 250e6

    #: serve a record length the depth menu does not list from a deeper memory, reading the middle of it
    memory_windows = True

    def __init__(self, resource: object, label: str | None = None) -> None:
        super().__init__(resource, label)
        self._window_points: int | None = None  # None: transfers read the whole memory

    #: memory depths with one channel on; two channels halve them, three or four quarter them
    #: (DS1000Z programming guide, :ACQuire:MDEPth)
    memory_depths_1ch: tuple[int, ...] = (12_000, 120_000, 1_200_000, 12_000_000, 24_000_000)

    def memory_depths(self, n_channels: int) -> list[int]:
        """The memory depths allowed with ``n_channels`` on (the one-channel menu divided by 1, 2 or 4)."""
        div = 1 if n_channels <= 1 else 2 if n_channels == 2 else 4
        return [d // div for d in self.memory_depths_1ch]

    def _listed_depths(self) -> set[int]:
        """Every depth the menu lists for some number of channels."""
        return {d for n in (1, 2, 4) for d in self.memory_depths(n)}

    def record_length_for(self, points: int, n_channels: int) -> int:
        """What to ask :meth:`set_record_length` for so that at least ``points`` arrive with ``n_channels``
        on: ``points`` itself when the driver can read it from the middle of a deeper memory (any count up to
        the deepest memory that the menu does not list for another channel count); otherwise the smallest
        allowed depth holding ``points`` (the largest if none)."""
        depths = self.memory_depths(n_channels)
        if points in depths or (self.memory_windows and points <= depths[-1] and points not in self._listed_depths()):
            return points
        return next((d for d in depths if d >= points), depths[-1])

    def set_record_length(self, points: int) -> int:
        """``:ACQuire:MDEPth``, read back; returns the points a RAW transfer delivers.

        A depth the menu lists is set as it is and transfers read the whole memory. Allowed depths depend on
        how many channels are on, and a value that is not allowed is ignored with an empty error queue
        (DS1054Z hardware log), so a read-back that differs raises, naming the depth asked for and the one
        the scope kept. Any other count (the programming guide's menu has no 100 000) is served from the
        smallest depth that holds it with the displayed channels (``:CHANnel<n>:DISPlay?``), and transfers
        read that many points from the middle of the memory: the acquisition takes longer (the memory spans
        the screen), the transfer does not.
        """
        points = self._check_record_length(points)
        if self.memory_windows and points not in self._listed_depths():
            n_on = sum(read(self, self.table.channel.enabled, ch=self._channel(ch)) for ch in self.channels)
            depth = next((d for d in self.memory_depths(n_on) if d >= points), None)
            if depth is None:
                raise InstrumentError(self.label, f"no memory depth holds {points} points with {n_on} channels on "
                                                  f"(deepest {self.memory_depths(n_on)[-1]})", ":ACQuire:MDEPth")
            self._set_depth(depth)
            self._window_points = points
            return points
        self._window_points = None
        return self._set_depth(points)

    def _set_depth(self, points: int) -> int:
        """``:ACQuire:MDEPth <points>`` and its read-back (:data:`DEPTH`: raises if the scope kept another)."""
        apply(self, DEPTH.to(points))
        self._note_memory_depth(points)
        return points

    # -- acquisition -----------------------------------------------------------------------------------
    def acquisition_state(self) -> AcquisitionState:
        """``:ACQuire:TYPE?``, ``:ACQuire:AVERages?`` in AVERages mode only, ``:ACQuire:SRATe?`` (Sa/s) and
        ``:ACQuire:MDEPth?`` (points, or ``AUTO``).

        In AUTO the depth is the programming guide's relation (``:ACQuire:SRATe``): memory depth = sample
        rate x ``:TIMebase:MAIN:SCALe?`` x the horizontal divisions, so the scale is asked for then only.
        """
        rows = self.table.acquisition
        mode = read(self, rows.mode)
        averages = int(read(self, rows.average)) if mode == "average" else 1
        rate = self.query_float(":ACQuire:SRATe?")
        reply = self.query(":ACQuire:MDEPth?")
        if reply.upper() == "AUTO":
            depth = round(rate * self.query_float(":TIMebase:MAIN:SCALe?") * self.horizontal_divisions)
        else:
            try:
                depth = int(float(reply))
            except ValueError:
                raise InstrumentError(self.label, f"expected a memory depth or AUTO, got {reply!r}",
                                      ":ACQuire:MDEPth?") from None
        return AcquisitionState(mode=mode, averages=averages, sample_rate_sa_s=rate, record_length=depth)

    def single(self, timeout_s: float | None = None) -> None:
        """One acquisition of all enabled channels: ``:SINGle``, then poll ``:TRIGger:STATus?``.

        The status may still read ``STOP`` from before just after ``:SINGle``; the record is complete when the
        status has left ``STOP`` (armed: WAIT/TD/RUN/AUTO) and come back to it (:meth:`_wait_for_stop`).
        Raises :class:`InstrumentTimeout` naming the instrument if it is not complete within
        :meth:`acquisition_wait_s` (the record's time with margins, plus ``timeout_s``). The sweep before
        ``:SINGle`` is remembered for :meth:`run`.

        ``:SINGle`` switches the sweep to SINGle, which never triggers on its own; when the sweep it replaced
        was AUTO, the record is forced with ``:TFORce`` (the programming guide: "generate a trigger signal
        forcefully", for the normal and single sweeps) if the status still reads ``WAIT`` once any periodic
        trigger signal would have fired (:func:`instruments.timing.auto_trigger_after_s`) -- what AUTO would
        have done, so a signal without edges (a DC level) is acquired instead of waited for forever.
        """
        self._remember_sweep()
        limit = self.acquisition_wait_s(timeout_s)
        auto = (self._sweep_before_single or "").startswith("AUTO")
        self.set(":SINGle")
        self._wait_for_stop(lambda: self.query(":TRIGger:STATus?").upper(), limit, ":SINGle",
                            force=(lambda: self.set(":TFORce")) if auto else None)

    def run(self) -> None:
        """Leave the scope running: put back the sweep :meth:`single` replaced (AUTO if unknown), ``:RUN``."""
        self._put_sweep_back()
        self.set(":RUN")

    # -- transfer --------------------------------------------------------------------------------------
    def _record_points(self, preamble: WaveformPreamble) -> int:
        """Points in the RAW record: the preamble's count once the scope is stopped."""
        return preamble.points

    def _code_limits(self, preamble: WaveformPreamble) -> tuple[int, int]:
        """The ADC's lowest and highest code as transferred: 0 and 255 for unsigned BYTE data."""
        return 0, 255

    def read_waveform(self, channel: int) -> Waveform:
        """Transfer the RAW record of ``channel`` (scope stopped, e.g. after :meth:`single`).

        ``:WAVeform:SOURce``, ``:MODE RAW``, ``:FORMat``, the preamble, then ``:STARt``/``:STOP`` windows of
        :attr:`max_points_per_read` points (1-based, inclusive), one ``#9`` block each, concatenated. Volts
        are ``(code - yorigin - yreference) * yincrement``, times ``(i - xreference) * xincrement + xorigin``.
        ``:WAVeform:MODE`` and ``:FORMat`` are put back afterwards.
        """
        self._channel(channel)
        saved = {":WAVeform:MODE": self.query(":WAVeform:MODE?"),
                 ":WAVeform:FORMat": self.query(":WAVeform:FORMat?")}
        used = {":WAVeform:MODE": "RAW", ":WAVeform:FORMat": self.waveform_format}
        with self._restoring(lambda: [f"{s} {v}" for s, v in saved.items() if v.upper() != used[s]]):
            return self._transfer(channel)

    def transfer_span_s(self) -> float | None:
        """How long the points a transfer delivers last, s. Reading the middle of the memory
        (:meth:`set_record_length`): those points over ``:ACQuire:SRATe?``; otherwise the whole memory,
        which spans at least the screen."""
        if self._window_points is None:
            return super().transfer_span_s()
        rate = self.query_float(":ACQuire:SRATe?")
        return self._window_points / rate if rate > 0 else None

    def _transfer(self, channel: int) -> Waveform:
        self.set(f":WAVeform:SOURce CHANnel{channel}", ":WAVeform:MODE RAW",
                 f":WAVeform:FORMat {self.waveform_format}")
        pre = query_preamble(self, self.waveform_format)
        memory = self._record_points(pre)
        if memory < 1:
            raise InstrumentError(self.label, "no waveform points to read (stop the scope after an acquisition)",
                                  ":WAVeform:PREamble?")
        total = min(memory, self._window_points or memory)
        start = (memory - total) // 2 + 1  # the middle of the memory (1-based)

        def read_window(first: int, last: int) -> np.ndarray:
            self.set(f":WAVeform:STARt {first}", f":WAVeform:STOP {last}")
            return self.query_binary(":WAVeform:DATA?", self.datatype, is_big_endian=False,
                                     chunk_size=self.transfer_chunk_bytes)

        codes = self._read_in_windows(total, self.max_points_per_read, read_window, ":WAVeform:DATA?",
                                      bytes_per_point=struct.calcsize(self.datatype), start=start)
        code_min, code_max = self._code_limits(pre)
        return pre.waveform(channel, codes, origin_in_codes=True, code_min=code_min, code_max=code_max,
                            first_index=start - 1)
