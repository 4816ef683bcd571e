"""``diffbench report``: files written, PNGs that open, an HTML page that holds the archive's values, every kind
of archive (frequency, amplitude, DC, common-mode range, combined; complete, aborted, failed, killed), the
archive left untouched, and bad input as one line with exit status 2.

Most archives are built here with :class:`RunArchive` and the procedures' own table declarations (fast);
one short simulated sweep checks the report against a real run and the recomputation of an aborted run's
results from its committed points.
"""

from __future__ import annotations

import hashlib
import math
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from procedures.analysis.results import result_tables
from procedures.archive.reader import open_run
from procedures.archive.writer import RunArchive, RunDeclaration

REPO = Path(__file__).resolve().parents[3]
BOARD_PATH = REPO / "configs" / "boards" / "bjt-source-text.toml"
BOARD_TXT = BOARD_PATH.read_text()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
INSTRUMENTS = {
    "generator": {"idn": "Agilent Technologies,33522B,MY52800123,3.05-1.19-2.00-52-00",
                  "resource": "TCPIP0::192.168.1.20::5025::SOCKET", "driver": "keysight_33500", "settings": {}},
    "scope": {"idn": "KEYSIGHT TECHNOLOGIES,DSO-X 1204G,CN61234567,02.12.2021071625",
              "resource": "TCPIP0::192.168.1.21::5025::SOCKET", "driver": "keysight_infiniivision", "settings": {}},
}
SWEEPS = {"frequency_sweep": ("frequency_sweep",), "amplitude_sweep": ("amplitude_sweep",),
          "dc_transfer": ("dc_transfer",), "cm_range": ("cm_range",),
          "characterisation": ("frequency_sweep", "amplitude_sweep", "dc_transfer")}
FREQ_FIGURES = {"bode_overview", "bode_add", "bode_acc", "bode_acd", "bode_adc", "bode_cmrr_se", "bode_cmrr_diff"}
EXPECTED = {"frequency_sweep": FREQ_FIGURES, "amplitude_sweep": {"gain_thd_vs_amplitude"},
            "dc_transfer": {"dc_transfer"}, "cm_range": {"gain_thd_vs_bias"},
            "characterisation": FREQ_FIGURES | {"gain_thd_vs_amplitude", "dc_transfer"}}


# ------------------------------------------------------------------------------------------------------------
# Building archives


def _board():
    from instruments.board_config import load_board

    return load_board(BOARD_PATH)


def _freq_rows(rng: np.random.Generator) -> list[dict[str, Any]]:
    from procedures.predict.prediction import predict

    f = np.geomspace(100.0, 1e6, 9)
    g = predict(_board(), f).gains
    rows = []
    for i, fi in enumerate(f):
        S = np.array([[g.add[i], g.acd[i]], [g.adc[i], g.acc[i]]], complex)
        u = np.abs(S) * np.array([[2e-4, 0.02], [0.01, 1e-4]])
        S = S + (rng.standard_normal((2, 2)) + 1j * rng.standard_normal((2, 2))) * u
        cov = np.diag(np.repeat(u.reshape(-1) ** 2, 2))
        ad1, acm1 = S[0, 0] / 2 + S[1, 0], S[1, 1] + S[0, 1] / 2
        ad2, acm2 = -S[0, 0] / 2 + S[1, 0], S[1, 1] - S[0, 1] / 2
        row = {"frequency_hz": fi, "S": S, "S_u": u * (1 + 1j), "S_cov": cov, "S_ideal": S * 1.01 + 0.5 * S[1, 1],
               "Ad_se1": ad1, "Acm_se1": acm1, "Ad_se2": ad2, "Acm_se2": acm2}
        for name, val in (("CMRR_se1", abs(ad1 / acm1)), ("CMRR_se2", abs(ad2 / acm2)),
                          ("CMRR_diff", abs(S[0, 0] / S[0, 1])), ("Add_over_Acc", abs(S[0, 0] / S[1, 1]))):
            row[f"{name}_db"] = 20 * math.log10(val)
            row[f"{name}_db_u"] = 0.0123 + 0.001 * i
            row[f"{name}_db_kind"] = "value"
            row[f"{name}_ideal_db"] = 38.7 + 0.01 * i
        rows.append(row)
    return rows


