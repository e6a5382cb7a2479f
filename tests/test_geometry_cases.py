"""Shared cameras and point sets for the geometry tests, and a check of the generators.

The other ``test_geometry_*`` modules load this file by path (pytest runs in importlib mode).
"""

from __future__ import annotations

import numpy as np

from sensorfusion.schema._calibration import (
    DoubleSphereCamera,
    Fisheye624Camera,
    KannalaBrandtCamera,
    OmnidirectionalCamera,
    PinholeCamera,
)

PINHOLE = PinholeCamera(
    width=1280,
    height=720,
    fx=910.0,
    fy=905.5,
    cx=641.3,
    cy=358.2,
    k1=-0.28,
    k2=0.09,
    p1=0.0012,
    p2=-0.0007,
    k3=-0.012,
)
PINHOLE_RATIONAL = PinholeCamera(
    width=1920,
    height=1080,
    fx=1400.0,
    fy=1395.0,
    cx=955.0,
    cy=545.0,
    k1=0.35,
    k2=-0.12,
    p1=-0.0009,
    p2=0.0015,
    k3=0.02,
    k4=0.6,
    k5=-0.05,
    k6=0.01,
)
KB = KannalaBrandtCamera(
    width=1280, height=1024, fx=420.0, fy=419.0, cx=640.5, cy=511.0, k1=0.042, k2=-0.011, k3=0.0023, k4=-0.0004
)
DS = DoubleSphereCamera(width=1024, height=1024, fx=350.0, fy=349.0, cx=512.0, cy=511.0, xi=-0.21, alpha=0.59)
# A synthetic OCamCalib-like camera (ascending cam2world polynomial, a0 < 0) without inv_poly:
# projection goes through the Newton fallback.
OMNI_NO_INV = OmnidirectionalCamera(
    width=1280, height=960, poly=(-300.0, 0.0, 1.1e-3, -4e-7, 1.5e-9), cx=642.0, cy=478.5, c=1.0002, d=0.0004, e=-0.0003
)
# Fisheye624 with parameters like an Aria SLAM camera's, tangential and thin-prism terms made
# larger so that they matter in every check
F624 = Fisheye624Camera.from_params(
    [241.7, 320.6, 242.6, -0.0269, 0.1032, -0.0725, 0.0123, 0.0015, -0.00048, 0.0019, 0.0019, -0.0031, -0.0003,
     -0.0026, 0.00002],
    width=640,
    height=480,
)  # fmt: skip
CAMERAS = {
    "pinhole": PINHOLE,
    "pinhole_rational": PINHOLE_RATIONAL,
    "kannala_brandt": KB,
    "double_sphere": DS,
    "omni_newton": OMNI_NO_INV,
    "fisheye624": F624,
}
# largest angle from the optical axis each camera is exercised over (radians)
MAX_ANGLE = {
    "pinhole": 0.6,
    "pinhole_rational": 0.6,
    "kannala_brandt": 1.4,
    "double_sphere": 1.5,
    "omni_newton": 1.5,
    "fisheye624": 1.7,
}


def points_in_view(n: int, max_angle_rad: float, seed: int = 0) -> np.ndarray:
    """``(n, 3)`` camera-frame points at angles up to ``max_angle_rad`` from the axis, 0.3–20 m away."""
    rng = np.random.default_rng(seed)
    ang = max_angle_rad * np.sqrt(rng.uniform(0, 1, n))
    az = rng.uniform(-np.pi, np.pi, n)
    dist = rng.uniform(0.3, 20.0, n)
    return np.stack([np.sin(ang) * np.cos(az), np.sin(ang) * np.sin(az), np.cos(ang)], -1) * dist[:, None]


def awkward_points() -> np.ndarray:
    """Points every model must survive: NaN, inf, the origin, behind, on the axis, huge."""
    return np.array(
        [
            [np.nan, 0.0, 1.0],
            [0.0, np.inf, 1.0],
            [0.0, 0.0, -np.inf],
            [0.0, 0.0, 0.0],
            [0.0, 0.0, -2.0],
            [0.3, -0.2, -1.0],
            [0.0, 0.0, 3.0],
            [1e-30, -1e-30, 1.0],
            [1e200, 1e200, 1e200],
            [1.0, 0.0, 0.0],
        ]
    )


def test_points_in_view_respect_their_bounds() -> None:
    pts = points_in_view(1000, 0.8, seed=4)
    ang = np.arctan2(np.linalg.norm(pts[:, :2], axis=-1), pts[:, 2])
    dist = np.linalg.norm(pts, axis=-1)
    assert ang.max() <= 0.8 and ang.max() > 0.75  # reaches the edge of the requested cone
    assert dist.min() >= 0.3 and dist.max() <= 20.0
    assert set(CAMERAS) == set(MAX_ANGLE)
