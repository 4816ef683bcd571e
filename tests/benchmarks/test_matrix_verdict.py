"""The board x procedure matrix's two readings of "within 3 u" (benchmarks/board_procedure_matrix.py).

A cell of honest Gaussian quantities passes as ``chance`` when its few |z| >= 3 are as many as chance gives; a
cell with one quantity far out, too many at 3-4, or any failure other than |z| (chi2_red, a limit on the wrong
side) fails. The counts are drawn here from numpy's Gaussian generator, independent of the verdict's Poisson.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from board_procedure_matrix import Cell, Check, FitCheck  # noqa: E402


def _cell(zs: list[float]) -> Cell:
    return Cell("b", "p", status="complete", checks=[Check(f"q{i}", z, 0.0, 1.0) for i, z in enumerate(zs)])


def test_every_z_below_three_is_a_strict_pass() -> None:
    assert _cell([0.1, -2.9, 1.5]).verdict() == "pass"


def test_honest_gaussian_cells_pass_by_chance_and_fail_rarely() -> None:
    """1000 cells of 300 unit-Gaussian quantities (the size of a frequency sweep's cell): about 55 % have every
    |z| < 3; the verdict fails at most a few in a thousand (P_CELL = 1e-3 per cell, plus the outlier rule)."""
    rng = np.random.default_rng(12)
    verdicts = [_cell(list(rng.standard_normal(300))).verdict() for _ in range(1000)]
    strict = verdicts.count("pass") / len(verdicts)
    assert strict == pytest.approx((1 - 0.0027) ** 300, abs=0.05)
    assert verdicts.count("fail") <= 5


def test_a_biased_run_of_quantities_fails() -> None:
    """A sweep whose 13 values of one quantity sit at z 3.1-3.5 is a bias, not chance."""
    zs = [0.3] * 287 + list(np.linspace(3.1, 3.5, 13))
    assert _cell(zs).verdict() == "fail"


def test_one_quantity_far_out_fails() -> None:
    assert _cell([0.2] * 299 + [5.3]).verdict() == "fail"


def test_a_limit_on_the_wrong_side_or_a_bad_fit_fails_whatever_the_z() -> None:
    cell = _cell([0.0] * 100 + [3.2])
    cell.checks.append(Check("CMRR_se1_db", 80.0, 75.0, 0.0, bound="lower_limit"))
    assert cell.verdict() == "fail"
    cell = _cell([0.0] * 100 + [3.2])
    cell.fits.append(FitCheck("small_signal", 2.4, "converged"))
    assert cell.verdict() == "fail"
    cell = _cell([0.0] * 100 + [3.2])
    cell.fits.append(FitCheck("small_signal", 1.1, "converged", params=[("R_L", 1.0, 1.0, 0.0, 1.0)]))
    assert cell.verdict() == "chance"
