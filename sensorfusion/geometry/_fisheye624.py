"""Fisheye624: Project Aria's fisheye model with radial, tangential and thin-prism distortion.

Parameters ``[f, cu, cv, k0, k1, k2, k3, k4, k5, p0, p1, s0, s1, s2, s3]`` (Aria's
``FisheyeRadTanThinPrism`` with one focal length). With ``θ = atan2(‖(x, y)‖, z)`` (the angle
from the optical axis; for ``z > 0`` this is Aria's ``atan(r)``, ``r = ‖(x/z, y/z)‖``)::

    θd       = θ (1 + k0 θ² + k1 θ⁴ + k2 θ⁶ + k3 θ⁸ + k4 θ¹⁰ + k5 θ¹²)
    (xr, yr) = θd (x, y) / ‖(x, y)‖,   rd² = xr² + yr²
    u′ = xr + (2 xr² + rd²) p0 + 2 xr yr p1 + s0 rd² + s1 rd⁴
    v′ = yr + (2 yr² + rd²) p1 + 2 xr yr p0 + s2 rd² + s3 rd⁴
    u = f u′ + cu,  v = f v′ + cv

A point projects to NaN straight behind the camera, for non-finite input, or where the model
stops being invertible: ``dθd/dθ <= 0`` (the radial polynomial folds back; for Aria's SLAM
cameras near 101° from the axis) or a non-positive determinant of the tangential/thin-prism
map. Points beyond 90° (``z <= 0``) are allowed where the polynomial still rises, as for
Kannala–Brandt; Aria's own ``project`` divides by ``z`` and is meant for ``z > 0`` only.
Unprojection: 2-D Newton on the tangential/thin-prism part (started at the distorted point),
then 1-D Newton on θ (started at θd); caps and tolerances in :mod:`._numba_models`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from ._numba_models import (
    NEWTON_MAX_ITER,
    NEWTON_RESIDUAL_TOL,
    f624_project_point,
    f624_project_point_jacobian,
    f624_undistort_pixel,
    f624_unproject_pixel,
)
from ._tiers import register_model

__all__ = [
    "f624_project_cpu",
    "f624_project_jacobian_cpu",
    "f624_project_jacobian_numpy",
    "f624_project_numpy",
    "f624_undistort_points_cpu",
    "f624_undistort_points_numpy",
    "f624_unproject_cpu",
    "f624_unproject_numpy",
]


def _theta_d(params: np.ndarray, th: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    k = [float(v) for v in params[3:9]]
    t2 = th * th
    thd = th * (1 + sum(k[i] * t2 ** (i + 1) for i in range(6)))
    dthd = 1 + sum((2 * i + 3) * k[i] * t2 ** (i + 1) for i in range(6))
    return thd, dthd


def _distort(
    params: np.ndarray, xr: np.ndarray, yr: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    p0, p1, s0, s1, s2, s3 = (float(v) for v in params[9:15])
    r2 = xr * xr + yr * yr
    up = xr + (2 * xr * xr + r2) * p0 + 2 * xr * yr * p1 + s0 * r2 + s1 * r2 * r2
    vp = yr + (2 * yr * yr + r2) * p1 + 2 * xr * yr * p0 + s2 * r2 + s3 * r2 * r2
    j00 = 1 + 6 * xr * p0 + 2 * yr * p1 + 2 * xr * (s0 + 2 * s1 * r2)
    j01 = 2 * yr * p0 + 2 * xr * p1 + 2 * yr * (s0 + 2 * s1 * r2)
    j10 = 2 * xr * p1 + 2 * yr * p0 + 2 * xr * (s2 + 2 * s3 * r2)
    j11 = 1 + 6 * yr * p1 + 2 * xr * p0 + 2 * yr * (s2 + 2 * s3 * r2)
    return up, vp, j00, j01, j10, j11


def f624_project_jacobian_numpy(params: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels ``(M, 2)`` and d(pixel)/d(point) ``(M, 2, 3)``."""
    f, cu, cv = (float(v) for v in params[:3])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        m = np.max(np.abs(points), axis=-1) if len(points) else np.zeros(0)
        p = points / m[:, None]  # scale-free: a unit-sized point
        x, y, z = p[:, 0], p[:, 1], p[:, 2]
        rho = np.sqrt(x * x + y * y)
        th = np.arctan2(rho, z)
        thd, dthd = _theta_d(params, th)
        d2 = rho * rho + z * z
        on_axis = rho == 0
        s = np.where(on_axis, 1 / z, thd / rho)
        g = np.where(on_axis, 0.0, (dthd * z / d2 - s) / (rho * rho))
        dsdz = -dthd / d2
        up, vp, j00, j01, j10, j11 = _distort(params, x * s, y * s)
        uv = np.stack([f * up + cu, f * vp + cv], axis=-1)
        a = np.empty((len(points), 2, 3))  # d(xr, yr)/d(x, y, z)
        a[:, 0, 0], a[:, 0, 1], a[:, 0, 2] = s + x * x * g, x * y * g, x * dsdz
        a[:, 1, 0], a[:, 1, 1], a[:, 1, 2] = x * y * g, s + y * y * g, y * dsdz
        d = np.stack([np.stack([j00, j01], -1), np.stack([j10, j11], -1)], -2)  # (M, 2, 2)
        jac = (f / m)[:, None, None] * (d @ a)
        det = j00 * j11 - j01 * j10
    ok = np.isfinite(points).all(-1) & (m > 0) & ~(on_axis & ~(z > 0)) & (dthd > 0) & (det > 0)
    ok &= np.isfinite(uv).all(-1)
    uv[~ok] = np.nan
    jac[~ok] = np.nan
    return uv, jac


