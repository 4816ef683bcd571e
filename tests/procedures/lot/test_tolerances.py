"""Units drawn from component tolerances (issue 15): ``procedures.lot.tolerances``.

Checked against computations made here, not by the module: the truncated Gaussian's spread from scipy's
``truncnorm`` and a Kolmogorov-Smirnov test against it, the documented stream (seed, k, name) redrawn with
numpy and scipy's normal quantile, the board config's own parser and simulator for what the drawn text means, and
the board config's mismatch convention ``X1 = X (1 - d/2)``, ``X2 = X (1 + d/2)`` for the two output capacitances.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
import tomllib
from scipy import special, stats

from instruments.board_config import BoardConfig, load_board, parse_board
from instruments.errors import ConfigError
from instruments.sim.board import SimBoard
from procedures.lot.tolerances import DrawnUnit, Tolerances, draw_lot, draw_unit

ROOT = Path(__file__).resolve().parents[3]
BOARDS = ROOT / "configs" / "boards"
TOML_BOARDS = sorted(p for p in BOARDS.glob("*.toml") if "[netlist]" not in p.read_text(encoding="utf-8"))
SOURCE_TEXT = BOARDS / "bjt-source-text.toml"
MOS = BOARDS / "mos-resistive.toml"
NETLIST = BOARDS / "2n3904-pair.toml"
N = 2000
TYPICAL = Tolerances(resistor_pct=1.0, capacitor_pct=10.0, beta_pct=30.0, is_pct=20.0, vth_mv=50.0,
                     matching_pct=0.5, matching_vth_mv=2.0, seed=42)
# the standard deviation of a normal truncated at +-3 sigma, in sigmas (scipy, not the module's formula)
TRUNC_STD = float(stats.truncnorm(-3.0, 3.0).std())


def _parse(unit: DrawnUnit, source: str = "<unit>") -> BoardConfig:
    return parse_board(tomllib.loads(unit.board_text), source=source, raw=unit.board_text)


def _field(cfg: BoardConfig, name: str) -> float:
    """The BoardConfig field that carries the component ``name`` (``section.key`` of the board TOML)."""
    section, key = name.split(".")
    if section == "mismatch":
        return float(getattr(cfg, f"mismatch_{key}"))
    if section in ("device", "mirror", "second_stage"):
        return float(getattr(getattr(cfg, section), key))
    if name in ("tail.r_e_ohm", "tail.size_ratio"):
        return float(getattr(cfg.tail_transistor, key))
    if name == "degeneration.bridge_r_ohm":
        return 2.0 * cfg.degeneration_r_ohm
    plain = {"inputs.source_r_ohm": "source_r_ohm", "inputs.bias_r_ohm": "bias_r_ohm", "load.r_ohm": "load_r_ohm",
             "load.c_f": "load_c_f", "tail.r_ohm": "tail_r_ohm", "tail.current_a": "tail_current_a",
             "tail.c_f": "tail_c_f", "degeneration.r_ohm": "degeneration_r_ohm"}
    return float(getattr(cfg, plain[name]))


def _one_line_error(exc: pytest.ExceptionInfo[ConfigError], *parts: str) -> str:
    text = str(exc.value)
    assert "\n" not in text
    for part in parts:
        assert part in text, text
    return text


# ---- the same unit every time


def test_unit_k_is_the_same_alone_in_a_lot_and_twice() -> None:
    design = load_board(SOURCE_TEXT)
    lot = draw_lot(design, TYPICAL, 8)
    assert [u.index for u in lot] == list(range(8))
    for k in (0, 3, 7):
        alone = draw_unit(design, TYPICAL, k)
        assert alone == lot[k] == draw_unit(design, TYPICAL, k)
    assert draw_lot(design, TYPICAL, 8) == lot


def test_different_units_and_seeds_differ() -> None:
    design = load_board(SOURCE_TEXT)
    lot = draw_lot(design, TYPICAL, 20)
    texts = {u.board_text for u in lot}
    assert len(texts) == 20
    values = np.array([[u.components[n] for n in sorted(lot[0].components)] for u in lot])
    assert np.all(np.ptp(values, axis=0) > 0.0)  # every drawn value moves between units
    other = draw_unit(design, dataclasses.replace(TYPICAL, seed=43), 0)
    assert other.components["load.r_ohm"] != lot[0].components["load.r_ohm"]


def test_a_part_draw_follows_the_documented_stream() -> None:
    """The deviation of ``load.r_ohm`` in unit k, redrawn here from the stream the module docstring names:
    SeedSequence(seed, k, SHA-256 of the name), one uniform, the quantile of the normal truncated at 3 sigma."""
    design = load_board(SOURCE_TEXT)
    tol = Tolerances(resistor_pct=5.0, seed=9)
    name = "load.r_ohm"
    stream = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")
    for k in (0, 1, 1234):
        u = np.random.default_rng([9, k, stream]).random()
        z = special.ndtri(special.ndtr(-3.0) + u * (special.ndtr(3.0) - special.ndtr(-3.0)))
        want = 40e3 * (1.0 + 0.05 * z / 3.0)
        assert draw_unit(design, tol, k).components[name] == pytest.approx(want, rel=1e-12)


def test_a_part_draw_does_not_depend_on_the_board_other_parts() -> None:
    """The load resistor's deviation in unit k is the same on an npn and an nmos board (different part sets)."""
    bjt, mos = load_board(SOURCE_TEXT), load_board(MOS)
    for k in range(5):
        e_bjt = draw_unit(bjt, TYPICAL, k).components["load.r_ohm"] / bjt.load_r_ohm - 1.0
        e_mos = draw_unit(mos, TYPICAL, k).components["load.r_ohm"] / mos.load_r_ohm - 1.0
        assert e_bjt == pytest.approx(e_mos, rel=1e-9, abs=1e-15)


