"""Siglent SDS1000X-E oscilloscopes (and SDS1000X, SDS2000X non-Plus): the legacy LeCroy-style command set.

Commands and the conversion come from docs/reference/scpi.md §4.3 "Legacy" (SDS1104X-E Programming Guide
pp. 142-143, Teledyne T3DSO1000 manual, public SDS1000X-E scripts) unless a docstring names another source.
What sets this family apart:

* no SCPI error queue: the command-error register ``CMR?`` and execution-error register ``EXR?`` (read
  clears each) are drained instead (SDS1104X-E Programming Guide p. 32 gives the CMR codes);
* replies may echo a header (``C1:VDIV 5.00E-01V``) depending on ``CHDR``, and carry units (``V``, ``S``,
  ``GSa/s``); the driver parses either form and leaves ``CHDR`` alone;
* coupling and impedance are one setting (``C<n>:CPL D1M|A1M|D50|A50``); bare DC/AC is rejected silently;
* ``C<n>:OFST`` is added to the trace (screen centre = -OFST); this interface's ``offset_v`` is the voltage at
  screen centre, so the driver negates it;
* the waveform reply ``C<n>:WF? DAT2`` is ``C1:WF DAT2,#9<len><int8 data>`` followed by *two* line feeds, so
  it is read with the family's block reader (:meth:`SiglentSDS1000XE._read_block`), not pyvisa's;
* 8-bit ADC, 25 codes per division, 8 vertical and 14 horizontal divisions.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from .errors import InstrumentError
from .scope import AcquisitionState, Oscilloscope, ScopeChannelState
from .scope_table import (
    COUPLINGS,
    IMPEDANCE_CHOICES,
    SCALE_ABOVE_ZERO,
    AcquisitionRows,
    ChannelRows,
    ChannelSetting,
    EdgeTrigger,
    ScopeTable,
    TimebaseRows,
    TriggerSweep,
    centre_numbers,
    mode_words,
    scope_numbers,
    tokens,
)
from .setting_table import (
    Allowed,
    Change,
    Encoding,
    ReadBack,
    Setting,
    Tolerance,
    apply,
    bound,
    integer_text,
    on_off,
    one_of,
    read,
)
from .waveform import Waveform

CODES_PER_DIV = 25  # SDS1000X-E programming guide conversion
_CMR_TEXT = {1: "Unrecognized command/query header", 2: "Invalid character", 3: "Invalid separator",
             4: "Missing parameter", 5: "Unrecognized keyword", 6: "String error", 7: "Parameter cannot allowed",
             8: "Command String Too Long", 9: "Query cannot allowed", 10: "Missing Query mask",
             11: "Invalid parameter", 12: "Parameter syntax error", 13: "Filename too long"}
_ACQW = {"normal": "SAMPLING", "peak": "PEAK_DETECT", "highres": "HIGH_RES"}  # average: AVERAGE,<n>
_ACQW_REPLY = {"SAMPLING": "normal", "PEAK_DETECT": "peak", "HIGH_RES": "highres", "AVERAGE": "average"}
#: memory depths ``MSIZ`` accepts (docs/reference/scpi.md §4.3, [M])
MEMORY_DEPTHS = {7_000: "7K", 14_000: "14K", 70_000: "70K", 140_000: "140K", 700_000: "700K",
                 1_400_000: "1.4M", 7_000_000: "7M", 14_000_000: "14M"}
_HEADER = re.compile(r"^[A-Z0-9_:]+\s+(.*)$", re.S)
_VALUE = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(\S*)")
_COUNT_PREFIX = {"K": 1e3, "M": 1e6, "G": 1e9}
_COUNT_UNITS = ("", "SA/S", "SA", "PTS")


def strip_header(reply: str) -> str:
    """The value part of a legacy reply: ``C1:VDIV 5.00E-01V`` -> ``5.00E-01V`` (unchanged without header)."""
    m = _HEADER.match(reply.strip())
    return m.group(1).strip() if m else reply.strip()


def parse_number(reply: str) -> float:
    """A legacy numeric reply in SI units: ``C1:VDIV 5.00E-01V`` -> 0.5, ``SARA 1.00GSa/s`` -> 1e9,
    ``MSIZ 1.4M`` -> 1.4e6, ``TDIV 2.00E-08S`` -> 2e-8. Raises ValueError if there is no number."""
    m = _VALUE.match(strip_header(reply))
    if not m:
        raise ValueError(f"no number in {reply!r}")
    value, unit = float(m.group(1)), m.group(2).upper()
    if unit[:1] in _COUNT_PREFIX and unit[1:] in _COUNT_UNITS:  # counts and rates carry k/M/G
        value *= _COUNT_PREFIX[unit[:1]]
    return value


def _average_count(reply: str) -> float:
    """The count of an ``ACQW AVERAGE,<n>`` reply; 0 for a reply that is not one (or not a plain count)."""
    parts = strip_header(reply).upper().split(",")
    count = parts[1].strip() if parts[0] == "AVERAGE" and len(parts) >= 2 else ""
    return float(count) if count.isdigit() and str(int(count)) == count else 0.0


def _depth(reply: str) -> int:
    """``MSIZ 1.4M`` -> 1400000; 0 when the reply holds no depth."""
    try:
        return round(parse_number(reply))
    except ValueError:
        return 0


NUMBERS = scope_numbers(parse_number)
_MODE = mode_words(_ACQW_REPLY)
READ_BACK: ReadBack[float] = ReadBack(Tolerance(rel=1e-3))

#: every step is checked by the CMR?/EXR? registers (:meth:`SiglentSDS1000XE.read_error`); probe, scale and
#: timebase, which the scope keeps in discrete steps, are read back too. Coupling and impedance are one command,
#: ``C<n>:CPL D1M|A1M|D50|A50`` (a bare DC/AC is rejected silently): the rows give each half's letters.
TABLE = ScopeTable(
    channel=ChannelRows(
        enabled=Setting("trace", "", "{ch}:TRA {}", "{ch}:TRA?",
                        Encoding(on_off, lambda reply: strip_header(reply).upper() == "ON")),
        probe=Setting("probe ratio", "", "{ch}:ATTN {}", "{ch}:ATTN?", NUMBERS, check=READ_BACK),
        scale=Setting("vertical scale", "V/div", "{ch}:VDIV {}", "{ch}:VDIV?", NUMBERS, check=READ_BACK),
        offset=Setting("offset", "V", "{ch}:OFST {}", "{ch}:OFST?", centre_numbers(parse_number)),
        coupling=Setting("coupling", "", "{ch}:CPL {}", "{ch}:CPL?",
                         Encoding(lambda coupling: coupling[0], lambda reply: _cpl(reply)[0], "{why}"), COUPLINGS),
        impedance=Setting("input impedance", "Ohm", "{ch}:CPL {}", "{ch}:CPL?",
                          Encoding(lambda ohm: "50" if ohm == 50.0 else "1M", lambda reply: _cpl(reply)[1], "{why}"),
                          IMPEDANCE_CHOICES),
        # BWL? lists every channel: read by SiglentSDS1000XE.channel_state
        bandwidth_limit=Setting("bandwidth limit", "", "BWL {ch},{}", None, Encoding(on_off, lambda reply: False))),
    timebase=TimebaseRows(
        scale=Setting("timebase scale", "s/div", "TDIV {}", "TDIV?", NUMBERS, SCALE_ABOVE_ZERO, READ_BACK),
        position=Setting("trigger delay", "s", "TRDL {}", "TRDL?", NUMBERS)),
    trigger=EdgeTrigger(("TRSE EDGE,SR,{ch},HT,OFF", "{ch}:TRSL {slope}", "{ch}:TRLV {level}"),
                        {"rising": "POS", "falling": "NEG"}),
    acquisition=AcquisitionRows(  # [L] in docs/reference/scpi.md
        mode=Setting("acquisition mode", "", "ACQW {}", "ACQW?",
                     Encoding(tokens(_ACQW), lambda reply: _MODE(strip_header(reply).split(",")[0])),
                     one_of((*_ACQW, "average"), "unknown acquisition mode {value!r}", names_command=False)),
        average=Setting("average count", "", "ACQW AVERAGE,{}", "ACQW?", Encoding(integer_text, _average_count),
                        Allowed(lambda n: not n < 2, "average count must be at least 2, got {value}",
                                names_command=False),
                        ReadBack(says="{what} set to {asked} but the instrument reads back {reply!r}",
                                 shows=strip_header)),
        average_sets_mode=True),
)

#: ``MSIZ`` with one of :data:`MEMORY_DEPTHS`, read back
DEPTH = Setting("memory depth", "points", "MSIZ {}", "MSIZ?", Encoding(lambda points: MEMORY_DEPTHS[points], _depth),
                one_of(MEMORY_DEPTHS, f"memory depth must be one of {sorted(MEMORY_DEPTHS)}, got {{value!r}}"),
                ReadBack(says="{name} set to {asked} points but the instrument kept {reply}", shows=strip_header))


def _cpl(reply: str) -> tuple[str, float]:
    """A ``C<n>:CPL?`` reply as (coupling, ohms): ``D1M`` -> ("DC", 1e6), ``GND`` -> ("GND", 1e6)."""
    text = strip_header(reply).upper()
    if text in ("D1M", "A1M", "D50", "A50"):
        return ("DC" if text[0] == "D" else "AC"), (50.0 if text.endswith("50") else 1e6)
    if text == "GND":
        return "GND", 1e6
    raise ValueError(f"unexpected coupling reply {text!r}")


class SiglentSDS1000XE(Oscilloscope):
    """Siglent SDS1000X-E four-channel oscilloscope (legacy command set). Settings: :data:`TABLE`."""

    table = TABLE
    sweep = TriggerSweep("TRMD?", "TRMD {}", reading=strip_header,
                         single=lambda mode: mode.upper() in ("SINGLE", "STOP"))
    vertical_divisions = 8
    horizontal_divisions = 14
    error_query = "CMR?"  # with EXR?: see read_error
    channel_node = "C{}"

    # -- error registers -------------------------------------------------------------------------------
    def _register(self, query: str) -> int:
        reply = self.query(query)
        try:
            return int(parse_number(reply))
        except ValueError:
            raise InstrumentError(self.label, f"unreadable register reply {reply!r}", query) from None

    def read_error(self) -> tuple[int, str]:
        """The command-error register (``CMR?``), then the execution-error register (``EXR?``); both clear on
        reading, so the drain loop ends when both read 0."""
        code = self._register("CMR?")
        if code:
            return code, f"command error (CMR?) {code}: {_CMR_TEXT.get(code, 'unknown code')}"
        code = self._register("EXR?")
        if code:
            return code, f"execution error (EXR?) {code}"
        return 0, ""

    # -- helpers ---------------------------------------------------------------------------------------
    def _number(self, query: str) -> float:
        return self.query_as(query, parse_number, "a number")

    # -- vertical: coupling and impedance travel together ------------------------------------------------
    def _channel_changes(self, ch: str, s: ChannelSetting) -> list[Change]:
        """The table's order, with coupling and impedance as one ``C<n>:CPL`` step (:meth:`_set_coupling`)."""
        if s.coupling is None and s.impedance_ohm is None:
            return super()._channel_changes(ch, s)
        rows = self.table.channel
        halves = [*bound(rows.coupling, s.coupling, ch=ch), *bound(rows.impedance, s.impedance_ohm, ch=ch)]
        return [*super()._channel_changes(ch, replace(s, coupling=None, impedance_ohm=None, bandwidth_limit=None)),
                *(replace(half, commands=()) for half in halves),  # their refusals, before any byte
                Change((), send=lambda inst: self._set_coupling(ch, s.coupling, s.impedance_ohm)),
                *super()._channel_changes(ch, ChannelSetting(bandwidth_limit=s.bandwidth_limit))]

    def _set_coupling(self, ch: str, coupling: str | None, impedance_ohm: float | None) -> None:
        """``C<n>:CPL`` with both halves; the half not given is read first (``C<n>:CPL?``)."""
        rows = self.table.channel
        if coupling is None or impedance_ohm is None:
            now_coupling, now_impedance = self._coupling(ch)
            coupling = coupling or now_coupling
            impedance_ohm = impedance_ohm if impedance_ohm is not None else now_impedance
            if coupling == "GND":
                raise InstrumentError(self.label, "channel is ground-coupled: give the coupling with the "
                                                  "impedance", f"{ch}:CPL")
        self.set(f"{ch}:CPL {rows.coupling.encoding.text(coupling)}{rows.impedance.encoding.text(impedance_ohm)}")

    def _coupling(self, ch: str) -> tuple[str, float]:
        """(coupling, ohms) from ``C<n>:CPL?`` (``GND`` reads as ("GND", 1e6))."""
        query = f"{ch}:CPL?"
        try:
            return _cpl(self.query(query))
        except ValueError as exc:
            raise InstrumentError(self.label, str(exc), query) from None

    def channel_state(self, channel: int) -> ScopeChannelState:
        """Read back trace on/off, scale (V/div), offset (V at screen centre), coupling and impedance, probe
        ratio and the bandwidth limit (from ``BWL?``, which lists every channel)."""
        c = self._channel(channel)
        rows = self.table.channel
        enabled = read(self, rows.enabled, ch=c)
        scale = read(self, rows.scale, ch=c)
        offset = read(self, rows.offset, ch=c)
        coupling, impedance = self._coupling(c)
        probe = read(self, rows.probe, ch=c)
        fields = [f.strip().upper() for f in strip_header(self.query("BWL?")).split(",")]
        pairs = dict(zip(fields[0::2], fields[1::2], strict=False))
        if c not in pairs:
            raise InstrumentError(self.label, f"BWL? does not list {c}: {fields!r}", "BWL?")
        return ScopeChannelState(enabled, scale, offset, coupling, impedance, probe, pairs[c] == "ON")

    # -- memory depth and acquisition --------------------------------------------------------------------
    def set_record_length(self, points: int) -> int:
        """``MSIZ`` with one of :data:`MEMORY_DEPTHS` (anything else raises before any I/O), read back
        (:data:`DEPTH`); a depth the scope did not take raises. Returns the depth."""
        apply(self, DEPTH.to(points))
        self._note_memory_depth(points)
        return points

    def acquisition_state(self) -> AcquisitionState:
        """``ACQW?`` (mode, and the count of ``AVERAGE,<n>``), ``SARA?`` (``SARA 1.00GSa/s``) and ``MSIZ?``
        (the memory depth, ``MSIZ 14M``): docs/reference/scpi.md §4.3 (SDS1000X-E Programming Guide)."""
        reply = strip_header(self.query("ACQW?"))
        parts = [p.strip() for p in reply.split(",")]
        mode = self.table.acquisition.mode.encoding.parse(reply)
        averages = 1
        if mode == "average":
            try:
                averages = int(float(parts[1]))
            except (IndexError, ValueError):
                raise InstrumentError(self.label, f"no average count in {reply!r}", "ACQW?") from None
        return AcquisitionState(mode=mode, averages=averages, sample_rate_sa_s=self._number("SARA?"),
                                record_length=round(self._number("MSIZ?")))

    def single(self, timeout_s: float | None = None) -> None:
        """One acquisition of all displayed channels.

        ``STOP``, ``INR?`` (read clears it), ``TRMD SINGLE`` + ``ARM``, then poll ``INR?`` until bit 0 ("new
        signal acquired") is set -- race-free, because bit 0 can only come from this arming. ([L]: the
        ``INR?`` completion test is from the LeCroy-style register model, not confirmed on hardware.) Raises
        :class:`InstrumentTimeout` after :meth:`acquisition_wait_s` (the record's time with margins, plus
        ``timeout_s``). The trigger mode before is remembered for :meth:`run`.
        """
        self._remember_sweep()
        limit = self.acquisition_wait_s(timeout_s)
        self.set("STOP")
        self._register("INR?")
        self.set("TRMD SINGLE", "ARM")
        self._poll_until(lambda: self._register("INR?"), lambda inr, _: bool(inr & 1), limit, "TRMD SINGLE")

    def run(self) -> None:
        """Leave the scope acquiring: ``TRMD`` back to the mode :meth:`single` replaced (AUTO if unknown)."""
        self._put_sweep_back()

    # -- transfer --------------------------------------------------------------------------------------
    def _read_block(self, command: str) -> bytes:
        """Send ``command`` and read ``<ASCII prefix>#<n><len><data>`` plus the two trailing line feeds
        (docs/reference/scpi.md §1.3 reader). Until the header is in, the VISA timeout allows for the memory depth
        this driver set (the scope prepares the block before its first byte); the data are then read with the
        timeout the header's byte count needs (:meth:`transfer_timeout_s`)."""
        def read() -> bytes:
            res = self.resource
            res.write(command)
            prefix = b""
            while (byte := res.read_bytes(1)) != b"#":
                prefix += byte
                if len(prefix) > 64:
                    raise InstrumentError(self.label, f"no block in reply {prefix!r}...", command)
            ndigits = int(res.read_bytes(1))
            nbytes = int(res.read_bytes(ndigits))
            with self.visa_timeout_at_least(self.transfer_timeout_s(nbytes)):
                data = res.read_bytes(nbytes, chunk_size=self.transfer_chunk_bytes) if nbytes else b""
            tail = res.read_bytes(2)
            if tail != b"\n\n":
                raise InstrumentError(self.label, f"block not followed by two line feeds ({tail!r})", command)
            return bytes(data)

        with self.visa_timeout_at_least(self.transfer_timeout_s(self._noted_depth or 0)):
            return self._call(command, read, "query")

    def read_waveform(self, channel: int) -> Waveform:
        """Transfer the last acquisition of ``channel``: ``WFSU SP,0,NP,0,FP,0`` (every point), the scaling
        queries, then ``C<n>:WF? DAT2`` (int8 codes). Volts ``code * VDIV / 25 - OFST``, times
        ``TRDL - TDIV * 14 / 2 + i / SARA`` (SDS1000X-E programming guide). ``WFSU`` is put back afterwards."""
        c = self._channel(channel)
        saved = strip_header(self.query("WFSU?"))
        wanted = "SP,0,NP,0,FP,0"
        with self._restoring(lambda: [f"WFSU {saved}"] if saved.replace(" ", "").upper() != wanted else []):
            self.set(f"WFSU {wanted}")
            vdiv = self._number(f"{c}:VDIV?")
            ofst = self._number(f"{c}:OFST?")
            tdiv = self._number("TDIV?")
            trdl = self._number("TRDL?")
            sara = self._number("SARA?")
            codes = np.frombuffer(self._read_block(f"{c}:WF? DAT2"), dtype=np.int8)
        if sara <= 0:
            raise InstrumentError(self.label, f"sample rate {sara:g} Sa/s is not usable", "SARA?")
        return Waveform(channel=channel, codes=codes, y_increment_v=vdiv / CODES_PER_DIV, y_origin_v=0.0 - ofst,
                        y_reference=0.0, x_increment_s=1.0 / sara,
                        x_origin_s=trdl - tdiv * self.horizontal_divisions / 2, code_min=-128, code_max=127)
