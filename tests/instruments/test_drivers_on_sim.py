"""The drivers over real pyvisa-py sockets against the simulated bench, for both dialects it serves.

The same code (only the bench config differs) opens the generator and the scope, sets a differential drive,
acquires four channels and checks volts and time axis against the simulator's own state: the board's
steady-state harmonics at the pins and outputs, and the timebase it was set to.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from instruments.bench import open_bench
from instruments.bench_config import load_bench
from instruments.errors import InstrumentError
from instruments.sim.bench import SimBench
from procedures.measure.phasors import fit_sines

BENCHES = Path(__file__).resolve().parents[2] / "configs" / "benches"
F_HZ = 1000.0
NODES = {1: "in1", 2: "in2", 3: "out1", 4: "out2"}


@pytest.mark.parametrize("dialect", ["keysight", "rigol"])
def test_open_drive_acquire_and_compare_with_the_simulator(dialect: str) -> None:
    cfg = load_bench(BENCHES / f"sim-{dialect}.toml")
    with SimBench(cfg) as sim:
        with open_bench(cfg, resources=sim.resources) as bench:
            gen, scope = bench.generator, bench.scope
            assert bench.drivers["generator"].startswith(dialect) and bench.drivers["scope"].startswith(dialect)
            for ch, phase in ((1, 0.0), (2, 180.0)):  # 20 mVpp differential around the 2 V bias
                gen.set_load(ch, math.inf)
                gen.set_sine(ch, F_HZ, 0.01, 2.0, phase)
                gen.set_output(ch, True)
            gen.sync_phase()
            for ch, (scale, offset) in {1: (20e-3, 2.0), 2: (20e-3, 2.0), 3: (0.5, 3.0), 4: (0.5, 3.0)}.items():
                scope.set_channel(ch, enabled=True, coupling="DC", scale_v_per_div=scale, offset_v=offset)
            scope.set_timebase(1e-3, 0.0)
            scope.set_record_length(scope.record_length_for(100_000, 4))
            scope.set_trigger_edge(1, 2.0, "rising")
            waves = scope.acquire([1, 2, 3, 4])
            (_, truth), = sim.steady_state()
            for ch, wf in waves.items():
                # the time axis spans the screen the timebase was set to (10 divisions Keysight); the DS1000Z
                # keeps 100 000 points in a 300 000-point memory over its 12 divisions and the driver reads
                # the middle third of it, as transfer_span_s says
                span = wf.x_increment_s * wf.codes.size
                screen_share = 100_000 / 300_000 if dialect == "rigol" else 1.0
                assert span == pytest.approx(scope.horizontal_divisions * 1e-3 * screen_share, rel=0.02)
                assert span == pytest.approx(scope.transfer_span_s(), rel=0.02)
                assert wf.time_s[0] < 0 < wf.time_s[-1]  # trigger inside the record
                (fit,) = fit_sines(wf.time_s, wf.volts, F_HZ, n_harmonics=5)
                c = truth.harmonics(NODES[ch])
                # volts agree within the channel's simulated gain error (0.4 % at most, on the DC level too:
                # 8 mV on 2 V, which is why the procedures AC-couple) plus a few LSB
                assert fit.amplitude_v == pytest.approx(abs(c[1]), rel=0.006), ch
                assert fit.dc_v == pytest.approx(c[0].real, abs=3 * wf.lsb_v + 0.004 * abs(c[0].real)), ch
            assert sim.generator.outputs_on() == (True, True)
        # closing the bench is its safe state: outputs off, whoever ran it
        assert sim.generator.outputs_on() == (False, False)


def test_wrong_driver_for_what_answers_is_refused_and_outputs_are_off() -> None:
    cfg = load_bench(BENCHES / "sim-keysight.toml")
    wrong = dataclasses.replace(cfg, generator=dataclasses.replace(cfg.generator, driver="rigol_dg1000z"))
    with SimBench(cfg) as sim:
        sim.generator.update(1, output_on=True)  # left on by a previous user
        with pytest.raises(InstrumentError) as e:
            open_bench(wrong, resources=sim.resources)
        msg = str(e.value)
        assert "\n" not in msg and "33522B" in msg and "rigol_dg1000z" in msg and "keysight_33500" in msg
        assert sim.generator.outputs_on() == (False, False)


def test_instrument_error_names_the_instrument_command_and_text() -> None:
    cfg = load_bench(BENCHES / "sim-keysight.toml")
    with SimBench(cfg) as sim, open_bench(cfg, resources=sim.resources) as bench:
        with pytest.raises(InstrumentError) as e:
            bench.generator.set_frequency(1, 5e7)  # beyond a 33522B's 30 MHz sine
        msg = str(e.value)
        assert "generator" in msg and "33522B" in msg and "FREQ" in msg and '-222,"Data out of range"' in msg
    assert sim.generator.outputs_on() == (False, False)
