"""The simulated instruments' timing model (instruments/sim/timing_model.py): accounted on every message and
acquisition, applied only when ``[sim] timing = true``.

The expected figures are the model's own formulas worked by hand here (latency per message, reply bytes over the
transfer rate, ``averages x (screen + T/2) + re-arm``); a timed bound is only a lower one (a loaded machine makes
things slower, never faster).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest

from instruments.bench_config import load_bench
from instruments.sim.bench import SimBench
from instruments.sim.timing_model import FAMILY_TIMING, TimingModel, model_for

KEYSIGHT = Path(__file__).resolve().parents[3] / "configs" / "benches" / "sim-keysight.toml"


def _bench(**sim: Any) -> SimBench:
    config = load_bench(KEYSIGHT)
    return SimBench(dataclasses.replace(config, sim={**config.sim, **sim}), gen_port=0, scope_port=0)


def test_every_message_is_accounted_with_the_familys_latency_and_rate(visa_open: Any) -> None:
    with _bench() as bench:
        scope = visa_open(bench.resources["scope"])
        idn = scope.query("*IDN?")
        ledger = bench.timing["scope"].ledger
        model = FAMILY_TIMING["keysight_infiniivision"]
        assert ledger.messages == 1
        assert ledger.reply_bytes == len(idn) + 1  # the reply and its LF
        assert ledger.latency_s == pytest.approx(model.latency_s)
        assert ledger.transfer_s == pytest.approx((len(idn) + 1) / model.transfer_bytes_s)
        assert ledger.padded_s == pytest.approx(model.latency_s + ledger.transfer_s - ledger.simulator_s)


def test_with_timing_on_each_message_lasts_at_least_the_models_time(visa_open: Any) -> None:
    with _bench(timing=True, timing_latency_s=0.02) as bench:
        gen = visa_open(bench.resources["generator"])
        t0 = time.perf_counter()
        for _ in range(10):
            gen.query("*OPC?")
        assert time.perf_counter() - t0 >= 10 * 0.02


def test_an_acquisition_is_accounted_as_the_model_says(visa_open: Any) -> None:
    """One :DIGitize of a 1 kHz sine with the screen at 1 ms/div (10 ms): the model's 10 ms + half a period
    (0.5 ms) + the re-arm time; the simulator's own time is accounted beside it."""
    with _bench() as bench:
        gen, scope = visa_open(bench.resources["generator"]), visa_open(bench.resources["scope"])
        gen.write("SOUR1:APPL:SIN 1000,0.2,2.0")
        gen.write("OUTP1 ON")
        assert gen.query("*OPC?").strip() == "1"  # the generator is set before the scope acquires
        scope.write(":TIMebase:SCALe 1e-3")
        scope.write(":TRIGger:EDGE:SOURce CHANnel1")
        scope.write(":DIGitize")
        assert scope.query("*OPC?").strip() == "1"
        gen.write("OUTP1 OFF")
        ledger = bench.timing["scope"].ledger
        model = FAMILY_TIMING["keysight_infiniivision"]
        assert ledger.acquisitions == 1
        assert ledger.acquisition_s == pytest.approx(10e-3 + 0.5e-3 + model.rearm_s, rel=1e-9)
        assert ledger.acquisition_sim_s > 0


def test_model_arithmetic_and_bench_overrides() -> None:
    m = TimingModel(latency_s=1e-3, transfer_bytes_s=1e6, rearm_s=0.1)
    assert m.message_s(500_000) == pytest.approx((1e-3, 0.5))
    assert m.acquisition_s(0.01, 4, 1e-3) == pytest.approx(4 * (0.01 + 0.5e-3) + 0.1)
    assert m.acquisition_s(0.01, 1, None) == pytest.approx(0.11)
    over = model_for("rigol_ds1000z", {"timing_latency_s": 0.004, "timing_transfer_bytes_s": None})
    assert over.latency_s == 0.004
    assert over.transfer_bytes_s == FAMILY_TIMING["rigol_ds1000z"].transfer_bytes_s
    assert "overridden" in over.basis
