"""Every shipped board's simulated distortion against ngspice's transient analysis, an independent solver.

The simulator's periodic steady state (``SimBoard.steady_state``: harmonic balance, 32 harmonics) and ngspice's
(``.tran`` to a settled periodic state, then the DFT of its last cycle, :mod:`procedures.predict.ngspice_transient`)
of the same board, driven as the amplitude sweep drives it (:func:`procedures.measure.excitation.differential`:
two generator channels 180 degrees apart around the bias, vid/2 peak each, behind the bench's generator
resistance; wiring (0, 1)). Compared: the THD of ``vod = vo1 - vo2`` over harmonics 2..K (K the sweep's
``[acquisition] harmonics``, :func:`models.distortion.thd_of`), the complex fundamental of vod and of the pins'
vid. Drives: 10 and 50 mV peak where ``vid_max_vpk`` allows 50 mV, else ``vid_max_vpk`` and a fifth of it.
A TOML board goes to ngspice as the engine's deck (``Netlist.spice_deck``), a netlist board as its own file.

Numerics (ngspice: gear order 2, step T/2048 throughout the analysed cycles, RELTOL 1e-6, VNTOL 1e-9 V):
  - truncation error: measured here for every case by halving N (T/1024); the difference bounds the error at
    N for any convergent scheme of order >= 1 (gear-2's error falls 4x per halving, so the true error is about
    a third of it). Seen: <= 5e-9 in THD (absolute) and <= 4e-7 relative in the fundamental.
  - Newton tolerance: RELTOL 1e-9 (TRTOL scaled up so that the step stays T/N) moves THD by <= 7e-10 and the
    fundamental by <= 1e-9 relative (checked off-line; on most boards the results do not change at all).
  - settling: the slowest natural time constant of the linearised driven board (``G^-1 C``; at most 6.2 us)
    sets the periods run before the two analysed cycles (transient down to 1e-9: one period at 1 kHz); the
    two cycles' difference, checked here, is <= 1e-11 in THD.
  - harmonic balance: 32 harmonics, Newton to 1e-12 relative. Harmonics 20..32 are below 1e-12 of the
    fundamental except where a transistor saturates (bjt-active-load at 5 mV, the undegenerated boards at
    50 mV: up to 4e-4); even there 16 harmonics instead of 32 move harmonics 1..9 by <= 4e-5 of the
    fundamental, so 32 are converged far below the tolerances.
  - models: the engine and ngspice differ in small details (ngspice's GMIN = 1e-12 S across each junction,
    the 2N3904 card's XTF, which the engine does not model): the small-signal Add of the ideal-source AC
    comparison differs by ~1e-6 at 1 kHz, the fundamental's level of agreement seen here; at bjt-active-load's
    clipping drive, GMIN 1e-12 -> 1e-15 S moves ngspice's THD by ~1.5e-5 relative.
Tolerances: THD within 1 % relative (ngspice's numeric error is >= 1e5 times smaller), or within 1e-7
absolute where the THD is below 1e-4 (the floor: >= 1e5 times every numeric error term above for those
cases, and 0.4 % of the smallest THD in the set, so they are compared about as strictly as the others); the
complex fundamentals of vod and vid within 0.05 % (>= 1000 times ngspice's numeric error). The test also
asserts that ngspice's numeric error estimate (halving + settling) stays below 1 % of each allowance, so a
tolerance is never eaten by numerics. ``pytest -s`` prints the table. Without ngspice the tests report
themselves skipped.
"""

from __future__ import annotations

import cmath
import math
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from instruments.bench_config import load_bench
from instruments.board_config import BoardConfig, load_board
from instruments.sim.board import Drive, SimBoard
from models.distortion import thd_of
from procedures.config.procedure import load_procedure
from procedures.measure.excitation import differential
from procedures.predict.ngspice_board import PINS
from procedures.predict.ngspice_transient import (
    PeriodicHarmonics,
    SineDrive,
    TransientSettings,
    periodic_harmonics,
    settle_periods,
    slowest_time_constant_s,
)

