"""Geometric stereo triangulation of a wearer's 2D keypoints through a headset's fisheye models.

Each keypoint is unprojected through its camera's model (``sensorfusion.geometry.unproject``,
any model of the schema: a fisheye sees rays beside and behind the image plane) and turned into a
ray in the device frame; a joint seen in both views is the midpoint of the shortest segment
between its two rays. The pair is rejected when the rays pass farther apart than
``max_ray_distance_m`` (the two detections are not the same point: a left/right swap, an
outlier), when either ray meets the other behind its camera, or beyond ``max_range_m``.

The uncertainty of a triangulated joint follows the geometry: with ``σθ = noise_px / f`` the
angular noise of a detection, a joint at distance ``d`` whose rays meet at parallax angle ``γ``
has lateral error ``≈ d σθ`` and depth error ``≈ √2 d σθ / tan γ``; with a 10 cm baseline the
feet (1.5 m away, γ ≈ 4°) are ~20x less certain in depth than across. ``sigma_m`` reports the
combination; ``confidence`` is the detections' confidence, lowered when the rays miss each other
by more than the lateral error.
"""

from __future__ import annotations

import numpy as np

from sensorfusion.geometry import unproject

from ._headset import HeadsetGeometry

__all__ = ["StereoResult", "focal_px", "triangulate_stereo"]


def focal_px(model: object) -> float:
    """Pixels per radian near the optical axis (``fx``/``f``; OCamCalib: the world2cam slope)."""
    for name in ("fx", "f"):
        v = getattr(model, name, None)
        if v:
            return float(v)
    inv: tuple[float, ...] = tuple(getattr(model, "inv_poly", ()))
    if len(inv) > 1:
        return float(abs(inv[1]))
    poly: tuple[float, ...] = tuple(getattr(model, "poly", ()))
    return float(abs(poly[0])) if poly else 300.0


class StereoResult:
    """``joints (H, J, 3)`` device frame (NaN: not triangulated), ``confidence (H, J)``,
    ``sigma_m (H, J)``, ``ray_distance_m (H, J)``, ``rejected (H, J)`` bool (seen in both views
    but refused)."""

    def __init__(
        self,
        joints: np.ndarray,
        confidence: np.ndarray,
        sigma_m: np.ndarray,
        ray_distance_m: np.ndarray,
        rejected: np.ndarray,
    ) -> None:
        self.joints = joints
        self.confidence = confidence
        self.sigma_m = sigma_m
        self.ray_distance_m = ray_distance_m
        self.rejected = rejected


def triangulate_stereo(
    geometry: HeadsetGeometry,
    keypoints: np.ndarray,
    *,
    min_confidence: float = 0.3,
    max_ray_distance_m: float = 0.05,
    max_range_m: float = 3.0,
    noise_px: float = 2.0,
) -> StereoResult:
    """Triangulate ``keypoints (*, 2, J, 3)`` (views left/right; x_px, y_px, confidence) in the
    device frame of ``geometry``; returns a :class:`StereoResult` over the leading ``*``."""
    kp = np.asarray(keypoints, dtype=np.float64)
    lead = kp.shape[:-3]
    kp = kp.reshape(-1, 2, kp.shape[-2], 3)
    n, _, j, _ = kp.shape
    origins = geometry.device_from_camera[:, :3, 3]  # (2, 3)
    dirs = np.empty((n, 2, j, 3))
    conf = np.nan_to_num(kp[..., 2], nan=0.0)
    ok = np.isfinite(kp[..., :2]).all(-1) & (conf > min_confidence)
    sig_theta = np.empty(2)
    for v in range(2):
        rays = unproject(
            geometry.models[v], np.where(ok[:, v, :, None], kp[:, v, :, :2], 0.0).reshape(-1, 2), tier="numpy"
        )
        rays = rays.reshape(n, j, 3) @ geometry.device_from_camera[v, :3, :3].T
        dirs[:, v] = rays
        ok[:, v] &= np.isfinite(rays).all(-1)
        sig_theta[v] = noise_px / focal_px(geometry.models[v])
    both = ok[:, 0] & ok[:, 1]
    d0, d1 = dirs[:, 0], dirs[:, 1]
    w0 = origins[0] - origins[1]
    b = np.einsum("njc,njc->nj", d0, d1)
    dd = np.einsum("njc,c->nj", d0, w0)
    e = np.einsum("njc,c->nj", d1, w0)
    denom = 1.0 - b * b
    with np.errstate(invalid="ignore", divide="ignore"):
        s = (b * e - dd) / denom
        t = (e - b * dd) / denom
    p0 = origins[0] + s[..., None] * d0
    p1 = origins[1] + t[..., None] * d1
    mid = 0.5 * (p0 + p1)
    gap = np.linalg.norm(p0 - p1, axis=-1)
    dist = np.linalg.norm(mid - origins.mean(0), axis=-1)
    parallax = np.arccos(np.clip(b, -1.0, 1.0))
    good = both & (denom > 1e-10) & (s > 0) & (t > 0) & (gap <= max_ray_distance_m) & (dist <= max_range_m)
    rejected = both & ~good
    st = float(np.sqrt(0.5 * (sig_theta[0] ** 2 + sig_theta[1] ** 2)))
    lateral = dist * st
    with np.errstate(invalid="ignore", divide="ignore"):
        depth = np.sqrt(2.0) * dist * st / np.tan(np.maximum(parallax, 1e-6))
    sigma = np.sqrt(lateral**2 + depth**2)
    c = np.sqrt(conf[:, 0] * conf[:, 1]) * np.exp(-0.5 * (gap / np.maximum(2.0 * lateral, 0.01)) ** 2)
    joints = np.where(good[..., None], mid, np.nan)
    out_shape = (*lead, j)
    return StereoResult(
        joints.reshape(*out_shape, 3),
        np.where(good, c, 0.0).reshape(out_shape),
        np.where(good, sigma, np.nan).reshape(out_shape),
        np.where(both, gap, np.nan).reshape(out_shape),
        rejected.reshape(out_shape),
    )
