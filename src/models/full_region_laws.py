"""Transistor laws over every region, as functions of the two junction (or gate) voltages, with their slopes.

Where :mod:`models.devices` describes a device in the region the small-signal model assumes (forward-active BJT,
MOS in saturation), these laws carry on past its edge, so a solve at the peak of a large swing still holds
when the collector/drain comes down far enough to saturate the BJT or put the MOS device in triode.

BJT: SPICE's Gummel-Poon model without high injection and without series resistances, i.e. the Ebers-Moll
transport form with the base charge ``q_b = 1/(1 - V_BC/V_A)`` (Massobrio & Antognetti, *Semiconductor Device
Modeling with SPICE*, 2nd ed., ch. 2, eqs. for I_T, I_C, I_B with IKF = VAR = inf, ISE = ISC = 0):

    I_T = I_S (exp(V_BE/V_T) - exp(V_BC/V_T)) (1 - V_BC/V_A)
    I_C = I_T - (I_S/beta_R) (exp(V_BC/V_T) - 1)
    I_B = (I_S/beta_F) (exp(V_BE/V_T) - 1) + (I_S/beta_R) (exp(V_BC/V_T) - 1)

In forward activity (``V_BC`` a few V_T negative) this is :mod:`models.devices`' law to within ``I_S/beta``;
with ``V_BC`` forward the reverse transport and the reverse base current pull the collector current down
(saturation). ``beta_R`` is not in a board config: SPICE's default BR = 1 is the usual value for discrete
transistors.

MOS: SPICE level 1 (Shichman-Hodges) with channel-length modulation on both regions, no body effect (Razavi,
*Design of Analog CMOS Integrated Circuits*, ch. 2; Massobrio & Antognetti ch. 3), ``V_ov = V_GS - V_th``:

    cutoff      V_ov <= 0:          I_D = 0
    saturation  V_DS >= V_ov:       I_D = (kp/2) V_ov^2 (1 + lambda V_DS)
    triode      0 <= V_DS < V_ov:   I_D = kp (V_ov V_DS - V_DS^2/2) (1 + lambda V_DS)

and for ``V_DS < 0`` drain and source swap (the device is symmetric). Current and slopes are continuous.

Arguments are in the device frame (npn/nmos signs; pnp/pmos devices take the magnitudes V_EB, V_CB, V_SG,
V_DG): ``x`` is V_BE (V_GS) and ``y`` is V_BC (V_GD), so V_CE = V_DS = x - y. Every function is elementwise on
arrays, SI units. Nothing here imports diffbench.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .devices import BjtParams, DeviceParams, MosParams

EXP_ARG_MAX = 200.0
"""exp() arguments are clipped here (the Newton steps of the callers keep junctions far below it)."""


class Law(NamedTuple):
    """Output (collector/drain) and input (base/gate) currents of one device (A, into the collector/drain and
    into the base/gate) and their partial derivatives (S) in ``x`` (V_BE or V_GS) and ``y`` (V_BC or V_GD)."""

    i_out: np.ndarray
    i_in: np.ndarray
    dout_dx: np.ndarray
    dout_dy: np.ndarray
    din_dx: np.ndarray
    din_dy: np.ndarray


def _exp(u: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.exp(np.minimum(u, EXP_ARG_MAX))
    return out


def bjt_law(dev: BjtParams, vt: float, x: np.ndarray, y: np.ndarray, beta_r: float = 1.0) -> Law:
    """Collector and base currents of a BJT at ``V_BE = x``, ``V_BC = y`` (V), thermal voltage ``vt`` (V), reverse
    current gain ``beta_r`` (module docstring: Gummel-Poon without high injection, Massobrio & Antognetti ch. 2)."""
    ef, er = _exp(x / vt), _exp(y / vt)
    q = 1.0 - y / dev.early_v
    i_s = dev.i_s
    i_t = i_s * (ef - er) * q
    i_c = i_t - i_s / beta_r * (er - 1.0)
    i_b = i_s / dev.beta * (ef - 1.0) + i_s / beta_r * (er - 1.0)
    dt_dx = i_s * ef / vt * q
    dt_dy = -i_s * er / vt * q - i_s * (ef - er) / dev.early_v
    dbr_dy = i_s / beta_r * er / vt
    return Law(i_c, i_b, dt_dx, dt_dy - dbr_dy, i_s / dev.beta * ef / vt, dbr_dy)


def _mos_forward(dev: MosParams, vgs: np.ndarray, vds: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Level-1 drain current for ``vds >= 0`` and its slopes in V_GS and V_DS (module docstring)."""
    vov = np.maximum(vgs - dev.vth, 0.0)
    lam = dev.lambda_per_v
    clm = 1.0 + lam * vds
    sat = vds >= vov
    core = np.where(sat, 0.5 * vov * vov, vov * vds - 0.5 * vds * vds)
    dcore_dvgs = np.where(sat, vov, vds)
    dcore_dvds = np.where(sat, 0.0, vov - vds)
    return dev.kp * core * clm, dev.kp * dcore_dvgs * clm, dev.kp * (dcore_dvds * clm + core * lam)


def mos_law(dev: MosParams, x: np.ndarray, y: np.ndarray) -> Law:
    """Drain current of a MOS device at ``V_GS = x``, ``V_GD = y`` (V), all regions (module docstring: SPICE level 1,
    Razavi ch. 2); the gate draws no current."""
    rev = y > x  # V_DS < 0: the drain acts as the source
    g = np.where(rev, y, x)
    f, f_g, f_d = _mos_forward(dev, g, np.abs(x - y))
    # forward: I = f(x, x - y); reverse: I = -f(y, y - x)
    i_d = np.where(rev, -f, f)
    d_dx = np.where(rev, f_d, f_g + f_d)
    d_dy = np.where(rev, -(f_g + f_d), -f_d)
    zero = np.zeros_like(i_d)
    return Law(i_d, zero, d_dx, d_dy, zero, zero)


def device_law(dev: DeviceParams, vt: float, x: np.ndarray, y: np.ndarray, beta_r: float = 1.0) -> Law:
    """:func:`bjt_law` or :func:`mos_law`, whichever ``dev`` is."""
    if isinstance(dev, BjtParams):
        return bjt_law(dev, vt, x, y, beta_r)
    return mos_law(dev, x, y)
