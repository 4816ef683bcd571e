"""SCPI program-message parsing for the simulated instruments: headers, paths, parameters, numbers.

What is parsed, and where the rules come from (docs/reference/scpi.md "Notation" and §1):

* A line (one program message, LF-terminated) holds message units separated by ``;``. A unit is a header,
  optionally followed by whitespace and comma-separated parameters. Quoted strings may contain ``;`` and
  ``,``.
* Mnemonics are case-insensitive; each node is accepted in its short form (the upper-case part of the
  ``UPPERlower`` spelling) or its long form, nothing in between. Nodes written ``[...]`` are optional.
  A node written with ``#`` (``CHANnel#``) takes a numeric suffix (``CHAN2``); no suffix means 1.
* IEEE 488.2 compound headers: a header that does not start with ``:`` or ``*`` after a ``;`` is first
  looked up relative to the previous command's path (``SOUR1:FREQ 1000;VOLT 1``), then from the root --
  the lenient reading that lets ``OUTP1:LOAD INF;OUTP2:LOAD INF`` (docs/reference/scpi.md §3.1 example) work too.
* Numbers are NR1/NR2/NR3 with an optional unit suffix carrying an SI prefix (``1KHZ``, ``100mV``;
  ``M`` is milli, ``MA`` mega, and ``MHZ``/``MOHM`` mean mega by SCPI-99 convention), or the keywords
  ``MINimum``, ``MAXimum``, ``DEFault``, ``INFinity`` where a command accepts them. Only ASCII digits count.
  A number is always finite when it reaches a command: a well-formed one too large for a double (``1e999``,
  or ``1e308`` times a prefix) is -222 (Data out of range), as is an infinity where ``INFinity`` is not
  accepted (``-INF``); an exponent beyond +-32000 is -123 and a mantissa over 255 digits -124 (IEEE 488.2
  §7.7.2.4.1); ``NaN`` is -224 (Illegal parameter value); a malformed number (``1e``, ``.e5``, ``1.2.3``,
  ``0x1F``) is -121 (Invalid character in number); other text is -104 (Data type error).

Errors are raised as :class:`ScpiError` carrying the SCPI-99 code; the server puts them in the
instrument's error queue (docs/reference/scpi.md §1.2: -102, -113, -221, -222, ...).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

#: SCPI-99 / IEEE 488.2 standard error texts (docs/reference/scpi.md §1.2 names -102, -113, -221, -222).
STANDARD_ERRORS: dict[int, str] = {
    0: "No error",
    -100: "Command error",
    -101: "Invalid character",
    -102: "Syntax error",
    -104: "Data type error",
    -108: "Parameter not allowed",
    -109: "Missing parameter",
    -112: "Program mnemonic too long",
    -113: "Undefined header",
    -120: "Numeric data error",
    -121: "Invalid character in number",
    -123: "Exponent too large",
    -124: "Too many digits",
    -131: "Invalid suffix",
    -138: "Suffix not allowed",
    -141: "Invalid character data",
    -151: "Invalid string data",
    -200: "Execution error",
    -221: "Settings conflict",
    -222: "Data out of range",
    -224: "Illegal parameter value",
    -230: "Data corrupt or stale",
    -350: "Queue overflow",
    -363: "Input buffer overrun",
}


class ScpiError(Exception):
    """An SCPI error to queue: ``code`` (SCPI-99, negative) and optional detail after the standard text."""

    def __init__(self, code: int, detail: str = "") -> None:
        self.code = code
        self.detail = detail
        super().__init__(f"{code}: {STANDARD_ERRORS.get(code, 'Error')}{'; ' + detail if detail else ''}")

    @property
    def is_command_error(self) -> bool:
        """-1xx: the parser abandons the rest of the program message (IEEE 488.2 §6.1.6)."""
        return -199 <= self.code <= -100


# ---------------------------------------------------------------------------------------------------
# Header patterns


@dataclass(frozen=True)
class Node:
    """One node of a command pattern: ``short``/``long`` upper-case forms, optional, takes a suffix."""

    short: str
    long: str
    optional: bool
    suffix: bool

    def match(self, token: str) -> tuple[bool, int | None]:
        """Does the (upper-case) header token name this node? Returns (matched, numeric suffix or None)."""
        if self.suffix:
            m = _SUFFIXED.match(token)
            if not m:
                return False, None
            stem, digits = m.group(1), m.group(2)
            if stem == self.short or stem == self.long:
                return True, (int(digits) if digits else None)
            return False, None
        return token == self.short or token == self.long, None


_SUFFIXED = re.compile(r"^([A-Z*]+?)(\d*)$")
_PATTERN_TOKEN = re.compile(r"(\[)?:?(\*?[A-Za-z]+)(#)?:?(\])?")


def compile_pattern(spec: str) -> tuple[Node, ...]:
    """Turn ``"[SOURce#:]FREQuency[:FIXed]"`` into nodes. Upper-case letters are the short form."""
    nodes = []
    for m in _PATTERN_TOKEN.finditer(spec):
        word = m.group(2)
        short = "".join(ch for ch in word if ch.isupper() or ch == "*")
        nodes.append(Node(short=short.upper(), long=word.upper(), optional=bool(m.group(1)),
                          suffix=bool(m.group(3))))
    if not nodes:
        raise ValueError(f"empty command pattern {spec!r}")
    return tuple(nodes)


def match_nodes(nodes: Sequence[Node], tokens: Sequence[str]) -> list[int | None] | None:
    """Match header tokens against a pattern; return the suffix of every ``#`` node, or None if no match."""

    def walk(i: int, j: int) -> list[int | None] | None:
        if j == len(nodes):
            return [] if i == len(tokens) else None
        node = nodes[j]
        if i < len(tokens):
            ok, suffix = node.match(tokens[i])
            if ok:
                rest = walk(i + 1, j + 1)
                if rest is not None:
                    return ([suffix] if node.suffix else []) + rest
        if node.optional:
            rest = walk(i, j + 1)
            if rest is not None:
                return ([None] if node.suffix else []) + rest
        return None

    return walk(0, 0)


