"""How long one four-channel acquisition from the simulated bench takes, seen from a plain pyvisa client.

For N = 10^5 and 10^6 points per channel: the time from the client's ``:DIGitize`` query to the last byte
of the fourth ``:WAVeform:DATA?`` block (BYTE format, Keysight dialect), median of several runs, next to a
reference measured in the same run: the same client code, with the same read settings, reading four blocks
of the same byte count from a trivial socket server that simulates nothing (so the difference is what the
simulation costs). The reference's bytes are shaped like a ranged scope record's codes
(:func:`scope_like_codes`), so that it reads as the simulator's blocks are read.

The bench runs as ``diffbench sim serve`` in its own process (as a user runs it) and, second, inside the
client's process (as the tests run it: client and servers then share one interpreter lock). Also shown:
the first acquisition after a drive change (it includes solving the board), and the DS1000Z dialect,
whose RAW reads come in 250 000-point windows.

Run: ``.venv/bin/python benchmarks/sim_acquisition.py [--repeats 7]``. Prints plain figures.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import socketserver
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyvisa

from instruments.sim.bench import SimBench
from instruments.sim.scpi_device import definite_block

REPO = Path(__file__).resolve().parents[1]


class _BlockServer(socketserver.ThreadingTCPServer):
    """Answers every query with one pre-built ``#8`` block: the transfer with no simulation behind it."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, n_bytes: int) -> None:
        self.block = definite_block(scope_like_codes(n_bytes).tobytes(), 8)
        super().__init__(("127.0.0.1", 0), _BlockHandler)


def scope_like_codes(n: int) -> np.ndarray:
    """``n`` BYTE codes shaped like a ranged scope record: ten periods of a sine over 80 % of the 8-bit screen
    about code 128, with a code of noise. Random bytes would hold a ``\\n`` (10) every 256 codes, which a
    client reading with a termination character stops at; a ranged trace stays far from code 10."""
    t = np.arange(n) / n
    noise = np.random.default_rng(0).normal(0.0, 1.0, n)
    return np.clip(np.round(128 + 102 * np.sin(2 * np.pi * 10 * t) + noise), 1, 255).astype(np.uint8)


class _BlockHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        """Answer each query line of one client with the block."""
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        quickack = getattr(socket, "TCP_QUICKACK", None)
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    return
                if quickack is not None:  # as the simulator does (scpi_server.py)
                    sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.endswith(b"?"):  # queries get the block, commands nothing
                        sock.sendall(self.server.block)  # type: ignore[attr-defined]
        except OSError:
            return


def _open(rm: pyvisa.ResourceManager, resource: str):  # type: ignore[no-untyped-def]
    inst = rm.open_resource(resource, read_termination="\n", write_termination="\n", timeout=60000)
    inst.chunk_size = 4 << 20
    return inst


def serve_blocks(n: int) -> None:
    """``--block-server N``: serve N-byte blocks on a free port, print the port, run until killed."""
    server = _BlockServer(n)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def reference(rm: pyvisa.ResourceManager, n: int, repeats: int) -> list[float]:
    """Four block reads of n bytes each from the no-simulation server (own process), s per acquisition."""
    proc = subprocess.Popen([sys.executable, __file__, "--block-server", str(n)], stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())  # type: ignore[union-attr]
        inst = _open(rm, f"TCPIP0::127.0.0.1::{port}::SOCKET")
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(4):
                inst.write("SOURCE")  # the same write-then-query pattern as the scope reads
                data = inst.query_binary_values("DATA?", datatype="B", container=np.array)
            times.append(time.perf_counter() - t0)
            assert len(data) == n
        inst.close()
    finally:
        proc.kill()
        proc.wait()
    return times


@contextlib.contextmanager
def served(config: str, in_process: bool):  # type: ignore[no-untyped-def]
    """The bench's resources, served by ``diffbench sim serve`` (subprocess) or by SimBench in this process."""
    path = REPO / "configs" / "benches" / config
    if in_process:
        with SimBench.from_file(path) as bench:
            yield bench.resources
        return
    exe = os.path.join(os.path.dirname(sys.executable), "diffbench")
    proc = subprocess.Popen([exe, "sim", "serve", str(path)], stdout=subprocess.PIPE, text=True)
    try:
        res = dict(proc.stdout.readline().split() for _ in range(2))  # type: ignore[union-attr]
        yield res
    finally:
        proc.send_signal(2)
        proc.wait(10)


