"""The lot report: figures and a one-page HTML summary of a lot folder (``docs/lots.md``).

:func:`write_lot_report` reads the lot index (:func:`procedures.lot.index.read_index`) and, for the Bode
overlay, each measured unit's run archive (:func:`procedures.archive.reader.open_run`), and writes into one
directory:

- ``hist_<figure>.png``: per headline figure, the histogram of the units' values with the limits drawn and the
  region they fail shaded;
- ``run_<figure>.png``: the same values in test order (by start time), coloured by bench: a bench's drift shows;
  the units far from the lot (:func:`procedures.lot.statistics.outliers`: beyond median -+ 3 x 1.4826 x MAD, from
  5 units on) are ringed and named, the band drawn;
- ``bode_overlay.png``: |Add| and the lower CMRR_se of every unit versus frequency, with the limit mask (the
  |Add| band at ``add_check_hz``, the CMRR_se minimum up to ``cmrr_se_max_hz``);
- ``pareto.png``: failed units per cause (each limit, and units that could not be measured), with the
  cumulative share;
- ``pareto_suspects.png``: the units that failed a limit per suspect component (the fitted component that departs
  most from the design, :func:`procedures.fitting.departures.suspect`; "no suspect" when none departs), with the
  cumulative share;
- ``bench_<figure>.png``: per figure a box per bench with its units, mean and spread;
- ``lot-report.html``: the figures, a table per figure (n, mean, sigma, Cp, Cpk against the limits, from
  :func:`procedures.lot.lot_figures.lot_figures`), the yields, the failing units with their suspect component and how
  far it departs from the design, the outliers, and the bench check (:func:`bench_flags`).

The units counted are the measured ones, whose current state (last row of the index) is ``done`` or ``refitted``
(:data:`procedures.lot.index.MEASURED_STATUSES`), with their current row's numbers; a figure none of them has a
value of is skipped, and the page says so. matplotlib is imported only when a figure is drawn
(:mod:`procedures.lot.lot_plots`), so ``import procedures`` stays light.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from instruments.board_config import BoardConfig
from procedures.archive.reader import open_run
from procedures.lot.index import MEASURED_STATUSES, VERDICT_PREFIX, current_rows, measured_rows, read_index
from procedures.lot.lot_figures import FailingUnit, LotFigures, failing_diagnoses, lot_figures
from procedures.lot.lot_index_writer import figure_limits
from procedures.lot.lot_run import INDEX_NAME
from procedures.lot.unit_summary import FIGURES

if TYPE_CHECKING:  # pragma: no cover - typing only: matplotlib loads when a figure is drawn
    from matplotlib.figure import Figure

HTML_NAME = "lot-report.html"
NOT_MEASURED = ("failed", "bench-failed")
NO_SUSPECT = "no suspect"
"""The Pareto of suspects' bar for failing units none of whose fitted components departs by more than 3 u."""
FLAG_Z = 3.0
"""A bench is flagged when its mean is more than this many combined standard errors from the other benches'."""

AXIS_LABELS = {"Add": "|Add| at add_check_hz (V/V)", "CMRR_se_db": "CMRR_se, lowest up to cmrr_se_max_hz (dB)",
               "CMRR_diff_db": "CMRR_diff, lowest up to cmrr_se_max_hz (dB)", "THD": "THD of vod (ratio, 1)",
               "offset_v": "input-referred offset (V)"}
UNIT_TEXT = {"Add": "V/V", "THD": "1 (ratio)"}


