"""A small declarative validator for the TOML configs (boards, benches, procedures).

A schema is a dict ``section -> {key: Field}``; :func:`validate` checks a parsed TOML document against it
and returns plain dicts with defaults filled in. The first problem found is raised as a
:class:`~instruments.errors.ConfigError` that names the file, the ``[section] key`` and what is wrong, with a
"did you mean" hint for misspelt keys (a unit typo such as ``r_kohm`` for ``r_ohm`` is the common case).

What every field refuses, whatever its schema says: NaN and infinities in numbers (no physical quantity in a
config is infinite), numbers too large for a float (``10**400``), booleans where a number is expected, and in
strings control, format (bidi overrides, zero-width), private-use and unassigned characters. Names
(:data:`NAME_PATTERN`) are ASCII; free text (descriptions, paths) may be any printable Unicode. Values quoted
in error messages are cut to :data:`SHOW_CHARS` characters so the message stays one short line.
"""

from __future__ import annotations

import difflib
import math
import re
import sys
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib

from .errors import ConfigError

_MISSING = object()

NAME_PATTERN = r"[A-Za-z0-9](?:[A-Za-z0-9 ._+-]{0,62}[A-Za-z0-9._+-])?"
"""A name (board, bench, procedure): 1 to 64 ASCII letters, digits, ``. _ + -`` and inner spaces."""

IDENTIFIER_PATTERN = r"[A-Za-z_][A-Za-z0-9_]{0,63}"
"""A parameter name (the fits' free parameters): an ASCII identifier of at most 64 characters."""

TEXT_MAX_CHARS = 2000
"""Longest free-text string (description, path) a config may hold, characters."""

SHOW_CHARS = 60
"""Longest excerpt of a bad value quoted in an error message, characters."""

_BAD_CATEGORIES = {"Cc": "control", "Cf": "format", "Cs": "surrogate", "Co": "private-use", "Cn": "unassigned",
                   "Zl": "line separator", "Zp": "paragraph separator"}


@dataclass(frozen=True)
class Field:
    """One key of a config section.

    ``kind`` is ``float``, ``int``, ``bool``, ``str``, ``list`` or ``dict``; ``lo``/``hi`` are inclusive bounds
    unless ``lo_open``/``hi_open`` say otherwise; ``choices`` restricts strings to an enumeration, ``pattern``
    (a regular expression the whole string must match, e.g. :data:`NAME_PATTERN`) to a form that ``form`` names
    in the error message, ``max_len`` to a
    length (characters); a list's items are checked as ``item_kind`` with the same bounds, choices and pattern,
    and its length against ``min_items``/``max_items``; ``default`` of ``_MISSING`` makes the key required.
    """

    kind: type
    default: Any = _MISSING
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple[str, ...] | None = None
    doc: str = ""
    item_kind: type | None = None
    pattern: str | None = None
    form: str = "a valid name (ASCII letters, digits, '._+-' and inner spaces)"
    max_len: int = TEXT_MAX_CHARS
    min_items: int = 0
    max_items: int | None = None

    @property
    def required(self) -> bool:
        return self.default is _MISSING


def required(kind: type, **kw: Any) -> Field:
    """A key that must be present."""
    return Field(kind, **kw)


def optional(kind: type, default: Any, **kw: Any) -> Field:
    """A key that may be left out; ``default`` is used then."""
    return Field(kind, default=default, **kw)


