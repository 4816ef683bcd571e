"""Opening a bench against playback resources and real loopback sockets: the right driver, a wrong driver,
an address that does not answer, an instrument error while opening; and the generator outputs off after
every failure once the generator has answered. Also ``diffbench identify`` / ``list`` over real sockets."""

from __future__ import annotations

import argparse
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from instruments import registry
from instruments.bench import Bench, open_bench
from instruments.bench_config import parse_bench
from instruments.errors import ConfigError, InstrumentConnectionError, InstrumentError, InstrumentTimeout
from instruments.keysight_33500 import Keysight33500
from instruments.scope import Oscilloscope
from protocol import PlaybackResource

KEYSIGHT_GEN = "Keysight Technologies,33522B,MY59000000,A.03.03-3.15-03-64-02"
RIGOL_SCOPE = "RIGOL TECHNOLOGIES,DS1054Z,DS1ZA000000000,00.04.04.SP3"
KEYSIGHT_SCOPE = "KEYSIGHT TECHNOLOGIES,DSOX1204G,CN59000000,02.12.2021071625"
OK = ("SYST:ERR?", '+0,"No error"')
GEN_OPEN = [("*IDN?", KEYSIGHT_GEN), ("*CLS", None), OK]
GEN_OFF = [("OUTP1 OFF", None), OK, ("OUTP2 OFF", None), OK]


class Playback(PlaybackResource):
    def __init__(self, name: str, exchanges):
        super().__init__(exchanges)
        self.resource_name = name


class FakeScope(Oscilloscope):
    """A scope driver for these tests only: the bench needs *a* scope; its safe state sends ``:RUN``."""

    error_query = "SYST:ERR?"

    def run(self) -> None:
        self.set(":RUN")


FakeScope.__abstractmethods__ = frozenset()  # the acquisition methods are never called here


def bench_config(gen_driver: str | None = "keysight_33500", scope_driver: str | None = "rigol_ds1000z",
                 gen_resource: str = "TCPIP0::10.0.0.5::5025::SOCKET",
                 scope_resource: str = "TCPIP0::10.0.0.6::5555::SOCKET", timeout_ms: int = 300):
    doc = {"bench": {"name": "test"},
           "generator": {"resource": gen_resource, "timeout_ms": timeout_ms},
           "scope": {"resource": scope_resource, "timeout_ms": timeout_ms}}
    if gen_driver:
        doc["generator"]["driver"] = gen_driver
    if scope_driver:
        doc["scope"]["driver"] = scope_driver
    return parse_bench(doc, source="test-bench.toml")


