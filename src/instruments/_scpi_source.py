"""The SOURce/OUTPut tree shared by the SCPI-99 generator families: Keysight 33500 (docs/reference/scpi.md
§3.1), Rigol DG (§3.2) and Tektronix AFG (§3.4).

The three spell a channel's settings alike -- ``SOUR<n>:FUNC SIN|DC``, ``SOUR<n>:FREQ``, ``SOUR<n>:VOLT`` after
``SOUR<n>:VOLT:UNIT VPP`` (§2.2), ``SOUR<n>:VOLT:OFFS``, ``SOUR<n>:PHAS``, ``OUTP<n>:<load node>``, ``OUTP<n>
ON|OFF`` and the ``MIN``/``MAX`` queries of §2.3 -- and differ in the spelling of the nodes (a leading colon on
Rigol, ``LOAD`` or ``IMP``), of the phase, and in whether a setting is read back after the error queue.
:data:`SOURCE_ROWS` is that tree as a table (``{n}``: the channel number), every row checked by the error queue;
a family replaces the rows it spells or checks differently, and :class:`ScpiSourceGenerator` sends them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from ._scpi_format import scpi_number
from .errors import InstrumentError
from .generator import (
    LOAD_ABOVE_ZERO,
    ChannelState,
    FunctionGenerator,
    GeneratorLimits,
    Tracking,
    amplitude_offset_order,
    load_encoding,
    tracking_from_reply,
)
from .scpi_instrument import parse_bool
from .setting_table import WORD, Encoding, Setting, apply, fixed, on_off, read, read_all

_FUNCTIONS = {"SIN": "sine", "DC": "dc"}
_TRACK = {"off": "OFF", "on": "ON", "inverted": "INV"}
V = TypeVar("V")

#: numbers as a generator sends them: a float's full 15 digits (12345.678 Hz is set exactly)
NUMBER = Encoding(scpi_number, float)


def output_flag(replies: str) -> Encoding[bool]:
    """The output state: ``ON``/``OFF`` sent, read with :func:`~instruments.scpi_instrument.parse_bool`;
    ``replies`` names the family's answers in the error for any other (``1/0``)."""
    return Encoding(on_off, parse_bool, f"expected {replies}, got {{reply!r}}")


def tracking_modes(replies: str) -> Encoding[Tracking]:
    """A tracking mode: sent as ``OFF``/``ON``/``INV``, read with
    :func:`~instruments.generator.tracking_from_reply`; ``replies`` names the family's answers in the error."""
    return Encoding(lambda mode: _TRACK[mode], tracking_from_reply, f"expected {replies}, got {{reply!r}}")


@dataclass(frozen=True)
class SourceRows:
    """One SCPI-99 generator family's table. ``angle_unit``: a command sent as its own step before any phase is
    set or read (the 33500's global ``UNIT:ANGL``); ``tracking``: the channel-2-follows-1 row, if the family has
    one (the value is the interface's mode, sent as ``OFF``/``ON``/``INV``)."""

    function: Setting[str]
    amplitude_unit: Setting[None]
    frequency: Setting[float]
    amplitude: Setting[float]
    offset: Setting[float]
    phase: Setting[float]
    load: Setting[float]
    output: Setting[bool]
    angle_unit: Setting[None] | None = None
    tracking: Setting[Tracking] | None = None


SOURCE_ROWS = SourceRows(
    function=Setting("function", "", "SOUR{n}:FUNC {}", "SOUR{n}:FUNC?", WORD),
    amplitude_unit=fixed("amplitude unit", "SOUR{n}:VOLT:UNIT VPP"),
    frequency=Setting("frequency", "Hz", "SOUR{n}:FREQ {}", "SOUR{n}:FREQ?", NUMBER),
    amplitude=Setting("amplitude", "Vpp", "SOUR{n}:VOLT {}", "SOUR{n}:VOLT?", NUMBER),  # at the load setting
    offset=Setting("offset", "V", "SOUR{n}:VOLT:OFFS {}", "SOUR{n}:VOLT:OFFS?", NUMBER),
    phase=Setting("phase", "deg", "SOUR{n}:PHAS {}", "SOUR{n}:PHAS?", NUMBER),
    # ohms (1 Ohm-10 kOhm) or INF (High-Z), whose query answers 9.9E+37 (§2.1)
    load=Setting("load", "ohm", "OUTP{n}:IMP {}", "OUTP{n}:IMP?", load_encoding("INF"), LOAD_ABOVE_ZERO),
    output=Setting("output", "", "OUTP{n} {}", "OUTP{n}?", output_flag("1/0")),
)


