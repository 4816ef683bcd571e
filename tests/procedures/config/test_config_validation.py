"""Config validation: physical ranges, finite numbers, clean names, the simulator's bind address, and the model
fixes that let every value validation accepts run (issue 10, item 7).

Each refusal is checked to be one :class:`~instruments.errors.ConfigError` line naming the file and the key.
Values are checked against independent truth where the test checks values: the simulator's own MNA solve for the
bandwidth, a bisection of the device law for V_BE, the fixed point of a linear map.
"""

from __future__ import annotations

import copy
import logging
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomllib

from instruments.bench_config import is_loopback, load_bench, parse_bench
from instruments.board_config import SCHEMA as BOARD_SCHEMA
from instruments.board_config import parse_board
from instruments.config_schema import SHOW_CHARS, load_toml
from instruments.errors import ConfigError
from procedures.cli.main import main
from procedures.config.procedure import parse_procedure

ROOT = Path(__file__).resolve().parents[3]
BOARDS = ROOT / "configs" / "boards"
BOARD = BOARDS / "bjt-source-text.toml"
MOS = BOARDS / "mos-resistive.toml"
SIM_BENCH = ROOT / "configs" / "benches" / "sim-keysight.toml"
PROCEDURE = ROOT / "configs" / "procedures" / "characterisation.toml"


