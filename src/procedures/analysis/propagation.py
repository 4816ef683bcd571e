"""First-order uncertainty propagation on the mixed-mode gains S (docs/reference/measurement-methods.md §3.2).

S (2 x 2 complex) is carried with the 8 x 8 covariance ``C`` of its real vector
``x = [Re S11, Im S11, Re S12, Im S12, Re S21, Im S21, Re S22, Im S22]`` (:func:`real_vec`), as the solve
makes it (:mod:`procedures.analysis.gain_solve`). A figure ``f(S)`` then has the variance ``J C J^T``, ``J``
its Jacobian in ``x``: read off directly for one element of S, by central differences for anything else
(a CMRR, a single-ended gain), so correlations between the elements are kept. This module is the one home
of that propagation: the archived figures and the report's tables and error bars all come from here.

For a complex figure ``w`` with the covariance ``C_w`` of ``(Re w, Im w)``, the standard uncertainties of
its magnitude and phase are ``sqrt(g C_w g)`` and ``sqrt(p C_w p)`` with ``g = (Re w, Im w)/|w|`` and
``p = (-Im w, Re w)/|w|^2`` (:func:`polar_u`); in dB, ``u_dB = 20/ln(10) u(|w|)/|w|`` (:func:`db_u`).

The central differences step the real and imaginary parts of each element of S by ``1e-6`` of that
element's own scale, its magnitude or, where larger, its standard uncertainty (:func:`element_steps`): a
figure such as ``20 log10 |Add/Acd|`` is curved on the scale of ``|Acd|``, not of ``|Add|``, so one step for
every component (formerly ``1e-7`` of S's largest, about ``0.3 |Acd|`` on a board with CMRR_diff near
130 dB) got the derivative wrong exactly where the figure is most sensitive. Truncation error is then
``O(1e-12)`` relative and rounding ``O(1e-9)`` (docs/explanations/decisions/0015-unresolved-db-figures.md).

Whether a figure is worth a value at all is decided on the magnitude of a complex quantity against its
own noise (:func:`complex_cov`, :func:`worst_quadrature_u`); :mod:`procedures.analysis.gain_figures`
applies that to the dB figures' numerators and denominators and to the gains in dB.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike

from models.mixed_mode import S_ELEMENTS

T = TypeVar("T", float, complex)

STEP_REL = 1e-6
"""Central-difference step relative to each element's own scale (:func:`element_steps`)."""


def real_vec(S: np.ndarray) -> np.ndarray:
    """``[Re S11, Im S11, Re S12, Im S12, ...]`` of one 2 x 2 S (the order of the covariance)."""
    z = S.reshape(-1)
    return np.column_stack([z.real, z.imag]).reshape(-1)


def from_real_vec(x: np.ndarray) -> np.ndarray:
    """The 2 x 2 complex S of a real vector in :func:`real_vec`'s order."""
    return (x[0::2] + 1j * x[1::2]).reshape(2, 2)


def polar_u(z: complex, C: np.ndarray) -> tuple[float, float]:
    """Standard uncertainties of ``|z|`` and of ``arg z`` (radians) from the 2 x 2 covariance ``C`` of
    ``(Re z, Im z)`` (first order, module docstring). NaN for ``z = 0``."""
    a = abs(z)
    g = np.array([z.real, z.imag]) / a
    p = np.array([-z.imag, z.real]) / a ** 2
    return math.sqrt(max(g @ C @ g, 0.0)), math.sqrt(max(p @ C @ p, 0.0))


def db_u(u: ArrayLike, magnitude: ArrayLike) -> np.ndarray:
    """Standard uncertainty in dB of a magnitude ``|x|`` with standard uncertainty ``u``: ``20/ln(10) u/|x|``."""
    out: np.ndarray = 20.0 / math.log(10) * np.asarray(u) / np.asarray(magnitude)
    return out


def linear_u(u_db: ArrayLike, magnitude: ArrayLike) -> np.ndarray:
    """The inverse of :func:`db_u`: the standard uncertainty of ``|x|`` from that of ``20 log10 |x|``."""
    out: np.ndarray = np.asarray(magnitude) * np.asarray(u_db) * math.log(10) / 20
    return out


def element_cov(cov: np.ndarray, name: str) -> np.ndarray:
    """The 2 x 2 covariance of ``(Re, Im)`` of one gain (``"Add"``, ...), of one S or of rows of S."""
    i, j = S_ELEMENTS[name]
    k = 2 * (2 * i + j)
    return cov[..., k:k + 2, k:k + 2]


def element_u(S: np.ndarray, cov: np.ndarray, name: str) -> float:
    """Standard uncertainty of one gain's magnitude (linear; for a circular error, the per-quadrature one).

    A zero gain has no direction: its uncertainty is then the RMS of the two quadratures'.
    """
    sub = element_cov(cov, name)
    z = S[S_ELEMENTS[name]]
    if z == 0:
        return float(np.sqrt(0.5 * np.trace(sub)))
    return polar_u(z, sub)[0]


