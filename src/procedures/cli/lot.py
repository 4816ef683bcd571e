"""``diffbench lot run LOT.toml``: measure a production lot over its benches (Dask distributed), index it and
write its report; ``diffbench lot report LOT.toml``: the report again, from the lot's folder.

``-o DIR`` (default: the lot's name, beside the lot config's folder ``out/lots/<name>``) holds the lot: each
unit's run archive ``units/<serial>.h5`` (a drawn unit's board beside it, ``units/<serial>.board.toml``) and the
lot index ``index.h5``, one row per event of a unit (``procedures.lot.index``). Run the same command again
after an interruption: units already done are not measured again, a unit cut short resumes from its archive.
``--scheduler tcp://host:8786`` attaches to a running scheduler whose workers are the benches' PCs (docs/lots.md);
without it a local cluster with one worker per ``[benches]`` entry starts by itself.

A bad lot config (unknown board, tolerance out of range, duplicate serial) or a scheduler that does not answer
is one line on stderr and exit status 2, before any worker or instrument is touched. Exit status 3 when a unit
failed its limits or could not be measured, 0 when every unit passed.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from instruments.board_config import BoardConfig
    from procedures.lot.config import LotConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``lot run LOT.toml [-o DIR] [--scheduler ADDRESS]``."""
    sub = parser.add_subparsers(dest="lot_command", metavar="ACTION", required=True)
    run = sub.add_parser("run", help="measure every unit of a lot not measured yet, over its benches",
                         description="Measure every unit of a lot not measured yet, over its benches.")
    run.add_argument("lot", help="lot config (configs/lots/*.toml)")
    run.add_argument("-o", "--out", default=None, help="the lot's folder (default out/lots/<lot name>)")
    run.add_argument("--scheduler", default=None,
                     help="address of a running Dask scheduler whose workers are the benches (tcp://host:8786); "
                          "default: a local cluster, one worker per bench")
    report = sub.add_parser("report", help="write a lot's report (figures and a page) from its folder",
                            description="Write a lot's report from its folder: histograms and run charts with the "
                                        "limits, Bode overlays, Pareto of failures, per-bench comparison. With "
                                        "--archives, of any run archives (summarised in parallel on Dask).")
    report.add_argument("lot", nargs="?", default=None, help="lot config (configs/lots/*.toml)")
    report.add_argument("-o", "--out", default=None, help="the lot's folder (default out/lots/<lot name>)")
    _reanalysis_arguments(report)
    refit = sub.add_parser("refit", help="refit a lot's archives (or any run archives) in parallel into new copies "
                                         "and update the index",
                           description="Refit every measured unit's run archive in parallel on Dask, judge its "
                                       "verdicts again against the lot's board config, write each into a new copy "
                                       "(refits/<UTC time>/<serial>.h5; the archives are never modified) and append "
                                       "a 'refitted' row per unit to the lot index; then the report.")
    refit.add_argument("lot", nargs="?", default=None, help="lot config (configs/lots/*.toml)")
    refit.add_argument("-o", "--out", default=None, help="the lot's folder (default out/lots/<lot name>); with "
                                                         "--archives, the folder of the copies and their index")
    refit.add_argument("--fit", metavar="TOML", default=None,
                       help="procedure config (or a file with a [fit] table) whose [fit] options to use "
                            "(default: each run's own)")
    _reanalysis_arguments(refit)


def _reanalysis_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--archives", nargs="+", metavar="H5", default=None,
                        help="any run archives instead of a lot's (serials are their file names; -o is needed)")
    parser.add_argument("--workers", type=int, default=None,
                        help="local worker processes (default: one per core, at most one per archive)")
    parser.add_argument("--scheduler", default=None,
                        help="address of a running Dask scheduler whose workers see the archives (tcp://host:8786)")


def _folder(lot_name: str, out: str | None) -> Path:
    return Path(out) if out else Path("out") / "lots" / lot_name.replace(" ", "_")


def run(args: argparse.Namespace) -> int:
    """``lot run``: run the lot, print its summary and write its report; the exit status says whether every
    unit passed. ``lot report``: the report alone. ``lot refit``: the archives refitted, then the report."""
    from instruments.errors import ConfigError, DiffbenchError
    from procedures.lot.config import load_lot

    if args.lot_command in ("report", "refit") and args.archives:
        return _archives(args)
    if args.lot is None:
        raise ConfigError("lot", None, "give a lot config, or --archives and -o")
    lot = load_lot(args.lot)
    out = _folder(lot.name, args.out)
    if args.lot_command == "report":
        return _report(lot.board, out)
    if args.lot_command == "refit":
        return _refit_lot(lot, out, args)
    from procedures.cli.logging_options import LoggingOptions
    from procedures.lot.lot_index_writer import open_lot_index
    from procedures.lot.lot_run import preflight_lot, run_lot
    from procedures.lot.runner import UnitOutcome
    from procedures.lot.units import PlannedUnit
    from procedures.run.safety import StopSignals

    preflight_lot(lot)
    made = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        # a stop signal ends the lot where it waits (its workers then stop their units safely: procedures.lot.
        # worker_guard), never in the middle of an index row
        with StopSignals() as signals, open_lot_index(lot, out) as writer:
            def record(unit: PlannedUnit, outcome: UnitOutcome) -> None:
                with signals.held():
                    writer.record(unit, outcome)

            with signals.armed():
                outcome = run_lot(lot, out, record, writer.done(), scheduler=args.scheduler,
                                  running_yield=writer.running_yield, scpi_log=LoggingOptions.of(args).scpi_log)
            summary = writer.summary()
            passed = writer.all_passed()
    except DiffbenchError:  # refused before any unit (a scheduler that does not answer): leave no folder behind
        if made and not any(out.iterdir()):
            out.rmdir()
        raise
    print(summary)
    print(f"index: {outcome.index}")
    _report(lot.board, out)
    return 0 if not outcome.failed and passed else 3


