"""Protocol tests for the Keysight/Agilent 33500B/33600A driver: the exact SCPI of every operation
(reference/scpi.md §3.1), the error-queue path and the transport failures."""

from __future__ import annotations

import math

import pytest
from pyvisa import constants
from pyvisa.errors import VisaIOError

from instruments.errors import InstrumentConnectionError, InstrumentError, InstrumentTimeout
from instruments.generator import ChannelState, GeneratorLimits
from instruments.keysight_33500 import Keysight33500
from protocol import PlaybackResource, expected_protocol

LABEL = "generator Keysight 33522B at TCPIP0::10.0.0.5::5025::SOCKET"
OK = ("SYST:ERR?", '+0,"No error"')


def gen(exchanges):
    return expected_protocol(Keysight33500, exchanges, label=LABEL)


class FailingPlayback(PlaybackResource):
    """Playback in which a reply may be an exception, raised when the driver reads it."""

    def read(self, *args, **kwargs):
        if isinstance(self._pending, BaseException):
            exc, self._pending = self._pending, None
            raise exc
        return super().read(*args, **kwargs)


# -- per-channel settings ---------------------------------------------------------------------------------
def test_set_sine_growing_amplitude_sets_offset_first():
    with gen([("SOUR1:FUNC SIN", None), OK,
              ("SOUR1:VOLT:UNIT VPP", None), OK,
              ("SOUR1:FREQ 1000", None), OK,
              ("SOUR1:VOLT?", "+1.000000000000000E-01"),
              ("SOUR1:VOLT:OFFS 2.5", None), OK,
              ("SOUR1:VOLT 4", None), OK,
              ("UNIT:ANGL DEG", None), OK,
              ("SOUR1:PHAS 0", None), OK]) as g:
        g.set_sine(1, 1000.0, 4.0, 2.5)


def test_set_sine_shrinking_amplitude_sets_amplitude_first():
    with gen([("SOUR2:FUNC SIN", None), OK,
              ("SOUR2:VOLT:UNIT VPP", None), OK,
              ("SOUR2:FREQ 12345.678", None), OK,
              ("SOUR2:VOLT?", "+8.000000000000000E+00"),
              ("SOUR2:VOLT 0.2", None), OK,
              ("SOUR2:VOLT:OFFS -4", None), OK,
              ("UNIT:ANGL DEG", None), OK,
              ("SOUR2:PHAS 180", None), OK]) as g:
        g.set_sine(2, 12345.678, 0.2, -4.0, 180.0)


def test_set_dc():
    with gen([("SOUR1:FUNC DC", None), OK, ("SOUR1:VOLT:OFFS 1.25", None), OK]) as g:
        g.set_dc(1, 1.25)


def test_set_frequency():
    with gen([("SOUR2:FREQ 1000000", None), OK]) as g:
        g.set_frequency(2, 1e6)


def test_set_amplitude_sets_vpp_unit_first():
    with gen([("SOUR1:VOLT:UNIT VPP", None), OK, ("SOUR1:VOLT 0.001", None), OK]) as g:
        g.set_amplitude(1, 1e-3)


def test_set_offset():
    with gen([("SOUR2:VOLT:OFFS -0.5", None), OK]) as g:
        g.set_offset(2, -0.5)


def test_set_phase_wraps_into_0_360_and_sets_degrees():
    with gen([("UNIT:ANGL DEG", None), OK, ("SOUR2:PHAS 270", None), OK]) as g:
        g.set_phase(2, -90.0)


def test_set_load_50_ohm():
    with gen([("OUTP1:LOAD 50", None), OK]) as g:
        g.set_load(1, 50.0)


def test_set_load_high_z():
    with gen([("OUTP2:LOAD INF", None), OK]) as g:
        g.set_load(2, math.inf)


def test_set_load_rejects_non_positive_without_io():
    with gen([]) as g, pytest.raises(ValueError, match="load must be > 0"):
        g.set_load(1, 0.0)


@pytest.mark.parametrize("on, word", [(True, "ON"), (False, "OFF")])
def test_set_output(on, word):
    with gen([(f"OUTP1 {word}", None), OK]) as g:
        g.set_output(1, on)


def test_channel_state():
    with gen([("SOUR1:VOLT:UNIT VPP", None), OK,
              ("UNIT:ANGL DEG", None), OK,
              ("SOUR1:FUNC?", "SIN"),
              ("SOUR1:FREQ?", "+1.000000000000000E+03"),
              ("SOUR1:VOLT?", "+2.000000000000000E+00"),
              ("SOUR1:VOLT:OFFS?", "+5.000000000000000E-01"),
              ("SOUR1:PHAS?", "+1.800000000000000E+02"),
              ("OUTP1:LOAD?", "+5.000000000000000E+01"),
              ("OUTP1?", "1")]) as g:
        assert g.channel_state(1) == ChannelState("sine", 1000.0, 2.0, 0.5, 180.0, 50.0, True)


