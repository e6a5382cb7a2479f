"""Training: chunks of person tracks, corrupted on purpose, scored by self-supervised losses only.

:func:`train` takes :class:`Recording` objects — 2D keypoints, calibration, frame times — and
nothing else (it raises ``TypeError`` for anything that is not a ``Recording``): there is no
way to hand it 3D ground truth.

One step: sample ``batch_chunks`` chunks of ``chunk_frames`` consecutive frames (tracks chosen
in proportion to their length, a quarter of them causal), corrupt a copy of each
(:mod:`._augment`), compute the evidence of both with the SDK's robust triangulation
(:mod:`._features`; for the corrupted copy only where it changed), fuse both, and minimise the
losses of :mod:`._losses` for both passes (the clean pass teaches consistency to the corrupted
one) plus the reprojection of the stage-2 triangulation (so the observation weights learn
directly). AdamW, cosine learning rate, gradient clipping.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch

from sensorfusion import ConfigError

from ._augment import AugmentSettings, corrupt
from ._checkpoint import Checkpoint
from ._data import Batch, RigContext, SkeletonInfo, TrackData, model_inputs, prepare_recording, skeleton_info
from ._features import NUM_FEATURES, ChunkFeatures, FeatureSettings, compute_features
from ._losses import LossWeights, losses
from ._model import ModelConfig, SelfSupFusionModel
from ._recording import Recording

__all__ = ["TrainResult", "TrainSettings", "train"]


@dataclass(frozen=True)
class TrainSettings:
    """How to train (defaults fit 2 CPU cores)."""

    epochs: int = 20
    batch_chunks: int = 16
    chunk_frames: int = 24
    min_steps_per_epoch: int = 25
    lr: float = 2e-3
    weight_decay: float = 1e-4
    causal_fraction: float = 0.25
    stage2_weight: float = 0.5
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    features: FeatureSettings = field(default_factory=FeatureSettings)
    loss: LossWeights = field(default_factory=LossWeights)
    augment: AugmentSettings = field(default_factory=AugmentSettings)
    radius: int = 4
    refiner_radius: int = 4
    hidden: int = 64
    refiner_hidden: int = 256


@dataclass
class TrainResult:
    checkpoint: Checkpoint
    history: list[dict[str, float]]
    seconds: float
    steps: int


class _Sampler:
    def __init__(
        self,
        tracks: list[TrackData],
        contexts: list[RigContext],
        info: SkeletonInfo,
        settings: TrainSettings,
        rng: np.random.Generator,
    ) -> None:
        self.tracks = [t for t in tracks if t.keypoints.shape[0] > 0]
        self.contexts = contexts
        self.info = info
        self.s = settings
        self.rng = rng
        n = np.array([t.keypoints.shape[0] for t in self.tracks], dtype=np.float64)
        self.p = n / n.sum()
        self.frames = int(n.sum())

    def _slice(self, a: np.ndarray, start: int, L: int, fill: float) -> np.ndarray:
        T = a.shape[0]
        out = np.full((L, *a.shape[1:]), fill, dtype=a.dtype)
        lo, hi = max(start, 0), min(start + L, T)
        if hi > lo:
            out[lo - start : hi - start] = a[lo:hi]
        return out

    def sample(self, B: int) -> tuple[Batch, Batch]:
        L = self.s.chunk_frames
        rng = self.rng
        V = self.tracks[0].keypoints.shape[1]
        recs, kps, augs, changed, cons, inls, valid, bones = [], [], [], [], [], [], [], []
        for _ in range(B):
            tr = self.tracks[int(rng.choice(len(self.tracks), p=self.p))]
            T = tr.keypoints.shape[0]
            start = int(rng.integers(-(L // 4), max(T - 3 * L // 4, -(L // 4) + 1)))
            kp = self._slice(tr.keypoints, start, L, np.nan)
            kp[..., 2] = np.nan_to_num(kp[..., 2])
            ctx = self.contexts[tr.recording]
            focal = ctx.focal_scale.numpy()
            aug, ch = corrupt(
                kp, rng, focal_scale=focal, mirror=self.info.mirror, bones=self.info.bones, settings=self.s.augment
            )
            recs.append(tr.recording)
            kps.append(kp)
            augs.append(aug)
            changed.append(ch.any(axis=1))  # (L, J): the point's views changed
            cons.append(self._slice(tr.features.consensus[0], start, L, np.nan))
            inls.append(self._slice(tr.features.inlier[0], start, L, False))
            v = np.zeros(L, dtype=bool)
            v[max(0, -start) : max(0, min(L, T - start))] = True
            valid.append(v)
            bones.append(tr.bone_ref_m)
        rec = np.asarray(recs)
        kp_a = np.stack(kps)
        aug_a = np.stack(augs)
        causal = rng.random(B) < self.s.causal_fraction
        feats_clean = self._features(rec, kp_a, np.stack(cons), np.stack(inls), None)
        feats_aug = self._features(rec, aug_a, np.stack(cons), np.stack(inls), np.stack(changed))
        common = dict(
            recording=rec, target=kp_a, bone_ref_m=np.stack(bones), causal=causal, valid_frame=np.stack(valid)
        )
        del V
        return Batch(keypoints=kp_a, features=feats_clean, **common), Batch(
            keypoints=aug_a, features=feats_aug, **common
        )

    def _features(
        self, rec: np.ndarray, kp: np.ndarray, cons: np.ndarray, inl: np.ndarray, recompute: np.ndarray | None
    ) -> ChunkFeatures:
        parts: dict[int, ChunkFeatures] = {}
        for r in np.unique(rec):
            sel = np.flatnonzero(rec == r)
            parts[int(r)] = compute_features(
                kp[sel],
                self.contexts[int(r)].geometries,
                self.s.features,
                consensus=cons[sel],
                inlier=inl[sel],
                recompute=None if recompute is None else recompute[sel],
            )
        if len(parts) == 1:
            return next(iter(parts.values()))
        out = {}
        for name in ("features", "present", "consensus", "prior", "depth_m", "inlier"):
            first = getattr(next(iter(parts.values())), name)
            arr = np.empty((len(rec), *first.shape[1:]), dtype=first.dtype)
            for r, f in parts.items():
                arr[rec == r] = getattr(f, name)
            out[name] = arr
        return ChunkFeatures(**out)


def _check_recordings(recordings: Sequence[Recording]) -> SkeletonInfo:
    if not recordings:
        raise ConfigError("nothing to train on: no recordings", field_path="SESSION")
    for r in recordings:
        if not isinstance(r, Recording):
            raise TypeError(f"train() takes Recording objects (2D keypoints + calibration), got {type(r).__name__}")
    first = recordings[0]
    for r in recordings[1:]:
        if r.skeleton.name != first.skeleton.name:
            raise ConfigError(
                f"{r.name} has skeleton {r.skeleton.name}, {first.name} has {first.skeleton.name}: one model per skeleton",
                field_path="SESSION",
                value=r.name,
            )
        if r.num_views != first.num_views:
            raise ConfigError(
                f"{r.name} has {r.num_views} cameras, {first.name} has {first.num_views}: one model per camera count",
                field_path="SESSION",
                value=r.name,
            )
    if not any(t.num_frames for r in recordings for t in r.tracks):
        raise ConfigError(
            "no person tracks in the recordings (no one was seen in two cameras at once)",
            field_path="SESSION",
            value=[r.name for r in recordings],
        )
    return skeleton_info(first.skeleton)


def train(
    recordings: Sequence[Recording],
    settings: TrainSettings = TrainSettings(),
    *,
    progress: Callable[[int, int, dict[str, float]], None] | None = None,
    epoch_end: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train a model on ``recordings`` (see the module docstring).

    ``progress(step, total_steps, last_losses)`` is called after every step and
    ``epoch_end(epoch, mean_losses)`` after every epoch.
    """
    info = _check_recordings(recordings)
    s = settings
    if s.threads:
        torch.set_num_threads(s.threads)
    torch.manual_seed(s.seed)
    rng = np.random.default_rng(s.seed)
    t0 = time.perf_counter()
    contexts: list[RigContext] = []
    tracks: list[TrackData] = []
    for i, rec in enumerate(recordings):
        ctx, trs = prepare_recording(rec, i, info, s.features)
        contexts.append(ctx)
        tracks.extend(trs)
    sampler = _Sampler(tracks, contexts, info, s, rng)
    V = recordings[0].num_views
    config = ModelConfig(
        num_views=V,
        num_joints=info.num_joints,
        num_features=NUM_FEATURES,
        left_hip=info.left_hip,
        right_hip=info.right_hip,
        radius=s.radius,
        refiner_radius=s.refiner_radius,
        hidden=s.hidden,
        refiner_hidden=s.refiner_hidden,
    )
    device = torch.device(s.device)
    model = SelfSupFusionModel(config).to(device)
    per_epoch = max(s.min_steps_per_epoch, math.ceil(sampler.frames / (s.batch_chunks * s.chunk_frames)))
    total = per_epoch * s.epochs
    opt = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=s.lr, total_steps=max(total, 1), pct_start=0.1)
    history: list[dict[str, float]] = []
    step = 0
    for epoch in range(s.epochs):
        sums: dict[str, float] = {}
        for _ in range(per_epoch):
            clean, aug = sampler.sample(s.batch_chunks)
            terms = _step(model, clean, aug, contexts, info, s, device)
            opt.zero_grad(set_to_none=True)
            terms["total"].backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            last = {k: float(v.detach()) for k, v in terms.items()}
            for k, v in last.items():
                sums[k] = sums.get(k, 0.0) + v
            if progress is not None:
                progress(step, total, last)
        mean = {k: v / per_epoch for k, v in sums.items()}
        history.append({"epoch": float(epoch + 1), **mean})
        if epoch_end is not None:
            epoch_end(epoch + 1, mean)
    seconds = time.perf_counter() - t0
    model.eval()
    first = recordings[0]
    ckpt = Checkpoint(
        model=model.cpu(),
        skeleton=first.skeleton.name,
        joints=tuple(first.skeleton.joints),
        views=first.views,
        cameras=tuple(
            {
                "sensor": v,
                "model": first.calibration.camera(v).model,
                "width": first.calibration.camera(v).width,
                "height": first.calibration.camera(v).height,
            }
            for v in first.views
        ),
        features=replace(s.features),
        train={
            "recordings": [r.source or r.name for r in recordings],
            "frames": sampler.frames,
            "tracks": len(sampler.tracks),
            "epochs": s.epochs,
            "steps": step,
            "seconds": round(seconds, 1),
            "history": history,
            "settings": _plain(asdict(s)),
        },
    )
    return TrainResult(checkpoint=ckpt, history=history, seconds=seconds, steps=step)


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, bool | int | float | str) or x is None:
        return x
    return str(x)


