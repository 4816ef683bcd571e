"""Configs built in code (a notebook, a bench script) instead of read from a file.

A config made here goes through the very path a file does: the mapping is written out as TOML text, that
text is parsed back and validated by the same schema. The text is what a run archives as the config (an
archive never holds a config that was not validated), so a run built in code can be repeated from its
archive with ``diffbench run`` like any other. Bad input raises the same one-line
:class:`~instruments.errors.ConfigError` a file would, naming ``source`` as the place.

The TOML text is written with tomli-w (the writer companion of the tomli parser the standard library's
tomllib came from), so the round trip is exact for every value TOML can hold.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w

from instruments.bench_config import BenchConfig, parse_bench
from instruments.board_config import BoardConfig, parse_board
from instruments.errors import ConfigError
from procedures.config.procedure import ProcedureConfig, parse_procedure

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["bench_config", "board_config", "config_text", "procedure_config"]


def config_text(doc: Mapping[str, Any], source: str) -> str:
    """``doc`` (tables of keys -> numbers, strings, booleans, lists) as TOML text; ConfigError if TOML cannot
    hold it (a value that is not a TOML type, a non-finite number, a key that is not a string)."""
    try:
        _check_finite(doc, source, ())
        return tomli_w.dumps(_plain(doc))
    except (TypeError, ValueError) as exc:
        raise ConfigError(source, None, f"cannot be written as TOML: {exc}") from None


def procedure_config(doc: Mapping[str, Any], source: str = "<procedure in code>") -> ProcedureConfig:
    """A procedure config from a mapping laid out as ``configs/procedures/*.toml`` (same tables, keys, units)."""
    raw = config_text(doc, source)
    return parse_procedure(_parsed(raw, source), source=source, raw=raw)


def board_config(doc: Mapping[str, Any], source: str = "<board in code>") -> BoardConfig:
    """A board config from a mapping laid out as ``configs/boards/*.toml``."""
    raw = config_text(doc, source)
    return parse_board(_parsed(raw, source), source=source, raw=raw)


def bench_config(doc: Mapping[str, Any], source: str = "<bench in code>", *, base_dir: str | Path = ".",
                 allow_remote: bool = False) -> BenchConfig:
    """A bench config from a mapping laid out as ``configs/benches/*.toml``. A simulated bench's
    ``[bench] board`` path is taken relative to ``base_dir`` (a file's is relative to its folder)."""
    raw = config_text(doc, source)
    return parse_bench(_parsed(raw, source), source=source, raw=raw, base_dir=Path(base_dir),
                       allow_remote=allow_remote)


def _parsed(raw: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:  # tomli-w wrote it, so this would be a writer bug; still one line
        raise ConfigError(source, None, f"not valid TOML: {exc}") from None


def _plain(value: Any) -> Any:
    """Mappings to dicts, tuples and numpy arrays to lists, numpy scalars to Python numbers."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return _plain(value.tolist())
    return value


def _check_finite(value: Any, source: str, path: tuple[str, ...]) -> None:
    """TOML can write inf and nan, but no config value may be either: refuse here, naming the key as a
    file's error would (``[table] key``)."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            _check_finite(v, source, (*path, str(k)))
    elif isinstance(value, (list, tuple)):
        for v in value:
            _check_finite(v, source, path)
    elif isinstance(value, float) and not math.isfinite(value):
        where = f"[{'.'.join(path[:-1])}] {path[-1]}" if len(path) > 1 else ".".join(path)
        raise ConfigError(source, where, f"must be a finite number, got {value}")
