"""Board configs (``configs/boards/*.toml``): the component values of a differential-pair board.

One file describes one board: the pair's device, the load, degeneration, the tail source, parasitic
capacitances, mismatch, supply and input bias, the safe input limits, and simulation-only details. The
same file feeds the circuit models (prediction), the simulated board (its truth) and the procedures
(safety limits). It lives in ``instruments`` because the simulated board reads it and drivers must not
import ``procedures``; it imports nothing of ``models``.

Mismatch convention: a relative mismatch ``d`` of a quantity X moves the two sides by half each,
``X1 = X (1 - d/2)``, ``X2 = X (1 + d/2)``, so ``Delta X = X2 - X1 = d X`` and the mean stays X.

Two active-load variants. A cascoded mirror (``[mirror] cascode_bias_v``; with ``[cascode]`` on the pair it is
the telescopic stage, Razavi ch. 9): each mirror device has a cascode device of the mirror's type on top, its
base/gate at ``cascode_bias_v``, and the mirror's control node (both mirror gates/bases) is the diode side's
output, out1 (the low-voltage cascode mirror). A second stage (``[second_stage]``, source text fig. 5-12): side 2's
collector/drain and the mirror output drive the base/gate of one more device of the mirror's type at vcc, whose
collector/drain is output 2, pulled down by a Norton sink I2 and tied to ``[load] return_v`` by ``[load] r_ohm``
(the resistor that fixes the output's DC level, as R1 does in fig. 5-10). In both, ``[load] r_ohm`` is the
resistor from output 2 to its return and out1 is the mirror's control node.

Three tail circuits (``[tail] kind``, :mod:`.board_tail`): the Norton source (default), the split tail of source
text fig. 5-9 (a sink at each emitter and ``[degeneration] bridge_r_ohm`` between them; the board then holds
``degeneration_r_ohm`` = half the bridge) and a transistor current source (``[tail] bias_v``, ``r_e_ohm``; the board
then holds ``tail_current_a = 0``, ``tail_r_ohm = inf``).

Units are SI and in the key names (``_v``, ``_a``, ``_ohm``, ``_f``, ``_k``). Thermal voltage
``V_T = k T / q`` (CODATA 2018 exact k and q).

Ranges: every number must lie in a physical range (the constants below the imports, each with its reason):
DC levels within +-100 V (and the board's own levels and safe input range within its supplies), resistors
1 Ohm (0 where "none" means something) to 1 GOhm (the tail source's output resistance to 1 TOhm), capacitances
0 to 1 mF, I_S 1e-20 to 1e-8 A, beta 1 to 1e4, V_A 10 V to 10 kV, kp 1e-7 to 100 A/V^2, 1 mV <= V_th <= 10 V,
lambda 0 or 1e-4 to 0.5/V, 200 to 500 K, tail 1 nA to 1 A, drives 1 uV to 100 V peak, frequencies 1 mHz to
1 GHz. Whatever passes them gives a prediction (or a one-line "no DC operating point"), never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .board_tail import TAIL_KINDS, TailTransistor, tail_fields
from .config_schema import NAME_PATTERN, TEXT_MAX_CHARS, Field, Section, load_toml, optional, required, validate
from .errors import ConfigError
from .netlist_board import NETLIST_SECTION, NetlistBoard, fill_family, load_netlist

BOLTZMANN_J_PER_K = 1.380649e-23
ELEMENTARY_CHARGE_C = 1.602176634e-19

BJT_TYPES = ("npn", "pnp")
MOS_TYPES = ("nmos", "pmos")

# Physical ranges of the keys (module docstring "Ranges"). Each is a bench-and-component fact, not a model limit.
V_MAX = 100.0  # |any DC level|, V: a bench supply for a discrete pair; beyond is not a bench
VPK_MIN = 1e-6  # a drive amplitude, V peak: a thousandth of a generator's smallest (1 mVpp)
R_MAX = 1e9  # a board resistor, Ohm (above 1 GOhm it is leakage, not a component)
R_TAIL_MAX = 1e12  # the tail source's output resistance, Ohm (a cascoded current source reaches 1e9-1e11)
R_MIN = 1.0  # a load or tail resistor, Ohm (below 1 Ohm it is a short to the rail)
C_MAX = 1e-3  # a node capacitance, F (1 mF: an electrolytic; nothing larger sits on a pair's node)
I_S_RANGE = (1e-20, 1e-8)  # BJT saturation current, A: an integrated minimum device to a power transistor
BETA_RANGE = (1.0, 1e4)  # forward current gain: a power device at high current to a super-beta transistor
EARLY_RANGE = (10.0, 1e4)  # Early voltage, V: a lateral pnp or a super-beta device (~10 V) upwards
KP_RANGE = (1e-7, 100.0)  # mu Cox W/L, A/V^2: a long-channel small device to a power MOSFET
VTH_MIN, VTH_MAX = 1e-3, 10.0  # |threshold|, V
LAMBDA_MAX = 0.5  # channel-length modulation, 1/V (a 2 V Early voltage: the shortest channels)
LAMBDA_MIN = 1e-4  # ... and when not 0 (none) at least 1e-4/V (a 10 kV Early voltage, as EARLY_RANGE)
T_RANGE = (200.0, 500.0)  # board temperature, K (-73 to +227 degC: where the device laws hold)
I_TAIL_RANGE = (1e-9, 1.0)  # tail current, A
F_RANGE = (1e-3, 1e9)  # a signal frequency, Hz: a generator's lowest to 1 GHz (no bench here measures above)
DB_RANGE = (-100.0, 300.0)  # a CMRR limit, dB
NOISE_MAX = 1e-3  # output noise density, V/rtHz (1 mV/rtHz is a broken board, not a noisy one)
SEED_MAX = 2**32 - 1  # the simulator's seeds are 32-bit

_DEVICE_FIELDS = {
    "type": required(str, choices=BJT_TYPES + MOS_TYPES, doc="pair device"),
    # BJT (Ebers-Moll with Early effect)
    "beta": optional(float, None, lo=BETA_RANGE[0], hi=BETA_RANGE[1], doc="forward current gain beta_F"),
    "early_v": optional(float, None, lo=EARLY_RANGE[0], hi=EARLY_RANGE[1], doc="Early voltage V_A, V"),
    "is_a": optional(float, None, lo=I_S_RANGE[0], hi=I_S_RANGE[1], doc="saturation current I_S, A"),
    # MOS (square law with channel-length modulation)
    "kp_a_per_v2": optional(float, None, lo=KP_RANGE[0], hi=KP_RANGE[1], doc="mu*Cox*W/L, A/V^2"),
    "vth_v": optional(float, None, lo=VTH_MIN, hi=VTH_MAX, doc="threshold voltage magnitude, V"),
    "lambda_per_v": optional(float, None, lo=0.0, hi=LAMBDA_MAX, doc="channel-length modulation lambda, 1/V"),
}


_REQUIRED = object()


def _volts(default: Any = None, doc: str = "") -> Field:
    """A DC level within +-V_MAX, V; ``default`` is the value when left out (``_REQUIRED``: must be given)."""
    if default is _REQUIRED:
        return required(float, lo=-V_MAX, hi=V_MAX, doc=doc)
    return optional(float, default, lo=-V_MAX, hi=V_MAX, doc=doc)


_MIRROR_FIELDS = {
    **_DEVICE_FIELDS,
    "cascode_bias_v": _volts(None, doc="base/gate of the mirror's cascode devices (a cascoded mirror: the "
                             "telescopic stage), V; absent: a simple mirror"),
}

_NAME = required(str, pattern=NAME_PATTERN, max_len=64)
_TEXT = optional(str, "", max_len=TEXT_MAX_CHARS)

SCHEMA: dict[str, Section] = {
    "board": Section({
        "name": _NAME,
        "description": _TEXT,
    }),
    "supply": Section({
        "vcc_v": _volts(_REQUIRED, doc="positive supply, V"),
        "vee_v": _volts(0.0, doc="negative supply (ground for a single supply), V"),
    }),
    "inputs": Section({
        "bias_v": _volts(_REQUIRED, doc="DC bias of both inputs (the generator's offset), V"),
        "source_r_ohm": optional(float, 0.0, lo=0.0, hi=R_MAX, doc="series resistance per input on the board, Ohm"),
        "bias_r_ohm": optional(float, 0.0, lo=0.0, hi=R_MAX,
                               doc="resistor from each input to the bias voltage (0: none), Ohm"),
    }),
    "device": Section(_DEVICE_FIELDS),
    "temperature": Section({"t_k": optional(float, 300.15, lo=T_RANGE[0], hi=T_RANGE[1], doc="board temperature, K")},
                           optional=True),
    "tail": Section({
        "kind": optional(str, "norton", choices=TAIL_KINDS, doc="norton, split (fig. 5-9) or transistor "
                         "(instruments.board_tail)"),
        "current_a": optional(float, None, lo=I_TAIL_RANGE[0], hi=I_TAIL_RANGE[1],
                              doc="Norton source I_EE in parallel with r_ohm: DC tail I_EE + (V_tail - V_EE)/R_EE, A "
                                  "(split: the two sinks' total; transistor: none)"),
        "r_ohm": optional(float, None, lo=R_MIN, hi=R_TAIL_MAX, doc="tail source output resistance R_EE / R_SS, "
                          "Ohm (split: each sink has 2 r_ohm; transistor: none)"),
        "c_f": optional(float, 0.0, lo=0.0, hi=C_MAX, doc="tail node capacitance C_T, F (split: c_f/2 per sink)"),
        "bias_v": _volts(None, doc="transistor tail: its base/gate voltage, V"),
        "r_e_ohm": optional(float, None, lo=0.0, hi=R_MAX,
                            doc="transistor tail: emitter/source resistor to vee, Ohm (0: none)"),
        "size_ratio": optional(float, None, lo=0.01, hi=100.0,
                               doc="transistor tail: its I_S (or kp) over the pair device's (default 1)"),
    }),
    "degeneration": Section({
        "r_ohm": optional(float, 0.0, lo=0.0, hi=R_MAX, doc="emitter/source resistor per side, Ohm"),
        "bridge_r_ohm": optional(float, None, lo=R_MIN, hi=R_MAX,
                                 doc="split tail: the one resistor between the two emitters, Ohm"),
    }, optional=True),
    "load": Section({
        "type": optional(str, "resistive", choices=("resistive", "active")),
        "r_ohm": required(float, lo=R_MIN, hi=R_MAX,
                          doc="resistive: load per side; active: resistor from the output to return_v, Ohm"),
        "return_v": _volts(None, doc="where the load resistor(s) return (default: vcc_v), V"),
        "c_f": optional(float, 0.0, lo=0.0, hi=C_MAX, doc="capacitance at each output node, F"),
    }),
    "mirror": Section(_MIRROR_FIELDS, optional=True,
                      doc="current-mirror devices of an active load (pnp or pmos)"),
    "second_stage": Section({
        "size_ratio": optional(float, 2.0, lo=0.01, hi=100.0,
                               doc="output device's I_S (or kp) over one mirror device's (2: the text's Q4, the "
                                   "size of the split-collector Q3's two halves together)"),
        "sink_current_a": required(float, lo=I_TAIL_RANGE[0], hi=I_TAIL_RANGE[1],
                                   doc="current sink I2 from the output to vee (Norton, with sink_r_ohm), A"),
        "sink_r_ohm": required(float, lo=R_MIN, hi=R_TAIL_MAX, doc="output resistance of the sink I2, Ohm"),
        "c_f": optional(float, 0.0, lo=0.0, hi=C_MAX, doc="capacitance at the first stage's output node, F"),
    }, optional=True, doc="a second (common-emitter/source) stage after an active load (source text fig. 5-12)"),
    "cascode": Section({
        "enabled": optional(bool, False),
        "bias_v": _volts(None, doc="base/gate voltage of the cascode devices, V"),
    }, optional=True),
    "mismatch": Section({
        "load_r": optional(float, 0.0, lo=-0.5, hi=0.5, doc="(R2 - R1)/R"),
        "device": optional(float, 0.0, lo=-0.5, hi=0.5, doc="(Is2 - Is1)/Is or (kp2 - kp1)/kp"),
        "load_c": optional(float, 0.0, lo=-0.5, hi=0.5, doc="(C2 - C1)/C"),
        "vth_v": optional(float, 0.0, lo=-0.5, hi=0.5, doc="Vth2 - Vth1 (MOS), V"),
        "beta": optional(float, 0.0, lo=-0.5, hi=0.5, doc="(beta2 - beta1)/beta (BJT)"),
        "tail": optional(float, 0.0, lo=-0.5, hi=0.5, doc="split tail: (I2 - I1)/(I/2) of its two sinks"),
    }, optional=True),
    "limits": Section({
        "vid_max_vpk": required(float, lo=VPK_MIN, hi=V_MAX, doc="largest differential drive, V peak"),
        "vic_max_vpk": required(float, lo=VPK_MIN, hi=V_MAX, doc="largest common-mode drive, V peak"),
        "bias_min_v": _volts(_REQUIRED, doc="lowest safe DC input level, V"),
        "bias_max_v": _volts(_REQUIRED, doc="highest safe DC input level, V"),
    }),
    "pass_fail": Section({
        "add_rel_tol": optional(float, None, lo=1e-6, hi=1.0,
                                doc="|Add| within this fraction of the prediction at add_check_hz"),
        "add_check_hz": optional(float, 1000.0, lo=F_RANGE[0], hi=F_RANGE[1]),
        "cmrr_se_min_db": optional(float, None, lo=DB_RANGE[0], hi=DB_RANGE[1],
                                   doc="CMRR_se of each output at least this ..."),
        "cmrr_se_max_hz": optional(float, 10e3, lo=F_RANGE[0], hi=F_RANGE[1], doc="... at every frequency up to this"),
        "cmrr_diff_min_db": optional(float, None, lo=DB_RANGE[0], hi=DB_RANGE[1],
                                     doc="CMRR_diff at least this up to cmrr_se_max_hz"),
        "thd_max": optional(float, None, lo=1e-9, hi=1.0, doc="THD of vod (ratio) at most this ..."),
        "thd_drive_vpk": optional(float, None, lo=VPK_MIN, hi=V_MAX,
                                  doc="... at this differential drive, V peak"),
        "offset_max_v": optional(float, None, lo=1e-9, hi=V_MAX,
                                 doc="|input-referred offset| at most this"),
    }, optional=True, doc="limits a board must meet; each is checked only when set and measured"),
    "sim": Section({
        "noise_v_per_rthz": optional(float, 0.0, lo=0.0, hi=NOISE_MAX,
                                     doc="white noise density at each output node, V/rtHz"),
        "seed": optional(int, 0, lo=0, hi=SEED_MAX),
    }, optional=True),
    "netlist": NETLIST_SECTION,
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
class SecondStage:
    """The second stage of source text fig. 5-12: a device of the mirror's type (its I_S or kp times
    ``size_ratio``), base/gate on the first stage's output (side 2's collector/drain), emitter/source at vcc,
    collector/drain the board's output 2, pulled down by the sink I2 (``sink_current_a`` in parallel with
    ``sink_r_ohm`` to vee) and tied by the [load] resistor to its return; ``c_f`` at the first stage's output."""

    size_ratio: float
    sink_current_a: float
    sink_r_ohm: float
    c_f: float


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
    mirror_cascode_bias_v: float | None = None
    second_stage: SecondStage | None = None
    tail_kind: str = "norton"
    tail_transistor: TailTransistor | None = None
    mismatch_tail: float = 0.0
    netlist: NetlistBoard | None = None

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
    lam = d["lambda_per_v"]
    if lam is not None and 0.0 < lam < LAMBDA_MIN:
        raise ConfigError(source, f"[{section}] lambda_per_v",
                          f"{lam:g}/V is below {LAMBDA_MIN:g}/V (an Early voltage above 10 kV): 0 for none")
    return DeviceParams(**d)


