"""The plan turns on what the board needs, from its prediction, before anything is switched on
(procedures.measure.calibration_plan): the crosstalk calibration for the active load, not for the source
text's balanced stage; a procedure that turns it off for a board that needs it is refused in one line; a
drive that would take a device out of its active region is refused.

The bias the plan predicts is checked against things it does not compute itself: the closed form of what
symmetric crosstalk does to CMRR_diff of any pair (below), and the simulated bench measuring the active
load uncalibrated against the transistor-level board's own small-signal S.
"""

from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path

import numpy as np
import pytest

from instruments.bench_config import load_bench
from instruments.board_config import load_board
from instruments.errors import ConfigError
from instruments.sim.board import SimBoard
from models.mixed_mode import MixedModeGains, db
from procedures.archive.reader import open_run
from procedures.cli.main import main
from procedures.config.procedure import load_procedure
from procedures.measure.calibration_plan import crosstalk_biases, decide, sweep_points
from procedures.measure.crosstalk_bias import biased, crosstalk_matrix, solve
from procedures.measure.plan import plan

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ROOT / "configs" / "procedures" / "frequency-sweep.toml"
ACTIVE = load_board(ROOT / "configs" / "boards" / "bjt-active-load.toml")
SOURCE_TEXT = load_board(ROOT / "configs" / "boards" / "bjt-source-text.toml")
SIM_BENCH = ROOT / "configs" / "benches" / "sim-keysight.toml"
REAL_BENCH = ROOT / "configs" / "benches" / "keysight-33522b-dsox1204g.toml"


def _xtalk(points: list) -> list:
    return [p for p in points if p.role == "xtalk"]


def _procedure(tmp_path: Path, extra: str) -> Path:
    """A frequency-sweep procedure file: the shipped one's defaults plus the tables in ``extra``."""
    p = tmp_path / "procedure.toml"
    p.write_text('[procedure]\nname = "plan"\nkind = "frequency_sweep"\n' + extra)
    return p


@pytest.mark.parametrize("bench", [None, SIM_BENCH], ids=["no bench", "sim-keysight"])
def test_the_shipped_sweep_calibrates_the_active_load_and_not_the_source_text(bench: Path | None) -> None:
    proc = load_procedure(SHIPPED)
    b = load_bench(bench) if bench is not None else None
    active = plan(proc, ACTIVE, b)
    assert len(_xtalk(active)) == 4 * len(proc.frequencies_hz())
    decision = decide(proc, ACTIVE, b)
    assert decision.crosstalk and decision.requested is None
    assert decision.biased[0].figure == "CMRR_se1" and decision.biased[0].ratio > 30
    assert decision.line.startswith("crosstalk calibration on (the plan's choice)") and "CMRR_se1" in decision.line
    assert not _xtalk(plan(proc, SOURCE_TEXT, b))
    off = decide(proc, SOURCE_TEXT, b)
    assert not off.crosstalk and off.line.startswith("crosstalk calibration off")
    assert off.largest is not None and off.largest.ratio < 0.25


def test_turning_it_off_for_a_board_that_needs_it_is_refused_in_one_line(tmp_path: Path) -> None:
    proc = load_procedure(_procedure(tmp_path, "[calibration]\ncrosstalk = false\n"))
    with pytest.raises(ConfigError) as err:
        plan(proc, ACTIVE)
    msg = str(err.value)
    assert "\n" not in msg and str(tmp_path / "procedure.toml") in msg and "[calibration] crosstalk" in msg
    assert "CMRR_se1" in msg
    assert not _xtalk(plan(proc, SOURCE_TEXT))  # where it is not needed, off is off
    # through the CLI: one line, exit status 2, nothing written
    out, err_buf = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err_buf):
        status = main(["run", str(tmp_path / "procedure.toml"), "--bench", str(SIM_BENCH), "--board",
                       str(ROOT / "configs" / "boards" / "bjt-active-load.toml"), "-o", str(tmp_path / "x.h5"),
                       "--no-progress"])
    assert status == 2 and len(err_buf.getvalue().strip().splitlines()) == 1, err_buf.getvalue()
    assert not list(tmp_path.glob("x.h5*"))


