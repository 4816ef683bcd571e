"""Starting and stopping the live page of a run from ``diffbench run --live`` (the serving process is
:mod:`procedures.live.child`)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from procedures.archive.files import partial_path_of
from procedures.live.server import bind_loopback, url_of

#: how long (s) the run waits for the page's process once the run has ended (it lingers at most
#: procedures.live.child.LINGER_S for a watching page) before ending it
STOP_WAIT_S = 10.0


class LiveProcess:
    """The process serving ``archive``'s live page on ``sock`` (already bound by
    :func:`procedures.live.server.bind_loopback`); the socket passes to it, and this process closes its copy."""

    def __init__(self, sock: socket.socket, archive: Path, title: str) -> None:
        self.url = url_of(sock)
        fd = sock.fileno()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "procedures.live.child", "--fd", str(fd), "--archive", str(archive),
             "--title", title],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, pass_fds=(fd,),
            start_new_session=True,  # a Ctrl-C at the terminal is the run's to handle; the page follows the file
        )
        sock.close()

    def stop(self) -> None:
        """Tell the page's process the run has ended (its standard input closes) and wait for it to exit."""
        if self._proc.stdin is not None:
            try:
                self._proc.stdin.close()
            except OSError:
                pass
        try:
            self._proc.wait(timeout=STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def start_for_run(port: int, out: Path) -> LiveProcess:
    """The live page of the run that finishes at ``out`` (it follows ``out``'s ``.partial``, then ``out``) on
    127.0.0.1:``port`` (0: a free port). The port is bound here, before the run opens anything: in use, a
    one-line :class:`procedures.live.server.LiveViewError`."""
    return LiveProcess(bind_loopback(port), partial_path_of(out), str(out))
