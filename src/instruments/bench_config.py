"""Bench configs (``configs/benches/*.toml``): which instruments, at which VISA address, wired how.

A bench names a generator and a scope (VISA resource, optional driver name, timeout), the wiring between
them and the board (which generator channel drives which input pin, which scope channel sees which node),
and, for a simulated bench, which board sits on it, which dialect each virtual instrument speaks and the
imperfections the simulator models.

Wiring: ``in1``/``in2`` name the generator channel (1 or 2) that drives each board input; the same channel
for both means the inputs are tied to one channel (common mode from one channel). ``v1, v2, vo1, vo2``
name the scope channel (1..4) that probes each node.

The simulator listens on ``[bench] host``, loopback by default. Any other address (``0.0.0.0`` is every
interface) lets every machine that reaches this one drive the simulated bench, so it is refused unless the config
says ``[sim] allow_remote = true`` (or ``diffbench sim serve --allow-remote``); the simulator then warns once when
it starts. Numbers are held to physical ranges as in board configs (timeouts up to 10 min, generator mismatch
+-20 dB, scope bandwidth 1 kHz to 10 GHz, ...; see :data:`SCHEMA`).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config_schema import NAME_PATTERN, Section, load_toml, optional, required, show, validate
from .errors import ConfigError

GENERATOR_DRIVERS = ("keysight_33500", "rigol_dg1000z", "siglent_sdg", "tektronix_afg31000")
SCOPE_DRIVERS = ("keysight_infiniivision", "rigol_ds1000z", "siglent_sds", "tektronix_mso")
SIM_GENERATOR_DIALECTS = ("keysight_33500", "rigol_dg1000z", "siglent_sdg", "tektronix_afg31000")
SIM_SCOPE_DIALECTS = ("keysight_infiniivision", "rigol_ds1000z", "siglent_sds", "tektronix_mso")


TIMEOUT_MS_MAX = 600_000  # a VISA timeout above 10 minutes is a hang, not a timeout
RESOURCE_PATTERN = r"[\x21-\x7e]{1,256}"  # a VISA resource string: printable ASCII, no spaces
LOOPBACK_NAMES = ("localhost",)
HOST_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"


def _instrument_section(drivers: tuple[str, ...], dialects: tuple[str, ...]) -> Section:
    return Section({
        "resource": optional(str, None, pattern=RESOURCE_PATTERN, max_len=256,
                             form="a VISA resource string (printable ASCII without spaces, at most 256 characters)",
                             doc="VISA resource string; for a simulated bench, filled in when served"),
        "driver": optional(str, None, choices=drivers, doc="driver to use; default: chosen from *IDN?"),
        "timeout_ms": optional(int, 5000, lo=1, hi=TIMEOUT_MS_MAX, doc="VISA timeout, ms"),
        "dialect": optional(str, None, choices=dialects, doc="simulated bench only: the SCPI dialect served"),
        "port": optional(int, 0, lo=0, hi=65535, doc="simulated bench only: TCP port (0 = any free port)"),
    })


SCHEMA: dict[str, Section] = {
    "bench": Section({
        "name": required(str, pattern=NAME_PATTERN, max_len=64),
        "description": optional(str, ""),
        "simulated": optional(bool, False, doc="true: the instruments are diffbench's simulator"),
        "board": optional(str, None, doc="simulated bench only: board config on the bench (relative to this file)"),
        "host": optional(str, "127.0.0.1", max_len=253,
                         doc="simulated bench only: address the servers listen on (loopback unless "
                             "[sim] allow_remote = true)"),
    }),
    "generator": _instrument_section(GENERATOR_DRIVERS, SIM_GENERATOR_DIALECTS),
    "scope": _instrument_section(SCOPE_DRIVERS, SIM_SCOPE_DIALECTS),
    "wiring": Section({
        "in1": optional(int, 1, lo=1, hi=2, doc="generator channel driving input 1"),
        "in2": optional(int, 2, lo=1, hi=2, doc="generator channel driving input 2 (= in1: tied)"),
        "v1": optional(int, 1, lo=1, hi=4, doc="scope channel on input 1"),
        "v2": optional(int, 2, lo=1, hi=4, doc="scope channel on input 2"),
        "vo1": optional(int, 3, lo=1, hi=4, doc="scope channel on output 1"),
        "vo2": optional(int, 4, lo=1, hi=4, doc="scope channel on output 2"),
    }, optional=True),
    "sim": Section({
        "seed": optional(int, 0, lo=0, hi=2**32 - 1, doc="the simulator's seeds are 32-bit"),
        "allow_remote": optional(bool, False,
                                 doc="serve on a host that is not loopback (every machine that reaches it can "
                                     "drive the simulated bench); a warning is printed when used"),
        "gen_source_r_ohm": optional(float, 50.0, lo=0.0, hi=1e6,
                                     doc="generator output resistance, Ohm (50 nominal; 1 MOhm: no generator)"),
        "gen_amplitude_mismatch_db": optional(float, 0.1, lo=-20.0, hi=20.0,
                                              doc="channel 2 relative to channel 1, dB (a real one: < 0.5 dB)"),
        "gen_phase_mismatch_deg": optional(float, 0.1, lo=-180.0, hi=180.0,
                                           doc="channel 2 relative to channel 1, degrees"),
        "scope_noise_lsb": optional(float, 1.0, lo=0.0, hi=100.0,
                                    doc="scope input noise, rms, in LSB at the set scale (8 bits: 256 LSB full scale)"),
        "scope_gain_error": optional(list, [0.0, 0.004, -0.003, 0.002], item_kind=float, lo=-0.5, hi=0.5,
                                     doc="relative gain error per channel"),
        "scope_skew_s": optional(list, [0.0, 50e-12, 0.0, 20e-12], item_kind=float, lo=-1e-6, hi=1e-6,
                                 doc="timing skew per channel, s (a deskew range is nanoseconds)"),
        "scope_crosstalk_db": optional(float, -70.0, lo=-200.0, hi=0.0,
                                       doc="coupling between neighbouring channels, dB"),
        "scope_bandwidth_hz": optional(float, 100e6, lo=1e3, hi=1e10, doc="analog bandwidth (1st order), Hz"),
        "timing": optional(bool, False, doc="true: each message and acquisition takes as long as the real "
                                            "instrument's timing model says (instruments/sim/timing_model.py)"),
        "timing_latency_s": optional(float, None, lo=0.0, hi=10.0,
                                     doc="timing model: per-message latency of both instruments, s (measured on "
                                         "your bench; default: the family's figure)"),
        "timing_transfer_bytes_s": optional(float, None, lo=1e3, hi=1e10,
                                            doc="timing model: reply transfer rate, bytes/s"),
        "timing_rearm_s": optional(float, None, lo=0.0, hi=60.0,
                                   doc="timing model: the scope's processing of each single acquisition, s"),
    }, optional=True),
}


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and the loopback addresses (127.0.0.0/8, ::1): a server bound there is reachable
    from this machine only."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_host(source: str, where: str, host: str, allow_remote: bool) -> str:
    """Refuse (one-line :class:`ConfigError` naming ``source`` and ``where``) a ``host`` that is neither an IP
    address nor a host name, and one that is not loopback unless ``allow_remote``; returns ``host``."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not (host and len(host) <= 253 and all(re.fullmatch(HOST_LABEL, lab) for lab in host.split("."))):
            raise ConfigError(source, where, f"{show(host)} is neither an IP address nor a host name") from None
    if not allow_remote and not is_loopback(host):
        raise ConfigError(source, where,
                          f"{host!r} is not a loopback address (127.0.0.0/8, ::1, localhost): the simulator would "
                          "accept connections from other machines; set [sim] allow_remote = true in the bench "
                          "config (or pass --allow-remote) to serve there anyway")
    return host


