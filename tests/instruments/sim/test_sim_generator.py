"""The simulated generators: load-setting physics, relays, tracking, phase alignment, limits, replies."""

from __future__ import annotations

import cmath
import math

import numpy as np
import pytest

from sim_session import sync

MISMATCH = 10 ** (0.1 / 20) * cmath.exp(1j * math.radians(0.1))  # [sim] 0.1 dB / 0.1 deg on channel 2




def test_load_setting_scales_numbers_not_the_output(sim_bench, visa_open):
    bench = sim_bench("keysight")
    g = visa_open(bench.resources["generator"])
    sync(g, "*RST;SOUR1:VOLT 0.02;SOUR1:VOLT:OFFS 1;OUTP1 ON")  # at the default 50 Ohm setting
    d = bench.generator.drive(1)
    assert abs(d.ac_v) == pytest.approx(0.02)  # EMF peak = 2 x (20 mVpp / 2) into a high-Z board
    assert d.dc_v == pytest.approx(2.0)
    g.write("OUTP1:LOAD INF")
    assert float(g.query("SOUR1:VOLT?")) == pytest.approx(0.04)  # 33500 manual: reads back doubled
    assert float(g.query("SOUR1:VOLT:OFFS?")) == pytest.approx(2.0)
    assert bench.generator.drive(1) == d  # the physical output did not change
    # at the board pin: the EMF divided by 50 Ohm into the board's ~9 kOhm input
    (_, resp), = bench.steady_state()
    pin = abs(resp.harmonics("in1")[1])
    assert 0.0195 < pin < 0.02


def test_output_relays_and_reset(sim_bench, visa_open):
    bench = sim_bench("rigol")
    g = visa_open(bench.resources["generator"])
    assert bench.generator.outputs_on() == (False, False)
    sync(g, ":OUTP1 ON")
    assert bench.generator.outputs_on() == (True, False)
    assert g.query(":OUTP1?") == "ON" and g.query(":OUTP2?") == "OFF"
    sync(g, ":OUTP2:STAT 1")
    assert bench.generator.outputs_on() == (True, True)
    assert bench.generator.drive(2).enabled
    sync(g, "*RST")
    assert bench.generator.outputs_on() == (False, False)
    assert not bench.generator.drive(1).enabled


@pytest.mark.parametrize("dialect, prefix, reply", [("keysight", "", "INV"), ("rigol", ":", "INVERTED")])
def test_track_inverted_copies_and_inverts_about_the_shared_offset(dialect, prefix, reply, sim_bench, visa_open):
    bench = sim_bench(dialect)
    g = visa_open(bench.resources["generator"])
    g.write(f"{prefix}OUTP1:LOAD INF;{prefix}OUTP2:LOAD INF")
    g.write(f"{prefix}SOUR1:FREQ 5000;{prefix}SOUR1:VOLT 0.2;{prefix}SOUR1:VOLT:OFFS 1.5")
    g.write(f"{prefix}SOUR1:TRACK INV")
    assert g.query(f"{prefix}SOUR1:TRACK?") == reply
    assert float(g.query(f"{prefix}SOUR2:FREQ?")) == 5000
    sync(g, f"{prefix}SOUR1:FREQ 7000")  # a later change on channel 1 appears on both
    assert float(g.query(f"{prefix}SOUR2:FREQ?")) == 7000
    d1, d2 = bench.generator.drives()
    assert d2.dc_v == d1.dc_v == pytest.approx(1.5)  # offset not inverted
    assert d2.ac_v == pytest.approx(-d1.ac_v * MISMATCH)


