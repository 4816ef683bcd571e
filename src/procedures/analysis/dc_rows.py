"""The DC transfer's rows: vod against vid at the pins, each channel's DC level corrected by the link
calibration (every probe on input 1 at one DC level: each channel's DC gain relative to v1's), and how their
errors split into each row's own and the calibration's, which every row shares (:func:`dc_errors`).

The errors. A row's channel k reads ``d_k``; the link reads ``L_k`` at one level, so the row's level is
``dcv_k = d_k L_0/L_k``. Each reading's noise is its own (``u_k``: the standard error of the record's mean). The
link's readings are off by ``L_k eps_k`` with ``u(eps_k) = u(L_k)/|L_k|``, one error per channel for the whole
sweep: to first order ``dcv_k`` reads ``1 + eps_0 - eps_k`` times the true level (``dcv_0 = d_0`` exactly), so

- ``vid = dcv_0 - dcv_1`` reads ``-v_2 eps_0 + v_2 eps_1`` off (``v_2 = dcv_1``: nearly the same at every row,
  a common shift of vid, which a fit's offset takes up whole);
- ``vod = dcv_2 - dcv_3`` reads ``vod eps_0 - vo_1 eps_2 + vo_2 eps_3`` off.

``vid_v_u`` and ``vod_v_u`` are each row's whole uncertainty (its own and the calibration's, in quadrature), so
that a row on its own is stated right; a fit of many rows must take the shared part once, not once per row
(Cowan, "Statistical Data Analysis", 1998, section 1.6 and section 7.6: an error common to all points correlates
them; its variance adds to the parameter it shifts instead of averaging down).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Row = Mapping[str, Any]

LINK_U_COLUMN = "link_u_rel"
"""The dc table's column holding the link's relative uncertainty per channel (v1, v2, vo1, vo2), the same on
every row: what :func:`dc_errors` needs to split the rows' errors exactly (archives written before it lack it)."""


def _link(rows: Sequence[Row]) -> tuple[np.ndarray, np.ndarray]:
    """The DC link point's (group -1) level per channel (v1, v2, vo1, vo2; V) and its relative uncertainty
    ``u(L_k)/|L_k|``; ones and zeros without one."""
    link = {int(r["group"]): r for r in rows if r["role"] == "link"}
    if -1 not in link:
        return np.ones(4), np.zeros(4)
    level = np.asarray(link[-1]["dc_v"], float)
    return level, np.real(np.asarray(link[-1]["phasor_u"], complex)) / np.abs(level)


