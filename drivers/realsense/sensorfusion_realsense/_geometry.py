"""RealSense intrinsics/extrinsics in the calibration schema, depth deprojection and depth→colour alignment.

Distortion models (``rs.distortion``) are mapped as follows:

* ``none`` and any model whose coefficients are all zero: :class:`PinholeCamera` without distortion (exact).
* ``brown_conrady``: :class:`PinholeCamera` with ``k1, k2, p1, p2, k3 = coeffs`` (the same forward
  model as OpenCV; exact).
* ``kannala_brandt4``: :class:`KannalaBrandtCamera` with ``k1..k4 = coeffs[:4]`` (exact).
* ``inverse_brown_conrady``, ``modified_brown_conrady``, ``ftheta`` (no forward equivalent in
  the schema): a forward Brown–Conrady (``ftheta``: Kannala–Brandt) model **fitted** by least
  squares to librealsense's own ``rs2_project_point_to_pixel`` over the image; the largest
  residual in pixels is returned so the caller can report it (``fit_residual_px``).
"""

from __future__ import annotations

import functools
from typing import Any

import numba
import numpy as np

from sensorfusion import Transform
from sensorfusion.geometry import distort_normalized, undistort_pixels
from sensorfusion.schema import KannalaBrandtCamera, PinholeCamera

from ._rs import require_rs

__all__ = ["align_depth_to_color", "camera_from_intrinsics", "deproject_depth", "transform_from_extrinsics"]


def camera_from_intrinsics(intr: Any) -> tuple[PinholeCamera | KannalaBrandtCamera, float]:
    """``rs.intrinsics`` -> (camera model, largest fit residual in px; 0.0 when exact)."""
    rs = require_rs()
    common = {"width": int(intr.width), "height": int(intr.height), "fx": float(intr.fx), "fy": float(intr.fy),
              "cx": float(intr.ppx), "cy": float(intr.ppy)}  # fmt: skip
    coeffs = [float(c) for c in intr.coeffs]
    model = intr.model
    if model == rs.distortion.none or not any(coeffs):
        return PinholeCamera(**common), 0.0
    if model == rs.distortion.brown_conrady:
        return PinholeCamera(**common, **dict(zip(("k1", "k2", "p1", "p2", "k3"), coeffs, strict=False))), 0.0
    if model == rs.distortion.kannala_brandt4:
        return KannalaBrandtCamera(**common, **dict(zip(("k1", "k2", "k3", "k4"), coeffs, strict=False))), 0.0
    return _fit_forward_model(intr, common, fisheye=model == rs.distortion.ftheta)


def _fit_forward_model(
    intr: Any, common: dict[str, Any], *, fisheye: bool
) -> tuple[PinholeCamera | KannalaBrandtCamera, float]:
    from scipy.optimize import least_squares

    rs = require_rs()
    # rays through a grid over the image, from librealsense's own deprojection
    us, vs = np.meshgrid(np.linspace(0, intr.width - 1, 24), np.linspace(0, intr.height - 1, 18))
    rays = np.array(
        [
            rs.rs2_deproject_pixel_to_point(intr, [float(u), float(v)], 1.0)
            for u, v in zip(us.ravel(), vs.ravel(), strict=True)
        ]
    )
    target = np.array([rs.rs2_project_point_to_pixel(intr, list(map(float, p))) for p in rays])
    names = ("k1", "k2", "k3", "k4") if fisheye else ("k1", "k2", "p1", "p2", "k3")
    cls = KannalaBrandtCamera if fisheye else PinholeCamera

    def project(x: np.ndarray) -> np.ndarray:
        cam = cls(**common, **dict(zip(names, map(float, x), strict=True)))
        return _project(cam, rays)

    res = least_squares(lambda x: (project(x) - target).ravel(), np.zeros(len(names)))
    cam = cls(**common, **dict(zip(names, map(float, res.x), strict=True)))
    return cam, float(np.abs(_project(cam, rays) - target).max())


def _project(cam: PinholeCamera | KannalaBrandtCamera, pts: np.ndarray) -> np.ndarray:
    """Camera-frame points ``(N, 3)`` -> pixels ``(N, 2)``."""
    xy = pts[:, :2] / pts[:, 2:3]
    if isinstance(cam, PinholeCamera):
        xy = distort_normalized(xy, cam)
    else:
        r = np.linalg.norm(xy, axis=1)
        th = np.arctan(r)
        thd = th * (1 + cam.k1 * th**2 + cam.k2 * th**4 + cam.k3 * th**6 + cam.k4 * th**8)
        scale = np.where(r > 1e-12, thd / np.maximum(r, 1e-12), 1.0)
        xy = xy * scale[:, None]
    return np.stack([cam.fx * xy[:, 0] + cam.cx, cam.fy * xy[:, 1] + cam.cy], axis=1)


