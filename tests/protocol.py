"""Protocol-test playback: a stand-in pyvisa resource that expects exact SCPI exchanges.

In the spirit of PyMeasure's ``expected_protocol``: a test lists every ``(command, reply)`` pair the driver
must produce, in order (``reply`` ``None`` for a command without an answer). Any other command, or a query
left unanswered, fails the test with a message naming the exchange. Binary replies are ``bytes`` holding a
real IEEE 488.2 block; the driver's ``query_binary_values`` call is decoded by pyvisa's own block parser, so
the test checks the driver's datatype, endianness and header handling against real bytes. A reply may also
be an exception (a ``VisaIOError`` timeout, a lost connection): it is raised when the driver reads it.

:class:`Family` bundles what a test module says about one driver (class, label, the exchanges of an empty
error check); :class:`FakeClock` stands in for the time a polling driver waits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import numpy as np
import pytest
from pyvisa import constants
from pyvisa import util as visa_util
from pyvisa.errors import VisaIOError

Exchange = tuple[str, "str | bytes | BaseException | None"]


class ProtocolMismatch(AssertionError):
    pass


class PlaybackResource:
    """Plays back an expected exchange list; mimics the parts of pyvisa's MessageBasedResource drivers use.

    A reply that is an exception is raised when the driver reads it. ``timeout_at`` records the VISA timeout
    in force when each command was written, ``clears`` counts device clears.
    """

    resource_name = "PLAYBACK::INSTR"

    def __init__(self, exchanges: Sequence[Exchange]) -> None:
        self._expected = list(exchanges)
        self._pos = 0
        self._pending: str | bytes | BaseException | None = None
        self.timeout = 5000
        self.chunk_size = 20 * 1024
        self.read_termination = "\n"
        self.write_termination = "\n"
        self.closed = False
        self.timeout_at: dict[str, float] = {}
        self.clears = 0

    # -- helpers -----------------------------------------------------------------------------------
    def _next(self, command: str) -> str | bytes | BaseException | None:
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
        if isinstance(reply, BaseException):
            raise reply
        return reply

    @property
    def done(self) -> bool:
        return self._pos == len(self._expected) and self._pending is None

    def remaining(self) -> list[Exchange]:
        return self._expected[self._pos:]

    # -- pyvisa surface ------------------------------------------------------------------------------
    def write(self, command: str, *args: Any, **kwargs: Any) -> int:
        self.timeout_at[command] = self.timeout
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
        self.clears += 1

    def close(self) -> None:
        self.closed = True


def visa_timeout() -> VisaIOError:
    """A reply that fails: the VISA timeout (the instrument never answered)."""
    return VisaIOError(constants.StatusCode.error_timeout)


def connection_lost() -> VisaIOError:
    """A reply that fails: the connection dropped."""
    return VisaIOError(constants.StatusCode.error_connection_lost)


def ieee_block(data: bytes | np.ndarray, *, digits: int | None = None, terminator: bytes = b"\n") -> bytes:
    """Build an IEEE 488.2 definite-length block ``#<n><len><data>`` (``digits`` fixes n, e.g. 8 or 9)."""
    raw = data.tobytes() if isinstance(data, np.ndarray) else bytes(data)
    length = str(len(raw))
    if digits is not None:
        length = length.zfill(digits)
    return b"#" + str(len(length)).encode() + length.encode() + raw + terminator


@contextmanager
def expected_protocol(driver_cls: type, exchanges: Sequence[Exchange], **kwargs: Any) -> Iterator[Any]:
    """Construct ``driver_cls(PlaybackResource(exchanges), **kwargs)`` and check every exchange was used.

    The playback is the driver's ``resource`` (for ``timeout_at`` and ``clears``).
    """
    res = PlaybackResource(exchanges)
    inst = driver_cls(res, **kwargs)
    yield inst
    if not res.done:
        raise ProtocolMismatch(f"expected exchanges not sent: {res.remaining()!r}")


@contextmanager
def raises_with(error: type[BaseException], *fragments: str) -> Iterator[Any]:
    """``pytest.raises(error)`` that also checks the message contains every one of ``fragments`` (the
    instrument's label, the command, the instrument's own text ...)."""
    with pytest.raises(error) as info:
        yield info
    for fragment in fragments:
        assert fragment in str(info.value), f"{fragment!r} not in {str(info.value)!r}"


class Family:
    """One driver as its tests see it: the class, the label it is opened with, and ``drain``, the exchanges
    of an error check that finds nothing (``("SYST:ERR?", '+0,"No error"')``, or both of Siglent's
    ``CMR?``/``EXR?``)."""

    def __init__(self, driver: type, label: str, *drain: Exchange) -> None:
        self.driver = driver
        self.label = label
        self.drain = list(drain)
        self.name = driver.__module__.rsplit(".", 1)[-1]  # "keysight_33500": test ids

    def protocol(self, exchanges: Sequence[Exchange]) -> AbstractContextManager[Any]:
        """:func:`expected_protocol` for this driver and label."""
        return expected_protocol(self.driver, exchanges, label=self.label)

    def ok(self, *commands: str) -> list[Exchange]:
        """Commands written as one checked step: each write, then the error check that finds nothing."""
        return [(c, None) for c in commands] + self.drain

    def case(self, name: str, *values: Any) -> Any:
        """A ``pytest.param`` of ``(family, *values)`` with the id ``<driver module>-<name>``."""
        return pytest.param(self, *values, id=f"{self.name}-{name.replace(' ', '_')}")


class FakeClock:
    """Time that advances only when the driver sleeps between polls."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    @classmethod
    def install(cls, inst: Any, interval_s: float | None = None) -> FakeClock:
        """Give a polling driver this clock and sleep (and ``interval_s`` between polls, if given)."""
        fake = cls()
        inst._clock, inst._sleep = fake.clock, fake.sleep
        if interval_s is not None:
            inst.poll_interval_s = interval_s
        return fake
