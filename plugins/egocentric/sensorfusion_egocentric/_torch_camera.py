"""Projection of a headset camera in torch, for the learned model's refinement layers.

The differentiable camera models of ``sensorfusion-selfsup`` (``sensorfusion_selfsup.camera``:
pinhole, Kannala–Brandt, double sphere, Scaramuzza) are used as they are. Fisheye624 is not among
them yet, so its forward projection (all this model needs) is written here from Aria's equations,
in the core's parameter layout ``[f, cu, cv, k0..k5, p0, p1, s0..s3]``.

Every projection returns ``(pixels (*, 2), valid (*,))`` with finite values everywhere.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import torch

from sensorfusion import ConfigError
from sensorfusion.geometry import camera_params

__all__ = ["Projection", "camera_param_tensor", "f624_project", "projection_for"]

Projection = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def f624_project(params: torch.Tensor, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Fisheye624 pixels of camera-frame points ``(*, 3)``: θ = atan2(r, z) (so points beside and
    behind the image plane map too), the radial polynomial up to θ¹³, tangential and thin-prism
    terms. Invalid for non-finite points and straight behind the camera."""
    f, cu, cv = params[0], params[1], params[2]
    k = [params[3 + i] for i in range(6)]
    p0, p1 = params[9], params[10]
    s0, s1, s2, s3 = params[11], params[12], params[13], params[14]
    finite = torch.isfinite(points).all(dim=-1)
    p = torch.where(
        finite[..., None], points, torch.zeros_like(points) + torch.tensor([0.0, 0.0, 1.0], dtype=points.dtype)
    )
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    r2 = x * x + y * y
    r = torch.sqrt(r2 + 1e-24)
    th = torch.atan2(r, z)
    t2 = th * th
    poly = 1 + t2 * (k[0] + t2 * (k[1] + t2 * (k[2] + t2 * (k[3] + t2 * (k[4] + t2 * k[5])))))
    scale = th * poly / r
    xr, yr = scale * x, scale * y
    rd2 = xr * xr + yr * yr
    u = xr + (2 * xr * xr + rd2) * p0 + 2 * xr * yr * p1 + s0 * rd2 + s1 * rd2 * rd2
    v = yr + (2 * yr * yr + rd2) * p1 + 2 * xr * yr * p0 + s2 * rd2 + s3 * rd2 * rd2
    uv = torch.stack([f * u + cu, f * v + cv], dim=-1)
    valid = finite & ~((r2 == 0) & ~(z > 0)) & torch.isfinite(uv).all(dim=-1)
    return torch.where(valid[..., None], uv, torch.zeros_like(uv)), valid


def projection_for(model: str) -> Projection:
    """The torch projection of a schema camera model name."""
    if model == "fisheye624":
        return f624_project
    try:
        CAMERA_MODELS = importlib.import_module("sensorfusion_selfsup.camera").CAMERA_MODELS
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ConfigError(
            "the learned egocentric model needs sensorfusion-selfsup (pip install sensorfusion-selfsup)"
        ) from exc
    if model not in CAMERA_MODELS:
        raise ConfigError(
            "no torch projection for this camera model", value=model, choices=[*CAMERA_MODELS, "fisheye624"]
        )
    fn: Projection = CAMERA_MODELS[model].project
    return fn


def camera_param_tensor(camera: Any, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A schema camera's flat parameters (the core's layout) as a tensor."""
    return torch.as_tensor(camera_params(camera), dtype=dtype)
