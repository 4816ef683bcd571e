"""The simulated Rigol DG1062Z and DS1054Z answer the documented queries a bench script uses beyond the core:
burst, modulation, sweep, trigger, sync and coupling states, saved setups, channel copy, autoscale and the
setup block (docs/simulated-commands/rigol.md lists them with their sources)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim_session import drained_errors, sync


def errors(inst) -> list[str]:  # type: ignore[no-untyped-def]
    """The error queue drained, oldest first; empty when there was none."""
    return drained_errors(inst, ":SYST:ERR?", ('0,',))


def differential_drive(g) -> None:  # type: ignore[no-untyped-def]
    """1 kHz, 100 mVpp per leg at High-Z, channel 2 tracking inverted, outputs on, phases aligned (the
    common-mode recipe of docs/reference/scpi.md §3.2 with TRACK INVerted)."""
    sync(g, "*RST;*CLS", ":OUTP1:IMP INF;:OUTP2:IMP INF", ":SOUR1:APPL:SIN 1000,0.1,0,0", ":SOUR1:TRACK INV",
         ":OUTP1 ON;:OUTP2 ON", ":SOUR1:PHAS:INIT")


# -- generator ---------------------------------------------------------------------------------------------
def test_generator_snapshot_of_the_documented_states(sim_bench, visa_open):
    """What a driver's state snapshot reads on both channels, in the guide's reply forms."""
    bench = sim_bench("rigol")
    g = visa_open(bench.resources["generator"])
    for ch in (1, 2):
        snapshot = {q: g.query(q.format(ch=ch)) for q in (
            ":OUTP{ch}?", ":OUTP{ch}:SYNC?", ":OUTP{ch}:SYNC:POL?", ":OUTP{ch}:GAT:POL?", ":OUTP{ch}:MODE?",
            ":SOUR{ch}:BURS?", ":SOUR{ch}:BURS:MODE?", ":SOUR{ch}:BURS:GATE:POL?", ":SOUR{ch}:BURS:TRIG:SOUR?",
            ":SOUR{ch}:SWE:STAT?", ":SOUR{ch}:MOD?", ":SOUR{ch}:MOD:TYP?", ":SOUR{ch}:HARM?", ":TRIG{ch}:SOUR?")}
        assert list(snapshot.values()) == ["OFF", "ON", "POS", "POS", "NORM", "OFF", "TRIG", "NORM", "INT", "OFF",
                                           "OFF", "AM", "OFF", "INT"]
    assert g.query(":SOUR1:BURS:INT:PER?") == "1.000000E-02"
    assert g.query(":COUP?") == "FREQ:OFF,PHASE:OFF,AMPL:OFF"
    assert errors(g) == []


def test_generator_refuses_what_the_simulated_output_cannot_show(sim_bench, visa_open):
    bench = sim_bench("rigol")
    g = visa_open(bench.resources["generator"])
    for command, query in ((":SOUR1:BURS ON", ":SOUR1:BURS?"), (":SOUR2:SWE:STAT ON", ":SOUR2:SWE:STAT?"),
                           (":SOUR1:MOD ON", ":SOUR1:MOD?"), (":SOUR1:MOD:PM:STAT 1", ":SOUR1:PM:STAT?"),
                           (":SOUR1:HARM ON", ":SOUR1:HARM?"), (":SOUR1:SUM ON", ":SOUR1:SUM?"),
                           (":COUP:PHAS ON", ":COUP:PHAS?")):
        sync(g, command)
        assert errors(g) == ['-221,"Settings conflict"'], command
        assert g.query(query) == "OFF"
    sync(g, ":OUTP1:MODE GAT")
    assert errors(g) == ['-221,"Settings conflict"'] and g.query(":OUTP1:MODE?") == "NORM"
    sync(g, ":SOUR1:BURS OFF;:SOUR1:MOD:STAT 0;:COUP OFF")
    assert errors(g) == []


def test_generator_parameters_clamp_silently_and_stay_per_channel(sim_bench, visa_open):
    bench = sim_bench("rigol")
    g = visa_open(bench.resources["generator"])
    sync(g, ":SOUR2:BURS:NCYC 5e6;:SOUR2:BURS:INT:PER 1e-9;:SOUR2:BURS:MODE INF;:SOUR2:BURS:TRIG:SOUR MAN",
         ":OUTP2:GAT:POL NEG;:OUTP2:SYNC OFF;:TRIG2:SOUR BUS;:TRIG2:SLOP NEG")
    assert errors(g) == []  # Rigol clamps without an error (docs/reference/scpi.md §2.3)
    assert g.query(":SOUR2:BURS:NCYC?") == "1.000000E+06" and g.query(":SOUR2:BURS:INT:PER?") == "2.016600E-06"
    assert [g.query(q) for q in (":SOUR2:BURS:MODE?", ":SOUR2:BURS:TRIG:SOUR?", ":OUTP2:GAT:POL?", ":OUTP2:SYNC?",
                                 ":TRIG2:SOUR?", ":TRIG2:SLOP?")] == ["INF", "MAN", "NEG", "OFF", "BUS", "NEG"]
    assert g.query(":SOUR1:BURS:MODE?") == "TRIG" and g.query(":OUTP1:SYNC?") == "ON"
    sync(g, "*TRG", ":TRIG2")  # no burst or sweep on: accepted, nothing happens
    sync(g, "*RST")
    assert g.query(":SOUR2:BURS:MODE?") == "TRIG" and g.query(":TRIG2:SOUR?") == "INT"
    assert errors(g) == []


def test_generator_saved_setups_and_preset(sim_bench, visa_open):
    bench = sim_bench("rigol")
    g = visa_open(bench.resources["generator"])
    differential_drive(g)
    sync(g, ":SOUR1:BURS:MODE GAT", "*SAV USER4")
    assert g.query(":MEM:STAT:VAL? USER4") == "1" and g.query(":MEM:STAT:VAL? USER5") == "0"
    assert g.query(":MEM:NST?") == "10"
    sync(g, "*RST")
    assert bench.generator.outputs_on() == (False, False)
    sync(g, "*RCL USER4")
    assert bench.generator.outputs_on() == (False, False)  # state files hold no output state
    assert g.query(":SOUR1:TRACK?") == "INVERTED" and g.query(":SOUR2:VOLT?") == "1.000000E-01"
    assert g.query(":OUTP2:IMP?") == "9.900000E+37" and g.query(":SOUR1:BURS:MODE?") == "GAT"
    sync(g, ":SYST:PRES DEF")
    assert g.query(":SOUR1:TRACK?") == "OFF" and g.query(":SOUR1:BURS:MODE?") == "TRIG"
    sync(g, ":SYST:PRES USER4")
    assert g.query(":SOUR1:TRACK?") == "INVERTED"
    sync(g, "*RCL USER9")  # nothing saved there: nothing changes, no error (permissive)
    assert errors(g) == [] and g.query(":SOUR1:TRACK?") == "INVERTED"
    sync(g, "*SAV ARB2")
    assert errors(g) == ['-221,"Settings conflict"']
    sync(g, "*SAV USER11")
    assert errors(g) == ['-224,"Illegal parameter value"']


def test_generator_channel_copy(sim_bench, visa_open):
    bench = sim_bench("rigol")
    g = visa_open(bench.resources["generator"])
    sync(g, ":OUTP1:IMP INF;:SOUR1:APPL:SIN 2000,0.3,0.1,45", ":OUTP2 ON", ":SYST:CSC CH1,CH2")
    assert g.query(":SOUR2:APPL?") == '"SIN,2.000000E+03,3.000000E-01,1.000000E-01,4.500000E+01"'
    assert g.query(":OUTP2?") == "ON" and g.query(":OUTP1?") == "OFF"  # the output states are not copied
    sync(g, ":SOUR1:TRACK ON", ":SYST:CSC CH2,CH1")
    assert errors(g) == ['-221,"Settings conflict"']  # unavailable with tracking on


# -- scope -------------------------------------------------------------------------------------------------
def read_channel(s, ch: int) -> tuple[list[float], np.ndarray]:  # type: ignore[no-untyped-def]
    """Preamble and volts of one channel (NORMal mode, BYTE)."""
    s.write(f":WAV:SOUR CHAN{ch}")
    pre = [float(x) for x in s.query(":WAV:PRE?").split(",")]
    codes = s.query_binary_values(":WAV:DATA?", datatype="B", container=np.array)
    return pre, (codes - pre[8] - pre[9]) * pre[7]


def test_scope_autoscale_chooses_scales_from_the_signals(sim_bench, visa_open):
    bench = sim_bench("rigol")
    g, s = visa_open(bench.resources["generator"]), visa_open(bench.resources["scope"])
    differential_drive(g)
    sync(s, ":CHAN1:SCAL 5;:TIM:MAIN:SCAL 1e-6;:TRIG:SWE NORM", ":AUToscale")
    assert errors(s) == []
    assert [s.query(f":CHAN{n}:DISP?") for n in range(1, 5)] == ["1"] * 4
    assert s.query(":TRIG:EDGE:SOUR?") == "CHAN1" and s.query(":TRIG:SWE?") == "AUTO"
    window = 12 * float(s.query(":TIM:MAIN:SCAL?"))
    assert 2e-3 <= window <= 5e-3 and float(s.query(":TIM:MAIN:OFFS?")) == 0.0
    sync(s, ":STOP")
    for n in range(1, 5):
        scale = float(s.query(f":CHAN{n}:SCAL?"))
        centre = -float(s.query(f":CHAN{n}:OFFS?"))  # Rigol's offset is minus the screen centre
        pre, v = read_channel(s, n)
        assert 1.2 * scale <= np.ptp(v) <= 6.2 * scale
        assert centre - 4 * scale < np.min(v) and np.max(v) < centre + 4 * scale
        mantissa = scale / 10 ** math.floor(math.log10(scale))
        assert any(math.isclose(mantissa, m) for m in (1.0, 2.0, 5.0))
    sync(s, ":SYST:AUT OFF", ":CHAN1:SCAL 5", ":AUToscale")  # the AUTO function disabled: ignored
    assert s.query(":SYST:AUT?") == "0" and s.query(":CHAN1:SCAL?") == "5.000000e+00" and errors(s) == []


def test_scope_autoscale_without_signals_keeps_the_display_and_centres_the_level(sim_bench, visa_open):
    bench = sim_bench("rigol")
    s = visa_open(bench.resources["scope"])  # the generator's outputs are off after its *RST
    sync(s, ":CHAN1:SCAL 0.5;:CHAN1:OFFS 0", ":AUToscale")
    assert [s.query(f":CHAN{n}:DISP?") for n in range(1, 5)] == ["1", "0", "0", "0"]
    assert s.query(":CHAN1:SCAL?") == "5.000000e-01"
    level = -float(s.query(":CHAN1:OFFS?"))
    sync(s, ":STOP")
    _, v = read_channel(s, 1)
    assert float(np.mean(v)) == pytest.approx(level, abs=0.05)


def test_scope_setup_block_round_trips_through_binary_transfers(sim_bench, visa_open):
    bench = sim_bench("rigol")
    s = visa_open(bench.resources["scope"])
    queries = (":CHAN3:DISP?", ":CHAN3:SCAL?", ":CHAN3:OFFS?", ":CHAN3:COUP?", ":CHAN3:BWL?", ":TIM:MAIN:SCAL?",
               ":TIM:MAIN:OFFS?", ":TRIG:EDGE:SOUR?", ":TRIG:EDGE:LEV?", ":ACQ:TYPE?", ":ACQ:AVER?", ":WAV:MODE?",
               ":WAV:FORM?", ":WAV:SOUR?")
    sync(s, ":CHAN3:DISP 1;:CHAN3:SCAL 0.2;:CHAN3:OFFS -1;:CHAN3:COUP AC;:CHAN3:BWL 20M;:TIM:MAIN:SCAL 5e-5",
         ":TIM:MAIN:OFFS 1e-5;:TRIG:EDGE:SOUR CHAN3;:TRIG:EDGE:LEV 1.1;:ACQ:TYPE AVER;:ACQ:AVER 64",
         ":WAV:MODE RAW;:WAV:FORM WORD;:WAV:SOUR CHAN3")
    before = [s.query(q) for q in queries]
    data = s.query_binary_values(":SYST:SET?", datatype="B", container=bytes)
    sync(s, "*RST")
    assert s.query(":CHAN3:DISP?") == "0"
    s.write_binary_values(":SYST:SET ", data, datatype="B")
    assert s.query("*OPC?") == "1" and errors(s) == []
    assert [s.query(q) for q in queries] == before
    s.write(":SYST:SET 12")
    assert errors(s) == ['-104,"Data type error"']
    s.write_binary_values(":SYST:SET ", b"VZ8 DS1054Z", datatype="B")  # not a setup of the simulated scope
    assert errors(s) == ['-161,"Invalid block data"']
    # bytes outside printable ASCII never reach the command: the simulator's line parser refuses them first
    s.write_binary_values(":SYST:SET ", b"VZ8\x00DS1054Z", datatype="B")
    assert errors(s) == ['-101,"Invalid character"']
    assert s.query(":CHAN3:SCAL?") == "2.000000e-01"  # refused blocks changed nothing
