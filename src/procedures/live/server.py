"""The live page's web server: the page and its JSON over HTTP on a loopback socket, in a daemon thread.

Python's own ``http.server`` (a ``ThreadingHTTPServer``) is enough: two fixed paths, a handful of requests a
second from one or two pages on this machine, and nothing to install. The socket is bound by
:func:`bind_loopback` before anything else happens, so a port in use is refused before a run switches anything
on, and it may be handed to another process (``procedures.live.child``) that serves it.
"""

from __future__ import annotations

import errno
import json
import logging
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from instruments.errors import DiffbenchError
from procedures.live.archive_view import ArchiveFollower
from procedures.live.page import POLL_MS, VIEW_PATH, page_html

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


class LiveViewError(DiffbenchError):
    """The live view cannot be served (a port out of range or in use); one line."""


def bind_loopback(port: int = 0) -> socket.socket:
    """A listening TCP socket on 127.0.0.1 at ``port`` (0: a free port the system picks).

    Raises :class:`LiveViewError` (one line) when the port is out of range or taken.
    """
    if not 0 <= port <= 65535:
        raise LiveViewError(f"--live-port {port}: not a TCP port (0 to 65535; 0 picks a free one)")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((LOOPBACK, port))
        sock.listen(16)
    except OSError as e:
        sock.close()
        why = "is in use" if e.errno == errno.EADDRINUSE else f"cannot be used ({e.strerror or e})"
        raise LiveViewError(f"live view: port {port} on {LOOPBACK} {why}; choose another with --live-port, or 0 "
                          "for a free one") from None
    return sock


def url_of(sock: socket.socket) -> str:
    """The page's address for a socket from :func:`bind_loopback`."""
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}/"


class _Handler(BaseHTTPRequestHandler):
    server: LiveServer

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            self._send(self.server.page(), "text/html; charset=utf-8")
        elif path == VIEW_PATH:
            view = self.server.follower.view()
            self.server.note_poll(bool(view["final"]))
            self._send(json.dumps(view, allow_nan=False).encode("utf-8"), "application/json")
        else:
            self.send_error(HTTPStatus.NOT_FOUND, "the live view serves / and " + VIEW_PATH)

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        log.debug("live view: " + format, *args)


class LiveServer(ThreadingHTTPServer):
    """Serves the live page of ``follower``'s archive on an already listening loopback socket."""

    daemon_threads = True

    def __init__(self, sock: socket.socket, follower: ArchiveFollower, title: str) -> None:
        super().__init__((LOOPBACK, 0), _Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        self.server_address = sock.getsockname()[:2]
        self.follower = follower
        self.title = title
        self._page: bytes | None = None
        self._page_lock = threading.Lock()
        self._last_poll: float | None = None
        self._final_served = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The page's address."""
        return url_of(self.socket)

    def page(self) -> bytes:
        """The page, built once (building it imports Bokeh)."""
        with self._page_lock:
            if self._page is None:
                self._page = page_html(self.title)
            return self._page

    def note_poll(self, final: bool) -> None:
        """A page just fetched the view; ``final`` says it saw the run's last status."""
        self._last_poll = time.monotonic()
        if final:
            self._final_served.set()

    def start(self) -> None:
        """Serve in a daemon thread (it never keeps the process alive)."""
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="diffbench-live", daemon=True)
        self._thread.start()

    def linger(self, timeout_s: float) -> None:
        """Wait until a page that is watching has been shown the run's final status, at most ``timeout_s``;
        return at once when no page has polled within the last two polling intervals (nobody is watching)."""
        deadline = time.monotonic() + timeout_s
        while not self._final_served.is_set():
            now = time.monotonic()
            if now >= deadline or self._last_poll is None or now - self._last_poll > 2 * POLL_MS / 1000:
                return
            self._final_served.wait(min(deadline - now, POLL_MS / 1000))

    def close(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        self.server_close()
