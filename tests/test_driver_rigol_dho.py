"""Protocol tests for the Rigol DHO800/900 driver: what it shares with the DS1000Z (table-driven) and what
differs (16-bit WORD transfers, record length from :ACQuire:MDEPth?, acquisition types, average range).

Expected volts are worked by hand from the guide's conversion (code - yorigin - yreference) * yincrement.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from pyvisa import constants
from pyvisa.errors import VisaIOError

from instruments.errors import InstrumentError, InstrumentTimeout
from instruments.rigol_dho import RigolDHO
from protocol import PlaybackResource, expected_protocol, ieee_block

LABEL = "scope DHO804 at TCPIP0::10.0.0.32::5555::SOCKET"
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
    return expected_protocol(RigolDHO, exchanges, label=LABEL)


# -- behaviour shared with the DS1000Z ------------------------------------------------------------------
SHARED: list[tuple[str, Callable[[RigolDHO], Any], list[tuple[str, Any]]]] = [
    ("display", lambda s: s.set_channel(2, enabled=False), ok(":CHANnel2:DISPlay OFF")),
    ("probe", lambda s: s.set_channel(1, probe=10), ok(":CHANnel1:PROBe 10") + [(":CHANnel1:PROBe?", "10")]),
    ("scale", lambda s: s.set_channel(1, scale_v_per_div=0.1),
     ok(":CHANnel1:SCALe 0.1") + [(":CHANnel1:SCALe?", "1.000000E-01")]),
    ("offset", lambda s: s.set_channel(3, offset_v=-0.5),
     ok(":CHANnel3:OFFSet 0.5") + [(":CHANnel3:SCALe?", "1.000000E-01"), (":CHANnel3:OFFSet?", "5.000000E-01")]),
    ("coupling", lambda s: s.set_channel(4, coupling="DC"), ok(":CHANnel4:COUPling DC")),
    ("bandwidth limit", lambda s: s.set_channel(1, bandwidth_limit=True), ok(":CHANnel1:BWLimit 20M")),
    ("impedance 1 MOhm", lambda s: s.set_channel(1, impedance_ohm=1e6), []),
    ("timebase", lambda s: s.set_timebase(2e-4, 0.0),
     ok(":TIMebase:MAIN:SCALe 0.0002") + [(":TIMebase:MAIN:SCALe?", "2.000000E-04")] + ok(":TIMebase:MAIN:OFFSet 0")),
    ("timebase read", lambda s: s.timebase(),
     [(":TIMebase:MAIN:SCALe?", "2.000000E-04"), (":TIMebase:MAIN:OFFSet?", "0.000000E+00")]),
    ("trigger", lambda s: s.set_trigger_edge(2, -0.1, "falling"),
     ok(":TRIGger:MODE EDGE", ":TRIGger:EDGE:SOURce CHANnel2", ":TRIGger:EDGE:SLOPe NEGative",
        ":TRIGger:EDGE:LEVel -0.1")),
    ("peak", lambda s: s.set_acquisition("peak"), ok(":ACQuire:TYPE PEAK")),
    ("run", lambda s: s.run(), [(":TRIGger:SWEep?", "AUTO")] + ok(":RUN")),
]


@pytest.mark.parametrize("action, exchanges", [(a, e) for _, a, e in SHARED], ids=[n for n, _, _ in SHARED])
def test_shared_command(action, exchanges):
    with scope(exchanges) as s:
        action(s)


def test_channel_state():
    exchanges = [(":CHANnel1:DISPlay?", "0"), (":CHANnel1:SCALe?", "1.000000E-01"),
                 (":CHANnel1:OFFSet?", "2.000000E-01"),
                 (":CHANnel1:COUPling?", "AC"), (":CHANnel1:PROBe?", "1"), (":CHANnel1:BWLimit?", "OFF")]
    with scope(exchanges) as s:
        st = s.channel_state(1)
    assert (st.enabled, st.scale_v_per_div, st.offset_v, st.coupling, st.impedance_ohm, st.probe,
            st.bandwidth_limit) == (False, 0.1, -0.2, "AC", 1e6, 1.0, False)


def test_error_queue_reply_raises_with_label_command_and_text():
    exchanges = [(":CHANnel1:OFFSet -150", None), ("SYSTem:ERRor?", '-222,"Data out of range"'), NO_ERROR]
    with scope(exchanges) as s:
        with pytest.raises(InstrumentError) as err:
            s.set_channel(1, offset_v=150)
    text = str(err.value)
    assert LABEL in text and ":CHANnel1:OFFSet -150" in text and "Data out of range" in text


# -- what differs ---------------------------------------------------------------------------------------
def test_set_record_length_reads_scientific_depth_back():
    with scope(ok(":ACQuire:MDEPth 1000000") + [(":ACQuire:MDEPth?", "1.000E+6")]) as s:
        assert s.set_record_length(1_000_000) == 1_000_000


def test_set_record_length_silently_rejected_raises():
    with scope(ok(":ACQuire:MDEPth 50000000") + [(":ACQuire:MDEPth?", "1.000E+7")]) as s:
        with pytest.raises(InstrumentError, match="kept 1.000E\\+7"):
            s.set_record_length(50_000_000)


def test_set_acquisition_average_allows_65536_and_reads_back():
    exchanges = ok(":ACQuire:TYPE AVERages") + ok(":ACQuire:AVERages 65536") + [(":ACQuire:AVERages?", "65536")]
    with scope(exchanges) as s:
        s.set_acquisition("average", 65536)


def test_set_acquisition_has_no_high_resolution_mode():
    with scope([]) as s:
        with pytest.raises(InstrumentError, match="not available"):
            s.set_acquisition("highres")


def test_single_polls_trigger_status_and_times_out():
    exchanges = [(":TRIGger:SWEep?", "AUTO")] + ok(":SINGle") + [(":TRIGger:STATus?", "WAIT")] * 3
    with scope(exchanges) as s:
        fake = FakeClock()
        s._clock, s._sleep, s.poll_interval_s = fake.clock, fake.sleep, 1.0
        with pytest.raises(InstrumentTimeout, match="within 1.5 s"):
            s.single(timeout_s=1.5)


def test_single_completes():
    exchanges = ([(":TRIGger:SWEep?", "AUTO")] + ok(":SINGle")
                 + [(":TRIGger:STATus?", "TD"), (":TRIGger:STATus?", "STOP")])
    with scope(exchanges) as s:
        fake = FakeClock()
        s._clock, s._sleep = fake.clock, fake.sleep
        s.single()


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
    timeout = VisaIOError(constants.StatusCode.error_timeout)
    exchanges = ([(":WAVeform:MODE?", "NORM"), (":WAVeform:FORMat?", "BYTE")] + SETUP_WORD
                 + [(":WAVeform:PREamble?", "1,2,1000,1,1e-08,0,0,2e-05,0,32768"), (":ACQuire:MDEPth?", "1.000E+3")]
                 + ok(":WAVeform:STARt 1", ":WAVeform:STOP 1000") + [(":WAVeform:DATA?", timeout)])
    res = RaisingPlayback(exchanges)
    with pytest.raises(InstrumentTimeout) as err:
        RigolDHO(res, label=LABEL).read_waveform(1)
    assert LABEL in str(err.value) and ":WAVeform:DATA?" in str(err.value)
    assert res.done  # nothing restored over a timed-out link
