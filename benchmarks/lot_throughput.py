"""Lot throughput: units per hour on 1, 2 and 4 simulated benches whose instruments take their real time.

Workload: a lot of ``--units`` units (default 24) of ``configs/boards/bjt-source-text.toml`` drawn from tolerances,
each measured by a two-frequency sweep with 20 000-point records, with ``diffbench lot run`` (a local Dask cluster,
one worker process per bench). The benches are ``configs/benches/sim-keysight.toml`` with ``[sim] timing = true``:
every message and acquisition of the simulated instruments lasts what the timing model says the real ones take
(docs/simulated-timing.md), so the instruments, not this machine's CPU, set the pace, as on a real line.

Throughput is counted over the units' own run times, from the first unit's start to the last one's end (the lot
index's ``start_s``/``end_s``), so the cluster's start-up (one-off, about a second) is left out. The reference,
measured in the same run, is the one-bench lot: the aim is a speed-up of at least 0.9 x N on N benches.

Run: ``.venv/bin/python benchmarks/lot_throughput.py`` (about 5 minutes).
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
PROCEDURE = """
[procedure]
name = "lot-throughput"
kind = "frequency_sweep"
description = "two frequencies, short records"

[drive]
vid_vpk = 0.002
vic_vpk = 0.3

[frequency]
start_hz = 1000.0
stop_hz = 10000.0
points = 2

[acquisition]
record_points = 20000
"""


def timed_bench(folder: Path) -> Path:
    """sim-keysight.toml with the timing model applied (``[sim] timing = true``) and its board path absolute."""
    text = (REPO / "configs" / "benches" / "sim-keysight.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^board\s*=.*$', f'board = "{(REPO / "configs/boards/bjt-source-text.toml").as_posix()}"',
                  text)
    text = text.replace("[sim]\n", "[sim]\ntiming = true\n", 1)
    path = folder / "timed-bench.toml"
    path.write_text(text, encoding="utf-8")
    return path


def lot(folder: Path, benches: int, units: int, bench: Path) -> Path:
    """A drawn lot of ``units`` units over ``benches`` copies of the timed bench."""
    (folder / "proc.toml").write_text(PROCEDURE, encoding="utf-8")
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
    ap.add_argument("--units", type=int, default=24)
    ap.add_argument("--benches", type=int, nargs="+", default=[1, 2, 4])
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp())
    bench = timed_bench(folder)
    rates: dict[int, float] = {}
    for n in args.benches:
        with contextlib.redirect_stdout(io.StringIO()):
            status = main(["lot", "run", str(lot(folder, n, args.units, bench)), "-o", str(folder / f"out-{n}")])
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
