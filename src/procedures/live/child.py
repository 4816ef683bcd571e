"""The live page of a run, served from a process of its own (``python -m procedures.live.child``).

``diffbench run --live`` binds the loopback socket, then starts this process with the socket and the archive's
path (:mod:`procedures.live.launch`). Reading the archive and serving the page happen here, so they never
compete with the run for its interpreter or share its HDF5 library state: the run writes, this process reads
the file as any other SWMR reader would. It serves until its standard input closes (the run ended, or was
killed), then waits briefly for a watching page to show the final status, and exits.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from collections.abc import Sequence

from procedures.live.archive_view import ArchiveFollower
from procedures.live.server import LiveServer

#: how long (s) the page may take to show the final status after the run ended, when a page is watching
LINGER_S = 3.0


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the live page on the inherited socket ``--fd`` until standard input reaches its end."""
    p = argparse.ArgumentParser(prog="python -m procedures.live.child")
    p.add_argument("--fd", type=int, required=True, help="listening loopback socket, inherited")
    p.add_argument("--archive", required=True, help="the archive the run writes (its .partial)")
    p.add_argument("--title", default="", help="what the page calls the run")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="diffbench live view: %(message)s")
    server = LiveServer(socket.socket(fileno=args.fd), ArchiveFollower(args.archive), args.title or args.archive)
    server.start()
    server.page()  # built before the first request, not while the browser waits for it
    try:
        sys.stdin.buffer.read()  # returns at EOF: the run closed its end, or its process is gone
        server.follower.view()
        server.linger(LINGER_S)
    finally:
        server.close()
    return 0


if __name__ == "__main__":  # pragma: no cover - run by procedures.live.launch
    sys.exit(main())
