"""A realistic board netlist read end to end: a 2N3904 pair (the vendor's card, in the vendor's style, in an
included file), a current-mirror subcircuit instantiated twice with parameters, ``.param``-driven resistors.

The reference is ngspice reading the same files (its flattened node names, every element value after
parameter evaluation, the model card's parameters), skipped when ngspice is not installed; the values
are also worked by hand from the netlist text."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from instruments.spice import FlatCircuit, parse_netlist, read_netlist

VENDOR_CARD = """\
*
*\tFairchild 2N3904 NPN, as distributed with many SPICE libraries
*
.model Q2N3904\tNPN(Is=6.734f Xti=3 Eg=1.11 Vaf=74.03 Bf=416.4 Ne=1.259 Ise=6.734f Ikf=66.78m
+\t\tXtb=1.5 Br=.7371 Nc=2 Isc=0 Ikr=0 Rc=1 Cjc=3.638p Mjc=.3085 Vjc=.75 Fc=.5 Cje=4.493p
*\t\tcomment between continuation lines
+\t\tMje=.2593 Vje=.75 Tr=239.5n Tf=301.2p Itf=.4 Vtf=4 Xtf=2 Rb=10)
*\t\tFairchild\tpid=23\t\tcase=TO92
*\t\t88-09-08 bam\tcreation
"""

BOARD = """\
Discrete 2N3904 pair, mirror tail ; the title line is not a card
* supplies
.PARAM rload=20k rdeg = 100 gain=2
.param rref={(5 - 0.65) / 200u}
Vcc vcc 0 DC 5
VEE vee 0 dc -5V
Vin1 INP 0 DC 0 AC 1 0
Vin2 inn 0 0 AC 1 180 SIN(0 10m 1k)
Q1 outp inp e1 Q2N3904
Q2 outn inn e2 q2n3904
Rl1 vcc outp {rload}          ; load
Rl2 vcc OUTN {rload*1.01}     $ 1 % high
Rd1 e1 tail {rdeg}
Rd2 e2 tail 'rdeg'
Cl1 outp 0 10pF
Cl2 outn 0 10p
Rref vcc ref {rref}
Xtail ref tail vee mirror RE=220 ratio=1
Rref2 vcc ref2 47kOhm
Xaux ref2 aux vee MIRROR RE={gain*rdeg}
Raux vcc aux 10k
.subckt mirror in out rail params: RE=1k ratio=2
.param rout={RE/ratio}
Qref in in eref Q2N3904
Qout out in eout Q2N3904 2
Rre eref rail {RE}
Rro eout rail {rout}
.ends mirror
.include "models/2n3904.mod"
.op
.tran 1u 1m
.control
run
.endc
.end
R99 this line is after .end and never read
"""


@pytest.fixture
def board_file(tmp_path: Path) -> Path:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "2n3904.mod").write_text(VENDOR_CARD)
    path = tmp_path / "pair.cir"
    path.write_text(BOARD)
    return path


def test_board_by_hand(board_file: Path) -> None:
    c = read_netlist(board_file)
    assert c.title == "Discrete 2N3904 pair, mirror tail ; the title line is not a card"
    assert c.source == str(board_file)
    assert c.params == pytest.approx({"rload": 20e3, "rdeg": 100.0, "gain": 2.0, "rref": 4.35 / 200e-6})
    by = {e.name: e for e in c.elements}
    assert [e.name for e in c.elements] == [
        "Vcc", "VEE", "Vin1", "Vin2", "Q1", "Q2", "Rl1", "Rl2", "Rd1", "Rd2", "Cl1", "Cl2", "Rref",
        "Xtail.Qref", "Xtail.Qout", "Xtail.Rre", "Xtail.Rro", "Rref2",
        "Xaux.Qref", "Xaux.Qout", "Xaux.Rre", "Xaux.Rro", "Raux"]
    assert by["Rl2"].value == pytest.approx(20200.0) and by["Rl2"].nodes == ("vcc", "outn")
    assert by["Rd2"].value == 100.0 and by["Cl1"].value == pytest.approx(10e-12)
    assert by["Rref"].value == pytest.approx(21750.0) and by["Rref2"].value == 47e3
    assert by["Xtail.Rre"].value == 220.0 and by["Xtail.Rro"].value == 220.0  # RE=220, ratio=1 given
    assert by["Xaux.Rre"].value == 200.0 and by["Xaux.Rro"].value == 100.0  # RE = gain*rdeg, default ratio=2
    assert by["Xtail.Qout"].nodes == ("tail", "ref", "xtail.eout") and by["Xtail.Qout"].params == {"AREA": 2.0}
    assert by["Xaux.Rre"].nodes == ("xaux.eref", "vee")
    assert by["VEE"].value == -5.0 and by["VEE"].nodes == ("vee", "0")
    assert (by["Vin1"].value, by["Vin1"].ac_mag, by["Vin1"].ac_phase_deg) == (0.0, 1.0, 0.0)
    assert (by["Vin2"].value, by["Vin2"].ac_mag, by["Vin2"].ac_phase_deg) == (0.0, 1.0, 180.0)
    assert {e.model for e in c.elements if e.kind == "Q"} == {"q2n3904"}
    card = c.models["q2n3904"]
    assert card.name == "Q2N3904" and card.type == "npn"
    assert card.where.file.endswith("2n3904.mod") and card.where.line == 4
    assert card.params["IS"] == pytest.approx(6.734e-15) and card.params["IKF"] == pytest.approx(66.78e-3)
    assert card.params["BR"] == 0.7371 and card.params["RB"] == 10.0 and card.params["MJE"] == 0.2593
    assert len(card.params) == 27
    assert c.nodes == ("vcc", "vee", "inp", "inn", "outp", "e1", "outn", "e2", "tail", "ref", "xtail.eref",
                       "xtail.eout", "ref2", "xaux.eref", "aux", "xaux.eout")
    lines = BOARD.splitlines()
    assert by["Rl1"].where.line == 1 + next(k for k, t in enumerate(lines) if t.startswith("Rl1 "))
    assert by["Xaux.Rro"].where.line == 1 + next(k for k, t in enumerate(lines) if t.startswith("Rro "))


def _ngspice_name(name: str, kind: str) -> str:
    """ngspice's name of a flattened element: ``X1.R5`` is ``r.x1.r5``."""
    return f"{kind.lower()}.{name.lower()}" if "." in name else name.lower()


