"""Small-signal AC analysis: the circuit linearised at an operating point, ``(J + j w C) X = B``."""

from __future__ import annotations

from typing import cast

import numpy as np
from numpy.typing import ArrayLike

from ..arrays import AnyArray, ComplexArray, FloatArray
from .mna import MNAEquations


def solve_ac(eqs: MNAEquations, x_op: FloatArray, freq_hz: ArrayLike, rhs: AnyArray) -> ComplexArray:
    """Small-signal response ``(J + j w C)^-1 rhs`` at each frequency (Hz): (F, n, ncol) complex.

    ``J`` is the conductance matrix and ``C`` the capacitance matrix (linear capacitors and inductors plus
    the devices' ``dq/dv``) linearised at ``x_op`` (:meth:`MNAEquations.jacobian`,
    :meth:`MNAEquations.capacitance`); ``rhs`` is (n, ncol): e.g. a unit phasor on a voltage-source row
    per column (:meth:`MNAEquations.source_rhs`). All frequencies are solved in one vectorised call.
    """
    f = np.atleast_1d(np.asarray(freq_hz, dtype=float)).ravel()
    J = eqs.jacobian(x_op)
    Y = J[None] + 1j * 2.0 * np.pi * f[:, None, None] * eqs.capacitance(x_op)[None]
    X = np.linalg.solve(Y, np.broadcast_to(rhs, (len(f),) + rhs.shape).astype(complex))
    return cast(ComplexArray, X)  # numpy's stubs widen solve() of complex input to complexfloating[Any, Any]
