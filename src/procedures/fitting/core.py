"""What every model fit shares: the result record, parameter declarations, and the weighted least-squares run.

A fit declares its parameters (:class:`ParamSpec`: name, unit, nominal value from the board config, bounds,
a scale), says which are free, and gives a function from parameter values to *normalised* residuals: the
measurement minus the model, whitened by the measurement's own covariance, so that ``chi^2 = sum r^2``.
:func:`least_squares` runs lmfit's Levenberg-Marquardt (``lmfit.Minimizer(..., scale_covar=False)
.minimize(method="leastsq")``; lmfit documentation, "Performing Fits and Analyzing Outputs") on the free
parameters, each divided by its scale so that a capacitance (1e-11 F) and a resistance (1e6 Ohm) are
stepped alike, and returns values, standard uncertainties and correlations.

Uncertainties and the verdict. The residuals are weighted by the measured uncertainties, so ``(J^T J)^-1``
(lmfit's unscaled covariance) is the parameter covariance if the model is right and the uncertainties are;
the chi-square says whether they are. Its survival probability ``p = Q(dof/2, chi^2/2)`` (the regularised
upper incomplete gamma function: the chance of a chi-square at least this large from a right model with
right uncertainties; Press et al., "Numerical Recipes", 3rd ed., section 15.1 and section 6.2) decides:

* ``p >= P_REJECT`` (1e-3): the fit is ``"consistent"`` and the standard uncertainties are the
  covariance's, unscaled. A chi2_red somewhat above 1 is what chance gives at few degrees of freedom
  (at 2 dof, chi2_red > 1 one fit in three); inflating the uncertainties by ``sqrt(chi2_red)`` there (the
  Particle Data Group's scale factor) makes the intervals cover the truth more often than they say
  (tests/procedures/fitting/test_fits_coverage.py measured 0.75 for a claimed 0.68 at 2 dof).
* ``p < P_REJECT``: the fit is ``"inconsistent"``: "the model and/or the estimation procedure can rightly
  be called into question" (Numerical Recipes section 15.1's words for Q < 0.001). The parameters are kept for
  inspection, their uncertainties not inflated into an apparent agreement, and every reader of the result
  (the terminal summary, ``diffbench fit``, the report) says the fit failed instead of comparing its
  parameters with the board.

``stderr_scale`` (1 for every fit made now) is kept so archives written when the scale factor was applied
still read back with the factor they used.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from instruments.errors import DiffbenchError

P_REJECT = 1e-3
"""A fit whose chi-square has a smaller survival probability than this is reported inconsistent."""

if TYPE_CHECKING:  # pragma: no cover - typing only; imported when a fit runs (it is slow to import)
    import lmfit


class FitError(DiffbenchError):
    """A fit cannot be made for this run (nothing to fit, too few usable points, an unsupported circuit)."""


class FitOptionError(FitError):
    """The fit options are wrong (an unknown or inseparable free parameter, bad bounds): the user's to fix."""


@dataclass(frozen=True)
class ParamSpec:
    """One model parameter: ``name``, ``unit``, ``nominal`` (from the board config / its operating point),
    default bounds ``lo``, ``hi`` (the fit's options may narrow them), ``scale`` (the minimiser works on
    ``value/scale``) and a one-line ``description``."""

    name: str
    unit: str
    nominal: float
    lo: float
    hi: float
    scale: float
    description: str