def _dm_rows(cm: bool) -> list[dict[str, Any]]:
    rows = []
    levels = np.linspace(1.6, 2.4, 7) if cm else np.array([0.002, 0.005, 0.01, 0.02, 0.05, 0.1])
    for x in levels:
        vid = 0.01 if cm else float(x)
        comp = 1.0 - (vid / 0.052) ** 2 / 8
        add = -76.4 * comp + 0.2j
        rows.append({"frequency_hz": 1000.0, "vid_vpk": vid * 1.001, "vid_vpk_u": 1e-7, "vid_vpk_nominal": vid,
                     "bias_v": float(x) if cm else 2.0, "Add": add, "Add_u": 0.005 * (1 + 1j),
                     "compression": comp, "thd_out": (vid / 0.052) ** 2 / 3 + 1e-4})
    return rows


def _dc_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows = []
    for v in np.linspace(-0.2, 0.2, 21):
        vod = -3.5 * math.tanh((v - 0.0007) / 0.0476)
        rows.append({"vid_v": v, "vid_v_u": 1e-4, "vic_v": 2.0, "vo1_v": 3.0 + vod / 2, "vo2_v": 3.0 - vod / 2,
                     "vod_v": vod, "vod_v_u": 1e-4, "link_u_rel": np.full(4, 2e-5)})
    return rows, [{"offset_v": 0.0007, "slope": -73.5}]


def make_archive(path: Path, kind: str, *, status: str = "complete", reason: str = "", rows: bool = True,
                 board: bool = True, verdicts: dict[str, Any] | None = None, finish: bool = True) -> Path:
    """An archive of ``kind`` with synthetic result rows (the procedures' own table declarations)."""
    tables: dict[str, Any] = {}
    for k in SWEEPS[kind]:
        tables.update(result_tables(k))
    configs = {"procedure": f'[procedure]\nname = "test-{kind}"\nkind = "{kind}"\ndescription = "synthetic {kind}"\n',
               "bench": '[bench]\nname = "bench-under-test"\n'}
    if board:
        configs["board"] = BOARD_TXT
    a = RunArchive.create(path, RunDeclaration(metadata={"procedure": f"test-{kind}", "kind": kind,
                                                         "board": "bjt-source-text", "bench": "bench-under-test"},
                                               configs=configs, instruments=INSTRUMENTS, tables=tables))
    if rows:
        rng = np.random.default_rng(7)
        if "gains" in tables:
            for r in _freq_rows(rng):
                a.append("gains", r)
        if "dm_gain" in tables:
            for r in _dm_rows(kind == "cm_range"):
                a.append("dm_gain", r)
        if "dc" in tables:
            dc, summary = _dc_rows()
            for r in dc:
                a.append("dc", r)
            a.append("dc_summary", summary[0])
    if verdicts is not None:
        a.write_result("verdicts", verdicts["arrays"], attrs=verdicts["attrs"])
    a.commit()
    if finish:
        a.finish(status, reason)
    return path


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _check_png(p: Path) -> None:
    import matplotlib.image as mpimg

    assert p.read_bytes()[:8] == PNG_SIGNATURE, f"{p.name} is not a PNG"
    img = mpimg.imread(p)
    h, w = img.shape[:2]
    assert w >= 800 and h >= 450, f"{p.name}: {w}x{h} px is too small to read"
    assert img.std() > 0.01, f"{p.name} is blank"


def _report(tmp_path: Path, archive: Path, **kw: Any):
    from procedures.report.report import write_report

    return write_report(archive, tmp_path / "out", **kw)


# ------------------------------------------------------------------------------------------------------------
# Every kind of archive


