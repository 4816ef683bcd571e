"""``diffbench run PROCEDURE.toml --bench BENCH.toml --board BOARD.toml -o run.h5 [--resume FILE]``.

Runs one procedure with a progress bar (tqdm: a maintained progress-bar library, so we do not write our
own terminal handling), prints a summary table at the end, and exits with the status of
:data:`EXIT_CODES`. With a simulated bench config it starts the simulator itself. Log records and warnings
reach the terminal through ``tqdm.write`` (:mod:`procedures.cli.logging_options`), so they never land inside
the bar; the bar is closed at the last point, so it is left once, complete.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from procedures.cli.run_summary import summary_lines

if TYPE_CHECKING:
    from collections.abc import Callable

    from procedures.run.preflight import RunPlan
    from procedures.run.session import FinishedPoint

#: the exit-status contract of ``diffbench run`` (README and ``--help`` say the same)
EXIT_CODES = (
    (0, "complete, and every [pass_fail] limit of the board met"),
    (3, "complete, but a limit failed"),
    (2, "bad input (configs, limits, paths, an operator step with no terminal): nothing was opened or switched on"),
    (1, "the run failed after it started (instrument error, lost connection, disk): outputs off, archive 'failed'"),
    (128 + 2, "interrupted by a signal, 128 + its number: 130 Ctrl-C (SIGINT), 143 SIGTERM, 129 SIGHUP; "
              "outputs off, archive 'aborted', --resume finishes it"),
)
EPILOG = "exit status:\n" + "\n".join(f"  {code:>3}  {text}" for code, text in EXIT_CODES)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("procedure", help="procedure config (configs/procedures/*.toml)")
    p.add_argument("--bench", required=True, help="bench config (configs/benches/*.toml)")
    p.add_argument("--board", required=True, help="board config (configs/boards/*.toml)")
    p.add_argument("-o", "--output", required=True, help="archive to write (HDF5, e.g. run.h5)")
    p.add_argument("--resume", metavar="FILE", help="finish an interrupted run from its archive (.h5 or .h5.partial)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--sim-board", metavar="TOML",
                   help="simulated bench only: put this board config on the bench instead of --board, which the "
                        "run is still judged and fitted against (a deliberately faulty board)")
    p.add_argument("--live", action="store_true",
                   help="serve a live page of the run on 127.0.0.1 (Bode plots, the latest waveforms) that fills in "
                        "as points are committed; its address is printed once (docs/live-view.md)")
    p.add_argument("--live-port", type=int, metavar="PORT",
                   help="port of the live page (default: a free one); implies --live")


def plan_decision_line(plan: RunPlan) -> str | None:
    """The plan's crosstalk calibration decision and its reason (procedures.measure.calibration_plan), as
    preflight made it for this bench; None for a procedure without a frequency sweep (nothing to decide)."""
    from procedures.config.procedure import sweeps_of

    if "frequency_sweep" not in sweeps_of(plan.procedure.kind) or plan.calibration is None:
        return None
    return plan.calibration.line


def _print_plan(plan: RunPlan) -> None:
    from procedures.config.procedure import sweeps_of
    from procedures.measure.drive_plan import chosen_line

    for line in (plan_decision_line(plan), chosen_line(plan.procedure, plan.board, sweeps_of(plan.procedure.kind))):
        if line:
            print(f"diffbench run: plan: {line}", flush=True)


def run(args: argparse.Namespace) -> int:
    """Preflight (a problem: one line, exit 2, via cli.main), run, print the summary; returns the exit status."""
    from procedures.run.safety import StopSignals, exit_code_of

    with StopSignals():  # a signal while the run's modules load is held until they are (then exit 128 + n)
        from tqdm import tqdm

        from instruments.errors import DiffbenchError
        from procedures.run.runner import execute, preflight
    plan = preflight(args.procedure, args.bench, args.board, args.output, resume=args.resume,
                     sim_board=args.sim_board)
    _print_plan(plan)
    stop_live = _start_live(args, plan)
    progress = ProgressBar(shown=not args.no_progress, make=tqdm)
    try:
        outcome = execute(plan, on_point=progress)
    except KeyboardInterrupt as exc:  # RunInterrupted (or a Ctrl-C before the handlers were installed)
        _say(f"diffbench run: {exc or 'interrupted'}: generator outputs off{_archive_note(plan.out, 'aborted')}", exc)
        return exit_code_of(exc)
    except (DiffbenchError, OSError) as exc:
        _say(f"diffbench run: error: {exc}{_archive_note(plan.out, 'failed')}", exc)
        return 1
    finally:
        progress.close()
        stop_live()  # once a watching page has shown the run's final status
    kind = plan.procedure.kind
    print(f"diffbench run: {outcome.status}: {outcome.path}"
          + (f" ({outcome.n_skipped} of {outcome.n_points} points carried over from {args.resume})"
             if args.resume else ""))
    for line in summary_lines(kind, outcome.results):
        print(line)
    if outcome.fits:
        from procedures.cli.fit import format_parameters

        print("model fits (fitted parameters against the board config):")
        for fit in outcome.fits:
            for line in format_parameters(fit):
                print(line)
    if outcome.verdicts:
        from procedures.analysis.verdicts import format_verdicts

        print("limits (board config [pass_fail]):")
        for line in format_verdicts(outcome.verdicts):
            print(line)
    if outcome.status != "complete":
        return 1
    return 0 if outcome.passed else 3


def _start_live(args: argparse.Namespace, plan: RunPlan) -> Callable[[], None]:
    """Start the live page's process when ``--live`` or ``--live-port`` asks for one and return what stops it
    (nothing to stop otherwise); the port is bound before anything is opened (in use: one line, exit 2), and
    the page's address printed once."""
    if not args.live and args.live_port is None:
        return lambda: None
    from procedures.live.launch import start_for_run

    live = start_for_run(args.live_port or 0, plan.out)
    print(f"diffbench run: live view: {live.url}", flush=True)
    return live.stop


