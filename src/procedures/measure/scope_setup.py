"""The scope's set-up for a point: input coupling, channels on, and a timebase that holds enough periods.

A run calls these before every point whose frequency or coupling differs from the last one's; the ranging
and the record itself are :mod:`procedures.measure.acquisition`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from instruments.scope import Oscilloscope
from procedures.config.procedure import ProcedureConfig
from procedures.measure.acquisition import NODES, setup_timebase

Coupling = Literal["DC", "AC"]


def scope_coupling(proc: ProcedureConfig, frequency_hz: float) -> Coupling:
    """The scope coupling of a point: the procedure's, or with ``auto`` DC for DC points and AC otherwise."""
    mode = str(proc.acquisition["coupling"])
    if mode == "DC" or (mode == "auto" and frequency_hz <= 0):
        return "DC"
    return "AC"


def prepare_scope(scope: Oscilloscope, channels: Mapping[str, int], coupling: Coupling) -> None:
    """Every node's channel on with ``coupling``, normal acquisition."""
    for node in NODES:
        scope.set_channel(channels[node], enabled=True, coupling=coupling)
    scope.set_acquisition("normal")


def timebase_for(scope: Oscilloscope, proc: ProcedureConfig, frequency_hz: float, n_samples: int, trigger_channel: int,
                 level_v: float) -> int:
    """Set the timebase for ``min_periods`` periods; widen it when the sample rate, not the memory, keeps
    the scope from delivering ``n_samples`` points. Returns the points the scope will deliver."""
    periods = proc.acquisition["min_periods"]
    got = setup_timebase(scope, frequency_hz, n_samples, periods, trigger_channel, level_v)
    if got >= n_samples or frequency_hz <= 0:
        return got
    wider = setup_timebase(scope, frequency_hz, n_samples, periods * 1.1 * n_samples / max(got, 1),
                           trigger_channel, level_v)
    if wider > got:
        return wider
    return setup_timebase(scope, frequency_hz, n_samples, periods, trigger_channel, level_v)  # memory-bound
