"""The simulated board's netlist, built from a board config, with generator channels attached to its pins.

Board nodes: ``in1``/``in2`` are the input pins (the generator drives them, the scope probes them as v1, v2);
``out1``/``out2`` the outputs (vo1 is the collector/drain of the device whose base/gate is in1). Internal
nodes: ``b1``/``b2`` (base/gate, behind ``source_r_ohm``), ``e1``/``e2`` (emitter/source, above the
degeneration resistor), ``tail``, ``c1``/``c2`` (pair collector/drain; the cascode emitter/source when
cascoded), ``vcc``, ``vee``, ``bias``, ``ret`` (load return), ``casc`` (cascode bias). Devices: ``Q1``/``Q2``
(or ``M1``/``M2``) the pair, ``Q3``/``Q4`` the mirror (``Q3`` diode-connected at out1), ``Q5``/``Q6`` the
cascode. The tail is an ideal ``I_EE`` from ``tail`` to ``vee`` in parallel with ``R_EE`` and ``C_T``,
so the DC tail current is ``I_EE + (V_tail - V_EE)/R_EE``; the split and transistor tails (``[tail] kind``) are
built by :mod:`.board_tails`. The cascoded mirror (nodes ``xm1``, ``xm2``,
``mcasc``; devices ``Q7``/``Q8`` or ``M7``/``M8``) and the second stage (node ``mid``, device ``Q9``/``M9``, the
sink I2) are built by :mod:`.board_stages`.

The order in which elements are added fixes the order of the MNA unknowns; it is part of the simulator's
numbers (a different order changes the last bits of the LU solves), so keep it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..board_config import BoardConfig, DeviceParams
from .board_stages import SECOND_STAGE_NODE, add_cascoded_mirror, add_second_stage
from .board_tails import add_tail
from .circuit import GROUND, BJTModel, MOSModel, Netlist

REVERSE_BETA = 1.0
"""Reverse current gain beta_R of every BJT (not in the board config; a typical discrete value). It only
matters in saturation, where it sets how much base current a saturated transistor draws."""


@dataclass(frozen=True)
class Attachment:
    """One generator channel on the board: EMF ``dc_v + Re(ac_v e^{j w t})`` (V) behind ``r_ohm`` (Ohm),
    feeding ``pins`` (one pin, or both when they are tied), as the voltage source ``name``."""

    name: str
    pins: tuple[str, ...]
    dc_v: float
    ac_v: complex
    r_ohm: float


def _split(x: float, d: float) -> tuple[float, float]:
    """Mismatch convention of the board config: X1 = X(1 - d/2), X2 = X(1 + d/2)."""
    return x * (1.0 - d / 2.0), x * (1.0 + d / 2.0)


def _bjt(dev: DeviceParams, vt: float, is_a: float | None = None, beta: float | None = None) -> BJTModel:
    assert dev.beta is not None and dev.is_a is not None and dev.early_v is not None
    return BJTModel(polarity=1 if dev.type == "npn" else -1, is_a=dev.is_a if is_a is None else is_a,
                    beta_f=dev.beta if beta is None else beta, beta_r=REVERSE_BETA, early_v=dev.early_v, vt_v=vt)


def _mos(dev: DeviceParams, kp: float | None = None, vth: float | None = None) -> MOSModel:
    assert dev.kp_a_per_v2 is not None and dev.vth_v is not None and dev.lambda_per_v is not None
    return MOSModel(polarity=1 if dev.type == "nmos" else -1, kp_a_per_v2=dev.kp_a_per_v2 if kp is None else kp,
                    vth_v=dev.vth_v if vth is None else vth, lambda_per_v=dev.lambda_per_v)


def _scaled(dev: DeviceParams, vt: float) -> Callable[[float], BJTModel | MOSModel]:
    """The model of ``dev`` with its I_S (BJT) or kp (MOS) multiplied by the argument (a device's size)."""
    def make(k: float) -> BJTModel | MOSModel:
        if dev.is_bjt:
            assert dev.is_a is not None
            return _bjt(dev, vt, is_a=dev.is_a * k)
        assert dev.kp_a_per_v2 is not None
        return _mos(dev, kp=dev.kp_a_per_v2 * k)
    return make


def build_netlist(cfg: BoardConfig, attachments: Sequence[Attachment] = ()) -> Netlist:
    """The board's netlist, with generator channels (Thevenin sources) attached to its pins.

    Each attachment is one EMF with its series resistance feeding one pin, or both pins when they are tied
    (then ``in2`` is the same node as ``in1``).
    """
    nl = Netlist()
    _add_supplies_and_drives(nl, cfg, attachments)
    _add_inputs(nl, cfg)
    if cfg.tail_kind == "norton":  # Norton source I_EE || R_EE || C_T from the tail node to vee
        nl.isource("tail", "vee", cfg.tail_current_a)
        nl.resistor("tail", "vee", cfg.tail_r_ohm)
        nl.capacitor("tail", "vee", cfg.tail_c_f)
    else:  # a split or transistor tail (board_tails)
        add_tail(nl, cfg, _scaled(cfg.device, cfg.vt_v))
    _add_pair(nl, cfg)
    _add_load(nl, cfg)
    c1, c2 = _split(cfg.load_c_f, cfg.mismatch_load_c)
    nl.capacitor("out1", GROUND, c1)
    nl.capacitor("out2", GROUND, c2)
    return nl


def _add_supplies_and_drives(nl: Netlist, cfg: BoardConfig, attachments: Sequence[Attachment]) -> None:
    """The supplies and the generator channels (tying in2 to in1 when a channel feeds both)."""
    for att in attachments:
        if len(att.pins) == 2:
            nl.alias("in2", "in1")
    nl.vsource("Vcc", "vcc", GROUND, cfg.vcc_v)
    nl.vsource("Vee", "vee", GROUND, cfg.vee_v)
    for att in attachments:
        nl.vsource(att.name, att.pins[0], GROUND, att.dc_v, att.ac_v, att.r_ohm)


def _add_inputs(nl: Netlist, cfg: BoardConfig) -> None:
    """Input bias network, source resistors and degeneration resistors (a zero value is a wire)."""
    if cfg.bias_r_ohm > 0.0:
        nl.vsource("Vbias", "bias", GROUND, cfg.bias_v)
        nl.resistor("in1", "bias", cfg.bias_r_ohm)
        nl.resistor("in2", "bias", cfg.bias_r_ohm)
    for k in ("1", "2"):
        if cfg.source_r_ohm > 0.0:
            nl.resistor("in" + k, "b" + k, cfg.source_r_ohm)
        else:
            nl.alias("b" + k, "in" + k)
        if cfg.degeneration_r_ohm > 0.0:
            nl.resistor("e" + k, "tail", cfg.degeneration_r_ohm)
        else:
            nl.alias("e" + k, "tail")


def _add_pair(nl: Netlist, cfg: BoardConfig) -> None:
    """The pair with its mismatch, and the cascode devices with their bias when the board has them."""
    vt = cfg.vt_v
    dev = cfg.device
    if cfg.cascode:
        assert cfg.cascode_bias_v is not None
        nl.vsource("Vcasc", "casc", GROUND, cfg.cascode_bias_v)
    else:
        nl.alias("c1", "out1")
        nl.alias("c2", "out2" if cfg.second_stage is None else SECOND_STAGE_NODE)
    if dev.is_bjt:
        assert dev.is_a is not None and dev.beta is not None
        is1, is2 = _split(dev.is_a, cfg.mismatch_device)
        bf1, bf2 = _split(dev.beta, cfg.mismatch_beta)
        nl.bjt("Q1", "c1", "b1", "e1", _bjt(dev, vt, is1, bf1))
        nl.bjt("Q2", "c2", "b2", "e2", _bjt(dev, vt, is2, bf2))
        if cfg.cascode:
            nl.bjt("Q5", "out1", "casc", "c1", _bjt(dev, vt))
            nl.bjt("Q6", "out2" if cfg.second_stage is None else SECOND_STAGE_NODE, "casc", "c2", _bjt(dev, vt))
    else:
        assert dev.kp_a_per_v2 is not None and dev.vth_v is not None
        kp1, kp2 = _split(dev.kp_a_per_v2, cfg.mismatch_device)
        vth = dev.vth_v
        nl.mos("M1", "c1", "b1", "e1", _mos(dev, kp1, vth - cfg.mismatch_vth_v / 2.0))
        nl.mos("M2", "c2", "b2", "e2", _mos(dev, kp2, vth + cfg.mismatch_vth_v / 2.0))
        if cfg.cascode:
            nl.mos("M5", "out1", "casc", "c1", _mos(dev))
            nl.mos("M6", "out2" if cfg.second_stage is None else SECOND_STAGE_NODE, "casc", "c2", _mos(dev))


def _add_load(nl: Netlist, cfg: BoardConfig) -> None:
    """The load return and the resistive load or the current mirror (with its resistor on out2)."""
    vt = cfg.vt_v
    if cfg.load_return_v == cfg.vcc_v:
        nl.alias("ret", "vcc")
    else:
        nl.vsource("Vret", "ret", GROUND, cfg.load_return_v)
    if cfg.load_type == "resistive":
        r1, r2 = _split(cfg.load_r_ohm, cfg.mismatch_load_r)
        nl.resistor("out1", "ret", r1)
        nl.resistor("out2", "ret", r2)
    else:
        mirror = cfg.mirror
        assert mirror is not None
        if cfg.mirror_cascode_bias_v is not None:
            add_cascoded_mirror(nl, _scaled(mirror, vt), cfg.mirror_cascode_bias_v)
        elif cfg.second_stage is not None:
            add_second_stage(nl, _scaled(mirror, vt), cfg)
        elif mirror.is_bjt:
            nl.bjt("Q3", "out1", "out1", "vcc", _bjt(mirror, vt))
            nl.bjt("Q4", "out2", "out1", "vcc", _bjt(mirror, vt))
        else:
            nl.mos("M3", "out1", "out1", "vcc", _mos(mirror))
            nl.mos("M4", "out2", "out1", "vcc", _mos(mirror))
        nl.resistor("out2", "ret", cfg.load_r_ohm)
