"""Preflight plans the crosstalk calibration for the bench the run is on, and the archive keeps the decision.

The figure assumed comes from the bench: a simulated bench's own ``[sim] scope_crosstalk_db``, a real bench's
assumed poor scope (-40 dB, procedures.measure.calibration_plan.REAL_SCOPE_CROSSTALK_DB). The plan's crosstalk
points follow the decision, so the same procedure and board get the calibration on a real bench where the
simulated one does not need it.
"""

from __future__ import annotations

from pathlib import Path

from procedures.measure.calibration_plan import REAL_SCOPE_CROSSTALK_DB
from procedures.run.preflight import preflight

ROOT = Path(__file__).resolve().parents[3]
PROC = ROOT / "configs" / "procedures" / "frequency-sweep.toml"
BOARD = ROOT / "configs" / "boards" / "bjt-source-text.toml"


def test_real_bench_assumes_a_poor_scope_and_plans_the_calibration(tmp_path: Path) -> None:
    real = preflight(PROC, ROOT / "configs" / "benches" / "keysight-33522b-dsox1204g.toml", BOARD,
                     tmp_path / "r.h5", interactive=True)
    sim = preflight(PROC, ROOT / "configs" / "benches" / "sim-keysight.toml", BOARD, tmp_path / "s.h5")
    assert real.calibration is not None and sim.calibration is not None
    assert real.calibration.crosstalk_db == REAL_SCOPE_CROSSTALK_DB
    assert "real scope" in real.calibration.crosstalk_source
    assert sim.calibration.crosstalk_source.endswith("sim-keysight.toml [sim] scope_crosstalk_db")
    assert real.calibration.crosstalk and any(p.role == "xtalk" for p in real.points)
    assert not sim.calibration.crosstalk and not any(p.role == "xtalk" for p in sim.points)
