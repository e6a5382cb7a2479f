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
from ._params import NAN, NEWTON_MAX_ITER, NEWTON_RESIDUAL_TOL, NEWTON_STEP_TOL
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
# scalar kernels (one point each): the cpu and cuda tiers are generated from these
# --------------------------------------------------------------------------------------------


@scalar
def _kb_theta_d(params: Any, th: float) -> Any:
    """θ_d(θ) = θ (1 + k1 θ² + k2 θ⁴ + k3 θ⁶ + k4 θ⁸) and its derivative."""
    k1 = params[4]
    k2 = params[5]
    k3 = params[6]
    k4 = params[7]
    t2 = th * th
    thd = th * (1.0 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4))))
    dthd = 1.0 + t2 * (3.0 * k1 + t2 * (5.0 * k2 + t2 * (7.0 * k3 + t2 * 9.0 * k4)))
    return thd, dthd


@scalar
def kb_project_point_jacobian(params: Any, x: float, y: float, z: float) -> Any:
    """Pixel and 2x3 Jacobian. Valid for any direction but straight back, where θ_d is increasing."""
    if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
        return NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN
    rho = math.sqrt(x * x + y * y)
    if rho == 0.0 and not (z > 0.0):
        return NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN
    th = math.atan2(rho, z)
    thd, dthd = _kb_theta_d(params, th)
    if not (dthd > 0.0):
        return NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN
    d2 = rho * rho + z * z
    if rho == 0.0:
        s = 1.0 / z
        g = 0.0
    else:
        s = thd / rho
        g = (dthd * z / d2 - s) / (rho * rho)
    dsdz = -dthd / d2
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
    if not math.isfinite(thd):
        return NAN, mx, my, thd
    th = thd
    for _ in range(NEWTON_MAX_ITER):
        f, df = _kb_theta_d(params, th)
        if not (df > 0.0):
            return NAN, mx, my, thd
        step = (f - thd) / df
        th -= step
        if abs(step) < NEWTON_STEP_TOL:
            break
    f, df = _kb_theta_d(params, th)
    if not (abs(f - thd) <= NEWTON_RESIDUAL_TOL * (1.0 + thd)) or not (df > 0.0) or th < 0.0 or th >= math.pi:
        return NAN, mx, my, thd
    return th, mx, my, thd


@scalar
def kb_unproject_pixel(params: Any, u: float, v: float) -> Any:
    """Unit ray of a pixel."""
    th, mx, my, thd = _kb_theta(params, u, v)
    if not math.isfinite(th):
        return NAN, NAN, NAN
    if thd == 0.0:
        return 0.0, 0.0, 1.0
    s = math.sin(th) / thd
    return mx * s, my * s, math.cos(th)


@scalar
def kb_undistort_pixel(params: Any, u: float, v: float) -> Any:
    """Ideal normalized ``(x/z, y/z)``; NaN when θ >= π/2."""
    th, mx, my, thd = _kb_theta(params, u, v)
    if not math.isfinite(th) or th >= 0.5 * math.pi:
        return NAN, NAN
    if thd == 0.0:
        return 0.0, 0.0
    s = math.tan(th) / thd
    return mx * s, my * s


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
