"""Protocol-test playback: a stand-in pyvisa resource that expects exact SCPI exchanges.

In the spirit of PyMeasure's ``expected_protocol``: a test lists every ``(command, reply)`` pair the driver
must produce, in order (``reply`` ``None`` for a command without an answer). Any other command, or a query
left unanswered, fails the test with a message naming the exchange. Binary replies are ``bytes`` holding a
real IEEE 488.2 block; the driver's ``query_binary_values`` call is decoded by pyvisa's own block parser, so
the test checks the driver's datatype, endianness and header handling against real bytes.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import numpy as np
from pyvisa import util as visa_util

Exchange = tuple[str, "str | bytes | None"]


class ProtocolMismatch(AssertionError):
    pass


class PlaybackResource:
    """Plays back an expected exchange list; mimics the parts of pyvisa's MessageBasedResource drivers use."""

    resource_name = "PLAYBACK::INSTR"

    def __init__(self, exchanges: Sequence[Exchange]) -> None:
        self._expected = list(exchanges)
        self._pos = 0
        self._pending: str | bytes | None = None
        self.timeout = 5000
        self.chunk_size = 20 * 1024
        self.read_termination = "\n"
        self.write_termination = "\n"
        self.closed = False

    # -- helpers -----------------------------------------------------------------------------------
    def _next(self, command: str) -> str | bytes | None:
        if self._pending is not None:
            raise ProtocolMismatch(f"driver sent {command!r} before reading the reply {self._pending!r}")
        if self._pos >= len(self._expected):
            raise ProtocolMismatch(f"driver sent {command!r} after the last expected exchange")
        want, reply = self._expected[self._pos]
        if command != want:
            raise ProtocolMismatch(f"exchange {self._pos}: expected {want!r}, driver sent {command!r}")
        self._pos += 1
        return reply

    def _take_reply(self) -> str | bytes:
        if self._pending is None:
            raise ProtocolMismatch("driver read a reply to a command that has none")
        reply, self._pending = self._pending, None
        return reply

    @property
    def done(self) -> bool:
        return self._pos == len(self._expected) and self._pending is None

    def remaining(self) -> list[Exchange]:
        return self._expected[self._pos:]

    # -- pyvisa surface ------------------------------------------------------------------------------
    def write(self, command: str, *args: Any, **kwargs: Any) -> int:
        self._pending = self._next(command)
        return len(command)

    def read(self, *args: Any, **kwargs: Any) -> str:
        reply = self._take_reply()
        if isinstance(reply, bytes):
            raise ProtocolMismatch(f"driver read binary reply {reply[:20]!r}... as text")
        return reply

    def read_raw(self, size: int | None = None) -> bytes:
        reply = self._take_reply()
        return reply if isinstance(reply, bytes) else (reply + "\n").encode()

    def read_bytes(self, count: int, *args: Any, **kwargs: Any) -> bytes:
        reply = self._take_reply()
        data = reply if isinstance(reply, bytes) else (reply + "\n").encode()
        if count < len(data):
            self._pending = data[count:]
        return data[:count]

    def query(self, command: str, *args: Any, **kwargs: Any) -> str:
        self.write(command)
        return self.read()

    def query_binary_values(self, command: str, datatype: str = "f", is_big_endian: bool = False,
                            container: Any = list, header_fmt: str = "ieee", expect_termination: bool = True,
                            **kwargs: Any) -> Any:
        self.write(command)
        reply = self._take_reply()
        if not isinstance(reply, bytes):
            raise ProtocolMismatch(f"driver asked for a binary block but the reply is text {reply!r}")
        if header_fmt != "ieee":
            raise ProtocolMismatch(f"unexpected header_fmt {header_fmt!r}")
        return visa_util.from_ieee_block(reply, datatype=datatype, is_big_endian=is_big_endian, container=container)

    def clear(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def ieee_block(data: bytes | np.ndarray, *, digits: int | None = None, terminator: bytes = b"\n") -> bytes:
    """Build an IEEE 488.2 definite-length block ``#<n><len><data>`` (``digits`` fixes n, e.g. 8 or 9)."""
    raw = data.tobytes() if isinstance(data, np.ndarray) else bytes(data)
    length = str(len(raw))
    if digits is not None:
        length = length.zfill(digits)
    return b"#" + str(len(length)).encode() + length.encode() + raw + terminator


@contextmanager
def expected_protocol(driver_cls: type, exchanges: Sequence[Exchange], **kwargs: Any) -> Iterator[Any]:
    """Construct ``driver_cls(PlaybackResource(exchanges), **kwargs)`` and check every exchange was used."""
    res = PlaybackResource(exchanges)
    inst = driver_cls(res, **kwargs)
    yield inst
    if not res.done:
        raise ProtocolMismatch(f"expected exchanges not sent: {res.remaining()!r}")
