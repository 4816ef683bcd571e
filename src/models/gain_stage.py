"""Small-signal model of a common-emitter / common-source gain stage driven from a pair's single-ended output.

This is the second stage of source text fig. 5-12 (Gray, Hurst, Lewis & Meyer, *Analysis and Design of Analog
Integrated Circuits*: the common-emitter stage, Gray-Meyer §3.3; the two-stage amplifier, Gray-Meyer §6.2): a
device of the mirror's type whose base/gate is the first stage's output node ``x`` and whose emitter/source is at
AC ground, its collector/drain the amplifier's output ``o``. Hybrid-pi: ``r_pi`` from base to emitter (inf for
MOS), ``g_m v_x`` and ``r_o`` from collector to emitter; the output node also sees the sink's output resistance
``r_sink`` and whatever load the caller adds (``y_load``: the resistor to the output's return and the node
capacitance). There is no device capacitance from output back to input (no C_mu), so the stage is unilateral:

    v_o = -g_m / (1/r_o + 1/r_sink + y_load) * v_x

and it loads node ``x`` with ``1/r_pi + s C_in`` (``c_in``: everything at node x to ground).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

INF = float("inf")


def _inv(x: ArrayLike) -> np.ndarray:
    """1/x with 1/inf = 0 and 1/0 = inf, without warnings (ideal elements)."""
    with np.errstate(divide="ignore"):
        return np.true_divide(1.0, x)


@dataclass(frozen=True)
class GainStage:
    """A common-emitter/source stage (module docstring): ``gm`` (S), ``r_o`` and ``r_pi`` of its device (Ohm;
    ``r_pi = inf`` for MOS), ``r_sink`` the output resistance of the current sink on its output (Ohm), ``c_in``
    the capacitance at its input node (F)."""

    gm: ArrayLike
    r_o: ArrayLike = INF
    r_pi: ArrayLike = INF
    r_sink: ArrayLike = INF
    c_in: ArrayLike = 0.0

    def input_admittance(self, s: ArrayLike) -> np.ndarray:
        """Admittance (S) the stage adds to its input node at complex frequency ``s`` (rad/s): ``1/r_pi + s C_in``."""
        out: np.ndarray = _inv(self.r_pi) + np.asarray(s) * np.asarray(self.c_in)
        return out

    def voltage_gain(self, y_load: ArrayLike) -> np.ndarray:
        """``v_o / v_x = -g_m / (1/r_o + 1/r_sink + y_load)`` with ``y_load`` (S) the rest of the output node."""
        out: np.ndarray = -np.asarray(self.gm) / (_inv(self.r_o) + _inv(self.r_sink) + np.asarray(y_load))
        return out
