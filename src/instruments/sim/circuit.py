"""A small nonlinear circuit engine: modified nodal analysis with BJTs and MOSFETs.

The circuit is written as ``G x + i(x) + C dx/dt = b(t)`` (modified nodal analysis, MNA; Ho, Ruehli,
Brennan, IEEE Trans. CAS 22(6), 1975): ``x`` holds the node voltages (V) and then one branch current per
voltage source (A), ``G`` and ``C`` are the linear conductance and capacitance stamps, ``i(x)`` the
currents flowing into the transistors' terminals and ``b`` the independent sources. Every KCL row sums the
currents *leaving* its node.

Analyses (DC and harmonic balance share one Newton kernel, :meth:`MNASystem._newton`):

* DC operating point: Newton-Raphson with SPICE junction limiting (``pnjlim``), falling back to source
  stepping and then gmin stepping (Nagel, "SPICE2: a computer program to simulate semiconductor
  circuits", UCB/ERL M520, 1975).
* Small-signal AC: the circuit linearised at an operating point, ``(J + j w C) X = B`` solved for many
  frequencies in one vectorised call.
* Periodic steady state under sinusoidal sources of one frequency: harmonic balance (HB). The linear part
  is reduced, harmonic by harmonic, to its impedance matrix seen from the transistor terminals ("ports"),
  which is the piecewise harmonic balance of Nakhla and Vlach (IEEE Trans. CAS 23(2), 1976); the
  nonlinear currents are evaluated in the time domain on an oversampled grid and Newton iterates on the
  Fourier coefficients of the port voltages with the exact Jacobian (conversion matrices built from the
  FFT of the device conductances), as in Kundert and Sangiovanni-Vincentelli, "Simulation of nonlinear
  circuits in the frequency domain", IEEE Trans. CAD 5(4), 1986, and Kundert, White and
  Sangiovanni-Vincentelli, "Steady-State Methods for Simulating Analog and Microwave Circuits", Kluwer
  1990 (the harmonic-balance chapters). Because capacitors are linear and solved exactly per harmonic, HB converges the same way
  at 1 Hz as at 100 MHz whatever the RC time constants are relative to the period.

Devices (:class:`BJTModel`, :class:`MOSModel`) follow textbook large-signal equations; their docstrings
cite the source of each.
"""

from __future__ import annotations

import abc
import contextlib
import ctypes
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import DiffbenchError

GROUND = "0"
GMIN_S = 1e-12  # conductance across every transistor junction / channel, as SPICE's GMIN
_EXP_ARG_MAX = 80.0  # exp() is continued linearly beyond this argument so no iterate can overflow
_EXP_ARG_MIN = -200.0
_ABSTOL_V = 1e-12
_RELTOL = 1e-12


class ConvergenceError(DiffbenchError):
    """The circuit engine could not find a DC or periodic steady-state solution."""


_BLAS_LOCAL: Callable[[int], int] | None | bool = False  # False: not looked up yet


def _blas_set_threads_local() -> Callable[[int], int] | None:
    """OpenBLAS's per-calling-thread thread-count setter (OpenBLAS >= 0.3.27), or None if unavailable."""
    global _BLAS_LOCAL
    if _BLAS_LOCAL is False:
        _BLAS_LOCAL = None
        try:
            with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
                paths = {line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line}
            for path in sorted(paths):
                fn = getattr(ctypes.CDLL(path), "openblas_set_num_threads_local", None)
                if fn is not None:
                    fn.restype, fn.argtypes = ctypes.c_int, [ctypes.c_int]
                    _BLAS_LOCAL = fn
                    break
        except OSError:
            pass
    return _BLAS_LOCAL  # type: ignore[return-value]


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Run the block with single-threaded BLAS in this thread only.

    The dense systems here are small (a few hundred unknowns); on a busy 2-core machine OpenBLAS's
    thread pool made each LU solve 4-10 times slower than one thread (measured: 69 ms vs 6.4 ms median at
    645 unknowns). Falls back to doing nothing when OpenBLAS's local setter is not available.
    """
    fn = _blas_set_threads_local()
    if fn is None:
        yield
        return
    prev = fn(1)
    try:
        yield
    finally:
        fn(prev)


# --------------------------------------------------------------------------------------------------
# Device equations


def _exp_lin(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``exp(x)`` and its derivative, continued linearly (C1) above ``_EXP_ARG_MAX`` so no iterate can
    overflow, and held constant below ``_EXP_ARG_MIN`` (where it is ~1e-87) so no subnormal numbers,
    which are very slow in floating-point hardware, reach the linear algebra."""
    xc = np.clip(x, _EXP_ARG_MIN, _EXP_ARG_MAX)
    e = np.exp(xc)
    val = e * (1.0 + np.maximum(x - _EXP_ARG_MAX, 0.0))
    return val, np.where(x < _EXP_ARG_MIN, 0.0, e)


def pnjlim(v_new: np.ndarray, v_old: np.ndarray, vt: float, vcrit: float) -> np.ndarray:
    """SPICE junction-voltage limiting (SPICE3 ``DEVpnjlim``), elementwise.

    A forward junction voltage above ``vcrit = V_T ln(V_T / (sqrt 2 I_S))`` may not rise by more than
    about ``V_T ln(1 + dV/V_T)`` in one Newton step, which keeps the exponential from overshooting
    (Nagel, SPICE2, 1975; the SPICE3 source). Volts in, volts out.
    """
    v_new = np.asarray(v_new, dtype=float)
    v_old = np.broadcast_to(np.asarray(v_old, dtype=float), v_new.shape)
    hit = (v_new > vcrit) & (np.abs(v_new - v_old) > 2.0 * vt)
    if not hit.any():
        return v_new
    out = v_new.copy()
    vn = v_new[hit]
    vo = v_old[hit]
    arg = 1.0 + (vn - vo) / vt
    from_pos = np.where(arg > 0.0, vo + vt * np.log(np.maximum(arg, 1e-300)), vcrit)
    from_neg = vt * np.log(vn / vt)
    out[hit] = np.where(vo > 0.0, from_pos, from_neg)
    return out


