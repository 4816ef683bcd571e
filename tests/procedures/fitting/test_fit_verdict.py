"""A fit whose chi-square is far above its degrees of freedom is a failure of the model or the measurement,
and every reader says so (procedures.fitting.core, P_REJECT = 1e-3 on the chi-square's survival
probability, Numerical Recipes section 15.1): the fit's status, the terminal summary, the archive, the report.

Wrong model: data from one simulated board fitted against another board's config. The data are the
simulated board's own small-signal S (SimBoard.small_signal_s) with Gaussian noise of a stated covariance,
so the right board's fit is a control that must come out consistent. End to end: the simulated bench
carries the active load while the run is fitted against the source text's config (``--sim-board``).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import chi2 as chi2_dist

from fits_truth import FREQ_BODY
from instruments.board_config import load_board
from instruments.sim.board import SimBoard
from procedures.archive.reader import open_run
from procedures.cli.fit import format_parameters
from procedures.cli.main import main
from procedures.fitting.core import P_REJECT, chi2_p_value
from procedures.fitting.small_signal import fit_small_signal

ROOT = Path(__file__).resolve().parents[3]
BOARDS = ROOT / "configs" / "boards"
BENCH = ROOT / "configs" / "benches" / "sim-keysight.toml"
F = np.geomspace(1e3, 1e6, 7)


def _record(board: str, rel_u: float = 1e-3, seed: int = 3) -> dict[str, np.ndarray]:
    """The simulated board's S at F, with independent Gaussian noise of ``rel_u`` |S| per quadrature."""
    S = SimBoard.from_config(load_board(BOARDS / f"{board}.toml")).small_signal_s(F)
    u = rel_u * np.abs(S)
    rng = np.random.default_rng(seed)
    noisy = S + u * (rng.standard_normal(S.shape) + 1j * rng.standard_normal(S.shape))
    cov = np.zeros((len(F), 8, 8))
    flat = u.reshape(len(F), 4)
    for k in range(4):
        cov[:, 2 * k, 2 * k] = cov[:, 2 * k + 1, 2 * k + 1] = flat[:, k] ** 2
    return {"frequency_hz": F, "S": noisy, "S_cov": cov}


def test_p_value_is_the_chi_square_survival_probability() -> None:
    for chi2, dof in ((3.0, 2), (148.2, 99), (1500.0 * 99, 99)):
        assert chi2_p_value(chi2, dof) == pytest.approx(chi2_dist.sf(chi2, dof), rel=1e-9, abs=1e-300)
    assert chi2_p_value(148.2, 99) == pytest.approx(1e-3, rel=0.05)  # chi2_red 1.50 at 99 dof is the edge


def test_data_of_another_board_fail_the_fit_and_the_summary_says_so() -> None:
    data = _record("bjt-degenerated")
    wrong = fit_small_signal(data, load_board(BOARDS / "bjt-source-text.toml"), {})
    assert wrong.p_value < P_REJECT and wrong.status == "inconsistent" and wrong.failed
    assert wrong.stderr_scale == 1.0
    lines = format_parameters(wrong)
    assert any("FIT FAILED" in ln and "chi2_red" in ln for ln in lines), lines
    assert not any("within 3 u" in ln for ln in lines) and not any("departs from" in ln for ln in lines)
    right = fit_small_signal(data, load_board(BOARDS / "bjt-degenerated.toml"), {})
    assert right.status == "consistent" and not right.failed, (right.chi2_red, right.dof)
    assert not any("FIT FAILED" in ln for ln in format_parameters(right))


def test_a_run_of_one_board_fitted_as_another_reports_the_failure_everywhere(tmp_path: Path) -> None:
    proc = tmp_path / "procedure.toml"
    proc.write_text('[procedure]\nname = "wrong"\nkind = "frequency_sweep"\n' + FREQ_BODY)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["run", str(proc), "--bench", str(BENCH), "--board", str(BOARDS / "bjt-source-text.toml"),
                       "--sim-board", str(BOARDS / "bjt-active-load.toml"), "-o", str(tmp_path / "w.h5"),
                       "--no-progress"])
    text = out.getvalue()
    assert status in (0, 3), text
    assert "FIT FAILED" in text and "every fitted parameter within 3 u" not in text, text
    with open_run(tmp_path / "w.h5") as run:
        attrs = run.results["fit_small_signal"].attrs
        # the minimiser may give up on a model this wrong ("not converged") or land far off ("inconsistent")
        assert str(attrs["status"]) in ("inconsistent", "not converged")
        assert float(attrs["chi2_red"]) > 100
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["report", str(tmp_path / "w.h5"), "-o", str(tmp_path / "report")]) == 0
    html = (tmp_path / "report" / "report.html").read_text()
    assert "FIT FAILED" in html and ("did not converge" in html or "does not describe the measurement" in html)
