"""How long each shipped procedure would take on the real instruments of each family, and where the time goes.

Every procedure in ``configs/procedures/`` runs as shipped on each family's simulated bench
(``configs/benches/sim-<family>.toml`` that exist) with the timing model accounted but not applied
(``instruments/sim/timing_model.py``): the run is as fast as the simulator, and the ledger of its generator and
scope says what the real instruments would have added. The modelled real-bench wall time is the fast run's wall
time plus that (:meth:`TimingLedger.predicted_wall_s`), split into

* acquisition: the scope's single-shot acquisitions (screen time, trigger wait and re-arm, times averages),
* transfer: reply bytes at the family's interface rate,
* command latency: one latency per program message,
* computation: the rest (diffbench's own work, the simulator's beyond the model, the waits the driver adds).

Then the check the model owes (issue 13): a short run (the shipped frequency sweep reduced to two frequencies and
10 000-point records) on each family, once accounted (the prediction) and once with ``[sim] timing = true`` (the
wall time the model imposes); the ratio of the two should lie within 20 %.

Run: ``.venv/bin/python benchmarks/sim_timing.py [--procedures characterisation] [--families keysight,rigol]
[--skip-check]``. Prints one line per family x procedure, then one per family for the check.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "procedures" / "run"))

from test_procedures_every_bench import reduced  # noqa: E402  (the test suite's reduced copy of a procedure)

from instruments.bench_config import load_bench  # noqa: E402
from instruments.sim.bench import SimBench  # noqa: E402
from instruments.sim.timing_model import TimingLedger  # noqa: E402
from procedures.run.runner import run_procedure  # noqa: E402

FAMILIES = ("keysight", "rigol", "siglent", "tektronix")
PROCEDURES = ROOT / "configs" / "procedures"
BOARD = ROOT / "configs" / "boards" / "bjt-source-text.toml"


def timed_run(family: str, procedure: Path, out: Path, timing_on: bool) -> tuple[float, TimingLedger, str]:
    """Run ``procedure`` on the family's simulated bench; (wall time s, merged ledger, outcome status)."""
    bench_path = ROOT / "configs" / "benches" / f"sim-{family}.toml"
    config = load_bench(bench_path)
    config = dataclasses.replace(config, sim={**config.sim, "timing": timing_on})
    with SimBench(config, gen_port=0, scope_port=0) as bench:
        t0 = time.perf_counter()
        outcome = run_procedure(procedure, bench_path, BOARD, out, sim_bench=bench)
        wall = time.perf_counter() - t0
        ledger = bench.timing["generator"].ledger.merged(bench.timing["scope"].ledger)
    return wall, ledger, outcome.status


def breakdown(wall_s: float, ledger: TimingLedger) -> str:
    """The modelled real wall time of an accounted run and its split (module docstring)."""
    total = ledger.predicted_wall_s(wall_s, timing_on=False)
    parts = {"acquisition": ledger.acquisition_s, "transfer": ledger.transfer_s, "latency": ledger.latency_s}
    parts["computation"] = total - sum(parts.values())
    split = ", ".join(f"{k} {v / 60:.2f} min ({100 * v / total:.0f} %)" for k, v in parts.items())
    return (f"modelled {total / 60:6.2f} min (simulated in {wall_s:.0f} s): {split}; {ledger.acquisitions} "
            f"acquisitions, {ledger.messages} messages, {ledger.reply_bytes / 1e6:.1f} MB")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--procedures", help="comma-separated procedure names (default: all shipped)")
    ap.add_argument("--families", help=f"comma-separated families (default: those of {', '.join(FAMILIES)} "
                                       "with a simulated bench config)")
    ap.add_argument("--skip-check", action="store_true", help="skip the 20 %% check with timing on")
    a = ap.parse_args(argv)
    families = [f.strip() for f in a.families.split(",")] if a.families else \
        [f for f in FAMILIES if (ROOT / "configs" / "benches" / f"sim-{f}.toml").exists()]
    names = [p.strip() for p in a.procedures.split(",")] if a.procedures else \
        [p.stem for p in sorted(PROCEDURES.glob("*.toml"))]
    with tempfile.TemporaryDirectory(prefix="sim-timing-") as tmp:
        out = Path(tmp)
        for family in families:
            for name in names:
                wall, ledger, status = timed_run(family, PROCEDURES / f"{name}.toml", out / f"{family}-{name}.h5",
                                                 timing_on=False)
                print(f"{family:10s} {name:17s} {status:9s} {breakdown(wall, ledger)}", flush=True)
        if a.skip_check:
            return 0
        short = reduced(PROCEDURES / "frequency-sweep.toml", out / "short.toml")
        worst = 0.0
        for family in families:
            wall, ledger, _ = timed_run(family, short, out / f"{family}-short-fast.h5", timing_on=False)
            predicted = ledger.predicted_wall_s(wall, timing_on=False)
            real, _, status = timed_run(family, short, out / f"{family}-short-timed.h5", timing_on=True)
            ratio = real / predicted
            worst = max(worst, abs(ratio - 1))
            print(f"check {family:10s} short frequency sweep: model {predicted:.2f} s, with timing on {real:.2f} s "
                  f"({status}), ratio {ratio:.3f}", flush=True)
        print(f"largest deviation from the model: {100 * worst:.1f} % (target: within 20 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
