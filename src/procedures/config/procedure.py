"""Procedure configs (``configs/procedures/*.toml``): what to sweep, how hard to drive, how to acquire.

One file is one procedure: a frequency sweep of all gains, an amplitude sweep (compression and THD), a DC
transfer sweep (offset and transfer curve), a common-mode input range sweep, or a characterisation (the
frequency, amplitude and DC sweeps in one run and one archive). Amplitudes are peak volts at
the board pins; they are checked against the board's ``[limits]`` before any output turns on.

Every number is held to a physical range (the constants below the imports): levels and amplitudes within
+-100 V, frequencies 1 mHz to 1 GHz, at most 10 000 points a sweep; names are ASCII (``config_schema``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from instruments.config_schema import (
    IDENTIFIER_PATTERN,
    NAME_PATTERN,
    Section,
    load_toml,
    optional,
    required,
    validate,
)
from instruments.errors import ConfigError

KINDS = ("frequency_sweep", "amplitude_sweep", "dc_transfer", "cm_range", "characterisation")
#: the sweeps a "characterisation" run measures, in this order, into one archive
CHARACTERISATION = ("frequency_sweep", "amplitude_sweep", "dc_transfer")


def sweeps_of(kind: str) -> tuple[str, ...]:
    """The sweep kinds a procedure kind is made of."""
    return CHARACTERISATION if kind == "characterisation" else (kind,)


V_MAX = 100.0  # |any drive amplitude or DC level|, V: nothing on a bench for a discrete pair goes further
VPK_MIN = 1e-6  # a drive amplitude, V peak: a thousandth of a generator's smallest (1 mVpp)
F_RANGE = (1e-3, 1e9)  # a signal frequency, Hz: 10 periods at 1 mHz already take almost 3 hours; 1 GHz: the
#                        fastest generator a bench here could hold
POINTS_MAX = 10_000  # points of one sweep: at a second a point, almost three hours
AMPLITUDES_MAX = 1000  # amplitudes of one amplitude sweep
SETTLE_MAX_S = 3600.0  # settling wait per DC point, s
PERIODS_MAX = 1e6  # signal periods per record
FREE_PARAMS_MAX = 32  # free parameters of one fit
_PARAM = "a parameter name (an ASCII identifier)"

SCHEMA: dict[str, Section] = {
    "procedure": Section({
        "name": required(str, pattern=NAME_PATTERN, max_len=64),
        "kind": required(str, choices=KINDS),
        "description": optional(str, ""),
    }),
    "drive": Section({
        "vid_vpk": optional(float, 0.002, lo=VPK_MIN, hi=V_MAX,
                            doc="differential drive, V peak (small: the gain compresses as (vid/2V_T)^2/4)"),
        "vic_vpk": optional(float, 0.2, lo=VPK_MIN, hi=V_MAX, doc="common-mode drive, V peak"),
        "cm_drive": optional(str, "tied", choices=("tied", "two-channel"),
                             doc="common mode from one channel into both inputs, or from two channels in phase"),
        "bias_v": optional(float, None, lo=-V_MAX, hi=V_MAX, doc="DC input level (default: the board's bias_v), V"),
        "extrapolate_dm": optional(bool, True,
                                   doc="frequency sweep: measure DM at vid and 2 vid and extrapolate to zero drive, "
                                       "removing the pair's gain compression (cubic, so quadratic in drive)"),
        "compare_ideal": optional(bool, True,
                                  doc="frequency sweep with tied CM: also drive CM from two channels in phase and "
                                      "report what an ideal-generator assumption gives from it "
                                      "(docs/reference/measurement-methods.md §3.3)"),
    }, optional=True),
    "frequency": Section({
        "start_hz": optional(float, 100.0, lo=F_RANGE[0], hi=F_RANGE[1]),
        "stop_hz": optional(float, 1e6, lo=F_RANGE[0], hi=F_RANGE[1]),
        "points": optional(int, 13, lo=1, hi=POINTS_MAX),
        "list_hz": optional(list, None, item_kind=float, lo=F_RANGE[0], hi=F_RANGE[1], max_items=POINTS_MAX,
                            doc="explicit frequencies (overrides start/stop/points)"),
    }, optional=True),
    "amplitude": Section({
        "frequency_hz": optional(float, 1000.0, lo=F_RANGE[0], hi=F_RANGE[1]),
        "vid_vpk": optional(list, None, item_kind=float, lo=VPK_MIN, hi=V_MAX, max_items=AMPLITUDES_MAX,
                            doc="differential drives, V peak (default: chosen from the board's predicted linear "
                                "range and limits, procedures.measure.drive_plan)"),
    }, optional=True),
    "dc": Section({
        "vid_start_v": optional(float, None, lo=-V_MAX, hi=V_MAX,
                                doc="first DC vid, V (default: minus the board's linear drive limit, at most 0.2 V; "
                                    "procedures.measure.drive_plan)"),
        "vid_stop_v": optional(float, None, lo=-V_MAX, hi=V_MAX, doc="last DC vid, V (default: as vid_start_v, +)"),
        "points": optional(int, 41, lo=2, hi=POINTS_MAX),
        "settle_s": optional(float, 0.0, lo=0.0, hi=SETTLE_MAX_S),
    }, optional=True),
    "cm_range": Section({
        "frequency_hz": optional(float, 1000.0, lo=F_RANGE[0], hi=F_RANGE[1]),
        "vid_vpk": optional(float, None, lo=VPK_MIN, hi=V_MAX,
                            doc="differential drive at each level, V peak (default: 10 mV, or the most the board's "
                                "vid_max_vpk allows with the doubled point of the extrapolation)"),
        "vic_vpk": optional(float, 0.01, lo=0.0, hi=V_MAX,
                            doc="common-mode drive at each level, V peak: the mixed-mode gains and CMRRs per level "
                                "(small: a tail leaving its active region is probed locally); 0: |Add| only"),
        "extrapolate": optional(bool, True,
                                doc="for the gains per level, measure DM and CM also at twice the drive and "
                                    "extrapolate to zero drive (near the edge of the range the gains change fast "
                                    "with the level, and a drive's own swing biases them)"),
        "bias_start_v": optional(float, None, lo=-V_MAX, hi=V_MAX),
        "bias_stop_v": optional(float, None, lo=-V_MAX, hi=V_MAX),
        "points": optional(int, 9, lo=2, hi=POINTS_MAX),
    }, optional=True),
    "acquisition": Section({
        "record_points": optional(int, 100_000, lo=1000, hi=10_000_000, doc="requested points per channel"),
        "min_periods": optional(float, 10.0, lo=1.0, hi=PERIODS_MAX, doc="signal periods per record at least"),
        "repeats": optional(int, 1, lo=1, hi=1000, doc="records per point, complex-averaged"),
        "harmonics": optional(int, 5, lo=1, hi=50, doc="harmonics fitted with the fundamental"),
        "fill": optional(float, 0.75, lo=0.1, hi=0.95, doc="fraction of the screen the signal should span"),
        "max_ranging": optional(int, 6, lo=1, hi=20, doc="re-acquisitions allowed to find a range"),
        "timeout_s": optional(float, 10.0, lo=0.1, hi=3600.0,
                              doc="extra allowance per acquisition on top of the wait the record needs "
                                  "(timebase, memory depth, averages), s"),
        "coupling": optional(str, "auto", choices=("auto", "DC", "AC"),
                             doc="auto: AC for sine points (the outputs sit volts above ground, beyond the "
                                 "offset range of sensitive scales), DC for DC points"),
    }, optional=True),
    "calibration": Section({
        "channel_match": optional(bool, True, doc="same-signal calibration of v2/v1 and vo2/vo1 channel ratios"),
        "crosstalk": optional(bool, None,
                              doc="frequency sweep: measure the scope's channel-to-channel crosstalk at every "
                                  "frequency (one probe on input 1, the other tips grounded, four times) and "
                                  "subtract it; needed when one output is far smaller than the other (an active "
                                  "load's mirror node). Left out, the plan decides from the board's prediction; "
                                  "false for a board that needs it is refused (procedures.measure.calibration_plan)"),
        "assume_crosstalk_db": optional(float, None, lo=-200.0, hi=0.0,
                                        doc="the scope's channel-to-channel crosstalk the plan's decision assumes, "
                                            "dB (default: a simulated bench's [sim] scope_crosstalk_db, else -40)"),
    }, optional=True),
    # read by procedures.fitting.run_fits.fit_options (diffbench fit and the fits after a run); the defaults
    # are documented in the modules of procedures/fitting/
    "fit": Section({
        "small_signal": optional(bool, True, doc="fit the frequency sweep's S(f) to the small-signal model"),
        "large_signal": optional(bool, True, doc="fit the amplitude sweep's |Add| and THD to the large-signal model"),
        "dc_transfer": optional(bool, True, doc="fit the DC transfer sweep (offset, slope)"),
        "small_signal_free": optional(list, None, item_kind=str, pattern=IDENTIFIER_PATTERN, form=_PARAM,
                                      max_items=FREE_PARAMS_MAX, doc="free parameters (default in fit_small_signal)"),
        "large_signal_free": optional(list, None, item_kind=str, pattern=IDENTIFIER_PATTERN, form=_PARAM,
                                      max_items=FREE_PARAMS_MAX, doc="free parameters (default in fit_large_signal)"),
        "dc_transfer_free": optional(list, None, item_kind=str, pattern=IDENTIFIER_PATTERN, form=_PARAM,
                                     max_items=FREE_PARAMS_MAX, doc="free parameters (default in fit_dc)"),
        "bounds": optional(dict, {}, doc="parameter name = [lo, hi] (SI units), for any fit's parameter of that name"),
    }, optional=True),
}


@dataclass(frozen=True)
class AcquisitionSettings:
    """How each point is acquired: the procedure's ``[acquisition]`` table, typed (see :data:`SCHEMA`)."""

    record_points: int    # points per channel asked of the scope
    min_periods: float    # signal periods per record, at least
    repeats: int          # records per point, complex-averaged
    harmonics: int        # harmonics fitted with the fundamental (1: the fundamental alone)
    fill: float           # fraction of the screen the signal should span
    max_ranging: int      # re-acquisitions allowed to find a range
    timeout_s: float      # extra allowance per acquisition on top of the wait the record needs, s
    coupling: str         # "auto", "DC" or "AC"

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> AcquisitionSettings:
        """From a validated ``[acquisition]`` table."""
        return cls(record_points=int(table["record_points"]), min_periods=float(table["min_periods"]),
                   repeats=int(table["repeats"]), harmonics=int(table["harmonics"]), fill=float(table["fill"]),
                   max_ranging=int(table["max_ranging"]), timeout_s=float(table["timeout_s"]),
                   coupling=str(table["coupling"]))


