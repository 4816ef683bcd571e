"""Protocol tests for the Siglent SDS2000X Plus / SDS800X HD driver (new SCPI set): the memory-depth text and
the WAVEDESC-driven transfer. What every scope family does alike (with this family's bytes: settings, the
``*ESR?`` check, read-backs, polling) is in ``test_driver_scopes.py``.

The WAVEDESC preamble is a real binary block built at the documented offsets (docs/reference/scpi.md §4.3);
expected volts and times are worked by hand from volts = code / codes_per_div * vdiv - offset (vdiv, offset
times the probe factor) and time = -tdiv * 10 / 2 + i * interval + delay.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

from instruments.errors import InstrumentTimeout
from instruments.scope import AcquisitionState
from instruments.siglent_sds import SiglentSDS, depth_text, parse_depth, parse_rate
from protocol import Family, ieee_block, raises_with, visa_timeout

FAMILY = Family(SiglentSDS, "scope SDS824X HD at TCPIP0::10.0.0.41::5025::SOCKET", ("*ESR?", "0"))
LABEL = FAMILY.label
scope, ok = FAMILY.protocol, FAMILY.ok


def wavedesc(*, points: int, vdiv: float, offset: float, codes_per_div: float, adc_bits: int, interval: float,
             delay: float, tdiv_index: int, probe: float) -> bytes:
    """A 346-byte WAVEDESC with the fields the driver reads, little-endian at the documented offsets."""
    d = bytearray(346)
    struct.pack_into("<i", d, 0x74, points)
    struct.pack_into("<f", d, 0x9C, vdiv)
    struct.pack_into("<f", d, 0xA0, offset)
    struct.pack_into("<f", d, 0xA4, codes_per_div)
    struct.pack_into("<h", d, 0xAC, adc_bits)
    struct.pack_into("<f", d, 0xB0, interval)
    struct.pack_into("<d", d, 0xB4, delay)
    struct.pack_into("<h", d, 0x144, tdiv_index)
    struct.pack_into("<f", d, 0x148, probe)
    return ieee_block(bytes(d), digits=9)


def test_depth_text_and_parse_round_trip():
    assert [depth_text(n) for n in (500, 10_000, 12_500_000, 10**9)] == ["500", "10k", "12.5M", "1G"]
    assert [parse_depth(r) for r in ("10k", "12.5M", "1.00E+07", "AUTO")] == [10_000, 12_500_000, 10**7, None]


# -- read_waveform --------------------------------------------------------------------------------------
SETUP_C2 = ok(":WAVeform:SOURce C2", ":WAVeform:INTerval 1", ":WAVeform:STARt 0")


def test_read_waveform_bytes_scaled_from_wavedesc():
    codes = np.array([0, 25, -25, 127, -128], dtype=np.int8)
    desc = wavedesc(points=5, vdiv=0.05, offset=-0.02, codes_per_div=25.0, adc_bits=8, interval=1e-9, delay=2e-7,
                    tdiv_index=11, probe=10.0)  # index 11 = 1 us/div
    exchanges = ([(":WAVeform:WIDTh?", "BYTE")] + SETUP_C2 + [(":WAVeform:PREamble?", desc)]
                 + ok(":WAVeform:WIDTh BYTE") + [(":WAVeform:MAXPoint?", "5000000")]
                 + ok(":WAVeform:STARt 0", ":WAVeform:POINt 5") + [(":WAVeform:DATA?", ieee_block(codes, digits=9))])
    with scope(exchanges) as s:
        wf = s.read_waveform(2)
    # vdiv 0.05 * 10 = 0.5 V, offset -0.02 * 10 = -0.2 V: code / 25 * 0.5 + 0.2
    np.testing.assert_allclose(wf.volts, [0.2, 0.7, -0.3, 2.74, -2.36], rtol=1e-6)
    # -1 us * 10 / 2 + i * 1 ns + 200 ns
    np.testing.assert_allclose(wf.time_s, [-4.8e-6 + i * 1e-9 for i in range(5)], rtol=1e-6)
    assert wf.clipped and (wf.code_min, wf.code_max) == (-128, 127)


def test_read_waveform_twelve_bit_uses_little_endian_words():
    codes = np.array([400, -400, 2047, 0], dtype="<i2")
    desc = wavedesc(points=4, vdiv=0.1, offset=0.0, codes_per_div=400.0, adc_bits=12, interval=2e-9, delay=0.0,
                    tdiv_index=8, probe=1.0)  # index 8 = 100 ns/div
    exchanges = ([(":WAVeform:WIDTh?", "BYTE")] + SETUP_C2 + [(":WAVeform:PREamble?", desc)]
                 + ok(":WAVeform:WIDTh WORD") + [(":WAVeform:MAXPoint?", "2500000")]
                 + ok(":WAVeform:STARt 0", ":WAVeform:POINt 4")
                 + [(":WAVeform:DATA?", ieee_block(codes.tobytes(), digits=9))]
                 + ok(":WAVeform:WIDTh BYTE"))  # width put back
    with scope(exchanges) as s:
        wf = s.read_waveform(2)
    # code / 400 * 0.1 V
    np.testing.assert_allclose(wf.volts, [0.1, -0.1, 0.51175, 0.0], rtol=1e-6)
    assert wf.time_s[0] == pytest.approx(-5e-7)
    assert wf.clipped and (wf.code_min, wf.code_max) == (-2048, 2047)


def test_read_waveform_reads_maxpoint_sized_pieces():
    codes = np.arange(-5, 5, dtype=np.int8)
    desc = wavedesc(points=10, vdiv=1.0, offset=0.0, codes_per_div=25.0, adc_bits=8, interval=1e-9, delay=0.0,
                    tdiv_index=2, probe=1.0)
    exchanges = ([(":WAVeform:WIDTh?", "BYTE")] + SETUP_C2 + [(":WAVeform:PREamble?", desc)]
                 + ok(":WAVeform:WIDTh BYTE") + [(":WAVeform:MAXPoint?", "4")]
                 + ok(":WAVeform:STARt 0", ":WAVeform:POINt 4") + [(":WAVeform:DATA?", ieee_block(codes[:4], digits=9))]
                 + ok(":WAVeform:STARt 4", ":WAVeform:POINt 4")
                 + [(":WAVeform:DATA?", ieee_block(codes[4:8], digits=9))]
                 + ok(":WAVeform:STARt 8", ":WAVeform:POINt 2")
                 + [(":WAVeform:DATA?", ieee_block(codes[8:], digits=9))])
    with scope(exchanges) as s:
        wf = s.read_waveform(2)
    assert np.array_equal(wf.codes, codes) and not wf.clipped


def test_read_waveform_timeout_mid_transfer():
    desc = wavedesc(points=10, vdiv=1.0, offset=0.0, codes_per_div=25.0, adc_bits=8, interval=1e-9, delay=0.0,
                    tdiv_index=2, probe=1.0)
    exchanges = ([(":WAVeform:WIDTh?", "WORD")] + SETUP_C2 + [(":WAVeform:PREamble?", desc)]
                 + ok(":WAVeform:WIDTh BYTE") + [(":WAVeform:MAXPoint?", "100")]
                 + ok(":WAVeform:STARt 0", ":WAVeform:POINt 10") + [(":WAVeform:DATA?", visa_timeout())])
    with scope(exchanges) as s, raises_with(InstrumentTimeout, LABEL, ":WAVeform:DATA?"):
        s.read_waveform(2)  # width not restored over a timed-out link: every exchange is used


# -- acquisition_state --------------------------------------------------------------------------------
def test_parse_rate_scientific_or_with_unit():
    assert parse_rate("1.00E+09") == 1e9 and parse_rate("2.00GSa/s") == 2e9 and parse_rate("500MSa/s") == 5e8


@pytest.mark.parametrize("exchanges, expected", [
    pytest.param([(":ACQuire:TYPE?", "AVERage,16"), (":ACQuire:SRATe?", "1.00E+09"), (":ACQuire:MDEPth?", "10k")],
                 AcquisitionState("average", 16, 1e9, 10_000), id="average-count-in-the-type-reply"),
    pytest.param([(":ACQuire:TYPE?", "NORMal"), (":ACQuire:SRATe?", "2.00E+09"), (":ACQuire:MDEPth?", "12.5M")],
                 AcquisitionState("normal", 1, 2e9, 12_500_000), id="normal"),
    pytest.param([(":ACQuire:TYPE?", "ERES,1.5"), (":ACQuire:SRATe?", "5.00E+08"), (":ACQuire:MDEPth?", "1.00E+05")],
                 AcquisitionState("eres", 1, 5e8, 100_000), id="enhanced-resolution-keeps-its-word"),
])
def test_acquisition_state(exchanges, expected):
    with scope(exchanges) as s:
        assert s.acquisition_state() == expected


def test_record_length_is_asked_for_as_a_listed_depth() -> None:
    """The SDS takes only the depths its guide lists (:ACQuire:MDEPth <10K|100K|1M|10M...>): 50 000 points are
    asked for as 100k, 10 000 as 10k, 2 000 000 as 10M."""
    from instruments.siglent_sds import SiglentSDS

    scope = SiglentSDS.__new__(SiglentSDS)
    assert [scope.record_length_for(n, 4) for n in (2_000, 10_000, 50_000, 2_000_000)] == \
        [10_000, 10_000, 100_000, 10_000_000]
