"""A lot config (``configs/lots/<name>.toml``): which design, which procedure, which units, on which benches.

::

    [lot]
    name = "bjt-lot"
    board = "../boards/bjt-source-text.toml"         # the design the units are judged against
    procedure = "../procedures/frequency-sweep.toml"
    units = 30                                       # drawn from [tolerances] (simulated benches only)
    # serials = ["A0001", "A0002"]                   # or the serial numbers, listed
    # operator = true                                # or typed (or scanned) by the operator, one per unit

    [benches]                                        # each bench: a worker that owns its instruments
    bench-a = "../benches/sim-keysight.toml"
    bench-b = "../benches/sim-keysight.toml"

    [tolerances]                                     # procedures.lot.tolerances.Tolerances
    resistor_pct = 1.0

The limits are the design's own (its board config's ``[pass_fail]``): every unit is judged by the verdicts a
single run gives. Paths are relative to the lot file. Every problem is one :class:`~instruments.errors.ConfigError`
line naming the file and the key, raised before any instrument or worker is touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from instruments.bench_config import BenchConfig, load_bench
from instruments.board_config import BoardConfig, load_board
from instruments.config_schema import NAME_PATTERN, Section, load_toml, optional, required, validate
from instruments.errors import ConfigError
from procedures.config.procedure import ProcedureConfig, load_procedure
from procedures.lot.tolerances import Tolerances

#: serial numbers: what a barcode holds (letters, digits, ``-_.``), 1-64 characters; each names a file
SERIAL_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"

SCHEMA = {
    "lot": Section({
        "name": required(str, pattern=NAME_PATTERN),
        "description": optional(str, ""),
        "board": required(str),
        "procedure": required(str),
        "units": optional(int, 0, lo=0, hi=100_000, doc="units drawn from [tolerances]"),
        "serials": optional(list, [], item_kind=str, pattern=SERIAL_PATTERN,
                            form="a serial number (letters, digits, '._-')", max_items=100_000),
        "operator": optional(bool, False, doc="serials typed by the operator"),
    }),
    "benches": Section({}, open=True),
    "tolerances": Section({}, optional=True, open=True),
}


@dataclass(frozen=True)
class LotConfig:
    """A validated lot config. ``benches`` maps each bench's name to its config; ``source`` is the lot file."""

    source: str
    name: str
    description: str
    board_path: Path
    board: BoardConfig
    procedure_path: Path
    procedure: ProcedureConfig
    units: int
    serials: tuple[str, ...]
    operator: bool
    bench_paths: dict[str, Path]
    benches: dict[str, BenchConfig]
    tolerances: Tolerances | None

    @property
    def drawn(self) -> bool:
        """Whether the units are drawn from tolerances (a simulated lot)."""
        return self.units > 0


def load_lot(path: str | Path) -> LotConfig:
    """Load and validate a lot config and every config it names (one-line :class:`ConfigError` on any problem)."""
    p = Path(path)
    doc = load_toml(p)
    source = str(p)
    v = validate(source, SCHEMA, doc)
    lot = v["lot"]
    ways = [way for way, given in (("units", lot["units"] > 0), ("serials", bool(lot["serials"])),
                                   ("operator", lot["operator"])) if given]
    if len(ways) != 1:
        raise ConfigError(source, "[lot] units", "give exactly one of units (drawn from [tolerances]), serials "
                                                 f"(listed) or operator = true (typed), got {ways or 'none'}")
    _check_serials(source, lot["serials"])
    base = p.parent
    board_path, procedure_path = base / lot["board"], base / lot["procedure"]
    board, procedure = load_board(board_path), load_procedure(procedure_path)
    bench_paths, benches = _benches(source, base, v["benches"])
    tolerances = _tolerances(source, doc.get("tolerances"), lot["units"] > 0, benches)
    return LotConfig(source, lot["name"], lot["description"], board_path, board, procedure_path, procedure,
                     lot["units"], tuple(lot["serials"]), lot["operator"], bench_paths, benches, tolerances)


def _check_serials(source: str, serials: list[str]) -> None:
    seen: set[str] = set()
    for serial in serials:
        if serial in seen:
            raise ConfigError(source, "[lot] serials", f"serial {serial!r} is listed twice")
        seen.add(serial)


def _benches(source: str, base: Path, table: dict[str, Any]) -> tuple[dict[str, Path], dict[str, BenchConfig]]:
    """Each ``[benches]`` entry's path and loaded config; at least one bench."""
    if not table:
        raise ConfigError(source, "[benches]", "name at least one bench: <name> = \"<bench config path>\"")
    paths, configs = {}, {}
    for name, where in table.items():
        if not re.fullmatch(NAME_PATTERN, name):
            raise ConfigError(source, f"[benches] {name}", "a bench name is ASCII letters, digits, '._+-'")
        if not isinstance(where, str):
            raise ConfigError(source, f"[benches] {name}", f"expected the path of a bench config, got {where!r}")
        paths[name] = base / where
        configs[name] = load_bench(paths[name])
    return paths, configs


def _tolerances(source: str, table: Any, drawn: bool, benches: dict[str, BenchConfig]) -> Tolerances | None:
    """The ``[tolerances]`` of a drawn lot (required then, and only with simulated benches); refused otherwise."""
    if not drawn:
        if table is not None:
            raise ConfigError(source, "[tolerances]", "tolerances draw simulated units: give [lot] units, or "
                                                      "remove [tolerances]")
        return None
    if table is None:
        raise ConfigError(source, "[tolerances]", "a lot of drawn units needs a [tolerances] table")
    real = [name for name, bench in benches.items() if not bench.simulated]
    if real:
        raise ConfigError(source, f"[benches] {real[0]}", "units drawn from tolerances are simulated: every "
                                                          "bench must be a simulated one")
    if not isinstance(table, dict):
        raise ConfigError(source, "[tolerances]", "expected a table")
    return Tolerances.from_table(table, source)
