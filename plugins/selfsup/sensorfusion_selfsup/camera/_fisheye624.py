"""Fisheye624 (Project Aria's "FisheyeRadTanThinPrism") in torch.

Parameters ``[f, cu, cv, k0..k5, p0, p1, s0..s3]`` (Aria's order, the core's layout). With
``θ = atan2(‖(x, y)‖, z)``: ``θ_d = θ (1 + k0 θ² + … + k5 θ¹²)``, ``(xr, yr) = θ_d (x, y)/‖(x, y)‖``,
``rd² = xr² + yr²``, ``u' = xr + (2 xr² + rd²) p0 + 2 xr yr p1 + s0 rd² + s1 rd⁴``,
``v' = yr + (2 yr² + rd²) p1 + 2 xr yr p0 + s2 rd² + s3 rd⁴``, ``u = f u' + cu``, ``v = f v' + cv``.
Invalid straight behind, for non-finite input, and where the model folds (``dθ_d/dθ <= 0`` or a
non-positive determinant of the tangential/thin-prism part), as the core.

On the optical axis ``θ_d/ρ`` comes from the series used for Kannala–Brandt (finite, exact
values and gradients). Unprojection: 2-D Newton on the tangential/thin-prism part, then Newton
on θ, both without gradients, each followed by one Newton step on the tape (implicit derivatives).
"""

from __future__ import annotations

import torch

from ._safe import finite_rows, newton_tolerance, safe_div, safe_sqrt, sanitize

__all__ = ["f624_distort", "f624_project", "f624_theta_d", "f624_unproject"]

NEWTON_MAX_ITER = 20
_NEAR_AXIS = 1e-6