@dataclass(frozen=True)
class BJTModel:
    """Ebers-Moll transport model of a bipolar transistor with Early effect on the transport current.

    ``polarity`` is +1 for NPN, -1 for PNP; ``is_a`` the saturation current I_S (A); ``beta_f`` and
    ``beta_r`` the forward and reverse current gains; ``early_v`` the forward Early voltage V_A (V,
    ``math.inf`` for none); ``vt_v`` the thermal voltage kT/q (V).
    """

    polarity: int
    is_a: float
    beta_f: float
    beta_r: float
    early_v: float
    vt_v: float

    @property
    def vcrit_v(self) -> float:
        """SPICE's critical junction voltage ``V_T ln(V_T/(sqrt 2 I_S))``, V."""
        return self.vt_v * math.log(self.vt_v / (math.sqrt(2.0) * self.is_a))

    def currents(self, vbe: np.ndarray, vbc: np.ndarray) -> tuple[np.ndarray, ...]:
        """Collector and base currents (device frame, A) and their derivatives (S).

        Transport form of Ebers-Moll (Gray, Hurst, Lewis, Meyer, "Analysis and Design of Analog
        Integrated Circuits", 5th ed., ch. 1, section 1.3; Getreu, "Modeling the Bipolar Transistor",
        1976), with the Early effect applied to the transport current as in the Gummel-Poon base charge
        ``q_b = 1/(1 - V_BC/V_A)`` with no high-injection term (Massobrio, Antognetti, "Semiconductor
        Device Modeling with SPICE", 2nd ed., ch. 2):

            I_T = I_S (exp(V_BE/V_T) - exp(V_BC/V_T)) (1 - V_BC/V_A)
            I_C = I_T - (I_S/beta_R)(exp(V_BC/V_T) - 1)
            I_B = (I_S/beta_F)(exp(V_BE/V_T) - 1) + (I_S/beta_R)(exp(V_BC/V_T) - 1)

        In forward activity ``I_C = I_S exp(V_BE/V_T)(1 + V_CE'/V_A)`` with ``V_CE' = V_CE - V_BE``, so
        ``r_o = (V_A - V_BC)/I_C``; with ``V_BC > 0`` the reverse transport and the reverse base current
        pull the device into saturation. Returns ``(ic, ib, dic_dvbe, dic_dvbc, dib_dvbe, dib_dvbc)``.
        """
        vt, isat = self.vt_v, self.is_a
        ef, def_ = _exp_lin(vbe / vt)
        er, der = _exp_lin(vbc / vt)
        q = 1.0 - vbc / self.early_v
        it = isat * (ef - er) * q
        ibr = isat / self.beta_r * (er - 1.0)
        ibf = isat / self.beta_f * (ef - 1.0)
        git_be = isat * def_ / vt * q
        git_bc = -isat * der / vt * q - isat * (ef - er) / self.early_v
        gbr = isat / self.beta_r * der / vt
        gbf = isat / self.beta_f * def_ / vt
        return it - ibr, ibf + ibr, git_be, git_bc - gbr, gbf, gbr


