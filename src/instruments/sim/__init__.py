"""The simulated bench: a transistor-level board (:mod:`.board`, solved by the circuit engine :mod:`.circuit`) and the
SCPI servers of the virtual generator and scope that drive and probe it.

Importing this package is cheap: names are loaded on first use.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "SimBoard": ".board",
    "Drive": ".board",
    "SteadyState": ".steady_state",
    "ConvergenceError": ".circuit.errors",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module, __name__), name)
