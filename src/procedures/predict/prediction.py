"""Predictions for one board config: operating point, small-signal gains versus frequency, distortion.

This is where a :class:`~instruments.board_config.BoardConfig` becomes model arguments (``models`` itself
knows nothing of configs). The mapping, and the assumptions it makes:

- Mismatch follows the board-config convention, each side moving half: ``X1 = X(1 - d/2)``,
  ``X2 = X(1 + d/2)`` for the load resistors and capacitors, I_S or kp (``mismatch.device``) and beta_F;
  ``V_th1 = V_th - dV/2``, ``V_th2 = V_th + dV/2`` (so ``V_th2 - V_th1 = mismatch.vth_v``).
- The input pins sit at ``inputs.bias_v`` (the generator's offset drives them), so ``inputs.bias_r_ohm``, which
  ties each pin to the bias rail, carries no current from the drive and enters neither the DC nor the
  small-signal prediction; gains are referred to the pin phasors, as measured. ``inputs.source_r_ohm`` is in
  series between pin and base/gate and enters both.
- The tail is a Norton source: ``tail.current_a`` in parallel with ``tail.r_ohm`` to ``supply.vee_v``, so its
  DC current is ``I_EE + (V_tail - V_EE)/R_EE`` (as the simulated board builds it); ``tail.r_ohm`` and
  ``tail.c_f`` are its small-signal output impedance.
- Cascode devices are copies of the pair device (no mismatch), bases/gates at ``cascode.bias_v``. The mirror
  devices of an active load are the ``[mirror]`` section's, matched.
- No device capacitances besides ``tail.c_f`` and ``load.c_f``; no MOS body effect (bulk tied to source).
- Large signal: the differential collector/drain current of the pair from the exact large-signal transfer
  (tanh, degenerated BJT, square law, with the device mismatch), scaled to the output by the low-frequency
  small-signal gain: the output stage (loads, r_o) is taken as linear. THD and compression are therefore
  those of the pair's current steering; whether the output swing drives a device out of its active region
  is checked separately (``min_headroom_v``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import brentq

from instruments.board_config import BoardConfig
from instruments.board_config import DeviceParams as ConfigDevice
from instruments.errors import ConfigError
from models import (
    BJT_SATURATION_VBC_V,
    BjtParams,
    CascodeDevice,
    DeviceOperatingPoint,
    Distortion,
    MirrorLoad,
    MixedModeGains,
    MosParams,
    OperatingPointError,
    PairOperatingPoint,
    ResistiveLoad,
    Side,
    Tail,
    active_load_operating_point,
    bjt_input_offset,
    bjt_pair_currents,
    corner_hz,
    db,
    harmonic_analysis,
    mos_input_offset,
    mos_pair_currents,
    pair_response,
    phase_deg,
    resistive_pair_operating_point,
    split,
)

GAIN_KEYS = ("Add", "Acc", "Acd", "Adc", "Ad_se1", "Acm_se1", "Ad_se2", "Acm_se2")
CMRR_KEYS = ("CMRR_se1", "CMRR_se2", "CMRR_diff")
HARMONICS_REPORTED = (2, 3, 4, 5, 7, 9)
N_HARMONICS = 15


def _model_device(d: ConfigDevice) -> BjtParams | MosParams:
    if d.is_bjt:
        return BjtParams(beta=d.beta, early_v=d.early_v, i_s=d.is_a)
    return MosParams(kp=d.kp_a_per_v2, vth=d.vth_v, lambda_per_v=d.lambda_per_v)


def pair_devices(board: BoardConfig) -> tuple[BjtParams, BjtParams] | tuple[MosParams, MosParams]:
    """The two pair devices with the board's mismatch applied (module docstring)."""
    d = board.device
    if d.is_bjt:
        is1, is2 = split(d.is_a, board.mismatch_device)
        b1, b2 = split(d.beta, board.mismatch_beta)
        return (BjtParams(float(b1), d.early_v, float(is1)), BjtParams(float(b2), d.early_v, float(is2)))
    kp1, kp2 = split(d.kp_a_per_v2, board.mismatch_device)
    dv = board.mismatch_vth_v
    return (MosParams(float(kp1), d.vth_v - dv / 2.0, d.lambda_per_v),
            MosParams(float(kp2), d.vth_v + dv / 2.0, d.lambda_per_v))


