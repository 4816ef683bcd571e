"""Drive levels a procedure leaves to the plan, chosen from the board: its limits and its prediction.

A shipped procedure runs on every board, from a resistive pair that takes 0.5 V to an active-load stage that
clips at 4 mV. What it leaves out is chosen here, so the same file measures each board inside the range its
results (and its fits' device laws) are valid for (:func:`procedures.predict.drive_range.linear_drive_limit_vpk`):

* ``[amplitude] vid_vpk`` left out: :data:`AMPLITUDE_FRACTIONS` of the board's linear drive limit (the
  shipped sweep's 2-100 mV on a board whose limit is 100 mV), none below :data:`GENERATOR_MIN_VID_VPK` (when
  fewer than :data:`MIN_AMPLITUDES` remain, that many log-spaced from it to the limit), plus the board's
  ``[pass_fail] thd_drive_vpk`` when it lies inside (its THD limit is judged at that drive);
* ``[dc] vid_start_v``/``vid_stop_v`` left out: +-the linear drive limit, at most +-:data:`DC_SPAN_V`;
* ``[cm_range] vid_vpk`` left out: :data:`CM_RANGE_VID_VPK` (the generators' smallest drive, the frequency
  sweep's), at most ``vid_max_vpk`` (halved when the range extrapolates to zero drive: it also drives up to twice
  it, less where a level's linear drive limit is nearer: :func:`second_drives`);
  ``bias_start_v``/``bias_stop_v`` left out: the board's input range less each input's swing.
"""

from __future__ import annotations

import math

import numpy as np

from instruments.board_config import BoardConfig
from instruments.errors import ConfigError
from models import DcTransferError, OperatingPointError
from procedures.config.procedure import ProcedureConfig

AMPLITUDE_FRACTIONS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
#: fewer fractions above the generator's smallest drive than this: log-spaced from it to the limit instead
MIN_AMPLITUDES = 6
#: 2 mV peak differential: each channel's 1 mV peak is 2 mVpp at the High-Z setting, a generator's smallest
#: amplitude (1 mVpp into 50 Ohm: Keysight 33500B and Rigol DG1000Z data sheets, amplitude range)
GENERATOR_MIN_VID_VPK = 2e-3
#: a DC transfer sweep needs no more than +-200 mV: a BJT pair is fully switched by ~4 V_T (~100 mV) times
#: its degeneration factor, a MOS pair by sqrt(2) V_ov
DC_SPAN_V = 0.2


def amplitudes_vpk(proc: ProcedureConfig, board: BoardConfig) -> list[float]:
    """The amplitude sweep's differential drives, V peak: the procedure's list, else chosen (module docstring).
    Raises a one-line ConfigError when the board's limit is below the generator's smallest drive."""
    given = proc.amplitude["vid_vpk"]
    if given is not None:
        return [float(a) for a in given]
    from procedures.predict.drive_range import linear_drive_limit_vpk

    top = linear_drive_limit_vpk(board)
    if top < GENERATOR_MIN_VID_VPK:
        raise ConfigError(proc.source, "[amplitude] vid_vpk", f"left out, but board {board.name}'s linear drive "
                          f"limit {1e3 * top:.3g} mV peak is below the generators' smallest drive "
                          f"({1e3 * GENERATOR_MIN_VID_VPK:g} mV peak differential): nothing to sweep")
    fracs = [f * top for f in AMPLITUDE_FRACTIONS if f * top >= GENERATOR_MIN_VID_VPK]
    if len(fracs) < MIN_AMPLITUDES:  # a board that clips at a few mV: spread what there is
        fracs = list(np.geomspace(GENERATOR_MIN_VID_VPK, top, MIN_AMPLITUDES)) if top > GENERATOR_MIN_VID_VPK else [top]
    amps = {round(float(a), 12) for a in fracs}
    thd_at = board.pass_fail.get("thd_drive_vpk")
    if thd_at is not None and GENERATOR_MIN_VID_VPK <= thd_at <= top:
        amps.add(float(thd_at))
    return sorted(amps)


