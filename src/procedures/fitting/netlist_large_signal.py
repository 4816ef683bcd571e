"""Fit of the amplitude sweep (gain compression and THD versus drive) of a netlist board to ngspice.

The model is the board's own netlist in ngspice's transient analysis (:mod:`procedures.predict.ngspice_transient`),
driven as the amplitude sweep drives it (:func:`procedures.measure.excitation.differential`): two generator
channels, EMFs ``bias +- (E/2) sin(w t)`` behind the generator's output resistance
(:data:`procedures.predict.distortion.GENERATOR_SOURCE_R_OHM`), with ``E`` set so that the pins' differential
fundamental is the measured ``vid_vpk`` (to :data:`PIN_AMPLITUDE_RTOL` at the nominal parameters). The source
resistance matters for the THD: the base currents' distortion reaches the pins through it and takes back part of
the output's (2n3904-pair at 49 mV: THD 0.02529 behind 50 Ohm, 0.02532 from ideal pin sources, two thirds of the
measured THD's uncertainty). All amplitudes run in one deck (one ``.tran`` per amplitude after ``alterparam``/
``reset``), the ``[netlist] fit_params`` changed by ``alterparam``. From the DFT of the last, exactly periodic
cycle: the fundamental gain ``|vod_1|/|vid_1|`` (as measured: both at the pins) against the measured ``|Add|``,
and the THD of vod over the harmonics the measurement fitted (2..K) against the measured THD, with the noise floor
and uncertainties of :mod:`procedures.fitting.drive_sweep`.

Numerics. Gear order 2 at :data:`POINTS_PER_PERIOD` steps per period (the THD comparison with the simulator uses
2048, tests/procedures/predict/test_thd_vs_ngspice.py): on 2n3904-pair over the shipped sweep's drives (2-50 mV)
the gain differs from 2048 steps' by <= 4.5e-8 relative and the THD by <= 6.4e-8 absolute (2.7e-6 relative),
against measured uncertainties of ~1e-4 relative in the gain and >= 3e-5 in the THD; 128 steps give 3.8e-7 and
4.7e-7, 64 steps make ngspice's truncation-error control cut steps. One evaluation (8 amplitudes) takes ~0.12 s.
The transient starts at the operating point and runs :data:`MIN_SETTLE_PERIODS` period before the two analysed
cycles; more are run (doubling, up to :data:`MAX_SETTLE_PERIODS`) while the nominal board's last two cycles
differ by more than :data:`SETTLE_SHARE` of the smallest measured uncertainty (a netlist with slow coupling
capacitors).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from instruments.board_config import BoardConfig
from models.distortion import thd_of
from procedures.fitting.core import FitError, FitResult, Solution, least_squares, make_result
from procedures.fitting.drive_sweep import ThdWeights, harmonic_sigma, select_sweep, thd_weights
from procedures.fitting.identifiable import free_params, held_note
from procedures.fitting.netlist_fit import netlist_specs
from procedures.predict.distortion import GENERATOR_SOURCE_R_OHM
from procedures.predict.ngspice_dc import with_params
from procedures.predict.ngspice_run import NgspiceFailed
from procedures.predict.ngspice_transient import (
    PeriodicHarmonics,
    SineDrive,
    TransientSettings,
    periodic_harmonics_runs,
    transient_deck,
)

NAME = "large_signal"
POINTS_PER_PERIOD = 256
MIN_SETTLE_PERIODS = 1
MAX_SETTLE_PERIODS = 64
SETTLE_SHARE = 1e-2
PIN_AMPLITUDE_RTOL = 1e-5
"""How close the pins' differential fundamental comes to the measured amplitude at the nominal parameters: the THD
goes as the amplitude squared, so it is then within 2e-5 relative (the gain, a ratio at the pins, within ~1e-6)."""
PIN_MATCH_PASSES = 6
DEFAULT_HARMONICS = 9
"""THD over harmonics 2..9 when the points table does not say how many the measurement fitted."""
CURVE_POINTS = 25
_HALF = "diffbench_half_emf"
_NODES = ["in1", "in2", "out1", "out2"]


@dataclass(frozen=True)
class SweepDrive:
    """How the model is driven: the generator's differential EMF per amplitude ``emf_vpk`` (V peak), its offset
    ``bias_v`` (V) and frequency ``freq_hz`` (Hz), the highest harmonic ``k_max`` of the THD, ngspice's settings."""

    emf_vpk: np.ndarray
    bias_v: float
    freq_hz: float
    k_max: int
    settings: TransientSettings


