"""Line syntax, case, sources, devices, nested subcircuits and includes.

References: the syntax rules of the ngspice User's Manual (ch. 2-4) with values worked by hand, and ngspice
itself reading the same text where it can report what it read (node names, operating-point voltages of
sources; skipped when ngspice is not installed)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from instruments.errors import NetlistError
from instruments.spice import FlatCircuit, parse_netlist, read_netlist


def _ngspice_print(tmp_path: Path, text: str, probes: str) -> dict[str, float]:
    """``print all`` (or ``probes``) after an operating point, as ngspice reads ``text``."""
    if shutil.which("ngspice") is None:
        pytest.skip("ngspice is not installed")
    deck = tmp_path / "deck.cir"
    deck.write_text(text + f".control\nop\nprint {probes}\n.endc\n.end\n")
    out = subprocess.run(["ngspice", "-b", deck.name], capture_output=True, text=True, timeout=20,
                         cwd=tmp_path).stdout
    found = {}
    for line in out.splitlines():
        m = re.fullmatch(r"\s*(\S+) = (\S+)", line)
        if m:
            found[m.group(1)] = float(m.group(2))
    return found


def test_comments_continuations_and_control_blocks() -> None:
    text = ("My title * with a star\n"
            "* a comment line\n"
            "   * an indented comment line\n"
            "V1 a 0 DC 5 ; inline comment R9 x y 1\n"
            "R1 a b\n"
            "* a comment between a card and its continuation\n"
            "\n"
            "+ 1k $ inline comment\n"
            "R2 b 0 2k\n"
            ".control\n"
            "this is not a card\n"
            "let x = 1\n"
            ".endc\n"
            ".options reltol=1e-4\n"
            ".temp 27\n"
            ".tran 1u 1m\n"
            ".end\n"
            "Rafter b 0 1\n")
    c = parse_netlist(text, "c.cir")
    assert c.title == "My title * with a star"
    assert [(e.name, e.nodes, e.value, e.where.line) for e in c.elements] == [
        ("V1", ("a", "0"), 5.0, 4), ("R1", ("a", "b"), 1e3, 5), ("R2", ("b", "0"), 2e3, 9)]


def test_title_card_and_first_line() -> None:
    """The first line is the title even when it looks like a card (SPICE's rule); .title replaces it."""
    c = parse_netlist("R1 a 0 1k\nV1 a 0 1\nR2 a 0 1k\n")
    assert c.title == "R1 a 0 1k" and [e.name for e in c.elements] == ["V1", "R2"]
    c = parse_netlist("first\n.title the real title\nV1 a 0 1\nR2 a 0 1k\n")
    assert c.title == "the real title"


def test_case_insensitivity() -> None:
    text = ("t\n"
            ".PARAM RLoad=1k\n"
            "VSense OUTP 0 DC 1\n"
            "r1 outp Mid {rload}\n"
            "R2 mid 0 {RLOAD*2}\n"
            "F1 mid 0 vsense 2\n"
            "Q1 OUTP mid 0 QN\n"
            ".MODEL qn NPN (IS=1f bf=100)\n"
            "X1 Mid 0 DIVIDER\n"
            ".SubCkt divider TOP bot\n"
            "R1 top BOT 1k\n"
            ".ENDS DIVIDER\n")
    c = parse_netlist(text)
    by = {e.name: e for e in c.elements}
    assert c.nodes == ("outp", "mid")
    assert by["r1"].nodes == ("outp", "mid") and by["r1"].value == 1e3 and by["R2"].value == 2e3
    assert by["F1"].control == "VSense"  # spelled as the source is, so the engine can match it
    assert by["Q1"].model == "qn" and c.models["qn"].params == {"IS": 1e-15, "BF": 100.0}
    assert by["X1.R1"].nodes == ("mid", "0") and c.params == {"rload": 1e3}


SOURCES = ["DC 5", "5", "5V", "-2.5", "DC 1 AC 1", "AC 1 DC 3", "SIN(2 1 1k)", "SIN 2 1 1k", "EXP(4 5 1u)",
           "PULSE(3 5 1u 1n 1n 1u 2u)", "PWL(1u 7 2u 8)", "PWL(0 7 2u 8) r=0", "AM(1 0.5 1k 10k 0)",
           "DC 1 SIN(2 1 1k)", "SIN(0 1 1k) DC 3 AC 1 90", "{2*1.5}", "DC '1k/1k'", "0 AC"]


def _sources_deck() -> str:
    lines = ["sources"] + [f"V{k} n{k} 0 {s}\nR{k} n{k} 0 1k" for k, s in enumerate(SOURCES)]
    return "\n".join(lines) + "\n"


def test_source_dc_values_as_ngspice_takes_them(tmp_path: Path) -> None:
    ours = {e.nodes[0]: e.value for e in parse_netlist(_sources_deck()).elements if e.kind == "V"}
    theirs = _ngspice_print(tmp_path, _sources_deck(), "all")
    for k, spec in enumerate(SOURCES):
        assert ours[f"n{k}"] == pytest.approx(theirs[f"n{k}"], abs=1e-12), spec


def test_source_ac_fields_by_hand() -> None:
    by = {e.name: e for e in parse_netlist(_sources_deck()).elements}
    assert (by["V4"].ac_mag, by["V4"].ac_phase_deg) == (1.0, 0.0)
    assert (by["V14"].value, by["V14"].ac_mag, by["V14"].ac_phase_deg) == (3.0, 1.0, 90.0)
    assert (by["V17"].value, by["V17"].ac_mag) == (0.0, 1.0)  # AC with no magnitude is 1 (SPICE3)
    assert by["V0"].ac_mag == 0.0 and by["V11"].params == {"R": 0.0}
    c = parse_netlist("t\nR1 a 0 1k\nI1 0 a DC 1m AC 2 45\n")
    assert (c.elements[1].kind, c.elements[1].value, c.elements[1].ac_mag, c.elements[1].ac_phase_deg) == \
        ("I", 1e-3, 2.0, 45.0)


def test_devices_and_controlled_sources() -> None:
    text = ("t\n.param w=10u\n"
            "V1 vcc 0 5\nVs s 0 0\n"
            "D1 vcc a dm 2\nD2 a 0 dm area=3 off\n"
            "Q1 vcc a b qn\nQ2 vcc a b sub qn\nQ3 vcc a b qn 4\nQ4 vcc a b sub qn 5 m=2\nRsub sub 0 1\n"
            "M1 vcc a s 0 nm W={w} L=1u M=2 AD=1p\n"
            "M2 vcc a s 0 PM w=20u l=2u\n"
            "Rb b 0 1k\n"
            "E1 e 0 a 0 2.5\nRe e 0 1k\n"
            "G1 0 g a b 1m\nRg g 0 1k\n"
            "F1 f 0 Vs 3\nRf f 0 1k\n"
            "H1 h 0 vs 1k\nRh h 0 1k\n"
            "C1 a 0 2p m=3\nL1 a 0 10u m=2\n"
            ".model dm D(is=1e-14)\n.model qn npn\n.model nm nmos level=1 vto=0.7\n.model pm PMOS(LEVEL=1)\n")
    by = {e.name: e for e in parse_netlist(text).elements}
    assert (by["D1"].nodes, by["D1"].model, by["D1"].value) == (("vcc", "a"), "dm", None)
    assert by["D1"].params == {"AREA": 2.0}
    assert by["D2"].params == {"AREA": 3.0}
    assert by["Q1"].nodes == ("vcc", "a", "b") and by["Q1"].params == {}
    assert by["Q2"].nodes == ("vcc", "a", "b", "sub") and by["Q2"].model == "qn"
    assert by["Q3"].nodes == ("vcc", "a", "b") and by["Q3"].params == {"AREA": 4.0}
    assert by["Q4"].nodes == ("vcc", "a", "b", "sub") and by["Q4"].params == {"AREA": 5.0, "M": 2.0}
    assert by["M1"].nodes == ("vcc", "a", "s", "0") and by["M1"].model == "nm"
    assert by["M1"].params == pytest.approx({"W": 10e-6, "L": 1e-6, "M": 2.0, "AD": 1e-12})
    assert by["M2"].model == "pm" and by["M2"].params == pytest.approx({"W": 20e-6, "L": 2e-6})
    assert (by["E1"].nodes, by["E1"].value) == (("e", "0", "a", "0"), 2.5)
    assert (by["G1"].nodes, by["G1"].value) == (("0", "g", "a", "b"), 1e-3)
    assert (by["F1"].nodes, by["F1"].control, by["F1"].value) == (("f", "0"), "Vs", 3.0)
    assert (by["H1"].control, by["H1"].value) == ("Vs", 1e3)
    # m= parallel elements: C times m, L divided by m
    assert by["C1"].value == pytest.approx(6e-12) and by["L1"].value == pytest.approx(5e-6)


NESTED = ("nested\n"
          ".global vdd\n"
          ".param rtop=1k\n"
          "Vdd vdd 0 5\n"
          "X1 a 0 outer K=3\n"
          "Ra vdd a 1k\n"
          ".subckt outer p q params: K=1\n"
          ".subckt inner i j params: R=10\n"
          "Rin i mid {R}\n"
          "Rmid mid j {R}\n"
          "Rup vdd mid 1meg\n"
          "Qx mid mid j qloc\n"
          ".ends inner\n"
          ".model qloc npn(bf={100*K})\n"
          "X2 p n1 inner R={K*rtop}\n"
          "Rq n1 q 1k\n"
          ".ends outer\n")


def test_nested_subcircuits_by_hand() -> None:
    c = parse_netlist(NESTED)
    by = {e.name: e for e in c.elements}
    assert list(by) == ["Vdd", "X1.X2.Rin", "X1.X2.Rmid", "X1.X2.Rup", "X1.X2.Qx", "X1.Rq", "Ra"]
    assert by["X1.X2.Rin"].nodes == ("a", "x1.x2.mid") and by["X1.X2.Rin"].value == 3e3
    assert by["X1.X2.Rmid"].nodes == ("x1.x2.mid", "x1.n1")
    assert by["X1.X2.Rup"].nodes == ("vdd", "x1.x2.mid")  # .global: not prefixed
    assert by["X1.Rq"].nodes == ("x1.n1", "0")
    assert by["X1.X2.Qx"].model == "x1.qloc"  # local to the instance X1, seen from its inner instance
    assert c.models["x1.qloc"].name == "X1.qloc" and c.models["x1.qloc"].params == {"BF": 300.0}
    assert c.nodes == ("vdd", "a", "x1.x2.mid", "x1.n1")


def test_nested_subcircuit_nodes_as_ngspice_names_them(tmp_path: Path) -> None:
    c = parse_netlist(NESTED)
    text = NESTED.replace("Qx mid mid j qloc\n", "").replace(".model qloc npn(bf={100*K})\n", "")
    found = _ngspice_print(tmp_path, text, "all @r.x1.r.x2.rin[resistance] @r.x1.rq[resistance]")
    assert {k for k in found if "#" not in k and not k.startswith("@")} == set(c.nodes)
    # ngspice's own name of element Rin of instance X2 inside X1 is r.x1.r.x2.rin
    assert found["@r.x1.r.x2.rin[resistance]"] == 3e3 and found["@r.x1.rq[resistance]"] == 1e3


def test_includes_relative_to_the_including_file(tmp_path: Path) -> None:
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "sub" / "parts.inc").write_text("* no title line in an included file\nR2 a b {rr}\n"
                                                ".include deeper/models.lib\n.end\nR3 never read\n")
    (tmp_path / "sub" / "deeper" / "models.lib").write_text(".model QN NPN(Bf=200\n+ Is=2f)\n")
    main = tmp_path / "main.cir"
    main.write_text("t\n.param rr=2k\nV1 a 0 1\n.INCLUDE \"sub/parts.inc\"\nQ1 b b 0 qn\n")
    c: FlatCircuit = read_netlist(main)
    assert [e.name for e in c.elements] == ["V1", "R2", "Q1"]
    r2 = c.elements[1]
    assert r2.value == 2e3 and r2.where.file == str(tmp_path / "sub" / "parts.inc") and r2.where.line == 2
    assert c.models["qn"].params == {"BF": 200.0, "IS": 2e-15}
    assert c.models["qn"].where.file == str(tmp_path / "sub" / "deeper" / "models.lib")
    # parse_netlist resolves includes from the folder of ``source``
    assert parse_netlist(main.read_text(), str(main)) == c


