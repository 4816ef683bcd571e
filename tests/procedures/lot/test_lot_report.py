"""The lot report: a small drawn lot measured over two simulated benches, its report's files, the page's numbers
against :func:`procedures.lot.lot_figures.lot_figures`, the Pareto counts against the index counted here, the
bench check on synthetic data, and on a synthetic lot the failing units' suspects, the outliers and a refitted
unit."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from test_lot_run import BOARD, PROCEDURE, lot_text

from instruments.board_config import load_board
from procedures.analysis.verdicts import Verdict
from procedures.cli.main import main
from procedures.fitting.departures import Suspect
from procedures.lot.index import LotIndex, LotRow, current_rows, read_index
from procedures.lot.lot_figures import lot_figures
from procedures.lot.lot_index_writer import figure_limits
from procedures.lot.lot_report import (
    HTML_NAME,
    bench_flags,
    failing_units,
    failure_counts,
    suspect_counts,
    write_lot_report,
)
from procedures.lot.statistics import outliers
from procedures.lot.unit_summary import FIGURES, Figure, UnitSummary

LOT = lot_text().replace('name = "quick-lot"', 'name = "report-lot"')


@pytest.fixture(scope="module")
def lot(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """A 4-unit drawn lot measured over two simulated benches, and its report's files."""
    tmp = tmp_path_factory.mktemp("lot")
    (tmp / "proc.toml").write_text(PROCEDURE, encoding="utf-8")
    (tmp / "lot.toml").write_text(LOT, encoding="utf-8")
    out = tmp / "out"
    assert main(["lot", "run", str(tmp / "lot.toml"), "-o", str(out)]) in (0, 3)
    return out, write_lot_report(out, tmp / "report", load_board(BOARD))


