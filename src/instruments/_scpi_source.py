"""The SOURce/OUTPut tree shared by the SCPI-99 generator families: Keysight 33500 (docs/reference/scpi.md
§3.1), Rigol DG (§3.2) and Tektronix AFG (§3.4).

The three spell a channel's settings alike -- ``<src>:FUNC SIN|DC``, ``<src>:FREQ``, ``<src>:VOLT`` after
``<src>:VOLT:UNIT VPP`` (§2.2), ``<src>:VOLT:OFFS``, ``<src>:PHAS``, ``<out>:<load node>``, ``<out> ON|OFF``
and the ``MIN``/``MAX`` queries of §2.3 -- and differ in the spelling of the nodes (a leading colon on
Rigol, ``LOAD`` or ``IMP``), of the phase, and in whether a setting is read back after the error queue.
:class:`ScpiSourceGenerator` does what they share; each driver sets its spelling and overrides the steps
it does differently (:meth:`~ScpiSourceGenerator._set_number`, :meth:`~ScpiSourceGenerator._set_phase`).
"""

from __future__ import annotations

from abc import abstractmethod

from ._scpi_format import scpi_number
from .errors import InstrumentError
from .generator import (
    ChannelState,
    FunctionGenerator,
    GeneratorLimits,
    Tracking,
    amplitude_offset_order,
    load_from_reply,
)

_FUNCTIONS = {"SIN": "sine", "DC": "dc"}
_TRACK = {"off": "OFF", "on": "ON", "inverted": "INV"}


