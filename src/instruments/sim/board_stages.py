"""The two active-load variants of the simulated board's netlist: the cascoded mirror and the second stage.

Both replace the simple mirror of :mod:`.board_netlist` (``Q3``/``Q4`` or ``M3``/``M4``, emitters/sources at vcc,
the mirror's control node is out1); the resistor from out2 to the load return stays where
:mod:`.board_netlist` puts it.

- Cascoded mirror (``[mirror] cascode_bias_v``; the telescopic stage of Razavi, *Design of Analog CMOS
  Integrated Circuits*, ch. 9, with its single-ended output): ``Q3``/``M3`` from vcc to node ``xm1`` and ``Q4``/``M4``
  from vcc to ``xm2``, both bases/gates on out1; the cascode devices ``Q7``/``M7`` (``xm1`` to out1) and
  ``Q8``/``M8`` (``xm2`` to out2) have their bases/gates on node ``mcasc``, held at ``cascode_bias_v`` by the ideal
  source ``Vmcasc``. Out1 is the low-voltage cascode mirror's input: the mirror's control node sits on the
  cascode's drain, so the mirror devices need only V_ov across them (Razavi ch. 5).
- Second stage (``[second_stage]``, source text fig. 5-12): the mirror output ``Q4``/``M4`` and side 2 of the pair
  meet at node ``mid``, the base/gate of ``Q9``/``M9`` (the text's Q4: the mirror's device scaled by
  ``size_ratio``), emitter/source at vcc, collector/drain at out2; the sink I2 is an ideal current source from
  out2 to vee in parallel with ``sink_r_ohm``, and ``c_f`` sits from ``mid`` to ground.
"""

from __future__ import annotations

from collections.abc import Callable

from ..board_config import BoardConfig
from .circuit import GROUND, BJTModel, MOSModel, Netlist

MakeModel = Callable[[float], BJTModel | MOSModel]
"""The mirror's device model with its I_S (BJT) or kp (MOS) multiplied by the argument."""

SECOND_STAGE_NODE = "mid"
"""Node of the first stage's output in a board with a second stage (side 2's collector/drain)."""


def _device(nl: Netlist, name: str, terms: tuple[str, str, str], model: BJTModel | MOSModel) -> None:
    """A transistor (collector/drain, base/gate, emitter/source) named ``Q...`` or ``M...`` by its kind."""
    if isinstance(model, BJTModel):
        nl.bjt("Q" + name, *terms, model)
    else:
        nl.mos("M" + name, *terms, model)


def add_cascoded_mirror(nl: Netlist, make: MakeModel, bias_v: float) -> None:
    """The cascoded mirror (module docstring) between vcc, out1 and out2, its cascode bias at ``bias_v`` (V)."""
    nl.vsource("Vmcasc", "mcasc", GROUND, bias_v)
    _device(nl, "3", ("xm1", "out1", "vcc"), make(1.0))
    _device(nl, "7", ("out1", "mcasc", "xm1"), make(1.0))
    _device(nl, "4", ("xm2", "out1", "vcc"), make(1.0))
    _device(nl, "8", ("out2", "mcasc", "xm2"), make(1.0))


def add_second_stage(nl: Netlist, make: MakeModel, cfg: BoardConfig) -> None:
    """The simple mirror into node ``mid`` and the second stage from ``mid`` to out2 with its sink (module
    docstring)."""
    stage = cfg.second_stage
    assert stage is not None
    _device(nl, "3", ("out1", "out1", "vcc"), make(1.0))
    _device(nl, "4", (SECOND_STAGE_NODE, "out1", "vcc"), make(1.0))
    _device(nl, "9", ("out2", SECOND_STAGE_NODE, "vcc"), make(stage.size_ratio))
    nl.isource("out2", "vee", stage.sink_current_a)
    nl.resistor("out2", "vee", stage.sink_r_ohm)
    nl.capacitor(SECOND_STAGE_NODE, GROUND, stage.c_f)