def f624_theta_d(params: torch.Tensor, th: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``θ_d(θ)`` and ``dθ_d/dθ``."""
    k0, k1, k2, k3, k4, k5 = (params[i] for i in range(3, 9))
    t2 = th * th
    thd = th * (1 + t2 * (k0 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * (k4 + t2 * k5))))))
    dthd = 1 + t2 * (3 * k0 + t2 * (5 * k1 + t2 * (7 * k2 + t2 * (9 * k3 + t2 * (11 * k4 + t2 * 13 * k5)))))
    return thd, dthd


def _poly_t2(params: torch.Tensor, t2: torch.Tensor) -> torch.Tensor:
    k0, k1, k2, k3, k4, k5 = (params[i] for i in range(3, 9))
    return 1 + t2 * (k0 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * (k4 + t2 * k5)))))


def f624_distort(params: torch.Tensor, xr: torch.Tensor, yr: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``(u', v')`` of ``(xr, yr)`` and the Jacobian entries ``(j00, j01, j10, j11)``."""
    p0, p1, s0, s1, s2, s3 = (params[i] for i in range(9, 15))
    r2 = xr * xr + yr * yr
    xy2 = 2 * xr * yr
    up = xr + (2 * xr * xr + r2) * p0 + xy2 * p1 + r2 * (s0 + s1 * r2)
    vp = yr + (2 * yr * yr + r2) * p1 + xy2 * p0 + r2 * (s2 + s3 * r2)
    tu = 2 * (s0 + 2 * s1 * r2)
    tv = 2 * (s2 + 2 * s3 * r2)
    j00 = 1 + 6 * xr * p0 + 2 * yr * p1 + xr * tu
    j01 = 2 * yr * p0 + 2 * xr * p1 + yr * tu
    j10 = 2 * xr * p1 + 2 * yr * p0 + xr * tv
    j11 = 1 + 6 * yr * p1 + 2 * xr * p0 + yr * tv
    return up, vp, j00, j01, j10, j11


def f624_project(params: torch.Tensor, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixels ``(*, 2)`` of camera-frame points ``(*, 3)`` and ``valid (*,)``."""
    ok = finite_rows(points)
    ok = ok & ~((points[..., 0] == 0) & (points[..., 1] == 0) & ~(points[..., 2] > 0))
    p = sanitize(points, ok, (0.0, 0.0, 1.0))
    p = p / p.abs().amax(dim=-1, keepdim=True)
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    rho2 = x * x + y * y
    rho = safe_sqrt(rho2)
    th = torch.atan2(rho, z)
    thd, dthd = f624_theta_d(params, th)
    ok = ok & (dthd > 0)
    near = (z > 0) & (rho2 < _NEAR_AXIS * z * z)
    s_far = safe_div(thd, torch.where(near, torch.ones_like(rho), rho))
    zs = torch.where(near, z, torch.ones_like(z))
    t2 = rho2 / (zs * zs)
    th_over_rho = (1 - t2 / 3 + t2 * t2 / 5) / zs
    s_near = th_over_rho * _poly_t2(params, th_over_rho * th_over_rho * rho2)
    s = torch.where(near, s_near, s_far)
    up, vp, j00, j01, j10, j11 = f624_distort(params, x * s, y * s)
    ok = ok & (j00 * j11 - j01 * j10 > 0)
    uv = torch.stack([params[0] * up + params[1], params[0] * vp + params[2]], dim=-1)
    return uv, ok & finite_rows(uv)


def f624_unproject(params: torch.Tensor, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit rays ``(*, 3)`` of pixels ``(*, 2)`` and ``valid (*,)``."""
    ok = finite_rows(pixels)
    px = sanitize(pixels, ok, (0.0, 0.0))
    mx = (px[..., 0] - params[1]) / params[0]
    my = (px[..., 1] - params[2]) / params[0]
    tol = newton_tolerance(pixels.dtype)
    step_tol = 1e-15 if pixels.dtype == torch.float64 else 1e-8
    pd = params.detach()
    with torch.no_grad():
        tx, ty = mx.detach(), my.detach()
        xr, yr = tx.clone(), ty.clone()
        for _ in range(NEWTON_MAX_ITER):
            up, vp, j00, j01, j10, j11 = f624_distort(pd, xr, yr)
            rx, ry = up - tx, vp - ty
            det = j00 * j11 - j01 * j10
            sx = (j11 * rx - j01 * ry) / det
            sy = (j00 * ry - j10 * rx) / det
            xr, yr = xr - sx, yr - sy
            if not bool(((sx.abs() + sy.abs()) > step_tol * (1 + xr.abs() + yr.abs())).any()):
                break
        conv = torch.isfinite(xr) & torch.isfinite(yr)
        xr = torch.where(conv, xr, torch.zeros_like(xr))
        yr = torch.where(conv, yr, torch.zeros_like(yr))
    up, vp, j00, j01, j10, j11 = f624_distort(params, xr, yr)
    rx, ry = up - mx, vp - my
    det = j00 * j11 - j01 * j10
    xr = xr - safe_div(j11 * rx - j01 * ry, det)
    yr = yr - safe_div(j00 * ry - j10 * rx, det)
    with torch.no_grad():
        a, b, c00, c01, c10, c11 = f624_distort(pd, xr.detach(), yr.detach())
        res = (a - tx).abs() + (b - ty).abs()
        conv = conv & (res <= tol * (1 + tx.abs() + ty.abs())) & (c00 * c11 - c01 * c10 > 0)
        xr_d, yr_d = xr.detach(), yr.detach()
        target = torch.sqrt(xr_d * xr_d + yr_d * yr_d)
        th = torch.where(conv, target, torch.zeros_like(target))
        for _ in range(NEWTON_MAX_ITER):
            f, df = f624_theta_d(pd, th)
            step = (f - torch.where(conv, target, torch.zeros_like(target))) / df
            th = torch.where(df > 0, th - step, torch.full_like(th, float("nan")))
            if not bool((step.abs() > step_tol * (1 + th.abs())).any()):
                break
        conv = conv & torch.isfinite(th)
        th = torch.where(conv, th, torch.zeros_like(th))
    thd2 = xr * xr + yr * yr
    thd = safe_sqrt(thd2)
    f, df = f624_theta_d(params, th)
    th = th - safe_div(f - thd, df)
    with torch.no_grad():
        f2, df2 = f624_theta_d(pd, th.detach())
        t = th.detach()
        conv = conv & ((f2 - target).abs() <= tol * (1 + target)) & (df2 > 0) & (t >= 0) & (t < torch.pi)
    ok = ok & conv
    th = torch.where(ok, th, torch.zeros_like(th))
    near = thd2 < 1e-8
    s = torch.where(near, 1 - (params[3] + 1.0 / 6.0) * thd2, safe_div(torch.sin(th), thd))
    ray = torch.stack([xr * s, yr * s, torch.cos(th)], dim=-1)
    return sanitize(ray, ok, (0.0, 0.0, 1.0)), ok
