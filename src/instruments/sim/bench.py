"""The simulated bench: generator -> board -> scope, each instrument an SCPI server on a loopback port.

:class:`SimBench` builds the virtual instruments a simulated bench config names (``[generator] dialect``,
``[scope] dialect``), puts the config's board between them with the config's ``[wiring]``, and serves both
instruments on TCP (docs/reference/scpi.md §1.4 raw-socket protocol) so that any VISA client reaches them as
``TCPIP0::127.0.0.1::<port>::SOCKET``. Only loopback addresses are served unless the config's
``[sim] allow_remote`` or the ``allow_remote`` argument opts in (bench_config.py); then one warning is logged.

Signal flow for each acquisition: the generator state gives each channel's EMF and source resistance
(:class:`~.board.Drive`); the board solves its periodic steady state with the channels wired to its pins
(``[wiring] in1/in2``, a channel twice = inputs tied); the pin and output harmonics go to the scope
channels named by ``[wiring] v1/v2/vo1/vo2``, the outputs with the board's noise density.

When the two channels feeding the board run at different frequencies the response is not periodic at
one frequency; the bench then superposes the two single-frequency solutions (exact for small signals,
an approximation for large ones).
"""

from __future__ import annotations

import cmath
import importlib
import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

import numpy as np

from ..bench_config import (
    SIM_GENERATOR_DIALECTS,
    SIM_SCOPE_DIALECTS,
    BenchConfig,
    check_host,
    is_loopback,
    load_bench,
)
from ..board_config import load_board
from ..errors import ConfigError
from .acquisition import ChannelInput, Tone
from .arrays import ComplexArray
from .board import Drive, SimBoard, Wiring
from .generator_device import GeneratorDevice
from .generator_state import GeneratorState
from .scope_device import SimScope
from .scope_state import Imperfections, ScopeState, SignalSource
from .scpi_server import ScpiServer
from .steady_state import SteadyState
from .timing_model import InstrumentTiming, TimingLedger, model_for

log = logging.getLogger(__name__)

N_HARMONICS = 32
_NODES = {"v1": "in1", "v2": "in2", "vo1": "out1", "vo2": "out2"}


def _dialect_module(kind: str, dialect: str, served: tuple[str, ...]) -> ModuleType:
    """The module ``instruments.sim.<dialect>`` that serves ``dialect`` (a generator module defines
    ``make_generator(sim, seed)``, a scope module ``make_scope(source, imperfections, seed)``)."""
    if dialect not in served:
        raise ConfigError("", f"[{kind}] dialect", f"no simulated {kind} speaks {dialect!r} ({', '.join(served)})")
    return importlib.import_module(f"{__package__}.{dialect}")


def _generator(dialect: str, sim: Mapping[str, object], seed: int) -> GeneratorDevice:
    device: GeneratorDevice = _dialect_module("generator", dialect, SIM_GENERATOR_DIALECTS).make_generator(
        dict(sim), seed)
    return device


def _scope(dialect: str, source: SignalSource, imperfections: Imperfections, seed: int) -> SimScope:
    device: SimScope = _dialect_module("scope", dialect, SIM_SCOPE_DIALECTS).make_scope(source, imperfections, seed)
    return device


