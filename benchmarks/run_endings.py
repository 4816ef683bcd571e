"""Reliability of a run's endings: signals and SIGKILL at random moments, then ``--resume``.

A simulated bench is served by ``diffbench sim serve`` in a process of its own, so the generator outlives
every run, as a real one does. Each trial starts ``diffbench run`` on it (a small frequency sweep, no
operator steps: two-channel common mode, no channel match; no model fit, which only lengthens the
window without adding a kind of moment: results are still computed and archived), waits a random time
drawn uniformly over the length of an uninterrupted run (measured first, in the same session), and ends it
one way:

* ``sigint``, ``sigterm``, ``sighup``: that signal once;
* ``sigint2``: Ctrl-C, then a second Ctrl-C 0-300 ms later, in the middle of the clean-up;
* ``sigkill``: ``kill -9`` (no clean-up at all: the next run must switch the outputs off).

Then it reads the generator's output states over its own VISA session, opens the archive the run left,
and resumes it with ``--resume`` until the run is complete. Per kind it prints: trials, outputs left on
after the ending (for ``sigkill`` after the *resumed* run, since nothing can act on a kill -9), archives
that do not open, finished points lost (points a reader saw committed just before the signal and missing
afterwards), resumes that did not complete (or that hold a point or a result row twice), and exits with a
wrong code (anything but 128 + n after a signal -- the process's own exit status 128 + n, or its end by the
signal itself, which a shell shows as the same number -- or 0/3 when the run completed before it). Also
counted, not as failures: runs that completed before the signal, signals that came before the archive
existed, and Ctrl-C inside the interpreter's own start-up (before any diffbench code is loaded, CPython
prints that ``KeyboardInterrupt`` itself and exits 1).

Run: ``.venv/bin/python benchmarks/run_endings.py N`` (N trials per kind; about 6 s a trial on the idle
2-core VM), ``--kinds sigterm,sighup``, ``--seed S``, ``--bench configs/benches/sim-rigol.toml``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DIFFBENCH = BIN / "diffbench"
BOARD = ROOT / "configs" / "boards" / "bjt-source-text.toml"
SIM_BENCH = ROOT / "configs" / "benches" / "sim-keysight.toml"
KINDS = ("sigint", "sigterm", "sighup", "sigint2", "sigkill")
SIGNALS = {"sigint": signal.SIGINT, "sigterm": signal.SIGTERM, "sighup": signal.SIGHUP,
           "sigint2": signal.SIGINT, "sigkill": signal.SIGKILL}
FREQUENCIES = (1000.0, 10000.0)

PROCEDURE = f"""[procedure]
name = "endings"
kind = "frequency_sweep"

[drive]
cm_drive = "two-channel"

[frequency]
list_hz = {list(FREQUENCIES)}

[acquisition]
record_points = 10000

[calibration]
channel_match = false
assume_crosstalk_db = -70.0  # the served simulated scope's figure ([sim] scope_crosstalk_db): no calibration needed

[fit]
small_signal = false
"""


@dataclass
class Served:
    """A simulated bench served by ``diffbench sim serve``, and a real-bench config that points at it."""

    process: subprocess.Popen[str]
    generator: str
    scope: str
    bench_config: Path
    procedure: Path
    dialect: str

    def outputs_on(self) -> tuple[bool, ...]:
        """The generator's output states, asked over a session of our own."""
        import pyvisa

        rm = pyvisa.ResourceManager("@py")
        res = rm.open_resource(self.generator, read_termination="\n", write_termination="\n", timeout=10000)
        try:
            queries = (("OUTP1?", "OUTP2?") if self.dialect == "keysight_33500" else (":OUTP1?", ":OUTP2?"))
            return tuple(res.query(q).strip().upper() in ("1", "ON") for q in queries)
        finally:
            res.close()


