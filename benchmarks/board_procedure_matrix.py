"""Every shipped board measured with every shipped procedure, exactly as shipped, against the simulator's truth.

Acceptance served: "Every shipped board, measured with every shipped procedure exactly as shipped, recovers the
simulator's truth within 3 u on every reported quantity, and its fit's chi2_red is below 2."

Each cell (board in ``configs/boards/*.toml`` x procedure in ``configs/procedures/*.toml``) is one
``procedures.run.runner.run_procedure`` on ``configs/benches/sim-keysight.toml``, unmodified. Every reported
number is then compared with the simulated board's own truth (``instruments.sim.board.SimBoard`` built from the
board config; nothing from ``src/models``), as ``z = (measured - truth)/u``; complex numbers per real and
imaginary part, each with the uncertainty of that part.

The truth, table by table (the drives are rebuilt from the run's own plan, ``procedures.measure.plan.plan``, and
the bench config's ``[sim]`` generator: each channel an EMF of the planned amplitude at the High-Z setting, a
sine ``A sin(wt + phi)`` as the phasor ``A e^{j(phi - 90 deg)}``, behind ``gen_source_r_ohm``, channel 2's AC
scaled by ``gen_amplitude_mismatch_db`` / ``gen_phase_mismatch_deg`` as ``instruments.sim.generator_state`` does):

- ``gains``: ``S`` against ``SimBoard.small_signal_s(f)`` (``[vod; voc] = S [vid; vic]``, ``S = [[Add, Acd],
  [Adc, Acc]]``), its DM column (Add, Adc) linearised where the DM points hold the pins (each pin through 50 Ohm
  from its channel's offset) and its CM column (Acd, Acc) where the CM points hold them (tied: one channel into
  both pins); u per part from the diagonal of ``S_cov`` (``S_u`` is the magnitude's u, stored as u + ju).
  ``Ad_se1 = Add/2 + Adc``, ``Acm_se1 = Acc + Acd/2``, ``Ad_se2 = -Add/2 + Adc``, ``Acm_se2 = Acc - Acd/2``
  with u from ``S_cov`` (they are linear in S); ``CMRR_se1_db = 20 log10 |Ad_se1/Acm_se1|``, ``CMRR_se2_db``
  likewise, ``CMRR_diff_db = 20 log10 |Add/Acd|``, ``Add_over_Acc_db = 20 log10 |Add/Acc|`` with their ``_u``
  columns (docs/reference/measurement-methods.md §3.2); a figure archived as a limit (its ``_kind``, where a
  denominator or numerator is in the noise) passes when the truth is on its side.
- ``dm_gain`` (amplitude sweep, common-mode range): ``SimBoard.steady_state(f, drives, (0, 1))`` of each planned
  DM point (its bias level included). ``Add`` = fundamental of vod over fundamental of the pins' vid (u per part
  from ``Add_u``); ``vid_vpk`` = |pins' vid| (u: its ``vid_vpk_u``);
  ``thd_out`` = sqrt(sum |vod_k|^2, k = 2..K)/|vod_1|, K the procedure's ``[acquisition] harmonics``, raised in
  quadrature by the noise floor of the K - 1 fitted harmonics (each with the per-quadrature u of vod,
  sigma_h = hypot(u_vo1, u_vo2) from ``phasor_u``): expected^2 = thd^2 + 2 (K - 1) sigma_h^2/|vod_1|^2, with
  u = sigma_h/|vod_1| (first order); ``compression`` = |Add|/|Add at the smallest measured drive| of the truths,
  u from the two rows' ``Add_u``. ``frequency_hz``, ``vid_vpk_nominal`` and ``bias_v`` must equal the plan's.
- ``dc``: DC solves (``steady_state(0.0, ...)``) driven as the DC transfer drives (channel 1 at bias + v/2,
  channel 2 at bias - v/2, each behind the generator resistance). For each row the EMF v is solved so that the
  pins' vid equals the measured ``vid_v``; ``vod_v`` is compared with the truth there, with
  ``u^2 = vod_v_u^2 + (slope vid_v_u)^2`` (slope: the true dvod/dvid at that point). ``vo1_v``, ``vo2_v`` and
  ``vic_v`` at the same truth point, their own u derived from the point's ``phasor_u`` and the link calibration
  as the analysis derives ``vod_v_u`` (``procedures.analysis.dc_rows.dc_rows``), and their true slope times
  ``vid_v_u`` added in quadrature.
- ``dc_summary``: ``offset_v`` = the pins' vid where the true vod = 0 (brentq on v); ``slope`` = the true
  dvod/dvid there (when the true vod does not cross 0 inside the sweep, both must be reported NaN). Neither
  has a reported u: u(offset) is propagated from the dc rows through the analysis' own estimator
  (``procedures.analysis.dc_transfer``), the vod errors independent, the vid error taken as one shift common
  to all points (the calibration's share is common; an upper bound); u(slope) likewise with every error
  independent.
- Fits: chi2_red < 2, and every free parameter against ``tests/fits_truth.py`` ``truth(board)`` (closed-form
  boards; ``z = (value - truth)/stderr``); a netlist board's parameters against the ``.param`` values of its
  netlist for ``[netlist] fit_params``, and its ``v_os`` (and derived slope) against the simulator's offset
  computed as tests/fits_truth.py computes it. A parameter with no truth there (e.g. ``r_o``) is listed as such.
  A fit the runner skipped ("fit skipped: ..." in its log) or an expected fit that is absent fails the cell.

Not compared, by design (printed once at the start): ``S_ideal`` and ``*_ideal_db`` (the ideal-generator
figures, kept for comparison, biased on purpose) and the ``verdicts`` (the board's own pass/fail limits;
counted in the per-cell line). A run that does not finish ``complete`` (preflight refusal included) fails its
cell with its reason.

Each line also gives how many quantities reached |z| >= 3 beside how many an unbiased Gaussian measurement
would (0.27 % of them): with hundreds of quantities per cell an isolated 3.1 is expected now and then, a run of
them along a sweep is not.

Two readings of "within 3 u", both printed. Strict: every quantity and every fit parameter |z| < 3 (``ok``).
An honest standard uncertainty cannot meet it over the whole matrix: 0.27 % of ~13,000 unbiased Gaussian
quantities, ~35, land at |z| >= 3 by chance. So a cell also passes (``ok~``) when its only failures are |z| >= 3,
no more of them than chance gives (Poisson P >= ``P_CELL`` for the cell's count), none at ``Z_OUTLIER`` or beyond;
the last line compares the whole matrix's count with the expectation. A bias shows as the same quantity off
under several ``--seed``s. A cell fails (``FAIL``, and the exit status is 1) on: |z| that chance does not explain,
chi2_red >= 2, a skipped or absent fit, a fit that did not converge, a limit on the wrong side of the truth, a
row/plan mismatch, or a run not complete.

Run (about 20 min on the 2-core VM for the whole matrix)::

    .venv/bin/python benchmarks/board_procedure_matrix.py [--boards a,b] [--procedures x,y] [--out DIR]
        [--json FILE]

Archives go to ``--out`` (default a temporary directory), one ``<board>__<procedure>.h5`` per cell (an
existing one of that name is replaced).
"""

