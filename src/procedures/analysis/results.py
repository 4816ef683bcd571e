"""Results of a run, computed from its archived point rows and written back as tables.

Frequency sweep: the mixed-mode gains per frequency with uncertainties, the CMRRs in dB, and the same
figures under an ideal-generator assumption for comparison (docs/reference/measurement-methods.md §3.3).
Amplitude sweep: differential gain, compression and output THD per drive. DC transfer: vod against vid at
the pins, the input offset and the slope. Common-mode range: differential gain per input DC level, and the mixed-mode
gains and CMRRs per level (a small CM point at each).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from models.mixed_mode import GAIN_NAMES
from procedures.analysis.calibration import Calibration
from procedures.analysis.crosstalk import Crosstalk, uneven_outputs
from procedures.analysis.dc_rows import LINK_U_COLUMN, dc_rows
from procedures.analysis.dc_transfer import dc_transfer
from procedures.analysis.differential_gain import differential_gain, output_thd
from procedures.analysis.frequency_gains import FrequencyGains, extrapolate_to_zero_drive, gains_at_frequency
from procedures.analysis.gain_figures import DB_FIGURES, single_ended
from procedures.archive.writer import Column, RunArchive, TableSpec
from procedures.config.procedure import ProcedureConfig, sweeps_of
from procedures.measure.acquisition import NODES
from procedures.measure.excitation import nominal_vid_vic
from procedures.measure.plan import PlannedPoint, lone_probe

Row = Mapping[str, Any]
MODE_DIMS = ("mode_out", "mode_in")


def result_tables(kind: str) -> dict[str, TableSpec]:
    """Declarations of the result tables of a procedure kind (a characterisation has all of its sweeps')."""
    if kind == "characterisation":
        return {name: spec for k in sweeps_of(kind) for name, spec in result_tables(k).items()}
    if kind == "frequency_sweep":
        cols = {
            "frequency_hz": Column("float64", "Hz", "test frequency"),
            "S": Column("complex128", "1", "mixed-mode gains [[Add, Acd], [Adc, Acc]]", shape=(2, 2),
                        dims=MODE_DIMS, uncertainty=True),
            "S_cov": Column("float64", "1", "covariance of (Re, Im) of S11, S12, S21, S22", shape=(8, 8),
                            dims=("s_real", "s_real2")),
            "S_ideal": Column("complex128", "1", "S under an ideal-generator assumption (for comparison)",
                              shape=(2, 2), dims=MODE_DIMS),
        }
        for name in ("Ad_se1", "Acm_se1", "Ad_se2", "Acm_se2"):
            cols[name] = Column("complex128", "1", f"single-ended gain {name}")
        for name in DB_FIGURES:
            cols[name] = Column("float64", "dB", name.replace("_db", "") + " in dB (the limit, for a limit)",
                                uncertainty=True)
            cols[f"{name}_kind"] = Column("str", "", "value, lower_limit, upper_limit or none (a denominator or "
                                          "numerator in the noise: docs/archive.md)")
            cols[name.replace("_db", "_ideal_db")] = Column("float64", "dB", name + " assuming an ideal generator")
        return {"gains": TableSpec(cols, long_name="mixed-mode gains versus frequency", signal="CMRR_diff_db",
                                   axis="frequency_hz", labels={"mode_out": ("d", "c"), "mode_in": ("d", "c")})}
    if kind == "cm_range":
        gains = result_tables("frequency_sweep")["gains"]
        cols = {"bias_v": Column("float64", "V", "DC level of the inputs (the generators' offset)"), **gains.columns}
        return {**result_tables("amplitude_sweep"),
                "cm_gains": TableSpec(cols, long_name="mixed-mode gains versus input common-mode DC level",
                                      signal="CMRR_se1_db", axis="bias_v", labels=gains.labels)}
    if kind == "amplitude_sweep":
        return {"dm_gain": TableSpec({
            "frequency_hz": Column("float64", "Hz", "test frequency"),
            "vid_vpk": Column("float64", "V", "measured differential input amplitude, peak", uncertainty=True),
            "vid_vpk_nominal": Column("float64", "V", "nominal differential drive, peak"),
            "bias_v": Column("float64", "V", "DC level of the inputs (the generators' offset)"),
            "Add": Column("complex128", "1", "differential gain vod/vid (fundamental)", uncertainty=True),
            "compression": Column("float64", "1", "|Add| relative to the smallest drive"),
            "thd_out": Column("float64", "1", "THD of vod (ratio)"),
        }, long_name="differential gain versus drive", signal="thd_out", axis="vid_vpk")}
    if kind == "dc_transfer":
        return {"dc": TableSpec({
            "vid_v": Column("float64", "V", "measured DC differential input", uncertainty=True),
            "vic_v": Column("float64", "V", "measured DC common-mode input"),
            "vo1_v": Column("float64", "V", "DC level of output 1"),
            "vo2_v": Column("float64", "V", "DC level of output 2"),
            "vod_v": Column("float64", "V", "DC differential output", uncertainty=True),
            LINK_U_COLUMN: Column("float64", "1", "relative standard uncertainty of the DC link calibration per "
                                  "channel (v1, v2, vo1, vo2): one error shared by every row", shape=(4,),
                                  dims=("node",)),
        }, long_name="DC transfer", signal="vod_v", axis="vid_v"),
            "dc_summary": TableSpec({
                "offset_v": Column("float64", "V", "input-referred offset (vid at vod = 0)"),
                "slope": Column("float64", "1", "dvod/dvid at the offset"),
            }, long_name="DC transfer summary")}
    raise ValueError(f"unknown procedure kind {kind!r}")


def _by_role(rows: Sequence[Row], role: str) -> dict[int, Row]:
    return {int(r["group"]): r for r in rows if r["role"] == role}


def _ph(r: Row) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(r["phasor"], complex), np.real(np.asarray(r["phasor_u"], complex))


def compute_results(proc: ProcedureConfig, rows: Sequence[Row], points: Sequence[PlannedPoint]) -> dict[str, Any]:
    """Result rows per table name, from the point rows (``rows``) and the plan (for nominal drives)."""
    out: dict[str, Any] = {}
    for kind in sweeps_of(proc.kind):
        out.update(_sweep_results(kind, [r for r in rows if str(r["sweep"]) == kind], points))
    return out


def _sweep_results(kind: str, rows: Sequence[Row], points: Sequence[PlannedPoint]) -> dict[str, Any]:
    if kind == "frequency_sweep":
        return {"gains": _frequency_results(rows, points)}
    if kind == "amplitude_sweep":
        return {"dm_gain": _drive_results(rows, points, kind)}
    if kind == "cm_range":
        return {"dm_gain": _drive_results(rows, points, kind), "cm_gains": _level_gains(rows, points)}
    if kind == "dc_transfer":
        out = dc_rows(rows)
        tr = dc_transfer(np.array([o["vid_v"] for o in out]), np.array([o["vod_v"] for o in out]))
        return {"dc": out, "dc_summary": [{"offset_v": tr.offset_v, "slope": tr.slope}]}
    raise ValueError(f"unknown procedure kind {kind!r}")


def _frequency_results(rows: Sequence[Row], points: Sequence[PlannedPoint]) -> list[dict[str, Any]]:
    """One gains row per frequency whose points are all in (an interrupted run has fewer)."""
    by_key = {p.key: p for p in points}
    mine = [p for p in points if p.sweep == "frequency_sweep"]
    dm, cm, link = _by_role(rows, "dm"), _by_role(rows, "cm"), _by_role(rows, "link")
    cm2, dm2 = _by_role(rows, "cm2"), _by_role(rows, "dm2")
    xtalk = _crosstalk_points(rows)
    out = []
    calibrated = any(p.role == "link" for p in mine)
    crosstalk_cal = any(p.role == "xtalk" for p in mine)
    for g in sorted(dm):
        if g not in cm or (calibrated and g not in link) or (crosstalk_cal and len(xtalk.get(g, {})) < 4):
            continue  # not yet complete (an interrupted run): no number rather than an uncalibrated one
        xt = Crosstalk.from_points(xtalk[g]) if crosstalk_cal else Crosstalk.none()

        def ph(r: Row, xt: Crosstalk = xt) -> tuple[np.ndarray, np.ndarray]:
            return xt.apply(*_ph(r))

        cal = Calibration.from_link(*ph(link[g])) if g in link else Calibration.identity()
        naive = cm2.get(g, cm[g])  # the ideal-generator figure comes from a two-channel CM drive when measured
        dm_ph = extrapolate_to_zero_drive(ph(dm[g]), ph(dm2[g])) if g in dm2 else ph(dm[g])
        fg = gains_at_frequency(float(dm[g]["frequency_hz"]), dm_ph, ph(cm[g]), bool(cm[g]["tied"]), cal,
                                nominal_vid_vic(by_key[dm[g]["key"]].excitation),
                                nominal_vid_vic(by_key[naive["key"]].excitation), _ph(naive))
        out.append(_gain_row(fg))
    return out


def _level_gains(rows: Sequence[Row], points: Sequence[PlannedPoint]) -> list[dict[str, Any]]:
    """One mixed-mode gains row per common-mode level whose points are all in (cm-range with ``vic_vpk`` > 0),
    calibrated with the range's one link point: the frequency sweep's solve at one frequency, DM and CM each
    extrapolated to zero drive when their doubled points were planned."""
    by_key = {p.key: p for p in points}
    mine = [p for p in points if p.sweep == "cm_range"]
    dm, cm = _by_role(rows, "dm"), _by_role(rows, "cm")
    dm2, cm2x = _by_role(rows, "dm2"), _by_role(rows, "cm_2x")
    calibrated = _single_frequency_calibration(rows, mine)
    if calibrated is None:
        return []  # the calibration is planned but not measured yet (an interrupted run)
    xt, cal = calibrated
    doubled = any(p.role == "cm_2x" for p in mine)
    out = []
    for g in sorted(set(dm) & set(cm)):
        if doubled and not (g in dm2 and g in cm2x):
            continue
        dm_ph = extrapolate_to_zero_drive(xt.apply(*_ph(dm[g])), xt.apply(*_ph(dm2[g]))) if doubled \
            else xt.apply(*_ph(dm[g]))
        cm_ph = extrapolate_to_zero_drive(xt.apply(*_ph(cm[g])), xt.apply(*_ph(cm2x[g])), "cm") if doubled \
            else xt.apply(*_ph(cm[g]))
        fg = gains_at_frequency(float(dm[g]["frequency_hz"]), dm_ph, cm_ph, bool(cm[g]["tied"]), cal,
                                nominal_vid_vic(by_key[dm[g]["key"]].excitation),
                                nominal_vid_vic(by_key[cm[g]["key"]].excitation))
        out.append({"bias_v": float(dm[g]["bias_v"]), **_gain_row(fg)})
    return out


def _single_frequency_calibration(rows: Sequence[Row], planned: Sequence[PlannedPoint]
                                  ) -> tuple[Crosstalk, Calibration] | None:
    """The crosstalk and channel-match calibrations of a single-frequency sweep (group -1; the link read with
    the crosstalk removed, as the frequency sweep's), identities where not planned; None while a planned one
    is not measured yet (an interrupted run: no number rather than an uncalibrated one)."""
    link, xtalk = _by_role(rows, "link"), _crosstalk_points(rows).get(-1, {})
    if any(p.role == "link" for p in planned) and -1 not in link:
        return None
    if any(p.role == "xtalk" for p in planned) and len(xtalk) < 4:
        return None
    xt = Crosstalk.from_points(xtalk) if xtalk else Crosstalk.none()
    return xt, Calibration.from_link(*xt.apply(*_ph(link[-1]))) if -1 in link else Calibration.identity()


def _drive_results(rows: Sequence[Row], points: Sequence[PlannedPoint], sweep: str) -> list[dict[str, Any]]:
    """One dm_gain row per differential point (amplitude sweep or common-mode range), calibrated."""
    dm = _by_role(rows, "dm")
    calibrated = _single_frequency_calibration(rows, [p for p in points if p.sweep == sweep])
    if calibrated is None:
        return []
    xt, cal = calibrated
    out: list[dict[str, Any]] = []
    for g in sorted(dm):
        r = dm[g]
        p, u = cal.apply(*xt.apply(*_ph(r)))
        add, add_u = differential_gain(p, u)
        out.append({"frequency_hz": float(r["frequency_hz"]), "vid_vpk": float(abs(p[0] - p[1])),
                    "vid_vpk_u": float(np.hypot(u[0], u[1])),  # per-quadrature u of v1 - v2, along it
                    "vid_vpk_nominal": float(r["vid_vpk_nominal"]),
                    "bias_v": float(r["bias_v"]),
                    "Add": add, "Add_u": add_u * (1 + 1j),
                    # no harmonics column when only the fundamental was fitted: THD not measured
                    "thd_out": output_thd(np.asarray(r["harmonics"]), p) if "harmonics" in r else float("nan")})
    if out:
        ref = abs(min(out, key=lambda o: o["vid_vpk"])["Add"])
        for o in out:
            o["compression"] = abs(o["Add"]) / ref
    return out


def crosstalk_advice(rows: Sequence[Row], points: Sequence[PlannedPoint]) -> str | None:
    """A warning for a frequency sweep measured without the crosstalk calibration whose outputs swing very
    unevenly (the small output's channel then reads a visible share of the large one's), else None."""
    if any(p.role == "xtalk" for p in points):
        return None
    uneven = [r for r in rows if r["role"] == "dm" and str(r["sweep"]) == "frequency_sweep"
              and uneven_outputs(np.asarray(r["phasor"], complex))]
    if not uneven:
        return None
    ph = np.abs(np.asarray(uneven[0]["phasor"], complex))
    return (f"output swings differ {max(ph[2], ph[3]) / max(min(ph[2], ph[3]), 1e-30):.0f}x in the differential "
            f"points ({len(uneven)} of them); scope crosstalk from the large output can be a large part of the small "
            "one: set [calibration] crosstalk = true in the procedure to measure and subtract it")


def _crosstalk_points(rows: Sequence[Row]) -> dict[int, dict[int, tuple[np.ndarray, np.ndarray]]]:
    """``{group: {driven node index: (phasors, u)}}`` of the crosstalk points."""
    out: dict[int, dict[int, tuple[np.ndarray, np.ndarray]]] = {}
    for r in rows:
        lone = lone_probe(str(r["probes"])) if r["role"] == "xtalk" else None
        if lone is not None:
            out.setdefault(int(r["group"]), {})[NODES.index(lone)] = _ph(r)
    return out


def _gain_row(fg: FrequencyGains) -> dict[str, Any]:
    s, ideal = fg.solve, fg.ideal
    u = np.array([[s.u(n) for n in GAIN_NAMES[:2]], [s.u(n) for n in GAIN_NAMES[2:]]])
    # per-quadrature standard uncertainty, stored as u(re) + j u(im) (docs/archive.md)
    row: dict[str, Any] = {"frequency_hz": fg.frequency_hz, "S": s.S, "S_u": u * (1 + 1j),
                           "S_cov": s.cov, "S_ideal": ideal.S}
    row.update(single_ended(s.S))
    row.update(s.db_columns(ideal.S))
    return row


def store_results(archive: RunArchive, kind: str, results: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
    """Append every result row to its table (the caller commits)."""
    for table, rows in results.items():
        for row in rows:
            archive.append(table, row)
