"""Wall time of a frequency sweep run by diffbench against a plain pyvisa script doing the same SCPI exchanges.

Workload: ``configs/procedures/frequency-sweep.toml`` with ``[frequency] points = 20`` from 100 Hz to 100 kHz
(DM at two drives, tied CM, two-channel CM for the ideal-generator figure, and the channel-match point at
every frequency: 100 points), on the simulated Keysight bench (``configs/benches/sim-keysight.toml``, its
board ``bjt-source-text``), run with ``procedures.run.runner.run_procedure`` (configs, plan, simulator start,
auto-ranging, acquisitions, fits, archive, results).

Reference, measured in the same run: the first diffbench run is recorded -- every ``write``, ``query`` (a text
reply read) and ``query_binary_values`` (a binary block read, with the driver's datatype/byte order/chunk size),
every VISA timeout change and device clear, of both instruments, in order, together with the procedure's
rewiring calls (``SimBench.set_wiring``/``set_probes``, made in-process) at their places in the sequence. A
plain pyvisa script (``pyvisa.ResourceManager('@py')``, ``\\n`` terminations, no analysis, replies read and
dropped) then replays exactly that sequence against a fresh ``SimBench`` with a fresh copy of the same board
(same seeds, so the simulator computes the same acquisitions, and its own work cancels). Both sides include
starting and stopping the simulator. An untimed one-frequency diffbench run first pays the one-off costs (imports,
FFT plans); the simulator's process-wide evaluator cache is emptied before every timed run; then the runs
alternate (diffbench, replay, diffbench, replay, ...).

Printed: both wall times per repetition, the ratio of the medians (the project's aim: diffbench within 1.1x
of the plain script), and where the diffbench run spends its time (perf_counter around the VISA calls, the
fits, the archive, the results, the simulator start; the rest is driver and procedure Python), beside the same
split of the replay, and the process CPU time of each side (less sensitive than wall time to other work on
the machine; the fits' share is very sensitive to it with multi-threaded BLAS, so the load average and
``OPENBLAS_NUM_THREADS`` are printed too). ``--profile`` adds a cProfile run of diffbench (top entries by own
time; slower).

The recording hooks patch, for the duration of a run only: ``instruments.bench.open_visa_resource``,
``SimBench.set_wiring``/``set_probes``/``__init__``/``close``, ``procedures.measure.point.fit_channels``,
``procedures.run.session`` names (``compute_results``, ``store_results``), ``procedures.run.preflight`` names
(``load_configs``, ``planning.plan``) and ``RunArchive`` methods; a rename there needs the same rename here.

Run: ``.venv/bin/python benchmarks/sweep_overhead.py`` (2-3 min on the idle 2-core VM: a warm-up, then 2
repetitions of diffbench ~35-60 s and replay ~20 s; longer under load), ``--quick`` for a ~30 s version
(5 frequencies, 1 repetition).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyvisa
import tomllib

import instruments.bench as ibench
import procedures.archive.writer as parchive
import procedures.measure.point as pmeasure
import procedures.run.preflight as ppreflight
import procedures.run.runner as prun
import procedures.run.session as psession
from bench_toml import dump_toml
from instruments.bench_config import load_bench
from instruments.board_config import load_board
from instruments.sim import acquisition as sim_acquisition
from instruments.sim.bench import SimBench
from instruments.sim.board import SimBoard

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "configs" / "benches" / "sim-keysight.toml"
BOARD = REPO / "configs" / "boards" / "bjt-source-text.toml"
PROCEDURE = REPO / "configs" / "procedures" / "frequency-sweep.toml"
AIM = 1.1

Op = tuple[str, str, Any]  # (instrument or "sim", operation, argument)


# -- procedure config -------------------------------------------------------------------------------------
def procedure_text(points: int) -> str:
    """The shipped frequency sweep with ``points`` log-spaced frequencies from 100 Hz to 100 kHz."""
    doc = tomllib.loads(PROCEDURE.read_text(encoding="utf-8"))
    doc["procedure"]["name"] = f"sweep-overhead-{points}"
    doc["frequency"] = {"start_hz": 100.0, "stop_hz": 100e3, "points": points}
    if points == 1:
        doc["frequency"] = {"list_hz": [1000.0]}
    return dump_toml(doc)


# -- timing categories (outermost call only, so nested timed calls are not counted twice) ------------------
class Clock:
    def __init__(self) -> None:
        self.t: dict[str, float] = defaultdict(float)
        self.n: dict[str, int] = defaultdict(int)
        self.active = False

    def wrap(self, category: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*a: Any, **kw: Any) -> Any:
            if self.active:
                return fn(*a, **kw)
            self.active = True
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                self.t[category] += time.perf_counter() - t0
                self.n[category] += 1
                self.active = False
        return timed


@contextlib.contextmanager
def patched(obj: Any, name: str, value: Any) -> Iterator[None]:
    """Replace ``obj.name`` for the block; a class attribute is restored as the raw descriptor it was."""
    old = obj.__dict__[name] if isinstance(obj, type) and name in obj.__dict__ else getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


def instrument_resource(res: Any, kind: str, clock: Clock, log: list[Op] | None) -> None:
    """Time (and record into ``log``) the resource's SCPI traffic. pyvisa's own nested calls (``query``
    calling ``write``, ``query_binary_values`` calling ``write``) pass straight through, unrecorded."""
    inside = [False]

    def outer(op: str, arg: Any, fn: Callable[[], Any]) -> Any:
        if inside[0]:
            return fn()
        if log is not None:
            log.append((kind, op, arg))
        inside[0] = True
        try:
            return io_call(fn)
        finally:
            inside[0] = False

    io_call = clock.wrap("VISA I/O", lambda f: f())
    orig_write, orig_query, orig_binary, orig_clear = res.write, res.query, res.query_binary_values, res.clear

    def write(cmd: str, *a: Any, **kw: Any) -> Any:
        return outer("write", cmd, lambda: orig_write(cmd, *a, **kw))

    def query(cmd: str, *a: Any, **kw: Any) -> Any:
        return outer("query", cmd, lambda: orig_query(cmd, *a, **kw))

    def query_binary_values(cmd: str, *a: Any, **kw: Any) -> Any:
        assert not a, "positional binary-query options are not recorded"
        return outer("binary", (cmd, {k: v for k, v in kw.items() if k != "container"}),
                     lambda: orig_binary(cmd, *a, **kw))

    def clear() -> Any:
        return outer("clear", None, orig_clear)

    res.write, res.query, res.query_binary_values, res.clear = write, query, query_binary_values, clear
    base = type(res)
    desc = next(k.__dict__["timeout"] for k in base.__mro__ if "timeout" in k.__dict__)  # pyvisa's attribute

    def _get_timeout(self: Any) -> Any:
        return desc.__get__(self, base)

    def _set_timeout(self: Any, value: Any) -> None:
        if log is not None:
            log.append((kind, "timeout", value))
        desc.__set__(self, value)

    res.__class__ = type(f"Recorded{base.__name__}", (base,), {"timeout": property(_get_timeout, _set_timeout)})


# -- the diffbench run -----------------------------------------------------------------------------------
def diffbench_run(proc: Path, out: Path, log: list[Op] | None, profile: cProfile.Profile | None = None
                  ) -> tuple[float, Clock]:
    """One ``run_procedure``; returns (wall s, time per category). Records the exchanges into ``log``."""
    clock = Clock()
    orig_open = ibench.open_visa_resource

    def open_visa_resource(rm: Any, address: str, timeout_ms: int, label: str | None = None) -> Any:
        res = orig_open(rm, address, timeout_ms, label)
        kind = (label or "").split(" ")[0]
        if log is not None:
            log.append((kind, "open", (address, timeout_ms)))
        instrument_resource(res, kind, clock, log)
        return res

    def sim_call(name: str) -> Callable[..., Any]:
        orig = getattr(SimBench, name)

        def call(self: Any, *a: Any, **kw: Any) -> Any:
            if log is not None:
                log.append(("sim", name, (a, kw)))
            return orig(self, *a, **kw)
        return clock.wrap("rewiring", call)

    sim_init, sim_close = SimBench.__init__, SimBench.close
    A = parchive.RunArchive
    with contextlib.ExitStack() as st:
        st.enter_context(patched(ibench, "open_visa_resource", open_visa_resource))
        st.enter_context(patched(SimBench, "set_wiring", sim_call("set_wiring")))
        st.enter_context(patched(SimBench, "set_probes", sim_call("set_probes")))
        st.enter_context(patched(pmeasure, "fit_channels", clock.wrap("fits", pmeasure.fit_channels)))
        st.enter_context(patched(psession, "compute_results", clock.wrap("results", psession.compute_results)))
        st.enter_context(patched(psession, "store_results", clock.wrap("results", psession.store_results)))
        st.enter_context(patched(ppreflight, "load_configs", clock.wrap("configs + plan", ppreflight.load_configs)))
        st.enter_context(patched(ppreflight.planning, "plan", clock.wrap("configs + plan", ppreflight.planning.plan)))
        st.enter_context(patched(SimBench, "__init__", clock.wrap("simulator start/stop", sim_init)))
        st.enter_context(patched(SimBench, "close", clock.wrap("simulator start/stop", sim_close)))
        for name in ("append_waveforms", "append", "commit", "finish"):
            st.enter_context(patched(A, name, clock.wrap("archive", getattr(A, name))))
        st.enter_context(patched(A, "create", classmethod(clock.wrap("archive", A.__dict__["create"].__func__))))
        t0 = time.perf_counter()
        if profile is not None:
            profile.enable()
        outcome = prun.run_procedure(proc, BENCH, BOARD, out)
        if profile is not None:
            profile.disable()
        wall = time.perf_counter() - t0
    assert outcome.status == "complete", outcome.status
    return wall, clock


# -- the plain pyvisa replay -----------------------------------------------------------------------------
def replay(log: list[Op]) -> tuple[float, Clock]:
    """The recorded exchanges with plain pyvisa against a fresh simulated bench; (wall s, split)."""
    clock = Clock()
    t0 = time.perf_counter()
    bench_cfg, board_cfg = load_bench(BENCH), load_board(BOARD)
    t_cfg = time.perf_counter()
    sim = SimBench(bench_cfg, board=SimBoard.from_config(board_cfg))
    t_sim = time.perf_counter()
    rm = pyvisa.ResourceManager("@py")
    res: dict[str, Any] = {}
    try:
        t_io = time.perf_counter()
        for kind, op, arg in log:
            if kind == "sim":
                a, kw = arg
                getattr(sim, op)(*a, **kw)
                continue
            if op == "open":
                _, timeout_ms = arg
                res[kind] = rm.open_resource(sim.resources[kind], open_timeout=timeout_ms, timeout=timeout_ms,
                                             read_termination="\n", write_termination="\n")
            elif op == "write":
                res[kind].write(arg)
            elif op == "query":
                res[kind].query(arg)
            elif op == "binary":
                cmd, kw = arg
                res[kind].query_binary_values(cmd, container=np.array, **kw)
            elif op == "timeout":
                res[kind].timeout = arg
            elif op == "clear":
                res[kind].clear()
            else:
                raise ValueError(op)
        for r in res.values():
            r.close()
        res = {}
        t_end_io = time.perf_counter()
    finally:
        for r in res.values():
            r.close()
        rm.close()
        t_close0 = time.perf_counter()
        sim.close()
    t1 = time.perf_counter()
    clock.t["configs + plan"] = t_cfg - t0
    clock.t["simulator start/stop"] = (t_sim - t_cfg) + (t1 - t_close0)
    clock.t["VISA I/O"] = t_end_io - t_io
    return t1 - t0, clock


def fresh_simulator_caches() -> None:
    """Drop the simulator's process-wide cache of signal evaluators (``instruments.sim.acquisition._EVALUATORS``,
    keyed by the tones, so a replay of the same run would otherwise find the diffbench run's entries)."""
    with sim_acquisition._EVALUATORS_LOCK:
        sim_acquisition._EVALUATORS.clear()


