"""What the simulated scope families share: the SCPI device over a :class:`~.scope_state.ScopeState`, built
from the family's command table, and the command rules the Keysight InfiniiVision and Rigol DS1000Z
dialects have in common (docs/reference/scpi.md §4.1, §4.2).

A family module (:mod:`.keysight_infiniivision`, :mod:`.rigol_ds1000z`) gives its hardware figures, its
memory plan, its ``*RST`` state and its command table as rows ``(pattern, command handler, query handler)``;
this module builds the rows that look alike (per-channel settings, the preamble's single-field queries) and
holds the read-side rules both follow (which acquisition a read returns, the points/format keywords).
"""

from __future__ import annotations

import abc
from collections.abc import Callable

from .acquisition import Acquisition, Geometry
from .scope_state import ChannelSettings, Imperfections, ScopeHardware, ScopeState, Screen, SignalSource
from .scpi_device import CommandRow, Dialect, Handler, ScpiDevice, query_of, suffixed_command, suffixed_query
from .scpi_parser import ScpiError, parse_bool, parse_choice, parse_number

#: (index in the preamble, header node) of the fields both families also serve as single queries
PREAMBLE_FIELD_QUERIES = ((4, "XINCrement"), (5, "XORigin"), (6, "XREFerence"), (7, "YINCrement"), (8, "YORigin"),
                          (9, "YREFerence"))


class SimScope(ScpiDevice, abc.ABC):
    """A simulated four-channel scope: a :class:`ScopeState` fed by the bench and the family's command table.

    Subclasses give :meth:`memory_plan`, :meth:`commands` and :meth:`preamble_fields`, and extend
    :meth:`reset` with their own ``*RST`` state.
    """

    #: the family's spelling of the averaging acquisition type (``:ACQuire:TYPE``)
    average_spelling = "AVERage"

    def __init__(self, dialect: Dialect, hardware: ScopeHardware, source: SignalSource,
                 imperfections: Imperfections, seed: int) -> None:
        super().__init__(dialect)
        self.state = ScopeState(hardware, imperfections, source, self.memory_plan, ChannelSettings(), seed=seed)
        self.register(self.commands())
        self.reset()

    @abc.abstractmethod
    def memory_plan(self, state: ScopeState) -> tuple[Geometry, Screen]:
        """The raw record (geometry) and the screen the present settings acquire: the family's memory rule."""

    @abc.abstractmethod
    def commands(self) -> list[CommandRow]:
        """The family's command table, in lookup order."""

    @abc.abstractmethod
    def preamble_fields(self) -> list[str]:
        """The ten ``:WAVeform:PREamble?`` fields, formatted as the family sends them."""

    def reset(self) -> None:
        """``*RST`` as both families do it: the state's factory settings with channel 1 on, the others off."""
        self.state.reset()
        for n in (2, 3, 4):
            self.state.channel(n).display = False

    # -- channels -------------------------------------------------------------------------------------
    def ch(self, suffix: int | None) -> int:
        """Channel from a header suffix; a channel the scope lacks is an undefined header (-113)."""
        n = 1 if suffix is None else suffix
        if not 1 <= n <= 4:
            raise ScpiError(-113, f"channel {n}")
        return n

    def channel_command(self, fn: Callable[[ChannelSettings, str], None]) -> Handler:
        """A one-parameter command on ``CHANnel<n>``: ``fn(settings of channel n, param)``."""
        return suffixed_command(self.ch, lambda n, v: fn(self.state.channel(n), v))

    def channel_query(self, fn: Callable[[ChannelSettings], str]) -> Handler:
        """A query on ``CHANnel<n>``: ``fn(settings of channel n)``."""
        return suffixed_query(self.ch, lambda n: fn(self.state.channel(n)))

    def channel_flag(self, pattern: str, attr: str) -> CommandRow:
        """A boolean channel setting: ``ON|OFF|1|0`` sets ``attr`` of the channel, the query answers 1 or 0."""
        return CommandRow(pattern, self.channel_command(lambda c, v: setattr(c, attr, parse_bool(v))),
                          self.channel_query(lambda c: "1" if getattr(c, attr) else "0"))

    # -- acquisition and reading ----------------------------------------------------------------------
    def set_acq_type(self, value: str) -> None:
        """``:ACQuire:TYPE``: NORMal, the family's AVERage spelling or HRESolution; PEAK is not modelled (-221)."""
        average = self.average_spelling
        v = parse_choice(value, ("NORMal", average, "HRESolution", "PEAK"))
        if v == "PEAK":
            raise ScpiError(-221, "the simulator does not model PEAK detect")
        self.state.acq_type = {"NORMAL": "NORM", average.upper(): "AVER", "HRESOLUTION": "HRES"}[v]

    def acquisition_for_read(self, fresh: bool) -> Acquisition | None:
        """The acquisition a waveform read uses: while running a new one when ``fresh`` (a data read) or when
        none exists yet, else the last one; a pending single completes first if it can."""
        st = self.state
        if st.run_state == "RUN":
            return st.current() if fresh or st.last is None else st.last
        if st.run_state == "SINGLE":
            st.poll_single()
        return st.last

    def preamble_field_rows(self) -> list[CommandRow]:
        """``:WAVeform:XINCrement?`` ... ``:YREFerence?``: one field of the preamble each."""
        return [CommandRow(f"WAVeform:{name}", query=query_field(self.preamble_fields, i))
                for i, name in PREAMBLE_FIELD_QUERIES]


def query_field(fields: Callable[[], list[str]], i: int) -> Handler:
    """A query answering field ``i`` of ``fields()``."""
    return query_of(lambda: fields()[i])


def read_mode(value: str) -> str:
    """Points/waveform mode keyword: ``NORMal``, ``MAXimum`` or ``RAW`` -> ``NORM``, ``MAX``, ``RAW``."""
    v = parse_choice(value, ("NORMal", "MAXimum", "RAW"))
    return {"NORMAL": "NORM", "MAXIMUM": "MAX"}.get(v, v)


def data_format(value: str) -> str:
    """Waveform format keyword: ``BYTE``, ``WORD`` or ``ASCii`` -> ``BYTE``, ``WORD``, ``ASC``."""
    v = parse_choice(value, ("BYTE", "WORD", "ASCii"))
    return "ASC" if v == "ASCII" else v


def volts(text: str) -> float:
    """A voltage parameter (``V`` with any SI prefix), V."""
    return float(parse_number(text, units=("V",)))


def seconds(text: str) -> float:
    """A time parameter (``S`` with any SI prefix), s."""
    return float(parse_number(text, units=("S",)))


def only(value: str, choices: tuple[str, ...], modelled: str) -> None:
    """Accept a documented choice only if the simulator models it; the others are -221."""
    if parse_choice(value, choices) != modelled:
        raise ScpiError(-221, f"the simulator models {modelled} only")