def element_u_rows(S: np.ndarray, cov: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One gain per row of ``S`` (n, 2, 2) with ``cov`` (n, 8, 8): its value, the standard uncertainty of
    its magnitude in dB and of its phase in degrees."""
    z = S[(slice(None), *S_ELEMENTS[name])]
    C = element_cov(cov, name)
    u_db = np.full(z.shape, np.nan)
    u_rad = np.full(z.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        for r in range(z.size):
            u_mag, u_rad[r] = polar_u(z[r], C[r])
            u_db[r] = db_u(u_mag, abs(z[r]))
    return z, u_db, np.degrees(u_rad)


def _central_differences(fn: Callable[[np.ndarray], Any], x0: np.ndarray, steps: Sequence[float],
                         cast: Callable[[Any], T]) -> list[T]:
    """``d fn / d x_i`` at ``x0`` (an S in :func:`real_vec` form) by central differences with the given steps."""
    out = []
    for i, h in enumerate(steps):
        xp, xm = x0.copy(), x0.copy()
        xp[i] += h
        xm[i] -= h
        out.append((cast(fn(from_real_vec(xp))) - cast(fn(from_real_vec(xm)))) / (2 * h))
    return out


def element_steps(S: np.ndarray, cov: np.ndarray, rel: float = STEP_REL) -> list[float]:
    """Central-difference steps for :func:`real_vec` of one S: ``rel`` times each element's own scale.

    The scale of element ``S_ij`` is ``max(|S_ij|, u(S_ij))`` (``u``: the RMS of its two quadratures' standard
    uncertainties), the same for its real and imaginary part so that a part near zero is not stepped by
    next to nothing; an element that is zero with zero uncertainty takes ``1e-9`` of S's largest.
    """
    z = np.asarray(S).reshape(-1)
    var = np.diagonal(cov).reshape(-1, 2).sum(axis=1) / 2
    scale = np.maximum(np.abs(z), np.sqrt(np.clip(var, 0.0, None)))
    floor = 1e-9 * max(float(np.max(np.abs(z))), 1e-300)
    return [rel * float(max(s, floor)) for s in np.repeat(scale, 2)]


def figure_u(S: np.ndarray, cov: np.ndarray, fn: Callable[[np.ndarray], float]) -> tuple[float, float]:
    """Value and standard uncertainty of a real function of one S (numerical Jacobian, full covariance).

    Each component is stepped by :func:`element_steps` (module docstring).
    """
    x0 = real_vec(S)
    J = np.array(_central_differences(fn, x0, element_steps(S, cov), float))
    return float(fn(S)), float(np.sqrt(max(J @ cov @ J, 0.0)))


def complex_cov(S: np.ndarray, cov: np.ndarray, fn: Callable[[np.ndarray], complex]) -> tuple[complex, np.ndarray]:
    """A complex function ``w`` of one S and the 2 x 2 covariance of ``(Re w, Im w)``, ``J C J^T`` (first
    order; exact for a function linear in S, such as a single-ended gain)."""
    d = _central_differences(fn, real_vec(S), element_steps(S, cov), complex)
    J = np.array([[c.real for c in d], [c.imag for c in d]])
    return complex(fn(S)), J @ cov @ J.T


def worst_quadrature_u(C: np.ndarray) -> float:
    """The largest standard deviation of a complex error with the 2 x 2 covariance ``C`` in any direction,
    ``sqrt(largest eigenvalue)``. With it, noise alone exceeds ``k`` times this in magnitude with probability
    at most ``exp(-k^2/2)`` (``|e|^2 <= lambda_max chi^2_2``; equality for a circular error, a Rayleigh
    magnitude)."""
    return float(np.sqrt(max(float(np.linalg.eigvalsh(C)[-1]), 0.0)))


def ratio_u_rows(S: np.ndarray, cov: np.ndarray, fn: Callable[[np.ndarray], complex]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A complex function of S per row of ``S`` (n, 2, 2) with ``cov`` (n, 8, 8): its value, the standard
    uncertainty of its magnitude in dB and of its phase in degrees (NaN where the value is 0 or infinite).

    Each component is stepped by :func:`element_steps` (module docstring).
    """
    with np.errstate(all="ignore"):  # a zero gain (an ideal element) gives inf / NaN, which the plots skip
        n = S.shape[0]
        val = np.empty(n, complex)
        u_db = np.full(n, np.nan)
        u_deg = np.full(n, np.nan)
        for r in range(n):
            w, C = complex_cov(S[r], cov[r], fn)  # C: 2x2 covariance of (Re w, Im w)
            val[r] = w
            a = abs(w)
            if 0 < a < math.inf and np.all(np.isfinite(C)):
                u_mag, u_rad = polar_u(w, C)
                u_db[r] = db_u(u_mag, a)
                u_deg[r] = math.degrees(u_rad)
    return val, u_db, u_deg


def mag_u(z: ArrayLike, u: ArrayLike) -> np.ndarray:
    """Standard uncertainty of ``|z|`` from a ``u(re) + j u(im)`` column (independent quadratures)."""
    z, u = np.asarray(z, complex), np.asarray(u, complex)
    a = np.abs(z)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.sqrt((z.real * u.real) ** 2 + (z.imag * u.imag) ** 2) / a
    result: np.ndarray = np.where(a > 0, out, np.hypot(u.real, u.imag) / math.sqrt(2))
    return result
