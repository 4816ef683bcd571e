"""Fault diagnosis of a lot's units: the suspect component of each unit, first on hand-made fits (the selection
rule of :func:`procedures.fitting.departures.suspect`), then on runs of deliberately faulty boards on the
simulated bench, where the truth is the change made to the board and nothing computed by the code under test.

The faulty boards are the healthy configs/boards/bjt-source-text.toml with one component changed by a known
amount (the TOML text edited here): the load resistors both 8 % high (R_L x 1.08: |Add| rises ~8 %, beyond the
board's 5 % limit) and the tail source's output resistance halved (R_EE x 0.5). The procedure is the one of the
single-run fault tests (tests/fits_truth.py FREQ_BODY: 1 kHz, 50 kHz and 500 kHz, which pins every
small-signal parameter); each run is judged and fitted against the healthy board's config.
"""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from fits_truth import FREQ_BODY
from procedures.fitting.core import FitResult
from procedures.fitting.departures import departures, suspect
from procedures.lot.config import load_lot
from procedures.lot.index import LotIndex, LotRow, read_index
from procedures.lot.lot_figures import failing_diagnoses
from procedures.lot.lot_index_writer import LotIndexWriter
from procedures.lot.runner import UnitOutcome
from procedures.lot.unit_summary import UnitSummary, summarise_run
from procedures.lot.units import PlannedUnit
from procedures.run.runner import run_procedure

ROOT = Path(__file__).resolve().parents[3]
BOARD = ROOT / "configs" / "boards" / "bjt-source-text.toml"
BENCH = ROOT / "configs" / "benches" / "sim-keysight.toml"
PROCEDURE = '[procedure]\nname = "diagnosis"\nkind = "frequency_sweep"\n' + FREQ_BODY


# ---- the selection rule on hand-made fits ----------------------------------------------------------------


def _fit(name: str, params: dict[str, tuple[float, float, float]], *, success: bool = True) -> FitResult:
    """A fit with ``params`` = {parameter: (fitted, stderr, nominal)}, consistent (p = 0.5) unless not ``success``."""
    n = len(params)
    values, stderr, nominal = (np.array([v[k] for v in params.values()], float) for k in range(3))
    empty: dict[str, np.ndarray] = {}
    return FitResult(name=name, model="hand-made", params=list(params), values=values, stderr=stderr,
                     correlation=np.eye(n), units=["Ohm"] * n, nominal=nominal, fixed={}, chi2_red=1.0, dof=10,
                     x_name="frequency_hz", x=np.zeros(0), measured=empty, measured_u=empty, fitted=empty,
                     predicted=empty, curve_x=np.zeros(0), curve_fitted=empty, curve_predicted=empty,
                     residuals=empty, success=success, p_value=0.5)


def test_the_suspect_is_the_largest_departure_over_every_fit() -> None:
    a = _fit("small_signal", {"R_L": (41e3, 100.0, 40e3),     # z = +10, rel +2.5 %
                              "C_L": (9.5, 0.1, 10.0)})       # z = -5
    b = _fit("large_signal", {"i_tail": (80.0, 1.0, 100.0),   # z = -20, rel -20 %: the largest |z|
                              "vt": (26.0, 0.0, 25.0)})       # no uncertainty: not judged
    s = suspect([a, b])
    assert s is not None
    assert (s.name, s.z, s.fitted, s.nominal, s.u, s.unit) == ("large_signal.i_tail", -20.0, 80.0, 100.0, 1.0, "Ohm")
    assert s.rel == pytest.approx(-0.2, rel=1e-12)
    s = suspect([a])
    assert s is not None and s.name == "small_signal.R_L" and s.z == 10.0 and s.rel == pytest.approx(0.025)
    assert departures(a) == [("R_L", 10.0), ("C_L", -5.0)]  # furthest first
    assert departures(b) == [("i_tail", -20.0)]


