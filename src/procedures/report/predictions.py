"""The board's nominal prediction beside each measured sweep of a report.

On the board config archived with the run, on a dense grid for the curves and at the measured points for the
residuals: the mixed-mode gains and CMRR ratios versus frequency from whatever predicts the board
(:func:`procedures.predict.gains.predicted_small_signal`, the dispatch ``diffbench predict`` uses: the closed-form
models of its family, or ngspice for a netlist board without one); gain and THD versus drive amplitude and
versus input DC level, and the DC transfer, from the closed-form models
(:func:`procedures.predict.prediction.predict`; ngspice predicts no large signal here). A prediction that
cannot be made is a one-line warning on the page (ngspice missing, for one).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from instruments.errors import DiffbenchError
from models.mixed_mode import db
from procedures.analysis.gain_figures import named_cmrr_ratios
from procedures.predict.distortion import swing_headroom as _headroom
from procedures.predict.gains import predicted_by_ngspice, predicted_small_signal
from procedures.predict.mapping import differential_current_transfer
from procedures.predict.prediction import predict
from procedures.report.context import Context, DcPrediction, FreqPrediction, SweepPrediction, first_line


def add_predictions(ctx: Context) -> None:
    """Every prediction the context's board and tables allow (``ctx.pred_*`` and ``ctx.pred_summary``)."""
    for step in (_prediction_freq, _prediction_amplitude, _prediction_cm, _prediction_dc):
        try:
            step(ctx)
        except DiffbenchError as e:
            ctx.warnings.append(f"prediction unavailable: {e}")


def _no_large_signal(ctx: Context, table: object, what: str) -> bool:
    """True (with one note) when ngspice predicts the board: its prediction is the small-signal gains only."""
    if ctx.board is None or table is None or not predicted_by_ngspice(ctx.board):
        return False
    ctx.warnings.append(f"no prediction of the {what}: ngspice predicts only the small-signal gains of this "
                        "netlist board")
    return True


def _prediction_freq(ctx: Context) -> None:
    fd = ctx.freq
    if ctx.board is None or fd is None or not fd.f.size:
        return
    f = fd.f
    lo, hi = float(np.min(f)) / 1.5, float(np.max(f)) * 1.5
    dense = np.geomspace(lo, hi, 301) if hi > lo else np.array([lo])
    try:
        p = predicted_small_signal(ctx.board, np.concatenate([dense, f]))
    except (DiffbenchError, ValueError) as e:  # ValueError: ngspice's answer did not have the rows asked for
        ctx.warnings.append(f"no prediction: {first_line(e)}")
        return
    g, shape = p.gains, p.freq_hz.shape
    allg = {"Add": np.broadcast_to(g.add, shape), "Acd": np.broadcast_to(g.acd, shape),
            "Adc": np.broadcast_to(g.adc, shape), "Acc": np.broadcast_to(g.acc, shape)}
    allg.update(named_cmrr_ratios(allg))
    m = dense.size
    ctx.pred_freq = FreqPrediction(dense, {k: np.asarray(v)[:m] for k, v in allg.items()},
                                   {k: np.asarray(v)[m:] for k, v in allg.items()}, source=p.source)
    dc = p.dc_gains
    ctx.pred_summary.update({
        "source": p.source, "Add_dc": complex(dc.add), "Acc_dc": complex(dc.acc), "Acd_dc": complex(dc.acd),
        "CMRR_se1_dc_db": float(db(dc.cmrr_se(1))), "CMRR_se2_dc_db": float(db(dc.cmrr_se(2))),
        "CMRR_diff_dc_db": float(db(dc.cmrr_diff)) if np.isfinite(dc.cmrr_diff) else math.inf,
        "warnings": list(p.warnings),
    })
    if p.bandwidth_hz is not None and p.tail_zero_hz is not None:
        ctx.pred_summary.update({"bandwidth_hz": p.bandwidth_hz, "tail_zero_hz": p.tail_zero_hz})


def _prediction_amplitude(ctx: Context) -> None:
    a = ctx.amplitude
    if ctx.board is None or a is None or _no_large_signal(ctx, a, "gain and THD versus amplitude"):
        return
    x = np.asarray(a["vid_vpk"], float)
    ok = np.isfinite(x) & (x > 0)
    if not ok.any():
        return
    f0 = float(np.median(a["frequency_hz"]))
    hi = max(float(x[ok].max()) * 1.3, ctx.board.vid_max_vpk if ctx.board.vid_max_vpk < 3 * x[ok].max() else 0)
    dense = np.geomspace(float(x[ok].min()) / 1.3, hi, 120)
    amps = np.concatenate([dense, np.where(ok, x, 1.0)])
    try:
        p = predict(ctx.board, np.array([f0]), amps)
    except DiffbenchError as e:
        ctx.warnings.append(f"no large-signal prediction: {e}")
        return
    add = complex(np.asarray(p.gains.add).reshape(-1)[0])
    gain = add * p.large.distortion.gain_ratio
    thd = p.large.distortion.thd
    m = dense.size
    at_gain, at_thd = gain[m:].copy(), thd[m:].copy()
    at_gain[~ok] = np.nan
    at_thd[~ok] = np.nan
    ctx.pred_amplitude = SweepPrediction(dense, gain[:m], thd[:m], at_gain, at_thd,
                                         f"prediction ({p.large.transfer})")


