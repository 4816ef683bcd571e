"""The simulated Keysight 33500B and InfiniiVision answer the documented queries a bench script uses beyond the
core: burst, modulation, sweep, trigger and sync states, saved setups, status registers, autoscale, the
setup block and the summary queries (docs/simulated-commands/keysight.md lists them with their sources)."""

from __future__ import annotations

import cmath
import math

import numpy as np
import pytest

from sim_session import drained_errors, sync

NO_ERROR = '+0,"No error"'





def errors(inst) -> list[str]:  # type: ignore[no-untyped-def]
    """The error queue drained, oldest first; empty when there was none."""
    return drained_errors(inst, "SYST:ERR?", ('+0,', '0,'))


def differential_drive(g) -> None:  # type: ignore[no-untyped-def]
    """1 kHz, 100 mVpp per leg at High-Z, channel 2 tracking inverted, both outputs on (the recipe of
    docs/reference/scpi.md §3.1)."""
    sync(g, "*RST;*CLS", "OUTP1:LOAD INF;OUTP2:LOAD INF", "SOUR1:FREQ 1000;SOUR1:VOLT 0.1;SOUR1:VOLT:OFFS 0",
         "SOUR1:TRAC INV", "OUTP1 ON;OUTP2 ON", "PHAS:SYNC")


# -- generator ---------------------------------------------------------------------------------------------
def test_generator_burst_sweep_and_modulation_answer_off_and_refuse_on(sim_bench, visa_open):
    bench = sim_bench("keysight")
    g = visa_open(bench.resources["generator"])
    for node in ("BURS", "SWE", "AM", "FM", "PM", "FSK", "PWM", "BPSK"):
        for ch in (1, 2):
            assert g.query(f"SOUR{ch}:{node}:STAT?") == "0"
        sync(g, f"SOUR1:{node}:STAT OFF")
        assert errors(g) == []
        sync(g, f"SOUR1:{node}:STAT ON")
        assert errors(g) == ['-221,"Settings conflict"']
        assert g.query(f"SOUR1:{node}:STAT?") == "0"  # the refused state is not taken
    assert g.query("SOUR1:FREQ:MODE?") == "CW"
    sync(g, "SOUR1:FREQ:MODE LIST")
    assert errors(g) == ['-221,"Settings conflict"'] and g.query("SOUR1:FREQ:MODE?") == "CW"


def test_generator_burst_parameters_keep_the_guide_ranges(sim_bench, visa_open):
    bench = sim_bench("keysight")
    g = visa_open(bench.resources["generator"])
    assert g.query("SOUR1:BURS:INT:PER?") == "+1.00000000000000E-02"  # default 10 ms (33500 guide p. 177)
    sync(g, "SOUR1:BURS:INT:PER 9000")  # above 8000 s: clamped with -222
    assert errors(g) == ['-222,"Data out of range"']
    assert float(g.query("SOUR1:BURS:INT:PER?")) == 8000.0
    sync(g, "SOUR2:BURS:MODE GAT;SOUR2:BURS:GATE:POL INV;SOUR2:BURS:NCYC INF")
    assert g.query("SOUR2:BURS:MODE?") == "GAT" and g.query("SOUR2:BURS:GATE:POL?") == "INV"
    assert g.query("SOUR2:BURS:NCYC?") == "+9.9E+37"
    assert g.query("SOUR1:BURS:MODE?") == "TRIG"  # per channel
    sync(g, "*RST")
    assert g.query("SOUR2:BURS:MODE?") == "TRIG" and g.query("SOUR2:BURS:NCYC?") == "+1.00000000000000E+00"


def test_generator_trigger_and_sync_settings(sim_bench, visa_open):
    bench = sim_bench("keysight")
    g = visa_open(bench.resources["generator"])
    assert [g.query(f"TRIG{ch}:SOUR?") for ch in (1, 2)] == ["IMM", "IMM"]
    sync(g, "TRIG2:SOUR EXT;TRIG2:SLOP NEG;TRIG2:DEL 0.5")
    assert g.query("TRIG2:SOUR?") == "EXT" and g.query("TRIG2:SLOP?") == "NEG"
    assert float(g.query("TRIG2:DEL?")) == 0.5 and g.query("TRIG1:SOUR?") == "IMM"
    assert g.query("OUTP1:SYNC?") == "1" and g.query("OUTP:SYNC:SOUR?") == "CH1"
    sync(g, "OUTP2:SYNC OFF;OUTP2:SYNC:POL INV;OUTP2:SYNC:MODE CARR;OUTP:SYNC:SOUR CH2")
    assert [g.query(q) for q in ("OUTP2:SYNC?", "OUTP2:SYNC:POL?", "OUTP2:SYNC:MODE?", "OUTP:SYNC:SOUR?")] == \
        ["0", "INV", "CARR", "CH2"]
    sync(g, "*TRG", "TRIG1")  # a trigger with no burst or sweep on: accepted, nothing changes
    assert errors(g) == []
    sync(g, "OUTP1:SYNC MAYBE")
    assert errors(g) == ['-224,"Illegal parameter value"']


