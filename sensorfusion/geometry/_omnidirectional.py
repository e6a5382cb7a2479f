"""Scaramuzza / OCamCalib omnidirectional model, and a reader for OCamCalib's ``calib_results.txt``.

Parameters ``[cx, cy, c, d, e, n_poly, n_inv, poly..., inv_poly...]`` (``cx`` = column and
``cy`` = row of the centre, OpenCV x/y order). ``unproject`` is OCamCalib's ``cam2world``
(the polynomial ``poly`` in the image radius ρ); ``project`` is ``world2cam`` (the inverse
polynomial ``inv_poly`` in θ = atan(z_o/‖(x_o, y_o)‖)), or, when ``inv_poly`` is empty, a Newton
solve of ``cam2world`` for ρ. The frame and (row, col) conventions, and the affine matrix
``[[c, d], [e, 1]]`` acting on (row, col), are spelled out in :mod:`._numba_models`.

No field-of-view limit is applied beyond ``ρ >= 0``: ``inv_poly`` is only meaningful over the
angles it was fitted on (OCamCalib's ROI), so points far outside the calibrated field of
view give pixels outside the image rather than NaN.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
from numpy.polynomial import polynomial as npoly

from .._errors import ConfigError
from ..kernels import scalar
from ..schema._calibration import OmnidirectionalCamera
from ._params import NAN, NEWTON_MAX_ITER, NEWTON_RESIDUAL_TOL, NEWTON_STEP_TOL
from ._radial import normalized_from_rays_np
from ._tiers import register_camera_model

__all__ = [
    "omni_project_jacobian_numpy",
    "omni_project_numpy",
    "omni_project_point",
    "omni_project_point_jacobian",
    "omni_undistort_pixel",
    "omni_undistort_points_numpy",
    "omni_unproject_numpy",
    "omni_unproject_pixel",
    "read_ocamcalib",
]


def read_ocamcalib(path: str | os.PathLike[str]) -> OmnidirectionalCamera:
    """Read OCamCalib's ``calib_results.txt`` into an :class:`OmnidirectionalCamera`.

    The file holds, each after a ``#`` comment line: the cam2world polynomial (count, then
    a0 a1 ... ascending), the world2cam polynomial (count, then coefficients), the centre as
    "row column" (0-based), the affine terms "c d e", and the image size as "height width".
    Later sections (ROI, cropping) are ignored. A malformed file raises
    :class:`sensorfusion.ConfigError` naming the file and the section. The centre is stored swapped, as
    ``cx`` = column and ``cy`` = row.
    """
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    rows = [ln.split() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    names = (
        "cam2world polynomial",
        "world2cam polynomial",
        "centre (row column)",
        "affine (c d e)",
        "image size (height width)",
    )
    if len(rows) < 5:
        raise ConfigError(
            f"an OCamCalib calib_results.txt needs 5 sections ({', '.join(names)}); found {len(rows)}", source=str(path)
        )
    try:
        vals = [[float(v) for v in r] for r in rows[:5]]
    except ValueError as exc:
        raise ConfigError(f"non-numeric value in an OCamCalib section: {exc}", source=str(path)) from None
    for i in (0, 1):
        n = int(vals[i][0])
        if n != len(vals[i]) - 1:
            raise ConfigError(
                f"{names[i]}: the count says {n} coefficients but {len(vals[i]) - 1} follow", source=str(path)
            )
    for i, want in ((2, 2), (3, 3), (4, 2)):
        if len(vals[i]) != want:
            raise ConfigError(f"{names[i]}: expected {want} numbers, got {len(vals[i])}", source=str(path))
    row_c, col_c = vals[2]
    c, d, e = vals[3]
    height, width = (int(v) for v in vals[4])
    return OmnidirectionalCamera(
        width=width,
        height=height,
        poly=tuple(vals[0][1:]),
        inv_poly=tuple(vals[1][1:]),
        cx=col_c,
        cy=row_c,
        c=c,
        d=d,
        e=e,
    )


def _split(params: np.ndarray) -> tuple[float, float, float, float, float, np.ndarray, np.ndarray]:
    cx, cy, c, d, e = (float(v) for v in params[:5])
    n_poly, n_inv = int(params[5]), int(params[6])
    return cx, cy, c, d, e, params[7 : 7 + n_poly], params[7 + n_poly : 7 + n_poly + n_inv]


def omni_project_jacobian_numpy(params: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels ``(M, 2)`` (u = column, v = row) and d(pixel)/d(point) ``(M, 2, 3)``."""
    cx, cy, c, d, e, poly, inv = _split(params)
    x, y, z = points[:, 0], points[:, 1], points[:, 2]
    ok = np.isfinite(points).all(-1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        norm = np.sqrt(x * x + y * y)
        d2 = norm * norm + z * z
        if len(inv):
            theta = np.arctan2(-z, norm)
            rho = npoly.polyval(theta, inv)
            drho_dtheta = npoly.polyval(theta, npoly.polyder(inv))
            drho_dnorm = drho_dtheta * z / d2
            drho_dz = -drho_dtheta * norm / d2
        else:
            dpoly = npoly.polyder(poly) if len(poly) else np.zeros(1)
            a0 = abs(float(poly[0])) if len(poly) else 0.0
            rho = a0 * np.arctan2(norm, z)
            for _ in range(NEWTON_MAX_ITER):
                fp = npoly.polyval(rho, dpoly) * norm + z
                rho = rho - (npoly.polyval(rho, poly) * norm + z * rho) / fp
            p = npoly.polyval(rho, poly)
            fp = npoly.polyval(rho, dpoly) * norm + z
            scale = np.abs(p) * norm + np.abs(z) * np.abs(rho) + 1e-300
            ok &= np.abs(p * norm + z * rho) <= NEWTON_RESIDUAL_TOL * scale
            ok &= np.isfinite(fp) & (fp != 0)
            drho_dnorm = -p / fp
            drho_dz = -rho / fp
        on_axis = norm == 0
        s = np.where(on_axis, drho_dnorm, rho / norm)
        g = np.where(on_axis, 0.0, (drho_dnorm - s) / (norm * norm))
        dsdz = np.where(on_axis, 0.0, drho_dz / norm)
        qx, qy = x * s, y * s
        a = np.empty((len(points), 2, 3))
        a[:, 0, 0], a[:, 0, 1], a[:, 0, 2] = s + x * x * g, x * y * g, x * dsdz
        a[:, 1, 0], a[:, 1, 1], a[:, 1, 2] = x * y * g, s + y * y * g, y * dsdz
        affine = np.array([[1.0, e], [d, c]])  # (u, v) = affine @ (qx, qy) + (cx, cy)
        uv = np.stack([qx + e * qy + cx, d * qx + c * qy + cy], axis=-1)
        jac = affine @ a
    ok &= ~(on_axis & ~(z > 0)) & np.isfinite(rho) & (on_axis | (rho >= 0)) & np.isfinite(s)
    uv[~ok] = np.nan
    jac[~ok] = np.nan
    return uv, jac


def omni_project_numpy(params: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Pixels ``(M, 2)`` of camera-frame points ``(M, 3)`` (world2cam)."""
    return omni_project_jacobian_numpy(params, points)[0]


def omni_unproject_numpy(params: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Unit rays ``(M, 3)`` (cam2world)."""
    cx, cy, c, d, e, poly, _inv = _split(params)
    dc = pixels[:, 0] - cx
    dr = pixels[:, 1] - cy
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        xo = (dr - d * dc) / (c - d * e)
        yo = (c * dc - e * dr) / (c - d * e)
        zo = npoly.polyval(np.sqrt(xo * xo + yo * yo), poly) if len(poly) else np.zeros_like(xo)
        ray = np.stack([yo, xo, -zo], axis=-1)
        out: np.ndarray = ray / np.linalg.norm(ray, axis=-1, keepdims=True)
    out[~np.isfinite(out).all(-1)] = np.nan
    return out


def omni_undistort_points_numpy(params: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Ideal normalized ``(M, 2)``; NaN when the ray has ``z <= 0``."""
    return normalized_from_rays_np(omni_unproject_numpy(params, pixels))


# --------------------------------------------------------------------------------------------
# scalar kernels (one point each): the cpu and cuda tiers are generated from these
# --------------------------------------------------------------------------------------------


@scalar
def _polyval(params: Any, start: int, n: int, t: float) -> Any:
    """Ascending polynomial ``params[start:start+n]`` at ``t``, and its derivative (Horner)."""
    p = 0.0
    dp = 0.0
    for i in range(n - 1, -1, -1):
        dp = dp * t + p
        p = p * t + params[start + i]
    return p, dp


@scalar
def omni_project_point_jacobian(params: Any, x: float, y: float, z: float) -> Any:
    """Pixel and 2x3 Jacobian by ``world2cam`` (or Newton on ``cam2world`` when ``inv_poly`` is empty)."""
    if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
        return NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN
    cx = params[0]
    cy = params[1]
    c = params[2]
    d = params[3]
    e = params[4]
    n_poly = int(params[5])
    n_inv = int(params[6])
    norm = math.sqrt(x * x + y * y)
    if norm == 0.0 and not (z > 0.0):
        return NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN
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
            return NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN
        if not (math.isfinite(fp) and fp != 0.0):
            return NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN
        drho_dnorm = -p / fp
        drho_dz = -rho / fp
    if not math.isfinite(rho) or (norm > 0.0 and not (rho >= 0.0)):
        return NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN
    if norm == 0.0:  # on the optical axis: the centre (as OCamCalib), whatever ρ(θ = -π/2) is
        s = drho_dnorm  # the limit of ρ / norm on the optical axis
        g = 0.0
        dsdz = 0.0
    else:
        s = rho / norm
        g = (drho_dnorm - s) / (norm * norm)
        dsdz = drho_dz / norm
    if not math.isfinite(s):
        return NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN
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


@scalar
def omni_project_point(params: Any, x: float, y: float, z: float) -> Any:
    """Pixel ``(u, v)`` (u = column, v = row); NaN where ρ < 0 or the Newton fallback fails."""
    r = omni_project_point_jacobian(params, x, y, z)
    return r[0], r[1]


@scalar
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
        return NAN, NAN, NAN
    return yo / n, xo / n, -zo / n


@scalar
def omni_undistort_pixel(params: Any, u: float, v: float) -> Any:
    """Ideal normalized ``(x/z, y/z)``; NaN when the ray has ``z <= 0``."""
    rx, ry, rz = omni_unproject_pixel(params, u, v)
    if not (rz > 0.0):
        return NAN, NAN
    return rx / rz, ry / rz


register_camera_model(
    "scaramuzza",
    scalars={
        "project": omni_project_point,
        "project_jacobian": omni_project_point_jacobian,
        "unproject": omni_unproject_pixel,
        "undistort_points": omni_undistort_pixel,
    },
    numpy={
        "project": omni_project_numpy,
        "project_jacobian": omni_project_jacobian_numpy,
        "unproject": omni_unproject_numpy,
        "undistort_points": omni_undistort_points_numpy,
    },
    example_params=np.array([320.0, 240.0, 1.0, 0.0, 0.0, 3.0, 0.0, -250.0, 0.0, 1e-3]),
)
