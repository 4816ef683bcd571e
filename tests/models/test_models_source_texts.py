"""The worked numbers of the source texts, reproduced by the models.

The texts: a textbook chapter on the bipolar differential pair (003) and three tutorials on differential
amplifiers and CMRR (000-002); the numbers below are quoted from them.

003: the bipolar stage (5 V, 100 uA tail, 40 kOhm loads): r_e = 26 Ohm x 1 mA / 50 uA = 520 Ohm, gain
(40k + 40k)/(520 + 520) = 77 differential, half of it single-ended; with 2 kOhm emitter resistors "less than 16"
differential and "less than 8" single-ended; doubling the loads saturates the transistors.
002: CMRR = 100 / 0.01 = 10,000 = 80 dB; 2 mV of signal with 100 mV of hum gives an output ratio of 200;
Acm = -g_m R_D/(1 + 2 g_m R_SS).
001: Ad = -g_m (R_D || r_o), independent of the tail; BJT Ad = -I_EE R_C/(2 V_T).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from models import (
    BjtParams,
    DiffPair,
    MixedModeGains,
    NortonTail,
    ResistiveLoad,
    ResistorLoads,
    Side,
    Tail,
    bjt_small_signal,
    bjt_vbe,
    db,
    pair_response,
    resistive_pair_operating_point,
)

VT_TEXT = 0.026  # the text's "26 Ohm x 1 mA"


def test_re_is_520_ohm_at_50_ua():
    ss = bjt_small_signal(50e-6, VT_TEXT, beta=math.inf)
    assert float(ss.r_e) == pytest.approx(520.0, rel=1e-12)
    assert float(ss.gm) == pytest.approx(1 / 520.0, rel=1e-12)


def _stage(beta: float, r_degen: float = 0.0, i_e: float = 50e-6):
    """The text's pair at 50 uA emitter current per side (100 uA tail), r_o = inf, ideal tail."""
    ss = bjt_small_signal(i_e * beta / (beta + 1) if math.isfinite(beta) else i_e, VT_TEXT, beta=beta)
    s = Side(gm=float(ss.gm), r_pi=float(ss.r_pi), r_degen=r_degen)
    return pair_response(0.0, s, s, ResistiveLoad(40e3, 40e3), Tail(math.inf)).gains()


def test_differential_gain_77():
    """(40k + 40k)/(520 + 520) = 76.9 ~ 77 with ideal alpha and r_o; the output falls as the input rises, so
    Add is negative; one output gives half."""
    g = _stage(math.inf)
    assert complex(g.add) == pytest.approx(-(40e3 + 40e3) / (520 + 520), rel=1e-12)
    assert round(abs(complex(g.add))) == 77
    assert complex(g.ad_se(1)) == pytest.approx(complex(g.add) / 2, rel=1e-12)
    assert complex(g.ad_se(2)) == pytest.approx(-complex(g.add) / 2, rel=1e-12)


@pytest.mark.parametrize("beta, expected", [(math.inf, 15.87), (200.0, 15.79), (100.0, 15.72)])
def test_degenerated_gain_less_than_16_and_8(beta, expected):
    """Fig. 5-8 with R3 = R4 = 2 kOhm: "less than 16 with a differential output; single-ended less than 8";
    docs/reference/measurement-methods.md §5: R_C/(r_e + R_E) = 15.87, with alpha 15.79 (beta = 200), 15.72
    (beta = 100)."""
    g = _stage(beta, r_degen=2e3)
    assert abs(complex(g.add)) == pytest.approx(expected, abs=0.005)
    assert abs(complex(g.add)) < 16
    assert abs(complex(g.ad_se(1))) < 8


