"""What a run report is made of: the run as read from its archive, the model data beside it, and the files.

:class:`Context` is filled by :mod:`procedures.report.reading` (the archive, closed afterwards), then by
:mod:`procedures.report.predictions` (the board's nominal prediction); the figures and the HTML page only
read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from instruments.board_config import BoardConfig
from instruments.errors import DiffbenchError
from procedures.archive.reader import Result, RunIdentity
from procedures.fitting.core import FitResult

Table = dict[str, np.ndarray]
"""One archive table: column name -> values, one per committed row."""


class ReportError(DiffbenchError):
    """The report cannot be written (output directory unusable, ...); one line."""


def first_line(e: BaseException) -> str:
    """An exception as one line of text (its type when it has no message)."""
    t = str(e).strip()
    return t.splitlines()[0] if t else type(e).__name__


@dataclass
class FigureFile:
    """One written figure: file name (relative to the report directory), title and caption."""

    key: str
    path: Path
    title: str
    caption: str


@dataclass
class ReportFiles:
    """What :func:`procedures.report.report.write_report` wrote."""

    out_dir: Path
    html: Path
    figures: list[FigureFile]
    warnings: list[str]

    @property
    def paths(self) -> list[Path]:
        return [self.html] + [f.path for f in self.figures]


@dataclass
class FreqData:
    """A frequency sweep, derived from the ``gains`` table."""

    f: np.ndarray
    S: np.ndarray  # (n, 2, 2)
    cov: np.ndarray  # (n, 8, 8) covariance of [Re S11, Im S11, Re S12, ...]
    S_ideal: np.ndarray | None
    table: Table
    recomputed: bool = False


@dataclass(frozen=True)
class FreqPrediction:
    """The prediction of a frequency sweep: the four gains and the three CMRR ratios (complex, by name) on a
    dense grid ``dense_hz`` and at the measured frequencies; ``source`` is what predicted them
    (:class:`procedures.predict.gains.GainsPrediction`)."""

    dense_hz: np.ndarray
    curves: dict[str, np.ndarray]
    at_measured: dict[str, np.ndarray]
    source: str = "closed-form models"

    @property
    def label(self) -> str:
        """The legend entry of the predicted curves."""
        return "prediction (ngspice, nominal components)" if self.source == "ngspice" else \
            "prediction (nominal components)"


@dataclass(frozen=True)
class SweepPrediction:
    """The prediction of a gain-and-THD sweep (drive amplitude or input DC level): gain (complex Add at the
    fundamental) and THD (ratio) on a dense grid ``x`` and at the measured points; ``label`` names it."""

    x: np.ndarray
    gain: np.ndarray
    thd: np.ndarray
    gain_at: np.ndarray
    thd_at: np.ndarray
    label: str


@dataclass(frozen=True)
class DcPrediction:
    """The prediction of a DC transfer: vod, vo1, vo2 (V) on a dense vid grid, vod at the measured vid, the
    vid spans where a device leaves its active region, and the name of the transfer used."""

    vid: np.ndarray
    vod: np.ndarray
    vo1: np.ndarray
    vo2: np.ndarray
    vod_at: np.ndarray
    saturation: list[tuple[float, float]]
    transfer: str


class PredictionSummary(TypedDict, total=False):
    """The predicted figures the page prints: what predicted them, low-frequency gains and CMRRs (dB), corners
    (Hz; the closed-form models only), DC levels."""

    source: str
    Add_dc: complex
    Acc_dc: complex
    Acd_dc: complex
    CMRR_se1_dc_db: float
    CMRR_se2_dc_db: float
    CMRR_diff_dc_db: float
    bandwidth_hz: float
    tail_zero_hz: float
    warnings: list[str]
    offset_v: float
    offset_transfer_v: float | None
    dc_slope: float | None
    vo1_v: float
    vo2_v: float


@dataclass
class Context(RunIdentity):
    """Everything the figures and the page need, read from the archive (the file is closed afterwards)."""

    table_rows: dict[str, int]
    resumed: list[dict[str, Any]]
    opened_with_swmr: bool
    procedure: dict[str, Any]
    board: BoardConfig | None = None
    board_doc: dict[str, Any] | None = None
    freq: FreqData | None = None
    amplitude: Table | None = None
    cm_range: Table | None = None
    cm_gains: Table | None = None   # a cm-range's mixed-mode gains and CMRRs per input level
    dc: Table | None = None
    dc_summary: dict[str, float] | None = None
    recomputed: list[str] = field(default_factory=list)
    fits: list[FitResult] = field(default_factory=list)
    fit_source: str = ""
    fit_note: str = ""  # why there is no fit, when there is none
    verdicts: Result | None = None
    other_results: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # model data prepared for the figures and the page
    pred_freq: FreqPrediction | None = None
    pred_amplitude: SweepPrediction | None = None
    pred_cm: SweepPrediction | None = None
    pred_dc: DcPrediction | None = None
    pred_summary: PredictionSummary = field(default_factory=lambda: PredictionSummary())

    @property
    def board_name(self) -> str:
        if self.board is not None:
            return self.board.name
        section = (self.board_doc or {}).get("board")  # any TOML shape: the config may not be valid
        name = section.get("name") if isinstance(section, dict) else None
        return str(name or self.metadata.get("board") or "unknown board")

    @property
    def procedure_name(self) -> str:
        return str(self.procedure.get("name") or self.metadata.get("procedure") or "unknown procedure")

    @property
    def kind(self) -> str:
        return str(self.procedure.get("kind") or self.metadata.get("kind") or "")

    @property
    def subtitle(self) -> str:
        date = self.start_time[:16].replace("T", " ") + " UTC" if self.start_time else ""
        status = "" if self.status == "complete" else f" — {self.status.upper()}"
        return f"board {self.board_name} — run {self.run_id[:8]} ({self.procedure_name}, {date}){status}"