from __future__ import annotations

import argparse
import cmath
import dataclasses
import json
import logging
import math
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import brentq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fits_truth import truth as fit_truth  # noqa: E402  (test-only helper: the fit parameters' truth)
from instruments.bench_config import BenchConfig, load_bench  # noqa: E402
from instruments.board_config import BoardConfig, load_board  # noqa: E402
from instruments.sim.board import Drive, SimBoard  # noqa: E402
from procedures.analysis.dc_transfer import dc_transfer  # noqa: E402
from procedures.archive.reader import open_run  # noqa: E402
from procedures.config.procedure import ProcedureConfig, load_procedure  # noqa: E402
from procedures.measure.excitation import Excitation  # noqa: E402
from procedures.measure.plan import PlannedPoint, plan, sweeps_of  # noqa: E402
from procedures.run.runner import run_procedure  # noqa: E402

BOARDS = ROOT / "configs" / "boards"
PROCEDURES = ROOT / "configs" / "procedures"
BENCH = ROOT / "configs" / "benches" / "sim-keysight.toml"
Z_MAX = 3.0
CHI2_MAX = 2.0
P_OVER = math.erfc(Z_MAX / math.sqrt(2))  # chance of |z| >= 3 for one unbiased Gaussian quantity
#: a |z| no chance explains: over the ~13,000 quantities of the whole matrix an honest standard u puts one this far
#: out in about one matrix of 130 (13,000 erfc(5/sqrt 2) = 0.0075)
Z_OUTLIER = 5.0
#: a cell's count of |z| >= 3 is improbable when an honest u gives at least that many less often than this
P_CELL = 1e-3
#: the model fit each sweep's table feeds (a common-mode range's dm_gain is a level sweep: no fit, by design)
FIT_OF_SWEEP = {"frequency_sweep": "small_signal", "amplitude_sweep": "large_signal", "cm_range": None,
                "dc_transfer": "dc_transfer"}
_GAIN_COLUMNS = {"frequency_hz", "S", "S_u", "S_cov", "Ad_se1", "Acm_se1", "Ad_se2", "Acm_se2", "CMRR_se1_db",
                 "CMRR_se1_db_u", "CMRR_se2_db", "CMRR_se2_db_u", "CMRR_diff_db", "CMRR_diff_db_u",
                 "Add_over_Acc_db", "Add_over_Acc_db_u", "CMRR_se1_db_kind", "CMRR_se2_db_kind", "CMRR_diff_db_kind",
                 "Add_over_Acc_db_kind"}
_IDEAL_COLUMNS = {"S_ideal", "CMRR_se1_ideal_db", "CMRR_se2_ideal_db", "CMRR_diff_ideal_db", "Add_over_Acc_ideal_db"}
#: every result column this benchmark knows: compared, used as an uncertainty, or deliberately not compared
KNOWN_COLUMNS = {
    "gains": _GAIN_COLUMNS | _IDEAL_COLUMNS,
    "cm_gains": _GAIN_COLUMNS | _IDEAL_COLUMNS | {"bias_v"},
    "dm_gain": {"frequency_hz", "vid_vpk", "vid_vpk_u", "vid_vpk_nominal", "bias_v", "Add", "Add_u", "compression",
                "thd_out"},
    "dc": {"vid_v", "vid_v_u", "vic_v", "vo1_v", "vo2_v", "vod_v", "vod_v_u", "link_u_rel"},
    "dc_summary": {"offset_v", "slope"},
}
NOT_COMPARED = ("gains, cm_gains: " + ", ".join(sorted(_IDEAL_COLUMNS)) + " (ideal-generator comparison figures, "
                "biased by design); S_u is S's magnitude u (stored u + ju): the z of Re and Im use S_cov's diagonal; "
                "verdicts (board limits, counted only)")


# ---------------------------------------------------------------------------------------------------------
# Bookkeeping


@dataclass
class Check:
    """One quantity compared with the truth: ``z = (measured - truth)/u``; ``exact`` checks need equality; a
    ``bound`` (an archived dB figure's kind other than ``value``: ``lower_limit``, ``upper_limit``, ``none``) holds
    (z 0) when the truth is on its side, else z is infinite; ``none`` claims nothing (z 0)."""

    quantity: str
    measured: float
    truth: float
    u: float
    exact: bool = False
    bound: str = "value"

    @property
    def z(self) -> float:
        if self.bound != "value":
            holds = (self.bound == "none" or (self.bound == "lower_limit" and self.truth >= self.measured)
                     or (self.bound == "upper_limit" and self.truth <= self.measured))
            return 0.0 if holds else math.inf
        if self.exact:
            return 0.0 if self.measured == self.truth else math.inf
        if not self.u > 0:
            return math.nan if self.measured != self.truth else 0.0
        return (self.measured - self.truth) / self.u


