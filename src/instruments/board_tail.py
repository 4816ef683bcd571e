"""The three tail circuits a board config can describe, and what each makes of the ``[tail]`` and ``[degeneration]``
keys (:mod:`.board_config` declares the keys; this module checks which apply and fills the board's fields).

- ``kind = "norton"`` (the default): one ideal current ``current_a`` in parallel with ``r_ohm`` and ``c_f`` from the
  tail node to vee (its DC current is ``I_EE + (V_tail - V_EE)/R_EE``); ``[degeneration] r_ohm`` per emitter.
- ``kind = "split"`` (source text fig. 5-9): two sinks, one at each emitter, each ``current_a/2`` in parallel with
  ``2 r_ohm`` and ``c_f/2`` to vee (together the Norton tail of fig. 5-8: the same current, resistance and
  capacitance), and one resistor ``[degeneration] bridge_r_ohm`` between the emitters. ``[mismatch] tail`` is the
  sinks' current mismatch, ``(I2 - I1)/(I/2)`` with the board's convention ``I_k = (I/2)(1 -+ d/2)``. The board
  holds ``degeneration_r_ohm = bridge_r_ohm/2``: the simulated board builds the bridge as two halves that meet at
  the tail node, which then sits at the emitters' mean voltage and carries no current, so the Norton formula
  above still gives the sinks' total current. No per-emitter resistor besides the bridge (``r_ohm = 0``); resistive
  loads only.
- ``kind = "transistor"``: a device of the pair's kind (npn or nmos, its I_S or kp times ``size_ratio``), collector
  or drain at the tail node, base or gate held at ``bias_v`` by an ideal source, emitter or source through
  ``r_e_ohm`` (0: none) to vee, ``c_f`` from the tail node to vee. Its current, about ``(V_bias - V_BE)/R_E``,
  and its output resistance, ``r_o (1 + g_m R_E')`` with ``R_E' = R_E || r_pi`` (Gray, Hurst, Lewis & Meyer,
  *Analysis and Design of Analog Integrated Circuits*, ch. 4; Razavi, *Design of Analog CMOS Integrated Circuits*,
  ch. 5), follow from its operating point, which moves with the input common-mode level: when the tail node falls
  so far that the device leaves its active region (its compliance), the output resistance collapses. The board
  holds ``tail_current_a = 0`` and ``tail_r_ohm = inf`` (no Norton part); the models compute both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

TAIL_KINDS = ("norton", "split", "transistor")
_TRANSISTOR_KEYS = ("bias_v", "r_e_ohm", "size_ratio")
_NORTON_KEYS = ("current_a", "r_ohm")


@dataclass(frozen=True)
class TailTransistor:
    """A transistor tail source (module docstring): base/gate at ``bias_v`` (V), ``r_e_ohm`` (Ohm, 0 for none) from
    its emitter/source to vee, its I_S or kp ``size_ratio`` times the pair device's."""

    bias_v: float
    r_e_ohm: float
    size_ratio: float


def _refuse(source: str, tail: dict[str, Any], keys: tuple[str, ...], kind: str, why: str) -> None:
    for key in keys:
        if tail[key] is not None:
            raise ConfigError(source, f"[tail] {key}", f"does not apply to a {kind} tail ({why})")


def _require(source: str, section: str, values: dict[str, Any], keys: tuple[str, ...], kind: str) -> None:
    for key in keys:
        if values[key] is None:
            raise ConfigError(source, f"[{section}] {key}", f"missing required key for a {kind} tail")


def _transistor(source: str, v: dict[str, Any], r_min: float) -> TailTransistor:
    """The transistor tail's keys, checked: its bias within the supplies, its emitter resistor 0 or a resistor."""
    tail = v["tail"]
    _refuse(source, tail, _NORTON_KEYS, "transistor", "its current and output resistance follow from bias_v, "
            "r_e_ohm and the device")
    _require(source, "tail", tail, ("bias_v", "r_e_ohm"), "transistor")
    lo, hi = v["supply"]["vee_v"], v["supply"]["vcc_v"]
    if not lo <= tail["bias_v"] <= hi:
        raise ConfigError(source, "[tail] bias_v", f"{tail['bias_v']:g} V is outside the supplies [{lo:g}, {hi:g}] V")
    r_e = tail["r_e_ohm"]
    if 0.0 < r_e < r_min:
        raise ConfigError(source, "[tail] r_e_ohm", f"{r_e:g} Ohm is a wire, not a resistor: 0 (none) or at least "
                          f"{r_min:g} Ohm")
    ratio = 1.0 if tail["size_ratio"] is None else tail["size_ratio"]
    return TailTransistor(tail["bias_v"], r_e, ratio)


def tail_fields(source: str, v: dict[str, Any], r_min: float) -> dict[str, Any]:
    """The :class:`~instruments.board_config.BoardConfig` fields of the tail and the degeneration from the validated
    sections ``v`` (module docstring); one-line :class:`ConfigError` for a key that does not fit the tail's kind.
    ``r_min``: the least resistor (Ohm) that is not a wire."""
    tail, degen = v["tail"], v["degeneration"]
    kind = tail["kind"]
    mismatch = v["mismatch"]["tail"]
    out: dict[str, Any] = {"tail_kind": kind, "tail_c_f": tail["c_f"], "tail_transistor": None,
                           "mismatch_tail": mismatch}
    if kind != "split":
        if degen["bridge_r_ohm"] is not None:
            raise ConfigError(source, "[degeneration] bridge_r_ohm", "applies only to a split tail "
                              "([tail] kind = 'split'); r_ohm is the resistor in each emitter")
        if mismatch != 0.0:
            raise ConfigError(source, "[mismatch] tail", "applies only to a split tail (two sinks to mismatch)")
    if kind == "transistor":
        out["tail_transistor"] = _transistor(source, v, r_min)
        out.update(tail_current_a=0.0, tail_r_ohm=math.inf, degeneration_r_ohm=degen["r_ohm"])
        return out
    _refuse(source, tail, _TRANSISTOR_KEYS, kind, "they describe kind = 'transistor'")
    _require(source, "tail", tail, _NORTON_KEYS, kind)
    out.update(tail_current_a=tail["current_a"], tail_r_ohm=tail["r_ohm"], degeneration_r_ohm=degen["r_ohm"])
    if kind == "split":
        if v["load"]["type"] != "resistive":
            raise ConfigError(source, "[tail] kind", "a split tail is modelled with resistive loads only")
        _require(source, "degeneration", degen, ("bridge_r_ohm",), kind)
        if degen["r_ohm"] != 0.0:
            raise ConfigError(source, "[degeneration] r_ohm", "a split tail's emitters meet through bridge_r_ohm; "
                              "a resistor in each emitter besides it is not modelled (0 or leave it out)")
        out["degeneration_r_ohm"] = degen["bridge_r_ohm"] / 2.0
    return out
