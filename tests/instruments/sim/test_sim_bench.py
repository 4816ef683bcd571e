"""End to end through plain pyvisa: the simulated bench measured the way a bench script would measure it.

Nothing here uses diffbench drivers: the generator and scope are programmed with the SCPI of
docs/reference/scpi.md (§3.1, §3.2, §4.1, §4.2), waveforms come back as IEEE 488.2 blocks, and the phasors are
fitted by a 3-parameter least-squares sine fit written below (IEEE 1057, docs/reference/measurement-methods.md §1.1).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BIAS_V = 2.0
F_HZ = 1e3


# -- the tiny toolkit a bench script would write --------------------------------------------------------
def fit_sine(t: np.ndarray, v: np.ndarray, f_hz: float, harmonics: int = 1) -> tuple[float, np.ndarray]:
    """Least-squares fit of ``dc + sum_k Re(c_k e^{j 2 pi k f t})``; returns (dc, [c_1..c_H]) in volts."""
    cols = [np.ones_like(t)]
    for k in range(1, harmonics + 1):
        w = 2 * np.pi * k * f_hz * t
        cols += [np.cos(w), np.sin(w)]
    x = np.linalg.lstsq(np.column_stack(cols), v, rcond=None)[0]
    return float(x[0]), x[1::2] - 1j * x[2::2]


def thd(c: np.ndarray) -> float:
    """sqrt(sum_{k>=2} |c_k|^2) / |c_1|."""
    return float(np.sqrt(np.sum(np.abs(c[1:]) ** 2)) / np.abs(c[0]))


def keysight_generator(g, vpp_each: float, inverted: bool = True) -> None:  # type: ignore[no-untyped-def]
    """Both channels 1 kHz sine around the bias, High-Z load setting, CH2 tracking CH1 (inverted or not)."""
    for cmd in ("*RST;*CLS", "OUTP1:LOAD INF;OUTP2:LOAD INF",
                f"SOUR1:FUNC SIN;SOUR1:FREQ {F_HZ};SOUR1:VOLT:UNIT VPP;SOUR1:VOLT {vpp_each};"
                f"SOUR1:VOLT:OFFS {BIAS_V};SOUR1:PHAS 0",
                f"SOUR1:TRACk {'INV' if inverted else 'ON'}", "OUTP1 ON;OUTP2 ON"):
        g.write(cmd)
    assert g.query("SYST:ERR?") == '+0,"No error"'


def rigol_generator(g, vpp_each: float) -> None:  # type: ignore[no-untyped-def]
    """Two channels 180 degrees apart with APPLy, High-Z, then phase-align (docs/reference/scpi.md §2.4, §3.2)."""
    for cmd in ("*RST;*CLS", ":OUTP1:IMP INF;:OUTP2:IMP INF", f":SOUR1:APPL:SIN {F_HZ},{vpp_each},{BIAS_V},0",
                f":SOUR2:APPL:SIN {F_HZ},{vpp_each},{BIAS_V},180", ":OUTP1 ON;:OUTP2 ON", ":SOUR1:PHAS:INIT"):
        g.write(cmd)
    assert g.query(":SYST:ERR?") == '0,"No error"'


def keysight_acquire(s, setup: dict[int, tuple[float, float, str]], points: int = 100_000,  # type: ignore[no-untyped-def]
                     timebase_s: float = 0.5e-3, trigger_v: float = BIAS_V) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """One :DIGitize of all four channels; returns channel -> (t, volts) from each preamble and block."""
    s.write("*RST;*CLS")
    for ch, (scale, offset, coupling) in setup.items():
        s.write(f":CHAN{ch}:DISP 1;:CHAN{ch}:COUP {coupling};:CHAN{ch}:SCAL {scale};:CHAN{ch}:OFFS {offset}")
    s.write(f":TIM:SCAL {timebase_s};:TRIG:MODE EDGE;:TRIG:EDGE:SOUR CHAN1;:TRIG:EDGE:LEV {trigger_v}")
    s.write(f":WAV:FORM BYTE;:WAV:UNS 1;:WAV:POIN:MODE RAW;:WAV:POIN {points}")
    s.write(":DIGitize CHANnel1,CHANnel2,CHANnel3,CHANnel4")
    assert s.query("*OPC?") == "1"
    out = {}
    for ch in setup:
        s.write(f":WAV:SOUR CHAN{ch}")
        pre = [float(x) for x in s.query(":WAV:PRE?").split(",")]
        codes = s.query_binary_values(":WAV:DATA?", datatype="B", container=np.array)
        assert len(codes) == int(pre[2])
        t = (np.arange(len(codes)) - pre[6]) * pre[4] + pre[5]
        out[ch] = (t, (codes - pre[9]) * pre[7] + pre[8])
    assert s.query(":SYST:ERR?") == '+0,"No error"'
    return out


def rigol_acquire(s, setup: dict[int, tuple[float, float, str]],  # type: ignore[no-untyped-def]
                  timebase_s: float = 0.5e-3, trigger_v: float = BIAS_V) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """:SINGle, poll :TRIG:STAT? (WAIT then STOP), read each channel's memory in 250 000-point windows."""
    s.write("*RST;*CLS")
    for ch, (scale, offset, coupling) in setup.items():
        # Rigol offset moves the trace: screen centre = -offset (docs/reference/scpi.md §4.2, §5)
        s.write(f":CHAN{ch}:DISP 1;:CHAN{ch}:COUP {coupling};:CHAN{ch}:SCAL {scale};:CHAN{ch}:OFFS {-offset}")
    s.write(f":TIM:SCAL {timebase_s};:TRIG:MODE EDGE;:TRIG:EDGE:SOUR CHAN1;:TRIG:EDGE:LEV {trigger_v}")
    s.write(":ACQ:MDEP 300000")
    assert s.query(":ACQ:MDEP?") == "300000"
    s.write(":SING")
    seen = []
    while not (seen and seen[-1] == "STOP" and "WAIT" in seen):
        seen.append(s.query(":TRIG:STAT?"))
        assert len(seen) < 10_000
    s.write(":WAV:MODE RAW;:WAV:FORM BYTE")
    out = {}
    for ch in setup:
        s.write(f":WAV:SOUR CHAN{ch}")
        pre = [float(x) for x in s.query(":WAV:PRE?").split(",")]
        n = int(pre[2])
        chunks = []
        for start in range(1, n + 1, 250_000):
            s.write(f":WAV:STAR {start};:WAV:STOP {min(start + 249_999, n)}")
            chunks.append(s.query_binary_values(":WAV:DATA?", datatype="B", container=np.array))
        codes = np.concatenate(chunks)
        assert len(codes) == n
        t = (np.arange(n) - pre[6]) * pre[4] + pre[5]
        out[ch] = (t, (codes - pre[8] - pre[9]) * pre[7])
    assert s.query(":SYST:ERR?") == '0,"No error"'
    return out


