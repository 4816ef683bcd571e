"""A deliberately faulty board through ``diffbench run``: the simulated bench carries the faulty board
(``--sim-board configs/faults/...``), the run is judged and fitted against the healthy board's config; the
right limit of its ``[pass_fail]`` fails (exit status 3), the others pass, and the fit names the faulty part.

- load resistor R2 20 % high: |Add| rises ~10 % (the 5 % limit fails); CMRR_se is untouched (both its gains
  scale with R2); the fit moves d_R and R_L, nothing else;
- tail source with 10x lower output resistance: CMRR_se falls 20 dB, below its 57 dB limit. |Add| fails
  too, and rightly: a Norton source with a tenth of the resistance passes 1.3 V/100 kOhm = 13 uA more at
  the same tail voltage, +12 % current, so +12 % gm. The fit explains both with R_EE alone (it holds gm at
  the operating point of the fitted R_EE), every other parameter stays at its config value.

The healthy board on the same procedure passes every limit and no parameter departs from its config.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
from pathlib import Path

import pytest

from fits_truth import FREQ_BODY
from instruments.board_config import load_board
from procedures.archive.reader import open_run
from procedures.cli.main import main

ROOT = Path(__file__).resolve().parents[3]
BOARD = ROOT / "configs" / "boards" / "bjt-source-text.toml"
BENCH = ROOT / "configs" / "benches" / "sim-keysight.toml"
PROCEDURE = '[procedure]\nname = "fault"\nkind = "frequency_sweep"\n' + FREQ_BODY


FAULTS = ROOT / "configs" / "faults"


def _split(b) -> tuple[float, float]:
    """R1, R2 of a board config (mean and mismatch: R1 = R(1 - d/2), R2 = R(1 + d/2))."""
    return b.load_r_ohm * (1 - b.mismatch_load_r / 2), b.load_r_ohm * (1 + b.mismatch_load_r / 2)


def _differences(a, b) -> set[str]:
    skip = {"source", "raw", "name", "description"}
    return {f.name for f in dataclasses.fields(a) if f.name not in skip and getattr(a, f.name) != getattr(b, f.name)}


def test_the_fault_configs_are_the_healthy_board_with_one_fault() -> None:
    healthy = load_board(BOARD)
    r2 = load_board(FAULTS / "bjt-source-text-r2-high.toml")
    assert _differences(healthy, r2) == {"load_r_ohm", "mismatch_load_r"}
    (h1, h2), (f1, f2) = _split(healthy), _split(r2)
    assert f1 == pytest.approx(h1, rel=1e-12) and f2 == pytest.approx(1.2 * h2, rel=1e-12)
    tail = load_board(FAULTS / "bjt-source-text-tail-r-low.toml")
    assert _differences(healthy, tail) == {"tail_r_ohm"} and tail.tail_r_ohm == healthy.tail_r_ohm / 10


CASES = {
    "healthy": (None, 0, set(), set()),
    "bjt-source-text-r2-high": (FAULTS / "bjt-source-text-r2-high.toml", 3, {"add_rel_tol"}, {"d_R", "R_L"}),
    "bjt-source-text-tail-r-low": (FAULTS / "bjt-source-text-tail-r-low.toml", 3, {"cmrr_se_min_db", "add_rel_tol"},
                                   {"R_EE"}),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, Path]]:
    """Each case once: (exit status, stdout, archive)."""
    base = tmp_path_factory.mktemp("faults")
    proc = base / "procedure.toml"
    proc.write_text(PROCEDURE)
    out: dict[str, tuple[int, str, Path]] = {}
    for name, (fault, *_) in CASES.items():
        args = ["run", str(proc), "--bench", str(BENCH), "--board", str(BOARD), "-o", str(base / f"{name}.h5"),
                "--no-progress"]
        if fault is not None:
            args += ["--sim-board", str(fault)]
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            status = main(args)
        out[name] = (status, buf.getvalue(), base / f"{name}.h5")
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_the_right_limit_fails_and_the_fit_names_the_faulty_part(runs, case: str) -> None:
    _, want_status, failing, moved = CASES[case]
    status, stdout, path = runs[case]
    assert status == want_status, stdout
    with open_run(path) as run:
        v = run.results["verdicts"].arrays
        verdicts = {str(k.decode() if isinstance(k, bytes) else k): bool(ok) for k, ok in zip(v["limit"], v["passed"])}
    assert set(verdicts) == {"add_rel_tol", "cmrr_se_min_db"}  # what a frequency sweep can judge
    assert {k for k, ok in verdicts.items() if not ok} == failing
    fails = [ln for ln in stdout.split("limits (board config [pass_fail]):")[1].splitlines() if "FAIL" in ln]
    assert any("|Add|" in ln for ln in fails) == ("add_rel_tol" in failing)
    assert any("CMRR_se" in ln for ln in fails) == ("cmrr_se_min_db" in failing)
    if "add_rel_tol" in failing:  # the deviation reads in percent with its sign
        assert re.search(r"FAIL  \|Add\| .* measured \+\d+(\.\d+)? ± [\d.e-]+ %", stdout), stdout
    # the printed fit names the parameters that left the board config, and only those
    line = next(ln for ln in stdout.splitlines() if "board config" in ln and ln.startswith("  "))
    if moved:
        named = {m.group(1) for m in re.finditer(r"(\w+) \([+-]\d+ u\)", line)}
        assert named == moved, line
    else:
        assert "every fitted parameter within 3 u" in line, line


def test_the_archive_says_which_board_was_on_the_bench(runs) -> None:
    _, _, path = runs["bjt-source-text-tail-r-low"]
    with open_run(path) as run:
        assert run.metadata["board"] == "bjt-source-text"
        assert run.metadata["sim_board"] == "bjt-source-text-tail-r-low"
        assert run.configs["sim_board"] == (FAULTS / "bjt-source-text-tail-r-low.toml").read_text()
    with open_run(runs["healthy"][2]) as run:
        assert "sim_board" not in run.metadata and "sim_board" not in run.configs
    # and the report says so above everything else
    assert main(["report", str(path), "-o", str(path.parent / "report")]) == 0
    html = (path.parent / "report" / "report.html").read_text()
    assert "carried a different board, &#x27;bjt-source-text-tail-r-low&#x27;" in html or \
        "carried a different board, 'bjt-source-text-tail-r-low'" in html


def test_sim_board_is_refused_for_a_real_bench(tmp_path: Path, capsys) -> None:
    proc = tmp_path / "p.toml"
    proc.write_text(PROCEDURE)
    real = ROOT / "configs" / "benches"
    bench = next(p for p in sorted(real.glob("*.toml")) if "simulated = true" not in p.read_text())
    status = main(["run", str(proc), "--bench", str(bench), "--board", str(BOARD), "-o", str(tmp_path / "r.h5"),
                   "--sim-board", str(BOARD)])
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--sim-board: applies only to a simulated bench" in err[0]
    assert not (tmp_path / "r.h5").exists() and not list(tmp_path.glob("*.partial"))
