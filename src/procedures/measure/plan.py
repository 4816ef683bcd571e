"""The plan of a run: every point a procedure will measure, in the order that needs the fewest rewirings.

A :class:`PlannedPoint` is one excitation measured with the bench in one configuration: inputs driven
separately or tied to one generator channel, and scope probes on their nodes (``"normal"``), all four on
input 1 (``"link"``, the same-signal calibration of docs/reference/measurement-methods.md §3.4 step 1), or one probe on
input 1 and the other three grounded (``"xtalk-<node>"``, the crosstalk calibration of §3.4 step 3). Points
are grouped so the configuration changes as seldom as possible: on a real bench each change is a person
moving a cable.

Every point has a stable ``key``; a resumed run skips the keys its archive already holds.

Whether the crosstalk calibration is planned is decided from the board's prediction
(:mod:`procedures.measure.calibration_plan`): on when the crosstalk would bias a reported figure, refused
when the procedure turns it off for a board that needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from instruments.bench_config import BenchConfig
from instruments.board_config import BoardConfig
from procedures.config.procedure import ProcedureConfig, sweeps_of
from procedures.measure import excitation as ex
from procedures.measure.acquisition import NODES
from procedures.measure.calibration_plan import CROSSTALK_SWEEPS, CalibrationDecision, check_drive, decide
from procedures.measure.drive_plan import (
    amplitudes_vpk,
    cm_range_cm_drives,
    cm_range_drives,
    dc_span_v,
    frequency_sweep_second_drive,
    second_drives,
)

XTALK = "xtalk-"  # probes "xtalk-vo2": the vo2 channel's probe on input 1, the other three tips grounded


def lone_probe(probes: str) -> str | None:
    """The node whose probe alone is on input 1 in a crosstalk configuration (``"xtalk-vo2"`` -> ``"vo2"``),
    else None."""
    return probes[len(XTALK):] if probes.startswith(XTALK) else None


def calibration_words(probes: str) -> str:
    """What a point measured with the probes placed as ``probes`` says it is, when it is a calibration point:
    ``"calibration (channel match, every probe on input 1)"``, ``"calibration (crosstalk, vo2 probe alone)"``;
    ``""`` for a point with the probes on their nodes."""
    lone = lone_probe(probes)
    if probes == "link":
        return "calibration (channel match, every probe on input 1)"
    if lone is not None:
        return f"calibration (crosstalk, {lone} probe alone)"
    return ""


ROLE_NOTES = {"dm2": " (second drive: extrapolation to zero)", "cm_2x": " (second drive: extrapolation to zero)",
              "cm2": " (two generator channels: ideal-generator comparison)"}
"""What a progress display adds to a point's excitation for the roles whose excitation alone looks like a repeat."""


@dataclass(frozen=True)
class PlannedPoint:
    """One point to measure. ``group`` ties the points whose results combine (e.g. one frequency)."""

    key: str
    role: str                  # "dm", "dm2", "cm", "cm2", "cm_2x", "link", "xtalk", "dc"
    group: int
    excitation: ex.Excitation
    tied: bool
    probes: str = "normal"     # "normal", "link" or XTALK + node
    sweep: str = ""            # the procedure kind whose results this point feeds

    @property
    def configuration(self) -> tuple[bool, str]:
        return (self.tied, self.probes)

    @property
    def label(self) -> str:
        """The point in a few words for a progress display: the excitation (``"dm 1000 Hz 2 mVpk"``), a calibration
        point named as one (``"calibration (channel match, ...): cm 1000 Hz 8 mVpk"``: its excitation repeats a
        measured point's, so without the name it reads as a repeat), a second drive or drive wiring by its
        purpose."""
        text = self.excitation.label
        calibration = calibration_words(self.probes)
        if calibration:
            return f"{calibration}: {text}"
        return text + ROLE_NOTES.get(self.role, "")

    @property
    def trigger_node(self) -> str:
        """The node whose channel the scope triggers on: v1, unless its probe is grounded for a crosstalk point."""
        return lone_probe(self.probes) or "v1"


def _probe_rank(probes: str) -> int:
    lone = lone_probe(probes)
    return {"normal": 0, "link": 1}[probes] if lone is None else 2 + NODES.index(lone)


def _ordered(points: list[PlannedPoint]) -> list[PlannedPoint]:
    """Stable sort by bench configuration: probes on their nodes first (inputs separate, then tied), then the
    link calibration, then the crosstalk calibrations one probe at a time."""
    return sorted(points, key=lambda p: (_probe_rank(p.probes), p.tied))