VERDICTS = {"arrays": {"limit": np.array(["cmrr_se_min_db", "thd_max"], dtype=object),
                       "description": np.array(["CMRR_se2 at least 70 dB", "THD at most 1 %"], dtype=object),
                       "measured": np.array([65.6709, 0.0031]), "uncertainty": np.array([0.0073, np.nan]),
                       "threshold": np.array([70.0, 0.01]), "unit": np.array(["dB", "1"], dtype=object),
                       "passed": np.array([False, True])},
            "attrs": {"overall": "fail"}}


@pytest.fixture(scope="module")
def freq_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Any]:
    """One frequency-sweep archive (with verdicts) and its report, shared by the tests that read them
    (a frequency report draws seven figures: the slow part of these tests)."""
    from procedures.report.report import write_report

    d = tmp_path_factory.mktemp("freq")
    arch = make_archive(d / "fs.h5", "frequency_sweep", verdicts=VERDICTS)
    before = _sha(arch)
    files = write_report(arch, d / "out", fit="none")
    return arch, before, files


@pytest.mark.parametrize("kind", ["amplitude_sweep", "dc_transfer", "cm_range", "frequency_sweep"])
def test_each_kind_writes_its_figures_and_a_page_that_links_them(tmp_path: Path, kind: str,
                                                                 freq_report: tuple[Path, str, Any]) -> None:
    if kind == "frequency_sweep":
        arch, before, files = freq_report
    else:
        arch = make_archive(tmp_path / f"{kind}.h5", kind)
        before = _sha(arch)
        files = _report(tmp_path, arch, fit="none")
    assert {f.key for f in files.figures} == EXPECTED[kind]
    html = files.html.read_text(encoding="utf-8")
    for f in files.figures:
        assert f.path.parent == files.out_dir and f.path.exists()
        _check_png(f.path)
        assert f'src="{f.path.name}"' in html, f"{f.path.name} is not on the page"
    assert _sha(arch) == before, "the report modified the archive"
    assert sorted(p.name for p in files.out_dir.iterdir()) == sorted([p.name for p in files.paths])
    for idn in (INSTRUMENTS["generator"]["idn"], INSTRUMENTS["scope"]["idn"]):
        assert idn in html
    assert "bjt-source-text" in html and "Run status: COMPLETE" in html
    assert ("Verdict: FAIL" if kind == "frequency_sweep" else "no limits checked") in html


def test_frequency_page_holds_the_archived_values_as_formatted(freq_report: tuple[Path, str, Any]) -> None:
    from procedures.report.html.formatting import fmt_pm, pick_rows

    arch, _, files = freq_report
    html = files.html.read_text(encoding="utf-8")
    with open_run(arch) as run:
        g = run.tables["gains"]
        rid = run.run_id
    assert rid in html and rid[:8] in html
    for i in pick_rows(len(g["frequency_hz"])):
        for name in ("CMRR_se1_db", "CMRR_se2_db", "CMRR_diff_db"):
            cell = fmt_pm(float(g[name][i]), float(g[name + "_u"][i]))
            assert f">{cell}<" in html, f"{name} at row {i}: {cell!r} not on the page"
    # rounding to the uncertainty's second significant digit, which the table promises
    assert fmt_pm(65.75634, 0.00171, "dB") == "65.7563 ± 0.0017 dB"
    assert fmt_pm(108.8711, 0.1072) == "108.87 ± 0.11"
    # both CMRRs are named and defined on the page
    assert "CMRR_se,1 = |Ad_se,1/Acm_se,1| (dB)" in html and "CMRR_diff = |Add/Acd| (dB)" in html
    assert "Measured − prediction" in html


def test_failed_run_without_rows_shows_status_and_reason(tmp_path: Path) -> None:
    arch = make_archive(tmp_path / "failed.h5", "frequency_sweep", status="failed", rows=False,
                        reason="TCPIP0::192.168.1.21::5025::SOCKET: no answer within 5 s after ':WAV:DATA?'")
    files = _report(tmp_path, arch)
    html = files.html.read_text(encoding="utf-8")
    assert files.figures == []
    assert 'class="banner failed"' in html and "FAILED" in html and "no answer within 5 s" in html
    assert "no result rows" in html


