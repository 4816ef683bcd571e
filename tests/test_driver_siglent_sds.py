"""Protocol tests for the Siglent SDS2000X Plus / SDS800X HD driver (new SCPI set).

The WAVEDESC preamble is a real binary block built at the documented offsets (reference/scpi.md §4.3);
expected volts and times are worked by hand from volts = code / codes_per_div * vdiv - offset (vdiv, offset
times the probe factor) and time = -tdiv * 10 / 2 + i * interval + delay.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import pytest
from pyvisa import constants
from pyvisa.errors import VisaIOError

from instruments.errors import InstrumentError, InstrumentTimeout
from instruments.siglent_sds import SiglentSDS, depth_text, parse_depth
from protocol import PlaybackResource, expected_protocol, ieee_block

LABEL = "scope SDS824X HD at TCPIP0::10.0.0.41::5025::SOCKET"
NO_ERROR = ("*ESR?", "0")


def ok(*commands: str) -> list[tuple[str, Any]]:
    """Commands written as one checked step: each write, then the event-status check."""
    return [(c, None) for c in commands] + [NO_ERROR]


class RaisingPlayback(PlaybackResource):
    """Playback whose replies may be exceptions, raised when the driver reads them."""

    def _take_reply(self) -> Any:
        reply = super()._take_reply()
        if isinstance(reply, BaseException):
            raise reply
        return reply


class FakeClock:
    """Time that advances only when the driver sleeps between polls."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def scope(exchanges: list[tuple[str, Any]]):
    return expected_protocol(SiglentSDS, exchanges, label=LABEL)


def wavedesc(*, points: int, vdiv: float, offset: float, codes_per_div: float, adc_bits: int, interval: float,
             delay: float, tdiv_index: int, probe: float) -> bytes:
    """A 346-byte WAVEDESC with the fields the driver reads, little-endian at the documented offsets."""
    d = bytearray(346)
    struct.pack_into("<i", d, 0x74, points)
    struct.pack_into("<f", d, 0x9C, vdiv)
    struct.pack_into("<f", d, 0xA0, offset)
    struct.pack_into("<f", d, 0xA4, codes_per_div)
    struct.pack_into("<h", d, 0xAC, adc_bits)
    struct.pack_into("<f", d, 0xB0, interval)
    struct.pack_into("<d", d, 0xB4, delay)
    struct.pack_into("<h", d, 0x144, tdiv_index)
    struct.pack_into("<f", d, 0x148, probe)
    return ieee_block(bytes(d), digits=9)


# -- set_channel ----------------------------------------------------------------------------------------
def test_set_channel_switch():
    with scope(ok(":CHANnel2:SWITch ON")) as s:
        s.set_channel(2, enabled=True)


def test_set_channel_probe_value_form():
    with scope(ok(":CHANnel1:PROBe VALue,10")) as s:
        s.set_channel(1, probe=10)


def test_set_channel_scale_is_read_back():
    with scope(ok(":CHANnel1:SCALe 0.5") + [(":CHANnel1:SCALe?", "5.00E-01")]) as s:
        s.set_channel(1, scale_v_per_div=0.5)


def test_set_channel_scale_kept_silently_raises():
    with scope(ok(":CHANnel1:SCALe 20") + [(":CHANnel1:SCALe?", "1.00E+01")]) as s:
        with pytest.raises(InstrumentError, match="set to 20 but the instrument reads back 10"):
            s.set_channel(1, scale_v_per_div=20)


def test_set_channel_offset_is_sent_negated():
    with scope(ok(":CHANnel3:OFFSet 1.2")) as s:
        s.set_channel(3, offset_v=-1.2)


def test_set_channel_coupling():
    with scope(ok(":CHANnel4:COUPling AC")) as s:
        s.set_channel(4, coupling="AC")


def test_set_channel_impedance():
    with scope(ok(":CHANnel1:IMPedance FIFTy")) as s:
        s.set_channel(1, impedance_ohm=50)


def test_set_channel_bandwidth_limit_off_is_full():
    with scope(ok(":CHANnel2:BWLimit FULL")) as s:
        s.set_channel(2, bandwidth_limit=False)


def test_event_status_error_raises_with_label_command_and_bits():
    with scope([(":CHANnel1:COUPling AC", None), ("*ESR?", "32")]) as s:
        with pytest.raises(InstrumentError) as err:
            s.set_channel(1, coupling="AC")
    text = str(err.value)
    assert LABEL in text and ":CHANnel1:COUPling AC" in text and "command error" in text and "32" in text


def test_channel_state():
    exchanges = [(":CHANnel1:SWITch?", "ON"), (":CHANnel1:SCALe?", "2.00E-01"), (":CHANnel1:OFFSet?", "-5.00E-01"),
                 (":CHANnel1:COUPling?", "DC"), (":CHANnel1:IMPedance?", "ONEMEG"), (":CHANnel1:PROBe?", "1.00E+01"),
                 (":CHANnel1:BWLimit?", "20M")]
    with scope(exchanges) as s:
        st = s.channel_state(1)
    assert (st.enabled, st.scale_v_per_div, st.offset_v, st.coupling, st.impedance_ohm, st.probe,
            st.bandwidth_limit) == (True, 0.2, 0.5, "DC", 1e6, 10.0, True)


