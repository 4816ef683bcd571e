"""The simulated Siglent SDG2042X generator and SDS824X HD scope: the guides' bytes and reply formats, the status
register in place of an error queue, silent clamping, and the diffbench drivers on the simulated bench.

Sources, by command entry (the guides give each command its own entry; their pages were not seen, as
docs/reference/scpi.md §8.3 and §8.7 record): "SDG guide" is Siglent's SDG Series Programming Guide PG02_E05C,
"SDS guide" the SDS Series Programming Guide (EN11, SDS2000X Plus and HD models); scpi.md is
docs/reference/scpi.md, the project's digest of both with the hardware logs behind it.
"""

from __future__ import annotations

import cmath
import math
import struct

import numpy as np
import pytest

from instruments.bench import open_bench
from procedures.measure.phasors import fit_sines
from sim_session import sync

NODES = {1: "in1", 2: "in2", 3: "out1", 4: "out2"}
MISMATCH = 10 ** (0.1 / 20) * cmath.exp(1j * math.radians(0.1))  # [sim] 0.1 dB / 0.1 deg on channel 2
TDIV_TABLE = [200e-12, 500e-12] + [m * 10.0 ** e for e in range(-9, 3) for m in (1, 2, 5)] + [1000.0]




def relative_deg(bench) -> float:  # type: ignore[no-untyped-def]
    """Channel 2's phase relative to channel 1 at the generator's outputs, degrees in [0, 360)."""
    d1, d2 = bench.generator.drives()
    return math.degrees(cmath.phase(d2.ac_v / d1.ac_v)) % 360


# -- SDG: replies ---------------------------------------------------------------------------------------------
def test_sdg_summary_queries_answer_in_the_guides_formats(sim_bench, visa_open):
    """SDG guide, entries BaSic_WaVe and OUTPut: the query repeats the header and lists every field, units attached
    (scpi.md §3.3: ``C1:OUTP ON,LOAD,HZ,PLRT,NOR``, ``C1:BSWV WVTP,SINE,FRQ,...HZ,...``); *IDN (scpi.md §3.3);
    MODE (``MODE PHASE-LOCKED``, the SDG2122X log); BursTWaVe, MoDulateWaVe, SWeepWaVe off (``STATE,OFF``, the
    SDG2000X protocol audit); SYNC."""
    bench = sim_bench("siglent")
    g = visa_open(bench.resources["generator"])
    assert g.query("*IDN?").startswith("Siglent Technologies,SDG2042X,")
    assert g.query("C1:BSWV?") == ("C1:BSWV WVTP,SINE,FRQ,1000HZ,PERI,0.001S,AMP,4V,AMPVRMS,1.414Vrms,OFST,0V,"
                                   "HLEV,2V,LLEV,-2V,PHSE,0")
    assert g.query("C2:OUTP?") == "C2:OUTP OFF,LOAD,HZ,PLRT,NOR"
    assert g.query("C2:OUTPUT?") == "C2:OUTP OFF,LOAD,HZ,PLRT,NOR"  # the long form (SDG guide, notation)
    assert g.query("MODE?") == "MODE PHASE-LOCKED"
    assert [g.query(f"C1:{h}?") for h in ("BTWV", "MDWV", "SWWV")] == [f"C1:{h} STATE,OFF" for h in
                                                                        ("BTWV", "MDWV", "SWWV")]
    assert g.query("C2:SYNC?") == "C2:SYNC OFF,TYPE,CH2"
    assert g.query("COUP?") == "COUP TRACE,OFF,FCOUP,OFF,PCOUP,OFF,ACOUP,OFF"
    sync(g, "C1:BSWV WVTP,DC,OFST,-1.5")
    assert g.query("C1:BSWV?") == "C1:BSWV WVTP,DC,OFST,-1.5V"
    assert g.query("*ESR?") == "0"


