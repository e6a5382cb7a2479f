"""Stereo triangulation through fisheye models, headset geometry from a calibration, pose tracks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sensorfusion_egocentric import PoseTrack
from sensorfusion_egocentric._headset import HeadsetGeometry, headset_geometry
from sensorfusion_egocentric._stereo import triangulate_stereo

from sensorfusion import ConfigError, Transform
from sensorfusion.geometry import pose_matrix, project, transform_points
from sensorfusion.schema import DeviceMount, DoubleSphereCamera, KannalaBrandtCamera, RigCalibration, SensorCalibration


def headset(model: str = "kb", baseline: float = 0.1, pitch_deg: float = 60.0) -> RigCalibration:
    cam = (
        KannalaBrandtCamera(width=256, height=256, fx=81.5, fy=81.5, cx=127.5, cy=127.5, k1=0.01)
        if model == "kb"
        else DoubleSphereCamera(width=256, height=256, fx=70, fy=70, cx=127.5, cy=127.5, xi=-0.2, alpha=0.6)
    )
    c, s = math.cos(math.radians(pitch_deg)), math.sin(math.radians(pitch_deg))
    rot = np.array([[1.0, 0, 0], [0, c, s], [0, -s, c]])
    sensors = {
        f"hmd_{side}": SensorCalibration(
            camera=cam,
            mount=DeviceMount(
                device="hmd", device_from_sensor=Transform.from_matrix(pose_matrix(rot, np.array([x, 0.0, 0.0])))
            ),
        )
        for side, x in (("right", baseline / 2), ("left", -baseline / 2))
    }
    sensors["cam0"] = SensorCalibration(camera=cam)
    return RigCalibration(sensors=sensors)


def body_points(n: int = 200, seed: int = 0) -> np.ndarray:
    """Points where a wearer's body is, seen from the forehead (device frame: x right, y down, z forward)."""
    rng = np.random.default_rng(seed)
    return np.c_[rng.uniform(-0.4, 0.4, n), rng.uniform(0.1, 1.6, n), rng.uniform(-0.3, 0.5, n)]


def keypoints(geom: HeadsetGeometry, pts: np.ndarray, noise_px: float = 0.0, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    kp = np.zeros((2, len(pts), 3))
    for v in range(2):
        pc = transform_points(np.linalg.inv(geom.device_from_camera[v]), pts)
        kp[v, :, :2] = project(geom.models[v], pc, tier="numpy") + rng.normal(scale=noise_px, size=(len(pts), 2))
        kp[v, :, 2] = 0.9
    return kp


@pytest.mark.parametrize("model", ["kb", "ds"])
def test_exact_keypoints_triangulate_exactly_through_the_fisheye_model(model: str):
    geom = headset_geometry(headset(model), "hmd")
    assert geom.cameras == ("hmd_left", "hmd_right") and abs(geom.baseline_m - 0.1) < 1e-12
    pts = body_points()
    r = triangulate_stereo(geom, keypoints(geom, pts))
    assert np.abs(r.joints - pts).max() < 1e-6
    assert (r.confidence > 0.85).all() and np.nanmax(r.ray_distance_m) < 1e-6
    # a point beside the cameras (more than 90 degrees off the axis for neither) still triangulates
    side = np.array([[0.5, 0.05, 0.3]])
    assert np.abs(triangulate_stereo(geom, keypoints(geom, side)).joints - side).max() < 1e-6


def test_noise_gives_depth_error_growing_with_distance_as_sigma_says():
    geom = headset_geometry(headset(), "hmd")
    near = np.tile([[0.0, 0.35, 0.2]], (400, 1))
    far = np.tile([[0.0, 1.5, 0.1]], (400, 1))
    rn = triangulate_stereo(geom, keypoints(geom, near, 1.0, seed=2), max_ray_distance_m=1.0)
    rf = triangulate_stereo(geom, keypoints(geom, far, 1.0, seed=3), max_ray_distance_m=1.0)
    err_n = np.linalg.norm(rn.joints - near, axis=-1)
    err_f = np.linalg.norm(rf.joints - far, axis=-1)
    assert np.nanmedian(err_f) > 5 * np.nanmedian(err_n)
    # sigma_m predicts the spread to within a factor of two (1 px noise, assumed 1 px)
    r1 = triangulate_stereo(geom, keypoints(geom, far, 1.0, seed=3), max_ray_distance_m=1.0, noise_px=1.0)
    rms = math.sqrt(np.nanmean(err_f**2))
    assert 0.5 < np.nanmedian(r1.sigma_m) / rms < 2.0


def test_inconsistent_pairs_are_rejected_and_single_views_give_nan():
    geom = headset_geometry(headset(), "hmd")
    pts = body_points(20)
    kp = keypoints(geom, pts)
    kp[1, :5] = kp[1, 5:10]  # the right view sees other points: the rays miss each other
    kp[0, 10:12, :2] = np.nan  # missed in the left view
    kp[1, 12, 2] = 0.1  # too unsure
    r = triangulate_stereo(geom, kp)
    assert r.rejected[:5].sum() >= 4 and np.isnan(r.joints[10:13]).all()
    assert (r.confidence[10:13] == 0).all()
    assert np.abs(r.joints[13:] - pts[13:]).max() < 1e-6


def test_a_headset_with_a_missing_camera_is_a_clear_error():
    cal = headset()
    one = RigCalibration(sensors={k: v for k, v in cal.sensors.items() if k != "hmd_right"})
    with pytest.raises(
        ConfigError, match="exactly two cameras mounted on it in the calibration, found 1 \\(hmd_left\\)"
    ):
        headset_geometry(one, "hmd")
    with pytest.raises(ConfigError) as e:
        headset_geometry(cal, "quest")
    assert e.value.choices == ["hmd"]


def test_pose_track_interpolates_and_counts_bad_poses():
    tr = PoseTrack(max_gap_ns=100, max_age_ns=30)
    a, b = np.eye(4), pose_matrix(np.eye(3), np.array([1.0, 0.0, 0.0]))
    assert tr.at(5) == (None, "no_pose")
    assert tr.push(0, a) is None and tr.push(50, b) is None
    m, how = tr.at(25)
    assert how == "interpolated" and np.allclose(m[:3, 3], [0.5, 0, 0])
    assert tr.at(50)[1] == "exact" and tr.at(70)[1] == "nearest" and tr.at(90) == (None, "stale")
    assert tr.push(40, a) == "backwards" and tr.push(50, a) == "backwards"  # not after the newest: dropped
    bad = np.eye(4)
    bad[0, 0] = 3.0
    assert tr.push(60, bad) == "invalid" and tr.push(61, np.full((4, 4), np.nan)) == "invalid"
    assert tr.push(300, a) == "gap"
    m, how = tr.at(200)  # not across the gap
    assert how == "stale" and m is None
    assert dict(tr.counts) == {"poses": 3, "backwards": 2, "invalid": 2, "gap": 1}