@dataclass
class FitCheck:
    """One fit: its chi2_red and status, each free parameter's z against the truth, those without a truth."""

    name: str
    chi2_red: float
    status: str
    params: list[tuple[str, float, float, float, float]] = field(default_factory=list)  # name, value, err, truth, z
    no_truth: list[str] = field(default_factory=list)
    derived: list[tuple[str, float, float, float, float]] = field(default_factory=list)

    def worst(self) -> tuple[float, str]:
        zs = [(abs(p[4]), p[0]) for p in self.params + self.derived if math.isfinite(p[4])]
        return max(zs) if zs else (math.nan, "-")


@dataclass
class Cell:
    """The outcome of one board x procedure run and its comparison."""

    board: str
    procedure: str
    status: str = "not run"
    reason: str = ""
    checks: list[Check] = field(default_factory=list)
    fits: list[FitCheck] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    verdicts: tuple[int, int] = (0, 0)
    run_s: float = 0.0
    check_s: float = 0.0

    def worst(self) -> tuple[float, str]:
        zs = [(abs(c.z), c.quantity) for c in self.checks]
        nan = [q for z, q in zs if math.isnan(z)]
        if nan:
            return math.nan, nan[0]
        return max(zs) if zs else (math.nan, "-")

    def gaussian_z(self) -> list[float]:
        """Every |z| an honest standard uncertainty makes a unit Gaussian: value checks with a u, fit parameters."""
        zs = [abs(c.z) for c in self.checks if not c.exact and c.bound == "value" and c.u > 0]
        return zs + [abs(p[4]) for f in self.fits for p in f.params + f.derived if math.isfinite(p[4])]

    def verdict(self) -> str:
        """``"pass"``: every |z| < 3 (the strict reading); ``"chance"``: some |z| >= 3, but no more of them than
        an honest u gives by chance (Poisson P >= :data:`P_CELL`), none beyond :data:`Z_OUTLIER`, and nothing
        else wrong; ``"fail"``: anything else (a run not complete, chi2_red >= 2, a fit skipped or not converged,
        a limit on the wrong side of the truth, a plan mismatch, or |z| that chance does not explain)."""
        from scipy.stats import poisson

        failures = self.failures()
        if not failures:
            return "pass"
        zs = self.gaussian_z()
        over = sum(z >= Z_MAX for z in zs)
        chance_only = len(failures) == over and max(zs) < Z_OUTLIER
        if chance_only and poisson.sf(over - 1, P_OVER * len(zs)) >= P_CELL:
            return "chance"
        return "fail"

    def failures(self) -> list[str]:
        out = []
        if self.status != "complete":
            out.append(f"run {self.status}: {self.reason}")
        out += [f"{c.quantity}: measured {c.measured:.7g}, truth {c.truth:.7g}, u {c.u:.3g}, z {c.z:+.2f}"
                for c in self.checks if not abs(c.z) < Z_MAX]
        for f in self.fits:
            if not f.chi2_red < CHI2_MAX:
                out.append(f"fit {f.name}: chi2_red {f.chi2_red:.3g} ({f.status})")
            elif f.status == "not converged":
                out.append(f"fit {f.name}: not converged")
            out += [f"fit {f.name}: {n} = {v:.6g} +- {e:.3g}, truth {t:.6g}, z {z:+.2f}"
                    for n, v, e, t, z in f.params + f.derived if not abs(z) < Z_MAX]
        out += [f"fit skipped/absent: {s}" for s in self.skipped]
        out += [n for n in self.notes if n.startswith("FAIL")]
        return out


def _parts(name: str, measured: complex, truth: complex, u_re: float, u_im: float) -> list[Check]:
    return [Check(f"{name}.re", measured.real, truth.real, u_re), Check(f"{name}.im", measured.imag, truth.imag, u_im)]


# ---------------------------------------------------------------------------------------------------------
# Drives as the simulated generator makes them


@dataclass(frozen=True)
class Generator:
    """The simulated generator's analog side from the bench config's ``[sim]``."""

    source_r_ohm: float
    ch2_gain: complex

    @classmethod
    def of(cls, bench: BenchConfig) -> Generator:
        sim = bench.sim
        g_db, ph = float(sim.get("gen_amplitude_mismatch_db", 0.0)), float(sim.get("gen_phase_mismatch_deg", 0.0))
        return cls(float(sim.get("gen_source_r_ohm", 50.0)), 10 ** (g_db / 20) * cmath.exp(1j * math.radians(ph)))

    def drives(self, exc: Excitation, dc_only: bool = False) -> tuple[list[Drive], tuple[int, int]]:
        """Both channels' Drives and the wiring for an excitation (``dc_only``: their DC levels alone)."""
        out = []
        for n, ch in enumerate(exc.channels, start=1):
            ac = 0j
            if not dc_only and exc.frequency_hz > 0 and ch.amplitude_vpk > 0:
                ac = ch.amplitude_vpk * cmath.exp(1j * math.radians(ch.phase_deg - 90.0))
                ac *= self.ch2_gain if n == 2 else 1.0
            out.append(Drive(ch.offset_v, ac, self.source_r_ohm, enabled=ch.on))
        return out, ((0, 0) if exc.tied else (0, 1))


# ---------------------------------------------------------------------------------------------------------
# Truth: gains


class GainTruth:
    """Small-signal S of the simulated board linearised where a drive holds the pins (cached per level)."""

    def __init__(self, board: BoardConfig, sim: SimBoard, gen: Generator) -> None:
        self.board, self.sim, self.gen = board, sim, gen
        self._boards: dict[float, SimBoard] = {}

    def pin_level(self, exc: Excitation) -> float:
        drives, wiring = self.gen.drives(exc, dc_only=True)
        ss = self.sim.steady_state(0.0, drives, wiring)
        return float(0.5 * (ss.harmonics("in1")[0].real + ss.harmonics("in2")[0].real))

    def s_at(self, f_hz: float, level_v: float) -> np.ndarray:
        """S at ``f_hz`` with both pins held at ``level_v`` by ideal sources (only the pins' level sets the
        operating point then: the bias rail feeds the bias resistors alone)."""
        b = self._boards.get(level_v)
        if b is None:
            b = self._boards[level_v] = SimBoard.from_config(dataclasses.replace(self.board, bias_v=level_v))
        return np.asarray(b.small_signal_s(f_hz))

    def s(self, f_hz: float, dm: Excitation, cm: Excitation) -> np.ndarray:
        s_dm, s_cm = self.s_at(f_hz, self.pin_level(dm)), self.s_at(f_hz, self.pin_level(cm))
        return np.array([[s_dm[0, 0], s_cm[0, 1]], [s_dm[1, 0], s_cm[1, 1]]])