# -- horizontal -----------------------------------------------------------------------------------------
def test_set_timebase_reads_scale_back():
    exchanges = ok(":TIMebase:SCALe 1e-06") + [(":TIMebase:SCALe?", "1.00E-06")] + ok(":TIMebase:DELay 2e-07")
    with scope(exchanges) as s:
        s.set_timebase(1e-6, 2e-7)


def test_timebase():
    with scope([(":TIMebase:SCALe?", "1.00E-06"), (":TIMebase:DELay?", "-2.00E-07")]) as s:
        assert s.timebase() == (1e-6, -2e-7)


def test_depth_text_and_parse_round_trip():
    assert [depth_text(n) for n in (500, 10_000, 12_500_000, 10**9)] == ["500", "10k", "12.5M", "1G"]
    assert [parse_depth(r) for r in ("10k", "12.5M", "1.00E+07", "AUTO")] == [10_000, 12_500_000, 10**7, None]


def test_set_record_length_fixes_memory_management_and_reads_back():
    exchanges = ok(":ACQuire:MMANagement FMDepth") + ok(":ACQuire:MDEPth 100k") + [(":ACQuire:MDEPth?", "100k")]
    with scope(exchanges) as s:
        assert s.set_record_length(100_000) == 100_000


def test_set_record_length_not_taken_raises_with_asked_and_kept():
    exchanges = ok(":ACQuire:MMANagement FMDepth") + ok(":ACQuire:MDEPth 12.5M") + [(":ACQuire:MDEPth?", "10M")]
    with scope(exchanges) as s:
        with pytest.raises(InstrumentError, match="12500000 points but the instrument kept 10M"):
            s.set_record_length(12_500_000)


# -- trigger and acquisition ----------------------------------------------------------------------------
def test_set_trigger_edge():
    exchanges = ok(":TRIGger:TYPE EDGE", ":TRIGger:EDGE:SOURce C2", ":TRIGger:EDGE:SLOPe FALLing",
                   ":TRIGger:EDGE:LEVel 0.3")
    with scope(exchanges) as s:
        s.set_trigger_edge(2, 0.3, "falling")


def test_set_acquisition_average_reads_count_back():
    with scope(ok(":ACQuire:TYPE AVERage,16") + [(":ACQuire:TYPE?", "AVERage,16")]) as s:
        s.set_acquisition("average", 16)


def test_set_acquisition_average_count_not_taken_raises():
    with scope(ok(":ACQuire:TYPE AVERage,3") + [(":ACQuire:TYPE?", "AVERage,4")]) as s:
        with pytest.raises(InstrumentError, match="AVERage,4"):
            s.set_acquisition("average", 3)


def test_set_acquisition_normal():
    with scope(ok(":ACQuire:TYPE NORMal")) as s:
        s.set_acquisition("normal")


def test_set_acquisition_high_resolution_is_not_offered():
    with scope([]) as s:
        with pytest.raises(InstrumentError, match="not available"):
            s.set_acquisition("highres")


# -- single and run -------------------------------------------------------------------------------------
def with_clock(s: SiglentSDS, interval_s: float) -> None:
    fake = FakeClock()
    s._clock, s._sleep, s.poll_interval_s = fake.clock, fake.sleep, interval_s


def test_single_polls_until_stop_after_arming():
    exchanges = ([(":TRIGger:MODE?", "AUTO")] + ok(":TRIGger:MODE SINGle")
                 + [(":TRIGger:STATus?", "Stop"), (":TRIGger:STATus?", "Arm"), (":TRIGger:STATus?", "Stop")])
    with scope(exchanges) as s:
        with_clock(s, 0.25)
        s.single()


def test_single_timeout_raises_instrument_timeout():
    exchanges = [(":TRIGger:MODE?", "NORMal")] + ok(":TRIGger:MODE SINGle") + [(":TRIGger:STATus?", "Ready")] * 3
    with scope(exchanges) as s:
        with_clock(s, 1.0)
        with pytest.raises(InstrumentTimeout) as err:
            s.single(timeout_s=2)
    assert LABEL in str(err.value) and "2 s" in str(err.value) and "Ready" in str(err.value)


def test_run_after_single_puts_the_trigger_mode_back():
    exchanges = ([(":TRIGger:MODE?", "NORMal")] + ok(":TRIGger:MODE SINGle")
                 + [(":TRIGger:STATus?", "Trig'd"), (":TRIGger:STATus?", "Stop")]
                 + [(":TRIGger:MODE?", "SINGle")] + ok(":TRIGger:MODE NORMal") + ok(":TRIGger:RUN"))
    with scope(exchanges) as s:
        with_clock(s, 0.25)
        s.single()
        s.run()


# -- read_waveform --------------------------------------------------------------------------------------
SETUP_C2 = ok(":WAVeform:SOURce C2", ":WAVeform:INTerval 1", ":WAVeform:STARt 0")


