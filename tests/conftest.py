"""Shared fixtures: the simulated bench served in-process on free loopback ports, and plain pyvisa sessions.

``sim_bench("keysight")`` (or ``"rigol"``, ``"siglent"``, ``"tektronix"``) starts a
:class:`~instruments.sim.bench.SimBench` from ``configs/benches/sim-<name>.toml`` on free ports and closes it
after the test; ``visa_open(resource)`` opens a plain pyvisa-py session (LF terminations, generous timeout)
that is closed after the test. The simulated board of each board config is built once per session (its
steady-state cache then serves every test).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCHES = {"keysight": REPO / "configs" / "benches" / "sim-keysight.toml",
           "rigol": REPO / "configs" / "benches" / "sim-rigol.toml",
           "siglent": REPO / "configs" / "benches" / "sim-siglent.toml",
           "tektronix": REPO / "configs" / "benches" / "sim-tektronix.toml",
           "mixed": REPO / "configs" / "benches" / "sim-mixed.toml"}


@pytest.fixture(scope="session")
def _sim_boards() -> dict:
    """Board configs path -> SimBoard, shared by the session (solving is the slow part)."""
    return {}


@pytest.fixture
def sim_bench(_sim_boards: dict) -> Iterator[Callable[..., object]]:
    """Factory: ``sim_bench("keysight" | "rigol" | "siglent" | "tektronix", **SimBench kwargs)`` -> a started
    SimBench on free ports."""
    from instruments.bench_config import load_bench
    from instruments.board_config import load_board
    from instruments.sim.bench import SimBench
    from instruments.sim.board import SimBoard

    started: list[SimBench] = []

    def start(name: str = "keysight", **kwargs: object) -> SimBench:
        config = load_bench(BENCHES[name])
        key = str(config.board_path)
        if key not in _sim_boards:
            _sim_boards[key] = SimBoard.from_config(load_board(config.board_path))  # type: ignore[arg-type]
        bench = SimBench(config, board=_sim_boards[key], gen_port=0, scope_port=0, **kwargs)  # type: ignore[arg-type]
        started.append(bench)
        return bench

    yield start
    for bench in started:
        bench.close()


@pytest.fixture(scope="session")
def visa_rm() -> Iterator[object]:
    """One pyvisa-py resource manager for the session."""
    import pyvisa

    rm = pyvisa.ResourceManager("@py")
    yield rm
    rm.close()


@pytest.fixture
def visa_open(visa_rm: object) -> Iterator[Callable[..., object]]:
    """Factory: ``visa_open(resource, timeout_ms=10000)`` -> an open pyvisa resource, closed afterwards."""
    opened = []

    def open_(resource: str, timeout_ms: int = 10000) -> object:
        inst = visa_rm.open_resource(resource, read_termination="\n", write_termination="\n",  # type: ignore[attr-defined]
                                     timeout=timeout_ms)
        inst.chunk_size = 1 << 20
        opened.append(inst)
        return inst

    yield open_
    for inst in opened:
        try:
            inst.close()
        except Exception:
            pass
