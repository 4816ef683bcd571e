"""A bench whose instruments stop in the middle of a lot: its unit is marked bench-failed and re-queued on the
other bench, the bench is taken out of the pool, the lot completes, and the index says all of it.

The two benches are "real" bench configs whose instruments are simulated benches served by `diffbench sim serve`
in processes of their own, so that one can be stopped while the lot runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_lot_run import PROCEDURE as LOT_PROCEDURE

from procedures.cli.main import main
from procedures.lot.index import current_rows, read_index

REPO = Path(__file__).resolve().parents[3]
SIM_BENCH = REPO / "configs" / "benches" / "sim-keysight.toml"
BOARD = REPO / "configs" / "boards" / "bjt-source-text.toml"
DIFFBENCH = Path(sys.executable).with_name("diffbench")

PROCEDURE = (LOT_PROCEDURE.replace('name = "lot-quick"', 'name = "lot-served"')  # no rewiring: no relay here
             .replace("vic_vpk = 0.3\n", 'vic_vpk = 0.3\ncm_drive = "two-channel"\n')
             + "\n[calibration]\nchannel_match = false\ncrosstalk = false\n"
             "assume_crosstalk_db = -70.0   # the served scope's ([sim] scope_crosstalk_db of sim-keysight.toml)\n")


def bench_text(name: str, resources: dict[str, str]) -> str:
    return (f'[bench]\nname = "{name}"\n\n[generator]\nresource = "{resources["generator"]}"\ntimeout_ms = 3000\n\n'
            f'[scope]\nresource = "{resources["scope"]}"\ntimeout_ms = 3000\n\n'
            "[wiring]\nin1 = 1\nin2 = 2\nv1 = 1\nv2 = 2\nvo1 = 3\nvo2 = 4\n")


def test_a_bench_that_stops_is_taken_out_and_its_unit_requeued(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    servers = [subprocess.Popen([str(DIFFBENCH), "sim", "serve", str(SIM_BENCH)], stdout=subprocess.PIPE, text=True)
               for _ in range(2)]
    try:
        for name, server in zip(("a", "b"), servers):
            assert server.stdout is not None
            resources = dict(server.stdout.readline().split() for _ in range(2))
            (tmp_path / f"bench-{name}.toml").write_text(bench_text(f"served-{name}", resources))
        (tmp_path / "proc.toml").write_text(PROCEDURE)
        serials = [f"S{k}" for k in range(1, 7)]
        lot = tmp_path / "lot.toml"
        lot.write_text(f'[lot]\nname = "served-lot"\nboard = "{BOARD.as_posix()}"\nprocedure = "proc.toml"\n'
                       f"serials = {serials!r}\n\n[benches]\n".replace("'", '"')
                       + 'bench-a = "bench-a.toml"\nbench-b = "bench-b.toml"\n')
        out = tmp_path / "out"

        def stop_bench_a() -> None:  # once the lot is well under way, bench a's instruments go away
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and len(list((out / "units").glob("S*.h5"))) < 2:
                time.sleep(0.05)
            os.kill(servers[0].pid, signal.SIGKILL)

        stopper = threading.Thread(target=stop_bench_a, daemon=True)
        stopper.start()
        status = main(["lot", "run", str(lot), "-o", str(out)])
        stopper.join(5)
    finally:
        for server in servers:
            server.kill()
            server.wait()
    printed = capsys.readouterr().out
    assert status == 3  # a unit of the lot could not be measured at its first attempt
    assert "bench-a: taken out of the pool" in printed
    cols = read_index(out / "index.h5")
    current = {str(cols["serial"][i]): i for i in current_rows(cols)}
    assert sorted(current) == sorted(serials)
    assert all(str(cols["status"][i]) == "done" for i in current.values())  # the lot completed
    failed = [i for i, st in enumerate(cols["status"]) if str(st) == "bench-failed"]
    assert failed and all(str(cols["bench"][i]) == "bench-a" for i in failed)
    for i in failed:  # each unit cut short on bench a was measured again on bench b, as its second attempt
        serial = str(cols["serial"][i])
        last = current[serial]
        assert str(cols["bench"][last]) == "bench-b" and int(cols["attempt"][last]) == 2
        assert str(cols["reason"][i])