def _cells(page: str, attr: str, key: str) -> list[str]:
    row = re.search(rf'<tr {attr}="{re.escape(key)}">(.*?)</tr>', page)
    assert row is not None, key
    return [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td>(.*?)</td>", row.group(1))]


def test_the_report_writes_its_figures_and_page(lot: tuple[Path, list[Path]]) -> None:
    out, files = lot
    assert files[-1].name == HTML_NAME and all(f.is_file() and f.stat().st_size > 0 for f in files)
    names = {f.name for f in files}
    assert {"hist_Add.png", "run_Add.png", "bench_Add.png", "bode_overlay.png"} <= names
    assert {"hist_CMRR_se_db.png", "run_CMRR_se_db.png", "bench_CMRR_se_db.png"} <= names
    page = files[-1].read_text(encoding="utf-8")
    for f in files[:-1]:
        assert f'src="{f.name}"' in page
    # a frequency sweep measures no THD: that figure is skipped, and the page says so
    assert "hist_THD.png" not in names and "THD: no unit has a value" in page


def test_the_page_prints_lot_figures_numbers(lot: tuple[Path, list[Path]]) -> None:
    out, files = lot
    page = files[-1].read_text(encoding="utf-8")
    limits = {k: v for k, v in figure_limits(load_board(BOARD)).items() if k in FIGURES}
    stats = lot_figures(out / "index.h5", limits)
    checked = 0
    for name, fs in stats.figures.items():
        cells = _cells(page, "data-figure", name)
        c = fs.capability
        assert int(cells[2]) == c.n
        if c.n:
            assert cells[3] == f"{c.mean:.6g}" and float(cells[3]) == pytest.approx(c.mean, rel=1e-5)
            checked += 1
        if math.isfinite(c.cpk):
            assert cells[6] == f"{c.cpk:.3g}" and float(cells[6]) == pytest.approx(c.cpk, rel=5e-3)
    assert checked >= 2 and math.isfinite(stats.figures["Add"].capability.cpk)
    for limit, y in stats.yields.items():
        assert _cells(page, "data-limit", limit)[1] == f"{100 * y:.1f} %"
    assert _cells(page, "data-limit", "overall")[1] == f"{100 * stats.overall_yield:.1f} %"


def test_the_pareto_counts_the_index_failed_verdicts(lot: tuple[Path, list[Path]]) -> None:
    out, files = lot
    index = read_index(out / "index.h5")
    last: dict[str, int] = {}
    for i, serial in enumerate(index["serial"]):
        last[str(serial)] = i
    expected: dict[str, int] = {}
    for column in index:
        if column.startswith("verdict_"):
            expected[column[8:]] = sum(1 for i in last.values()
                                       if index["status"][i] == "done" and index[column][i] == 0)
    for status in ("failed", "bench-failed"):
        expected[f"not measured ({status})"] = sum(1 for i in last.values() if index["status"][i] == status)
    counts = failure_counts(index)
    assert counts == expected
    assert list(counts.values()) == sorted(counts.values(), reverse=True)
    assert (files[0].parent / "pareto.png").exists() == (sum(counts.values()) > 0)
    assert len(failing_units(index)) == sum(1 for i in last.values() if index["status"][i] != "done"
                                            or any(index[c][i] == 0 for c in index if c.startswith("verdict_")))


def test_failure_counts_and_failing_units_on_a_synthetic_index() -> None:
    cols = {"serial": np.array(["A", "B", "C", "D", "D", "E"], dtype=object),
            "bench": np.array(["x", "y", "x", "y", "x", "y"], dtype=object),
            "status": np.array(["done", "done", "done", "bench-failed", "failed", "done"], dtype=object),
            "reason": np.array(["", "", "", "lost", "boom", ""], dtype=object),
            "verdict_thd_max": np.array([0, 1, 0, -1, -1, -1]),
            "verdict_add_rel_tol": np.array([1, 0, 0, -1, -1, 1])}
    assert current_rows(cols) == [0, 1, 2, 4, 5]
    counts = failure_counts(cols)
    assert counts == {"thd_max": 2, "add_rel_tol": 2, "not measured (failed)": 1, "not measured (bench-failed)": 0}
    assert failing_units(cols) == [("A", "x", "thd_max"), ("B", "y", "add_rel_tol"),
                                   ("C", "x", "thd_max, add_rel_tol"), ("D", "x", "failed: boom")]


@pytest.mark.parametrize("offset_se", [0.0, 10.0])
def test_a_bench_offset_by_10_standard_errors_is_flagged(offset_se: float) -> None:
    rng = np.random.default_rng(1)
    n, sigma = 20, 0.5
    values = rng.normal(75.0, sigma, 3 * n)
    benches = ["a"] * n + ["b"] * n + ["c"] * n
    # the combined standard error of one bench against the two others pooled
    se = math.hypot(sigma / math.sqrt(n), sigma / math.sqrt(2 * n))
    values[n:2 * n] += offset_se * se
    flags = {f.bench: f for f in bench_flags("Add", values, benches)}
    assert set(flags) == {"a", "b", "c"}
    if offset_se:
        assert flags["b"].flagged and flags["b"].z > 3
        assert not flags["a"].flagged and not flags["c"].flagged  # judged without b in their pool
    else:
        assert not any(f.flagged for f in flags.values())
    b = flags["b"]  # judged first, against a and c pooled
    others = np.concatenate([values[:n], values[2 * n:]])
    assert b.mean == pytest.approx(np.mean(values[n:2 * n]))
    assert b.others_mean == pytest.approx(np.mean(others))
    assert b.z == pytest.approx((b.mean - b.others_mean) / math.hypot(np.std(values[n:2 * n], ddof=1) / math.sqrt(n),
                                                                       np.std(others, ddof=1) / math.sqrt(2 * n)))


def test_a_bench_with_one_value_is_not_judged() -> None:
    flags = bench_flags("Add", np.array([1.0, 1.1, 0.9, 50.0]), ["a", "a", "a", "b"])
    assert [(f.bench, f.flagged) for f in flags] == [("a", False), ("b", False)]
    assert all(math.isnan(f.z) for f in flags)


def test_two_benches_that_differ_are_both_flagged() -> None:
    rng = np.random.default_rng(2)
    values = np.concatenate([rng.normal(1.0, 0.01, 10), rng.normal(1.1, 0.01, 10)])
    flags = bench_flags("Add", values, ["a"] * 10 + ["b"] * 10)
    assert [f.flagged for f in flags] == [True, True] and flags[0].z == pytest.approx(-flags[1].z)


def test_the_pareto_figure_draws_counts_largest_first(tmp_path: Path) -> None:
    from procedures.lot.lot_plots import pareto
    from procedures.report.plots.style import save

    fig = pareto({"thd_max": 3, "add_rel_tol": 1, "not measured (failed)": 1}, "Pareto", "synthetic")
    bars = [p.get_height() for p in fig.axes[0].patches]
    assert bars == [3, 1, 1]
    assert list(fig.axes[1].lines[0].get_ydata()) == pytest.approx([60.0, 80.0, 100.0])
    assert all(ax.get_ylabel() for ax in fig.axes) and fig.axes[0].get_xlabel()
    assert save(fig, tmp_path / "pareto.png").stat().st_size > 0


# ---- diagnosis, outliers and refitted units on a synthetic lot ----------------------------------------------

SUSPECT_RL = Suspect("small_signal.R_L", 42400.0, 80.0, 40000.0, "Ohm", 0.06, 30.0)
SUSPECT_REE = Suspect("small_signal.R_EE", 5e5, 160.0, 1e6, "Ohm", -0.5, -3125.0)


def _unit(serial: str, add: float, failed: tuple[str, ...] = (), suspect: Suspect | None = None) -> UnitSummary:
    """A unit's summary as summarise_run gives it: |Add| = ``add``, CMRR_se 60 dB, the verdicts on |Add| and
    CMRR_se failed as ``failed`` says, and ``suspect``."""
    figures = {name: Figure(math.nan, math.nan, unit) for name, (unit, _) in FIGURES.items()}
    figures["Add"] = Figure(add, 0.01, "1")
    figures["CMRR_se_db"] = Figure(60.0, 0.1, "dB")
    verdicts = tuple(Verdict(limit, limit, 0.0, math.nan, 0.0, "1", limit not in failed)
                     for limit in ("add_rel_tol", "cmrr_se_min_db"))
    return UnitSummary(path=Path(f"units/{serial}.h5"), run_status="complete", reason="", run_id=serial,
                       start_time="2027-01-15T08:00:00.000000Z", end_time="2027-01-15T08:00:30.000000Z",
                       board="bjt-source-text", bench="b1", figures=figures, verdicts=verdicts, suspect=suspect)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """Eight units: S03 fails CMRR_se with no suspect, S06 fails |Add| (suspect R_L) and is far from the lot on
    |Add|, S07 passed and was then refitted into a copy that fails |Add| (suspect R_EE), S08 could not be
    measured. No unit archive exists: the Bode overlay is skipped."""
    lot_dir = tmp_path_factory.mktemp("synthetic")
    adds = {"S01": 75.0, "S02": 75.2, "S03": 74.8, "S04": 75.1, "S05": 74.9, "S06": 79.5, "S07": 75.05}
    with LotIndex.create(lot_dir / "index.h5", verdict_names=("add_rel_tol", "cmrr_se_min_db")) as ix:
        for k, (serial, add) in enumerate(adds.items()):
            failed = {"S03": ("cmrr_se_min_db",), "S06": ("add_rel_tol",)}.get(serial, ())
            ix.append(LotRow(serial, "done", bench=f"b{k % 2 + 1}", start_s=1.8e9 + 60 * k,
                             summary=_unit(serial, add, failed, SUSPECT_RL if serial == "S06" else None)))
        ix.append(LotRow("S08", "failed", bench="b1", reason="unit shorted"))
        ix.append(LotRow("S07", "refitted", bench="b2", archive="refit/S07.h5", start_s=1.8e9 + 360,
                         summary=_unit("S07", 75.05, ("add_rel_tol",), SUSPECT_REE)))
    return lot_dir, write_lot_report(lot_dir, lot_dir / "report", load_board(BOARD))


def test_the_report_names_each_failing_unit_s_suspect(synthetic: tuple[Path, list[Path]]) -> None:
    lot_dir, files = synthetic
    page = files[-1].read_text(encoding="utf-8")
    assert _cells(page, "data-failing", "S06")[2:] == ["add_rel_tol", "small_signal.R_L", "+6.0", "+30.0"]
    assert _cells(page, "data-failing", "S07")[2:] == ["add_rel_tol", "small_signal.R_EE", "-50.0", "-3125.0"]
    assert _cells(page, "data-failing", "S03")[2:] == ["cmrr_se_min_db", "no suspect", "—", "—"]
    assert _cells(page, "data-failing", "S08")[2:] == ["failed: unit shorted", "—", "—", "—"]
    assert suspect_counts(read_index(lot_dir / "index.h5")) == {"no suspect": 1, "small_signal.R_L": 1,
                                                                 "small_signal.R_EE": 1}
    assert (files[0].parent / "pareto_suspects.png").stat().st_size > 0 and 'src="pareto_suspects.png"' in page


def test_the_report_counts_a_refitted_unit_once_and_lists_the_outlier(synthetic: tuple[Path, list[Path]]) -> None:
    _, files = synthetic
    page = files[-1].read_text(encoding="utf-8")
    assert _cells(page, "data-figure", "Add")[2] == "7"  # S01..S07, S07 by its refitted row
    # |Add| 74.8 .. 75.2 and 79.5: median 75.05, MAD 0.15, band 75.05 -+ 0.667; only S06 is outside
    cells = _cells(page, "data-outlier", "Add:S06")
    assert cells[:3] == ["Add", "S06", "79.5"] and float(cells[3]) == pytest.approx(75.05)
    assert cells[4] == f"{75.05 - 3 * 1.4826 * 0.15:.6g}"  # the band's lower edge, 74.3828
    assert page.count("data-outlier=") == 1
    assert _cells(page, "data-limit", "overall")[1] == f"{100 * 4 / 7:.1f} %"
    assert failure_counts(read_index(files[0].parent.parent / "index.h5"))["add_rel_tol"] == 2


def test_the_run_chart_rings_and_names_the_outliers(tmp_path: Path) -> None:
    from procedures.lot.lot_plots import run_chart

    values = np.array([10.0, 11.0, 9.0, 10.5, 9.5, 30.0])
    flags = outliers(values)
    fig = run_chart(np.arange(1, 7), values, ["a", "b"] * 3, (None, None), "x (1)", "run", "sub",
                    flags.flagged, (flags.lower, flags.upper), [f"S{k}" for k in range(1, 7)])
    ax = fig.axes[0]
    (ring,) = [ln for ln in ax.lines if ln.get_label() == "outlier"]
    assert list(ring.get_xdata()) == [6] and list(ring.get_ydata()) == [30.0]
    assert [t.get_text() for t in ax.texts] == ["S6"]
    band = sorted(float(ln.get_ydata()[0]) for ln in ax.lines if ln.get_linestyle() == "-.")
    assert band == [pytest.approx(flags.lower), pytest.approx(flags.upper)]
