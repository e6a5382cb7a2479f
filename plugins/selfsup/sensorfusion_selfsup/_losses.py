"""Self-supervised losses: every term is computed from 2D keypoints, calibration and the model's own
3D — never from 3D ground truth.

* ``reprojection`` — robust (Cauchy, scale 15 px at a 1000 px focal length) distance of each
  joint projected through the differentiable camera models to every view's *recorded* 2D,
  weighted by the detector's confidence. The model sees a corrupted copy of the input, so this
  also scores what it recovered for observations it never saw.
* ``consistency`` — the same chunk fused from clean and from corrupted 2D (views dropped,
  joints occluded, swapped) must give the same 3D (Huber on the corrupted pass; the clean pass
  is the teacher and gets no gradient from this term).
* ``bone`` — each bone keeps its track's length (the median over the track of the SDK's robust
  triangulation) and its length is constant within a chunk.
* ``symmetry`` — a left bone is as long as its right twin.
* ``smoothness`` — small 3D accelerations (robust).

Every term is dimensionless: metres are divided by 2 cm, accelerations by 1 cm/frame².
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import torch

from ._data import RigContext, SkeletonInfo

__all__ = ["LossWeights", "bone_lengths_t", "losses"]


@dataclass(frozen=True)
class LossWeights:
    reprojection: float = 1.0
    consistency: float = 0.5
    bone: float = 0.5
    symmetry: float = 0.2
    smoothness: float = 0.2

    def as_dict(self) -> dict[str, float]:
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}


REPROJECTION_SCALE_PX = 15.0


def bone_lengths_t(X: torch.Tensor, bones: Sequence[tuple[int, int]]) -> torch.Tensor:
    a = [b[0] for b in bones]
    b = [b[1] for b in bones]
    d = X[..., a, :] - X[..., b, :]
    return torch.sqrt((d * d).sum(-1) + 1e-12)


def _huber(x: torch.Tensor, delta: float) -> torch.Tensor:
    ax = x.abs()
    return torch.where(ax < delta, 0.5 * x * x / delta, ax - 0.5 * delta)


def reprojection_loss(
    X: torch.Tensor,
    target: torch.Tensor,
    valid_frame: torch.Tensor,
    recording: Sequence[int],
    contexts: Sequence[RigContext],
) -> torch.Tensor:
    """Mean confidence-weighted Cauchy loss of ``X (B, L, J, 3)`` against ``target (B, L, V, J, 3)``."""
    total = X.new_zeros(())
    weight = X.new_zeros(())
    rec = torch.as_tensor(list(recording))
    for r in torch.unique(rec).tolist():
        sel = torch.nonzero(rec == r)[:, 0]
        ctx = contexts[int(r)]
        uv, ok = ctx.rig.project(X[sel].to(ctx.rig.camera_from_world.dtype))  # (V, b, L, J, 2)
        uv = uv.to(X.dtype).permute(1, 2, 0, 3, 4)
        ok = ok.permute(1, 2, 0, 3)
        tg = target[sel]
        conf = tg[..., 2]
        seen = torch.isfinite(tg[..., :2]).all(-1) & (conf > 0) & ok & valid_frame[sel][:, :, None, None]
        diff = torch.where(seen[..., None], uv - torch.nan_to_num(tg[..., :2]), torch.zeros_like(uv))
        e = torch.linalg.vector_norm(diff, dim=-1) / ctx.focal_scale.to(X.dtype)[None, None, :, None]
        rho = torch.log1p((e / REPROJECTION_SCALE_PX) ** 2)
        w = torch.where(seen, conf, torch.zeros_like(conf))
        total = total + (w * rho).sum()
        weight = weight + w.sum()
    return total / weight.clamp_min(1e-9)


def losses(
    *,
    X: torch.Tensor,
    X_teacher: torch.Tensor | None,
    target: torch.Tensor,
    valid_frame: torch.Tensor,
    bone_ref_m: torch.Tensor,
    recording: Sequence[int],
    contexts: Sequence[RigContext],
    info: SkeletonInfo,
    weights: LossWeights,
) -> dict[str, torch.Tensor]:
    """Every term (unweighted) and ``total`` (weighted sum)."""
    vf = valid_frame
    out: dict[str, torch.Tensor] = {}
    out["reprojection"] = reprojection_loss(X, target, vf, recording, contexts)
    if X_teacher is not None:
        d = torch.linalg.vector_norm(X - X_teacher.detach(), dim=-1) / 0.02  # (B, L, J)
        out["consistency"] = (_huber(d, 1.0) * vf[..., None]).sum() / (vf.sum() * X.shape[2]).clamp_min(1)
    else:
        out["consistency"] = X.new_zeros(())
    lengths = bone_lengths_t(X, info.bones)  # (B, L, nb)
    ref = bone_ref_m.to(X.dtype)
    has_ref = torch.isfinite(ref)[:, None, :] & vf[..., None]
    dev = torch.where(has_ref, (lengths - torch.nan_to_num(ref)[:, None, :]) / 0.02, torch.zeros_like(lengths))
    n_frames = vf.sum(1, keepdim=True).clamp_min(1)[..., None]
    mean_len = (lengths * vf[..., None]).sum(1, keepdim=True) / n_frames
    var = torch.where(vf[..., None], (lengths - mean_len) / 0.02, torch.zeros_like(lengths))
    nb = max(len(info.bones), 1)
    out["bone"] = (_huber(dev, 1.0).sum() + _huber(var, 1.0).sum()) / (vf.sum() * nb).clamp_min(1)
    if info.symmetric_bones:
        li = [a for a, _ in info.symmetric_bones]
        ri = [b for _, b in info.symmetric_bones]
        sd = (lengths[..., li] - lengths[..., ri]) / 0.02
        out["symmetry"] = (_huber(sd, 1.0) * vf[..., None]).sum() / (vf.sum() * len(li)).clamp_min(1)
    else:
        out["symmetry"] = X.new_zeros(())
    if X.shape[1] >= 3:
        acc = X[:, 2:] - 2 * X[:, 1:-1] + X[:, :-2]
        m = vf[:, 2:] & vf[:, 1:-1] & vf[:, :-2]
        a = torch.linalg.vector_norm(acc, dim=-1) / 0.01
        out["smoothness"] = (_huber(a, 1.0) * m[..., None]).sum() / (m.sum() * X.shape[2]).clamp_min(1)
    else:
        out["smoothness"] = X.new_zeros(())
    w = weights.as_dict()
    out["total"] = sum((w[k] * out[k] for k in w), X.new_zeros(()))
    return out
