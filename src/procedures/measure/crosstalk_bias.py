"""What the scope's channel-to-channel crosstalk would do to a frequency sweep's results, from the prediction.

The forward model of the measurement at one frequency, on the board's predicted node phasors (node order
``(v1, v2, vo1, vo2)``, V peak):

* the points: DM ``v = (vid/2, -vid/2, H (vid/2, -vid/2))``, CM ``v = (vic, vic, H (vic, vic))``, and the
  channel-match link point with every probe on input 1 (docs/reference/measurement-methods.md §3.4 step 1);
* the scope displays ``m = (I + X) v`` (the crosstalk model of :class:`procedures.analysis.crosstalk.Crosstalk`),
  ``X[i, j] = x`` when node j's channel is the front-end neighbour of node i's (channels 1-2 and 3-4 share a
  front end and ADC: the simulated scope's coupling, instruments.sim.acquisition.neighbour), else 0;
* the analysis (procedures.analysis: calibration, then the mixed-mode solve of §3.2 with ``vid = 0`` for a
  tied CM drive): channels divided by their link reading, ``S = (T Y)(T X_in)^-1``.

The bias of each reported figure is its value with ``x`` minus its value with ``X = 0``; its expected
uncertainty is the first-order propagation (central differences, each phasor quadrature moved by its
:func:`procedures.measure.phasor_noise.expected_phasor_u`) of the same chain, the zero-drive extrapolation's
``sqrt(16 u_A^2 + u_2A^2)/3`` included when it is on (procedures.analysis.frequency_gains).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from models.mixed_mode import T_MODE, MixedModeGains, db

Figure = Callable[[np.ndarray], float]


def _element(i: int, j: int, imag: bool) -> Figure:
    def fn(S: np.ndarray) -> float:
        z = complex(S[i, j])
        return z.imag if imag else z.real
    return fn


def _figures() -> dict[str, Figure]:
    """The reported figures as real functions of S: the four gains' quadratures and the CMRRs in dB."""
    out: dict[str, Figure] = {}
    for name, (i, j) in {"Add": (0, 0), "Acd": (0, 1), "Adc": (1, 0), "Acc": (1, 1)}.items():
        out[f"Re {name}"], out[f"Im {name}"] = _element(i, j, False), _element(i, j, True)
    out["CMRR_se1"] = lambda S: float(db(MixedModeGains.from_matrix(S).cmrr_se(1)))
    out["CMRR_se2"] = lambda S: float(db(MixedModeGains.from_matrix(S).cmrr_se(2)))
    out["CMRR_diff"] = lambda S: float(db(MixedModeGains.from_matrix(S).cmrr_diff))
    return out


FIGURES = _figures()
UNITS = {"CMRR_se1": "dB", "CMRR_se2": "dB", "CMRR_diff": "dB"}


@dataclass(frozen=True)
class SweepPoint:
    """The predicted node phasors (V peak) of one frequency's points and their expected per-quadrature
    uncertainties (V): DM (zero-drive extrapolated when the sweep does), CM, and the link (None: no
    channel-match calibration)."""

    frequency_hz: float
    dm: np.ndarray
    dm_u: np.ndarray
    cm: np.ndarray
    cm_u: np.ndarray
    link: np.ndarray | None
    tied: bool


def node_phasors(H: np.ndarray, v1: complex, v2: complex) -> np.ndarray:
    """``(v1, v2, vo1, vo2)`` for inputs ``v1``, ``v2`` through the nodal gains ``H`` (2 x 2)."""
    vin = np.array([v1, v2], complex)
    return np.concatenate([vin, H @ vin])


def crosstalk_matrix(channels: Mapping[str, int], x: complex) -> np.ndarray:
    """``X`` of the module docstring for the scope channel of each node (``{"v1": 1, ...}``)."""
    nodes = ("v1", "v2", "vo1", "vo2")
    ch = [channels[n] for n in nodes]
    X = np.zeros((4, 4), complex)
    for i in range(4):
        for j in range(4):
            if i != j and ch[j] == (ch[i] + 1 if ch[i] % 2 else ch[i] - 1):
                X[i, j] = x
    return X


def solve(dm: np.ndarray, cm: np.ndarray, link: np.ndarray | None, tied: bool) -> np.ndarray:
    """S from displayed phasors as the analysis computes it (module docstring)."""
    g = link / link[0] if link is not None else np.ones(4)
    pd, pc = dm / g, cm / g
    if tied:
        pc = pc.copy()
        pc[0] = pc[1] = 0.5 * (pc[0] + pc[1])
    Xin = np.array([[pd[0], pc[0]], [pd[1], pc[1]]])
    Y = np.array([[pd[2], pc[2]], [pd[3], pc[3]]])
    out: np.ndarray = (T_MODE @ Y) @ np.linalg.inv(T_MODE @ Xin)
    return out


