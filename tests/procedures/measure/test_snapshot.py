"""The instrument snapshot (``procedures.measure.snapshot``) on the simulated bench, for both dialects it serves.

The drivers run over real pyvisa-py sockets against a :class:`~instruments.sim.bench.SimBench`; every value of
a snapshot is compared with the simulator's own state (the truth): the scope's channel settings, timebase and
memory plan, the generator's channels (converted to the load setting as the instrument reports them) and its
tracking mode. Then: a changed scale shows in the next snapshot, each setting is read once, and snapshot rows
written to a :class:`~procedures.archive.writer.RunArchive` read back with plain h5py, units included.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from instruments.bench import Bench, open_bench
from instruments.sim.bench import SimBench
from procedures.archive.spec import validate_table_spec
from procedures.archive.writer import RunArchive, RunDeclaration
from procedures.measure.snapshot import SNAPSHOT, snapshot_spec, take_snapshot

#: the simulated benches wire v1, v2, vo1, vo2 to scope channels 1-4
WIRING = {"v1": 1, "v2": 2, "vo1": 3, "vo2": 4}
MODES = {"NORM": "normal", "AVER": "average", "HRES": "highres"}
FUNCTIONS = {"SIN": "sine", "DC": "dc"}
TRACKING = {"OFF": "off", "ON": "on", "INV": "inverted"}


@pytest.fixture
def bench_on_sim(sim_bench: Callable[..., SimBench]) -> Iterator[Callable[[str], tuple[SimBench, Bench]]]:
    """Factory: ``bench_on_sim("keysight" | "rigol")`` -> (the SimBench, an open Bench on it)."""
    opened: list[Bench] = []

    def start(dialect: str) -> tuple[SimBench, Bench]:
        sim = sim_bench(dialect)
        bench = open_bench(sim.config, resources=sim.resources)
        opened.append(bench)
        return sim, bench

    yield start
    for bench in opened:
        bench.close()


def configure(bench: Bench) -> None:
    """Settings away from the power-on defaults, different on every channel, so the comparison means something."""
    gen, scope = bench.generator, bench.scope
    gen.set_load(1, math.inf)
    gen.set_sine(1, 1234.5, 0.02, 2.0, 0.0)
    gen.set_load(2, 50.0)
    gen.set_sine(2, 1234.5, 0.04, 1.0, 180.0)
    gen.set_output(1, True)
    scope.set_channel(1, enabled=True, coupling="DC", scale_v_per_div=0.02, offset_v=2.0)
    scope.set_channel(2, enabled=True, coupling="AC", scale_v_per_div=0.05, offset_v=0.0, bandwidth_limit=True)
    scope.set_channel(3, enabled=True, probe=10.0, scale_v_per_div=2.0, offset_v=3.0)
    scope.set_channel(4, enabled=False)
    scope.set_timebase(200e-6, 50e-6)
    scope.set_acquisition("average", 16)
    scope.set_record_length(scope.record_length_for(100_000, 3))


def assert_matches_simulator(row: dict[str, Any], sim: SimBench) -> None:
    """Every value of ``row`` against the simulator's state."""
    st, gen = sim.scope, sim.generator
    for i, (node, ch) in enumerate(WIRING.items()):
        c = st.channel(ch)
        assert row["scope_channel"][i] == ch, node
        assert row["scope_enabled"][i] == c.display, node
        assert row["scope_scale_v_per_div"][i] == pytest.approx(c.scale_v, rel=1e-6), node
        assert row["scope_offset_v"][i] == pytest.approx(c.centre_v, rel=1e-6, abs=1e-12), node
        assert row["scope_coupling"][i] == c.coupling, node
        assert row["scope_impedance_ohm"][i] == 1e6, node  # both simulated scopes have 1 MOhm inputs only
        assert row["scope_probe"][i] == pytest.approx(c.probe, rel=1e-6), node
        assert row["scope_bandwidth_limit"][i] == c.bw_limit, node
    assert row["timebase_s_per_div"] == pytest.approx(st.h_scale_s, rel=1e-6)
    assert row["timebase_position_s"] == pytest.approx(st.h_position_s, rel=1e-6, abs=1e-15)
    assert row["acquisition_mode"] == MODES[st.acq_type]
    assert row["averages"] == st.averages()
    assert row["sample_rate_sa_s"] == pytest.approx(st.sample_rate_sa_s(), rel=1e-6)
    assert row["record_length"] == st.record_length()
    for i, ch in enumerate((1, 2)):
        g = gen.channel(ch)
        assert row["gen_function"][i] == FUNCTIONS[g.function], ch
        assert row["gen_frequency_hz"][i] == pytest.approx(g.freq_hz, rel=1e-6), ch
        assert row["gen_amplitude_vpp"][i] == pytest.approx(g.amplitude_vpp(), rel=1e-6), ch
        assert row["gen_offset_v"][i] == pytest.approx(g.offset_v(), rel=1e-6, abs=1e-12), ch
        assert row["gen_phase_deg"][i] == pytest.approx(g.phase_deg, abs=1e-6), ch
        assert row["gen_load_ohm"][i] == g.load_ohm, ch  # inf for High-Z
        assert row["gen_output"][i] == g.output_on, ch
    assert row["gen_tracking"] == TRACKING[gen.track]