def _db(x: complex) -> float:
    return 20.0 * math.log10(abs(x))


#: the single-ended gains as coefficients on the row-major S, ``[Add, Acd, Adc, Acc]`` (module docstring)
SE_COEFFS = {"Ad_se1": np.array([0.5, 0, 1, 0]), "Acm_se1": np.array([0, 0.5, 0, 1]),
             "Ad_se2": np.array([-0.5, 0, 1, 0]), "Acm_se2": np.array([0, -0.5, 0, 1])}


def _figures(S: np.ndarray) -> dict[str, float]:
    z = S.reshape(-1)
    se = {k: complex(c @ z) for k, c in SE_COEFFS.items()}
    return {"CMRR_se1_db": _db(se["Ad_se1"] / se["Acm_se1"]), "CMRR_se2_db": _db(se["Ad_se2"] / se["Acm_se2"]),
            "CMRR_diff_db": _db(z[0] / z[1]), "Add_over_Acc_db": _db(z[0] / z[3])}


def s_row_checks(tag: str, r: dict[str, Any], T: np.ndarray) -> list[Check]:
    """One row of mixed-mode gains (``S``, ``S_cov``, the single-ended gains, the dB figures) against ``T``."""
    S, cov = np.asarray(r["S"], complex), np.asarray(r["S_cov"], float)
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    checks: list[Check] = []
    for k, name in enumerate(("Add", "Acd", "Adc", "Acc")):
        checks += _parts(f"{tag}:{name}", complex(S.reshape(-1)[k]), complex(T.reshape(-1)[k]), sd[2 * k],
                         sd[2 * k + 1])
    for name, c in SE_COEFFS.items():
        jr, ji = np.zeros(8), np.zeros(8)
        jr[0::2], ji[1::2] = c, c
        checks += _parts(f"{tag}:{name}", complex(r[name]), complex(c @ T.reshape(-1)), math.sqrt(jr @ cov @ jr),
                         math.sqrt(ji @ cov @ ji))
    for name, value in _figures(T).items():
        checks.append(Check(f"{tag}:{name}", float(r[name]), value, float(r[f"{name}_u"]),
                            bound=str(r.get(f"{name}_kind", "value"))))
    return checks


def _groups(pts: Sequence[PlannedPoint]) -> dict[int, dict[str, PlannedPoint]]:
    out: dict[int, dict[str, PlannedPoint]] = {}
    for p in pts:
        out.setdefault(p.group, {})[p.role] = p
    return out


def gains_checks(rows: Sequence[dict[str, Any]], pts: Sequence[PlannedPoint], truth: GainTruth) -> list[Check]:
    """Every gains row (frequency sweep) against the truth at its frequency (module docstring)."""
    by_f = {float(g["dm"].excitation.frequency_hz): g for g in _groups(pts).values() if "dm" in g and "cm" in g}
    checks = [Check("gains:rows", float(len(rows)), float(len(by_f)), 0.0, exact=True)]
    for r in rows:
        f = float(r["frequency_hz"])
        if f not in by_f:
            checks.append(Check(f"gains[f={f:g}]:frequency in plan", f, math.nan, 0.0, exact=True))
            continue
        T = truth.s(f, by_f[f]["dm"].excitation, by_f[f]["cm"].excitation)
        checks += s_row_checks(f"gains[f={f:g}]", r, T)
    return checks


def cm_gains_checks(rows: Sequence[dict[str, Any]], pts: Sequence[PlannedPoint], truth: GainTruth) -> list[Check]:
    """Every cm_gains row (common-mode range) against the truth at its level: the DM column where the DM points
    hold the pins, the CM column where the (tied) CM points hold them (module docstring)."""
    by_b = {float(g["dm"].excitation.vic_dc_v): g for g in _groups(pts).values() if "dm" in g and "cm" in g}
    checks = [Check("cm_gains:rows", float(len(rows)), float(len(by_b)), 0.0, exact=True)]
    for r in rows:
        b = float(r["bias_v"])
        if b not in by_b:
            checks.append(Check(f"cm_gains[bias={b:g}]:level in plan", b, math.nan, 0.0, exact=True))
            continue
        dm, cm = by_b[b]["dm"].excitation, by_b[b]["cm"].excitation
        checks.append(Check(f"cm_gains[bias={b:.4g}]:frequency_hz", float(r["frequency_hz"]), dm.frequency_hz, 0.0,
                            exact=True))
        checks += s_row_checks(f"cm_gains[bias={b:.4g}]", r, truth.s(dm.frequency_hz, dm, cm))
    return checks


# ---------------------------------------------------------------------------------------------------------
# Truth: differential gain versus drive or level