@dataclass(frozen=True)
class BenchFlag:
    """One bench against the pooled other benches on one figure.

    ``n``, ``mean``, ``se``: the bench's finite values, their mean and its standard error ``s/sqrt(n)``;
    ``others_*``: the same of every other bench's values pooled; ``z = (mean - others_mean) /
    sqrt(se**2 + others_se**2)`` (Welch's statistic); ``flagged``: ``|z| >`` the threshold. NaN ``z`` when
    either side has fewer than two values."""

    figure: str
    bench: str
    n: int
    mean: float
    se: float
    others_n: int
    others_mean: float
    others_se: float
    z: float
    flagged: bool


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    if x.size == 0:
        return math.nan, math.nan
    return float(np.mean(x)), (float(np.std(x, ddof=1) / math.sqrt(x.size)) if x.size > 1 else math.nan)


def _against_others(figure: str, x: np.ndarray, b: np.ndarray, bench: str, pool: set[str],
                    threshold: float) -> BenchFlag:
    """``bench``'s values against those of the benches in ``pool`` (less itself) pooled."""
    mine, others = x[b == bench], x[np.isin(b, sorted(pool - {bench}))]
    m, se = _mean_se(mine)
    mo, seo = _mean_se(others)
    den = math.hypot(se, seo)
    z = (m - mo) / den if mine.size > 1 and others.size > 1 and den > 0 else math.nan
    return BenchFlag(figure, bench, int(mine.size), m, se, int(others.size), mo, seo, z,
                     bool(math.isfinite(z) and abs(z) > threshold))


def bench_flags(figure: str, values: np.ndarray, benches: Sequence[str], threshold: float = FLAG_Z) -> list[BenchFlag]:
    """Per bench, its mean against the pooled other benches' (:class:`BenchFlag`), benches in name order.

    A bench that reads differently from the others is a bench problem: Welch's ``z`` of the difference of the
    means with their standard errors, flagged beyond ``threshold``. One far-off bench would drag the pool of
    every other bench and get them flagged too, so the benches are judged in turns: the bench with the largest
    ``|z|`` beyond the threshold is flagged and left out of the others' pool, and the rest are judged again
    (two benches left that differ are both flagged: which one is off cannot be told). Needs two benches with
    two finite values each; NaN values are not counted."""
    x = np.asarray(values, float)
    b = np.asarray([str(s) for s in benches], dtype=object)
    ok = np.isfinite(x)
    x, b = x[ok], b[ok]
    pool = {str(s) for s in b}
    flagged: dict[str, BenchFlag] = {}
    while True:
        judged = [_against_others(figure, x, b, bench, pool, threshold) for bench in sorted(pool)]
        beyond = sorted((f for f in judged if f.flagged), key=lambda f: -abs(f.z))
        if not beyond:
            break
        worst = beyond if len(pool) == 2 else beyond[:1]
        flagged.update((f.bench, f) for f in worst)
        pool -= {f.bench for f in worst}
    final = {f.bench: f for f in judged}
    return [flagged.get(bench) or final[bench] for bench in sorted(set(flagged) | set(final))]


def failure_counts(cols: Mapping[str, np.ndarray]) -> dict[str, int]:
    """Failed units per cause over the current state of each unit, largest first: per limit the measured units
    (``done`` or ``refitted``) whose ``verdict_<limit>`` is 0, and ``not measured (<status>)`` for units
    ``failed`` or ``bench-failed``."""
    rows = current_rows(cols)
    status = [str(cols["status"][i]) for i in rows]
    counts: dict[str, int] = {}
    for c in cols:
        if c.startswith(VERDICT_PREFIX):
            counts[c[len(VERDICT_PREFIX):]] = sum(1 for i, s in zip(rows, status)
                                                  if s in MEASURED_STATUSES and cols[c][i] == 0)
    for s in NOT_MEASURED:
        counts[f"not measured ({s})"] = status.count(s)
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def failing_units(cols: Mapping[str, np.ndarray]) -> list[tuple[str, str, str]]:
    """``(serial, bench, what failed)`` of every unit whose current state failed a verdict or was not measured."""
    out = []
    verdicts = [c for c in cols if c.startswith(VERDICT_PREFIX)]
    for i in current_rows(cols):
        status = str(cols["status"][i])
        if status in NOT_MEASURED:
            out.append((str(cols["serial"][i]), str(cols["bench"][i]), f"{status}: {cols['reason'][i]}"))
        elif status in MEASURED_STATUSES:
            failed = [c[len(VERDICT_PREFIX):] for c in verdicts if cols[c][i] == 0]
            if failed:
                out.append((str(cols["serial"][i]), str(cols["bench"][i]), ", ".join(failed)))
    return out


