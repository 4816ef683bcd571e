"""The circuit engine against ngspice, run on the engine's own :meth:`Netlist.to_spice` deck: DC node
voltages and AC transfer of a Gummel-Poon differential pair (2N3904-like card), a level-1 MOSFET stage
with body effect and every capacitance, and a diode / inductor / controlled-source circuit. Also the
deck's names and syntax, which need no ngspice."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from instruments.sim.circuit import GROUND, BJTModel, DiodeModel, GummelPoonModel, MOSModel, Netlist
from instruments.sim.circuit.spice_deck import NGSPICE_K_OVER_Q

VT_27C = NGSPICE_K_OVER_Q * 300.15
needs_ngspice = pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice is not installed")


def run_ngspice(nl: Netlist, nodes: list[str], freq_hz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ngspice's DC node voltages (len(nodes),) and AC node phasors (len(freq), len(nodes)) of a netlist,
    through its deck; ``freq_hz`` must be a decade grid (``ac dec``) from 10^a to 10^b."""
    decades = np.log10(freq_hz[-1] / freq_hz[0])
    per_dec = round((len(freq_hz) - 1) / decades)
    with tempfile.TemporaryDirectory() as tmp:
        deck = nl.spice_deck("engine cross-check")
        names = [deck.nodes[n] for n in nodes]
        ctl = [".options reltol=1e-9 abstol=1e-18 vntol=1e-12", ".control", "set wr_singlescale",
               "set numdgt=17", "op"]
        ctl += [f"wrdata {tmp}/op{k}.txt v({n})" for k, n in enumerate(names)]
        ctl += [f"ac dec {per_dec} {freq_hz[0]:.17g} {freq_hz[-1]:.17g}"]
        ctl += [f"wrdata {tmp}/ac{k}.txt v({n})" for k, n in enumerate(names)]
        ctl += [".endc"]
        path = Path(tmp) / "deck.cir"
        path.write_text(nl.to_spice("engine cross-check", "\n".join(ctl)))
        run = subprocess.run(["ngspice", "-b", str(path)], capture_output=True, text=True, timeout=60)
        if not (Path(tmp) / "op0.txt").exists():
            raise AssertionError(f"ngspice failed:\n{run.stdout}\n{run.stderr}")
        op = np.array([np.loadtxt(f"{tmp}/op{k}.txt", ndmin=2)[0, -1] for k in range(len(nodes))])
        acs = [np.loadtxt(f"{tmp}/ac{k}.txt", ndmin=2) for k in range(len(nodes))]
    np.testing.assert_allclose(acs[0][:, 0], freq_hz, rtol=1e-9)
    return op, np.stack([a[:, -2] + 1j * a[:, -1] for a in acs], axis=1)


