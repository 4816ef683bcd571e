"""THD and fundamental of the quasi-static cycle model against the simulated board's periodic steady state.

The model (:mod:`models.cycle_transfer`: the whole DC circuit solved at each instant of the cycle, device laws
valid past saturation/triode) and the simulator (``SimBoard.steady_state``: harmonic balance of the
transistor-level netlist, its capacitances included, at the amplitude sweep's frequency) are independent
solutions of the same board. Both are driven as the amplitude sweep drives it
(:func:`procedures.measure.excitation.differential`: two generator channels 180 degrees apart around the bias,
EMFs of vid/2 peak at the High-Z setting, behind the bench's generator output resistance, each pin also tied to
the bias rail by the board's bias resistor), and the THD is the analysis's
(:func:`procedures.analysis.differential_gain.output_thd`): of ``vod = vo1 - vo2`` over harmonics 2..K, K the
sweep's ``[acquisition] harmonics``. ``pytest -s`` prints the table.
"""

from __future__ import annotations

import cmath
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from instruments.bench_config import load_bench
from instruments.board_config import BoardConfig, load_board
from instruments.sim.board import Drive, SimBoard
from models.cycle_transfer import differential_cycle
from models.distortion import thd_of
from models.full_region_dc import InputNetwork
from procedures.config.procedure import load_procedure
from procedures.measure.excitation import differential
from procedures.predict.distortion import cycle_load
from procedures.predict.mapping import dc_pair

REPO = Path(__file__).resolve().parents[2]
SWEEP = load_procedure(REPO / "configs" / "procedures" / "amplitude-sweep.toml")
FREQ_HZ = float(SWEEP.amplitude["frequency_hz"])
K = int(SWEEP.acquisition["harmonics"])
GEN_R_OHM = float(load_bench(REPO / "configs" / "benches" / "sim-keysight.toml").sim["gen_source_r_ohm"])
RESISTIVE = ("bjt-source-text", "bjt-degenerated", "bjt-cmrr-100db", "mos-resistive")
CASES = [(b, a) for b in RESISTIVE for a in (0.01, 0.05)] + [("bjt-active-load", a) for a in (0.002, 0.005)]
THD_RTOL = 5e-3
FUND_RTOL = 5e-4


@pytest.fixture(scope="module")
def table() -> Iterator[list[str]]:
    """Rows of the comparison, printed when the module's tests are done (``pytest -s`` shows it)."""
    rows: list[str] = []
    yield rows
    print(f"\nTHD of vod over harmonics 2..{K} at {FREQ_HZ:g} Hz, generator {GEN_R_OHM:g} Ohm: model "
          "(quasi-static, whole circuit) vs simulator (harmonic balance)")
    print(f"{'board':17s} {'mVpk':>5s} {'THD sim %':>12s} {'THD model %':>12s} {'rel err':>10s} "
          f"{'|vod1| sim V':>12s} {'|vod1| mod V':>12s} {'rel err':>10s}")
    for r in rows:
        print(r)


def _sim(board: BoardConfig, vid_vpk: float) -> tuple[np.ndarray, np.ndarray]:
    """Harmonics 0..K of vod and of the pins' vid in the simulator's steady state, the board driven as the
    amplitude sweep drives it (a sine ``A sin(wt + phi)`` is the phasor ``A e^{j(phi - 90 deg)}``)."""
    exc = differential(FREQ_HZ, vid_vpk, board.bias_v)
    drives = [Drive(ch.offset_v, ch.amplitude_vpk * cmath.exp(1j * math.radians(ch.phase_deg - 90.0)), GEN_R_OHM)
              for ch in exc.channels]
    ss = SimBoard.from_config(board).steady_state(FREQ_HZ, drives, (0, 1))
    vod = ss.harmonics("out1") - ss.harmonics("out2")
    vid = ss.harmonics("in1") - ss.harmonics("in2")
    return vod[: K + 1], vid[: K + 1]


@pytest.mark.parametrize("name, vid_vpk", CASES)
def test_thd_and_fundamental_match_the_simulators_steady_state(name: str, vid_vpk: float, table: list[str]) -> None:
    """THD of vod within 0.5 % (relative) and its fundamental within 0.05 % of the simulator's, at 10 and 50 mV
    peak (resistive loads; a BJT saturates at 50 mV on the undegenerated boards) and at 2 and 5 mV on the
    active-load board (its vid_max_vpk: the output clips there); the pins' vid within 0.05 % as well."""
    board = load_board(REPO / "configs" / "boards" / f"{name}.toml")
    load = cycle_load(board)
    assert load is not None
    pair, tail = dc_pair(board)
    net = InputNetwork(r_drive=GEN_R_OHM, r_bias=board.bias_r_ohm, v_bias=board.bias_v)
    cyc = differential_cycle([vid_vpk], board.bias_v, pair, tail, load, inputs=net, n_harmonics=K)
    vod_s, vid_s = _sim(board, vid_vpk)
    thd_m, thd_s = float(cyc.thd("vod")[0]), float(thd_of(vod_s))
    fund_m, fund_s = abs(cyc.output("vod")[0, 1]), abs(vod_s[1])
    e_thd, e_fund = thd_m / thd_s - 1.0, fund_m / fund_s - 1.0
    e_vid = float(cyc.vid_amplitude[0]) / abs(vid_s[1]) - 1.0
    table.append(f"{name:17s} {1e3 * vid_vpk:5.1f} {100 * thd_s:12.6f} {100 * thd_m:12.6f} {e_thd:+10.2e} "
                 f"{fund_s:12.6f} {fund_m:12.6f} {e_fund:+10.2e}")
    assert abs(e_thd) < THD_RTOL
    assert abs(e_fund) < FUND_RTOL
    assert abs(e_vid) < FUND_RTOL