@dataclass(frozen=True)
class ProcedureConfig:
    """A validated procedure config. ``raw`` is the TOML text as given (archived with every run)."""

    source: str
    raw: str
    name: str
    kind: str
    description: str
    drive: dict[str, Any]
    frequency: dict[str, Any]
    amplitude: dict[str, Any]
    dc: dict[str, Any]
    cm_range: dict[str, Any]
    acquisition: dict[str, Any]
    calibration: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def acquisition_settings(self) -> AcquisitionSettings:
        """The ``[acquisition]`` table as a typed :class:`AcquisitionSettings`."""
        return AcquisitionSettings.from_table(self.acquisition)

    def frequencies_hz(self) -> np.ndarray:
        """The frequency sweep's points, log-spaced from start to stop (or the explicit list)."""
        f = self.frequency
        if f["list_hz"]:
            return np.asarray(f["list_hz"], dtype=float)
        if f["points"] == 1:
            return np.array([f["start_hz"]])
        return np.geomspace(f["start_hz"], f["stop_hz"], f["points"])


def parse_procedure(doc: dict[str, Any], source: str = "<procedure>", raw: str = "") -> ProcedureConfig:
    """Validate a parsed procedure TOML document."""
    v = validate(source, SCHEMA, doc)
    f = v["frequency"]
    if f["list_hz"] is None and f["stop_hz"] < f["start_hz"]:
        raise ConfigError(source, "[frequency] stop_hz", f"must not be below start_hz ({f['start_hz']:g} Hz)")
    start, stop = v["dc"]["vid_start_v"], v["dc"]["vid_stop_v"]
    if (start is None) != (stop is None):
        missing = "vid_stop_v" if stop is None else "vid_start_v"
        raise ConfigError(source, f"[dc] {missing}", "give both vid_start_v and vid_stop_v, or neither (the plan "
                          "then sweeps the board's linear range)")
    if start is not None and stop <= start:
        raise ConfigError(source, "[dc] vid_stop_v", "must be above vid_start_v")
    if v["amplitude"]["vid_vpk"] is not None and not v["amplitude"]["vid_vpk"]:
        raise ConfigError(source, "[amplitude] vid_vpk", "needs at least one amplitude")
    return ProcedureConfig(
        source=source, raw=raw, name=v["procedure"]["name"], kind=v["procedure"]["kind"],
        description=v["procedure"]["description"], drive=v["drive"], frequency=f, amplitude=v["amplitude"],
        dc=v["dc"], cm_range=v["cm_range"], acquisition=v["acquisition"], calibration=v["calibration"],
    )


def load_procedure(path: str | Path) -> ProcedureConfig:
    """Load and validate ``configs/procedures/<name>.toml``; any problem is one-line :class:`ConfigError`."""
    p = Path(path)
    doc = load_toml(p)
    return parse_procedure(doc, source=str(p), raw=p.read_text(encoding="utf-8"))