@dataclass
class FitResult:
    """One fit of a run's measurement to a circuit model (the API the report reads; see
    ``procedures.fitting.run_fits``).

    ``params``/``values``/``stderr``/``correlation``/``units``/``nominal``: the free parameters, their
    fitted values and standard uncertainties (k = 1), their correlation matrix, units, and their values at
    the board's nominal components. ``fixed``: every other model parameter and the value it was held at.
    ``chi2_red`` = chi^2/dof with ``dof`` = residuals used - free parameters. ``x_name``/``x``: the measured
    abscissa; ``measured``/``measured_u``: the measured quantities at ``x`` and their standard uncertainties
    (per component for complex values); ``fitted``/``predicted``: the model at the fitted and at the nominal
    parameters, at ``x``; ``curve_*``: the same on a dense grid for plots; ``residuals``: ``(measured -
    fitted)/u`` (complex for complex quantities). ``used`` marks the points the fit used (others are outside
    the region the model describes; their residuals are NaN). ``derived``: quantities computed from the fitted
    parameters, ``name -> (value, stderr, unit)``. ``stderr_scale``: the chi-square scale factor applied
    (1 now; module docstring). ``p_value``: the chi-square's survival probability; :attr:`status` says what
    it and the minimiser make of the fit.
    """

    name: str
    model: str
    params: list[str]
    values: np.ndarray
    stderr: np.ndarray
    correlation: np.ndarray
    units: list[str]
    nominal: np.ndarray
    fixed: dict[str, float]
    chi2_red: float
    dof: int
    x_name: str
    x: np.ndarray
    measured: dict[str, np.ndarray]
    measured_u: dict[str, np.ndarray]
    fitted: dict[str, np.ndarray]
    predicted: dict[str, np.ndarray]
    curve_x: np.ndarray
    curve_fitted: dict[str, np.ndarray]
    curve_predicted: dict[str, np.ndarray]
    residuals: dict[str, np.ndarray]
    used: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    derived: dict[str, tuple[float, float, str]] = field(default_factory=dict)
    stderr_scale: float = 1.0
    success: bool = True
    message: str = ""
    p_value: float = math.nan

    def __post_init__(self) -> None:
        if math.isnan(self.p_value):
            self.p_value = chi2_p_value(self.chi2_red * self.dof, self.dof)

    @property
    def status(self) -> str:
        """``"consistent"``, ``"inconsistent"`` (chi-square p below :data:`P_REJECT`: the model or the
        measurement is wrong) or ``"not converged"`` (the minimiser's own failure)."""
        if not self.success:
            return "not converged"
        return "inconsistent" if self.p_value < P_REJECT else "consistent"

    @property
    def failed(self) -> bool:
        """True when the fit's parameters are not to be read as measurements of the board."""
        return self.status != "consistent"

    @property
    def verdict(self) -> str:
        """One line saying whether the fit describes the measurement, and if not, why."""
        chi = f"chi2_red = {self.chi2_red:.4g} with {self.dof} dof, p = {self.p_value:.2g}"
        if self.status == "not converged":
            return f"FIT FAILED: the minimiser did not converge ({self.message}); {chi}"
        if self.status == "inconsistent":
            return (f"FIT FAILED: {chi} (below {P_REJECT:g}): the model does not describe the measurement, or the "
                    "measurement's uncertainties are wrong; its parameters are not measurements of the board")
        return f"fit consistent: {chi}"

    def value(self, name: str) -> float:
        """Fitted value of a free parameter, or the value a fixed one was held at."""
        if name in self.params:
            return float(self.values[self.params.index(name)])
        if name in self.fixed:
            return float(self.fixed[name])
        raise KeyError(f"{self.name} fit has no parameter {name!r} (free: {', '.join(self.params)})")

    def error(self, name: str) -> float:
        """Standard uncertainty of a free parameter."""
        return float(self.stderr[self.params.index(name)])


@dataclass(frozen=True)
class Solution:
    """What :func:`least_squares` found: every parameter's value (free and fixed), and for the free ones the
    standard uncertainties and correlations (in the order of ``free``)."""

    values: dict[str, float]
    free: list[str]
    stderr: np.ndarray
    correlation: np.ndarray
    covariance: np.ndarray
    chi2: float
    dof: int
    n_residuals: int
    stderr_scale: float
    success: bool
    message: str

    @property
    def chi2_red(self) -> float:
        return self.chi2 / self.dof if self.dof > 0 else math.nan


