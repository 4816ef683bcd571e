"""What a board needs from the plan, decided from its prediction before anything is switched on.

**Crosstalk calibration.** For every frequency of a frequency sweep, the board's predicted node phasors
go through the forward model of :mod:`procedures.measure.crosstalk_bias`: the bias the scope's crosstalk
would put into each reported figure (the four gains, CMRR_se1, CMRR_se2, CMRR_diff) against the uncertainty
the run can be expected to state for it (:mod:`procedures.measure.phasor_noise`). When some bias exceeds
:data:`BIAS_FRACTION` of its expected uncertainty the calibration is needed: a bias ``b`` (in units of u)
moves the one-sigma coverage from 0.683 to ``Phi(1 - b) - Phi(-1 - b)``, 0.668 at b = 0.25, still inside
the 0.68 +- 0.06 the fits are tested to (tests/procedures/fitting/test_fits_coverage.py). An amplitude
sweep's and a common-mode range's points go through the same forward model at their one frequency
(:func:`drive_sweep_biases`: the measured drive |vid| and Add, and a range's per-level mixed-mode gains):
channels 1 and 2 share a front end, so a DM drive reads ``(1 - x) vid`` on any board, several of its own u
at -70 dB. The decision is taken per sweep (:attr:`CalibrationDecision.sweeps`): a characterisation of a
board whose frequency sweep does not need it calibrates its amplitude sweep alone (four points at one
frequency).

``[calibration] crosstalk`` in the procedure: left out, the plan decides; ``true``, the calibration runs
whether needed or not; ``false`` for a board that needs it is refused in one line naming the procedure
file, the key and the figures it would bias (a measurement that would report a value many of its own
uncertainties off is not one to make). The crosstalk assumed, in this order:

* the procedure's ``[calibration] assume_crosstalk_db`` (a figure the user measured for their scope);
* a simulated bench's ``[sim] scope_crosstalk_db`` (what its scope does);
* a real bench: :data:`REAL_SCOPE_CROSSTALK_DB`, the worst of the 40-60 dB isolation common on low-cost
  scopes (docs/reference/measurement-methods.md §2, "Check the real scope's channel isolation"): an
  unknown scope is assumed a poor one;
* no bench given to the plan: :data:`UNKNOWN_BENCH_CROSSTALK_DB`, the bench config's default figure
  (instruments.bench_config ``[sim] scope_crosstalk_db``), and the decision line says it was assumed.

**Drive levels.** The DM drive (and twice it when the sweep extrapolates to zero drive) is refused when the
predicted output swing takes a device more than :data:`SATURATION_MARGIN_V` past the edge of its active region
(:mod:`procedures.predict.distortion`'s headroom): the small-signal results would then describe a clipped
board. The edge there (a forward V_BC of 0.4 V) is where a BJT's base-collector diode starts to conduct at
all (``I_S e^{0.4/V_T}`` ~ 5 nA at I_S = 1e-15 A); 0.1 V further it carries ~0.25 uA, half a percent of a
50 uA collector current, where saturation starts to compete with the pair's own compression (Sedra & Smith,
"Microelectronic Circuits", ch. 6, the BJT's modes of operation).

The decision and its reason are one line (:attr:`CalibrationDecision.line`), printed by ``diffbench run``
before the run starts, and a JSON-able dict (:meth:`CalibrationDecision.as_metadata`). A reader of an archive
gets the same decision from the configs archived with it (:func:`decide_from_text`), and the crosstalk
points themselves are rows of its ``points`` table (role ``xtalk``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from instruments.bench_config import BenchConfig, Wiring
from instruments.board_config import BoardConfig
from instruments.errors import ConfigError
from procedures.config.procedure import ProcedureConfig, sweeps_of
from procedures.measure.crosstalk_bias import (
    UNITS,
    SweepPoint,
    drive_expected_u,
    drive_figure_bias,
    expected_u,
    figure_bias,
    node_phasors,
)
from procedures.measure.drive_plan import frequency_sweep_second_drive
from procedures.measure.phasor_noise import expected_phasor_u

BIAS_FRACTION = 0.25
SATURATION_MARGIN_V = 0.1
REAL_SCOPE_CROSSTALK_DB = -40.0
UNKNOWN_BENCH_CROSSTALK_DB = -70.0
KEY = "[calibration] crosstalk"
#: the sweeps whose AC points the crosstalk can bias (a DC transfer has none: the coupling is capacitive)
CROSSTALK_SWEEPS = ("frequency_sweep", "amplitude_sweep", "cm_range")


@dataclass(frozen=True)
class Bias:
    """One figure's worst crosstalk bias over the sweep: at ``frequency_hz``, ``bias`` against ``u``."""

    figure: str
    frequency_hz: float
    bias: float
    u: float
    sweep: str = "frequency_sweep"

    @property
    def ratio(self) -> float:
        return self.bias / self.u if self.u > 0 else math.inf

    def text(self) -> str:
        unit = UNITS.get(self.figure, "")
        fmt = (lambda v: f"{v:.2g} {unit}") if unit else (lambda v: f"{v:.2g}")
        where = "" if self.sweep == "frequency_sweep" else f" in the {self.sweep.replace('_', ' ')}"
        return (f"{self.figure}{where} by {fmt(self.bias)} at {self.frequency_hz:.4g} Hz "
                f"({self.ratio:.3g} x its expected u {fmt(self.u)})")


