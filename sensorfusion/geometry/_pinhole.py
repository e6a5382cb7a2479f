"""Pinhole + Brown–Conrady (OpenCV rational model k1..k6, tangential p1, p2).

Two layers:

* the model kernels ``geometry.pinhole.*`` (numpy reference here, Numba CPU loops here over
  the scalar functions of :mod:`._numba_models`, CUDA in :mod:`._cuda`), taking the flat
  parameter array ``[fx, fy, cx, cy, k1, k2, p1, p2, k3, k4, k5, k6]``;
* the original helpers used by the DLT stage and the simulator (``project_pinhole``,
  ``projection_matrix``, ``look_at``, ``distort_normalized``), unchanged.

Model: ``x' = x/z, y' = y/z``, ``r² = x'² + y'²``,
``x'' = x' (1 + k1 r² + k2 r⁴ + k3 r⁶)/(1 + k4 r² + k5 r⁴ + k6 r⁶) + 2 p1 x'y' + p2 (r² + 2x'²)``,
``y'' = y' (…)/(…) + p1 (r² + 2y'²) + 2 p2 x'y'``, ``u = fx x'' + cx``, ``v = fy y'' + cy``.
Points with ``z <= 0`` project to NaN.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..kernels import scalar
from ..schema._calibration import PinholeCamera, Transform
from ._params import NAN, NEWTON_MAX_ITER, NEWTON_RESIDUAL_TOL, NEWTON_STEP_TOL, camera_params
from ._tiers import register_camera_model

__all__ = [
    "distort_normalized",
    "look_at",
    "pinhole_project_jacobian_numpy",
    "pinhole_project_numpy",
    "pinhole_project_point",
    "pinhole_project_point_jacobian",
    "pinhole_undistort_pixel",
    "pinhole_undistort_points_numpy",
    "pinhole_unproject_numpy",
    "pinhole_unproject_pixel",
    "project_pinhole",
    "projection_matrix",
    "undistort_pixels",
]


def distort_normalized(xy: np.ndarray, cam: PinholeCamera) -> np.ndarray:
    """Apply Brown–Conrady (rational k1..k6, tangential p1, p2) to normalized ``(*, 2)`` points."""
    xy = np.asarray(xy, dtype=np.float64)
    xd, yd, *_ = _distort_np(camera_params(cam), xy[..., 0], xy[..., 1])
    return np.stack([xd, yd], axis=-1)


def project_pinhole(
    points_world: np.ndarray, cam: PinholeCamera, world_from_camera: Transform
) -> tuple[np.ndarray, np.ndarray]:
    """Project ``(*, 3)`` world points; returns pixels ``(*, 2)`` and depth ``(*,)`` in metres.

    Points at or behind the camera (depth <= 0) give NaN pixels; NaN points give NaN. The
    numpy reference tier of ``geometry.pinhole.project`` on the world→camera transformed points.
    """
    pts = np.asarray(points_world, dtype=np.float64)
    m = np.linalg.inv(world_from_camera.matrix)
    pc = pts @ m[:3, :3].T + m[:3, 3]
    uv = pinhole_project_numpy(camera_params(cam), pc.reshape(-1, 3)).reshape(*pc.shape[:-1], 2)
    return uv, pc[..., 2]


def undistort_pixels(uv: np.ndarray, cam: PinholeCamera) -> np.ndarray:
    """Map distorted pixels ``(*, 2)`` to the pixels an ideal pinhole with the same ``K`` would
    see (the numpy reference of ``geometry.pinhole.undistort_points``, scaled back by ``K``).
    NaN stays NaN; a pixel the distortion model cannot invert gives NaN."""
    uv = np.asarray(uv, dtype=np.float64)
    xy = pinhole_undistort_points_numpy(camera_params(cam), uv.reshape(-1, 2)).reshape(uv.shape)
    return np.stack([xy[..., 0] * cam.fx + cam.cx, xy[..., 1] * cam.fy + cam.cy], axis=-1)


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


# --------------------------------------------------------------------------------------------
# numpy reference tier (flat parameter array)
# --------------------------------------------------------------------------------------------


def _distort_np(params: np.ndarray, xn: np.ndarray, yn: np.ndarray) -> tuple[np.ndarray, ...]:
    """Distorted normalized point and the Jacobian entries (j00, j01, j11; j10 == j01)."""
    k1, k2, p1, p2, k3, k4, k5, k6 = (float(v) for v in params[4:12])
    r2 = xn * xn + yn * yn
    a = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    b = 1 + k4 * r2 + k5 * r2**2 + k6 * r2**3
    da = k1 + 2 * k2 * r2 + 3 * k3 * r2**2
    db = k4 + 2 * k5 * r2 + 3 * k6 * r2**2
    radial = a / b
    drad = (da * b - a * db) / b**2
    xd = xn * radial + 2 * p1 * xn * yn + p2 * (r2 + 2 * xn**2)
    yd = yn * radial + p1 * (r2 + 2 * yn**2) + 2 * p2 * xn * yn
    j00 = radial + 2 * xn**2 * drad + 2 * p1 * yn + 6 * p2 * xn
    j01 = 2 * xn * yn * drad + 2 * p1 * xn + 2 * p2 * yn
    j11 = radial + 2 * yn**2 * drad + 6 * p1 * yn + 2 * p2 * xn
    return xd, yd, j00, j01, j11


def pinhole_project_jacobian_numpy(params: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels ``(M, 2)`` and d(pixel)/d(point) ``(M, 2, 3)``; NaN where ``z <= 0``."""
    x, y, z = points[:, 0], points[:, 1], points[:, 2]
    fx, fy, cx, cy = (float(v) for v in params[:4])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        xn, yn = x / z, y / z
        xd, yd, a, b, d = _distort_np(params, xn, yn)
        uv = np.stack([fx * xd + cx, fy * yd + cy], axis=-1)
        jac = np.empty((len(points), 2, 3))
        jac[:, 0, 0], jac[:, 0, 1], jac[:, 0, 2] = fx * a / z, fx * b / z, -fx * (a * xn + b * yn) / z
        jac[:, 1, 0], jac[:, 1, 1], jac[:, 1, 2] = fy * b / z, fy * d / z, -fy * (b * xn + d * yn) / z
    bad = ~((z > 0) & np.isfinite(points).all(-1) & np.isfinite(uv).all(-1))
    uv[bad] = np.nan
    jac[bad] = np.nan
    return uv, jac


