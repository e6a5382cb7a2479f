"""Scaramuzza / OCamCalib omnidirectional model in torch.

Parameters ``[cx, cy, c, d, e, n_poly, n_inv, poly..., inv_poly...]`` (the core's layout;
``cx`` = column, ``cy`` = row of the centre). ``project`` is OCamCalib's ``world2cam``: with
``θ = atan2(-z, ‖(x, y)‖)`` the image radius is ``ρ = Σ inv_i θ^i``, ``(q_x, q_y) = (x, y) ρ/‖(x, y)‖``,
``u = q_x + e q_y + cx``, ``v = d q_x + c q_y + cy``. Without ``inv_poly`` it solves
``cam2world`` for ρ by Newton (no gradients) followed by one Newton step on the tape (the
implicit derivative). ``unproject`` is ``cam2world`` (closed form). On the optical axis the
scale ``ρ/‖(x, y)‖`` is replaced by its limit ``dρ/d‖(x, y)‖``, as the core does, so values and
gradients stay finite there. The frame conventions are spelled out in
:mod:`sensorfusion.geometry`.
"""

from __future__ import annotations

import torch

from ._safe import finite_rows, newton_tolerance, safe_div, safe_sqrt, sanitize

__all__ = ["polyval", "scaramuzza_project", "scaramuzza_unproject"]

NEWTON_MAX_ITER = 20


def polyval(coeffs: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Ascending polynomial ``coeffs`` at ``t`` and its derivative (Horner)."""
    p = torch.zeros_like(t)
    dp = torch.zeros_like(t)
    for i in range(coeffs.shape[0] - 1, -1, -1):
        dp = dp * t + p
        p = p * t + coeffs[i]
    return p, dp


def _split(params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    n_poly, n_inv = int(params[5].item()), int(params[6].item())
    return params[7 : 7 + n_poly], params[7 + n_poly : 7 + n_poly + n_inv]


def scaramuzza_project(params: torch.Tensor, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixels ``(*, 2)`` (u = column, v = row) of camera-frame points ``(*, 3)`` and ``valid (*,)``."""
    cx, cy, c, d, e = (params[i] for i in range(5))
    poly, inv = _split(params)
    ok = finite_rows(points)
    ok = ok & ~((points[..., 0] == 0) & (points[..., 1] == 0) & ~(points[..., 2] > 0))
    p = sanitize(points, ok, (0.0, 0.0, 1.0))
    p = p / p.abs().amax(dim=-1, keepdim=True)
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    norm2 = x * x + y * y
    norm = safe_sqrt(norm2)
    on_axis = norm2 == 0
    d2 = norm2 + z * z
    if inv.shape[0] > 0:
        theta = torch.atan2(-z, norm)
        rho, drho_dtheta = polyval(inv, theta)
        drho_dnorm = drho_dtheta * z / d2
    else:
        tol = newton_tolerance(points.dtype)
        with torch.no_grad():
            pd, nd, zd = poly.detach(), norm.detach(), z.detach()
            a0 = pd[0].abs() if pd.shape[0] else torch.zeros((), dtype=z.dtype)
            r = a0 * torch.atan2(nd, zd)
            for _ in range(NEWTON_MAX_ITER):
                pv, dpv = polyval(pd, r)
                r = r - (pv * nd + zd * r) / (dpv * nd + zd)
            conv = torch.isfinite(r)
            r = torch.where(conv, r, torch.zeros_like(r))
        pv, dpv = polyval(poly, r)
        fp = dpv * norm + z
        rho = r - safe_div(pv * norm + z * r, fp)
        with torch.no_grad():
            pv2, dpv2 = polyval(poly.detach(), rho.detach())
            fp2 = dpv2 * nd + zd
            scale = pv2.abs() * nd + zd.abs() * rho.detach().abs() + 1e-300
            conv = conv & ((pv2 * nd + zd * rho.detach()).abs() <= tol * scale) & torch.isfinite(fp2) & (fp2 != 0)
        ok = ok & conv
        pv, dpv = polyval(poly, rho)
        drho_dnorm = safe_div(-pv, dpv * norm + z)
    ok = ok & torch.isfinite(rho) & (on_axis | (rho >= 0))
    s = torch.where(on_axis, drho_dnorm, safe_div(rho, torch.where(on_axis, torch.ones_like(norm), norm)))
    qx, qy = x * s, y * s
    uv = torch.stack([qx + e * qy + cx, d * qx + c * qy + cy], dim=-1)
    return uv, ok & finite_rows(uv)


def scaramuzza_unproject(params: torch.Tensor, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit rays ``(*, 3)`` of pixels ``(*, 2)`` by ``cam2world``, and ``valid (*,)``."""
    cx, cy, c, d, e = (params[i] for i in range(5))
    poly, _inv = _split(params)
    ok = finite_rows(pixels)
    px = sanitize(pixels, ok, (0.0, 0.0))
    inv_det = 1 / (c - d * e)
    dc = px[..., 0] - cx
    dr = px[..., 1] - cy
    xo = inv_det * (dr - d * dc)  # along the rows
    yo = inv_det * (c * dc - e * dr)  # along the columns
    rho = safe_sqrt(xo * xo + yo * yo)
    zo = polyval(poly, rho)[0] if poly.shape[0] else torch.zeros_like(rho)
    ray = torch.stack([yo, xo, -zo], dim=-1)
    n2 = (ray * ray).sum(dim=-1)
    ok = ok & (n2 > 0) & torch.isfinite(n2)
    ray = sanitize(ray, ok, (0.0, 0.0, 1.0))
    return ray / torch.linalg.vector_norm(ray, dim=-1, keepdim=True), ok
