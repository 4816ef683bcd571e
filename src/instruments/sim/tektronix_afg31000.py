"""Simulated Tektronix AFG31052 generator: the ``tektronix_afg31000`` dialect.

Facts, and where they come from (docs/reference/scpi.md §3.4 and §1.2 unless another source is named; the
AFG3000 Series Reference Manual's command entries, which the AFG31000 set extends, as Tektronix's own
``tm_devices`` package restates them; pages are given where a page of a manual was seen):

* ``*IDN?`` -> ``TEKTRONIX,AFG31052,C000000,SCPI:99.0 FV:1.6.0`` (the ``SCPI:99.0 FV:x.y.z`` firmware field
  of §3.4). The AFG has no ``HEADer`` command: a query answers the value only, a mnemonic in its short form
  (AFG3000 Reference Manual p. 3-3, "Query Responses", Table 3-3: ``OUTPut:POLarity?`` -> ``NORM``).
* Errors: ``SYSTem:ERRor[:NEXT]?`` -> ``<code>,"<text>"`` with SCPI-99 codes, ``0,"No error"`` when empty (§1.2,
  §3.4); ``*ESR?`` sets CME/EXE as IEEE 488.2 says (:mod:`.scpi_device`). Out-of-range numbers: the AFG manual
  page that says what happens was not seen, so the SCPI-99 rule the project records for the Tek AFG's queue
  applies (§1.2: ``-222`` data out of range, ``-221`` settings conflict): a value outside its range is clamped and
  queues -222; an amplitude/offset pair beyond ``|offset| + Vpp/2`` is clamped and queues -221
  (:mod:`.generator_device`, ``strict``).
* Numbers answer in NR3 with 12 significant digits (``1.00000000000E+03``): the 12-digit resolution of
  ``SOURce<n>:FREQuency:FIXed`` (reference manual entry); no page shows a numeric reply, so the digits are ours.
  A High-Z load answers ``9.9E+37`` (``OUTPut<n>:IMPedance`` entry); booleans ``0``/``1``
  (``SOURce<n>:FREQuency:CONCurrent`` entry: "returns '0' (off) or '1' (on)"); the function ``SIN``/``DC``.
* ``SOURce<n>:PHASe[:ADJust]``: a number without unit is radians and the query answers radians (entry, and
  §3.4 "always add DEG"); range -180 ... +180 degrees (§3.4, the QCoDeS-contrib AFG3000 validator).
* ``SOURce<n>:PHASe:INITiate`` aligns the phases of CH1 and CH2, whichever suffix (entry). The two channels are
  separate DDS engines (:mod:`.generator_state`), so it is needed after every frequency change (§2.4).
* ``SOURce<n>:FREQuency:CONCurrent[:STATe] ON`` copies channel n's frequency to the other channel, and from
  then on a frequency set on either channel is set on both (entry; §3.4 "CH2 follows CH1 frequency").
* Burst, sweep (``FREQuency:MODE SWEep``), the modulations (AM, FM, PM, FSKey, PWM) and ``VOLTage:CONCurrent``
  are answerable and OFF: switching one on is refused with -221, as the simulator models continuous sine and DC
  only. Selecting another waveform is refused the same way (:mod:`.generator_state`).
* ``*SAV``/``*RCL`` 0 ... 4 (five setup memories; QMI's AFG31000 driver checks the same range): a recall restores
  both channels' settings but not the output relays (a recall never switches an output on: our choice, the
  page was not seen); recalling a memory never saved changes nothing (permissive: the manual page was not seen).
* ``*RST``: outputs off, sine 1 MHz, 1 Vpp into 50 Ohm, 0 V, 0 degrees, load 50 Ohm, frequency and amplitude
  coupling off, trigger source TIMer (the AFG3000 default setup; its table was not seen, so a model choice).
* Ranges of the AFG31052 (data sheet figures, model choices): sine 1 uHz ... 50 MHz; 1 mVpp ... 10 Vpp into
  50 Ohm, ``|offset| + Vpp/2 <= 5 V`` into 50 Ohm (10 V High-Z, §2.3); load 1 Ohm ... 10 kOhm or INFinity.

Served commands (``#`` = optional channel suffix 1|2, default 1)::

    *IDN? *RST *CLS *OPC *OPC? *WAI *ESR? *ESE(?) *SRE(?) *STB? *TST? *SAV *RCL  SYSTem:ERRor[:NEXT]?
    [SOURce#:]FUNCtion[:SHAPe](?)   [SOURce#:]FREQuency[:FIXed](?)  [SOURce#:]FREQuency:CW(?)  [MIN|MAX]
    [SOURce#:]FREQuency:MODE(?)     [SOURce#:]FREQuency:CONCurrent[:STATe](?)
    [SOURce#:]VOLTage[:LEVel][:IMMediate][:AMPLitude](?)  :OFFSet(?)  :HIGH(?)  :LOW(?)
    [SOURce#:]VOLTage:UNIT(?)       [SOURce#:]VOLTage:CONCurrent[:STATe](?)
    [SOURce#:]PHASe[:ADJust](?)     [SOURce#:]PHASe:INITiate
    [SOURce#:]BURSt[:STATe](?)      [SOURce#:]{AM|FM|PM|FSKey|PWM}[:STATe](?)
    TRIGger[:SEQuence]:SOURce(?)    TRIGger[:SEQuence]:TIMer(?)      OUTPut:TRIGger:MODE(?)
    OUTPut#[:STATe](?)  OUTPut#:IMPedance(?)  OUTPut#:POLarity(?)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial

from .generator_device import GeneratorDevice, GeneratorFamily, channel_query
from .generator_state import ChannelState, GeneratorLimits, GeneratorState
from .scpi_device import CommandRow, Context, Dialect, command_of, query_of, suffixed_command, suffixed_query
from .scpi_parser import (
    Params,
    ScpiError,
    Suffixes,
    expect_params,
    parse_bool,
    parse_choice,
    parse_integer,
    parse_number,
)

IDN = "TEKTRONIX,AFG31052,C000000,SCPI:99.0 FV:1.6.0"
LIMITS = GeneratorLimits(freq_min_hz=1e-6, freq_max_hz=50e6)
DEFAULTS = ChannelState(function="SIN", freq_hz=1e6, vpp_emf=2.0, offset_emf=0.0, load_ohm=50.0)
#: the waveform names of ``SOURce<n>:FUNCtion[:SHAPe]`` (§3.4); SINusoid and DC are modelled
FUNCTIONS = ("SINusoid", "SQUare", "PULSe", "RAMP", "PRNoise", "DC", "SINC", "GAUSsian", "LORentz", "ERISe",
             "EDECay", "HAVersine", "USER", "EMEMory", "EFILe")
FAMILY = GeneratorFamily(number=lambda v: f"{v + 0.0:.11E}", strict=True, phase_range_deg=(-180.0, 180.0),
                         functions=FUNCTIONS, high_z_reply="9.9E+37")
SETUP_MEMORIES = 5
#: run modes and modulations that are answerable but not modelled: (node, what the refusal says)
UNMODELLED_STATES = (("BURSt", "burst"), ("AM", "AM"), ("FM", "FM"), ("PM", "PM"), ("FSKey", "FSK"),
                     ("PWM", "PWM"), ("VOLTage:CONCurrent", "amplitude coupling"))
TIMER_RANGE_S = (1e-6, 500.0)  # TRIGger:SEQuence:TIMer entry


@dataclass
class Coupling:
    """The AFG's settings outside the two channel states: frequency coupling, trigger, trigger output."""

    freq_concurrent: bool = False
    trigger_source: str = "TIM"
    timer_s: float = 1e-3
    trigger_out: str = "TRIG"


