"""Binary blocks are read by their byte count, the termination character off: a block of codes equal to ``\\n``
comes in a few reads, whole, and the next reply is the next query's (a real pyvisa-py socket session against a
small server in the test)."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator

import numpy as np
import pytest
import pyvisa

from instruments.errors import InstrumentError
from instruments.scpi_instrument import ScpiInstrument

N = 100_000
REPLIES = {
    b"DATA?": b"#6%06d" % N + bytes([10]) * N + b"\n",  # every code is the termination character
    b"CURVE?": b":CURVE #3004" + bytes([10, 200, 10, 1]) + b"\n",  # a header before the block
    b"TEXT?": b"not a block\n",
    b"*IDN?": b"TEST,BLOCKS,0,1\n",
}


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for line in self.rfile:
            reply = REPLIES.get(line.strip())
            if reply is not None:
                self.wfile.write(reply)


@pytest.fixture
def instrument() -> Iterator[ScpiInstrument]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rm = pyvisa.ResourceManager("@py")
    res = rm.open_resource(f"TCPIP0::127.0.0.1::{server.server_address[1]}::SOCKET", read_termination="\n",
                           write_termination="\n", timeout=5000)
    try:
        yield ScpiInstrument(res, "test instrument")
    finally:
        res.close()
        server.shutdown()
        server.server_close()


def test_a_block_of_termination_codes_is_read_whole_in_few_reads(instrument: ScpiInstrument) -> None:
    res = instrument.resource
    reads = 0
    original = res.visalib.read

    def counting(session: int, count: int) -> object:
        nonlocal reads
        reads += 1
        return original(session, count)

    res.visalib.read = counting
    try:
        block = instrument.query_binary("DATA?", "B", chunk_size=1 << 16)
    finally:
        res.visalib.read = original
    assert block.size == N and np.all(block == 10)
    assert reads < 40  # by count: header, length, then 64 KiB pieces (one read per code 10 would be 100 000)
    assert instrument.query("*IDN?") == "TEST,BLOCKS,0,1"  # the terminator after the block was read with it


def test_a_header_before_the_block_is_skipped(instrument: ScpiInstrument) -> None:
    assert list(instrument.query_binary("CURVE?", "B")) == [10, 200, 10, 1]
    assert instrument.query("*IDN?") == "TEST,BLOCKS,0,1"


def test_a_reply_that_is_no_block_is_one_clear_error(instrument: ScpiInstrument) -> None:
    with pytest.raises(InstrumentError, match="expected a definite-length block") as info:
        instrument.query_binary("TEXT?", "B")
    assert "\n" not in str(info.value) and "TEXT?" in str(info.value)


def test_the_termination_character_is_on_again_after_a_block(instrument: ScpiInstrument) -> None:
    instrument.query_binary("DATA?", "B")
    enabled = instrument.resource.get_visa_attribute(pyvisa.constants.ResourceAttribute.termchar_enabled)
    assert enabled
