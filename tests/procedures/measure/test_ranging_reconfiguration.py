"""Auto-ranging after a bench reconfiguration, on the simulated bench, read against the simulated board's truth.

The first point after a change of scope coupling or wiring starts from ranges found for another signal:

* DC points (DC coupling, channels below 1 mV/div about 1.7-2 V), then the inputs tied and the
  coupling back to AC for a 0.3 V peak common-mode point at 100 Hz (the ``characterisation`` run's
  ``frequency_sweep:f0-cm``): every trace sits volts below a millivolt screen;
* an AC differential point on the active-load board (its mirror node vo1 carries microvolts, so its channel
  ends below 1 mV/div about 0 V), then DC coupling for a DC point: vo1 sits at ~4.4 V (the
  ``dc_transfer:d0`` of the characterisation runs).

Each reading is compared with what the board really puts on the node (``SimBench.steady_state``, solved by
:class:`instruments.sim.board.SimBoard`) through the channel's declared front end (the bench config's
``[sim] scope_gain_error``, the DSOX1204G's 10 Hz AC-coupling corner and ``scope_bandwidth_hz``), within 5
standard uncertainties plus the crosstalk bound ``scope_crosstalk_db`` times the neighbouring channel's signal.
Before the ranging fix the v2 reading of the first case was clipped (0.249 V for 0.298 V) and the vo1 reading
of the second 3.2 V for 4.36 V.

A stand-in scope (no I/O) checks the end of the road: a trace that clips even at the coarsest range, and a
repeat record that clips at the range the point settled on, stop the point with one line instead of letting
the clipped record into the results.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import numpy as np
import pytest

from instruments.bench import Bench, open_bench
from instruments.bench_config import load_bench
from instruments.board_config import load_board
from instruments.errors import InstrumentError
from instruments.generator import FunctionGenerator
from instruments.scope import Oscilloscope, ScopeChannelState
from instruments.sim.bench import SimBench
from instruments.sim.board import SimBoard
from instruments.sim.keysight_infiniivision import HARDWARE
from instruments.waveform import Waveform
from procedures.config.procedure import ProcedureConfig, load_procedure
from procedures.measure import excitation as ex
from procedures.measure.acquisition import NODES, RangeMemory, RangingError, autorange
from procedures.measure.control import NODE_OF, SimulatedControl
from procedures.measure.point import PointResult, measure_point
from procedures.measure.scope_setup import Coupling, prepare_scope, scope_coupling, timebase_for
from scope_stand_in import StandInInterface

REPO = Path(__file__).resolve().parents[3]
BENCH = REPO / "configs" / "benches" / "sim-keysight.toml"
PROCEDURE = REPO / "configs" / "procedures" / "characterisation.toml"
NEIGHBOUR = {"v1": "v2", "v2": "v1", "vo1": "vo2", "vo2": "vo1"}  # channels 1-2 and 3-4 share a front end


class Rig:
    """A simulated bench with ``board`` on it, the drivers open on it, and the characterisation's settings."""

    def __init__(self, board: str) -> None:
        self.config = load_bench(BENCH)
        self.board = load_board(REPO / "configs" / "boards" / f"{board}.toml")
        self.sim = SimBench(self.config, board=SimBoard.from_config(self.board), gen_port=0, scope_port=0)
        self.bench: Bench = open_bench(self.config, resources=self.sim.resources)
        self.channels = self.config.wiring.scope_channels()
        self.control = SimulatedControl(self.sim, self.config.wiring)
        self.proc: ProcedureConfig = load_procedure(PROCEDURE)
        self.memory = RangeMemory()
        self.coupling: Coupling | None = None

    def close(self) -> None:
        self.bench.generator.outputs_off()
        self.bench.close()
        self.sim.close()

    def reconfigure(self, tied: bool) -> None:
        """What a run does between groups of points: outputs off, rewire, forget the ranges."""
        self.bench.generator.outputs_off()
        self.control.configure(tied, "normal")
        self.memory = RangeMemory()

    def measure(self, exc: ex.Excitation) -> PointResult:
        """One point as a run measures it (procedures.run.session): coupling, timebase, drive, range, record."""
        scope, f = self.bench.scope, exc.frequency_hz
        coupling = scope_coupling(self.proc, f)
        if coupling != self.coupling:
            prepare_scope(scope, self.channels, coupling)
            self.coupling = coupling
        level = 0.0 if coupling == "AC" else exc.channels[0].offset_v
        settings = self.proc.acquisition_settings
        timebase_for(scope, self.proc, f, scope.record_length_for(settings.record_points, 4), self.channels["v1"],
                     level)
        return measure_point(self.bench.generator, scope, self.channels, exc, memory=self.memory, settings=settings)

    def truth(self, node: str) -> complex:
        """What channel ``node`` displays of the board's node at the point's frequency: the fundamental (DC
        level at 0 Hz) of the board's steady state through the channel's declared front end, V."""
        [(f, response)] = self.sim.steady_state()
        c = response.harmonics(NODE_OF[node])[0 if f == 0 else 1]
        sim = self.config.sim
        gain = 1.0 + float(sim["scope_gain_error"][self.channels[node] - 1])
        h = gain / (1 + 1j * f / float(sim["scope_bandwidth_hz"]))
        if f > 0:
            h *= 1j * f / (1j * f + HARDWARE.ac_corner_hz)
        return complex(c * h)

    def crosstalk_bound(self, node: str) -> float:
        """The most the neighbouring channel can add to ``node``'s fundamental, V (AC only)."""
        [(f, _)] = self.sim.steady_state()
        if f == 0:
            return 0.0
        return 10 ** (float(self.config.sim["scope_crosstalk_db"]) / 20) * abs(self.truth(NEIGHBOUR[node]))


