"""Run archive: round trip, commit counters, bad input, resume, layout seen by other readers.

The kill -9 trials are in test_archive_kill.py.
"""

from __future__ import annotations

import hashlib
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from instruments.errors import DiffbenchError
from instruments.waveform import Waveform
from procedures.archive.reader import open_run
from procedures.archive.writer import ArchiveError, Column, RunArchive, RunDeclaration, TableSpec, WaveformSpec

CHANNELS = ("v1", "v2", "vo1", "vo2")
N = 5000
BENCH_TOML = "[generator]\nresource = 'TCPIP0::127.0.0.1::5025::SOCKET'\n# ünïcode comment\n"
BOARD_TOML = "name = 'bjt-source-text'\n[tail]\ni_a = 100e-6\n"
INSTRUMENTS = {
    "generator": {"idn": "Agilent Technologies,33522B,MY52,3.05", "resource": "TCPIP0::127.0.0.1::5025::SOCKET",
                  "driver": "keysight_33500", "settings": {"load_ohm": 1e6, "track": "INVerted"}},
    "scope": {"idn": "KEYSIGHT TECHNOLOGIES,DSOX1204G,CN5,2.10", "resource": "TCPIP0::127.0.0.1::5026::SOCKET",
              "driver": "keysight_infiniivision", "settings": {"channels": [1, 2, 3, 4], "format": "BYTE"}},
}
METADATA = {"procedure": "cmrr_sweep", "operator": "ci", "board": {"name": "bjt", "serial": 7},
            "points": [1, 2.5, None]}


def gains_spec() -> TableSpec:
    return TableSpec(
        {
            "freq_hz": Column("float64", "Hz", "test frequency"),
            "n_avg": Column("int64", "1", "records averaged"),
            "clipped": Column("bool", "", "any channel clipped"),
            "mode": Column("str", "", "excitation mode"),
            "S": Column("complex128", "1", "mixed-mode gain matrix [[Add, Acd], [Adc, Acc]]", shape=(2, 2),
                        dims=("mode_out", "mode_in"), uncertainty=True),
            "CMRR_diff": Column("float64", "dB", "|Add/Acd| in dB", uncertainty=True),
            "vpp_v": Column("float64", "V", "peak-to-peak amplitude per channel", shape=(4,), dims=("channel",)),
        },
        long_name="mixed-mode gains per frequency",
        signal="CMRR_diff",
        axis="freq_hz",
        labels={"mode_out": ("d", "c"), "mode_in": ("d", "c"), "channel": CHANNELS},
    )


def points_spec() -> TableSpec:
    return TableSpec({"point": Column("int64", "1", "point index"),
                      "Add": Column("complex128", "1", "differential gain")})


def gains_row(i: int) -> dict[str, Any]:
    S = np.array([[50 * np.exp(-0.1j * i), 0.01 + 0.002j * i], [0.003 - 0.001j, 0.02 * (i + 1)]])
    return {
        "freq_hz": 10.0 ** (2 + i / 3),
        "n_avg": 4 + i,
        "clipped": bool(i % 2),
        "mode": ["differential", "common-mode", "single-ended ü"][i % 3],
        "S": S,
        "S_u": np.abs(S) * 1e-3 + 1e-4j,
        "CMRR_diff": 60.0 + i,
        "CMRR_diff_u": 0.05 * (i + 1),
        "vpp_v": np.array([0.1, 0.1, 5.0, 5.0]) * (i + 1),
    }


def record(i: int, k: int, dtype: str) -> tuple[np.ndarray, dict[str, Any]]:
    info = np.iinfo(dtype)
    rng = np.random.default_rng(1000 * i + k)
    codes = rng.integers(info.min, info.max, size=(len(CHANNELS), N), endpoint=True).astype(dtype)
    return codes, dict(
        y_increment=np.array([1e-3, 1.1e-3, 4e-2, 4.2e-2]) * (1 + i),
        y_origin=np.array([0.0, 0.001, -2.5, 2.5]),
        y_reference=np.array([128.0, 127.0, 0.0, -1.0]),
        x_increment=2e-7 * (1 + i),
        x_origin=-5e-4 - k * 1e-6,
    )


