"""Tektronix AFG31000 function generators (and the AFG3000 / AFG1000 lines that share the command set).

Facts: reference/scpi.md §3.4 (pymeasure ``tektronix/afg3152c.py``; QCoDeS-contrib
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

from .errors import InstrumentError
from .generator import ChannelState, FunctionGenerator, GeneratorLimits
from .scpi_instrument import parse_bool

_HIGH_Z_REPLY = 1e30  # OUTP<n>:IMP? answers 9.9E+37 for INFinity (§3.4)
_LEADING_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_FUNCTIONS = {"SIN": "sine", "DC": "dc"}


def _num(value: float) -> str:
    """A number as SCPI text: up to 15 significant digits, no padding (1000 -> ``1000``)."""
    return format(float(value) + 0.0, ".15g")


class TektronixAFG31000(FunctionGenerator):
    """Tektronix AFG31000 (AFG31021-AFG31252), AFG3000 and AFG1022/AFG1062 generators.

    Differential drive (§2.4): channel 2 at phase 180 degrees, :meth:`set_frequency_lock` on
    (``SOUR1:FREQ:CONC ON``), then :meth:`sync_phase` (``SOUR1:PHAS:INIT``). There is no channel tracking.
    """

    error_query = "SYST:ERR?"
    differential_methods = ("phase-180",)
    #: single-output models: AFG31xx1 / AFG3xx1 (AFG31021, AFG3011C, AFG3021C, AFG3101, AFG3251 ...)
    single_channel_models = re.compile(r"AFG3\d{2,3}1[BC]?", re.I)
    #: phase sent in -180..+180 (AFG3000/AFG31000, QCoDeS-contrib validator); AFG1000 wants 0..360
    phase_from_zero = False
    model: str | None = None

    def configure_model(self, model: str) -> None:
        """Adapt to the model named by ``*IDN?`` (no I/O): channel count and phase range."""
        self.model = model
        name = model.strip().upper()
        if self.single_channel_models.fullmatch(name):
            self.channels = (1,)
        self.phase_from_zero = name.startswith("AFG10")

    # -- helpers --------------------------------------------------------------------------------------
    def _src(self, channel: int) -> str:
        if channel not in self.channels:
            raise ValueError(f"{self.label}: no channel {channel} (channels {self.channels})")
        return f"SOUR{channel}"

    def _phase_text(self, phase_deg: float) -> str:
        # Always with the DEG suffix: a bare number is taken as radians (AFG1062 measured, §3.4).
        p = phase_deg % 360.0
        if not self.phase_from_zero and p > 180.0:
            p -= 360.0
        return f"{_num(p)}DEG"

    # -- per channel ----------------------------------------------------------------------------------
    def set_sine(self, channel: int, frequency_hz: float, amplitude_vpp: float, offset_v: float,
                 phase_deg: float = 0.0) -> None:
        """Sine of ``frequency_hz`` (Hz), ``amplitude_vpp`` (Vpp at the load setting), ``offset_v`` (V),
        ``phase_deg`` (degrees).

        Amplitude and offset go in the order that never passes through a state outside
        ``|offset| + Vpp/2 <= Vmax`` (§2.3): the amplitude first when it shrinks, last when it grows.
        """
        src = self._src(channel)
        self.set(f"{src}:FUNC SIN")
        self.set(f"{src}:VOLT:UNIT VPP")
        self.set(f"{src}:FREQ {_num(frequency_hz)}")
        amp, off = f"{src}:VOLT {_num(amplitude_vpp)}", f"{src}:VOLT:OFFS {_num(offset_v)}"
        for command in ([amp, off] if amplitude_vpp <= self.query_float(f"{src}:VOLT?") else [off, amp]):
            self.set(command)
        self.set(f"{src}:PHAS {self._phase_text(phase_deg)}")

    def set_dc(self, channel: int, level_v: float) -> None:
        """DC output at ``level_v`` volts: ``SOUR<n>:FUNC DC`` then ``SOUR<n>:VOLT:OFFS``."""
        src = self._src(channel)
        self.set(f"{src}:FUNC DC")
        self.set(f"{src}:VOLT:OFFS {_num(level_v)}")

    def set_frequency(self, channel: int, frequency_hz: float) -> None:
        """``SOUR<n>:FREQ``, Hz."""
        self.set(f"{self._src(channel)}:FREQ {_num(frequency_hz)}")

    def set_amplitude(self, channel: int, amplitude_vpp: float) -> None:
        """``SOUR<n>:VOLT``, Vpp at the load setting (``SOUR<n>:VOLT:UNIT VPP`` first, §2.2)."""
        src = self._src(channel)
        self.set(f"{src}:VOLT:UNIT VPP")
        self.set(f"{src}:VOLT {_num(amplitude_vpp)}")

    def set_offset(self, channel: int, offset_v: float) -> None:
        """``SOUR<n>:VOLT:OFFS``, V at the load setting."""
        self.set(f"{self._src(channel)}:VOLT:OFFS {_num(offset_v)}")

    def set_phase(self, channel: int, phase_deg: float) -> None:
        """``SOUR<n>:PHAS <deg>DEG`` (-180..+180; 0..360 on AFG1000)."""
        self.set(f"{self._src(channel)}:PHAS {self._phase_text(phase_deg)}")

    def set_load(self, channel: int, load_ohm: float) -> None:
        """``OUTP<n>:IMP``: ohms (1 Ω-10 kΩ) or ``math.inf`` for ``INF`` (High-Z), §2.1, §3.4."""
        self._src(channel)
        if not load_ohm > 0:
            raise ValueError(f"{self.label}: load must be > 0 ohm or math.inf, got {load_ohm!r}")
        self.set(f"OUTP{channel}:IMP {'INF' if math.isinf(load_ohm) else _num(load_ohm)}")

    def set_output(self, channel: int, on: bool) -> None:
        """``OUTP<n> ON|OFF``."""
        self._src(channel)
        self.set(f"OUTP{channel} {'ON' if on else 'OFF'}")

    def channel_state(self, channel: int) -> ChannelState:
        """Read back one channel (amplitude unit set to VPP first; the phase query answers in radians,
        §3.4, and is returned in degrees)."""
        src = self._src(channel)
        self.set(f"{src}:VOLT:UNIT VPP")
        function = self.query(f"{src}:FUNC?").upper()
        return ChannelState(
            function=_FUNCTIONS.get(function, function.lower()),
            frequency_hz=self.query_float(f"{src}:FREQ?"),
            amplitude_vpp=self.query_float(f"{src}:VOLT?"),
            offset_v=self.query_float(f"{src}:VOLT:OFFS?"),
            phase_deg=math.degrees(self.query_float(f"{src}:PHAS?")),
            load_ohm=self._load(channel),
            output=self._bool(f"OUTP{channel}?"),
        )

    def limits(self, channel: int) -> GeneratorLimits:
        """The instrument's MIN/MAX answers for the sine on ``channel`` at the current settings (§2.3).

        ``amplitude_max_vpp`` is ``VOLT? MAX`` (at the current frequency, offset and load),
        ``offset_max_v`` is ``VOLT:OFFS? MAX`` (at the current amplitude), ``frequency_max_hz`` is
        ``FREQ? MAX``. The channel must be set to a sine.
        """
        src = self._src(channel)
        function = self.query(f"{src}:FUNC?").upper()
        if function != "SIN":
            raise InstrumentError(self.label, f"limits are for a sine but channel {channel} is set to "
                                  f"{function}; call set_sine first", f"{src}:FUNC?")
        self.set(f"{src}:VOLT:UNIT VPP")
        return GeneratorLimits(
            amplitude_min_vpp=self.query_float(f"{src}:VOLT? MIN"),
            amplitude_max_vpp=self.query_float(f"{src}:VOLT? MAX"),
            offset_max_v=self.query_float(f"{src}:VOLT:OFFS? MAX"),
            frequency_max_hz=self.query_float(f"{src}:FREQ? MAX"),
        )

    # -- across channels ------------------------------------------------------------------------------
    def sync_phase(self) -> None:
        """``SOUR1:PHAS:INIT``: synchronise the CH1/CH2 phase once (§3.4)."""
        self.set("SOUR1:PHAS:INIT")

    def set_frequency_lock(self, on: bool) -> None:
        """``SOUR1:FREQ:CONC ON|OFF``: CH2 follows CH1's frequency (front-panel "frequency lock", §3.4)."""
        if len(self.channels) < 2:
            raise NotImplementedError(f"{self.label}: a single-channel model has no frequency lock")
        self.set(f"SOUR1:FREQ:CONC {'ON' if on else 'OFF'}")

    # -- parsing --------------------------------------------------------------------------------------
    def _load(self, channel: int) -> float:
        command = f"OUTP{channel}:IMP?"
        reply = self.query(command)
        # lenient: the AFG1062 appended an ohm sign to the number (§3.4)
        m = _LEADING_NUMBER.match(reply)
        if not m:
            raise InstrumentError(self.label, f"expected a number, got {reply!r}", command)
        value = float(m.group(0))
        return math.inf if value >= _HIGH_Z_REPLY else value

    def _bool(self, command: str) -> bool:
        reply = self.query(command)
        try:
            return parse_bool(reply)
        except ValueError:
            raise InstrumentError(self.label, f"expected 1/0, got {reply!r}", command) from None
