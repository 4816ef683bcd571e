"""Distortion of the board driven differentially: harmonics, THD and compression at each amplitude, the output
swing, and how close the swing brings a device to the edge of its active region.

The differential collector/drain current of the pair comes from the exact large-signal transfer
(:func:`~procedures.predict.mapping.differential_current_transfer`), scaled to the output by the low-frequency
small-signal gain: the output stage (loads, r_o) is taken as linear. THD and compression are therefore those of
the pair's current steering; whether the output swing drives a device out of its active region is checked
separately (``min_headroom_v``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from instruments.board_config import BoardConfig
from models import (
    BJT_SATURATION_VBC_V,
    BjtParams,
    Distortion,
    MixedModeGains,
    MosParams,
    PairOperatingPoint,
    harmonic_analysis,
)

from .mapping import board_cascode, differential_current_transfer, mirror_device, pair_devices

N_HARMONICS = 15
"""Harmonics analysed (the THD sums them all)."""


@dataclass(frozen=True)
class LargeSignal:
    """Distortion at each amplitude of a differential drive, for the output ``output`` ("vod" or "vo2")."""

    output: str
    transfer: str
    distortion: Distortion
    small_signal_gain: float
    output_peak_v: np.ndarray
    min_headroom_v: np.ndarray

    @property
    def fundamental_gain(self) -> np.ndarray:
        """Large-signal gain at the fundamental, V/V: the small-signal gain times the compression."""
        out: np.ndarray = self.small_signal_gain * self.distortion.gain_ratio
        return out

    @property
    def saturates(self) -> np.ndarray:
        """True at each amplitude where a device leaves its active region at the peak of the cycle."""
        out: np.ndarray = self.min_headroom_v < 0
        return out


def _edge(dev: BjtParams | MosParams) -> float:
    """How far (V) the collector/drain may fall below the base/gate before ``dev`` leaves its active region:
    the forward V_BC limit of a BJT, the threshold of a MOS device (``V_D >= V_G - V_th``)."""
    return dev.vth if isinstance(dev, MosParams) else BJT_SATURATION_VBC_V


def swing_headroom(board: BoardConfig, op: PairOperatingPoint, v_id: np.ndarray,
                   vo: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Least margin (V) over the cycle before a device leaves its active region, per amplitude (rows).

    Differential drive: base/gate k at ``v_base,k ± v_id/2``. BJT forward-active while ``V_BC < 0.4 V``,
    MOS in saturation while ``V_D >= V_G - V_th``. With a cascode the pair's collector is held by the
    cascode and the cascode device is checked against the output; the active load's mirror output device
    is checked against the mirror node.
    """
    devs, casc = pair_devices(board), board_cascode(board)
    margins = []
    for k, sign in ((0, 1.0), (1, -1.0)):
        side = op.sides[k]
        v_b = side.v_base + sign * v_id / 2.0
        edge = _edge(devs[k])
        if side.cascode is None:
            if op.mirror is not None and k == 0:
                continue  # the mirror node barely moves: its DC headroom is in the operating point
            margins.append(vo[k] - v_b + edge)
        else:
            margins.append(side.v_collector - v_b + edge)
            if not (op.mirror is not None and k == 0) and casc is not None:
                margins.append(vo[k] - casc.bias_v + _edge(casc.devices[k]))
    if op.mirror is not None:
        margins.append(op.mirror.v_node + _edge(mirror_device(board)) - vo[1])
    out: np.ndarray = np.min(np.stack([np.min(m, axis=-1) for m in margins]), axis=0)
    return out


def large_signal(board: BoardConfig, op: PairOperatingPoint, dc: MixedModeGains,
                 amplitudes: np.ndarray) -> LargeSignal:
    """Distortion of the output (``vod``, or ``vo2`` for an active load) at each peak amplitude ``amplitudes``
    (V of v_id), with the low-frequency gains ``dc`` scaling the pair's current to the output (module
    docstring); harmonics by :func:`models.distortion.harmonic_analysis`."""
    transfer, name = differential_current_transfer(board, op)
    dist = harmonic_analysis(transfer, amplitudes, n_harmonics=N_HARMONICS)
    active = op.mirror is not None
    a_out = complex(dc.ad_se(2)) if active else complex(dc.add)
    theta = 2.0 * np.pi * np.arange(512) / 512
    v_id = amplitudes[:, None] * np.cos(theta)[None, :]
    x = (transfer(v_id) - transfer(np.array([0.0]))[0]) / dist.slope  # linear-equivalent input, V
    vo1 = op.vo1 + complex(dc.ad_se(1)).real * x
    vo2 = op.vo2 + complex(dc.ad_se(2)).real * x
    out = (vo2 - op.vo2) if active else (vo1 - vo2 - op.vod)
    return LargeSignal(
        output="vo2" if active else "vod", transfer=name, distortion=dist, small_signal_gain=abs(a_out),
        output_peak_v=np.max(np.abs(out), axis=1), min_headroom_v=swing_headroom(board, op, v_id, (vo1, vo2)),
    )
