"""What ``diffbench predict`` lists at the operating point, against the simulated board's own solve.

Every device the models solve is listed, in the text and in the JSON, under the simulated board's name, and no
device of the simulated board is missing (the telescopic stage's eight, the two-stage board's Q9 and node mid, a
transistor tail's Q10); each listed current and voltage, and each listed node voltage, equals the simulator's
transistor-level operating point (``SimBoard.operating_point``, which shares no code with the models). The split
tail of source text fig. 5-9 shows its bridge resistor R as the config gives it (read from the TOML file itself),
the per-side R/2 as an equivalent, and sink and bridge currents that satisfy KCL at the simulator's emitters.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomllib

from instruments.board_config import load_board
from instruments.sim.board import SimBoard
from procedures.predict.json_report import to_json
from procedures.predict.prediction import predict
from procedures.predict.text import format_report

BOARDS = Path(__file__).resolve().parents[3] / "configs" / "boards"
DEVICE_BOARDS = ("mos-telescopic", "bjt-two-stage", "bjt-split-tail", "bjt-transistor-tail", "bjt-cascode",
                 "mos-active-load")
REL = 1e-4  # models vs simulator: both solve the same laws exactly; they agree to ~1e-5 (two-stage) or better
NODE_ABS_V = 1e-4
TEXT_REL = 1e-3  # the text's four significant digits
SI = {"G": 1e9, "M": 1e6, "k": 1e3, "": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15}


@cache
def _board_outputs(name: str) -> tuple[dict[str, Any], str, dict[str, float]]:
    """The JSON and the text of ``diffbench predict`` for ``name``, and the simulator's operating point."""
    board = load_board(BOARDS / f"{name}.toml")
    pred = predict(board, np.array([1e3]), np.array([board.vid_max_vpk / 10]))
    return to_json(pred), format_report(pred), SimBoard(board).operating_point()


def _sim_devices(op: dict[str, float]) -> set[str]:
    return {k.split(".")[0] for k in op if k.endswith((".ic", ".id"))}


def _sim_value(op: dict[str, float], name: str, key: str, kind: str) -> float:
    sim_key = {"i_out_a": ("ic", "id"), "v_ctrl_v": ("vbe", "vgs"), "v_out_v": ("vce", "vds"),
               "i_in_a": ("ib", None)}[key][0 if kind == "bjt" else 1]
    assert sim_key is not None
    return op[f"{name}.{sim_key}"]


@pytest.mark.parametrize("name", DEVICE_BOARDS)
def test_json_lists_every_simulated_device_with_its_operating_point(name: str) -> None:
    js, _, op = _board_outputs(name)
    listed = js["operating_point"]["devices"]
    names = [d["device"]["name"] for d in listed]
    assert sorted(names) == sorted(_sim_devices(op))
    for d in listed:
        dev = d["device"]
        keys = ("i_out_a", "v_ctrl_v", "v_out_v") + (("i_in_a",) if dev["kind"] == "bjt" else ())
        for key in keys:
            assert dev[key] == pytest.approx(_sim_value(op, dev["name"], key, dev["kind"]), rel=REL), (dev["name"], key)
        if dev["kind"] == "mos":  # the simulator reports the MOS slopes too
            assert dev["gm_s"] == pytest.approx(op[f"{dev['name']}.gm"], rel=REL)
            assert 1.0 / dev["r_o_ohm"] == pytest.approx(op[f"{dev['name']}.gds"], rel=REL)


@pytest.mark.parametrize("name", DEVICE_BOARDS)
def test_json_node_voltages_are_the_simulators(name: str) -> None:
    js, _, op = _board_outputs(name)
    nodes = js["operating_point"]["nodes_v"]
    for node, v in nodes.items():
        assert v == pytest.approx(op[node], abs=NODE_ABS_V), node
    expected = {"mos-telescopic": {"c1", "c2", "xm1", "xm2"}, "bjt-two-stage": {"mid"}}.get(name, set())
    assert expected | {"e1", "e2", "tail", "out1", "out2"} <= set(nodes)


def _text_tables(text: str) -> dict[str, dict[str, str]]:
    """Device name -> {row label: cell} from the fixed-width operating-point tables (22-character label, 16 per
    column)."""
    out: dict[str, dict[str, str]] = {}
    names: list[str] = []
    for line in text.split("  nodes:")[0].splitlines():  # the tables end where the node line starts
        label, cells = line[:22].strip(), [line[i:i + 16].strip() for i in range(22, len(line), 16)]
        if label == "device":
            names = cells
            for n in names:
                out[n] = {}
        elif names and label and len(cells) == len(names):
            for n, c in zip(names, cells):
                out[n][label] = c
        elif not line.strip():
            names = []
    return out


