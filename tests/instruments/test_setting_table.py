"""The shared settings engine (``instruments.setting_table``): a table row becomes exact bytes, a value the row
does not allow is refused before any byte is sent, a read-back that differs raises one clear error, and every
family's table is one the engine can send. The families' own bytes are in ``test_driver_*.py``."""

from __future__ import annotations

import dataclasses
import math

import pytest

from instruments import siglent_sdg
from instruments.errors import InstrumentError
from instruments.keysight_33500 import Keysight33500
from instruments.keysight_infiniivision import KeysightInfiniiVision
from instruments.rigol_dg1000z import RigolDG1000Z
from instruments.rigol_dho import RigolDHO
from instruments.rigol_ds1000z import RigolDS1000Z
from instruments.scope_table import ChannelSetting, centre_numbers, scope_numbers
from instruments.scpi_instrument import ScpiInstrument
from instruments.setting_table import (
    ERRORS,
    KEPT,
    Allowed,
    Encoding,
    ReadBack,
    Setting,
    Tolerance,
    apply,
    apply_each,
    fixed,
    one_of,
    read,
)
from instruments.siglent_sds import SiglentSDS
from instruments.siglent_sds1000xe import SiglentSDS1000XE
from instruments.tektronix_afg31000 import TektronixAFG31000
from instruments.tektronix_mso import TektronixMSO
from protocol import Family, raises_with

INSTRUMENT = Family(ScpiInstrument, "scope X at TCPIP0::10.0.0.1::5025::SOCKET", ("SYSTem:ERRor?", '0,"No error"'))
ok = INSTRUMENT.ok

NUMBER = scope_numbers(float)
SCALE = Setting("vertical scale", "V/div", "{ch}:SCALe {}", "{ch}:SCALe?", NUMBER,
                Allowed(lambda v: v > 0, "scale must be > 0 V/div, got {value!r}"), ReadBack(Tolerance(rel=1e-3)))
COUPLING = Setting("coupling", "", "{ch}:COUPling {}", "{ch}:COUPling?", Encoding(str, str.upper),
                   one_of(("DC", "AC"), "coupling must be 'DC' or 'AC', got {value!r}"))
OFFSET = Setting("offset", "V", "{ch}:OFFSet {}", "{ch}:OFFSet?", centre_numbers(float),
                 check=ReadBack(Tolerance(reference_codes=25), KEPT))
LOAD = Setting("load", "ohm", "OUTP{n}:IMP {}", None, NUMBER,
               Allowed(lambda ohm: ohm > 0, "load must be > 0, got {value!r}", names_command=False, error=ValueError))


# -- a row becomes exact bytes --------------------------------------------------------------------------------
def test_a_row_bound_to_a_value_is_its_command_text_without_io():
    assert SCALE.to(0.05, ch=":CHANnel3").commands == (":CHANnel3:SCALe 0.05",)
    assert OFFSET.to(2.5, ch=":CHANnel1").commands == (":CHANnel1:OFFSet -2.5",)  # sent negated
    positioned = dataclasses.replace(OFFSET, command="{ch}:OFFSet {}", before=("{ch}:POSition 0",),
                                     encoding=NUMBER, check=ERRORS)
    assert positioned.to(2.5, ch="CH1").commands == ("CH1:POSition 0", "CH1:OFFSet 2.5")
    assert fixed("memory management", ":ACQuire:MMANagement FMDepth").to(None).commands == (
        ":ACQuire:MMANagement FMDepth",)


def test_apply_sends_every_command_then_one_error_check():
    with INSTRUMENT.protocol(ok(":CHANnel1:COUPling AC", ":CHANnel2:COUPling DC")) as inst:
        apply(inst, COUPLING.to("AC", ch=":CHANnel1"), COUPLING.to("DC", ch=":CHANnel2"))


def test_apply_each_checks_errors_after_every_command():
    with INSTRUMENT.protocol(ok(":CHANnel1:COUPling AC") + ok(":CHANnel2:COUPling DC")) as inst:
        apply_each(inst, [COUPLING.to("AC", ch=":CHANnel1"), COUPLING.to("DC", ch=":CHANnel2")])


def test_an_error_queue_entry_names_the_instrument_command_and_text():
    exchanges = [(":CHANnel1:COUPling AC", None), ("SYSTem:ERRor?", '-222,"Data out of range"'), *INSTRUMENT.drain]
    with INSTRUMENT.protocol(exchanges) as inst, raises_with(InstrumentError, INSTRUMENT.label,
                                                             ":CHANnel1:COUPling AC", "Data out of range"):
        apply(inst, COUPLING.to("AC", ch=":CHANnel1"))


# -- refused before any byte ----------------------------------------------------------------------------------
def test_a_value_not_allowed_is_refused_before_any_byte_of_the_call():
    changes = [COUPLING.to("AC", ch=":CHANnel1"), SCALE.to(-1.0, ch=":CHANnel1")]  # the first alone is fine
    with INSTRUMENT.protocol([]) as inst, raises_with(InstrumentError, INSTRUMENT.label, "scale must be > 0 V/div",
                                                      "-1.0", "':CHANnel1:SCALe'"):
        apply_each(inst, changes)


def test_a_refusal_can_be_an_argument_error():
    with INSTRUMENT.protocol([]) as inst, pytest.raises(ValueError, match=f"^{INSTRUMENT.label}: load must be > 0"):
        apply(inst, LOAD.to(0.0, n=1))


