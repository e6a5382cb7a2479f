"""Scalar camera-model functions compiled with Numba — private but importable.

These are the per-point building blocks of the ``cpu`` and ``cuda`` kernel tiers. Other
Numba code (the calibration toolkit's bundle adjustment, fusion kernels) may call them
directly from its own ``@njit`` functions; the signatures below are stable.

Every function takes the model parameters as one flat ``float64`` array (build it with
:func:`camera_params`) followed by scalars, and returns a tuple of floats. Invalid input
(non-finite values, a point the model cannot see, an unprojection that does not converge)
gives NaN outputs — never an exception.

Parameter layouts (``params``)
------------------------------
=================  ===========================================================================
model              layout
=================  ===========================================================================
pinhole            ``[fx, fy, cx, cy, k1, k2, p1, p2, k3, k4, k5, k6]`` (12; OpenCV order after K)
kannala_brandt     ``[fx, fy, cx, cy, k1, k2, k3, k4]`` (8)
double_sphere      ``[fx, fy, cx, cy, xi, alpha]`` (6)
scaramuzza         ``[cx, cy, c, d, e, n_poly, n_inv, poly_0 .. poly_{n_poly-1},
                   inv_0 .. inv_{n_inv-1}]`` (7 + n_poly + n_inv; ``cx`` = column, ``cy`` = row)
fisheye624         ``[f, cu, cv, k0, k1, k2, k3, k4, k5, p0, p1, s0, s1, s2, s3]`` (15; Aria's order)
=================  ===========================================================================

Functions per model (``<m>`` is ``pinhole``, ``kb``, ``ds``, ``omni`` or ``f624``):

* ``<m>_project_point(params, x, y, z) -> (u, v)`` — camera-frame point (metres, OpenCV axes:
  x right, y down, z forward) to pixel;
* ``<m>_project_point_jacobian(params, x, y, z) -> (u, v, du_dx, du_dy, du_dz, dv_dx, dv_dy, dv_dz)``;
* ``<m>_unproject_pixel(params, u, v) -> (x, y, z)`` — unit ray in the camera frame;
* ``<m>_undistort_pixel(params, u, v) -> (x_over_z, y_over_z)`` — ideal normalized coordinates,
  NaN when the ray has ``z <= 0``.

Iterative inversions
--------------------
Brown–Conrady undistortion (2-D Newton on the normalized point, started at the distorted
point), Kannala–Brandt (1-D Newton on θ, started at θ_d) and the Scaramuzza ``project``
fallback when ``inv_poly`` is empty (1-D Newton on the image radius ρ, started at the
equidistant guess ``|a0| · angle-from-axis``) stop after :data:`NEWTON_MAX_ITER` iterations or
when the step falls below :data:`NEWTON_STEP_TOL` (normalized units / radians; pixels for
ρ). Fisheye624 inverts in two steps: 2-D Newton on the tangential + thin-prism part (started
at the distorted point), then 1-D Newton on θ (started at θ_d). The result is accepted only if
the forward model reproduces the input to within :data:`NEWTON_RESIDUAL_TOL` (relative);
otherwise the outputs are NaN.

Scaramuzza / OCamCalib conventions
----------------------------------
OCamCalib works in (row, column) order with its own sensor frame: ``x_o`` along the rows
(down), ``y_o`` along the columns (right), ``z_o`` pointing *out of the back* of the camera
(its polynomial's ``a0`` is negative). With an OpenCV camera-frame point ``(X, Y, Z)``:
``x_o = Y, y_o = X, z_o = -Z``. Its ``world2cam`` maps ``θ = atan(z_o / ‖(x_o, y_o)‖)`` to the
image radius ``ρ = Σ inv_i θ^i`` and then ``(row, col) = [[c, d], [e, 1]] · (x_o, y_o) ρ/‖·‖ +
(row_c, col_c)``; ``cam2world`` undoes the affine matrix and lifts ``(x_o, y_o, Σ a_i ρ^i)``.
Here ``u`` is the column and ``v`` the row (OpenCV order), ``cx`` = column centre, ``cy`` =
row centre, so ``u = q_x + e·q_y + cx`` and ``v = d·q_x + c·q_y + cy`` with
``(q_x, q_y) = (X, Y)·ρ/‖(X, Y)‖``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

__all__ = [
    "NEWTON_MAX_ITER",
    "NEWTON_RESIDUAL_TOL",
    "NEWTON_STEP_TOL",
    "PARAM_LAYOUTS",
    "camera_params",
    "ds_project_point",
    "ds_project_point_jacobian",
    "ds_undistort_pixel",
    "ds_unproject_pixel",
    "f624_project_point",
    "f624_project_point_jacobian",
    "f624_undistort_pixel",
    "f624_unproject_pixel",
    "kb_project_point",
    "kb_project_point_jacobian",
    "kb_undistort_pixel",
    "kb_unproject_pixel",
    "omni_project_point",
    "omni_project_point_jacobian",
    "omni_undistort_pixel",
    "omni_unproject_pixel",
    "pinhole_project_point",
    "pinhole_project_point_jacobian",
    "pinhole_undistort_pixel",
    "pinhole_unproject_pixel",
]

NEWTON_MAX_ITER = 20
"""Iteration cap of every Newton inversion."""
NEWTON_STEP_TOL = 1e-14
"""Stop when the Newton step is smaller than this (normalized units, radians, or pixels for ρ)."""
NEWTON_RESIDUAL_TOL = 1e-9
"""Accept a Newton solution only if the forward model reproduces the input to this (relative)."""

PARAM_LAYOUTS: dict[str, tuple[str, ...]] = {
    "pinhole": ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6"),
    "kannala_brandt": ("fx", "fy", "cx", "cy", "k1", "k2", "k3", "k4"),
    "double_sphere": ("fx", "fy", "cx", "cy", "xi", "alpha"),
    "scaramuzza": ("cx", "cy", "c", "d", "e", "n_poly", "n_inv", "poly...", "inv_poly..."),
    "fisheye624": ("f", "cu", "cv", "k0", "k1", "k2", "k3", "k4", "k5", "p0", "p1", "s0", "s1", "s2", "s3"),
}


def camera_params(camera: Any) -> np.ndarray:
    """The flat ``float64`` parameter array of a schema camera model (layouts in the module doc)."""
    model = camera.model
    if model == "scaramuzza":
        head = [
            camera.cx,
            camera.cy,
            camera.c,
            camera.d,
            camera.e,
            float(len(camera.poly)),
            float(len(camera.inv_poly)),
        ]
        return np.array([*head, *camera.poly, *camera.inv_poly], dtype=np.float64)
    try:
        names = PARAM_LAYOUTS[model]
    except KeyError:
        raise ValueError(f"unknown camera model {model!r}; known: {sorted(PARAM_LAYOUTS)}") from None
    return np.array([getattr(camera, n) for n in names], dtype=np.float64)


_NAN = math.nan


# --------------------------------------------------------------------------------------------
# pinhole + Brown–Conrady
# --------------------------------------------------------------------------------------------


@njit(cache=True)
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


@njit(cache=True)
def pinhole_project_point(params: Any, x: float, y: float, z: float) -> Any:
    """Pixel ``(u, v)`` of a camera-frame point; NaN when ``z <= 0`` or not finite."""
    if not (z > 0.0) or not math.isfinite(x) or not math.isfinite(y) or not math.isfinite(z):
        return _NAN, _NAN
    xd, yd, _a, _b, _c, _d = _bc_distort(params, x / z, y / z)
    u = params[0] * xd + params[2]
    v = params[1] * yd + params[3]
    if not (math.isfinite(u) and math.isfinite(v)):
        return _NAN, _NAN
    return u, v


@njit(cache=True)
def pinhole_project_point_jacobian(params: Any, x: float, y: float, z: float) -> Any:
    """Pixel and d(u, v)/d(x, y, z) (row-major 2x3); all NaN where the point is invalid."""
    if not (z > 0.0) or not math.isfinite(x) or not math.isfinite(y) or not math.isfinite(z):
        return _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN
    iz = 1.0 / z
    xn = x * iz
    yn = y * iz
    xd, yd, a, b, c, d = _bc_distort(params, xn, yn)
    fx = params[0]
    fy = params[1]
    u = fx * xd + params[2]
    v = fy * yd + params[3]
    if not (math.isfinite(u) and math.isfinite(v)):
        return _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN
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


@njit(cache=True)
def pinhole_undistort_pixel(params: Any, u: float, v: float) -> Any:
    """Ideal normalized ``(x/z, y/z)`` of a distorted pixel (2-D Newton); NaN if it does not converge."""
    xd = (u - params[2]) / params[0]
    yd = (v - params[3]) / params[1]
    if not (math.isfinite(xd) and math.isfinite(yd)):
        return _NAN, _NAN
    xn = xd
    yn = yd
    for _ in range(NEWTON_MAX_ITER):
        fx_, fy_, a, b, c, d = _bc_distort(params, xn, yn)
        rx = fx_ - xd
        ry = fy_ - yd
        det = a * d - b * c
        if not (math.isfinite(det) and det != 0.0):
            return _NAN, _NAN
        sx = (d * rx - b * ry) / det
        sy = (a * ry - c * rx) / det
        xn -= sx
        yn -= sy
        if abs(sx) + abs(sy) < NEWTON_STEP_TOL:
            break
    fx_, fy_, a, b, c, d = _bc_distort(params, xn, yn)
    if not (abs(fx_ - xd) + abs(fy_ - yd) <= NEWTON_RESIDUAL_TOL * (1.0 + abs(xd) + abs(yd))):
        return _NAN, _NAN
    return xn, yn


@njit(cache=True)
def pinhole_unproject_pixel(params: Any, u: float, v: float) -> Any:
    """Unit ray of a pixel; NaN when the undistortion fails."""
    xn, yn = pinhole_undistort_pixel(params, u, v)
    if not math.isfinite(xn):
        return _NAN, _NAN, _NAN
    n = math.sqrt(xn * xn + yn * yn + 1.0)
    return xn / n, yn / n, 1.0 / n


# --------------------------------------------------------------------------------------------
# Kannala–Brandt (OpenCV fisheye, θ measured from the optical axis with atan2)
# --------------------------------------------------------------------------------------------


@njit(cache=True)
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


@njit(cache=True)
def kb_project_point_jacobian(params: Any, x: float, y: float, z: float) -> Any:
    """Pixel and 2x3 Jacobian. Valid for any direction but straight back, where θ_d is increasing."""
    if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
        return _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN
    rho = math.sqrt(x * x + y * y)
    if rho == 0.0 and not (z > 0.0):
        return _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN
    th = math.atan2(rho, z)
    thd, dthd = _kb_theta_d(params, th)
    if not (dthd > 0.0):
        return _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN
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


@njit(cache=True)
def kb_project_point(params: Any, x: float, y: float, z: float) -> Any:
    """Pixel ``(u, v)``; NaN straight behind the camera, for non-finite input, or where θ_d folds."""
    r = kb_project_point_jacobian(params, x, y, z)
    return r[0], r[1]


@njit(cache=True)
def _kb_theta(params: Any, u: float, v: float) -> Any:
    """(θ, mx, my, θ_d) of a pixel by Newton on θ_d(θ); θ is NaN when it does not converge."""
    mx = (u - params[2]) / params[0]
    my = (v - params[3]) / params[1]
    thd = math.sqrt(mx * mx + my * my)
    if not math.isfinite(thd):
        return _NAN, mx, my, thd
    th = thd
    for _ in range(NEWTON_MAX_ITER):
        f, df = _kb_theta_d(params, th)
        if not (df > 0.0):
            return _NAN, mx, my, thd
        step = (f - thd) / df
        th -= step
        if abs(step) < NEWTON_STEP_TOL:
            break
    f, df = _kb_theta_d(params, th)
    if not (abs(f - thd) <= NEWTON_RESIDUAL_TOL * (1.0 + thd)) or not (df > 0.0) or th < 0.0 or th >= math.pi:
        return _NAN, mx, my, thd
    return th, mx, my, thd


@njit(cache=True)
def kb_unproject_pixel(params: Any, u: float, v: float) -> Any:
    """Unit ray of a pixel."""
    th, mx, my, thd = _kb_theta(params, u, v)
    if not math.isfinite(th):
        return _NAN, _NAN, _NAN
    if thd == 0.0:
        return 0.0, 0.0, 1.0
    s = math.sin(th) / thd
    return mx * s, my * s, math.cos(th)


@njit(cache=True)
def kb_undistort_pixel(params: Any, u: float, v: float) -> Any:
    """Ideal normalized ``(x/z, y/z)``; NaN when θ >= π/2."""
    th, mx, my, thd = _kb_theta(params, u, v)
    if not math.isfinite(th) or th >= 0.5 * math.pi:
        return _NAN, _NAN
    if thd == 0.0:
        return 0.0, 0.0
    s = math.tan(th) / thd
    return mx * s, my * s


# --------------------------------------------------------------------------------------------
# double sphere (Usenko, Demmel, Cremers 2018)
# --------------------------------------------------------------------------------------------


@njit(cache=True)
def ds_project_point_jacobian(params: Any, x: float, y: float, z: float) -> Any:
    """Pixel and 2x3 Jacobian; NaN outside the model's valid region ``z > -w2 · ‖p‖``."""
    if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
        return _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN
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
        return _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN
    z2 = xi * d1 + z
    d2 = math.sqrt(x * x + y * y + z2 * z2)
    den = alpha * d2 + (1.0 - alpha) * z2
    if not (den > 0.0):
        return _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN
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