# -- SDG: settings, limits, errors ------------------------------------------------------------------------------
def test_sdg_basic_wave_fields_apply_in_order_and_out_of_range_values_clamp_silently(sim_bench, visa_open):
    """SDG guide, BaSic_WaVe: several ``NAME,value`` pairs in one command. The guide gives the ranges but not what a
    value outside them does; the SDG2122X logs (scpi.md §3.3) show values kept silently, so the simulator clamps
    without an error: 40 MHz sine (SDG2042X), ``|offset| + Vpp/2 <= 10 V`` of EMF (scpi.md §2.3), and the order
    matters (the driver's amplitude_offset_order exists for this)."""
    bench = sim_bench("siglent")
    g = visa_open(bench.resources["generator"])
    sync(g, "C1:BSWV WVTP,SINE,FRQ,1e9,AMP,1,OFST,2,PHSE,90")
    assert "FRQ,40000000HZ" in g.query("C1:BSWV?")
    sync(g, "C1:BSWV AMP,19,OFST,0")  # 19 Vpp against the 2 V offset: 2 x (10 - 2) = 16 Vpp kept
    reply = g.query("C1:BSWV?")
    assert ",AMP,16V," in reply and ",OFST,0V," in reply
    sync(g, "C1:BSWV OFST,0,AMP,19")  # the offset first: all of it fits
    assert ",AMP,19V," in g.query("C1:BSWV?")
    sync(g, "C1:BSWV PHSE,400")  # phase 0-360 (SDG guide, BaSic_WaVe)
    assert g.query("C1:BSWV?").endswith(",PHSE,360")
    sync(g, "C1:OUTP LOAD,10")  # load 50-100 000 Ohm (SDG guide, OUTPut)
    assert g.query("C1:OUTP?") == "C1:OUTP OFF,LOAD,50,PLRT,NOR"
    assert g.query("*ESR?") == "0"  # nothing of this is an error


def test_sdg_load_setting_scales_the_numbers_not_the_output(sim_bench, visa_open):
    """SDG guide, OUTPut ``LOAD``: amplitudes refer to the load setting (scpi.md §2.1, §3.3): at 50 Ohm a 2 Vpp
    request is 4 Vpp of EMF, and switching to HZ rereads it as 4 Vpp without touching the output."""
    bench = sim_bench("siglent")
    g = visa_open(bench.resources["generator"])
    sync(g, "C1:OUTP LOAD,50", "C1:BSWV AMP,2,OFST,0.5", "C1:OUTP ON")
    d = bench.generator.drive(1)
    assert abs(d.ac_v) == pytest.approx(2.0) and d.dc_v == pytest.approx(1.0) and d.enabled
    sync(g, "C1:OUTP LOAD,HZ")
    assert ",AMP,4V," in g.query("C1:BSWV?") and ",OFST,1V," in g.query("C1:BSWV?")
    assert bench.generator.drive(1) == d
    assert g.query("C1:OUTP?") == "C1:OUTP ON,LOAD,HZ,PLRT,NOR"


def test_sdg_reports_refusals_in_the_event_status_register_not_an_error_queue(sim_bench, visa_open):
    """SDG guide: no error-queue entry (scpi.md §1.2, §3.3), so ``SYSTem:ERRor?`` is an undefined header. IEEE 488.2
    §11.5.1: a command error sets bit 5 (32), an execution error bit 4 (16); ``*ESR?`` clears on reading; the status
    byte has no error-available bit without a queue. A wave type the simulator does not model is refused and the old
    one kept, so the driver's read-back names it."""
    bench = sim_bench("siglent")
    g = visa_open(bench.resources["generator"])
    g.write("SYSTem:ERRor?")
    g.write("*ESE 255")
    assert g.query("*STB?") == "32"  # ESB only: no EAV bit
    assert g.query("*ESR?") == "32"
    assert g.query("*ESR?") == "0"
    sync(g, "C1:BSWV WVTP,SQUARE,FRQ,5000")
    assert g.query("*ESR?") == "16"
    reply = g.query("C1:BSWV?")
    assert reply.startswith("C1:BSWV WVTP,SINE,FRQ,5000HZ")  # the refused field alone was not applied
    for refused in ("C1:BTWV STATE,ON", "C2:MDWV STATE,ON", "C1:SWWV STATE,ON", "COUP FCOUP,ON"):
        g.write(refused)
        assert g.query("*ESR?") == "16", refused
    g.write("C1:BSWV FRQ")  # a field without its value: a command error
    assert g.query("*ESR?") == "32"
    g.write("C3:OUTP ON")
    assert g.query("*ESR?") == "32"
    sync(g, "*CLS")
    assert g.query("*ESR?") == "0"