@dataclass(frozen=True)
class InstrumentEntry:
    """One instrument of a bench: where it is and how to talk to it."""

    resource: str | None
    driver: str | None
    timeout_ms: int
    dialect: str | None = None
    port: int = 0


@dataclass(frozen=True)
class Wiring:
    """Generator channel per board input and scope channel per board node."""

    in1: int = 1
    in2: int = 2
    v1: int = 1
    v2: int = 2
    vo1: int = 3
    vo2: int = 4

    @property
    def tied(self) -> bool:
        """True when one generator channel drives both inputs."""
        return self.in1 == self.in2

    def scope_channels(self) -> dict[str, int]:
        """Node name (v1, v2, vo1, vo2) -> scope channel."""
        return {"v1": self.v1, "v2": self.v2, "vo1": self.vo1, "vo2": self.vo2}


@dataclass(frozen=True)
class BenchConfig:
    """A validated bench config; ``raw`` is the TOML text as given (archived with every run)."""

    source: str
    raw: str
    name: str
    description: str
    simulated: bool
    board_path: Path | None
    host: str
    generator: InstrumentEntry
    scope: InstrumentEntry
    wiring: Wiring
    sim: dict[str, Any] = field(default_factory=dict)


def parse_bench(doc: dict[str, Any], source: str = "<bench>", raw: str = "",
                base_dir: Path | None = None, *, allow_remote: bool = False) -> BenchConfig:
    """Validate a parsed bench TOML document and return a :class:`BenchConfig`.

    ``allow_remote``: accept a ``[bench] host`` that is not loopback although the config's ``[sim] allow_remote``
    is false (the command line's ``--allow-remote``)."""
    v = validate(source, SCHEMA, doc)
    bench = v["bench"]
    check_host(source, "[bench] host", bench["host"], allow_remote or v["sim"]["allow_remote"])
    wiring = Wiring(**v["wiring"])
    chans = [wiring.v1, wiring.v2, wiring.vo1, wiring.vo2]
    if len(set(chans)) != 4:
        raise ConfigError(source, "[wiring]", f"v1, v2, vo1, vo2 must be four different scope channels, got {chans}")
    sim = v["sim"]
    for key in ("scope_gain_error", "scope_skew_s"):
        if len(sim[key]) != 4:
            raise ConfigError(source, f"[sim] {key}", f"needs one value per scope channel (4), got {len(sim[key])}")
    board_path = None
    if bench["simulated"]:
        if bench["board"] is None:
            raise ConfigError(source, "[bench] board", "a simulated bench needs the board config it carries")
        board_path = (base_dir or Path(".")) / bench["board"]
        for name, entry, dialects in (("generator", v["generator"], SIM_GENERATOR_DIALECTS),
                                      ("scope", v["scope"], SIM_SCOPE_DIALECTS)):
            if entry["dialect"] is None:
                raise ConfigError(source, f"[{name}] dialect",
                                  f"a simulated bench needs the dialect to serve ({', '.join(dialects)})")
    else:
        for name in ("generator", "scope"):
            if v[name]["resource"] is None:
                raise ConfigError(source, f"[{name}] resource", "missing required key (the VISA resource string)")
            for key in ("dialect",):
                if v[name][key] is not None:
                    raise ConfigError(source, f"[{name}] {key}", "applies only to a simulated bench")
    return BenchConfig(
        source=source,
        raw=raw,
        name=bench["name"],
        description=bench["description"],
        simulated=bench["simulated"],
        board_path=board_path,
        host=bench["host"],
        generator=InstrumentEntry(**v["generator"]),
        scope=InstrumentEntry(**v["scope"]),
        wiring=wiring,
        sim=sim,
    )


def load_bench(path: str | Path, *, allow_remote: bool = False) -> BenchConfig:
    """Load and validate ``configs/benches/<name>.toml``; any problem is one-line :class:`ConfigError`.
    ``allow_remote`` as :func:`parse_bench`."""
    p = Path(path)
    doc = load_toml(p)
    return parse_bench(doc, source=str(p), raw=p.read_text(encoding="utf-8"), base_dir=p.parent,
                       allow_remote=allow_remote)
