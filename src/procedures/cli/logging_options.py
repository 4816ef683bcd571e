"""The logging options every ``diffbench`` command takes: ``-v/--verbose``, ``--log-file FILE``, ``--scpi-log FILE``.

The library only logs (stdlib :mod:`logging`, one logger per module, the SCPI transcript on ``"instruments.scpi"``,
:mod:`instruments.scpi_transcript`); this module is where the command line decides where records go
(docs/logging.md):

- the terminal (stderr): warnings and errors, ``-v`` adds INFO, ``-vv`` DEBUG, of diffbench's own loggers
  (``instruments``, ``procedures``, ``models``) and Python warnings; the SCPI transcript never. Lines go through
  ``tqdm.write`` once tqdm is loaded, so a progress bar is cleared, the line written and the bar drawn again below
  it: a message never lands inside a bar;
- ``--log-file FILE``: everything of diffbench's at DEBUG, the SCPI transcript included, with UTC timestamps,
  levels and logger names; appended to, so several commands can share one file;
- ``--scpi-log FILE``: the SCPI transcript alone (overwritten). For ``diffbench sim serve`` it is the simulator's
  own record of the messages it received (``"instruments.sim.messages"``); for ``diffbench lot`` each bench worker
  writes its own file beside FILE (:mod:`procedures.lot.worker_transcripts`), this process none.

Both files are checked and opened before the command does anything else; a path that cannot be written is one
line and exit status 2. Everything set up here is undone when the command returns, so a test (or a script) may
call :func:`procedures.cli.main.main` many times in one process.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from instruments.errors import ConfigError

#: diffbench's own top-level loggers: the ones -v and --log-file open up (third-party loggers stay at WARNING)
OUR_LOGGERS = ("instruments", "procedures", "models")
#: the client's SCPI transcript and the simulator's record of what it received
TRANSCRIPT_LOGGER = "instruments.scpi"
SIM_RECEIVED_LOGGER = "instruments.sim.messages"
#: Python warnings are logged here (as :func:`logging.captureWarnings` would, but one line each)
WARNINGS_LOGGER = "py.warnings"
#: a record with ``terminal=False`` in its extras goes to the log file only (the CLI prints its own line)
FILE_ONLY = {"terminal": False}


def add_logging_options(parser: argparse.ArgumentParser) -> None:
    """Give ``parser`` and every subcommand parser under it the logging options, so they may be written before or
    after the subcommand (``diffbench -v run ...`` or ``diffbench run ... -v``). The subcommands' copies leave the
    namespace alone unless given, so a value given after the subcommand wins and none is lost."""
    _add(parser, top=True)
    stack = [parser]
    while stack:
        for action in stack.pop()._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    _add(sub, top=False)
                    stack.append(sub)


def _add(parser: argparse.ArgumentParser, *, top: bool) -> None:
    group = parser.add_argument_group("logging (docs/logging.md)")
    group.add_argument("-v", "--verbose", action="count", dest="verbose" if top else "verbose_after",
                       default=0 if top else argparse.SUPPRESS,
                       help="show more on the terminal: -v informational messages, -vv debugging ones")
    group.add_argument("--log-file", metavar="FILE", default=None if top else argparse.SUPPRESS,
                       help="append every log record (DEBUG and up, the SCPI transcript included) to FILE, "
                            "with UTC timestamps and logger names")
    group.add_argument("--scpi-log", metavar="FILE", default=None if top else argparse.SUPPRESS,
                       help="write every SCPI exchange with every instrument to FILE (timestamped, per instrument, "
                            "write/query/read; binary blocks by their length); sim serve: every message received")


@dataclass(frozen=True)
class LoggingOptions:
    """What the command line asked of logging: ``verbosity`` 0 (warnings), 1 (INFO) or 2+ (DEBUG), and the two
    files (None when not asked)."""

    verbosity: int
    log_file: Path | None
    scpi_log: Path | None

    @classmethod
    def of(cls, args: argparse.Namespace) -> LoggingOptions:
        """The options from a parsed command line (the counts of ``-v`` before and after the subcommand add)."""
        verbosity = int(getattr(args, "verbose", 0) or 0) + int(getattr(args, "verbose_after", 0) or 0)
        log_file, scpi_log = getattr(args, "log_file", None), getattr(args, "scpi_log", None)
        return cls(verbosity, Path(log_file) if log_file else None, Path(scpi_log) if scpi_log else None)

    @property
    def terminal_level(self) -> int:
        """The lowest level shown on the terminal."""
        return logging.WARNING if self.verbosity <= 0 else logging.INFO if self.verbosity == 1 else logging.DEBUG


def check_writable(option: str, path: Path) -> None:
    """Raise :class:`ConfigError` (one line naming ``option`` and ``path``) unless a file can be written at ``path``:
    its folder exists and is writable, and ``path`` is not a folder or a file we may not write. Nothing is created."""
    folder = path.parent if str(path.parent) else Path(".")
    where = f"{option} {path}"
    if path.is_dir():
        raise ConfigError("", where, "is a folder, not a file")
    if not folder.is_dir():
        raise ConfigError("", where, f"the folder {folder} does not exist")
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError("", where, "the file is not writable")
    if not path.exists() and not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError("", where, f"the folder {folder} is not writable")


class _NotFrom(logging.Filter):
    """Lets through records of every logger but the ``names`` given (and their children), and none marked
    ``terminal=False`` when ``file_only_too``."""

    def __init__(self, *names: str, file_only_too: bool = False) -> None:
        super().__init__()
        self.names = names
        self.file_only_too = file_only_too

    def filter(self, record: logging.LogRecord) -> bool:
        if self.file_only_too and getattr(record, "terminal", True) is False:
            return False
        return not any(record.name == n or record.name.startswith(n + ".") for n in self.names)


class TerminalHandler(logging.Handler):
    """Writes records to the current ``sys.stderr`` (looked up at each record, so a redirected or captured stderr
    is honoured), through ``tqdm.write`` once tqdm is loaded so that a progress bar on the terminal is cleared
    first and drawn again after the line."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            stream: TextIO = sys.stderr
            tqdm_module = sys.modules.get("tqdm")
            if tqdm_module is not None:
                tqdm_module.tqdm.write(line, file=stream)
            else:
                stream.write(line + "\n")
                stream.flush()
        except Exception:  # a terminal gone away (SIGHUP) must not end the command
            self.handleError(record)