def _step(
    model: SelfSupFusionModel,
    clean: Batch,
    aug: Batch,
    contexts: Sequence[RigContext],
    info: SkeletonInfo,
    s: TrainSettings,
    device: torch.device,
) -> dict[str, torch.Tensor]:
    target = torch.as_tensor(clean.target, dtype=torch.float32, device=device)
    valid = torch.as_tensor(clean.valid_frame, device=device)
    bones = torch.as_tensor(clean.bone_ref_m, dtype=torch.float32, device=device)
    rec = clean.recording.tolist()
    out_c = model(**model_inputs(clean, contexts, device=device))
    out_a = model(**model_inputs(aug, contexts, device=device))
    common = dict(target=target, valid_frame=valid, bone_ref_m=bones, recording=rec, contexts=contexts, info=info,
                  weights=s.loss)  # fmt: skip
    lc = losses(X=out_c.joints, X_teacher=None, **common)
    la = losses(X=out_a.joints, X_teacher=out_c.joints, **common)
    from ._losses import reprojection_loss

    st = reprojection_loss(out_a.joints_st, target, valid, rec, contexts) + reprojection_loss(
        out_c.joints_st, target, valid, rec, contexts
    )
    terms = {k: 0.5 * (lc[k] + la[k]) for k in lc if k != "total"}
    terms["consistency"] = la["consistency"]
    terms["stage2"] = 0.5 * st
    terms["total"] = lc["total"] + la["total"] + s.stage2_weight * st
    return terms