# ---- what the drawn text means


@pytest.mark.parametrize("path", TOML_BOARDS, ids=lambda p: p.stem)
def test_zero_tolerances_give_the_design(path: Path) -> None:
    design = load_board(path)
    unit = draw_unit(design, Tolerances(seed=3), 5)
    parsed = _parse(unit)
    assert parsed.name == f"{design.name}-unit0006"
    assert parsed.sim_seed == int(np.random.SeedSequence([3, 5]).generate_state(1)[0])  # the unit's own noise
    assert dataclasses.replace(parsed, source=design.source, raw=design.raw, name=design.name,
                               sim_seed=design.sim_seed) == design
    for name, value in unit.components.items():
        assert value == _field(design, name), name


@pytest.mark.parametrize("path", TOML_BOARDS, ids=lambda p: p.stem)
def test_the_board_carries_every_drawn_value(path: Path) -> None:
    design = load_board(path)
    for unit in draw_lot(design, TYPICAL, 3):
        parsed = _parse(unit)
        assert unit.components, "nothing drawn"
        for name, value in unit.components.items():
            assert _field(parsed, name) == pytest.approx(value, rel=1e-15, abs=0.0), name
        # what no tolerance touches stays the design's
        assert (parsed.vcc_v, parsed.bias_v, parsed.pass_fail) == (design.vcc_v, design.bias_v, design.pass_fail)
        assert parsed.device.early_v == design.device.early_v and parsed.device.kp_a_per_v2 == design.device.kp_a_per_v2


def test_the_unit_name_stays_a_valid_board_name() -> None:
    raw = SOURCE_TEXT.read_text(encoding="utf-8").replace('name = "bjt-source-text"', f'name = "{"x" * 64}"')
    design = parse_board(tomllib.loads(raw), source="<long>", raw=raw)
    parsed = _parse(draw_unit(design, TYPICAL, 12344))
    assert parsed.name == "x" * (64 - len("-unit12345")) + "-unit12345"


def test_units_do_not_share_their_board_noise() -> None:
    design = load_board(SOURCE_TEXT)
    seeds = [_parse(u).sim_seed for u in draw_lot(design, TYPICAL, 20)]
    assert len(set(seeds)) == 20


# ---- the distribution


