"""Predictions for one board config: operating point, small-signal gains versus frequency, distortion.

The board becomes model arguments in :mod:`procedures.predict.mapping` (with the assumptions that makes), the
distortion is :mod:`procedures.predict.distortion`'s; this module puts them together into one
:class:`Prediction`, with the -3 dB bandwidth and the input-referred offset. Its text and JSON forms are
:mod:`procedures.predict.text` and :mod:`procedures.predict.json_report` (docs/predict-json.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from instruments.board_config import BoardConfig
from models import (
    MixedModeGains,
    PairOperatingPoint,
    bjt_input_offset,
    corner_hz,
    mos_input_offset,
    pair_response,
    split,
)

from .distortion import LargeSignal, large_signal
from .mapping import effective_devices, operating_point, small_signal_circuit
from .stage_distortion import stage_large_signal

GAIN_KEYS = ("Add", "Acc", "Acd", "Adc", "Ad_se1", "Acm_se1", "Ad_se2", "Acm_se2")
CMRR_KEYS = ("CMRR_se1", "CMRR_se2", "CMRR_diff")


def gain_by_name(g: MixedModeGains, name: str) -> np.ndarray:
    """The gain or CMRR ``name`` (one of :data:`GAIN_KEYS` or :data:`CMRR_KEYS`) of ``g``."""
    return {
        "Add": g.add, "Acc": g.acc, "Acd": g.acd, "Adc": g.adc,
        "Ad_se1": g.ad_se(1), "Acm_se1": g.acm_se(1), "Ad_se2": g.ad_se(2), "Acm_se2": g.acm_se(2),
        "CMRR_se1": g.cmrr_se(1), "CMRR_se2": g.cmrr_se(2), "CMRR_diff": g.cmrr_diff,
    }[name]


def log_frequencies(fmin_hz: float, fmax_hz: float, points_per_decade: int) -> np.ndarray:
    """Log-spaced frequencies (Hz) from ``fmin_hz`` to ``fmax_hz`` inclusive, ``points_per_decade`` per decade."""
    if not (fmin_hz > 0 and fmax_hz >= fmin_hz and points_per_decade >= 1):
        raise ValueError("need 0 < fmin <= fmax and at least one point per decade")
    n = max(int(round(math.log10(fmax_hz / fmin_hz) * points_per_decade)) + 1, 1)
    return np.logspace(math.log10(fmin_hz), math.log10(fmax_hz), n) if n > 1 else np.array([fmin_hz])


def default_amplitudes(vid_max_vpk: float, count: int = 6) -> np.ndarray:
    """A 1-2-5 series of peak amplitudes (V) ending at ``vid_max_vpk``: the ``count - 1`` largest values of the
    series below it, then ``vid_max_vpk`` itself."""
    series = sorted(m * 10.0 ** e for e in range(-7, 3) for m in (1.0, 2.0, 5.0))
    below = [a for a in series if a < vid_max_vpk * (1 - 1e-9)]
    return np.array(below[-(count - 1):] + [vid_max_vpk])


@dataclass(frozen=True)
class Prediction:
    """Everything ``diffbench predict`` reports for one board."""

    board: BoardConfig
    op: PairOperatingPoint
    freq_hz: np.ndarray
    gains: MixedModeGains
    dc_gains: MixedModeGains
    bandwidth_hz: float
    tail_zero_hz: float
    input_offset_v: float
    input_offset_transfer_v: float | None
    large: LargeSignal
    warnings: tuple[str, ...]

    @property
    def output(self) -> str:
        """The output the distortion is predicted for: ``"vod"``, or ``"vo2"`` for an active load."""
        return self.large.output


def _div(a: float, b: float) -> float:
    """``a/b`` as floats, without ZeroDivisionError: +-inf for x/0 and nan for 0/0 (a gain of exactly zero)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(a) / np.float64(b))


BANDWIDTH_SEARCH_DECADES = (-20, 12)
"""The -3 dB search covers 1e-20 Hz to 1 THz: a node of the largest resistance and capacitance a board config
accepts (1 TOhm, 1 mF) has its pole near 1.6e-10 Hz, a transistor's r_o (V_A/I up to 1e13 Ohm) a decade lower."""


