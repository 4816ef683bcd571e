"""diffbench instruments: generator and oscilloscope interfaces, vendor drivers, SCPI/VISA plumbing,
configs, and ``instruments.sim``, the simulated bench.

Importing this package stays light (no pyvisa session, no pandas, no plotting): drivers load on use.
"""

from .errors import (
    ConfigError,
    DiffbenchError,
    InstrumentConnectionError,
    InstrumentError,
    InstrumentTimeout,
    SafetyError,
)

TYPE_CHECKING = False  # not ``typing.TYPE_CHECKING``: importing typing would double this package's import time
if TYPE_CHECKING:
    from .bench import Bench, open_bench


def __getattr__(name: str) -> object:
    # ``from instruments import open_bench`` without paying for pyvisa at ``import instruments``
    if name in ("open_bench", "Bench"):
        from . import bench

        return getattr(bench, name)
    raise AttributeError(f"module 'instruments' has no attribute {name!r}")


__all__ = [
    "Bench",
    "open_bench",
    "ConfigError",
    "DiffbenchError",
    "InstrumentConnectionError",
    "InstrumentError",
    "InstrumentTimeout",
    "SafetyError",
]
