"""Raw-socket SCPI transport: one simulated instrument served on a TCP port, one thread per client.

This is the LAN instruments' raw-socket protocol (docs/reference/scpi.md §1.4): commands and replies are
LF-terminated text; binary replies are IEEE 488.2 blocks followed by LF. pyvisa-py reaches it as
``TCPIP0::<host>::<port>::SOCKET``.

Robustness rules: a line longer than :data:`MAX_LINE_BYTES` is discarded up to its LF and queues -363
(Input buffer overrun); bytes that are not UTF-8 are parsed as Latin-1 and end as SCPI errors; a client
that drops (even mid-transfer of a long block) only ends its own thread; whatever else goes wrong while
serving a client is one log line (never a traceback on stderr) and ends only that client. Replies go out
with TCP_NODELAY so a short reply is not held back by Nagle's algorithm.

The simulator keeps its own record of every program message it takes in: one DEBUG record per message on the
``"instruments.sim.messages"`` logger (:data:`RECEIVED`), made before the message runs, with the attributes
``instrument`` (``"<model> at <VISA resource>"``), ``direction`` (``"received"``) and ``scpi`` (the message as
parsed, control characters escaped as in the client's transcript, :mod:`instruments.scpi_transcript`). Nobody
listens by default; ``diffbench sim serve --scpi-log FILE`` writes them (docs/logging.md).
"""

from __future__ import annotations

import logging
import select
import socket
import socketserver
import sys
import threading
import time

from ..scpi_transcript import one_line
from .scpi_device import ConnectionClosed, ScpiDevice
from .timing_model import InstrumentTiming, pause

log = logging.getLogger(__name__)
#: the simulator's record of every program message it received, per instrument (see the module's docstring)
RECEIVED = logging.getLogger("instruments.sim.messages")

MAX_LINE_BYTES = 1 << 16
_RECV_BYTES = 1 << 16


class _ClientSession:
    """One connected client: liveness check for handlers that wait (e.g. for a trigger)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def alive(self) -> bool:
        """False once the peer has closed (a readable socket with nothing to read) or the socket failed."""
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
            if not readable:
                return True
            return self.sock.recv(1, socket.MSG_PEEK) != b""
        except (OSError, ValueError):
            return False


class _Handler(socketserver.BaseRequestHandler):
    server: _TcpServer

    def handle(self) -> None:
        """Serve one client: split its byte stream into lines, run each, send the replies."""
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        device = self.server.device
        session = _ClientSession(sock)
        self.server.track(sock, True)
        buf = bytearray()
        discarding = False
        quickack = getattr(socket, "TCP_QUICKACK", None)
        try:
            while True:
                data = sock.recv(_RECV_BYTES)
                if not data:
                    return
                if quickack is not None:
                    # ACK at once: a client that writes two commands back to back (``:WAV:SOUR``, then
                    # ``:WAV:DATA?``) would otherwise hold the second in Nagle's algorithm until our delayed
                    # ACK (~40 ms on Linux). The option is not sticky, so it is set after every read.
                    sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)
                buf += data
                while True:
                    end = buf.find(b"\n")
                    if end < 0:
                        if len(buf) > MAX_LINE_BYTES:
                            if not discarding:
                                with device.lock:
                                    device.push_error(-363, "line longer than the input buffer")
                            discarding = True
                            buf.clear()
                        break
                    line = bytes(buf[:end])
                    del buf[: end + 1]
                    if discarding:  # the tail of an over-long line
                        discarding = False
                        continue
                    if RECEIVED.isEnabledFor(logging.DEBUG):
                        self.server.record(line)
                    t0 = time.perf_counter()
                    reply = device.execute(line, session)
                    timing = self.server.timing
                    if timing is not None:
                        pad = timing.ledger.message(timing.model, len(reply), time.perf_counter() - t0)
                        if timing.on:
                            pause(pad)
                    if reply:
                        sock.sendall(reply)
        except ConnectionClosed:
            return
        except OSError as exc:  # reset by peer, broken pipe mid-block, socket closed by server shutdown
            log.debug("client dropped: %s", exc)
        except Exception as exc:  # noqa: BLE001 - a bug must end this client only, in one log line
            log.warning("%s: client %s dropped after a failure of the simulator (%s: %s)", self.server.name,
                        self.client_address, type(exc).__name__, " ".join(str(exc).split())[:200])
        finally:
            self.server.track(sock, False)


def socket_resource(host: str, port: int) -> str:
    """The pyvisa resource string of a raw socket served at ``host:port``: ``TCPIP0::<host>::<port>::SOCKET``
    (docs/reference/scpi.md §1.4)."""
    return f"TCPIP0::{host}::{port}::SOCKET"


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], device: ScpiDevice, timing: InstrumentTiming | None = None) -> None:
        self.device = device
        self.timing = timing
        self._clients: set[socket.socket] = set()
        self._clients_lock = threading.Lock()
        super().__init__(address, _Handler)

    @property
    def name(self) -> str:
        """The served instrument's model, for log lines."""
        idn = self.device.dialect.idn.split(",")
        return idn[1] if len(idn) > 1 else idn[0]

    def record(self, line: bytes) -> None:
        """One record of :data:`RECEIVED` for a program message ``line`` (without its LF), decoded as the device
        decodes it."""
        text = one_line(line.decode("latin-1").rstrip("\r"))
        instrument = f"{self.name} at {socket_resource(str(self.server_address[0]), int(self.server_address[1]))}"
        RECEIVED.debug("%s received %s", instrument, text,
                       extra={"instrument": instrument, "direction": "received", "scpi": text})

    def handle_error(self, request: object, client_address: object) -> None:
        """One log line instead of socketserver's traceback on stderr (the handler catches what it can)."""
        exc = sys.exc_info()[1]
        log.warning("%s: client %s: %s: %s", self.name, client_address, type(exc).__name__,
                    " ".join(str(exc).split())[:200])

    def track(self, sock: socket.socket, add: bool) -> None:
        """Remember (or forget) a connected client, so :meth:`close_clients` can drop it."""
        with self._clients_lock:
            (self._clients.add if add else self._clients.discard)(sock)

    def close_clients(self) -> None:
        """Shut every connected client's socket down (their threads then end)."""
        with self._clients_lock:
            clients = list(self._clients)
        for sock in clients:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class ScpiServer:
    """Serve one :class:`ScpiDevice` on ``host:port`` (port 0 picks a free port) in background threads."""

    def __init__(self, device: ScpiDevice, host: str = "127.0.0.1", port: int = 0,
                 timing: InstrumentTiming | None = None) -> None:
        """``timing``: account (and, when on, apply) the instrument's timing model on every message."""
        self.device = device
        try:
            self._server = _TcpServer((host, port), device, timing)
        except OSError as exc:
            from ..errors import DiffbenchError

            raise DiffbenchError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"scpi-{self.port}", daemon=True)
        self._thread.start()
        log.info("serving %s on %s", self._server.name, self.resource)

    @property
    def host(self) -> str:
        """Address listened on."""
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        """TCP port listened on (the one picked when 0 was asked)."""
        return int(self._server.server_address[1])

    @property
    def resource(self) -> str:
        """The pyvisa resource string (:func:`socket_resource`)."""
        return socket_resource(self.host, self.port)

    def close(self) -> None:
        """Stop accepting, drop every client connection and close the listening socket (idempotent)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.close_clients()
        self._server.server_close()
