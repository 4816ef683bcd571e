"""Helpers of the fit tests: measure a simulated board, and the simulator's true value of every fit parameter.

The truth never comes from the models: component values from the board config the simulated board was
built from, currents and voltages from the transistor-level board (instruments.sim.board), the offset
from solving the simulated board's DC transfer for vod = 0.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

from scipy.optimize import brentq

from instruments.bench_config import load_bench
from instruments.board_config import BoardConfig, load_board
from instruments.sim.bench import SimBench
from instruments.sim.board import Drive, SimBoard
from instruments.sim.board_netlist import REVERSE_BETA
from instruments.sim.circuit import GROUND, BJTModel, MOSModel, Netlist
from procedures.archive.reader import open_run
from procedures.fitting.run_fits import fit_run
from procedures.run.runner import run_procedure

ROOT = Path(__file__).resolve().parents[1]
BOARDS = ROOT / "configs" / "boards"
BENCH = ROOT / "configs" / "benches" / "sim-keysight.toml"
# A frequency sweep that pins every small-signal parameter: 1 kHz (flat), 50 kHz (between the tail zero at
# 32 kHz and the load pole at 400 kHz), 500 kHz (above the pole); 2e4 points per record.
FREQ_BODY = """[drive]
vid_vpk = 0.002
vic_vpk = 0.3
compare_ideal = false
[frequency]
list_hz = [1000.0, 50000.0, 500000.0]
[acquisition]
record_points = 20000
"""


def procedure(directory: Path, name: str, kind: str, body: str) -> Path:
    """Write a procedure config and return its path."""
    p = directory / f"{name}.toml"
    p.write_text(f'[procedure]\nname = "{name}"\nkind = "{kind}"\n{body}')
    return p


def measure(proc: Path, board: str, out: Path, *, sim_board: BoardConfig | None = None,
            seed: int | None = None) -> Path:
    """Run ``proc`` on the simulated bench with the board config ``board`` (its name in configs/boards). The
    archive records that config; ``sim_board`` puts a different (faulty) board on the bench, ``seed`` reseeds
    the bench's noise. Returns the archive path."""
    board_path = BOARDS / f"{board}.toml"
    bench = load_bench(BENCH)
    if seed is not None:
        bench = dataclasses.replace(bench, sim={**bench.sim, "seed": seed})
    with SimBench(bench, board=SimBoard.from_config(sim_board or load_board(board_path))) as sim:
        outcome = run_procedure(proc, BENCH, board_path, out, sim_bench=sim)
    assert outcome.status == "complete"
    return outcome.path


def fits_of(path: Path, options: dict | None = None) -> dict:
    """The fits of an archive against its own board config, ``{fit name: FitResult}``: those the run stored
    (made with the procedure's [fit] options), or with ``options`` a fresh fit."""
    from procedures.fitting.run_fits import board_of, fit_options, load_fits

    with open_run(path) as run:
        if options is None:
            stored = load_fits(run)
            if stored:
                return {f.name: f for f in stored}
        opts = None if options is None else fit_options({"fit": options})
        return {f.name: f for f in fit_run(run, board_of(run), opts)}


def _vth(b: BoardConfig) -> tuple[float, float]:
    return b.device.vth_v - b.mismatch_vth_v / 2, b.device.vth_v + b.mismatch_vth_v / 2


