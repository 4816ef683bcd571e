"""The report of a netlist board that ngspice predicts (configs/boards/2n3904-pair.toml): its Bode plots carry the
ngspice prediction, the same numbers ``diffbench predict`` gives, and without ngspice the page says in one line
that the prediction needs it.

The archive is built here with the frequency sweep's own table declarations; its "measured" gains are the
simulated board's truth (``SimBoard.small_signal_s``, the project's engine, which shares no code with ngspice),
so the overlay is checked twice: against ngspice's prediction of the board file, and against that independent
solve (the two agree to ~2e-5 dB on this board, tests/procedures/predict/test_boards_vs_ngspice.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from instruments.board_config import load_board
from instruments.sim.board import SimBoard
from models import MixedModeGains, db
from procedures.analysis.results import result_tables
from procedures.archive.reader import open_run
from procedures.archive.writer import RunArchive, RunDeclaration
from procedures.report.context import Context

BOARD_PATH = Path(__file__).resolve().parents[3] / "configs" / "boards" / "2n3904-pair.toml"
FREQ = np.geomspace(100.0, 1e6, 7)
GAINS = ("Add", "Acc", "Acd", "Adc")

needs_ngspice = pytest.mark.skipif(shutil.which("ngspice") is None,
                                   reason="ngspice is not installed (Debian: apt-get install ngspice)")


def _row(f: float, S: np.ndarray) -> dict[str, Any]:
    """One row of the ``gains`` table for the mixed-mode matrix ``S`` at ``f`` (Hz), uncertainties 1e-4 relative."""
    u = np.abs(S) * 1e-4
    g = MixedModeGains.from_matrix(S)
    row: dict[str, Any] = {"frequency_hz": f, "S": S, "S_u": u * (1 + 1j), "S_ideal": S,
                           "S_cov": np.diag(np.repeat(u.ravel() ** 2, 2)), "Ad_se1": g.ad_se(1),
                           "Acm_se1": g.acm_se(1), "Ad_se2": g.ad_se(2), "Acm_se2": g.acm_se(2)}
    for name, ratio in (("CMRR_se1", g.cmrr_se(1)), ("CMRR_se2", g.cmrr_se(2)), ("CMRR_diff", g.cmrr_diff),
                        ("Add_over_Acc", abs(g.add / g.acc))):
        row[f"{name}_db"] = float(db(ratio))
        row[f"{name}_db_u"] = 0.001
        row[f"{name}_db_kind"] = "value"
        row[f"{name}_ideal_db"] = float(db(ratio))
    return row


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete frequency-sweep archive of the 2N3904 board with its board config and netlist archived."""
    board = load_board(BOARD_PATH)
    assert board.netlist is not None
    path = tmp_path_factory.mktemp("ngspice") / "run.h5"
    configs = {"procedure": '[procedure]\nname = "fs"\nkind = "frequency_sweep"\n', "bench": '[bench]\nname = "b"\n',
               "board": BOARD_PATH.read_text(), "netlist": board.netlist.text}
    a = RunArchive.create(path, RunDeclaration(metadata={"procedure": "fs", "kind": "frequency_sweep",
                                                         "board": board.name, "bench": "b"},
                                               configs=configs, instruments={},
                                               tables=result_tables("frequency_sweep")))
    for f, S in zip(FREQ, SimBoard(board).small_signal_s(FREQ)):
        a.append("gains", _row(float(f), S))
    a.commit()
    a.finish("complete", "")
    return path


def _context(path: Path) -> Context:
    """The report's context of ``path`` with its predictions, as ``write_report`` builds it."""
    from procedures.report.predictions import add_predictions
    from procedures.report.reading import read_context

    run = open_run(path)
    try:
        ctx = read_context(run, "none")
    finally:
        run.close()
    add_predictions(ctx)
    return ctx


@needs_ngspice
def test_overlay_is_the_ngspice_prediction(archive: Path) -> None:
    from procedures.predict.netlist_prediction import predict_netlist

    ctx = _context(archive)
    assert not [w for w in ctx.warnings if "prediction" in w], ctx.warnings
    pf = ctx.pred_freq
    assert pf is not None and pf.source == "ngspice"
    ref = predict_netlist(load_board(BOARD_PATH), FREQ)  # the board file, not the archive's copy
    for name, z in zip(GAINS, (ref.gains.add, ref.gains.acc, ref.gains.acd, ref.gains.adc)):
        np.testing.assert_allclose(pf.at_measured[name], z, rtol=1e-6, err_msg=name)
    for name, z in (("CMRR_se1", ref.gains.cmrr_se(1)), ("CMRR_se2", ref.gains.cmrr_se(2)),
                    ("CMRR_diff", ref.gains.cmrr_diff)):
        np.testing.assert_allclose(db(pf.at_measured[name]), db(z), atol=1e-6, err_msg=name)
    assert ctx.pred_summary["source"] == "ngspice"
    assert complex(ctx.pred_summary["Add_dc"]) == pytest.approx(complex(ref.dc_gains.add), rel=1e-6)


@needs_ngspice
def test_overlay_agrees_with_the_simulators_truth(archive: Path) -> None:
    """The "measured" gains are the engine's truth: the overlay's residuals are ngspice against the engine."""
    ctx = _context(archive)
    assert ctx.pred_freq is not None and ctx.freq is not None
    truth = MixedModeGains.from_matrix(np.moveaxis(ctx.freq.S, 0, -1))
    for name, z in zip(GAINS[:2], (truth.add, truth.acc)):
        np.testing.assert_allclose(db(ctx.pred_freq.at_measured[name]), db(z), atol=1e-3, err_msg=name)
        dphi = np.degrees(np.angle(ctx.pred_freq.at_measured[name] / z))
        np.testing.assert_allclose(dphi, 0.0, atol=1e-3, err_msg=name)


@needs_ngspice
def test_bode_figures_draw_the_ngspice_curve(archive: Path, tmp_path: Path) -> None:
    from procedures.report.figure_data import freq_series
    from procedures.report.report import write_report

    ctx = _context(archive)
    assert ctx.pred_freq is not None
    gains, cmrrs = freq_series(ctx)
    for name, series in (*gains.items(), *cmrrs.items()):
        curves = [m for m in series.models if m.kind == "prediction"]
        assert len(curves) == 1 and "ngspice" in curves[0].label, name
        np.testing.assert_array_equal(curves[0].y, ctx.pred_freq.curves[name])
    files = write_report(archive, tmp_path / "out", fit="none")
    assert not [w for w in files.warnings if "prediction" in w], files.warnings
    assert {f.key for f in files.figures} >= {"bode_add", "bode_acc", "bode_cmrr_se"}
    page = files.html.read_text(encoding="utf-8")
    assert "predicted (low frequency, ngspice)" in page
    assert "2n3904-pair.cir" in page


def test_without_ngspice_the_page_says_so_in_one_line(archive: Path, monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no ngspice on PATH
    ctx = _context(archive)
    assert ctx.pred_freq is None
    notes = [w for w in ctx.warnings if "ngspice" in w]
    assert len(notes) == 1 and "\n" not in notes[0], ctx.warnings
    assert notes[0].startswith("no prediction: ") and "needs ngspice, which is not installed" in notes[0]
