"""The vectorised DC transfer (models.dc_transfer) against two independent solutions: the bracketed scalar
operating-point solver of models.operating_point, and the transistor-level simulated board."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from instruments.board_config import load_board
from instruments.sim.board import Drive, SimBoard
from models import (
    BjtParams,
    DiffPair,
    MosParams,
    NortonTail,
    ResistorLoads,
    resistive_pair_operating_point,
    split,
    thermal_voltage,
)
from models.dc_transfer import resistive_pair_dc
from procedures.predict.mapping import dc_pair, pair_devices

VT = thermal_voltage(300.15)
BOARDS = Path(__file__).resolve().parents[2] / "configs" / "boards"

CASES = {
    "bjt-mismatch-rs-re": (DiffPair((BjtParams(190.0, 90.0, 0.99e-15), BjtParams(210.0, 110.0, 1.01e-15)), VT,
                                    r_source=5e3, r_degen=1e3), (39.9e3, 40.1e3)),
    "bjt-plain": (DiffPair((BjtParams(200.0, 100.0, 0.995e-15), BjtParams(200.0, 100.0, 1.005e-15)), VT),
                  (39.9e3, 40.1e3)),
    "mos-degenerated": (DiffPair((MosParams(0.99e-3, 0.699, 0.02), MosParams(1.01e-3, 0.701, 0.02)), VT,
                                 r_degen=500.0), (19.9e3, 20.1e3)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_the_bracketed_operating_point_solver(case: str) -> None:
    """At 21 input pairs over +-200 mV the Newton solution (all points at once) and the nested bracketed roots
    of resistive_pair_operating_point give the same outputs and tail node within 1e-10 V, the same currents
    within 1e-9 relative, with a Norton tail (I_EE parallel 1 MOhm)."""
    pair, r_loads = CASES[case]
    tail, loads = NortonTail(100e-6, r_out=1e6), ResistorLoads(r_loads, v_return=5.0)
    vid = np.linspace(-0.2, 0.2, 21)
    dc = resistive_pair_dc(2.0 + vid / 2, 2.0 - vid / 2, pair, tail, loads)
    for i, v in enumerate(vid):
        op = resistive_pair_operating_point(pair, tail, loads, v_in=(2 + v / 2, 2 - v / 2))
        assert dc.vo1[i] == pytest.approx(op.vo1, abs=1e-10)
        assert dc.vo2[i] == pytest.approx(op.vo2, abs=1e-10)
        assert dc.v_tail[i] == pytest.approx(op.v_tail, abs=1e-10)
        assert dc.i_out1[i] == pytest.approx(op.sides[0].device.i_out, rel=1e-9, abs=1e-18)


@pytest.mark.parametrize("name", ["bjt-degenerated", "mos-resistive", "bjt-source-text"])
def test_matches_the_simulated_board_where_the_devices_are_active(name: str) -> None:
    """The simulated board (MNA with Ebers-Moll / square-law devices, its own Newton solver) driven by ideal DC
    sources: vod agrees within 1 uV wherever the model says both devices are in the region it describes
    (V_BC below 0.3 V), over a +-200 mV sweep; beyond it (saturation) the model is not meant to hold."""
    b = load_board(BOARDS / f"{name}.toml")
    sim = SimBoard.from_config(b)
    vid = np.linspace(-0.2, 0.2, 17)
    truth = []
    for v in vid:
        drives = [Drive(b.bias_v + v / 2, source_r_ohm=0.0), Drive(b.bias_v - v / 2, source_r_ohm=0.0)]
        ss = sim.steady_state(0.0, drives, (0, 1))
        truth.append(ss.harmonics("out1")[0].real - ss.harmonics("out2")[0].real)
    r1, r2 = split(b.load_r_ohm, b.mismatch_load_r)
    pair, tail = dc_pair(b)
    assert pair.devices == pair_devices(b) and pair.vt == b.vt_v
    assert (tail.current, tail.r_out, tail.v_ee) == (b.tail_current_a, b.tail_r_ohm, b.vee_v)
    assert (pair.r_source, pair.r_degen) == (b.source_r_ohm, b.degeneration_r_ohm)
    dc = resistive_pair_dc(b.bias_v + vid / 2, b.bias_v - vid / 2, pair, tail,
                           ResistorLoads((float(r1), float(r2)), v_return=b.load_return_v), bjt_edge_v=0.3)
    active = (dc.headroom1 > 0) & (dc.headroom2 > 0)
    assert active.sum() >= 3
    np.testing.assert_allclose(dc.vod[active], np.array(truth)[active], atol=1e-6, rtol=0)


def test_ideal_bjt_pair_is_the_tanh():
    """Ideal devices (beta, V_A infinite), no degeneration, an ideal tail: vod = -I R tanh(vid/(2 V_T)) exactly
    (docs/reference/measurement-methods.md §5)."""
    dev = BjtParams(math.inf, math.inf, 1e-15)
    vid = np.linspace(-0.15, 0.15, 31)
    dc = resistive_pair_dc(2 + vid / 2, 2 - vid / 2, DiffPair((dev, dev), VT), NortonTail(100e-6),
                           ResistorLoads((40e3, 40e3), v_return=5.0))
    np.testing.assert_allclose(dc.vod, -40e3 * 100e-6 * np.tanh(vid / (2 * VT)), atol=1e-12)