def create(path: Path, dtype: str = "int8", compress: bool = False, **kw: Any) -> RunArchive:
    declaration = RunDeclaration(
        metadata=kw.pop("metadata", METADATA),
        configs=kw.pop("configs", {"bench": BENCH_TOML, "board": BOARD_TOML, "procedure": "sweep = 'log'\n"}),
        instruments=kw.pop("instruments", INSTRUMENTS),
        tables=kw.pop("tables", {"gains": gains_spec(), "points": points_spec()}),
        waveform_spec=kw.pop("waveform_spec", WaveformSpec(CHANNELS, N, dtype, compress)),
    )
    return RunArchive.create(path, declaration, **kw)


def write_point(ar: RunArchive, i: int, dtype: str) -> None:
    for k in range(1 + i % 2):
        codes, scaling = record(i, k, dtype)
        ar.append_record(i, codes, **scaling)
    ar.append("points", {"point": i, "Add": 50 * np.exp(-0.1j * i)})
    ar.append("gains", gains_row(i))
    ar.commit()


FIT = {
    "names": ["gm_s", "r_tail_ohm", "c_tail_f"],
    "value": [3.8e-3, 1.2e6, 2.2e-12],
    "stderr": [1e-5, 3e4, 1e-13],
    "covariance": np.diag([1e-10, 9e8, 1e-26]),
    "residual": np.array([0.1 + 0.2j, -0.05j]),
    "used": [True, False, True],
}
FIT_ATTRS = {"model": "bjt_pair_tail_rc", "chi2_red": 1.07, "dof": 31, "converged": True, "bounds": [0.0, 1.0]}
FIT_DIMS = {"names": ("param",), "value": ("param",), "stderr": ("param",), "covariance": ("param", "param2"),
            "residual": ("point",), "used": ("param",)}


def write_fit(ar: RunArchive) -> None:
    ar.write_result("fit_bjt", FIT, dims=FIT_DIMS, units={"value": "SI", "stderr": "SI"},
                    long_names={"value": "fitted parameter values"},
                    attrs=FIT_ATTRS)


def one_line(e: BaseException) -> bool:
    return "\n" not in str(e) and len(str(e)) > 10


@pytest.mark.parametrize("dtype,compress", [("int8", False), ("uint8", True), ("int16", False), ("uint16", True)])
def test_round_trip(tmp_path: Path, dtype: str, compress: bool) -> None:
    path = tmp_path / "run.h5"
    ar = create(path, dtype, compress, run_id="run-42")
    assert ar.partial_path.exists() and not path.exists()
    for i in range(4):
        write_point(ar, i, dtype)
    write_fit(ar)
    assert ar.finish("complete") == path
    assert path.exists() and not ar.partial_path.exists() and list(tmp_path.iterdir()) == [path]

    with open_run(path) as run:
        assert (run.status, run.reason, run.run_id) == ("complete", "", "run-42")
        assert not run.opened_with_swmr and run.resumed == []
        assert run.metadata == METADATA
        assert run.configs == {"bench": BENCH_TOML, "board": BOARD_TOML, "procedure": "sweep = 'log'\n"}
        assert run.instruments == INSTRUMENTS
        assert run.start_time.endswith("Z") and run.end_time > run.start_time
        assert run.software_version and run.format_version == "1.1"
        assert run.table_specs["gains"] == gains_spec()
        assert gains_spec().row_keys() == list(gains_row(0))
        g = run.tables["gains"]
        assert run.n_rows("gains") == 4 and run.n_rows("points") == 4
        for i in range(4):
            for key, value in gains_row(i).items():
                assert np.array_equal(g[key][i], np.asarray(value)), (i, key)
        assert g["S"].dtype == np.complex128 and g["clipped"].dtype == bool and g["n_avg"].dtype == np.int64
        assert list(g["mode"]) == [gains_row(i)["mode"] for i in range(4)]
        assert np.array_equal(run.tables["points"]["Add"], 50 * np.exp(-0.1j * np.arange(4)))

        _check_records(run.records, dtype)
        _check_fit(run.results["fit_bjt"])

    with h5py.File(path, "r") as f:  # the layout choices of §0.3, §0.4 of docs/reference/hdf5-archive.md
        code = f["entry/waveforms/code"]
        assert code.chunks == (1, 1, N) and code.maxshape == (None, 4, N)
        assert (code.compression, code.shuffle) == (("gzip", True) if compress else (None, False))
        assert f.id.get_create_plist().get_version()[0] == 3  # superblock v3: SWMR-capable v110 format