REPO = Path(__file__).resolve().parents[3]
BOARDS = sorted((REPO / "configs" / "boards").glob("*.toml"))
SWEEP = load_procedure(REPO / "configs" / "procedures" / "amplitude-sweep.toml")
FREQ_HZ = float(SWEEP.amplitude["frequency_hz"])
K = int(SWEEP.acquisition["harmonics"])
GEN_R_OHM = float(load_bench(REPO / "configs" / "benches" / "sim-keysight.toml").sim["gen_source_r_ohm"])
POINTS_PER_PERIOD = 2048
SETTLE_RESIDUAL = 1e-9
THD_RTOL = 1e-2
THD_SMALL = 1e-4
THD_FLOOR = 1e-7
FUND_RTOL = 5e-4
NUMERIC_SHARE = 1e-2
"""ngspice's numeric error estimate may use at most this share of an allowance."""

needs_ngspice = pytest.mark.skipif(shutil.which("ngspice") is None,
                                   reason="ngspice is not installed (Debian: apt-get install ngspice)")


def _drives_vpk(board: BoardConfig) -> tuple[float, float]:
    """10 and 50 mV peak when the board's vid_max_vpk allows them, else vid_max_vpk and a fifth of it."""
    vmax = board.vid_max_vpk
    return (0.01, 0.05) if vmax >= 0.05 else (vmax / 5.0, vmax)


CASES = [(p, k) for p in BOARDS for k in (0, 1)]
IDS = [f"{p.stem}-{1e3 * _drives_vpk(load_board(p))[k]:g}mV" for p, k in CASES]


@dataclass(frozen=True)
class Case:
    """One board at one drive: the simulator's harmonics 0..K of vod and vid, ngspice's (last cycle, previous
    cycle, and last cycle at half the points per period), the slowest time constant (s) and settle periods."""

    vid_vpk: float
    sim_vod: np.ndarray
    sim_vid: np.ndarray
    ng: PeriodicHarmonics
    ng_half: PeriodicHarmonics
    tau_s: float
    settle: int


def _vod(h: dict[str, np.ndarray]) -> np.ndarray:
    return h["out1"] - h["out2"]


def _ngspice(board: BoardConfig, vid_vpk: float, settle: int, n: int) -> PeriodicHarmonics:
    """ngspice's harmonics of the four pins, the board driven as the amplitude sweep drives it."""
    exc = differential(FREQ_HZ, vid_vpk, board.bias_v)
    drives = [SineDrive(pin, ch.offset_v, ch.amplitude_vpk, ch.phase_deg, GEN_R_OHM)
              for pin, ch in zip(("in1", "in2"), exc.channels)]
    settings = TransientSettings(points_per_period=n, settle_periods=settle)
    what = f"{board.name} at {1e3 * vid_vpk:g} mVpk (ngspice transient)"
    if board.netlist is not None:
        nb = board.netlist
        return periodic_harmonics(nb.text, nb.pins, drives, FREQ_HZ, K, settings, board.temperature_k,
                                  cwd=nb.folder, what=what)
    deck = SimBoard(board)._build(()).spice_deck(f"{board.name} (diffbench engine netlist)")
    return periodic_harmonics(deck.text, {p: deck.nodes[p] for p in PINS}, drives, FREQ_HZ, K, settings,
                              what=what)