def test_aborted_run_is_flagged(tmp_path: Path) -> None:
    arch = make_archive(tmp_path / "ab.h5", "amplitude_sweep", status="aborted", reason="interrupted (Ctrl-C)")
    html = _report(tmp_path, arch, fit="none").html.read_text(encoding="utf-8")
    assert 'class="banner aborted"' in html and "ABORTED — interrupted (Ctrl-C)" in html


def test_partial_left_by_a_killed_writer(tmp_path: Path) -> None:
    """A writer killed mid-run leaves run.h5.partial (status running, SWMR mark): the report reads it."""
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_report import make_archive
        from pathlib import Path
        make_archive(Path({str(tmp_path / 'killed.h5')!r}), "dc_transfer", finish=False)
        os._exit(0)  # no close, no finish: as if killed after the commit
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    partial = tmp_path / "killed.h5.partial"
    assert partial.exists()
    before = _sha(partial)
    from procedures.report.report import default_out_dir, write_report

    files = write_report(partial, fit="none")
    assert files.out_dir == tmp_path / "killed-report" == default_out_dir(partial)
    html = files.html.read_text(encoding="utf-8")
    assert "INCOMPLETE" in html and 'class="banner running"' in html
    assert {f.key for f in files.figures} == {"dc_transfer"}
    assert _sha(partial) == before


def test_missing_board_config_plots_without_prediction(tmp_path: Path) -> None:
    arch = make_archive(tmp_path / "nb.h5", "amplitude_sweep", board=False)
    files = _report(tmp_path, arch)
    assert [f.key for f in files.figures] == ["gain_thd_vs_amplitude"]
    _check_png(files.figures[0].path)
    assert any("no board config" in w for w in files.warnings)
    html = files.html.read_text(encoding="utf-8")
    assert "no board config" in html and "No prediction: the board config is unavailable" in html
    assert "No model fit: the archive holds no usable board config" in html


def test_verdicts_table_pass_and_fail(freq_report: tuple[Path, str, Any]) -> None:
    html = freq_report[2].html.read_text(encoding="utf-8")
    assert "Verdict: FAIL (1 of 2 limits passed)" in html
    assert '<tr class="fail"><td>cmrr_se_min_db' in html and '<tr class="pass"><td>thd_max' in html
    assert "65.6709 ± 0.0073 dB" in html and "no limits checked" not in html


def test_embed_makes_one_self_contained_page(tmp_path: Path) -> None:
    arch = make_archive(tmp_path / "e.h5", "dc_transfer")
    files = _report(tmp_path, arch, embed=True, fit="none")
    html = files.html.read_text(encoding="utf-8")
    assert html.count('src="data:image/png;base64,') == len(files.figures) == 1


# ------------------------------------------------------------------------------------------------------------
# Fits: the real result type of procedures.fitting.run_fits

from procedures.fitting.core import FitResult as _Fit  # noqa: E402


def _fake_fits(run: Any) -> list[_Fit]:
    g = run.tables["gains"]
    f = np.asarray(g["frequency_hz"])
    cx = np.geomspace(f.min(), f.max(), 50)
    S = np.asarray(g["S"])

    def interp(z: np.ndarray) -> np.ndarray:
        return np.interp(np.log(cx), np.log(f), z.real) + 1j * np.interp(np.log(cx), np.log(f), z.imag)

    keys = {"Add": S[:, 0, 0], "Acd": S[:, 0, 1], "Adc": S[:, 1, 0], "Acc": S[:, 1, 1]}
    return [_Fit("small_signal", "bjt_resistive", ["tail_r_ohm", "load_c_f"], np.array([1.02e6, 10.3e-12]),
                 np.array([0.004e6, 0.05e-12]), np.array([[1.0, -0.31], [-0.31, 1.0]]), ["Ohm", "F"],
                 np.array([1e6, 10e-12]), {"beta": 200.0}, 1.137, 30, "frequency_hz", f, dict(keys), {}, dict(keys),
                 dict(keys), cx, {k: interp(v) for k, v in keys.items()}, {}, {},
                 derived={"tail_zero_hz": (31200.0, 150.0, "Hz")})]