def test_phase_needs_realigning_after_a_frequency_change(sim_bench, visa_open):
    bench = sim_bench("keysight")
    g = visa_open(bench.resources["generator"])
    sync(g, "SOUR2:PHAS 180", "PHAS:SYNC")

    def relative_deg() -> float:
        d1, d2 = bench.generator.drives()
        return math.degrees(cmath.phase(d2.ac_v / d1.ac_v)) % 360

    assert relative_deg() == pytest.approx(180.1, abs=1e-6)
    sync(g, "SOUR2:FREQ 2000;:SOUR2:FREQ 1000")  # separate DDS engines: the relation is lost
    assert abs(relative_deg() - 180.1) > 1.0
    sync(g, "SOUR1:PHAS:SYNC")
    assert relative_deg() == pytest.approx(180.1, abs=1e-6)


def test_keysight_limits_raise_222_and_221(sim_bench, visa_open):
    bench = sim_bench("keysight")
    g = visa_open(bench.resources["generator"])
    g.write("SOUR1:VOLT 20")  # 10 Vpp max into 50 Ohm
    assert g.query("SYST:ERR?") == '-222,"Data out of range"'
    assert float(g.query("SOUR1:VOLT?")) == 10.0
    g.write("SOUR1:VOLT 8;SOUR1:VOLT:OFFS 2")  # |offset| + Vpp/2 <= 5 V into 50 Ohm
    assert g.query("SYST:ERR?") == '-221,"Settings conflict"'
    assert float(g.query("SOUR1:VOLT:OFFS?")) == pytest.approx(1.0)
    assert float(g.query("SOUR1:VOLT:OFFS? MAX")) == pytest.approx(1.0)
    assert float(g.query("SOUR1:VOLT? MAX")) == pytest.approx(8.0)
    g.write("OUTP1:LOAD INF;SOUR1:VOLT:UNIT DBM")  # dBm has no meaning at High-Z
    assert g.query("SYST:ERR?") == '-221,"Settings conflict"'
    g.write("SOUR1:FUNC SQU")  # not modelled by the simulator: refused, not faked
    assert g.query("SYST:ERR?") == '-221,"Settings conflict"'
    assert g.query("SOUR1:FUNC?") == "SIN"
    assert g.query("SYST:ERR?") == '+0,"No error"'


def test_rigol_clamps_silently(sim_bench, visa_open):
    bench = sim_bench("rigol")
    g = visa_open(bench.resources["generator"])
    g.write(":SOUR1:VOLT 20")
    g.write(":SOUR1:VOLT 8;:SOUR1:VOLT:OFFS 2;:SOUR1:PHAS 400")
    assert g.query(":SYST:ERR?") == '0,"No error"'
    assert g.query(":SOUR1:VOLT:OFFS?") == "1.000000E+00"
    assert g.query(":SOUR1:PHAS?") == "3.600000E+02"


def test_apply_forms_and_replies(sim_bench, visa_open):
    k = sim_bench("keysight")
    gk = visa_open(k.resources["generator"])
    gk.write("SOUR2:APPL:SIN 2000,0.2,0.1")
    assert gk.query("OUTP2?") == "1"  # APPLy switches the output on (33500 guide)
    assert gk.query("SOUR2:APPL?") == '"SIN +2.000000000000000E+03,+2.000000000000000E-01,+1.000000000000000E-01"'
    gk.write("SOUR2:VOLT:UNIT VRMS")
    assert float(gk.query("SOUR2:VOLT?")) == pytest.approx(0.2 / (2 * math.sqrt(2)))

    r = sim_bench("rigol")
    gr = visa_open(r.resources["generator"])
    gr.write(":SOUR1:APPL:SIN")
    assert gr.query(":SOUR1:APPL?") == '"SIN,1.000000E+03,5.000000E+00,0.000000E+00,0.000000E+00"'
    assert gr.query(":OUTP1?") == "OFF"
    sync(gr, ":SOUR1:APPL:DC 1,1,1.5;:OUTP1 ON")
    d = r.generator.drive(1)
    assert d.ac_v == 0 and d.dc_v == pytest.approx(3.0)  # 1.5 V at the 50 Ohm setting
    assert np.isclose(float(gr.query(":SOUR1:VOLT:OFFS?")), 1.5)
