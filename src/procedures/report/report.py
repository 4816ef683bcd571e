"""``diffbench report``: figures and a one-page HTML summary of an archived run.

:func:`write_report` opens a run archive read-only (:func:`procedures.archive.reader.open_run`; the archive
is never modified), gathers what it holds and writes into one directory:

- ``bode_overview.png``: the four mixed-mode gains and the three CMRRs in dB versus frequency;
- ``bode_add.png``, ``bode_acc.png``, ``bode_acd.png``, ``bode_adc.png``: magnitude (dB) and phase (deg) of each
  mixed-mode gain, measured with uncertainty band, the prediction from the board's nominal components and
  any fit, and the residuals ``measured - model``;
- ``bode_cmrr_se.png`` (CMRR_se,k = |Ad_se,k/Acm_se,k| for both outputs) and ``bode_cmrr_diff.png``
  (CMRR_diff = |Add/Acd|), same layout; the phase panel is the phase of the complex ratio;
- ``gain_thd_vs_amplitude.png`` (amplitude sweep) and ``gain_thd_vs_bias.png`` (common-mode input range):
  |Add| in dB and the THD of vod versus the drive or the input DC level;
- ``dc_transfer.png``: vod, vo1, vo2 versus the DC differential input, with the offset and slope;
- ``report.html``: run identity and status, instruments, board, procedure, verdicts, the measured gains at
  a few frequencies with uncertainties, the prediction and fit differences, the fitted parameters, the
  figures (linked relatively, or embedded with ``embed=True``).

Only the figures whose tables the archive holds are made; a run that was aborted or failed before its
results were computed gets them recomputed in memory from its committed points when possible (and says so).

Models. The prediction is ``procedures.predict.prediction`` on the board config archived with the run; it is drawn
whenever that config parses. Fits come from ``procedures.fitting.run_fits``: those stored in the archive
(``load_fits``); if there are none and ``fit="auto"`` (the default), the report fits the run itself
(``fit_run``) and labels them "made by the report (not stored in the archive)"; ``fit="archived"`` only shows stored
fits, ``fit="none"`` none. A fit that fails is reported as a warning on the page, not as an error.

matplotlib is imported by :mod:`procedures.report.figures` only, and this module imports that lazily, so ``import
procedures`` stays light.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from instruments.errors import DiffbenchError
from procedures.archive.reader import RunIdentity

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python < 3.11
    import tomli as tomllib  # type: ignore[no-redef]

FIT_MODES = ("auto", "archived", "none")
K_COVERAGE = 2.0
GAIN_INDEX = {"Add": (0, 0), "Acd": (0, 1), "Adc": (1, 0), "Acc": (1, 1)}
GAIN_TITLES = {
    "Add": "Add: differential gain vod/vid",
    "Acc": "Acc: common-mode gain voc/vic",
    "Acd": "Acd: mode conversion, common mode in → differential out (vod/vic)",
    "Adc": "Adc: mode conversion, differential in → common mode out (voc/vid)",
}
DM_GAIN_COLUMNS = {"vid_vpk", "bias_v", "Add", "thd_out"}
DC_COLUMNS = {"vid_v", "vod_v", "vo1_v", "vo2_v"}


class ReportError(DiffbenchError):
    """The report cannot be written (output directory unusable, ...); one line."""


# --------------------------------------------------------------------------------------------------------
# What the report is made of


@dataclass
class FigureFile:
    """One written figure: file name (relative to the report directory), title and caption."""

    key: str
    path: Path
    title: str
    caption: str


@dataclass
class ReportFiles:
    """What :func:`write_report` wrote."""

    out_dir: Path
    html: Path
    figures: list[FigureFile]
    warnings: list[str]

    @property
    def paths(self) -> list[Path]:
        return [self.html] + [f.path for f in self.figures]


@dataclass
class FreqData:
    """A frequency sweep, derived from the ``gains`` table."""

    f: np.ndarray
    S: np.ndarray  # (n, 2, 2)
    cov: np.ndarray  # (n, 8, 8) covariance of [Re S11, Im S11, Re S12, ...]
    S_ideal: np.ndarray | None
    table: dict[str, np.ndarray]
    recomputed: bool = False


@dataclass
class Context(RunIdentity):
    """Everything the figures and the page need, read from the archive (the file is closed afterwards)."""

    table_rows: dict[str, int]
    resumed: list[dict[str, Any]]
    opened_with_swmr: bool
    procedure: dict[str, Any]
    board: Any = None  # BoardConfig | None
    board_doc: dict[str, Any] | None = None
    freq: FreqData | None = None
    amplitude: dict[str, np.ndarray] | None = None
    cm_range: dict[str, np.ndarray] | None = None
    dc: dict[str, np.ndarray] | None = None
    dc_summary: dict[str, float] | None = None
    recomputed: list[str] = field(default_factory=list)
    fits: list[Any] = field(default_factory=list)
    fit_source: str = ""
    fit_note: str = ""  # why there is no fit, when there is none
    verdicts: dict[str, Any] | None = None
    other_results: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # model data prepared for the figures and the page
    pred_freq: Any = None  # (dense f, gains at dense f, gains at measured f)
    pred_amplitude: Any = None
    pred_cm: Any = None
    pred_dc: Any = None
    pred_summary: dict[str, Any] = field(default_factory=dict)

    @property
    def board_name(self) -> str:
        if self.board is not None:
            return self.board.name
        section = (self.board_doc or {}).get("board")  # any TOML shape: the config may not be valid
        name = section.get("name") if isinstance(section, dict) else None
        return str(name or self.metadata.get("board") or "unknown board")

    @property
    def procedure_name(self) -> str:
        return str(self.procedure.get("name") or self.metadata.get("procedure") or "unknown procedure")

    @property
    def kind(self) -> str:
        return str(self.procedure.get("kind") or self.metadata.get("kind") or "")

    @property
    def subtitle(self) -> str:
        date = self.start_time[:16].replace("T", " ") + " UTC" if self.start_time else ""
        status = "" if self.status == "complete" else f" — {self.status.upper()}"
        return f"board {self.board_name} — run {self.run_id[:8]} ({self.procedure_name}, {date}){status}"


# --------------------------------------------------------------------------------------------------------
# Reading


def default_out_dir(archive: str | os.PathLike[str]) -> Path:
    """``<run stem>-report/`` next to the archive (``run.h5`` and ``run.h5.partial`` both give ``run-report``)."""
    p = Path(archive)
    name = p.name
    for suffix in (".partial", ".h5", ".hdf5", ".nxs"):
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    return p.with_name(f"{name}-report")


def _read_context(run: Any, fit_mode: str) -> Context:
    proc_doc: dict[str, Any] = {}
    warnings: list[str] = []
    try:
        proc_doc = tomllib.loads(run.configs.get("procedure", "")).get("procedure", {})
    except tomllib.TOMLDecodeError as e:
        warnings.append(f"the archived procedure config does not parse ({e})")
    if not isinstance(proc_doc, dict):
        warnings.append("the archived procedure config has no [procedure] table")
        proc_doc = {}
    ctx = Context(
        **run.identity(),
        table_rows={t: run.n_rows(t) if run.tables[t] else 0 for t in run.tables}, resumed=list(run.resumed),
        opened_with_swmr=run.opened_with_swmr, procedure=dict(proc_doc), warnings=warnings,
    )
    _read_board(run, ctx)
    tables = {name: cols for name, cols in run.tables.items() if cols and len(next(iter(cols.values())))}
    if ctx.status != "complete" and run.tables.get("points") and _missing_results(ctx, tables):
        _recompute(run, ctx, tables)
    _read_tables(ctx, tables)
    _read_results(_RunView(run, tables) if ctx.recomputed else run, ctx, fit_mode)
    return ctx


class _RunView:
    """A run as the fitter sees it, with the tables the report recomputed in place of the empty archived ones
    (read-only; everything else is the run's own)."""

    def __init__(self, run: Any, tables: dict[str, dict[str, np.ndarray]]) -> None:
        self._run = run
        self.tables = {**run.tables, **tables}

    def n_rows(self, table: str) -> int:
        cols = self.tables.get(table)
        return len(next(iter(cols.values()))) if cols else 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._run, name)


