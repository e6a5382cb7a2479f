"""Triangulation through non-pinhole cameras: fisheye and double-sphere rigs recover the points."""

from __future__ import annotations

import numpy as np
import pytest

from sensorfusion.fusion import triangulate_points
from sensorfusion.fusion._cameras import view_model
from sensorfusion.geometry import look_at, world_to_pixels
from sensorfusion.schema import DoubleSphereCamera, Fisheye624Camera, KannalaBrandtCamera, PinholeCamera


def cameras(kind: str):
    if kind == "kannala_brandt":
        return KannalaBrandtCamera(
            width=1280, height=960, fx=400, fy=401, cx=640, cy=480, k1=0.02, k2=-0.01, k3=0.002, k4=-0.0005
        )
    if kind == "double_sphere":
        return DoubleSphereCamera(width=1280, height=960, fx=350, fy=350, cx=640, cy=480, xi=-0.2, alpha=0.6)
    if kind == "fisheye624":  # an Aria SLAM camera's parameters
        return Fisheye624Camera.from_params(
            [241.7, 320.6, 242.6, -0.0269, 0.1032, -0.0725, 0.0123, 0.0015, -0.00048, 0.0019, 0.0019, -0.0031,
             -0.0003, -0.0026, 0.00002], width=640, height=480,
        )  # fmt: skip
    return PinholeCamera(width=1280, height=960, fx=900, fy=900, cx=640, cy=480, k1=-0.1, k2=0.02, p1=0.001)


@pytest.mark.parametrize("kind", ["pinhole", "kannala_brandt", "double_sphere", "fisheye624"])
def test_triangulation_through_any_camera_model(kind):
    rng = np.random.default_rng(0)
    cam = cameras(kind)
    poses = [
        look_at(np.array([3 * np.cos(a), 3 * np.sin(a), 2.0]), np.array([0.0, 0.0, 1.0]))
        for a in np.linspace(0, 2 * np.pi, 5)[:-1]
    ]
    X = rng.uniform([-0.8, -0.8, 0.3], [0.8, 0.8, 1.8], size=(50, 3))
    uv = np.stack([world_to_pixels(cam, pose, X) for pose in poses])  # (V, N, 2)
    models = [view_model(cam, pose) for pose in poses]
    ideal = np.stack([m.undistort(uv[v]) for v, m in enumerate(models)])
    P = np.stack([m.P for m in models])
    res = triangulate_points(ideal, np.ones(ideal.shape[:2]), P, tier="numpy")
    np.testing.assert_allclose(res.points3d, X, atol=1e-6)
    assert np.all(res.reprojection_error_px < 1e-6)


@pytest.mark.parametrize("kind", ["pinhole", "kannala_brandt", "fisheye624"])
def test_dlt_stage_triangulates_through_any_camera_model(kind):
    from sensorfusion import (
        FieldSpec,
        Frame,
        FrameKind,
        FrameSet,
        RigCalibration,
        SensorCalibration,
        StageContext,
        StreamSpec,
    )
    from sensorfusion._builtin.fusion import DltParams, DltTriangulator
    from sensorfusion.schema import SkeletonRegistry, builtin_skeletons

    cam = cameras(kind)
    poses = [
        look_at(np.array([3 * np.cos(a), 3 * np.sin(a), 2.0]), np.array([0.0, 0.0, 1.0]))
        for a in np.linspace(0, 2 * np.pi, 5)[:-1]
    ]
    cal = RigCalibration(
        sensors={f"cam{i}": SensorCalibration(camera=cam, world_from_sensor=p) for i, p in enumerate(poses)}
    )
    specs = [
        StreamSpec(
            name=f"cam{i}/keypoints2d",
            kind=FrameKind.KEYPOINTS2D,
            ragged=True,
            skeleton="coco17",
            fields={"keypoints": FieldSpec(dtype="float32", shape=(17, 3)), "person_id": FieldSpec(dtype="int64")},
        )
        for i in range(4)
    ]
    ctx = StageContext(
        stage_id="fusion", inputs=specs, calibration=cal, skeletons=SkeletonRegistry(builtin_skeletons())
    )
    est = DltTriangulator(DltParams(tier="numpy"), ctx)
    X = np.random.default_rng(1).uniform([-0.5, -0.5, 0.2], [0.5, 0.5, 1.8], size=(17, 3))
    frames = {}
    for i, pose in enumerate(poses):
        uv = world_to_pixels(cam, pose, X)
        kp = np.concatenate([uv, np.ones((17, 1))], axis=1).astype(np.float32)[None]
        frames[specs[i].name] = Frame(specs[i].name, 0, 0, 0, {"keypoints": kp, "person_id": np.array([7])})
    out = est.process(FrameSet(0, 0, 0, frames))["fusion/skeleton3d"]
    assert out["person_id"].tolist() == [7]
    np.testing.assert_allclose(out["joints"][0], X, atol=2e-3)  # float32 pixels in, float32 out
    assert np.all(out["views"][0] == 4) and np.all(out["reprojection_error_px"][0] < 0.05)