def _si(cell: str) -> float:
    m = re.fullmatch(r"(-?[\d.e+-]+) ([GMkmunpf]?)(A|V|S|Ohm)", cell)
    assert m, cell
    return float(m.group(1)) * SI[m.group(2)]


@pytest.mark.parametrize("name", DEVICE_BOARDS)
def test_text_lists_every_simulated_device_and_node(name: str) -> None:
    _, text, op = _board_outputs(name)
    tables = _text_tables(text)
    assert set(tables) == _sim_devices(op)
    for dev, rows in tables.items():
        bjt = dev.startswith("Q")
        for label, key in (("I_C" if bjt else "I_D", "i_out_a"), ("V_BE" if bjt else "V_GS", "v_ctrl_v"),
                           ("V_CE" if bjt else "V_DS", "v_out_v")):
            assert _si(rows[label]) == pytest.approx(_sim_value(op, dev, key, "bjt" if bjt else "mos"),
                                                     rel=TEXT_REL), (dev, label)
    nodes_text = re.search(r"  nodes:(.*?)\n  (?!  )", text, re.S)
    assert nodes_text
    pairs = re.findall(r"(\w+) = (-?[\d.]+) V", nodes_text.group(1))
    assert pairs
    for node, v in pairs:
        assert float(v) == pytest.approx(op[node], abs=NODE_ABS_V), node


def test_telescopic_groups_pair_and_mirror_with_their_cascodes() -> None:
    js, text, _ = _board_outputs("mos-telescopic")
    roles = {d["device"]["name"]: (d["role"], d["group"]) for d in js["operating_point"]["devices"]}
    assert roles["M5"] == ("cascode 1", "pair") and roles["M6"] == ("cascode 2", "pair")
    assert roles["M7"] == ("diode cascode", "load") and roles["M8"] == ("out cascode", "load")
    assert [s["cascode"]["name"] for s in js["operating_point"]["sides"]] == ["M5", "M6"]
    assert "diode cascode" in text and "out cascode" in text


def test_two_stage_second_stage_against_kcl_at_the_simulators_output() -> None:
    js, text, op = _board_outputs("bjt-two-stage")
    st = js["operating_point"]["second_stage"]
    cfg = tomllib.loads((BOARDS / "bjt-two-stage.toml").read_text())
    i_r2 = (op["out2"] - cfg["load"]["return_v"]) / cfg["load"]["r_ohm"]
    assert st["device"]["name"] == "Q9"
    assert st["mid_v"] == pytest.approx(op["mid"], abs=NODE_ABS_V)
    assert st["output_v"] == pytest.approx(op["out2"], abs=NODE_ABS_V)
    assert st["i_sink_a"] == pytest.approx(op["Q9.ic"] - i_r2, rel=REL)  # what Q9 gives and R2 does not take
    assert re.search(r"second stage: mid = [\d.]+ V drives Q9", text)


def test_split_tail_shows_the_bridge_and_its_equivalent() -> None:
    js, text, op = _board_outputs("bjt-split-tail")
    r_b = tomllib.loads((BOARDS / "bjt-split-tail.toml").read_text())["degeneration"]["bridge_r_ohm"]
    circ = js["circuit"]
    assert circ["degeneration_ohm"] == 0.0  # no resistor in either emitter
    assert circ["split_tail"]["bridge_r_ohm"] == pytest.approx(r_b, rel=1e-12)
    assert circ["split_tail"]["equivalent_degeneration_ohm"] == pytest.approx(r_b / 2, rel=1e-12)
    assert r_b / 2 * 0.99 < circ["split_tail"]["star_arm_ohm"] < r_b / 2  # the sinks shunt each half
    assert f"bridge R = {r_b / 1e3:g} kOhm" in text
    assert f"equivalent degeneration R/2 = {r_b / 2e3:g} kOhm per side" in text
    assert not re.search(r"(?<!equivalent )degeneration \d", text)  # R/2 never shown as a resistor of its own
    i_bridge = (op["e1"] - op["e2"]) / r_b
    cur = js["operating_point"]["split_tail"]
    assert cur["bridge_a"] == pytest.approx(i_bridge, rel=1e-3)
    assert cur["sink_a"][0] == pytest.approx(op["Q1.ie"] - i_bridge, rel=REL)  # KCL at e1
    assert cur["sink_a"][1] == pytest.approx(op["Q2.ie"] + i_bridge, rel=REL)  # KCL at e2


def test_other_boards_carry_no_split_tail_or_second_stage() -> None:
    js, text, _ = _board_outputs("mos-telescopic")
    assert js["circuit"]["split_tail"] is None
    assert js["operating_point"]["split_tail"] is None and js["operating_point"]["second_stage"] is None
    assert "split tail" not in text