@pytest.fixture
def rig() -> Iterator[type[Rig]]:
    made: list[Rig] = []

    class Started(Rig):
        def __init__(self, board: str) -> None:
            super().__init__(board)
            made.append(self)

    yield Started
    for r in made:
        r.close()


def assert_reads_truth(rig: Rig, result: PointResult) -> None:
    """Every node's reading against the board's truth, and the archived ranges against the record's own."""
    assert not result.clipped
    record = result.records[0]
    for i, node in enumerate(NODES):
        wf = record.waveforms[node]
        assert result.ranges[node].scale_v_per_div == pytest.approx(wf.lsb_v * HARDWARE.codes_per_div, rel=1e-6), node
        assert result.ranges[node].offset_v == pytest.approx(wf.y_origin_v, abs=1e-9), node
        truth = rig.truth(node)
        if result.frequency_hz > 0:
            measured, expected = abs(result.phasors[i]), abs(truth)
        else:
            measured, expected = float(result.dc_v[i]), truth.real
        tol = 5 * float(result.phasors_u[i]) + rig.crosstalk_bound(node)
        assert abs(measured - expected) <= tol, (f"{node}: read {measured:.6g} V, the board puts {expected:.6g} V "
                                                 f"(tolerance {tol:.2g} V, ranged at "
                                                 f"{result.ranges[node].scale_v_per_div:.3g} V/div)")


def test_tied_common_mode_point_after_dc_points_reads_the_board(rig: type[Rig]) -> None:
    r = rig("bjt-source-text")
    bias = r.board.bias_v
    r.reconfigure(tied=False)
    # the upper end of the run's DC sweep (+-42 mV): v2 and vo1 end below 1 mV/div about 1.99 V and 1.66 V
    for vid in (17e-3, 25e-3, 34e-3, 42e-3):
        r.measure(ex.dc_level(vid, bias))
    r.reconfigure(tied=True)
    result = r.measure(ex.common_mode(100.0, 0.3, bias, tied=True))
    assert_reads_truth(r, result)


def test_dc_point_after_ac_points_reads_the_board(rig: type[Rig]) -> None:
    r = rig("bjt-active-load")
    bias = r.board.bias_v
    r.reconfigure(tied=False)
    ac = r.measure(ex.differential(1e3, 2e-3, bias))
    assert_reads_truth(r, ac)
    result = r.measure(ex.dc_level(0.0, bias))  # same wiring: only the coupling changes
    assert_reads_truth(r, result)


# -- the end of the road: a trace no range holds, a trace that moves between records ---------------------------

