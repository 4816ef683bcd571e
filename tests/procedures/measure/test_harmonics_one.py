"""``[acquisition] harmonics = 1`` (the fundamental alone, which the schema allows) runs and archives.

There are no harmonics 2..K to store: the ``points`` table then has no ``harmonics`` column (an archive
column cannot have a zero-length axis), the amplitude sweep's THD is NaN (not measured), and a THD limit in
the board config is not judged on it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from procedures.archive.reader import open_run
from procedures.measure.point_table import points_table
from procedures.run.runner import run_procedure

ROOT = Path(__file__).resolve().parents[3]
BOARD = ROOT / "configs" / "boards" / "bjt-source-text.toml"


def test_points_table_has_a_harmonics_column_only_beyond_the_fundamental():
    assert "harmonics" not in points_table(1).columns
    assert points_table(2).columns["harmonics"].shape == (4, 1)
    assert points_table(5).columns["harmonics"].shape == (4, 4)


@pytest.mark.parametrize("dialect", ["keysight", "rigol"])
def test_amplitude_sweep_with_the_fundamental_alone_completes(tmp_path: Path, dialect: str, sim_bench: Any) -> None:
    proc = tmp_path / "h1.toml"
    proc.write_text('[procedure]\nname = "h1"\nkind = "amplitude_sweep"\n'
                    "[amplitude]\nfrequency_hz = 1000.0\nvid_vpk = [0.005, 0.02]\n"
                    "[acquisition]\nrecord_points = 10000\nharmonics = 1\n")
    out = run_procedure(proc, ROOT / "configs" / "benches" / f"sim-{dialect}.toml", BOARD, tmp_path / "run.h5",
                        sim_bench=sim_bench(dialect))
    assert out.status == "complete", out.reason
    assert all(math.isnan(row["thd_out"]) for row in out.results["dm_gain"])
    assert all(v.limit != "thd_max" for v in out.verdicts)
    with open_run(out.path) as run:
        assert run.status == "complete"
        assert "harmonics" not in run.tables["points"]
        # the two drives and the calibrations the plan chose (the link; the crosstalk, one probe at a time:
        # -70 dB would bias the measured vid by several u)
        assert sorted(map(str, run.tables["points"]["key"])) == ["a-link", "a-xt-v1", "a-xt-v2", "a-xt-vo1",
                                                                  "a-xt-vo2", "a0-dm", "a1-dm"]
