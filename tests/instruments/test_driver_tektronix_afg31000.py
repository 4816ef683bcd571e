"""Protocol tests for the Tektronix AFG31000 (AFG3000/AFG1000) driver: the exact SCPI of what only this family
does (docs/reference/scpi.md §3.4): the phase range and its DEG suffix, a load reply with a unit sign, frequency
lock, no tracking and the single-output models. What every generator family does alike (with this family's
bytes) is in ``test_driver_generators.py``."""

from __future__ import annotations

import pytest

from instruments.tektronix_afg31000 import TektronixAFG31000
from protocol import Family

FAMILY = Family(TektronixAFG31000, "generator TEKTRONIX AFG31022 at TCPIP0::10.0.0.11::5025::SOCKET",
                ("SYST:ERR?", '0,"No error"'))
OK = FAMILY.drain[0]
gen = FAMILY.protocol


@pytest.mark.parametrize("asked, sent", [(270.0, "-90DEG"), (-45.0, "-45DEG"), (180.0, "180DEG"), (90.0, "90DEG")])
def test_set_phase_always_in_degrees_within_plus_minus_180(asked, sent):
    with gen([(f"SOUR1:PHAS {sent}", None), OK]) as g:
        g.set_phase(1, asked)


def test_set_phase_afg1000_sends_0_to_360():
    with gen([("SOUR2:PHAS 270DEG", None), OK]) as g:
        g.configure_model("AFG1062")
        g.set_phase(2, -90.0)


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


# -- across channels --------------------------------------------------------------------------------------
@pytest.mark.parametrize("on, word", [(True, "ON"), (False, "OFF")])
def test_set_frequency_lock(on, word):
    with gen([(f"SOUR1:FREQ:CONC {word}", None), OK]) as g:
        g.set_frequency_lock(on)


def test_no_channel_tracking():
    with gen([]) as g, pytest.raises(NotImplementedError, match="no channel tracking"):
        g.set_tracking("inverted")
    assert TektronixAFG31000.differential_methods == ("phase-180",)


@pytest.mark.parametrize("model, channels", [("AFG31021", (1,)), ("AFG3011C", (1,)), ("AFG31022", (1, 2)),
                                             ("AFG3022C", (1, 2)), ("AFG1062", (1, 2))])
def test_channel_count_by_model(model, channels):
    with gen([]) as g:
        g.configure_model(model)
        assert g.channels == channels


def test_tracking_is_off_without_io():
    with gen([]) as g:  # the AFG has no channel tracking (frequency lock is not tracking)
        assert g.tracking() == "off"
