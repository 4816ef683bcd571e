"""Write speed of the run archive against plain h5py writing the same codes, measured in the same run.

Workload (the brief's "realistic records"): ``--records`` records (default 100) of 4 channels x ``--samples``
(default 100 000) scope codes, int8 and int16, and for each record a small table row (point index,
frequency, a complex gain with uncertainty, 4 peak-to-peak values), committed per point.

Baseline: plain h5py (default file format, no SWMR, no counters, no table) writing the same code arrays
into one chunked resizable dataset ``(record, channel, sample)`` with the archive's chunking
``(1, 1, samples)``, with ``resize`` + ``ds[i] = codes``.

Durability modes, the same for both writers:

* ``page-cache``: nothing is fsynced (the archive's fsync calls are switched off for this mode only);
  this exposes the CPU overhead of the archive's per-point work.
* ``fsync-at-end``: one fsync when the file is complete (the archive's normal ``finish()``; the baseline
  closes and fsyncs).
* ``fsync-per-point``: ``commit(fsync=True)`` per point; the baseline flushes and fsyncs per record.

``gzip`` rows use shuffle + deflate level 1 in both writers (``fsync-at-end``). Each configuration is timed
``--reps`` times (default 5) in random order, with ``os.sync()`` before every timing; the median is
reported. MB/s counts code bytes only (1 MB = 1e6 bytes). The project's aim is archive >= 0.9x plain h5py.

Run: ``.venv/bin/python benchmarks/archive_speed.py`` (about 40 s on the 2-core VM when it is otherwise
idle), ``--quick`` for a smoke run. It also prints the archive's fixed cost per file (create + finish),
which the MB/s figures include.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np

from procedures.archive.writer import Column, RunArchive, RunDeclaration, TableSpec, WaveformSpec

CHANNELS = ("v1", "v2", "vo1", "vo2")
MODES = ("page-cache", "fsync-at-end", "fsync-per-point")


def make_codes(n_records: int, n_samples: int, dtype: str, seed: int = 1) -> np.ndarray:
    """Scope-like codes: a sine filling ~3/4 of the range plus Gaussian noise (3 LSB int16, 1 LSB int8)."""
    rng = np.random.default_rng(seed)
    full = 2000 if dtype == "int16" else 100  # 12-bit ADC in a 16-bit WORD / 8-bit BYTE
    noise = 3.0 if dtype == "int16" else 1.0
    t = np.arange(n_samples)
    out = np.empty((n_records, len(CHANNELS), n_samples), dtype=dtype)
    for r in range(n_records):
        for c in range(len(CHANNELS)):
            phase = rng.uniform(0, 2 * np.pi)
            wave = full * np.sin(2 * np.pi * t * (7 + c) / n_samples * 50 + phase) + rng.normal(0, noise, n_samples)
            out[r, c] = np.clip(np.round(wave), np.iinfo(dtype).min, np.iinfo(dtype).max)
    return out


TABLE = TableSpec(
    {
        "point": Column("int64", "1", "point index"),
        "freq_hz": Column("float64", "Hz", "test frequency"),
        "Add": Column("complex128", "1", "differential gain", uncertainty=True),
        "vpp_v": Column("float64", "V", "peak-to-peak amplitude per channel", shape=(4,), dims=("channel",)),
    },
    signal="freq_hz",
)


@contextmanager
def fsync_disabled(disabled: bool) -> Iterator[None]:
    """Make os.fsync a no-op while ``disabled`` (page-cache mode only)."""
    real = os.fsync
    if disabled:
        os.fsync = lambda fd: None  # type: ignore[assignment]
    try:
        yield
    finally:
        os.fsync = real  # type: ignore[assignment]


def write_archive(path: Path, codes: np.ndarray, mode: str, compress: bool) -> float:
    """Seconds to create, write every record + row with a commit per point, and finish an archive."""
    n, C, N = codes.shape
    with fsync_disabled(mode == "page-cache"):
        t0 = time.perf_counter()
        ar = RunArchive.create(
            path,
            RunDeclaration(
                metadata={"benchmark": "archive_speed"},
                configs={"procedure": "bench = true\n"},
                instruments={"scope": {"idn": "BENCH", "resource": "none", "driver": "none", "settings": {}}},
                tables={"points": TABLE},
                waveform_spec=WaveformSpec(CHANNELS, N, str(codes.dtype), compress),
            ),
            fsync=(mode == "fsync-per-point"),
        )
        for i in range(n):
            ar.append_record(i, codes[i], y_increment=1e-3, y_origin=0.0, y_reference=0.0, x_increment=1e-7,
                             x_origin=-5e-3)
            ar.append("points", {"point": i, "freq_hz": 1e3 * (i + 1), "Add": 50 - 1j * i, "Add_u": 0.01 + 0.01j,
                                 "vpp_v": np.full(4, 0.1 * i)})
            ar.commit()
        ar.finish("complete")
        return time.perf_counter() - t0


def archive_fixed_costs(tmp: Path, n_samples: int, reps: int) -> tuple[float, float]:
    """Median seconds to create an archive (schema, rename, SWMR reopen) and to finish an empty one (no fsync)."""
    create, finish = [], []
    with fsync_disabled(True):
        for k in range(reps):
            path = tmp / f"fixed-{k}.h5"
            t0 = time.perf_counter()
            ar = RunArchive.create(path, RunDeclaration(metadata={}, configs={}, instruments={},
                                                        tables={"points": TABLE},
                                                        waveform_spec=WaveformSpec(CHANNELS, n_samples, "int16")))
            t1 = time.perf_counter()
            ar.finish("complete")
            finish.append(time.perf_counter() - t1)
            create.append(t1 - t0)
            path.unlink()
    return statistics.median(create), statistics.median(finish)


def write_plain(path: Path, codes: np.ndarray, mode: str, compress: bool) -> float:
    """Seconds for plain h5py to write the same codes into one chunked resizable dataset."""
    n, C, N = codes.shape
    filters = {"shuffle": True, "compression": "gzip", "compression_opts": 1} if compress else {}
    t0 = time.perf_counter()
    f = h5py.File(path, "w")
    ds = f.create_dataset("code", shape=(0, C, N), maxshape=(None, C, N), chunks=(1, 1, N), dtype=codes.dtype,
                          **filters)
    for i in range(n):
        ds.resize(i + 1, axis=0)
        ds[i] = codes[i]
        if mode == "fsync-per-point":
            f.flush()
            os.fsync(f.id.get_vfd_handle())
    f.close()
    if mode != "page-cache":
        fd = os.open(path, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=100)
    ap.add_argument("--samples", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--dir", default=None, help="where to write (default: a temporary directory on /tmp's filesystem)")
    ap.add_argument("--quick", action="store_true", help="10 records x 20 000 samples, 2 repetitions")
    args = ap.parse_args(argv)
    if args.quick:
        args.records, args.samples, args.reps = 10, 20_000, 2

    configs: list[tuple[str, str, bool]] = [(dt, m, False) for dt in ("int8", "int16") for m in MODES]
    configs += [(dt, "fsync-at-end", True) for dt in ("int8", "int16")]
    data = {dt: make_codes(args.records, args.samples, dt) for dt in ("int8", "int16")}
    writers: dict[str, Callable[[Path, np.ndarray, str, bool], float]] = {"archive": write_archive,
                                                                          "plain": write_plain}
    times: dict[tuple[str, str, str, bool], list[float]] = {}
    sizes: dict[tuple[str, str, str, bool], int] = {}
    jobs = [(w, dt, m, c) for (dt, m, c) in configs for w in writers] * args.reps
    random.Random(0).shuffle(jobs)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for k, (w, dt, m, c) in enumerate(jobs):
            path = Path(tmp) / f"{w}-{k}.h5"
            os.sync()
            times.setdefault((w, dt, m, c), []).append(writers[w](path, data[dt], m, c))
            sizes[(w, dt, m, c)] = path.stat().st_size
            path.unlink()
        t_create, t_finish = archive_fixed_costs(Path(tmp), args.samples, args.reps)

    print(f"diffbench archive write speed: {args.records} records x {len(CHANNELS)} ch x {args.samples} samples "
          f"(+1 table row and 1 commit per record), median of {args.reps}, h5py {h5py.__version__}, "
          f"HDF5 {h5py.version.hdf5_version}, python {sys.version.split()[0]}")
    print(f"{'codes':6} {'durability':16} {'filter':6} {'archive MB/s':>12} {'plain MB/s':>11} {'ratio':>6} "
          f"{'archive ms/rec':>14} {'plain ms/rec':>12} {'size/raw':>8}")
    ratios = []
    for dt, m, c in configs:
        raw = data[dt].nbytes
        ta = statistics.median(times[("archive", dt, m, c)])
        tp = statistics.median(times[("plain", dt, m, c)])
        ratio = tp / ta
        ratios.append(((dt, m, c), ratio))
        print(f"{dt:6} {m:16} {'gzip1' if c else 'none':6} {raw / ta / 1e6:12.0f} {raw / tp / 1e6:11.0f} {ratio:6.2f} "
              f"{ta / args.records * 1e3:14.2f} {tp / args.records * 1e3:12.2f} "
              f"{sizes[('archive', dt, m, c)] / raw:8.3f}")
    print(f"archive fixed cost per file (in every archive time above): create {t_create * 1e3:.1f} ms, "
          f"finish without fsync {t_finish * 1e3:.1f} ms = "
          f"{(t_create + t_finish) / args.records * 1e3:.2f} ms per record here")
    below = [f"{dt}/{m}/{'gzip1' if c else 'none'}" for (dt, m, c), r in ratios if r < 0.9]
    verdict = "met in every configuration" if not below else f"missed in {', '.join(below)}"
    print("aim (archive >= 0.9x plain h5py): " + verdict)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
