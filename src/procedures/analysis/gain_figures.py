"""The figures reported from the mixed-mode gains S, by the names the archive and the report use.

The formulas are :class:`models.mixed_mode.MixedModeGains`' (docs/reference/measurement-methods.md §3.2:
``Ad_se,1 = Add/2 + Adc``, ``Acm_se,1 = Acc + Acd/2``, ``Ad_se,2 = -Add/2 + Adc``, ``Acm_se,2 = Acc - Acd/2``,
``CMRR_se,k = |Ad_se,k / Acm_se,k|``, ``CMRR_diff = |Add / Acd|``); this module only names them and puts
them in the two forms the uncertainty propagation (:mod:`procedures.analysis.propagation`) takes: real
figures of one S (the archived dB columns) and complex ratios of one S (the report's magnitude and phase).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from numpy.typing import ArrayLike

from models.mixed_mode import MixedModeGains, db

CMRR_NAMES = ("CMRR_se1", "CMRR_se2", "CMRR_diff")
"""The three CMRRs: single-ended of output 1 and 2, differential."""

DB_FIGURES = ("CMRR_se1_db", "CMRR_se2_db", "CMRR_diff_db", "Add_over_Acc_db")
"""The figures archived in dB with their uncertainty (``procedures.analysis.results``)."""


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
