"""Per-observation evidence the model weighs, computed with the SDK's own kernels (numpy side).

For chunks of frames ``kp (N, L, V, J, 3)`` (raw pixels + confidence) of person tracks:

* the SDK's robust triangulation per frame (``sensorfusion.fusion.triangulate_points``:
  outlier views rejected, Gauss–Newton refined) — through the Numba CPU or CUDA tier, where it
  pays (tens of thousands of points per call: about 12× the numpy tier on 2 cores);
* per observation: its reprojection error against that consensus, whether it was an inlier,
  whether the consensus failed, its jump against the same view's median over ±3 frames, its
  error against the consensus median-filtered over ±4 frames (catches a run where the
  consensus itself is wrong), the fraction of views that see the joint;
* per view: the distance from the camera to the person (for angular weighting);
* a prior position per joint: the consensus with every gap linearly filled (what the
  spatio-temporal solve falls back to where a joint is seen nowhere in its window).

Pixel errors are divided by ``focal_px / 1000`` ("pixels at a 1000 px focal length") so a
model transfers across image resolutions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sensorfusion.fusion import quiet_nanmean, quiet_nanmedian, triangulate_points

from ._views import ViewGeometry

__all__ = ["NUM_FEATURES", "ChunkFeatures", "FeatureSettings", "compute_features", "fill_prior"]

NUM_FEATURES = 9


@dataclass(frozen=True)
class FeatureSettings:
    """The consensus triangulation's settings (as the ``triangulate``/``multiperson`` stages)."""

    min_confidence: float = 0.3
    threshold_px: float = 15.0
    refine_iters: int = 2
    tier: str = "auto"


@dataclass(frozen=True)
class ChunkFeatures:
    """Arrays for ``N`` chunks of ``L`` frames: ``features (N, L, V, J, F)``, ``present (N, L, V, J)``,
    ``consensus (N, L, J, 3)`` (NaN where it failed), ``prior (N, L, J, 3)``, ``depth_m (N, L, V)``,
    ``inlier (N, L, V, J)``."""

    features: np.ndarray
    present: np.ndarray
    consensus: np.ndarray
    prior: np.ndarray
    depth_m: np.ndarray
    inlier: np.ndarray


def _median_window(x: np.ndarray, radius: int, axis: int, *, causal: bool = False) -> np.ndarray:
    """NaN-median over a centred window of ``2 radius + 1`` along ``axis`` (edges: shorter windows);
    ``causal``: the window ends at the frame instead."""
    x = np.moveaxis(x, axis, -1)
    before, after = (2 * radius, 0) if causal else (radius, radius)
    pad = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(before, after)], constant_values=np.nan)
    win = np.lib.stride_tricks.sliding_window_view(pad, 2 * radius + 1, axis=-1)
    med = quiet_nanmedian(win, axis=-1)
    return np.moveaxis(med, -1, axis)


def fill_prior(X: np.ndarray) -> np.ndarray:
    """``X (N, L, J, 3)`` with NaN gaps filled along ``L``: linear inside, held at the ends; a joint
    never seen in a chunk gets the chunk's mean joint position (the person's centre)."""
    out = X.copy()
    N, L, J, _ = X.shape
    idx = np.arange(L)
    for n in range(N):
        for j in range(J):
            good = np.isfinite(X[n, :, j]).all(-1)
            if good.all():
                continue
            if good.any():
                gi = np.flatnonzero(good)
                for a in range(3):
                    out[n, :, j, a] = np.interp(idx, gi, X[n, gi, j, a])
        centre = quiet_nanmean(out[n].reshape(-1, 3), axis=0)
        centre = np.where(np.isfinite(centre), centre, 0.0)
        out[n] = np.where(np.isfinite(out[n]), out[n], centre)
    return out