def _board_cases(path: Path) -> list[Case]:
    """Both drives of one board: harmonic balance, and ngspice at N and N/2 points per period."""
    board = load_board(path)
    sim = SimBoard.from_config(board)
    system, x = sim._rest_system(GEN_R_OHM)  # the driven board at rest: where ngspice's transient starts
    tau = slowest_time_constant_s(system.jacobian(x), system.capacitance(x))
    settle = settle_periods(tau, FREQ_HZ, SETTLE_RESIDUAL)
    cases = []
    for vid in _drives_vpk(board):
        exc = differential(FREQ_HZ, vid, board.bias_v)
        drives = [Drive(ch.offset_v, ch.amplitude_vpk * cmath.exp(1j * math.radians(ch.phase_deg - 90.0)),
                        GEN_R_OHM) for ch in exc.channels]
        ss = sim.steady_state(FREQ_HZ, drives, (0, 1))
        vod = (ss.harmonics("out1") - ss.harmonics("out2"))[: K + 1]
        vid_h = (ss.harmonics("in1") - ss.harmonics("in2"))[: K + 1]
        cases.append(Case(vid, vod, vid_h, _ngspice(board, vid, settle, POINTS_PER_PERIOD),
                          _ngspice(board, vid, settle, POINTS_PER_PERIOD // 2), tau, settle))
    return cases


@pytest.fixture(scope="module")
def cache() -> dict[Path, list[Case]]:
    """Each board's cases, computed once (its first test runs the decks of both drives)."""
    return {}


@pytest.fixture(scope="module")
def table() -> Iterator[list[str]]:
    """Rows of the comparison, printed when the module's tests are done (``pytest -s`` shows it)."""
    rows: list[str] = []
    yield rows
    print(f"\nTHD of vod over harmonics 2..{K} at {FREQ_HZ:g} Hz, generator {GEN_R_OHM:g} Ohm: simulator "
          f"(harmonic balance) vs ngspice (.tran, gear, T/{POINTS_PER_PERIOD}, DFT of the last cycle)")
    print(f"{'board':20s} {'mVpk':>5s} {'THD sim %':>12s} {'THD ngspice %':>13s} {'THD err':>9s} "
          f"{'|vod1| sim V':>12s} {'vod1 err':>9s} {'vid1 err':>9s} {'num THD':>8s} {'num fund':>8s} "
          f"{'tau us':>7s} {'settle':>6s}")
    for r in rows:
        print(r)
    print("THD err: relative, or absolute (a) where the THD is below 1e-4; vod1/vid1 err: |complex difference| / "
          "|sim|; num: ngspice's numeric error estimate (N vs N/2, plus the last two cycles' difference), THD "
          "absolute, fundamental relative; settle: periods run before the two analysed cycles")


def _numeric(case: Case) -> tuple[float, float]:
    """ngspice's numeric error estimate of THD (absolute) and of vod1 (relative): the change on halving the
    points per period plus the change from the previous cycle to the last."""
    last, prev, half = _vod(case.ng.last), _vod(case.ng.previous), _vod(case.ng_half.last)
    t = float(thd_of(last))
    e_thd = abs(t - float(thd_of(half))) + abs(t - float(thd_of(prev)))
    e_fund = (abs(last[1] - half[1]) + abs(last[1] - prev[1])) / abs(last[1])
    return e_thd, e_fund


@needs_ngspice
@pytest.mark.parametrize("path, k", CASES, ids=IDS)
def test_thd_and_fundamental_match_ngspice(path: Path, k: int, cache: dict[Path, list[Case]],
                                           table: list[str]) -> None:
    """THD within 1 % (or 1e-7 absolute below a THD of 1e-4), vod's and vid's complex fundamentals within
    0.05 %, with ngspice's own numeric error below 1 % of each allowance."""
    if path not in cache:
        cache[path] = _board_cases(path)
    c = cache[path][k]
    ng_vod, ng_vid = _vod(c.ng.last), c.ng.last["in1"] - c.ng.last["in2"]
    thd_s, thd_n = float(thd_of(c.sim_vod)), float(thd_of(ng_vod))
    small = thd_s < THD_SMALL
    e_thd = thd_n - thd_s if small else thd_n / thd_s - 1.0
    allow_thd = THD_FLOOR if small else THD_RTOL
    e_fund = abs(ng_vod[1] - c.sim_vod[1]) / abs(c.sim_vod[1])
    e_vid = abs(ng_vid[1] - c.sim_vid[1]) / abs(c.sim_vid[1])
    num_thd, num_fund = _numeric(c)
    table.append(f"{path.stem:20s} {1e3 * c.vid_vpk:5.1f} {100 * thd_s:12.7f} {100 * thd_n:13.7f} "
                 f"{e_thd:+8.1e}{'a' if small else ' '} {abs(c.sim_vod[1]):12.6f} {e_fund:9.1e} {e_vid:9.1e} "
                 f"{num_thd:8.1e} {num_fund:8.1e} {1e6 * c.tau_s:7.3f} {c.settle:6d}")
    assert abs(e_thd) < allow_thd, f"THD: sim {thd_s:.6e}, ngspice {thd_n:.6e}"
    assert e_fund < FUND_RTOL, f"vod1: sim {c.sim_vod[1]:.6g}, ngspice {ng_vod[1]:.6g}"
    assert e_vid < FUND_RTOL, f"vid1: sim {c.sim_vid[1]:.6g}, ngspice {ng_vid[1]:.6g}"
    assert num_thd < NUMERIC_SHARE * allow_thd * (1.0 if small else thd_s), f"ngspice THD numerics {num_thd:.1e}"
    assert num_fund < NUMERIC_SHARE * FUND_RTOL, f"ngspice fundamental numerics {num_fund:.1e}"