def _prediction_cm(ctx: Context) -> None:
    c = ctx.cm_range
    board = ctx.board
    if board is None or c is None or _no_large_signal(ctx, c, "common-mode input range"):
        return
    bias = np.asarray(c["bias_v"], float)
    f0 = float(np.median(c["frequency_hz"]))
    amp = float(np.median(c["vid_vpk"]))
    lo = min(float(bias.min()), board.bias_min_v)
    hi = max(float(bias.max()), board.bias_max_v)
    pad = 0.05 * (hi - lo or 1.0)
    dense = np.linspace(lo - pad, hi + pad, 41)

    def at(b: float) -> tuple[complex, float]:
        try:
            p = predict(replace(board, bias_v=float(b)), np.array([f0]), np.array([amp]))
        except (DiffbenchError, ValueError, ArithmeticError):
            return complex("nan"), math.nan
        if not p.op.all_active:
            return complex("nan"), math.nan
        add = complex(np.asarray(p.gains.add).reshape(-1)[0])
        return add * float(p.large.distortion.gain_ratio[0]), float(p.large.distortion.thd[0])

    dd = [at(b) for b in dense]
    mm = [at(b) for b in bias]
    ctx.pred_cm = SweepPrediction(dense, np.array([d[0] for d in dd]), np.array([d[1] for d in dd]),
                                  np.array([d[0] for d in mm]), np.array([d[1] for d in mm]),
                                  "prediction (operating point per level)")


def _prediction_dc(ctx: Context) -> None:
    d = ctx.dc
    board = ctx.board
    if board is None or d is None or _no_large_signal(ctx, d, "DC transfer"):
        return
    vid = np.asarray(d["vid_v"], float)
    if not vid.size:
        return
    try:
        p = predict(board, np.array([0.0]))
    except DiffbenchError as e:
        ctx.warnings.append(f"no DC prediction: {e}")
        return
    transfer, name = differential_current_transfer(board, p.op)
    span = float(np.ptp(vid)) or 0.1
    dense = np.linspace(float(vid.min()) - 0.03 * span, float(vid.max()) + 0.03 * span, 401)
    h = 1e-6
    slope = float((transfer(np.array([h]))[0] - transfer(np.array([-h]))[0]) / (2 * h))
    t0 = float(transfer(np.array([0.0]))[0])
    dc = p.dc_gains

    def outputs(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        xe = (transfer(v) - t0) / slope  # linear-equivalent input (V), as procedures.predict.prediction does
        vo1 = p.op.vo1 + complex(dc.ad_se(1)).real * xe
        vo2 = p.op.vo2 + complex(dc.ad_se(2)).real * xe
        return vo1 - vo2, vo1, vo2

    vod_d, vo1_d, vo2_d = outputs(dense)
    vod_m, _, _ = outputs(vid)
    try:
        sat = _runs_of(_headroom(board, p.op, dense[:, None], (vo1_d[:, None], vo2_d[:, None])) < 0, dense)
    except Exception:  # noqa: BLE001 - the shading is an aid, not a result
        sat = []
    ctx.pred_dc = DcPrediction(dense, vod_d, vo1_d, vo2_d, vod_m, sat, name)
    ctx.pred_summary.update({"offset_v": p.input_offset_v, "offset_transfer_v": p.input_offset_transfer_v,
                             "dc_slope": complex(dc.add).real if p.op.mirror is None else None,
                             "vo1_v": p.op.vo1, "vo2_v": p.op.vo2})


def _runs_of(bad: np.ndarray, x: np.ndarray) -> list[tuple[float, float]]:
    """The ``(first x, last x)`` of every run of consecutive True in ``bad``."""
    spans: list[tuple[float, float]] = []
    i = 0
    while i < bad.size:
        if bad[i]:
            j = i
            while j + 1 < bad.size and bad[j + 1]:
                j += 1
            spans.append((float(x[i]), float(x[j])))
            i = j + 1
        else:
            i += 1
    return spans
