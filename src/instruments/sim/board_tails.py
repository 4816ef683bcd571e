"""The split and transistor tails of the simulated board's netlist (:mod:`instruments.board_tail` describes the
keys); the Norton tail stays in :mod:`.board_netlist`.

- Split tail (source text fig. 5-9): an ideal sink ``I_k`` in parallel with ``2 R_EE`` and ``C_T/2`` from each
  emitter node ``e1``/``e2`` to vee, ``I_k = (I_EE/2)(1 -+ d/2)`` with ``d = [mismatch] tail``. The bridge resistor
  between the emitters is the two degeneration resistors ``e1``-``tail`` and ``tail``-``e2`` of ``R_B/2`` each, which
  :mod:`.board_netlist` adds; nothing else touches the ``tail`` node.
- Transistor tail: ``Q10`` (or ``M10``), a copy of the pair device with its I_S or kp times ``size_ratio``:
  collector/drain at ``tail``, base/gate at node ``tbias`` held by the ideal source ``Vtail`` at ``bias_v``,
  emitter/source at node ``te``, tied to vee by ``r_e_ohm`` (a wire when 0); ``C_T`` from ``tail`` to vee.
"""

from __future__ import annotations

from collections.abc import Callable

from ..board_config import BoardConfig
from .circuit import GROUND, BJTModel, MOSModel, Netlist

TAIL_DEVICE = "10"
"""Number of the transistor tail's device: ``Q10`` or ``M10`` (after the pair, mirror, cascodes and second stage)."""


def add_tail(nl: Netlist, cfg: BoardConfig, make: Callable[[float], BJTModel | MOSModel]) -> None:
    """The split or transistor tail of ``cfg`` (module docstring); ``make(k)`` is the pair device's model with its
    I_S (BJT) or kp (MOS) multiplied by ``k``."""
    if cfg.tail_kind == "split":
        d = cfg.mismatch_tail
        half = cfg.tail_current_a / 2.0
        for node, i_a in (("e1", half * (1.0 - d / 2.0)), ("e2", half * (1.0 + d / 2.0))):
            nl.isource(node, "vee", i_a)
            nl.resistor(node, "vee", 2.0 * cfg.tail_r_ohm)
            nl.capacitor(node, "vee", cfg.tail_c_f / 2.0)
        return
    tr = cfg.tail_transistor
    if cfg.tail_kind != "transistor" or tr is None:
        raise ValueError(f"no tail of kind {cfg.tail_kind!r} here (the Norton tail is board_netlist's)")
    if tr.r_e_ohm > 0.0:
        nl.resistor("te", "vee", tr.r_e_ohm)
    else:
        nl.alias("te", "vee")
    nl.vsource("Vtail", "tbias", GROUND, tr.bias_v)
    model = make(tr.size_ratio)
    if isinstance(model, BJTModel):
        nl.bjt("Q" + TAIL_DEVICE, "tail", "tbias", "te", model)
    else:
        nl.mos("M" + TAIL_DEVICE, "tail", "tbias", "te", model)
    nl.capacitor("tail", "vee", cfg.tail_c_f)