def test_resistors_spread_as_a_gaussian_truncated_at_the_tolerance() -> None:
    design = load_board(SOURCE_TEXT)
    pct = 5.0
    e = np.array([u.components["load.r_ohm"] for u in draw_lot(design, Tolerances(resistor_pct=pct, seed=11), N)])
    e = e / design.load_r_ohm - 1.0
    sigma = pct / 300.0
    assert np.max(np.abs(e)) <= pct / 100.0 * (1.0 + 1e-12)  # truncated at the tolerance
    assert np.max(np.abs(e)) > 0.8 * pct / 100.0  # ... and reaching into the band's tails
    assert np.std(e) == pytest.approx(TRUNC_STD * sigma, rel=0.06)  # 0.06: ~4 x the sample std's own 1.6 %
    assert abs(np.mean(e)) < 4.0 * sigma / math.sqrt(N)
    assert stats.kstest(e / sigma, stats.truncnorm(-3.0, 3.0).cdf).pvalue > 1e-3


def test_matching_is_zero_mean_about_the_design_mismatch() -> None:
    bjt, mos = load_board(SOURCE_TEXT), load_board(MOS)
    tol = Tolerances(matching_pct=1.0, matching_vth_mv=3.0, seed=5)
    for design, name, nominal, band in ((bjt, "mismatch.load_r", bjt.mismatch_load_r, 0.01),
                                        (bjt, "mismatch.device", bjt.mismatch_device, 0.01),
                                        (mos, "mismatch.vth_v", mos.mismatch_vth_v, 3e-3)):
        delta = np.array([u.components[name] for u in draw_lot(design, tol, N)]) - nominal
        assert abs(np.mean(delta)) < 4.0 * band / 3.0 / math.sqrt(N), name
        assert np.std(delta) == pytest.approx(TRUNC_STD * band / 3.0, rel=0.06), name
        assert np.max(np.abs(delta)) <= band * (1.0 + 1e-9), name


def test_output_capacitances_are_drawn_each_on_its_own_in_the_board_convention() -> None:
    """Recover C1 = C (1 - d/2) and C2 = C (1 + d/2) from the drawn mean and mismatch: each within its band about
    its own design value, uncorrelated with the other."""
    design = load_board(SOURCE_TEXT)
    raw = design.raw.replace("device = 0.01", "device = 0.01\nload_c = 0.1")
    design = parse_board(tomllib.loads(raw), source="<load_c>", raw=raw)
    band = 0.10
    units = draw_lot(design, Tolerances(capacitor_pct=100 * band, seed=2), N)
    c, d = (np.array([u.components[n] for u in units]) for n in ("load.c_f", "mismatch.load_c"))
    e1 = c * (1 - d / 2) / (design.load_c_f * (1 - design.mismatch_load_c / 2)) - 1.0
    e2 = c * (1 + d / 2) / (design.load_c_f * (1 + design.mismatch_load_c / 2)) - 1.0
    for e in (e1, e2):
        assert np.max(np.abs(e)) <= band * (1.0 + 1e-9)
        assert np.std(e) == pytest.approx(TRUNC_STD * band / 3.0, rel=0.06)
    assert abs(np.corrcoef(e1, e2)[0, 1]) < 4.0 / math.sqrt(N)


def test_a_transistor_tail_draws_its_own_saturation_current() -> None:
    design = load_board(BOARDS / "bjt-transistor-tail.toml")
    assert design.tail_transistor is not None and design.device.is_a is not None
    band = 0.2
    units = draw_lot(design, Tolerances(is_pct=100 * band, seed=8), N)
    own = np.array([u.components["device.is_a"] * u.components["tail.size_ratio"] for u in units])
    pair = np.array([u.components["device.is_a"] for u in units])
    e_own = own / (design.device.is_a * design.tail_transistor.size_ratio) - 1.0
    assert np.max(np.abs(e_own)) <= band * (1.0 + 1e-9)
    assert np.std(e_own) == pytest.approx(TRUNC_STD * band / 3.0, rel=0.06)
    assert abs(np.corrcoef(e_own, pair)[0, 1]) < 4.0 / math.sqrt(N)