def suspect_counts(cols: Mapping[str, np.ndarray]) -> dict[str, int]:
    """Measured units that failed a limit, per suspect component (``<fit>.<parameter>``, or :data:`NO_SUSPECT`),
    largest first (ties in the order first met)."""
    counts: dict[str, int] = {}
    for unit in failing_diagnoses(cols):
        key = unit.suspect or NO_SUSPECT
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


@dataclass
class _Lot:
    """What the report draws: the index's columns, the counted rows (measured), their figures and limits."""

    lot_dir: Path
    cols: dict[str, np.ndarray]
    rows: list[int]
    stats: LotFigures
    limits: dict[str, tuple[float | None, float | None]]
    board: BoardConfig

    def column(self, name: str) -> np.ndarray:
        return np.asarray(self.cols[name])[self.rows]

    @property
    def benches(self) -> list[str]:
        return [str(b) for b in self.column("bench")]

    @property
    def passed(self) -> list[bool]:
        return [int(p) != 0 for p in self.column("passed")]


def _read_lot(lot_dir: Path, board: BoardConfig) -> _Lot:
    cols = read_index(lot_dir / INDEX_NAME)
    limits = {k: v for k, v in figure_limits(board).items() if k in FIGURES and k in cols}
    stats = lot_figures(cols, limits)
    rows = measured_rows(cols)
    return _Lot(lot_dir, cols, rows, stats, limits, board)


def _archive_of(lot: _Lot, i: int) -> Path:
    """A unit's archive in the lot folder (the index's own path if the folder was not moved since)."""
    here = lot.lot_dir / "units" / f"{lot.cols['serial'][i]}.h5"
    return here if here.exists() else Path(str(lot.cols["archive"][i]))


def _bode_curves(lot: _Lot, skipped: list[str]) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray, bool]]:
    curves = []
    for i, passed in zip(lot.rows, lot.passed):
        serial = str(lot.cols["serial"][i])
        try:
            with open_run(_archive_of(lot, i)) as run:
                g = run.tables.get("gains")
                if g is None or not len(g["frequency_hz"]):
                    skipped.append(f"{serial}: its archive has no gains table (not on the Bode overlay)")
                    continue
                cm = np.fmin(np.asarray(g["CMRR_se1_db"], float), np.asarray(g["CMRR_se2_db"], float)) \
                    if "CMRR_se1_db" in g else np.full(len(g["frequency_hz"]), math.nan)
                curves.append((serial, np.asarray(g["frequency_hz"], float), np.asarray(g["S"])[:, 0, 0], cm,
                               passed))
        except Exception as exc:  # one unreadable archive leaves the others on the figure
            skipped.append(f"{serial}: its archive cannot be read ({exc})")
    return curves


