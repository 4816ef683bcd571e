"""Device equations of one transistor and its small-signal parameters, from plain numbers.

BJT, forward active, with the Early effect on the transport (collector) current only and written on the
base-collector voltage, as SPICE's Gummel-Poon model does (base charge ``q_b = 1/(1 - V_BC/V_A)`` without
high injection; Massobrio & Antognetti, *Semiconductor Device Modeling with SPICE*, 2nd ed., ch. 2; the
simulated board's ``BJTModel`` uses the same form):

    I_C = I_S exp(V_BE / V_T) (1 - V_BC / V_A),        I_B = (I_S / beta_F) exp(V_BE / V_T),   V_BC = V_BE - V_CE

The exact small-signal parameters are the slopes of these laws: ``r_o = (V_A - V_BC) / I_C`` (``1/r_o =
dI_C/dV_CE`` at fixed V_BE; the textbook ``V_A / I_C`` at ``V_BC = 0``); the hybrid-pi transconductance at
fixed V_CE is ``g_m = I_C / V_T - 1 / r_o`` (the factor holds V_BE as well; the textbook ``I_C / V_T`` is the
transport part, 1 + V_T/(V_A - V_BC) ~ 1.0003 larger); ``r_pi = V_T / I_B`` with ``beta = I_C / I_B =
beta_F (1 - V_BC / V_A)``; ``r_e = V_T / I_E`` (dV_BE/dI_E at fixed V_BC). The older textbook form
``(1 + V_CE/V_A)`` differs by ``V_BE/V_A`` in the factor, i.e. ~0.7 % in r_o at V_A = 100 V.

MOS, saturation, square law with channel-length modulation (Razavi, *Design of Analog CMOS Integrated
Circuits*, ch. 2), ``kp = mu C_ox W / L``:

    I_D = (kp / 2) (V_GS - V_th)^2 (1 + lambda V_DS)

so ``V_ov = V_GS - V_th``, ``g_m = 2 I_D / V_ov``, ``r_o = (1 + lambda V_DS) / (lambda I_D)`` (the textbook
``1 / (lambda I_D)`` at ``V_DS = 0``). Each device sits at ``I_SS / 2``, so ``V_ov^2 = I_SS / kp``
(docs/reference/measurement-methods.md §5).

All functions take floats or numpy arrays (SI units) and return the same; pnp/pmos devices use magnitudes
(V_EB, V_EC, V_SG, V_SD). Nothing here imports diffbench.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

BOLTZMANN_J_PER_K = 1.380649e-23
ELEMENTARY_CHARGE_C = 1.602176634e-19


def thermal_voltage(t_k: float) -> float:
    """Thermal voltage ``V_T = k T / q`` in volts at temperature ``t_k`` (kelvin); CODATA 2018 exact k and q."""
    return BOLTZMANN_J_PER_K * t_k / ELEMENTARY_CHARGE_C


@dataclass(frozen=True)
class BjtParams:
    """Large-signal parameters of one bipolar transistor: ``beta`` = beta_F, ``early_v`` = V_A (V),
    ``i_s`` = saturation current I_S (A). ``early_v = inf`` turns the Early effect off."""

    beta: float
    early_v: float = float("inf")
    i_s: float = 1e-15


@dataclass(frozen=True)
class MosParams:
    """Large-signal parameters of one MOS transistor: ``kp`` = mu C_ox W/L (A/V^2), ``vth`` = threshold
    magnitude (V), ``lambda_per_v`` = channel-length modulation (1/V; 0 turns it off)."""

    kp: float
    vth: float
    lambda_per_v: float = 0.0


DeviceParams = BjtParams | MosParams


def _div(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """a / b with a zero denominator giving inf (an ideal element), not a warning."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.true_divide(a, b)


def early_factor(v_bc: ArrayLike, early_v: ArrayLike) -> np.ndarray:
    """``1 - V_BC / V_A`` (dimensionless; SPICE Gummel-Poon's ``1/q_b``); 1 when ``early_v`` is infinite."""
    return 1.0 - _div(v_bc, early_v)


def bjt_collector_current(v_be: ArrayLike, v_ce: ArrayLike, dev: BjtParams, vt: float) -> np.ndarray:
    """Collector current ``I_S exp(V_BE/V_T)(1 - V_BC/V_A)``, ``V_BC = V_BE - V_CE``, in A (module docstring)."""
    v_be = np.asarray(v_be, dtype=float)
    out: np.ndarray = dev.i_s * np.exp(v_be / vt) * early_factor(v_be - np.asarray(v_ce), dev.early_v)
    return out


def bjt_vbe(i_c: ArrayLike, vt: float, i_s: float, early_v: float = float("inf"),
            v_ce: ArrayLike = 0.0) -> np.ndarray:
    """Base-emitter voltage (V) that carries collector current ``i_c`` (A) at ``v_ce`` (V), the inverse of
    :func:`bjt_collector_current`: the fixed point of ``V_BE = V_T ln(I_C / (I_S (1 + (V_CE - V_BE)/V_A)))``,
    which contracts by ``V_T/(V_A - V_BC)`` per step (20 steps reach double precision for any V_A > 1 V)."""
    u: np.ndarray = vt * np.log(_div(i_c, i_s))
    for _ in range(20):
        u = vt * np.log(_div(i_c, i_s * early_factor(u - np.asarray(v_ce), early_v)))
    return u


