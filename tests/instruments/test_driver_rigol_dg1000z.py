"""Protocol tests for the Rigol DG1000Z/DG800/DG900 driver: the exact SCPI of what only this family does
(docs/reference/scpi.md §3.2): the phase read-back, the phase-align spelling per model, tracking read back and the
single-output DG800 models. What every generator family does alike (with this family's bytes, including the
silent-clamp read-back) is in ``test_driver_generators.py``."""

from __future__ import annotations

import pytest

from instruments.errors import InstrumentError
from instruments.rigol_dg1000z import RigolDG1000Z
from protocol import Family

FAMILY = Family(RigolDG1000Z, "generator RIGOL DG1062Z at TCPIP0::10.0.0.7::5555::SOCKET",
                (":SYST:ERR?", '0,"No error"'))
OK = FAMILY.drain[0]
gen = FAMILY.protocol


def test_set_phase_accepts_360_read_back_as_0():
    with gen([(":SOUR1:PHAS 0", None), OK, (":SOUR1:PHAS?", "3.600000E+02")]) as g:
        g.set_phase(1, 360.0)


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


def test_single_channel_dg800_model():
    with gen([(":OUTP1 OFF", None), OK, (":OUTP1?", "OFF")]) as g:
        g.configure_model("DG811")
        assert g.channels == (1,)
        g.outputs_off()
        with pytest.raises(NotImplementedError):
            g.set_tracking("inverted")


# -- tracking read-back -----------------------------------------------------------------------------------
@pytest.mark.parametrize("reply, mode", [("INVERTED", "inverted"), ("INV", "inverted"), ("ON", "on"), ("OFF", "off")])
def test_tracking_reads_back(reply, mode):
    with gen([(":SOUR1:TRACK?", reply)]) as g:
        assert g.tracking() == mode


def test_tracking_of_a_single_channel_dg800_is_off_without_io():
    with gen([]) as g:
        g.configure_model("DG811")
        assert g.tracking() == "off"
