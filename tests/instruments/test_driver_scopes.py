"""Protocol tests of what every oscilloscope family does alike, each family with its own bytes: Keysight
InfiniiVision (docs/reference/scpi.md §4.1), Rigol DS1000Z and DHO800/900 (§4.2), Siglent SDS new and legacy sets
(§4.3), Tektronix MSO 4/5/6 (§4.4).

One test per behaviour of the interface (``instruments.scope``), one row per family; the waveform transfers
and what only one family does are in that family's ``test_driver_<family>.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from instruments.errors import InstrumentError, InstrumentTimeout
from instruments.keysight_infiniivision import KeysightInfiniiVision
from instruments.rigol_dho import RigolDHO
from instruments.rigol_ds1000z import RigolDS1000Z
from instruments.scope import Oscilloscope, ScopeChannelState
from instruments.siglent_sds import SiglentSDS
from instruments.siglent_sds1000xe import SiglentSDS1000XE
from instruments.tektronix_mso import TektronixMSO
from protocol import FakeClock, Family, raises_with

KEYSIGHT = Family(KeysightInfiniiVision, "scope DSOX1204G at TCPIP0::10.0.0.9::5025::SOCKET",
                ("SYSTem:ERRor?", '+0,"No error"'))
RIGOL = Family(RigolDS1000Z, "scope DS1054Z at TCPIP0::10.0.0.31::5555::SOCKET", ("SYSTem:ERRor?", '0,"No error"'))
DHO = Family(RigolDHO, "scope DHO804 at TCPIP0::10.0.0.32::5555::SOCKET", ("SYSTem:ERRor?", '0,"No error"'))
SDS = Family(SiglentSDS, "scope SDS824X HD at TCPIP0::10.0.0.41::5025::SOCKET", ("*ESR?", "0"))
SDS_XE = Family(SiglentSDS1000XE, "scope SDS1104X-E at TCPIP0::10.0.0.42::5025::SOCKET",
              ("CMR?", "CMR 0"), ("EXR?", "EXR 0"))
MSO = Family(TektronixMSO, "scope MSO46B at TCPIP0::10.0.0.51::4000::SOCKET", ("*ESR?", "0"))

Action = Callable[[Oscilloscope], Any]


# -- settings -----------------------------------------------------------------------------------------------
K, R, D, S, X, M = KEYSIGHT.ok, RIGOL.ok, DHO.ok, SDS.ok, SDS_XE.ok, MSO.ok

SETTINGS = [
    KEYSIGHT.case("display", lambda s: s.set_channel(2, enabled=True), K(":CHANnel2:DISPlay 1")),
    KEYSIGHT.case("probe", lambda s: s.set_channel(1, probe=10), K(":CHANnel1:PROBe 10")),
    KEYSIGHT.case("scale", lambda s: s.set_channel(3, scale_v_per_div=0.05), K(":CHANnel3:SCALe 0.05")),
    KEYSIGHT.case("offset is centre voltage", lambda s: s.set_channel(1, offset_v=2.5), K(":CHANnel1:OFFSet 2.5")),
    KEYSIGHT.case("coupling", lambda s: s.set_channel(4, coupling="AC"), K(":CHANnel4:COUPling AC")),
    KEYSIGHT.case("impedance 50 ohm", lambda s: s.set_channel(1, impedance_ohm=50), K(":CHANnel1:IMPedance FIFTy")),
    KEYSIGHT.case("impedance 1 megohm", lambda s: s.set_channel(1, impedance_ohm=1e6),
        K(":CHANnel1:IMPedance ONEMeg")),
    KEYSIGHT.case("bandwidth limit", lambda s: s.set_channel(2, bandwidth_limit=False), K(":CHANnel2:BWLimit 0")),
    KEYSIGHT.case("probe goes before scale", lambda s: s.set_channel(1, scale_v_per_div=1.0, probe=10),
        K(":CHANnel1:PROBe 10") + K(":CHANnel1:SCALe 1")),
    KEYSIGHT.case("timebase", lambda s: s.set_timebase(20e-6, -10e-6),
        K(":TIMebase:SCALe 2e-05") + K(":TIMebase:POSition -1e-05")),
    KEYSIGHT.case("trigger edge falling", lambda s: s.set_trigger_edge(3, 0.15, "falling"),
        K(":TRIGger:MODE EDGE", ":TRIGger:EDGE:SOURce CHANnel3", ":TRIGger:EDGE:LEVel 0.15",
          ":TRIGger:EDGE:SLOPe NEGative")),
    KEYSIGHT.case("average sets type then count", lambda s: s.set_acquisition("average", 64),
        K(":ACQuire:TYPE AVERage") + K(":ACQuire:COUNt 64")),
    KEYSIGHT.case("high resolution", lambda s: s.set_acquisition("highres"), K(":ACQuire:TYPE HRESolution")),
    KEYSIGHT.case("run", lambda s: s.run(), K(":RUN")),

    RIGOL.case("display", lambda s: s.set_channel(2, enabled=True), R(":CHANnel2:DISPlay ON")),
    RIGOL.case("probe is read back", lambda s: s.set_channel(1, probe=10),
        R(":CHANnel1:PROBe 10") + [(":CHANnel1:PROBe?", "10")]),
    RIGOL.case("scale is read back", lambda s: s.set_channel(1, scale_v_per_div=0.2),
        R(":CHANnel1:SCALe 0.2") + [(":CHANnel1:SCALe?", "2.000000e-01")]),
    RIGOL.case("offset is sent negated and read back", lambda s: s.set_channel(1, offset_v=2.5),  # V at centre
        R(":CHANnel1:OFFSet -2.5") + [(":CHANnel1:SCALe?", "1.000000e+00"), (":CHANnel1:OFFSet?", "-2.500000e+00")]),
    RIGOL.case("coupling", lambda s: s.set_channel(4, coupling="AC"), R(":CHANnel4:COUPling AC")),
    RIGOL.case("bandwidth limit uses 20M token", lambda s: s.set_channel(2, bandwidth_limit=True),
        R(":CHANnel2:BWLimit 20M")),
    RIGOL.case("one megohm needs no command", lambda s: s.set_channel(1, impedance_ohm=1e6), []),
    RIGOL.case("timebase reads scale back", lambda s: s.set_timebase(500e-6, 100e-6),
        R(":TIMebase:MAIN:SCALe 0.0005") + [(":TIMebase:MAIN:SCALe?", "5.000000e-04")]
        + R(":TIMebase:MAIN:OFFSet 0.0001")),
    RIGOL.case("trigger edge", lambda s: s.set_trigger_edge(1, 0.25),
        R(":TRIGger:MODE EDGE", ":TRIGger:EDGE:SOURce CHANnel1", ":TRIGger:EDGE:SLOPe POSitive",
          ":TRIGger:EDGE:LEVel 0.25")),
    RIGOL.case("average reads count back", lambda s: s.set_acquisition("average", 64),
        R(":ACQuire:TYPE AVERages") + R(":ACQuire:AVERages 64") + [(":ACQuire:AVERages?", "64")]),
    RIGOL.case("high resolution", lambda s: s.set_acquisition("highres"), R(":ACQuire:TYPE HRESolution")),
    RIGOL.case("run leaves a non-single sweep alone", lambda s: s.run(), [(":TRIGger:SWEep?", "AUTO")] + R(":RUN")),

    DHO.case("display", lambda s: s.set_channel(2, enabled=False), D(":CHANnel2:DISPlay OFF")),
    DHO.case("probe", lambda s: s.set_channel(1, probe=10), D(":CHANnel1:PROBe 10") + [(":CHANnel1:PROBe?", "10")]),
    DHO.case("scale", lambda s: s.set_channel(1, scale_v_per_div=0.1),
        D(":CHANnel1:SCALe 0.1") + [(":CHANnel1:SCALe?", "1.000000E-01")]),
    DHO.case("offset", lambda s: s.set_channel(3, offset_v=-0.5),
        D(":CHANnel3:OFFSet 0.5") + [(":CHANnel3:SCALe?", "1.000000E-01"), (":CHANnel3:OFFSet?", "5.000000E-01")]),
    DHO.case("coupling", lambda s: s.set_channel(4, coupling="DC"), D(":CHANnel4:COUPling DC")),
    DHO.case("bandwidth limit", lambda s: s.set_channel(1, bandwidth_limit=True), D(":CHANnel1:BWLimit 20M")),
    DHO.case("impedance 1 MOhm", lambda s: s.set_channel(1, impedance_ohm=1e6), []),
    DHO.case("timebase", lambda s: s.set_timebase(2e-4, 0.0),
        D(":TIMebase:MAIN:SCALe 0.0002") + [(":TIMebase:MAIN:SCALe?", "2.000000E-04")] + D(":TIMebase:MAIN:OFFSet 0")),
    DHO.case("trigger", lambda s: s.set_trigger_edge(2, -0.1, "falling"),
        D(":TRIGger:MODE EDGE", ":TRIGger:EDGE:SOURce CHANnel2", ":TRIGger:EDGE:SLOPe NEGative",
          ":TRIGger:EDGE:LEVel -0.1")),
    DHO.case("peak", lambda s: s.set_acquisition("peak"), D(":ACQuire:TYPE PEAK")),
    DHO.case("average allows 65536 and reads back", lambda s: s.set_acquisition("average", 65536),
        D(":ACQuire:TYPE AVERages") + D(":ACQuire:AVERages 65536") + [(":ACQuire:AVERages?", "65536")]),
    DHO.case("run", lambda s: s.run(), [(":TRIGger:SWEep?", "AUTO")] + D(":RUN")),

    SDS.case("switch", lambda s: s.set_channel(2, enabled=True), S(":CHANnel2:SWITch ON")),
    SDS.case("probe value form", lambda s: s.set_channel(1, probe=10), S(":CHANnel1:PROBe VALue,10")),
    SDS.case("scale is read back", lambda s: s.set_channel(1, scale_v_per_div=0.5),
        S(":CHANnel1:SCALe 0.5") + [(":CHANnel1:SCALe?", "5.00E-01")]),
    SDS.case("offset is sent negated", lambda s: s.set_channel(3, offset_v=-1.2), S(":CHANnel3:OFFSet 1.2")),
    SDS.case("coupling", lambda s: s.set_channel(4, coupling="AC"), S(":CHANnel4:COUPling AC")),
    SDS.case("impedance", lambda s: s.set_channel(1, impedance_ohm=50), S(":CHANnel1:IMPedance FIFTy")),
    SDS.case("bandwidth limit off is full", lambda s: s.set_channel(2, bandwidth_limit=False),
        S(":CHANnel2:BWLimit FULL")),
    SDS.case("timebase reads scale back", lambda s: s.set_timebase(1e-6, 2e-7),
        S(":TIMebase:SCALe 1e-06") + [(":TIMebase:SCALe?", "1.00E-06")] + S(":TIMebase:DELay 2e-07")),
    SDS.case("trigger edge", lambda s: s.set_trigger_edge(2, 0.3, "falling"),
        S(":TRIGger:TYPE EDGE", ":TRIGger:EDGE:SOURce C2", ":TRIGger:EDGE:SLOPe FALLing", ":TRIGger:EDGE:LEVel 0.3")),
    SDS.case("average reads count back", lambda s: s.set_acquisition("average", 16),
        S(":ACQuire:TYPE AVERage,16") + [(":ACQuire:TYPE?", "AVERage,16")]),
    SDS.case("normal", lambda s: s.set_acquisition("normal"), S(":ACQuire:TYPE NORMal")),

    SDS_XE.case("trace", lambda s: s.set_channel(2, enabled=True), X("C2:TRA ON")),
    SDS_XE.case("probe is read back", lambda s: s.set_channel(1, probe=10),
        X("C1:ATTN 10") + [("C1:ATTN?", "C1:ATTN 10")]),
    SDS_XE.case("scale is read back", lambda s: s.set_channel(1, scale_v_per_div=0.5),
        X("C1:VDIV 0.5") + [("C1:VDIV?", "C1:VDIV 5.00E-01V")]),
    SDS_XE.case("offset is sent negated", lambda s: s.set_channel(3, offset_v=0.75), X("C3:OFST -0.75")),
    SDS_XE.case("coupling and impedance together", lambda s: s.set_channel(1, coupling="AC", impedance_ohm=50),
        X("C1:CPL A50")),
    SDS_XE.case("coupling alone keeps the impedance", lambda s: s.set_channel(4, coupling="AC"),
        [("C4:CPL?", "C4:CPL D50")] + X("C4:CPL A50")),
    SDS_XE.case("impedance alone keeps the coupling", lambda s: s.set_channel(2, impedance_ohm=1e6),
        [("C2:CPL?", "A50")] + X("C2:CPL A1M")),
    SDS_XE.case("bandwidth limit", lambda s: s.set_channel(2, bandwidth_limit=True), X("BWL C2,ON")),
    SDS_XE.case("timebase reads scale back", lambda s: s.set_timebase(1e-4, -2e-5),
        X("TDIV 0.0001") + [("TDIV?", "TDIV 1.00E-04S")] + X("TRDL -2e-05")),
    SDS_XE.case("trigger edge", lambda s: s.set_trigger_edge(1, 0.05, "falling"),
        X("TRSE EDGE,SR,C1,HT,OFF", "C1:TRSL NEG", "C1:TRLV 0.05")),
    SDS_XE.case("average reads count back", lambda s: s.set_acquisition("average", 16),
        X("ACQW AVERAGE,16") + [("ACQW?", "ACQW AVERAGE,16")]),
    SDS_XE.case("high resolution", lambda s: s.set_acquisition("highres"), X("ACQW HIGH_RES")),

    MSO.case("display", lambda s: s.set_channel(2, enabled=True), M("DISplay:GLObal:CH2:STATE ON")),
    MSO.case("probe external attenuation", lambda s: s.set_channel(1, probe=10), M("CH1:PROBEFunc:EXTAtten 10")),
    MSO.case("scale", lambda s: s.set_channel(3, scale_v_per_div=0.02), M("CH3:SCAle 0.02")),
    MSO.case("offset zeroes position first", lambda s: s.set_channel(1, offset_v=2.5),
        M("CH1:POSition 0", "CH1:OFFSet 2.5")),
    MSO.case("coupling", lambda s: s.set_channel(4, coupling="AC"), M("CH4:COUPling AC")),
    MSO.case("termination", lambda s: s.set_channel(1, impedance_ohm=50), M("CH1:TERmination 50")),
    MSO.case("bandwidth limit", lambda s: s.set_channel(2, bandwidth_limit=True), M("CH2:BANdwidth 20E6")),
    MSO.case("timebase uses centre reference and delay", lambda s: s.set_timebase(1e-6, 2e-6),
        M("HORizontal:SCAle 1e-06", "HORizontal:POSition 50", "HORizontal:DELay:MODe ON",
          "HORizontal:DELay:TIMe 2e-06")),
    MSO.case("trigger edge", lambda s: s.set_trigger_edge(3, -0.2, "falling"),
        M("TRIGger:A:TYPe EDGE", "TRIGger:A:EDGE:SOUrce CH3", "TRIGger:A:EDGE:SLOpe FALL", "TRIGger:A:LEVel:CH3 -0.2")),
    MSO.case("average sets mode then count", lambda s: s.set_acquisition("average", 32),
        M("ACQuire:MODe AVErage") + M("ACQuire:NUMAVg 32")),
    MSO.case("high resolution", lambda s: s.set_acquisition("highres"), M("ACQuire:MODe HIRes")),
    MSO.case("run", lambda s: s.run(), M("ACQuire:STOPAfter RUNSTop", "ACQuire:STATE RUN")),
]


@pytest.mark.parametrize("family, action, exchanges", SETTINGS)
def test_setting(family: Family, action: Action, exchanges: list) -> None:
    with family.protocol(exchanges) as s:
        action(s)


@pytest.mark.parametrize("family, action, match", [
    KEYSIGHT.case("unknown impedance", lambda s: s.set_channel(1, enabled=True, impedance_ohm=75), "50 or 1e6"),
    KEYSIGHT.case("average count out of range", lambda s: s.set_acquisition("average", 1), "65536"),
    RIGOL.case("fifty ohm", lambda s: s.set_channel(1, enabled=True, impedance_ohm=50), "1 MOhm only"),
    RIGOL.case("average count not a power of two", lambda s: s.set_acquisition("average", 48), "power of two"),
    DHO.case("fifty ohm", lambda s: s.set_channel(1, enabled=True, impedance_ohm=50), "1 MOhm only"),
    DHO.case("no high resolution mode", lambda s: s.set_acquisition("highres"), "not available"),
    SDS.case("unknown impedance", lambda s: s.set_channel(1, enabled=True, impedance_ohm=75), "50 or 1e6"),
    SDS.case("high resolution not offered", lambda s: s.set_acquisition("highres"), "not available"),
    SDS_XE.case("unknown impedance", lambda s: s.set_channel(1, enabled=True, impedance_ohm=75), "50 or 1e6"),
    SDS_XE.case("record length outside the list", lambda s: s.set_record_length(100_000), "must be one of"),
    MSO.case("unknown termination", lambda s: s.set_channel(1, enabled=True, impedance_ohm=75), "50 or 1e6"),
])
def test_refused_before_any_io(family: Family, action: Action, match: str) -> None:
    with family.protocol([]) as s, pytest.raises(InstrumentError, match=match):
        action(s)


# -- a setting refused or not kept --------------------------------------------------------------------------
@pytest.mark.parametrize("family, action, exchanges, fragments", [
    KEYSIGHT.case("error queue", lambda s: s.set_channel(1, scale_v_per_div=200),
        [(":CHANnel1:SCALe 200", None), ("SYSTem:ERRor?", '-222,"Data out of range"'), *KEYSIGHT.drain],
        [KEYSIGHT.label, ":CHANnel1:SCALe 200", "Data out of range", "-222"]),
    RIGOL.case("error queue", lambda s: s.set_channel(1, coupling="AC"),
        [(":CHANnel1:COUPling AC", None), ("SYSTem:ERRor?", '-113,"Undefined header"'), *RIGOL.drain],
        [RIGOL.label, ":CHANnel1:COUPling AC", "Undefined header"]),
    RIGOL.case("scale kept silently", lambda s: s.set_channel(3, scale_v_per_div=0.3),
        R(":CHANnel3:SCALe 0.3") + [(":CHANnel3:SCALe?", "2.000000e-01")],
        [RIGOL.label, "set to 0.3", "reads back 0.2", ":CHANnel3:SCALe 0.3"]),
    RIGOL.case("offset clamped silently", lambda s: s.set_channel(2, scale_v_per_div=0.1, offset_v=5.0),
        R(":CHANnel2:SCALe 0.1") + [(":CHANnel2:SCALe?", "1.000000e-01")]
        + R(":CHANnel2:OFFSet -5") + [(":CHANnel2:OFFSet?", "-2.000000e+00")],
        [RIGOL.label, "offset set to 5 V", "kept 2 V", ":CHANnel2:OFFSet -5"]),
    RIGOL.case("record length silently rejected", lambda s: s.set_record_length(24_000_000),
        R(":ACQuire:MDEPth 24000000") + [(":ACQuire:MDEPth?", "3000000")],
        [RIGOL.label, "24000000", "kept 3000000"]),
    RIGOL.case("record length left on auto", lambda s: s.set_record_length(12_000),
        R(":ACQuire:MDEPth 12000") + [(":ACQuire:MDEPth?", "AUTO")], ["kept AUTO"]),
    RIGOL.case("average count kept silently", lambda s: s.set_acquisition("average", 512),
        R(":ACQuire:TYPE AVERages") + R(":ACQuire:AVERages 512") + [(":ACQuire:AVERages?", "256")],
        ["reads back 256"]),
    DHO.case("error queue", lambda s: s.set_channel(1, offset_v=150),
        [(":CHANnel1:OFFSet -150", None), ("SYSTem:ERRor?", '-222,"Data out of range"'), *DHO.drain],
        [DHO.label, ":CHANnel1:OFFSet -150", "Data out of range"]),
    DHO.case("record length silently rejected", lambda s: s.set_record_length(50_000_000),
        D(":ACQuire:MDEPth 50000000") + [(":ACQuire:MDEPth?", "1.000E+7")], ["kept 1.000E+7"]),
    SDS.case("event status register", lambda s: s.set_channel(1, coupling="AC"),
        [(":CHANnel1:COUPling AC", None), ("*ESR?", "32")],
        [SDS.label, ":CHANnel1:COUPling AC", "command error", "32"]),
    SDS.case("scale kept silently", lambda s: s.set_channel(1, scale_v_per_div=20),
        S(":CHANnel1:SCALe 20") + [(":CHANnel1:SCALe?", "1.00E+01")], ["set to 20 but the instrument reads back 10"]),
    SDS.case("record length not taken", lambda s: s.set_record_length(12_500_000),
        S(":ACQuire:MMANagement FMDepth") + S(":ACQuire:MDEPth 12.5M") + [(":ACQuire:MDEPth?", "10M")],
        ["12500000 points but the instrument kept 10M"]),
    SDS.case("average count not taken", lambda s: s.set_acquisition("average", 3),
        S(":ACQuire:TYPE AVERage,3") + [(":ACQuire:TYPE?", "AVERage,4")], ["AVERage,4"]),
    SDS_XE.case("command error register", lambda s: s.set_channel(1, enabled=True),
        [("C1:TRA ON", None), ("CMR?", "CMR 1"), *SDS_XE.drain],
        [SDS_XE.label, "C1:TRA ON", "Unrecognized command/query header"]),
    SDS_XE.case("execution error register", lambda s: s.set_channel(1, offset_v=500),
        [("C1:OFST -500", None), ("CMR?", "CMR 0"), ("EXR?", "EXR 25"), *SDS_XE.drain],
        ["execution error (EXR?) 25"]),
    SDS_XE.case("scale kept silently", lambda s: s.set_channel(1, scale_v_per_div=0.3),
        X("C1:VDIV 0.3") + [("C1:VDIV?", "C1:VDIV 2.00E-01V")], ["set to 0.3 but the instrument reads back 0.2"]),
    SDS_XE.case("record length not taken", lambda s: s.set_record_length(14_000_000),
        X("MSIZ 14M") + [("MSIZ?", "MSIZ 7M")], ["14000000 points but the instrument kept 7M"]),
    MSO.case("event queue", lambda s: s.set_channel(1, scale_v_per_div=1000),
        [("CH1:SCAle 1000", None), ("*ESR?", "20"), ("EVMsg?", '222,"Data out of range; CH1:SCALE 1000"'),
         ("EVMsg?", '0,"No events to report; queue empty"')],
        [MSO.label, "CH1:SCAle 1000", "Data out of range", "222"]),
])
def test_a_setting_refused_or_not_kept_raises(family: Family, action: Action, exchanges: list,
                                            fragments: list[str]) -> None:
    with family.protocol(exchanges) as s, raises_with(InstrumentError, *fragments):
        action(s)


# -- reading back -------------------------------------------------------------------------------------------
K_SAVE_TRANSFER = ":WAVeform:FORMat?;:WAVeform:UNSigned?;:WAVeform:BYTeorder?;:WAVeform:POINts:MODE?"


@pytest.mark.parametrize("family, action, exchanges, expected", [
    # Keysight answers compound queries: the rows of one read travel as one message
    KEYSIGHT.case("channel state", lambda s: s.channel_state(2),
        [(":CHANnel2:DISPlay?;:CHANnel2:SCALe?;:CHANnel2:OFFSet?;:CHANnel2:COUPling?;:CHANnel2:IMPedance?;"
          ":CHANnel2:PROBe?;:CHANnel2:BWLimit?", "1;+5.00000E-02;-1.25000E+00;AC;FIFT;+10.0E+00;1")],
        ScopeChannelState(True, 0.05, -1.25, "AC", 50.0, 10.0, True)),
    KEYSIGHT.case("timebase", lambda s: s.timebase(),
        [(":TIMebase:SCALe?;:TIMebase:POSition?", "+2.000E-05;-1.0E-05")], (2e-5, -1e-5)),
    # the user's transfer settings are read (once) before the points change, to be put back by the safe state
    KEYSIGHT.case("record length the scope will transfer", lambda s: s.set_record_length(100_000),
        [(K_SAVE_TRANSFER, "BYTE;1;MSBF;NORM")]
        + K(":WAVeform:POINts:MODE RAW", ":WAVeform:POINts 100000") + [(":WAVeform:POINts?", "+62500")], 62_500),
    KEYSIGHT.case("record length without data uses acquisition points", lambda s: s.set_record_length(100_000),
        [(K_SAVE_TRANSFER, "BYTE;1;MSBF;NORM")] + K(":WAVeform:POINts:MODE RAW", ":WAVeform:POINts 100000")
        + [(":WAVeform:POINts?", "+0"), (":ACQuire:POINts?", "+20000")], 20_000),
    RIGOL.case("channel state negates offset and reports one megohm", lambda s: s.channel_state(2),
        [(":CHANnel2:DISPlay?", "1"), (":CHANnel2:SCALe?", "5.000000e-01"), (":CHANnel2:OFFSet?", "-1.500000e+00"),
         (":CHANnel2:COUPling?", "DC"), (":CHANnel2:PROBe?", "10"), (":CHANnel2:BWLimit?", "20M")],
        ScopeChannelState(True, 0.5, 1.5, "DC", 1e6, 10.0, True)),
    RIGOL.case("timebase", lambda s: s.timebase(),
        [(":TIMebase:MAIN:SCALe?", "1.000000e-03"), (":TIMebase:MAIN:OFFSet?", "-2.000000e-04")], (1e-3, -2e-4)),
    RIGOL.case("record length read back", lambda s: s.set_record_length(300_000),
        R(":ACQuire:MDEPth 300000") + [(":ACQuire:MDEPth?", "300000")], 300_000),
    DHO.case("channel state", lambda s: s.channel_state(1),
        [(":CHANnel1:DISPlay?", "0"), (":CHANnel1:SCALe?", "1.000000E-01"), (":CHANnel1:OFFSet?", "2.000000E-01"),
         (":CHANnel1:COUPling?", "AC"), (":CHANnel1:PROBe?", "1"), (":CHANnel1:BWLimit?", "OFF")],
        ScopeChannelState(False, 0.1, -0.2, "AC", 1e6, 1.0, False)),
    DHO.case("timebase", lambda s: s.timebase(),
        [(":TIMebase:MAIN:SCALe?", "2.000000E-04"), (":TIMebase:MAIN:OFFSet?", "0.000000E+00")], (2e-4, 0.0)),
    DHO.case("record length reads scientific depth back", lambda s: s.set_record_length(1_000_000),
        D(":ACQuire:MDEPth 1000000") + [(":ACQuire:MDEPth?", "1.000E+6")], 1_000_000),
    SDS.case("channel state", lambda s: s.channel_state(1),
        [(":CHANnel1:SWITch?", "ON"), (":CHANnel1:SCALe?", "2.00E-01"), (":CHANnel1:OFFSet?", "-5.00E-01"),
         (":CHANnel1:COUPling?", "DC"), (":CHANnel1:IMPedance?", "ONEMEG"), (":CHANnel1:PROBe?", "1.00E+01"),
         (":CHANnel1:BWLimit?", "20M")],
        ScopeChannelState(True, 0.2, 0.5, "DC", 1e6, 10.0, True)),
    SDS.case("timebase", lambda s: s.timebase(),
        [(":TIMebase:SCALe?", "1.00E-06"), (":TIMebase:DELay?", "-2.00E-07")], (1e-6, -2e-7)),
    SDS.case("record length fixes memory management and reads back", lambda s: s.set_record_length(100_000),
        S(":ACQuire:MMANagement FMDepth") + S(":ACQuire:MDEPth 100k") + [(":ACQuire:MDEPth?", "100k")], 100_000),
    SDS_XE.case("channel state", lambda s: s.channel_state(3),
        [("C3:TRA?", "C3:TRA ON"), ("C3:VDIV?", "C3:VDIV 1.00E-01V"), ("C3:OFST?", "C3:OFST 2.00E-01V"),
         ("C3:CPL?", "C3:CPL A1M"), ("C3:ATTN?", "C3:ATTN 1"), ("BWL?", "BWL C1,OFF,C2,OFF,C3,ON,C4,OFF")],
        ScopeChannelState(True, 0.1, -0.2, "AC", 1e6, 1.0, True)),
    SDS_XE.case("timebase", lambda s: s.timebase(),
        [("TDIV?", "TDIV 1.00E-04S"), ("TRDL?", "TRDL -2.00E-05S")], (1e-4, -2e-5)),
    SDS_XE.case("record length", lambda s: s.set_record_length(1_400_000),
        X("MSIZ 1.4M") + [("MSIZ?", "MSIZ 1.4M")], 1_400_000),
    MSO.case("channel state computes centre voltage and probe ratio", lambda s: s.channel_state(1),
        [("DISplay:GLObal:CH1:STATE?", "1"), ("CH1:SCAle?", "1.0000E-01"), ("CH1:OFFSet?", "1.0000"),
         ("CH1:POSition?", "2.0000"), ("CH1:COUPling?", "DC"), ("CH1:TERmination?", "1.0000E+6"),
         ("CH1:PROBEFunc:EXTAtten?", "1.0000"), ("CH1:PRObe:GAIN?", "100.0000E-3"),
         ("CH1:BANdwidth?", "20.0000E+6")],
        # offset 1 V - 2 div * 0.1 V/div; probe 1 / gain 0.1
        ScopeChannelState(True, 0.1, pytest.approx(0.8), "DC", 1e6, pytest.approx(10.0), True)),
    MSO.case("channel state accepts replies with headers", lambda s: s.channel_state(2),
        [("DISplay:GLObal:CH2:STATE?", ":DISPLAY:GLOBAL:CH2:STATE 0"), ("CH2:SCAle?", ":CH2:SCALE 5.0E-1"),
         ("CH2:OFFSet?", ":CH2:OFFSET 0.0E+0"), ("CH2:POSition?", ":CH2:POSITION 0.0E+0"),
         ("CH2:COUPling?", ":CH2:COUPLING AC"), ("CH2:TERmination?", ":CH2:TERMINATION 50.0000"),
         ("CH2:PROBEFunc:EXTAtten?", ":CH2:PROBEFUNC:EXTATTEN 10.0000"), ("CH2:PRObe:GAIN?", ":CH2:PROBE:GAIN 1.0"),
         ("CH2:BANdwidth?", ":CH2:BANDWIDTH 1.0000E+9")],
        ScopeChannelState(False, 0.5, 0.0, "AC", 50.0, 10.0, False)),
    MSO.case("timebase with delay on", lambda s: s.timebase(),
        [("HORizontal:SCAle?", "1.0000E-6"), ("HORizontal:DELay:MODe?", "1"), ("HORizontal:DELay:TIMe?", "2.0000E-6"),
         ("HORizontal:POSition?", "50.0000")], pytest.approx((1e-6, 2e-6))),
    MSO.case("timebase with delay off uses trigger position", lambda s: s.timebase(),
        # trigger at 10 % of the screen: centre is 4 div after it
        [("HORizontal:SCAle?", "1.0000E-6"), ("HORizontal:DELay:MODe?", "0"), ("HORizontal:POSition?", "10.0000")],
        pytest.approx((1e-6, 4e-6))),
    MSO.case("record length read back", lambda s: s.set_record_length(100_000),
        M("HORizontal:MODE MANual", "HORizontal:RECOrdlength 100000") + [("HORizontal:RECOrdlength?", "125000")],
        125_000),
])
def test_reading_back(family: Family, action: Action, exchanges: list, expected: Any) -> None:
    with family.protocol(exchanges) as s:
        assert action(s) == expected


# -- single: one acquisition, polled with a time limit --------------------------------------------------------
RIGOL_SINGLE = [(":TRIGger:SWEep?", "AUTO")] + R(":SINGle")
XE_ARMING = [("TRMD?", "TRMD AUTO")] + X("STOP") + [("INR?", "INR 8193")] + X("TRMD SINGLE", "ARM")
MSO_ARM = M("ACQuire:STATE STOP", "ACQuire:STOPAfter SEQuence", "ACQuire:STATE RUN")


@pytest.mark.parametrize("family, action, exchanges, interval_s", [
    RIGOL.case("waits for stop after the scope armed", lambda s: s.single(timeout_s=10),
        RIGOL_SINGLE + [(":TRIGger:STATus?", "STOP"), (":TRIGger:STATus?", "WAIT"), (":TRIGger:STATus?", "TD"),
                        (":TRIGger:STATus?", "STOP")], 0.25),
    RIGOL.case("takes stop as done when never seen armed within the arm window", lambda s: s.single(timeout_s=10),
        RIGOL_SINGLE + [(":TRIGger:STATus?", "STOP")] * 5, 0.25),  # polls at 0, 0.25, 0.5, 0.75, 1.0 s
    DHO.case("completes", lambda s: s.single(timeout_s=10),
        [(":TRIGger:SWEep?", "AUTO")] + D(":SINGle") + [(":TRIGger:STATus?", "TD"), (":TRIGger:STATus?", "STOP")],
        None),
    SDS.case("polls until stop after arming", lambda s: s.single(timeout_s=10),
        [(":TRIGger:MODE?", "AUTO")] + S(":TRIGger:MODE SINGle")
        + [(":TRIGger:STATus?", "Stop"), (":TRIGger:STATus?", "Arm"), (":TRIGger:STATus?", "Stop")], 0.25),
    SDS_XE.case("waits for the new acquisition bit", lambda s: s.single(timeout_s=10),
        XE_ARMING + [("INR?", "INR 8192"), ("INR?", "INR 1")], None),
    MSO.case("polls acquisition state until zero", lambda s: s.single(timeout_s=10),
        MSO_ARM + [("ACQuire:STATE?", "1"), ("ACQuire:STATE?", "1"), ("ACQuire:STATE?", "0")], None),
])
def test_single_completes(family: Family, action: Action, exchanges: list, interval_s: float | None) -> None:
    with family.protocol(exchanges) as s:
        FakeClock.install(s, interval_s)
        action(s)


@pytest.mark.parametrize("family, exchanges, interval_s", [
    RIGOL.case("then run puts the previous sweep back",
        [(":TRIGger:SWEep?", "NORM")] + R(":SINGle") + [(":TRIGger:STATus?", "WAIT"), (":TRIGger:STATus?", "STOP")]
        + [(":TRIGger:SWEep?", "SING")] + R(":TRIGger:SWEep NORM") + R(":RUN"), 0.25),
    SDS.case("then run puts the trigger mode back",
        [(":TRIGger:MODE?", "NORMal")] + S(":TRIGger:MODE SINGle")
        + [(":TRIGger:STATus?", "Trig'd"), (":TRIGger:STATus?", "Stop")]
        + [(":TRIGger:MODE?", "SINGle")] + S(":TRIGger:MODE NORMal") + S(":TRIGger:RUN"), 0.25),
    SDS_XE.case("then run puts the trigger mode back",
        XE_ARMING + [("INR?", "INR 1"), ("TRMD?", "TRMD STOP")] + X("TRMD AUTO"), None),
])
def test_run_after_single_puts_the_trigger_mode_back(family: Family, exchanges: list, interval_s: float | None) -> None:
    with family.protocol(exchanges) as s:
        FakeClock.install(s, interval_s)
        s.single(timeout_s=10)
        s.run()


@pytest.mark.parametrize("family, timeout_s, exchanges, fragments", [
    # every row polls once a second: at 0, 1, 2 (and 3) s
    RIGOL.case("naming the trigger status", 2.5,
        [(":TRIGger:SWEep?", "NORM")] + R(":SINGle") + [(":TRIGger:STATus?", "WAIT")] * 4,
        [RIGOL.label, "2.5 s", "WAIT"]),
    DHO.case("polling trigger status", 1.5,
        [(":TRIGger:SWEep?", "AUTO")] + D(":SINGle") + [(":TRIGger:STATus?", "WAIT")] * 3, ["within 1.5 s"]),
    SDS.case("naming the trigger status", 2,
        [(":TRIGger:MODE?", "NORMal")] + S(":TRIGger:MODE SINGle") + [(":TRIGger:STATus?", "Ready")] * 3,
        [SDS.label, "2 s", "Ready"]),
    SDS_XE.case("without the new acquisition bit", 2, XE_ARMING + [("INR?", "INR 0")] * 3, [SDS_XE.label, "2 s"]),
    MSO.case("while the state reads 1", 2, MSO_ARM + [("ACQuire:STATE?", "1")] * 3, [MSO.label, "2 s"]),
])
def test_single_times_out_naming_the_scope(family: Family, timeout_s: float, exchanges: list,
                                         fragments: list[str]) -> None:
    with family.protocol(exchanges) as s, raises_with(InstrumentTimeout, *fragments):
        FakeClock.install(s, 1.0)
        s.single(timeout_s=timeout_s)
