"""A small declarative validator for the TOML configs (boards, benches, procedures).

A schema is a dict ``section -> {key: Field}``; :func:`validate` checks a parsed TOML document against it
and returns plain dicts with defaults filled in. The first problem found is raised as a
:class:`~instruments.errors.ConfigError` that names the file, the ``[section] key`` and what is wrong, with a
"did you mean" hint for misspelt keys (a unit typo such as ``r_kohm`` for ``r_ohm`` is the common case).
"""

from __future__ import annotations

import difflib
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib

from .errors import ConfigError

_MISSING = object()


@dataclass(frozen=True)
class Field:
    """One key of a config section.

    ``kind`` is ``float``, ``int``, ``bool``, ``str`` or ``list``; ``lo``/``hi`` are inclusive bounds unless
    ``lo_open``/``hi_open`` say otherwise; ``choices`` restricts strings; ``default`` of ``_MISSING`` makes
    the key required.
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


def _hint(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (known keys: {', '.join(sorted(known))})" if known else ""


def _check_value(source: str, where: str, f: Field, value: Any) -> Any:
    kind = f.kind
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(source, where, f"expected a number, got {value!r}")
        value = float(value)
        if math.isnan(value):
            raise ConfigError(source, where, "is NaN")
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(source, where, f"expected a whole number, got {value!r}")
    elif kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(source, where, f"expected true or false, got {value!r}")
        return value
    elif kind is str:
        if not isinstance(value, str):
            raise ConfigError(source, where, f"expected a string, got {value!r}")
        if f.choices is not None and value not in f.choices:
            raise ConfigError(
                source, where, f"{value!r} is not one of {', '.join(repr(c) for c in f.choices)}"
            )
        return value
    elif kind is list:
        if not isinstance(value, list):
            raise ConfigError(source, where, f"expected a list, got {value!r}")
        if f.item_kind is not None:
            item_field = Field(f.item_kind, lo=f.lo, hi=f.hi, lo_open=f.lo_open, hi_open=f.hi_open,
                               choices=f.choices)
            return [_check_value(source, f"{where}[{i}]", item_field, v) for i, v in enumerate(value)]
        return value
    elif kind is dict:
        if not isinstance(value, dict):
            raise ConfigError(source, where, f"expected a table, got {value!r}")
        return value
    if f.lo is not None and (value < f.lo or (f.lo_open and value == f.lo)):
        rel = ">" if f.lo_open else ">="
        raise ConfigError(source, where, f"{value!r} is out of range (must be {rel} {f.lo:g})")
    if f.hi is not None and (value > f.hi or (f.hi_open and value == f.hi)):
        rel = "<" if f.hi_open else "<="
        raise ConfigError(source, where, f"{value!r} is out of range (must be {rel} {f.hi:g})")
    return value


def validate_section(source: str, name: str, sec: Section, data: Any) -> dict[str, Any]:
    """Validate one table against its section schema; returns the table with defaults filled in."""
    if not isinstance(data, dict):
        raise ConfigError(source, f"[{name}]", f"expected a table, got {data!r}")
    out: dict[str, Any] = {}
    known = list(sec.fields)
    for key, value in data.items():
        if key not in sec.fields:
            if sec.open:
                out[key] = value
                continue
            raise ConfigError(source, f"[{name}] {key}", "unknown key" + _hint(key, known))
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
    for name, value in doc.items():
        if name not in schema:
            raise ConfigError(source, f"[{name}]", "unknown section" + _hint(name, list(schema)))
    for name, sec in schema.items():
        if name in doc:
            out[name] = validate_section(source, name, sec, doc[name])
        elif sec.optional:
            # an absent optional section: defaults, and None for keys that are required only when present
            out[name] = {k: (None if f.required else f.default) for k, f in sec.fields.items()}
        else:
            raise ConfigError(source, f"[{name}]", "missing required section")
    return out
