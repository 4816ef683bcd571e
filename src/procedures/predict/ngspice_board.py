"""A board's netlist through ngspice: operating point and mixed-mode small-signal matrix S at the pins.

The board's own netlist text is kept as it is (its title line first), stripped of its analysis cards and
``.control`` blocks, and two ideal sources are added at the input pins, both at the bias level (the
generator's offset), driven in differential mode (+-1/2) and then in common mode (1 on both). ngspice's AC
analysis linearises the circuit at its operating point (ngspice User's Manual, "Small-Signal AC Analysis"), so
the output's vod and voc under the two excitations are the columns of the mixed-mode matrix S: the same
quantity the simulated board's truth and the closed-form models give, from a third, independent solver.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .ngspice_run import run_deck

PINS = ("in1", "in2", "out1", "out2")
_ANALYSIS = re.compile(r"^\s*\.(op|ac|dc|tran|noise|tf|sens|disto|pz|print|plot|probe|save|meas|measure|four|"
                       r"width|end)\b", re.IGNORECASE)
_DRIVE = ("vdiffbench_in1", "vdiffbench_in2")
KELVIN_AT_0_C = 273.15


@dataclass(frozen=True)
class NgspiceSmallSignal:
    """ngspice's answer for a board: node voltages at rest (V, lower-case node names) and the mixed-mode
    matrix ``s`` (F, 2, 2), ``[vod; voc] = S [vid; vic]`` = ``[[Add, Acd], [Adc, Acc]]``, at ``freq_hz``."""

    op: dict[str, float]
    freq_hz: np.ndarray
    s: np.ndarray


def circuit_text(netlist: str) -> str:
    """The netlist's title and circuit cards up to ``.end``, without analysis cards or ``.control`` blocks."""
    out: list[str] = []
    in_control = False
    for k, line in enumerate(netlist.splitlines()):
        low = line.strip().lower()
        if k > 0 and (low == ".end" or low.startswith(".end ")):
            break  # diffbench's reader stops at .end; ngspice would read on
        if k > 0 and low.startswith(".control"):
            in_control = True
        if not in_control and (k == 0 or not _ANALYSIS.match(line)):
            out.append(line)
        if in_control and low.startswith(".endc"):
            in_control = False
    return "\n".join(out) + "\n"


def _deck(netlist: str, pins: Mapping[str, str], bias_v: float, freq_hz: Sequence[float], t_k: float,
          op_nodes: Sequence[str], params: Mapping[str, float]) -> str:
    """The ngspice deck: the circuit, the two pin drives, and a control block writing ``op`` and, for a
    differential (``dm``: +-1/2 on the pins) and a common-mode (``cm``: 1 on both) excitation, ``vod`` and
    ``voc`` with ``wrdata`` (``set appendwrite``: one row per frequency). Forming vod and voc inside ngspice
    keeps their full precision: a small Acd would otherwise be the difference of four printed 9-digit numbers."""
    in1, in2, out1, out2 = (pins[p] for p in PINS)
    lines = [circuit_text(netlist).rstrip("\n"),
             f"{_DRIVE[0]} {in1} 0 DC {bias_v!r} AC 1",
             f"{_DRIVE[1]} {in2} 0 DC {bias_v!r} AC 1",
             f".options temp={t_k - KELVIN_AT_0_C!r}",
             ".control", "set wr_singlescale", "set appendwrite"]
    if params:  # new .param values, then the circuit re-parsed with them (ngspice manual: alterparam, reset)
        lines += [f"alterparam {name}={value!r}" for name, value in params.items()] + ["reset"]
    lines += ["op",
             "wrdata @OUT@/op.txt " + " ".join(f"v({n})" for n in op_nodes)]
    modes = (("dm", 0.5, 180.0), ("cm", 1.0, 0.0))
    for name, mag, phase2 in modes:
        lines += [f"alter @{_DRIVE[0]}[acmag]={mag!r}", f"alter @{_DRIVE[1]}[acmag]={mag!r}",
                  f"alter @{_DRIVE[1]}[acphase]={phase2!r}"]
        for f in freq_hz:
            lines += [f"ac lin 1 {f!r} {f!r}",
                      f"wrdata @OUT@/{name}.txt v({out1})-v({out2}) (v({out1})+v({out2}))/2"]
    lines += ["quit 0", ".endc", ".end", ""]
    return "\n".join(lines)


def small_signal(netlist: str, pins: Mapping[str, str], bias_v: float, freq_hz: Sequence[float], t_k: float,
                 op_nodes: Sequence[str] = (), cwd: Path | None = None,
                 what: str = "the ngspice prediction", params: Mapping[str, float] | None = None
                 ) -> NgspiceSmallSignal:
    """Operating point and ``S(f)`` of a board netlist, both pins held at ``bias_v`` (V) by ideal sources.

    ``pins`` maps ``in1, in2, out1, out2`` to the netlist's node names; ``t_k`` is the board temperature (K,
    passed to ngspice as ``.options temp``, in degrees Celsius); ``op_nodes`` the nodes whose DC voltage is
    reported (the four pins are always reported); ``params`` new values of top-level ``.param``s. Frequencies
    in Hz."""
    f = [float(x) for x in np.atleast_1d(np.asarray(freq_hz, dtype=float))]
    nodes = list(dict.fromkeys([pins[p].lower() for p in PINS] + [n.lower() for n in op_nodes]))
    deck = _deck(netlist, pins, bias_v, f, t_k, nodes, params or {})
    res = run_deck(deck, ["op", "dm", "cm"], what, cwd=cwd, points=2 * len(f) + 1)
    op_row = res["op"][0]
    # wr_singlescale: one scale column, then each vector's value (real) or (real, imag)
    op = {n: float(op_row[1 + k]) for k, n in enumerate(nodes)}
    s = np.empty((len(f), 2, 2), dtype=complex)
    for j, name in enumerate(("dm", "cm")):
        a = res[name]
        if a.shape[0] != len(f):
            raise ValueError(f"{what}: ngspice returned {a.shape[0]} AC rows for {len(f)} frequencies")
        s[:, 0, j] = a[:, 1] + 1j * a[:, 2]
        s[:, 1, j] = a[:, 3] + 1j * a[:, 4]
    return NgspiceSmallSignal(op=op, freq_hz=np.array(f), s=s)
