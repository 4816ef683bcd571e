"""A run archive written point by point in another process, for the live view's tests.

Run as a script (``python live_archive.py RUN.h5``), it creates the archive with the real ``points`` table
(procedures.measure.point_table) and the frequency sweep's ``gains`` table, then obeys one JSON command per
line on stdin, answering one JSON line on stdout when the command is done (so a commit has returned when the
test reads the answer). The reader (the live view) is then another process, as with a real run. The values
written are built from gains the test chooses, so the test knows what the page must show without the code
that computes it: :func:`expected_volts` gives a record's volts straight from its codes and scaling.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

N_SAMPLES = 1200
Y_INCREMENT = (1e-3, 2e-3, 5e-3, 1e-2)  # V per code, per channel v1, v2, vo1, vo2
Y_ORIGIN = (0.0, 0.1, -0.1, 0.2)        # V
X_INCREMENT = 1e-6                       # s
V_DM = 0.01                              # V peak on each input for a differential point (vid = 0.02 V)
V_CM = 0.1                               # V peak on both inputs for a common-mode point


def codes_of(record: int) -> np.ndarray:
    """The int8 codes of record ``record``: a sine per channel whose phase depends on the record."""
    k = np.arange(N_SAMPLES)
    return np.stack([np.round(100 * np.sin(2 * np.pi * 3 * k / N_SAMPLES + c + 0.5 * record))
                     for c in range(4)]).astype(np.int8)


def expected_volts(record: int) -> tuple[np.ndarray, np.ndarray]:
    """Record ``record`` in volts, shape (4, N_SAMPLES), and its time axis in seconds, from docs/archive.md
    ("Waveforms"): volts = (code - y_reference) * y_increment + y_origin, time = x_origin + i x_increment."""
    volts = codes_of(record) * np.array(Y_INCREMENT)[:, None] + np.array(Y_ORIGIN)[:, None]
    return volts, -N_SAMPLES / 2 * X_INCREMENT + X_INCREMENT * np.arange(N_SAMPLES)


def phasors(role: str, gain: complex) -> np.ndarray:
    """Node phasors (v1, v2, vo1, vo2) of a point whose vod/vid (``dm``) or voc/vic (``cm``) is ``gain``; the
    other mode's output is a small unrelated value, which the estimate must not mix in."""
    if role == "cm":
        vo = gain * V_CM
        return np.array([V_CM, V_CM, vo + 0.0004j, vo - 0.0004j])
    vo = gain * 2 * V_DM
    return np.array([V_DM, -V_DM, vo / 2 + 0.003, -vo / 2 + 0.003])


def _row_of(spec: Any, values: dict[str, Any]) -> dict[str, Any]:
    """A row of ``spec`` with every column (and uncertainty) filled: ``values`` where given, else zeros."""
    row: dict[str, Any] = {}
    for name, col in spec.columns.items():
        empty: Any = {"str": "", "bool": False, "int64": 0}.get(col.dtype, 0.0)
        if col.shape:
            empty = np.full(col.shape, empty, dtype=object if col.dtype == "str" else col.dtype)
        row[name] = values.get(name, empty)
        if col.uncertainty:
            row[f"{name}_u"] = values.get(f"{name}_u", np.zeros(col.shape) if col.shape else 0.0)
    return row


class Writer:
    """The archive at ``path`` (its ``.partial`` until finished) and the points and records written to it."""

    def __init__(self, path: Path) -> None:
        from procedures.analysis.results import result_tables
        from procedures.archive.writer import RunArchive, RunDeclaration, WaveformSpec
        from procedures.measure.acquisition import NODES
        from procedures.measure.point_table import points_table

        self.tables = {"points": points_table(1), **result_tables("frequency_sweep")}
        declaration = RunDeclaration(
            metadata={"procedure": "live-view test"}, configs={"procedure": "kind = 'frequency_sweep'\n"},
            instruments={"scope": {"idn": "test,scope,0,0", "resource": "none", "driver": "none", "settings": {}}},
            tables=self.tables, waveform_spec=WaveformSpec(NODES, N_SAMPLES, "int8"))
        self.archive = RunArchive.create(path, declaration)
        self.points = 0

    def point(self, role: str, frequency_hz: float, gain: complex, commit: bool = True,
              sweep: str = "frequency_sweep", probes: str = "normal") -> dict[str, int]:
        """Append one point (its row and one record); commit it unless told not to."""
        i = self.points
        row = _row_of(self.tables["points"], {
            "key": f"p{i}", "sweep": sweep, "role": role, "group": i, "mode": role, "probes": probes,
            "frequency_hz": frequency_hz, "vid_vpk_nominal": 2 * V_DM if role == "dm" else 0.0,
            "vic_vpk_nominal": V_CM if role != "dm" else 0.0, "phasor": phasors(role, gain),
            "phasor_u": np.full(4, 1e-6 + 1e-6j), "n_records": 1})
        self.archive.append("points", row)
        record = self.archive.append_record(i, codes_of(i), y_increment=Y_INCREMENT, y_origin=Y_ORIGIN,
                                            y_reference=0.0, x_increment=X_INCREMENT,
                                            x_origin=-N_SAMPLES / 2 * X_INCREMENT)
        if commit:
            self.archive.commit()
        self.points += 1
        return {"point": i, "record": record}

    def finish(self, gains: list[list[float]], status: str = "complete") -> dict[str, str]:
        """Commit the ``gains`` table (rows ``[f, Add.re, Add.im, Acc.re, Acc.im]``) and finish the archive."""
        for f, ar, ai, cr, ci in gains:
            S = np.array([[ar + 1j * ai, 0], [0, cr + 1j * ci]])
            self.archive.append("gains", _row_of(self.tables["gains"], {"frequency_hz": f, "S": S}))
        return {"path": str(self.archive.finish(status, "" if status == "complete" else "stopped by the test"))}


def main(path: str) -> None:
    """Obey JSON commands from stdin: ``{"op": "point", ...}``, ``{"op": "commit"}``, ``{"op": "finish", ...}``."""
    writer = Writer(Path(path))
    print(json.dumps({"partial": str(writer.archive.partial_path)}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd.pop("op")
        if op == "point":
            cmd["gain"] = complex(*cmd["gain"])
            answer: dict[str, Any] = writer.point(**cmd)
        elif op == "commit":
            writer.archive.commit()
            answer = {}
        else:
            answer = writer.finish(**cmd)
        print(json.dumps(answer), flush=True)


class WriterProcess:
    """Drives :func:`main` in a child process: ``send`` one command, get its answer once it is done."""

    def __init__(self, path: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, str(path)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.partial = Path(self._answer()["partial"])

    def _answer(self) -> dict[str, Any]:
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line:
            raise RuntimeError(f"the archive writer ended (status {self.proc.wait()})")
        return dict(json.loads(line))

    def send(self, op: str, **kw: Any) -> dict[str, Any]:
        if "gain" in kw:
            kw["gain"] = [kw["gain"].real, kw["gain"].imag]
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, **kw}) + "\n")
        self.proc.stdin.flush()
        return self._answer()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


if __name__ == "__main__":
    main(sys.argv[1])
