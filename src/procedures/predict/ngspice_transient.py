"""A board's periodic steady state under sine drives, from ngspice's transient analysis and a DFT of its last cycles.

The circuit text (a board's netlist, or the engine's deck of it) gets one Thevenin source per driven pin: a
``SIN`` voltage source (ngspice User's Manual, "Independent Sources", "Sinusoidal":
``SIN(VO VA FREQ TD THETA PHASE)`` is ``VO + VA sin(2 pi FREQ t + PHASE)`` for ``TD = THETA = 0``) behind its
output resistance. ``.tran`` (manual, ".tran: Transient Analysis") runs from the DC operating point over whole
periods with the maximum step ``TMAX = T/N``. While the local truncation error allows steps of ``TMAX``,
ngspice takes exactly those after its first few growing steps, so the accepted time points of the last cycles
form a uniform grid of N points per period (checked, not assumed: :func:`uniform_tail`). The DFT of N uniform
samples of one period is the waveform's Fourier series exactly, up to aliasing of harmonics above N/2
(Oppenheim & Schafer, "Discrete-Time Signal Processing", 3rd ed., sec. 8.1 and 8.4): no interpolation error,
unlike ngspice's ``fourier`` command, which interpolates the waveform onto its own grid (manual, "Interactive
Interpreter", ``fourier``: ``fourgridsize`` points, ``polydegree`` interpolation) and prints six digits.

Two cycles are kept: the last one is the answer, the one before it shows how well the transient has settled.

Several drive levels in one deck (:func:`periodic_harmonics_runs`): a drive whose amplitude names a ``.param``
(``SineDrive.amplitude_param``) gets ``SIN(VO {name} ...)``, and the control block runs ``.tran`` once per set
of ``.param`` values, each set applied with ``alterparam`` and ``reset`` (manual, "Interactive Interpreter":
``reset`` re-parses the circuit with the altered values), writing one ``wrdata`` file per run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .ngspice_board import KELVIN_AT_0_C, circuit_text
from .ngspice_run import NgspiceFailed, run_deck

UNIFORM_RTOL = 1e-9
"""How far a time step may be from ``T/N`` (relative) and still count as on the uniform grid: ngspice
accumulates time in double precision, so its steps of ``TMAX`` differ from ``T/N`` by ~1e-13."""
_MIN_TAU_S = 1e-15
"""Eigenvalues of ``G^-1 C`` below this (s) are the algebraic (capacitor-free) rows' zeros, not time constants."""


@dataclass(frozen=True)
class SineDrive:
    """A generator channel on one pin: EMF ``offset_v + amplitude_v sin(2 pi f t + phase_deg)`` (V, deg) behind
    ``source_r_ohm`` (Ohm; 0 = an ideal source on the pin). Its complex peak phasor is
    ``amplitude_v e^{j (phase_deg - 90 deg)}``."""

    pin: str
    offset_v: float
    amplitude_v: float
    phase_deg: float
    source_r_ohm: float
    amplitude_param: str | None = None
    """When set, the amplitude is this ``.param`` of the deck (defined at ``amplitude_v``; module docstring)."""


@dataclass(frozen=True)
class TransientSettings:
    """ngspice's transient settings (manual, "Transient Analysis Options" and ".tran"): ``points_per_period``
    N (the step is ``T/N``), ``settle_periods`` run before the two cycles that are analysed, the Newton
    tolerances ``reltol`` (relative), ``vntol_v`` (V), ``abstol_a`` (A), the integration ``method`` ("gear"
    or "trap", order 2) and ``trtol``, the factor by which the local truncation error may exceed the Newton
    tolerances before ngspice shortens a step (its default 7)."""

    points_per_period: int = 2048
    settle_periods: int = 1
    reltol: float = 1e-6
    vntol_v: float = 1e-9
    abstol_a: float = 1e-15
    method: str = "gear"
    trtol: float = 7.0


@dataclass(frozen=True)
class PeriodicHarmonics:
    """Harmonics 0..K (complex peak phasors, V; ``x(t) = Re sum_k X_k e^{j k w t}``, t from the start of the
    transient) of each node asked for, over the last cycle (``last``) and the cycle before it (``previous``),
    with the step ``step_s`` (s) and the number of accepted time points ``points``."""

    freq_hz: float
    last: dict[str, np.ndarray]
    previous: dict[str, np.ndarray]
    step_s: float
    points: int


