"""The transistor tail source (``[tail] kind = "transistor"``): its DC law and output resistance against the
transistor-level simulator at input common-mode levels from well inside its compliance to deep below it, the exact
output resistance against the textbook degenerated form and against the slope of its own DC law, and the config
keys' errors. Bipolar (configs/boards/bjt-transistor-tail.toml) and MOS (a test board built here).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from instruments.board_config import BoardConfig, load_board, parse_board
from instruments.errors import ConfigError
from instruments.sim.board import SimBoard
from models import MixedModeGains, TransistorTail, db, degenerated_output_resistance, pair_response
from models.devices import BjtParams, MosParams, bjt_small_signal, mos_small_signal
from models.full_region_laws import device_law
from procedures.predict.mapping import operating_point, small_signal_circuit
from procedures.predict.prediction import predict
from procedures.predict.tails import TAIL_BETA_R

BOARD = load_board(Path(__file__).resolve().parents[2] / "configs" / "boards" / "bjt-transistor-tail.toml")
VT = BOARD.vt_v
LEVELS = (1.5, 1.6, 1.68, 1.76, 1.84, 2.0, 2.2, 2.4)


def _mos_doc(**tail: Any) -> dict[str, Any]:
    """An NMOS pair with 20 kOhm loads on an NMOS tail transistor (gate 1.4 V, 5 kOhm source resistor)."""
    return {
        "board": {"name": "mos-transistor-tail"}, "supply": {"vcc_v": 5.0}, "inputs": {"bias_v": 2.2},
        "device": {"type": "nmos", "kp_a_per_v2": 1e-3, "vth_v": 0.7, "lambda_per_v": 0.02},
        "tail": {"kind": "transistor", "bias_v": 1.4, "r_e_ohm": 5e3, "c_f": 2e-12, **tail},
        "load": {"type": "resistive", "r_ohm": 20e3, "c_f": 10e-12},
        "mismatch": {"load_r": 0.005, "device": 0.01, "vth_v": 0.002},
        "limits": {"vid_max_vpk": 0.1, "vic_max_vpk": 0.3, "bias_min_v": 1.0, "bias_max_v": 2.5},
    }


MOS_BOARD = parse_board(_mos_doc(), source="<mos-transistor-tail>")
MOS_LEVELS = (1.2, 1.35, 1.5, 1.6, 1.8, 2.2)


def _sim_tail(board: BoardConfig, sim_op: dict[str, float]) -> float:
    return sim_op["Q10.ic" if board.is_bjt else "M10.id"]


@pytest.mark.parametrize(("board", "levels"), [(BOARD, LEVELS), (MOS_BOARD, MOS_LEVELS)], ids=["bjt", "mos"])
def test_operating_point_and_cmrr_follow_the_simulator_through_the_compliance(board: BoardConfig,
                                                                              levels: tuple[float, ...]) -> None:
    """At each input level: the tail node within 1 uV (SPICE's VNTOL), the tail current within 1e-7 or three times
    the simulator's own unbalance at the tail's emitter (its Newton stops with ~2e-10 A of 1e-4 A left there in deep
    saturation), and Add, Acc within
    5e-4 and CMRR_se within 0.01 dB at 1 kHz (the targets of every board), from R_EE ~ 30 MOhm down to a few kOhm;
    CMRR_se falls by more than 40 dB across the levels."""
    cmrr = []
    for v in levels:
        b = replace(board, bias_v=v)
        op = operating_point(b)
        sim = SimBoard.from_config(b)
        s_op = sim.operating_point()
        assert op.v_tail == pytest.approx(s_op["tail"], abs=1e-6), v
        r_e = b.tail_transistor.r_e_ohm  # type: ignore[union-attr]
        residual = abs(s_op["Q10.ie" if b.is_bjt else "M10.id"] - (s_op["te"] - b.vee_v) / r_e)
        assert op.i_tail == pytest.approx(_sim_tail(b, s_op), rel=1e-7, abs=3 * residual), v
        m = pair_response(1e3, *small_signal_circuit(b, op)).gains()
        t = MixedModeGains.from_matrix(sim.small_signal_s(1e3))
        assert complex(m.add) == pytest.approx(complex(t.add), rel=5e-4), v
        assert complex(m.acc) == pytest.approx(complex(t.acc), rel=5e-4), v
        for k in (1, 2):
            assert float(db(m.cmrr_se(k))) == pytest.approx(float(db(t.cmrr_se(k))), abs=0.01), (v, k)
        cmrr.append(float(db(m.cmrr_se(1))))
    assert max(cmrr) - min(cmrr) > 40.0


def test_bjt_tail_collapses_below_its_compliance() -> None:
    """R_EE ~ 30 MOhm in the active region; below the edge (V_BC > 0.4 V) it falls by orders of magnitude and the
    operating point says so; the differential gain holds to within 0.5 % down to 1.68 V while CMRR_se has
    already lost ~50 dB (the report's cm-range prediction keeps its figures: the pair itself stays active)."""
    tail = _tail(BOARD)
    active, edge, deep = (tail.state(v) for v in (1.56, BOARD.tail_transistor.bias_v - 0.45,  # type: ignore[union-attr]
                                                   BOARD.tail_transistor.bias_v - 0.6))  # type: ignore[union-attr]
    assert active.region == "active" and 2.5e7 < active.r_out < 3.5e7
    assert edge.region == "saturated" and deep.r_out < 1e-3 * active.r_out
    low, nominal = (predict(replace(BOARD, bias_v=v), np.array([1e3]), np.array([0.01])) for v in (1.68, 2.2))
    assert low.op.all_active and any("tail transistor Q10 is saturated" in w for w in low.warnings)
    assert not any("tail transistor" in w for w in nominal.warnings)
    assert abs(complex(low.gains.add[0]) / complex(nominal.gains.add[0]) - 1) < 5e-3
    assert float(db(nominal.gains.cmrr_se(1))[0]) - float(db(low.gains.cmrr_se(1))[0]) > 45.0


def _tail(board: BoardConfig) -> TransistorTail:
    tr = board.tail_transistor
    assert tr is not None
    d = board.device
    dev: BjtParams | MosParams
    if board.is_bjt:
        assert d.beta is not None and d.early_v is not None and d.is_a is not None
        dev = BjtParams(d.beta, d.early_v, d.is_a * tr.size_ratio)
    else:
        assert d.kp_a_per_v2 is not None and d.vth_v is not None and d.lambda_per_v is not None
        dev = MosParams(d.kp_a_per_v2 * tr.size_ratio, d.vth_v, d.lambda_per_v)
    return TransistorTail(current=0.0, r_out=np.inf, v_ee=board.vee_v, device=dev, vt=board.vt_v,
                          bias_v=tr.bias_v, r_e=tr.r_e_ohm)


@pytest.mark.parametrize("level", [1.5, 1.68, 2.2])
def test_tail_law_is_the_simulators_device(level: float) -> None:
    """At the simulator's own terminal voltages the tail law gives its collector and base currents to 1e-12."""
    s_op = SimBoard.from_config(replace(BOARD, bias_v=level)).operating_point()
    law = device_law(_tail(BOARD).device, VT, np.array(s_op["Q10.vbe"]), np.array(s_op["Q10.vbc"]), TAIL_BETA_R)
    assert float(law.i_out) == pytest.approx(s_op["Q10.ic"], rel=1e-12)
    assert float(law.i_in) == pytest.approx(s_op["Q10.ib"], rel=1e-12)


@pytest.mark.parametrize("board", [BOARD, MOS_BOARD], ids=["bjt", "mos"])
def test_output_resistance_is_the_slope_of_the_dc_law(board: BoardConfig) -> None:
    """1/R_out equals dI/dV_tail of the DC solve (central difference), in the active region and below it."""
    tail = _tail(board)
    for v in np.linspace(board.tail_transistor.bias_v - 0.7, board.tail_transistor.bias_v + 0.5, 7):  # type: ignore[union-attr]
        h = 1e-4
        if abs(tail.state(v).headroom_v) < 10 * h:
            continue  # the MOS law's second derivative jumps at the triode edge: no central difference there
        slope = (tail.dc_current(v + h) - tail.dc_current(v - h)) / (2 * h)
        assert 1.0 / tail.output_resistance(v) == pytest.approx(slope, rel=1e-5), v


def test_output_resistance_in_the_active_region_is_the_textbook_one() -> None:
    """BJT: r_o (1 + g_m R_E') + R_E', R_E' = R_E || r_pi (Gray-Meyer §4.2); MOS: r_o + R_S + g_m r_o R_S (Razavi
    ch. 5), from each device's hybrid-pi parameters at the tail's operating point, to 1e-3 (the exact form also
    carries the reverse junction's slope, ~1e-4 here)."""
    for board in (BOARD, MOS_BOARD):
        tail = _tail(board)
        v = board.bias_v - 0.7
        st = tail.state(v)
        dev = tail.device
        if isinstance(dev, BjtParams):
            ss = bjt_small_signal(st.i_out, VT, dev.beta, dev.early_v, v_bc=st.v_ctrl - st.v_out)
            expect = degenerated_output_resistance(float(ss.gm), float(ss.r_o), float(ss.r_pi), tail.r_e)
        else:
            ms = mos_small_signal(st.i_out, dev.kp, dev.lambda_per_v, st.v_out)
            expect = degenerated_output_resistance(float(ms.gm), float(ms.r_o), np.inf, tail.r_e)
        assert st.region == "active"
        assert st.r_out == pytest.approx(expect, rel=1e-3)


def test_emitter_resistor_of_zero_is_the_bare_transistor() -> None:
    """r_e_ohm = 0: the emitter at vee, R_out = r_o; models and simulator agree on the current."""
    b = replace(BOARD, tail_transistor=replace(BOARD.tail_transistor, bias_v=0.655, r_e_ohm=0.0))
    op = operating_point(b)
    assert op.i_tail == pytest.approx(_sim_tail(b, SimBoard.from_config(b).operating_point()), rel=1e-7)
    st = _tail(b).state(op.v_tail)
    assert st.r_out == pytest.approx((BOARD.device.early_v - (st.v_ctrl - st.v_out)) / st.i_out,  # type: ignore[operator]
                                     rel=1e-3)


@pytest.mark.parametrize(("change", "key", "message"), [
    ({"current_a": 1e-4}, r"\[tail\] current_a", "does not apply to a transistor tail"),
    ({"bias_v": None}, r"\[tail\] bias_v", "missing required key for a transistor tail"),
    ({"r_e_ohm": 0.5}, r"\[tail\] r_e_ohm", "is a wire"),
    ({"bias_v": 7.0}, r"\[tail\] bias_v", "outside the supplies"),
    ({"kind": "norton", "current_a": 1e-4, "r_ohm": 1e6}, r"\[tail\] bias_v", "does not apply to a norton tail"),
])
def test_tail_keys_that_do_not_fit_the_kind_are_one_line_errors(change: dict[str, Any], key: str,
                                                                 message: str) -> None:
    doc = _mos_doc()
    doc["tail"].update(change)
    doc["tail"] = {k: v for k, v in doc["tail"].items() if v is not None}
    with pytest.raises(ConfigError, match=key + ": .*" + message):
        parse_board(doc, source="t.toml")


def test_norton_board_refuses_a_sink_mismatch() -> None:
    doc = _mos_doc(kind="norton", current_a=1e-4, r_ohm=1e6)
    for k in ("bias_v", "r_e_ohm"):
        del doc["tail"][k]
    doc["mismatch"]["tail"] = 0.01
    with pytest.raises(ConfigError, match=r"\[mismatch\] tail: applies only to a split tail"):
        parse_board(doc, source="t.toml")