@dataclass(frozen=True)
class MOSModel:
    """Square-law (Shichman-Hodges, SPICE level 1) MOSFET with channel-length modulation, no body effect.

    ``polarity`` is +1 for NMOS, -1 for PMOS; ``kp_a_per_v2`` is mu Cox W/L (A/V^2); ``vth_v`` the
    threshold magnitude (V); ``lambda_per_v`` the channel-length modulation (1/V). The body is tied to
    the source.
    """

    polarity: int
    kp_a_per_v2: float
    vth_v: float
    lambda_per_v: float

    def drain_current(self, vgs: np.ndarray, vds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Drain current (device frame, A) and its derivatives ``dI/dV_GS``, ``dI/dV_DS`` (S).

        Razavi, "Design of Analog CMOS Integrated Circuits", ch. 2 (eqs. for triode and saturation with
        lambda); Sedra and Smith, "Microelectronic Circuits", the MOSFET chapter:

            cutoff     V_ov = V_GS - V_th <= 0:   I_D = 0
            saturation V_DS >= V_ov:             I_D = (kp/2) V_ov^2 (1 + lambda V_DS)
            triode     V_DS <  V_ov:             I_D = kp (V_ov V_DS - V_DS^2/2)(1 + lambda V_DS)

        The (1 + lambda V_DS) factor multiplies the triode branch too, as in SPICE level 1, so the current
        and its first derivatives are continuous at V_DS = V_ov and at V_ov = 0. For V_DS < 0 drain and
        source swap roles (the device is symmetric).
        """
        rev = vds < 0.0
        vgs_e = np.where(rev, vgs - vds, vgs)
        vds_e = np.abs(vds)
        vov = np.maximum(vgs_e - self.vth_v, 0.0)
        kp, lam = self.kp_a_per_v2, self.lambda_per_v
        clm = 1.0 + lam * vds_e
        sat = vds_e >= vov
        core = np.where(sat, 0.5 * vov * vov, vov * vds_e - 0.5 * vds_e * vds_e)
        dcore_dvov = np.where(sat, vov, vds_e)
        dcore_dvds = np.where(sat, 0.0, vov - vds_e)
        i_e = kp * core * clm
        gm_e = kp * dcore_dvov * clm
        gds_e = kp * (dcore_dvds * clm + core * lam)
        i_d = np.where(rev, -i_e, i_e)
        di_dvgs = np.where(rev, -gm_e, gm_e)
        di_dvds = np.where(rev, gm_e + gds_e, gds_e)
        return i_d, di_dvgs, di_dvds


class Device(abc.ABC):
    """A transistor instance: a name, terminal node indices (-1 = ground) and its large-signal model."""

    def __init__(self, name: str, terminals: tuple[int, ...]) -> None:
        self.name = name
        self.terminals = terminals

    @abc.abstractmethod
    def evaluate(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Terminal currents ``(nt, N)`` (A, into each terminal) and ``dI_a/dV_b`` ``(nt, nt, N)`` (S) at
        terminal voltages ``v`` ``(nt, N)`` (V)."""

    @abc.abstractmethod
    def limit(self, v_new: np.ndarray, v_old: np.ndarray) -> np.ndarray:
        """Terminal voltages with the controlling voltages limited against the previous iterate; returns
        ``v_new`` itself (the same object) when nothing was limited."""

    @abc.abstractmethod
    def report(self, v: np.ndarray) -> dict[str, float]:
        """Named operating-point quantities at terminal voltages ``v`` (shape ``(nt,)``)."""


class BJT(Device):
    """Bipolar transistor instance, terminals (collector, base, emitter)."""

    def __init__(self, name: str, terminals: tuple[int, int, int], model: BJTModel) -> None:
        super().__init__(name, terminals)
        self.model = model

    def _junctions(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.model.polarity
        return p * (v[1] - v[2]), p * (v[1] - v[0])

    def evaluate(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.model.polarity
        vbe, vbc = self._junctions(v)
        ic, ib, ic_be, ic_bc, ib_be, ib_bc = self.model.currents(vbe, vbc)
        i = np.stack([p * ic, p * ib, -p * (ic + ib)])
        # dI/dV_node: V_BE = p(V_B - V_E), V_BC = p(V_B - V_C); p^2 = 1 so polarity drops out.
        gc = np.stack([-ic_bc, ic_be + ic_bc, -ic_be])
        gb = np.stack([-ib_bc, ib_be + ib_bc, -ib_be])
        g = np.stack([gc, gb, -(gc + gb)])
        return i, g

    def limit(self, v_new: np.ndarray, v_old: np.ndarray) -> np.ndarray:
        m = self.model
        vbe, vbc = self._junctions(v_new)
        vbe_o, vbc_o = self._junctions(v_old)
        vbe_l = pnjlim(vbe, vbe_o, m.vt_v, m.vcrit_v)
        vbc_l = pnjlim(vbc, vbc_o, m.vt_v, m.vcrit_v)
        if vbe_l is vbe and vbc_l is vbc:
            return v_new
        vb = v_new[1]
        return np.stack([vb - m.polarity * vbc_l, vb, vb - m.polarity * vbe_l])

    def report(self, v: np.ndarray) -> dict[str, float]:
        p = self.model.polarity
        vbe, vbc = self._junctions(v[:, None])
        ic, ib, *_ = self.model.currents(vbe, vbc)
        return {
            "ic": float(ic[0]), "ib": float(ib[0]), "ie": float(ic[0] + ib[0]),
            "vbe": float(vbe[0]), "vce": float(p * (v[0] - v[2])), "vbc": float(vbc[0]),
        }


class MOSFET(Device):
    """MOS transistor instance, terminals (drain, gate, source)."""

    _max_step_v = 1.0  # largest change of V_GS or V_DS per Newton step

    def __init__(self, name: str, terminals: tuple[int, int, int], model: MOSModel) -> None:
        super().__init__(name, terminals)
        self.model = model

    def evaluate(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.model.polarity
        vgs, vds = p * (v[1] - v[2]), p * (v[0] - v[2])
        i_d, g_gs, g_ds = self.model.drain_current(vgs, vds)
        zero = np.zeros_like(i_d)
        i = np.stack([p * i_d, zero, -p * i_d])
        gd = np.stack([g_ds, g_gs, -(g_gs + g_ds)])
        g = np.stack([gd, np.zeros_like(gd), -gd])
        return i, g

    def limit(self, v_new: np.ndarray, v_old: np.ndarray) -> np.ndarray:
        s = self._max_step_v
        d_gs = (v_new[1] - v_new[2]) - (v_old[1] - v_old[2])
        d_ds = (v_new[0] - v_new[2]) - (v_old[0] - v_old[2])
        if np.all(np.abs(d_gs) <= s) and np.all(np.abs(d_ds) <= s):
            return v_new
        vs = v_new[2]
        vgs = (v_old[1] - v_old[2]) + np.clip(d_gs, -s, s)
        vds = (v_old[0] - v_old[2]) + np.clip(d_ds, -s, s)
        return np.stack([vs + vds, vs + vgs, vs])

    def report(self, v: np.ndarray) -> dict[str, float]:
        p = self.model.polarity
        vgs, vds = p * (v[1] - v[2]), p * (v[0] - v[2])
        i_d, gm, gds = self.model.drain_current(np.array([vgs]), np.array([vds]))
        return {"id": float(i_d[0]), "vgs": float(vgs), "vds": float(vds), "gm": float(gm[0]), "gds": float(gds[0])}


# --------------------------------------------------------------------------------------------------
# Netlist


@dataclass
class _VSource:
    name: str
    p: str
    n: str
    dc_v: float
    ac_v: complex
    r_series_ohm: float


@dataclass
class Netlist:
    """A circuit under construction. Node ``"0"`` is ground; nodes are created on first use.

    Element values are SI (Ohm, F, V, A). :meth:`alias` makes a second name for an existing node (a
    wire). :meth:`compile` freezes the netlist into an :class:`MNASystem`.
    """

    _nodes: list[str] = field(default_factory=list)
    _alias: dict[str, str] = field(default_factory=dict)
    _resistors: list[tuple[str, str, float]] = field(default_factory=list)
    _capacitors: list[tuple[str, str, float]] = field(default_factory=list)
    _isources: list[tuple[str, str, float]] = field(default_factory=list)
    _vsources: list[_VSource] = field(default_factory=list)
    _devices: list[tuple[str, str, tuple[str, str, str], object]] = field(default_factory=list)

    def _use(self, node: str) -> str:
        node = self._alias.get(node, node)
        if node != GROUND and node not in self._nodes:
            self._nodes.append(node)
        return node

    def alias(self, name: str, node: str) -> None:
        """Make ``name`` another name of ``node`` (they are one electrical node)."""
        if name in self._nodes or name in self._alias:
            raise ValueError(f"node {name!r} already exists")
        self._alias[name] = self._use(node)

    def resistor(self, a: str, b: str, r_ohm: float) -> None:
        """Resistor of ``r_ohm`` (> 0) between nodes a and b."""
        if not r_ohm > 0.0:
            raise ValueError(f"resistor {a}-{b}: resistance must be > 0, got {r_ohm!r}")
        self._resistors.append((self._use(a), self._use(b), float(r_ohm)))

    def capacitor(self, a: str, b: str, c_f: float) -> None:
        """Linear capacitor of ``c_f`` (>= 0; 0 is skipped) between nodes a and b."""
        if c_f < 0.0:
            raise ValueError(f"capacitor {a}-{b}: capacitance must be >= 0, got {c_f!r}")
        if c_f > 0.0:
            self._capacitors.append((self._use(a), self._use(b), float(c_f)))

    def isource(self, p: str, n: str, i_a: float) -> None:
        """DC current source: ``i_a`` flows from node p through the source into node n."""
        self._isources.append((self._use(p), self._use(n), float(i_a)))

    def vsource(self, name: str, p: str, n: str, dc_v: float, ac_v: complex = 0j, r_series_ohm: float = 0.0) -> None:
        """Voltage source with EMF ``dc_v + Re(ac_v e^{j w t})`` from n to p and series resistance (Ohm).

        ``ac_v`` is a complex peak phasor at the analysis frequency. Its MNA branch current flows from p
        through the source to n, so ``V_p - V_n = EMF + r_series_ohm * I``.
        """
        if r_series_ohm < 0.0:
            raise ValueError(f"source {name}: series resistance must be >= 0")
        if any(s.name == name for s in self._vsources):
            raise ValueError(f"source {name!r} already exists")
        self._vsources.append(_VSource(name, self._use(p), self._use(n), float(dc_v), complex(ac_v), float(r_series_ohm)))

    def bjt(self, name: str, c: str, b: str, e: str, model: BJTModel) -> None:
        """Bipolar transistor (collector, base, emitter)."""
        self._add_device("bjt", name, (c, b, e), model)

    def mos(self, name: str, d: str, g: str, s: str, model: MOSModel) -> None:
        """MOS transistor (drain, gate, source), body tied to source."""
        self._add_device("mos", name, (d, g, s), model)

    def _add_device(self, kind: str, name: str, terms: tuple[str, str, str], model: object) -> None:
        if any(d[1] == name for d in self._devices):
            raise ValueError(f"device {name!r} already exists")
        self._devices.append((kind, name, (self._use(terms[0]), self._use(terms[1]), self._use(terms[2])), model))

    def compile(self) -> MNASystem:
        """Build the MNA matrices and device instances."""
        nodes = list(self._nodes)
        idx = {name: k for k, name in enumerate(nodes)}
        idx[GROUND] = -1
        nn, nv = len(nodes), len(self._vsources)
        n = nn + nv
        G = np.zeros((n, n))
        C = np.zeros((n, n))
        b_dc = np.zeros(n)
        b_ac = np.zeros(n, dtype=complex)

        def stamp(M: np.ndarray, a: int, b: int, val: float) -> None:
            if a >= 0:
                M[a, a] += val
            if b >= 0:
                M[b, b] += val
            if a >= 0 and b >= 0:
                M[a, b] -= val
                M[b, a] -= val

        for a, b, r in self._resistors:
            stamp(G, idx[a], idx[b], 1.0 / r)
        for a, b, c in self._capacitors:
            stamp(C, idx[a], idx[b], c)
        for a, b, i in self._isources:
            if idx[a] >= 0:
                b_dc[idx[a]] -= i
            if idx[b] >= 0:
                b_dc[idx[b]] += i
        sources: dict[str, int] = {}
        for k, s in enumerate(self._vsources):
            row, p, m = nn + k, idx[s.p], idx[s.n]
            if p >= 0:
                G[p, row] += 1.0
                G[row, p] += 1.0
            if m >= 0:
                G[m, row] -= 1.0
                G[row, m] -= 1.0
            G[row, row] -= s.r_series_ohm
            b_dc[row] = s.dc_v
            b_ac[row] = s.ac_v
            sources[s.name] = row
        devices: list[Device] = []
        for kind, name, terms, model in self._devices:
            t = tuple(idx[x] for x in terms)
            dev: Device = BJT(name, t, model) if kind == "bjt" else MOSFET(name, t, model)  # type: ignore[arg-type]
            for i1 in range(3):
                for i2 in range(i1 + 1, 3):
                    stamp(G, t[i1], t[i2], GMIN_S)
            devices.append(dev)
        aliases = {a: idx[t] for a, t in self._alias.items()}
        return MNASystem(nodes, {**{k: v for k, v in idx.items() if k != GROUND}, **aliases},
                         G, C, b_dc, b_ac, sources, devices)


# --------------------------------------------------------------------------------------------------
# MNA system and analyses


@dataclass
class _Grid:
    """Real Fourier basis with K harmonics sampled at N points per period.

    Coefficient order ``[a_0, a_1..a_K, b_1..b_K]`` with ``v(theta) = a_0 + sum a_k cos k theta +
    b_k sin k theta``; the complex coefficient is ``c_k = a_k - j b_k``.
    """

    K: int
    N: int
    S: np.ndarray  # (N, 2K+1) synthesis
    A: np.ndarray  # (2K+1, N) analysis, A @ S = I
    i_minus: np.ndarray  # (K+1, K+1) index (k - l) mod N
    i_plus: np.ndarray  # (K+1, K+1) index k + l

    @classmethod
    def make(cls, K: int, N: int) -> _Grid:
        if N <= 2 * K:
            raise ValueError("need N > 2K samples per period")
        theta = 2.0 * np.pi * np.arange(N) / N
        k = np.arange(1, K + 1)
        ck, sk = np.cos(np.outer(theta, k)), np.sin(np.outer(theta, k))
        S = np.hstack([np.ones((N, 1)), ck, sk])
        A = np.vstack([np.full((1, N), 1.0 / N), 2.0 / N * ck.T, 2.0 / N * sk.T])
        kk = np.arange(K + 1)
        return cls(K, N, S, A, (kk[:, None] - kk[None, :]) % N, kk[:, None] + kk[None, :])


def conversion_matrix(g_t: np.ndarray, grid: _Grid) -> np.ndarray:
    """Real conversion matrices of sampled conductances ``g_t`` (m, m, N) -> (m, 2K+1, m, 2K+1).

    Block (p, q) maps the real Fourier coefficients of v_q to those of the current ``g_pq(t) v_q(t)``,
    exactly equal to ``A diag(g) S`` on the grid but built from the FFT of g (the Toeplitz + Hankel form
    of the harmonic-balance Jacobian, Kundert, White and Sangiovanni-Vincentelli 1990).
    """
    K, N = grid.K, grid.N
    gh = np.fft.fft(g_t, axis=-1) / N
    gm = gh[..., grid.i_minus]
    gp = gh[..., grid.i_plus]
    P, Mn = gm + gp, gm - gp
    m = g_t.shape[0]
    out = np.empty((m, 2 * K + 1, m, 2 * K + 1))
    aa = P.real.copy()
    aa[:, :, 0, :] *= 0.5
    out[:, : K + 1, :, : K + 1] = aa.transpose(0, 2, 1, 3)
    if K:
        ab = Mn.imag[:, :, :, 1:].copy()
        ab[:, :, 0, :] *= 0.5
        out[:, : K + 1, :, K + 1:] = ab.transpose(0, 2, 1, 3)
        out[:, K + 1:, :, : K + 1] = -P.imag[:, :, 1:, :].transpose(0, 2, 1, 3)
        out[:, K + 1:, :, K + 1:] = Mn.real[:, :, 1:, 1:].transpose(0, 2, 1, 3)
    return out


def _apply_impedance(Zc: np.ndarray, X: np.ndarray, K: int) -> np.ndarray:
    """Multiply real coefficient arrays ``X`` (m, 2K+1[, c]) by the per-harmonic ``Zc`` (K+1, m, m)."""
    extra = X.ndim == 2
    if extra:
        X = X[:, :, None]
    c = X[:, : K + 1].astype(complex)
    c[:, 1:] -= 1j * X[:, K + 1:]
    out = np.matmul(Zc, c.transpose(1, 0, 2))  # (K+1, m, c)
    res = np.empty(X.shape)
    res[:, : K + 1] = out.real.transpose(1, 0, 2)
    res[:, K + 1:] = -out.imag[1:].transpose(1, 0, 2)
    return res[:, :, 0] if extra else res


def real_to_complex(X: np.ndarray, K: int) -> np.ndarray:
    """Real coefficients ``[a_0, a_k, b_k]`` (last axis) -> complex ``c_0..c_K`` with ``c_k = a_k - j b_k``."""
    c = X[..., : K + 1].astype(complex)
    c[..., 1:] -= 1j * X[..., K + 1:]
    return c


@dataclass
class _Linear:
    """The linear part reduced to the ports for harmonics 0..K at one fundamental frequency.

    ``Zc[k]`` (m, m) = P Y_k^-1 P^T, ``R[k]`` (n, m) = Y_k^-1 P^T, ``U[k]`` (n,) = Y_k^-1 B_k per unit
    of the DC and of the AC excitation, with ``Y_k = G + j k w C``.
    """

    Zc: np.ndarray
    R: np.ndarray
    U_dc: np.ndarray
    U_ac: np.ndarray


@dataclass
class HBSolution:
    """Periodic steady state: ``X[i, k]`` complex coefficient of MNA variable i at harmonic k (c_0 real)."""

    freq_hz: float
    X: np.ndarray
    iterations: int
    continuation_steps: int


class MNASystem:
    """A compiled circuit: MNA matrices, device instances and the analyses."""

    def __init__(self, nodes: list[str], index: dict[str, int], G: np.ndarray, C: np.ndarray,
                 b_dc: np.ndarray, b_ac: np.ndarray, sources: dict[str, int], devices: list[Device]) -> None:
        self.nodes = nodes
        self.index = index
        self.G, self.C, self.b_dc, self.b_ac = G, C, b_dc, b_ac
        self.sources = sources
        self.devices = devices
        self.size = G.shape[0]
        ports = sorted({t for d in devices for t in d.terminals if t >= 0})
        self.ports = np.array(ports, dtype=int)
        where = {node: k for k, node in enumerate(ports)}
        self._dev_ports = [np.array([where.get(t, -1) for t in d.terminals]) for d in devices]

    # ---- single-point device evaluation (DC residual, linearisation)

    def device_currents(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Device terminal currents summed into a length-n vector and their Jacobian (n, n) at ``x``."""
        n = self.size
        i_vec = np.zeros(n)
        J = np.zeros((n, n))
        xv = np.append(x[: len(self.nodes)], 0.0)  # index -1 -> ground
        for dev in self.devices:
            t = np.array(dev.terminals)
            i, g = dev.evaluate(xv[t][:, None])
            for a, ta in enumerate(t):
                if ta < 0:
                    continue
                i_vec[ta] += i[a, 0]
                for b, tb in enumerate(t):
                    if tb >= 0:
                        J[ta, tb] += g[a, b, 0]
        return i_vec, J

    def residual(self, x: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        """DC MNA residual ``G x + i(x) - b`` (A on KCL rows, V on source rows)."""
        i_vec, _ = self.device_currents(x)
        return self.G @ x + i_vec - (self.b_dc if b is None else b)

    def report(self, x: np.ndarray) -> dict[str, dict[str, float]]:
        """Per-device operating-point quantities (currents A, voltages V, conductances S) at ``x``."""
        xv = np.append(x[: len(self.nodes)], 0.0)
        return {d.name: d.report(xv[np.array(d.terminals)]) for d in self.devices}

    # ---- linear reduction

    def _reduce(self, freq_hz: float, K: int, g_extra: np.ndarray | None = None) -> _Linear:
        n, m = self.size, len(self.ports)
        k = np.arange(K + 1)
        G = self.G if g_extra is None else self.G + g_extra
        Y = G[None, :, :] + 1j * (2.0 * np.pi * freq_hz * k)[:, None, None] * self.C[None, :, :]
        rhs = np.zeros((K + 1, n, m + 2), dtype=complex)
        rhs[:, self.ports, np.arange(m)] = 1.0
        rhs[0, :, m] = self.b_dc
        if K >= 1:
            rhs[1, :, m + 1] = self.b_ac
        sol = np.linalg.solve(Y, rhs)
        return _Linear(sol[:, self.ports, :m], sol[:, :, :m], sol[0, :, m].real, sol[1, :, m + 1] if K else np.zeros(n, complex))

    # ---- Newton on port coefficients

    def _eval_samples(self, vt: np.ndarray, v_old: list[np.ndarray] | None
                      ) -> tuple[np.ndarray, np.ndarray, bool]:
        """Device currents and conductances at port-voltage samples ``vt`` (m, N).

        With ``v_old`` (previous limited terminal voltages per device, updated in place) the controlling
        voltages are limited per sample and the current returned is the companion-model current
        ``i(v_lim) + g(v_lim)(v - v_lim)`` (SPICE's linearisation, applied sample by sample). Returns
        ``(i_t (m, N) A, g_t (m, m, N) S, limited)``.
        """
        m, N = vt.shape
        vt_g = np.vstack([vt, np.zeros((1, N))])  # row -1 = ground
        i_t = np.zeros((m, N))
        g_t = np.zeros((m, m, N))
        limited = False
        for d, dev in enumerate(self.devices):
            pt = self._dev_ports[d]
            vd = vt_g[pt]
            if v_old is None:
                i, g = dev.evaluate(vd)
            else:
                vl = dev.limit(vd, v_old[d])
                if vl is not vd:
                    limited = limited or bool(np.any(vl != vd))
                i, g = dev.evaluate(vl)
                i = i + np.einsum("abn,bn->an", g, vd - vl)
                v_old[d] = vl
            for a, pa in enumerate(pt):
                if pa < 0:
                    continue
                i_t[pa] += i[a]
                for b, pb in enumerate(pt):
                    if pb >= 0:
                        g_t[pa, pb] += g[a, b]
        return i_t, g_t, limited

    def _newton(self, lin: _Linear, W: np.ndarray, V0: np.ndarray, v_old: list[np.ndarray], grid: _Grid,
                max_iter: int) -> tuple[np.ndarray, int, bool]:
        """Newton iteration on port Fourier coefficients; returns ``(V, iterations, converged)``.

        Solves ``F(V) = V + Z I(V) - W = 0`` (V and W real coefficient arrays (m, 2K+1), Z per harmonic)
        with the exact Jacobian ``1 + Z Gamma``, Gamma the conversion matrix of the sampled device
        conductances. Converged when the update is below 1e-12 V (+1e-12 relative) with no limiting.
        """
        m, K = len(self.ports), grid.K
        M = m * (2 * K + 1)
        V = V0.copy()
        eye = np.eye(M)
        with np.errstate(all="ignore"), _one_blas_thread():
            for it in range(1, max_iter + 1):
                i_t, g_t, limited = self._eval_samples(V @ grid.S.T, v_old)
                F = V + _apply_impedance(lin.Zc, i_t @ grid.A.T, K) - W
                gam = conversion_matrix(g_t, grid).reshape(m, 2 * K + 1, M)
                J = _apply_impedance(lin.Zc, gam, K).reshape(M, M)
                J += eye
                try:
                    dV = np.linalg.solve(J, -F.ravel()).reshape(m, 2 * K + 1)
                except np.linalg.LinAlgError:
                    return V, it, False
                if not np.all(np.isfinite(dV)):
                    return V, it, False
                V = V + dV
                step = float(np.max(np.abs(dV)))
                if not limited and step <= _ABSTOL_V + _RELTOL * float(np.max(np.abs(V))):
                    return V, it, True
        return V, max_iter, False

    def _quasi_static(self, Z0: np.ndarray, w_t: np.ndarray, V_dc: np.ndarray, grid: _Grid,
                      max_iter: int = 100) -> np.ndarray | None:
        """Quasi-static waveform: the DC solution at each sample instant, as coefficients (m, 2K+1).

        Solves ``v_n + Z_0 i(v_n) = w_n`` independently for each sample n (capacitors ignored), a
        vectorised DC Newton with junction limiting. Exact at frequencies well below the circuit's poles,
        so it is a good starting point for harmonic balance under large drive. None if it fails.
        """
        m, N = w_t.shape
        vt = np.repeat(V_dc[:, :1], N, axis=1)
        v_old = self._terminal_voltages(V_dc, grid)
        eye = np.eye(m)
        with np.errstate(all="ignore"):
            for _ in range(max_iter):
                i_t, g_t, limited = self._eval_samples(vt, v_old)
                F = vt + Z0 @ i_t - w_t
                J = eye[None] + np.einsum("pq,qrn->npr", Z0, g_t)
                try:
                    dv = np.linalg.solve(J, -F.T[:, :, None])[:, :, 0].T
                except np.linalg.LinAlgError:
                    return None
                if not np.all(np.isfinite(dv)):
                    return None
                vt = vt + dv
                if not limited and float(np.max(np.abs(dv))) <= 1e-9:
                    return vt @ grid.A.T
        return None

    def _residual(self, lin: _Linear, W: np.ndarray, V: np.ndarray, grid: _Grid) -> float:
        """max |F(V)| of the HB equations (V), devices evaluated without limiting."""
        with np.errstate(all="ignore"):
            i_t, _, _ = self._eval_samples(V @ grid.S.T, None)
            F = V + _apply_impedance(lin.Zc, i_t @ grid.A.T, grid.K) - W
            r = float(np.max(np.abs(F)))
        return r if math.isfinite(r) else math.inf

    def _port_currents(self, V: np.ndarray, grid: _Grid) -> np.ndarray:
        """Real Fourier coefficients (m, 2K+1) of the device currents at port coefficients V."""
        i_t, _, _ = self._eval_samples(V @ grid.S.T, None)
        return i_t @ grid.A.T

    def _terminal_voltages(self, V: np.ndarray, grid: _Grid) -> list[np.ndarray]:
        vt = V @ grid.S.T
        vt_g = np.vstack([vt, np.zeros((1, grid.N))])
        return [vt_g[pt].copy() for pt in self._dev_ports]

    def _continuation(self, solve: Callable[[float, np.ndarray, list[np.ndarray]], tuple[np.ndarray, int, bool]],
                      V_start: np.ndarray, guess: Callable[[np.ndarray, float, float], np.ndarray],
                      grid: _Grid, what: str) -> tuple[np.ndarray, int, int]:
        """Step a parameter alpha from 0 (solution V_start) to 1, adapting the step; returns (V, iters, steps).

        The first step starts from ``guess``; later ones from the secant through the last two solutions.
        """
        alpha, step, V, total, steps = 0.0, 0.25, V_start, 0, 0
        prev: tuple[float, np.ndarray] | None = None
        while alpha < 1.0:
            a_next = min(1.0, alpha + step)
            if prev is None:
                V0 = guess(V, alpha, a_next)
            else:
                V0 = V + (V - prev[1]) * ((a_next - alpha) / (alpha - prev[0]))
            V_try, its, ok = solve(a_next, V0, self._terminal_voltages(V, grid))
            total += its
            steps += 1
            if ok:
                prev = (alpha, V)
                alpha, V = a_next, V_try
                step = min(2.0 * step, 0.5)
            else:
                step *= 0.25
                if step < 1e-5 or steps > 400:
                    raise ConvergenceError(f"{what}: continuation stalled at alpha = {alpha:.6g}")
        return V, total, steps

    # ---- DC

    def solve_dc(self, max_iter: int = 200, method: str = "auto") -> np.ndarray:
        """DC operating point: the MNA vector x (node voltages V, then source branch currents A).

        ``method="auto"``: Newton with junction limiting from x = 0; if it fails, source stepping (all
        independent sources ramped from 0 with an adaptive step), then gmin stepping (1 mS across every
        transistor terminal pair, a decade at a time down to 0 extra). ``"newton"``, ``"source"`` or
        ``"gmin"`` runs only that strategy. Raises :class:`ConvergenceError` if none converges.
        """
        if method not in ("auto", "newton", "source", "gmin"):
            raise ValueError(f"unknown DC method {method!r}")
        grid = _Grid.make(0, 1)
        m = len(self.ports)
        lin = self._reduce(0.0, 0)
        W1 = lin.U_dc[self.ports][:, None]
        zero = np.zeros((m, 1))
        V, ok = zero, m == 0
        if not ok and method in ("auto", "newton"):
            V, _, ok = self._newton(lin, W1, zero, self._terminal_voltages(zero, grid), grid, max_iter)
        if not ok and method in ("auto", "source"):
            try:
                V, _, _ = self._continuation(
                    lambda a, V0, vo: self._newton(lin, a * W1, V0, vo, grid, 60),
                    zero, lambda V, a0, a1: V, grid, "DC source stepping")
                ok = True
            except ConvergenceError:
                ok = False
        if not ok and method in ("auto", "gmin"):
            V = self._gmin_stepping(grid, max_iter)
            ok = True
        if not ok:
            raise ConvergenceError(f"DC operating point: {method} did not converge")
        if m == 0:
            return lin.U_dc.copy()
        I = self._port_currents(V, grid)
        return lin.U_dc - (lin.R[0].real @ I[:, 0])

    def _gmin_stepping(self, grid: _Grid, max_iter: int) -> np.ndarray:
        m = len(self.ports)
        V = np.zeros((m, 1))
        lap = np.zeros((self.size, self.size))
        for dev in self.devices:
            t = dev.terminals
            for i1 in range(3):
                for i2 in range(i1 + 1, 3):
                    a, b = t[i1], t[i2]
                    for u, w in ((a, a), (b, b)):
                        if u >= 0:
                            lap[u, w] += 1.0
                    if a >= 0 and b >= 0:
                        lap[a, b] -= 1.0
                        lap[b, a] -= 1.0
        for g in [10.0 ** -e for e in range(3, 13)] + [0.0]:
            lin = self._reduce(0.0, 0, g * lap)
            V, _, ok = self._newton(lin, lin.U_dc[self.ports][:, None], V, self._terminal_voltages(V, grid), grid, max_iter)
            if not ok:
                raise ConvergenceError(f"DC operating point: gmin stepping failed at gmin = {g:g} S")
        return V

    # ---- AC

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        """Small-signal conductance matrix ``G + di/dx`` at the operating point x (S)."""
        _, Jd = self.device_currents(x)
        return self.G + Jd

    def solve_ac(self, x_op: np.ndarray, freq_hz: np.ndarray, rhs: np.ndarray) -> np.ndarray:
        """Small-signal response ``(J + j w C)^-1 rhs`` at each frequency: (F, n, ncol) complex.

        ``rhs`` is (n, ncol): e.g. a unit phasor on a voltage-source row per column.
        """
        f = np.atleast_1d(np.asarray(freq_hz, dtype=float)).ravel()
        J = self.jacobian(x_op)
        Y = J[None] + 1j * 2.0 * np.pi * f[:, None, None] * self.C[None]
        return np.linalg.solve(Y, np.broadcast_to(rhs, (len(f),) + rhs.shape).astype(complex))

    def source_rhs(self, names: Sequence[str]) -> np.ndarray:
        """(n, len(names)) excitation matrix: a unit EMF phasor on each named voltage source."""
        rhs = np.zeros((self.size, len(names)))
        for j, name in enumerate(names):
            rhs[self.sources[name], j] = 1.0
        return rhs

    # ---- harmonic balance

    def solve_hb(self, freq_hz: float, n_harmonics: int, x_dc: np.ndarray, oversample: int = 2,
                 max_iter: int = 60, start: str = "auto") -> HBSolution:
        """Periodic steady state with the sources' AC phasors ``b_ac`` at ``freq_hz`` (Hz).

        ``x_dc`` is the DC operating point (:meth:`solve_dc`); harmonics 0..``n_harmonics`` are kept and
        the device currents are sampled at ``N = 2^ceil(log2(oversample (2K+1)))`` points per period.
        ``start="auto"`` starts Newton from whichever of the linear (AC) response about ``x_dc`` and the
        quasi-static waveform has the smaller residual, and falls back to continuation (the AC amplitude
        stepped up from 0) if Newton fails; ``"linear"``, ``"quasi-static"`` force the starting point and
        ``"continuation"`` goes straight to continuation. Raises :class:`ConvergenceError` on failure.
        """
        if start not in ("auto", "linear", "quasi-static", "continuation"):
            raise ValueError(f"unknown start {start!r}")
        K = int(n_harmonics)
        if K < 1:
            raise ValueError("n_harmonics must be >= 1")
        N = 1 << int(math.ceil(math.log2(oversample * (2 * K + 1))))
        grid = _Grid.make(K, N)
        m = len(self.ports)
        lin = self._reduce(freq_hz, K)
        X = np.zeros((self.size, K + 1), dtype=complex)
        X[:, 0] = lin.U_dc
        X[:, 1] += lin.U_ac
        if m == 0:
            return HBSolution(float(freq_hz), X, 0, 0)
        W_dc = np.zeros((m, 2 * K + 1))
        W_dc[:, 0] = lin.U_dc[self.ports]
        W_ac = np.zeros((m, 2 * K + 1))
        w1 = lin.U_ac[self.ports]
        W_ac[:, 1], W_ac[:, K + 1] = w1.real, -w1.imag
        W = W_dc + W_ac
        V_dc = np.zeros((m, 2 * K + 1))
        V_dc[:, 0] = x_dc[self.ports]
        # linear response about the DC point: port part of (J + jwC)^-1 b_ac
        x1 = self.solve_ac(x_dc, np.array([freq_hz]), self.b_ac[:, None])[0, :, 0]
        lin_ac = np.zeros((m, 2 * K + 1))
        lin_ac[:, 1], lin_ac[:, K + 1] = x1[self.ports].real, -x1[self.ports].imag
        iters, ok = 0, False
        if start != "continuation":
            # The linear response is a good start for small drive or when capacitors filter the
            # harmonics, the quasi-static waveform for large drive at low frequency.
            candidates: list[np.ndarray] = []
            if start in ("auto", "linear"):
                candidates.append(V_dc + lin_ac)
            if start in ("auto", "quasi-static"):
                u0 = np.linalg.solve(self.G, self.b_ac)[self.ports]
                theta = 2.0 * np.pi * np.arange(grid.N) / grid.N
                w_t = lin.U_dc[self.ports].real[:, None] + (u0[:, None] * np.exp(1j * theta)[None, :]).real
                qs = self._quasi_static(lin.Zc[0].real, w_t, V_dc, grid)
                if qs is not None:
                    candidates.append(qs)
            if candidates:
                V0 = min(candidates, key=lambda c: self._residual(lin, W, c, grid))
                # limiting reference: the DC point for the (possibly wild) linear guess, else the guess
                v_old = self._terminal_voltages(V_dc if start != "quasi-static" and V0 is candidates[0] else V0, grid)
                V, iters, ok = self._newton(lin, W, V0, v_old, grid, max_iter)
        steps = 0
        if not ok:
            if start in ("linear", "quasi-static"):
                raise ConvergenceError(f"harmonic balance at {freq_hz:g} Hz: Newton from the {start} start failed")

            def guess(Vp: np.ndarray, a0: float, a1: float) -> np.ndarray:
                if a0 == 0.0:
                    return V_dc + a1 * lin_ac
                Vg = Vp.copy()
                Vg[:, 1:] *= a1 / a0
                return Vg

            V, its, steps = self._continuation(
                lambda a, V0, vo: self._newton(lin, W_dc + a * W_ac, V0, vo, grid, 30),
                V_dc, guess, grid, f"harmonic balance at {freq_hz:g} Hz")
            iters += its
        I = real_to_complex(self._port_currents(V, grid), K)  # (m, K+1)
        X -= np.einsum("knm,mk->nk", lin.R, I)
        X[:, 0] = X[:, 0].real
        return HBSolution(float(freq_hz), X, iters, steps)