def biased(p: SweepPoint, X: np.ndarray) -> np.ndarray:
    """S the analysis would report with crosstalk ``X`` and no crosstalk calibration."""
    M = np.eye(4) + X
    return solve(M @ p.dm, M @ p.cm, None if p.link is None else M @ p.link, p.tied)


def expected_u(p: SweepPoint) -> dict[str, float]:
    """Expected standard uncertainty of every figure of :data:`FIGURES` at this point (module docstring)."""
    S0 = solve(p.dm, p.cm, p.link, p.tied)
    f0 = {k: fn(S0) for k, fn in FIGURES.items()}
    var = dict.fromkeys(FIGURES, 0.0)
    for which, u in (("dm", p.dm_u), ("cm", p.cm_u)):
        for i in range(4):
            for step in (1.0, 1j):
                h = 1e-3 * u[i] * step
                moved = {"dm": p.dm.copy(), "cm": p.cm.copy()}
                moved[which][i] += h
                Sp = solve(moved["dm"], moved["cm"], p.link, p.tied)
                moved[which][i] -= 2 * h
                Sm = solve(moved["dm"], moved["cm"], p.link, p.tied)
                for k, fn in FIGURES.items():
                    var[k] += ((fn(Sp) - fn(Sm)) / 2e-3) ** 2
    return {k: float(np.sqrt(v)) if np.isfinite(f0[k]) else float("nan") for k, v in var.items()}


def figure_bias(p: SweepPoint, channels: Mapping[str, int], x_mag: float) -> dict[str, float]:
    """Largest |bias| of every figure over the crosstalk's phase (0, 90, 180, 270 degrees: the coupling of a
    real front end is capacitive, its phase unknown), for crosstalk of magnitude ``x_mag``."""
    S0 = solve(p.dm, p.cm, p.link, p.tied)
    out = dict.fromkeys(FIGURES, 0.0)
    for phase in (1.0, 1j, -1.0, -1j):
        S = biased(p, crosstalk_matrix(channels, x_mag * phase))
        for k, fn in FIGURES.items():
            d = abs(fn(S) - fn(S0))
            out[k] = max(out[k], d if np.isfinite(d) else 0.0)
    return out


# ---------------------------------------------------------------------------------------------------------
# Single-frequency drive sweeps (amplitude sweep, common-mode range): DM points alone, one link at the sweep's
# frequency. The reported figures are the measured drive |vid| (V peak) and Add = vod/vid
# (procedures.analysis.differential_gain), both after the link calibration.

DRIVE_FIGURES = ("vid_vpk", "Re Add", "Im Add")


def drive_figures(dm: np.ndarray, link: np.ndarray | None) -> dict[str, float]:
    """The drive sweep's figures (:data:`DRIVE_FIGURES`) from one DM point's displayed phasors."""
    g = link / link[0] if link is not None else np.ones(4)
    p = dm / g
    vid = complex(p[0] - p[1])
    add = complex(p[2] - p[3]) / vid
    return {"vid_vpk": abs(vid), "Re Add": add.real, "Im Add": add.imag}


def drive_expected_u(dm: np.ndarray, dm_u: np.ndarray, link: np.ndarray | None) -> dict[str, float]:
    """Expected standard uncertainty of every drive figure (first order, central differences over each
    phasor quadrature moved by its expected u, as :func:`expected_u`)."""
    var = dict.fromkeys(DRIVE_FIGURES, 0.0)
    for i in range(4):
        for step in (1.0, 1j):
            h = 1e-3 * dm_u[i] * step
            up, down = dm.copy(), dm.copy()
            up[i] += h
            down[i] -= h
            fp, fm = drive_figures(up, link), drive_figures(down, link)
            for k in DRIVE_FIGURES:
                var[k] += ((fp[k] - fm[k]) / 2e-3) ** 2
    return {k: float(np.sqrt(v)) for k, v in var.items()}


def drive_figure_bias(dm: np.ndarray, link: np.ndarray | None, channels: Mapping[str, int],
                      x_mag: float) -> dict[str, float]:
    """Largest |bias| of every drive figure over the crosstalk's phase (as :func:`figure_bias`)."""
    f0 = drive_figures(dm, link)
    out = dict.fromkeys(DRIVE_FIGURES, 0.0)
    for phase in (1.0, 1j, -1.0, -1j):
        M = np.eye(4) + crosstalk_matrix(channels, x_mag * phase)
        f = drive_figures(M @ dm, None if link is None else M @ link)
        for k in DRIVE_FIGURES:
            out[k] = max(out[k], abs(f[k] - f0[k]))
    return out
