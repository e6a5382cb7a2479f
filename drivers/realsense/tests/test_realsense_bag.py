"""realsense.playback on the real D435 recording in ../shared/data: intrinsics, extrinsics, every frame,
alignment against rs.align, point cloud against librealsense's deprojection; live-device errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from sensorfusion_realsense import (
    RealSenseDriver,
    RealSensePlaybackDriver,
    align_depth_to_color,
    camera_from_intrinsics,
    deproject_depth,
    transform_from_extrinsics,
)

from sensorfusion import DriverContext, DriverError, EndOfStream, Frame, FrameKind, MissingDependencyError
from sensorfusion.plugins import PluginHost
from sensorfusion.schema import PinholeCamera
from sensorfusion.testing import DriverContract

rs = pytest.importorskip("pyrealsense2", reason="pyrealsense2 is not installed")

DATA = Path(os.environ.get("SENSORFUSION_TEST_DATA", Path(__file__).resolve().parents[3] / ".." / "shared" / "data"))
BAG = DATA / "realsense" / "single_depth_color_640x480.bag"


@pytest.fixture
def bag() -> Path:
    if not BAG.is_file():
        pytest.skip(f"reference data absent: {BAG}")
    return BAG


def play(**params: object) -> RealSensePlaybackDriver:
    return RealSensePlaybackDriver(
        RealSensePlaybackDriver.Params.model_validate({"path": str(BAG), **params}), DriverContext("rs", realtime=False)
    )


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


class TestPlaybackContract(DriverContract):
    driver_class = RealSensePlaybackDriver
    finite = True
    frames_to_read = 20
    plugin_name = "realsense"
    params = {"path": str(BAG)}

    @pytest.fixture(autouse=True)
    def _needs_bag(self, bag: Path) -> None:
        pass


def test_streams_and_calibration_of_the_real_bag(bag: Path) -> None:
    drv = play()
    specs = {s.name: s for s in drv.streams()}
    assert sorted(specs) == ["rs/depth", "rs/image"]
    assert specs["rs/depth"].kind == FrameKind.DEPTH and specs["rs/depth"].fields["depth"].dtype == "uint16"
    assert (
        specs["rs/depth"].attrs["depth_scale_m"] == pytest.approx(0.001)
        and specs["rs/depth"].attrs["aligned_to"] == "color"
    )
    assert specs["rs/image"].fields["image"].shape == (480, 640, 3)
    cal = drv.calibration()
    color, depth = cal.camera("rs"), cal.camera("rs_depth")
    assert isinstance(color, PinholeCamera) and isinstance(depth, PinholeCamera)
    assert (color.fx, color.fy, color.cx, color.cy) == pytest.approx((613.20, 613.42, 319.94, 239.18), abs=0.01)
    assert (depth.fx, depth.fy, depth.cx, depth.cy) == pytest.approx((390.43, 390.43, 331.39, 242.19), abs=0.01)
    assert not np.any(color.dist_coeffs) and not np.any(depth.dist_coeffs)
    color_from_depth = cal.sensors["rs_depth"].world_from_sensor  # world = the colour camera's frame
    assert np.linalg.norm(color_from_depth.translation_m) * 1e3 == pytest.approx(14.3, abs=0.1)
    assert color_from_depth.translation_m[0] == pytest.approx(0.0143, abs=2e-4)
    assert drv.device_info["name"] == "Intel RealSense D435" and drv.depth_scale_m == pytest.approx(0.001)


def test_every_recorded_frame_is_played_in_order(bag: Path) -> None:
    frames = read_all(play())
    assert [(f.stream, f.seq) for f in frames] == [("rs/depth", 169), ("rs/image", 162), ("rs/depth", 170)]
    assert [f.t_sensor_ns for f in frames] == [360815089000, 360713523000, 360981765000]
    # rs.pipeline drops the first partial frameset: only depth 170 + colour 162 come out
    pipe, cfg = rs.pipeline(), rs.config()
    cfg.enable_device_from_file(str(bag), repeat_playback=False)
    pipe.start(cfg).get_device().as_playback().set_real_time(False)
    sets = []
    while True:
        ok, fs = pipe.try_wait_for_frames(1000)
        if not ok:
            break
        sets.append(sorted(f.get_frame_number() for f in fs))
    pipe.stop()
    assert sets == [[162, 170]]


def test_aligned_depth_matches_rs_align(bag: Path) -> None:
    ours = {f.seq: f for f in read_all(play()) if f.stream == "rs/depth"}
    pipe, cfg = rs.pipeline(), rs.config()
    cfg.enable_device_from_file(str(bag), repeat_playback=False)
    pipe.start(cfg).get_device().as_playback().set_real_time(False)
    fs = pipe.wait_for_frames(2000)
    ref = np.asanyarray(rs.align(rs.stream.color).process(fs).get_depth_frame().get_data()).copy()
    raw = np.asanyarray(fs.get_depth_frame().get_data()).copy()
    dprof = fs.get_depth_frame().get_profile().as_video_stream_profile()
    cprof = fs.get_color_frame().get_profile().as_video_stream_profile()
    pipe.stop()
    mine = ours[170]["depth"]
    assert np.array_equal(mine > 0, ref > 0)
    both = (mine > 0) & (ref > 0)
    assert both.sum() > 250_000 and (mine[both] == ref[both]).mean() > 0.999
    # the numpy reference tier and the Numba tier agree exactly
    dcam, _ = camera_from_intrinsics(dprof.get_intrinsics())
    ccam, _ = camera_from_intrinsics(cprof.get_intrinsics())
    assert isinstance(dcam, PinholeCamera) and isinstance(ccam, PinholeCamera)
    t = transform_from_extrinsics(dprof.get_extrinsics_to(cprof))
    assert np.array_equal(align_depth_to_color(raw, dcam, ccam, t, 0.001, tier="numpy"), mine)


def test_point_cloud_matches_librealsense(bag: Path) -> None:
    drv = play(streams=["depth"])  # depth alone: the unaligned depth is the primary sensor
    frames = read_all(drv)
    assert [f.stream for f in frames] == ["rs/depth", "rs/depth"]
    cam = drv.calibration().camera("rs")
    assert isinstance(cam, PinholeCamera) and cam.fx == pytest.approx(390.43, abs=0.01)
    depth = frames[1]["depth"]
    pts, uv = deproject_depth(depth, cam, drv.depth_scale_m)
    assert len(pts) == int((depth > 0).sum()) > 250_000
    intr = rs.intrinsics()
    intr.width, intr.height, intr.fx, intr.fy, intr.ppx, intr.ppy = (
        cam.width,
        cam.height,
        cam.fx,
        cam.fy,
        cam.cx,
        cam.cy,
    )
    intr.model, intr.coeffs = rs.distortion.brown_conrady, [0.0] * 5
    pick = np.random.default_rng(0).choice(len(pts), 300, replace=False)
    ref = np.array(
        [
            rs.rs2_deproject_pixel_to_point(intr, [float(u), float(v)], float(depth[v, u]) * drv.depth_scale_m)
            for u, v in uv[pick]
        ]
    )
    np.testing.assert_allclose(pts[pick], ref, atol=1e-5)
    assert 0.3 < np.median(pts[:, 2]) < 10.0  # an office seen from a desk


def test_absent_live_device_names_the_connected_ones() -> None:
    drv = RealSenseDriver(RealSenseDriver.Params(serial="000000000000"), DriverContext("rs"))
    with pytest.raises(DriverError, match="'000000000000' not found; connected: none"):
        drv.streams()


def test_missing_recording_is_a_driver_error(tmp_path: Path) -> None:
    drv = RealSensePlaybackDriver(RealSensePlaybackDriver.Params(path=str(tmp_path / "x.bag")), DriverContext("rs"))
    with pytest.raises(DriverError, match="not found"):
        drv.streams()


def test_missing_pyrealsense2_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyrealsense2", None)
    with pytest.raises(MissingDependencyError, match="pip install pyrealsense2"):
        RealSensePlaybackDriver(RealSensePlaybackDriver.Params(path="x.bag"), DriverContext("rs"))


def test_registered() -> None:
    host = PluginHost()
    assert host.drivers.plugin_of("realsense.camera") == "realsense"
    assert host.drivers.plugin_of("realsense.playback") == "realsense"
