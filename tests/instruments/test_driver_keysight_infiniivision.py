"""Protocol tests for the Keysight InfiniiVision driver: exact SCPI of what only this family does, one
behaviour per test -- ``single()`` by ``:DIGitize`` + ``*OPC?`` and the waveform transfer. What every scope
family does alike (with this family's bytes) is in ``test_driver_scopes.py``.

Expected volts and times are worked by hand from the programmer's-guide conversion (docs/reference/scpi.md
§4.1): volts = (code - yreference) * yincrement + yorigin, time = (i - xreference) * xincrement + xorigin.
"""

from __future__ import annotations

import numpy as np
import pytest

from instruments.errors import InstrumentConnectionError, InstrumentError, InstrumentTimeout
from instruments.keysight_infiniivision import KeysightInfiniiVision
from instruments.scope import AcquisitionState
from protocol import Family, connection_lost, ieee_block, raises_with, visa_timeout

FAMILY = Family(KeysightInfiniiVision, "scope DSOX1204G at TCPIP0::10.0.0.9::5025::SOCKET",
                ("SYSTem:ERRor?", '+0,"No error"'))
LABEL, NO_ERROR = FAMILY.label, FAMILY.drain[0]
scope, ok = FAMILY.protocol, FAMILY.ok


# -- single ---------------------------------------------------------------------------------------------
DISPLAYED_1_AND_3 = [(":CHANnel1:DISPlay?", "1"), (":CHANnel2:DISPlay?", "0"), (":CHANnel3:DISPlay?", "1"),
                     (":CHANnel4:DISPlay?", "0")]


def test_single_digitizes_displayed_channels_and_waits_with_its_own_timeout():
    exchanges = DISPLAYED_1_AND_3 + [(":DIGitize CHANnel1,CHANnel3", None), ("*OPC?", "1"), NO_ERROR]
    with scope(exchanges) as s:
        s.single(timeout_s=30)
    assert s.resource.timeout_at["*OPC?"] == 30_000
    assert s.resource.timeout == 5000  # restored


def test_single_timeout_raises_instrument_timeout_and_clears():
    exchanges = DISPLAYED_1_AND_3 + [(":DIGitize CHANnel1,CHANnel3", None), ("*OPC?", visa_timeout())]
    with scope(exchanges) as s, raises_with(InstrumentTimeout, LABEL, "2 s", ":DIGitize"):
        s.single(timeout_s=2)
    assert s.resource.clears == 1 and s.resource.timeout == 5000


def test_single_without_displayed_channel_raises():
    exchanges = [(f":CHANnel{ch}:DISPlay?", "0") for ch in (1, 2, 3, 4)]
    with scope(exchanges) as s:
        with pytest.raises(InstrumentError, match="no channel is displayed"):
            s.single()


# -- read_waveform --------------------------------------------------------------------------------------
SAVED_AS_WANTED_BYTE = [(":WAVeform:FORMat?", "BYTE"), (":WAVeform:UNSigned?", "1"),
                        (":WAVeform:BYTeorder?", "MSBF"), (":WAVeform:POINts:MODE?", "RAW")]
BYTE_SETUP = ok(":WAVeform:SOURce CHANnel2", ":WAVeform:FORMat BYTE", ":WAVeform:UNSigned 1",
                ":WAVeform:BYTeorder MSBFirst", ":WAVeform:POINts MAXimum", ":WAVeform:POINts:MODE RAW")
# format, type, points, count, xinc, xorigin, xref, yinc, yorigin, yref
BYTE_PREAMBLE = "+0,+0,+8,+1,+1.00000000E-06,-4.00000000E-06,+2,+2.50000E-03,+1.00000E-01,+128"
BYTE_CODES = np.array([128, 129, 127, 160, 96, 1, 255, 200], dtype=np.uint8)


def test_read_waveform_byte_scales_codes_and_time_axis():
    exchanges = ([(":ACQuire:TYPE?", "NORM")] + SAVED_AS_WANTED_BYTE + BYTE_SETUP
                 + [(":WAVeform:PREamble?", BYTE_PREAMBLE), (":WAVeform:DATA?", ieee_block(BYTE_CODES, digits=8)),
                    NO_ERROR])
    with scope(exchanges) as s:
        wf = s.read_waveform(2)
    # (code - 128) * 2.5 mV + 0.1 V, worked by hand
    np.testing.assert_allclose(wf.volts, [0.1, 0.1025, 0.0975, 0.18, 0.02, -0.2175, 0.4175, 0.28])
    # (i - 2) * 1 us - 4 us
    np.testing.assert_allclose(wf.time_s, [-6e-6, -5e-6, -4e-6, -3e-6, -2e-6, -1e-6, 0.0, 1e-6], atol=1e-15)
    assert wf.clipped  # codes 1 and 255 are the guide's clipped-low / clipped-high markers
    assert np.array_equal(wf.codes, BYTE_CODES)


def test_read_waveform_inside_the_screen_is_not_clipped():
    codes = np.array([2, 128, 254], dtype=np.uint8)
    preamble = "+0,+0,+3,+1,+1.0E-06,0.0,+0,+2.50000E-03,0.0,+128"
    exchanges = ([(":ACQuire:TYPE?", "NORM")] + SAVED_AS_WANTED_BYTE + BYTE_SETUP
                 + [(":WAVeform:PREamble?", preamble), (":WAVeform:DATA?", ieee_block(codes, digits=8)), NO_ERROR])
    with scope(exchanges) as s:
        assert not s.read_waveform(2).clipped


