"""Writing the small TOML documents the benchmark scripts generate (configs with a few values changed).

The standard library reads TOML but does not write it; these configs are flat (sections of scalars and
lists), so a few lines do, rather than a dependency for benchmarks alone.
"""

from __future__ import annotations

from typing import Any


def toml_value(v: Any) -> str:
    """One TOML value: bool, int, float, string or a list of those."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} as TOML")


def dump_toml(doc: dict[str, dict[str, Any]]) -> str:
    """A two-level TOML document: ``[section]`` tables of scalar or list keys."""
    out = []
    for section, keys in doc.items():
        out.append(f"[{section}]")
        out.extend(f"{k} = {toml_value(v)}" for k, v in keys.items())
        out.append("")
    return "\n".join(out)
