"""A raw TCP client for the simulated instruments' SCPI sockets, below pyvisa (for tests of the server itself)."""

from __future__ import annotations

import socket


def raw(resource: str, timeout_s: float = 5.0) -> socket.socket:
    """Connect to a ``TCPIP0::host::port::SOCKET`` resource."""
    parts = resource.split("::")
    return socket.create_connection((parts[1], int(parts[2])), timeout=timeout_s)


def ask(sock: socket.socket, line: bytes) -> bytes:
    """Send one line and return the reply line without its ``\\n``."""
    sock.sendall(line + b"\n")
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = sock.recv(65536)
        assert chunk, "server closed the connection"
        buf += chunk
    return buf[:-1]