def dm_checks(rows: Sequence[dict[str, Any]], pts: Sequence[PlannedPoint], point_u: dict[int, np.ndarray],
              sim: SimBoard, gen: Generator, k_harm: int, kind: str) -> list[Check]:
    """Every dm_gain row against the steady state of its planned drive (module docstring)."""
    dms = sorted((p for p in pts if p.role == "dm"), key=lambda p: p.group)
    checks = [Check(f"{kind}:dm_gain rows", float(len(rows)), float(len(dms)), 0.0, exact=True)]
    truths = []
    for r, p in zip(rows, dms):
        exc = p.excitation
        tag = f"{kind}[vid={exc.vid_vpk:g},bias={exc.vic_dc_v:g}]"
        checks += [Check(f"{tag}:frequency_hz", float(r["frequency_hz"]), exc.frequency_hz, 0.0, exact=True),
                   Check(f"{tag}:vid_vpk_nominal", float(r["vid_vpk_nominal"]), exc.vid_vpk, 0.0, exact=True),
                   Check(f"{tag}:bias_v", float(r["bias_v"]), exc.vic_dc_v, 0.0, exact=True)]
        drives, wiring = gen.drives(exc)
        ss = sim.steady_state(exc.frequency_hz, drives, wiring, n_harmonics=max(32, k_harm))
        vod = ss.harmonics("out1") - ss.harmonics("out2")
        vid = ss.harmonics("in1") - ss.harmonics("in2")
        add_t = complex(vod[1] / vid[1])
        truths.append(add_t)
        u_add = complex(r["Add_u"])
        checks += _parts(f"{tag}:Add", complex(r["Add"]), add_t, u_add.real, u_add.imag)
        pu = point_u.get(p.group)
        if pu is None:
            checks.append(Check(f"{tag}:point row", 0.0, 1.0, 0.0, exact=True))
            continue
        vid_u = float(r["vid_vpk_u"]) if "vid_vpk_u" in r else float(math.hypot(pu[0], pu[1]))  # older archives
        checks.append(Check(f"{tag}:vid_vpk", float(r["vid_vpk"]), float(abs(vid[1])), vid_u))
        thd = float(r["thd_out"])
        if math.isfinite(thd):
            fund = abs(vod[1])
            sig = float(math.hypot(pu[2], pu[3])) / fund
            thd_t = float(np.sqrt(np.sum(np.abs(vod[2:k_harm + 1]) ** 2)) / fund)
            checks.append(Check(f"{tag}:thd_out", thd, math.sqrt(thd_t ** 2 + 2 * (k_harm - 1) * sig ** 2), sig))
    checks += _compression_checks(rows, truths, kind, dms)
    return checks


def _compression_checks(rows: Sequence[dict[str, Any]], truths: list[complex], kind: str,
                        dms: Sequence[PlannedPoint]) -> list[Check]:
    if not rows or len(truths) != len(rows):
        return []
    i_ref = min(range(len(rows)), key=lambda i: float(rows[i]["vid_vpk"]))
    ref, ref_t = rows[i_ref], abs(truths[i_ref])
    rel_ref = complex(ref["Add_u"]).real / abs(complex(ref["Add"]))
    out = []
    for i, (r, t) in enumerate(zip(rows, truths)):
        exc = dms[i].excitation
        tag = f"{kind}[vid={exc.vid_vpk:g},bias={exc.vic_dc_v:g}]:compression"
        if i == i_ref:
            out.append(Check(tag, float(r["compression"]), 1.0, 0.0, exact=True))
            continue
        c = float(r["compression"])
        rel = complex(r["Add_u"]).real / abs(complex(r["Add"]))
        out.append(Check(tag, c, abs(t) / ref_t, c * math.hypot(rel, rel_ref)))
    return out


# ---------------------------------------------------------------------------------------------------------
# Truth: DC transfer


class DcTruth:
    """The board driven as the DC transfer drives it: EMFs bias +- v/2 behind the generator resistance."""

    def __init__(self, sim: SimBoard, gen: Generator, bias_v: float) -> None:
        self.sim, self.gen, self.bias_v = sim, gen, bias_v
        a, b = self.state(-0.01)["vid"], self.state(0.01)["vid"]
        self.k = (b - a) / 0.02  # pins' vid per EMF vid

    def state(self, v: float) -> dict[str, float]:
        r = self.gen.source_r_ohm
        ss = self.sim.steady_state(0.0, [Drive(self.bias_v + v / 2, 0j, r), Drive(self.bias_v - v / 2, 0j, r)],
                                   (0, 1))
        x = {n: float(ss.harmonics(n)[0].real) for n in ("in1", "in2", "out1", "out2")}
        return {"vid": x["in1"] - x["in2"], "vic": 0.5 * (x["in1"] + x["in2"]), "vo1": x["out1"], "vo2": x["out2"],
                "vod": x["out1"] - x["out2"]}

    def emf_for(self, vid_pins: float) -> float:
        """The EMF vid that puts ``vid_pins`` on the pins (fixed-slope iteration: the pins' vid is nearly linear)."""
        v = vid_pins / self.k
        for _ in range(20):
            err = self.state(v)["vid"] - vid_pins
            if abs(err) < 1e-13:
                break
            v -= err / self.k
        return v

    def slopes_at(self, v: float, h: float = 1e-5) -> dict[str, float]:
        """d(vod, vo1, vo2, vic)/d(pins' vid) at EMF ``v`` (central differences)."""
        lo, hi = self.state(v - h), self.state(v + h)
        return {k: (hi[k] - lo[k]) / (hi["vid"] - lo["vid"]) for k in ("vod", "vo1", "vo2", "vic")}

    def offset(self, lo: float, hi: float) -> tuple[float, float]:
        """(pins' vid where vod = 0, dvod/dvid there), searched for between EMFs ``lo`` and ``hi``."""
        v = brentq(lambda x: self.state(x)["vod"], lo, hi, xtol=1e-13)
        return self.state(v)["vid"], self.slopes_at(v)["vod"]


def _dc_link(points: dict[str, np.ndarray], sweep: str) -> tuple[np.ndarray, np.ndarray]:
    """(channel DC gains relative to v1, relative u of each channel's level) of the link point, as the analysis."""
    i = [j for j in range(len(points["role"])) if points["role"][j] == "link" and points["sweep"][j] == sweep]
    if not i:
        return np.ones(4), np.zeros(4)
    level = np.asarray(points["dc_v"][i[0]], float)
    return level / level[0], np.real(points["phasor_u"][i[0]]) / np.abs(level)


