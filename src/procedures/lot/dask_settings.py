"""Dask settings for diffbench's worker processes: a bench worker spends its CPU on the simulated instruments and
the analysis, not on Dask's housekeeping or the C library's memory returns.

The same settings are applied to the local clusters diffbench starts (a lot's benches, a refit's workers), and
``configs/dask/bench-worker.yaml`` holds them for a production line's bench PCs, whose workers are started by
hand (docs/lots.md): ``DASK_CONFIG=configs/dask dask worker ...``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

#: a local cluster listens on loopback only: its scheduler runs whatever a client sends it
LOOPBACK = "127.0.0.1"

#: dotted Dask config keys -> values, each for a measured reason (benchmarks/lot_throughput.py, 4 benches on 2
#: cores):
#:
#: - ``pre-spawn-environ.MALLOC_TRIM_THRESHOLD_`` unset: by default a nanny sets it in its worker's environment
#:   to give memory back to the system sooner, which also stops glibc from raising its mmap threshold
#:   (``man 3 mallopt``, M_MMAP_THRESHOLD), so every array over 128 KiB (one channel's record) is a fresh
#:   mmap, page-faulted in and unmapped again: a unit's system CPU rose from 0.8 s to 4.7 s;
#: - the statistical profiler off: it samples every thread of a worker, the simulated instruments' server
#:   threads too, every 10 ms (about a fifth of a bench worker's CPU);
#: - every Dask server (scheduler, nanny, worker) times its event loop every ``tick.interval`` (20 ms) and reads
#:   its process's CPU and memory every ``system-monitor.interval`` (500 ms), and each nanny reads its worker's
#:   memory every ``memory.monitor-interval`` (100 ms): slowed to 1 s, 2 s and 1 s, they took the lot process
#:   from 8 % of a core to 2 %.
WORKER_CONFIG: dict[str, object] = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
}

#: environment of a local worker process: Dask's own log records at error level only (our progress lines are
#: what a person reads), one BLAS thread (one worker per bench or per core already uses the cores)
WORKER_ENV = {"DASK_LOGGING__DISTRIBUTED": "error", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "MKL_NUM_THREADS": "1"}


@contextmanager
def worker_settings() -> Iterator[None]:
    """:data:`WORKER_CONFIG` in this process's Dask config for the block: a local cluster's scheduler and nannies
    live in this process and read it when they are made; its workers get it through their nanny."""
    import dask
    import distributed  # noqa: F401  (its defaults must be loaded for the dotted keys to merge into them)

    dask.config.set({"logging.distributed": "error"})  # our progress lines, not Dask's
    with dask.config.set(WORKER_CONFIG):
        yield
