"""Keysight / Agilent 33500B and 33600A (Trueform) function generators.

Facts: reference/scpi.md §3.1 (Agilent 33500 Series Operating and Service Guide: TRACk p. 315, output
termination p. 62; pymeasure ``agilent33500.py``; QCoDeS ``KeysightAgilent_33XXX.py``), §2.1-§2.4 for the
load setting, units, limits and differential drive, §1.2 for the error queue.

One spelling is used throughout: the short form with an explicit ``SOUR<n>:`` node and no leading colon
(``SOUR1:VOLT:OFFS 0``, ``OUTP1:LOAD INF``, ``SYST:ERR?``). Every command is followed by ``SYST:ERR?``
until the queue answers ``+0,"No error"``; the 33500 reports out-of-range values as ``-222`` and
conflicting amplitude/offset as ``-221`` (and adjusts the value), so the queue is the check.
"""

from __future__ import annotations

import math
import re

from .errors import InstrumentError
from .generator import ChannelState, FunctionGenerator, GeneratorLimits, Tracking
from .scpi_instrument import parse_bool

_HIGH_Z_REPLY = 1e30  # OUTP<n>:LOAD? answers +9.9E+37 for INFinity (§3.1)
_FUNCTIONS = {"SIN": "sine", "DC": "dc"}
_TRACK = {"off": "OFF", "on": "ON", "inverted": "INV"}


def _num(value: float) -> str:
    """A number as SCPI text: up to 15 significant digits, no padding (1000 -> ``1000``)."""
    return format(float(value) + 0.0, ".15g")


