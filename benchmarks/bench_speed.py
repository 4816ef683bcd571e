"""Wall time of one procedure on the simulated Rigol bench against the simulated Keysight bench.

Workload: ``diffbench run <procedure> --bench configs/benches/sim-<dialect>.toml --board <board>``, each run in
its own process (configs, plan, simulator start, auto-ranging, acquisitions, transfers, fits, archive,
results), as a user runs it. Default procedure ``configs/procedures/frequency-sweep.toml`` on
``configs/boards/bjt-source-text.toml``.

Reference, measured in the same run: the simulated Keysight bench (``sim-keysight``: a 33522B and a
DSOX1204G) runs the same procedure on the same board; the figure of merit is the ratio of the Rigol bench's
(``sim-rigol``: a DG1062Z and a DS1054Z) wall time to it. The project's aim: at most :data:`AIM`.

Two settings are timed:

* ``alone``: the two benches one after the other (the machine's other work is whatever else runs on it:
  the load average is printed);
* ``pair``: both benches started at the same moment, each loading the machine for the other (on a
  2-core machine each run then has about one core, the others' work aside).

Printed: each bench's wall time per repetition and the median, the ratio of the medians, the aim, and the
load average before each setting. Run: ``.venv/bin/python benchmarks/bench_speed.py`` (about 2 minutes on an
idle 2-core machine with the default procedure; ``--repeats 3`` for steadier medians; ``--procedure`` and
``--board`` for another workload; ``--only alone|pair``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCHES = {"keysight": REPO / "configs" / "benches" / "sim-keysight.toml",
           "rigol": REPO / "configs" / "benches" / "sim-rigol.toml"}
PROCEDURE = REPO / "configs" / "procedures" / "frequency-sweep.toml"
BOARD = REPO / "configs" / "boards" / "bjt-source-text.toml"
AIM = 1.5
#: ``diffbench run`` exit statuses of a run that completed (3: a board limit failed, the run is still whole)
COMPLETE = (0, 3)


def start(dialect: str, procedure: Path, board: Path, out_dir: Path, tag: str) -> subprocess.Popen[bytes]:
    """Start one ``diffbench run`` in its own process; its output goes to a log beside the archive."""
    out = out_dir / f"{dialect}-{tag}.h5"
    log = open(out_dir / f"{dialect}-{tag}.log", "wb")  # noqa: SIM115 - closed with the process
    cmd = [sys.executable, "-m", "procedures.cli.main", "run", str(procedure), "--bench", str(BENCHES[dialect]),
           "--board", str(board), "-o", str(out)]
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)


def finish(proc: subprocess.Popen[bytes], started: float, dialect: str, out_dir: Path, tag: str) -> float:
    """Wait for a run; return its wall time (s), or raise with the end of its log if it did not complete."""
    rc = proc.wait()
    elapsed = time.perf_counter() - started
    if rc not in COMPLETE:
        tail = (out_dir / f"{dialect}-{tag}.log").read_text(errors="replace").splitlines()[-5:]
        raise SystemExit(f"{dialect} run {tag} exited {rc}:\n  " + "\n  ".join(tail))
    return elapsed


def time_alone(procedure: Path, board: Path, out_dir: Path, rep: int) -> dict[str, float]:
    """Each bench on its own, one after the other."""
    times = {}
    for dialect in BENCHES:
        t0 = time.perf_counter()
        proc = start(dialect, procedure, board, out_dir, f"alone{rep}")
        times[dialect] = finish(proc, t0, dialect, out_dir, f"alone{rep}")
    return times


def time_pair(procedure: Path, board: Path, out_dir: Path, rep: int) -> dict[str, float]:
    """Both benches at once, each loading the machine for the other."""
    t0 = time.perf_counter()
    procs = {dialect: start(dialect, procedure, board, out_dir, f"pair{rep}") for dialect in BENCHES}
    return {dialect: finish(p, t0, dialect, out_dir, f"pair{rep}") for dialect, p in procs.items()}


def main() -> None:
    """Time the settings asked for and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--procedure", type=Path, default=PROCEDURE)
    ap.add_argument("--board", type=Path, default=BOARD)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--only", choices=("alone", "pair"), default=None)
    args = ap.parse_args()
    settings = {"alone": time_alone, "pair": time_pair}
    if args.only:
        settings = {args.only: settings[args.only]}
    print(f"procedure {args.procedure.relative_to(REPO) if args.procedure.is_relative_to(REPO) else args.procedure}"
          f" on {args.board.stem}; {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="bench_speed-") as tmp:
        for name, timer in settings.items():
            print(f"\n{name}: load average before {os.getloadavg()[0]:.2f}")
            runs: dict[str, list[float]] = {dialect: [] for dialect in BENCHES}
            for rep in range(args.repeats):
                for dialect, seconds in timer(args.procedure, args.board, Path(tmp), rep).items():
                    runs[dialect].append(seconds)
                print(f"  repetition {rep + 1}: " + ", ".join(f"{d} {runs[d][-1]:.1f} s" for d in BENCHES))
            med = {dialect: statistics.median(t) for dialect, t in runs.items()}
            ratio = med["rigol"] / med["keysight"]
            print(f"  median: keysight {med['keysight']:.1f} s, rigol {med['rigol']:.1f} s; "
                  f"rigol / keysight = {ratio:.2f} (aim <= {AIM})")


if __name__ == "__main__":
    main()
