"""A ceiling camera: its fisheye model, its mounting, and the floor geometry.

World frame: the floor is ``z = 0``, ``z`` up (metres). A ceiling camera is a sensor whose
calibration has a fisheye-family camera model (:data:`FISHEYE_MODELS`) and a
``world_from_sensor`` that puts it above the floor looking down (see
:class:`sensorfusion.schema.CeilingMount`). :meth:`OverheadCamera.from_calibration` checks
both and raises a :class:`~sensorfusion.ConfigError` naming the field when either is missing.

Floor geometry: a pixel is unprojected through the camera model to a unit ray, rotated into
the world, and intersected with the horizontal plane ``z = z_m`` (:meth:`floor_points`). For
a camera looking straight down from height ``H`` a point at horizontal distance ``d`` and
height ``z`` is seen at ``θ = atan(d / (H - z))`` from the nadir, so the higher end of a
standing person (the head) is farther from the image centre than the feet: in an overhead
fisheye image people point *outward*, feet toward the centre. The radial directions meet at
the image of the nadir (:attr:`nadir_px`; the principal point when the camera is not tilted).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from sensorfusion import ConfigError, RigCalibration
from sensorfusion.geometry import Camera, project, unproject
from sensorfusion.schema import CeilingMount

__all__ = ["FISHEYE_MODELS", "OverheadCamera"]

_BIG = 20_000  # batches this large go to the Numba CPU tier (small ones stay on numpy: no thread start-up)


def _tier(n: int) -> str:
    return "cpu" if n >= _BIG else "numpy"


FISHEYE_MODELS: tuple[str, ...] = CeilingMount.lens_models
"""Camera models accepted for ceiling cameras (Kannala–Brandt, Scaramuzza, double sphere, Fisheye624)."""


@dataclass(frozen=True)
class OverheadCamera:
    """A calibrated ceiling camera.

    Attributes:
        sensor_id: the sensor's id.
        camera: its camera model.
        world_from_camera: ``(4, 4)`` pose.
        mount: the pose as height, position, yaw and tilt.
        image_circle_px: ``(u, v, radius)`` of the valid image circle.
        max_angle_rad: rays farther than this from the optical axis are outside the lens' view.
    """

    sensor_id: str
    camera: Camera
    world_from_camera: np.ndarray
    mount: CeilingMount
    image_circle_px: tuple[float, float, float]
    max_angle_rad: float

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def from_calibration(
        cls,
        calibration: RigCalibration,
        sensor_id: str,
        *,
        require_fisheye: bool = True,
        fov_deg: float | None = None,
        image_circle_radius_px: float | None = None,
    ) -> OverheadCamera:
        """The ceiling camera ``sensor_id`` of a rig calibration.

        Raises :class:`~sensorfusion.ConfigError` naming ``calibration.sensors.<id>.camera``
        when the sensor has no camera model (or, with ``require_fisheye``, a model that is not a
        fisheye: pinhole lenses do not see a room from its ceiling), and
        ``calibration.sensors.<id>.world_from_sensor`` when its pose does not put it above the
        floor looking down (a camera declared without its height or pose keeps the identity
        pose, which is at floor level looking sideways).
        """
        cal = calibration.sensors.get(sensor_id)
        if cal is None or cal.camera is None:
            raise ConfigError(
                f"ceiling camera {sensor_id!r} has no camera model in the calibration",
                field_path=f"calibration.sensors.{sensor_id}.camera",
                choices=sorted(k for k, v in calibration.sensors.items() if v.camera is not None),
            )
        model = cal.camera.model
        if require_fisheye and model not in FISHEYE_MODELS:
            raise ConfigError(
                f"ceiling camera {sensor_id!r} needs a fisheye camera model, its calibration has {model!r}",
                field_path=f"calibration.sensors.{sensor_id}.camera.model",
                value=model,
                choices=list(FISHEYE_MODELS),
            )
        try:
            mount = CeilingMount.from_pose(cal.world_from_sensor)
        except ValueError as exc:
            raise ConfigError(
                f"ceiling camera {sensor_id!r} has no mounting: {exc}; declare its height and pose "
                "(world_from_sensor in the calibration, or the driver's `ceiling:` block)",
                field_path=f"calibration.sensors.{sensor_id}.world_from_sensor",
            ) from None
        if mount.tilt_rad > math.radians(60.0):
            raise ConfigError(
                f"ceiling camera {sensor_id!r} looks {math.degrees(mount.tilt_rad):.0f}° away from the nadir; "
                "an overhead camera must look down (tilt below 60°)",
                field_path=f"calibration.sensors.{sensor_id}.world_from_sensor",
            )
        camera = cal.camera
        cx, cy = _principal_point(camera)
        if image_circle_radius_px is None:
            image_circle_radius_px = min(cx + 0.5, cy + 0.5, camera.width - 0.5 - cx, camera.height - 0.5 - cy)
        max_angle = math.radians(fov_deg) / 2.0 if fov_deg is not None else math.pi
        return cls(
            sensor_id=sensor_id,
            camera=camera,
            world_from_camera=cal.world_from_sensor.matrix,
            mount=mount,
            image_circle_px=(cx, cy, float(image_circle_radius_px)),
            max_angle_rad=max_angle,
        )

    # -- geometry -------------------------------------------------------------------------------

    @property
    def height_m(self) -> float:
        return self.mount.height_m

    @property
    def centre_m(self) -> np.ndarray:
        """The camera centre in the world ``(3,)``."""
        return self.world_from_camera[:3, 3].copy()

    @functools.cached_property
    def nadir_px(self) -> np.ndarray:
        """Pixel ``(2,)`` of the point straight below the camera (where every vertical converges)."""
        below = self.centre_m - np.array([0.0, 0.0, 1.0])
        out: np.ndarray = self.world_to_pixels(below[None])[0]
        return out

    def rays_camera(self, pixels: np.ndarray) -> np.ndarray:
        """Unit rays ``(N, 3)`` in the camera frame of pixels ``(N, 2)`` (NaN where the model has none)."""
        px = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
        out: np.ndarray = unproject(self.camera, px, tier=_tier(len(px)))
        return out

    def floor_from_rays(self, rays_world: np.ndarray, z_m: float | np.ndarray = 0.0) -> np.ndarray:
        """World ``(x, y)`` ``(N, 2)`` where world rays from the camera meet the plane ``z = z_m`` (NaN if never)."""
        rays = np.asarray(rays_world, dtype=np.float64).reshape(-1, 3)
        c = self.centre_m
        z = np.broadcast_to(np.asarray(z_m, dtype=np.float64), (rays.shape[0],))
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (z - c[2]) / rays[:, 2]
        ok = np.isfinite(t) & (t > 0)
        out: np.ndarray = c[:2] + np.where(ok, t, np.nan)[:, None] * rays[:, :2]
        return out

    def rays_world(self, pixels: np.ndarray) -> np.ndarray:
        """Unit rays ``(N, 3)`` in the world of pixels ``(N, 2)`` (NaN where the model has none)."""
        px = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
        rays = unproject(self.camera, px, tier=_tier(len(px)))
        out: np.ndarray = rays @ self.world_from_camera[:3, :3].T
        return out

    def angle_from_axis_rad(self, pixels: np.ndarray) -> np.ndarray:
        """Angle ``(N,)`` between each pixel's ray and the optical axis (NaN where invalid)."""
        px = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
        rays = unproject(self.camera, px, tier=_tier(len(px)))
        out: np.ndarray = np.arccos(np.clip(rays[:, 2], -1.0, 1.0))
        return out

    def floor_points(self, pixels: np.ndarray, z_m: float | np.ndarray = 0.0) -> np.ndarray:
        """World ``(x, y)`` ``(N, 2)`` where each pixel's ray meets the plane ``z = z_m``.

        NaN where the pixel has no ray or the ray does not go down to that plane (the
        horizon and above, or a plane at or above the camera).
        """
        return self.floor_from_rays(self.rays_world(pixels), z_m)

    def world_to_pixels(self, points_world: np.ndarray) -> np.ndarray:
        """Pixels ``(N, 2)`` of world points ``(N, 3)`` (NaN where the model cannot image them)."""
        p = np.asarray(points_world, dtype=np.float64).reshape(-1, 3)
        r = self.world_from_camera[:3, :3]
        pc = (p - self.world_from_camera[:3, 3]) @ r
        out: np.ndarray = project(self.camera, pc, tier=_tier(len(pc)))
        return out

    def floor_to_pixels(self, xy_m: np.ndarray, z_m: float | np.ndarray = 0.0) -> np.ndarray:
        """Pixels ``(N, 2)`` of floor-plan points ``(N, 2)`` at height ``z_m``."""
        xy = np.asarray(xy_m, dtype=np.float64).reshape(-1, 2)
        z = np.broadcast_to(np.asarray(z_m, dtype=np.float64), (xy.shape[0],))
        return self.world_to_pixels(np.column_stack([xy, z]))

    def inside_image_circle(self, pixels: np.ndarray, *, rays_camera: np.ndarray | None = None) -> np.ndarray:
        """Mask ``(N,)``: inside the image, the image circle and the lens' field of view, with a ray.

        ``rays_camera``: the pixels' camera-frame rays when already computed (saves an unprojection).
        """
        px = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
        cx, cy, radius = self.image_circle_px
        w, h = self.camera.width, self.camera.height
        ok = np.all(np.isfinite(px), axis=1)
        with np.errstate(invalid="ignore"):
            ok &= (px[:, 0] >= -0.5) & (px[:, 0] <= w - 0.5) & (px[:, 1] >= -0.5) & (px[:, 1] <= h - 0.5)
            ok &= np.hypot(px[:, 0] - cx, px[:, 1] - cy) <= radius
            rays = self.rays_camera(np.where(ok[:, None], px, cx)) if rays_camera is None else rays_camera
            ang = np.arccos(np.clip(rays[:, 2], -1.0, 1.0))
            ok &= np.isfinite(ang) & (ang <= self.max_angle_rad)
        return np.asarray(ok)


def _principal_point(camera: Camera) -> tuple[float, float]:
    return float(camera.cx), float(camera.cy)
