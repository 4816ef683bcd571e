"""Simulated Siglent SDG2042X generator: the ``siglent_sdg`` dialect (SDG1000X/2000X/6000X command set).

Sources: Siglent *SDG Series Arbitrary Waveform Generator Programming Guide*, edition PG02_E05C ("SDG guide"),
cited by command entry (the guide gives every command its own entry; its pages were not seen, as
docs/reference/scpi.md §8.3 records), and the project's digest of it with the SDG2122X hardware logs,
docs/reference/scpi.md §3.3 ("§3.3").

* Syntax (SDG guide, "Command notation" and each entry; §3.3): a channel prefix ``C<n>:`` (here ``C1``, ``C2``),
  a header in the guide's ``UPPER_lower`` spelling, accepted in its short form (the capitals: ``BSWV``) or its
  long form (``BASIC_WAVE``), then comma-separated ``NAME,value`` pairs, several per command. Replies repeat
  the header and carry units: ``C1:OUTP ON,LOAD,HZ,PLRT,NOR`` (entry ``OUTPut``), ``C1:BSWV WVTP,SINE,FRQ,
  1000HZ,PERI,0.001S,AMP,4V,AMPVRMS,1.414Vrms,OFST,0V,HLEV,2V,LLEV,-2V,PHSE,0`` (entry ``BaSic_WaVe``; the
  ``AMPVRMS`` field is the SDG2000X's, §2.2), ``C1:BSWV WVTP,DC,OFST,-1V`` for DC.
* ``*IDN?`` -> ``Siglent Technologies,SDG2042X,<serial>,2.01.01.39R7T2`` (entry ``*IDN``; §3.3), ``*OPC?``
  -> ``1`` (entry ``*OPC``), ``*RST``.
* No error queue (SDG guide command index: no ``SYSTem:ERRor?``; §1.2, §3.3): the simulator does not answer
  ``SYSTem:ERRor?`` (an undefined header). What goes wrong sets the IEEE 488.2 standard event status register
  instead (``*ESR?``, read clears; ``*CLS``; ``*ESE``/``*SRE``/``*STB?``): an unknown header or malformed
  command sets the command-error bit (32), a value the simulator refuses the execution-error bit (16). The
  guide documents neither register's use, so this is the IEEE 488.2 behaviour, [L]; ``*STB?`` has no
  error-available bit (there is no queue).
* Out-of-range values: the guide gives each parameter's range per model and says nothing of what a value
  outside it does; the hardware logs (§3.3) show values kept silently or ignored without any error. So the
  simulator clamps a number to its range silently (permissive), and the driver's read-back sees it:
  frequency 1 uHz ... 40 MHz for a sine (SDG2042X data sheet), amplitude and offset by
  ``|offset| + Vpp/2 <= 10 V`` of EMF (2 mVpp ... 20 Vpp High-Z, §3.3 QCoDeS ranges; generator_state.py),
  phase 0 ... 360 degrees (entry ``BaSic_WaVe``), load 50 ... 100 000 Ohm or ``HZ`` (entry ``OUTPut``).
* ``C<n>:OUTP LOAD,<ohm>|HZ`` is the *setting* the amplitude refers to (§2.1): changing it rescales ``AMP`` and
  ``OFST`` as read back, not the output. ``PLRT,INVT`` and ``C<n>:INVT ON`` (entry ``INVerT``) invert the
  channel about its offset (whether the offset inverts is unconfirmed on Siglent, §6 item 2: the simulator
  keeps it, as on Keysight); the simulator takes them for one setting (the guide does not say they differ).
* ``MODE PHASE-LOCKED|INDEPENDENT`` (entry ``MODE``; the hyphenated spelling is the one an SDG2122X kept,
  ``PHASELOCKED`` as printed in E05C was ignored, §3.3 log): the simulator accepts both spellings.
  ``EQPHASE`` (no query) re-aligns both channels' phase in phase-locked mode; in independent mode the channels
  are not locked, so it changes nothing. A frequency change loses the relation until the next ``EQPHASE``
  (separate DDS engines, §2.4). ``*RST`` mode: phase-locked (the state the SDG2122X log found and restored; the
  guide gives no default, [L]).
* ``COUP TRACE,ON|OFF`` (entry ``COUPling``): CH2 copies CH1's basic wave and follows it; ``COUP?`` answers
  ``COUP TRACE,ON`` while tracking and ``COUP TRACE,OFF,FCOUP,OFF,PCOUP,OFF,ACOUP,OFF`` otherwise (§3.3: "lists
  only active relations"). Frequency, phase and amplitude coupling (``FCOUP``, ``PCOUP``, ``ACOUP``) are not
  simulated: turning one on is refused (execution error).
* Burst, modulation and sweep (entries ``BursTWaVe``, ``MoDulateWaVe``, ``SWeepWaVe``) are off and answer
  ``C1:BTWV STATE,OFF`` (the SDG2000X audit, §3.3 sources); ``STATE,OFF`` is accepted, anything else refused with
  an execution error, as the simulated output is a continuous wave. ``C<n>:SYNC ON|OFF[,TYPE,<t>]`` (entry
  ``SYNC``) is kept and answered (``C1:SYNC OFF,TYPE,CH1``); nothing on the bench is wired to the sync output.
* Wave types: ``SINE`` and ``DC`` are simulated; the guide's others (``SQUARE``, ``RAMP``, ``PULSE``, ``NOISE``,
  ``ARB``, ``PRBS``, ``IQ``) are refused with an execution error and the old type is kept, and so are the
  ``BSWV`` fields of those types (``DUTY``, ``SYM``, ``WIDTH``, ...). ``*RST``: both channels sine 1 kHz,
  4 Vpp, 0 V, 0 degrees, High-Z load, outputs off (the SDG2122X log's restored defaults, §3.3 sources).

Served commands (``<n>`` = 1|2)::

    *IDN? *RST *CLS *OPC *OPC? *WAI *ESR? *ESE(?) *SRE(?) *STB? *TST?
    C<n>:BaSic_WaVe(?)  WVTP,FRQ,PERI,AMP,AMPRMS,AMPVRMS,OFST,HLEV,LLEV,PHSE
    C<n>:OUTPut(?)      ON|OFF,LOAD,<ohm>|HZ,PLRT,NOR|INVT
    C<n>:INVerT(?)      C<n>:SYNC(?)     C<n>:BursTWaVe(?)  C<n>:MoDulateWaVe(?)  C<n>:SWeepWaVe(?)
    MODE(?)  EQPHASE  COUPling(?)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

from .generator_device import GeneratorDevice, GeneratorFamily
from .generator_state import ChannelState, GeneratorLimits, GeneratorState, unit_to_vpp
from .scpi_device import CommandRow, Context, Dialect, Handler, ScpiDevice, suffixed_query
from .scpi_parser import (
    Command,
    CommandTable,
    Node,
    Params,
    ScpiError,
    Suffixes,
    expect_params,
    parse_bool,
    parse_choice,
    parse_number,
)

IDN = "Siglent Technologies,SDG2042X,SDG2XCAD4R0000,2.01.01.39R7T2"
LIMITS = GeneratorLimits(freq_min_hz=1e-6, freq_max_hz=40e6, load_min_ohm=50.0, load_max_ohm=100e3)
DEFAULTS = ChannelState(function="SIN", freq_hz=1e3, vpp_emf=4.0, offset_emf=0.0, load_ohm=math.inf)
FAMILY = GeneratorFamily(number=lambda v: format(v, ".10g"), strict=False, phase_range_deg=(0.0, 360.0),
                         functions=("SINE", "DC"), high_z_reply="HZ")
#: the guide's wave types; the simulator models the first two (module docstring)
WAVE_TYPES = ("SINE", "DC", "SQUARE", "RAMP", "PULSE", "NOISE", "ARB", "PRBS", "IQ")
#: BSWV fields of the wave types the simulator does not model (SDG guide, entry BaSic_WaVe)
UNMODELLED_FIELDS = ("DUTY", "SYM", "WIDTH", "RISE", "FALL", "DLY", "STDEV", "MEAN", "BANDSTATE", "BANDWIDTH",
                     "AMPDBM", "FORMAT", "COM_OFST", "LENGTH", "EDGE", "DIFFSTATE", "BITRATE", "LOGICLEVEL")
PHASE_MODES = ("PHASE-LOCKED", "INDEPENDENT")
#: burst, modulation and sweep: the header's two spellings and the reply's short form
STATE_ONLY = {"BTWV": "BursTWaVe", "MDWV": "MoDulateWaVe", "SWWV": "SWeepWaVe"}
SYNC_TYPES = ("CH1", "CH2", "MOD_CH1", "MOD_CH2")


# -- the guide's spelling: UPPER_lower words with underscores ----------------------------------------------
def siglent_nodes(spec: str) -> tuple[Node, ...]:
    """Header nodes from the guide's spelling: ``"C#:BaSic_WaVe"`` -> ``C<n>`` (suffixed) and a node whose short
    form is the capitals (``BSWV``) and whose long form is the whole word (``BASIC_WAVE``)."""
    nodes = []
    for word in spec.split(":"):
        suffix = word.endswith("#")
        word = word.rstrip("#")
        short = "".join(ch for ch in word if ch.isupper() or ch == "*")
        nodes.append(Node(short=short, long=word.upper(), optional=False, suffix=suffix))
    return tuple(nodes)


class SiglentTable(CommandTable[Context]):
    """A command table whose patterns are written in the guide's ``UPPER_lower`` spelling (:func:`siglent_nodes`)."""

    def add(self, pattern: str, command: Handler | None = None, query: Handler | None = None) -> None:
        """Register the command form, the query form (``pattern?``), or both, of one header."""
        nodes = siglent_nodes(pattern)
        if command is not None:
            self._commands.append(Command(pattern, nodes, False, command))
        if query is not None:
            self._commands.append(Command(pattern + "?", nodes, True, query))

    def keep(self, commands: Iterable[Command[Context]]) -> None:
        """Take over already compiled commands (the IEEE 488.2 common ones of :class:`ScpiDevice`)."""
        self._commands.extend(commands)