def test_read_waveform_average_uses_msb_first_words_and_restores_transfer_settings():
    codes = np.array([32768, 33024, 0xFFFF, 0x0010], dtype=">u2")
    preamble = "+1,+2,+4,+16,+2.0E-09,+1.0E-07,+0,+9.765625E-06,+0.0E+00,+32768"
    exchanges = ([(":ACQuire:TYPE?", "AVER"), (":WAVeform:FORMat?", "ASC"), (":WAVeform:UNSigned?", "0"),
                  (":WAVeform:BYTeorder?", "LSBF"), (":WAVeform:POINts:MODE?", "NORM")]
                 + ok(":WAVeform:SOURce CHANnel1", ":WAVeform:FORMat WORD", ":WAVeform:UNSigned 1",
                      ":WAVeform:BYTeorder MSBFirst", ":WAVeform:POINts MAXimum", ":WAVeform:POINts:MODE RAW")
                 + [(":WAVeform:PREamble?", preamble), (":WAVeform:DATA?", ieee_block(codes.tobytes(), digits=8)),
                    NO_ERROR]
                 + ok(":WAVeform:FORMat ASC", ":WAVeform:UNSigned 0", ":WAVeform:BYTeorder LSBF",
                      ":WAVeform:POINts:MODE NORM"))
    with scope(exchanges) as s:
        wf = s.read_waveform(1)
    # (code - 32768) * 9.765625 uV: 0, 256 -> 2.5 mV, 32767 -> 0.319990234375 V, -32752 -> -0.31984375 V
    np.testing.assert_allclose(wf.volts, [0.0, 0.0025, 0.319990234375, -0.31984375])
    np.testing.assert_allclose(wf.time_s, [1e-7, 1.02e-7, 1.04e-7, 1.06e-7])
    assert wf.clipped and wf.code_max == 0xFFFF
    assert wf.codes.dtype == np.dtype(np.uint16)  # native byte order for whoever stores the codes


def test_read_waveform_after_set_record_length_requests_that_many_points():
    exchanges = (ok(":WAVeform:POINts:MODE RAW", ":WAVeform:POINts 1000") + [(":WAVeform:POINts?", "+1000")]
                 + [(":ACQuire:TYPE?", "NORM")] + SAVED_AS_WANTED_BYTE
                 + ok(":WAVeform:SOURce CHANnel2", ":WAVeform:FORMat BYTE", ":WAVeform:UNSigned 1",
                      ":WAVeform:BYTeorder MSBFirst", ":WAVeform:POINts:MODE RAW", ":WAVeform:POINts 1000")
                 + [(":WAVeform:PREamble?", BYTE_PREAMBLE), (":WAVeform:DATA?", ieee_block(BYTE_CODES, digits=8)),
                    NO_ERROR])
    with scope(exchanges) as s:
        s.set_record_length(1000)
        assert s.read_waveform(2).codes.size == 8


def test_read_waveform_block_shorter_than_preamble_raises():
    exchanges = ([(":ACQuire:TYPE?", "NORM")] + SAVED_AS_WANTED_BYTE + BYTE_SETUP
                 + [(":WAVeform:PREamble?", BYTE_PREAMBLE),
                    (":WAVeform:DATA?", ieee_block(BYTE_CODES[:5], digits=8))])
    with scope(exchanges) as s:
        with pytest.raises(InstrumentError, match="5 points, preamble says 8"):
            s.read_waveform(2)


def test_read_waveform_timeout_mid_transfer_raises_and_skips_restore():
    exchanges = ([(":ACQuire:TYPE?", "NORM"), (":WAVeform:FORMat?", "ASC"), (":WAVeform:UNSigned?", "1"),
                  (":WAVeform:BYTeorder?", "MSBF"), (":WAVeform:POINts:MODE?", "RAW")] + BYTE_SETUP
                 + [(":WAVeform:PREamble?", BYTE_PREAMBLE), (":WAVeform:DATA?", visa_timeout())])
    with scope(exchanges) as s, raises_with(InstrumentTimeout, LABEL, ":WAVeform:DATA?"):
        s.read_waveform(2)


def test_read_waveform_connection_lost_mid_transfer():
    exchanges = ([(":ACQuire:TYPE?", "NORM")] + SAVED_AS_WANTED_BYTE + BYTE_SETUP
                 + [(":WAVeform:PREamble?", BYTE_PREAMBLE), (":WAVeform:DATA?", connection_lost())])
    with scope(exchanges) as s:
        with pytest.raises(InstrumentConnectionError, match="connection lost"):
            s.read_waveform(2)


# -- acquisition_state --------------------------------------------------------------------------------
@pytest.mark.parametrize("exchanges, expected", [
    pytest.param([(":ACQuire:TYPE?", "NORM"), (":ACQuire:SRATe?", "+2.00000000E+09"), (":ACQuire:POINts?", "+2000000")],
                 AcquisitionState("normal", 1, 2e9, 2_000_000), id="normal-asks-no-count"),
    pytest.param([(":ACQuire:TYPE?", "AVER"), (":ACQuire:COUNt?", "+64"), (":ACQuire:SRATe?", "+1.00000000E+09"),
                  (":ACQuire:POINts?", "+62500")],
                 AcquisitionState("average", 64, 1e9, 62_500), id="average-reads-the-count"),
    pytest.param([(":ACQuire:TYPE?", "HRES"), (":ACQuire:SRATe?", "+5.0E+08"), (":ACQuire:POINts?", "+500000")],
                 AcquisitionState("highres", 1, 5e8, 500_000), id="high-resolution"),
])
def test_acquisition_state(exchanges, expected):
    with scope(exchanges) as s:
        assert s.acquisition_state() == expected
