"""Model fits of a run: every fit its tables allow, stored in and loaded from the archive, compared with the
board's nominal prediction.

- ``gains`` (frequency sweep) -> ``small_signal``: S(f) against the exact small-signal model
  (:mod:`procedures.fitting.small_signal`);
- ``dm_gain`` (amplitude sweep) -> ``large_signal``: |Add| and THD versus drive against the large-signal
  transfer (:mod:`procedures.fitting.large_signal`);
- ``dc`` (DC transfer) -> ``dc_transfer``: vod(vid), offset and slope (:mod:`procedures.fitting.dc`).

Options are the procedure config's ``[fit]`` table (:data:`procedures.config.procedure.SCHEMA`): per fit
on/off (``small_signal``, ``large_signal``, ``dc_transfer``), the free parameters of each
(``small_signal_free`` ...; default: what each module documents), and ``bounds`` (``name = [lo, hi]`` in SI
units, for any fit's parameter of that name). Parameters not free are held at the board's nominal values.

Archive layout of one fit (``/entry/results/fit_<name>``, written with ``RunArchive.write_result``):
``param_name``, ``param_unit``, ``value``, ``stderr``, ``nominal`` (dim ``n_param``), ``correlation``
(``n_param`` x ``n_param2``); ``fixed_name``, ``fixed_value`` (``n_fixed``); ``derived_name``,
``derived_unit``, ``derived_value``, ``derived_stderr`` (``n_derived``); ``x``, ``used`` (``n_point``) and per
quantity q ``measured_q``, ``measured_u_q``, ``fitted_q``, ``predicted_q``, ``residual_q``; ``curve_x`` and
``curve_fitted_q``, ``curve_predicted_q`` (``n_curve``). Attributes: ``fit_name``, ``model``, ``chi2_red``,
``dof``, ``x_name``, ``quantities``, ``stderr_scale``, ``success``, ``message``, ``p_value`` (the chi-square's
survival probability) and ``status`` (``consistent``, ``inconsistent`` or ``not converged``:
:attr:`procedures.fitting.core.FitResult.status`; an archive without them gets them from ``chi2_red`` and ``dof``).
"""

from __future__ import annotations

import functools
import logging
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from instruments.board_config import BoardConfig, parse_board
from instruments.config_schema import validate_section
from instruments.errors import ConfigError
from procedures.fitting.core import FitError, FitOptionError, FitResult

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

if TYPE_CHECKING:  # pragma: no cover - typing only
    from procedures.archive.reader import RunData
    from procedures.archive.writer import RunArchive

__all__ = ["FitError", "FitOptionError", "FitResult", "board_of", "comparison_table", "fit_options",
           "fit_options_from_text", "fit_payload", "fit_run", "fit_tables", "load_fits", "store_fits",
           "tables_from_rows"]

log = logging.getLogger(__name__)
RESULT_PREFIX = "fit_"
FIT_TABLES = (("small_signal", "gains"), ("large_signal", "dm_gain"), ("dc_transfer", "dc"))
X_UNITS = {"frequency_hz": "Hz", "vid_vpk": "V", "vid_v": "V"}
#: every fit parameter (procedures.fitting.small_signal, fit_transfer, fit_dc)
PARAMETER_NAMES = ("gm", "d_gm", "r_o", "R_L", "d_R", "C_L", "d_C", "R_EE", "C_T", "vt", "v_ov", "R_E", "i_tail",
                   "v_os")
Q_UNITS = {"vod_v": "V"}


