"""The SCPI transcript: every exchange with every instrument, as records of the ``"instruments.scpi"`` logger.

:class:`~instruments.scpi_instrument.ScpiInstrument` reports each exchange here: what it sent (``write`` for a
command with no reply, ``query`` for one that has a reply), what came back (``read``: the reply text, or a binary
block summarised by its length, never dumped), a device ``clear``, and an exchange that failed (``error``). Records
are at DEBUG level and carry three attributes besides the message, so a handler can lay them out as it likes:
``instrument`` (the driver's label, which ends with the VISA resource), ``direction`` and ``scpi`` (the text, one
line: control characters escaped). The library never attaches a handler; ``diffbench --scpi-log FILE`` does
(docs/logging.md), and a bench script can attach :func:`transcript_handler`.

When nobody listens (the logger's effective level above DEBUG) a report costs one level check.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Literal

#: the transcript's logger: its records are the SCPI exchanges, nothing else
TRANSCRIPT = logging.getLogger("instruments.scpi")

Direction = Literal["write", "query", "read", "clear", "error"]

#: what one transcript line holds, tab-separated (docs/logging.md "The SCPI transcript")
LINE_FORMAT = "%(asctime)s\t%(instrument)s\t%(direction)s\t%(scpi)s"

# one exchange is one line of the transcript: line breaks and tabs inside a text are written as escapes
_ESCAPES = str.maketrans({"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"})
#: a text reply longer than this is cut in the transcript (the length is said); blocks never reach it
MAX_TEXT_CHARS = 4000


def listening() -> bool:
    """Whether a transcript record would go anywhere (cheap: the logging module caches it)."""
    return TRANSCRIPT.isEnabledFor(logging.DEBUG)


def one_line(text: str) -> str:
    """``text`` as one transcript line: ``\\n``, ``\\r``, tab and backslash escaped; cut (saying so) when longer
    than :data:`MAX_TEXT_CHARS`."""
    if len(text) > MAX_TEXT_CHARS:
        text = f"{text[:MAX_TEXT_CHARS]}... ({len(text)} characters)"
    return text.translate(_ESCAPES)


def describe_reply(reply: Any) -> str:
    """What a transcript says a reply was: its text as it is (:func:`report` escapes it), or a binary block
    summarised as ``<binary block: N bytes>`` (``bytes`` or a numpy array; an array's element type is named too)."""
    if isinstance(reply, (bytes, bytearray, memoryview)):
        return f"<binary block: {len(reply)} bytes>"
    nbytes = getattr(reply, "nbytes", None)
    if nbytes is not None:
        dtype = getattr(reply, "dtype", "")
        return f"<binary block: {int(nbytes)} bytes, {getattr(reply, 'size', '?')} values of {dtype}>"
    return str(reply)


def report(instrument: str, direction: Direction, text: str) -> None:
    """Record one exchange of ``instrument`` (its label) in the transcript, if anybody listens."""
    if listening():
        line = one_line(text)
        TRANSCRIPT.debug("%s %s %s", instrument, direction, line,
                         extra={"instrument": instrument, "direction": direction, "scpi": line})


def reply(instrument: str, answer: Any) -> None:
    """Record what came back from ``instrument``: text as it is, a block by its length (:func:`describe_reply`)."""
    if listening():
        report(instrument, "read", describe_reply(answer))


def failed(instrument: str, command: str, exc: BaseException) -> None:
    """Record that the exchange of ``command`` with ``instrument`` failed, and how (the error's own words)."""
    if listening():
        report(instrument, "error", f"{command}: {type(exc).__name__}: {getattr(exc, 'message', None) or exc}")


class TranscriptFormatter(logging.Formatter):
    """One transcript line: UTC time to the microsecond (ISO 8601), instrument, direction, text, tab-separated
    (:data:`LINE_FORMAT`). Records of other loggers, without those attributes, are written as their message."""

    def __init__(self) -> None:
        super().__init__(LINE_FORMAT)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        """The record's time as ``2026-12-06T18:22:27.123456Z`` (UTC)."""
        return datetime.fromtimestamp(record.created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def format(self, record: logging.LogRecord) -> str:
        """The record as one transcript line."""
        if not hasattr(record, "scpi"):
            return f"{self.formatTime(record)}\t-\t{record.levelname.lower()}\t{one_line(record.getMessage())}"
        return super().format(record)


def transcript_handler(path: str, mode: str = "w") -> logging.Handler:
    """A handler writing transcript lines (:class:`TranscriptFormatter`) to the file at ``path`` (UTF-8, opened
    now: a path that cannot be written raises :class:`OSError` here). Attach it to :data:`TRANSCRIPT` and set that
    logger's level to DEBUG."""
    handler = logging.FileHandler(path, mode=mode, encoding="utf-8")
    handler.setFormatter(TranscriptFormatter())
    return handler
