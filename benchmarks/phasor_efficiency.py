"""Efficiency of the phasor estimators against the Cramér-Rao bound, beside the Vpp method on the same records.

Monte Carlo (docs/reference/measurement-methods.md §1.3-1.5): efficiency = CRLB / measured variance, for the
amplitude and the phase, at per-sample SNRs A/sigma from 0.5 to 100 and record lengths N = 1e3, 1e4, 1e5,
non-coherent sampling (10.37 periods per record, as ``min_periods = 10`` gives on the bench), a DC offset of
0.2 sigma, a random phase per trial. Two noise models:

* ``analog``: white Gaussian noise sigma, no quantisation;
* ``8-bit``: the scope's case, codes ``round(x + n)`` with n ~ N(0, 1 LSB) clipped to +-127 codes; the bound
  is taken with ``sigma_tot^2 = sigma_n^2 + LSB^2/12`` (§2.1: 1.041 LSB).

(a) ``procedures.measure.phasors.fit_sines`` at the known frequency (3-parameter fit, with the chain's default 5
harmonics in the solve). Bound: the exact inverse Fisher matrix of ``a cos wt + b sin wt + C`` at the
sampled times (not the asymptotic 2 sigma^2/N), averaged over the trials' phases.

(b) ``procedures.measure.phasors.fit_channels`` (4-parameter fit for the frequency on the cleanest channel, then
3-parameter fits on both; the hint is 0.3 bin off the true frequency, as a generator setting would be) on
two channels: gain g = |V2/V1| and phase difference. Bound (§1.4): the exact inverse Fisher matrix of the two
channels sharing one *unknown* frequency.

Beside each: the Vpp method on the very same records (``vpp_amplitude``, half peak-to-peak; for (b) the
ratio of the two Vpp values), its bias and CRLB / mean-square error. Per row: the fit-domain SNR
``rho = A / (sigma sqrt(2/N))`` (of the weaker channel in (b)).

The project's aim: efficiency >= 0.95 wherever rho >= 5. Rows with rho >= 5 and an efficiency below 0.95 are
flagged: ``BELOW`` when it is below by more than three Monte Carlo standard errors (about 60 efficiencies are
tested per run: with a two-sigma rule an estimator sitting exactly at 0.95 would be flagged once or twice a run
by chance), ``below?`` when the shortfall is within that. The pooled mean over all rows with rho >= 5
(printed at the end) is the sharper
test of a small systematic inefficiency. Trials per row are chosen for a Monte Carlo standard error of
+-3 % (1 sigma) on each efficiency, sqrt(2/(M-1)) with M = 2300 trials; where fewer are used (fit_channels at
N = 1e5, and ``--quick``), the row says so.

Run: ``.venv/bin/python benchmarks/phasor_efficiency.py`` (about 200 s of CPU on 2 worker processes: 2-3 min on
the idle 2-core VM, longer when other work shares it),
``--quick`` for a ~30 s version (N <= 1e4, fewer trials).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import resource
import sys
import time
from dataclasses import dataclass

import numpy as np

from procedures.measure.phasors import fit_channels, fit_sines, vpp_amplitude

F_HZ = 1000.0        # test frequency; the sample rate is chosen for CYCLES periods per record
CYCLES = 10.37       # non-coherent: a record holds 10.37 periods
OFFSET = 0.2         # DC offset, in units of sigma (analog) or LSB (8-bit)
HINT_OFF_BINS = 0.3  # (b): the frequency hint is this many bins below the true frequency
PHASE_DIFF = -math.pi / 3  # (b): channel 2 lags channel 1 by 60 degrees
SIGMA_TOT_8BIT = math.sqrt(1.0 + 1.0 / 12.0)  # 1 LSB noise + quantisation noise, LSB (§2.1)
CODE_LIMIT = 127
AIM_EFF, AIM_RHO = 0.95, 5.0
FLAG_SIGMAS = 3.0  # a row is BELOW the aim when short of it by more than this many Monte Carlo standard errors


@dataclass(frozen=True)
class Row:
    mode: str           # "analog" | "8-bit"
    n: int
    snr: float          # A/sigma (a) or A2/sigma (b); sigma = sigma_n (1 LSB for 8-bit)
    trials: int
    snr1: float = 100.0  # (b): the reference channel's A1/sigma


def time_axis(n: int, cycles: float = CYCLES) -> np.ndarray:
    fs = n * F_HZ / cycles
    return np.arange(n) / fs


def sigma_eff(mode: str) -> float:
    return SIGMA_TOT_8BIT if mode == "8-bit" else 1.0


def sample(mode: str, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Add noise (sigma = 1) to ``clean`` and, for 8-bit, quantise to integer codes and clip."""
    # float32 draws (as the simulator's), summed in float64
    y = clean + rng.standard_normal(clean.shape, dtype=np.float32)
    if mode == "8-bit":
        np.clip(np.round(y, out=y), -CODE_LIMIT, CODE_LIMIT, out=y)
    return y