def operating_point(board: BoardConfig) -> PairOperatingPoint:
    """DC operating point of the board; a config without a DC solution is a :class:`ConfigError`."""
    devices = pair_devices(board)
    common: dict[str, Any] = dict(
        vt=board.vt_v, i_tail=board.tail_current_a, r_tail=board.tail_r_ohm, v_in=(board.bias_v, board.bias_v),
        v_ee=board.vee_v, r_source=board.source_r_ohm, r_degen=board.degeneration_r_ohm,
        v_return=board.load_return_v,
    )
    if board.cascode:
        casc = _model_device(board.device)
        common.update(cascode=(casc, casc), cascode_bias=board.cascode_bias_v)
    try:
        if board.load_type == "active":
            return active_load_operating_point(devices, _model_device(board.mirror), v_cc=board.vcc_v,
                                               r_out=board.load_r_ohm, **common)
        r1, r2 = split(board.load_r_ohm, board.mismatch_load_r)
        return resistive_pair_operating_point(devices, r_loads=(float(r1), float(r2)), **common)
    except OperatingPointError as exc:
        raise ConfigError(board.source, None, f"no DC operating point: {exc}") from None


def _side(dev: DeviceOperatingPoint, casc: DeviceOperatingPoint | None, board: BoardConfig) -> Side:
    return Side(
        gm=dev.gm, r_o=dev.r_o, r_pi=dev.r_pi, r_degen=board.degeneration_r_ohm, r_source=board.source_r_ohm,
        cascode=None if casc is None else CascodeDevice(gm=casc.gm, r_o=casc.r_o, r_pi=casc.r_pi),
    )


def small_signal_circuit(board: BoardConfig, op: PairOperatingPoint) -> tuple[Side, Side, ResistiveLoad | MirrorLoad, Tail]:
    """The linear circuit at the operating point: both sides, the load and the tail (``models.small_signal``)."""
    s1, s2 = (_side(s.device, s.cascode, board) for s in op.sides)
    c1, c2 = split(board.load_c_f, board.mismatch_load_c)
    if op.mirror is not None:
        m = op.mirror
        load: ResistiveLoad | MirrorLoad = MirrorLoad(
            gm_diode=m.diode.gm, gm_out=m.output.gm, r_o_diode=m.diode.r_o, r_o_out=m.output.r_o,
            r_pi_diode=m.diode.r_pi, r_pi_out=m.output.r_pi, r_out=board.load_r_ohm, c1=float(c1), c2=float(c2))
    else:
        r1, r2 = split(board.load_r_ohm, board.mismatch_load_r)
        load = ResistiveLoad(float(r1), float(r2), float(c1), float(c2))
    return s1, s2, load, Tail(board.tail_r_ohm, board.tail_c_f)


def _effective_devices(board: BoardConfig, op: PairOperatingPoint) -> tuple[tuple[float, float], tuple[float, float]]:
    """Per-side I_S (BJT) or kp (MOS) with the Early / channel-length factor at the operating point's V_BC / V_DS
    folded in, and the thresholds (MOS; zeros for BJT). The large-signal transfer then carries the same DC
    currents as the operating point; the factor's variation over the signal cycle is not modelled."""
    devs = pair_devices(board)
    v_out = [s.device.v_out for s in op.sides]
    if board.is_bjt:
        f = [1.0 + (s.device.v_out - s.device.v_ctrl) / d.early_v if math.isfinite(d.early_v) else 1.0
             for d, s in zip(devs, op.sides)]
        return (devs[0].i_s * f[0], devs[1].i_s * f[1]), (0.0, 0.0)
    return ((devs[0].kp * (1.0 + devs[0].lambda_per_v * v_out[0]), devs[1].kp * (1.0 + devs[1].lambda_per_v * v_out[1])),
            (devs[0].vth, devs[1].vth))


