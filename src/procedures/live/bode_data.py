"""The gains the live page plots against frequency, from what an archive holds so far.

While a run is written only its measured points are committed; the mixed-mode solve (``gains`` table) is
computed after the last point. So the page shows, until then, a per-point estimate from the ``points`` table:
``Add = (vo1 - vo2) / (v1 - v2)`` of each frequency-sweep differential point and ``Acc = ((vo1 + vo2) / 2) /
((v1 + v2) / 2)`` of each common-mode point (the mode definitions of docs/conventions.md "Conventions",
uncalibrated and without the mixed-mode solve of docs/reference/measurement-methods.md §3.2). Once the
``gains`` table has committed rows, its solved ``S`` replaces the estimate.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: the ``points`` table's column values that select what the estimate uses (procedures.measure.plan)
FREQUENCY_SWEEP = "frequency_sweep"
NORMAL_PROBES = "normal"


def _db(x: np.ndarray) -> np.ndarray:
    """``20 log10 |x|`` in dB; a zero gain gives -inf (left out by :func:`_finite`)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return 20.0 * np.log10(np.abs(x))


def _finite(columns: dict[str, np.ndarray]) -> dict[str, list[float]]:
    """The rows where every column is finite, sorted by frequency, as JSON-ready lists (JSON has no NaN)."""
    keep = np.logical_and.reduce([np.isfinite(c) for c in columns.values()])
    order = np.argsort(columns["frequency_hz"][keep], kind="stable")
    return {k: [float(x) for x in c[keep][order]] for k, c in columns.items()}


def empty_bode() -> dict[str, dict[str, list[float]]]:
    """Bode data with no points."""
    return {"add": {"frequency_hz": [], "mag_db": [], "phase_deg": []}, "acm": {"frequency_hz": [], "mag_db": []}}


def bode_from_points(points: dict[str, np.ndarray]) -> dict[str, dict[str, list[float]]]:
    """Per-point estimates of Add (magnitude in dB, phase in degrees) and Acc (dB) against frequency (Hz).

    ``points`` is the committed ``points`` table (``procedures.measure.point_table``): ``phasor`` has shape
    ``(row, 4)`` in node order v1, v2, vo1, vo2 (V peak).
    """
    if "phasor" not in points or len(points["phasor"]) == 0:
        return empty_bode()
    ph = np.asarray(points["phasor"], dtype=complex)
    f = np.asarray(points["frequency_hz"], dtype=float)
    ours = (points["sweep"] == FREQUENCY_SWEEP) & (points["probes"] == NORMAL_PROBES)
    dm = ours & (points["role"] == "dm")
    cm = ours & (points["role"] == "cm")
    with np.errstate(divide="ignore", invalid="ignore"):
        add = (ph[dm, 2] - ph[dm, 3]) / (ph[dm, 0] - ph[dm, 1])
        acc = (ph[cm, 2] + ph[cm, 3]) / (ph[cm, 0] + ph[cm, 1])
    return {"add": _finite({"frequency_hz": f[dm], "mag_db": _db(add), "phase_deg": np.degrees(np.angle(add))}),
            "acm": _finite({"frequency_hz": f[cm], "mag_db": _db(acc)})}


def bode_from_gains(gains: dict[str, np.ndarray]) -> dict[str, dict[str, list[float]]]:
    """Add (dB, degrees) and Acc (dB) against frequency (Hz) from the solved ``gains`` table's ``S`` (shape
    ``(row, 2, 2)``, ``[[Add, Acd], [Adc, Acc]]``, docs/conventions.md "Conventions")."""
    S = np.asarray(gains["S"], dtype=complex)
    f = np.asarray(gains["frequency_hz"], dtype=float)
    add, acc = S[:, 0, 0], S[:, 1, 1]
    return {"add": _finite({"frequency_hz": f, "mag_db": _db(add), "phase_deg": np.degrees(np.angle(add))}),
            "acm": _finite({"frequency_hz": f, "mag_db": _db(acc)})}


def bode(tables: dict[str, dict[str, np.ndarray]]) -> tuple[dict[str, Any], str]:
    """The Bode data the page shows and where it comes from: ``"gains"`` (the solved table, when it has rows),
    ``"points"`` (the per-point estimate) or ``""`` (no frequency-sweep data)."""
    gains = tables.get("gains")
    if gains and "S" in gains and len(gains["S"]):
        return bode_from_gains(gains), "gains"
    data = bode_from_points(tables.get("points", {}))
    return data, "points" if data["add"]["frequency_hz"] or data["acm"]["frequency_hz"] else ""
