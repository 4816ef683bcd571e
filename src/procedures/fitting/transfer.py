"""The pair's large-signal DC transfer as a function of fit parameters (shared by the amplitude and DC fits).

Built on :func:`models.dc_transfer.resistive_pair_dc` (the exact DC circuit: device laws with the Early
effect or lambda, base currents, Norton tail, degeneration, input series resistance) around the board's
nominal components. Parameters:

========== ==== =================================================================================
``vt``     V    thermal voltage V_T = kT/q (BJT): sets the input scale of the tanh steering
``v_ov``   V    overdrive V_GS - V_th of the pair devices at rest (MOS; kp scales as 1/v_ov^2 so
                the devices carry the same current at the fitted overdrive)
``R_E``    Ohm  emitter/source degeneration resistor per side
``i_tail`` A    DC tail current at rest (the Norton source's ``I_EE + (V_tail - V_EE)/R_EE``); with the
                load resistors held at the config's values this is the gain scale ``I_tail R_L``
``v_os``   V    input-referred offset, the vid at which vod = 0 (a shift of the transfer along vid)
========== ==== =================================================================================

Points where a device leaves the region the device laws describe are not fitted: a BJT whose base-collector
junction is forward biased by more than :data:`BJT_EDGE_V` (there the reverse transport of Ebers-Moll,
not modelled, reaches 1e-6 of the collector current) or a MOS device within :data:`MOS_EDGE_V` of triode.
Only resistive loads without a cascode are modelled here; :func:`transfer_model` hands every other board to
:class:`procedures.fitting.circuit_transfer.CircuitTransferModel` (the whole stage, solved in every region).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from instruments.board_config import BoardConfig
from models import BjtParams, MosParams, split
from models.dc_transfer import PairDc, resistive_pair_dc
from models.devices import DeviceParams
from models.pair_circuit import DiffPair, NortonTail, ResistorLoads
from procedures.fitting.circuit_transfer import CircuitTransferModel, is_plain_pair
from procedures.fitting.core import FitError, ParamSpec
from procedures.predict.mapping import operating_point, pair_devices

BJT_EDGE_V = 0.3
"""Largest forward base-collector voltage of a point the fits use, V."""
MOS_EDGE_V = 0.05
"""Least V_DS - V_ov of a point the fits use, V."""


class PairTransferModel:
    """DC solution of the board's pair at given input pins and parameter values (module docstring)."""

    def __init__(self, board: BoardConfig) -> None:
        if board.load_type != "resistive":
            raise FitError("large-signal and DC-transfer fits model resistive loads only (this board has an "
                           "active load)")
        if board.cascode:
            raise FitError("large-signal and DC-transfer fits do not model a cascode")
        self.board = board
        self.op = operating_point(board)
        self.devices = pair_devices(board)
        r1, r2 = split(board.load_r_ohm, board.mismatch_load_r)
        self.r_loads = (float(r1), float(r2))
        self.bjt = board.is_bjt
        i_nom = float(self.op.i_tail)
        specs = []
        if self.bjt:
            specs.append(ParamSpec("vt", "V", board.vt_v, 1e-3, 1.0, board.vt_v, "thermal voltage kT/q"))
        else:
            v_ov = float(np.mean([s.device.v_ov for s in self.op.sides]))
            self.v_ov_nominal = v_ov
            specs.append(ParamSpec("v_ov", "V", v_ov, 1e-3, 10.0, v_ov, "overdrive V_GS - V_th at rest"))
        r_e = board.degeneration_r_ohm
        specs += [
            ParamSpec("R_E", "Ohm", r_e, 0.0, math.inf, r_e if r_e > 0 else 100.0,
                      "emitter/source degeneration per side"),
            ParamSpec("i_tail", "A", i_nom, 0.0, math.inf, i_nom, "DC tail current at rest"),
        ]
        self.specs = specs
        self.nominal = {s.name: s.nominal for s in specs}

    def scaled_devices(self, q: Mapping[str, float]) -> tuple[DeviceParams, DeviceParams]:
        """The pair's devices at parameters ``q``: a MOS pair's ``kp`` scaled so that its overdrive at rest is
        ``q["v_ov"]`` (``v_ov ~ 1/sqrt(kp)`` at a fixed current); a BJT pair's as configured."""
        devs = self.devices
        if not self.bjt:
            k = (self.v_ov_nominal / q["v_ov"]) ** 2
            d1, d2 = devs
            if isinstance(d1, MosParams) and isinstance(d2, MosParams):  # always, for a MOS pair
                devs = (replace(d1, kp=d1.kp * k), replace(d2, kp=d2.kp * k))
        return devs

    def solve(self, v1: np.ndarray, v2: np.ndarray, p: Mapping[str, float]) -> PairDc:
        """DC solution at pin levels ``v1, v2`` (V) for parameters ``p`` (missing names: nominal)."""
        q = {**self.nominal, **p}
        b = self.board
        devs = self.scaled_devices(q)
        g_tail = (self.op.v_tail - b.vee_v) / b.tail_r_ohm if math.isfinite(b.tail_r_ohm) else 0.0
        return resistive_pair_dc(
            v1, v2, DiffPair(devs, q.get("vt", b.vt_v), r_source=b.source_r_ohm, r_degen=q["R_E"]),
            NortonTail(q["i_tail"] - g_tail, r_out=b.tail_r_ohm, v_ee=b.vee_v),
            ResistorLoads(self.r_loads, v_return=b.load_return_v), bjt_edge_v=BJT_EDGE_V)

    def in_region(self, dc: PairDc) -> np.ndarray:
        """True where both devices are inside the modelled region (module docstring)."""
        edge = 0.0 if self.bjt else MOS_EDGE_V
        return (dc.headroom1 > edge) & (dc.headroom2 > edge)

    @property
    def kind(self) -> str:
        d = self.devices[0]
        if isinstance(d, BjtParams):
            return "BJT (Ebers-Moll, forward active)" + (", degenerated" if self.board.degeneration_r_ohm else "")
        assert isinstance(d, MosParams)
        return "MOS (square law)" + (", degenerated" if self.board.degeneration_r_ohm else "")


def transfer_model(board: BoardConfig) -> PairTransferModel | CircuitTransferModel:
    """The large-signal model the amplitude and DC fits use for ``board``: :class:`PairTransferModel` for a resistive
    pair without cascode, else the whole stage (:class:`~procedures.fitting.circuit_transfer.CircuitTransferModel`)."""
    return PairTransferModel(board) if is_plain_pair(board) else CircuitTransferModel(board)
