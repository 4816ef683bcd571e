"""Typed reads of a simulated bench config's ``[sim]`` section (validated by ``instruments.bench_config``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def sim_number(sim: Mapping[str, object], key: str, default: float) -> float:
    """The numeric setting ``key`` as a float, or ``default`` when absent."""
    value = sim.get(key, default)
    if not isinstance(value, (int, float)):
        raise TypeError(f"[sim] {key}: expected a number, got {value!r}")
    return float(value)


def sim_numbers(sim: Mapping[str, object], key: str, default: Sequence[float]) -> tuple[float, ...]:
    """The list-of-numbers setting ``key`` (one value per channel) as floats, or ``default`` when absent."""
    value = sim.get(key, default)
    if not isinstance(value, (list, tuple)) or not all(isinstance(x, (int, float)) for x in value):
        raise TypeError(f"[sim] {key}: expected a list of numbers, got {value!r}")
    return tuple(float(x) for x in value)
