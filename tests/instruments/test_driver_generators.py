"""Protocol tests of what every function-generator family does alike, each family with its own bytes:
Keysight 33500 (docs/reference/scpi.md §3.1), Rigol DG (§3.2), Siglent SDG (§3.3), Tektronix AFG (§3.4).

One test per behaviour of the interface (``instruments.generator``), one row per family; what only one family
does (tracking, model quirks, reply parsing) is in that family's ``test_driver_<family>.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from test_driver_siglent_sdg import bswv

from instruments.errors import InstrumentConnectionError, InstrumentError, InstrumentTimeout
from instruments.generator import ChannelState, FunctionGenerator, GeneratorLimits
from instruments.keysight_33500 import Keysight33500
from instruments.rigol_dg1000z import RigolDG1000Z
from instruments.siglent_sdg import SiglentSDG
from instruments.tektronix_afg31000 import TektronixAFG31000
from protocol import Family, connection_lost, raises_with, visa_timeout

KEYSIGHT = Family(Keysight33500, "generator Keysight 33522B at TCPIP0::10.0.0.5::5025::SOCKET",
                  ("SYST:ERR?", '+0,"No error"'))
RIGOL = Family(RigolDG1000Z, "generator RIGOL DG1062Z at TCPIP0::10.0.0.7::5555::SOCKET",
               (":SYST:ERR?", '0,"No error"'))
SIGLENT = Family(SiglentSDG, "generator Siglent SDG2042X at TCPIP0::10.0.0.9::5025::SOCKET")  # no error queue
TEK = Family(TektronixAFG31000, "generator TEKTRONIX AFG31022 at TCPIP0::10.0.0.11::5025::SOCKET",
             ("SYST:ERR?", '0,"No error"'))
K_OK, R_OK, T_OK = KEYSIGHT.drain[0], RIGOL.drain[0], TEK.drain[0]

Action = Callable[[FunctionGenerator], Any]


# -- set_sine: amplitude and offset in the order that stays legal (§2.3) ------------------------------------
@pytest.mark.parametrize("family, action, exchanges", [
    KEYSIGHT.case("growing amplitude sets offset first", lambda g: g.set_sine(1, 1000.0, 4.0, 2.5), [
        ("SOUR1:FUNC SIN", None), K_OK,
        ("SOUR1:VOLT:UNIT VPP", None), K_OK,
        ("SOUR1:FREQ 1000", None), K_OK,
        ("SOUR1:VOLT?", "+1.000000000000000E-01"),
        ("SOUR1:VOLT:OFFS 2.5", None), K_OK,
        ("SOUR1:VOLT 4", None), K_OK,
        ("UNIT:ANGL DEG", None), K_OK,
        ("SOUR1:PHAS 0", None), K_OK]),
    KEYSIGHT.case("shrinking amplitude sets amplitude first", lambda g: g.set_sine(2, 12345.678, 0.2, -4.0, 180.0), [
        ("SOUR2:FUNC SIN", None), K_OK,
        ("SOUR2:VOLT:UNIT VPP", None), K_OK,
        ("SOUR2:FREQ 12345.678", None), K_OK,
        ("SOUR2:VOLT?", "+8.000000000000000E+00"),
        ("SOUR2:VOLT 0.2", None), K_OK,
        ("SOUR2:VOLT:OFFS -4", None), K_OK,
        ("UNIT:ANGL DEG", None), K_OK,
        ("SOUR2:PHAS 180", None), K_OK]),
    RIGOL.case("growing amplitude sets offset first and reads everything back",
               lambda g: g.set_sine(1, 1000.0, 2.0, 1.0), [
        (":SOUR1:FUNC SIN", None), R_OK,
        (":SOUR1:VOLT:UNIT VPP", None), R_OK,
        (":SOUR1:FREQ 1000", None), R_OK, (":SOUR1:FREQ?", "1.000000E+03"),
        (":SOUR1:VOLT?", "5.000000E-01"),
        (":SOUR1:VOLT:OFFS 1", None), R_OK, (":SOUR1:VOLT:OFFS?", "1.000000E+00"),
        (":SOUR1:VOLT 2", None), R_OK, (":SOUR1:VOLT?", "2.000000E+00"),
        (":SOUR1:PHAS 0", None), R_OK, (":SOUR1:PHAS?", "0.000000E+00")]),
    RIGOL.case("shrinking amplitude sets amplitude first", lambda g: g.set_sine(2, 20e3, 0.1, -2.0, 180.0), [
        (":SOUR2:FUNC SIN", None), R_OK,
        (":SOUR2:VOLT:UNIT VPP", None), R_OK,
        (":SOUR2:FREQ 20000", None), R_OK, (":SOUR2:FREQ?", "2.000000E+04"),
        (":SOUR2:VOLT?", "5.000000E+00"),
        (":SOUR2:VOLT 0.1", None), R_OK, (":SOUR2:VOLT?", "1.000000E-01"),
        (":SOUR2:VOLT:OFFS -2", None), R_OK, (":SOUR2:VOLT:OFFS?", "-2.000000E+00"),
        (":SOUR2:PHAS 180", None), R_OK, (":SOUR2:PHAS?", "1.800000E+02")]),
    SIGLENT.case("growing amplitude sends offset before amplitude", lambda g: g.set_sine(1, 1000.0, 2.0, 1.0), [
        ("C1:BSWV?", bswv(1, amp="0.1V")),
        ("C1:BSWV WVTP,SINE,FRQ,1000,OFST,1,AMP,2,PHSE,0", None),
        ("C1:BSWV?", bswv(1, amp="2V", ofst="1V"))]),
    SIGLENT.case("shrinking amplitude sends amplitude first", lambda g: g.set_sine(2, 50e3, 0.2, -3.0, 180.0), [
        ("C2:BSWV?", bswv(2, amp="8V")),
        ("C2:BSWV WVTP,SINE,FRQ,50000,AMP,0.2,OFST,-3,PHSE,180", None),
        ("C2:BSWV?", bswv(2, frq="50000HZ", amp="0.2V", ofst="-3V", phse="180"))]),
    TEK.case("growing amplitude sets offset first", lambda g: g.set_sine(1, 1000.0, 3.0, 1.0), [
        ("SOUR1:FUNC SIN", None), T_OK,
        ("SOUR1:VOLT:UNIT VPP", None), T_OK,
        ("SOUR1:FREQ 1000", None), T_OK,
        ("SOUR1:VOLT?", "1.0000E-1"),
        ("SOUR1:VOLT:OFFS 1", None), T_OK,
        ("SOUR1:VOLT 3", None), T_OK,
        ("SOUR1:PHAS 0DEG", None), T_OK]),
    TEK.case("shrinking amplitude and phase 180", lambda g: g.set_sine(2, 250e3, 0.5, 0.0, 180.0), [
        ("SOUR2:FUNC SIN", None), T_OK,
        ("SOUR2:VOLT:UNIT VPP", None), T_OK,
        ("SOUR2:FREQ 250000", None), T_OK,
        ("SOUR2:VOLT?", "5.0000E+0"),
        ("SOUR2:VOLT 0.5", None), T_OK,
        ("SOUR2:VOLT:OFFS 0", None), T_OK,
        ("SOUR2:PHAS 180DEG", None), T_OK]),
])
def test_set_sine_orders_amplitude_and_offset(family: Family, action: Action, exchanges: list) -> None:
    with family.protocol(exchanges) as g:
        action(g)


# -- one setting each ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("family, action, exchanges", [
    KEYSIGHT.case("dc", lambda g: g.set_dc(1, 1.25),
                  [("SOUR1:FUNC DC", None), K_OK, ("SOUR1:VOLT:OFFS 1.25", None), K_OK]),
    KEYSIGHT.case("frequency", lambda g: g.set_frequency(2, 1e6), [("SOUR2:FREQ 1000000", None), K_OK]),
    KEYSIGHT.case("amplitude sets vpp unit first", lambda g: g.set_amplitude(1, 1e-3),
                  [("SOUR1:VOLT:UNIT VPP", None), K_OK, ("SOUR1:VOLT 0.001", None), K_OK]),
    KEYSIGHT.case("offset", lambda g: g.set_offset(2, -0.5), [("SOUR2:VOLT:OFFS -0.5", None), K_OK]),
    KEYSIGHT.case("phase wraps into 0-360 and sets degrees", lambda g: g.set_phase(2, -90.0),
                  [("UNIT:ANGL DEG", None), K_OK, ("SOUR2:PHAS 270", None), K_OK]),
    KEYSIGHT.case("load 50 ohm", lambda g: g.set_load(1, 50.0), [("OUTP1:LOAD 50", None), K_OK]),
    KEYSIGHT.case("load high-Z", lambda g: g.set_load(2, math.inf), [("OUTP2:LOAD INF", None), K_OK]),
    KEYSIGHT.case("output on", lambda g: g.set_output(1, True), [("OUTP1 ON", None), K_OK]),
    KEYSIGHT.case("output off", lambda g: g.set_output(1, False), [("OUTP1 OFF", None), K_OK]),
    KEYSIGHT.case("sync phase", lambda g: g.sync_phase(), [("PHAS:SYNC", None), K_OK]),
    RIGOL.case("dc", lambda g: g.set_dc(1, 2.5), [(":SOUR1:FUNC DC", None), R_OK,
                                                  (":SOUR1:VOLT:OFFS 2.5", None), R_OK,
                                                  (":SOUR1:VOLT:OFFS?", "2.500000E+00")]),
    RIGOL.case("frequency accepts seven-digit rounding", lambda g: g.set_frequency(1, 1234.5678),
               [(":SOUR1:FREQ 1234.5678", None), R_OK, (":SOUR1:FREQ?", "1.234568E+03")]),
    RIGOL.case("amplitude sets vpp unit first", lambda g: g.set_amplitude(2, 0.25),
               [(":SOUR2:VOLT:UNIT VPP", None), R_OK, (":SOUR2:VOLT 0.25", None), R_OK,
                (":SOUR2:VOLT?", "2.500000E-01")]),
    RIGOL.case("offset", lambda g: g.set_offset(1, -0.75),
               [(":SOUR1:VOLT:OFFS -0.75", None), R_OK, (":SOUR1:VOLT:OFFS?", "-7.500000E-01")]),
    RIGOL.case("phase wraps into 0-360", lambda g: g.set_phase(2, -90.0),
               [(":SOUR2:PHAS 270", None), R_OK, (":SOUR2:PHAS?", "2.700000E+02")]),
    RIGOL.case("load 50 ohm", lambda g: g.set_load(1, 50.0),
               [(":OUTP1:IMP 50", None), R_OK, (":OUTP1:IMP?", "5.000000E+01")]),
    RIGOL.case("load high-Z", lambda g: g.set_load(2, math.inf),
               [(":OUTP2:IMP INF", None), R_OK, (":OUTP2:IMP?", "9.900000E+37")]),
    RIGOL.case("output on reads the state back", lambda g: g.set_output(1, True),
               [(":OUTP1 ON", None), R_OK, (":OUTP1?", "ON")]),
    RIGOL.case("output off reads the state back", lambda g: g.set_output(1, False),
               [(":OUTP1 OFF", None), R_OK, (":OUTP1?", "OFF")]),
    SIGLENT.case("dc", lambda g: g.set_dc(1, 1.5),
                 [("C1:BSWV WVTP,DC,OFST,1.5", None), ("C1:BSWV?", "C1:BSWV WVTP,DC,OFST,1.5V")]),
    SIGLENT.case("frequency", lambda g: g.set_frequency(2, 123456.789),
                 [("C2:BSWV FRQ,123456.789", None), ("C2:BSWV?", bswv(2, frq="123456.789HZ"))]),
    SIGLENT.case("amplitude", lambda g: g.set_amplitude(1, 0.5),
                 [("C1:BSWV AMP,0.5", None), ("C1:BSWV?", bswv(1, amp="0.5V"))]),
    SIGLENT.case("offset", lambda g: g.set_offset(2, -0.25),
                 [("C2:BSWV OFST,-0.25", None), ("C2:BSWV?", bswv(2, ofst="-0.25V"))]),
    SIGLENT.case("phase wraps into 0-360", lambda g: g.set_phase(2, -90.0),
                 [("C2:BSWV PHSE,270", None), ("C2:BSWV?", bswv(2, phse="270"))]),
    SIGLENT.case("load high-Z", lambda g: g.set_load(1, math.inf),
                 [("C1:OUTP LOAD,HZ", None), ("C1:OUTP?", "C1:OUTP OFF,LOAD,HZ,PLRT,NOR")]),
    SIGLENT.case("load 50 ohm", lambda g: g.set_load(2, 50.0),
                 [("C2:OUTP LOAD,50", None), ("C2:OUTP?", "C2:OUTP ON,LOAD,50,PLRT,NOR,POWERON_STATE,OFF")]),
    SIGLENT.case("output on reads back", lambda g: g.set_output(1, True),
                 [("C1:OUTP ON", None), ("C1:OUTP?", "C1:OUTP ON,LOAD,HZ,PLRT,NOR")]),
    SIGLENT.case("output off reads back", lambda g: g.set_output(1, False),
                 [("C1:OUTP OFF", None), ("C1:OUTP?", "C1:OUTP OFF,LOAD,HZ,PLRT,NOR")]),
    SIGLENT.case("sync phase sets phase-locked mode then eqphase", lambda g: g.sync_phase(),
                 [("MODE PHASE-LOCKED", None), ("MODE?", "MODE PHASE-LOCKED"), ("EQPHASE", None)]),
    TEK.case("dc", lambda g: g.set_dc(2, -2.0), [("SOUR2:FUNC DC", None), T_OK, ("SOUR2:VOLT:OFFS -2", None), T_OK]),
    TEK.case("frequency", lambda g: g.set_frequency(1, 0.5), [("SOUR1:FREQ 0.5", None), T_OK]),
    TEK.case("amplitude sets vpp unit first", lambda g: g.set_amplitude(2, 1.5),
             [("SOUR2:VOLT:UNIT VPP", None), T_OK, ("SOUR2:VOLT 1.5", None), T_OK]),
    TEK.case("offset", lambda g: g.set_offset(1, 0.125), [("SOUR1:VOLT:OFFS 0.125", None), T_OK]),
    TEK.case("load 50 ohm", lambda g: g.set_load(1, 50.0), [("OUTP1:IMP 50", None), T_OK]),
    TEK.case("load high-Z", lambda g: g.set_load(2, math.inf), [("OUTP2:IMP INF", None), T_OK]),
    TEK.case("output on", lambda g: g.set_output(2, True), [("OUTP2 ON", None), T_OK]),
    TEK.case("output off", lambda g: g.set_output(2, False), [("OUTP2 OFF", None), T_OK]),
    TEK.case("sync phase", lambda g: g.sync_phase(), [("SOUR1:PHAS:INIT", None), T_OK]),
])
def test_setting(family: Family, action: Action, exchanges: list) -> None:
    with family.protocol(exchanges) as g:
        action(g)


@pytest.mark.parametrize("family", [KEYSIGHT.case("zero"), RIGOL.case("zero"), SIGLENT.case("zero"),
                                    TEK.case("zero")])
def test_set_load_rejects_non_positive_without_io(family: Family) -> None:
    with family.protocol([]) as g, pytest.raises(ValueError, match="load must be > 0"):
        g.set_load(1, 0.0)


# -- reading back -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("family, channel, exchanges, state", [
    # the units in one checked step (one error read), then the seven queries as one compound message
    KEYSIGHT.case("sine", 1, [("SOUR1:VOLT:UNIT VPP", None), ("UNIT:ANGL DEG", None), K_OK,
                              ("SOUR1:FUNC?;:SOUR1:FREQ?;:SOUR1:VOLT?;:SOUR1:VOLT:OFFS?;:SOUR1:PHAS?;"
                               ":OUTP1:LOAD?;:OUTP1?",
                               "SIN;+1.000000000000000E+03;+2.000000000000000E+00;+5.000000000000000E-01;"
                               "+1.800000000000000E+02;+5.000000000000000E+01;1")],
                  ChannelState("sine", 1000.0, 2.0, 0.5, 180.0, 50.0, True)),
    RIGOL.case("sine", 1, [(":SOUR1:VOLT:UNIT VPP", None), R_OK,
                           (":SOUR1:FUNC?", "SIN"),
                           (":SOUR1:FREQ?", "1.000000E+03"),
                           (":SOUR1:VOLT?", "2.000000E+00"),
                           (":SOUR1:VOLT:OFFS?", "0.000000E+00"),
                           (":SOUR1:PHAS?", "9.000000E+01"),
                           (":OUTP1:IMP?", "9.900000E+37"),
                           (":OUTP1?", "ON")],
               ChannelState("sine", 1000.0, 2.0, 0.0, 90.0, math.inf, True)),
    SIGLENT.case("sine", 1, [("C1:BSWV?", bswv(1, frq="1000HZ", amp="2V", ofst="0.5V", phse="90")),
                             ("C1:OUTP?", "C1:OUTP ON,LOAD,HZ,PLRT,NOR")],
                 ChannelState("sine", 1000.0, 2.0, 0.5, 90.0, math.inf, True)),
    TEK.case("converts the radian phase reply", 1, [("SOUR1:VOLT:UNIT VPP", None), T_OK,
                                                    ("SOUR1:FUNC?", "SIN"),
                                                    ("SOUR1:FREQ?", "1.0000000000E+3"),
                                                    ("SOUR1:VOLT?", "2.0000E+0"),
                                                    ("SOUR1:VOLT:OFFS?", "0.0000E+0"),
                                                    ("SOUR1:PHAS?", "3.1416"),
                                                    ("OUTP1:IMP?", "9.9E+37"),
                                                    ("OUTP1?", "1")],
             ChannelState("sine", 1000.0, 2.0, 0.0, pytest.approx(180.0, abs=1e-3), math.inf, True)),
])
def test_channel_state(family: Family, channel: int, exchanges: list, state: ChannelState) -> None:
    with family.protocol(exchanges) as g:
        assert g.channel_state(channel) == state


@pytest.mark.parametrize("family, channel, exchanges, limits", [
    KEYSIGHT.case("queries min max", 1, [("SOUR1:FUNC?", "SIN"),
                                         ("SOUR1:VOLT:UNIT VPP", None), K_OK,
                                         ("SOUR1:VOLT? MIN", "+2.000000000000000E-03"),
                                         ("SOUR1:VOLT? MAX", "+2.000000000000000E+01"),
                                         ("SOUR1:VOLT:OFFS? MAX", "+9.500000000000000E+00"),
                                         ("SOUR1:FREQ? MAX", "+3.000000000000000E+07")],
                  GeneratorLimits(2e-3, 20.0, 9.5, 30e6)),
    RIGOL.case("queries min max", 2, [(":SOUR2:FUNC?", "SIN"),
                                      (":SOUR2:VOLT:UNIT VPP", None), R_OK,
                                      (":SOUR2:VOLT? MIN", "2.000000E-03"),
                                      (":SOUR2:VOLT? MAX", "2.000000E+01"),
                                      (":SOUR2:VOLT:OFFS? MAX", "9.000000E+00"),
                                      (":SOUR2:FREQ? MAX", "6.000000E+07")],
               GeneratorLimits(2e-3, 20.0, 9.0, 60e6)),
    TEK.case("queries min max", 1, [("SOUR1:FUNC?", "SIN"),
                                    ("SOUR1:VOLT:UNIT VPP", None), T_OK,
                                    ("SOUR1:VOLT? MIN", "1.0E-3"),
                                    ("SOUR1:VOLT? MAX", "1.0E+1"),
                                    ("SOUR1:VOLT:OFFS? MAX", "4.5E+0"),
                                    ("SOUR1:FREQ? MAX", "2.5E+7")],
             GeneratorLimits(1e-3, 10.0, 4.5, 25e6)),
])
def test_limits(family: Family, channel: int, exchanges: list, limits: GeneratorLimits) -> None:
    with family.protocol(exchanges) as g:
        assert g.limits(channel) == limits


@pytest.mark.parametrize("family, channel, exchanges, match", [
    KEYSIGHT.case("dc", 2, [("SOUR2:FUNC?", "DC")], "call set_sine first"),
    RIGOL.case("dc", 1, [(":SOUR1:FUNC?", "DC")], "call set_sine first"),
    SIGLENT.case("dc", 1, [("C1:BSWV?", "C1:BSWV WVTP,DC,OFST,1V")], "set_sine"),
    TEK.case("square", 1, [("SOUR1:FUNC?", "SQU")], "SQU"),
])
def test_limits_refuse_a_channel_that_is_not_a_sine(family: Family, channel: int, exchanges: list,
                                                    match: str) -> None:
    with family.protocol(exchanges) as g, pytest.raises(InstrumentError, match=match):
        g.limits(channel)


# -- across channels ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("family, methods", [
    KEYSIGHT.case("tracking and phase", ("tracking-inverted", "phase-180")),
    RIGOL.case("tracking and phase", ("tracking-inverted", "phase-180")),
    SIGLENT.case("phase and polarity", ("phase-180", "polarity-inverted")),
    TEK.case("phase only", ("phase-180",)),
])
def test_differential_methods(family: Family, methods: tuple[str, ...]) -> None:
    assert family.driver.differential_methods == methods


@pytest.mark.parametrize("family, exchanges", [
    KEYSIGHT.case("both", [("OUTP1 OFF", None), K_OK, ("OUTP2 OFF", None), K_OK]),
    RIGOL.case("both", [(":OUTP1 OFF", None), R_OK, (":OUTP1?", "OFF"),
                        (":OUTP2 OFF", None), R_OK, (":OUTP2?", "OFF")]),
    SIGLENT.case("both", [("C1:OUTP OFF", None), ("C1:OUTP?", "C1:OUTP OFF,LOAD,HZ,PLRT,NOR"),
                          ("C2:OUTP OFF", None), ("C2:OUTP?", "C2:OUTP OFF,LOAD,HZ,PLRT,NOR")]),
    TEK.case("both", [("OUTP1 OFF", None), T_OK, ("OUTP2 OFF", None), T_OK]),
])
def test_outputs_off(family: Family, exchanges: list) -> None:
    with family.protocol(exchanges) as g:
        g.outputs_off()


@pytest.mark.parametrize("family, exchanges, match", [
    KEYSIGHT.case("queue overflow", [("OUTP1 OFF", None), ("SYST:ERR?", '-350,"Queue overflow"'), K_OK,
                                     ("OUTP2 OFF", None), K_OK], "OUTP1 OFF"),
    RIGOL.case("undefined header", [(":OUTP1 OFF", None), (":SYST:ERR?", '-113,"Undefined header"'), R_OK,
                                    (":OUTP2 OFF", None), R_OK, (":OUTP2?", "OFF")], "Undefined header"),
    SIGLENT.case("still on", [("C1:OUTP OFF", None), ("C1:OUTP?", "C1:OUTP ON,LOAD,HZ,PLRT,NOR"),
                              ("C2:OUTP OFF", None), ("C2:OUTP?", "C2:OUTP OFF,LOAD,HZ,PLRT,NOR")], "C1:OUTP OFF"),
    TEK.case("execution error", [("OUTP1 OFF", None), ("SYST:ERR?", '-200,"Execution error"'), T_OK,
                                 ("OUTP2 OFF", None), T_OK], "Execution error"),
])
def test_outputs_off_tries_channel_2_when_channel_1_fails(family: Family, exchanges: list, match: str) -> None:
    with family.protocol(exchanges) as g:
        with pytest.raises(InstrumentError, match=match):
            g.outputs_off()


# -- a setting refused or not kept --------------------------------------------------------------------------
@pytest.mark.parametrize("family, action, exchanges, fragments", [
    KEYSIGHT.case("error queue", lambda g: g.set_amplitude(1, 25.0), [
        ("SOUR1:VOLT:UNIT VPP", None), K_OK,
        ("SOUR1:VOLT 25", None), ("SYST:ERR?", '-222,"Data out of range;value clipped to upper limit"'), K_OK],
        [KEYSIGHT.label, "SOUR1:VOLT 25", "Data out of range", "-222"]),
    RIGOL.case("error queue", lambda g: g.set_sine(1, 1e3, 1.0, 0.0), [
        (":SOUR1:FUNC SIN", None), (":SYST:ERR?", '-113,"Undefined header; keyword cannot be found"'), R_OK],
        [RIGOL.label, ":SOUR1:FUNC SIN", "Undefined header; keyword cannot be found"]),
    RIGOL.case("silently clamped amplitude", lambda g: g.set_amplitude(1, 30.0), [
        (":SOUR1:VOLT:UNIT VPP", None), R_OK,
        (":SOUR1:VOLT 30", None), R_OK, (":SOUR1:VOLT?", "2.000000E+01")],
        [RIGOL.label, ":SOUR1:VOLT 30", "asked 30", "kept 20"]),
    RIGOL.case("silently clamped frequency", lambda g: g.set_frequency(1, 100e6), [
        (":SOUR1:FREQ 100000000", None), R_OK, (":SOUR1:FREQ?", "6.000000E+07")],
        ["frequency (Hz): asked 1e+08, the instrument kept 6e+07"]),
    RIGOL.case("load clamped", lambda g: g.set_load(1, 20e3), [
        (":OUTP1:IMP 20000", None), R_OK, (":OUTP1:IMP?", "1.000000E+04")],
        ["asked 20000, the instrument kept 10000"]),
    RIGOL.case("output that did not switch", lambda g: g.set_output(2, True), [
        (":OUTP2 ON", None), R_OK, (":OUTP2?", "OFF")],
        ["asked ON, the instrument reads back OFF"]),
    SIGLENT.case("silently clamped amplitude", lambda g: g.set_sine(1, 1000.0, 30.0, 0.0), [
        ("C1:BSWV?", bswv(1, amp="1V")),
        ("C1:BSWV WVTP,SINE,FRQ,1000,OFST,0,AMP,30,PHSE,0", None),
        ("C1:BSWV?", bswv(1, amp="20V"))],
        [SIGLENT.label, "C1:BSWV WVTP,SINE", "asked 30", "kept 20"]),
    SIGLENT.case("silently clamped frequency", lambda g: g.set_frequency(1, 100e6), [
        ("C1:BSWV FRQ,100000000", None), ("C1:BSWV?", bswv(1, frq="40000000HZ"))],
        ["frequency (Hz): asked 1e+08, the instrument kept 4e+07"]),
    SIGLENT.case("load not kept", lambda g: g.set_load(1, 10.0), [
        ("C1:OUTP LOAD,10", None), ("C1:OUTP?", "C1:OUTP OFF,LOAD,50,PLRT,NOR")],
        ["asked 10, the instrument kept 50"]),
    SIGLENT.case("output not switched", lambda g: g.set_output(2, False), [
        ("C2:OUTP OFF", None), ("C2:OUTP?", "C2:OUTP ON,LOAD,HZ,PLRT,NOR")],
        ["asked OFF, the instrument reads back ON"]),
    TEK.case("error queue", lambda g: g.set_frequency(1, 1e9), [
        ("SOUR1:FREQ 1000000000", None), ("SYST:ERR?", '-222,"Data out of range"'), T_OK],
        [TEK.label, "SOUR1:FREQ 1000000000", "Data out of range"]),
])
def test_a_setting_refused_or_not_kept_raises(family: Family, action: Action, exchanges: list,
                                              fragments: list[str]) -> None:
    with family.protocol(exchanges) as g, raises_with(InstrumentError, *fragments):
        action(g)


# -- transport failures -------------------------------------------------------------------------------------
@pytest.mark.parametrize("family, action, exchanges, error, fragments", [
    KEYSIGHT.case("timeout mid exchange", lambda g: g.set_amplitude(1, 1.0), [
        ("SOUR1:VOLT:UNIT VPP", None), K_OK, ("SOUR1:VOLT 1", None), ("SYST:ERR?", visa_timeout())],
        InstrumentTimeout, [KEYSIGHT.label, "SYST:ERR?"]),
    KEYSIGHT.case("dropped connection", lambda g: g.limits(1), [("SOUR1:FUNC?", connection_lost())],
                  InstrumentConnectionError, [KEYSIGHT.label, "connection lost"]),
    RIGOL.case("timeout mid exchange", lambda g: g.set_frequency(1, 1000.0), [
        (":SOUR1:FREQ 1000", None), R_OK, (":SOUR1:FREQ?", visa_timeout())],
        InstrumentTimeout, [RIGOL.label, ":SOUR1:FREQ?"]),
    RIGOL.case("dropped connection", lambda g: g.outputs_off(), [
        (":OUTP1 OFF", None), (":SYST:ERR?", connection_lost()), (":OUTP2 OFF", None), R_OK, (":OUTP2?", "OFF")],
        InstrumentConnectionError, [RIGOL.label]),
    SIGLENT.case("timeout mid exchange", lambda g: g.set_amplitude(1, 1.0), [
        ("C1:BSWV AMP,1", None), ("C1:BSWV?", visa_timeout())],
        InstrumentTimeout, [SIGLENT.label, "C1:BSWV?"]),
    SIGLENT.case("dropped connection", lambda g: g.channel_state(1), [
        ("C1:BSWV?", bswv(1)), ("C1:OUTP?", connection_lost())],
        InstrumentConnectionError, [SIGLENT.label]),
    TEK.case("timeout mid exchange", lambda g: g.set_sine(1, 1000.0, 1.0, 0.0), [
        ("SOUR1:FUNC SIN", None), T_OK, ("SOUR1:VOLT:UNIT VPP", None), T_OK, ("SOUR1:FREQ 1000", None), T_OK,
        ("SOUR1:VOLT?", visa_timeout())],
        InstrumentTimeout, [TEK.label, "SOUR1:VOLT?"]),
    TEK.case("dropped connection", lambda g: g.sync_phase(), [
        ("SOUR1:PHAS:INIT", None), ("SYST:ERR?", connection_lost())],
        InstrumentConnectionError, [TEK.label]),
])
def test_a_transport_failure_names_the_instrument(family: Family, action: Action, exchanges: list,
                                                  error: type[Exception], fragments: list[str]) -> None:
    with family.protocol(exchanges) as g, raises_with(error, *fragments):  # every exchange up to the failure
        action(g)
