"""The lot index's writer during a lot run: one row per outcome, the running yield, and the lot's summary.

:func:`open_lot_index` opens the lot folder's ``index.h5`` (or creates it when the first unit is measured: its
columns follow that unit's verdicts and fitted components, :meth:`~procedures.lot.index.LotIndex.create`).
Each outcome the lot's driver reports becomes a :class:`~procedures.lot.index.LotRow`, with the unit's
:class:`~procedures.lot.unit_summary.UnitSummary` read from its archive when it was measured. A unit counts as
measured when its current state is ``done`` or ``refitted`` (:data:`~procedures.lot.index.MEASURED_STATUSES`): the
running yield and the summary count those, each with its current row's numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from instruments.board_config import BoardConfig
from procedures.lot.config import LotConfig
from procedures.lot.index import MEASURED_STATUSES, LotIndex, LotRow
from procedures.lot.lot_figures import failing_diagnoses, lot_figures
from procedures.lot.lot_run import INDEX_NAME
from procedures.lot.runner import UnitOutcome
from procedures.lot.unit_summary import FIGURES, UnitSummary, summarise_run
from procedures.lot.units import PlannedUnit
from procedures.predict.gains import predicted_gains


class LotIndexWriter:
    """Rows of one lot run into its index (created with the first measured unit), and the running tally."""

    def __init__(self, lot: LotConfig, out: Path, say: Callable[[str], None]) -> None:
        self.lot, self.path, self.say = lot, out / INDEX_NAME, say
        self.index: LotIndex | None = LotIndex.open(self.path) if self.path.exists() else None
        self._pending: list[LotRow] = []
        self._limits = figure_limits(lot.board)

    def done(self) -> set[str]:
        """Serials already measured in earlier runs of the lot."""
        return self.index.done() if self.index is not None else set()

    def record(self, unit: PlannedUnit, outcome: UnitOutcome) -> None:
        """Append the row of one outcome (committed, on disk before this returns) and say the running yield."""
        summary: UnitSummary | None = None
        status, reason = outcome.status, outcome.error
        if status == "done":
            try:
                summary = summarise_run(outcome.archive)
            except Exception as exc:  # an archive the reader refuses: the unit is failed, the lot goes on
                status, reason = "failed", f"its archive cannot be read: {exc}"
        bench = outcome.bench or (summary.bench if summary is not None else "")  # a unit recorded from its archive
        row = LotRow(unit.serial, status, bench, outcome.attempt, outcome.archive, outcome.start_s,
                     outcome.end_s, reason, summary)
        if self.index is None and summary is None:
            self._pending.append(row)
            return
        if self.index is None:
            assert summary is not None
            self._create(summary)
        assert self.index is not None
        for pending in self._pending + [row]:
            self.index.append(pending)
        self._pending.clear()
        if summary is not None:
            self.say(self.running_yield())

    def _create(self, first: UnitSummary | None) -> None:
        self.index = LotIndex.create(
            self.path, verdict_names=first.verdict_names if first else (),
            component_names=first.component_units if first else {}, lot=self.lot.name,
            configs={"lot": Path(self.lot.source).read_text(encoding="utf-8"), "board": self.lot.board.raw,
                     "procedure": self.lot.procedure.raw})

    def running_yield(self) -> str:
        """``yield so far: 9/10 measured units passed``: units ``done`` or ``refitted``
        (:data:`~procedures.lot.index.MEASURED_STATUSES`)."""
        assert self.index is not None
        current = self.index.current()
        measured = [row for row in current.values() if row["status"] in MEASURED_STATUSES]
        figures = lot_figures(self.index)
        passed = round(figures.overall_yield * len(measured)) if math.isfinite(figures.overall_yield) else 0
        return f"yield so far: {passed}/{len(measured)} measured units passed"

    def summary(self) -> str:
        """The lot's figures: yield per limit and overall; per figure mean, sigma, Cp and Cpk; every failing unit
        with the limits it failed and its suspect component (``unit 0009: add_rel_tol fails;
        suspect small_signal.R_L +8.0 % (+466 u)``, :func:`~procedures.lot.lot_figures.failing_diagnoses`); and the
        units far from the lot on a figure (:func:`~procedures.lot.statistics.outliers`: beyond median -+ 3 x 1.4826
        x MAD)."""
        if self.index is None:
            if not self._pending:
                return "no unit measured"
            self._create(None)
            for row in self._pending:
                assert self.index is not None
                self.index.append(row)
            self._pending.clear()
        assert self.index is not None
        stats = lot_figures(self.index, {k: v for k, v in self._limits.items() if k in FIGURES})
        lines = [f"lot {self.lot.name}: {len(stats.serials)} units measured, overall yield "
                 f"{_pct(stats.overall_yield)}"]
        lines += [f"  yield {name}: {_pct(y)}" for name, y in stats.yields.items()]
        for name, fs in stats.figures.items():
            c = fs.capability
            if c.n:
                lines.append(f"  {name} [{FIGURES[name][0]}]: mean {c.mean:.6g}, sigma {c.sigma:.3g}, Cp {c.cp:.3g}, "
                             f"Cpk {c.cpk:.3g} (n = {c.n})")
        for unit in failing_diagnoses(self.index):
            limits = ", ".join(unit.failed)
            lines.append(f"  unit {unit.serial}: {limits} fail{'s' if len(unit.failed) == 1 else ''}; "
                         f"{unit.diagnosis()}")
        for o in stats.outlier_units():
            lines.append(f"  outlier: unit {o.serial} {o.figure} = {o.value:.6g}, outside {o.lower:.6g} .. "
                         f"{o.upper:.6g} (median -+ 3 x 1.4826 MAD)")
        return "\n".join(lines)

    def all_passed(self) -> bool:
        """Whether every measured unit passed every verdict."""
        if self.index is None:
            return False
        stats = lot_figures(self.index)
        return bool(stats.serials) and stats.overall_yield == 1.0

    def close(self) -> None:
        if self.index is not None:
            self.index.close()


def figure_limits(board: BoardConfig) -> dict[str, tuple[float | None, float | None]]:
    """Each headline figure's (lower, upper) limits from the board's ``[pass_fail]``, as its verdicts judge
    them (procedures.analysis.verdicts): |Add| within ``add_rel_tol`` of the prediction at ``add_check_hz``,
    CMRR_se and CMRR_diff at least their minimum, THD at most ``thd_max``, the offset within +-``offset_max_v``."""
    lim = board.pass_fail
    out: dict[str, tuple[float | None, float | None]] = {}
    if "add_rel_tol" in lim:
        f = np.array([float(lim["add_check_hz"])])
        predicted = abs(complex(np.atleast_1d(predicted_gains(board, f).add)[0]))
        out["Add"] = (predicted * (1 - lim["add_rel_tol"]), predicted * (1 + lim["add_rel_tol"]))
    if "cmrr_se_min_db" in lim:
        out["CMRR_se_db"] = (float(lim["cmrr_se_min_db"]), None)
    if "cmrr_diff_min_db" in lim:
        out["CMRR_diff_db"] = (float(lim["cmrr_diff_min_db"]), None)
    if "thd_max" in lim:
        out["THD"] = (None, float(lim["thd_max"]))
    if "offset_max_v" in lim:
        out["offset_v"] = (-float(lim["offset_max_v"]), float(lim["offset_max_v"]))
    return out


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %" if math.isfinite(x) else "n/a"


@contextmanager
def open_lot_index(lot: LotConfig, out: Path, say: Callable[[str], None] = print) -> Iterator[LotIndexWriter]:
    """The lot folder's index writer, closed however the block ends."""
    writer = LotIndexWriter(lot, out, say)
    try:
        yield writer
    finally:
        writer.close()
