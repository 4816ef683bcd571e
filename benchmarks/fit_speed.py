"""Time of the chain's sine fits on a 4-channel record, against the step-by-step recipe and against the floor.

``procedures.measure.phasors.fit_channels`` (the chain's fit: reference channel, 4-parameter frequency fit,
3-parameter fits of every channel, one design shared wherever the numbers allow, BLAS on one thread) is timed
beside two references measured in the same run on the same records:

* the step-by-step recipe with the public functions, which fit_channels used to be and whose numbers it must
  give (to 1e-9, tests/procedures/measure/test_phasors.py): ``fit_sines`` of the fundamental at the hint to pick
  the reference, ``fit_frequency`` on it, ``fit_sines`` of every channel at that frequency; once with the
  machine's default BLAS threads and once with one;
* the floor: one ``fit_sines`` of the four channels at a known frequency (one design, one solve).

Records: 4 channels of 1e5 points at 10.37 periods, 8-bit-like codes, 5 harmonics (the shipped procedures'),
and 2e4 points at 13 periods (a high-frequency point). Run: ``.venv/bin/python benchmarks/fit_speed.py
[--repeats 15]``; prints the median ms of each and the ratios. The repeats are interleaved so every variant sees
the same load from other processes.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from procedures.measure.phasors import fit_channels, fit_frequency, fit_sines


def _record(n: int, f: float, periods: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    t = (np.arange(n) - 0.5 * n) * periods / (f * n)
    Y = np.array([a * np.cos(2 * np.pi * f * t + ph) + 0.01 * a * np.cos(4 * np.pi * f * t)
                  + 2e-3 * rng.standard_normal(n) for a, ph in [(1, 0.1), (0.9, 0.3), (5e-3, 1.0), (0.3, 2.0)]])
    return t, np.round(Y / 8e-3) * 8e-3


def step_by_step(t: np.ndarray, Y: np.ndarray, hint: float) -> list[object]:
    """The recipe with the public functions (module docstring)."""
    ref = int(np.argmax([s.snr_fit for s in fit_sines(t, Y, hint, n_harmonics=1)]))
    return list(fit_sines(t, Y, fit_frequency(t, Y[ref], hint), n_harmonics=5))


def one_thread(fn: Callable[[], object]) -> Callable[[], object]:
    def run() -> object:
        with threadpool_limits(limits=1, user_api="blas"):
            return fn()
    return run


def _variants(t: np.ndarray, Y: np.ndarray, f: float) -> dict[str, Callable[[], object]]:
    return {
        "fit_channels": lambda: fit_channels(t, Y, f),
        "step by step, default threads": lambda: step_by_step(t, Y, f),
        "step by step, one thread": one_thread(lambda: step_by_step(t, Y, f)),
        "floor (fit_sines, known f)": one_thread(lambda: fit_sines(t, Y, f)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    a = ap.parse_args(argv)
    for n, f, periods in [(100_000, 1e3, 10.37), (20_000, 5e5, 13.0)]:
        t, Y = _record(n, f, periods)
        variants = _variants(t, Y, f)
        times: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(a.repeats):
            for name, fn in variants.items():
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
        med = {k: 1e3 * statistics.median(v) for k, v in times.items()}
        base = med["fit_channels"]
        print(f"4 x {n} points, {periods} periods:")
        for name, ms in med.items():
            print(f"  {name:32s} {ms:7.2f} ms  ({ms / base:.2f} x fit_channels)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
