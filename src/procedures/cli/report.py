"""``diffbench report RUN.h5 [-o DIR] [--fit auto|archived|none] [--embed]``: figures and a one-page summary.

Writes Bode plots (magnitude and phase) of Add, Acc, Acd, Adc, CMRR_se,k and CMRR_diff, gain and THD versus
amplitude or input DC level, the DC transfer curve, and ``report.html`` into DIR (default ``<run>-report/``
beside the archive), then prints the path of the page and of each figure. The archive is only read.

Exit status: 0 written; 2 bad input (missing file, not a diffbench archive, unusable output directory),
printed as one line by :mod:`procedures.cli.main`.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("archive", help="run archive (run.h5, or the run.h5.partial a killed run left)")
    p.add_argument("-o", "--output", metavar="DIR",
                   help="directory for report.html and the PNGs (default: <run>-report/ next to the archive)")
    p.add_argument("--fit", choices=("auto", "archived", "none"), default="auto",
                   help="model fits to show: auto = the archive's, else fit the run now (not stored); "
                        "archived = only stored fits; none (default: auto)")
    p.add_argument("--embed", action="store_true",
                   help="embed the PNGs in report.html (one self-contained file) instead of linking them")


def run(args: argparse.Namespace) -> int:
    """Write the report; print where the page and each figure are (stdout), then its warnings (stderr)."""
    import sys

    from procedures.report.report import write_report

    files = write_report(args.archive, args.output, fit=args.fit, embed=args.embed)
    print(f"report: {files.html}")
    for f in files.figures:
        print(f"figure: {f.path}")
    for w in files.warnings:
        print(f"diffbench report: warning: {w}", file=sys.stderr)
    return 0