def _draw(lot: _Lot, out: Path, subtitle: str, skipped: list[str]) -> list[tuple[Path, str]]:
    """Every figure of the report (module docstring) into ``out``; their files and captions, in page order."""
    from procedures.lot import lot_plots as lp
    from procedures.report.plots.style import save

    files: list[tuple[Path, str]] = []

    def emit(name: str, fig: Figure, caption: str) -> None:
        files.append((save(fig, out / f"{name}.png"), caption))

    for name, fs in lot.stats.figures.items():
        x, lim, label = fs.values, lot.limits.get(name, (None, None)), AXIS_LABELS.get(name, name)
        if not np.isfinite(x).any():
            skipped.append(f"{name}: no unit has a value (no histogram, run chart or bench comparison)")
            continue
        emit(f"hist_{name}", lp.histogram(x, lim, label, f"{name}: distribution over the lot", subtitle),
             f"{name}: histogram of the units' values; dashed red: the limits, shaded: where a unit fails.")
        order = np.argsort(np.argsort(np.nan_to_num(lot.column("start_s").astype(float), nan=np.inf),
                                      kind="stable")) + 1
        out_rule = fs.outliers
        band = (out_rule.lower, out_rule.upper) if out_rule.judged else None
        emit(f"run_{name}", lp.run_chart(order, x, lot.benches, lim, label, f"{name}: run chart in test order",
                                         subtitle, out_rule.flagged, band, lot.stats.serials),
             f"{name} per unit in the order the units were started, coloured by bench; a bench drifting shows. "
             + ("Ringed and named: units outside the outlier band (dash-dot), median ± 3 × 1.4826 × MAD."
                if out_rule.judged else "Outliers not judged: fewer than 5 units have a value."))
        emit(f"bench_{name}", lp.bench_comparison(x, lot.benches, lim, label, f"{name} by bench", subtitle),
             f"{name} per bench: box (quartiles), the units, and the bench's mean ± 1 sigma.")
    _draw_bode(lot, emit, subtitle, skipped)
    counts = failure_counts(lot.cols)
    if sum(counts.values()):
        emit("pareto", lp.pareto({k: v for k, v in counts.items() if v}, "Pareto of failure causes", subtitle),
             "Failed units per cause, largest first, with the cumulative share of failures.")
    else:
        skipped.append("Pareto of failure causes: no unit failed")
    suspects = suspect_counts(lot.cols)
    if suspects:
        emit("pareto_suspects", lp.pareto(suspects, "Pareto of suspect components among failing units", subtitle,
                                          "suspect component (fitted, furthest from the design beyond 3 u)"),
             "Units that failed a limit, per suspect: the fitted component that departs most from the design "
             f"(largest |fitted − nominal|/u beyond 3 u; '{NO_SUSPECT}': none departs), with the cumulative share.")
    else:
        skipped.append("Pareto of suspect components: no measured unit failed a limit")
    return files


def _draw_bode(lot: _Lot, emit: Callable[[str, Figure, str], None], subtitle: str, skipped: list[str]) -> None:
    from procedures.lot import lot_plots as lp

    curves = _bode_curves(lot, skipped)
    if not curves:
        skipped.append("Bode overlay: no unit archive has a gains table")
        return
    pf = lot.board.pass_fail
    add_lo, add_hi = lot.limits.get("Add", (None, None))
    add_band = (float(pf["add_check_hz"]), add_lo, add_hi) if add_lo is not None and add_hi is not None else None
    cm_lo = lot.limits.get("CMRR_se_db", (None, None))[0]
    cmrr_min = (cm_lo, float(pf["cmrr_se_max_hz"])) if cm_lo is not None and "cmrr_se_max_hz" in pf else None
    emit("bode_overlay", lp.bode_overlay(curves, add_band, cmrr_min,
                                         "Every unit: |Add| and CMRR_se versus frequency", subtitle),
         "|Add| (top) and the lower of the two outputs' CMRR_se (bottom) of every unit, red if it failed; "
         "the |Add| limits at add_check_hz, and the CMRR_se minimum up to cmrr_se_max_hz (fail region shaded).")


def _g(x: float | None, spec: str) -> str:
    if x is None:
        return "—"
    return format(x, spec) if math.isfinite(x) else ("n/a" if math.isnan(x) else str(x))


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %" if math.isfinite(x) else "n/a"


