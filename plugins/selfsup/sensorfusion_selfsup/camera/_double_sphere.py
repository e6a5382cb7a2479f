"""Double sphere camera model (Usenko, Demmel, Cremers 2018) in torch.

Parameters ``[fx, fy, cx, cy, xi, alpha]``. ``d1 = ‖p‖``, ``z2 = ξ d1 + z``,
``d2 = ‖(x, y, z2)‖``, ``den = α d2 + (1 - α) z2``, ``u = fx x/den + cx``. Valid where
``z > -w2 d1`` (``w2`` from ξ and α as in the paper) and ``den > 0``. Both directions are
closed form; the optical axis is a smooth point of both.
"""

from __future__ import annotations

import torch

from ._safe import finite_rows, safe_div, safe_sqrt, sanitize

__all__ = ["ds_project", "ds_unproject"]


def ds_project(params: torch.Tensor, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixels ``(*, 2)`` of camera-frame points ``(*, 3)`` and ``valid (*,)``."""
    fx, fy, cx, cy, xi, alpha = (params[i] for i in range(6))
    ok = finite_rows(points) & (points != 0).any(dim=-1)
    p = sanitize(points, ok, (0.0, 0.0, 1.0))
    p = p / p.abs().amax(dim=-1, keepdim=True)
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    w1 = torch.where(alpha <= 0.5, safe_div(alpha, 1 - alpha), safe_div(1 - alpha, alpha))
    w2 = (w1 + xi) / torch.sqrt(2 * w1 * xi + xi * xi + 1)
    d1 = safe_sqrt(x * x + y * y + z * z)
    ok = ok & (z > -w2 * d1)
    z2 = xi * d1 + z
    d2 = safe_sqrt(x * x + y * y + z2 * z2)
    den = alpha * d2 + (1 - alpha) * z2
    ok = ok & (den > 0)
    uv = torch.stack([fx * safe_div(x, den) + cx, fy * safe_div(y, den) + cy], dim=-1)
    return uv, ok & finite_rows(uv)


def ds_unproject(params: torch.Tensor, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit rays ``(*, 3)`` of pixels ``(*, 2)`` and ``valid (*,)`` (closed form)."""
    fx, fy, cx, cy, xi, alpha = (params[i] for i in range(6))
    ok = finite_rows(pixels)
    px = sanitize(pixels, ok, (0.0, 0.0))
    mx = (px[..., 0] - cx) / fx
    my = (px[..., 1] - cy) / fy
    r2 = mx * mx + my * my
    q = 1 - (2 * alpha - 1) * r2
    ok = ok & (q >= 0)
    mz = safe_div(1 - alpha * alpha * r2, alpha * safe_sqrt(q) + 1 - alpha)
    disc = mz * mz + (1 - xi * xi) * r2
    ok = ok & (disc >= 0)
    k = safe_div(mz * xi + safe_sqrt(disc), mz * mz + r2)
    ray = torch.stack([k * mx, k * my, k * mz - xi], dim=-1)
    n2 = (ray * ray).sum(dim=-1)
    ok = ok & (n2 > 0) & torch.isfinite(n2)
    ray = sanitize(ray, ok, (0.0, 0.0, 1.0))
    return ray / torch.linalg.vector_norm(ray, dim=-1, keepdim=True), ok
