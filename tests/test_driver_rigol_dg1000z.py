"""Protocol tests for the Rigol DG1000Z/DG800/DG900 driver: exact SCPI of every operation
(reference/scpi.md §3.2), the error-queue path, the silent-clamp read-back and transport failures."""

from __future__ import annotations

import math

import pytest
from pyvisa import constants
from pyvisa.errors import VisaIOError

from instruments.errors import InstrumentConnectionError, InstrumentError, InstrumentTimeout
from instruments.generator import ChannelState, GeneratorLimits
from instruments.rigol_dg1000z import RigolDG1000Z
from protocol import PlaybackResource, expected_protocol

LABEL = "generator RIGOL DG1062Z at TCPIP0::10.0.0.7::5555::SOCKET"
OK = (":SYST:ERR?", '0,"No error"')


def gen(exchanges):
    return expected_protocol(RigolDG1000Z, exchanges, label=LABEL)


class FailingPlayback(PlaybackResource):
    """Playback in which a reply may be an exception, raised when the driver reads it."""

    def read(self, *args, **kwargs):
        if isinstance(self._pending, BaseException):
            exc, self._pending = self._pending, None
            raise exc
        return super().read(*args, **kwargs)


# -- per-channel settings ---------------------------------------------------------------------------------
def test_set_sine_growing_amplitude_sets_offset_first_and_reads_everything_back():
    with gen([(":SOUR1:FUNC SIN", None), OK,
              (":SOUR1:VOLT:UNIT VPP", None), OK,
              (":SOUR1:FREQ 1000", None), OK, (":SOUR1:FREQ?", "1.000000E+03"),
              (":SOUR1:VOLT?", "5.000000E-01"),
              (":SOUR1:VOLT:OFFS 1", None), OK, (":SOUR1:VOLT:OFFS?", "1.000000E+00"),
              (":SOUR1:VOLT 2", None), OK, (":SOUR1:VOLT?", "2.000000E+00"),
              (":SOUR1:PHAS 0", None), OK, (":SOUR1:PHAS?", "0.000000E+00")]) as g:
        g.set_sine(1, 1000.0, 2.0, 1.0)


def test_set_sine_shrinking_amplitude_sets_amplitude_first():
    with gen([(":SOUR2:FUNC SIN", None), OK,
              (":SOUR2:VOLT:UNIT VPP", None), OK,
              (":SOUR2:FREQ 20000", None), OK, (":SOUR2:FREQ?", "2.000000E+04"),
              (":SOUR2:VOLT?", "5.000000E+00"),
              (":SOUR2:VOLT 0.1", None), OK, (":SOUR2:VOLT?", "1.000000E-01"),
              (":SOUR2:VOLT:OFFS -2", None), OK, (":SOUR2:VOLT:OFFS?", "-2.000000E+00"),
              (":SOUR2:PHAS 180", None), OK, (":SOUR2:PHAS?", "1.800000E+02")]) as g:
        g.set_sine(2, 20e3, 0.1, -2.0, 180.0)


def test_set_dc():
    with gen([(":SOUR1:FUNC DC", None), OK,
              (":SOUR1:VOLT:OFFS 2.5", None), OK, (":SOUR1:VOLT:OFFS?", "2.500000E+00")]) as g:
        g.set_dc(1, 2.5)


def test_set_frequency_accepts_seven_digit_rounding():
    with gen([(":SOUR1:FREQ 1234.5678", None), OK, (":SOUR1:FREQ?", "1.234568E+03")]) as g:
        g.set_frequency(1, 1234.5678)


def test_set_amplitude_sets_vpp_unit_first():
    with gen([(":SOUR2:VOLT:UNIT VPP", None), OK,
              (":SOUR2:VOLT 0.25", None), OK, (":SOUR2:VOLT?", "2.500000E-01")]) as g:
        g.set_amplitude(2, 0.25)


def test_set_offset():
    with gen([(":SOUR1:VOLT:OFFS -0.75", None), OK, (":SOUR1:VOLT:OFFS?", "-7.500000E-01")]) as g:
        g.set_offset(1, -0.75)


