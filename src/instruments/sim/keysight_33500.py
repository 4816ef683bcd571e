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

    *IDN? *RST *CLS *OPC *OPC? *WAI *ESR? *ESE(?) *SRE(?) *STB? *TST?  SYSTem:ERRor[:NEXT]?
    [SOURce#:]FUNCtion[:SHAPe](?)          [SOURce#:]FREQuency[:FIXed](?) [MIN|MAX|DEF]
    [SOURce#:]VOLTage[:LEVel][:IMMediate][:AMPLitude](?)   [SOURce#:]VOLTage:UNIT(?)
    [SOURce#:]VOLTage[:LEVel][:IMMediate]:OFFSet(?)  :HIGH(?)  :LOW(?)
    [SOURce#:]VOLTage:RANGe:AUTO(?)        [SOURce#:]PHASe[:ADJust](?)   UNIT:ANGLe(?)
    [SOURce#:]PHASe:SYNChronize            [SOURce#:]TRACk(?)            [SOURce#:]APPLy:SINusoid|DC
    [SOURce#:]APPLy?                       OUTPut#[:STATe](?)  OUTPut#:LOAD(?)  OUTPut#:POLarity(?)
    [SOURce#:]BURSt:STATe(?) SWEep:STATe(?) AM:STATe(?) FM:STATe(?) PM:STATe(?) FREQuency:MODE(?)
    TRIGger#:SOURce(?)  OUTPut#:SYNC(?)

Burst, sweep and modulation are answerable and can be set OFF; ON (or a LIST/SWEep frequency mode) is refused
with -221, since the simulated output is a continuous sine. ``FREQuency:MODE?`` answers ``CW`` ([L]: the guide
lists CW and FIXed as one mode; which of the two the query names was not confirmed).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from .generator_device import FUNCTIONS, GeneratorDevice, GeneratorFamily, channel_query
from .generator_state import ChannelState, GeneratorLimits, GeneratorState
from .scpi_device import CommandRow, Context, Dialect, suffixed_command, suffixed_query
from .scpi_parser import Params, ScpiError, Suffixes, expect_params, parse_choice

IDN = "Agilent Technologies,33522B,MY52800000,3.05-1.19-2.00-52-00"
#: states a bench script reads to know the output is a plain continuous sine (33500 Series Operating and
#: Service Guide, SCPI subsystems BURSt, SWEep, AM, FM, PM, FREQuency:MODE, TRIGger, OUTPut:SYNC): spelling,
#: accepted values, *RST value. Booleans answer 0/1; TRIGger:SOURce answers the short form (IMM).
MODE_SPELLINGS = {"BURST": "[SOURce#:]BURSt:STATe", "SWEEP": "[SOURce#:]SWEep:STATe", "AM": "[SOURce#:]AM:STATe",
                  "FM": "[SOURce#:]FM:STATe", "PM": "[SOURce#:]PM:STATe", "FMODE": "[SOURce#:]FREQuency:MODE",
                  "TRIG": "TRIGger#:SOURce", "SYNC": "OUTPut#:SYNC"}
_ON_OFF = ("ON", "OFF", "1", "0")
MODE_CHOICES = {"BURST": _ON_OFF, "SWEEP": _ON_OFF, "AM": _ON_OFF, "FM": _ON_OFF, "PM": _ON_OFF,
                "FMODE": ("CW", "FIXed", "LIST", "SWEep"), "TRIG": ("IMMediate", "EXTernal", "TIMer", "BUS"),
                "SYNC": _ON_OFF}
MODE_DEFAULTS = {"BURST": "OFF", "SWEEP": "OFF", "AM": "OFF", "FM": "OFF", "PM": "OFF", "FMODE": "CW",
                 "TRIG": "IMM", "SYNC": "ON"}
LIMITS = GeneratorLimits(freq_min_hz=1e-6, freq_max_hz=30e6)
DEFAULTS = ChannelState(function="SIN", freq_hz=1e3, vpp_emf=0.2, offset_emf=0.0, load_ohm=50.0)
FAMILY = GeneratorFamily(number=lambda v: f"{v:+.14E}", strict=True, phase_range_deg=(-360.0, 360.0),
                         functions=FUNCTIONS[:9], high_z_reply="+9.9E+37")
DIALECT = Dialect(idn=IDN, signed_integers=True)


class Keysight33500(GeneratorDevice):
    """The 33522B dialect over a shared :class:`GeneratorState`."""

    def __init__(self, state: GeneratorState, idn: str = IDN) -> None:
        super().__init__(Dialect(idn=idn, signed_integers=True), FAMILY, state)
        self.angle_unit = "DEGREE"
        self.range_auto = {1: "ON", 2: "ON"}
        self.modes = {n: dict(MODE_DEFAULTS) for n in (1, 2)}
        self.register(self.commands())

    def reset(self) -> None:
        """``*RST`` (also resets the angle unit to degrees)."""
        super().reset()
        self.angle_unit = "DEGREE"
        self.range_auto = {1: "ON", 2: "ON"}
        self.modes = {n: dict(MODE_DEFAULTS) for n in (1, 2)}

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
            *[CommandRow(spelling, set_(partial(self._set_mode, key)), get(partial(self._mode, key)))
              for key, spelling in MODE_SPELLINGS.items()],
        ]

    # -- handlers that are specific to the 33500 -------------------------------------------------
    def _set_mode(self, key: str, n: int, param: str) -> None:
        """A burst/sweep/modulation state, the frequency mode, the trigger source or the sync output. The
        simulated generator makes continuous sines only: a state that would change its output (burst, sweep or
        a modulation on, a list or sweep frequency mode) is refused with -221 and left as it was."""
        choices = MODE_CHOICES[key]
        value = parse_choice(param, choices)
        value = {"1": "ON", "0": "OFF", "FIXED": "CW"}.get(value, value)
        if key not in ("SYNC", "TRIG") and value not in ("OFF", "CW"):
            raise ScpiError(-221, f"Settings conflict; {MODE_SPELLINGS[key]} {value} is not simulated")
        self.modes[n][key] = value

    def _mode(self, key: str, n: int) -> str:
        value = self.modes[n][key]
        return {"ON": "1", "OFF": "0"}.get(value, value)

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
