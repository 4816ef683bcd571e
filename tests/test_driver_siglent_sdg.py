"""Protocol tests for the Siglent SDG1000X/2000X/6000X driver: exact commands of every operation
(reference/scpi.md §3.3), the read-back of every setting (the SDG has no error queue) and transport
failures."""

from __future__ import annotations

import math

import pytest
from pyvisa import constants
from pyvisa.errors import VisaIOError

from instruments.errors import InstrumentConnectionError, InstrumentError, InstrumentTimeout
from instruments.generator import ChannelState, GeneratorLimits
from instruments.siglent_sdg import SiglentSDG
from protocol import PlaybackResource, expected_protocol

LABEL = "generator Siglent SDG2042X at TCPIP0::10.0.0.9::5025::SOCKET"


def gen(exchanges):
    return expected_protocol(SiglentSDG, exchanges, label=LABEL)


def bswv(ch: int, frq: str = "1000HZ", amp: str = "4V", ofst: str = "0V", phse: str = "0") -> str:
    """A ``C<n>:BSWV?`` reply in the SDG2000X format (units attached, §3.3)."""
    return (f"C{ch}:BSWV WVTP,SINE,FRQ,{frq},PERI,0.001S,AMP,{amp},AMPVRMS,1.414Vrms,MAX_OUTPUT_AMP,20V,"
            f"OFST,{ofst},HLEV,2V,LLEV,-2V,PHSE,{phse}")


class FailingPlayback(PlaybackResource):
    """Playback in which a reply may be an exception, raised when the driver reads it."""

    def read(self, *args, **kwargs):
        if isinstance(self._pending, BaseException):
            exc, self._pending = self._pending, None
            raise exc
        return super().read(*args, **kwargs)


def test_no_error_queue():
    assert SiglentSDG.error_query is None


# -- per-channel settings ---------------------------------------------------------------------------------
def test_set_sine_growing_amplitude_sends_offset_before_amplitude():
    with gen([("C1:BSWV?", bswv(1, amp="0.1V")),
              ("C1:BSWV WVTP,SINE,FRQ,1000,OFST,1,AMP,2,PHSE,0", None),
              ("C1:BSWV?", bswv(1, amp="2V", ofst="1V"))]) as g:
        g.set_sine(1, 1000.0, 2.0, 1.0)


def test_set_sine_shrinking_amplitude_sends_amplitude_first():
    with gen([("C2:BSWV?", bswv(2, amp="8V")),
              ("C2:BSWV WVTP,SINE,FRQ,50000,AMP,0.2,OFST,-3,PHSE,180", None),
              ("C2:BSWV?", bswv(2, frq="50000HZ", amp="0.2V", ofst="-3V", phse="180"))]) as g:
        g.set_sine(2, 50e3, 0.2, -3.0, 180.0)


def test_set_sine_silently_clamped_amplitude_raises_with_asked_and_kept():
    with gen([("C1:BSWV?", bswv(1, amp="1V")),
              ("C1:BSWV WVTP,SINE,FRQ,1000,OFST,0,AMP,30,PHSE,0", None),
              ("C1:BSWV?", bswv(1, amp="20V"))]) as g:
        with pytest.raises(InstrumentError) as info:
            g.set_sine(1, 1000.0, 30.0, 0.0)
    text = str(info.value)
    assert LABEL in text and "C1:BSWV WVTP,SINE" in text and "asked 30" in text and "kept 20" in text


def test_set_sine_ignored_wave_type_is_reported():
    with gen([("C1:BSWV?", bswv(1)),
              ("C1:BSWV WVTP,SINE,FRQ,1000,AMP,1,OFST,0,PHSE,0", None),
              ("C1:BSWV?", "C1:BSWV WVTP,SQUARE,FRQ,1000HZ,AMP,1V,OFST,0V,PHSE,0")]) as g:
        with pytest.raises(InstrumentError, match="WVTP: asked SINE, kept SQUARE"):
            g.set_sine(1, 1000.0, 1.0, 0.0)


def test_set_dc():
    with gen([("C1:BSWV WVTP,DC,OFST,1.5", None), ("C1:BSWV?", "C1:BSWV WVTP,DC,OFST,1.5V")]) as g:
        g.set_dc(1, 1.5)


def test_set_frequency():
    with gen([("C2:BSWV FRQ,123456.789", None), ("C2:BSWV?", bswv(2, frq="123456.789HZ"))]) as g:
        g.set_frequency(2, 123456.789)


def test_set_frequency_silently_clamped_raises():
    with gen([("C1:BSWV FRQ,100000000", None), ("C1:BSWV?", bswv(1, frq="40000000HZ"))]) as g:
        with pytest.raises(InstrumentError, match=r"frequency \(Hz\): asked 1e\+08, the instrument kept 4e\+07"):
            g.set_frequency(1, 100e6)


def test_set_amplitude():
    with gen([("C1:BSWV AMP,0.5", None), ("C1:BSWV?", bswv(1, amp="0.5V"))]) as g:
        g.set_amplitude(1, 0.5)


