"""Calibration from a walking person, time offsets, radar↔camera and RealSense depth↔colour."""

from __future__ import annotations

import math
import os
import sys

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from sensorfusion_calibration._align import estimate_time_offset, fit_rigid, rig_calibration_from_realsense
from sensorfusion_calibration._people import calibrate_from_people
from sensorfusion_sim import PeopleSim, make_rig

from sensorfusion import ConfigError
from sensorfusion.geometry import world_to_pixels
from sensorfusion.schema import Transform

sys.path.insert(0, os.path.dirname(__file__))
from test_calib_extrinsics import rig_errors


def test_extrinsics_from_a_walking_person() -> None:
    rig = make_rig(4, width=1280, height=720)
    sim = PeopleSim(seed=3, people=1)
    t_s = np.arange(0.0, 30.0, 0.1)
    joints = np.array([sim.joints_at(t)[0] for t in t_s])
    rng = np.random.default_rng(0)
    kp = {}
    for sid, s in rig.sensors.items():
        uv = world_to_pixels(s.camera, s.world_from_sensor, joints.reshape(-1, 3), tier="numpy")  # type: ignore[arg-type]
        uv = uv.reshape(len(t_s), 17, 2) + rng.normal(0, 1.0, (len(t_s), 17, 2))
        uv[(uv[..., 0] < 0) | (uv[..., 0] > 1280) | (uv[..., 1] < 0) | (uv[..., 1] > 720)] = np.nan
        uv[rng.random(uv.shape[:2]) < 0.05] = np.nan  # missed detections
        kp[sid] = uv
    res = calibrate_from_people({k: s.camera for k, s in rig.sensors.items()}, kp, height_m=float(sim.heights_m[0]))  # type: ignore[misc]
    pos, rot = rig_errors(res.rig, rig)
    print(
        f"people calibration: position error max {pos.max() * 1e3:.2f} mm, rotation max {math.degrees(rot.max()):.4f} deg"
    )
    assert pos.max() <= 5e-3
    assert math.degrees(rot.max()) < 0.1
    assert res.bone_lengths_m[(13, 15)] == pytest.approx(0.246 * sim.heights_m[0], rel=0.02)  # shank


def test_time_offset_from_motion() -> None:
    t_a = np.arange(0.0, 20.0, 1 / 30)
    t_b = np.arange(0.0, 20.0, 1 / 50) + 0.0123  # another clock, another rate
    true_offset_s = 0.2371  # B's clock reads this much less than A's at the same instant

    def motion(t: np.ndarray) -> np.ndarray:
        return np.column_stack(
            [np.sin(1.3 * t) + 0.4 * np.sin(3.7 * t), np.cos(0.9 * t) * np.sin(2.3 * t), 0.2 * np.sin(5.1 * t)]
        )

    a = motion(t_a)
    b = motion(t_b + true_offset_s) * 1.7 + np.random.default_rng(0).normal(0, 0.003, (t_b.size, 3))  # other units
    dt_ns, peak = estimate_time_offset(
        (t_a * 1e9).astype(np.int64), a, (t_b * 1e9).astype(np.int64), b, max_offset_s=1.0
    )
    assert abs(dt_ns * 1e-9 - true_offset_s) < 0.004
    assert peak > 0.8


def test_radar_to_camera_from_matched_targets() -> None:
    rng = np.random.default_rng(1)
    cam_from_radar = Transform.from_rotvec(np.array([0.1, -0.3, 0.05]), np.array([0.2, -0.1, 0.05]))
    radar_pts = rng.uniform([-2, 1, -0.5], [2, 6, 1.5], (80, 3))
    cam_pts = cam_from_radar.apply(radar_pts) + rng.normal(0, 0.01, (80, 3))
    cam_pts[::10] += rng.normal(0, 0.8, (8, 3))  # multipath / wrong association
    cam_pts[3] = np.nan
    fit = fit_rigid(cam_pts, radar_pts)
    ang = Rotation.from_matrix(fit.a_from_b.matrix[:3, :3].T @ cam_from_radar.matrix[:3, :3]).magnitude()
    assert np.linalg.norm(np.subtract(fit.a_from_b.translation_m, cam_from_radar.translation_m)) < 0.01
    assert math.degrees(ang) < 0.3
    assert fit.inliers.sum() >= 70 and not fit.inliers[3] and not fit.inliers[0]
    with pytest.raises(ConfigError, match="not collinear"):
        fit_rigid(np.zeros((5, 3)), np.outer(np.arange(5), [1.0, 0, 0]))


