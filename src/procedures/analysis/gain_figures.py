"""The figures reported from the mixed-mode gains S, by the names the archive and the report use.

The formulas are :class:`models.mixed_mode.MixedModeGains`' (docs/reference/measurement-methods.md §3.2:
``Ad_se,1 = Add/2 + Adc``, ``Acm_se,1 = Acc + Acd/2``, ``Ad_se,2 = -Add/2 + Adc``, ``Acm_se,2 = Acc - Acd/2``,
``CMRR_se,k = |Ad_se,k / Acm_se,k|``, ``CMRR_diff = |Add / Acd|``); this module only names them and puts
them in the two forms the uncertainty propagation (:mod:`procedures.analysis.propagation`) takes: real
figures of one S (the archived dB columns) and complex ratios of one S (the report's magnitude and phase).

A dB figure ``20 log10 |num/den|`` is archived as a value with a standard uncertainty only where both
magnitudes stand above their noise, ``|x| >= LIMIT_K u(x)``; otherwise it is a lower limit (denominator
below its noise), an upper limit (numerator below) or nothing (both), with ``u`` NaN and the kind in
``<figure>_kind`` (:func:`db_columns`; docs/explanations/decisions/0015-unresolved-db-figures.md). The first-
order ``u`` of ``20 log10 |Add/Acd|`` with ``|Acd|`` at 1-2 u(Acd) is no uncertainty at all: on the 2n3904
pair's common-mode range it read 101.4 +- 4.9 dB where the truth is 129.2 dB.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from models.mixed_mode import MixedModeGains, db
from procedures.analysis.propagation import complex_cov, element_cov, element_u_rows, figure_u, worst_quadrature_u

CMRR_NAMES = ("CMRR_se1", "CMRR_se2", "CMRR_diff")
"""The three CMRRs: single-ended of output 1 and 2, differential."""

DB_FIGURES = ("CMRR_se1_db", "CMRR_se2_db", "CMRR_diff_db", "Add_over_Acc_db")
"""The figures archived in dB with their uncertainty (``procedures.analysis.results``)."""

LIMIT_K = 5.0
"""A magnitude counts as resolved when it is at least this many times its noise (the largest standard
deviation of its complex error, :func:`procedures.analysis.propagation.worst_quadrature_u`); a limit is
stated at this many of them. Noise alone reaches it with probability at most ``exp(-LIMIT_K^2/2)`` = 3.7e-6,
which bounds both the chance that an infinite CMRR is reported as a finite value and the chance that a limit
is wrong (decision 0015, with a Monte Carlo of the whole solve)."""

VALUE, LOWER_LIMIT, UPPER_LIMIT, NO_VALUE = "value", "lower_limit", "upper_limit", "none"
"""The kinds of an archived dB figure (``<figure>_kind``): a value with its standard uncertainty; a lower or an
upper limit (``u`` NaN); nothing measurable (value and ``u`` NaN)."""

LIMIT_PREFIX = {VALUE: "", LOWER_LIMIT: ">= ", UPPER_LIMIT: "<= ", NO_VALUE: ""}
"""How a figure of each kind is introduced when printed (ASCII; the report page uses ``≥``/``≤``)."""


def single_ended(S: np.ndarray) -> dict[str, complex]:
    """``Ad_se1``, ``Acm_se1``, ``Ad_se2``, ``Acm_se2`` of one 2 x 2 S (module docstring)."""
    return {k: complex(v) for k, v in MixedModeGains.from_matrix(S).single_ended().items()}


def cmrr_ratios(g: MixedModeGains) -> dict[str, np.ndarray]:
    """The complex ratios behind the CMRRs by name: ``Ad_se,k / Acm_se,k`` and ``Add / Acd``."""
    return {"CMRR_se1": g.ratio_se(1), "CMRR_se2": g.ratio_se(2), "CMRR_diff": g.ratio_diff}


def named_cmrr_ratios(gains: Mapping[str, ArrayLike]) -> dict[str, np.ndarray]:
    """:func:`cmrr_ratios` of gains given by name (``"Add"``, ``"Acd"``, ``"Adc"``, ``"Acc"``: model curves)."""
    return cmrr_ratios(MixedModeGains(add=np.asarray(gains["Add"]), acd=np.asarray(gains["Acd"]),
                                      adc=np.asarray(gains["Adc"]), acc=np.asarray(gains["Acc"])))


def ratio_functions() -> dict[str, Callable[[np.ndarray], complex]]:
    """The CMRR ratios as complex functions of one 2 x 2 S
    (for :func:`procedures.analysis.propagation.ratio_u_rows`)."""
    return {
        "CMRR_se1": lambda S: complex(MixedModeGains.from_matrix(S).ratio_se(1)),
        "CMRR_se2": lambda S: complex(MixedModeGains.from_matrix(S).ratio_se(2)),
        "CMRR_diff": lambda S: complex(MixedModeGains.from_matrix(S).ratio_diff),
    }


def figure_functions() -> dict[str, Callable[[np.ndarray], float]]:
    """Real figures of one 2 x 2 S (for :func:`procedures.analysis.propagation.figure_u`): the CMRRs and
    ``|Add/Acc|`` in dB (``20 log10``), and the magnitudes of the single-ended gains (linear)."""

    def of(S: np.ndarray) -> MixedModeGains:
        return MixedModeGains.from_matrix(S)

    # abs() of the complex scalar before db(): the magnitude the archived figures have always been computed
    # with (numpy's vectorised |z|, which db() would use on a complex, can differ from it in the last bit)
    return {
        "CMRR_se1_db": lambda S: float(db(abs(of(S).ratio_se(1)))),
        "CMRR_se2_db": lambda S: float(db(abs(of(S).ratio_se(2)))),
        "CMRR_diff_db": lambda S: float(db(abs(of(S).ratio_diff))),
        "Add_over_Acc_db": lambda S: float(db(abs(of(S).add / of(S).acc))),
        "Ad_se1_mag": lambda S: float(abs(of(S).ad_se(1))),
        "Ad_se2_mag": lambda S: float(abs(of(S).ad_se(2))),
        "Acm_se1_mag": lambda S: float(abs(of(S).acm_se(1))),
        "Acm_se2_mag": lambda S: float(abs(of(S).acm_se(2))),
    }


def ratio_parts() -> dict[str, tuple[Callable[[np.ndarray], complex], Callable[[np.ndarray], complex]]]:
    """Numerator and denominator of each dB figure as complex functions of one 2 x 2 S (both linear in S):
    ``Ad_se,k`` over ``Acm_se,k``, ``Add`` over ``Acd``, ``Add`` over ``Acc`` (module docstring)."""

    def of(S: np.ndarray) -> MixedModeGains:
        return MixedModeGains.from_matrix(S)

    return {
        "CMRR_se1_db": (lambda S: complex(of(S).ad_se(1)), lambda S: complex(of(S).acm_se(1))),
        "CMRR_se2_db": (lambda S: complex(of(S).ad_se(2)), lambda S: complex(of(S).acm_se(2))),
        "CMRR_diff_db": (lambda S: complex(S[0, 0]), lambda S: complex(S[0, 1])),
        "Add_over_Acc_db": (lambda S: complex(S[0, 0]), lambda S: complex(S[1, 1])),
    }


def db_limit(num: float, u_num: float, den: float, u_den: float, k: float = LIMIT_K) -> tuple[str, float]:
    """The kind of ``20 log10(num/den)`` (magnitudes ``num``, ``den`` with noise ``u_num``, ``u_den``) and,
    for a limit, its bound in dB (NaN for a value: it is computed with its uncertainty elsewhere).

    A magnitude is resolved when ``|x| >= k u``. Unresolved denominator: the truth lies below ``den + k u_den``
    (noise reaches ``k u`` with probability at most ``exp(-k^2/2)``), so ``20 log10((num - k u_num)/(den +
    k u_den))`` is a lower limit; unresolved numerator: ``20 log10((num + k u_num)/(den - k u_den))`` an upper
    one; both, or a bound that would need a resolved magnitude minus its ``k u`` to stay positive: nothing.
    The limit holds with probability at least ``1 - 2 exp(-k^2/2)`` (one per magnitude; decision 0015).
    """
    num_ok, den_ok = num >= k * u_num and num > 0, den >= k * u_den and den > 0
    if num_ok and den_ok:
        return VALUE, math.nan
    if num_ok and num - k * u_num > 0:
        hi = den + k * u_den  # 0 only for a noiseless zero: an infinite ratio, a true (if idle) limit
        return LOWER_LIMIT, 20 * math.log10((num - k * u_num) / hi) if hi > 0 else math.inf
    if den_ok and den - k * u_den > 0:
        lo = num + k * u_num
        return UPPER_LIMIT, 20 * math.log10(lo / (den - k * u_den)) if lo > 0 else -math.inf
    return NO_VALUE, math.nan


def db_figure(S: np.ndarray, cov: np.ndarray, name: str, k: float = LIMIT_K) -> tuple[float, float, str]:
    """One dB figure of :data:`DB_FIGURES` for one S with its 8 x 8 covariance: ``(value, u, kind)``.

    A value comes with its first-order standard uncertainty (:func:`procedures.analysis.propagation.figure_u`);
    a limit (:func:`db_limit`, on the magnitudes of :func:`ratio_parts` and their
    :func:`~procedures.analysis.propagation.worst_quadrature_u`) with ``u`` NaN.
    """
    num_fn, den_fn = ratio_parts()[name]
    num, c_num = complex_cov(S, cov, num_fn)
    den, c_den = complex_cov(S, cov, den_fn)
    kind, bound = db_limit(abs(num), worst_quadrature_u(c_num), abs(den), worst_quadrature_u(c_den), k)
    if kind != VALUE:
        return bound, math.nan, kind
    value, u = figure_u(S, cov, figure_functions()[name])
    return value, u, kind


def db_columns(S: np.ndarray, cov: np.ndarray, ideal: np.ndarray | None = None) -> dict[str, Any]:
    """The archived dB columns of one gains row (``procedures.analysis.results``): for each of
    :data:`DB_FIGURES`, ``<name>``, ``<name>_u`` and ``<name>_kind`` (:func:`db_figure`), and with ``ideal``
    (the ideal-generator S) ``<name minus _db>_ideal_db``, that figure of it (no uncertainty, no limit:
    a comparison figure)."""
    fns = figure_functions()
    out: dict[str, Any] = {}
    for name in DB_FIGURES:
        out[name], out[f"{name}_u"], out[f"{name}_kind"] = db_figure(S, cov, name)
        if ideal is not None:
            out[name.replace("_db", "_ideal_db")] = float(fns[name](ideal))
    return out


def db_figure_rows(table: Mapping[str, Any], name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(value, u, kind)`` of ``name`` (one of :data:`DB_FIGURES`) per row of a gains table, as archived.

    An archive written before ``<name>_kind`` existed has its kinds decided again from ``S`` and ``S_cov``
    (:func:`db_figure`), so that a limit is never shown as a value with a Gaussian ``u``; without those
    columns every row is taken as a value.
    """
    value = np.asarray(table[name], float).copy()
    u = np.asarray(table.get(f"{name}_u", np.full(value.shape, np.nan)), float).copy()
    if f"{name}_kind" in table:
        kind = np.asarray([str(x) for x in np.asarray(table[f"{name}_kind"]).reshape(-1)], dtype=object)
        return value, u, kind
    kind = np.full(value.shape, VALUE, dtype=object)
    if "S" in table and "S_cov" in table:
        S, C = np.asarray(table["S"], complex), np.asarray(table["S_cov"], float)
        for i in range(value.size):
            v, uu, kd = db_figure(S[i], C[i], name)
            if kd != VALUE:
                value[i], u[i], kind[i] = v, uu, kd
    return value, u, kind