@dataclass
class Setup:
    """One ``*SAV`` memory: both channels and the AFG's other settings."""

    channels: list[ChannelState] = field(default_factory=list)
    coupling: Coupling = field(default_factory=Coupling)


class TektronixAFG31000(GeneratorDevice):
    """The AFG31052 dialect over a shared :class:`GeneratorState`."""

    def __init__(self, state: GeneratorState, idn: str = IDN) -> None:
        super().__init__(Dialect(idn=idn, signed_integers=False), FAMILY, state)
        self.coupling = Coupling()
        self.setups: dict[int, Setup] = {}
        self.register(self.commands())

    def reset(self) -> None:
        """``*RST``: the channel defaults (module docstring) and the coupling and trigger defaults; the setup
        memories are kept."""
        super().reset()
        self.coupling = Coupling()

    def commands(self) -> list[CommandRow]:
        """The served commands (module docstring), in lookup order."""
        s = "[SOURce#:]"
        set_, get = partial(suffixed_command, self.ch), partial(suffixed_query, self.ch)
        return [
            *self.level_rows(),
            CommandRow(s + "FREQuency:CW", set_(self.set_frequency), channel_query(self, self.frequency)),
            CommandRow(s + "FREQuency:MODE", set_(self._set_frequency_mode), get(lambda n: "CW")),
            CommandRow(s + "FREQuency:CONCurrent[:STATe]", set_(self._set_freq_concurrent),
                       get(lambda n: _flag(self.coupling.freq_concurrent))),
            CommandRow(s + "PHASe[:ADJust]", set_(lambda n, p: self.set_phase(n, p, radians=True)),
                       channel_query(self, lambda n, p: self.phase(n, p, radians=True))),
            CommandRow(s + "PHASe:INITiate", self._initiate_phase),
            *(CommandRow(f"{s}{node}[:STATe]", set_(_refuse_on(what)), get(lambda n: "0"))
              for node, what in UNMODELLED_STATES),
            CommandRow("TRIGger[:SEQuence]:SOURce", command_of(self._set_trigger_source),
                       query_of(lambda: self.coupling.trigger_source)),
            CommandRow("TRIGger[:SEQuence]:TIMer", command_of(self._set_timer),
                       query_of(lambda: self.fmt(self.coupling.timer_s))),
            CommandRow("OUTPut:TRIGger:MODE", command_of(self._set_trigger_out),
                       query_of(lambda: self.coupling.trigger_out)),
            CommandRow("OUTPut#[:STATe]", set_(self.set_output),
                       get(lambda n: _flag(self.state.channel(n).output_on))),
            CommandRow("OUTPut#:IMPedance", set_(self.set_load), channel_query(self, self.load)),
            CommandRow("OUTPut#:POLarity", set_(self.set_polarity),
                       get(lambda n: "INV" if self.state.channel(n).inverted else "NORM")),
            CommandRow("*SAV", command_of(self._save)),
            CommandRow("*RCL", command_of(self._recall)),
        ]

    # -- waveform and frequency ------------------------------------------------------------------------
    def set_function(self, n: int, name: str) -> None:
        """``FUNCtion[:SHAPe]`` with the AFG's names; only SINusoid and DC are modelled (others -221)."""
        long = parse_choice(name, FUNCTIONS)
        if long not in ("SINUSOID", "DC"):
            raise ScpiError(-221, f"the simulated AFG models SINusoid and DC only, not {long}")
        super().set_function(n, "SIN" if long == "SINUSOID" else "DC")

    def set_frequency(self, n: int, param: str) -> None:
        """Frequency in Hz; with frequency coupling on, the other channel takes the same frequency."""
        super().set_frequency(n, param)
        if self.coupling.freq_concurrent:
            self.state.update(3 - n, freq_hz=self.state.channel(n).freq_hz)

    def _set_frequency_mode(self, n: int, param: str) -> None:
        """``FREQuency:MODE {CW|FIXed|SWEep}``: CW and FIXed are the continuous mode; SWEep is not modelled."""
        if parse_choice(param, ("CW", "FIXed", "SWEep")) == "SWEEP":
            raise ScpiError(-221, "the simulated AFG does not model frequency sweeps")

    def _set_freq_concurrent(self, n: int, param: str) -> None:
        """``FREQuency:CONCurrent ON`` copies channel ``n``'s frequency to the other channel (entry)."""
        on = parse_bool(param)
        self.coupling.freq_concurrent = on
        if on:
            self.state.update(3 - n, freq_hz=self.state.channel(n).freq_hz)

    def _initiate_phase(self, ctx: Context, s: Suffixes, p: Params) -> None:
        """``PHASe:INITiate``: both channels' phase accumulators to a common zero, whichever suffix."""
        self.ch(s[0])
        expect_params(p, 0)
        self.state.phase_align()

    # -- trigger ----------------------------------------------------------------------------------------
    def _set_trigger_source(self, param: str) -> None:
        """``TRIGger[:SEQuence]:SOURce {TIMer|EXTernal}`` (it matters in burst and sweep only, which are off)."""
        self.coupling.trigger_source = parse_choice(param, ("TIMer", "EXTernal"))[:3]

    def _set_timer(self, param: str) -> None:
        """``TRIGger[:SEQuence]:TIMer <s>``: the internal trigger period, 1 us ... 500 s (clamped, -222)."""
        value = parse_number(param, units=("S",), keywords=("MIN", "MAX"))
        lo, hi = TIMER_RANGE_S
        if isinstance(value, str):
            value = lo if value == "MIN" else hi
        self.coupling.timer_s = self._limit(value, lo, hi)

    def _set_trigger_out(self, param: str) -> None:
        """``OUTPut:TRIGger:MODE {TRIGger|SYNC}``: what the trigger output connector carries."""
        self.coupling.trigger_out = parse_choice(param, ("TRIGger", "SYNC"))[:4]

    # -- setup memories ---------------------------------------------------------------------------------
    def _save(self, param: str) -> None:
        """``*SAV <0..4>``: both channels and the coupling into memory ``param``."""
        self.setups[parse_integer(param, 0, SETUP_MEMORIES - 1)] = Setup(
            [replace(c) for c in self.state.channels], replace(self.coupling))

    def _recall(self, param: str) -> None:
        """``*RCL <0..4>``: the saved settings back, the output relays as they are; an unused memory is a no-op.
        A channel whose frequency changes loses its phase relation to the other until ``PHASe:INITiate``."""
        setup = self.setups.get(parse_integer(param, 0, SETUP_MEMORIES - 1))
        if setup is None:
            return
        for n, saved in enumerate(setup.channels, start=1):
            now = self.state.channel(n)
            self.state.channels[n - 1] = replace(saved, output_on=now.output_on, accumulator_rad=now.accumulator_rad)
            if saved.freq_hz != now.freq_hz:  # a new frequency: the DDS phase is arbitrary again (§2.4)
                self.state.update(n, freq_hz=saved.freq_hz)
        self.coupling = replace(setup.coupling)
        self.state.notify()


def _flag(on: bool) -> str:
    """A boolean reply, ``1``/``0``."""
    return "1" if on else "0"


def _refuse_on(what: str) -> Callable[[int, str], None]:
    """A ``...:STATe`` setter for a mode the simulator does not model: OFF is accepted, ON is -221."""

    def setter(n: int, param: str) -> None:
        if parse_bool(param):
            raise ScpiError(-221, f"the simulated AFG does not model {what}")

    return setter


def make_state(sim: Mapping[str, object], seed: int = 0) -> GeneratorState:
    """The generator state of a bench's ``[sim]`` section with this family's limits and defaults."""
    return GeneratorState.from_sim(LIMITS, DEFAULTS, sim, seed)


def make_generator(sim: Mapping[str, object], seed: int = 0) -> TektronixAFG31000:
    """The simulated instrument a bench's ``[sim]`` section describes (:mod:`instruments.sim.bench`)."""
    return TektronixAFG31000(make_state(sim, seed))