@dataclass(frozen=True)
class CalibrationDecision:
    """The crosstalk calibration of a plan: on or off, asked for or decided, and why."""

    crosstalk: bool
    requested: bool | None        # the procedure's [calibration] crosstalk (None: left to the plan)
    crosstalk_db: float
    crosstalk_source: str
    biased: tuple[Bias, ...] = field(default_factory=tuple)   # figures past BIAS_FRACTION, worst first
    largest: Bias | None = None                               # the worst figure, past the fraction or not
    sweeps: tuple[str, ...] = ()                              # the sweeps that get it (crosstalk: any)
    considered: tuple[str, ...] = ()                          # the procedure's sweeps that could

    @property
    def needed(self) -> bool:
        return bool(self.biased)

    @property
    def line(self) -> str:
        """The decision and its reason, in one line."""
        xt = f"{self.crosstalk_db:g} dB scope crosstalk ({self.crosstalk_source})"
        on = "crosstalk calibration on"
        if len(self.considered) > 1 and set(self.sweeps) != set(self.considered):
            on += f" for the {' and '.join(k.replace('_', ' ') for k in self.sweeps)}"
        if self.requested is True and not self.needed:
            return f"{on}: asked for by {KEY} = true (not needed at {xt})"
        if self.requested is True:
            return f"{on}: asked for by {KEY} = true, and needed: {self._why(xt)}"
        if self.needed:
            return f"{on} (the plan's choice): {self._why(xt)}"
        if not self.considered:
            return "crosstalk calibration off: a DC transfer has no AC point for scope crosstalk to bias"
        worst = f"; largest: {self.largest.text()}" if self.largest is not None else ""
        return (f"crosstalk calibration off: {xt} would bias no reported figure by more than {BIAS_FRACTION:g} of "
                f"its expected uncertainty{worst}")

    def _why(self, xt: str) -> str:
        more = len(self.biased) - 1
        also = f"; also {', '.join(b.figure for b in self.biased[1:4])}" + (" ..." if more > 3 else "") if more else ""
        return f"uncorrected, {xt} would bias {self.biased[0].text()}{also}"

    def as_metadata(self) -> dict[str, Any]:
        """The decision as a JSON-able dict (for the archive's metadata)."""
        return {"crosstalk": self.crosstalk, "sweeps": list(self.sweeps), "requested": self.requested,
                "crosstalk_db": self.crosstalk_db, "crosstalk_source": self.crosstalk_source, "reason": self.line,
                "biased": [{"figure": b.figure, "sweep": b.sweep, "frequency_hz": b.frequency_hz, "bias": b.bias,
                            "u": b.u} for b in self.biased]}


def assumed_crosstalk(proc: ProcedureConfig, bench: BenchConfig | None) -> tuple[float, str]:
    """The crosstalk (dB) the decision assumes and where it comes from (module docstring)."""
    given = proc.calibration.get("assume_crosstalk_db")
    if given is not None:
        return float(given), "[calibration] assume_crosstalk_db"
    if bench is None:
        return UNKNOWN_BENCH_CROSSTALK_DB, "assumed: the plan was not given the bench"
    if bench.simulated:
        return float(bench.sim.get("scope_crosstalk_db", UNKNOWN_BENCH_CROSSTALK_DB)), \
            f"{bench.source} [sim] scope_crosstalk_db"
    return REAL_SCOPE_CROSSTALK_DB, f"assumed for the real scope of {bench.source}: no figure declared"