def test_sdg_eqphase_aligns_only_in_phase_locked_mode(sim_bench, visa_open):
    """SDG guide, MODE and EQPHASE (scpi.md §3.3, §2.4): the channels are separate DDS engines; after a frequency
    change their relation is lost until EQPHASE, which holds in phase-locked mode (the hyphenated spelling the
    SDG2122X kept; the guide's ``PHASELOCKED`` is accepted too)."""
    bench = sim_bench("siglent")
    g = visa_open(bench.resources["generator"])
    sync(g, "C2:BSWV PHSE,180", "C1:BSWV FRQ,2000", "C2:BSWV FRQ,2000", "MODE INDEPENDENT", "EQPHASE")
    assert abs(relative_deg(bench) - 180.1) > 1.0  # not locked: EQPHASE holds nothing
    sync(g, "MODE PHASELOCKED", "EQPHASE")
    assert g.query("MODE?") == "MODE PHASE-LOCKED"
    assert relative_deg(bench) == pytest.approx(180.1, abs=1e-6)  # 180 + channel 2's 0.1 degree mismatch


def test_sdg_invert_and_tracking(sim_bench, visa_open):
    """SDG guide, INVerT and OUTPut ``PLRT`` (one setting here), COUPling ``TRACE`` (scpi.md §3.3, §2.4): INVT
    inverts the wave about the offset, which stays (unconfirmed on Siglent, §6 item 2: kept as on Keysight);
    TRACE,ON copies CH1's basic wave to CH2, which then follows it."""
    bench = sim_bench("siglent")
    g = visa_open(bench.resources["generator"])
    sync(g, "C1:BSWV FRQ,3000,AMP,0.2,OFST,1", "C2:BSWV FRQ,3000,AMP,0.2,OFST,1", "EQPHASE", "C2:INVT ON")
    assert g.query("C2:INVT?") == "C2:INVT ON" and g.query("C2:OUTP?").endswith("PLRT,INVT")
    d1, d2 = bench.generator.drives()
    assert d2.dc_v == d1.dc_v == pytest.approx(1.0)
    assert d2.ac_v == pytest.approx(-d1.ac_v * MISMATCH)
    sync(g, "C2:OUTP PLRT,NOR", "C2:BSWV FRQ,7", "COUP TRACE,ON", "C1:BSWV FRQ,5000")
    assert g.query("COUP?") == "COUP TRACE,ON"
    assert "FRQ,5000HZ" in g.query("C2:BSWV?")
    assert g.query("C2:INVT?") == "C2:INVT OFF"


# -- SDS: replies and the WAVEDESC ---------------------------------------------------------------------------
def read_desc(s) -> bytes:  # type: ignore[no-untyped-def]
    """``:WAVeform:PREamble?``: the WAVEDESC inside its ``#9`` block (SDS guide, :WAVeform:PREamble)."""
    desc = bytes(s.query_binary_values(":WAVeform:PREamble?", datatype="B", container=bytes))
    assert len(desc) == 346 and desc[:8] == b"WAVEDESC"
    return desc


def fields(desc: bytes) -> dict[str, float]:
    """The WAVEDESC fields at the offsets of scpi.md §4.3 (little-endian)."""
    layout = {"points": ("<i", 0x74), "vdiv": ("<f", 0x9C), "offset": ("<f", 0xA0), "code_per_div": ("<f", 0xA4),
              "adc_bits": ("<h", 0xAC), "interval": ("<f", 0xB0), "delay": ("<d", 0xB4), "tdiv": ("<h", 0x144),
              "probe": ("<f", 0x148), "comm_type": ("<h", 0x20)}
    out = {name: struct.unpack_from(fmt, desc, offset)[0] for name, (fmt, offset) in layout.items()}
    out["tdiv"] = TDIV_TABLE[int(out["tdiv"])]
    return out