def keysight(rm: pyvisa.ResourceManager, n: int, repeats: int, in_process: bool
             ) -> tuple[float, list[float], list[float]]:
    """(first acquisition incl. board solve, full acquisitions, transfer-only share) for n points, s."""
    with served("sim-keysight.toml", in_process) as resources:
        g = _open(rm, resources["generator"])
        s = _open(rm, resources["scope"])
        g.write("*RST;OUTP1:LOAD INF;OUTP2:LOAD INF;SOUR1:FREQ 1000;SOUR1:VOLT 0.01;SOUR1:VOLT:OFFS 2")
        g.write("SOUR1:TRACk INV;OUTP1 ON;OUTP2 ON")
        g.query("*OPC?")
        for ch, (scale, off) in {1: (5e-3, 2.0), 2: (5e-3, 2.0), 3: (0.5, 3.0), 4: (0.5, 3.0)}.items():
            s.write(f":CHAN{ch}:DISP 1;:CHAN{ch}:SCAL {scale};:CHAN{ch}:OFFS {off}")
        s.write(f":TIM:SCAL 100e-6;:TRIG:EDGE:LEV 2;:WAV:FORM BYTE;:WAV:POIN:MODE RAW;:WAV:POIN {n}")

        def one() -> tuple[float, float]:
            t0 = time.perf_counter()
            s.query(":DIGitize CHAN1,CHAN2,CHAN3,CHAN4;*OPC?")
            t1 = time.perf_counter()
            for ch in (1, 2, 3, 4):
                s.write(f":WAV:SOUR CHAN{ch}")
                data = s.query_binary_values(":WAV:DATA?", datatype="B", container=np.array)
                assert len(data) == n, len(data)
            t2 = time.perf_counter()
            return t2 - t0, t2 - t1

        first = one()[0]
        runs = [one() for _ in range(repeats)]
        g.close()
        s.close()
    return first, [r[0] for r in runs], [r[1] for r in runs]


def rigol(rm: pyvisa.ResourceManager, depth: int, repeats: int) -> list[float]:
    """:SINGle, wait for STOP, read four channels' memory in 250 000-point windows (bench in its own
    process), s."""
    with served("sim-rigol.toml", in_process=False) as resources:
        g = _open(rm, resources["generator"])
        s = _open(rm, resources["scope"])
        g.write(":OUTP1:IMP INF;:OUTP2:IMP INF;:SOUR1:APPL:SIN 1000,0.01,2,0;:SOUR1:TRACK INV;:OUTP1 ON;:OUTP2 ON")
        g.query("*OPC?")
        for ch, (scale, off) in {1: (5e-3, -2.0), 2: (5e-3, -2.0), 3: (0.5, -3.0), 4: (0.5, -3.0)}.items():
            s.write(f":CHAN{ch}:DISP 1;:CHAN{ch}:SCAL {scale};:CHAN{ch}:OFFS {off}")
        s.write(f":TIM:SCAL 100e-6;:TRIG:EDGE:LEV 2;:ACQ:MDEP {depth};:WAV:MODE RAW;:WAV:FORM BYTE")
        assert s.query(":ACQ:MDEP?") == str(depth)
        times = []
        for _ in range(repeats + 1):
            t0 = time.perf_counter()
            s.write(":SING")
            seen = []
            while not (seen and seen[-1] == "STOP" and "WAIT" in seen):
                seen.append(s.query(":TRIG:STAT?"))
            for ch in (1, 2, 3, 4):
                s.write(f":WAV:SOUR CHAN{ch}")
                got = 0
                for start in range(1, depth + 1, 250_000):
                    s.write(f":WAV:STAR {start};:WAV:STOP {min(start + 249_999, depth)}")
                    got += len(s.query_binary_values(":WAV:DATA?", datatype="B", container=np.array))
                assert got == depth
            times.append(time.perf_counter() - t0)
        g.close()
        s.close()
    return times[1:]


def main() -> None:
    """Measure and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--block-server", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.block_server is not None:
        serve_blocks(args.block_server)
        return
    rm = pyvisa.ResourceManager("@py")
    print("simulated bench, one 4-channel acquisition, client query -> last byte (plain pyvisa-py, BYTE), ms")
    print(f"{'points/ch':>10} {'dialect':>24} {'server':>11} {'median':>8} {'min':>8} {'transfer':>9} "
          f"{'reference':>10} {'first':>8}")
    for n in (100_000, 1_000_000):
        reps = args.repeats if n <= 100_000 else max(3, args.repeats // 2)
        ref = statistics.median(reference(rm, n, reps))
        for in_process in (False, True):
            first, full, transfer = keysight(rm, n, reps, in_process)
            where = "in-process" if in_process else "subprocess"
            print(f"{n:>10} {'keysight_infiniivision':>24} {where:>11} {1e3 * statistics.median(full):>8.1f} "
                  f"{1e3 * min(full):>8.1f} {1e3 * statistics.median(transfer):>9.1f} {1e3 * ref:>10.1f} "
                  f"{1e3 * first:>8.1f}")
    for depth in (300_000, 3_000_000):
        reps = args.repeats if depth <= 300_000 else max(3, args.repeats // 2)
        times = rigol(rm, depth, reps)
        print(f"{depth:>10} {'rigol_ds1000z (RAW)':>24} {'subprocess':>11} {1e3 * statistics.median(times):>8.1f} "
              f"{1e3 * min(times):>8.1f}")
    print("median/min: :DIGitize query to the last byte of the 4th block; transfer: the four :WAV:SOUR + "
          ":WAV:DATA? reads alone; reference: the same four reads from a socket server that simulates nothing "
          "(own process); first: first acquisition after a drive change (includes the board solve)")
    rm.close()


if __name__ == "__main__":
    main()