def without_error_queue(table: Iterable[Command[Context]]) -> list[Command[Context]]:
    """The commands of ``table`` less ``SYSTem:ERRor?``: the Siglent sets document no error queue."""
    return [cmd for cmd in table if not cmd.pattern.upper().startswith("SYST")]


def status_byte_without_queue(device: ScpiDevice) -> int:
    """IEEE 488.2 status byte of an instrument without an error queue: ESB (bit 5) and MSS (bit 6) only."""
    stb = 32 if device.esr & device.ese else 0
    if stb & device.sre:
        stb |= 64
    return stb


def reply_number(value: float) -> str:
    """A number as the SDG prints it before its unit: plain, up to 10 significant digits (``1000``, ``0.001``)."""
    return format(float(value) + 0.0, ".10g")


class SiglentSDG(GeneratorDevice):
    """The SDG2042X dialect over a shared :class:`GeneratorState`."""

    def __init__(self, state: GeneratorState, idn: str = IDN) -> None:
        super().__init__(Dialect(idn=idn, signed_integers=False), FAMILY, state)
        common = self.table
        self.table = SiglentTable()
        self.table.keep(without_error_queue(common))
        self.phase_mode = PHASE_MODES[0]
        self.sync = {1: ("OFF", "CH1"), 2: ("OFF", "CH2")}
        self.register(self.commands())

    def reset(self) -> None:
        """``*RST``: the family defaults (module docstring), phase-locked, sync outputs off."""
        super().reset()
        self.phase_mode = PHASE_MODES[0]
        self.sync = {1: ("OFF", "CH1"), 2: ("OFF", "CH2")}

    def status_byte(self) -> int:
        """``*STB?`` without an error-available bit (no error queue)."""
        return status_byte_without_queue(self)

    def commands(self) -> list[CommandRow]:
        """The served commands (module docstring), in lookup order."""
        rows = [
            CommandRow("C#:BaSic_WaVe", self._channel_command(self._set_wave), suffixed_query(self.ch, self._wave)),
            CommandRow("C#:OUTPut", self._channel_command(self._set_output_fields),
                       suffixed_query(self.ch, self._output_reply)),
            CommandRow("C#:INVerT", self._channel_command(self._set_invert),
                       suffixed_query(self.ch, self._invert_reply)),
            CommandRow("C#:SYNC", self._channel_command(self._set_sync), suffixed_query(self.ch, self._sync_reply)),
            CommandRow("MODE", self._plain(self._set_phase_mode), self._plain_query(lambda: f"MODE {self.phase_mode}")),
            CommandRow("EQPHASE", self._plain(self._eqphase)),
            CommandRow("COUPling", self._plain(self._set_coupling), self._plain_query(self._coupling_reply)),
        ]
        for short, spelling in STATE_ONLY.items():
            rows.append(CommandRow(f"C#:{spelling}", self._channel_command(self._state_only(short)),
                                   suffixed_query(self.ch, self._state_reply(short))))
        return rows

    # -- handler builders: the channel from the C<n> prefix, the parameters as a list ----------------------------
    def _channel_command(self, fn: Callable[[int, Params], None]) -> Handler:
        def handler(ctx: Context, s: Suffixes, p: Params) -> None:
            n = self.ch(s[0])
            expect_params(p, 1, 64)
            fn(n, p)
        return handler

    def _invert_reply(self, n: int) -> str:
        return f"C{n}:INVT {'ON' if self.state.channel(n).inverted else 'OFF'}"

    @staticmethod
    def _plain(fn: Callable[[Params], None]) -> Handler:
        def handler(ctx: Context, s: Suffixes, p: Params) -> None:
            fn(p)
        return handler

    @staticmethod
    def _plain_query(fn: Callable[[], str]) -> Handler:
        def handler(ctx: Context, s: Suffixes, p: Params) -> str:
            expect_params(p, 0)
            return fn()
        return handler

    @staticmethod
    def _pairs(p: Params) -> list[tuple[str, str]]:
        """``NAME,value,NAME,value`` -> pairs; an odd count is a missing parameter (-109, a command error)."""
        if len(p) % 2:
            raise ScpiError(-109, f"{p[-1]} has no value")
        return [(p[i].strip().upper(), p[i + 1]) for i in range(0, len(p), 2)]

    # -- basic wave ------------------------------------------------------------------------------------------------
    def _set_wave(self, n: int, p: Params) -> None:
        """``C<n>:BSWV NAME,value,...``: each field in the order given, each clamped silently (module docstring);
        a field or wave type the simulator does not model is refused (execution error), the others still apply."""
        for name, value in self._pairs(p):
            try:
                self._set_field(n, name, value)
            except ScpiError as exc:
                if exc.is_command_error:
                    raise
                self.push_error(exc.code, exc.detail)

    def _set_field(self, n: int, name: str, value: str) -> None:
        ch = self.state.channel(n)
        if name == "WVTP":
            self._set_type(n, value)
        elif name == "FRQ":
            self.set_frequency(n, value)
        elif name == "PERI":
            period = float(parse_number(value, units=("S",)))
            if period <= 0:
                raise ScpiError(-222, f"period {period:g} s")
            self.set_frequency(n, reply_number(1.0 / period))
        elif name == "AMP":
            self.set_amplitude(n, value)
        elif name in ("AMPRMS", "AMPVRMS"):
            vrms = float(parse_number(value, units=("VRMS", "V")))
            self.set_amplitude(n, reply_number(unit_to_vpp(vrms, "VRMS", ch.load_ohm)))
        elif name == "OFST":
            self.set_offset(n, value)
        elif name in ("HLEV", "LLEV"):
            self.set_high_low(n, value, name == "HLEV")
        elif name == "PHSE":
            self.set_phase(n, value)
        elif name in UNMODELLED_FIELDS:
            raise ScpiError(-221, f"{name}: the simulator models the SINE and DC wave types only")
        else:
            raise ScpiError(-224, f"{name} is not a BSWV field")

    def _set_type(self, n: int, value: str) -> None:
        """``WVTP``: SINE or DC (others refused, module docstring); a sine too large for the offset it takes over
        from DC has its offset brought back silently."""
        kind = parse_choice(value, WAVE_TYPES)
        if kind not in ("SINE", "DC"):
            raise ScpiError(-221, f"WVTP {kind}: the simulator models SINE and DC only")
        self.state.update(n, function="SIN" if kind == "SINE" else "DC")
        ch = self.state.channel(n)
        if kind == "SINE" and abs(ch.offset_emf) + ch.vpp_emf / 2 > self.state.limits.vpeak_max_emf:
            self.state.update(n, offset_emf=math.copysign(self.state.max_offset_emf(ch), ch.offset_emf))

    def _wave(self, n: int) -> str:
        """``C<n>:BSWV?``: every field of the present wave type, units attached (entry ``BaSic_WaVe``)."""
        ch = self.state.channel(n)
        scale = ch.emf_scale()
        off = ch.offset_emf / scale
        if ch.function == "DC":
            return f"C{n}:BSWV WVTP,DC,OFST,{reply_number(off)}V"
        amp = ch.vpp_emf / scale
        vrms = amp / (2.0 * math.sqrt(2.0))
        r = reply_number
        return (f"C{n}:BSWV WVTP,SINE,FRQ,{r(ch.freq_hz)}HZ,PERI,{r(1.0 / ch.freq_hz)}S,AMP,{r(amp)}V,"
                f"AMPVRMS,{vrms:.4g}Vrms,OFST,{r(off)}V,HLEV,{r(off + amp / 2)}V,LLEV,{r(off - amp / 2)}V,"
                f"PHSE,{r(ch.phase_deg)}")

    # -- output ----------------------------------------------------------------------------------------------------
    def _set_output_fields(self, n: int, p: Params) -> None:
        """``C<n>:OUTP [ON|OFF][,LOAD,<ohm>|HZ][,PLRT,NOR|INVT]`` (entry ``OUTPut``)."""
        rest: Sequence[str] = p
        if rest and rest[0].strip().upper() in ("ON", "OFF"):
            self.state.update(n, output_on=rest[0].strip().upper() == "ON")
            rest = rest[1:]
        for name, value in self._pairs(tuple(rest)):
            if name == "LOAD":
                self._set_load(n, value)
            elif name == "PLRT":
                self.state.update(n, inverted=parse_choice(value, ("NOR", "INVT")) == "INVT")
            else:
                raise ScpiError(-224, f"{name} is not an OUTP field")

    def _set_load(self, n: int, value: str) -> None:
        """``LOAD,HZ`` (High-Z) or ``LOAD,<ohm>`` clamped silently to 50 ... 100 000 Ohm."""
        if value.strip().upper() == "HZ":
            load = math.inf
        else:
            ohm = float(parse_number(value, units=("OHM",)))
            load = min(max(ohm, LIMITS.load_min_ohm), LIMITS.load_max_ohm)
        self.state.update(n, load_ohm=load)

    def _output_reply(self, n: int) -> str:
        """``C<n>:OUTP ON,LOAD,HZ,PLRT,NOR`` (entry ``OUTPut``; a numeric load as a whole number of ohms)."""
        ch = self.state.channel(n)
        load = "HZ" if math.isinf(ch.load_ohm) else reply_number(round(ch.load_ohm, 3))
        return f"C{n}:OUTP {'ON' if ch.output_on else 'OFF'},LOAD,{load},PLRT,{'INVT' if ch.inverted else 'NOR'}"

    def _set_invert(self, n: int, p: Params) -> None:
        """``C<n>:INVT ON|OFF`` (entry ``INVerT``)."""
        expect_params(p, 1)
        self.state.update(n, inverted=parse_bool(p[0]))

    def _set_sync(self, n: int, p: Params) -> None:
        """``C<n>:SYNC ON|OFF[,TYPE,<source>]`` (entry ``SYNC``): kept and answered."""
        state, kind = self.sync[n]
        rest: Sequence[str] = p
        if rest and rest[0].strip().upper() in ("ON", "OFF"):
            state, rest = rest[0].strip().upper(), rest[1:]
        for name, value in self._pairs(tuple(rest)):
            if name != "TYPE":
                raise ScpiError(-224, f"{name} is not a SYNC field")
            kind = parse_choice(value, SYNC_TYPES)
        self.sync[n] = (state, kind)

    def _sync_reply(self, n: int) -> str:
        state, kind = self.sync[n]
        return f"C{n}:SYNC {state},TYPE,{kind}"

    def _state_only(self, short: str) -> Callable[[int, Params], None]:
        """Burst, modulation or sweep: ``STATE,OFF`` is what it is; anything else is refused (module docstring)."""
        def command(n: int, p: Params) -> None:
            for name, value in self._pairs(p):
                if name != "STATE" or parse_bool(value):
                    raise ScpiError(-221, f"{short} {name}: the simulated output is a continuous wave")
        return command

    @staticmethod
    def _state_reply(short: str) -> Callable[[int], str]:
        """``C<n>:BTWV STATE,OFF`` (and MDWV, SWWV)."""
        return lambda n: f"C{n}:{short} STATE,OFF"

    # -- across channels ---------------------------------------------------------------------------------------------
    def _set_phase_mode(self, p: Params) -> None:
        """``MODE PHASE-LOCKED|INDEPENDENT`` (``PHASELOCKED`` accepted too, module docstring)."""
        expect_params(p, 1)
        word = p[0].strip().upper()
        if word == "PHASELOCKED":
            word = "PHASE-LOCKED"
        if word not in PHASE_MODES:
            raise ScpiError(-224, f"MODE {p[0][:20]}")
        self.phase_mode = word

    def _eqphase(self, p: Params) -> None:
        """``EQPHASE``: align both channels' phase, in phase-locked mode (module docstring)."""
        expect_params(p, 0)
        if self.phase_mode == "PHASE-LOCKED":
            self.state.phase_align()

    def _set_coupling(self, p: Params) -> None:
        """``COUP TRACE,ON|OFF``; the other couplings on are refused (not simulated), off is accepted."""
        expect_params(p, 1, 64)
        for name, value in self._pairs(p):
            if name == "TRACE":
                self.state.set_track("ON" if parse_bool(value) else "OFF")
            elif name in ("FCOUP", "PCOUP", "ACOUP", "TRDUCH"):
                if parse_bool(value):
                    raise ScpiError(-221, f"COUP {name}: not simulated")
            elif name in ("FDEV", "FRAT", "PDEV", "PRAT", "ADEV", "ARAT"):
                raise ScpiError(-221, f"COUP {name}: not simulated")
            else:
                raise ScpiError(-224, f"{name} is not a COUP field")

    def _coupling_reply(self) -> str:
        if self.state.track != "OFF":
            return "COUP TRACE,ON"
        return "COUP TRACE,OFF,FCOUP,OFF,PCOUP,OFF,ACOUP,OFF"


def make_state(sim: Mapping[str, object], seed: int = 0) -> GeneratorState:
    """The generator state of a bench's ``[sim]`` section with this family's limits and defaults."""
    return GeneratorState.from_sim(LIMITS, DEFAULTS, sim, seed)


def make_generator(sim: Mapping[str, object], seed: int = 0) -> SiglentSDG:
    """The simulated instrument a bench's ``[sim]`` section describes (:mod:`instruments.sim.bench`)."""
    return SiglentSDG(make_state(sim, seed))

