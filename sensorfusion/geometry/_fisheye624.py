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

import math
from typing import Any

import numpy as np

from ..kernels import scalar
from ._params import NAN, NEWTON_MAX_ITER, NEWTON_RESIDUAL_TOL, NEWTON_STEP_TOL
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
    "f624_project_jacobian_numpy",
    "f624_project_numpy",
    "f624_project_point",
    "f624_project_point_jacobian",
    "f624_undistort_pixel",
    "f624_undistort_points_numpy",
    "f624_unproject_numpy",
    "f624_unproject_pixel",
]


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
        s, g, dsdz, radial_ok = radial_scale_np(params[3:9], x, y, z)
        up, vp, j00, j01, j10, j11 = _distort(params, x * s, y * s)
        uv = np.stack([f * up + cu, f * vp + cv], axis=-1)
        a = np.empty((len(points), 2, 3))  # d(xr, yr)/d(x, y, z)
        a[:, 0, 0], a[:, 0, 1], a[:, 0, 2] = s + x * x * g, x * y * g, x * dsdz
        a[:, 1, 0], a[:, 1, 1], a[:, 1, 2] = x * y * g, s + y * y * g, y * dsdz
        d = np.stack([np.stack([j00, j01], -1), np.stack([j10, j11], -1)], -2)  # (M, 2, 2)
        jac = (f / m)[:, None, None] * (d @ a)
        det = j00 * j11 - j01 * j10
    ok = np.isfinite(points).all(-1) & (m > 0) & radial_ok & (det > 0)
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
    th = radial_theta_np(params[3:9], thd)  # the radial polynomial
    th[~ok] = np.nan
    return th, xr, yr, thd