# -- read back ------------------------------------------------------------------------------------------------
def test_a_read_back_within_tolerance_passes():
    with INSTRUMENT.protocol(ok(":CHANnel1:SCALe 0.2") + [(":CHANnel1:SCALe?", "2.0001e-01")]) as inst:
        apply(inst, SCALE.to(0.2, ch=":CHANnel1"))


def test_a_read_back_mismatch_names_asked_kept_and_the_command():
    exchanges = ok(":CHANnel3:SCALe 0.3") + [(":CHANnel3:SCALe?", "2.000000e-01")]
    with INSTRUMENT.protocol(exchanges) as inst, raises_with(
            InstrumentError, INSTRUMENT.label, "vertical scale (V/div) set to 0.3 but the instrument reads back 0.2",
            ":CHANnel3:SCALe 0.3"):
        apply(inst, SCALE.to(0.3, ch=":CHANnel3"))


def test_a_tolerance_with_a_reference_asks_it_after_the_write_and_before_the_read_back():
    scale = [(":CHANnel2:SCALe?", "1.000000e-01")]  # one code: 0.1 V/div / 25 = 4 mV
    kept = ok(":CHANnel2:OFFSet -1") + scale + [(":CHANnel2:OFFSet?", "-1.003")]
    with INSTRUMENT.protocol(kept) as inst:
        apply(inst, OFFSET.to(1.0, ch=":CHANnel2", reference=lambda: read(inst, SCALE, ch=":CHANnel2")))
    clamped = ok(":CHANnel2:OFFSet -1") + scale + [(":CHANnel2:OFFSet?", "-0.9")]
    with INSTRUMENT.protocol(clamped) as inst, raises_with(InstrumentError, "offset (V): asked 1, the instrument "
                                                                             "kept 0.9"):
        apply(inst, OFFSET.to(1.0, ch=":CHANnel2", reference=lambda: read(inst, SCALE, ch=":CHANnel2")))


def test_an_unreadable_reply_names_the_query():
    with INSTRUMENT.protocol([(":CHANnel1:SCALe?", "garbage")]) as inst, raises_with(
            InstrumentError, "expected a number, got 'garbage'", ":CHANnel1:SCALe?"):
        read(inst, SCALE, ch=":CHANnel1")


@pytest.mark.parametrize("tolerance, asked, got, kept", [
    (Tolerance(rel=1e-3), 0.2, 0.2002, True),
    (Tolerance(rel=1e-3), 0.2, 0.21, False),
    (Tolerance(abs_tol=0.05, wrap_deg=True), 360.0, 0.0, True),
    (Tolerance(abs_tol=0.05, wrap_deg=True), 45.0, 0.0, False),
    (Tolerance(rel=1e-4, high_z=True), math.inf, math.inf, True),
    (Tolerance(rel=1e-4, high_z=True), math.inf, 50.0, False),
    (Tolerance(rel=1e-4, high_z=True), 50.0, math.inf, False),
    (Tolerance(rel=1e-3), 0.2, math.nan, True),  # a NaN reply is not a mismatch
    (Tolerance(), True, False, False),           # not numbers: equal or not
    (Tolerance(), 16, 16.0, True),
])
def test_tolerance(tolerance: Tolerance, asked: object, got: object, kept: bool) -> None:
    assert tolerance(asked, got) is kept


# -- the typed channel setting --------------------------------------------------------------------------------
def test_configure_channel_sends_what_set_channel_sends():
    rigol = Family(RigolDS1000Z, "scope DS1054Z at TCPIP0::10.0.0.31::5555::SOCKET", ("SYSTem:ERRor?", '0,"No error"'))
    exchanges = rigol.ok(":CHANnel2:SCALe 0.2") + [(":CHANnel2:SCALe?", "2.000000e-01")] + rigol.ok(
        ":CHANnel2:COUPling AC")
    with rigol.protocol(exchanges) as scope:
        scope.configure_channel(2, ChannelSetting(coupling="AC", scale_v_per_div=0.2))
    with rigol.protocol(exchanges) as scope:
        scope.set_channel(2, coupling="AC", scale_v_per_div=0.2)


# -- every family's table -------------------------------------------------------------------------------------
def _rows(table: object) -> list[Setting[object]]:
    """Every :class:`Setting` in a family's table (nested dataclasses and dicts)."""
    if isinstance(table, Setting):
        return [table]
    if dataclasses.is_dataclass(table) and not isinstance(table, type):
        return [row for f in dataclasses.fields(table) for row in _rows(getattr(table, f.name))]
    if isinstance(table, dict):
        return [row for value in table.values() for row in _rows(value)]
    return []


TABLES = [KeysightInfiniiVision.table, RigolDS1000Z.table, RigolDHO.table, SiglentSDS.table, SiglentSDS1000XE.table,
          TektronixMSO.table, Keysight33500.rows, RigolDG1000Z.rows, TektronixAFG31000.rows, siglent_sdg.LOAD,
          siglent_sdg.OUTPUT, siglent_sdg.PHASE_MODE, siglent_sdg.TRACKING, siglent_sdg.INVERTED]


@pytest.mark.parametrize("table", TABLES, ids=lambda t: type(t).__name__)
def test_every_row_read_back_has_a_query_and_every_command_one_value(table: object) -> None:
    rows = _rows(table)
    assert rows
    for row in rows:
        if isinstance(row.check, ReadBack) and row.command is not None:
            assert row.query is not None, row.name
        if row.command is not None:
            assert row.command.count("{}") <= 1, row.name


def test_siglent_basic_wave_fields_are_all_read_back():
    # one C<n>:BSWV command carries several fields; the reply of C<n>:BSWV? is compared field by field
    assert all(isinstance(row.check, ReadBack) for row in siglent_sdg.WAVE.values())