def wrap(x: np.ndarray) -> np.ndarray:
    return (x + np.pi) % (2 * np.pi) - np.pi


def mc_rel(m: int) -> float:
    """1-sigma relative standard error of a variance (so of an efficiency) from m trials."""
    return math.sqrt(2.0 / (m - 1))


# -- (a) fit_sines at the known frequency -----------------------------------------------------------------
def run_known_task(args: tuple[Row, int]) -> dict[str, float]:
    return run_known(*args)


def run_known(row: Row, seed: int) -> dict[str, float]:
    n, A, mode = row.n, row.snr, row.mode
    t = time_axis(n)
    w = 2 * np.pi * F_HZ
    c, s = np.cos(w * t), np.sin(w * t)
    D3 = np.column_stack([c, s, np.ones(n)])
    Ginv = np.linalg.inv(D3.T @ D3)
    rng = np.random.default_rng(seed)
    phi = rng.uniform(-np.pi, np.pi, row.trials)
    est, u, vpp = [], [], []
    batch = max(1, min(row.trials, 4_000_000 // n))
    for k in range(0, row.trials, batch):
        ph = phi[k:k + batch]
        clean = np.outer(A * np.cos(ph), c) - np.outer(A * np.sin(ph), s) + OFFSET
        y = sample(mode, clean, rng)
        fits = fit_sines(t, y, F_HZ)
        est.extend(f.phasor for f in fits)
        u.extend(f.phasor_u for f in fits)
        vpp.extend(vpp_amplitude(r) for r in y)
    P = np.array(est)
    P0 = A * np.exp(1j * phi)
    sig = sigma_eff(mode)
    # exact bound per trial: grad of A and theta w.r.t. (a, b, C), a = A cos(phi), b = -A sin(phi)
    jA = np.stack([np.cos(phi), -np.sin(phi), np.zeros_like(phi)])
    jT = np.stack([-np.sin(phi), -np.cos(phi), np.zeros_like(phi)]) / A
    crlb_A = sig ** 2 * float(np.mean(np.einsum("it,ij,jt->t", jA, Ginv, jA)))
    crlb_T = sig ** 2 * float(np.mean(np.einsum("it,ij,jt->t", jT, Ginv, jT)))
    dA = np.abs(P) - A
    dT = wrap(np.angle(P / P0))
    err = P - P0
    sd_quad = math.sqrt(0.5 * (np.var(err.real, ddof=1) + np.var(err.imag, ddof=1)))
    dV = np.array(vpp) - A
    return {
        "rho": A / (sig * math.sqrt(2.0 / n)),
        "eff_A": crlb_A / float(np.var(dA, ddof=1)),
        "eff_T": crlb_T / float(np.var(dT, ddof=1)),
        "bias_A": float(np.mean(dA)) / A,
        "u_sd": float(np.mean(u)) / sd_quad,
        "vpp_bias": float(np.mean(dV)) / A,
        "vpp_eff": crlb_A / float(np.mean(dV ** 2)),
    }


# -- (b) fit_channels on two channels, frequency fitted ----------------------------------------------------
def _ratio_bounds(t: np.ndarray, w: float, ab: np.ndarray, sig: float) -> tuple[float, float]:
    """CRLB of ln g and of the phase difference for two channels sharing one unknown frequency.

    ``ab = [a1, b1, a2, b2]``; parameters (a1, b1, C1, a2, b2, C2, w T) with T the record span (the
    frequency is scaled to keep the Fisher matrix well conditioned; the bound on the others does not
    depend on how it is parametrised).
    """
    n = t.size
    tn = t / (t[-1] - t[0])
    c, s = np.cos(w * t), np.sin(w * t)
    J = np.zeros((2 * n, 7))
    for k in range(2):
        a, b = ab[2 * k], ab[2 * k + 1]
        rows = slice(k * n, (k + 1) * n)
        J[rows, 3 * k], J[rows, 3 * k + 1], J[rows, 3 * k + 2] = c, s, 1.0
        J[rows, 6] = tn * (-a * s + b * c)
    Finv = np.linalg.inv(J.T @ J) * sig ** 2
    a1, b1, a2, b2 = ab
    A1s, A2s = a1 * a1 + b1 * b1, a2 * a2 + b2 * b2
    j_lng = np.array([-a1 / A1s, -b1 / A1s, 0, a2 / A2s, b2 / A2s, 0, 0])
    j_dph = np.array([-b1 / A1s, a1 / A1s, 0, b2 / A2s, -a2 / A2s, 0, 0])  # theta = atan2(-b, a)
    return float(j_lng @ Finv @ j_lng), float(j_dph @ Finv @ j_dph)


def ratio_chunk(args: tuple[Row, int, int]) -> np.ndarray:
    """``trials`` trials of (b); per trial: g_hat, dphi_hat, g_vpp, crlb(ln g), crlb(dphi), phi."""
    row, trials, seed = args
    n, mode = row.n, row.mode
    t = time_axis(n)
    bin_hz = F_HZ / CYCLES
    f_true = F_HZ + HINT_OFF_BINS * bin_hz
    w = 2 * np.pi * f_true
    c, s = np.cos(w * t), np.sin(w * t)
    A1, A2 = row.snr1, row.snr
    sig = sigma_eff(mode)
    rng = np.random.default_rng(seed)
    out = np.empty((trials, 6))
    for i in range(trials):
        phi = rng.uniform(-np.pi, np.pi)
        a1, b1 = A1 * math.cos(phi), -A1 * math.sin(phi)
        a2, b2 = A2 * math.cos(phi + PHASE_DIFF), -A2 * math.sin(phi + PHASE_DIFF)
        clean = np.vstack([a1 * c + b1 * s + OFFSET, a2 * c + b2 * s + OFFSET])
        y = sample(mode, clean, rng)
        fits = fit_channels(t, y, F_HZ)
        r = fits[1].phasor / fits[0].phasor
        crlb_lng, crlb_dph = _ratio_bounds(t, w, np.array([a1, b1, a2, b2]), sig)
        out[i] = (abs(r), np.angle(r), vpp_amplitude(y[1]) / vpp_amplitude(y[0]), crlb_lng, crlb_dph, phi)
    return out


def run_ratio(row: Row, seed: int, pool: mp.pool.Pool | None, jobs: int) -> dict[str, float]:
    chunks = max(1, jobs * 4)
    sizes = [row.trials // chunks + (1 if k < row.trials % chunks else 0) for k in range(chunks)]
    seeds = np.random.SeedSequence(seed).spawn(chunks)
    tasks = [(row, m, int(ss.generate_state(1)[0])) for m, ss in zip(sizes, seeds) if m > 0]
    parts = pool.map(ratio_chunk, tasks) if pool is not None else [ratio_chunk(tk) for tk in tasks]
    res = np.vstack(parts)
    g_true = row.snr / row.snr1
    g, dph, gv = res[:, 0], wrap(res[:, 1] - PHASE_DIFF), res[:, 2]
    crlb_g = g_true ** 2 * float(np.mean(res[:, 3]))
    crlb_dph = float(np.mean(res[:, 4]))
    sig = sigma_eff(row.mode)
    return {
        "rho": min(row.snr, row.snr1) / (sig * math.sqrt(2.0 / row.n)),
        "eff_g": crlb_g / float(np.var(g, ddof=1)),
        "eff_p": crlb_dph / float(np.var(dph, ddof=1)),
        "bias_g": float(np.mean(g)) / g_true - 1.0,
        "vpp_bias": float(np.mean(gv)) / g_true - 1.0,
        "vpp_eff": crlb_g / float(np.mean((gv - g_true) ** 2)),
    }


# -- driver ----------------------------------------------------------------------------------------------
def flag(rho: float, effs: list[float], m: int) -> str:
    if rho < AIM_RHO:
        return ""
    worst = min(effs)
    if worst >= AIM_EFF:
        return ""
    return "BELOW" if worst + FLAG_SIGMAS * worst * mc_rel(m) < AIM_EFF else "below?"


def pct(x: float) -> str:
    return f"{100 * x:+.1f}%" if abs(x) < 9.995 else f"{100 * x:+.0f}%"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N <= 1e4, fewer SNRs and trials (~30 s)")
    ap.add_argument("--trials", type=int, default=None, help="trials per row (default 2300: +-3 %% on efficiency)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2, one BLAS thread each)")
    ap.add_argument("--seed", type=int, default=20240601)
    args = ap.parse_args(argv)

    if args.quick:
        m = args.trials or 1000
        known = [Row(mode, n, a, m) for mode in ("analog", "8-bit") for n in (1000, 10_000) for a in (0.5, 3.0, 100.0)]
        ratio = [Row("analog", 1000, 0.5, m), Row("analog", 1000, 100.0, m), Row("8-bit", 1000, 1.0, m),
                 Row("analog", 1000, 1.0, m, snr1=1.0), Row("8-bit", 10_000, 1.0, max(100, m // 3))]
    else:
        m = args.trials or 2300
        known = [Row(mode, n, a, m) for mode in ("analog", "8-bit") for n in (1000, 10_000, 100_000)
                 for a in (0.5, 1.0, 3.0, 10.0, 100.0)]
        ratio = [Row("analog", 1000, 0.5, m), Row("analog", 1000, 3.0, m), Row("analog", 1000, 100.0, m),
                 Row("analog", 1000, 1.0, m, snr1=1.0), Row("8-bit", 1000, 1.0, m),
                 Row("8-bit", 10_000, 1.0, m), Row("8-bit", 100_000, 1.0, max(100, m // 8))]

    print("diffbench phasor estimators: Monte Carlo efficiency = CRLB / variance "
          "(docs/reference/measurement-methods.md §1.3-1.5)")
    print(f"f = {F_HZ:g} Hz, {CYCLES} periods per record (non-coherent), DC offset {OFFSET} sigma, random phase per "
          f"trial; analog = Gaussian sigma; 8-bit = round(x + N(0, 1 LSB)), bound with sigma_tot = "
          f"{SIGMA_TOT_8BIT:.3f} LSB")
    print(f"aim: efficiency >= {AIM_EFF} wherever rho = A/(sigma sqrt(2/N)) >= {AIM_RHO:g}; "
          f"Monte Carlo 1-sigma on each efficiency: +-{100 * mc_rel(m):.1f} % ({m} trials per row unless stated)")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}")
    t_start = time.perf_counter()
    old = os.environ.get("OPENBLAS_NUM_THREADS")
    os.environ["OPENBLAS_NUM_THREADS"] = "1"  # the workers' numpy: one BLAS thread each
    pool = mp.get_context("spawn").Pool(args.jobs) if args.jobs > 1 else None
    if old is None:
        del os.environ["OPENBLAS_NUM_THREADS"]
    else:
        os.environ["OPENBLAS_NUM_THREADS"] = old
    try:
        status = report(args, m, known, ratio, pool, t_start)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    cpu = sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
              for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    print(f"wall {time.perf_counter() - t_start:.0f} s, CPU {cpu:.0f} s (this process + {args.jobs} workers); "
          f"load average now {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          "(other work on the machine stretches the wall time)")
    return status


def report(args: argparse.Namespace, m: int, known: list[Row], ratio: list[Row], pool: mp.pool.Pool | None,
           t_start: float) -> int:
    print()
    print("(a) fit_sines at the known frequency (5 harmonics in the solve) vs Vpp/2 on the same records")
    print(f"{'noise':6} {'N':>6} {'A/sig':>6} {'rho':>7} | {'eff(A)':>6} {'eff(ph)':>7} {'bias(A)':>8} "
          f"{'u/sd':>5} | {'Vpp bias':>8} {'Vpp CRLB/MSE':>12} {'RMSE/sqrtCRLB':>13} | flag")
    flags_a: list[str] = []
    pooled: dict[str, list[tuple[float, int]]] = {"(a) eff(A)": [], "(a) eff(ph)": [], "(b) eff(g)": [],
                                                  "(b) eff(dph)": []}
    tasks = [(row, args.seed + i) for i, row in enumerate(known)]
    results = pool.imap(run_known_task, tasks) if pool is not None else map(run_known_task, tasks)
    for row, r in zip(known, results):
        fl = flag(r["rho"], [r["eff_A"], r["eff_T"]], row.trials)
        if fl:
            flags_a.append(f"(a) {row.mode} N={row.n} A/sig={row.snr:g} ({fl})")
        if r["rho"] >= AIM_RHO:
            pooled["(a) eff(A)"].append((r["eff_A"], row.trials))
            pooled["(a) eff(ph)"].append((r["eff_T"], row.trials))
        print(f"{row.mode:6} {row.n:>6} {row.snr:>6g} {r['rho']:>7.1f} | {r['eff_A']:>6.3f} {r['eff_T']:>7.3f} "
              f"{pct(r['bias_A']):>8} {r['u_sd']:>5.2f} | {pct(r['vpp_bias']):>8} {r['vpp_eff']:>12.2e} "
              f"{1 / math.sqrt(r['vpp_eff']):>13.1f} | {fl}", flush=True)
    print("eff(A), eff(ph): CRLB / variance of |P| and arg P (about their own means); bias(A): mean(|P|)/A - 1 "
          "(Rician at low rho, §1.5); u/sd: the fit's reported phasor_u over the observed per-quadrature "
          "standard deviation (1 = honest uncertainty); Vpp: CRLB / mean-square error of Vpp/2, bias included")

    print()
    print(f"(b) fit_channels (frequency fitted, hint {HINT_OFF_BINS} bin off) on two channels: g = |V2/V1|, "
          f"phase difference (true {math.degrees(PHASE_DIFF):g} deg), vs Vpp2/Vpp1 on the same records")
    print(f"{'noise':6} {'N':>6} {'A1/sig':>6} {'A2/sig':>6} {'rho':>7} | {'eff(g)':>6} {'eff(dph)':>8} "
          f"{'bias(g)':>8} | {'Vpp bias':>8} {'Vpp CRLB/MSE':>12} | {'trials':>6} {'MC 1sig':>7} | flag")
    flags_b: list[str] = []
    for i, row in enumerate(ratio):
        r = run_ratio(row, args.seed + 1000 + i, pool, args.jobs)
        fl = flag(r["rho"], [r["eff_g"], r["eff_p"]], row.trials)
        if fl:
            flags_b.append(f"(b) {row.mode} N={row.n} A1/sig={row.snr1:g} A2/sig={row.snr:g} ({fl})")
        if r["rho"] >= AIM_RHO:
            pooled["(b) eff(g)"].append((r["eff_g"], row.trials))
            pooled["(b) eff(dph)"].append((r["eff_p"], row.trials))
        print(f"{row.mode:6} {row.n:>6} {row.snr1:>6g} {row.snr:>6g} {r['rho']:>7.1f} | {r['eff_g']:>6.3f} "
              f"{r['eff_p']:>8.3f} {pct(r['bias_g']):>8} | {pct(r['vpp_bias']):>8} {r['vpp_eff']:>12.2e} | "
              f"{row.trials:>6} {'+-%.1f%%' % (100 * mc_rel(row.trials)):>7} | {fl}", flush=True)
    print("eff(g), eff(dph): CRLB / variance with the bound of two channels sharing one unknown frequency (§1.4); "
          "rho of the weaker channel; Vpp: CRLB(g) / mean-square error of Vpp2/Vpp1")

    print()
    print(f"pooled over the rows with rho >= {AIM_RHO:g} (mean efficiency +- its Monte Carlo standard error; "
          f"1.000 = efficient):")
    for name, vals in pooled.items():
        if vals:
            e = np.array([v for v, _ in vals])
            se = math.sqrt(sum((v * mc_rel(k)) ** 2 for v, k in vals)) / len(vals)
            print(f"  {name:13} {e.mean():.3f} +- {se:.3f}  "
                  f"({len(vals)} rows, min {e.min():.3f}, max {e.max():.3f})")
    below = flags_a + flags_b
    hard = [f for f in below if f.endswith("(BELOW)")]
    if not below:
        print(f"aim (eff >= {AIM_EFF} wherever rho >= {AIM_RHO:g}): met in every row")
    elif hard:
        soft = [f for f in below if f not in hard]
        print(f"aim (eff >= {AIM_EFF} wherever rho >= {AIM_RHO:g}): MISSED beyond Monte Carlo error in: "
              + ", ".join(hard) + ("; below within Monte Carlo error in: " + ", ".join(soft) if soft else ""))
    else:
        print(f"aim (eff >= {AIM_EFF} wherever rho >= {AIM_RHO:g}): no row below it beyond Monte Carlo error "
              f"({FLAG_SIGMAS:g} sigma); "
              f"point estimates below 0.95 within that error in: " + ", ".join(below))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
