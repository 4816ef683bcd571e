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

Every figure the board's ``[pass_fail]`` limits apply to draws them (a red line, the fail side shaded:
:mod:`~procedures.report.limit_marks`), and the verdicts read in one unit with their limit
(:mod:`procedures.analysis.verdict_text`); docs/reports.md says which limit goes where.

Only the figures whose tables the archive holds are made; a run that was aborted or failed before its
results were computed gets them recomputed in memory from its committed points when possible (and says so).

The stages, one module each: reading the archive (:mod:`~procedures.report.reading`, with
:mod:`~procedures.report.recompute` and :mod:`~procedures.report.fits`), the board's prediction
(:mod:`~procedures.report.predictions`), the figures (:mod:`~procedures.report.figure_files`, drawn by
:mod:`procedures.report.plots`) and the page (:mod:`procedures.report.html`). matplotlib is imported only
when a figure is drawn, so ``import procedures`` stays light.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from procedures.archive.reader import open_run
from procedures.report.context import ReportError, ReportFiles
from procedures.report.figure_files import FIGURE_KEYS, make_figures
from procedures.report.fits import FIT_MODES
from procedures.report.html.page import render
from procedures.report.predictions import add_predictions
from procedures.report.reading import read_context

__all__ = ["ReportError", "ReportFiles", "default_out_dir", "write_report"]


def default_out_dir(archive: str | os.PathLike[str]) -> Path:
    """``<run stem>-report/`` next to the archive (``run.h5`` and ``run.h5.partial`` both give ``run-report``)."""
    p = Path(archive)
    name = p.name
    for suffix in (".partial", ".h5", ".hdf5", ".nxs"):
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    return p.with_name(f"{name}-report")


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
    if fit not in FIT_MODES:
        raise ReportError(f"fit must be one of {', '.join(FIT_MODES)}, got {fit!r}")
    path = Path(archive)
    run = open_run(path)  # one-line ArchiveError for missing / not HDF5 / not an archive
    try:
        ctx = read_context(run, fit)
    finally:
        run.close()
    out = _prepare_out(Path(out_dir) if out_dir is not None else default_out_dir(path), path)
    add_predictions(ctx)
    try:
        with np.errstate(all="ignore"):  # zero gains (ideal elements) and empty tables give inf / NaN: shown as such
            figures = make_figures(ctx, out)
            page = render(ctx, figures, embed=embed)
        html_path = out / "report.html"
        html_path.write_text(page, encoding="utf-8")
    except OSError as e:
        raise ReportError(f"{out}: cannot write the report ({e.strerror or e})") from None
    return ReportFiles(out, html_path, figures, list(ctx.warnings))
