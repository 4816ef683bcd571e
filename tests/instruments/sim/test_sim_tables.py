"""The simulated families as command tables: rows registered in order, each family's table well formed, the
rules the two scope families share, and the typed reads of a bench config's ``[sim]`` section."""

from __future__ import annotations

import pytest

from instruments.sim import keysight_33500, rigol_dg1000z
from instruments.sim.acquisition import ChannelInput
from instruments.sim.keysight_infiniivision import KeysightInfiniiVision
from instruments.sim.rigol_ds1000z import RigolDS1000Z
from instruments.sim.scope_device import SimScope, data_format, read_mode
from instruments.sim.scope_state import Imperfections
from instruments.sim.scpi_device import CommandRow, Context, Dialect, ScpiDevice, command_of, query_of
from instruments.sim.scpi_parser import Params, ScpiError, Suffixes
from instruments.sim.sim_settings import sim_number, sim_numbers


def _quiet_inputs() -> dict[int, ChannelInput]:
    return {n: ChannelInput((), 0.0) for n in range(1, 5)}


def _scopes() -> list[SimScope]:
    return [KeysightInfiniiVision(_quiet_inputs, Imperfections()), RigolDS1000Z(_quiet_inputs, Imperfections())]


def _families() -> list[ScpiDevice]:
    generators: list[ScpiDevice] = [keysight_33500.Keysight33500(keysight_33500.make_state({})),
                                    rigol_dg1000z.RigolDG1000Z(rigol_dg1000z.make_state({}))]
    return generators + list(_scopes())


def test_register_adds_rows_in_order_and_the_first_match_answers() -> None:
    seen: list[str] = []

    def raw(ctx: Context, s: Suffixes, p: Params) -> str:
        return "raw"

    device = ScpiDevice(Dialect(idn="X,Y,0,1", signed_integers=False))
    device.register([
        CommandRow("LEVel", command_of(seen.append), query_of(lambda: "first")),
        CommandRow("LEVel[:IMMediate]", query=raw),  # also matches LEV?, but comes second
        CommandRow("TRIGger", query=raw),
    ])
    assert device.execute(b"LEV 3;LEV?;LEV:IMM?;TRIG?") == b"first;raw;raw\n"
    assert seen == ["3"]
    assert device.execute(b"TRIG 1") == b"" and device.errors() == [(-113, "Undefined header")]


@pytest.mark.parametrize("device", _families(), ids=lambda d: type(d).__name__)
def test_each_family_table_names_each_form_once(device: ScpiDevice) -> None:
    forms = [(cmd.pattern, cmd.query) for cmd in device.table]
    assert len(forms) == len(set(forms)), [f for f in forms if forms.count(f) > 1]
    assert all(callable(cmd.handler) for cmd in device.table)


def test_scope_families_share_the_acquisition_type_rule_with_their_own_spelling() -> None:
    keysight, rigol = _scopes()
    for scope, spelling in ((keysight, b"AVERage"), (rigol, b"AVERages")):
        assert scope.execute(b":ACQ:TYPE " + spelling + b";:ACQ:TYPE?") == b"AVER\n"
        assert scope.execute(b":ACQ:TYPE HRES;:ACQ:TYPE?") == b"HRES\n"
        scope.execute(b":ACQ:TYPE PEAK")
        assert scope.errors()[-1][0] == -221
    keysight.execute(b":ACQ:TYPE AVERAGES")  # Rigol's long form is not Keysight's
    assert keysight.errors()[-1][0] == -224


def test_scope_keywords_shared_by_both_families() -> None:
    assert [read_mode(v) for v in ("norm", "MAXimum", "raw")] == ["NORM", "MAX", "RAW"]
    assert [data_format(v) for v in ("byte", "WORD", "asc", "ASCII")] == ["BYTE", "WORD", "ASC", "ASC"]
    with pytest.raises(ScpiError) as e:
        read_mode("MAXI")
    assert e.value.code == -224


def test_preamble_field_queries_answer_one_field_each() -> None:
    for scope in _scopes():
        fields = scope.preamble_fields()
        for i, name in ((4, "XINC"), (6, "XREF"), (9, "YREF")):
            assert scope.execute(f":WAV:{name}?".encode()) == fields[i].encode() + b"\n"


def test_sim_settings_are_read_as_floats_and_wrong_types_are_refused() -> None:
    sim = {"a": 2, "b": [0, 0.5, -1, 3], "c": "fast", "d": [1, "x"]}
    assert sim_number(sim, "a", 1.0) == 2.0 and isinstance(sim_number(sim, "a", 1.0), float)
    assert sim_number(sim, "missing", 1.5) == 1.5
    assert sim_numbers(sim, "b", ()) == (0.0, 0.5, -1.0, 3.0)
    assert sim_numbers(sim, "missing", (0.0,) * 4) == (0.0,) * 4
    with pytest.raises(TypeError, match=r"\[sim\] c"):
        sim_number(sim, "c", 0.0)
    with pytest.raises(TypeError, match=r"\[sim\] d"):
        sim_numbers(sim, "d", ())
