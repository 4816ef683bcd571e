"""Simulated Keysight/Agilent 33500B-series generator (33522B): the ``keysight_33500`` dialect.

Spellings, replies and defaults from docs/reference/scpi.md §3.1 (pymeasure ``agilent33500.py``, QCoDeS
``KeysightAgilent_33XXX.py``, the 33500 Operating and Service Guide):

* ``*IDN?`` -> ``Agilent Technologies,33522B,MY52800000,3.05-1.19-2.00-52-00`` (§3.1 "Identify").
* Numbers answer in NR3 with 14 decimals (``+1.00000000000000E+03``); ``APPLy?`` with 15 inside quotes
  (``"SIN +1.000000000000000E+03,+1.000000000000000E-01,+0.000000000000000E+00"``); High-Z load answers
  ``+9.9E+37``; ``OUTPut?`` ``1``/``0``; ``TRACk?`` ``ON``/``OFF``/``INV``; errors ``+0,"No error"``.
* ``*RST``: outputs off, sine, 1 kHz, 100 mVpp, 0 V offset, 50 Ohm load (§3.1 "Reset"; the amplitude and
  frequency are the 33500 guide's defaults).
* Ranges: 1 uHz ... 30 MHz (33522B, §3.1 qcodes table); 1 mVpp ... 10 Vpp into 50 Ohm, ``|Voff| + Vpp/2
  <= 5 V`` into 50 Ohm (§2.3, §3.1); phase -360 ... +360 degrees (§3.1 quirks). Out of range: clamp and
  -222; conflict between amplitude and offset: clamp and -221 (:mod:`.generator_device`).
* ``APPLy:<function>`` switches the output on (§3.1 marks this [L]; the simulator follows the 33500
  guide's description of APPLy, and the state can be read back with ``OUTPut?``).

Served commands (``#`` = optional channel suffix 1|2, default 1)::

    *IDN? *RST *CLS *OPC *OPC? *WAI *ESR? *ESE(?) *SRE(?) *STB? *TST? *TRG *SAV *RCL  SYSTem:ERRor[:NEXT]?
    SYSTem:VERSion?  MEMory:STATe:VALid?  MEMory:NSTates?
    STATus:OPERation[:EVENt]? :CONDition? :ENABle(?)  STATus:QUEStionable[:EVENt]? :CONDition? :ENABle(?)
    STATus:PRESet
    [SOURce#:]FUNCtion[:SHAPe](?)          [SOURce#:]FREQuency[:FIXed](?) [MIN|MAX|DEF]
    [SOURce#:]VOLTage[:LEVel][:IMMediate][:AMPLitude](?)   [SOURce#:]VOLTage:UNIT(?)
    [SOURce#:]VOLTage[:LEVel][:IMMediate]:OFFSet(?)  :HIGH(?)  :LOW(?)
    [SOURce#:]VOLTage:RANGe:AUTO(?)        [SOURce#:]PHASe[:ADJust](?)   UNIT:ANGLe(?)
    [SOURce#:]PHASe:SYNChronize            [SOURce#:]TRACk(?)            [SOURce#:]APPLy:SINusoid|DC
    [SOURce#:]APPLy?                       OUTPut#[:STATe](?)  OUTPut#:LOAD(?)  OUTPut#:POLarity(?)
    OUTPut#:MODE(?)  OUTPut#:SYNC(?)  OUTPut#:SYNC:POLarity(?)  OUTPut#:SYNC:MODE(?)  OUTPut:SYNC:SOURce(?)
    [SOURce#:]BURSt:STATe(?) :MODE(?) :NCYCles(?) :INTernal:PERiod(?) :GATE:POLarity(?)
    [SOURce#:]SWEep:STATe(?)  [SOURce#:]AM|FM|PM|FSKey|PWM|BPSK:STATe(?)  [SOURce#:]FREQuency:MODE(?)
    [SOURce#:]FREQuency:COUPle[:STATe](?)  [SOURce#:]VOLTage:COUPle[:STATe](?)
    TRIGger#:SOURce(?)  TRIGger#:SLOPe(?)  TRIGger#:DELay(?)  TRIGger#[:IMMediate]

Features the simulated output cannot show: burst, sweep, the modulations, a LIST or SWEep frequency mode, the
gated output mode and the channel couplings answer their off state and can be set off; switching one on is
refused with -221 "Settings conflict" (the 33500's error for a setting that cannot be applied), because an
accepted burst would let a bench script measure a waveform the simulated bench is not producing. Their
parameters (burst mode, cycle count, period, gate polarity; trigger source, slope and delay; the sync output's
state, polarity, mode and source) are kept and answered in the guide's forms, with -222 and the bound for an
out-of-range number like every other 33500 setting. ``FREQuency:MODE?`` answers ``CW`` ([L]: the guide lists CW
and FIXed as one mode; which of the two the query names was not confirmed). ``*TRG`` and ``TRIGger[:IMMediate]``
are accepted and change nothing: a trigger starts a burst or a sweep, and neither can be on.

Saved setups: ``*SAV {0|1|2|3|4}`` stores both channels' settings, tracking, the options above, the angle unit
and the range-auto states; ``*RCL`` restores them (another location: -222). The guide says nothing of the
outputs on a recall; the simulator leaves the output relays as they are (a recall never switches a bench's
outputs on), and a channel whose frequency changes loses its phase relation until the next PHASe:SYNChronize
(docs/reference/scpi.md §2.4). Recalling a location nothing was saved to changes nothing and queues no error
(permissive: the guide page that would say otherwise was not found). Locations survive ``*RST``, not a new bench.

Status: the Operation and Questionable registers read 0 (the simulated generator never calibrates, waits for a
trigger or overloads); their enable masks are kept (0 ... 65535, else -222) and ``STATus:PRESet`` clears them.
``SYSTem:VERSion?`` answers ``1999.0`` (SCPI-99).

Pages are those of the Agilent 33500 Series Operating and Service Guide: the BURSt subsystem p. 177
(``BURSt:GATE:POLarity`` replies NORM/INV, ``BURSt:INTernal:PERiod`` 1 us ... 8000 s, default 10 ms), the OUTPut
subsystem's trigger-out entries p. 264 (the sync entries precede them; their page was not seen), ``TRACk``
p. 315, output termination p. 62. The other entries were read by command name, in the guide's SCPI reference
and the Keysight 33500 online programming reference; docs/simulated-commands/keysight.md gives each row's
source and says where a page was not confirmed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import partial

from .generator_device import (
    CONTINUOUS_ONLY,
    FUNCTIONS,
    ON_OFF_AS_DIGITS,
    GeneratorDevice,
    GeneratorFamily,
    SavedGeneratorSetup,
    channel_query,
)
from .generator_state import ChannelState, GeneratorLimits, GeneratorState
from .scpi_device import (
    CommandRow,
    Context,
    Dialect,
    OptionStore,
    action_of,
    command_of,
    query_of,
    suffixed_command,
    suffixed_query,
)
from .scpi_parser import Params, Suffixes, expect_params, parse_choice, parse_integer

IDN = "Agilent Technologies,33522B,MY52800000,3.05-1.19-2.00-52-00"
LIMITS = GeneratorLimits(freq_min_hz=1e-6, freq_max_hz=30e6)
DEFAULTS = ChannelState(function="SIN", freq_hz=1e3, vpp_emf=0.2, offset_emf=0.0, load_ohm=50.0)
FAMILY = GeneratorFamily(number=lambda v: f"{v:+.14E}", strict=True, phase_range_deg=(-360.0, 360.0),
                         functions=FUNCTIONS[:9], high_z_reply="+9.9E+37")
DIALECT = Dialect(idn=IDN, signed_integers=True)
SAVE_LOCATIONS = (0, 4)  # *SAV {0|1|2|3|4}
#: the states that would change the output, as ``[SOURce#:]<node>:STATe`` (module docstring): refused ON
OFF_ONLY_STATES = ("BURSt", "SWEep", "AM", "FM", "PM", "FSKey", "PWM", "BPSK")


class Keysight33500(GeneratorDevice):
    """The 33522B dialect over a shared :class:`GeneratorState`."""

    def __init__(self, state: GeneratorState, idn: str = IDN) -> None:
        super().__init__(Dialect(idn=idn, signed_integers=True), FAMILY, state)
        self.angle_unit = "DEGREE"
        self.range_auto = {1: "ON", 2: "ON"}
        self.options = OptionStore()
        self.saved: dict[int, SavedGeneratorSetup] = {}
        self.status_enable = {"OPER": 0, "QUES": 0}
        self.register(self.commands())

    def reset(self) -> None:
        """``*RST`` (also resets the angle unit to degrees and every option; saved setups stay)."""
        super().reset()
        self.angle_unit = "DEGREE"
        self.range_auto = {1: "ON", 2: "ON"}
        self.options.reset()

    def commands(self) -> list[CommandRow]:
        """The served commands (module docstring), in lookup order."""
        s = "[SOURce#:]"
        set_, get = partial(suffixed_command, self.ch), partial(suffixed_query, self.ch)
        radians = self._radians
        return [
            *self.level_rows(),
            CommandRow(s + "VOLTage:RANGe:AUTO", set_(self._set_range_auto),
                       get(lambda n: "1" if self.range_auto[n] == "ON" else "0")),
            CommandRow(s + "PHASe[:ADJust]", set_(lambda n, p: self.set_phase(n, p, radians())),
                       channel_query(self, lambda n, p: self.phase(n, p, radians()))),
            CommandRow(s + "PHASe:SYNChronize", self._sync),
            CommandRow("UNIT:ANGLe", self._set_angle_unit, self._angle_unit),
            CommandRow(s + "TRACk", self._track, self._track_query),
            CommandRow(s + "APPLy:SINusoid", lambda c, s_, p: self._apply(s_, p, "SIN")),
            CommandRow(s + "APPLy:DC", lambda c, s_, p: self._apply(s_, p, "DC")),
            CommandRow(s + "APPLy", query=self._apply_query),
            CommandRow("OUTPut#[:STATe]", set_(self.set_output),
                       get(lambda n: "1" if self.state.channel(n).output_on else "0")),
            CommandRow("OUTPut#:LOAD", set_(self.set_load), channel_query(self, self.load)),
            CommandRow("OUTPut#:POLarity", set_(self.set_polarity),
                       get(lambda n: "INV" if self.state.channel(n).inverted else "NORM")),
            *self._option_rows(),
            *self._memory_rows(),
            *self._status_rows(),
        ]

    def _option_rows(self) -> list[CommandRow]:
        """Burst, sweep, modulation, trigger and sync settings (module docstring)."""
        s, o, ch = "[SOURce#:]", self.options, self.ch
        off_only = partial(o.choice_row, replies=ON_OFF_AS_DIGITS, default="0", channel=ch, refused=("1",),
                           refusal=CONTINUOUS_ONLY)
        number = partial(o.number_row, clamp=self._limit, fmt=self._number, channel=ch)
        return [
            *[off_only(f"{s}{node}:STATe", f"{node.upper()}:STATE") for node in OFF_ONLY_STATES],
            o.choice_row(s + "BURSt:MODE", "BURST:MODE", {"TRIGgered": "TRIG", "GATed": "GAT"}, "TRIG", channel=ch),
            number(s + "BURSt:NCYCles", "BURST:NCYCLES", 1.0, (1.0, 1e8), infinity=math.inf),
            number(s + "BURSt:INTernal:PERiod", "BURST:PERIOD", 0.01, (1e-6, 8000.0), units=("S",)),
            o.choice_row(s + "BURSt:GATE:POLarity", "BURST:GATE", {"NORMal": "NORM", "INVerted": "INV"}, "NORM",
                         channel=ch),
            o.choice_row(s + "FREQuency:MODE", "FREQ:MODE", {"CW": "CW", "FIXed": "CW", "LIST": "LIST", "SWEep": "SWE"},
                         "CW", channel=ch, refused=("LIST", "SWE"), refusal=CONTINUOUS_ONLY),
            off_only(s + "FREQuency:COUPle[:STATe]", "FREQ:COUPLE"),
            off_only(s + "VOLTage:COUPle[:STATe]", "VOLT:COUPLE"),
            o.choice_row("TRIGger#:SOURce", "TRIG:SOURCE",
                         {"IMMediate": "IMM", "EXTernal": "EXT", "TIMer": "TIM", "BUS": "BUS"}, "IMM", channel=ch),
            o.choice_row("TRIGger#:SLOPe", "TRIG:SLOPE", {"POSitive": "POS", "NEGative": "NEG"}, "POS", channel=ch),
            number("TRIGger#:DELay", "TRIG:DELAY", 0.0, (0.0, 1000.0), units=("S",)),
            CommandRow("TRIGger#[:IMMediate]", self._trigger),
            CommandRow("*TRG", action_of(lambda: None)),
            o.choice_row("OUTPut#:MODE", "OUTP:MODE", {"NORMal": "NORM", "GATed": "GAT"}, "NORM", channel=ch,
                         refused=("GAT",), refusal=CONTINUOUS_ONLY),
            o.choice_row("OUTPut#:SYNC", "SYNC", ON_OFF_AS_DIGITS, "1", channel=ch),
            o.choice_row("OUTPut#:SYNC:POLarity", "SYNC:POLARITY", {"NORMal": "NORM", "INVerted": "INV"}, "NORM",
                         channel=ch),
            o.choice_row("OUTPut#:SYNC:MODE", "SYNC:MODE", {"NORMal": "NORM", "CARRier": "CARR", "MARKer": "MARK"},
                         "NORM", channel=ch),
            o.choice_row("OUTPut:SYNC:SOURce", "SYNC:SOURCE", {"CH1": "CH1", "CH2": "CH2"}, "CH1"),
        ]

    def _memory_rows(self) -> list[CommandRow]:
        """``*SAV``/``*RCL`` and the state-memory queries (module docstring)."""
        lo, hi = SAVE_LOCATIONS
        return [
            CommandRow("*SAV", command_of(lambda p: self.save(parse_integer(p, lo, hi)))),
            CommandRow("*RCL", command_of(lambda p: self.recall(parse_integer(p, lo, hi)))),
            CommandRow("MEMory:STATe:VALid",
                       query=lambda c, s_, p: self._valid(p)),
            CommandRow("MEMory:NSTates", query=query_of(lambda: self.dialect.integer(hi - lo + 1))),
            CommandRow("SYSTem:VERSion", query=query_of(lambda: "1999.0")),
        ]

    def _status_rows(self) -> list[CommandRow]:
        """The SCPI Operation and Questionable status registers (module docstring)."""
        rows = []
        for key, node in (("OPER", "OPERation"), ("QUES", "QUEStionable")):
            rows += [
                CommandRow(f"STATus:{node}[:EVENt]", query=query_of(lambda: self.dialect.integer(0))),
                CommandRow(f"STATus:{node}:CONDition", query=query_of(lambda: self.dialect.integer(0))),
                CommandRow(f"STATus:{node}:ENABle", command_of(partial(self._set_enable, key)),
                           query_of(partial(lambda k: self.dialect.integer(self.status_enable[k]), key))),
            ]
        rows.append(CommandRow("STATus:PRESet", action_of(self._status_preset)))
        return rows

    # -- saved setups ------------------------------------------------------------------------------
    def save(self, location: int) -> None:
        """``*SAV <location>``: keep the present setup (module docstring)."""
        self.saved[location] = SavedGeneratorSetup(
            self.state.snapshot(), self.options.snapshot(),
            {"angle_unit": self.angle_unit, "range_auto": dict(self.range_auto)})

    def recall(self, location: int) -> None:
        """``*RCL <location>``: restore a saved setup; an empty location changes nothing (module docstring)."""
        saved = self.saved.get(location)
        if saved is None:
            return
        self.state.restore(saved.state)
        self.options.restore(saved.options)
        self.angle_unit = str(saved.extra["angle_unit"])
        range_auto = saved.extra["range_auto"]
        if isinstance(range_auto, Mapping):
            self.range_auto = {int(n): str(v) for n, v in range_auto.items()}

    def _valid(self, p: Params) -> str:
        """``MEMory:STATe:VALid? <location>``: 1 if a setup was saved there."""
        expect_params(p, 1)
        return "1" if parse_integer(p[0], *SAVE_LOCATIONS) in self.saved else "0"

    # -- status -----------------------------------------------------------------------------------
    def _set_enable(self, key: str, param: str) -> None:
        self.status_enable[key] = parse_integer(param, 0, 65535)

    def _status_preset(self) -> None:
        self.status_enable = {"OPER": 0, "QUES": 0}

    # -- handlers that are specific to the 33500 -------------------------------------------------
    def _number(self, value: float) -> str:
        """An option's number in the family's NR3 form; infinity (an INFinity burst count) as ``+9.9E+37``."""
        return self.family.high_z_reply if math.isinf(value) else self.fmt(value)

    def _trigger(self, ctx: Context, s: Suffixes, p: Params) -> None:
        """``TRIGger<n>[:IMMediate]``: accepted; it changes nothing (no burst or sweep can be on)."""
        self.ch(s[0])
        expect_params(p, 0)

    def _set_range_auto(self, n: int, param: str) -> None:
        mode = parse_choice(param, ("ON", "OFF", "ONCE", "1", "0"))
        self.range_auto[n] = {"1": "ON", "0": "OFF", "ONCE": "OFF"}.get(mode, mode)

    def _sync(self, ctx: Context, s: Suffixes, p: Params) -> None:
        self.ch(s[0])
        expect_params(p, 0)
        self.state.phase_align()

    def _radians(self) -> bool:
        return self.angle_unit == "RADIAN"

    def _angle_unit(self, ctx: Context, s: Suffixes, p: Params) -> str:
        """``UNIT:ANGLe?`` (its parameters are not checked)."""
        return {"DEGREE": "DEG", "RADIAN": "RAD"}.get(self.angle_unit, self.angle_unit)

    def _set_angle_unit(self, ctx: Context, s: Suffixes, p: Params) -> None:
        expect_params(p, 1)
        unit = parse_choice(p[0], ("DEGree", "RADian", "DEFault"))
        self.angle_unit = "DEGREE" if unit == "DEFAULT" else unit

    def _apply(self, s: Suffixes, p: Params, function: str) -> None:
        n = self.ch(s[0])
        expect_params(p, 0, 3)
        values: list[float | str | None] = list(p)  # DEF reaches the setters as the keyword
        if function == "DC":
            # APPLy:DC takes freq and amplitude placeholders (DEF); only the offset matters
            values = [None, None, values[2] if len(values) > 2 else None]
        self.apply(n, function, values)
        self.state.update(n, output_on=True)

    def _apply_query(self, ctx: Context, s: Suffixes, p: Params) -> str:
        n = self.ch(s[0])
        expect_params(p, 0)
        ch = self.state.channel(n)
        amp = self._amp_unit_value(ch, ch.vpp_emf)
        off = ch.offset_emf / ch.emf_scale()
        freq = ch.freq_hz
        return f'"{ch.function} {freq:+.15E},{amp:+.15E},{off:+.15E}"'


def make_state(sim: Mapping[str, object], seed: int = 0) -> GeneratorState:
    """The generator state of a bench's ``[sim]`` section with this family's limits and defaults."""
    return GeneratorState.from_sim(LIMITS, DEFAULTS, sim, seed)



def make_generator(sim: Mapping[str, object], seed: int = 0) -> Keysight33500:
    """The simulated instrument a bench's ``[sim]`` section describes (:mod:`instruments.sim.bench`)."""
    return Keysight33500(make_state(sim, seed))
