"""diffbench procedures: what a bench script or a notebook needs, in one place.

::

    import procedures as db

    proc = db.procedure_config({"procedure": {"name": "quick", "kind": "frequency_sweep"},
                                "frequency": {"start_hz": 1e3, "stop_hz": 1e5, "points": 3}})
    outcome = db.run_procedure(proc, "configs/benches/sim-keysight.toml",
                               "configs/boards/bjt-source-text.toml", "quick.h5",
                               on_point=lambda p: print(p.done, p.total, p.label))
    with db.open_run(outcome.path) as run:
        print(run.tables["gains"]["CMRR_diff_db"])
    db.refit(outcome.path)
    db.write_report(outcome.path)

Configs are read from files (``load_*``) or built in code (``*_config``, laid out as the files are); a run
calls ``on_point`` with every point it archives (:class:`FinishedPoint`). The stages behind these names are
the subpackages ``config``, ``predict``, ``archive``, ``measure``, ``analysis``, ``fitting``, ``report``, ``run``
and ``cli`` (docs/architecture.md); their modules are importable directly too.

The names are loaded on first use, so ``import procedures`` (which every ``procedures.*`` import runs)
stays light: nothing heavy (h5py, scipy, matplotlib) is imported until it is needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: public name -> the module that defines it (under the same name, or the one in :data:`_RENAMED`)
_HOMES = {
    # configs: from files, or built in code
    "ProcedureConfig": "procedures.config.procedure",
    "AcquisitionSettings": "procedures.config.procedure",
    "load_procedure": "procedures.config.procedure",
    "procedure_config": "procedures.config.in_code",
    "bench_config": "procedures.config.in_code",
    "board_config": "procedures.config.in_code",
    "BenchConfig": "instruments.bench_config",
    "load_bench": "instruments.bench_config",
    "BoardConfig": "instruments.board_config",
    "load_board": "instruments.board_config",
    # what the models predict for a board (not ``predict``: that name is the stage's subpackage)
    "predict_board": "procedures.predict.prediction",
    # running a procedure
    "run_procedure": "procedures.run.runner",
    "preflight": "procedures.run.runner",
    "execute": "procedures.run.runner",
    "RunPlan": "procedures.run.preflight",
    "RunOutcome": "procedures.run.session",
    "FinishedPoint": "procedures.run.session",
    # reading archives, refitting, reporting
    "open_run": "procedures.archive.reader",
    "RunData": "procedures.archive.reader",
    "refit": "procedures.fitting.refit",
    "Refit": "procedures.fitting.refit",
    "FitResult": "procedures.fitting.core",
    "write_report": "procedures.report.report",
    # errors: every one a user can cause is a DiffbenchError with a one-line message
    "DiffbenchError": "instruments.errors",
    "ConfigError": "instruments.errors",
}

#: public name -> its name in its home module
_RENAMED = {"predict_board": "predict"}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'procedures' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), _RENAMED.get(name, name))
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # the same names, for type checkers (``x as x``: re-exported)
    from instruments.bench_config import BenchConfig as BenchConfig
    from instruments.bench_config import load_bench as load_bench
    from instruments.board_config import BoardConfig as BoardConfig
    from instruments.board_config import load_board as load_board
    from instruments.errors import ConfigError as ConfigError
    from instruments.errors import DiffbenchError as DiffbenchError
    from procedures.archive.reader import RunData as RunData
    from procedures.archive.reader import open_run as open_run
    from procedures.config.in_code import bench_config as bench_config
    from procedures.config.in_code import board_config as board_config
    from procedures.config.in_code import procedure_config as procedure_config
    from procedures.config.procedure import AcquisitionSettings as AcquisitionSettings
    from procedures.config.procedure import ProcedureConfig as ProcedureConfig
    from procedures.config.procedure import load_procedure as load_procedure
    from procedures.fitting.core import FitResult as FitResult
    from procedures.fitting.refit import Refit as Refit
    from procedures.fitting.refit import refit as refit
    from procedures.predict.prediction import predict as predict_board  # noqa: F401 - re-exported (_RENAMED)
    from procedures.report.report import write_report as write_report
    from procedures.run.preflight import RunPlan as RunPlan
    from procedures.run.runner import execute as execute
    from procedures.run.runner import preflight as preflight
    from procedures.run.runner import run_procedure as run_procedure
    from procedures.run.session import FinishedPoint as FinishedPoint
    from procedures.run.session import RunOutcome as RunOutcome