class NetlistSweep:
    """Fundamental gain, THD of vod and the pins' vid amplitude of a netlist board at each drive of ``drive``,
    from one ngspice deck per parameter set (deck text built once, results cached)."""

    def __init__(self, board: BoardConfig, drive: SweepDrive) -> None:
        self.specs = netlist_specs(board)
        nb = board.netlist
        assert nb is not None  # netlist_specs raised otherwise
        self.board, self.drive = board, drive
        self.nominal = {s.name: s.nominal for s in self.specs}
        self._pins = {p: nb.pins[p] for p in _NODES}
        self._drives = [SineDrive("in1", drive.bias_v, 0.0, 0.0, GENERATOR_SOURCE_R_OHM, _HALF),
                        SineDrive("in2", drive.bias_v, 0.0, 180.0, GENERATOR_SOURCE_R_OHM, _HALF)]
        self._runs = [{_HALF: float(e) / 2.0} for e in drive.emf_vpk]
        self.deck = transient_deck(nb.text, self._pins, self._drives, drive.freq_hz, _NODES, drive.settings,
                                   board.temperature_k, self._runs)
        self._cache: dict[tuple[float, ...], list[PeriodicHarmonics]] = {}

    def harmonics(self, p: Mapping[str, float]) -> list[PeriodicHarmonics]:
        """ngspice's periodic harmonics of the four pins at each drive, at the ``.param``s of ``p``."""
        key = tuple(float(p[s.name]) for s in self.specs)
        hit = self._cache.get(key)
        if hit is None:
            nb = self.board.netlist
            assert nb is not None
            d = self.drive
            hit = self._cache[key] = periodic_harmonics_runs(
                nb.text, self._pins, self._drives, d.freq_hz, d.k_max, self._runs, _NODES, d.settings,
                cwd=nb.folder, what=f"{self.board.source}: the ngspice large-signal fit",
                deck=with_params(self.deck, dict(zip((s.name for s in self.specs), key))))
        return hit

    def analyse(self, p: Mapping[str, float], cycle: str = "last") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per drive: the fundamental gain ``|vod_1|/|vid_1|`` (V/V), the THD of vod over harmonics 2..K (ratio)
        and the pins' ``|vid_1|`` (V peak), over the ``last`` or the ``previous`` cycle."""
        gain, thd, pin = [], [], []
        for h in self.harmonics(p):
            x = getattr(h, cycle)
            vid, vod = x["in1"] - x["in2"], x["out1"] - x["out2"]
            gain.append(abs(vod[1]) / abs(vid[1]))
            thd.append(float(thd_of(vod)))
            pin.append(abs(vid[1]))
        return np.array(gain), np.array(thd), np.array(pin)


def matched_sweep(board: BoardConfig, amps_vpk: np.ndarray, bias_v: float, freq_hz: float, k_max: int,
                  tol_gain: float, tol_thd: float) -> NetlistSweep:
    """The model whose EMFs put the measured amplitudes ``amps_vpk`` (V peak) on the pins of the nominal board,
    run long enough that its last two cycles differ by less than ``tol_gain`` (relative) in the gain and
    ``tol_thd`` (absolute) in the THD (module docstring); a FitError when neither converges."""
    emf, settle = np.asarray(amps_vpk, float).copy(), MIN_SETTLE_PERIODS
    for _ in range(PIN_MATCH_PASSES + MAX_SETTLE_PERIODS.bit_length()):
        settings = TransientSettings(points_per_period=POINTS_PER_PERIOD, settle_periods=settle)
        model = NetlistSweep(board, SweepDrive(emf, bias_v, freq_hz, k_max, settings))
        g1, t1, pin = model.analyse(model.nominal)
        g0, t0, _ = model.analyse(model.nominal, "previous")
        settled = bool(np.all(np.abs(g1 / g0 - 1.0) <= tol_gain) and np.all(np.abs(t1 - t0) <= tol_thd))
        matched = bool(np.all(np.abs(pin / amps_vpk - 1.0) <= PIN_AMPLITUDE_RTOL))
        if settled and matched:
            return model
        if not settled:
            if 2 * settle > MAX_SETTLE_PERIODS:
                break
            settle *= 2
        emf = emf * amps_vpk / pin
    raise FitError(f"large-signal fit: ngspice's transient of the board did not settle within {settle} periods "
                   f"or its pins' amplitude did not come to the measured one")


def _measured(table: Mapping[str, np.ndarray], points: Mapping[str, np.ndarray] | None
              ) -> tuple[dict[str, np.ndarray], ThdWeights, int]:
    """The sweep's rows (amp, gain, gain_u, thd, used; by rising amplitude), the THD's weights and K."""
    idx = select_sweep(table)
    amp = np.asarray(table["vid_vpk"], float)[idx]
    m = {"amp": amp, "gain": np.abs(np.asarray(table["Add"], complex)[idx]),
         "gain_u": np.abs(np.real(np.asarray(table["Add_u"], complex)[idx])),
         "thd": np.asarray(table["thd_out"], float)[idx], "bias": np.asarray(table["bias_v"], float)[idx],
         "freq": np.asarray(table["frequency_hz"], float)[idx]}
    m["used"] = np.isfinite(m["gain"]) & (m["gain_u"] > 0) & np.isfinite(amp) & (amp > 0)
    sig = harmonic_sigma(points, len(np.asarray(table["vid_vpk"])))
    w = thd_weights(None if sig is None else (sig[0][idx], sig[1]), m["gain"] * amp, m["thd"], m["used"])
    return m, w, DEFAULT_HARMONICS if sig is None else sig[1] + 1


