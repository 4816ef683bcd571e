"""The live page in a real headless Chromium: it shows the points committed so far, and a point committed while
the page is open appears within 2 s of its commit.

The archive is written by another process (``live_archive.py``), the page is served by ``diffbench watch`` (a
third), and the page is read the way a person sees it: the data of the Bokeh document's sources in the browser.
What it must show is known from the gains the test chose (``live_archive.phasors``) and from the codes it wrote.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from browser import chromium_or_skip, headless_chromium
from live_archive import WriterProcess, expected_volts

# the page's Bokeh document, as the browser holds it: each source's columns, and the status line's counts
READ_PAGE = """
const doc = Bokeh.documents.length ? Bokeh.documents[0] : null;
if (doc === null) { return null; }
const cols = (name) => {
  const data = doc.get_model_by_name(name).data;
  const out = {};
  for (const [k, v] of (data instanceof Map ? data.entries() : Object.entries(data))) { out[k] = Array.from(v); }
  return out;
};
const status = doc.get_model_by_name("status");
return {add: cols("add"), acm: cols("acm"), wave: cols("wave"), tags: status.tags, text: status.text,
        time_label: doc.get_model_by_name("time_axis").axis_label};
"""
ADD = {1000.0: complex(-20.0, -1.5), 10000.0: complex(-18.0, -6.0), 100.0: complex(-20.0, -0.2)}
ACC = {1000.0: complex(0.012, 0.002)}
WITHIN_S = 2.0


def _db(g: complex) -> float:
    return 20 * math.log10(abs(g))


def _start_watch(path: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "procedures.cli.main", "watch", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    found = re.search(r"http://127\.0\.0\.1:\d+/", line)
    assert found, f"watch printed {line!r}, stderr {proc.stderr.read() if proc.poll() is not None else ''}"
    return proc, found.group(0)


def _read(driver: Any) -> dict[str, Any] | None:
    return driver.execute_script(READ_PAGE)  # type: ignore[no-any-return]


def _wait_for(driver: Any, ok: Any, timeout_s: float) -> tuple[dict[str, Any] | None, float]:
    """Read the page until ``ok(page)`` holds or ``timeout_s`` passes; returns the last reading and when it held."""
    deadline = time.monotonic() + timeout_s
    page = None
    while time.monotonic() < deadline:
        page = _read(driver)
        if page is not None and ok(page):
            return page, time.monotonic()
        time.sleep(0.02)  # the browser's own polling sets the pace; this only samples it
    return page, math.inf


def test_the_page_shows_committed_points_and_a_new_one_within_two_seconds(tmp_path: Path) -> None:
    chromium_or_skip()
    writer = WriterProcess(tmp_path / "run.h5")
    watch = None
    try:
        writer.send("point", role="dm", frequency_hz=1000.0, gain=ADD[1000.0])
        writer.send("point", role="dm", frequency_hz=10000.0, gain=ADD[10000.0])
        writer.send("point", role="cm", frequency_hz=1000.0, gain=ACC[1000.0])
        writer.send("point", role="dm", frequency_hz=100.0, gain=ADD[100.0], commit=False)  # not committed yet
        watch, url = _start_watch(writer.partial)
        with headless_chromium(tmp_path / "profile") as driver:
            driver.get(url)
            page, _ = _wait_for(driver, lambda p: p["tags"][1] == 3, 15.0)
            assert page is not None and page["tags"] == ["running", 3, 3], page and page["text"]
            assert page["add"]["frequency_hz"] == [1000.0, 10000.0]  # the appended, uncommitted point is not shown
            np.testing.assert_allclose(page["add"]["mag_db"], [_db(ADD[1000.0]), _db(ADD[10000.0])], rtol=1e-9)
            np.testing.assert_allclose(page["add"]["phase_deg"], np.degrees(np.angle([ADD[1000.0], ADD[10000.0]])),
                                       rtol=1e-9)
            np.testing.assert_allclose(page["acm"]["mag_db"], [_db(ACC[1000.0])], rtol=1e-9)
            volts, t = expected_volts(2)  # the latest record: the common-mode point's
            for k, node in enumerate(("v1", "v2", "vo1", "vo2")):
                np.testing.assert_allclose(page["wave"][node], volts[k], rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(page["wave"]["t"], t * 1e3, rtol=1e-9)
            assert page["time_label"] == "time (ms)"

            t0 = time.monotonic()  # before the commit is even asked for: the measured delay can only be longer
            writer.send("commit")
            page, seen = _wait_for(driver, lambda p: 100.0 in p["add"]["frequency_hz"], 5.0)
            assert seen - t0 <= WITHIN_S, f"the committed point appeared after {seen - t0:.2f} s (or not at all)"
            assert page is not None and page["add"]["frequency_hz"] == [100.0, 1000.0, 10000.0]
            assert page["tags"] == ["running", 4, 4]
            np.testing.assert_allclose(page["wave"]["vo2"], expected_volts(3)[0][3], rtol=1e-12, atol=1e-12)

            writer.send("finish", gains=[[1000.0, 1.0, 0.0, 0.1, 0.0]])  # solved gains replace the estimate
            page, seen = _wait_for(driver, lambda p: p["tags"][0] == "complete", 5.0)
            assert page is not None and seen < math.inf, page and page["text"]
            assert page["add"]["frequency_hz"] == [1000.0] and page["add"]["mag_db"] == [0.0]
            assert "no longer following" in page["text"]
    finally:
        writer.close()
        if watch is not None:
            watch.terminate()
            watch.wait(timeout=10)