def test_combined_run_with_fits_draws_and_tabulates_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    calls: list[str] = []
    mod = types.ModuleType("procedures.fitting.run_fits")
    mod.load_fits = lambda run: calls.append("load") or []  # type: ignore[attr-defined]
    mod.fit_run = lambda run, board, notes=None: calls.append("fit") or _fake_fits(run)  # type: ignore[attr-defined]
    mod.comparison_table = lambda fit: [{"quantity": "|Add| 1 kHz", "measured": 76.44, "fitted": 76.43}]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "procedures.fitting.run_fits", mod)
    import procedures.fitting

    monkeypatch.setattr(procedures.fitting, "run_fits", mod)
    arch = make_archive(tmp_path / "fit.h5", "characterisation")  # a combined run: every figure at once
    files = _report(tmp_path, arch)
    assert calls == ["load", "fit"], "with no stored fit, --fit auto fits the run"
    assert {f.key for f in files.figures} == EXPECTED["characterisation"]
    html = files.html.read_text(encoding="utf-8")
    assert "tail_r_ohm" in html and "1.0200 ± 0.0040 MΩ" in html and "+2 %" in html
    assert "χ²_red = 1.137" in html and "made by the report (not stored in the archive)" in html
    assert "Measured − fit" in html and "tail_zero_hz" in html and "|Add| 1 kHz" in html
    for f in files.figures:
        _check_png(f.path)
    cheap = make_archive(tmp_path / "dc.h5", "dc_transfer")
    calls.clear()
    files = _report(tmp_path, cheap, fit="archived")
    assert calls == ["load"] and "No model fit: the archive holds no fit" in files.html.read_text(encoding="utf-8")
    calls.clear()
    _report(tmp_path, cheap, fit="none")
    assert calls == []


def test_a_failing_fit_is_a_warning_not_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    mod = types.ModuleType("procedures.fitting.run_fits")
    mod.load_fits = lambda run: []  # type: ignore[attr-defined]

    def boom(run: Any, board: Any, notes: Any = None) -> list[Any]:
        raise RuntimeError("singular matrix\nsecond line")

    mod.fit_run = boom  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "procedures.fitting.run_fits", mod)
    import procedures.fitting

    monkeypatch.setattr(procedures.fitting, "run_fits", mod)
    files = _report(tmp_path, make_archive(tmp_path / "ff.h5", "dc_transfer"))
    assert any("fitting the run failed (RuntimeError: singular matrix)" in w for w in files.warnings)
    assert [f.key for f in files.figures] == ["dc_transfer"]
    html = files.html.read_text(encoding="utf-8")
    assert "No model fit: fitting the run failed (RuntimeError: singular matrix)" in html


# ------------------------------------------------------------------------------------------------------------
# The command line


def test_cli_prints_every_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from procedures.cli.main import main

    arch = make_archive(tmp_path / "cli.h5", "amplitude_sweep")
    other = make_archive(tmp_path / "other.h5", "dc_transfer")
    assert main(["report", str(other), "-o", str(tmp_path / "cli-report"), "--fit", "none"]) == 0
    capsys.readouterr()
    assert main(["report", str(arch), "--fit", "none"]) == 0  # into the same directory: no stale figure stays
    out = capsys.readouterr().out.splitlines()
    out_dir = tmp_path / "cli-report"
    assert out[0] == f"report: {out_dir / 'report.html'}"
    assert out[1:] == [f"figure: {out_dir / 'gain_thd_vs_amplitude.png'}"]
    assert sorted(p.name for p in out_dir.iterdir()) == ["gain_thd_vs_amplitude.png", "report.html"]


