"""A report an analog engineer reads at a glance, checked on one short simulated run of the demo's board and
procedure (``configs/procedures/characterisation.toml`` with five frequencies instead of nine, a decade apart
from 100 Hz; its DC sweep is the demo's own):

- the board's ``[pass_fail]`` limits are drawn where they apply: the CMRR_se floor up to its frequency, the THD
  ceiling at its drive, the offset band, the |Add| tolerance band, each at the value read here from the board's
  TOML with tomllib (not through diffbench's config reader);
- the Bode panels hold every curve they draw (the 1 MHz end of the fit is inside the axes);
- every verdict line carries its unit, in the terminal and on the page, the value and the limit in one unit;
- the summary shows every quantity a verdict is on and all four mixed-mode gains;
- the demo's DC sweep leaves enough points for its fit (no "fit skipped" anywhere);
- a calibration point's progress label says it is one, and no two points of the demo read the same.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from procedures.archive.reader import open_run
from procedures.cli.main import main

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[3]
BOARD = ROOT / "configs" / "boards" / "bjt-source-text.toml"
BENCH = ROOT / "configs" / "benches" / "sim-keysight.toml"
DEMO = ROOT / "configs" / "procedures" / "characterisation.toml"
LIMITS = tomllib.loads(BOARD.read_text())["pass_fail"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, Path]:
    """The demo's characterisation on the simulated bench, five frequencies: (exit status, stdout + stderr,
    archive)."""
    base = tmp_path_factory.mktemp("limits")
    text = DEMO.read_text()
    assert "points = 9" in text
    proc = base / "characterisation.toml"
    proc.write_text(text.replace("points = 9", "points = 5"))
    out = base / "run.h5"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        status = main(["run", str(proc), "--bench", str(BENCH), "--board", str(BOARD), "-o", str(out),
                       "--no-progress"])
    return status, buf.getvalue(), out


@pytest.fixture(scope="module")
def figures(run: tuple[int, str, Path]) -> dict[str, Any]:
    """The report's figure objects of the run (key -> matplotlib Figure), drawn but not saved."""
    from procedures.report.figure_files import draw_figures
    from procedures.report.predictions import add_predictions
    from procedures.report.reading import read_context

    r = open_run(run[2])
    try:
        ctx = read_context(r, "archived")
    finally:
        r.close()
    add_predictions(ctx)
    figs: dict[str, Any] = {}
    with np.errstate(all="ignore"):
        draw_figures(ctx, lambda key, fig, title, caption: figs.__setitem__(key, fig))
    return figs


def _limit_lines(ax: Any, key: str) -> list[Any]:
    return [ln for ln in ax.get_lines() if ln.get_gid() == f"limit:{key}"]


def _shaded(ax: Any, key: str) -> list[np.ndarray]:
    """The vertices of the fail regions shaded for ``key``."""
    return [p.vertices for c in ax.collections if c.get_gid() == f"limit:{key}" for p in c.get_paths()]


def _axis(fig: Any, ylabel: str) -> Any:
    return next(ax for ax in fig.axes if ax.get_ylabel() == ylabel)


def test_the_run_completes_and_passes(run: tuple[int, str, Path]) -> None:
    assert run[0] == 0, run[1]


@pytest.mark.parametrize("key,ylabel", [("bode_cmrr_se", "CMRR_se,k (dB)"), ("bode_overview", "CMRR (dB)")])
def test_cmrr_plots_draw_the_cmrr_se_floor_up_to_its_frequency(figures: dict[str, Any], key: str,
                                                                ylabel: str) -> None:
    ax = _axis(figures[key], ylabel)
    lines = _limit_lines(ax, "cmrr_se_min_db")
    assert lines, f"{key}: no CMRR_se limit drawn"
    for ln in lines:
        assert np.all(np.asarray(ln.get_ydata()) == LIMITS["cmrr_se_min_db"])
        assert max(ln.get_xdata()) == pytest.approx(LIMITS["cmrr_se_max_hz"])
        assert min(ln.get_xdata()) == pytest.approx(ax.get_xlim()[0])  # from the left edge
    shade = _shaded(ax, "cmrr_se_min_db")
    assert shade and all(v[:, 1].max() == pytest.approx(LIMITS["cmrr_se_min_db"]) for v in shade)  # below it
    assert ax.get_ylim()[0] < LIMITS["cmrr_se_min_db"] < ax.get_ylim()[1]


def test_thd_plot_draws_the_thd_ceiling_at_its_drive(figures: dict[str, Any]) -> None:
    ax = _axis(figures["gain_thd_vs_amplitude"], "THD of vod (%)")
    lines = _limit_lines(ax, "thd_max")
    assert len(lines) == 1
    y, x = np.asarray(lines[0].get_ydata()), np.asarray(lines[0].get_xdata())
    assert np.all(y == pytest.approx(100 * LIMITS["thd_max"]))  # in percent, as the panel
    assert x.min() < LIMITS["thd_drive_vpk"] < x.max() and x.max() / x.min() < 1.5  # at its drive, not the sweep
    shade = _shaded(ax, "thd_max")
    assert shade and all(v[:, 1].min() == pytest.approx(100 * LIMITS["thd_max"]) for v in shade)  # above it
    assert ax.get_ylim()[0] < 100 * LIMITS["thd_max"] < ax.get_ylim()[1]