#: the common-mode range's DM drive, V peak, when the procedure leaves it out. Its mixed-mode gains extrapolate
#: the drive and twice it to zero drive, ``(4 G(A) - G(2 A))/3``, which leaves the fourth-order term
#: ``-4 c4 A^4``: a BJT pair's tanh(vid/2V_T) has c4 = 2/15 (vid/2V_T)^4 relative, 7e-4 at 10 mV and 1e-6 at
#: 2 mV, where the run's own u is ~1e-4 (Sedra & Smith, "Microelectronic Circuits", the BJT differential pair's
#: large-signal transfer). An active-load stage clips at ~4 mV, less at the top of its input range: its second
#: drive is kept inside the limit at each level (:func:`second_drives`), as is the frequency sweep's
#: (:func:`frequency_sweep_second_drive`).
CM_RANGE_VID_VPK = GENERATOR_MIN_VID_VPK
#: the second DM drive of a common-mode range's level stays below this fraction of the level's linear drive limit
#: (near the limit the higher orders of an active-load stage's compression are as large as the fourth)
SECOND_DRIVE_FILL = 0.85
#: and is at least this many times the first: closer, the extrapolation's noise gain sqrt(r^4 + 1)/(r^2 - 1)
#: passes 3.6 (1.37 at r = 2)
SECOND_DRIVE_MIN_RATIO = 1.25
#: levels at which a common-mode range's linear drive limit is predicted (linear in between): ~1 s each on a
#: stage board
LIMIT_LEVELS = 11


#: what a prediction at a level past a tail's compliance (or any operating point the models cannot solve) raises
NO_PREDICTION = (DcTransferError, OperatingPointError, ArithmeticError, ValueError)


def _limit_or_inf(board: BoardConfig) -> float:
    """The board's linear drive limit (V peak), infinite where the prediction has no operating point there (a
    level past a tail's compliance): the second drive is then twice the first, as without a prediction."""
    from procedures.predict.drive_range import linear_drive_limit_vpk

    try:
        return linear_drive_limit_vpk(board)
    except NO_PREDICTION:
        return float("inf")


def second_drives(board: BoardConfig, vid_vpk: float, levels: np.ndarray) -> np.ndarray:
    """The second DM drive (V peak) at each input DC level of a sweep that extrapolates to zero drive:
    twice ``vid_vpk``, or less where that passes :data:`SECOND_DRIVE_FILL` of the level's linear drive limit
    (:func:`procedures.predict.drive_range.linear_drive_limit_vpk` of the board biased there), never below
    :data:`SECOND_DRIVE_MIN_RATIO` times ``vid_vpk``. Richardson's extrapolation takes any ratio r of the two
    measured drives, ``(r^2 G(A) - G(rA))/(r^2 - 1)`` (procedures.analysis.frequency_gains)."""
    from dataclasses import replace

    levels = np.asarray(levels, float)
    if levels.size == 0:
        return levels
    grid = np.linspace(levels.min(), levels.max(), min(LIMIT_LEVELS, levels.size))
    # capped where it makes no difference, so that an infinite limit interpolates
    limits = np.minimum([_limit_or_inf(replace(board, bias_v=float(b))) for b in grid],
                        4.0 * vid_vpk / SECOND_DRIVE_FILL)
    at = np.interp(levels, grid, limits) if grid.size > 1 else np.full(levels.shape, limits[0])
    out: np.ndarray = np.clip(SECOND_DRIVE_FILL * at, SECOND_DRIVE_MIN_RATIO * vid_vpk, 2.0 * vid_vpk)
    return out


def frequency_sweep_second_drive(proc: ProcedureConfig, board: BoardConfig) -> float:
    """The frequency sweep's second DM drive (V peak) when it extrapolates to zero drive (``[drive]
    extrapolate_dm``): :func:`second_drives` at the sweep's input DC level.

    Twice the drive was past the linear range of bjt-active-load (limit 3.9 mV): at 4 mV its output reaches
    within 0.2 V of Q2's saturation and |Add| falls 1.47e-3 where the A^2 law of the 2 mV point predicts 1.03e-3,
    so the extrapolation read |Add| 1.9e-4 high (0.85 u) at every frequency below the output pole. At 3.3 mV
    (0.85 of the limit) the law holds to 1.5e-7 (the simulated board's periodic steady state)."""
    vid = float(proc.drive["vid_vpk"])
    bias = proc.drive["bias_v"] if proc.drive["bias_v"] is not None else board.bias_v
    return float(second_drives(board, vid, np.array([float(bias)]))[0])


