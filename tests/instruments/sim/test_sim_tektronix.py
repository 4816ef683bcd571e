"""The simulated Tektronix bench (AFG31052 + MSO44) against the reply formats and event codes of the Tektronix
manuals, over real pyvisa-py sockets, and diffbench's own Tektronix drivers end to end on it.

Sources named in the docstrings: "AFG3000 RM" = AFG3000 Series Arbitrary/Function Generators Reference Manual (the
AFG31000 command set extends it); "MSO PM" = MSO54, MSO56, MSO58, MSO58LP Programmer Manual (the 5 Series edition
of the 4/5/6 Series MSO Programmer Manual), pages as printed; "entry" = the manual's entry for that command; and
docs/reference/scpi.md (§3.4 the AFG, §4.4 the MSO).
"""

from __future__ import annotations

import cmath
import math
from typing import Any

import numpy as np
import pytest

from instruments.bench import open_bench
from procedures.measure.phasors import fit_sines
from sim_session import sync

NO_EVENTS = '0,"No events to report; queue empty"'




def events(scope: Any) -> tuple[int, list[str]]:
    """``*ESR?``, then ``EVMsg?`` until the queue reports no event: (the SESR, the event replies)."""
    esr = int(scope.query("*ESR?"))
    out = []
    for _ in range(40):
        reply = scope.query("EVMsg?")
        if reply.split(",")[0] in ("0", "1"):
            break
        out.append(reply)
    return esr, out


# -- the AFG31000 ------------------------------------------------------------------------------------------
def test_afg_replies_are_bare_values(sim_bench: Any, visa_open: Any) -> None:
    """AFG3000 RM p. 3-3 (Query Responses, Table 3-3): only the value comes back, a mnemonic abbreviated
    (``OUTPut:POLarity?`` -> ``NORM``); ``OUTPut<n>:IMPedance?`` answers 9.9E+37 for INFinity and
    ``FREQuency:CONCurrent?`` 0 or 1 (entries); the error queue ``0,"No error"`` (scpi.md §3.4)."""
    g = visa_open(sim_bench("tektronix").resources["generator"])
    assert g.query("*IDN?").startswith("TEKTRONIX,AFG31052,")
    assert g.query("OUTP1:POL?") == "NORM"
    assert g.query("SOUR1:FUNC?") == "SIN"
    g.write("OUTP2:IMP INF")
    assert g.query("OUTP2:IMP?") == "9.9E+37"
    assert g.query("SOUR1:FREQ:CONC?") == "0"
    assert g.query("OUTP1?") == "0" and g.query("OUTP1:STAT?") == "0"
    assert float(g.query("SOUR1:FREQ?")) == 1e6  # the *RST sine
    assert g.query("SYST:ERR?") == '0,"No error"'


def test_afg_phase_is_radians_unless_degrees_are_said(sim_bench: Any, visa_open: Any) -> None:
    """``SOURce<n>:PHASe[:ADJust]`` entry and scpi.md §3.4: a bare number is radians, the query answers radians;
    the range is -180 ... +180 degrees, outside it the value is clamped with -222 (scpi.md §1.2)."""
    g = visa_open(sim_bench("tektronix").resources["generator"])
    g.write("SOUR2:PHAS 90DEG")
    assert float(g.query("SOUR2:PHAS?")) == pytest.approx(math.pi / 2)
    g.write("SOUR2:PHAS 1")
    assert math.degrees(float(g.query("SOUR2:PHAS?"))) == pytest.approx(57.29578, rel=1e-6)
    g.write("SOUR2:PHAS 270DEG")
    assert g.query("SYST:ERR?") == '-222,"Data out of range"'
    assert float(g.query("SOUR2:PHAS?")) == pytest.approx(math.pi)
    assert g.query("SYST:ERR?") == '0,"No error"'


