"""Fit of the measured mixed-mode gains S(f) = [[Add, Acd], [Adc, Acc]] to the exact small-signal model.

Model: :func:`models.small_signal.pair_response` of the board's linear circuit (the same circuit
``diffbench predict`` uses, :func:`procedures.predict.mapping.small_signal_circuit`), with these parameters:

=======  ====  =====================================================================================
``gm``   S     mean transconductance of the pair devices: ``I_C/V_T`` (BJT, the transport part; the
               hybrid-pi element is ``gm - 1/r_o``, models.devices) or ``dI_D/dV_GS`` (MOS)
``d_gm`` 1     device mismatch ``(gm2 - gm1)/gm``
``r_o``  Ohm   mean output resistance of the pair devices (both sides scale together)
``R_L``  Ohm   mean load resistance (active load: R1, from the output to its return)
``d_R``  1     load mismatch ``(R2 - R1)/R_L`` (resistive load only)
``C_L``  F     mean capacitance of the output nodes
``d_C``  1     ``(C2 - C1)/C_L``
``R_EE`` Ohm   tail output resistance
``C_T``  F     tail node capacitance
=======  ====  =====================================================================================

Nominal values come from the board config through the models' operating point. The device parameters
(gm, d_gm, r_o, r_pi) that are not free follow the operating point *at the fitted load and tail
resistances*: the tail is a Norton source (I_EE parallel R_EE), so its current, and gm with it, moves with
R_EE, and the collector voltages (hence r_o) move with R_L. The degeneration, the source resistance,
cascode and mirror devices are held at the config's values.

What the data can tell apart (and hence the default free set ``R_L, d_R, C_L, d_C, R_EE, C_T``):

- *One impedance scale is not measurable.* S is a set of voltage ratios, unchanged when every impedance is
  multiplied by k and every transconductance divided by k (r_o and r_pi held fixed break this only at the
  R_L/r_o ~ 2 % level). So gm and R_L cannot both be free: by default gm is held at the operating point's
  (the tail current and V_T) and R_L is fitted, so a load fault shows in R_L and d_R and a tail fault in
  R_EE, each without dragging the others. ``free = ["gm", ...]`` without R_L fits gm against a fixed R_L.
- Add's flat part gives ``gm (R_L || r_o)``; with gm fixed it gives R_L (r_o is held; freeing r_o next to
  R_L leaves the pair nearly degenerate). The pole of Add gives ``(R_L || r_o) C_L``.
- Acc gives R_EE (``Acc ~ -R_L/(2 R_EE)``) and its zero at ``1/(2 pi R_EE C_T)`` gives C_T (the CMRR corner).
- Acd's flat part gives the load mismatch; a device mismatch (Delta gm) has exactly the same frequency
  shape (docs/reference/measurement-methods.md §6: ``Acd = -Delta Z_D/(1/g_m + 2 Z_SS)`` and
  ``-Delta g_m R_D/(1 + ...)``), so d_R is free and d_gm held at the operating point's (from
  mismatch.device); Acd's rise with frequency gives d_C.

Weights (docs/reference/measurement-methods.md §3.2 propagation, archived as ``S_cov``): at each frequency the residual
vector ``[Re, Im] of (S_meas - S_model)`` for S11, S12, S21, S22 is whitened by the inverse Cholesky factor
of its 8x8 covariance, so correlated errors between the four gains count as measured.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from instruments.board_config import BoardConfig
from models import MirrorLoad, PairOperatingPoint, ResistiveLoad, Side, Tail, pair_response, split
from procedures.fitting.core import FitOptionError, FitResult, ParamSpec
from procedures.fitting.gains_fit import fit_gains, gains_data
from procedures.predict.mapping import operating_point, small_signal_circuit

NAME = "small_signal"
DEFAULT_FREE = ("R_L", "d_R", "C_L", "d_C", "R_EE", "C_T")
DEFAULT_FREE_ACTIVE = ("R_L", "C_L", "d_C", "R_EE", "C_T")


class SmallSignalModel:
    """S(f) of a board as a function of the fit parameters (module docstring), around its nominal circuit.

    The devices' small-signal parameters follow the operating point at the parameters' load and tail
    resistances (the models' DC solution with ``R_L``, ``d_R``, ``R_EE`` replaced; cached): a Norton tail's
    current is ``I_EE + V_tail/R_EE``, so a 10x lower tail resistance raises gm by ~12 % on the source-text
    stage, and the collector voltages set r_o. ``gm``, ``d_gm`` and ``r_o`` override that only when free.
    """

    def __init__(self, board: BoardConfig, free: Sequence[str] = ()) -> None:
        self.board = board
        self.free = frozenset(free)
        self.op = operating_point(board)
        self.side1, self.side2, self.load, self.tail = small_signal_circuit(board, self.op)
        self.active = isinstance(self.load, MirrorLoad)
        self._ops: dict[tuple[float, float, float], tuple[PairOperatingPoint, Side, Side, Any]] = {}
        gm_side, ro_side = self._devices(self.op)
        gm = float(gm_side.mean())
        c_l = board.load_c_f
        r_o = float(ro_side.mean())
        d_gm = float((gm_side[1] - gm_side[0]) / gm)
        r_ee = float(np.asarray(self.tail.r))
        self.specs = [
            ParamSpec("gm", "S", gm, 0.0, math.inf, gm, "mean transconductance of the pair devices"),
            ParamSpec("d_gm", "1", d_gm, -0.5, 0.5, 0.01, "device mismatch (gm2 - gm1)/gm"),
            ParamSpec("r_o", "Ohm", r_o, 0.0, math.inf, r_o if math.isfinite(r_o) else 1e6,
                      "mean output resistance of the pair devices"),
            ParamSpec("R_L", "Ohm", board.load_r_ohm, 0.0, math.inf, board.load_r_ohm,
                      "load resistor R1 (active load)" if self.active else "mean load resistance"),
            ParamSpec("d_R", "1", 0.0 if self.active else board.mismatch_load_r, -0.5, 0.5, 0.01,
                      "load mismatch (R2 - R1)/R_L"),
            ParamSpec("C_L", "F", c_l, 0.0, math.inf, c_l if c_l > 0 else 1e-12, "mean output-node capacitance"),
            ParamSpec("d_C", "1", board.mismatch_load_c, -0.5, 0.5, 0.01, "capacitance mismatch (C2 - C1)/C_L"),
            # the small-signal tail's R (a transistor tail's is its output resistance at the operating point)
            ParamSpec("R_EE", "Ohm", r_ee, 0.0, math.inf, r_ee, "tail output resistance"),
            ParamSpec("C_T", "F", board.tail_c_f, 0.0, math.inf, board.tail_c_f if board.tail_c_f > 0 else 1e-12,
                      "tail node capacitance"),
        ]
        self.nominal = {s.name: s.nominal for s in self.specs}

    @property
    def default_free(self) -> tuple[str, ...]:
        return DEFAULT_FREE_ACTIVE if self.active else DEFAULT_FREE

    def _devices(self, op: PairOperatingPoint) -> tuple[np.ndarray, np.ndarray]:
        """Transport transconductance (the hybrid-pi gm plus 1/r_o for a BJT, models.devices) and r_o per side."""
        devs = [s.device for s in op.sides]
        bjt = self.board.is_bjt
        return (np.array([d.gm + (1.0 / d.r_o if bjt else 0.0) for d in devs]), np.array([d.r_o for d in devs]))

    def _at(self, p: Mapping[str, float]) -> tuple[PairOperatingPoint, Side, Side, Any]:
        """Operating point and nominal circuit with the parameters' load and tail resistances (cached)."""
        d_r = 0.0 if self.active else p["d_R"]
        key = (float(p["R_L"]), float(d_r), float(p["R_EE"]))
        hit = self._ops.get(key)
        if hit is None:
            b = replace(self.board, load_r_ohm=key[0], mismatch_load_r=key[1], tail_r_ohm=key[2])
            op = operating_point(b)
            s1, s2, load, _ = small_signal_circuit(b, op)
            if len(self._ops) > 256:
                self._ops.clear()
            hit = self._ops[key] = (op, s1, s2, load)
        return hit

    def device_values(self, p: Mapping[str, float]) -> dict[str, float]:
        """gm, d_gm and r_o in effect at ``p``: the free ones as given, the others from the operating point."""
        gm_side, ro_side = self._devices(self._at(p)[0])
        gm = float(gm_side.mean())
        out = {"gm": gm, "d_gm": float((gm_side[1] - gm_side[0]) / gm), "r_o": float(ro_side.mean())}
        out.update({k: float(p[k]) for k in out if k in self.free})
        return out

    def circuit(self, p: Mapping[str, float]) -> tuple[Side, Side, ResistiveLoad | MirrorLoad, Tail]:
        """The linear circuit at parameter values ``p`` (every name of :attr:`specs`)."""
        op, side1, side2, load0 = self._at(p)
        gm_side, ro_side = self._devices(op)
        dev = self.device_values(p)
        if {"gm", "d_gm"} & self.free:
            g1, g2 = split(dev["gm"], dev["d_gm"])
            gm_side = np.array([float(g1), float(g2)])
        if "r_o" in self.free and math.isfinite(ro_side.mean()):
            ro_side = ro_side * (dev["r_o"] / ro_side.mean())
        bjt = self.board.is_bjt
        sides = [replace(side, gm=float(g - (1.0 / r if bjt else 0.0)), r_o=float(r))
                 for side, g, r in zip((side1, side2), gm_side, ro_side)]
        c1, c2 = split(p["C_L"], p["d_C"])
        if self.active:
            load: ResistiveLoad | MirrorLoad = replace(load0, r_out=p["R_L"], c1=float(c1), c2=float(c2))
        else:
            r1, r2 = split(p["R_L"], p["d_R"])
            load = ResistiveLoad(float(r1), float(r2), float(c1), float(c2))
        return sides[0], sides[1], load, replace(self.tail, r=p["R_EE"], c=p["C_T"])  # a split tail stays split

    def s(self, freq_hz: np.ndarray, p: Mapping[str, float]) -> np.ndarray:
        """S at ``freq_hz``, shape (F, 2, 2), complex."""
        g = pair_response(np.asarray(freq_hz, float), *self.circuit(p)).gains()
        return np.moveaxis(g.matrix, -1, 0)


def fit_small_signal(table: Mapping[str, np.ndarray], board: BoardConfig, options: Mapping[str, Any]) -> FitResult:
    """Fit the ``gains`` table (frequency_hz, S, S_u, S_cov) of a run; ``options`` as ``[fit]``
    (:mod:`procedures.fitting.run_fits`)."""
    data = gains_data(table)
    model = SmallSignalModel(board)
    free = _free(model, options)
    model.free = frozenset(free)
    kind = "active load (mirror)" if model.active else "resistive load"
    text = (f"exact small-signal nodal model ({board.device.type} pair, {kind}), all four mixed-mode gains, "
            f"weighted by the 8x8 covariance per frequency")
    result, sol = fit_gains(NAME, text, model, free, data, options)
    # the device parameters held "fixed" follow the operating point at the fitted resistances: report those
    result.fixed.update({k: v for k, v in model.device_values(sol.values).items() if k not in free})
    return result


def _free(model: SmallSignalModel, options: Mapping[str, Any]) -> list[str]:
    from procedures.fitting.core import choose_free

    free = choose_free(model.specs, options.get("small_signal_free"), model.default_free, NAME)
    if "gm" in free and "R_L" in free:
        raise FitOptionError("small-signal fit: gm and R_L cannot both be free: the gains fix only their product "
                       "(one impedance scale is not measurable); hold one at its nominal value")
    if model.active and "d_R" in free:
        raise FitOptionError("small-signal fit: d_R does not apply to an active load (it has one resistor, R1)")
    if not math.isfinite(model.nominal["r_o"]) and "r_o" in free:
        raise FitOptionError("small-signal fit: r_o cannot be free when the devices have none (infinite Early voltage "
                       "or lambda = 0)")
    return free