def test_generator_saved_setup_restores_settings_but_not_the_relays(sim_bench, visa_open):
    bench = sim_bench("keysight")
    g = visa_open(bench.resources["generator"])
    differential_drive(g)
    sync(g, "UNIT:ANGL RAD;SOUR1:BURS:MODE GAT", "*SAV 2")
    assert g.query("MEM:STAT:VAL? 2") == "1" and g.query("MEM:STAT:VAL? 3") == "0"
    sync(g, "*RST")  # outputs off, tracking off, 100 mVpp at 50 Ohm
    assert bench.generator.outputs_on() == (False, False)
    sync(g, "*RCL 2")
    assert bench.generator.outputs_on() == (False, False)  # a recall never switches the outputs on
    assert g.query("SOUR1:TRAC?") == "INV" and g.query("OUTP2:LOAD?") == "+9.9E+37"
    assert float(g.query("SOUR2:VOLT?")) == pytest.approx(0.1)
    assert g.query("UNIT:ANGL?") == "RAD" and g.query("SOUR1:BURS:MODE?") == "GAT"
    sync(g, "OUTP1 ON;OUTP2 ON")
    d1, d2 = bench.generator.drives()
    ratio = d2.ac_v / d1.ac_v
    assert abs(abs(ratio) - 10 ** (0.1 / 20)) < 1e-9  # tracked: equal settings, the [sim] 0.1 dB mismatch
    assert abs(cmath.phase(-ratio) - math.radians(0.1)) < 1e-9  # inverted, phases locked
    sync(g, "*RCL 3")  # nothing saved there: nothing changes, no error (permissive)
    assert errors(g) == [] and g.query("SOUR1:TRAC?") == "INV"
    sync(g, "*SAV 5")
    assert errors(g) == ['-222,"Data out of range"']


def test_generator_recall_of_another_frequency_loses_the_phase_alignment(sim_bench, visa_open):
    bench = sim_bench("keysight")
    g = visa_open(bench.resources["generator"])
    sync(g, "SOUR1:FREQ 1000;SOUR2:FREQ 1000", "*SAV 1", "SOUR1:FREQ 2000;SOUR2:FREQ 2000", "PHAS:SYNC")
    assert [c.accumulator_rad for c in bench.generator.channels] == [0.0, 0.0]
    sync(g, "*RCL 1")
    assert float(g.query("SOUR1:FREQ?")) == 1000.0
    acc = [c.accumulator_rad for c in bench.generator.channels]
    assert acc[0] != acc[1]  # separate DDS engines: realign after a frequency change (docs/reference/scpi.md §2.4)
    sync(g, "PHAS:SYNC")
    assert [c.accumulator_rad for c in bench.generator.channels] == [0.0, 0.0]


def test_generator_status_registers(sim_bench, visa_open):
    bench = sim_bench("keysight")
    g = visa_open(bench.resources["generator"])
    for q in ("STAT:OPER?", "STAT:OPER:COND?", "STAT:QUES?", "STAT:QUES:COND?", "STAT:OPER:ENAB?"):
        assert g.query(q) == "+0"
    sync(g, "STAT:QUES:ENAB 1024;STAT:OPER:ENAB 65535")
    assert g.query("STAT:QUES:ENAB?") == "+1024" and g.query("STAT:OPER:ENAB?") == "+65535"
    sync(g, "STAT:PRES")
    assert g.query("STAT:QUES:ENAB?") == "+0"
    assert g.query("SYST:VERS?") == "1999.0" and g.query("MEM:NST?") == "+5"


