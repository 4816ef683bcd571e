"""One measured point: drive the board, acquire the four nodes, and turn the records into phasors.

:func:`measure_point` applies an :class:`~procedures.measure.excitation.Excitation`, auto-ranges (or uses fixed
ranges, for calibration), takes ``repeats`` acquisitions and fits every record (4-parameter fit on the
cleanest channel, 3-parameter fits with harmonics on all four; docs/reference/measurement-methods.md §1.2). Phasors of
several records are averaged as complex numbers *referenced to the phase of input v1*, which makes the
average immune to trigger phase jitter (§1.5 "average complex phasors referenced to the input channel").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from instruments.generator import FunctionGenerator
from instruments.scope import Oscilloscope
from instruments.waveform import Waveform
from procedures.config.procedure import AcquisitionSettings
from procedures.measure.acquisition import (
    NODES,
    ChannelRange,
    RangeMemory,
    RangingError,
    Record,
    acquire_record,
    apply_range,
    autorange,
)
from procedures.measure.excitation import Excitation, apply_excitation
from procedures.measure.phasors import SineFit, fit_channels


@dataclass
class PointResult:
    """Phasors of the four nodes (V peak, referenced to v1's phase) with their standard uncertainties."""

    excitation: Excitation
    frequency_hz: float
    phasors: np.ndarray            # (4,) complex, NODES order
    phasors_u: np.ndarray          # (4,) per-quadrature standard uncertainty, V
    dc_v: np.ndarray               # (4,) DC level, V
    harmonics: np.ndarray          # (4, K-1) complex, referenced like the phasors
    residual_rms_v: np.ndarray     # (4,)
    ranges: dict[str, ChannelRange]
    records: list[Record] = field(default_factory=list)
    ranging_attempts: int = 1

    @property
    def acquisitions(self) -> tuple[int, int, int]:
        """(full-length acquisitions, short ranging acquisitions, the short ones' points per channel) made for
        this point, the kept records included."""
        full = sum(r.full_acquisitions for r in self.records)
        return full, sum(r.short_acquisitions for r in self.records), max(r.short_points for r in self.records)

    @property
    def clipped(self) -> tuple[str, ...]:
        """The nodes that clipped in any of the records (none: :func:`acquire_point` refuses such a record)."""
        return tuple(sorted({n for r in self.records for n in r.clipped}))

    def thd(self, node: str) -> float:
        """THD of one node over the fitted harmonics (ratio)."""
        i = NODES.index(node)
        return float(np.sqrt(np.sum(np.abs(self.harmonics[i]) ** 2)) / abs(self.phasors[i]))


def _reference(fits: list[SineFit]) -> complex:
    """Unit phasor of input v1 (or of the largest node when v1 carries no signal)."""
    v1 = fits[0]
    ref = v1.phasor if abs(v1.phasor) > 5 * v1.phasor_u else max(fits, key=lambda f: abs(f.phasor)).phasor
    return ref / abs(ref) if ref != 0 else 1.0


def phasors_of_records(records: list[Record], frequency_hz: float, n_harmonics: int) -> tuple[np.ndarray, ...]:
    """Fit every record; return averaged (phasors, u, dc, harmonics, residual) over the records.

    Each record's phasors are rotated by the conjugate of its reference phase before averaging; the
    uncertainty of the mean is the per-record fit uncertainty over sqrt(M) (§2.3: fit-then-average reaches
    ``sigma sqrt(2/(N M))``), combined with the scatter between records when there are several.
    """
    ph, us, dcs, hs, res = [], [], [], [], []
    for rec in records:
        t = rec.time_s()
        if frequency_hz <= 0:
            v = rec.volts()
            dc = v.mean(axis=1)
            sd = v.std(axis=1, ddof=1)
            ph.append(np.zeros(4, complex))
            us.append(sd / np.sqrt(v.shape[1]))
            dcs.append(dc)
            hs.append(np.zeros((4, 0), complex))
            res.append(sd)
            continue
        fits = fit_channels(t, rec.volts(), frequency_hz, n_harmonics=n_harmonics)
        rot = np.conj(_reference(fits))
        k = np.arange(2, fits[0].harmonics.size + 2)
        ph.append(np.array([f.phasor for f in fits]) * rot)
        us.append(np.array([f.phasor_u for f in fits]))
        dcs.append(np.array([f.dc_v for f in fits]))
        hs.append(np.array([f.harmonics * rot ** k for f in fits]))
        res.append(np.array([f.residual_rms_v for f in fits]))
    m = len(records)
    P = np.array(ph)
    u_fit = np.sqrt(np.mean(np.array(us) ** 2, axis=0) / m)
    if m > 2:
        scatter = np.sqrt(0.5 * (P.real.var(axis=0, ddof=1) + P.imag.var(axis=0, ddof=1)) / m)
        u = np.maximum(u_fit, scatter)
    else:
        u = u_fit
    return P.mean(axis=0), u, np.mean(dcs, axis=0), np.mean(hs, axis=0), np.mean(res, axis=0)


@dataclass
class Acquired:
    """The raw records of one point, before analysis."""

    excitation: Excitation
    records: list[Record]
    ranges: dict[str, ChannelRange]
    ranging_attempts: int


def acquire_point(gen: FunctionGenerator, scope: Oscilloscope, channels: dict[str, int], exc: Excitation, *,
                  memory: RangeMemory, settings: AcquisitionSettings,
                  fixed_ranges: dict[str, ChannelRange] | None = None) -> Acquired:
    """Apply ``exc``, range the scope (or set ``fixed_ranges``) and take ``settings.repeats`` records (no analysis).

    ``settings.timeout_s`` is the operator's extra allowance per acquisition on top of the wait the record
    needs (:mod:`procedures.measure.acquisition`). The generator's outputs are left as ``exc`` set them; the
    caller's safety guard switches them off.

    No clipped record is returned: ranging that cannot settle, a record clipped at ``fixed_ranges`` and a
    repeat clipped at the range its first record settled on (the signal moved between records) raise
    :class:`~procedures.measure.acquisition.RangingError`, one line naming the point and the nodes.
    """
    repeats, timeout_s = settings.repeats, settings.timeout_s
    apply_excitation(gen, exc)
    if fixed_ranges is not None:
        for node in NODES:
            memory.ranges[node] = apply_range(scope, channels[node], fixed_ranges[node])
        first = Record(acquire_record(scope, channels, timeout_s), dict(fixed_ranges))
        _refuse_clipped(scope, channels, exc, first.waveforms, "at the fixed ranges it was given")
    else:
        try:
            first = autorange(scope, channels, memory, fill=settings.fill, max_attempts=settings.max_ranging,
                              timeout_s=timeout_s, excitation=exc)
        except RangingError as err:
            raise RangingError(err.instrument, f"{exc.label}: {err.message}", err.command) from err
    records = [first]
    for _ in range(repeats - 1):
        wf = acquire_record(scope, channels, timeout_s)
        _refuse_clipped(scope, channels, exc, wf, f"in repeat {len(records) + 1} of {repeats}, at the ranges its "
                                                  "first record settled on (the signal moved between records)")
        records.append(Record(wf, first.ranges))
    return Acquired(exc, records, first.ranges, first.ranging_attempts)


def _refuse_clipped(scope: Oscilloscope, channels: dict[str, int], exc: Excitation, waveforms: dict[str, Waveform],
                    when: str) -> None:
    """Raise :class:`RangingError` if any node of a record clipped."""
    clipped = [f"{n} (channel {channels[n]})" for n in NODES if waveforms[n].clipped]
    if clipped:
        raise RangingError(scope.label, f"{exc.label}: {', '.join(clipped)} clipped {when}")


def analyse_point(acq: Acquired, n_harmonics: int) -> PointResult:
    """Fit the records of one point (pure computation: a run does it while the next point is acquired)."""
    phasors, u, dc, harm, res = phasors_of_records(acq.records, acq.excitation.frequency_hz, n_harmonics)
    return PointResult(acq.excitation, acq.excitation.frequency_hz, phasors, u, dc, harm, res, acq.ranges,
                       acq.records, acq.ranging_attempts)


def measure_point(gen: FunctionGenerator, scope: Oscilloscope, channels: dict[str, int], exc: Excitation, *,
                  memory: RangeMemory, settings: AcquisitionSettings,
                  fixed_ranges: dict[str, ChannelRange] | None = None) -> PointResult:
    """:func:`acquire_point` then :func:`analyse_point` (``settings.harmonics``), for scripts that measure one
    point at a time."""
    acq = acquire_point(gen, scope, channels, exc, memory=memory, settings=settings, fixed_ranges=fixed_ranges)
    return analyse_point(acq, settings.harmonics)