def _mirror(source: str, doc: dict[str, Any], v: dict[str, Any], dev: DeviceParams) -> DeviceParams | None:
    """The active load's mirror devices (pnp for an npn pair, pmos for nmos); None for a resistive load."""
    if v["load"]["type"] != "active":
        if "mirror" in doc:
            raise ConfigError(source, "[mirror]", "only an active load (load.type = 'active') has a mirror")
        return None
    if "mirror" not in doc:
        raise ConfigError(source, "[mirror]", "an active load needs a [mirror] section (pnp or pmos)")
    mirror = _device(source, "mirror", {k: x for k, x in v["mirror"].items() if k != "cascode_bias_v"})
    want = "pnp" if dev.is_bjt else "pmos"
    if mirror.type != want:
        raise ConfigError(source, "[mirror] type", f"a {dev.type} pair needs a {want} mirror, got {mirror.type!r}")
    return mirror


def _second_stage(source: str, doc: dict[str, Any], v: dict[str, Any]) -> SecondStage | None:
    """Fig. 5-12's second stage (None without a [second_stage] section); it follows a simple current mirror."""
    if "second_stage" not in doc:
        return None
    if v["load"]["type"] != "active":
        raise ConfigError(source, "[second_stage]", "a second stage follows an active load (load.type = 'active')")
    if v["mirror"]["cascode_bias_v"] is not None:
        raise ConfigError(source, "[second_stage]", "a second stage after a cascoded mirror is not modelled "
                          "(drop [mirror] cascode_bias_v)")
    return SecondStage(**v["second_stage"])


