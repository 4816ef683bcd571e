"""The distortion prediction (procedures.predict.distortion via predict()) against the simulated board.

The simulator (``SimBoard.steady_state``, harmonic balance of the transistor-level netlist) is driven as the
amplitude sweep drives the board: two generator channels behind 50 Ohm, 180 degrees apart around the bias
(:func:`procedures.measure.excitation.differential`). The prediction is asked for the pins' differential
amplitude the simulator shows (the measured vid), as the report asks it.
"""

from __future__ import annotations

import cmath
import math
from pathlib import Path

import numpy as np
import pytest

from instruments.board_config import BoardConfig, load_board
from instruments.sim.board import Drive, SimBoard
from instruments.sim.steady_state import SteadyState
from models.distortion import thd_of
from procedures.measure.excitation import differential
from procedures.predict.distortion import (
    GENERATOR_SOURCE_R_OHM,
    N_HARMONICS,
    PIN_AMPLITUDE_RTOL,
    cycle_load,
    pin_driven_cycle,
)
from procedures.predict.prediction import predict

BOARDS = Path(__file__).resolve().parents[3] / "configs" / "boards"
FREQ_HZ = 1000.0
CASES = [(b, a) for b in ("bjt-source-text", "bjt-degenerated", "bjt-cmrr-100db", "mos-resistive")
         for a in (0.01, 0.05)] + [("bjt-active-load", a) for a in (0.002, 0.005)]


def _steady(board: BoardConfig, vid_vpk: float) -> SteadyState:
    exc = differential(FREQ_HZ, vid_vpk, board.bias_v)
    drives = [Drive(ch.offset_v, ch.amplitude_vpk * cmath.exp(1j * math.radians(ch.phase_deg - 90.0)),
                    GENERATOR_SOURCE_R_OHM) for ch in exc.channels]
    return SimBoard.from_config(board).steady_state(FREQ_HZ, drives, (0, 1))


def _output(board: BoardConfig, ss: SteadyState) -> np.ndarray:
    """Harmonics of the predicted output: vod, or vo2 for an active load."""
    if board.load_type == "active":
        return ss.harmonics("out2")
    out: np.ndarray = ss.harmonics("out1") - ss.harmonics("out2")
    return out


def _sim_headroom(board: BoardConfig, ss: SteadyState) -> float:
    """Least margin over a period from the simulator's waveforms: ``0.4 V - V_BC`` of each pair device (and of the
    mirror's output device, ``V_CB = vo2 - vo1``), ``V_DS - V_ov = V_th - V_GD`` for MOS devices."""
    t = np.arange(4096) / (4096 * FREQ_HZ)
    b1, b2, o1, o2 = ss.evaluate_nodes(["b1", "b2", "out1", "out2"], t)
    edge = 0.4 if board.is_bjt else float(board.device.vth_v or 0.0) + np.array([-1.0, 1.0]) * board.mismatch_vth_v / 2
    edges = np.broadcast_to(edge, (2,))
    m = [edges[0] - (b1 - o1), edges[1] - (b2 - o2)]
    if board.load_type == "active":
        m.append(0.4 - (o2 - o1))
    return float(min(np.min(x) for x in m))


@pytest.mark.parametrize("name, vid_vpk", CASES)
def test_prediction_matches_the_simulator(name: str, vid_vpk: float) -> None:
    """THD (harmonics 2..15) within 0.5 % relative, the fundamental gain within 0.05 %, the least headroom over the
    cycle within 1 mV (a BJT saturates at 50 mV on the undegenerated boards: both say so)."""
    board = load_board(BOARDS / f"{name}.toml")
    ss = _steady(board, vid_vpk)
    out = _output(board, ss)[: N_HARMONICS + 1]
    vid = abs((ss.harmonics("in1") - ss.harmonics("in2"))[1])
    large = predict(board, np.array([FREQ_HZ]), np.array([vid])).large
    assert "whole circuit" in large.transfer
    assert float(large.distortion.thd[0]) == pytest.approx(float(thd_of(out)), rel=5e-3)
    assert float(large.fundamental_gain[0]) == pytest.approx(abs(out[1]) / vid, rel=5e-4)
    head = _sim_headroom(board, ss)
    assert float(large.min_headroom_v[0]) == pytest.approx(head, abs=1e-3)
    assert bool(large.saturates[0]) == (head < 0)


def test_the_pins_get_the_requested_amplitude_when_a_device_saturates() -> None:
    """At 50 mV the source-text stage saturates a BJT, whose base current distorts the pins through the 50 Ohm
    generator: the EMF is found so that the pins' fundamental is the request within PIN_AMPLITUDE_RTOL."""
    board = load_board(BOARDS / "bjt-source-text.toml")
    load = cycle_load(board)
    assert load is not None
    amps = np.array([0.01, 0.05, 0.1])
    cyc, slopes = pin_driven_cycle(board, load, amps, drive_r_ohm=GENERATOR_SOURCE_R_OHM)
    np.testing.assert_allclose(cyc.vid_amplitude, amps, rtol=PIN_AMPLITUDE_RTOL)
    assert 0.99 < slopes.pin < 1.0  # the 50 Ohm / 10 kOhm divider and the base current
    assert np.all(cyc.emf_amplitude > amps)


def test_boards_the_full_solve_does_not_model_fall_back_to_the_steering_model(tmp_path: Path) -> None:
    """A cascode is not in the full-circuit solve: the pair's current steering with a linear output, named so."""
    path = tmp_path / "cascode.toml"
    path.write_text((BOARDS / "bjt-source-text.toml").read_text() + "\n[cascode]\nenabled = true\nbias_v = 3.0\n")
    board = load_board(path)
    assert cycle_load(board) is None
    large = predict(board, np.array([FREQ_HZ]), np.array([0.01, 0.02])).large
    assert "output taken as linear" in large.transfer
    assert np.all(np.isfinite(large.distortion.thd)) and np.all(large.distortion.thd > 0)