def _bandwidth(response: Callable[[np.ndarray], np.ndarray]) -> float:
    """-3 dB frequency (Hz) of ``|response(f)|`` relative to its value at 0 Hz: the first frequency where it
    falls to ``1/sqrt(2)`` of that, found on a log grid (4 points a decade over
    :data:`BANDWIDTH_SEARCH_DECADES`) and refined in the grid interval that brackets it. inf if it never falls
    that far below 1 THz (or the gain is 0), 0 if it already has at 1e-20 Hz, nan if the response is not finite."""
    a0 = abs(complex(response(np.array(0.0))))
    lo, hi = BANDWIDTH_SEARCH_DECADES
    grid = np.linspace(lo, hi, 4 * (hi - lo) + 1)
    mags = np.abs(np.asarray(response(10.0 ** grid), dtype=complex))
    if not (math.isfinite(a0) and np.all(np.isfinite(mags))):
        return math.nan
    target = a0 / math.sqrt(2.0)
    below = np.nonzero(mags < target)[0]
    if a0 == 0 or below.size == 0:
        return math.inf
    i = int(below[0])
    if i == 0:
        return 0.0

    def f(lf: float) -> float:
        return float(abs(complex(response(np.array(10.0 ** lf))))) - target

    return float(10.0 ** brentq(f, float(grid[i - 1]), float(grid[i]), xtol=1e-10))


def _offsets(board: BoardConfig, op: PairOperatingPoint, dc: MixedModeGains) -> tuple[float, float | None]:
    """Input-referred offset (V) from the operating point, and from the large-signal transfer's closed form
    (resistive loads only; ``None`` for an active load)."""
    if op.mirror is not None:
        # the input that brings the output to v_return (no current in R1): the source text's built-in offset
        return _div(-(op.vo2 - board.load_return_v), complex(dc.ad_se(2)).real), None
    offset = _div(-op.vod, complex(dc.add).real)
    (p1, p2), (vth1, vth2) = effective_devices(board, op)
    r1, r2 = split(board.load_r_ohm, board.mismatch_load_r)
    if board.is_bjt:
        return offset, bjt_input_offset(board.vt_v, float(r1), float(r2), i_s1=p1, i_s2=p2,
                                        r_degen=board.degeneration_r_ohm, i_tail=op.i_tail)
    return offset, mos_input_offset(op.i_tail, p1, p2, float(r1), float(r2),
                                    vth1=vth1, vth2=vth2, r_degen=board.degeneration_r_ohm)


def _warnings(board: BoardConfig, op: PairOperatingPoint, amps: np.ndarray) -> tuple[str, ...]:
    """The operating point's warnings, and where the prediction's assumptions do not hold."""
    warnings = list(op.warnings)
    if not op.all_active:
        warnings.append("the small-signal and distortion predictions assume every device is active; they do not "
                        "describe this operating point")
    if np.any(amps > board.vid_max_vpk * (1 + 1e-9)):
        warnings.append(f"some amplitudes exceed the board's vid_max_vpk = {board.vid_max_vpk:g} V")
    if op.mirror is not None and board.mismatch_load_r != 0:
        warnings.append("mismatch.load_r is ignored: an active load has a single resistor R1")
    return tuple(warnings)


def predict(board: BoardConfig, freq_hz: np.ndarray, amplitudes_vpk: np.ndarray | None = None) -> Prediction:
    """Operating point, small-signal gains at ``freq_hz`` and distortion at ``amplitudes_vpk`` (V peak of v_id;
    default :func:`default_amplitudes` of the board's ``vid_max_vpk``).

    A board whose devices are not all active (a warning says so) can have a zero gain, a tail current below
    zero or a transfer without slope: the figures that follow from those are nan or inf, shown as ``n/a`` or
    ``inf`` in the report and ``null`` in the JSON, quietly (numpy's floating-point warnings are off here)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return _predict(board, freq_hz, amplitudes_vpk)


def _predict(board: BoardConfig, freq_hz: np.ndarray, amplitudes_vpk: np.ndarray | None) -> Prediction:
    op = operating_point(board)
    s1, s2, load, tail = small_signal_circuit(board, op)
    gains = pair_response(freq_hz, s1, s2, load, tail).gains()
    dc = pair_response(0.0, s1, s2, load, tail).gains()
    active = op.mirror is not None
    amps = default_amplitudes(board.vid_max_vpk) if amplitudes_vpk is None else np.asarray(amplitudes_vpk, float)
    warnings = _warnings(board, op, amps)
    large = stage_large_signal(board, op, dc, amps) or large_signal(board, op, dc, amps)  # cascoded mirror, 2 stages

    def out_gain(f: np.ndarray) -> np.ndarray:
        g = pair_response(f, s1, s2, load, tail).gains()
        return g.ad_se(2) if active else g.add

    offset, offset_tr = _offsets(board, op, dc)
    return Prediction(
        board=board, op=op, freq_hz=np.asarray(freq_hz, float), gains=gains, dc_gains=dc,
        bandwidth_hz=_bandwidth(out_gain),
        tail_zero_hz=float(corner_hz(float(np.asarray(tail.r)), float(np.asarray(tail.c)))),  # a transistor tail's r_o
        input_offset_v=float(offset), input_offset_transfer_v=offset_tr, large=large, warnings=warnings,
    )
