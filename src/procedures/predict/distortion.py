"""Distortion of the board driven differentially: harmonics, THD and compression at each amplitude, the output
swing, and how close the swing brings a device to the edge of its active region.

Boards with resistive loads or a simple current mirror (no cascode, no second stage): the whole DC circuit is
solved at each instant of the cycle (:func:`models.cycle_transfer.differential_cycle`; quasi-static, the
amplitude sweep runs at 1 kHz where the load pole and tail zero move the harmonics by parts in 1e5), so the
Early factor / channel-length modulation at the instantaneous collector/drain voltage, the output stage, base
currents, the Norton tail, degeneration, source resistance, mismatch and a device saturating at the peaks are
all in the THD. The board is driven as the procedures drive it (:mod:`procedures.measure.excitation`): two
generator channels, EMFs ``bias +- (A_emf/2) cos wt`` behind the generator's output resistance
(:data:`GENERATOR_SOURCE_R_OHM`), each pin also tied to the bias rail by ``inputs.bias_r_ohm``; ``A_emf`` is set
so that the pins' differential fundamental is the requested amplitude (the measured vid). THD is that of the
analysis (:func:`procedures.analysis.differential_gain.output_thd`): ``sqrt(sum_{k=2..K} |Y_k|^2)/|Y_1|`` of the
output's harmonics, here of ``vod`` (``vo2`` for an active load, its single-ended output).

Other boards (cascodes, cascoded mirror, second stage), or a drive the full solve does not converge on: the
differential collector/drain current of the pair from the large-signal transfer
(:func:`~procedures.predict.mapping.differential_current_transfer`, the Early factor held at the operating
point), scaled to the output by the low-frequency small-signal gain (the output stage taken as linear);
whether the swing drives a device out of its active region is then checked separately (:func:`swing_headroom`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from instruments.board_config import BoardConfig
from models import (
    BJT_SATURATION_VBC_V,
    BjtParams,
    CurrentMirror,
    DcTransferError,
    Distortion,
    MixedModeGains,
    MosParams,
    OperatingPointError,
    PairOperatingPoint,
    ResistorLoads,
    harmonic_analysis,
    split,
)
from models.cycle_transfer import CycleHarmonics, Slopes, differential_cycle, small_signal_slopes
from models.full_region_dc import InputNetwork, Load

from .mapping import board_cascode, dc_pair, differential_current_transfer, mirror_device, pair_devices

N_HARMONICS = 15
"""Harmonics analysed (the THD sums them all; the amplitude sweep's analysis fits 9, which differ by parts in
1e5 here)."""
N_SAMPLES = 256
"""Instants solved per period. Harmonics above 128 alias onto the analysed ones: below 1e-9 of the fundamental
for smooth swings, ~2e-5 (THD ~5e-5 relative) at the hard clipping of bjt-source-text at 0.5 V."""
PIN_AMPLITUDE_RTOL = 1e-5
"""How close the pins' differential fundamental must come to the requested amplitude (relative); the THD goes
as the amplitude squared, so it is then within 2e-5."""
PIN_MATCH_PASSES = 8
"""Most re-solves of the cycle to bring the pins' fundamental to the requested amplitude (two or three do)."""
GENERATOR_SOURCE_R_OHM = 50.0
"""Output resistance of each generator channel, Ohm: the 50 Ohm of a function generator's output
(docs/reference/scpi.md §2.1; the procedures set the High-Z load so that the EMF is the nominal amplitude)."""
BJT_REVERSE_BETA = 1.0
"""Reverse current gain beta_R of the BJTs, which sets the base current of a saturated device: not in a board
config; SPICE's default BR (Massobrio & Antognetti ch. 2)."""


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


def cycle_load(board: BoardConfig) -> Load | None:
    """The load as the full-circuit solve takes it (resistors with their mismatch, or the simple mirror with R1);
    ``None`` for a board it does not model (a cascode, a cascoded mirror, a second stage). A split or transistor
    tail enters as :func:`~procedures.predict.mapping.dc_pair` gives it, one Norton tail."""
    if board.cascode or getattr(board, "mirror_cascode_bias_v", None) is not None \
            or getattr(board, "second_stage", None) is not None:
        return None
    if board.load_type == "active":
        return CurrentMirror(mirror_device(board), v_cc=board.vcc_v, r_out=board.load_r_ohm,
                             v_return=board.load_return_v)
    r1, r2 = split(board.load_r_ohm, board.mismatch_load_r)
    return ResistorLoads((float(r1), float(r2)), v_return=board.load_return_v)


def drive_network(board: BoardConfig, drive_r_ohm: float = GENERATOR_SOURCE_R_OHM) -> InputNetwork:
    """What feeds each pin: the generator's EMF behind ``drive_r_ohm`` and the board's bias resistor to the bias
    rail (none when ``inputs.bias_r_ohm`` is 0)."""
    r_bias = board.bias_r_ohm if board.bias_r_ohm > 0 else math.inf
    return InputNetwork(r_drive=drive_r_ohm, r_bias=r_bias, v_bias=board.bias_v)


def _next_emf(target: np.ndarray, emf: np.ndarray, got: np.ndarray, prev: tuple[np.ndarray, np.ndarray] | None
              ) -> np.ndarray:
    """The next EMF amplitudes (V) towards pins' fundamentals ``target``: the secant through the last two
    ``(emf, got)`` pairs, or (first pass, or no slope) the EMF scaled by ``target/got``."""
    scaled: np.ndarray = emf * target / got
    if prev is None:
        return scaled
    e0, g0 = prev
    with np.errstate(divide="ignore", invalid="ignore"):
        secant = emf + (target - got) * (emf - e0) / (got - g0)
    out: np.ndarray = np.where(np.isfinite(secant) & (secant > 0), secant, scaled)
    return out