def slowest_time_constant_s(g_s: np.ndarray, c_f: np.ndarray) -> float:
    """The slowest decay time constant (s) of the linearised circuit ``G x + C dx/dt = 0``.

    ``x = x0 e^{s t}`` gives ``(G + s C) x0 = 0`` (the natural frequencies of the modified nodal equations,
    Ho, Ruehli & Brennan, IEEE Trans. CAS-22, 1975), i.e. ``G^-1 C x0 = mu x0`` with ``mu = -1/s``; a mode
    decays as ``exp(Re(s) t)``, so its time constant is ``-1/Re(s) = |mu|^2 / Re(mu)``. ``g_s`` (S) and ``c_f``
    (F) are the MNA conductance and capacitance matrices at the operating point. Raises ValueError for a
    growing mode (the operating point is unstable)."""
    mu = np.linalg.eigvals(np.linalg.solve(np.asarray(g_s, dtype=float), np.asarray(c_f, dtype=float)))
    mu = mu[np.abs(mu) > _MIN_TAU_S]
    if mu.size == 0:
        return 0.0
    if np.any(mu.real < -_MIN_TAU_S):
        raise ValueError("the operating point is unstable: a natural frequency has a positive real part")
    return float(np.max(np.abs(mu) ** 2 / np.maximum(mu.real, _MIN_TAU_S)))


def settle_periods(tau_s: float, freq_hz: float, residual: float = 1e-9) -> int:
    """Whole periods (at least 1) after which a transient decaying with time constant ``tau_s`` (s) has fallen to
    ``residual`` of its start: ``exp(-t/tau) <= residual`` gives ``t >= tau ln(1/residual)``."""
    return max(1, math.ceil(tau_s * math.log(1.0 / residual) * freq_hz))


def transient_deck(circuit: str, pins: Mapping[str, str], drives: Sequence[SineDrive], freq_hz: float,
                   nodes: Sequence[str], settings: TransientSettings, t_k: float | None = None,
                   runs: Sequence[Mapping[str, float]] = ()) -> str:
    """The ngspice deck: ``circuit`` (title line first; analysis cards and ``.control`` blocks are dropped), the
    drives, ``.options`` and a ``.tran`` over ``settle_periods + 2`` periods of ``freq_hz`` (Hz) with
    ``TMAX = T/N``, writing time and ``v(node)`` of each of ``nodes`` (keys of ``pins``) with ``wrdata``.
    ``t_k`` (K), when given, is passed as ``.options temp`` (deg C). With ``runs`` (sets of ``.param`` values),
    one ``.tran`` per set, written as ``tran0``, ``tran1``, ... (module docstring); without, one run, ``tran``."""
    period = 1.0 / freq_hz
    step = period / settings.points_per_period
    lines = [circuit_text(circuit).rstrip("\n")]
    for k, d in enumerate(drives):
        emf = f"diffbench_g{k}" if d.source_r_ohm > 0.0 else pins[d.pin]
        amplitude = repr(d.amplitude_v)
        if d.amplitude_param:
            lines.append(f".param {d.amplitude_param}={d.amplitude_v!r}")
            amplitude = "{" + d.amplitude_param + "}"
        lines.append(f"vdiffbench_g{k} {emf} 0 DC {d.offset_v!r} "
                     f"SIN({d.offset_v!r} {amplitude} {freq_hz!r} 0 0 {d.phase_deg!r})")
        if d.source_r_ohm > 0.0:
            lines.append(f"rdiffbench_g{k} {emf} {pins[d.pin]} {d.source_r_ohm!r}")
    opts = (f".options reltol={settings.reltol!r} vntol={settings.vntol_v!r} abstol={settings.abstol_a!r} "
            f"method={settings.method} maxord=2 trtol={settings.trtol!r}")
    if t_k is not None:
        opts += f" temp={t_k - KELVIN_AT_0_C!r}"
    tran = f"{step!r} {(settings.settle_periods + 2) * period!r} 0 {step!r}"
    write = " ".join(f"v({pins[n]})" for n in nodes)
    if not runs:
        lines += [opts, f".tran {tran}", ".control", "set wr_singlescale", "set numdgt=16", "run",
                  f"wrdata @OUT@/tran.txt {write}"]
    else:
        lines += [opts, ".control", "set wr_singlescale", "set numdgt=16"]
        for k, run in enumerate(runs):
            lines += [f"alterparam {name}={float(value)!r}" for name, value in run.items()]
            lines += ["reset", f"tran {tran}", f"wrdata @OUT@/tran{k}.txt {write}", "destroy all"]
    lines += ["quit 0", ".endc", ".end", ""]
    return "\n".join(lines)