def test_set_offset():
    with gen([("C2:BSWV OFST,-0.25", None), ("C2:BSWV?", bswv(2, ofst="-0.25V"))]) as g:
        g.set_offset(2, -0.25)


def test_set_phase_wraps_into_0_360():
    with gen([("C2:BSWV PHSE,270", None), ("C2:BSWV?", bswv(2, phse="270"))]) as g:
        g.set_phase(2, -90.0)


def test_set_load_high_z():
    with gen([("C1:OUTP LOAD,HZ", None), ("C1:OUTP?", "C1:OUTP OFF,LOAD,HZ,PLRT,NOR")]) as g:
        g.set_load(1, math.inf)


def test_set_load_50_ohm():
    with gen([("C2:OUTP LOAD,50", None), ("C2:OUTP?", "C2:OUTP ON,LOAD,50,PLRT,NOR,POWERON_STATE,OFF")]) as g:
        g.set_load(2, 50.0)


def test_set_load_not_kept_is_reported():
    with gen([("C1:OUTP LOAD,10", None), ("C1:OUTP?", "C1:OUTP OFF,LOAD,50,PLRT,NOR")]) as g:
        with pytest.raises(InstrumentError, match="asked 10, the instrument kept 50"):
            g.set_load(1, 10.0)


@pytest.mark.parametrize("on, word", [(True, "ON"), (False, "OFF")])
def test_set_output_reads_back(on, word):
    with gen([(f"C1:OUTP {word}", None), ("C1:OUTP?", f"C1:OUTP {word},LOAD,HZ,PLRT,NOR")]) as g:
        g.set_output(1, on)


def test_set_output_not_switched_is_reported():
    with gen([("C2:OUTP OFF", None), ("C2:OUTP?", "C2:OUTP ON,LOAD,HZ,PLRT,NOR")]) as g:
        with pytest.raises(InstrumentError, match="asked OFF, the instrument reads back ON"):
            g.set_output(2, False)


def test_channel_state():
    with gen([("C1:BSWV?", bswv(1, frq="1000HZ", amp="2V", ofst="0.5V", phse="90")),
              ("C1:OUTP?", "C1:OUTP ON,LOAD,HZ,PLRT,NOR")]) as g:
        assert g.channel_state(1) == ChannelState("sine", 1000.0, 2.0, 0.5, 90.0, math.inf, True)


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


def test_limits_refuse_a_channel_that_is_not_a_sine():
    with gen([("C1:BSWV?", "C1:BSWV WVTP,DC,OFST,1V")]) as g, pytest.raises(InstrumentError, match="set_sine"):
        g.limits(1)


# -- across channels --------------------------------------------------------------------------------------
def test_sync_phase_sets_phase_locked_mode_then_eqphase():
    with gen([("MODE PHASE-LOCKED", None), ("MODE?", "MODE PHASE-LOCKED"), ("EQPHASE", None)]) as g:
        g.sync_phase()


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


def test_differential_methods():
    assert SiglentSDG.differential_methods == ("phase-180", "polarity-inverted")


def test_outputs_off():
    with gen([("C1:OUTP OFF", None), ("C1:OUTP?", "C1:OUTP OFF,LOAD,HZ,PLRT,NOR"),
              ("C2:OUTP OFF", None), ("C2:OUTP?", "C2:OUTP OFF,LOAD,HZ,PLRT,NOR")]) as g:
        g.outputs_off()


def test_outputs_off_tries_channel_2_when_channel_1_fails():
    with gen([("C1:OUTP OFF", None), ("C1:OUTP?", "C1:OUTP ON,LOAD,HZ,PLRT,NOR"),
              ("C2:OUTP OFF", None), ("C2:OUTP?", "C2:OUTP OFF,LOAD,HZ,PLRT,NOR")]) as g:
        with pytest.raises(InstrumentError, match="C1:OUTP OFF"):
            g.outputs_off()


# -- errors -----------------------------------------------------------------------------------------------
def test_unexpected_output_reply_is_an_instrument_error():
    with gen([("C1:OUTP ON", None), ("C1:OUTP?", "garbage")]) as g:
        with pytest.raises(InstrumentError, match="unexpected reply 'garbage'"):
            g.set_output(1, True)


def test_timeout_mid_exchange_names_the_instrument():
    res = FailingPlayback([("C1:BSWV AMP,1", None), ("C1:BSWV?", VisaIOError(constants.StatusCode.error_timeout))])
    g = SiglentSDG(res, label=LABEL)
    with pytest.raises(InstrumentTimeout) as info:
        g.set_amplitude(1, 1.0)
    assert LABEL in str(info.value) and "C1:BSWV?" in str(info.value) and res.done


def test_dropped_connection_names_the_instrument():
    res = FailingPlayback([("C1:BSWV?", bswv(1)),
                           ("C1:OUTP?", VisaIOError(constants.StatusCode.error_connection_lost))])
    g = SiglentSDG(res, label=LABEL)
    with pytest.raises(InstrumentConnectionError) as info:
        g.channel_state(1)
    assert LABEL in str(info.value) and res.done
