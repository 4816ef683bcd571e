"""Distortion of the two active-load variants (the cascoded-mirror / telescopic stage and the two-stage amplifier
of source text fig. 5-12): harmonics, THD and compression of output 2, its swing, and the margins of the devices
whose edges the swing reaches.

The transfer is :func:`~procedures.predict.mapping.differential_current_transfer`'s, which for these boards is the
whole stage's (the cascoded stage's current into R1 from operating-point solves; the second stage's collector
current), so the THD includes the output stage's nonlinearity (r_o varying with the swing), which dominates in
both. Output levels follow the transfer scaled by the low-frequency small-signal gain, as in
:mod:`procedures.predict.distortion`. Margins (V; negative: the device has left its active region at the peak):

- pair devices: their collectors/drains are held (a cascode, the mirror, node mid), so
  ``V_C - (V_B +- v_id/2) + edge``, with edge ``0.4 V`` (BJT forward V_BC) or ``V_th`` (MOS);
- cascoded mirror: the output cascode device (8) leaves saturation when out2 rises above its base/gate plus the
  edge, ``cascode_bias + edge - vo2``; the pair's cascode (6) when out2 falls below ``bias - edge``;
- two-stage: device 9 saturates when the output rises above node mid plus 0.4 V, and the sink I2 collapses when
  the output comes within :data:`~models.TAIL_COMPLIANCE_V` of vee (source text fig. 5-12's remark).
"""

from __future__ import annotations

import numpy as np

from instruments.board_config import BoardConfig
from models import (
    BJT_SATURATION_VBC_V,
    TAIL_COMPLIANCE_V,
    CascodedMirrorOperatingPoint,
    MixedModeGains,
    PairOperatingPoint,
    TwoStageOperatingPoint,
    harmonic_analysis,
)

from .distortion import N_HARMONICS, LargeSignal
from .mapping import differential_current_transfer


def _edge(board: BoardConfig, mirror: bool = False) -> float:
    """How far (V) a collector/drain may go past its base/gate before the device leaves its active region."""
    dev = board.mirror if mirror else board.device
    assert dev is not None
    if dev.is_bjt:
        return BJT_SATURATION_VBC_V
    assert dev.vth_v is not None
    return dev.vth_v


def stage_headroom(board: BoardConfig, op: PairOperatingPoint, v_id: np.ndarray, vo2: np.ndarray) -> np.ndarray:
    """Least margin (V) over the cycle per amplitude (rows of ``v_id``, V, and ``vo2``, V) (module docstring)."""
    edge = _edge(board)
    margins = [op.sides[k].v_collector - (op.sides[k].v_base + sign * v_id / 2.0) + edge
               for k, sign in ((0, 1.0), (1, -1.0))]
    if isinstance(op.mirror, CascodedMirrorOperatingPoint):
        assert board.mirror_cascode_bias_v is not None
        margins.append(board.mirror_cascode_bias_v + _edge(board, mirror=True) - vo2)
        if board.cascode and board.cascode_bias_v is not None:
            margins.append(vo2 - board.cascode_bias_v + edge)
    if isinstance(op, TwoStageOperatingPoint):
        margins.append(op.v_mid + _edge(board, mirror=True) - vo2)
        margins.append(vo2 - board.vee_v - TAIL_COMPLIANCE_V)
    out: np.ndarray = np.min(np.stack([np.min(np.broadcast_to(m, v_id.shape), axis=-1) for m in margins]), axis=0)
    return out


def stage_large_signal(board: BoardConfig, op: PairOperatingPoint, dc: MixedModeGains,
                       amplitudes: np.ndarray) -> LargeSignal | None:
    """Distortion of output 2 at each peak amplitude (V of v_id) for a board with a cascoded mirror or a second
    stage (module docstring), with the low-frequency gains ``dc``; ``None`` for any other board."""
    if not (isinstance(op.mirror, CascodedMirrorOperatingPoint) or isinstance(op, TwoStageOperatingPoint)):
        return None
    transfer, name = differential_current_transfer(board, op)
    amps = np.asarray(amplitudes, dtype=float)
    dist = harmonic_analysis(transfer, amps, n_harmonics=N_HARMONICS)
    theta = 2.0 * np.pi * np.arange(512) / 512
    v_id = amps[:, None] * np.cos(theta)[None, :]
    x = (transfer(v_id) - transfer(np.array([0.0]))[0]) / dist.slope  # linear-equivalent input, V
    a_out = complex(dc.ad_se(2))
    swing = a_out.real * x
    return LargeSignal(
        output="vo2", transfer=name, distortion=dist, small_signal_gain=abs(a_out),
        output_peak_v=np.max(np.abs(swing), axis=1), min_headroom_v=stage_headroom(board, op, v_id, op.vo2 + swing),
    )
