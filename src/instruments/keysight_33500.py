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
from dataclasses import replace

from ._scpi_source import SOURCE_ROWS, ScpiSourceGenerator, tracking_modes
from .generator import LOAD_ABOVE_ZERO, load_encoding
from .setting_table import Setting, fixed

#: the SCPI-99 rows (:data:`~instruments._scpi_source.SOURCE_ROWS`, every one checked by ``SYST:ERR?``) with the
#: 33500's ``LOAD`` node, the global angle unit forced to degrees before any phase (it may have been left at RAD
#: or SEC from the front panel) and ``TRACk``: CH2 copies every CH1 setting ("on") or copies it with the
#: amplitude inverted ("inverted"; the offset is not inverted); a conflict leaves tracking off and is reported
#: by the error queue
ROWS = replace(
    SOURCE_ROWS,
    load=Setting("load", "ohm", "OUTP{n}:LOAD {}", "OUTP{n}:LOAD?", load_encoding("INF"), LOAD_ABOVE_ZERO),
    angle_unit=fixed("angle unit", "UNIT:ANGL DEG"),
    tracking=Setting("tracking", "", "SOUR1:TRAC {}", "SOUR1:TRAC?", tracking_modes("ON, OFF or INV")),
)


class Keysight33500(ScpiSourceGenerator):
    """Keysight/Agilent 33500B (33509B-33522B) and 33600A (33611A-33622A) generators.

    Differential drive (§2.4): ``set_tracking("inverted")`` (``SOUR1:TRAC INV``: CH2 copies CH1 with the
    amplitude inverted, the DC offset is *not* inverted), or both channels at phase 0 and 180 degrees
    followed by :meth:`sync_phase` (``PHAS:SYNC``).

    The SOURce/OUTPut commands are the rows of :data:`ROWS` (§3.1:
    ``SOUR<n>:FREQ`` from 1 µHz to the model's maximum, ``SOUR<n>:VOLT`` in Vpp at the load setting,
    ``SOUR<n>:VOLT:OFFS``, ``OUTP<n>:LOAD`` 1 Ω-10 kΩ or ``INF``, whose query answers +9.9E+37 for
    INFinity, ``OUTP<n> ON|OFF``). ``set_sine`` uses the individual commands: ``APPLy:SIN`` reportedly
    switches the output on (§3.1, [L]; §6 item 8). A DC level is ``FUNC DC`` then ``VOLT:OFFS`` (±5 V into
    50 Ω, ±10 V High-Z).
    """

    rows = ROWS
    #: the Operating and Service Guide's SCPI introduction: several commands in one message, ``;`` between them
    compound_queries = True
    error_query = "SYST:ERR?"
    differential_methods = ("tracking-inverted", "phase-180")
    #: single-output models (QCoDeS channel table: 33511B, 33611A; the rest of the 33500B/33600A line
    #: follows the same odd = one channel, even = two channels numbering of the Keysight data sheet)
    single_channel_models = re.compile(r"335(09|11|19|21)[AB]|336[12]1A", re.I)

    # -- across channels ------------------------------------------------------------------------------
    def sync_phase(self) -> None:
        """``PHAS:SYNC``: reset both channels' phase accumulators to a common zero (§3.1, §2.4)."""
        self.set("PHAS:SYNC")
