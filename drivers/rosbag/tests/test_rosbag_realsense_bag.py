"""A real bag: the RealSense recording in ../shared/data (a ROS 1 bag written by librealsense),
replayed by rosbag.replay and checked against pyrealsense2's own playback of the same file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sensorfusion.store import Session

BAG = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "realsense" / "single_depth_color_640x480.bag"
DEPTH = "/device_0/sensor_0/Depth_0/image/data"
COLOR = "/device_0/sensor_1/Color_0/image/data"

pytestmark = pytest.mark.skipif(not BAG.is_file(), reason=f"the real RealSense bag is missing ({BAG})")


def _librealsense_frames() -> tuple[np.ndarray, float, np.ndarray, Any]:
    """The first depth frame (raw uint16), the depth scale, the first colour frame and the depth
    stream's intrinsics, read by pyrealsense2 from the same bag."""
    rs = pytest.importorskip("pyrealsense2")
    cfg = rs.config()
    cfg.enable_device_from_file(str(BAG), repeat_playback=False)
    pipe = rs.pipeline()
    profile = pipe.start(cfg)
    try:
        profile.get_device().as_playback().set_real_time(False)
        scale = profile.get_device().first_depth_sensor().get_depth_scale()
        depth = color = None
        for _ in range(10):
            ok, fs = pipe.try_wait_for_frames(2000)
            if not ok:
                break
            d, c = fs.get_depth_frame(), fs.get_color_frame()
            if depth is None and d:
                depth = np.asanyarray(d.get_data()).copy()
                intr = d.profile.as_video_stream_profile().get_intrinsics()
            if color is None and c:
                color = np.asanyarray(c.get_data()).copy()
            if depth is not None and color is not None:
                break
    finally:
        pipe.stop()
    assert depth is not None and color is not None
    return depth, scale, color, intr


def test_the_real_realsense_bag_matches_librealsense(tmp_path: Path, run_rig: Callable[..., Any], rig: Any) -> None:
    topics = {
        DEPTH: {"stream": "rs/depth", "kind": "depth"},  # librealsense writes Z16 depth as mono16
        COLOR: "rs/image",
        "/device_0/sensor_0/Depth_0/info/camera_info": "rs",
    }
    r = rig(BAG, topics=topics)
    r["sync"] = {"reference": "rs/depth", "tolerance_ms": 200}
    rc, _summary, err = run_rig(r)
    assert rc == 0, err
    s = Session.open(tmp_path / "out.zarr")
    depth = [f["depth_m"] for f in s.read("rs/depth")]
    color = [f["image"] for f in s.read("rs/image")]
    assert depth and color
    raw, scale, rs_color, intr = _librealsense_frames()
    assert scale == pytest.approx(0.001)
    # librealsense's playback delivers its first complete frameset, which need not hold the bag's
    # first depth frame: the frame it gave must be one of ours, to the bit (x the depth scale)
    want = raw.astype(np.float32) * np.float32(scale)
    assert any(d.shape == want.shape and np.array_equal(d, want) for d in depth), [
        float(np.abs(d - want).max()) for d in depth
    ]
    assert any(np.array_equal(c, rs_color) for c in color)
    cam = s.calibration.camera("rs")  # the depth camera's CameraInfo, as the sensor's calibration
    assert (cam.width, cam.height) == (intr.width, intr.height)
    np.testing.assert_allclose([cam.fx, cam.fy, cam.cx, cam.cy], [intr.fx, intr.fy, intr.ppx, intr.ppy], rtol=1e-6)