def test_afg_out_of_range_and_unmodelled_settings(sim_bench: Any, visa_open: Any) -> None:
    """scpi.md §1.2: a value out of range is -222 (clamped), an amplitude/offset pair beyond ``|offset| + Vpp/2``
    -221; a waveform, burst or modulation the simulator does not produce is refused with -221, and the state
    queries answer OFF (``BURSt:STATe``/``AM:STATe`` entries: 0 or 1)."""
    bench = sim_bench("tektronix")
    g = visa_open(bench.resources["generator"])
    g.write("SOUR1:FREQ 1e9")
    assert g.query("SYST:ERR?") == '-222,"Data out of range"'
    assert float(g.query("SOUR1:FREQ?")) == 50e6
    g.write("SOUR1:VOLT 8;:SOUR1:VOLT:OFFS 2")  # 5 V into 50 Ohm
    assert g.query("SYST:ERR?") == '-221,"Settings conflict"'
    assert float(g.query("SOUR1:VOLT:OFFS?")) == pytest.approx(1.0)
    for command in ("SOUR1:FUNC SQU", "SOUR1:BURS:STAT ON", "SOUR2:AM ON", "SOUR1:FREQ:MODE SWE"):
        g.write(command)
        assert g.query("SYST:ERR?") == '-221,"Settings conflict"', command
    assert g.query("SOUR1:FUNC?") == "SIN" and g.query("SOUR1:BURS:STAT?") == "0"
    assert g.query("SOUR2:AM:STAT?") == "0" and g.query("SOUR1:FREQ:MODE?") == "CW"
    g.write("SOUR1:FOO 1")
    assert g.query("SYST:ERR?") == '-113,"Undefined header"'
    assert g.query("*ESR?") == str(16 | 32)  # EXE and CME (IEEE 488.2)


def test_afg_frequency_concurrent_and_phase_initiate(sim_bench: Any, visa_open: Any) -> None:
    """``FREQuency:CONCurrent`` entry: ON copies the channel's frequency to the other, and a later change on either
    applies to both; ``PHASe:INITiate`` entry: aligns CH1 and CH2, needed after a frequency change (scpi.md
    §2.4, separate DDS engines)."""
    bench = sim_bench("tektronix")
    g = visa_open(bench.resources["generator"])
    sync(g, "SOUR1:FREQ 2000", "SOUR2:PHAS 180DEG", "SOUR1:FREQ:CONC ON", "OUTP1 ON", "OUTP2 ON")
    assert float(g.query("SOUR2:FREQ?")) == 2000.0
    sync(g, "SOUR2:FREQ 5000", "SOUR1:PHAS:INIT")
    assert float(g.query("SOUR1:FREQ?")) == 5000.0

    def relative_deg() -> float:
        d1, d2 = bench.generator.drives()
        return math.degrees(cmath.phase(d2.ac_v / d1.ac_v)) % 360

    assert relative_deg() == pytest.approx(180.1, abs=1e-6)  # [sim] 0.1 degree mismatch on channel 2
    sync(g, "SOUR1:FREQ 3000")
    assert abs(relative_deg() - 180.1) > 1.0
    sync(g, "SOUR2:PHAS:INIT")  # either suffix aligns both
    assert relative_deg() == pytest.approx(180.1, abs=1e-6)


def test_afg_setup_memories_keep_the_outputs_off(sim_bench: Any, visa_open: Any) -> None:
    """``*SAV``/``*RCL`` with memories 0 ... 4 (IEEE 488.2; the range QMI's AFG31000 driver checks): a recall
    brings the settings back but never switches an output on; memory 7 is out of range (-222)."""
    bench = sim_bench("tektronix")
    g = visa_open(bench.resources["generator"])
    sync(g, "SOUR1:FREQ 1234", "SOUR1:VOLT 0.2", "OUTP1 ON", "*SAV 2", "OUTP1 OFF", "SOUR1:FREQ 99", "*RCL 2")
    assert float(g.query("SOUR1:FREQ?")) == 1234.0 and float(g.query("SOUR1:VOLT?")) == pytest.approx(0.2)
    assert g.query("OUTP1?") == "0" and bench.generator.outputs_on() == (False, False)
    g.write("*SAV 7")
    assert g.query("SYST:ERR?") == '-222,"Data out of range"'


