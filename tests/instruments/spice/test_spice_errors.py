"""Every problem the netlist reader reports: one line ``<file>:<line>: <problem>`` naming the right line.

Each case is a small netlist with the offending card on a known line; the expected messages are written out
in full so that a reworded or misplaced message fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from instruments.errors import ConfigError, NetlistError
from instruments.spice import check_pins, parse_netlist, read_netlist

OK = "V1 a 0 5\nR1 a 0 1k\n"
"""Lines 2-3 of every case: a valid circuit the bad line can attach to."""
QN = ".model qn npn(is=1f bf=100)\n"


def error_of(text: str, source: str = "b.cir") -> str:
    with pytest.raises(NetlistError) as exc:
        parse_netlist(text, source)
    return str(exc.value)


CASES = [
    # unknown element letters, and a typo
    ("t\n" + OK + "B1 a 0 V={1}\n", "b.cir:4: element 'B1': unknown element 'B' (supported: R C L V I D Q M E G "
     "F H X)"),
    ("t\n" + OK + "K1 L1 L2 0.9\n", "b.cir:4: element 'K1': unknown element 'K' (supported: R C L V I D Q M E G "
     "F H X)"),
    ("t\n" + OK + "T1 a 0 b 0 z0=50 td=1n\n", "b.cir:4: element 'T1': unknown element 'T' (supported: R C L V I D Q "
     "M E G F H X)"),
    ("t\n" + OK + "Z1 a 0 1k\n", "b.cir:4: element 'Z1': unknown element 'Z' (supported: R C L V I D Q M E G F H X)"),
    # wrong number of nodes / fields
    ("t\n" + OK + "R2 a\n", "b.cir:4: element 'R2': wrong number of nodes/fields: expected R2 n+ n- value, "
     "found 1 field (a)"),
    ("t\n" + OK + "R2 a b c 1k\n", "b.cir:4: element 'R2': wrong number of nodes/fields: expected R2 n+ n- value, "
     "found 4 fields (a b c 1k)"),
    ("t\n" + OK + QN + "Q1 a a\n", "b.cir:5: element 'Q1': wrong number of nodes/fields: expected Q1 c b e "
     "[substrate] model [area], found 2 fields (a a)"),
    ("t\n" + OK + "M1 a a 0 nm W=1u\n.model nm nmos\n", "b.cir:4: element 'M1': wrong number of nodes/fields: "
     "expected M1 d g s b model [W=.. L=.. M=..], found 4 fields (a a 0 nm)"),
    ("t\n" + OK + "D1 a 0\n", "b.cir:4: element 'D1': wrong number of nodes/fields: expected D1 anode cathode "
     "model [area], found 2 fields (a 0)"),
    ("t\n" + OK + "E1 a 0 a\n", "b.cir:4: element 'E1': wrong number of nodes/fields: expected E1 n+ n- nc+ nc- "
     "gain, found 3 fields (a 0 a)"),
    # missing values
    ("t\n" + OK + "R2 a 0\n", "b.cir:4: element 'R2': missing value (R2 n+ n- value)"),
    ("t\n" + OK + "C1 a 0\n", "b.cir:4: element 'C1': missing value (C1 n+ n- value)"),
    ("t\n" + OK + "E1 b 0 a 0\nR2 b 0 1k\n", "b.cir:4: element 'E1': missing value (E1 n+ n- nc+ nc- gain)"),
    ("t\n" + OK + "H1 b 0 V1\nR2 b 0 1k\n", "b.cir:4: element 'H1': missing value (H1 n+ n- vcontrol "
     "transresistance)"),
    ("t\nV1 a 0 DC\nR1 a 0 1k\n", "b.cir:2: element 'V1': DC needs a value"),
    # models: missing, wrong type, unsupported type
    ("t\n" + OK + QN + "Q3 a a 0 q2n3904x\n", "b.cir:5: element 'Q3': model 'q2n3904x' is not defined "
     "(.model cards: qn)"),
    ("t\n" + OK + "D1 a 0 dmod\n.model dm d\n", "b.cir:4: element 'D1': model 'dmod' is not defined "
     "(.model cards: dm)"),
    ("t\n" + OK + "Q1 a a 0 dm\n.model dm d(is=1f)\n", "b.cir:4: element 'Q1': model 'dm' is of type 'd', a Q "
     "element needs npn or pnp"),
    ("t\n" + OK + QN + "M1 a a 0 0 qn\n", "b.cir:5: element 'M1': model 'qn' is of type 'npn', a M element "
     "needs nmos or pmos"),
    ("t\n" + OK + "D1 a 0 nm\n.model nm nmos(level=1)\n", "b.cir:4: element 'D1': model 'nm' is of type 'nmos', "
     "a D element needs d"),
    ("t\n" + OK + ".model j1 njf(vto=-2)\n", "b.cir:4: model 'j1': type 'njf' is not supported (npn, pnp, d, "
     "nmos, pmos)"),
    ("t\n" + OK + ".model q1 npn(is=1f bf=100\n", "b.cir:4: model 'q1': '(' without ')'"),
    ("t\n" + OK + ".model q1 npn(is=1f mfg=Philips)\n", "b.cir:4: model 'q1': MFG=Philips is not a number (a text "
     "annotation such as MFG=... is no SPICE parameter, and ngspice refuses it too: delete it)"),
    # F/H control
    ("t\n" + OK + "F1 b 0 Vsens 2\nR2 b 0 1k\n", "b.cir:4: element 'F1': control source 'Vsens' does not exist "
     "(voltage sources: V1)"),
    ("t\n" + OK + "H1 b 0 R1 2\nR2 b 0 1k\n", "b.cir:4: element 'H1': control 'R1' is not a voltage source"),
    # parameters and expressions
    ("t\n.param rload=1k\n" + OK + "R2 a 0 {rlod*2}\n", "b.cir:5: element 'R2': undefined .param 'rlod' in "
     "'{rlod*2}' (defined: rload)"),
    ("t\n" + OK + "R2 a 0 {1k/(1-1)}\n", "b.cir:4: element 'R2': division by zero in '{1k/(1-1)}'"),
    ("t\n.param a=1 b=a/0\n" + OK + "R2 a 0 {b}\n", "b.cir:2: .param b: division by zero in 'a/0'"),
    ("t\n.param a={b} b={2*a}\n" + OK + "R2 a 0 {a}\n", "b.cir:2: .param a: circular definition (a -> b -> a)"),
    ("t\n.param rr=2k\n" + OK + "R2 a 0 rr\n", "b.cir:5: element 'R2': 'rr' is not a number (a .param is written "
     "{rr})"),
    ("t\n" + OK + "R2 a 0 1k5\n", "b.cir:4: element 'R2': '1k5' is not a number"),
    ("t\n" + OK + "R2 a 0 {2*(1k}\n", "b.cir:4: element 'R2': unexpected end, expected ')' in '{2*(1k}'"),
    ("t\n" + OK + "R2 a 0 {2*1k\n", "b.cir:4: unbalanced '{' in '{2*1k'"),
    # subcircuits
    ("t\n" + OK + "X1 a 0 mirr\n.subckt mirror p q\nR5 p q 1k\n.ends\n", "b.cir:4: element 'X1': subckt 'mirr' "
     "is not defined (.subckt: mirror)"),
    ("t\n" + OK + "X1 a mirror\n.subckt mirror p q\nR5 p q 1k\n.ends\n", "b.cir:4: element 'X1': subckt "
     "'mirror' has 2 ports (p q), X1 connects 1 (a)"),
    ("t\n" + OK + "X1 a 0 sub r=1k\n.subckt sub p q params: rr=1\nR5 p q {rr}\n.ends\n", "b.cir:4: element 'X1': "
     "subckt 'sub' has no parameter 'r' (its parameters: rr)"),
    ("t\n" + OK + "X1 a 0 sub\n.subckt sub p q\nR5 p q 1k\n", "b.cir:5: .subckt sub has no .ends"),
    ("t\n" + OK + "X1 a 0 sub\n.subckt sub p q\nX2 p q sub\n.ends\n", "b.cir:6: element 'X1.X2': subckt 'sub' "
     "instantiates itself (sub -> sub)"),
    ("t\n" + OK + "X1 a 0 sub\n.subckt sub p q\nR5 p q {1/0}\n.ends\n", "b.cir:6: element 'X1.R5': division by "
     "zero in '{1/0}'"),
    ("t\n" + OK + ".ends\n", "b.cir:4: .ends without .subckt"),
    ("t\n" + OK + ".subckt s p\nR5 p 0 1k\n.ends t\n", "b.cir:6: .ends t closes .subckt s"),
    # duplicates (case-insensitive), also across subcircuit flattening
    ("t\n" + OK + "r1 a 0 2k\n", "b.cir:4: element 'r1' is defined twice (first at b.cir:3)"),
    ("t\n" + OK + "X1 a 0 s\nX1 a 0 s\n.subckt s p q\nR5 p q 1k\n.ends\n", "b.cir:5: element 'X1' is defined "
     "twice (first at b.cir:4)"),
    ("t\n" + OK + QN + ".MODEL QN pnp\n", "b.cir:5: model 'QN' is defined twice (first at b.cir:4)"),
    # floating nodes: one terminal; no DC path (C, I, MOS gate, G output)
    ("t\n" + OK + "R2 a b 1k\n", "b.cir:4: node 'b' is floating: only element 'R2' connects to it"),
    ("t\n" + OK + "C1 a b 1n\nR2 b c 1k\nR3 c b 1k\n", "b.cir:4: node 'b' has no DC path to ground (nor have c): "
     "it reaches the rest of the circuit only through C1 (C, I, G/F outputs, E/G control inputs and MOS gates "
     "carry no DC)"),
    ("t\n" + OK + "I1 0 b 1m\nC2 b 0 1n\n", "b.cir:4: node 'b' has no DC path to ground: it reaches the rest of "
     "the circuit only through I1, C2 (C, I, G/F outputs, E/G control inputs and MOS gates carry no DC)"),
    ("t\n" + OK + "M1 a g 0 0 nm\nC1 g 0 1p\n.model nm nmos\n", "b.cir:4: node 'g' has no DC path to ground: it "
     "reaches the rest of the circuit only through M1, C1 (C, I, G/F outputs, E/G control inputs and MOS "
     "gates carry no DC)"),
    ("t\n" + OK + "G1 0 b a 0 1m\nR2 b c 1k\nC1 c 0 1n\n", "b.cir:4: node 'b' has no DC path to ground (nor have "
     "c): it reaches the rest of the circuit only through G1, C1 (C, I, G/F outputs, E/G control inputs and "
     "MOS gates carry no DC)"),
    ("t\n" + OK + "R2 x y 1k\nR3 y x 1k\n", "b.cir:4: node 'x' has no DC path to ground (nor have y): it is "
     "connected to nothing else"),
    ("t\n" + OK + "R2 a gnd 1k\n", "b.cir:4: node 'gnd' is floating: only element 'R2' connects to it ('gnd' is "
     "an ordinary node here: only node 0 is ground)"),
    ("t\n" + OK + "X1 a 0 s\n.subckt s p q\nR5 n5 n6 1k\nC5 n5 p 1n\nC6 n6 q 1n\n.ends\n", "b.cir:6: node "
     "'x1.n5' has no DC path to ground (nor have x1.n6): it reaches the rest of the circuit only through X1.C5, "
     "X1.C6 (C, I, G/F outputs, E/G control inputs and MOS gates carry no DC)"),
    # loops of voltage sources and inductors
    ("t\n" + OK + "V2 a 0 3\n", "b.cir:4: element 'V2' closes a loop of voltage sources/inductors (V1, V2): its "
     "DC current is undetermined"),
    ("t\n" + OK + "L1 a b 1u\nL2 b 0 1u\n", "b.cir:5: element 'L2' closes a loop of voltage sources/inductors "
     "(L1, V1, L2): its DC current is undetermined"),
    ("t\n" + OK + "E1 a 0 a 0 2\n", "b.cir:4: element 'E1' closes a loop of voltage sources/inductors (V1, E1): "
     "its DC current is undetermined"),
    # cards
    ("t\n" + OK + ".lib models.lib tt\n", "b.cir:4: .lib is not supported: put the models in a file and .include it"),
    ("t\n" + OK + ".func f(x) {2*x}\n", "b.cir:4: .func (user-defined functions) is not supported: write the "
     "expression out or use .param"),
    ("t\n" + OK + ".foo bar\n", "b.cir:4: unknown card '.foo'"),
    ("t\n+ R2 a 0 1k\n" + OK, "b.cir:2: a continuation line ('+') with no card before it"),
    ("t\n" + OK + "E1 b 0 VALUE={V(a)*2}\nR2 b 0 1k\n", "b.cir:4: element 'E1': only the linear form is "
     "supported (E1 n+ n- nc+ nc- gain)"),
    ("t\n" + OK + "E1 b 0 POLY(1) a 0 0 2\nR2 b 0 1k\n", "b.cir:4: element 'E1': only the linear form is "
     "supported (E1 n+ n- nc+ nc- gain)"),
    ("t\n* nothing\n.op\n", "b.cir: the netlist has no elements"),
    ("t\n" + OK + "R2 a 0 1k m=0\n", "b.cir:4: element 'R2': m=0: the multiplicity must be > 0"),
    ("t\n" + OK + "V2 b 0 1 BOGUS\nR2 b 0 1k\n", "b.cir:4: element 'V2': unexpected 'BOGUS' in the source's value "
     "(expected [DC] value [AC mag [phase]])"),
]


@pytest.mark.parametrize(("text", "message"), CASES)
def test_error_names_file_line_and_problem(text: str, message: str) -> None:
    assert error_of(text) == message


def test_netlist_error_is_a_config_error() -> None:
    """The CLI prints every ConfigError as one line; NetlistError is one."""
    exc = NetlistError("boards/foo.cir", 12, "problem")
    assert isinstance(exc, ConfigError)
    assert str(exc) == "boards/foo.cir:12: problem" and (exc.file, exc.line) == ("boards/foo.cir", 12)
    assert str(NetlistError("board.toml: [netlist]", 0, "in1: ...")) == "board.toml: [netlist]: in1: ..."


def test_errors_in_included_files_name_that_file(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "parts.inc").write_text("* parts\n.model qn npn(is=1f)\nR9 a 0 {oops}\n")
    main = tmp_path / "main.cir"
    main.write_text("t\n" + OK + ".include lib/parts.inc\n")
    with pytest.raises(NetlistError) as exc:
        read_netlist(main)
    assert str(exc.value) == (f"{tmp_path / 'lib' / 'parts.inc'}:3: element 'R9': undefined .param 'oops' in "
                              "'{oops}' (defined: none)")


def test_include_cycle_and_missing_include(tmp_path: Path) -> None:
    (tmp_path / "a.inc").write_text(".include b.inc\n")
    (tmp_path / "b.inc").write_text("R2 a 0 1k\n.include 'a.inc'\n")
    main = tmp_path / "main.cir"
    main.write_text("t\n" + OK + ".include a.inc\n")
    with pytest.raises(NetlistError) as exc:
        read_netlist(main)
    assert str(exc.value) == f"{tmp_path / 'b.inc'}:2: .include cycle: a.inc -> b.inc -> a.inc"
    main.write_text("t\n" + OK + ".include main.cir\n")
    with pytest.raises(NetlistError) as exc:
        read_netlist(main)
    assert str(exc.value) == f"{main}:4: .include cycle: main.cir -> main.cir"
    main.write_text("t\n" + OK + ".inc nothere.lib\n")
    with pytest.raises(NetlistError) as exc:
        read_netlist(main)
    assert str(exc.value) == f"{main}:4: included file {str(tmp_path / 'nothere.lib')!r} does not exist"


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(NetlistError) as exc:
        read_netlist(tmp_path / "none.cir")
    assert str(exc.value).startswith(f"{tmp_path / 'none.cir'}: cannot read the netlist")


def test_check_pins() -> None:
    c = parse_netlist("t\n" + OK + "R2 a b 1k\nR3 b 0 1k\n", "b.cir")
    check_pins(c, {"in1": "A", "out1": "b"}, "board.toml: [netlist]")
    with pytest.raises(NetlistError) as exc:
        check_pins(c, {"in1": "a", "out1": "outp"}, "board.toml: [netlist]")
    assert str(exc.value) == "board.toml: [netlist]: out1: 'outp' is not a node of b.cir (nodes: a, b)"
    with pytest.raises(NetlistError) as exc:
        check_pins(c, {"in2": "0"}, "board.toml: [netlist]")
    assert str(exc.value) == "board.toml: [netlist]: in2: node '0' is ground, it cannot be a pin"
