"""Deliberate faults: the simulated board differs from its config, the fit is made against the config, and
the fit must point at the faulty part while the other parameters stay at their true values.

- one load resistor 20 % high (R2 = 1.2 x its config value): d_R jumps from 0.5 % to ~18 %, the mean R_L by
  10 %; the tail and the capacitances stay put;
- a tail source with 10x lower output resistance: R_EE falls tenfold; the load and capacitances stay put
  (the Norton tail's current rises by ~12 % with it, which the fit follows through the operating point
  rather than misreading it as a load change).
"""

from __future__ import annotations

import dataclasses

import pytest

from fits_truth import fits_of, load, measure, procedure, truth, z_scores
from models import split

BOARD = "bjt-source-text"
BODY = """[drive]
vid_vpk = 0.002
vic_vpk = 0.3
compare_ideal = false
[frequency]
list_hz = [20000.0, 200000.0]
[acquisition]
record_points = 20000
"""


def _load_fault(b):
    r1, r2 = (float(x) for x in split(b.load_r_ohm, b.mismatch_load_r))
    r2 *= 1.2
    mean = (r1 + r2) / 2
    return dataclasses.replace(b, load_r_ohm=mean, mismatch_load_r=(r2 - r1) / mean)


def _tail_fault(b):
    return dataclasses.replace(b, tail_r_ohm=b.tail_r_ohm / 10)


@pytest.mark.parametrize("fault, moved", [(_load_fault, {"d_R", "R_L"}), (_tail_fault, {"R_EE"})],
                         ids=["load-resistor-20pct", "tail-resistance-10x-low"])
def test_fit_points_at_the_faulty_component(tmp_path, fault, moved: set[str]) -> None:
    nominal = load(BOARD)
    faulty = fault(nominal)
    proc = procedure(tmp_path, "fault", "frequency_sweep", BODY)
    fit = fits_of(measure(proc, BOARD, tmp_path / "run.h5", sim_board=faulty))["small_signal"]
    z_nominal = {n: (v - nom) / e for n, v, e, nom in zip(fit.params, fit.values, fit.stderr, fit.nominal)}
    z_true = z_scores(fit, truth(faulty))
    # the faulty parameters moved by many sigma from the config's value, to the faulty board's value ...
    for name in moved:
        assert abs(z_nominal[name]) > 50, (name, z_nominal)
        assert abs(z_true[name]) < 3, (name, z_true)
    # ... and they are the ones that moved most; every other parameter stayed at its (unchanged) value
    assert max(z_nominal, key=lambda n: abs(z_nominal[n])) in moved
    for name in set(fit.params) - moved:
        assert abs(z_nominal[name]) < 3, (name, z_nominal)
