"""summarise_run on archives made here by short runs on the simulated bench, against the archives' own result
tables and result groups read independently with h5py (nothing of diffbench on that side).

Two runs (a few seconds each): a frequency sweep at 1 kHz and 10 kHz (no amplitude or DC sweep: THD and the
offset are then not in the archive), and a short characterisation (all five figures). The board,
configs/boards/bjt-source-text.toml, has a resistive load (both outputs count for CMRR_se), checks |Add| at
1 kHz, CMRR_se up to 10 kHz and THD at 10 mV peak, and sets no CMRR_diff limit.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from procedures.archive.spec import ArchiveError
from procedures.lot.unit_summary import FIGURE_NAMES, UnitSummary, summarise_run
from procedures.run.runner import run_procedure

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[3]
BOARD = ROOT / "configs" / "boards" / "bjt-source-text.toml"
BENCH = ROOT / "configs" / "benches" / "sim-keysight.toml"
LIMITS = tomllib.loads(BOARD.read_text(encoding="utf-8"))["pass_fail"]

SWEEP = """[procedure]
name = "lot-test-sweep"
kind = "frequency_sweep"
[drive]
vid_vpk = 0.002
vic_vpk = 0.3
compare_ideal = false
[frequency]
list_hz = [1000.0, 10000.0]
[acquisition]
record_points = 20000
harmonics = 3
"""
CHARACTERISATION = """[procedure]
name = "lot-test-characterisation"
kind = "characterisation"
[drive]
vid_vpk = 0.002
vic_vpk = 0.3
compare_ideal = false
[frequency]
list_hz = [1000.0, 10000.0]
[amplitude]
vid_vpk = [0.005, 0.01, 0.02]
[dc]
points = 5
[acquisition]
record_points = 20000
harmonics = 5
[fit]
small_signal = false
"""


def _run(tmp: Path, name: str, text: str) -> Path:
    proc = tmp / f"{name}.toml"
    proc.write_text(text, encoding="utf-8")
    out = run_procedure(proc, BENCH, BOARD, tmp / f"{name}.h5")
    assert out.status == "complete"
    return out.path


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run(tmp_path_factory.mktemp("sweep"), "sweep", SWEEP)


@pytest.fixture(scope="module")
def characterisation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run(tmp_path_factory.mktemp("characterisation"), "characterisation", CHARACTERISATION)


# ---- the archive read with h5py alone -------------------------------------------------------------------


def _table(f: h5py.File, name: str) -> dict[str, np.ndarray]:
    """The committed rows of a table, every dataset by its stored name (text decoded)."""
    counts = dict(zip(f["entry/part"].asstr()[()], f["entry/n_committed"][()]))
    n = int(counts[name])
    out = {}
    for key, ds in f["entry"][name].items():
        if ds.ndim and ds.maxshape[0] is None and key != "row":  # the row variables (the axis coordinate too)
            out[key] = ds.asstr()[:n] if h5py.check_string_dtype(ds.dtype) else ds[:n]
    return out


def _result(f: h5py.File, name: str) -> dict[str, np.ndarray]:
    g = f["entry/results"][name]
    return {k: (d.asstr()[()] if h5py.check_string_dtype(d.dtype) else d[()]) for k, d in g.items()}


def _expected_gain_figures(f: h5py.File) -> dict[str, tuple[float, float]]:
    g = _table(f, "gains")
    freq = g["frequency_hz"]
    i = int(np.argmin(np.abs(np.log(freq / LIMITS["add_check_hz"]))))
    z = complex(g["S"][i, 0, 0])  # complex in the file (archive format 1.1)
    grad = np.array([z.real, z.imag]) / abs(z)
    u_add = math.sqrt(grad @ g["S_cov"][i, 0:2, 0:2] @ grad)
    band = freq <= LIMITS["cmrr_se_max_hz"]
    se = [(g[f"CMRR_se{k}_db"][band][j], g[f"CMRR_se{k}_db_u"][band][j]) for k in (1, 2) for j in range(band.sum())]
    j = int(np.argmin(g["CMRR_diff_db"][band]))
    return {"Add": (abs(z), u_add), "CMRR_se_db": min(se),
            "CMRR_diff_db": (g["CMRR_diff_db"][band][j], g["CMRR_diff_db_u"][band][j])}


def _expected_fits(f: h5py.File) -> dict[str, tuple[float, float, str]]:
    out = {}
    for name, group in f["entry/results"].items():
        if "fit_name" in group.attrs:
            r = _result(f, name)
            fit = group.attrs["fit_name"]
            for p, v, e, unit in zip(r["param_name"], r["value"], r["stderr"], r["param_unit"]):
                out[f"{fit}.{p}"] = (v, e, unit)
    return out


def _expected_suspect(f: h5py.File) -> tuple[str, float, float] | None:
    """The largest |z| = |value - nominal|/stderr beyond 3 over the consistent fits' parameters, as
    (<fit>.<parameter>, value/nominal - 1, z), from the fit result groups read with h5py."""
    best: tuple[str, float, float] | None = None
    for name, group in f["entry/results"].items():
        if "fit_name" not in group.attrs or group.attrs["status"] != "consistent":
            continue
        r = _result(f, name)
        for p, v, e, nom in zip(r["param_name"], r["value"], r["stderr"], r["nominal"]):
            z = (v - nom) / e if e > 0 else 0.0
            if abs(z) > 3 and (best is None or abs(z) > abs(best[2])):
                best = (f"{group.attrs['fit_name']}.{p}", v / nom - 1 if nom else math.nan, z)
    return best


def _check_common(s: UnitSummary, f: h5py.File) -> None:
    for name, (value, u) in _expected_gain_figures(f).items():
        assert s.figures[name].value == pytest.approx(value, rel=1e-12), name
        assert s.figures[name].u == pytest.approx(u, rel=1e-9), name
    verdicts = _result(f, "verdicts")
    assert list(s.verdict_names) == list(verdicts["limit"])
    for v, passed, measured, unit, threshold in zip(s.verdicts, verdicts["passed"], verdicts["measured"],
                                                    verdicts["unit"], verdicts["threshold"]):
        assert (v.passed, v.unit) == (bool(passed), unit)
        assert v.measured == measured and v.threshold == threshold
    fits = _expected_fits(f)
    assert set(s.components) == set(fits)
    for name, (value, stderr, unit) in fits.items():
        c = s.components[name]
        assert (c.value, c.u, c.unit) == (value, stderr, unit)
    want = _expected_suspect(f)
    if want is None:
        assert s.suspect is None
    else:
        assert s.suspect is not None and s.suspect.name == want[0]
        assert (s.suspect.rel, s.suspect.z) == (pytest.approx(want[1], nan_ok=True), pytest.approx(want[2]))
    assert s.run_status == f.attrs["status"] == "complete"
    assert s.start_time == f["entry"].attrs["start_time"]


# ---- the tests -------------------------------------------------------------------------------------------


def test_frequency_sweep_summary_matches_its_tables(sweep: Path) -> None:
    s = summarise_run(sweep)
    with h5py.File(sweep, "r") as f:
        _check_common(s, f)
    assert set(s.figures) == set(FIGURE_NAMES)
    # no amplitude or DC sweep in this archive: THD and the offset are NaN, with NaN uncertainty
    for name in ("THD", "offset_v"):
        assert math.isnan(s.figures[name].value) and math.isnan(s.figures[name].u)
    assert s.figures["Add"].unit == "1" and s.figures["CMRR_se_db"].unit == "dB"
    # the board sets no CMRR_diff limit: the figure is there all the same, and no verdict on it
    assert "cmrr_diff_min_db" not in s.verdict_names and math.isfinite(s.figures["CMRR_diff_db"].value)
    assert s.verdict("thd_max") is None
    assert {"small_signal.R_L", "small_signal.C_L"} <= set(s.components)
    assert s.component_units["small_signal.R_L"] == "Ohm"
    assert s.passed is True and s.board == "bjt-source-text" and s.bench == "sim-keysight"


def test_characterisation_summary_matches_its_tables(characterisation: Path) -> None:
    s = summarise_run(characterisation)
    with h5py.File(characterisation, "r") as f:
        _check_common(s, f)
        dm = _table(f, "dm_gain")
        j = int(np.argmin(np.abs(dm["vid_vpk_nominal"] - LIMITS["thd_drive_vpk"])))
        offset = _table(f, "dc_summary")["offset_v"][0]
        thd = dm["thd_out"][j]
    assert s.figures["THD"].value == thd and math.isnan(s.figures["THD"].u)
    assert s.figures["offset_v"].value == offset and math.isnan(s.figures["offset_v"].u)
    assert s.verdict("thd_max") is not None and s.verdict("thd_max").measured == thd  # type: ignore[union-attr]
    assert all(math.isfinite(fig.value) for fig in s.figures.values())
    assert "large_signal.i_tail" in s.components and not any(k.startswith("small_signal.") for k in s.components)


@pytest.mark.parametrize("damage", ["missing", "not_hdf5", "truncated", "not_a_run"])
def test_a_damaged_archive_is_one_line_error(sweep: Path, tmp_path: Path, damage: str) -> None:
    bad = tmp_path / "bad.h5"
    if damage == "not_hdf5":
        bad.write_bytes(b"not an archive at all\n" * 100)
    elif damage == "truncated":
        data = sweep.read_bytes()
        bad.write_bytes(data[: len(data) // 3])
    elif damage == "not_a_run":
        with h5py.File(bad, "w") as f:
            f["x"] = 1
    with pytest.raises(ArchiveError) as info:
        summarise_run(bad)
    message = str(info.value)
    assert "\n" not in message and str(bad) in message


def test_a_result_group_of_the_wrong_shape_is_one_line_error(sweep: Path, tmp_path: Path) -> None:
    """A verdicts group without its ``passed`` array, declared so: the reader takes it, the summary refuses it in
    one line."""
    bad = tmp_path / "no-passed.h5"
    shutil.copy(sweep, bad)
    with h5py.File(bad, "r+") as f:
        group = f["entry/results/verdicts"]
        spec: dict[str, Any] = json.loads(group.attrs["diffbench_spec"])
        del spec["arrays"]["passed"], group["passed"]
        group.attrs["diffbench_spec"] = json.dumps(spec)
    with pytest.raises(ArchiveError, match="damaged or incomplete archive: 'passed'") as info:
        summarise_run(bad)
    assert "\n" not in str(info.value) and str(bad) in str(info.value)
