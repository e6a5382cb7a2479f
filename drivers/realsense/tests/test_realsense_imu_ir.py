"""Infrared and IMU streams through a software_device recording: y8 images, accel/gyro samples, poses."""

from __future__ import annotations

import gc
import logging
from pathlib import Path

import numpy as np
import pytest
from sensorfusion_realsense import RealSensePlaybackDriver

from sensorfusion import DriverContext, EndOfStream, Frame, FrameKind

rs = pytest.importorskip("pyrealsense2", reason="pyrealsense2 is not installed")

W, H, N = 32, 24, 4


def record(path: Path) -> None:
    dev = rs.software_device()
    stereo = dev.add_sensor("Stereo Module")
    vs = rs.video_stream()
    vs.type, vs.index, vs.uid, vs.width, vs.height, vs.fps, vs.bpp, vs.fmt = (
        rs.stream.infrared,
        1,
        0,
        W,
        H,
        30,
        1,
        rs.format.y8,
    )
    intr = rs.intrinsics()
    intr.width, intr.height, intr.fx, intr.fy, intr.ppx, intr.ppy = W, H, 20.0, 20.0, 15.5, 11.5
    intr.model, intr.coeffs = rs.distortion.none, [0.0] * 5
    vs.intrinsics = intr
    ir = stereo.add_video_stream(vs).as_video_stream_profile()
    motion = dev.add_sensor("Motion Module")
    profiles = {}
    for uid, (kind, fmt) in enumerate(
        ((rs.stream.accel, rs.format.motion_xyz32f), (rs.stream.gyro, rs.format.motion_xyz32f)), start=1
    ):
        ms = rs.motion_stream()
        ms.type, ms.index, ms.uid, ms.fps, ms.fmt = kind, 0, uid, 200, fmt
        profiles[kind] = motion.add_motion_stream(ms).as_motion_stream_profile()
    extr = rs.extrinsics()
    extr.rotation = [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0]
    extr.translation = [-0.01, 0.005, 0.02]
    profiles[rs.stream.accel].register_extrinsics_to(ir, extr)
    profiles[rs.stream.gyro].register_extrinsics_to(ir, extr)
    recorder = rs.recorder(str(path), dev)
    q_ir, q_m = rs.frame_queue(16), rs.frame_queue(16)
    stereo.open(ir)
    motion.open([profiles[rs.stream.accel], profiles[rs.stream.gyro]])
    stereo.start(q_ir)
    motion.start(q_m)
    for i in range(N):
        f = rs.software_video_frame()
        f.pixels, f.bpp, f.stride = np.full((H, W), 10 * i, np.uint8), 1, W
        f.timestamp, f.domain, f.frame_number, f.profile = 500.0 + 33.0 * i, rs.timestamp_domain.hardware_clock, i, ir
        stereo.on_video_frame(f)
        q_ir.wait_for_frame(1000)
        for kind, value in ((rs.stream.accel, [0.1 * i, -9.81, 0.2]), (rs.stream.gyro, [0.01, 0.02 * i, -0.03])):
            m = rs.software_motion_frame()
            vec = rs.vector()
            vec.x, vec.y, vec.z = value
            m.data = vec  # (the property returns a copy: set the whole vector)
            m.timestamp, m.domain, m.frame_number, m.profile = (
                501.0 + 33.0 * i,
                rs.timestamp_domain.hardware_clock,
                i,
                profiles[kind],
            )
            motion.on_motion_frame(m)
            q_m.wait_for_frame(1000)
    for s in (stereo, motion):
        s.stop()
        s.close()
    del recorder, dev
    gc.collect()


def test_infrared_and_imu_round_trip(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    record(tmp_path / "imu.db3")
    (path,) = sorted(tmp_path.iterdir())
    drv = RealSensePlaybackDriver(RealSensePlaybackDriver.Params(path=str(path)), DriverContext("d4"))
    caplog.set_level(logging.WARNING)
    specs = {s.name: s for s in drv.streams()}
    assert sorted(specs) == ["d4_imu/accel", "d4_imu/gyro", "d4_ir1/image"]
    assert specs["d4_imu/accel"].kind == FrameKind.DEVICE_POSE and specs["d4_imu/accel"].fields["accel_m_s2"].shape == (
        3,
    )
    assert (
        specs["d4_ir1/image"].fields["image"].shape == (H, W) and specs["d4_ir1/image"].attrs["color_order"] == "gray"
    )
    cal = drv.calibration()
    # no colour nor depth: the infrared imager is the world frame; the IMU sits where its extrinsics say
    assert cal.camera("d4_ir1").fx == pytest.approx(20.0)
    assert cal.sensors["d4_ir1"].world_from_sensor.translation_m == (0.0, 0.0, 0.0)
    # librealsense's recorder keeps no motion->infrared extrinsics of a software device (in the
    # played-back device get_extrinsics_to raises), so the IMU pose falls back to identity, logged
    assert cal.sensors["d4_imu"].world_from_sensor.translation_m == (0.0, 0.0, 0.0)
    assert "no extrinsics to the primary camera" in caplog.text
    frames: list[Frame] = []
    drv.open()
    try:
        for _ in range(500):
            frames.extend(drv.read())
    except EndOfStream:
        pass
    finally:
        drv.close()
    by: dict[str, list[Frame]] = {}
    for f in frames:
        by.setdefault(f.stream, []).append(f)
    assert [int(f["image"][0, 0]) for f in by["d4_ir1/image"]] == [10 * i for i in range(N)]
    np.testing.assert_allclose(
        [f["accel_m_s2"] for f in by["d4_imu/accel"]], [[0.1 * i, -9.81, 0.2] for i in range(N)], atol=1e-6
    )
    np.testing.assert_allclose(
        [f["gyro_rad_s"] for f in by["d4_imu/gyro"]], [[0.01, 0.02 * i, -0.03] for i in range(N)], atol=1e-6
    )
    assert [f.t_sensor_ns for f in by["d4_imu/gyro"]] == [round((501.0 + 33.0 * i) * 1e6) for i in range(N)]
