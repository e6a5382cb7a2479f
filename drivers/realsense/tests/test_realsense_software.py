"""A recording made at test time through pyrealsense2's software_device + recorder (.db3 from 2.58,
.bag before), with synthetic depth and colour of known content, played back through the driver."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sensorfusion_realsense import RealSensePlaybackDriver, align_depth_to_color

from sensorfusion import DriverContext, EndOfStream, Frame
from sensorfusion.schema import PinholeCamera

rs = pytest.importorskip("pyrealsense2", reason="pyrealsense2 is not installed")

W, H, N = 64, 48, 6
BASELINE_M = 0.015


def _intrinsics(fx: float, fy: float, cx: float, cy: float, coeffs: list[float] | None = None) -> Any:
    intr = rs.intrinsics()
    intr.width, intr.height, intr.fx, intr.fy, intr.ppx, intr.ppy = W, H, fx, fy, cx, cy
    intr.model = rs.distortion.brown_conrady
    intr.coeffs = coeffs or [0.0] * 5
    return intr


def depth_image(i: int) -> np.ndarray:
    """A wall at 1.5 m + 10 mm per frame, a box 0.5 m nearer in the middle, a hole (0) in a corner."""
    d = np.full((H, W), 1500 + 10 * i, np.uint16)
    d[16:32, 24:40] = 1000 + 10 * i
    d[:4, :4] = 0
    return d


def color_image(i: int) -> np.ndarray:
    img = np.zeros((H, W, 3), np.uint8)
    img[..., 0] = 20 * i
    img[..., 1] = np.arange(W, dtype=np.uint8)[None, :]
    img[..., 2] = 200
    return img


def record(path: Path) -> None:
    dev = rs.software_device()
    dev.register_info(rs.camera_info.name, "sensorfusion synthetic D4xx")
    dev.register_info(rs.camera_info.serial_number, "000111222")
    depth_sensor = dev.add_sensor("Stereo Module")
    vs = rs.video_stream()
    vs.type, vs.index, vs.uid, vs.width, vs.height, vs.fps, vs.bpp = rs.stream.depth, 0, 0, W, H, 30, 2
    vs.fmt, vs.intrinsics = rs.format.z16, _intrinsics(50.0, 50.0, 31.5, 23.5, [0.01, -0.002, 0.0005, 0.0002, 0.0])
    depth_profile = depth_sensor.add_video_stream(vs).as_video_stream_profile()
    depth_sensor.add_read_only_option(rs.option.depth_units, 0.001)
    color_sensor = dev.add_sensor("RGB Camera")
    vc = rs.video_stream()
    vc.type, vc.index, vc.uid, vc.width, vc.height, vc.fps, vc.bpp = rs.stream.color, 0, 1, W, H, 30, 3
    vc.fmt, vc.intrinsics = rs.format.rgb8, _intrinsics(60.0, 61.0, 32.0, 24.0)
    color_profile = color_sensor.add_video_stream(vc).as_video_stream_profile()
    extr = rs.extrinsics()
    extr.rotation = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    extr.translation = [BASELINE_M, 0.0, 0.0]
    depth_profile.register_extrinsics_to(color_profile, extr)
    recorder = rs.recorder(str(path), dev)
    qd, qc = rs.frame_queue(N), rs.frame_queue(N)
    depth_sensor.open(depth_profile)
    color_sensor.open(color_profile)
    depth_sensor.start(qd)
    color_sensor.start(qc)
    for i in range(N):
        for sensor, profile, pixels, bpp, t_ms, q in (
            (depth_sensor, depth_profile, depth_image(i), 2, 1000.0 + 33.0 * i, qd),
            (color_sensor, color_profile, color_image(i), 3, 1005.0 + 33.0 * i, qc),
        ):
            f = rs.software_video_frame()
            f.pixels, f.bpp, f.stride = pixels, bpp, bpp * W
            f.timestamp, f.domain, f.frame_number, f.profile = (
                t_ms,
                rs.timestamp_domain.hardware_clock,
                100 + i,
                profile,
            )
            sensor.on_video_frame(f)
            q.wait_for_frame(1000)
    for s in (depth_sensor, color_sensor):
        s.stop()
        s.close()
    del recorder, dev
    gc.collect()


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rs") / "synthetic.db3"
    record(path)
    found = sorted(path.parent.iterdir())
    assert found, "the recorder wrote nothing"
    return found[0]  # librealsense < 2.58 writes .bag


def read_all(drv: RealSensePlaybackDriver) -> list[Frame]:
    out: list[Frame] = []
    drv.open()
    try:
        for _ in range(1000):
            out.extend(drv.read())
    except EndOfStream:
        pass
    finally:
        drv.close()
    return out


def test_round_trip_of_frames_timestamps_and_calibration(recording: Path) -> None:
    drv = RealSensePlaybackDriver(
        RealSensePlaybackDriver.Params(path=str(recording), align_depth_to_color=False), DriverContext("d4")
    )
    specs = {s.name: s for s in drv.streams()}
    assert sorted(specs) == ["d4/image", "d4_depth/depth"]
    assert drv.device_info["serial_number"] == "000111222" and drv.depth_scale_m == pytest.approx(0.001)
    cal = drv.calibration()
    dcam, ccam = cal.camera("d4_depth"), cal.camera("d4")
    assert isinstance(dcam, PinholeCamera) and isinstance(ccam, PinholeCamera)
    assert (dcam.fx, dcam.cx, dcam.k1, dcam.k2, dcam.p1, dcam.p2) == pytest.approx(
        (50, 31.5, 0.01, -0.002, 0.0005, 0.0002)
    )
    assert (ccam.fx, ccam.fy, ccam.cx, ccam.cy) == pytest.approx((60, 61, 32, 24))
    # world = the colour camera; the depth camera sits where the registered extrinsics put it
    np.testing.assert_allclose(cal.sensors["d4_depth"].world_from_sensor.translation_m, (BASELINE_M, 0, 0), atol=1e-7)
    frames = read_all(drv)
    depth = [f for f in frames if f.stream == "d4_depth/depth"]
    color = [f for f in frames if f.stream == "d4/image"]
    assert [f.seq for f in depth] == [f.seq for f in color] == [100 + i for i in range(N)]
    assert [f.t_sensor_ns for f in depth] == [round((1000.0 + 33.0 * i) * 1e6) for i in range(N)]
    assert [f.t_sensor_ns for f in color] == [round((1005.0 + 33.0 * i) * 1e6) for i in range(N)]
    for i in range(N):
        np.testing.assert_array_equal(depth[i]["depth"], depth_image(i))
        np.testing.assert_array_equal(color[i]["image"], color_image(i))


def test_played_depth_is_aligned_to_colour(recording: Path) -> None:
    drv = RealSensePlaybackDriver(RealSensePlaybackDriver.Params(path=str(recording)), DriverContext("d4"))
    specs = {s.name: s for s in drv.streams()}
    assert sorted(specs) == ["d4/depth", "d4/image"] and specs["d4/depth"].attrs["aligned_to"] == "color"
    cal = drv.calibration()
    frames = [f for f in read_all(drv) if f.stream == "d4/depth"]
    assert len(frames) == N
    dcam, ccam = cal.camera("d4_depth"), cal.camera("d4")
    assert isinstance(dcam, PinholeCamera) and isinstance(ccam, PinholeCamera)
    color_from_depth = cal.sensors["d4_depth"].world_from_sensor
    for i, f in enumerate(frames):
        ref = align_depth_to_color(depth_image(i), dcam, ccam, color_from_depth, 0.001, tier="numpy")
        np.testing.assert_array_equal(f["depth"], ref)
    # the wall keeps its depth; the box (nearer) moves by the baseline's disparity, fx * b / z
    d0 = frames[0]["depth"]
    assert set(np.unique(d0)) <= {0, 1000, 1500}
    box_cols = np.nonzero((d0 == 1000).any(axis=0))[0]
    centre_depth_px = (24 + 39) / 2 - 31.5  # box centre relative to the depth principal point
    expected = 32.0 + 60.0 * (centre_depth_px / 50.0 * 1.0 + BASELINE_M) / 1.0  # in the colour image
    assert abs((box_cols.min() + box_cols.max()) / 2 - expected) < 1.5
