"""The run archive as xarray sees it: plain xarray on the archive ``make demo`` writes, and ``to_xarray()``.

The archive is what ``make demo`` writes: its procedure, bench and board files as the Makefile names them
(frequency, amplitude and DC sweeps, calibrations, fits, verdicts) on the simulated bench, about 10 s. A
separate Python process that never imports diffbench opens it with xarray + h5netcdf and selects by the
tables' axes; its answers are compared with the diffbench reader's. The DataTree's groups are compared with
the file's groups (h5py) and with the layout block of docs/archive.md, so that the doc, the file and
``to_xarray()`` cannot drift apart. A format 1.0 file (complex pairs) made from the archive still reads the
same.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from procedures.archive.reader import open_run
from procedures.run.runner import run_procedure

if sys.version_info >= (3, 11):
    pass
else:  # pragma: no cover - Python 3.10
    pass

xr = pytest.importorskip("xarray")
pytest.importorskip("h5netcdf")

ROOT = Path(__file__).resolve().parents[3]
BOARD = ROOT / "configs" / "boards" / "bjt-source-text.toml"
BENCH = ROOT / "configs" / "benches" / "sim-keysight.toml"
DEMO = ROOT / "configs" / "procedures" / "characterisation.toml"  # what `make demo` runs


# Runs in its own interpreter: xarray and h5netcdf only, nothing of diffbench.
PLAIN_XARRAY = r"""
import json, sys
import numpy as np
import xarray as xr

path = sys.argv[1]
out = {}
with xr.open_dataset(path, group="entry/gains", engine="h5netcdf") as g:
    at = g.sel(frequency_hz=1e3)
    out["gains_dims"] = list(g["S"].dims)
    out["S_1k"] = [[[z.real, z.imag] for z in row] for row in at["S"].values]
    out["S_dtype"] = str(g["S"].dtype)
    out["cmrr_units"] = g["CMRR_se2_db"].attrs["units"]
with xr.open_dataset(path, group="entry/dm_gain", engine="h5netcdf") as d:
    v = float(d["vid_vpk"].values[1])
    row = d.sel(vid_vpk=v)
    out["vid_vpk"] = v
    out["thd_at_v"] = float(row["thd_out"].values)
    out["add_at_v"] = [float(row["Add"].values.real), float(row["Add"].values.imag)]
    out["vid_vpk_units"] = d["vid_vpk"].attrs["units"]
with xr.open_dataset(path, group="entry/dc", engine="h5netcdf") as dc:
    out["dc_dim"] = list(dc["vod_v"].dims)
with xr.open_dataset(path, group="entry/waveforms", engine="h5netcdf") as w:
    t = w.x_origin + w.x_increment * w.sample        # the documented one-line time axis
    n = int(w.n_valid.values[0])
    out["time_0"] = t.isel(record=0).values[:n].tolist()
    out["time_dims"] = list(t.dims)
out["diffbench_imported"] = sorted(m for m in sys.modules if m.split(".")[0] in ("procedures", "instruments", "models"))
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def demo_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("demo")
    outcome = run_procedure(DEMO, BENCH, BOARD, tmp / "demo.h5")
    assert outcome.status == "complete"
    return Path(outcome.path)


