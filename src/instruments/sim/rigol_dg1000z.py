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

    *IDN? *RST *CLS *OPC *OPC? *WAI *ESR? *ESE(?) *SRE(?) *STB? *TST?  :SYSTem:ERRor[:NEXT]?
    [:SOURce#]:FUNCtion[:SHAPe](?)        [:SOURce#]:FREQuency[:FIXed](?) [MIN|MAX]
    [:SOURce#]:VOLTage[:LEVel][:IMMediate][:AMPLitude](?)   [:SOURce#]:VOLTage:UNIT(?)
    [:SOURce#]:VOLTage[:LEVel][:IMMediate]:OFFSet(?)  :HIGH(?)  :LOW(?)
    [:SOURce#]:PHASe[:ADJust](?)          [:SOURce#]:PHASe:INITiate  [:SOURce#]:PHASe:SYNChronize
    [:SOURce#]:TRACK(?)                   [:SOURce#]:APPLy:SINusoid|DC   [:SOURce#]:APPLy?
    :OUTPut#[:STATe](?)  :OUTPut#:IMPedance(?) = :OUTPut#:LOAD(?)  :OUTPut#:POLarity(?)
    [:SOURce#]:BURSt[:STATe](?)  [:SOURce#]:SWEep:STATe(?)  [:SOURce#]:MOD[:STATe](?)
    :OUTPut#:SYNC[:STATe](?)  :OUTPut#:GATe:POLarity(?)

Burst, sweep and modulation answer OFF and can be set OFF; ON is refused with -221 (the simulated output is a
continuous sine).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from .generator_device import FUNCTIONS, GeneratorDevice, GeneratorFamily, channel_query
from .generator_state import ChannelState, GeneratorLimits, GeneratorState
from .scpi_device import CommandRow, Context, Dialect, suffixed_command, suffixed_query
from .scpi_parser import Params, ScpiError, Suffixes, expect_params, parse_choice

IDN = "Rigol Technologies,DG1062Z,DG1ZA00000000,00.01.14"
LIMITS = GeneratorLimits(freq_min_hz=1e-6, freq_max_hz=60e6)
DEFAULTS = ChannelState(function="SIN", freq_hz=1e3, vpp_emf=10.0, offset_emf=0.0, load_ohm=50.0)
FAMILY = GeneratorFamily(number=lambda v: f"{v:.6E}", strict=False, phase_range_deg=(0.0, 360.0),
                         functions=FUNCTIONS, high_z_reply="9.900000E+37")
ERROR_TEXTS = {-113: "Undefined header; keyword cannot be found"}
APPLY_DEFAULTS = ("1000", "5", "0", "0")  # freq Hz, amplitude Vpp, offset V, phase deg (§3.2)
#: states a bench script reads to know the output is a plain continuous sine (DG1000Z Programming Guide,
#: :SOURce:BURSt, :SOURce:SWEep, :SOURce:MOD, :OUTPut:SYNC, :OUTPut:GATe:POLarity): spelling, accepted
#: values, *RST value; they answer ON/OFF, the polarity NORMal/INVerted in short form ([L])
MODE_SPELLINGS = {"BURST": "[SOURce#:]BURSt[:STATe]", "SWEEP": "[SOURce#:]SWEep:STATe",
                  "MOD": "[SOURce#:]MOD[:STATe]", "SYNC": "OUTPut#:SYNC[:STATe]", "GATE": "OUTPut#:GATe:POLarity"}
_ON_OFF = ("ON", "OFF", "1", "0")
MODE_CHOICES = {"BURST": _ON_OFF, "SWEEP": _ON_OFF, "MOD": _ON_OFF, "SYNC": _ON_OFF,
                "GATE": ("NORMal", "INVerted")}
MODE_DEFAULTS = {"BURST": "OFF", "SWEEP": "OFF", "MOD": "OFF", "SYNC": "ON", "GATE": "NORM"}


class RigolDG1000Z(GeneratorDevice):
    """The DG1062Z dialect over a shared :class:`GeneratorState`."""

    track_mnemonic = "TRACK"
    track_replies = {"INV": "INVERTED"}  # docs/reference/scpi.md §3.2: the query answers the long form

    def __init__(self, state: GeneratorState, idn: str = IDN) -> None:
        super().__init__(Dialect(idn=idn, signed_integers=False, error_texts=ERROR_TEXTS), FAMILY, state)
        self.modes = {n: dict(MODE_DEFAULTS) for n in (1, 2)}
        self.register(self.commands())

    def reset(self) -> None:
        """``*RST`` (also burst, sweep and modulation off, sync on)."""
        super().reset()
        self.modes = {n: dict(MODE_DEFAULTS) for n in (1, 2)}

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
            *[CommandRow(spelling, set_(partial(self._set_mode, key)), get(partial(self._mode, key)))
              for key, spelling in MODE_SPELLINGS.items()],
        ]

    def _set_mode(self, key: str, n: int, param: str) -> None:
        """Burst, sweep or modulation state, sync output or gate polarity. The simulated output is a continuous
        sine: burst, sweep or modulation ON is refused with -221 and left OFF."""
        value = parse_choice(param, MODE_CHOICES[key])
        value = {"1": "ON", "0": "OFF", "INVERTED": "INV", "NORMAL": "NORM"}.get(value, value)
        if key in ("BURST", "SWEEP", "MOD") and value == "ON":
            raise ScpiError(-221, f"Settings conflict; {MODE_SPELLINGS[key]} ON is not simulated")
        self.modes[n][key] = value

    def _mode(self, key: str, n: int) -> str:
        return self.modes[n][key]

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
