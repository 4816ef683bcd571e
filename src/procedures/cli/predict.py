"""``diffbench predict BOARD.toml``: the models' predictions for a board, as a table or as JSON.

Imports stay light at module level (``procedures.cli.main`` imports every subcommand module to build its parser);
numpy, scipy and the models load inside :func:`run`.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from instruments.board_config import BoardConfig


def _positive_float(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(x) and x > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return x


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return n


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``diffbench predict``."""
    parser.add_argument("board", help="board config (configs/boards/*.toml)")
    parser.add_argument("--fmin", type=_positive_float, default=10.0, metavar="HZ",
                        help="lowest frequency of the gain table (default 10 Hz)")
    parser.add_argument("--fmax", type=_positive_float, default=10e6, metavar="HZ",
                        help="highest frequency of the gain table (default 10 MHz)")
    parser.add_argument("--points-per-decade", type=_positive_int, default=2, metavar="N",
                        help="log-spaced frequencies per decade (default 2)")
    parser.add_argument("--amplitudes", type=_positive_float, nargs="+", metavar="VPK",
                        help="differential peak amplitudes (V) for the distortion table "
                             "(default: a 1-2-5 series up to the board's vid_max_vpk)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead of tables (keys: docs/predict-json.md)")


def _run_ngspice(board: BoardConfig, freq: np.ndarray, as_json: bool) -> int:
    """The ngspice prediction of a netlist board with no closed-form family (one line if ngspice is missing)."""
    import json

    from procedures.predict.netlist_prediction import format_netlist_report, netlist_json, predict_netlist

    pred = predict_netlist(board, freq)
    print(json.dumps(netlist_json(pred), indent=1, allow_nan=False) if as_json else format_netlist_report(pred))
    return 0


def run(args: argparse.Namespace) -> int:
    """Load the board, predict, print; a bad config raises ConfigError (one line, exit 2, from ``cli.main``)."""
    import json

    import numpy as np

    from instruments.board_config import load_board
    from procedures.predict.json_report import to_json
    from procedures.predict.prediction import log_frequencies, predict
    from procedures.predict.text import format_report

    if args.fmax < args.fmin:
        print(f"diffbench predict: error: --fmax ({args.fmax:g} Hz) is below --fmin ({args.fmin:g} Hz)",
              file=sys.stderr)
        return 2
    board = load_board(args.board)
    freq = log_frequencies(args.fmin, args.fmax, args.points_per_decade)
    if board.netlist is not None and board.netlist.prediction == "ngspice":
        return _run_ngspice(board, freq, args.json)
    amps = None if args.amplitudes is None else np.array(args.amplitudes)
    pred = predict(board, freq, amps)
    if args.json:
        print(json.dumps(to_json(pred), indent=1, allow_nan=False))
    else:
        print(format_report(pred))
    return 0