@njit(cache=True)
def ds_project_point(params: Any, x: float, y: float, z: float) -> Any:
    """Pixel ``(u, v)``; NaN outside the valid region."""
    r = ds_project_point_jacobian(params, x, y, z)
    return r[0], r[1]


@njit(cache=True)
def ds_unproject_pixel(params: Any, u: float, v: float) -> Any:
    """Unit ray of a pixel (closed form); NaN outside the image of the valid region."""
    xi = params[4]
    alpha = params[5]
    mx = (u - params[2]) / params[0]
    my = (v - params[3]) / params[1]
    r2 = mx * mx + my * my
    if not math.isfinite(r2):
        return _NAN, _NAN, _NAN
    q = 1.0 - (2.0 * alpha - 1.0) * r2
    if not (q >= 0.0):
        return _NAN, _NAN, _NAN
    mz = (1.0 - alpha * alpha * r2) / (alpha * math.sqrt(q) + 1.0 - alpha)
    disc = mz * mz + (1.0 - xi * xi) * r2
    if not (disc >= 0.0):
        return _NAN, _NAN, _NAN
    k = (mz * xi + math.sqrt(disc)) / (mz * mz + r2)
    rx = k * mx
    ry = k * my
    rz = k * mz - xi
    n = math.sqrt(rx * rx + ry * ry + rz * rz)
    if not (n > 0.0):
        return _NAN, _NAN, _NAN
    return rx / n, ry / n, rz / n


