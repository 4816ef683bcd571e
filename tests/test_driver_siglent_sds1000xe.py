"""Protocol tests for the Siglent SDS1000X-E driver (legacy command set, CMR?/EXR? error registers).

Expected volts and times are worked by hand from the SDS1000X-E programming guide: volts = code * VDIV / 25
- OFST, time = TRDL - TDIV * 14 / 2 + i / SARA. The waveform reply carries its ASCII prefix and two line feeds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pyvisa import constants
from pyvisa.errors import VisaIOError

from instruments.errors import InstrumentError, InstrumentTimeout
from instruments.siglent_sds1000xe import SiglentSDS1000XE, parse_number, strip_header
from protocol import PlaybackResource, expected_protocol, ieee_block

LABEL = "scope SDS1104X-E at TCPIP0::10.0.0.42::5025::SOCKET"
NO_ERROR = [("CMR?", "CMR 0"), ("EXR?", "EXR 0")]


def ok(*commands: str) -> list[tuple[str, Any]]:
    """Commands written as one checked step: each write, then both error registers read."""
    return [(c, None) for c in commands] + NO_ERROR


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
    return expected_protocol(SiglentSDS1000XE, exchanges, label=LABEL)


def test_reply_parsing_with_and_without_headers_and_units():
    assert strip_header("C1:CPL D1M") == "D1M" and strip_header("D1M") == "D1M"
    assert parse_number("C1:VDIV 5.00E-01V") == 0.5 and parse_number("5.00E-01V") == 0.5
    assert parse_number("SARA 1.00GSa/s") == 1e9 and parse_number("MSIZ 1.4M") == 1.4e6
    assert parse_number("TDIV 2.00E-08S") == 2e-8 and parse_number("SANU 1.40E+06pts") == 1.4e6


# -- set_channel ----------------------------------------------------------------------------------------
def test_set_channel_trace():
    with scope(ok("C2:TRA ON")) as s:
        s.set_channel(2, enabled=True)


def test_set_channel_probe_is_read_back():
    with scope(ok("C1:ATTN 10") + [("C1:ATTN?", "C1:ATTN 10")]) as s:
        s.set_channel(1, probe=10)


def test_set_channel_scale_is_read_back():
    with scope(ok("C1:VDIV 0.5") + [("C1:VDIV?", "C1:VDIV 5.00E-01V")]) as s:
        s.set_channel(1, scale_v_per_div=0.5)


def test_set_channel_scale_kept_silently_raises():
    with scope(ok("C1:VDIV 0.3") + [("C1:VDIV?", "C1:VDIV 2.00E-01V")]) as s:
        with pytest.raises(InstrumentError, match="set to 0.3 but the instrument reads back 0.2"):
            s.set_channel(1, scale_v_per_div=0.3)


def test_set_channel_offset_is_sent_negated():
    with scope(ok("C3:OFST -0.75")) as s:
        s.set_channel(3, offset_v=0.75)


def test_set_channel_coupling_and_impedance_together():
    with scope(ok("C1:CPL A50")) as s:
        s.set_channel(1, coupling="AC", impedance_ohm=50)


def test_set_channel_coupling_alone_keeps_the_impedance():
    with scope([("C4:CPL?", "C4:CPL D50")] + ok("C4:CPL A50")) as s:
        s.set_channel(4, coupling="AC")


def test_set_channel_impedance_alone_keeps_the_coupling():
    with scope([("C2:CPL?", "A50")] + ok("C2:CPL A1M")) as s:
        s.set_channel(2, impedance_ohm=1e6)


def test_set_channel_bandwidth_limit():
    with scope(ok("BWL C2,ON")) as s:
        s.set_channel(2, bandwidth_limit=True)


def test_command_error_register_raises_with_label_command_and_text():
    exchanges = [("C1:TRA ON", None), ("CMR?", "CMR 1")] + NO_ERROR
    with scope(exchanges) as s:
        with pytest.raises(InstrumentError) as err:
            s.set_channel(1, enabled=True)
    text = str(err.value)
    assert LABEL in text and "C1:TRA ON" in text and "Unrecognized command/query header" in text


def test_execution_error_register_raises():
    exchanges = [("C1:OFST -500", None), ("CMR?", "CMR 0"), ("EXR?", "EXR 25")] + NO_ERROR
    with scope(exchanges) as s:
        with pytest.raises(InstrumentError, match="execution error \\(EXR\\?\\) 25"):
            s.set_channel(1, offset_v=500)


def test_channel_state():
    exchanges = [("C3:TRA?", "C3:TRA ON"), ("C3:VDIV?", "C3:VDIV 1.00E-01V"), ("C3:OFST?", "C3:OFST 2.00E-01V"),
                 ("C3:CPL?", "C3:CPL A1M"), ("C3:ATTN?", "C3:ATTN 1"), ("BWL?", "BWL C1,OFF,C2,OFF,C3,ON,C4,OFF")]
    with scope(exchanges) as s:
        st = s.channel_state(3)
    assert (st.enabled, st.scale_v_per_div, st.offset_v, st.coupling, st.impedance_ohm, st.probe,
            st.bandwidth_limit) == (True, 0.1, -0.2, "AC", 1e6, 1.0, True)


# -- horizontal -----------------------------------------------------------------------------------------
def test_set_timebase_reads_scale_back():
    with scope(ok("TDIV 0.0001") + [("TDIV?", "TDIV 1.00E-04S")] + ok("TRDL -2e-05")) as s:
        s.set_timebase(1e-4, -2e-5)


def test_timebase():
    with scope([("TDIV?", "TDIV 1.00E-04S"), ("TRDL?", "TRDL -2.00E-05S")]) as s:
        assert s.timebase() == (1e-4, -2e-5)


def test_set_record_length():
    with scope(ok("MSIZ 1.4M") + [("MSIZ?", "MSIZ 1.4M")]) as s:
        assert s.set_record_length(1_400_000) == 1_400_000


def test_set_record_length_not_taken_raises():
    with scope(ok("MSIZ 14M") + [("MSIZ?", "MSIZ 7M")]) as s:
        with pytest.raises(InstrumentError, match="14000000 points but the instrument kept 7M"):
            s.set_record_length(14_000_000)


def test_set_record_length_outside_the_list_raises_before_any_io():
    with scope([]) as s:
        with pytest.raises(InstrumentError, match="must be one of"):
            s.set_record_length(100_000)


# -- trigger and acquisition ----------------------------------------------------------------------------
def test_set_trigger_edge():
    with scope(ok("TRSE EDGE,SR,C1,HT,OFF", "C1:TRSL NEG", "C1:TRLV 0.05")) as s:
        s.set_trigger_edge(1, 0.05, "falling")


def test_set_acquisition_average_reads_count_back():
    with scope(ok("ACQW AVERAGE,16") + [("ACQW?", "ACQW AVERAGE,16")]) as s:
        s.set_acquisition("average", 16)


def test_set_acquisition_high_resolution():
    with scope(ok("ACQW HIGH_RES")) as s:
        s.set_acquisition("highres")


# -- single and run -------------------------------------------------------------------------------------
ARMING = [("TRMD?", "TRMD AUTO")] + ok("STOP") + [("INR?", "INR 8193")] + ok("TRMD SINGLE", "ARM")


def test_single_waits_for_the_new_acquisition_bit():
    exchanges = ARMING + [("INR?", "INR 8192"), ("INR?", "INR 1")]
    with scope(exchanges) as s:
        fake = FakeClock()
        s._clock, s._sleep = fake.clock, fake.sleep
        s.single()


def test_single_timeout_raises_instrument_timeout():
    exchanges = ARMING + [("INR?", "INR 0")] * 3
    with scope(exchanges) as s:
        fake = FakeClock()
        s._clock, s._sleep, s.poll_interval_s = fake.clock, fake.sleep, 1.0
        with pytest.raises(InstrumentTimeout) as err:
            s.single(timeout_s=2)
    assert LABEL in str(err.value) and "2 s" in str(err.value)


def test_run_after_single_puts_the_trigger_mode_back():
    exchanges = ARMING + [("INR?", "INR 1"), ("TRMD?", "TRMD STOP")] + ok("TRMD AUTO")
    with scope(exchanges) as s:
        s.single()
        s.run()


# -- read_waveform --------------------------------------------------------------------------------------
SCALING_C2 = [("C2:VDIV?", "C2:VDIV 2.00E-01V"), ("C2:OFST?", "C2:OFST -5.00E-01V"), ("TDIV?", "TDIV 1.00E-06S"),
              ("TRDL?", "TRDL 1.00E-06S"), ("SARA?", "SARA 500MSa/s")]


def waveform_reply(codes: np.ndarray) -> bytes:
    return b"C2:WF DAT2," + ieee_block(codes, digits=9, terminator=b"\n\n")


def test_read_waveform_block_with_prefix_and_two_line_feeds():
    codes = np.array([0, 25, -50, 127, -128, 10], dtype=np.int8)
    exchanges = ([("WFSU?", "WFSU SP,0,NP,0,FP,0")] + ok("WFSU SP,0,NP,0,FP,0") + SCALING_C2
                 + [("C2:WF? DAT2", waveform_reply(codes))])
    with scope(exchanges) as s:
        wf = s.read_waveform(2)
    # code * 0.2 / 25 + 0.5 V
    np.testing.assert_allclose(wf.volts, [0.5, 0.7, 0.1, 1.516, -0.524, 0.58])
    # 1 us - 1 us * 14 / 2 + i * 2 ns
    np.testing.assert_allclose(wf.time_s, [-6e-6 + i * 2e-9 for i in range(6)])
    assert wf.clipped


def test_read_waveform_restores_waveform_setup():
    codes = np.array([1, -1], dtype=np.int8)
    exchanges = ([("WFSU?", "WFSU SP,4,NP,1000,FP,0")] + ok("WFSU SP,0,NP,0,FP,0") + SCALING_C2
                 + [("C2:WF? DAT2", waveform_reply(codes))] + ok("WFSU SP,4,NP,1000,FP,0"))
    with scope(exchanges) as s:
        assert not s.read_waveform(2).clipped


def test_read_waveform_without_the_second_line_feed_raises():
    codes = np.array([1, -1], dtype=np.int8)
    reply = b"C2:WF DAT2," + ieee_block(codes, digits=9, terminator=b"\nX")
    exchanges = [("WFSU?", "SP,0,NP,0,FP,0")] + ok("WFSU SP,0,NP,0,FP,0") + SCALING_C2 + [("C2:WF? DAT2", reply)]
    with scope(exchanges) as s:
        with pytest.raises(InstrumentError, match="two line feeds"):
            s.read_waveform(2)


def test_read_waveform_timeout_mid_transfer():
    timeout = VisaIOError(constants.StatusCode.error_timeout)
    exchanges = ([("WFSU?", "WFSU SP,4,NP,0,FP,0")] + ok("WFSU SP,0,NP,0,FP,0") + SCALING_C2
                 + [("C2:WF? DAT2", timeout)])
    res = RaisingPlayback(exchanges)
    with pytest.raises(InstrumentTimeout) as err:
        SiglentSDS1000XE(res, label=LABEL).read_waveform(2)
    assert LABEL in str(err.value) and "C2:WF? DAT2" in str(err.value)
    assert res.done  # WFSU not restored over a timed-out link