def test_asking_for_it_where_it_is_not_needed_is_granted(tmp_path: Path) -> None:
    proc = load_procedure(_procedure(tmp_path, "[frequency]\nlist_hz = [1e3]\n[calibration]\ncrosstalk = true\n"))
    assert len(_xtalk(plan(proc, SOURCE_TEXT))) == 4
    assert decide(proc, SOURCE_TEXT).line.startswith("crosstalk calibration on: asked for")


def test_symmetric_crosstalk_biases_cmrr_diff_by_its_closed_form() -> None:
    """With x between the two inputs' channels and between the two outputs', the CM point's vod reads
    (1 - x) vod, every link reading (1 + x): Acd, and only Acd, scales by (1 - x)/(1 + x), so CMRR_diff moves
    by 20 log10((1 + x)/(1 - x)) on any pair (0.174 dB at -40 dB), most for a real x."""
    proc = load_procedure(SHIPPED)
    x = 10 ** (-40 / 20)
    worst = {b.figure: b for b in crosstalk_biases(proc, SOURCE_TEXT, -40.0)}
    assert worst["CMRR_diff"].bias == pytest.approx(20 * math.log10((1 + x) / (1 - x)), rel=1e-3)
    # a real bench's unknown scope is assumed a poor one (-40 dB): then even the source text needs it
    decision = decide(proc, SOURCE_TEXT, load_bench(REAL_BENCH))
    assert decision.crosstalk_db == -40.0 and decision.crosstalk
    assert "CMRR_diff" in {b.figure for b in decision.biased}


def test_the_predicted_bias_is_what_the_simulated_bench_measures_uncalibrated(tmp_path: Path) -> None:
    """The active load at 1 kHz with the plan told the scope is far better than it is (so it skips the
    calibration): CMRR_se1 misses the simulated board's truth by the bias the plan predicts for the
    simulated scope's -70 dB (a real coupling, as the simulator has it), within 3 u."""
    body = ('[frequency]\nlist_hz = [1000.0]\n[drive]\nvid_vpk = 0.002\nvic_vpk = 0.3\n'
            '[calibration]\nassume_crosstalk_db = -150.0\n[fit]\nsmall_signal = false\n')
    path = _procedure(tmp_path, body)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["run", str(path), "--bench", str(SIM_BENCH), "--board",
                     str(ROOT / "configs" / "boards" / "bjt-active-load.toml"), "-o", str(tmp_path / "u.h5"),
                     "--no-progress"]) == 0
    assert "crosstalk calibration off" in out.getvalue()
    with open_run(tmp_path / "u.h5") as run:
        g = run.tables["gains"]
        measured, u = float(g["CMRR_se1_db"][0]), float(g["CMRR_se1_db_u"][0])
    truth = _cmrr_se1_db(SimBoard.from_config(ACTIVE).small_signal_s(1000.0))
    p = sweep_points(load_procedure(path), ACTIVE)[0]
    X = crosstalk_matrix({"v1": 1, "v2": 2, "vo1": 3, "vo2": 4}, 10 ** (-70 / 20))
    predicted = _cmrr_se1_db(biased(p, X)) - _cmrr_se1_db(solve(p.dm, p.cm, p.link, p.tied))
    assert abs(predicted) > 2.0  # a visible bias
    assert measured - truth == pytest.approx(predicted, abs=3 * u)


def _cmrr_se1_db(S: np.ndarray) -> float:
    return float(db(MixedModeGains.from_matrix(S).cmrr_se(1)))


def test_a_drive_that_saturates_the_output_is_refused(tmp_path: Path) -> None:
    """5 mV peak into the active load: vo2 would swing 1.8 V, taking the mirror's output device out of its
    active region."""
    proc = load_procedure(_procedure(tmp_path, "[drive]\nvid_vpk = 0.005\nextrapolate_dm = false\n"))
    with pytest.raises(ConfigError, match=r"\[drive\] vid_vpk.*active region") as err:
        plan(proc, ACTIVE)
    assert "\n" not in str(err.value)
    assert plan(proc, SOURCE_TEXT)  # the source text's resistive load has the headroom
