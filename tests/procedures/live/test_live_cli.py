"""``diffbench watch`` and ``diffbench run --live`` as a user starts them: the page and its JSON over loopback
HTTP, one-line refusals (not an archive, a port in use) with exit status 2, Ctrl-C, and a simulated run's live
page that follows the run to its final status and is gone when the command returns."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from live_archive import WriterProcess

from procedures.archive.reader import open_run

ROOT = Path(__file__).resolve().parents[3]
CLI = [sys.executable, "-m", "procedures.cli.main"]
URL = re.compile(r"http://127\.0\.0\.1:(\d+)/")


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.fixture
def taken_port():  # type: ignore[no-untyped-def]
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    yield s.getsockname()[1]
    s.close()


def test_watch_refuses_what_is_not_an_archive(tmp_path: Path) -> None:
    text = tmp_path / "notes.h5"
    text.write_text("not HDF5\n")
    for path in (text, tmp_path / "missing.h5.partial"):
        done = subprocess.run([*CLI, "watch", str(path)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, done.stderr
        assert done.stdout == "" and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert done.stderr.startswith(f"diffbench watch: error: {path}")


def test_watch_refuses_a_port_in_use(tmp_path: Path, taken_port: int) -> None:
    writer = WriterProcess(tmp_path / "run.h5")
    try:
        done = subprocess.run([*CLI, "watch", str(writer.partial), "--port", str(taken_port)], capture_output=True,
                              text=True, timeout=60)
    finally:
        writer.close()
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == (f"diffbench watch: error: live view: port {taken_port} on 127.0.0.1 is in use; "
                                   "choose another with --live-port, or 0 for a free one")


def test_watch_serves_the_page_and_the_view_then_ends_on_ctrl_c(tmp_path: Path) -> None:
    writer = WriterProcess(tmp_path / "run.h5")
    writer.send("point", role="dm", frequency_hz=1000.0, gain=complex(-20, 0))
    watch = subprocess.Popen([*CLI, "watch", str(writer.partial)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        assert watch.stdout is not None
        found = URL.search(watch.stdout.readline())
        assert found, watch.stderr.read() if watch.stderr else ""
        url = found.group(0)
        status, page = _get(url)
        assert status == 200 and b"AjaxDataSource" in page
        assert not re.search(rb"<(script|link)[^>]+(src|href)=\"?https?:", page), "the page must need no network"
        status, body = _get(url + "view.json")
        view = json.loads(body)
        assert status == 200 and (view["status"], view["points"], view["add"]["mag_db"]) == ("running", 1, [
            pytest.approx(26.020599913279625, rel=1e-12)])  # |Add| = 20 is 26.02 dB
        assert _get(url + "other")[0] == 404
        writer.send("finish", gains=[])
        deadline = time.monotonic() + 10
        line = ""
        while "run complete" not in line and time.monotonic() < deadline:
            line = watch.stdout.readline()
        assert "run complete" in line
        watch.send_signal(signal.SIGINT)
        out, err = watch.communicate(timeout=20)
    finally:
        writer.close()
        if watch.poll() is None:
            watch.kill()
    assert watch.returncode == 0 and out.strip() == "diffbench watch: stopped" and err == ""
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(found.group(1))), timeout=2).close()


def _poll_views(url: str, stop: threading.Event, seen: list[dict[str, Any]]) -> None:
    while not stop.is_set():
        try:
            seen.append(json.loads(_get(url + "view.json")[1]))
        except OSError:
            if seen:  # the page's process has ended with the run
                return
        stop.wait(0.1)


def test_run_live_follows_the_run_to_its_end(tmp_path: Path) -> None:
    out = tmp_path / "pc.h5"
    run = subprocess.Popen(
        [*CLI, "run", str(ROOT / "configs/procedures/production-check.toml"), "--bench",
         str(ROOT / "configs/benches/sim-keysight.toml"), "--board", str(ROOT / "configs/boards/bjt-source-text.toml"),
         "-o", str(out), "--live", "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: list[dict[str, Any]] = []
    stop = threading.Event()
    try:
        assert run.stdout is not None
        lines = []
        while not (found := URL.search(line := run.stdout.readline())):
            assert line, run.stderr.read() if run.stderr else ""
            lines.append(line)
        poller = threading.Thread(target=_poll_views, args=(found.group(0), stop, seen))
        poller.start()
        rest, err = run.communicate(timeout=120)
    finally:
        stop.set()
        if run.poll() is None:
            run.kill()
    poller.join(timeout=20)
    assert run.returncode in (0, 3), err
    assert (rest + "".join(lines)).count("live view:") == 0 and "live view: http://127.0.0.1:" in line
    with open_run(out) as archive:
        n_points = archive.n_rows("points")
        n_gains = archive.n_rows("gains")
    statuses = [v["status"] for v in seen]
    assert "running" in statuses and statuses[-1] == "complete", statuses
    counts = [v["points"] for v in seen]
    assert counts == sorted(counts) and counts[-1] == n_points
    assert seen[-1]["source"] == "gains" and len(seen[-1]["add"]["frequency_hz"]) == n_gains
    with pytest.raises(OSError):  # the page's process ended with the command
        socket.create_connection(("127.0.0.1", int(found.group(1))), timeout=2).close()


def test_run_live_refuses_a_port_in_use_before_anything_opens(tmp_path: Path, taken_port: int) -> None:
    out = tmp_path / "pc.h5"
    done = subprocess.run(
        [*CLI, "run", str(ROOT / "configs/procedures/production-check.toml"), "--bench",
         str(ROOT / "configs/benches/sim-keysight.toml"), "--board", str(ROOT / "configs/boards/bjt-source-text.toml"),
         "-o", str(out), "--live-port", str(taken_port)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"diffbench run: error: live view: port {taken_port} on 127.0.0.1 is in use; "
                                   "choose another with --live-port, or 0 for a free one")
    assert list(tmp_path.iterdir()) == []  # no archive: the run never started