def _doc(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _parse(kind: str, doc: dict[str, Any]) -> object:
    if kind == "board":
        return parse_board(doc, source="x.toml")
    if kind == "bench":
        return parse_bench(doc, source="x.toml")
    return parse_procedure(doc, source="x.toml")


_SOURCES = {"board": BOARD, "mos": MOS, "bench": SIM_BENCH, "procedure": PROCEDURE}

REFUSED = [
    # numbers: not finite, too large, out of the physical range
    ("board", "supply", "vcc_v", math.inf, "[supply] vcc_v: is +inf (must be finite)"),
    ("board", "supply", "vee_v", -math.inf, "[supply] vee_v: is -inf (must be finite)"),
    ("board", "tail", "r_ohm", math.nan, "[tail] r_ohm: is NaN"),
    ("board", "supply", "vcc_v", 10**400, "[supply] vcc_v: 1000000000000000000"),
    ("board", "device", "is_a", 1e308, "[device] is_a: 1e+308 is out of range (must be <= 1e-08)"),
    ("board", "device", "is_a", 1e-30, "[device] is_a: 1e-30 is out of range (must be >= 1e-20)"),
    ("board", "device", "early_v", 1.0, "[device] early_v: 1.0 is out of range (must be >= 10)"),
    ("board", "load", "c_f", 0.5, "[load] c_f: 0.5 is out of range (must be <= 0.001)"),
    ("board", "temperature", "t_k", 4.2, "[temperature] t_k: 4.2 is out of range (must be >= 200)"),
    ("board", "sim", "seed", 2**63, "[sim] seed: 9223372036854775808 is out of range"),
    ("board", "sim", "seed", -1, "[sim] seed: -1 is out of range (must be >= 0)"),
    ("board", "inputs", "bias_r_ohm", 1e-3, "[inputs] bias_r_ohm: 0.001 Ohm is a wire"),
    ("board", "load", "return_v", 7.0, "[load] return_v: 7 V is outside the supplies [0, 5] V"),
    ("board", "limits", "bias_max_v", 6.0, "[limits] bias_max_v: 6 V is outside the supplies [0, 5] V"),
    ("board", "limits", "vid_max_vpk", 5e-324, "[limits] vid_max_vpk: 5e-324 is out of range"),
    ("mos", "device", "lambda_per_v", 1e-9, "[device] lambda_per_v: 1e-09/V is below 0.0001/V"),
    ("bench", "sim", "gen_amplitude_mismatch_db", 1e6, "[sim] gen_amplitude_mismatch_db: 1000000.0 is out of range"),
    ("bench", "generator", "timeout_ms", 10**9, "[generator] timeout_ms: 1000000000 is out of range"),
    ("bench", "sim", "scope_skew_s", [0.0, 1.0, 0.0, 0.0], "[sim] scope_skew_s[1]: 1.0 is out of range"),
    ("procedure", "frequency", "points", 2**63, "[frequency] points: 9223372036854775808 is out of range"),
    ("procedure", "frequency", "stop_hz", 1e308, "[frequency] stop_hz: 1e+308 is out of range"),
    ("procedure", "frequency", "list_hz", [1e3, math.inf], "[frequency] list_hz[1]: is +inf (must be finite)"),
    ("procedure", "amplitude", "vid_vpk", [0.01] * 5000, "[amplitude] vid_vpk: has 5000 items (at most 1000)"),
    ("procedure", "acquisition", "timeout_s", math.inf, "[acquisition] timeout_s: is +inf"),
    # wrong types
    ("board", "supply", "vcc_v", "5", "[supply] vcc_v: expected a number, got '5'"),
    ("board", "supply", "vcc_v", True, "[supply] vcc_v: expected a number, got True"),
    ("procedure", "dc", "points", 5.0, "[dc] points: expected a whole number, got 5.0"),
    ("bench", "bench", "simulated", "yes", "[bench] simulated: expected true or false, got 'yes'"),
    # names, enumerations, text
    ("board", "board", "name", "Ω-board", "[board] name: 'Ω-board' is not a valid name"),
    ("board", "board", "name", "a\nb", "[board] name: holds a control character (U+000A)"),
    ("board", "board", "name", "", "[board] name: '' is not a valid name"),
    ("board", "board", "name", "x" * 65, "[board] name: is 65 characters long (at most 64)"),
    ("board", "board", "description", "gain \u202e001", "[board] description: holds a format character (U+202E)"),
    ("board", "board", "description", "a\x00b", "[board] description: holds a control character (U+0000)"),
    ("board", "device", "type", "npn\u200b", "[device] type: 'npn\\u200b' is not one of"),
    ("bench", "bench", "board", "../boards/a\x00.toml", "[bench] board: holds a control character (U+0000)"),
    ("bench", "generator", "resource", "TCPIP0::a b::SOCKET", "[generator] resource: 'TCPIP0::a b::SOCKET' is not a "
                                                             "VISA resource string"),
    ("procedure", "procedure", "kind", "dc", "[procedure] kind: 'dc' is not one of"),
    ("procedure", "fit", "small_signal_free", ["gm", "g\u00b5"], "[fit] small_signal_free[1]: 'gµ' is not a parameter "
                                                                "name"),
    # the bind address
    ("bench", "bench", "host", "0.0.0.0", "[bench] host: '0.0.0.0' is not a loopback address"),
    ("bench", "bench", "host", "192.168.1.5", "[bench] host: '192.168.1.5' is not a loopback address"),
    ("bench", "bench", "host", "lab-pc.example.com", "[bench] host: 'lab-pc.example.com' is not a loopback"),
    ("bench", "bench", "host", "bad host!", "[bench] host: 'bad host!' is neither an IP address nor a host name"),
]


@pytest.mark.parametrize("kind, section, key, value, fragment", REFUSED,
                         ids=[f"{k}-{s}-{key}-{i}" for i, (k, s, key, _, _) in enumerate(REFUSED)])
def test_refused_with_one_line_naming_file_and_key(kind: str, section: str, key: str, value: Any,
                                                   fragment: str) -> None:
    doc = _doc(_SOURCES[kind])
    doc.setdefault(section, {})[key] = value
    with pytest.raises(ConfigError) as exc:
        _parse("board" if kind == "mos" else kind, doc)
    text = str(exc.value)
    assert text.startswith("x.toml: ") and fragment in text, text
    assert "\n" not in text and len(text) < 400


def test_the_shipped_configs_and_legal_text_are_accepted() -> None:
    for path in sorted((ROOT / "configs").glob("*/*.toml")):
        doc = _doc(path)
        kind = {"boards": "board", "faults": "board", "benches": "bench", "procedures": "procedure",
                "lots": "lot"}[path.parent.name]
        if kind == "lot":
            from procedures.lot.config import load_lot

            assert load_lot(path).name == doc["lot"]["name"]  # and every config it names loads
        elif kind == "board":
            parse_board(doc, source=str(path))  # a netlist board's file is relative to its config
        else:
            _parse(kind, doc)
    doc = _doc(BOARD)
    doc["board"].update(name="Board 7b_rev.2+", description="Verstärker, 40 kΩ, µA-Bereich ✓")
    assert parse_board(doc).description.endswith("✓")
    for host in ("127.0.0.1", "127.8.9.10", "::1", "localhost", "LocalHost"):
        doc = _doc(SIM_BENCH)
        doc["bench"]["host"] = host
        assert parse_bench(doc).host == host and is_loopback(host)


def test_a_long_bad_value_is_cut_in_the_message() -> None:
    doc = _doc(BOARD)
    doc["supply"]["vcc_v"] = "5" * 10_000
    with pytest.raises(ConfigError) as exc:
        parse_board(doc, source="x.toml")
    assert len(str(exc.value)) < 60 + SHOW_CHARS and str(exc.value).endswith("...")


def test_an_unknown_key_with_a_newline_stays_on_one_line() -> None:
    doc = _doc(BOARD)
    doc["tail"]["r_\nohm"] = 1.0
    with pytest.raises(ConfigError, match=r"\[tail\] 'r_\\nohm': unknown key") as exc:
        parse_board(doc, source="x.toml")
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("content, fragment", [
    (b"a = " + b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'[board]\nname = "\xff"\n', "not UTF-8"),
    (b"[board\n", "not valid TOML"),
])
def test_unreadable_files_are_one_line(tmp_path: Path, content: bytes, fragment: str) -> None:
    p = tmp_path / "b.toml"
    p.write_bytes(content)
    with pytest.raises(ConfigError, match=fragment) as exc:
        load_toml(p)
    assert "\n" not in str(exc.value)
    with pytest.raises(ConfigError, match="not a usable file name"):
        load_toml("a\x00b.toml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_toml(tmp_path)


def test_the_issues_board_values_are_one_line_on_the_command_line(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    text = BOARD.read_text(encoding="utf-8")
    for old, new, fragment in (("c_f = 10e-12", "c_f = 0.5", "[load] c_f"),
                               ("vcc_v = 5.0", "vcc_v = inf", "[supply] vcc_v"),
                               ("is_a = 1e-15", "is_a = 1e308", "[device] is_a")):
        p = tmp_path / "b.toml"
        p.write_text(text.replace(old, new, 1), encoding="utf-8")
        assert main(["predict", str(p)]) == 2
        cap = capsys.readouterr()
        assert cap.out == "" and cap.err.count("\n") == 1 and str(p) in cap.err and fragment in cap.err


# ---------------------------------------------------------------------------------------------------------
# the simulator's bind address


class _NoBind:
    """Stands in for ScpiServer: records the address asked for and binds nothing."""

    asked: list[tuple[str, int]] = []

    def __init__(self, device: object, host: str = "127.0.0.1", port: int = 0, timing: object = None) -> None:
        _NoBind.asked.append((host, port))
        self.host, self.port = host, 40000 + len(_NoBind.asked)

    @property
    def resource(self) -> str:
        return f"TCPIP0::{self.host}::{self.port}::SOCKET"

    def close(self) -> None:
        pass


@pytest.fixture
def no_bind(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    import instruments.sim.bench as sim_bench

    _NoBind.asked = []
    monkeypatch.setattr(sim_bench, "ScpiServer", _NoBind)
    return _NoBind.asked


def _remote_bench(tmp_path: Path, allow: bool | None) -> Path:
    text = SIM_BENCH.read_text(encoding="utf-8").replace('host = "127.0.0.1"', 'host = "0.0.0.0"')
    text = text.replace('board = "../boards/', f'board = "{BOARDS}/')
    if allow is not None:
        text = text.replace("[sim]\n", f"[sim]\nallow_remote = {'true' if allow else 'false'}\n")
    p = tmp_path / "remote.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_a_remote_host_needs_an_opt_in(tmp_path: Path) -> None:
    for allow in (None, False):
        with pytest.raises(ConfigError, match=r"remote.toml: \[bench\] host: '0.0.0.0' is not a loopback address.*"
                                              r"allow_remote = true.*--allow-remote"):
            load_bench(_remote_bench(tmp_path, allow))
    assert load_bench(_remote_bench(tmp_path, True)).host == "0.0.0.0"
    assert load_bench(_remote_bench(tmp_path, None), allow_remote=True).host == "0.0.0.0"


def test_simbench_refuses_a_remote_override_before_binding(no_bind: list[tuple[str, int]]) -> None:
    from instruments.sim.bench import SimBench

    with pytest.raises(ConfigError, match=r"^--host: '0.0.0.0' is not a loopback address"):
        SimBench(load_bench(SIM_BENCH), host="0.0.0.0")
    assert no_bind == []


def test_an_opted_in_remote_bench_warns_once(tmp_path: Path, no_bind: list[tuple[str, int]],
                                             caplog: pytest.LogCaptureFixture) -> None:
    from instruments.sim.bench import SimBench

    caplog.set_level(logging.WARNING, logger="instruments.sim.bench")
    with SimBench(load_bench(_remote_bench(tmp_path, True))):
        pass
    with SimBench(load_bench(SIM_BENCH), host="0.0.0.0", allow_remote=True):
        pass
    with SimBench(load_bench(SIM_BENCH)):  # loopback: no warning
        pass
    assert [h for h, _ in no_bind] == ["0.0.0.0"] * 4 + ["127.0.0.1"] * 2
    remote = [r for r in caplog.records if "not loopback" in r.getMessage()]
    assert len(remote) == 2 and all("0.0.0.0" in r.getMessage() and "\n" not in r.getMessage() for r in remote)


def test_sim_serve_refuses_a_remote_host_in_one_line(tmp_path: Path, no_bind: list[tuple[str, int]],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "serve", str(_remote_bench(tmp_path, None))]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "[bench] host" in err and "--allow-remote" in err
    assert main(["sim", "serve", str(SIM_BENCH), "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--host: '0.0.0.0' is not a loopback address" in err
    assert no_bind == []


# ---------------------------------------------------------------------------------------------------------
# what validation accepts runs


def test_bandwidth_below_a_millihertz_matches_the_simulator() -> None:
    """The largest load capacitance a config accepts puts the -3 dB point at a few mHz (the old search started at
    1 mHz and failed); the prediction equals the frequency where the simulator's |Add| is 3 dB down."""
    from scipy.optimize import brentq

    from instruments.sim.board import SimBoard
    from procedures.predict.prediction import predict

    doc = _doc(BOARD)
    doc["load"]["c_f"] = 1e-3
    doc["mismatch"] = {}
    board = parse_board(doc, source="x.toml")
    pred = predict(board, np.array([1.0]))
    sim = SimBoard.from_config(board)
    a0 = abs(sim.small_signal_s(np.array([1e-12]))[0, 0, 0])
    f3 = brentq(lambda lf: abs(sim.small_signal_s(np.array([10.0 ** lf]))[0, 0, 0]) - a0 / math.sqrt(2.0), -6, 0,
                xtol=1e-12)
    assert pred.bandwidth_hz < 1e-2
    assert pred.bandwidth_hz == pytest.approx(10.0 ** f3, rel=1e-5)


def test_vbe_where_the_early_factor_is_small_solves_the_device_law() -> None:
    """A saturated transistor with a small V_A (the Early factor near 0.05): V_BE by Newton's method equals a
    bisection of ``I_S e^{V_BE/V_T} (1 + (V_CE - V_BE)/V_A) = I_C`` on its rising branch."""
    from models import BjtParams
    from models.operating_point.device_law import BjtLaw as _Law

    vt, dev, i_c, v_ce = 0.025852, BjtParams(beta=100.0, early_v=10.0, i_s=1e-15), 1e-4, -8.9
    law = _Law(dev, vt)
    u = law._vbe(i_c, v_ce, 0.0)
    lo, hi = 0.0, v_ce + dev.early_v - 1e-9  # the factor is positive below hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if dev.i_s * math.exp(mid / vt) * (1.0 + (v_ce - mid) / dev.early_v) < i_c:
            lo = mid
        else:
            hi = mid
    assert 1.0 + (v_ce - u) / dev.early_v < 0.1  # the slow-contraction case
    assert u == pytest.approx(0.5 * (lo + hi), abs=1e-12)


def test_a_map_that_does_not_contract_still_has_its_fixed_point() -> None:
    from models.operating_point.roots import fixed_point as _fixed_point

    assert _fixed_point(lambda x: 2.0 * x - 1.0, 0.3, 1.0, "test") == pytest.approx(1.0, abs=1e-12)
    assert _fixed_point(lambda x: 0.99 * x + 0.01 * 3.0, 0.0, 1.0, "test") == pytest.approx(3.0, abs=1e-11)


def test_a_solve_that_wanders_stops_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import models.operating_point.budget as op
    from procedures.predict.mapping import operating_point

    monkeypatch.setattr(op, "MAX_LAW_EVALUATIONS", 100)
    with pytest.raises(ConfigError, match=r"x.toml: no DC operating point: .*more than 100 device-law evaluations"):
        operating_point(parse_board(_doc(BOARD), source="x.toml"))


def test_cut_off_devices_give_nan_figures_without_warnings() -> None:
    import json

    from procedures.predict.json_report import to_json
    from procedures.predict.prediction import predict
    from procedures.predict.text import format_report

    doc = _doc(MOS)
    doc["mismatch"]["vth_v"] = 0.5  # one side cut off
    board = parse_board(doc, source="x.toml")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pred = predict(board, np.logspace(1, 6, 6))
        format_report(pred)
        json.dumps(to_json(pred), allow_nan=False)
    assert any("cut off" in w for w in pred.warnings)


@pytest.mark.parametrize("path", [BOARD, BOARDS / "bjt-active-load.toml", MOS], ids=lambda p: p.stem)
def test_every_number_at_the_ends_of_its_range_predicts(path: Path) -> None:
    """Each numeric board key alone at its lower and upper bound: a prediction (no numpy warning), or a one-line
    'no DC operating point' (a board no DC level exists for, e.g. a 1 A tail through 40 kOhm loads)."""
    from procedures.predict.prediction import predict
    from procedures.predict.text import format_report

    base = _doc(path)
    tried = predicted = 0
    for section, spec in BOARD_SCHEMA.items():
        if section == "mirror" and "mirror" not in base:
            continue
        for key, f in spec.fields.items():
            if f.kind is not float:
                continue
            for value in (f.lo, f.hi):
                if value is None:
                    continue
                doc = copy.deepcopy(base)
                doc.setdefault(section, {})[key] = value
                try:
                    board = parse_board(doc, source=str(path))
                except ConfigError:
                    continue  # a cross-check (levels outside the supplies, ...): refused in one line
                tried += 1
                with warnings.catch_warnings():
                    warnings.simplefilter("error")
                    try:
                        format_report(predict(board, np.logspace(1, 7, 7)))
                        predicted += 1
                    except ConfigError as exc:
                        assert "no DC operating point" in str(exc) and "\n" not in str(exc)
    assert tried > 40 and predicted > 0.8 * tried


def _acquire_in_process(bench: Any) -> np.ndarray:
    """Drive 20 mVpp differential at 1 kHz around 2 V and digitise all four channels, by SCPI lines executed in
    process (no socket); returns channel 3's codes. Every error queue must stay empty."""
    gen, scope = bench.generator_device, bench.scope_device
    for cmd in ("*RST;*CLS", "OUTP1:LOAD INF;OUTP2:LOAD INF",
                "SOUR1:FUNC SIN;SOUR1:FREQ 1000;SOUR1:VOLT:UNIT VPP;SOUR1:VOLT 0.01;SOUR1:VOLT:OFFS 2.0",
                "SOUR1:TRACk INV", "OUTP1 ON;OUTP2 ON"):
        gen.execute(cmd.encode())
    assert gen.execute(b"SYST:ERR?") == b'+0,"No error"\n'
    scope.execute(b"*RST;*CLS")
    for ch, (scale, offset) in {1: (0.005, 2.0), 2: (0.005, 2.0), 3: (0.5, 3.0), 4: (0.5, 3.0)}.items():
        scope.execute(f":CHAN{ch}:DISP 1;:CHAN{ch}:COUP DC;:CHAN{ch}:SCAL {scale};:CHAN{ch}:OFFS {offset}".encode())
    for cmd in (":TIM:SCAL 0.0005;:TRIG:MODE EDGE;:TRIG:EDGE:SOUR CHAN1;:TRIG:EDGE:LEV 2.0",
                ":WAV:FORM BYTE;:WAV:UNS 1;:WAV:POIN:MODE RAW;:WAV:POIN 10000",
                ":DIGitize CHANnel1,CHANnel2,CHANnel3,CHANnel4"):
        scope.execute(cmd.encode())
    assert scope.execute(b"*OPC?") == b"1\n"
    scope.execute(b":WAV:SOUR CHAN3")
    block = scope.execute(b":WAV:DATA?")
    assert scope.execute(b":SYST:ERR?") == b'+0,"No error"\n'
    digits = int(block[1:2])
    return np.frombuffer(block[2 + digits:-1], dtype=np.uint8)


def test_every_bench_sim_number_at_the_ends_of_its_range_acquires(no_bind: list[tuple[str, int]]) -> None:
    """Each numeric ``[sim]`` key of a simulated bench alone at its lower and upper bound: the simulator starts
    and acquires without an error in any queue (nothing is bound: ScpiServer is stood in for)."""
    from instruments.bench_config import SCHEMA as BENCH_SCHEMA
    from instruments.board_config import load_board
    from instruments.sim.bench import SimBench
    from instruments.sim.board import SimBoard

    board = SimBoard.from_config(load_board(BOARD))
    cases = 0
    for key, f in BENCH_SCHEMA["sim"].fields.items():
        if f.kind not in (float, list) or f.lo is None:
            continue
        for end in (f.lo, f.hi):
            doc = _doc(SIM_BENCH)
            doc["sim"][key] = [end] * 4 if f.kind is list else end
            config = parse_bench(doc, source="x.toml", base_dir=SIM_BENCH.parent)
            with SimBench(config, board=board) as bench:
                codes = _acquire_in_process(bench)
            assert codes.size >= 1000, (key, end)
            cases += 1
    assert cases >= 14 and all(h == "127.0.0.1" for h, _ in no_bind)
