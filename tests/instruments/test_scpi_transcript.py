"""The SCPI transcript (``"instruments.scpi"``) and the simulator's own record of what it received
(``"instruments.sim.messages"``).

The driver side is checked against a protocol playback (tests/protocol.py): the transcript must hold exactly the
exchanges the playback saw, in order, with each reply, a binary block summarised by its length (its bytes never
in the file), a failure as an ``error`` line, and the re-synchronisation after it. The simulator side is checked
against what the test itself wrote on a raw socket, byte for byte.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from instruments.errors import InstrumentTimeout
from instruments.scpi_instrument import ScpiInstrument
from instruments.scpi_transcript import TRANSCRIPT, describe_reply, transcript_handler
from instruments.sim.scpi_server import RECEIVED
from logger_handlers import listening
from protocol import expected_protocol, ieee_block, visa_timeout
from scpi_socket import ask, raw

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
LABEL = "scope Test 1 at PLAYBACK::INSTR"


class Records(logging.Handler):
    """Keeps every record it is given."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def transcript_file(tmp_path: Path) -> Iterator[Path]:
    """The transcript written to a file with the handler a command line attaches; the logger put back after."""
    path = tmp_path / "scpi.log"
    with listening(TRANSCRIPT, transcript_handler(str(path))):
        yield path


def _lines(path: Path) -> list[list[str]]:
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]
    assert all(len(r) == 4 for r in rows), rows
    assert all(STAMP.match(r[0]) for r in rows), [r[0] for r in rows]
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)  # written in the order they happened
    return rows


def test_every_exchange_in_order_with_replies_and_blocks_by_length(transcript_file: Path) -> None:
    codes = np.arange(-100, 100, dtype=np.int8)
    block = ieee_block(codes)
    exchanges = [
        (":TIM:SCAL 1E-3", None),
        ("SYSTem:ERRor?", '+0,"No error"'),
        (":WAV:DATA?", block),
        (":SYST:SET?", "a\tb\\c"),  # a reply with a tab and a backslash: escaped, so one exchange is one line
    ]
    with expected_protocol(ScpiInstrument, exchanges, label=LABEL) as inst:
        inst.set(":TIM:SCAL 1E-3")
        data = inst.query_binary(":WAV:DATA?", "b")
        assert inst.query(":SYST:SET?") == "a\tb\\c"
    assert np.array_equal(data, codes)
    rows = _lines(transcript_file)
    assert [r[1:] for r in rows] == [
        [LABEL, "write", ":TIM:SCAL 1E-3"],
        [LABEL, "query", "SYSTem:ERRor?"],
        [LABEL, "read", '+0,"No error"'],
        [LABEL, "query", ":WAV:DATA?"],
        [LABEL, "read", "<binary block: 200 bytes, 200 values of int8>"],
        [LABEL, "query", ":SYST:SET?"],
        [LABEL, "read", "a\\tb\\\\c"],
    ]
    assert block[20:60].decode("latin-1") not in transcript_file.read_text(encoding="utf-8")


def test_a_failed_exchange_and_the_resync_after_it_are_in_the_transcript(transcript_file: Path) -> None:
    """A timeout is an ``error`` line; the next exchange first gets the session back in step (device clear, then
    ``*IDN?`` read until the identity comes back, the stale reply discarded), and all of it is written."""
    identity = "TEST,SCOPE,1,1.0"
    exchanges = [
        (":MEAS:VPP?", visa_timeout()),
        ("*IDN?", identity),
        (":MEAS:FREQ?", "1000"),
    ]
    with expected_protocol(ScpiInstrument, exchanges, label=LABEL) as inst:
        inst.identity = identity
        with pytest.raises(InstrumentTimeout):
            inst.query(":MEAS:VPP?")
        assert inst.query_float(":MEAS:FREQ?") == 1000.0
        assert inst.resource.clears == 1
    rows = [r[1:] for r in _lines(transcript_file)]
    assert rows == [
        [LABEL, "query", ":MEAS:VPP?"],
        [LABEL, "error", ":MEAS:VPP?: InstrumentTimeout: no answer within the VISA timeout"],
        [LABEL, "clear", ""],
        [LABEL, "query", "*IDN?"],
        [LABEL, "read", identity],
        [LABEL, "query", ":MEAS:FREQ?"],
        [LABEL, "read", "1000"],
    ]


def test_nothing_is_recorded_when_nobody_listens() -> None:
    """At the logger's default level no record is even made (the cost of the transcript is one level check)."""
    records = Records()
    with listening(TRANSCRIPT, records, logging.INFO), \
            expected_protocol(ScpiInstrument, [("*RST", None)], label=LABEL) as inst:
        inst.write("*RST")
    assert records.records == []


def test_block_summaries_name_the_length_never_the_bytes() -> None:
    assert describe_reply(b"\x00\x01\x02") == "<binary block: 3 bytes>"
    assert describe_reply(np.zeros(5, dtype=">u2")) == "<binary block: 10 bytes, 5 values of >u2>"
    assert describe_reply("1.5E+3") == "1.5E+3"


def test_the_simulator_records_every_message_it_received_in_order(sim_bench) -> None:
    """What the test writes on a raw socket (compound messages, a garbage line, a query) is what the simulator's
    record holds, in order, under the instrument's model and resource."""
    bench = sim_bench("keysight")
    resource = bench.resources["generator"]
    records = Records()
    sent = ["*CLS", "SOUR1:FREQ 1000;:SOUR1:VOLT 0.1", "NO:SUCH:CMD 3", "\tSOUR1:FREQ?", "SYST:ERR?"]
    with listening(RECEIVED, records):
        sock = raw(resource)
        try:
            for line in sent[:3]:
                sock.sendall(line.encode() + b"\n")
            assert float(ask(sock, sent[3].encode())) == 1000.0
            assert ask(sock, sent[4].encode()).startswith(b"-113")
        finally:
            sock.close()
    assert [r.scpi for r in records.records] == ["*CLS", "SOUR1:FREQ 1000;:SOUR1:VOLT 0.1", "NO:SUCH:CMD 3",  # type: ignore[attr-defined]
                                                 "\\tSOUR1:FREQ?", "SYST:ERR?"]
    assert {r.instrument for r in records.records} == {f"33522B at {resource}"}  # type: ignore[attr-defined]
    assert {r.direction for r in records.records} == {"received"}  # type: ignore[attr-defined]