def test_set_phase_wraps_into_0_360():
    with gen([(":SOUR2:PHAS 270", None), OK, (":SOUR2:PHAS?", "2.700000E+02")]) as g:
        g.set_phase(2, -90.0)


def test_set_phase_accepts_360_read_back_as_0():
    with gen([(":SOUR1:PHAS 0", None), OK, (":SOUR1:PHAS?", "3.600000E+02")]) as g:
        g.set_phase(1, 360.0)


def test_set_load_50_ohm():
    with gen([(":OUTP1:IMP 50", None), OK, (":OUTP1:IMP?", "5.000000E+01")]) as g:
        g.set_load(1, 50.0)


def test_set_load_high_z():
    with gen([(":OUTP2:IMP INF", None), OK, (":OUTP2:IMP?", "9.900000E+37")]) as g:
        g.set_load(2, math.inf)


def test_set_load_clamped_is_reported():
    with gen([(":OUTP1:IMP 20000", None), OK, (":OUTP1:IMP?", "1.000000E+04")]) as g:
        with pytest.raises(InstrumentError, match=r"asked 20000, the instrument kept 10000"):
            g.set_load(1, 20e3)


@pytest.mark.parametrize("on, word", [(True, "ON"), (False, "OFF")])
def test_set_output_reads_the_state_back(on, word):
    with gen([(f":OUTP1 {word}", None), OK, (":OUTP1?", word)]) as g:
        g.set_output(1, on)


def test_set_output_that_did_not_switch_is_reported():
    with gen([(":OUTP2 ON", None), OK, (":OUTP2?", "OFF")]) as g:
        with pytest.raises(InstrumentError, match="asked ON, the instrument reads back OFF"):
            g.set_output(2, True)


def test_channel_state():
    with gen([(":SOUR1:VOLT:UNIT VPP", None), OK,
              (":SOUR1:FUNC?", "SIN"),
              (":SOUR1:FREQ?", "1.000000E+03"),
              (":SOUR1:VOLT?", "2.000000E+00"),
              (":SOUR1:VOLT:OFFS?", "0.000000E+00"),
              (":SOUR1:PHAS?", "9.000000E+01"),
              (":OUTP1:IMP?", "9.900000E+37"),
              (":OUTP1?", "ON")]) as g:
        assert g.channel_state(1) == ChannelState("sine", 1000.0, 2.0, 0.0, 90.0, math.inf, True)


def test_limits_queries_min_max():
    with gen([(":SOUR2:FUNC?", "SIN"),
              (":SOUR2:VOLT:UNIT VPP", None), OK,
              (":SOUR2:VOLT? MIN", "2.000000E-03"),
              (":SOUR2:VOLT? MAX", "2.000000E+01"),
              (":SOUR2:VOLT:OFFS? MAX", "9.000000E+00"),
              (":SOUR2:FREQ? MAX", "6.000000E+07")]) as g:
        assert g.limits(2) == GeneratorLimits(2e-3, 20.0, 9.0, 60e6)


def test_limits_refuse_a_channel_that_is_not_a_sine():
    with gen([(":SOUR1:FUNC?", "DC")]) as g, pytest.raises(InstrumentError, match="call set_sine first"):
        g.limits(1)


# -- silent clamping ----------------------------------------------------------------------------------------
def test_silently_clamped_amplitude_raises_with_asked_and_kept():
    with gen([(":SOUR1:VOLT:UNIT VPP", None), OK,
              (":SOUR1:VOLT 30", None), OK, (":SOUR1:VOLT?", "2.000000E+01")]) as g:
        with pytest.raises(InstrumentError) as info:
            g.set_amplitude(1, 30.0)
    text = str(info.value)
    assert LABEL in text and ":SOUR1:VOLT 30" in text and "asked 30" in text and "kept 20" in text


def test_silently_clamped_frequency_raises():
    with gen([(":SOUR1:FREQ 100000000", None), OK, (":SOUR1:FREQ?", "6.000000E+07")]) as g:
        with pytest.raises(InstrumentError, match=r"frequency \(Hz\): asked 1e\+08, the instrument kept 6e\+07"):
            g.set_frequency(1, 100e6)


