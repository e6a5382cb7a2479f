"""Undistortion of pinhole + Brown–Conrady pixels (numpy reference, iterative)."""

from __future__ import annotations

import numpy as np

from ..schema._calibration import PinholeCamera
from ._pinhole import distort_normalized

__all__ = ["undistort_pixels"]


def undistort_pixels(uv: np.ndarray, cam: PinholeCamera, *, iterations: int = 20) -> np.ndarray:
    """Map distorted pixels ``(*, 2)`` to the pixels an ideal pinhole with the same K would see.

    Fixed-point iteration on the normalized coordinates (as OpenCV's ``undistortPoints``);
    exact when the camera has no distortion. NaN stays NaN.
    """
    uv = np.asarray(uv, dtype=np.float64)
    xd = np.stack([(uv[..., 0] - cam.cx) / cam.fx, (uv[..., 1] - cam.cy) / cam.fy], axis=-1)
    if not np.any(cam.dist_coeffs):
        return uv.copy()
    x = xd.copy()
    for _ in range(iterations):
        d = distort_normalized(x, cam)
        x = x + (xd - d)
    return np.stack([x[..., 0] * cam.fx + cam.cx, x[..., 1] * cam.fy + cam.cy], axis=-1)