def pin_driven_cycle(board: BoardConfig, load: Load, amplitudes: np.ndarray, *, drive_r_ohm: float,
                     n_harmonics: int = N_HARMONICS, n_samples: int = N_SAMPLES) -> tuple[CycleHarmonics, Slopes]:
    """The cycle (:func:`models.cycle_transfer.differential_cycle`) with the EMF amplitude chosen so that the pins'
    differential fundamental is ``amplitudes`` (V peak), and the small-signal slopes at rest. The EMF starts at
    ``amplitudes`` over the pins' small-signal share of it; where the pins' fundamental differs from the request
    by more than :data:`PIN_AMPLITUDE_RTOL` (the base currents' own distortion through the source resistance,
    large when a device saturates), the cycle is solved again there, the EMF found by the secant method."""
    pair, tail = dc_pair(board)
    net = drive_network(board, drive_r_ohm)
    slopes = small_signal_slopes(board.bias_v, pair, tail, load, inputs=net, beta_r=BJT_REVERSE_BETA)

    def solve(a: np.ndarray, start: CycleHarmonics | None) -> CycleHarmonics:
        return differential_cycle(a, board.bias_v, pair, tail, load, inputs=net, beta_r=BJT_REVERSE_BETA,
                                  n_harmonics=n_harmonics, n_samples=n_samples, start=start)

    emf = amplitudes / slopes.pin
    cyc = solve(emf, None)
    prev: tuple[np.ndarray, np.ndarray] | None = None
    for _ in range(PIN_MATCH_PASSES):
        got = cyc.vid_amplitude
        off = np.nonzero(np.abs(got / amplitudes - 1.0) > PIN_AMPLITUDE_RTOL)[0]
        if not off.size:
            break
        new = _next_emf(amplitudes, emf, got, prev)
        prev = (emf.copy(), got)
        emf[off] = new[off]
        cyc = cyc.replaced(off, solve(emf[off], cyc.select(off)))
    return cyc, slopes


def _cycle_large_signal(board: BoardConfig, load: Load, dc: MixedModeGains, amplitudes: np.ndarray,
                        drive_r_ohm: float, n_harmonics: int) -> LargeSignal:
    """:class:`LargeSignal` from the full-circuit solve at each instant (module docstring)."""
    active = isinstance(load, CurrentMirror)
    out = "vo2" if active else "vod"
    cyc, slopes = pin_driven_cycle(board, load, amplitudes, drive_r_ohm=drive_r_ohm, n_harmonics=n_harmonics)
    dist = Distortion(amplitude=amplitudes, harmonics=cyc.output(out), slope=slopes.vo2 if active else slopes.vod)
    kind = "BJT (Gummel-Poon, saturation)" if board.is_bjt else "MOS (level 1, triode)"
    a_out = complex(dc.ad_se(2)) if active else complex(dc.add)
    return LargeSignal(output=out, transfer=f"{kind}, whole circuit solved at each instant of the cycle",
                       distortion=dist, small_signal_gain=abs(a_out), output_peak_v=cyc.output_peak(out),
                       min_headroom_v=cyc.headroom)


def _linear_output_large_signal(board: BoardConfig, op: PairOperatingPoint, dc: MixedModeGains,
                                amplitudes: np.ndarray, n_harmonics: int) -> LargeSignal:
    """:class:`LargeSignal` from the pair's current steering scaled linearly to the output (module docstring)."""
    transfer, name = differential_current_transfer(board, op)
    dist = harmonic_analysis(transfer, amplitudes, n_harmonics=n_harmonics)
    active = op.mirror is not None
    a_out = complex(dc.ad_se(2)) if active else complex(dc.add)
    theta = 2.0 * np.pi * np.arange(512) / 512
    v_id = amplitudes[:, None] * np.cos(theta)[None, :]
    x = (transfer(v_id) - transfer(np.array([0.0]))[0]) / dist.slope  # linear-equivalent input, V
    vo1 = op.vo1 + complex(dc.ad_se(1)).real * x
    vo2 = op.vo2 + complex(dc.ad_se(2)).real * x
    out = (vo2 - op.vo2) if active else (vo1 - vo2 - op.vod)
    return LargeSignal(
        output="vo2" if active else "vod", transfer=name + ", output taken as linear", distortion=dist,
        small_signal_gain=abs(a_out), output_peak_v=np.max(np.abs(out), axis=1),
        min_headroom_v=swing_headroom(board, op, v_id, (vo1, vo2)),
    )


def large_signal(board: BoardConfig, op: PairOperatingPoint, dc: MixedModeGains, amplitudes: np.ndarray, *,
                 drive_r_ohm: float = GENERATOR_SOURCE_R_OHM, n_harmonics: int = N_HARMONICS) -> LargeSignal:
    """Distortion of the output (``vod``, or ``vo2`` for an active load) at each peak amplitude ``amplitudes``
    (V of the pins' v_id), harmonics 0..``n_harmonics``, driven through ``drive_r_ohm`` per generator channel
    (Ohm); ``dc`` are the low-frequency small-signal gains (the reported small-signal gain). The whole circuit
    at each instant where it is modelled, else the pair's current steering with a linear output (module
    docstring)."""
    amps = np.atleast_1d(np.asarray(amplitudes, dtype=float))
    load = cycle_load(board)
    if load is not None:
        try:
            return _cycle_large_signal(board, load, dc, amps, drive_r_ohm, n_harmonics)
        except (DcTransferError, OperatingPointError, np.linalg.LinAlgError):
            pass  # no full solution at some instant: the steering model below, which always has one
    return _linear_output_large_signal(board, op, dc, amps, n_harmonics)
