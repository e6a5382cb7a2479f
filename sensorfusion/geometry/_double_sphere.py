"""Double sphere camera model (Usenko, Demmel, Cremers, 3DV 2018).

Parameters ``[fx, fy, cx, cy, xi, alpha]``. ``d1 = ‖p‖``, ``z2 = ξ d1 + z``,
``d2 = ‖(x, y, z2)‖``, ``u = fx x / (α d2 + (1-α) z2) + cx`` (and v alike). A point is valid
when ``z > -w2 d1`` with ``w1 = α/(1-α)`` (α <= 0.5) or ``(1-α)/α``, and
``w2 = (w1 + ξ)/sqrt(2 w1 ξ + ξ² + 1)``; invalid points project to NaN. Unprojection is in
closed form; pixels with ``α > 0.5`` and ``r² > 1/(2α-1)`` give NaN rays.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..kernels import scalar
from ._params import NAN
from ._radial import normalized_from_rays_np
from ._tiers import register_camera_model

__all__ = [
    "ds_project_jacobian_numpy",
    "ds_project_numpy",
    "ds_project_point",
    "ds_project_point_jacobian",
    "ds_undistort_pixel",
    "ds_undistort_points_numpy",
    "ds_unproject_numpy",
    "ds_unproject_pixel",
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
    return normalized_from_rays_np(ds_unproject_numpy(params, pixels))


# --------------------------------------------------------------------------------------------
# scalar kernels (one point each): the cpu and cuda tiers are generated from these
# --------------------------------------------------------------------------------------------


@scalar
def ds_project_point_jacobian(params: Any, x: float, y: float, z: float) -> Any:
    """Pixel and 2x3 Jacobian; NaN outside the model's valid region ``z > -w2 · ‖p‖``."""
    if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
        return NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN
    fx = params[0]
    fy = params[1]
    xi = params[4]
    alpha = params[5]
    d1 = math.sqrt(x * x + y * y + z * z)
    if alpha <= 0.5:
        w1 = alpha / (1.0 - alpha)
    else:
        w1 = (1.0 - alpha) / alpha
    w2 = (w1 + xi) / math.sqrt(2.0 * w1 * xi + xi * xi + 1.0)
    if not (d1 > 0.0) or not (z > -w2 * d1):
        return NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN
    z2 = xi * d1 + z
    d2 = math.sqrt(x * x + y * y + z2 * z2)
    den = alpha * d2 + (1.0 - alpha) * z2
    if not (den > 0.0):
        return NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN
    dz2x = xi * x / d1
    dz2y = xi * y / d1
    dz2z = xi * z / d1 + 1.0
    ddx = alpha * (x + z2 * dz2x) / d2 + (1.0 - alpha) * dz2x
    ddy = alpha * (y + z2 * dz2y) / d2 + (1.0 - alpha) * dz2y
    ddz = alpha * (z2 * dz2z) / d2 + (1.0 - alpha) * dz2z
    iden = 1.0 / den
    mx = x * iden
    my = y * iden
    return (
        fx * mx + params[2],
        fy * my + params[3],
        fx * (iden - mx * ddx * iden),
        -fx * mx * ddy * iden,
        -fx * mx * ddz * iden,
        -fy * my * ddx * iden,
        fy * (iden - my * ddy * iden),
        -fy * my * ddz * iden,
    )


@scalar
def ds_project_point(params: Any, x: float, y: float, z: float) -> Any:
    """Pixel ``(u, v)``; NaN outside the valid region."""
    r = ds_project_point_jacobian(params, x, y, z)
    return r[0], r[1]


@scalar
def ds_unproject_pixel(params: Any, u: float, v: float) -> Any:
    """Unit ray of a pixel (closed form); NaN outside the image of the valid region."""
    xi = params[4]
    alpha = params[5]
    mx = (u - params[2]) / params[0]
    my = (v - params[3]) / params[1]
    r2 = mx * mx + my * my
    if not math.isfinite(r2):
        return NAN, NAN, NAN
    q = 1.0 - (2.0 * alpha - 1.0) * r2
    if not (q >= 0.0):
        return NAN, NAN, NAN
    mz = (1.0 - alpha * alpha * r2) / (alpha * math.sqrt(q) + 1.0 - alpha)
    disc = mz * mz + (1.0 - xi * xi) * r2
    if not (disc >= 0.0):
        return NAN, NAN, NAN
    k = (mz * xi + math.sqrt(disc)) / (mz * mz + r2)
    rx = k * mx
    ry = k * my
    rz = k * mz - xi
    n = math.sqrt(rx * rx + ry * ry + rz * rz)
    if not (n > 0.0):
        return NAN, NAN, NAN
    return rx / n, ry / n, rz / n


@scalar
def ds_undistort_pixel(params: Any, u: float, v: float) -> Any:
    """Ideal normalized ``(x/z, y/z)``; NaN when the ray has ``z <= 0``."""
    rx, ry, rz = ds_unproject_pixel(params, u, v)
    if not (rz > 0.0):
        return NAN, NAN
    return rx / rz, ry / rz


register_camera_model(
    "double_sphere",
    scalars={
        "project": ds_project_point,
        "project_jacobian": ds_project_point_jacobian,
        "unproject": ds_unproject_pixel,
        "undistort_points": ds_undistort_pixel,
    },
    numpy={
        "project": ds_project_numpy,
        "project_jacobian": ds_project_jacobian_numpy,
        "unproject": ds_unproject_numpy,
        "undistort_points": ds_undistort_points_numpy,
    },
    example_params=np.array([350.0, 350.0, 320.0, 240.0, -0.2, 0.6]),
)
