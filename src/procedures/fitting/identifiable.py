"""Which of a netlist board's fit parameters one sweep can tell apart: the default free set of its ngspice fits.

A netlist names the ``.param``s a fit may move (``[netlist] fit_params``), but not every sweep separates them: a
pair's DC transfer and its gain compression depend on the load resistor, the degeneration and the tail current
only through ``I R_L`` and ``I R_E`` (the tanh of docs/reference/measurement-methods.md §5 with degeneration),
so of ``rload``, ``rdeg`` and ``re3`` (which sets I) any two fix the third, and fitting all three leaves the
minimiser on a valley floor whose covariance is singular.

The test is the variance inflation factor (Belsley, Kuh & Welsch, "Regression Diagnostics", Wiley 1980, ch. 3):
with the columns of the whitened residuals' Jacobian (one per parameter, at the nominal values), a parameter's
VIF given the ones already chosen is ``1/(1 - R^2)``, ``R^2`` the share of its column that a least-squares
combination of theirs explains; its standard uncertainty is inflated by ``sqrt(VIF)`` against a parameter the
others do not mimic. Parameters are taken in the config's order and one whose VIF exceeds :data:`MAX_VIF` (or
that moves no residual at all) is held at the netlist's value; the fit says which and why.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from procedures.fitting.core import ParamSpec, choose_free

MAX_VIF = 1e6
"""Largest variance inflation factor of a parameter left free: an uncertainty inflated 1000 times. The pairs of
2n3904-pair's fit_params reach 40-1400 on the shipped DC and amplitude sweeps, all three together ~1e10."""
REL_STEP = 1e-3
"""Finite-difference step of the Jacobian, as a share of each parameter's scale."""


def jacobian(residual: Callable[[dict[str, float]], np.ndarray], specs: Sequence[ParamSpec],
             names: Sequence[str], values: Mapping[str, float]) -> np.ndarray:
    """Forward-difference Jacobian (n_residuals, len(names)) of ``residual`` at ``values``, each column per unit
    of that parameter's scale (steps of :data:`REL_STEP` of the scale)."""
    by_name = {s.name: s for s in specs}
    r0 = np.asarray(residual(dict(values)), float)
    cols = []
    for n in names:
        h = REL_STEP * by_name[n].scale
        p = dict(values)
        p[n] += h
        cols.append((np.asarray(residual(p), float) - r0) / REL_STEP)
    return np.stack(cols, axis=1)


def vif(column: np.ndarray, others: np.ndarray) -> float:
    """Variance inflation factor of ``column`` against the columns of ``others`` (module docstring); inf for a
    zero column."""
    norm2 = float(column @ column)
    if not norm2 > 0 or not np.all(np.isfinite(column)):
        return math.inf
    if others.shape[1] == 0:
        return 1.0
    coef, *_ = np.linalg.lstsq(others, column, rcond=None)
    rest = column - others @ coef
    left = float(rest @ rest)
    return norm2 / left if left > 0 else math.inf


def separable(jac: np.ndarray, names: Sequence[str], keep: Sequence[str] = ()) -> tuple[list[str], dict[str, float]]:
    """The parameters (in ``names``' order; ``keep`` always) whose VIF against those chosen before them is at most
    :data:`MAX_VIF`, and the VIF of each one left out."""
    chosen: list[int] = [names.index(k) for k in keep]
    held: dict[str, float] = {}
    for j, n in enumerate(names):
        if j in chosen:
            continue
        f = vif(jac[:, j], jac[:, chosen])
        if f <= MAX_VIF:
            chosen.append(j)
        else:
            held[n] = f
    return [n for j, n in enumerate(names) if j in chosen], held


def held_note(held: Mapping[str, float], sweep: str) -> str:
    """One phrase for the fit's model text naming the parameters held and why ("" when none)."""
    if not held:
        return ""
    parts = [f"{n} (VIF {v:.2g})" if math.isfinite(v) else f"{n} (no effect)" for n, v in held.items()]
    return (f"; held at the netlist's values, as the {sweep} cannot tell them from the parameters before them in "
            f"fit_params: " + ", ".join(parts))


def free_params(specs: Sequence[ParamSpec], requested: Sequence[str] | None,
                residual: Callable[[dict[str, float]], np.ndarray], nominal: Mapping[str, float], fit_name: str,
                keep: Sequence[str] = ()) -> tuple[list[str], dict[str, float]]:
    """A netlist fit's free parameters and those held with their VIF: the options' list when given
    (:func:`procedures.fitting.core.choose_free`, nothing held), else every parameter the sweep separates
    (:func:`separable` on the Jacobian of ``residual`` at ``nominal``; ``keep`` always free)."""
    names = [s.name for s in specs]
    if requested is not None:
        return choose_free(specs, requested, names, fit_name), {}
    return separable(jacobian(residual, specs, names, nominal), names, keep)
