"""From :class:`Recording` objects to model inputs: per-track evidence, chunks, batches.

Everything here is derived from 2D keypoints and calibration: the per-track bone-length
references (medians of the SDK's robust triangulation), the recording's up direction (the
median torso direction), the features. No 3D ground truth exists on this path
(:mod:`._recording` guarantees it).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from sensorfusion import ConfigError, SkeletonSpec

from ._features import ChunkFeatures, FeatureSettings, compute_features
from ._recording import Recording
from ._views import ViewGeometry, view_geometries
from .camera import TorchRig

__all__ = [
    "Batch",
    "RigContext",
    "SkeletonInfo",
    "TrackData",
    "model_inputs",
    "prepare_recording",
    "skeleton_info",
]


@dataclass(frozen=True)
class SkeletonInfo:
    """What the losses and the model need to know about a skeleton."""

    name: str
    num_joints: int
    bones: tuple[tuple[int, int], ...]
    mirror: tuple[int, ...]  # index of each joint's left/right twin (itself on the midline)
    symmetric_bones: tuple[tuple[int, int], ...]  # pairs of bone indices (left bone, right bone)
    left_hip: int
    right_hip: int
    left_shoulder: int
    right_shoulder: int


def skeleton_info(skeleton: SkeletonSpec) -> SkeletonInfo:
    names = list(skeleton.joints)
    need = ["left_hip", "right_hip", "left_shoulder", "right_shoulder"]
    missing = [n for n in need if n not in names]
    if missing:
        raise ConfigError(
            f"skeleton {skeleton.name} lacks {', '.join(missing)}: the model needs hips and shoulders "
            "to place the person's own frame",
            field_path="skeleton",
            value=skeleton.name,
        )
    bones = tuple(skeleton.edges) or tuple((j, p) for j, p in enumerate(skeleton.parents) if p >= 0)

    def twin(n: str) -> str:
        if n.startswith("left_"):
            return "right_" + n[5:]
        if n.startswith("right_"):
            return "left_" + n[6:]
        return n

    mirror = tuple(names.index(twin(n)) if twin(n) in names else i for i, n in enumerate(names))
    index = {tuple(sorted(b)): k for k, b in enumerate(bones)}
    sym = []
    for k, (a, b) in enumerate(bones):
        ma, mb = mirror[a], mirror[b]
        other = index.get(tuple(sorted((ma, mb))))
        if other is not None and other != k and names[a].startswith("left_") | names[b].startswith("left_"):
            sym.append((k, other))
    return SkeletonInfo(
        name=skeleton.name,
        num_joints=len(names),
        bones=bones,
        mirror=mirror,
        symmetric_bones=tuple(sym),
        left_hip=names.index("left_hip"),
        right_hip=names.index("right_hip"),
        left_shoulder=names.index("left_shoulder"),
        right_shoulder=names.index("right_shoulder"),
    )


@dataclass
class RigContext:
    """One recording's geometry, in numpy (the SDK's kernels) and in torch (the camera models)."""

    geometries: list[ViewGeometry]
    rig: TorchRig
    centers: torch.Tensor  # (V, 3)
    focal_scale: torch.Tensor  # (V,) focal_px / 1000
    up: torch.Tensor  # (3,)


@dataclass
class TrackData:
    """A track with its clean (unaugmented) evidence over all its frames."""

    recording: int
    track_id: int
    keypoints: np.ndarray  # (T, V, J, 3)
    features: ChunkFeatures  # N = 1, L = T
    bone_ref_m: np.ndarray  # (nb,) NaN where unknown


def bone_lengths(X: np.ndarray, bones: Sequence[tuple[int, int]]) -> np.ndarray:
    a = np.asarray([b[0] for b in bones])
    b = np.asarray([b[1] for b in bones])
    return np.asarray(np.linalg.norm(X[..., a, :] - X[..., b, :], axis=-1))


def prepare_recording(
    rec: Recording, index: int, info: SkeletonInfo, settings: FeatureSettings, *, dtype: torch.dtype = torch.float32
) -> tuple[RigContext, list[TrackData]]:
    """Clean evidence of every track of ``rec`` and its geometry."""
    geoms = view_geometries(rec.calibration, rec.views)
    rig = TorchRig.from_calibration(rec.calibration, rec.views, dtype=dtype)
    tracks = []
    torso = []
    for tr in rec.tracks:
        feats = compute_features(tr.keypoints[None], geoms, settings)
        X = feats.consensus[0]
        lengths = bone_lengths(X, info.bones)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ref = np.nanmedian(lengths, axis=0) if len(lengths) else np.full(len(info.bones), np.nan)
            sh = 0.5 * (X[:, info.left_shoulder] + X[:, info.right_shoulder])
            hp = 0.5 * (X[:, info.left_hip] + X[:, info.right_hip])
        torso.append(sh - hp)
        tracks.append(TrackData(index, tr.track_id, tr.keypoints, feats, ref))
    up = np.array([0.0, 0.0, 1.0])
    if torso:
        t = np.concatenate(torso)
        t = t[np.isfinite(t).all(-1)]
        if len(t) >= 5:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                u = t / np.linalg.norm(t, axis=-1, keepdims=True)
                m = np.median(u, axis=0)
            if np.linalg.norm(m) > 0.3:
                up = m / np.linalg.norm(m)
    ctx = RigContext(
        geometries=geoms,
        rig=rig,
        centers=rig.centers_world().to(dtype),
        focal_scale=torch.tensor([g.focal_px / 1000.0 for g in geoms], dtype=dtype),
        up=torch.tensor(up, dtype=dtype),
    )
    return ctx, tracks


@dataclass
class Batch:
    """A batch of ``B`` chunks of ``L`` frames (numpy), all of one skeleton and view count."""

    recording: np.ndarray  # (B,) index into the contexts
    keypoints: np.ndarray  # (B, L, V, J, 3) model input (maybe corrupted)
    target: np.ndarray  # (B, L, V, J, 3) the recorded 2D (reprojection targets)
    features: ChunkFeatures
    bone_ref_m: np.ndarray  # (B, nb)
    causal: np.ndarray  # (B,) bool
    valid_frame: np.ndarray  # (B, L) the frame belongs to the track (padding is False)


def model_inputs(
    batch: Batch,
    contexts: Sequence[RigContext],
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> dict[str, torch.Tensor]:
    """Tensors for :meth:`SelfSupFusionModel.forward` (rays through the camera models)."""
    B, L, V, J, _ = batch.keypoints.shape
    kp = torch.as_tensor(batch.keypoints, dtype=dtype)
    rays = torch.zeros(B, L, V, J, 3, dtype=dtype)
    ray_ok = torch.zeros(B, L, V, J, dtype=torch.bool)
    centers = torch.zeros(B, V, 3, dtype=dtype)
    up = torch.zeros(B, 3, dtype=dtype)
    for r in np.unique(batch.recording):
        sel = torch.as_tensor(np.flatnonzero(batch.recording == r))
        ctx = contexts[int(r)]
        px = kp[sel][..., :2].permute(2, 0, 1, 3, 4)  # (V, b, L, J, 2)
        d, ok = ctx.rig.rays(px.to(ctx.rig.camera_from_world.dtype))
        rays[sel] = d.permute(1, 2, 0, 3, 4).to(dtype)
        ray_ok[sel] = ok.permute(1, 2, 0, 3)
        centers[sel] = ctx.centers.to(dtype)
        up[sel] = ctx.up.to(dtype)
    f = batch.features
    present = torch.as_tensor(f.present) & ray_ok
    out = {
        "features": torch.as_tensor(f.features, dtype=dtype),
        "present": present,
        "rays": rays,
        "centers": centers,
        "depth_m": torch.as_tensor(f.depth_m, dtype=dtype),
        "prior": torch.as_tensor(f.prior, dtype=dtype),
        "up": up,
        "causal": torch.as_tensor(batch.causal, dtype=torch.bool),
    }
    return {k: v.to(device) for k, v in out.items()}