class Keysight33500(FunctionGenerator):
    """Keysight/Agilent 33500B (33509B-33522B) and 33600A (33611A-33622A) generators.

    Differential drive (§2.4): ``set_tracking("inverted")`` (``SOUR1:TRAC INV``: CH2 copies CH1 with the
    amplitude inverted, the DC offset is *not* inverted), or both channels at phase 0 and 180 degrees
    followed by :meth:`sync_phase` (``PHAS:SYNC``).
    """

    error_query = "SYST:ERR?"
    differential_methods = ("tracking-inverted", "phase-180")
    #: single-output models (QCoDeS channel table: 33511B, 33611A; the rest of the 33500B/33600A line
    #: follows the same odd = one channel, even = two channels numbering of the Keysight data sheet)
    single_channel_models = re.compile(r"335(09|11|19|21)[AB]|336[12]1A", re.I)
    #: the ``*IDN?`` model, once :meth:`configure_model` has been told it
    model: str | None = None

    def configure_model(self, model: str) -> None:
        """Adapt to the model named by ``*IDN?`` (no I/O): single-output models have channel 1 only."""
        self.model = model
        if self.single_channel_models.fullmatch(model.strip()):
            self.channels = (1,)

    # -- helpers --------------------------------------------------------------------------------------
    def _src(self, channel: int) -> str:
        if channel not in self.channels:
            raise ValueError(f"{self.label}: no channel {channel} (channels {self.channels})")
        return f"SOUR{channel}"

    def _order_amplitude_offset(self, channel: int, amplitude_vpp: float, offset_v: float) -> list[str]:
        """Amplitude and offset commands in an order whose intermediate state is always legal.

        §2.3: ``|offset| + Vpp/2 <= Vmax``. Growing the amplitude after the new offset, or shrinking it
        before, never passes through a state outside that rule, so the 33500 never adjusts one of them
        with a ``-221 Settings conflict`` on the way (it would keep the adjusted value).
        """
        src = self._src(channel)
        current = self.query_float(f"{src}:VOLT?")
        amp, off = f"{src}:VOLT {_num(amplitude_vpp)}", f"{src}:VOLT:OFFS {_num(offset_v)}"
        return [amp, off] if amplitude_vpp <= current else [off, amp]

    # -- per channel ----------------------------------------------------------------------------------
    def set_sine(self, channel: int, frequency_hz: float, amplitude_vpp: float, offset_v: float,
                 phase_deg: float = 0.0) -> None:
        """Sine of ``frequency_hz`` (Hz), ``amplitude_vpp`` (Vpp at the load setting), ``offset_v`` (V),
        ``phase_deg`` (degrees), with the individual commands of §3.1.

        ``APPLy:SIN`` is avoided on purpose: it reportedly switches the output on (§3.1, [L]; §6 item 8).
        """
        src = self._src(channel)
        self.set(f"{src}:FUNC SIN")
        self.set(f"{src}:VOLT:UNIT VPP")
        self.set(f"{src}:FREQ {_num(frequency_hz)}")
        for command in self._order_amplitude_offset(channel, amplitude_vpp, offset_v):
            self.set(command)
        self._set_phase(src, phase_deg)

    def set_dc(self, channel: int, level_v: float) -> None:
        """DC output at ``level_v`` volts (``FUNC DC`` then ``VOLT:OFFS``; ±5 V into 50 Ω, ±10 V High-Z)."""
        src = self._src(channel)
        self.set(f"{src}:FUNC DC")
        self.set(f"{src}:VOLT:OFFS {_num(level_v)}")

    def set_frequency(self, channel: int, frequency_hz: float) -> None:
        """``SOUR<n>:FREQ``, Hz (1 µHz to the model's maximum, §3.1)."""
        self.set(f"{self._src(channel)}:FREQ {_num(frequency_hz)}")

    def set_amplitude(self, channel: int, amplitude_vpp: float) -> None:
        """``SOUR<n>:VOLT``, Vpp at the load setting; the unit is set to VPP first (§2.2)."""
        src = self._src(channel)
        self.set(f"{src}:VOLT:UNIT VPP")
        self.set(f"{src}:VOLT {_num(amplitude_vpp)}")

    def set_offset(self, channel: int, offset_v: float) -> None:
        """``SOUR<n>:VOLT:OFFS``, V at the load setting."""
        self.set(f"{self._src(channel)}:VOLT:OFFS {_num(offset_v)}")

    def set_phase(self, channel: int, phase_deg: float) -> None:
        """``SOUR<n>:PHAS``, degrees (sent as 0-360; the angle unit is set to degrees first, §3.1)."""
        self._set_phase(self._src(channel), phase_deg)

    def _set_phase(self, src: str, phase_deg: float) -> None:
        # UNIT:ANGL is global and may have been left at RAD or SEC from the front panel.
        self.set("UNIT:ANGL DEG")
        self.set(f"{src}:PHAS {_num(phase_deg % 360.0)}")

    def set_load(self, channel: int, load_ohm: float) -> None:
        """``OUTP<n>:LOAD``: ohms (1 Ω-10 kΩ) or ``math.inf`` for ``INF`` (High-Z), §2.1."""
        self._src(channel)
        if not load_ohm > 0:
            raise ValueError(f"{self.label}: load must be > 0 ohm or math.inf, got {load_ohm!r}")
        value = "INF" if math.isinf(load_ohm) else _num(load_ohm)
        self.set(f"OUTP{channel}:LOAD {value}")

    def set_output(self, channel: int, on: bool) -> None:
        """``OUTP<n> ON|OFF``."""
        self._src(channel)
        self.set(f"OUTP{channel} {'ON' if on else 'OFF'}")

    def channel_state(self, channel: int) -> ChannelState:
        """Read back one channel (units forced to VPP and degrees first so the numbers mean what they say)."""
        src = self._src(channel)
        self.set(f"{src}:VOLT:UNIT VPP")
        self.set("UNIT:ANGL DEG")
        function = self.query(f"{src}:FUNC?").upper()
        return ChannelState(
            function=_FUNCTIONS.get(function, function.lower()),
            frequency_hz=self.query_float(f"{src}:FREQ?"),
            amplitude_vpp=self.query_float(f"{src}:VOLT?"),
            offset_v=self.query_float(f"{src}:VOLT:OFFS?"),
            phase_deg=self.query_float(f"{src}:PHAS?"),
            load_ohm=self._load(channel),
            output=self._bool(f"OUTP{channel}?"),
        )

    def limits(self, channel: int) -> GeneratorLimits:
        """The instrument's own MIN/MAX answers for the sine on ``channel`` at the current settings (§2.3).

        ``amplitude_max_vpp`` is ``VOLT? MAX`` (at the current frequency, offset and load),
        ``offset_max_v`` is ``VOLT:OFFS? MAX`` (at the current amplitude), ``frequency_max_hz`` is
        ``FREQ? MAX``. The channel must be set to a sine (the answers are per function).
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
        """``PHAS:SYNC``: reset both channels' phase accumulators to a common zero (§3.1, §2.4)."""
        self.set("PHAS:SYNC")

    def set_tracking(self, mode: Tracking) -> None:
        """``SOUR1:TRAC OFF|ON|INV`` (§3.1): CH2 copies every CH1 setting ("on") or copies it with the
        amplitude inverted ("inverted"; the offset is not inverted). A conflict leaves tracking off and
        is reported by the error queue."""
        if mode not in _TRACK:
            raise ValueError(f"{self.label}: tracking mode must be one of {sorted(_TRACK)}, got {mode!r}")
        if len(self.channels) < 2:
            raise NotImplementedError(f"{self.label}: a single-channel model has no tracking")
        self.set(f"SOUR1:TRAC {_TRACK[mode]}")

    # -- parsing --------------------------------------------------------------------------------------
    def _load(self, channel: int) -> float:
        value = self.query_float(f"OUTP{channel}:LOAD?")
        return math.inf if value >= _HIGH_Z_REPLY else value

    def _bool(self, command: str) -> bool:
        reply = self.query(command)
        try:
            return parse_bool(reply)
        except ValueError:
            raise InstrumentError(self.label, f"expected 1/0, got {reply!r}", command) from None
