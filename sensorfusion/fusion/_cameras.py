"""Turn any calibrated camera into "ideal pinhole pixels + a 3x4 projection matrix".

Triangulation works on undistorted pixels. A pinhole camera (Brown–Conrady) is undistorted to
the pixels of the same ``K`` without distortion. Any other model (Kannala–Brandt,
omnidirectional, double sphere, Fisheye624) is undistorted to ideal normalized coordinates with
``sensorfusion.geometry.undistort_points`` and re-projected through a virtual pinhole with the camera's focal length (``fx``, Fisheye624's ``f``; 500 px
when the model has none), so pixel thresholds keep their meaning. Rays at or behind the image plane become NaN.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._errors import ConfigError
from ..geometry._pinhole import projection_matrix, undistort_pixels
from ..schema._calibration import PinholeCamera, Transform

__all__ = ["ViewModel", "view_model"]


@dataclass(frozen=True)
class ViewModel:
    """``undistort(uv (*, 2)) -> (*, 2)`` ideal pixels and the ``P (3, 4)`` that projects to them."""

    undistort: Callable[[np.ndarray], np.ndarray]
    P: np.ndarray


def view_model(cam: object, world_from_camera: Transform, *, field_path: str = "calibration") -> ViewModel:
    if isinstance(cam, PinholeCamera):
        return ViewModel(
            lambda uv: undistort_pixels(np.asarray(uv, dtype=np.float64), cam),
            projection_matrix(cam, world_from_camera),
        )
    from ..geometry import undistort_points

    model = getattr(cam, "model", type(cam).__name__)
    f = float(getattr(cam, "fx", 500.0) or 500.0)
    K = np.array([[f, 0.0, 0.0], [0.0, f, 0.0], [0.0, 0.0, 1.0]])
    m = np.linalg.inv(world_from_camera.matrix)
    P = K @ m[:3, :]

    def undistort(uv: np.ndarray) -> np.ndarray:
        uv = np.asarray(uv, dtype=np.float64)
        flat = uv.reshape(-1, 2)
        xy = undistort_points(cam, flat)  # type: ignore[arg-type]  # ideal x/z, y/z; NaN behind
        return np.asarray(f * xy).reshape(uv.shape)

    try:
        undistort(np.zeros((1, 2)))
    except Exception as e:
        raise ConfigError(f"cannot undistort {model} pixels: {e}", field_path=field_path, value=model) from e
    return ViewModel(undistort, P)
