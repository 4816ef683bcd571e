"""Protocol tests for the Tektronix AFG31000 (AFG3000/AFG1000) driver: exact SCPI of every operation
(reference/scpi.md §3.4), the error-queue path and transport failures."""

from __future__ import annotations

import math

import pytest
from pyvisa import constants
from pyvisa.errors import VisaIOError

from instruments.errors import InstrumentConnectionError, InstrumentError, InstrumentTimeout
from instruments.generator import ChannelState, GeneratorLimits
from instruments.tektronix_afg31000 import TektronixAFG31000
from protocol import PlaybackResource, expected_protocol

LABEL = "generator TEKTRONIX AFG31022 at TCPIP0::10.0.0.11::5025::SOCKET"
OK = ("SYST:ERR?", '0,"No error"')


def gen(exchanges):
    return expected_protocol(TektronixAFG31000, exchanges, label=LABEL)


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
              ("SOUR1:VOLT?", "1.0000E-1"),
              ("SOUR1:VOLT:OFFS 1", None), OK,
              ("SOUR1:VOLT 3", None), OK,
              ("SOUR1:PHAS 0DEG", None), OK]) as g:
        g.set_sine(1, 1000.0, 3.0, 1.0)


def test_set_sine_shrinking_amplitude_and_phase_180():
    with gen([("SOUR2:FUNC SIN", None), OK,
              ("SOUR2:VOLT:UNIT VPP", None), OK,
              ("SOUR2:FREQ 250000", None), OK,
              ("SOUR2:VOLT?", "5.0000E+0"),
              ("SOUR2:VOLT 0.5", None), OK,
              ("SOUR2:VOLT:OFFS 0", None), OK,
              ("SOUR2:PHAS 180DEG", None), OK]) as g:
        g.set_sine(2, 250e3, 0.5, 0.0, 180.0)


def test_set_dc():
    with gen([("SOUR2:FUNC DC", None), OK, ("SOUR2:VOLT:OFFS -2", None), OK]) as g:
        g.set_dc(2, -2.0)


def test_set_frequency():
    with gen([("SOUR1:FREQ 0.5", None), OK]) as g:
        g.set_frequency(1, 0.5)


def test_set_amplitude_sets_vpp_unit_first():
    with gen([("SOUR2:VOLT:UNIT VPP", None), OK, ("SOUR2:VOLT 1.5", None), OK]) as g:
        g.set_amplitude(2, 1.5)


def test_set_offset():
    with gen([("SOUR1:VOLT:OFFS 0.125", None), OK]) as g:
        g.set_offset(1, 0.125)


@pytest.mark.parametrize("asked, sent", [(270.0, "-90DEG"), (-45.0, "-45DEG"), (180.0, "180DEG"), (90.0, "90DEG")])
def test_set_phase_always_in_degrees_within_plus_minus_180(asked, sent):
    with gen([(f"SOUR1:PHAS {sent}", None), OK]) as g:
        g.set_phase(1, asked)


def test_set_phase_afg1000_sends_0_to_360():
    with gen([("SOUR2:PHAS 270DEG", None), OK]) as g:
        g.configure_model("AFG1062")
        g.set_phase(2, -90.0)


def test_set_load_50_ohm():
    with gen([("OUTP1:IMP 50", None), OK]) as g:
        g.set_load(1, 50.0)


def test_set_load_high_z():
    with gen([("OUTP2:IMP INF", None), OK]) as g:
        g.set_load(2, math.inf)


@pytest.mark.parametrize("on, word", [(True, "ON"), (False, "OFF")])
def test_set_output(on, word):
    with gen([(f"OUTP2 {word}", None), OK]) as g:
        g.set_output(2, on)


def test_channel_state_converts_the_radian_phase_reply():
    with gen([("SOUR1:VOLT:UNIT VPP", None), OK,
              ("SOUR1:FUNC?", "SIN"),
              ("SOUR1:FREQ?", "1.0000000000E+3"),
              ("SOUR1:VOLT?", "2.0000E+0"),
              ("SOUR1:VOLT:OFFS?", "0.0000E+0"),
              ("SOUR1:PHAS?", "3.1416"),
              ("OUTP1:IMP?", "9.9E+37"),
              ("OUTP1?", "1")]) as g:
        state = g.channel_state(1)
    assert state == ChannelState("sine", 1000.0, 2.0, 0.0, pytest.approx(180.0, abs=1e-3), math.inf, True)