def dc_rows(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """One dc row per DC point (V), each channel's level corrected by its DC gain relative to v1's; ``vid_v_u``
    and ``vod_v_u`` their whole standard uncertainties (module docstring), and :data:`LINK_U_COLUMN`, which splits
    them (:func:`dc_errors`)."""
    out = []
    level, rel = _link(rows)
    gain = level / level[0]  # DC gain of each channel relative to v1's
    for r in sorted((r for r in rows if r["role"] == "dc"), key=lambda r: int(r["group"])):
        dcv = np.asarray(r["dc_v"], float) / gain
        u = np.real(np.asarray(r["phasor_u"], complex)) / gain
        vod = dcv[2] - dcv[3]
        vid_x, vod_x = _shared(dcv[1], dcv[2], dcv[3], vod, rel)
        vid_u = np.sqrt(u[0] ** 2 + u[1] ** 2 + np.sum(vid_x**2))
        vod_u = np.sqrt(u[2] ** 2 + u[3] ** 2 + np.sum(vod_x**2))
        row = {"vid_v": dcv[0] - dcv[1], "vid_v_u": float(vid_u), "vic_v": 0.5 * (dcv[0] + dcv[1]),
               "vo1_v": dcv[2], "vo2_v": dcv[3], "vod_v": vod, "vod_v_u": float(vod_u), LINK_U_COLUMN: rel.copy()}
        out.append(row)
    return out


def _shared(v2: Any, vo1: Any, vo2: Any, vod: Any, rel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """vid's and vod's change (V) per standard deviation of each channel's link error ``eps_k`` (module
    docstring), as (..., 4) arrays over k (v1, v2, vo1, vo2)."""
    v2, vo1, vo2, vod = (np.asarray(a, float) for a in (v2, vo1, vo2, vod))
    zero = np.zeros_like(v2)
    vid_x = np.stack([-v2 * rel[0], v2 * rel[1], zero, zero], axis=-1)
    vod_x = np.stack([vod * rel[0], zero, -vo1 * rel[2], vo2 * rel[3]], axis=-1)
    return vid_x, vod_x


@dataclass(frozen=True)
class DcErrors:
    """The errors of a dc table's rows, split: each row's own (``vid_u``, ``vod_u``, V, independent between rows)
    and the shared ones, as the change (V) of each row's vid and vod per standard deviation of each shared error
    (``vid_shared``, ``vod_shared``, (rows, errors); the errors independent of each other). ``exact``: False when
    the table does not give the split and the shared part is a bound (:func:`dc_errors`)."""

    vid_u: np.ndarray
    vod_u: np.ndarray
    vid_shared: np.ndarray
    vod_shared: np.ndarray
    exact: bool

    def take(self, rows: np.ndarray) -> DcErrors:
        """The errors of the rows ``rows`` (indices or a mask), in that order."""
        return DcErrors(self.vid_u[rows], self.vod_u[rows], self.vid_shared[rows], self.vod_shared[rows], self.exact)


def dc_errors(table: Mapping[str, np.ndarray]) -> DcErrors:
    """The split of a dc table's errors (module docstring), in the table's row order.

    With :data:`LINK_U_COLUMN`: exact; each row's own part is its stated u less the shared part in quadrature.
    Without it (tables written before it, or a table that does not declare it), a bound from the rows alone: the
    shared part of a row's u is at most the whole of it, so ``sqrt(u(eps_0)^2 + u(eps_1)^2) <= min(vid_v_u/|v_2|)``
    over the rows, ``u(eps_2) <= min(vod_v_u/|vo_1|)`` and ``u(eps_3) <= min(vod_v_u/|vo_2|)``; each row's own part
    is then its whole stated u. The covariance so stated is at least the true one (but for ``eps_0``'s share of vod,
    ``vod eps_0``: a gain error of ~1e-5 that moves no offset, kept in the rows' own part), so uncertainties from it
    are not too small: on the simulated bench the offset's is 1.3-3.5 times what the exact split gives, the other
    parameters' as large as weighting each row by its whole u makes them."""
    vid, vic = (np.asarray(table[c], float) for c in ("vid_v", "vic_v"))
    vo1, vo2, vod = (np.asarray(table[c], float) for c in ("vo1_v", "vo2_v", "vod_v"))
    u_x, u_y = np.asarray(table["vid_v_u"], float), np.asarray(table["vod_v_u"], float)
    v2 = vic - vid / 2.0
    if LINK_U_COLUMN in table and len(np.asarray(table[LINK_U_COLUMN])) == len(vid):
        rel = np.asarray(table[LINK_U_COLUMN], float).reshape(len(vid), 4)[0]
        vid_x, vod_x = _shared(v2, vo1, vo2, vod, rel)
        own_x = np.sqrt(np.clip(u_x**2 - np.sum(vid_x**2, axis=-1), 0.0, None))
        own_y = np.sqrt(np.clip(u_y**2 - np.sum(vod_x**2, axis=-1), 0.0, None))
        return DcErrors(own_x, own_y, vid_x, vod_x, True)
    bound = np.array([_least_ratio(u_x, v2), 0.0, _least_ratio(u_y, vo1), _least_ratio(u_y, vo2)])
    # eps_0's share of vid goes with eps_1's (the bound is on their quadrature sum); its share of vod is left out
    vid_x, vod_x = _shared(v2, vo1, vo2, np.zeros_like(vod), bound)
    return DcErrors(u_x, u_y, vid_x, vod_x, False)


def _least_ratio(u: np.ndarray, level: np.ndarray) -> float:
    """``min(u/|level|)`` over the rows where both are finite and the level is not zero (0 if none)."""
    ok = np.isfinite(u) & np.isfinite(level) & (level != 0)
    return float(np.min(u[ok] / np.abs(level[ok]))) if np.any(ok) else 0.0
