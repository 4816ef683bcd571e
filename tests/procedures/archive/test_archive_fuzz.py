"""An archive fuzzer: every damaged or crafted archive given to ``open_run``, ``diffbench fit``, ``diffbench
report`` and ``check_resumable`` either works or is refused in one line (an ``ArchiveError``; exit 2 from the
CLI), never with a traceback, and is never modified.

The mutants start from small real archives made by the writer (the procedures' own table declarations, raw
records, a stored fit and verdicts): a finished one, one closed without ``finish`` (status ``running``) and one
copied while its writer still had it open (what a kill leaves). Mutations: attributes of other types, JSON of
other shapes, TOML of other shapes, every group, dataset and group attribute deleted in turn, counters beyond
the extents or negative or of other types, datasets of other dtypes or shapes, truncation at many offsets,
zeroed regions, an HDF5 signature followed by zeros. Seeded (``DIFFBENCH_FUZZ_SEED``) and bounded; the CLIs run
in-process on every mutant ``open_run`` accepts and on a seeded sample of the refused ones.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os
import random
import shutil
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from procedures.archive.reader import open_run
from procedures.archive.resume import check_resumable
from procedures.archive.writer import ArchiveError, RunArchive, RunDeclaration, WaveformSpec

REPO = Path(__file__).resolve().parents[3]
SEED = int(os.environ.get("DIFFBENCH_FUZZ_SEED", "20261122"))
PROCEDURE = (REPO / "configs" / "procedures" / "dc-transfer.toml").read_text()
BOARD = (REPO / "configs" / "boards" / "bjt-source-text.toml").read_text()
N_SAMPLES = 64
N_POINTS = 5
N_TRUNCATIONS = 16
N_ZEROED = 16
CHECK_RESUMABLE_SAMPLE = 30  # of the mutants of the finished base (refused for their status anyway)
RESUME_SHARE = 0.2  # of the mutants check_resumable accepts, resumed for real (fsyncs are slow)
CLI_ACCEPTED, CLI_REFUSED = 4, 3  # diffbench fit on a seeded sample of the mutants open_run accepted / refused
REPORT_CONFIGS, REPORT_ACCEPTED, REPORT_REFUSED = 7, 2, 2  # diffbench report likewise (its figures are slow)
INSTRUMENTS = {
    "generator": {"idn": "Agilent Technologies,33522B,MY52800123,3.05", "resource": "TCPIP0::127.0.0.1::5025::SOCKET",
                  "driver": "keysight_33500", "settings": {"load_ohm": 50}},
    "scope": {"idn": "KEYSIGHT TECHNOLOGIES,DSO-X 1204G,CN61234567,02.12",
              "resource": "TCPIP0::127.0.0.1::5026::SOCKET",
              "driver": "keysight_infiniivision", "settings": {}},
}


# ----------------------------------------------------------------------------------------------------------
# The base archives


def _dc_rows() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows = []
    for v in np.linspace(-0.2, 0.2, 21):
        vod = -3.5 * math.tanh((v - 0.0007) / 0.0476)
        rows.append({"vid_v": v, "vid_v_u": 1e-4, "vic_v": 2.0, "vo1_v": 3.0 + vod / 2, "vo2_v": 3.0 - vod / 2,
                     "vod_v": vod, "vod_v_u": 1e-4, "link_u_rel": np.full(4, 2e-5)})
    return rows, {"offset_v": 0.0007, "slope": -73.5}


def _point_row(i: int) -> dict[str, Any]:
    from procedures.measure.acquisition import NODES

    z = np.ones(4, complex) * (1 + i)
    return {"key": f"dc-{i}", "sweep": "dc_transfer", "role": "dc", "group": i, "mode": "dc", "tied": False,
            "probes": "normal", "frequency_hz": 0.0, "vid_vpk_nominal": 0.0, "vic_vpk_nominal": 0.0,
            "vid_dc_v_nominal": -0.2 + 0.1 * i, "bias_v": 2.0, "phasor": z, "phasor_u": z * 1e-3,
            "dc_v": np.arange(4.0) + i, "harmonics": np.zeros((4, 1), complex), "residual_rms_v": np.full(4, 1e-4),
            "scale_v_per_div": np.full(4, 0.1), "offset_v": np.zeros(4), "clipped": "", "ranging_attempts": 1,
            "n_records": 1 if len(NODES) else 0, "full_acquisitions": 1, "short_acquisitions": 0, "short_points": 0}


def _create(path: Path) -> RunArchive:
    from procedures.analysis.results import result_tables
    from procedures.measure.acquisition import NODES
    from procedures.measure.point_table import points_table

    tables = {"points": points_table(2), **result_tables("dc_transfer")}
    return RunArchive.create(path, RunDeclaration(
        metadata={"procedure": "dc-transfer", "kind": "dc_transfer", "board": "bjt-source-text",
                  "bench": "fuzz-bench", "planned_points": N_POINTS},
        configs={"procedure": PROCEDURE, "bench": '[bench]\nname = "fuzz-bench"\n', "board": BOARD},
        instruments=INSTRUMENTS, tables=tables, waveform_spec=WaveformSpec(NODES, N_SAMPLES, "int16")))


def _write_points(ar: RunArchive) -> None:
    for i in range(N_POINTS):
        codes = (np.arange(4 * N_SAMPLES, dtype=np.int16).reshape(4, N_SAMPLES) * (i + 1)) % 3000
        ar.append_record(i, codes, y_increment=1e-3, y_origin=0.0, y_reference=0.0, x_increment=1e-6, x_origin=0.0)
        ar.append("points", _point_row(i))
        ar.commit()


def _write_results(ar: RunArchive) -> None:
    import tomllib

    from instruments.board_config import parse_board
    from procedures.fitting.run_fits import fit_options, fit_tables, store_fits, tables_from_rows

    rows, summary = _dc_rows()
    for r in rows:
        ar.append("dc", r)
    ar.append("dc_summary", summary)
    ar.commit()
    board = parse_board(tomllib.loads(BOARD), source="fuzz board", raw=BOARD)
    store_fits(ar, fit_tables({"dc": tables_from_rows(rows)}, board, fit_options({})))
    ar.write_result("verdicts", {"limit": np.array(["offset_max"], dtype=object), "measured": np.array([7e-4]),
                                 "threshold": np.array([5e-3]), "passed": np.array([True])},
                    attrs={"overall": "pass"})


@dataclass(frozen=True)
class Bases:
    complete: Path  # finished: status complete, results stored
    closed: Path  # closed without finish(): status running, points and results committed
    killed: Path  # copied while its writer had it open: marked "open for SWMR write"


def make_bases(d: Path) -> Bases:
    """The three base archives of the fuzzer (small: a few hundred kB)."""
    d.mkdir(parents=True, exist_ok=True)
    complete = d / "complete.h5"
    ar = _create(complete)
    _write_points(ar)
    _write_results(ar)
    ar.finish("complete")
    closed = d / "closed.h5"
    ar = _create(closed)
    _write_points(ar)
    killed = d / "killed.h5.partial"
    shutil.copyfile(ar.partial_path, killed)  # the writer is still open: what a SIGKILL leaves
    _write_results(ar)
    ar._abandon()  # closed without finish, like a kill after the results were committed
    closed = ar.partial_path
    return Bases(complete, closed, killed)


# ----------------------------------------------------------------------------------------------------------
# Mutations


Mutation = Callable[[Path], None]  # edits the copy at the given path


def _set_attr(obj_path: str, key: str, value: Any) -> Mutation:
    def m(p: Path) -> None:
        with h5py.File(p, "r+") as f:
            f[obj_path].attrs[key] = value
    return m


def _del_attr(obj_path: str, key: str) -> Mutation:
    def m(p: Path) -> None:
        with h5py.File(p, "r+") as f:
            del f[obj_path].attrs[key]
    return m


def _del_obj(obj_path: str) -> Mutation:
    def m(p: Path) -> None:
        with h5py.File(p, "r+") as f:
            del f[obj_path]
    return m


def _replace_ds(obj_path: str, data: Any) -> Mutation:
    def m(p: Path) -> None:
        with h5py.File(p, "r+") as f:
            del f[obj_path]
            f[obj_path] = data
    return m


def _set_values(obj_path: str, value: float) -> Mutation:
    def m(p: Path) -> None:
        with h5py.File(p, "r+") as f:
            f[obj_path][...] = value
    return m


def _counters(values: Callable[[np.ndarray], np.ndarray]) -> Mutation:
    def m(p: Path) -> None:
        with h5py.File(p, "r+") as f:
            ds = f["entry/n_committed"]
            ds[...] = values(ds[()])
    return m


def _truncate(at: int) -> Mutation:
    def m(p: Path) -> None:
        with open(p, "r+b") as fh:
            fh.truncate(at)
    return m


def _zero(at: int, n: int) -> Mutation:
    def m(p: Path) -> None:
        with open(p, "r+b") as fh:
            fh.seek(at)
            fh.write(b"\0" * n)
    return m


def _signature_then_zeros(size: int | None) -> Mutation:
    def m(p: Path) -> None:
        n = p.stat().st_size if size is None else size
        p.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * (n - 8))
    return m


BAD_VALUES: dict[str, Any] = {
    "int": np.int64(5), "float_nan": np.float64("nan"), "int_array": np.array([1, 2, 3]),
    "bad_utf8_bytes": np.bytes_(b"\xff\xfe\x80"), "str_array": np.array(["a", "b"], dtype=h5py.string_dtype()),
    "empty": "", "long_multiline": "x\n" * 5000,
}
BAD_JSON = {"list": "[]", "number": "3", "null": "null", "string": '"x"', "empty_object": "{}",
            "not_json": "{oops", "deep": "[" * 5000 + "]" * 5000, "nan": "NaN",
            "columns_list": '{"columns": []}', "column_number": '{"columns": {"x": 5}}',
            "column_dtype": '{"columns": {"x": {"dtype": "complex64", "units": "1", "long_name": "x", "shape": [],'
                            ' "uncertainty": false}}}',
            "column_shape": '{"columns": {"x": {"dtype": "float64", "units": "1", "long_name": "x", "shape": [-1],'
                            ' "uncertainty": false}}}',
            "arrays_list": '{"arrays": [1, 2]}', "array_dtype": '{"arrays": {"value": {"dtype": "weird", "dims": []}}}',
            "waveforms_wrong": '{"channels": "v1", "n_samples": -3, "dtype": "float32", "compress": false}'}
BAD_TOML = {"board_number": "board = 5\n", "board_name_number": "[board]\nname = 3\n", "empty": "",
            "not_toml": "[board\n", "procedure_kind": '[procedure]\nname = 3\nkind = 5\n', "array": "board = [1, 2]\n",
            "procedure_number": "procedure = 5\n"}
ATTRS_TEXT = [("/", "status"), ("/", "reason"), ("/", "file_format"), ("/", "format_version"),
              ("/entry", "run_id"), ("/entry", "start_time"), ("/entry", "end_time"), ("/entry", "software_version"),
              ("/entry", "metadata_json"), ("/entry", "resumed_json"), ("/entry/configs", "procedure"),
              ("/entry/configs", "board"), ("/entry/instrument/scope", "idn"),
              ("/entry/instrument/scope", "settings_json"), ("/entry/dc", "diffbench_spec"),
              ("/entry/dc", "diffbench_role"), ("/entry/points", "diffbench_spec"),
              ("/entry/waveforms", "diffbench_spec"), ("/entry/results/verdicts", "diffbench_spec"),
              ("/entry/results/fit_dc_transfer", "diffbench_spec"), ("/entry/results/fit_dc_transfer", "success"),
              ("/entry/results/fit_dc_transfer", "quantities"), ("/entry/results/fit_dc_transfer", "fit_name")]
ATTRS_JSON = [("/entry", "metadata_json"), ("/entry", "resumed_json"), ("/entry/instrument/generator", "settings_json"),
              ("/entry/dc", "diffbench_spec"), ("/entry/points", "diffbench_spec"),
              ("/entry/waveforms", "diffbench_spec"), ("/entry/results/verdicts", "diffbench_spec"),
              ("/entry/results/fit_dc_transfer", "diffbench_spec")]


def structural_mutations(base: Path, rng: random.Random, share: float = 1.0) -> Iterator[tuple[str, Mutation]]:
    """Mutations made through h5py (the base must open read-write: not a killed writer's file). Each attribute
    gets a seeded choice of bad values and JSON shapes; ``share`` of the deletions is kept (seeded)."""
    with h5py.File(base, "r") as f:
        objects: list[str] = []
        f.visit(lambda name: objects.append("/" + name))
        group_attrs = [(g, k) for g in ["/"] + [o for o in objects if isinstance(f[o], h5py.Group)]
                       for k in f[g].attrs]
        present = {o for o in ["/"] + objects}
    for obj, key in ATTRS_TEXT:
        if obj in present:
            for label in rng.sample(sorted(BAD_VALUES), 2):
                yield f"attr {obj}@{key} = {label}", _set_attr(obj, key, BAD_VALUES[label])
    for obj, key in ATTRS_JSON:
        if obj in present:
            for label in rng.sample(sorted(BAD_JSON), 3):
                yield f"json {obj}@{key} = {label}", _set_attr(obj, key, BAD_JSON[label])
    for key in ("board", "procedure"):
        for label, text in BAD_TOML.items():
            yield f"toml configs@{key} = {label}", _set_attr("/entry/configs", key, text)
    deletions = [(f"delete {obj}", _del_obj(obj)) for obj in objects] + \
        [(f"delete attr {obj}@{key}", _del_attr(obj, key)) for obj, key in group_attrs]
    yield from rng.sample(deletions, round(share * len(deletions)))
    for obj, value in (("/entry/dc/vod_v", np.nan), ("/entry/dc/vid_v", np.inf), ("/entry/dc/vod_v_u", -1.0),
                       ("/entry/dc/vid_v", 1e308), ("/entry/dc_summary/slope", np.nan), ("/entry/points/dc_v", -1e300)):
        yield f"values {obj} = {value}", _set_values(obj, value)
    yield "counters +1", _counters(lambda c: c + 1)
    yield "counters +1000", _counters(lambda c: c + 1000)
    yield "counters 2**62", _counters(lambda c: np.full_like(c, 2**62))
    yield "counters -1", _counters(lambda c: c * 0 - 1)
    yield "counters int64 min", _counters(lambda c: np.full_like(c, np.iinfo(np.int64).min))
    yield "n_committed float", _replace_ds("/entry/n_committed", np.array([1.5, 2.5, 3.5, 4.5]))
    yield "n_committed strings", _replace_ds("/entry/n_committed",
                                             np.array(["1", "2", "3", "4"], dtype=h5py.string_dtype()))
    yield "n_committed 2-D", _replace_ds("/entry/n_committed", np.zeros((2, 2), np.int64))
    yield "n_committed scalar", _replace_ds("/entry/n_committed", np.int64(3))
    yield "part integers", _replace_ds("/entry/part", np.arange(4))
    yield "part short", _replace_ds("/entry/part", np.array(["points"], dtype=h5py.string_dtype()))
    yield "part twice", _replace_ds("/entry/part", np.array(["dc", "dc", "dc", "dc"], dtype=h5py.string_dtype()))
    yield "part unknown", _replace_ds("/entry/part", np.array(["a", "b", "c", "d"], dtype=h5py.string_dtype()))
    yield "dtype dc/vid_v strings", _replace_ds("/entry/dc/vid_v", np.array(["x"] * 21, dtype=h5py.string_dtype()))
    yield "dtype dc/vid_v compound", _replace_ds("/entry/dc/vid_v", np.zeros(21, dtype=[("a", "f8"), ("b", "i4")]))
    yield "dtype points/key floats", _replace_ds("/entry/points/key", np.zeros(N_POINTS))
    yield "dtype waveforms/code float", _replace_ds("/entry/waveforms/code", np.zeros((N_POINTS, 4, N_SAMPLES)))
    yield "dtype waveforms/point strings", _replace_ds("/entry/waveforms/point",
                                                       np.array(["0"] * N_POINTS, dtype=h5py.string_dtype()))
    yield "shape dc/vid_v 2-D", _replace_ds("/entry/dc/vid_v", np.zeros((21, 3)))
    yield "shape dc/vid_v short", _replace_ds("/entry/dc/vid_v", np.zeros(2))
    yield "points/phasor real and 1-D", _replace_ds("/entry/points/phasor", np.zeros(N_POINTS))
    yield "points/phasor real", _replace_ds("/entry/points/phasor", np.zeros((N_POINTS, 4)))
    yield "shape waveforms/code 2-D", _replace_ds("/entry/waveforms/code", np.zeros((N_POINTS, 4), np.int16))
    yield "shape waveforms/y_increment 1-D", _replace_ds("/entry/waveforms/y_increment", np.zeros(N_POINTS))
    if "/entry/results/fit_dc_transfer" in present:
        yield "dtype fit value strings", _replace_ds("/entry/results/fit_dc_transfer/value",
                                                     np.array(["a"], dtype=h5py.string_dtype()))
        yield "shape fit value 2-D", _replace_ds("/entry/results/fit_dc_transfer/value", np.zeros((2, 2)))
        yield "dtype verdicts passed float", _replace_ds("/entry/results/verdicts/passed", np.array([0.5]))
        yield "shape results is a dataset", _replace_ds("/entry/results", np.zeros(3))
    yield "shape entry is a dataset", _replace_ds("/entry", np.zeros(3))


def byte_mutations(base: Path, rng: random.Random) -> Iterator[tuple[str, Mutation]]:
    """Mutations of the bytes: truncations, zeroed regions, an HDF5 signature followed by zeros."""
    size = base.stat().st_size
    cuts = sorted({0, 1, 8, 100, 512, 2048, size // 2, size - 4096, size - 1} |
                  {rng.randrange(1, size) for _ in range(N_TRUNCATIONS)})
    for at in cuts:
        yield f"truncate at {at}", _truncate(at)
    for _ in range(N_ZEROED):
        at = rng.randrange(0, size)
        n = rng.choice((8, 64, 512, 4096))
        yield f"zero {n} bytes at {at}", _zero(at, n)
    yield "zero the first 4096 bytes", _zero(0, 4096)
    yield "zero the superblock but its signature", _zero(8, 40)
    yield "signature then zeros (same size)", _signature_then_zeros(None)
    yield "signature then zeros (1 kB)", _signature_then_zeros(1024)
    yield "signature only", _signature_then_zeros(8)


@dataclass(frozen=True)
class Mutant:
    """One mutated copy of a base archive."""

    name: str  # "<base>: <mutation>"
    kind: str  # the mutation's first word: attr, json, toml, delete, counters, dtype, shape, truncate, zero, ...
    path: Path
    resumable_base: bool  # made from a base that can be resumed (closed, killed)


def make_mutants(work: Path, rng: random.Random) -> list[Mutant]:
    """Every mutant of every base, written under ``work``."""
    bases = make_bases(work / "bases")
    plan: list[tuple[str, Path, Iterator[tuple[str, Mutation]]]] = [
        ("complete", bases.complete, structural_mutations(bases.complete, rng, share=0.35)),
        ("closed", bases.closed, structural_mutations(bases.closed, rng, share=0.2)),
        ("complete", bases.complete, byte_mutations(bases.complete, rng)),
        ("killed", bases.killed, byte_mutations(bases.killed, rng)),
    ]
    out = work / "mutants"
    out.mkdir()
    mutants: list[Mutant] = []
    for base_name, base, muts in plan:
        for label, mutate in muts:
            suffix = ".h5.partial" if base.name.endswith(".partial") else ".h5"
            p = out / f"m{len(mutants):04d}{suffix}"
            shutil.copyfile(base, p)
            mutate(p)
            mutants.append(Mutant(f"{base_name}: {label}", label.split(" ")[0], p, base_name != "complete"))
    return mutants


# ----------------------------------------------------------------------------------------------------------
# The checks


@dataclass
class Outcome:
    """What happened to one mutant in one consumer: accepted, refused (one line), or a failure."""

    consumer: str
    mutant: str
    kind: str  # "accepted" | "refused" | "FAILURE"
    detail: str


def _refusal_ok(e: BaseException) -> str | None:
    """None if ``e`` is a proper refusal, else what is wrong with it."""
    if not isinstance(e, ArchiveError):
        return (f"{type(e).__name__} instead of ArchiveError: {e!r}"[:2000] + "\n"
                + "".join(traceback.format_exception(e)))
    text = str(e)
    if "\n" in text or not text.strip():
        return f"ArchiveError not one line: {text[:300]!r}"
    return None


def check_open_run(name: str, path: Path) -> Outcome:
    try:
        run = open_run(path)
    except BaseException as e:  # noqa: BLE001 - the fuzzer records everything
        bad = _refusal_ok(e)
        return Outcome("open_run", name, "FAILURE" if bad else "refused", bad or str(e))
    try:
        # touch what consumers touch: tables, records, results
        for t in run.tables:
            run.n_rows(t)
        if run.records is not None and len(run.records):
            run.records.volts(len(run.records) - 1)
    except BaseException as e:  # noqa: BLE001
        bad = _refusal_ok(e) if isinstance(e, ArchiveError) else "".join(traceback.format_exception(e))
        return Outcome("open_run", name, "FAILURE" if bad else "refused", bad or str(e))
    finally:
        run.close()
    return Outcome("open_run", name, "accepted", "")


def check_resume(name: str, path: Path, out: Path | None) -> Outcome:
    """``check_resumable``; if it accepts and ``out`` is given, the resume itself (into ``out``) must work."""
    try:
        check_resumable(path, PROCEDURE)
    except BaseException as e:  # noqa: BLE001
        bad = _refusal_ok(e)
        return Outcome("check_resumable", name, "FAILURE" if bad else "refused", bad or str(e))
    if out is None:
        return Outcome("check_resumable", name, "accepted", "")
    try:
        ar, _ = RunArchive.resume(path, out_path=out)
        ar.finish("aborted", "fuzz")
    except BaseException as e:  # noqa: BLE001
        return Outcome("check_resumable", name, "FAILURE",
                       "check_resumable accepted it but resume failed:\n" + "".join(traceback.format_exception(e)))
    return Outcome("check_resumable", name, "accepted", "")


def run_cli(argv: list[str]) -> tuple[int | None, str, str]:
    """``procedures.cli.main.main(argv)`` in-process: (exit status or None if it raised, stdout, stderr + traceback)."""
    from procedures.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    code: int | None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 2
        except BaseException as e:  # noqa: BLE001
            code = None
            err.write("".join(traceback.format_exception(e)))
    return code, out.getvalue(), err.getvalue()


def check_cli(consumer: str, name: str, argv: list[str]) -> Outcome:
    code, _, err = run_cli(argv)
    errors = [ln for ln in err.splitlines() if ln.startswith(f"diffbench {consumer}: error:")]
    if code is None or "Traceback" in err:
        return Outcome(consumer, name, "FAILURE", f"exit {code}\n{err}")
    if code == 0:
        return Outcome(consumer, name, "accepted", "")
    if code == 2 and len(errors) == 1:
        return Outcome(consumer, name, "refused", errors[0])
    return Outcome(consumer, name, "FAILURE", f"exit {code}, stderr:\n{err}")


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def fuzz(work: Path, seed: int = SEED) -> tuple[list[Outcome], dict[str, int]]:
    """Make every mutant and run it through the consumers; returns the outcomes and the number of mutants per
    kind of mutation. ``open_run`` sees every mutant, ``check_resumable`` (and the resume it allows) every
    mutant of a resumable base and a sample of the others, the CLIs a seeded sample of what ``open_run``
    accepted and of what it refused."""
    rng = random.Random(seed)
    mutants = make_mutants(work, rng)
    counts: dict[str, int] = {}
    for m in mutants:
        counts[m.kind] = counts.get(m.kind, 0) + 1
    (work / "resumed").mkdir()
    outcomes: list[Outcome] = []
    accepted: list[Mutant] = []
    refused: list[Mutant] = []
    others = set(rng.sample([m.path for m in mutants if not m.resumable_base], CHECK_RESUMABLE_SAMPLE))
    for k, m in enumerate(mutants):
        before = _sha(m.path)
        o = check_open_run(m.name, m.path)
        outcomes.append(o)
        (accepted if o.kind == "accepted" else refused).append(m)
        if m.resumable_base or m.path in others:
            resume_to = work / "resumed" / f"r{k:04d}.h5" if rng.random() < RESUME_SHARE else None
            outcomes.append(check_resume(m.name, m.path, resume_to))
        if _sha(m.path) != before:
            outcomes.append(Outcome("read-only", m.name, "FAILURE", "modified by open_run or check_resumable"))
    # the CLIs: every mutant of what the fits and the page read (configs, values) that open_run accepted, plus a
    # seeded sample of all the others
    semantic = [m for m in accepted if m.kind in ("toml", "values") and not m.resumable_base]
    others = [m for m in accepted if m not in semantic]
    fit_set = semantic + rng.sample(others, min(CLI_ACCEPTED, len(others))) + \
        rng.sample(refused, min(CLI_REFUSED, len(refused)))
    for k, m in enumerate(fit_set):
        before = _sha(m.path)
        argv = ["fit", str(m.path), "--no-write"] if k % 4 else ["fit", str(m.path), "-o", str(work / f"fit{k}.h5")]
        outcomes.append(check_cli("fit", m.name, argv))
        if _sha(m.path) != before:
            outcomes.append(Outcome("read-only", m.name, "FAILURE", "modified by diffbench fit"))
    values = [m for m in semantic if m.kind == "values"]
    configs = [m for m in semantic if m.kind == "toml"]
    report_set = values + rng.sample(configs, min(REPORT_CONFIGS, len(configs))) + \
        rng.sample(others, min(REPORT_ACCEPTED, len(others))) + rng.sample(refused, min(REPORT_REFUSED, len(refused)))
    for k, m in enumerate(report_set):
        before = _sha(m.path)
        outcomes.append(check_cli("report", m.name, ["report", str(m.path), "-o", str(work / f"report{k}"),
                                                     "--fit", ("archived", "none")[k % 2]]))
        if _sha(m.path) != before:
            outcomes.append(Outcome("read-only", m.name, "FAILURE", "modified by diffbench report"))
    return outcomes, counts


def test_every_mutant_is_read_or_refused_in_one_line(tmp_path: Path) -> None:
    outcomes, counts = fuzz(tmp_path)
    failures = [o for o in outcomes if o.kind == "FAILURE"]
    summary = {c: {k: sum(1 for o in outcomes if o.consumer == c and o.kind == k) for k in ("accepted", "refused")}
               for c in sorted({o.consumer for o in outcomes})}
    print(f"seed {SEED}: mutants per kind {counts}; outcomes {summary}")
    assert sum(counts.values()) > 350
    assert summary["open_run"]["refused"] > 100 and summary["open_run"]["accepted"] > 10
    assert not failures, f"seed {SEED}: {len(failures)} failures; first:\n" + "\n\n".join(
        f"[{o.consumer}] {o.mutant}: {o.detail}" for o in failures[:5])


def test_the_bases_are_read_resumed_fitted_and_reported(tmp_path: Path) -> None:
    bases = make_bases(tmp_path)
    with open_run(bases.complete) as run:
        assert run.status == "complete" and run.n_rows("dc") == 21 and "fit_dc_transfer" in run.results
    for partial in (bases.closed, bases.killed):
        check_resumable(partial, PROCEDURE)
    assert check_cli("fit", "complete", ["fit", str(bases.complete), "--no-write"]).kind == "accepted"
    report = check_cli("report", "complete", ["report", str(bases.complete), "-o", str(tmp_path / "r")])
    assert report.kind == "accepted"


@pytest.mark.parametrize("text, match", [
    (PROCEDURE.replace("points = 41", "points = 42"), r"dc\.points: 41 in the archive, 42 given"),
    (PROCEDURE.replace('kind = "dc_transfer"', 'kind = "frequency_sweep"'), r"procedure\.kind"),
    ("[procedure\n", "not valid TOML"),
    (PROCEDURE + "\n[extra]\nx = 1\n", r"extra: not in the archive"),
])
def test_check_resumable_refuses_another_procedure(tmp_path: Path, text: str, match: str) -> None:
    bases = make_bases(tmp_path)
    before = _sha(bases.closed)
    with pytest.raises(ArchiveError, match=match) as e:
        check_resumable(bases.closed, text)
    assert "\n" not in str(e.value)
    assert _sha(bases.closed) == before


def test_check_resumable_compares_meaning_not_text(tmp_path: Path) -> None:
    bases = make_bases(tmp_path)
    same = ("# reformatted, reordered, requoted\n[acquisition]\nrecord_points = 1e4\n"
            "[dc]\npoints = 41\n[procedure]\n"
            "description = 'DC transfer curve, small-signal slope and input offset'\nkind = 'dc_transfer'\n"
            "name = \"dc-transfer\"\n")
    check_resumable(bases.closed, same)
    with pytest.raises(ArchiveError, match="record_points: 10000 in the archive, True given"):
        check_resumable(bases.closed, same.replace("record_points = 1e4", "record_points = true"))


def test_check_resumable_refuses_complete_and_foreign_files(tmp_path: Path) -> None:
    bases = make_bases(tmp_path)
    with pytest.raises(ArchiveError, match="status is 'complete'"):
        check_resumable(bases.complete, PROCEDURE)
    (tmp_path / "zero.h5").write_bytes(b"\0" * 4096)
    (tmp_path / "sig.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 4088)
    with h5py.File(tmp_path / "foreign.h5", "w") as f:
        f["x"] = 1
    for name, match in (("zero.h5", "not an HDF5 file"), ("sig.h5", "HDF5 refuses to open it"),
                        ("foreign.h5", "not a diffbench archive"), ("missing.h5", "no such file")):
        with pytest.raises(ArchiveError, match=match) as e:
            check_resumable(tmp_path / name, PROCEDURE)
        assert "\n" not in str(e.value)


def test_json_attributes_of_the_wrong_shape_are_refused(tmp_path: Path) -> None:
    bases = make_bases(tmp_path)
    for key, value, match in (("metadata_json", "[1, 2]", "'metadata_json' is JSON list, not an object"),
                              ("resumed_json", "{}", "'resumed_json' is JSON dict, not a list"),
                              ("metadata_json", "{", "'metadata_json' is not valid JSON")):
        p = tmp_path / f"{key}.h5"
        shutil.copyfile(bases.complete, p)
        with h5py.File(p, "r+") as f:
            f["entry"].attrs[key] = value
        with pytest.raises(ArchiveError, match=match):
            open_run(p)
    p = tmp_path / "status.h5"
    shutil.copyfile(bases.complete, p)
    with h5py.File(p, "r+") as f:
        f.attrs["status"] = 3
    code, _, err = run_cli(["report", str(p), "-o", str(tmp_path / "r")])
    assert code == 2 and err.count("\n") == 1 and "attribute 'status' is int, not text" in err, err
