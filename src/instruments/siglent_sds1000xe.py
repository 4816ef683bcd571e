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
from typing import Literal

import numpy as np

from ._scpi_format import scope_number as _num
from .errors import InstrumentError
from .scope import AcquisitionMode, AcquisitionState, Coupling, Oscilloscope, ScopeChannelState
from .waveform import Waveform

CODES_PER_DIV = 25  # SDS1000X-E programming guide conversion
_CMR_TEXT = {1: "Unrecognized command/query header", 2: "Invalid character", 3: "Invalid separator",
             4: "Missing parameter", 5: "Unrecognized keyword", 6: "String error", 7: "Parameter cannot allowed",
             8: "Command String Too Long", 9: "Query cannot allowed", 10: "Missing Query mask",
             11: "Invalid parameter", 12: "Parameter syntax error", 13: "Filename too long"}
_ACQW = {"normal": "SAMPLING", "peak": "PEAK_DETECT", "highres": "HIGH_RES"}  # average: AVERAGE,<n>
_ACQW_REPLY = {"SAMPLING": "normal", "PEAK_DETECT": "peak", "HIGH_RES": "highres", "AVERAGE": "average"}
_SLOPE = {"rising": "POS", "falling": "NEG"}
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


class SiglentSDS1000XE(Oscilloscope):
    """Siglent SDS1000X-E four-channel oscilloscope (legacy command set)."""

    vertical_divisions = 8
    horizontal_divisions = 14
    error_query = "CMR?"  # with EXR?: see read_error
    channel_node = "C{}"

    def __init__(self, resource: object, label: str | None = None) -> None:
        super().__init__(resource, label)
        self._trigger_mode_before_single: str | None = None

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

    def _set_read_back(self, command: str, query: str, asked: float, what: str) -> None:
        self.set_checked(command, query, asked, rel=1e-3, what=what, read=self._number)

    # -- vertical --------------------------------------------------------------------------------------
    def set_channel(self, channel: int, *, enabled: bool | None = None, scale_v_per_div: float | None = None,
                    offset_v: float | None = None, coupling: Coupling | None = None,
                    impedance_ohm: float | None = None, probe: float | None = None,
                    bandwidth_limit: bool | None = None) -> None:
        """Set trace on/off (``C<n>:TRA``), probe (``C<n>:ATTN``, read back), scale (``C<n>:VDIV`` V/div, read
        back), offset (V at screen centre, sent as ``C<n>:OFST`` negated), coupling + impedance (``C<n>:CPL``;
        the half not given is read first) and the 20 MHz limit (``BWL C<n>,ON|OFF``)."""
        c = self._channel(channel)
        self._check_coupling(coupling, f"{c}:CPL")
        self._check_impedance(impedance_ohm, f"{c}:CPL")
        if enabled is not None:
            self.set(f"{c}:TRA {'ON' if enabled else 'OFF'}")
        if probe is not None:
            self._set_read_back(f"{c}:ATTN {_num(probe)}", f"{c}:ATTN?", probe, "probe ratio")
        if scale_v_per_div is not None:
            self._set_read_back(f"{c}:VDIV {_num(scale_v_per_div)}", f"{c}:VDIV?", scale_v_per_div,
                                "vertical scale (V/div)")
        if offset_v is not None:
            self.set(f"{c}:OFST {_num(0.0 - offset_v)}")
        if coupling is not None or impedance_ohm is not None:
            if coupling is None or impedance_ohm is None:
                now_coupling, now_impedance = self._coupling(c)
                coupling = coupling or now_coupling  # type: ignore[assignment]
                impedance_ohm = impedance_ohm if impedance_ohm is not None else now_impedance
                if coupling == "GND":
                    raise InstrumentError(self.label, "channel is ground-coupled: give the coupling with the "
                                                      "impedance", f"{c}:CPL")
            self.set(f"{c}:CPL {coupling[0]}{'50' if impedance_ohm == 50.0 else '1M'}")
        if bandwidth_limit is not None:
            self.set(f"BWL {c},{'ON' if bandwidth_limit else 'OFF'}")

    def _coupling(self, c: str) -> tuple[str, float]:
        reply = strip_header(self.query(f"{c}:CPL?")).upper()
        if reply in ("D1M", "A1M", "D50", "A50"):
            return ("DC" if reply[0] == "D" else "AC"), (50.0 if reply.endswith("50") else 1e6)
        if reply == "GND":
            return "GND", 1e6
        raise InstrumentError(self.label, f"unexpected coupling reply {reply!r}", f"{c}:CPL?")

    def channel_state(self, channel: int) -> ScopeChannelState:
        """Read back trace on/off, scale (V/div), offset (V at screen centre), coupling and impedance, probe
        ratio and the bandwidth limit (from ``BWL?``, which lists every channel)."""
        c = self._channel(channel)
        enabled = strip_header(self.query(f"{c}:TRA?")).upper() == "ON"
        scale = self._number(f"{c}:VDIV?")
        offset = 0.0 - self._number(f"{c}:OFST?")
        coupling, impedance = self._coupling(c)
        probe = self._number(f"{c}:ATTN?")
        fields = [f.strip().upper() for f in strip_header(self.query("BWL?")).split(",")]
        pairs = dict(zip(fields[0::2], fields[1::2]))
        if c not in pairs:
            raise InstrumentError(self.label, f"BWL? does not list {c}: {fields!r}", "BWL?")
        return ScopeChannelState(enabled, scale, offset, coupling, impedance, probe, pairs[c] == "ON")

    # -- horizontal ------------------------------------------------------------------------------------
    def set_timebase(self, scale_s_per_div: float, position_s: float = 0.0) -> None:
        """``TDIV`` (s/div, read back: discrete steps) and ``TRDL`` (trigger delay, s)."""
        self._check_timebase_scale(scale_s_per_div)
        self._set_read_back(f"TDIV {_num(scale_s_per_div)}", "TDIV?", scale_s_per_div, "timebase scale (s/div)")
        self.set(f"TRDL {_num(position_s)}")
        self._note_timebase(scale_s_per_div, position_s)

    def timebase(self) -> tuple[float, float]:
        """(``TDIV?`` s/div, ``TRDL?`` s)."""
        return self._number("TDIV?"), self._number("TRDL?")

    def set_record_length(self, points: int) -> int:
        """``MSIZ`` with one of :data:`MEMORY_DEPTHS` (anything else raises before any I/O), read back; a depth
        the scope did not take raises. Returns the depth."""
        if points not in MEMORY_DEPTHS:
            raise InstrumentError(self.label, f"memory depth must be one of {sorted(MEMORY_DEPTHS)}, got {points!r}",
                                  "MSIZ")
        command = f"MSIZ {MEMORY_DEPTHS[points]}"
        self.set(command)
        reply = self.query("MSIZ?")
        try:
            kept = round(parse_number(reply))
        except ValueError:
            kept = None
        if kept != points:
            raise InstrumentError(self.label, f"memory depth set to {points} points but the instrument kept "
                                              f"{strip_header(reply)}", command)
        self._note_memory_depth(kept)
        return kept

    # -- trigger and acquisition -----------------------------------------------------------------------
    def set_trigger_edge(self, source_channel: int, level_v: float,
                         slope: Literal["rising", "falling"] = "rising") -> None:
        """``TRSE EDGE,SR,C<n>,HT,OFF``, ``C<n>:TRSL POS|NEG``, ``C<n>:TRLV <V>``."""
        c = self._channel(source_channel)
        token = self._slope_token(slope, _SLOPE)
        self.set(f"TRSE EDGE,SR,{c},HT,OFF", f"{c}:TRSL {token}", f"{c}:TRLV {_num(level_v)}")

    def set_acquisition(self, mode: AcquisitionMode = "normal", average_count: int = 1) -> None:
        """``ACQW SAMPLING|PEAK_DETECT|AVERAGE,<n>|HIGH_RES`` ([L] in docs/reference/scpi.md); the average count is
        read back from ``ACQW?``."""
        if mode == "average":
            if average_count < 2:
                raise InstrumentError(self.label, f"average count must be at least 2, got {average_count}")
            command = f"ACQW AVERAGE,{int(average_count)}"
        elif mode in _ACQW:
            command = f"ACQW {_ACQW[mode]}"
        else:
            raise InstrumentError(self.label, f"unknown acquisition mode {mode!r}")
        self.set(command)
        if mode == "average":
            reply = strip_header(self.query("ACQW?"))
            parts = reply.upper().split(",")
            if parts[0] != "AVERAGE" or len(parts) < 2 or parts[1].strip() != str(int(average_count)):
                raise InstrumentError(self.label, f"average count set to {average_count} but the instrument "
                                                  f"reads back {reply!r}", command)
        self._note_averages(average_count if mode == "average" else 1)

    def acquisition_state(self) -> AcquisitionState:
        """``ACQW?`` (mode, and the count of ``AVERAGE,<n>``), ``SARA?`` (``SARA 1.00GSa/s``) and ``MSIZ?``
        (the memory depth, ``MSIZ 14M``): docs/reference/scpi.md §4.3 (SDS1000X-E Programming Guide)."""
        reply = strip_header(self.query("ACQW?"))
        parts = [p.strip() for p in reply.split(",")]
        mode = self._mode_from_reply(parts[0], _ACQW_REPLY)
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
        mode = strip_header(self.query("TRMD?"))
        if mode.upper() not in ("SINGLE", "STOP"):
            self._trigger_mode_before_single = mode
        limit = self.acquisition_wait_s(timeout_s)
        self.set("STOP")
        self._register("INR?")
        self.set("TRMD SINGLE", "ARM")
        self._poll_until(lambda: self._register("INR?"), lambda inr, _: bool(inr & 1), limit, "TRMD SINGLE")

    def run(self) -> None:
        """Leave the scope acquiring: ``TRMD`` back to the mode :meth:`single` replaced (AUTO if unknown)."""
        mode = strip_header(self.query("TRMD?")).upper()
        if mode in ("SINGLE", "STOP"):
            self.set(f"TRMD {self._trigger_mode_before_single or 'AUTO'}")

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
            return self._call(command, read)

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
