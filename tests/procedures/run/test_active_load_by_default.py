"""Right by default: the active-load board measured with the shipped frequency sweep, as shipped, on the
simulated bench, reports CMRR_se1 within its stated uncertainty of the truth, and its fit is consistent.

Before the plan decided the crosstalk calibration from the prediction, this run read CMRR_se1 = 62.4 +- 0.22
dB at 1 kHz against the simulated board's 64.96 dB (the simulated scope's -70 dB from vo2 into vo1's
channel), with a fit at chi2_red ~1500 whose uncertainties were scaled x39 until "every parameter within
3 u" printed. The truth is the transistor-level board's own small-signal S (SimBoard.small_signal_s),
which never sees the scope or the models. Runtime ~25 s (13 frequencies of 100 000-point records).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from instruments.board_config import load_board
from instruments.sim.board import SimBoard
from models.mixed_mode import MixedModeGains, db
from procedures.archive.reader import open_run
from procedures.cli.main import main
from procedures.measure.calibration_plan import decide_from_text

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ROOT / "configs" / "procedures" / "frequency-sweep.toml"
BOARD = ROOT / "configs" / "boards" / "bjt-active-load.toml"
BENCH = ROOT / "configs" / "benches" / "sim-keysight.toml"


def test_shipped_sweep_on_the_active_load_is_right_without_being_asked(tmp_path: Path) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["run", str(SHIPPED), "--bench", str(BENCH), "--board", str(BOARD), "-o",
                       str(tmp_path / "al.h5"), "--no-progress"])
    text = out.getvalue()
    assert status == 0, text
    plan_lines = [ln for ln in text.splitlines() if ln.startswith("diffbench run: plan:")]
    assert len(plan_lines) == 1 and "crosstalk calibration on" in plan_lines[0] and "CMRR_se1" in plan_lines[0]
    with open_run(tmp_path / "al.h5") as run:
        assert sum(str(r) == "xtalk" for r in run.tables["points"]["role"]) == 4 * 13
        g = run.tables["gains"]
        i = int(abs(g["frequency_hz"] - 1000.0).argmin())
        measured, u = float(g["CMRR_se1_db"][i]), float(g["CMRR_se1_db_u"][i])
        fit = run.results["fit_small_signal"].attrs
        # why it ran, for a reader of the archive: the plan's decision, from the configs archived with the run
        again = decide_from_text(run.configs["procedure"], run.configs["board"], str(run.path), run.configs["bench"])
        archived = run.metadata["calibration"]
    assert archived["crosstalk"] and plan_lines[0] == f"diffbench run: plan: {archived['reason']}"
    assert archived["crosstalk_source"].endswith("sim-keysight.toml [sim] scope_crosstalk_db")
    assert again.crosstalk and again.crosstalk_db == archived["crosstalk_db"]
    assert [b.figure for b in again.biased] == [b["figure"] for b in archived["biased"]]
    truth = float(db(MixedModeGains.from_matrix(SimBoard.from_config(load_board(BOARD)).small_signal_s(1000.0))
                     .cmrr_se(1)))
    assert abs(measured - truth) < 3 * u, f"CMRR_se1 {measured:.3f} +- {u:.3f} dB, truth {truth:.3f} dB"
    assert u < 0.5  # and the uncertainty is the measurement's, not an inflated one
    assert float(fit["chi2_red"]) < 2 and str(fit["status"]) == "consistent"
    assert float(fit["stderr_scale"]) == 1.0
    assert "every fitted parameter within 3 u of the board config" in text and "FIT FAILED" not in text