class SimBench:
    """A running simulated bench (generator, board, scope) built from a simulated bench config.

    ``bench = SimBench(load_bench("configs/benches/sim-keysight.toml"))``, then connect pyvisa to
    ``bench.resources["generator"]`` and ``bench.resources["scope"]``. Use as a context manager, or call
    :meth:`close`. ``host``/``gen_port``/``scope_port`` override the config (port 0 = any free port).

    Live state for tests: :attr:`board` (the truth: ``board.small_signal_s(f)``), :attr:`generator`
    (``outputs_on()``, ``drives()``, channel settings), :attr:`scope` (settings, last acquisition),
    :attr:`generator_device`/:attr:`scope_device` (error queues), :meth:`steady_state` (the board's
    present response to the generator).
    """

    def __init__(self, config: BenchConfig, board: SimBoard | None = None, *, host: str | None = None,
                 gen_port: int | None = None, scope_port: int | None = None, allow_remote: bool = False) -> None:
        """``allow_remote``: serve on a host that is not loopback even when the config's ``[sim] allow_remote``
        is false (``diffbench sim serve --allow-remote``); without either such a host is a :class:`ConfigError`,
        raised before anything is bound. A non-loopback server logs one warning when it starts."""
        if not config.simulated:
            raise ConfigError(config.source, "[bench] simulated",
                              "this bench describes real instruments; `diffbench sim` serves simulated benches only")
        remote_ok = allow_remote or bool(config.sim.get("allow_remote", False))
        if host is None:
            host = check_host(config.source, "[bench] host", config.host, remote_ok)
        else:
            check_host("", "--host", host, remote_ok)
        if board is None:
            assert config.board_path is not None
            board = SimBoard.from_config(load_board(config.board_path))
        self.config = config
        self.board = board
        seed = int(config.sim.get("seed", 0))
        self._lock = threading.Lock()
        w = config.wiring
        self._pins: tuple[int | None, int | None] = (w.in1, w.in2)
        self._probes: dict[int, str | None] = {ch: _NODES[node] for node, ch in w.scope_channels().items()}
        assert config.generator.dialect is not None and config.scope.dialect is not None
        self.generator_device = _generator(config.generator.dialect, config.sim, seed)
        self.generator: GeneratorState = self.generator_device.state
        self.scope_device = _scope(config.scope.dialect, self._scope_inputs, Imperfections.from_sim(config.sim), seed)
        self.scope: ScopeState = self.scope_device.state
        on = bool(config.sim.get("timing", False))
        #: each instrument's timing model and ledger (instruments.sim.timing_model): always accounted, applied
        #: when ``[sim] timing = true``
        self.timing = {kind: InstrumentTiming(model_for(dialect, config.sim), TimingLedger(), on)
                       for kind, dialect in (("generator", config.generator.dialect), ("scope", config.scope.dialect))}
        self.scope.timing = self.timing["scope"]
        self._servers: list[ScpiServer] = []
        try:
            self._servers.append(ScpiServer(self.generator_device, host,
                                            config.generator.port if gen_port is None else gen_port,
                                            self.timing["generator"]))
            self._servers.append(ScpiServer(self.scope_device, host,
                                            config.scope.port if scope_port is None else scope_port,
                                            self.timing["scope"]))
        except Exception:
            self.close()
            raise
        if not is_loopback(host):
            log.warning("warning: the simulated bench is served on %s, not loopback: every machine that reaches "
                        "this one can drive it (generator port %d, scope port %d)",
                        host, self._servers[0].port, self._servers[1].port)

    @classmethod
    def from_file(cls, path: str | Path, *, board: SimBoard | None = None, host: str | None = None,
                  gen_port: int | None = None, scope_port: int | None = None, allow_remote: bool = False) -> SimBench:
        """Load a bench config file and start its bench (the keywords as for the constructor)."""
        return cls(load_bench(path), board, host=host, gen_port=gen_port, scope_port=scope_port,
                   allow_remote=allow_remote)

    # -- VISA side ---------------------------------------------------------------------------------
    @property
    def resources(self) -> dict[str, str]:
        """``{"generator": "TCPIP0::127.0.0.1::<port>::SOCKET", "scope": ...}``."""
        return {"generator": self._servers[0].resource, "scope": self._servers[1].resource}

    def close(self) -> None:
        """Stop both servers and drop their clients (idempotent)."""
        for s in self._servers:
            s.close()

    def __enter__(self) -> SimBench:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- wiring ------------------------------------------------------------------------------------
    @property
    def wiring(self) -> tuple[int | None, int | None]:
        """Generator channel (1, 2) on input 1 and input 2; None = the pin is left to the bias network."""
        return self._pins

    def set_wiring(self, in1: int | None = 1, in2: int | None = 2) -> None:
        """Rewire the inputs at run time, as a relay box would: ``set_wiring(1, 1)`` ties both inputs to
        channel 1 (common mode from one channel), ``set_wiring(1, 2)`` drives them separately."""
        for name, ch in (("in1", in1), ("in2", in2)):
            if ch not in (1, 2, None):
                raise ValueError(f"{name}: generator channel must be 1, 2 or None, got {ch!r}")
        with self._lock:
            self._pins = (in1, in2)

    @property
    def probes(self) -> dict[int, str | None]:
        """Board node each scope channel probes (``None``: probe tip grounded)."""
        with self._lock:
            return dict(self._probes)

    def set_probes(self, probes: Mapping[int, str | None]) -> None:
        """Move scope probes at run time: ``{channel: node}`` with node ``in1``, ``in2``, ``out1``, ``out2``
        or ``None`` for a grounded probe. Channels not named stay where they are. Used for the same-signal
        channel calibration (docs/reference/measurement-methods.md §3.4 step 1)."""
        known = set(_NODES.values())
        for ch, node in probes.items():
            if ch not in (1, 2, 3, 4):
                raise ValueError(f"scope channel must be 1..4, got {ch!r}")
            if node is not None and node not in known:
                raise ValueError(f"channel {ch}: no board node {node!r}")
        with self._lock:
            self._probes.update(probes)

    # -- physics ----------------------------------------------------------------------------------
    def _drives(self) -> tuple[Drive, Drive]:
        with self.generator_device.lock:
            return self.generator.drives()

    def steady_state(self) -> list[tuple[float, BoardResponse]]:
        """The board's present periodic response to the generator as ``[(freq_hz, BoardResponse)]``: one
        entry, or two when the channels driving the board run at different frequencies (superposed, see
        the module docstring). ``response.harmonics("in1")`` etc. are the truth at the pins and outputs."""
        with self.generator_device.lock:
            drives = self.generator.drives()
            freqs = self.generator.frequencies()
        with self._lock:
            pins = self._pins
        wiring: Wiring = (None if pins[0] is None else pins[0] - 1, None if pins[1] is None else pins[1] - 1)
        active = sorted({j for j in wiring if j is not None and drives[j].enabled and drives[j].ac_v != 0})
        distinct = sorted({freqs[j] for j in active})
        if len(distinct) <= 1:
            f = distinct[0] if distinct else 0.0
            return [(f, self._solve(f, drives, wiring))]
        out = []
        for f in distinct:
            only = tuple(d if (j in active and freqs[j] == f) or j not in active else
                         Drive(d.dc_v, 0j, d.source_r_ohm, d.enabled) for j, d in enumerate(drives))
            out.append((f, self._solve(f, only, wiring)))
        return out

    def _solve(self, freq_hz: float, drives: tuple[Drive, ...], wiring: Wiring) -> BoardResponse:
        """Board steady state, with the drives' common phase removed first so that the board's cache hits
        whatever the (random) phase of the generator's DDS; the harmonics are rotated back."""
        ref = next((d.ac_v for d in drives if d.enabled and d.ac_v != 0), 0j)
        if freq_hz == 0.0 or ref == 0:
            dc = [Drive(d.dc_v, 0j, d.source_r_ohm, d.enabled) for d in drives]
            return BoardResponse(self.board.steady_state(0.0, dc, wiring, N_HARMONICS), 0.0)
        phi = cmath.phase(ref)
        rot = cmath.exp(-1j * phi)
        norm = [Drive(d.dc_v, d.ac_v * rot, d.source_r_ohm, d.enabled) for d in drives]
        ss = self.board.steady_state(freq_hz, norm, wiring, N_HARMONICS)
        return BoardResponse(ss, phi)

    def _scope_inputs(self) -> dict[int, ChannelInput]:
        """What each scope channel is connected to, for the scope's acquisition engine."""
        solutions = self.steady_state()
        noise = self.board.output_noise_v_per_rthz
        inputs = {}
        with self._lock:
            probes = dict(self._probes)
        for ch, node in probes.items():
            if node is None:
                inputs[ch] = ChannelInput((), 0.0)
                continue
            tones = []
            for i, (f, ss) in enumerate(solutions):
                c = ss.harmonics(node)
                if i > 0:
                    c = c.copy()
                    c[0] = 0.0
                tones.append(Tone(f, c))
            inputs[ch] = ChannelInput(tuple(tones), noise if node.startswith("out") else 0.0)
        return inputs


class BoardResponse:
    """The board's steady state for the generator's actual phase: the solved :class:`SteadyState` (solved
    with the drives' common phase removed) with harmonic k turned back by ``k phi``."""

    def __init__(self, ss: SteadyState, phi: float) -> None:
        self.steady_state = ss
        self._phi = phi
        self.freq_hz = ss.freq_hz

    def harmonics(self, node: str) -> ComplexArray:
        """Complex coefficients c_0..c_K of ``node``, V."""
        c = self.steady_state.harmonics(node)
        turned: ComplexArray = c * np.exp(1j * self._phi * np.arange(len(c)))
        return turned
