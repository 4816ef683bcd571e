"""The scope crosstalk calibration (docs/reference/measurement-methods.md §3.4 step 3): its plan, the bench
changes it asks for, the correction, and the active-load board measured with and without it against the
simulator's truth.

The correction is checked against the crosstalk model written out here (``m = G (I + X) v`` with each probe
alone on a driven node), not against the code's own algebra; the end-to-end test against the transistor-level
board's small-signal S, which never sees the scope.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from instruments.bench_config import Wiring
from instruments.board_config import load_board
from instruments.errors import DiffbenchError
from instruments.sim.board import SimBoard
from procedures.analysis.crosstalk import Crosstalk
from procedures.analysis.results import crosstalk_advice
from procedures.config.procedure import load_procedure
from procedures.measure.acquisition import NODES
from procedures.measure.control import OperatorControl, SimulatedControl
from procedures.measure.plan import plan
from procedures.run.runner import run_procedure

ROOT = Path(__file__).resolve().parents[3]
BOARD = ROOT / "configs" / "boards" / "bjt-active-load.toml"
SOURCE_TEXT = ROOT / "configs" / "boards" / "bjt-source-text.toml"
BENCH = ROOT / "configs" / "benches" / "sim-keysight.toml"
RNG = np.random.default_rng(7)


def _crandn(*shape: int) -> np.ndarray:
    return RNG.normal(size=shape) + 1j * RNG.normal(size=shape)


def _scope(G: np.ndarray, X: np.ndarray, v: np.ndarray) -> np.ndarray:
    """What the four channels display for node phasors ``v``: gains G of (own signal + crosstalk X v)."""
    return G * ((np.eye(4) + X) @ v)


def _calibration_points(G: np.ndarray, X: np.ndarray, s: complex, u: float = 0.0) -> dict[int, tuple]:
    """Probe j alone on a node carrying ``s``, the other tips grounded: their inputs are 0."""
    pts = {}
    for j in range(4):
        v = np.zeros(4, complex)
        v[j] = s
        m = _scope(G, X, v) + u * _crandn(4) / np.sqrt(2)
        pts[j] = (m, np.full(4, u / np.sqrt(2)))
    return pts


def _random_bench() -> tuple[np.ndarray, np.ndarray]:
    G = (1 + 0.01 * _crandn(4))                 # 1 % gain and phase differences between channels
    X = 10 ** (-70 / 20) * _crandn(4, 4)        # about -70 dB between every pair
    np.fill_diagonal(X, 0)
    return G, X


def test_correction_recovers_what_the_channels_would_show_without_crosstalk() -> None:
    G, X = _random_bench()
    v = np.array([1e-3, -1e-3, -4.5e-4, 0.354], complex)  # the active load: vo1 ~800x below vo2
    xt = Crosstalk.from_points(_calibration_points(G, X, 0.3))
    m = _scope(G, X, v)
    assert abs(m[2] / (G[2] * v[2]) - 1) > 0.05  # uncorrected, vo1 is visibly wrong
    got, _ = xt.apply(m, np.zeros(4))
    np.testing.assert_allclose(got, G * v, rtol=1e-12, atol=1e-15)


def test_no_crosstalk_changes_nothing() -> None:
    m, u = _crandn(4), np.full(4, 1e-6)
    got, got_u = Crosstalk.none().apply(m, u)
    np.testing.assert_array_equal(got, m)
    np.testing.assert_array_equal(got_u, u)


def test_reported_uncertainty_matches_the_scatter_of_noisy_calibrations() -> None:
    """Noise on the calibration points and on the measurement: the per-quadrature u of every corrected
    phasor agrees with the Monte Carlo scatter within 10 %."""
    G, X = _random_bench()
    v = np.array([1e-3, -1e-3, -4.5e-4, 0.354], complex)
    u_cal, u_meas = 2e-7, 3e-7
    got, us = [], []
    for _ in range(3000):
        xt = Crosstalk.from_points(_calibration_points(G, X, 0.3, u_cal))
        m = _scope(G, X, v) + u_meas * _crandn(4) / np.sqrt(2)
        p, u = xt.apply(m, np.full(4, u_meas / np.sqrt(2)))
        got.append(p)
        us.append(u)
    got = np.array(got)
    scatter = np.sqrt(0.5 * (got.real.var(axis=0) + got.imag.var(axis=0)))
    np.testing.assert_allclose(np.mean(us, axis=0), scatter, rtol=0.1)
    np.testing.assert_allclose(got.mean(axis=0), G * v, atol=4 * scatter.max() / np.sqrt(len(got)))


def _procedure(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "procedure.toml"
    p.write_text('[procedure]\nname = "xt"\nkind = "frequency_sweep"\n[drive]\ncompare_ideal = false\n' + body)
    return p


def test_plan_adds_one_point_per_probe_and_frequency_after_everything_else(tmp_path: Path) -> None:
    proc = load_procedure(_procedure(tmp_path, "[frequency]\nlist_hz = [1e3, 1e4]\n[calibration]\ncrosstalk = true\n"))
    pts = plan(proc, load_board(BOARD))
    xt = [p for p in pts if p.role == "xtalk"]
    assert sorted(p.probes for p in xt) == sorted(f"xtalk-{n}" for n in NODES for _ in range(2))
    assert pts[-len(xt):] == xt                       # the probes are moved at the end, once per probe
    assert [p.probes for p in xt] == sorted((p.probes for p in xt), key=lambda s: NODES.index(s[6:]))
    assert {p.trigger_node for p in xt} == set(NODES)  # the scope triggers on the one probed channel
    assert {p.trigger_node for p in pts if p.role != "xtalk"} == {"v1"}
    assert all(p.excitation.vic_vpk > 0 and p.excitation.vid_vpk == 0 for p in xt)
    # a board whose outputs swing alike does not need it, and the plan leaves it out (the active load does:
    # tests/procedures/measure/test_calibration_plan.py)
    no_cal = plan(load_procedure(_procedure(tmp_path, "[frequency]\nlist_hz = [1e3]\n")), load_board(SOURCE_TEXT))
    assert not [p for p in no_cal if p.role == "xtalk"]


class _Relay:
    def __init__(self) -> None:
        self.probes: dict[int, str | None] = {}
        self.pins: tuple = ()

    def set_wiring(self, in1: int, in2: int) -> None:
        self.pins = (in1, in2)

    def set_probes(self, probes: dict[int, str | None]) -> None:
        self.probes.update(probes)


def test_simulated_bench_puts_one_probe_on_input_1_and_grounds_the_others() -> None:
    relay = _Relay()
    wiring = Wiring(in1=1, in2=2, v1=4, v2=3, vo1=2, vo2=1)
    SimulatedControl(relay, wiring).configure(True, "xtalk-vo1")
    assert relay.probes == {2: "in1", 1: None, 3: None, 4: None}
    assert relay.pins == (1, 1)
    SimulatedControl(relay, wiring).configure(False, "normal")
    assert relay.probes == {4: "in1", 3: "in2", 2: "out1", 1: "out2"}


def test_operator_is_told_which_probe_goes_where() -> None:
    asked: list[str] = []
    ctl = OperatorControl(Wiring(in1=1, in2=2, v1=1, v2=2, vo1=3, vo2=4), ask=asked.append, interactive=True)
    ctl.configure(True, "xtalk-vo2")
    assert "CH4 probe on input 1" in asked[0] and "CH1, CH2, CH3 to ground" in asked[0]
    ctl.configure(True, "xtalk-vo2")
    assert len(asked) == 1  # nothing to change, nothing asked
    with pytest.raises(DiffbenchError, match="CH3 probe on input 1"):
        OperatorControl(Wiring(), interactive=False).configure(True, "xtalk-vo1")


def _chi2_to_truth(row: dict, f: float) -> float:
    """Chi-square of the measured S against the simulated board's own small-signal S (8 real components)."""
    T = SimBoard.from_config(load_board(BOARD)).small_signal_s(f)
    d = (row["S"] - T).reshape(4)
    r = np.empty(8)
    r[0::2], r[1::2] = d.real, d.imag
    return float(r @ np.linalg.solve(row["S_cov"], r))