def differential_current_transfer(board: BoardConfig, op: PairOperatingPoint) -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    """``v_id -> I_C1 - I_C2`` (A) from the large-signal model at the board's operating point, and its name."""
    (p1, p2), (vth1, vth2) = _effective_devices(board, op)
    i_tail, r_e = op.i_tail, board.degeneration_r_ohm
    if board.is_bjt:
        a1, a2 = op.sides[0].device.alpha, op.sides[1].device.alpha
        name = "BJT, exact with emitter degeneration" if r_e > 0 else "BJT, tanh"

        def transfer(v: np.ndarray) -> np.ndarray:
            ie1, ie2 = bjt_pair_currents(v, i_tail, board.vt_v, r_degen=r_e, i_s1=p1, i_s2=p2)
            return a1 * ie1 - a2 * ie2
        return transfer, name

    def transfer_mos(v: np.ndarray) -> np.ndarray:
        i1, i2 = mos_pair_currents(v, i_tail, p1, p2, vth1=vth1, vth2=vth2, r_degen=r_e)
        return i1 - i2
    return transfer_mos, "MOS, square law" + (" with source degeneration" if r_e > 0 else "")


def log_frequencies(fmin_hz: float, fmax_hz: float, points_per_decade: int) -> np.ndarray:
    """Log-spaced frequencies (Hz) from ``fmin_hz`` to ``fmax_hz`` inclusive, ``points_per_decade`` per decade."""
    if not (fmin_hz > 0 and fmax_hz >= fmin_hz and points_per_decade >= 1):
        raise ValueError("need 0 < fmin <= fmax and at least one point per decade")
    n = max(int(round(math.log10(fmax_hz / fmin_hz) * points_per_decade)) + 1, 1)
    return np.logspace(math.log10(fmin_hz), math.log10(fmax_hz), n) if n > 1 else np.array([fmin_hz])


def default_amplitudes(vid_max_vpk: float, count: int = 6) -> np.ndarray:
    """A 1-2-5 series of peak amplitudes (V) ending at ``vid_max_vpk``: the ``count - 1`` largest values of the
    series below it, then ``vid_max_vpk`` itself."""
    series = sorted(m * 10.0 ** e for e in range(-7, 3) for m in (1.0, 2.0, 5.0))
    below = [a for a in series if a < vid_max_vpk * (1 - 1e-9)]
    return np.array(below[-(count - 1):] + [vid_max_vpk])


@dataclass(frozen=True)
class LargeSignal:
    """Distortion at each amplitude of a differential drive, for the output ``output`` ("vod" or "vo2")."""

    output: str
    transfer: str
    distortion: Distortion
    small_signal_gain: float
    output_peak_v: np.ndarray
    min_headroom_v: np.ndarray

    @property
    def fundamental_gain(self) -> np.ndarray:
        """Large-signal gain at the fundamental, V/V: the small-signal gain times the compression."""
        return self.small_signal_gain * self.distortion.gain_ratio

    @property
    def saturates(self) -> np.ndarray:
        return self.min_headroom_v < 0


@dataclass(frozen=True)
class Prediction:
    """Everything ``diffbench predict`` reports for one board."""

    board: BoardConfig
    op: PairOperatingPoint
    freq_hz: np.ndarray
    gains: MixedModeGains
    dc_gains: MixedModeGains
    bandwidth_hz: float
    tail_zero_hz: float
    input_offset_v: float
    input_offset_transfer_v: float | None
    large: LargeSignal
    warnings: tuple[str, ...]

    @property
    def output(self) -> str:
        return self.large.output


def _se(g: MixedModeGains, name: str) -> np.ndarray:
    return {
        "Add": g.add, "Acc": g.acc, "Acd": g.acd, "Adc": g.adc,
        "Ad_se1": g.ad_se(1), "Acm_se1": g.acm_se(1), "Ad_se2": g.ad_se(2), "Acm_se2": g.acm_se(2),
        "CMRR_se1": g.cmrr_se(1), "CMRR_se2": g.cmrr_se(2), "CMRR_diff": g.cmrr_diff,
    }[name]


def _div(a: float, b: float) -> float:
    """``a/b`` as floats, without ZeroDivisionError: +-inf for x/0 and nan for 0/0 (a gain of exactly zero)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(a) / np.float64(b))


BANDWIDTH_SEARCH_DECADES = (-20, 12)
"""The -3 dB search covers 1e-20 Hz to 1 THz: a node of the largest resistance and capacitance a board config
accepts (1 TOhm, 1 mF) has its pole near 1.6e-10 Hz, a transistor's r_o (V_A/I up to 1e13 Ohm) a decade lower."""


