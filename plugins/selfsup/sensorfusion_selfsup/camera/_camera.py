"""``TorchCamera``: one calibrated camera model as torch tensors, and the model registry.

Every operation returns ``(values, valid)``: values are finite everywhere (rows where
``valid`` is False hold placeholders), so a loss masked with ``torch.where(valid, ...)`` never
sees NaN in its forward or backward pass. :func:`nan_where_invalid` gives the core's
NaN-for-invalid convention back when you want to compare or report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from sensorfusion import ConfigError
from sensorfusion.geometry import camera_params

from ._double_sphere import ds_project, ds_unproject
from ._fisheye624 import f624_project, f624_unproject
from ._kannala_brandt import kb_project, kb_unproject
from ._pinhole import pinhole_project, pinhole_unproject
from ._scaramuzza import scaramuzza_project, scaramuzza_unproject

__all__ = ["CAMERA_MODELS", "CameraFunctions", "TorchCamera", "nan_where_invalid", "register_camera_model"]

ModelFn = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class CameraFunctions:
    """``project(params, points (*, 3)) -> (pixels (*, 2), valid)`` and
    ``unproject(params, pixels (*, 2)) -> (unit rays (*, 3), valid)`` of one model."""

    project: ModelFn
    unproject: ModelFn


CAMERA_MODELS: dict[str, CameraFunctions] = {
    "pinhole": CameraFunctions(pinhole_project, pinhole_unproject),
    "kannala_brandt": CameraFunctions(kb_project, kb_unproject),
    "double_sphere": CameraFunctions(ds_project, ds_unproject),
    "scaramuzza": CameraFunctions(scaramuzza_project, scaramuzza_unproject),
    "fisheye624": CameraFunctions(f624_project, f624_unproject),
}
"""The differentiable camera models by the schema's ``model`` name."""


def register_camera_model(name: str, functions: CameraFunctions) -> None:
    """Add a camera model (its parameters laid out as :func:`sensorfusion.geometry.camera_params` does)."""
    CAMERA_MODELS[name] = functions


def nan_where_invalid(values: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """``values`` with NaN in the rows where ``valid`` is False (for reports, not for losses)."""
    return torch.where(valid[..., None], values, torch.full_like(values, float("nan")))


@dataclass(frozen=True)
class TorchCamera:
    """A camera model with its flat parameter tensor (the core's layout).

    Build one with :meth:`from_schema`; ``params`` may require gradients (intrinsics
    refinement): every operation is differentiable in the points/pixels and the parameters.
    """

    model: str
    params: torch.Tensor
    width: int
    height: int

    @classmethod
    def from_schema(
        cls,
        camera: Any,
        *,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
        field_path: str = "camera",
    ) -> TorchCamera:
        """From a schema camera model (``PinholeCamera``, ``KannalaBrandtCamera``, ...)."""
        model = getattr(camera, "model", None)
        if model not in CAMERA_MODELS:
            raise ConfigError(
                f"no differentiable camera model for {type(camera).__name__}",
                field_path=f"{field_path}.model",
                value=model,
                choices=sorted(CAMERA_MODELS),
            )
        try:
            params = camera_params(camera)
        except ValueError as e:  # the core does not know the model's layout
            raise ConfigError(str(e), field_path=f"{field_path}.model", value=model) from e
        return cls(
            model=str(model),
            params=torch.as_tensor(params, dtype=dtype, device=device),
            width=int(camera.width),
            height=int(camera.height),
        )

    @property
    def functions(self) -> CameraFunctions:
        return CAMERA_MODELS[self.model]

    def to(self, dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> TorchCamera:
        return TorchCamera(self.model, self.params.to(dtype=dtype, device=device), self.width, self.height)

    def project(self, points_camera: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixels ``(*, 2)`` of camera-frame points ``(*, 3)`` (metres, OpenCV axes) and ``valid (*,)``."""
        _check(points_camera, 3, "points_camera")
        return self.functions.project(self.params.to(points_camera.dtype), points_camera)

    def unproject(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Unit rays ``(*, 3)`` in the camera frame of pixels ``(*, 2)`` and ``valid (*,)``."""
        _check(pixels, 2, "pixels")
        return self.functions.unproject(self.params.to(pixels.dtype), pixels)

    def undistort_points(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Ideal normalized ``(x/z, y/z)`` ``(*, 2)`` and ``valid`` (False also where the ray has ``z <= 0``)."""
        ray, ok = self.unproject(pixels)
        ok = ok & (ray[..., 2] > 0)
        z = torch.where(ok, ray[..., 2], torch.ones_like(ray[..., 2]))
        return ray[..., :2] / z[..., None], ok


def _check(x: torch.Tensor, last: int, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim < 1 or x.shape[-1] != last:
        from sensorfusion.geometry import ShapeError

        raise ShapeError(name, f"(*, {last})", tuple(x.shape))
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}")
