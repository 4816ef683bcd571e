"""DC operating point of a differential pair (resistive or current-mirror load, optional degeneration and
cascode) from component values, with the small-signal parameters of every device and saturation flags.

The circuit (npn/nmos pair, pnp/pmos mirror; :mod:`models.pair_circuit` holds its parts): each input pin is held
at its DC level ``v_in``; a series resistor ``r_source`` leads to the base/gate; the emitter/source goes through
``r_degen`` to the tail node; the tail carries the DC current of a Norton source (its output resistance also
matters for small signals); the collector/drain either feeds the load directly or through a cascode device
whose base/gate sits at the cascode bias. Resistive load: ``R_k`` from each output to ``v_return``. Active
load (source text fig. 5-10): side 1 feeds the diode-connected mirror device (Q3/M3, node "mirror"), side 2 the
output, the mirror output device (Q4/M4) sources into the output and ``r_out`` (R1) ties the output to
``v_return``.

Device laws are those of :mod:`models.devices` (Early effect, channel-length modulation, base currents), so
the source text's remarks come out of the solution rather than being put in: base current is taken from the
bases' series resistance and the mirror node, the two mirror collectors sit at different V_EC (the
"built-in offset" of the active-load stage), and doubling the 40 kOhm loads drives the transistors into
saturation (flagged, not hidden).

Each side is solved for its emitter current at a given tail-node voltage (a monotone scalar equation,
bracketed root: :mod:`models.operating_point.side`), the tail-node voltage from ``I_E1 + I_E2 = I_tail``
(monotone: :mod:`models.operating_point.tail`), and for the active load the output voltage from the current
balance at the output node (monotone: :mod:`models.operating_point.active_load`). Every root is bracketed, so
the solve cannot wander off to a non-physical branch.

- :mod:`models.operating_point.results`: what a solve returns, the active-region tests and their warnings;
- :mod:`models.operating_point.device_law`: one transistor's law as the solve uses it;
- :mod:`models.operating_point.roots`: fixed points and bracketed roots; :mod:`models.operating_point.budget`:
  the cap on the work of one solve;
- :mod:`models.operating_point.resistive`, :mod:`models.operating_point.active_load`: the two entry points.
"""

from ..pair_circuit import norton_tail_current
from .active_load import active_load_operating_point
from .errors import OperatingPointError
from .resistive import resistive_pair_operating_point
from .results import (
    BJT_SATURATION_VBC_V,
    TAIL_COMPLIANCE_V,
    DeviceOperatingPoint,
    MirrorOperatingPoint,
    PairOperatingPoint,
    SideOperatingPoint,
)

__all__ = [
    "BJT_SATURATION_VBC_V", "TAIL_COMPLIANCE_V", "DeviceOperatingPoint",
    "MirrorOperatingPoint", "OperatingPointError", "PairOperatingPoint", "SideOperatingPoint",
    "active_load_operating_point", "norton_tail_current", "resistive_pair_operating_point",
]
