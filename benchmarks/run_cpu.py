"""The CPU diffbench spends on the ``make demo`` run step, against the sum of its floors measured on this machine.

Workload: ``configs/procedures/characterisation.toml`` on the simulated Keysight bench with the demo board, run as
:func:`run_protocol.traced_run` runs it (in process; the simulated instruments' own CPU, measured inside their
``execute`` by thread CPU time, is taken out, so the figure is diffbench's: configs, plan, driver and protocol,
ranging, transfers, fits, archive, results and model fits).

Floors, measured in the same run and added up:

* transfer: a plain pyvisa-py client's CPU reading the kept records' bytes (four blocks per kept record, of the
  sizes the run read) from a socket server in another process that answers with a pre-built block
  (``sim_acquisition.py --block-server``);
* fits: one ``fit_sines`` of the four channels at the known frequency per kept AC record (one design, one
  solve, the procedure's harmonics, one BLAS thread), the record sizes the run kept;
* round trips: the fewest round trips one kept record needs (the acquisition and its completion, each
  channel's preamble and block, one error read: 11) times a plain client's CPU for one query round trip to
  that server.

Printed: the run's CPU, each floor and their sum, and the ratio (the aim: at most 3x). Then the shipped
frequency sweep run with 5 and with 15 harmonics fitted (``[acquisition] harmonics``, a copy of the config):
diffbench's CPU of each and their ratio (the aim: at most 1.3, the fits' cost not growing with the harmonics).
Run: ``.venv/bin/python benchmarks/run_cpu.py`` (about a minute).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import pyvisa
import tomllib
from threadpoolctl import threadpool_limits

from procedures.measure.phasors import fit_sines
from run_protocol import ACQUIRE, REPO, traced_run, workload

MIN_ROUND_TRIPS = 11


def _server(n_bytes: int) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("sim_acquisition.py")), "--block-server",
                             str(n_bytes)], stdout=subprocess.PIPE, text=True)
    return proc, int(proc.stdout.readline())  # type: ignore[union-attr]


def _open(rm: pyvisa.ResourceManager, port: int):  # type: ignore[no-untyped-def]
    inst = rm.open_resource(f"TCPIP0::127.0.0.1::{port}::SOCKET", read_termination="\n", write_termination="\n",
                            timeout=60000)
    inst.chunk_size = 1 << 20
    return inst


def transfer_cpu_s(rm: pyvisa.ResourceManager, n_bytes: int, blocks: int) -> float:
    """Client CPU to read ``blocks`` blocks of ``n_bytes`` codes each (s)."""
    proc, port = _server(n_bytes)
    try:
        inst = _open(rm, port)
        inst.query_binary_values("DATA?", datatype="B", container=np.array)  # connection warm-up
        cpu = time.process_time()
        for _ in range(blocks):
            inst.write(":WAVeform:SOURce CHANnel1")
            inst.query_binary_values(":WAVeform:DATA?", datatype="B", container=np.array)
        cpu = time.process_time() - cpu
        inst.close()
    finally:
        proc.kill()
        proc.wait()
    return cpu


def round_trip_cpu_s(rm: pyvisa.ResourceManager, trips: int = 400) -> float:
    """Client CPU of one short query round trip (s)."""
    proc, port = _server(8)
    try:
        inst = _open(rm, port)
        inst.write("*OPC?")
        inst.read_raw()
        cpu = time.process_time()
        for _ in range(trips):
            inst.write("*OPC?")
            inst.read_raw()
        cpu = (time.process_time() - cpu) / trips
        inst.close()
    finally:
        proc.kill()
        proc.wait()
    return cpu


def fit_cpu_s(n: int, harmonics: int, repeats: int = 5) -> float:
    """CPU of one ``fit_sines`` of four channels of ``n`` points at a known frequency, one BLAS thread (s)."""
    t = np.arange(n) * 1e-6
    f = 10.37 / (n * 1e-6)
    rng = np.random.default_rng(1)
    Y = np.round((np.array([a * np.cos(2 * np.pi * f * t + p) for a, p in [(1, 0.1), (0.9, 0.3), (0.1, 1), (0.3, 2)]])
                  + 2e-3 * rng.standard_normal((4, n))) / 8e-3) * 8e-3
    with threadpool_limits(limits=1, user_api="blas"):
        fit_sines(t, Y, f, n_harmonics=harmonics)
        cpu = time.process_time()
        for _ in range(repeats):
            fit_sines(t, Y, f, n_harmonics=harmonics)
    return (time.process_time() - cpu) / repeats


def with_harmonics(procedure: Path, harmonics: int, folder: Path) -> Path:
    """A copy of ``procedure`` whose ``[acquisition]`` fits ``harmonics`` harmonics."""
    text = procedure.read_text()
    if re.search(r"(?m)^harmonics\s*=", text):
        text = re.sub(r"(?m)^harmonics\s*=.*$", f"harmonics = {harmonics}", text)
    elif "[acquisition]" in text:
        text = text.replace("[acquisition]", f"[acquisition]\nharmonics = {harmonics}", 1)
    else:
        text += f"\n[acquisition]\nharmonics = {harmonics}\n"
    out = folder / f"{procedure.stem}-h{harmonics}.toml"
    out.write_text(text)
    return out


def harmonics_ratio(bench: str, board: str) -> None:
    """Print diffbench's CPU of the shipped frequency sweep at 5 and 15 harmonics and their ratio."""
    folder = Path(tempfile.mkdtemp())
    cpu = {}
    for harmonics in (15, 5):  # 15 first: any cost left from the first run of the process falls on it
        run = traced_run(str(with_harmonics(REPO / "configs/procedures/frequency-sweep.toml", harmonics, folder)),
                         bench, board)
        cpu[harmonics] = run.cpu_s - run.sim_cpu_s
    print(f"frequency sweep, diffbench CPU: {cpu[5]:.2f} s at 5 harmonics, {cpu[15]:.2f} s at 15: "
          f"{cpu[15] / cpu[5]:.2f}x  (aim: at most 1.3x)")


