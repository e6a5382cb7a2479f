"""Batched, confidence-weighted and robust triangulation in three tiers with one signature.

Kernel ``fusion.triangulate`` (see :mod:`sensorfusion.kernels`)::

    fn(points2d (V, N, 2), confidence (V, N), projections (V, 3, 4),
       min_confidence, min_views, robust, threshold_px, refine_iters)
        -> points3d (N, 3), reprojection_error_px (V, N), inliers (V, N) bool, status (N,) int8

Algorithm per point (identical in every tier):

1. A view is *valid* when its pixel and confidence are finite, ``confidence > min_confidence``
   and its projection matrix is finite. Fewer than ``min_views`` valid views: NaN, ``FEW_VIEWS``.
2. Weighted DLT: each view gives the rows ``x P3 - P1`` and ``y P3 - P2`` scaled by its
   confidence (no row normalisation, as Pose2Sim does); the point is the right singular vector
   of the smallest singular value (numpy: SVD; Numba tiers: Jacobi eigen-solve of ``AᵀA``).
3. ``robust``: when a valid view reprojects farther than ``threshold_px``, every pair of valid
   views is triangulated (a bounded, exhaustive minimal-sample search: at most V(V-1)/2
   hypotheses, no randomness); the pair with the most views under the threshold (ties: the
   smallest summed error) wins, the DLT is redone on its inliers and once more on the inliers
   of that estimate. Fewer than ``min_views`` inliers: NaN, ``NO_CONSENSUS``.
4. ``refine_iters`` Gauss–Newton steps on the confidence-weighted reprojection error.
5. Errors are reported for every valid view (outliers included); ``inliers`` marks the views
   the final point uses.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from ..kernels import ItemLoop, Output, Scratch, check_limits, get_kernel, register_loop
from . import _tri_core as core

__all__ = ["CUDA_MAX_VIEWS", "TriangulationResult", "TriangulationStatus", "triangulate_points"]

CUDA_MAX_VIEWS = 64
"""Views the cuda tier holds per point (its per-thread arrays have a fixed size)."""


class TriangulationStatus(enum.IntFlag):
    """Bits of a triangulated point's ``status`` (0: fine)."""

    OK = 0
    FEW_VIEWS = core.FEW_VIEWS  #: fewer than ``min_views`` usable observations
    DEGENERATE = core.DEGENERATE  #: the linear system has no finite solution (e.g. coincident rays)
    OUTLIERS_REJECTED = core.OUTLIERS_REJECTED  #: robust mode dropped at least one view
    NO_CONSENSUS = core.NO_CONSENSUS  #: robust mode found no view subset under the threshold


@dataclass(frozen=True)
class TriangulationResult:
    """``points3d (*, 3)`` (NaN where it failed), ``reprojection_error_px (V, *)`` (NaN where a
    view was not usable, inf behind the camera), ``inliers (V, *)`` and ``status (*,)``."""

    points3d: np.ndarray
    reprojection_error_px: np.ndarray
    inliers: np.ndarray
    status: np.ndarray

    @property
    def views_used(self) -> np.ndarray:
        return np.asarray(self.inliers.sum(axis=0), dtype=np.int64)


# -- numpy reference ------------------------------------------------------------------------


