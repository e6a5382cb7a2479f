"""Projection of a headset camera in torch, for the learned model's refinement layers.

The differentiable camera models of ``sensorfusion-selfsup`` (``sensorfusion_selfsup.camera``:
pinhole, Kannala–Brandt, double sphere, Scaramuzza, Fisheye624) are used as they are, in the
core's parameter layouts (:func:`sensorfusion.geometry.camera_params`). Every projection returns
``(pixels (*, 2), valid (*,))`` with finite values everywhere.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import torch

from sensorfusion import ConfigError
from sensorfusion.geometry import camera_params

__all__ = ["Projection", "camera_param_tensor", "projection_for"]

Projection = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def projection_for(model: str) -> Projection:
    """The torch projection of a schema camera model name."""
    try:
        models = importlib.import_module("sensorfusion_selfsup.camera").CAMERA_MODELS
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ConfigError(
            "the learned egocentric model needs sensorfusion-selfsup (pip install sensorfusion-selfsup)"
        ) from exc
    if model not in models:
        raise ConfigError("no torch projection for this camera model", value=model, choices=sorted(models))
    fn: Projection = models[model].project
    return fn


def camera_param_tensor(camera: Any, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A schema camera's flat parameters (the core's layout) as a tensor."""
    return torch.as_tensor(camera_params(camera), dtype=dtype)