def _workers(args: argparse.Namespace, n_archives: int) -> int:
    from instruments.errors import ConfigError
    from procedures.lot.lot_refit import default_workers

    if args.workers is not None and args.workers < 1:
        raise ConfigError("--workers", None, f"must be at least 1, got {args.workers}")
    return args.workers or default_workers(n_archives)


def _fit_options(args: argparse.Namespace) -> dict[str, Any] | None:
    from procedures.fitting.refit import fit_options_file

    return fit_options_file(args.fit) if getattr(args, "fit", None) else None


def _refit_lot(lot: LotConfig, out: Path, args: argparse.Namespace) -> int:
    """Refit the lot in ``out`` on a local cluster (or ``--scheduler``), then write its report."""
    from instruments.errors import ConfigError
    from procedures.lot.index import read_index
    from procedures.lot.lot_refit import refit_client
    from procedures.lot.lot_run import INDEX_NAME
    from procedures.lot.reanalysis import refit_lot

    if not (out / INDEX_NAME).exists():
        raise ConfigError(str(out), None, "no lot index here: run the lot first (diffbench lot run)")
    options = _fit_options(args)
    n = len(set(read_index(out / INDEX_NAME)["serial"]))
    with refit_client(_workers(args, n), args.scheduler) as client:
        _say_dashboard(client, args.scheduler is None)
        done = refit_lot(out, client, options=options, judge_board=str(lot.board_path))
    print(f"refitted {len(done.indexed)} units into {done.folder}"
          + (f"; {len(done.failed)} could not be refitted" if done.failed else ""))
    print(f"index: {done.index}")
    _report(lot.board, out)
    return 0 if not done.failed and _all_passed(done.index) else 3


def _archives(args: argparse.Namespace) -> int:
    """``lot report|refit --archives A.h5 ... -o DIR``: any archives summarised (or refitted) into DIR's index,
    then the report, judged against the lot's board config when a lot is given, else the first archive's."""
    from instruments.errors import ConfigError
    from procedures.lot.lot_refit import refit_client
    from procedures.lot.reanalysis import index_archives

    if args.out is None:
        raise ConfigError("--archives", None, "give the folder of the index and report with -o")
    board = None
    if args.lot is not None:
        from procedures.lot.config import load_lot

        board = load_lot(args.lot)
    options = _fit_options(args)
    refit = args.lot_command == "refit"
    out = Path(args.out)
    with refit_client(_workers(args, len(args.archives)), args.scheduler) as client:
        _say_dashboard(client, args.scheduler is None)
        done = index_archives(args.archives, out, client, refit=refit, options=options,
                              judge_board=str(board.board_path) if board else None)
    verb = "refitted" if refit else "summarised"
    print(f"{verb} {len(done.indexed)} archives" + (f" into {done.folder}" if done.folder else "")
          + (f"; {len(done.failed)} could not be" if done.failed else ""))
    print(f"index: {done.index}")
    if not done.indexed:
        return 3
    _report(board.board if board else _first_board(out), out)
    return 0 if not done.failed and _all_passed(done.index) else 3


def _first_board(out: Path) -> BoardConfig:
    """The board config archived with the first archive of the index in ``out`` (the limits of a report of
    bare archives)."""
    from procedures.archive.reader import open_run
    from procedures.fitting.run_fits import board_of
    from procedures.lot.index import read_index
    from procedures.lot.lot_run import INDEX_NAME

    first = str(read_index(out / INDEX_NAME)["archive"][0])
    with open_run(first) as run:
        return board_of(run)


def _all_passed(index: Path) -> bool:
    """Whether every unit's current row in the lot index at ``index`` passed every verdict."""
    from procedures.lot.index import current_rows, read_index

    cols = read_index(index)
    return all(int(cols["passed"][i]) == 1 for i in current_rows(cols))


def _say_dashboard(client: Any, local: bool) -> None:
    from procedures.lot.progress import dashboard_line

    line = dashboard_line(client, local=local)
    if line:
        print(line)


def _report(board: BoardConfig, out: Path) -> int:
    """Write the lot's report from its folder ``out``; one line if there is no lot index there."""
    from instruments.errors import ConfigError
    from procedures.lot.lot_report import write_lot_report
    from procedures.lot.lot_run import INDEX_NAME

    if not (out / INDEX_NAME).exists():
        raise ConfigError(str(out), None, "no lot index here: run the lot first (diffbench lot run)")
    files = write_lot_report(out, out / "report", board)
    print(f"report: {files[-1]}")
    return 0
