"""Protocol tests for the Siglent SDG1000X/2000X/6000X driver: the exact commands of what only this family
does (docs/reference/scpi.md §3.3): no error queue, a wave type not applied, DC fields, limits from the data sheet,
phase-locked mode, COUP tracking and polarity inversion. What every generator family does alike (with this
family's bytes and :func:`bswv` replies) is in ``test_driver_generators.py``."""

from __future__ import annotations

import math

import pytest

from instruments.errors import InstrumentError
from instruments.generator import GeneratorLimits
from instruments.siglent_sdg import SiglentSDG
from protocol import Family

FAMILY = Family(SiglentSDG, "generator Siglent SDG2042X at TCPIP0::10.0.0.9::5025::SOCKET")
gen = FAMILY.protocol


def bswv(ch: int, frq: str = "1000HZ", amp: str = "4V", ofst: str = "0V", phse: str = "0") -> str:
    """A ``C<n>:BSWV?`` reply in the SDG2000X format (units attached, §3.3)."""
    return (f"C{ch}:BSWV WVTP,SINE,FRQ,{frq},PERI,0.001S,AMP,{amp},AMPVRMS,1.414Vrms,MAX_OUTPUT_AMP,20V,"
            f"OFST,{ofst},HLEV,2V,LLEV,-2V,PHSE,{phse}")


def test_no_error_queue():
    assert SiglentSDG.error_query is None


# -- per-channel settings ---------------------------------------------------------------------------------
def test_set_sine_ignored_wave_type_is_reported():
    with gen([("C1:BSWV?", bswv(1)),
              ("C1:BSWV WVTP,SINE,FRQ,1000,AMP,1,OFST,0,PHSE,0", None),
              ("C1:BSWV?", "C1:BSWV WVTP,SQUARE,FRQ,1000HZ,AMP,1V,OFST,0V,PHSE,0")]) as g:
        with pytest.raises(InstrumentError, match="WVTP: asked SINE, kept SQUARE"):
            g.set_sine(1, 1000.0, 1.0, 0.0)


def test_channel_state_dc_has_nan_for_missing_fields():
    with gen([("C2:BSWV?", "C2:BSWV WVTP,DC,OFST,-1V"), ("C2:OUTP?", "C2:OUTP OFF,LOAD,50,PLRT,NOR")]) as g:
        state = g.channel_state(2)
    assert state.function == "dc" and state.offset_v == -1.0 and state.load_ohm == 50.0
    assert math.isnan(state.frequency_hz) and math.isnan(state.amplitude_vpp) and state.output is False


def test_limits_high_z_from_model_table():
    with gen([("C1:BSWV?", bswv(1, amp="4V", ofst="1V")), ("C1:OUTP?", "C1:OUTP OFF,LOAD,HZ,PLRT,NOR")]) as g:
        g.configure_model("SDG2042X")
        # High-Z: 2 mVpp-20 Vpp and a 10 V level; offset 1 V leaves 2*(10-1) = 18 Vpp, amplitude 4 leaves 8 V
        assert g.limits(1) == GeneratorLimits(2e-3, 18.0, 8.0, 40e6)


def test_limits_50_ohm_asks_idn_when_model_unknown():
    with gen([("C2:BSWV?", bswv(2, amp="2V", ofst="0V")), ("C2:OUTP?", "C2:OUTP OFF,LOAD,50,PLRT,NOR"),
              ("*IDN?", "Siglent Technologies,SDG1032X,SDG1XCA0000000,1.01.01.33R1")]) as g:
        lim = g.limits(2)
    assert lim == pytest.approx(GeneratorLimits(1e-3, 10.0, 4.0, 30e6))


# -- across channels --------------------------------------------------------------------------------------
def test_sync_phase_mode_not_kept_is_reported():
    with gen([("MODE PHASE-LOCKED", None), ("MODE?", "MODE INDEPENDENT")]) as g:
        with pytest.raises(InstrumentError, match="asked PHASE-LOCKED"):
            g.sync_phase()


@pytest.mark.parametrize("mode, reply", [("on", "COUP TRACE,ON"), ("off", "COUP TRACE,OFF")])
def test_set_tracking(mode, reply):
    with gen([(f"COUP TRACE,{mode.upper()}", None), ("COUP?", reply)]) as g:
        g.set_tracking(mode)


def test_set_tracking_not_kept_is_reported():
    with gen([("COUP TRACE,ON", None), ("COUP?", "COUP FCOUP,OFF,PCOUP,OFF,ACOUP,OFF")]) as g:
        with pytest.raises(InstrumentError, match="tracking: asked ON"):
            g.set_tracking("on")


def test_set_tracking_inverted_is_not_a_siglent_feature():
    with gen([]) as g, pytest.raises(NotImplementedError, match="set_inverted"):
        g.set_tracking("inverted")


@pytest.mark.parametrize("on, word", [(True, "ON"), (False, "OFF")])
def test_set_inverted(on, word):
    with gen([(f"C2:INVT {word}", None), ("C2:INVT?", f"C2:INVT {word}")]) as g:
        g.set_inverted(2, on)


# -- errors -----------------------------------------------------------------------------------------------
def test_unexpected_output_reply_is_an_instrument_error():
    with gen([("C1:OUTP ON", None), ("C1:OUTP?", "garbage")]) as g:
        with pytest.raises(InstrumentError, match="unexpected reply 'garbage'"):
            g.set_output(1, True)


# -- tracking read-back -----------------------------------------------------------------------------------
@pytest.mark.parametrize("reply, mode", [("COUP TRACE,ON", "on"), ("COUP TRACE,OFF", "off"),
                                         ("COUP FCOUP,OFF,PCOUP,OFF,ACOUP,OFF", "off")])
def test_tracking_reads_back(reply, mode):
    with gen([("COUP?", reply)]) as g:
        assert g.tracking() == mode
