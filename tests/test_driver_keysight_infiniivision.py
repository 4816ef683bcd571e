"""Protocol tests for the Keysight InfiniiVision driver: exact SCPI exchanges, one behaviour per test.

Expected volts and times are worked by hand from the programmer's-guide conversion (reference/scpi.md
§4.1): volts = (code - yreference) * yincrement + yorigin, time = (i - xreference) * xincrement + xorigin.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np
import pytest
from pyvisa import constants
from pyvisa.errors import VisaIOError

from instruments.errors import InstrumentConnectionError, InstrumentError, InstrumentTimeout
from instruments.keysight_infiniivision import KeysightInfiniiVision
from protocol import PlaybackResource, expected_protocol, ieee_block

LABEL = "scope DSOX1204G at TCPIP0::10.0.0.9::5025::SOCKET"
NO_ERROR = ("SYSTem:ERRor?", '+0,"No error"')


def ok(*commands: str) -> list[tuple[str, Any]]:
    """Commands written as one checked step: each write, then the error-queue drain."""
    return [(c, None) for c in commands] + [NO_ERROR]


class Playback(PlaybackResource):
    """Playback whose replies may be exceptions (raised on read); records timeouts and device clears."""

    def __init__(self, exchanges: list[tuple[str, Any]]) -> None:
        super().__init__(exchanges)
        self.timeout_at: dict[str, float] = {}
        self.clears = 0

    def write(self, command: str, *args: Any, **kwargs: Any) -> int:
        self.timeout_at[command] = self.timeout
        return super().write(command, *args, **kwargs)

    def _take_reply(self) -> Any:
        reply = super()._take_reply()
        if isinstance(reply, BaseException):
            raise reply
        return reply

    def clear(self) -> None:
        self.clears += 1


@contextmanager
def playback(exchanges: list[tuple[str, Any]]) -> Iterator[tuple[KeysightInfiniiVision, Playback]]:
    res = Playback(exchanges)
    yield KeysightInfiniiVision(res, label=LABEL), res
    assert res.done, f"exchanges not used: {res.remaining()!r}"


def scope(exchanges: list[tuple[str, Any]]):
    return expected_protocol(KeysightInfiniiVision, exchanges, label=LABEL)


# -- set_channel: one field per test --------------------------------------------------------------------
def test_set_channel_display():
    with scope(ok(":CHANnel2:DISPlay 1")) as s:
        s.set_channel(2, enabled=True)


def test_set_channel_probe():
    with scope(ok(":CHANnel1:PROBe 10")) as s:
        s.set_channel(1, probe=10)


def test_set_channel_scale():
    with scope(ok(":CHANnel3:SCALe 0.05")) as s:
        s.set_channel(3, scale_v_per_div=0.05)


def test_set_channel_offset_is_centre_voltage():
    with scope(ok(":CHANnel1:OFFSet 2.5")) as s:
        s.set_channel(1, offset_v=2.5)


def test_set_channel_coupling():
    with scope(ok(":CHANnel4:COUPling AC")) as s:
        s.set_channel(4, coupling="AC")


def test_set_channel_impedance_50_ohm():
    with scope(ok(":CHANnel1:IMPedance FIFTy")) as s:
        s.set_channel(1, impedance_ohm=50)


def test_set_channel_impedance_1_megohm():
    with scope(ok(":CHANnel1:IMPedance ONEMeg")) as s:
        s.set_channel(1, impedance_ohm=1e6)


def test_set_channel_bandwidth_limit():
    with scope(ok(":CHANnel2:BWLimit 0")) as s:
        s.set_channel(2, bandwidth_limit=False)


def test_set_channel_probe_goes_before_scale():
    with scope(ok(":CHANnel1:PROBe 10") + ok(":CHANnel1:SCALe 1")) as s:
        s.set_channel(1, scale_v_per_div=1.0, probe=10)


def test_set_channel_rejects_unknown_impedance_before_any_io():
    with scope([]) as s:
        with pytest.raises(InstrumentError, match="50 or 1e6"):
            s.set_channel(1, enabled=True, impedance_ohm=75)


def test_error_queue_reply_raises_with_label_command_and_text():
    exchanges = [(":CHANnel1:SCALe 200", None), ("SYSTem:ERRor?", '-222,"Data out of range"'), NO_ERROR]
    with scope(exchanges) as s:
        with pytest.raises(InstrumentError) as err:
            s.set_channel(1, scale_v_per_div=200)
    text = str(err.value)
    assert LABEL in text and ":CHANnel1:SCALe 200" in text and "Data out of range" in text and "-222" in text


def test_channel_state_reads_every_field():
    exchanges = [(":CHANnel2:DISPlay?", "1"), (":CHANnel2:SCALe?", "+5.00000E-02"),
                 (":CHANnel2:OFFSet?", "-1.25000E+00"), (":CHANnel2:COUPling?", "AC"),
                 (":CHANnel2:IMPedance?", "FIFT"), (":CHANnel2:PROBe?", "+10.0E+00"), (":CHANnel2:BWLimit?", "1")]
    with scope(exchanges) as s:
        st = s.channel_state(2)
    assert (st.enabled, st.scale_v_per_div, st.offset_v, st.coupling) == (True, 0.05, -1.25, "AC")
    assert (st.impedance_ohm, st.probe, st.bandwidth_limit) == (50.0, 10.0, True)


# -- horizontal -----------------------------------------------------------------------------------------
def test_set_timebase():
    with scope(ok(":TIMebase:SCALe 2e-05") + ok(":TIMebase:POSition -1e-05")) as s:
        s.set_timebase(20e-6, -10e-6)


def test_timebase_reads_scale_and_position():
    with scope([(":TIMebase:SCALe?", "+2.000E-05"), (":TIMebase:POSition?", "-1.0E-05")]) as s:
        assert s.timebase() == (2e-5, -1e-5)


def test_set_record_length_returns_points_the_scope_will_transfer():
    exchanges = ok(":WAVeform:POINts:MODE RAW", ":WAVeform:POINts 100000") + [(":WAVeform:POINts?", "+62500")]
    with scope(exchanges) as s:
        assert s.set_record_length(100_000) == 62_500


def test_set_record_length_without_data_uses_acquisition_points():
    exchanges = (ok(":WAVeform:POINts:MODE RAW", ":WAVeform:POINts 100000")
                 + [(":WAVeform:POINts?", "+0"), (":ACQuire:POINts?", "+20000")])
    with scope(exchanges) as s:
        assert s.set_record_length(100_000) == 20_000


# -- trigger and acquisition ----------------------------------------------------------------------------
def test_set_trigger_edge_falling():
    exchanges = ok(":TRIGger:MODE EDGE", ":TRIGger:EDGE:SOURce CHANnel3", ":TRIGger:EDGE:LEVel 0.15",
                   ":TRIGger:EDGE:SLOPe NEGative")
    with scope(exchanges) as s:
        s.set_trigger_edge(3, 0.15, "falling")


def test_set_acquisition_average_sets_type_then_count():
    with scope(ok(":ACQuire:TYPE AVERage") + ok(":ACQuire:COUNt 64")) as s:
        s.set_acquisition("average", 64)


def test_set_acquisition_high_resolution():
    with scope(ok(":ACQuire:TYPE HRESolution")) as s:
        s.set_acquisition("highres")


def test_set_acquisition_rejects_average_count_out_of_range():
    with scope([]) as s:
        with pytest.raises(InstrumentError, match="65536"):
            s.set_acquisition("average", 1)


# -- single ---------------------------------------------------------------------------------------------
DISPLAYED_1_AND_3 = [(":CHANnel1:DISPlay?", "1"), (":CHANnel2:DISPlay?", "0"), (":CHANnel3:DISPlay?", "1"),
                     (":CHANnel4:DISPlay?", "0")]


def test_single_digitizes_displayed_channels_and_waits_with_its_own_timeout():
    exchanges = DISPLAYED_1_AND_3 + [(":DIGitize CHANnel1,CHANnel3", None), ("*OPC?", "1"), NO_ERROR]
    with playback(exchanges) as (s, res):
        s.single(timeout_s=30)
    assert res.timeout_at["*OPC?"] == 30_000
    assert res.timeout == 5000  # restored


def test_single_timeout_raises_instrument_timeout_and_clears():
    timeout = VisaIOError(constants.StatusCode.error_timeout)
    exchanges = DISPLAYED_1_AND_3 + [(":DIGitize CHANnel1,CHANnel3", None), ("*OPC?", timeout)]
    with playback(exchanges) as (s, res):
        with pytest.raises(InstrumentTimeout) as err:
            s.single(timeout_s=2)
    assert LABEL in str(err.value) and "2 s" in str(err.value) and ":DIGitize" in str(err.value)
    assert res.clears == 1 and res.timeout == 5000


def test_single_without_displayed_channel_raises():
    exchanges = [(f":CHANnel{ch}:DISPlay?", "0") for ch in (1, 2, 3, 4)]
    with scope(exchanges) as s:
        with pytest.raises(InstrumentError, match="no channel is displayed"):
            s.single()


def test_run():
    with scope(ok(":RUN")) as s:
        s.run()


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
    timeout = VisaIOError(constants.StatusCode.error_timeout)
    exchanges = ([(":ACQuire:TYPE?", "NORM"), (":WAVeform:FORMat?", "ASC"), (":WAVeform:UNSigned?", "1"),
                  (":WAVeform:BYTeorder?", "MSBF"), (":WAVeform:POINts:MODE?", "RAW")] + BYTE_SETUP
                 + [(":WAVeform:PREamble?", BYTE_PREAMBLE), (":WAVeform:DATA?", timeout)])
    with playback(exchanges) as (s, _):
        with pytest.raises(InstrumentTimeout) as err:
            s.read_waveform(2)
    assert LABEL in str(err.value) and ":WAVeform:DATA?" in str(err.value)


def test_read_waveform_connection_lost_mid_transfer():
    lost = VisaIOError(constants.StatusCode.error_connection_lost)
    exchanges = ([(":ACQuire:TYPE?", "NORM")] + SAVED_AS_WANTED_BYTE + BYTE_SETUP
                 + [(":WAVeform:PREamble?", BYTE_PREAMBLE), (":WAVeform:DATA?", lost)])
    with playback(exchanges) as (s, _):
        with pytest.raises(InstrumentConnectionError, match="connection lost"):
            s.read_waveform(2)