def main() -> None:
    args = workload(__doc__.split("\n")[0])
    run = traced_run(args.procedure, args.bench, args.board)
    with h5py.File(run.archive) as f:
        points = f["entry/points"]
        kept = points["n_records"][()]
        full = int(points["full_acquisitions"][()].sum())
        ac = points["frequency_hz"][()] > 0
        short_points = int(points["short_points"][()].max())
        procedure = f["entry/configs"].attrs["procedure"]
        harmonics = int(tomllib.loads(procedure if isinstance(procedure, str) else procedure.decode())
                        .get("acquisition", {}).get("harmonics", 5))
    blocks = [n - 11 for who, raw, n, _ in run.log
              if who == "scope" and raw.startswith(b":WAVeform:DATA?") and n > 2 * short_points]
    # the simulator's own floor: producing the kept records (their acquisitions and full-length blocks)
    acquired = [cpu for who, raw, n, cpu in run.log if who == "scope" and (ACQUIRE.match(raw) or (
        raw.startswith(b":WAVeform:DATA?") and n > 2 * short_points))]
    share = kept.sum() / max(full, 1)  # the kept records' share of the full-length acquisitions
    sizes, counts = np.unique(blocks, return_counts=True)

    rm = pyvisa.ResourceManager("@py")
    transfer = sum(transfer_cpu_s(rm, int(size), 40) / 40 * count * share for size, count in zip(sizes, counts))
    fits = sum(fit_cpu_s(int(size), harmonics) * count / 4 * share * ac.mean() for size, count in zip(sizes, counts))
    trips = round_trip_cpu_s(rm) * MIN_ROUND_TRIPS * int(kept.sum())
    floor = transfer + fits + trips
    simulated = sum(acquired) * share
    cpu = run.cpu_s - run.sim_cpu_s
    print(f"{Path(args.procedure).name}: {len(kept)} points, {int(kept.sum())} kept records "
          f"({int(ac.sum())} AC), {len(blocks)} full-length blocks read")
    print(f"floors: transfer {transfer:.2f} s + fits {fits:.2f} s ({harmonics} harmonics) + round trips "
          f"{trips:.2f} s ({MIN_ROUND_TRIPS} per kept record) = {floor:.2f} s")
    print(f"the run step as make demo runs it (simulator in process): CPU {run.cpu_s:.2f} s against "
          f"{floor + simulated:.2f} s = the floors above + the simulator producing the kept records "
          f"{simulated:.2f} s: {run.cpu_s / (floor + simulated):.2f}x  (aim: at most 3x)")
    print(f"diffbench alone: {cpu:.2f} s against {floor:.2f} s: {cpu / floor:.2f}x (what the floors leave out: "
          "imports, plan and predictions, archive, results and model fits)")
    harmonics_ratio(args.bench, args.board)


if __name__ == "__main__":
    main()