@dataclass(frozen=True)
class Section:
    """A ``[section]`` of a config; ``optional`` sections may be absent (their defaults apply)."""

    fields: Mapping[str, Field]
    optional: bool = False
    doc: str = ""
    open: bool = False  # accept keys not in ``fields`` (free-form tables such as metadata)
    extra: Mapping[str, Any] = field(default_factory=dict)


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file, turning a missing file or a syntax error into one-line :class:`ConfigError`."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(str(p), None, "no such file") from None
    except IsADirectoryError:
        raise ConfigError(str(p), None, "is a directory, not a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(p), None, f"not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(str(p), None, "not valid TOML: the file is not UTF-8 text") from None
    except RecursionError:
        raise ConfigError(str(p), None, "not valid TOML: arrays or tables nested too deeply") from None
    except OSError as exc:  # permission denied, a name too long, an I/O error
        raise ConfigError(str(p), None, f"cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:  # a path holding a NUL character
        raise ConfigError(show(str(p)), None, f"not a usable file name: {exc}") from None


def _key(key: str) -> str:
    """A key as it reads in an error message: as written when it is a plain TOML bare key, else quoted
    (so a key holding a newline or a bidi override cannot break or disguise the one-line message)."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]{1,64}", key) else show(key)


def _hint(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (known keys: {', '.join(sorted(known))})" if known else ""


def show(value: Any) -> str:
    """``repr(value)`` cut to :data:`SHOW_CHARS` characters (with ``...``), for one-line error messages."""
    text = repr(value)
    return text if len(text) <= SHOW_CHARS else text[: SHOW_CHARS - 3] + "..."


def check_text(source: str, where: str, value: str, max_len: int = TEXT_MAX_CHARS) -> str:
    """Refuse a string longer than ``max_len`` characters or holding a control, format, surrogate,
    private-use or unassigned character (module docstring); returns ``value``."""
    if len(value) > max_len:
        raise ConfigError(source, where, f"is {len(value)} characters long (at most {max_len})")
    for i, ch in enumerate(value):
        cat = unicodedata.category(ch)
        if cat in _BAD_CATEGORIES:
            raise ConfigError(source, where, f"holds a {_BAD_CATEGORIES[cat]} character (U+{ord(ch):04X}) at "
                                             f"position {i}: {show(value)}")
    return value


def _check_value(source: str, where: str, f: Field, value: Any) -> Any:
    kind = f.kind
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(source, where, f"expected a number, got {show(value)}")
        try:
            value = float(value)
        except OverflowError:
            raise ConfigError(source, where, f"{show(value)} is too large for a number") from None
        if math.isnan(value):
            raise ConfigError(source, where, "is NaN")
        if math.isinf(value):
            raise ConfigError(source, where, f"is {'+' if value > 0 else '-'}inf (must be finite)")
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(source, where, f"expected a whole number, got {show(value)}")
    elif kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(source, where, f"expected true or false, got {show(value)}")
        return value
    elif kind is str:
        if not isinstance(value, str):
            raise ConfigError(source, where, f"expected a string, got {show(value)}")
        if f.choices is not None:
            if value not in f.choices:
                raise ConfigError(
                    source, where, f"{show(value)} is not one of {', '.join(repr(c) for c in f.choices)}"
                )
            return value
        check_text(source, where, value, f.max_len)
        if f.pattern is not None and re.fullmatch(f.pattern, value) is None:
            raise ConfigError(source, where, f"{show(value)} is not {f.form}")
        return value
    elif kind is list:
        if not isinstance(value, list):
            raise ConfigError(source, where, f"expected a list, got {show(value)}")
        if len(value) < f.min_items:
            raise ConfigError(source, where, f"needs at least {f.min_items} item{'s' if f.min_items > 1 else ''}")
        if f.max_items is not None and len(value) > f.max_items:
            raise ConfigError(source, where, f"has {len(value)} items (at most {f.max_items})")
        if f.item_kind is not None:
            item_field = Field(f.item_kind, lo=f.lo, hi=f.hi, lo_open=f.lo_open, hi_open=f.hi_open,
                               choices=f.choices, pattern=f.pattern, form=f.form, max_len=f.max_len)
            return [_check_value(source, f"{where}[{i}]", item_field, v) for i, v in enumerate(value)]
        return value
    elif kind is dict:
        if not isinstance(value, dict):
            raise ConfigError(source, where, f"expected a table, got {show(value)}")
        return value
    if f.lo is not None and (value < f.lo or (f.lo_open and value == f.lo)):
        rel = ">" if f.lo_open else ">="
        raise ConfigError(source, where, f"{show(value)} is out of range (must be {rel} {f.lo:g})")
    if f.hi is not None and (value > f.hi or (f.hi_open and value == f.hi)):
        rel = "<" if f.hi_open else "<="
        raise ConfigError(source, where, f"{show(value)} is out of range (must be {rel} {f.hi:g})")
    return value


def validate_section(source: str, name: str, sec: Section, data: Any) -> dict[str, Any]:
    """Validate one table against its section schema; returns the table with defaults filled in."""
    if not isinstance(data, dict):
        raise ConfigError(source, f"[{name}]", f"expected a table, got {show(data)}")
    out: dict[str, Any] = {}
    known = list(sec.fields)
    for key, value in data.items():
        if key not in sec.fields:
            if sec.open:
                out[key] = value
                continue
            raise ConfigError(source, f"[{name}] {_key(key)}", "unknown key" + _hint(key, known))
        out[key] = _check_value(source, f"[{name}] {key}", sec.fields[key], value)
    for key, f in sec.fields.items():
        if key not in out:
            if f.required:
                raise ConfigError(source, f"[{name}] {key}", "missing required key")
            out[key] = f.default
    return out


def validate(source: str, schema: Mapping[str, Section], doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Validate a whole TOML document; unknown sections and keys are errors (with a spelling hint)."""
    out: dict[str, dict[str, Any]] = {}
    for name, _value in doc.items():
        if name not in schema:
            raise ConfigError(source, f"[{_key(name)}]", "unknown section" + _hint(name, list(schema)))
    for name, sec in schema.items():
        if name in doc:
            out[name] = validate_section(source, name, sec, doc[name])
        elif sec.optional:
            # an absent optional section: defaults, and None for keys that are required only when present
            out[name] = {k: (None if f.required else f.default) for k, f in sec.fields.items()}
        else:
            raise ConfigError(source, f"[{name}]", "missing required section")
    return out
