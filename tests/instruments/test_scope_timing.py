"""Waits that follow the acquisition: the rule of ``instruments.timing`` and how the scope drivers use it.

The rule's formula is checked by value (no clocks); the drivers are checked by their exact SCPI (protocol
playback with a fake clock): how long ``single()`` waits for the record it set up, the DS1000Z forcing a
trigger where its SINGle sweep would wait forever (a DC level), the VISA timeout during a block transfer,
and the DS1000Z reading the middle of a deeper memory. Nothing here measures time.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from instruments.errors import InstrumentError, InstrumentTimeout
from instruments.keysight_infiniivision import KeysightInfiniiVision
from instruments.rigol_ds1000z import RigolDS1000Z
from instruments.timing import (
    CONSERVATIVE_LINK_RATE_BYTES_S,
    LATENCY_S,
    MARGIN,
    MIN_POLL_S,
    RecordTiming,
    acquisition_wait_s,
    auto_trigger_after_s,
    poll_interval_s,
    transfer_timeout_s,
)
from protocol import FakeClock, Family, ieee_block, raises_with, visa_timeout

RIGOL = Family(RigolDS1000Z, "scope DS1054Z at TCPIP0::10.0.0.31::5555::SOCKET", ("SYSTem:ERRor?", '0,"No error"'))
KEYSIGHT = Family(KeysightInfiniiVision, "scope DSOX1204G at TCPIP0::10.0.0.9::5025::SOCKET",
                  ("SYSTem:ERRor?", '+0,"No error"'))
R, K = RIGOL.ok, KEYSIGHT.ok


# -- the rule ---------------------------------------------------------------------------------------------------
def test_record_spans_the_screen_and_the_trigger_delay():
    t = RecordTiming(scale_s_per_div=1e-3, divisions=12, position_s=-2e-3)
    assert t.screen_s == pytest.approx(12e-3)
    assert t.record_s == pytest.approx(14e-3)
    assert t.expected_s == pytest.approx(2 * 14e-3)  # fill the record, then at most one record for the trigger


def test_a_deep_memory_at_the_top_rate_is_longer_than_the_screen():
    # 6 Mpts at 250 MSa/s last 24 ms, more than a 1.2 us screen
    t = RecordTiming(scale_s_per_div=1e-7, divisions=12, points=6_000_000, sample_rate_sa_s=250e6)
    assert t.record_s == pytest.approx(24e-3)
    # without a rate the memory is taken to span the screen
    assert RecordTiming(1e-7, 12, points=6_000_000).record_s == pytest.approx(1.2e-6)


def test_acquisition_wait_scales_with_the_record_the_averages_and_the_holdoff():
    base = RecordTiming(scale_s_per_div=0.01, divisions=10)
    assert acquisition_wait_s(base) == pytest.approx(MARGIN * 2 * 0.1 + LATENCY_S)
    assert acquisition_wait_s(base, extra_s=5.0) == pytest.approx(acquisition_wait_s(base) + 5.0)
    averaged = RecordTiming(scale_s_per_div=0.01, divisions=10, averages=64, holdoff_s=1e-3)
    assert acquisition_wait_s(averaged) == pytest.approx(MARGIN * 64 * (1e-3 + 2 * 0.1) + LATENCY_S)
    # ten times the timebase, about ten times the wait beyond the fixed allowance
    slow = RecordTiming(scale_s_per_div=0.1, divisions=10)
    assert acquisition_wait_s(slow) - LATENCY_S == pytest.approx(10 * (acquisition_wait_s(base) - LATENCY_S))


def test_a_slow_averaged_record_waits_far_longer_than_the_old_ten_seconds():
    # 1024 averages of a 100 Hz record with 30 periods: 0.3 s each, twice over with the trigger
    t = RecordTiming(scale_s_per_div=0.3 / 12, divisions=12, averages=1024)
    assert acquisition_wait_s(t) > 1000.0


def test_transfer_timeout_follows_the_byte_count():
    assert transfer_timeout_s(0) == pytest.approx(LATENCY_S)
    assert transfer_timeout_s(250_000) == pytest.approx(MARGIN * 250_000 / CONSERVATIVE_LINK_RATE_BYTES_S + LATENCY_S)
    assert transfer_timeout_s(1e6, link_rate_bytes_s=1e6, extra_s=2.0) == pytest.approx(MARGIN + LATENCY_S + 2.0)
    with pytest.raises(ValueError):
        transfer_timeout_s(10, link_rate_bytes_s=0.0)


def test_poll_interval_follows_the_record_within_bounds():
    assert poll_interval_s(None, 0.02) == 0.02
    assert poll_interval_s(RecordTiming(1e-9, 10), 0.02) == MIN_POLL_S  # a 10 ns record: poll at the floor
    assert poll_interval_s(RecordTiming(10.0, 10), 0.02) == 0.02  # a 100 s record: the family's longest
    assert poll_interval_s(RecordTiming(1e-3, 10), 0.02) == pytest.approx(2 * 10e-3 / 8)


def test_auto_trigger_comes_after_the_expected_time_and_before_the_wait_ends():
    t = RecordTiming(scale_s_per_div=1e-3, divisions=12)
    assert MARGIN * t.expected_s < auto_trigger_after_s(t) < acquisition_wait_s(t)


# -- Rigol DS1000Z: single() --------------------------------------------------------------------------------------
SLOW_TIMEBASE = (R(":TIMebase:MAIN:SCALe 0.1") + [(":TIMebase:MAIN:SCALe?", "1.000000e-01")]
                 + R(":TIMebase:MAIN:OFFSet 0"))
SLOW = RecordTiming(scale_s_per_div=0.1, divisions=12)  # 1.2 s screen: polls every 0.25 s (the family's longest)
POLL_S = 0.25


def test_rigol_single_waits_as_long_as_its_record_needs_then_names_the_wait():
    limit = acquisition_wait_s(SLOW, 3.0)  # 2 x 2.4 s + 1 s + the caller's 3 s
    polls = math.ceil(limit / POLL_S) + 1
    exchanges = (SLOW_TIMEBASE + [(":TRIGger:SWEep?", "NORM")] + R(":SINGle") + [(":TRIGger:STATus?", "WAIT")] * polls)
    with RIGOL.protocol(exchanges) as s, raises_with(InstrumentTimeout, RIGOL.label, f"{limit:g} s", "WAIT"):
        FakeClock.install(s, POLL_S)
        s.set_timebase(0.1)
        s.single(timeout_s=3.0)


def test_rigol_single_after_an_auto_sweep_forces_a_trigger_that_does_not_come():
    # a DC level never crosses the trigger level; AUTO would have auto-triggered, :SINGle never does
    waits = math.ceil(auto_trigger_after_s(SLOW) / POLL_S) + 1
    exchanges = (SLOW_TIMEBASE + [(":TRIGger:SWEep?", "AUTO")] + R(":SINGle")
                 + [(":TRIGger:STATus?", "WAIT")] * waits + R(":TFORce") + [(":TRIGger:STATus?", "STOP")])
    with RIGOL.protocol(exchanges) as s:
        FakeClock.install(s, POLL_S)
        s.set_timebase(0.1)
        s.single(timeout_s=0.0)


def test_rigol_single_after_a_normal_sweep_does_not_force():
    limit = acquisition_wait_s(SLOW)
    polls = math.ceil(limit / POLL_S) + 1
    exchanges = (SLOW_TIMEBASE + [(":TRIGger:SWEep?", "NORM")] + R(":SINGle") + [(":TRIGger:STATus?", "WAIT")] * polls)
    with RIGOL.protocol(exchanges) as s, raises_with(InstrumentTimeout, "WAIT"):
        FakeClock.install(s, POLL_S)
        s.set_timebase(0.1)
        s.single(timeout_s=0.0)


def test_rigol_single_knowing_nothing_reads_the_timebase_first():
    exchanges = ([(":TRIGger:SWEep?", "NORM"), (":TIMebase:MAIN:SCALe?", "1.000000e-03"),
                  (":TIMebase:MAIN:OFFSet?", "0.000000e+00")] + R(":SINGle")
                 + [(":TRIGger:STATus?", "WAIT"), (":TRIGger:STATus?", "STOP")])
    with RIGOL.protocol(exchanges) as s:
        FakeClock.install(s)
        s.single()
        assert s.record_timing() == RecordTiming(scale_s_per_div=1e-3, divisions=12,
                                                 sample_rate_sa_s=s.lowest_top_sample_rate_sa_s)


# -- Keysight InfiniiVision: single() ------------------------------------------------------------------------------
DISPLAYED_ALL = [(":CHANnel1:DISPlay?;:CHANnel2:DISPlay?;:CHANnel3:DISPlay?;:CHANnel4:DISPlay?", "1;1;1;1")]
DIGITIZE = [(":DIGitize CHANnel1,CHANnel2,CHANnel3,CHANnel4", None), ("*OPC?", "1"), KEYSIGHT.drain[0]]


@pytest.mark.parametrize("averages", [1, 64])
def test_keysight_opc_timeout_is_the_record_wait_plus_the_callers_allowance(averages: int):
    setup = K(":TIMebase:SCALe 0.001") + K(":TIMebase:POSition 0")
    if averages > 1:
        setup += K(":ACQuire:TYPE AVERage") + K(":ACQuire:COUNt 64")
    with KEYSIGHT.protocol(setup + DISPLAYED_ALL + DIGITIZE) as s:
        s.set_timebase(1e-3)
        if averages > 1:
            s.set_acquisition("average", averages)
        s.single(timeout_s=5.0)
    wait = acquisition_wait_s(RecordTiming(scale_s_per_div=1e-3, divisions=10, averages=averages), 5.0)
    assert s.resource.timeout_at["*OPC?"] == pytest.approx(1000 * wait)
    assert s.resource.timeout == 5000  # put back


# -- block transfers: the VISA timeout follows the bytes -----------------------------------------------------------
RIGOL_SAVED = [(":WAVeform:MODE?", "RAW"), (":WAVeform:FORMat?", "BYTE")]
RIGOL_SETUP_CH3 = R(":WAVeform:SOURce CHANnel3", ":WAVeform:MODE RAW", ":WAVeform:FORMat BYTE")


def test_rigol_window_is_read_with_the_timeout_its_bytes_need():
    codes = np.random.default_rng(1).integers(1, 255, size=250_000, dtype=np.uint8)
    exchanges = (RIGOL_SAVED + RIGOL_SETUP_CH3
                 + [(":WAVeform:PREamble?", "0,2,250000,1,1.000000e-09,-1.250000e-04,0,4.000000e-03,0,127")]
                 + R(":WAVeform:STARt 1", ":WAVeform:STOP 250000")
                 + [(":WAVeform:DATA?", ieee_block(codes, digits=9))])
    with RIGOL.protocol(exchanges) as s:
        assert np.array_equal(s.read_waveform(3).codes, codes)
    assert s.resource.timeout_at[":WAVeform:DATA?"] == pytest.approx(1000 * transfer_timeout_s(250_000))
    assert s.resource.timeout == 5000


def test_rigol_timeout_is_put_back_after_a_transfer_that_times_out():
    exchanges = (RIGOL_SAVED + RIGOL_SETUP_CH3
                 + [(":WAVeform:PREamble?", "0,2,2,1,1e-06,0,0,0.04,0,127")]
                 + R(":WAVeform:STARt 1", ":WAVeform:STOP 2") + [(":WAVeform:DATA?", visa_timeout())])
    with RIGOL.protocol(exchanges) as s, pytest.raises(InstrumentTimeout):
        s.read_waveform(3)
    assert s.resource.timeout == 5000


KEYSIGHT_SAVED = [(":ACQuire:TYPE?", "NORM"),
                  (":WAVeform:FORMat?;:WAVeform:UNSigned?;:WAVeform:BYTeorder?;:WAVeform:POINts:MODE?",
                   "BYTE;1;MSBF;RAW")]
KEYSIGHT_SETUP = K(":WAVeform:SOURce CHANnel1", ":WAVeform:FORMat BYTE", ":WAVeform:UNSigned 1",
                   ":WAVeform:BYTeorder MSBFirst", ":WAVeform:POINts MAXimum", ":WAVeform:POINts:MODE RAW")


@pytest.mark.parametrize("points", [8, 200_000])
def test_keysight_block_timeout_is_raised_for_a_long_block_and_never_lowered(points: int):
    codes = np.full(points, 128, dtype=np.uint8)
    preamble = f"+0,+0,+{points},+1,+1.0E-06,0.0,+0,+2.50000E-03,0.0,+128"
    exchanges = (KEYSIGHT_SAVED + KEYSIGHT_SETUP
                 + [(":WAVeform:PREamble?", preamble), (":WAVeform:DATA?", ieee_block(codes, digits=8)),
                    KEYSIGHT.drain[0]])
    with KEYSIGHT.protocol(exchanges) as s:
        s.read_waveform(1)
    assert s.resource.timeout_at[":WAVeform:DATA?"] == pytest.approx(max(5000, 1000 * transfer_timeout_s(points)))
    assert s.resource.timeout == 5000


# -- the DS1000Z reads the middle of a deeper memory ---------------------------------------------------------------
def _displayed(*on: int) -> list:
    return [(f":CHANnel{ch}:DISPlay?", "1" if ch in on else "0") for ch in (1, 2, 3, 4)]


def test_rigol_record_length_between_menu_depths_is_served_from_the_next_depth():
    with RIGOL.protocol([]) as s:
        assert s.record_length_for(100_000, 4) == 100_000
        assert s.record_length_for(300_000, 4) == 300_000  # a depth of the four-channel menu: the whole memory
        assert s.record_length_for(120_000, 4) == 300_000  # the one-channel menu's depth is not taken as a window
        assert s.record_length_for(7_000_000, 4) == 6_000_000
    exchanges = (_displayed(1, 2, 3, 4) + R(":ACQuire:MDEPth 300000") + [(":ACQuire:MDEPth?", "300000")]
                 + _displayed(1, 2) + R(":ACQuire:MDEPth 600000") + [(":ACQuire:MDEPth?", "600000")])
    with RIGOL.protocol(exchanges) as s:
        assert s.set_record_length(100_000) == 100_000
        assert s.record_timing() is None  # no timebase yet
        assert s._noted_depth == 300_000
        assert s.set_record_length(100_000) == 100_000  # two channels on: the 600 000-point depth
        assert s._noted_depth == 600_000


def test_rigol_record_longer_than_the_deepest_memory_raises():
    with RIGOL.protocol(_displayed(1, 2, 3, 4)) as s, raises_with(InstrumentError, "7000001", "4 channels"):
        s.set_record_length(7_000_001)


def test_rigol_reads_the_middle_of_the_memory_and_says_how_long_it_lasts():
    codes = np.random.default_rng(2).integers(1, 255, size=100_000, dtype=np.uint8)
    preamble = "0,2,300000,1,1.000000e-08,-1.500000e-03,0,4.000000e-03,0,127"
    exchanges = (_displayed(1, 2, 3, 4) + R(":ACQuire:MDEPth 300000") + [(":ACQuire:MDEPth?", "300000")]
                 + [(":ACQuire:SRATe?", "1.000000e+08")]
                 + RIGOL_SAVED + RIGOL_SETUP_CH3 + [(":WAVeform:PREamble?", preamble)]
                 + R(":WAVeform:STARt 100001", ":WAVeform:STOP 200000")
                 + [(":WAVeform:DATA?", ieee_block(codes, digits=9))])
    with RIGOL.protocol(exchanges) as s:
        s.set_record_length(100_000)
        assert s.transfer_span_s() == pytest.approx(1e-3)  # 100 000 points at 100 MSa/s
        wf = s.read_waveform(3)
    assert np.array_equal(wf.codes, codes)
    assert wf.time_s[0] == pytest.approx(-1.5e-3 + 100_000 * 1e-8)  # the 100 001st point of the memory
    assert wf.time_s[0] < 0 < wf.time_s[-1]  # the trigger (screen centre) inside


# -- on the simulated benches: the screen widens so the points read hold the periods asked for ---------------------
@pytest.mark.parametrize("dialect", ["keysight", "rigol"])
def test_setup_timebase_puts_the_periods_in_the_points_read(sim_bench, dialect: str):
    from instruments.bench import open_bench
    from procedures.measure.acquisition import setup_timebase

    sim = sim_bench(dialect)
    with open_bench(sim.config, resources=sim.resources) as bench:
        gen, scope = bench.generator, bench.scope
        gen.set_sine(1, 1000.0, 0.5, 0.0, 0.0)
        gen.set_output(1, True)
        for ch in (1, 2, 3, 4):
            scope.set_channel(ch, enabled=True, coupling="DC", scale_v_per_div=0.1, offset_v=0.0)
        n = scope.record_length_for(100_000, 4)
        got = setup_timebase(scope, 1000.0, n, 10.0, 1, 0.0)
        waves = scope.acquire([1, 2, 3, 4], 5.0)
    for wf in waves.values():
        # the InfiniiVision estimates its points before an acquisition (62 500 while running); the DS1000Z
        # delivers exactly the 100 000 asked for, from its 300 000-point memory
        assert wf.codes.size >= got and (dialect == "keysight" or wf.codes.size == 100_000)
        assert wf.x_increment_s * wf.codes.size >= 10 / 1000.0 * (1 - 1e-6)  # at least 10 periods
        assert wf.time_s[0] < 0 < wf.time_s[-1]
