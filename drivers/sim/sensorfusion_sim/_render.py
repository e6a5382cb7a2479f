"""Rasterising the simulated people: capsule silhouettes over a static room, with a z-buffer.

Each camera gets a :class:`CameraRenderer`. Its background (floor checkerboard, four
walls, ceiling, with their depth) is computed once by casting one ray per pixel through
the camera model, so only the people are drawn per frame, by :func:`_raster_capsules`, a
Numba kernel: both ends of every capsule are projected, each pixel in the capsule's
bounding box takes the closest point of the 2D segment, is inside when nearer than the
radius interpolated along it, and gets the depth interpolated perspective-correctly
(``1/z`` is linear on the image) minus the capsule's bulge toward the camera. The nearest
surface wins per pixel, so nearer bodies hide farther ones.

Besides the RGB image, :meth:`CameraRenderer.render_buffers` returns the per-pixel depth
(metres along the camera's z axis, as a depth camera reports it) and person id (``-1``
for the room), for simulated depth sensors and for tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from sensorfusion.geometry import project
from sensorfusion.schema import PinholeCamera, Transform

from ._people import body_capsules

__all__ = ["PERSON_COLOURS", "CameraRenderer", "RenderBuffers", "room_along_rays"]

# One colour per person id (RGB), cycled.
PERSON_COLOURS = np.array(
    [
        [230, 80, 60],
        [60, 130, 230],
        [80, 200, 90],
        [240, 190, 40],
        [170, 90, 220],
        [40, 200, 200],
        [240, 120, 190],
        [140, 110, 70],
    ],
    dtype=np.float32,
)

_NEAR_M = 0.05


@dataclass(frozen=True, slots=True)
class RenderBuffers:
    """One rendered view.

    Attributes:
        image: ``(H, W, 3)`` uint8, RGB.
        depth_m: ``(H, W)`` float32, depth along the camera's z axis in metres (room included).
        person_id: ``(H, W)`` int32, id of the person seen at each pixel, ``-1`` for the room.
    """

    image: np.ndarray
    depth_m: np.ndarray
    person_id: np.ndarray


@numba.njit(cache=True, nogil=True, fastmath=False)
def _raster_capsules(
    a_px: np.ndarray,
    b_px: np.ndarray,
    za_m: np.ndarray,
    zb_m: np.ndarray,
    ra_px: np.ndarray,
    rb_px: np.ndarray,
    radius_m: np.ndarray,
    colour: np.ndarray,
    pid: np.ndarray,
    image: np.ndarray,
    depth_m: np.ndarray,
    person_id: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Draw N capsules into the buffers (in place); pixel centres are at integer coordinates."""
    height, width = depth_m.shape
    for i in range(a_px.shape[0]):
        za, zb = za_m[i], zb_m[i]
        if not (za > _NEAR_M and zb > _NEAR_M):
            continue
        ax, ay, bx, by = a_px[i, 0], a_px[i, 1], b_px[i, 0], b_px[i, 1]
        ra, rb = ra_px[i], rb_px[i]
        if not (np.isfinite(ax) and np.isfinite(ay) and np.isfinite(bx) and np.isfinite(by)):
            continue
        x0 = max(int(np.floor(min(ax - ra, bx - rb))), 0)
        x1 = min(int(np.ceil(max(ax + ra, bx + rb))), width - 1)
        y0 = max(int(np.floor(min(ay - ra, by - rb))), 0)
        y1 = min(int(np.ceil(max(ay + ra, by + rb))), height - 1)
        if x0 > x1 or y0 > y1:
            continue
        ex, ey = bx - ax, by - ay
        l2 = ex * ex + ey * ey
        inv_l2 = 1.0 / l2 if l2 > 1e-12 else 0.0
        inv_za, inv_zb = 1.0 / za, 1.0 / zb
        rm = radius_m[i]
        cr, cg, cb = colour[i, 0], colour[i, 1], colour[i, 2]
        for y in range(y0, y1 + 1):
            py = y - ay
            for x in range(x0, x1 + 1):
                px = x - ax
                t = (px * ex + py * ey) * inv_l2
                if t < 0.0:
                    t = 0.0
                elif t > 1.0:
                    t = 1.0
                qx, qy = px - t * ex, py - t * ey
                d2 = qx * qx + qy * qy
                r = ra + t * (rb - ra)
                r2 = r * r
                if d2 >= r2:
                    continue
                bulge = np.sqrt(1.0 - d2 / r2)
                z = 1.0 / ((1.0 - t) * inv_za + t * inv_zb) - rm * bulge
                if z >= depth_m[y, x]:
                    continue
                depth_m[y, x] = z
                person_id[y, x] = pid[i]
                fade = 1.15 - 0.05 * z
                if fade < 0.6:
                    fade = 0.6
                elif fade > 1.0:
                    fade = 1.0
                shade = (0.3 + 0.7 * bulge) * fade
                image[y, x, 0] = min(255.0, cr * shade)
                image[y, x, 1] = min(255.0, cg * shade)
                image[y, x, 2] = min(255.0, cb * shade)