Suffixes = list[int | None]
"""The numeric suffix of each ``#`` node of a matched header (None where the client gave none)."""
Params = tuple[str, ...]
"""A message unit's raw parameter strings."""
Reply = str | bytes | None
"""A handler's reply: text, a binary block, or None for a command."""
Ctx = TypeVar("Ctx")
"""What the device passes to every handler first (its execution context)."""


@dataclass(frozen=True)
class Command(Generic[Ctx]):
    """One entry of a dialect's command table: pattern nodes, query or not, and its handler.

    The handler is called as ``handler(ctx, suffixes, params)`` with the numeric suffixes of the pattern's
    ``#`` nodes (None where the client gave none) and the raw parameter strings; it returns the reply
    (``str`` for text, ``bytes`` for a binary block) or None for a command.
    """

    pattern: str
    nodes: tuple[Node, ...]
    query: bool
    handler: Callable[[Ctx, Suffixes, Params], Reply]


class CommandTable(Generic[Ctx]):
    """A dialect's commands. ``add("[SOURce#:]FREQuency[:FIXed]", set_freq, query=get_freq)``."""

    #: headers whose lookup is remembered (a client sends the same few headers over and over; a client that
    #: sends ever new ones only makes the memory start again)
    MEMO_SIZE = 1024

    def __init__(self) -> None:
        self._commands: list[Command[Ctx]] = []
        self._memo: dict[tuple[tuple[str, ...], bool], tuple[Command[Ctx], Suffixes] | None] = {}
        self._memo_commands = 0  # how many commands the table had when the memory was started

    def add(self, pattern: str, command: Callable[[Ctx, Suffixes, Params], Reply] | None = None,
            query: Callable[[Ctx, Suffixes, Params], Reply] | None = None) -> None:
        """Register the command form, the query form (``pattern?``), or both, of one header."""
        nodes = compile_pattern(pattern)
        if command is not None:
            self._commands.append(Command(pattern, nodes, False, command))
        if query is not None:
            self._commands.append(Command(pattern + "?", nodes, True, query))

    def lookup(self, tokens: Sequence[str], is_query: bool) -> tuple[Command[Ctx], Suffixes] | None:
        """Find the command a header names; None if the header is undefined.

        The first command of the table whose pattern matches, as a linear match of every pattern would find
        it, remembered per header (matching every pattern of a family's table is the simulator's main cost
        per message)."""
        if self._memo_commands != len(self._commands):  # commands added (a subclass may add them directly)
            self._memo.clear()
            self._memo_commands = len(self._commands)
        key = (tuple(tokens), is_query)
        try:
            found = self._memo[key]
        except KeyError:
            found = self._find(tokens, is_query)
            if len(self._memo) >= self.MEMO_SIZE:
                self._memo.clear()
            self._memo[key] = found
        return None if found is None else (found[0], list(found[1]))

    def _find(self, tokens: Sequence[str], is_query: bool) -> tuple[Command[Ctx], Suffixes] | None:
        for cmd in self._commands:
            if cmd.query != is_query:
                continue
            suffixes = match_nodes(cmd.nodes, tokens)
            if suffixes is not None:
                return cmd, suffixes
        return None

    def __iter__(self) -> Iterator[Command[Ctx]]:
        return iter(self._commands)


