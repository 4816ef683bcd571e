"""The SCPI servers: parsing rules, error queues in each dialect's exact format, and robustness against bad
clients (garbage, half lines, drops mid-transfer, over-long lines), checked over real sockets."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest

from instruments.sim.scpi_parser import ScpiError, compile_pattern, match_nodes, parse_number
from scpi_socket import ask, raw


# -- parser units -----------------------------------------------------------------------------------
def test_mnemonics_short_long_optional_nodes_and_suffixes():
    nodes = compile_pattern("[SOURce#:]VOLTage[:LEVel][:IMMediate]:OFFSet")
    assert match_nodes(nodes, ["SOUR2", "VOLT", "OFFS"]) == [2]
    assert match_nodes(nodes, ["SOURCE1", "VOLTAGE", "LEVEL", "IMMEDIATE", "OFFSET"]) == [1]
    assert match_nodes(nodes, ["VOLT", "OFFS"]) == [None]
    assert match_nodes(nodes, ["SOURC1", "VOLT", "OFFS"]) is None  # neither short nor long form
    assert match_nodes(nodes, ["VOLT"]) is None


def test_numbers_with_units_prefixes_and_keywords():
    assert parse_number("1KHZ", units=("HZ",)) == 1e3
    assert parse_number("2.5MHZ", units=("HZ",)) == 2.5e6  # MHZ is mega by convention
    assert parse_number("100mV", units=("V",)) == pytest.approx(0.1)
    assert parse_number("+1.5E-3") == 1.5e-3
    assert parse_number("max", keywords=("MIN", "MAX")) == "MAX"
    with pytest.raises(ScpiError) as e:
        parse_number("12 parsecs", units=("V",))
    assert e.value.code == -131
    with pytest.raises(ScpiError) as e:
        parse_number("fast")
    assert e.value.code == -104


# -- identity, compound messages, error formats --------------------------------------------------------
@pytest.mark.parametrize("dialect, gen_idn, scope_idn, no_error", [
    ("keysight", "Agilent Technologies,33522B,MY52800000,3.05-1.19-2.00-52-00",
     "KEYSIGHT TECHNOLOGIES,DSO-X 1204G,CN00000000,02.12.2021071625", '+0,"No error"'),
    ("rigol", "Rigol Technologies,DG1062Z,DG1ZA00000000,00.01.14",
     "RIGOL TECHNOLOGIES,DS1054Z,DS1ZA000000000,00.04.04.SP4", '0,"No error"'),
])
def test_identity_and_empty_error_queue(dialect, gen_idn, scope_idn, no_error, sim_bench, visa_open):
    bench = sim_bench(dialect)
    g = visa_open(bench.resources["generator"])
    s = visa_open(bench.resources["scope"])
    assert g.query("*IDN?") == gen_idn
    assert s.query("*IDN?") == scope_idn
    assert g.query("SYSTem:ERRor?") == no_error
    assert s.query(":SYST:ERR:NEXT?") == no_error
    assert g.query("*OPC?") == "1"


def test_compound_messages_relative_paths_and_joined_replies(sim_bench, visa_open):
    bench = sim_bench("keysight")
    g = visa_open(bench.resources["generator"])
    g.write("sour2:freq 2000;VOLT 0.5;:OUTP1:LOAD INF;OUTP2:LOAD INF")  # VOLT is relative to SOUR2
    # 0.5 Vpp was set at the 50 Ohm setting; read back at High-Z it is the doubled EMF (docs/reference/scpi.md §2.1)
    assert g.query("SOURce2:FREQuency?;:SOUR2:VOLT?;*OPC?") == "+2.00000000000000E+03;+1.00000000000000E+00;1"
    assert g.query("OUTP1:LOAD?;:OUTP2:LOAD?") == "+9.9E+37;+9.9E+37"
    assert g.query("SYST:ERR?") == '+0,"No error"'


@pytest.mark.parametrize("dialect, undefined", [
    ("keysight", '-113,"Undefined header"'),
    ("rigol", '-113,"Undefined header; keyword cannot be found"'),
])
def test_unknown_headers_and_missing_channels_are_113(dialect, undefined, sim_bench, visa_open):
    bench = sim_bench(dialect)
    g = visa_open(bench.resources["generator"])
    s = visa_open(bench.resources["scope"])
    g.write(":FOO:BAR 1")
    g.write(":OUTP3 ON")  # a third generator channel does not exist
    s.write(":CHAN5:SCAL?")  # neither does a fifth scope channel: no reply, an error
    assert g.query(":SYST:ERR?") == undefined
    assert g.query(":SYST:ERR?") == undefined
    assert s.query(":SYST:ERR?") == undefined
    s.write(":WAV:SOUR CHAN7")
    assert s.query(":SYST:ERR?") == '-224,"Illegal parameter value"'
    sign = "+" if dialect == "keysight" else ""
    assert s.query("*ESR?") == f"{sign}48"  # command error (bit 5) and execution error (bit 4)
    assert s.query("*ESR?") == f"{sign}0"  # reading clears it


def test_error_queue_overflows_with_350(sim_bench, visa_open):
    bench = sim_bench("keysight")
    g = visa_open(bench.resources["generator"])
    for _ in range(25):
        g.write("NOPE")
    codes = [int(g.query("SYST:ERR?").split(",")[0]) for _ in range(21)]
    assert codes[:19] == [-113] * 19
    assert codes[19] == -350
    assert codes[20] == 0


def test_out_of_range_is_222_on_keysight_and_silently_clamped_on_rigol(sim_bench, visa_open):
    k = sim_bench("keysight")
    gk = visa_open(k.resources["generator"])
    gk.write("SOUR1:FREQ 1e9")
    assert gk.query("SYST:ERR?") == '-222,"Data out of range"'
    assert float(gk.query("SOUR1:FREQ?")) == 30e6
    sk = visa_open(k.resources["scope"])
    sk.write(":CHAN1:SCAL 1000")
    assert sk.query(":SYST:ERR?") == '-222,"Data out of range"'
    assert float(sk.query(":CHAN1:SCAL?")) == 10.0

    r = sim_bench("rigol")
    gr = visa_open(r.resources["generator"])
    gr.write(":SOUR1:FREQ 1e9")
    assert gr.query(":SYST:ERR?") == '0,"No error"'
    assert gr.query(":SOUR1:FREQ?") == "6.000000E+07"


# -- robustness: bad clients never take the server down ---------------------------------------------
@pytest.mark.parametrize("dialect", ["keysight", "rigol"])
def test_garbage_half_lines_long_lines_and_drops_keep_the_server_serving(dialect, sim_bench, visa_open):
    bench = sim_bench(dialect)
    gen = bench.resources["generator"]
    with raw(gen) as sock:
        sock.sendall(b"\xff\xfe\x00\x81garbage \xc3(\n")  # not UTF-8, not SCPI
        sock.sendall(b"*IDN\x07?\n")  # a control character inside a header
        sock.sendall(b"A" * 200_000 + b"\n")  # longer than the input buffer
        sock.sendall(b'SOUR1:FUNC "unterminated\n')
        assert ask(sock, b"*IDN?").startswith((b"Agilent", b"Rigol"))
        errors = [ask(sock, b"SYST:ERR?") for _ in range(5)]
    codes = [int(e.split(b",")[0]) for e in errors]
    assert codes[0] in (-101, -102, -113)
    assert codes[1] in (-101, -102)
    assert codes[2] == -363
    assert codes[3] == -151
    assert codes[4] == 0
    # half a line, then the client vanishes: nothing executes, the next client is served
    with raw(gen) as sock:
        sock.sendall(b"OUTP1 O")
    time.sleep(0.05)
    g = visa_open(gen)
    assert g.query("OUTP1?") in ("0", "OFF")
    assert g.query("SYST:ERR?").split(",")[0] in ("+0", "0")


def test_client_dropping_mid_transfer_of_a_large_block(sim_bench, visa_open):
    bench = sim_bench("keysight")
    scope = bench.resources["scope"]
    with raw(scope) as sock:
        assert ask(sock, b":TIM:SCAL 1e-3;:WAV:POIN:MODE RAW;:WAV:POIN 1000000;:DIGitize CHAN1;*OPC?") == b"1"
        sock.sendall(b":WAV:DATA?\n")
        head = sock.recv(1000)
        assert head.startswith(b"#801000000")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
    s = visa_open(scope)
    assert s.query("*IDN?").startswith("KEYSIGHT")
    s.write(":DIGitize CHAN1")
    assert s.query("*OPC?") == "1"
    data = s.query_binary_values(":WAV:DATA?", datatype="B", container=np.array)
    assert len(data) == 1_000_000
    assert s.query(":SYST:ERR?") == '+0,"No error"'


def test_a_client_waiting_for_a_trigger_does_not_block_the_others(sim_bench, visa_open):
    bench = sim_bench("keysight")
    s1 = visa_open(bench.resources["scope"], timeout_ms=500)
    s2 = visa_open(bench.resources["scope"])
    s1.write(":TRIG:SWE NORM;:TRIG:EDGE:LEV 3.7")  # the inputs sit at the 2 V bias: never crossed
    s1.write(":DIGitize CHAN1")
    t0 = time.monotonic()
    assert s2.query("*IDN?").startswith("KEYSIGHT")  # served while s1 waits
    assert time.monotonic() - t0 < 0.5
    import pyvisa

    with pytest.raises(pyvisa.errors.VisaIOError):
        s1.query("*OPC?")  # DIGitize in NORMal sweep never completes: the client times out
    s1.close()
    s2.write(":TRIG:SWE AUTO")
    s2.write(":DIGitize CHAN1")
    assert s2.query("*OPC?") == "1"


def test_many_clients_at_once(sim_bench):
    bench = sim_bench("rigol")
    gen = bench.resources["generator"]
    answers: list[bytes] = []

    def worker() -> None:
        with raw(gen) as sock:
            for _ in range(20):
                answers.append(ask(sock, b":SOUR1:FREQ?"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert answers == [b"1.000000E+03"] * 160
