"""Person clustering of radar points: DBSCAN (scikit-learn) on the floor plane.

Points are first put into the world frame (``world_from_sensor`` of the radar), then
clustered on ``(x, y)`` with height scaled by ``z_weight`` (people are tall and thin: a small
weight keeps a head and feet in one cluster). A cluster is one person candidate: its
centre is the SNR-weighted mean of its points, its size the extent of the points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sensorfusion import MissingDependencyError

__all__ = ["Clusters", "dbscan_labels", "cluster_people"]


@dataclass(frozen=True)
class Clusters:
    """``center_m (K, 3)``, ``size_m (K, 3)``, ``num_points (K,)``, ``velocity_m_per_s (K,)``
    (mean radial velocity) and per-point ``labels (N,)`` (-1: noise)."""

    center_m: np.ndarray
    size_m: np.ndarray
    num_points: np.ndarray
    velocity_m_per_s: np.ndarray
    labels: np.ndarray


def dbscan_labels(features: np.ndarray, *, eps_m: float, min_points: int) -> np.ndarray:
    """DBSCAN labels of ``(N, F)`` features (-1: noise); empty input gives an empty array."""
    if features.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    try:
        from sklearn.cluster import DBSCAN  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:  # pragma: no cover - sklearn is a declared dependency
        raise MissingDependencyError("radar clustering needs scikit-learn", install="pip install scikit-learn") from exc
    out: np.ndarray = DBSCAN(eps=eps_m, min_samples=min_points).fit_predict(features).astype(np.int64)
    return out


def cluster_people(
    xyz_world_m: np.ndarray,
    velocity_m_per_s: np.ndarray,
    snr_db: np.ndarray,
    *,
    eps_m: float = 0.4,
    min_points: int = 4,
    z_weight: float = 0.25,
) -> Clusters:
    """Cluster world-frame points into person candidates (see the module docstring).
    Non-finite points are left out (label -1)."""
    xyz = np.asarray(xyz_world_m, dtype=np.float64).reshape(-1, 3)
    ok = np.all(np.isfinite(xyz), axis=1)
    labels = np.full(xyz.shape[0], -1, dtype=np.int64)
    feats = xyz[ok] * np.array([1.0, 1.0, z_weight])
    labels[ok] = dbscan_labels(feats, eps_m=eps_m, min_points=min_points)
    k = int(labels.max()) + 1 if labels.size else 0
    center = np.zeros((k, 3))
    size = np.zeros((k, 3))
    count = np.zeros(k, dtype=np.int64)
    vel = np.zeros(k)
    snr = np.asarray(snr_db, dtype=np.float64)
    w_all = np.where(np.isfinite(snr), 10.0 ** (np.clip(snr, -30, 60) / 10.0), 1.0)
    vv = np.nan_to_num(np.asarray(velocity_m_per_s, dtype=np.float64))
    for c in range(k):
        m = labels == c
        w = w_all[m] / w_all[m].sum()
        center[c] = w @ xyz[m]
        size[c] = xyz[m].max(axis=0) - xyz[m].min(axis=0)
        count[c] = int(m.sum())
        vel[c] = float(w @ vv[m])
    return Clusters(center, size, count, vel, labels)
