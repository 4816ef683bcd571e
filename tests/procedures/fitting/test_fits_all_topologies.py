"""The large-signal and DC-transfer fits on the boards that are not a plain resistive pair: the two simple-mirror
active loads, the two-stage amplifier, the telescopic stage and the cascoded pair. Each board is measured through
the whole chain on the simulated bench (amplitude sweep and DC sweep, the drives and span chosen by the plan),
fitted with the default free parameters, and every fitted parameter must land within three of its standard
uncertainties of the simulator's truth (tests/fits_truth.py), with chi2_red below 2; the DC fit's derived slope
within three of its uncertainties of the simulated board's dvod/dvid at the offset.

The fits' whole-stage solve is also checked on its own: against the simulated board's DC levels (the transistor-
level engine, an independent solve of the same circuit) and, for the simple mirror, against
:func:`models.full_region_dc.pair_full_dc`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from fits_truth import fits_of, load, measure, procedure, truth_of, z_scores
from instruments.sim.board import Drive, SimBoard
from procedures.fitting.circuit_transfer import CircuitTransferModel, _NodalBackend

BOARDS = ["bjt-active-load", "mos-active-load", "bjt-two-stage", "mos-telescopic", "bjt-cascode"]
AMP_BODY = "[amplitude]\nfrequency_hz = 1000.0\n[acquisition]\nrecord_points = 20000\nharmonics = 9\n"
DC_BODY = "[dc]\npoints = 21\n[acquisition]\nrecord_points = 5000\n"
CHI2_RED_MAX = 2.0


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Path]:
    """``archive(kind, board)``: the board measured once per module, ``"amp"`` or ``"dc"``."""
    base = tmp_path_factory.mktemp("topologies")
    done: dict[tuple[str, str], Path] = {}

    def get(kind: str, board: str) -> Path:
        if (kind, board) not in done:
            body, proc_kind = (AMP_BODY, "amplitude_sweep") if kind == "amp" else (DC_BODY, "dc_transfer")
            proc = procedure(base, f"{kind}-{board}", proc_kind, body)
            done[(kind, board)] = measure(proc, board, base / f"{kind}-{board}.h5")
        return done[(kind, board)]

    return get


@pytest.fixture(scope="module")
def true_values() -> Callable[[str], dict[str, float]]:
    return truth_of


def _check(fit, true: dict[str, float]) -> None:
    z = z_scores(fit, true)
    assert fit.success, fit.message
    assert fit.chi2_red < CHI2_RED_MAX, f"{fit.name}: chi2_red {fit.chi2_red:.3g}"
    assert all(abs(v) < 3 for v in z.values()), f"{fit.name}: z = {z} (chi2_red {fit.chi2_red:.2f})"


@pytest.mark.parametrize("board", BOARDS)
def test_large_signal_fit_recovers_the_scale_and_tail_current(archive, true_values, board: str) -> None:
    """V_T (BJT) or V_ov (MOS) and I_tail from |Add| and THD of vod versus drive, every drive used."""
    fit = fits_of(archive("amp", board))["large_signal"]
    assert fit.params == (["v_ov", "i_tail"] if board.startswith("mos") else ["vt", "i_tail"])
    assert fit.used.all() and fit.used.size >= 3
    _check(fit, true_values(board))


@pytest.mark.parametrize("board", BOARDS)
def test_dc_fit_recovers_the_offset_and_scale(archive, true_values, board: str) -> None:
    """The offset (vid at vod = 0) and V_T or V_ov from vod(vid); the slope at the offset within 3 sigma."""
    fit = fits_of(archive("dc", board))["dc_transfer"]
    true = true_values(board)
    assert fit.params == ["v_os", "v_ov" if board.startswith("mos") else "vt"]
    _check(fit, true)
    slope, slope_u, _ = fit.derived["slope"]
    assert abs(slope - true["slope"]) < 3 * slope_u, (slope, slope_u, true["slope"])


@pytest.mark.parametrize("board", BOARDS)
def test_whole_stage_solve_matches_the_simulated_board(board: str) -> None:
    """vo1 and vo2 of the fits' model at the nominal parameters against the simulated board's DC solution, pins
    held at bias +- vid/2 over +-vid_max: within 30 uV (the two-stage output moves 370 V per V of vid)."""
    b = load(board)
    model = CircuitTransferModel(b)
    vid = np.linspace(-b.vid_max_vpk, b.vid_max_vpk, 5)
    got = model.solve(b.bias_v + vid / 2, b.bias_v - vid / 2, model.nominal)
    sim = SimBoard.from_config(b)
    for k, v in enumerate(vid):
        ss = sim.steady_state(0.0, [Drive(b.bias_v + v / 2, source_r_ohm=0.0),
                                    Drive(b.bias_v - v / 2, source_r_ohm=0.0)], (0, 1))
        assert abs(got.vo1[k] - ss.harmonics("out1")[0].real) < 3e-5
        assert abs(got.vo2[k] - ss.harmonics("out2")[0].real) < 3e-5


@pytest.mark.parametrize("board", ["bjt-active-load", "mos-active-load"])
def test_nodal_solve_matches_the_models_mirror_pair(board: str) -> None:
    """The nodal solve of the simple-mirror stage agrees with models.full_region_dc.pair_full_dc (the backend the
    fits use for it) to 1e-9 V, over a span that saturates the mirror's output device."""
    b = load(board)
    model = CircuitTransferModel(b)
    vid = np.linspace(-3 * b.vid_max_vpk, 3 * b.vid_max_vpk, 13)
    v1, v2 = b.bias_v + vid / 2, b.bias_v - vid / 2
    ref = model.solve(v1, v2, model.nominal)
    vo1, vo2 = _NodalBackend(b).levels(v1, v2, model.parts(model.nominal))
    assert np.max(np.abs(vo1 - ref.vo1)) < 1e-9
    assert np.max(np.abs(vo2 - ref.vo2)) < 1e-9