def _read_board(run: Any, ctx: Context) -> None:
    if run.metadata.get("sim_board"):
        ctx.warnings.append(f"the simulated bench carried a different board, '{run.metadata['sim_board']}' "
                            "(diffbench run --sim-board, a deliberate fault; its config is archived as "
                            "configs/sim_board): the board below is the one it was judged and fitted against")
    text = run.configs.get("board")
    if not text:
        ctx.warnings.append("the archive holds no board config: no prediction")
        return
    try:
        ctx.board_doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        ctx.warnings.append(f"the archived board config does not parse ({e}): no prediction")
        return
    from instruments.board_config import parse_board

    try:
        ctx.board = parse_board(ctx.board_doc, source=f"{run.path.name}:board", raw=text)
    except DiffbenchError as e:
        ctx.warnings.append(f"the archived board config is not valid ({e}): no prediction")


def _missing_results(ctx: Context, tables: dict[str, Any]) -> bool:
    kinds = {"frequency_sweep": ("gains",), "amplitude_sweep": ("dm_gain",), "cm_range": ("dm_gain",),
             "dc_transfer": ("dc",), "characterisation": ("gains", "dm_gain", "dc")}
    return any(t not in tables for t in kinds.get(ctx.kind, ()))


def _recompute(run: Any, ctx: Context, tables: dict[str, Any]) -> None:
    """Results of a run that did not finish, from its committed points (in memory; the archive is untouched)."""
    if ctx.board is None:
        return
    try:
        from procedures.analysis.results import compute_results
        from procedures.config.procedure import parse_procedure
        from procedures.measure.plan import plan

        proc = parse_procedure(tomllib.loads(run.configs["procedure"]), source=f"{run.path.name}:procedure",
                               raw=run.configs["procedure"])
        points = plan(proc, ctx.board)
        cols = run.tables["points"]
        n = len(next(iter(cols.values())))
        rows = [{k: v[i] for k, v in cols.items()} for i in range(n)]
        results = compute_results(proc, rows, points)
    except Exception as e:  # noqa: BLE001 - a report of a broken run must still be written
        ctx.warnings.append(f"could not recompute results from the {run.n_rows('points')} committed points "
                            f"({type(e).__name__}: {_one_line(e)})")
        return
    for name, rows in results.items():
        if name in tables or not rows:
            continue
        keys = rows[0].keys()
        tables[name] = {k: np.array([r[k] for r in rows]) for k in keys}
        ctx.recomputed.append(name)
    planned = ctx.metadata.get("planned_points")
    of = f" of {planned} planned" if planned else ""
    cal_note = ""
    try:  # compute_results falls back to uncalibrated channels for a group whose link point was not measured
        role = np.asarray(cols["role"]).astype(str)
        group = np.asarray(cols["group"]).astype(int)
        solved = set(group[role == "dm"]) & set(group[role == "cm"])
        linked = set(group[role == "link"])
        if linked and "gains" in ctx.recomputed and solved - linked:
            cal_note = (f"{len(solved - linked)} of the {len(solved)} recomputed frequencies have no channel "
                        "calibration (link) point yet: their gains are uncalibrated (channel gain and phase "
                        "mismatch not removed)")
    except (KeyError, ValueError, TypeError):
        pass
    if ctx.recomputed:
        ctx.warnings.append(f"the run did not finish: table(s) {', '.join(ctx.recomputed)} were recomputed by the "
                            f"report from the {n} committed points{of} (not stored in the archive)")
    else:
        ctx.warnings.append(f"the run did not finish: its {n} committed points{of} complete no result yet (a "
                            "frequency needs both its differential and its common-mode points), so there is "
                            "nothing to plot")
    if cal_note:
        ctx.warnings.append(cal_note)