# -- the MSO 4 Series -------------------------------------------------------------------------------------
def test_mso_headers_and_verbose(sim_bench: Any, visa_open: Any) -> None:
    """MSO PM p. 2-4/2-5 and the ``HEADer``/``VERBose`` entries: with headers on a reply is sendable back
    (``:CH1:SCALE ...``; concatenated replies each carry theirs: the manual's ``ACQuire:MODe SAMple;NUMAVg?;STATE?``
    example), with headers off only the value; VERBose OFF shortens keywords and enumerations; common queries
    never carry a header; ``*RST`` changes neither state (``*RST`` entry)."""
    s = visa_open(sim_bench("tektronix").resources["scope"])
    assert s.query("*IDN?").startswith("TEKTRONIX,MSO44,")
    assert s.query("CH1:SCA?") == ":CH1:SCALE 100.0000E-3"
    assert s.query("ACQuire:MODe SAMple;NUMAVg?;STATE?") == ":ACQUIRE:NUMAVG 16;:ACQUIRE:STATE 1"
    s.write("VERBose OFF")
    assert s.query("ACQuire:MODe?") == ":ACQ:MOD SAM"
    s.write("HEADer OFF;*RST")
    assert s.query("ACQuire:MODe?") == "SAM" and s.query("HEADer?") == "0" and s.query("VERBose?") == "0"
    s.write("VERBose ON")
    assert s.query("ACQuire:MODe?") == "SAMPLE"
    assert s.query("DATa:ENCdg?") == "RIBINARY"
    assert s.query("*ESR?") == "0"


def test_mso_event_queue(sim_bench: Any, visa_open: Any) -> None:
    """MSO PM p. 3-5 (events become readable after an ``*ESR?`` read; the queue holds 32, more are replaced by
    350) and p. 3-14 (no-event messages 0 and 1, command error 113 "Undefined header" on the CME bit);
    ``*CLS`` empties the queue and ``DESE`` masks events (entries). There is no ``SYSTem:ERRor?``."""
    bench = sim_bench("tektronix")
    s = visa_open(bench.resources["scope"])
    s.write("HEADer OFF")
    s.write("CH1:FOO 1")
    assert s.query("EVMsg?") == '1,"No events to report; new events pending *ESR?"'
    assert s.query("*ESR?") == "32"
    assert s.query("EVMsg?") == '113,"Undefined header"'
    assert s.query("EVMsg?") == NO_EVENTS
    s.write("CH1:SCAle")  # no value
    s.write("SYSTem:ERRor?")
    s.query("*ESR?")
    assert s.query("ALLEv?") == '109,"Missing parameter",113,"Undefined header"'
    for _ in range(40):
        s.write("CH1:FOO")
    esr, queued = events(s)
    assert esr == 32 and len(queued) == 32 and queued[-1] == '350,"Queue overflow"'
    s.write("CH1:FOO")
    s.write("*CLS")
    assert events(s) == (0, [])
    s.write("DESE 16;:CH1:FOO")  # command errors masked: not recorded
    assert events(s) == (0, [])


def test_mso_numbers_are_forced_to_valid_settings(sim_bench: Any, visa_open: Any) -> None:
    """MSO PM p. 2-8: "Most numeric arguments will be automatically forced to a valid setting" -- no event; the
    MSO44 figures (module docstring) bound them. An enumeration the command lacks is refused (224, EXE bit)."""
    s = visa_open(sim_bench("tektronix").resources["scope"])
    s.write("HEADer OFF")
    s.write("CH1:SCAle 1000;:HORizontal:SCAle 1e-15;:ACQuire:NUMAVg 1;:CH2:SCAle 0.02;:CH2:OFFSet 2.5")
    assert s.query("CH1:SCAle?") == "10.0000E+0" and s.query("HORizontal:SCAle?") == "200.0000E-12"
    assert s.query("ACQuire:NUMAVg?") == "2"
    assert s.query("CH2:OFFSet?") == "1.0000E+0"  # +-1 V below 64 mV/div
    assert events(s) == (0, [])
    s.write("CH1:COUPling SIDEWAYS")
    assert events(s) == (16, ['224,"Illegal parameter value"'])


