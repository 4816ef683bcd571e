"""The live view's reading of a growing archive (procedures.live.archive_view), written by another process.

What the view must hold comes from the test's own choices: the gains the points were built from
(``live_archive.phasors``), the codes and scaling written (``live_archive.expected_volts``), which points were
committed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from live_archive import WriterProcess, expected_volts

from procedures.live.archive_view import ArchiveFollower, candidates, point_label, time_unit


@pytest.fixture
def writer(tmp_path: Path):  # type: ignore[no-untyped-def]
    w = WriterProcess(tmp_path / "run.h5")
    yield w
    w.close()


def test_committed_points_only_then_the_final_file(writer: WriterProcess, tmp_path: Path) -> None:
    follower = ArchiveFollower(writer.partial)
    first = follower.view()
    assert (first["status"], first["points"], first["records"], first["source"]) == ("running", 0, 0, "")
    add, acc = complex(-19.0, -3.0), complex(0.004, -0.001)
    writer.send("point", role="dm", frequency_hz=2000.0, gain=add)
    writer.send("point", role="cm", frequency_hz=2000.0, gain=acc)
    writer.send("point", role="dm", frequency_hz=50.0, gain=complex(-20, 0), commit=False)
    view = follower.view()
    assert (view["points"], view["records"], view["source"]) == (2, 2, "points")
    assert view["add"]["frequency_hz"] == [2000.0]
    np.testing.assert_allclose(view["add"]["mag_db"], [20 * np.log10(abs(add))], rtol=1e-12)
    np.testing.assert_allclose(view["add"]["phase_deg"], [np.degrees(np.angle(add))], rtol=1e-12)
    np.testing.assert_allclose(view["acm"]["mag_db"], [20 * np.log10(abs(acc))], rtol=1e-12)
    volts, t = expected_volts(1)
    for k, node in enumerate(view["channels"]):
        np.testing.assert_allclose(view["wave"][node], volts[k], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(view["wave"]["t"], t / 1e-3, rtol=1e-9)
    assert view["time_unit"] == "ms" and "common mode" in view["wave_label"]

    finished = Path(writer.send("finish", gains=[[2000.0, 3.0, 4.0, 0.5, 0.0]])["path"])
    assert not writer.partial.exists()  # renamed: the follower must find the final file by itself
    final = follower.view()
    assert (final["status"], final["final"], final["path"], final["source"]) == ("complete", True, str(finished),
                                                                                  "gains")
    assert final["points"] == 3  # finish committed the third point
    np.testing.assert_allclose(final["add"]["mag_db"], [20 * np.log10(5.0)], rtol=1e-12)
    np.testing.assert_allclose(final["acm"]["mag_db"], [20 * np.log10(0.5)], rtol=1e-12)
    assert follower.final


def test_the_estimate_leaves_out_other_sweeps_and_calibrations(writer: WriterProcess) -> None:
    writer.send("point", role="dm", frequency_hz=1000.0, gain=complex(-10, 0))
    writer.send("point", role="dm", frequency_hz=1000.0, gain=complex(-99, 0), sweep="amplitude_sweep")
    writer.send("point", role="cm", frequency_hz=1000.0, gain=complex(1, 0), probes="link")
    view = ArchiveFollower(writer.partial).view()
    assert view["add"]["mag_db"] == [20.0] and view["acm"]["frequency_hz"] == []
    assert "calibration (channel match, every probe on input 1)" in view["wave_label"]


def test_a_file_that_is_not_there_yet_is_waited_for(tmp_path: Path) -> None:
    view = ArchiveFollower(tmp_path / "later.h5.partial").view()
    assert (view["status"], view["final"], view["points"]) == ("waiting", False, 0)


def test_candidates_and_units() -> None:
    assert candidates("a/x.h5.partial") == (Path("a/x.h5.partial"), Path("a/x.h5"))
    assert candidates("a/x.h5") == (Path("a/x.h5"), Path("a/x.h5.partial"))
    assert time_unit(2.0) == (1.0, "s") and time_unit(1.2e-3) == (1e-3, "ms")
    assert time_unit(5e-7) == (1e-9, "ns") and time_unit(0.0) == (1e-9, "ns")
    table = {"key": np.array(["k"], dtype=object), "role": np.array(["dc"], dtype=object),
             "sweep": np.array(["dc_transfer"], dtype=object), "frequency_hz": np.array([0.0]),
             "vid_vpk_nominal": np.array([0.0]), "vic_vpk_nominal": np.array([0.0]),
             "vid_dc_v_nominal": np.array([-0.0025])}
    assert point_label(table, 0) == "point 0, dc transfer, DC level, vid -2.5 mV DC"
    assert point_label(table, 3) == "point 3"
    table.update({"role": np.array(["dm"], dtype=object), "sweep": np.array(["frequency_sweep"], dtype=object),
                  "frequency_hz": np.array([3162.28]), "vid_vpk_nominal": np.array([0.002])})
    assert point_label(table, 0) == "point 0, frequency sweep, differential, 3.162 kHz, vid 2 mVpk"