def f624_project_numpy(params: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Pixels ``(M, 2)`` of camera-frame points ``(M, 3)``."""
    return f624_project_jacobian_numpy(params, points)[0]


def _theta(params: np.ndarray, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    f, cu, cv = (float(v) for v in params[:3])
    mx = (pixels[:, 0] - cu) / f
    my = (pixels[:, 1] - cv) / f
    xr, yr = mx.copy(), my.copy()
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for _ in range(NEWTON_MAX_ITER):  # the tangential / thin-prism part
            up, vp, j00, j01, j10, j11 = _distort(params, xr, yr)
            rx, ry = up - mx, vp - my
            det = j00 * j11 - j01 * j10
            xr, yr = xr - (j11 * rx - j01 * ry) / det, yr - (j00 * ry - j10 * rx) / det
        up, vp, j00, j01, j10, j11 = _distort(params, xr, yr)
        ok = np.abs(up - mx) + np.abs(vp - my) <= NEWTON_RESIDUAL_TOL * (1 + np.abs(mx) + np.abs(my))
        ok &= j00 * j11 - j01 * j10 > 0
        thd = np.sqrt(xr * xr + yr * yr)
        th = thd.copy()
        for _ in range(NEWTON_MAX_ITER):  # the radial polynomial
            fth, df = _theta_d(params, th)
            th = np.where(df > 0, th - (fth - thd) / df, np.nan)
        fth, df = _theta_d(params, th)
        ok &= (np.abs(fth - thd) <= NEWTON_RESIDUAL_TOL * (1 + thd)) & (df > 0) & (th >= 0) & (th < np.pi)
    th[~ok] = np.nan
    return th, xr, yr, thd


def f624_unproject_numpy(params: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Unit rays ``(M, 3)``."""
    th, xr, yr, thd = _theta(params, pixels)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(thd == 0, 0.0, np.sin(th) / thd)
    return np.stack([xr * s, yr * s, np.cos(th)], axis=-1)


def f624_undistort_points_numpy(params: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Ideal normalized ``(M, 2)``; NaN when θ >= π/2."""
    th, xr, yr, thd = _theta(params, pixels)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(thd == 0, 0.0, np.tan(th) / thd)
    out = np.stack([xr * s, yr * s], axis=-1)
    out[~(th < 0.5 * np.pi)] = np.nan
    return out


# --------------------------------------------------------------------------------------------
# Numba CPU tier: prange over points, calling the scalar functions
# --------------------------------------------------------------------------------------------


@njit(parallel=True, cache=True)
def f624_project_cpu(params: Any, points: Any) -> Any:
    """Numba CPU twin of :func:`f624_project_numpy`."""
    n = points.shape[0]
    out = np.empty((n, 2))
    for i in prange(n):
        u, v = f624_project_point(params, points[i, 0], points[i, 1], points[i, 2])
        out[i, 0] = u
        out[i, 1] = v
    return out


@njit(parallel=True, cache=True)
def f624_project_jacobian_cpu(params: Any, points: Any) -> Any:
    """Numba CPU twin of :func:`f624_project_jacobian_numpy`."""
    n = points.shape[0]
    uv = np.empty((n, 2))
    jac = np.empty((n, 2, 3))
    for i in prange(n):
        r = f624_project_point_jacobian(params, points[i, 0], points[i, 1], points[i, 2])
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
def f624_unproject_cpu(params: Any, pixels: Any) -> Any:
    """Numba CPU twin of :func:`f624_unproject_numpy`."""
    n = pixels.shape[0]
    out = np.empty((n, 3))
    for i in prange(n):
        x, y, z = f624_unproject_pixel(params, pixels[i, 0], pixels[i, 1])
        out[i, 0] = x
        out[i, 1] = y
        out[i, 2] = z
    return out


@njit(parallel=True, cache=True)
def f624_undistort_points_cpu(params: Any, pixels: Any) -> Any:
    """Numba CPU twin of :func:`f624_undistort_points_numpy`."""
    n = pixels.shape[0]
    out = np.empty((n, 2))
    for i in prange(n):
        x, y = f624_undistort_pixel(params, pixels[i, 0], pixels[i, 1])
        out[i, 0] = x
        out[i, 1] = y
    return out


register_model(
    "fisheye624",
    {
        "project": f624_project_numpy,
        "project_jacobian": f624_project_jacobian_numpy,
        "unproject": f624_unproject_numpy,
        "undistort_points": f624_undistort_points_numpy,
    },
    {
        "project": f624_project_cpu,
        "project_jacobian": f624_project_jacobian_cpu,
        "unproject": f624_unproject_cpu,
        "undistort_points": f624_undistort_points_cpu,
    },
)
