"""Fit of the measured mixed-mode gains S(f) of a netlist board to ngspice, adjusting the netlist's ``.param``s.

A netlist board with no closed-form family (docs/netlist-boards.md) names the ``.param``s a fit may move in
``[netlist] fit_params``. The model is the user's own netlist solved by ngspice
(:mod:`procedures.predict.ngspice_board`) with those parameters changed (``alterparam``); the residuals and
their weights are the small-signal fit's (:mod:`procedures.fitting.small_signal`): at each frequency the
``[Re, Im]`` errors of the four gains whitened by the inverse Cholesky factor of their 8x8 covariance. The
derivatives are lmfit's finite differences, so each iteration costs one ngspice run per free parameter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from instruments.board_config import BoardConfig
from procedures.fitting.core import FitError, FitResult, ParamSpec, least_squares, make_result
from procedures.fitting.small_signal import GAINS, _real_vec, _whitener
from procedures.predict.ngspice_board import small_signal

NAME = "small_signal"


class NetlistModel:
    """S(f) of a netlist board from ngspice as a function of its fit parameters (cached per parameter set)."""

    def __init__(self, board: BoardConfig) -> None:
        nb = board.netlist
        if nb is None:
            raise FitError(f"{board.source}: not a netlist board")
        if not nb.fit_params:
            raise FitError(f"{board.source}: [netlist] fit_params names no .param to fit")
        self.board = board
        self.specs = [self._spec(name, float(nb.circuit.params[name.lower()])) for name in nb.fit_params]
        self.nominal = {s.name: s.nominal for s in self.specs}
        self._cache: dict[tuple[bytes, tuple[tuple[str, float], ...]], np.ndarray] = {}

    @staticmethod
    def _spec(name: str, nominal: float) -> ParamSpec:
        lo, hi = (0.0, math.inf) if nominal > 0 else (-math.inf, math.inf) if nominal == 0 else (-math.inf, 0.0)
        scale = abs(nominal) if nominal != 0 else 1.0
        return ParamSpec(name, "", nominal, lo, hi, scale, f".param {name} of the netlist")

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
    ``options`` as ``[fit]`` (only ``bounds`` applies)."""
    f = np.asarray(table["frequency_hz"], float)
    S = np.asarray(table["S"], complex)
    cov = np.asarray(table["S_cov"], float)
    ok = np.isfinite(f) & np.all(np.isfinite(S.reshape(len(f), -1)), axis=1) & np.all(
        np.isfinite(cov.reshape(len(f), -1)), axis=1)
    if not ok.any():
        raise FitError("small-signal fit: the gains table has no finite row")
    model = NetlistModel(board)
    free = [s.name for s in model.specs]
    W = _whitener(cov[ok])
    meas = _real_vec(S[ok])

    def residual(p: Mapping[str, float]) -> np.ndarray:
        e = meas - _real_vec(model.s(f[ok], p))
        return np.einsum("fij,fj->fi", W, e).ravel()

    sol = least_squares(model.specs, free, residual, bounds=options.get("bounds") or {}, fit_name=NAME,
                        max_nfev=200)
    pred, fitted = model.s(f, model.nominal), model.s(f, sol.values)
    u = np.sqrt(np.stack([cov[:, 2 * k, 2 * k] for k in range(4)], axis=-1)).reshape(len(f), 2, 2)
    lo, hi = f[ok].min(), f[ok].max()
    curve_f = np.geomspace(lo / 2.0, hi * 2.0, 61) if hi > lo else np.geomspace(lo / 10, lo * 10, 61)
    cp, cf = model.s(curve_f, model.nominal), model.s(curve_f, sol.values)

    def pick(A: np.ndarray) -> dict[str, np.ndarray]:
        return {n: A[:, r, c] for n, r, c in GAINS}

    res = {n: np.where(ok, (S[:, r, c] - fitted[:, r, c]) / u[:, r, c], np.nan + 0j) for n, r, c in GAINS}
    text = "the board's netlist solved by ngspice, its .params adjusted; all four mixed-mode gains, weighted by " \
           "the 8x8 covariance per frequency"
    return make_result(NAME, text, model.specs, sol, x_name="frequency_hz", x=f, measured=pick(S),
                       measured_u=pick(u), fitted=pick(fitted), predicted=pick(pred), curve_x=curve_f,
                       curve_fitted=pick(cf), curve_predicted=pick(cp), residuals=res, used=ok)
