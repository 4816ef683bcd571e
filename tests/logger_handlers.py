"""A handler attached to a logger for the length of a test, the logger's level put back after."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def listening(logger: logging.Logger, handler: logging.Handler, level: int = logging.DEBUG) -> Iterator[None]:
    """``handler`` on ``logger`` at ``level`` inside the block; afterwards removed, closed, and the level back."""
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
        handler.close()
