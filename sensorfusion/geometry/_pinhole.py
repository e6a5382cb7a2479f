"""Pinhole + Brown–Conrady projection, numpy reference tier.

Shapes: points ``(*, N, 3)`` in the world, pixels ``(*, N, 2)``. The Numba CPU and CUDA
tiers with the same signature arrive with the camera-geometry work; this reference is
what they are tested against.
"""

from __future__ import annotations

import numpy as np

from ..schema._calibration import PinholeCamera, Transform

__all__ = ["distort_normalized", "look_at", "project_pinhole", "projection_matrix"]


def distort_normalized(xy: np.ndarray, cam: PinholeCamera) -> np.ndarray:
    """Apply Brown–Conrady (rational k1..k6, tangential p1, p2) to normalized ``(*, 2)`` points."""
    x, y = xy[..., 0], xy[..., 1]
    r2 = x * x + y * y
    r4, r6 = r2 * r2, r2 * r2 * r2
    radial = (1 + cam.k1 * r2 + cam.k2 * r4 + cam.k3 * r6) / (1 + cam.k4 * r2 + cam.k5 * r4 + cam.k6 * r6)
    xd = x * radial + 2 * cam.p1 * x * y + cam.p2 * (r2 + 2 * x * x)
    yd = y * radial + cam.p1 * (r2 + 2 * y * y) + 2 * cam.p2 * x * y
    return np.stack([xd, yd], axis=-1)


def project_pinhole(
    points_world: np.ndarray, cam: PinholeCamera, world_from_camera: Transform
) -> tuple[np.ndarray, np.ndarray]:
    """Project ``(*, 3)`` world points; returns pixels ``(*, 2)`` and depth ``(*,)`` in metres.

    Points at or behind the camera (depth <= 0) give NaN pixels; NaN points give NaN.
    """
    pts = np.asarray(points_world, dtype=np.float64)
    m = np.linalg.inv(world_from_camera.matrix)
    pc = pts @ m[:3, :3].T + m[:3, 3]
    z = pc[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        xy = pc[..., :2] / z[..., None]
    xy = np.where((z > 0)[..., None], xy, np.nan)
    d = distort_normalized(xy, cam)
    uv = np.stack([cam.fx * d[..., 0] + cam.cx, cam.fy * d[..., 1] + cam.cy], axis=-1)
    return uv, z


def projection_matrix(cam: PinholeCamera, world_from_camera: Transform) -> np.ndarray:
    """The 3x4 matrix ``K [R | t]`` of ``camera_from_world`` (distortion not included)."""
    m = np.linalg.inv(world_from_camera.matrix)
    return cam.K @ m[:3, :]


def look_at(eye_m: np.ndarray, target_m: np.ndarray, up: tuple[float, float, float] = (0.0, 0.0, 1.0)) -> Transform:
    """``world_from_camera`` of an OpenCV camera at ``eye_m`` looking at ``target_m`` (z forward,
    y down, so ``up`` maps to -y in the image)."""
    eye = np.asarray(eye_m, dtype=np.float64)
    z = np.asarray(target_m, dtype=np.float64) - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, np.asarray(up, dtype=np.float64))
    if np.linalg.norm(x) < 1e-9:
        raise ValueError("look_at: viewing direction is parallel to 'up'")
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = x, y, z, eye
    return Transform.from_matrix(m)