def _figure_table(lot: _Lot) -> list[str]:
    out = ["<h2>Figure statistics</h2>", "<table><tr><th>figure</th><th>units</th><th>n</th><th>mean</th><th>sigma</th>"
           "<th>Cp</th><th>Cpk</th><th>lower limit</th><th>upper limit</th><th>within limits</th></tr>"]
    for name, fs in lot.stats.figures.items():
        c = fs.capability
        unit = UNIT_TEXT.get(name, FIGURES[name][0] if name in FIGURES else "")
        out.append(f'<tr data-figure="{html.escape(name)}"><td>{html.escape(name)}</td><td>{unit}</td>'
                   f"<td>{c.n}</td><td>{_g(c.mean, '.6g')}</td><td>{_g(c.sigma, '.3g')}</td><td>{_g(c.cp, '.3g')}</td>"
                   f"<td>{_g(c.cpk, '.3g')}</td><td>{_g(c.lower, '.6g')}</td><td>{_g(c.upper, '.6g')}</td>"
                   f"<td>{_pct(fs.inside)}</td></tr>")
    out.append("</table>")
    yields = "".join(f'<tr data-limit="{html.escape(k)}"><td>{html.escape(k)}</td><td>{_pct(y)}</td></tr>'
                     for k, y in lot.stats.yields.items())
    out += ["<h2>Yield</h2>", f"<table><tr><th>limit</th><th>yield</th></tr>{yields}"
            f'<tr data-limit="overall"><td><b>overall</b></td><td><b>{_pct(lot.stats.overall_yield)}</b></td></tr>'
            "</table>"]
    return out


def _suspect_cells(d: FailingUnit | None) -> str:
    if d is None:
        return "<td>—</td><td>—</td><td>—</td>"
    if not d.suspect:
        return f"<td>{NO_SUSPECT}</td><td>—</td><td>—</td>"
    return (f"<td>{html.escape(d.suspect)}</td><td>{_g(100 * d.suspect_rel, '+.1f')}</td>"
            f"<td>{_g(d.suspect_z, '+.1f')}</td>")


def _failures_and_benches(lot: _Lot) -> list[str]:
    out = ["<h2>Failing units</h2>",
           "<p>Suspect: over every fit of the unit's run, the fitted component that departs most from the design, "
           "the largest |z| = |fitted − nominal|/u among those beyond 3 u (u: the fit's standard uncertainty); "
           "departure = fitted/nominal − 1.</p>"]
    fails = failing_units(lot.cols)
    diagnoses = {d.serial: d for d in failing_diagnoses(lot.cols)}
    out.append("<p>none</p>" if not fails else
               "<table><tr><th>serial</th><th>bench</th><th>failed</th><th>suspect component</th>"
               "<th>departure (%)</th><th>departure (u)</th></tr>" + "".join(
                   f'<tr data-failing="{html.escape(s)}"><td>{html.escape(s)}</td><td>{html.escape(b)}</td>'
                   f"<td>{html.escape(w)}</td>{_suspect_cells(diagnoses.get(s))}</tr>" for s, b, w in fails)
               + "</table>")
    out += _outliers(lot)
    out += ["<h2>Benches</h2>",
            f"<p>Each bench's mean of a figure against the mean of every other bench's units pooled: z = (mean − "
            f"others' mean) / √(se² + others' se²), se = s/√n of each side (Welch's statistic); a bench with "
            f"|z| &gt; {FLAG_Z:g} reads differently from the others: a bench problem. Benches are judged in turns: "
            f"the one furthest beyond is flagged and left out of the others' pool before the rest are judged again."
            f"</p><ul>"]
    for name, fs in lot.stats.figures.items():
        for f in bench_flags(name, fs.values, lot.benches):
            if f.flagged:
                out.append(f'<li class="flag"><b>{html.escape(f.bench)} is flagged on {html.escape(name)}</b>: mean '
                           f"{f.mean:.6g} ± {f.se:.2g} (n = {f.n}) against {f.others_mean:.6g} ± {f.others_se:.2g} "
                           f"(n = {f.others_n}), z = {f.z:.2f}</li>")
    if not out[-1].startswith('<li class="flag"'):
        out.append("<li>no bench flagged</li>")
    out.append("</ul>")
    return out


