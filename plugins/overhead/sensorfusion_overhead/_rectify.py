"""Virtual perspective views of a fisheye image: where upright-person models can run.

A ceiling camera sees people lying radially in its image. A *virtual view* is an ideal
pinhole camera at the fisheye camera's centre, looking down at ``elevation_rad`` from the
nadir toward world azimuth ``azimuth_rad``, with its image "up" along world up, so the people
in it stand upright (:func:`virtual_views`). Its pixels are resampled from the fisheye image
through both models (:meth:`VirtualView.remap_maps`, for ``cv2.remap``), and anything found
in it maps back to the fisheye image ray by ray (:meth:`VirtualView.to_fisheye`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sensorfusion.geometry import project
from sensorfusion.schema import PinholeCamera, SensorCalibration, Transform

from ._camera import OverheadCamera

__all__ = ["VirtualView", "virtual_views"]


@dataclass(frozen=True)
class VirtualView:
    """One virtual pinhole view of a ceiling camera.

    Attributes:
        name: the view's sensor id (``<camera>_v<k>``).
        pinhole: its intrinsics (no distortion).
        fisheye_from_view: ``(3, 3)`` rotation from the view's frame to the fisheye camera's.
        world_from_view: the view's pose in the world (at the fisheye camera's centre).
    """

    name: str
    pinhole: PinholeCamera
    fisheye_from_view: np.ndarray
    world_from_view: Transform

    def rays_fisheye(self, pixels: np.ndarray) -> np.ndarray:
        """Unit rays ``(N, 3)`` in the fisheye camera's frame of view pixels ``(N, 2)``."""
        px = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
        p = self.pinhole
        v = np.column_stack([(px[:, 0] - p.cx) / p.fx, (px[:, 1] - p.cy) / p.fy, np.ones(len(px))])
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        out: np.ndarray = v @ self.fisheye_from_view.T
        return out

    def to_fisheye(self, camera: OverheadCamera, pixels: np.ndarray) -> np.ndarray:
        """Fisheye pixels ``(N, 2)`` of view pixels ``(N, 2)`` (NaN rows stay NaN)."""
        rays = self.rays_fisheye(pixels)
        return project(camera.camera, rays, tier="cpu" if len(rays) >= 20_000 else "numpy")

    def remap_maps(self, camera: OverheadCamera) -> tuple[np.ndarray, np.ndarray]:
        """``(map_x, map_y)`` float32 ``(h, w)`` of this view for ``cv2.remap`` on the fisheye image."""
        w, h = self.pinhole.width, self.pinhole.height
        v, u = np.mgrid[0:h, 0:w].astype(np.float64)
        fp = project(camera.camera, self.rays_fisheye(np.column_stack([u.ravel(), v.ravel()])), tier="cpu")
        inside = camera.inside_image_circle(fp)
        fp[~inside] = -1.0
        return fp[:, 0].reshape(h, w).astype(np.float32), fp[:, 1].reshape(h, w).astype(np.float32)

    def calibration(self) -> SensorCalibration:
        return SensorCalibration(camera=self.pinhole, world_from_sensor=self.world_from_view)


def _rotation(axis_w: np.ndarray, down_hint_w: np.ndarray) -> np.ndarray:
    """Columns x, y, z (world) of a camera looking along ``axis_w`` with image y toward ``down_hint_w``."""
    z = axis_w / np.linalg.norm(axis_w)
    y = down_hint_w - (down_hint_w @ z) * z
    y /= np.linalg.norm(y)
    x = np.cross(y, z)
    return np.column_stack([x, y, z])


def virtual_views(
    camera: OverheadCamera,
    *,
    views: int = 8,
    elevation_rad: float = math.radians(55.0),
    fov_rad: float = math.radians(75.0),
    size: tuple[int, int] = (320, 320),
    centre_view: bool = True,
) -> list[VirtualView]:
    """``views`` views evenly around the vertical (the first toward the image's ``+u`` side), and
    optionally one straight down. Each has a horizontal field of view ``fov_rad`` and ``size``
    ``(width, height)`` pixels."""
    w, h = size
    f = (w / 2.0) / math.tan(fov_rad / 2.0)
    pin = PinholeCamera(width=w, height=h, fx=f, fy=f, cx=(w - 1) / 2.0, cy=(h - 1) / 2.0)
    r_wc = camera.world_from_camera[:3, :3]
    centre = camera.centre_m
    x_img = r_wc[:, 0].copy()
    x_img[2] = 0.0
    base = math.atan2(float(x_img[1]), float(x_img[0])) if np.hypot(x_img[0], x_img[1]) > 1e-9 else 0.0
    down = np.array([0.0, 0.0, -1.0])
    out: list[VirtualView] = []
    specs = [(base + 2.0 * math.pi * k / views, elevation_rad) for k in range(views)]
    if centre_view:
        specs.append((base, 0.0))
    for k, (az, el) in enumerate(specs):
        axis = np.array([math.sin(el) * math.cos(az), math.sin(el) * math.sin(az), -math.cos(el)])
        hint = down if el > math.radians(5.0) else np.array([math.cos(az), math.sin(az), 0.0])
        r_wv = _rotation(axis, hint)
        m = np.eye(4)
        m[:3, :3] = r_wv
        m[:3, 3] = centre
        name = f"{camera.sensor_id}_v{k}"
        out.append(VirtualView(name, pin, r_wc.T @ r_wv, Transform.from_matrix(m)))
    return out
