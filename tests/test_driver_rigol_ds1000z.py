"""Protocol tests for the Rigol DS1000Z driver: exact SCPI exchanges, one behaviour per test.

Expected volts and times are worked by hand from the programming-guide conversion (reference/scpi.md §4.2):
volts = (code - yorigin - yreference) * yincrement, time = (i - xreference) * xincrement + xorigin.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np
import pytest
from pyvisa import constants
from pyvisa.errors import VisaIOError

from instruments.errors import InstrumentConnectionError, InstrumentError, InstrumentTimeout
from instruments.rigol_ds1000z import RigolDS1000Z
from protocol import PlaybackResource, expected_protocol, ieee_block

LABEL = "scope DS1054Z at TCPIP0::10.0.0.31::5555::SOCKET"
NO_ERROR = ("SYSTem:ERRor?", '0,"No error"')


def ok(*commands: str) -> list[tuple[str, Any]]:
    """Commands written as one checked step: each write, then the error-queue drain."""
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
    return expected_protocol(RigolDS1000Z, exchanges, label=LABEL)


@contextmanager
def polling_scope(exchanges: list[tuple[str, Any]], interval_s: float) -> Iterator[RigolDS1000Z]:
    with scope(exchanges) as s:
        fake = FakeClock()
        s._clock, s._sleep, s.poll_interval_s = fake.clock, fake.sleep, interval_s
        yield s


# -- set_channel ----------------------------------------------------------------------------------------
def test_set_channel_display():
    with scope(ok(":CHANnel2:DISPlay ON")) as s:
        s.set_channel(2, enabled=True)


def test_set_channel_probe_is_read_back():
    with scope(ok(":CHANnel1:PROBe 10") + [(":CHANnel1:PROBe?", "10")]) as s:
        s.set_channel(1, probe=10)


def test_set_channel_scale_is_read_back():
    with scope(ok(":CHANnel1:SCALe 0.2") + [(":CHANnel1:SCALe?", "2.000000e-01")]) as s:
        s.set_channel(1, scale_v_per_div=0.2)


def test_set_channel_scale_kept_silently_raises_with_asked_and_kept():
    with scope(ok(":CHANnel3:SCALe 0.3") + [(":CHANnel3:SCALe?", "2.000000e-01")]) as s:
        with pytest.raises(InstrumentError) as err:
            s.set_channel(3, scale_v_per_div=0.3)
    text = str(err.value)
    assert LABEL in text and "set to 0.3" in text and "reads back 0.2" in text and ":CHANnel3:SCALe 0.3" in text


def test_set_channel_offset_is_sent_negated_and_read_back():
    exchanges = (ok(":CHANnel1:OFFSet -2.5")
                 + [(":CHANnel1:SCALe?", "1.000000e+00"), (":CHANnel1:OFFSet?", "-2.500000e+00")])
    with scope(exchanges) as s:
        s.set_channel(1, offset_v=2.5)  # 2.5 V at screen centre


def test_set_channel_offset_clamped_silently_raises_with_asked_and_kept():
    exchanges = (ok(":CHANnel2:SCALe 0.1") + [(":CHANnel2:SCALe?", "1.000000e-01")]
                 + ok(":CHANnel2:OFFSet -5") + [(":CHANnel2:OFFSet?", "-2.000000e+00")])
    with scope(exchanges) as s:
        with pytest.raises(InstrumentError) as err:
            s.set_channel(2, scale_v_per_div=0.1, offset_v=5.0)
    text = str(err.value)
    assert LABEL in text and "offset set to 5 V" in text and "kept 2 V" in text and ":CHANnel2:OFFSet -5" in text


def test_set_channel_coupling():
    with scope(ok(":CHANnel4:COUPling AC")) as s:
        s.set_channel(4, coupling="AC")


def test_set_channel_bandwidth_limit_uses_20m_token():
    with scope(ok(":CHANnel2:BWLimit 20M")) as s:
        s.set_channel(2, bandwidth_limit=True)


def test_set_channel_one_megohm_needs_no_command():
    with scope([]) as s:
        s.set_channel(1, impedance_ohm=1e6)


def test_set_channel_fifty_ohm_raises_before_any_io():
    with scope([]) as s:
        with pytest.raises(InstrumentError, match="1 MOhm only"):
            s.set_channel(1, enabled=True, impedance_ohm=50)


def test_error_queue_reply_raises_with_label_command_and_text():
    exchanges = [(":CHANnel1:COUPling AC", None), ("SYSTem:ERRor?", '-113,"Undefined header"'), NO_ERROR]
    with scope(exchanges) as s:
        with pytest.raises(InstrumentError) as err:
            s.set_channel(1, coupling="AC")
    text = str(err.value)
    assert LABEL in text and ":CHANnel1:COUPling AC" in text and "Undefined header" in text


def test_channel_state_negates_offset_and_reports_one_megohm():
    exchanges = [(":CHANnel2:DISPlay?", "1"), (":CHANnel2:SCALe?", "5.000000e-01"),
                 (":CHANnel2:OFFSet?", "-1.500000e+00"), (":CHANnel2:COUPling?", "DC"), (":CHANnel2:PROBe?", "10"),
                 (":CHANnel2:BWLimit?", "20M")]
    with scope(exchanges) as s:
        st = s.channel_state(2)
    assert (st.enabled, st.scale_v_per_div, st.offset_v, st.coupling) == (True, 0.5, 1.5, "DC")
    assert (st.impedance_ohm, st.probe, st.bandwidth_limit) == (1e6, 10.0, True)


# -- horizontal -----------------------------------------------------------------------------------------
def test_set_timebase_reads_scale_back():
    exchanges = (ok(":TIMebase:MAIN:SCALe 0.0005") + [(":TIMebase:MAIN:SCALe?", "5.000000e-04")]
                 + ok(":TIMebase:MAIN:OFFSet 0.0001"))
    with scope(exchanges) as s:
        s.set_timebase(500e-6, 100e-6)


def test_timebase():
    with scope([(":TIMebase:MAIN:SCALe?", "1.000000e-03"), (":TIMebase:MAIN:OFFSet?", "-2.000000e-04")]) as s:
        assert s.timebase() == (1e-3, -2e-4)


def test_set_record_length_returns_depth_read_back():
    with scope(ok(":ACQuire:MDEPth 300000") + [(":ACQuire:MDEPth?", "300000")]) as s:
        assert s.set_record_length(300_000) == 300_000


def test_set_record_length_silently_rejected_raises_with_asked_and_kept():
    with scope(ok(":ACQuire:MDEPth 24000000") + [(":ACQuire:MDEPth?", "3000000")]) as s:
        with pytest.raises(InstrumentError) as err:
            s.set_record_length(24_000_000)
    text = str(err.value)
    assert LABEL in text and "24000000" in text and "kept 3000000" in text


def test_set_record_length_left_on_auto_raises():
    with scope(ok(":ACQuire:MDEPth 12000") + [(":ACQuire:MDEPth?", "AUTO")]) as s:
        with pytest.raises(InstrumentError, match="kept AUTO"):
            s.set_record_length(12_000)


# -- trigger and acquisition ----------------------------------------------------------------------------
def test_set_trigger_edge():
    exchanges = ok(":TRIGger:MODE EDGE", ":TRIGger:EDGE:SOURce CHANnel1", ":TRIGger:EDGE:SLOPe POSitive",
                   ":TRIGger:EDGE:LEVel 0.25")
    with scope(exchanges) as s:
        s.set_trigger_edge(1, 0.25)


def test_set_acquisition_average_reads_count_back():
    exchanges = ok(":ACQuire:TYPE AVERages") + ok(":ACQuire:AVERages 64") + [(":ACQuire:AVERages?", "64")]
    with scope(exchanges) as s:
        s.set_acquisition("average", 64)


def test_set_acquisition_average_count_kept_silently_raises():
    exchanges = ok(":ACQuire:TYPE AVERages") + ok(":ACQuire:AVERages 512") + [(":ACQuire:AVERages?", "256")]
    with scope(exchanges) as s:
        with pytest.raises(InstrumentError, match="reads back 256"):
            s.set_acquisition("average", 512)


def test_set_acquisition_high_resolution():
    with scope(ok(":ACQuire:TYPE HRESolution")) as s:
        s.set_acquisition("highres")


def test_set_acquisition_rejects_count_that_is_not_a_power_of_two():
    with scope([]) as s:
        with pytest.raises(InstrumentError, match="power of two"):
            s.set_acquisition("average", 48)


# -- single and run -------------------------------------------------------------------------------------
def test_single_waits_for_stop_after_the_scope_armed():
    exchanges = ([(":TRIGger:SWEep?", "AUTO")] + ok(":SINGle")
                 + [(":TRIGger:STATus?", "STOP"), (":TRIGger:STATus?", "WAIT"), (":TRIGger:STATus?", "TD"),
                    (":TRIGger:STATus?", "STOP")])
    with polling_scope(exchanges, interval_s=0.25) as s:
        s.single(timeout_s=10)


def test_single_takes_stop_as_done_when_never_seen_armed_within_the_arm_window():
    exchanges = [(":TRIGger:SWEep?", "AUTO")] + ok(":SINGle") + [(":TRIGger:STATus?", "STOP")] * 5
    with polling_scope(exchanges, interval_s=0.25) as s:  # polls at 0, 0.25, 0.5, 0.75, 1.0 s
        s.single(timeout_s=10)


def test_single_timeout_raises_instrument_timeout_naming_the_scope():
    exchanges = [(":TRIGger:SWEep?", "NORM")] + ok(":SINGle") + [(":TRIGger:STATus?", "WAIT")] * 4
    with polling_scope(exchanges, interval_s=1.0) as s:  # polls at 0, 1, 2, 3 s
        with pytest.raises(InstrumentTimeout) as err:
            s.single(timeout_s=2.5)
    assert LABEL in str(err.value) and "2.5 s" in str(err.value) and "WAIT" in str(err.value)


def test_run_after_single_puts_the_previous_sweep_back():
    exchanges = ([(":TRIGger:SWEep?", "NORM")] + ok(":SINGle") + [(":TRIGger:STATus?", "WAIT"),
                                                                  (":TRIGger:STATus?", "STOP")]
                 + [(":TRIGger:SWEep?", "SING")] + ok(":TRIGger:SWEep NORM") + ok(":RUN"))
    with polling_scope(exchanges, interval_s=0.25) as s:
        s.single()
        s.run()


def test_run_leaves_a_non_single_sweep_alone():
    with scope([(":TRIGger:SWEep?", "AUTO")] + ok(":RUN")) as s:
        s.run()


# -- read_waveform --------------------------------------------------------------------------------------
SAVED_AS_USED = [(":WAVeform:MODE?", "RAW"), (":WAVeform:FORMat?", "BYTE")]
SETUP_CH3 = ok(":WAVeform:SOURce CHANnel3", ":WAVeform:MODE RAW", ":WAVeform:FORMat BYTE")


def test_read_waveform_converts_with_yorigin_and_yreference():
    codes = np.array([132, 0, 255, 127, 157, 107], dtype=np.uint8)
    # format, type, points, count, xinc, xorigin, xref, yinc, yorigin, yref
    preamble = "0,2,6,1,1.000000e-06,-3.000000e-06,1,4.000000e-02,5,127"
    exchanges = (SAVED_AS_USED + SETUP_CH3 + [(":WAVeform:PREamble?", preamble)]
                 + ok(":WAVeform:STARt 1", ":WAVeform:STOP 6") + [(":WAVeform:DATA?", ieee_block(codes, digits=9))])
    with scope(exchanges) as s:
        wf = s.read_waveform(3)
    # (code - 5 - 127) * 40 mV
    np.testing.assert_allclose(wf.volts, [0.0, -5.28, 4.92, -0.2, 1.0, -1.0], atol=1e-12)
    # (i - 1) * 1 us - 3 us
    np.testing.assert_allclose(wf.time_s, [-4e-6, -3e-6, -2e-6, -1e-6, 0.0, 1e-6], atol=1e-15)
    assert wf.clipped  # codes 0 and 255 are the ADC's limits


def test_read_waveform_reads_a_deep_record_in_250k_point_windows():
    rng = np.random.default_rng(7)
    codes = rng.integers(1, 255, size=300_000, dtype=np.uint8)
    preamble = "0,2,300000,1,1.000000e-09,-1.500000e-04,0,4.000000e-03,0,127"
    exchanges = (SAVED_AS_USED + SETUP_CH3 + [(":WAVeform:PREamble?", preamble)]
                 + ok(":WAVeform:STARt 1", ":WAVeform:STOP 250000")
                 + [(":WAVeform:DATA?", ieee_block(codes[:250_000], digits=9))]
                 + ok(":WAVeform:STARt 250001", ":WAVeform:STOP 300000")
                 + [(":WAVeform:DATA?", ieee_block(codes[250_000:], digits=9))])
    with scope(exchanges) as s:
        wf = s.read_waveform(3)
    assert np.array_equal(wf.codes, codes)
    assert not wf.clipped
    assert wf.time_s[-1] == pytest.approx(-1.5e-4 + 299_999e-9)


def test_read_waveform_restores_mode_and_format():
    codes = np.array([120, 130], dtype=np.uint8)
    exchanges = ([(":WAVeform:MODE?", "NORM"), (":WAVeform:FORMat?", "ASC")] + SETUP_CH3
                 + [(":WAVeform:PREamble?", "0,2,2,1,1e-06,0,0,0.04,0,127")]
                 + ok(":WAVeform:STARt 1", ":WAVeform:STOP 2") + [(":WAVeform:DATA?", ieee_block(codes, digits=9))]
                 + ok(":WAVeform:MODE NORM", ":WAVeform:FORMat ASC"))
    with scope(exchanges) as s:
        s.read_waveform(3)


def test_read_waveform_restores_settings_after_an_instrument_error():
    exchanges = ([(":WAVeform:MODE?", "NORM"), (":WAVeform:FORMat?", "BYTE")]
                 + [(":WAVeform:SOURce CHANnel3", None), (":WAVeform:MODE RAW", None), (":WAVeform:FORMat BYTE", None),
                    ("SYSTem:ERRor?", '-221,"Settings conflict"'), NO_ERROR]
                 + ok(":WAVeform:MODE NORM"))
    with scope(exchanges) as s:
        with pytest.raises(InstrumentError, match="Settings conflict"):
            s.read_waveform(3)


def test_read_waveform_timeout_mid_transfer_raises_and_skips_restore():
    timeout = VisaIOError(constants.StatusCode.error_timeout)
    exchanges = ([(":WAVeform:MODE?", "NORM"), (":WAVeform:FORMat?", "ASC")] + SETUP_CH3
                 + [(":WAVeform:PREamble?", "0,2,2,1,1e-06,0,0,0.04,0,127")]
                 + ok(":WAVeform:STARt 1", ":WAVeform:STOP 2") + [(":WAVeform:DATA?", timeout)])
    res = RaisingPlayback(exchanges)
    s = RigolDS1000Z(res, label=LABEL)
    with pytest.raises(InstrumentTimeout) as err:
        s.read_waveform(3)
    assert LABEL in str(err.value) and ":WAVeform:DATA?" in str(err.value)
    assert res.done


def test_read_waveform_connection_lost_mid_transfer():
    lost = VisaIOError(constants.StatusCode.error_connection_lost)
    exchanges = (SAVED_AS_USED + SETUP_CH3 + [(":WAVeform:PREamble?", "0,2,2,1,1e-06,0,0,0.04,0,127")]
                 + ok(":WAVeform:STARt 1", ":WAVeform:STOP 2") + [(":WAVeform:DATA?", lost)])
    res = RaisingPlayback(exchanges)
    with pytest.raises(InstrumentConnectionError, match=LABEL):
        RigolDS1000Z(res, label=LABEL).read_waveform(3)
    assert res.done