@contextlib.contextmanager
def served_bench(folder: Path, sim_bench: Path = SIM_BENCH) -> Iterator[Served]:
    """Serve ``sim_bench`` on free loopback ports until the block ends; write the configs a run needs."""
    import tomllib

    dialect = tomllib.loads(sim_bench.read_text())["generator"]["dialect"]
    p = subprocess.Popen([str(DIFFBENCH), "sim", "serve", str(sim_bench)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        res: dict[str, str] = {}
        assert p.stdout is not None
        while len(res) < 2:
            line = p.stdout.readline()
            if not line:
                raise RuntimeError(f"diffbench sim serve stopped: {p.stderr.read() if p.stderr else ''}")
            kind, _, address = line.strip().partition(" ")
            if kind in ("generator", "scope"):
                res[kind] = address
        bench = folder / "served-bench.toml"
        bench.write_text(f"""[bench]
name = "served"

[generator]
resource = "{res['generator']}"

[scope]
resource = "{res['scope']}"

[wiring]
in1 = 1
in2 = 2
v1 = 1
v2 = 2
vo1 = 3
vo2 = 4
""")
        proc = folder / "endings.toml"
        proc.write_text(PROCEDURE)
        yield Served(p, res["generator"], res["scope"], bench, proc, dialect)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


def run_command(s: Served, out: Path, resume: Path | None = None) -> list[str]:
    cmd = [str(DIFFBENCH), "run", str(s.procedure), "--bench", str(s.bench_config), "--board", str(BOARD),
           "-o", str(out), "--no-progress"]
    return cmd + (["--resume", str(resume)] if resume is not None else [])


def committed_keys(path: Path) -> list[str]:
    """The point keys a reader sees committed in an archive (empty if it cannot be read right now)."""
    from procedures.archive.reader import open_run

    try:
        with open_run(path) as run:
            return [str(k) for k in run.tables["points"]["key"]]
    except Exception:
        return []


@dataclass
class Tally:
    """The figures of one kind of ending."""

    trials: int = 0
    outputs_left_on: int = 0
    unreadable: int = 0
    points_lost: int = 0
    resume_failed: int = 0
    wrong_exit: int = 0
    completed_first: int = 0   # the run had completed before the signal came
    before_archive: int = 0    # the signal came before the archive existed
    in_python_startup: int = 0  # ... so early that the interpreter had not started diffbench's code yet
    notes: list[str] = field(default_factory=list)


def timed_full_run(s: Served, folder: Path) -> float:
    """The wall time of one uninterrupted run (the window the random moments are drawn from)."""
    out = folder / "reference.h5"
    t0 = time.monotonic()
    r = subprocess.run(run_command(s, out), capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600)
    if r.returncode not in (0, 3):
        raise RuntimeError(f"the reference run failed ({r.returncode}): {r.stderr.strip()}")
    return time.monotonic() - t0


def trial(kind: str, s: Served, folder: Path, window_s: float, rng: np.random.Generator, tally: Tally) -> None:
    """One run ended by ``kind`` at a random moment, checked, then resumed until complete."""
    from procedures.archive.reader import open_run

    tally.trials += 1
    n = tally.trials
    out = folder / f"{kind}-{n}.h5"
    partial = Path(str(out) + ".partial")
    p = subprocess.Popen(run_command(s, out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, text=True)
    time.sleep(float(rng.uniform(0.0, window_s)))
    seen = committed_keys(partial) if partial.exists() else []
    sig = SIGNALS[kind]
    p.send_signal(sig)
    if kind == "sigint2":
        time.sleep(float(rng.uniform(0.0, 0.3)))
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    try:
        _, err = p.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
        tally.notes.append(f"{kind} #{n}: did not end within 300 s of the signal")
    code = p.returncode
    signalled = (128 + sig, -sig)  # the shell shows both as 128 + n: exited so, or ended by the signal itself
    if kind != "sigkill" and any(s.outputs_on()):
        tally.outputs_left_on += 1
        tally.notes.append(f"{kind} #{n}: outputs on after exit {code}")
    archive = out if out.exists() else partial if partial.exists() else None
    if archive is None:
        tally.before_archive += 1
        if kind != "sigkill" and code == 1 and "<frozen site>" in err and "procedures" not in err:
            # Python's own start-up (site-packages) was interrupted before any diffbench code existed:
            # CPython prints that KeyboardInterrupt and exits 1; no project code can act there
            tally.in_python_startup += 1
            return
        if kind != "sigkill" and code not in signalled:
            tally.wrong_exit += 1
            tally.notes.append(f"{kind} #{n}: exit {code} before the archive existed: {err.strip()[-300:]}")
        return
    try:
        with open_run(archive) as run:
            status, keys = run.status, [str(k) for k in run.tables["points"]["key"]]
    except Exception as exc:
        tally.unreadable += 1
        tally.notes.append(f"{kind} #{n}: archive does not open: {exc}")
        return
    lost = len(set(seen) - set(keys))
    if lost:
        tally.points_lost += lost
        tally.notes.append(f"{kind} #{n}: {lost} committed point(s) missing after the ending")
    if status == "complete":
        tally.completed_first += 1
        if kind != "sigkill" and code not in (0, 3, *signalled):
            tally.wrong_exit += 1
            tally.notes.append(f"{kind} #{n}: complete archive but exit {code}")
        return
    if kind != "sigkill" and code not in signalled:
        tally.wrong_exit += 1
        tally.notes.append(f"{kind} #{n}: exit {code}, archive {status}: {err.strip()[-300:]}")
    if kind != "sigkill" and status != "aborted":
        tally.notes.append(f"{kind} #{n}: archive status {status!r} after a signal")
        tally.resume_failed += 1
        return
    r = subprocess.run(run_command(s, out, resume=archive), capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=600)
    if kind == "sigkill" and any(s.outputs_on()):
        tally.outputs_left_on += 1
        tally.notes.append(f"sigkill #{n}: outputs on after the resumed run")
    if r.returncode not in (0, 3):
        tally.resume_failed += 1
        tally.notes.append(f"{kind} #{n}: resume exit {r.returncode}: {r.stderr.strip()[-300:]}")
        return
    with open_run(out) as run:
        keys = [str(k) for k in run.tables["points"]["key"]]
        freqs = list(np.asarray(run.tables["gains"]["frequency_hz"], dtype=float))
        ok = (run.status == "complete" and len(keys) == len(set(keys))
              and sorted(freqs) == sorted(FREQUENCIES))
    if not ok:
        tally.resume_failed += 1
        tally.notes.append(f"{kind} #{n}: resumed archive {run.status}, {len(keys)} points "
                           f"({len(set(keys))} distinct), gains at {freqs}")


def run_trials(n: int, kinds: tuple[str, ...], seed: int, sim_bench: Path = SIM_BENCH,
               folder: Path | None = None, progress: bool = False) -> dict[str, Tally]:
    """``n`` trials of every kind in ``kinds`` on one served bench; returns the tallies per kind.

    ``progress`` prints each trial's running figures on stderr (a long run shows where it is)."""
    rng = np.random.default_rng(seed)
    with contextlib.ExitStack() as stack:
        if folder is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="diffbench-endings-")))
        s = stack.enter_context(served_bench(folder, sim_bench))
        window = timed_full_run(s, folder)
        tallies = {k: Tally() for k in kinds}
        for i in range(n):
            for k in kinds:
                trial(k, s, folder, window, rng, tallies[k])
                t = tallies[k]
                if progress:
                    print(f"# {k} {i + 1}/{n}: outputs on {t.outputs_left_on}, unreadable {t.unreadable}, "
                          f"points lost {t.points_lost}, resume failed {t.resume_failed}, wrong exit {t.wrong_exit}",
                          file=sys.stderr, flush=True)
                for f in folder.glob("*.h5*"):
                    if f.name != "reference.h5":
                        f.unlink()
    return tallies


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("n", type=int, help="trials per kind")
    ap.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, from {', '.join(KINDS)}")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--bench", type=Path, default=SIM_BENCH, help="simulated bench config to serve")
    args = ap.parse_args(argv)
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    bad = [k for k in kinds if k not in KINDS]
    if bad or args.n < 1:
        print(f"run_endings: unknown kind(s) {bad} or N < 1", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    tallies = run_trials(args.n, kinds, args.seed, args.bench, progress=True)
    print(f"# {args.bench.name}, {args.n} trial(s) per kind, seed {args.seed}, {time.monotonic() - t0:.0f} s, "
          f"load average {os.getloadavg()[0]:.2f}")
    head = ("kind", "trials", "outputs on", "unreadable", "points lost", "resume failed", "wrong exit",
            "completed first", "before archive", "py start-up")
    print(" ".join(f"{h:>15}" for h in head))
    for k, t in tallies.items():
        row = (k, t.trials, t.outputs_left_on, t.unreadable, t.points_lost, t.resume_failed, t.wrong_exit,
               t.completed_first, t.before_archive, t.in_python_startup)
        print(" ".join(f"{v:>15}" for v in row))
    for t in tallies.values():
        for note in t.notes:
            print(f"# {note}")
    bad_total = sum(t.outputs_left_on + t.unreadable + t.points_lost + t.resume_failed + t.wrong_exit
                    for t in tallies.values())
    return 0 if bad_total == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