# ---------------------------------------------------------------------------------------------------
# Program messages


@dataclass(frozen=True)
class MessageUnit:
    """One ``;``-separated unit: the header text as sent and its parameter strings."""

    header: str
    params: tuple[str, ...]


_HEADER_OK = re.compile(r"^:?(\*[A-Za-z]+|[A-Za-z][A-Za-z0-9_]*(:[A-Za-z][A-Za-z0-9_]*)*)\??$")


def _split_outside_quotes(text: str, sep: str, *, closed: bool) -> list[str]:
    """Split ``text`` at ``sep`` outside single- or double-quoted strings. ``closed``: raise -151 on an
    unterminated string (otherwise it runs to the end of the text)."""
    parts: list[str] = []
    cur: list[str] = []
    quote = ""
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == sep:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    if quote and closed:
        raise ScpiError(-151, "unterminated string")
    parts.append("".join(cur))
    return parts


def split_units(line: str) -> list[str]:
    """Split a program message at ``;`` outside quoted strings. Raises -151 on an unterminated string."""
    return _split_outside_quotes(line, ";", closed=True)


def split_params(text: str) -> tuple[str, ...]:
    """Split a parameter list at commas outside quoted strings; strips whitespace; empty -> ()."""
    text = text.strip()
    if not text:
        return ()
    out = [p.strip() for p in _split_outside_quotes(text, ",", closed=False)]
    if any(p == "" for p in out):
        raise ScpiError(-102, "empty parameter")
    return tuple(out)


def parse_unit(text: str) -> MessageUnit:
    """Separate header and parameters of one message unit and check the header's syntax.

    A header with bytes outside printable ASCII is -101 (Invalid character); any other malformed header is
    -102 (Syntax error). Whether the header exists is decided later (-113).
    """
    text = text.strip(" \t\r")
    m = re.match(r"^(\S+)(?:[ \t]+(.*))?$", text, re.S)
    if not m:
        raise ScpiError(-102)
    header, rest = m.group(1), m.group(2) or ""
    if not _HEADER_OK.match(header):
        if any(not (32 < ord(ch) < 127) for ch in header):
            raise ScpiError(-101)
        raise ScpiError(-102)
    if any(ord(ch) > 126 or (ord(ch) < 32 and ch not in "\t") for ch in rest):
        raise ScpiError(-101)
    return MessageUnit(header=header, params=split_params(rest))


# ---------------------------------------------------------------------------------------------------
# Parameters

_NUMBER = re.compile(r"^([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z%]*)$")
_NUMBER_START = re.compile(r"^[+-]?[.0-9]|^[+-]$")  # what can only be the start of a number
_INFINITY = re.compile(r"^[+-]?(?:INF|INFINITY)$|^NINF(?:INITY)?$", re.IGNORECASE)
_NAN = re.compile(r"^[+-]?NAN$", re.IGNORECASE)
_BAD_EXPONENT = re.compile(r"^E$", re.IGNORECASE)  # "1e": an exponent without digits, not a unit
MAX_EXPONENT = 32000  # IEEE 488.2 §7.7.2.4.1: larger exponents are -123
MAX_MANTISSA_DIGITS = 255  # IEEE 488.2 §7.7.2.4.1: longer mantissas are -124
_PREFIXES: dict[str, float] = {
    "EX": 1e18, "PE": 1e15, "T": 1e12, "G": 1e9, "MA": 1e6, "K": 1e3,
    "": 1.0, "M": 1e-3, "U": 1e-6, "N": 1e-9, "P": 1e-12, "F": 1e-15,
}
# SCPI-99 7.7.3: these spellings mean mega although "M" alone is milli
_MEGA_UNITS = {"MHZ": ("HZ", 1e6), "MOHM": ("OHM", 1e6)}

NUMERIC_KEYWORDS: dict[str, tuple[str, str]] = {
    "MIN": ("MIN", "MINIMUM"),
    "MAX": ("MAX", "MAXIMUM"),
    "DEF": ("DEF", "DEFAULT"),
    "INF": ("INF", "INFINITY"),
}


def keyword(text: str, short: str, long: str) -> bool:
    """True if ``text`` is the keyword in its short or long form (case-insensitive)."""
    t = text.upper()
    return t == short or t == long