# ---- the simulator builds the drawn board


@pytest.mark.parametrize("stem", ["bjt-source-text", "mos-resistive", "bjt-two-stage", "bjt-transistor-tail",
                                  "bjt-split-tail", "mos-telescopic"])
def test_the_simulator_builds_a_drawn_board_and_its_gain_moves(stem: str) -> None:
    design = load_board(BOARDS / f"{stem}.toml")
    add = abs(SimBoard.from_config(design).small_signal_s(1e3)[0, 0])
    same = abs(SimBoard.from_config(_parse(draw_unit(design, Tolerances(seed=1), 0))).small_signal_s(1e3)[0, 0])
    assert same == pytest.approx(add, rel=1e-12)
    resistors = Tolerances(resistor_pct=5.0, seed=1)
    moved = [abs(SimBoard.from_config(_parse(u)).small_signal_s(1e3)[0, 0]) for u in draw_lot(design, resistors, 2)]
    for gain in moved:
        assert gain != pytest.approx(add, rel=1e-4)
        assert gain == pytest.approx(add, rel=0.3)  # 5 % parts: a gain near the design's, not another circuit


# ---- refusals: one line naming the file and the key


@pytest.mark.parametrize(("table", "key", "says"), [
    ({"resistr_pct": 1.0}, "[tolerances] resistr_pct", "did you mean 'resistor_pct'"),
    ({"colour": "red"}, "[tolerances] colour", "known keys: beta_pct, capacitor_pct, is_pct"),
    ({"resistor_pct": -1.0}, "[tolerances] resistor_pct", "must be >= 0"),
    ({"capacitor_pct": 50.0}, "[tolerances] capacitor_pct", "must be < 50"),
    ({"vth_mv": 500}, "[tolerances] vth_mv", "must be < 500"),
    ({"matching_pct": "1 %"}, "[tolerances] matching_pct", "expected a number"),
    ({"beta_pct": True}, "[tolerances] beta_pct", "expected a number"),
    ({"is_pct": math.nan}, "[tolerances] is_pct", "NaN"),
    ({"matching_vth_mv": math.inf}, "[tolerances] matching_vth_mv", "must be finite"),
    ({"seed": -1}, "[tolerances] seed", "must be >= 0"),
    ({"seed": 1.5}, "[tolerances] seed", "expected a whole number"),
    ({"seed": True}, "[tolerances] seed", "expected a whole number"),
])
def test_bad_tables_are_one_line_errors_naming_the_key(table: dict[str, object], key: str, says: str) -> None:
    with pytest.raises(ConfigError) as exc:
        Tolerances.from_table(table, "configs/lots/pilot.toml")
    text = _one_line_error(exc, key, says)
    assert text.startswith("configs/lots/pilot.toml: ")


def test_a_good_table_and_its_defaults() -> None:
    tol = Tolerances.from_table({"resistor_pct": 1, "matching_vth_mv": 2.5, "seed": 7}, "lot.toml")
    assert tol == Tolerances(resistor_pct=1.0, matching_vth_mv=2.5, seed=7)
    assert Tolerances.from_table({}, "lot.toml") == Tolerances()
    with pytest.raises(ConfigError):
        Tolerances(resistor_pct=60.0)


def test_a_netlist_board_is_refused_in_one_line() -> None:
    design = load_board(NETLIST)
    for draw in (lambda: draw_unit(design, TYPICAL, 0), lambda: draw_lot(design, TYPICAL, 3)):
        with pytest.raises(ConfigError) as exc:
            draw()
        _one_line_error(exc, str(NETLIST), "tolerances are not yet drawn for netlist boards", "2n3904-pair")


def test_a_bad_unit_index_or_lot_size_is_refused() -> None:
    design = load_board(SOURCE_TEXT)
    assert draw_lot(design, TYPICAL, 0) == []
    for k in (-1, True, 1.0):
        with pytest.raises(ValueError):
            draw_unit(design, TYPICAL, k)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        draw_lot(design, TYPICAL, -1)
