"""DC operating point of a differential pair (resistive or current-mirror load, optional degeneration and
cascode) from component values, with the small-signal parameters of every device and saturation flags.

The circuit (npn/nmos pair, pnp/pmos mirror): each input pin is held at its DC level ``v_in``; a series
resistor ``r_source`` leads to the base/gate; the emitter/source goes through ``r_degen`` to the tail node;
the tail carries the DC current ``i_tail`` (its output resistance only matters for small signals); the
collector/drain either feeds the load directly or through a cascode device whose base/gate sits at
``cascode_bias``. Resistive load: ``R_k`` from each output to ``v_return``. Active load (source text
fig. 5-10): side 1 feeds the diode-connected mirror device (Q3/M3, node "mirror"), side 2 the output, the
mirror output device (Q4/M4) sources into the output and ``r_out`` (R1) ties the output to ``v_return``.

Device laws are those of :mod:`models.devices` (Early effect, channel-length modulation, base currents), so
the source text's remarks come out of the solution rather than being put in: base current is taken from the
bases' series resistance and the mirror node, the two mirror collectors sit at different V_EC (the
"built-in offset" of the active-load stage), and doubling the 40 kOhm loads drives the transistors into
saturation (flagged, not hidden).

Each side is solved for its emitter current at a given tail-node voltage (a monotone scalar equation,
bracketed root), the tail-node voltage from ``I_E1 + I_E2 = I_tail`` (monotone), and for the active load the
output voltage from the current balance at the output node (monotone). Every root is bracketed, so the
solve cannot wander off to a non-physical branch.

Active-region tests: a BJT is forward-active while ``V_BC < 0.4 V`` (Sedra & Smith put the edge of
saturation at a forward base-collector voltage of about 0.4 to 0.5 V); a MOS transistor is in saturation
while ``V_DS >= V_ov``. ``headroom_v`` is how far each device is from that edge.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from scipy.optimize import brentq

from .devices import BjtParams, DeviceParams, MosParams

BJT_SATURATION_VBC_V = 0.4
"""Forward base-collector voltage at which a BJT is taken to leave the forward-active region, V."""

TAIL_COMPLIANCE_V = 0.3
"""Least voltage across a transistor tail current source for it to stay a current source, V."""

_MIN_FACTOR = 1e-9  # floor of (1 + V/V_A): keeps the device laws finite (and monotone) far outside their range
_MIN_CURRENT = 1e-30  # A: a Norton tail at a trial voltage far below v_ee would deliver a negative current

MAX_LAW_EVALUATIONS = 1_000_000
"""Device-law evaluations one operating-point solve may spend (a working pair takes 1e3 to 1e5, a cascoded
active load the most): beyond, the nested solves are wandering among component values that no working pair has,
and the solve stops with an :class:`OperatingPointError` (a few seconds) rather than running on for minutes."""

_budget = threading.local()


class OperatingPointError(ValueError):
    """No DC solution within the bracketed ranges (component values far outside anything buildable)."""


class _BudgetExceeded(OperatingPointError):
    """The solve spent :data:`MAX_LAW_EVALUATIONS` device-law evaluations."""


@contextmanager
def _evaluation_budget() -> Iterator[None]:
    """Count device-law evaluations in this thread for one top-level solve, at most :data:`MAX_LAW_EVALUATIONS`
    (nested uses share the outer count)."""
    if getattr(_budget, "left", None) is not None:
        yield
        return
    _budget.left = MAX_LAW_EVALUATIONS
    try:
        yield
    finally:
        _budget.left = None


def _spend() -> None:
    """One device-law evaluation of the current solve; :class:`_BudgetExceeded` when none is left."""
    left = getattr(_budget, "left", None)
    if left is None:
        return
    if left <= 0:
        raise _BudgetExceeded(f"the solve took more than {MAX_LAW_EVALUATIONS} device-law evaluations without "
                              "settling (component values far from a working pair)")
    _budget.left = left - 1


@dataclass(frozen=True)
class DeviceOperatingPoint:
    """One transistor at its operating point. Voltages and currents are magnitudes (V_EB, V_EC for pnp).

    ``region`` is ``"active"`` (forward-active BJT or saturated-channel MOS: the region the small-signal model
    assumes), ``"saturated"`` (BJT), ``"triode"`` (MOS) or ``"cutoff"``; ``headroom_v`` is ``V_CB + 0.4 V``
    (BJT) or ``V_DS - V_ov`` (MOS), negative outside the active region.
    """

    name: str
    kind: str
    i_out: float
    i_in: float
    v_ctrl: float
    v_out: float
    gm: float
    r_o: float
    r_pi: float
    beta: float
    alpha: float
    r_e: float
    v_ov: float
    region: str
    headroom_v: float


@dataclass(frozen=True)
class SideOperatingPoint:
    """One half of the pair: node voltages (V) and its devices."""

    v_in: float
    v_base: float
    v_emitter: float
    v_collector: float
    v_output: float
    i_emitter: float
    device: DeviceOperatingPoint
    cascode: DeviceOperatingPoint | None


@dataclass(frozen=True)
class MirrorOperatingPoint:
    """The current-mirror load: the diode node voltage (V), both devices, and the current in R1 (A, out of
    the output node towards ``v_return``)."""

    v_node: float
    diode: DeviceOperatingPoint
    output: DeviceOperatingPoint
    i_r_out: float


@dataclass(frozen=True)
class PairOperatingPoint:
    """The whole pair at DC. ``i_tail`` is the DC tail current at the solution (the Norton source's
    ``i_tail + (v_tail - v_ee)/r_tail``, A), ``v_tail`` the tail node (V). ``warnings`` lists every device outside
    its active region and a tail source without compliance, one sentence each."""

    kind: str
    load: str
    vt: float
    i_tail: float
    v_tail: float
    sides: tuple[SideOperatingPoint, SideOperatingPoint]
    mirror: MirrorOperatingPoint | None
    warnings: tuple[str, ...]

    @property
    def vo1(self) -> float:
        """DC level of output 1 (collector/drain node of side 1, the mirror node for an active load), V."""
        return self.sides[0].v_output

    @property
    def vo2(self) -> float:
        """DC level of output 2, V."""
        return self.sides[1].v_output

    @property
    def vod(self) -> float:
        """DC differential output ``vo1 - vo2`` at zero differential input (the output offset), V."""
        return self.vo1 - self.vo2

    def devices(self) -> list[DeviceOperatingPoint]:
        """Every transistor: the pair, the cascodes, the mirror."""
        out = []
        for s in self.sides:
            out.append(s.device)
            if s.cascode is not None:
                out.append(s.cascode)
        if self.mirror is not None:
            out += [self.mirror.diode, self.mirror.output]
        return out

    @property
    def all_active(self) -> bool:
        """True when every device is in the region the small-signal model assumes."""
        return all(d.region == "active" for d in self.devices())


class _Law:
    """The large-signal law of one device type in the form the solver needs (:mod:`models.devices`).

    BJT: the SPICE Gummel-Poon form of the Early effect, ``I_C = I_S e^{V_BE/V_T} (1 - V_BC/V_A)`` with
    ``V_BC = V_BE - V_CE``, and ``I_B = (I_S/beta_F) e^{V_BE/V_T}``; since the factor holds V_BE itself, V_BE
    is found by a fixed point that contracts by ``V_T/(V_A - V_BC)`` (~3e-4) per step.
    """

    def __init__(self, dev: DeviceParams, vt: float) -> None:
        self.dev = dev
        self.vt = vt
        self.is_bjt = isinstance(dev, BjtParams)

    def _factor(self, v_out: float, v_ctrl: float = 0.0) -> float:
        """Early factor ``1 - V_BC/V_A = 1 + (V_CE - V_BE)/V_A`` (BJT) or ``1 + lambda V_DS`` (MOS)."""
        _spend()
        if self.is_bjt:
            f = 1.0 + ((v_out - v_ctrl) / self.dev.early_v if math.isfinite(self.dev.early_v) else 0.0)
        else:
            f = 1.0 + self.dev.lambda_per_v * v_out
        return max(f, _MIN_FACTOR)

    def _vbe(self, i: float, v_out: float, extra: float) -> float:
        """V_BE at which ``I_S e^{V_BE/V_T} (f(V_BE) + extra) = i`` (``extra = 0``: collector current ``i``;
        ``extra = 1/beta_F``: emitter current ``i``), at ``V_CE = v_out``."""
        d: BjtParams = self.dev
        i = max(i, 1e-300)

        def step(u: float) -> float:
            return self.vt * math.log(i / (d.i_s * (self._factor(v_out, u) + extra)))

        x0 = self.vt * math.log(i / (d.i_s * (1.0 + extra)))
        f0 = self._factor(v_out, x0)
        if not math.isfinite(d.early_v) or f0 <= _MIN_FACTOR or self.vt / (d.early_v * (f0 + extra)) < 0.01:
            return _fixed_point(step, x0, 1.0, "base-emitter voltage")
        return self._vbe_newton(step, x0, v_out, extra)

    def _vbe_newton(self, step: Callable[[float], float], x0: float, v_out: float, extra: float) -> float:
        """:meth:`_vbe` where the fixed point contracts slowly (the Early factor is small: a saturated device or
        a small V_A): Newton's method on ``u - step(u)`` with ``step' = V_T/(V_A (f + extra))``, handing over
        to the bracketed solve when that slope nears 1 (the equation then has no well-separated root)."""
        d: BjtParams = self.dev
        u = x0
        for _ in range(50):
            f = self._factor(v_out, u)
            slope = 0.0 if f <= _MIN_FACTOR else self.vt / (d.early_v * (f + extra))
            if slope > 0.9:
                break
            du = (u - step(u)) / (1.0 - slope)
            u -= du
            if abs(du) <= 1e-13:
                return u
        return _bracketed_fixed_point(step, x0, 1.0, "base-emitter voltage")

    def split(self, i_e: float, v_out: float) -> float:
        """Output (collector) current for emitter current ``i_e`` at ``v_out``: ``I_E f/(f + 1/beta_F)``."""
        if not self.is_bjt:
            return i_e
        f = self._factor(v_out, self._vbe(i_e, v_out, 1.0 / self.dev.beta))
        return i_e * f / (f + 1.0 / self.dev.beta)

    def ctrl(self, i_out: float, v_out: float) -> float:
        """V_BE (or V_GS) that carries ``i_out`` at ``v_out``."""
        if self.is_bjt:
            return self._vbe(i_out, v_out, 0.0)
        f = self._factor(v_out)
        return self.dev.vth + math.sqrt(2.0 * max(i_out, 0.0) / (self.dev.kp * f))

    def point(self, name: str, i_out: float, v_ctrl: float, v_out: float) -> DeviceOperatingPoint:
        """Device at its operating point with the exact slopes of its law as small-signal parameters.

        BJT: ``r_o = (V_A - V_BC)/I_C`` (``1/r_o = dI_C/dV_CE`` at fixed V_BE) and the hybrid-pi
        ``g_m = dI_C/dV_BE`` at fixed V_CE ``= I_C/V_T - 1/r_o`` (the Early factor holds V_BE too);
        ``r_pi = V_T/I_B``, ``beta = I_C/I_B = beta_F (1 - V_BC/V_A)``, ``r_e = V_T/I_E``.
        """
        f = self._factor(v_out, v_ctrl)
        if self.is_bjt:
            d: BjtParams = self.dev
            i_in = d.i_s / d.beta * math.exp(v_ctrl / self.vt)
            r_o = d.early_v * f / i_out if math.isfinite(d.early_v) else math.inf
            gm = i_out / self.vt - 1.0 / r_o
            beta = i_out / i_in if i_in > 0 else math.inf
            alpha = i_out / (i_out + i_in)
            headroom = v_out - v_ctrl + BJT_SATURATION_VBC_V
            region = "cutoff" if i_out <= 0 else ("active" if headroom >= 0 else "saturated")
            return DeviceOperatingPoint(name, "bjt", i_out, i_in, v_ctrl, v_out, gm, r_o,
                                        self.vt / i_in if i_in > 0 else math.inf, beta, alpha,
                                        self.vt / (i_out + i_in), math.nan, region, headroom)
        m: MosParams = self.dev
        v_ov = v_ctrl - m.vth
        if i_out <= 0 or v_ov <= 0:
            return DeviceOperatingPoint(name, "mos", 0.0, 0.0, v_ctrl, v_out, 0.0, math.inf, math.inf,
                                        math.inf, 1.0, math.inf, v_ov, "cutoff", v_out - max(v_ov, 0.0))
        gm = 2.0 * i_out / v_ov
        r_o = f / (m.lambda_per_v * i_out) if m.lambda_per_v * i_out > 0 else math.inf
        headroom = v_out - v_ov
        return DeviceOperatingPoint(name, "mos", i_out, 0.0, v_ctrl, v_out, gm, r_o, math.inf, math.inf,
                                    1.0, 1.0 / gm, v_ov, "active" if headroom >= 0 else "triode", headroom)


@dataclass
class _SideSpec:
    law: _Law
    v_in: float
    r_source: float
    r_degen: float
    cascode: _Law | None
    cascode_bias: float | None


@dataclass
class _SideState:
    residual: float
    i_e: float
    i_c: float
    i_top: float
    v_b: float
    v_e: float
    v_x: float
    v_top: float
    v_ctrl: float
    casc_ctrl: float


def _fixed_point(step: Callable[[float], float], x0: float, scale: float, what: str) -> float:
    """Iterate ``x = step(x)``; used where the map is a strong contraction (factors ~ V_T/V_A).

    Far from the usual operating points (a saturated device with a small V_A, so the Early factor nears its
    floor) the map contracts slowly or not at all; as soon as a step is more than half the one before (or
    after 200 steps) :func:`_bracketed_fixed_point` solves the same equation as a bracketed root instead."""
    x = x0
    last = math.inf
    for _ in range(200):
        x_new = step(x)
        dx = abs(x_new - x)
        if dx <= 1e-13 * scale:
            return x_new
        if dx > 0.5 * last:
            break
        x, last = x_new, dx
    return _bracketed_fixed_point(step, x0, scale, what)


def _bracketed_fixed_point(step: Callable[[float], float], x0: float, scale: float, what: str) -> float:
    """A root of ``r(x) = x - step(x)`` near ``x0``: secant steps from ``x0`` and ``step(x0)``, switching to Brent's
    method as soon as two points bracket a root; when the secant stalls, intervals ``[x0 - h, x0]`` and
    ``[x0, x0 + h]`` with ``h`` doubling from ``1e-3 scale`` to ``1e4 scale`` (V for the voltages solved here) are
    searched for a sign change. Raises :class:`OperatingPointError` when none is found (or the step fails)."""
    def r(x: float) -> float:
        return x - step(x)

    tol = 1e-13 * scale

    def bracketed(a: float, b: float) -> float:
        lo, hi = (a, b) if a < b else (b, a)
        return float(brentq(r, lo, hi, xtol=tol, rtol=1e-15, maxiter=200))

    try:
        a, ra = x0, r(x0)
        if ra == 0.0:
            return a
        b = a - ra
        rb = r(b)
        for _ in range(60):
            if rb == 0.0:
                return b
            if (ra > 0.0) != (rb > 0.0):
                return bracketed(a, b)
            if rb == ra:
                break
            c = b - rb * (b - a) / (rb - ra)
            if not (math.isfinite(c) and abs(c - x0) <= 1e4 * scale):
                break
            if abs(c - b) <= tol:
                return c
            a, ra, b, rb = b, rb, c, r(c)
        r0 = r(x0)
        h = 1e-3 * scale
        while h <= 1e4 * scale:
            for x1 in (x0 - h, x0 + h):
                r1 = r(x1)
                if r1 == 0.0:
                    return x1
                if (r1 > 0.0) != (r0 > 0.0):
                    return bracketed(x0, x1)
            h *= 2.0
    except _BudgetExceeded:
        raise
    except (ValueError, OverflowError, ZeroDivisionError):
        pass
    raise OperatingPointError(f"the {what} did not converge")


def _split_current(i_e: float, rhs: Callable[[float], float]) -> float:
    """Solve ``i = rhs(i)`` for the part of ``i_e`` that leaves by the collector (``0 <= rhs <= i_e``).

    Near the operating point the map contracts by about ``I R/(beta V_A)``, so plain iteration converges
    in a few steps; far outside it (trial currents the outer solve tries) fall back to a bracketed root of
    ``i - rhs(i)``, which is negative at 0 and non-negative at ``i_e``.
    """
    if i_e <= 0:
        return 0.0
    i = rhs(i_e)
    for _ in range(30):
        i_new = rhs(i)
        if abs(i_new - i) <= 1e-14 * i_e:
            return i_new
        i = i_new
    return brentq(lambda x: x - rhs(x), 0.0, i_e, xtol=1e-15 * i_e, rtol=1e-15, maxiter=200)


def _cascode_state(law: _Law, v_bias: float, i_e: float, top: Callable[[float], float]) -> tuple[float, float, float, float]:
    """Cascode device carrying emitter current ``i_e``: returns (i_top, v_x, v_top, v_ctrl).

    For a trial collector current its V_BE follows by a contraction (it sees V_CE only through the Early
    factor, slope V_T/V_A); the collector current then from :func:`_split_current`.
    """
    i_e = max(i_e, 1e-300)

    def ctrl_at(i_top: float) -> float:
        i_top = max(i_top, 1e-300)
        v_top = top(i_top)
        return _fixed_point(lambda vc: law.ctrl(i_top, v_top - v_bias + vc), law.ctrl(i_top, 1.0), 1.0,
                            "cascode control voltage")

    i_top = _split_current(i_e, lambda i: law.split(i_e, top(i) - (v_bias - ctrl_at(i))))
    v_ctrl = ctrl_at(i_top)
    return i_top, v_bias - v_ctrl, top(i_top), v_ctrl


def _joint_cascode(spec: _SideSpec, i_e: float, v_e: float, top: Callable[[float], float]
                   ) -> tuple[float, tuple[float, float, float, float]] | None:
    """Pair device and cascode iterated together (each sees the other only through Early factors, so near
    the operating point this contracts fast); ``None`` when it does not settle, and the caller falls back
    to the nested bracketed solve."""
    if i_e <= 0:
        return None
    law, casc, v_bias = spec.law, spec.cascode, spec.cascode_bias
    i_c = law.split(i_e, 1.0)
    i_top = casc.split(i_c, 1.0)
    v_ctrl = casc.ctrl(i_top, 1.0)
    for _ in range(50):
        v_x = v_bias - v_ctrl
        v_top = top(i_top)
        i_c_new = law.split(i_e, v_x - v_e)
        i_top_new = casc.split(i_c_new, v_top - v_x)
        v_ctrl_new = casc.ctrl(max(i_top_new, 1e-300), v_top - v_x)
        done = (abs(i_c_new - i_c) <= 1e-14 * i_e and abs(i_top_new - i_top) <= 1e-14 * i_e
                and abs(v_ctrl_new - v_ctrl) <= 1e-13)
        i_c, i_top, v_ctrl = i_c_new, i_top_new, v_ctrl_new
        if done:
            return i_c, (i_top, v_bias - v_ctrl, top(i_top), v_ctrl)
    return None


def _side_at(spec: _SideSpec, i_e: float, v_t: float, top: Callable[[float], float]) -> _SideState:
    law = spec.law
    v_e = v_t + spec.r_degen * i_e

    def collector(i_c: float) -> tuple[float, float, float, float]:
        if spec.cascode is None:
            v = top(i_c)
            return i_c, v, v, math.nan
        return _cascode_state(spec.cascode, spec.cascode_bias, i_c, top)

    joint = None if spec.cascode is None else _joint_cascode(spec, i_e, v_e, top)
    if joint is not None:
        i_c, (i_top, v_x, v_top, casc_ctrl) = joint
    else:
        i_c = _split_current(i_e, lambda i: law.split(i_e, collector(i)[1] - v_e))
        i_top, v_x, v_top, casc_ctrl = collector(i_c)
    v_ctrl = law.ctrl(max(i_c, 1e-300), v_x - v_e) if law.is_bjt or i_c > 0 else law.dev.vth
    v_b = spec.v_in - spec.r_source * (i_e - i_c)
    return _SideState(v_b - v_e - v_ctrl, i_e, i_c, i_top, v_b, v_e, v_x, v_top, v_ctrl, casc_ctrl)


def _solve_side(spec: _SideSpec, v_t: float, top: Callable[[float], float], i_tail: float) -> _SideState:
    """Emitter current at tail-node voltage ``v_t``; the residual ``V_B - V_E - V_BE`` falls as I_E rises.

    One side never carries more than the whole tail current ``i_tail`` (at this ``v_t``), so the search stops
    there: a side that would take more returns ``i_tail``, which is all the tail solve needs to know.
    """
    i_tail = max(i_tail, _MIN_CURRENT)
    if spec.law.is_bjt:
        lo, hi = math.log(i_tail) - 80.0, math.log(i_tail)
        to_i = math.exp
    else:
        if _side_at(spec, 0.0, v_t, top).residual <= 0:
            return _side_at(spec, 0.0, v_t, top)
        lo, hi = 0.0, math.sqrt(i_tail)
        to_i = lambda x: x * x  # noqa: E731
    f = lambda x: _side_at(spec, to_i(x), v_t, top).residual  # noqa: E731
    f_lo, f_hi = f(lo), f(hi)
    if f_hi >= 0:
        x = hi
    elif f_lo <= 0:
        x = lo
    else:
        x = brentq(f, lo, hi, xtol=1e-15, rtol=1e-14, maxiter=200)
    return _side_at(spec, to_i(x), v_t, top)


def norton_tail_current(i_tail: float, r_tail: float, v_tail: float, v_ee: float) -> float:
    """DC current (A) of a Norton tail source: ``i_tail + (v_tail - v_ee)/r_tail`` (``r_tail = inf``: ``i_tail``)."""
    return i_tail + ((v_tail - v_ee) / r_tail if math.isfinite(r_tail) else 0.0)


def _secant_root(g: Callable[[float], float], x0: float, lo: float, hi: float, tol: float) -> float | None:
    """Root of a smooth monotonic ``g`` by secant steps from ``x0`` (a close guess); ``None`` when the steps
    leave ``[lo, hi]`` or do not settle, so the caller can fall back to a bracketed search."""
    x1 = x0 + 1e-3
    g0, g1 = g(x0), g(x1)
    for _ in range(30):
        if g1 == g0:
            return x1 if g1 == 0 else None
        x2 = x1 - g1 * (x1 - x0) / (g1 - g0)
        if not lo <= x2 <= hi:
            return None
        if abs(x2 - x1) <= tol:
            return x2
        x0, g0, x1, g1 = x1, g1, x2, g(x2)
    return None


def _solve_tail(specs: tuple[_SideSpec, _SideSpec], tops: tuple[Callable[[float], float], Callable[[float], float]],
                i_tail: float, r_tail: float = math.inf, v_ee: float = 0.0, guess: float | None = None
                ) -> tuple[float, tuple[_SideState, _SideState]]:
    """Tail-node voltage with ``I_E1 + I_E2 = i_tail + (v_t - v_ee)/r_tail`` (the left side falls and the right
    side rises as the tail node rises, so the root is unique and bracketed). ``guess``: a nearby tail voltage
    (an outer solve's previous step) from which secant steps usually converge in a handful of evaluations
    instead of the ~20 of the bracketed search over the whole range."""
    def total(v_t: float) -> float:
        return norton_tail_current(i_tail, r_tail, v_t, v_ee)

    def g(v_t: float) -> float:
        i = total(v_t)
        return sum(_solve_side(s, v_t, t, i).i_e for s, t in zip(specs, tops)) - i

    v_in = [s.v_in for s in specs]
    lo, hi = min(v_in) - 100.0, max(v_in) + 2.0
    v_t = _secant_root(g, guess, lo, hi, 1e-13) if guess is not None else None
    if v_t is None:
        if not (g(lo) > 0 > g(hi)):
            raise OperatingPointError("no tail-node voltage carries the tail current (check the tail current "
                                      "and the degeneration resistance)")
        v_t = brentq(g, lo, hi, xtol=1e-13, rtol=1e-15, maxiter=200)
    i = total(v_t)
    return v_t, (_solve_side(specs[0], v_t, tops[0], i), _solve_side(specs[1], v_t, tops[1], i))


def _prefix(law: _Law) -> str:
    return "Q" if law.is_bjt else "M"


def _side_point(spec: _SideSpec, st: _SideState, k: int) -> SideOperatingPoint:
    p = _prefix(spec.law)
    dev = spec.law.point(f"{p}{k}", st.i_c, st.v_ctrl, st.v_x - st.v_e)
    casc = None
    if spec.cascode is not None:
        casc = spec.cascode.point(f"{p}{k}c", st.i_top, st.casc_ctrl, st.v_top - st.v_x)
    return SideOperatingPoint(spec.v_in, st.v_b, st.v_e, st.v_x, st.v_top, st.i_e, dev, casc)


def _warnings(sides: tuple[SideOperatingPoint, SideOperatingPoint], mirror: MirrorOperatingPoint | None,
              v_tail: float, v_ee: float) -> list[str]:
    out = []
    devs = [d for s in sides for d in (s.device, s.cascode) if d is not None]
    if mirror is not None:
        devs += [mirror.diode, mirror.output]
    for d in devs:
        if d.region == "saturated":
            out.append(f"{d.name} is saturated: V_CE = {d.v_out:.3f} V, V_BE = {d.v_ctrl:.3f} V "
                       f"(forward-active needs V_BC < {BJT_SATURATION_VBC_V:g} V); the load drops too much")
        elif d.region == "triode":
            out.append(f"{d.name} is in triode: V_DS = {d.v_out:.3f} V < V_ov = {d.v_ov:.3f} V; "
                       "the load drops too much")
        elif d.region == "cutoff":
            out.append(f"{d.name} is cut off")
    if v_tail - v_ee < TAIL_COMPLIANCE_V:
        out.append(f"the tail node sits {v_tail - v_ee:.3f} V above the negative supply; a transistor current "
                   f"source needs about {TAIL_COMPLIANCE_V:g} V")
    return out


def _specs(devices: tuple[DeviceParams, DeviceParams], vt: float, v_in: tuple[float, float], r_source: float,
           r_degen: float, cascode: tuple[DeviceParams, DeviceParams] | None,
           cascode_bias: float | None) -> tuple[_SideSpec, _SideSpec]:
    if cascode is not None and cascode_bias is None:
        raise OperatingPointError("a cascode needs its base/gate bias voltage")
    if isinstance(devices[0], BjtParams) != isinstance(devices[1], BjtParams):
        raise OperatingPointError("both devices of a pair must be of one kind")
    return tuple(
        _SideSpec(_Law(devices[k], vt), v_in[k], r_source, r_degen,
                  None if cascode is None else _Law(cascode[k], vt), cascode_bias)
        for k in range(2)
    )  # type: ignore[return-value]


def resistive_pair_operating_point(
    devices: tuple[DeviceParams, DeviceParams],
    *,
    vt: float,
    i_tail: float,
    v_in: tuple[float, float],
    r_loads: tuple[float, float],
    v_return: float,
    v_ee: float = 0.0,
    r_tail: float = math.inf,
    r_source: float = 0.0,
    r_degen: float = 0.0,
    cascode: tuple[DeviceParams, DeviceParams] | None = None,
    cascode_bias: float | None = None,
) -> PairOperatingPoint:
    """Operating point of a pair with resistive loads ``r_loads`` (Ohm, per side) returning to ``v_return`` (V).

    ``devices`` are the two pair transistors (mismatch is in their parameters), ``vt`` the thermal voltage
    (V), ``i_tail`` the tail source's ideal current (A) and ``r_tail`` its parallel output resistance to ``v_ee``
    (Ohm; ``inf``: the tail carries exactly ``i_tail``), ``v_in`` the DC input pin levels (V), ``r_source`` the series
    resistance per input (Ohm), ``r_degen`` the emitter/source resistor per side (Ohm), ``cascode`` the two
    cascode devices with their base/gate at ``cascode_bias`` (V). Node equations: Kirchhoff with the device
    laws of :mod:`models.devices`; output ``V_Ck = v_return - R_k I_Ck``.
    """
    specs = _specs(devices, vt, v_in, r_source, r_degen, cascode, cascode_bias)
    tops = tuple((lambda i, r=r: v_return - r * i) for r in r_loads)
    with _evaluation_budget():
        v_t, states = _solve_tail(specs, tops, i_tail, r_tail, v_ee)  # type: ignore[arg-type]
    sides = (_side_point(specs[0], states[0], 1), _side_point(specs[1], states[1], 2))
    kind = "bjt" if specs[0].law.is_bjt else "mos"
    return PairOperatingPoint(kind, "resistive", vt, norton_tail_current(i_tail, r_tail, v_t, v_ee), v_t, sides, None,
                              tuple(_warnings(sides, None, v_t, v_ee)))


def _mirror_ctrl(law: _Law, i_in: float) -> float:
    """V_EB (V_SG) of the diode-connected mirror device fed ``i_in`` (which also supplies both base currents)."""
    i_in = max(i_in, 1e-300)
    if law.is_bjt:
        d: BjtParams = law.dev
        # i_in = I_S e^{u/V_T} (1 + 2/beta): collector of Q3 (V_CB3 = 0, so its Early factor is 1) plus the
        # bases of Q3 and Q4
        return law.vt * math.log(i_in / (d.i_s * (1.0 + 2.0 / d.beta)))
    return _fixed_point(lambda v: law.dev.vth + math.sqrt(2.0 * i_in / (law.dev.kp * law._factor(v))),
                        law.dev.vth, 1.0, "mirror node")


def _mirror_output_current(law: _Law, v_ctrl: float, v_out: float) -> float:
    if law.is_bjt:
        return law.dev.i_s * math.exp(v_ctrl / law.vt) * law._factor(v_out, v_ctrl)
    return 0.5 * law.dev.kp * max(v_ctrl - law.dev.vth, 0.0) ** 2 * law._factor(v_out)


def active_load_operating_point(
    devices: tuple[DeviceParams, DeviceParams],
    mirror: DeviceParams,
    *,
    vt: float,
    i_tail: float,
    v_in: tuple[float, float],
    v_cc: float,
    r_out: float,
    v_return: float,
    v_ee: float = 0.0,
    r_tail: float = math.inf,
    r_source: float = 0.0,
    r_degen: float = 0.0,
    cascode: tuple[DeviceParams, DeviceParams] | None = None,
    cascode_bias: float | None = None,
) -> PairOperatingPoint:
    """Operating point of a pair with a current-mirror load (source text fig. 5-10).

    The mirror (pnp/pmos ``mirror``, emitters/sources at ``v_cc``) has its diode device on side 1; output 2
    is tied by ``r_out`` (R1, Ohm; ``inf`` for none) to ``v_return`` (V). Other arguments as
    :func:`resistive_pair_operating_point`. The output level follows from the current balance
    ``I_C4 - I_C2 = (V_o2 - v_return)/R1``; when it has no forward-active solution the output is pinned at
    the end of the searched range (a supply +/- 1 V) and the saturated device is flagged.
    """
    specs = _specs(devices, vt, v_in, r_source, r_degen, cascode, cascode_bias)
    mlaw = _Law(mirror, vt)

    def top1(i: float) -> float:
        return v_cc - _mirror_ctrl(mlaw, i)

    last_v_t: list[float] = []  # the tail node barely moves with v_o2: each tail solve starts from the last

    def balance(v_o2: float) -> tuple[float, float, tuple[_SideState, _SideState], float, float]:
        v_t, states = _solve_tail(specs, (top1, lambda i: v_o2), i_tail, r_tail, v_ee,
                                  guess=last_v_t[-1] if last_v_t else None)
        last_v_t[:] = [v_t]
        v_m = _mirror_ctrl(mlaw, states[0].i_top)
        i4 = _mirror_output_current(mlaw, v_m, v_cc - v_o2)
        i_r = 0.0 if math.isinf(r_out) else (v_o2 - v_return) / r_out
        return i4 - states[1].i_top - i_r, v_t, states, v_m, i4

    lo, hi = v_ee - 1.0, v_cc + 1.0
    notes = []
    with _evaluation_budget():
        r_lo, r_hi = balance(lo)[0], balance(hi)[0]
        if r_lo <= 0:
            v_o2 = lo
            notes.append(f"the output has no forward-active DC level: it is pulled below {lo:g} V (the pair "
                         "device on side 2 saturates)")
        elif r_hi >= 0:
            v_o2 = hi
            notes.append(f"the output has no forward-active DC level: it is pulled above {hi:g} V (the mirror "
                         "output device saturates)")
        else:
            v_o2 = brentq(lambda v: balance(v)[0], lo, hi, xtol=1e-13, rtol=1e-15, maxiter=200)
        _, v_t, states, v_m, i4 = balance(v_o2)
    sides = (_side_point(specs[0], states[0], 1), _side_point(specs[1], states[1], 2))
    p = _prefix(mlaw)
    i3 = _mirror_output_current(mlaw, v_m, v_m)
    mop = MirrorOperatingPoint(
        v_node=v_cc - v_m,
        diode=mlaw.point(f"{p}3", i3, v_m, v_m),
        output=mlaw.point(f"{p}4", i4, v_m, v_cc - v_o2),
        i_r_out=0.0 if math.isinf(r_out) else (v_o2 - v_return) / r_out,
    )
    kind = "bjt" if specs[0].law.is_bjt else "mos"
    return PairOperatingPoint(kind, "active", vt, norton_tail_current(i_tail, r_tail, v_t, v_ee), v_t, sides, mop,
                              tuple(notes + _warnings(sides, mop, v_t, v_ee)))