def test_spec_declares_every_row_key_and_is_storable() -> None:
    spec = snapshot_spec(WIRING)
    validate_table_spec(SNAPSHOT, spec)
    assert spec.labels == {"node": ("v1", "v2", "vo1", "vo2"), "gen_channel": ("1", "2")}
    for name, col in spec.columns.items():
        assert col.units if col.dtype in ("float64", "int64") else not col.units, name
    with pytest.raises(ValueError, match="no node"):
        snapshot_spec({})
    with pytest.raises(ValueError, match="no channel"):
        snapshot_spec(WIRING, ())


@pytest.mark.parametrize("dialect", ["keysight", "rigol"])
def test_snapshot_matches_the_simulator(dialect: str, bench_on_sim: Callable[[str], tuple[SimBench, Bench]]) -> None:
    sim, bench = bench_on_sim(dialect)
    assert sim.config.wiring.scope_channels() == WIRING
    row = take_snapshot(bench.generator, bench.scope, WIRING, 0)  # power-on state
    assert row["point_index"] == 0 and set(row) == set(snapshot_spec(WIRING).row_keys())
    assert_matches_simulator(row, sim)

    configure(bench)
    row = take_snapshot(bench.generator, bench.scope, WIRING, 7)
    assert row["point_index"] == 7
    assert_matches_simulator(row, sim)
    # what configure() set, as the instruments report it (the simulator agreed above)
    assert list(row["scope_enabled"]) == [True, True, True, False]
    assert list(row["scope_coupling"][:2]) == ["DC", "AC"] and row["scope_probe"][2] == 10.0
    assert row["acquisition_mode"] == "average" and row["averages"] == 16
    assert math.isinf(row["gen_load_ohm"][0]) and row["gen_load_ohm"][1] == 50.0
    assert list(row["gen_output"]) == [True, False] and row["gen_phase_deg"][1] == pytest.approx(180.0)

    bench.generator.set_tracking("inverted")
    row = take_snapshot(bench.generator, bench.scope, WIRING, 8)
    assert row["gen_tracking"] == "inverted"
    assert_matches_simulator(row, sim)


@pytest.mark.parametrize("dialect", ["keysight", "rigol"])
def test_a_changed_scale_is_in_the_next_snapshot(dialect: str,
                                                 bench_on_sim: Callable[[str], tuple[SimBench, Bench]]) -> None:
    sim, bench = bench_on_sim(dialect)
    configure(bench)
    before = take_snapshot(bench.generator, bench.scope, WIRING, 0)
    bench.scope.set_channel(WIRING["vo1"], scale_v_per_div=5.0)  # probe 10: 0.5 V/div at the BNC
    after = take_snapshot(bench.generator, bench.scope, WIRING, 1)
    assert before["scope_scale_v_per_div"][2] == pytest.approx(2.0)
    assert after["scope_scale_v_per_div"][2] == pytest.approx(5.0)
    assert_matches_simulator(after, sim)
    for key in ("scope_scale_v_per_div", "scope_offset_v", "gen_amplitude_vpp", "gen_frequency_hz"):
        unchanged = np.arange(4) != 2 if key.startswith("scope") else slice(None)
        np.testing.assert_array_equal(after[key][unchanged], before[key][unchanged], err_msg=key)


@pytest.mark.parametrize("wiring", [WIRING, {"v1": 1, "v2": 1}], ids=["four-channels", "one-channel-two-nodes"])
def test_each_setting_is_read_once(wiring: dict[str, int],
                                   bench_on_sim: Callable[[str], tuple[SimBench, Bench]]) -> None:
    _, bench = bench_on_sim("keysight")
    asked: list[str] = []
    for inst in (bench.generator, bench.scope):
        def counting(command: str, _query: Callable[[str], str] = inst.query) -> str:
            asked.append(command)
            return _query(command)
        inst.query = counting  # type: ignore[method-assign]
    take_snapshot(bench.generator, bench.scope, wiring, 0)
    units = Counter(u.lstrip(":") for c in asked for u in c.split(";"))  # compound queries count per unit
    repeated = {c: n for c, n in units.items() if n > 1 and "ERR" not in c.upper()}
    assert repeated == {}
    assert units["CHANnel1:SCALe?"] == 1