def _read_tables(ctx: Context, tables: dict[str, dict[str, np.ndarray]]) -> None:
    g = tables.get("gains")
    if g is not None and "S" in g and "frequency_hz" in g:
        S = np.asarray(g["S"], complex)
        n = S.shape[0]
        if "S_cov" in g:
            cov = np.asarray(g["S_cov"], float)
        else:
            u = np.asarray(g.get("S_u", np.zeros_like(S)))
            var = np.stack([np.real(u) ** 2, np.imag(u) ** 2], axis=-1).reshape(n, 8)
            cov = np.stack([np.diag(v) for v in var]) if n else np.zeros((0, 8, 8))
        ctx.freq = FreqData(np.asarray(g["frequency_hz"], float), S, cov,
                            np.asarray(g["S_ideal"], complex) if "S_ideal" in g else None, g,
                            recomputed="gains" in ctx.recomputed)
    for name, cols in tables.items():
        if DM_GAIN_COLUMNS <= set(cols):
            target = "cm_range" if _is_cm_range(name, cols, ctx.kind) else "amplitude"
            if getattr(ctx, target) is None:
                setattr(ctx, target, cols)
        elif DC_COLUMNS <= set(cols) and ctx.dc is None:
            ctx.dc = cols
    s = tables.get("dc_summary")
    if s is not None:
        ctx.dc_summary = {k: float(np.asarray(v)[-1]) for k, v in s.items() if np.asarray(v).dtype.kind == "f"}


def _is_cm_range(name: str, cols: dict[str, np.ndarray], kind: str) -> bool:
    if "cm" in name:
        return True
    if kind == "cm_range":
        return True
    if kind in ("amplitude_sweep", "characterisation"):
        return False
    bias, vid = np.asarray(cols["bias_v"], float), np.asarray(cols.get("vid_vpk_nominal", cols["vid_vpk"]), float)
    return bool(np.ptp(bias) > 1e-3 and np.ptp(vid) <= 1e-9 * max(np.max(np.abs(vid)), 1e-30))


def _read_results(run: Any, ctx: Context, fit_mode: str) -> None:
    v = run.results.get("verdicts")
    if v is not None:
        ctx.verdicts = {"arrays": v.arrays, "attrs": v.attrs, "units": v.units}
    ctx.other_results = [n for n in run.results if n != "verdicts"]
    if fit_mode == "none":
        ctx.fit_note = "fits not requested (--fit none)"
        return
    try:
        from procedures.fitting import run_fits as fitmod  # type: ignore[attr-defined]
    except ImportError:
        ctx.fit_note = "this diffbench has no model fitting (procedures.fitting.run_fits is not installed)"
        if ctx.other_results:
            ctx.warnings.append("the archive holds results (" + ", ".join(ctx.other_results) + ") but this "
                                "diffbench has no procedures.fitting.run_fits to read them")
        return
    try:
        ctx.fits = list(fitmod.load_fits(run))
        ctx.fit_source = "stored in the archive" if ctx.fits else ""
    except Exception as e:  # noqa: BLE001
        ctx.warnings.append(f"could not read the archived fits ({type(e).__name__}: {_one_line(e)})")
    if ctx.fits:
        return
    if fit_mode != "auto":
        ctx.fit_note = "the archive holds no fit (and --fit archived does not fit the run)"
        return
    if ctx.board is None:
        ctx.fit_note = "the archive holds no usable board config to start a fit from"
        return
    if ctx.freq is None and ctx.amplitude is None and ctx.dc is None:
        ctx.fit_note = "no table to fit"
        return
    try:
        notes: list[str] = []
        with _quiet_logger(getattr(fitmod, "__name__", "procedures.fitting.run_fits")):  # its notes come back in ``notes``
            try:
                ctx.fits = list(fitmod.fit_run(run, ctx.board, notes=notes))
            except TypeError:  # a fit_run without the notes argument
                ctx.fits = list(fitmod.fit_run(run, ctx.board))
        ctx.warnings += [f"model fit: {n}" for n in notes]
        ctx.fit_source = "made by the report (not stored in the archive)" if ctx.fits else ""
        if not ctx.fits:
            ctx.fit_note = "the fitter found nothing to fit in this run"
    except Exception as e:  # noqa: BLE001 - a failing fit must not cost the user the report
        ctx.fit_note = f"fitting the run failed ({type(e).__name__}: {_one_line(e)})"
        ctx.warnings.append(ctx.fit_note + "; no fit shown")


@contextlib.contextmanager
def _quiet_logger(name: str) -> Iterator[None]:
    """Keep one logger's records off stderr for a while (the report shows them on the page and as warnings)."""
    lg = logging.getLogger(name)
    null = logging.NullHandler()
    propagate = lg.propagate
    lg.addHandler(null)
    lg.propagate = False
    try:
        yield
    finally:
        lg.removeHandler(null)
        lg.propagate = propagate


def _one_line(e: BaseException) -> str:
    t = str(e).strip()
    return t.splitlines()[0] if t else type(e).__name__


# --------------------------------------------------------------------------------------------------------
# Uncertainty propagation on S (rows of 2x2 complex with an 8x8 real covariance)