def test_params_in_order_of_use_and_later_redefinition() -> None:
    c = parse_netlist("t\n.param b={2*a}\n.param a=1k\n.param c=1\n.param c=2\nV1 x 0 1\nR1 x 0 {b+c}\n")
    assert c.params == {"b": 2e3, "a": 1e3, "c": 2.0} and c.elements[1].value == 2002.0


def test_global_gnd_is_shared_but_not_ground() -> None:
    """``.global gnd`` shares the node with every subcircuit; it is still not node 0."""
    text = ("t\n.global gnd\nV1 a 0 1\nRg gnd 0 1\nX1 a sub params: R=2k\n"
            ".subckt sub p params: R=1k\nR1 p gnd {R}\n.ends\n")
    c = parse_netlist(text)
    assert c.elements[2].name == "X1.R1" and c.elements[2].nodes == ("a", "gnd") and c.elements[2].value == 2e3
    assert c.nodes == ("a", "gnd")


def test_overriding_an_unknown_param_is_an_error() -> None:
    with pytest.raises(NetlistError) as exc:
        parse_netlist("t\n.param rl=1k\nV1 a 0 1\nR1 a 0 {rl}\n", "b.cir", overrides={"rload": 2e3})
    assert str(exc.value) == "b.cir: no .param 'rload' to set (defined: rl)"
