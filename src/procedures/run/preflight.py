"""Preflight: every check that the configs and the command line allow, made before anything is opened.

:func:`preflight` turns the three config paths, the output path and the options of a run into a
:class:`RunPlan`, or refuses with one :class:`~instruments.errors.DiffbenchError` line (the CLI's exit
status 2) naming what is wrong and where. Nothing has been opened, started or switched on at that
point, and no file has been written: a refused run changes nothing.

What is checked, in order: the configs (schema and physical ranges), the board file a simulated bench
names, every planned excitation against the board's safe limits (and the simulated bench's board, when
``--sim-board`` puts another one there), the output path (its folder exists and is a folder, neither the
archive nor its ``.partial`` exists unless the run resumes it), the archive to resume (readable, not
finished, made with the same procedure), and the operator steps the plan contains (rewiring between groups
of points) against whether anyone can confirm them (a terminal).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from instruments.bench_config import BenchConfig, load_bench
from instruments.board_config import BoardConfig, load_board
from instruments.errors import ConfigError
from procedures.config.procedure import ProcedureConfig, load_procedure
from procedures.measure import plan as planning
from procedures.measure.calibration_plan import CalibrationDecision
from procedures.measure.plan import PlannedPoint


@dataclass
class LoadedConfigs:
    """The three configs of a run, validated."""

    procedure: ProcedureConfig
    bench: BenchConfig
    board: BoardConfig
    sim_board: BoardConfig | None = None  # a different board on the simulated bench (a deliberate fault)


@dataclass
class RunPlan:
    """A run that passed preflight: its configs, every point in order, and where its archive goes."""

    configs: LoadedConfigs
    points: list[PlannedPoint]
    out: Path
    resume: Path | None = None
    operator_steps: list[tuple[bool, str]] = field(default_factory=list)
    calibration: CalibrationDecision | None = None  # the plan's crosstalk calibration decision, made for this bench

    @property
    def procedure(self) -> ProcedureConfig:
        return self.configs.procedure

    @property
    def bench(self) -> BenchConfig:
        return self.configs.bench

    @property
    def board(self) -> BoardConfig:
        return self.configs.board


#: a config given as a file's path, or already built (loaded, or made in code: :mod:`procedures.config.in_code`)
ProcedureSource = ProcedureConfig | str | Path
BenchSource = BenchConfig | str | Path
BoardSource = BoardConfig | str | Path


def _procedure(source: ProcedureSource) -> ProcedureConfig:
    return source if isinstance(source, ProcedureConfig) else load_procedure(source)


def _bench(source: BenchSource) -> BenchConfig:
    return source if isinstance(source, BenchConfig) else load_bench(source)


def _board(source: BoardSource) -> BoardConfig:
    return source if isinstance(source, BoardConfig) else load_board(source)


def load_configs(procedure: ProcedureSource, bench: BenchSource, board: BoardSource,
                 sim_board: BoardSource | None = None) -> LoadedConfigs:
    """Load and validate the procedure, bench and board configs (one-line ConfigError on any problem).

    Each is a file's path or a config object already validated (loaded, or built in code).

    ``sim_board``: the board config the simulated bench carries instead of ``board``; refused for a real bench.
    A simulated bench config's own ``[bench] board`` must name a file that exists, even though ``board``
    is the one put on the bench: a config that points nowhere is a mistake to report, not to ignore.
    """
    cfg = LoadedConfigs(_procedure(procedure), _bench(bench), _board(board))
    named = cfg.bench.board_path
    if named is not None and not named.is_file():
        raise ConfigError(cfg.bench.source, "[bench] board", f"{named}: no such file")
    if sim_board is not None:
        if not cfg.bench.simulated:
            where = sim_board.source if isinstance(sim_board, BoardConfig) else str(sim_board)
            raise ConfigError(where, "--sim-board", f"applies only to a simulated bench, and "
                                                    f"{cfg.bench.source} is a real one")
        cfg.sim_board = _board(sim_board)
    return cfg


def operator_steps(points: list[PlannedPoint], start: tuple[bool, str]) -> list[tuple[bool, str]]:
    """The bench configurations a person must set up by hand, in order (``start`` is how the bench is wired)."""
    steps, state = [], start
    for p in points:
        if p.configuration != state:
            steps.append(p.configuration)
            state = p.configuration
    return steps


def check_output(out: Path, resume: Path | None) -> None:
    """The archive can be written at ``out``: its folder exists, and it does not exist yet (unless resumed).

    Raises :class:`ConfigError` naming the path. ``resume`` may be ``out`` itself (finish in place).
    """
    from procedures.archive.files import partial_path_of

    if out.name.endswith(".partial"):
        raise ConfigError("", f"-o {out}", "give the final name (run.h5); the run writes its .partial itself")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.exists():
        raise ConfigError("", f"-o {out}", f"the folder {folder} does not exist")
    if not folder.is_dir():
        raise ConfigError("", f"-o {out}", f"{folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError("", f"-o {out}", f"the folder {folder} is not writable")
    same = resume is not None and (resume.resolve() in (out.resolve(), partial_path_of(out).resolve()))
    for p in (out, partial_path_of(out)):
        if p.exists() and not same:
            how = "choose another name" + ("" if resume is not None else f", or finish it with --resume {p}")
            raise ConfigError("", f"-o {out}", f"{p} already exists; {how}")


def check_resume(resume: Path, proc: ProcedureConfig, decision: CalibrationDecision | None = None) -> None:
    """The archive to resume exists, is readable, is not finished, and was made with the same procedure and
    the same crosstalk calibration decision (a bench whose scope changes the decision changes the plan)."""
    if not resume.exists():
        raise ConfigError("", f"--resume {resume}", "no such file")
    from procedures.archive.reader import open_run
    from procedures.archive.resume import check_resumable

    check_resumable(resume, proc.raw)
    with open_run(resume) as run:
        was = run.metadata.get("calibration")
    if decision is None or not isinstance(was, dict):
        return
    # archives from before the per-sweep decision hold only the on/off flag
    had = tuple(was["sweeps"]) if isinstance(was.get("sweeps"), list) else None
    if bool(was.get("crosstalk")) != decision.crosstalk or (had is not None and set(had) != set(decision.sweeps)):
        def said(on: bool, sweeps: tuple[str, ...] | None) -> str:
            return ("on" + (f" for {', '.join(sweeps)}" if sweeps else "")) if on else "off"
        raise ConfigError("", f"--resume {resume}",
                          f"the run was planned with the crosstalk calibration {said(bool(was.get('crosstalk')), had)} "
                          f"({was.get('crosstalk_source', '?')}); on this bench the plan turns it "
                          f"{said(decision.crosstalk, decision.sweeps)}: resume it on the bench it was started on")


def preflight(procedure: ProcedureSource, bench: BenchSource, board: BoardSource, out: str | Path, *,
              resume: str | Path | None = None, sim_board: BoardSource | None = None,
              interactive: bool | None = None, operator: bool | None = None) -> RunPlan:
    """Check everything a run needs that can be checked without instruments; return the plan.

    ``interactive``: whether a person can answer the operator's prompts (default: standard input is a
    terminal). ``operator``: whether rewiring is done by a person (default: yes on a real bench, no on a
    simulated one, whose relay does it). Raises a one-line :class:`~instruments.errors.DiffbenchError`
    (ConfigError, SafetyError, ArchiveError) on the first problem; nothing has been opened or written then.
    """
    cfg = load_configs(procedure, bench, board, sim_board)
    # SafetyError, or the calibration refused for this bench's scope: nothing has been switched on
    points, decision = planning.plan_with_decision(cfg.procedure, cfg.board, cfg.bench)
    if cfg.sim_board is not None:
        planning.plan(cfg.procedure, cfg.sim_board)   # the board actually driven must be safe too
    driven = cfg.sim_board or cfg.board
    if cfg.bench.simulated and driven.netlist is not None:
        check_netlist_operating_point(driven)
    out_path = Path(out)
    resume_path = Path(resume) if resume is not None else None
    check_output(out_path, resume_path)
    if resume_path is not None:
        check_resume(resume_path, cfg.procedure, decision)
    wiring = cfg.bench.wiring
    steps = operator_steps(points, (wiring.tied, "normal"))
    by_hand = (not cfg.bench.simulated) if operator is None else operator
    can_answer = _stdin_is_terminal() if interactive is None else interactive
    if by_hand and steps and not can_answer:
        raise ConfigError(cfg.procedure.source, None,
                          f"the plan needs the bench rewired by hand {len(steps)} time(s) and nobody can confirm it "
                          "here (no terminal); run it from a terminal, or set [drive] cm_drive = \"two-channel\" "
                          "and [calibration] channel_match = false, crosstalk = false")
    return RunPlan(configs=cfg, points=points, out=out_path, resume=resume_path, operator_steps=steps,
                   calibration=decision)


def check_netlist_operating_point(board: BoardConfig) -> None:
    """The simulated board of a netlist board has a physical DC operating point: one is found (else the
    engine's one-line ConvergenceError names the file) and every node lies within +-V_MAX of ground (a node
    held only by GMIN, e.g. a current source into a reverse-biased junction, sits at ~1e9 V); a ConfigError
    naming the file and the line of the first element on the offending node otherwise."""
    from instruments.board_config import V_MAX
    from instruments.sim.board import SimBoard

    nb = board.netlist
    assert nb is not None
    op = SimBoard(board).operating_point()
    levels = {node: op[node] for node in nb.circuit.nodes if node in op}
    node = max(levels, key=lambda n: abs(levels[n]), default=None)
    if node is not None and not abs(levels[node]) <= V_MAX:
        first = next(e for e in nb.circuit.elements if node in e.nodes)
        raise ConfigError(f"{nb.path}:{first.where.line}", None,
                          f"node {node!r} sits at {levels[node]:.3g} V at rest: the circuit has no physical operating "
                          f"point (only the simulator's GMIN carries current there; element {first.name!r})")


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):  # closed or detached standard input
        return False

