"""The shape of an oscilloscope family's table: its rows grouped as the interface uses them, and what the families
write alike (the allowed couplings and impedances, a positive timebase scale).

A scope driver fills in one :class:`ScopeTable` (its ``table`` attribute); :class:`~instruments.scope.Oscilloscope`
does the rest through the shared engine (:mod:`instruments.setting_table`). Templates name the channel as ``{ch}``
(its node in the family's spelling, ``:CHANnel2``, ``C2``, ``CH2``) or ``{n}`` (its number). A channel's settings
arrive as one :class:`ChannelSetting`; :class:`ChannelChanges` is its keyword form.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TypedDict

from ._scpi_format import scope_number
from .setting_table import Allowed, Encoding, Setting, one_of

Coupling = Literal["DC", "AC"]
#: the input impedances the interface knows (Ohm); a family may offer fewer
IMPEDANCES = (50.0, 1e6)


@dataclass(frozen=True)
class ChannelSetting:
    """A channel's vertical settings to change; ``None`` leaves one as it is.

    ``scale_v_per_div`` in V/div (probe included), ``offset_v`` the IVI meaning on every family: the voltage at
    the centre of the screen (drivers whose instrument counts the other way, such as Rigol and Siglent, negate it
    on the wire), ``impedance_ohm`` 50 or 1e6, ``probe`` the probe's attenuation ratio, ``bandwidth_limit`` the
    family's ~20 MHz limit.
    """

    enabled: bool | None = None
    scale_v_per_div: float | None = None
    offset_v: float | None = None
    coupling: Coupling | None = None
    impedance_ohm: float | None = None
    probe: float | None = None
    bandwidth_limit: bool | None = None


class ChannelChanges(TypedDict, total=False):
    """:class:`ChannelSetting` as keywords (``set_channel(2, scale_v_per_div=0.1, offset_v=0.0)``)."""

    enabled: bool | None
    scale_v_per_div: float | None
    offset_v: float | None
    coupling: Coupling | None
    impedance_ohm: float | None
    probe: float | None
    bandwidth_limit: bool | None


@dataclass(frozen=True)
class ChannelRows:
    """A channel's rows, in the order a call sends them: the probe before the scale, because the scale includes the
    probe factor. ``channel_state`` reads them in :class:`~instruments.scope.ScopeChannelState`'s order."""

    enabled: Setting[bool]
    probe: Setting[float]
    scale: Setting[float]
    offset: Setting[float]
    coupling: Setting[str]
    impedance: Setting[float]
    bandwidth_limit: Setting[bool]


@dataclass(frozen=True)
class TimebaseRows:
    """The horizontal scale (s/div) and the trigger position (s); ``one_step``: both sent in one checked step."""

    scale: Setting[float]
    position: Setting[float]
    one_step: bool = False


@dataclass(frozen=True)
class EdgeTrigger:
    """An edge trigger as the family sends it: ``commands`` in order, one checked step, with ``{n}`` the source
    channel's number, ``{ch}`` its node, ``{slope}`` the family's word from ``slopes`` and ``{level}`` the level (V)."""

    commands: tuple[str, ...]
    slopes: Mapping[str, str]

    def sent(self, n: int, ch: str, slope: str, level_v: float) -> list[str]:
        """The commands for source channel ``n`` (node ``ch``), the family's ``slope`` word and ``level_v``."""
        return [c.format(n=n, ch=ch, slope=slope, level=scope_number(level_v)) for c in self.commands]


@dataclass(frozen=True)
class AcquisitionRows:
    """The acquisition mode (the family's word for each mode) and the average count; ``average_sets_mode``: the
    count travels in the mode's command (``AVERage,16``), so averaging sends the count's row only."""

    mode: Setting[str]
    average: Setting[float]
    average_sets_mode: bool = False


@dataclass(frozen=True)
class TriggerSweep:
    """Where a family keeps the trigger sweep its single acquisition replaces: the ``query``, the ``command`` that
    puts it back (``{}``: the sweep), how a reply is remembered (``reading``) and which readings mean the
    single shot (``single``)."""

    query: str
    command: str
    reading: Callable[[str], str] = str
    single: Callable[[str], bool] = lambda sweep: sweep.upper().startswith("SING")


@dataclass(frozen=True)
class ScopeTable:
    """Every row of one scope family."""

    channel: ChannelRows
    timebase: TimebaseRows
    trigger: EdgeTrigger
    acquisition: AcquisitionRows


def scope_numbers(parse: Callable[[str], float]) -> Encoding[float]:
    """Numbers as a scope sends them (:func:`~instruments._scpi_format.scope_number`), read with ``parse``."""
    return Encoding(scope_number, parse)


def centre_numbers(parse: Callable[[str], float]) -> Encoding[float]:
    """A screen-centre voltage on a family whose offset counts the other way: negated both ways."""
    return Encoding(lambda volts: scope_number(0.0 - volts), lambda reply: 0.0 - parse(reply))


def tokens(words: Mapping[str, str]) -> Callable[[str], str]:
    """A value as the family's word for it (``words[value]``)."""
    return lambda value: words[value]


def mode_words(words: Mapping[str, str]) -> Callable[[str], str]:
    """An acquisition mode reply as the interface names it: ``words`` maps the start of the family's reply (upper
    case, ``"AVER"``) to a mode (``"average"``); a reply none of them starts is returned in lower case."""
    def mode(reply: str) -> str:
        text = reply.strip().upper()
        return next((name for start, name in words.items() if text.startswith(start)), text.lower())
    return mode


COUPLINGS: Allowed[str] = one_of(("DC", "AC"), "coupling must be 'DC' or 'AC', got {value!r}")
IMPEDANCE_CHOICES: Allowed[float] = one_of(IMPEDANCES, "input impedance must be 50 or 1e6 Ohm, got {value:g}")
SCALE_ABOVE_ZERO: Allowed[float] = Allowed(lambda scale: scale > 0, "timebase scale must be > 0 s/div, got {value!r}",
                                           names_command=False)
