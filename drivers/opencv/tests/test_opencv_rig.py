"""opencv.rig: time alignment of files at different rates and offsets, live alignment, calibration, real videos."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from sensorfusion_opencv import RigDriver

from sensorfusion import ConfigError, DriverContext, EndOfStream, Frame
from sensorfusion.testing import DriverContract


def make(realtime: bool = False, **params: Any) -> RigDriver:
    return RigDriver(RigDriver.Params.model_validate(params), DriverContext("rig", realtime=realtime))


def read_sets(drv: RigDriver, limit: int = 1000) -> list[list[Frame]]:
    sets = []
    drv.open()
    try:
        for _ in range(limit):
            sets.append(list(drv.read()))
    except EndOfStream:
        pass
    finally:
        drv.close()
    return sets


class TestRigContract(DriverContract):
    driver_class = RigDriver
    finite = True
    frames_to_read = 10
    plugin_name = "opencv"

    @pytest.fixture(autouse=True)
    def _files(self, tmp_path: Path, media: SimpleNamespace) -> None:
        a = media.write_video(tmp_path / "a.avi", 6, 30.0)
        b = media.write_folder(tmp_path / "b", 6)
        self.params = {"views": {"left": str(a), "right": {"source": str(b), "fps": 30.0}}}


def test_index_alignment_across_rates_and_offsets(tmp_path: Path, media: SimpleNamespace) -> None:
    fast = media.write_video(tmp_path / "fast.avi", 20, 30.0)
    slow = media.write_video(tmp_path / "slow.avi", 10, 15.0)
    drv = make(views={"fast": str(fast), "slow": str(slow)})
    specs = {s.name: s for s in drv.streams()}
    assert drv.reference == "slow" and specs["fast/image"].rate_hz == 15.0
    sets = read_sets(drv)
    assert len(sets) == 10
    for i, frames in enumerate(sets):
        by = {f.stream: f for f in frames}
        assert by["fast/image"].t_sensor_ns == by["slow/image"].t_sensor_ns == round(i * 1e9 / 15)
        assert by["fast/image"].seq == 2 * i and by["slow/image"].seq == i  # every other fast frame skipped
        assert abs(by["fast/image"]["image"][:, 40:].mean() - 20 * i) < 6
        assert int(by["fast/image"]["sync_spread_ns"]) == 0
    s = drv.summary()
    assert (
        s["sets"] == 10 and s["spread_max_ms"] == 0.0 and s["skipped_frames"] == {"fast": 10, "slow": 0}
    )  # 1, 3, ..., 19

    # the fast camera started 10 ms late: its frame j happened at j/30 s + 10 ms
    drv = make(views={"fast": {"source": str(fast), "offset_ns": 10_000_000}, "slow": str(slow)}, tolerance_ms=5)
    drv.streams()
    sets = read_sets(drv)
    spreads = [int(f["sync_spread_ns"]) for fs in sets for f in fs if f.stream == "fast/image"]
    # nearest fast frame to t_ref: j = round((t - 10 ms) * 30); |j/30 + 10 ms - t| = 10 ms or 23.3 ms
    assert set(spreads) <= {10_000_000, 23_333_333} and drv.summary()["out_of_tolerance"] == len(sets)
    for fs in sets:
        f = next(x for x in fs if x.stream == "fast/image")
        assert int(f["t_capture_ns"]) == round(f.seq * 1e9 / 30) + 10_000_000


def test_index_rig_resumes_after_reopen(tmp_path: Path, media: SimpleNamespace) -> None:
    a = media.write_video(tmp_path / "a.avi", 8, 25.0)
    b = media.write_video(tmp_path / "b.avi", 8, 25.0)
    drv = make(views={"a": str(a), "b": str(b)})
    drv.streams()
    drv.open()
    first = [drv.read() for _ in range(3)]
    drv.close()
    rest = read_sets(drv)
    seqs = [fs[0].seq for fs in first + rest]
    assert seqs == list(range(8))
    assert abs(rest[0][1]["image"][:, 40:].mean() - 30) < 6


def test_live_views_are_aligned_on_host_time(media: SimpleNamespace) -> None:
    with media.mjpeg_server(period_s=0.02) as u1, media.mjpeg_server(period_s=0.02) as u2:
        drv = make(realtime=True, views={"north": u1, "south": u2}, tolerance_ms=50)
        assert drv.align == "host"
        drv.streams()
        sets = read_sets(drv, limit=8)
    assert len(sets) == 8
    for fs in sets:
        assert len(fs) == 2 and fs[0].t_sensor_ns == fs[1].t_sensor_ns
        caps = [int(f["t_capture_ns"]) for f in fs]
        assert int(fs[0]["sync_spread_ns"]) == max(caps) - min(caps)
        assert fs[0].t_sensor_ns == int(np.median(caps))
    s = drv.summary()
    assert s["align"] == "host" and s["sets"] == 8 and s["spread_max_ms"] is not None and s["spread_max_ms"] < 100


def test_index_alignment_refuses_live_views(media: SimpleNamespace) -> None:
    with pytest.raises(ConfigError) as err:
        make(views={"a": "http://127.0.0.1:9/x"}, align="index")
    assert err.value.field_path == "sensors[rig].params.align"


def test_real_pose2sim_rig_with_calibration(media: SimpleNamespace) -> None:
    root = media.data / "pose2sim-demo-single"
    if not root.is_dir():
        pytest.skip(f"reference data absent: {root}")
    views = {f"cam0{n}": str(root / "trial" / "videos" / f"cam0{n}.mp4") for n in range(1, 5)}
    toml = str(root / "calibration" / "Calib_qualisys.toml")
    with pytest.raises(ConfigError) as err:  # cam01/cam02 are encoded 1080 wide, calibrated 1088
        make(views=views, calibration=toml).calibration()
    assert err.value.field_path == "sensors[rig].params.views.cam01" and "1088x1920" in str(err.value)
    drv = make(views=views, calibration=toml, size_mismatch="warn", max_frames=30)
    cal = drv.calibration()
    assert cal is not None and sorted(cal.sensors) == sorted(views)
    assert cal.camera("cam01").width == 1080 and cal.camera("cam03").width == 1088
    sets = read_sets(drv)
    assert len(sets) == 30 and all(len(fs) == 4 for fs in sets)
    assert drv.summary()["spread_max_ms"] == 0.0
