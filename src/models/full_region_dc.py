"""DC solution of the whole pair at many input levels at once, with every device law valid past the edge of its
active region: what the pair does at each instant of a slow (quasi-static) sine.

Circuit (:mod:`models.operating_point`, :mod:`models.dc_transfer`): side k has input pin ``v_k``, series
``r_source`` to the base/gate, ``r_degen`` from emitter/source to the tail node ``v_t``; the tail is ``i_tail``
in parallel with ``r_tail`` to ``v_ee``. The load is resistive (``R_k`` from each collector/drain to
``v_return``) or a current mirror (source text fig. 5-10: the diode-connected pnp/pmos device at output 1, the
mirror's output device at output 2, ``R1`` from output 2 to ``v_return``). In front of each pin an
:class:`InputNetwork` may sit: the generator's EMF behind its source resistance, and the board's bias
resistor to the bias rail (a Thevenin source; the pin is then a node of the solve).

Devices: :mod:`models.full_region_laws` (Gummel-Poon without high injection, SPICE level-1 MOS), so a BJT
that saturates at the peak of the swing or a MOS device that enters triode is solved, not extrapolated.

Unknowns per input level: ``x_k`` (V_BE / V_GS), ``y_k`` (V_BC / V_GD) of each pair device and ``v_t``. With
``I_E = I_C + I_B`` the nodes follow: emitter ``v_t + r_degen I_E``, base ``+ x``, collector ``- y``.
Equations (Kirchhoff): each input loop ``v_th - R_in I_B - v_base = 0`` (``R_in`` = Thevenin + ``r_source``),
each collector node's current law ``I_load,k(v_c1, v_c2) - I_C,k = 0``, and the tail node's
``I_E1 + I_E2 - i_tail - (v_t - v_ee)/r_tail = 0``. Newton's method with the analytic Jacobian, all levels
together (each iterated until its own steps vanish), started from a given solution (e.g. the pair at rest, or the
cycle at a nearby amplitude), else from the forward-active solution (:func:`models.dc_transfer.resistive_pair_dc`)
for resistive loads, or for a mirror from a rough balanced guess and failing that the mirror's operating point
(:func:`models.operating_point.active_load_operating_point`). Each step is shortened, keeping its direction, so
that a junction (the pair's, and the mirror's through the collector nodes) crossing SPICE's critical voltage
rises only as SPICE's junction limiting allows (Nagel 1975), a MOS voltage by at most 0.2 V, any unknown by 1 V.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from functools import partial
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .dc_transfer import DcTransferError, resistive_pair_dc
from .devices import BjtParams, MosParams
from .full_region_laws import Law, device_law
from .operating_point import BJT_SATURATION_VBC_V, active_load_operating_point
from .pair_circuit import CurrentMirror, DiffPair, NortonTail, ResistorLoads

Load = ResistorLoads | CurrentMirror

STEP_TOL_V = 1e-12
"""Newton's method has converged at a level when every step is below this (V; times the unknown above 1 V)."""


@dataclass(frozen=True)
class InputNetwork:
    """What feeds each pin: an EMF behind ``r_drive`` (Ohm; 0: the pin is the EMF), and ``r_bias`` (Ohm; inf:
    none) from the pin to the bias rail at ``v_bias`` (V). Thevenin: ``v_th = (v r_bias + v_bias r_drive)/
    (r_drive + r_bias)``, ``R_th = r_drive || r_bias``."""

    r_drive: float = 0.0
    r_bias: float = math.inf
    v_bias: float = 0.0

    def thevenin(self, v: np.ndarray) -> tuple[np.ndarray, float]:
        """Thevenin voltage (V) for the EMF ``v`` (V) and the Thevenin resistance (Ohm)."""
        if self.r_drive == 0.0 or math.isinf(self.r_bias):
            return v, self.r_drive
        s = self.r_drive + self.r_bias
        return (v * self.r_bias + self.v_bias * self.r_drive) / s, self.r_drive * self.r_bias / s