def fit_netlist_large_signal(table: Mapping[str, np.ndarray], board: BoardConfig, options: Mapping[str, Any],
                             points: Mapping[str, np.ndarray] | None = None) -> FitResult:
    """Fit a ``dm_gain`` table (vid_vpk, bias_v, frequency_hz, Add, Add_u, thd_out) of a netlist board to
    ngspice (module docstring); ``points`` is the run's points table (the THD's uncertainties; without it the THD
    is not fitted). Free parameters (default): the ``[netlist] fit_params`` the sweep tells apart
    (:mod:`procedures.fitting.identifiable`); ``[fit] large_signal_free`` chooses them instead."""
    m, w, k_max = _measured(table, points)
    rows = np.nonzero(m["used"])[0]
    if rows.size < 2:
        raise FitError(f"large-signal fit: only {rows.size} usable amplitudes")
    gain, gain_u, thd = m["gain"][rows], m["gain_u"][rows], m["thd"][rows]
    tol_thd = SETTLE_SHARE * float(np.min(w.u[w.used])) if w.used.any() else 1e-9
    model = matched_sweep(board, m["amp"][rows], float(m["bias"][0]), float(m["freq"][0]), k_max,
                          SETTLE_SHARE * float(np.min(gain_u / gain)), tol_thd)
    thd_rows = w.used[rows]

    def residual(p: Mapping[str, float]) -> np.ndarray:
        try:
            g, t, _ = model.analyse(p)
        except NgspiceFailed:  # ngspice gave up at a trial step: the minimiser sees it as far off and steps back
            return np.full(len(rows) + int(thd_rows.sum()), np.nan)
        r_t = (thd - w.expected(t, rows)) / w.u[rows]
        return np.concatenate([(gain - g) / gain_u, r_t[thd_rows]])

    free, held = free_params(model.specs, options.get("large_signal_free"), residual, model.nominal, NAME)
    sol = least_squares(model.specs, free, residual, bounds=options.get("bounds") or {}, fit_name=NAME,
                        max_nfev=200)
    return _result(model, sol, m, w, held)


def _curve(model: NetlistSweep, amps: np.ndarray, p: Mapping[str, float], curve_x: np.ndarray
           ) -> dict[str, np.ndarray]:
    """Gain and THD (no noise floor) on ``curve_x`` (V peak at the pins), the EMFs scaled by the nominal board's
    pin-to-EMF ratio at the measured amplitudes (interpolated)."""
    ratio = amps / model.drive.emf_vpk
    emf = curve_x / np.interp(curve_x, amps, ratio)
    d = model.drive
    g, t, _ = NetlistSweep(model.board, SweepDrive(emf, d.bias_v, d.freq_hz, d.k_max, d.settings)).analyse(p)
    return {"gain": g, "thd": t}


def _result(model: NetlistSweep, sol: Solution, m: Mapping[str, np.ndarray], w: ThdWeights,
            held: Mapping[str, float]) -> FitResult:
    """The fit's record: the model at the fitted and the nominal parameters at each used amplitude and on a curve."""
    used = m["used"]
    rows = np.nonzero(used)[0]
    amps = m["amp"][rows]
    out = {}
    for key, p in (("fitted", sol.values), ("predicted", model.nominal)):
        g, t, _ = model.analyse(p)
        gg, tt = np.full(len(used), np.nan), np.full(len(used), np.nan)
        gg[rows], tt[rows] = g, w.expected(t, rows)
        out[key] = {"gain": gg, "thd": tt}
    curve_x = np.geomspace(amps.min(), amps.max(), CURVE_POINTS)
    s = model.drive.settings
    text = (f"the board's netlist in ngspice's transient analysis (.tran, gear-2, T/{s.points_per_period}, DFT of "
            f"the periodic last cycle), its .params adjusted, driven by two generator channels behind "
            f"{GENERATOR_SOURCE_R_OHM:g} Ohm: fundamental gain |Add| and THD of vod over harmonics "
            f"2..{model.drive.k_max} (THD compared with the noise floor of {w.quadratures} quadratures added)"
            + held_note(held, "amplitude sweep"))
    fitted = out["fitted"]
    return make_result(
        NAME, text, model.specs, sol, x_name="vid_vpk", x=m["amp"],
        measured={"gain": m["gain"], "thd": m["thd"]}, measured_u={"gain": m["gain_u"], "thd": w.u},
        fitted=fitted, predicted=out["predicted"], curve_x=curve_x,
        curve_fitted=_curve(model, amps, sol.values, curve_x),
        curve_predicted=_curve(model, amps, model.nominal, curve_x),
        residuals={"gain": np.where(used, (m["gain"] - fitted["gain"]) / m["gain_u"], np.nan),
                   "thd": np.where(w.used, (m["thd"] - fitted["thd"]) / w.u, np.nan)},
        used=used,
    )
