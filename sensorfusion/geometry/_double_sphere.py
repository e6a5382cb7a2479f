"""Double sphere camera model (Usenko, Demmel, Cremers, 3DV 2018).

Parameters ``[fx, fy, cx, cy, xi, alpha]``. ``d1 = ‖p‖``, ``z2 = ξ d1 + z``,
``d2 = ‖(x, y, z2)‖``, ``u = fx x / (α d2 + (1-α) z2) + cx`` (and v alike). A point is valid
when ``z > -w2 d1`` with ``w1 = α/(1-α)`` (α <= 0.5) or ``(1-α)/α``, and
``w2 = (w1 + ξ)/sqrt(2 w1 ξ + ξ² + 1)``; invalid points project to NaN. Unprojection is in
closed form; pixels with ``α > 0.5`` and ``r² > 1/(2α-1)`` give NaN rays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from ._numba_models import ds_project_point, ds_project_point_jacobian, ds_undistort_pixel, ds_unproject_pixel
from ._tiers import register_model

__all__ = [
    "ds_project_cpu",
    "ds_project_jacobian_cpu",
    "ds_project_jacobian_numpy",
    "ds_project_numpy",
    "ds_undistort_points_cpu",
    "ds_undistort_points_numpy",
    "ds_unproject_cpu",
    "ds_unproject_numpy",
]


def ds_project_jacobian_numpy(params: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels ``(M, 2)`` and d(pixel)/d(point) ``(M, 2, 3)``."""
    fx, fy, cx, cy, xi, alpha = (float(v) for v in params[:6])
    x, y, z = points[:, 0], points[:, 1], points[:, 2]
    w1 = alpha / (1 - alpha) if alpha <= 0.5 else (1 - alpha) / alpha
    w2 = (w1 + xi) / np.sqrt(2 * w1 * xi + xi * xi + 1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        d1 = np.sqrt(x * x + y * y + z * z)
        z2 = xi * d1 + z
        d2 = np.sqrt(x * x + y * y + z2 * z2)
        den = alpha * d2 + (1 - alpha) * z2
        dz2 = xi * points / d1[:, None]
        dz2[:, 2] += 1
        grad_d2 = np.stack([x + z2 * dz2[:, 0], y + z2 * dz2[:, 1], z2 * dz2[:, 2]], axis=-1) / d2[:, None]
        dden = alpha * grad_d2 + (1 - alpha) * dz2
        m = points[:, :2] / den[:, None]
        uv = np.stack([fx * m[:, 0] + cx, fy * m[:, 1] + cy], axis=-1)
        jac = -m[:, :, None] * dden[:, None, :] / den[:, None, None]
        jac[:, 0, 0] += 1 / den
        jac[:, 1, 1] += 1 / den
        jac[:, 0] *= fx
        jac[:, 1] *= fy
    bad = ~(np.isfinite(points).all(-1) & (d1 > 0) & (z > -w2 * d1) & (den > 0))
    uv[bad] = np.nan
    jac[bad] = np.nan
    return uv, jac


def ds_project_numpy(params: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Pixels ``(M, 2)`` of camera-frame points ``(M, 3)``."""
    return ds_project_jacobian_numpy(params, points)[0]


def ds_unproject_numpy(params: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Unit rays ``(M, 3)`` (closed form)."""
    fx, fy, cx, cy, xi, alpha = (float(v) for v in params[:6])
    mx = (pixels[:, 0] - cx) / fx
    my = (pixels[:, 1] - cy) / fy
    r2 = mx * mx + my * my
    with np.errstate(divide="ignore", invalid="ignore"):
        q = 1 - (2 * alpha - 1) * r2
        mz = (1 - alpha * alpha * r2) / (alpha * np.sqrt(q) + 1 - alpha)
        k = (mz * xi + np.sqrt(mz * mz + (1 - xi * xi) * r2)) / (mz * mz + r2)
        ray = np.stack([k * mx, k * my, k * mz - xi], axis=-1)
        out: np.ndarray = ray / np.linalg.norm(ray, axis=-1, keepdims=True)
    out[~np.isfinite(out).all(-1)] = np.nan
    return out


def ds_undistort_points_numpy(params: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Ideal normalized ``(M, 2)``; NaN when the ray has ``z <= 0``."""
    ray = ds_unproject_numpy(params, pixels)
    with np.errstate(divide="ignore", invalid="ignore"):
        out: np.ndarray = ray[:, :2] / ray[:, 2:3]
    out[~(ray[:, 2] > 0)] = np.nan
    return out


# --------------------------------------------------------------------------------------------
# Numba CPU tier: prange over points, calling the scalar functions
# --------------------------------------------------------------------------------------------


@njit(parallel=True, cache=True)
def ds_project_cpu(params: Any, points: Any) -> Any:
    """Numba CPU twin of :func:`ds_project_numpy`."""
    n = points.shape[0]
    out = np.empty((n, 2))
    for i in prange(n):
        u, v = ds_project_point(params, points[i, 0], points[i, 1], points[i, 2])
        out[i, 0] = u
        out[i, 1] = v
    return out


@njit(parallel=True, cache=True)
def ds_project_jacobian_cpu(params: Any, points: Any) -> Any:
    """Numba CPU twin of :func:`ds_project_jacobian_numpy`."""
    n = points.shape[0]
    uv = np.empty((n, 2))
    jac = np.empty((n, 2, 3))
    for i in prange(n):
        r = ds_project_point_jacobian(params, points[i, 0], points[i, 1], points[i, 2])
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
def ds_unproject_cpu(params: Any, pixels: Any) -> Any:
    """Numba CPU twin of :func:`ds_unproject_numpy`."""
    n = pixels.shape[0]
    out = np.empty((n, 3))
    for i in prange(n):
        x, y, z = ds_unproject_pixel(params, pixels[i, 0], pixels[i, 1])
        out[i, 0] = x
        out[i, 1] = y
        out[i, 2] = z
    return out


@njit(parallel=True, cache=True)
def ds_undistort_points_cpu(params: Any, pixels: Any) -> Any:
    """Numba CPU twin of :func:`ds_undistort_points_numpy`."""
    n = pixels.shape[0]
    out = np.empty((n, 2))
    for i in prange(n):
        x, y = ds_undistort_pixel(params, pixels[i, 0], pixels[i, 1])
        out[i, 0] = x
        out[i, 1] = y
    return out


register_model(
    "double_sphere",
    {
        "project": ds_project_numpy,
        "project_jacobian": ds_project_jacobian_numpy,
        "unproject": ds_unproject_numpy,
        "undistort_points": ds_undistort_points_numpy,
    },
    {
        "project": ds_project_cpu,
        "project_jacobian": ds_project_jacobian_cpu,
        "unproject": ds_unproject_cpu,
        "undistort_points": ds_undistort_points_cpu,
    },
)
