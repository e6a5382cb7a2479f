"""Ray-cast rendering of the room and the people for any camera model: the ceiling cameras' renderer.

The pinhole renderer (:mod:`sensorfusion_sim._render`) draws capsules as 2-D shapes between
their projected ends, which is right only where straight lines stay straight. Under a
fisheye lens they bend, so this renderer casts one ray per pixel instead: the camera model
unprojects every pixel once (:func:`sensorfusion.geometry.unproject`), the rays are rotated
into the world, the empty room (floor checkerboard, walls, ceiling) is intersected once,
and per frame a Numba kernel intersects each pixel's ray with the capsules of the people
that can cover it. A capsule's pixel region comes from projecting points on its surface
through the camera model (padded); the intersection is exact for the capsule (a segment
swept by a sphere): the nearest point of the ray within the radius of the segment.

(The headsets' :class:`sensorfusion_sim._fisheye_render.FisheyeRenderer` draws projected capsule
pieces instead, for a moving camera; this one is exact for static ceiling cameras and also counts
how much of each person is hidden.) Besides the image, :meth:`RayCastRenderer.render_buffers` returns the ray distance and the
person id per pixel, and per person the number of pixels their body covers with and
without the others in front (the visible fraction of each person).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from sensorfusion.geometry import Camera, project, unproject
from sensorfusion.schema import Transform

from ._people import body_capsules
from ._render import PERSON_COLOURS, room_along_rays

__all__ = ["RayCastBuffers", "RayCastRenderer", "capsule_surface_points"]

# unit directions sampling a sphere (26 = the cube's faces, edges and corners)
_DIRS = np.array(
    [(x, y, z) for x in (-1, 0, 1) for y in (-1, 0, 1) for z in (-1, 0, 1) if (x, y, z) != (0, 0, 0)], float
)
_DIRS /= np.linalg.norm(_DIRS, axis=1, keepdims=True)


def capsule_surface_points(a_m: np.ndarray, b_m: np.ndarray, radius_m: np.ndarray, samples: int = 5) -> np.ndarray:
    """Points on the surfaces of capsules ``a``/``b`` ``(*, 3)`` with radii ``(*)``: ``(*, samples * 26, 3)``."""
    t = np.linspace(0.0, 1.0, samples)
    axis = a_m[..., None, :] + t[:, None] * (b_m - a_m)[..., None, :]  # (*, S, 3)
    pts = axis[..., :, None, :] + radius_m[..., None, None, None] * _DIRS  # (*, S, 26, 3)
    out: np.ndarray = pts.reshape(*a_m.shape[:-1], samples * len(_DIRS), 3)
    return out


@dataclass(frozen=True, slots=True)
class RayCastBuffers:
    """One rendered view.

    Attributes:
        image: ``(H, W, 3)`` uint8 RGB (black outside the lens' field of view).
        distance_m: ``(H, W)`` float32, distance along each pixel's ray to the first surface.
        person_id: ``(H, W)`` int32, the person seen at each pixel (``-1``: the room).
        covered_px: ``(P,)`` pixels whose ray passes through each person (in front or behind others).
        visible_px: ``(P,)`` pixels where each person is the first surface.
    """

    image: np.ndarray
    distance_m: np.ndarray
    person_id: np.ndarray
    covered_px: np.ndarray
    visible_px: np.ndarray

    @property
    def visible_fraction(self) -> np.ndarray:
        """``(P,)`` visible / covered pixels (0 for a person who covers none)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            out: np.ndarray = np.where(self.covered_px > 0, self.visible_px / np.maximum(self.covered_px, 1), 0.0)
        return out


@numba.njit(cache=True, nogil=True)
def _ray_capsule(ox: float, oy: float, oz: float, dx: float, dy: float, dz: float,
                 ax: float, ay: float, az: float, bx: float, by: float, bz: float, r: float) -> tuple[float, float]:  # fmt: skip
    """Entry distance along the unit ray and the ray's closest distance to the axis; (inf, inf) on a miss."""
    ex, ey, ez = bx - ax, by - ay, bz - az
    wx, wy, wz = ox - ax, oy - ay, oz - az
    ee = ex * ex + ey * ey + ez * ez
    de = dx * ex + dy * ey + dz * ez
    we = wx * ex + wy * ey + wz * ez
    wd = wx * dx + wy * dy + wz * dz
    den = ee - de * de  # ee * (1 - cos^2) (the ray is a unit vector)
    if den > 1e-12 * ee:
        t = (de * we - ee * wd) / den
        s = (we + t * de) / ee
    else:
        t = -wd
        s = 0.0
    if s < 0.0:
        s = 0.0
    elif s > 1.0:
        s = 1.0
    # closest ray point to the axis point at s (re-optimised for t), then t for the clamped s
    px, py, pz = ax + s * ex, ay + s * ey, az + s * ez
    t = (px - ox) * dx + (py - oy) * dy + (pz - oz) * dz
    if t < 0.0:
        return math.inf, math.inf
    qx, qy, qz = ox + t * dx - px, oy + t * dy - py, oz + t * dz - pz
    d2 = qx * qx + qy * qy + qz * qz
    if d2 >= r * r:
        return math.inf, math.inf
    return t - math.sqrt(r * r - d2), math.sqrt(d2)


@numba.njit(cache=True, nogil=True)
def _raster(
    rays: np.ndarray,
    origin: np.ndarray,
    a_m: np.ndarray,
    b_m: np.ndarray,
    radius_m: np.ndarray,
    box: np.ndarray,
    owner: np.ndarray,
    colour: np.ndarray,
    image: np.ndarray,
    distance: np.ndarray,
    person_id: np.ndarray,
    covered: np.ndarray,
    visible: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Intersect every pixel of each capsule's box with it; keep the nearest surface.

    Capsules must come grouped by their owner (all of person 0, then person 1, ...)."""
    height, width = distance.shape
    # capsules come grouped by person: a pixel is counted once per person by remembering who counted it last
    counted = np.full((height, width), -1, dtype=np.int64)
    ox, oy, oz = origin[0], origin[1], origin[2]
    for c in range(a_m.shape[0]):
        x0, y0, x1, y1 = box[c, 0], box[c, 1], box[c, 2], box[c, 3]
        if x0 > x1 or y0 > y1:
            continue
        pid = owner[c]
        r = radius_m[c]
        for y in range(y0, y1 + 1):
            for x in range(x0, x1 + 1):
                dx, dy, dz = rays[y, x, 0], rays[y, x, 1], rays[y, x, 2]
                if not math.isfinite(dx):
                    continue
                t, q = _ray_capsule(ox, oy, oz, dx, dy, dz, a_m[c, 0], a_m[c, 1], a_m[c, 2],
                                    b_m[c, 0], b_m[c, 1], b_m[c, 2], r)  # fmt: skip
                if not math.isfinite(t):
                    continue
                if counted[y, x] != pid:
                    counted[y, x] = pid
                    covered[pid] += 1
                if t >= distance[y, x]:
                    continue
                distance[y, x] = t
                person_id[y, x] = pid
                bulge = math.sqrt(max(0.0, 1.0 - (q / r) ** 2))
                fade = 1.15 - 0.05 * t
                fade = min(max(fade, 0.6), 1.0)
                shade = (0.3 + 0.7 * bulge) * fade
                image[y, x, 0] = min(255.0, colour[pid, 0] * shade)
                image[y, x, 1] = min(255.0, colour[pid, 1] * shade)
                image[y, x, 2] = min(255.0, colour[pid, 2] * shade)
    for y in range(height):
        for x in range(width):
            p = person_id[y, x]
            if p >= 0:
                visible[p] += 1


class RayCastRenderer:
    """Renders the room and the people as one calibrated camera of any model sees them.

    Args:
        camera: any camera model of the schema (fisheye, omnidirectional, double sphere...).
        world_from_camera: the camera pose.
        room_m: room size ``(Lx, Ly)``, world origin at its centre on the floor.
        room_height_m: ceiling height.
        fov_rad: the lens' field of view: pixels whose ray is farther than half of it from the
            optical axis are black (the dark ring around a fisheye's image circle).
    """

    def __init__(
        self,
        camera: Camera,
        world_from_camera: Transform,
        room_m: tuple[float, float] = (6.0, 6.0),
        *,
        room_height_m: float = 3.0,
        fov_rad: float = math.pi,
    ) -> None:
        self.camera = camera
        self.world_from_camera = world_from_camera
        m = world_from_camera.matrix
        self._rot_wc = m[:3, :3].copy()
        self._origin = m[:3, 3].copy()
        h, w = camera.height, camera.width
        v, u = np.mgrid[0:h, 0:w].astype(np.float64)
        rays_c = unproject(camera, np.stack([u, v], axis=-1).reshape(-1, 2), tier="cpu").reshape(h, w, 3)
        with np.errstate(invalid="ignore"):
            outside = ~(np.arccos(np.clip(rays_c[..., 2], -1.0, 1.0)) <= 0.5 * fov_rad)
        rays_c[outside] = np.nan
        self.rays_world = np.ascontiguousarray(rays_c @ self._rot_wc.T)
        self.valid = np.all(np.isfinite(self.rays_world), axis=-1)
        self._bg_image, self._bg_distance = _background(self.rays_world, self._origin, room_m, room_height_m)

    def project(self, points_m: np.ndarray) -> np.ndarray:
        """World points ``(*, 3)`` -> pixels ``(*, 2)`` (NaN where the model cannot image them)."""
        p = np.asarray(points_m, dtype=np.float64)
        pc = (p.reshape(-1, 3) - self._origin) @ self._rot_wc
        return project(self.camera, pc, tier="numpy").reshape(*p.shape[:-1], 2)

    def _capsule_boxes(self, a: np.ndarray, b: np.ndarray, radius: np.ndarray) -> np.ndarray:
        """Pixel boxes ``(C, 4)`` int64 ``x0, y0, x1, y1`` that contain each capsule's image."""
        pts = capsule_surface_points(a, b, radius * 1.05, samples=4)  # (C, S, 3)
        px = self.project(pts)
        w, h = self.camera.width, self.camera.height
        out = np.empty((len(a), 4), dtype=np.int64)
        for c in range(len(a)):
            q = px[c][np.all(np.isfinite(px[c]), axis=1)]
            if len(q) < len(px[c]):  # part of the capsule is outside the model's range: test every pixel
                out[c] = (0, 0, w - 1, h - 1) if len(q) or _may_be_seen(a[c], b[c], self._origin) else (1, 1, 0, 0)
                continue
            pad = 2.0
            out[c] = (
                max(math.floor(q[:, 0].min() - pad), 0),
                max(math.floor(q[:, 1].min() - pad), 0),
                min(math.ceil(q[:, 0].max() + pad), w - 1),
                min(math.ceil(q[:, 1].max() + pad), h - 1),
            )
        return out

    def render_buffers(
        self, joints_m: np.ndarray, person_ids: np.ndarray | None = None, heights_m: np.ndarray | None = None
    ) -> RayCastBuffers:
        """Image, distance and person-id buffers for people with COCO-17 ``joints_m`` ``(P, 17, 3)``."""
        image = self._bg_image.copy()
        distance = self._bg_distance.copy()
        ids = np.full(distance.shape, -1, dtype=np.int32)
        joints = np.asarray(joints_m, dtype=np.float64)
        n = joints.shape[0]
        covered = np.zeros(n, dtype=np.int64)
        visible = np.zeros(n, dtype=np.int64)
        if n:
            pid = np.arange(n) if person_ids is None else np.asarray(person_ids, dtype=np.int64)
            a, b, radius = body_capsules(joints, heights_m)
            nb = a.shape[1]
            a2, b2, r2 = a.reshape(-1, 3), b.reshape(-1, 3), radius.reshape(-1)
            boxes = self._capsule_boxes(a2, b2, r2)
            colour = np.ascontiguousarray(PERSON_COLOURS[pid % len(PERSON_COLOURS)])
            _raster(
                self.rays_world, self._origin, np.ascontiguousarray(a2), np.ascontiguousarray(b2),
                np.ascontiguousarray(r2), boxes, np.repeat(np.arange(n, dtype=np.int64), nb), colour,
                image, distance, ids, covered, visible,
            )  # fmt: skip
            # buffers carry the caller's ids
            ids = np.where(ids >= 0, pid[np.maximum(ids, 0)].astype(np.int32), -1).astype(np.int32)
        return RayCastBuffers(image=image, distance_m=distance, person_id=ids, covered_px=covered, visible_px=visible)

    def render(
        self, joints_m: np.ndarray, person_ids: np.ndarray | None = None, heights_m: np.ndarray | None = None
    ) -> np.ndarray:
        """The ``(H, W, 3)`` uint8 RGB image."""
        return self.render_buffers(joints_m, person_ids, heights_m).image


def _may_be_seen(a: np.ndarray, b: np.ndarray, origin: np.ndarray) -> bool:
    """A capsule that is not entirely behind the camera's position in height (ceiling cameras see down)."""
    return bool(min(a[2], b[2]) < origin[2] + 1.0)


def _background(
    rays: np.ndarray, origin: np.ndarray, room_m: tuple[float, float], room_height_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """The empty room along every ray: RGB ``(H, W, 3)`` uint8 and ray distance ``(H, W)`` float32."""
    return room_along_rays(rays, origin, room_m, room_height_m)