def _bandwidth(response: Callable[[np.ndarray], np.ndarray]) -> float:
    """-3 dB frequency (Hz) of ``|response(f)|`` relative to its value at 0 Hz: the first frequency where it
    falls to ``1/sqrt(2)`` of that, found on a log grid (4 points a decade over
    :data:`BANDWIDTH_SEARCH_DECADES`) and refined in the grid interval that brackets it. inf if it never falls
    that far below 1 THz (or the gain is 0), 0 if it already has at 1e-20 Hz, nan if the response is not finite."""
    a0 = abs(complex(response(np.array(0.0))))
    lo, hi = BANDWIDTH_SEARCH_DECADES
    grid = np.linspace(lo, hi, 4 * (hi - lo) + 1)
    mags = np.abs(np.asarray(response(10.0 ** grid), dtype=complex))
    if not (math.isfinite(a0) and np.all(np.isfinite(mags))):
        return math.nan
    target = a0 / math.sqrt(2.0)
    below = np.nonzero(mags < target)[0]
    if a0 == 0 or below.size == 0:
        return math.inf
    i = int(below[0])
    if i == 0:
        return 0.0
    f = lambda lf: float(abs(complex(response(np.array(10.0 ** lf))))) - target  # noqa: E731
    return 10.0 ** brentq(f, float(grid[i - 1]), float(grid[i]), xtol=1e-10)


