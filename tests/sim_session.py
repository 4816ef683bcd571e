"""What the simulator tests do over a plain pyvisa session: commands followed by ``*OPC?`` (so the server has run
them before the test looks at its state), and the error queue drained."""

from __future__ import annotations

from typing import Any

MAX_ERROR_READS = 20


def sync(inst: Any, *commands: str) -> None:
    """Write ``commands``, then wait for ``*OPC?`` to answer 1."""
    for c in commands:
        inst.write(c)
    assert inst.query("*OPC?") == "1"


def drained_errors(inst: Any, query: str, empty: tuple[str, ...]) -> list[str]:
    """Read the error queue with ``query`` until a reply starting with one of ``empty`` (the family's "no error"),
    at most :data:`MAX_ERROR_READS` times; the errors, oldest first."""
    out = []
    for _ in range(MAX_ERROR_READS):
        e = inst.query(query).strip()
        if e.startswith(empty):
            return out
        out.append(e)
    raise AssertionError(f"the error queue never emptied: {out}")