def fit_options(doc: Mapping[str, Any] | None, source: str = "<procedure>") -> dict[str, Any]:
    """The validated ``[fit]`` table of a parsed procedure TOML document (defaults when absent)."""
    from procedures.config.procedure import SCHEMA

    table = dict((doc or {}).get("fit", {}))
    out = validate_section(source, "fit", SCHEMA["fit"], table)
    bounds = out.get("bounds") or {}
    for name, b in bounds.items():
        if name not in PARAMETER_NAMES:
            raise ConfigError(source, f"[fit] bounds.{name}", "no fit has a parameter of that name (known: "
                              + ", ".join(PARAMETER_NAMES) + ")")
        if (not isinstance(b, list) or len(b) != 2
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in b)):
            raise ConfigError(source, f"[fit] bounds.{name}", f"expected [lo, hi] (two numbers), got {b!r}")
        if any(math.isnan(float(x)) for x in b) or not float(b[0]) < float(b[1]):
            raise ConfigError(source, f"[fit] bounds.{name}", f"needs lo < hi, got {b!r}")
    out["bounds"] = {k: [float(v[0]), float(v[1])] for k, v in bounds.items()}
    return out


def board_of(run: RunData) -> BoardConfig:
    """The run's board config, parsed from the TOML text archived with it."""
    text = run.configs.get("board")
    if not text:
        raise FitError(f"{run.path}: the archive holds no board config to fit against")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FitError(f"{run.path}: the archived board config is not valid TOML: {exc}") from None
    return parse_board(doc, source=f"{run.path} (archived board config)", raw=text,
                       netlist_text=run.configs.get("netlist"))


def _archived_options(run: RunData) -> dict[str, Any]:
    try:
        return fit_options_from_text(run.configs.get("procedure", ""), f"{run.path} (archived procedure config)")
    except tomllib.TOMLDecodeError:
        return fit_options({})


def fit_run(run: RunData, board: BoardConfig, options: Mapping[str, Any] | None = None,
            notes: list[str] | None = None) -> list[FitResult]:
    """Every fit the run's tables allow (module docstring), in the order small-signal, large-signal, DC.

    ``options``: a validated ``[fit]`` table (:func:`fit_options`); default: the archived procedure config's.
    A fit that cannot be made for this run (an active load for the large-signal fit, too few points in the
    modelled region, ...) is skipped and its reason appended to ``notes``; a FitError is raised when the run
    has none of the tables, a FitOptionError when the options are wrong.
    """
    opts = _archived_options(run) if options is None else options
    return fit_tables(run.tables, board, opts, notes, where=str(run.path))


def fit_options_from_text(procedure_toml: str, source: str = "<procedure>") -> dict[str, Any]:
    """:func:`fit_options` of a procedure config's TOML text (``ProcedureConfig.raw``)."""
    return fit_options(tomllib.loads(procedure_toml) if procedure_toml else {}, source)