_PARAM = {"R": "resistance", "C": "capacitance", "V": "dc"}


def _ngspice(path: Path, c: FlatCircuit) -> tuple[set[str], dict[str, float], dict[str, float]]:
    """Node names, element values and model parameters as ngspice reads them."""
    probes = [f"@{_ngspice_name(e.name, e.kind)}[{_PARAM[e.kind]}]" for e in c.elements if e.kind in _PARAM]
    control = [".control", "op", "print all", "print " + " ".join(probes), "showmod q.xtail.qref", ".endc"]
    text = path.read_text().replace(".control\nrun\n.endc", "\n".join(control))
    text = text[:text.index("\n.end\n") + 6]  # ngspice 39 reads on past .end; SPICE3 and we stop there
    deck = path.with_name("deck.cir")
    deck.write_text(text)
    out = subprocess.run(["ngspice", "-b", deck.name], capture_output=True, text=True, timeout=20,
                         cwd=path.parent).stdout
    nodes, values, model = set(), {}, {}
    for line in out.splitlines():
        m = re.fullmatch(r"\s*(\S+) = (\S+)", line)
        if m and m.group(1).startswith("@"):
            values[m.group(1)[1:].split("[")[0]] = float(m.group(2))
        elif m and "#" not in m.group(1):
            nodes.add(m.group(1))
        m = re.fullmatch(r"\s+([a-z]\w*)\s+(\S+)", line)
        if m:
            try:
                model[m.group(1).upper()] = float(m.group(2))
            except ValueError:
                pass
    return nodes, values, model


def test_board_as_ngspice_reads_it(board_file: Path) -> None:
    if shutil.which("ngspice") is None:
        pytest.skip("ngspice is not installed")
    c = read_netlist(board_file)
    nodes, values, model = _ngspice(board_file, c)
    assert nodes == set(c.nodes)
    checked = 0
    for e in c.elements:
        if e.kind in _PARAM:
            assert e.value == pytest.approx(values[_ngspice_name(e.name, e.kind)], rel=1e-6), e.name
            checked += 1
    assert checked == len(values) == 17
    card = c.models["q2n3904"].params
    for name, value in card.items():
        assert value == pytest.approx(model[name], rel=1e-5, abs=1e-30), name


def test_parse_text_equals_read_file(board_file: Path) -> None:
    """parse_netlist on the same text (includes relative to ``source``) gives the same circuit."""
    assert parse_netlist(board_file.read_text(), str(board_file)) == read_netlist(board_file)


def test_overrides_replace_params(board_file: Path) -> None:
    c = read_netlist(board_file, overrides={"RLOAD": 10e3, "gain": 3.0})
    by = {e.name: e for e in c.elements}
    assert by["Rl1"].value == 10e3 and by["Rl2"].value == pytest.approx(10100.0)
    assert by["Xaux.Rre"].value == 300.0 and c.params["rload"] == 10e3
