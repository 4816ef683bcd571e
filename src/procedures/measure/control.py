"""Changing how the bench is connected: tied inputs, and scope probes moved for calibration.

Some points need the bench connected differently (one generator channel into both inputs for a clean
common-mode drive; all four probes on one node for the channel-match calibration; one probe on a driven
node and the other tips grounded for the crosstalk calibration; docs/reference/measurement-methods.md §3.4
steps 1, 3, 4). :class:`SimulatedControl` does it on the simulated bench; :class:`OperatorControl`
asks the person at a real bench and waits for Enter, refusing when nobody can answer (no terminal).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Protocol

from instruments.bench_config import Wiring
from instruments.errors import DiffbenchError
from procedures.measure.plan import lone_probe

#: board node probed by each scope-channel role
NODE_OF = {"v1": "in1", "v2": "in2", "vo1": "out1", "vo2": "out2"}


class BenchControl(Protocol):
    """How a run changes the bench's connections between groups of points. A control may say, with a
    ``touches_instruments`` attribute, that no person is at the instruments while it rewires (False: a relay);
    without it a run assumes one may have used their front panels."""

    def configure(self, tied: bool, probes: str) -> None:
        """Inputs tied to generator channel 1 (or separate); probes ``"normal"``, ``"link"`` (all on in1) or
        ``"xtalk-<node>"`` (that node's probe on in1, the other three grounded)."""


class SimulatedControl:
    """Rewire the simulated bench in-process (the relay box a test rig would have)."""

    #: nobody is at the instruments' front panels while it rewires
    touches_instruments = False

    def __init__(self, sim_bench: object, wiring: Wiring) -> None:
        self.sim = sim_bench
        self.wiring = wiring

    def configure(self, tied: bool, probes: str) -> None:
        self.sim.set_wiring(in1=self.wiring.in1, in2=self.wiring.in1 if tied else self.wiring.in2)  # type: ignore[attr-defined]
        chans = self.wiring.scope_channels()
        lone = lone_probe(probes)
        if probes == "link":
            self.sim.set_probes({ch: "in1" for ch in chans.values()})  # type: ignore[attr-defined]
        elif lone is not None:
            self.sim.set_probes({ch: "in1" if node == lone else None  # type: ignore[attr-defined]
                                 for node, ch in chans.items()})
        else:
            self.sim.set_probes({ch: NODE_OF[node] for node, ch in chans.items()})  # type: ignore[attr-defined]


class OperatorControl:
    """Ask the person at the bench to change a connection; remember the present state to ask only on change."""

    #: the person who rewires may use the instruments' front panels too
    touches_instruments = True

    def __init__(self, wiring: Wiring, ask: Callable[[str], str] = input, interactive: bool | None = None) -> None:
        self.wiring = wiring
        self.ask = ask
        self.interactive = sys.stdin.isatty() if interactive is None else interactive
        self.state = (wiring.tied, "normal")

    def configure(self, tied: bool, probes: str) -> None:
        if (tied, probes) == self.state:
            return
        w = self.wiring
        steps = []
        if tied != self.state[0]:
            steps.append(f"connect generator channel {w.in1} to BOTH inputs (tee)" if tied
                         else f"connect generator channel {w.in1} to input 1 and channel {w.in2} to input 2")
        if probes != self.state[1]:
            steps.append(self._probe_step(probes))
        text = "; ".join(steps)
        if not self.interactive:
            raise DiffbenchError(f"this step needs the bench rewired ({text}) and nobody can confirm it here "
                                 "(no terminal); run interactively, or set [drive] cm_drive = \"two-channel\", "
                                 "[calibration] channel_match = false and crosstalk = false")
        self.ask(f"\n>>> {text}, then press Enter (generator outputs are off) ")
        self.state = (tied, probes)

    def _probe_step(self, probes: str) -> str:
        w = self.wiring
        chans = w.scope_channels()
        if probes == "link":
            return f"put all four scope probes (CH{w.v1}, CH{w.v2}, CH{w.vo1}, CH{w.vo2}) on input 1"
        lone = lone_probe(probes)
        if lone is not None:
            others = ", ".join(f"CH{ch}" for node, ch in chans.items() if node != lone)
            return (f"crosstalk calibration: put the CH{chans[lone]} probe on input 1 and clip the tips of "
                    f"{others} to ground (each on its own ground lead)")
        return (f"put the probes back: CH{w.v1} on input 1, CH{w.v2} on input 2, CH{w.vo1} on output 1, "
                f"CH{w.vo2} on output 2")
