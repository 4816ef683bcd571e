"""Do the fits' standard uncertainties mean what they say? Repeated noisy runs of one simulated board (the
bench's noise reseeded each time), each fitted; the one-sigma intervals must cover the simulator's truth in
roughly two runs out of three, and the three-sigma ones nearly always.

Cheap path: a one-frequency sweep at 50 kHz (between the tail zero at 32 kHz and the load pole at 400 kHz,
so Add, Acc and Acd each carry both of their parameters), 20 000 points per record, ten seeds, six free
parameters: 60 intervals. The same for the active-load board, whose chain adds the crosstalk calibration
(five free parameters, 50 intervals): the uncertainty that calibration adds must be honest too. For a
correct fit the 1-sigma coverage is 0.68 +- 0.06 (binomial); the chi-square scale factor
(procedures.fitting.core) raises it slightly when a run's chi2_red > 1.
"""

from __future__ import annotations

import numpy as np
import pytest

from fits_truth import fits_of, load, measure, procedure, truth, z_scores

BOARDS = {"bjt-source-text": 6, "bjt-active-load": 5}  # free parameters of each board's fit
SEEDS = range(100, 110)
BODY = """[drive]
vid_vpk = 0.002
vic_vpk = 0.3
compare_ideal = false
[frequency]
list_hz = [50000.0]
[acquisition]
record_points = 20000
"""


@pytest.fixture(scope="module", params=sorted(BOARDS))
def z_values(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    board = request.param
    base = tmp_path_factory.mktemp("coverage")
    xt = load(board).load_type == "active"
    proc = procedure(base, "coverage", "frequency_sweep", BODY + ("[calibration]\ncrosstalk = true\n" if xt else ""))
    true = truth(load(board))
    z = []
    for seed in SEEDS:
        fit = fits_of(measure(proc, board, base / f"run-{seed}.h5", seed=seed))["small_signal"]
        assert len(fit.params) == BOARDS[board]
        z.append(list(z_scores(fit, true).values()))
    return np.array(z)


def test_one_sigma_intervals_cover_the_truth_about_two_times_in_three(z_values: np.ndarray) -> None:
    inside = float(np.mean(np.abs(z_values) < 1.0))
    assert z_values.size >= 50
    assert 0.4 <= inside <= 0.9, f"1-sigma coverage {inside:.2f} over {z_values.size} intervals"


def test_three_sigma_intervals_nearly_always_cover_the_truth(z_values: np.ndarray) -> None:
    assert float(np.mean(np.abs(z_values) < 3.0)) >= 0.95
    # and no parameter is biased beyond what its scatter allows (the mean z of 10 runs has sigma 0.32)
    assert np.all(np.abs(z_values.mean(axis=0)) < 1.2), z_values.mean(axis=0)
