"""Lot throughput: units per hour on 1, 2 and 4 simulated benches whose instruments take their real time.

Workload: a lot of ``--units`` units (default 8, a multiple of 4 so no bench idles at the end) of
``configs/boards/bjt-source-text.toml`` drawn from tolerances, measured with ``diffbench lot run`` (a local Dask
cluster, one worker process per bench). The benches are ``configs/benches/sim-keysight.toml`` with
``[sim] timing = true``: every message and acquisition of the simulated instruments lasts what the timing model
says the real ones take (docs/simulated-timing.md), so the instruments set the pace, as on a real line.

Two procedures (``--procedure``):

- ``characterisation`` (default): ``configs/procedures/frequency-sweep.toml``, 13 frequencies from 100 Hz to
  1 MHz with 100 000-point records, about 30 s a unit at the instruments' pace. The instruments' time dominates,
  which is the regime the benches-in-parallel claim is about: N benches measure N units at once.
- ``production-check``: ``configs/procedures/production-check.toml``, what the shipped lot
  (``configs/lots/sim-bjt-lot.toml``) runs: 3 frequencies, 20 000-point records, a few seconds a unit. Here the
  computer's share of a unit (the simulated board's solve, the analysis, the fits, the archive) is large, and
  with 4 benches as 4 processes on a 2-core machine the CPU, not the instruments, sets the pace; on a real line
  each bench has its own PC. Its figures are printed so that the CPU share stays in view.

Throughput is counted over the units' own run times, from the first unit's start to the last one's end (the lot
index's ``start_s``/``end_s``), so the cluster's start-up (one-off, about a second) is left out. The reference,
measured in the same run on the same units, is the one-bench lot: the aim is a speed-up of at least 0.9 x N on
N benches.

Run: ``.venv/bin/python benchmarks/lot_throughput.py`` (about 9 minutes); ``--procedure production-check --units
24`` about 4 minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import tempfile
from pathlib import Path

import numpy as np

from procedures.cli.main import main
from procedures.lot.index import current_rows, read_index

REPO = Path(__file__).resolve().parents[1]
#: the workloads (module docstring)
PROCEDURES = {"characterisation": REPO / "configs" / "procedures" / "frequency-sweep.toml",
              "production-check": REPO / "configs" / "procedures" / "production-check.toml"}


def timed_bench(folder: Path) -> Path:
    """sim-keysight.toml with the timing model applied (``[sim] timing = true``) and its board path absolute."""
    text = (REPO / "configs" / "benches" / "sim-keysight.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^board\s*=.*$', f'board = "{(REPO / "configs/boards/bjt-source-text.toml").as_posix()}"',
                  text)
    text = text.replace("[sim]\n", "[sim]\ntiming = true\n", 1)
    path = folder / "timed-bench.toml"
    path.write_text(text, encoding="utf-8")
    return path


def lot(folder: Path, benches: int, units: int, bench: Path, procedure: str) -> Path:
    """A drawn lot of ``units`` units over ``benches`` copies of the timed bench, each measured by ``procedure``
    (a key of :data:`PROCEDURES`)."""
    (folder / "proc.toml").write_text(PROCEDURES[procedure].read_text(encoding="utf-8"), encoding="utf-8")
    entries = "".join(f'bench-{k} = "{bench.as_posix()}"\n' for k in range(benches))
    path = folder / f"lot-{benches}.toml"
    path.write_text(f'[lot]\nname = "throughput-{benches}"\nboard = '
                    f'"{(REPO / "configs/boards/bjt-source-text.toml").as_posix()}"\nprocedure = "proc.toml"\n'
                    f"units = {units}\n\n[benches]\n{entries}\n[tolerances]\nseed = 1\nresistor_pct = 1.0\n",
                    encoding="utf-8")
    return path


def units_per_hour(index: Path) -> tuple[float, int]:
    """(units per hour over the units' own run times, units done) from a lot index."""
    cols = read_index(index)
    done = [i for i in current_rows(cols) if str(cols["status"][i]) == "done"]
    start, end = np.asarray(cols["start_s"], float)[done], np.asarray(cols["end_s"], float)[done]
    return len(done) / (end.max() - start.min()) * 3600.0, len(done)


def main_() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--units", type=int, default=8)
    ap.add_argument("--procedure", choices=tuple(PROCEDURES), default="characterisation",
                    help="the full frequency sweep (default) or the shipped lot's production check")
    ap.add_argument("--benches", type=int, nargs="+", default=[1, 2, 4])
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp())
    print(f"{args.units} units, procedure {args.procedure} ({PROCEDURES[args.procedure].name}), timed Keysight "
          f"benches")
    bench = timed_bench(folder)
    rates: dict[int, float] = {}
    for n in args.benches:
        with contextlib.redirect_stdout(io.StringIO()):
            lot_file = lot(folder, n, args.units, bench, args.procedure)
            status = main(["lot", "run", str(lot_file), "-o", str(folder / f"out-{n}")])
        rate, done = units_per_hour(folder / f"out-{n}" / "index.h5")
        rates[n] = rate
        print(f"{n} bench(es): {rate:7.0f} units/hour ({done} units, exit status {status})")
    base = rates[min(rates)]
    for n, rate in rates.items():
        if n != min(rates):
            print(f"speed-up on {n} benches: {rate / base:.2f} x the {min(rates)}-bench lot "
                  f"(aim: at least {0.9 * n / min(rates):.1f})")


if __name__ == "__main__":
    main_()