def test_read_waveform_bytes_scaled_from_wavedesc():
    codes = np.array([0, 25, -25, 127, -128], dtype=np.int8)
    desc = wavedesc(points=5, vdiv=0.05, offset=-0.02, codes_per_div=25.0, adc_bits=8, interval=1e-9, delay=2e-7,
                    tdiv_index=11, probe=10.0)  # index 11 = 1 us/div
    exchanges = ([(":WAVeform:WIDTh?", "BYTE")] + SETUP_C2 + [(":WAVeform:PREamble?", desc)]
                 + ok(":WAVeform:WIDTh BYTE") + [(":WAVeform:MAXPoint?", "5000000")]
                 + ok(":WAVeform:STARt 0", ":WAVeform:POINt 5") + [(":WAVeform:DATA?", ieee_block(codes, digits=9))])
    with scope(exchanges) as s:
        wf = s.read_waveform(2)
    # vdiv 0.05 * 10 = 0.5 V, offset -0.02 * 10 = -0.2 V: code / 25 * 0.5 + 0.2
    np.testing.assert_allclose(wf.volts, [0.2, 0.7, -0.3, 2.74, -2.36], rtol=1e-6)
    # -1 us * 10 / 2 + i * 1 ns + 200 ns
    np.testing.assert_allclose(wf.time_s, [-4.8e-6 + i * 1e-9 for i in range(5)], rtol=1e-6)
    assert wf.clipped and (wf.code_min, wf.code_max) == (-128, 127)


def test_read_waveform_twelve_bit_uses_little_endian_words():
    codes = np.array([400, -400, 2047, 0], dtype="<i2")
    desc = wavedesc(points=4, vdiv=0.1, offset=0.0, codes_per_div=400.0, adc_bits=12, interval=2e-9, delay=0.0,
                    tdiv_index=8, probe=1.0)  # index 8 = 100 ns/div
    exchanges = ([(":WAVeform:WIDTh?", "BYTE")] + SETUP_C2 + [(":WAVeform:PREamble?", desc)]
                 + ok(":WAVeform:WIDTh WORD") + [(":WAVeform:MAXPoint?", "2500000")]
                 + ok(":WAVeform:STARt 0", ":WAVeform:POINt 4")
                 + [(":WAVeform:DATA?", ieee_block(codes.tobytes(), digits=9))]
                 + ok(":WAVeform:WIDTh BYTE"))  # width put back
    with scope(exchanges) as s:
        wf = s.read_waveform(2)
    # code / 400 * 0.1 V
    np.testing.assert_allclose(wf.volts, [0.1, -0.1, 0.51175, 0.0], rtol=1e-6)
    assert wf.time_s[0] == pytest.approx(-5e-7)
    assert wf.clipped and (wf.code_min, wf.code_max) == (-2048, 2047)


def test_read_waveform_reads_maxpoint_sized_pieces():
    codes = np.arange(-5, 5, dtype=np.int8)
    desc = wavedesc(points=10, vdiv=1.0, offset=0.0, codes_per_div=25.0, adc_bits=8, interval=1e-9, delay=0.0,
                    tdiv_index=2, probe=1.0)
    exchanges = ([(":WAVeform:WIDTh?", "BYTE")] + SETUP_C2 + [(":WAVeform:PREamble?", desc)]
                 + ok(":WAVeform:WIDTh BYTE") + [(":WAVeform:MAXPoint?", "4")]
                 + ok(":WAVeform:STARt 0", ":WAVeform:POINt 4") + [(":WAVeform:DATA?", ieee_block(codes[:4], digits=9))]
                 + ok(":WAVeform:STARt 4", ":WAVeform:POINt 4")
                 + [(":WAVeform:DATA?", ieee_block(codes[4:8], digits=9))]
                 + ok(":WAVeform:STARt 8", ":WAVeform:POINt 2")
                 + [(":WAVeform:DATA?", ieee_block(codes[8:], digits=9))])
    with scope(exchanges) as s:
        wf = s.read_waveform(2)
    assert np.array_equal(wf.codes, codes) and not wf.clipped


def test_read_waveform_timeout_mid_transfer():
    desc = wavedesc(points=10, vdiv=1.0, offset=0.0, codes_per_div=25.0, adc_bits=8, interval=1e-9, delay=0.0,
                    tdiv_index=2, probe=1.0)
    timeout = VisaIOError(constants.StatusCode.error_timeout)
    exchanges = ([(":WAVeform:WIDTh?", "WORD")] + SETUP_C2 + [(":WAVeform:PREamble?", desc)]
                 + ok(":WAVeform:WIDTh BYTE") + [(":WAVeform:MAXPoint?", "100")]
                 + ok(":WAVeform:STARt 0", ":WAVeform:POINt 10") + [(":WAVeform:DATA?", timeout)])
    res = RaisingPlayback(exchanges)
    with pytest.raises(InstrumentTimeout) as err:
        SiglentSDS(res, label=LABEL).read_waveform(2)
    assert LABEL in str(err.value) and ":WAVeform:DATA?" in str(err.value)
    assert res.done  # width not restored over a timed-out link
