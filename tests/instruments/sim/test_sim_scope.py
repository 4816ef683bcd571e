"""The simulated scopes: preambles and codes per dialect, clipping, averaging, trigger, record lengths, and
the channel imperfections of the bench config seen through a same-signal measurement."""

from __future__ import annotations

import cmath
import math

import numpy as np
import pytest

from sim_session import sync


def keysight_read(s, ch: int, datatype: str = "B", big_endian: bool = True):  # type: ignore[no-untyped-def]
    s.write(f":WAV:SOUR CHAN{ch}")
    pre = [float(x) for x in s.query(":WAV:PRE?").split(",")]
    codes = s.query_binary_values(":WAV:DATA?", datatype=datatype, is_big_endian=big_endian, container=np.array)
    t = (np.arange(len(codes)) - pre[6]) * pre[4] + pre[5]
    return pre, codes, t, (codes - pre[9]) * pre[7] + pre[8]


def pin_dc(bench) -> float:  # type: ignore[no-untyped-def]
    """The true DC level of input 1 (the bias less the base current's drop in the bias resistor)."""
    return float(bench.steady_state()[0][1].harmonics("in1")[0].real)


def rigol_read(s, ch: int):  # type: ignore[no-untyped-def]
    s.write(f":WAV:SOUR CHAN{ch}")
    pre = [float(x) for x in s.query(":WAV:PRE?").split(",")]
    codes = s.query_binary_values(":WAV:DATA?", datatype="B", container=np.array)
    t = (np.arange(len(codes)) - pre[6]) * pre[4] + pre[5]
    return pre, codes, t, (codes - pre[8] - pre[9]) * pre[7]


# -- codes per division, formats and clipping -----------------------------------------------------------
def test_keysight_preamble_formats_and_32_codes_per_division(sim_bench, visa_open):
    bench = sim_bench("keysight")
    s = visa_open(bench.resources["scope"])
    sync(s, ":CHAN1:SCAL 0.1;:CHAN1:OFFS 1.9;:DIGitize CHAN1")  # the pin rests at the 2 V bias
    pre, codes, t, v = keysight_read(s, 1)
    assert pre[:4] == [0, 0, 1000, 1] and pre[9] == 128
    assert pre[7] == pytest.approx(0.1 / 32)
    assert pre[8] == pytest.approx(1.9)
    assert pre[4] * 1000 == pytest.approx(10 * 100e-6)  # NORMal record over the 10-division screen
    assert np.mean(v) == pytest.approx(pin_dc(bench), abs=5 * 1.04 * pre[7] / math.sqrt(1000))  # 5 sigma
    assert 0.8 < np.std(codes) < 1.3  # 1 LSB rms input noise + quantisation

    s.write(":WAV:FORM WORD;:WAV:UNS 0;:WAV:BYT LSBF")
    pre_w, words, _, vw = keysight_read(s, 1, datatype="h", big_endian=False)
    assert pre_w[0] == 1 and pre_w[9] == 0 and pre_w[7] == pytest.approx(0.1 / 32 / 256)
    assert np.all(words % 16 == 0)  # left-justified, at most 12 meaningful bits
    np.testing.assert_allclose(vw, v)  # same acquisition, same volts

    sync(s, ":WAV:FORM BYTE;:WAV:UNS 1;:CHAN1:OFFS 1.0")  # 2 V is 10 divisions above centre
    sync(s, ":DIGitize CHAN1")
    _, codes, _, _ = keysight_read(s, 1)
    assert np.all(codes == 255)  # clipped high
    sync(s, ":CHAN1:OFFS 1.85;:CHAN1:SCAL 0.04;:DIGitize CHAN1")  # 3.75 divisions above centre
    _, codes, _, v = keysight_read(s, 1)
    assert 240 < np.median(codes) < 255 and np.mean(v) == pytest.approx(pin_dc(bench), abs=2e-4)


def test_rigol_preamble_25_codes_per_division_and_overrange_margin(sim_bench, visa_open):
    bench = sim_bench("rigol")
    s = visa_open(bench.resources["scope"])
    sync(s, ":CHAN1:SCAL 0.04;:CHAN1:OFFS -1.82")  # centre 1.82 V: 2 V is 4.5 divisions above
    sync(s, ":STOP")  # freeze the free-running (AUTO, untriggered: the pin is at DC) acquisition
    pre, codes, t, v = rigol_read(s, 1)
    assert pre[:4] == [0, 0, 1200, 1] and pre[9] == 127
    assert pre[7] == pytest.approx(0.04 / 25)
    assert pre[4] * 1200 == pytest.approx(12 * 1e-6)  # 12 divisions of 1 us
    # ~4.4 divisions above centre: off the 8-division screen, still inside the ADC's 256 codes
    assert np.median(codes) == pytest.approx(127 + (pin_dc(bench) - 1.82) / (0.04 / 25), abs=1)
    assert np.mean(v) == pytest.approx(pin_dc(bench), abs=1e-4)
    assert s.query(":WAV:YOR?") == str(int(pre[8]))