# -- scope -------------------------------------------------------------------------------------------------
def read_channel(s, ch: int) -> tuple[list[float], np.ndarray]:  # type: ignore[no-untyped-def]
    """Preamble and volts of one channel of the present acquisition (BYTE, unsigned)."""
    s.write(f":WAV:SOUR CHAN{ch}")
    pre = [float(x) for x in s.query(":WAV:PRE?").split(",")]
    codes = s.query_binary_values(":WAV:DATA?", datatype="B", container=np.array)
    return pre, (codes - pre[9]) * pre[7] + pre[8]


def test_scope_digitize_of_one_channel_reads_the_others_from_the_same_acquisition(sim_bench, visa_open):
    """After ``:DIGitize CHANnel1`` the displayed channels 2-4 stay on and come from the same trigger: a read of
    channel 2 works (it was -222 when the simulator switched the unlisted channels off)."""
    bench = sim_bench("keysight")
    g, s = visa_open(bench.resources["generator"]), visa_open(bench.resources["scope"])
    differential_drive(g)
    sync(s, ":CHAN2:DISP 1;:CHAN2:SCAL 0.02;:CHAN1:SCAL 0.02;:TIM:SCAL 2e-4;:TRIG:EDGE:SOUR CHAN1",
         ":DIGitize CHANnel1")
    assert s.query(":CHAN2:DISP?") == "1" and s.query(":STAT? CHAN2") == "1"
    pre1, v1 = read_channel(s, 1)
    pre2, v2 = read_channel(s, 2)
    assert errors(s) == []
    assert pre2[4:6] == pre1[4:6]  # same record: same time axis
    assert np.corrcoef(v1, v2)[0, 1] < -0.99  # the inverted leg, sampled at the same instants
    assert np.ptp(v2) == pytest.approx(0.1, rel=0.1) and len(v2) == 1000


def test_scope_autoscale_chooses_scales_from_the_signals(sim_bench, visa_open):
    bench = sim_bench("keysight")
    g, s = visa_open(bench.resources["generator"]), visa_open(bench.resources["scope"])
    differential_drive(g)
    sync(s, ":ACQ:TYPE AVER;:TIM:SCAL 1e-6;:CHAN1:SCAL 5", ":AUToscale")
    assert errors(s) == []
    assert [s.query(f":CHAN{n}:DISP?") for n in range(1, 5)] == ["1"] * 4  # all four carry the drive
    assert s.query(":ACQ:TYPE?") == "NORM"  # AMODE NORMal (the default)
    assert s.query(":TRIG:EDGE:SOUR?") == "CHAN1" and s.query(":TRIG:SWE?") == "AUTO"
    window = 10 * float(s.query(":TIM:SCAL?"))
    assert 2e-3 <= window <= 5e-3  # two to five periods of 1 kHz
    assert float(s.query(":TIM:POS?")) == 0.0  # "Delay is set to 0 seconds" (1000 X guide p. 137)
    sync(s, ":DIGitize")
    for n in range(1, 5):
        pre, v = read_channel(s, n)
        scale = float(s.query(f":CHAN{n}:SCAL?"))
        assert np.ptp(v) <= 6.2 * scale and np.ptp(v) >= 1.2 * scale  # spans 1.2 ... 6 divisions
        assert np.max(v) < pre[8] + 4 * scale and np.min(v) > pre[8] - 4 * scale  # on screen, not clipped
        mantissa = scale / 10 ** math.floor(math.log10(scale))
        assert any(math.isclose(mantissa, m) for m in (1.0, 2.0, 5.0))  # a 1-2-5 value
    level = float(s.query(":TRIG:EDGE:LEV?"))
    pre, v = read_channel(s, 1)
    assert min(v) < level < max(v)


def test_scope_autoscale_of_named_sources_blanks_the_others_and_amode_current_keeps_the_type(sim_bench,
                                                                                              visa_open):
    bench = sim_bench("keysight")
    g, s = visa_open(bench.resources["generator"]), visa_open(bench.resources["scope"])
    differential_drive(g)
    sync(s, ":AUT:AMODE CURR;:ACQ:TYPE AVER", ":AUToscale CHANnel3,CHANnel4")
    assert [s.query(f":CHAN{n}:DISP?") for n in range(1, 5)] == ["0", "0", "1", "1"]
    assert s.query(":AUT:CHAN?") == "DISP" and s.query(":ACQ:TYPE?") == "AVER"
    assert s.query(":TRIG:EDGE:SOUR?") == "CHAN3"
    sync(s, ":CHAN1:DISP 1", ":AUToscale")  # channels mode DISPlayed: only the displayed ones are considered
    assert [s.query(f":CHAN{n}:DISP?") for n in range(1, 5)] == ["1", "0", "1", "1"]
    sync(s, ":AUToscale CHANnel1,CHANnel2,CHANnel3,CHANnel4,CHANnel1,CHANnel2")
    assert errors(s) == ['-108,"Parameter not allowed"']  # at most 5 sources (p. 137)