@njit(cache=True)
def ds_undistort_pixel(params: Any, u: float, v: float) -> Any:
    """Ideal normalized ``(x/z, y/z)``; NaN when the ray has ``z <= 0``."""
    rx, ry, rz = ds_unproject_pixel(params, u, v)
    if not (rz > 0.0):
        return _NAN, _NAN
    return rx / rz, ry / rz


# --------------------------------------------------------------------------------------------
# Scaramuzza / OCamCalib omnidirectional
# --------------------------------------------------------------------------------------------


@njit(cache=True)
def _polyval(params: Any, start: int, n: int, t: float) -> Any:
    """Ascending polynomial ``params[start:start+n]`` at ``t``, and its derivative (Horner)."""
    p = 0.0
    dp = 0.0
    for i in range(n - 1, -1, -1):
        dp = dp * t + p
        p = p * t + params[start + i]
    return p, dp


@njit(cache=True)
def omni_project_point_jacobian(params: Any, x: float, y: float, z: float) -> Any:
    """Pixel and 2x3 Jacobian by ``world2cam`` (or Newton on ``cam2world`` when ``inv_poly`` is empty)."""
    if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
        return _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN
    cx = params[0]
    cy = params[1]
    c = params[2]
    d = params[3]
    e = params[4]
    n_poly = int(params[5])
    n_inv = int(params[6])
    norm = math.sqrt(x * x + y * y)
    if norm == 0.0 and not (z > 0.0):
        return _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN
    d2 = norm * norm + z * z
    if n_inv > 0:
        theta = math.atan2(-z, norm)  # OCamCalib's θ = atan(z_o / norm), z_o = -z
        rho, drho_dtheta = _polyval(params, 7 + n_poly, n_inv, theta)
        drho_dnorm = drho_dtheta * z / d2
        drho_dz = -drho_dtheta * norm / d2
    else:
        # Solve P(ρ)·norm + z·ρ = 0 (the lifted ray (ρ, P(ρ)) is parallel to (norm, z_o)).
        a0 = params[7] if n_poly > 0 else 0.0
        rho = abs(a0) * math.atan2(norm, z)
        for _ in range(NEWTON_MAX_ITER):
            p, dp = _polyval(params, 7, n_poly, rho)
            fp = dp * norm + z
            if not (math.isfinite(fp) and fp != 0.0):
                break
            step = (p * norm + z * rho) / fp
            rho -= step
            if abs(step) < NEWTON_STEP_TOL * (1.0 + abs(rho)):
                break
        p, dp = _polyval(params, 7, n_poly, rho)
        fp = dp * norm + z
        scale = abs(p) * norm + abs(z) * abs(rho) + 1e-300
        if not (abs(p * norm + z * rho) <= NEWTON_RESIDUAL_TOL * scale):
            return _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN
        if not (math.isfinite(fp) and fp != 0.0):
            return _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN
        drho_dnorm = -p / fp
        drho_dz = -rho / fp
    if not math.isfinite(rho) or (norm > 0.0 and not (rho >= 0.0)):
        return _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN
    if norm == 0.0:  # on the optical axis: the centre (as OCamCalib), whatever ρ(θ = -π/2) is
        s = drho_dnorm  # the limit of ρ / norm on the optical axis
        g = 0.0
        dsdz = 0.0
    else:
        s = rho / norm
        g = (drho_dnorm - s) / (norm * norm)
        dsdz = drho_dz / norm
    if not math.isfinite(s):
        return _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN
    if norm == 0.0:
        qx = 0.0
        qy = 0.0
    else:
        qx = x * s
        qy = y * s
    # d(qx, qy)/d(x, y, z)
    a00 = s + x * x * g
    a01 = x * y * g
    a02 = x * dsdz
    a10 = a01
    a11 = s + y * y * g
    a12 = y * dsdz
    return (
        qx + e * qy + cx,
        d * qx + c * qy + cy,
        a00 + e * a10,
        a01 + e * a11,
        a02 + e * a12,
        d * a00 + c * a10,
        d * a01 + c * a11,
        d * a02 + c * a12,
    )