def chi2_p_value(chi2: float, dof: int) -> float:
    """Survival probability of a chi-square ``chi2`` with ``dof`` degrees of freedom, ``Q(dof/2, chi2/2)``
    (Numerical Recipes 3rd ed. section 6.2, section 15.1; scipy.special.gammaincc); NaN when either is not usable."""
    if not (dof > 0 and math.isfinite(chi2) and chi2 >= 0):
        return math.nan
    from scipy.special import gammaincc

    return float(gammaincc(dof / 2.0, chi2 / 2.0))


def choose_free(specs: Sequence[ParamSpec], requested: Sequence[str] | None, default: Sequence[str],
                fit_name: str) -> list[str]:
    """The free parameters: ``requested`` (from the options) or ``default``; unknown names are a FitError."""
    names = [s.name for s in specs]
    free = list(default if requested is None else requested)
    unknown = [n for n in free if n not in names]
    if unknown:
        raise FitOptionError(f"{fit_name} fit: unknown parameter(s) {', '.join(unknown)} (known: {', '.join(names)})")
    if len(set(free)) != len(free):
        raise FitOptionError(f"{fit_name} fit: a parameter is listed twice in the free list")
    return free


def bounds_for(spec: ParamSpec, bounds: Mapping[str, Sequence[float]]) -> tuple[float, float]:
    """Bounds of one parameter: the options' ``[lo, hi]`` when given, else the declared ones."""
    if spec.name not in bounds:
        return spec.lo, spec.hi
    lo, hi = (float(b) for b in bounds[spec.name])
    return lo, hi


def least_squares(specs: Sequence[ParamSpec], free: Sequence[str], residual: Callable[[dict[str, float]], np.ndarray],
                  *, bounds: Mapping[str, Sequence[float]] | None = None, start: Mapping[str, float] | None = None,
                  fit_name: str = "fit", max_nfev: int = 2000) -> Solution:
    """Minimise ``sum(residual(values)^2)`` over the ``free`` parameters with lmfit (module docstring).

    ``residual`` gets every parameter's value (free ones as the minimiser moves them, fixed ones at their
    nominal) and returns the normalised residual vector (NaN-free). ``start`` overrides starting values
    (default: the nominal values, clipped into the bounds).
    """
    import lmfit

    by_name = {s.name: s for s in specs}
    fixed = {s.name: s.nominal for s in specs if s.name not in free}
    params = _scaled_params(by_name, free, dict(bounds or {}), dict(start or {}), fit_name)

    def values_of(p: lmfit.Parameters) -> dict[str, float]:
        out = dict(fixed)
        out.update({n: float(p[n].value) * by_name[n].scale for n in free})
        return out

    def fcn(p: lmfit.Parameters) -> np.ndarray:
        r = np.asarray(residual(values_of(p)), dtype=float)
        if not np.all(np.isfinite(r)):
            return np.where(np.isfinite(r), r, 1e6)
        return r

    n_res = int(np.asarray(residual(values_of(params))).size)
    dof = n_res - len(free)
    if dof < 1:
        raise FitError(f"{fit_name} fit: {n_res} residuals cannot determine {len(free)} free parameters")
    mini = lmfit.Minimizer(fcn, params, scale_covar=False, max_nfev=max_nfev)
    res = mini.minimize(method="leastsq")
    chi2 = float(np.sum(fcn(res.params) ** 2))
    cov, success, message = _covariance(res, np.array([by_name[n].scale for n in free]))
    std = np.sqrt(np.clip(np.diag(cov), 0.0, None))  # never scaled by chi2_red (module docstring)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(std, std)
    return Solution(values=values_of(res.params), free=list(free), stderr=std, correlation=corr,
                    covariance=cov, chi2=chi2, dof=dof, n_residuals=n_res, stderr_scale=1.0,
                    success=success, message=message)


