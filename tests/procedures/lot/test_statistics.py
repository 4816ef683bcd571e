"""Capability ratios, yields and outliers against numbers worked by hand (Montgomery's definitions, and the
median +- 3 x 1.4826 x MAD rule, procedures/lot/statistics.py).

For the values 1, 2, 3, 4, 5: mean 3, sample variance (4 + 1 + 0 + 1 + 4)/4 = 2.5, sigma = sqrt(2.5) = 1.58114.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from procedures.lot.statistics import capability, lot_yield, outliers, overall_verdicts, yield_of

VALUES = [1.0, 2.0, 3.0, 4.0, 5.0]
SIGMA = math.sqrt(2.5)


def test_centred_process_two_limits() -> None:
    c = capability(VALUES, 0.0, 6.0)
    assert c.n == 5 and c.mean == pytest.approx(3.0) and c.sigma == pytest.approx(1.58114, abs=1e-5)
    assert c.cp == pytest.approx(6 / (6 * SIGMA)) and c.cp == pytest.approx(0.63246, abs=1e-5)
    assert c.cpk == pytest.approx(3 / (3 * SIGMA)) and c.cpk == pytest.approx(0.63246, abs=1e-5)
    assert (c.lower, c.upper) == (0.0, 6.0)


def test_off_centre_process_cpk_takes_the_nearer_limit() -> None:
    c = capability(VALUES, 0.0, 10.0)
    assert c.cp == pytest.approx(10 / (6 * SIGMA))  # 1.05409
    assert c.cpk == pytest.approx(min(10 - 3, 3 - 0) / (3 * SIGMA))  # 0.63246, from the lower limit
    assert c.cp == pytest.approx(1.05409, abs=1e-5)


def test_one_sided_limits_give_cpu_or_cpl_and_no_cp() -> None:
    upper = capability(VALUES, upper=6.0)
    assert math.isnan(upper.cp) and upper.cpk == pytest.approx((6 - 3) / (3 * SIGMA))
    lower = capability(VALUES, lower=2.0)
    assert math.isnan(lower.cp) and lower.cpk == pytest.approx((3 - 2) / (3 * SIGMA))  # 0.21082
    assert lower.cpk == pytest.approx(0.21082, abs=1e-5)
    assert lower.upper is None and upper.lower is None


def test_no_limits_give_nan_ratios_but_the_statistics() -> None:
    c = capability(VALUES)
    assert math.isnan(c.cp) and math.isnan(c.cpk)
    assert c.mean == pytest.approx(3.0) and c.sigma == pytest.approx(SIGMA)


def test_a_process_outside_its_limits_has_a_negative_cpk() -> None:
    c = capability([7.0, 8.0, 9.0], 0.0, 6.0)  # mean 8, sigma 1
    assert c.cpk == pytest.approx((6 - 8) / 3.0)
    assert c.cp == pytest.approx(1.0)


def test_nan_and_infinite_values_are_ignored() -> None:
    c = capability([1.0, math.nan, 2.0, 3.0, math.inf, 4.0, 5.0, math.nan], 0.0, 6.0)
    ref = capability(VALUES, 0.0, 6.0)
    assert c == ref


def test_fewer_than_two_values_give_nan_indices() -> None:
    one = capability([math.nan, 4.0], 0.0, 6.0)
    assert one.n == 1 and one.mean == 4.0
    assert math.isnan(one.sigma) and math.isnan(one.cp) and math.isnan(one.cpk)
    none = capability([], 0.0, 6.0)
    assert none.n == 0 and math.isnan(none.mean) and math.isnan(none.cpk)


def test_equal_values_give_infinite_ratios() -> None:
    c = capability([2.0, 2.0, 2.0], 0.0, 6.0)
    assert c.sigma == 0.0 and c.cp == math.inf and c.cpk == math.inf
    on_limit = capability([6.0, 6.0], 0.0, 6.0)
    assert math.isnan(on_limit.cpk)


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="above"):
        capability(VALUES, 6.0, 0.0)
    with pytest.raises(ValueError, match="NaN"):
        capability(VALUES, math.nan, 6.0)


def test_yield_counts_only_units_with_a_verdict() -> None:
    assert yield_of([True, False, None, True]) == pytest.approx(2 / 3)
    assert yield_of([True, True]) == 1.0
    assert math.isnan(yield_of([])) and math.isnan(yield_of([None, None]))


def test_lot_yield_per_limit_and_overall() -> None:
    verdicts = {"thd_max": [True, True, False, None], "offset_max_v": [True, None, True, None]}
    per_limit, overall = lot_yield(verdicts)
    assert per_limit == {"thd_max": pytest.approx(2 / 3), "offset_max_v": 1.0}
    # unit 0 passed both, unit 1 passed the one it has, unit 2 failed one, unit 3 has none (not counted)
    assert overall_verdicts(verdicts) == [True, True, False, None]
    assert overall == pytest.approx(2 / 3)


def test_lot_yield_refuses_limits_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="numbers of units"):
        lot_yield({"a": [True], "b": [True, False]})
    assert lot_yield({}) == ({}, pytest.approx(math.nan, nan_ok=True))


def test_an_outlier_beyond_median_3_robust_sigmas_is_flagged() -> None:
    """9, 9.5, 10, 10.5, 11 and 30 (a NaN not counted): median (10 + 10.5)/2 = 10.25; absolute deviations 1.25,
    0.75, 0.25, 0.25, 0.75, 19.75, so MAD = (0.75 + 0.75)/2 = 0.75, robust sigma 1.4826 x 0.75 = 1.11195, band
    10.25 -+ 3.33585 = [6.91415, 13.58585]: only 30 is outside. The mean +- 3 sample sigmas (13.33 -+ 24.5) would
    not flag it: the outlier inflates the sigma it is judged by."""
    values = [10.0, 11.0, math.nan, 9.0, 10.5, 9.5, 30.0]
    o = outliers(values)
    assert o.judged and o.n == 6
    assert o.median == pytest.approx(10.25) and o.scale == pytest.approx(1.11195, abs=1e-5)
    assert (o.lower, o.upper) == (pytest.approx(6.91415, abs=1e-5), pytest.approx(13.58585, abs=1e-5))
    assert o.flagged.tolist() == [False, False, False, False, False, False, True] and o.indices == [6]
    c = capability(values)
    assert c.mean + 3 * c.sigma > 30.0  # the non-robust rule misses it


def test_five_values_are_judged_four_are_not() -> None:
    """1, 2, 3, 4, 100: median 3, deviations 2, 1, 0, 1, 97, MAD 1, band 3 -+ 4.4478: 100 is out."""
    o = outliers([1.0, 2.0, 3.0, 4.0, 100.0])
    assert o.judged and o.indices == [4]
    assert (o.lower, o.upper) == (pytest.approx(3 - 4.4478), pytest.approx(3 + 4.4478))
    few = outliers([1.0, 2.0, 3.0, 100.0, math.nan, math.inf])  # four finite values
    assert not few.judged and few.n == 4 and not few.flagged.any() and few.flagged.shape == (6,)
    assert math.isnan(few.lower) and math.isnan(few.upper) and few.median == 2.5
    assert outliers([1.0, 2.0, 3.0, 100.0], min_n=4).indices == [3]
    assert not outliers([]).judged


def test_a_zero_mad_flags_every_value_off_the_median_and_k_widens_the_band() -> None:
    assert outliers([5.0, 5.0, 5.0, 5.0, 5.0, 6.0]).indices == [5]  # MAD 0: the band is the median alone
    assert outliers([5.0] * 6).indices == []
    x = np.array([1.0, 2.0, 3.0, 4.0, 8.0])  # band 3 -+ k x 1.4826: 8 is out for k = 3 (7.45), in for k = 4 (8.93)
    assert outliers(x).indices == [4] and outliers(x, k=4.0).indices == []
    with pytest.raises(ValueError, match="k must be positive"):
        outliers(x, k=0.0)