def test_channel_state_high_z_and_dc():
    with gen([("SOUR2:VOLT:UNIT VPP", None), OK,
              ("UNIT:ANGL DEG", None), OK,
              ("SOUR2:FUNC?", "DC"),
              ("SOUR2:FREQ?", "+1.000000000000000E+03"),
              ("SOUR2:VOLT?", "+1.000000000000000E-01"),
              ("SOUR2:VOLT:OFFS?", "-1.000000000000000E+00"),
              ("SOUR2:PHAS?", "+0.000000000000000E+00"),
              ("OUTP2:LOAD?", "+9.900000000000000E+37"),
              ("OUTP2?", "0")]) as g:
        state = g.channel_state(2)
    assert state.function == "dc" and state.offset_v == -1.0
    assert math.isinf(state.load_ohm) and state.output is False


def test_limits_queries_min_max():
    with gen([("SOUR1:FUNC?", "SIN"),
              ("SOUR1:VOLT:UNIT VPP", None), OK,
              ("SOUR1:VOLT? MIN", "+2.000000000000000E-03"),
              ("SOUR1:VOLT? MAX", "+2.000000000000000E+01"),
              ("SOUR1:VOLT:OFFS? MAX", "+9.500000000000000E+00"),
              ("SOUR1:FREQ? MAX", "+3.000000000000000E+07")]) as g:
        assert g.limits(1) == GeneratorLimits(2e-3, 20.0, 9.5, 30e6)


def test_limits_refuse_a_channel_that_is_not_a_sine():
    with gen([("SOUR2:FUNC?", "DC")]) as g, pytest.raises(InstrumentError, match="call set_sine first"):
        g.limits(2)


# -- across channels --------------------------------------------------------------------------------------
def test_sync_phase():
    with gen([("PHAS:SYNC", None), OK]) as g:
        g.sync_phase()


@pytest.mark.parametrize("mode, word", [("inverted", "INV"), ("on", "ON"), ("off", "OFF")])
def test_set_tracking(mode, word):
    with gen([(f"SOUR1:TRAC {word}", None), OK]) as g:
        g.set_tracking(mode)


def test_set_tracking_conflict_is_reported():
    with gen([("SOUR1:TRAC INV", None), ("SYST:ERR?", '-221,"Settings conflict"'), OK]) as g:
        with pytest.raises(InstrumentError, match="Settings conflict"):
            g.set_tracking("inverted")


def test_differential_methods():
    assert Keysight33500.differential_methods == ("tracking-inverted", "phase-180")


def test_outputs_off():
    with gen([("OUTP1 OFF", None), OK, ("OUTP2 OFF", None), OK]) as g:
        g.outputs_off()


def test_outputs_off_tries_channel_2_when_channel_1_fails():
    with gen([("OUTP1 OFF", None), ("SYST:ERR?", '-350,"Queue overflow"'), OK,
              ("OUTP2 OFF", None), OK]) as g:
        with pytest.raises(InstrumentError, match="OUTP1 OFF"):
            g.outputs_off()


def test_single_channel_model_has_one_output():
    with gen([("OUTP1 OFF", None), OK]) as g:
        g.configure_model("33521B")
        assert g.channels == (1,)
        g.outputs_off()
        with pytest.raises(ValueError, match="no channel 2"):
            g.set_output(2, True)


# -- errors -----------------------------------------------------------------------------------------------
def test_error_queue_reply_raises_with_label_command_and_text():
    with gen([("SOUR1:VOLT:UNIT VPP", None), OK,
              ("SOUR1:VOLT 25", None), ("SYST:ERR?", '-222,"Data out of range;value clipped to upper limit"'),
              OK]) as g:
        with pytest.raises(InstrumentError) as info:
            g.set_amplitude(1, 25.0)
    text = str(info.value)
    assert LABEL in text and "SOUR1:VOLT 25" in text and "Data out of range" in text and "-222" in text


def test_error_queue_is_drained_to_the_end():
    with gen([("SOUR1:FREQ 1000000000", None),
              ("SYST:ERR?", '-222,"Data out of range"'),
              ("SYST:ERR?", '-221,"Settings conflict"'),
              OK]) as g:
        with pytest.raises(InstrumentError, match="Settings conflict"):
            g.set_frequency(1, 1e9)


def test_timeout_mid_exchange_names_the_instrument():
    res = FailingPlayback([("SOUR1:VOLT:UNIT VPP", None), OK,
                           ("SOUR1:VOLT 1", None),
                           ("SYST:ERR?", VisaIOError(constants.StatusCode.error_timeout))])
    g = Keysight33500(res, label=LABEL)
    with pytest.raises(InstrumentTimeout) as info:
        g.set_amplitude(1, 1.0)
    assert LABEL in str(info.value) and "SYST:ERR?" in str(info.value) and res.done


def test_dropped_connection_names_the_instrument():
    res = FailingPlayback([("SOUR1:FUNC?", VisaIOError(constants.StatusCode.error_connection_lost))])
    g = Keysight33500(res, label=LABEL)
    with pytest.raises(InstrumentConnectionError, match="connection lost") as info:
        g.limits(1)
    assert LABEL in str(info.value) and res.done


def test_unparseable_number_is_an_instrument_error():
    with gen([("SOUR1:FUNC?", "SIN"), ("SOUR1:VOLT:UNIT VPP", None), OK, ("SOUR1:VOLT? MIN", "garbage")]) as g:
        with pytest.raises(InstrumentError, match="expected a number"):
            g.limits(1)
