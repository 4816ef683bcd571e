"""A lot killed outright in the middle of a unit, then run again: no unit is measured twice, every unit ends with
one complete archive, and the index ends as an uninterrupted lot's (the same units done, the same verdicts)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest
from test_lot_run import lot_text, write_lot

from procedures.cli.main import main
from procedures.lot.index import current_rows, read_index

DEADLINE_S = 120.0


def _current(index: Path) -> dict[str, dict[str, object]]:
    cols = read_index(index)
    return {str(cols["serial"][i]): {k: cols[k][i] for k in cols} for i in current_rows(cols)}


def test_a_lot_killed_mid_unit_resumes_without_measuring_anything_twice(tmp_path: Path) -> None:
    lot = write_lot(tmp_path, lot_text())
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from procedures.cli.main import main; "
                             f"sys.exit(main(['lot', 'run', {str(lot)!r}, '-o', {str(out)!r}]))"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + DEADLINE_S
        while True:  # kill once one unit is done and another is being measured (its archive still .partial)
            while not (list((out / "units").glob("*.h5")) and list((out / "units").glob("*.h5.partial"))):
                assert proc.poll() is None, "the lot ended before it could be killed"
                assert time.monotonic() < deadline
                time.sleep(0.05)
            workers = psutil.Process(proc.pid).children(recursive=True)
            for w in workers:  # hold the workers still, so that the unit in progress is known at the kill
                w.suspend()
            cut = list((out / "units").glob("*.h5.partial"))
            if cut:
                break
            for w in workers:
                w.resume()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        for w in workers:
            with contextlib.suppress(psutil.NoSuchProcess):
                w.resume()
        gone, alive = psutil.wait_procs(workers, timeout=15)
        assert not alive, "a worker outlived the killed lot"
    finally:
        if proc.poll() is None:
            proc.kill()
    assert cut  # a unit was in progress when the lot was killed (its worker had at most half a second more)

    assert main(["lot", "run", str(lot), "-o", str(out)]) in (0, 3)
    cols = read_index(out / "index.h5")
    done_rows = Counter(str(s) for s, st in zip(cols["serial"], cols["status"]) if str(st) == "done")
    assert set(done_rows.values()) == {1}, done_rows  # nothing measured twice
    files = [p.name for p in (out / "units").iterdir() if p.suffix in (".h5", ".partial")]
    complete = sorted(f for f in files if ".interrupted-" not in f)
    assert complete == [f"quick-lot-{k:04d}.h5" for k in (1, 2, 3, 4)]  # one complete archive each
    # the cut attempt's file is kept aside as it was, never taken for a result (docs/archive.md, resume)
    assert all(f.split(".")[0] in done_rows for f in files if ".interrupted-" in f)

    reference = tmp_path / "uninterrupted"
    assert main(["lot", "run", str(lot), "-o", str(reference)]) in (0, 3)
    killed, whole = _current(out / "index.h5"), _current(reference / "index.h5")
    assert sorted(killed) == sorted(whole)
    verdicts = [c for c in cols if c.startswith("verdict_")]
    for serial in whole:
        assert killed[serial]["status"] == whole[serial]["status"] == "done"
        for column in verdicts:
            assert killed[serial][column] == whole[serial][column], (serial, column)
        assert float(killed[serial]["Add"]) == pytest.approx(float(whole[serial]["Add"]), rel=2e-3)
