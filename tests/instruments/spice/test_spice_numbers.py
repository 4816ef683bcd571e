"""SPICE numbers and expressions: the scale factors of the ngspice User's Manual (sec. 2.3) and hand-worked
arithmetic; the suffix readings are also checked against ngspice itself, which reads the same resistor
values independently (skipped when ngspice is not installed)."""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import pytest

from instruments.errors import NetlistError
from instruments.spice import parse_netlist
from instruments.spice.expressions import ExpressionError, UndefinedParam, evaluate
from instruments.spice.numbers import parse_number

# (text, value): the value by the manual's table, worked by hand
NUMBERS = [
    ("1meg", 1e6), ("1MEG", 1e6), ("1Meg", 1e6), ("1m", 1e-3), ("1M", 1e-3), ("1mil", 25.4e-6),
    ("10kOhm", 1e4), ("10k", 1e4), ("4.7K", 4.7e3), ("1uF", 1e-6), ("1u", 1e-6), ("2.2n", 2.2e-9),
    ("10pF", 1e-11), ("1F", 1e-15), ("6.734f", 6.734e-15), ("1t", 1e12), ("3G", 3e9), (".7371", 0.7371),
    ("-5", -5.0), ("+2.5", 2.5), ("1e3", 1e3), ("1E-3", 1e-3), ("1e-3k", 1.0), ("5V", 5.0), ("100Ohm", 100.0),
    ("66.78m", 66.78e-3), ("239.5n", 239.5e-9), ("1megohm", 1e6), ("2MegHz", 2e6),
]


@pytest.mark.parametrize(("text", "value"), NUMBERS)
def test_numbers_with_suffixes_and_units(text: str, value: float) -> None:
    got = parse_number(text)
    assert got is not None
    assert got == pytest.approx(value, rel=1e-15)


@pytest.mark.parametrize("text", ["1k5", "abc", "", "{1k}", "k1", "1.2.3", "--1", "1.5e+", "2m5"])
def test_not_numbers(text: str) -> None:
    assert parse_number(text) is None


def test_a_dangling_exponent_letter_is_a_unit() -> None:
    """``1e`` has no exponent digits, so its ``e`` is a unit letter and ignored (as SPICE reads it)."""
    assert parse_number("1e") == 1.0


PARAMS = {"rload": 20e3, "gain": 2.0, "r_e": 100.0}

# (expression, value worked by hand)
EXPRESSIONS = [
    ("2*rload", 40e3), ("rload*1.01", 20200.0), ("RLOAD / 4", 5e3), ("1k + 500", 1500.0), ("-2**2", -4.0),
    ("(-2)**2", 4.0), ("2^3^2", 512.0), ("2**-1", 0.5), ("-gain", -2.0), ("--gain", 2.0), ("1 - 2 - 3", -4.0),
    ("8 / 4 / 2", 1.0), ("2 + 3 * 4", 14.0), ("(2 + 3) * 4", 20.0), ("sqrt(16)", 4.0), ("log(exp(2))", 2.0),
    ("ln(1)", 0.0), ("log10(1000)", 3.0), ("abs(-3)", 3.0), ("min(3, 4)", 3.0), ("max(3,4)", 4.0),
    ("pow(2, 10)", 1024.0), ("pi", math.pi), ("2*pi*1k", 2 * math.pi * 1e3), ("1meg/1m", 1e9),
    ("r_e*gain", 200.0), ("1e3*2", 2e3), ("sqrt(rload*r_e)", math.sqrt(2e6)), ("10kOhm/2", 5e3),
]


@pytest.mark.parametrize(("text", "value"), EXPRESSIONS)
def test_expressions(text: str, value: float) -> None:
    assert evaluate(text, PARAMS.get) == pytest.approx(value, rel=1e-14)


@pytest.mark.parametrize(("text", "problem"), [
    ("1/(2-2)", "division by zero"), ("rload/0", "division by zero"), ("sqrt(-1)", "sqrt(-1) is not defined"),
    ("log(0)", "log(0) is not defined"), ("foo(1)", "unknown function 'foo'"), ("2+", "unexpected end"),
    ("(2", "expected ')'"), ("2 3", "unexpected '3'"), ("1k5*2", "'1k5' is not a number"),
    ("pow(2)", "pow() takes 2 arguments, got 1"), ("exp(1000)", "exp(1000) is not defined"),
    ("2 # 3", "unexpected '# 3'"), ("", "empty expression"), ("(-8)**0.5", "power(-8, 0.5) is not defined"),
])
def test_expression_errors(text: str, problem: str) -> None:
    with pytest.raises(ExpressionError) as exc:
        evaluate(text, PARAMS.get)
    assert problem in str(exc.value)


def test_undefined_param_is_named() -> None:
    with pytest.raises(UndefinedParam) as exc:
        evaluate("2*rlaod", PARAMS.get)
    assert exc.value.name == "rlaod"


def test_element_values_read_as_ngspice_reads_them(tmp_path: Path) -> None:
    """Every number of the table as a resistor value: ngspice's own reading of the same file agrees."""
    if shutil.which("ngspice") is None:
        pytest.skip("ngspice is not installed")
    usable = [(t, v) for t, v in NUMBERS if v > 0]
    lines = ["suffix check", "V1 a 0 1"] + [f"R{k} a 0 {t}" for k, (t, _) in enumerate(usable)]
    lines += [".control", "op", "print " + " ".join(f"@r{k}[resistance]" for k in range(len(usable))),
              ".endc", ".end"]
    path = tmp_path / "suffix.cir"
    path.write_text("\n".join(lines) + "\n")
    ours = {e.name.lower(): e.value for e in parse_netlist(path.read_text(), str(path)).elements}
    out = subprocess.run(["ngspice", "-b", str(path)], capture_output=True, text=True, timeout=20).stdout
    theirs = {line.split("[")[0].strip("@ ").lower(): float(line.split("=")[1])
              for line in out.splitlines() if line.startswith("@r")}
    assert len(theirs) == len(usable)
    for name, value in theirs.items():
        assert ours[name] == pytest.approx(value, rel=1e-6), name


def test_expression_errors_name_file_and_line() -> None:
    text = "t\n.param a=1k b=0\nV1 x 0 1\nR1 x 0 {a/b}\n"
    with pytest.raises(NetlistError) as exc:
        parse_netlist(text, "b.cir")
    assert str(exc.value) == "b.cir:4: element 'R1': division by zero in '{a/b}'"