def frequency_sweep(proc: ProcedureConfig, board: BoardConfig, crosstalk: bool | None = None) -> list[PlannedPoint]:
    """DM and CM at every frequency (+ a second DM drive when ``extrapolate_dm``, twice the first inside the
    board's linear drive limit: drive_plan.frequency_sweep_second_drive; + the link calibration when
    ``channel_match``; + one crosstalk point per probe when ``crosstalk``: the plan's decision, default the
    procedure's ``[calibration] crosstalk = true``); groups = frequencies."""
    if crosstalk is None:
        crosstalk = proc.calibration["crosstalk"] is True
    bias = proc.drive["bias_v"] if proc.drive["bias_v"] is not None else board.bias_v
    tied = proc.drive["cm_drive"] == "tied"
    second = frequency_sweep_second_drive(proc, board) if proc.drive["extrapolate_dm"] else None
    pts = []
    for i, f in enumerate(proc.frequencies_hz()):
        f = float(f)
        pts.append(PlannedPoint(f"f{i}-dm", "dm", i, ex.differential(f, proc.drive["vid_vpk"], bias), False))
        if second is not None:
            pts.append(PlannedPoint(f"f{i}-dm2", "dm2", i, ex.differential(f, second, bias), False))
        cm = ex.common_mode(f, proc.drive["vic_vpk"], bias, tied)
        pts.append(PlannedPoint(f"f{i}-cm", "cm", i, cm, tied))
        if tied and proc.drive["compare_ideal"]:
            cm2 = ex.common_mode(f, proc.drive["vic_vpk"], bias, False)
            pts.append(PlannedPoint(f"f{i}-cm2", "cm2", i, cm2, False))
        if proc.calibration["channel_match"]:
            pts.append(PlannedPoint(f"f{i}-link", "link", i, cm, tied, "link"))
        if crosstalk:
            pts += [PlannedPoint(f"f{i}-xt-{n}", "xtalk", i, cm, tied, XTALK + n) for n in NODES]
    return _ordered(pts)


def amplitude_sweep(proc: ProcedureConfig, board: BoardConfig, crosstalk: bool = False) -> list[PlannedPoint]:
    """DM at each amplitude at one frequency (the procedure's, or chosen for the board:
    :mod:`procedures.measure.drive_plan`); groups = amplitudes (plus the calibrations, group -1: the link
    when ``channel_match``, the crosstalk points when ``crosstalk``)."""
    bias = proc.drive["bias_v"] if proc.drive["bias_v"] is not None else board.bias_v
    f = float(proc.amplitude["frequency_hz"])
    amps = amplitudes_vpk(proc, board)
    pts = [PlannedPoint(f"a{i}-dm", "dm", i, ex.differential(f, a, bias), False) for i, a in enumerate(amps)]
    return _ordered(pts + _calibrations(proc, "a", f, bias, min(amps), crosstalk))


def _calibrations(proc: ProcedureConfig, prefix: str, f: float, bias: float, small: float,
                  crosstalk: bool) -> list[PlannedPoint]:
    """A single-frequency sweep's calibrations at ``f``, group -1, at the input DC level ``bias``: the link
    (every probe on input 1) when ``channel_match``, at a drive near the sweep's smallest (``small``, V peak:
    4 x it, at most ``[drive] vic_vpk``) so the channels sit on the scales they measure on; and one crosstalk
    point per probe when ``crosstalk``, at ``[drive] vic_vpk`` (the ratio it measures does not depend on the
    drive, and its u falls as the drive grows)."""
    pts = []
    if proc.calibration["channel_match"]:
        link = ex.common_mode(f, min(proc.drive["vic_vpk"], 4 * small), bias, False)
        pts.append(PlannedPoint(f"{prefix}-link", "link", -1, link, False, "link"))
    if crosstalk:
        drive = ex.common_mode(f, proc.drive["vic_vpk"], bias, False)
        pts += [PlannedPoint(f"{prefix}-xt-{n}", "xtalk", -1, drive, False, XTALK + n) for n in NODES]
    return pts


def dc_transfer(proc: ProcedureConfig, board: BoardConfig) -> list[PlannedPoint]:
    """DC differential input stepped from start to stop around the bias (the procedure's, or chosen for the
    board: :mod:`procedures.measure.drive_plan`); groups = steps."""
    bias = proc.drive["bias_v"] if proc.drive["bias_v"] is not None else board.bias_v
    vids = np.linspace(*dc_span_v(proc, board), proc.dc["points"])
    pts = [PlannedPoint(f"d{i}", "dc", i, ex.dc_level(float(v), bias), False) for i, v in enumerate(vids)]
    if proc.calibration["channel_match"]:
        # every probe on input 1 at one DC level: the channels' DC gain ratios. A 0.4 % gain difference on two
        # 2 V levels is an 8 mV error in vid, far larger than a pair's offset.
        pts.append(PlannedPoint("d-link", "link", -1, ex.dc_level(0.0, dc_link_level_v(board, bias)), False,
                                "link"))
    return _ordered(pts)


DC_LINK_MIN_V = 0.5  # V: the smallest input level the DC link is measured at (module docstring of dc_link_level_v)


