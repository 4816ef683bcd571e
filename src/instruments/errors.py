"""Exceptions shared by drivers, the simulated bench and the procedures.

Every error diffbench raises on purpose derives from :class:`DiffbenchError`; its ``str()`` is one line
that names what is wrong and where, so the CLI can print it as it is and exit non-zero.
"""

from __future__ import annotations


class DiffbenchError(Exception):
    """Base of every error diffbench reports to a user as one line."""


class ConfigError(DiffbenchError):
    """A configuration file (board, bench, procedure) is missing, malformed or out of range.

    ``str()`` reads ``<file>: [<section>] <key>: <what is wrong>``.
    """

    def __init__(self, source: str, key: str | None, message: str) -> None:
        self.source = source
        self.key = key
        self.message = message
        where = f"{source}: " if source else ""
        what = f"{key}: " if key else ""
        super().__init__(f"{where}{what}{message}")


class NetlistError(ConfigError):
    """A SPICE netlist a board config points at is unreadable, malformed or not a usable circuit.

    ``str()`` reads ``<file>:<line>: <what is wrong>`` (``<file>: <what is wrong>`` when ``line`` is 0, for a
    problem that belongs to no line of the netlist, such as a config's pin that is not one of its nodes).
    """

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(file, None, message)
        self.file = file
        self.line = line
        self.args = (f"{file}:{line}: {message}" if line > 0 else f"{file}: {message}",)


class InstrumentError(DiffbenchError):
    """An instrument reported an error, answered something unusable, or is the wrong kind.

    ``str()`` names the instrument (its resource and identity), the command that was sent and the
    instrument's own text, so a user can reproduce the exchange by hand.
    """

    def __init__(self, instrument: str, message: str, command: str | None = None) -> None:
        self.instrument = instrument
        self.command = command
        self.message = message
        cmd = f" after {command!r}" if command else ""
        super().__init__(f"{instrument}: {message}{cmd}")


class InstrumentConnectionError(InstrumentError):
    """The VISA resource does not answer, refused the connection, or dropped it."""


class InstrumentTimeout(InstrumentError):
    """The instrument did not answer within the VISA timeout (for example mid-transfer)."""


class SafetyError(DiffbenchError):
    """A requested excitation is outside the board's safe limits; nothing was switched on."""