def _scaled_params(by_name: Mapping[str, ParamSpec], free: Sequence[str], bounds: Mapping[str, Sequence[float]],
                   start: Mapping[str, float], fit_name: str) -> lmfit.Parameters:
    """The lmfit parameters of the free parameters, each as ``value/scale`` within its scaled bounds, starting
    at ``start`` (default: the nominal), clipped into the bounds and moved off a bound."""
    import lmfit

    params = lmfit.Parameters()
    for name in free:
        s = by_name[name]
        lo, hi = bounds_for(s, bounds)
        if not lo < hi:
            raise FitOptionError(f"{fit_name} fit: bounds of {name} must satisfy lo < hi, got [{lo:g}, {hi:g}]")
        x0 = float(np.clip(start.get(name, s.nominal), lo, hi))
        if not lo < x0 < hi:  # on a bound lmfit's bound transform has zero slope: start inside
            if math.isfinite(lo) and math.isfinite(hi):
                x0 = lo + 0.5 * (hi - lo)
            else:
                x0 = lo + 0.01 * s.scale if math.isfinite(lo) else hi - 0.01 * s.scale
        params.add(name, value=x0 / s.scale, min=lo / s.scale, max=hi / s.scale)
    return params


def _covariance(res: lmfit.minimizer.MinimizerResult, scales: np.ndarray) -> tuple[np.ndarray, bool, str]:
    """The free parameters' covariance in their own units from lmfit's result ``res`` (NaN where lmfit could not
    estimate it), whether the fit succeeded, and its message."""
    P = len(scales)
    covar = getattr(res, "covar", None)
    if covar is None or np.shape(covar) != (P, P) or not np.all(np.isfinite(covar)):
        message = (res.message or "") + "; the covariance could not be estimated (a parameter at a bound or " \
                                        "parameters that the data cannot tell apart)"
        return np.full((P, P), np.nan), False, message
    return np.asarray(covar) * np.outer(scales, scales), bool(res.success), str(res.message or "")


def propagate(fn: Callable[[dict[str, float]], float], sol: Solution,
              specs: Sequence[ParamSpec]) -> tuple[float, float]:
    """Value and standard uncertainty of a derived quantity ``fn(values)``: first-order propagation of the
    free parameters' covariance through a central-difference gradient (steps 1e-6 of each scale)."""
    by_name = {s.name: s for s in specs}
    v0 = float(fn(sol.values))
    grad = np.zeros(len(sol.free))
    for i, n in enumerate(sol.free):
        h = 1e-6 * by_name[n].scale
        up, dn = dict(sol.values), dict(sol.values)
        up[n] += h
        dn[n] -= h
        grad[i] = (fn(up) - fn(dn)) / (2 * h)
    var = float(grad @ sol.covariance @ grad) if np.all(np.isfinite(sol.covariance)) else math.nan
    return v0, math.sqrt(max(var, 0.0)) if math.isfinite(var) else math.nan


def make_result(name: str, model: str, specs: Sequence[ParamSpec], sol: Solution, **kw: object) -> FitResult:
    """A :class:`FitResult` from a solution: free parameters in order, fixed ones in ``fixed``."""
    by_name = {s.name: s for s in specs}
    return FitResult(
        name=name, model=model, params=list(sol.free),
        values=np.array([sol.values[n] for n in sol.free]), stderr=np.asarray(sol.stderr, float),
        correlation=np.asarray(sol.correlation, float), units=[by_name[n].unit for n in sol.free],
        nominal=np.array([by_name[n].nominal for n in sol.free]),
        fixed={s.name: float(sol.values[s.name]) for s in specs if s.name not in sol.free},
        chi2_red=float(sol.chi2_red), dof=int(sol.dof), stderr_scale=float(sol.stderr_scale),
        success=sol.success, message=sol.message, p_value=chi2_p_value(sol.chi2, sol.dof),
        **kw,  # type: ignore[arg-type]
    )
