"""Run a trained model over whole recordings (offline) or over a live history (causal).

Offline, a track is cut into segments of ``segment`` frames, each extended by the model's
reach (``radius + refiner_radius`` frames on both sides), so every output frame sees its full
window; the evidence of a whole track is one call of the SDK's robust triangulation through
the chosen kernel tier (``auto``: CUDA on a GPU, else Numba CPU).

Per frame and joint the outputs mirror the ``multiperson`` stage's: the 3D joint, ``views``
(observations the model trusted, weight ≥ 0.5, in that frame), ``reprojection_error_px`` (mean
pixel distance of the joint to those observations) and ``status`` bits
(:class:`sensorfusion.fusion.TriangulationStatus`: ``FEW_VIEWS`` when fewer than two views were
trusted — the point then comes from the neighbouring frames and the body —,
``OUTLIERS_REJECTED`` when an observation was down-weighted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from sensorfusion.fusion import TriangulationStatus

from ._checkpoint import Checkpoint
from ._data import Batch, RigContext, TrackData, model_inputs, prepare_recording, skeleton_info
from ._features import FeatureSettings, compute_features
from ._model import SelfSupFusionModel
from ._recording import Recording

__all__ = ["TrackEstimate", "estimate_outputs", "fuse_recording", "run_model"]


@dataclass(frozen=True)
class TrackEstimate:
    """One track's estimate over frames ``start .. start + T - 1`` of its recording."""

    track_id: int
    start: int
    joints: np.ndarray  # (T, J, 3) world metres
    joints_st: np.ndarray  # (T, J, 3) before the refiner
    weights: np.ndarray  # (T, V, J)
    views: np.ndarray  # (T, J) int
    reprojection_error_px: np.ndarray  # (T, J)
    status: np.ndarray  # (T, J) int8


def run_model(
    model: SelfSupFusionModel,
    batch: Batch,
    contexts: Sequence[RigContext],
    *,
    device: str | torch.device = "cpu",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(joints, joints_st, weights)`` of a batch, as numpy (no gradients)."""
    with torch.no_grad():
        out = model(**model_inputs(batch, contexts, device=device))
    return out.joints.cpu().numpy(), out.joints_st.cpu().numpy(), out.weights.cpu().numpy()


def estimate_outputs(
    joints: np.ndarray, weights: np.ndarray, keypoints: np.ndarray, ctx: RigContext
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``views (T, J)``, ``reprojection_error_px (T, J)``, ``status (T, J)`` of ``joints (T, J, 3)``
    given the weights ``(T, V, J)`` and the raw keypoints ``(T, V, J, 3)``."""
    present = np.isfinite(keypoints[..., :2]).all(-1) & (np.nan_to_num(keypoints[..., 2]) > 0)
    trusted = present & (weights >= 0.5)
    views = trusted.sum(1)
    with torch.no_grad():
        uv, ok = ctx.rig.project(torch.as_tensor(joints, dtype=ctx.rig.camera_from_world.dtype))
    uv_np = np.moveaxis(uv.numpy(), 0, 1)  # (T, V, J, 2)
    ok_np = np.moveaxis(ok.numpy(), 0, 1)
    e = np.linalg.norm(uv_np - keypoints[..., :2], axis=-1)
    use = trusted & ok_np
    with np.errstate(invalid="ignore", divide="ignore"):
        err = np.where(use.any(1), np.where(use, e, 0.0).sum(1) / use.sum(1), np.nan)
    status = np.zeros(views.shape, dtype=np.int8)
    status |= np.where(views < 2, int(TriangulationStatus.FEW_VIEWS), 0).astype(np.int8)
    status |= np.where((present & ~trusted).any(1), int(TriangulationStatus.OUTLIERS_REJECTED), 0).astype(np.int8)
    finite = np.isfinite(joints).all(-1)
    err = np.where(finite, err, np.nan)
    return views.astype(np.int64), err, status


def _track_estimate(
    model: SelfSupFusionModel,
    tr: TrackData,
    ctx: RigContext,
    *,
    causal: bool,
    segment: int,
    device: str | torch.device,
) -> TrackEstimate:
    c = model.config
    M = c.radius + c.refiner_radius
    T = tr.keypoints.shape[0]
    J = tr.keypoints.shape[2]
    V = tr.keypoints.shape[1]
    joints = np.full((T, J, 3), np.nan)
    joints_st = np.full((T, J, 3), np.nan)
    weights = np.zeros((T, V, J))
    for a in range(0, T, segment):
        b = min(T, a + segment)
        lo, hi = max(0, a - M), min(T, b + M)
        f = tr.features
        feats = compute_features(
            tr.keypoints[None, lo:hi],
            ctx.geometries,
            FeatureSettings(),
            consensus=f.consensus[:, lo:hi],
            inlier=f.inlier[:, lo:hi],
        )
        batch = Batch(
            recording=np.zeros(1, dtype=np.int64),
            keypoints=tr.keypoints[None, lo:hi],
            target=tr.keypoints[None, lo:hi],
            features=feats,
            bone_ref_m=tr.bone_ref_m[None],
            causal=np.array([causal]),
            valid_frame=np.ones((1, hi - lo), dtype=bool),
        )
        X, Xs, w = run_model(model, batch, [ctx], device=device)
        joints[a:b] = X[0, a - lo : b - lo]
        joints_st[a:b] = Xs[0, a - lo : b - lo]
        weights[a:b] = w[0, a - lo : b - lo]
    views, err, status = estimate_outputs(joints, weights, tr.keypoints, ctx)
    return TrackEstimate(tr.track_id, 0, joints, joints_st, weights, views, err, status)


def fuse_recording(
    checkpoint: Checkpoint,
    recording: Recording,
    *,
    tier: str = "auto",
    causal: bool = False,
    segment: int = 512,
    device: str | torch.device = "cpu",
) -> list[TrackEstimate]:
    """Every track of ``recording`` through the model (see the module docstring)."""
    checkpoint.check_compatible(skeleton=recording.skeleton, views=recording.views, where=recording.name)
    info = skeleton_info(recording.skeleton)
    settings = FeatureSettings(
        min_confidence=checkpoint.features.min_confidence,
        threshold_px=checkpoint.features.threshold_px,
        refine_iters=checkpoint.features.refine_iters,
        tier=tier,
    )
    ctx, tracks = prepare_recording(recording, 0, info, settings)
    model = checkpoint.model.to(device).eval()
    out = []
    for tr, rtr in zip(tracks, recording.tracks, strict=True):
        est = _track_estimate(model, tr, ctx, causal=causal, segment=segment, device=device)
        out.append(
            TrackEstimate(
                est.track_id,
                rtr.start,
                est.joints,
                est.joints_st,
                est.weights,
                est.views,
                est.reprojection_error_px,
                est.status,
            )
        )
    return out
