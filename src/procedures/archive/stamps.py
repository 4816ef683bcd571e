"""What an archive records about when and by what it was written: UTC times and diffbench's version."""

from __future__ import annotations

import datetime as _dt
import functools


def utc_now() -> str:
    """The current UTC time as ISO 8601 with microseconds and a ``Z`` suffix."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


@functools.lru_cache(maxsize=1)
def software_version() -> str:
    """diffbench's installed version (importlib.metadata), or ``"unknown"`` in an uninstalled tree.

    Cached: the lookup scans every installed distribution (~20-30 ms here), once per process is enough.
    """
    try:
        from importlib.metadata import version

        return version("diffbench")
    except Exception:
        return "unknown"
