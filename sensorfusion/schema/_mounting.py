"""How a ceiling camera is mounted: height above the floor, position, yaw and tilt.

The world frame has its floor at ``z = 0`` and ``z`` up (as the simulated room). A ceiling
camera with no tilt looks straight down: its optical axis (camera ``z``) is world ``-z``,
its image ``x`` axis points along world ``(cos yaw, sin yaw, 0)`` and its image ``y`` axis
along ``(sin yaw, -cos yaw, 0)`` (OpenCV camera axes, a right-handed frame). A tilt of
``tilt_rad`` leans the optical axis away from the nadir toward the world azimuth
``tilt_azimuth_rad`` (rotation about the horizontal axis perpendicular to that azimuth).

:meth:`CeilingMount.world_from_sensor` builds the pose, :meth:`CeilingMount.from_pose`
recovers the mount from any downward-looking ``world_from_sensor``.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ._calibration import Transform

__all__ = ["CeilingMount"]


def _rotvec_matrix(rotvec: np.ndarray) -> np.ndarray:
    """Rodrigues: the rotation matrix of an axis-angle vector (radians)."""
    angle = float(np.linalg.norm(rotvec))
    if angle < 1e-15:
        return np.eye(3)
    k = rotvec / angle
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    out: np.ndarray = np.eye(3) + math.sin(angle) * kx + (1.0 - math.cos(angle)) * (kx @ kx)
    return out


class CeilingMount(BaseModel):
    """A camera on the ceiling: where it is and how it looks down (metres, radians).

    Attributes:
        height_m: height of the camera's centre above the floor (``z = 0``).
        position_m: ``(x, y)`` of the camera on the floor plan.
        yaw_rad: rotation of the image about the vertical: image ``x`` along ``(cos, sin)`` of it.
        tilt_rad: angle between the optical axis and the nadir (0: straight down).
        tilt_azimuth_rad: world azimuth toward which the optical axis leans.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    lens_models: ClassVar[tuple[str, ...]] = ("kannala_brandt", "scaramuzza", "double_sphere", "fisheye624")
    """Camera models a ceiling camera may have: wide-angle lenses that see the room from its ceiling."""

    height_m: float = Field(gt=0, description="height of the camera above the floor (z = 0)")
    position_m: tuple[float, float] = Field(default=(0.0, 0.0), description="(x, y) of the camera on the floor plan")
    yaw_rad: float = Field(default=0.0, description="image x axis along world (cos yaw, sin yaw, 0)")
    tilt_rad: float = Field(default=0.0, ge=0.0, lt=math.pi / 2, description="optical axis angle from the nadir")
    tilt_azimuth_rad: float = Field(default=0.0, description="world azimuth toward which the optical axis leans")

    def rotation(self) -> np.ndarray:
        """``world_from_sensor`` rotation ``(3, 3)``: columns are the camera axes in the world."""
        c, s = math.cos(self.yaw_rad), math.sin(self.yaw_rad)
        down = np.array([[c, s, 0.0], [s, -c, 0.0], [0.0, 0.0, -1.0]])  # columns x_c, y_c, z_c
        a = self.tilt_azimuth_rad
        tilt = _rotvec_matrix(self.tilt_rad * np.array([math.sin(a), -math.cos(a), 0.0]))
        out: np.ndarray = tilt @ down
        return out

    def world_from_sensor(self) -> Transform:
        """The camera pose as a :class:`Transform`."""
        m = np.eye(4)
        m[:3, :3] = self.rotation()
        m[:3, 3] = (self.position_m[0], self.position_m[1], self.height_m)
        return Transform.from_matrix(m)

    @classmethod
    def from_pose(cls, world_from_sensor: Transform | np.ndarray) -> CeilingMount:
        """The mount of a camera at ``world_from_sensor`` (a :class:`Transform` or a 4x4 matrix).

        Raises ``ValueError`` when the camera is not above the floor or its optical axis
        does not point below the horizon.
        """
        m = world_from_sensor.matrix if isinstance(world_from_sensor, Transform) else np.asarray(world_from_sensor)
        r, t = m[:3, :3], m[:3, 3]
        if not t[2] > 0:
            raise ValueError(f"the camera is not above the floor (height {t[2]:.3f} m)")
        axis = r[:, 2]
        if not axis[2] < 0:
            raise ValueError(f"the camera does not look down (optical axis {np.round(axis, 3).tolist()} in the world)")
        tilt = math.acos(min(1.0, -float(axis[2])))
        azimuth = math.atan2(float(axis[1]), float(axis[0])) if tilt > 1e-12 else 0.0
        undo = _rotvec_matrix(-tilt * np.array([math.sin(azimuth), -math.cos(azimuth), 0.0]))
        x_c = (undo @ r)[:, 0]
        return cls(
            height_m=float(t[2]),
            position_m=(float(t[0]), float(t[1])),
            yaw_rad=math.atan2(float(x_c[1]), float(x_c[0])),
            tilt_rad=tilt,
            tilt_azimuth_rad=azimuth,
        )
