"""A lot stopped while its benches are mid-unit leaves every bench's generator outputs off, by whichever stop signal
(Ctrl-C, SIGTERM, SIGHUP): the lot closes its workers, and each worker stops its unit safely before it ends. The
units run in Dask task threads, which get no signal themselves (procedures.lot.worker_guard).

The benches are served simulated benches (``diffbench sim serve``, processes of their own), so that after the lot
and its workers are gone the test asks each generator itself whether its outputs are on."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import pyvisa
from test_lot_bench_failure import BOARD, PROCEDURE, SIM_BENCH, bench_text

DIFFBENCH = Path(sys.executable).with_name("diffbench")


def _outputs_on(rm: pyvisa.ResourceManager, resource: str) -> tuple[bool, bool]:
    gen = rm.open_resource(resource, read_termination="\n", write_termination="\n", timeout=5000)
    try:
        return (gen.query("OUTP1?").strip() == "1", gen.query("OUTP2?").strip() == "1")
    finally:
        gen.close()


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_lot_stopped_mid_unit_leaves_every_generator_off(tmp_path: Path, how: str) -> None:
    servers = [subprocess.Popen([str(DIFFBENCH), "sim", "serve", str(SIM_BENCH)], stdout=subprocess.PIPE, text=True)
               for _ in range(2)]
    generators = []
    lot_process = None
    try:
        for name, server in zip(("a", "b"), servers):
            assert server.stdout is not None
            resources = dict(server.stdout.readline().split() for _ in range(2))
            generators.append(resources["generator"])
            (tmp_path / f"bench-{name}.toml").write_text(bench_text(f"served-{name}", resources))
        (tmp_path / "proc.toml").write_text(PROCEDURE.replace("points = 2", "points = 6"))
        lot = tmp_path / "lot.toml"
        lot.write_text(f'[lot]\nname = "stopped-lot"\nboard = "{BOARD.as_posix()}"\nprocedure = "proc.toml"\n'
                       'serials = ["S1", "S2", "S3", "S4"]\n\n[benches]\n'
                       'bench-a = "bench-a.toml"\nbench-b = "bench-b.toml"\n')
        out = tmp_path / "out"
        lot_process = subprocess.Popen([str(DIFFBENCH), "lot", "run", str(lot), "-o", str(out)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(list((out / "units").glob("S*.h5.partial"))) < 2:
            time.sleep(0.05)  # both benches are measuring (each unit's archive is open)
        assert len(list((out / "units").glob("S*.h5.partial"))) == 2, "the benches did not start their units"
        time.sleep(0.3)  # into the units: the outputs are on
        workers = psutil.Process(lot_process.pid).children(recursive=True)
        lot_process.send_signal(getattr(signal, how))
        lot_process.wait(60)
        gone, alive = psutil.wait_procs(workers, timeout=60)
        assert not alive, f"workers left running: {alive}"
        rm = pyvisa.ResourceManager("@py")
        try:
            assert [_outputs_on(rm, g) for g in generators] == [(False, False), (False, False)]
        finally:
            rm.close()
        assert lot_process.returncode == 128 + getattr(signal, how)
    finally:
        if lot_process is not None and lot_process.poll() is None:
            lot_process.kill()
        for server in servers:
            server.kill()
            server.wait()