def test_realsense_depth_to_colour() -> None:
    # the numbers a D4xx reports for the recording in ../shared/data/realsense (see its README)
    depth = {
        "width": 640,
        "height": 480,
        "fx": 390.43,
        "fy": 390.43,
        "ppx": 331.39,
        "ppy": 242.19,
        "coeffs": [0, 0, 0, 0, 0],
    }
    color = {
        "width": 640,
        "height": 480,
        "fx": 613.20,
        "fy": 613.42,
        "ppx": 319.94,
        "ppy": 239.18,
        "coeffs": [0, 0, 0, 0, 0],
    }
    r = Rotation.from_rotvec([0.001, -0.002, 0.0005]).as_matrix()
    rig = rig_calibration_from_realsense(depth_intrinsics=depth, color_intrinsics=color,
                                         depth_to_color_rotation=r.T.ravel().tolist(),  # column-major, as librealsense stores it
                                         depth_to_color_translation_m=[0.0143, 0.0, 0.0])  # fmt: skip
    p_depth = np.array([0.3, -0.2, 2.0])
    p_color_expected = r @ p_depth + [0.0143, 0.0, 0.0]
    world_from_color = rig.sensors["color"].world_from_sensor
    np.testing.assert_allclose(world_from_color.inverse().apply(p_depth), p_color_expected, atol=1e-12)
    assert rig.camera("color").fx == pytest.approx(613.20)  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="missing intrinsics key 'ppy'"):
        rig_calibration_from_realsense(depth_intrinsics={k: v for k, v in depth.items() if k != "ppy"}, color_intrinsics=color,
                                       depth_to_color_rotation=np.eye(3).ravel().tolist(), depth_to_color_translation_m=[0, 0, 0])  # fmt: skip


def test_realsense_recording_depth_to_colour_matches_librealsense() -> None:
    rs = pytest.importorskip("pyrealsense2", reason="pyrealsense2 not installed")
    data = os.environ.get(
        "SENSORFUSION_TEST_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data")
    )
    bag = os.path.join(data, "realsense", "single_depth_color_640x480.bag")
    if not os.path.exists(bag):
        pytest.skip(f"test data not found: {bag}")
    dev = rs.context().load_device(bag)
    profs = {p.stream_type(): p.as_video_stream_profile() for s in dev.query_sensors() for p in s.get_stream_profiles()}
    d, c = profs[rs.stream.depth], profs[rs.stream.color]
    di, ci, ext = d.get_intrinsics(), c.get_intrinsics(), d.get_extrinsics_to(c)

    def plain(i: object) -> dict[str, object]:
        return {k: getattr(i, k) for k in ("width", "height", "fx", "fy", "ppx", "ppy", "coeffs")}

    rig = rig_calibration_from_realsense(
        depth_intrinsics=plain(di),  # type: ignore[arg-type]
        color_intrinsics=plain(ci),  # type: ignore[arg-type]
        depth_to_color_rotation=list(ext.rotation),
        depth_to_color_translation_m=list(ext.translation),
    )
    p_depth = [0.3, -0.2, 2.0]
    want = rs.rs2_transform_point_to_point(ext, p_depth)  # librealsense's own depth -> colour mapping
    got = rig.sensors["color"].world_from_sensor.inverse().apply(np.array(p_depth))
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert 0.013 < np.linalg.norm(rig.sensors["color"].world_from_sensor.translation_m) < 0.016  # ~14.3 mm baseline
    assert rig.camera("depth").fx == pytest.approx(390.43, abs=0.01)  # type: ignore[union-attr]