def test_sds_replies_in_the_guides_formats(sim_bench, visa_open):
    """SDS guide, entries :CHANnel, :TIMebase, :ACQuire, :TRIGger, :WAVeform (scpi.md §4.3): NR3 numbers
    (``5.00E-01``), ``AVERage,16``, the memory depth as ``100k``, the trigger status words; the SDS guide's common
    commands. A fine setting reads back with the digits it has."""
    bench = sim_bench("siglent")
    s = visa_open(bench.resources["scope"])
    assert s.query("*IDN?").startswith("Siglent Technologies,SDS824X HD,")
    sync(s, ":CHANnel1:SCALe 0.5;:CHANnel1:OFFSet -1;:ACQuire:TYPE AVERage,16")
    assert [s.query(q) for q in (":CHAN1:SCAL?", ":CHAN1:OFFS?", ":CHAN1:SWIT?", ":CHAN2:SWIT?", ":CHAN1:COUP?",
                                 ":CHAN1:IMP?", ":CHAN1:PROB?", ":CHAN1:BWL?", ":ACQ:TYPE?", ":TRIG:MODE?",
                                 ":TRIG:EDGE:SOUR?", ":TRIG:EDGE:SLOP?", ":WAV:WIDT?", ":WAV:MAXP?")] == [
        "5.00E-01", "-1.00E+00", "ON", "OFF", "DC", "ONEMeg", "1.00E+00", "FULL", "AVERage,16", "AUTO", "C1",
        "RISing", "BYTE", "5000000"]
    sync(s, ":CHAN1:SCAL 0.01234;:ACQ:MMAN FMDepth;:ACQ:MDEP 100k;:TIM:SCAL 1e-3")
    assert s.query(":CHAN1:SCAL?") == "1.234E-02"
    assert s.query(":ACQ:MDEP?") == "100k" and s.query(":ACQ:SRAT?") == "1.00E+07"
    assert s.query(":ACQ:POIN?") == "1.00E+05"
    assert s.query(":TRIG:STAT?") in ("Auto", "Trig'd")
    assert s.query("*ESR?") == "0"


def test_sds_wavedesc_and_word_data_give_the_volts_and_times_of_the_guides_formula(sim_bench, visa_open):
    """SDS guide, :WAVeform:PREamble (a ``#9`` block with a binary WAVEDESC) and :WAVeform:DATA (int16 little-endian
    in WORD), scpi.md §4.3: ``volts = code / code_per_div x vdiv - offset`` (vdiv, offset times the probe),
    ``time = -tdiv x 10 / 2 + i x interval + delay``. The 12-bit codes are right-justified (400 codes/div, -2048 ...
    2047), and the volts match the board's own voltage at the pin."""
    bench = sim_bench("siglent")
    g = visa_open(bench.resources["generator"])
    s = visa_open(bench.resources["scope"])
    sync(g, "C1:OUTP LOAD,HZ", "C1:BSWV WVTP,SINE,FRQ,1000,AMP,0.1,OFST,2", "C1:OUTP ON")
    sync(s, ":CHAN1:PROB VALue,10;:CHAN1:SCAL 0.2;:CHAN1:OFFS -20;:TIM:SCAL 1e-3;:TIM:DEL 1e-3",
         ":ACQ:MMAN FMDepth;:ACQ:MDEP 100k;:TRIG:EDGE:LEV 20;:TRIG:MODE SINGle")
    while s.query(":TRIG:STAT?") != "Stop":
        pass
    sync(s, ":WAV:SOUR C1;:WAV:WIDT WORD;:WAV:STAR 0;:WAV:POIN 0")
    d = fields(read_desc(s))
    assert d["points"] == 100_000 and d["adc_bits"] == 12 and d["code_per_div"] == 400 and d["comm_type"] == 1
    assert d["probe"] == 10 and d["vdiv"] * d["probe"] == pytest.approx(0.2) and d["offset"] * 10 == pytest.approx(-20)
    assert d["tdiv"] == 1e-3 and d["delay"] == pytest.approx(1e-3) and d["interval"] == pytest.approx(1e-7)
    codes = s.query_binary_values(":WAVeform:DATA?", datatype="h", is_big_endian=False, container=np.array)
    assert codes.size == 100_000 and -2048 <= codes.min() and codes.max() <= 2047
    volts = codes / d["code_per_div"] * d["vdiv"] * d["probe"] - d["offset"] * d["probe"]
    t = -d["tdiv"] * 10 / 2 + np.arange(codes.size) * d["interval"] + d["delay"]
    (fit,) = fit_sines(t, volts, 1000.0, n_harmonics=3)
    (_, truth), = bench.steady_state()
    pin = truth.harmonics("in1") * 10  # the probe factor scales the displayed volts (leads are 1:1)
    assert fit.amplitude_v == pytest.approx(abs(pin[1]), rel=0.002)
    assert fit.dc_v == pytest.approx(pin[0].real, abs=0.002 * 20)
    assert volts[np.argmin(np.abs(t))] == pytest.approx(20.0, abs=0.05)  # time 0 is the trigger at 20 V