def sweep_points(proc: ProcedureConfig, board: BoardConfig) -> list[SweepPoint]:
    """The predicted phasors and expected uncertainties of every frequency of ``proc``'s frequency sweep."""
    from procedures.predict.gains import predicted_gains

    freqs = proc.frequencies_hz()
    H = predicted_gains(board, freqs).nodal()
    acq = proc.acquisition_settings
    vid, vic = proc.drive["vid_vpk"], proc.drive["vic_vpk"]
    tied = proc.drive["cm_drive"] == "tied"
    noise = np.array([0.0, 0.0, board.noise_v_per_rthz, board.noise_v_per_rthz])
    r = frequency_sweep_second_drive(proc, board) / vid if proc.drive["extrapolate_dm"] else None
    out = []
    for k, f in enumerate(freqs):
        h = H[:, :, k]
        dm, cm = node_phasors(h, vid / 2, -vid / 2), node_phasors(h, vic, vic)
        dm_u = expected_phasor_u(np.abs(dm), float(f), acq, noise)
        if r is not None:  # (r^2 G(A) - G(rA))/(r^2 - 1), in units of the A point
            u2 = expected_phasor_u(r * np.abs(dm), float(f), acq, noise) / r
            dm_u = np.sqrt(r**4 * dm_u**2 + u2**2) / (r**2 - 1)
        link = np.full(4, vic, complex) if proc.calibration["channel_match"] else None
        out.append(SweepPoint(float(f), dm, dm_u, cm, expected_phasor_u(np.abs(cm), float(f), acq, noise), link, tied))
    return out


def crosstalk_biases(proc: ProcedureConfig, board: BoardConfig, crosstalk_db: float,
                     wiring: Wiring | None = None) -> list[Bias]:
    """Every figure's worst bias over the frequency sweep (one :class:`Bias` per figure), worst (in units of
    u) first."""
    return _worst(((p.frequency_hz, expected_u(p), figure_bias(p, _channels(wiring), _x(crosstalk_db)))
                   for p in sweep_points(proc, board)), "frequency_sweep")


def drive_sweep_biases(proc: ProcedureConfig, board: BoardConfig, kind: str, crosstalk_db: float,
                       wiring: Wiring | None = None) -> list[Bias]:
    """Every figure's worst bias over an amplitude sweep's or a common-mode range's points, worst first.

    Their DM points report the measured drive |vid| and Add (:data:`procedures.measure.crosstalk_bias.
    DRIVE_FIGURES`), forward-modelled on the board's predicted gains at the sweep's frequency (linear: the
    crosstalk's share of each channel does not depend on the drive's shape). A common-mode range with a CM
    point also reports the mixed-mode gains and CMRRs per level, forward-modelled as the frequency sweep's
    at the board's own bias (the levels move the gains, not the crosstalk's fraction of the swing)."""
    from procedures.measure.drive_plan import amplitudes_vpk, cm_range_drives
    from procedures.predict.gains import predicted_gains

    acq = proc.acquisition_settings
    noise = np.array([0.0, 0.0, board.noise_v_per_rthz, board.noise_v_per_rthz])
    if kind == "amplitude_sweep":
        f = float(proc.amplitude["frequency_hz"])
        amps = amplitudes_vpk(proc, board)
        link_v = min(proc.drive["vic_vpk"], 4 * min(amps))
    else:  # as procedures.measure.plan places the links
        vid, vic, _, _ = cm_range_drives(proc, board)
        f, amps = float(proc.cm_range["frequency_hz"]), [vid]
        link_v = min(proc.drive["vic_vpk"], 4 * vid)
    h = predicted_gains(board, np.array([f])).nodal()[:, :, 0]
    link = np.full(4, link_v, complex) if proc.calibration["channel_match"] else None
    x, channels = _x(crosstalk_db), _channels(wiring)
    rows = []
    for a in amps:
        dm = node_phasors(h, a / 2, -a / 2)
        u = drive_expected_u(dm, expected_phasor_u(np.abs(dm), f, acq, noise), link)
        rows.append((f, u, drive_figure_bias(dm, link, channels, x)))
    if kind == "cm_range" and vic > 0:
        tied = proc.drive["cm_drive"] == "tied"
        dm, cm = node_phasors(h, vid / 2, -vid / 2), node_phasors(h, vic, vic)
        dm_u, cm_u = expected_phasor_u(np.abs(dm), f, acq, noise), expected_phasor_u(np.abs(cm), f, acq, noise)
        if proc.cm_range["extrapolate"]:  # (4 G(A) - G(2A))/3 of each, as the frequency sweep's DM
            dm_u = np.sqrt(16 * dm_u**2 + (expected_phasor_u(2 * np.abs(dm), f, acq, noise) / 2) ** 2) / 3
            cm_u = np.sqrt(16 * cm_u**2 + (expected_phasor_u(2 * np.abs(cm), f, acq, noise) / 2) ** 2) / 3
        p = SweepPoint(f, dm, dm_u, cm, cm_u, link, tied)
        rows.append((f, expected_u(p), figure_bias(p, channels, x)))
    return _worst(rows, kind)


def _x(crosstalk_db: float) -> float:
    return float(10.0 ** (crosstalk_db / 20.0))


def _channels(wiring: Wiring | None) -> dict[str, int]:
    return dict((wiring or Wiring()).scope_channels())