def test_active_load_measured_right_only_with_the_crosstalk_calibration(tmp_path: Path, caplog) -> None:
    """vo1, the mirror node, swings ~0.45 vid against vo2's ~354 vid: the simulated scope's -70 dB between
    channels 3 and 4 is a quarter of vo1. Uncalibrated (the plan told the scope is far better than it is),
    S sits hundreds of sigma from the truth and the run says why; calibrated (the plan's own choice), S
    agrees with the truth within its covariance."""
    body = "[frequency]\nlist_hz = [1000.0]\n[acquisition]\nrecord_points = 20000\n"
    fooled = body + "[calibration]\nassume_crosstalk_db = -150.0\n"
    with caplog.at_level(logging.WARNING, logger="procedures.run.session"):
        plain = run_procedure(_procedure(tmp_path, fooled), BENCH, BOARD, tmp_path / "plain.h5")
    assert any("crosstalk = true" in r.getMessage() for r in caplog.records)
    (row,) = plain.results["gains"]
    assert _chi2_to_truth(row, 1000.0) > 300
    caplog.clear()
    cal = run_procedure(_procedure(tmp_path, body), BENCH, BOARD, tmp_path / "cal.h5")
    assert not any("crosstalk" in r.getMessage() for r in caplog.records)
    (row,) = cal.results["gains"]
    assert _chi2_to_truth(row, 1000.0) < 26.1  # chi2(8 dof) at p = 0.001


def test_advice_only_for_uneven_outputs_without_the_calibration() -> None:
    even = {"role": "dm", "sweep": "frequency_sweep", "phasor": np.array([1e-3, -1e-3, 0.07, -0.07])}
    uneven = dict(even, phasor=np.array([1e-3, -1e-3, -4.5e-4, 0.354]))
    assert crosstalk_advice([even], []) is None
    assert "787x" in crosstalk_advice([even, uneven], [])