@dataclass(frozen=True)
class BjtSmallSignal:
    """Hybrid-pi parameters of a BJT at one operating point (SI units; ``gm`` at fixed V_CE, ``beta = I_C/I_B``,
    ``alpha = I_C/I_E``), arrays of the shape of the arguments (0-d for scalars)."""

    i_c: np.ndarray
    gm: np.ndarray
    r_pi: np.ndarray
    r_o: np.ndarray
    r_e: np.ndarray
    beta: np.ndarray
    alpha: np.ndarray


def bjt_small_signal(i_c: ArrayLike, vt: float, beta: float, early_v: float = float("inf"),
                     v_bc: ArrayLike = 0.0) -> BjtSmallSignal:
    """Hybrid-pi parameters at collector current ``i_c`` (A), thermal voltage ``vt`` (V), ``beta`` = beta_F,
    Early voltage ``early_v`` (V) and base-collector voltage ``v_bc`` (V; negative in forward activity).

    ``r_o = (V_A - V_BC)/I_C``, the exact slope of ``I_C(V_CE)`` (= V_A/I_C at V_BC = 0, Sedra & Smith);
    ``g_m = I_C/V_T - 1/r_o`` (S, at fixed V_CE; module docstring); ``beta_ac = beta_F (1 - V_BC/V_A)``;
    ``r_pi = V_T/I_B = beta_ac V_T/I_C``; ``alpha = beta_ac/(beta_ac + 1)``; ``r_e = alpha V_T/I_C = V_T/I_E``
    (the source text's "26 Ohm x 1 mA / 50 uA = 520 Ohm" when beta is infinite). ``beta = inf`` gives
    alpha = 1 and r_pi = inf.
    """
    i_c = np.asarray(i_c, dtype=float)
    gm_t = i_c / vt
    factor = early_factor(v_bc, early_v)
    r_o = _div(np.asarray(early_v) * factor, i_c)
    beta_ac = beta * factor
    alpha = 1.0 / (1.0 + _div(1.0, beta_ac))
    return BjtSmallSignal(
        i_c=i_c, gm=gm_t - _div(1.0, r_o), r_pi=_div(beta_ac, gm_t), r_o=r_o,
        r_e=alpha / gm_t, beta=beta_ac, alpha=alpha,
    )


def mos_drain_current(v_gs: ArrayLike, v_ds: ArrayLike, dev: MosParams) -> np.ndarray:
    """Drain current (A) in saturation, ``(kp/2)(V_GS - V_th)^2 (1 + lambda V_DS)``, zero below threshold
    (Razavi ch. 2)."""
    vov = np.maximum(np.asarray(v_gs) - dev.vth, 0.0)
    return 0.5 * dev.kp * vov**2 * (1.0 + dev.lambda_per_v * np.asarray(v_ds))


def mos_overdrive(i_d: ArrayLike, kp: float, lambda_per_v: float = 0.0, v_ds: ArrayLike = 0.0) -> np.ndarray:
    """Overdrive ``V_ov = sqrt(2 I_D / (kp (1 + lambda V_DS)))`` (V) for drain current ``i_d`` (A)."""
    return np.sqrt(2.0 * np.asarray(i_d) / (kp * (1.0 + lambda_per_v * np.asarray(v_ds))))


def mos_vgs(i_d: ArrayLike, kp: float, vth: float, lambda_per_v: float = 0.0, v_ds: ArrayLike = 0.0) -> np.ndarray:
    """Gate-source voltage (V) that carries ``i_d`` (A) in saturation: ``V_th + V_ov``."""
    return vth + mos_overdrive(i_d, kp, lambda_per_v, v_ds)


@dataclass(frozen=True)
class MosSmallSignal:
    """Small-signal parameters of a MOS transistor in saturation (SI units), arrays of the shape of the arguments
    (0-d for scalars)."""

    i_d: np.ndarray
    v_ov: np.ndarray
    gm: np.ndarray
    r_o: np.ndarray


def mos_small_signal(i_d: ArrayLike, kp: float, lambda_per_v: float = 0.0, v_ds: ArrayLike = 0.0) -> MosSmallSignal:
    """``g_m = 2 I_D / V_ov = kp V_ov (1 + lambda V_DS)`` (S) and ``r_o = (1 + lambda V_DS)/(lambda I_D)`` (Ohm),
    the exact slopes of the square law with channel-length modulation (Razavi ch. 2); ``r_o = inf`` at lambda = 0."""
    i_d = np.asarray(i_d, dtype=float)
    v_ov = mos_overdrive(i_d, kp, lambda_per_v, v_ds)
    factor = 1.0 + lambda_per_v * np.asarray(v_ds)
    return MosSmallSignal(i_d=i_d, v_ov=v_ov, gm=_div(2.0 * i_d, v_ov), r_o=_div(factor, lambda_per_v * i_d))
