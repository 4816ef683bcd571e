"""A small nonlinear circuit engine: modified nodal analysis with BJTs and MOSFETs.

The circuit is written as ``G x + i(x) + C dx/dt = b(t)`` (modified nodal analysis, MNA; Ho, Ruehli,
Brennan, IEEE Trans. CAS 22(6), 1975): ``x`` holds the node voltages (V) and then one branch current per
voltage source (A), ``G`` and ``C`` are the linear conductance and capacitance stamps, ``i(x)`` the
currents flowing into the transistors' terminals and ``b`` the independent sources. Every KCL row sums the
currents *leaving* its node.

Modules, each with one job:

* :mod:`.device_equations` -- Ebers-Moll and square-law transistor equations, SPICE junction limiting;
* :mod:`.devices` -- transistor instances: terminals, polarity, Newton-step limiting;
* :mod:`.netlist` -- the circuit as a netlist, compiled to MNA matrices;
* :mod:`.mna` -- the compiled equations and their evaluation (single point and sampled);
* :mod:`.fourier` -- the real Fourier basis and conversion matrices of harmonic balance;
* :mod:`.port_newton` -- the Newton kernel DC and harmonic balance share (linear part reduced to the
  transistor ports, Newton on port Fourier coefficients, continuation);
* :mod:`.dc`, :mod:`.small_signal`, :mod:`.harmonic_balance` -- the analyses; :mod:`.system` puts them on
  the compiled circuit, :class:`MNASystem`;
* :mod:`.blas` -- single-threaded BLAS for the small dense solves; :mod:`.errors` -- the engine's failure.

Analyses (DC and harmonic balance share one Newton kernel):

* DC operating point: Newton-Raphson with SPICE junction limiting (``pnjlim``), falling back to source
  stepping and then gmin stepping (Nagel, "SPICE2: a computer program to simulate semiconductor
  circuits", UCB/ERL M520, 1975).
* Small-signal AC: the circuit linearised at an operating point, ``(J + j w C) X = B`` solved for many
  frequencies in one vectorised call.
* Periodic steady state under sinusoidal sources of one frequency: harmonic balance (HB), see
  :mod:`.harmonic_balance`.

Devices (:class:`BJTModel`, :class:`MOSModel`) follow textbook large-signal equations; their docstrings
cite the source of each.
"""

from __future__ import annotations

from .device_equations import BJTModel, MOSModel, pnjlim
from .errors import ConvergenceError
from .harmonic_balance import HBSolution
from .netlist import GMIN_S, GROUND, Netlist
from .system import MNASystem

__all__ = ["GMIN_S", "GROUND", "BJTModel", "ConvergenceError", "HBSolution", "MNASystem", "MOSModel", "Netlist",
           "pnjlim"]