def _transistor_tail_truth(b: BoardConfig, op: dict[str, float]) -> tuple[float, float]:
    """A transistor tail's output resistance and current from the simulator: the tail device alone with its
    terminals held at the board's operating point, the admittance into its collector/drain from the engine's AC
    solve; the current is the board's device current."""
    tr, d = b.tail_transistor, b.device
    assert tr is not None
    model: BJTModel | MOSModel
    if b.is_bjt:
        assert d.is_a is not None and d.beta is not None and d.early_v is not None
        model = BJTModel(1, d.is_a * tr.size_ratio, d.beta, REVERSE_BETA, d.early_v, b.vt_v)
    else:
        assert d.kp_a_per_v2 is not None and d.vth_v is not None and d.lambda_per_v is not None
        model = MOSModel(1, d.kp_a_per_v2 * tr.size_ratio, d.vth_v, d.lambda_per_v)
    nl = Netlist()
    nl.vsource("Vc", "c", GROUND, op["tail"] - b.vee_v)
    nl.vsource("Vb", "b", GROUND, tr.bias_v - b.vee_v)
    if tr.r_e_ohm > 0:
        nl.resistor("e", GROUND, tr.r_e_ohm)
        (nl.bjt if b.is_bjt else nl.mos)("Q", "c", "b", "e", model)  # type: ignore[arg-type]
    else:
        (nl.bjt if b.is_bjt else nl.mos)("Q", "c", "b", GROUND, model)  # type: ignore[arg-type]
    system = nl.compile()
    x = system.solve_dc()
    y = -complex(system.solve_ac(x, [0.0], system.source_rhs(["Vc"]))[0, system.sources["Vc"], 0])
    return 1.0 / y.real, op["Q10.ic" if b.is_bjt else "M10.id"]


def truth(b: BoardConfig) -> dict[str, float]:
    """The simulated board's value of every fit parameter (module docstring)."""
    sim = SimBoard.from_config(b)
    op = sim.operating_point()
    t = {"R_L": b.load_r_ohm, "d_R": b.mismatch_load_r, "C_L": b.load_c_f, "d_C": b.mismatch_load_c,
         "R_EE": b.tail_r_ohm, "C_T": b.tail_c_f, "R_E": b.degeneration_r_ohm, "vt": b.vt_v,
         "i_tail": op["tail.i_a"]}
    if b.tail_kind == "transistor":
        t["R_EE"], t["i_tail"] = _transistor_tail_truth(b, op)
    if b.is_bjt:
        g1, g2 = op["Q1.ic"] / b.vt_v, op["Q2.ic"] / b.vt_v
    else:
        g1, g2 = op["M1.gm"], op["M2.gm"]
        v1, v2 = _vth(b)
        t["v_ov"] = 0.5 * (op["M1.vgs"] - v1 + op["M2.vgs"] - v2)
    t["gm"] = 0.5 * (g1 + g2)
    t["d_gm"] = (g2 - g1) / t["gm"]

    def vod(vid: float) -> float:
        ss = sim.steady_state(0.0, [Drive(b.bias_v + vid / 2, source_r_ohm=0.0),
                                    Drive(b.bias_v - vid / 2, source_r_ohm=0.0)], (0, 1))
        return float(ss.harmonics("out1")[0].real - ss.harmonics("out2")[0].real)

    t["v_os"] = brentq(vod, -0.05, 0.05, xtol=1e-12)
    h = 1e-5
    t["slope"] = (vod(t["v_os"] + h) - vod(t["v_os"] - h)) / (2 * h)
    return t


@functools.cache
def truth_of(name: str) -> dict[str, float]:
    """:func:`truth` of the shipped board ``name`` (configs/boards/<name>.toml), solved once per test session."""
    return truth(load(name))


def z_scores(fit, true: dict[str, float]) -> dict[str, float]:
    """``(fitted - true)/stderr`` of every free parameter."""
    return {n: float((v - true[n]) / e) for n, v, e in zip(fit.params, fit.values, fit.stderr)}


def load(name: str) -> BoardConfig:
    return load_board(BOARDS / f"{name}.toml")


__all__ = ["BOARDS", "FREQ_BODY", "fits_of", "load", "measure", "procedure", "truth", "z_scores"]


def closed_form_boards() -> list[Path]:
    """The shipped board configs that name a closed-form family (every one but a netlist board predicted by
    ngspice; tests/procedures/predict/test_boards_vs_ngspice.py and tests/procedures/cli/test_netlist_boards.py
    cover those)."""
    from instruments.config_schema import load_toml

    return [p for p in sorted(BOARDS.glob("*.toml")) if "netlist" not in (doc := load_toml(p)) or "device" in doc]