def test_channel_state_reads_a_load_with_a_unit_sign():
    with gen([("SOUR2:VOLT:UNIT VPP", None), OK,
              ("SOUR2:FUNC?", "DC"),
              ("SOUR2:FREQ?", "1.0E+3"),
              ("SOUR2:VOLT?", "1.0E+0"),
              ("SOUR2:VOLT:OFFS?", "1.5E+0"),
              ("SOUR2:PHAS?", "0"),
              ("OUTP2:IMP?", "50\u03a9"),
              ("OUTP2?", "0")]) as g:
        state = g.channel_state(2)
    assert state.function == "dc" and state.load_ohm == 50.0 and state.output is False


def test_limits_queries_min_max():
    with gen([("SOUR1:FUNC?", "SIN"),
              ("SOUR1:VOLT:UNIT VPP", None), OK,
              ("SOUR1:VOLT? MIN", "1.0E-3"),
              ("SOUR1:VOLT? MAX", "1.0E+1"),
              ("SOUR1:VOLT:OFFS? MAX", "4.5E+0"),
              ("SOUR1:FREQ? MAX", "2.5E+7")]) as g:
        assert g.limits(1) == GeneratorLimits(1e-3, 10.0, 4.5, 25e6)


def test_limits_refuse_a_channel_that_is_not_a_sine():
    with gen([("SOUR1:FUNC?", "SQU")]) as g, pytest.raises(InstrumentError, match="SQU"):
        g.limits(1)


# -- across channels --------------------------------------------------------------------------------------
def test_sync_phase():
    with gen([("SOUR1:PHAS:INIT", None), OK]) as g:
        g.sync_phase()


@pytest.mark.parametrize("on, word", [(True, "ON"), (False, "OFF")])
def test_set_frequency_lock(on, word):
    with gen([(f"SOUR1:FREQ:CONC {word}", None), OK]) as g:
        g.set_frequency_lock(on)


def test_no_channel_tracking():
    with gen([]) as g, pytest.raises(NotImplementedError, match="no channel tracking"):
        g.set_tracking("inverted")
    assert TektronixAFG31000.differential_methods == ("phase-180",)


def test_outputs_off():
    with gen([("OUTP1 OFF", None), OK, ("OUTP2 OFF", None), OK]) as g:
        g.outputs_off()


def test_outputs_off_tries_channel_2_when_channel_1_fails():
    with gen([("OUTP1 OFF", None), ("SYST:ERR?", '-200,"Execution error"'), OK, ("OUTP2 OFF", None), OK]) as g:
        with pytest.raises(InstrumentError, match="Execution error"):
            g.outputs_off()


@pytest.mark.parametrize("model, channels", [("AFG31021", (1,)), ("AFG3011C", (1,)), ("AFG31022", (1, 2)),
                                             ("AFG3022C", (1, 2)), ("AFG1062", (1, 2))])
def test_channel_count_by_model(model, channels):
    with gen([]) as g:
        g.configure_model(model)
        assert g.channels == channels


# -- errors -----------------------------------------------------------------------------------------------
def test_error_queue_reply_raises_with_label_command_and_text():
    with gen([("SOUR1:FREQ 1000000000", None), ("SYST:ERR?", '-222,"Data out of range"'), OK]) as g:
        with pytest.raises(InstrumentError) as info:
            g.set_frequency(1, 1e9)
    text = str(info.value)
    assert LABEL in text and "SOUR1:FREQ 1000000000" in text and "Data out of range" in text


def test_timeout_mid_exchange_names_the_instrument():
    res = FailingPlayback([("SOUR1:FUNC SIN", None), OK, ("SOUR1:VOLT:UNIT VPP", None), OK,
                           ("SOUR1:FREQ 1000", None), OK,
                           ("SOUR1:VOLT?", VisaIOError(constants.StatusCode.error_timeout))])
    g = TektronixAFG31000(res, label=LABEL)
    with pytest.raises(InstrumentTimeout) as info:
        g.set_sine(1, 1000.0, 1.0, 0.0)
    assert LABEL in str(info.value) and "SOUR1:VOLT?" in str(info.value) and res.done


def test_dropped_connection_names_the_instrument():
    res = FailingPlayback([("SOUR1:PHAS:INIT", None),
                           ("SYST:ERR?", VisaIOError(constants.StatusCode.error_connection_lost))])
    g = TektronixAFG31000(res, label=LABEL)
    with pytest.raises(InstrumentConnectionError) as info:
        g.sync_phase()
    assert LABEL in str(info.value) and res.done
