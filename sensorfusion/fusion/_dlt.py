"""Confidence-weighted DLT triangulation, numpy reference tier.

This is the simple reference the faster robust kernels are checked against.
"""

from __future__ import annotations

import numpy as np

__all__ = ["triangulate_dlt"]


def triangulate_dlt(
    points2d: np.ndarray, confidence: np.ndarray, projections: np.ndarray, *, min_views: int = 2, min_confidence: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Triangulate points seen by several cameras.

    Args:
        points2d: ``(V, *, 2)`` undistorted pixels per view (NaN = not seen).
        confidence: ``(V, *)`` weights in ``[0, 1]``; NaN or <= ``min_confidence`` = not seen.
        projections: ``(V, 3, 4)`` camera matrices ``K [R | t]``.
        min_views: views needed for a point.
        min_confidence: observations at or below this are left out.

    Returns:
        ``points3d (*, 3)`` (NaN where fewer than ``min_views`` usable views) and
        ``views_used (*,)`` counts.
    """
    pts = np.asarray(points2d, dtype=np.float64)
    conf = np.asarray(confidence, dtype=np.float64)
    P = np.asarray(projections, dtype=np.float64)
    V = pts.shape[0]
    batch = pts.shape[1:-1]
    if V == 0 or int(np.prod(batch)) == 0:
        return np.full((*batch, 3), np.nan), np.zeros(batch, dtype=np.int64)
    valid = np.isfinite(pts).all(-1) & np.isfinite(conf) & (conf > min_confidence)
    w = np.where(valid, conf, 0.0)
    x = np.where(valid, pts[..., 0], 0.0)
    y = np.where(valid, pts[..., 1], 0.0)
    # Each view gives two rows (x P3 - P1, y P3 - P2), scaled to unit norm, then by its weight.
    Pb = P.reshape(V, *([1] * len(batch)), 3, 4)
    r1 = x[..., None] * Pb[..., 2, :] - Pb[..., 0, :]
    r2 = y[..., None] * Pb[..., 2, :] - Pb[..., 1, :]
    A = np.concatenate([r1, r2], axis=0)  # (2V, *, 4)
    norms = np.linalg.norm(A, axis=-1, keepdims=True)
    A = A / np.where(norms > 0, norms, 1.0) * np.concatenate([w, w], axis=0)[..., None]
    A = np.moveaxis(A, 0, -2)  # (*, 2V, 4)
    _, _, vt = np.linalg.svd(A)
    X = vt[..., -1, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        p3 = X[..., :3] / X[..., 3:4]
    n_used = valid.sum(axis=0)
    p3[n_used < min_views] = np.nan
    return p3, n_used.astype(np.int64)
