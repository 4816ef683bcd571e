"""How far a board can be driven differentially before a device leaves its active region, from its prediction.

The large-signal prediction (:mod:`procedures.predict.distortion`) solves the whole DC circuit at each instant
of a sine drive and gives the least headroom of any device over the cycle: positive while every BJT's
base-collector junction stays below its forward edge and every MOSFET stays saturated, negative past it. The
largest drive with headroom >= 0 is the board's *linear drive limit*: at DC, the quasi-static transfer at
``vid`` is the cycle's peak at amplitude ``vid``, so the same limit bounds a DC transfer sweep. Past it the
measured gains describe a clipped board and the fits' device laws (forward active, saturated MOSFET) no
longer hold (Sedra & Smith, "Microelectronic Circuits", ch. 6 and 7: the BJT's and the MOSFET's regions of
operation).

A netlist board predicted by ngspice has no large-signal prediction here: its ``[limits] vid_max_vpk`` alone
bounds the drive.
"""

from __future__ import annotations

import numpy as np

from instruments.board_config import BoardConfig

GRID_POINTS = 24     # log-spaced drives from vid_max/1000 to vid_max, one vectorised prediction
BISECTIONS = 10      # then the edge bracketed to 2^-10 of its grid step (~0.03 % of the drive)
_CACHE_SIZE = 16
# limits already found, by the board's repr: a run plans a board several times (preflight, the plan's
# two passes, the printed plan line, a report's recompute), and a stage board's limit costs ~1 s to find
_limits: dict[str, float] = {}


def _headroom_v(board: BoardConfig, amps_vpk: np.ndarray) -> np.ndarray:
    from procedures.predict.prediction import predict

    return np.asarray(predict(board, np.array([1e3]), amps_vpk).large.min_headroom_v, float)


def linear_drive_limit_vpk(board: BoardConfig) -> float:
    """The largest differential drive (V peak, or V DC) up to the board's ``vid_max_vpk`` at which the prediction
    keeps every device in its active region (module docstring); ``vid_max_vpk`` for a board without a
    large-signal prediction, or when no drive on the grid is inside (the board is then refused elsewhere)."""
    key = repr(board)
    if key not in _limits:
        if len(_limits) >= _CACHE_SIZE:
            _limits.pop(next(iter(_limits)))
        _limits[key] = _find_limit_vpk(board)
    return _limits[key]


def _find_limit_vpk(board: BoardConfig) -> float:
    top = float(board.vid_max_vpk)
    if board.netlist is not None and board.netlist.prediction == "ngspice":
        return top
    amps = np.geomspace(top / 1000.0, top, GRID_POINTS)
    h = _headroom_v(board, amps)
    inside = np.nonzero(h >= 0)[0]
    if inside.size == 0 or inside[-1] == amps.size - 1:
        return top
    lo, hi = float(amps[inside[-1]]), float(amps[inside[-1] + 1])
    for _ in range(BISECTIONS):
        mid = float(np.sqrt(lo * hi))
        if _headroom_v(board, np.array([mid]))[0] >= 0:
            lo = mid
        else:
            hi = mid
    return lo