def test_no_suspect_within_3_u_and_a_failed_fit_is_not_read() -> None:
    within = _fit("small_signal", {"R_L": (40.3e3, 100.0, 40e3), "C_L": (7.0, 1.0, 10.0)})  # z = +3, -3 exactly
    assert departures(within) == [] and suspect([within]) is None
    failed = _fit("large_signal", {"i_tail": (50.0, 1.0, 100.0)}, success=False)  # z = -50, but not converged
    assert failed.failed and suspect([within, failed]) is None
    assert suspect([]) is None
    # a tie keeps the one met first; a zero nominal (a mismatch) has a z but no relative departure
    tie = [_fit("f1", {"d_C": (4.0, 1.0, 0.0)}), _fit("f2", {"d_R": (-9.0, 1.0, -5.0)})]
    s = suspect(tie)
    assert s is not None and s.name == "f1.d_C" and s.z == pytest.approx(4.0) and math.isnan(s.rel)


# ---- against deliberately faulty boards on the simulated bench -------------------------------------------


def _faulty(tmp: Path, name: str, section: str, factor: float) -> Path:
    """The healthy board's TOML with ``[section] r_ohm`` multiplied by ``factor`` (the known change)."""
    text = BOARD.read_text(encoding="utf-8")
    head, sep, tail = text.partition(f"[{section}]")
    old = re.search(r"^r_ohm = ([0-9.e+-]+)", tail, flags=re.M)
    assert old is not None
    value = float(old.group(1)) * factor
    tail = tail[:old.start(1)] + repr(value) + tail[old.end(1):]
    path = tmp / f"{name}.toml"
    path.write_text((head + sep + tail).replace('name = "bjt-source-text"', f'name = "{name}"'), encoding="utf-8")
    return path


# name -> (section, factor, component expected to be named)
FAULTS = {"healthy": None, "rl-up-8pct": ("load", 1.08, "small_signal.R_L"),
          "ree-half": ("tail", 0.5, "small_signal.R_EE")}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("diagnosis")
    proc = tmp / "procedure.toml"
    proc.write_text(PROCEDURE, encoding="utf-8")
    out = {}
    for name, fault in FAULTS.items():
        sim_board = None if fault is None else _faulty(tmp, name, fault[0], fault[1])
        outcome = run_procedure(proc, BENCH, BOARD, tmp / f"{name}.h5", sim_board=sim_board)
        assert outcome.status == "complete"
        out[name] = outcome.path
    return out


@pytest.mark.parametrize("name", [n for n, f in FAULTS.items() if f is not None])
def test_summarise_run_names_the_changed_component_and_its_change(runs: dict[str, Path], name: str) -> None:
    _, factor, component = FAULTS[name]  # type: ignore[misc]
    s = summarise_run(runs[name]).suspect
    assert s is not None, name
    u_rel = s.u / s.nominal  # the fit's standard uncertainty of fitted/nominal - 1
    print(f"\n{name}: suspect {s.name}, suspect_rel {s.rel:+.5f} ± {u_rel:.5f} (known change {factor - 1:+.5f}), "
          f"z {s.z:+.1f}")
    assert s.name == component
    assert abs(s.z) > 50
    assert abs(s.rel - (factor - 1)) <= 3 * u_rel, (s.rel, factor - 1, u_rel)


def test_a_healthy_board_has_no_suspect(runs: dict[str, Path]) -> None:
    assert summarise_run(runs["healthy"]).suspect is None


def _writer(tmp: Path) -> LotIndexWriter:
    """The index writer of a lot of three listed units of the healthy board, its folder ``tmp``."""
    (tmp / "proc.toml").write_text(PROCEDURE, encoding="utf-8")
    lot_file = tmp / "lot.toml"
    lot_file.write_text(f'[lot]\nname = "diag-lot"\nboard = "{BOARD.as_posix()}"\nprocedure = "proc.toml"\n'
                        f'serials = ["U1", "U2", "U3"]\n\n[benches]\nbench-a = "{BENCH.as_posix()}"\n',
                        encoding="utf-8")
    return LotIndexWriter(load_lot(lot_file), tmp, say=lambda _line: None)


def _record(writer: LotIndexWriter, serial: str, archive: Path) -> None:
    writer.record(PlannedUnit(serial), UnitOutcome(serial, "bench-a", "done", 1, math.nan, math.nan, str(archive)))


