"""Fig. 5-9 (two half-current sinks, 4 kOhm between the emitters) against fig. 5-8 (one 100 uA tail, 2 kOhm in each
emitter): the source text calls them "identical in performance". Each figure comes from the models
(procedures.predict) and from the transistor-level simulator (instruments.sim), which share no code; the tests
check that the two agree, and what the comparison says:

- exactly the same with ideal sinks: the delta-star transform makes fig. 5-9 fig. 5-8 with R_E = R_B/2;
- with the 2 MOhm sinks (Z_s), each half bridge is shunted by its sink (the star arm is R_E || Z_s) and the
  common-mode half circuit has Z_s under the emitter instead of R_E + Z_s, so |Add| and |Acc| both rise by ~1e-3,
  and the ratios (CMRR_se, CMRR_diff with the same pair mismatch) stay within 0.002 dB; THD at 50 mV within 0.2 %;
- the input offset from the pair's own mismatch is the same (no current in the bridge when the collector currents
  balance), but the two sinks can mismatch, which one tail source cannot: 1 % of 50 uA through R_E || Z_s adds
  ~1 mV, more than the pair's own, and costs ~2 dB of CMRR_diff.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from instruments.board_config import BoardConfig, load_board
from instruments.sim.board import Drive, SimBoard
from mna import Circuit
from models import MixedModeGains, ResistiveLoad, Side, db, pair_response
from models.split_tail import SplitSinks, SplitTail
from procedures.predict.mapping import operating_point, small_signal_circuit
from procedures.predict.prediction import predict

BOARDS = Path(__file__).resolve().parents[2] / "configs" / "boards"
FIG8 = load_board(BOARDS / "bjt-degenerated.toml")
FIG9 = load_board(BOARDS / "bjt-split-tail.toml")
FIG9_MATCHED = replace(FIG9, mismatch_tail=0.0)  # the pair's mismatch only, as fig. 5-8
FREQS = (1e3, 1e5)
THD_VPK = 0.05


@dataclass(frozen=True)
class Figures:
    """One board's figures: gains and CMRRs (dB) at FREQS, THD of vod at THD_VPK, input offset (V)."""

    add: np.ndarray
    acc: np.ndarray
    cmrr_se1_db: np.ndarray
    cmrr_diff_db: np.ndarray
    thd: float
    offset_v: float


def _figures(g: MixedModeGains, thd: float, offset_v: float) -> Figures:
    return Figures(np.asarray(g.add), np.asarray(g.acc), np.asarray(db(g.cmrr_se(1))),
                   np.asarray(db(g.cmrr_diff)), thd, offset_v)


def model_figures(board: BoardConfig) -> Figures:
    """The models' figures: ``diffbench predict``'s gains, THD and offset (``-vod/Add`` at the operating point)."""
    p = predict(board, np.array(FREQS), np.array([THD_VPK]))
    return _figures(p.gains, float(p.large.distortion.thd[0]), p.input_offset_v)


def sim_figures(board: BoardConfig) -> Figures:
    """The simulator's: its linearisation, harmonic balance at THD_VPK (pins driven by ideal sources, so their
    differential amplitude is THD_VPK as in the prediction), and ``-vod/Add(0 Hz)`` at rest."""
    sim = SimBoard.from_config(board)
    g = MixedModeGains.from_matrix(np.moveaxis(sim.small_signal_s(np.array(FREQS)), 0, -1))
    drives = [Drive(board.bias_v, THD_VPK / 2, 0.0), Drive(board.bias_v, -THD_VPK / 2, 0.0)]
    ss = sim.steady_state(1e3, drives, (0, 1), n_harmonics=24)
    c = ss.harmonics("out1") - ss.harmonics("out2")
    thd = float(np.sqrt(np.sum(np.abs(c[2:]) ** 2)) / np.abs(c[1]))
    op = sim.operating_point()
    add0 = complex(sim.small_signal_s(0.0)[0, 0]).real
    return _figures(g, thd, -(op["out1"] - op["out2"]) / add0)


@pytest.fixture(scope="module")
def figures() -> dict[str, tuple[Figures, Figures]]:
    return {name: (model_figures(b), sim_figures(b))
            for name, b in (("fig8", FIG8), ("fig9", FIG9_MATCHED), ("fig9_sinks_1pct", FIG9))}


@pytest.mark.parametrize("name", ["fig8", "fig9", "fig9_sinks_1pct"])
def test_models_agree_with_the_simulator(figures: dict[str, tuple[Figures, Figures]], name: str) -> None:
    """Gains within 1e-5, CMRRs within 0.001 dB, THD within 1 %, offset within 0.5 %."""
    m, s = figures[name]
    for what in ("add", "acc"):
        np.testing.assert_allclose(getattr(m, what), getattr(s, what), rtol=1e-5, err_msg=what)
    for what in ("cmrr_se1_db", "cmrr_diff_db"):
        np.testing.assert_allclose(getattr(m, what), getattr(s, what), atol=1e-3, err_msg=what)
    assert m.thd == pytest.approx(s.thd, rel=0.01)
    assert m.offset_v == pytest.approx(s.offset_v, rel=0.005)


