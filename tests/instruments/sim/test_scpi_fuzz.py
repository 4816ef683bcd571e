"""Malformed SCPI against the simulated instruments: every bad number, header, string or empty command gets
the SCPI error a real instrument queues (-222/-224 for values, -121/-123/-124 for malformed numbers,
-101/-102/-113 for headers, -151 for strings, -108/-109 for counts), no exception escapes the parser, and
nothing is logged with a traceback (a client must not be able to flood the log).

In-process against all four simulated instruments (both dialects), and over a loopback socket.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any

import pytest

from instruments.sim.scpi_device import ScpiDevice
from instruments.sim.scpi_parser import ScpiError, parse_bool, parse_integer, parse_number
from scpi_socket import ask, raw

SEED = 20261122

# value -> accepted error codes, for a numeric parameter (a unit suffix is allowed on some commands: -131/-138)
NUMERIC: dict[str, set[int]] = {
    "1e999": {-222}, "-1e999": {-222}, "-INF": {-222}, "NINF": {-222}, "NaN": {-224}, "-nan": {-224},
    "1e": {-121}, "1E+": {-121}, ".e5": {-121}, ".": {-121}, "+": {-121}, "1.2.3": {-121}, "0x1F": {-121},
    "1_000": {-121}, "0x": {-131, -138}, "1e99999": {-123}, "1E-99999": {-123}, "9" * 300: {-124},
    "abc": {-104}, "--1": {-104}, '"5"': {-104}, "#H1F": {-104},
}
# the same values where a boolean (ON|OFF|number) is expected: anything that is not a finite number is -224
BOOLEAN: dict[str, set[int]] = {
    "1e999": {-222}, "-INF": {-222}, "NaN": {-224}, "1e": {-224}, ".e5": {-224}, "0x": {-224}, "1e99999": {-123},
    "9" * 300: {-124}, "abc": {-224}, "1.2.3": {-224}, "ONN": {-224},
}
GENERATOR_NUMERIC = ["SOUR1:FREQ", "SOUR1:VOLT", "SOUR1:VOLT:OFFS", "OUTP1:LOAD", "*SRE", "*ESE"]
SCOPE_NUMERIC = [":CHAN1:SCAL", ":CHAN1:OFFS", ":TIM:SCAL", ":TRIG:EDGE:LEV", "*SRE", "*ESE"]
GENERATOR_BOOLEAN = ["OUTP1", "OUTP2:STAT"]
# whole lines -> accepted error codes ([] = none: an empty message is no error)
LINES: dict[bytes, set[int] | None] = {
    b"": None, b";": None, b" ; ;; ": None, b"   ": None, b"\r": None,
    b"*IDN\x07?": {-101}, b"SOUR1:FR\xc9Q 1": {-101}, "SOUR1:FREQ １２".encode(): {-101},
    b"\xff\xfe\x00garbage": {-101, -102}, b":SOUR1::FREQ 1": {-102}, b"1SOUR 2": {-102}, b"*": {-102},
    b":": {-102}, b"?": {-102}, b"SOUR1:FREQ ,": {-102}, b"SOUR1:FREQ 1,,2": {-102},
    b"FOO:BAR 1": {-113}, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ": {-113}, b"SOUR9:FREQ 1": {-113}, b"*FOO": {-113},
    b"SOUR1:FREQ": {-109}, b"SOUR1:FREQ 1,2": {-108}, b"*IDN? 1": {-108}, b"*RST 1": {-108},
    b'SOUR1:FUNC "unterminated': {-151}, b"SOUR1:FUNC 'unterminated": {-151}, b'"': {-151},
    b'*IDN?;SOUR1:FUNC "x': {-151},
}


def _codes(dev: ScpiDevice, line: bytes) -> list[int]:
    """Clear the queue, run ``line`` in-process, return the queued error codes (``execute`` must not raise)."""
    dev.execute(b"*CLS")
    dev.execute(line)
    return [code for code, _ in dev.errors()]


def _expect(dev: ScpiDevice, line: bytes, allowed: set[int] | None, failures: list[str]) -> None:
    try:
        codes = _codes(dev, line)
    except Exception as e:  # noqa: BLE001 - the fuzzer records it
        failures.append(f"{dev.dialect.idn.split(',')[1]} {line[:60]!r}: {type(e).__name__} escaped: {e}")
        return
    ok = (not codes) if allowed is None else (len(codes) == 1 and codes[0] in allowed)
    if not ok:
        failures.append(f"{dev.dialect.idn.split(',')[1]} {line[:60]!r}: queued {codes}, expected "
                        f"{'nothing' if allowed is None else sorted(allowed)}")


def _no_tracebacks(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
    err = capfd.readouterr().err
    assert "Traceback" not in err, err[-3000:]
    for rec in caplog.records:
        assert rec.exc_info is None and "Traceback" not in rec.getMessage(), rec.getMessage()
        assert "\n" not in rec.getMessage(), rec.getMessage()


@pytest.mark.parametrize("dialect", ["keysight", "rigol"])
def test_malformed_input_gets_the_scpi_error_in_process(dialect: str, sim_bench: Callable[..., Any],
                                                        caplog: pytest.LogCaptureFixture,
                                                        capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG, logger="instruments")
    bench = sim_bench(dialect)
    gen, scope = bench.generator_device, bench.scope_device
    failures: list[str] = []
    n = 0
    for dev, numeric, boolean in ((gen, GENERATOR_NUMERIC, GENERATOR_BOOLEAN), (scope, SCOPE_NUMERIC, [])):
        for header in numeric:
            for value, allowed in NUMERIC.items():
                _expect(dev, f"{header} {value}".encode(), allowed, failures)
                n += 1
        for header in boolean:
            for value, allowed in BOOLEAN.items():
                _expect(dev, f"{header} {value}".encode(), allowed, failures)
                n += 1
        for line, allowed_line in LINES.items():
            if dev is scope and line.startswith((b"SOUR1:FR", b"SOUR9", b"SOUR1:FUNC", b"*IDN?;SOUR")):
                continue  # generator commands; on the scope they are -113 first
            _expect(dev, line, allowed_line, failures)
            n += 1
    # random junk: never an exception, never -200 (a failure of the simulator), at most a few errors per line
    rng = random.Random(SEED)
    alphabet = b"SOURCEFREQVOLTCHANTIMOUTPscal:;,?*\"' \t.+-eE0123456789#\x00\xff\x07\xc3"
    for _ in range(400):
        line = bytes(rng.choice(alphabet) for _ in range(rng.randrange(1, 40)))
        for dev in (gen, scope):
            try:
                codes = _codes(dev, line)
            except Exception as e:  # noqa: BLE001
                failures.append(f"{line!r}: {type(e).__name__} escaped: {e}")
                continue
            if -200 in codes:
                failures.append(f"{line!r}: -200 (a failure of the simulator): {dev.errors()}")
            n += 1
    assert n > 900
    assert not failures, f"{len(failures)} of {n} lines wrong:\n" + "\n".join(failures[:30])
    assert gen.execute(b"*IDN?").startswith((b"Agilent", b"Rigol"))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # bad input is no simulator failure
    _no_tracebacks(caplog, capfd)


def test_a_failure_of_the_simulator_is_200_and_one_log_line_once(sim_bench: Callable[..., Any],
                                                                  caplog: pytest.LogCaptureFixture,
                                                                  capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG, logger="instruments")
    dev = sim_bench("keysight").generator_device

    def boom(ctx: Any, s: list, p: tuple) -> None:
        raise RuntimeError("the board did not converge\nsecond line of the story")

    def domain(ctx: Any, s: list, p: tuple) -> None:
        raise ValueError("math domain error")

    def overflow(ctx: Any, s: list, p: tuple) -> None:
        raise OverflowError("(34, 'Numerical result out of range')")

    def other(ctx: Any, s: list, p: tuple) -> None:
        raise ValueError("operands could not be broadcast together")

    dev.table.add("DIAGnostic:BOOM", boom)
    dev.table.add("DIAGnostic:DOMain", domain)
    dev.table.add("DIAGnostic:OVERflow", overflow)
    dev.table.add("DIAGnostic:OTHer", other)
    assert _codes(dev, b"DIAG:DOM 5") == [-224]  # a parameter's arithmetic, as an instrument answers
    assert _codes(dev, b"DIAG:OVER 1e300") == [-222]
    assert _codes(dev, b"DIAG:OTH 5") == [-200]  # not a parameter's fault: a bug of the simulator
    caplog.clear()
    for _ in range(50):  # a client repeating a line that breaks the simulator cannot flood the log
        dev.execute(b"DIAG:BOOM")
    assert [c for c, _ in dev.errors()][:3] == [-200, -200, -200]
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "DIAG:BOOM" in warnings[0].getMessage() and "RuntimeError" in warnings[0].getMessage()
    _no_tracebacks(caplog, capfd)


def test_parser_functions_never_raise_anything_but_scpi_errors() -> None:
    rng = random.Random(SEED)
    alphabet = "0123456789.+-eEinfINFnaNAxX_ kKmMhHzZvV%\u00b2\u0661\uff11"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
        for fn in (lambda t: parse_number(t), lambda t: parse_number(t, units=("HZ", "V"), keywords=("MIN", "INF")),
                   parse_bool, lambda t: parse_integer(t, 0, 255)):
            try:
                value = fn(text)
            except ScpiError as e:
                assert e.code in (-104, -121, -123, -124, -131, -138, -222, -224), (text, e.code)
            else:
                assert not isinstance(value, float) or value == value and abs(value) != float("inf"), (text, value)


def test_malformed_lines_over_a_loopback_socket(sim_bench: Callable[..., Any], caplog: pytest.LogCaptureFixture,
                                                capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG, logger="instruments")
    bench = sim_bench("keysight")
    with raw(bench.resources["generator"]) as sock:
        for line in (b"OUTP1 1e999", b"*SRE -INF", b"SOUR1:FREQ NaN", b"SOUR1:FREQ 1e", b"SOUR1:FREQ 1e99999",
                     b'SOUR1:FUNC "abc', b"", b";", b"FOO", b"SOUR1:FREQ", b"*IDN\x07?"):
            sock.sendall(line + b"\n")
        codes = [int(ask(sock, b"SYST:ERR?").split(b",")[0]) for _ in range(10)]
        assert codes == [-222, -222, -224, -121, -123, -151, -113, -109, -101, 0]
        assert ask(sock, b"*IDN?").startswith(b"Agilent")
    # a failure outside the parser (here: in execute itself) drops only that client, in one log line
    dev = bench.generator_device
    original = dev.execute

    def broken(raw: bytes, session: Any = None) -> bytes:
        if raw.startswith(b"BREAK"):
            raise RuntimeError("simulated failure\nwith a second line")
        return original(raw, session)

    dev.execute = broken  # type: ignore[method-assign]
    try:
        with raw(bench.resources["generator"]) as sock:
            sock.sendall(b"BREAK\n")
            assert sock.recv(100) == b""  # dropped
        with raw(bench.resources["generator"]) as sock:
            assert ask(sock, b"*IDN?").startswith(b"Agilent")  # the next client is served
    finally:
        dev.execute = original  # type: ignore[method-assign]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "RuntimeError" in warnings[0], warnings
    _no_tracebacks(caplog, capfd)