def truth(bench) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    """The board's harmonics at the pins and outputs for the generator's present state."""
    (_, resp), = bench.steady_state()
    return {n: resp.harmonics(n) for n in ("in1", "in2", "out1", "out2")}


# -- the differential gain ----------------------------------------------------------------------------
@pytest.mark.parametrize("dialect", ["keysight", "rigol"])
def test_differential_gain_from_plain_pyvisa_matches_the_board(dialect, sim_bench, visa_open):
    bench = sim_bench(dialect)
    g = visa_open(bench.resources["generator"])
    s = visa_open(bench.resources["scope"])
    setup = {1: (5e-3, BIAS_V, "DC"), 2: (5e-3, BIAS_V, "DC"), 3: (0.5, 3.0, "DC"), 4: (0.5, 3.0, "DC")}
    if dialect == "keysight":
        keysight_generator(g, vpp_each=0.01)  # 20 mVpp differential
        wave = keysight_acquire(s, setup)
    else:
        rigol_generator(g, vpp_each=0.01)
        wave = rigol_acquire(s, setup)
    p = {ch: fit_sine(*wave[ch], F_HZ)[1][0] for ch in wave}
    gain = (p[3] - p[4]) / (p[1] - p[2])

    h = truth(bench)
    pins_gain = (h["out1"][1] - h["out2"][1]) / (h["in1"][1] - h["in2"][1])
    add = bench.board.small_signal_s(F_HZ)[0, 0]
    # Against the board's response to this very drive: only the scope's channel mismatch
    # ([sim] scope_gain_error: vid +0.2 %, vod -0.05 %) and noise separate the two.
    assert abs(abs(gain) / abs(pins_gain) - 1) < 0.01
    assert abs(np.angle(gain / pins_gain)) < 0.01
    # Against the small-signal truth: a 10 mV-peak vid already compresses a BJT pair by
    # (vid/2V_T)^2/4 = 0.9 % (tanh), so the budget is 0.9 % + 0.25 % + noise.
    assert abs(abs(gain) / abs(add) - 1) < 0.015
    assert abs(abs(pins_gain) / abs(add) - 1) < 0.011


