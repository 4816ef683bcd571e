"""The circuit engine's failure."""

from __future__ import annotations

from ...errors import DiffbenchError


class ConvergenceError(DiffbenchError):
    """The circuit engine could not find a DC or periodic steady-state solution."""