def dc_checks(rows: Sequence[dict[str, Any]], summary: Sequence[dict[str, Any]], pts: Sequence[PlannedPoint],
              points: dict[str, np.ndarray], truth: DcTruth, sweep: str) -> list[Check]:
    """Every dc row and the summary against the DC solves (module docstring)."""
    dcs = sorted((p for p in pts if p.role == "dc"), key=lambda p: p.group)
    checks = [Check("dc:rows", float(len(rows)), float(len(dcs)), 0.0, exact=True)]
    gain, rel = _dc_link(points, sweep)
    idx = sorted((j for j in range(len(points["role"])) if points["role"][j] == "dc" and points["sweep"][j] == sweep),
                 key=lambda j: int(points["group"][j]))
    for r, j in zip(rows, idx):
        vid_m = float(r["vid_v"])
        v = truth.emf_for(vid_m)
        t, slope = truth.state(v), truth.slopes_at(v)
        tag = f"dc[vid={vid_m:+.4f}]"
        u_vid = float(r["vid_v_u"])
        checks.append(Check(f"{tag}:vod_v", float(r["vod_v"]), t["vod"], math.hypot(float(r["vod_v_u"]),
                                                                                   slope["vod"] * u_vid)))
        dcv = np.asarray(points["dc_v"][j], float) / gain
        u = np.real(points["phasor_u"][j]) / gain
        for name, k in (("vo1_v", 2), ("vo2_v", 3)):
            uk = math.sqrt(u[k] ** 2 + (dcv[k] * rel[k]) ** 2 + (dcv[k] * rel[0]) ** 2)
            checks.append(Check(f"{tag}:{name}", float(r[name]), t[name[:3]], math.hypot(uk, slope[name[:3]] * u_vid)))
        u_vic = 0.5 * math.sqrt(u[0] ** 2 + u[1] ** 2 + dcv[1] ** 2 * (rel[0] ** 2 + rel[1] ** 2))
        checks.append(Check(f"{tag}:vic_v", float(r["vic_v"]), t["vic"], math.hypot(u_vic, slope["vic"] * u_vid)))
    checks += _summary_checks(rows, summary, dcs, truth)
    return checks


def _summary_u(rows: Sequence[dict[str, Any]]) -> tuple[float, float]:
    """u(offset), u(slope) of the analysis' estimator from the dc rows, by one-at-a-time steps of one u
    (module docstring): offset from the vod errors (independent) and one common vid shift; slope from both."""
    vid = np.array([float(r["vid_v"]) for r in rows])
    vod = np.array([float(r["vod_v"]) for r in rows])
    vid_u = np.array([float(r["vid_v_u"]) for r in rows])
    vod_u = np.array([float(r["vod_v_u"]) for r in rows])
    base = dc_transfer(vid, vod)
    var_off = var_slope = 0.0
    for i in range(len(rows)):
        step = np.zeros(len(rows))
        step[i] = 1.0
        by_vod = dc_transfer(vid, vod + step * vod_u[i])
        by_vid = dc_transfer(vid + step * vid_u[i], vod)
        var_off += (by_vod.offset_v - base.offset_v) ** 2
        var_slope += (by_vod.slope - base.slope) ** 2 + (by_vid.slope - base.slope) ** 2
    near = int(np.argmin(np.abs(vid - base.offset_v)))
    return math.sqrt(var_off + vid_u[near] ** 2), math.sqrt(var_slope)


def _summary_checks(rows: Sequence[dict[str, Any]], summary: Sequence[dict[str, Any]], dcs: Sequence[PlannedPoint],
                    truth: DcTruth) -> list[Check]:
    if len(summary) != 1:
        return [Check("dc_summary:rows", float(len(summary)), 1.0, 0.0, exact=True)]
    vods = [truth.state(p.excitation.vid_dc_v)["vod"] for p in dcs]
    cross = [i for i in range(len(vods) - 1) if vods[i] * vods[i + 1] <= 0]
    s = summary[0]
    if not cross:  # the analysis reports NaN for both then (procedures.analysis.dc_transfer)
        return [Check(f"dc_summary:{k} is NaN (the true vod does not cross 0 in the sweep)",
                      float(math.isnan(float(s[k]))), 1.0, 0.0, exact=True) for k in ("offset_v", "slope")]
    i = cross[0]
    off, slope = truth.offset(dcs[i].excitation.vid_dc_v, dcs[i + 1].excitation.vid_dc_v)
    u_off, u_slope = _summary_u(rows)
    return [Check("dc_summary:offset_v", float(s["offset_v"]), off, u_off),
            Check("dc_summary:slope", float(s["slope"]), slope, u_slope)]


# ---------------------------------------------------------------------------------------------------------
# Fits


def fit_truths(board: BoardConfig) -> dict[str, float]:
    """The true value of every fit parameter: tests/fits_truth.py for a closed-form board, the netlist's
    ``.param`` values of ``[netlist] fit_params`` for a netlist board."""
    nb = board.netlist
    if nb is not None and not nb.family:
        out = {name: float(nb.circuit.params[name.lower()]) for name in nb.fit_params}
        out["v_os"], out["slope"] = _ideal_drive_offset(board)
        return out
    return {k: float(v) for k, v in fit_truth(board).items()}


def _ideal_drive_offset(board: BoardConfig) -> tuple[float, float]:
    """(vid where vod = 0, dvod/dvid there) with the pins driven by ideal sources at bias +- vid/2: the offset
    truth of tests/fits_truth.py, for a board that module does not cover (a netlist board)."""
    sim = SimBoard.from_config(board)

    def vod(vid: float) -> float:
        ss = sim.steady_state(0.0, [Drive(board.bias_v + vid / 2, source_r_ohm=0.0),
                                    Drive(board.bias_v - vid / 2, source_r_ohm=0.0)], (0, 1))
        return float(ss.harmonics("out1")[0].real - ss.harmonics("out2")[0].real)

    v_os = float(brentq(vod, -0.05, 0.05, xtol=1e-12))
    h = 1e-5
    return v_os, (vod(v_os + h) - vod(v_os - h)) / (2 * h)


def fit_check(fit: Any, truths: dict[str, float]) -> FitCheck:
    out = FitCheck(fit.name, float(fit.chi2_red), str(fit.status))
    for n, v, e in zip(fit.params, fit.values, fit.stderr):
        if n not in truths:
            out.no_truth.append(n)
            continue
        z = (float(v) - truths[n]) / float(e) if float(e) > 0 else math.nan
        out.params.append((n, float(v), float(e), truths[n], z))
    for n, (v, e, _unit) in fit.derived.items():
        if n in truths and e > 0:
            out.derived.append((f"derived {n}", float(v), float(e), truths[n], (float(v) - truths[n]) / float(e)))
    return out


# ---------------------------------------------------------------------------------------------------------
# One cell


