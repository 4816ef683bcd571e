"""The units of a lot: drawn from tolerances (simulated), listed, or typed by the operator (a barcode scanner
types like a keyboard), each with its serial number."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from procedures.lot.config import SERIAL_PATTERN, LotConfig
from procedures.lot.tolerances import draw_lot


@dataclass(frozen=True)
class PlannedUnit:
    """One unit: its serial and, when drawn, the board the simulator carries and its drawn component values
    (SI units, by dotted name)."""

    serial: str
    board_text: str | None = None
    components: dict[str, float] = field(default_factory=dict)


def drawn_serial(lot_name: str, k: int) -> str:
    """The serial of drawn unit ``k`` (0-based): the lot's name (spaces as ``_``) and ``k + 1`` on four digits."""
    return f"{re.sub(r'[^A-Za-z0-9._-]', '_', lot_name)}-{k + 1:04d}"


def plan_units(lot: LotConfig, ask: Callable[[str], str] = input, say: Callable[[str], None] = print
               ) -> list[PlannedUnit]:
    """The lot's units in test order: drawn (:func:`procedures.lot.tolerances.draw_lot`), listed, or typed."""
    if lot.drawn:
        assert lot.tolerances is not None
        return [PlannedUnit(drawn_serial(lot.name, u.index), u.board_text, dict(u.components))
                for u in draw_lot(lot.board, lot.tolerances, lot.units)]
    if lot.serials:
        return [PlannedUnit(serial) for serial in lot.serials]
    return [PlannedUnit(serial) for serial in typed_serials(ask, say)]


def typed_serials(ask: Callable[[str], str], say: Callable[[str], None]) -> list[str]:
    """Serials typed (or scanned) one per line until an empty line or the end of input; a malformed or repeated
    serial is said and asked again."""
    serials: list[str] = []
    while True:
        try:
            line = ask(f"serial of unit {len(serials) + 1} (empty line: done): ").strip()
        except EOFError:
            break
        if not line:
            break
        if not re.fullmatch(SERIAL_PATTERN, line):
            say(f"{line!r} is not a serial number (letters, digits, '._-', at most 64): scan it again")
        elif line in serials:
            say(f"{line} is already in this lot: scan the next unit")
        else:
            serials.append(line)
    return serials