def _real_vec(S: np.ndarray) -> np.ndarray:
    z = S.reshape(-1)
    return np.column_stack([z.real, z.imag]).reshape(-1)


def _from_real(x: np.ndarray) -> np.ndarray:
    return (x[0::2] + 1j * x[1::2]).reshape(2, 2)


def derived(S: np.ndarray, cov: np.ndarray, fn: Callable[[np.ndarray], complex]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A complex function of S per row: value, standard uncertainty of its magnitude in dB, and of its phase
    in degrees (first order, numerical Jacobian, full covariance of S)."""
    with np.errstate(all="ignore"):  # a zero gain (an ideal element) gives inf / NaN, which the plots skip
        return _derived(S, cov, fn)


def _derived(S: np.ndarray, cov: np.ndarray, fn: Callable[[np.ndarray], complex]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = S.shape[0]
    val = np.empty(n, complex)
    u_db = np.full(n, np.nan)
    u_deg = np.full(n, np.nan)
    for r in range(n):
        x0 = _real_vec(S[r])
        w = complex(fn(S[r]))
        val[r] = w
        J = np.empty((2, 8))
        for i in range(8):
            scale = max(abs(x0[i]), 1e-9 * max(np.max(np.abs(x0)), 1e-300))
            h = 1e-6 * scale
            xp, xm = x0.copy(), x0.copy()
            xp[i] += h
            xm[i] -= h
            d = (complex(fn(_from_real(xp))) - complex(fn(_from_real(xm)))) / (2 * h)
            J[:, i] = d.real, d.imag
        C = J @ cov[r] @ J.T  # 2x2 covariance of (Re w, Im w)
        a = abs(w)
        if 0 < a < math.inf and np.all(np.isfinite(C)):
            g = np.array([w.real, w.imag]) / a
            p = np.array([-w.imag, w.real]) / a ** 2
            u_db[r] = 20.0 / math.log(10) * math.sqrt(max(g @ C @ g, 0.0)) / a
            u_deg[r] = math.degrees(math.sqrt(max(p @ C @ p, 0.0)))
    return val, u_db, u_deg


def element_u(S: np.ndarray, cov: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One element of S per row: value, standard uncertainty of |.| in dB and of the phase in degrees."""
    i, j = GAIN_INDEX[name]
    k = 2 * (2 * i + j)
    z = S[:, i, j]
    C = cov[:, k:k + 2, k:k + 2]
    a = np.abs(z)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.stack([z.real, z.imag], -1) / a[:, None]
        p = np.stack([-z.imag, z.real], -1) / (a ** 2)[:, None]
        u_mag = np.sqrt(np.maximum(np.einsum("ni,nij,nj->n", g, C, g), 0.0))
        u_ph = np.sqrt(np.maximum(np.einsum("ni,nij,nj->n", p, C, p), 0.0))
        return z, 20.0 / math.log(10) * u_mag / a, np.degrees(u_ph)


def mag_u(z: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Standard uncertainty of |z| from a ``u(re) + j u(im)`` column (independent quadratures)."""
    z, u = np.asarray(z, complex), np.asarray(u, complex)
    a = np.abs(z)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.sqrt((z.real * u.real) ** 2 + (z.imag * u.imag) ** 2) / a
    return np.where(a > 0, out, np.hypot(u.real, u.imag) / math.sqrt(2))


def se_functions() -> dict[str, Callable[[np.ndarray], complex]]:
    """Complex ratios behind the CMRRs: Ad_se,k/Acm_se,k and Add/Acd (docs/conventions.md conventions)."""
    return {
        "CMRR_se1": lambda S: (S[0, 0] / 2 + S[1, 0]) / (S[1, 1] + S[0, 1] / 2),
        "CMRR_se2": lambda S: (-S[0, 0] / 2 + S[1, 0]) / (S[1, 1] - S[0, 1] / 2),
        "CMRR_diff": lambda S: S[0, 0] / S[0, 1],
    }


def _ratios(g: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The CMRR ratios from arrays of Add, Acd, Adc, Acc (model curves)."""
    add, acd, adc, acc = (np.asarray(g[k]) for k in ("Add", "Acd", "Adc", "Acc"))
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"CMRR_se1": (add / 2 + adc) / (acc + acd / 2), "CMRR_se2": (-add / 2 + adc) / (acc - acd / 2),
                "CMRR_diff": add / acd}


# --------------------------------------------------------------------------------------------------------
# Models: prediction from the board config, fits from procedures.fitting.run_fits


def _prediction_freq(ctx: Context) -> None:
    fd = ctx.freq
    if ctx.board is None or fd is None or not fd.f.size:
        return
    from procedures.predict.prediction import predict

    f = fd.f
    lo, hi = float(np.min(f)) / 1.5, float(np.max(f)) * 1.5
    dense = np.geomspace(lo, hi, 301) if hi > lo else np.array([lo])
    try:
        p = predict(ctx.board, np.concatenate([dense, f]))
    except DiffbenchError as e:
        ctx.warnings.append(f"no prediction: {e}")
        return
    g = p.gains
    allg = {"Add": np.broadcast_to(g.add, p.freq_hz.shape), "Acd": np.broadcast_to(g.acd, p.freq_hz.shape),
            "Adc": np.broadcast_to(g.adc, p.freq_hz.shape), "Acc": np.broadcast_to(g.acc, p.freq_hz.shape)}
    allg.update(_ratios(allg))
    m = dense.size
    ctx.pred_freq = (dense, {k: np.asarray(v)[:m] for k, v in allg.items()}, {k: np.asarray(v)[m:] for k, v in allg.items()})
    dc = p.dc_gains
    ctx.pred_summary.update({
        "Add_dc": complex(dc.add), "Acc_dc": complex(dc.acc), "Acd_dc": complex(dc.acd),
        "CMRR_se1_dc_db": float(20 * np.log10(dc.cmrr_se(1))), "CMRR_se2_dc_db": float(20 * np.log10(dc.cmrr_se(2))),
        "CMRR_diff_dc_db": float(20 * np.log10(dc.cmrr_diff)) if np.isfinite(dc.cmrr_diff) else math.inf,
        "bandwidth_hz": p.bandwidth_hz, "tail_zero_hz": p.tail_zero_hz, "warnings": list(p.warnings),
    })


def _prediction_amplitude(ctx: Context) -> None:
    a = ctx.amplitude
    if ctx.board is None or a is None:
        return
    from procedures.predict.prediction import predict

    x = np.asarray(a["vid_vpk"], float)
    ok = np.isfinite(x) & (x > 0)
    if not ok.any():
        return
    f0 = float(np.median(a["frequency_hz"]))
    hi = max(float(x[ok].max()) * 1.3, ctx.board.vid_max_vpk if ctx.board.vid_max_vpk < 3 * x[ok].max() else 0)
    dense = np.geomspace(float(x[ok].min()) / 1.3, hi, 120)
    amps = np.concatenate([dense, np.where(ok, x, 1.0)])
    try:
        p = predict(ctx.board, np.array([f0]), amps)
    except DiffbenchError as e:
        ctx.warnings.append(f"no large-signal prediction: {e}")
        return
    add = complex(np.asarray(p.gains.add).reshape(-1)[0])
    gain = add * p.large.distortion.gain_ratio
    thd = p.large.distortion.thd
    m = dense.size
    at_gain, at_thd = gain[m:].copy(), thd[m:].copy()
    at_gain[~ok] = np.nan
    at_thd[~ok] = np.nan
    ctx.pred_amplitude = (dense, gain[:m], thd[:m], at_gain, at_thd, p.large.transfer)


def _prediction_cm(ctx: Context) -> None:
    c = ctx.cm_range
    if ctx.board is None or c is None:
        return
    from procedures.predict.prediction import predict

    bias = np.asarray(c["bias_v"], float)
    f0 = float(np.median(c["frequency_hz"]))
    amp = float(np.median(c["vid_vpk"]))
    lo = min(float(bias.min()), ctx.board.bias_min_v)
    hi = max(float(bias.max()), ctx.board.bias_max_v)
    pad = 0.05 * (hi - lo or 1.0)
    dense = np.linspace(lo - pad, hi + pad, 41)

    def at(b: float) -> tuple[complex, float]:
        try:
            p = predict(replace(ctx.board, bias_v=float(b)), np.array([f0]), np.array([amp]))
        except (DiffbenchError, ValueError, ArithmeticError):
            return complex("nan"), math.nan
        if not p.op.all_active:
            return complex("nan"), math.nan
        add = complex(np.asarray(p.gains.add).reshape(-1)[0])
        return add * float(p.large.distortion.gain_ratio[0]), float(p.large.distortion.thd[0])

    dd = [at(b) for b in dense]
    mm = [at(b) for b in bias]
    ctx.pred_cm = (dense, np.array([d[0] for d in dd]), np.array([d[1] for d in dd]),
                   np.array([d[0] for d in mm]), np.array([d[1] for d in mm]))


def _prediction_dc(ctx: Context) -> None:
    d = ctx.dc
    if ctx.board is None or d is None:
        return
    from procedures.predict.prediction import _headroom, differential_current_transfer, predict

    vid = np.asarray(d["vid_v"], float)
    if not vid.size:
        return
    try:
        p = predict(ctx.board, np.array([0.0]))
    except DiffbenchError as e:
        ctx.warnings.append(f"no DC prediction: {e}")
        return
    transfer, name = differential_current_transfer(ctx.board, p.op)
    span = float(np.ptp(vid)) or 0.1
    dense = np.linspace(float(vid.min()) - 0.03 * span, float(vid.max()) + 0.03 * span, 401)
    h = 1e-6
    slope = float((transfer(np.array([h]))[0] - transfer(np.array([-h]))[0]) / (2 * h))
    t0 = float(transfer(np.array([0.0]))[0])
    dc = p.dc_gains

    def outputs(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        xe = (transfer(v) - t0) / slope  # linear-equivalent input (V), as procedures.predict.prediction does
        vo1 = p.op.vo1 + complex(dc.ad_se(1)).real * xe
        vo2 = p.op.vo2 + complex(dc.ad_se(2)).real * xe
        return vo1 - vo2, vo1, vo2

    vod_d, vo1_d, vo2_d = outputs(dense)
    vod_m, _, _ = outputs(vid)
    sat: list[tuple[float, float]] = []
    try:
        margin = _headroom(ctx.board, p.op, dense[:, None], (vo1_d[:, None], vo2_d[:, None]))
        bad = margin < 0
        i = 0
        while i < bad.size:
            if bad[i]:
                j = i
                while j + 1 < bad.size and bad[j + 1]:
                    j += 1
                sat.append((float(dense[i]), float(dense[j])))
                i = j + 1
            else:
                i += 1
    except Exception:  # noqa: BLE001 - the shading is an aid, not a result
        sat = []
    ctx.pred_dc = (dense, vod_d, vo1_d, vo2_d, vod_m, sat, name)
    ctx.pred_summary.update({"offset_v": p.input_offset_v, "offset_transfer_v": p.input_offset_transfer_v,
                             "dc_slope": complex(dc.add).real if p.op.mirror is None else None,
                             "vo1_v": p.op.vo1, "vo2_v": p.op.vo2})


def fits_for(ctx: Context, x_name: str) -> list[Any]:
    """The fits whose independent variable is ``x_name``."""
    return [f for f in ctx.fits if getattr(f, "x_name", None) == x_name]


def _fit_at(fit: Any, key: str, x: np.ndarray) -> np.ndarray | None:
    """A fit's values of ``key`` at ``x``: its own ``fitted`` if its x are these, else the curve interpolated."""
    fx = np.asarray(getattr(fit, "x", []), float)
    fitted = getattr(fit, "fitted", {}) or {}
    if key in fitted and fx.shape == x.shape and np.allclose(fx, x, rtol=1e-9, atol=0):
        out = np.array(fitted[key])
        used = np.asarray(getattr(fit, "used", np.zeros(0, bool)), bool)
        if used.shape == out.shape and not used.all():  # points outside the fitted region: no residual
            out = out.astype(complex if np.iscomplexobj(out) else float)
            out[~used] = np.nan
        return out
    cx = np.asarray(getattr(fit, "curve_x", []), float)
    cy = (getattr(fit, "curve_fitted", {}) or {}).get(key)
    if cy is None or cx.size < 2:
        return None
    cy = np.asarray(cy)
    o = np.argsort(cx)
    logx = x_name_is_log(fit)
    xs = np.log10(cx[o]) if logx else cx[o]
    xt = np.log10(x) if logx else x
    if np.iscomplexobj(cy):
        return np.interp(xt, xs, cy[o].real, left=np.nan, right=np.nan) + 1j * np.interp(
            xt, xs, cy[o].imag, left=np.nan, right=np.nan)
    return np.interp(xt, xs, cy[o], left=np.nan, right=np.nan)


def x_name_is_log(fit: Any) -> bool:
    return getattr(fit, "x_name", "") in ("frequency_hz", "vid_vpk")


def _fit_label(fit: Any, ctx: Context) -> str:
    chi = getattr(fit, "chi2_red", float("nan"))
    tag = "" if "archive" in ctx.fit_source else ", report"
    return f"fit {fit.name} (χ²_red = {chi:.3g}{tag})" if math.isfinite(chi) else f"fit {fit.name}{tag}"


def _fit_curves(ctx: Context, fit: Any, keys: Sequence[str], x: np.ndarray) -> dict[str, Any]:
    """``key -> ModelCurve`` for the keys a fit provides (complex ratios derived when all four gains are there)."""
    from procedures.report.figures import ModelCurve

    cf = dict(getattr(fit, "curve_fitted", {}) or {})
    cx = np.asarray(getattr(fit, "curve_x", []), float)
    at = {k: _fit_at(fit, k, x) for k in ("Add", "Acd", "Adc", "Acc") if k in cf}
    if all(k in cf for k in ("Add", "Acd", "Adc", "Acc")):
        cf.update(_ratios(cf))
        if all(at.get(k) is not None for k in ("Add", "Acd", "Adc", "Acc")):
            at.update(_ratios(at))  # type: ignore[arg-type]
    out = {}
    for k in keys:
        if k in cf and cx.size:
            out[k] = ModelCurve(_fit_label(fit, ctx), "fit", cx, np.asarray(cf[k]), at.get(k, _fit_at(fit, k, x)))
    return out


# --------------------------------------------------------------------------------------------------------
# Figures


def _freq_series(ctx: Context) -> tuple[dict[str, Any], dict[str, Any]]:
    """BodeSeries for the four gains and the three CMRRs."""
    from procedures.report.figures import BodeSeries, ModelCurve

    fd = ctx.freq
    assert fd is not None
    models: dict[str, list[Any]] = {k: [] for k in ("Add", "Acd", "Adc", "Acc", "CMRR_se1", "CMRR_se2", "CMRR_diff")}
    if ctx.pred_freq is not None:
        dense, curve, at = ctx.pred_freq
        for k in models:
            models[k].append(ModelCurve("prediction (nominal components)", "prediction", dense, curve[k], at[k]))
    for fit in fits_for(ctx, "frequency_hz"):
        for k, mc in _fit_curves(ctx, fit, list(models), fd.f).items():
            models[k].append(mc)
    gains = {}
    for name in ("Add", "Acc", "Acd", "Adc"):
        z, udb, udeg = element_u(fd.S, fd.cov, name)
        gains[name] = BodeSeries(name, name, fd.f, 20 * np.log10(np.abs(z)), udb, np.degrees(np.angle(z)), udeg,
                                 models=models[name])
    t = fd.table
    cmrrs = {}
    for name, fn in se_functions().items():
        w, udb, udeg = derived(fd.S, fd.cov, fn)
        col = f"{name}_db"
        mag = np.asarray(t[col], float) if col in t else 20 * np.log10(np.abs(w))
        umag = np.asarray(t[f"{col}_u"], float) if f"{col}_u" in t else udb
        ideal = np.asarray(t[f"{name}_ideal_db"], float) if f"{name}_ideal_db" in t else None
        label = {"CMRR_se1": "CMRR_se,1", "CMRR_se2": "CMRR_se,2", "CMRR_diff": "CMRR_diff"}[name]
        phase = np.where(np.isfinite(w), np.degrees(np.angle(w)), np.nan)  # no phase for an infinite ratio
        cmrrs[name] = BodeSeries(name, label, fd.f, mag, umag, phase, udeg, models=models[name],
                                 ideal_db=ideal)
    return gains, cmrrs


def _make_figures(ctx: Context, out: Path) -> list[FigureFile]:
    from procedures.report import figures as plots

    figs: list[FigureFile] = []
    k = K_COVERAGE
    note = (f"Uncertainty: measured ± {k:g}u (k = {k:g}). Prediction: procedures.predict.prediction on the archived board "
            f"config. {('Fit: ' + ctx.fit_source + '.') if ctx.fits else 'No fit.'}  Archive: {ctx.path.name}")

    def emit(key: str, fig: Any, title: str, caption: str) -> None:
        p = plots.save(fig, out / f"{key}.png")
        figs.append(FigureFile(key, p, title, caption))

    if ctx.freq is not None and ctx.freq.f.size:
        gains, cmrrs = _freq_series(ctx)
        emit("bode_overview", plots.overview(list(gains.values()), list(cmrrs.values()),
                                             title="Mixed-mode gains and CMRR versus frequency", subtitle=ctx.subtitle, k=k),
             "Overview", "Magnitudes of Add, Acc, Acd, Adc (left) and CMRR_se,1, CMRR_se,2, CMRR_diff (right), in dB; "
             "measured (markers, shaded ±2u) and predicted from the board's nominal components (dashed).")
        for name in ("Add", "Acc", "Acd", "Adc"):
            emit(f"bode_{name.lower()}", plots.bode([gains[name]], title=f"Bode plot of {GAIN_TITLES[name]}",
                                                    subtitle=ctx.subtitle, mag_label=f"|{name}| (dB)",
                                                    phase_label=f"phase of {name} (deg)", k=k, note=note),
                 GAIN_TITLES[name], f"|{name}| in dB and its phase in degrees versus frequency; bottom: measured − "
                 "prediction (hollow) and − fit (filled).")
        emit("bode_cmrr_se", plots.bode([cmrrs["CMRR_se1"], cmrrs["CMRR_se2"]],
                                        title="Single-ended CMRR: CMRR_se,k = |Ad_se,k / Acm_se,k| per output k",
                                        subtitle=ctx.subtitle, mag_label="CMRR_se,k (dB)",
                                        phase_label="phase of Ad_se,k / Acm_se,k (deg)", k=k, note=note),
             "CMRR_se (single-ended, per output)",
             "CMRR_se,1 and CMRR_se,2 in dB (the textbook g_m·R_SS figure), with the phase of the complex ratio; "
             "hollow diamonds: the same figure under an ideal-generator assumption.")
        emit("bode_cmrr_diff", plots.bode([cmrrs["CMRR_diff"]], title="Differential CMRR: CMRR_diff = |Add / Acd|",
                                          subtitle=ctx.subtitle, mag_label="CMRR_diff (dB)",
                                          phase_label="phase of Add / Acd (deg)", k=k, note=note),
             "CMRR_diff (differential output)",
             "CMRR_diff in dB (set by mismatch), with the phase of Add/Acd; hollow diamonds: ideal-generator assumption.")
    if ctx.amplitude is not None and len(ctx.amplitude["vid_vpk"]):
        emit("gain_thd_vs_amplitude", plots.gain_thd(_sweep_data(ctx, ctx.amplitude, "amplitude"),
                                                     title="Differential gain and THD versus drive amplitude",
                                                     subtitle=ctx.subtitle, k=k,
                                                     frequency_hz=float(np.median(ctx.amplitude["frequency_hz"]))),
             "Gain and THD versus amplitude",
             "|Add| in dB at the fundamental (left, with the 1 dB compression line) and THD of vod in % (right) "
             "versus the measured differential input amplitude.")
    if ctx.cm_range is not None and len(ctx.cm_range["bias_v"]):
        emit("gain_thd_vs_bias", plots.gain_thd(_sweep_data(ctx, ctx.cm_range, "cm"),
                                                title="Common-mode input range: differential gain and THD versus input DC level",
                                                subtitle=ctx.subtitle, k=k,
                                                frequency_hz=float(np.median(ctx.cm_range["frequency_hz"]))),
             "Common-mode input range",
             "|Add| in dB and THD of vod versus the DC level of both inputs; dotted lines: the board's safe bias limits.")
    if ctx.dc is not None and len(ctx.dc["vid_v"]):
        emit("dc_transfer", plots.dc_transfer(_dc_data(ctx), title="DC transfer: vod versus vid",
                                              subtitle=ctx.subtitle, k=k),
             "DC transfer",
             "vod versus the DC differential input with the input offset and slope; vo1 and vo2; the residual "
             "against the models; the incremental gain.")
    return figs


def _sweep_data(ctx: Context, t: dict[str, np.ndarray], which: str) -> Any:
    from procedures.report.figures import ModelCurve, SweepData

    gain = np.asarray(t["Add"], complex)
    gu = mag_u(gain, t["Add_u"]) if "Add_u" in t else np.zeros(gain.shape)
    thd = np.asarray(t["thd_out"], float)
    if which == "amplitude":
        x = np.asarray(t["vid_vpk"], float)
        d = SweepData(x, gain, gu, thd)
        if x.size:
            d.reference_gain = float(np.abs(gain[int(np.argmin(x))]))
        if ctx.board is not None:
            d.limits.append((ctx.board.vid_max_vpk, f"board limit vid_max = {ctx.board.vid_max_vpk:g} V"))
        if ctx.pred_amplitude is not None:
            dense, g, th, ag, at_, name = ctx.pred_amplitude
            lab = f"prediction ({name})"
            d.gain_models.append(ModelCurve(lab, "prediction", dense, g, ag))
            d.thd_models.append(ModelCurve(lab, "prediction", dense, th, at_))
        for fit in fits_for(ctx, "vid_vpk"):
            cx = np.asarray(fit.curve_x, float)
            for key, target in (("gain", d.gain_models), ("Add", d.gain_models), ("thd", d.thd_models)):
                y = (fit.curve_fitted or {}).get(key)
                if y is not None:
                    target.append(ModelCurve(_fit_label(fit, ctx), "fit", cx, np.asarray(y), _fit_at(fit, key, x)))
        return d
    x = np.asarray(t["bias_v"], float)
    d = SweepData(x, gain, gu, thd, x_label="input DC level, both inputs (V)", x_log=False)
    if ctx.board is not None:
        d.limits += [(ctx.board.bias_min_v, f"bias_min = {ctx.board.bias_min_v:g} V"),
                     (ctx.board.bias_max_v, f"bias_max = {ctx.board.bias_max_v:g} V")]
    if ctx.pred_cm is not None:
        dense, g, th, ag, at_ = ctx.pred_cm
        d.gain_models.append(ModelCurve("prediction (operating point per level)", "prediction", dense, g, ag))
        d.thd_models.append(ModelCurve("prediction (operating point per level)", "prediction", dense, th, at_))
    return d


def _dc_data(ctx: Context) -> Any:
    from procedures.report.figures import DcData, ModelCurve

    t = ctx.dc
    assert t is not None
    vid = np.asarray(t["vid_v"], float)
    d = DcData(vid, np.asarray(t.get("vid_v_u", np.zeros_like(vid)), float), np.asarray(t["vod_v"], float),
               np.asarray(t.get("vod_v_u", np.zeros_like(vid)), float), np.asarray(t["vo1_v"], float),
               np.asarray(t["vo2_v"], float))
    if ctx.dc_summary:
        d.offset_v = ctx.dc_summary.get("offset_v")
        d.slope = ctx.dc_summary.get("slope")
    if ctx.pred_dc is not None:
        dense, vod, vo1, vo2, at, sat, name = ctx.pred_dc
        lab = f"prediction ({name})"
        d.vod_models.append(ModelCurve(lab, "prediction", dense, vod, at))
        d.vo_models = {"vo1": ModelCurve(lab, "prediction", dense, vo1), "vo2": ModelCurve(lab, "prediction", dense, vo2)}
        d.saturation = sat
    for fit in fits_for(ctx, "vid_v"):
        y = (fit.curve_fitted or {}).get("vod_v")
        if y is not None:
            d.vod_models.append(ModelCurve(_fit_label(fit, ctx), "fit", np.asarray(fit.curve_x, float), np.asarray(y),
                                           _fit_at(fit, "vod_v", vid)))
    return d


# --------------------------------------------------------------------------------------------------------
# Entry point


FIGURE_KEYS = ("bode_overview", "bode_add", "bode_acc", "bode_acd", "bode_adc", "bode_cmrr_se", "bode_cmrr_diff",
               "gain_thd_vs_amplitude", "gain_thd_vs_bias", "dc_transfer")


def _prepare_out(out_dir: Path, archive: Path) -> Path:
    if out_dir.exists() and not out_dir.is_dir():
        raise ReportError(f"{out_dir}: exists and is not a directory; give -o a directory")
    try:
        if out_dir.resolve() == archive.resolve():
            raise ReportError(f"{out_dir}: is the archive itself; give -o a directory")
    except OSError:
        pass
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ReportError(f"{out_dir}: cannot create the report directory ({e.strerror or e})") from None
    if not os.access(out_dir, os.W_OK):
        raise ReportError(f"{out_dir}: the report directory is not writable")
    for key in FIGURE_KEYS:  # figures of an earlier report into the same directory would be stale
        stale = out_dir / f"{key}.png"
        if stale.is_file():
            stale.unlink()
    return out_dir


def write_report(archive: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None, *,
                 fit: str = "auto", embed: bool = False) -> ReportFiles:
    """Write the figures and ``report.html`` of the run archive ``archive`` into ``out_dir``.

    ``out_dir`` defaults to :func:`default_out_dir`. ``fit`` is ``"auto"`` (archived fits, else fit now),
    ``"archived"`` or ``"none"``; ``embed`` puts the PNGs into the HTML as base64 (one self-contained file)
    instead of linking them. The archive is opened read-only. Raises :class:`~procedures.archive.writer.ArchiveError`
    for a missing or non-archive file and :class:`ReportError` for an unusable output directory (one line each).
    """
    from procedures.archive.reader import open_run

    if fit not in FIT_MODES:
        raise ReportError(f"fit must be one of {', '.join(FIT_MODES)}, got {fit!r}")
    path = Path(archive)
    run = open_run(path)  # one-line ArchiveError for missing / not HDF5 / not an archive
    try:
        ctx = _read_context(run, fit)
    finally:
        run.close()
    out = _prepare_out(Path(out_dir) if out_dir is not None else default_out_dir(path), path)
    for step in (_prediction_freq, _prediction_amplitude, _prediction_cm, _prediction_dc):
        try:
            step(ctx)
        except DiffbenchError as e:
            ctx.warnings.append(f"prediction unavailable: {e}")
    try:
        from procedures.report.html import render

        with np.errstate(all="ignore"):  # zero gains (ideal elements) and empty tables give inf / NaN: shown as such
            figures = _make_figures(ctx, out)
            page = render(ctx, figures, embed=embed)
        html_path = out / "report.html"
        html_path.write_text(page, encoding="utf-8")
    except OSError as e:
        raise ReportError(f"{out}: cannot write the report ({e.strerror or e})") from None
    return ReportFiles(out, html_path, figures, list(ctx.warnings))


def main_print(files: ReportFiles, stream: Any = None) -> None:
    """Print where the files are: the HTML page first, then each figure, then warnings (stderr)."""
    stream = stream or sys.stdout
    print(f"report: {files.html}", file=stream)
    for f in files.figures:
        print(f"figure: {f.path}", file=stream)
    for w in files.warnings:
        print(f"warning: {w}", file=sys.stderr)
