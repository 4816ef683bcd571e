"""The harmonic-balance Newton step solved in the space of the devices' independent currents.

The port equations ``F(V) = V + Z (I(V) + Omega Q(V)) - W = 0`` (:mod:`.port_newton`) have the Jacobian
``J = 1 + Z Gamma``, Gamma the conversion matrix of the sampled device conductances and capacitances. The
device currents and charges lie in the span of a few independent currents per device
(:meth:`.devices.Device.branches`: a MOSFET's gate carries none, a transistor's three terminal currents sum
to zero), so ``Gamma = B Gamma_b`` with B the (m, n_b) map from those currents to the ports, and by the
Woodbury identity (Golub and Van Loan, "Matrix Computations", 4th ed., section 2.1.4) ``J dV = -F`` becomes

    ``(1 + Gamma_b Z B) y = -Gamma_b F``,   ``dV = -F - Z B y``,

a dense system of n_b (2K+1) unknowns instead of m (2K+1). ``Gamma_b Z B`` is assembled from the FFT of the
sampled branch conductances (the Toeplitz + Hankel form of the conversion matrix, Kundert, White and
Sangiovanni-Vincentelli, "Steady-State Methods for Simulating Analog and Microwave Circuits", Kluwer 1990)
times the per-harmonic impedance, without forming the (m (2K+1))^2 conversion matrix. The step is the
exact Newton step: only the order of the arithmetic differs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from scipy.linalg import lapack

from ..arrays import AnyArray, ComplexArray, FloatArray, IndexArray
from .fourier import FourierGrid, apply_impedance, time_derivative
from .mna import MNAEquations


@dataclass
class Basis:
    """The currents the Newton step is solved for: port currents ``= B @ basis currents`` (B (m, s)), the
    basis currents ``= combine @ branch currents`` (None: the branch currents themselves)."""

    B: FloatArray
    combine: FloatArray | None

    @classmethod
    def of(cls, eqs: MNAEquations) -> Basis:
        """The devices' branch currents, or the currents into the ports that carry any if there are fewer."""
        P = eqs.branch_incidence
        live = np.flatnonzero(np.any(P != 0.0, axis=1))
        if P.shape[1] <= len(live):
            return cls(P, None)
        return cls(np.eye(P.shape[0])[:, live], P[live])

    def rows(self, d_t: FloatArray | None) -> FloatArray | None:
        """Derivatives of the branch currents (n_b, m, N) as derivatives of the basis currents (s, m, N)."""
        if d_t is None or self.combine is None:
            return d_t
        out: FloatArray = np.tensordot(self.combine, d_t, axes=1)
        return out


