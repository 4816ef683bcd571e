"""The SCPI transcript of a lot's benches: one file per bench worker (docs/logging.md "Lots").

A lot measures in Dask worker processes, one per bench; the command's own logging set-up lives in another process.
:func:`write_transcripts_per_bench` registers a worker plugin (Dask's own hook for per-worker set-up, run on every
worker present and on any that joins or is restarted later) that attaches the transcript handler
(:func:`instruments.scpi_transcript.transcript_handler`) in each worker, writing to :func:`bench_transcript_path`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

PLUGIN_NAME = "diffbench-scpi-transcript"


def bench_transcript_path(path: Path, bench: str) -> Path:
    """The transcript file of ``bench`` for ``--scpi-log path``: ``scpi.log`` gives ``scpi.<bench>.log``."""
    return path.with_name(f"{path.stem}.{bench}{path.suffix}")


class BenchTranscripts(WorkerPlugin):
    """Writes the worker's SCPI transcript to :func:`bench_transcript_path` of ``path`` and its name (appended to,
    so a restarted worker or a later unit adds to the bench's file)."""

    name = PLUGIN_NAME

    def __init__(self, path: str) -> None:
        self.path = path
        self._handler: logging.Handler | None = None

    def setup(self, worker: Any) -> None:
        """Attach the transcript handler in this worker's process."""
        from instruments.scpi_transcript import TRANSCRIPT, transcript_handler

        target = bench_transcript_path(Path(self.path), str(worker.name))
        self._handler = transcript_handler(str(target), mode="a")
        TRANSCRIPT.addHandler(self._handler)
        TRANSCRIPT.setLevel(logging.DEBUG)

    def teardown(self, worker: Any) -> None:
        """Detach and close the file."""
        from instruments.scpi_transcript import TRANSCRIPT

        if self._handler is not None:
            TRANSCRIPT.removeHandler(self._handler)
            self._handler.close()
            self._handler = None


def write_transcripts_per_bench(client: Any, path: Path) -> None:
    """Have every bench worker of ``client`` (present and future) write its SCPI transcript beside ``path``."""
    client.register_plugin(BenchTranscripts(str(path.resolve())), name=PLUGIN_NAME)
