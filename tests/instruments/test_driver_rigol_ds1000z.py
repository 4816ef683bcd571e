"""Protocol tests for the Rigol DS1000Z driver: exact SCPI of the RAW waveform transfer, one behaviour per
test. What every scope family does alike (with this family's bytes, including the silent read-backs and the
``:TRIGger:STATus?`` polling) is in ``test_driver_scopes.py``.

Expected volts and times are worked by hand from the programming-guide conversion (docs/reference/scpi.md §4.2):
volts = (code - yorigin - yreference) * yincrement, time = (i - xreference) * xincrement + xorigin.
"""

from __future__ import annotations

import numpy as np
import pytest

from instruments.errors import InstrumentConnectionError, InstrumentError, InstrumentTimeout
from instruments.rigol_ds1000z import RigolDS1000Z
from instruments.scope import AcquisitionState
from protocol import Family, connection_lost, ieee_block, raises_with, visa_timeout

FAMILY = Family(RigolDS1000Z, "scope DS1054Z at TCPIP0::10.0.0.31::5555::SOCKET", ("SYSTem:ERRor?", '0,"No error"'))
LABEL, NO_ERROR = FAMILY.label, FAMILY.drain[0]
scope, ok = FAMILY.protocol, FAMILY.ok

SAVED_AS_USED = [(":WAVeform:MODE?", "RAW"), (":WAVeform:FORMat?", "BYTE")]
SETUP_CH3 = ok(":WAVeform:SOURce CHANnel3", ":WAVeform:MODE RAW", ":WAVeform:FORMat BYTE")


def test_read_waveform_converts_with_yorigin_and_yreference():
    codes = np.array([132, 0, 255, 127, 157, 107], dtype=np.uint8)
    # format, type, points, count, xinc, xorigin, xref, yinc, yorigin, yref
    preamble = "0,2,6,1,1.000000e-06,-3.000000e-06,1,4.000000e-02,5,127"
    exchanges = (SAVED_AS_USED + SETUP_CH3 + [(":WAVeform:PREamble?", preamble)]
                 + ok(":WAVeform:STARt 1", ":WAVeform:STOP 6") + [(":WAVeform:DATA?", ieee_block(codes, digits=9))])
    with scope(exchanges) as s:
        wf = s.read_waveform(3)
    # (code - 5 - 127) * 40 mV
    np.testing.assert_allclose(wf.volts, [0.0, -5.28, 4.92, -0.2, 1.0, -1.0], atol=1e-12)
    # (i - 1) * 1 us - 3 us
    np.testing.assert_allclose(wf.time_s, [-4e-6, -3e-6, -2e-6, -1e-6, 0.0, 1e-6], atol=1e-15)
    assert wf.clipped  # codes 0 and 255 are the ADC's limits


def test_read_waveform_reads_a_deep_record_in_250k_point_windows():
    rng = np.random.default_rng(7)
    codes = rng.integers(1, 255, size=300_000, dtype=np.uint8)
    preamble = "0,2,300000,1,1.000000e-09,-1.500000e-04,0,4.000000e-03,0,127"
    exchanges = (SAVED_AS_USED + SETUP_CH3 + [(":WAVeform:PREamble?", preamble)]
                 + ok(":WAVeform:STARt 1", ":WAVeform:STOP 250000")
                 + [(":WAVeform:DATA?", ieee_block(codes[:250_000], digits=9))]
                 + ok(":WAVeform:STARt 250001", ":WAVeform:STOP 300000")
                 + [(":WAVeform:DATA?", ieee_block(codes[250_000:], digits=9))])
    with scope(exchanges) as s:
        wf = s.read_waveform(3)
    assert np.array_equal(wf.codes, codes)
    assert not wf.clipped
    assert wf.time_s[-1] == pytest.approx(-1.5e-4 + 299_999e-9)


