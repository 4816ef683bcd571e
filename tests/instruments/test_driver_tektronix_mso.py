"""Protocol tests for the Tektronix MSO 4/5/6 driver: warnings in the event queue and the ``CURVe?``
transfer. What every scope family does alike (with this family's bytes: settings, *ESR? + EVMsg? errors,
read-backs, ACQuire:STATE? polling) is in ``test_driver_scopes.py``.

Expected volts and times are worked by hand from the Tektronix conversion (docs/reference/scpi.md §4.4):
volts = (code - YOFf) * YMUlt + YZEro, time = XZEro + XINcr * (i - PT_Off).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from instruments.errors import InstrumentTimeout
from instruments.scope import AcquisitionState
from instruments.tektronix_mso import TektronixMSO
from protocol import Family, ieee_block, raises_with, visa_timeout

FAMILY = Family(TektronixMSO, "scope MSO46B at TCPIP0::10.0.0.51::4000::SOCKET", ("*ESR?", "0"))
LABEL, NO_ERROR = FAMILY.label, FAMILY.drain[0]
scope, ok = FAMILY.protocol, FAMILY.ok


def test_event_queue_warnings_alone_do_not_raise():
    exchanges = [("CH1:SCAle 0.001", None), ("*ESR?", "16"), ("EVMsg?", ':EVMSG 540,"Measurement warning"'),
                 ("EVMsg?", '1,"No events to report; new events pending *ESR?"')]
    with scope(exchanges) as s:
        s.set_channel(1, scale_v_per_div=0.001)


# -- read_waveform --------------------------------------------------------------------------------------
def preamble(points: int, *, xincr: float = 8e-10, xzero: float = -4e-6, pt_off: int = 2, ymult: float = 1.5625e-5,
             yoff: float = 100.0, yzero: float = 0.05) -> list[tuple[str, str]]:
    return [("WFMOutpre:NR_Pt?", str(points)), ("WFMOutpre:XINcr?", repr(xincr)), ("WFMOutpre:XZEro?", repr(xzero)),
            ("WFMOutpre:PT_Off?", str(pt_off)), ("WFMOutpre:YMUlt?", repr(ymult)), ("WFMOutpre:YOFf?", repr(yoff)),
            ("WFMOutpre:YZEro?", repr(yzero))]


def setup(points: int) -> list[tuple[str, Any]]:
    return (ok("DATa:SOUrce CH2", "DATa:ENCdg SRIbinary", "WFMOutpre:BYT_Nr 2")
            + [("HORizontal:RECOrdlength?", str(points))] + ok("DATa:STARt 1", f"DATa:STOP {points}"))


SAVED_AS_USED = [("DATa:ENCdg?", "SRIBINARY"), ("WFMOutpre:BYT_Nr?", "2")]


def test_read_waveform_converts_signed_lsb_first_words():
    codes = np.array([100, 6500, -6300, 32767, -32768], dtype="<i2")
    exchanges = (SAVED_AS_USED + setup(5) + preamble(5) + [("CURVe?", ieee_block(codes.tobytes())), NO_ERROR])
    with scope(exchanges) as s:
        wf = s.read_waveform(2)
    # (code - 100) * 15.625 uV + 50 mV
    np.testing.assert_allclose(wf.volts, [0.05, 0.15, -0.05, 0.560421875, -0.4635625])
    # -4 us + 0.8 ns * (i - 2)
    np.testing.assert_allclose(wf.time_s, [-4e-6 + 8e-10 * (i - 2) for i in range(5)])
    assert wf.clipped


def test_read_waveform_reads_deep_records_in_windows_and_restores_encoding():
    codes = np.arange(-5, 5, dtype="<i2") * 100
    exchanges = ([("DATa:ENCdg?", "RIBINARY"), ("WFMOutpre:BYT_Nr?", "1")] + setup(10) + preamble(10)
                 + ok("DATa:STARt 1", "DATa:STOP 4") + [("CURVe?", ieee_block(codes[:4].tobytes()))]
                 + ok("DATa:STARt 5", "DATa:STOP 8") + [("CURVe?", ieee_block(codes[4:8].tobytes()))]
                 + ok("DATa:STARt 9", "DATa:STOP 10") + [("CURVe?", ieee_block(codes[8:].tobytes()))] + [NO_ERROR]
                 + ok("DATa:ENCdg RIBINARY", "WFMOutpre:BYT_Nr 1"))
    with scope(exchanges) as s:
        s.max_points_per_read = 4
        wf = s.read_waveform(2)
    assert np.array_equal(wf.codes, codes) and not wf.clipped


def test_read_waveform_timeout_mid_transfer():
    exchanges = ([("DATa:ENCdg?", "ASCII"), ("WFMOutpre:BYT_Nr?", "1")] + setup(5) + preamble(5)
                 + [("CURVe?", visa_timeout())])
    with scope(exchanges) as s, raises_with(InstrumentTimeout, LABEL, "CURVe?"):
        s.read_waveform(2)  # encoding not restored over a timed-out link: every exchange is used


# -- acquisition_state --------------------------------------------------------------------------------
def test_acquisition_state_sample_mode():
    exchanges = [("ACQuire:MODe?", "SAMPLE"), ("HORizontal:SAMPLERate?", "3.1250E+9"),
                 ("HORizontal:RECOrdlength?", "125000")]
    with scope(exchanges) as s:
        assert s.acquisition_state() == AcquisitionState("normal", 1, 3.125e9, 125_000)


def test_acquisition_state_average_with_headers():
    exchanges = [("ACQuire:MODe?", ":ACQUIRE:MODE AVERAGE"), ("ACQuire:NUMAVg?", ":ACQUIRE:NUMAVG 32"),
                 ("HORizontal:SAMPLERate?", ":HORIZONTAL:SAMPLERATE 6.25E+9"),
                 ("HORizontal:RECOrdlength?", ":HORIZONTAL:RECORDLENGTH 1000000")]
    with scope(exchanges) as s:
        assert s.acquisition_state() == AcquisitionState("average", 32, 6.25e9, 1_000_000)


def test_acquisition_state_envelope_keeps_its_word():
    exchanges = [("ACQuire:MODe?", "ENVELOPE"), ("HORizontal:SAMPLERate?", "1.0E+9"),
                 ("HORizontal:RECOrdlength?", "10000")]
    with scope(exchanges) as s:
        assert s.acquisition_state().mode == "envelope"
