"""Fit of the amplitude sweep (gain compression and THD versus drive) to the pair's large-signal transfer.

Model: the exact DC transfer of :mod:`procedures.fitting.transfer` driven differentially, ``v1, v2 = bias ±
A cos(theta)/2``, and analysed into harmonics (:func:`models.distortion.harmonic_analysis`, an FFT over
one period): the fundamental gain ``|Y_1|/A`` against the measured ``|Add|`` and ``THD = sqrt(sum_k>=2
|Y_k|^2)/|Y_1|`` against the measured THD of vod. This is the tanh of docs/reference/measurement-methods.md §5 with the
degeneration solved exactly and everything the DC circuit adds (Early effect, base currents, Norton tail)
for a BJT pair, the square law for a MOS pair. The transfer is static: at the sweep's frequency (1 kHz by
default) the load pole and tail zero change |Add| by parts in 1e6.

Free parameters (default): ``vt`` (BJT) or ``v_ov`` (MOS) and ``i_tail`` (the gain scale); ``R_E`` can be
freed in their place. V_T and I_tail are told apart because the drive scale of the compression is V_T (or
V_ov) while the small-signal gain is I_tail R_L/(2 V_T). With degeneration, ``v_id = 2 V_T atanh(x) + R_E I x``
(x = Delta I/I) has the slope ``2 V_T + R_E I`` and the cubic term ``(2 V_T/3) x^3``: gain and compression fix
two combinations of V_T, R_E and I, so of the three only two can be free (all three leave the fit to the
fifth-order term and uncertainties of ~50 %, measured on bjt-degenerated); the default holds R_E at the
config's resistor value.

A split tail (source text fig. 5-9: a sink at each emitter, the bridge R_B between them; :class:`SplitTailTransfer`)
is solved through its star equivalent (:func:`models.split_tail.star_pair`): the arm ``(R_B/2) || R_s`` as each
side's degeneration, the centre's Norton tail and the sinks' mismatch as a source in each arm, ``R_E`` standing for
half the bridge. Fitted as a single tail with ``R_E = R_B/2`` in each emitter (as before), bjt-split-tail's
transfer at the simulator's true values was 1.0e-3 low in gain at every drive, ten times the sweep's u(|Add|): 0.8e-3
from the sinks' 2 MOhm shunting each 2 kOhm half bridge, 0.2e-3 from a tail current at rest 0.1 % low (the Norton
term taken at the bridge's midpoint, 0.1 V above the star centre where that model's tail node sits). V_T came out
0.6 % low on the simulator's noise-free steady state, 2.5 u low on average over 8 bench seeds.

Every other board (active loads, the two-stage amplifier, the telescopic stage, a cascoded pair): the whole stage
(:class:`procedures.fitting.circuit_transfer.CircuitTransferModel`) solved at each instant of the cycle, every
device law valid in every region (no point left out), harmonic k of vod scaled by the small-signal model's
``|Add(k f)/Add(0)|`` at the sweep's frequency (the output pole); same default free parameters (``R_L``, and
``R_E`` where the board has it, can be freed). On those boards the gain and compression fix V_T (V_ov) and
I_tail only together (their correlation is near -1 or +1): each is known to a few %.

Uncertainties. |Add| from the table's ``Add_u``. The THD's: the harmonics come out of the same
least-squares sine fit as the fundamental, so each has its per-quadrature uncertainty ``s_h =
hypot(u_vo1, u_vo2)`` of the outputs' fundamental (IEEE 1057 fit, docs/reference/measurement-methods.md §1), read
from the points table; then ``u(THD) = hypot(s_h, THD s_h)/|F|`` with ``|F|`` the fundamental of vod. Noise adds
``2 (K - 1) s_h^2`` to the expected sum of squared harmonics (K - 1 fitted harmonics), so the model THD is
compared as ``sqrt(THD^2 + 2 (K - 1) s_h^2/|F|^2)``; points whose THD is below five of its uncertainties
(where the THD's distribution is far from Gaussian) do not enter the THD residuals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from instruments.board_config import BoardConfig
from models import harmonic_analysis, split
from models.dc_transfer import PairDc, resistive_pair_dc
from models.pair_circuit import DiffPair, ResistorLoads
from models.split_tail import SplitSinks, star_pair
from procedures.fitting.circuit_transfer import CircuitTransferModel, is_plain_pair
from procedures.fitting.core import FitError, FitResult, choose_free, least_squares, make_result
from procedures.fitting.drive_sweep import harmonic_sigma, select_sweep, thd_weights
from procedures.fitting.transfer import BJT_EDGE_V, PairTransferModel, transfer_model

NAME = "large_signal"
N_SAMPLES = 256
N_HARMONICS = 15


Model = PairTransferModel | CircuitTransferModel


class SplitTailTransfer(PairTransferModel):
    """:class:`~procedures.fitting.transfer.PairTransferModel` of a split-tail board (module docstring), the same
    parameters: ``R_E`` is half the bridge, ``i_tail`` the sinks' total current at rest. Each sink's source is
    ``(I/2)(1 -+ d/2)`` (``d = [mismatch] tail``) with ``I = i_tail - (V_mid - V_EE)/R_T`` (``V_mid`` the bridge's
    midpoint at the operating point, ``R_T = [tail] r_ohm``: the two sinks' resistors ``2 R_T`` in parallel), in
    parallel with ``2 R_T``; :func:`models.split_tail.star_pair` turns the sinks and the bridge ``2 R_E`` into the
    Norton tail and the arms the DC transfer takes."""

    def solve(self, v1: np.ndarray, v2: np.ndarray, p: Mapping[str, float]) -> PairDc:
        """DC solution at pin levels ``v1, v2`` (V) for parameters ``p`` (missing names: nominal)."""
        q = {**self.nominal, **p}
        b = self.board
        devs = self.scaled_devices(q)
        i_src = q["i_tail"] - (self.op.v_tail - b.vee_v) / b.tail_r_ohm if math.isfinite(b.tail_r_ohm) \
            else q["i_tail"]
        i1, i2 = split(i_src / 2.0, b.mismatch_tail)
        sinks = SplitSinks((float(i1), float(i2)), 2.0 * b.tail_r_ohm, 2.0 * q["R_E"], b.vee_v)
        pair, tail = star_pair(DiffPair(devs, q.get("vt", b.vt_v), r_source=b.source_r_ohm, r_degen=q["R_E"]), sinks)
        return resistive_pair_dc(v1, v2, pair, tail, ResistorLoads(self.r_loads, v_return=b.load_return_v),
                                 bjt_edge_v=BJT_EDGE_V)

    @property
    def kind(self) -> str:
        return super().kind + ", split tail (star equivalent)"


def large_signal_model(board: BoardConfig) -> Model:
    """The model this fit uses for ``board``: :func:`~procedures.fitting.transfer.transfer_model`'s, a split tail's
    through its star equivalent (:class:`SplitTailTransfer`)."""
    if board.tail_kind == "split" and is_plain_pair(board):
        return SplitTailTransfer(board)
    return transfer_model(board)


def _analyse(model: Model, bias: float, a: np.ndarray,
             p: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fundamental gain (V/V), THD (ratio) and whether the devices stay in the modelled region over the whole
    cycle, per drive amplitude ``a`` (V peak) about the input bias ``bias`` (V)."""
    if isinstance(model, CircuitTransferModel):
        return model.cycle(bias, a, p, N_HARMONICS)
    region = []

    def transfer(v: np.ndarray) -> np.ndarray:
        dc = model.solve(bias + v / 2.0, bias - v / 2.0, p)
        region.append(model.in_region(dc))
        return dc.vod

    d = harmonic_analysis(transfer, a, n_harmonics=N_HARMONICS, n_samples=N_SAMPLES)
    inside = np.all(region[0], axis=1)
    return d.fundamental_gain, d.thd, inside


def _curves(model: Model, bias: float, amp: np.ndarray,
            p: Mapping[str, float]) -> dict[str, np.ndarray]:
    """Gain and THD on a dense grid over the measured amplitudes, NaN where the devices leave the modelled region."""
    curve = np.geomspace(amp.min(), amp.max(), 61)
    g, t, inside = _analyse(model, bias, curve, p)
    return {"gain": np.where(inside, g, np.nan), "thd": np.where(inside, t, np.nan)}


def fit_large_signal(table: Mapping[str, np.ndarray], board: BoardConfig, options: Mapping[str, Any],
                     points: Mapping[str, np.ndarray] | None = None) -> FitResult:
    """Fit a ``dm_gain`` table (vid_vpk, Add, Add_u, thd_out); ``points`` is the run's points table (for the
    THD uncertainties; without it the THD is not fitted)."""
    all_rows = len(np.asarray(table["vid_vpk"]))
    idx = select_sweep(table)
    amp = np.asarray(table["vid_vpk"], float)[idx]
    gain = np.abs(np.asarray(table["Add"], complex)[idx])
    gain_u = np.abs(np.real(np.asarray(table["Add_u"], complex)[idx]))
    thd = np.asarray(table["thd_out"], float)[idx]
    sig = harmonic_sigma(points, all_rows)
    model = large_signal_model(board)
    if isinstance(model, CircuitTransferModel) and "frequency_hz" in table:
        model.frequency_hz = float(np.asarray(table["frequency_hz"], float)[idx][0])
    free = choose_free(model.specs, options.get("large_signal_free"),
                       [n for n in ("vt", "v_ov", "i_tail") if n in model.nominal], NAME)
    bias = board.bias_v
    g_nom, thd_nom, inside = _analyse(model, bias, amp, model.nominal)
    used = inside & np.isfinite(gain) & (gain_u > 0)
    if used.sum() < len(free) + 1:
        raise FitError(f"large-signal fit: only {int(used.sum())} amplitudes keep the devices in the modelled "
                       "region (the outputs swing into saturation); lower the drive amplitudes")
    w = thd_weights(None if sig is None else (sig[0][idx], sig[1]), gain * amp, thd, used)

    def expected(g: np.ndarray, t: np.ndarray, rows: np.ndarray | slice = slice(None)) -> tuple[np.ndarray, np.ndarray]:
        """What the measurement should read: the THD with the noise floor of the harmonics added."""
        return g, np.sqrt(t**2 + w.floor2[rows])

    def residual(p: Mapping[str, float]) -> np.ndarray:
        g, t = expected(*_analyse(model, bias, amp[used], p)[:2], used)
        r_t = (thd[used] - t) / w.u[used]
        return np.concatenate([(gain[used] - g) / gain_u[used], r_t[w.used[used]]])

    sol = least_squares(model.specs, free, residual, bounds=options.get("bounds") or {}, fit_name=NAME)
    g_fit, thd_fit, _ = _analyse(model, bias, amp, sol.values)
    pred = expected(g_nom, thd_nom)
    fitted = expected(g_fit, thd_fit)
    what = "the pair" if isinstance(model, PairTransferModel) else "the whole stage (output poles applied)"
    text = (f"large-signal DC transfer of {what}, {model.kind}, driven by a sine: fundamental gain |Add| and "
            f"THD of vod (THD compared with the noise floor of {w.quadratures} quadratures added)")
    return make_result(
        NAME, text, model.specs, sol, x_name="vid_vpk", x=amp,
        measured={"gain": gain, "thd": thd}, measured_u={"gain": gain_u, "thd": w.u},
        fitted={"gain": fitted[0], "thd": fitted[1]}, predicted={"gain": pred[0], "thd": pred[1]},
        curve_x=np.geomspace(amp.min(), amp.max(), 61),
        curve_fitted=_curves(model, bias, amp, sol.values), curve_predicted=_curves(model, bias, amp, model.nominal),
        residuals={"gain": np.where(used, (gain - fitted[0]) / gain_u, np.nan),
                   "thd": np.where(w.used, (thd - fitted[1]) / w.u, np.nan)},
        used=used,
    )
