"""A board's DC transfer vod(vid) at one common-mode level, from a single ngspice ``.dc`` sweep.

``.dc`` sweeps one source (ngspice User's Manual, ".dc: DC Transfer Function"), and the two pins must move in
opposite directions: one source ``vdiffbench_d`` carries vid, one ``vdiffbench_cm`` the common mode vic, and two
voltage-controlled voltage sources (manual, "Voltage-Controlled Voltage Sources", ``E`` elements with gains
+1/2 and -1/2) put ``v1 = vic + vid/2`` and ``v2 = vic - vid/2`` on the input pins: ideal sources, so the pins'
levels are exactly what the sweep says whatever current the board draws, as the measured vid and vic are the
pins' own levels. ``vod = v(out1) - v(out2)`` is formed inside ngspice (full precision) and written with
``wrdata`` at 16 digits.

The deck text does not depend on the board's ``.param`` values: :func:`with_params` adds ``alterparam`` lines at
the start of its control block (manual, "Interactive Interpreter", ``alterparam`` and ``reset``: the circuit is
re-parsed with the new values at the ``reset`` that every analysis of these decks is preceded by), so a fit can
build a deck once and run it at many parameter sets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .ngspice_board import KELVIN_AT_0_C, circuit_text
from .ngspice_run import NgspiceFailed, run_deck

_D, _CM = "diffbench_d", "diffbench_cm"
RELTOL, VNTOL_V, ABSTOL_A = 1e-6, 1e-9, 1e-15
"""Newton tolerances of the sweep (manual, ".options": RELTOL, VNTOL, ABSTOL; the transient deck's): ngspice's
defaults (1e-3, 1e-6 V) leave microvolts on vod from point to point."""


@dataclass(frozen=True)
class DcTransfer:
    """ngspice's DC transfer: the swept ``vid_v`` (V, as ngspice stepped it) and ``vod_v`` (V) there."""

    vid_v: np.ndarray
    vod_v: np.ndarray


def with_params(deck: str, params: Mapping[str, float]) -> str:
    """``deck`` with ``alterparam name=value`` for each of ``params`` (new top-level ``.param`` values) first in
    its ``.control`` block; the deck's own ``reset`` before each analysis applies them (module docstring)."""
    if not params:
        return deck
    head, sep, tail = deck.partition("\n.control\n")
    if not sep:
        raise ValueError("the deck has no .control block to add alterparam lines to")
    lines = "".join(f"alterparam {name}={float(value)!r}\n" for name, value in params.items())
    return head + sep + lines + tail


def dc_deck(netlist: str, pins: Mapping[str, str], vic_v: float, vid_start_v: float, vid_stop_v: float,
            points: int, t_k: float | None = None) -> str:
    """The ``.dc`` deck (module docstring): ``points`` (>= 2) values of vid (V) from ``vid_start_v`` to
    ``vid_stop_v`` at the common mode ``vic_v`` (V); ``t_k`` (K), when given, as ``.options temp`` (deg C).
    ``pins`` maps ``in1, in2, out1, out2`` to the netlist's nodes. Writes ``dc`` (vid, vod)."""
    vic_v, vid_start_v, vid_stop_v = float(vic_v), float(vid_start_v), float(vid_stop_v)  # repr: plain numbers
    if points < 2 or not vid_stop_v > vid_start_v:
        raise ValueError(f"a .dc sweep needs two or more points over a span, got {points} over "
                         f"[{vid_start_v!r}, {vid_stop_v!r}] V")
    step = (vid_stop_v - vid_start_v) / (points - 1)
    lines = [circuit_text(netlist).rstrip("\n"),
             f"vdiffbench_cm {_CM} 0 DC {vic_v!r}",
             f"vdiffbench_d {_D} 0 DC 0",
             f"ediffbench_1 {pins['in1']} {_CM} {_D} 0 0.5",
             f"ediffbench_2 {pins['in2']} {_CM} {_D} 0 -0.5"]
    opts = f".options reltol={RELTOL!r} vntol={VNTOL_V!r} abstol={ABSTOL_A!r}"
    lines.append(opts if t_k is None else opts + f" temp={t_k - KELVIN_AT_0_C!r}")
    # the stop half a step past the last point: ngspice accumulates the sweep value, and a stop that the sum
    # overshoots by a rounding error would drop the last point
    lines += [".control", "set wr_singlescale", "set numdgt=16", "reset",
              f"dc vdiffbench_d {vid_start_v!r} {vid_stop_v + step / 2!r} {step!r}",
              f"wrdata @OUT@/dc.txt v({pins['out1']})-v({pins['out2']})", "quit 0", ".endc", ".end", ""]
    return "\n".join(lines)


def run_dc(deck: str, points: int, cwd: Path | None = None, what: str = "the ngspice DC sweep") -> DcTransfer:
    """Run a deck of :func:`dc_deck` (with :func:`with_params` applied, if any) that sweeps ``points`` values;
    raises :class:`NgspiceFailed` (or ``NgspiceMissing``) in one line naming ``what``."""
    data = run_deck(deck, ["dc"], what, cwd=cwd, points=points)["dc"]
    if data.shape[0] != points or data.shape[1] < 2:
        raise NgspiceFailed(f"{what}: ngspice returned {data.shape[0]} DC points for {points}")
    return DcTransfer(vid_v=data[:, 0].copy(), vod_v=data[:, 1].copy())
