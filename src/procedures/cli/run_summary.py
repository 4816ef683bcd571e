"""The summary tables ``diffbench run`` prints at the end of a run: one line per frequency, drive or level.

Every quantity a ``[pass_fail]`` verdict can be on is in them, so the verdict lines below the tables can be
checked by eye: |Add| and both outputs' CMRR_se (the verdict names the worse output), CMRR_diff, the THD at each
drive, the input offset. The frequency sweep shows all four mixed-mode gains in dB (``20 log10 |S_ij|``, each
with its standard uncertainty in dB; a gain in its noise as the upper limit ``<= x``,
:func:`procedures.analysis.gain_figures.gain_db_rows`), then the CMRRs in dB, single-ended per output and
differential (docs/conventions.md "Conventions").
"""

from __future__ import annotations

from typing import Any

GAIN_COLUMNS = ("Add", "Acc", "Acd", "Adc")
CMRR_COLUMNS = ("CMRR_se1_db", "CMRR_se2_db", "CMRR_diff_db")


def _fmt(value: float, u: float | None = None, digits: int = 4) -> str:
    if u is None or not u == u:
        return f"{value:.{digits}g}"
    return f"{value:.{digits}g} ± {u:.2g}"


def _fmt_db(r: dict[str, Any], name: str) -> str:
    """A row's dB figure with its uncertainty, or a limit as ``>= 92.07`` (procedures.analysis.gain_figures)."""
    from procedures.analysis.gain_figures import format_db

    return format_db(r[name], r[f"{name}_u"], str(r.get(f"{name}_kind", "value")))


def _limits_note(rows: list[dict[str, Any]], names: tuple[str, ...]) -> list[str]:
    """One line saying what a ``>=``/``<=`` figure is, when the rows have one."""
    from procedures.analysis.gain_figures import VALUE, limits_explanation

    text = limits_explanation(str(r.get(f"{n}_kind", VALUE)) for r in rows for n in names)
    return [text] if text else []


def _gain_db_cells(r: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The four mixed-mode gains of one gains row in dB (terminal form) and their kinds."""
    import numpy as np

    from procedures.analysis.gain_figures import format_db, gain_db_rows

    S = np.asarray(r["S"], complex)[None]
    cov = np.asarray(r["S_cov"], float)[None]
    cells, kinds = [], []
    for name in GAIN_COLUMNS:
        _, mag, u_db, _, kind = gain_db_rows(S, cov, name)
        cells.append(format_db(float(mag[0]), float(u_db[0]), str(kind[0])))
        kinds.append(str(kind[0]))
    return cells, kinds


def _frequency_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The four gains in dB, then the three CMRRs in dB, per frequency."""
    from procedures.analysis.gain_figures import limits_explanation

    lines = [f"{'f (Hz)':>10} " + " ".join(f"{f'{n} dB':>17}" for n in GAIN_COLUMNS)]
    kinds: list[str] = []
    for r in rows:
        cells, k = _gain_db_cells(r)
        kinds += k
        lines.append(f"{r['frequency_hz']:>10.4g} " + " ".join(f"{c:>17}" for c in cells))
    lines.append("mixed-mode gains [vod; voc] = [[Add, Acd], [Adc, Acc]] [vid; vic], 20 log10 |gain| ± u (dB)")
    note = limits_explanation(kinds)
    lines += [note] if note else []
    lines.append(f"{'f (Hz)':>10} {'CMRR_se1 dB':>17} {'CMRR_se2 dB':>17} {'CMRR_diff dB':>17} "
                 f"{'ideal-gen CMRR_diff':>20}")
    for r in rows:
        lines.append(f"{r['frequency_hz']:>10.4g} " + " ".join(f"{_fmt_db(r, c):>17}" for c in CMRR_COLUMNS)
                     + f" {r['CMRR_diff_ideal_db']:>20.4g}")
    lines.append("CMRR_se,k = |Ad_se,k/Acm_se,k| (single-ended, output k); CMRR_diff = |Add/Acd| (differential "
                 "output); ideal-gen: the same assuming the generator were perfect")
    lines += _limits_note(rows, CMRR_COLUMNS)
    return lines


def summary_lines(kind: str, results: dict[str, Any]) -> list[str]:
    """A compact table of the run's results, one line per frequency / drive / level."""
    import numpy as np

    lines: list[str] = []
    if kind == "characterisation":
        for k in ("frequency_sweep", "amplitude_sweep", "dc_transfer"):
            lines += summary_lines(k, results)
        return lines
    if kind == "frequency_sweep" and results.get("gains"):
        lines += _frequency_lines(results["gains"])
    elif kind in ("amplitude_sweep", "cm_range") and results.get("dm_gain"):
        lines.append(f"{'vid (mVpk)':>11} {'bias (V)':>11} {'|Add| (V/V)':>18} {'compression':>12} {'THD out %':>10}")
        for r in results.get("dm_gain", []):
            lines.append(f"{r['vid_vpk'] * 1e3:>11.4g} {r['bias_v']:>11.4g} {_fmt(abs(r['Add']), abs(r['Add_u'])):>18} "
                         f"{r['compression']:>12.5f} {100 * r['thd_out']:>10.4g}")
    if kind == "cm_range" and results.get("cm_gains"):
        lines.append(f"{'bias (V)':>9} {'|Acc|':>20} {'CMRR_se1 dB':>17} {'CMRR_se2 dB':>17} {'CMRR_diff dB':>17}")
        for r in results["cm_gains"]:
            S, Su = r["S"], np.real(r["S_u"])
            lines.append(f"{r['bias_v']:>9.4g} {_fmt(abs(S[1, 1]), Su[1, 1]):>20} "
                         f"{_fmt_db(r, 'CMRR_se1_db'):>17} "
                         f"{_fmt_db(r, 'CMRR_se2_db'):>17} "
                         f"{_fmt_db(r, 'CMRR_diff_db'):>17}")
        lines.append("per input DC level, from a small CM point at each: a tail source leaving its active region "
                     "shows as CMRR_se falling")
        lines += _limits_note(results["cm_gains"], ("CMRR_se1_db", "CMRR_se2_db", "CMRR_diff_db"))
    if kind == "dc_transfer" and results.get("dc"):
        s = results.get("dc_summary", [{}])[0]
        lines.append(f"input-referred offset {s.get('offset_v', float('nan')) * 1e3:.4g} mV, "
                     f"slope dvod/dvid {s.get('slope', float('nan')):.4g} V/V at the offset; "
                     f"{len(results.get('dc', []))} points")
    return lines
