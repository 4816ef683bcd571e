"""``refit`` and ``diffbench fit`` when no fit can be made: one line, exit status 2, the archive untouched."""

from __future__ import annotations

import dataclasses
import hashlib
import sys
from pathlib import Path

import h5py
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
from test_report import make_archive  # noqa: E402  (a synthetic archive with the procedures' own tables)

from procedures.archive import files  # noqa: E402
from procedures.archive.reader import open_run  # noqa: E402
from procedures.cli.main import main  # noqa: E402
from procedures.fitting.archive_update import add_results  # noqa: E402
from procedures.fitting.refit import NoFitPossible, refit  # noqa: E402


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_fit_off_is_one_line_and_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = make_archive(tmp_path / "run.h5", "dc_transfer")
    before = _digest(archive)
    off = tmp_path / "off.toml"
    off.write_text("[fit]\nsmall_signal = false\nlarge_signal = false\ndc_transfer = false\n", encoding="utf-8")
    assert main(["fit", str(archive), "--config", str(off)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["diffbench fit: error: no fit could be made: every fit is off in [fit]"]
    options = {"small_signal": False, "large_signal": False, "dc_transfer": False, "bounds": {}}
    with pytest.raises(NoFitPossible, match="every fit is off"):
        refit(archive, options)
    assert _digest(archive) == before


def _results(path: Path) -> set[str]:
    with h5py.File(path, "r") as f:
        return set(f["entry/results"])


def _fit_groups(path: Path) -> set[str]:
    return {n for n in _results(path) if n.startswith("fit_")}


def test_a_refit_copy_can_hold_its_own_fits_only(tmp_path: Path) -> None:
    """``add_results(..., only_these_fits=True)`` (a lot refit's copies) leaves no fit the refit did not make;
    by default (``diffbench fit``) a fit of another name stays, as it always has."""
    archive = make_archive(tmp_path / "run.h5", "dc_transfer")
    (dc,) = refit(archive, write=False).fits
    add_results(archive, [dc, dataclasses.replace(dc, name="earlier_model")])  # fitted before with two models
    assert _fit_groups(archive) == {"fit_dc_transfer", "fit_earlier_model"}
    before = _digest(archive)
    only = add_results(archive, [dc], tmp_path / "only.h5", only_these_fits=True)
    kept = add_results(archive, [dc], tmp_path / "kept.h5")
    assert _fit_groups(only) == {"fit_dc_transfer"}
    assert _fit_groups(kept) == {"fit_dc_transfer", "fit_earlier_model"}
    assert _digest(archive) == before
    with open_run(only) as run:  # the copy is a whole archive: its results read back, the rest is the run's
        assert run.status == "complete"
        assert set(run.results) == _results(archive) - {"fit_earlier_model"}


def test_a_copy_is_made_durable_where_it_lands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The copy's data and then the folder that holds its new name are fsynced (a power loss after the command
    keeps the copy), whatever folder the copy is written to."""
    archive = make_archive(tmp_path / "run.h5", "dc_transfer")
    fits = refit(archive, write=False).fits
    synced: list[Path] = []
    real = files.fsync_path
    monkeypatch.setattr(files, "fsync_path", lambda p: (synced.append(Path(p)), real(p))[1])
    (tmp_path / "copies").mkdir()
    written = add_results(archive, fits, tmp_path / "copies" / "copy.h5")
    assert synced[-1] == tmp_path / "copies"  # the folder the copy was renamed in, last
    assert synced[-2].parent == tmp_path / "copies" and synced[-2].name.endswith(".fit-tmp")  # its data, before
    assert written.exists() and not synced[-2].exists()
