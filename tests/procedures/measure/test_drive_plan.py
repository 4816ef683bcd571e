"""The drive levels the plan chooses for a board when a procedure leaves them out.

The board's linear drive limit (procedures.predict.drive_range) is checked against the simulated board, an
independent solution: on the resistive-load BJT boards whose limit lies below their ``vid_max_vpk``, the
simulator's DC state at ``vid`` = the limit (the generators' levels at bias +- vid/2 behind 50 Ohm) puts the
most forward-biased base-collector junction at the prediction's edge, 0.4 V. The chosen amplitudes and DC span
then lie inside the limit and the board's safe limits on every shipped board.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import brentq

from instruments.board_config import BoardConfig, load_board
from instruments.sim.board import Drive, SimBoard
from procedures.config.procedure import load_procedure
from procedures.measure.drive_plan import GENERATOR_MIN_VID_VPK, amplitudes_vpk, dc_span_v
from procedures.predict.drive_range import linear_drive_limit_vpk

ROOT = Path(__file__).resolve().parents[3]
BOARDS = sorted((ROOT / "configs" / "boards").glob("*.toml"))
AMPLITUDE = load_procedure(ROOT / "configs" / "procedures" / "amplitude-sweep.toml")
DC = load_procedure(ROOT / "configs" / "procedures" / "dc-transfer.toml")


def _sim_v_bc(board: BoardConfig, vid: float) -> float:
    """The simulator's most forward base-collector voltage (V) at DC differential input ``vid`` (V), the
    generators at bias +- vid/2 behind 50 Ohm (the pins' levels less the outputs')."""
    drives = [Drive(board.bias_v + vid / 2, 0j, 50.0), Drive(board.bias_v - vid / 2, 0j, 50.0)]
    ss = SimBoard.from_config(board).steady_state(0.0, drives, (0, 1))
    dc = {n: float(np.real(ss.harmonics(n)[0])) for n in ("in1", "in2", "out1", "out2")}
    return max(dc["in1"] - dc["out1"], dc["in2"] - dc["out2"])


@pytest.mark.parametrize("name", ["bjt-source-text", "bjt-cmrr-100db", "bjt-transistor-tail"])
def test_linear_drive_limit_is_where_the_simulated_collector_junction_reaches_the_edge(name: str) -> None:
    """The predicted limit inside the simulator's (the vid at which its V_BC reaches 0.4 V) and within 10 % of it
    (V_BC moves by about |Add|/2 per volt of vid there, ~40 V/V: the comparison in vid is the sharp one)."""
    board = load_board(ROOT / "configs" / "boards" / f"{name}.toml")
    limit = linear_drive_limit_vpk(board)
    assert 0.01 < limit < board.vid_max_vpk
    sim_edge = brentq(lambda v: _sim_v_bc(board, v) - 0.4, limit / 2, 2 * limit, xtol=1e-6)
    assert 0.9 * sim_edge <= limit <= sim_edge, f"predicted {1e3 * limit:.3f} mV, simulator {1e3 * sim_edge:.3f}"


@pytest.mark.parametrize("path", BOARDS, ids=[p.stem for p in BOARDS])
def test_chosen_drives_lie_inside_the_limit_and_the_boards_limits(path: Path) -> None:
    board = load_board(path)
    limit = linear_drive_limit_vpk(board)
    amps = amplitudes_vpk(AMPLITUDE, board)
    assert len(amps) >= 6 and amps == sorted(set(amps))
    assert min(amps) >= GENERATOR_MIN_VID_VPK and max(amps) <= min(limit, board.vid_max_vpk) * (1 + 1e-9)
    thd_at = board.pass_fail.get("thd_drive_vpk")
    if thd_at is not None and thd_at <= limit:
        assert thd_at in amps
    lo, hi = dc_span_v(DC, board)
    assert lo == -hi and 0 < hi <= min(limit, board.vid_max_vpk, 0.2) * (1 + 1e-9)


CM_RANGE = load_procedure(ROOT / "configs" / "procedures" / "cm-range.toml")


def _sim_add(sim: SimBoard, level: float, vid: float, f: float) -> complex:
    """The simulated board's fundamental vod/vid at differential drive ``vid`` (V peak) about ``level`` (V)."""
    ss = sim.steady_state(f, [Drive(level, vid / 2, 50.0), Drive(level, -vid / 2, 50.0)], (0, 1), n_harmonics=8)
    h = {n: ss.harmonics(n)[1] for n in ("in1", "in2", "out1", "out2")}
    return complex((h["out1"] - h["out2"]) / (h["in1"] - h["in2"]))


