"""Do the fits' standard uncertainties mean what they say? Their intervals must cover the simulator's truth
as often as claimed: one-sigma 0.68 +- 0.06, three-sigma 0.9973 (at least 0.99 here), with no parameter
biased beyond what its scatter allows.

How. Full procedure runs take 1-4 s each; the binomial standard error of a coverage from n intervals is
``sqrt(0.68 x 0.32 / n)``, so a +-0.06 tolerance at three standard errors needs n ~ 550 intervals, 100
runs of a 5-6 parameter fit: minutes. So the fit functions are run directly on simulated gains records:

* one full run of the measurement chain per board (1 kHz, 50 kHz, 500 kHz: between and around the tail
  zero and the load pole, so every parameter is pinned) gives the covariance of S that the chain states at
  each frequency (the simulator's scope and board noise through phasor fits, calibrations and the gain
  solve). That run's S against the simulated board's own small-signal S (SimBoard.small_signal_s, which
  never sees the models) must be consistent with that covariance: a chi-square at p >= 1e-3, so the records
  below are drawn with the noise the chain really has;
* DRAWS records per board: the simulator's true S plus Gaussian noise of that covariance (seeded), each
  fitted by ``fit_small_signal`` against the board config the simulator was built from.

DRAWS = 50 per board: 50 x 6 + 50 x 5 = 550 intervals, binomial standard error 0.020 for the pooled
one-sigma coverage (the tolerance is 3 of them; parameters of one fit are correlated, so the effective n is
somewhat smaller: the tolerance is then nearer 2.5 standard errors), about 0.045 per board. Three-sigma:
0.9973 expects 1.5 misses in 550; at least 0.99 allows 5 (P(6 or more) = 0.004). Bias: the mean z of 50
draws has standard error 0.14; |mean z| < 0.45 is three of them. Runtime: two runs and 100 fits, ~40 s.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2 as chi2_dist

from fits_truth import load, measure, procedure, truth, z_scores
from instruments.sim.board import SimBoard
from procedures.archive.reader import open_run
from procedures.fitting.small_signal import fit_small_signal

BOARDS = {"bjt-source-text": 6, "bjt-active-load": 5}  # free parameters of each board's fit
DRAWS = 50
BODY = """[drive]
vid_vpk = 0.002
vic_vpk = 0.3
compare_ideal = false
[frequency]
list_hz = [1000.0, 50000.0, 500000.0]
[acquisition]
record_points = 20000
[fit]
small_signal = false
"""


def _vec(S: np.ndarray) -> np.ndarray:
    """(F, 2, 2) complex -> (F, 8): Re, Im of S11, S12, S21, S22 (the order of the archived S_cov)."""
    flat = S.reshape(len(S), 4)
    return np.stack([flat.real, flat.imag], axis=-1).reshape(len(S), 8)


def _chain(board: str, base) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frequencies, measured S and its covariance from one full run of the chain on the simulated bench."""
    proc = procedure(base, "coverage", "frequency_sweep", BODY)
    with open_run(measure(proc, board, base / f"{board}.h5", seed=11)) as run:
        g = run.tables["gains"]
        return np.asarray(g["frequency_hz"], float), np.asarray(g["S"], complex), np.asarray(g["S_cov"], float)


@pytest.fixture(scope="module")
def coverage(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    out = {}
    for board, n_free in BOARDS.items():
        f, S, cov = _chain(board, tmp_path_factory.mktemp(board))
        T = SimBoard.from_config(load(board)).small_signal_s(f)
        r = _vec(S - T)
        chain_chi2 = float(sum(ri @ np.linalg.solve(c, ri) for ri, c in zip(r, cov)))
        rng = np.random.default_rng(2024)
        L = np.linalg.cholesky(cov)
        true = truth(load(board))
        z, p = [], []
        for _ in range(DRAWS):
            e = np.einsum("fij,fj->fi", L, rng.standard_normal((len(f), 8)))
            noisy = T + (e[:, 0::2] + 1j * e[:, 1::2]).reshape(len(f), 2, 2)
            fit = fit_small_signal({"frequency_hz": f, "S": noisy, "S_cov": cov}, load(board), {})
            assert len(fit.params) == n_free and fit.stderr_scale == 1.0
            z.append(list(z_scores(fit, true).values()))
            p.append(fit.p_value)
        out[board] = {"z": np.array(z), "p": np.array(p), "chain_chi2": chain_chi2, "chain_dof": r.size}
    return out


def test_the_chain_states_the_noise_it_has(coverage: dict[str, dict]) -> None:
    """The full run's S sits within its stated covariance of the simulator's truth (so the records drawn with
    that covariance carry the chain's real noise)."""
    for board, c in coverage.items():
        p = chi2_dist.sf(c["chain_chi2"], c["chain_dof"])
        assert p >= 1e-3, f"{board}: chi2 {c['chain_chi2']:.1f} over {c['chain_dof']} dof, p = {p:.2g}"


def test_one_sigma_intervals_cover_the_truth_0_68_of_the_time(coverage: dict[str, dict]) -> None:
    z = np.concatenate([c["z"].ravel() for c in coverage.values()])
    inside = float(np.mean(np.abs(z) < 1.0))
    per_board = {b: round(float(np.mean(np.abs(c["z"]) < 1.0)), 3) for b, c in coverage.items()}
    assert z.size == DRAWS * sum(BOARDS.values())
    assert abs(inside - 0.683) <= 0.06, f"1-sigma coverage {inside:.3f} over {z.size} intervals ({per_board})"
    for board, cov1 in per_board.items():  # each board on its own, at the same three standard errors (0.045 each)
        assert abs(cov1 - 0.683) <= 0.135, f"{board}: 1-sigma coverage {cov1}"


def test_three_sigma_intervals_nearly_always_cover_and_nothing_is_biased(coverage: dict[str, dict]) -> None:
    z = np.concatenate([c["z"].ravel() for c in coverage.values()])
    assert float(np.mean(np.abs(z) < 3.0)) >= 0.99, np.sort(np.abs(z))[-8:]
    for board, c in coverage.items():
        mean = c["z"].mean(axis=0)
        assert np.all(np.abs(mean) < 0.45), f"{board}: mean z per parameter {np.round(mean, 2)}"


def test_right_fits_are_reported_consistent(coverage: dict[str, dict]) -> None:
    """The chi-square verdict (p < 1e-3: inconsistent) rejects about one right fit in a thousand, not more."""
    p = np.concatenate([c["p"] for c in coverage.values()])
    assert np.mean(p < 1e-3) <= 0.01
    assert 0.3 < np.mean(p > 0.5) < 0.7  # p of a right fit is uniform on [0, 1]
