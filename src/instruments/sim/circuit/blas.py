"""BLAS thread control for the circuit engine's small dense solves."""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Callable, Iterator

_BLAS_LOCAL: list[Callable[[int], int]] | None = None  # None: not looked up yet


def _blas_set_threads_local() -> list[Callable[[int], int]]:
    """OpenBLAS's per-calling-thread thread-count setters (OpenBLAS >= 0.3.27), one per OpenBLAS loaded
    (numpy and scipy each bring their own); empty if none has one."""
    global _BLAS_LOCAL
    if _BLAS_LOCAL is None:
        import scipy.linalg  # noqa: F401  (load scipy's OpenBLAS too: the engine factors with it)

        found: list[Callable[[int], int]] = []
        try:
            with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
                paths = {line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line}
            for path in sorted(paths):
                fn = getattr(ctypes.CDLL(path), "openblas_set_num_threads_local", None)
                if fn is not None:
                    fn.restype, fn.argtypes = ctypes.c_int, [ctypes.c_int]
                    found.append(fn)
        except OSError:
            pass
        _BLAS_LOCAL = found
    return _BLAS_LOCAL


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with single-threaded BLAS in this thread only.

    The dense systems here are small (a few hundred unknowns); on a busy 2-core machine OpenBLAS's
    thread pool made each LU solve 4-10 times slower than one thread (measured: 69 ms vs 6.4 ms median at
    645 unknowns). Falls back to doing nothing when OpenBLAS's local setter is not available.
    """
    setters = _blas_set_threads_local()
    prev = [fn(1) for fn in setters]
    try:
        yield
    finally:
        for fn, p in zip(setters, prev):
            fn(p)
