"""The data handed to the plotting functions: plain numbers, no matplotlib (so the report builds them cheaply).

Conventions (docs/conventions.md): magnitudes in dB (``20 log10 |x|``), phases in degrees, frequency in Hz,
voltages in V; uncertainties are standard uncertainties (k = 1), which the plots draw expanded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

COLORS = {"Add": "C0", "Acc": "C1", "Acd": "C2", "Adc": "C3",
          "CMRR_se1": "C0", "CMRR_se2": "C1", "CMRR_diff": "C2", "Add_over_Acc": "C4",
          "vod": "C0", "vo1": "C1", "vo2": "C2"}
"""The colour of each quantity, the same in every figure."""


@dataclass
class ModelCurve:
    """A model's curve (dense ``x``) and its values at the measured points (for the residual panels).

    ``kind`` is ``"prediction"`` (nominal components) or ``"fit"``; ``y`` is what the panel shows (complex
    gain for Bode plots: magnitude and phase are taken from it; real numbers elsewhere). ``y_at`` are the
    model's values at the measured ``x`` (same kind), or ``None`` if unavailable.
    """

    label: str
    kind: str
    x: np.ndarray
    y: np.ndarray
    y_at: np.ndarray | None = None


@dataclass(frozen=True)
class LimitMark:
    """A board limit drawn on a figure: where a measured curve must lie to pass.

    ``limit`` is the ``[pass_fail]`` key that sets it (artists drawn for it carry the gid ``limit:<key>``).
    On ``axis = "y"`` the plotted quantity (in the figure's unit: dB, %, ...) must lie in ``pass_lo..pass_hi``
    (either may be infinite) for abscissae ``x_lo..x_hi`` (``None``: the axes' edge); the plot shades the fail
    side and draws the boundary. On ``axis = "x"`` the curve's zero crossing (the input offset) must lie in
    ``pass_lo..pass_hi`` of the abscissa. ``label`` says the limit in words with its unit.
    """

    limit: str
    label: str
    pass_lo: float
    pass_hi: float
    x_lo: float | None = None
    x_hi: float | None = None
    axis: str = "y"


@dataclass
class BodeSeries:
    """One measured quantity versus frequency: magnitude in dB and phase in degrees, with standard uncertainties.

    ``mag_u_db`` is the standard uncertainty (k = 1) of the magnitude in dB; ``phase_u_deg`` that of the
    phase. The plot draws ``k`` times them. ``ideal_db`` is an optional comparison figure (the same quantity
    under an ideal-generator assumption), drawn as hollow grey markers. ``kind`` (a dB figure of the gains
    table, procedures.analysis.gain_figures) says per point whether ``mag_db`` is a value (``"value"``) or a
    ``"lower_limit"``/``"upper_limit"`` (drawn as a triangle pointing the open way, no error bar; ``"none"``:
    not drawn); ``None``: every point a value.
    """

    name: str
    label: str
    freq_hz: np.ndarray
    mag_db: np.ndarray
    mag_u_db: np.ndarray
    phase_deg: np.ndarray | None = None
    phase_u_deg: np.ndarray | None = None
    models: list[ModelCurve] = field(default_factory=list)
    ideal_db: np.ndarray | None = None
    color: str | None = None
    kind: np.ndarray | None = None

    @property
    def c(self) -> str:
        return self.color or COLORS.get(self.name, "C0")


@dataclass
class SweepData:
    """Differential gain and THD versus a sweep variable.

    ``x`` in volts; ``gain`` complex Add; ``gain_u`` its magnitude's standard uncertainty (linear);
    ``thd`` as a ratio (NaN where unknown); ``gain_models`` / ``thd_models``: model curves (``y`` is |Add|
    linear or complex for gain, a ratio for THD). ``reference_gain`` is the |Add| the compression is
    relative to (it draws the -1 dB line) and ``p1db_v`` the 1 dB compression point found in the
    measurement (``procedures.analysis.differential_gain.p1db``; ``None``: not reached).
    """

    x: np.ndarray
    gain: np.ndarray
    gain_u: np.ndarray
    thd: np.ndarray
    gain_models: list[ModelCurve] = field(default_factory=list)
    thd_models: list[ModelCurve] = field(default_factory=list)
    x_label: str = "differential input amplitude v_id (V peak)"
    x_log: bool = True
    limits: list[tuple[float, str]] = field(default_factory=list)  # vertical lines (x, label)
    reference_gain: float | None = None
    p1db_v: float | None = None
    thd_marks: list[LimitMark] = field(default_factory=list)  # board limits on the THD panel (%)


@dataclass
class DcData:
    """DC transfer: measured vid, vod (with standard uncertainties), vo1, vo2; model curves for vod (and
    vo1/vo2 under the prediction); the offset and slope from the archive's summary; the incremental gain
    ``dvod/dvid`` of the measurement (midpoints, slopes) and of each vod model (``slope_models``)."""

    vid: np.ndarray
    vid_u: np.ndarray
    vod: np.ndarray
    vod_u: np.ndarray
    vo1: np.ndarray
    vo2: np.ndarray
    vod_models: list[ModelCurve] = field(default_factory=list)
    vo_models: dict[str, ModelCurve] = field(default_factory=dict)  # "vo1", "vo2": predictions
    offset_v: float | None = None
    slope: float | None = None
    # vid spans where the model says a device saturates
    saturation: list[tuple[float, float]] = field(default_factory=list)
    incremental: tuple[np.ndarray, np.ndarray] = field(default_factory=lambda: (np.zeros(0), np.zeros(0)))
    slope_models: list[ModelCurve] = field(default_factory=list)
    marks: list[LimitMark] = field(default_factory=list)  # board limits on the transfer panel (the offset band)
