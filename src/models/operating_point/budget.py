"""A cap on the work of one operating-point solve, counted in device-law evaluations per thread.

The nested bracketed solves always end, but among component values that no working pair has they can take
minutes; the budget turns that into an :class:`~models.operating_point.errors.OperatingPointError` after a few
seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import OperatingPointError

MAX_LAW_EVALUATIONS = 1_000_000
"""Device-law evaluations one operating-point solve may spend (a working pair takes 1e3 to 1e5, a cascoded
active load the most): beyond, the nested solves are wandering among component values that no working pair has,
and the solve stops with an :class:`OperatingPointError` (a few seconds) rather than running on for minutes."""

_budget = threading.local()


class BudgetExceeded(OperatingPointError):
    """The solve spent :data:`MAX_LAW_EVALUATIONS` device-law evaluations."""


@contextmanager
def evaluation_budget() -> Iterator[None]:
    """Count device-law evaluations in this thread for one top-level solve, at most :data:`MAX_LAW_EVALUATIONS`
    (nested uses share the outer count)."""
    if getattr(_budget, "left", None) is not None:
        yield
        return
    _budget.left = MAX_LAW_EVALUATIONS
    try:
        yield
    finally:
        _budget.left = None


def spend() -> None:
    """One device-law evaluation of the current solve; :class:`BudgetExceeded` when none is left."""
    left = getattr(_budget, "left", None)
    if left is None:
        return
    if left <= 0:
        raise BudgetExceeded(f"the solve took more than {MAX_LAW_EVALUATIONS} device-law evaluations without "
                             "settling (component values far from a working pair)")
    _budget.left = left - 1
