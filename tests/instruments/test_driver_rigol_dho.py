"""Protocol tests for the Rigol DHO800/900 driver: what differs from the DS1000Z in the transfer (16-bit WORD
windows, record length from :ACQuire:MDEPth?, 12-bit code limits). What it shares with every scope family
(with its own bytes: settings, acquisition types, average range, polling) is in ``test_driver_scopes.py``.

Expected volts are worked by hand from the guide's conversion (code - yorigin - yreference) * yincrement.
"""

from __future__ import annotations

import numpy as np
import pytest

from instruments.errors import InstrumentTimeout
from instruments.rigol_dho import RigolDHO
from instruments.scope import AcquisitionState
from protocol import Family, ieee_block, raises_with, visa_timeout

FAMILY = Family(RigolDHO, "scope DHO804 at TCPIP0::10.0.0.32::5555::SOCKET", ("SYSTem:ERRor?", '0,"No error"'))
LABEL = FAMILY.label
scope, ok = FAMILY.protocol, FAMILY.ok

SETUP_WORD = ok(":WAVeform:SOURce CHANnel1", ":WAVeform:MODE RAW", ":WAVeform:FORMat WORD")
SAVED_AS_USED = [(":WAVeform:MODE?", "RAW"), (":WAVeform:FORMat?", "WORD")]


def test_read_waveform_words_little_endian_with_depth_from_mdepth():
    codes = np.full(1000, 32868, dtype="<u2")
    codes[1], codes[999] = 0xFFF0, 0
    # format WORD, type RAW, points = page size, count, xinc, xorigin, xref, yinc, yorigin, yref
    preamble = "1,2,125000,1,1.000000E-08,-5.000000E-06,0,2.000000E-05,100,32768"
    exchanges = (SAVED_AS_USED + SETUP_WORD + [(":WAVeform:PREamble?", preamble), (":ACQuire:MDEPth?", "1.000E+3")]
                 + ok(":WAVeform:STARt 1", ":WAVeform:STOP 1000")
                 + [(":WAVeform:DATA?", ieee_block(codes.tobytes(), digits=9))])
    with scope(exchanges) as s:
        wf = s.read_waveform(1)
    # (code - 100 - 32768) * 20 uV: 32868 -> 0, 65520 -> 0.65304 V, 0 -> -0.65736 V
    assert wf.volts[0] == pytest.approx(0.0, abs=1e-12)
    assert wf.volts[1] == pytest.approx(0.65304)
    assert wf.volts[999] == pytest.approx(-0.65736)
    assert wf.time_s[999] == pytest.approx(-5e-6 + 999e-8)
    assert wf.clipped and (wf.code_min, wf.code_max) == (0, 0xFFF0)


def test_read_waveform_twelve_bit_codes_are_clipped_at_4095():
    codes = np.array([2048, 4095, 1000], dtype="<u2")
    exchanges = (SAVED_AS_USED + SETUP_WORD + [(":WAVeform:PREamble?", "1,2,3,1,1e-08,0,0,2.4e-05,0,2048"),
                                               (":ACQuire:MDEPth?", "3")]
                 + ok(":WAVeform:STARt 1", ":WAVeform:STOP 3")
                 + [(":WAVeform:DATA?", ieee_block(codes.tobytes(), digits=9))])
    with scope(exchanges) as s:
        wf = s.read_waveform(1)
    assert wf.clipped and wf.code_max == 4095


def test_read_waveform_chunks_words_in_125k_point_windows():
    rng = np.random.default_rng(3)
    codes = rng.integers(1000, 60000, size=130_000).astype("<u2")
    exchanges = (SAVED_AS_USED + SETUP_WORD + [(":WAVeform:PREamble?", "1,2,125000,1,1e-09,0,0,2e-05,0,32768"),
                                               (":ACQuire:MDEPth?", "1.300E+5")]
                 + ok(":WAVeform:STARt 1", ":WAVeform:STOP 125000")
                 + [(":WAVeform:DATA?", ieee_block(codes[:125_000].tobytes(), digits=9))]
                 + ok(":WAVeform:STARt 125001", ":WAVeform:STOP 130000")
                 + [(":WAVeform:DATA?", ieee_block(codes[125_000:].tobytes(), digits=9))])
    with scope(exchanges) as s:
        wf = s.read_waveform(1)
    assert np.array_equal(wf.codes, codes) and not wf.clipped


def test_read_waveform_timeout_mid_transfer():
    exchanges = ([(":WAVeform:MODE?", "NORM"), (":WAVeform:FORMat?", "BYTE")] + SETUP_WORD
                 + [(":WAVeform:PREamble?", "1,2,1000,1,1e-08,0,0,2e-05,0,32768"), (":ACQuire:MDEPth?", "1.000E+3")]
                 + ok(":WAVeform:STARt 1", ":WAVeform:STOP 1000") + [(":WAVeform:DATA?", visa_timeout())])
    with scope(exchanges) as s, raises_with(InstrumentTimeout, LABEL, ":WAVeform:DATA?"):
        s.read_waveform(1)  # nothing restored over a timed-out link: every exchange is used


# -- acquisition_state --------------------------------------------------------------------------------
@pytest.mark.parametrize("exchanges, expected", [
    pytest.param([(":ACQuire:TYPE?", "AVER"), (":ACQuire:AVERages?", "128"), (":ACQuire:SRATe?", "1.00000E+6"),
                  (":ACQuire:MDEPth?", "1.000E+6")],
                 AcquisitionState("average", 128, 1e6, 1_000_000), id="average-scientific-depth"),
    pytest.param([(":ACQuire:TYPE?", "ULTR"), (":ACQuire:SRATe?", "1.25000E+9"), (":ACQuire:MDEPth?", "1.000E+4")],
                 AcquisitionState("ultra", 1, 1.25e9, 10_000), id="ultra-acquire"),
    # AUTO: depth = sample rate x scale x 10 divisions
    pytest.param([(":ACQuire:TYPE?", "NORM"), (":ACQuire:SRATe?", "1.00000E+8"), (":ACQuire:MDEPth?", "AUTO"),
                  (":TIMebase:MAIN:SCALe?", "1.000000E-04")],
                 AcquisitionState("normal", 1, 1e8, 100_000), id="auto-depth-ten-divisions"),
])
def test_acquisition_state(exchanges, expected):
    with scope(exchanges) as s:
        assert s.acquisition_state() == expected
