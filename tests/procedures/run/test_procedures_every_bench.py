"""Every shipped procedure completes on every simulated bench, and its archive holds every planned point.

Each procedure in ``configs/procedures/`` runs on ``sim-keysight`` (33522B + DSOX1204G), ``sim-rigol``
(DG1062Z + DS1054Z), each other family's simulated bench in ``configs/benches/`` and ``sim-mixed`` (a Rigol
generator with a Keysight scope), with the ``bjt-source-text`` board, from a copy of the shipped file with the
same kind and sections but fewer points and shorter records, so each bench's share stays around a minute: two
frequencies (the ends of the shipped range), the first and last drive amplitudes, three DC and common-mode
levels, 10 000-point records. Every kind of procedure and every kind of point it plans (differential, common
mode, channel calibration, DC) is still measured on every family's dialect: the DS1000Z's SINGle sweep, which
never triggers on a DC level by itself, its windowed memory reads, the InfiniiVision's ``:DIGitize``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomllib

from instruments.board_config import load_board
from instruments.sim.board import SimBoard
from procedures.archive.reader import open_run
from procedures.config.procedure import load_procedure
from procedures.measure.plan import plan
from procedures.run.runner import run_procedure

ROOT = Path(__file__).resolve().parents[3]
PROCEDURES = sorted((ROOT / "configs" / "procedures").glob("*.toml"))
BOARD = ROOT / "configs" / "boards" / "bjt-source-text.toml"
RECORD_POINTS = 10_000


def _value(v: Any) -> str:
    """A TOML value (the shipped procedures hold booleans, numbers, strings and lists of those)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(v)


def reduced(shipped: Path, out: Path) -> Path:
    """``shipped`` with fewer points and shorter records, written to ``out``."""
    doc: dict[str, dict[str, Any]] = tomllib.loads(shipped.read_text())
    if "frequency" in doc:
        f = doc["frequency"]
        if "list_hz" in f:
            f["list_hz"] = [f["list_hz"][0], f["list_hz"][-1]][: len(f["list_hz"])]
        else:
            f["points"] = 2
    if "amplitude" in doc and "vid_vpk" in doc["amplitude"]:
        amps = doc["amplitude"]["vid_vpk"]
        doc["amplitude"]["vid_vpk"] = [amps[0], amps[-1]] if len(amps) > 1 else amps
    for section in ("dc", "cm_range"):
        if section in doc:
            doc[section]["points"] = 3
    doc.setdefault("acquisition", {})["record_points"] = RECORD_POINTS
    lines = []
    for section, keys in doc.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {_value(v)}" for k, v in keys.items()]
        lines.append("")
    out.write_text("\n".join(lines))
    return out


FAMILIES = [f for f in ("keysight", "rigol", "siglent", "tektronix", "mixed")
            if (ROOT / "configs" / "benches" / f"sim-{f}.toml").exists()]


@pytest.mark.parametrize("dialect", FAMILIES)
@pytest.mark.parametrize("shipped", PROCEDURES, ids=[p.stem for p in PROCEDURES])
def test_procedure_completes_and_archives_every_planned_point(tmp_path: Path, shipped: Path, dialect: str,
                                                            sim_bench: Any) -> None:
    proc_path = reduced(shipped, tmp_path / shipped.name)
    proc = load_procedure(proc_path)
    assert proc.kind == tomllib.loads(shipped.read_text())["procedure"]["kind"]  # the same kind as shipped
    planned = [p.key for p in plan(proc, load_board(BOARD))]
    sim = sim_bench(dialect)
    out = run_procedure(proc_path, ROOT / "configs" / "benches" / f"sim-{dialect}.toml", BOARD,
                        tmp_path / "run.h5", sim_bench=sim)
    assert out.status == "complete", out.reason
    assert sim.generator.outputs_on() == (False, False)
    with open_run(out.path) as run:
        assert run.status == "complete"
        keys = [str(k) for k in run.tables["points"]["key"]]
        assert sorted(keys) == sorted(planned)
        assert run.records is not None and len(run.records) == len(planned) * proc.acquisition["repeats"]
    if proc.kind == "frequency_sweep":
        _recovers_the_truth(out.results["gains"], dialect)


def _recovers_the_truth(rows: list[dict[str, Any]], dialect: str) -> None:
    """Each frequency's Add, CMRR_se1 and CMRR_diff against the simulated board's own small-signal S, within 4 of
    their standard uncertainties (not 3: 6 checks per family, and a chance 3 u miss in one of 24 is 6 %)."""
    truth = SimBoard.from_config(load_board(BOARD))
    for row in rows:
        f = float(row["frequency_hz"])
        T = truth.small_signal_s(f)
        S, S_u = row["S"], np.real(row["S_u"])
        where = f"{dialect} at {f:g} Hz"
        assert abs(S[0, 0] - T[0, 0]) < 4 * S_u[0, 0], \
            f"{where}: Add {S[0, 0]:.6g} vs {T[0, 0]:.6g} (u {S_u[0, 0]:.2g})"
        se1 = 20 * np.log10(abs((T[0, 0] / 2 + T[1, 0]) / (T[1, 1] + T[0, 1] / 2)))
        diff = 20 * np.log10(abs(T[0, 0] / T[0, 1]))
        for name, want in (("CMRR_se1_db", se1), ("CMRR_diff_db", diff)):
            if row[f"{name}_kind"] == "value":
                assert abs(row[name] - want) < 4 * row[f"{name}_u"], f"{where}: {name} {row[name]:.5g} vs {want:.5g}"
