"""A Dask client for the lot's work: attached to a running scheduler, or to a cluster started here and closed after.

Both the lot's measurement (one worker per bench, :func:`procedures.lot.runner.local_cluster`) and its re-analysis
(one worker per core, :func:`procedures.lot.lot_refit.refit_cluster`) get their client here, so a scheduler that
does not answer reads the same for both, and local workers always die with this process
(:class:`procedures.lot.worker_guard.DieWithParent`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from instruments.errors import DiffbenchError

#: how long attaching to a scheduler may take before the command is refused, s
CONNECT_TIMEOUT_S = 10.0


@contextmanager
def dask_client(scheduler: str | None, make_cluster: Callable[[], object],
                error: type[DiffbenchError] = DiffbenchError) -> Iterator[Any]:
    """A client attached to ``scheduler`` (``tcp://host:8786``), or, when it is None, to the cluster
    ``make_cluster()`` returns, closed after the client. A scheduler that does not answer within
    :data:`CONNECT_TIMEOUT_S` raises ``error`` (one line)."""
    from distributed import Client

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise error(f"scheduler {scheduler} does not answer ({type(exc).__name__}: {exc})") from None
        try:
            yield client
        finally:
            client.close()
        return
    cluster = make_cluster()
    try:
        from procedures.lot.worker_guard import DieWithParent

        client = Client(cluster)
        client.register_plugin(DieWithParent())
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()  # type: ignore[attr-defined]
