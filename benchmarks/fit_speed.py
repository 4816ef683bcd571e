"""Time of the chain's sine fits on a 4-channel record, against the step-by-step recipe and against the floor.

``procedures.measure.phasors.fit_channels`` (the chain's fit: reference channel, 4-parameter frequency fit,
3-parameter fits of every channel, BLAS on one thread) is timed with the shipped 5 harmonics and with 15, beside
two references measured in the same run on the same records:

* the step-by-step recipe with the public functions, which fit_channels used to be and whose numbers it must
  give (to 1e-9, tests/procedures/measure/test_phasors.py): ``fit_sines`` of the fundamental at the hint to pick
  the reference, ``fit_frequency`` on it, ``fit_sines`` of every channel at that frequency; once with the
  machine's default BLAS threads and once with one;
* the floor: one ``fit_sines`` of the four channels at a known frequency (one design, one solve, 5 harmonics).

Records: 4 channels of 1e5 points at 10.37 periods, 8-bit-like codes (the shipped procedures' 5 harmonics, and
15), and 2e4 points at 13 periods (a high-frequency point). Run: ``.venv/bin/python benchmarks/fit_speed.py
[--repeats 15]``; prints the median wall and CPU ms of each, their ratio to fit_channels, and for each record the
figures of issue 14, item 3: fit_channels against its 15 ms target (4 x 1e5) and against the floor, and the CPU of
the 15-harmonic fit against the 5-harmonic one (target at most 1.3). Prints figures; asserts nothing.

CPU is the calling thread's (``time.thread_time``): the one-thread variants run there whole, while the process's
CPU would also count the BLAS workers of the default-threads variant spinning on after it (for that variant the
CPU column counts the calling thread only). The repeats are interleaved so every variant sees the same load from
other processes, their order rotated from one repeat to the next so that each variant follows every other as often
(a variant run right after another on the same record finds it in cache: about 1 ms of fit_channels' 4 x 1e5
time). After the default-threads variant the run pauses 0.3 s, long enough for those workers to stop spinning (on
a 2-core machine they would otherwise take a core from the next variants).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from procedures.measure.phasors import fit_channels, fit_frequency, fit_sines

TARGET_MS = 15.0         # fit_channels, 4 x 1e5 points, 5 harmonics, one BLAS thread
TARGET_HARMONICS = 1.3   # CPU of the 15-harmonic fit_channels over the 5-harmonic one


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


FIT5, FIT15, FLOOR = "fit_channels", "fit_channels, 15 harmonics", "floor (fit_sines, known f)"
DEFAULT_THREADS = "step by step, default threads"
SETTLE_S = 0.3  # after the default-threads variant: OpenBLAS's workers spin about 0.1 s before they sleep


def _variants(t: np.ndarray, Y: np.ndarray, f: float) -> dict[str, Callable[[], object]]:
    return {
        FIT5: lambda: fit_channels(t, Y, f),
        FIT15: lambda: fit_channels(t, Y, f, n_harmonics=15),
        DEFAULT_THREADS: lambda: step_by_step(t, Y, f),
        "step by step, one thread": one_thread(lambda: step_by_step(t, Y, f)),
        FLOOR: one_thread(lambda: fit_sines(t, Y, f)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    a = ap.parse_args(argv)
    for n, f, periods in [(100_000, 1e3, 10.37), (20_000, 5e5, 13.0)]:
        t, Y = _record(n, f, periods)
        variants = _variants(t, Y, f)
        for fn in variants.values():  # warm-up: first calls load libraries and fill caches
            fn()
        wall: dict[str, list[float]] = {k: [] for k in variants}
        cpu: dict[str, list[float]] = {k: [] for k in variants}
        names = list(variants)
        for i in range(a.repeats):
            for name in names[i % len(names):] + names[: i % len(names)]:  # each follows each in turn
                fn = variants[name]
                c0, t0 = time.thread_time(), time.perf_counter()
                fn()
                wall[name].append(time.perf_counter() - t0)
                cpu[name].append(time.thread_time() - c0)
                if name == DEFAULT_THREADS:
                    time.sleep(SETTLE_S)
        med = {k: 1e3 * statistics.median(v) for k, v in wall.items()}
        med_cpu = {k: 1e3 * statistics.median(v) for k, v in cpu.items()}
        base = med[FIT5]
        print(f"4 x {n} points, {periods} periods (median of {a.repeats}; wall ms, CPU ms):")
        for name, ms in med.items():
            print(f"  {name:32s} {ms:7.2f} ms  {med_cpu[name]:7.2f} ms CPU  ({ms / base:.2f} x fit_channels)")
        target = f"target <= {TARGET_MS:g} ms, " if n == 100_000 else ""
        print(f"  fit_channels, 5 harmonics: {base:.2f} ms ({target}{base / med[FLOOR]:.2f} x the floor's "
              f"{med[FLOOR]:.2f} ms)")
        print(f"  fit_channels, 15 / 5 harmonics: {med_cpu[FIT15]:.2f} / {med_cpu[FIT5]:.2f} ms CPU = "
              f"{med_cpu[FIT15] / med_cpu[FIT5]:.2f} (target <= {TARGET_HARMONICS:g}; wall {med[FIT15]:.2f} / "
              f"{base:.2f} ms = {med[FIT15] / base:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