@pytest.mark.parametrize("dialect", ["keysight", "rigol"])
def test_small_drive_gain_from_plain_pyvisa_matches_small_signal_truth(dialect, sim_bench, visa_open):
    """At 4 mVpp differential the pair's own compression is 0.04 %: the waveforms' gain then agrees with the
    simulator's small-signal truth within 1 % (the 20 mVpp case above is 0.9 % compressed by the tanh)."""
    bench = sim_bench(dialect)
    g = visa_open(bench.resources["generator"])
    s = visa_open(bench.resources["scope"])
    # AC coupling: at 1 mV/div the offset range (+-2 V) cannot centre a 3 V output; the 10 Hz corner is
    # common to all four channels and cancels in the ratio
    setup = {1: (1e-3, 0.0, "AC"), 2: (1e-3, 0.0, "AC"), 3: (0.03, 0.0, "AC"), 4: (0.03, 0.0, "AC")}
    if dialect == "keysight":
        keysight_generator(g, vpp_each=0.002)  # 4 mVpp differential
        wave = keysight_acquire(s, setup, trigger_v=0.0)
    else:
        rigol_generator(g, vpp_each=0.002)
        wave = rigol_acquire(s, setup, trigger_v=0.0)
    p = {ch: fit_sine(*wave[ch], F_HZ)[1][0] for ch in wave}
    gain = (p[3] - p[4]) / (p[1] - p[2])
    add = bench.board.small_signal_s(F_HZ)[0, 0]
    assert abs(abs(gain) / abs(add) - 1) < 0.01, f"|gain| {abs(gain):.4f} vs truth {abs(add):.4f}"
    assert abs(np.degrees(np.angle(gain / add))) < 1.0


# -- distortion and clipping -------------------------------------------------------------------------
def test_thd_at_50mv_peak_matches_the_board_harmonics(sim_bench, visa_open):
    bench = sim_bench("keysight")
    g = visa_open(bench.resources["generator"])
    s = visa_open(bench.resources["scope"])
    keysight_generator(g, vpp_each=0.05)  # 25 mV peak per side: vid = 50 mV peak
    wave = keysight_acquire(s, {1: (10e-3, BIAS_V, "DC"), 2: (10e-3, BIAS_V, "DC"),
                                3: (0.5, 3.0, "DC"), 4: (0.5, 3.0, "DC")})
    c3 = fit_sine(*wave[3], F_HZ, harmonics=9)[1]
    c4 = fit_sine(*wave[4], F_HZ, harmonics=9)[1]
    measured = thd(c3 - c4)
    h = truth(bench)
    expected = thd((h["out1"] - h["out2"])[1:10])
    assert 0.05 < expected < 0.075  # the source text's pair: ~6 % at 50 mV peak
    assert abs(measured / expected - 1) < 0.05


def test_drive_beyond_headroom_clips_with_flat_tops(sim_bench, visa_open):
    bench = sim_bench("keysight")
    g = visa_open(bench.resources["generator"])
    s = visa_open(bench.resources["scope"])
    keysight_generator(g, vpp_each=0.4)  # vid = 0.4 V peak, 15 V_T: the tail current is fully switched
    wave = keysight_acquire(s, {1: (0.1, BIAS_V, "DC"), 2: (0.1, BIAS_V, "DC"),
                                3: (0.5, 3.0, "DC"), 4: (0.5, 3.0, "DC")})
    t, v = wave[3]
    dc, c = fit_sine(t, v, F_HZ, harmonics=15)
    assert thd(c) > 0.2
    top = np.percentile(v, 99)
    bottom = np.percentile(v, 1)
    # a sine spends 11 % of its period within 0.1 V of a 1.75 V peak; the limited output ~half
    assert np.mean(v > top - 0.1) > 0.3
    # the swing is the board's: out1 between cut-off (the 5 V rail) and the saturated collector
    resp = bench.steady_state()[0][1]
    swing = np.ptp(resp.steady_state.evaluate("out1", np.linspace(0.0, 1.0 / F_HZ, 4001)))
    assert abs((top - bottom) / swing - 1) < 0.05
    assert abs(top - bench.board.config.vcc_v) < 0.1


