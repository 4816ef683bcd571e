"""The driver registry: *IDN? model matching for every family, configured-driver checks, lazy loading,
and ``import instruments`` staying light."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from instruments import registry
from instruments.bench_config import GENERATOR_DRIVERS, SCOPE_DRIVERS
from instruments.errors import DiffbenchError, InstrumentError
from instruments.generator import FunctionGenerator

# Realistic *IDN? replies (formats from docs/reference/scpi.md §3 and §4; serials and firmware made up).
IDN_CASES = [
    ("Agilent Technologies,33522B,MY52800000,5.00-1.19-2.00-58-00", "keysight_33500"),
    ("Keysight Technologies,33622A,MY58000000,A.02.03-3.15-03-64-02", "keysight_33500"),
    ("Agilent Technologies,33510B,MY52200000,3.05-1.19-2.00-52-00", "keysight_33500"),
    ("Keysight Technologies,33522B,MY59000000,A.03.03-3.15-03-64-02", "keysight_33500"),
    ("Rigol Technologies,DG1062Z,DG1ZA000000000,00.01.14", "rigol_dg1000z"),
    ("Rigol Technologies,DG812,DG8A000000000,00.01.02", "rigol_dg1000z"),
    ("RIGOL TECHNOLOGIES,DG952,DG9A000000000,00.02.05", "rigol_dg1000z"),
    ("Siglent Technologies,SDG2042X,SDG2XCA0000000,2.01.01.35R3B2", "siglent_sdg"),
    ("Siglent Technologies,SDG1032X,SDG1XDCC0R0000,1.01.01.33R1", "siglent_sdg"),
    ("*IDN SDG,SDG2122X,SDG2XFBC0R0000,2.01.01.39R7T2", "siglent_sdg"),
    ("TEKTRONIX,AFG31022,C010000,SCPI:99.0 FV:1.5.2", "tektronix_afg31000"),
    ("TEKTRONIX,AFG1062,1000000,SCPI:99.0 FV:V1.0.2", "tektronix_afg31000"),
    ("KEYSIGHT TECHNOLOGIES,DSO-X 1204G,CN59000000,02.12.2021071625", "keysight_infiniivision"),
    ("KEYSIGHT TECHNOLOGIES,DSOX3024T,MY58000000,07.50.2021102830", "keysight_infiniivision"),
    ("AGILENT TECHNOLOGIES,MSO-X 2024A,MY53000000,02.43.2018020635", "keysight_infiniivision"),
    ("RIGOL TECHNOLOGIES,DS1054Z,DS1ZA000000000,00.04.04.SP3", "rigol_ds1000z"),
    ("RIGOL TECHNOLOGIES,DHO804,DHO8A000000000,00.01.04", "rigol_ds1000z"),
    ("Siglent Technologies,SDS1104X-E,SDSMMEBD0R0000,8.2.6.1.37R9", "siglent_sds"),
    ("Siglent Technologies,SDS2104X Plus,SDS2PDDX0R0000,1.3.9R6", "siglent_sds"),
    ("Siglent Technologies,SDS824X HD,SDS08A0000000,3.8.12.1.1.3.8", "siglent_sds"),
    ("TEKTRONIX,MSO44,C012345,CF:91.1CT FV:1.30.6.1169", "tektronix_mso"),
    ("TEKTRONIX,MSO54,B012345,CF:91.1CT FV:1.28.2.1", "tektronix_mso"),
    ("TEKTRONIX,MSO64,C012345,CF:91.1CT FV:1.44.3.433", "tektronix_mso"),
    ("TEKTRONIX,MSO46B,C0123456,CF:91.1CT FV:2.6.38.1348", "tektronix_mso"),
    ("TEKTRONIX,TBS2104,C010000,CF:91.1CT FV:v1.17.11", "tektronix_mso"),
    ("TEKTRONIX,TBS 1102B-EDU,C010000,CF:91.1CT FV:v4.05", "tektronix_mso"),
]


def test_registry_names_are_the_config_names():
    assert [d.name for d in registry.DRIVERS.values() if d.kind == "generator"] == list(GENERATOR_DRIVERS)
    assert [d.name for d in registry.DRIVERS.values() if d.kind == "scope"] == list(SCOPE_DRIVERS)


@pytest.mark.parametrize("idn, driver", IDN_CASES)
def test_idn_picks_the_family_driver(idn, driver):
    info = registry.match(idn)
    assert info is not None and info.name == driver
    assert registry.driver_for_idn(idn, info.kind).name == driver


@pytest.mark.parametrize("idn, driver", IDN_CASES)
def test_each_identity_matches_exactly_one_family(idn, driver):
    model = registry.parse_idn(idn).model
    assert [d.name for d in registry.DRIVERS.values() if d.matches(model)] == [driver]


@pytest.mark.parametrize("idn", [
    "Rohde&Schwarz,RTB2004,1333.1005k04/102345,02.300",
    "Keysight Technologies,33250A,MY40000000,2.06",
    "RIGOL TECHNOLOGIES,MSO5074,MS5A000000000,00.01.03",
])
def test_unknown_instrument_gives_one_clear_error(idn):
    assert registry.match(idn) is None
    with pytest.raises(InstrumentError) as info:
        registry.driver_for_idn(idn, "scope", "scope at TCPIP0::10.0.0.2::5025::SOCKET")
    text = str(info.value)
    assert text.startswith("scope at TCPIP0::10.0.0.2::5025::SOCKET: ") and idn in text
    assert "no diffbench scope driver serves model" in text and "\n" not in text


def test_a_scope_at_the_generator_address_is_named_as_such():
    with pytest.raises(InstrumentError, match="a Keysight/Agilent InfiniiVision X-series oscilloscope .*not a "
                                              r"generator: check the \[generator\] resource"):
        registry.driver_for_idn("KEYSIGHT TECHNOLOGIES,DSOX1204G,CN1,1.0", "generator", "generator at X")


def test_parse_idn_fields():
    ident = registry.parse_idn("Agilent Technologies,33522B,MY52800000,5.00-1.19-2.00-58-00\n")
    assert (ident.maker, ident.model, ident.serial, ident.firmware) == (
        "Agilent Technologies", "33522B", "MY52800000", "5.00-1.19-2.00-58-00")
    assert ident.short == "Agilent 33522B"


# -- configured drivers -------------------------------------------------------------------------------------
def test_configured_driver_that_fits_is_accepted():
    info = registry.check_driver("rigol_dg1000z", "Rigol Technologies,DG1062Z,DG1ZA1,00.01.14", "generator")
    assert info.class_name == "RigolDG1000Z"


def test_configured_driver_of_another_family_is_refused_naming_the_one_that_fits():
    idn = "Keysight Technologies,33522B,MY59000000,A.03.03"
    with pytest.raises(InstrumentError) as info:
        registry.check_driver("rigol_dg1000z", idn, "generator", "generator Keysight 33522B at TCPIP0::h::5025::SOCKET")
    text = str(info.value)
    assert text.startswith("generator Keysight 33522B at TCPIP0::h::5025::SOCKET: ")
    assert "'rigol_dg1000z'" in text and idn in text and "the driver that fits is 'keysight_33500'" in text


def test_configured_driver_for_an_unknown_model_is_refused():
    with pytest.raises(InstrumentError, match="no diffbench driver serves model 'RTB2004'"):
        registry.check_driver("rigol_ds1000z", "Rohde&Schwarz,RTB2004,1,2", "scope")


def test_configured_driver_of_the_wrong_kind_is_refused():
    with pytest.raises(InstrumentError, match="unknown generator driver 'rigol_ds1000z'"):
        registry.check_driver("rigol_ds1000z", "RIGOL TECHNOLOGIES,DS1054Z,DS1ZA1,00.04.04", "generator")


# -- lazy loading -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", GENERATOR_DRIVERS)
def test_generator_drivers_load_by_name(name):
    cls = registry.load_driver(name)
    assert issubclass(cls, FunctionGenerator) and cls.__name__ == registry.DRIVERS[name].class_name


def test_dho_models_get_the_dho_variant_of_rigol_ds1000z():
    info = registry.DRIVERS["rigol_ds1000z"]
    assert (info.variant_for("DHO804").module, info.variant_for("DHO804").class_name) == (
        "instruments.rigol_dho", "RigolDHO")
    assert info.variant_for("DS1054Z").class_name == "RigolDS1000Z"
    assert info.variant_for(None).class_name == "RigolDS1000Z"


def test_legacy_siglent_scopes_get_the_legacy_variant():
    info = registry.DRIVERS["siglent_sds"]
    assert info.variant_for("SDS1104X-E").module == "instruments.siglent_sds1000xe"
    assert (info.variant_for("SDS2104X Plus").module == info.variant_for("SDS824X HD").module
            == "instruments.siglent_sds")


def test_missing_driver_module_fails_only_when_loaded(monkeypatch):
    broken = registry.DriverInfo("rigol_ds1000z", "scope", "test family",
                                 (registry.Variant((r"DS1054Z",), "instruments.no_such_module", "Nope"),))
    monkeypatch.setitem(registry.DRIVERS, "rigol_ds1000z", broken)
    assert registry.match("RIGOL TECHNOLOGIES,DS1054Z,DS1ZA1,00.04.04").name == "rigol_ds1000z"
    with pytest.raises(DiffbenchError, match=r"driver 'rigol_ds1000z' \(instruments.no_such_module.Nope\) "
                                             "cannot be loaded: ModuleNotFoundError"):
        registry.load_driver("rigol_ds1000z", "DS1054Z")


def test_broken_driver_module_fails_only_when_loaded(monkeypatch, tmp_path):
    (tmp_path / "diffbench_broken_driver.py").write_text("raise RuntimeError('half-written driver')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    broken = registry.DriverInfo("siglent_sds", "scope", "test",
                                 (registry.Variant((), "diffbench_broken_driver", "SiglentSDS"),))
    monkeypatch.setitem(registry.DRIVERS, "siglent_sds", broken)
    with pytest.raises(DiffbenchError, match="RuntimeError: half-written driver"):
        registry.load_driver("siglent_sds")


def test_matching_imports_no_driver_module():
    code = textwrap.dedent("""
        import sys
        from instruments import registry
        for idn in ("RIGOL TECHNOLOGIES,DS1054Z,x,y", "Agilent Technologies,33522B,x,y", "TEKTRONIX,MSO44,x,y"):
            registry.match(idn)
        loaded = sorted(m for m in sys.modules if m.split(".")[-1] in
                        {d.module.split(".")[-1] for d in registry.DRIVERS.values()} or m == "pyvisa")
        print(",".join(loaded))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_import_instruments_is_light(capsys, record_property):
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import instruments"],
                         capture_output=True, text=True, check=True)
    rows = [line.split("|") for line in out.stderr.splitlines() if line.startswith("import time:")]
    modules = {row[-1].strip() for row in rows}
    tops = {m.split(".")[0] for m in modules}
    for heavy in ("pyvisa", "numpy", "pandas", "matplotlib"):
        assert heavy not in tops, f"`import instruments` imports {heavy}"
    cumulative_us = next(int(row[1]) for row in rows if row[-1].strip() == "instruments")
    record_property("import_instruments_us", cumulative_us)
    with capsys.disabled():
        print(f"\n`import instruments`: {cumulative_us / 1000:.1f} ms cumulative, {len(modules)} modules")