class TerminalFormatter(logging.Formatter):
    """``diffbench <command>: warning: <message>``; with -v, the time, level and logger name instead of the prefix.
    A traceback attached to a record is shown only at -vv (a foreseeable problem is one line)."""

    def __init__(self, command: str, verbosity: int) -> None:
        super().__init__()
        self.command = command
        self.verbosity = verbosity

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if self.verbosity >= 2 and record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        if self.verbosity <= 0:
            return f"diffbench {self.command}: {record.levelname.lower()}: {message}"
        stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        return f"{stamp} {record.levelname.lower():<7} {record.name}: {message}"


class FileFormatter(logging.Formatter):
    """``2026-12-06T18:22:27.123456Z DEBUG procedures.run.session: message`` (UTC), tracebacks included."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        """The record's time, UTC, to the microsecond (ISO 8601)."""
        return datetime.fromtimestamp(record.created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: TextIO | None = None, line: str | None = None) -> None:
    """``warnings.showwarning`` while a command runs: one record on :data:`WARNINGS_LOGGER`."""
    logging.getLogger(WARNINGS_LOGGER).warning("%s: %s (%s:%d)", category.__name__, message, filename, lineno)


@contextmanager
def command_logging(args: argparse.Namespace, command: str) -> Iterator[LoggingOptions]:
    """Route log records as ``args`` asks (see the module's docstring) while the block runs, then put every handler,
    level and the warnings hook back. A log file that cannot be written raises :class:`ConfigError` before anything
    is opened or created."""
    options = LoggingOptions.of(args)
    for option, path in (("--log-file", options.log_file), ("--scpi-log", options.scpi_log)):
        if path is not None:
            check_writable(option, path)
    if options.log_file is not None and options.scpi_log is not None \
            and options.log_file.resolve() == options.scpi_log.resolve():
        raise ConfigError("", f"--scpi-log {options.scpi_log}", "is the --log-file too; give them different files")
    transcript_name = SIM_RECEIVED_LOGGER if command == "sim" else TRANSCRIPT_LOGGER
    undo = _Undo()
    try:
        terminal = TerminalHandler(options.terminal_level)
        terminal.setFormatter(TerminalFormatter(command, options.verbosity))
        terminal.addFilter(_NotFrom(TRANSCRIPT_LOGGER, SIM_RECEIVED_LOGGER, file_only_too=True))
        undo.handler(logging.getLogger(), terminal)
        lowest = options.terminal_level
        if options.log_file is not None:
            from logging import FileHandler

            to_file = FileHandler(options.log_file, mode="a", encoding="utf-8")
            to_file.setFormatter(FileFormatter())
            if command != "sim":  # in a run with a simulated bench, the client's side of each exchange is enough
                to_file.addFilter(_NotFrom(SIM_RECEIVED_LOGGER))
            undo.handler(logging.getLogger(), to_file)
            lowest = logging.DEBUG
        for name in (*OUR_LOGGERS, WARNINGS_LOGGER):
            undo.level(name, min(lowest, logging.getLogger(name).getEffectiveLevel()))
        if options.scpi_log is not None and command != "lot":  # a lot's instruments are its workers' (lot.py)
            from instruments.scpi_transcript import transcript_handler

            undo.handler(logging.getLogger(transcript_name), transcript_handler(str(options.scpi_log)))
            undo.level(transcript_name, logging.DEBUG)
        elif options.log_file is None:
            # -vv opens instruments.* up to DEBUG for the terminal, which never shows the transcript: not listening
            # to it saves a record per exchange
            undo.level(TRANSCRIPT_LOGGER, max(logging.INFO, logging.getLogger(TRANSCRIPT_LOGGER).level))
        undo.warnings_hook()
    except OSError as exc:
        undo.run()
        raise ConfigError("", f"{exc.filename or 'log file'}", f"cannot be written ({exc.strerror or exc})") from None
    except BaseException:
        undo.run()
        raise
    try:
        yield options
    finally:
        undo.run()


class _Undo:
    """What :func:`command_logging` changed, to put back in reverse order."""

    def __init__(self) -> None:
        self._steps: list[Any] = []

    def handler(self, logger: logging.Logger, handler: logging.Handler) -> None:
        logger.addHandler(handler)

        def remove() -> None:
            logger.removeHandler(handler)
            handler.close()
        self._steps.append(remove)

    def level(self, name: str, level: int) -> None:
        logger = logging.getLogger(name)
        previous = logger.level
        logger.setLevel(level)
        self._steps.append(lambda: logger.setLevel(previous))

    def warnings_hook(self) -> None:
        previous = warnings.showwarning
        warnings.showwarning = _show_warning
        self._steps.append(lambda: setattr(warnings, "showwarning", previous))

    def run(self) -> None:
        while self._steps:
            self._steps.pop()()
