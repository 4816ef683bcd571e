"""The pair's DC circuit as parameter objects (models.pair_circuit): what each computes, and what the DC
solvers refuse."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models import (
    BjtParams,
    Cascode,
    CurrentMirror,
    DiffPair,
    MosParams,
    NortonTail,
    OperatingPointError,
    ResistorLoads,
    active_load_operating_point,
    norton_tail_current,
    resistive_pair_dc,
    thermal_voltage,
)

VT = thermal_voltage(300.15)
NPN = BjtParams(beta=200.0, early_v=100.0, i_s=1e-15)
NMOS = MosParams(kp=1e-3, vth=0.7)


def test_norton_tail_current_is_the_ideal_current_plus_the_resistor_current():
    tail = NortonTail(100e-6, r_out=1e6, v_ee=-5.0)
    assert tail.dc_current(1.0) == 100e-6 + 6.0 / 1e6
    assert tail.dc_current(1.0) == norton_tail_current(100e-6, 1e6, 1.0, -5.0)
    assert NortonTail(100e-6).dc_current(-3.0) == 100e-6  # an ideal source carries its current at any node level


def test_mirror_r1_current_flows_from_the_output_towards_the_return():
    assert CurrentMirror(NPN, v_cc=5.0, r_out=250e3, v_return=3.0).r_out_current(2.5) == pytest.approx(-2e-6)
    assert CurrentMirror(NPN, v_cc=5.0, r_out=math.inf, v_return=3.0).r_out_current(2.5) == 0.0


def test_pair_kind():
    assert DiffPair((NPN, NPN), VT).is_bjt and not DiffPair((NPN, NPN), VT).mixed_kinds
    assert not DiffPair((NMOS, NMOS), VT).is_bjt
    assert DiffPair((NPN, NMOS), VT).mixed_kinds


def test_solvers_refuse_what_they_do_not_model():
    loads = ResistorLoads((40e3, 40e3), v_return=5.0)
    v = np.array([2.0])
    with pytest.raises(ValueError, match="one kind"):
        resistive_pair_dc(v, v, DiffPair((NPN, NMOS), VT), NortonTail(100e-6), loads)
    with pytest.raises(ValueError, match="cascode"):
        resistive_pair_dc(v, v, DiffPair((NPN, NPN), VT, cascode=Cascode((NPN, NPN), 3.0)), NortonTail(100e-6), loads)
    with pytest.raises(OperatingPointError, match="one kind"):
        active_load_operating_point(DiffPair((NPN, NMOS), VT), NortonTail(100e-6),
                                    CurrentMirror(NPN, v_cc=5.0, r_out=250e3, v_return=3.0), v_in=(2.0, 2.0))