def test_gain_and_distortion_are_the_same(figures: dict[str, tuple[Figures, Figures]]) -> None:
    """Add: fig. 5-9's each half bridge is shunted by its sink, ``Z_1 = R_E || Z_s``, so |Add| is higher by about
    ``(R_E/Z_s) R_E/(r_e + R_E)`` ~ 1e-3; the models give the simulator's difference to 1 %. THD at 50 mV: the same
    within 0.2 %, and below the source text's 0.1 %."""
    (m8, s8), (m9, s9) = figures["fig8"], figures["fig9"]
    d_model, d_sim = abs(m9.add[0] / m8.add[0]) - 1, abs(s9.add[0] / s8.add[0]) - 1
    assert d_model == pytest.approx(d_sim, rel=0.01)
    assert 0 < d_model < FIG8.degeneration_r_ohm / (2 * FIG8.tail_r_ohm)
    for a8, a9 in ((m8, m9), (s8, s9)):
        assert a9.thd == pytest.approx(a8.thd, rel=2e-3)
        assert a8.thd < 1e-3


def test_ideal_sinks_make_the_two_circuits_identical() -> None:
    """With (near) ideal sinks the star arm is R_B/2 and the centre carries no impedance: the models' gains of the
    two circuits agree to 1e-8 with 1 TOhm sources (their R_E/Z_s is 1e-9), the simulator's to 1e-5 (its DC
    solve leaves ~1e-6 in the collector currents when the tail node all but floats)."""
    ideal8 = replace(FIG8, tail_r_ohm=1e12, tail_c_f=0.0)
    ideal9 = replace(FIG9_MATCHED, tail_r_ohm=1e12, tail_c_f=0.0)
    m8, m9 = (pair_response(1e3, *small_signal_circuit(b, operating_point(b))).gains() for b in (ideal8, ideal9))
    s8, s9 = (MixedModeGains.from_matrix(SimBoard.from_config(b).small_signal_s(1e3)) for b in (ideal8, ideal9))
    for g8, g9, rel in ((m8, m9, 1e-8), (s8, s9, 1e-5)):
        assert complex(g9.add) == pytest.approx(complex(g8.add), rel=rel)
        assert complex(g9.acc) == pytest.approx(complex(g8.acc), rel=rel)


def test_common_mode_gain_moves_but_the_rejection_ratios_do_not(figures: dict[str, tuple[Figures, Figures]]) -> None:
    """|Acc| of fig. 5-9 is higher by ~R_E/Z_s (its common-mode half circuit has Z_s under the emitter, fig. 5-8's
    R_E + Z_s), as |Add| is: CMRR_se and, with the same pair mismatch, CMRR_diff stay within 0.002 dB, at 1 kHz and
    at 100 kHz where the sinks' capacitance has taken over. The models give the simulator's Acc difference to 1 %."""
    (m8, s8), (m9, s9) = figures["fig8"], figures["fig9"]
    d_model = abs(m9.acc[0]) / abs(m8.acc[0]) - 1
    assert d_model == pytest.approx(abs(s9.acc[0]) / abs(s8.acc[0]) - 1, rel=0.01)
    assert d_model == pytest.approx(FIG8.degeneration_r_ohm / (2 * FIG8.tail_r_ohm), rel=0.1)
    for a8, a9 in ((m8, m9), (s8, s9)):
        np.testing.assert_allclose(a9.cmrr_se1_db, a8.cmrr_se1_db, atol=2e-3)
        np.testing.assert_allclose(a9.cmrr_diff_db, a8.cmrr_diff_db, atol=2e-3)


def test_sink_mismatch_adds_an_offset_a_single_tail_cannot_have(figures: dict[str, tuple[Figures, Figures]]) -> None:
    """Matched sinks: the same offset as fig. 5-8 (within 0.1 %). A 1 % sink mismatch adds ``(I2 - I1) Z_1`` with
    ``Z_1 = R_E || Z_s``: 0.5 uA x 1998 Ohm ~ 1 mV, more than the pair's own, and costs ~2 dB of CMRR_diff."""
    for k in (0, 1):
        assert figures["fig9"][k].offset_v == pytest.approx(figures["fig8"][k].offset_v, rel=1e-3)
    z1 = 1.0 / (1.0 / 2e3 + 1.0 / 2e6)
    extra = FIG9.mismatch_tail * FIG9.tail_current_a / 2 * z1
    for k in (0, 1):
        added = figures["fig9_sinks_1pct"][k].offset_v - figures["fig9"][k].offset_v
        assert added == pytest.approx(extra, rel=0.01)
        assert figures["fig9_sinks_1pct"][k].cmrr_diff_db[0] < figures["fig9"][k].cmrr_diff_db[0] - 1.0


