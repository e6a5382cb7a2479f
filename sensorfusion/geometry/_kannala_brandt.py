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

from typing import Any

import numpy as np
from numba import njit, prange

from ._numba_models import (
    NEWTON_MAX_ITER,
    NEWTON_RESIDUAL_TOL,
    kb_project_point,
    kb_project_point_jacobian,
    kb_undistort_pixel,
    kb_unproject_pixel,
)
from ._tiers import register_model

__all__ = [
    "kb_project_cpu",
    "kb_project_jacobian_cpu",
    "kb_project_jacobian_numpy",
    "kb_project_numpy",
    "kb_undistort_points_cpu",
    "kb_undistort_points_numpy",
    "kb_unproject_cpu",
    "kb_unproject_numpy",
]


def _theta_d(params: np.ndarray, th: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    k1, k2, k3, k4 = (float(v) for v in params[4:8])
    t2 = th * th
    thd = th * (1 + k1 * t2 + k2 * t2**2 + k3 * t2**3 + k4 * t2**4)
    dthd = 1 + 3 * k1 * t2 + 5 * k2 * t2**2 + 7 * k3 * t2**3 + 9 * k4 * t2**4
    return thd, dthd


def kb_project_jacobian_numpy(params: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels ``(M, 2)`` and d(pixel)/d(point) ``(M, 2, 3)``."""
    fx, fy, cx, cy = (float(v) for v in params[:4])
    x, y, z = points[:, 0], points[:, 1], points[:, 2]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rho = np.sqrt(x * x + y * y)
        th = np.arctan2(rho, z)
        thd, dthd = _theta_d(params, th)
        d2 = rho * rho + z * z
        on_axis = rho == 0
        s = np.where(on_axis, 1 / z, thd / rho)
        g = np.where(on_axis, 0.0, (dthd * z / d2 - s) / (rho * rho))
        dsdz = -dthd / d2
        uv = np.stack([fx * x * s + cx, fy * y * s + cy], axis=-1)
        jac = np.empty((len(points), 2, 3))
        jac[:, 0, 0], jac[:, 0, 1], jac[:, 0, 2] = fx * (s + x * x * g), fx * x * y * g, fx * x * dsdz
        jac[:, 1, 0], jac[:, 1, 1], jac[:, 1, 2] = fy * x * y * g, fy * (s + y * y * g), fy * y * dsdz
    bad = ~(np.isfinite(points).all(-1) & ~(on_axis & ~(z > 0)) & (dthd > 0))
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
    th = thd.copy()
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for _ in range(NEWTON_MAX_ITER):
            f, df = _theta_d(params, th)
            th = np.where(df > 0, th - (f - thd) / df, np.nan)
        f, df = _theta_d(params, th)
        ok = (np.abs(f - thd) <= NEWTON_RESIDUAL_TOL * (1 + thd)) & (df > 0) & (th >= 0) & (th < np.pi)
    th[~ok] = np.nan
    return th, mx, my, thd


def kb_unproject_numpy(params: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Unit rays ``(M, 3)``."""
    th, mx, my, thd = _theta(params, pixels)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(thd == 0, 0.0, np.sin(th) / thd)
    return np.stack([mx * s, my * s, np.cos(th)], axis=-1)


def kb_undistort_points_numpy(params: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Ideal normalized ``(M, 2)``; NaN when θ >= π/2."""
    th, mx, my, thd = _theta(params, pixels)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(thd == 0, 0.0, np.tan(th) / thd)
    out = np.stack([mx * s, my * s], axis=-1)
    out[~(th < 0.5 * np.pi)] = np.nan
    return out


# --------------------------------------------------------------------------------------------
# Numba CPU tier: prange over points, calling the scalar functions
# --------------------------------------------------------------------------------------------


@njit(parallel=True, cache=True)
def kb_project_cpu(params: Any, points: Any) -> Any:
    """Numba CPU twin of :func:`kb_project_numpy`."""
    n = points.shape[0]
    out = np.empty((n, 2))
    for i in prange(n):
        u, v = kb_project_point(params, points[i, 0], points[i, 1], points[i, 2])
        out[i, 0] = u
        out[i, 1] = v
    return out


@njit(parallel=True, cache=True)
def kb_project_jacobian_cpu(params: Any, points: Any) -> Any:
    """Numba CPU twin of :func:`kb_project_jacobian_numpy`."""
    n = points.shape[0]
    uv = np.empty((n, 2))
    jac = np.empty((n, 2, 3))
    for i in prange(n):
        r = kb_project_point_jacobian(params, points[i, 0], points[i, 1], points[i, 2])
        uv[i, 0] = r[0]
        uv[i, 1] = r[1]
        jac[i, 0, 0] = r[2]
        jac[i, 0, 1] = r[3]
        jac[i, 0, 2] = r[4]
        jac[i, 1, 0] = r[5]
        jac[i, 1, 1] = r[6]
        jac[i, 1, 2] = r[7]
    return uv, jac


@njit(parallel=True, cache=True)
def kb_unproject_cpu(params: Any, pixels: Any) -> Any:
    """Numba CPU twin of :func:`kb_unproject_numpy`."""
    n = pixels.shape[0]
    out = np.empty((n, 3))
    for i in prange(n):
        x, y, z = kb_unproject_pixel(params, pixels[i, 0], pixels[i, 1])
        out[i, 0] = x
        out[i, 1] = y
        out[i, 2] = z
    return out


@njit(parallel=True, cache=True)
def kb_undistort_points_cpu(params: Any, pixels: Any) -> Any:
    """Numba CPU twin of :func:`kb_undistort_points_numpy`."""
    n = pixels.shape[0]
    out = np.empty((n, 2))
    for i in prange(n):
        x, y = kb_undistort_pixel(params, pixels[i, 0], pixels[i, 1])
        out[i, 0] = x
        out[i, 1] = y
    return out


register_model(
    "kannala_brandt",
    {
        "project": kb_project_numpy,
        "project_jacobian": kb_project_jacobian_numpy,
        "unproject": kb_unproject_numpy,
        "undistort_points": kb_undistort_points_numpy,
    },
    {
        "project": kb_project_cpu,
        "project_jacobian": kb_project_jacobian_cpu,
        "unproject": kb_unproject_cpu,
        "undistort_points": kb_undistort_points_cpu,
    },
)
