"""The archive tables of a run's measured points and raw records (declarations and row builders).

Every point is one row of the ``points`` table: what was asked (excitation, bench configuration), what
the scope was set to, and what the fits found (phasors of the four nodes referenced to v1's phase, with
standard uncertainties, DC levels, harmonics, residuals). Its raw records (integer codes with scaling) go
to the archive's records, tagged with the point's row index.

With ``[acquisition] harmonics = 1`` (the fundamental alone) there are no harmonics to store: the table then
has no ``harmonics`` column (an archive column cannot have a zero-length axis), and whoever reads it takes a
missing column for "not measured".
"""

from __future__ import annotations

from typing import Any

import numpy as np

from instruments.scope import Oscilloscope
from procedures.archive.writer import Column, TableSpec, WaveformSpec
from procedures.measure.acquisition import NODES
from procedures.measure.plan import PlannedPoint
from procedures.measure.point import PointResult

POINTS = "points"
NODE_DIM = ("node",)


def points_table(n_harmonics: int) -> TableSpec:
    """Declaration of the ``points`` table for ``n_harmonics`` fitted harmonics (fundamental included); the
    ``harmonics`` column (2..K) only when there is at least one beyond the fundamental."""
    h = max(n_harmonics - 1, 0)
    columns = {
        "key": Column("str", "", "stable point key (for resume)"),
        "sweep": Column("str", "", "sweep the point belongs to (frequency_sweep, amplitude_sweep, ...)"),
        "role": Column("str", "", "dm | dm2 | cm | cm2 | link | xtalk | dc"),
        "group": Column("int64", "1", "group index (frequency, amplitude or level)"),
        "mode": Column("str", "", "excitation mode"),
        "tied": Column("bool", "", "inputs tied to one generator channel"),
        "probes": Column("str", "", "normal | link (all probes on input 1) | "
                                    "xtalk-<node> (that probe on input 1, others grounded)"),
        "frequency_hz": Column("float64", "Hz", "test frequency (0 for DC)"),
        "vid_vpk_nominal": Column("float64", "V", "nominal differential drive, peak"),
        "vic_vpk_nominal": Column("float64", "V", "nominal common-mode drive, peak"),
        "vid_dc_v_nominal": Column("float64", "V", "nominal DC differential input"),
        "bias_v": Column("float64", "V", "DC level of the inputs"),
        "phasor": Column("complex128", "V", "fundamental phasor per node (peak, v1 phase reference)",
                         shape=(4,), dims=NODE_DIM, uncertainty=True),
        "dc_v": Column("float64", "V", "DC level per node", shape=(4,), dims=NODE_DIM),
        "harmonics": Column("complex128", "V", "harmonics 2..K per node (peak)", shape=(4, h),
                            dims=NODE_DIM + ("harmonic",)),
        "residual_rms_v": Column("float64", "V", "fit residual rms per node", shape=(4,), dims=NODE_DIM),
        "scale_v_per_div": Column("float64", "V", "vertical scale per node's channel (V/div)", shape=(4,),
                                  dims=NODE_DIM),
        "offset_v": Column("float64", "V", "screen-centre voltage per node's channel", shape=(4,), dims=NODE_DIM),
        "clipped": Column("str", "", "nodes that clipped (comma-separated; empty if none)"),
        "ranging_attempts": Column("int64", "1", "acquisitions needed to settle the ranges"),
        "n_records": Column("int64", "1", "records averaged"),
        "full_acquisitions": Column("int64", "1", "full-length acquisitions made for the point (kept records "
                                                  "included)"),
        "short_acquisitions": Column("int64", "1", "short acquisitions made to find the ranges"),
        "short_points": Column("int64", "1", "points per channel of the short acquisitions (0: none)"),
    }
    if h == 0:
        del columns["harmonics"]
    return TableSpec(columns, long_name="measured points", labels={"node": NODES})


def record_spec(n_samples: int, scope: Oscilloscope) -> WaveformSpec:
    """Raw records: the four nodes, ``n_samples`` codes each, in the scope family's code dtype."""
    return WaveformSpec(channels=NODES, n_samples=int(n_samples), dtype=scope.code_dtype)


def point_row(index: int, p: PlannedPoint, r: PointResult, n_harmonics: int) -> dict[str, Any]:
    """The ``points`` row of one measured point (no ``harmonics`` entry when ``n_harmonics`` is 1)."""
    h = max(n_harmonics - 1, 0)
    harm = np.zeros((4, h), complex)
    if r.harmonics.size and h:
        harm[:, :r.harmonics.shape[1]] = r.harmonics[:, :h]
    exc = p.excitation
    row = {
        "key": p.key, "sweep": p.sweep, "role": p.role, "group": p.group, "mode": exc.mode, "tied": p.tied,
        "probes": p.probes,
        "frequency_hz": exc.frequency_hz, "vid_vpk_nominal": exc.vid_vpk, "vic_vpk_nominal": exc.vic_vpk,
        "vid_dc_v_nominal": exc.vid_dc_v, "bias_v": exc.vic_dc_v,
        "phasor": r.phasors, "phasor_u": r.phasors_u + 1j * r.phasors_u,
        "dc_v": r.dc_v, "harmonics": harm, "residual_rms_v": r.residual_rms_v,
        "scale_v_per_div": np.array([r.ranges[n].scale_v_per_div for n in NODES]),
        "offset_v": np.array([r.ranges[n].offset_v for n in NODES]),
        "clipped": ",".join(r.clipped), "ranging_attempts": r.ranging_attempts, "n_records": len(r.records),
        "full_acquisitions": r.acquisitions[0], "short_acquisitions": r.acquisitions[1],
        "short_points": r.acquisitions[2],
    }
    if h == 0:
        del row["harmonics"]
    return row