def _np_valid(pts: np.ndarray, conf: np.ndarray, P: np.ndarray, min_conf: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(pts).all(-1) & np.isfinite(conf) & (conf > min_conf)
    return np.asarray(ok & np.isfinite(P).all(axis=(1, 2))[:, None])


def _np_dlt(pts: np.ndarray, conf: np.ndarray, P: np.ndarray, use: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted DLT over views with ``use`` for all N points: ``X (N, 3)``, ``ok (N,)``."""
    w = np.where(use, conf, 0.0)
    x = np.where(use, pts[..., 0], 0.0)
    y = np.where(use, pts[..., 1], 0.0)
    Pz = np.where(np.isfinite(P), P, 0.0)[:, None]  # (V, 1, 3, 4)
    r1 = (x[..., None] * Pz[..., 2, :] - Pz[..., 0, :]) * w[..., None]
    r2 = (y[..., None] * Pz[..., 2, :] - Pz[..., 1, :]) * w[..., None]
    A = np.moveaxis(np.concatenate([r1, r2], axis=0), 0, -2)  # (N, 2V, 4)
    n = A.shape[0]
    X = np.full((n, 3), np.nan)
    ok = np.zeros(n, dtype=bool)
    if n == 0:
        return X, ok
    nonzero = np.abs(A).max(axis=(1, 2)) > 0
    if nonzero.any():
        _, sv, vt = np.linalg.svd(A[nonzero])
        X4 = vt[:, -1, :]
        # a null space of dimension > 1 (coincident rays): no unique point
        good = (sv[:, 2] ** 2 > 1e-13 * sv[:, 0] ** 2) & (np.abs(X4[:, 3]) >= 1e-12)
        with np.errstate(divide="ignore", invalid="ignore"):
            Xs = X4[:, :3] / X4[:, 3:4]
        good &= np.isfinite(Xs).all(-1)
        idx = np.flatnonzero(nonzero)
        X[idx] = np.where(good[:, None], Xs, np.nan)
        ok[idx] = good
    return X, ok


def _np_reproj(pts: np.ndarray, P: np.ndarray, X: np.ndarray) -> np.ndarray:
    """``(V, N)`` pixel errors of points ``X (N, 3)``; inf behind a camera, NaN for NaN input."""
    Xh = np.concatenate([X, np.ones((X.shape[0], 1))], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.einsum("vij,nj->vni", np.where(np.isfinite(P), P, 0.0), Xh)
        uv = q[..., :2] / q[..., 2:3]
        e = np.linalg.norm(uv - pts, axis=-1)
        e = np.where(q[..., 2] > 0, e, np.inf)
    return np.where(np.isfinite(X).all(-1)[None], e, np.nan)


def _np_refine(
    pts: np.ndarray, conf: np.ndarray, P: np.ndarray, use: np.ndarray, X: np.ndarray, iters: int
) -> np.ndarray:
    X = X.copy()
    for _ in range(iters):
        Xh = np.concatenate([X, np.ones((X.shape[0], 1))], axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            q = np.einsum("vij,nj->vni", P, Xh)  # (V, N, 3)
            c = q[..., 2]
            front = use & (c > 0)
            u = q[..., 0] / c
            v = q[..., 1] / c
            ru = u - pts[..., 0]
            rv = v - pts[..., 1]
            Ju = (P[:, None, 0, :3] - u[..., None] * P[:, None, 2, :3]) / c[..., None]  # (V, N, 3)
            Jv = (P[:, None, 1, :3] - v[..., None] * P[:, None, 2, :3]) / c[..., None]
        w2 = np.where(front, conf * conf, 0.0)
        Ju = np.where(front[..., None], Ju, 0.0)
        Jv = np.where(front[..., None], Jv, 0.0)
        ru = np.where(front, ru, 0.0)
        rv = np.where(front, rv, 0.0)
        H = np.einsum("vn,vni,vnj->nij", w2, Ju, Ju) + np.einsum("vn,vni,vnj->nij", w2, Jv, Jv)
        g = np.einsum("vn,vni,vn->ni", w2, Ju, ru) + np.einsum("vn,vni,vn->ni", w2, Jv, rv)
        det = np.linalg.det(H)
        tr = np.trace(H, axis1=1, axis2=2)
        with np.errstate(invalid="ignore", over="ignore"):
            solvable = (np.abs(det) > 1e-12 * tr**3) & np.isfinite(det) & np.isfinite(X).all(-1)
        if not solvable.any():
            break
        d = np.zeros_like(X)
        d[solvable] = np.linalg.solve(H[solvable], -g[solvable][..., None])[..., 0]
        X = X + d
    return X


def _triangulate_numpy(
    points2d: np.ndarray,
    confidence: np.ndarray,
    projections: np.ndarray,
    min_confidence: float,
    min_views: int,
    robust: bool,
    threshold_px: float,
    refine_iters: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    pts, conf, P = points2d, confidence, projections
    V, N = conf.shape
    valid = _np_valid(pts, conf, P, min_confidence)
    nvalid = valid.sum(0)
    status = np.zeros(N, dtype=np.int8)
    X, ok = _np_dlt(pts, conf, P, valid)
    enough = nvalid >= min_views
    status[~enough] = core.FEW_VIEWS
    status[enough & ~ok] = core.DEGENERATE
    X[~(enough & ok)] = np.nan
    use = valid & (enough & ok)[None]
    if robust:
        e = np.where(valid, _np_reproj(pts, P, X), 0.0)
        need = enough & ok & ~(np.nan_to_num(e, nan=np.inf).max(0) <= threshold_px)
        if need.any():
            idx = np.flatnonzero(need)
            pv, cv, vv = pts[:, idx], conf[:, idx], valid[:, idx]
            best_cnt = np.zeros(len(idx), dtype=np.int64)
            best_cost = np.full(len(idx), np.inf)
            best = np.zeros((V, len(idx)), dtype=bool)
            for a in range(V):
                for b in range(a + 1, V):
                    pair = vv[a] & vv[b]
                    if not pair.any():
                        continue
                    u = np.zeros_like(vv)
                    u[a] = u[b] = True
                    Xp, okp = _np_dlt(pv, cv, P, u & pair[None])
                    ep = _np_reproj(pv, P, Xp)
                    with np.errstate(invalid="ignore"):
                        inl = vv & (ep < threshold_px)
                    cnt = inl.sum(0)
                    cost = np.where(inl, ep, 0.0).sum(0)
                    better = pair & okp & ((cnt > best_cnt) | ((cnt == best_cnt) & (cost < best_cost)))
                    best_cnt = np.where(better, cnt, best_cnt)
                    best_cost = np.where(better, cost, best_cost)
                    best = np.where(better[None], inl, best)
            fail = best_cnt < min_views
            Xr, okr = _np_dlt(pv, cv, P, best)
            er = _np_reproj(pv, P, Xr)
            with np.errstate(invalid="ignore"):
                inl2 = vv & (er < threshold_px)
            cnt2 = inl2.sum(0)
            again = (cnt2 >= min_views) & (inl2 != best).any(0) & okr
            use_r = np.where((cnt2 >= min_views)[None], inl2, best)
            if again.any():
                X2, ok2 = _np_dlt(pv, cv, P, use_r)
                Xr = np.where(again[:, None], X2, Xr)
                okr = np.where(again, ok2, okr)
            n_used = np.where(cnt2 >= min_views, cnt2, best_cnt)
            st = np.where(n_used < vv.sum(0), core.OUTLIERS_REJECTED, 0).astype(np.int8)
            st = np.where(~okr, core.DEGENERATE, st)
            st = np.where(fail, core.NO_CONSENSUS, st).astype(np.int8)
            Xr[fail | ~okr] = np.nan
            X[idx] = Xr
            status[idx] = st
            use[:, idx] = use_r & ~(fail | ~okr)[None]
    good = status & (core.FEW_VIEWS | core.DEGENERATE | core.NO_CONSENSUS) == 0
    if refine_iters > 0 and good.any():
        Xg = _np_refine(pts[:, good], conf[:, good], P, use[:, good], X[good], refine_iters)
        bad = ~np.isfinite(Xg).all(-1)
        Xg[bad] = np.nan
        gi = np.flatnonzero(good)
        status[gi[bad]] |= core.DEGENERATE
        X[good] = Xg
        good = status & (core.FEW_VIEWS | core.DEGENERATE | core.NO_CONSENSUS) == 0
    err = np.where(valid & good[None], _np_reproj(pts, P, X), np.nan)
    nocons = (status & core.NO_CONSENSUS) != 0
    err = np.where(valid & nocons[None], np.inf, err)
    inliers = use & good[None]
    return X, err, inliers, status


# -- Numba CPU and CUDA: generated from the scalar solver ----------------------------------------


def _example() -> tuple[object, ...]:
    P = np.zeros((2, 3, 4))
    P[:, 0, 0] = P[:, 1, 1] = P[:, 2, 2] = 1.0
    P[1, 0, 3] = -1.0
    return np.zeros((2, 1, 2)), np.ones((2, 1)), P, 0.0, 2, False, 15.0, 0


register_loop(
    "fusion.triangulate",
    ItemLoop(
        scalar=core.solve_point,
        params=("points2d", "confidence", "projections", "min_confidence", "min_views", "robust", "threshold_px",
                "refine_iters"),
        items="confidence.shape[1]",
        call="points2d, confidence, projections, i, confidence.shape[0], min_confidence, min_views, robust, "
             "threshold_px, refine_iters, valid, use, best, M, E, X4, H, g, X, err, inl",
        store=("status[i]",),
        allocate=(
            Output("X", "(n, 3)"),
            Output("err", "(confidence.shape[0], n)"),
            Output("inl", "(confidence.shape[0], n)", "bool_"),
            Output("status", "(n,)", "int8"),
        ),
        scratch=(
            Scratch("valid", "confidence.shape[0]", "int64", cuda_shape=CUDA_MAX_VIEWS, limit="views"),
            Scratch("use", "confidence.shape[0]", "int64", cuda_shape=CUDA_MAX_VIEWS, limit="views"),
            Scratch("best", "confidence.shape[0]", "int64", cuda_shape=CUDA_MAX_VIEWS, limit="views"),
            Scratch("M", "(4, 4)"),
            Scratch("E", "(4, 4)"),
            Scratch("X4", "4"),
            Scratch("H", "(3, 3)"),
            Scratch("g", "3"),
        ),
    ),
    numpy=_triangulate_numpy,
    example=_example,
)  # fmt: skip


# -- public API -----------------------------------------------------------------------------


def triangulate_points(
    points2d: np.ndarray,
    confidence: np.ndarray,
    projections: np.ndarray,
    *,
    min_confidence: float = 0.0,
    min_views: int = 2,
    robust: bool = False,
    threshold_px: float = 15.0,
    refine_iters: int = 0,
    tier: str = "auto",
) -> TriangulationResult:
    """Triangulate a batch of points seen by ``V`` cameras.

    Args:
        points2d: ``(V, *batch, 2)`` undistorted pixels (NaN = not seen); any batch shape,
            e.g. frames × persons × joints.
        confidence: ``(V, *batch)`` weights (NaN, inf, or ``<= min_confidence`` = not seen).
        projections: ``(V, 3, 4)`` camera matrices ``K [R | t]`` (``camera_from_world``).
        min_confidence: observations at or below this are left out.
        min_views: views needed for a point (at least 2).
        robust: reject outlier views (see the module docstring).
        threshold_px: reprojection error above which a view is an outlier (robust mode).
        refine_iters: Gauss–Newton iterations after the linear solution (0: none).
        tier: ``numpy``, ``cpu``, ``cuda`` or ``auto`` (``auto`` runs more than
            :data:`CUDA_MAX_VIEWS` views on the cpu tier; ``cuda`` refuses them with a
            :class:`~sensorfusion.ConfigError`).

    Never raises on bad numbers: failures are NaN points with :class:`TriangulationStatus` bits.
    """
    pts = np.asarray(points2d, dtype=np.float64)
    conf = np.asarray(confidence, dtype=np.float64)
    P = np.ascontiguousarray(projections, dtype=np.float64)
    if pts.ndim < 2 or pts.shape[-1] != 2:
        raise ValueError(f"points2d must be (V, ..., 2), got {pts.shape}")
    V = pts.shape[0]
    batch = pts.shape[1:-1]
    if conf.shape != (V, *batch):
        raise ValueError(f"confidence must be {(V, *batch)}, got {conf.shape}")
    if P.shape != (V, 3, 4):
        raise ValueError(f"projections must be ({V}, 3, 4), got {P.shape}")
    N = math.prod(batch)
    fn = get_kernel("fusion.triangulate", check_limits("fusion.triangulate", tier, views=V))
    X, err, inl, status = fn(
        np.ascontiguousarray(pts.reshape(V, N, 2)),
        np.ascontiguousarray(conf.reshape(V, N)),
        P,
        float(min_confidence),
        max(2, int(min_views)),
        bool(robust),
        float(threshold_px),
        int(refine_iters),
    )
    return TriangulationResult(
        points3d=X.reshape(*batch, 3),
        reprojection_error_px=err.reshape(V, *batch),
        inliers=inl.reshape(V, *batch),
        status=status.reshape(batch),
    )
