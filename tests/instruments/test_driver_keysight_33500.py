"""Protocol tests for the Keysight/Agilent 33500B/33600A driver: the exact SCPI of what only this family does
(docs/reference/scpi.md §3.1): units forced before reading back, channel tracking, single-output models, the
error-queue drain and reply parsing. What every generator family does alike (with this family's bytes) is in
``test_driver_generators.py``."""

from __future__ import annotations

import math

import pytest

from instruments.errors import InstrumentError
from instruments.keysight_33500 import Keysight33500
from protocol import Family

FAMILY = Family(Keysight33500, "generator Keysight 33522B at TCPIP0::10.0.0.5::5025::SOCKET",
                ("SYST:ERR?", '+0,"No error"'))
OK = FAMILY.drain[0]
gen = FAMILY.protocol


def test_channel_state_high_z_and_dc():
    # both units, then one SYST:ERR? for the two; the seven rows as one compound query, each rooted with ':'
    with gen([("SOUR2:VOLT:UNIT VPP", None), ("UNIT:ANGL DEG", None), OK,
              ("SOUR2:FUNC?;:SOUR2:FREQ?;:SOUR2:VOLT?;:SOUR2:VOLT:OFFS?;:SOUR2:PHAS?;:OUTP2:LOAD?;:OUTP2?",
               "DC;+1.000000000000000E+03;+1.000000000000000E-01;-1.000000000000000E+00;"
               "+0.000000000000000E+00;+9.900000000000000E+37;0")]) as g:
        state = g.channel_state(2)
    assert state.function == "dc" and state.offset_v == -1.0
    assert math.isinf(state.load_ohm) and state.output is False


def test_channel_state_units_error_names_the_unit_command():
    # one SYST:ERR? for the two units; on an error each is sent again with its own read, and the culprit named
    undefined = ("SYST:ERR?", '-113,"Undefined header"')
    with gen([("SOUR1:VOLT:UNIT VPP", None), ("UNIT:ANGL DEG", None), undefined, OK,
              ("SOUR1:VOLT:UNIT VPP", None), OK,
              ("UNIT:ANGL DEG", None), undefined, OK]) as g:
        with pytest.raises(InstrumentError, match="Undefined header.*after 'UNIT:ANGL DEG'"):
            g.channel_state(1)


# -- across channels --------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode, word", [("inverted", "INV"), ("on", "ON"), ("off", "OFF")])
def test_set_tracking(mode, word):
    with gen([(f"SOUR1:TRAC {word}", None), OK]) as g:
        g.set_tracking(mode)


def test_set_tracking_conflict_is_reported():
    with gen([("SOUR1:TRAC INV", None), ("SYST:ERR?", '-221,"Settings conflict"'), OK]) as g:
        with pytest.raises(InstrumentError, match="Settings conflict"):
            g.set_tracking("inverted")


def test_single_channel_model_has_one_output():
    with gen([("OUTP1 OFF", None), OK]) as g:
        g.configure_model("33521B")
        assert g.channels == (1,)
        g.outputs_off()
        with pytest.raises(ValueError, match="no channel 2"):
            g.set_output(2, True)


# -- errors -----------------------------------------------------------------------------------------------
def test_error_queue_is_drained_to_the_end():
    with gen([("SOUR1:FREQ 1000000000", None),
              ("SYST:ERR?", '-222,"Data out of range"'),
              ("SYST:ERR?", '-221,"Settings conflict"'),
              OK]) as g:
        with pytest.raises(InstrumentError, match="Settings conflict"):
            g.set_frequency(1, 1e9)


def test_unparseable_number_is_an_instrument_error():
    with gen([("SOUR1:FUNC?", "SIN"), ("SOUR1:VOLT:UNIT VPP", None), OK, ("SOUR1:VOLT? MIN", "garbage")]) as g:
        with pytest.raises(InstrumentError, match="expected a number"):
            g.limits(1)


# -- tracking read-back -----------------------------------------------------------------------------------
@pytest.mark.parametrize("reply, mode", [("INV", "inverted"), ("ON", "on"), ("OFF", "off")])
def test_tracking_reads_back(reply, mode):
    with gen([("SOUR1:TRAC?", reply)]) as g:
        assert g.tracking() == mode


def test_tracking_unexpected_reply_raises():
    with gen([("SOUR1:TRAC?", "MAYBE")]) as g:
        with pytest.raises(InstrumentError, match="expected ON, OFF or INV, got 'MAYBE'"):
            g.tracking()


def test_tracking_of_a_single_channel_model_is_off_without_io():
    with gen([]) as g:
        g.configure_model("33511B")
        assert g.tracking() == "off"
