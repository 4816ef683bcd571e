"""Simulated Rigol DG1062Z generator: the ``rigol_dg1000z`` dialect.

Spellings, replies and defaults from docs/reference/scpi.md §3.2 (QCoDeS ``Rigol_DG1062.py``, pymeasure
``rigol_dg800.py``, the DG1000Z Programming Guide):

* ``*IDN?`` -> ``Rigol Technologies,DG1062Z,DG1ZA00000000,00.01.14``.
* Omitting ``[:SOURce<n>]``/``<n>`` means channel 1. Numbers answer with 7 significant digits
  (``1.000000E+03``); High-Z load answers ``9.900000E+37``; ``:OUTPut<n>?`` answers ``ON``/``OFF``;
  ``:TRACK?`` answers ``ON``/``OFF``/``INVERTED``; ``:APPLy?`` answers
  ``"SIN,1.000000E+03,5.000000E+00,0.000000E+00,0.000000E+00"`` (type, freq, amp, offset, phase);
  errors ``0,"No error"`` and ``-113,"Undefined header; keyword cannot be found"``.
* ``*RST``: outputs off; sine 1 kHz, 5 Vpp, 0 V, 0 degrees (the APPLy defaults of §3.2), 50 Ohm load.
* Ranges: sine up to 60 MHz (DG1062Z); amplitude and offset limits as §2.3; phase 0 ... 360 degrees.
  Out-of-range values are clamped silently (§3.2 quirks). ``APPLy:SINusoid`` parameters that are omitted
  take the defaults listed in §3.2 (1 kHz, 5 Vpp, 0 V, 0 degrees); APPLy amplitudes are Vpp.
* Phase align: ``:PHASe:INITiate`` (DG1000Z) and ``:PHASe:SYNChronize`` (both accepted, §3.2).

Served commands (``#`` = optional channel suffix 1|2, default 1)::

    *IDN? *RST *CLS *OPC *OPC? *WAI *ESR? *ESE(?) *SRE(?) *STB? *TST? *TRG *SAV *RCL  :SYSTem:ERRor[:NEXT]?
    :SYSTem:VERSion?  :SYSTem:PRESet  :SYSTem:CSCopy  :MEMory:STATe:VALid?  :MEMory:NSTates?
    [:SOURce#]:FUNCtion[:SHAPe](?)        [:SOURce#]:FREQuency[:FIXed](?) [MIN|MAX]
    [:SOURce#]:VOLTage[:LEVel][:IMMediate][:AMPLitude](?)   [:SOURce#]:VOLTage:UNIT(?)
    [:SOURce#]:VOLTage[:LEVel][:IMMediate]:OFFSet(?)  :HIGH(?)  :LOW(?)
    [:SOURce#]:PHASe[:ADJust](?)          [:SOURce#]:PHASe:INITiate  [:SOURce#]:PHASe:SYNChronize
    [:SOURce#]:TRACK(?)                   [:SOURce#]:APPLy:SINusoid|DC   [:SOURce#]:APPLy?
    :OUTPut#[:STATe](?)  :OUTPut#:IMPedance(?) = :OUTPut#:LOAD(?)  :OUTPut#:POLarity(?)  :OUTPut#:MODE(?)
    :OUTPut#:SYNC[:STATe](?)  :OUTPut#:SYNC:POLarity(?)  :OUTPut#:GATe:POLarity(?)
    [:SOURce#]:BURSt[:STATe](?) :MODE(?) :NCYCles(?) :INTernal:PERiod(?) :PHASe(?) :TDELay(?)
        :GATE:POLarity(?) :TRIGger:SOURce(?) :TRIGger:SLOPe(?)
    [:SOURce#]:SWEep:STATe(?)  [:SOURce#]:SWEep:TRIGger:SOURce(?)  [:SOURce#]:MOD[:STATe](?)  :MOD:TYPe(?)
    [:SOURce#][:MOD]:AM|FM|PM|ASKey|FSKey|PSKey|PWM:STATe(?)  [:SOURce#]:HARMonic[:STATe](?)  :SUM[:STATe](?)
    :TRIGger#:SOURce(?)  :TRIGger#:SLOPe(?)  :TRIGger#:DELay(?)  :TRIGger#[:IMMediate]
    :COUPling[:STATe](?)  :COUPling:FREQuency|AMPL|PHASe[:STATe](?)

Features the simulated output cannot show: burst, sweep, the modulations, harmonics, sum, the gated output mode
answer OFF (or NORMal) and can be set so; switching one on is refused with -221 "Settings conflict", because an
accepted burst would let a bench script measure a waveform the simulated bench is not producing (no guide page seen
names an error for this case; the SCPI-99 code for a setting that cannot be applied is used). Channel coupling
is refused the same way (not modelled). Their parameters are kept and answered in the guide's forms; an
out-of-range number is clamped silently, as every DG1000Z setting (docs/reference/scpi.md §3.2).
``:OUTPut<n>:GATe:POLarity`` takes POSitive|NEGative (and, permissively, NORMal|INVerted as aliases) and answers
POS/NEG; reply forms no page confirmed are marked [L] in docs/simulated-commands/rigol.md. ``*TRG`` and
``:TRIGger<n>[:IMMediate]`` are accepted and change nothing: a trigger starts a burst or a sweep, and neither can
be on.

Saved setups: ``*SAV USER1 ... USER10`` stores both channels' settings, tracking and the options above; ``*RCL``
(or ``:SYSTem:PRESet USER<n>``) restores them; ``ARB<n>`` (an arbitrary waveform) is refused with -221. The
guide's state files hold the waveform, modulation, sweep and burst parameters, not the output state: the relays
stay as they are, and a channel whose frequency changes loses its phase relation until the next phase align
(docs/reference/scpi.md §2.4). Recalling an empty location changes nothing and queues no error (permissive; the
guide says it is only valid on a location that holds a file). ``:SYSTem:PRESet DEFault`` is ``*RST``.
``:SYSTem:CSCopy CH1,CH2`` copies every setting of one channel to the other except the output state; with tracking
on it is refused (-221), as the guide says it is unavailable then. The DG1000Z documents no STATus subsystem; the
IEEE 488.2 status bytes are served.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from .generator_device import (
    CONTINUOUS_ONLY,
    FUNCTIONS,
    ON_OFF_AS_WORDS,
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
from .scpi_parser import Params, ScpiError, Suffixes, expect_params, parse_choice

IDN = "Rigol Technologies,DG1062Z,DG1ZA00000000,00.01.14"
LIMITS = GeneratorLimits(freq_min_hz=1e-6, freq_max_hz=60e6)
DEFAULTS = ChannelState(function="SIN", freq_hz=1e3, vpp_emf=10.0, offset_emf=0.0, load_ohm=50.0)
FAMILY = GeneratorFamily(number=lambda v: f"{v:.6E}", strict=False, phase_range_deg=(0.0, 360.0),
                         functions=FUNCTIONS, high_z_reply="9.900000E+37")
ERROR_TEXTS = {-113: "Undefined header; keyword cannot be found"}
APPLY_DEFAULTS = ("1000", "5", "0", "0")  # freq Hz, amplitude Vpp, offset V, phase deg (docs/reference/scpi.md §3.2)
USER_SLOTS = tuple(f"USER{k}" for k in range(1, 11))  # *SAV / *RCL state locations
ARB_SLOTS = tuple(f"ARB{k}" for k in range(1, 11))  # arbitrary-waveform locations (not simulated)
#: ``[:SOURce<n>][:MOD]:<type>:STATe`` of each modulation type: refused ON (module docstring)
MODULATIONS = ("AM", "FM", "PM", "ASKey", "FSKey", "PSKey", "PWM")
COUPLINGS = (("FREQuency", "FREQ"), ("AMPL", "AMPL"), ("PHASe", "PHASE"))
COUPLING_REFUSAL = "channel coupling is not simulated"
_TRIGGER_SOURCES = {"INTernal": "INT", "EXTernal": "EXT", "MANual": "MAN"}
_SLOPES = {"POSitive": "POS", "NEGative": "NEG"}


class RigolDG1000Z(GeneratorDevice):
    """The DG1062Z dialect over a shared :class:`GeneratorState`."""

    track_mnemonic = "TRACK"
    track_replies = {"INV": "INVERTED"}  # docs/reference/scpi.md §3.2: the query answers the long form

    def __init__(self, state: GeneratorState, idn: str = IDN) -> None:
        super().__init__(Dialect(idn=idn, signed_integers=False, error_texts=ERROR_TEXTS), FAMILY, state)
        self.options = OptionStore()
        self.saved: dict[str, SavedGeneratorSetup] = {}
        self.register(self.commands())

    def reset(self) -> None:
        """``*RST`` (also every burst, sweep, modulation, trigger and sync option; saved setups stay)."""
        super().reset()
        self.options.reset()

    def commands(self) -> list[CommandRow]:
        """The served commands (module docstring), in lookup order."""
        s = "[SOURce#:]"
        set_, get = partial(suffixed_command, self.ch), partial(suffixed_query, self.ch)
        return [
            *self.level_rows(),
            CommandRow(s + "PHASe[:ADJust]", set_(self.set_phase), channel_query(self, self.phase)),
            CommandRow(s + "PHASe:INITiate", self._sync),
            CommandRow(s + "PHASe:SYNChronize", self._sync),
            CommandRow(s + "TRACk", self._track, self._track_query),
            CommandRow(s + "APPLy:SINusoid", lambda c, s_, p: self._apply(s_, p, "SIN")),
            CommandRow(s + "APPLy:DC", lambda c, s_, p: self._apply(s_, p, "DC")),
            CommandRow(s + "APPLy", query=self._apply_query),
            CommandRow("OUTPut#[:STATe]", set_(self.set_output),
                       get(lambda n: "ON" if self.state.channel(n).output_on else "OFF")),
            CommandRow("OUTPut#:IMPedance", set_(self.set_load), channel_query(self, self.load)),
            CommandRow("OUTPut#:LOAD", set_(self.set_load), channel_query(self, self.load)),
            CommandRow("OUTPut#:POLarity", set_(self.set_polarity),
                       get(lambda n: "INV" if self.state.channel(n).inverted else "NORM")),
            *self._option_rows(),
            *self._coupling_rows(),
            *self._memory_rows(),
        ]

    def _option_rows(self) -> list[CommandRow]:
        """Burst, sweep, modulation, trigger and sync settings (module docstring)."""
        s, o, ch = "[SOURce#:]", self.options, self.ch
        off_only = partial(o.choice_row, replies=ON_OFF_AS_WORDS, default="OFF", channel=ch, refused=("ON",),
                           refusal=CONTINUOUS_ONLY)
        number = partial(o.number_row, clamp=self._limit, fmt=self.fmt, channel=ch)
        return [
            off_only(s + "BURSt[:STATe]", "BURST:STATE"),
            o.choice_row(s + "BURSt:MODE", "BURST:MODE", {"TRIGgered": "TRIG", "INFinity": "INF", "GATed": "GAT"},
                         "TRIG", channel=ch),
            number(s + "BURSt:NCYCles", "BURST:NCYCLES", 1.0, (1.0, 1e6)),
            number(s + "BURSt:INTernal:PERiod", "BURST:PERIOD", 0.01, (2.0166e-6, 500.0), units=("S",)),
            number(s + "BURSt:PHASe", "BURST:PHASE", 0.0, (0.0, 360.0)),
            number(s + "BURSt:TDELay", "BURST:TDELAY", 0.0, (0.0, 100.0), units=("S",)),
            o.choice_row(s + "BURSt:GATE:POLarity", "BURST:GATE", {"NORMal": "NORM", "INVerted": "INV"}, "NORM",
                         channel=ch),
            o.choice_row(s + "BURSt:TRIGger:SOURce", "BURST:TRIG:SOURCE", _TRIGGER_SOURCES, "INT", channel=ch),
            o.choice_row(s + "BURSt:TRIGger:SLOPe", "BURST:TRIG:SLOPE", _SLOPES, "POS", channel=ch),
            off_only(s + "SWEep:STATe", "SWEEP:STATE"),
            o.choice_row(s + "SWEep:TRIGger:SOURce", "SWEEP:TRIG:SOURCE", _TRIGGER_SOURCES, "INT", channel=ch),
            off_only(s + "MOD[:STATe]", "MOD:STATE"),
            o.choice_row(s + "MOD:TYPe", "MOD:TYPE", {t: t for t in ("AM", "FM", "PM", "ASK", "FSK", "PSK", "PWM")},
                         "AM", channel=ch),
            *[off_only(f"{s}[MOD:]{m}:STATe", f"{m.upper()}:STATE") for m in MODULATIONS],
            off_only(s + "HARMonic[:STATe]", "HARMONIC:STATE"),
            off_only(s + "SUM[:STATe]", "SUM:STATE"),
            o.choice_row("OUTPut#:MODE", "OUTP:MODE", {"NORMal": "NORM", "GATed": "GAT"}, "NORM", channel=ch,
                         refused=("GAT",), refusal=CONTINUOUS_ONLY),
            o.choice_row("OUTPut#:SYNC[:STATe]", "SYNC", ON_OFF_AS_WORDS, "ON", channel=ch),
            o.choice_row("OUTPut#:SYNC:POLarity", "SYNC:POLARITY", _SLOPES, "POS", channel=ch),
            o.choice_row("OUTPut#:GATe:POLarity", "OUTP:GATE",
                         {"POSitive": "POS", "NEGative": "NEG", "NORMal": "POS", "INVerted": "NEG"}, "POS", channel=ch),
            o.choice_row("TRIGger#:SOURce", "TRIG:SOURCE", {"INTernal": "INT", "EXTernal": "EXT", "BUS": "BUS"},
                         "INT", channel=ch),
            o.choice_row("TRIGger#:SLOPe", "TRIG:SLOPE", _SLOPES, "POS", channel=ch),
            number("TRIGger#:DELay", "TRIG:DELAY", 0.0, (0.0, 100.0), units=("S",)),
            CommandRow("TRIGger#[:IMMediate]", self._trigger),
            CommandRow("*TRG", action_of(lambda: None)),
        ]

    def _coupling_rows(self) -> list[CommandRow]:
        """``:COUPling``: each coupling answers OFF and refuses ON (module docstring)."""
        o = self.options
        rows = [o.choice_row(f"COUPling:{node}[:STATe]", f"COUPLING:{key}", ON_OFF_AS_WORDS, "OFF",
                             refused=("ON",), refusal=COUPLING_REFUSAL) for node, key in COUPLINGS]
        rows.append(CommandRow("COUPling[:STATe]", command_of(self._set_coupling), query_of(self._coupling)))
        return rows

    def _memory_rows(self) -> list[CommandRow]:
        """``*SAV``/``*RCL``, the state-memory queries and the SYSTem commands (module docstring)."""
        return [
            CommandRow("*SAV", command_of(lambda p: self.save(self._slot(p)))),
            CommandRow("*RCL", command_of(lambda p: self.recall(self._slot(p)))),
            CommandRow("MEMory:STATe:VALid", query=lambda c, s_, p: self._valid(p)),
            CommandRow("MEMory:NSTates", query=query_of(lambda: str(len(USER_SLOTS)))),
            CommandRow("SYSTem:PRESet", command_of(self._preset)),
            CommandRow("SYSTem:CSCopy", self._copy),
            CommandRow("SYSTem:VERSion", query=query_of(lambda: "1999.0")),
        ]

    # -- couplings ---------------------------------------------------------------------------------
    def _set_coupling(self, param: str) -> None:
        """``:COUPling[:STATe] {ON|OFF}``: OFF turns the three couplings off (they are), ON is refused."""
        if ON_OFF_AS_WORDS[parse_choice(param, tuple(ON_OFF_AS_WORDS))] == "ON":
            raise ScpiError(-221, COUPLING_REFUSAL)

    def _coupling(self) -> str:
        """``:COUPling[:STATe]?``: ``FREQ:OFF,PHASE:OFF,AMPL:OFF`` (docs/reference/scpi.md §3.2)."""
        state = {key: self.options.get(0, f"COUPLING:{key}") for _, key in COUPLINGS}
        return f"FREQ:{state['FREQ']},PHASE:{state['PHASE']},AMPL:{state['AMPL']}"

    # -- saved setups ------------------------------------------------------------------------------
    @staticmethod
    def _slot(param: str) -> str:
        """A state location ``USER1`` ... ``USER10``; an ``ARB<n>`` location is refused (-221), else -224."""
        slot = parse_choice(param, USER_SLOTS + ARB_SLOTS)
        if slot.startswith("ARB"):
            raise ScpiError(-221, "arbitrary waveforms are not simulated")
        return slot

    def save(self, slot: str) -> None:
        """``*SAV USER<n>``: keep the present setup (module docstring)."""
        self.saved[slot] = SavedGeneratorSetup(self.state.snapshot(), self.options.snapshot(), {})

    def recall(self, slot: str) -> None:
        """``*RCL USER<n>``: restore a saved setup; an empty location changes nothing (module docstring)."""
        saved = self.saved.get(slot)
        if saved is not None:
            self.state.restore(saved.state)
            self.options.restore(saved.options)

    def _valid(self, p: Params) -> str:
        """``:MEMory:STATe:VALid? USER<n>``: 1 if a setup was saved there."""
        expect_params(p, 1)
        return "1" if parse_choice(p[0], USER_SLOTS) in self.saved else "0"

    def _preset(self, param: str) -> None:
        """``:SYSTem:PRESet {DEFault|USER1 ... USER10}``: the factory state, or a saved setup."""
        which = parse_choice(param, ("DEFault",) + USER_SLOTS)
        if which == "DEFAULT":
            self.reset()
        else:
            self.recall(which)

    def _copy(self, ctx: Context, s: Suffixes, p: Params) -> None:
        """``:SYSTem:CSCopy CH1,CH2`` (or ``CH2,CH1``): copy one channel's settings to the other."""
        expect_params(p, 2)
        src, dst = (int(parse_choice(x, ("CH1", "CH2"))[2]) for x in p)
        if self.state.track != "OFF":
            raise ScpiError(-221, "channel copy is unavailable while tracking is on")
        self.state.copy_channel(src, dst)

    def _trigger(self, ctx: Context, s: Suffixes, p: Params) -> None:
        """``:TRIGger<n>[:IMMediate]``: accepted; it changes nothing (no burst or sweep can be on)."""
        self.ch(s[0])
        expect_params(p, 0)

    def _sync(self, ctx: Context, s: Suffixes, p: Params) -> None:
        self.ch(s[0])
        expect_params(p, 0)
        self.state.phase_align()

    def _apply(self, s: Suffixes, p: Params, function: str) -> None:
        n = self.ch(s[0])
        expect_params(p, 0, 4)
        given = list(p) + list(APPLY_DEFAULTS[len(p):])
        freq, amp, off, phase = given
        ch = self.state.channel(n)
        unit = ch.unit
        ch.unit = "VPP"  # APPLy amplitudes are Vpp at the load setting
        try:
            if function == "DC":
                self.apply(n, "DC", [None, None, off])
            else:
                self.apply(n, function, [freq, amp, off], phase=phase)
        finally:
            self.state.channel(n).unit = unit

    def _apply_query(self, ctx: Context, s: Suffixes, p: Params) -> str:
        n = self.ch(s[0])
        expect_params(p, 0)
        ch = self.state.channel(n)
        vpp = ch.vpp_emf / ch.emf_scale()
        off = ch.offset_emf / ch.emf_scale()
        f = self.fmt
        return f'"{ch.function},{f(ch.freq_hz)},{f(vpp)},{f(off)},{f(ch.phase_deg)}"'


def make_state(sim: Mapping[str, object], seed: int = 0) -> GeneratorState:
    """The generator state of a bench's ``[sim]`` section with this family's limits and defaults."""
    return GeneratorState.from_sim(LIMITS, DEFAULTS, sim, seed)


def make_generator(sim: Mapping[str, object], seed: int = 0) -> RigolDG1000Z:
    """The simulated instrument a bench's ``[sim]`` section describes (:mod:`instruments.sim.bench`)."""
    return RigolDG1000Z(make_state(sim, seed))
