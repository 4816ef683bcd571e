"""Rigol DHO800 / DHO900 (12-bit) oscilloscopes: the DS1000Z command set with 16-bit transfers.

Differences from :class:`~instruments.rigol_ds1000z.RigolDS1000Z` (docs/reference/scpi.md §4.2 "DHO800 / DHO900",
and the DHO800/DHO900 Programming Guide, Apr. 2025, as transcribed in the public repository
aimoda/rigol-dho824-mcp ``manuals/DHO800900_ProgrammingGuide_EN.md``):

* transfers use ``:WAVeform:FORMat WORD`` (16-bit unsigned, little-endian) to keep the 12 bits; BYTE would
  truncate to 8;
* acquisition types are NORMal/AVERages/PEAK/ULTRa (no high-resolution mode); averages 2 to 65536 in powers of
  two, "a value that is not a power of two is rounded down" (guide §3.3.1) -- read back like the DS1000Z;
* the RAW preamble reports the page size rather than the record (ngscopeclient/scopehal
  ``RigolOscilloscope.cpp``), so the record length comes from ``:ACQuire:MDEPth?`` (scientific notation,
  guide §3.3.2);
* 10 horizontal divisions; ``:CHANnel<n>:BWLimit`` is ``20M`` or ``OFF`` on DHO800/900 (guide §3.6.1).

The per-read limit for WORD windows is not documented for the DHO; 125 000 points (the DS1000Z WORD limit,
docs/reference/scpi.md §4.2) keeps every window within the 250 000-byte DS1000Z bound.
"""

from __future__ import annotations

from dataclasses import replace

from ._preamble import WaveformPreamble
from .rigol_ds1000z import TABLE, RigolDS1000Z, acquisition_rows

# In NORMal mode the guide gives YINCrement = vertical scale / 7500 (guide §3.28), i.e. 16-bit codes
# (8 div x 7500 = 60 000 of 65 536). A 12-bit sample left-justified in 16 bits tops out at 0xFFF0.
_WORD_TOP = 0xFFF0
_TWELVE_BIT_TOP = 0x0FFF

#: the DS1000Z rows but the acquisition: NORMal/AVERages/PEAK (no high resolution), averages up to 65536
DHO_TABLE = replace(TABLE, acquisition=acquisition_rows({"normal": "NORMal", "average": "AVERages", "peak": "PEAK"},
                                                        65536))


class RigolDHO(RigolDS1000Z):
    """Rigol DHO800/DHO900 four-channel 12-bit oscilloscope. Settings: :data:`DHO_TABLE`."""

    table = DHO_TABLE
    horizontal_divisions = 10
    max_points_per_read = 125_000
    waveform_format = "WORD"
    datatype = "H"
    code_dtype = "uint16"
    #: the DHO's depth menu per number of channels is not confirmed: record lengths are memory depths
    memory_windows = False

    def _record_points(self, preamble: WaveformPreamble) -> int:
        """Points in the RAW record: ``:ACQuire:MDEPth?`` (the DHO preamble holds the page size)."""
        return self.query_as(":ACQuire:MDEPth?", lambda reply: int(float(reply)), "a memory depth")

    def _code_limits(self, preamble: WaveformPreamble) -> tuple[int, int]:
        """ADC limits as transferred, inferred from the preamble's y reference (a mid-scale code): codes on a
        16-bit scale when it lies above the 12-bit range, else plain 12-bit codes. [L] -- verify on hardware."""
        top = _WORD_TOP if preamble.y_reference > _TWELVE_BIT_TOP else _TWELVE_BIT_TOP
        return 0, top
