"""Pass/fail: each limit of the board config's ``[pass_fail]`` against what the run measured.

A verdict names the limit, what was measured (with its standard uncertainty) and the threshold. The
decision is on the measured value itself (no guard band); the uncertainty is reported beside it so a
reader can see how close a call was. A limit whose quantity the run did not measure is not judged
(it is listed as "not measured" by the report, never as a pass).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from instruments.board_config import BoardConfig
from procedures.predict.gains import predicted_gains

Tables = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class Verdict:
    """One checked limit. ``measured``/``uncertainty``/``threshold`` share the unit in ``unit``."""

    limit: str
    description: str
    measured: float
    uncertainty: float
    threshold: float
    unit: str
    passed: bool


def _column(tables: Tables, table: str, name: str) -> np.ndarray | None:
    t = tables.get(table)
    if not t or name not in t or len(t[name]) == 0:
        return None
    return np.asarray(t[name])


def _outputs(board: BoardConfig) -> tuple[int, ...]:
    # an active load's output 1 is the mirror's diode node: only output 2 is an amplifier output
    return (2,) if board.load_type == "active" else (1, 2)


def evaluate(board: BoardConfig, tables: Tables) -> list[Verdict]:
    """Judge every limit in ``board.pass_fail`` that the run's result tables can answer.

    ``tables`` maps table name to columns (as ``compute_results`` rows stacked, or as an archive reader
    returns them): "gains" (frequency sweep), "dm_gain" (amplitude sweep), "dc_summary" (DC transfer).
    The Add limit compares with the model prediction at the board's nominal values (procedures.predict.prediction).
    """
    lim = board.pass_fail
    out: list[Verdict] = []
    f = _column(tables, "gains", "frequency_hz")
    if f is not None and "add_rel_tol" in lim:
        f0 = float(lim["add_check_hz"])
        i = int(np.argmin(np.abs(np.log(f / f0))))
        S, S_u = np.asarray(tables["gains"]["S"])[i], np.real(np.asarray(tables["gains"]["S_u"])[i])
        pred = complex(np.atleast_1d(predicted_gains(board, np.array([f[i]])).add)[0])
        dev = abs(S[0, 0]) / abs(pred) - 1
        out.append(Verdict("add_rel_tol", f"|Add| at {f[i]:.4g} Hz within {lim['add_rel_tol']:.1%} of the prediction "
                           f"({abs(pred):.4g})", dev, S_u[0, 0] / abs(pred), lim["add_rel_tol"], "1",
                           abs(dev) <= lim["add_rel_tol"]))
    if f is not None and ("cmrr_se_min_db" in lim or "cmrr_diff_min_db" in lim):
        band = f <= lim["cmrr_se_max_hz"] * (1 + 1e-9)
        if band.any():
            if "cmrr_se_min_db" in lim:
                worst = None
                for k in _outputs(board):
                    v = np.asarray(tables["gains"][f"CMRR_se{k}_db"])[band]
                    u = np.asarray(tables["gains"][f"CMRR_se{k}_db_u"])[band]
                    j = int(np.argmin(v))
                    if worst is None or v[j] < worst[0]:
                        worst = (float(v[j]), float(u[j]), k, float(f[band][j]))
                assert worst is not None
                out.append(Verdict("cmrr_se_min_db", f"CMRR_se{worst[2]} (single-ended) at least "
                                   f"{lim['cmrr_se_min_db']:g} dB up to {lim['cmrr_se_max_hz']:.4g} Hz "
                                   f"(lowest at {worst[3]:.4g} Hz)", worst[0], worst[1], lim["cmrr_se_min_db"], "dB",
                                   worst[0] >= lim["cmrr_se_min_db"]))
            if "cmrr_diff_min_db" in lim:
                v = np.asarray(tables["gains"]["CMRR_diff_db"])[band]
                u = np.asarray(tables["gains"]["CMRR_diff_db_u"])[band]
                j = int(np.argmin(v))
                out.append(Verdict("cmrr_diff_min_db", f"CMRR_diff (differential output) at least "
                                   f"{lim['cmrr_diff_min_db']:g} dB up to {lim['cmrr_se_max_hz']:.4g} Hz "
                                   f"(lowest at {f[band][j]:.4g} Hz)", float(v[j]), float(u[j]),
                                   lim["cmrr_diff_min_db"], "dB", float(v[j]) >= lim["cmrr_diff_min_db"]))
    vid = _column(tables, "dm_gain", "vid_vpk_nominal")
    if vid is not None and "thd_max" in lim and "thd_drive_vpk" in lim:
        j = int(np.argmin(np.abs(vid - lim["thd_drive_vpk"])))
        thd = float(np.asarray(tables["dm_gain"]["thd_out"])[j])
        if not np.isnan(thd):  # NaN: no harmonics were fitted ([acquisition] harmonics = 1), nothing to judge
            out.append(Verdict("thd_max", f"THD of vod at most {lim['thd_max']:.3%} at {vid[j] * 1e3:.4g} mV "
                               f"peak drive", thd, float("nan"), lim["thd_max"], "1", thd <= lim["thd_max"]))
    off = _column(tables, "dc_summary", "offset_v")
    if off is not None and "offset_max_v" in lim:
        value = float(off[0])
        out.append(Verdict("offset_max_v", f"|input-referred offset| at most {lim['offset_max_v'] * 1e3:.4g} mV",
                           value, float("nan"), lim["offset_max_v"], "V",
                           bool(np.isfinite(value)) and abs(value) <= lim["offset_max_v"]))
    return out


def stack_rows(results: Mapping[str, list[Mapping[str, Any]]]) -> dict[str, dict[str, np.ndarray]]:
    """Result rows (as ``compute_results`` returns them) -> columns, the form :func:`evaluate` takes."""
    return {t: {k: np.asarray([r[k] for r in rows]) for k in rows[0]} for t, rows in results.items() if rows}


def as_result(verdicts: list[Verdict]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Arrays and attributes of the archive result "verdicts" (docs/archive.md)."""
    arrays = {
        "limit": np.array([v.limit for v in verdicts], dtype=object),
        "description": np.array([v.description for v in verdicts], dtype=object),
        "measured": np.array([v.measured for v in verdicts], dtype=float),
        "uncertainty": np.array([v.uncertainty for v in verdicts], dtype=float),
        "threshold": np.array([v.threshold for v in verdicts], dtype=float),
        "unit": np.array([v.unit for v in verdicts], dtype=object),
        "passed": np.array([v.passed for v in verdicts], dtype=bool),
    }
    overall = "pass" if all(v.passed for v in verdicts) else "fail"
    return arrays, {"overall": overall if verdicts else "no limits checked"}


def format_verdicts(verdicts: list[Verdict]) -> list[str]:
    """One line per verdict for the terminal summary: the measured value and its limit in one unit
    (:func:`procedures.analysis.verdict_text.verdict_reading`)."""
    from procedures.analysis.verdict_text import verdict_reading

    lines = []
    for v in verdicts:
        verdict = "PASS" if v.passed else "FAIL"
        reading = verdict_reading(v.limit, v.measured, v.uncertainty, v.threshold, v.unit)
        lines.append(f"  {verdict}  {v.description}: measured {reading}")
    return lines