def parse_number(text: str, units: Sequence[str] = (), keywords: Sequence[str] = ()) -> float | str:
    """Parse one numeric parameter; returns a float, or the keyword's short form (``"MAX"``).

    ``units`` are the unit suffixes accepted (``("V",)``, ``("HZ",)``), each with any SI prefix;
    ``keywords`` any of ``MIN``, ``MAX``, ``DEF``, ``INF``. A returned float is always finite. Raises -104
    (not a number), -121 (a malformed number), -123 (exponent too large), -124 (too many digits), -131 (bad
    suffix), -138 (suffix where none is allowed), -222 (too large for a double, or an infinity where
    ``INF`` is not accepted), -224 (NaN); see the module docstring.
    """
    t = text.strip()
    for kw in keywords:
        short, long = NUMERIC_KEYWORDS[kw]
        if keyword(t, short, long):
            return kw
    m = _NUMBER.match(t)
    if not m:
        if _INFINITY.match(t):
            raise ScpiError(-222, f"{t[:20]!r}: infinity is not accepted here")
        if _NAN.match(t):
            raise ScpiError(-224, "NaN is not a value")
        if _NUMBER_START.match(t):
            raise ScpiError(-121, t[:20])
        raise ScpiError(-104, f"expected a number, got {t[:20]!r}")
    number, suffix = m.group(1), m.group(2).upper()
    if _BAD_EXPONENT.match(suffix):
        raise ScpiError(-121, f"incomplete exponent in {t[:20]!r}")
    mantissa, _, exponent = number.upper().partition("E")
    if exponent and abs(int(exponent)) > MAX_EXPONENT:
        raise ScpiError(-123, t[:20])
    if sum(ch.isdigit() for ch in mantissa) > MAX_MANTISSA_DIGITS:
        raise ScpiError(-124, f"{len(mantissa)} characters")
    value = _finite(float(number), t)
    if not suffix:
        return value
    if not units:
        raise ScpiError(-138)
    if suffix in _MEGA_UNITS and _MEGA_UNITS[suffix][0] in units:
        return _finite(value * _MEGA_UNITS[suffix][1], t)
    for unit in units:
        if suffix.endswith(unit):
            prefix = suffix[: len(suffix) - len(unit)]
            if prefix in _PREFIXES:
                return _finite(value * _PREFIXES[prefix], t)
    raise ScpiError(-131, suffix[:20])


def _finite(value: float, text: str) -> float:
    """``value`` if it is finite; -222 (Data out of range) if it overflowed a double."""
    if math.isinf(value) or math.isnan(value):
        raise ScpiError(-222, f"{text[:20]!r} is too large")
    return value


def parse_integer(text: str, lo: int, hi: int) -> int:
    """An integer parameter in ``lo..hi`` (a decimal number is rounded, as IEEE 488.2 §7.7.2 allows); -222
    outside, and the errors of :func:`parse_number` for what is not a number."""
    value = parse_number(text)
    assert isinstance(value, float)  # no keywords were accepted
    if not lo - 0.5 <= value < hi + 0.5:
        raise ScpiError(-222, f"{text.strip()[:20]!r} is outside {lo}..{hi}")
    return int(round(value))


def parse_bool(text: str) -> bool:
    """``ON``/``OFF``/``1``/``0`` (a number is rounded; a non-zero one is true, SCPI-99 7.3). A number too
    large for a double or an infinity is -222 (Data out of range); anything else -224."""
    t = text.strip().upper()
    if t == "ON":
        return True
    if t == "OFF":
        return False
    try:
        value = parse_number(t)
    except ScpiError as exc:
        if exc.code in (-222, -123, -124):
            raise
        raise ScpiError(-224, f"expected ON|OFF|1|0, got {text.strip()[:20]!r}") from None
    return round(float(value)) != 0


def parse_choice(text: str, choices: Sequence[str]) -> str:
    """Match character data against ``UPPERlower`` spellings; returns the long form upper-cased. -224."""
    t = text.strip().upper()
    for spec in choices:
        short = "".join(ch for ch in spec if ch.isupper() or ch.isdigit())
        if t == short or t == spec.upper():
            return spec.upper()
    raise ScpiError(-224, text[:20])


def parse_channel_name(text: str, stems: Sequence[str], n_channels: int) -> int:
    """``CHANnel2`` / ``CHAN2`` -> 2 (1-based); -224 for another name or a channel that does not exist."""
    m = _SUFFIXED.match(text.strip().upper())
    if m:
        stem, digits = m.group(1), m.group(2)
        for spec in stems:
            short = "".join(ch for ch in spec if ch.isupper())
            if stem in (short, spec.upper()):
                n = int(digits) if digits else 1
                if 1 <= n <= n_channels:
                    return n
    raise ScpiError(-224, text[:20])


def expect_params(params: Sequence[str], lo: int, hi: int | None = None) -> None:
    """Check the parameter count: -109 (too few) or -108 (too many)."""
    hi = lo if hi is None else hi
    if len(params) < lo:
        raise ScpiError(-109)
    if len(params) > hi:
        raise ScpiError(-108)
