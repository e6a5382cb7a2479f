"""Kannala–Brandt equidistant fisheye (OpenCV ``cv2.fisheye``: k1..k4) in torch.

Parameters ``[fx, fy, cx, cy, k1, k2, k3, k4]``. ``θ = atan2(‖(x, y)‖, z)``,
``θ_d = θ (1 + k1 θ² + k2 θ⁴ + k3 θ⁶ + k4 θ⁸)``, ``u = fx θ_d x/‖(x, y)‖ + cx``. Invalid straight
behind the camera, for non-finite input, and where ``dθ_d/dθ <= 0`` (the polynomial folds).

On the optical axis ``θ_d/‖(x, y)‖`` is 0/0; within ``‖(x, y)‖ < 1e-3 z`` it is evaluated from
the series ``θ/ρ = (1 - t²/3 + t⁴/5)/z`` (``t = ρ/z``, error below 1e-18), so values and
gradients are finite and exact right up to the axis. Unprojection: Newton on θ without
gradients, then one Newton step with them (the implicit derivative).
"""

from __future__ import annotations

import torch

from ._safe import finite_rows, newton_tolerance, safe_div, safe_sqrt, sanitize

__all__ = ["kb_project", "kb_theta_d", "kb_unproject"]

NEWTON_MAX_ITER = 20
_NEAR_AXIS = 1e-6  # (ρ/z)² below this uses the series


def kb_theta_d(params: torch.Tensor, th: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``θ_d(θ)`` and ``dθ_d/dθ``."""
    k1, k2, k3, k4 = (params[i] for i in range(4, 8))
    t2 = th * th
    thd = th * (1 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4))))
    dthd = 1 + t2 * (3 * k1 + t2 * (5 * k2 + t2 * (7 * k3 + t2 * 9 * k4)))
    return thd, dthd


def _poly_t2(params: torch.Tensor, t2: torch.Tensor) -> torch.Tensor:
    k1, k2, k3, k4 = (params[i] for i in range(4, 8))
    return 1 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4)))


def kb_project(params: torch.Tensor, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixels ``(*, 2)`` of camera-frame points ``(*, 3)`` and ``valid (*,)``."""
    ok = finite_rows(points)
    on_axis_back = (points[..., 0] == 0) & (points[..., 1] == 0) & ~(points[..., 2] > 0)
    ok = ok & ~on_axis_back
    p = sanitize(points, ok, (0.0, 0.0, 1.0))
    p = p / p.abs().amax(dim=-1, keepdim=True)
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    rho2 = x * x + y * y
    rho = safe_sqrt(rho2)
    th = torch.atan2(rho, z)
    thd, dthd = kb_theta_d(params, th)
    ok = ok & (dthd > 0)
    near = (z > 0) & (rho2 < _NEAR_AXIS * z * z)
    s_far = safe_div(thd, torch.where(near, torch.ones_like(rho), rho))
    zs = torch.where(near, z, torch.ones_like(z))
    t2 = rho2 / (zs * zs)
    th_over_rho = (1 - t2 / 3 + t2 * t2 / 5) / zs
    s_near = th_over_rho * _poly_t2(params, th_over_rho * th_over_rho * rho2)
    s = torch.where(near, s_near, s_far)
    uv = torch.stack([params[0] * x * s + params[2], params[1] * y * s + params[3]], dim=-1)
    return uv, ok & finite_rows(uv)


def kb_unproject(params: torch.Tensor, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit rays ``(*, 3)`` of pixels ``(*, 2)`` and ``valid (*,)``."""
    ok = finite_rows(pixels)
    px = sanitize(pixels, ok, (0.0, 0.0))
    mx = (px[..., 0] - params[2]) / params[0]
    my = (px[..., 1] - params[3]) / params[1]
    thd2 = mx * mx + my * my
    thd = safe_sqrt(thd2)
    tol = newton_tolerance(pixels.dtype)
    with torch.no_grad():
        pd = params.detach()
        target = thd.detach()
        th = target.clone()
        step_tol = 1e-15 if pixels.dtype == torch.float64 else 1e-8
        for _ in range(NEWTON_MAX_ITER):
            f, df = kb_theta_d(pd, th)
            step = (f - target) / df
            th = torch.where(df > 0, th - step, torch.full_like(th, float("nan")))
            if not bool((step.abs() > step_tol * (1 + th.abs())).any()):
                break
        conv = torch.isfinite(th)
        th = torch.where(conv, th, torch.zeros_like(th))
    f, df = kb_theta_d(params, th)
    th = th - safe_div(f - thd, df)
    with torch.no_grad():
        f2, df2 = kb_theta_d(params.detach(), th.detach())
        t = th.detach()
        conv = conv & ((f2 - target).abs() <= tol * (1 + target)) & (df2 > 0) & (t >= 0) & (t < torch.pi)
    ok = ok & conv
    th = torch.where(ok, th, torch.zeros_like(th))
    near = thd2 < 1e-8
    k1 = params[4]
    s = torch.where(near, 1 - (k1 + 1.0 / 6.0) * thd2, safe_div(torch.sin(th), thd))
    ray = torch.stack([mx * s, my * s, torch.cos(th)], dim=-1)
    return sanitize(ray, ok, (0.0, 0.0, 1.0)), ok
