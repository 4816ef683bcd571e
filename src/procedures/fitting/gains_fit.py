"""Fitting measured mixed-mode gains S(f) to a model of them: what the closed-form small-signal fit
(:mod:`procedures.fitting.small_signal`) and the ngspice fit of a netlist board (:mod:`procedures.fitting.netlist_fit`)
share.

Weights (docs/reference/measurement-methods.md §3.2 propagation, archived as ``S_cov``): at each frequency the
residual vector ``[Re, Im] of (S_meas - S_model)`` for S11, S12, S21, S22 is whitened by the inverse Cholesky
factor of its 8x8 covariance, so correlated errors between the four gains count as measured. Rows with a
non-finite frequency, gain or covariance are left out of the fit (``used``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from procedures.fitting.core import FitError, FitResult, ParamSpec, Solution, least_squares, make_result

GAINS = (("Add", 0, 0), ("Acd", 0, 1), ("Adc", 1, 0), ("Acc", 1, 1))
"""Each gain's name and place in ``S = [[Add, Acd], [Adc, Acc]]``."""


class GainsModel(Protocol):
    """A model of S(f): its parameters, their nominal values, and S at frequencies (Hz) and values."""

    specs: list[ParamSpec]
    nominal: dict[str, float]

    def s(self, freq_hz: np.ndarray, p: Mapping[str, float]) -> np.ndarray: ...


@dataclass(frozen=True)
class GainsData:
    """A run's ``gains`` table as the fits use it: frequencies (Hz), S (F, 2, 2), its covariance (F, 8, 8), and
    which rows are finite."""

    f: np.ndarray
    S: np.ndarray
    cov: np.ndarray
    ok: np.ndarray


def gains_data(table: Mapping[str, np.ndarray]) -> GainsData:
    """The ``gains`` table's columns frequency_hz, S, S_cov; a FitError when no row is finite."""
    f = np.asarray(table["frequency_hz"], float)
    S = np.asarray(table["S"], complex)
    cov = np.asarray(table["S_cov"], float)
    ok = np.isfinite(f) & np.all(np.isfinite(S.reshape(len(f), -1)), axis=1) & np.all(
        np.isfinite(cov.reshape(len(f), -1)), axis=1)
    if not ok.any():
        raise FitError("small-signal fit: the gains table has no finite row")
    return GainsData(f, S, cov, ok)


def real_vec(S: np.ndarray) -> np.ndarray:
    """(F, 2, 2) complex -> (F, 8): [Re S11, Im S11, Re S12, Im S12, Re S21, Im S21, Re S22, Im S22]."""
    flat = S.reshape(S.shape[0], 4)
    return np.stack([flat.real, flat.imag], axis=-1).reshape(S.shape[0], 8)


def whitener(cov: np.ndarray) -> np.ndarray:
    """Inverse Cholesky factors (F, 8, 8) of the per-frequency covariances: ``L^-1 e`` has unit covariance.
    A covariance that is not positive definite (a gain measured exactly, e.g. zero) gets a floor of 1e-12 of
    its largest eigenvalue on its eigenvalues first."""
    out = np.empty_like(cov)
    for i, c in enumerate(cov):
        try:
            L = np.linalg.cholesky(c)
        except np.linalg.LinAlgError:
            w, v = np.linalg.eigh(c)
            w = np.maximum(w, 1e-12 * max(w.max(), 1e-300))
            L = np.linalg.cholesky((v * w) @ v.T)
        out[i] = np.linalg.inv(L)
    return out


def fit_gains(name: str, text: str, model: GainsModel, free: Sequence[str], data: GainsData,
              options: Mapping[str, Any], curve_points: int = 241, max_nfev: int = 2000
              ) -> tuple[FitResult, Solution]:
    """Fit ``model``'s ``free`` parameters to ``data`` (module docstring) and build the result: measured,
    fitted and predicted (nominal) gains at the measured frequencies and on a curve of ``curve_points``
    frequencies over twice the measured span, and the normalised residuals. ``options``: ``[fit]`` (``bounds``)."""
    f, S, cov, ok = data.f, data.S, data.cov, data.ok
    W = whitener(cov[ok])
    meas = real_vec(S[ok])

    def residual(p: Mapping[str, float]) -> np.ndarray:
        e = meas - real_vec(model.s(f[ok], p))
        return np.einsum("fij,fj->fi", W, e).ravel()

    sol = least_squares(model.specs, free, residual, bounds=options.get("bounds") or {}, fit_name=name,
                        max_nfev=max_nfev)
    pred, fitted = model.s(f, model.nominal), model.s(f, sol.values)
    u = np.sqrt(np.stack([cov[:, 2 * k, 2 * k] for k in range(4)], axis=-1)).reshape(len(f), 2, 2)
    lo, hi = f[ok].min(), f[ok].max()
    span = (lo / 2.0, hi * 2.0) if hi > lo else (lo / 10, lo * 10)
    curve_f = np.geomspace(*span, curve_points)
    cp, cf = model.s(curve_f, model.nominal), model.s(curve_f, sol.values)

    def pick(A: np.ndarray) -> dict[str, np.ndarray]:
        return {n: A[:, r, c] for n, r, c in GAINS}

    res = {n: np.where(ok, (S[:, r, c] - fitted[:, r, c]) / u[:, r, c], np.nan + 0j) for n, r, c in GAINS}
    result = make_result(name, text, model.specs, sol, x_name="frequency_hz", x=f, measured=pick(S),
                         measured_u=pick(u), fitted=pick(fitted), predicted=pick(pred), curve_x=curve_f,
                         curve_fitted=pick(cf), curve_predicted=pick(cp), residuals=res, used=ok)
    return result, sol