def test_dc_plot_draws_the_offset_band(figures: dict[str, Any]) -> None:
    ax = _axis(figures["dc_transfer"], "vod = vo1 − vo2 (V)")
    xs = sorted({float(x) for ln in _limit_lines(ax, "offset_max_v") for x in ln.get_xdata()})
    assert xs[0] == pytest.approx(-LIMITS["offset_max_v"]) and xs[-1] == pytest.approx(LIMITS["offset_max_v"])


def test_add_plot_draws_the_tolerance_band_at_the_check_frequency(figures: dict[str, Any],
                                                                  run: tuple[int, str, Path]) -> None:
    ax = _axis(figures["bode_add"], "|Add| (dB)")
    levels = sorted({float(y) for ln in _limit_lines(ax, "add_rel_tol") for y in ln.get_ydata()})
    assert len(levels) == 2
    tol = LIMITS["add_rel_tol"]
    assert levels[1] - levels[0] == pytest.approx(20 * math.log10((1 + tol) / (1 - tol)), rel=1e-9)
    with open_run(run[2]) as r:  # the measured |Add| there passed: it lies inside the band
        g = r.tables["gains"]
        f = np.asarray(g["frequency_hz"])
        i = int(np.argmin(np.abs(np.log(f / LIMITS["add_check_hz"]))))
        measured = 20 * math.log10(abs(np.asarray(g["S"])[i][0, 0]))
    assert f[i] == pytest.approx(LIMITS["add_check_hz"])  # the sweep has the check frequency
    xs = [x for ln in _limit_lines(ax, "add_rel_tol") for x in ln.get_xdata()]
    assert min(xs) < f[i] < max(xs) and max(xs) / min(xs) < 1.5
    assert levels[0] < measured < levels[1]


@pytest.mark.parametrize("key,ylabel", [("bode_add", "|Add| (dB)"), ("bode_overview", "|gain| (dB)"),
                                        ("bode_cmrr_se", "CMRR_se,k (dB)")])
def test_bode_axes_hold_the_curves_they_draw(figures: dict[str, Any], key: str, ylabel: str) -> None:
    ax = _axis(figures[key], ylabel)
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    curves = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 20]  # model curves (dense)
    assert curves
    for ln in curves:
        x, y = np.asarray(ln.get_xdata(), float), np.asarray(ln.get_ydata(), float)
        ok = np.isfinite(y)
        assert np.all((x[ok] >= x0 * (1 - 1e-9)) & (x[ok] <= x1 * (1 + 1e-9))), f"{key}: {ln.get_label()}"
        assert np.all((y[ok] >= y0) & (y[ok] <= y1)), f"{key}: {ln.get_label()} leaves the axes"
    assert x1 >= 1e6  # the top of the sweep and the fit beyond it are in
    if key == "bode_overview":
        assert any(ln.get_linestyle() == "-" and len(ln.get_xdata()) > 20 for ln in ax.get_lines()), "no fit"


def _verdict_lines(stdout: str) -> dict[str, str]:
    part = stdout.split("limits (board config [pass_fail]):")[1]
    lines = [ln.strip() for ln in part.splitlines() if re.match(r"\s+(PASS|FAIL)\s", ln)]
    keys = {"|Add|": "add_rel_tol", "CMRR_se": "cmrr_se_min_db", "THD": "thd_max", "offset": "offset_max_v"}
    return {key: ln for ln in lines for word, key in keys.items() if word in ln.split(":")[0]}


def test_verdict_lines_carry_their_units_in_the_terminal(run: tuple[int, str, Path]) -> None:
    lines = _verdict_lines(run[1])
    assert set(lines) == {"add_rel_tol", "cmrr_se_min_db", "thd_max", "offset_max_v"}, run[1]
    with open_run(run[2]) as r:
        v = r.results["verdicts"].arrays
        measured = {str(k): float(m) for k, m in zip(v["limit"], v["measured"])}
    assert re.search(r"measured [+-]\d+\.\d+ ± \d+\.\d+ % \(within ±5 %\)$", lines["add_rel_tol"]), lines
    assert re.search(r"measured \d+\.\d+ ± \d+\.\d+ dB \(at least 57 dB\)$", lines["cmrr_se_min_db"]), lines
    assert lines["thd_max"].endswith(f"measured {100 * measured['thd_max']:.4g} % (at most 1 %)"), lines
    assert lines["offset_max_v"].endswith(f"measured {1e3 * measured['offset_max_v']:.4g} mV (at most 5 mV)"), lines