class ScpiSourceGenerator(FunctionGenerator):
    """A generator programmed through ``SOURce<n>:`` and ``OUTPut<n>`` nodes (see the module docstring): every
    setter sends its rows of :attr:`rows`, one checked step each."""

    rows: SourceRows = SOURCE_ROWS

    def __init__(self, resource: Any, label: str | None = None) -> None:
        super().__init__(resource, label)
        # what this driver has sent, so that it is not asked or sent again (forget_settings() drops it)
        self._amplitude_sent: dict[int, float] = {}  # channel -> Vpp
        self._units_sent: set[int] = set()  # channels whose amplitude unit is VPP
        self._angle_unit_sent = False
        self._output_on: dict[int, bool] = {}  # channel -> output state as last sent or read

    def _forget_settings(self) -> None:
        """Forget the amplitudes, units and output states this driver sent: they are asked or sent again."""
        self._amplitude_sent.clear()
        self._output_on.clear()
        self._units_sent.clear()
        self._angle_unit_sent = False

    def _amplitude_unit(self, n: int) -> None:
        """The amplitude in Vpp (§2.2), unless this driver has already set it on channel ``n``."""
        if n not in self._units_sent:
            apply(self, self.rows.amplitude_unit.to(None, n=n))
            self._units_sent.add(n)

    def _angle_unit(self) -> None:
        """The family's angle unit, if it has one and this driver has not set it yet."""
        if self.rows.angle_unit is not None and not self._angle_unit_sent:
            apply(self, self.rows.angle_unit.to(None))
            self._angle_unit_sent = True

    # -- the steps the families spell differently -------------------------------------------------------
    def _phase_value(self, phase_deg: float) -> float:
        """The phase as the family takes it: 0-360 degrees (a family with another range overrides)."""
        return phase_deg % 360.0

    def _set_phase(self, n: int, phase_deg: float) -> None:
        """The angle unit (if the family has one), then the phase row."""
        self._angle_unit()
        apply(self, self.rows.phase.to(self._phase_value(phase_deg), n=n))

    def _prepare_readback(self, n: int) -> None:
        """Units before a channel is read back: the amplitude in Vpp (§2.2), and the angle unit if any (each
        only if this driver has not set it already)."""
        self._amplitude_unit(n)
        self._angle_unit()

    def _tracking_word(self, mode: Tracking) -> str:
        """``OFF``/``ON``/``INV`` for a tracking mode; a bad mode or a single-channel model raises (no I/O)."""
        if mode not in _TRACK:
            raise ValueError(f"{self.label}: tracking mode must be one of {sorted(_TRACK)}, got {mode!r}")
        if len(self.channels) < 2:
            raise NotImplementedError(f"{self.label}: a single-channel model has no tracking")
        return _TRACK[mode]

    # -- per channel --------------------------------------------------------------------------------------
    def set_sine(self, channel: int, frequency_hz: float, amplitude_vpp: float, offset_v: float,
                 phase_deg: float = 0.0) -> None:
        """Sine of ``frequency_hz`` (Hz), ``amplitude_vpp`` (Vpp at the load setting), ``offset_v`` (V),
        ``phase_deg`` (degrees), one command per setting.

        The present amplitude (the one this driver last set, else read: ``SOUR<n>:VOLT?``) decides the order of
        amplitude and offset (:func:`~instruments.generator.amplitude_offset_order`, §2.3).
        """
        n, rows = self._check_channel(channel), self.rows
        apply(self, rows.function.to("SIN", n=n))
        self._amplitude_unit(n)
        apply(self, rows.frequency.to(frequency_hz, n=n))
        current = self._amplitude_sent.get(n)
        if current is None:
            current = read(self, rows.amplitude, n=n)
        for change in amplitude_offset_order(amplitude_vpp, current, rows.amplitude.to(amplitude_vpp, n=n),
                                             rows.offset.to(offset_v, n=n)):
            apply(self, change)
        self._amplitude_sent[n] = amplitude_vpp
        self._set_phase(n, phase_deg)

    def set_dc(self, channel: int, level_v: float) -> None:
        """DC output at ``level_v`` volts: ``SOUR<n>:FUNC DC`` then ``SOUR<n>:VOLT:OFFS``."""
        n = self._check_channel(channel)
        self._amplitude_sent.pop(n, None)  # asked again before the next sine
        apply(self, self.rows.function.to("DC", n=n))
        apply(self, self.rows.offset.to(level_v, n=n))

    def set_frequency(self, channel: int, frequency_hz: float) -> None:
        """``SOUR<n>:FREQ``, Hz."""
        apply(self, self.rows.frequency.to(frequency_hz, n=self._check_channel(channel)))

    def set_amplitude(self, channel: int, amplitude_vpp: float) -> None:
        """``SOUR<n>:VOLT``, Vpp at the load setting; the unit is set to VPP first (§2.2)."""
        n = self._check_channel(channel)
        self._amplitude_unit(n)
        apply(self, self.rows.amplitude.to(amplitude_vpp, n=n))
        self._amplitude_sent[n] = amplitude_vpp

    def set_offset(self, channel: int, offset_v: float) -> None:
        """``SOUR<n>:VOLT:OFFS``, V at the load setting."""
        apply(self, self.rows.offset.to(offset_v, n=self._check_channel(channel)))

    def set_phase(self, channel: int, phase_deg: float) -> None:
        """``SOUR<n>:PHAS``, degrees (range and spelling per family)."""
        self._set_phase(self._check_channel(channel), phase_deg)

    def set_load(self, channel: int, load_ohm: float) -> None:
        """``OUTP<n>:<load node>``: ohms (1 Ω-10 kΩ) or ``math.inf`` for ``INF`` (High-Z), §2.1; a load that is
        not > 0 raises :class:`ValueError` before any I/O."""
        apply(self, self.rows.load.to(load_ohm, n=self._check_channel(channel)))

    def set_output(self, channel: int, on: bool) -> None:
        """``OUTP<n> ON|OFF``. ON is not sent again to an output this driver switched on and has not seen off
        since; OFF is always sent."""
        n = self._check_channel(channel)
        if on and self._output_on.get(n) is True:
            return
        self._output_on.pop(n, None)
        apply(self, self.rows.output.to(on, n=n))
        self._output_on[n] = on

    def channel_state(self, channel: int) -> ChannelState:
        """Read back one channel (after :meth:`_prepare_readback` sets the units the numbers are in, one checked
        step); the queries travel together where the family answers compound queries."""
        n, rows = self._check_channel(channel), self.rows
        with self.checked_step():
            self._prepare_readback(n)
        nodes = {"n": n}
        function, frequency, amplitude, offset, phase, load, output = read_all(self, [
            (rows.function, nodes), (rows.frequency, nodes), (rows.amplitude, nodes), (rows.offset, nodes),
            (rows.phase, nodes), (rows.load, nodes), (rows.output, nodes)])
        self._output_on[n] = bool(output)
        return ChannelState(function=_FUNCTIONS.get(function, function.lower()), frequency_hz=frequency,
                            amplitude_vpp=amplitude, offset_v=offset, phase_deg=phase, load_ohm=load, output=output)

    def limits(self, channel: int) -> GeneratorLimits:
        """The instrument's own MIN/MAX answers for the sine on ``channel`` at the current settings (§2.3).

        ``amplitude_max_vpp`` is ``VOLT? MAX`` (at the current frequency, offset and load),
        ``offset_max_v`` is ``VOLT:OFFS? MAX`` (at the current amplitude), ``frequency_max_hz`` is
        ``FREQ? MAX``. The channel must be set to a sine (the answers are per function).
        """
        n, rows = self._check_channel(channel), self.rows
        function = read(self, rows.function, n=n)
        if function != "SIN":
            raise InstrumentError(self.label, f"limits are for a sine but channel {channel} is set to "
                                  f"{function}; call set_sine first", _query(rows.function, n))
        apply(self, rows.amplitude_unit.to(None, n=n))
        return GeneratorLimits(
            amplitude_min_vpp=self.query_float(f"{_query(rows.amplitude, n)} MIN"),
            amplitude_max_vpp=self.query_float(f"{_query(rows.amplitude, n)} MAX"),
            offset_max_v=self.query_float(f"{_query(rows.offset, n)} MAX"),
            frequency_max_hz=self.query_float(f"{_query(rows.frequency, n)} MAX"),
        )

    # -- tracking (families with a tracking row) ------------------------------------------------------------
    def set_tracking(self, mode: Tracking) -> None:
        """Channel 2 follows channel 1 ("on") or follows it inverted ("inverted"); "off" to release: the
        tracking row. Families without one raise :class:`NotImplementedError`."""
        if self.rows.tracking is None:
            super().set_tracking(mode)
            return
        self._tracking_word(mode)
        apply(self, self.rows.tracking.to(mode))

    def tracking(self) -> Tracking:
        """The tracking row read back; "off" without I/O on a family without one or a single-channel model."""
        if self.rows.tracking is None or len(self.channels) < 2:
            return "off"
        return read(self, self.rows.tracking)


def _query(row: Setting[V], n: int) -> str:
    """``row``'s query for channel ``n``."""
    return (row.query or "").format(n=n)