def _check_records(recs: Any, dtype: str) -> None:
    """The records of test_round_trip's four points, read back."""
    assert recs is not None and recs.channels == CHANNELS and len(recs) == 6
    assert list(recs.point) == [0, 1, 1, 2, 3, 3]
    assert list(recs.of_point(3)) == [4, 5]
    r = 0
    for i in range(4):
        for k in range(1 + i % 2):
            codes, s = record(i, k, dtype)
            got = recs.codes(r)
            assert got.dtype == np.dtype(dtype) and np.array_equal(got, codes)
            volts, t = recs.volts(r)
            expected = ((codes.astype(float) - s["y_reference"][:, None]) * s["y_increment"][:, None]
                        + s["y_origin"][:, None])
            assert volts.shape == (4, N) and np.array_equal(volts, expected)
            assert np.array_equal(t, s["x_origin"] + s["x_increment"] * np.arange(N))
            r += 1
    with pytest.raises(IndexError):
        recs.codes(6)


def _check_fit(fit: Any) -> None:
    """The result written by write_fit, read back."""
    for key, value in FIT.items():
        assert np.array_equal(fit.arrays[key], np.asarray(value)), key
    assert fit.arrays["used"].dtype == bool and fit.arrays["residual"].dtype == np.complex128
    assert fit.attrs == FIT_ATTRS
    assert isinstance(fit.attrs["converged"], bool)
    assert fit.dims["covariance"] == ("param", "param2") and fit.units["value"] == "SI"
    assert fit.long_names["value"] == "fitted parameter values"


