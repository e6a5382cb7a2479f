"""Per-view numpy geometry for the SDK's triangulation kernels, from the public core API only.

Triangulation (``sensorfusion.fusion.triangulate_points``) works on undistorted pixels and a
``3x4`` matrix per view. A pinhole camera is undistorted to the pixels of the same ``K``
(``sensorfusion.geometry.undistort_pixels``); any other model to ideal normalized
coordinates (``sensorfusion.geometry.undistort_points``) scaled by a virtual focal length
(``fx``, 500 px when the model has none), so pixel thresholds keep their meaning — the
same convention as the core's fusion stages. ``undistort`` and ``P`` are the attributes
``sensorfusion.fusion.PersonFusion`` reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sensorfusion import ConfigError, RigCalibration, Transform
from sensorfusion.geometry import projection_matrix, undistort_pixels, undistort_points
from sensorfusion.schema import PinholeCamera

__all__ = ["ViewGeometry", "view_geometries"]


@dataclass(frozen=True)
class ViewGeometry:
    """One calibrated view: its camera model and ``world_from_camera``, ``undistort(uv (*, 2)) ->
    (*, 2)`` ideal pixels, the ``P (3, 4)`` projecting world points to them, and ``focal_px``."""

    sensor: str
    camera: Any
    world_from_camera: Transform
    P: np.ndarray
    focal_px: float

    def undistort(self, uv: np.ndarray) -> np.ndarray:
        uv = np.asarray(uv, dtype=np.float64)
        if isinstance(self.camera, PinholeCamera):
            return undistort_pixels(uv, self.camera)
        flat = uv.reshape(-1, 2)
        if flat.shape[0] == 0:
            return uv.copy()
        xy = undistort_points(self.camera, flat)
        return np.asarray(self.focal_px * xy).reshape(uv.shape)


def view_geometries(calibration: RigCalibration, sensors: Sequence[str]) -> list[ViewGeometry]:
    """The :class:`ViewGeometry` of each sensor (a :class:`ConfigError` names a missing camera)."""
    out = []
    for s in sensors:
        cam = calibration.camera(s)
        pose = calibration.sensors[s].world_from_sensor
        if isinstance(cam, PinholeCamera):
            out.append(ViewGeometry(s, cam, pose, projection_matrix(cam, pose), float(cam.fx)))
            continue
        f = float(getattr(cam, "fx", 500.0) or 500.0)
        K = np.array([[f, 0.0, 0.0], [0.0, f, 0.0], [0.0, 0.0, 1.0]])
        P = K @ np.linalg.inv(pose.matrix)[:3, :]
        g = ViewGeometry(s, cam, pose, P, f)
        try:
            g.undistort(np.zeros((1, 2)))
        except Exception as e:
            raise ConfigError(
                f"cannot undistort {cam.model} pixels: {e}",
                field_path=f"calibration.sensors.{s}.camera.model",
                value=cam.model,
            ) from e
        out.append(g)
    return out
