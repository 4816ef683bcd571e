"""The whole stage's large-signal DC transfer as a function of fit parameters, for every board that is not a plain
resistive pair: the active loads (simple mirror, source text fig. 5-10; cascoded mirror, the telescopic stage of
Razavi ch. 9), the second stage of fig. 5-12, the cascoded pair (Gray, Hurst, Lewis & Meyer ch. 3).

The circuit is solved whole at each pair of input pin levels, every device law valid past the edge of its active
region (:mod:`models.full_region_laws`: Gummel-Poon without high injection, SPICE level-1 MOS), so no point has to
be left out for a device saturating or entering triode:

- simple mirror, no cascode, no second stage: :func:`models.full_region_dc.pair_full_dc` with the
  :class:`~models.CurrentMirror` load the prediction's cycle uses (:func:`procedures.predict.distortion.cycle_load`),
  R1 the fitted ``R_L``;
- every other stage: the nodal solve of :mod:`procedures.fitting.nodal_dc` on the netlist of
  :mod:`procedures.fitting.stage_netlist`.

The measured output is ``vod = vo1 - vo2`` (procedures.analysis.results: the dm_gain and dc tables), with vo1
the mirror's diode node for an active load. Parameters, as :mod:`procedures.fitting.transfer`'s:

========== ==== =================================================================================
``vt``     V    thermal voltage kT/q of every device (BJT)
``v_ov``   V    overdrive V_GS - V_th of the pair devices at rest (MOS; their kp scales as 1/v_ov^2)
``R_E``    Ohm  emitter/source degeneration per side (only a board that has it)
``i_tail`` A    DC tail current at rest (the Norton source's ``I_EE + (V_tail - V_EE)/R_EE`` at the nominal
                tail level)
``R_L``    Ohm  the load resistor: each resistive load (the config's ``[load] r_ohm``), or R1 of an active
                load, from output 2 to ``[load] return_v``
========== ==== =================================================================================

Dynamics (amplitude sweep only): the transfer is quasi-static, so harmonic k of vod is scaled by
``|Add(k f)/Add(0)|`` of the board's small-signal model at the nominal components
(:func:`models.pair_response`), the output pole's effect on a stage whose pole is near the sweep's frequency
(the telescopic stage's ~26 kHz pole lowers |Add| at 1 kHz by 7e-4). Exact for the fundamental in the
small-signal limit; for a harmonic it assumes the harmonic's current meets the same output impedance as the
signal's (a dominant output pole).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from instruments.board_config import BoardConfig
from models import BjtParams, CurrentMirror, DcTransferError, DiffPair, MosParams, NortonTail, pair_response
from models.distortion import cycle_phases, fourier_series, thd_of
from models.full_region_dc import FullPairDc, pair_full_dc
from procedures.fitting.core import ParamSpec
from procedures.fitting.nodal_dc import NodalSolver, WarmStarts
from procedures.fitting.stage_netlist import StageParts, held_levels, stage_netlist
from procedures.predict.distortion import BJT_REVERSE_BETA
from procedures.predict.mapping import dc_pair, mirror_device, operating_point, small_signal_circuit

N_SAMPLES = 256
"""Instants per period of the cycle (harmonics above 128 alias: below 1e-9 of the fundamental in the linear range)."""


@dataclass(frozen=True)
class StageLevels:
    """Output levels (V) at each pair of pin levels."""

    vo1: np.ndarray
    vo2: np.ndarray

    @property
    def vod(self) -> np.ndarray:
        out: np.ndarray = self.vo1 - self.vo2
        return out


def is_plain_pair(board: BoardConfig) -> bool:
    """True for the resistive pair without cascode (:mod:`procedures.fitting.transfer`'s model)."""
    return board.load_type == "resistive" and not board.cascode


def _simple_mirror(board: BoardConfig) -> bool:
    return (board.load_type == "active" and not board.cascode and board.mirror_cascode_bias_v is None
            and board.second_stage is None)


class _MirrorBackend:
    """The simple mirror through :func:`models.full_region_dc.pair_full_dc`, warm-started."""

    def __init__(self, board: BoardConfig) -> None:
        self.board = board
        self.warm = WarmStarts()

    def levels(self, v1: np.ndarray, v2: np.ndarray, parts: StageParts) -> tuple[np.ndarray, np.ndarray]:
        b = self.board
        load = CurrentMirror(mirror_device(b), v_cc=b.vcc_v, r_out=parts.r_load, v_return=b.load_return_v)

        def run(start: FullPairDc | None) -> FullPairDc:
            return pair_full_dc(v1, v2, parts.pair, parts.tail, load, beta_r=BJT_REVERSE_BETA, start=start)

        key = self.warm.key(v1, v2)
        last = self.warm.get(key)
        dc = None
        if isinstance(last, FullPairDc):
            try:
                dc = run(last)
            except DcTransferError:
                dc = None
        if dc is None:
            try:
                dc = run(pair_full_dc(b.bias_v, b.bias_v, parts.pair, parts.tail, load, beta_r=BJT_REVERSE_BETA))
            except DcTransferError:
                dc = run(None)  # the model's own starts
        self.warm.put(key, dc)
        return dc.vo1, dc.vo2


class _NodalBackend:
    """Any stage through the nodal solve, the solver rebuilt (from the last one's solutions) when a part changes."""

    def __init__(self, board: BoardConfig) -> None:
        self.board = board
        self.rest_held = np.array(held_levels(board))
        self._key: StageParts | None = None
        self._solver: NodalSolver | None = None

    def solver(self, parts: StageParts) -> NodalSolver:
        if self._solver is None or parts != self._key:
            net, guess = stage_netlist(self.board, parts)
            self._solver = NodalSolver(net, parts.pair.vt, BJT_REVERSE_BETA, self.rest_held, guess, self._solver)
            self._key = parts
        return self._solver

    def levels(self, v1: np.ndarray, v2: np.ndarray, parts: StageParts) -> tuple[np.ndarray, np.ndarray]:
        s = self.solver(parts)
        held = np.tile(self.rest_held, (v1.size, 1))
        held[:, 0], held[:, 1] = v1.ravel(), v2.ravel()
        u = s.solve(held)
        names = s.names
        return (np.reshape(u[:, names.index("out1")], v1.shape), np.reshape(u[:, names.index("out2")], v1.shape))


class CircuitTransferModel:
    """vo1, vo2 of the whole stage at given pin levels and parameter values (module docstring)."""

    def __init__(self, board: BoardConfig) -> None:
        self.board = board
        self.op = operating_point(board)
        self.pair, self.tail = dc_pair(board)
        self.bjt = board.is_bjt
        self.backend: _MirrorBackend | _NodalBackend = \
            _MirrorBackend(board) if _simple_mirror(board) else _NodalBackend(board)
        self.frequency_hz: float | None = None
        self._dynamic: dict[float, np.ndarray] = {}
        self.specs = self._specs()
        self.nominal = {s.name: s.nominal for s in self.specs}

    def _specs(self) -> list[ParamSpec]:
        b = self.board
        if self.bjt:
            specs = [ParamSpec("vt", "V", b.vt_v, 1e-3, 1.0, b.vt_v, "thermal voltage kT/q")]
        else:
            self.v_ov_nominal = float(np.mean([s.device.v_ov for s in self.op.sides]))
            specs = [ParamSpec("v_ov", "V", self.v_ov_nominal, 1e-3, 10.0, self.v_ov_nominal,
                               "overdrive V_GS - V_th of the pair at rest")]
        if b.degeneration_r_ohm > 0:
            specs.append(ParamSpec("R_E", "Ohm", b.degeneration_r_ohm, 0.0, math.inf, b.degeneration_r_ohm,
                                   "emitter/source degeneration per side"))
        i_nom = float(self.op.i_tail)
        r_l = b.load_r_ohm
        specs += [ParamSpec("i_tail", "A", i_nom, 0.0, math.inf, i_nom, "DC tail current at rest"),
                  ParamSpec("R_L", "Ohm", r_l, 0.0, math.inf, r_l,
                            "load resistor" if b.load_type == "resistive" else "R1, output 2 to the load return")]
        return specs

    def parts(self, p: Mapping[str, float]) -> StageParts:
        """The pair, tail and load resistor at the parameters ``p`` (missing names: nominal)."""
        q = {**self.nominal, **p}
        devs = self.pair.devices
        if not self.bjt:
            k = (self.v_ov_nominal / q["v_ov"]) ** 2
            d1, d2 = devs
            if isinstance(d1, MosParams) and isinstance(d2, MosParams):  # always, for a MOS pair
                devs = (replace(d1, kp=d1.kp * k), replace(d2, kp=d2.kp * k))
        r_degen = self.pair.r_degen + (q["R_E"] - self.board.degeneration_r_ohm if "R_E" in q else 0.0)
        pair = DiffPair(devs, q.get("vt", self.board.vt_v), r_source=self.pair.r_source, r_degen=r_degen,
                        cascode=self.pair.cascode)
        t = self.tail
        g = (self.op.v_tail - t.v_ee) / t.r_out if math.isfinite(t.r_out) else 0.0
        return StageParts(pair, NortonTail(q["i_tail"] - g, r_out=t.r_out, v_ee=t.v_ee), q["R_L"])

    def solve(self, v1: np.ndarray, v2: np.ndarray, p: Mapping[str, float]) -> StageLevels:
        """Output levels at the pin levels ``v1, v2`` (V, arrays broadcast together) for parameters ``p``."""
        a1, a2 = np.broadcast_arrays(np.asarray(v1, float), np.asarray(v2, float))
        vo1, vo2 = self.backend.levels(np.ascontiguousarray(a1), np.ascontiguousarray(a2), self.parts(p))
        return StageLevels(vo1, vo2)

    def in_region(self, levels: StageLevels) -> np.ndarray:
        """True everywhere: the device laws hold in every region (module docstring)."""
        return np.ones(np.shape(levels.vo1), bool)

    def dynamic_factors(self, n_harmonics: int) -> np.ndarray:
        """``|Add(k f)/Add(0)|`` for k = 0..``n_harmonics`` at :attr:`frequency_hz` (ones when it is not set)."""
        f = self.frequency_hz
        if f is None or not f > 0:
            return np.ones(n_harmonics + 1)
        if f not in self._dynamic:
            s1, s2, load, tail = small_signal_circuit(self.board, self.op)
            add = pair_response(np.arange(n_harmonics + 1) * f, s1, s2, load, tail).gains().add
            self._dynamic[f] = np.abs(np.asarray(add) / np.asarray(add)[0])
        return self._dynamic[f]

    def cycle(self, bias: float, amplitudes: np.ndarray, p: Mapping[str, float], n_harmonics: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fundamental gain ``|Y_1|/A`` (V/V) and THD (ratio) of vod for the pin drive ``bias +- (A/2) cos theta``
        per peak amplitude A in ``amplitudes`` (V), the dynamic factors applied, and where the model holds (all).
        The instants ``theta`` and ``2 pi - theta`` have the same inputs: half a period is solved."""
        a = np.asarray(amplitudes, float)
        half = cycle_phases(N_SAMPLES)[: N_SAMPLES // 2 + 1]
        v = 0.5 * a[:, None] * np.cos(half)[None, :]
        y = self.solve(bias + v, bias - v, p).vod
        full = np.concatenate([y, y[:, -2:0:-1]], axis=1)
        h = fourier_series(full, n_harmonics) * self.dynamic_factors(n_harmonics)[None, :]
        return np.abs(h[:, 1]) / a, thd_of(h), np.ones(a.shape, bool)

    @property
    def kind(self) -> str:
        b = self.board
        dev = "BJT (Gummel-Poon)" if isinstance(self.pair.devices[0], BjtParams) else "MOS (level 1)"
        if b.load_type == "resistive":
            stage = "cascoded pair, resistive loads"
        elif b.mirror_cascode_bias_v is not None:
            stage = "cascoded pair and cascoded mirror" if b.cascode else "cascoded mirror load"
        elif b.second_stage is not None:
            stage = "mirror load and second stage"
        else:
            stage = "current-mirror load"
        return f"{dev}, {stage}, whole stage solved in every region"