def test_snapshot_rows_read_back_with_h5py(tmp_path: Any,
                                          bench_on_sim: Callable[[str], tuple[SimBench, Bench]]) -> None:
    sim, bench = bench_on_sim("rigol")
    configure(bench)
    path = tmp_path / "run.h5"
    rows = []
    declaration = RunDeclaration(metadata={}, configs={}, instruments={}, tables={SNAPSHOT: snapshot_spec(WIRING)})
    with RunArchive.create(path, declaration) as ar:
        for point in range(2):
            rows.append(take_snapshot(bench.generator, bench.scope, WIRING, point))
            ar.append(SNAPSHOT, rows[-1])
            ar.commit()
            bench.scope.set_channel(1, scale_v_per_div=0.05)

    with h5py.File(path, "r") as f:
        entry = f["entry"]
        n = int(dict(zip(entry["part"].asstr()[()], entry["n_committed"][()]))[SNAPSHOT])
        g = entry[SNAPSHOT]
        assert n == 2
        assert list(g["node"].asstr()[()]) == ["v1", "v2", "vo1", "vo2"]
        assert list(g["gen_channel"].asstr()[()]) == ["1", "2"]
        units = {name: g[name].attrs.get("units") for name in ("scope_scale_v_per_div", "scope_offset_v",
                 "scope_impedance_ohm", "scope_probe", "timebase_s_per_div", "timebase_position_s",
                 "sample_rate_sa_s", "record_length", "averages", "gen_frequency_hz", "gen_amplitude_vpp",
                 "gen_offset_v", "gen_phase_deg", "gen_load_ohm", "point_index", "scope_channel")}
        assert units == {"scope_scale_v_per_div": "V", "scope_offset_v": "V", "scope_impedance_ohm": "ohm",
                         "scope_probe": "1", "timebase_s_per_div": "s", "timebase_position_s": "s",
                         "sample_rate_sa_s": "s-1", "record_length": "1", "averages": "1",
                         "gen_frequency_hz": "Hz", "gen_amplitude_vpp": "V", "gen_offset_v": "V",
                         "gen_phase_deg": "degree", "gen_load_ohm": "ohm", "point_index": "1", "scope_channel": "1"}
        assert all(g[name].attrs["long_name"] for name in snapshot_spec(WIRING).columns)
        assert list(g["point_index"][:n]) == [0, 1]
        np.testing.assert_allclose(g["scope_scale_v_per_div"][:n, 0], [0.02, 0.05])
        np.testing.assert_allclose(g["scope_scale_v_per_div"][:n], np.stack([r["scope_scale_v_per_div"] for r in rows]))
        assert g["scope_enabled"].dtype == np.int8 and list(g["scope_enabled"][0]) == [1, 1, 1, 0]
        assert [list(r) for r in g["scope_coupling"].asstr()[:n]] == [["DC", "AC", "DC", "DC"]] * 2
        assert list(g["acquisition_mode"].asstr()[:n]) == ["average"] * 2 and list(g["averages"][:n]) == [16, 16]
        assert list(g["gen_function"].asstr()[0]) == ["sine", "sine"]
        assert math.isinf(g["gen_load_ohm"][0, 0]) and g["gen_load_ohm"][0, 1] == 50.0
        assert g["gen_tracking"].asstr()[0] == "off"
        assert g["record_length"][0] == sim.scope.record_length()

    # docs/archive.md's snapshot snippet runs against this file and finds the same values
    doc = (Path(__file__).resolve().parents[3] / "docs" / "archive.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- snippet: h5py-snapshot -->\s*```python\n(.*?)```", doc, re.S)
    assert m, "docs/archive.md lost its snapshot snippet"
    ns: dict[str, Any] = {"path": str(path)}
    exec(compile(m.group(1), "docs/archive.md", "exec"), ns)
    assert ns["nodes"] == ["v1", "v2", "vo1", "vo2"] and ns["n"] == 2
    np.testing.assert_allclose(ns["vo1_scale"], [2.0, 2.0])
    assert list(ns["point"]) == [0, 1] and list(ns["mode"]) == ["average", "average"]
    assert math.isinf(ns["load_ohm"][1, 0]) and ns["coupling"][0, 1] == "AC"
