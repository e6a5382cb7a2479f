"""The simulated camera rig: calibrated pinhole cameras around the room looking at its centre."""

from __future__ import annotations

import math

import numpy as np

from sensorfusion.geometry import look_at
from sensorfusion.schema import PinholeCamera, RigCalibration, SensorCalibration

__all__ = ["camera_ids", "make_rig"]


def camera_ids(cameras: int) -> list[str]:
    """Sensor ids of the simulated cameras: ``cam0 .. cam{M-1}``."""
    return [f"cam{i}" for i in range(cameras)]


def make_rig(
    cameras: int = 4,
    *,
    width: int = 640,
    height: int = 480,
    hfov_rad: float = math.radians(80.0),
    camera_height_m: float = 2.5,
    room_m: tuple[float, float] = (6.0, 6.0),
    target_height_m: float = 1.0,
    inset_m: float = 0.15,
    k1: float = 0.0,
    k2: float = 0.0,
) -> RigCalibration:
    """Cameras evenly spaced in angle around the room centre (the first one towards the
    ``(-x, -y)`` corner, so four cameras sit in the four corners), ``inset_m`` inside the
    walls at ``camera_height_m``, each looking at ``(0, 0, target_height_m)``.

    ``hfov_rad`` is the horizontal field of view of the ideal pinhole (square pixels,
    principal point at the image centre); ``k1``/``k2`` add Brown–Conrady radial distortion.
    """
    if cameras < 1:
        raise ValueError(f"cameras must be >= 1, got {cameras}")
    if not 0.0 < hfov_rad < math.pi:
        raise ValueError(f"hfov_rad must be in (0, pi), got {hfov_rad}")
    fx = (width / 2.0) / math.tan(hfov_rad / 2.0)
    hx, hy = room_m[0] / 2.0 - inset_m, room_m[1] / 2.0 - inset_m
    sensors: dict[str, SensorCalibration] = {}
    for i, sid in enumerate(camera_ids(cameras)):
        angle = -0.75 * math.pi + 2.0 * math.pi * i / cameras
        c, s = math.cos(angle), math.sin(angle)
        # where the ray from the centre along `angle` meets the inset rectangle
        reach = min(hx / abs(c) if abs(c) > 1e-12 else math.inf, hy / abs(s) if abs(s) > 1e-12 else math.inf)
        eye = np.array([reach * c, reach * s, camera_height_m])
        world_from_sensor = look_at(eye, np.array([0.0, 0.0, target_height_m]))
        cam = PinholeCamera(width=width, height=height, fx=fx, fy=fx, cx=width / 2.0, cy=height / 2.0, k1=k1, k2=k2)
        sensors[sid] = SensorCalibration(camera=cam, world_from_sensor=world_from_sensor)
    return RigCalibration(sensors=sensors)