def cm_range_drives(proc: ProcedureConfig, board: BoardConfig) -> tuple[float, float, float, float]:
    """The common-mode range's DM drive and CM drive (V peak) and its first and last input DC level (V): the
    procedure's, else chosen (module docstring)."""
    c = proc.cm_range
    twice = 2.0 if c["extrapolate"] else 1.0
    vid = float(c["vid_vpk"]) if c["vid_vpk"] is not None else min(CM_RANGE_VID_VPK, board.vid_max_vpk / twice)
    vic = float(c["vic_vpk"])
    half = twice * max(vid / 2, vic)  # keep each input's swing inside the board's range at the ends
    lo = float(c["bias_start_v"]) if c["bias_start_v"] is not None else board.bias_min_v + half
    hi = float(c["bias_stop_v"]) if c["bias_stop_v"] is not None else board.bias_max_v - half
    return vid, vic, lo, hi


def dc_span_v(proc: ProcedureConfig, board: BoardConfig) -> tuple[float, float]:
    """The DC transfer sweep's first and last vid, V: the procedure's, else +-the board's linear drive limit, at
    most +-:data:`DC_SPAN_V` (the config gives both or neither)."""
    start, stop = proc.dc["vid_start_v"], proc.dc["vid_stop_v"]
    if start is not None and stop is not None:
        return float(start), float(stop)
    from procedures.predict.drive_range import linear_drive_limit_vpk

    span = min(linear_drive_limit_vpk(board), DC_SPAN_V)
    return -span, span


def chosen_line(proc: ProcedureConfig, board: BoardConfig, kinds: tuple[str, ...]) -> str | None:
    """What the plan chose for the keys the procedure left out, in one line (None: nothing was left out)."""
    parts = []
    if "amplitude_sweep" in kinds and proc.amplitude["vid_vpk"] is None:
        a = amplitudes_vpk(proc, board)
        parts.append(f"amplitudes {', '.join(f'{1e3 * x:.3g}' for x in a)} mV peak")
    if "dc_transfer" in kinds and proc.dc["vid_start_v"] is None:
        lo, hi = dc_span_v(proc, board)
        parts.append(f"DC vid {1e3 * lo:.4g} to {1e3 * hi:.4g} mV")
    if not parts:
        return None
    return (f"{'; '.join(parts)} (chosen for board {board.name}: inside its predicted linear range and "
            f"vid_max_vpk {1e3 * board.vid_max_vpk:g} mV)")


#: the least common-mode drive a level is given, V peak: a generator's smallest amplitude is 1 mVpp
CM_DRIVE_MIN_VPK = 1e-3


def cm_range_cm_drives(board: BoardConfig, vic_vpk: float, reference_vpk: np.ndarray, levels: np.ndarray,
                       frequency_hz: float, twice: float) -> np.ndarray:
    """The CM drive (V peak) at each input DC level of a common-mode range: ``vic_vpk``, or less where the level's
    predicted CMRR_se is so low that the CM points would swing the outputs further than the DM points do.

    Where a tail source has left its active region (a transistor tail at the bottom of the range: CMRR_se near 0
    dB), the pair is two common-emitter stages to a CM input, and a CM drive of many millivolts is as far outside
    its linear range as the same DM drive would be: the zero-drive extrapolation from 10 and 20 mV left 3.7e-4 of
    the CM gain on bjt-transistor-tail at 1.52 V (2.7 of its u). So the larger CM point (``twice`` the drive) is
    kept at or below the output swing of the larger DM point (``reference_vpk``, inside the level's linear drive
    limit, :func:`cm_range_second_drives`): ``|Acm_se| twice vic <= |Ad_se| reference``, the largest single-ended
    gains of the level's small-signal prediction (procedures.predict.gains). Never below
    :data:`CM_DRIVE_MIN_VPK`; ``vic_vpk`` where the prediction has no operating point."""
    from dataclasses import replace

    from procedures.predict.gains import predicted_gains

    out = np.full(np.shape(levels), float(vic_vpk))
    for i, (b, ref) in enumerate(zip(np.asarray(levels, float), np.asarray(reference_vpk, float))):
        try:
            g = predicted_gains(replace(board, bias_v=float(b)), np.array([frequency_hz]))
            ad = max(abs(complex(np.atleast_1d(g.ad_se(k))[0])) for k in (1, 2))
            acm = max(abs(complex(np.atleast_1d(g.acm_se(k))[0])) for k in (1, 2))
        except NO_PREDICTION:
            continue
        if acm > 0 and math.isfinite(ad / acm):
            out[i] = min(vic_vpk, max(ad * ref / (twice * acm), CM_DRIVE_MIN_VPK))
    return out