def f624_unproject_numpy(params: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Unit rays ``(M, 3)``."""
    return theta_ray_np(*_theta(params, pixels))


def f624_undistort_points_numpy(params: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Ideal normalized ``(M, 2)``; NaN when θ >= π/2."""
    return theta_normalized_np(*_theta(params, pixels))


# --------------------------------------------------------------------------------------------
# scalar kernels (one point each): the cpu and cuda tiers are generated from these
# --------------------------------------------------------------------------------------------


@scalar
def _f624_distort(params: Any, xr: float, yr: float) -> Any:
    """Tangential + thin-prism part: ``(u', v')`` of ``(xr, yr)`` and its 2x2 Jacobian (row-major)."""
    p0 = params[9]
    p1 = params[10]
    s0 = params[11]
    s1 = params[12]
    s2 = params[13]
    s3 = params[14]
    r2 = xr * xr + yr * yr
    xy2 = 2.0 * xr * yr
    up = xr + (2.0 * xr * xr + r2) * p0 + xy2 * p1 + r2 * (s0 + s1 * r2)
    vp = yr + (2.0 * yr * yr + r2) * p1 + xy2 * p0 + r2 * (s2 + s3 * r2)
    tu = 2.0 * (s0 + 2.0 * s1 * r2)
    tv = 2.0 * (s2 + 2.0 * s3 * r2)
    j00 = 1.0 + 6.0 * xr * p0 + 2.0 * yr * p1 + xr * tu
    j01 = 2.0 * yr * p0 + 2.0 * xr * p1 + yr * tu
    j10 = 2.0 * xr * p1 + 2.0 * yr * p0 + xr * tv
    j11 = 1.0 + 6.0 * yr * p1 + 2.0 * xr * p0 + yr * tv
    return up, vp, j00, j01, j10, j11


@scalar
def f624_project_point_jacobian(params: Any, x: float, y: float, z: float) -> Any:
    """Pixel and 2x3 Jacobian; NaN straight behind, for non-finite input, or where the model folds
    (``dθ_d/dθ <= 0`` or a non-positive determinant of the tangential/thin-prism part)."""
    if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
        return NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN
    # the projection is scale-free: work on a unit-sized point
    m = abs(x)
    if abs(y) > m:
        m = abs(y)
    if abs(z) > m:
        m = abs(z)
    if not (m > 0.0):
        return NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN
    x = x / m
    y = y / m
    z = z / m
    s, g, dsdz = radial_scale(params, 3, 6, x, y, z)
    if not math.isfinite(s):
        return NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN
    up, vp, j00, j01, j10, j11 = _f624_distort(params, x * s, y * s)
    if not (j00 * j11 - j01 * j10 > 0.0):
        return NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN
    f = params[0]
    u = f * up + params[1]
    v = f * vp + params[2]
    if not (math.isfinite(u) and math.isfinite(v)):
        return NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN
    # d(xr, yr)/d(x, y, z) of the scaled point, chained with the distortion, back to the input scale
    a00 = s + x * x * g
    a01 = x * y * g
    a02 = x * dsdz
    a11 = s + y * y * g
    a12 = y * dsdz
    fm = f / m
    return (
        u,
        v,
        fm * (j00 * a00 + j01 * a01),
        fm * (j00 * a01 + j01 * a11),
        fm * (j00 * a02 + j01 * a12),
        fm * (j10 * a00 + j11 * a01),
        fm * (j10 * a01 + j11 * a11),
        fm * (j10 * a02 + j11 * a12),
    )


@scalar
def f624_project_point(params: Any, x: float, y: float, z: float) -> Any:
    """Pixel ``(u, v)``; NaN where :func:`f624_project_point_jacobian` is."""
    r = f624_project_point_jacobian(params, x, y, z)
    return r[0], r[1]


@scalar
def _f624_theta(params: Any, u: float, v: float) -> Any:
    """(θ, xr, yr, θ_d) of a pixel: 2-D Newton on the tangential/thin-prism part, then 1-D Newton
    on θ_d(θ); θ is NaN when either does not converge."""
    mx = (u - params[1]) / params[0]
    my = (v - params[2]) / params[0]
    if not (math.isfinite(mx) and math.isfinite(my)):
        return NAN, mx, my, NAN
    xr = mx
    yr = my
    for _ in range(NEWTON_MAX_ITER):
        up, vp, j00, j01, j10, j11 = _f624_distort(params, xr, yr)
        rx = up - mx
        ry = vp - my
        det = j00 * j11 - j01 * j10
        if not (math.isfinite(det) and det != 0.0):
            return NAN, mx, my, NAN
        sx = (j11 * rx - j01 * ry) / det
        sy = (j00 * ry - j10 * rx) / det
        xr -= sx
        yr -= sy
        if abs(sx) + abs(sy) < NEWTON_STEP_TOL:
            break
    up, vp, j00, j01, j10, j11 = _f624_distort(params, xr, yr)
    if not (abs(up - mx) + abs(vp - my) <= NEWTON_RESIDUAL_TOL * (1.0 + abs(mx) + abs(my))):
        return NAN, xr, yr, NAN
    if not (j00 * j11 - j01 * j10 > 0.0):
        return NAN, xr, yr, NAN
    thd = math.sqrt(xr * xr + yr * yr)
    return radial_theta(params, 3, 6, thd), xr, yr, thd


@scalar
def f624_unproject_pixel(params: Any, u: float, v: float) -> Any:
    """Unit ray of a pixel."""
    th, xr, yr, thd = _f624_theta(params, u, v)
    return theta_ray(th, xr, yr, thd)


@scalar
def f624_undistort_pixel(params: Any, u: float, v: float) -> Any:
    """Ideal normalized ``(x/z, y/z)``; NaN when θ >= π/2."""
    th, xr, yr, thd = _f624_theta(params, u, v)
    return theta_normalized(th, xr, yr, thd)


register_camera_model(
    "fisheye624",
    scalars={
        "project": f624_project_point,
        "project_jacobian": f624_project_point_jacobian,
        "unproject": f624_unproject_pixel,
        "undistort_points": f624_undistort_pixel,
    },
    numpy={
        "project": f624_project_numpy,
        "project_jacobian": f624_project_jacobian_numpy,
        "unproject": f624_unproject_numpy,
        "undistort_points": f624_undistort_points_numpy,
    },
    example_params=np.array(
        [
            241.7,
            320.6,
            242.6,
            -0.027,
            0.103,
            -0.073,
            0.012,
            0.0015,
            -0.0005,
            0.0019,
            0.0019,
            -0.0031,
            -0.0003,
            -0.0026,
            2e-5,
        ]
    ),
)
