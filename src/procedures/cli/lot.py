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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
                                        "limits, Bode overlays, Pareto of failures, per-bench comparison.")
    report.add_argument("lot", help="lot config (configs/lots/*.toml)")
    report.add_argument("-o", "--out", default=None, help="the lot's folder (default out/lots/<lot name>)")


def _folder(lot_name: str, out: str | None) -> Path:
    return Path(out) if out else Path("out") / "lots" / lot_name.replace(" ", "_")


def run(args: argparse.Namespace) -> int:
    """``lot run``: run the lot, print its summary and write its report; the exit status says whether every
    unit passed. ``lot report``: the report alone."""
    from procedures.lot.config import load_lot

    lot = load_lot(args.lot)
    out = _folder(lot.name, args.out)
    if args.lot_command == "report":
        return _report(lot, out)
    from procedures.lot.lot_index_writer import open_lot_index
    from procedures.lot.lot_run import preflight_lot, run_lot

    preflight_lot(lot)
    out.mkdir(parents=True, exist_ok=True)
    with open_lot_index(lot, out) as writer:
        outcome = run_lot(lot, out, writer.record, writer.done(), scheduler=args.scheduler)
        summary = writer.summary()
        passed = writer.all_passed()
    print(summary)
    print(f"index: {outcome.index}")
    _report(lot, out)
    return 0 if not outcome.failed and passed else 3


def _report(lot: LotConfig, out: Path) -> int:
    """Write the lot's report from its folder ``out``; one line if there is no lot index there."""
    from instruments.errors import ConfigError
    from procedures.lot.lot_report import write_lot_report
    from procedures.lot.lot_run import INDEX_NAME

    if not (out / INDEX_NAME).exists():
        raise ConfigError(str(out), None, "no lot index here: run the lot first (diffbench lot run)")
    files = write_lot_report(out, out / "report", lot.board)
    print(f"report: {files[-1]}")
    return 0