@njit(cache=True)
def omni_project_point(params: Any, x: float, y: float, z: float) -> Any:
    """Pixel ``(u, v)`` (u = column, v = row); NaN where ρ < 0 or the Newton fallback fails."""
    r = omni_project_point_jacobian(params, x, y, z)
    return r[0], r[1]


@njit(cache=True)
def omni_unproject_pixel(params: Any, u: float, v: float) -> Any:
    """Unit ray of a pixel by ``cam2world``."""
    cx = params[0]
    cy = params[1]
    c = params[2]
    d = params[3]
    e = params[4]
    n_poly = int(params[5])
    inv_det = 1.0 / (c - d * e)
    dc = u - cx
    dr = v - cy
    xo = inv_det * (dr - d * dc)  # along the rows
    yo = inv_det * (c * dc - e * dr)  # along the columns
    rho = math.sqrt(xo * xo + yo * yo)
    zo, _dz = _polyval(params, 7, n_poly, rho)
    n = math.sqrt(xo * xo + yo * yo + zo * zo)
    if not (math.isfinite(n) and n > 0.0):
        return _NAN, _NAN, _NAN
    return yo / n, xo / n, -zo / n


@njit(cache=True)
def omni_undistort_pixel(params: Any, u: float, v: float) -> Any:
    """Ideal normalized ``(x/z, y/z)``; NaN when the ray has ``z <= 0``."""
    rx, ry, rz = omni_unproject_pixel(params, u, v)
    if not (rz > 0.0):
        return _NAN, _NAN
    return rx / rz, ry / rz


