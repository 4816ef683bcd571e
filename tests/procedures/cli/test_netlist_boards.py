"""Boards given as SPICE netlists (docs/netlist-boards.md): the shipped 2N3904 board loads with its vendor card's
unmodelled parameters named in one warning, and every bad netlist is one line naming the file, the line and the
problem, exit 2, with nothing written and nothing switched on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from instruments.board_config import load_board
from procedures.cli.main import main

ROOT = Path(__file__).resolve().parents[3]
BOARD = ROOT / "configs" / "boards" / "2n3904-pair.toml"
NETLIST = ROOT / "configs" / "boards" / "netlists" / "2n3904-pair.cir"
SIM_BENCH = ROOT / "configs" / "benches" / "sim-keysight.toml"
FREQ_SWEEP = ROOT / "configs" / "procedures" / "frequency-sweep.toml"


def test_vendor_card_loads_with_one_warning_naming_what_is_not_modelled() -> None:
    board = load_board(BOARD)
    nb = board.netlist
    assert nb is not None and not nb.family and nb.prediction == "ngspice"
    assert nb.pins == {"in1": "inp", "in2": "inn", "out1": "outp", "out2": "outn"}
    unmodelled = [w for w in nb.warnings if "does not model" in w]
    assert len(unmodelled) == 1
    # the 2N3904 card's transit-time bias terms; XTI/XTB/EG only act away from TNOM (27 degC = the board's)
    assert re.search(r"Q2N3904 \((ITF|VTF|XTF), (ITF|VTF|XTF), (ITF|VTF|XTF)\)", unmodelled[0], re.I)
    for used in ("IS", "BF", "VAF", "IKF", "ISE", "RB", "CJE", "TF", "XTI", "EG"):
        assert not re.search(rf"\b{used}\b", unmodelled[0].split("(", 1)[1])


def _board_with(tmp_path: Path, netlist: str, **pins: str) -> Path:
    cir = tmp_path / "board.cir"
    cir.write_text(netlist, encoding="utf-8")
    text = BOARD.read_text(encoding="utf-8").replace('file = "netlists/2n3904-pair.cir"', 'file = "board.cir"')
    for pin, node in pins.items():
        text = re.sub(rf'^{pin} = ".*"$', f'{pin} = "{node}"', text, flags=re.M)
    path = tmp_path / "board.toml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = NETLIST.read_text(encoding="utf-8")
CASES = {
    "unknown element": (GOOD.replace("Cl2 outn 0 10p", "Bx outn 0 V=1"), {}, "Bx", "unknown element"),
    "missing model": (GOOD.replace("Q2 outn inn e2 Q2N3904", "Q2 outn inn e2 Q2N3904X"), {}, "Q2 ",
                      "not defined"),
    "floating node": (GOOD.replace("Cl2 outn 0 10p", "Cl2 outn 0 10p\nRfl nowhere outn 1k"), {}, "Rfl",
                      "nowhere"),
    "pin not in netlist": (GOOD, {"out2": "outx"}, None, "outx"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_netlist_is_one_line_with_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    case: str) -> None:
    text, pins, line_of, words = CASES[case]
    path = _board_with(tmp_path, text, **pins)
    out = tmp_path / "run.h5"
    assert main(["run", str(FREQ_SWEEP), "--bench", str(SIM_BENCH), "--board", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err, err
    if line_of is not None:
        n = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith(line_of))
        assert f"board.cir:{n}:" in err, err
    else:
        assert "board.toml" in err and "[netlist]" in err, err
    assert not out.exists() and not list(tmp_path.glob("run.h5*"))


def test_no_physical_operating_point_is_refused_before_anything_opens(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A current source into a reverse-biased diode: only GMIN carries its current, the node sits at ~1e9 V."""
    bad = GOOD.replace(".end", "Ibad 0 nbad 1m\nDbad 0 nbad dmod\n.model dmod d(is=1e-14)\n.end")
    path = _board_with(tmp_path, bad)
    out = tmp_path / "run.h5"
    assert main(["run", str(FREQ_SWEEP), "--bench", str(SIM_BENCH), "--board", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    # the GMIN-held node drags the whole solution to absurd levels (1e9 V and beyond); the error names the worst
    # node and the line of the first element on it
    assert len(err.splitlines()) == 1 and re.search(r"board\.cir:\d+: node '\w+' sits at", err), err
    assert "no physical operating point" in err
    assert not list(tmp_path.glob("run.h5*"))


def test_netlist_board_measured_as_shipped_recovers_truth_and_fits_its_params(tmp_path: Path) -> None:
    """The shipped frequency sweep on the 2N3904 board: every measured gain within 3 u of the simulator's truth,
    and the ngspice fit of the netlist's .params with chi2_red below 2 and each within 3 u of its value."""
    import numpy as np

    from instruments.sim.board import SimBoard
    from procedures.archive.reader import open_run
    from procedures.fitting.run_fits import load_fits

    out = tmp_path / "run.h5"
    assert main(["run", str(FREQ_SWEEP), "--bench", str(SIM_BENCH), "--board", str(BOARD), "-o", str(out)]) == 0
    run = open_run(out)
    g = run.tables["gains"]
    f = np.asarray(g["frequency_hz"], float)
    S, S_u = np.asarray(g["S"]), np.asarray(g["S_u"])
    truth = SimBoard(load_board(BOARD)).small_signal_s(f)
    for r in range(2):
        for c in range(2):
            z = np.abs(S[:, r, c] - truth[:, r, c]) / np.abs(S_u[:, r, c])
            assert z.max() < 3.0, (r, c, z.max())
    (fit,) = [x for x in load_fits(run) if x.name == "small_signal"]
    assert fit.chi2_red < 2.0 and fit.p_value > 1e-3
    circuit = load_board(BOARD).netlist.circuit  # type: ignore[union-attr]
    for name, value, u in zip(fit.params, fit.values, fit.stderr):
        assert abs(value - circuit.params[name]) < 3 * u, (name, value, u)