def uniform_tail(t_s: np.ndarray, step_s: float, steps: int) -> slice:
    """The last ``steps + 1`` time points (s) that are ``step_s`` apart, ignoring the final shortened step(s)
    ngspice takes to land on TSTOP. Raises :class:`NgspiceFailed` if there are not that many (the truncation
    error control cut the step: a finer ``T/N`` or looser tolerances are needed)."""
    ok = np.abs(np.diff(t_s) / step_s - 1.0) <= UNIFORM_RTOL
    end = len(t_s) - 1
    while end > 0 and not ok[end - 1]:
        end -= 1
    start = end - steps
    if start < 0 or not ok[start:end].all():
        raise NgspiceFailed(f"ngspice transient: its last {steps} steps are not all T/N = {step_s:.6g} s "
                            "(its truncation-error control shortened some); use more points per period")
    return slice(start, end + 1)


def cycle_harmonics(t_s: np.ndarray, y: np.ndarray, freq_hz: float, n_harmonics: int) -> np.ndarray:
    """Harmonics 0..K (complex peak phasors) of one period sampled uniformly at times ``t_s`` (s, N points, the
    end point excluded): ``X_k = (2 - [k = 0])/N sum_n y_n e^{-j k w t_n}`` (the DFT, Oppenheim & Schafer
    sec. 8.1, referred to t = 0 through the actual sample times)."""
    k = np.arange(n_harmonics + 1)
    basis = np.exp(-2j * math.pi * freq_hz * np.outer(k, t_s))
    x: np.ndarray = (basis @ y) * (2.0 / len(t_s))
    x[0] /= 2.0
    return x


def periodic_harmonics(circuit: str, pins: Mapping[str, str], drives: Sequence[SineDrive], freq_hz: float,
                       n_harmonics: int, settings: TransientSettings | None = None, t_k: float | None = None,
                       cwd: Path | None = None, what: str = "the ngspice transient") -> PeriodicHarmonics:
    """Harmonics 0..``n_harmonics`` of every pin in ``pins`` (name -> netlist node) over the last two cycles of
    ngspice's transient, the circuit driven by ``drives`` at ``freq_hz`` (Hz); see :func:`transient_deck`.
    Raises :class:`NgspiceFailed` (or ``NgspiceMissing``) in one line naming ``what``."""
    s = settings or TransientSettings()
    n = s.points_per_period
    if not 2 * n_harmonics < n:
        raise ValueError(f"{what}: {n} points per period cannot resolve {n_harmonics} harmonics")
    names = list(pins)
    deck = transient_deck(circuit, pins, drives, freq_hz, names, s, t_k)
    data = run_deck(deck, ["tran"], what, cwd=cwd, points=(s.settle_periods + 2) * n)["tran"]
    return last_cycles(data, names, freq_hz, n, n_harmonics)


def last_cycles(data: np.ndarray, names: Sequence[str], freq_hz: float, n: int,
                n_harmonics: int) -> PeriodicHarmonics:
    """The harmonics of the last two cycles of one transient's ``wrdata`` columns (time in s, then one voltage
    per name in V), sampled at ``n`` points per period of ``freq_hz`` (Hz): :func:`uniform_tail`, then
    :func:`cycle_harmonics` per cycle."""
    step = 1.0 / (freq_hz * n)
    tail = uniform_tail(data[:, 0], step, 2 * n)
    t, v = data[tail, 0], data[tail, 1:]
    cycles = [{p: cycle_harmonics(t[a:a + n], v[a:a + n, j], freq_hz, n_harmonics) for j, p in enumerate(names)}
              for a in (0, n)]
    return PeriodicHarmonics(freq_hz, cycles[1], cycles[0], step, int(data.shape[0]))


def periodic_harmonics_runs(circuit: str, pins: Mapping[str, str], drives: Sequence[SineDrive], freq_hz: float,
                            n_harmonics: int, runs: Sequence[Mapping[str, float]], nodes: Sequence[str],
                            settings: TransientSettings | None = None, t_k: float | None = None,
                            cwd: Path | None = None, what: str = "the ngspice transient",
                            deck: str | None = None) -> list[PeriodicHarmonics]:
    """:func:`periodic_harmonics` for each set of ``.param`` values in ``runs`` (one deck, one ngspice process;
    module docstring), of the pins named in ``nodes`` (keys of ``pins``). ``deck``: the text of
    :func:`transient_deck` for these arguments, when the caller has it already (possibly with ``alterparam``
    lines added: :func:`procedures.predict.ngspice_dc.with_params`)."""
    s = settings or TransientSettings()
    n = s.points_per_period
    if not 2 * n_harmonics < n:
        raise ValueError(f"{what}: {n} points per period cannot resolve {n_harmonics} harmonics")
    if deck is None:
        deck = transient_deck(circuit, pins, drives, freq_hz, nodes, s, t_k, runs)
    outputs = [f"tran{k}" for k in range(len(runs))]
    data = run_deck(deck, outputs, what, cwd=cwd, points=len(runs) * (s.settle_periods + 2) * n)
    return [last_cycles(data[o], nodes, freq_hz, n, n_harmonics) for o in outputs]