# --------------------------------------------------------------------------------------------
# Fisheye624 (Project Aria's FisheyeRadTanThinPrism; θ from the optical axis with atan2)
# --------------------------------------------------------------------------------------------


@njit(cache=True)
def _f624_theta_d(params: Any, th: float) -> Any:
    """θ_d(θ) = θ (1 + k0 θ² + k1 θ⁴ + … + k5 θ¹²) and its derivative."""
    k0 = params[3]
    k1 = params[4]
    k2 = params[5]
    k3 = params[6]
    k4 = params[7]
    k5 = params[8]
    t2 = th * th
    thd = th * (1.0 + t2 * (k0 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * (k4 + t2 * k5))))))
    dthd = 1.0 + t2 * (
        3.0 * k0 + t2 * (5.0 * k1 + t2 * (7.0 * k2 + t2 * (9.0 * k3 + t2 * (11.0 * k4 + t2 * 13.0 * k5))))
    )
    return thd, dthd


@njit(cache=True)
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


@njit(cache=True)
def f624_project_point_jacobian(params: Any, x: float, y: float, z: float) -> Any:
    """Pixel and 2x3 Jacobian; NaN straight behind, for non-finite input, or where the model folds
    (``dθ_d/dθ <= 0`` or a non-positive determinant of the tangential/thin-prism part)."""
    if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
        return _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN
    # the projection is scale-free: work on a unit-sized point
    m = abs(x)
    if abs(y) > m:
        m = abs(y)
    if abs(z) > m:
        m = abs(z)
    if not (m > 0.0):
        return _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN
    x = x / m
    y = y / m
    z = z / m
    rho = math.sqrt(x * x + y * y)
    if rho == 0.0 and not (z > 0.0):
        return _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN
    th = math.atan2(rho, z)
    thd, dthd = _f624_theta_d(params, th)
    if not (dthd > 0.0):
        return _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN
    d2 = rho * rho + z * z
    if rho == 0.0:
        s = 1.0 / z
        g = 0.0
    else:
        s = thd / rho
        g = (dthd * z / d2 - s) / (rho * rho)
    dsdz = -dthd / d2
    up, vp, j00, j01, j10, j11 = _f624_distort(params, x * s, y * s)
    if not (j00 * j11 - j01 * j10 > 0.0):
        return _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN
    f = params[0]
    u = f * up + params[1]
    v = f * vp + params[2]
    if not (math.isfinite(u) and math.isfinite(v)):
        return _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN
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