class StandInScope(StandInInterface):
    """Four DC-coupled channels on ``signal(acquisition number)`` volts, 32 codes/div, 10 V/div at most (no I/O)."""

    label = "stand-in scope"
    vertical_divisions = 8
    coarsest_v_per_div = 10.0

    def __init__(self, signal: Callable[[int], np.ndarray]) -> None:
        self.signal = signal
        self.scale = {ch: 1e-3 for ch in (1, 2, 3, 4)}
        self.centre = {ch: 0.0 for ch in (1, 2, 3, 4)}
        self.acquisitions = 0

    def set_channel(self, channel: int, *, scale_v_per_div: float | None = None, offset_v: float | None = None,
                    **_: object) -> None:
        if scale_v_per_div is not None:
            if scale_v_per_div > self.coarsest_v_per_div * (1 + 1e-9):
                raise InstrumentError(self.label, f"scale {scale_v_per_div:g} V/div is out of range")
            self.scale[channel] = scale_v_per_div
        if offset_v is not None:
            self.centre[channel] = offset_v

    def channel_state(self, channel: int) -> ScopeChannelState:
        return ScopeChannelState(True, self.scale[channel], self.centre[channel], "DC", 1e6, 1.0, False)

    def acquire(self, channels: list[int], timeout_s: float | None = None) -> dict[int, Waveform]:
        self.acquisitions += 1
        v = self.signal(self.acquisitions)
        out = {}
        for ch in channels:
            lsb = self.scale[ch] / 32
            codes = np.clip(np.round((v - self.centre[ch]) / lsb) + 128, 1, 255).astype(np.uint8)
            out[ch] = Waveform(channel=ch, codes=codes, y_increment_v=lsb, y_origin_v=self.centre[ch],
                               y_reference=128.0, x_increment_s=1e-6, x_origin_s=0.0, code_min=1, code_max=255)
        return out


class NoGenerator:
    """What ``apply_excitation`` needs of a generator, doing nothing."""

    channels = (1, 2)

    def checked_step(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


def noisy(level_v: float, amplitude_v: float, seed: int) -> np.ndarray:
    """A 1 kHz sine of ``amplitude_v`` about ``level_v`` with 1 mV rms of noise, 1000 points at 1 MSa/s."""
    t = np.arange(1000) * 1e-6
    return level_v + amplitude_v * np.sin(2 * np.pi * 1e3 * t) + np.random.default_rng(seed).normal(0, 1e-3, t.size)


def test_a_trace_beyond_the_coarsest_range_stops_the_point_in_one_line() -> None:
    scope = StandInScope(lambda n: noisy(100.0, 0.0, n))  # 100 V: beyond 10 V/div x 4 divisions
    channels = {node: i + 1 for i, node in enumerate(NODES)}
    with pytest.raises(RangingError) as info:
        autorange(cast(Oscilloscope, scope), channels, RangeMemory(), fill=0.75, max_attempts=6, timeout_s=None)
    message = str(info.value)
    assert "\n" not in message and "v1 (channel 1)" in message and "coarsest" in message
    assert scope.acquisitions == 2  # clipped, then clipped at the coarsest range: nothing more to try
    assert math.isclose(scope.scale[1], StandInScope.coarsest_v_per_div)


def test_a_repeat_that_clips_stops_the_point_instead_of_entering_the_results() -> None:
    # a 0.5 V sine about 2 V, swinging 2 V from acquisition 102 on: the point's ranging (acquisition 101, from
    # the ranges found before) settles at once, and its second record clips at that range
    scope = StandInScope(lambda n: noisy(2.0, 0.5 if n <= 101 else 2.0, n))
    channels = {node: i + 1 for i, node in enumerate(NODES)}
    settings = load_procedure(PROCEDURE).acquisition_settings
    settings = dataclasses.replace(settings, repeats=2)
    first = autorange(cast(Oscilloscope, scope), channels, RangeMemory(), fill=settings.fill,
                      max_attempts=settings.max_ranging, timeout_s=None)
    assert not first.clipped and first.ranges["v1"].offset_v == pytest.approx(2.0, abs=0.05)
    scope.acquisitions = 100
    with pytest.raises(RangingError) as info:
        measure_point(cast(FunctionGenerator, NoGenerator()), cast(Oscilloscope, scope), channels,
                      ex.common_mode(1e3, 0.5, 2.0, tied=False), memory=RangeMemory(ranges=dict(first.ranges)),
                      settings=settings)
    message = str(info.value)
    assert "\n" not in message and "repeat 2 of 2" in message and "v1 (channel 1)" in message