def test_scope_setup_block_round_trips_through_binary_transfers(sim_bench, visa_open):
    bench = sim_bench("keysight")
    s = visa_open(bench.resources["scope"])
    sync(s, ":CHAN2:DISP 1;:CHAN2:SCAL 0.05;:CHAN2:OFFS 1.9;:CHAN2:COUP AC;:TIM:SCAL 2e-4;:TRIG:EDGE:SOUR CHAN2",
         ":TRIG:EDGE:LEV 1.95;:ACQ:TYPE AVER;:ACQ:COUN 16;:WAV:FORM WORD;:CHAN2:LAB \"OUT\"")
    data = s.query_binary_values(":SYST:SET?", datatype="B", container=bytes)
    assert 100 < len(data) < 60_000
    before = [s.query(q) for q in (":CHAN2?", ":TIM?", ":TRIG:EDGE:SOUR?", ":TRIG:EDGE:LEV?", ":ACQ:TYPE?",
                                   ":ACQ:COUN?", ":WAV?")]
    sync(s, "*RST")
    assert s.query(":CHAN2:DISP?") == "0"
    s.write_binary_values(":SYST:SET ", data, datatype="B")
    assert s.query("*OPC?") == "1" and errors(s) == []
    after = [s.query(q) for q in (":CHAN2?", ":TIM?", ":TRIG:EDGE:SOUR?", ":TRIG:EDGE:LEV?", ":ACQ:TYPE?",
                                  ":ACQ:COUN?", ":WAV?")]
    assert after == before
    s.write_binary_values(":SYST:SET ", b"not a setup", datatype="B")
    assert errors(s) == ['-161,"Invalid block data"']
    assert s.query(":CHAN2:LAB?") == '"OUT"'  # a refused block changes nothing


def test_scope_saved_setups(sim_bench, visa_open):
    bench = sim_bench("keysight")
    s = visa_open(bench.resources["scope"])
    sync(s, ":CHAN1:SCAL 0.2;:TIM:SCAL 5e-4", "*SAV 9", ":CHAN1:SCAL 1;:TIM:SCAL 1e-3", "*RCL 9")
    assert s.query(":CHAN1:SCAL?") == "+2.00000000E-01" and s.query(":TIM:SCAL?") == "+5.00000000E-04"
    sync(s, "*RCL 0")  # nothing saved there: nothing changes, no error (permissive)
    assert errors(s) == [] and s.query(":TIM:SCAL?") == "+5.00000000E-04"
    sync(s, "*RCL 10")
    assert errors(s) == ['-222,"Data out of range"']


def test_scope_summary_queries_report_and_restore_the_settings(sim_bench, visa_open):
    bench = sim_bench("keysight")
    s = visa_open(bench.resources["scope"])
    sync(s, ":CHAN3:DISP 1;:CHAN3:SCAL 0.5;:CHAN3:OFFS 2.5;:CHAN3:BWL 1;:CHAN3:PROB:SKEW 2e-9",
         ":TIM:SCAL 2e-5;:TIM:REF LEFT;:TIM:POS 1e-5")
    chan = s.query(":CHAN3?")
    assert chan == (':CHAN3:RANG +4.00000000E+00;OFFS +2.50000000E+00;COUP DC;IMP ONEM;DISP 1;BWL 1;INV 0;'
                    'LAB "3";UNIT VOLT;PROB +1.00000000E+00;PROB:SKEW +2.00000000E-09;STYP SING')
    tim = s.query(":TIM?")
    assert tim == ":TIM:MODE MAIN;REF LEFT;MAIN:RANG +2.00000000E-04;POS +1.00000000E-05"
    wav = s.query(":WAV?")
    assert wav.startswith(":WAV:UNS 1;VIEW MAIN;BYT MSBF;FORM BYTE;POIN ") and wav.endswith("SOUR CHAN1;SOUR:SUBS NONE")
    sync(s, "*RST")
    sync(s, chan, tim)  # each reply is a program message that restores what it reports
    assert errors(s) == []
    assert s.query(":CHAN3?") == chan and s.query(":TIM?") == tim
