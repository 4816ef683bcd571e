"""The SCPI core every simulated instrument shares: dispatch, error queue, status bytes, common commands.

One :class:`ScpiDevice` is one instrument. Several clients may be connected at once (as on a real LAN
instrument); they share the instrument's state and its single error queue, and each program message runs
under the instrument's lock, so one client's line is never interleaved with another's.

Facts used (docs/reference/scpi.md §1.1, §1.2):

* ``*IDN?``, ``*RST``, ``*CLS`` (clears status and the error queue), ``*OPC``/``*OPC?``, ``*WAI``,
  ``*ESR?`` (read clears), ``*ESE``, ``*SRE``, ``*STB?``, ``*TST?``; ``SYSTem:ERRor[:NEXT]?`` answers
  ``<code>,"<text>"``, code 0 when empty: ``+0,"No error"`` (Keysight) or ``0,"No error"`` (Rigol).
* Standard event status register bits (IEEE 488.2 §11.5.1): OPC 0, QYE 2, DDE 3, EXE 4, CME 5; a -1xx
  error sets CME, -2xx EXE, -3xx DDE, -4xx QYE. Status byte: EAV (error queue not empty) bit 2, ESB bit 5,
  MSS bit 6.
* A full error queue replaces its newest entry with -350 "Queue overflow" (SCPI-99 21.8.1).
* After a command error (-1xx) the rest of the program message is discarded (IEEE 488.2 §6.1.6.1);
  after an execution error the next unit still runs. A parameter that makes a command's arithmetic fail
  (an ``OverflowError`` on a huge but finite value, a ``ValueError`` of a math domain error or a failed
  conversion) is -222 "Data out of range" / -224 "Illegal parameter value", as an instrument would
  answer. Any other
  failure inside the simulation (a bug, or a board that does not converge) is queued as -200 "Execution
  error" and logged as one line without a traceback, once per kind of failure and header (a client that
  repeats it cannot flood the log; the repeats go to the debug level).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from .scpi_parser import (
    STANDARD_ERRORS,
    CommandTable,
    Params,
    Reply,
    ScpiError,
    Suffixes,
    expect_params,
    parse_choice,
    parse_integer,
    parse_number,
    parse_unit,
    split_units,
)

log = logging.getLogger(__name__)
#: distinct (failure, header) pairs logged at warning level per device; later ones go to debug
MAX_WARNED_FAILURES = 32
# ValueError texts that a bad parameter value causes in a handler's arithmetic or conversions (mapped to -224)
_PARAMETER_VALUE_ERRORS = ("math domain error", "could not convert", "invalid literal", "cannot convert float")

ESR_OPC, ESR_QYE, ESR_DDE, ESR_EXE, ESR_CME = 1, 4, 8, 16, 32


class ConnectionClosed(Exception):
    """The client went away while the instrument was waiting (for example for a trigger)."""


class Session(Protocol):
    """What a command handler may ask of the connection it serves."""

    def alive(self) -> bool:
        """False once the client has closed its end."""
        ...


@dataclass(frozen=True)
class Dialect:
    """Per-family formatting of the replies the SCPI core produces itself.

    ``signed_integers``: Keysight answers integers with an explicit sign (``+0``), Rigol without.
    ``error_texts``: texts that differ from SCPI-99 (Rigol: ``-113,"Undefined header; keyword cannot be
    found"``, docs/reference/scpi.md §3.2). ``queue_size``: error-queue depth.
    """

    idn: str
    signed_integers: bool
    error_texts: dict[int, str] = field(default_factory=dict)
    queue_size: int = 20
    compound_messages: bool = True

    def integer(self, n: int) -> str:
        """NR1 reply: ``+5`` or ``5``."""
        return f"{n:+d}" if self.signed_integers else f"{n:d}"

    def error_reply(self, code: int, text: str) -> str:
        """``<code>,"<text>"`` with the family's sign convention for the code."""
        return f'{self.integer(code)},"{text}"'


class Context:
    """What a handler receives: the device (for state and errors) and the calling session."""

    def __init__(self, device: ScpiDevice, session: Session | None) -> None:
        self.device = device
        self.session = session

    def sleep_unlocked(self, seconds: float) -> None:
        """Wait without holding the instrument lock (other clients keep being served).

        Raises :class:`ConnectionClosed` if the calling client has gone, so a handler blocked on a
        trigger that never comes ends with its client.
        """
        lock = self.device.lock
        lock.release()
        try:
            time.sleep(seconds)
        finally:
            lock.acquire()
        if self.session is not None and not self.session.alive():
            raise ConnectionClosed()


class ScpiDevice:
    """An SCPI instrument: a dialect, a command table, an error queue and the IEEE 488.2 status bytes.

    Subclasses (one per simulated family) add their commands to ``self.table`` and implement
    :meth:`reset` (``*RST``). :meth:`execute` runs one program message (one line) and returns the bytes
    to send back (empty if the message held no query).
    """

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.table: CommandTable[Context] = CommandTable()
        self.lock = threading.Lock()
        self._errors: deque[tuple[int, str]] = deque()
        self.esr = 0
        self.ese = 0
        self.sre = 0
        self._warned: set[tuple[str, str]] = set()
        self._add_common_commands()

    # -- error queue -----------------------------------------------------------------------------
    def push_error(self, code: int, detail: str = "", *, logged: bool = False) -> None:
        """Queue an error (SCPI-99 overflow rule) and set the matching event status bit. ``detail`` goes to the
        debug log as one line, unless the caller ``logged`` it already."""
        if detail and not logged:
            log.debug("%s: error %d (%s)", self.dialect.idn.split(",")[1], code, " ".join(detail.split())[:200])
        if -199 <= code <= -100:
            self.esr |= ESR_CME
        elif -299 <= code <= -200:
            self.esr |= ESR_EXE
        elif -499 <= code <= -400:
            self.esr |= ESR_QYE
        else:
            self.esr |= ESR_DDE
        text = self.dialect.error_texts.get(code, STANDARD_ERRORS.get(code, "Error"))
        if len(self._errors) >= self.dialect.queue_size:
            self._errors[-1] = (-350, self.dialect.error_texts.get(-350, STANDARD_ERRORS[-350]))
        else:
            self._errors.append((code, text))

    def pop_error(self) -> tuple[int, str]:
        """Oldest error, or ``(0, "No error")``."""
        if self._errors:
            return self._errors.popleft()
        return 0, STANDARD_ERRORS[0]

    def errors(self) -> list[tuple[int, str]]:
        """A copy of the queue, oldest first (for tests; does not clear it)."""
        with self.lock:
            return list(self._errors)

    # -- execution -------------------------------------------------------------------------------
    def execute(self, raw: bytes, session: Session | None = None) -> bytes:
        """Run one program message (without its LF); return the reply bytes (may be empty)."""
        # latin-1 maps every byte to one character, so non-UTF-8 garbage becomes -101/-102/-113, not a crash
        line = raw.decode("latin-1").rstrip("\r")
        replies: list[bytes] = []
        with self.lock:
            ctx = Context(self, session)
            try:
                units = split_units(line) if self.dialect.compound_messages else [line]
            except ScpiError as exc:
                self.push_error(exc.code, exc.detail)
                return b""
            path: list[str] = []
            for text in units:
                if not text.strip():
                    continue
                try:
                    reply, path = self._dispatch(ctx, text, path)
                except ScpiError as exc:
                    self.push_error(exc.code, exc.detail)
                    if exc.is_command_error:
                        break
                    continue
                except ConnectionClosed:
                    raise
                except Exception as exc:  # a failure of the simulation itself must not take the server down
                    self._log_failure(text, exc)
                    self.push_error(-200, f"simulator: {exc.__class__.__name__}: {exc}", logged=True)
                    continue
                if reply is not None:
                    replies.append(reply if isinstance(reply, bytes) else reply.encode("ascii", "replace"))
        if not replies:
            return b""
        out = b";".join(replies)
        return out if out.endswith(b"\n") else out + b"\n"

    def _log_failure(self, text: str, exc: Exception) -> None:
        """One log line for a failure of the simulation (no traceback): a warning the first time for each
        kind of failure and header, debug afterwards, so a client repeating a bad line cannot flood the log."""
        header = text.strip().split(None, 1)[0][:40] if text.strip() else ""
        key = (type(exc).__name__, header.upper())
        first = key not in self._warned and len(self._warned) < MAX_WARNED_FAILURES
        if first:
            self._warned.add(key)
        detail = " ".join(str(exc).split())[:200]
        log.log(logging.WARNING if first else logging.DEBUG, "%s: %r failed in the simulator (%s: %s); queued -200",
                self.dialect.idn.split(",")[1] if "," in self.dialect.idn else self.dialect.idn, text[:80],
                type(exc).__name__, detail)

    def _dispatch(self, ctx: Context, text: str, path: list[str]) -> tuple[str | bytes | None, list[str]]:
        unit = parse_unit(text)
        header = unit.header
        is_query = header.endswith("?")
        bare = header[:-1] if is_query else header
        if bare.startswith("*"):
            tokens = [bare.upper()]
            candidates = [tokens]
        else:
            absolute = bare.startswith(":")
            tokens = bare.lstrip(":").upper().split(":")
            candidates = [tokens] if absolute or not path else [path + tokens, tokens]
        for cand in candidates:
            found = self.table.lookup(cand, is_query)
            if found is not None:
                cmd, suffixes = found
                try:
                    reply = cmd.handler(ctx, suffixes, unit.params)
                except (OverflowError, FloatingPointError, ZeroDivisionError) as exc:
                    if not unit.params:
                        raise
                    # arithmetic on a parameter blew up (10**(1e308/20) for a dBm level, ...): out of range
                    raise ScpiError(-222, f"{header}: {exc}") from None
                except ValueError as exc:  # a math domain error or a conversion a parameter made impossible
                    if not unit.params or not str(exc).startswith(_PARAMETER_VALUE_ERRORS):
                        raise  # a bug of the simulator: -200, logged
                    raise ScpiError(-224, f"{header}: {exc}") from None
                new_path = path if bare.startswith("*") else cand[:-1]
                return reply, new_path
        raise ScpiError(-113, header)

    def register(self, rows: Iterable[CommandRow]) -> None:
        """Add a family's command table, row by row (the order is the lookup order)."""
        for row in rows:
            self.table.add(row.pattern, row.command, row.query)

    # -- IEEE 488.2 common commands --------------------------------------------------------------
    def reset(self) -> None:
        """``*RST``: the family's factory state. Subclasses override."""

    def status_byte(self) -> int:
        """IEEE 488.2 status byte: EAV bit 2, ESB bit 5, MSS bit 6."""
        stb = 0
        if self._errors:
            stb |= 4
        if self.esr & self.ese:
            stb |= 32
        if stb & self.sre & ~64:
            stb |= 64
        return stb

    def _add_common_commands(self) -> None:
        d = self.dialect
        t = self.table

        def no_params(fn: Callable[[], str | None]) -> Handler:
            def handler(ctx: Context, s: Suffixes, p: Params) -> str | None:
                expect_params(p, 0)
                return fn()
            return handler

        def int_setter(attr: str) -> Handler:
            def handler(ctx: Context, s: Suffixes, p: Params) -> None:
                expect_params(p, 1)
                setattr(self, attr, parse_integer(p[0], 0, 255))  # -104/-121/-222/-224 for bad values
            return handler

        def read_esr() -> str:
            value, self.esr = self.esr, 0
            return d.integer(value)

        def opc() -> None:
            self.esr |= ESR_OPC

        def cls() -> None:
            self._errors.clear()
            self.esr = 0

        def err() -> str:
            return d.error_reply(*self.pop_error())

        t.add("*IDN", query=no_params(lambda: d.idn))
        t.add("*RST", no_params(self.reset))
        t.add("*CLS", no_params(cls))
        t.add("*OPC", no_params(opc), query=no_params(lambda: "1"))
        t.add("*WAI", no_params(lambda: None))
        t.add("*ESR", query=no_params(read_esr))
        t.add("*ESE", int_setter("ese"), query=no_params(lambda: d.integer(self.ese)))
        t.add("*SRE", int_setter("sre"), query=no_params(lambda: d.integer(self.sre)))
        t.add("*STB", query=no_params(lambda: d.integer(self.status_byte())))
        t.add("*TST", query=no_params(lambda: d.integer(0)))
        t.add("SYSTem:ERRor[:NEXT]", query=no_params(err))


def definite_block(data: bytes, digits: int) -> bytes:
    """IEEE 488.2 definite-length block ``#<digits><length><data>`` followed by LF (docs/reference/scpi.md
    §1.3; Keysight InfiniiVision uses 8 length digits, Rigol 9)."""
    return b"#" + str(digits).encode() + str(len(data)).zfill(digits).encode() + data + b"\n"


# -- handler builders: most commands take one parameter, most queries none ------------------------------
Handler = Callable[[Context, Suffixes, Params], Reply]
"""A command or query handler: ``handler(ctx, suffixes, params) -> reply``."""


class CommandRow(NamedTuple):
    """One row of a family's command table: the header pattern, its command handler, its query handler."""

    pattern: str
    command: Handler | None = None
    query: Handler | None = None


def query_of(fn: Callable[[], str]) -> Handler:
    """A query without parameters answering ``fn()``."""

    def handler(ctx: Context, s: Suffixes, p: Params) -> str:
        expect_params(p, 0)
        return fn()

    return handler


def command_of(fn: Callable[[str], None]) -> Handler:
    """A command taking exactly one parameter, ``fn(param)``."""

    def handler(ctx: Context, s: Suffixes, p: Params) -> None:
        expect_params(p, 1)
        fn(p[0])

    return handler


def action_of(fn: Callable[[], object]) -> Handler:
    """A command without parameters, ``fn()``."""

    def handler(ctx: Context, s: Suffixes, p: Params) -> None:
        expect_params(p, 0)
        fn()

    return handler


def suffixed_query(channel: Callable[[int | None], int], fn: Callable[[int], str]) -> Handler:
    """A query without parameters on a suffixed node: ``fn(channel(suffix))``."""

    def handler(ctx: Context, s: Suffixes, p: Params) -> str:
        n = channel(s[0])
        expect_params(p, 0)
        return fn(n)

    return handler


def suffixed_command(channel: Callable[[int | None], int], fn: Callable[[int, str], None]) -> Handler:
    """A one-parameter command on a suffixed node: ``fn(channel(suffix), param)``."""

    def handler(ctx: Context, s: Suffixes, p: Params) -> None:
        n = channel(s[0])
        expect_params(p, 1)
        fn(n, p[0])

    return handler


# -- settings a simulated instrument keeps and answers without simulating them ----------------------------
OptionValue = str | float  # a stored option: a reply keyword ("1", "TRIG") or a number


class OptionStore:
    """Settings a family answers and keeps that do not shape what the simulator produces (a burst's cycle count
    while burst is off, a probe's skew, ...): one value per channel (0 for a global setting) and key. ``*RST``
    empties it; :meth:`snapshot`/:meth:`restore` carry it through a saved setup; row builders set the defaults."""

    def __init__(self) -> None:
        self.defaults: dict[str, OptionValue] = {}
        self.values: dict[tuple[int, str], OptionValue] = {}

    def reset(self) -> None:
        """``*RST``: every option back to its default."""
        self.values.clear()

    def declare(self, key: str, default: OptionValue) -> None:
        """Register a key that a family's own handlers serve (the row builders register theirs)."""
        self.defaults[key] = default

    def get(self, n: int, key: str) -> OptionValue:
        """The value of ``key`` for channel ``n`` (0 for a global setting)."""
        return self.values.get((n, key), self.defaults[key])

    def set(self, n: int, key: str, value: OptionValue) -> None:
        """Store ``value`` for ``key`` on channel ``n``."""
        self.values[(n, key)] = value

    def snapshot(self) -> list[list[object]]:
        """The values that differ from their defaults, as a JSON-friendly list of ``[channel, key, value]``."""
        return [[n, key, value] for (n, key), value in sorted(self.values.items())]

    def restore(self, saved: Iterable[Sequence[object]]) -> None:
        """Replace the values by a :meth:`snapshot`; entries naming an unknown key are ignored."""
        self.values.clear()
        for n, key, value in saved:
            if isinstance(n, int) and isinstance(key, str) and key in self.defaults and not isinstance(value, bool):
                if isinstance(value, str | int | float):
                    self.values[(n, key)] = value if isinstance(value, str) else float(value)

    def choice_row(self, pattern: str, key: str, replies: Mapping[str, str], default: str, *,
                   channel: Callable[[int | None], int] | None = None, refused: Iterable[str] = (),
                   refusal: str = "") -> CommandRow:
        """A keyword setting: ``replies`` maps each accepted ``UPPERlower`` spelling to the reply it stores and
        answers; a spelling whose reply is in ``refused`` is a settings conflict (-221, ``refusal`` says why)
        and leaves the value as it was; anything else is -224. ``channel`` turns the header's suffix into the
        channel (None: a global setting, whose suffix, if any, is checked by nothing)."""
        self.defaults[key] = default
        spellings = tuple(replies)
        by_long = {spec.upper(): reply for spec, reply in replies.items()}
        blocked = frozenset(refused)

        def command(ctx: Context, s: Suffixes, p: Params) -> None:
            n = _option_channel(channel, s, p, 1, 1)
            reply = by_long[parse_choice(p[0], spellings)]
            if reply in blocked:
                raise ScpiError(-221, refusal or f"{pattern} {reply} is not simulated")
            self.set(n, key, reply)

        def query(ctx: Context, s: Suffixes, p: Params) -> str:
            return str(self.get(_option_channel(channel, s, p, 0, 0), key))

        return CommandRow(pattern, command, query)

    def number_row(self, pattern: str, key: str, default: float, bounds: tuple[float, float],
                   clamp: Callable[[float, float, float], float], fmt: Callable[[float], str], *,
                   channel: Callable[[int | None], int] | None = None, units: Sequence[str] = (),
                   infinity: float | None = None) -> CommandRow:
        """A numeric setting in ``bounds`` with ``MIN``/``MAX``/``DEF`` (and ``INFinity`` when ``infinity`` is
        given, stored as that value): ``clamp(value, lo, hi)`` applies the family's out-of-range policy (an
        error and the bound, or the bound silently). The query takes an optional ``MIN``/``MAX``/``DEF``."""
        self.defaults[key] = default
        lo, hi = bounds
        keywords = ("MIN", "MAX", "DEF") + (("INF",) if infinity is not None else ())
        named = {"MIN": lo, "MAX": hi, "DEF": default, "INF": infinity if infinity is not None else hi}

        def command(ctx: Context, s: Suffixes, p: Params) -> None:
            n = _option_channel(channel, s, p, 1, 1)
            value = parse_number(p[0], units=units, keywords=keywords)
            self.set(n, key, named[value] if isinstance(value, str) else clamp(value, lo, hi))

        def query(ctx: Context, s: Suffixes, p: Params) -> str:
            n = _option_channel(channel, s, p, 0, 1)
            if p:
                kw = parse_number(p[0], keywords=("MIN", "MAX", "DEF"))
                if not isinstance(kw, str):
                    raise ScpiError(-224, p[0][:20])
                return fmt(named[kw])
            return fmt(float(self.get(n, key)))

        return CommandRow(pattern, command, query)


def _option_channel(channel: Callable[[int | None], int] | None, s: Suffixes, p: Params, lo: int, hi: int) -> int:
    """The channel an option row addresses (0: global) after checking its parameter count."""
    n = channel(s[0] if s else None) if channel is not None else 0
    expect_params(p, lo, hi)
    return n


def parse_block(params: Params) -> bytes:
    """An IEEE 488.2 §7.7.6 definite-length arbitrary block parameter (``#<n><length><data>``) -> its data; the
    commas the parser split at are put back. Not a block: -104; a malformed header or a length that does not match
    the data: -161 (Invalid block data, SCPI-99 21.8.6; the dialect supplies the text)."""
    text = ",".join(params)
    if not text.startswith("#"):
        raise ScpiError(-104, "a block (#<n><length><data>) is expected")
    if len(text) < 2 or not text[1].isdigit() or text[1] == "0":
        raise ScpiError(-161, "only definite-length blocks are accepted")
    digits = int(text[1])
    length_text, data = text[2:2 + digits], text[2 + digits:]
    if len(length_text) != digits or not length_text.isdigit() or len(data) != int(length_text):
        raise ScpiError(-161, f"block length field {length_text!r}, {len(data)} bytes came")
    return data.encode("latin-1")
