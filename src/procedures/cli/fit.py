"""``diffbench fit RUN.h5 [--config procedure.toml] [-o OUT]``: refit an archived run against the circuit models.

No hardware: the fits use the run's archived tables and board config. The ``[fit]`` options (free
parameters, bounds, which fits) come from ``--config`` (a procedure config, or a TOML file with only a
``[fit]`` table) or else from the procedure config archived with the run. The results are written into the
archive (replacing earlier fits; the archive is copied, completed and renamed over, never edited in place:
:mod:`procedures.fitting.archive_update`) or into a copy ``-o OUT``; ``--no-write`` only prints.

Imports stay light at module level (``procedures.cli.main`` imports every subcommand module to build its parser).
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - typing only
    from procedures.fitting.core import FitResult

N_POINTS_SHOWN = 5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``diffbench fit``."""
    parser.add_argument("archive", help="run archive (.h5) written by 'diffbench run'")
    parser.add_argument("--config", metavar="TOML",
                        help="procedure config (or a file with a [fit] table) whose [fit] options to use "
                             "(default: the procedure config archived with the run)")
    parser.add_argument("-o", "--output", metavar="OUT", help="write the fitted archive to a new file OUT "
                                                             "instead of updating ARCHIVE")
    parser.add_argument("--no-write", action="store_true", help="print the fits, write nothing")


def _pick(used: list[bool], k: int = N_POINTS_SHOWN) -> set[int]:
    """Up to ``k`` point indices spread evenly over the points the fit used (over all when it used none)."""
    pool = [i for i, u in enumerate(used) if u] or list(range(len(used)))
    if len(pool) <= k:
        return set(pool)
    return {pool[int(round(i * (len(pool) - 1) / (k - 1)))] for i in range(k)}


def _num(x: float, unit: str, digits: int) -> str:
    """A number with an SI prefix and its unit, or plain for a dimensionless one."""
    from procedures.predict.si_format import eng

    return f"{x:.{digits}g}" if unit == "1" else eng(x, unit, digits)


def format_parameters(fit: FitResult) -> list[str]:
    """The fit's goodness and its parameter table against the board config, with the departures named; a
    failed fit (:attr:`~procedures.fitting.core.FitResult.failed`) says so and is not compared with the board.
    The departures are :func:`procedures.fitting.departures.departures` (imported here, not at module level: it
    loads numpy)."""
    from procedures.fitting.departures import departures

    lines = [f"{fit.name}: {fit.model}"]
    scale = (f"; standard uncertainties x{fit.stderr_scale:.2f} (chi-square scale factor, archived)"
             if fit.stderr_scale > 1 else "")
    lines.append(f"  chi2_red = {fit.chi2_red:.3f} (dof {fit.dof}, p = {fit.p_value:.2g}){scale}")
    if fit.failed:
        lines.append(f"  {fit.verdict}")
    lines.append(f"  {'parameter':<10} {'value':>14} {'stderr':>12} {'nominal':>14} {'(fit-nom)/u':>12}")
    for name, v, e, nom, unit in zip(fit.params, fit.values, fit.stderr, fit.nominal, fit.units):
        z = (v - nom) / e if e > 0 else math.nan
        lines.append(f"  {name:<10} {_num(v, unit, 7):>14} {_num(e, unit, 3):>12} {_num(nom, unit, 7):>14} {z:>+12.2f}")
    if fit.failed:
        lines.append("  not compared with the board config: the fit failed (above)")
        return lines
    off = departures(fit)
    lines.append("  departs from the board config: " + ", ".join(f"{n} ({z:+.0f} u)" for n, z in off) if off
                 else "  every fitted parameter within 3 u of the board config")
    return lines


def format_fit(fit: FitResult) -> list[str]:
    """The text report of one fit: parameters, goodness of fit, prediction versus measurement versus fit."""
    from procedures.fitting.run_fits import X_UNITS, comparison_table

    lines = format_parameters(fit)
    if fit.fixed:
        lines.append("  held (not fitted): " + ", ".join(f"{k} = {v:.6g}" for k, v in fit.fixed.items()))
    for name, (v, e, unit) in fit.derived.items():
        lines.append(f"  derived: {name} = {_num(v, unit, 7)} +- {_num(e, unit, 3)}")
    rows = comparison_table(fit)
    x_unit = X_UNITS.get(fit.x_name, "")
    used = [bool(u) for u in fit.used] if len(fit.used) == len(fit.x) else [True] * len(fit.x)
    shown = _pick(used)
    lines.append(f"  measured vs predicted (nominal components) and vs fit, at {len(shown)} of {len(fit.x)} points "
                 "(* = not used by the fit):")
    lines.append(f"    {fit.x_name:>12} {'quantity':<8} {'measured':>22} {'meas-pred':>20} {'meas-fit':>20} {'z':>6}")
    for q in fit.measured:
        for i, r in enumerate(rr for rr in rows if rr["quantity"] == q):
            if i not in shown:
                continue
            mark = " " if r["used"] else "*"
            x = _num(r["x"], x_unit, 4)
            if isinstance(r["measured"], complex):
                meas = f"{r['measured_db']:8.3f} dB {r['measured_deg']:7.2f} deg"
                dp = f"{r['pred_diff_db']:+7.3f} dB {r['pred_diff_deg']:+6.2f} deg"
                df = f"{r['fit_diff_db']:+7.3f} dB {r['fit_diff_deg']:+6.2f} deg"
            elif r["unit"] == "1":
                meas = f"{r['measured']:.5g} ({r['measured_db']:.2f} dB)"
                dp, df = f"{r['pred_diff_db']:+9.4f} dB", f"{r['fit_diff_db']:+9.4f} dB"
            else:
                meas = _num(r["measured"], r["unit"], 6)
                dp, df = _num(r["pred_diff"], r["unit"], 3), _num(r["fit_diff"], r["unit"], 3)
            lines.append(f"   {mark}{x:>12} {q:<8} {meas:>22} {dp:>20} {df:>20} {r['z_fit']:>6.2f}")
    return lines


def run(args: argparse.Namespace) -> int:
    """Fit, print, write; bad input raises a DiffbenchError (one line, exit 2, from ``cli.main``)."""
    from procedures.fitting.archive_update import add_results
    from procedures.fitting.refit import NoFitPossible, fit_archived, fit_options_file

    options = fit_options_file(args.config) if args.config else None
    try:
        done = fit_archived(args.archive, options)
    except NoFitPossible as exc:
        print(f"diffbench fit: error: {exc}", file=sys.stderr)
        return 2
    print(f"diffbench fit: {args.archive} (board {done.board.name}, procedure {done.procedure}, "
          f"status {done.status})")
    for note in done.notes:
        print(f"NOTE: {note}")
    for fit in done.fits:
        print()
        print("\n".join(format_fit(fit)))
    if not args.no_write:
        written = add_results(args.archive, done.fits, args.output)
        print()
        print(f"written: {written} (results {', '.join('fit_' + f.name for f in done.fits)})")
    return 0
