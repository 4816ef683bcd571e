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
# the displays not yet known, asked in one compound query (then remembered: test_checked_step.py)
DISPLAYED_1_AND_3 = [(":CHANnel1:DISPlay?;:CHANnel2:DISPlay?;:CHANnel3:DISPlay?;:CHANnel4:DISPlay?", "1;0;1;0")]


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
    exchanges = [(":CHANnel1:DISPlay?;:CHANnel2:DISPlay?;:CHANnel3:DISPlay?;:CHANnel4:DISPlay?", "0;0;0;0")]
    with scope(exchanges) as s:
        with pytest.raises(InstrumentError, match="no channel is displayed"):
            s.single()


# -- read_waveform --------------------------------------------------------------------------------------
# the user's transfer settings, read once (one compound query) before the driver first changes one
SAVE_TRANSFER = ":WAVeform:FORMat?;:WAVeform:UNSigned?;:WAVeform:BYTeorder?;:WAVeform:POINts:MODE?"
SAVED_AS_WANTED_BYTE = [(SAVE_TRANSFER, "BYTE;1;MSBF;RAW")]
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
    data = (":WAVeform:PREamble?", preamble), (":WAVeform:DATA?", ieee_block(codes.tobytes(), digits=8)), NO_ERROR
    exchanges = ([(":ACQuire:TYPE?", "AVER"), (SAVE_TRANSFER, "ASC;0;LSBF;NORM")]
                 + ok(":WAVeform:SOURce CHANnel1", ":WAVeform:FORMat WORD", ":WAVeform:UNSigned 1",
                      ":WAVeform:BYTeorder MSBFirst", ":WAVeform:POINts MAXimum", ":WAVeform:POINts:MODE RAW")
                 + [*data]
                 # the second transfer: the type and the format are known, only the source is sent
                 + ok(":WAVeform:SOURce CHANnel2") + [*data]
                 # the safe state: the user's settings back, once, then running
                 + ok(":WAVeform:FORMat ASC", ":WAVeform:UNSigned 0", ":WAVeform:BYTeorder LSBF",
                      ":WAVeform:POINts:MODE NORM")
                 + ok(":RUN"))
    with scope(exchanges) as s:
        wf = s.read_waveform(1)
        assert s.read_waveform(2).channel == 2
        s.safe_state()
    # (code - 32768) * 9.765625 uV: 0, 256 -> 2.5 mV, 32767 -> 0.319990234375 V, -32752 -> -0.31984375 V
    np.testing.assert_allclose(wf.volts, [0.0, 0.0025, 0.319990234375, -0.31984375])
    np.testing.assert_allclose(wf.time_s, [1e-7, 1.02e-7, 1.04e-7, 1.06e-7])
    assert wf.clipped and wf.code_max == 0xFFFF
    assert wf.codes.dtype == np.dtype(np.uint16)  # native byte order for whoever stores the codes


def test_safe_state_restores_nothing_the_user_already_had():
    exchanges = ([(":ACQuire:TYPE?", "NORM")] + SAVED_AS_WANTED_BYTE + BYTE_SETUP
                 + [(":WAVeform:PREamble?", BYTE_PREAMBLE), (":WAVeform:DATA?", ieee_block(BYTE_CODES, digits=8)),
                    NO_ERROR]
                 + ok(":RUN"))
    with scope(exchanges) as s:
        s.read_waveform(2)
        s.safe_state()


def test_read_waveform_after_set_record_length_requests_that_many_points():
    # the user's transfer settings are read before set_record_length changes the points; the transfer then
    # sends only what it has not sent yet
    exchanges = (SAVED_AS_WANTED_BYTE
                 + ok(":WAVeform:POINts:MODE RAW", ":WAVeform:POINts 1000") + [(":WAVeform:POINts?", "+1000")]
                 + [(":ACQuire:TYPE?", "NORM")]
                 + ok(":WAVeform:SOURce CHANnel2", ":WAVeform:FORMat BYTE", ":WAVeform:UNSigned 1",
                      ":WAVeform:BYTeorder MSBFirst")
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
    # nothing is sent after the timeout (the transfer restores nothing itself; the safe state does, later)
    exchanges = ([(":ACQuire:TYPE?", "NORM"), (SAVE_TRANSFER, "ASC;1;MSBF;RAW")] + BYTE_SETUP
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
# one compound query of the four; the count the scope keeps outside AVERage mode is ignored there
ACQUIRE_STATE = ":ACQuire:TYPE?;:ACQuire:COUNt?;:ACQuire:SRATe?;:ACQuire:POINts?"


@pytest.mark.parametrize("reply, expected", [
    pytest.param("NORM;+8;+2.00000000E+09;+2000000", AcquisitionState("normal", 1, 2e9, 2_000_000),
                 id="normal-ignores-the-count"),
    pytest.param("AVER;+64;+1.00000000E+09;+62500", AcquisitionState("average", 64, 1e9, 62_500),
                 id="average-reads-the-count"),
    pytest.param("HRES;+8;+5.0E+08;+500000", AcquisitionState("highres", 1, 5e8, 500_000), id="high-resolution"),
])
def test_acquisition_state(reply, expected):
    with scope([(ACQUIRE_STATE, reply)]) as s:
        assert s.acquisition_state() == expected
