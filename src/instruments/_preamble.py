"""The ten-field ``:WAVeform:PREamble?`` reply shared by Keysight InfiniiVision (docs/reference/scpi.md §4.1
preamble table) and Rigol DS1000Z / DHO800/900 (§4.2): ten comma-separated numbers in the same order.

The fields mean the same on both but one: Keysight's ``yorigin`` is volts at code ``yreference``
(volts = ``(code - yreference) * yincrement + yorigin``), Rigol's is a code offset
(volts = ``(code - yorigin - yreference) * yincrement``); :meth:`WaveformPreamble.waveform` applies either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InstrumentError
from .scpi_instrument import ScpiInstrument
from .waveform import Waveform

QUERY = ":WAVeform:PREamble?"


@dataclass(frozen=True)
class WaveformPreamble:
    """The ten fields, in the order the instrument sends them."""

    format: int          # 0 BYTE, 1 WORD, then ASCii (4 on Keysight, 2 on Rigol)
    type: int            # Keysight 0 NORMal, 1 PEAK, 2 AVERage, 3 HRESolution; Rigol 0 NORM, 1 MAX, 2 RAW
    points: int
    count: int
    x_increment: float   # s between points
    x_origin: float      # s, time of point x_reference relative to the trigger
    x_reference: float
    y_increment: float   # V per code
    y_origin: float      # Keysight: V at code y_reference; Rigol: codes (see the module docstring)
    y_reference: float   # codes

    @classmethod
    def parse(cls, reply: str) -> WaveformPreamble:
        """Parse the reply; raises ValueError if it does not hold ten numbers."""
        fields = [float(f) for f in reply.split(",")]
        if len(fields) != 10:
            raise ValueError(f"expected 10 fields, got {len(fields)}")
        return cls(int(fields[0]), int(fields[1]), int(fields[2]), int(fields[3]), *fields[4:])

    @property
    def first_point_s(self) -> float:
        """Time of the record's first point relative to the trigger: ``xorigin - xreference * xincrement``."""
        return self.x_origin - self.x_reference * self.x_increment

    def waveform(self, channel: int, codes: np.ndarray, *, origin_in_codes: bool, code_min: int, code_max: int,
                 first_index: int = 0) -> Waveform:
        """``codes`` scaled by this preamble: volts by the Keysight formula, or by Rigol's when ``origin_in_codes``
        (module docstring); times ``(i - xreference) * xincrement + xorigin`` for the record's point
        ``first_index + i`` (0-based), so a window read from the middle of the memory keeps its time."""
        return Waveform(channel=channel, codes=codes, y_increment_v=self.y_increment,
                        y_origin_v=0.0 if origin_in_codes else self.y_origin,
                        y_reference=self.y_origin + self.y_reference if origin_in_codes else self.y_reference,
                        x_increment_s=self.x_increment, x_origin_s=self.first_point_s + first_index * self.x_increment,
                        code_min=code_min, code_max=code_max)


def query_preamble(instrument: ScpiInstrument, fmt: str) -> WaveformPreamble:
    """``:WAVeform:PREamble?`` parsed; raises :class:`InstrumentError` if the reply is unreadable or its
    format is not ``fmt`` (``BYTE`` or ``WORD``, the transfer format just set)."""
    reply = instrument.query(QUERY)
    try:
        pre = WaveformPreamble.parse(reply)
    except ValueError as exc:
        raise InstrumentError(instrument.label, f"unreadable preamble {reply!r} ({exc})", QUERY) from None
    if pre.format != (1 if fmt == "WORD" else 0):
        raise InstrumentError(instrument.label, f"preamble format {pre.format} does not match {fmt}", QUERY)
    return pre