@pytest.fixture
def fake_scope_driver(monkeypatch):
    """Scope drivers load as :class:`FakeScope` (the scope modules belong to another part of the project)."""
    real = registry.load_driver
    monkeypatch.setattr(registry, "load_driver", lambda name, model=None:
                        FakeScope if registry.DRIVERS[name].kind == "scope" else real(name, model))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def line_server(replies: dict[str, str] | None) -> Iterator[tuple[str, list[str]]]:
    """A loopback raw-socket server: answers each query line found in ``replies`` (``None``: never answers).
    Yields its VISA address and the list of lines it received."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    received: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(0.1)
                buf = b""
                while not stop.is_set():
                    try:
                        chunk = conn.recv(4096)
                    except TimeoutError:
                        continue
                    if not chunk:
                        break
                    buf += chunk
                    while b"\n" in buf:
                        line, buf = buf.split(b"\n", 1)
                        received.append(line.decode())
                        if replies is not None and line.decode() in replies:
                            conn.sendall(replies[line.decode()].encode() + b"\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"TCPIP0::127.0.0.1::{srv.getsockname()[1]}::SOCKET", received
    finally:
        stop.set()
        thread.join(2)
        srv.close()


# -- opening ------------------------------------------------------------------------------------------------
def test_open_picks_drivers_and_closing_turns_outputs_off(fake_scope_driver):
    gen = Playback("TCPIP0::10.0.0.5::5025::SOCKET", GEN_OPEN + GEN_OFF)
    scope = Playback("TCPIP0::10.0.0.6::5555::SOCKET",
                     [("*IDN?", RIGOL_SCOPE), ("*CLS", None), OK, (":RUN", None), OK])
    with open_bench(bench_config(gen_driver=None, scope_driver=None),
                    resources={"generator": gen, "scope": scope}) as bench:
        assert isinstance(bench, Bench) and isinstance(bench.generator, Keysight33500)
        assert bench.generator.label == "generator Keysight 33522B at TCPIP0::10.0.0.5::5025::SOCKET"
        assert bench.scope.label == "scope RIGOL DS1054Z at TCPIP0::10.0.0.6::5555::SOCKET"
        assert bench.identities == {"generator": KEYSIGHT_GEN, "scope": RIGOL_SCOPE}
        assert bench.drivers == {"generator": "keysight_33500", "scope": "rigol_ds1000z"}
        assert bench.wiring.tied is False
    assert gen.done and scope.done and gen.closed and scope.closed


def test_open_from_a_toml_path(tmp_path, fake_scope_driver):
    path = tmp_path / "bench.toml"
    path.write_text('[bench]\nname = "t"\n[generator]\nresource = "TCPIP0::h::5025::SOCKET"\n'
                    'driver = "keysight_33500"\n[scope]\nresource = "TCPIP0::s::5555::SOCKET"\n'
                    '[wiring]\nin1 = 1\nin2 = 1\n')
    gen = Playback("G", GEN_OPEN)
    scope = Playback("S", [("*IDN?", RIGOL_SCOPE), ("*CLS", None), OK])
    bench = open_bench(path, resources={"generator": gen, "scope": scope})
    assert bench.wiring.tied and bench.config is not None and bench.config.source == str(path)


def test_single_channel_generator_model_is_configured(fake_scope_driver):
    gen = Playback("G", [("*IDN?", "Keysight Technologies,33521B,MY1,A.03"), ("*CLS", None), OK,
                         ("OUTP1 OFF", None), OK])
    scope = Playback("S", [("*IDN?", RIGOL_SCOPE), ("*CLS", None), OK, (":RUN", None), OK])
    with open_bench(bench_config(), resources={"generator": gen, "scope": scope}) as bench:
        assert bench.generator.channels == (1,)
    assert gen.done


def test_empty_first_idn_is_asked_again(fake_scope_driver):
    gen = Playback("G", [("*IDN?", ""), ("*IDN?", KEYSIGHT_GEN), ("*CLS", None), OK])
    scope = Playback("S", [("*IDN?", RIGOL_SCOPE), ("*CLS", None), OK])
    assert open_bench(bench_config(), resources={"generator": gen, "scope": scope}).identities["generator"] \
        == KEYSIGHT_GEN


# -- wrong driver -----------------------------------------------------------------------------------------
def test_wrong_generator_driver_is_refused_and_outputs_go_off_with_the_fitting_driver():
    gen = Playback("TCPIP0::10.0.0.5::5025::SOCKET", [("*IDN?", KEYSIGHT_GEN)] + GEN_OFF)
    scope = Playback("S", [])
    with pytest.raises(InstrumentError) as info:
        open_bench(bench_config(gen_driver="rigol_dg1000z"), resources={"generator": gen, "scope": scope})
    text = str(info.value)
    assert text.startswith("generator Keysight 33522B at TCPIP0::10.0.0.5::5025::SOCKET: ")
    assert "'rigol_dg1000z'" in text and KEYSIGHT_GEN in text and "'keysight_33500'" in text
    assert gen.done and gen.closed  # OUTP1 OFF / OUTP2 OFF were sent, then the resource was closed


def test_wrong_scope_driver_is_refused_and_generator_outputs_go_off():
    gen = Playback("G", GEN_OPEN + GEN_OFF)
    scope = Playback("TCPIP0::10.0.0.6::5555::SOCKET", [("*IDN?", RIGOL_SCOPE)])
    with pytest.raises(InstrumentError) as info:
        open_bench(bench_config(scope_driver="keysight_infiniivision"), resources={"generator": gen, "scope": scope})
    text = str(info.value)
    assert text.startswith("scope RIGOL DS1054Z at TCPIP0::10.0.0.6::5555::SOCKET: ")
    assert "'keysight_infiniivision'" in text and RIGOL_SCOPE in text and "'rigol_ds1000z'" in text
    assert gen.done and gen.closed and scope.done and scope.closed


def test_a_scope_at_the_generator_address_is_refused_without_commands_to_it():
    gen = Playback("G", [("*IDN?", KEYSIGHT_SCOPE)])
    with pytest.raises(InstrumentError, match=r"not a generator: check the \[generator\] resource"):
        open_bench(bench_config(gen_driver=None), resources={"generator": gen, "scope": Playback("S", [])})
    assert gen.done and gen.closed


def test_an_unknown_generator_is_refused():
    gen = Playback("G", [("*IDN?", "Rohde&Schwarz,SMB100A,1,2")])
    with pytest.raises(InstrumentError, match="no diffbench generator driver serves model 'SMB100A'"):
        open_bench(bench_config(gen_driver=None), resources={"generator": gen, "scope": Playback("S", [])})
    assert gen.done and gen.closed


# -- no answer ----------------------------------------------------------------------------------------------
def test_generator_at_a_closed_port_is_one_clear_error():
    address = f"TCPIP0::127.0.0.1::{free_port()}::SOCKET"
    with pytest.raises(InstrumentConnectionError) as info:
        open_bench(bench_config(gen_resource=address, timeout_ms=200))
    text = str(info.value)
    assert text.startswith(f"generator at {address}: ") and "\n" not in text


def test_scope_at_a_closed_port_leaves_generator_outputs_off():
    address = f"TCPIP0::127.0.0.1::{free_port()}::SOCKET"
    gen = Playback("G", GEN_OPEN + GEN_OFF)
    with pytest.raises(InstrumentConnectionError, match=f"scope at {address}"):
        open_bench(bench_config(timeout_ms=200), resources={"generator": gen, "scope": address})
    assert gen.done and gen.closed


def test_scope_that_never_answers_times_out_and_generator_outputs_go_off():
    gen = Playback("G", GEN_OPEN + GEN_OFF)
    with line_server(None) as (address, received):
        with pytest.raises(InstrumentTimeout) as info:
            open_bench(bench_config(timeout_ms=200), resources={"generator": gen, "scope": address})
    assert str(info.value).startswith(f"scope at {address}: no answer") and "*IDN?" in str(info.value)
    assert received == ["*IDN?"] and gen.done and gen.closed


def test_generator_over_a_real_socket(fake_scope_driver):
    replies = {"*IDN?": KEYSIGHT_GEN, "SYST:ERR?": '+0,"No error"'}
    scope = Playback("S", [("*IDN?", RIGOL_SCOPE), ("*CLS", None), OK, (":RUN", None), OK])
    with line_server(replies) as (address, received):
        with open_bench(bench_config(gen_resource=address, timeout_ms=1000), resources={"scope": scope}) as bench:
            assert bench.generator.label == f"generator Keysight 33522B at {address}"
    # \n terminations on the socket: the server saw whole lines, in order
    assert received == ["*IDN?", "*CLS", "SYST:ERR?", "OUTP1 OFF", "SYST:ERR?", "OUTP2 OFF", "SYST:ERR?"]


# -- instrument errors while opening ------------------------------------------------------------------------
def test_generator_error_after_cls_is_reported_and_outputs_go_off():
    gen = Playback("TCPIP0::10.0.0.5::5025::SOCKET",
                   [("*IDN?", KEYSIGHT_GEN), ("*CLS", None), ("SYST:ERR?", '-113,"Undefined header"'), OK]
                   + GEN_OFF)
    with pytest.raises(InstrumentError) as info:
        open_bench(bench_config(), resources={"generator": gen, "scope": Playback("S", [])})
    text = str(info.value)
    assert text.startswith("generator Keysight 33522B at TCPIP0::10.0.0.5::5025::SOCKET: ")
    assert "*CLS" in text and '-113,"Undefined header"' in text
    assert gen.done and gen.closed


def test_scope_error_after_cls_is_reported_and_generator_outputs_go_off(fake_scope_driver):
    gen = Playback("G", GEN_OPEN + GEN_OFF)
    scope = Playback("S", [("*IDN?", RIGOL_SCOPE), ("*CLS", None), ("SYST:ERR?", '-300,"Device-specific error"'),
                           OK])
    with pytest.raises(InstrumentError, match=r"scope RIGOL DS1054Z at S: .*Device-specific error.*\*CLS"):
        open_bench(bench_config(), resources={"generator": gen, "scope": scope})
    assert gen.done and gen.closed and scope.done and scope.closed


def test_outputs_off_failing_during_cleanup_does_not_hide_the_first_error():
    gen = Playback("G", GEN_OPEN + [("OUTP1 OFF", None), ("SYST:ERR?", '-200,"Execution error"'), OK,
                                    ("OUTP2 OFF", None), OK])
    scope = Playback("S", [("*IDN?", KEYSIGHT_SCOPE)])
    with pytest.raises(InstrumentError, match="configured driver 'rigol_ds1000z'") as info:
        open_bench(bench_config(), resources={"generator": gen, "scope": scope})
    assert any("Execution error" in note for note in getattr(info.value, "__notes__", []))
    assert gen.done and gen.closed


def test_simulated_bench_needs_the_served_resources(tmp_path):
    cfg = parse_bench({"bench": {"name": "sim", "simulated": True, "board": "b.toml"},
                       "generator": {"dialect": "keysight_33500"}, "scope": {"dialect": "keysight_infiniivision"}},
                      source="sim.toml")
    with pytest.raises(ConfigError, match=r"sim.toml: \[generator\] resource: a simulated bench .*resources="):
        open_bench(cfg)


# -- closing ------------------------------------------------------------------------------------------------
def test_close_tries_every_step_and_raises_the_first_failure(fake_scope_driver):
    gen = Playback("G", GEN_OPEN + [("OUTP1 OFF", None), ("SYST:ERR?", '-200,"Execution error"'), OK,
                                    ("OUTP2 OFF", None), OK])
    scope = Playback("S", [("*IDN?", RIGOL_SCOPE), ("*CLS", None), OK, (":RUN", None), OK])
    bench = open_bench(bench_config(), resources={"generator": gen, "scope": scope})
    with pytest.raises(InstrumentError, match="Execution error"):
        with bench:
            pass
    assert gen.done and scope.done and gen.closed and scope.closed
    bench.close()  # idempotent


def test_exit_after_an_error_keeps_the_body_error(fake_scope_driver):
    gen = Playback("G", GEN_OPEN + [("OUTP1 OFF", None), ("SYST:ERR?", '-200,"Execution error"'), OK,
                                    ("OUTP2 OFF", None), OK])
    scope = Playback("S", [("*IDN?", RIGOL_SCOPE), ("*CLS", None), OK, (":RUN", None), OK])
    with pytest.raises(KeyError, match="from the procedure") as info:
        with open_bench(bench_config(), resources={"generator": gen, "scope": scope}):
            raise KeyError("from the procedure")
    assert any("Execution error" in n for n in getattr(info.value, "__notes__", []))
    assert gen.done and gen.closed and scope.closed


# -- diffbench identify / list ------------------------------------------------------------------------------
def test_identify_over_a_socket(capsys):
    from procedures.cli import instruments as cli_instruments

    with line_server({"*IDN?": "Rigol Technologies,DG1062Z,DG1ZA1,00.01.14"}) as (address, _):
        assert cli_instruments.run_identify(argparse.Namespace(resource=address, timeout_ms=1000)) == 0
    out = capsys.readouterr().out
    assert "DG1062Z" in out and "driver: rigol_dg1000z (generator" in out


def test_identify_unknown_instrument_is_one_error():
    from procedures.cli import instruments as cli_instruments

    with line_server({"*IDN?": "ACME,WIDGET9,1,2"}) as (address, _):
        with pytest.raises(InstrumentError, match=f"instrument at {address}: .*no diffbench driver serves model "
                                                  "'WIDGET9'"):
            cli_instruments.run_identify(argparse.Namespace(resource=address, timeout_ms=1000))


def test_identify_closed_port_is_one_error():
    from procedures.cli import instruments as cli_instruments

    address = f"TCPIP0::127.0.0.1::{free_port()}::SOCKET"
    with pytest.raises(InstrumentConnectionError, match=f"instrument at {address}"):
        cli_instruments.run_identify(argparse.Namespace(resource=address, timeout_ms=200))


def test_list_probes_every_resource(monkeypatch, capsys):
    import pyvisa

    from procedures.cli import instruments as cli_instruments

    dead = f"TCPIP0::127.0.0.1::{free_port()}::SOCKET"
    with line_server({"*IDN?": RIGOL_SCOPE}) as (alive, _):
        rm = pyvisa.ResourceManager("@py")
        monkeypatch.setattr(rm, "list_resources", lambda query: (alive,))  # discovery itself takes 1 s
        monkeypatch.setattr(cli_instruments, "_resource_manager", lambda: rm)
        args = argparse.Namespace(query="?*::INSTR", resource=[dead], timeout_ms=300)
        assert cli_instruments.run_list(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["RESOURCE", "*IDN?", "DRIVER"]
    assert alive in lines[1] and RIGOL_SCOPE in lines[1] and lines[1].endswith("rigol_ds1000z (scope)")
    assert dead in lines[2] and "no answer" in lines[2]