def test_read_waveform_restores_mode_and_format():
    codes = np.array([120, 130], dtype=np.uint8)
    exchanges = ([(":WAVeform:MODE?", "NORM"), (":WAVeform:FORMat?", "ASC")] + SETUP_CH3
                 + [(":WAVeform:PREamble?", "0,2,2,1,1e-06,0,0,0.04,0,127")]
                 + ok(":WAVeform:STARt 1", ":WAVeform:STOP 2") + [(":WAVeform:DATA?", ieee_block(codes, digits=9))]
                 + ok(":WAVeform:MODE NORM", ":WAVeform:FORMat ASC"))
    with scope(exchanges) as s:
        s.read_waveform(3)


def test_read_waveform_restores_settings_after_an_instrument_error():
    exchanges = ([(":WAVeform:MODE?", "NORM"), (":WAVeform:FORMat?", "BYTE")]
                 + [(":WAVeform:SOURce CHANnel3", None), (":WAVeform:MODE RAW", None), (":WAVeform:FORMat BYTE", None),
                    ("SYSTem:ERRor?", '-221,"Settings conflict"'), NO_ERROR]
                 + ok(":WAVeform:MODE NORM"))
    with scope(exchanges) as s:
        with pytest.raises(InstrumentError, match="Settings conflict"):
            s.read_waveform(3)


def test_read_waveform_timeout_mid_transfer_raises_and_skips_restore():
    exchanges = ([(":WAVeform:MODE?", "NORM"), (":WAVeform:FORMat?", "ASC")] + SETUP_CH3
                 + [(":WAVeform:PREamble?", "0,2,2,1,1e-06,0,0,0.04,0,127")]
                 + ok(":WAVeform:STARt 1", ":WAVeform:STOP 2") + [(":WAVeform:DATA?", visa_timeout())])
    with scope(exchanges) as s, raises_with(InstrumentTimeout, LABEL, ":WAVeform:DATA?"):
        s.read_waveform(3)


def test_read_waveform_connection_lost_mid_transfer():
    exchanges = (SAVED_AS_USED + SETUP_CH3 + [(":WAVeform:PREamble?", "0,2,2,1,1e-06,0,0,0.04,0,127")]
                 + ok(":WAVeform:STARt 1", ":WAVeform:STOP 2") + [(":WAVeform:DATA?", connection_lost())])
    with scope(exchanges) as s, pytest.raises(InstrumentConnectionError, match=LABEL):
        s.read_waveform(3)


# -- acquisition_state --------------------------------------------------------------------------------
@pytest.mark.parametrize("exchanges, expected", [
    pytest.param([(":ACQuire:TYPE?", "NORM"), (":ACQuire:SRATe?", "2.500000e+08"), (":ACQuire:MDEPth?", "3000000")],
                 AcquisitionState("normal", 1, 2.5e8, 3_000_000), id="fixed-depth"),
    pytest.param([(":ACQuire:TYPE?", "AVER"), (":ACQuire:AVERages?", "64"), (":ACQuire:SRATe?", "1.000000e+09"),
                  (":ACQuire:MDEPth?", "12000")],
                 AcquisitionState("average", 64, 1e9, 12_000), id="average-reads-the-count"),
    # AUTO: depth = sample rate x scale x 12 divisions (guide, :ACQuire:SRATe): 2.5e8 * 1e-3 * 12
    pytest.param([(":ACQuire:TYPE?", "HRES"), (":ACQuire:SRATe?", "2.500000e+08"), (":ACQuire:MDEPth?", "AUTO"),
                  (":TIMebase:MAIN:SCALe?", "1.000000e-03")],
                 AcquisitionState("highres", 1, 2.5e8, 3_000_000), id="auto-depth-from-rate-and-timebase"),
])
def test_acquisition_state(exchanges, expected):
    with scope(exchanges) as s:
        assert s.acquisition_state() == expected


def test_acquisition_state_unreadable_depth_raises():
    exchanges = [(":ACQuire:TYPE?", "NORM"), (":ACQuire:SRATe?", "1.000000e+09"), (":ACQuire:MDEPth?", "garbage")]
    with scope(exchanges) as s, raises_with(InstrumentError, LABEL, ":ACQuire:MDEPth?", "garbage"):
        s.acquisition_state()
