"""The mixed-mode gain solve: four complex gains from two or more excitations, with uncertainties.

docs/reference/measurement-methods.md §3.2: with input phasors ``X = [v1; v2]`` and output phasors
``Y = [vo1; vo2]`` stacked as columns (one per excitation), the mode transform
``T = [[1, -1], [1/2, 1/2]]`` gives ``S = (T Y)(T X)^-1`` for two excitations and the least-squares
``S = Y_m X_m^H (X_m X_m^H)^-1`` (``X_m = T X``, ``Y_m = T Y``) for more. ``S = [[Add, Acd], [Adc, Acc]]``
relates ``[vid; vic]`` to ``[vod; voc]`` (docs/conventions.md conventions). Single-ended views and CMRRs
follow from S by :mod:`models.mixed_mode`'s formulas, named in :mod:`procedures.analysis.gain_figures`.

Uncertainty: first-order propagation ``dS = (dY_m - S dX_m) P`` with ``P = X_m^H (X_m X_m^H)^-1``
(docs/reference/measurement-methods.md §3.2),
each phasor's error circular with the per-quadrature standard uncertainty its fit reported. The covariance
of the eight real numbers of S is carried, so derived figures (CMRR in dB, single-ended gains) get their
uncertainties through their own Jacobians, correlations included (:mod:`procedures.analysis.propagation`);
a dB figure whose numerator or denominator is not resolved is a limit, not a value
(:func:`procedures.analysis.gain_figures.db_columns`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.mixed_mode import GAIN_NAMES, T_MODE
from procedures.analysis.gain_figures import DB_FIGURES, db_columns, figure_functions
from procedures.analysis.propagation import element_u, figure_u


@dataclass(frozen=True)
class GainSolve:
    """S with the covariance of ``[Re S11, Im S11, Re S12, Im S12, Re S21, Im S21, Re S22, Im S22]``."""

    S: np.ndarray
    cov: np.ndarray
    residual_rms: float

    @property
    def Add(self) -> complex:
        return complex(self.S[0, 0])

    @property
    def Acd(self) -> complex:
        return complex(self.S[0, 1])

    @property
    def Adc(self) -> complex:
        return complex(self.S[1, 0])

    @property
    def Acc(self) -> complex:
        return complex(self.S[1, 1])

    def u(self, name: str) -> float:
        """Standard uncertainty of one gain's magnitude (= per-quadrature uncertainty for a circular error)."""
        return element_u(self.S, self.cov, name)

    def derived(self, fn: Callable[[np.ndarray], float]) -> tuple[float, float]:
        """Value and standard uncertainty of a real function of S (numerical Jacobian, full covariance)."""
        return figure_u(self.S, self.cov, fn)

    def db_columns(self, ideal: np.ndarray | None = None) -> dict[str, Any]:
        """The archived dB columns: value, ``_u`` and ``_kind`` of each figure, limits where a magnitude is not
        resolved (:func:`procedures.analysis.gain_figures.db_columns`), and ``ideal``'s figures if given."""
        return db_columns(self.S, self.cov, ideal)

    def figures(self) -> dict[str, tuple[float, float]]:
        """Every reported figure with its standard uncertainty: gains (magnitude, linear), CMRRs in dB.

        A dB figure that is a limit (see :meth:`db_columns`, which says which) has the limit as its value and
        a NaN uncertainty.
        """
        out: dict[str, tuple[float, float]] = {}
        for name in GAIN_NAMES:
            out[f"{name}_mag"] = (abs(self.S.reshape(-1)[GAIN_NAMES.index(name)]), self.u(name))
        cols = self.db_columns()
        for k, fn in figure_functions().items():
            out[k] = (cols[k], cols[f"{k}_u"]) if k in DB_FIGURES else self.derived(fn)
        return out


def solve_mixed_mode(X: np.ndarray, Y: np.ndarray, X_u: np.ndarray, Y_u: np.ndarray,
                     tied_columns: tuple[int, ...] = ()) -> GainSolve:
    """Solve S from excitations (docs/reference/measurement-methods.md §3.2) and propagate the phasor uncertainties.

    ``X``: ``(2, K)`` complex input phasors ``[v1; v2]`` at the pins, one column per excitation (K >= 2);
    ``Y``: ``(2, K)`` output phasors ``[vo1; vo2]``; ``X_u``, ``Y_u``: ``(2, K)`` per-quadrature standard
    uncertainties (V). The excitations must span both modes (e.g. one differential, one common-mode);
    a singular set raises ``ValueError``. ``tied_columns`` names excitations whose two inputs are one node
    (one generator channel into both pins): their input error is one common error of ``X_u[0, k]`` on both
    pins, so it moves vic but never vid.
    """
    X = np.asarray(X, dtype=complex)
    Y = np.asarray(Y, dtype=complex)
    if X.shape != Y.shape or X.shape[0] != 2 or X.shape[1] < 2:
        raise ValueError(f"need (2, K>=2) input and output phasors, got {X.shape} and {Y.shape}")
    Xm, Ym = T_MODE @ X, T_MODE @ Y
    gram = Xm @ Xm.conj().T
    if np.linalg.cond(gram) > 1e12:
        raise ValueError("the excitations do not span differential and common mode (singular mixed-mode solve)")
    P = Xm.conj().T @ np.linalg.inv(gram)          # (K, 2)
    S = Ym @ P
    resid = Ym - S @ Xm
    dof = 2 * (X.shape[1] - 2)
    residual_rms = float(np.sqrt(np.sum(np.abs(resid) ** 2) / dof)) if dof > 0 else 0.0

    # dS_ij = sum_{l,k} [T_il dY_lk - (S T)_il dX_lk] P_kj : complex coefficients on each phasor error
    ST = S @ T_MODE
    K = X.shape[1]
    coeffs = []   # per error source: (2,2) complex coefficient matrix c with dS = c * dz
    sigmas = []
    for k in range(K):
        for node in range(2):
            coeffs.append(np.outer(T_MODE[:, node], P[k, :]))
            sigmas.append(Y_u[node, k])
            if k not in tied_columns:
                coeffs.append(-np.outer(ST[:, node], P[k, :]))
                sigmas.append(X_u[node, k])
        if k in tied_columns:
            coeffs.append(-np.outer(ST[:, 0] + ST[:, 1], P[k, :]))
            sigmas.append(X_u[0, k])
    # a circular complex error dz (var per quadrature s^2) maps through c as [Re; Im] = [[cr, -ci], [ci, cr]] dz
    cov = np.zeros((8, 8))
    for c, s in zip(coeffs, sigmas):
        cz = c.reshape(-1)
        J = np.zeros((8, 2))
        J[0::2, 0], J[0::2, 1] = cz.real, -cz.imag
        J[1::2, 0], J[1::2, 1] = cz.imag, cz.real
        cov += (s ** 2) * (J @ J.T)
    return GainSolve(S=S, cov=cov, residual_rms=residual_rms)