def tables_from_rows(rows: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Result or point rows (dicts, as ``procedures.analysis.results.compute_results`` makes them) as columns, the form
    :func:`fit_tables` and ``RunData.tables`` use."""
    if not rows:
        return {}
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


def _netlist_runners(board: BoardConfig, opts: Mapping[str, Any], points: Mapping[str, np.ndarray] | None = None
                     ) -> dict[str, Callable[[Mapping[str, np.ndarray]], FitResult]]:
    """The fits of a netlist board with no closed-form family, each against ngspice with the netlist's
    ``fit_params`` adjusted: small-signal gains (:mod:`procedures.fitting.netlist_fit`), gain and THD versus drive
    (:mod:`procedures.fitting.netlist_large_signal`; ``points`` is the run's points table, for the THD's
    uncertainties: without it the THD is not fitted) and the DC transfer with its offset
    (:mod:`procedures.fitting.netlist_dc_fit`). Without ngspice, or when ngspice fails on the netlist, a fit
    raises a FitError with ngspice's one line (the fit is skipped, the run stands)."""
    from procedures.fitting.netlist_dc_fit import fit_netlist_dc
    from procedures.fitting.netlist_fit import fit_netlist_small_signal
    from procedures.fitting.netlist_large_signal import fit_netlist_large_signal
    from procedures.predict.ngspice_run import NgspiceFailed, NgspiceMissing

    def with_ngspice(fit: Callable[[Mapping[str, np.ndarray]], FitResult]
                     ) -> Callable[[Mapping[str, np.ndarray]], FitResult]:
        def run(t: Mapping[str, np.ndarray]) -> FitResult:
            try:
                return fit(t)
            except (NgspiceMissing, NgspiceFailed) as exc:
                raise FitError(str(exc)) from None
        return run

    return {"small_signal": with_ngspice(lambda t: fit_netlist_small_signal(t, board, opts)),
            "large_signal": with_ngspice(lambda t: fit_netlist_large_signal(t, board, opts, points)),
            "dc_transfer": with_ngspice(lambda t: fit_netlist_dc(t, board, opts))}


def _is_level_sweep(table: Mapping[str, np.ndarray]) -> bool:
    """A dm_gain table of one drive at several input levels (a common-mode range): not a drive sweep, so
    nothing for the large-signal fit (its gains per level are the range's result, not a model's input)."""
    vid = np.asarray(table.get("vid_vpk_nominal", table.get("vid_vpk", [])), float)
    bias = np.asarray(table.get("bias_v", []), float)
    return vid.size > 1 and bias.size == vid.size and bool(np.ptp(vid) == 0.0 and np.ptp(bias) > 0.0)


def fit_tables(tables: Mapping[str, Mapping[str, np.ndarray]], board: BoardConfig, options: Mapping[str, Any],
               notes: list[str] | None = None, where: str = "run") -> list[FitResult]:
    """The fits of :func:`fit_run` from tables held in memory (``{"gains": columns, ..., "points": columns}``),
    e.g. at the end of a run before ``RunArchive.finish``::

        tables = {name: tables_from_rows(r) for name, r in results.items()}
        tables["points"] = tables_from_rows(point_rows)
        store_fits(archive, fit_tables(tables, board, fit_options_from_text(procedure.raw)))
    """
    from procedures.fitting.dc import fit_dc_transfer
    from procedures.fitting.large_signal import fit_large_signal
    from procedures.fitting.small_signal import fit_small_signal

    opts = dict(options)
    runners: dict[str, Callable[[Mapping[str, np.ndarray]], FitResult]] = {
        "small_signal": lambda t: fit_small_signal(t, board, opts),
        "large_signal": lambda t: fit_large_signal(t, board, opts, tables.get("points")),
        "dc_transfer": lambda t: fit_dc_transfer(t, board, opts),
    }
    if board.netlist is not None and not board.netlist.family:
        runners = _netlist_runners(board, opts, tables.get("points"))
    present = [(name, table) for name, table in FIT_TABLES
               if tables.get(table) and len(next(iter(tables[table].values()))) > 0
               and not (table == "dm_gain" and _is_level_sweep(tables[table]))]
    if not present:
        raise FitError(f"{where}: nothing to fit: the run has no rows in a gains, dm_gain or dc table")
    fits = []
    for name, table in present:
        if not opts.get(name, True):
            continue
        try:
            fits.append(runners[name](tables[table]))
        except FitOptionError:
            raise
        except FitError as exc:
            msg = f"{name} fit skipped: {exc}"
            log.warning(msg)
            if notes is not None:
                notes.append(msg)
    return fits


# ----------------------------------------------------------------------------------------------------------
# Archive


def fit_payload(fit: FitResult) -> tuple[str, dict[str, Any]]:
    """The result name and the ``write_result`` keyword arguments of one fit (module docstring)."""
    arrays: dict[str, Any] = {
        "param_name": np.array(fit.params, dtype=object), "param_unit": np.array(fit.units, dtype=object),
        "value": fit.values, "stderr": fit.stderr, "nominal": fit.nominal, "correlation": fit.correlation,
        "x": fit.x, "used": np.asarray(fit.used, bool) if len(fit.used) == len(fit.x) else np.ones(len(fit.x), bool),
        "curve_x": fit.curve_x,
    }
    dims: dict[str, tuple[str, ...]] = {k: ("n_param",)
                                        for k in ("param_name", "param_unit", "value", "stderr", "nominal")}
    dims.update(correlation=("n_param", "n_param2"), x=("n_point",), used=("n_point",), curve_x=("n_curve",))
    x_unit = X_UNITS.get(fit.x_name, "")
    units = {"x": x_unit, "curve_x": x_unit}
    long_names = {"x": f"measured abscissa ({fit.x_name})", "used": "point used by the fit",
                  "correlation": "correlation matrix of the free parameters"}
    if fit.fixed:
        arrays["fixed_name"] = np.array(list(fit.fixed), dtype=object)
        arrays["fixed_value"] = np.array(list(fit.fixed.values()), float)
        dims.update(fixed_name=("n_fixed",), fixed_value=("n_fixed",))
    if fit.derived:
        arrays["derived_name"] = np.array(list(fit.derived), dtype=object)
        arrays["derived_value"] = np.array([v[0] for v in fit.derived.values()], float)
        arrays["derived_stderr"] = np.array([v[1] for v in fit.derived.values()], float)
        arrays["derived_unit"] = np.array([v[2] for v in fit.derived.values()], dtype=object)
        dims.update({k: ("n_derived",) for k in ("derived_name", "derived_value", "derived_stderr", "derived_unit")})
    for q in fit.measured:
        unit = Q_UNITS.get(q, "1")
        for prefix, src, dim in (("measured_", fit.measured, "n_point"), ("measured_u_", fit.measured_u, "n_point"),
                                 ("fitted_", fit.fitted, "n_point"), ("predicted_", fit.predicted, "n_point"),
                                 ("residual_", fit.residuals, "n_point"),
                                 ("curve_fitted_", fit.curve_fitted, "n_curve"),
                                 ("curve_predicted_", fit.curve_predicted, "n_curve")):
            arrays[prefix + q] = np.asarray(src[q])
            dims[prefix + q] = (dim,)
            units[prefix + q] = "1" if prefix == "residual_" else unit
    attrs = {"fit_name": fit.name, "model": fit.model, "chi2_red": float(fit.chi2_red), "dof": int(fit.dof),
             "x_name": fit.x_name, "quantities": list(fit.measured), "stderr_scale": float(fit.stderr_scale),
             "success": bool(fit.success), "message": fit.message, "p_value": float(fit.p_value),
             "status": fit.status}
    return RESULT_PREFIX + fit.name, {"arrays": arrays, "attrs": attrs, "units": units, "long_names": long_names,
                                      "dims": dims}


def store_fits(archive: RunArchive, fits: list[FitResult]) -> None:
    """Queue every fit as a whole-run result of an archive being written (``fit_<name>``; written in finish)."""
    for fit in fits:
        name, kw = fit_payload(fit)
        archive.write_result(name, **kw)


def _by_quantity(arrays: Mapping[str, Any], prefix: str, quantities: Sequence[str]) -> dict[str, np.ndarray]:
    """``{quantity: arrays[prefix + quantity]}`` for each of ``quantities`` (a stored fit's per-quantity arrays)."""
    return {q: np.asarray(arrays[prefix + q]) for q in quantities}


def load_fits(run: RunData) -> list[FitResult]:
    """The fits stored in a run archive (results named ``fit_*``), in the order they were written."""
    out = []
    for name, r in run.results.items():
        if not name.startswith(RESULT_PREFIX) or "fit_name" not in r.attrs:
            continue
        a, at = r.arrays, r.attrs
        quantities = [str(q) for q in (at.get("quantities") or [])]
        if isinstance(at.get("quantities"), str):
            quantities = [at["quantities"]]
        pick = functools.partial(_by_quantity, a, quantities=quantities)
        fixed = dict(zip((str(s) for s in a.get("fixed_name", [])), (float(v) for v in a.get("fixed_value", []))))
        derived = {str(n): (float(v), float(e), str(u)) for n, v, e, u in zip(
            a.get("derived_name", []), a.get("derived_value", []), a.get("derived_stderr", []),
            a.get("derived_unit", []))}
        out.append(FitResult(
            name=str(at["fit_name"]), model=str(at.get("model", "")), params=[str(s) for s in a["param_name"]],
            values=np.asarray(a["value"], float), stderr=np.asarray(a["stderr"], float),
            correlation=np.asarray(a["correlation"], float), units=[str(s) for s in a["param_unit"]],
            nominal=np.asarray(a["nominal"], float), fixed=fixed, chi2_red=float(at["chi2_red"]), dof=int(at["dof"]),
            x_name=str(at["x_name"]), x=np.asarray(a["x"]), measured=pick("measured_"),
            measured_u=pick("measured_u_"), fitted=pick("fitted_"), predicted=pick("predicted_"),
            curve_x=np.asarray(a["curve_x"]), curve_fitted=pick("curve_fitted_"),
            curve_predicted=pick("curve_predicted_"), residuals=pick("residual_"), used=np.asarray(a["used"], bool),
            derived=derived, stderr_scale=float(at.get("stderr_scale", 1.0)), success=bool(at.get("success", True)),
            message=str(at.get("message", "")), p_value=float(at.get("p_value", math.nan)),
        ))
    return out


# ----------------------------------------------------------------------------------------------------------
# Prediction versus measurement versus fit


def _db(z: Any) -> float:
    a = abs(complex(z))
    return 20.0 * math.log10(a) if a > 0 else -math.inf


def comparison_table(fit: FitResult) -> list[dict[str, Any]]:
    """Prediction (nominal components) versus measurement versus fit, one row per point and quantity.

    Keys: ``x`` (in ``fit.x_name``'s unit), ``quantity``, ``unit``, ``used``; ``measured``, ``u``,
    ``predicted``, ``fitted`` (complex for the gains, float otherwise); ``*_db`` (20 log10 |.|; NaN for a
    quantity that is not a ratio, e.g. vod in V); ``*_deg`` (phase, NaN for real quantities);
    ``pred_diff_db``/``pred_diff_deg``: measured relative to predicted (dB, degrees, the phase of
    measured/predicted); ``fit_diff_db``/``fit_diff_deg``: measured relative to fitted; ``pred_diff`` and
    ``fit_diff``: plain differences in the quantity's unit; ``z_fit``: ``|measured - fitted|/u``.
    """
    rows = []
    nan = math.nan
    for q in fit.measured:
        unit = Q_UNITS.get(q, "1")
        ratio = unit == "1"
        for i, x in enumerate(fit.x):
            m, p, f = fit.measured[q][i], fit.predicted[q][i], fit.fitted[q][i]
            u = float(np.real(fit.measured_u[q][i]))
            is_c = np.iscomplexobj(fit.measured[q])
            row: dict[str, Any] = {"x": float(x), "quantity": q, "unit": unit,
                                   "used": bool(fit.used[i]) if len(fit.used) else True,
                                   "measured": complex(m) if is_c else float(m), "u": u,
                                   "predicted": complex(p) if is_c else float(p),
                                   "fitted": complex(f) if is_c else float(f)}
            for key, v in (("measured", m), ("predicted", p), ("fitted", f)):
                row[f"{key}_db"] = _db(v) if ratio else nan
                row[f"{key}_deg"] = math.degrees(np.angle(v)) if is_c else nan
            for key, ref in (("pred", p), ("fit", f)):
                row[f"{key}_diff_db"] = _db(m) - _db(ref) if ratio and ref != 0 and m != 0 else nan
                row[f"{key}_diff_deg"] = math.degrees(np.angle(m / ref)) if is_c and ref != 0 else nan
                row[f"{key}_diff"] = complex(m - ref) if is_c else float(m - ref)
            row["z_fit"] = float(abs(m - f) / u) if u > 0 else nan
            rows.append(row)
    return rows
