"""Pinhole + Brown–Conrady (OpenCV's rational model: k1..k6, tangential p1, p2) in torch.

Parameters ``[fx, fy, cx, cy, k1, k2, p1, p2, k3, k4, k5, k6]`` (the core's layout,
:func:`sensorfusion.geometry.camera_params`). ``x' = x/z``, ``r² = x'² + y'²``,
``x'' = x' (1 + k1 r² + k2 r⁴ + k3 r⁶)/(1 + k4 r² + k5 r⁴ + k6 r⁶) + 2 p1 x'y' + p2 (r² + 2x'²)``,
``u = fx x'' + cx`` (and the same for ``y``). A point is invalid at or behind the image plane
(``z <= 0``), when not finite, or when it lies within 1e-6 rad of the image plane
(``r² > 1e12``, where float32 overflows; no image reaches that far).

Unprojection inverts the distortion by 2-D Newton (the core's iteration cap, started at the
distorted point) without gradients, then takes one more Newton step *with* gradients: at the
converged point that step's derivative is the implicit-function derivative, exact for the
pixels and the parameters alike, and nothing of the iteration is kept on the tape.
"""

from __future__ import annotations

import torch

from ._safe import finite_rows, newton_tolerance, safe_div, sanitize

__all__ = ["bc_distort", "pinhole_project", "pinhole_unproject"]

NEWTON_MAX_ITER = 20
_MAX_R2 = 1e12


def bc_distort(params: torch.Tensor, xn: torch.Tensor, yn: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Distorted normalized ``(xd, yd)`` and the Jacobian entries ``(j00, j01, j11)`` (``j10 == j01``)."""
    k1, k2, p1, p2, k3, k4, k5, k6 = (params[i] for i in range(4, 12))
    r2 = xn * xn + yn * yn
    a = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    b = 1 + r2 * (k4 + r2 * (k5 + r2 * k6))
    da = k1 + r2 * (2 * k2 + 3 * k3 * r2)
    db = k4 + r2 * (2 * k5 + 3 * k6 * r2)
    radial = safe_div(a, b)
    drad = safe_div(da * b - a * db, b * b)
    xd = xn * radial + 2 * p1 * xn * yn + p2 * (r2 + 2 * xn * xn)
    yd = yn * radial + p1 * (r2 + 2 * yn * yn) + 2 * p2 * xn * yn
    j00 = radial + 2 * xn * xn * drad + 2 * p1 * yn + 6 * p2 * xn
    j01 = 2 * xn * yn * drad + 2 * p1 * xn + 2 * p2 * yn
    j11 = radial + 2 * yn * yn * drad + 6 * p1 * yn + 2 * p2 * xn
    return xd, yd, j00, j01, j11


def pinhole_project(params: torch.Tensor, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixels ``(*, 2)`` of camera-frame points ``(*, 3)`` and ``valid (*,)``.

    Invalid rows hold finite placeholders (mask them with ``torch.where``).
    """
    ok = finite_rows(points) & (points[..., 2] > 0)
    p = sanitize(points, ok, (0.0, 0.0, 1.0))
    p = p / p.abs().amax(dim=-1, keepdim=True)  # central model: scale-free, and no overflow
    xn = p[..., 0] / p[..., 2]
    yn = p[..., 1] / p[..., 2]
    r2 = xn * xn + yn * yn
    ok = ok & (r2 <= _MAX_R2)
    keep = ok
    xn = torch.where(keep, xn, torch.zeros_like(xn))
    yn = torch.where(keep, yn, torch.zeros_like(yn))
    xd, yd, *_ = bc_distort(params, xn, yn)
    uv = torch.stack([params[0] * xd + params[2], params[1] * yd + params[3]], dim=-1)
    ok = ok & finite_rows(uv)
    return uv, ok


def pinhole_unproject(params: torch.Tensor, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit rays ``(*, 3)`` of pixels ``(*, 2)`` and ``valid (*,)`` (the undistortion converged)."""
    ok = finite_rows(pixels)
    px = sanitize(pixels, ok, (0.0, 0.0))
    xd = (px[..., 0] - params[2]) / params[0]
    yd = (px[..., 1] - params[3]) / params[1]
    tol = newton_tolerance(pixels.dtype)
    with torch.no_grad():
        pd = params.detach()
        x, y = xd.detach().clone(), yd.detach().clone()
        step_tol = 1e-15 if pixels.dtype == torch.float64 else 1e-8
        for _ in range(NEWTON_MAX_ITER):
            fx_, fy_, a, b, d = bc_distort(pd, x, y)
            rx, ry = fx_ - xd.detach(), fy_ - yd.detach()
            det = a * d - b * b
            sx = (d * rx - b * ry) / det
            sy = (a * ry - b * rx) / det
            x = x - sx
            y = y - sy
            if not bool(((sx.abs() + sy.abs()) > step_tol * (1 + x.abs() + y.abs())).any()):
                break  # every point has converged (NaN steps are caught below)
        conv = torch.isfinite(x) & torch.isfinite(y)
        x = torch.where(conv, x, torch.zeros_like(x))
        y = torch.where(conv, y, torch.zeros_like(y))
    # one Newton step on the tape: its derivative is the implicit one at the solution
    fx_, fy_, a, b, d = bc_distort(params, x, y)
    rx, ry = fx_ - xd, fy_ - yd
    det = a * d - b * b
    xn = x - safe_div(d * rx - b * ry, det)
    yn = y - safe_div(a * ry - b * rx, det)
    with torch.no_grad():
        gx, gy, *_ = bc_distort(params.detach(), xn.detach(), yn.detach())
        res = (gx - xd.detach()).abs() + (gy - yd.detach()).abs()
        conv = conv & (res <= tol * (1 + xd.detach().abs() + yd.detach().abs())) & (det != 0)
    ok = ok & conv
    xn = torch.where(ok, xn, torch.zeros_like(xn))
    yn = torch.where(ok, yn, torch.zeros_like(yn))
    ray = torch.stack([xn, yn, torch.ones_like(xn)], dim=-1)
    return ray / torch.linalg.vector_norm(ray, dim=-1, keepdim=True), ok