def _distort_normalized(xy: np.ndarray, cam: PinholeCamera) -> np.ndarray:
    """Brown-Conrady on normalized points ``(*, 2)`` (the geometry kernel's numpy tier on ``(x, y, 1)``)."""
    uv = project(cam, np.concatenate([xy, np.ones((*xy.shape[:-1], 1))], axis=-1), tier="numpy")
    return np.stack([(uv[..., 0] - cam.cx) / cam.fx, (uv[..., 1] - cam.cy) / cam.fy], axis=-1)


def _undistort_normalized(xy_d: np.ndarray, cam: PinholeCamera, iterations: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Fixed-point inverse of :func:`_distort_normalized`.

    Returns the undistorted points and a mask of those that converged: with strong barrel
    distortion the image corners can lie beyond what the model maps anything to.
    """
    if not np.any(cam.dist_coeffs):
        return xy_d.copy(), np.ones(xy_d.shape[:-1], dtype=bool)
    x = xy_d.copy()
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(iterations):
            x = x + (xy_d - _distort_normalized(x, cam))
            r = np.linalg.norm(x, axis=-1, keepdims=True)
            x = np.where(r > 3.0, x * (3.0 / np.maximum(r, 1e-12)), x)
        ok = np.linalg.norm(_distort_normalized(x, cam) - xy_d, axis=-1) < 1e-6
    return x, ok


class CameraRenderer:
    """Renders the room and the people as one calibrated pinhole camera sees them.

    Args:
        camera: the intrinsics (k1..k6, p1, p2 distortion honoured at capsule endpoints
            and per pixel for the room).
        world_from_camera: the camera pose.
        room_m: room size ``(Lx, Ly)``, world origin at its centre on the floor.
        room_height_m: ceiling height.
    """

    def __init__(
        self,
        camera: PinholeCamera,
        world_from_camera: Transform,
        room_m: tuple[float, float] = (6.0, 6.0),
        *,
        room_height_m: float = 3.0,
    ) -> None:
        self.camera = camera
        self.world_from_camera = world_from_camera
        m = np.linalg.inv(world_from_camera.matrix)
        self._rot_cw = m[:3, :3].copy()
        self._t_cw = m[:3, 3].copy()
        self._bg_image, self._bg_depth = _background(camera, world_from_camera, room_m, room_height_m)

    def project(self, points_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points ``(*, 3)`` -> distorted pixels ``(*, 2)`` and depth ``(*,)`` (NaN pixels behind)."""
        pc = np.asarray(points_m, dtype=np.float64) @ self._rot_cw.T + self._t_cw
        z = pc[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            xy = pc[..., :2] / z[..., None]
        xy = np.where((z > 0)[..., None], xy, np.nan)
        cam = self.camera
        if np.any(cam.dist_coeffs):
            xy = _distort_normalized(xy, cam)
        uv = np.empty_like(xy)
        uv[..., 0] = cam.fx * xy[..., 0] + cam.cx
        uv[..., 1] = cam.fy * xy[..., 1] + cam.cy
        return uv, z

    def render_buffers(
        self, joints_m: np.ndarray, person_ids: np.ndarray | None = None, heights_m: np.ndarray | None = None
    ) -> RenderBuffers:
        """Image, depth and person-id buffers for people with COCO-17 ``joints_m`` ``(P, 17, 3)``."""
        image = self._bg_image.copy()
        depth = self._bg_depth.copy()
        ids = np.full(depth.shape, -1, dtype=np.int32)
        joints = np.asarray(joints_m, dtype=np.float64)
        n = joints.shape[0]
        if n:
            pid = np.arange(n) if person_ids is None else np.asarray(person_ids, dtype=np.int64)
            a, b, radius = body_capsules(joints, heights_m)
            nb = a.shape[1]
            ends_px, ends_z = self.project(np.concatenate([a, b], axis=1).reshape(-1, 3))
            ends_px = ends_px.reshape(n, 2 * nb, 2)
            ends_z = ends_z.reshape(n, 2 * nb)
            with np.errstate(divide="ignore", invalid="ignore"):
                r_px = self.camera.fx * np.concatenate([radius, radius], axis=1) / ends_z
            a_px, b_px = ends_px[:, :nb].reshape(-1, 2), ends_px[:, nb:].reshape(-1, 2)
            za, zb = ends_z[:, :nb].reshape(-1), ends_z[:, nb:].reshape(-1)
            ra, rb = r_px[:, :nb].reshape(-1), r_px[:, nb:].reshape(-1)
            colour = np.ascontiguousarray(np.repeat(PERSON_COLOURS[pid % len(PERSON_COLOURS)], nb, axis=0))
            _raster_capsules(
                np.ascontiguousarray(a_px), np.ascontiguousarray(b_px), np.ascontiguousarray(za), np.ascontiguousarray(zb),
                np.ascontiguousarray(ra), np.ascontiguousarray(rb), np.ascontiguousarray(radius.reshape(-1)),
                colour, np.repeat(pid.astype(np.int32), nb), image, depth, ids,
            )  # fmt: skip
        return RenderBuffers(image=image, depth_m=depth, person_id=ids)

    def render(
        self, joints_m: np.ndarray, person_ids: np.ndarray | None = None, heights_m: np.ndarray | None = None
    ) -> np.ndarray:
        """The ``(H, W, 3)`` uint8 RGB image of the people in the room."""
        return self.render_buffers(joints_m, person_ids, heights_m).image


def _background(
    cam: PinholeCamera, world_from_camera: Transform, room_m: tuple[float, float], room_height_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """The empty room seen by the camera: RGB ``(H, W, 3)`` uint8 and depth ``(H, W)`` float32."""
    h, w = cam.height, cam.width
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    xy, valid = _undistort_normalized(np.stack([(u - cam.cx) / cam.fx, (v - cam.cy) / cam.fy], axis=-1), cam)
    d_cam = np.concatenate([xy, np.ones((h, w, 1))], axis=-1)
    m = world_from_camera.matrix
    d = d_cam @ m[:3, :3].T  # world direction whose camera-z component is 1
    origin = m[:3, 3]
    return room_along_rays(d, origin, room_m, room_height_m, valid)


def room_along_rays(
    rays: np.ndarray,
    origin: np.ndarray,
    room_m: tuple[float, float],
    room_height_m: float,
    valid: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The empty room (walls, ceiling, a checkered floor) along world rays ``(H, W, 3)`` from
    ``origin``: RGB ``(H, W, 3)`` uint8 and the ray parameter of the hit ``(H, W)`` float32 (the
    distance for unit rays, the depth for rays whose camera-z component is 1; inf where a pixel
    is not ``valid`` or has no ray). Shared by the pinhole-family and the ray-cast renderers."""
    h, w = rays.shape[:2]
    if valid is None:
        valid = np.all(np.isfinite(rays), axis=-1)
    hx, hy = room_m[0] / 2.0, room_m[1] / 2.0
    lam = np.full((h, w), np.inf)
    plane = np.full((h, w), -1, dtype=np.int8)
    bounds = ((0, -hx, hx), (1, -hy, hy), (2, 0.0, room_height_m))
    with np.errstate(divide="ignore", invalid="ignore"):
        for axis, lo, hi in bounds:
            comp = rays[..., axis]
            for k, level in enumerate((lo, hi)):
                cand = (level - origin[axis]) / comp
                ok = (cand > 0) & np.isfinite(cand) & (cand < lam)
                lam = np.where(ok, cand, lam)
                plane = np.where(ok, 2 * axis + k, plane)
        hit = origin + lam[..., None] * rays
    image = np.empty((h, w, 3), dtype=np.float32)
    image[:] = _WALL_COLOURS[np.clip(plane, 0, 5)]
    floor = plane == 4
    with np.errstate(invalid="ignore"):
        checker = (np.floor(hit[..., 0] / 0.5) + np.floor(hit[..., 1] / 0.5)) % 2 == 0
    image[floor & checker] = (150, 150, 146)
    image[floor & ~checker] = (105, 105, 102)
    shade = np.clip(1.1 - 0.04 * np.where(np.isfinite(lam), lam, 0.0), 0.7, 1.0)
    image *= shade[..., None]
    image[~valid] = 0.0  # beyond the camera model's range: nothing is imaged there
    distance = np.where(np.isfinite(lam) & valid, lam, np.inf).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8), distance


#: the room's -x, +x, -y, +y walls, the floor (under its checker) and the ceiling
_WALL_COLOURS = np.array(
    [[200, 196, 186], [186, 192, 200], [196, 200, 186], [200, 188, 196], [120, 120, 118], [235, 235, 235]],
    dtype=np.float32,
)
