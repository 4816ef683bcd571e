"""Run a procedure end to end: configs in, an archive out, the generator's outputs off at the end.

The whole run reads top to bottom in :func:`execute`::

    with StopSignals() as signals, simulator, open_bench(...) as bench, RunSession(...) as session:
        session.measure()
        return session.conclude()

:func:`procedures.run.preflight.preflight` has checked everything that can be checked without instruments
before any of it starts (a bad config, an unsafe amplitude, an output path that cannot be written, an
operator step nobody can confirm: one line, nothing opened). :class:`~procedures.run.safety.StopSignals` turns
SIGINT, SIGTERM and SIGHUP into a safe stop; :class:`~procedures.run.session.RunSession` owns the archive
and the point loop and ends every way out in one place (outputs off, archive ``complete``, ``aborted``
or ``failed``); the bench's own exit switches the outputs off again, leaves the scope running and closes
both sessions; the simulator (when the bench is a simulated one the run started itself) stops last.
"""

from __future__ import annotations

import importlib
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from instruments.bench import open_bench
from procedures.measure.control import BenchControl, OperatorControl, SimulatedControl
from procedures.run.preflight import (
    BenchSource,
    BoardSource,
    LoadedConfigs,
    ProcedureSource,
    RunPlan,
    load_configs,
    preflight,
)
from procedures.run.safety import StopSignals
from procedures.run.session import FinishedPoint, PointCallback, RunOutcome, RunSession

if TYPE_CHECKING:
    from instruments.sim.bench import SimBench

#: modules a run imports only when it gets to them (the model fits, the predictions the verdicts compare
#: with). They are loaded before the run starts, with stop signals held: a KeyboardInterrupt inside an
#: extension module's initialisation leaves it half-imported ("ImportError: initialization failed"), which
#: would turn a clean stop into a crash.
LAZY_MODULES = ("scipy.optimize", "lmfit", "procedures.fitting.run_fits", "procedures.fitting.dc",
                "procedures.fitting.large_signal", "procedures.fitting.small_signal", "procedures.predict.prediction")

__all__ = ["FinishedPoint", "LoadedConfigs", "RunOutcome", "RunPlan", "execute", "load_configs", "preflight",
           "run_procedure"]


def run_procedure(procedure: ProcedureSource, bench: BenchSource, board: BoardSource, out: str | Path, *,
                  resume: str | Path | None = None, on_point: PointCallback | None = None,
                  control: BenchControl | None = None, sim_bench: SimBench | None = None,
                  sim_board: BoardSource | None = None, interactive: bool | None = None) -> RunOutcome:
    """Preflight, then measure a procedure on a bench and archive it (see the module docstring).

    ``procedure``, ``bench``, ``board`` (and ``sim_board``): a config file's path, or a config built in code
    (:mod:`procedures.config.in_code`). ``on_point(FinishedPoint)`` is called after every point is archived.
    ``control`` overrides how the bench is
    rewired between groups of points (default: the simulator's relay, or the operator at a real bench).
    ``sim_bench`` runs on an already running :class:`~instruments.sim.bench.SimBench` (a test or a bench
    script that wants to watch the simulator's state) instead of starting one for a simulated bench config.
    ``sim_board`` puts that board config on the simulated bench instead of ``board``, which the run is still
    judged and fitted against: a deliberately faulty board (archived as the ``sim_board`` config).
    ``interactive``: whether a person can answer rewiring prompts (default: standard input is a terminal).
    """
    by_hand = None if control is None and sim_bench is None else False
    plan = preflight(procedure, bench, board, out, resume=resume, sim_board=sim_board, interactive=interactive,
                     operator=by_hand)
    return execute(plan, on_point=on_point, control=control, sim_bench=sim_bench)


def execute(plan: RunPlan, *, on_point: PointCallback | None = None, control: BenchControl | None = None,
            sim_bench: SimBench | None = None) -> RunOutcome:
    """Run a plan that passed preflight. Raises what ended the run (after the safe ending): an
    :class:`~instruments.errors.InstrumentError`, :class:`~procedures.run.safety.RunInterrupted`, ..."""
    with StopSignals() as signals, ExitStack() as stack:
        for module in LAZY_MODULES:  # with stop signals held: see LAZY_MODULES
            importlib.import_module(module)
        sim = sim_bench if sim_bench is not None else (
            stack.enter_context(_simulator(plan)) if plan.bench.simulated else None)
        resources = sim.resources if sim is not None else None
        bench = stack.enter_context(open_bench(plan.bench, resources=resources))
        if control is None:
            control = (SimulatedControl(sim, plan.bench.wiring) if sim is not None
                       else OperatorControl(plan.bench.wiring))
        with RunSession(plan, bench, control, signals, on_point) as session:
            session.measure()
            outcome = session.conclude()
        signals.completed = True
        return outcome


def _simulator(plan: RunPlan) -> SimBench:
    """The simulated bench of a simulated bench config, with the board under test (or ``--sim-board``) on it."""
    from instruments.sim.bench import SimBench
    from instruments.sim.board import SimBoard

    board = plan.configs.sim_board or plan.board
    return SimBench(plan.bench, board=SimBoard.from_config(board))
