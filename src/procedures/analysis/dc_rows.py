"""The DC transfer's rows: vod against vid at the pins, each channel's DC level corrected by the link
calibration (every probe on input 1 at one DC level: each channel's DC gain relative to v1's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

Row = Mapping[str, Any]


def dc_rows(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """One dc row per DC point, each channel's level corrected by its DC gain relative to v1's."""
    out = []
    link = {int(r["group"]): r for r in rows if r["role"] == "link"}
    if -1 in link:
        level = np.asarray(link[-1]["dc_v"], float)
        rel = np.real(np.asarray(link[-1]["phasor_u"], complex)) / np.abs(level)  # u of each channel's level
    else:
        level, rel = np.ones(4), np.zeros(4)
    gain = level / level[0]  # DC gain of each channel relative to v1's
    for r in sorted((r for r in rows if r["role"] == "dc"), key=lambda r: int(r["group"])):
        dcv = np.asarray(r["dc_v"], float) / gain
        u = np.real(np.asarray(r["phasor_u"], complex)) / gain
        # the calibration's own uncertainty: dcv_k = d_k L_0/L_k moves by dcv_k u(L_k)/L_k and, except
        # for v1, by dcv_k u(L_0)/L_0 (one error shared by every point: it shifts the offset, not the slope)
        vid_u = np.sqrt(u[0] ** 2 + u[1] ** 2 + dcv[1] ** 2 * (rel[0] ** 2 + rel[1] ** 2))
        vod = dcv[2] - dcv[3]
        vod_u = np.sqrt(u[2] ** 2 + u[3] ** 2 + (dcv[2] * rel[2]) ** 2 + (dcv[3] * rel[3]) ** 2
                        + (vod * rel[0]) ** 2)
        out.append({"vid_v": dcv[0] - dcv[1], "vid_v_u": float(vid_u),
                    "vic_v": 0.5 * (dcv[0] + dcv[1]), "vo1_v": dcv[2], "vo2_v": dcv[3],
                    "vod_v": vod, "vod_v_u": float(vod_u)})
    return out