def test_sds_timebase_between_table_entries_keeps_the_time_axis_right(sim_bench, visa_open):
    """scpi.md §4.3: the WAVEDESC names the timebase by an index into the 1-2-5 table (200 ps ... 1000 s). The
    simulator takes any scale (the driver reads it back to 0.1 %); it names the nearest entry and puts the difference
    in the delay field, so the guide's time formula still gives the first point at ``delay - 5 x scale``."""
    bench = sim_bench("siglent")
    s = visa_open(bench.resources["scope"])
    sync(s, ":TIM:SCAL 2.3e-4;:TIM:DEL -1e-4;:ACQ:MMAN FMDepth;:ACQ:MDEP 10k;:TRIG:MODE SINGle;:TRIG:MODE FTRIG")
    assert s.query(":TIM:SCAL?") == "2.30E-04" and bench.scope.last is not None
    d = fields(read_desc(s))
    assert d["tdiv"] == 200e-6
    assert -d["tdiv"] * 10 / 2 + d["delay"] == pytest.approx(-1e-4 - 5 * 2.3e-4, rel=1e-9)
    assert d["points"] * d["interval"] == pytest.approx(2.3e-3, rel=1e-6)


def test_sds_windowed_reads_join_and_byte_width_is_the_top_eight_bits(sim_bench, visa_open):
    """SDS guide, :WAVeform:STARt (0-based), :POINt, :MAXPoint?, :WIDTh (scpi.md §4.3: read a deep record in
    pieces): pieces read back to back join into the whole record; BYTE carries the 12-bit code's top 8 bits, whose
    25 codes/div the 8-bit models have."""
    bench = sim_bench("siglent")
    s = visa_open(bench.resources["scope"])
    sync(s, ":CHAN1:COUP AC;:CHAN1:SCAL 0.001;:TIM:SCAL 1e-4",
         ":ACQ:MMAN FMDepth;:ACQ:MDEP 100k;:TRIG:STOP;:WAV:WIDT WORD")

    def data(start: int, count: int, datatype: str = "h"):  # type: ignore[no-untyped-def]
        s.write(f":WAV:STAR {start};:WAV:POIN {count}")
        return s.query_binary_values(":WAV:DATA?", datatype=datatype, container=np.array)

    whole = data(0, 0)
    assert whole.size == 100_000 and len(np.unique(whole)) > 3  # the scope's own noise at 1 mV/div
    pieces = np.concatenate([data(0, 40_000), data(40_000, 40_000), data(80_000, 40_000)])
    np.testing.assert_array_equal(pieces, whole)
    s.write(":WAV:WIDT BYTE")
    np.testing.assert_array_equal(data(0, 0, "b"), np.floor(whole / 16).astype(np.int8))


def test_sds_memory_depth_rules(sim_bench, visa_open):
    """SDS guide, :ACQuire:MMANagement and :ACQuire:MDEPth: the depth holds in FMDepth only (qolab: "has no effect,
    while reporting success" otherwise); a depth not in the list is kept out silently (the driver's tests); 50M
    needs a single channel (data-sheet class figures, [L]); FSRate is not simulated."""
    bench = sim_bench("siglent")
    s = visa_open(bench.resources["scope"])
    sync(s, ":TIM:SCAL 1e-2;:ACQ:MDEP 10k")
    assert s.query(":ACQ:MMAN?") == "AUTO" and s.query(":ACQ:MDEP?") == "50M"  # AUTO: top rate, memory-bound
    sync(s, ":ACQ:MMAN FMDepth;:ACQ:MDEP 10k;:ACQ:MDEP 12.5M;:ACQ:MDEP 50k")
    assert s.query(":ACQ:MDEP?") == "10k" and s.query(":ACQ:SRAT?") == "1.00E+05"
    sync(s, ":ACQ:MDEP 50M")
    assert s.query(":ACQ:MDEP?") == "50M"
    sync(s, ":CHAN2:SWIT ON;:ACQ:MDEP 10M;:ACQ:MDEP 50M")
    assert s.query(":ACQ:MDEP?") == "10M"  # 50M with two channels on is not in the list
    assert s.query("*ESR?") == "0"
    s.write(":ACQ:MMAN FSRate")
    assert s.query("*ESR?") == "16" and s.query(":ACQ:MMAN?") == "FMDepth"


