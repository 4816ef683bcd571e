"""The Dask settings of diffbench's worker processes: the local clusters' workers run with them (no
``MALLOC_TRIM_THRESHOLD_`` in their environment, the profiler off, Dask's housekeeping slowed), the YAML a
production line's bench PCs load says the same, and a bench worker has its unit's stack imported before its first
unit."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from procedures.lot.dask_settings import WORKER_CONFIG

REPO = Path(__file__).resolve().parents[3]


def _dotted(tree: dict[str, Any], prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_dotted(value, name + "."))
        else:
            out[name] = value
    return out


def test_the_bench_pc_yaml_says_what_the_local_clusters_use() -> None:
    tree = yaml.safe_load((REPO / "configs" / "dask" / "bench-worker.yaml").read_text(encoding="utf-8"))
    assert _dotted(tree) == WORKER_CONFIG


def _worker_view() -> dict[str, object]:
    import dask

    return {"malloc": os.environ.get("MALLOC_TRIM_THRESHOLD_"), "lmfit": "lmfit" in sys.modules,
            "profile": dask.config.get("distributed.worker.profile.enabled"),
            "tick": dask.config.get("distributed.admin.tick.interval")}


def _lot_cluster() -> object:
    from procedures.lot.runner import local_cluster

    return local_cluster(["bench-a"])


def _refit_cluster() -> object:
    from procedures.lot.lot_refit import refit_cluster

    return refit_cluster(1)


@pytest.mark.parametrize("make", [_lot_cluster, _refit_cluster], ids=["lot", "refit"])
def test_local_workers_run_with_the_settings(make: Callable[[], object]) -> None:
    from distributed import Client

    from procedures.lot.worker_warmup import WarmUp

    before = os.environ.get("MALLOC_TRIM_THRESHOLD_")
    cluster = make()
    try:
        with Client(cluster) as client:
            (seen,) = client.run(_worker_view).values()
            assert seen == {"malloc": None, "lmfit": False, "profile": False, "tick": "1s"}
            client.register_plugin(WarmUp())
            (seen,) = client.run(_worker_view).values()
            assert seen["lmfit"] is True  # imported by the warm-up, before any unit
    finally:
        cluster.close()  # type: ignore[attr-defined]
    assert os.environ.get("MALLOC_TRIM_THRESHOLD_") == before  # the nannies did not set it here either


def test_every_module_of_the_warm_up_imports() -> None:
    from procedures.lot.worker_warmup import import_unit_modules

    assert import_unit_modules() == []