def _headroom(board: BoardConfig, op: PairOperatingPoint, v_id: np.ndarray, vo: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Least margin (V) over the cycle before a device leaves its active region, per amplitude (rows).

    Differential drive: base/gate k at ``v_base,k ± v_id/2``. BJT forward-active while ``V_BC < 0.4 V``,
    MOS in saturation while ``V_D >= V_G - V_th``. With a cascode the pair's collector is held by the
    cascode and the cascode device is checked against the output; the active load's mirror output device
    is checked against the mirror node.
    """
    devs = pair_devices(board)
    bjt = board.is_bjt
    margins = []
    for k, sign in ((0, 1.0), (1, -1.0)):
        side = op.sides[k]
        v_b = side.v_base + sign * v_id / 2.0
        edge = BJT_SATURATION_VBC_V if bjt else devs[k].vth
        if side.cascode is None:
            if op.mirror is not None and k == 0:
                continue  # the mirror node barely moves: its DC headroom is in the operating point
            margins.append(vo[k] - v_b + edge)
        else:
            margins.append(side.v_collector - v_b + edge)
            if not (op.mirror is not None and k == 0):
                casc_edge = BJT_SATURATION_VBC_V if bjt else board.device.vth_v
                margins.append(vo[k] - board.cascode_bias_v + casc_edge)
    if op.mirror is not None:
        m_edge = BJT_SATURATION_VBC_V if board.mirror.is_bjt else board.mirror.vth_v
        margins.append(op.mirror.v_node + m_edge - vo[1])
    return np.min(np.stack([np.min(m, axis=-1) for m in margins]), axis=0)


def _large_signal(board: BoardConfig, op: PairOperatingPoint, dc: MixedModeGains, amplitudes: np.ndarray) -> LargeSignal:
    transfer, name = differential_current_transfer(board, op)
    dist = harmonic_analysis(transfer, amplitudes, n_harmonics=N_HARMONICS)
    active = op.mirror is not None
    a_out = complex(dc.ad_se(2)) if active else complex(dc.add)
    theta = 2.0 * np.pi * np.arange(512) / 512
    v_id = amplitudes[:, None] * np.cos(theta)[None, :]
    x = (transfer(v_id) - transfer(np.array([0.0]))[0]) / dist.slope  # linear-equivalent input, V
    vo1 = op.vo1 + complex(dc.ad_se(1)).real * x
    vo2 = op.vo2 + complex(dc.ad_se(2)).real * x
    out = (vo2 - op.vo2) if active else (vo1 - vo2 - op.vod)
    return LargeSignal(
        output="vo2" if active else "vod", transfer=name, distortion=dist, small_signal_gain=abs(a_out),
        output_peak_v=np.max(np.abs(out), axis=1), min_headroom_v=_headroom(board, op, v_id, (vo1, vo2)),
    )


def predict(board: BoardConfig, freq_hz: np.ndarray, amplitudes_vpk: np.ndarray | None = None) -> Prediction:
    """Operating point, small-signal gains at ``freq_hz`` and distortion at ``amplitudes_vpk`` (V peak of v_id;
    default :func:`default_amplitudes` of the board's ``vid_max_vpk``).

    A board whose devices are not all active (a warning says so) can have a zero gain, a tail current below
    zero or a transfer without slope: the figures that follow from those are nan or inf, shown as ``n/a`` or
    ``inf`` in the report and ``null`` in the JSON, quietly (numpy's floating-point warnings are off here)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return _predict(board, freq_hz, amplitudes_vpk)


def _predict(board: BoardConfig, freq_hz: np.ndarray, amplitudes_vpk: np.ndarray | None) -> Prediction:
    op = operating_point(board)
    s1, s2, load, tail = small_signal_circuit(board, op)
    gains = pair_response(freq_hz, s1, s2, load, tail).gains()
    dc = pair_response(0.0, s1, s2, load, tail).gains()
    active = op.mirror is not None
    amps = default_amplitudes(board.vid_max_vpk) if amplitudes_vpk is None else np.asarray(amplitudes_vpk, float)
    warnings = list(op.warnings)
    if not op.all_active:
        warnings.append("the small-signal and distortion predictions assume every device is active; they do not "
                        "describe this operating point")
    if np.any(amps > board.vid_max_vpk * (1 + 1e-9)):
        warnings.append(f"some amplitudes exceed the board's vid_max_vpk = {board.vid_max_vpk:g} V")
    if active and board.mismatch_load_r != 0:
        warnings.append("mismatch.load_r is ignored: an active load has a single resistor R1")
    large = _large_signal(board, op, dc, amps)

    def out_gain(f: np.ndarray) -> np.ndarray:
        g = pair_response(f, s1, s2, load, tail).gains()
        return g.ad_se(2) if active else g.add

    if active:
        # the input that brings the output to v_return (no current in R1): the source text's built-in offset
        offset = _div(-(op.vo2 - board.load_return_v), complex(dc.ad_se(2)).real)
        offset_tr = None
    else:
        offset = _div(-op.vod, complex(dc.add).real)
        (p1, p2), (vth1, vth2) = _effective_devices(board, op)
        r1, r2 = split(board.load_r_ohm, board.mismatch_load_r)
        if board.is_bjt:
            offset_tr = bjt_input_offset(board.vt_v, float(r1), float(r2), i_s1=p1, i_s2=p2,
                                         r_degen=board.degeneration_r_ohm, i_tail=op.i_tail)
        else:
            offset_tr = mos_input_offset(op.i_tail, p1, p2, float(r1), float(r2),
                                         vth1=vth1, vth2=vth2, r_degen=board.degeneration_r_ohm)
    return Prediction(
        board=board, op=op, freq_hz=np.asarray(freq_hz, float), gains=gains, dc_gains=dc,
        bandwidth_hz=_bandwidth(out_gain), tail_zero_hz=float(corner_hz(board.tail_r_ohm, board.tail_c_f)),
        input_offset_v=float(offset), input_offset_transfer_v=offset_tr, large=large, warnings=tuple(warnings),
    )


# ----------------------------------------------------------------------------------------------------------
# Text report

_PREFIXES = ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p"),
             (1e-15, "f"))


def eng(x: float, unit: str, digits: int = 4) -> str:
    """``x`` with an SI prefix and ``digits`` significant digits: ``eng(5.2e-4, "A") == "520 uA"``."""
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return f"{'inf' if x > 0 else '-inf'} {unit}"
    if x == 0:
        return f"0 {unit}"
    for scale, p in _PREFIXES:
        if abs(x) >= scale * (1 - 5e-13):
            return f"{x / scale:.{digits}g} {p}{unit}"
    scale, p = _PREFIXES[-1]  # below the smallest prefix: "0.579 fF" reads better than "5.79e-16 F"
    return f"{x / scale:.{digits}g} {p}{unit}"


def _fmt(x: float, spec: str, width: int) -> str:
    if not math.isfinite(x):
        return f"{('inf' if x > 0 else '-inf') if not math.isnan(x) else '-':>{width}}"
    return f"{float(f'{x:{spec}}') + 0.0:{width}{spec}}"  # + 0.0 turns a rounded -0.0 into 0.0


def _device_rows(names: list[str], devs: list[DeviceOperatingPoint]) -> list[str]:
    bjt = devs[0].kind == "bjt"
    w = 16
    rows = ["  " + "".ljust(20) + "".join(f"{n:>{w}}" for n in names)]

    def row(label: str, values: list[str]) -> None:
        rows.append("  " + label.ljust(20) + "".join(f"{v:>{w}}" for v in values))

    row("device", [d.name for d in devs])
    row("I_C" if bjt else "I_D", [eng(d.i_out, "A") for d in devs])
    row("V_BE" if bjt else "V_GS", [eng(d.v_ctrl, "V") for d in devs])
    row("V_CE" if bjt else "V_DS", [eng(d.v_out, "V") for d in devs])
    if not bjt:
        row("V_ov", [eng(d.v_ov, "V") for d in devs])
    row("headroom", [eng(d.headroom_v, "V") for d in devs])
    row("g_m", [eng(d.gm, "S") for d in devs])
    if bjt:
        row("r_e", [eng(d.r_e, "Ohm") for d in devs])
        row("r_pi", [eng(d.r_pi, "Ohm") for d in devs])
    row("r_o", [eng(d.r_o, "Ohm") for d in devs])
    if bjt:
        row("beta / alpha", [f"{d.beta:.1f}/{d.alpha:.4f}" for d in devs])
    row("region", [d.region for d in devs])
    return rows


def format_report(pred: Prediction) -> str:
    """The human-readable report: header, warnings, operating point, gain tables, distortion table."""
    b, op = pred.board, pred.op
    lines = [f"diffbench predict: {b.name}  ({b.source})"]
    if b.description:
        lines.append(f"  {b.description}")
    load = (f"active load (mirror {b.mirror.type}), R1 = {eng(b.load_r_ohm, 'Ohm')} to {b.load_return_v:g} V"
            if op.mirror is not None else f"resistive load {eng(b.load_r_ohm, 'Ohm')} to {b.load_return_v:g} V")
    extras = [f"degeneration {eng(b.degeneration_r_ohm, 'Ohm')}" if b.degeneration_r_ohm else "no degeneration",
              f"cascode at {b.cascode_bias_v:g} V" if b.cascode else "no cascode"]
    lines.append(f"  {b.device.type} pair, {load}, {', '.join(extras)}; "
                 f"V_T = {b.vt_v * 1e3:.3f} mV at {b.temperature_k:g} K")
    for w in pred.warnings:
        lines.append(f"WARNING: {w}")

    lines += ["", f"Operating point (input pins at {b.bias_v:g} V; tail {eng(op.i_tail, 'A')} into a node at "
                  f"{op.v_tail:.4f} V)"]
    devs = [s.device for s in op.sides]
    names = ["side 1", "side 2"]
    if any(s.cascode is not None for s in op.sides):
        devs += [s.cascode for s in op.sides]
        names += ["cascode 1", "cascode 2"]
    if op.mirror is not None:
        devs += [op.mirror.diode, op.mirror.output]
        names += ["mirror diode", "mirror out"]
    lines += _device_rows(names, devs)
    lines.append(f"  outputs DC: vo1 = {op.vo1:.4f} V, vo2 = {op.vo2:.4f} V, vod = {eng(op.vod, 'V')}")
    if op.mirror is not None:
        lines.append(f"  mirror node {op.mirror.v_node:.4f} V; R1 carries {eng(op.mirror.i_r_out, 'A')} "
                     f"(output {eng(op.vo2 - b.load_return_v, 'V')} from {b.load_return_v:g} V); "
                     f"input-referred: {eng(pred.input_offset_v, 'V')}")
    else:
        lines.append(f"  input-referred offset {eng(pred.input_offset_v, 'V')} (operating point), "
                     f"{eng(pred.input_offset_transfer_v, 'V')} (large-signal transfer)")
    dc = pred.dc_gains
    k_out = 2 if op.mirror is not None else 1
    lines.append(f"  low frequency: Add = {complex(dc.add).real:.4g}, Ad_se{k_out} = {complex(dc.ad_se(k_out)).real:.4g}, "
                 f"Acc = {complex(dc.acc).real:.4g}; CMRR_se1 = {db(dc.cmrr_se(1)):.2f} dB, "
                 f"CMRR_se2 = {db(dc.cmrr_se(2)):.2f} dB, CMRR_diff = {_fmt(float(db(dc.cmrr_diff)), '.2f', 1)} dB")
    lines.append(f"  tail zero f_z = 1/(2 pi R_T C_T) = {eng(pred.tail_zero_hz, 'Hz')}; "
                 f"{'Ad_se2' if op.mirror is not None else 'Add'} -3 dB bandwidth {eng(pred.bandwidth_hz, 'Hz')}")

    g = pred.gains
    lines += ["", "Small-signal gains, mixed mode: |A| in dB and phase in degrees; CMRR_diff = |Add/Acd| in dB"]
    lines += _gain_table(pred.freq_hz, g, ("Add", "Acc", "Acd", "Adc"), ("CMRR_diff",))
    lines += ["", "Small-signal gains, single-ended (output k = vo_k); CMRR_se,k = |Ad_se,k/Acm_se,k| in dB"]
    lines += _gain_table(pred.freq_hz, g, ("Ad_se1", "Acm_se1", "Ad_se2", "Acm_se2"), ("CMRR_se1", "CMRR_se2"))

    ls = pred.large
    lines += ["", f"Distortion, differential drive v_id = A cos(wt) ({ls.transfer}; output {ls.output}; "
                  f"small-signal gain {ls.small_signal_gain:.4g} V/V)"]
    hd_cols = (2, 3, 5)
    head = (f"  {'A (V pk)':>10} {'THD %':>9}" + "".join(f" {f'HD{k} %':>9}" for k in hd_cols)
            + f" {'gain V/V':>10} {'gain/ss':>8} {'out pk V':>9} {'headroom V':>11}")
    lines.append(head)
    d = ls.distortion
    for i, a in enumerate(d.amplitude):
        cells = f"  {a:>10.4g} {100 * d.thd[i]:>9.4f}" + "".join(f" {100 * d.hd(k)[i]:>9.4f}" for k in hd_cols)
        cells += (f" {ls.fundamental_gain[i]:>10.4g} {d.gain_ratio[i]:>8.4f} {ls.output_peak_v[i]:>9.4g}"
                  f" {ls.min_headroom_v[i]:>11.3f}")
        if ls.saturates[i]:
            cells += "  SAT"
        lines.append(cells)
    if np.any(ls.saturates):
        edge = f"V_BC > {BJT_SATURATION_VBC_V:g} V" if b.is_bjt else "V_DS < V_ov"
        lines.append(f"  SAT: at the peak of the cycle a device leaves its active region ({edge}); "
                     "the distortion figures do not include that")
    return "\n".join(lines)


def _gain_table(f: np.ndarray, g: MixedModeGains, names: tuple[str, ...], cmrrs: tuple[str, ...]) -> list[str]:
    head = f"  {'f (Hz)':>10}" + "".join(f" {n + ' dB':>11} {'deg':>7}" for n in names) + "".join(
        f" {n + ' dB':>13}" for n in cmrrs)
    rows = [head]
    for i, fi in enumerate(f):
        cells = f"  {fi:>10.4g}"
        for n in names:
            z = complex(np.broadcast_to(_se(g, n), f.shape)[i])
            cells += f" {_fmt(float(db(z)), '.2f', 11)} {_fmt(float(phase_deg(z)) if z != 0 else math.nan, '.1f', 7)}"
        for n in cmrrs:
            cells += f" {_fmt(float(db(np.broadcast_to(_se(g, n), f.shape)[i])), '.2f', 13)}"
        rows.append(cells)
    return rows


# ----------------------------------------------------------------------------------------------------------
# JSON (documented key by key in docs/predict-json.md)

def _num(x: Any) -> float | None:
    """A JSON number: finite floats as they are, inf / nan as null."""
    x = float(x)
    return x if math.isfinite(x) else None


def _nums(a: Any) -> list[float | None]:
    return [_num(v) for v in np.ravel(a)]


def _device_json(d: DeviceOperatingPoint | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {
        "name": d.name, "kind": d.kind, "region": d.region, "i_out_a": _num(d.i_out), "i_in_a": _num(d.i_in),
        "v_ctrl_v": _num(d.v_ctrl), "v_out_v": _num(d.v_out), "v_ov_v": _num(d.v_ov), "headroom_v": _num(d.headroom_v),
        "gm_s": _num(d.gm), "r_o_ohm": _num(d.r_o), "r_pi_ohm": _num(d.r_pi), "r_e_ohm": _num(d.r_e),
        "beta": _num(d.beta), "alpha": _num(d.alpha),
    }


def to_json(pred: Prediction) -> dict[str, Any]:
    """The prediction as one JSON-ready dict (schema ``diffbench.predict/1``, docs/predict-json.md)."""
    b, op, g, dc = pred.board, pred.op, pred.gains, pred.dc_gains
    f = pred.freq_hz

    def gain(name: str, gg: MixedModeGains, shape: tuple[int, ...]) -> dict[str, list[float | None]]:
        z = np.broadcast_to(_se(gg, name), shape).astype(complex)
        return {"re": _nums(z.real), "im": _nums(z.imag), "mag_db": _nums(db(z)),
                "phase_deg": _nums(np.where(z != 0, phase_deg(z), np.nan))}

    d = pred.large.distortion
    return {
        "schema": "diffbench.predict/1",
        "board": {"name": b.name, "description": b.description, "source": b.source},
        "circuit": {
            "device": b.device.type, "load": b.load_type, "mirror": b.mirror.type if b.mirror else None,
            "degeneration_ohm": _num(b.degeneration_r_ohm), "cascode": b.cascode,
            "cascode_bias_v": _num(b.cascode_bias_v) if b.cascode else None, "output": pred.output,
        },
        "conditions": {"temperature_k": b.temperature_k, "vt_v": b.vt_v, "bias_v": b.bias_v, "vcc_v": b.vcc_v,
                       "vee_v": b.vee_v},
        "operating_point": {
            "all_active": op.all_active,
            "tail": {"current_a": _num(op.i_tail), "node_v": _num(op.v_tail), "r_ohm": _num(b.tail_r_ohm),
                     "c_f": _num(b.tail_c_f)},
            "sides": [
                {"v_in_v": _num(s.v_in), "v_base_v": _num(s.v_base), "v_emitter_v": _num(s.v_emitter),
                 "v_collector_v": _num(s.v_collector), "v_output_v": _num(s.v_output),
                 "i_emitter_a": _num(s.i_emitter), "device": _device_json(s.device), "cascode": _device_json(s.cascode)}
                for s in op.sides
            ],
            "mirror": None if op.mirror is None else {
                "node_v": _num(op.mirror.v_node), "i_r_out_a": _num(op.mirror.i_r_out),
                "diode": _device_json(op.mirror.diode), "output": _device_json(op.mirror.output)},
            "vo1_v": _num(op.vo1), "vo2_v": _num(op.vo2), "vod_v": _num(op.vod),
            "input_offset_v": _num(pred.input_offset_v),
            "input_offset_transfer_v": None if pred.input_offset_transfer_v is None else _num(pred.input_offset_transfer_v),
        },
        "small_signal": {
            "freq_hz": _nums(f),
            "gains": {n: gain(n, g, f.shape) for n in GAIN_KEYS},
            "cmrr_db": {n: _nums(db(np.broadcast_to(_se(g, n), f.shape))) for n in CMRR_KEYS},
            "dc_gains": {n: {"re": _num(complex(_se(dc, n)).real), "im": _num(complex(_se(dc, n)).imag)} for n in GAIN_KEYS},
            "dc_cmrr_db": {n: _num(db(_se(dc, n))) for n in CMRR_KEYS},
            "tail_zero_hz": _num(pred.tail_zero_hz),
            "bandwidth_hz": _num(pred.bandwidth_hz),
        },
        "large_signal": {
            "output": pred.large.output,
            "transfer": pred.large.transfer,
            "small_signal_gain": _num(pred.large.small_signal_gain),
            "amplitude_vpk": _nums(d.amplitude),
            "thd_pct": _nums(100 * d.thd),
            "hd_pct": {str(k): _nums(100 * d.hd(k)) for k in HARMONICS_REPORTED},
            "fundamental_gain": _nums(pred.large.fundamental_gain),
            "gain_ratio": _nums(d.gain_ratio),
            "compression_db": _nums(db(d.gain_ratio)),
            "output_peak_v": _nums(pred.large.output_peak_v),
            "min_headroom_v": _nums(pred.large.min_headroom_v),
            "saturates": [bool(x) for x in pred.large.saturates],
        },
        "warnings": list(pred.warnings),
    }
