"""Which joints a camera can see: lines of sight against the body capsules.

A joint is *occluded* when the segment from the camera centre to the joint (stopped
``margin_m`` short of it) passes through a capsule of another person, or a capsule of its
own body that it is not part of (:data:`~._people.JOINT_ADJACENT_CAPSULES`): the far
shoulder behind the chest, a hand behind the back, one leg behind the other. Face joints
(nose, eyes, ears) also hide when they face away from the camera (the back of the head).
"""

from __future__ import annotations

import numpy as np

from ._people import JOINT_ADJACENT_CAPSULES, body_capsules

__all__ = ["joint_occlusion", "segment_distance"]

# cos(angle) between (joint - head centre) and (camera - head centre) below which a face
# joint is on the far side of the head: nose, left eye, right eye, left ear, right ear.
_FACE_COS = np.array([-0.15, -0.15, -0.15, -0.35, -0.35])


def segment_distance(p0: np.ndarray, p1: np.ndarray, q0: np.ndarray, q1: np.ndarray) -> np.ndarray:
    """Shortest distance between segments ``[p0, p1]`` and ``[q0, q1]`` (``(..., 3)``, broadcast)."""
    d1, d2, r = p1 - p0, q1 - q0, p0 - q0
    a = np.einsum("...i,...i->...", d1, d1)
    e = np.einsum("...i,...i->...", d2, d2)
    b = np.einsum("...i,...i->...", d1, d2)
    c = np.einsum("...i,...i->...", d1, r)
    f = np.einsum("...i,...i->...", d2, r)
    a_safe = np.where(a > 1e-15, a, 1.0)
    e_safe = np.where(e > 1e-15, e, 1.0)
    denom = a * e - b * b
    general = denom > 1e-12 * np.maximum(a * e, 1e-30)
    s = np.where(general, np.clip((b * f - c * e) / np.where(general, denom, 1.0), 0.0, 1.0), 0.0)
    s = np.where(e > 1e-15, s, np.clip(-c / a_safe, 0.0, 1.0))
    s = np.where(a > 1e-15, s, 0.0)
    t = (b * s + f) / e_safe
    s = np.where(t < 0.0, np.clip(-c / a_safe, 0.0, 1.0), np.where(t > 1.0, np.clip((b - c) / a_safe, 0.0, 1.0), s))
    s = np.where(a > 1e-15, s, 0.0)
    t = np.where(e > 1e-15, np.clip(t, 0.0, 1.0), 0.0)
    diff = (p0 + s[..., None] * d1) - (q0 + t[..., None] * d2)
    return np.asarray(np.linalg.norm(diff, axis=-1))


def joint_occlusion(
    joints_m: np.ndarray,
    camera_centre_m: np.ndarray,
    *,
    heights_m: np.ndarray | None = None,
    margin_m: float = 0.03,
    capsules: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """``(P, 17)`` bool: joint hidden from a camera at ``camera_centre_m`` by any body.

    ``joints_m`` are every person's COCO-17 joints ``(P, 17, 3)`` (everyone in the scene
    occludes everyone); NaN joints count as not occluded. ``capsules`` may pass the result
    of :func:`~._people.body_capsules` for these joints when testing several cameras.
    """
    joints = np.asarray(joints_m, dtype=np.float64)
    n = joints.shape[0]
    if n == 0:
        return np.zeros((0, 17), dtype=bool)
    centre = np.asarray(camera_centre_m, dtype=np.float64)
    a, b, radius = body_capsules(joints, heights_m) if capsules is None else capsules  # (P, B, 3), (P, B)
    ray = joints - centre
    length = np.linalg.norm(ray, axis=-1, keepdims=True)
    end = centre + ray * np.clip(1.0 - margin_m / np.maximum(length, 1e-9), 0.0, 1.0)
    dist = segment_distance(
        centre[None, None, None, None, :], end[:, :, None, None, :], a[None, None, :, :, :], b[None, None, :, :, :]
    )  # (P, 17, P, B)
    hit = dist < radius[None, None, :, :]
    own = np.eye(n, dtype=bool)[:, None, :, None] & JOINT_ADJACENT_CAPSULES[None, :, None, :]
    occluded = np.any(hit & ~own, axis=(2, 3))
    # the far side of the head
    head = 0.5 * (joints[:, 3] + joints[:, 4])
    to_cam = centre - head
    to_face = joints[:, :5] - head[:, None]
    cos = np.einsum("pi,pji->pj", to_cam, to_face) / np.maximum(
        np.linalg.norm(to_cam, axis=-1)[:, None] * np.linalg.norm(to_face, axis=-1), 1e-12
    )
    occluded[:, :5] |= cos < _FACE_COS[None, :]
    return np.asarray(occluded & np.all(np.isfinite(joints), axis=-1))