# -- averaging ----------------------------------------------------------------------------------------
def test_average_mode_lowers_noise_by_sqrt_m_in_word_format(sim_bench, visa_open):
    bench = sim_bench("keysight")
    s = visa_open(bench.resources["scope"])
    sync(s, ":CHAN1:SCAL 0.01;:CHAN1:OFFS 2.0;:WAV:FORM WORD;:DIGitize CHAN1")
    _, _, _, v1 = keysight_read(s, 1, datatype="H")
    sync(s, ":ACQ:TYPE AVER;:ACQ:COUN 16;:DIGitize CHAN1")
    pre, words, _, v16 = keysight_read(s, 1, datatype="H")
    assert pre[1] == 2 and pre[3] == 16 and pre[2] <= 1000
    lsb = 0.01 / 32
    assert np.std(v1) / lsb == pytest.approx(math.sqrt(1 + 1 / 12), rel=0.12)
    assert np.std(v16) / lsb == pytest.approx(math.sqrt(1 + 1 / 12) / 4, rel=0.15)
    assert len(np.unique(words)) > 5  # the extra resolution survives in WORD


# -- trigger ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("slope, sign", [("POS", 1), ("NEG", -1)])
def test_record_time_zero_is_the_trigger_crossing(slope, sign, sim_bench, visa_open):
    bench = sim_bench("keysight")
    g = visa_open(bench.resources["generator"])
    s = visa_open(bench.resources["scope"])
    sync(g, "OUTP1:LOAD INF;SOUR1:VOLT 0.1;SOUR1:VOLT:OFFS 2;OUTP1 ON")
    sync(s, ":CHAN1:SCAL 0.02;:CHAN1:OFFS 2;:TIM:SCAL 200e-6;:TIM:REF LEFT;:TIM:POS -0.5e-3",
         f":TRIG:EDGE:SOUR CHAN1;:TRIG:EDGE:LEV 2.03;:TRIG:EDGE:SLOP {slope};:TRIG:SWE NORM",
         ":WAV:POIN:MODE RAW;:WAV:POIN 100000;:DIGitize CHAN1")
    pre, codes, t, v = keysight_read(s, 1)
    assert t[0] == pytest.approx(-0.5e-3)
    w = 2 * np.pi * 1e3 * t
    x = np.linalg.lstsq(np.column_stack([np.ones_like(t), np.cos(w), np.sin(w)]), v, rcond=None)[0]
    level = x[0] + x[1]  # the fitted sine at t = 0
    slope_at_0 = x[2]  # d/dt of the fit at t = 0, in units of w
    assert level == pytest.approx(2.03, abs=1e-3)
    assert np.sign(slope_at_0) == sign
    assert s.query(":TER?") == "+1"


def test_without_a_trigger_auto_free_runs_and_normal_waits(sim_bench, visa_open):
    bench = sim_bench("keysight")
    s = visa_open(bench.resources["scope"], timeout_ms=400)
    sync(s, ":TRIG:EDGE:LEV 4.5;:DIGitize CHAN1")  # AUTO sweep: completes, untriggered
    assert s.query(":TER?") == "+0"
    assert s.query(":WAV:POIN?") == "+1000"
    s.write(":TRIG:SWE NORM;:SING")
    assert s.query(":RSTate?") == "SING"
    assert int(s.query(":OPER:COND?")) & 8  # still running: waiting for a trigger
    s.write(":TRIG:FORC")
    assert s.query(":RSTate?") == "STOP"


# -- record lengths -------------------------------------------------------------------------------------
def test_keysight_points_modes(sim_bench, visa_open):
    bench = sim_bench("keysight")
    s = visa_open(bench.resources["scope"])
    sync(s, ":TIM:SCAL 1e-3;:WAV:POIN 3000;:DIGitize CHAN1")
    assert s.query(":WAV:POIN?") == "+2000"  # NORMal: the largest allowed count not above the request
    assert s.query(":ACQ:POIN?") == "+2000000"  # one channel on: 2 Mpts
    s.write(":WAV:POIN:MODE RAW;:WAV:POIN 100000")
    assert s.query(":WAV:POIN?") == "+100000"
    s.write(":WAV:POIN MAX")
    assert s.query(":WAV:POIN:MODE?") == "MAX" and s.query(":WAV:POIN?") == "+2000000"