def db_figure_series(table: Mapping[str, Any], S: np.ndarray, cov: np.ndarray, name: str
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(value, u, kind)`` of ``name`` per row: the table's columns (:func:`db_figure_rows`), or decided from
    ``S`` (n, 2, 2) and ``cov`` (n, 8, 8) (:func:`db_figure`) for an archive without the column."""
    if name in table:
        return db_figure_rows(table, name)
    out = [db_figure(S[i], cov[i], name) for i in range(len(S))]
    return (np.array([o[0] for o in out], float), np.array([o[1] for o in out], float),
            np.array([o[2] for o in out], dtype=object))


def gain_db_rows(S: np.ndarray, cov: np.ndarray, name: str, k: float = LIMIT_K
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One gain (``"Acd"``, ...) per row of ``S`` (n, 2, 2) with ``cov`` (n, 8, 8), in dB: its complex value,
    ``20 log10 |z|``, the standard uncertainty of that (dB) and of its phase (degrees), and the kind.

    A gain whose magnitude is below ``k`` times its noise (:func:`db_limit`'s rule) is an upper limit,
    ``20 log10(|z| + k u)``, with both uncertainties NaN: its phase is noise.
    """
    z, u_db, u_deg = element_u_rows(S, cov, name)
    C = element_cov(cov, name)
    with np.errstate(divide="ignore"):
        mag = np.asarray(db(np.abs(z)), float)
    kind = np.full(z.shape, VALUE, dtype=object)
    for r in range(z.size):
        s = worst_quadrature_u(C[r])
        if not abs(z[r]) >= k * s:
            kind[r], mag[r], u_db[r], u_deg[r] = UPPER_LIMIT, 20 * math.log10(abs(z[r]) + k * s), math.nan, math.nan
    return z, mag, u_db, u_deg, kind


def limits_explanation(kinds: Iterable[str], lower: str = ">=", upper: str = "<=") -> str:
    """What a limit means, for each kind of limit among ``kinds`` (empty when there is none), with ``lower`` and
    ``upper`` the marks a figure is printed with (``>=``/``<=`` on a terminal, ``≥``/``≤`` on the report page)."""
    kinds = set(kinds)
    out = []
    if LOWER_LIMIT in kinds:
        out.append(f"{lower} x: a lower limit; the figure's denominator (|Acd| for CMRR_diff) is below {LIMIT_K:g} "
                   f"times its noise, so no value with an uncertainty can be given; the limit uses the denominator "
                   f"plus {LIMIT_K:g} u.")
    if UPPER_LIMIT in kinds:
        out.append(f"{upper} x: an upper limit; the gain (or a CMRR's numerator) is below {LIMIT_K:g} times its "
                   f"noise; the limit uses it plus {LIMIT_K:g} u.")
    return " ".join(out)


def format_db(value: float, u: float, kind: str, *, digits: int = 4) -> str:
    """A dB figure for the terminal: ``101.4 ± 0.012``, a limit ``>= 92.1``, ``n/a`` for nothing measured."""
    if kind == NO_VALUE or (kind == VALUE and not math.isfinite(value)):
        return "n/a"
    if kind != VALUE:
        return f"{LIMIT_PREFIX[kind]}{value:.{digits}g}"
    return f"{value:.{digits}g}" if not u == u else f"{value:.{digits}g} ± {u:.2g}"
