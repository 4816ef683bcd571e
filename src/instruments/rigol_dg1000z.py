"""Rigol DG1000Z (DG1022Z/DG1032Z/DG1062Z), DG800 (DG811-DG832) and DG900 (DG952/972/992) generators.

Facts: reference/scpi.md §3.2 (Rigol DG1000Z Programming Guide: TRACK p. 2-179, COUPling p. 2-11/2-19,
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

import math
import re

from .errors import InstrumentError
from .generator import ChannelState, FunctionGenerator, GeneratorLimits, Tracking
from .scpi_instrument import parse_bool

_HIGH_Z_REPLY = 1e30  # :OUTP<n>:IMP? answers 9.900000E+37 for INFinity (§3.2)
_FUNCTIONS = {"SIN": "sine", "DC": "dc"}
_TRACK = {"off": "OFF", "on": "ON", "inverted": "INV"}

# Read-back tolerances (relative, absolute). Replies carry 7 significant digits (§3.2); the tolerances sit
# above that rounding and the setting resolution, far below what a clamp to a limit changes.
_TOL_FREQUENCY = (1e-6, 1e-6)
_TOL_AMPLITUDE = (1e-3, 1e-4)
_TOL_OFFSET = (1e-3, 1e-3)
_TOL_PHASE_DEG = 0.05
_TOL_LOAD = (1e-4, 0.0)


def _num(value: float) -> str:
    """A number as SCPI text: up to 15 significant digits, no padding (1000 -> ``1000``)."""
    return format(float(value) + 0.0, ".15g")


class RigolDG1000Z(FunctionGenerator):
    """Rigol DG1000Z, DG800 and DG900 two-channel generators (one SCPI tree, §3.2).

    Differential drive (§2.4): ``set_tracking("inverted")`` (``:SOUR1:TRACK INV``: CH2 outputs the inverse
    of CH1; whether the offset is inverted too is unconfirmed, §6 item 1), or phase 0/180 on two channels
    followed by :meth:`sync_phase` (``:SOUR1:PHAS:INIT`` on DG1000Z, ``:SOUR1:PHAS:SYNC`` on DG800/DG900),
    run *after* the outputs are on (§2.4: switching the output only closes a relay).
    """

    error_query = ":SYST:ERR?"
    differential_methods = ("tracking-inverted", "phase-180")
    #: DG811/DG821/DG831 are the single-channel DG800 models
    single_channel_models = re.compile(r"DG8[1-3]1( PRO)?", re.I)
    #: phase-align command: DG1000Z ``PHASe:INITiate``; :meth:`configure_model` picks ``PHASe:SYNChronize``
    #: for DG800/DG900 (§3.2 table "Phase align")
    phase_align = ":SOUR1:PHAS:INIT"
    model: str | None = None

    def configure_model(self, model: str) -> None:
        """Adapt to the model named by ``*IDN?`` (no I/O): channel count and phase-align spelling."""
        self.model = model
        name = model.strip().upper()
        if self.single_channel_models.fullmatch(name):
            self.channels = (1,)
        if name.startswith(("DG8", "DG9")):
            self.phase_align = ":SOUR1:PHAS:SYNC"

    # -- helpers --------------------------------------------------------------------------------------
    def _src(self, channel: int) -> str:
        if channel not in self.channels:
            raise ValueError(f"{self.label}: no channel {channel} (channels {self.channels})")
        return f":SOUR{channel}"

    def _set_kept(self, command: str, query: str, asked: float, tol: tuple[float, float], what: str) -> float:
        """Write, drain the error queue, read back; raise if the instrument kept another value."""
        self.set(command)
        kept = self.query_float(query)
        if abs(kept - asked) > max(tol[1], tol[0] * abs(asked)):
            raise InstrumentError(self.label, f"{what}: asked {asked:g}, the instrument kept {kept:g} "
                                  "(silently clamped)", command)
        return kept

    def _set_frequency(self, src: str, frequency_hz: float) -> None:
        self._set_kept(f"{src}:FREQ {_num(frequency_hz)}", f"{src}:FREQ?", frequency_hz, _TOL_FREQUENCY,
                       "frequency (Hz)")

    def _set_amplitude(self, src: str, amplitude_vpp: float) -> None:
        self._set_kept(f"{src}:VOLT {_num(amplitude_vpp)}", f"{src}:VOLT?", amplitude_vpp, _TOL_AMPLITUDE,
                       "amplitude (Vpp)")

    def _set_offset(self, src: str, offset_v: float) -> None:
        self._set_kept(f"{src}:VOLT:OFFS {_num(offset_v)}", f"{src}:VOLT:OFFS?", offset_v, _TOL_OFFSET,
                       "offset (V)")

    def _set_phase(self, src: str, phase_deg: float) -> None:
        asked = phase_deg % 360.0  # the DG range is 0-360 degrees
        command = f"{src}:PHAS {_num(asked)}"
        self.set(command)
        kept = self.query_float(f"{src}:PHAS?")
        if abs((kept - asked + 180.0) % 360.0 - 180.0) > _TOL_PHASE_DEG:
            raise InstrumentError(self.label, f"phase (deg): asked {asked:g}, the instrument kept {kept:g} "
                                  "(silently clamped)", command)

    # -- per channel ----------------------------------------------------------------------------------
    def set_sine(self, channel: int, frequency_hz: float, amplitude_vpp: float, offset_v: float,
                 phase_deg: float = 0.0) -> None:
        """Sine of ``frequency_hz`` (Hz), ``amplitude_vpp`` (Vpp at the load setting), ``offset_v`` (V),
        ``phase_deg`` (degrees); every value read back.

        Amplitude and offset go in the order that never passes through a state outside
        ``|offset| + Vpp/2 <= Vmax`` (§2.3): the amplitude first when it shrinks, last when it grows, so
        the instrument never clamps silently on the way.
        """
        src = self._src(channel)
        self.set(f"{src}:FUNC SIN")
        self.set(f"{src}:VOLT:UNIT VPP")
        self._set_frequency(src, frequency_hz)
        if amplitude_vpp <= self.query_float(f"{src}:VOLT?"):
            self._set_amplitude(src, amplitude_vpp)
            self._set_offset(src, offset_v)
        else:
            self._set_offset(src, offset_v)
            self._set_amplitude(src, amplitude_vpp)
        self._set_phase(src, phase_deg)

    def set_dc(self, channel: int, level_v: float) -> None:
        """DC output at ``level_v`` volts: ``:SOUR<n>:FUNC DC`` then the offset, read back."""
        src = self._src(channel)
        self.set(f"{src}:FUNC DC")
        self._set_offset(src, level_v)

    def set_frequency(self, channel: int, frequency_hz: float) -> None:
        """``:SOUR<n>:FREQ``, Hz, read back (sine 1 µHz to 25-100 MHz by model, §3.2)."""
        self._set_frequency(self._src(channel), frequency_hz)

    def set_amplitude(self, channel: int, amplitude_vpp: float) -> None:
        """``:SOUR<n>:VOLT``, Vpp at the load setting (unit set to VPP first, §2.2), read back."""
        src = self._src(channel)
        self.set(f"{src}:VOLT:UNIT VPP")
        self._set_amplitude(src, amplitude_vpp)

    def set_offset(self, channel: int, offset_v: float) -> None:
        """``:SOUR<n>:VOLT:OFFS``, V at the load setting, read back."""
        self._set_offset(self._src(channel), offset_v)

    def set_phase(self, channel: int, phase_deg: float) -> None:
        """``:SOUR<n>:PHAS``, degrees (sent as 0-360, the DG range), read back."""
        self._set_phase(self._src(channel), phase_deg)

    def set_load(self, channel: int, load_ohm: float) -> None:
        """``:OUTP<n>:IMP``: ohms (1 Ω-10 kΩ) or ``math.inf`` for ``INF`` (High-Z), §2.1; read back."""
        self._src(channel)
        if not load_ohm > 0:
            raise ValueError(f"{self.label}: load must be > 0 ohm or math.inf, got {load_ohm!r}")
        command = f":OUTP{channel}:IMP {'INF' if math.isinf(load_ohm) else _num(load_ohm)}"
        self.set(command)
        kept = self._load(channel)
        same = math.isinf(kept) if math.isinf(load_ohm) else abs(kept - load_ohm) <= _TOL_LOAD[0] * load_ohm
        if not same:
            raise InstrumentError(self.label, f"load (ohm): asked {load_ohm:g}, the instrument kept {kept:g} "
                                  "(silently clamped)", command)

    def set_output(self, channel: int, on: bool) -> None:
        """``:OUTP<n> ON|OFF``, then ``:OUTP<n>?`` to confirm the relay state."""
        self._src(channel)
        command = f":OUTP{channel} {'ON' if on else 'OFF'}"
        self.set(command)
        kept = self._bool(f":OUTP{channel}?")
        if kept != on:
            raise InstrumentError(self.label, f"output: asked {'ON' if on else 'OFF'}, the instrument reads "
                                  f"back {'ON' if kept else 'OFF'}", command)

    def channel_state(self, channel: int) -> ChannelState:
        """Read back one channel (the amplitude unit is set to VPP first so the number is Vpp)."""
        src = self._src(channel)
        self.set(f"{src}:VOLT:UNIT VPP")
        function = self.query(f"{src}:FUNC?").upper()
        return ChannelState(
            function=_FUNCTIONS.get(function, function.lower()),
            frequency_hz=self.query_float(f"{src}:FREQ?"),
            amplitude_vpp=self.query_float(f"{src}:VOLT?"),
            offset_v=self.query_float(f"{src}:VOLT:OFFS?"),
            phase_deg=self.query_float(f"{src}:PHAS?"),
            load_ohm=self._load(channel),
            output=self._bool(f":OUTP{channel}?"),
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
        """Align the two channels' phase: ``:SOUR1:PHAS:INIT`` (DG1000Z) or ``:SOUR1:PHAS:SYNC``
        (DG800/DG900), §3.2. Invalid while modulation is on (the error queue says so)."""
        self.set(self.phase_align)

    def set_tracking(self, mode: Tracking) -> None:
        """``:SOUR1:TRACK OFF|ON|INV`` (§3.2), read back: CH2 copies all CH1 settings except the output
        state ("on"), or outputs the inverse of CH1 ("inverted")."""
        if mode not in _TRACK:
            raise ValueError(f"{self.label}: tracking mode must be one of {sorted(_TRACK)}, got {mode!r}")
        if len(self.channels) < 2:
            raise NotImplementedError(f"{self.label}: a single-channel model has no tracking")
        command = f":SOUR1:TRACK {_TRACK[mode]}"
        self.set(command)
        # DG1000Z answers ON/OFF/INVERTED, DG800/DG900 ON/OFF/INV (§3.2)
        kept = self.query(":SOUR1:TRACK?").upper()
        if not kept.startswith(_TRACK[mode]):
            raise InstrumentError(self.label, f"tracking: asked {_TRACK[mode]}, the instrument kept {kept}",
                                  command)

    # -- parsing --------------------------------------------------------------------------------------
    def _load(self, channel: int) -> float:
        value = self.query_float(f":OUTP{channel}:IMP?")
        return math.inf if value >= _HIGH_Z_REPLY else value

    def _bool(self, command: str) -> bool:
        reply = self.query(command)
        try:
            return parse_bool(reply)
        except ValueError:
            raise InstrumentError(self.label, f"expected ON/OFF, got {reply!r}", command) from None
