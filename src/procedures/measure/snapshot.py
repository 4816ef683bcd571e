"""The instrument snapshot: every setting of the scope and the generator, read back at each measured point.

One row of the ``snapshot`` table per point: what each scope channel the run uses was set to (per node
``v1``/``v2``/``vo1``/``vo2``), the horizontal and acquisition settings, every setting of the generator
channels and its tracking mode. Everything comes from the instruments' own read-backs (the drivers'
``channel_state``, ``timebase``, ``acquisition_state`` and ``tracking``), not from what was asked, so the
archive says what the bench actually did. Each setting is read once per snapshot; a scope channel that
probes two nodes is read once.

Per-node columns have the ``node`` dimension (its labels are the node names, in the order of
``scope_channels``), per-generator-channel columns the ``gen_channel`` dimension (labels ``"1"``,
``"2"``). The table is documented in ``docs/archive.md`` ("The instrument snapshot").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from instruments.generator import ChannelState, FunctionGenerator
from instruments.scope import Oscilloscope, ScopeChannelState
from procedures.archive.writer import Column, TableSpec

SNAPSHOT = "snapshot"
NODE_DIM = ("node",)
GEN_DIM = ("gen_channel",)


def _checked(scope_channels: Mapping[str, int], generator_channels: Sequence[int]) -> tuple[list[str], list[int]]:
    """The node names and generator channels, non-empty (a column cannot have a dimension of size 0)."""
    nodes = list(scope_channels)
    channels = [int(ch) for ch in generator_channels]
    if not nodes:
        raise ValueError("snapshot: scope_channels names no node")
    if not channels:
        raise ValueError("snapshot: generator_channels names no channel")
    if len(set(channels)) != len(channels):
        raise ValueError(f"snapshot: generator channel listed twice in {channels}")
    return nodes, channels


def snapshot_spec(scope_channels: Mapping[str, int], generator_channels: Sequence[int] = (1, 2)) -> TableSpec:
    """Declaration of the ``snapshot`` table for the nodes of ``scope_channels`` (node name -> scope channel,
    as ``BenchConfig.wiring.scope_channels()`` gives it) and the generator channels ``generator_channels``.

    Units are CF/UDUNITS strings: V, s, Hz, ohm, degree, s-1 (samples per second), ``1`` for counts and
    ratios; text and flag columns have none. Raises :class:`ValueError` if either is empty.
    """
    nodes, channels = _checked(scope_channels, generator_channels)
    n, g = (len(nodes),), (len(channels),)
    return TableSpec({
        "point_index": Column("int64", "1", "index of the measurement point the settings were read at"),
        # scope, per node's channel
        "scope_channel": Column("int64", "1", "scope channel that probes the node", shape=n, dims=NODE_DIM),
        "scope_enabled": Column("bool", "", "scope channel acquired (displayed)", shape=n, dims=NODE_DIM),
        "scope_scale_v_per_div": Column("float64", "V", "vertical scale, volts per division (probe included)",
                                        shape=n, dims=NODE_DIM),
        "scope_offset_v": Column("float64", "V", "voltage at the centre of the screen", shape=n, dims=NODE_DIM),
        "scope_coupling": Column("str", "", "input coupling (DC, AC, GND)", shape=n, dims=NODE_DIM),
        "scope_impedance_ohm": Column("float64", "ohm", "input impedance", shape=n, dims=NODE_DIM),
        "scope_bandwidth_limit": Column("bool", "", "bandwidth limit on", shape=n, dims=NODE_DIM),
        "scope_probe": Column("float64", "1", "probe attenuation factor", shape=n, dims=NODE_DIM),
        # scope, horizontal and acquisition
        "timebase_s_per_div": Column("float64", "s", "horizontal scale, seconds per division"),
        "timebase_position_s": Column("float64", "s", "time from the trigger to the horizontal reference point"),
        "sample_rate_sa_s": Column("float64", "s-1", "sample rate, samples per second"),
        "record_length": Column("int64", "1", "acquisition memory depth, points per channel"),
        "acquisition_mode": Column("str", "", "acquisition mode (normal, average, highres, peak, ...)"),
        "averages": Column("int64", "1", "records averaged per acquisition (1 unless the mode is average)"),
        # generator, per channel
        "gen_function": Column("str", "", "waveform function (sine, dc, ...)", shape=g, dims=GEN_DIM),
        "gen_frequency_hz": Column("float64", "Hz", "frequency", shape=g, dims=GEN_DIM),
        "gen_amplitude_vpp": Column("float64", "V", "amplitude, peak-to-peak volts at the load setting",
                                    shape=g, dims=GEN_DIM),
        "gen_offset_v": Column("float64", "V", "DC offset at the load setting", shape=g, dims=GEN_DIM),
        "gen_phase_deg": Column("float64", "degree", "phase", shape=g, dims=GEN_DIM),
        "gen_load_ohm": Column("float64", "ohm", "load setting the amplitude refers to (inf: High-Z)",
                               shape=g, dims=GEN_DIM),
        "gen_output": Column("bool", "", "output switched on", shape=g, dims=GEN_DIM),
        "gen_tracking": Column("str", "", "channel tracking mode (off, on, inverted)"),
    }, long_name="instrument settings read back at each point",
        labels={"node": tuple(nodes), "gen_channel": tuple(str(ch) for ch in channels)})


def take_snapshot(generator: FunctionGenerator, scope: Oscilloscope, scope_channels: Mapping[str, int],
                  point_index: int, generator_channels: Sequence[int] = (1, 2)) -> dict[str, Any]:
    """Read every setting back from ``scope`` and ``generator`` and return one row of :func:`snapshot_spec`.

    ``scope_channels`` maps node name -> scope channel; ``point_index`` is the index of the measurement
    point (stored as is). Volts in V (offsets at screen centre, amplitudes peak-to-peak at the load
    setting), times in s, frequencies in Hz, rates in samples/s, impedances and loads in ohm (High-Z
    ``inf``), phases in degrees. Each setting is queried once (a scope channel shared by two nodes is read
    once). Instrument errors propagate (:class:`~instruments.errors.InstrumentError`).
    """
    nodes, channels = _checked(scope_channels, generator_channels)
    states: dict[int, ScopeChannelState] = scope.channel_states(
        list(dict.fromkeys(int(scope_channels[node]) for node in nodes)))
    per_node = [states[int(scope_channels[node])] for node in nodes]
    scale_s, position_s = scope.timebase()
    acq = scope.acquisition_state()
    gen: list[ChannelState] = [generator.channel_state(ch) for ch in channels]
    tracking = generator.tracking()
    return {
        "point_index": int(point_index),
        "scope_channel": np.array([int(scope_channels[node]) for node in nodes], dtype=np.int64),
        "scope_enabled": np.array([s.enabled for s in per_node], dtype=bool),
        "scope_scale_v_per_div": np.array([s.scale_v_per_div for s in per_node], dtype=float),
        "scope_offset_v": np.array([s.offset_v for s in per_node], dtype=float),
        "scope_coupling": np.array([s.coupling for s in per_node], dtype=str),
        "scope_impedance_ohm": np.array([s.impedance_ohm for s in per_node], dtype=float),
        "scope_bandwidth_limit": np.array([s.bandwidth_limit for s in per_node], dtype=bool),
        "scope_probe": np.array([s.probe for s in per_node], dtype=float),
        "timebase_s_per_div": float(scale_s),
        "timebase_position_s": float(position_s),
        "sample_rate_sa_s": float(acq.sample_rate_sa_s),
        "record_length": int(acq.record_length),
        "acquisition_mode": str(acq.mode),
        "averages": int(acq.averages),
        "gen_function": np.array([c.function for c in gen], dtype=str),
        "gen_frequency_hz": np.array([c.frequency_hz for c in gen], dtype=float),
        "gen_amplitude_vpp": np.array([c.amplitude_vpp for c in gen], dtype=float),
        "gen_offset_v": np.array([c.offset_v for c in gen], dtype=float),
        "gen_phase_deg": np.array([c.phase_deg for c in gen], dtype=float),
        "gen_load_ohm": np.array([c.load_ohm for c in gen], dtype=float),
        "gen_output": np.array([c.output for c in gen], dtype=bool),
        "gen_tracking": str(tracking),
    }
