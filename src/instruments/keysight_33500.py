"""Keysight / Agilent 33500B and 33600A (Trueform) function generators.

Facts: docs/reference/scpi.md §3.1 (Agilent 33500 Series Operating and Service Guide: TRACk p. 315, output
termination p. 62; pymeasure ``agilent33500.py``; QCoDeS ``KeysightAgilent_33XXX.py``), §2.1-§2.4 for the
load setting, units, limits and differential drive, §1.2 for the error queue.

One spelling is used throughout: the short form with an explicit ``SOUR<n>:`` node and no leading colon
(``SOUR1:VOLT:OFFS 0``, ``OUTP1:LOAD INF``, ``SYST:ERR?``). Every command is followed by ``SYST:ERR?``
until the queue answers ``+0,"No error"``; the 33500 reports out-of-range values as ``-222`` and
conflicting amplitude/offset as ``-221`` (and adjusts the value), so the queue is the check.
"""

from __future__ import annotations

import re

from ._scpi_format import scpi_number as _num
from ._scpi_source import ScpiSourceGenerator
from .generator import Tracking, tracking_from_reply


class Keysight33500(ScpiSourceGenerator):
    """Keysight/Agilent 33500B (33509B-33522B) and 33600A (33611A-33622A) generators.

    Differential drive (§2.4): ``set_tracking("inverted")`` (``SOUR1:TRAC INV``: CH2 copies CH1 with the
    amplitude inverted, the DC offset is *not* inverted), or both channels at phase 0 and 180 degrees
    followed by :meth:`sync_phase` (``PHAS:SYNC``).

    The SOURce/OUTPut commands are those of :class:`~instruments._scpi_source.ScpiSourceGenerator` (§3.1:
    ``SOUR<n>:FREQ`` from 1 µHz to the model's maximum, ``SOUR<n>:VOLT`` in Vpp at the load setting,
    ``SOUR<n>:VOLT:OFFS``, ``OUTP<n>:LOAD`` 1 Ω-10 kΩ or ``INF``, whose query answers +9.9E+37 for
    INFinity, ``OUTP<n> ON|OFF``). ``set_sine`` uses the individual commands: ``APPLy:SIN`` reportedly
    switches the output on (§3.1, [L]; §6 item 8). A DC level is ``FUNC DC`` then ``VOLT:OFFS`` (±5 V into
    50 Ω, ±10 V High-Z).
    """

    error_query = "SYST:ERR?"
    differential_methods = ("tracking-inverted", "phase-180")
    #: single-output models (QCoDeS channel table: 33511B, 33611A; the rest of the 33500B/33600A line
    #: follows the same odd = one channel, even = two channels numbering of the Keysight data sheet)
    single_channel_models = re.compile(r"335(09|11|19|21)[AB]|336[12]1A", re.I)
    load_node = "LOAD"

    # -- family spelling ------------------------------------------------------------------------------
    def _set_phase(self, src: str, phase_deg: float) -> None:
        """``SOUR<n>:PHAS``, degrees (sent as 0-360; the angle unit is set to degrees first, §3.1)."""
        # UNIT:ANGL is global and may have been left at RAD or SEC from the front panel.
        self.set("UNIT:ANGL DEG")
        self.set(f"{src}:PHAS {_num(phase_deg % 360.0)}")

    def _prepare_readback(self, src: str) -> None:
        """Units forced to VPP and degrees first so the numbers read back mean what they say."""
        super()._prepare_readback(src)
        self.set("UNIT:ANGL DEG")

    # -- across channels ------------------------------------------------------------------------------
    def sync_phase(self) -> None:
        """``PHAS:SYNC``: reset both channels' phase accumulators to a common zero (§3.1, §2.4)."""
        self.set("PHAS:SYNC")

    def set_tracking(self, mode: Tracking) -> None:
        """``SOUR1:TRAC OFF|ON|INV`` (§3.1): CH2 copies every CH1 setting ("on") or copies it with the
        amplitude inverted ("inverted"; the offset is not inverted). A conflict leaves tracking off and
        is reported by the error queue."""
        self.set(f"SOUR1:TRAC {self._tracking_word(mode)}")

    def tracking(self) -> Tracking:
        """``SOUR1:TRAC?``, answered ``ON``, ``OFF`` or ``INV`` (§3.1); a single-channel model has no
        tracking and answers "off" without I/O."""
        if len(self.channels) < 2:
            return "off"
        return self.query_as("SOUR1:TRAC?", tracking_from_reply, "ON, OFF or INV")
