"""Kannala–Brandt equidistant fisheye (OpenCV ``cv2.fisheye``: k1..k4).

Parameters ``[fx, fy, cx, cy, k1, k2, k3, k4]``. With ``θ = atan2(‖(x, y)‖, z)`` (the angle
from the optical axis, so points beside and behind the image plane are allowed),
``θ_d = θ (1 + k1 θ² + k2 θ⁴ + k3 θ⁶ + k4 θ⁸)``, ``u = fx θ_d x/‖(x, y)‖ + cx``,
``v = fy θ_d y/‖(x, y)‖ + cy``. For ``z > 0`` this equals OpenCV's ``θ = atan(r)``.
A point projects to NaN straight behind the camera, or where ``dθ_d/dθ <= 0`` (the
polynomial folds back and the model stops being invertible). Unprojection inverts θ_d by
Newton (see :mod:`._numba_models` for the cap and tolerances).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..kernels import scalar
from ._params import NAN
from ._radial import (
    radial_scale,
    radial_scale_np,
    radial_theta,
    radial_theta_np,
    theta_normalized,
    theta_normalized_np,
    theta_ray,
    theta_ray_np,
)
from ._tiers import register_camera_model

__all__ = [
    "kb_project_jacobian_numpy",
    "kb_project_numpy",
    "kb_project_point",
    "kb_project_point_jacobian",
    "kb_undistort_pixel",
    "kb_undistort_points_numpy",
    "kb_unproject_numpy",
    "kb_unproject_pixel",
]


def kb_project_jacobian_numpy(params: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels ``(M, 2)`` and d(pixel)/d(point) ``(M, 2, 3)``."""
    fx, fy, cx, cy = (float(v) for v in params[:4])
    x, y, z = points[:, 0], points[:, 1], points[:, 2]
    s, g, dsdz, ok = radial_scale_np(params[4:8], x, y, z)
    with np.errstate(invalid="ignore", over="ignore"):
        uv = np.stack([fx * x * s + cx, fy * y * s + cy], axis=-1)
        jac = np.empty((len(points), 2, 3))
        jac[:, 0, 0], jac[:, 0, 1], jac[:, 0, 2] = fx * (s + x * x * g), fx * x * y * g, fx * x * dsdz
        jac[:, 1, 0], jac[:, 1, 1], jac[:, 1, 2] = fy * x * y * g, fy * (s + y * y * g), fy * y * dsdz
    bad = ~(np.isfinite(points).all(-1) & ok)
    uv[bad] = np.nan
    jac[bad] = np.nan
    return uv, jac


def kb_project_numpy(params: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Pixels ``(M, 2)`` of camera-frame points ``(M, 3)``."""
    return kb_project_jacobian_numpy(params, points)[0]


def _theta(params: np.ndarray, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    fx, fy, cx, cy = (float(v) for v in params[:4])
    mx = (pixels[:, 0] - cx) / fx
    my = (pixels[:, 1] - cy) / fy
    thd = np.sqrt(mx * mx + my * my)
    return radial_theta_np(params[4:8], thd), mx, my, thd


def kb_unproject_numpy(params: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Unit rays ``(M, 3)``."""
    return theta_ray_np(*_theta(params, pixels))


def kb_undistort_points_numpy(params: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Ideal normalized ``(M, 2)``; NaN when θ >= π/2."""
    return theta_normalized_np(*_theta(params, pixels))


# --------------------------------------------------------------------------------------------
# scalar kernels (one point each): the cpu and cuda tiers are generated from these
# --------------------------------------------------------------------------------------------


@scalar
def kb_project_point_jacobian(params: Any, x: float, y: float, z: float) -> Any:
    """Pixel and 2x3 Jacobian. Valid for any direction but straight back, where θ_d is increasing."""
    if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
        return NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN
    s, g, dsdz = radial_scale(params, 4, 4, x, y, z)
    if not math.isfinite(s):
        return NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN
    fx = params[0]
    fy = params[1]
    u = fx * x * s + params[2]
    v = fy * y * s + params[3]
    return (
        u,
        v,
        fx * (s + x * x * g),
        fx * x * y * g,
        fx * x * dsdz,
        fy * x * y * g,
        fy * (s + y * y * g),
        fy * y * dsdz,
    )


@scalar
def kb_project_point(params: Any, x: float, y: float, z: float) -> Any:
    """Pixel ``(u, v)``; NaN straight behind the camera, for non-finite input, or where θ_d folds."""
    r = kb_project_point_jacobian(params, x, y, z)
    return r[0], r[1]


@scalar
def _kb_theta(params: Any, u: float, v: float) -> Any:
    """(θ, mx, my, θ_d) of a pixel by Newton on θ_d(θ); θ is NaN when it does not converge."""
    mx = (u - params[2]) / params[0]
    my = (v - params[3]) / params[1]
    thd = math.sqrt(mx * mx + my * my)
    return radial_theta(params, 4, 4, thd), mx, my, thd


@scalar
def kb_unproject_pixel(params: Any, u: float, v: float) -> Any:
    """Unit ray of a pixel."""
    th, mx, my, thd = _kb_theta(params, u, v)
    return theta_ray(th, mx, my, thd)


@scalar
def kb_undistort_pixel(params: Any, u: float, v: float) -> Any:
    """Ideal normalized ``(x/z, y/z)``; NaN when θ >= π/2."""
    th, mx, my, thd = _kb_theta(params, u, v)
    return theta_normalized(th, mx, my, thd)


register_camera_model(
    "kannala_brandt",
    scalars={
        "project": kb_project_point,
        "project_jacobian": kb_project_point_jacobian,
        "unproject": kb_unproject_pixel,
        "undistort_points": kb_undistort_pixel,
    },
    numpy={
        "project": kb_project_numpy,
        "project_jacobian": kb_project_jacobian_numpy,
        "unproject": kb_unproject_numpy,
        "undistort_points": kb_undistort_points_numpy,
    },
    example_params=np.array([400.0, 400.0, 320.0, 240.0, 0.02, -0.01, 0.002, -0.0005]),
)
