"""A family's settings as a table, and the one engine that sends and checks them.

A driver declares each setting it writes as a row, a :class:`Setting`: what error messages call it and its unit,
the command and the query (templates: ``{}`` is the value's text, ``{ch}``/``{n}`` and the like name the channel),
how a value travels (:class:`Encoding`), the values it accepts (:class:`Allowed`) and the check that follows the
write. The check column says one of two things (docs/reference/scpi.md §1.2):

* :data:`ERRORS` -- the family's own error mechanism: :meth:`~instruments.scpi_instrument.ScpiInstrument.set`
  writes, then drains the error queue (or the registers a family has instead) and raises with the instrument's text;
* :class:`ReadBack` -- that, then the query, its reply compared with what was asked (:class:`Tolerance`): for the
  settings a family keeps, clamps or ignores without any error (Rigol, Siglent).

A row bound to a value is a :class:`Change` (:meth:`Setting.to`). :func:`apply` sends changes as one checked step
(every command, one error check, then the read-backs), :func:`apply_each` one step per change; both refuse a value
outside its row's allowed values before a single byte of the call is sent. :func:`read` asks a row's query.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeAlias, TypeVar

from .errors import InstrumentError
from .scpi_instrument import ScpiInstrument

V = TypeVar("V")

#: how a read-back mismatch reads where the family checks by reading back what it set (scopes)
READS_BACK = "{what} set to {asked} but the instrument reads back {kept}"
#: ... and where the family keeps another value (generators)
KEPT = "{what}: asked {asked}, the instrument kept {kept}"


def shown(value: object) -> str:
    """A value as error messages show it: a boolean ``ON``/``OFF``, an integer in full, a float with ``:g``."""
    if isinstance(value, bool):
        return "ON" if value else "OFF"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True)
class Tolerance:
    """How far a number read back may be from what was asked: ``max(abs_tol, rel * |asked|)``.

    ``wrap_deg`` compares angles modulo 360 degrees (0 and 360 are the same phase); ``high_z`` is for a load, where
    an asked ``math.inf`` (High-Z) must read back infinite and a finite load within ``rel``. With
    ``reference_codes`` the bound also allows ``reference / reference_codes``, ``reference`` being given when the
    change is made (:meth:`at`): for a scope's offset, the channel's V/div over its ADC codes per division, one code.
    Values that are not both numbers must be equal. A NaN reply is not a mismatch (except for a load).
    """

    rel: float = 0.0
    abs_tol: float = 0.0
    wrap_deg: bool = False
    high_z: bool = False
    reference_codes: float = 0.0
    reference: float = 0.0

    def at(self, reference: float) -> Tolerance:
        """This tolerance with its ``reference`` value (a scale read or asked for, in the value's unit per div)."""
        return replace(self, reference=reference)

    def __call__(self, asked: object, got: object) -> bool:
        """True if ``got`` (read back) is ``asked`` within the tolerance."""
        if isinstance(asked, (int, float)) and isinstance(got, (int, float)) \
                and not isinstance(asked, bool) and not isinstance(got, bool):
            return self._numbers_kept(float(asked), float(got))
        return asked == got

    def _numbers_kept(self, a: float, g: float) -> bool:
        if self.high_z:
            return math.isinf(g) if math.isinf(a) else abs(g - a) <= self.rel * a
        diff = g - a
        if self.wrap_deg:
            diff = (diff + 180.0) % 360.0 - 180.0
        bound = max(self.abs_tol, self.rel * abs(a))
        if self.reference_codes:
            bound = max(bound, self.reference / self.reference_codes)
        return not abs(diff) > bound


#: equal, or equal numbers
EXACT = Tolerance()


@dataclass(frozen=True)
class Encoding(Generic[V]):
    """How a value travels: ``text`` makes the command's argument, ``parse`` reads a reply (already stripped of
    white space) and raises :class:`ValueError` on one it cannot read; ``unreadable`` is then the error, with
    ``{reply}`` the reply and ``{why}`` the parser's own words."""

    text: Callable[[V], str]
    parse: Callable[[str], V]
    unreadable: str = "expected a number, got {reply!r}"


@dataclass(frozen=True)
class Allowed(Generic[V]):
    """The values a setting accepts; any other is refused before a byte is sent, with ``refusal`` (``{value}``
    is the value). ``names_command``: the error names the command's header. ``error``: the exception type
    (:class:`ValueError` for an argument the generator interface itself refuses, else InstrumentError)."""

    accepts: Callable[[V], bool]
    refusal: str
    names_command: bool = True
    error: type[Exception] = InstrumentError


def one_of(choices: Collection[V], refusal: str, *, names_command: bool = True) -> Allowed[V]:
    """Exactly one of ``choices``."""
    return Allowed(lambda value: value in choices, refusal, names_command)


@dataclass(frozen=True)
class ErrorCheck:
    """The family's error check only (see the module docstring)."""


#: the check column's "error queue": the family's error mechanism after the write, nothing more
ERRORS = ErrorCheck()


@dataclass(frozen=True)
class ReadBack(Generic[V]):
    """After the error check, ask the query and compare: ``match(asked, kept)`` (a :class:`Tolerance` or any
    such test) must hold, else :class:`InstrumentError` with ``says``, formatted with ``what`` (name and unit),
    ``name``, ``unit``, ``asked``/``kept`` (as :func:`shown`), ``sent`` (the value's command text), ``got`` (the
    value read) and ``reply`` (the reply as ``shows`` gives it)."""

    match: Callable[[V, V], bool] = EXACT
    says: str = READS_BACK
    shows: Callable[[str], str] = str


Check: TypeAlias = ErrorCheck | ReadBack[V]


@dataclass(frozen=True)
class Change:
    """A setting bound to a value: the ``commands`` to send, the error it raises instead when the value is not
    allowed (``refusal``: label -> exception or None), and the read-back after the error check (``verify``).
    ``send``: a step a family sends its own way, after the commands (it reads what it needs first)."""

    commands: tuple[str, ...]
    refusal: Callable[[str], Exception | None] = lambda label: None
    verify: Callable[[ScpiInstrument], None] | None = None
    send: Callable[[ScpiInstrument], None] | None = None


@dataclass(frozen=True)
class Setting(Generic[V]):
    """One row of a family's table (see the module docstring).

    ``command`` ``None``: nothing is sent (a value the family cannot change, ``only``, or one that travels in
    another row's command). ``before``: commands sent first, in the same checked step (``CH1:POSition 0``).
    ``only``: the one value the instrument has; reading it needs no query.
    """

    name: str
    unit: str
    command: str | None
    query: str | None
    encoding: Encoding[V]
    allowed: Allowed[V] | None = None
    check: Check[V] = ERRORS
    before: tuple[str, ...] = ()
    only: V | None = None

    @property
    def what(self) -> str:
        """The name with its unit, as error messages say it: ``vertical scale (V/div)``."""
        return f"{self.name} ({self.unit})" if self.unit else self.name

    def to(self, value: V, *, reference: Callable[[], float] | None = None, **nodes: object) -> Change:
        """This row bound to ``value``: the command text with ``nodes`` filled in (no I/O). A value the row does not
        allow binds to its refusal only. ``reference``: asked after the write, when the tolerance needs one
        (:class:`Tolerance`)."""
        refusal = self._refusal(value, nodes)
        if refusal is not None:
            return Change((), refusal)
        if self.command is None:
            return Change(())
        command = self.command.format(self.encoding.text(value), **nodes)
        commands = tuple(c.format(**nodes) for c in self.before) + (command,)
        check = self.check
        if not isinstance(check, ReadBack):
            return Change(commands)
        return Change(commands, verify=lambda inst: self._verify(inst, check, value, command, reference, nodes))

    def _refusal(self, value: V, nodes: dict[str, object]) -> Callable[[str], Exception] | None:
        """The error for ``value`` (given the instrument's label) if the row does not allow it, else None."""
        allowed = self.allowed
        if allowed is None or allowed.accepts(value):
            return None
        message = allowed.refusal.format(value=value)
        header = (self.command or "").split(" ", 1)[0].format(**nodes) if allowed.names_command else ""
        if allowed.error is InstrumentError:
            return lambda label: InstrumentError(label, message, header or None)
        return lambda label: allowed.error(f"{label}: {message}")

    def disagreement(self, asked: V, got: V, reply: str) -> str | None:
        """What the read-back check says when ``got`` (parsed from ``reply``) is not ``asked``; None when it is
        (or when the row is checked by the error queue alone)."""
        check = self.check
        if not isinstance(check, ReadBack):
            return None
        match = check.match
        return None if match(asked, got) else check.says.format(
            what=self.what, name=self.name, unit=self.unit, asked=shown(asked), kept=shown(got),
            sent=self.encoding.text(asked), got=got, reply=check.shows(reply))

    def _verify(self, inst: ScpiInstrument, check: ReadBack[V], asked: V, command: str,
                reference: Callable[[], float] | None, nodes: dict[str, object]) -> None:
        row = self
        if isinstance(check.match, Tolerance) and check.match.reference_codes:
            if reference is None:
                raise ValueError(f"{self.what}: the read-back tolerance needs a reference")
            row = replace(self, check=replace(check, match=check.match.at(reference())))
        reply, got = _ask(inst, self, nodes)
        wrong = row.disagreement(asked, got, reply)
        if wrong is not None:
            raise InstrumentError(inst.label, wrong, command)


def _ask(inst: ScpiInstrument, setting: Setting[V], nodes: dict[str, object]) -> tuple[str, V]:
    """``setting``'s query with ``nodes``: (the reply, the value parsed from it)."""
    if setting.query is None:
        raise ValueError(f"{setting.what}: the table has no query for it")
    query = setting.query.format(**nodes)
    reply = inst.query(query)
    try:
        return reply, setting.encoding.parse(reply)
    except ValueError as exc:
        raise InstrumentError(inst.label, setting.encoding.unreadable.format(reply=reply, why=exc), query) from None


def read(inst: ScpiInstrument, setting: Setting[V], **nodes: object) -> V:
    """The value of ``setting`` as the instrument answers its query (a setting with ``only`` asks nothing)."""
    if setting.only is not None:
        return setting.only
    return _ask(inst, setting, nodes)[1]


def read_all(inst: ScpiInstrument, rows: Sequence[tuple[Setting[Any], Mapping[str, object]]]) -> list[Any]:
    """The values of several rows, each ``(setting, nodes)``, in order: the queries travel together where the
    family answers compound queries (:meth:`~instruments.scpi_instrument.ScpiInstrument.query_all`); a row with
    ``only`` asks nothing."""
    asked = [(i, setting.query.format(**nodes)) for i, (setting, nodes) in enumerate(rows)
             if setting.only is None and setting.query is not None]
    missing = [setting.what for setting, _ in rows if setting.only is None and setting.query is None]
    if missing:
        raise ValueError(f"{missing[0]}: the table has no query for it")
    replies = dict(zip((i for i, _ in asked), inst.query_all([q for _, q in asked]), strict=True))
    values: list[Any] = []
    for i, (setting, _) in enumerate(rows):
        if setting.only is not None:
            values.append(setting.only)
            continue
        reply = replies[i]
        try:
            values.append(setting.encoding.parse(reply))
        except ValueError as exc:
            query = dict(asked)[i]
            raise InstrumentError(inst.label, setting.encoding.unreadable.format(reply=reply, why=exc),
                                  query) from None
    return values


def refuse(inst: ScpiInstrument, changes: Sequence[Change]) -> None:
    """Raise the first refusal among ``changes`` (nothing is sent)."""
    for change in changes:
        error = change.refusal(inst.label)
        if error is not None:
            raise error


def apply(inst: ScpiInstrument, *changes: Change) -> None:
    """Send ``changes`` as one checked step: refusals first, every command, the error check, then the read-backs."""
    refuse(inst, changes)
    commands = [command for change in changes for command in change.commands]
    if commands:
        inst.set(*commands)
    for change in changes:
        if change.send is not None:
            change.send(inst)
        if change.verify is not None:
            change.verify(inst)


def apply_each(inst: ScpiInstrument, changes: Sequence[Change]) -> None:
    """Send ``changes`` one checked step each, in order, after refusing any value not allowed (nothing sent)."""
    refuse(inst, changes)
    for change in changes:
        apply(inst, change)


def bound(setting: Setting[V], value: V | None, *, reference: Callable[[], float] | None = None,
          **nodes: object) -> list[Change]:
    """``[setting.to(value, ...)]``, or ``[]`` when ``value`` is None (a setting left as it is)."""
    return [] if value is None else [setting.to(value, reference=reference, **nodes)]


def on_off(on: bool) -> str:
    """``ON``/``OFF``."""
    return "ON" if on else "OFF"


def one_zero(on: bool) -> str:
    """``1``/``0``."""
    return "1" if on else "0"


def word(reply: str) -> str:
    """A word reply in upper case (never unreadable)."""
    return reply.upper()


def integer_text(value: float) -> str:
    """A count as command text (``64``)."""
    return str(int(value))


#: a word sent as it is and read back in upper case (a coupling: ``AC``)
WORD: Encoding[str] = Encoding(str, word)


def fixed(name: str, command: str) -> Setting[None]:
    """A command that carries no value (``:ACQuire:MMANagement FMDepth``), as a row: ``fixed(...).to(None)``."""
    return Setting(name, "", command, None, Encoding(lambda _: "", lambda _: None))