@dataclass(frozen=True)
class FullPairDc:
    """The solution at each input level (arrays of the inputs' broadcast shape, SI units, device frame).

    ``vo1, vo2``: outputs (V); ``v_pin1, v_pin2``: the pins (V); ``i_out1, i_out2``: collector/drain currents (A);
    ``i_in1, i_in2``: base currents (A); ``v_ctrl*``: V_BE / V_GS; ``v_cross*``: V_BC / V_GD (V); ``v_tail`` (V);
    ``headroom``: least distance from the edge of the active region over the pair devices and the mirror's
    output device (V): ``bjt_edge_v - V_BC`` (BJT), ``V_DS - V_ov`` (MOS); negative outside.
    """

    vo1: np.ndarray
    vo2: np.ndarray
    v_pin1: np.ndarray
    v_pin2: np.ndarray
    i_out1: np.ndarray
    i_out2: np.ndarray
    i_in1: np.ndarray
    i_in2: np.ndarray
    v_ctrl1: np.ndarray
    v_ctrl2: np.ndarray
    v_cross1: np.ndarray
    v_cross2: np.ndarray
    v_tail: np.ndarray
    headroom: np.ndarray

    @property
    def vod(self) -> np.ndarray:
        """``vo1 - vo2`` (V)."""
        out: np.ndarray = self.vo1 - self.vo2
        return out

    @property
    def vid(self) -> np.ndarray:
        """``v_pin1 - v_pin2`` (V)."""
        out: np.ndarray = self.v_pin1 - self.v_pin2
        return out

    def rows(self, idx: np.ndarray) -> FullPairDc:
        """The solutions at the rows ``idx`` of the first axis."""
        return FullPairDc(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def with_rows(self, idx: np.ndarray, other: FullPairDc) -> FullPairDc:
        """A copy with the rows ``idx`` of the first axis taken from ``other`` (of as many rows)."""
        def put(name: str) -> np.ndarray:
            a = getattr(self, name).copy()
            a[idx] = getattr(other, name)
            out: np.ndarray = a
            return out

        return FullPairDc(**{f.name: put(f.name) for f in fields(self)})


@dataclass(frozen=True)
class _Circuit:
    pair: DiffPair
    tail: NortonTail
    load: Load
    r_in: float
    beta_r: float


def _load_currents(c: _Circuit, vc1: np.ndarray, vc2: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Currents (A) the load delivers into each collector/drain node at ``vc1, vc2`` (V), and their Jacobian
    ``d I_load,k / d v_c,j`` (n, 2, 2), S. Mirror: the diode device's emitter current and the output device's
    base current into node 1, the output device's collector current less R1's into node 2 (fig. 5-10)."""
    n = vc1.shape[0]
    jac = np.zeros((n, 2, 2))
    load = c.load
    if isinstance(load, ResistorLoads):
        r1, r2 = load.r
        jac[:, 0, 0], jac[:, 1, 1] = -1.0 / r1, -1.0 / r2
        return (load.v_return - vc1) / r1, (load.v_return - vc2) / r2, jac
    dev, vt = load.device, c.pair.vt
    x = load.v_cc - vc1
    d3 = device_law(dev, vt, x, np.zeros_like(x), c.beta_r)  # diode: V_CB = 0 (V_DG = 0)
    d4 = device_law(dev, vt, x, vc2 - vc1, c.beta_r)
    g_r = 0.0 if math.isinf(load.r_out) else 1.0 / load.r_out
    i1 = d3.i_out + d3.i_in + d4.i_in
    i2 = d4.i_out - (vc2 - load.v_return) * g_r
    jac[:, 0, 0] = -(d3.dout_dx + d3.din_dx + d4.din_dx + d4.din_dy)
    jac[:, 0, 1] = d4.din_dy
    jac[:, 1, 0] = -(d4.dout_dx + d4.dout_dy)
    jac[:, 1, 1] = d4.dout_dy - g_r
    return i1, i2, jac


class _Linearised(NamedTuple):
    """Residuals ``F`` (n, 5) and Jacobian ``J`` (n, 5, 5) in the unknowns, the collector/drain nodes ``vc``
    (n, 2, V) and their gradients ``dvc`` (n, 2, 5) in the unknowns."""

    F: np.ndarray
    J: np.ndarray
    vc: np.ndarray
    dvc: np.ndarray


def _system(c: _Circuit, v_th: np.ndarray, u: np.ndarray) -> _Linearised:
    """The system linearised at ``u``, unknowns ``(x1, y1, x2, y2, v_t)`` (module docstring); rows: input loop 1,
    node 1, input loop 2, node 2, tail (the current rows scaled by V_T/I_tail to volts)."""
    n = u.shape[0]
    r_e, vt = c.pair.r_degen, c.pair.vt
    F, J = np.zeros((n, 5)), np.zeros((n, 5, 5))
    laws: list[Law] = []
    vc, dvc = [], []
    for k in range(2):
        law = device_law(c.pair.devices[k], vt, u[:, 2 * k], u[:, 2 * k + 1], c.beta_r)
        laws.append(law)
        i_e = law.i_out + law.i_in
        e_x, e_y = law.dout_dx + law.din_dx, law.dout_dy + law.din_dy
        v_b = u[:, 4] + r_e * i_e + u[:, 2 * k]
        vc.append(v_b - u[:, 2 * k + 1])
        g = np.zeros((n, 5))  # d v_c,k / d u
        g[:, 2 * k], g[:, 2 * k + 1], g[:, 4] = r_e * e_x + 1.0, r_e * e_y - 1.0, 1.0
        dvc.append(g)
        F[:, 2 * k] = v_th[k] - c.r_in * law.i_in - v_b
        J[:, 2 * k, 2 * k] = -c.r_in * law.din_dx - r_e * e_x - 1.0
        J[:, 2 * k, 2 * k + 1] = -c.r_in * law.din_dy - r_e * e_y
        J[:, 2 * k, 4] = -1.0
        F[:, 4] += i_e
        J[:, 4, 2 * k], J[:, 4, 2 * k + 1] = e_x, e_y
    g_tail = 0.0 if math.isinf(c.tail.r_out) else 1.0 / c.tail.r_out
    F[:, 4] -= c.tail.current + (u[:, 4] - c.tail.v_ee) * g_tail
    J[:, 4, 4] -= g_tail
    i_l1, i_l2, jl = _load_currents(c, vc[0], vc[1])
    scale = c.pair.vt / max(c.tail.current, 1e-12)  # current rows in volts: a Jacobian of like entries
    for k, i_l in enumerate((i_l1, i_l2)):
        law = laws[k]
        F[:, 2 * k + 1] = scale * (i_l - law.i_out)
        row = jl[:, k, 0, None] * dvc[0] + jl[:, k, 1, None] * dvc[1]
        row[:, 2 * k] -= law.dout_dx
        row[:, 2 * k + 1] -= law.dout_dy
        J[:, 2 * k + 1] = scale * row
    J[:, 4] *= scale
    F[:, 4] *= scale
    return _Linearised(F, J, np.stack(vc, axis=1), np.stack(dvc, axis=1))


def _given_start(start: FullPairDc, n: int) -> np.ndarray:
    """The unknowns (n, 5) of a previous solution ``start`` (one level, or ``n``)."""
    u = np.zeros((n, 5))
    for j, a in enumerate((start.v_ctrl1, start.v_cross1, start.v_ctrl2, start.v_cross2, start.v_tail)):
        flat = np.ravel(a)
        if flat.size not in (1, n):
            raise ValueError("start must hold one level or one per input level")
        u[:, j] = flat
    return u


def _control_voltage(dev: BjtParams | MosParams, vt: float, i: float) -> float:
    """V_BE (V_GS) of ``dev`` carrying ``i`` (A; at least 1 fA) in forward activity, Early factor 1."""
    i = max(i, 1e-15)
    if isinstance(dev, BjtParams):
        return vt * math.log(i / dev.i_s)
    return dev.vth + math.sqrt(2.0 * i / dev.kp)


def _mirror_guess(c: _Circuit, v_th: np.ndarray) -> np.ndarray:
    """A rough start for a mirror load (n, 5): each side at half the tail's source current, both outputs one mirror
    V_EB (V_SG) below the supply (the balanced mirror), the bases at the mean input level."""
    assert isinstance(c.load, CurrentMirror)
    i_half = 0.5 * c.tail.current
    v_b = v_th.mean(axis=0)
    v_c = c.load.v_cc - _control_voltage(c.load.device, c.pair.vt, i_half)
    u = np.zeros((v_th.shape[1], 5))
    for k in range(2):
        u[:, 2 * k] = _control_voltage(c.pair.devices[k], c.pair.vt, i_half)
        u[:, 2 * k + 1] = v_b - v_c
    u[:, 4] = v_b - u[:, 0] - c.pair.r_degen * i_half
    return u


def _forward_active_start(c: _Circuit, v_th: np.ndarray) -> np.ndarray:
    """The forward-active solution at each level (resistive load; :func:`models.dc_transfer.resistive_pair_dc`) or
    the mirror load's operating point at the mean input levels, a BJT's V_BC at most 0.5 V (n, 5)."""
    pair = replace(c.pair, r_source=c.r_in)
    u = np.zeros((v_th.shape[1], 5))
    if isinstance(c.load, ResistorLoads):
        dc = resistive_pair_dc(v_th[0], v_th[1], pair, c.tail, c.load)
        u[:, 0], u[:, 1] = dc.v_ctrl1, dc.v_base1 - dc.vo1
        u[:, 2], u[:, 3] = dc.v_ctrl2, dc.v_base2 - dc.vo2
        u[:, 4] = dc.v_tail
    else:
        op = active_load_operating_point(pair, c.tail, c.load, v_in=(float(v_th[0].mean()), float(v_th[1].mean())))
        for k, s in enumerate(op.sides):
            u[:, 2 * k], u[:, 2 * k + 1] = s.device.v_ctrl, s.v_base - s.v_collector
        u[:, 4] = op.v_tail
    if c.pair.is_bjt:
        u[:, [1, 3]] = np.minimum(u[:, [1, 3]], 0.5)
    return u


def _vcrit(dev: BjtParams | MosParams, vt: float) -> float:
    """SPICE's critical junction voltage ``V_T ln(V_T/(sqrt 2 I_S))`` (V; Nagel 1975) of a BJT (inf for MOS)."""
    return vt * math.log(vt / (math.sqrt(2.0) * dev.i_s)) if isinstance(dev, BjtParams) else math.inf


def _junctions(c: _Circuit, u: np.ndarray, lin: _Linearised,
               step: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """The forward-biasable junctions (V), their rise under ``step`` (first order) and their critical voltage: the
    pair's V_BE and V_BC, the mirror's V_EB and its output device's V_CB (from the collector nodes' gradients)."""
    vt = c.pair.vt
    out = [(u[:, j], step[:, j], _vcrit(c.pair.devices[j // 2], vt)) for j in range(4)]
    if isinstance(c.load, CurrentMirror):
        dvc = np.einsum("nkj,nj->nk", lin.dvc, step)
        vc, crit = lin.vc, _vcrit(c.load.device, vt)
        out += [(c.load.v_cc - vc[:, 0], -dvc[:, 0], crit), (vc[:, 1] - vc[:, 0], dvc[:, 1] - dvc[:, 0], crit)]
    return out


def _limit(c: _Circuit, u: np.ndarray, lin: _Linearised, step: np.ndarray) -> np.ndarray:
    """The Newton step shortened (same direction) so that a BJT junction that would end above its critical voltage
    rising by more than 2 V_T rises only as SPICE's junction limiting lets it (from ``v > 0`` by
    ``V_T ln(1 + dv/V_T)``, else to ``V_T ln(v_new/V_T)``; Nagel 1975), no MOS voltage moves by more than 0.2 V and
    no unknown by more than 1 V."""
    big = np.max(np.abs(step), axis=1)
    alpha = np.minimum(1.0, 1.0 / np.maximum(big, 1e-300))
    if c.pair.is_bjt:
        vt = c.pair.vt
        for v, d, crit in _junctions(c, u, lin, step):
            hit = (v + d > crit) & (d > 2.0 * vt)
            dh = np.where(hit, d, 1.0)
            allowed = np.where(v > 0, vt * np.log1p(dh / vt), vt * np.log(np.maximum(v + dh, vt) / vt) - v)
            alpha = np.where(hit, np.minimum(alpha, np.maximum(allowed, 0.0) / dh), alpha)
    else:
        alpha = np.minimum(alpha, 0.2 / np.maximum(big, 1e-300))
    out: np.ndarray = step * alpha[:, None]
    return out


def _iterate(c: _Circuit, v_th: np.ndarray, u: np.ndarray, max_iter: int) -> np.ndarray | None:
    """Newton's method from ``u`` (n, 5), each level until its steps fall below :data:`STEP_TOL_V` (relative above
    1 V; the levels still moving are iterated on their own); ``None`` unless all have within ``max_iter`` steps."""
    u = u.copy()
    live = np.arange(u.shape[0])
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(max_iter):
            lin = _system(c, v_th[:, live], u[live])
            if not np.all(np.isfinite(lin.J)):
                return None
            try:
                step = _limit(c, u[live], lin, np.linalg.solve(lin.J, -lin.F[..., None])[..., 0])
            except np.linalg.LinAlgError:
                return None
            u[live] += step
            live = live[~np.all(np.abs(step) <= STEP_TOL_V * (1.0 + np.abs(u[live])), axis=1)]
            if live.size == 0:
                return u
    return None


def _newton(c: _Circuit, v_th: np.ndarray, max_iter: int, start: FullPairDc | None) -> np.ndarray:
    """Unknowns (n, 5) at the input Thevenin levels ``v_th`` (2, n), from ``start`` if given, else from a rough
    guess (mirror load) and then from the forward-active solution; :class:`~models.dc_transfer.DcTransferError`
    when none converges."""
    starts: list[Callable[[], np.ndarray]]
    if start is not None:
        starts = [partial(_given_start, start, v_th.shape[1])]
    elif isinstance(c.load, CurrentMirror):
        starts = [partial(_mirror_guess, c, v_th), partial(_forward_active_start, c, v_th)]
    else:
        starts = [partial(_forward_active_start, c, v_th)]
    for make in starts:
        u = _iterate(c, v_th, make(), max_iter)
        if u is not None:
            return u
    raise DcTransferError(f"the full-region DC solve did not converge in {max_iter} Newton steps")


def _headroom(c: _Circuit, u: np.ndarray, vo2: np.ndarray, vo1: np.ndarray, bjt_edge_v: float) -> np.ndarray:
    """Least distance (V) from the edge of the active region over the pair devices and the mirror's output
    device: ``bjt_edge_v - V_BC`` (BJT), ``V_DS - V_ov = V_th - V_GD`` (MOS)."""
    def margin(dev: BjtParams | MosParams, y: np.ndarray) -> np.ndarray:
        out: np.ndarray = (bjt_edge_v if isinstance(dev, BjtParams) else dev.vth) - y
        return out

    m: np.ndarray = np.minimum(margin(c.pair.devices[0], u[:, 1]), margin(c.pair.devices[1], u[:, 3]))
    if isinstance(c.load, CurrentMirror):
        m = np.minimum(m, margin(c.load.device, vo2 - vo1))  # mirror output: V_CB (V_DG) = vo2 - vo1
    return m


def pair_full_dc(v1: ArrayLike, v2: ArrayLike, pair: DiffPair, tail: NortonTail, load: Load, *,
                 inputs: InputNetwork | None = None, beta_r: float = 1.0, bjt_edge_v: float = BJT_SATURATION_VBC_V,
                 max_iter: int = 100, start: FullPairDc | None = None) -> FullPairDc:
    """Solve ``pair`` fed by ``tail`` into ``load`` (resistive or current mirror) at input EMFs ``v1, v2`` (V,
    arrays broadcast together) behind ``inputs`` (default: the pins are the EMFs), device laws valid in every
    region with reverse current gain ``beta_r`` (module docstring). ``bjt_edge_v``: the forward V_BC taken as the
    edge of forward activity for ``headroom`` (V). ``start``: a solution of the same circuit to start Newton's
    method from, of the inputs' size or of one level (e.g. the pair at rest). ``ValueError`` for a pair with a
    cascode or of mixed kinds, :class:`~models.dc_transfer.DcTransferError` if Newton's method does not converge in
    ``max_iter`` steps."""
    if pair.cascode is not None or pair.mixed_kinds:
        raise ValueError("the full-region DC solve models a pair of one kind without a cascode")
    net = InputNetwork() if inputs is None else inputs
    v1a, v2a = np.broadcast_arrays(np.asarray(v1, dtype=float), np.asarray(v2, dtype=float))
    shape = v1a.shape
    (t1, r_th), (t2, _) = net.thevenin(v1a.ravel()), net.thevenin(v2a.ravel())
    c = _Circuit(pair, tail, load, r_th + pair.r_source, beta_r)
    v_th = np.stack([t1, t2])
    u = _newton(c, v_th, max_iter, start)
    laws = [device_law(pair.devices[k], pair.vt, u[:, 2 * k], u[:, 2 * k + 1], beta_r) for k in range(2)]
    vo = [u[:, 4] + pair.r_degen * (law.i_out + law.i_in) + u[:, 2 * k] - u[:, 2 * k + 1]
          for k, law in enumerate(laws)]
    pins = [v_th[k] - r_th * laws[k].i_in for k in range(2)]

    def r(a: np.ndarray) -> np.ndarray:
        return np.reshape(a, shape)

    return FullPairDc(
        vo1=r(vo[0]), vo2=r(vo[1]), v_pin1=r(pins[0]), v_pin2=r(pins[1]), i_out1=r(laws[0].i_out),
        i_out2=r(laws[1].i_out), i_in1=r(laws[0].i_in), i_in2=r(laws[1].i_in), v_ctrl1=r(u[:, 0]),
        v_ctrl2=r(u[:, 2]), v_cross1=r(u[:, 1]), v_cross2=r(u[:, 3]), v_tail=r(u[:, 4]),
        headroom=r(_headroom(c, u, vo[1], vo[0], bjt_edge_v)),
    )