def _worst(rows: Iterable[tuple[float, dict[str, float], dict[str, float]]], sweep: str) -> list[Bias]:
    """One :class:`Bias` per figure, its worst (in units of u) over ``rows`` of (frequency, u, bias)."""
    worst: dict[str, Bias] = {}
    for f, u, bias in rows:
        for name, b in bias.items():
            cand = Bias(name, f, b, u[name], sweep)
            if math.isfinite(u[name]) and (name not in worst or cand.ratio > worst[name].ratio):
                worst[name] = cand
    return sorted(worst.values(), key=lambda b: -b.ratio)


def decide(proc: ProcedureConfig, board: BoardConfig, bench: BenchConfig | None = None) -> CalibrationDecision:
    """The crosstalk calibration ``proc`` gets on ``board``, per sweep (module docstring); a one-line
    :class:`~instruments.errors.ConfigError` when the procedure turns it off and the board needs it."""

    requested = proc.calibration["crosstalk"]
    db, source = assumed_crosstalk(proc, bench)
    kinds = tuple(k for k in sweeps_of(proc.kind) if k in CROSSTALK_SWEEPS)
    if not kinds:
        return CalibrationDecision(False, requested, db, source)
    wiring = bench.wiring if bench is not None else None
    biases = sorted((b for k in kinds for b in (crosstalk_biases(proc, board, db, wiring) if k == "frequency_sweep"
                                                 else drive_sweep_biases(proc, board, k, db, wiring))),
                    key=lambda b: -b.ratio)
    biased = tuple(b for b in biases if b.ratio > BIAS_FRACTION)
    sweeps = tuple(k for k in kinds if requested is True or (requested is None and any(b.sweep == k for b in biased)))
    decision = CalibrationDecision(bool(sweeps), requested, db, source, biased, biases[0] if biases else None,
                                   sweeps, kinds)
    if requested is False and biased:
        names = ", ".join(dict.fromkeys(b.figure.split(" ")[-1] for b in biased))
        raise ConfigError(proc.source, KEY, f"false, but board {board.name} needs it: uncorrected, {db:g} dB scope "
                          f"crosstalk ({source}) would bias {biased[0].text()} (biased: {names}); leave the key out "
                          "(the plan decides) or set it true")
    return decision


def check_drive(proc: ProcedureConfig, board: BoardConfig) -> None:
    """Refuse (one-line ConfigError naming the procedure's ``[drive] vid_vpk``) a DM drive whose predicted
    output swing takes a device out of its active region (module docstring). A netlist board predicted by
    ngspice has no large-signal prediction here: its ``[limits]`` alone bound the drive."""
    if proc.kind not in ("frequency_sweep", "characterisation"):
        return
    if board.netlist is not None and board.netlist.prediction == "ngspice":
        return
    from procedures.predict.prediction import predict

    vid = float(proc.drive["vid_vpk"])
    amps = np.array([vid, frequency_sweep_second_drive(proc, board)] if proc.drive["extrapolate_dm"] else [vid])
    large = predict(board, np.array([1e3]), amps).large
    bad = np.nonzero(large.min_headroom_v < -SATURATION_MARGIN_V)[0]
    if bad.size:
        i = int(bad[0])
        raise ConfigError(proc.source, "[drive] vid_vpk",
                          f"{vid:g} V: at {amps[i]:g} V peak the predicted {large.output} swing of "
                          f"{large.output_peak_v[i]:.3g} V peak takes a device of board {board.name} out of its "
                          f"active region (headroom {large.min_headroom_v[i]:+.3g} V); lower it")


def decide_from_text(procedure_toml: str, board_toml: str, where: str = "<archive>",
                     bench_toml: str | None = None) -> CalibrationDecision:
    """The decision a run's plan made, from the config texts archived with it (``run.configs["procedure"]``,
    ``["board"]`` and ``["bench"]``; docs/archive.md): the plan is a function of them alone. The run's archive
    also holds the decision itself (``run.metadata["calibration"]``, :meth:`CalibrationDecision.as_metadata`)."""
    from instruments.board_config import parse_board
    from instruments.config_schema import tomllib
    from procedures.config.procedure import parse_procedure

    proc = parse_procedure(tomllib.loads(procedure_toml), source=f"{where} (procedure)", raw=procedure_toml)
    board = parse_board(tomllib.loads(board_toml), source=f"{where} (board)", raw=board_toml)
    return decide(proc, board, bench_of_text(bench_toml, where) if bench_toml is not None else None)


def bench_of_text(bench_toml: str, where: str = "<archive>") -> BenchConfig:
    """An archived bench config, parsed for planning only (its host is not connected to, so not checked)."""
    from instruments.bench_config import parse_bench
    from instruments.config_schema import tomllib

    return parse_bench(tomllib.loads(bench_toml), source=f"{where} (bench)", raw=bench_toml, allow_remote=True)
