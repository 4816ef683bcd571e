"""Board configs (``configs/boards/*.toml``): the component values of a differential-pair board.

One file describes one board: the pair's device, the load, degeneration, the tail source, parasitic
capacitances, mismatch, supply and input bias, the safe input limits, and simulation-only details. The
same file feeds the circuit models (prediction), the simulated board (its truth) and the procedures
(safety limits). It lives in ``instruments`` because the simulated board reads it and drivers must not
import ``procedures``; it imports nothing of ``models``.

Mismatch convention: a relative mismatch ``d`` of a quantity X moves the two sides by half each,
``X1 = X (1 - d/2)``, ``X2 = X (1 + d/2)``, so ``Delta X = X2 - X1 = d X`` and the mean stays X.

Units are SI and in the key names (``_v``, ``_a``, ``_ohm``, ``_f``, ``_k``). Thermal voltage
``V_T = k T / q`` (CODATA 2018 exact k and q).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config_schema import Section, load_toml, optional, required, validate
from .errors import ConfigError

BOLTZMANN_J_PER_K = 1.380649e-23
ELEMENTARY_CHARGE_C = 1.602176634e-19

BJT_TYPES = ("npn", "pnp")
MOS_TYPES = ("nmos", "pmos")

_DEVICE_FIELDS = {
    "type": required(str, choices=BJT_TYPES + MOS_TYPES, doc="pair device"),
    # BJT (Ebers-Moll with Early effect)
    "beta": optional(float, None, lo=1.0, doc="forward current gain beta_F"),
    "early_v": optional(float, None, lo=0.0, lo_open=True, doc="Early voltage V_A, V"),
    "is_a": optional(float, None, lo=0.0, lo_open=True, doc="saturation current I_S, A"),
    # MOS (square law with channel-length modulation)
    "kp_a_per_v2": optional(float, None, lo=0.0, lo_open=True, doc="mu*Cox*W/L, A/V^2"),
    "vth_v": optional(float, None, lo=0.0, lo_open=True, doc="threshold voltage magnitude, V"),
    "lambda_per_v": optional(float, None, lo=0.0, doc="channel-length modulation lambda, 1/V"),
}

SCHEMA: dict[str, Section] = {
    "board": Section({
        "name": required(str),
        "description": optional(str, ""),
    }),
    "supply": Section({
        "vcc_v": required(float, doc="positive supply, V"),
        "vee_v": optional(float, 0.0, doc="negative supply (ground for a single supply), V"),
    }),
    "inputs": Section({
        "bias_v": required(float, doc="DC bias of both inputs (the generator's offset), V"),
        "source_r_ohm": optional(float, 0.0, lo=0.0, doc="series resistance per input on the board, Ohm"),
        "bias_r_ohm": optional(float, 0.0, lo=0.0,
                               doc="resistor from each input to the bias voltage (0: none), Ohm"),
    }),
    "device": Section(_DEVICE_FIELDS),
    "temperature": Section({"t_k": optional(float, 300.15, lo=0.0, lo_open=True)}, optional=True),
    "tail": Section({
        "current_a": required(float, lo=0.0, lo_open=True,
                              doc="Norton source I_EE in parallel with r_ohm: DC tail I_EE + (V_tail - V_EE)/R_EE, A"),
        "r_ohm": required(float, lo=0.0, lo_open=True, doc="tail source output resistance R_EE / R_SS, Ohm"),
        "c_f": optional(float, 0.0, lo=0.0, doc="tail node capacitance C_T, F"),
    }),
    "degeneration": Section({
        "r_ohm": optional(float, 0.0, lo=0.0, doc="emitter/source resistor per side, Ohm"),
    }, optional=True),
    "load": Section({
        "type": optional(str, "resistive", choices=("resistive", "active")),
        "r_ohm": required(float, lo=0.0, lo_open=True,
                          doc="resistive: load per side; active: resistor from the output to return_v, Ohm"),
        "return_v": optional(float, None, doc="where the load resistor(s) return (default: vcc_v), V"),
        "c_f": optional(float, 0.0, lo=0.0, doc="capacitance at each output node, F"),
    }),
    "mirror": Section(_DEVICE_FIELDS, optional=True,
                      doc="current-mirror devices of an active load (pnp or pmos)"),
    "cascode": Section({
        "enabled": optional(bool, False),
        "bias_v": optional(float, None, doc="base/gate voltage of the cascode devices, V"),
    }, optional=True),
    "mismatch": Section({
        "load_r": optional(float, 0.0, lo=-0.5, hi=0.5, doc="(R2 - R1)/R"),
        "device": optional(float, 0.0, lo=-0.5, hi=0.5, doc="(Is2 - Is1)/Is or (kp2 - kp1)/kp"),
        "load_c": optional(float, 0.0, lo=-0.5, hi=0.5, doc="(C2 - C1)/C"),
        "vth_v": optional(float, 0.0, lo=-0.5, hi=0.5, doc="Vth2 - Vth1 (MOS), V"),
        "beta": optional(float, 0.0, lo=-0.5, hi=0.5, doc="(beta2 - beta1)/beta (BJT)"),
    }, optional=True),
    "limits": Section({
        "vid_max_vpk": required(float, lo=0.0, lo_open=True, doc="largest differential drive, V peak"),
        "vic_max_vpk": required(float, lo=0.0, lo_open=True, doc="largest common-mode drive, V peak"),
        "bias_min_v": required(float, doc="lowest safe DC input level, V"),
        "bias_max_v": required(float, doc="highest safe DC input level, V"),
    }),
    "pass_fail": Section({
        "add_rel_tol": optional(float, None, lo=0.0, lo_open=True,
                                doc="|Add| within this fraction of the prediction at add_check_hz"),
        "add_check_hz": optional(float, 1000.0, lo=0.0, lo_open=True),
        "cmrr_se_min_db": optional(float, None, doc="CMRR_se of each output at least this ..."),
        "cmrr_se_max_hz": optional(float, 10e3, lo=0.0, lo_open=True, doc="... at every frequency up to this"),
        "cmrr_diff_min_db": optional(float, None, doc="CMRR_diff at least this up to cmrr_se_max_hz"),
        "thd_max": optional(float, None, lo=0.0, lo_open=True, doc="THD of vod (ratio) at most this ..."),
        "thd_drive_vpk": optional(float, None, lo=0.0, lo_open=True, doc="... at this differential drive, V peak"),
        "offset_max_v": optional(float, None, lo=0.0, lo_open=True, doc="|input-referred offset| at most this"),
    }, optional=True, doc="limits a board must meet; each is checked only when set and measured"),
    "sim": Section({
        "noise_v_per_rthz": optional(float, 0.0, lo=0.0, doc="white noise density at each output node, V/rtHz"),
        "seed": optional(int, 0),
    }, optional=True),
}


@dataclass(frozen=True)
class DeviceParams:
    """Large-signal device parameters of one transistor type (BJT or MOS)."""

    type: str
    beta: float | None = None
    early_v: float | None = None
    is_a: float | None = None
    kp_a_per_v2: float | None = None
    vth_v: float | None = None
    lambda_per_v: float | None = None

    @property
    def is_bjt(self) -> bool:
        return self.type in BJT_TYPES


@dataclass(frozen=True)
class BoardConfig:
    """A validated board config. ``raw`` is the TOML text as given (archived with every run)."""

    source: str
    raw: str
    name: str
    description: str
    vcc_v: float
    vee_v: float
    bias_v: float
    source_r_ohm: float
    bias_r_ohm: float
    device: DeviceParams
    temperature_k: float
    tail_current_a: float
    tail_r_ohm: float
    tail_c_f: float
    degeneration_r_ohm: float
    load_type: str
    load_r_ohm: float
    load_return_v: float
    load_c_f: float
    mirror: DeviceParams | None
    cascode: bool
    cascode_bias_v: float | None
    mismatch_load_r: float
    mismatch_device: float
    mismatch_load_c: float
    mismatch_vth_v: float
    mismatch_beta: float
    vid_max_vpk: float
    vic_max_vpk: float
    bias_min_v: float
    bias_max_v: float
    noise_v_per_rthz: float
    sim_seed: int
    pass_fail: dict[str, Any] = field(default_factory=dict)

    @property
    def vt_v(self) -> float:
        """Thermal voltage k T / q at the board temperature, V."""
        return BOLTZMANN_J_PER_K * self.temperature_k / ELEMENTARY_CHARGE_C

    @property
    def is_bjt(self) -> bool:
        return self.device.is_bjt


def _device(source: str, section: str, d: dict[str, Any]) -> DeviceParams:
    bjt = d["type"] in BJT_TYPES
    needed = ("beta", "early_v", "is_a") if bjt else ("kp_a_per_v2", "vth_v", "lambda_per_v")
    wrong = ("kp_a_per_v2", "vth_v", "lambda_per_v") if bjt else ("beta", "early_v", "is_a")
    for key in needed:
        if d[key] is None:
            raise ConfigError(source, f"[{section}] {key}", f"missing required key for a {d['type']} device")
    for key in wrong:
        if d[key] is not None:
            raise ConfigError(source, f"[{section}] {key}", f"does not apply to a {d['type']} device")
    return DeviceParams(**d)


def parse_board(doc: dict[str, Any], source: str = "<board>", raw: str = "") -> BoardConfig:
    """Validate a parsed board TOML document and return a :class:`BoardConfig`."""
    v = validate(source, SCHEMA, doc)
    dev = _device(source, "device", v["device"])
    load = v["load"]
    mirror = None
    if load["type"] == "active":
        if "mirror" not in doc:
            raise ConfigError(source, "[mirror]", "an active load needs a [mirror] section (pnp or pmos)")
        mirror = _device(source, "mirror", v["mirror"])
        want = "pnp" if dev.is_bjt else "pmos"
        if mirror.type != want:
            raise ConfigError(source, "[mirror] type", f"a {dev.type} pair needs a {want} mirror, got {mirror.type!r}")
    elif "mirror" in doc:
        raise ConfigError(source, "[mirror]", "only an active load (load.type = 'active') has a mirror")
    if dev.type not in ("npn", "nmos"):
        raise ConfigError(source, "[device] type", f"the pair must be npn or nmos (got {dev.type!r})")
    supply = v["supply"]
    if supply["vcc_v"] <= supply["vee_v"]:
        raise ConfigError(source, "[supply] vcc_v", f"must be above vee_v ({supply['vee_v']:g} V)")
    lim = v["limits"]
    if lim["bias_min_v"] >= lim["bias_max_v"]:
        raise ConfigError(source, "[limits] bias_min_v", "must be below bias_max_v")
    bias = v["inputs"]["bias_v"]
    if not lim["bias_min_v"] <= bias <= lim["bias_max_v"]:
        raise ConfigError(source, "[inputs] bias_v",
                          f"{bias:g} V is outside the safe range [{lim['bias_min_v']:g}, {lim['bias_max_v']:g}] V")
    casc = v["cascode"]
    if casc["enabled"] and casc["bias_v"] is None:
        raise ConfigError(source, "[cascode] bias_v", "missing required key when the cascode is enabled")
    mm = v["mismatch"]
    return BoardConfig(
        source=source,
        raw=raw,
        name=v["board"]["name"],
        description=v["board"]["description"],
        vcc_v=supply["vcc_v"],
        vee_v=supply["vee_v"],
        bias_v=bias,
        source_r_ohm=v["inputs"]["source_r_ohm"],
        bias_r_ohm=v["inputs"]["bias_r_ohm"],
        device=dev,
        temperature_k=v["temperature"]["t_k"],
        tail_current_a=v["tail"]["current_a"],
        tail_r_ohm=v["tail"]["r_ohm"],
        tail_c_f=v["tail"]["c_f"],
        degeneration_r_ohm=v["degeneration"]["r_ohm"],
        load_type=load["type"],
        load_r_ohm=load["r_ohm"],
        load_return_v=supply["vcc_v"] if load["return_v"] is None else load["return_v"],
        load_c_f=load["c_f"],
        mirror=mirror,
        cascode=casc["enabled"],
        cascode_bias_v=casc["bias_v"],
        mismatch_load_r=mm["load_r"],
        mismatch_device=mm["device"],
        mismatch_load_c=mm["load_c"],
        mismatch_vth_v=mm["vth_v"],
        mismatch_beta=mm["beta"],
        vid_max_vpk=lim["vid_max_vpk"],
        vic_max_vpk=lim["vic_max_vpk"],
        bias_min_v=lim["bias_min_v"],
        bias_max_v=lim["bias_max_v"],
        noise_v_per_rthz=v["sim"]["noise_v_per_rthz"],
        sim_seed=v["sim"]["seed"],
        pass_fail={k: x for k, x in v["pass_fail"].items() if x is not None},
    )


def load_board(path: str | Path) -> BoardConfig:
    """Load and validate ``configs/boards/<name>.toml``; any problem is one-line :class:`ConfigError`."""
    p = Path(path)
    doc = load_toml(p)
    return parse_board(doc, source=str(p), raw=p.read_text(encoding="utf-8"))