# -- common mode: the generator's channel mismatch leaks into vod; tied inputs do not -----------------
def test_common_mode_leak_from_generator_mismatch_and_tied_inputs(sim_bench, visa_open):
    bench = sim_bench("keysight")
    g = visa_open(bench.resources["generator"])
    s = visa_open(bench.resources["scope"])
    keysight_generator(g, vpp_each=0.6, inverted=False)  # both channels in phase, 0.3 V peak
    add, acd = bench.board.small_signal_s(F_HZ)[0]

    wave = keysight_acquire(s, {1: (0.1, BIAS_V, "DC"), 2: (0.1, BIAS_V, "DC"),
                                3: (50e-3, 0.0, "AC"), 4: (50e-3, 0.0, "AC")})
    p = {ch: fit_sine(*wave[ch], F_HZ)[1][0] for ch in wave}
    vod_two = p[3] - p[4]
    vic = (p[1] + p[2]) / 2
    h = truth(bench)
    vid_pins = h["in1"][1] - h["in2"][1]
    vic_pins = (h["in1"][1] + h["in2"][1]) / 2
    assert abs(vid_pins / vic_pins) > 5e-3  # 0.1 dB / 0.1 deg channel mismatch: |eps| ~ 0.012
    leak = add * vid_pins + acd * vic_pins
    # phasors relative to the measured vic: the record's time origin is the trigger, not the board's t = 0
    assert abs((vod_two / vic) / (leak / vic_pins) - 1) < 0.03
    assert abs(vod_two) > 100 * abs(acd * vic)

    bench.set_wiring(in1=1, in2=1)  # one channel into both inputs
    wave = keysight_acquire(s, {1: (0.1, BIAS_V, "DC"), 2: (0.1, BIAS_V, "DC"),
                                3: (5e-3, 0.0, "AC"), 4: (5e-3, 0.0, "AC")})
    p = {ch: fit_sine(*wave[ch], F_HZ)[1][0] for ch in wave}
    vod_tied = p[3] - p[4]
    vic = (p[1] + p[2]) / 2
    voc = (p[3] + p[4]) / 2
    h = truth(bench)
    assert h["in1"][1] == h["in2"][1]  # tied: the pins are one node, vid = 0 exactly
    # what is left: Acd vic, plus the scope's own output-channel mismatch acting on voc
    # (docs/reference/measurement-methods.md §3.3: Acd' = Acd + delta_o Acc), from the bench's [sim] gains
    g3, g4 = bench.config.sim["scope_gain_error"][2:4]
    expected = acd * vic + (g3 - g4) * voc
    assert abs(vod_tied) < abs(vod_two) / 300
    assert abs(vod_tied - expected) < 0.15 * abs(expected)


# -- the command line ---------------------------------------------------------------------------------
def test_sim_serve_subprocess_answers_pyvisa_and_stops_cleanly_on_sigint(visa_open):
    exe = Path(sys.executable).with_name("diffbench")
    bench_toml = Path(__file__).resolve().parents[3] / "configs" / "benches" / "sim-keysight.toml"
    proc = subprocess.Popen([str(exe), "sim", "serve", str(bench_toml), "--gen-port", "0", "--scope-port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        lines = [proc.stdout.readline() for _ in range(3)]  # type: ignore[union-attr]
        res = dict(re.match(r"(\w+) (TCPIP0::127\.0\.0\.1::\d+::SOCKET)$", ln.strip()).groups()  # type: ignore[union-attr]
                   for ln in lines[:2])
        assert lines[2].startswith("#")
        g = visa_open(res["generator"])
        s = visa_open(res["scope"])
        assert g.query("*IDN?").startswith("Agilent Technologies,33522B,")
        assert s.query("*IDN?").startswith("KEYSIGHT TECHNOLOGIES,DSO-X 1204G,")
        s.write(":WAV:POIN:MODE RAW;:WAV:POIN 1000;:DIGitize CHANnel1")
        assert s.query("*OPC?") == "1"
        codes = s.query_binary_values(":WAV:DATA?", datatype="B", container=np.array)
        assert len(codes) == 1000
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert "stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
