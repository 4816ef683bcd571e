"""A compiled circuit with its analyses: DC operating point, small-signal AC, harmonic balance."""

from __future__ import annotations

from numpy.typing import ArrayLike

from ..arrays import AnyArray, ComplexArray, FloatArray
from .dc import solve_dc
from .harmonic_balance import HBSolution, solve_hb
from .mna import MNAEquations
from .small_signal import solve_ac


class MNASystem(MNAEquations):
    """A compiled circuit (:meth:`.netlist.Netlist.compile`): its MNA equations and the analyses on them."""

    def solve_dc(self, max_iter: int = 200, method: str = "auto", refine_steps: int | None = None,
                 x_start: FloatArray | None = None) -> FloatArray:
        """DC operating point x (node voltages V, then branch currents A); see :func:`.dc.solve_dc`."""
        return solve_dc(self, max_iter, method, refine_steps, x_start)

    def solve_ac(self, x_op: FloatArray, freq_hz: ArrayLike, rhs: AnyArray) -> ComplexArray:
        """Small-signal response (F, n, ncol) at each frequency (Hz); see :func:`.small_signal.solve_ac`."""
        return solve_ac(self, x_op, freq_hz, rhs)

    def solve_hb(self, freq_hz: float, n_harmonics: int, x_dc: FloatArray, oversample: int = 2,
                 max_iter: int = 60, start: str = "auto") -> HBSolution:
        """Periodic steady state at ``freq_hz`` (Hz); see :func:`.harmonic_balance.solve_hb`."""
        return solve_hb(self, freq_hz, n_harmonics, x_dc, oversample, max_iter, start)
