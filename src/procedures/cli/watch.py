"""``diffbench watch RUN.h5.partial [--port N]``: the live page of a run being written by another process (or
of a finished one), on 127.0.0.1 only.

The archive is checked first (not an archive: one line, exit 2), then the port (taken: one line, exit 2); the
page's address is printed once. It follows the file until the run's status is final, says so, and keeps
serving the last view until Ctrl-C, which ends it with status 0. ``docs/live-view.md``.
"""

from __future__ import annotations

import argparse

#: how often (s) watch itself looks at the archive to notice the run's end, when no page is asking
CHECK_S = 0.5


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("archive", help="run archive: RUN.h5.partial while the run is written, or a finished RUN.h5")
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: a free one)")


def run(args: argparse.Namespace) -> int:
    """Check the archive and the port, serve the page, report the run's end; Ctrl-C stops (exit 0)."""
    import threading
    import time

    from procedures.archive.reader import open_run
    from procedures.live.archive_view import ArchiveFollower
    from procedures.live.server import LiveServer, bind_loopback

    with open_run(args.archive) as first:  # not an archive, damaged: one line, exit 2 (procedures.cli.main)
        status = first.status
    server = LiveServer(bind_loopback(args.port), ArchiveFollower(args.archive), str(args.archive))
    try:
        server.start()
        print(f"diffbench watch: live view of {args.archive} ({status}): {server.url}", flush=True)
        while not (view := server.follower.view())["final"]:
            time.sleep(CHECK_S)  # the file is polled: there is no portable notice of another process's writes
        reason = f": {view['reason']}" if view["reason"] else ""
        print(f"diffbench watch: run {view['status']}{reason} ({view['path']}); still serving its last view, "
              "Ctrl-C ends", flush=True)
        threading.Event().wait()  # until Ctrl-C
    except KeyboardInterrupt:
        print("diffbench watch: stopped", flush=True)
    finally:
        server.close()
    return 0
