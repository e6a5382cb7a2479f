"""The aria.recording driver on the real ADT sample: streams, time order, contract, bad input."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from sensorfusion_aria import AriaRecordingDriver

from sensorfusion import ConfigError, DriverContext, EndOfStream, FrameKind
from sensorfusion.testing import DriverContract

DATA = Path(os.environ.get("SENSORFUSION_TEST_DATA", Path(__file__).resolve().parents[3].parent / "shared" / "data"))
ADT = DATA / "aria" / "adt_test"


def make(realtime: bool = False, events: list[Any] | None = None, **params: Any) -> AriaRecordingDriver:
    ctx = DriverContext("aria", realtime=realtime, base_dir=str(ADT))
    if events is not None:
        ctx.emit = lambda kind, message, extra: events.append((kind, message, extra))
    return AriaRecordingDriver(AriaRecordingDriver.Params.model_validate(params), ctx)


def drain(drv: AriaRecordingDriver) -> list[Any]:
    out = []
    drv.open()
    try:
        while True:
            out += drv.read()
    except EndOfStream:
        pass
    drv.close()
    return out


class TestAriaPosesAndSkeletonContract(DriverContract):
    driver_class = AriaRecordingDriver
    params: ClassVar[dict[str, Any]] = {
        "trajectory": str(ADT / "aria_trajectory.csv"),
        "skeleton": str(ADT / "Skeleton_T.json"),
    }
    sensor_id = "aria"
    frames_to_read = 30  # 6 poses + 20 skeleton frames
    plugin_name = "aria"
    finite = True

    def make_driver(self, *, realtime: bool = False) -> AriaRecordingDriver:
        if not ADT.exists():
            pytest.skip(f"real Aria sample not found: {ADT}")
        return super().make_driver(realtime=realtime)  # type: ignore[return-value]


def test_poses_and_skeleton_come_out_merged_in_time_order(adt: Path):
    events: list[Any] = []
    drv = make(trajectory="aria_trajectory.csv", skeleton="Skeleton_T.json", events=events)
    specs = {s.name: s for s in drv.streams()}
    assert specs["aria/device_pose"].kind == FrameKind.DEVICE_POSE
    assert specs["gt/skeleton3d"].skeleton == "adt51" and specs["gt/skeleton3d"].attrs["ground_truth"]
    assert abs(specs["gt/skeleton3d"].rate_hz - 120) < 1 and abs(specs["aria/device_pose"].rate_hz - 30) < 1
    frames = drain(drv)
    assert [f.t_sensor_ns for f in frames] == sorted(f.t_sensor_ns for f in frames)
    by = {n: [f for f in frames if f.stream == n] for n in specs}
    assert len(by["aria/device_pose"]) == 6 and len(by["gt/skeleton3d"]) == 20
    for f in frames:
        specs[f.stream].validate_frame(f)
    assert events == [] and drv.summary()["trajectory"]["gaps"] == 0


def test_trajectory_problems_become_events_and_counts(adt: Path, tmp_path: Path):
    lines = (adt / "aria_trajectory.csv").read_text().splitlines()
    bad = tmp_path / "traj.csv"
    bad.write_text("\n".join([lines[0], lines[1], lines[3], lines[2], lines[4]]) + "\n")  # row 3 goes back in time
    events: list[Any] = []
    drv = make(trajectory=str(bad), events=events)
    frames = drain(drv)
    assert len(frames) == 3
    assert [e[0] for e in events] == ["device_pose_backwards"]
    assert drv.summary()["trajectory"]["backwards_dropped"] == 1


def test_bad_params_name_the_field(adt: Path):
    with pytest.raises(ConfigError, match="at least one of vrs, trajectory, skeleton"):
        make()
    with pytest.raises(ConfigError) as e:
        make(trajectory="nope.csv")
    assert e.value.field_path == "sensors.aria.params.trajectory"


def test_vrs_frames_with_their_calibration(adt: Path, projectaria: None, fisheye624: None):
    drv = make(vrs="video.vrs", trajectory="aria_trajectory.csv")
    specs = {s.name: s for s in drv.streams()}
    assert specs["camera-slam-left/image"].fields["image"].shape == (480, 640)
    cal = drv.calibration()
    assert cal is not None
    left, right = cal.sensors["camera-slam-left"], cal.sensors["camera-slam-right"]
    assert left.camera.model == "fisheye624" and left.mount.device == "aria"
    assert abs(np.linalg.norm(right.mount.device_from_sensor.translation_m) - 0.138) < 0.01
    frames = drain(drv)
    imgs = [f for f in frames if f.stream == "camera-slam-left/image"]
    assert len(imgs) == 3 and imgs[0].data["image"].dtype == np.uint8
    # the trajectory was sampled at the SLAM frames (same clock, to the microsecond)
    poses = [f for f in frames if f.stream == "aria/device_pose"]
    assert abs(imgs[0].t_sensor_ns - poses[0].t_sensor_ns) < 1000
    with pytest.raises(ConfigError, match="no camera stream with this label"):
        make(vrs="video.vrs", cameras=["camera-nope"])
