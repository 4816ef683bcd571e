"""The human-readable form of a prediction (``diffbench predict`` without ``--json``): header, warnings,
operating point, gain tables, distortion table."""

from __future__ import annotations

import math

import numpy as np

from models import BJT_SATURATION_VBC_V, DeviceOperatingPoint, MixedModeGains, TwoStageOperatingPoint, db, phase_deg

from .device_listing import ListedDevice, listed_devices, listed_nodes, split_tail_bridge
from .prediction import Prediction, gain_by_name
from .si_format import eng


def _fmt(x: float, spec: str, width: int) -> str:
    """``x`` formatted by ``spec`` right-aligned in ``width``; ``inf``/``-inf``, and ``-`` for nan."""
    if not math.isfinite(x):
        return f"{('inf' if x > 0 else '-inf') if not math.isnan(x) else '-':>{width}}"
    return f"{float(f'{x:{spec}}') + 0.0:{width}{spec}}"  # + 0.0 turns a rounded -0.0 into 0.0


def _device_rows(names: list[str], devs: list[DeviceOperatingPoint]) -> list[str]:
    """One column per device: currents, voltages, headroom, small-signal parameters, region."""
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


MAX_TABLE_COLUMNS = 6
"""Devices in one operating-point table; a board with more gets one table for the pair and one for the load."""


def _device_tables(listed: list[ListedDevice]) -> list[str]:
    """The device table, split by group (pair, load) when it would be wider than :data:`MAX_TABLE_COLUMNS`."""
    groups = [listed] if len(listed) <= MAX_TABLE_COLUMNS else [
        [d for d in listed if d.group == g] for g in ("pair", "load")]
    lines: list[str] = []
    for i, group in enumerate(g for g in groups if g):
        if i:
            lines.append("")
        lines += _device_rows([d.role for d in group], [d.device for d in group])
    return lines


def _node_lines(nodes: dict[str, float], width: int = 112) -> list[str]:
    """``nodes: e1 = 0.9884 V, ...`` wrapped at ``width`` characters."""
    lines, line = [], "  nodes:"
    for name, v in nodes.items():
        cell = f" {name} = {v:.4f} V,"
        if len(line) + len(cell) > width:
            lines.append(line)
            line = "        "
        line += cell
    return lines + [line.rstrip(",")]


def _variant_lines(pred: Prediction) -> list[str]:
    """What the device table does not say of a split tail (its sinks and bridge) or a second stage (its sink)."""
    b, op = pred.board, pred.op
    bridge = split_tail_bridge(b, op)
    if bridge is not None:
        i1, i2 = bridge.sink_a
        return [f"  split tail: sinks carry {eng(i1, 'A')} (at e1) and {eng(i2, 'A')} (at e2), "
                f"bridge R = {eng(bridge.bridge_r_ohm, 'Ohm')} carries {eng(bridge.bridge_a, 'A')} from e1 to e2"]
    if isinstance(op, TwoStageOperatingPoint):
        d9 = op.stage2
        return [f"  second stage: mid = {op.v_mid:.4f} V drives {d9.name} ({eng(d9.i_out, 'A')}) into out2 = "
                f"{op.v_out:.4f} V; the sink I2 carries {eng(op.i_sink, 'A')}"]
    return []


def _header(pred: Prediction) -> list[str]:
    """Board name and source, the circuit in one line, the warnings."""
    b, op = pred.board, pred.op
    lines = [f"diffbench predict: {b.name}  ({b.source})"]
    if b.description:
        lines.append(f"  {b.description}")
    load = (f"active load (mirror {b.mirror.type}), R1 = {eng(b.load_r_ohm, 'Ohm')} to {b.load_return_v:g} V"
            if op.mirror is not None and b.mirror is not None
            else f"resistive load {eng(b.load_r_ohm, 'Ohm')} to {b.load_return_v:g} V")
    bridge = split_tail_bridge(b, op)
    degen = (f"degeneration {eng(b.degeneration_r_ohm, 'Ohm')}" if b.degeneration_r_ohm else "no degeneration")
    if bridge is not None:
        degen = f"split tail with bridge R = {eng(bridge.bridge_r_ohm, 'Ohm')}"
    extras = [degen, f"cascode at {b.cascode_bias_v:g} V" if b.cascode else "no cascode"]
    lines.append(f"  {b.device.type} pair, {load}, {', '.join(extras)}; "
                 f"V_T = {b.vt_v * 1e3:.3f} mV at {b.temperature_k:g} K")
    if bridge is not None:
        lines.append(f"  split tail (source text fig. 5-9): a sink of {eng(b.tail_current_a / 2.0, 'A')} || "
                     f"{eng(2.0 * b.tail_r_ohm, 'Ohm')} at each emitter, bridge R = {eng(bridge.bridge_r_ohm, 'Ohm')} "
                     f"between them; equivalent degeneration R/2 = {eng(bridge.equivalent_degeneration_ohm, 'Ohm')} "
                     f"per side (the sinks shunt it to {eng(bridge.star_arm_ohm, 'Ohm', 5)})")
    lines += [f"WARNING: {w}" for w in pred.warnings]
    return lines