def test_split_tail_small_signal_against_an_independent_nodal_solve() -> None:
    """pair_response with a SplitTail against tests/mna.py's solve of the physical circuit (two sinks with their
    capacitance at the emitters, the bridge, hybrid-pi devices with mismatch), 10 Hz to 1 MHz."""
    sides = (Side(gm=1.9e-3, r_o=2e6, r_pi=1.0e5, r_degen=2e3), Side(gm=2.0e-3, r_o=1.9e6, r_pi=0.98e5, r_degen=2e3))
    r_t, c_t, loads = 1e6, 5e-12, ((40e3, 10e-12), (40.2e3, 10.1e-12))
    f = np.array([10.0, 1e3, 1e5, 1e6])
    h = pair_response(f, *sides, ResistiveLoad(loads[0][0], loads[1][0], loads[0][1], loads[1][1]),
                      SplitTail(r_t, c_t, bridge_r=4e3)).h
    c = Circuit()
    c.V("v1", "b1", "0")
    c.V("v2", "b2", "0")
    for k, sd in enumerate(sides, start=1):
        c.bjt(f"o{k}", f"b{k}", f"e{k}", float(sd.gm), float(sd.r_pi), float(sd.r_o))
        c.R(f"e{k}", "0", 2 * r_t)
        c.C(f"e{k}", "0", c_t / 2)
        c.R(f"o{k}", "0", loads[k - 1][0])
        c.C(f"o{k}", "0", loads[k - 1][1])
    c.R("e1", "e2", 4e3)
    for col, src in enumerate(("v1", "v2")):
        x = c.solve(f, {src: 1.0})
        np.testing.assert_allclose(x["o1"], h[0, col], rtol=1e-9)
        np.testing.assert_allclose(x["o2"], h[1, col], rtol=1e-9)


def test_split_tail_dc_against_kirchhoff() -> None:
    """The operating point with mismatched sinks satisfies Kirchhoff's current law at both emitter nodes (sink,
    its resistor and the bridge) with the device laws, to 1e-9 of the tail current."""
    b = FIG9
    op = operating_point(b)
    i1, i2 = (b.tail_current_a / 2) * (1 - b.mismatch_tail / 2), (b.tail_current_a / 2) * (1 + b.mismatch_tail / 2)
    v_e = [s.v_emitter for s in op.sides]
    r_b = 2 * b.degeneration_r_ohm
    for k, (i_k, own, other) in enumerate(((i1, v_e[0], v_e[1]), (i2, v_e[1], v_e[0]))):
        leaving = i_k + (own - b.vee_v) / (2 * b.tail_r_ohm) + (own - other) / r_b
        assert op.sides[k].i_emitter == pytest.approx(leaving, abs=1e-9 * b.tail_current_a)
    assert op.v_tail == pytest.approx((v_e[0] + v_e[1]) / 2, abs=1e-12)
    assert op.i_tail == pytest.approx(op.sides[0].i_emitter + op.sides[1].i_emitter, rel=1e-9)


def test_star_equivalent_is_the_delta_for_any_sinks() -> None:
    """Kennelly's transform: the star's terminal resistances equal the delta's for a drive at either node."""
    sinks = SplitSinks((50e-6, 50e-6), 2e6, 4e3)
    dz, tail, _ = sinks.star()
    z1 = 2e3 + dz
    # from node 1 with node 2 open: delta Z_s || (R_B + Z_s); star Z_1 + Z_3
    assert z1 + tail.r_out == pytest.approx(2e6 * (4e3 + 2e6) / (4e3 + 4e6), rel=1e-12)
    # between the nodes: delta R_B || 2 Z_s; star 2 Z_1
    assert 2 * z1 == pytest.approx(4e3 * 4e6 / (4e3 + 4e6), rel=1e-12)
    assert tail.current == pytest.approx(100e-6 * (1 + 4e3 / 4e6), rel=1e-12)
    ideal = SplitSinks((50e-6, 50e-6), math.inf, 4e3).star()
    assert ideal[0] == 0.0 and math.isinf(ideal[1].r_out) and ideal[1].current == pytest.approx(100e-6)


def test_split_tail_refuses_an_active_load() -> None:
    """Resistive loads only (the solver does not pretend otherwise)."""
    from instruments.board_config import parse_board
    from instruments.errors import ConfigError
    doc = {"board": {"name": "x"}, "supply": {"vcc_v": 5.0}, "inputs": {"bias_v": 2.0},
           "device": {"type": "npn", "beta": 100.0, "early_v": 100.0, "is_a": 1e-15},
           "tail": {"kind": "split", "current_a": 1e-4, "r_ohm": 1e6}, "degeneration": {"bridge_r_ohm": 4e3},
           "load": {"type": "active", "r_ohm": 1e5}, "mirror": {"type": "pnp", "beta": 50.0, "early_v": 50.0,
                                                                  "is_a": 1e-15},
           "limits": {"vid_max_vpk": 0.01, "vic_max_vpk": 0.1, "bias_min_v": 1.5, "bias_max_v": 2.5}}
    with pytest.raises(ConfigError, match=r"\[tail\] kind: a split tail is modelled with resistive loads only"):
        parse_board(doc)
    doc["load"] = {"type": "resistive", "r_ohm": 4e4}
    del doc["mirror"]
    assert parse_board(doc).degeneration_r_ohm == 2e3