@njit(cache=True)
def f624_project_point(params: Any, x: float, y: float, z: float) -> Any:
    """Pixel ``(u, v)``; NaN where :func:`f624_project_point_jacobian` is."""
    r = f624_project_point_jacobian(params, x, y, z)
    return r[0], r[1]


@njit(cache=True)
def _f624_theta(params: Any, u: float, v: float) -> Any:
    """(θ, xr, yr, θ_d) of a pixel: 2-D Newton on the tangential/thin-prism part, then 1-D Newton
    on θ_d(θ); θ is NaN when either does not converge."""
    mx = (u - params[1]) / params[0]
    my = (v - params[2]) / params[0]
    if not (math.isfinite(mx) and math.isfinite(my)):
        return _NAN, mx, my, _NAN
    xr = mx
    yr = my
    for _ in range(NEWTON_MAX_ITER):
        up, vp, j00, j01, j10, j11 = _f624_distort(params, xr, yr)
        rx = up - mx
        ry = vp - my
        det = j00 * j11 - j01 * j10
        if not (math.isfinite(det) and det != 0.0):
            return _NAN, mx, my, _NAN
        sx = (j11 * rx - j01 * ry) / det
        sy = (j00 * ry - j10 * rx) / det
        xr -= sx
        yr -= sy
        if abs(sx) + abs(sy) < NEWTON_STEP_TOL:
            break
    up, vp, j00, j01, j10, j11 = _f624_distort(params, xr, yr)
    if not (abs(up - mx) + abs(vp - my) <= NEWTON_RESIDUAL_TOL * (1.0 + abs(mx) + abs(my))):
        return _NAN, xr, yr, _NAN
    if not (j00 * j11 - j01 * j10 > 0.0):
        return _NAN, xr, yr, _NAN
    thd = math.sqrt(xr * xr + yr * yr)
    th = thd
    for _ in range(NEWTON_MAX_ITER):
        f, df = _f624_theta_d(params, th)
        if not (df > 0.0):
            return _NAN, xr, yr, thd
        step = (f - thd) / df
        th -= step
        if abs(step) < NEWTON_STEP_TOL:
            break
    f, df = _f624_theta_d(params, th)
    if not (abs(f - thd) <= NEWTON_RESIDUAL_TOL * (1.0 + thd)) or not (df > 0.0) or th < 0.0 or th >= math.pi:
        return _NAN, xr, yr, thd
    return th, xr, yr, thd


@njit(cache=True)
def f624_unproject_pixel(params: Any, u: float, v: float) -> Any:
    """Unit ray of a pixel."""
    th, xr, yr, thd = _f624_theta(params, u, v)
    if not math.isfinite(th):
        return _NAN, _NAN, _NAN
    if thd == 0.0:
        return 0.0, 0.0, 1.0
    s = math.sin(th) / thd
    return xr * s, yr * s, math.cos(th)


@njit(cache=True)
def f624_undistort_pixel(params: Any, u: float, v: float) -> Any:
    """Ideal normalized ``(x/z, y/z)``; NaN when θ >= π/2."""
    th, xr, yr, thd = _f624_theta(params, u, v)
    if not math.isfinite(th) or th >= 0.5 * math.pi:
        return _NAN, _NAN
    if thd == 0.0:
        return 0.0, 0.0
    s = math.tan(th) / thd
    return xr * s, yr * s
