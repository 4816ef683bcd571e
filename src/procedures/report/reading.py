"""Reading a run archive into a report :class:`~procedures.report.context.Context`.

The run's identity, its procedure and board configs (either may be missing or invalid: the report says so
and goes on), its result tables (recomputed from the committed points when an unfinished run has none,
:mod:`procedures.report.recompute`), its verdicts and its fits (:mod:`procedures.report.fits`).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

import numpy as np

from instruments.board_config import parse_board
from instruments.errors import DiffbenchError
from procedures.archive.reader import RunData
from procedures.report.context import Context, FreqData, Table
from procedures.report.fits import read_fits
from procedures.report.recompute import recompute

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DM_GAIN_COLUMNS = {"vid_vpk", "bias_v", "Add", "thd_out"}
DC_COLUMNS = {"vid_v", "vod_v", "vo1_v", "vo2_v"}
RESULT_TABLES = {"frequency_sweep": ("gains",), "amplitude_sweep": ("dm_gain",), "cm_range": ("dm_gain", "cm_gains"),
                 "dc_transfer": ("dc",), "characterisation": ("gains", "dm_gain", "dc")}
"""The tables each procedure kind's results go to (a run that holds none of them had its results cut short)."""


def read_context(run: RunData, fit_mode: str) -> Context:
    """Everything the report shows of ``run`` (read now: the caller closes the file afterwards).

    ``fit_mode`` is ``"auto"``, ``"archived"`` or ``"none"`` (:func:`procedures.report.fits.read_fits`).
    """
    warnings: list[str] = []
    ctx = Context(
        **run.identity(),
        table_rows={t: run.n_rows(t) if run.tables[t] else 0 for t in run.tables}, resumed=list(run.resumed),
        opened_with_swmr=run.opened_with_swmr, procedure=_procedure_doc(run, warnings), warnings=warnings,
    )
    _read_board(run, ctx)
    tables = {name: cols for name, cols in run.tables.items() if cols and len(next(iter(cols.values())))}
    if ctx.status != "complete" and run.tables.get("points") and _missing_results(ctx, tables):
        recompute(run, ctx, tables)
    _read_tables(ctx, tables)
    ctx.verdicts = run.results.get("verdicts")
    ctx.other_results = [n for n in run.results if n != "verdicts"]
    # the fitter sees the tables the report recomputed in place of the empty archived ones
    read_fits(replace(run, tables={**run.tables, **tables}) if ctx.recomputed else run, ctx, fit_mode)
    return ctx


def _procedure_doc(run: RunData, warnings: list[str]) -> dict[str, Any]:
    """The archived procedure config's ``[procedure]`` table (empty, with a warning, when it is unreadable)."""
    doc: object = {}
    try:
        doc = tomllib.loads(run.configs.get("procedure", "")).get("procedure", {})
    except tomllib.TOMLDecodeError as e:
        warnings.append(f"the archived procedure config does not parse ({e})")
    if not isinstance(doc, dict):
        warnings.append("the archived procedure config has no [procedure] table")
        doc = {}
    return dict(doc)


def _read_board(run: RunData, ctx: Context) -> None:
    if run.metadata.get("sim_board"):
        ctx.warnings.append(f"the simulated bench carried a different board, '{run.metadata['sim_board']}' "
                            "(diffbench run --sim-board, a deliberate fault; its config is archived as "
                            "configs/sim_board): the board below is the one it was judged and fitted against")
    text = run.configs.get("board")
    if not text:
        ctx.warnings.append("the archive holds no board config: no prediction")
        return
    try:
        ctx.board_doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        ctx.warnings.append(f"the archived board config does not parse ({e}): no prediction")
        return
    try:
        ctx.board = parse_board(ctx.board_doc, source=f"{run.path.name}:board", raw=text,
                                    netlist_text=run.configs.get("netlist"))
    except DiffbenchError as e:
        ctx.warnings.append(f"the archived board config is not valid ({e}): no prediction")


def _missing_results(ctx: Context, tables: dict[str, Table]) -> bool:
    return any(t not in tables for t in RESULT_TABLES.get(ctx.kind, ()))


def _read_tables(ctx: Context, tables: dict[str, Table]) -> None:
    g = tables.get("gains")
    if g is not None and "S" in g and "frequency_hz" in g:
        ctx.freq = _freq_data(g, recomputed="gains" in ctx.recomputed)
    c = tables.get("cm_gains")
    if c is not None and "bias_v" in c and "CMRR_se1_db" in c:
        ctx.cm_gains = c
    for name, cols in tables.items():
        if name == "cm_gains":
            continue
        if DM_GAIN_COLUMNS <= set(cols):
            if _is_cm_range(name, cols, ctx.kind):
                ctx.cm_range = ctx.cm_range if ctx.cm_range is not None else cols
            else:
                ctx.amplitude = ctx.amplitude if ctx.amplitude is not None else cols
        elif DC_COLUMNS <= set(cols) and ctx.dc is None:
            ctx.dc = cols
    s = tables.get("dc_summary")
    if s is not None:
        ctx.dc_summary = {k: float(np.asarray(v)[-1]) for k, v in s.items() if np.asarray(v).dtype.kind == "f"}


def _freq_data(g: Table, recomputed: bool) -> FreqData:
    """The gains table as S with its covariance (from the diagonal ``S_u`` when an archive has no ``S_cov``)."""
    S = np.asarray(g["S"], complex)
    n = S.shape[0]
    if "S_cov" in g:
        cov = np.asarray(g["S_cov"], float)
    else:
        u = np.asarray(g.get("S_u", np.zeros_like(S)))
        var = np.stack([np.real(u) ** 2, np.imag(u) ** 2], axis=-1).reshape(n, 8)
        cov = np.stack([np.diag(v) for v in var]) if n else np.zeros((0, 8, 8))
    return FreqData(np.asarray(g["frequency_hz"], float), S, cov,
                    np.asarray(g["S_ideal"], complex) if "S_ideal" in g else None, g, recomputed=recomputed)


def _is_cm_range(name: str, cols: Table, kind: str) -> bool:
    if "cm" in name:
        return True
    if kind == "cm_range":
        return True
    if kind in ("amplitude_sweep", "characterisation"):
        return False
    bias, vid = np.asarray(cols["bias_v"], float), np.asarray(cols.get("vid_vpk_nominal", cols["vid_vpk"]), float)
    return bool(np.ptp(bias) > 1e-3 and np.ptp(vid) <= 1e-9 * max(np.max(np.abs(vid)), 1e-30))