def pinhole_project_numpy(params: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Pixels ``(M, 2)`` of camera-frame points ``(M, 3)``."""
    return pinhole_project_jacobian_numpy(params, points)[0]


def pinhole_undistort_points_numpy(params: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Ideal normalized ``(M, 2)`` by 2-D Newton (same cap and tolerances as the Numba tiers)."""
    fx, fy, cx, cy = (float(v) for v in params[:4])
    xd = (pixels[:, 0] - cx) / fx
    yd = (pixels[:, 1] - cy) / fy
    xn, yn = xd.copy(), yd.copy()
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for _ in range(NEWTON_MAX_ITER):
            fxd, fyd, a, b, d = _distort_np(params, xn, yn)
            rx, ry = fxd - xd, fyd - yd
            det = a * d - b * b
            xn = xn - (d * rx - b * ry) / det
            yn = yn - (a * ry - b * rx) / det
        fxd, fyd, _a, _b, _d = _distort_np(params, xn, yn)
        ok = np.abs(fxd - xd) + np.abs(fyd - yd) <= NEWTON_RESIDUAL_TOL * (1 + np.abs(xd) + np.abs(yd))
    out = np.stack([xn, yn], axis=-1)
    out[~ok] = np.nan
    return out


def pinhole_unproject_numpy(params: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Unit rays ``(M, 3)``."""
    xy = pinhole_undistort_points_numpy(params, pixels)
    ray = np.concatenate([xy, np.ones((len(xy), 1))], axis=-1)
    out: np.ndarray = ray / np.linalg.norm(ray, axis=-1, keepdims=True)
    return out


# --------------------------------------------------------------------------------------------
# scalar kernels (one point each): the cpu and cuda tiers are generated from these
# --------------------------------------------------------------------------------------------


@scalar
def _bc_distort(params: Any, xn: float, yn: float) -> Any:
    """Distorted normalized point and its 2x2 Jacobian w.r.t. the undistorted one."""
    k1 = params[4]
    k2 = params[5]
    p1 = params[6]
    p2 = params[7]
    k3 = params[8]
    k4 = params[9]
    k5 = params[10]
    k6 = params[11]
    r2 = xn * xn + yn * yn
    a = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
    b = 1.0 + r2 * (k4 + r2 * (k5 + r2 * k6))
    da = k1 + r2 * (2.0 * k2 + 3.0 * k3 * r2)
    db = k4 + r2 * (2.0 * k5 + 3.0 * k6 * r2)
    radial = a / b
    drad = (da * b - a * db) / (b * b)
    xd = xn * radial + 2.0 * p1 * xn * yn + p2 * (r2 + 2.0 * xn * xn)
    yd = yn * radial + p1 * (r2 + 2.0 * yn * yn) + 2.0 * p2 * xn * yn
    j00 = radial + 2.0 * xn * xn * drad + 2.0 * p1 * yn + 6.0 * p2 * xn
    j01 = 2.0 * xn * yn * drad + 2.0 * p1 * xn + 2.0 * p2 * yn
    j11 = radial + 2.0 * yn * yn * drad + 6.0 * p1 * yn + 2.0 * p2 * xn
    return xd, yd, j00, j01, j01, j11


@scalar
def pinhole_project_point(params: Any, x: float, y: float, z: float) -> Any:
    """Pixel ``(u, v)`` of a camera-frame point; NaN when ``z <= 0`` or not finite."""
    if not (z > 0.0) or not math.isfinite(x) or not math.isfinite(y) or not math.isfinite(z):
        return NAN, NAN
    xd, yd, _a, _b, _c, _d = _bc_distort(params, x / z, y / z)
    u = params[0] * xd + params[2]
    v = params[1] * yd + params[3]
    if not (math.isfinite(u) and math.isfinite(v)):
        return NAN, NAN
    return u, v


@scalar
def pinhole_project_point_jacobian(params: Any, x: float, y: float, z: float) -> Any:
    """Pixel and d(u, v)/d(x, y, z) (row-major 2x3); all NaN where the point is invalid."""
    if not (z > 0.0) or not math.isfinite(x) or not math.isfinite(y) or not math.isfinite(z):
        return NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN
    iz = 1.0 / z
    xn = x * iz
    yn = y * iz
    xd, yd, a, b, c, d = _bc_distort(params, xn, yn)
    fx = params[0]
    fy = params[1]
    u = fx * xd + params[2]
    v = fy * yd + params[3]
    if not (math.isfinite(u) and math.isfinite(v)):
        return NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN
    return (
        u,
        v,
        fx * a * iz,
        fx * b * iz,
        -fx * (a * xn + b * yn) * iz,
        fy * c * iz,
        fy * d * iz,
        -fy * (c * xn + d * yn) * iz,
    )


@scalar
def pinhole_undistort_pixel(params: Any, u: float, v: float) -> Any:
    """Ideal normalized ``(x/z, y/z)`` of a distorted pixel (2-D Newton); NaN if it does not converge."""
    xd = (u - params[2]) / params[0]
    yd = (v - params[3]) / params[1]
    if not (math.isfinite(xd) and math.isfinite(yd)):
        return NAN, NAN
    xn = xd
    yn = yd
    for _ in range(NEWTON_MAX_ITER):
        fx_, fy_, a, b, c, d = _bc_distort(params, xn, yn)
        rx = fx_ - xd
        ry = fy_ - yd
        det = a * d - b * c
        if not (math.isfinite(det) and det != 0.0):
            return NAN, NAN
        sx = (d * rx - b * ry) / det
        sy = (a * ry - c * rx) / det
        xn -= sx
        yn -= sy
        if abs(sx) + abs(sy) < NEWTON_STEP_TOL:
            break
    fx_, fy_, a, b, c, d = _bc_distort(params, xn, yn)
    if not (abs(fx_ - xd) + abs(fy_ - yd) <= NEWTON_RESIDUAL_TOL * (1.0 + abs(xd) + abs(yd))):
        return NAN, NAN
    return xn, yn


@scalar
def pinhole_unproject_pixel(params: Any, u: float, v: float) -> Any:
    """Unit ray of a pixel; NaN when the undistortion fails."""
    xn, yn = pinhole_undistort_pixel(params, u, v)
    if not math.isfinite(xn):
        return NAN, NAN, NAN
    n = math.sqrt(xn * xn + yn * yn + 1.0)
    return xn / n, yn / n, 1.0 / n


register_camera_model(
    "pinhole",
    scalars={
        "project": pinhole_project_point,
        "project_jacobian": pinhole_project_point_jacobian,
        "unproject": pinhole_unproject_pixel,
        "undistort_points": pinhole_undistort_pixel,
    },
    numpy={
        "project": pinhole_project_numpy,
        "project_jacobian": pinhole_project_jacobian_numpy,
        "unproject": pinhole_unproject_numpy,
        "undistort_points": pinhole_undistort_points_numpy,
    },
    example_params=np.array([500.0, 500.0, 320.0, 240.0, -0.1, 0.01, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
)