def test_cmrr_80_db_and_the_hum_example():
    """002: Ad = 100 and Acm = 0.01 give CMRR = 10,000 = 80 dB; 2 mV of signal against 100 mV of hum leaves the
    signal 200 times the hum at the output. Built here as a MOS pair whose single-ended gains are exactly those:
    Ad_se = g_m R_D/2 = 100 and CMRR_se = (1 + 2 g_m R_SS)/2 = 10,000 (docs/reference/measurement-methods.md §6)."""
    gm = 1e-3
    rd = 2 * 100 / gm
    rss = (2 * 10_000 - 1) / (2 * gm)
    s = Side(gm=gm)
    g = pair_response(0.0, s, s, ResistiveLoad(rd, rd), Tail(rss)).gains()
    assert abs(complex(g.ad_se(1))) == pytest.approx(100, rel=1e-12)
    assert abs(complex(g.acm_se(1))) == pytest.approx(0.01, rel=1e-9)
    assert float(g.cmrr_se(1)) == pytest.approx(10_000, rel=1e-9)
    assert float(db(g.cmrr_se(1))) == pytest.approx(80.0, abs=1e-9)
    # superposition at the pins: the signal alone, then the hum alone, through the nodal matrix
    h = pair_response(0.0, s, s, ResistiveLoad(rd, rd), Tail(rss)).h[:, :, ...]
    vid, vic = 2e-3, 100e-3
    signal = h @ np.array([vid / 2, -vid / 2])
    hum = h @ np.array([vic, vic])
    assert abs(signal[0]) / abs(hum[0]) == pytest.approx(200, rel=1e-9)
    # the same through the mixed-mode view
    _, _, vo1_sig, _ = g.respond(vid, 0.0)
    _, _, vo1_hum, _ = g.respond(0.0, vic)
    assert abs(complex(vo1_sig)) / abs(complex(vo1_hum)) == pytest.approx(200, rel=1e-9)


def test_cmrr_definitions_on_given_gains():
    """CMRR_se and CMRR_diff from S exactly as docs/conventions.md defines them (numbers of
    docs/reference/measurement-methods.md §3.3)."""
    g = MixedModeGains(add=np.array(-15.87), acd=np.array(-2.0e-4), adc=np.array(-0.0397), acc=np.array(-0.01998))
    assert float(db(g.cmrr_diff)) == pytest.approx(98.0, abs=0.01)
    assert float(db(g.cm_to_cm_ratio)) == pytest.approx(58.0, abs=0.01)
    assert complex(g.ad_se(1)) == pytest.approx(-15.87 / 2 - 0.0397)
    assert complex(g.acm_se(2)) == pytest.approx(-0.01998 + 1e-4)
    np.testing.assert_allclose(MixedModeGains.from_nodal(g.nodal()).matrix, g.matrix, rtol=1e-12, atol=1e-14)


def test_bjt_gain_from_tail_current():
    """001: Ad = -I_EE R_C/(2 V_T)."""
    i_ee, rc, vt = 1e-3, 10e3, 0.02585
    s = Side(gm=i_ee / 2 / vt)
    g = pair_response(0.0, s, s, ResistiveLoad(rc, rc), Tail(50e3)).gains()
    assert complex(g.add) == pytest.approx(-i_ee * rc / (2 * vt), rel=1e-12)


def test_text_operating_point_and_doubled_loads_saturate():
    """003: bases at 2 V, 50 uA per side, "a DC voltage drop of 2 V across the resistors" (collectors at 3 V);
    "if we were to double their values, the transistors would saturate". Ideal devices (beta, V_A infinite),
    so the hand numbers hold exactly: V_BE = V_T ln(I_C/I_S), V_C = 5 - 40k x 50 uA = 3 V."""
    dev = BjtParams(beta=math.inf, early_v=math.inf, i_s=1e-15)
    op = resistive_pair_operating_point(DiffPair((dev, dev), VT_TEXT), NortonTail(100e-6),
                                        ResistorLoads((40e3, 40e3), v_return=5.0), v_in=(2.0, 2.0))
    for s in op.sides:
        assert s.device.i_out == pytest.approx(50e-6, rel=1e-12)
        assert s.v_output == pytest.approx(3.0, abs=1e-9)
        assert s.device.v_ctrl == pytest.approx(float(bjt_vbe(50e-6, VT_TEXT, 1e-15)), abs=1e-12)
        assert s.device.region == "active"
    assert op.v_tail == pytest.approx(2.0 - float(bjt_vbe(50e-6, VT_TEXT, 1e-15)), abs=1e-12)
    assert op.warnings == ()
    doubled = resistive_pair_operating_point(DiffPair((dev, dev), VT_TEXT), NortonTail(100e-6),
                                             ResistorLoads((80e3, 80e3), v_return=5.0), v_in=(2.0, 2.0))
    assert all(s.device.region == "saturated" for s in doubled.sides)
    assert any("saturated" in w for w in doubled.warnings)
    assert doubled.sides[0].v_output == pytest.approx(1.0, abs=1e-9)  # 5 - 80k x 50 uA, below the 2 V base