def test_reader_trusts_counters_not_extents(tmp_path: Path) -> None:
    """Rows written and flushed, but killed before the counters moved, are invisible to the reader."""
    path = tmp_path / "run.h5"
    script = f"""
import os, signal, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_archive import create, write_point, gains_row, record
ar = create({str(path)!r}, "int16")
for i in range(3):
    write_point(ar, i, "int16")
ar.append("gains", gains_row(3))
ar.append("points", {{"point": 3, "Add": 1j}})
codes, s = record(3, 0, "int16")
ar.append_record(3, codes, **s)
# commit() up to its first flush, then death: the rows are in the file, the counters not yet updated
for t in ar._tables.values():
    for w in t.writers.values():
        w.write_out()
for w in ar._records.small():
    w.write_out()
ar._file.flush()
os.kill(os.getpid(), signal.SIGKILL)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    partial = tmp_path / "run.h5.partial"
    with h5py.File(partial, "r", swmr=True) as f:
        assert f["entry/gains/freq_hz"].shape[0] == 4 and f["entry/waveforms/code"].shape[0] == 5
    with open_run(partial) as run:
        assert run.opened_with_swmr and run.status == "running"
        assert run.n_rows("gains") == 3 and run.n_rows("points") == 3 and len(run.records) == 4
        assert np.array_equal(run.tables["gains"]["freq_hz"], [gains_row(i)["freq_hz"] for i in range(3)])


BAD_ROWS = [
    ({k: v for k, v in gains_row(0).items() if k != "CMRR_diff_u"}, r"missing column\(s\) 'CMRR_diff_u'"),
    ({**gains_row(0), "Acm": 1.0}, r"unknown column\(s\) 'Acm'"),
    ({**gains_row(0), "S": np.zeros((2, 3))}, r"column 'S': expected shape \(2, 2\), got \(2, 3\)"),
    ({**gains_row(0), "vpp_v": 1.0}, r"column 'vpp_v': expected shape \(4,\), got \(\)"),
    ({**gains_row(0), "freq_hz": "1 kHz"}, r"column 'freq_hz': expected a real number"),
    ({**gains_row(0), "CMRR_diff": 60 + 1j}, r"column 'CMRR_diff': expected a real number"),
    ({**gains_row(0), "n_avg": 4.5}, r"column 'n_avg': expected an integer"),
    ({**gains_row(0), "clipped": 1}, r"column 'clipped': expected a bool"),
    ({**gains_row(0), "mode": b"diff"}, r"column 'mode': expected text"),
    ({**gains_row(0), "CMRR_diff_u": -0.1}, r"column 'CMRR_diff_u': an uncertainty cannot be negative"),
    ({**gains_row(0), "vpp_v": [[1, 2], [3]]}, r"column 'vpp_v'"),
    ([1, 2, 3], r"a row must be a dict"),
]


def test_bad_rows_raise_one_error_and_write_nothing(tmp_path: Path) -> None:
    ar = create(tmp_path / "run.h5")
    ar.append("gains", gains_row(0))
    ar.commit()
    for row, match in BAD_ROWS:
        with pytest.raises(ArchiveError, match=match) as e:
            ar.append("gains", row)
        assert one_line(e.value) and isinstance(e.value, DiffbenchError)
        assert ar.n_rows("gains") == 1
    with pytest.raises(ArchiveError, match="no table 'gain' \\(declared: gains, points\\)"):
        ar.append("gain", gains_row(0))
    ar.append("gains", gains_row(1))
    ar.finish()
    with open_run(tmp_path / "run.h5") as run, h5py.File(tmp_path / "run.h5", "r") as f:
        assert run.n_rows("gains") == 2 and list(run.tables["gains"]["n_avg"]) == [4, 5]
        assert all(f[f"entry/gains/{name}"].shape[0] == 2 for name in ("freq_hz", "S", "S_u", "mode", "vpp_v"))


def test_shorter_records_come_back_at_their_own_length(tmp_path: Path) -> None:
    """A scope may deliver fewer points at some timebases: the record is padded and n_valid kept."""
    ar = create(tmp_path / "run.h5", "int8")
    codes, s = record(0, 0, "int8")
    ar.append_record(0, codes, **s)
    ar.append_record(1, codes[:, :1234], **s)
    ar.commit()
    ar.finish()
    with open_run(tmp_path / "run.h5") as run:
        recs = run.records
        assert np.array_equal(recs.codes(0), codes) and np.array_equal(recs.codes(1), codes[:, :1234])
        volts, t = recs.volts(1)
        assert volts.shape == (4, 1234) and t.shape == (1234,)
        assert list(recs.n_valid) == [codes.shape[1], 1234]


def test_bad_records_raise_and_write_nothing(tmp_path: Path) -> None:
    ar = create(tmp_path / "run.h5", "int8")
    codes, s = record(0, 0, "int8")
    bad = [
        ((0, np.hstack([codes, codes[:, :1]])), s,
         r"codes must have shape \(channels, samples\) = \(4, 1..5000\), got \(4, 5001\)"),
        ((0, codes[:3]), s, r"codes must have shape \(channels, samples\) = \(4, 1..5000\), got \(3, 5000\)"),
        ((0, codes.astype(np.int16) * 2), s, r"codes \(int16\) do not fit the archive's int8 codes"),
        ((0, codes.astype(float)), s, r"codes \(float64\) do not fit"),
        ((-1, codes), s, r"point must be a non-negative integer"),
        ((0, codes), {**s, "y_increment": [1e-3, 1e-3]}, r"y_increment must be a scalar or have 4 values"),
        ((0, codes), {**s, "x_origin": [0.0, 1.0]}, r"x_origin must be one real number"),
        ((0, codes), {**s, "y_origin": "0 V"}, r"y_origin must be a real number per channel"),
    ]
    for args, scaling, match in bad:
        with pytest.raises(ArchiveError, match=match) as e:
            ar.append_record(*args, **scaling)
        assert one_line(e.value) and ar.n_records == 0
    # int16 codes that fit int8 are accepted; a scalar scaling applies to every channel
    ar.append_record(0, codes.astype(np.int16), y_increment=0.01, y_origin=0.0, y_reference=0, x_increment=1e-6,
                     x_origin=0.0)
    waves = [Waveform(c + 1, codes[c], 0.02 * (c + 1), 0.5, 1.0, 1e-6, -1e-3, -128, 127) for c in range(4)]
    ar.append_waveforms(7, waves)
    skewed = waves[:3] + [Waveform(4, codes[3], 0.02, 0.5, 1.0, 2e-6, -1e-3, -128, 127)]
    with pytest.raises(ArchiveError, match="different time axes"):
        ar.append_waveforms(8, skewed)
    with pytest.raises(ArchiveError, match="expected 4 waveforms"):
        ar.append_waveforms(8, waves[:2])
    ar.finish()
    with open_run(tmp_path / "run.h5") as run:
        recs = run.records
        assert recs is not None and len(recs) == 2 and list(recs.point) == [0, 7]
        assert np.array_equal(recs.codes(0), codes) and np.array_equal(recs.y_increment[0], [0.01] * 4)
        volts, t = recs.volts(1)
        for c in range(4):
            assert np.array_equal(volts[c], waves[c].volts)
        assert np.allclose(t, waves[0].time_s, rtol=0, atol=1e-15)


BAD_DECLARATIONS = [
    ({"tables": {"waveforms": points_spec()}}, "table name 'waveforms' is reserved"),
    ({"tables": {"2gains": points_spec()}}, "table name '2gains' must start with a letter"),
    ({"tables": {"t": TableSpec({})}}, "table 't': no columns"),
    ({"tables": {"t": TableSpec({"x": Column("float32", "V", "x")})}}, "dtype 'float32' is not one of"),
    ({"tables": {"t": TableSpec({"x": Column("float64", "", "x")})}}, "numeric columns need units"),
    ({"tables": {"t": TableSpec({"x": Column("float64", "V", "x", shape=(2,), dims=("a", "b"))})}},
     "do not match shape"),
    ({"tables": {"t": TableSpec({"x": Column("int64", "1", "x", uncertainty=True)})}}, "only float64 and complex128"),
    ({"tables": {"t": TableSpec({"x": Column("float64", "V", "x", shape=(2,), dims=("ch",)),
                                 "y": Column("float64", "V", "y", shape=(3,), dims=("ch",))})}},
     "dimension 'ch' has size 2 and 3"),
    ({"tables": {"t": TableSpec({"a": Column("complex128", "1", "a", uncertainty=True),
                                 "a_u": Column("float64", "1", "x")})}},
     "'a_u', which is taken"),
    ({"tables": {"t": TableSpec({"x": Column("float64", "V", "x")}, signal="y")}}, "signal 'y' must name a scalar"),
    ({"tables": {"t": TableSpec({"x": Column("float64", "V", "x", shape=(2,))}, labels={"x_dim0": ("a",)})}},
     "must be 2 strings"),
    ({"waveform_spec": WaveformSpec(CHANNELS, N, "float32")}, "dtype 'float32' is not one of int8"),
    ({"waveform_spec": WaveformSpec(("v1", "v1"), N, "int8")}, "must be distinct"),
    ({"waveform_spec": WaveformSpec(CHANNELS, 0, "int8")}, "n_samples 0 must be a positive integer"),
    ({"metadata": {"when": object()}}, "metadata is not JSON-serialisable"),
    ({"configs": {"board": b"x = 1"}}, "config 'board' must be text"),
    ({"instruments": {"scope": {"idn": "x", "resource": "y"}}}, r"missing \['driver'\]"),
    ({"instruments": {"scope": {**INSTRUMENTS["scope"], "serial": "1"}}}, r"unknown \['serial'\]"),
    ({"tables": {}, "waveform_spec": None}, "at least one table or a waveform_spec"),
]


@pytest.mark.parametrize("kwargs,match", BAD_DECLARATIONS)
def test_bad_declarations_raise_before_any_file_exists(tmp_path: Path, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ArchiveError, match=match) as e:
        create(tmp_path / "run.h5", **kwargs)
    assert one_line(e.value)
    assert list(tmp_path.iterdir()) == []


def test_create_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "run.h5"
    create(path).finish()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(ArchiveError, match="already exists"):
        create(path)
    with pytest.raises(ArchiveError, match="give the final name"):
        create(tmp_path / "other.h5.partial")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_reader_rejects_what_is_not_an_archive(tmp_path: Path) -> None:
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5 at all\n")
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f["x"] = np.arange(3)
    cases = [
        (text, "not an HDF5 file"),
        (plain, "an HDF5 file, but not a diffbench archive"),
        (tmp_path / "missing.h5", "no such file"),
        (tmp_path, "not a file"),
    ]
    for path, match in cases:
        with pytest.raises(ArchiveError, match=match) as e:
            open_run(path)
        assert one_line(e.value) and str(path) in str(e.value)
        with pytest.raises(ArchiveError, match=match):
            RunArchive.resume(path)
    assert text.read_text() == "not hdf5 at all\n"


def test_reader_rejects_damaged_or_newer_archives(tmp_path: Path) -> None:
    path = _finished(tmp_path)
    with h5py.File(path, "r+") as f:
        f["entry/n_committed"][0] = 99  # claims more gains rows than the file holds
    with pytest.raises(ArchiveError, match="holds 3 rows but 99 are committed; the file is damaged") as e:
        open_run(path)
    assert one_line(e.value)
    with h5py.File(path, "r+") as f:
        f["entry/n_committed"][0] = 3
        del f["entry/gains/mode"]
    with pytest.raises(ArchiveError, match="damaged or incomplete archive"):
        open_run(path)
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = "2.0"
    with pytest.raises(ArchiveError, match="archive format '2.0' is not readable by this diffbench"):
        open_run(path)


def test_context_manager_sets_status(tmp_path: Path) -> None:
    with create(tmp_path / "ok.h5") as ar:
        write_point(ar, 0, "int8")
    with pytest.raises(RuntimeError):
        with create(tmp_path / "bad.h5") as ar:
            write_point(ar, 0, "int8")
            raise RuntimeError("scope CH3 clipped\non every range")
    with pytest.raises(KeyboardInterrupt):
        with create(tmp_path / "stop.h5") as ar:
            raise KeyboardInterrupt
    expected = {"ok.h5": ("complete", ""), "bad.h5": ("failed", "RuntimeError: scope CH3 clipped on every range"),
                "stop.h5": ("aborted", "interrupted (KeyboardInterrupt)")}
    for name, (status, reason) in expected.items():
        with open_run(tmp_path / name) as run:
            assert (run.status, run.reason) == (status, reason)
    with open_run(tmp_path / "bad.h5") as run:
        assert run.n_rows("gains") == 1
    with pytest.raises(ArchiveError, match="the archive is finished"):
        ar.append("points", {"point": 0, "Add": 1.0})
    with pytest.raises(ArchiveError, match="status must be one of complete, aborted, failed"):
        create(tmp_path / "x.h5").finish("done")


def test_results_validation(tmp_path: Path) -> None:
    ar = create(tmp_path / "run.h5")
    write_fit(ar)
    with pytest.raises(ArchiveError, match="already written"):
        write_fit(ar)
    cases = [
        ({"a": [1, 2], "b": [1, 2, 3]}, {"dims": {"a": ("p",), "b": ("p",)}}, "dimension 'p' has size 2 and 3"),
        ({"a": [1, 2]}, {"units": {"b": "V"}}, r"units for unknown array\(s\) \['b'\]"),
        ({"a": [1, 2]}, {"attrs": {"nested": {"x": 1}}}, "attribute 'nested' must be"),
        ({"a": [object()]}, {}, "unsupported dtype object"),
        ({}, {}, "non-empty dict"),
    ]
    for arrays, kw, match in cases:
        with pytest.raises(ArchiveError, match=match):
            ar.write_result("r", arrays, **kw)
    ar.finish()


def test_resume_a_finished_aborted_run_keeps_the_original(tmp_path: Path) -> None:
    path = tmp_path / "run.h5"
    ar = create(path, "int16")
    for i in range(3):
        write_point(ar, i, "int16")
    ar.append("gains", gains_row(3))  # appended after the last commit: finish() commits it
    ar.finish("aborted", "operator stop")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()

    ar2, committed = RunArchive.resume(path)
    moved = Path(committed.source)
    assert re.fullmatch(r"run\.interrupted-\d{8}T\d{6}Z\.h5", moved.name)
    assert hashlib.sha256(moved.read_bytes()).hexdigest() == digest
    assert committed.n_rows("gains") == 4 and committed.n_rows("points") == 3
    assert list(committed.record_points) == [0, 1, 1, 2]
    assert ar2.partial_path == tmp_path / "run.h5.partial" and ar2.n_rows("points") == 3 and ar2.n_records == 4
    for i in range(3, 5):
        write_point(ar2, i, "int16")
    ar2.finish()
    with open_run(path) as run, open_run(moved) as original:
        assert run.status == "complete" and run.run_id == original.run_id and run.start_time == original.start_time
        assert run.n_rows("points") == 5 and run.n_rows("gains") == 6 and len(run.records) == 7
        assert run.metadata == METADATA and run.configs == original.configs and run.instruments == INSTRUMENTS
        (entry,) = run.resumed
        assert entry["from"] == str(path) and entry["moved_to"] == str(moved) and entry["status"] == "aborted"
        assert entry["reason"] == "operator stop" and entry["rows"] == {"gains": 4, "points": 3}
        assert entry["records"] == 4
        for i in range(4):
            assert np.array_equal(run.records.codes(i), original.records.codes(i))
    with pytest.raises(ArchiveError, match="status is 'complete'"):
        RunArchive.resume(path)


def test_resume_to_out_path_leaves_the_original_in_place(tmp_path: Path) -> None:
    path = tmp_path / "run.h5"
    ar = create(path, "uint8", compress=True)
    write_point(ar, 0, "uint8")
    write_fit(ar)
    ar.finish("failed", "VISA timeout")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    ar2, committed = RunArchive.resume(path, out_path=tmp_path / "run2.h5")
    assert committed.source == str(path)
    write_point(ar2, 1, "uint8")
    ar2.finish()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    with open_run(tmp_path / "run2.h5") as run:
        assert run.n_rows("points") == 2 and run.results == {}  # results belong to the run that wrote them
        assert run.resumed[0]["moved_to"] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5", "run2.h5"]


def test_resume_with_out_path_equal_to_its_own_name_continues_in_place(tmp_path: Path) -> None:
    """``diffbench run -o run.h5 --resume run.h5.partial``: the run keeps its name, the original moves aside."""
    path = tmp_path / "run.h5"
    ar = create(path, "int8")
    write_point(ar, 0, "int8")
    ar.finish("aborted", "stopped")
    for src in (path, tmp_path / "run.h5.partial"):
        if src.name.endswith(".partial"):
            path.rename(src)  # the same run, as a killed writer would have left it
        digest = hashlib.sha256(src.read_bytes()).hexdigest()
        ar2, committed = RunArchive.resume(src, out_path=path)
        moved = Path(committed.source)
        assert moved.name.startswith("run.interrupted-") and hashlib.sha256(moved.read_bytes()).hexdigest() == digest
        assert ar2.path == path and ar2.partial_path.exists() and not path.exists()
        ar2.finish("aborted", "again")
        moved.unlink()
    with open_run(path) as run:
        assert run.n_rows("points") == 1 and len(run.resumed) == 2


def _finished(tmp_path: Path) -> Path:
    path = tmp_path / "run.h5"
    ar = create(path, "int8")
    for i in range(3):
        write_point(ar, i, "int8")
    write_fit(ar)
    ar.finish()
    return path


def test_documented_h5py_snippet_reads_the_file(tmp_path: Path) -> None:
    """docs/archive.md's plain-h5py example runs against a real archive and agrees with the reader."""
    doc = (Path(__file__).resolve().parents[3] / "docs" / "archive.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- snippet: h5py -->\s*```python\n(.*?)```", doc, re.S)
    assert m, "docs/archive.md lost its h5py snippet"
    path = _finished(tmp_path)
    ns: dict[str, Any] = {"path": str(path)}
    exec(compile(m.group(1), "docs/archive.md", "exec"), ns)
    with open_run(path) as run:
        assert ns["status"] == "complete" and ns["n_gains"] == 3
        assert np.array_equal(ns["Add"], run.tables["gains"]["S"][:, 0, 0])
        volts, t = run.records.volts(1)
        assert np.array_equal(ns["volts"], volts) and np.array_equal(ns["t"], t)
        assert ns["configs"]["board"] == BOARD_TOML and ns["idn"]["scope"] == INSTRUMENTS["scope"]["idn"]


