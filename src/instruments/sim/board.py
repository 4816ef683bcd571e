"""The simulated board: a transistor-level differential pair built from a board config and solved numerically.

This is the physics stand-in of the simulated bench. It builds a netlist from a
:class:`~instruments.board_config.BoardConfig` (:mod:`.board_netlist`: supply, input bias network, the pair
with mismatch, degeneration, a Norton tail source with R and C, resistive or current-mirror load, optional
cascode, load capacitance) and solves it with the circuit engine of :mod:`instruments.sim.circuit`. It
deliberately does not use ``models``: its numbers come from device equations, so tests of the models and
procedures against it are not circular. The node names are listed in :mod:`.board_netlist`.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike

from ..board_config import BoardConfig
from .arrays import ComplexArray, FloatArray
from .board_netlist import Attachment, build_netlist
from .circuit import ConvergenceError, MNASystem, Netlist
from .spice_netlist import build_spice_netlist
from .steady_state import SteadyState

T = TypeVar("T")

PIN_NODES = ("in1", "in2")
OUTPUT_NODES = ("out1", "out2")
_T = np.array([[1.0, -1.0], [0.5, 0.5]])
_T_INV = np.array([[0.5, 1.0], [-0.5, 1.0]])
Wiring = tuple[int | None, int | None]
"""(drive index feeding in1, drive index feeding in2); None leaves the pin to the bias network."""
_SystemKey = tuple[tuple[str, tuple[str, ...], float, complex, float], ...]  # attachments with AC phasors
_DcKey = tuple[tuple[str, tuple[str, ...], float, float], ...]  # attachments as the DC solution sees them
_LevelsKey = tuple[tuple[str, float], ...]  # (pin, DC EMF driving it), sorted: the DC levels of a drive
_StateKey = tuple[float, tuple["Drive", ...], tuple[int | None, ...], int]


@dataclass(frozen=True)
class Drive:
    """One generator channel as a Thevenin source: EMF ``dc_v + Re(ac_v e^{j w t})`` (V, ac_v a complex
    peak phasor) behind ``source_r_ohm`` (Ohm). ``enabled=False`` is an open output relay."""

    dc_v: float
    ac_v: complex = 0j
    source_r_ohm: float = 50.0
    enabled: bool = True


class SimBoard:
    """A simulated differential-pair board: netlist from a :class:`BoardConfig`, solved numerically.

    Thread-safe; steady-state solutions are cached (LRU) because the scope asks for the same state
    repeatedly.
    """

    def __init__(self, cfg: BoardConfig, cache_size: int = 32) -> None:
        self.config = cfg
        self._cache: OrderedDict[_StateKey, SteadyState] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.RLock()
        self._truth: dict[float | None, tuple[MNASystem, FloatArray]] = {}
        self._systems: dict[_SystemKey, MNASystem] = {}
        self._dc: dict[_DcKey, FloatArray] = {}
        self._by_levels: dict[_LevelsKey, tuple[MNASystem, FloatArray]] = {}

    def _named(self, solve: Callable[[], T]) -> T:
        """``solve()``, with a :class:`ConvergenceError` re-raised naming the board config it came from."""
        try:
            return solve()
        except ConvergenceError as exc:
            nb = self.config.netlist
            if nb is None:
                raise ConvergenceError(f"{self.config.source}: the simulated board: {exc}") from None
            devices = [e for e in nb.circuit.elements if e.kind in "DQM"]
            where = f"{nb.path}:{devices[0].where.line}" if devices else str(nb.path)
            raise ConvergenceError(f"{where}: the circuit has no DC operating point the simulated board can find "
                                   f"(from its first device on, {len(devices)} devices): {exc}") from None

    def _build(self, attachments: Sequence[Attachment]) -> Netlist:
        """The board's engine netlist with ``attachments``: from its SPICE netlist when the config gives one."""
        if self.config.netlist is not None:
            return build_spice_netlist(self.config.netlist, self.config.vt_v, attachments)
        return build_netlist(self.config, attachments)

    @classmethod
    def from_config(cls, cfg: BoardConfig) -> SimBoard:
        """Build the simulated board of a board config."""
        return cls(cfg)

    @property
    def output_noise_v_per_rthz(self) -> float:
        """White noise density the scope simulator adds at each output node, V/rtHz (from the config)."""
        return self.config.noise_v_per_rthz

    # ---- truth: operating point and small-signal matrices

    def _rest_system(self, source_r_ohm: float | None) -> tuple[MNASystem, FloatArray]:
        """The board at rest and its DC solution: both pins held at bias_v through ``source_r_ohm``
        (ideal sources named Vin1, Vin2), or with ``None`` both pins left to the bias network."""
        key = None if source_r_ohm is None else float(source_r_ohm)
        with self._lock:
            if key not in self._truth:
                att = () if key is None else tuple(
                    Attachment(f"Vin{k}", (f"in{k}",), self.config.bias_v, 0j, key) for k in (1, 2))
                system = self._build(att).compile()
                self._truth[key] = (system, self._solve_dc(system, att))
            return self._truth[key]

    def operating_point(self, source_r_ohm: float = 0.0, pins_driven: bool = True) -> dict[str, float]:
        """The board at rest: both pins held at the bias voltage (the generator's DC offset) through
        ``source_r_ohm``, or with ``pins_driven=False`` left to the bias network (generator outputs off).

        Keys: node names (V); ``"<device>.<quantity>"``: ``ic``, ``ib``, ``ie`` (A, device frame, positive in
        normal operation for NPN and PNP alike), ``vbe``, ``vbc``, ``vce`` (V) for BJTs, ``id`` (A), ``vgs``,
        ``vds`` (V), ``gm``, ``gds`` (S) for MOSFETs; ``"tail.i_a"`` the total tail current (A).
        """
        system, x = self._rest_system(source_r_ohm if pins_driven else None)
        out = {name: float(x[i]) for name, i in system.index.items()}
        for dev, q in system.report(x).items():
            for k, v in q.items():
                out[f"{dev}.{k}"] = v
        out.update(self._tail_current(out))
        return out

    def _tail_current(self, op: dict[str, float]) -> dict[str, float]:
        """``{"tail.i_a": total tail current (A)}`` of a TOML board: the Norton source and its resistor, both
        split sinks, or the tail transistor's collector/drain current; nothing for a netlist board."""
        cfg = self.config
        if cfg.netlist is not None:
            return {}
        if cfg.tail_kind == "transistor":
            return {"tail.i_a": op.get("Q10.ic", op.get("M10.id", math.nan))}
        if cfg.tail_kind == "split":
            return {"tail.i_a": cfg.tail_current_a + (op["e1"] + op["e2"] - 2.0 * op["vee"]) / (2.0 * cfg.tail_r_ohm)}
        return {"tail.i_a": cfg.tail_current_a + (op["tail"] - op["vee"]) / cfg.tail_r_ohm}

    def small_signal_h(self, freq_hz: ArrayLike, source_r_ohm: float = 0.0) -> ComplexArray:
        """Nodal small-signal matrix H, ``[vo1; vo2] = H [v1; v2]``, shape (*freq.shape, 2, 2), complex.

        The board is linearised at its operating point (pins held at bias_v through ``source_r_ohm``, which
        only shifts the DC point by the base-current drop) and driven by ideal voltage sources at the pins,
        so H relates pin voltages and is a property of the board alone.
        """
        f = np.asarray(freq_hz, dtype=float)
        system, x = self._rest_system(source_r_ohm)
        # Same netlist with ideal pin sources: identical node layout, so x's node voltages apply.
        ideal = self._rest_system(0.0)[0] if source_r_ohm else system
        X = ideal.solve_ac(x, f.ravel(), ideal.source_rhs(["Vin1", "Vin2"]))
        out = np.array([ideal.index[n] for n in OUTPUT_NODES])
        h: ComplexArray = X[:, out, :].reshape(f.shape + (2, 2))
        return h

    def small_signal_s(self, freq_hz: ArrayLike, source_r_ohm: float = 0.0) -> ComplexArray:
        """The truth: mixed-mode matrix ``S = [[Add, Acd], [Adc, Acc]]`` with ``[vod; voc] = S [vid; vic]``,
        shape (*freq.shape, 2, 2), complex; ``S = T H T^-1``, ``T = [[1, -1], [1/2, 1/2]]``."""
        s: ComplexArray = _T @ self.small_signal_h(freq_hz, source_r_ohm) @ _T_INV
        return s

    # ---- large signal

    def _attachments(self, drives: Sequence[Drive], wiring: Wiring, with_ac: bool) -> tuple[Attachment, ...]:
        if len(wiring) != 2:
            raise ValueError("wiring must be (drive index for in1, drive index for in2)")
        used: dict[int, list[str]] = {}
        for pin, j in zip(PIN_NODES, wiring):
            if j is None:
                continue
            if not 0 <= j < len(drives):
                raise ValueError(f"wiring: drive index {j} out of range for {len(drives)} drives")
            if drives[j].enabled:
                used.setdefault(j, []).append(pin)
        atts = []
        for j, pins in sorted(used.items()):
            d = drives[j]
            if not d.source_r_ohm >= 0.0:
                raise ValueError(f"drive {j}: source resistance must be >= 0")
            atts.append(Attachment(f"G{j}", tuple(pins), float(d.dc_v), complex(d.ac_v) if with_ac else 0j,
                                    float(d.source_r_ohm)))
        return tuple(atts)

    def _system(self, atts: tuple[Attachment, ...]) -> tuple[MNASystem, FloatArray]:
        """Compiled system and DC solution for a set of attachments (AC phasors included in the system)."""
        dc_key: _DcKey = tuple((a.name, a.pins, a.dc_v, a.r_ohm) for a in atts)
        with self._lock:
            key: _SystemKey = tuple((a.name, a.pins, a.dc_v, a.ac_v, a.r_ohm) for a in atts)
            system = self._systems.get(key)
            if system is None:
                system = self._build(atts).compile()
                if len(self._systems) > 4 * self._cache_size:
                    self._systems.clear()
                self._systems[key] = system
            x = self._dc.get(dc_key)
            if x is None:
                x = self._solve_dc(system, atts)
                if len(self._dc) > 4 * self._cache_size:
                    self._dc.clear()
                self._dc[dc_key] = x
            return system, x

    def _solve_dc(self, system: MNASystem, atts: Sequence[Attachment]) -> FloatArray:
        """DC solution of ``system`` (the board with ``atts``), Newton starting from the solution of an
        earlier system of this board with the same DC levels on the same pins, if any (they differ only in
        source resistances, e.g. the rest point's ideal sources and the generator's 50 Ohm)."""
        levels: _LevelsKey = tuple(sorted((pin, a.dc_v) for a in atts for pin in a.pins))
        with self._lock:
            donor = self._by_levels.get(levels)
        start = None
        if donor is not None:
            d_sys, d_x = donor
            start = np.zeros(system.size)
            for name, i in system.index.items():
                j = d_sys.index.get(name)
                if j is not None and i >= 0 and j >= 0:
                    start[i] = d_x[j]
        x = self._named(lambda: system.solve_dc(x_start=start))
        with self._lock:
            if len(self._by_levels) > 4 * self._cache_size:
                self._by_levels.clear()
            self._by_levels.setdefault(levels, (system, x))
        return x

    def steady_state(self, freq_hz: float, drives: Sequence[Drive], wiring: Wiring,
                     n_harmonics: int = 32) -> SteadyState:
        """Periodic steady state of the board driven by generator channels.

        ``drives[j]`` is channel j's Thevenin source; ``wiring = (index feeding in1, index feeding in2)``,
        the same index twice ties both pins to that channel's output, None (or a disabled drive) leaves the
        pin to the bias network. ``freq_hz = 0`` or all ``ac_v = 0`` solves DC only (the ``ac_v`` are then
        ignored). Harmonics 0..``n_harmonics`` are kept. Results are cached (LRU).
        """
        if not (freq_hz >= 0.0 and math.isfinite(freq_hz)):
            raise ValueError(f"freq_hz must be finite and >= 0, got {freq_hz!r}")
        if int(n_harmonics) < 1:
            raise ValueError("n_harmonics must be >= 1")
        key: _StateKey = (float(freq_hz), tuple(drives), tuple(wiring), int(n_harmonics))
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        t0 = time.perf_counter()
        atts = self._attachments(drives, wiring, with_ac=True)
        ac = freq_hz > 0.0 and any(a.ac_v != 0 for a in atts)
        if not ac:
            atts = tuple(Attachment(a.name, a.pins, a.dc_v, 0j, a.r_ohm) for a in atts)
        system, x_dc = self._system(atts)
        K = int(n_harmonics)
        if ac:
            sol = self._named(lambda: system.solve_hb(float(freq_hz), K, x_dc))
            coeffs, its, steps = sol.X, sol.iterations, sol.continuation_steps
        else:
            coeffs = np.zeros((system.size, K + 1), dtype=complex)
            coeffs[:, 0] = x_dc
            its, steps = 0, 0
        index = {name: i for name, i in system.index.items()}
        for name, row in system.sources.items():
            index[f"I({name})"] = row
        ss = SteadyState(float(freq_hz), coeffs, index, its, steps, time.perf_counter() - t0)
        with self._lock:
            self._cache[key] = ss
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return ss
