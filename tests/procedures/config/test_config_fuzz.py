"""A config fuzzer: every TOML in ``configs/`` mutated, loaded and consumed; each either works or is one line.

For every board, fault, bench and procedure config the fuzzer makes mutations of the parsed document: a key
deleted, a key set to a value of the wrong kind or an extreme one (+inf, -inf, NaN, 1e308, -1e308, 2**63, 5e-324,
-1, 0, true, unicode text, control characters, garbage, "", a 5000-character string, an empty table, a mixed
list, an empty list, "0.0.0.0"), the first item of a list replaced likewise, a section deleted, emptied or replaced by a
number, an unknown key or section added; and a few mutations of the text itself (cut in half, not UTF-8, a
duplicated key, empty). Each mutant is written as TOML (and read back, to be sure the file says what was meant)
and goes through the path that consumes it without instruments:

- boards and faults: ``diffbench predict`` (in process, ``procedures.cli.main.main``; every other one with
  ``--json``), then, when the board loads, its simulated board's DC operating point;
- procedures: ``procedures.run.runner.load_configs`` with a simulated bench and the source-text board, then
  ``procedures.measure.plan.plan`` and the ``[fit]`` options (``procedures.fitting.run_fits.fit_options``);
- benches: ``load_configs`` with the characterisation procedure and the source-text board, then ``plan``;
  a simulated bench that loads is started (``SimBench``, loopback only: asserted before it binds) and closed.

The outcome must be exit status 0 with nothing on stderr, or exit status 2 with exactly one stderr line that
starts ``diffbench <command>: error:`` and names the mutated file (or, for a drive the board does not allow, the
board's ``[limits]``); never a traceback, never a warning. The
paths that have no subcommand of their own are run as ``procedures.cli.main.main`` runs a subcommand: a
:class:`~instruments.errors.DiffbenchError` is the one line and exit 2, anything else a traceback.

The mutations are drawn with a fixed seed, at most :data:`PER_FILE` per file, so the module is deterministic
and takes seconds; ``DIFFBENCH_FUZZ_ALL=1`` runs every mutation of every file instead (about 8000, a minute).
``STATS`` counts what was tried (``pytest -s`` prints it).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import random
import re
import sys
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomllib

from instruments.errors import ConfigError, DiffbenchError
from procedures.cli.main import main

ROOT = Path(__file__).resolve().parents[3]
CONFIGS = ROOT / "configs"
BOARD = CONFIGS / "boards" / "bjt-source-text.toml"
SIM_BENCH = CONFIGS / "benches" / "sim-keysight.toml"
PROCEDURE = CONFIGS / "procedures" / "characterisation.toml"
SEED = 20240611
PER_FILE = {"boards": 110, "faults": 60, "benches": 110, "procedures": 110}
EVERY_MUTATION = os.environ.get("DIFFBENCH_FUZZ_ALL") == "1"  # all ~8000 (about a minute) instead of ~1700

_DELETE = object()
VALUES: list[tuple[str, Any]] = [
    ("+inf", math.inf), ("-inf", -math.inf), ("nan", math.nan), ("1e308", 1e308), ("-1e308", -1e308),
    ("2**63", 2**63), ("5e-324", 5e-324), ("-1", -1), ("0", 0), ("0.0", 0.0), ("true", True),
    ("unicode", "Ωµü 😀 ✓"), ("unicode-garbage", "\u202egnp\u200b\ufeff\U0010fffd"),
    ("control", "a\x00b\nc\x1b[31m"), ("garbage", ']]]"\' = [[x'), ("empty-string", ""), ("long", "x" * 5000),
    ("empty-table", {}), ("mixed-list", [1, "a", True]), ("empty-list", []), ("any-address", "0.0.0.0"),
]
ITEM_VALUES = [v for v in VALUES if not isinstance(v[1], (dict, list))]

STATS = {"files": 0, "mutations": 0, "worked": 0, "refused": 0, "tracebacks": 0}


# ---------------------------------------------------------------------------------------------------------
# TOML writing (the standard library only reads TOML)

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def _key(k: str) -> str:
    return k if _BARE.fullmatch(k) else _string(k)


def _string(s: str) -> str:
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {v!r} as TOML")


def dump_toml(doc: dict[str, Any]) -> str:
    """A TOML document: top-level scalars first, then one ``[table]`` per dict (nested dicts inline)."""
    lines = [f"{_key(k)} = {_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    for name, table in doc.items():
        if isinstance(table, dict):
            lines.append(f"[{_key(name)}]")
            lines += [f"{_key(k)} = {_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def _same(a: Any, b: Any) -> bool:
    """Equality with NaN equal to NaN (to check that a written mutant reads back as meant)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def test_the_writer_round_trips_every_mutant_value() -> None:
    doc = {"top": 1, "t": {name.replace("*", "x"): v for name, v in VALUES}, "q": {"a b": 1, "\u00e9": "x"}}
    assert _same(tomllib.loads(dump_toml(doc)), doc)