def test_to_xarray(tmp_path: Path) -> None:
    pytest.importorskip("xarray")
    path = _finished(tmp_path)
    with open_run(path) as run:
        ds = run.to_xarray("gains")
        assert ds.sizes == {"freq_hz": 3, "mode_out": 2, "mode_in": 2, "channel": 4}
        assert np.array_equal(ds["freq_hz"].values, run.tables["gains"]["freq_hz"]) and "freq_hz" in ds.indexes
        assert ds.sel(freq_hz=run.tables["gains"]["freq_hz"][1])["S"].values.tolist() == \
            run.tables["gains"]["S"][1].tolist()
        assert run.to_xarray("points").sizes == {"row": 3}
        assert np.array_equal(ds["S"].values, run.tables["gains"]["S"])
        assert ds["S"].attrs["units"] == "1" and ds["S"].attrs["ancillary_variables"] == "S_u"
        assert list(ds["mode_out"].values) == ["d", "c"]
        assert ds.sel(mode_out="d", mode_in="c")["S"].values.tolist() == run.tables["gains"]["S"][:, 0, 1].tolist()
        with pytest.raises(ArchiveError, match="no table 'nope'"):
            run.to_xarray("nope")


def test_xarray_h5netcdf_opens_the_file_directly(tmp_path: Path) -> None:
    xr = pytest.importorskip("xarray")
    pytest.importorskip("h5netcdf")
    path = _finished(tmp_path)
    with open_run(path) as run:
        ref = run.tables["gains"]
        volts, _ = run.records.volts(2)
    with xr.open_dataset(path, engine="h5netcdf", group="entry/gains") as g:
        assert g.sizes["freq_hz"] == 3 and "freq_hz" in g.indexes  # the axis column indexes the rows
        assert g["S"].dtype == np.complex128 and np.array_equal(g["S"].values, ref["S"])
        assert np.array_equal(g["S_u"].values, ref["S_u"])
        assert g["freq_hz"].attrs["units"] == "Hz" and g["CMRR_diff"].attrs["ancillary_variables"] == "CMRR_diff_u"
        assert list(g["mode"].values) == list(ref["mode"])
    with xr.open_dataset(path, engine="h5netcdf", group="entry/waveforms") as w:
        v = (w.code - w.y_reference) * w.y_increment + w.y_origin  # the reference's to_volts, lazily
        assert np.array_equal(v.isel(record=2).values, volts)
        assert list(w.channel.values) == list(CHANNELS)
    with xr.open_dataset(path, engine="h5netcdf", group="entry/results/fit_bjt") as r:
        assert r["covariance"].dims == ("param", "param2")