@pytest.mark.parametrize("case", ["missing", "text", "hdf5-not-archive", "output-is-a-file"])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    import h5py

    from procedures.cli.main import main

    out = tmp_path / "out"
    if case == "missing":
        arch = tmp_path / "nope.h5"
    elif case == "text":
        arch = tmp_path / "notes.h5"
        arch.write_text("not an archive\n")
    elif case == "hdf5-not-archive":
        arch = tmp_path / "other.h5"
        with h5py.File(arch, "w") as f:
            f["x"] = np.arange(3)
    else:
        arch = make_archive(tmp_path / "ok.h5", "dc_transfer")
        out.write_text("a file where the report directory should go")
    assert main(["report", str(arch), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("diffbench report: error: ") and err.count("\n") == 1, err
    assert str(arch if case != "output-is-a-file" else out) in err
    if case != "output-is-a-file":
        assert not out.exists()


def test_imports_stay_light() -> None:
    """``import instruments``, ``import procedures`` and the CLI parser do not pull in matplotlib."""
    code = ("import sys, instruments, procedures, procedures.cli.main, procedures.report.report; "
            "procedures.cli.main.build_parser(); print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------------------------------------------------
# A real (simulated) run


@pytest.fixture(scope="module")
def sim_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from procedures.run.runner import run_procedure

    d = tmp_path_factory.mktemp("sim")
    proc = d / "procedure.toml"
    proc.write_text('[procedure]\nname = "report-test"\nkind = "frequency_sweep"\n[frequency]\n'
                    "list_hz = [1000.0, 20000.0]\n[acquisition]\nrecord_points = 20000\n")
    out = run_procedure(proc, REPO / "configs" / "benches" / "sim-keysight.toml", BOARD_PATH, d / "run.h5")
    assert out.status == "complete"
    return out.path


def test_aborted_real_run_gets_its_results_recomputed_from_the_points(tmp_path: Path, sim_run: Path) -> None:
    """A real (simulated) run, aborted after its points: no result rows, so the report recomputes them in
    memory, says so, shows the same values the finished run archived, and writes nothing to the archive."""
    with open_run(sim_run) as run:
        specs = dict(run.table_specs)
        pts = run.tables["points"]
        n = len(pts["key"])
        rows = [{k: v[i] for k, v in pts.items()} for i in range(n)]
        configs, instruments, metadata = run.configs, run.instruments, run.metadata
        g = {k: run.tables["gains"][k] for k in ("CMRR_diff_db", "CMRR_diff_db_u", "CMRR_se1_db", "CMRR_se1_db_u")}
    aborted = tmp_path / "aborted.h5"
    a = RunArchive.create(aborted, RunDeclaration(metadata=metadata, configs=configs, instruments=instruments,
                                                  tables=specs))
    for r in rows:
        a.append("points", r)
    a.commit()
    a.finish("aborted", "interrupted (Ctrl-C)")
    files = _report(tmp_path, aborted, fit="none")
    assert {f.key for f in files.figures} == FREQ_FIGURES
    assert any("recomputed by the report" in w for w in files.warnings)
    html = files.html.read_text(encoding="utf-8")
    assert "ABORTED — interrupted (Ctrl-C)" in html and "recomputed from the committed points" in html
    assert instruments["scope"]["idn"] in html and instruments["generator"]["idn"] in html
    for f in files.figures:
        _check_png(f.path)
    with open_run(aborted) as run:
        assert run.n_rows("gains") == 0, "the report must not write the recomputed rows"
    # the recomputed gains are the run's own (the same computation on the same points)
    from procedures.report.html.formatting import fmt_pm

    for name in ("CMRR_diff_db", "CMRR_se1_db"):
        assert f">{fmt_pm(float(g[name][0]), float(g[name + '_u'][0]))}<" in html
