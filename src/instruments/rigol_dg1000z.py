"""Rigol DG1000Z (DG1022Z/DG1032Z/DG1062Z), DG800 (DG811-DG832) and DG900 (DG952/972/992) generators.

Facts: docs/reference/scpi.md §3.2 (Rigol DG1000Z Programming Guide: TRACK p. 2-179, COUPling p. 2-11/2-19,
OUTPut:IMPedance p. 2-56; DG800/DG900 Programming Guides; QCoDeS ``Rigol_DG1062.py``; pymeasure
``rigol_dg800.py``), §2.1-§2.4, §1.2.

One spelling is used throughout: the short form with a leading colon and an explicit channel
(``:SOUR1:VOLT:OFFS 0``, ``:OUTP1:IMP INF``, ``:SYST:ERR?``), as the Rigol guides print it. The one
exception is ``TRACK``: the DG1000Z guide spells it in capitals only (no short form), and ``TRACK`` is
also the long form of the DG800/DG900 ``TRACk``.

The DG family clamps out-of-range frequency and amplitude *silently* (only an on-screen warning, §3.2),
so every numeric setting is read back after the error queue is drained, and a value the instrument did
not keep raises :class:`~instruments.errors.InstrumentError` with what was asked and what was kept.
"""

from __future__ import annotations

import re

from . import _readback
from ._scpi_format import scpi_number as _num
from ._scpi_source import ScpiSourceGenerator
from .errors import InstrumentError
from .generator import Tracking, tracking_from_reply

# Read-back tolerance per SOURce node: replies carry 7 significant digits (§3.2); see _readback.
_TOLERANCE = {"FREQ": _readback.FREQUENCY, "VOLT": _readback.AMPLITUDE, "VOLT:OFFS": _readback.OFFSET}


class RigolDG1000Z(ScpiSourceGenerator):
    """Rigol DG1000Z, DG800 and DG900 two-channel generators (one SCPI tree, §3.2).

    Differential drive (§2.4): ``set_tracking("inverted")`` (``:SOUR1:TRACK INV``: CH2 outputs the inverse
    of CH1; whether the offset is inverted too is unconfirmed, §6 item 1), or phase 0/180 on two channels
    followed by :meth:`sync_phase` (``:SOUR1:PHAS:INIT`` on DG1000Z, ``:SOUR1:PHAS:SYNC`` on DG800/DG900),
    run *after* the outputs are on (§2.4: switching the output only closes a relay).

    The SOURce/OUTPut commands are those of :class:`~instruments._scpi_source.ScpiSourceGenerator` with a
    leading colon (``:SOUR<n>:FREQ``, sine 1 µHz to 25-100 MHz by model; ``:OUTP<n>:IMP`` 1 Ω-10 kΩ or
    ``INF``, whose query answers 9.900000E+37 for INFinity), each numeric setting, the load, the output
    state and the tracking mode read back after the error queue is drained.
    """

    error_query = ":SYST:ERR?"
    differential_methods = ("tracking-inverted", "phase-180")
    #: DG811/DG821/DG831 are the single-channel DG800 models
    single_channel_models = re.compile(r"DG8[1-3]1( PRO)?", re.I)
    source_node = ":SOUR{}"
    output_node = ":OUTP{}"
    bool_replies = "ON/OFF"
    #: phase-align command: DG1000Z ``PHASe:INITiate``; :meth:`configure_model` picks ``PHASe:SYNChronize``
    #: for DG800/DG900 (§3.2 table "Phase align")
    phase_align = ":SOUR1:PHAS:INIT"

    def configure_model(self, model: str) -> None:
        """Adapt to the model named by ``*IDN?`` (no I/O): channel count and phase-align spelling."""
        super().configure_model(model)
        if model.strip().upper().startswith(("DG8", "DG9")):
            self.phase_align = ":SOUR1:PHAS:SYNC"

    # -- read-back after every setting ----------------------------------------------------------------
    def _set_number(self, src: str, node: str, value: float) -> None:
        """Write, drain the error queue, read back; raise if the instrument kept another value."""
        command = f"{src}:{node} {_num(value)}"
        self.set(command)
        self._raise_if_clamped(_TOLERANCE[node].mismatch(value, self.query_float(f"{src}:{node}?")), command)

    def _set_phase(self, src: str, phase_deg: float) -> None:
        """``:SOUR<n>:PHAS``, degrees (sent as 0-360, the DG range), read back (360 reads back as 0)."""
        asked = phase_deg % 360.0
        command = f"{src}:PHAS {_num(asked)}"
        self.set(command)
        self._raise_if_clamped(_readback.PHASE.mismatch(asked, self.query_float(f"{src}:PHAS?")), command)

    def _raise_if_clamped(self, mismatch: str | None, command: str) -> None:
        if mismatch is not None:
            raise InstrumentError(self.label, f"{mismatch} (silently clamped)", command)

    def set_load(self, channel: int, load_ohm: float) -> None:
        """``:OUTP<n>:IMP``: ohms (1 Ω-10 kΩ) or ``math.inf`` for ``INF`` (High-Z), §2.1; read back."""
        command = self._load_command(channel, load_ohm)
        self.set(command)
        kept = self._load(channel)
        if not _readback.load_kept(load_ohm, kept):
            raise InstrumentError(self.label, f"load (ohm): asked {load_ohm:g}, the instrument kept {kept:g} "
                                  "(silently clamped)", command)

    def set_output(self, channel: int, on: bool) -> None:
        """``:OUTP<n> ON|OFF``, then ``:OUTP<n>?`` to confirm the relay state."""
        command = self._output_command(channel, on)
        self.set(command)
        self._check_output_kept(command, on, self._output_on(channel))

    # -- across channels ------------------------------------------------------------------------------
    def sync_phase(self) -> None:
        """Align the two channels' phase: ``:SOUR1:PHAS:INIT`` (DG1000Z) or ``:SOUR1:PHAS:SYNC``
        (DG800/DG900), §3.2. Invalid while modulation is on (the error queue says so)."""
        self.set(self.phase_align)

    def tracking(self) -> Tracking:
        """``:SOUR1:TRACK?``, answered ``ON``, ``OFF`` or ``INVERTED`` (DG1000Z) / ``INV`` (DG800/DG900),
        §3.2; a single-channel model has no tracking and answers "off" without I/O."""
        if len(self.channels) < 2:
            return "off"
        return self.query_as(":SOUR1:TRACK?", tracking_from_reply, "ON, OFF or INVERTED")

    def set_tracking(self, mode: Tracking) -> None:
        """``:SOUR1:TRACK OFF|ON|INV`` (§3.2), read back: CH2 copies all CH1 settings except the output
        state ("on"), or outputs the inverse of CH1 ("inverted")."""
        word = self._tracking_word(mode)
        command = f":SOUR1:TRACK {word}"
        self.set(command)
        # DG1000Z answers ON/OFF/INVERTED, DG800/DG900 ON/OFF/INV (§3.2)
        kept = self.query(":SOUR1:TRACK?").upper()
        if not kept.startswith(word):
            raise InstrumentError(self.label, f"tracking: asked {word}, the instrument kept {kept}", command)
