"""Protocol tests for the Tektronix MSO 4/5/6 driver (*ESR? + EVMsg? error checking, CURVe? transfers).

Expected volts and times are worked by hand from the Tektronix conversion (reference/scpi.md §4.4):
volts = (code - YOFf) * YMUlt + YZEro, time = XZEro + XINcr * (i - PT_Off).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pyvisa import constants
from pyvisa.errors import VisaIOError

from instruments.errors import InstrumentError, InstrumentTimeout
from instruments.tektronix_mso import TektronixMSO
from protocol import PlaybackResource, expected_protocol, ieee_block

LABEL = "scope MSO46B at TCPIP0::10.0.0.51::4000::SOCKET"
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
    return expected_protocol(TektronixMSO, exchanges, label=LABEL)


# -- set_channel ----------------------------------------------------------------------------------------
def test_set_channel_display():
    with scope(ok("DISplay:GLObal:CH2:STATE ON")) as s:
        s.set_channel(2, enabled=True)


def test_set_channel_probe_external_attenuation():
    with scope(ok("CH1:PROBEFunc:EXTAtten 10")) as s:
        s.set_channel(1, probe=10)


def test_set_channel_scale():
    with scope(ok("CH3:SCAle 0.02")) as s:
        s.set_channel(3, scale_v_per_div=0.02)


def test_set_channel_offset_zeroes_position_first():
    with scope(ok("CH1:POSition 0", "CH1:OFFSet 2.5")) as s:
        s.set_channel(1, offset_v=2.5)


def test_set_channel_coupling():
    with scope(ok("CH4:COUPling AC")) as s:
        s.set_channel(4, coupling="AC")


def test_set_channel_termination():
    with scope(ok("CH1:TERmination 50")) as s:
        s.set_channel(1, impedance_ohm=50)


def test_set_channel_bandwidth_limit():
    with scope(ok("CH2:BANdwidth 20E6")) as s:
        s.set_channel(2, bandwidth_limit=True)


def test_event_queue_error_raises_with_label_command_and_text():
    exchanges = [("CH1:SCAle 1000", None), ("*ESR?", "20"),
                 ("EVMsg?", '222,"Data out of range; CH1:SCALE 1000"'),
                 ("EVMsg?", '0,"No events to report; queue empty"')]
    with scope(exchanges) as s:
        with pytest.raises(InstrumentError) as err:
            s.set_channel(1, scale_v_per_div=1000)
    text = str(err.value)
    assert LABEL in text and "CH1:SCAle 1000" in text and "Data out of range" in text and "222" in text


def test_event_queue_warnings_alone_do_not_raise():
    exchanges = [("CH1:SCAle 0.001", None), ("*ESR?", "16"), ("EVMsg?", ':EVMSG 540,"Measurement warning"'),
                 ("EVMsg?", '1,"No events to report; new events pending *ESR?"')]
    with scope(exchanges) as s:
        s.set_channel(1, scale_v_per_div=0.001)


def test_channel_state_computes_centre_voltage_and_probe_ratio():
    exchanges = [("DISplay:GLObal:CH1:STATE?", "1"), ("CH1:SCAle?", "1.0000E-01"), ("CH1:OFFSet?", "1.0000"),
                 ("CH1:POSition?", "2.0000"), ("CH1:COUPling?", "DC"), ("CH1:TERmination?", "1.0000E+6"),
                 ("CH1:PROBEFunc:EXTAtten?", "1.0000"), ("CH1:PRObe:GAIN?", "100.0000E-3"),
                 ("CH1:BANdwidth?", "20.0000E+6")]
    with scope(exchanges) as s:
        st = s.channel_state(1)
    assert (st.enabled, st.scale_v_per_div, st.coupling, st.impedance_ohm, st.bandwidth_limit) == (
        True, 0.1, "DC", 1e6, True)
    assert st.offset_v == pytest.approx(0.8)  # 1 V - 2 div * 0.1 V/div
    assert st.probe == pytest.approx(10.0)    # 1 / gain 0.1


def test_channel_state_accepts_replies_with_headers():
    exchanges = [("DISplay:GLObal:CH2:STATE?", ":DISPLAY:GLOBAL:CH2:STATE 0"), ("CH2:SCAle?", ":CH2:SCALE 5.0E-1"),
                 ("CH2:OFFSet?", ":CH2:OFFSET 0.0E+0"), ("CH2:POSition?", ":CH2:POSITION 0.0E+0"),
                 ("CH2:COUPling?", ":CH2:COUPLING AC"), ("CH2:TERmination?", ":CH2:TERMINATION 50.0000"),
                 ("CH2:PROBEFunc:EXTAtten?", ":CH2:PROBEFUNC:EXTATTEN 10.0000"),
                 ("CH2:PRObe:GAIN?", ":CH2:PROBE:GAIN 1.0"),
                 ("CH2:BANdwidth?", ":CH2:BANDWIDTH 1.0000E+9")]
    with scope(exchanges) as s:
        st = s.channel_state(2)
    assert (st.enabled, st.scale_v_per_div, st.offset_v, st.coupling, st.impedance_ohm, st.probe,
            st.bandwidth_limit) == (False, 0.5, 0.0, "AC", 50.0, 10.0, False)


# -- horizontal -----------------------------------------------------------------------------------------
def test_set_timebase_uses_centre_reference_and_delay():
    exchanges = ok("HORizontal:SCAle 1e-06", "HORizontal:POSition 50", "HORizontal:DELay:MODe ON",
                   "HORizontal:DELay:TIMe 2e-06")
    with scope(exchanges) as s:
        s.set_timebase(1e-6, 2e-6)


def test_timebase_with_delay_on():
    exchanges = [("HORizontal:SCAle?", "1.0000E-6"), ("HORizontal:DELay:MODe?", "1"),
                 ("HORizontal:DELay:TIMe?", "2.0000E-6"), ("HORizontal:POSition?", "50.0000")]
    with scope(exchanges) as s:
        assert s.timebase() == pytest.approx((1e-6, 2e-6))


def test_timebase_with_delay_off_uses_trigger_position():
    exchanges = [("HORizontal:SCAle?", "1.0000E-6"), ("HORizontal:DELay:MODe?", "0"),
                 ("HORizontal:POSition?", "10.0000")]
    with scope(exchanges) as s:  # trigger at 10 % of the screen: centre is 4 div after it
        assert s.timebase() == pytest.approx((1e-6, 4e-6))


def test_set_record_length_returns_length_read_back():
    exchanges = (ok("HORizontal:MODE MANual", "HORizontal:RECOrdlength 100000")
                 + [("HORizontal:RECOrdlength?", "125000")])
    with scope(exchanges) as s:
        assert s.set_record_length(100_000) == 125_000


# -- trigger and acquisition ----------------------------------------------------------------------------
def test_set_trigger_edge():
    exchanges = ok("TRIGger:A:TYPe EDGE", "TRIGger:A:EDGE:SOUrce CH3", "TRIGger:A:EDGE:SLOpe FALL",
                   "TRIGger:A:LEVel:CH3 -0.2")
    with scope(exchanges) as s:
        s.set_trigger_edge(3, -0.2, "falling")


def test_set_acquisition_average_sets_mode_then_count():
    with scope(ok("ACQuire:MODe AVErage") + ok("ACQuire:NUMAVg 32")) as s:
        s.set_acquisition("average", 32)


def test_set_acquisition_high_resolution():
    with scope(ok("ACQuire:MODe HIRes")) as s:
        s.set_acquisition("highres")


# -- single and run -------------------------------------------------------------------------------------
ARM = ok("ACQuire:STATE STOP", "ACQuire:STOPAfter SEQuence", "ACQuire:STATE RUN")


def test_single_polls_acquisition_state_until_zero():
    with scope(ARM + [("ACQuire:STATE?", "1"), ("ACQuire:STATE?", "1"), ("ACQuire:STATE?", "0")]) as s:
        fake = FakeClock()
        s._clock, s._sleep = fake.clock, fake.sleep
        s.single()


def test_single_timeout_raises_instrument_timeout():
    with scope(ARM + [("ACQuire:STATE?", "1")] * 3) as s:
        fake = FakeClock()
        s._clock, s._sleep, s.poll_interval_s = fake.clock, fake.sleep, 1.0
        with pytest.raises(InstrumentTimeout) as err:
            s.single(timeout_s=2)
    assert LABEL in str(err.value) and "2 s" in str(err.value)


def test_run():
    with scope(ok("ACQuire:STOPAfter RUNSTop", "ACQuire:STATE RUN")) as s:
        s.run()


# -- read_waveform --------------------------------------------------------------------------------------
def preamble(points: int, *, xincr: float = 8e-10, xzero: float = -4e-6, pt_off: int = 2, ymult: float = 1.5625e-5,
             yoff: float = 100.0, yzero: float = 0.05) -> list[tuple[str, str]]:
    return [("WFMOutpre:NR_Pt?", str(points)), ("WFMOutpre:XINcr?", repr(xincr)), ("WFMOutpre:XZEro?", repr(xzero)),
            ("WFMOutpre:PT_Off?", str(pt_off)), ("WFMOutpre:YMUlt?", repr(ymult)), ("WFMOutpre:YOFf?", repr(yoff)),
            ("WFMOutpre:YZEro?", repr(yzero))]


def setup(points: int) -> list[tuple[str, Any]]:
    return (ok("DATa:SOUrce CH2", "DATa:ENCdg SRIbinary", "WFMOutpre:BYT_Nr 2")
            + [("HORizontal:RECOrdlength?", str(points))] + ok("DATa:STARt 1", f"DATa:STOP {points}"))


SAVED_AS_USED = [("DATa:ENCdg?", "SRIBINARY"), ("WFMOutpre:BYT_Nr?", "2")]


def test_read_waveform_converts_signed_lsb_first_words():
    codes = np.array([100, 6500, -6300, 32767, -32768], dtype="<i2")
    exchanges = (SAVED_AS_USED + setup(5) + preamble(5) + [("CURVe?", ieee_block(codes.tobytes())), NO_ERROR])
    with scope(exchanges) as s:
        wf = s.read_waveform(2)
    # (code - 100) * 15.625 uV + 50 mV
    np.testing.assert_allclose(wf.volts, [0.05, 0.15, -0.05, 0.560421875, -0.4635625])
    # -4 us + 0.8 ns * (i - 2)
    np.testing.assert_allclose(wf.time_s, [-4e-6 + 8e-10 * (i - 2) for i in range(5)])
    assert wf.clipped


def test_read_waveform_reads_deep_records_in_windows_and_restores_encoding():
    codes = np.arange(-5, 5, dtype="<i2") * 100
    exchanges = ([("DATa:ENCdg?", "RIBINARY"), ("WFMOutpre:BYT_Nr?", "1")] + setup(10) + preamble(10)
                 + ok("DATa:STARt 1", "DATa:STOP 4") + [("CURVe?", ieee_block(codes[:4].tobytes()))]
                 + ok("DATa:STARt 5", "DATa:STOP 8") + [("CURVe?", ieee_block(codes[4:8].tobytes()))]
                 + ok("DATa:STARt 9", "DATa:STOP 10") + [("CURVe?", ieee_block(codes[8:].tobytes()))] + [NO_ERROR]
                 + ok("DATa:ENCdg RIBINARY", "WFMOutpre:BYT_Nr 1"))
    with scope(exchanges) as s:
        s.max_points_per_read = 4
        wf = s.read_waveform(2)
    assert np.array_equal(wf.codes, codes) and not wf.clipped


def test_read_waveform_timeout_mid_transfer():
    timeout = VisaIOError(constants.StatusCode.error_timeout)
    exchanges = [("DATa:ENCdg?", "ASCII"), ("WFMOutpre:BYT_Nr?", "1")] + setup(5) + preamble(5) + [("CURVe?", timeout)]
    res = RaisingPlayback(exchanges)
    with pytest.raises(InstrumentTimeout) as err:
        TektronixMSO(res, label=LABEL).read_waveform(2)
    assert LABEL in str(err.value) and "CURVe?" in str(err.value)
    assert res.done  # encoding not restored over a timed-out link