@contextmanager
def captured_warnings() -> Iterator[list[str]]:
    """Every WARNING-or-worse log message while the block runs."""
    lines: list[str] = []

    class Grab(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Grab(logging.WARNING)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lines
    finally:
        root.removeHandler(handler)


def _point_u(points: dict[str, np.ndarray], sweep: str) -> dict[int, np.ndarray]:
    return {int(points["group"][j]): np.real(points["phasor_u"][j]) for j in range(len(points["role"]))
            if points["role"][j] == "dm" and points["sweep"][j] == sweep}


def compare(cell: Cell, outcome: Any, board: BoardConfig, proc: ProcedureConfig, bench: BenchConfig) -> None:
    """Fill ``cell`` with every check of a complete run."""
    sim, gen = SimBoard.from_config(board), Generator.of(bench)
    pts = plan(proc, board, bench)
    with open_run(outcome.path) as run:
        points = dict(run.tables["points"])
    res = outcome.results
    k_harm = proc.acquisition_settings.harmonics
    for sweep in sweeps_of(proc.kind):
        mine = [p for p in pts if p.sweep == sweep]
        try:
            if sweep == "frequency_sweep":
                cell.checks += gains_checks(res.get("gains", []), mine, GainTruth(board, sim, gen))
            elif sweep in ("amplitude_sweep", "cm_range"):
                cell.checks += dm_checks(res.get("dm_gain", []), mine, _point_u(points, sweep), sim, gen, k_harm,
                                         sweep)
                if sweep == "cm_range" and (res.get("cm_gains") or any(p.role == "cm" for p in mine)):
                    cell.checks += cm_gains_checks(res.get("cm_gains", []), mine, GainTruth(board, sim, gen))
            else:
                bias = mine[0].excitation.vic_dc_v
                cell.checks += dc_checks(res.get("dc", []), res.get("dc_summary", []), mine, points,
                                         DcTruth(sim, gen, bias), sweep)
        except Exception as exc:  # a truth that cannot be computed fails the cell, with its reason
            cell.notes.append(f"FAIL truth of {sweep}: {type(exc).__name__}: {exc}")
    for table, rows in res.items():
        if table not in KNOWN_COLUMNS:
            cell.notes.append(f"FAIL result table {table!r} ({len(rows)} rows) is not checked by this benchmark")
            continue
        unknown = sorted({k for r in rows for k in r} - KNOWN_COLUMNS[table])
        if unknown:
            cell.notes.append(f"FAIL columns of {table} not checked by this benchmark: {', '.join(unknown)}")
    truths: dict[str, float] = {}
    if outcome.fits:
        try:
            truths = fit_truths(board)
        except Exception as exc:
            cell.notes.append(f"FAIL truth of the fit parameters: {type(exc).__name__}: {exc}")
    cell.fits = [fit_check(f, truths) for f in outcome.fits]
    fitted = {f.name for f in outcome.fits}
    for sweep in sweeps_of(proc.kind):
        name = FIT_OF_SWEEP[sweep]
        if name is None or name in fitted:
            continue
        if not any(s.startswith(f"{name} fit skipped") for s in cell.skipped):
            cell.skipped.append(f"{name}: absent, and no 'fit skipped' line in the run's log")
    cell.verdicts = (sum(v.passed for v in outcome.verdicts), len(outcome.verdicts))


def _expected_fits(proc_path: Path) -> set[str]:
    try:
        kinds = sweeps_of(load_procedure(proc_path).kind)
    except Exception:
        return set()
    return {f for k in kinds if (f := FIT_OF_SWEEP.get(k)) is not None}


def _source_state() -> str:
    """The commit and the files changed since it (the shipped configs and code this run measured)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            return ""
    changed = [ln[3:] for ln in git("status", "--porcelain").splitlines() if ln.strip()]
    return (f"source: commit {git('rev-parse', '--short', 'HEAD').strip() or '?'}, "
            f"{len(changed)} files changed or new: {', '.join(changed) or 'none'}")


def run_cell(board_path: Path, proc_path: Path, out_dir: Path, bench: BenchConfig, bench_path: Path = BENCH) -> Cell:
    cell = Cell(board_path.stem, proc_path.stem)
    out = out_dir / f"{cell.board}__{cell.procedure}.h5"
    out.unlink(missing_ok=True)
    t0 = time.perf_counter()
    with captured_warnings() as warned:
        try:
            outcome = run_procedure(proc_path, bench_path, board_path, out)
        except Exception as exc:
            cell.status, cell.reason = "error", f"{type(exc).__name__}: {exc}".splitlines()[0]
            cell.run_s = time.perf_counter() - t0
            return cell
    cell.run_s = time.perf_counter() - t0
    cell.status, cell.reason = outcome.status, outcome.reason
    expected = _expected_fits(proc_path)
    for line in warned:
        if " fit skipped: " in f" {line}" or (expected and line.startswith("no model fit")):
            cell.skipped.append(line)
        else:
            cell.notes.append(f"warning: {line}")
    if outcome.status == "complete":
        t1 = time.perf_counter()
        try:
            compare(cell, outcome, load_board(board_path), load_procedure(proc_path), bench)
        except Exception as exc:
            cell.notes.append(f"FAIL comparison: {type(exc).__name__}: {exc}")
        cell.check_s = time.perf_counter() - t1
    return cell


# ---------------------------------------------------------------------------------------------------------
# Output


def line_of(cell: Cell) -> str:
    z, q = cell.worst()
    fits = "; ".join(f"{f.name} chi2r={f.chi2_red:.3g} worst z={f.worst()[0]:.2f} ({f.worst()[1]})"
                     + (f" no truth: {','.join(f.no_truth)}" if f.no_truth else "") for f in cell.fits) or "none"
    skipped = f" | skipped: {'; '.join(cell.skipped)}" if cell.skipped else ""
    verdict = f" | verdicts {cell.verdicts[0]}/{cell.verdicts[1]}" if cell.verdicts[1] else ""
    flag = {"pass": "ok  ", "chance": "ok~ ", "fail": "FAIL"}[cell.verdict()]
    head = f"{flag} {cell.board:20s} {cell.procedure:16s} {cell.status:8s}"
    if cell.status not in ("complete",):
        return f"{head} {cell.reason} ({cell.run_s:.1f}s)"
    stat = [c for c in cell.checks if not c.exact]
    over = sum(not abs(c.z) < Z_MAX for c in stat)
    return (f"{head} n={len(cell.checks):4d} worst |z|={z:6.2f} ({q}) |z|>=3: {over} (Gaussian expects "
            f"{P_OVER * len(stat):.1f}) | fits: {fits}{skipped}{verdict} "
            f"| {cell.run_s:.1f}s (+{cell.check_s:.1f}s truth)")


def _jsonable(cell: Cell) -> dict[str, Any]:
    return {"board": cell.board, "procedure": cell.procedure, "status": cell.status, "reason": cell.reason,
            "run_s": cell.run_s, "check_s": cell.check_s, "verdicts_passed": cell.verdicts[0],
            "verdicts": cell.verdicts[1], "worst_abs_z": cell.worst()[0], "worst_quantity": cell.worst()[1],
            "checks": [{"quantity": c.quantity, "measured": c.measured, "truth": c.truth, "u": c.u, "z": c.z,
                        "exact": c.exact, "bound": c.bound} for c in cell.checks],
            "fits": [{"name": f.name, "chi2_red": f.chi2_red, "status": f.status, "no_truth": f.no_truth,
                      "params": [dict(zip(("name", "value", "stderr", "truth", "z"), p)) for p in f.params + f.derived]}
                     for f in cell.fits],
            "skipped_fits": cell.skipped, "notes": cell.notes, "failures": cell.failures()}


def _select(names: str | None, available: list[Path], what: str) -> list[Path]:
    if not names:
        return available
    by = {p.stem: p for p in available}
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in by]
    if unknown:
        raise SystemExit(f"--{what}: unknown {', '.join(unknown)} (known: {', '.join(by)})")
    return [by[n] for n in wanted]


def main(argv: Sequence[str] | None = None, emit: Callable[[str], None] = print) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boards", help="comma-separated board names (configs/boards/<name>.toml); default all")
    ap.add_argument("--procedures", help="comma-separated procedure names; default all")
    ap.add_argument("--out", type=Path, help="directory for the run archives (default: a temporary one)")
    ap.add_argument("--json", type=Path, help="write the per-cell results to this file")
    ap.add_argument("--seed", type=int, help="the simulated bench's [sim] seed (default: the bench file's): a "
                    "quantity off by more than 3 u under several seeds is biased, not unlucky")
    a = ap.parse_args(argv)
    boards = _select(a.boards, sorted(BOARDS.glob("*.toml")), "boards")
    procs = _select(a.procedures, sorted(PROCEDURES.glob("*.toml")), "procedures")
    tmp = None if a.out else tempfile.TemporaryDirectory(prefix="matrix-")
    out_dir = a.out or Path(tmp.name)  # type: ignore[union-attr]
    out_dir.mkdir(parents=True, exist_ok=True)
    bench_path = BENCH
    if a.seed is not None:
        bench_path = out_dir / f"{BENCH.stem}-seed{a.seed}.toml"
        text, n = re.subn(r"(?m)^seed = .*$", f"seed = {a.seed}", BENCH.read_text())
        if n != 1:
            raise SystemExit(f"--seed: {BENCH.relative_to(ROOT)} has no single [sim] seed line to replace")
        # the copy lives elsewhere: its relative paths (the bench's board) are made absolute
        text = re.sub(r'"(\.\.?/[^"]*)"', lambda m: f'"{(BENCH.parent / m.group(1)).resolve()}"', text)
        bench_path.write_text(text)
    bench = load_bench(bench_path)
    emit(f"{len(boards)} boards x {len(procs)} procedures on {BENCH.relative_to(ROOT)}"
         + (f" with [sim] seed = {a.seed}" if a.seed is not None else "") + f"; archives in {out_dir}")
    emit(_source_state())
    emit(f"not compared: {NOT_COMPARED}")
    cells = []
    for b in boards:
        for p in procs:
            cell = run_cell(b, p, out_dir, bench, bench_path)
            cells.append(cell)
            emit(line_of(cell))
            if a.json:
                a.json.write_text(json.dumps([_jsonable(c) for c in cells], indent=1, default=str))
    strict = [c for c in cells if c.failures()]
    failing = [c for c in cells if c.verdict() == "fail"]
    emit(f"\n{len(cells) - len(strict)} of {len(cells)} cells have every |z| < {Z_MAX:g}; "
         f"{len(cells) - len(failing)} of {len(cells)} pass as an honest u would (ok~: a few |z| >= {Z_MAX:g}, as "
         f"many as chance gives, Poisson P >= {P_CELL:g}, none >= {Z_OUTLIER:g}); cells with a |z| >= {Z_MAX:g} or "
         "a failure:")
    for c in strict:
        emit(f"- {c.board} x {c.procedure} ({c.verdict()}):")
        for f in c.failures():
            emit(f"    {f}")
    emit(matrix_statistics(cells))
    if tmp is not None:
        tmp.cleanup()
    return 1 if failing else 0


def matrix_statistics(cells: Sequence[Cell]) -> str:
    """Whole-matrix figures for the strict rule (every |z| < 3): how many |z| >= 3 an honest standard uncertainty
    gives by chance over this many checks (Poisson with mean ``P_OVER n``, checks taken as independent), and how
    likely the largest |z| is among them (``n erfc(|z|/sqrt 2)``, the expected count at least that far out)."""
    from scipy.stats import poisson

    zs = [z for cell in cells for z in cell.gaussian_z()]
    if not zs:
        return "no checks with an uncertainty"
    n, over, worst = len(zs), sum(z >= Z_MAX for z in zs), max(zs)
    expect = P_OVER * n
    return (f"all cells: {n} checks with a standard uncertainty (fit parameters included); |z| >= {Z_MAX:g}: "
            f"{over} (an unbiased Gaussian "
            f"quantity: {expect:.1f} expected, P(>= {over}) = {poisson.sf(over - 1, expect):.2g}); largest |z| "
            f"{worst:.2f} (expected number of checks that far out: {n * math.erfc(worst / math.sqrt(2)):.2g}); "
            f"limits checked: {sum(c.bound != 'value' for cell in cells for c in cell.checks)}")


if __name__ == "__main__":
    sys.exit(main())