def test_plain_xarray_selects_by_the_tables_axes(demo_archive: Path) -> None:
    """``ds.sel(frequency_hz=1e3)`` on the gains and ``.sel(vid_vpk=...)`` on the amplitude table, in a process
    without diffbench, give what the diffbench reader gives."""
    done = subprocess.run([sys.executable, "-c", PLAIN_XARRAY, str(demo_archive)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["diffbench_imported"] == []
    with open_run(demo_archive) as run:
        gains, dm = run.tables["gains"], run.tables["dm_gain"]
        i = int(np.flatnonzero(gains["frequency_hz"] == 1e3)[0])
        S = np.array(got["S_1k"])
        assert np.array_equal(S[..., 0] + 1j * S[..., 1], gains["S"][i])
        assert got["S_dtype"] == "complex128" and got["gains_dims"][0] == "frequency_hz"
        assert got["cmrr_units"] == "dB" and got["vid_vpk_units"] == "V"
        j = int(np.flatnonzero(dm["vid_vpk"] == got["vid_vpk"])[0])
        assert got["thd_at_v"] == dm["thd_out"][j]
        assert complex(*got["add_at_v"]) == dm["Add"][j]
        assert got["dc_dim"] == ["vid_v"]
        assert run.records is not None
        assert got["time_dims"] == ["record", "sample"]
        assert np.array_equal(np.array(got["time_0"]), run.records.time_s(0))


def _layout_patterns(tables: list[str]) -> dict[str, re.Pattern[str]]:
    """The groups of docs/archive.md's layout block, as patterns (``<table>`` stands for the run's tables)."""
    doc = (ROOT / "docs" / "archive.md").read_text(encoding="utf-8")
    block = re.search(r"## Layout\n.*?```\n(.*?)```", doc, re.S)
    assert block, "docs/archive.md lost its layout block"
    patterns: dict[str, re.Pattern[str]] = {}
    for line in block.group(1).splitlines():
        if not line.startswith("/"):
            continue
        token, _, description = line.partition(" ")
        if "(" in token or description.strip().startswith("committed datatype"):
            continue  # a dataset, or the committed complex type: not groups
        subtree = description.lstrip().startswith("...")
        path = re.escape(token.rstrip("/")) or ""
        path = path.replace(re.escape("<table>"), "(?:" + "|".join(map(re.escape, tables)) + ")")
        path = re.sub(re.escape("<") + r"\w+" + re.escape(">"), "[^/]+", path)
        patterns[token] = re.compile((path or "") + ("(?:/.+)?" if subtree else "") + "$" if token != "/" else "/$")
    return patterns


def test_to_xarray_is_a_datatree_with_the_documented_groups(demo_archive: Path) -> None:
    with h5py.File(demo_archive, "r") as f:
        file_groups = {"/"}
        f.visititems(lambda name, obj: file_groups.add("/" + name) if isinstance(obj, h5py.Group) else None)
        tables = [p for p in f["entry/part"].asstr()[()] if p != "waveforms"]
    with open_run(demo_archive) as run:
        tree = run.to_xarray()
        assert isinstance(tree, xr.DataTree)
        tree_groups = set(tree.groups)
        gains = tree["entry/gains"].to_dataset()
        assert np.array_equal(gains.sel(frequency_hz=1e3)["S"].values,
                              run.tables["gains"]["S"][run.tables["gains"]["frequency_hz"] == 1e3][0])
        waveforms = tree["entry/waveforms"].to_dataset()
        assert run.records is not None
        n = int(run.records.n_valid[1])
        assert np.array_equal(waveforms["time"].values[1, :n], run.records.time_s(1))
        assert waveforms["time"].attrs["units"] == "s"
        assert tree["entry/configs/board/board"].attrs["name"] == "bjt-source-text"
        assert tree["entry/configs/board/supply"].attrs["vcc_v"] == 5.0
        assert isinstance(run.to_xarray("gains"), xr.Dataset)
    assert tree_groups == file_groups
    patterns = _layout_patterns(tables)
    unmatched = sorted(g for g in tree_groups if not any(p.match(g) for p in patterns.values()))
    assert not unmatched, f"groups docs/archive.md does not list: {unmatched}"
    unused = sorted(t for t, p in patterns.items() if not any(p.match(g) for g in tree_groups))
    assert not unused, f"groups docs/archive.md lists that the demo archive lacks: {unused}"


def _as_format_1_0(src: Path, dst: Path) -> None:
    """A copy of ``src`` laid out as format 1.0 stored complex values: ``<name>_re``/``<name>_im`` float pairs."""
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        f.attrs["format_version"] = "1.0"
        complex_sets: list[h5py.Dataset] = []
        f.visititems(lambda _, obj: complex_sets.append(obj)
                     if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "c" else None)
        for ds in complex_sets:
            group, name, data = ds.parent, ds.name.rsplit("/", 1)[-1], ds[()]
            attrs: dict[str, Any] = {k: v for k, v in ds.attrs.items() if k not in ("DIMENSION_LIST",)}
            del group[name]
            stem, suffix = (name[:-2], "_u") if name.endswith("_u") else (name, "")
            for part, values in (("re", data.real), ("im", data.imag)):
                new = group.create_dataset(f"{stem}_{part}{suffix}", data=values, maxshape=(None,) + values.shape[1:]
                                           if group.attrs.get("diffbench_role") == "table" else None)
                for k, v in attrs.items():
                    new.attrs[k] = v


def test_a_format_1_0_archive_reads_the_same(demo_archive: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.h5"
    _as_format_1_0(demo_archive, old)
    with h5py.File(old, "r") as f:
        assert "S_re" in f["entry/gains"] and "S" not in f["entry/gains"]
    with open_run(demo_archive) as new_run, open_run(old) as old_run:
        assert old_run.format_version == "1.0"
        for table, cols in new_run.tables.items():
            for key, values in cols.items():
                assert np.array_equal(old_run.tables[table][key], values) or values.dtype.kind in "fc" and \
                    np.array_equal(old_run.tables[table][key], values, equal_nan=True), (table, key)
        for name, result in new_run.results.items():
            for key, values in result.arrays.items():
                got = old_run.results[name].arrays[key]
                assert got.dtype == values.dtype and (np.array_equal(got, values, equal_nan=values.dtype.kind in "fc")
                                                      if values.dtype.kind != "O" else list(got) == list(values))
        tree = old_run.to_xarray()
        assert tree["entry/gains"]["S"].dtype == np.complex128


def test_a_commit_cut_before_the_axis_coordinate_still_opens_in_plain_readers(tmp_path: Path) -> None:
    """The writer grows a table's axis coordinate after its other variables; a writer stopped between the two
    leaves the coordinate shorter than the data, which xarray and netCDF-C still open (the dimension takes the
    longest variable's length), while the diffbench reader keeps to the committed rows."""
    from test_archive import create, gains_row, write_point  # the synthetic archive of test_archive.py

    ar = create(tmp_path / "run.h5")
    for i in range(2):
        write_point(ar, i, "int8")
    writers = ar._archive.tables["gains"].writers
    assert list(writers)[-1] == "freq_hz", "the axis coordinate must be written last"
    ar.append("gains", gains_row(2))
    for name, w in writers.items():
        if name != "freq_hz":
            w.write_out()  # a commit cut before the coordinate and the counters
    ar._file.flush()
    ar._abandon()  # closed as it is, status "running": the file a reader finds
    partial = tmp_path / "run.h5.partial"
    with h5py.File(partial, "r") as f:
        assert f["entry/gains/freq_hz"].shape == (2,) and f["entry/gains/S"].shape[0] == 3
    with xr.open_dataset(partial, engine="h5netcdf", group="entry/gains") as g:
        assert g.sizes["freq_hz"] == 3
    netCDF4 = pytest.importorskip("netCDF4")
    with netCDF4.Dataset(partial) as nc:
        assert len(nc["entry/gains"].dimensions["freq_hz"]) == 3
    with open_run(partial) as run:
        assert run.n_rows("gains") == 2 and run.status == "running"
