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
from ._scpi_source import NUMBER, ScpiSourceGenerator, SourceRows, output_flag, tracking_modes
from .generator import LOAD_ABOVE_ZERO, load_encoding
from .setting_table import KEPT, WORD, ReadBack, Setting, fixed

# Read back within the tolerances of _readback (replies carry 7 significant digits, §3.2)
CLAMPED = KEPT + " (silently clamped)"
FREQUENCY: ReadBack[float] = ReadBack(_readback.FREQUENCY, CLAMPED)
AMPLITUDE: ReadBack[float] = ReadBack(_readback.AMPLITUDE, CLAMPED)
OFFSET: ReadBack[float] = ReadBack(_readback.OFFSET, CLAMPED)
PHASE: ReadBack[float] = ReadBack(_readback.PHASE, CLAMPED)  # sent as 0-360; 360 reads back as 0
LOAD: ReadBack[float] = ReadBack(_readback.LOAD, CLAMPED)

#: the SCPI-99 tree with a leading colon; every numeric setting, the load, the output state and the tracking mode
#: are read back after the error queue is drained (the DG clamps out-of-range values silently)
ROWS = SourceRows(
    function=Setting("function", "", ":SOUR{n}:FUNC {}", ":SOUR{n}:FUNC?", WORD),
    amplitude_unit=fixed("amplitude unit", ":SOUR{n}:VOLT:UNIT VPP"),
    frequency=Setting("frequency", "Hz", ":SOUR{n}:FREQ {}", ":SOUR{n}:FREQ?", NUMBER, check=FREQUENCY),
    amplitude=Setting("amplitude", "Vpp", ":SOUR{n}:VOLT {}", ":SOUR{n}:VOLT?", NUMBER, check=AMPLITUDE),
    offset=Setting("offset", "V", ":SOUR{n}:VOLT:OFFS {}", ":SOUR{n}:VOLT:OFFS?", NUMBER, check=OFFSET),
    phase=Setting("phase", "deg", ":SOUR{n}:PHAS {}", ":SOUR{n}:PHAS?", NUMBER, check=PHASE),
    load=Setting("load", "ohm", ":OUTP{n}:IMP {}", ":OUTP{n}:IMP?", load_encoding("INF"), LOAD_ABOVE_ZERO, LOAD),
    output=Setting("output", "", ":OUTP{n} {}", ":OUTP{n}?", output_flag("ON/OFF"),
                   check=ReadBack(says="{what}: asked {asked}, the instrument reads back {kept}")),
    # TRACK in capitals: the DG1000Z guide has no short form, and it is the long form of DG800/DG900 TRACk;
    # DG1000Z answers ON/OFF/INVERTED, DG800/DG900 ON/OFF/INV
    tracking=Setting("tracking", "", ":SOUR1:TRACK {}", ":SOUR1:TRACK?", tracking_modes("ON, OFF or INVERTED"),
                     check=ReadBack(says="{name}: asked {sent}, the instrument kept {reply}", shows=str.upper)),
)


class RigolDG1000Z(ScpiSourceGenerator):
    """Rigol DG1000Z, DG800 and DG900 two-channel generators (one SCPI tree, §3.2).

    Differential drive (§2.4): ``set_tracking("inverted")`` (``:SOUR1:TRACK INV``: CH2 outputs the inverse
    of CH1; whether the offset is inverted too is unconfirmed, §6 item 1), or phase 0/180 on two channels
    followed by :meth:`sync_phase` (``:SOUR1:PHAS:INIT`` on DG1000Z, ``:SOUR1:PHAS:SYNC`` on DG800/DG900),
    run *after* the outputs are on (§2.4: switching the output only closes a relay).

    The SOURce/OUTPut commands are the rows of :data:`ROWS`, the SCPI-99 tree with a
    leading colon (``:SOUR<n>:FREQ``, sine 1 µHz to 25-100 MHz by model; ``:OUTP<n>:IMP`` 1 Ω-10 kΩ or
    ``INF``, whose query answers 9.900000E+37 for INFinity), each numeric setting, the load, the output
    state and the tracking mode read back after the error queue is drained.
    """

    rows = ROWS
    error_query = ":SYST:ERR?"
    differential_methods = ("tracking-inverted", "phase-180")
    #: DG811/DG821/DG831 are the single-channel DG800 models
    single_channel_models = re.compile(r"DG8[1-3]1( PRO)?", re.I)
    #: phase-align command: DG1000Z ``PHASe:INITiate``; :meth:`configure_model` picks ``PHASe:SYNChronize``
    #: for DG800/DG900 (§3.2 table "Phase align")
    phase_align = ":SOUR1:PHAS:INIT"

    def configure_model(self, model: str) -> None:
        """Adapt to the model named by ``*IDN?`` (no I/O): channel count and phase-align spelling."""
        super().configure_model(model)
        if model.strip().upper().startswith(("DG8", "DG9")):
            self.phase_align = ":SOUR1:PHAS:SYNC"

    # -- across channels ------------------------------------------------------------------------------
    def sync_phase(self) -> None:
        """Align the two channels' phase: ``:SOUR1:PHAS:INIT`` (DG1000Z) or ``:SOUR1:PHAS:SYNC``
        (DG800/DG900), §3.2. Invalid while modulation is on (the error queue says so)."""
        self.set(self.phase_align)