def _outliers(lot: _Lot) -> list[str]:
    out = ["<h2>Outliers</h2>",
           "<p>Per figure, the units whose value lies outside median ± 3 × 1.4826 × MAD of the measured units "
           "(MAD: median absolute deviation; 1.4826 × MAD estimates sigma of normal data, so this is a robust "
           "3 sigma; Leys et al. 2013, the modified z-score of Iglewicz &amp; Hoaglin, NIST/SEMATECH e-Handbook "
           "section 1.3.5.17). Not judged for a figure with fewer than 5 units.</p>"]
    found = lot.stats.outlier_units()
    judged = [name for name, fs in lot.stats.figures.items() if fs.outliers.judged]
    if not found:
        out.append("<p>none" + ("" if judged else " (no figure has 5 units with a value)") + "</p>")
        return out
    out.append("<table><tr><th>figure</th><th>serial</th><th>value</th><th>lot median</th><th>band low</th>"
               "<th>band high</th></tr>" + "".join(
                   f'<tr data-outlier="{html.escape(o.figure)}:{html.escape(o.serial)}"><td>{html.escape(o.figure)}'
                   f"</td><td>{html.escape(o.serial)}</td><td>{_g(o.value, '.6g')}</td><td>{_g(o.median, '.6g')}"
                   f"</td><td>{_g(o.lower, '.6g')}</td><td>{_g(o.upper, '.6g')}</td></tr>" for o in found)
               + "</table>")
    return out


def _page(lot: _Lot, files: Sequence[tuple[Path, str]], skipped: Sequence[str], title: str) -> str:
    head = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>"
            "body{font-family:sans-serif;max-width:1100px;margin:auto}td,th{border:1px solid #ccc;padding:2px 6px}"
            "table{border-collapse:collapse}img{max-width:100%}.flag{color:#b00}</style></head><body>")
    body = [f"<h1>{html.escape(title)}</h1>",
            f"<p>{len(lot.rows)} units measured ({len(current_rows(lot.cols))} in the index), board "
            f"{html.escape(lot.board.name)}. Cp = (USL − LSL)/(6 sigma), Cpk = min(USL − mean, mean − LSL)/(3 sigma) "
            "(Montgomery); sigma is the sample standard deviation of the units.</p>"]
    body += _figure_table(lot) + _failures_and_benches(lot)
    if skipped:
        body.append("<h2>Skipped</h2><ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in skipped) + "</ul>")
    body.append("<h2>Figures</h2>")
    body += [f'<figure><img src="{p.name}" alt="{p.stem}"><figcaption>{html.escape(c)}</figcaption></figure>'
             for p, c in files]
    return head + "\n".join(body) + "</body></html>\n"


def write_lot_report(lot_dir: Path, out_dir: Path, board: BoardConfig) -> list[Path]:
    """Write the figures and ``lot-report.html`` of the lot folder ``lot_dir`` into ``out_dir`` (module
    docstring), judging against ``board``'s limits (:func:`procedures.lot.lot_index_writer.figure_limits`);
    the files written, the page last. Raises the index reader's one-line
    :class:`~procedures.archive.spec.ArchiveError` when the lot has no readable index."""
    lot_dir, out_dir = Path(lot_dir), Path(out_dir)
    lot = _read_lot(lot_dir, board)
    out_dir.mkdir(parents=True, exist_ok=True)
    title = f"Lot report: {lot_dir.name}"
    subtitle = f"{lot_dir.name}: {len(lot.rows)} units, board {board.name}"
    skipped: list[str] = []
    with np.errstate(all="ignore"):
        files = _draw(lot, out_dir, subtitle, skipped)
    page = out_dir / HTML_NAME
    page.write_text(_page(lot, files, skipped, title), encoding="utf-8")
    return [p for p, _ in files] + [page]
