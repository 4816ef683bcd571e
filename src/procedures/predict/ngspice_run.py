"""Running ngspice in batch mode: an independent circuit simulator for boards given as netlists.

ngspice is optional (Debian package ``ngspice``; https://ngspice.sourceforge.io, "ngspice User's Manual",
ch. 13 "Interactive Interpreter" for the ``.control`` commands used here: ``op``, ``ac``, ``alter``, ``tran``,
``wrdata``, ``quit``). Nothing in diffbench needs it except a prediction or fit of a netlist board with no
closed-form family; when it is missing, that one prediction says so in one line (:class:`NgspiceMissing`).

A deck is run in a private temporary directory (the netlist's own ``.include`` files are found through the
working directory the caller gives); results come back through ``wrdata`` files, one per name, which this
module reads as plain columns. The ``wrdata`` format writes a complex vector as two columns (real, imaginary)
after the scale column.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from instruments.errors import DiffbenchError

NGSPICE = "ngspice"
STARTUP_TIMEOUT_S = 30.0
"""ngspice's own start (reading its init files, parsing the deck): seconds. The run's timeout adds
:data:`SECONDS_PER_POINT` for each analysis point the deck asks for."""
SECONDS_PER_POINT = 0.05
"""An upper bound of one analysis point (an AC frequency or a transient step) of a board-sized circuit: a few
hundred nodes solve in well under a millisecond, so this leaves a loaded machine fifty times the headroom."""


class NgspiceMissing(DiffbenchError):
    """ngspice is not installed, and a prediction needs it."""


class NgspiceFailed(DiffbenchError):
    """ngspice ran but did not produce the results asked for (its own error line is quoted)."""


def ngspice_path() -> str | None:
    """The ngspice executable on PATH, or None."""
    return shutil.which(NGSPICE)


def require_ngspice(what: str) -> str:
    """The ngspice executable, or :class:`NgspiceMissing` naming ``what`` needed it (one line)."""
    path = ngspice_path()
    if path is None:
        raise NgspiceMissing(f"{what} needs ngspice, which is not installed (Debian: apt-get install ngspice; "
                             "https://ngspice.sourceforge.io)")
    return path


def _first_error(log: str) -> str:
    for line in log.splitlines():
        low = line.lower()
        if "error" in low or "fatal" in low or "singular" in low or "no convergence" in low or "timestep too small" \
                in low:
            return line.strip()
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    return lines[-1] if lines else "no output"


def run_deck(deck: str, outputs: list[str], what: str, cwd: Path | None = None,
             points: int = 1) -> dict[str, np.ndarray]:
    """Run ``deck`` (a complete ngspice deck whose ``.control`` block writes each of ``outputs`` with
    ``wrdata <name>.txt ...``) and return each file's numeric columns as a 2-D array (rows, columns).

    ``cwd`` is where ngspice runs (the directory of the user's netlist, for its relative ``.include``s);
    ``points`` the number of analysis points the deck asks for, which sets the timeout (module constants).
    Raises :class:`NgspiceMissing` or :class:`NgspiceFailed` (one line naming ``what``)."""
    exe = require_ngspice(what)
    with tempfile.TemporaryDirectory(prefix="diffbench-ngspice-") as tmp:
        tmp_path = Path(tmp)
        deck = deck.replace("@OUT@", tmp.replace("\\", "/"))
        deck_file = tmp_path / "deck.cir"
        deck_file.write_text(deck, encoding="utf-8")
        timeout = STARTUP_TIMEOUT_S + SECONDS_PER_POINT * points
        try:
            proc = subprocess.run([exe, "-b", str(deck_file)], cwd=cwd or tmp_path, capture_output=True, text=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise NgspiceFailed(f"{what}: ngspice did not finish within {timeout:g} s") from None
        log = proc.stdout + proc.stderr
        results: dict[str, np.ndarray] = {}
        for name in outputs:
            f = tmp_path / f"{name}.txt"
            if not f.exists() or f.stat().st_size == 0:
                raise NgspiceFailed(f"{what}: ngspice wrote no {name} results: {_first_error(log)}")
            results[name] = np.atleast_2d(np.loadtxt(f, ndmin=2))
        return results
