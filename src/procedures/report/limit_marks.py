"""The board's ``[pass_fail]`` limits as marks on the report's figures, in each figure's own unit.

Each mark is derived from the limit's definition as :func:`procedures.analysis.verdicts.evaluate` judges it,
not from a board's numbers written here, so every board's limits are drawn the same way:

- ``cmrr_se_min_db`` (and ``cmrr_diff_min_db``): CMRR at least the limit (dB) at every frequency up to
  ``cmrr_se_max_hz``: a floor from the axes' left edge to that frequency, the fail side (below) shaded;
- ``add_rel_tol``: |Add| within the tolerance of the prediction at the measured frequency nearest
  ``add_check_hz``: a band ``20 log10(|Add_pred| (1 ± tol))`` dB at that frequency, both fail sides shaded;
- ``thd_max``: THD of vod at most the limit (drawn in %) at ``thd_drive_vpk``: a ceiling at that drive;
- ``offset_max_v``: the zero crossing of vod within ``±offset_max_v`` of vid = 0: a band on the abscissa;
- on a common-mode range's CMRR-versus-level figure, the CMRR floors across every level when the range is
  measured at a frequency up to ``cmrr_se_max_hz`` (the floor holds there; the verdict itself judges the
  frequency sweep only).

A limit at one abscissa (a drive, a check frequency) is drawn over a narrow window around it,
``x / WINDOW .. x * WINDOW`` on a log axis, so it reads as a mark at that point, not as a limit over the sweep.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from instruments.board_config import BoardConfig
from procedures.analysis.verdict_text import threshold_text
from procedures.predict.gains import predicted_gains
from procedures.predict.si_format import eng
from procedures.report.plots.data import LimitMark

WINDOW = 1.15
"""Half-width, as a factor on a log axis, of the window a limit at one abscissa is drawn over."""


def frequency_marks(board: BoardConfig | None, freq_hz: np.ndarray) -> dict[str, list[LimitMark]]:
    """The marks of the frequency figures, keyed by the quantity they bound: ``"CMRR_se"``, ``"CMRR_diff"``
    (dB), ``"Add"`` (|Add| in dB); ``freq_hz``: the measured frequencies (the |Add| check is at the nearest)."""
    out: dict[str, list[LimitMark]] = {"CMRR_se": [], "CMRR_diff": [], "Add": []}
    if board is None:
        return out
    lim = board.pass_fail
    top = float(lim.get("cmrr_se_max_hz", math.inf))
    for key, name, word in (("cmrr_se_min_db", "CMRR_se", "each output's CMRR_se"),
                            ("cmrr_diff_min_db", "CMRR_diff", "CMRR_diff")):
        if key in lim:
            floor = float(lim[key])
            out[name].append(LimitMark(key, f"limit: {word} {threshold_text(key, floor, 'dB')} up to "
                                            f"{eng(top, 'Hz', 3)}", floor, math.inf, None, top))
    f = np.asarray(freq_hz, float)
    f = f[np.isfinite(f) & (f > 0)]
    if "add_rel_tol" in lim and f.size:
        f0 = float(lim.get("add_check_hz", 1000.0))
        fc = float(f[int(np.argmin(np.abs(np.log(f / f0))))])  # the frequency the verdict judges
        pred = abs(complex(np.atleast_1d(predicted_gains(board, np.array([fc])).add)[0]))
        tol = float(lim["add_rel_tol"])
        if pred > 0:
            lo, hi = 20 * math.log10(pred * (1 - tol)), 20 * math.log10(pred * (1 + tol))
            out["Add"].append(LimitMark("add_rel_tol", f"limit: |Add| {threshold_text('add_rel_tol', tol, '1')} of "
                                                       f"the prediction ({pred:.4g}) at {eng(fc, 'Hz', 3)}",
                                        lo, hi, fc / WINDOW, fc * WINDOW))
    return out


def level_marks(board: BoardConfig | None, frequency_hz: float) -> list[LimitMark]:
    """The CMRR floors on a CMRR-versus-input-level panel (a cm-range run at ``frequency_hz``, Hz): across every
    level, when the sweep's frequency is one the limits hold at (up to ``cmrr_se_max_hz``), else none."""
    if board is None or not math.isfinite(frequency_hz):
        return []
    marks = frequency_marks(board, np.zeros(0))
    top = float(board.pass_fail.get("cmrr_se_max_hz", math.inf))
    if frequency_hz > top * (1 + 1e-9):
        return []
    return [replace(m, x_hi=None, label=f"{m.label} (this sweep at {eng(frequency_hz, 'Hz', 3)})")
            for m in marks["CMRR_se"] + marks["CMRR_diff"]]


def thd_marks(board: BoardConfig | None) -> list[LimitMark]:
    """The THD limit on a THD-versus-drive panel: THD in percent, the drive in V peak."""
    if board is None or "thd_max" not in board.pass_fail or "thd_drive_vpk" not in board.pass_fail:
        return []
    thd, drive = float(board.pass_fail["thd_max"]), float(board.pass_fail["thd_drive_vpk"])
    return [LimitMark("thd_max", f"limit: THD of vod {threshold_text('thd_max', thd, '1')} at "
                                 f"{eng(drive, 'V', 3)} peak", -math.inf, 100.0 * thd, drive / WINDOW,
                      drive * WINDOW)]


def offset_marks(board: BoardConfig | None) -> list[LimitMark]:
    """The offset limit on the DC transfer: where vod may cross zero, vid in V."""
    if board is None or "offset_max_v" not in board.pass_fail:
        return []
    v = float(board.pass_fail["offset_max_v"])
    return [LimitMark("offset_max_v", f"limit: |input offset| {threshold_text('offset_max_v', v, 'V')}", -v, v,
                      axis="x")]
