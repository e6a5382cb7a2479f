"""Where a detected person stands on the floor, from one ceiling camera.

A standing person at horizontal distance ``d`` from the point below a camera at height ``H``
is a near-vertical body between the floor and the head top at height ``h``. Seen from the
ceiling, its box is radius-aligned, the feet at the inner end, the head at the outer end
(:mod:`sensorfusion_overhead._camera`). Two estimates of the floor position come from the box:

* **feet** — the inner end is the nearest edge of the feet (the lowest point of a body of
  radius ``r`` next to the floor has the smallest angle from the nadir): its ray meets the
  floor at ``d - r``, so ``d = H tan θ_in + r``. With ankle keypoints instead of a box end,
  the mid-ankle ray meets the plane at ankle height at ``d`` itself.
* **head** — the outer end is where the ray is tangent to the head (a sphere of radius ``ρ``
  centred at ``h - ρ``): ``d = (H - h + ρ) tan θ_out - ρ / cos θ_out``, with ``h`` the
  person-height prior.

The implied height (the ``h`` that makes the head end agree with the feet estimate) checks
the two against each other: within ``prior ± consistency_sigmas · σ`` they are fused by
inverse variance; between ``min_height_m`` and ``max_height_m`` (a crouch, a raised arm
lengthening the box) the feet win; below ``min_height_m`` the feet end is taken as hidden
(occluded, cut by the image) and the head decides; and a box that straddles the nadir (contains
it within the middle half of its length: a person right under the camera, seen from the top of
the head, feet hidden under the body) is placed by its centre at head height. Each estimate's variance along the radius is the pixel noise of its end
carried through the ray geometry (a finite difference of one pixel) plus a pose term; the
variance across the radius comes from the box centre's pixel noise. The covariance is
returned in world ``(x, y)``.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ._camera import OverheadCamera
from ._rbox import rbox_axes, rbox_corners, rbox_ends

__all__ = ["FloorEstimates", "LocaliseMethod", "LocaliseSettings", "localise_detections"]


class LocaliseMethod(enum.IntEnum):
    """How a floor position was obtained (the ``method`` field of ``<cam>/floor``)."""

    INVALID = -1
    FUSED = 0  # feet and head agree: inverse-variance mean
    FEET = 1  # feet only (implied height plausible but far from the prior)
    HEAD = 2  # head end and the height prior (feet hidden or inconsistent)
    UNDER_CAMERA = 3  # the box contains the nadir: its centre at head height
    ANKLES = 4  # ankle keypoints (fused with the head end when consistent)


class LocaliseSettings(BaseModel):
    """Body model and noise model of the localisation (the ``overhead.localise`` params share them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    person_height_m: float = Field(default=1.72, gt=0.5, lt=2.5, description="prior height of a person")
    person_height_sigma_m: float = Field(default=0.12, gt=0, description="spread of that prior")
    min_height_m: float = Field(default=1.0, gt=0, description="implied heights below this: the feet end is hidden")
    max_height_m: float = Field(
        default=2.3, gt=0, description="implied heights above this: the head end is not the head"
    )
    body_radius_m: float = Field(default=0.15, ge=0, description="floor position to the nearest edge of the feet")
    head_radius_m: float = Field(default=0.1, ge=0, description="radius of the head")
    ankle_height_m: float = Field(default=0.07, ge=0, description="height of the ankle keypoints")
    end_sigma_px: float = Field(default=2.0, gt=0, description="pixel noise of a box end (at least)")
    end_sigma_rel: float = Field(default=0.04, ge=0, description="pixel noise of a box end per pixel of box length")
    keypoint_sigma_px: float = Field(default=3.0, gt=0, description="pixel noise of an ankle keypoint")
    pose_sigma_m: float = Field(default=0.08, ge=0, description="stance, lean and body shape (per estimate)")
    under_camera_sigma_m: float = Field(default=0.15, gt=0, description="noise of a position seen from straight above")
    consistency_sigmas: float = Field(
        default=2.0, gt=0, description="fuse when the implied height is this close to the prior"
    )


@dataclass(frozen=True)
class FloorEstimates:
    """Floor positions of N detections in one camera.

    Attributes:
        position_m: ``(N, 2)`` world ``(x, y)`` (NaN when invalid).
        covariance_m2: ``(N, 2, 2)``.
        method: ``(N,)`` int8, :class:`LocaliseMethod`.
        implied_height_m: ``(N,)`` the person height that makes feet and head agree (NaN when unknown).
        inside: ``(N,)`` bool, the detection lies inside the image circle.
    """

    position_m: np.ndarray
    covariance_m2: np.ndarray
    method: np.ndarray
    implied_height_m: np.ndarray
    inside: np.ndarray


def _horizontal(points_xy: np.ndarray, cam_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distances ``(N,)`` and unit directions ``(N, 2)`` from the camera's floor point."""
    v = points_xy - cam_xy
    d = np.hypot(v[:, 0], v[:, 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.where(d[:, None] > 1e-9, v / d[:, None], np.array([1.0, 0.0]))
    return d, u


def localise_detections(
    camera: OverheadCamera,
    rboxes: np.ndarray,
    *,
    feet_px: np.ndarray | None = None,
    settings: LocaliseSettings | None = None,
) -> FloorEstimates:
    """Floor positions of rotated person boxes ``(N, 5)`` (RAPiD convention) seen by ``camera``.

    ``feet_px`` ``(N, 2)``: mid-ankle pixels from a keypoint model (NaN rows: none).
    """
    s = settings or LocaliseSettings()
    boxes = np.asarray(rboxes, dtype=np.float64).reshape(-1, 5)
    n = len(boxes)
    pos = np.full((n, 2), np.nan)
    cov = np.full((n, 2, 2), np.nan)
    method = np.full(n, LocaliseMethod.INVALID, dtype=np.int8)
    implied = np.full(n, np.nan)
    if n == 0:
        return FloorEstimates(pos, cov, method, implied, np.zeros(0, dtype=bool))
    feet = np.full((n, 2), np.nan) if feet_px is None else np.asarray(feet_px, dtype=np.float64).reshape(n, 2)
    H = camera.height_m
    cam_xy = camera.centre_m[:2]
    nadir = camera.nadir_px

    # the two ends: inner (nearer the nadir on the image) and outer
    e_top, e_bottom = rbox_ends(boxes)
    top_is_outer = np.hypot(*(e_top - nadir).T) >= np.hypot(*(e_bottom - nadir).T)
    outer = np.where(top_is_outer[:, None], e_top, e_bottom)
    inner = np.where(top_is_outer[:, None], e_bottom, e_top)
    radial = outer - inner
    length_px = np.maximum(np.hypot(radial[:, 0], radial[:, 1]), 1e-9)
    unit_px = radial / length_px[:, None]
    sigma_end = np.maximum(s.end_sigma_px, s.end_sigma_rel * boxes[:, 3])

    # every ray at once (one unprojection): centres, feet points (and a pixel further out), outer ends (idem)
    have_feet_px = np.all(np.isfinite(feet), axis=1)
    foot_px = np.where(have_feet_px[:, None], feet, inner)
    pts = np.concatenate([boxes[:, :2], foot_px, foot_px + unit_px, outer, outer + unit_px])
    safe = np.where(np.isfinite(pts), pts, 0.0)
    rays_c = camera.rays_camera(safe)
    rays_c[~np.all(np.isfinite(pts), axis=1)] = np.nan
    rays_w = rays_c @ camera.world_from_camera[:3, :3].T
    r_centre, r_foot, r_foot1, r_out, r_out1 = (rays_w[k * n : (k + 1) * n] for k in range(5))
    inside = camera.inside_image_circle(boxes[:, :2], rays_camera=rays_c[:n])
    have_ankles = have_feet_px & camera.inside_image_circle(foot_px, rays_camera=rays_c[n : 2 * n])
    if (have_feet_px & ~have_ankles).any():  # ankles outside the image circle: back to the box's inner end
        redo = have_feet_px & ~have_ankles
        rr = camera.rays_world(np.concatenate([inner[redo], inner[redo] + unit_px[redo]]))
        r_foot[redo], r_foot1[redo] = rr[: int(redo.sum())], rr[int(redo.sum()) :]

    # the box centre's direction on the floor (azimuth), at mid-body height
    centre_xy = camera.floor_from_rays(r_centre, 0.5 * s.person_height_m)
    d_centre, u_centre = _horizontal(centre_xy, cam_xy)

    # feet from the inner end (+ body radius) or from the ankles
    foot_z = np.where(have_ankles, s.ankle_height_m, 0.0)
    foot_offset = np.where(have_ankles, 0.0, s.body_radius_m)
    foot_sigma = np.where(have_ankles, s.keypoint_sigma_px, sigma_end)
    d_feet, _ = _horizontal(camera.floor_from_rays(r_foot, foot_z), cam_xy)
    d_feet_next, _ = _horizontal(camera.floor_from_rays(r_foot1, foot_z), cam_xy)
    d_feet = d_feet + foot_offset
    var_feet = ((d_feet_next + foot_offset - d_feet) * foot_sigma) ** 2 + s.pose_sigma_m**2

    # head from the outer end and the height prior
    with np.errstate(invalid="ignore", divide="ignore"):
        cos_nadir = np.clip(-r_out[:, 2], -1.0, 1.0)  # cosine of the outer ray's angle from the vertical
    z_head = s.person_height_m - s.head_radius_m
    d_head_plane, _ = _horizontal(camera.floor_from_rays(r_out, z_head), cam_xy)
    d_head_next, _ = _horizontal(camera.floor_from_rays(r_out1, z_head), cam_xy)
    with np.errstate(invalid="ignore", divide="ignore"):
        tan_out = np.sqrt(np.maximum(1.0 - cos_nadir**2, 0.0)) / cos_nadir
        d_head = d_head_plane - s.head_radius_m / cos_nadir
        var_head = (
            ((d_head_next - d_head_plane) * sigma_end) ** 2
            + (tan_out * s.person_height_sigma_m) ** 2
            + s.pose_sigma_m**2
        )
        # implied height: the head-top height whose tangent ray is the outer ray, given the feet distance
        implied_h = H + s.head_radius_m - (d_feet + s.head_radius_m / cos_nadir) / tan_out
    ok_out = np.isfinite(d_head) & np.all(np.isfinite(r_out), axis=1) & (cos_nadir > 0)

    # under the camera: the box straddles the nadir (contains it, near the middle of its length): the
    # person is seen from the top of the head and the feet are hidden under the body
    _, up_axis = rbox_axes(boxes)
    along = np.abs(np.sum((nadir - boxes[:, :2]) * up_axis, axis=1))
    under = _contains(boxes, nadir) & (along <= 0.25 * boxes[:, 3])
    head_xy = camera.floor_from_rays(r_centre, s.person_height_m - 2.0 * s.head_radius_m)

    for i in range(n):
        if not inside[i]:
            continue
        u = u_centre[i] if np.isfinite(d_centre[i]) else np.array([1.0, 0.0])
        v = np.array([-u[1], u[0]])
        if under[i]:
            if not np.all(np.isfinite(head_xy[i])):
                continue
            pos[i] = head_xy[i]
            sig = max(s.pose_sigma_m, s.under_camera_sigma_m)
            cov[i] = np.eye(2) * sig**2
            method[i] = LocaliseMethod.UNDER_CAMERA
            continue
        feet_ok = bool(np.isfinite(d_feet[i]) and np.isfinite(var_feet[i]))
        head_ok = bool(ok_out[i] and np.isfinite(var_head[i]))
        implied[i] = implied_h[i] if feet_ok and head_ok else np.nan
        m = LocaliseMethod.INVALID
        d = var = math.nan
        if feet_ok and head_ok:
            h_imp = float(implied_h[i])
            tol = s.consistency_sigmas * math.sqrt(
                s.person_height_sigma_m**2 + (var_feet[i] + var_head[i]) / max(float(tan_out[i]) ** 2, 1e-6)
            )
            if abs(h_imp - s.person_height_m) <= tol:
                w_f, w_h = 1.0 / var_feet[i], 1.0 / var_head[i]
                d = (w_f * d_feet[i] + w_h * d_head[i]) / (w_f + w_h)
                var = 1.0 / (w_f + w_h)
                m = LocaliseMethod.ANKLES if have_ankles[i] else LocaliseMethod.FUSED
            elif h_imp < s.min_height_m and not have_ankles[i]:
                d, var, m = d_head[i], var_head[i], LocaliseMethod.HEAD
            else:
                d, var = d_feet[i], var_feet[i]
                m = LocaliseMethod.ANKLES if have_ankles[i] else LocaliseMethod.FEET
        elif feet_ok:
            d, var = d_feet[i], var_feet[i]
            m = LocaliseMethod.ANKLES if have_ankles[i] else LocaliseMethod.FEET
        elif head_ok:
            d, var, m = d_head[i], var_head[i], LocaliseMethod.HEAD
        if m == LocaliseMethod.INVALID or not math.isfinite(d):
            continue
        d = max(float(d), 0.0)
        pos[i] = cam_xy + d * u
        # across the radius: the centre's pixel noise at this distance (radians per pixel x range)
        r_px = float(np.hypot(*(boxes[i, :2] - nadir)))
        sig_t = math.hypot(s.pose_sigma_m, d * sigma_end[i] / max(r_px, 1.0))
        rot = np.column_stack([u, v])
        cov[i] = rot @ np.diag([float(var), sig_t**2]) @ rot.T
        method[i] = m
    return FloorEstimates(pos, cov, method, implied, inside)


def _contains(boxes: np.ndarray, point: np.ndarray) -> np.ndarray:
    """Mask ``(N,)``: ``point`` lies inside each rotated box."""
    corners = rbox_corners(boxes)
    out = np.ones(len(boxes), dtype=bool)
    signs = []
    for k in range(4):
        a, b = corners[:, k], corners[:, (k + 1) % 4]
        signs.append((b[:, 0] - a[:, 0]) * (point[1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (point[0] - a[:, 0]))
    sg = np.stack(signs, axis=1)
    out = np.all(sg >= 0, axis=1) | np.all(sg <= 0, axis=1)
    return np.asarray(out)
