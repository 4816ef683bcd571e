"""What the live page shows, read from a run archive as it grows: :class:`ArchiveFollower`.

The archive is read through :func:`procedures.archive.reader.open_run`, which opens a ``.partial`` that a run is
still writing as a SWMR reader and keeps only committed rows (docs/archive.md "How a run is written"). The file
is re-read only when its size, time stamp or inode change (each commit writes to it), so a page polling twice a
second costs the run nothing between commits. A run that finishes renames ``x.h5.partial`` to ``x.h5``; the
follower then reads the final file, and stops reading once its status is final.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from procedures.archive.files import final_path_of, partial_path_of
from procedures.archive.reader import open_run
from procedures.archive.run_data import RunData
from procedures.archive.spec import FINAL_STATUSES, PARTIAL_SUFFIX, ArchiveError
from procedures.live.bode_data import bode, empty_bode
from procedures.measure.acquisition import NODES
from procedures.measure.plan import calibration_words
from procedures.predict.si_format import eng

log = logging.getLogger(__name__)

#: the most samples per channel the page gets of a record (a stride through the record, which keeps its shape
#: at any record length the scopes deliver while the JSON stays small)
MAX_WAVE_SAMPLES = 2000
WAITING = "waiting"
_TIME_UNITS = ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns"))
_ROLE_WORDS = {"dm": "differential", "dm2": "differential, second drive", "cm": "common mode",
               "cm2": "common mode, two channels", "cm_2x": "common mode, second drive", "dc": "DC level"}


def candidates(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """The file to read for ``path``, then the one it becomes or came from: ``x.h5.partial`` then ``x.h5`` (the
    rename at the end of a run), or ``x.h5`` then ``x.h5.partial`` (a run not finished yet)."""
    p = Path(path)
    if p.name.endswith(PARTIAL_SUFFIX):
        return p, final_path_of(p)
    return p, partial_path_of(p)


def time_unit(span_s: float) -> tuple[float, str]:
    """The largest of s, ms, µs, ns in which ``span_s`` (seconds) is at least 1: (seconds per unit, its name)."""
    for scale, name in _TIME_UNITS:
        if span_s >= scale:
            return scale, name
    return _TIME_UNITS[-1]


def point_label(points: dict[str, np.ndarray], i: int) -> str:
    """What measured point ``i`` is, in words: sweep, role (a calibration, told by the probes' placement, in the
    progress display's words: :func:`procedures.measure.plan.calibration_words`), frequency and drive."""
    if not 0 <= i < len(points.get("key", ())):
        return f"point {i}"
    role, probes = str(points["role"][i]), str(points["probes"][i]) if "probes" in points else "normal"
    words = [f"point {i}", str(points["sweep"][i]).replace("_", " "),
             calibration_words(probes) or _ROLE_WORDS.get(role, role)]
    f = float(points["frequency_hz"][i])
    if f > 0:
        words.append(eng(f, "Hz"))
    vid, vic = float(points["vid_vpk_nominal"][i]), float(points["vic_vpk_nominal"][i])
    if role == "dc":
        words.append(f"vid {1e3 * float(points['vid_dc_v_nominal'][i]):+.4g} mV DC")
    elif vid:
        words.append(f"vid {1e3 * vid:.4g} mVpk")
    elif vic:
        words.append(f"vic {1e3 * vic:.4g} mVpk")
    return ", ".join(words)


def empty_wave() -> dict[str, list[float]]:
    """Waveform columns with no samples (every node's, so the page's lines always find theirs)."""
    return {"t": [], **{n: [] for n in NODES}}


def waveform_view(run: RunData) -> dict[str, Any]:
    """The latest committed record in volts against time, at most :data:`MAX_WAVE_SAMPLES` per channel.

    Volts are ``(code - y_reference) * y_increment + y_origin`` (``procedures.archive.record_reading.Records``).
    """
    rec = run.records
    if rec is None or len(rec) == 0:
        return {"wave": empty_wave(), "channels": list(rec.channels) if rec else [], "wave_label": "",
                "time_unit": "s"}
    v, t = rec.volts(len(rec) - 1)
    step = max(1, -(-len(t) // MAX_WAVE_SAMPLES))
    scale, unit = time_unit(float(t[-1] - t[0]) if len(t) > 1 else 0.0)
    wave = {"t": [float(x) for x in t[::step] / scale]}
    wave.update({name: [float(x) for x in v[k, ::step]] for k, name in enumerate(rec.channels)})
    label = point_label(run.tables.get("points", {}), int(rec.point[-1]))
    return {"wave": wave, "channels": list(rec.channels), "wave_label": f"record {len(rec) - 1}, {label}",
            "time_unit": unit}


def read_view(run: RunData) -> dict[str, Any]:
    """Everything the page shows of an open run: status, counts, Bode data and the latest record (JSON-ready)."""
    data, source = bode(run.tables)
    view: dict[str, Any] = {"path": str(run.path), "status": run.status, "reason": run.reason,
                            "final": run.status in FINAL_STATUSES, "points": run.n_rows("points")
                            if "points" in run.tables else 0,
                            "records": len(run.records) if run.records is not None else 0,
                            "source": source, **data}
    view.update(waveform_view(run))
    return view


def waiting_view(path: Path) -> dict[str, Any]:
    """The view before the run has written its archive."""
    return {"path": str(path), "status": WAITING, "reason": "", "final": False, "points": 0, "records": 0,
            "source": "", **empty_bode(), "wave": empty_wave(), "channels": [], "wave_label": "", "time_unit": "s"}


class ArchiveFollower:
    """The current view of the archive at ``path`` (a ``.partial`` being written, or a finished run), re-read
    only when the file changed; safe to call from several threads."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._signature: tuple[str, int, int, int] | None = None
        self._view = waiting_view(self.path)

    @property
    def final(self) -> bool:
        """The archive read last had a final status (complete, aborted, failed): nothing more will change."""
        return bool(self._view["final"])

    def _signature_now(self) -> tuple[str, int, int, int] | None:
        for p in candidates(self.path):
            try:
                st = p.stat()
            except OSError:
                continue
            return str(p), st.st_ino, st.st_size, st.st_mtime_ns
        return None

    def view(self) -> dict[str, Any]:
        """The archive as it is now (or as last read, when nothing changed or the read was refused mid-write)."""
        with self._lock:
            if self.final:
                return self._view
            sig = self._signature_now()
            if sig is None or sig == self._signature:
                return self._view
            try:
                with open_run(sig[0]) as run:
                    view = read_view(run)
            except ArchiveError as e:  # caught mid-commit or mid-rename: the next poll reads it again
                log.debug("live view: %s not readable yet: %s", sig[0], e)
                return self._view
            self._signature, self._view = sig, view
            return view
