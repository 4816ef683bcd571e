"""Every command a family's table in ``docs/simulated-commands/`` marks as simulated is answered as documented.

Each ``docs/simulated-commands/<family>.md`` names its simulated bench (a line ``Bench: `configs/benches/...```)
and has one ``## Generator ...`` and one ``## Scope ...`` section. Under each section heading a line
``Error query: `<query>` `` gives the query that reports an error, and a line ``No error: `<regex>` `` what it
answers when there is none. The section's table has the columns

    | Command | Sent | Reply | Source | Simulated |

``Command`` is the guide's spelling, ``Source`` the guide and page the row rests on, ``Simulated`` is ``yes`` or
``no`` (rows marked ``no`` list what the simulator does not serve). For a ``yes`` row the walker sends ``Sent``
(one message, in backticks; rows run in table order on one fresh bench, after ``*RST``, so a row may set what a
later row queries). ``Reply`` (in backticks) is then either

* a regular expression: ``Sent`` is a query, and its reply must match it as a whole;
* ``error <code>``: ``Sent`` is refused, and the section's error query must report ``<code>`` (the vendor's error for
  an out-of-range value or an unknown command);
* ``ok`` (or empty): ``Sent`` is a setting, and the error query must answer "no error" afterwards.

The expected replies are the vendor programming guides' formats as each row's ``Source`` cites them, written by
hand, independent of the simulator's code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
TABLES = sorted(p for p in (ROOT / "docs" / "simulated-commands").glob("*.md") if p.name != "README.md")
_CODE = re.compile(r"`([^`]*)`")


@dataclass(frozen=True)
class Row:
    command: str
    sent: str
    reply: str
    source: str
    line: int


@dataclass(frozen=True)
class Section:
    family: str
    instrument: str  # "generator" or "scope"
    bench: Path
    error_query: str
    no_error: str
    rows: tuple[Row, ...]

    @property
    def id(self) -> str:
        return f"{self.family}-{self.instrument}"


def _code(cell: str) -> str:
    m = _CODE.search(cell)
    return m.group(1) if m else cell.strip()


def parse_table(path: Path) -> list[Section]:
    """The sections of one family's table (module docstring)."""
    text = path.read_text().splitlines()
    bench = next((_code(t) for t in text if t.startswith("Bench:")), None)
    assert bench is not None, f"{path.name}: no 'Bench:' line"
    sections: list[Section] = []
    instrument = error_query = no_error = None
    rows: list[Row] = []

    def close() -> None:
        if instrument is not None:
            assert error_query and no_error is not None, f"{path.name}: section {instrument} lacks its error lines"
            sections.append(Section(path.stem, instrument, ROOT / bench, error_query, no_error, tuple(rows)))

    for n, line in enumerate(text, 1):
        if line.startswith("## "):
            close()
            head = line[3:].strip().lower()
            instrument = "generator" if head.startswith("generator") else "scope" if head.startswith("scope") else None
            error_query, no_error, rows = None, None, []
        elif instrument is None:
            continue
        elif line.startswith("Error query:"):
            error_query = _code(line)
        elif line.startswith("No error:"):
            no_error = _code(line)
        elif line.startswith("|") and not re.match(r"\|\s*-", line):
            # cells split on unescaped pipes; a regular expression writes its alternatives as \\|
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
            if len(cells) != 5 or cells[0].lower() == "command":
                continue
            if cells[4].lower().startswith("yes"):
                rows.append(Row(cells[0], _code(cells[1]), _code(cells[2]) if cells[2] else "ok", cells[3], n))
    close()
    return sections


SECTIONS = [s for t in TABLES for s in parse_table(t)]


def test_every_family_has_a_table() -> None:
    assert {t.stem for t in TABLES} >= {"keysight", "rigol"}
    for s in SECTIONS:
        assert s.rows, f"{s.id}: no simulated rows"
        assert all(r.source for r in s.rows), f"{s.id}: a row without its source"


@pytest.mark.parametrize("section", SECTIONS, ids=[s.id for s in SECTIONS])
def test_every_simulated_command_answers_as_documented(section: Section, visa_open: Any) -> None:
    from instruments.bench_config import load_bench
    from instruments.sim.bench import SimBench

    with SimBench(load_bench(section.bench), gen_port=0, scope_port=0) as bench:
        inst = visa_open(bench.resources[section.instrument])
        inst.write("*RST")
        inst.write("*CLS")
        for row in section.rows:
            where = f"{section.id} line {row.line} ({row.command}): {row.sent!r}"
            if row.reply.startswith("error "):
                inst.write(row.sent)
                err = inst.query(section.error_query).strip()
                assert row.reply.split()[1] in err, f"{where}: error query answered {err!r}, expected {row.reply}"
                inst.write("*CLS")
                for _ in range(20):  # drain what *CLS left (a family whose event queue it does not clear)
                    if re.fullmatch(section.no_error, inst.query(section.error_query).strip()):
                        break
                else:
                    pytest.fail(f"{where}: the error query never reported 'no error' again")
            elif row.reply == "ok":
                inst.write(row.sent)
                err = inst.query(section.error_query).strip()
                assert re.fullmatch(section.no_error, err), f"{where}: error query answered {err!r}"
            else:
                got = inst.query(row.sent).strip()
                assert re.fullmatch(row.reply, got), f"{where}: answered {got!r}, expected /{row.reply}/"
