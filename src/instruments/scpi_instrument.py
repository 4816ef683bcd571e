"""SCPI over a pyvisa resource: the plumbing every driver shares.

:class:`ScpiInstrument` wraps one open pyvisa resource (or anything with the same ``write``/``query``/
``read``/``query_binary_values`` methods, such as the protocol-test playback in ``tests/protocol.py``). It turns VISA
failures into diffbench errors that name the instrument and the command, and checks every setting:
:meth:`ScpiInstrument.set` writes a command and then drains the error queue (IEEE 488.2 / SCPI-99 ``SYSTem:ERRor?``,
docs/reference/scpi.md §1.2), raising :class:`~instruments.errors.InstrumentError` with the instrument's own text.
Families with another error mechanism override :meth:`read_error`. The read-backs that follow a write where a family
keeps values silently are the table engine's (:mod:`instruments.setting_table`).

Every exchange goes to the SCPI transcript (:mod:`instruments.scpi_transcript`: sent, received, failed; a binary
block by its length only), at the cost of one level check when nobody listens.

pyvisa is imported lazily (only to recognise its exception types), so ``import instruments`` stays light.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from . import scpi_transcript as transcript
from .errors import InstrumentConnectionError, InstrumentError, InstrumentTimeout
from .stop_point import stop_point

if TYPE_CHECKING:  # numpy is imported where a block is read, so that importing a driver stays light
    import numpy as np

T = TypeVar("T")

MAX_ERROR_READS = 20  # docs/reference/scpi.md §1.2: cap the drain loop
MAX_BLOCK_PREFIX = 64  # bytes a reply may hold before its block's '#' (a header such as ":CURVE ")
_ERROR_REPLY = re.compile(r'^\s*([+-]?\d+)\s*,\s*"?(.*?)"?\s*$', re.S)


def _visa_io_failure(instrument: str, command: str, exc: Exception) -> InstrumentError | None:
    """The diffbench error for a pyvisa ``VisaIOError`` (timeout, lost connection, other); None for any other."""
    try:
        from pyvisa import constants
        from pyvisa import errors as visa_errors
    except ImportError:  # pragma: no cover - pyvisa is a hard dependency
        return None
    if not isinstance(exc, visa_errors.VisaIOError):
        return None
    text = str(exc)
    if exc.error_code == constants.StatusCode.error_timeout:
        return InstrumentTimeout(instrument, "no answer within the VISA timeout", command)
    status = constants.StatusCode
    if exc.error_code in (status.error_connection_lost, status.error_resource_not_found, status.error_io):
        return InstrumentConnectionError(instrument, f"connection lost ({text})", command)
    return InstrumentError(instrument, f"VISA error {text}", command)


def _visa_failure(instrument: str, command: str, exc: Exception) -> InstrumentError:
    """Map a transport exception to the diffbench error a user should see."""
    visa = _visa_io_failure(instrument, command, exc)
    if visa is not None:
        return visa
    text = str(exc)
    if isinstance(exc, (ConnectionError, BrokenPipeError, EOFError)):
        return InstrumentConnectionError(instrument, f"connection lost ({exc.__class__.__name__}: {text})", command)
    if isinstance(exc, TimeoutError):
        return InstrumentTimeout(instrument, "no answer within the VISA timeout", command)
    return InstrumentError(instrument, f"{exc.__class__.__name__}: {text}", command)


class ScpiInstrument:
    """One SCPI instrument on an open pyvisa resource.

    ``label`` names the instrument in every error (for example ``"generator Keysight 33522B at
    TCPIP0::10.0.0.5::5025::SOCKET"``). Use as a context manager: on exit :meth:`safe_state` runs, then
    the resource is closed, however the block ends.
    """

    #: query that returns the oldest error as ``<code>,"<text>"``; ``None`` if the family has no queue
    error_query: str | None = "SYSTem:ERRor?"

    #: whether the family answers several queries sent as one program message (``A?;B?`` answered ``a;b``,
    #: IEEE 488.2 §6.4 / §8.4 response message units); :meth:`query_all` then takes one round trip
    compound_queries: bool = False
    #: longest program message :meth:`query_all` builds, characters (our assumption: instruments parse their
    #: input as it arrives; a family that documents a smaller input buffer lowers it)
    compound_max_chars: int = 1000

    #: the ``*IDN?`` reply the instrument gave when it was opened (set by ``open_bench``); lets
    #: :meth:`resync` recognise the end of stale reply bytes
    identity: str | None = None

    def __init__(self, resource: Any, label: str | None = None) -> None:
        self.resource = resource
        self.label = label or f"{type(self).__name__} at {getattr(resource, 'resource_name', '?')}"
        self._stale = False  # an exchange was cut short: unread reply bytes may still be on their way
        #: the open checked step's commands (``(command, is_a_setting)``), None outside one (:meth:`checked_step`)
        self._step: list[tuple[str, bool]] | None = None

    # -- transport -------------------------------------------------------------------------------
    def _call(self, command: str, fn: Callable[[], T], direction: transcript.Direction = "write") -> T:
        """Run one exchange ``fn`` that sends ``command``: ``direction`` ``"write"`` (no reply) or ``"query"`` (its
        result is the reply), both reported to the SCPI transcript; a transport failure becomes a diffbench error."""
        stop_point()  # a run in a thread that was told to stop stops here (instruments.stop_point)
        if self._stale:
            self.resync()
        transcript.report(self.label, direction, command)
        try:
            result = fn()
        except AssertionError:
            raise  # a protocol test's playback mismatch must not pass for an instrument error
        except InstrumentError as exc:
            transcript.failed(self.label, command, exc)
            raise
        except Exception as exc:  # pyvisa raises many types; each becomes one clear line
            self._stale = True
            failure = _visa_failure(self.label, command, exc)
            transcript.failed(self.label, command, failure)
            raise failure from exc
        except BaseException as exc:  # Ctrl-C or a stop signal in the middle of a reply (a binary block, say)
            self._stale = True
            transcript.failed(self.label, command, exc)
            raise
        if direction == "query":
            transcript.reply(self.label, result)
        return result

    def resync(self) -> None:
        """Get the session back in step after an exchange was cut short (a signal or a timeout mid-reply).

        First a device clear (VISA ``viClear``: the IEEE 488.2 device clear on USBTMC, VXI-11 and HiSLIP; a raw
        ``::SOCKET`` has none). Bytes of the cut reply may still be in flight, so when the instrument's
        identity is known it then asks ``*IDN?`` and discards whatever comes before that identity. Raises
        :class:`InstrumentConnectionError` if the identity does not come back within a few VISA timeouts; the
        session is then unusable and should be closed.
        """
        self._stale = False
        res = self.resource
        if res is None:
            return
        # pyvisa-py's "clear" of a raw socket drains it until 0.1 s of silence, and never returns when the
        # peer has closed it; a socket needs no device clear anyway: the identity read below drains it.
        socket = str(getattr(res, "resource_name", "")).upper().endswith("::SOCKET")
        clear = None if socket else getattr(res, "clear", None)
        if clear is not None:
            transcript.report(self.label, "clear", "")
            try:
                clear()
            except Exception:  # not every session type supports viClear; the identity check below still runs
                pass
        if not self.identity:
            return
        import time

        timeout_s = float(getattr(res, "timeout", None) or 2000.0) / 1000.0
        deadline = time.monotonic() + 3.0 * timeout_s
        want = self.identity.strip().encode("ascii", "replace")
        try:
            transcript.report(self.label, "query", "*IDN?")
            res.write("*IDN?")
            while time.monotonic() < deadline:
                got = bytes(res.read_raw())
                transcript.reply(self.label, got.decode("latin-1").rstrip("\r\n") if len(got) <= 256 else got)
                if got.strip() == want:
                    return
        except Exception as exc:
            self._stale = True
            raise InstrumentConnectionError(self.label, f"could not get back in step after an interrupted "
                                            f"exchange ({type(exc).__name__}: {exc})", "*IDN?") from exc
        self._stale = True
        raise InstrumentConnectionError(self.label, "could not get back in step after an interrupted exchange "
                                        "(its identity did not come back)", "*IDN?")

    def write(self, command: str) -> None:
        """Send one command without checking the error queue (prefer :meth:`set`)."""
        self._call(command, lambda: self.resource.write(command), "write")

    def query(self, command: str) -> str:
        """Send a query and return the reply without its terminator."""
        return str(self._call(command, lambda: self.resource.query(command), "query")).strip()

    def query_as(self, command: str, parse: Callable[[str], T], expected: str) -> T:
        """Query and ``parse`` the reply; a reply ``parse`` rejects with :class:`ValueError` raises
        :class:`InstrumentError` saying what was ``expected`` ("a number") and what came."""
        reply = self.query(command)
        try:
            return parse(reply)
        except ValueError:
            raise InstrumentError(self.label, f"expected {expected}, got {reply!r}", command) from None

    def query_float(self, command: str) -> float:
        """Query a number; a reply that is not one raises :class:`InstrumentError`."""
        return self.query_as(command, float, "a number")

    def query_bool(self, command: str, *, expected: str = "0 or 1") -> bool:
        """Query a boolean (``1``/``0``/``ON``/``OFF``, :func:`parse_bool`); any other reply raises
        :class:`InstrumentError` saying the family's ``expected`` replies."""
        return self.query_as(command, parse_bool, expected)

    def query_binary(self, command: str, datatype: str, *, is_big_endian: bool = False,
                     header_fmt: str = "ieee", expect_termination: bool = True,
                     chunk_size: int | None = None, timeout_s: float | None = None) -> np.ndarray:
        """Query an IEEE 488.2 definite-length block with pyvisa's reader; returns a numpy array.

        ``datatype`` is a struct code (``'B'`` uint8, ``'b'`` int8, ``'H'``/``'h'`` 16-bit). ``timeout_s``:
        the VISA timeout this transfer needs (:func:`instruments.timing.transfer_timeout_s` of the block's
        size), in force for this query only and never below the session's own timeout
        (:meth:`visa_timeout_at_least`).
        """
        import numpy as np

        res = self.resource
        if header_fmt == "ieee" and hasattr(res, "read_bytes") and hasattr(res, "set_visa_attribute"):
            with self.visa_timeout_at_least(timeout_s):
                return self._call(command, lambda: self._block_without_termination(
                    command, datatype, is_big_endian, expect_termination, chunk_size), "query")

        def run() -> np.ndarray:
            kwargs: dict[str, Any] = dict(datatype=datatype, is_big_endian=is_big_endian, container=np.array,
                                          header_fmt=header_fmt, expect_termination=expect_termination)
            if chunk_size is not None:
                kwargs["chunk_size"] = chunk_size
            block: np.ndarray = self.resource.query_binary_values(command, **kwargs)
            return block

        with self.visa_timeout_at_least(timeout_s):
            return self._call(command, run, "query")

    def _block_without_termination(self, command: str, datatype: str, is_big_endian: bool, expect_termination: bool,
                                   chunk_size: int | None) -> np.ndarray:
        """Send ``command`` and read its IEEE 488.2 definite-length block (``#<n><length><data>``) by byte count,
        with the session's termination character off: a code equal to it (``\\n`` is 10) does not end a read,
        so a block is read in ``chunk_size`` pieces whatever its codes (pyvisa's ``read_bytes``); the terminator
        after the block is read with it when ``expect_termination``."""
        import numpy as np
        from pyvisa import constants

        res = self.resource
        res.write(command)
        termchar = constants.ResourceAttribute.termchar_enabled
        was = res.get_visa_attribute(termchar)
        res.set_visa_attribute(termchar, constants.VI_FALSE)
        try:
            before = b""  # what a family with headers on puts before the block (":CURVE "), as pyvisa allows
            while (first := bytes(res.read_bytes(1))) != b"#":
                before += first
                if first == b"\n" or len(before) > MAX_BLOCK_PREFIX:  # a text reply, or no block in sight
                    raise InstrumentError(self.label, f"expected a definite-length block, got {before!r}",
                                          command)
            head = first + bytes(res.read_bytes(1))
            if not head[1:2].isdigit() or head[1:2] == b"0":
                raise InstrumentError(self.label, f"expected a definite-length block, got {head!r}", command)
            digits = bytes(res.read_bytes(int(head[1:2])))
            if not digits.isdigit():
                raise InstrumentError(self.label, f"unreadable block length {digits!r}", command)
            length = int(digits)
            tail = len(res.read_termination or "") if expect_termination else 0
            body = res.read_bytes(length + tail, chunk_size=chunk_size or res.chunk_size)
        finally:
            res.set_visa_attribute(termchar, was)
        return np.frombuffer(bytes(body[:length]), (">" if is_big_endian else "<") + datatype)

    @contextmanager
    def visa_timeout_at_least(self, seconds: float | None) -> Iterator[None]:
        """Within the block, the VISA timeout is at least ``seconds`` (None: unchanged).

        The session's own timeout (the bench config's ``timeout_ms``) stays the floor: it is raised, never
        lowered, and an infinite one (None) is left alone. It is put back however the block ends.
        """
        res = self.resource
        previous = getattr(res, "timeout", None) if res is not None else None
        raised = False
        if seconds is not None and previous is not None and seconds * 1000.0 > previous:
            res.timeout = seconds * 1000.0
            raised = True
        try:
            yield
        finally:
            if raised and self.resource is not None:
                self.resource.timeout = previous

    def query_all(self, queries: Sequence[str]) -> list[str]:
        """Ask every query of ``queries`` and return the replies in order.

        Where the family answers compound queries (:attr:`compound_queries`), they travel as few program
        messages as :attr:`compound_max_chars` allows, the replies split at the ``;`` between response message
        units (outside quoted strings); a reply with the wrong number of units raises :class:`InstrumentError`.
        Otherwise one query each.
        """
        if not self.compound_queries:
            return [self.query(q) for q in queries]
        replies: list[str] = []
        # after a ';' a header without a leading ':' continues the previous one's path (IEEE 488.2 §7.6.1.5):
        # each query is sent from the root
        rooted = [q if q.startswith((":", "*")) else f":{q}" for q in queries]
        for group in _groups(rooted, self.compound_max_chars):
            first = queries[len(replies)]  # a message's first query is sent as given
            message = ";".join([first, *group[1:]])
            units = split_units(self.query(message)) if len(group) > 1 else [self.query(message)]
            if len(units) != len(group):
                raise InstrumentError(self.label, f"{len(group)} queries answered with {len(units)} replies",
                                      message)
            replies.extend(u.strip() for u in units)
        return replies

    # -- checked settings ------------------------------------------------------------------------
    def read_error(self) -> tuple[int, str]:
        """Read the oldest entry of the error queue as ``(code, text)``; code 0 means empty."""
        assert self.error_query is not None
        reply = self.query(self.error_query)
        m = _ERROR_REPLY.match(reply)
        if not m:
            raise InstrumentError(self.label, f"unreadable error-queue reply {reply!r}", self.error_query)
        return int(m.group(1)), m.group(2).strip()

    def drain_errors(self) -> list[tuple[int, str]]:
        """Read the error queue until it is empty (at most :data:`MAX_ERROR_READS` entries)."""
        if self.error_query is None:
            return []
        errors = []
        for _ in range(MAX_ERROR_READS):
            code, text = self.read_error()
            if code == 0:
                break
            errors.append((code, text))
        return errors

    def check_errors(self, command: str) -> None:
        """Raise :class:`InstrumentError` with the instrument's text if the error queue is not empty.

        Inside a :meth:`checked_step` the queue is read once, when the step ends, and ``command`` is among the
        ones an error there may be blamed on."""
        if self._step is not None:
            self._step.append((command, False))
            return
        errors = self.drain_errors()
        if errors:
            raise InstrumentError(self.label, f"instrument reported {_errors_text(errors)}", command)

    def set(self, *commands: str) -> None:
        """Write each command, then drain the error queue once and raise on any error (inside a
        :meth:`checked_step`, once at the end of the step)."""
        for command in commands:
            self.write(command)
        if self._step is not None:
            self._step.extend((command, True) for command in commands)
            return
        self.check_errors("; ".join(commands))

    @contextmanager
    def checked_step(self, *, locate: bool = True) -> Iterator[None]:
        """One configuration step or acquisition with one read of the error queue, at its end.

        Inside the block :meth:`set` and :meth:`check_errors` only note their commands; when the block ends
        the queue is drained once. If it held an error, the step's settings are sent again one at a time, each
        followed by an error-queue read, until one reports an error: that command is named in the
        :class:`InstrumentError`, as the per-setting check would have named it (a setting is a state: sending it
        again changes nothing but what the queue says). If none does (an error of a command that is not a
        setting, such as an acquisition), the error names every command of the step. A step inside a step is
        part of the outer one. When the block raises, the queue is drained so that no error of the cut step is
        blamed on a later command (not after a timeout or a lost link, which a drain would only hide).

        ``locate=False``: an error names every command of the step, without sending the settings again (for a
        caller that expects refusals and finds the refused setting its own way).
        """
        if self._step is not None:
            yield
            return
        self._step = []
        try:
            yield
        except (InstrumentTimeout, InstrumentConnectionError):
            self._step = None
            self._forget_settings()
            raise
        except BaseException:
            sent, self._step = self._step, None
            self._forget_settings()
            if sent and self.resource is not None:
                try:
                    self.drain_errors()
                except InstrumentError:
                    pass
            raise
        sent, self._step = self._step, None
        if sent:
            try:
                self._end_step(sent if locate else [(command, False) for command, _ in sent])
            except InstrumentError:
                self._forget_settings()
                raise

    def forget_settings(self) -> None:
        """Forget every setting this driver remembers having sent or read (after an operator may have used the
        front panel, say): what it needs is asked or sent again."""
        self._forget_settings()

    def _forget_settings(self) -> None:
        """After a step that failed, or :meth:`forget_settings`: forget whatever the driver remembers of
        settings (a driver that caches settings overrides this), since the instrument may have refused or
        changed some of them."""

    def _end_step(self, sent: list[tuple[str, bool]]) -> None:
        """Read the queue once for a finished step; on an error, find the setting it is about (:meth:`checked_step`)."""
        errors = self.drain_errors()
        if not errors:
            return
        for command, is_setting in sent:
            if not is_setting:
                continue
            self.write(command)
            again = self.drain_errors()
            if again:
                raise InstrumentError(self.label, f"instrument reported {_errors_text(again)}", command)
        raise InstrumentError(self.label, f"instrument reported {_errors_text(errors)}",
                              "; ".join(command for command, _ in sent))

    # -- identity and lifecycle ------------------------------------------------------------------
    def idn(self) -> str:
        """``*IDN?``: ``maker,model,serial,firmware``."""
        return self.query("*IDN?")

    def clear(self) -> None:
        """``*CLS``: clear status and the error queue (so old front-panel errors are not blamed on us)."""
        self.write("*CLS")

    def wait_complete(self) -> None:
        """``*OPC?``: block until pending operations finish."""
        self.query("*OPC?")

    def safe_state(self) -> None:
        """Put the instrument in its safe state; drivers override (generator: outputs off)."""

    def close(self) -> None:
        """Close the VISA resource (idempotent)."""
        res, self.resource = self.resource, None
        if res is not None:
            try:
                res.close()
            except Exception:
                pass

    def __enter__(self: ScpiInstrument) -> ScpiInstrument:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.resource is not None:
                self.safe_state()
        finally:
            self.close()


def _errors_text(errors: Sequence[tuple[int, str]]) -> str:
    """Error-queue entries as the instrument wrote them: ``-222,"Data out of range"; ...``."""
    return "; ".join(f"{code},\"{text}\"" for code, text in errors)


def _groups(queries: Sequence[str], max_chars: int) -> Iterator[list[str]]:
    """``queries`` in runs whose ``;``-joined text stays within ``max_chars`` (a longer query goes alone)."""
    group: list[str] = []
    length = 0
    for q in queries:
        if group and length + 1 + len(q) > max_chars:
            yield group
            group, length = [], 0
        length += len(q) + (1 if group else 0)
        group.append(q)
    if group:
        yield group


def split_units(reply: str) -> list[str]:
    """A compound reply's response message units: split at ``;`` outside double-quoted strings."""
    units, start, quoted = [], 0, False
    for i, c in enumerate(reply):
        if c == '"':
            quoted = not quoted
        elif c == ";" and not quoted:
            units.append(reply[start:i])
            start = i + 1
    units.append(reply[start:])
    return units


def parse_bool(reply: str) -> bool:
    """Parse an instrument's boolean reply (``1``/``0``/``ON``/``OFF``)."""
    r = reply.strip().upper()
    if r in ("1", "ON", "TRUE"):
        return True
    if r in ("0", "OFF", "FALSE"):
        return False
    raise ValueError(f"not a boolean reply: {reply!r}")


def first_match(options: Sequence[str], text: str) -> str | None:
    """The first of ``options`` contained in ``text`` (case-insensitive), for *IDN? model matching."""
    t = text.upper()
    for o in options:
        if o.upper() in t:
            return o
    return None
