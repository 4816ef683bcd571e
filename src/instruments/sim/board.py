"""The simulated board: a transistor-level differential pair built from a board config and solved numerically.

This is the physics stand-in of the simulated bench. It builds a netlist from a
:class:`~instruments.board_config.BoardConfig` (supply, input bias network, the pair with mismatch,
degeneration, a Norton tail source with R and C, resistive or current-mirror load, optional cascode, load
capacitance) and solves it with :mod:`instruments.sim.circuit`. It deliberately does not use ``models``:
its numbers come from device equations, so tests of the models and procedures against it are not
circular.

Board nodes: ``in1``/``in2`` are the input pins (the generator drives them, the scope probes them as v1, v2);
``out1``/``out2`` the outputs (vo1 is the collector/drain of the device whose base/gate is in1). Internal
nodes: ``b1``/``b2`` (base/gate, behind ``source_r_ohm``), ``e1``/``e2`` (emitter/source, above the
degeneration resistor), ``tail``, ``c1``/``c2`` (pair collector/drain; the cascode emitter/source when
cascoded), ``vcc``, ``vee``, ``bias``, ``ret`` (load return), ``casc`` (cascode bias). Devices: ``Q1``/``Q2``
(or ``M1``/``M2``) the pair, ``Q3``/``Q4`` the mirror (``Q3`` diode-connected at out1), ``Q5``/``Q6`` the
cascode. The tail is an ideal ``I_EE`` from ``tail`` to ``vee`` in parallel with ``R_EE`` and ``C_T``,
so the DC tail current is ``I_EE + (V_tail - V_EE)/R_EE``.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike

from ..board_config import BoardConfig, DeviceParams
from .circuit import GROUND, BJTModel, ConvergenceError, MNASystem, MOSModel, Netlist

T = TypeVar("T")

REVERSE_BETA = 1.0
"""Reverse current gain beta_R of every BJT (not in the board config; a typical discrete value). It only
matters in saturation, where it sets how much base current a saturated transistor draws."""

PIN_NODES = ("in1", "in2")
OUTPUT_NODES = ("out1", "out2")
_T = np.array([[1.0, -1.0], [0.5, 0.5]])
_T_INV = np.array([[0.5, 1.0], [-0.5, 1.0]])


@dataclass(frozen=True)
class Drive:
    """One generator channel as a Thevenin source: EMF ``dc_v + Re(ac_v e^{j w t})`` (V, ac_v a complex
    peak phasor) behind ``source_r_ohm`` (Ohm). ``enabled=False`` is an open output relay."""

    dc_v: float
    ac_v: complex = 0j
    source_r_ohm: float = 50.0
    enabled: bool = True


@dataclass(frozen=True)
class _Attachment:
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


def build_netlist(cfg: BoardConfig, attachments: Sequence[_Attachment] = ()) -> Netlist:
    """The board's netlist, with generator channels (Thevenin sources) attached to its pins.

    Each attachment is one EMF with its series resistance feeding one pin, or both pins when they are tied
    (then ``in2`` is the same node as ``in1``).
    """
    nl = Netlist()
    for att in attachments:
        if len(att.pins) == 2:
            nl.alias("in2", "in1")
    nl.vsource("Vcc", "vcc", GROUND, cfg.vcc_v)
    nl.vsource("Vee", "vee", GROUND, cfg.vee_v)
    for att in attachments:
        nl.vsource(att.name, att.pins[0], GROUND, att.dc_v, att.ac_v, att.r_ohm)
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
    # tail: Norton source I_EE || R_EE || C_T from the tail node to vee
    nl.isource("tail", "vee", cfg.tail_current_a)
    nl.resistor("tail", "vee", cfg.tail_r_ohm)
    nl.capacitor("tail", "vee", cfg.tail_c_f)

    vt = cfg.vt_v
    dev = cfg.device
    if cfg.cascode:
        assert cfg.cascode_bias_v is not None
        nl.vsource("Vcasc", "casc", GROUND, cfg.cascode_bias_v)
    else:
        nl.alias("c1", "out1")
        nl.alias("c2", "out2")
    if dev.is_bjt:
        is1, is2 = _split(dev.is_a, cfg.mismatch_device)  # type: ignore[arg-type]
        bf1, bf2 = _split(dev.beta, cfg.mismatch_beta)  # type: ignore[arg-type]
        nl.bjt("Q1", "c1", "b1", "e1", _bjt(dev, vt, is1, bf1))
        nl.bjt("Q2", "c2", "b2", "e2", _bjt(dev, vt, is2, bf2))
        if cfg.cascode:
            nl.bjt("Q5", "out1", "casc", "c1", _bjt(dev, vt))
            nl.bjt("Q6", "out2", "casc", "c2", _bjt(dev, vt))
    else:
        kp1, kp2 = _split(dev.kp_a_per_v2, cfg.mismatch_device)  # type: ignore[arg-type]
        vth = dev.vth_v
        assert vth is not None
        nl.mos("M1", "c1", "b1", "e1", _mos(dev, kp1, vth - cfg.mismatch_vth_v / 2.0))
        nl.mos("M2", "c2", "b2", "e2", _mos(dev, kp2, vth + cfg.mismatch_vth_v / 2.0))
        if cfg.cascode:
            nl.mos("M5", "out1", "casc", "c1", _mos(dev))
            nl.mos("M6", "out2", "casc", "c2", _mos(dev))

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
        if mirror.is_bjt:
            nl.bjt("Q3", "out1", "out1", "vcc", _bjt(mirror, vt))
            nl.bjt("Q4", "out2", "out1", "vcc", _bjt(mirror, vt))
        else:
            nl.mos("M3", "out1", "out1", "vcc", _mos(mirror))
            nl.mos("M4", "out2", "out1", "vcc", _mos(mirror))
        nl.resistor("out2", "ret", cfg.load_r_ohm)
    c1, c2 = _split(cfg.load_c_f, cfg.mismatch_load_c)
    nl.capacitor("out1", GROUND, c1)
    nl.capacitor("out2", GROUND, c2)
    return nl


class SteadyState:
    """A solved periodic steady state: Fourier coefficients of every node voltage at one frequency.

    ``v(t) = Re(sum_k c_k e^{j k w t})``, k = 0..K, c_0 real (V), ``w = 2 pi freq_hz``, t in s with the
    generator phasors referenced to t = 0. Diagnostics: ``iterations`` (Newton iterations),
    ``continuation_steps`` (0 unless amplitude stepping was needed), ``solve_time_s``.
    """

    _REL_TOL = 1e-9  # interpolation error bound, relative to sum_k>=1 |c_k|
    _LINEAR_L = 1 << 17
    _CHUNK = 32768  # samples per evaluation chunk

    def __init__(self, freq_hz: float, coeffs: np.ndarray, index: Mapping[str, int], iterations: int = 0,
                 continuation_steps: int = 0, solve_time_s: float = 0.0) -> None:
        """``coeffs`` (rows, K+1) complex: row ``index[name]`` holds c_0..c_K of that node at ``freq_hz``.

        Public so that other parts of the simulated bench can wrap any periodic waveform (e.g. a scope
        channel's filtered tone) and reuse the bounded-error evaluation.
        """
        self.freq_hz = float(freq_hz)
        self._c = coeffs
        self._index = dict(index)
        self.iterations = iterations
        self.continuation_steps = continuation_steps
        self.solve_time_s = solve_time_s
        self._tables: dict[int, tuple[int, np.ndarray]] = {}
        self._lock = threading.Lock()

    @property
    def n_harmonics(self) -> int:
        """Highest harmonic K held."""
        return self._c.shape[1] - 1

    @property
    def nodes(self) -> list[str]:
        """Names accepted by :meth:`harmonics` and :meth:`evaluate`."""
        return sorted(self._index)

    def _row(self, node: str) -> int:
        try:
            return self._index[node]
        except KeyError:
            raise KeyError(f"no node {node!r} in the simulated board (known: {', '.join(self.nodes)})") from None

    def harmonics(self, node: str) -> np.ndarray:
        """Complex coefficients c_0..c_K (peak phasors) of ``node``; c_0 is the DC level.

        Node voltages are in V. ``"I(G<j>)"`` is the current (A) flowing from the pin(s) into generator
        channel j, i.e. minus the current the channel delivers; ``"I(Vcc)"`` likewise for the supply.
        """
        return self._c[self._row(node)].copy()

    def thd(self, node: str) -> float:
        """Total harmonic distortion ``sqrt(sum_{k>=2} |c_k|^2) / |c_1|`` of a node (ratio, not %)."""
        c = self._c[self._row(node)]
        return float(np.sqrt(np.sum(np.abs(c[2:]) ** 2)) / np.abs(c[1]))

    def _table(self, row: int) -> tuple[int, np.ndarray]:
        """Interpolation table of one period of a node: ``(L, tab)``, tab (L+1, ncol) holding per interval
        the Horner coefficients in the local coordinate s in [0, 1).

        Error bounds in the phase variable theta (spacing h = 2 pi / L), with ``max|v^(n)| <= sum_k k^n
        |c_k|``: linear interpolation errs by at most ``h^2/8 max|v''|``, cubic Hermite interpolation
        (values and slopes) by at most ``h^4/384 max|v''''|`` (Burden and Faires, "Numerical Analysis",
        sections 3.1 and 3.4). Linear interpolation on ``_LINEAR_L`` points (2 coefficients gathered per
        sample) is used when its bound is below ``_REL_TOL * sum_k>=1 |c_k|``, otherwise cubic Hermite on
        the smallest power-of-two L that meets the same bound (4 coefficients).
        """
        with self._lock:
            hit = self._tables.get(row)
            if hit is not None:
                return hit
            c = self._c[row]
            K = len(c) - 1
            k = np.arange(K + 1)
            kf = k.astype(float)
            tol = self._REL_TOL * float(np.sum(np.abs(c[1:])))
            d2 = float(np.sum(np.abs(c) * kf**2))
            d4 = float(np.sum(np.abs(c) * kf**4))
            linear = (2 * np.pi / self._LINEAR_L) ** 2 / 8.0 * d2 <= tol
            if linear:
                L = self._LINEAR_L
            else:
                L = 64
                while L < 2 * K + 2 or (2 * np.pi / L) ** 4 / 384.0 * d4 > tol:
                    L *= 2
            spec = np.zeros(L // 2 + 1, dtype=complex)
            spec[: K + 1] = c * (L / 2.0)
            spec[0] = c[0].real * L
            f = np.fft.irfft(spec, L)
            f1 = np.roll(f, -1)
            if linear:
                tab = np.empty((L + 1, 2))
                tab[:L, 0] = f
                tab[:L, 1] = f1 - f
            else:
                dspec = np.zeros_like(spec)
                dspec[: K + 1] = 1j * k * c * (L / 2.0)
                df = np.fft.irfft(dspec, L) * (2 * np.pi / L)  # h * dv/dtheta
                df1 = np.roll(df, -1)
                tab = np.empty((L + 1, 4))
                tab[:L, 0] = f
                tab[:L, 1] = df
                tab[:L, 2] = 3.0 * (f1 - f) - 2.0 * df - df1
                tab[:L, 3] = 2.0 * (f - f1) + df + df1
            tab[L] = tab[0]  # u*L may round up to L
            self._tables[row] = (L, tab)
            return L, tab

    def evaluate(self, node: str, t: ArrayLike) -> np.ndarray:
        """Voltage of ``node`` at times ``t`` (s, any shape), V.

        Interpolated from a table of one period whose error is bounded (see :meth:`_table`) by 1e-9 of the
        sum of the node's harmonic amplitudes; cost is a few vector operations per sample.
        """
        return self.evaluate_nodes([node], t)[0]

    def evaluate_nodes(self, nodes: Sequence[str], t: ArrayLike) -> np.ndarray:
        """Voltages of several nodes at the same times: array (len(nodes), *t.shape), V.

        Shares the phase computation between nodes, so it is the fast path for a 4-channel record.
        """
        t = np.asarray(t, dtype=float)
        rows = [self._row(nd) for nd in nodes]
        out = np.empty((len(rows),) + t.shape)
        if self.freq_hz == 0.0 or self.n_harmonics == 0:
            for j, r in enumerate(rows):
                out[j] = self._c[r, 0].real
            return out
        tables = []
        for r in rows:
            tables.append(self._table(r) if np.any(self._c[r, 1:]) else (0, None))
        flat_t = t.reshape(-1)
        flat_out = out.reshape(len(rows), -1)
        ch = self._CHUNK
        buf_u = np.empty(min(ch, flat_t.size))
        buf_g = {n: np.empty((buf_u.size, n)) for n in (2, 4)}
        buf_w = np.empty_like(buf_u)
        idx = {L: np.empty(buf_u.shape, dtype=np.intp) for L, _ in tables if L}
        frac = {L: np.empty_like(buf_u) for L in idx}
        # Work in cache-sized chunks: the temporaries stay in L2 and no large arrays are allocated.
        for a in range(0, flat_t.size, ch):
            b = min(a + ch, flat_t.size)
            u, w = buf_u[: b - a], buf_w[: b - a]
            np.multiply(flat_t[a:b], self.freq_hz, out=u)  # phase in cycles
            np.floor(u, out=w)
            u -= w
            for L in idx:
                x, i = frac[L][: b - a], idx[L][: b - a]
                np.multiply(u, L, out=x)
                np.floor(x, out=w)
                x -= w
                i[...] = w
            for j, (L, tab) in enumerate(tables):
                v = flat_out[j, a:b]
                if tab is None:
                    v[...] = self._c[rows[j], 0].real
                    continue
                ncol = tab.shape[1]
                i, sx, g = idx[L][: b - a], frac[L][: b - a], buf_g[ncol][: b - a]
                np.take(tab, i, axis=0, out=g)  # one gather of each sample's coefficients
                np.multiply(g[:, ncol - 1], sx, out=v)
                for col in range(ncol - 2, 0, -1):
                    v += g[:, col]
                    v *= sx
                v += g[:, 0]
        return out


class SimBoard:
    """A simulated differential-pair board: netlist from a :class:`BoardConfig`, solved numerically.

    Thread-safe; steady-state solutions are cached (LRU) because the scope asks for the same state
    repeatedly.
    """

    def __init__(self, cfg: BoardConfig, cache_size: int = 32) -> None:
        self.config = cfg
        self._cache: OrderedDict[tuple, SteadyState] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.RLock()
        self._truth: dict[float | None, tuple[MNASystem, np.ndarray]] = {}
        self._systems: dict[tuple, MNASystem] = {}
        self._dc: dict[tuple, np.ndarray] = {}

    def _named(self, solve: Callable[[], T]) -> T:
        """``solve()``, with a :class:`ConvergenceError` re-raised naming the board config it came from."""
        try:
            return solve()
        except ConvergenceError as exc:
            raise ConvergenceError(f"{self.config.source}: the simulated board: {exc}") from None

    @classmethod
    def from_config(cls, cfg: BoardConfig) -> SimBoard:
        """Build the simulated board of a board config."""
        return cls(cfg)

    @property
    def output_noise_v_per_rthz(self) -> float:
        """White noise density the scope simulator adds at each output node, V/rtHz (from the config)."""
        return self.config.noise_v_per_rthz

    # ---- truth: operating point and small-signal matrices

    def _rest_system(self, source_r_ohm: float | None) -> tuple[MNASystem, np.ndarray]:
        """The board at rest and its DC solution: both pins held at bias_v through ``source_r_ohm``
        (ideal sources named Vin1, Vin2), or with ``None`` both pins left to the bias network."""
        key = None if source_r_ohm is None else float(source_r_ohm)
        with self._lock:
            if key not in self._truth:
                att = () if key is None else tuple(
                    _Attachment(f"Vin{k}", (f"in{k}",), self.config.bias_v, 0j, key) for k in (1, 2))
                system = build_netlist(self.config, att).compile()
                self._truth[key] = (system, self._named(system.solve_dc))
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
        cfg = self.config
        out["tail.i_a"] = cfg.tail_current_a + (out["tail"] - out["vee"]) / cfg.tail_r_ohm
        return out

    def small_signal_h(self, freq_hz: ArrayLike, source_r_ohm: float = 0.0) -> np.ndarray:
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
        return X[:, out, :].reshape(f.shape + (2, 2))

    def small_signal_s(self, freq_hz: ArrayLike, source_r_ohm: float = 0.0) -> np.ndarray:
        """The truth: mixed-mode matrix ``S = [[Add, Acd], [Adc, Acc]]`` with ``[vod; voc] = S [vid; vic]``,
        shape (*freq.shape, 2, 2), complex; ``S = T H T^-1``, ``T = [[1, -1], [1/2, 1/2]]``."""
        return _T @ self.small_signal_h(freq_hz, source_r_ohm) @ _T_INV

    # ---- large signal

    def _attachments(self, drives: Sequence[Drive], wiring: tuple[int | None, int | None],
                     with_ac: bool) -> tuple[_Attachment, ...]:
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
            atts.append(_Attachment(f"G{j}", tuple(pins), float(d.dc_v), complex(d.ac_v) if with_ac else 0j,
                                    float(d.source_r_ohm)))
        return tuple(atts)

    def _system(self, atts: tuple[_Attachment, ...]) -> tuple[MNASystem, np.ndarray]:
        """Compiled system and DC solution for a set of attachments (AC phasors included in the system)."""
        dc_key = tuple((a.name, a.pins, a.dc_v, a.r_ohm) for a in atts)
        with self._lock:
            key = tuple((a.name, a.pins, a.dc_v, a.ac_v, a.r_ohm) for a in atts)
            system = self._systems.get(key)
            if system is None:
                system = build_netlist(self.config, atts).compile()
                if len(self._systems) > 4 * self._cache_size:
                    self._systems.clear()
                self._systems[key] = system
            x = self._dc.get(dc_key)
            if x is None:
                x = self._named(system.solve_dc)
                if len(self._dc) > 4 * self._cache_size:
                    self._dc.clear()
                self._dc[dc_key] = x
            return system, x

    def steady_state(self, freq_hz: float, drives: Sequence[Drive], wiring: tuple[int | None, int | None],
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
        key = (float(freq_hz), tuple(drives), tuple(wiring), int(n_harmonics))
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        t0 = time.perf_counter()
        atts = self._attachments(drives, wiring, with_ac=True)
        ac = freq_hz > 0.0 and any(a.ac_v != 0 for a in atts)
        if not ac:
            atts = tuple(_Attachment(a.name, a.pins, a.dc_v, 0j, a.r_ohm) for a in atts)
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