def _engine(nl: Netlist, nodes: list[str], freq_hz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    system = nl.compile()
    x = system.solve_dc()
    X = system.solve_ac(x, freq_hz, system.b_ac[:, None])[:, :, 0]
    idx = [system.index[n] for n in nodes]
    return x[idx], X[:, idx]


Q2N3904 = GummelPoonModel(polarity=1, vt_v=VT_27C, is_a=6.734e-15, bf=416.4, nf=1.0, vaf=74.03, ikf=66.78e-3,
                          ise=6.734e-15, ne=1.259, br=0.7371, rb_ohm=10.0, rc_ohm=1.0, cje_f=4.493e-12,
                          mje=0.2593, vje_v=0.75, cjc_f=3.638e-12, mjc=0.3085, vjc_v=0.75, tf_s=301.2e-12,
                          tr_s=239.5e-9)


def _diff_pair() -> Netlist:
    """Resistively loaded pair, +-12 V, 11 kOhm tail, 1 kOhm sources, differential AC drive, 10 pF on out1."""
    nl = Netlist()
    nl.vsource("Vcc", "vcc", GROUND, 12.0)
    nl.vsource("Vee", "vee", GROUND, -12.0)
    nl.vsource("Vin1", "in1", GROUND, 0.0, 0.5)
    nl.vsource("Vin2", "in2", GROUND, 0.0, -0.5)
    nl.resistor("in1", "b1", 1e3)
    nl.resistor("in2", "b2", 1e3)
    nl.bjt("Q1", "out1", "b1", "tail", Q2N3904)
    nl.bjt("Q2", "out2", "b2", "tail", Q2N3904)
    nl.resistor("vcc", "out1", 10e3)
    nl.resistor("vcc", "out2", 10.1e3)
    nl.resistor("tail", "vee", 11e3)
    nl.capacitor("out1", GROUND, 10e-12)
    return nl


@needs_ngspice
def test_gummel_poon_differential_pair_matches_ngspice() -> None:
    nodes = ["out1", "out2", "tail", "b1", "b2"]
    f = np.logspace(2, 6, 17)
    op_ng, ac_ng = run_ngspice(_diff_pair(), nodes, f)
    op, ac = _engine(_diff_pair(), nodes, f)
    np.testing.assert_allclose(op, op_ng, rtol=1e-6)  # measured: 2e-8
    gain, gain_ng = ac[:, 0] - ac[:, 1], ac_ng[:, 0] - ac_ng[:, 1]
    np.testing.assert_allclose(gain, gain_ng, rtol=1e-5)  # measured: 2e-8; the target is 5e-4
    assert abs(gain[-1]) < 0.9 * abs(gain[0])  # the capacitances act by 1 MHz


def _ebers_moll_active_load() -> Netlist:
    """The original engine's models (Ebers-Moll BJTs): NPN pair with a PNP mirror load and an ideal tail.
    A netlist of only the original elements keeps the original DC path unless asked to refine: the ideal
    tail source leaves ~1e-7 V in the port solution, enough to move this 850x gain by 6e-5."""
    npn = BJTModel(polarity=1, is_a=1e-15, beta_f=200.0, beta_r=1.0, early_v=100.0, vt_v=VT_27C)
    pnp = BJTModel(polarity=-1, is_a=2e-15, beta_f=80.0, beta_r=1.0, early_v=60.0, vt_v=VT_27C)
    nl = Netlist(refine_dc=True)
    nl.vsource("Vcc", "vcc", GROUND, 10.0)
    nl.vsource("Vee", "vee", GROUND, -10.0)
    nl.vsource("Vin1", "in1", GROUND, 0.0, 1.0)
    nl.vsource("Vin2", "in2", GROUND, 0.0)
    nl.bjt("Q1", "out1", "in1", "tail", npn)
    nl.bjt("Q2", "out2", "in2", "tail", npn)
    nl.isource("tail", "vee", 1e-3)
    nl.bjt("Q3", "out1", "out1", "vcc", pnp)
    nl.bjt("Q4", "out2", "out1", "vcc", pnp)
    nl.resistor("out2", GROUND, 100e3)
    nl.capacitor("out2", GROUND, 20e-12)
    return nl


@needs_ngspice
def test_ebers_moll_active_load_pair_matches_ngspice() -> None:
    nodes = ["out1", "out2", "tail"]
    f = np.logspace(2, 6, 9)
    op_ng, ac_ng = run_ngspice(_ebers_moll_active_load(), nodes, f)
    op, ac = _engine(_ebers_moll_active_load(), nodes, f)
    # the engine puts GMIN on all three terminal pairs of these devices, ngspice not on C-E: ~1e-7
    np.testing.assert_allclose(op, op_ng, rtol=1e-6)
    np.testing.assert_allclose(ac, ac_ng, rtol=1e-5)  # measured: 8e-8


def _mos_stage() -> Netlist:
    """NMOS common source with degeneration, bulk at -2 V, every level-1 capacitance; a PMOS current-source
    load with its bulk on its source (junction and Meyer capacitances); an NMOS follower on the output."""
    n = MOSModel(polarity=1, kp_a_per_v2=3e-3, vth_v=0.8, lambda_per_v=0.02, gamma_sqrt_v=0.45, phi_v=0.7,
                 cgso_f=2e-12, cgdo_f=1e-12, cgbo_f=0.2e-12, cbd_f=3e-12, cbs_f=4e-12, pb_v=0.85, mj=0.45,
                 fc=0.5, cox_f=20e-12)
    p = MOSModel(polarity=-1, kp_a_per_v2=1e-3, vth_v=0.9, lambda_per_v=0.03, cbd_f=1e-12, cox_f=5e-12)
    nl = Netlist()
    nl.vsource("Vdd", "vdd", GROUND, 5.0)
    nl.vsource("Vbb", "bulk", GROUND, -2.0)
    nl.vsource("Vin", "in", GROUND, 1.5, 1.0)
    nl.vsource("Vpb", "pb", GROUND, 3.3)
    nl.resistor("in", "g", 50e3)
    nl.mos("M1", "d", "g", "s", n, b="bulk")
    nl.resistor("s", GROUND, 300.0)
    nl.mos("M2", "d", "pb", "vdd", p)
    nl.resistor("d", GROUND, 20e3)
    # a plain three-terminal square-law follower with overlap capacitances only (linear)
    nl.mos("M3", "vdd", "d", "x", MOSModel(polarity=1, kp_a_per_v2=1e-3, vth_v=0.6, lambda_per_v=0.01,
                                           cgso_f=3e-12, cgdo_f=1e-12))
    nl.resistor("x", GROUND, 5e3)
    return nl


@needs_ngspice
def test_level1_mos_stage_with_body_effect_and_capacitances_matches_ngspice() -> None:
    nodes = ["d", "s", "g", "x"]
    f = np.logspace(2, 7, 21)
    op_ng, ac_ng = run_ngspice(_mos_stage(), nodes, f)
    op, ac = _engine(_mos_stage(), nodes, f)
    np.testing.assert_allclose(op, op_ng, rtol=1e-6)
    np.testing.assert_allclose(ac, ac_ng, rtol=1e-5)
    assert abs(ac[-1, 0]) < 0.5 * abs(ac[0, 0])


def _mixed_linear() -> Netlist:
    """A diode with RS, CJO, TT biased through an inductor; E, G, F (controlled by the inductor's current),
    H (by a source's) and an AC current source."""
    d = DiodeModel(is_a=2.52e-9, n=1.752, rs_ohm=0.568, cjo_f=4e-12, vj_v=0.6, m=0.4, tt_s=20e-9, vt_v=VT_27C)
    nl = Netlist()
    nl.vsource("V1", "a", GROUND, 2.0, 0.1, r_series_ohm=50.0)
    nl.inductor("L1", "a", "k", 1e-3)
    nl.resistor("k", "an", 1e3)
    nl.diode("D1", "an", GROUND, d)
    nl.cccs(GROUND, "f", "L1", 2.0)
    nl.resistor("f", GROUND, 500.0)
    nl.vcvs("E1", "e", GROUND, "an", GROUND, -3.0)
    nl.resistor("e", "h", 2e3)
    nl.ccvs("H1", "h", GROUND, "V1", 100.0)
    nl.vccs(GROUND, "gout", "f", GROUND, 1e-3)
    nl.resistor("gout", GROUND, 1e3)
    nl.capacitor("gout", GROUND, 1e-9)
    nl.isource(GROUND, "gout", 1e-4, 2e-5j)
    return nl


@needs_ngspice
def test_diode_inductor_and_controlled_sources_match_ngspice() -> None:
    nodes = ["an", "f", "e", "h", "gout", "k"]
    f = np.logspace(3, 7, 9)
    op_ng, ac_ng = run_ngspice(_mixed_linear(), nodes, f)
    op, ac = _engine(_mixed_linear(), nodes, f)
    np.testing.assert_allclose(op, op_ng, rtol=1e-6)
    np.testing.assert_allclose(ac, ac_ng, rtol=1e-6, atol=1e-12)


def test_deck_names_are_sanitised_unique_and_mapped() -> None:
    nl = Netlist()
    nl.vsource("G0", "x.in", GROUND, 1.0, 0.5 * np.exp(0.25j), r_series_ohm=50.0)
    nl.alias("pin", "x.in")
    nl.resistor("x.in", "gnd", 1e3)
    nl.resistor("gnd", "X_IN", 2e3)
    nl.cccs("X_IN", GROUND, "L1", 3.0)
    nl.inductor("L1", "X_IN", GROUND, 1e-6)
    nl.bjt("Q1", "x.in", "X_IN", GROUND, Q2N3904)
    deck = nl.spice_deck("title\nwith newline")
    text = deck.text
    assert text.splitlines()[0] == "* title with newline" and text.rstrip().endswith(".end")
    assert deck.nodes["x.in"] == "x_in" and deck.nodes["pin"] == "x_in"
    assert deck.nodes["gnd"] not in ("0", "gnd") and deck.nodes["X_IN"].lower() != "x_in"
    assert "Q1#b" not in deck.nodes  # the internal RB node lives in ngspice's model
    assert deck.elements["G0"] == "VG0"
    assert "VG0 VG0_rs 0 DC 1.0 AC 0.5 14.32394487827058" in text  # AC magnitude and phase in degrees
    assert "RVG0_rs x_in VG0_rs 50.0" in text
    # the inductor's current reaches the F source through a 0 V sense source
    assert deck.currents["L1"].startswith("V") and f" {deck.currents['L1']} 3.0" in text
    assert ".model mQ1 NPN(IS=6.734e-15 BF=416.4" in text and "RB=10.0" in text and "VAR=" not in text
    assert f".options temp={VT_27C / NGSPICE_K_OVER_Q - 273.15!r}" in text
    element_names = [ln.split()[0].lower() for ln in text.splitlines() if ln and ln[0] not in "*."]
    assert len(element_names) == len(set(element_names))
