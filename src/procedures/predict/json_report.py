"""The prediction as one JSON-ready dict (``diffbench predict --json``), documented key by key in
docs/predict-json.md. Infinite and undefined numbers become ``null``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from models import DeviceOperatingPoint, MixedModeGains, TwoStageOperatingPoint, db, phase_deg

from .device_listing import listed_devices, listed_nodes, pair_cascode, split_tail_bridge
from .prediction import CMRR_KEYS, GAIN_KEYS, Prediction, gain_by_name

SCHEMA = "diffbench.predict/1"
HARMONICS_REPORTED = (2, 3, 4, 5, 7, 9)


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


def _circuit_json(pred: Prediction) -> dict[str, Any]:
    """The circuit; a split tail has no per-side resistor (``degeneration_ohm`` 0) but its bridge R and the
    equivalent per-side degeneration R/2 under ``split_tail``."""
    b = pred.board
    bridge = split_tail_bridge(b, pred.op)
    return {
        "device": b.device.type, "load": b.load_type, "mirror": b.mirror.type if b.mirror else None,
        "degeneration_ohm": _num(b.degeneration_r_ohm) if bridge is None else 0.0, "cascode": b.cascode,
        "cascode_bias_v": _num(b.cascode_bias_v) if b.cascode else None, "output": pred.output,
        "split_tail": None if bridge is None else {
            "bridge_r_ohm": _num(bridge.bridge_r_ohm),
            "equivalent_degeneration_ohm": _num(bridge.equivalent_degeneration_ohm),
            "star_arm_ohm": _num(bridge.star_arm_ohm)},
    }


def _variant_json(pred: Prediction) -> dict[str, Any]:
    """The split tail's sink and bridge currents and the second stage's levels (``null`` on other boards)."""
    op = pred.op
    bridge = split_tail_bridge(pred.board, op)
    return {
        "split_tail": None if bridge is None else {
            "sink_a": _nums(bridge.sink_a), "bridge_a": _num(bridge.bridge_a)},
        "second_stage": None if not isinstance(op, TwoStageOperatingPoint) else {
            "mid_v": _num(op.v_mid), "output_v": _num(op.v_out), "i_sink_a": _num(op.i_sink),
            "device": _device_json(op.stage2)},
    }


def _operating_point_json(pred: Prediction) -> dict[str, Any]:
    b, op = pred.board, pred.op
    return {
        "all_active": op.all_active,
        "devices": [{"role": d.role, "group": d.group, "device": _device_json(d.device)}
                    for d in listed_devices(b, op)],
        "nodes_v": {n: _num(v) for n, v in listed_nodes(op).items()},
        **_variant_json(pred),
        "tail": {"current_a": _num(op.i_tail), "node_v": _num(op.v_tail), "r_ohm": _num(b.tail_r_ohm),
                 "c_f": _num(b.tail_c_f)},
        "sides": [
            {"v_in_v": _num(s.v_in), "v_base_v": _num(s.v_base), "v_emitter_v": _num(s.v_emitter),
             "v_collector_v": _num(s.v_collector), "v_output_v": _num(s.v_output),
             "i_emitter_a": _num(s.i_emitter), "device": _device_json(s.device),
             "cascode": _device_json(pair_cascode(s.cascode, k))}
            for k, s in enumerate(op.sides, 1)
        ],
        "mirror": None if op.mirror is None else {
            "node_v": _num(op.mirror.v_node), "i_r_out_a": _num(op.mirror.i_r_out),
            "diode": _device_json(op.mirror.diode), "output": _device_json(op.mirror.output)},
        "vo1_v": _num(op.vo1), "vo2_v": _num(op.vo2), "vod_v": _num(op.vod),
        "input_offset_v": _num(pred.input_offset_v),
        "input_offset_transfer_v": None if pred.input_offset_transfer_v is None else _num(pred.input_offset_transfer_v),
    }


def _gain_json(name: str, g: MixedModeGains, shape: tuple[int, ...]) -> dict[str, list[float | None]]:
    z = np.broadcast_to(gain_by_name(g, name), shape).astype(complex)
    return {"re": _nums(z.real), "im": _nums(z.imag), "mag_db": _nums(db(z)),
            "phase_deg": _nums(np.where(z != 0, phase_deg(z), np.nan))}


def _small_signal_json(pred: Prediction) -> dict[str, Any]:
    g, dc, f = pred.gains, pred.dc_gains, pred.freq_hz
    return {
        "freq_hz": _nums(f),
        "gains": {n: _gain_json(n, g, f.shape) for n in GAIN_KEYS},
        "cmrr_db": {n: _nums(db(np.broadcast_to(gain_by_name(g, n), f.shape))) for n in CMRR_KEYS},
        "dc_gains": {n: {"re": _num(complex(gain_by_name(dc, n)).real), "im": _num(complex(gain_by_name(dc, n)).imag)}
                     for n in GAIN_KEYS},
        "dc_cmrr_db": {n: _num(db(gain_by_name(dc, n))) for n in CMRR_KEYS},
        "tail_zero_hz": _num(pred.tail_zero_hz),
        "bandwidth_hz": _num(pred.bandwidth_hz),
    }


def _large_signal_json(pred: Prediction) -> dict[str, Any]:
    ls = pred.large
    d = ls.distortion
    return {
        "output": ls.output,
        "transfer": ls.transfer,
        "small_signal_gain": _num(ls.small_signal_gain),
        "amplitude_vpk": _nums(d.amplitude),
        "thd_pct": _nums(100 * d.thd),
        "hd_pct": {str(k): _nums(100 * d.hd(k)) for k in HARMONICS_REPORTED},
        "fundamental_gain": _nums(ls.fundamental_gain),
        "gain_ratio": _nums(d.gain_ratio),
        "compression_db": _nums(db(d.gain_ratio)),
        "output_peak_v": _nums(ls.output_peak_v),
        "min_headroom_v": _nums(ls.min_headroom_v),
        "saturates": [bool(x) for x in ls.saturates],
    }


def to_json(pred: Prediction) -> dict[str, Any]:
    """The prediction as one JSON-ready dict (schema ``diffbench.predict/1``, docs/predict-json.md)."""
    b = pred.board
    return {
        "schema": SCHEMA,
        "board": {"name": b.name, "description": b.description, "source": b.source},
        "circuit": _circuit_json(pred),
        "conditions": {"temperature_k": b.temperature_k, "vt_v": b.vt_v, "bias_v": b.bias_v, "vcc_v": b.vcc_v,
                       "vee_v": b.vee_v},
        "operating_point": _operating_point_json(pred),
        "small_signal": _small_signal_json(pred),
        "large_signal": _large_signal_json(pred),
        "warnings": list(pred.warnings),
    }
