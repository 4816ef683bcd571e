"""Keysight (Agilent) InfiniiVision X-Series oscilloscopes: EDUX/DSOX1000X, DSOX/MSOX2000X, 3000T, 4000X.

Every command and conversion comes from docs/reference/scpi.md §4.1 (Keysight InfiniiVision 1000X/2000X/3000T/
4000X Programmer's Guides and pymeasure ``keysightDSOX1102G.py``) unless a docstring names another source.
Waveforms travel as IEEE 488.2 ``#8`` blocks through pyvisa's block reader: BYTE for normal and peak
acquisitions, WORD (16 bit, left-justified) for averaged and high-resolution ones so their extra bits survive.
The scope keeps 8 vertical and 10 horizontal divisions; ``:CHANnel<n>:OFFSet`` is the voltage at screen
centre, which is also this interface's meaning of ``offset_v``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from ._preamble import query_preamble
from .errors import InstrumentError, InstrumentTimeout
from .scope import AcquisitionMode, AcquisitionState, Oscilloscope
from .scope_table import (
    COUPLINGS,
    IMPEDANCE_CHOICES,
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
from .scpi_instrument import parse_bool
from .setting_table import WORD, Allowed, Encoding, Setting, integer_text, one_of, one_zero, read_all
from .waveform import Waveform

_IMPEDANCE_TOKEN = {50.0: "FIFTy", 1e6: "ONEMeg"}
_IMPEDANCE_REPLY = {"FIFT": 50.0, "FIFTY": 50.0, "ONEM": 1e6, "ONEMEG": 1e6}
_ACQUIRE_TYPE = {"normal": "NORMal", "average": "AVERage", "highres": "HRESolution", "peak": "PEAK"}
_ACQUIRE_TYPE_REPLY = {"NORM": "normal", "AVER": "average", "HRES": "highres", "PEAK": "peak"}

# Special codes of :WAVeform:DATA? with UNSigned 1 (4000 X-Series Programmer's Guide, :WAVeform:DATA, via
# manualarchiveguide.com p. 1243): 0 = hole, 1 = clipped low, 0xFF / 0xFFFF = clipped high.
_CLIPPED_LOW = 1
_CLIPPED_HIGH = {"BYTE": 0xFF, "WORD": 0xFFFF}
#: the transfer settings a run changes and puts back at its end, in the order they are restored
_TRANSFER_SETTINGS = (":WAVeform:FORMat", ":WAVeform:UNSigned", ":WAVeform:BYTeorder", ":WAVeform:POINts:MODE")
#: the 1000 X-Series models (EDUX1052A ... DSOX1204G), whose data-sheet figures :meth:`finest_scale_for` knows
_MODEL_1000X = re.compile(r"(EDU|DSO|MSO)-?X\s*1\d{3}", re.I)  # *IDN? spells them "DSO-X 1204G"
_REPLY_FORM = {"MSBFIRST": "MSBF", "LSBFIRST": "LSBF"}  # the short form the queries answer


def _impedance(reply: str) -> float:
    """``FIFT``/``ONEM`` (or their long forms) in ohms."""
    if reply.upper() not in _IMPEDANCE_REPLY:
        raise ValueError(f"unexpected impedance reply {reply!r}")
    return _IMPEDANCE_REPLY[reply.upper()]


NUMBER = scope_numbers(float)
FLAG = Encoding(one_zero, parse_bool, "expected 0 or 1, got {reply!r}")
IMPEDANCE = Encoding(lambda ohm: _IMPEDANCE_TOKEN[ohm], _impedance, "{why}")
COUNT = Encoding(integer_text, float)

#: every setting, one checked step each, checked by ``:SYSTem:ERRor?`` (the scope keeps its own limits loudly)
TABLE = ScopeTable(
    channel=ChannelRows(
        enabled=Setting("display", "", "{ch}:DISPlay {}", "{ch}:DISPlay?", FLAG),
        probe=Setting("probe ratio", "", "{ch}:PROBe {}", "{ch}:PROBe?", NUMBER),
        scale=Setting("vertical scale", "V/div", "{ch}:SCALe {}", "{ch}:SCALe?", NUMBER),
        offset=Setting("offset", "V", "{ch}:OFFSet {}", "{ch}:OFFSet?", NUMBER),  # V at screen centre, as ours
        coupling=Setting("coupling", "", "{ch}:COUPling {}", "{ch}:COUPling?", WORD, COUPLINGS),
        impedance=Setting("input impedance", "Ohm", "{ch}:IMPedance {}", "{ch}:IMPedance?", IMPEDANCE,
                          IMPEDANCE_CHOICES),  # 50 Ohm only on 3000T/4000X
        bandwidth_limit=Setting("bandwidth limit", "", "{ch}:BWLimit {}", "{ch}:BWLimit?", FLAG)),
    timebase=TimebaseRows(
        scale=Setting("timebase scale", "s/div", ":TIMebase:SCALe {}", ":TIMebase:SCALe?", NUMBER,
                      SCALE_ABOVE_ZERO),
        # from the trigger to the reference point, screen centre unless :TIMebase:REFerence says otherwise
        position=Setting("trigger position", "s", ":TIMebase:POSition {}", ":TIMebase:POSition?", NUMBER)),
    # the sweep (AUTO/NORMal) is left as it is
    trigger=EdgeTrigger((":TRIGger:MODE EDGE", ":TRIGger:EDGE:SOURce CHANnel{n}", ":TRIGger:EDGE:LEVel {level}",
                         ":TRIGger:EDGE:SLOPe {slope}"), {"rising": "POSitive", "falling": "NEGative"}),
    acquisition=AcquisitionRows(
        mode=Setting("acquisition mode", "", ":ACQuire:TYPE {}", ":ACQuire:TYPE?",
                     Encoding(tokens(_ACQUIRE_TYPE), mode_words(_ACQUIRE_TYPE_REPLY)),
                     one_of(_ACQUIRE_TYPE, "unknown acquisition mode {value!r}", names_command=False)),
        average=Setting("average count", "", ":ACQuire:COUNt {}", ":ACQuire:COUNt?", COUNT,
                        Allowed(lambda n: 2 <= n <= 65536, "average count must be 2 to 65536, got {value}"))),
)

# read-only acquisition figures (Programmer's Guide, :ACQuire subsystem), read with the table's rows
_SAMPLE_RATE = Setting("sample rate", "Sa/s", None, ":ACQuire:SRATe?", NUMBER)
_ACQUIRED_POINTS = Setting("acquired points", "", None, ":ACQuire:POINts?", NUMBER)


class KeysightInfiniiVision(Oscilloscope):
    """Keysight InfiniiVision 1000X-4000X oscilloscope (four analog channels).

    ``single()`` uses ``:DIGitize`` + ``*OPC?`` so an averaged acquisition is a full ``:ACQuire:COUNt``
    deep (docs/reference/scpi.md §4.1 and §6 item 4). Transfers read the raw acquisition record
    (``:WAVeform:POINts:MODE RAW``), all of it unless :meth:`set_record_length` asked for fewer points.
    Settings: :data:`TABLE`.
    """

    table = TABLE
    vertical_divisions = 8
    horizontal_divisions = 10
    #: the Programmer's Guides' "program message syntax": units separated by ``;`` in one message
    compound_queries = True

    def __init__(self, resource: object, label: str | None = None) -> None:
        super().__init__(resource, label)
        self._transfer_points: int | None = None  # None: every raw point (:WAVeform:POINts MAXimum)
        self._transfer_sent: dict[str, str] = {}  # transfer setting -> the value this driver last sent
        self._transfer_saved: dict[str, str] | None = None  # the user's, read before the first change
        self._acquire_type: str | None = None  # :ACQuire:TYPE as this driver last set or read it
        self.model: str | None = None  # the *IDN? model, once configure_model has been told it

    def set_record_length(self, points: int) -> int:
        """Ask for ``points`` per channel per transfer; returns what ``:WAVeform:DATA?`` will deliver.

        Memory depth is automatic on InfiniiVision (``:ACQuire:POINts?`` is read-only), so the request
        decimates the raw record: ``:WAVeform:POINts:MODE RAW`` then ``:WAVeform:POINts <n>`` (the order
        matters only for ``MAXimum``, which changes the mode). ``:WAVeform:POINts?`` answers the points the
        next transfer holds; with no acquisition yet it answers 0, and the answer is then the smaller of the
        request and ``:ACQuire:POINts?``. The preamble of each transfer has the exact count.
        """
        points = self._check_record_length(points)
        self._save_transfer_settings()
        self.set(":WAVeform:POINts:MODE RAW", f":WAVeform:POINts {points}")
        self._transfer_sent.update({":WAVeform:POINts:MODE": "RAW", ":WAVeform:POINts": str(points)})
        self._transfer_points = points
        delivered = int(self.query_float(":WAVeform:POINts?"))
        if delivered == 0:
            delivered = min(points, int(self.query_float(":ACQuire:POINts?")))
        return delivered

    def configure_model(self, model: str) -> None:
        """Remember the ``*IDN?`` model (its vertical figures, :meth:`finest_scale_for`); called by
        ``open_bench``."""
        self.model = model

    def finest_scale_for(self, offset_v: float, probe: float) -> float:
        """The 1000 X-Series figures (DSOX1204G data sheet, "Vertical system"): 500 uV/div finest, and the
        offset range +-2 V up to 200 mV/div, +-50 V above, both times the probe factor. Other models: 0 (none
        known; their scales and offsets are found by the scope's refusals)."""
        if self.model is None or not _MODEL_1000X.match(self.model.strip()):
            return 0.0
        finest = 500e-6 * probe
        if abs(offset_v) > 2.0 * probe:
            finest = max(finest, 0.2 * probe * (1 + 1e-6))
        return finest

    @contextmanager
    def short_records(self, points: int) -> Iterator[int | None]:
        """Transfers of ``points`` per channel decimated from the same raw record (``:WAVeform:POINts``, sent
        with the next transfer's settings): the acquisition is the same, only the bytes are fewer."""
        points = self._check_record_length(points)
        full = self._transfer_points
        if full is not None and full <= points:
            yield None
            return
        self._transfer_points = points
        try:
            yield points
        finally:
            self._transfer_points = full

    # -- acquisition -----------------------------------------------------------------------------------
    def acquisition_state(self) -> AcquisitionState:
        """``:ACQuire:TYPE?`` (``NORM|AVER|HRES|PEAK``), ``:ACQuire:COUNt?`` (used in AVERage mode only),
        ``:ACQuire:SRATe?`` (Sa/s) and ``:ACQuire:POINts?`` (the points the hardware acquires per channel;
        memory depth is automatic on InfiniiVision), as one compound query. Programmer's Guide, :ACQuire
        subsystem."""
        rows = self.table.acquisition
        mode, count, rate, points = read_all(self, [(rows.mode, {}), (rows.average, {}), (_SAMPLE_RATE, {}),
                                                    (_ACQUIRED_POINTS, {})])
        return AcquisitionState(mode=mode, averages=int(count) if mode == "average" else 1,
                                sample_rate_sa_s=float(rate), record_length=int(points))

    def single(self, timeout_s: float | None = None) -> None:
        """One acquisition of every displayed channel together, blocking until complete.

        ``:DIGitize CHANnel1,...`` with every displayed channel listed, then ``*OPC?`` with the VISA timeout
        set to :meth:`acquisition_wait_s` (the record's time with margins, plus ``timeout_s``) for that one
        read (DIGitize holds the parser until the acquisition, a full average in AVERage mode, is done). The
        scope is left stopped. Without completion in time this raises :class:`InstrumentTimeout` after a
        device clear, which drops the pending reply.
        """
        displayed = self.displayed_channels()
        if not displayed:
            raise InstrumentError(self.label, "no channel is displayed, nothing to acquire", ":DIGitize")
        timeout_s = self.acquisition_wait_s(timeout_s)
        command = ":DIGitize " + ",".join(f"CHANnel{ch}" for ch in displayed)
        self.write(command)
        previous = self.resource.timeout
        self.resource.timeout = timeout_s * 1000.0
        try:
            reply = self.query("*OPC?")
        except InstrumentTimeout as exc:
            self._device_clear()
            raise InstrumentTimeout(self.label, f"acquisition not complete within {timeout_s:g} s "
                                                f"(no trigger?)", command) from exc
        finally:
            if self.resource is not None:
                self.resource.timeout = previous
        if reply != "1":
            raise InstrumentError(self.label, f"*OPC? answered {reply!r}, expected '1'", command)
        self.check_errors(command)

    def _device_clear(self) -> None:
        try:
            self.resource.clear()
        except Exception:  # best effort: the timeout is the error the user must see
            pass

    def run(self) -> None:
        """``:RUN``: continuous acquisition (the safe state)."""
        self.set(":RUN")

    def set_acquisition(self, mode: AcquisitionMode = "normal", average_count: int = 1) -> None:
        """As :meth:`Oscilloscope.set_acquisition`; the type is remembered for the transfers' format."""
        self._acquire_type = None
        super().set_acquisition(mode, average_count)
        self._acquire_type = _ACQUIRE_TYPE[mode].upper()

    def safe_state(self) -> None:
        """The user's transfer settings back (:meth:`restore_transfer_settings`), then running."""
        try:
            self.restore_transfer_settings()
        finally:
            self.run()

    # -- transfer --------------------------------------------------------------------------------------
    def read_waveform(self, channel: int) -> Waveform:
        """Transfer the last acquisition of ``channel`` as a binary block with its preamble.

        BYTE (uint8) for normal/peak, WORD (uint16, MSB first) for average/high-resolution
        acquisitions; unsigned, so the preamble's y reference applies as is. Volts are
        ``(code - yreference) * yincrement + yorigin``, times ``(i - xreference) * xincrement + xorigin``.
        Codes 1 and 0xFF/0xFFFF mark samples clipped below/above the screen (code 0, a hole, counts as
        clipped too). In PEAK mode the codes are min/max pairs, each pair 2 x ``xincrement`` apart.

        The transfer settings (format, signedness, byte order, points mode and count) are sent only when they
        differ from what this driver last sent, so a run sets them once; the user's are read before the first
        change and put back by :meth:`restore_transfer_settings` (the safe state, at the end of a run).
        """
        self._channel(channel)
        fmt = "WORD" if self._acquisition_type().startswith(("AVER", "HRES")) else "BYTE"
        self._save_transfer_settings()
        wanted = {":WAVeform:FORMat": fmt, ":WAVeform:UNSigned": "1", ":WAVeform:BYTeorder": "MSBFirst"}
        if self._transfer_points is None:  # POINts MAXimum changes the mode: MODE RAW after it
            wanted.update({":WAVeform:POINts": "MAXimum", ":WAVeform:POINts:MODE": "RAW"})
        else:
            wanted.update({":WAVeform:POINts:MODE": "RAW", ":WAVeform:POINts": str(self._transfer_points)})
        changes = [f"{k} {v}" for k, v in wanted.items() if self._transfer_sent.get(k) != v]
        if ":WAVeform:POINts MAXimum" in changes and ":WAVeform:POINts:MODE RAW" not in changes:
            changes.append(":WAVeform:POINts:MODE RAW")  # POINts MAXimum changed the mode
        self.set(f":WAVeform:SOURce CHANnel{channel}", *changes)
        self._transfer_sent.update(wanted)
        return self._transfer(channel, fmt)

    def _forget_settings(self) -> None:
        """After a failed step: the transfer settings and the acquisition type are read or sent again."""
        super()._forget_settings()
        self._transfer_sent.clear()
        self._acquire_type = None

    def _acquisition_type(self) -> str:
        """``:ACQuire:TYPE`` in upper case: as last set through this driver, else asked once."""
        if self._acquire_type is None:
            self._acquire_type = self.query(":ACQuire:TYPE?").upper()
        return self._acquire_type

    def _save_transfer_settings(self) -> None:
        """Read the user's transfer settings once, before this driver first changes one."""
        if self._transfer_saved is None:
            keys = _TRANSFER_SETTINGS
            self._transfer_saved = dict(zip(keys, self.query_all([f"{k}?" for k in keys]), strict=True))

    def restore_transfer_settings(self) -> None:
        """Put back the transfer settings read before this driver first changed them (one checked step; nothing
        when none was changed). The next transfer sets its own again."""
        saved, self._transfer_saved = self._transfer_saved, None
        sent, self._transfer_sent = self._transfer_sent, {}
        if saved is None or self.resource is None:
            return
        restore = [f"{k} {saved[k]}" for k in _TRANSFER_SETTINGS
                   if k in sent and saved[k].upper() != _REPLY_FORM.get(sent[k].upper(), sent[k].upper())]
        if restore:
            self.set(*restore)

    def _transfer(self, channel: int, fmt: str) -> Waveform:
        pre = query_preamble(self, fmt)
        codes = self.query_binary(":WAVeform:DATA?", "H" if fmt == "WORD" else "B", is_big_endian=True,
                                  chunk_size=self.transfer_chunk_bytes,
                                  timeout_s=self.transfer_timeout_s(pre.points * (2 if fmt == "WORD" else 1)))
        if codes.size != pre.points:
            raise InstrumentError(self.label, f"block holds {codes.size} points, preamble says {pre.points}",
                                  ":WAVeform:DATA?")
        self.check_errors(":WAVeform:DATA?")
        codes = codes.astype(codes.dtype.newbyteorder("="), copy=False)  # MSB-first words -> native order
        return Waveform(channel=channel, codes=codes, y_increment_v=pre.y_increment, y_origin_v=pre.y_origin,
                        y_reference=pre.y_reference, x_increment_s=pre.x_increment, x_origin_s=pre.first_point_s,
                        code_min=_CLIPPED_LOW, code_max=_CLIPPED_HIGH[fmt])