def test_the_cm_range_extrapolates_add_to_zero_drive_at_every_level_of_an_active_load() -> None:
    """bjt-active-load clips at 3.1 mV at the top of its input range, where the old second drive (twice 2 mV) was
    past it and Richardson's extrapolation overshot |Add|. With the planned second drives, at every level the
    extrapolation of the simulated board's own gains at the two drives (measured ratio r, as the analysis does)
    is within 2e-4 of its gain at 20 uV, where compression is ~1e-4 of the planned first drive's."""
    from procedures.analysis.frequency_gains import extrapolate_to_zero_drive
    from procedures.measure.drive_plan import SECOND_DRIVE_FILL, cm_range_drives, second_drives

    board = load_board(ROOT / "configs" / "boards" / "bjt-active-load.toml")
    sim = SimBoard.from_config(board)
    vid, _, lo, hi = cm_range_drives(CM_RANGE, board)
    f = float(CM_RANGE.cm_range["frequency_hz"])
    levels = np.linspace(lo, hi, CM_RANGE.cm_range["points"])
    second = second_drives(board, vid, levels)
    assert second[0] == pytest.approx(2 * vid) and second[-1] < 2 * vid
    for level, a2 in zip(levels, second):
        from dataclasses import replace

        assert a2 <= SECOND_DRIVE_FILL * linear_drive_limit_vpk(replace(board, bias_v=float(level))) * 1.02
        g1, g2 = _sim_add(sim, level, vid, f), _sim_add(sim, level, float(a2), f)
        p1 = (np.array([vid / 2, -vid / 2, g1 * vid / 2, -g1 * vid / 2]), np.zeros(4))
        p2 = (np.array([a2 / 2, -a2 / 2, g2 * a2 / 2, -g2 * a2 / 2]), np.zeros(4))
        zero, _ = extrapolate_to_zero_drive(p1, p2)
        g0 = complex((zero[2] - zero[3]) / (zero[0] - zero[1]))
        truth = _sim_add(sim, level, 20e-6, f)
        assert abs(g0 / truth - 1) < 2e-4, f"{level:.3f} V: {abs(g0):.6g} vs {abs(truth):.6g} at 20 uV"


def _sim_acc(sim: SimBoard, level: float, vic: float, f: float) -> tuple[complex, float]:
    """The simulated board's fundamental CM gain (voc/vic) at CM drive ``vic`` (V peak, one channel into both pins)
    about ``level`` (V), and |vic| at the pins."""
    ss = sim.steady_state(f, [Drive(level, vic, 50.0)], (0, 0), n_harmonics=8)
    h = {n: ss.harmonics(n)[1] for n in ("in1", "in2", "out1", "out2")}
    v = (h["in1"] + h["in2"]) / 2
    return complex((h["out1"] + h["out2"]) / 2 / v), float(abs(v))


def test_the_cm_range_lowers_the_cm_drive_where_the_tail_has_collapsed() -> None:
    """bjt-transistor-tail at the bottom of its range (tail saturated, |Acc| ~19): zero-drive extrapolation from
    the shipped 10 and 20 mV CM points leaves 3.7e-4 of Acc (2.7 of its u); the planned CM drive there is lower, and
    the simulated board's own CM gains at it and twice it extrapolate to within 1e-5 of its gain at 20 uV. At the
    levels where the tail works the drive is the procedure's."""
    from procedures.measure.plan import cm_range

    board = load_board(ROOT / "configs" / "boards" / "bjt-transistor-tail.toml")
    sim = SimBoard.from_config(board)
    f = float(CM_RANGE.cm_range["frequency_hz"])
    cm = {p.group: p.excitation for p in cm_range(CM_RANGE, board) if p.role == "cm"}
    vic = float(CM_RANGE.cm_range["vic_vpk"])
    assert cm[0].vic_vpk < vic / 2 and all(cm[g].vic_vpk == vic for g in range(2, len(cm)))
    level, a = cm[0].vic_dc_v, cm[0].vic_vpk
    (g1, v1), (g2, v2), (truth, _) = (_sim_acc(sim, level, x, f) for x in (a, 2 * a, 20e-6))
    w = (v2 / v1) ** 2
    assert abs(((w * g1 - g2) / (w - 1)) / truth - 1) < 1e-5
    (g1, v1), (g2, v2) = (_sim_acc(sim, level, x, f) for x in (vic, 2 * vic))
    w = (v2 / v1) ** 2
    assert abs(((w * g1 - g2) / (w - 1)) / truth - 1) > 1e-4  # what the shipped drive left


FREQUENCY_SWEEP = load_procedure(ROOT / "configs" / "procedures" / "frequency-sweep.toml")


@pytest.mark.parametrize("name", ["bjt-active-load", "bjt-source-text"])
def test_the_frequency_sweeps_two_drives_extrapolate_add_to_its_small_signal_value(name: str) -> None:
    """The shipped frequency sweep's DM drive and the plan's second drive, put through Richardson's extrapolation
    with the measured ratio (as the analysis does), give the simulated board's small-signal Add (its own AC
    solve) to 2e-5, a tenth of the sweep's u (~2e-4 of |Add| on bjt-active-load). Twice 2 mV, past
    bjt-active-load's 3.9 mV linear limit, left 1.5e-4 there; a board whose limit is far off keeps twice."""
    from procedures.analysis.frequency_gains import extrapolate_to_zero_drive
    from procedures.measure.drive_plan import frequency_sweep_second_drive

    board = load_board(ROOT / "configs" / "boards" / f"{name}.toml")
    sim = SimBoard.from_config(board)
    vid = float(FREQUENCY_SWEEP.drive["vid_vpk"])
    a2 = frequency_sweep_second_drive(FREQUENCY_SWEEP, board)
    assert 1.25 * vid <= a2 <= 2 * vid
    if name == "bjt-source-text":
        assert a2 == pytest.approx(2 * vid)
    f = 1e3
    g1, g2 = _sim_add(sim, board.bias_v, vid, f), _sim_add(sim, board.bias_v, a2, f)
    p1 = (np.array([vid / 2, -vid / 2, g1 * vid / 2, -g1 * vid / 2]), np.zeros(4))
    p2 = (np.array([a2 / 2, -a2 / 2, g2 * a2 / 2, -g2 * a2 / 2]), np.zeros(4))
    zero, _ = extrapolate_to_zero_drive(p1, p2)
    g0 = complex((zero[2] - zero[3]) / (zero[0] - zero[1]))
    truth = complex(sim.small_signal_s(f)[0, 0])
    assert abs(g0 / truth - 1) < 2e-5, f"{abs(g0):.7g} vs small-signal {abs(truth):.7g}"
