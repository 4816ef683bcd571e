"""Sine fits against synthetic records whose truth is known, and against the Cramér-Rao bound."""

import numpy as np
import pytest

from procedures.measure.phasors import estimate_frequency_ipdft, fit_channels, fit_frequency, fit_sines

FS = 1e6
N = 20000


def _t(n=N):
    return np.arange(n) / FS - 3e-3


def test_three_parameter_fit_recovers_phasor_dc_and_harmonics_exactly():
    t = _t()
    f = 2345.0
    y = 0.2 + 0.5 * np.cos(2 * np.pi * f * t + 0.3) + 0.02 * np.cos(2 * 2 * np.pi * f * t - 1.0) \
        + 0.01 * np.cos(3 * 2 * np.pi * f * t + 2.0)
    (fit,) = fit_sines(t, y, f, n_harmonics=4)
    assert fit.phasor == pytest.approx(0.5 * np.exp(0.3j), abs=1e-12)
    assert fit.dc_v == pytest.approx(0.2, abs=1e-12)
    assert fit.harmonics[0] == pytest.approx(0.02 * np.exp(-1.0j), abs=1e-12)
    assert fit.harmonics[1] == pytest.approx(0.01 * np.exp(2.0j), abs=1e-12)
    assert fit.thd == pytest.approx(np.hypot(0.02, 0.01) / 0.5, rel=1e-9)


def test_uncertainty_is_the_cramer_rao_bound_and_matches_scatter():
    rng = np.random.default_rng(3)
    t = _t()
    f, A, sigma = 1000.3, 0.01, 0.01      # fit-domain SNR A / (sigma sqrt(2/N)) = 100
    est, us = [], []
    for _ in range(400):
        y = A * np.cos(2 * np.pi * f * t + 1.0) + rng.normal(0, sigma, t.size)
        (fit,) = fit_sines(t, y, f, n_harmonics=1)
        est.append(fit.phasor)
        us.append(fit.phasor_u)
    crb = sigma * np.sqrt(2 / t.size)     # docs/reference/measurement-methods.md §1.3: var(a) = 2 sigma^2 / N
    assert np.mean(us) == pytest.approx(crb, rel=0.02)
    scatter = np.sqrt(0.5 * (np.var(np.real(est)) + np.var(np.imag(est))))
    assert scatter == pytest.approx(crb, rel=0.1)


def test_ipdft_is_within_a_small_fraction_of_a_bin():
    t = _t()
    for f in (1234.5, 3000.0, 777.7):
        bin_hz = FS / t.size
        assert abs(estimate_frequency_ipdft(t, np.cos(2 * np.pi * f * t)) - f) < 0.05 * bin_hz


def test_four_parameter_fit_reaches_cramer_rao_frequency_bound():
    rng = np.random.default_rng(11)
    t = _t()
    f, A, sigma = 1234.567, 0.3, 0.01
    errs = []
    for _ in range(200):
        y = A * np.cos(2 * np.pi * f * t + 0.4) + 0.02 * np.cos(3 * 2 * np.pi * f * t) + rng.normal(0, sigma, t.size)
        errs.append(fit_frequency(t, y, 1234.0) - f)
    eta, n = A ** 2 / (2 * sigma ** 2), t.size
    crb_hz = np.sqrt(12 / ((2 * np.pi) ** 2 * eta * n * (n ** 2 - 1))) * FS   # §1.3
    assert abs(np.mean(errs)) < 3 * crb_hz / np.sqrt(len(errs))
    assert np.std(errs) == pytest.approx(crb_hz, rel=0.15)


def test_common_frequency_fit_gives_ratio_of_channels():
    rng = np.random.default_rng(5)
    t = _t()
    f = 1500.2
    gain = 0.05 * np.exp(-2.0j)
    vin = 0.4 * np.cos(2 * np.pi * f * t) + rng.normal(0, 1e-3, t.size)
    vout = np.real(gain * 0.4 * np.exp(2j * np.pi * f * t)) + rng.normal(0, 1e-3, t.size)
    fin, fout = fit_channels(t, np.vstack([vin, vout]), 1500.0)
    assert fin.frequency_hz == fout.frequency_hz
    assert fout.phasor / fin.phasor == pytest.approx(gain, rel=2e-3)


