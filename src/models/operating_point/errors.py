"""The one error of the operating-point solve."""

from __future__ import annotations


class OperatingPointError(ValueError):
    """No DC solution within the bracketed ranges (component values far outside anything buildable)."""
