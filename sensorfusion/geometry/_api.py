"""Public camera-model functions: shape checks, parameter packing and tier dispatch.

Every function is batched over leading dimensions ``*`` and works in float64. ``tier`` is
``"auto"`` (CUDA on a real GPU, else the Numba CPU tier; ``$SENSORFUSION_KERNEL_TIER``
overrides), ``"numpy"``, ``"cpu"`` or ``"cuda"``; an unknown or unavailable tier is a
:class:`sensorfusion.ConfigError` naming the valid choices.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._errors import ConfigError
from ..kernels import get_kernel
from ..schema._calibration import (
    DoubleSphereCamera,
    Fisheye624Camera,
    KannalaBrandtCamera,
    OmnidirectionalCamera,
    PinholeCamera,
    Transform,
)

# importing a model module registers its kernels in every tier
from . import _double_sphere, _fisheye624, _kannala_brandt, _omnidirectional, _pinhole  # noqa: F401
from ._params import PARAM_LAYOUTS, camera_params
from ._shapes import as_points
from ._transforms import as_matrix, invert_rigid, transform_points

__all__ = ["Camera", "project", "project_with_jacobian", "undistort_points", "unproject", "world_to_pixels"]

Camera = PinholeCamera | KannalaBrandtCamera | OmnidirectionalCamera | DoubleSphereCamera | Fisheye624Camera


def _kernel(camera: Any, op: str, tier: str) -> tuple[Any, np.ndarray]:
    model = getattr(camera, "model", None)
    if model not in PARAM_LAYOUTS:
        raise ConfigError(
            f"not a camera model: {type(camera).__name__}",
            field_path="camera.model",
            value=model,
            choices=sorted(PARAM_LAYOUTS),
        )
    return get_kernel(f"geometry.{model}.{op}", tier), camera_params(camera)


def project(camera: Camera, points_camera: np.ndarray, *, tier: str = "auto") -> np.ndarray:
    """Pixels ``(*, N, 2)`` of camera-frame points ``(*, N, 3)`` (metres, x right, y down, z forward).

    Points the model cannot image (behind a pinhole, outside a double-sphere's valid region,
    non-finite) give NaN.
    """
    fn, params = _kernel(camera, "project", tier)
    pts = as_points("points_camera", points_camera, 3)
    out: np.ndarray = fn(params, pts.reshape(-1, 3))
    return out.reshape(*pts.shape[:-1], 2)


def project_with_jacobian(
    camera: Camera, points_camera: np.ndarray, *, tier: str = "auto"
) -> tuple[np.ndarray, np.ndarray]:
    """Pixels ``(*, N, 2)`` and d(pixel)/d(point_camera) ``(*, N, 2, 3)`` (NaN where invalid)."""
    fn, params = _kernel(camera, "project_jacobian", tier)
    pts = as_points("points_camera", points_camera, 3)
    uv, jac = fn(params, pts.reshape(-1, 3))
    return uv.reshape(*pts.shape[:-1], 2), jac.reshape(*pts.shape[:-1], 2, 3)


def unproject(camera: Camera, pixels: np.ndarray, *, tier: str = "auto") -> np.ndarray:
    """Unit rays ``(*, N, 3)`` in the camera frame of pixels ``(*, N, 2)`` (NaN where invalid)."""
    fn, params = _kernel(camera, "unproject", tier)
    px = as_points("pixels", pixels, 2)
    out: np.ndarray = fn(params, px.reshape(-1, 2))
    return out.reshape(*px.shape[:-1], 3)


def undistort_points(camera: Camera, pixels: np.ndarray, *, tier: str = "auto") -> np.ndarray:
    """Ideal normalized coordinates ``(x/z, y/z)`` ``(*, N, 2)`` of pixels ``(*, N, 2)``.

    NaN where the ray has ``z <= 0`` (wide fisheye / omnidirectional pixels) or where the
    inversion does not converge.
    """
    fn, params = _kernel(camera, "undistort_points", tier)
    px = as_points("pixels", pixels, 2)
    out: np.ndarray = fn(params, px.reshape(-1, 2))
    return out.reshape(*px.shape[:-1], 2)


def world_to_pixels(
    camera: Camera, world_from_camera: Transform | np.ndarray, points_world: np.ndarray, *, tier: str = "auto"
) -> np.ndarray:
    """Pixels ``(*, N, 2)`` of world points ``(*, N, 3)`` seen by a camera at ``world_from_camera``
    (a :class:`Transform`, a ``(4, 4)`` matrix, or ``(*, 4, 4)`` broadcasting over ``*``)."""
    camera_from_world = invert_rigid(as_matrix("world_from_camera", world_from_camera))
    return project(camera, transform_points(camera_from_world, points_world), tier=tier)