def _check_levels(source: str, v: dict[str, Any]) -> None:
    """What no single key's range can say: resistors that are wires, supplies the right way round, the safe
    input range ordered, every level the board makes within its supplies, the bias within the safe range."""
    for section, key in (("inputs", "source_r_ohm"), ("inputs", "bias_r_ohm"), ("degeneration", "r_ohm")):
        r = v[section][key]
        if 0.0 < r < R_MIN:
            raise ConfigError(source, f"[{section}] {key}",
                              f"{r:g} Ohm is a wire, not a resistor: 0 (none) or at least {R_MIN:g} Ohm")
    supply, lim = v["supply"], v["limits"]
    if supply["vcc_v"] <= supply["vee_v"]:
        raise ConfigError(source, "[supply] vcc_v", f"must be above vee_v ({supply['vee_v']:g} V)")
    if lim["bias_min_v"] >= lim["bias_max_v"]:
        raise ConfigError(source, "[limits] bias_min_v", "must be below bias_max_v")
    # Levels the board makes from its supplies, and the inputs' safe range, lie between the rails: outside
    # them a junction of the pair is forward-biased into a rail.
    rails = (supply["vee_v"], supply["vcc_v"])
    for where, level in (("[limits] bias_min_v", lim["bias_min_v"]), ("[limits] bias_max_v", lim["bias_max_v"]),
                         ("[load] return_v", v["load"]["return_v"]), ("[cascode] bias_v", v["cascode"]["bias_v"]),
                         ("[mirror] cascode_bias_v", v["mirror"]["cascode_bias_v"])):
        if level is not None and not rails[0] <= level <= rails[1]:
            raise ConfigError(source, where, f"{level:g} V is outside the supplies [{rails[0]:g}, {rails[1]:g}] V")
    bias = v["inputs"]["bias_v"]
    if not lim["bias_min_v"] <= bias <= lim["bias_max_v"]:
        raise ConfigError(source, "[inputs] bias_v",
                          f"{bias:g} V is outside the safe range [{lim['bias_min_v']:g}, {lim['bias_max_v']:g}] V")
    casc = v["cascode"]
    if casc["enabled"] and casc["bias_v"] is None:
        raise ConfigError(source, "[cascode] bias_v", "missing required key when the cascode is enabled")


