"""Cross-view association of people without identities (numpy).

Input: per view, the 2D skeletons it detected (undistorted pixels + confidence), no ids.
Output: groups of detections (at most one per view) that show the same person.

Method:

1. Every detected joint becomes a ray in the world (camera centre + ``M⁻¹ [u, v, 1]`` with
   ``P = [M | p4]``).
2. The affinity of two detections in different views is the **median ray-to-ray distance**
   (metres) over the joints both saw with enough confidence; fewer than ``min_common_joints``
   joints: no affinity. The median makes it robust to a swapped or wrong joint and to partial
   skeletons; the distance is metric, so it does not depend on image resolution.
3. **Cycle-consistent grouping**: candidate pairs are merged greedily, closest first, into
   groups holding at most one detection per view; two groups merge only when *every* cross
   pair with an affinity is under ``max_ray_distance_m`` and their mean is too. A
   transitive match A–B, B–C therefore also needs A–C to agree, which keeps two people
   standing close together (and ambiguous epipolar alignments) from being chained.
4. Repair: a detection left in a small group (two people aligned along an epipolar plane can
   pair up early and block both of their true groups) moves to a larger group lacking its view
   when it agrees with every member there.
5. Groups with at least ``min_views`` views are person hypotheses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Association", "associate_views", "camera_centers", "ray_directions"]


@dataclass(frozen=True)
class Association:
    """``groups (H, V)``: the detection index each view contributes to hypothesis ``h``
    (-1: none), sorted by number of views then by mean affinity; ``distance_m (H,)``: the mean
    ray distance inside each group."""

    groups: np.ndarray
    distance_m: np.ndarray


def camera_centers(P: np.ndarray) -> np.ndarray:
    """``(V, 3)`` world positions of the cameras of ``P (V, 3, 4)``."""
    M = P[:, :, :3]
    return np.asarray(-np.linalg.solve(M, P[:, :, 3:4])[..., 0])


def ray_directions(P: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Unit world directions ``(V, ..., 3)`` of pixels ``uv (V, ..., 2)`` (NaN stays NaN)."""
    Minv = np.linalg.inv(P[:, :, :3])
    h = np.concatenate([uv, np.ones((*uv.shape[:-1], 1))], axis=-1)
    shape = h.shape
    d = np.einsum("vij,vnj->vni", Minv, h.reshape(shape[0], -1, 3)).reshape(shape)
    with np.errstate(invalid="ignore"):
        return np.asarray(d / np.linalg.norm(d, axis=-1, keepdims=True))


