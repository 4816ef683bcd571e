"""The mixed-mode solve against a known S, an independent closed-form 2x2 solve, and Monte Carlo coverage."""

import numpy as np
import pytest

from procedures.analysis.gain_figures import single_ended
from procedures.analysis.gain_solve import solve_mixed_mode

# docs/reference/measurement-methods.md §3.3, "whole-bench simulation" DUT
S_TRUE = np.array([[-15.87, -2.0e-4], [-0.0397, -0.01998]], dtype=complex)
T = np.array([[1, -1], [0.5, 0.5]])


def _excite(S, vid, vic):
    """Pin phasors and outputs for given mixed-mode inputs (columns = excitations)."""
    Xm = np.array([vid, vic], dtype=complex)
    X = np.linalg.solve(T, Xm)
    Y = np.linalg.solve(T, S @ Xm)
    return X, Y


def test_two_excitations_recover_s_exactly_with_imperfect_generator():
    eps = 10 ** (0.1 / 20) * np.exp(1j * np.radians(0.1)) - 1   # 0.1 dB / 0.1 deg channel mismatch
    v1 = np.array([0.01, 0.7])
    v2 = np.array([-0.01 * (1 + eps), 0.7 * (1 + eps)])        # DM and CM drives, channel 2 mismatched
    X = np.vstack([v1, v2]).astype(complex)
    Y = np.linalg.solve(T, S_TRUE @ (T @ X))
    sol = solve_mixed_mode(X, Y, np.full((2, 2), 1e-9), np.full((2, 2), 1e-9))
    np.testing.assert_allclose(sol.S, S_TRUE, rtol=1e-9, atol=1e-15)


def test_matches_source_text_single_output_formulas():
    """§3.1's Cramer-rule formulas for one output give Ad_se and Acm_se of the full solve."""
    X, Y = _excite(S_TRUE, [0.02, 1e-4 + 2e-5j], [3e-3, 0.7])
    vid, vic = T[0] @ X, T[1] @ X
    vo = Y[0]
    delta = vid[0] * vic[1] - vid[1] * vic[0]
    ad = (vo[0] * vic[1] - vo[1] * vic[0]) / delta
    ac = (vid[0] * vo[1] - vid[1] * vo[0]) / delta
    se = single_ended(solve_mixed_mode(X, Y, np.ones((2, 2)), np.ones((2, 2))).S)
    assert ad == pytest.approx(se["Ad_se1"], rel=1e-10)
    assert ac == pytest.approx(se["Acm_se1"], rel=1e-10)


def test_least_squares_with_four_excitations():
    X, Y = _excite(S_TRUE, [0.02, 0.0, 0.01, -0.01], [0.0, 0.7, 0.35, 0.2])
    sol = solve_mixed_mode(X, Y, np.full(X.shape, 1e-9), np.full(Y.shape, 1e-9))
    np.testing.assert_allclose(sol.S, S_TRUE, rtol=1e-9, atol=1e-15)
    assert sol.residual_rms < 1e-12


def test_singular_excitation_set_is_refused():
    X, Y = _excite(S_TRUE, [0.02, 0.04], [0.0, 0.0])
    with pytest.raises(ValueError, match="do not span"):
        solve_mixed_mode(X, Y, np.ones((2, 2)), np.ones((2, 2)))


def test_reported_uncertainty_matches_monte_carlo_scatter():
    rng = np.random.default_rng(7)
    X0, Y0 = _excite(S_TRUE, [0.02, 0.0], [0.0, 0.7])
    u = 2e-5
    est, us = [], []
    for _ in range(2000):
        X = X0 + u * (rng.standard_normal(X0.shape) + 1j * rng.standard_normal(X0.shape))
        Y = Y0 + u * (rng.standard_normal(Y0.shape) + 1j * rng.standard_normal(Y0.shape))
        sol = solve_mixed_mode(X, Y, np.full((2, 2), u), np.full((2, 2), u))
        est.append(sol.S.reshape(-1))
        us.append([sol.u(n) for n in ("Add", "Acd", "Adc", "Acc")])
    est = np.array(est)
    scatter = np.sqrt(0.5 * (np.var(est.real, axis=0) + np.var(est.imag, axis=0)))
    reported = np.mean(us, axis=0)
    np.testing.assert_allclose(reported, scatter, rtol=0.08)


def test_cmrr_db_uncertainty_matches_monte_carlo_scatter():
    """CMRR_diff in dB, where the pin noise is small against Vc/CMRR_diff (§3.2: vid must be known that well)."""
    rng = np.random.default_rng(8)
    X0, Y0 = _excite(S_TRUE, [0.02, 0.0], [0.0, 0.7])
    u = 5e-7
    sol = solve_mixed_mode(X0, Y0, np.full((2, 2), u), np.full((2, 2), u))
    cmrr = lambda S: 20 * np.log10(abs(S[0, 0] / S[0, 1]))  # noqa: E731
    value, u_db = sol.derived(cmrr)
    assert value == pytest.approx(cmrr(S_TRUE), abs=1e-9)
    db = []
    for _ in range(2000):
        X = X0 + u * (rng.standard_normal(X0.shape) + 1j * rng.standard_normal(X0.shape))
        Y = Y0 + u * (rng.standard_normal(Y0.shape) + 1j * rng.standard_normal(Y0.shape))
        db.append(cmrr(solve_mixed_mode(X, Y, np.full((2, 2), u), np.full((2, 2), u)).S))
    assert u_db == pytest.approx(np.std(db), rel=0.1)