def test_verdict_rows_carry_their_units_on_the_page(run: tuple[int, str, Path], tmp_path: Path) -> None:
    from procedures.report.report import write_report

    html = write_report(run[2], tmp_path / "report", fit="archived").html.read_text(encoding="utf-8")
    with open_run(run[2]) as r:
        v = r.results["verdicts"].arrays
        measured = {str(k): float(m) for k, m in zip(v["limit"], v["measured"])}
    rows = {m.group(1): m.group(0) for m in re.finditer(r"<tr class=\"pass\"><td>(\w+)</td>.*?</tr>", html)}
    assert set(rows) == set(measured)
    assert f"<td>{1e3 * measured['offset_max_v']:.4g} mV</td><td>at most 5 mV</td>" in rows["offset_max_v"]
    assert f"<td>{100 * measured['thd_max']:.4g} %</td><td>at most 1 %</td>" in rows["thd_max"]
    assert re.search(r"<td>\d+\.\d+ ± \d+\.\d+ dB</td><td>at least 57 dB</td>", rows["cmrr_se_min_db"])
    assert re.search(r"<td>[+-]\d+\.\d+ ± \d+\.\d+ %</td><td>within ±5 %</td>", rows["add_rel_tol"])


def test_summary_shows_what_each_verdict_is_on_and_all_four_gains(run: tuple[int, str, Path]) -> None:
    out = run[1]
    heads = [ln.split() for ln in out.splitlines() if ln.strip().startswith("f (Hz)")]
    words = {w for h in heads for w in h}
    assert {"Add", "Acc", "Acd", "Adc", "CMRR_se1", "CMRR_se2", "CMRR_diff"} <= words, out
    k = re.search(r"CMRR_se(\d) \(single-ended\).*lowest at ([\d.e+]+) Hz\): measured ([\d.]+) ±",
                  _verdict_lines(out)["cmrr_se_min_db"])
    assert k, out
    lines = out.splitlines()
    h = next(i for i, ln in enumerate(lines) if "CMRR_se1 dB" in ln and ln.strip().startswith("f (Hz)"))
    name = f"CMRR_se{k.group(1)} dB"
    end = lines[h].index(name) + len(name)  # right-aligned columns: the cell ends where its heading does
    row = next(ln for ln in lines[h + 1:] if ln.split() and ln.split()[0] == k.group(2))
    cell = row[end - 17:end]
    assert float(cell.split(" ± ")[0]) == pytest.approx(float(k.group(3)), abs=0.006), (cell, row)


def test_the_demo_dc_sweep_fits(run: tuple[int, str, Path]) -> None:
    assert "fit skipped" not in run[1], run[1]
    with open_run(run[2]) as r:
        fit = r.results["fit_dc_transfer"].arrays
        n_dc = len(r.tables["dc"]["vid_v"])
    used = int(np.count_nonzero(fit["used"]))
    # the demo's 21 steps stay in the stage's modelled region, but for the outermost ones at most
    assert n_dc == tomllib.loads(DEMO.read_text())["dc"]["points"] and used >= n_dc - 4, (used, n_dc)


def test_calibration_points_are_labelled_and_no_two_demo_points_read_the_same() -> None:
    from instruments.bench_config import load_bench
    from instruments.board_config import load_board
    from procedures.config.procedure import load_procedure
    from procedures.measure.plan import plan

    points = plan(load_procedure(DEMO), load_board(BOARD), load_bench(BENCH))
    labels = [p.label for p in points]
    assert len(set(labels)) == len(labels), sorted(x for x in labels if labels.count(x) > 1)
    calibrations = [p for p in points if p.role in ("link", "xtalk")]
    assert calibrations and all(p.label.startswith("calibration (") for p in calibrations)
    assert not any(p.label.startswith("calibration") for p in points if p.role not in ("link", "xtalk"))


def test_cm_range_cmrr_plot_draws_the_floor_only_where_it_holds() -> None:
    """A common-mode range at 1 kHz gets the CMRR_se floor across its levels; one above cmrr_se_max_hz none."""
    from instruments.board_config import load_board
    from procedures.report.limit_marks import level_marks
    from procedures.report.plots.cmrr_levels import cmrr_levels

    board = load_board(BOARD)
    assert level_marks(board, 10 * LIMITS["cmrr_se_max_hz"]) == []
    levels = np.array([1.6, 2.0, 2.4])
    t = {"bias_v": levels, "CMRR_se1_db": np.array([40.0, 66.0, 66.0]), "CMRR_se1_db_u": np.full(3, 0.01)}
    ax = cmrr_levels(t, title="t", marks=level_marks(board, 1000.0)).axes[0]
    lines = _limit_lines(ax, "cmrr_se_min_db")
    assert lines and all(np.all(np.asarray(ln.get_ydata()) == LIMITS["cmrr_se_min_db"]) for ln in lines)
    x = np.concatenate([np.asarray(ln.get_xdata(), float) for ln in lines])
    assert x.min() <= levels.min() and x.max() >= levels.max()  # across every level
    assert ax.get_ylim()[0] < 40.0 and ax.get_ylim()[1] > 66.0