def transform_from_extrinsics(extr: Any) -> Transform:
    """``rs.extrinsics`` (``to_from_from``: ``p_to = R p_from + t``; librealsense stores R column-major) -> Transform."""
    r = np.asarray(extr.rotation, dtype=np.float64).reshape(3, 3).T  # column-major -> row-major
    m = np.eye(4)
    m[:3, :3] = r
    m[:3, 3] = np.asarray(extr.translation, dtype=np.float64)
    # librealsense's floats are single precision: re-orthonormalise before validation
    u, _, vt = np.linalg.svd(m[:3, :3])
    m[:3, :3] = u @ vt
    return Transform.from_matrix(m)


def deproject_depth(depth: np.ndarray, cam: PinholeCamera, depth_scale_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Depth image ``(H, W)`` (raw units) -> camera-frame points ``(N, 3)`` metres of the valid
    (non-zero) pixels and their ``(N, 2)`` integer pixel coordinates (x, y)."""
    v, u = np.nonzero(depth)
    z = depth[v, u].astype(np.float64) * depth_scale_m
    uv = undistort_pixels(np.stack([u, v], axis=1).astype(np.float64), cam)
    x = (uv[:, 0] - cam.cx) / cam.fx * z
    y = (uv[:, 1] - cam.cy) / cam.fy * z
    return np.stack([x, y, z], axis=1), np.stack([u, v], axis=1)


@functools.lru_cache(maxsize=8)
def _undistorted_grid(cam: PinholeCamera, off: float, shape: tuple[int, ...]) -> np.ndarray:
    """``(H, W, 2)`` undistorted coordinates of every pixel shifted by ``off``, computed once per
    camera (undistorting every valid pixel of every frame cost seconds per frame)."""
    h, w = shape[:2]
    v, u = np.mgrid[0:h, 0:w]
    grid = np.stack([u.ravel() + off, v.ravel() + off], axis=1).astype(np.float64)
    out = undistort_pixels(grid, cam).reshape(h, w, 2)
    out.setflags(write=False)
    return out


def align_depth_to_color(
    depth: np.ndarray,
    depth_cam: PinholeCamera,
    color_cam: PinholeCamera,
    color_from_depth: Transform,
    depth_scale_m: float,
    *,
    tier: str = "cpu",
) -> np.ndarray:
    """Re-render a depth image in the colour camera's geometry (what ``rs.align(rs.stream.color)`` does).

    Each valid depth pixel's footprint (its corners at ±0.5 px) is deprojected at its depth,
    moved into the colour frame, projected, and the covered colour pixels take its value;
    where several land on one pixel the nearest wins. Output: ``(Hc, Wc)`` in the input's
    units and dtype, 0 where nothing landed. ``tier``: ``numpy`` (reference, ``np.minimum.at``)
    or ``cpu`` (a Numba loop for the splat; identical results, ~50x faster).
    """
    out_h, out_w = color_cam.height, color_cam.width
    v, u = np.nonzero(depth)
    raw = depth[v, u]
    z = raw.astype(np.float64) * depth_scale_m
    corners = []
    for off in (-0.5, 0.5):
        uv = _undistorted_grid(depth_cam, off, depth.shape)[v, u]
        p = np.stack(
            [(uv[:, 0] - depth_cam.cx) / depth_cam.fx * z, (uv[:, 1] - depth_cam.cy) / depth_cam.fy * z, z], axis=1
        )
        corners.append(np.rint(_project(color_cam, color_from_depth.apply(p))).astype(np.int64))
    (x0, y0), (x1, y1) = corners[0].T, corners[1].T
    x0, y0, x1, y1 = np.maximum(x0, 0), np.maximum(y0, 0), np.minimum(x1, out_w - 1), np.minimum(y1, out_h - 1)
    ok = (x0 <= x1) & (y0 <= y1)
    x0, y0, x1, y1, raw = x0[ok], y0[ok], x1[ok], y1[ok], raw[ok]
    sentinel = np.iinfo(np.int64).max
    flat = np.full(out_h * out_w, sentinel, dtype=np.int64)
    if tier == "cpu":
        _splat_min(x0, y0, x1, y1, raw.astype(np.int64), flat, out_w)
        flat[flat == sentinel] = 0
        return flat.reshape(out_h, out_w).astype(depth.dtype)
    span_x = int((x1 - x0).max()) + 1 if raw.size else 0
    span_y = int((y1 - y0).max()) + 1 if raw.size else 0
    for dy in range(span_y):
        for dx in range(span_x):
            m = (x0 + dx <= x1) & (y0 + dy <= y1)
            np.minimum.at(flat, (y0[m] + dy) * out_w + (x0[m] + dx), raw[m].astype(np.int64))
    flat[flat == sentinel] = 0
    return flat.reshape(out_h, out_w).astype(depth.dtype)


@numba.njit(cache=True, nogil=True)
def _splat_min(
    x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray, value: np.ndarray, flat: np.ndarray, width: int
) -> None:  # pragma: no cover - compiled
    for i in range(value.shape[0]):
        for y in range(y0[i], y1[i] + 1):
            for x in range(x0[i], x1[i] + 1):
                k = y * width + x
                if value[i] < flat[k]:
                    flat[k] = value[i]
