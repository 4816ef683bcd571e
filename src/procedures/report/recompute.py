"""Results of a run that did not finish, recomputed from its committed points for the report.

The same computation the run would have made at its end (:func:`procedures.analysis.results.compute_results`),
in memory: the archive is never written. Whatever stops it becomes a warning on the page, not an error.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from procedures.analysis.results import compute_results
from procedures.archive.reader import RunData
from procedures.config.procedure import parse_procedure
from procedures.measure.calibration_plan import bench_of_text
from procedures.measure.plan import plan
from procedures.report.context import Context, Table, first_line

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def recompute(run: RunData, ctx: Context, tables: dict[str, Table]) -> None:
    """Add to ``tables`` the result tables ``run``'s committed points complete (names in ``ctx.recomputed``)
    and say so in ``ctx.warnings``. Needs the board config (for the plan): without it, nothing is done."""
    if ctx.board is None:
        return
    cols = run.tables["points"]
    n = len(next(iter(cols.values())))
    try:
        proc = parse_procedure(tomllib.loads(run.configs["procedure"]), source=f"{run.path.name}:procedure",
                               raw=run.configs["procedure"])
        bench_text = run.configs.get("bench")
        points = plan(proc, ctx.board, bench_of_text(bench_text, run.path.name) if bench_text else None)
        results = compute_results(proc, [{k: v[i] for k, v in cols.items()} for i in range(n)], points)
    except Exception as e:  # noqa: BLE001 - a report of a broken run must still be written
        ctx.warnings.append(f"could not recompute results from the {run.n_rows('points')} committed points "
                            f"({type(e).__name__}: {first_line(e)})")
        return
    for name, rows in results.items():
        if name in tables or not rows:
            continue
        tables[name] = {k: np.array([r[k] for r in rows]) for k in rows[0].keys()}
        ctx.recomputed.append(name)
    planned = ctx.metadata.get("planned_points")
    of = f" of {planned} planned" if planned else ""
    if ctx.recomputed:
        ctx.warnings.append(f"the run did not finish: table(s) {', '.join(ctx.recomputed)} were recomputed by the "
                            f"report from the {n} committed points{of} (not stored in the archive)")
    else:
        ctx.warnings.append(f"the run did not finish: its {n} committed points{of} complete no result yet (a "
                            "frequency needs both its differential and its common-mode points), so there is "
                            "nothing to plot")
    note = _calibration_note(cols, ctx.recomputed)
    if note:
        ctx.warnings.append(note)


def _calibration_note(cols: dict[str, Any], recomputed: list[str]) -> str:
    """compute_results falls back to uncalibrated channels for a group whose link point was not measured:
    say how many of the recomputed frequencies that is."""
    try:
        role = np.asarray(cols["role"]).astype(str)
        group = np.asarray(cols["group"]).astype(int)
        solved = set(group[role == "dm"]) & set(group[role == "cm"])
        linked = set(group[role == "link"])
        if linked and "gains" in recomputed and solved - linked:
            return (f"{len(solved - linked)} of the {len(solved)} recomputed frequencies have no channel "
                    "calibration (link) point yet: their gains are uncalibrated (channel gain and phase "
                    "mismatch not removed)")
    except (KeyError, ValueError, TypeError):
        pass
    return ""
