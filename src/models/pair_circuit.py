"""The DC circuit of a differential pair as parameter objects: the pair's devices, the tail source, the loads.

The operating-point solvers (:mod:`models.operating_point`) and the vectorised DC transfer
(:mod:`models.dc_transfer`) take these instead of a dozen loose numbers; each object is one part of the
circuit drawn in :mod:`models.operating_point`, in SI units:

- :class:`DiffPair`: the two pair transistors at thermal voltage ``vt`` and what sits in series with each
  side (input series resistance, emitter/source degeneration, an optional :class:`Cascode`);
- :class:`NortonTail`: the tail current source, an ideal current in parallel with its output resistance;
- :class:`ResistorLoads` (a resistor from each output to a return voltage) or :class:`CurrentMirror` (the
  active load of source text fig. 5-10).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .devices import BjtParams, DeviceParams


def norton_tail_current(i_tail: float, r_tail: float, v_tail: float, v_ee: float) -> float:
    """DC current (A) of a Norton tail source: ``i_tail + (v_tail - v_ee)/r_tail`` (``r_tail = inf``: ``i_tail``).

    Kirchhoff's current law at the tail node for an ideal source ``i_tail`` (A) in parallel with ``r_tail``
    (Ohm) to the negative supply ``v_ee`` (V), the tail node at ``v_tail`` (V)."""
    return i_tail + ((v_tail - v_ee) / r_tail if math.isfinite(r_tail) else 0.0)


@dataclass(frozen=True)
class Cascode:
    """Cascode devices stacked on the pair, one per side (no mismatch needed: give the same device twice),
    their bases/gates held at ``bias_v`` (V)."""

    devices: tuple[DeviceParams, DeviceParams]
    bias_v: float


@dataclass(frozen=True)
class DiffPair:
    """The two pair transistors and what sits in series with each side.

    ``devices``: side 1 and side 2 (mismatch is in their parameters; both of one kind, BJT or MOS); ``vt``:
    thermal voltage (V); ``r_source``: series resistance from each input pin to the base/gate (Ohm);
    ``r_degen``: emitter/source resistor from each device to the tail node (Ohm); ``cascode``: optional
    cascode devices between each pair device and its output.
    """

    devices: tuple[DeviceParams, DeviceParams]
    vt: float
    r_source: float = 0.0
    r_degen: float = 0.0
    cascode: Cascode | None = None

    @property
    def is_bjt(self) -> bool:
        """True for a bipolar pair (judged by side 1; the solvers check that side 2 is of the same kind)."""
        return isinstance(self.devices[0], BjtParams)

    @property
    def mixed_kinds(self) -> bool:
        """True when one device is a BJT and the other a MOS transistor (no such pair is solved)."""
        return isinstance(self.devices[0], BjtParams) != isinstance(self.devices[1], BjtParams)


@dataclass(frozen=True)
class NortonTail:
    """The tail source: ``current`` (A, the ideal source) in parallel with ``r_out`` (Ohm; ``inf``: an ideal
    source) from the tail node to the negative supply ``v_ee`` (V)."""

    current: float
    r_out: float = math.inf
    v_ee: float = 0.0

    def dc_current(self, v_tail: float) -> float:
        """Current (A) the tail carries with its node at ``v_tail`` (V): :func:`norton_tail_current`."""
        return norton_tail_current(self.current, self.r_out, v_tail, self.v_ee)


@dataclass(frozen=True)
class ResistorLoads:
    """Resistive loads: ``r[k]`` (Ohm) from output k (side k's collector/drain or cascode) to ``v_return`` (V)."""

    r: tuple[float, float]
    v_return: float


@dataclass(frozen=True)
class CurrentMirror:
    """Current-mirror (active) load, source text fig. 5-10: ``device`` is the pnp/pmos mirror transistor (both
    mirror devices alike) with emitters/sources at ``v_cc`` (V); the diode-connected device sits on side 1 and
    the output is side 2's, tied by ``r_out`` (R1, Ohm; ``inf`` for none) to ``v_return`` (V)."""

    device: DeviceParams
    v_cc: float
    r_out: float
    v_return: float

    def r_out_current(self, v_out: float) -> float:
        """Current (A) in R1 from the output at ``v_out`` (V) towards ``v_return`` (Ohm's law; 0 without R1)."""
        return 0.0 if math.isinf(self.r_out) else (v_out - self.v_return) / self.r_out