def associate_views(
    detections: Sequence[np.ndarray],
    projections: np.ndarray,
    *,
    min_confidence: float = 0.3,
    max_ray_distance_m: float = 0.15,
    min_common_joints: int = 3,
    min_views: int = 2,
) -> Association:
    """Group per-view detections into people.

    Args:
        detections: ``V`` arrays ``(P_v, J, 3)``: undistorted x_px, y_px, confidence (NaN or
            low confidence = not seen). ``P_v`` may differ per view and be 0.
        projections: ``(V, 3, 4)`` matrices ``K [R | t]`` of the undistorted pixels.
    """
    P = np.asarray(projections, dtype=np.float64)
    V = len(detections)
    view_of: list[int] = []
    index_of: list[int] = []
    for v, d in enumerate(detections):
        for i in range(len(d)):
            view_of.append(v)
            index_of.append(i)
    D = len(view_of)
    if D == 0 or V < 2:
        return Association(np.full((0, V), -1, dtype=np.int64), np.zeros(0))
    J = max(int(d.shape[1]) for d in detections if len(d))
    uv = np.full((D, J, 2), np.nan)
    ok = np.zeros((D, J), dtype=bool)
    k = 0
    for d in detections:
        for i in range(len(d)):
            c = d[i, :, 2]
            with np.errstate(invalid="ignore"):
                good = np.isfinite(d[i, :, :2]).all(-1) & np.isfinite(c) & (c > min_confidence)
            uv[k, : d.shape[1]] = d[i, :, :2]
            ok[k, : d.shape[1]] = good
            k += 1
    views = np.asarray(view_of)
    centers = camera_centers(P)
    finite_cam = np.isfinite(centers).all(-1)
    origin = centers[views]  # (D, 3)
    # Directions per detection: group detections by view to reuse the inverse.
    dirs = np.full((D, J, 3), np.nan)
    Minv = np.linalg.inv(
        np.where(np.isfinite(P[:, :, :3]), P[:, :, :3], 0.0) + np.where(finite_cam, 0.0, 1.0)[:, None, None] * np.eye(3)
    )
    h = np.concatenate([np.where(ok[..., None], uv, 0.0), np.ones((D, J, 1))], axis=-1)
    dirs = np.einsum("dij,dkj->dki", Minv[views], h)
    dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
    ok &= finite_cam[views][:, None]
    # Pairwise ray distance |(o2 - o1) . (d1 x d2)| / |d1 x d2| for every joint.
    cross = np.cross(dirs[:, None], dirs[None, :])  # (D, D, J, 3)
    cn = np.linalg.norm(cross, axis=-1)
    base = origin[None, :, None, :] - origin[:, None, None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        dist = np.abs((base * cross).sum(-1)) / cn
        # Where the closest points lie behind a camera, the rays do not meet in front of both.
        d12 = (dirs[:, None] * dirs[None, :]).sum(-1)
        b1 = (base * dirs[:, None]).sum(-1)
        b2 = (base * dirs[None, :]).sum(-1)
        den = 1.0 - d12 * d12
        s = (b1 - d12 * b2) / den
        t = (d12 * b1 - b2) / den
    both = ok[:, None] & ok[None, :] & (cn > 1e-9)
    dist = np.where(both & (s > 0) & (t > 0), dist, np.where(both, np.inf, np.nan))
    common = both.sum(-1)
    with np.errstate(invalid="ignore"):
        aff = np.where(common >= min_common_joints, _nanmedian_rows(dist), np.nan)
    same_view = views[:, None] == views[None, :]
    aff[same_view] = np.nan
    # Greedy cycle-consistent grouping.
    iu, ju = np.triu_indices(D, 1)
    cand = np.isfinite(aff[iu, ju]) & (aff[iu, ju] <= max_ray_distance_m)
    order = np.argsort(aff[iu, ju][cand], kind="stable")
    pairs_i, pairs_j = iu[cand][order], ju[cand][order]
    group = np.arange(D)
    members: dict[int, list[int]] = {i: [i] for i in range(D)}
    for a, b in zip(pairs_i, pairs_j, strict=True):
        ga, gb = group[a], group[b]
        if ga == gb:
            continue
        ma, mb = members[ga], members[gb]
        if set(views[ma].tolist()) & set(views[mb].tolist()):
            continue
        block = aff[np.ix_(ma, mb)]
        known = np.isfinite(block)
        if (block[known] > max_ray_distance_m).any() or np.isinf(block).any():
            continue
        if known.any() and block[known].mean() > max_ray_distance_m:
            continue
        members[ga] = ma + mb
        for m in mb:
            group[m] = ga
        del members[gb]
    _repair(members, group, views, aff, max_ray_distance_m)
    hyps = []
    for g, ms in members.items():
        if len(ms) < min_views:
            continue
        row = np.full(V, -1, dtype=np.int64)
        for m in ms:
            row[views[m]] = index_of[m]
        sub = aff[np.ix_(ms, ms)]
        mean = float(np.nanmean(sub[np.isfinite(sub)])) if np.isfinite(sub).any() else np.inf
        hyps.append((-len(ms), mean, g, row))
    hyps.sort(key=lambda h: (h[0], h[1], h[2]))
    if not hyps:
        return Association(np.full((0, V), -1, dtype=np.int64), np.zeros(0))
    return Association(np.stack([h[3] for h in hyps]), np.asarray([h[1] for h in hyps]))


def _repair(members: dict[int, list[int]], group: np.ndarray, views: np.ndarray, aff: np.ndarray, max_d: float) -> None:
    """Undo greedy mistakes: a detection in a small group (at most half the views of the largest)
    moves to a larger group that lacks its view when it agrees with every member there. Two
    people aligned along an epipolar plane can pair up early in the greedy pass and then block
    both of their true groups; this puts each back."""
    if not members:
        return
    largest = max(len(m) for m in members.values())
    for g in sorted(members, key=lambda k: len(members[k])):
        if g not in members or len(members[g]) > largest // 2:
            continue
        for m in list(members[g]):
            best, best_d = None, max_d
            for h, hs in members.items():
                if h == g or len(hs) <= len(members[g]) or views[m] in set(views[hs].tolist()):
                    continue
                row = aff[m, hs]
                known = np.isfinite(row)
                if not known.any() or (row[known] > max_d).any() or np.isinf(row).any():
                    continue
                d = float(row[known].mean())
                if d < best_d:
                    best, best_d = h, d
            if best is not None:
                members[g].remove(m)
                members[best].append(m)
                group[m] = best
        if not members[g]:
            del members[g]


def _nanmedian_rows(x: np.ndarray) -> np.ndarray:
    """Median over the last axis ignoring NaN (inf counts as large); all-NaN rows give NaN."""
    s = np.sort(np.where(np.isnan(x), np.inf, x), axis=-1)
    n = np.isfinite(x).sum(-1) + np.isinf(x).sum(-1)
    lo = np.take_along_axis(s, np.maximum((n - 1) // 2, 0)[..., None], -1)[..., 0]
    hi = np.take_along_axis(s, np.maximum(n // 2, 0)[..., None], -1)[..., 0]
    with np.errstate(invalid="ignore"):
        med = np.where(np.isinf(lo) | np.isinf(hi), np.maximum(lo, hi), 0.5 * (lo + hi))
    return np.where(n > 0, med, np.nan)