def test_silently_clamped_phase_raises():
    with gen([(":SOUR1:PHAS 45", None), OK, (":SOUR1:PHAS?", "0.000000E+00")]) as g:
        with pytest.raises(InstrumentError, match="phase"):
            g.set_phase(1, 45.0)


# -- across channels --------------------------------------------------------------------------------------
def test_sync_phase_dg1000z_uses_initiate():
    with gen([(":SOUR1:PHAS:INIT", None), OK]) as g:
        g.configure_model("DG1062Z")
        g.sync_phase()


def test_sync_phase_dg900_uses_synchronize():
    with gen([(":SOUR1:PHAS:SYNC", None), OK]) as g:
        g.configure_model("DG952")
        g.sync_phase()


@pytest.mark.parametrize("mode, word, reply", [("inverted", "INV", "INVERTED"), ("inverted", "INV", "INV"),
                                               ("on", "ON", "ON"), ("off", "OFF", "OFF")])
def test_set_tracking_reads_back(mode, word, reply):
    with gen([(f":SOUR1:TRACK {word}", None), OK, (":SOUR1:TRACK?", reply)]) as g:
        g.set_tracking(mode)


def test_set_tracking_not_kept_is_reported():
    with gen([(":SOUR1:TRACK INV", None), OK, (":SOUR1:TRACK?", "OFF")]) as g:
        with pytest.raises(InstrumentError, match="tracking: asked INV, the instrument kept OFF"):
            g.set_tracking("inverted")


def test_outputs_off():
    with gen([(":OUTP1 OFF", None), OK, (":OUTP1?", "OFF"),
              (":OUTP2 OFF", None), OK, (":OUTP2?", "OFF")]) as g:
        g.outputs_off()


def test_outputs_off_tries_channel_2_when_channel_1_fails():
    with gen([(":OUTP1 OFF", None), (":SYST:ERR?", '-113,"Undefined header"'), OK,
              (":OUTP2 OFF", None), OK, (":OUTP2?", "OFF")]) as g:
        with pytest.raises(InstrumentError, match="Undefined header"):
            g.outputs_off()


def test_single_channel_dg800_model():
    with gen([(":OUTP1 OFF", None), OK, (":OUTP1?", "OFF")]) as g:
        g.configure_model("DG811")
        assert g.channels == (1,)
        g.outputs_off()
        with pytest.raises(NotImplementedError):
            g.set_tracking("inverted")


# -- errors -----------------------------------------------------------------------------------------------
def test_error_queue_reply_raises_with_label_command_and_text():
    with gen([(":SOUR1:FUNC SIN", None),
              (":SYST:ERR?", '-113,"Undefined header; keyword cannot be found"'), OK]) as g:
        with pytest.raises(InstrumentError) as info:
            g.set_sine(1, 1e3, 1.0, 0.0)
    text = str(info.value)
    assert LABEL in text and ":SOUR1:FUNC SIN" in text and "Undefined header; keyword cannot be found" in text


def test_timeout_mid_exchange_names_the_instrument():
    res = FailingPlayback([(":SOUR1:FREQ 1000", None), OK,
                           (":SOUR1:FREQ?", VisaIOError(constants.StatusCode.error_timeout))])
    g = RigolDG1000Z(res, label=LABEL)
    with pytest.raises(InstrumentTimeout) as info:
        g.set_frequency(1, 1000.0)
    assert LABEL in str(info.value) and ":SOUR1:FREQ?" in str(info.value) and res.done


def test_dropped_connection_names_the_instrument():
    res = FailingPlayback([(":OUTP1 OFF", None),
                           (":SYST:ERR?", VisaIOError(constants.StatusCode.error_connection_lost)),
                           (":OUTP2 OFF", None), OK, (":OUTP2?", "OFF")])
    g = RigolDG1000Z(res, label=LABEL)
    with pytest.raises(InstrumentConnectionError) as info:
        g.outputs_off()
    assert LABEL in str(info.value) and res.done