def compute_features(
    kp: np.ndarray,
    geometries: Sequence[ViewGeometry],
    settings: FeatureSettings,
    *,
    consensus: np.ndarray | None = None,
    inlier: np.ndarray | None = None,
    recompute: np.ndarray | None = None,
    causal: bool = False,
) -> ChunkFeatures:
    """Features of chunks ``kp (N, L, V, J, 3)``.

    With ``consensus (N, L, J, 3)`` and ``inlier (N, L, V, J)`` already known (a clean chunk), the
    robust triangulation is redone only where ``recompute (N, L, J)`` is True (the points an
    augmentation changed); every other feature is recomputed from ``kp``. ``causal``: the temporal
    medians look only at past frames (the live estimator has no future).
    """
    kp = np.asarray(kp, dtype=np.float64)
    N, L, V, J, _ = kp.shape
    conf = np.nan_to_num(kp[..., 2], nan=0.0, posinf=0.0, neginf=0.0)
    present = np.isfinite(kp[..., :2]).all(-1) & (conf > 0)
    und = np.empty((N, L, V, J, 2))
    for v, g in enumerate(geometries):
        und[:, :, v] = g.undistort(kp[:, :, v, :, :2])
    present &= np.isfinite(und).all(-1)
    P = np.stack([g.P for g in geometries])
    scale = np.array([g.focal_px / 1000.0 for g in geometries])  # (V,)
    pts = np.moveaxis(und, 2, 0)  # (V, N, L, J, 2)
    cw = np.moveaxis(np.where(present, conf, 0.0), 2, 0)
    if consensus is not None and inlier is not None:
        X = np.array(consensus, dtype=np.float64, copy=True)
        inl = np.moveaxis(np.asarray(inlier, dtype=bool), 2, 0).copy()
        todo = np.zeros((N, L, J), dtype=bool) if recompute is None else np.asarray(recompute, dtype=bool)
        sel = np.flatnonzero(todo.reshape(-1))
        if sel.size:
            r = triangulate_points(
                pts.reshape(V, -1, 2)[:, sel],
                cw.reshape(V, -1)[:, sel],
                P,
                min_confidence=settings.min_confidence,
                robust=True,
                threshold_px=settings.threshold_px,
                refine_iters=settings.refine_iters,
                tier=settings.tier,
            )
            Xf = X.reshape(-1, 3)
            Xf[sel] = r.points3d
            X = Xf.reshape(N, L, J, 3)
            inl_f = inl.reshape(V, -1)
            inl_f[:, sel] = r.inliers
            inl = inl_f.reshape(V, N, L, J)
        inl &= np.moveaxis(present, 2, 0)
    else:
        r = triangulate_points(
            pts,
            cw,
            P,
            min_confidence=settings.min_confidence,
            robust=True,
            threshold_px=settings.threshold_px,
            refine_iters=settings.refine_iters,
            tier=settings.tier,
        )
        X = r.points3d
        inl = np.asarray(r.inliers)
    err = _reprojection_px(pts, P, X)  # (V, N, L, J)
    ok_x = np.asarray(np.isfinite(X).all(-1))  # (N, L, J)
    Xs = _median_window(X, 4, axis=1, causal=causal)
    err_s = _reprojection_px(pts, P, Xs)
    ok_s = np.asarray(np.isfinite(Xs).all(-1))
    dev = np.linalg.norm(pts - _median_window(pts, 3, axis=2, causal=causal), axis=-1)  # (V, N, L, J)
    sc = scale[:, None, None, None]
    n_seen = present.sum(2) / V  # (N, L, J)

    def squash(e: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.log1p(np.nan_to_num(np.minimum(e / sc, 1e4), nan=0.0, posinf=1e4) / 10.0)
        return out

    feats = np.zeros((V, N, L, J, NUM_FEATURES), dtype=np.float32)
    feats[..., 0] = np.moveaxis(np.where(present, conf, 0.0), 2, 0)
    feats[..., 1] = np.moveaxis(present, 2, 0)
    feats[..., 2] = np.where(ok_x[None], squash(err), 0.0)
    feats[..., 3] = inl
    feats[..., 4] = ~ok_x[None]
    feats[..., 5] = squash(dev)
    feats[..., 6] = n_seen[None]
    feats[..., 7] = np.where(ok_s[None], squash(err_s), 0.0)
    feats[..., 8] = ~ok_s[None]
    feats *= np.moveaxis(present, 2, 0)[..., None]  # nothing about an observation that is not there
    prior = fill_prior(np.where(ok_x[..., None], X, Xs))
    centres = np.stack([-np.linalg.solve(g.P[:, :3], g.P[:, 3]) for g in geometries])  # (V, 3)
    root = quiet_nanmean(np.where(np.isfinite(prior), prior, np.nan), axis=2)  # (N, L, 3)
    depth = np.linalg.norm(root[:, :, None, :] - centres[None, None], axis=-1)  # (N, L, V)
    depth = np.where(np.isfinite(depth) & (depth > 0.1), depth, 3.0)
    return ChunkFeatures(
        features=np.moveaxis(feats, 0, 2),
        present=present,
        consensus=X,
        prior=prior,
        depth_m=depth,
        inlier=np.moveaxis(inl, 0, 2).astype(bool),
    )


def _reprojection_px(pts: np.ndarray, P: np.ndarray, X: np.ndarray) -> np.ndarray:
    """``(V, *)`` pixel distance of ideal pixels ``pts (V, *, 2)`` to ``X (*, 3)`` projected by ``P``."""
    Xh = np.concatenate([X, np.ones((*X.shape[:-1], 1))], axis=-1)
    q = np.einsum("vij,...j->v...i", P, Xh)
    with np.errstate(invalid="ignore", divide="ignore"):
        uv = q[..., :2] / q[..., 2:3]
        e = np.linalg.norm(uv - pts, axis=-1)
    return np.where(q[..., 2] > 0, e, np.inf)