def parse_board(doc: dict[str, Any], source: str = "<board>", raw: str = "",
                netlist_text: str | None = None) -> BoardConfig:
    """Validate a parsed board TOML document and return a :class:`BoardConfig`; ``netlist_text`` is the text of
    its ``[netlist] file`` when it comes from an archive rather than from the file."""
    doc, family = fill_family(source, doc)
    v = validate(source, SCHEMA, doc)
    dev = _device(source, "device", v["device"])
    mirror = _mirror(source, doc, v, dev)
    if dev.type not in ("npn", "nmos"):
        raise ConfigError(source, "[device] type", f"the pair must be npn or nmos (got {dev.type!r})")
    _check_levels(source, v)
    supply, load, lim, mm = v["supply"], v["load"], v["limits"], v["mismatch"]
    return BoardConfig(
        source=source, raw=raw, name=v["board"]["name"], description=v["board"]["description"],
        vcc_v=supply["vcc_v"], vee_v=supply["vee_v"], bias_v=v["inputs"]["bias_v"],
        source_r_ohm=v["inputs"]["source_r_ohm"], bias_r_ohm=v["inputs"]["bias_r_ohm"], device=dev,
        temperature_k=v["temperature"]["t_k"],
        **tail_fields(source, v, R_MIN),
        load_type=load["type"], load_r_ohm=load["r_ohm"],
        load_return_v=supply["vcc_v"] if load["return_v"] is None else load["return_v"], load_c_f=load["c_f"],
        mirror=mirror, cascode=v["cascode"]["enabled"], cascode_bias_v=v["cascode"]["bias_v"],
        mismatch_load_r=mm["load_r"], mismatch_device=mm["device"], mismatch_load_c=mm["load_c"],
        mismatch_vth_v=mm["vth_v"], mismatch_beta=mm["beta"],
        vid_max_vpk=lim["vid_max_vpk"], vic_max_vpk=lim["vic_max_vpk"],
        bias_min_v=lim["bias_min_v"], bias_max_v=lim["bias_max_v"],
        noise_v_per_rthz=v["sim"]["noise_v_per_rthz"], sim_seed=v["sim"]["seed"],
        pass_fail={k: x for k, x in v["pass_fail"].items() if x is not None},
        mirror_cascode_bias_v=v["mirror"]["cascode_bias_v"], second_stage=_second_stage(source, doc, v),
        netlist=None if v["netlist"]["file"] is None else load_netlist(source, v["netlist"], family,
                                                                       v["temperature"]["t_k"], netlist_text),
    )


def load_board(path: str | Path) -> BoardConfig:
    """Load and validate ``configs/boards/<name>.toml``; any problem is one-line :class:`ConfigError`."""
    p = Path(path)
    doc = load_toml(p)
    return parse_board(doc, source=str(p), raw=p.read_text(encoding="utf-8"))