def test_netcdf_c_opens_the_file(tmp_path: Path) -> None:
    netCDF4 = pytest.importorskip("netCDF4")
    path = _finished(tmp_path)
    with open_run(path) as run:
        ref = run.tables["gains"]["S"]
    with netCDF4.Dataset(path) as nc:
        w = nc["entry/waveforms"]
        assert w.dimensions["record"].isunlimited() and len(w.dimensions["record"]) == 4
        assert nc["entry/gains"]["freq_hz"].units == "Hz"
        gains = nc["entry/gains"]
        assert gains.dimensions["freq_hz"].isunlimited() and gains["S"].dimensions[0] == "freq_hz"
        s = gains["S"][:]  # netCDF-C: a compound {r, i}
        assert np.array_equal(s["r"] + 1j * s["i"], ref)
        assert nc["entry/configs/board/tail"].getncattr("i_a") == 100e-6
    with netCDF4.Dataset(path, auto_complex=True) as nc:  # netCDF4-python's nc-complex reading: complex again
        assert nc["entry/gains"]["S"].dtype == np.complex128
        assert list(nc["entry"]["n_committed"][:]) == [3, 3, 4]


def test_configs_are_also_stored_parsed(tmp_path: Path) -> None:
    """Each TOML config also becomes a group of its tables and values (docs/archive.md "Configs"); a config that
    is not TOML (a SPICE netlist) keeps its text only."""
    netlist = "* pair\nQ1 c1 b1 e npn\n.end\n"
    bench = ("[generator]\nresource = 'TCPIP0::127.0.0.1::5025::SOCKET'\nload_ohm = 50.0\ntrack = true\n"
             "channels = [1, 2]\n[[probe]]\nnode = 'v1'\n[[probe]]\nnode = 'v2'\n['odd/key']\nx = []\n")
    path = tmp_path / "run.h5"
    ar = create(path, configs={"bench": bench, "netlist": netlist})
    write_point(ar, 0, "int8")
    ar.finish()
    with h5py.File(path, "r") as f:
        configs = f["entry/configs"]
        assert set(configs) == {"bench"} and configs.attrs["netlist"] == netlist
        gen = configs["bench/generator"].attrs
        assert gen["resource"] == "TCPIP0::127.0.0.1::5025::SOCKET" and gen["load_ohm"] == 50.0
        assert gen["track"] == 1 and gen["track"].dtype == np.int8 and list(gen["channels"]) == [1, 2]
        assert [configs[f"bench/probe/{i}"].attrs["node"] for i in (0, 1)] == ["v1", "v2"]
        assert configs["bench/odd%2Fkey"].attrs["x"] == "[]"
    with open_run(path) as run:
        assert run.configs == {"bench": bench, "netlist": netlist}