def comparable(log: list[Op]) -> list[Op]:
    """The log without the servers' port numbers (each simulator start picks free ports)."""
    return [(k, op, arg[1] if op == "open" else arg) for k, op, arg in log]


def summarise(log: list[Op]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for kind, op, _ in log:
        counts[f"{kind} {op}"] += 1
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


CATEGORIES = ("VISA I/O", "fits", "archive", "results", "simulator start/stop", "configs + plan", "rewiring")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="5 frequencies, 1 repetition (~40 s)")
    ap.add_argument("--points", type=int, default=20, help="frequencies in the sweep (default 20)")
    ap.add_argument("--repeats", type=int, default=2, help="diffbench/replay pairs (default 2)")
    ap.add_argument("--profile", action="store_true", help="add a cProfile run of diffbench and print its top entries")
    args = ap.parse_args(argv)
    if args.quick:
        args.points, args.repeats = 5, 1

    with tempfile.TemporaryDirectory(prefix="sweep_overhead_") as tmpd:
        tmp = Path(tmpd)
        proc = tmp / "procedure.toml"
        proc.write_text(procedure_text(args.points), encoding="utf-8")
        pdoc = tomllib.loads(proc.read_text(encoding="utf-8"))
        print("diffbench sweep overhead: run_procedure against a plain pyvisa replay of the same SCPI exchanges, "
              "both on the in-process simulated Keysight bench")
        print(f"workload: {PROCEDURE.name} with {args.points} frequencies 100 Hz..100 kHz, "
              f"{pdoc['acquisition']['record_points']} points/record, "
              f"{pdoc['acquisition']['repeats']} record(s)/point, "
              f"cm_drive {pdoc['drive']['cm_drive']}, channel_match {pdoc['calibration']['channel_match']}; "
              f"{args.repeats} alternating repetition(s) of each side")
        print(f"aim: diffbench wall time <= {AIM}x the plain script's")
        print(f"python {sys.version.split()[0]}, numpy {np.__version__}, pyvisa {pyvisa.__version__}; load average "
              f"before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (other work on the machine slows both sides)")

        log: list[Op] = []
        times_d: list[float] = []
        times_r: list[float] = []
        cpu_d: list[float] = []
        cpu_r: list[float] = []
        clocks_d: list[Clock] = []
        clocks_r: list[Clock] = []
        identical = True
        warm = tmp / "warmup.toml"
        warm.write_text(procedure_text(1), encoding="utf-8")
        diffbench_run(warm, tmp / "warmup.h5", None)  # imports, FFT plans, first sockets: paid before timing
        for k in range(args.repeats):
            this_log: list[Op] = []
            fresh_simulator_caches()
            c0 = time.process_time()
            wall, clock = diffbench_run(proc, tmp / f"run-{k}.h5", this_log)
            cpu_d.append(time.process_time() - c0)
            if k == 0:
                log = this_log
                print(f"recorded sequence: {len(log)} operations ({summarise(log)})")
            elif comparable(this_log) != comparable(log):
                identical = False
            times_d.append(wall)
            clocks_d.append(clock)
            print(f"  rep {k + 1}: diffbench {wall:7.2f} s (CPU {cpu_d[-1]:6.2f} s)", end="", flush=True)
            fresh_simulator_caches()
            c0 = time.process_time()
            wall_r, clock_r = replay(log)
            cpu_r.append(time.process_time() - c0)
            times_r.append(wall_r)
            clocks_r.append(clock_r)
            print(f"   plain replay {wall_r:7.2f} s (CPU {cpu_r[-1]:6.2f} s)   ratio {wall / wall_r:5.3f}", flush=True)

        md, mr = statistics.median(times_d), statistics.median(times_r)
        print()
        print(f"diffbench run  median {md:7.2f} s   (min {min(times_d):.2f})")
        print(f"plain replay   median {mr:7.2f} s   (min {min(times_r):.2f})")
        print(f"ratio diffbench / plain: {md / mr:.3f} (medians), {min(times_d) / min(times_r):.3f} (minima)"
              + ("" if args.repeats == 1 or identical else "   [warning: the repeated runs' exchanges differed]"))
        print(f"CPU time of the process (all threads, the in-process simulator included): diffbench "
              f"{statistics.median(cpu_d):.2f} s, plain {statistics.median(cpu_r):.2f} s, ratio "
              f"{statistics.median(cpu_d) / statistics.median(cpu_r):.3f} (numpy's BLAS threads: "
              f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')})")
        print()
        print("where the time goes (median over repetitions, s; outermost timed call only):")
        print(f"{'':24} {'diffbench':>10} {'calls':>7} {'replay':>9} {'difference':>11}")
        rows = []
        for cat in CATEGORIES + ("other (driver + procedure Python)",):
            if cat.startswith("other"):
                d = [t - sum(c.t[x] for x in CATEGORIES) for t, c in zip(times_d, clocks_d)]
                r = [t - sum(c.t[x] for x in CATEGORIES) for t, c in zip(times_r, clocks_r)]
                n = ""
            else:
                d = [c.t[cat] for c in clocks_d]
                r = [c.t[cat] for c in clocks_r]
                n = str(clocks_d[0].n[cat])
            dd, rr = statistics.median(d), statistics.median(r)
            rows.append((cat, dd, rr))
            print(f"{cat:24} {dd:10.2f} {n:>7} {rr:9.2f} {dd - rr:+11.2f}")
        print(f"{'total':24} {md:10.2f} {'':>7} {mr:9.2f} {md - mr:+11.2f}")
        fit_ms = statistics.median(c.t['fits'] for c in clocks_d) / max(clocks_d[0].n['fits'], 1) * 1e3
        print("VISA I/O: time inside the resources' write/query/query_binary_values/clear, which includes the "
              "simulator computing each reply in its server thread (replay: the whole replay loop, resource "
              f"opening included); fits: procedures.measure.phasors.fit_channels, {fit_ms:.0f} ms "
              "per 4-channel record")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        verdict = "met" if md / mr <= AIM else "missed"
        print(f"aim (<= {AIM}x): {verdict} ({md / mr:.3f}x)")

        if args.profile:
            prof = cProfile.Profile()
            wall, _ = diffbench_run(proc, tmp / "run-profile.h5", None, prof)
            s = io.StringIO()
            pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(20)
            print()
            print(f"cProfile of one diffbench run ({wall:.1f} s under the profiler; main thread only), "
                  "top 20 by own time:")
            lines = s.getvalue().splitlines()
            start = next(i for i, line in enumerate(lines) if line.strip().startswith("ncalls"))
            print("\n".join(lines[start:start + 21]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