def test_dlt_stage_point_behind_a_camera_has_an_infinite_error_not_an_overflow():
    """Two facing cameras whose rays meet behind one of them: the joint's reprojection error is
    inf (it was a float64 max cast to float32: an overflow warning and a meaningless number)."""
    from sensorfusion import (
        FieldSpec,
        Frame,
        FrameKind,
        FrameSet,
        RigCalibration,
        SensorCalibration,
        StageContext,
        StreamSpec,
    )
    from sensorfusion._builtin.fusion import DltParams, DltTriangulator
    from sensorfusion.schema import SkeletonRegistry, builtin_skeletons

    cam = cameras("pinhole")
    centres = [np.array([3.0, 0.0, 1.0]), np.array([-3.0, 0.0, 1.0])]
    poses = [look_at(c, np.array([0.0, 0.0, 1.0])) for c in centres]
    cal = RigCalibration(
        sensors={f"cam{i}": SensorCalibration(camera=cam, world_from_sensor=p) for i, p in enumerate(poses)}
    )
    specs = [
        StreamSpec(name=f"cam{i}/keypoints2d", kind=FrameKind.KEYPOINTS2D, ragged=True, skeleton="coco17",
                   fields={"keypoints": FieldSpec(dtype="float32", shape=(17, 3)), "person_id": FieldSpec(dtype="int64")})
        for i in range(2)
    ]  # fmt: skip
    ctx = StageContext(
        stage_id="fusion", inputs=specs, calibration=cal, skeletons=SkeletonRegistry(builtin_skeletons())
    )
    est = DltTriangulator(DltParams(tier="numpy"), ctx)
    X = np.random.default_rng(2).uniform([-0.5, -0.5, 0.5], [0.5, 0.5, 1.5], size=(17, 3))
    X[0] = [3.6, 0.1, 1.1]  # joint 0 lies behind camera 0 (between it and nothing), in front of camera 1
    frames = {}
    for i, pose in enumerate(poses):
        # camera 0 sees joint 0 through its mirror image about the camera centre: the same line
        Y = X.copy()
        if i == 0:
            Y[0] = 2 * centres[0] - X[0]
        uv = world_to_pixels(cam, pose, Y)
        kp = np.concatenate([uv, np.ones((17, 1))], axis=1).astype(np.float32)[None]
        frames[specs[i].name] = Frame(specs[i].name, 0, 0, 0, {"keypoints": kp, "person_id": np.array([3])})
    out = est.process(FrameSet(0, 0, 0, frames))["fusion/skeleton3d"]
    err = out["reprojection_error_px"][0]
    assert np.all(err[1:] < 0.05)
    assert not np.isfinite(err[0]) or err[0] > 1e3
    assert est.summary()["mean_reprojection_error_px"] < 1.0  # the bad joint does not swamp the mean