class ScpiSourceGenerator(FunctionGenerator):
    """A generator programmed through ``SOURce<n>:`` and ``OUTPut<n>`` nodes (see the module docstring)."""

    #: the channel's OUTPut node, ``{}`` standing for its number (``OUTP{}`` -> ``OUTP1``)
    output_node: str = "OUTP{}"
    #: the load-setting node under OUTPut: ``LOAD`` (33500) or ``IMP`` (Rigol DG, Tektronix AFG), §2.1
    load_node: str = "IMP"
    #: the replies the family gives to a boolean query, as an error message names them
    bool_replies: str = "1/0"

    # -- spelling ---------------------------------------------------------------------------------------
    def _out(self, channel: int) -> str:
        """The channel's OUTPut node (:attr:`output_node`), after the channel check."""
        return self.output_node.format(self._check_channel(channel))

    def _load_command(self, channel: int, load_ohm: float) -> str:
        """``<out>:<load node> <ohm>|INF`` (§2.1); raises :class:`ValueError` before any I/O."""
        return f"{self._out(channel)}:{self.load_node} {self._load_text(load_ohm)}"

    def _output_command(self, channel: int, on: bool) -> str:
        """``<out> ON|OFF``."""
        return f"{self._out(channel)} {'ON' if on else 'OFF'}"

    def _tracking_word(self, mode: Tracking) -> str:
        """``OFF``/``ON``/``INV`` for a tracking mode; a bad mode or a single-channel model raises (no I/O)."""
        if mode not in _TRACK:
            raise ValueError(f"{self.label}: tracking mode must be one of {sorted(_TRACK)}, got {mode!r}")
        if len(self.channels) < 2:
            raise NotImplementedError(f"{self.label}: a single-channel model has no tracking")
        return _TRACK[mode]

    # -- the steps the families do differently --------------------------------------------------------
    def _set_number(self, src: str, node: str, value: float) -> None:
        """``<src>:<node> <value>``, checked by the error queue; a family that clamps silently reads back."""
        self.set(f"{src}:{node} {scpi_number(value)}")

    @abstractmethod
    def _set_phase(self, src: str, phase_deg: float) -> None:
        """Set the phase in degrees, in the family's range and spelling."""

    def _prepare_readback(self, src: str) -> None:
        """Units before a channel is read back: the amplitude in Vpp (§2.2)."""
        self.set(f"{src}:VOLT:UNIT VPP")

    def _phase_deg(self, reply: float) -> float:
        """The phase query's number in degrees (the unit the family answers in)."""
        return reply

    def _load(self, channel: int) -> float:
        """The load setting read back: ohms, or ``math.inf`` for High-Z."""
        return load_from_reply(self.query_float(f"{self._out(channel)}:{self.load_node}?"))

    def _output_on(self, channel: int) -> bool:
        """The output state read back."""
        return self.query_bool(f"{self._out(channel)}?", expected=self.bool_replies)

    # -- per channel --------------------------------------------------------------------------------------
    def set_sine(self, channel: int, frequency_hz: float, amplitude_vpp: float, offset_v: float,
                 phase_deg: float = 0.0) -> None:
        """Sine of ``frequency_hz`` (Hz), ``amplitude_vpp`` (Vpp at the load setting), ``offset_v`` (V),
        ``phase_deg`` (degrees), one command per setting.

        The present amplitude is read first (``<src>:VOLT?``) so amplitude and offset go in the order of
        :func:`~instruments.generator.amplitude_offset_order` (§2.3).
        """
        src = self._src(channel)
        self.set(f"{src}:FUNC SIN")
        self.set(f"{src}:VOLT:UNIT VPP")
        self._set_number(src, "FREQ", frequency_hz)
        current = self.query_float(f"{src}:VOLT?")
        for node, value in amplitude_offset_order(amplitude_vpp, current, ("VOLT", amplitude_vpp),
                                                  ("VOLT:OFFS", offset_v)):
            self._set_number(src, node, value)
        self._set_phase(src, phase_deg)

    def set_dc(self, channel: int, level_v: float) -> None:
        """DC output at ``level_v`` volts: ``<src>:FUNC DC`` then ``<src>:VOLT:OFFS``."""
        src = self._src(channel)
        self.set(f"{src}:FUNC DC")
        self._set_number(src, "VOLT:OFFS", level_v)

    def set_frequency(self, channel: int, frequency_hz: float) -> None:
        """``<src>:FREQ``, Hz."""
        self._set_number(self._src(channel), "FREQ", frequency_hz)

    def set_amplitude(self, channel: int, amplitude_vpp: float) -> None:
        """``<src>:VOLT``, Vpp at the load setting; the unit is set to VPP first (§2.2)."""
        src = self._src(channel)
        self.set(f"{src}:VOLT:UNIT VPP")
        self._set_number(src, "VOLT", amplitude_vpp)

    def set_offset(self, channel: int, offset_v: float) -> None:
        """``<src>:VOLT:OFFS``, V at the load setting."""
        self._set_number(self._src(channel), "VOLT:OFFS", offset_v)

    def set_phase(self, channel: int, phase_deg: float) -> None:
        """``<src>:PHAS``, degrees (range and spelling per family)."""
        self._set_phase(self._src(channel), phase_deg)

    def set_load(self, channel: int, load_ohm: float) -> None:
        """``<out>:<load node>``: ohms (1 Ω-10 kΩ) or ``math.inf`` for ``INF`` (High-Z), §2.1."""
        self.set(self._load_command(channel, load_ohm))

    def set_output(self, channel: int, on: bool) -> None:
        """``<out> ON|OFF``."""
        self.set(self._output_command(channel, on))

    def channel_state(self, channel: int) -> ChannelState:
        """Read back one channel (after :meth:`_prepare_readback` sets the units the numbers are in)."""
        src = self._src(channel)
        self._prepare_readback(src)
        function = self.query(f"{src}:FUNC?").upper()
        return ChannelState(
            function=_FUNCTIONS.get(function, function.lower()),
            frequency_hz=self.query_float(f"{src}:FREQ?"),
            amplitude_vpp=self.query_float(f"{src}:VOLT?"),
            offset_v=self.query_float(f"{src}:VOLT:OFFS?"),
            phase_deg=self._phase_deg(self.query_float(f"{src}:PHAS?")),
            load_ohm=self._load(channel),
            output=self._output_on(channel),
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
