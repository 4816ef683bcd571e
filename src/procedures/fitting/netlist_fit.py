"""Fit of the measured mixed-mode gains S(f) of a netlist board to ngspice, adjusting the netlist's ``.param``s.

A netlist board with no closed-form family (docs/netlist-boards.md) names the ``.param``s a fit may move in
``[netlist] fit_params``. The model is the user's own netlist solved by ngspice
(:mod:`procedures.predict.ngspice_board`) with those parameters changed (``alterparam``); the residuals and
their weights are the small-signal fit's (:mod:`procedures.fitting.gains_fit`): at each frequency the
``[Re, Im]`` errors of the four gains whitened by the inverse Cholesky factor of their 8x8 covariance. The
derivatives are lmfit's finite differences, so each iteration costs one ngspice run per free parameter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from instruments.board_config import BoardConfig
from procedures.fitting.core import FitError, FitResult, ParamSpec
from procedures.fitting.gains_fit import fit_gains, gains_data
from procedures.predict.ngspice_board import small_signal

NAME = "small_signal"


def param_spec(name: str, nominal: float) -> ParamSpec:
    """A netlist ``.param`` as a fit parameter: unitless (the netlist's own units), kept on the side of zero its
    nominal value is on, stepped on the scale of that value."""
    lo, hi = (0.0, math.inf) if nominal > 0 else (-math.inf, math.inf) if nominal == 0 else (-math.inf, 0.0)
    scale = abs(nominal) if nominal != 0 else 1.0
    return ParamSpec(name, "", nominal, lo, hi, scale, f".param {name} of the netlist")


def netlist_specs(board: BoardConfig) -> list[ParamSpec]:
    """The fit parameters of a netlist board: its ``[netlist] fit_params`` at the netlist's ``.param`` values; a
    FitError when the board has no netlist or names none."""
    nb = board.netlist
    if nb is None:
        raise FitError(f"{board.source}: not a netlist board")
    if not nb.fit_params:
        raise FitError(f"{board.source}: [netlist] fit_params names no .param to fit")
    return [param_spec(name, float(nb.circuit.params[name.lower()])) for name in nb.fit_params]


class NetlistModel:
    """S(f) of a netlist board from ngspice as a function of its fit parameters (cached per parameter set)."""

    def __init__(self, board: BoardConfig) -> None:
        self.board = board
        self.specs = netlist_specs(board)
        self.nominal = {s.name: s.nominal for s in self.specs}
        self._cache: dict[tuple[bytes, tuple[tuple[str, float], ...]], np.ndarray] = {}

    def s(self, freq_hz: np.ndarray, p: Mapping[str, float]) -> np.ndarray:
        """S at ``freq_hz`` (Hz), shape (F, 2, 2), complex, with the netlist's ``.param``s at ``p``."""
        f = np.asarray(freq_hz, float)
        key = (f.tobytes(), tuple(sorted((k, float(v)) for k, v in p.items())))
        hit = self._cache.get(key)
        if hit is None:
            nb = self.board.netlist
            assert nb is not None
            res = small_signal(nb.text, nb.pins, self.board.bias_v, [float(x) for x in f], self.board.temperature_k,
                               cwd=nb.folder, what=f"{self.board.source}: the ngspice fit", params=dict(p))
            hit = self._cache[key] = res.s
        return hit


def fit_netlist_small_signal(table: Mapping[str, np.ndarray], board: BoardConfig,
                             options: Mapping[str, Any]) -> FitResult:
    """Fit the ``gains`` table (frequency_hz, S, S_cov) of a run of a netlist board to ngspice (module docstring);
    ``options`` as ``[fit]`` (only ``bounds`` applies). Every ngspice run costs tens of milliseconds: at most
    200 of them, and 61 curve frequencies instead of the closed-form fit's 241."""
    model = NetlistModel(board)
    text = "the board's netlist solved by ngspice, its .params adjusted; all four mixed-mode gains, weighted by " \
           "the 8x8 covariance per frequency"
    result, _ = fit_gains(NAME, text, model, [s.name for s in model.specs], gains_data(table), options,
                          curve_points=61, max_nfev=200)
    return result