class BranchStep:
    """Newton steps of the port equations of one linear part (:class:`.port_newton.LinearPart`, K >= 1):
    :meth:`evaluate` the residual at V, :meth:`refresh` the Jacobian there, :meth:`solve` for the update
    with the last Jacobian factored (a chord step unless refreshed at this V)."""

    def __init__(self, eqs: MNAEquations, Zc: ComplexArray, omega_rad_s: float, grid: FourierGrid) -> None:
        self.eqs, self.Zc, self.omega_rad_s, self.grid = eqs, Zc, omega_rad_s, grid
        self.basis = Basis.of(eqs)
        ZB = np.matmul(Zc, self.basis.B)  # (K+1, m, s)
        ZB[0] = ZB[0].real  # the DC impedance is real (apply_impedance keeps only its real part)
        self.ZB, self.ZB_conj = ZB, ZB.conj()
        self.charges = omega_rad_s != 0.0 and eqs.has_charges
        n = self.basis.B.shape[1] * (2 * grid.K + 1)
        self._T = _scratch("T", (n, n), float, "F")  # every Jacobian of this linear part goes here
        self._at: tuple[FloatArray, FloatArray | None] | None = None  # derivatives at the last evaluate()
        self._lu: tuple[FloatArray, IndexArray, FloatArray, FloatArray | None] | None = None

    def evaluate(self, V: FloatArray, W: FloatArray, v_old: list[FloatArray]) -> tuple[FloatArray, bool]:
        """``(F, limited)``: the residual (m, 2K+1) (V) at port coefficients V for the drive W, with limiting
        against ``v_old`` (updated in place); the devices' derivatives are kept for :meth:`refresh`."""
        eqs, grid, K = self.eqs, self.grid, self.grid.K
        i_t, g_b, q_t, c_b, limited = eqs.sampled_state(V @ grid.S.T, v_old, self.charges, branches=True)
        i_port = i_t @ grid.A.T
        if q_t is not None:
            i_port = i_port + time_derivative(q_t @ grid.A.T, self.omega_rad_s, K)
        g_s = self.basis.rows(g_b)
        assert g_s is not None
        self._at = (g_s, self.basis.rows(c_b))
        F: FloatArray = V + apply_impedance(self.Zc, i_port, K) - W
        return F, limited

    @property
    def factored(self) -> bool:
        """Whether a Jacobian has been factored (:meth:`solve` can run)."""
        return self._lu is not None

    def refresh(self) -> bool:
        """Build and LU-factor ``1 + Gamma_b Z B`` at the last evaluated point; False if it is singular."""
        assert self._at is not None
        g_s, c_s = self._at
        T = self._product(g_s, c_s)
        T[np.diag_indices_from(T)] += 1.0
        lu, piv, info = lapack.dgetrf(T, overwrite_a=1)
        if info != 0:
            self._lu = None
            return False
        self._lu = (lu, piv, g_s, c_s)
        return True

    def solve(self, F: FloatArray) -> FloatArray:
        """The update ``dV = -J^-1 F`` (m, 2K+1) (V) with the Jacobian last factored by :meth:`refresh`."""
        assert self._lu is not None
        lu, piv, g_s, c_s = self._lu
        K = self.grid.K
        y, _ = lapack.dgetrs(lu, piv, -self._apply(g_s, c_s, F).ravel())
        dV: FloatArray = -F - apply_impedance(self.Zc, self.basis.B @ y.reshape(-1, 2 * K + 1), K)
        return dV

    def _apply(self, g_s: FloatArray, c_s: FloatArray | None, F: FloatArray) -> FloatArray:
        """``Gamma_b F`` (s, 2K+1): the basis currents of the conductances and capacitances times the port
        waveforms F, through the time domain (the conversion matrix is ``A diag(g) S``)."""
        grid = self.grid
        F_t = F @ grid.S.T
        out: FloatArray = np.einsum("spn,pn->sn", g_s, F_t) @ grid.A.T
        if c_s is not None:
            out = out + time_derivative(np.einsum("spn,pn->sn", c_s, F_t) @ grid.A.T, self.omega_rad_s, grid.K)
        return out

    def _product(self, g_s: FloatArray, c_s: FloatArray | None) -> FloatArray:
        """``Gamma_b Z B`` as a real (s (2K+1), s (2K+1)) matrix (Fortran order, in this step's buffer),
        coefficient order as :mod:`.fourier`.

        With complex peak phasors the output harmonic k of ``g(t) v(t)`` is ``sum_l g_(k-l) c_l +
        g_(k+l) conj(c_l)`` (half that for k = 0), g_n the FFT coefficients of g; with ``c_l = (Z B)_l u_l``
        that is ``B1 u + B2 conj(u)`` per block, and a charge's current adds ``j k w`` times the same
        (the derivative operator Omega). Real and imaginary parts give the four real blocks. The large
        intermediates live in per-thread buffers (:func:`_scratch`).
        """
        grid = self.grid
        K, L, s = grid.K, grid.K + 1, g_s.shape[0]
        B1, B2 = (self._harmonic_blocks(g_s, c_s, idx, Z, tag) for idx, Z, tag in
                  ((grid.i_minus.T, self.ZB, "minus"), (grid.i_plus.T, self.ZB_conj, "plus")))
        Ps = np.add(B1, B2, out=_scratch("sum", B1.shape, complex))
        Md = np.subtract(B1, B2, out=B2)
        # the transpose of T, C-ordered as (s', column harmonic, s, row harmonic)
        out = self._T.T.reshape(s, 2 * K + 1, s, 2 * K + 1)
        out[:, :L, :, :L] = Ps.real.transpose(3, 0, 2, 1)
        out[:, L:, :, :L] = Md.imag[1:].transpose(3, 0, 2, 1)
        np.negative(Ps.imag[:, 1:].transpose(3, 0, 2, 1), out=out[:, :L, :, L:])
        out[:, L:, :, L:] = Md.real[1:, 1:].transpose(3, 0, 2, 1)
        out[:, :, :, 0] *= 0.5
        return self._T

    def _harmonic_blocks(self, g_s: FloatArray, c_s: FloatArray | None, idx: IndexArray, Z: ComplexArray,
                         tag: str) -> ComplexArray:
        """``B[l, k] = (g_n + j k w c_n) Z_l`` with n = ``idx[l, k]`` (k - l or k + l): (L, L, s, s) complex."""
        grid = self.grid
        N, L = grid.N, grid.K + 1
        s, m = g_s.shape[:2]
        gath = np.take((np.fft.fft(g_s, axis=-1) / N).transpose(2, 0, 1), idx, axis=0,
                       out=_scratch("gather", (L, L, s, m), complex))  # (l, k, s, m)
        if c_s is not None:
            ch = np.take((np.fft.fft(c_s, axis=-1) / N).transpose(2, 0, 1), idx, axis=0,
                         out=_scratch("gather_c", (L, L, s, m), complex))
            ch *= (1j * self.omega_rad_s * np.arange(L))[None, :, None, None]
            gath += ch
        B = np.matmul(gath.reshape(L, L * s, m), Z, out=_scratch(tag, (L, L * s, s), complex))
        out: ComplexArray = B.reshape(L, L, s, s)
        return out


_WORK = threading.local()


def _scratch(name: str, shape: tuple[int, ...], dtype: type, order: str = "C") -> AnyArray:
    """A per-thread scratch array (contents undefined), reused from one Newton step and one solve to the
    next: arrays of a few MB allocated afresh each step cost more in page faults than the arithmetic done
    in them (measured: the Jacobian assembly of a 12-port board 6.0 ms with fresh arrays, 1.5 ms reused)."""
    pool: dict[tuple[str, tuple[int, ...], str, str], AnyArray] | None = getattr(_WORK, "pool", None)
    if pool is None:
        pool = _WORK.pool = {}
    key = (name, shape, np.dtype(dtype).str, order)
    buf = pool.get(key)
    if buf is None:
        if len(pool) >= 64:
            pool.clear()
        buf = pool[key] = np.empty(shape, dtype=dtype, order="F" if order == "F" else "C")
    return buf
