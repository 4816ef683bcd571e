"""Refit throughput: archives per hour refitted by ``diffbench lot refit``'s tasks on 1 and 2 local Dask workers,
against a plain loop doing the same work in one process.

Workload: ``--archives`` run archives (default 100), one per unit of a lot of ``configs/boards/bjt-source-text.toml``
drawn from tolerances and measured first with ``diffbench lot run`` on two simulated benches (a five-frequency
sweep with 20 000-point records; about 3 minutes, once: ``--lot DIR`` keeps the lot's folder and a later run
reuses it). Each archive's work is :func:`procedures.lot.lot_refit.refit_archive`: every fit made again, the
verdicts judged again, both written into a new copy, and the copy summarised for the lot index.

The reference, measured in the same run, is the plain loop: the same tasks one after another in this process
(its imports done beforehand, as a worker's are). The clusters are timed from the first task submitted to the
last result back, after every worker has imported the task's modules; the cluster's start-up (processes
started, modules imported) is printed beside it, since a one-off refit pays it once. The figures: archives
per hour, and each cluster's ratio to the plain loop (on this 2-core machine, 2 workers can at best double).
The refitted values of the cluster and of the loop must agree exactly: the script checks it.

Run: ``.venv/bin/python benchmarks/lot_refit_throughput.py`` (about 6 minutes the first time).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
import time
from pathlib import Path

from procedures.cli.main import main
from procedures.lot.lot_refit import RefitOutcome, RefitSpec, refit_all, refit_archive, refit_client

REPO = Path(__file__).resolve().parents[1]
BOARD = REPO / "configs" / "boards" / "bjt-source-text.toml"
BENCH = REPO / "configs" / "benches" / "sim-keysight.toml"
PROCEDURE = """
[procedure]
name = "refit-throughput"
kind = "frequency_sweep"
description = "five frequencies, short records"

[drive]
vid_vpk = 0.002
vic_vpk = 0.3

[frequency]
start_hz = 1000.0
stop_hz = 100000.0
points = 5

[acquisition]
record_points = 20000
"""


def measured_lot(folder: Path, units: int) -> list[Path]:
    """The archives of a lot of ``units`` drawn units measured in ``folder`` (measured now unless already there)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "proc.toml").write_text(PROCEDURE, encoding="utf-8")
    (folder / "lot.toml").write_text(
        f'[lot]\nname = "refit-bench"\nboard = "{BOARD.as_posix()}"\nprocedure = "proc.toml"\nunits = {units}\n\n'
        f'[benches]\nbench-a = "{BENCH.as_posix()}"\nbench-b = "{BENCH.as_posix()}"\n\n'
        '[tolerances]\nseed = 11\nresistor_pct = 6.0\nmatching_pct = 3.0\n', encoding="utf-8")
    archives = sorted((folder / "out" / "units").glob("*.h5"))
    if len(archives) < units:
        print(f"measuring a lot of {units} units for the archives (once; kept in {folder}) ...", flush=True)
        with contextlib.redirect_stdout(io.StringIO()):
            status = main(["lot", "run", str(folder / "lot.toml"), "-o", str(folder / "out")])
        if status not in (0, 3):
            raise SystemExit(f"the lot run failed (exit {status})")
        archives = sorted((folder / "out" / "units").glob("*.h5"))
    return archives[:units]


def specs_into(archives: list[Path], dest: Path) -> list[RefitSpec]:
    """One refit task per archive, its copy into ``dest``."""
    return [RefitSpec(a.stem, str(a), str(dest / a.name)) for a in archives]


def plain_loop(archives: list[Path], dest: Path) -> tuple[float, list[RefitOutcome]]:
    """The reference: every archive refitted one after another here; wall time (s) and the outcomes."""
    refit_archive(specs_into(archives[:1], dest / "warm")[0])  # imports and first-call costs, as a worker's
    t0 = time.perf_counter()
    outcomes = refit_all(None, specs_into(archives, dest / "loop"), lambda o: None)
    return time.perf_counter() - t0, outcomes


def on_cluster(archives: list[Path], dest: Path, workers: int) -> tuple[float, float, list[RefitOutcome]]:
    """The same work on ``workers`` local worker processes: (start-up s, work s, outcomes)."""
    t0 = time.perf_counter()
    with refit_client(workers) as client:
        client.wait_for_workers(workers)
        client.run(_warm, str(archives[0]), str(dest / "warm"))  # each worker's first-call costs paid here
        t1 = time.perf_counter()
        outcomes = refit_all(client, specs_into(archives, dest / f"cluster{workers}"), lambda o: None)
        t2 = time.perf_counter()
    return t1 - t0, t2 - t1, outcomes


def _warm(archive: str, folder: str) -> None:
    """One refit on a worker, into a copy of its own (its imports and first-call costs, as the loop's)."""
    import os

    refit_archive(RefitSpec("warm", archive, str(Path(folder) / f"warm-{os.getpid()}.h5")))


def _same(a: list[RefitOutcome], b: list[RefitOutcome]) -> bool:
    """Whether two runs of the tasks refitted every archive to the same components and verdicts."""
    for x, y in zip(a, b, strict=True):
        if x.summary is None or y.summary is None:
            return False
        cx = {k: (c.value, c.u) for k, c in x.summary.components.items()}
        cy = {k: (c.value, c.u) for k, c in y.summary.components.items()}
        if cx != cy or x.summary.passed != y.summary.passed:
            return False
    return True


def main_benchmark() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archives", type=int, default=100, help="archives to refit (default 100)")
    parser.add_argument("--lot", type=Path, default=None, help="folder of the measured lot (kept, reused)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        archives = measured_lot(args.lot or Path(tmp) / "lot", args.archives)
        n = len(archives)
        dest = Path(tmp) / "refits"
        loop_s, loop = plain_loop(archives, dest)
        print(f"{n} archives ({archives[0].parent})")
        print(f"plain loop      : {loop_s:7.1f} s  {3600 * n / loop_s:8.0f} archives/h  (reference)")
        failed = [o.serial for o in loop if not o.ok]
        if failed:
            raise SystemExit(f"the plain loop could not refit {failed}")
        for workers in (1, 2):
            start_s, work_s, outcomes = on_cluster(archives, dest, workers)
            ratio = loop_s / work_s
            with_start = loop_s / (start_s + work_s)
            print(f"{workers} worker{'s' if workers > 1 else ' '}       : {work_s:7.1f} s  {3600 * n / work_s:8.0f} "
                  f"archives/h  x{ratio:.2f} the loop (x{with_start:.2f} with the cluster's {start_s:.1f} s start-up)"
                  f"  same results: {'yes' if _same(loop, outcomes) else 'NO'}")


if __name__ == "__main__":
    main_benchmark()
