"""The radial part shared by the θ-polynomial fisheye models (Kannala–Brandt, Fisheye624).

Both map a direction at angle ``θ = atan2(‖(x, y)‖, z)`` from the optical axis to a radius
``θd = θ (1 + c0 θ² + c1 θ⁴ + … + c_{n-1} θ^{2n})`` along its azimuth, ``(xr, yr) = s (x, y)``
with ``s = θd / ‖(x, y)‖``; they differ in the coefficients (4 for Kannala–Brandt, 6 for
Fisheye624, at ``params[start:start + n]``) and in what follows (a per-axis focal length; a
tangential/thin-prism part). Scalar kernels for the cpu and cuda tiers, numpy twins for the
references.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..kernels import scalar
from ._params import NAN, NEWTON_MAX_ITER, NEWTON_RESIDUAL_TOL, NEWTON_STEP_TOL

__all__ = [
    "normalized_from_rays_np",
    "radial_scale",
    "radial_scale_np",
    "radial_theta",
    "radial_theta_d",
    "radial_theta_d_np",
    "radial_theta_np",
    "theta_normalized",
    "theta_normalized_np",
    "theta_ray",
    "theta_ray_np",
]


# -- scalar kernels ------------------------------------------------------------------------------


@scalar
def radial_theta_d(params: Any, start: int, n: int, th: float) -> Any:
    """θd(θ) and dθd/dθ with the ``n`` coefficients at ``params[start:]`` (Horner in θ²)."""
    t2 = th * th
    p = 0.0
    dp = 0.0
    for i in range(n - 1, -1, -1):
        c = params[start + i]
        p = t2 * (c + p)
        dp = t2 * ((2 * i + 3) * c + dp)
    return th * (1.0 + p), 1.0 + dp


@scalar
def radial_scale(params: Any, start: int, n: int, x: float, y: float, z: float) -> Any:
    """``(s, g, ds/dz)`` of a finite point: ``(xr, yr) = s (x, y)`` and
    ``d(xr, yr)/d(x, y, z) = [[s + x² g, x y g, x ds/dz], [x y g, s + y² g, y ds/dz]]``;
    ``s`` is NaN straight behind the camera or where the polynomial folds (dθd/dθ <= 0)."""
    rho = math.sqrt(x * x + y * y)
    if rho == 0.0 and not (z > 0.0):
        return NAN, NAN, NAN
    thd, dthd = radial_theta_d(params, start, n, math.atan2(rho, z))
    if not (dthd > 0.0):
        return NAN, NAN, NAN
    d2 = rho * rho + z * z
    if rho == 0.0:
        return 1.0 / z, 0.0, -dthd / d2
    s = thd / rho
    return s, (dthd * z / d2 - s) / (rho * rho), -dthd / d2


@scalar
def radial_theta(params: Any, start: int, n: int, thd: float) -> float:
    """θ of a radius θd by Newton (started at θd); NaN when it does not converge or folds."""
    if not math.isfinite(thd):
        return NAN
    th = thd
    for _ in range(NEWTON_MAX_ITER):
        f, df = radial_theta_d(params, start, n, th)
        if not (df > 0.0):
            return NAN
        step = (f - thd) / df
        th -= step
        if abs(step) < NEWTON_STEP_TOL:
            break
    f, df = radial_theta_d(params, start, n, th)
    if not (abs(f - thd) <= NEWTON_RESIDUAL_TOL * (1.0 + thd)) or not (df > 0.0) or th < 0.0 or th >= math.pi:
        return NAN
    return th


@scalar
def theta_ray(th: float, xr: float, yr: float, thd: float) -> Any:
    """Unit ray at angle ``th`` along the azimuth of ``(xr, yr)`` (radius ``thd``)."""
    if not math.isfinite(th):
        return NAN, NAN, NAN
    if thd == 0.0:
        return 0.0, 0.0, 1.0
    s = math.sin(th) / thd
    return xr * s, yr * s, math.cos(th)


@scalar
def theta_normalized(th: float, xr: float, yr: float, thd: float) -> Any:
    """``(x/z, y/z)`` of that ray; NaN when ``th >= π/2``."""
    if not math.isfinite(th) or th >= 0.5 * math.pi:
        return NAN, NAN
    if thd == 0.0:
        return 0.0, 0.0
    s = math.tan(th) / thd
    return xr * s, yr * s


# -- numpy twins (the references) ----------------------------------------------------------------


def radial_theta_d_np(coeffs: np.ndarray, th: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """θd(θ) and dθd/dθ with the coefficients ``coeffs`` (``c0, c1, …``)."""
    t2 = th * th
    c = [float(v) for v in coeffs]
    thd = th * (1 + sum(c[i] * t2 ** (i + 1) for i in range(len(c))))
    dthd = 1 + sum((2 * i + 3) * c[i] * t2 ** (i + 1) for i in range(len(c)))
    return thd, dthd


def radial_scale_np(
    coeffs: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(s, g, ds/dz, ok)`` as :func:`radial_scale`; ``ok`` False where it is NaN."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rho = np.sqrt(x * x + y * y)
        thd, dthd = radial_theta_d_np(coeffs, np.arctan2(rho, z))
        d2 = rho * rho + z * z
        on_axis = rho == 0
        s = np.where(on_axis, 1 / z, thd / rho)
        g = np.where(on_axis, 0.0, (dthd * z / d2 - s) / (rho * rho))
        dsdz = -dthd / d2
    ok = ~(on_axis & ~(z > 0)) & (dthd > 0)
    return s, g, dsdz, ok


def radial_theta_np(coeffs: np.ndarray, thd: np.ndarray) -> np.ndarray:
    """θ of radii θd (Newton, the same cap and acceptance as :func:`radial_theta`); NaN where it fails."""
    th = thd.copy()
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for _ in range(NEWTON_MAX_ITER):
            f, df = radial_theta_d_np(coeffs, th)
            th = np.where(df > 0, th - (f - thd) / df, np.nan)
        f, df = radial_theta_d_np(coeffs, th)
        ok = (np.abs(f - thd) <= NEWTON_RESIDUAL_TOL * (1 + thd)) & (df > 0) & (th >= 0) & (th < np.pi)
    th[~ok] = np.nan
    return th


def theta_ray_np(th: np.ndarray, xr: np.ndarray, yr: np.ndarray, thd: np.ndarray) -> np.ndarray:
    """Unit rays ``(M, 3)`` as :func:`theta_ray`."""
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(thd == 0, 0.0, np.sin(th) / thd)
    return np.stack([xr * s, yr * s, np.cos(th)], axis=-1)


def theta_normalized_np(th: np.ndarray, xr: np.ndarray, yr: np.ndarray, thd: np.ndarray) -> np.ndarray:
    """Normalized ``(M, 2)`` as :func:`theta_normalized`."""
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(thd == 0, 0.0, np.tan(th) / thd)
    out = np.stack([xr * s, yr * s], axis=-1)
    out[~(th < 0.5 * np.pi)] = np.nan
    return out


def normalized_from_rays_np(ray: np.ndarray) -> np.ndarray:
    """``(x/z, y/z)`` ``(M, 2)`` of unit rays ``(M, 3)``; NaN where ``z <= 0``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out: np.ndarray = ray[:, :2] / ray[:, 2:3]
    out[~(ray[:, 2] > 0)] = np.nan
    return out
