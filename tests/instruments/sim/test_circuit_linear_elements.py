"""Inductors, controlled sources (E, G, F, H) and AC current sources of the circuit engine against the
closed-form transfer functions of small linear circuits (SPICE sign conventions: a source's current flows
from its first node through it to its second)."""

from __future__ import annotations

import numpy as np
import pytest

from instruments.sim.circuit import GROUND, Netlist


def test_rl_high_pass_corner() -> None:
    """V -- R -- o -- L -- ground: H = j w L / (R + j w L), corner R / (2 pi L); a short at DC."""
    r, l_h = 1e3, 10e-3
    nl = Netlist()
    nl.vsource("V", "s", GROUND, 2.0, 0.5j)
    nl.resistor("s", "o", r)
    nl.inductor("L1", "o", GROUND, l_h)
    system = nl.compile()
    x = system.solve_dc()
    assert x[system.index["o"]] == pytest.approx(0.0, abs=1e-15)
    assert x[system.sources["L1"]] == pytest.approx(2.0 / r, rel=1e-14)  # current from o through L to ground
    f = np.array([10.0, r / (2 * np.pi * l_h), 1e6])
    w = 2 * np.pi * f
    h = 1j * w * l_h / (r + 1j * w * l_h)
    ac = system.solve_ac(x, f, system.source_rhs(["V"]))[:, system.index["o"], 0]
    np.testing.assert_allclose(ac, h, rtol=1e-12)
    assert abs(ac[1]) == pytest.approx(2**-0.5, rel=1e-12)
    sol = system.solve_hb(f[1], 3, x)
    assert sol.X[system.index["o"], 1] == pytest.approx(0.5j * h[1], rel=1e-12)


def test_vcvs_non_inverting_amplifier() -> None:
    """E as an op-amp of open-loop gain A with feedback R1, R2: gain A / (1 + A R2/(R1 + R2))."""
    a, r1, r2 = 1e5, 9e3, 1e3
    nl = Netlist()
    nl.vsource("Vin", "p", GROUND, 0.1, 1.0)
    nl.vcvs("Eamp", "out", GROUND, "p", "n", a)
    nl.resistor("out", "n", r1)
    nl.resistor("n", GROUND, r2)
    system = nl.compile()
    x = system.solve_dc()
    gain = a / (1 + a * r2 / (r1 + r2))
    assert x[system.index["out"]] == pytest.approx(0.1 * gain, rel=1e-13)
    ac = system.solve_ac(x, [1e3], system.b_ac[:, None])[0, system.index["out"], 0]
    assert ac == pytest.approx(gain, rel=1e-13)


def test_vccs_transconductance_stage() -> None:
    """G from out to ground controlled by (in, ground) with load R_L: V_out = -gm R_L V_in (the current
    leaves out through the source)."""
    nl = Netlist()
    nl.vsource("Vin", "in", GROUND, 0.2)
    nl.vccs("out", GROUND, "in", GROUND, 2e-3)
    nl.resistor("out", GROUND, 5e3)
    system = nl.compile()
    assert system.solve_dc()[system.index["out"]] == pytest.approx(-2e-3 * 5e3 * 0.2, rel=1e-14)


def _sensed_netlist(kind: str) -> Netlist:
    """V1 -- R1 -- m -- Vsense (0 V) -- ground senses I = V1/R1; the output stage (F or H) is added
    *before* its controlling source, so the reference is resolved at compile time."""
    nl = Netlist()
    if kind == "F":
        nl.cccs("out", GROUND, "Vsense", 50.0)
        nl.resistor("out", GROUND, 2e3)
    else:
        nl.ccvs("Hx", "out", GROUND, "Vsense", 750.0)
    nl.vsource("V1", "a", GROUND, 1.5, 0.25)
    nl.resistor("a", "m", 3e3)
    nl.vsource("Vsense", "m", GROUND, 0.0)
    return nl


@pytest.mark.parametrize("kind", ["F", "H"])
def test_current_controlled_sources_with_sense_source(kind: str) -> None:
    system = _sensed_netlist(kind).compile()
    x = system.solve_dc()
    i_sense = 1.5 / 3e3
    assert x[system.sources["Vsense"]] == pytest.approx(i_sense, rel=1e-14)
    expect = -50.0 * i_sense * 2e3 if kind == "F" else 750.0 * i_sense
    assert x[system.index["out"]] == pytest.approx(expect, rel=1e-13)
    ac = system.solve_ac(x, [1e4], system.b_ac[:, None])[0, system.index["out"], 0]
    assert ac == pytest.approx(expect / 1.5 * 0.25, rel=1e-13)


def test_cccs_controlled_by_an_inductor_current() -> None:
    """F mirrors an inductor's current: V -- R -- L -- ground, F pushes gain * I_L out of node o into R_o."""
    r, l_h, gain, ro = 100.0, 1e-3, 3.0, 1e3
    nl = Netlist()
    nl.cccs(GROUND, "o", "L1", gain)  # current flows from ground through F into o
    nl.resistor("o", GROUND, ro)
    nl.vsource("V", "s", GROUND, 1.0, 1.0)
    nl.resistor("s", "x", r)
    nl.inductor("L1", "x", GROUND, l_h)
    system = nl.compile()
    x = system.solve_dc()
    assert x[system.index["o"]] == pytest.approx(gain * ro / r, rel=1e-13)
    f = 30e3
    i_l = 1.0 / (r + 2j * np.pi * f * l_h)
    ac = system.solve_ac(x, [f], system.b_ac[:, None])[0, system.index["o"], 0]
    assert ac == pytest.approx(gain * ro * i_l, rel=1e-12)


def test_ac_current_source_into_rc() -> None:
    """I from ground into o (DC 1 mA, AC phasor 2 uA at -30 deg) through R || C."""
    r, c, f = 10e3, 1e-9, 20e3
    phasor = 2e-6 * np.exp(-1j * np.pi / 6)
    nl = Netlist()
    nl.isource(GROUND, "o", 1e-3, phasor)
    nl.resistor("o", GROUND, r)
    nl.capacitor("o", GROUND, c)
    system = nl.compile()
    x = system.solve_dc()
    assert x[system.index["o"]] == pytest.approx(10.0, rel=1e-14)
    z = r / (1 + 2j * np.pi * f * r * c)
    assert system.solve_ac(x, [f], system.b_ac[:, None])[0, system.index["o"], 0] == pytest.approx(phasor * z)
    assert system.solve_hb(f, 2, x).X[system.index["o"], 1] == pytest.approx(phasor * z, rel=1e-12)


def test_bad_elements_are_refused() -> None:
    nl = Netlist()
    nl.vsource("V", "a", GROUND, 1.0)
    nl.cccs("a", GROUND, "Vmissing", 1.0)
    with pytest.raises(ValueError, match="Vmissing"):
        nl.compile()
    with pytest.raises(ValueError, match="already exists"):
        nl.inductor("V", "a", GROUND, 1e-3)
    with pytest.raises(ValueError, match="inductance"):
        nl.inductor("L0", "a", GROUND, 0.0)
