"""Rendering a moving fisheye camera (any camera model): the room and the people, the wearer's own
body seen from the forehead with its strong perspective, distortion and self-occlusion.

Per camera the ray of every pixel is computed once (``sensorfusion.geometry.unproject``); pixels
outside the image circle (farther than ``fov/2`` from the optical axis) stay black, as behind a
real fisheye lens. Per frame the room is ray-cast from the camera's pose and every body capsule
is cut into short pieces whose ends and radii are projected through the camera model (so limbs
bend with the distortion) and drawn by the pinhole renderer's z-buffered capsule rasteriser,
with the distance from the camera as depth: the nearest surface wins, so the chest hides the
legs, a raised arm hides the chest.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from sensorfusion.geometry import project, unproject

from ._people import body_capsules
from ._render import PERSON_COLOURS, _raster_capsules

__all__ = ["FisheyeRenderer"]

_PIECES = 4  # pieces per capsule
_WALLS = np.array(
    [[200, 196, 186], [186, 192, 200], [196, 200, 186], [200, 188, 196], [120, 120, 118], [235, 235, 235]],
    dtype=np.float32,
)


@numba.njit(cache=True, nogil=True)
def _room_kernel(
    rays: np.ndarray,
    mask: np.ndarray,
    rot: np.ndarray,
    origin: np.ndarray,
    hx: float,
    hy: float,
    top: float,
    walls: np.ndarray,
    image: np.ndarray,
    depth: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Ray-cast the empty room (walls, 0.5 m checkerboard floor, ceiling) for every pixel in ``mask``."""
    h, w = mask.shape
    lo = (-hx, -hy, 0.0)
    hi = (hx, hy, top)
    for y in range(h):
        for x in range(w):
            if not mask[y, x]:
                continue
            d0 = rot[0, 0] * rays[y, x, 0] + rot[0, 1] * rays[y, x, 1] + rot[0, 2] * rays[y, x, 2]
            d1 = rot[1, 0] * rays[y, x, 0] + rot[1, 1] * rays[y, x, 1] + rot[1, 2] * rays[y, x, 2]
            d2 = rot[2, 0] * rays[y, x, 0] + rot[2, 1] * rays[y, x, 1] + rot[2, 2] * rays[y, x, 2]
            lam = np.inf
            plane = 0
            for axis in range(3):
                comp = d0 if axis == 0 else (d1 if axis == 1 else d2)
                if comp == 0.0:
                    continue
                for k in range(2):
                    level = lo[axis] if k == 0 else hi[axis]
                    cand = (level - origin[axis]) / comp
                    if cand > 0.0 and cand < lam:
                        lam = cand
                        plane = 2 * axis + k
            if not np.isfinite(lam):
                continue
            r = walls[plane, 0]
            g = walls[plane, 1]
            b = walls[plane, 2]
            if plane == 4:
                px = origin[0] + lam * d0
                py = origin[1] + lam * d1
                if (np.floor(px / 0.5) + np.floor(py / 0.5)) % 2 == 0:
                    r, g, b = 150.0, 150.0, 146.0
                else:
                    r, g, b = 105.0, 105.0, 102.0
            shade = min(max(1.1 - 0.04 * lam, 0.7), 1.0)
            image[y, x, 0] = min(255.0, r * shade)
            image[y, x, 1] = min(255.0, g * shade)
            image[y, x, 2] = min(255.0, b * shade)
            depth[y, x] = lam