def test_rigol_memory_depth_rules_raw_windows_and_no_digitize(sim_bench, visa_open):
    bench = sim_bench("rigol")
    s = visa_open(bench.resources["scope"])
    s.write(":CHAN2:DISP 1;:CHAN3:DISP 1;:CHAN4:DISP 1")
    s.write(":ACQ:MDEP 12000")  # a one-channel depth: ignored with four channels on, no error
    assert s.query(":ACQ:MDEP?") == "AUTO"
    s.write(":ACQ:MDEP 3000000")
    assert s.query(":ACQ:MDEP?") == "3000000"
    s.write(":ACQ:MDEP 7")
    assert s.query(":ACQ:MDEP?") == "3000000"
    assert s.query(":SYST:ERR?") == '0,"No error"'
    s.write(":DIGitize CHAN1")
    assert s.query(":SYST:ERR?") == '-113,"Undefined header; keyword cannot be found"'

    s.write(":TIM:SCAL 1e-3;:WAV:MODE RAW")
    pre, codes, _, _ = rigol_read(s, 1)
    assert len(codes) == 1200  # RAW while running: the screen record (stop first!)
    sync(s, ":STOP")
    s.write(":WAV:STAR 1;:WAV:STOP 3000000")
    pre, codes, t, _ = rigol_read(s, 1)
    assert pre[1] == 2 and pre[2] == 3_000_000
    assert len(codes) == 250_000  # one BYTE read is capped at 250 000 points
    s.write(":WAV:STAR 250001;:WAV:STOP 500000")
    _, more, _, _ = rigol_read(s, 1)
    s.write(":WAV:STAR 249991;:WAV:STOP 250010")
    _, seam, _, _ = rigol_read(s, 1)
    np.testing.assert_array_equal(seam, np.concatenate([codes[-10:], more[:10]]))  # chunks are contiguous


def test_rigol_single_status_sequence(sim_bench, visa_open):
    bench = sim_bench("rigol")
    s = visa_open(bench.resources["scope"], timeout_ms=2000)
    assert s.query(":TRIG:STAT?") == "AUTO"  # running, nothing crosses 0 V: auto-triggering
    sync(s, ":TRIG:EDGE:LEV 2.0", ":SING")
    assert [s.query(":TRIG:STAT?") for _ in range(3)] == ["WAIT"] * 3  # a DC input never triggers
    g = visa_open(bench.resources["generator"])
    sync(g, ":OUTP1:IMP INF;:SOUR1:APPL:SIN 1000,0.1,2;:OUTP1 ON")  # now CH1 crosses 2 V
    states = [s.query(":TRIG:STAT?")]
    while states[-1] != "STOP":
        states.append(s.query(":TRIG:STAT?"))
        assert len(states) < 10_000
    assert s.query(":TRIG:SWE?") == "SING"  # :SINGle leaves the sweep in SINGle
    assert bench.scope.last is not None and bench.scope.last.triggered


# -- imperfections seen through a same-signal measurement (docs/reference/measurement-methods.md §3.4) -----------------
def test_tied_inputs_reveal_the_channel_gain_and_skew_mismatch(sim_bench, visa_open):
    bench = sim_bench("keysight")
    bench.set_wiring(in1=1, in2=1)
    g = visa_open(bench.resources["generator"])
    s = visa_open(bench.resources["scope"])
    f = 1e6
    sync(g, f"OUTP1:LOAD INF;SOUR1:FREQ {f};SOUR1:VOLT 0.5;SOUR1:VOLT:OFFS 2;OUTP1 ON")
    sync(s, ":CHAN1:SCAL 0.1;:CHAN1:OFFS 2;:CHAN2:DISP 1;:CHAN2:SCAL 0.1;:CHAN2:OFFS 2;:TIM:SCAL 1e-4",
         ":TRIG:EDGE:LEV 2;:WAV:POIN:MODE RAW;:WAV:POIN 1000000;:DIGitize CHAN1,CHAN2")
    ph = {}
    for ch in (1, 2):
        _, _, t, v = keysight_read(s, ch)
        w = 2 * np.pi * f * t
        x = np.linalg.lstsq(np.column_stack([np.ones_like(t), np.cos(w), np.sin(w)]), v, rcond=None)[0]
        ph[ch] = x[1] - 1j * x[2]
    ratio = ph[2] / ph[1]
    gains, skews = bench.config.sim["scope_gain_error"], bench.config.sim["scope_skew_s"]
    expected = (1 + gains[1]) / (1 + gains[0]) * cmath.exp(-2j * math.pi * f * (skews[1] - skews[0]))
    assert abs(ratio) == pytest.approx(abs(expected), abs=1e-4)
    assert cmath.phase(ratio) == pytest.approx(cmath.phase(expected), abs=5e-5)


def test_keysight_digitize_of_one_channel_leaves_the_others_readable(sim_bench, visa_open):
    """:DIGitize CHANnel1 acquires channel 1; the 1000 X guide does not say the other channels go off, so a
    displayed channel 2 keeps its display and its data: it reads without an error, at the bias level."""
    bench = sim_bench("keysight")
    s = visa_open(bench.resources["scope"])
    sync(s, ":CHAN2:DISP 1;:CHAN2:SCAL 0.1;:CHAN2:OFFS 1.9;:DIGitize CHAN1")
    assert s.query(":CHAN2:DISP?").strip() == "1"
    *_, volts = keysight_read(s, 2)
    assert s.query(":SYST:ERR?").strip() == '+0,"No error"'
    assert abs(float(np.mean(volts)) - pin_dc(bench)) < 0.01
