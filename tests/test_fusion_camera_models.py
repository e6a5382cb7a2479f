"""Triangulation through non-pinhole cameras: fisheye and double-sphere rigs recover the points."""

from __future__ import annotations

import numpy as np
import pytest

from sensorfusion.fusion import triangulate_points
from sensorfusion.fusion._cameras import view_model
from sensorfusion.geometry import look_at, world_to_pixels
from sensorfusion.schema import DoubleSphereCamera, KannalaBrandtCamera, PinholeCamera


def cameras(kind: str):
    if kind == "kannala_brandt":
        return KannalaBrandtCamera(width=1280, height=960, fx=400, fy=401, cx=640, cy=480, k1=0.02, k2=-0.01, k3=0.002, k4=-0.0005)
    if kind == "double_sphere":
        return DoubleSphereCamera(width=1280, height=960, fx=350, fy=350, cx=640, cy=480, xi=-0.2, alpha=0.6)
    return PinholeCamera(width=1280, height=960, fx=900, fy=900, cx=640, cy=480, k1=-0.1, k2=0.02, p1=0.001)


@pytest.mark.parametrize("kind", ["pinhole", "kannala_brandt", "double_sphere"])
def test_triangulation_through_any_camera_model(kind):
    rng = np.random.default_rng(0)
    cam = cameras(kind)
    poses = [look_at(np.array([3 * np.cos(a), 3 * np.sin(a), 2.0]), np.array([0.0, 0.0, 1.0])) for a in np.linspace(0, 2 * np.pi, 5)[:-1]]
    X = rng.uniform([-0.8, -0.8, 0.3], [0.8, 0.8, 1.8], size=(50, 3))
    uv = np.stack([world_to_pixels(cam, pose, X) for pose in poses])  # (V, N, 2)
    models = [view_model(cam, pose) for pose in poses]
    ideal = np.stack([m.undistort(uv[v]) for v, m in enumerate(models)])
    P = np.stack([m.P for m in models])
    res = triangulate_points(ideal, np.ones(ideal.shape[:2]), P, tier="numpy")
    np.testing.assert_allclose(res.points3d, X, atol=1e-6)
    assert np.all(res.reprojection_error_px < 1e-6)