def test_mso_curve_codes_and_preamble(sim_bench: Any, visa_open: Any) -> None:
    """``ACQuire:MODe`` entry: 2-byte SAMple data are 12-bit samples zero-padded in the lower 4 bits;
    ``WFMOutpre:YOFf`` entry: 0, offset and position combined in ``YZEro``; scpi.md §4.4: volts
    ``(code - YOFf) * YMUlt + YZEro``, 25 codes/div at 1 byte, ``PT_Off`` 0; ``DATa:STARt``/``STOP`` entries:
    order independent, limited to the record; ``HEADer`` on puts ``:CURVE`` before the block (scpi.md §1.3)."""
    bench = sim_bench("tektronix")
    s = visa_open(bench.resources["scope"])
    sync(s, "HEADer OFF", "CH1:SCAle 0.1;OFFSet 1.8;POSition 0", "HORizontal:MODe MANual;RECOrdlength 2000",
         "DATa:SOUrce CH1;ENCdg SRIbinary;STARt 1;STOP 2000", "WFMOutpre:BYT_Nr 2",
         "ACQuire:STOPAfter SEQuence;STATE RUN")
    pin = float(bench.steady_state()[0][1].harmonics("in1")[0].real)
    pre = {k: float(s.query(f"WFMOutpre:{k}?")) for k in ("NR_Pt", "XINcr", "XZEro", "PT_Off", "YMUlt", "YOFf",
                                                          "YZEro")}
    assert pre["NR_Pt"] == 2000 and pre["PT_Off"] == 0 and pre["YOFf"] == 0
    assert pre["YMUlt"] == pytest.approx(0.1 / 6400) and pre["YZEro"] == pytest.approx(1.8)
    assert pre["XINcr"] * 2000 == pytest.approx(10 * 100e-6) and pre["XZEro"] == pytest.approx(-5 * 100e-6)
    codes = s.query_binary_values("CURVe?", datatype="h", is_big_endian=False, container=np.array)
    assert codes.size == 2000 and np.all(codes % 16 == 0)
    volts = (codes - pre["YOFf"]) * pre["YMUlt"] + pre["YZEro"]
    assert np.mean(volts) == pytest.approx(pin, abs=5 * 0.1 / 400 / math.sqrt(2000))
    s.write("WFMOutpre:BYT_Nr 1;:DATa:ENCdg RPBinary;STARt 10;STOP 1")
    assert s.query("WFMOutpre:NR_Pt?") == "10" and float(s.query("WFMOutpre:YOFf?")) == 128
    assert float(s.query("WFMOutpre:YMUlt?")) == pytest.approx(0.1 / 25)
    small = s.query_binary_values("CURVe?", datatype="B", container=np.array)
    assert small.size == 10 and np.all(np.abs(small - 128 - (pin - 1.8) / 0.004) <= 1.5)
    s.write("DATa:ENCdg ASCIi;:HEADer ON")
    reply = s.query("CURVe?")
    assert reply.startswith(":CURVE ") and len(reply.split(" ", 1)[1].split(",")) == 10
    sync(s, "HEADer ON;:DATa:ENCdg SRIbinary;:WFMOutpre:BYT_Nr 2;:CH1:OFFSet 0;:ACQuire:STATE RUN")
    clipped = s.query_binary_values("CURVe?", datatype="h", is_big_endian=False, container=np.array)
    assert np.all(clipped == 32767)  # 2 V is 20 divisions above the centre: clipped high


def test_mso_inactive_source_and_single_sequence(sim_bench: Any, visa_open: Any) -> None:
    """scpi.md §4.4: ``CURVe?`` of a channel that is not displayed fails with event 2244; a single sequence
    (``ACQuire:STOPAfter SEQuence``, ``STATE RUN``) reads ``ACQuire:STATE?`` 1 until done, ``*OPC?`` waits for it;
    in NORMal trigger mode a DC level never triggers and ``TRIGger FORCe`` completes the sequence (entries)."""
    bench = sim_bench("tektronix")
    s = visa_open(bench.resources["scope"], timeout_ms=20000)
    s.write("HEADer OFF;:DATa:SOUrce CH3;:CURVe?")
    assert events(s) == (16, ['2244,"Source waveform is not active"'])
    sync(s, "ACQuire:STOPAfter SEQuence;STATE RUN")
    assert s.query("ACQuire:STATE?") == "0" and s.query("TRIGger:STATE?") == "SAVE"
    sync(s, "TRIGger:A:MODe NORMal;:TRIGger:A:LEVel:CH1 0.5")  # the input 1 pin sits at its 2 V bias
    s.write("ACQuire:STATE RUN")
    assert s.query("ACQuire:STATE?") == "1" and s.query("TRIGger:STATE?") == "READY"
    s.write("TRIGger FORCe")
    assert s.query("ACQuire:STATE?") == "0" and s.query("BUSY?") == "0"


