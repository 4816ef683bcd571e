"""Tektronix AFG31000 function generators (and the AFG3000 / AFG1000 lines that share the command set).

Facts: docs/reference/scpi.md §3.4 (pymeasure ``tektronix/afg3152c.py``; QCoDeS-contrib
``Tektronix/AFG3000.py``; asvela ``tektronix_func_gen.py`` for AFG1022/AFG1062/AFG3022; QuTech QMI
``tektronix/afg31000.py``, tested on an AFG31022; an AFG1062 lab README with measured behaviour),
§2.1-§2.4, §1.2.

AFG1000 implements a subset of the AFG3000 commands and AFG31000 a superset (§3.4), so one driver serves
all three; the differences it knows are the phase range (AFG3000/AFG31000 -180..+180 degrees, AFG1062
rejected negative phases) and the single-channel models. One spelling is used throughout: the short form
with an explicit ``SOUR<n>:`` node and no leading colon (``SOUR1:VOLT:OFFS 0``, ``OUTP1:IMP INF``,
``SYST:ERR?``). Every command is followed by ``SYST:ERR?`` until the queue answers ``0,"No error"``.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

from ._scpi_format import leading_number, scpi_number
from ._scpi_source import SOURCE_ROWS, ScpiSourceGenerator, output_flag
from .generator import LOAD_ABOVE_ZERO, load_encoding
from .setting_table import Encoding, Setting, apply

#: the SCPI-99 rows (:data:`~instruments._scpi_source.SOURCE_ROWS`, every one checked by ``SYST:ERR?``) but the
#: phase, always sent with a ``DEG`` suffix (a bare number is taken as radians, AFG1062 measured, §3.4) and read
#: back in radians, and the load, read leniently (the AFG1062 appended an ohm sign to the number, §3.4)
ROWS = replace(
    SOURCE_ROWS,
    phase=Setting("phase", "deg", "SOUR{n}:PHAS {}DEG", "SOUR{n}:PHAS?",
                  Encoding(scpi_number, lambda reply: math.degrees(float(reply)))),
    load=Setting("load", "ohm", "OUTP{n}:IMP {}", "OUTP{n}:IMP?", load_encoding("INF", leading_number),
                 LOAD_ABOVE_ZERO),
)
#: ``SOUR1:FREQ:CONC``: CH2 follows CH1's frequency (front-panel "frequency lock", §3.4)
FREQUENCY_LOCK = Setting("frequency lock", "", "SOUR1:FREQ:CONC {}", "SOUR1:FREQ:CONC?", output_flag("1/0"))


class TektronixAFG31000(ScpiSourceGenerator):
    """Tektronix AFG31000 (AFG31021-AFG31252), AFG3000 and AFG1022/AFG1062 generators.

    Differential drive (§2.4): channel 2 at phase 180 degrees, :meth:`set_frequency_lock` on
    (``SOUR1:FREQ:CONC ON``), then :meth:`sync_phase` (``SOUR1:PHAS:INIT``). There is no channel tracking.

    The SOURce/OUTPut commands are the rows of :data:`ROWS` (``OUTP<n>:IMP`` 1 Ω-10 kΩ or ``INF``, whose query
    answers 9.9E+37 for INFinity, §2.1, §3.4); the phase is always sent with a ``DEG`` suffix and read back in
    radians.
    """

    rows = ROWS
    error_query = "SYST:ERR?"
    differential_methods = ("phase-180",)
    #: single-output models: AFG31xx1 / AFG3xx1 (AFG31021, AFG3011C, AFG3021C, AFG3101, AFG3251 ...)
    single_channel_models = re.compile(r"AFG3\d{2,3}1[BC]?", re.I)
    #: phase sent in -180..+180 (AFG3000/AFG31000, QCoDeS-contrib validator); AFG1000 wants 0..360
    phase_from_zero = False

    def configure_model(self, model: str) -> None:
        """Adapt to the model named by ``*IDN?`` (no I/O): channel count and phase range."""
        super().configure_model(model)
        self.phase_from_zero = model.strip().upper().startswith("AFG10")

    # -- family spelling ------------------------------------------------------------------------------
    def _phase_value(self, phase_deg: float) -> float:
        """The phase in -180..+180 degrees (0..360 on AFG1000)."""
        p = phase_deg % 360.0
        if not self.phase_from_zero and p > 180.0:
            p -= 360.0
        return p

    # -- across channels ------------------------------------------------------------------------------
    def sync_phase(self) -> None:
        """``SOUR1:PHAS:INIT``: synchronise the CH1/CH2 phase once (§3.4)."""
        self.set("SOUR1:PHAS:INIT")

    def set_frequency_lock(self, on: bool) -> None:
        """``SOUR1:FREQ:CONC ON|OFF``: CH2 follows CH1's frequency (front-panel "frequency lock", §3.4)."""
        if len(self.channels) < 2:
            raise NotImplementedError(f"{self.label}: a single-channel model has no frequency lock")
        apply(self, FREQUENCY_LOCK.to(on))