class FisheyeRenderer:
    """Renders what a fisheye camera at a given pose sees.

    Args:
        camera: any camera model of the schema (projection through ``sensorfusion.geometry``).
        fov_rad: the lens's field of view: the image circle.
        room_m: room size ``(Lx, Ly)`` (origin at its centre on the floor), ``room_height_m`` high.
    """

    def __init__(self, camera: Any, fov_rad: float, room_m: tuple[float, float], *, room_height_m: float = 3.0) -> None:
        self.camera = camera
        self.fov_rad = float(fov_rad)
        self.room_m = room_m
        self.room_height_m = room_height_m
        h, w = camera.height, camera.width
        v, u = np.mgrid[0:h, 0:w].astype(np.float64)
        rays = unproject(camera, np.stack([u, v], axis=-1).reshape(-1, 2), tier="numpy").reshape(h, w, 3)
        with np.errstate(invalid="ignore"):
            self.mask = np.isfinite(rays).all(-1) & (rays[..., 2] >= np.cos(self.fov_rad / 2.0))
        self.rays = np.ascontiguousarray(np.where(self.mask[..., None], rays, 0.0))

    def in_view(self, points_camera: np.ndarray) -> np.ndarray:
        """``(*,)`` bool: inside the lens's field of view."""
        p = np.asarray(points_camera, dtype=np.float64)
        n = np.linalg.norm(p, axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(p[..., 2] / n >= np.cos(self.fov_rad / 2.0))

    def render(
        self,
        world_from_camera: np.ndarray,
        joints_m: np.ndarray,
        person_ids: np.ndarray,
        heights_m: np.ndarray | None = None,
    ) -> np.ndarray:
        """The ``(H, W, 3)`` uint8 RGB image of the room and the people (COCO-17 ``joints_m (P, 17, 3)``)."""
        m = np.asarray(world_from_camera, dtype=np.float64)
        image, depth = self._background(m)
        ids = np.full(depth.shape, -1, dtype=np.int32)
        joints = np.asarray(joints_m, dtype=np.float64)
        if len(joints):
            self._bodies(m, joints, np.asarray(person_ids, dtype=np.int64), heights_m, image, depth, ids)
        image[~self.mask] = 0
        return image

    def _background(self, world_from_camera: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h, w = self.mask.shape
        image = np.zeros((h, w, 3), dtype=np.uint8)
        depth = np.full((h, w), np.inf, dtype=np.float32)
        _room_kernel(
            self.rays, self.mask, np.ascontiguousarray(world_from_camera[:3, :3]), np.ascontiguousarray(world_from_camera[:3, 3]),
            self.room_m[0] / 2.0, self.room_m[1] / 2.0, self.room_height_m, _WALLS, image, depth,
        )  # fmt: skip
        return image, depth

    def _bodies(
        self,
        world_from_camera: np.ndarray,
        joints: np.ndarray,
        pids: np.ndarray,
        heights_m: np.ndarray | None,
        image: np.ndarray,
        depth: np.ndarray,
        ids: np.ndarray,
    ) -> None:
        a, b, radius = body_capsules(joints, heights_m)  # (P, B, 3), (P, B)
        n, nb = radius.shape
        t = np.linspace(0.0, 1.0, _PIECES + 1)
        pts = a[:, :, None] + (b - a)[:, :, None] * t[None, None, :, None]  # (P, B, K+1, 3)
        camera_from_world = np.linalg.inv(world_from_camera)
        pc = pts @ camera_from_world[:3, :3].T + camera_from_world[:3, 3]
        dist = np.linalg.norm(pc, axis=-1)
        axis = (b - a) @ camera_from_world[:3, :3].T  # capsule axis in the camera frame (P, B, 3)
        ray = pc / np.maximum(dist[..., None], 1e-9)
        perp = np.cross(ray, axis[:, :, None, :])
        pn = np.linalg.norm(perp, axis=-1, keepdims=True)
        fallback = np.cross(ray, np.array([1.0, 0.0, 0.0]))
        perp = np.where(
            pn > 1e-9,
            perp / np.maximum(pn, 1e-12),
            fallback / np.maximum(np.linalg.norm(fallback, axis=-1, keepdims=True), 1e-12),
        )
        edge = pc + radius[:, :, None, None] * perp
        both = np.concatenate([pc.reshape(-1, 3), edge.reshape(-1, 3)])
        px = project(self.camera, both, tier="numpy")
        centre_px = px[: len(both) // 2].reshape(n, nb, _PIECES + 1, 2)
        edge_px = px[len(both) // 2 :].reshape(n, nb, _PIECES + 1, 2)
        r_px = np.linalg.norm(edge_px - centre_px, axis=-1)
        # a piece is drawn when both ends are within 10 degrees of the field of view
        visible = self.in_view(pc) | (
            pc[..., 2] / np.maximum(dist, 1e-9) > np.cos(self.fov_rad / 2.0 + np.radians(10.0))
        )
        ok = visible[..., :-1] & visible[..., 1:] & (dist[..., :-1] > 0.02) & (dist[..., 1:] > 0.02)
        ok &= np.isfinite(centre_px).all(-1)[..., :-1] & np.isfinite(centre_px).all(-1)[..., 1:]
        ok &= np.isfinite(r_px[..., :-1]) & np.isfinite(r_px[..., 1:])
        sel = np.nonzero(ok)
        if not len(sel[0]):
            return
        p_idx, b_idx, k_idx = sel
        colour = np.ascontiguousarray(PERSON_COLOURS[pids[p_idx] % len(PERSON_COLOURS)])
        _raster_capsules(
            np.ascontiguousarray(centre_px[p_idx, b_idx, k_idx]),
            np.ascontiguousarray(centre_px[p_idx, b_idx, k_idx + 1]),
            np.ascontiguousarray(dist[p_idx, b_idx, k_idx]),
            np.ascontiguousarray(dist[p_idx, b_idx, k_idx + 1]),
            np.ascontiguousarray(r_px[p_idx, b_idx, k_idx]),
            np.ascontiguousarray(r_px[p_idx, b_idx, k_idx + 1]),
            np.ascontiguousarray(radius[p_idx, b_idx]),
            colour,
            pids[p_idx].astype(np.int32),
            image,
            depth,
            ids,
        )
