"""The README's "As a library" snippet, run exactly as printed, on the simulated bench.

The code block is taken from README.md at test time (so the README cannot drift from what runs), executed in
a fresh interpreter in a scratch folder that sees the repository's ``configs/``, and its output and archive
are checked against the archive read back independently with h5py.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np

REPO = Path(__file__).resolve().parents[1]


def readme_snippet() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## As a library", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the README's library section should hold one python block"
    return blocks[0]


def test_the_readme_library_snippet_runs(tmp_path: Path) -> None:
    (tmp_path / "configs").symlink_to(REPO / "configs")
    done = subprocess.run([sys.executable, "-c", readme_snippet()], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    with h5py.File(tmp_path / "quick-look.h5", "r") as f:
        assert f.attrs["status"] == "complete"
        entry = f["entry"]
        committed = dict(zip([p.decode() for p in entry["part"][()]], entry["n_committed"][()]))
        assert "fit_small_signal" in entry["results"], "refit wrote its result into the archive"
        cmrr_archived = entry["gains"]["CMRR_diff_db"][: committed["gains"]]
    progress = [ln for ln in lines if re.match(r"^\d+/\d+ ", ln)]
    total = int(progress[0].split()[0].split("/")[1])
    assert [int(ln.split("/")[0]) for ln in progress] == list(range(1, total + 1)), "one callback per point"
    assert committed["points"] == total
    cmrr = [float(m.group(1)) for ln in lines if (m := re.search(r"CMRR_diff\s+(-?[\d.]+) dB", ln))]
    np.testing.assert_allclose(cmrr, cmrr_archived, atol=0.051)  # printed with one decimal
    assert (tmp_path / "quick-look-report" / "report.html").is_file()