def test_the_index_and_the_lot_summary_name_each_failing_unit_s_suspect(runs: dict[str, Path], tmp_path: Path) -> None:
    """The lot's writer records the three runs as units of a lot; the index's suspect columns hold each unit's
    suspect, and the summary names the suspect of every failing unit with its departure."""
    summaries: dict[str, UnitSummary] = {}
    writer = _writer(tmp_path)
    try:
        for serial, name in zip(("U1", "U2", "U3"), FAULTS):
            summaries[serial] = summarise_run(runs[name])
            _record(writer, serial, runs[name])
        text = writer.summary()
    finally:
        writer.close()
    cols = read_index(tmp_path / "index.h5")
    for i, serial in enumerate(cols["serial"]):
        s = summaries[str(serial)].suspect
        assert cols["suspect"][i] == (s.name if s else "")
        if s is None:
            assert math.isnan(cols["suspect_rel"][i]) and math.isnan(cols["suspect_z"][i])
        else:
            assert (cols["suspect_rel"][i], cols["suspect_z"][i]) == (s.rel, s.z)
    failing = {u.serial: u for u in failing_diagnoses(cols)}
    assert "U1" not in failing and failing["U2"].failed == ("add_rel_tol",)  # R_L 8 % high: |Add| fails its 5 %
    for serial, unit in failing.items():
        s = summaries[serial].suspect
        assert s is not None and unit.suspect == s.name
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(f"unit {serial}:"))
        assert f"suspect {s.name} {100 * s.rel:+.1f} % ({s.z:+.0f} u)" in line, line
        assert ", ".join(unit.failed) in line
    print("\n" + text)


def test_an_index_made_before_the_suspect_columns_still_takes_rows(tmp_path: Path, runs: dict[str, Path]) -> None:
    """An index created without the suspect columns (older code) is appended to without them and read as having
    no suspects."""
    import procedures.lot.index as index_module

    path = tmp_path / "old.h5"
    base = dict(index_module._BASE_COLUMNS)
    try:
        for key in index_module.SUSPECT_COLUMNS:
            del index_module._BASE_COLUMNS[key]
        LotIndex.create(path, verdict_names=("add_rel_tol", "cmrr_se_min_db")).close()
    finally:
        index_module._BASE_COLUMNS.clear()
        index_module._BASE_COLUMNS.update(base)
    summary = summarise_run(runs["rl-up-8pct"])
    with LotIndex.open(path) as ix:
        ix.append(LotRow("U2", "done", summary=summary))
    cols = read_index(path)
    assert "suspect" not in cols
    (unit,) = failing_diagnoses(cols)
    assert unit.suspect == "" and unit.diagnosis() == "no fitted component departs by more than 3 u"


def test_a_refitted_unit_counts_as_measured_in_the_running_yield_and_the_summary(runs: dict[str, Path],
                                                                                 tmp_path: Path) -> None:
    """U2 (R_L 8 % high) fails; a refit then replaces it by a copy whose fits and verdicts pass (the healthy run's
    archive stands in for the copy): U2 is still measured, once, with the copy's numbers."""
    copy = tmp_path / "refit" / "U2.h5"
    copy.parent.mkdir()
    shutil.copy(runs["healthy"], copy)
    writer = _writer(tmp_path)
    try:
        _record(writer, "U1", runs["healthy"])
        _record(writer, "U2", runs["rl-up-8pct"])
        assert writer.running_yield() == "yield so far: 1/2 measured units passed"
        assert "unit U2: add_rel_tol fails; suspect small_signal.R_L" in writer.summary()
        assert writer.index is not None
        writer.index.append(LotRow("U2", "refitted", bench="bench-a", archive=str(copy), summary=summarise_run(copy)))
        assert writer.done() == {"U1", "U2"}
        assert writer.running_yield() == "yield so far: 2/2 measured units passed"
        text = writer.summary()
        assert writer.all_passed()
    finally:
        writer.close()
    assert text.startswith("lot diag-lot: 2 units measured, overall yield 100.0 %") and "unit U2" not in text
    assert read_index(tmp_path / "index.h5")["archive"][-1] == str(copy)