def test_mso_set_query_restores_the_settings(sim_bench: Any, visa_open: Any) -> None:
    """``SET?`` entry: the settings as commands, always with headers (whatever ``HEADer`` says), which restore
    the instrument when sent back."""
    s = visa_open(sim_bench("tektronix").resources["scope"])
    s.write("HEADer OFF")
    sync(s, "CH2:SCAle 0.5;OFFSet 3;COUPling AC", "DISplay:GLObal:CH2:STATE 1", "HORizontal:MODe MANual",
         "HORizontal:SCAle 2e-4;RECOrdlength 50000", "ACQuire:MODe AVErage;NUMAVg 64",
         "TRIGger:A:EDGE:SOUrce CH2;SLOpe FALL", "TRIGger:A:LEVel:CH2 2.9", "DATa:ENCdg SRIbinary")
    saved = s.query("SET?")
    assert saved.startswith(":DISPLAY:GLOBAL:CH1:STATE 1;")
    names = ("CH2:SCAle", "CH2:OFFSet", "CH2:COUPling", "HORizontal:RECOrdlength", "ACQuire:MODe",
             "ACQuire:NUMAVg", "TRIGger:A:EDGE:SLOpe", "TRIGger:A:LEVel:CH2", "DATa:ENCdg")
    before = [s.query(f"{k}?") for k in names]
    sync(s, "*RST")
    assert [s.query(f"{k}?") for k in names] != before
    sync(s, saved)
    assert [s.query(f"{k}?") for k in names] == before
    assert events(s) == (0, [])


# -- diffbench's drivers on the simulated bench ----------------------------------------------------------------
def test_drivers_drive_acquire_and_read_back(sim_bench: Any) -> None:
    """The tektronix_afg31000 and tektronix_mso drivers over pyvisa-py sockets: a differential drive (phase 180,
    ``SOUR1:PHAS:INIT``), four channels from one sequence in SRIbinary 2-byte blocks, volts and times against the
    simulator's own truth; the read-backs with headers on (the simulator's power-on state); closing is the safe
    state (outputs off)."""
    sim = sim_bench("tektronix")
    with open_bench(sim.config, resources=sim.resources) as bench:
        gen, scope = bench.generator, bench.scope
        assert bench.drivers == {"generator": "tektronix_afg31000", "scope": "tektronix_mso"}
        for ch, phase in ((1, 0.0), (2, 180.0)):
            gen.set_load(ch, math.inf)
            gen.set_sine(ch, 1000.0, 0.01, 2.0, phase)
            gen.set_output(ch, True)
        gen.sync_phase()
        state = gen.channel_state(2)
        assert state.phase_deg == pytest.approx(180.0) and math.isinf(state.load_ohm) and state.output
        for ch, (scale, offset) in {1: (0.1, 2.0), 2: (0.1, 2.0), 3: (0.5, 3.0), 4: (0.5, 3.0)}.items():
            scope.set_channel(ch, enabled=True, coupling="DC", scale_v_per_div=scale, offset_v=offset)
        assert scope.channel_state(3).offset_v == pytest.approx(3.0) and not scope.channel_state(3).bandwidth_limit
        scope.set_timebase(1e-3, 0.0)
        assert scope.set_record_length(100_000) == 100_000
        assert scope.acquisition_state().sample_rate_sa_s == pytest.approx(1e7)
        scope.set_trigger_edge(1, 2.0, "rising")
        waves = scope.acquire([1, 2, 3, 4])
        (_, truth), = sim.steady_state()
        for ch, node in {1: "in1", 2: "in2", 3: "out1", 4: "out2"}.items():
            wf = waves[ch]
            assert wf.x_increment_s * wf.codes.size == pytest.approx(10e-3) and wf.time_s[0] < 0 < wf.time_s[-1]
            (fit,) = fit_sines(wf.time_s, wf.volts, 1000.0, n_harmonics=5)
            c = truth.harmonics(node)
            assert fit.amplitude_v == pytest.approx(abs(c[1]), rel=0.006), ch  # the [sim] gain errors, <= 0.4 %
            assert fit.dc_v == pytest.approx(c[0].real, abs=3 * wf.lsb_v + 0.004 * abs(c[0].real)), ch
        assert sim.generator.outputs_on() == (True, True)
    assert sim.generator.outputs_on() == (False, False)
