"""Protocol tests for the Siglent SDS1000X-E driver (legacy command set): reply parsing and the ``C<n>:WF?``
block with its ASCII prefix and two line feeds. What every scope family does alike (with this family's bytes:
settings, the CMR?/EXR? error registers, read-backs, INR? polling) is in ``test_driver_scopes.py``.

Expected volts and times are worked by hand from the SDS1000X-E programming guide: volts = code * VDIV / 25
- OFST, time = TRDL - TDIV * 14 / 2 + i / SARA.
"""

from __future__ import annotations

import numpy as np
import pytest

from instruments.errors import InstrumentError, InstrumentTimeout
from instruments.scope import AcquisitionState
from instruments.siglent_sds1000xe import SiglentSDS1000XE, parse_number, strip_header
from protocol import Family, ieee_block, raises_with, visa_timeout

FAMILY = Family(SiglentSDS1000XE, "scope SDS1104X-E at TCPIP0::10.0.0.42::5025::SOCKET",
                ("CMR?", "CMR 0"), ("EXR?", "EXR 0"))
LABEL = FAMILY.label
scope, ok = FAMILY.protocol, FAMILY.ok


def test_reply_parsing_with_and_without_headers_and_units():
    assert strip_header("C1:CPL D1M") == "D1M" and strip_header("D1M") == "D1M"
    assert parse_number("C1:VDIV 5.00E-01V") == 0.5 and parse_number("5.00E-01V") == 0.5
    assert parse_number("SARA 1.00GSa/s") == 1e9 and parse_number("MSIZ 1.4M") == 1.4e6
    assert parse_number("TDIV 2.00E-08S") == 2e-8 and parse_number("SANU 1.40E+06pts") == 1.4e6


# -- read_waveform --------------------------------------------------------------------------------------
SCALING_C2 = [("C2:VDIV?", "C2:VDIV 2.00E-01V"), ("C2:OFST?", "C2:OFST -5.00E-01V"), ("TDIV?", "TDIV 1.00E-06S"),
              ("TRDL?", "TRDL 1.00E-06S"), ("SARA?", "SARA 500MSa/s")]


def waveform_reply(codes: np.ndarray) -> bytes:
    return b"C2:WF DAT2," + ieee_block(codes, digits=9, terminator=b"\n\n")


def test_read_waveform_block_with_prefix_and_two_line_feeds():
    codes = np.array([0, 25, -50, 127, -128, 10], dtype=np.int8)
    exchanges = ([("WFSU?", "WFSU SP,0,NP,0,FP,0")] + ok("WFSU SP,0,NP,0,FP,0") + SCALING_C2
                 + [("C2:WF? DAT2", waveform_reply(codes))])
    with scope(exchanges) as s:
        wf = s.read_waveform(2)
    # code * 0.2 / 25 + 0.5 V
    np.testing.assert_allclose(wf.volts, [0.5, 0.7, 0.1, 1.516, -0.524, 0.58])
    # 1 us - 1 us * 14 / 2 + i * 2 ns
    np.testing.assert_allclose(wf.time_s, [-6e-6 + i * 2e-9 for i in range(6)])
    assert wf.clipped


def test_read_waveform_restores_waveform_setup():
    codes = np.array([1, -1], dtype=np.int8)
    exchanges = ([("WFSU?", "WFSU SP,4,NP,1000,FP,0")] + ok("WFSU SP,0,NP,0,FP,0") + SCALING_C2
                 + [("C2:WF? DAT2", waveform_reply(codes))] + ok("WFSU SP,4,NP,1000,FP,0"))
    with scope(exchanges) as s:
        assert not s.read_waveform(2).clipped


def test_read_waveform_without_the_second_line_feed_raises():
    codes = np.array([1, -1], dtype=np.int8)
    reply = b"C2:WF DAT2," + ieee_block(codes, digits=9, terminator=b"\nX")
    exchanges = [("WFSU?", "SP,0,NP,0,FP,0")] + ok("WFSU SP,0,NP,0,FP,0") + SCALING_C2 + [("C2:WF? DAT2", reply)]
    with scope(exchanges) as s:
        with pytest.raises(InstrumentError, match="two line feeds"):
            s.read_waveform(2)


def test_read_waveform_timeout_mid_transfer():
    exchanges = ([("WFSU?", "WFSU SP,4,NP,0,FP,0")] + ok("WFSU SP,0,NP,0,FP,0") + SCALING_C2
                 + [("C2:WF? DAT2", visa_timeout())])
    with scope(exchanges) as s, raises_with(InstrumentTimeout, LABEL, "C2:WF? DAT2"):
        s.read_waveform(2)  # WFSU not restored over a timed-out link: every exchange is used


# -- acquisition_state --------------------------------------------------------------------------------
@pytest.mark.parametrize("exchanges, expected", [
    pytest.param([("ACQW?", "ACQW AVERAGE,16"), ("SARA?", "SARA 1.00GSa/s"), ("MSIZ?", "MSIZ 14M")],
                 AcquisitionState("average", 16, 1e9, 14_000_000), id="average-with-headers"),
    pytest.param([("ACQW?", "SAMPLING"), ("SARA?", "500MSa/s"), ("MSIZ?", "1.4M")],
                 AcquisitionState("normal", 1, 5e8, 1_400_000), id="sampling-without-headers"),
    pytest.param([("ACQW?", "ACQW PEAK_DETECT"), ("SARA?", "SARA 2.50E+08Sa/s"), ("MSIZ?", "MSIZ 70K")],
                 AcquisitionState("peak", 1, 2.5e8, 70_000), id="peak-detect"),
])
def test_acquisition_state(exchanges, expected):
    with scope(exchanges) as s:
        assert s.acquisition_state() == expected


def test_acquisition_state_average_without_count_raises():
    with scope([("ACQW?", "ACQW AVERAGE")]) as s, raises_with(InstrumentError, LABEL, "ACQW?"):
        s.acquisition_state()