def dc_link_level_v(board: BoardConfig, bias: float) -> float:
    """The input DC level (V) of the DC transfer's link point: the bias, unless it is below
    :data:`DC_LINK_MIN_V` in magnitude; then 90 % of the way from it to the farther end of the board's input
    range. The link divides each channel's reading by v1's, so its level must stand well above the channels'
    offsets and noise: a split-supply pair biased at 0 V would otherwise divide microvolts by microvolts."""
    if abs(bias) >= DC_LINK_MIN_V:
        return bias
    return max((bias + 0.9 * (board.bias_max_v - bias), bias + 0.9 * (board.bias_min_v - bias)), key=abs)


def cm_range(proc: ProcedureConfig, board: BoardConfig, crosstalk: bool = False) -> list[PlannedPoint]:
    """DM gain at each input DC level, and a small CM point at each level when ``[cm_range] vic_vpk`` > 0 (the
    mixed-mode gains and CMRRs per level: a tail source that leaves its active region shows as CMRR_se
    collapsing), each also at a second drive when ``extrapolate`` (roles ``dm2``, ``cm_2x``: twice the CM drive, up
    to twice the DM drive inside the level's linear drive limit: drive_plan.second_drives; the CM drive
    lowered at a level whose CMRR_se is too low for it: drive_plan.cm_range_cm_drives); groups = levels
    (plus the calibrations at the middle level, group -1: the link when ``channel_match``, without which the
    scope channels' gain mismatch, ~0.3 %, biases every |Add|; the crosstalk points when ``crosstalk``).
    Drives and levels left out are chosen for the board (:func:`procedures.measure.drive_plan.cm_range_drives`)."""
    c = proc.cm_range
    vid, vic, lo, hi = cm_range_drives(proc, board)
    f = float(c["frequency_hz"])
    tied = proc.drive["cm_drive"] == "tied"
    doubled = c["extrapolate"] and vic > 0
    levels = np.linspace(lo, hi, c["points"])
    second = second_drives(board, vid, levels) if doubled else np.full(levels.shape, vid)
    cm = cm_range_cm_drives(board, vic, second, levels, f, 2.0 if doubled else 1.0) if vic > 0 else levels
    pts = []
    for i, b in enumerate(levels):
        pts.append(PlannedPoint(f"b{i}-dm", "dm", i, ex.differential(f, vid, float(b)), False))
        if doubled:
            pts.append(PlannedPoint(f"b{i}-dm2", "dm2", i, ex.differential(f, float(second[i]), float(b)), False))
        if vic > 0:
            pts.append(PlannedPoint(f"b{i}-cm", "cm", i, ex.common_mode(f, float(cm[i]), float(b), tied), tied))
        if doubled:
            pts.append(PlannedPoint(f"b{i}-cm2x", "cm_2x", i, ex.common_mode(f, 2 * float(cm[i]), float(b), tied),
                                    tied))
    return _ordered(pts + _calibrations(proc, "b", f, (lo + hi) / 2, vid, crosstalk))


PLANNERS: dict[str, Callable[..., list[PlannedPoint]]] = {
    "frequency_sweep": frequency_sweep,
    "amplitude_sweep": amplitude_sweep,
    "dc_transfer": dc_transfer,
    "cm_range": cm_range,
}


def _tagged(kind: str, points: list[PlannedPoint], prefix: str) -> list[PlannedPoint]:
    from dataclasses import replace

    return [replace(p, sweep=kind, key=prefix + p.key) for p in points]


def plan(proc: ProcedureConfig, board: BoardConfig, bench: BenchConfig | None = None) -> list[PlannedPoint]:
    """Every point of the procedure, each already checked against the board's safe limits.

    Raises :class:`~instruments.errors.SafetyError` for the first unsafe point, and a one-line
    :class:`~instruments.errors.ConfigError` for a drive or calibration the board's prediction rules out
    (:func:`plan_with_decision`), before anything is switched on (so a bad config changes nothing).
    """
    return plan_with_decision(proc, board, bench)[0]


def plan_with_decision(proc: ProcedureConfig, board: BoardConfig, bench: BenchConfig | None = None
                       ) -> tuple[list[PlannedPoint], CalibrationDecision]:
    """:func:`plan`, and the crosstalk calibration decision it made (with its reason, for the terminal and
    the archive). ``bench``: the bench the run is on (its scope's crosstalk and wiring; None: not known,
    :func:`procedures.measure.calibration_plan.assumed_crosstalk`)."""
    def points_with(crosstalk: tuple[str, ...]) -> list[PlannedPoint]:
        kinds = sweeps_of(proc.kind)
        points = []
        for kind in kinds:
            made = (PLANNERS[kind](proc, board, kind in crosstalk) if kind in CROSSTALK_SWEEPS
                    else PLANNERS[kind](proc, board))
            points += _tagged(kind, made, f"{kind}:" if len(kinds) > 1 else "")
        return _ordered(points)  # across sweeps too: a person rewires the bench as few times as possible

    for p in points_with(CROSSTALK_SWEEPS):  # every excitation the plan can choose
        ex.check_limits(p.excitation, board)
    check_drive(proc, board)
    decision = decide(proc, board, bench)
    return points_with(decision.sweeps), decision