# ---------------------------------------------------------------------------------------------------------
# mutations


@dataclass(frozen=True)
class Mutation:
    """One change to a config: a document edit, or (``text``) a function of the file's text."""

    label: str
    edit: Callable[[dict[str, Any]], None] | None = None
    text: Callable[[str], bytes] | None = None


def _set(section: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        if value is _DELETE:
            del doc[section][key]
        else:
            doc[section][key] = value
    return edit


def _set_item(section: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        doc[section][key][0] = value
    return edit


def _set_section(section: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        if value is _DELETE:
            del doc[section]
        else:
            doc[section] = value
    return edit


def _add(section: str | None, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        (doc if section is None else doc[section])[key] = value
    return edit


def _cut(text: str) -> bytes:
    return text[: len(text) // 2].encode()


def _not_utf8(text: str) -> bytes:
    return text.encode() + b'\n[extra]\nname = "\xff\xfe"\n'


def _duplicate_first_key(text: str) -> bytes:
    first = next(line for line in text.splitlines() if re.match(r"\s*\w+\s*=", line))
    return text.replace(first, first + "\n" + first, 1).encode()


def mutations(doc: dict[str, Any]) -> list[Mutation]:
    """Every mutation of a parsed config (module docstring), in a fixed order."""
    out: list[Mutation] = []
    for section, table in doc.items():
        if not isinstance(table, dict):
            continue
        for key, old in table.items():
            out.append(Mutation(f"[{section}] {key} deleted", _set(section, key, _DELETE)))
            out += [Mutation(f"[{section}] {key} = {name}", _set(section, key, v)) for name, v in VALUES]
            if isinstance(old, list) and old:
                out += [Mutation(f"[{section}] {key}[0] = {name}", _set_item(section, key, v))
                        for name, v in ITEM_VALUES]
        out.append(Mutation(f"[{section}] deleted", _set_section(section, _DELETE)))
        out.append(Mutation(f"[{section}] emptied", _set_section(section, {})))
        out.append(Mutation(f"[{section}] = 1", _set_section(section, 1)))
        out.append(Mutation(f"[{section}] unknown key", _add(section, "bogus_key", 1.0)))
    out.append(Mutation("unknown section", _add(None, "bogus", {"x": 1})))
    out += [Mutation("text cut in half", text=_cut), Mutation("text not UTF-8", text=_not_utf8),
            Mutation("a key given twice", text=_duplicate_first_key), Mutation("empty file", text=lambda t: b"")]
    return out


def _deep_copy(doc: dict[str, Any]) -> dict[str, Any]:
    return tomllib.loads(dump_toml(doc))


# ---------------------------------------------------------------------------------------------------------
# consumers: each returns (exit status, stdout, stderr) as ``diffbench`` would


def _as_subcommand(command: str, body: Callable[[], None]) -> tuple[int, str]:
    """Run ``body`` as ``procedures.cli.main.main`` runs a subcommand: a DiffbenchError is one line and status 2."""
    try:
        body()
    except DiffbenchError as exc:
        return 2, f"diffbench {command}: error: {exc}\n"
    return 0, ""


def consume_board(path: Path, index: int) -> tuple[int, str]:
    """``diffbench predict`` (``--json`` for odd ``index``), then the simulated board's DC operating point."""
    args = ["predict", "--json", str(path)] if index % 2 else ["predict", str(path)]
    status = main(args)
    if status != 0:
        return status, ""

    def simulate() -> None:
        from instruments.board_config import load_board
        from instruments.sim.board import SimBoard

        SimBoard.from_config(load_board(path)).operating_point()
    return _as_subcommand("run", simulate)


def consume_procedure(path: Path, index: int) -> tuple[int, str]:
    """Load the procedure with a simulated bench and the source-text board, plan it, read its [fit] options."""
    def body() -> None:
        from procedures.fitting.run_fits import fit_options
        from procedures.measure.plan import plan
        from procedures.run.runner import load_configs

        cfg = load_configs(path, SIM_BENCH, BOARD)
        plan(cfg.procedure, cfg.board)
        fit_options(tomllib.loads(cfg.procedure.raw), str(path))
    return _as_subcommand("run", body)


def consume_bench(path: Path, index: int) -> tuple[int, str]:
    """Load the bench with the characterisation procedure and the source-text board, plan, and start a simulated
    bench on loopback."""
    def body() -> None:
        from instruments.bench_config import is_loopback
        from instruments.sim.bench import SimBench
        from instruments.sim.board import SimBoard
        from procedures.measure.plan import plan
        from procedures.run.runner import load_configs

        cfg = load_configs(PROCEDURE, path, BOARD)
        plan(cfg.procedure, cfg.board)
        if cfg.bench.simulated:
            assert is_loopback(cfg.bench.host), f"the fuzzer would bind {cfg.bench.host!r}"
            with SimBench(cfg.bench, board=SimBoard.from_config(cfg.board)) as sim:
                assert sim.resources["generator"].startswith("TCPIP0::127.")
    return _as_subcommand("run", body)


CONSUMERS = {"boards": consume_board, "faults": consume_board, "procedures": consume_procedure,
             "benches": consume_bench}
FILES = sorted((p.parent.name, p) for kind in CONSUMERS for p in (CONFIGS / kind).glob("*.toml"))


def _run_one(kind: str, path: Path, index: int) -> tuple[int, str, str]:
    """Run the consumer with stdout/stderr captured and every warning recorded; returns (status, stderr, what)."""
    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        warnings.simplefilter("always")
        try:
            status, line = CONSUMERS[kind](path, index)
        except SystemExit as exc:  # argparse
            status, line = int(exc.code or 0), ""
        except KeyboardInterrupt:
            raise
        except BaseException:
            return -1, err.getvalue(), traceback.format_exc()
    stderr = err.getvalue() + line
    stderr += "".join(f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}\n" for w in caught)
    return status, stderr, ""


def _unsafe_drive(line: str) -> bool:
    """A procedure that asks for more than the board allows: refused naming the board's [limits] (SafetyError)."""
    return f"{BOARD} [limits]; nothing was switched on" in line


@pytest.mark.parametrize("kind, path", FILES, ids=[f"{k}/{p.stem}" for k, p in FILES])
def test_every_mutation_works_or_is_one_line(kind: str, path: Path, tmp_path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    doc = tomllib.loads(text)
    pool = mutations(doc)
    rng = random.Random(f"{SEED}:{kind}/{path.name}")
    budget = len(pool) if EVERY_MUTATION else min(PER_FILE[kind], len(pool))
    chosen = sorted(rng.sample(range(len(pool)), budget))
    target = tmp_path / kind / path.name  # same folder layout: a bench's relative board path still resolves
    target.parent.mkdir(parents=True)
    if kind == "benches":
        (tmp_path / "boards").mkdir()
        for board in (CONFIGS / "boards").glob("*.toml"):
            (tmp_path / "boards" / board.name).write_bytes(board.read_bytes())
    problems: list[str] = []
    STATS["files"] += 1
    for n, i in enumerate(chosen):
        m = pool[i]
        if m.text is not None:
            target.write_bytes(m.text(text))
        else:
            mutant = _deep_copy(doc)
            m.edit(mutant)  # type: ignore[misc]
            written = dump_toml(mutant)
            assert _same(tomllib.loads(written), mutant), f"{m.label}: the TOML writer lost something"
            target.write_text(written, encoding="utf-8")
        STATS["mutations"] += 1
        status, stderr, tb = _run_one(kind, target, n)
        where = f"{kind}/{path.name}: {m.label}"
        if tb:
            STATS["tracebacks"] += 1
            problems.append(f"{where}: traceback:\n{tb}")
            continue
        lines = stderr.splitlines()
        if status == 0 and not lines:
            STATS["worked"] += 1
        elif status == 2 and len(lines) == 1 and re.match(r"diffbench \w+: error: ", lines[0]) \
                and "Traceback" not in stderr and (str(target) in lines[0] or _unsafe_drive(lines[0])):
            STATS["refused"] += 1
        else:
            problems.append(f"{where}: exit status {status}, stderr {stderr!r}")
    assert not problems, f"{len(problems)} of {len(chosen)} mutations failed:\n" + "\n".join(problems[:10])


def test_zz_the_fuzzer_tried_enough(capsys: pytest.CaptureFixture[str]) -> None:
    """Runs last in the module (name order is definition order here): the fuzzer did what it says."""
    if STATS["mutations"] == 0:
        pytest.skip("the fuzz tests were not run (deselected)")
    with capsys.disabled():
        print(f"\nconfig fuzzer: {STATS['mutations']} mutations, {STATS['worked']} worked, {STATS['refused']} "
              f"refused in one line, {STATS['tracebacks']} tracebacks", file=sys.stderr)
    assert STATS["tracebacks"] == 0
    if STATS["files"] == len(FILES):
        assert STATS["mutations"] >= 1000 and STATS["worked"] > 50 and STATS["refused"] > 500


def test_a_config_error_names_file_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The refusals the issue reported, each one line naming the file, the key and what is wrong."""
    cases = {
        ("boards", "[load] c_f = 0.5"): ("load", "c_f", 0.5, "[load] c_f: 0.5 is out of range (must be <= 0.001)"),
        ("boards", "[supply] vcc_v = inf"): ("supply", "vcc_v", math.inf, "[supply] vcc_v: is +inf (must be finite)"),
        ("boards", "[device] is_a = 1e308"): ("device", "is_a", 1e308, "[device] is_a: 1e+308 is out of range"),
        ("benches", "[sim] gen_amplitude_mismatch_db = 1e6"):
            ("sim", "gen_amplitude_mismatch_db", 1e6, "[sim] gen_amplitude_mismatch_db: 1000000.0 is out of range"),
    }
    for (kind, label), (section, key, value, fragment) in cases.items():
        source = BOARD if kind == "boards" else SIM_BENCH
        doc = tomllib.loads(source.read_text(encoding="utf-8"))
        doc[section][key] = value
        target = tmp_path / kind / source.name
        target.parent.mkdir(exist_ok=True)
        target.write_text(dump_toml(doc), encoding="utf-8")
        if kind == "boards":
            assert main(["predict", str(target)]) == 2, label
            err = capsys.readouterr().err
        else:
            with pytest.raises(ConfigError) as exc:
                from instruments.bench_config import load_bench
                load_bench(target)
            err = f"{exc.value}\n"
        assert err.count("\n") == 1 and str(target) in err and fragment in err, (label, err)
