"""``refit`` and ``diffbench fit`` when no fit can be made: one line, exit status 2, the archive untouched."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
from test_report import make_archive  # noqa: E402  (a synthetic archive with the procedures' own tables)

from procedures.cli.main import main  # noqa: E402
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