class ProgressBar:
    """The run's progress bar on stderr (``make`` is tqdm's class): made at the first finished point and closed at
    the last, before results and fits are computed, so it is left once, complete, above anything they log."""

    def __init__(self, *, shown: bool, make: Callable[..., Any]) -> None:
        self.shown = shown
        self.make = make
        self.bar: Any = None

    def __call__(self, point: FinishedPoint) -> None:
        """Show ``point`` finished: the count, the total and the point's label."""
        if not self.shown:
            return
        if self.bar is None:
            self.bar = self.make(total=point.total, unit="pt", file=sys.stderr, dynamic_ncols=True, leave=True)
        if self.bar.total != point.total:
            self.bar.total = point.total
        self.bar.n = point.done
        self.bar.set_postfix_str(point.label)
        self.bar.refresh()
        if point.done >= point.total:
            self.close()

    def close(self) -> None:
        """Close the bar, leaving it drawn (idempotent)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _say(line: str, exc: BaseException) -> None:
    """The one line that ends a run that did not complete, then any clean-up problem noted on its error (both also
    in the --log-file, with the error's traceback)."""
    import logging

    from procedures.cli.logging_options import FILE_ONLY

    notes = "".join(f"; also: {note}" for note in getattr(exc, "__notes__", []))
    logging.getLogger(__name__).error("%s%s", line, notes, exc_info=exc, extra=FILE_ONLY)
    try:
        print(line.splitlines()[0] if line else line, file=sys.stderr)
        for note in getattr(exc, "__notes__", []):
            print(f"  also: {note}", file=sys.stderr)
    except OSError:  # the terminal is gone (SIGHUP): the archive holds the reason
        pass


def _archive_note(out: Any, status: str) -> str:
    """``; archive run.h5 is 'failed', --resume run.h5 finishes it`` when the run got as far as an archive."""
    from procedures.archive.files import partial_path_of

    for path in (out, partial_path_of(out)):
        if path.exists():
            return f"; archive {path} is '{status}', --resume {path} finishes it"
    return ""