def test_sds_single_waits_for_a_trigger_and_ftrig_forces_it(sim_bench, visa_open):
    """SDS guide, :TRIGger:MODE (SINGle, FTRIG) and :TRIGger:STATus (scpi.md §4.3: "for one shot set SINGle, poll
    to Stop"): the first poll after arming reads Arm, then Ready while no edge comes (a DC level never crosses), and
    FTRIG completes it; the mode stays SINGle."""
    bench = sim_bench("siglent")
    s = visa_open(bench.resources["scope"])
    sync(s, ":TIM:SCAL 1e-5;:TRIG:EDGE:LEV 1;:TRIG:MODE SINGle")
    assert s.query(":TRIG:STAT?") == "Arm"
    assert [s.query(":TRIG:STAT?") for _ in range(3)] == ["Ready"] * 3
    sync(s, ":TRIG:MODE FTRIG")
    assert s.query(":TRIG:STAT?") == "Stop" and s.query(":TRIG:MODE?") == "SINGle"
    assert bench.scope.last is not None and not bench.scope.last.triggered
    sync(s, ":TRIG:MODE AUTO")
    assert s.query(":TRIG:STAT?") == "Auto"
    s.write(":SYSTem:ERRor?")  # no error queue (scpi.md §4.3)
    assert s.query("*ESR?") == "32"


# -- the drivers on the simulated bench ------------------------------------------------------------------------
def test_siglent_drivers_drive_and_acquire_on_the_simulated_bench(sim_bench):
    """The diffbench drivers (instruments.siglent_sdg, instruments.siglent_sds) over pyvisa sockets: a 20 mVpp
    differential drive about a 2 V bias, four channels in one acquisition, volts and time axis against the board's
    steady state (as tests/instruments/test_drivers_on_sim.py does for the Keysight and Rigol benches)."""
    bench = sim_bench("siglent")
    with open_bench(bench.config, resources=bench.resources) as b:
        gen, scope = b.generator, b.scope
        assert b.drivers == {"generator": "siglent_sdg", "scope": "siglent_sds"}
        for ch, phase in ((1, 0.0), (2, 180.0)):
            gen.set_load(ch, math.inf)
            gen.set_sine(ch, 1000.0, 0.01, 2.0, phase)
            gen.set_output(ch, True)
        gen.sync_phase()
        for ch, (scale, offset) in {1: (20e-3, 2.0), 2: (20e-3, 2.0), 3: (0.5, 3.0), 4: (0.5, 3.0)}.items():
            scope.set_channel(ch, enabled=True, coupling="DC", scale_v_per_div=scale, offset_v=offset)
        scope.set_timebase(1e-3, 0.0)
        assert scope.set_record_length(100_000) == 100_000
        scope.set_trigger_edge(1, 2.0, "rising")
        state = scope.acquisition_state()
        assert (state.mode, state.record_length, state.sample_rate_sa_s) == ("normal", 100_000, 1e7)
        waves = scope.acquire([1, 2, 3, 4])
        (_, truth), = bench.steady_state()
        for ch, wf in waves.items():
            assert wf.codes.size == 100_000 and (wf.code_min, wf.code_max) == (-2048, 2047)
            assert wf.x_increment_s * wf.codes.size == pytest.approx(1e-2, rel=1e-6)
            assert wf.time_s[0] == pytest.approx(-5e-3, rel=1e-6)
            (fit,) = fit_sines(wf.time_s, wf.volts, 1000.0, n_harmonics=5)
            c = truth.harmonics(NODES[ch])
            assert fit.amplitude_v == pytest.approx(abs(c[1]), rel=0.006), ch  # the 0.4 % gain error at most
            assert fit.dc_v == pytest.approx(c[0].real, abs=3 * wf.lsb_v + 0.004 * abs(c[0].real)), ch
        assert gen.channel_state(2).phase_deg == 180.0
        assert bench.generator.outputs_on() == (True, True)
        assert bench.generator_device.errors() == [] and bench.scope_device.errors() == []
    assert bench.generator.outputs_on() == (False, False)  # closing the bench is its safe state
