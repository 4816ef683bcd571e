"""What a characterisation asks of the instruments: acquisitions per kept record, SCPI round trips per acquisition.

Workload: ``configs/procedures/characterisation.toml`` (the ``make demo`` run) on the simulated Keysight bench
(``configs/benches/sim-keysight.toml``, board ``bjt-source-text``; ``--procedure``/``--bench`` for others), run
in process with ``procedures.run.runner.run_procedure`` on a :class:`~instruments.sim.bench.SimBench` whose
two simulated instruments log every program message they parse (their ``execute``, wrapped for the run).

Printed, each beside its reference from the same run:

* full-length acquisitions per kept record (the archive's ``full_acquisitions`` over ``n_records``) against
  the minimum, 1, and short ranging acquisitions with their points per channel;
* program messages and round trips (messages that wait for a reply: a query, or a compound one) per
  acquisition (``:DIGitize``/``:SINGle``-like messages the scope parsed), against the fewest one acquisition of
  the four nodes needs: the acquisition and its completion, each channel's preamble and block, one
  error-queue read;
* the commonest round trips by header, so that a regression shows where it comes from;
* the simulated instruments' timing model (``instruments.sim.timing_model``): the modelled real-bench time per
  point against a floor of one full acquisition and its four transfers per point.

Run: ``.venv/bin/python benchmarks/run_protocol.py`` (about 15 s).
"""

from __future__ import annotations

import argparse
import collections
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import h5py

from instruments.bench_config import load_bench
from instruments.board_config import load_board
from instruments.sim.bench import SimBench
from instruments.sim.board import SimBoard
from procedures.run.runner import run_procedure

REPO = Path(__file__).resolve().parents[1]
ACQUIRE = re.compile(rb"^\s*(:DIG|:SING|SING|:TRIG\S*:MODE\s+SING|ACQ\S*:STATE\s+(ON|RUN|1))", re.I)


@dataclass
class TracedRun:
    """One run on a simulated bench whose instruments logged every message: ``log`` holds (instrument,
    message, reply bytes, the simulator's CPU executing it in s); ``cpu_s`` is the process's CPU time of the
    run, ``sim_cpu_s`` the part the simulated instruments spent executing messages (their threads' CPU inside
    ``execute``)."""

    sim: SimBench
    log: list[tuple[str, bytes, int, float]]
    archive: Path
    cpu_s: float
    sim_cpu_s: float
    wall_s: float


def traced_run(procedure: str, bench: str, board: str) -> TracedRun:
    """Run ``procedure`` on the simulated ``bench`` with ``board``, logging what both instruments parse."""
    sim = SimBench(load_bench(bench), board=SimBoard.from_config(load_board(board)))
    log: list[tuple[str, bytes, int, float]] = []
    sim_cpu = [0.0]
    for kind in ("generator_device", "scope_device"):
        device = getattr(sim, kind)
        execute = device.execute

        def logged(raw: bytes, session: object = None, execute=execute, kind=kind) -> bytes:  # type: ignore[no-untyped-def]
            start = time.thread_time()
            reply: bytes = execute(raw, session)
            spent = time.thread_time() - start
            sim_cpu[0] += spent
            log.append((kind.split("_")[0], raw, len(reply), spent))
            return reply
        device.execute = logged
    out = Path(tempfile.mkdtemp()) / "run.h5"
    cpu, wall = time.process_time(), time.perf_counter()
    with sim:
        run_procedure(procedure, bench, board, out, sim_bench=sim)
    return TracedRun(sim, log, out, time.process_time() - cpu, sim_cpu[0], time.perf_counter() - wall)


def workload(description: str) -> argparse.Namespace:
    """The command line of a benchmark of one run: ``--procedure``, ``--bench``, ``--board`` (the demo's)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--procedure", default=str(REPO / "configs/procedures/characterisation.toml"))
    ap.add_argument("--bench", default=str(REPO / "configs/benches/sim-keysight.toml"))
    ap.add_argument("--board", default=str(REPO / "configs/boards/bjt-source-text.toml"))
    return ap.parse_args()


def main() -> None:
    args = workload(__doc__.split("\n")[0])
    run = traced_run(args.procedure, args.bench, args.board)
    sim, log, out, cpu, wall = run.sim, run.log, run.archive, run.cpu_s, run.wall_s
    with h5py.File(out) as f:
        points = f["entry/points"]
        full = int(points["full_acquisitions"][()].sum())
        short = int(points["short_acquisitions"][()].sum())
        short_points = int(points["short_points"][()].max())
        kept = int(points["n_records"][()].sum())
        n_points = len(points["n_records"])

    acquisitions = sum(1 for who, raw, *_ in log if who == "scope" and ACQUIRE.match(raw))
    trips = [(who, raw) for who, raw, *_ in log if b"?" in raw]
    print(f"{args.procedure} on {args.bench}: {n_points} points, {kept} kept records, CPU {cpu:.1f} s, "
          f"wall {wall:.1f} s")
    print(f"full-length acquisitions per kept record: {full / kept:.3f}  (minimum 1; {full} for {kept}); "
          f"short ranging acquisitions {short} of {short_points} points per channel")
    minimum = 1 + 1 + 2 * 4 + 1  # acquisition, completion, preamble and block per channel, one error read
    print(f"round trips per acquisition: {len(trips) / acquisitions:.1f}  (the fewest one acquisition needs: "
          f"{minimum}); program messages per acquisition {len(log) / acquisitions:.1f}; "
          f"{acquisitions} acquisitions, {len(trips)} round trips, {len(log)} messages; "
          f"{len(trips) / n_points:.1f} round trips per point")
    by_header = collections.Counter((who, re.sub(rb"\d+", b"<n>", raw.split(b";")[0].split(b" ")[0]).decode())
                                    for who, raw in trips)
    print("commonest round trips: " + ", ".join(f"{who} {h} x{n}" for (who, h), n in by_header.most_common(8)))
    ledger = sim.timing["generator"].ledger.merged(sim.timing["scope"].ledger)
    real = ledger.predicted_wall_s(wall, timing_on=False)
    scope_model = sim.timing["scope"].model
    per_acquisition_s = ledger.acquisition_s / max(ledger.acquisitions, 1)
    block_bytes = [n for who, raw, n, _ in log if who == "scope" and raw.startswith(b":WAVeform:DATA?")
                   and n > 2 * short_points]  # the full-length blocks (Keysight spelling; others: no floor)
    kept_bytes = sum(block_bytes) * kept / max(full, 1)
    floor = (n_points * (per_acquisition_s + minimum * scope_model.latency_s)
             + kept_bytes / scope_model.transfer_bytes_s)
    print(f"modelled real bench: {real / n_points:.2f} s per point against a floor of {floor / n_points:.2f} s "
          f"(one full acquisition and its four transfers per point): {real / floor:.2f}x")


if __name__ == "__main__":
    main()
