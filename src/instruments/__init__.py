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

__all__ = [
    "ConfigError",
    "DiffbenchError",
    "InstrumentConnectionError",
    "InstrumentError",
    "InstrumentTimeout",
    "SafetyError",
]