def _record(n: int, f: float, periods: float, jitter: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Four channels of an 8-bit scope's codes (1 % second harmonic, 1e-3 noise), times shifted off zero and, with
    ``jitter``, moved by that fraction of a sample step at random (a non-uniform axis)."""
    rng = np.random.default_rng(7)
    u = np.arange(n) - 0.3 * n
    if jitter:
        u = u + jitter * rng.uniform(-1, 1, n)
    t = u * periods / (f * n)
    Y = np.array([a * np.cos(2 * np.pi * f * t + ph) + 0.01 * a * np.cos(4 * np.pi * f * t + 1)
                  + 1e-3 * rng.standard_normal(n) for a, ph in [(1, 0.1), (0.9, 0.3), (5e-3, 1.0), (0.3, 2.0)]])
    return t, np.round(Y / 2e-3) * 2e-3  # an 8-bit scope's codes


def _assert_recipes_numbers(t: np.ndarray, Y: np.ndarray, hint: float, n_harmonics: int) -> None:
    """fit_channels against the recipe done step by step with the public functions (reference channel from a
    fundamental-only fit at the hint, fit_frequency on it, fit_sines of every channel at that frequency), to 1e-9
    relative."""
    ref = int(np.argmax([s.snr_fit for s in fit_sines(t, Y, hint, n_harmonics=1)]))
    expected = fit_sines(t, Y, fit_frequency(t, Y[ref], hint, n_harmonics=n_harmonics), n_harmonics=n_harmonics)
    for want, got in zip(expected, fit_channels(t, Y, hint, n_harmonics=n_harmonics)):
        scale = abs(want.phasor)
        assert got.frequency_hz == pytest.approx(want.frequency_hz, rel=1e-12)
        assert abs(got.phasor - want.phasor) <= 1e-9 * scale
        assert got.harmonics.shape == want.harmonics.shape
        assert np.all(np.abs(got.harmonics - want.harmonics) <= 1e-9 * scale)
        assert abs(got.dc_v - want.dc_v) <= 1e-9 * scale
        assert got.phasor_u == pytest.approx(want.phasor_u, rel=1e-9)
        assert np.all(np.abs(got.harmonics_u - want.harmonics_u) <= 1e-9 * want.harmonics_u)
        assert got.residual_rms_v == pytest.approx(want.residual_rms_v, rel=1e-9)
        assert got.n_samples == want.n_samples


@pytest.mark.parametrize("n_harmonics", [5, 15])
@pytest.mark.parametrize("n, f, periods, hint_bins", [(100_000, 1e3, 10.37, 0.3), (20_000, 5e5, 13.1, 0.0),
                                                      (100_000, 100.0, 10.0, 0.0), (10_000, 1e4, 3.2, 2.5),
                                                      (10_001, 1e4, 7.3, 0.3)])
def test_fit_channels_gives_the_step_by_step_recipes_numbers(n: int, f: float, periods: float,
                                                             hint_bins: float, n_harmonics: int) -> None:
    """fit_channels computes the recipe's numbers without a design matrix on a uniform axis (closed-form Gram
    matrices, block-folded products); they must be those of the recipe done step by step, to 1e-9 relative: the
    hint exact, 0.3 of a bin off, and 2.5 bins off (where the frequency fit starts from the IpDFT estimate instead),
    with the shipped 5 harmonics and with 15, records whose length leaves a tail after the last whole block."""
    t, Y = _record(n, f, periods)
    _assert_recipes_numbers(t, Y, f * (1 + hint_bins / periods), n_harmonics)


@pytest.mark.parametrize("n", [20_000, 200])
def test_fit_channels_on_a_non_uniform_axis_or_short_record_gives_the_recipes_numbers(n: int) -> None:
    """A jittered time axis (a tenth of a step) and a record under 256 samples take fit_channels' design path; its
    numbers are the recipe's too."""
    t, Y = _record(n, 1e3, 10.37, jitter=0.1 if n > 256 else 0.0)
    _assert_recipes_numbers(t, Y, 1e3 * (1 + 0.3 / 10.37), 5)


@pytest.mark.parametrize("n, samples_per_period", [(20_000, 10.0), (20_001, 10.0), (20_000, 10.0003)])
def test_fit_channels_with_a_harmonic_at_the_nyquist_frequency_gives_the_recipes_numbers(
        n: int, samples_per_period: float) -> None:
    """The 5th harmonic just off the Nyquist frequency: harmonic pairs fold by 2 pi in the Gram matrix's closed
    form, which fit_channels evaluates reduced; exactly on it, where the closed form cancels, it takes the design
    path (with an even record the 5th cosine vanishes at every sample and the recipe solves by SVD). Either way the
    numbers are the recipe's."""
    t, Y = _record(n, 1e3, n / samples_per_period)
    _assert_recipes_numbers(t, Y, 1e3, 5)
