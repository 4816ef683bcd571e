"""A small nonlinear circuit engine: modified nodal analysis with diodes, BJTs and MOSFETs.

The circuit is written as ``G x + i(x) + d/dt (C x + q(x)) = b(t)`` (modified nodal analysis, MNA; Ho,
Ruehli, Brennan, IEEE Trans. CAS 22(6), 1975): ``x`` holds the node voltages (V) and then one branch
current per voltage source, inductor, VCVS and CCVS (A), ``G`` and ``C`` are the linear conductance and
capacitance stamps (an inductor is ``-L`` on its branch row of ``C``), ``i(x)`` and ``q(x)`` the currents
flowing into the devices' terminals and the charges stored on them, ``b`` the independent sources. Every
KCL row sums the currents *leaving* its node. Sign conventions are SPICE's.

Elements (:class:`Netlist`): resistors, capacitors, inductors; independent voltage sources (with series
resistance) and current sources, each with a DC value and an AC phasor; linear controlled sources E
(VCVS), G (VCCS), F (CCCS), H (CCVS); devices: junction diodes (:class:`DiodeModel`), BJTs as Ebers-Moll
(:class:`BJTModel`) or SPICE Gummel-Poon (:class:`GummelPoonModel`, with RB/RE/RC, depletion and diffusion
charges), MOSFETs as square law (:class:`MOSModel`) with, given a bulk terminal, SPICE level-1 body
effect, bulk-junction charges and Meyer's gate capacitances. :meth:`Netlist.to_spice` writes the same
circuit as an ngspice deck.

Modules, each with one job:

* :mod:`.device_equations` -- Ebers-Moll and square-law equations, SPICE junction limiting;
* :mod:`.gummel_poon`, :mod:`.diode_equations`, :mod:`.mos_level1`, :mod:`.junction` -- the SPICE device
  equations (Gummel-Poon BJT, junction diode, level-1 MOSFET with bulk, depletion charge);
* :mod:`.devices` -- device instances: terminals, polarity, currents, charges, Newton-step limiting;
* :mod:`.netlist` -- the circuit as a netlist (records in :mod:`.elements`), compiled to MNA matrices by
  :mod:`.stamps`, written as an ngspice deck by :mod:`.spice_deck`;
* :mod:`.mna` -- the compiled equations and their evaluation (single point and sampled);
* :mod:`.fourier` -- the real Fourier basis, conversion matrices and derivative operator of harmonic
  balance;
* :mod:`.port_newton` -- the Newton kernel DC and harmonic balance share (linear part reduced to the
  device ports, Newton on port Fourier coefficients, continuation); :mod:`.branch_newton` -- its
  harmonic-balance step, solved through the devices' independent currents; :mod:`.device_groups` --
  devices of one model evaluated in one vectorised call;
* :mod:`.dc`, :mod:`.small_signal`, :mod:`.harmonic_balance` -- the analyses; :mod:`.system` puts them on
  the compiled circuit, :class:`MNASystem`;
* :mod:`.blas` -- single-threaded BLAS for the small dense solves; :mod:`.errors` -- the engine's failure.

Analyses (DC and harmonic balance share one Newton kernel):

* DC operating point: Newton-Raphson with SPICE junction limiting (``pnjlim``), falling back to source
  stepping and then gmin stepping (Nagel, "SPICE2: a computer program to simulate semiconductor
  circuits", UCB/ERL M520, 1975). Charges play no part.
* Small-signal AC: the circuit linearised at an operating point, ``(J + j w (C + dq/dx)) X = B`` solved
  for many frequencies in one vectorised call.
* Periodic steady state under sinusoidal sources of one frequency: harmonic balance (HB) with the
  devices' nonlinear currents and charges, see :mod:`.harmonic_balance`.

Each device model's docstring cites the source of its equations.
"""

from __future__ import annotations

from .device_equations import BJTModel, MOSModel, pnjlim
from .diode_equations import VT_300K_V, DiodeModel
from .errors import ConvergenceError
from .gummel_poon import GummelPoonModel
from .harmonic_balance import HBSolution
from .netlist import GMIN_S, GROUND, Netlist
from .spice_deck import SpiceDeck
from .system import MNASystem

__all__ = ["GMIN_S", "GROUND", "VT_300K_V", "BJTModel", "ConvergenceError", "DiodeModel", "GummelPoonModel",
           "HBSolution", "MNASystem", "MOSModel", "Netlist", "SpiceDeck", "pnjlim"]
