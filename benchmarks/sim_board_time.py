"""The simulated board's time per acquisition, for every shipped board, against the resistive-load pair.

What one acquisition costs the simulator is one periodic steady state of the board under the generator's drive
(harmonic balance; the scope then only samples the solution). Each board is solved as the frequency sweep drives
it: differential (two channels, +-vid/2 at the board's bias behind 50 Ohm) and common mode (both channels in
phase), at 1 kHz and 100 kHz, 32 harmonics, with the board's cache cleared so every call solves. Reference,
measured in the same run and doing the same work: ``bjt-source-text`` (the resistive-load pair). The target
(issue 12): no board more than 3x the reference.

Run: ``.venv/bin/python benchmarks/sim_board_time.py [--repeats 5]``. Prints one line per board: median ms per
solve and the ratio to the reference. The repeats are interleaved across the boards (all boards, then all again),
so the boards and the reference are timed under the same load from other processes.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from instruments.board_config import BoardConfig, load_board
from instruments.sim.board import Drive, SimBoard

BOARDS = Path(__file__).resolve().parents[1] / "configs" / "boards"
REFERENCE = "bjt-source-text"
GENERATOR_R_OHM = 50.0


def _drives(board: BoardConfig) -> list[tuple[list[Drive], tuple[int, int]]]:
    """(drives, wiring) of a differential and a common-mode point at the board's bias, a fifth of its limits."""
    vid, vic = board.vid_max_vpk / 5.0, board.vic_max_vpk / 5.0
    dm = [Drive(board.bias_v, vid / 2, GENERATOR_R_OHM), Drive(board.bias_v, -vid / 2, GENERATOR_R_OHM)]
    cm = [Drive(board.bias_v, vic, GENERATOR_R_OHM), Drive(board.bias_v, vic, GENERATOR_R_OHM)]
    return [(dm, (0, 1)), (cm, (0, 1))]


def time_once(board: BoardConfig) -> float:
    """Seconds per steady-state solve of ``board``, one pass over its points (every solve from an empty cache)."""
    sim = SimBoard(board)
    sim.operating_point()  # the DC point is solved once per drive level on a bench too: not timed
    t0 = time.perf_counter()
    n = 0
    for f in (1e3, 1e5):
        for drives, wiring in _drives(board):
            sim.steady_state(f, drives, wiring)
            n += 1
    return (time.perf_counter() - t0) / n


def time_boards(boards: dict[str, BoardConfig], repeats: int) -> dict[str, float]:
    """Median seconds per steady-state solve of each board. The repeats go round the boards (every board once,
    then again), so that a burst of load from other processes falls on all boards alike rather than on
    whichever board happened to be timed during it."""
    times: dict[str, list[float]] = {name: [] for name in boards}
    for _ in range(repeats):
        for name, board in boards.items():
            times[name].append(time_once(board))
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    paths = sorted(BOARDS.glob("*.toml"))
    results = time_boards({p.stem: load_board(p) for p in paths}, args.repeats)
    ref = results[REFERENCE]
    print(f"simulated board, one acquisition's steady state (median of {args.repeats}), reference {REFERENCE}")
    print(f"{'board':<22} {'ms':>8} {'x ref':>7}")
    for name, t in sorted(results.items(), key=lambda kv: kv[1]):
        print(f"{name:<22} {1e3 * t:>8.2f} {t / ref:>7.2f}")
    worst = max(results, key=lambda k: results[k])
    print(f"slowest: {worst}, {results[worst] / ref:.2f}x the reference (target <= 3x)")


if __name__ == "__main__":
    main()
