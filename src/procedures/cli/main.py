"""The ``diffbench`` command line: one subcommand per job, each in a module of its own.

Every subcommand module exposes ``add_arguments(parser)`` and ``run(args) -> int`` (or, when one module
serves several subcommands, ``add_arguments_<name>`` and ``run_<name>``). Subcommand modules keep their
top-level imports light (the parser imports all of them); heavy imports go inside ``run``. Errors diffbench
raises on purpose (:class:`~instruments.errors.DiffbenchError`) are printed as one line on stderr with
exit status 2; nothing else is caught, so a bug still shows its traceback. Every command takes the logging options
(``-v``, ``--log-file``, ``--scpi-log``, :mod:`procedures.cli.logging_options`), before or after its name.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from instruments.errors import DiffbenchError
from procedures.cli.logging_options import FILE_ONLY, add_logging_options, command_logging

log = logging.getLogger(__name__)

# name -> (module, one-line help). Modules are imported only when their subcommand runs, so
# ``diffbench predict`` does not pay for pyvisa and ``diffbench sim`` does not pay for plotting.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("procedures.cli.run", "run a procedure on a bench (real or simulated) and archive it"),
    "predict": ("procedures.cli.predict", "predict a board's gains, CMRR and distortion from its components"),
    "sim": ("procedures.cli.sim", "serve the simulated bench (generator, board, scope) on loopback VISA sockets"),
    "list": ("procedures.cli.instruments", "list the VISA resources pyvisa can see and what answers *IDN?"),
    "identify": ("procedures.cli.instruments", "name the driver diffbench would use for a VISA resource"),
    "report": ("procedures.cli.report", "write Bode plots and a one-page summary of an archived run"),
    "fit": ("procedures.cli.fit", "refit an archived run against the circuit models (no hardware)"),
    "watch": ("procedures.cli.watch", "serve a live page of a run archive as it grows (127.0.0.1 only)"),
    "lot": ("procedures.cli.lot", "measure a production lot over many benches (Dask distributed) and index it"),
}


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("diffbench")
    except Exception:  # not installed (running from a source tree)
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="diffbench", description="Characterise differential-pair amplifier boards.")
    parser.add_argument("--version", action="version", version=f"diffbench {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module, _name=name)
        mod = importlib.import_module(module)
        adder = getattr(mod, f"add_arguments_{name}", None) or mod.add_arguments
        adder(p)
    add_logging_options(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        mod = importlib.import_module(args._module)
    except KeyboardInterrupt as exc:  # Ctrl-C while the command is still starting
        from procedures.run.safety import exit_code_of

        print("diffbench: interrupted", file=sys.stderr)
        return exit_code_of(exc)
    runner = getattr(mod, f"run_{args._name}", None) or mod.run
    try:
        with command_logging(args, args._name):  # log files are checked and opened before the command starts
            try:
                return int(runner(args) or 0)
            except DiffbenchError as exc:
                log.error("diffbench %s: %s", args._name, exc, extra=FILE_ONLY)  # the log file says how it ended
                raise
    except DiffbenchError as exc:
        print(f"diffbench {args._name}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C, or a stop signal (procedures.run.safety) before a run began
        from procedures.run.safety import exit_code_of

        print(f"diffbench {args._name}: {exc or 'interrupted'}", file=sys.stderr)
        return exit_code_of(exc)
    except OSError as exc:  # a disk full, a folder that cannot be written: the system's own one line
        print(f"diffbench {args._name}: error: {exc}", file=sys.stderr)
        return 1


def entry() -> None:
    """The ``diffbench`` console command: :func:`main`, then exit with its status.

    Once the command has done its work (outputs off, archive closed), a late Ctrl-C must not raise a
    ``KeyboardInterrupt`` into the interpreter's shutdown (where it can crash extension modules): SIGINT
    goes back to the system's default action, which ends the process at once, as the shell's 130.
    """
    import signal

    code = main()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