def _operating_point(pred: Prediction) -> list[str]:
    """The device table, the output levels and offsets, the low-frequency gains, tail zero and bandwidth."""
    b, op = pred.board, pred.op
    tail = (f"sinks {eng(op.i_tail, 'A')} together; bridge midpoint at {op.v_tail:.4f} V" if b.tail_kind == "split"
            else f"tail {eng(op.i_tail, 'A')} into a node at {op.v_tail:.4f} V")
    lines = ["", f"Operating point (input pins at {b.bias_v:g} V; {tail})"]
    lines += _device_tables(listed_devices(b, op))
    lines += _node_lines(listed_nodes(op))
    lines += _variant_lines(pred)
    lines.append(f"  outputs DC: vo1 = {op.vo1:.4f} V, vo2 = {op.vo2:.4f} V, vod = {eng(op.vod, 'V')}")
    if op.mirror is not None:
        lines.append(f"  mirror node {op.mirror.v_node:.4f} V; R1 carries {eng(op.mirror.i_r_out, 'A')} "
                     f"(output {eng(op.vo2 - b.load_return_v, 'V')} from {b.load_return_v:g} V); "
                     f"input-referred: {eng(pred.input_offset_v, 'V')}")
    else:
        tr = pred.input_offset_transfer_v
        lines.append(f"  input-referred offset {eng(pred.input_offset_v, 'V')} (operating point), "
                     f"{eng(tr, 'V') if tr is not None else 'n/a'} (large-signal transfer)")
    dc = pred.dc_gains
    k_out = 2 if op.mirror is not None else 1
    lines.append(f"  low frequency: Add = {complex(dc.add).real:.4g}, "
                 f"Ad_se{k_out} = {complex(dc.ad_se(k_out)).real:.4g}, Acc = {complex(dc.acc).real:.4g}; "
                 f"CMRR_se1 = {db(dc.cmrr_se(1)):.2f} dB, "
                 f"CMRR_se2 = {db(dc.cmrr_se(2)):.2f} dB, CMRR_diff = {_fmt(float(db(dc.cmrr_diff)), '.2f', 1)} dB")
    lines.append(f"  tail zero f_z = 1/(2 pi R_T C_T) = {eng(pred.tail_zero_hz, 'Hz')}; "
                 f"{'Ad_se2' if op.mirror is not None else 'Add'} -3 dB bandwidth {eng(pred.bandwidth_hz, 'Hz')}")
    return lines


def _gain_table(f: np.ndarray, g: MixedModeGains, names: tuple[str, ...], cmrrs: tuple[str, ...]) -> list[str]:
    """One row per frequency: |A| in dB and phase in degrees of each of ``names``, then the CMRRs in dB."""
    head = f"  {'f (Hz)':>10}" + "".join(f" {n + ' dB':>11} {'deg':>7}" for n in names) + "".join(
        f" {n + ' dB':>13}" for n in cmrrs)
    rows = [head]
    for i, fi in enumerate(f):
        cells = f"  {fi:>10.4g}"
        for n in names:
            z = complex(np.broadcast_to(gain_by_name(g, n), f.shape)[i])
            cells += f" {_fmt(float(db(z)), '.2f', 11)} {_fmt(float(phase_deg(z)) if z != 0 else math.nan, '.1f', 7)}"
        for n in cmrrs:
            cells += f" {_fmt(float(db(np.broadcast_to(gain_by_name(g, n), f.shape)[i])), '.2f', 13)}"
        rows.append(cells)
    return rows


def _gains(pred: Prediction) -> list[str]:
    """The mixed-mode and the single-ended gain tables."""
    g = pred.gains
    lines = ["", "Small-signal gains, mixed mode: |A| in dB and phase in degrees; CMRR_diff = |Add/Acd| in dB"]
    lines += _gain_table(pred.freq_hz, g, ("Add", "Acc", "Acd", "Adc"), ("CMRR_diff",))
    lines += ["", "Small-signal gains, single-ended (output k = vo_k); CMRR_se,k = |Ad_se,k/Acm_se,k| in dB"]
    lines += _gain_table(pred.freq_hz, g, ("Ad_se1", "Acm_se1", "Ad_se2", "Acm_se2"), ("CMRR_se1", "CMRR_se2"))
    return lines


def _distortion(pred: Prediction) -> list[str]:
    """One row per amplitude: THD, harmonics, gain and compression, output peak, headroom (``SAT`` below 0)."""
    ls = pred.large
    lines = ["", f"Distortion, differential drive v_id = A cos(wt) ({ls.transfer}; output {ls.output}; "
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
        edge = f"V_BC > {BJT_SATURATION_VBC_V:g} V" if pred.board.is_bjt else "V_DS < V_ov"
        lines.append(f"  SAT: at the peak of the cycle a device leaves its active region ({edge}); "
                     "the distortion figures do not include that")
    return lines


def format_report(pred: Prediction) -> str:
    """The human-readable report: header, warnings, operating point, gain tables, distortion table."""
    return "\n".join(_header(pred) + _operating_point(pred) + _gains(pred) + _distortion(pred))
